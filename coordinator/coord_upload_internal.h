/* coord_upload_internal: the upload thread's pure pieces, exposed for its
 * tests (tests/unit/test_upload.c, tests/fuzz/fuzz_upload_ack.c) and for
 * nothing else: coord_upload.h is the module's contract.
 *
 * The NAME.part.ack sidecar says how much of NAME.part is durable. It is
 * 88 bytes: "TTACK001", the acked offset and the file's size (64-bit
 * little-endian), the file's BLAKE2b-256, and BLAKE2b-256 of those 56
 * bytes, so a torn write reads as "start over", never as a wrong offset.
 */
#ifndef COORD_UPLOAD_INTERNAL_H
#define COORD_UPLOAD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "coord_upload.h"

#define COORD_UPLOAD_ACK_LEN (8 + 8 + 8 + 32 + 32) /* magic, offset, size, hash, check */

/* The sidecar for `acked` bytes of the file of `size` bytes and `hash`. */
void coord_upload_ack_encode(uint8_t out[COORD_UPLOAD_ACK_LEN], uint64_t acked, uint64_t size,
                             const uint8_t hash[32]);

/* The durable offset a sidecar's first len bytes hold for the file of
 * `size` bytes and `hash`, of which part_size bytes are on disk, into
 * *acked (0 on failure). 0; TT_ERR_CORRUPT when torn (len is not
 * COORD_UPLOAD_ACK_LEN, wrong magic, check mismatch); TT_ERR_INVALID when
 * it belongs to another offer (size or hash) or claims more than the file
 * or the part holds. */
int coord_upload_ack_decode(const uint8_t *b, size_t len, uint64_t size, const uint8_t hash[32],
                            uint64_t part_size, uint64_t *acked);

/* The size of the file a sidecar's first len bytes are for; 0 when torn. */
uint64_t coord_upload_ack_size(const uint8_t *b, size_t len);

/* What a room's directory of partial files holds. */
typedef struct {
    unsigned parts;   /* NAME.part files kept */
    uint64_t bytes;   /* each the larger of its size and the size its offer names */
    unsigned expired; /* NAME.part files this scan removed */
} coord_upload_parts_t;

/* Scans the partial files in dir_fd: a NAME.part (with NAME.part.ack)
 * whose newer mtime is expire_s or more before now is removed unless
 * is_open(arg, "NAME.part") says an upload has it open (is_open may be
 * NULL); an .ack without its .part goes too. skip names a .part not to
 * count (the one being offered again), or NULL. Other files are left
 * alone. 0, or TT_ERR_IO with why when the directory cannot be read. */
int coord_upload_parts_scan(int dir_fd, time_t now, int64_t expire_s, const char *skip,
                            int (*is_open)(void *arg, const char *part), void *arg,
                            coord_upload_parts_t *out, char *why);

/* 0 when a room holding p may start one more upload of size bytes under
 * lim (0 fields: the defaults); TT_ERR_UNAVAILABLE with the refusal,
 * naming room, in why. */
int coord_upload_parts_admit(const coord_upload_parts_t *p, uint64_t size,
                             const coord_upload_limits_t *lim, const char *room, char *why);

/* A guide made from a capture: the file open as fd (named src in the
 * directory dir_fd, size bytes) gets the name dst too, durably: a hard
 * link (when link_ok), or where that fails (no hard links on this
 * filesystem) a copy written to dst.part, synced and renamed; then dst and
 * the directory are synced, so the name survives a power cut before its
 * record is written. A dst already there that is another file is no
 * record's (the caller has checked) and is replaced. buf holds
 * COORD_UPLOAD_FETCH_MAX bytes (the copy's). 0, or TT_ERR_IO with why. */
int coord_upload_place_copy(int dir_fd, int fd, const char *src, const char *dst, uint64_t size,
                            int link_ok, uint8_t *buf, char *why);

#endif
