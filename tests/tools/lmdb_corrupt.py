#!/usr/bin/env python3
"""Damages the log database in an LMDB data.mdb the way the fault campaign
did, for tests of how a damaged store is reported.

  lmdb_corrupt.py DATA.mdb leaf-size   the last record's leaf node claims a
                                       value that runs 64 KiB past the end of
                                       the file (under any record size limit)
  lmdb_corrupt.py DATA.mdb leaf-slot   the last leaf's last slot points 64 KiB
                                       on, past the end of the file
  lmdb_corrupt.py DATA.mdb truncate    the file ends where the last record's
                                       leaf page begins
  lmdb_corrupt.py DATA.mdb overflow    the last big record's overflow page
                                       number points past the end of the file

Walks the live tree (newest meta page -> main database -> "log" -> leaves),
so only pages the store really uses are touched. Prints the sequence number
of the damaged record.
"""
import struct
import sys

PSIZE = 4096
P_BRANCH, P_LEAF = 0x01, 0x02
F_BIGDATA = 0x01
HDR = 16  # page header: pgno(8) pad(2) flags(2) lower(2) upper(2)


def leaves(data, pgno):
    """(node offset, node flags, slot offset) of every leaf node under pgno,
    in key order."""
    base = pgno * PSIZE
    flags, lower = struct.unpack_from("<HH", data, base + 10)
    for i in range((lower - HDR) // 2):
        slot = base + HDR + 2 * i
        node = base + struct.unpack_from("<H", data, slot)[0]
        lo, hi, nflags, _ksize = struct.unpack_from("<HHHH", data, node)
        if flags & P_BRANCH:
            yield from leaves(data, lo | hi << 16 | nflags << 32)
        else:
            yield node, nflags, slot


def main():
    path, mode = sys.argv[1], sys.argv[2]
    data = bytearray(open(path, "rb").read())
    # The newer of the two meta pages; MAIN_DBI's root is at offset 128.
    metas = [(struct.unpack_from("<Q", data, p * PSIZE + 144)[0], p) for p in (0, 1)]
    meta = max(metas)[1] * PSIZE
    main_root = struct.unpack_from("<Q", data, meta + 128)[0]
    log_root = None
    for node, _, _ in leaves(data, main_root):
        ksize = struct.unpack_from("<H", data, node + 6)[0]
        if bytes(data[node + 8 : node + 8 + ksize]) == b"log":
            log_root = struct.unpack_from("<Q", data, node + 8 + ksize + 40)[0]
    if log_root is None:
        sys.exit(f"no log database in {path}")
    target = target_slot = None
    for node, nflags, slot in leaves(data, log_root):
        big = bool(nflags & F_BIGDATA)
        if (mode == "overflow") == big:
            target, target_slot = node, slot
    if target is None:
        sys.exit(f"no {mode} record in the log of {path}")
    seq = struct.unpack_from(">Q", data, target + 8)[0]
    if mode == "leaf-size":
        size = len(data) - (target + 16) + 65536  # value starts after the 8-byte key
        struct.pack_into("<HH", data, target, size & 0xFFFF, size >> 16)  # mn_lo, mn_hi
    elif mode == "leaf-slot":
        page = target_slot - target_slot % PSIZE
        struct.pack_into("<H", data, target_slot, 0xFFF0)
        if page + 0xFFF0 < len(data):
            sys.exit(f"the leaf of record {seq} is too far from the end of {path}")
    elif mode == "truncate":
        data = data[: target - target % PSIZE]
    else:
        struct.pack_into("<Q", data, target + 16, len(data) // PSIZE + 100000)
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate(len(data))
    print(seq)


if __name__ == "__main__":
    main()
