/* test_upload: the coordinator's upload module without its thread
 * (coordinator/coord_upload.c): the NAME.part.ack sidecar. (The file
 * names, the offer rules and the media index are the session's: see
 * test_media.)
 *
 * The sidecar is round-tripped, then every truncation, every single bit
 * flip and a wrong magic must read as "start over", never as an offset.
 *
 * A room's partial files: the scan removes the expired ones (not an open
 * one), orphaned sidecars, and counts the rest at their offered size; the
 * bounds refuse an offer past the count or the bytes, naming the room.
 *
 * A guide made from a capture: the capture's file gets the guide's name,
 * linked or copied, durably (coord_upload_place_copy).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "coord_upload.h"
#include "coord_upload_internal.h"
#include "tt_error.h"

static uint8_t H1[32], H2[32];

static void hashes(void)
{
    for (int i = 0; i < 32; i++) {
        H1[i] = (uint8_t)(0x10 + i);
        H2[i] = (uint8_t)(0x80 + i);
    }
}

/* ---------------------------------------------------------------- the .ack sidecar */

static void test_ack_round_trip(void **state)
{
    (void)state;
    uint8_t b[COORD_UPLOAD_ACK_LEN];
    uint64_t off = 12345;
    assert_int_equal(COORD_UPLOAD_ACK_LEN, 88);

    const uint64_t size = 10000000;
    const uint64_t offsets[] = {0, 1, 262144, 9999999, 10000000};
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
        coord_upload_ack_encode(b, offsets[i], size, H1);
        assert_int_equal(coord_upload_ack_decode(b, sizeof b, size, H1, size, &off), 0);
        assert_int_equal(off, offsets[i]);
        /* The part may hold more than was acked (written, not yet synced). */
        assert_int_equal(coord_upload_ack_decode(b, sizeof b, size, H1, UINT64_MAX, &off), 0);
        assert_int_equal(off, offsets[i]);
    }

    /* The layout: magic, then little-endian offset and size, then the hash. */
    coord_upload_ack_encode(b, 0x0102030405060708ull, 0x1112131415161718ull, H1);
    assert_memory_equal(b, "TTACK001", 8);
    static const uint8_t le_off[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    static const uint8_t le_size[8] = {0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11};
    assert_memory_equal(b + 8, le_off, 8);
    assert_memory_equal(b + 16, le_size, 8);
    assert_memory_equal(b + 24, H1, 32);
    uint8_t again[COORD_UPLOAD_ACK_LEN];
    coord_upload_ack_encode(again, 0x0102030405060708ull, 0x1112131415161718ull, H1);
    assert_memory_equal(b, again, sizeof b); /* deterministic */
    assert_int_equal(
        coord_upload_ack_decode(b, sizeof b, 0x1112131415161718ull, H1, UINT64_MAX, &off), 0);
    assert_int_equal(off, 0x0102030405060708ull);

    /* Extremes. */
    coord_upload_ack_encode(b, UINT64_MAX, UINT64_MAX, H2);
    assert_int_equal(coord_upload_ack_decode(b, sizeof b, UINT64_MAX, H2, UINT64_MAX, &off), 0);
    assert_int_equal(off, UINT64_MAX);
}

static void test_ack_corrupt(void **state)
{
    (void)state;
    const uint64_t size = 5000000, acked = 1048576;
    uint8_t good[COORD_UPLOAD_ACK_LEN], b[COORD_UPLOAD_ACK_LEN + 8];
    uint64_t off;
    coord_upload_ack_encode(good, acked, size, H1);

    /* Truncated (a short read of a torn file) and over-long. */
    for (size_t len = 0; len < sizeof good; len++) {
        off = 77;
        assert_int_equal(coord_upload_ack_decode(good, len, size, H1, size, &off), TT_ERR_CORRUPT);
        assert_int_equal(off, 0);
    }
    memcpy(b, good, sizeof good);
    memset(b + sizeof good, 0, 8);
    assert_int_equal(coord_upload_ack_decode(b, sizeof good + 1, size, H1, size, &off),
                     TT_ERR_CORRUPT);

    /* Every single bit flipped. */
    for (size_t bit = 0; bit < 8 * sizeof good; bit++) {
        memcpy(b, good, sizeof good);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        off = 77;
        assert_int_equal(coord_upload_ack_decode(b, sizeof good, size, H1, size, &off),
                         TT_ERR_CORRUPT);
        assert_int_equal(off, 0);
    }

    /* Zeros, and a wrong magic even with a check that matches it. */
    memset(b, 0, sizeof good);
    assert_int_equal(coord_upload_ack_decode(b, sizeof good, size, H1, size, &off), TT_ERR_CORRUPT);
    /* (the check sealed over the wrong magic, as a writer of another
     * version would) */
    uint8_t resealed[COORD_UPLOAD_ACK_LEN];
    coord_upload_ack_encode(resealed, acked, size, H1);
    memcpy(resealed, "TTACK002", 8);
    assert_int_equal(coord_upload_ack_decode(resealed, sizeof resealed, size, H1, size, &off),
                     TT_ERR_CORRUPT);
    memcpy(resealed, "ttack001", 8);
    assert_int_equal(coord_upload_ack_decode(resealed, sizeof resealed, size, H1, size, &off),
                     TT_ERR_CORRUPT);

    /* Whole but not for this offer: another size or hash (the room offers
     * another file under the name now), or more than the part holds. */
    off = 77;
    assert_int_equal(coord_upload_ack_decode(good, sizeof good, size + 1, H1, size, &off),
                     TT_ERR_INVALID);
    assert_int_equal(off, 0);
    assert_int_equal(coord_upload_ack_decode(good, sizeof good, size, H2, size, &off),
                     TT_ERR_INVALID);
    assert_int_equal(coord_upload_ack_decode(good, sizeof good, size, H1, acked - 1, &off),
                     TT_ERR_INVALID);
    assert_int_equal(coord_upload_ack_decode(good, sizeof good, size, H1, acked, &off), 0);
    assert_int_equal(off, acked);
    coord_upload_ack_encode(b, size + 1, size, H1); /* past the end of the file */
    assert_int_equal(coord_upload_ack_decode(b, sizeof good, size, H1, UINT64_MAX, &off),
                     TT_ERR_INVALID);
    assert_int_equal(off, 0);
}

/* ---------------------------------------------------------------- partial files */

static void put_file(int dir, const char *name, size_t size, time_t mtime)
{
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    struct timespec t[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(futimens(fd, t), 0);
    close(fd);
}

static void put_ack(int dir, const char *name, uint64_t acked, uint64_t size, time_t mtime)
{
    uint8_t b[COORD_UPLOAD_ACK_LEN];
    coord_upload_ack_encode(b, acked, size, H1);
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, sizeof b), (ssize_t)sizeof b);
    struct timespec t[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(futimens(fd, t), 0);
    close(fd);
}

static int exists(int dir, const char *name)
{
    struct stat st;
    return fstatat(dir, name, &st, 0) == 0;
}

static int open_f(void *arg, const char *part)
{
    (void)arg;
    return strcmp(part, "f.wav.part") == 0;
}

static void test_parts_scan(void **state)
{
    (void)state;
    char path[] = "/tmp/test_upload.XXXXXX";
    assert_non_null(mkdtemp(path));
    int dir = open(path, O_RDONLY | O_DIRECTORY);
    assert_true(dir >= 0);
    time_t now = time(NULL), old = now - 7200;
    put_file(dir, "a.wav.part", 100, now);
    put_ack(dir, "a.wav.part.ack", 50, 1000, now); /* counted at its offered 1000 */
    put_file(dir, "b.wav.part", 2000, now);        /* no sidecar: its size */
    put_file(dir, "c.wav.part", 10, old);          /* expired: both go */
    put_ack(dir, "c.wav.part.ack", 10, 10, old);
    put_file(dir, "g.wav.part", 10, old); /* the .part is old, its sidecar recent: kept */
    put_ack(dir, "g.wav.part.ack", 10, 10, now);
    put_ack(dir, "d.wav.part.ack", 0, 10, now); /* an orphan sidecar goes */
    put_file(dir, "e.wav", 5, old);             /* a finished file is none of the scan's */
    put_file(dir, "f.wav.part", 30, old);       /* old but open: kept */

    coord_upload_parts_t p;
    char why[TT_WHY_LEN];
    assert_int_equal(coord_upload_parts_scan(dir, now, 3600, NULL, open_f, NULL, &p, why), 0);
    assert_int_equal(p.expired, 1);
    assert_int_equal(p.parts, 4);
    assert_int_equal(p.bytes, 1000 + 2000 + 10 + 30);
    assert_false(exists(dir, "c.wav.part"));
    assert_false(exists(dir, "c.wav.part.ack"));
    assert_false(exists(dir, "d.wav.part.ack"));
    assert_true(exists(dir, "e.wav"));
    assert_true(exists(dir, "f.wav.part"));
    assert_true(exists(dir, "g.wav.part"));

    /* The offer being resumed is not counted against itself. */
    assert_int_equal(coord_upload_parts_scan(dir, now, 3600, "a.wav.part", open_f, NULL, &p, why),
                     0);
    assert_int_equal(p.parts, 3);
    assert_int_equal(p.bytes, 2000 + 10 + 30);

    /* Nothing open, a short expiry: all of them go. */
    assert_int_equal(coord_upload_parts_scan(dir, now + 10, 5, NULL, NULL, NULL, &p, why), 0);
    assert_int_equal(p.expired, 4);
    assert_int_equal(p.parts, 0);
    assert_int_equal(p.bytes, 0);
    assert_true(exists(dir, "e.wav"));

    unlinkat(dir, "e.wav", 0);
    close(dir);
    assert_int_equal(rmdir(path), 0);
}

/* ---------------------------------------------------------------- a guide's file */

/* 1 when name in dir holds exactly the size bytes of data. */
static int holds_bytes(int dir, const char *name, const uint8_t *data, size_t size)
{
    int fd = openat(dir, name, O_RDONLY);
    uint8_t *got = malloc(size + 1);
    ssize_t n = fd >= 0 && got ? read(fd, got, size + 1) : -1;
    int same = n == (ssize_t)size && memcmp(got, data, size) == 0;
    free(got);
    if (fd >= 0)
        close(fd);
    return same;
}

/* The capture gets the guide's name too: a hard link where it can, else a
 * copy (no .part left); a stale unrecorded file of that name is replaced. */
static void test_place_copy(void **state)
{
    (void)state;
    char path[] = "/tmp/test_upload.XXXXXX";
    assert_non_null(mkdtemp(path));
    int dir = open(path, O_RDONLY | O_DIRECTORY);
    assert_true(dir >= 0);
    const size_t size = 3 * COORD_UPLOAD_FETCH_MAX + 123; /* several pieces to copy */
    uint8_t *data = malloc(size), *buf = malloc(COORD_UPLOAD_FETCH_MAX);
    assert_non_null(data);
    assert_non_null(buf);
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 12));
    int fd = openat(dir, "cap.wav", O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    char why[TT_WHY_LEN];
    struct stat a, b;
    assert_int_equal(fstat(fd, &a), 0);

    /* Linked: the same file. Again: nothing changes. */
    assert_int_equal(coord_upload_place_copy(dir, fd, "cap.wav", "g1.wav", size, 1, buf, why), 0);
    assert_int_equal(fstatat(dir, "g1.wav", &b, 0), 0);
    assert_int_equal(b.st_ino, a.st_ino);
    assert_int_equal(coord_upload_place_copy(dir, fd, "cap.wav", "g1.wav", size, 1, buf, why), 0);
    assert_int_equal(fstatat(dir, "g1.wav", &b, 0), 0);
    assert_int_equal(b.st_ino, a.st_ino);

    /* Copied: another file with the same bytes, its .part gone; a stale
     * file under the name first (a crash before its record) is replaced. */
    put_file(dir, "g2.wav", 10, time(NULL));
    assert_int_equal(coord_upload_place_copy(dir, fd, "cap.wav", "g2.wav", size, 0, buf, why), 0);
    assert_int_equal(fstatat(dir, "g2.wav", &b, 0), 0);
    assert_true(b.st_ino != a.st_ino);
    assert_int_equal(b.st_size, (off_t)size);
    assert_true(holds_bytes(dir, "g2.wav", data, size));
    assert_false(exists(dir, "g2.wav.part"));

    /* A linked name over a stale file. */
    put_file(dir, "g3.wav", 10, time(NULL));
    assert_int_equal(coord_upload_place_copy(dir, fd, "cap.wav", "g3.wav", size, 1, buf, why), 0);
    assert_int_equal(fstatat(dir, "g3.wav", &b, 0), 0);
    assert_int_equal(b.st_ino, a.st_ino);

    /* A copy that cannot read its source fails, leaving nothing behind. */
    int wronly = openat(dir, "cap.wav", O_WRONLY);
    assert_true(wronly >= 0);
    assert_int_equal(coord_upload_place_copy(dir, wronly, "cap.wav", "g4.wav", size, 0, buf, why),
                     TT_ERR_IO);
    assert_non_null(strstr(why, "copying it"));
    assert_false(exists(dir, "g4.wav"));
    assert_false(exists(dir, "g4.wav.part"));
    close(wronly);

    close(fd);
    const char *names[] = {"cap.wav", "g1.wav", "g2.wav", "g3.wav"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        assert_int_equal(unlinkat(dir, names[i], 0), 0);
    close(dir);
    assert_int_equal(rmdir(path), 0);
    free(data);
    free(buf);
}

static void test_parts_admit(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    coord_upload_limits_t lim = {3, 5000, 60};
    coord_upload_parts_t p = {2, 3000, 0};
    assert_int_equal(coord_upload_parts_admit(&p, 2000, &lim, "strings", why), 0);
    assert_int_equal(coord_upload_parts_admit(&p, 2001, &lim, "strings", why), TT_ERR_UNAVAILABLE);
    assert_non_null(strstr(why, "room strings has 3000 bytes in unfinished uploads"));
    p.parts = 3;
    assert_int_equal(coord_upload_parts_admit(&p, 1, &lim, "strings", why), TT_ERR_UNAVAILABLE);
    assert_non_null(strstr(why, "room strings has 3 unfinished uploads: finish or wait for them "
                                "to expire (60 s untouched)"));
    /* The defaults: 8 uploads, 4 GiB, an hour. */
    coord_upload_limits_t none = {0, 0, 0};
    p = (coord_upload_parts_t){7, 0, 0};
    assert_int_equal(coord_upload_parts_admit(&p, COORD_UPLOAD_ROOM_PART_BYTES, &none, "x", why),
                     0);
    assert_int_equal(
        coord_upload_parts_admit(&p, COORD_UPLOAD_ROOM_PART_BYTES + 1, &none, "x", why),
        TT_ERR_UNAVAILABLE);
    p.parts = 8;
    assert_int_equal(coord_upload_parts_admit(&p, 1, &none, "x", why), TT_ERR_UNAVAILABLE);
    assert_non_null(strstr(why, "8 unfinished uploads"));
    assert_non_null(strstr(why, "3600 s"));
    /* No overflow near the top. */
    p = (coord_upload_parts_t){0, UINT64_MAX - 10, 0};
    lim.max_bytes = UINT64_MAX;
    assert_int_equal(coord_upload_parts_admit(&p, 100, &lim, "x", why), TT_ERR_UNAVAILABLE);
}

/* The offered size a sidecar names; 0 for a torn one. */
static void test_ack_size(void **state)
{
    (void)state;
    uint8_t b[COORD_UPLOAD_ACK_LEN];
    coord_upload_ack_encode(b, 7, 123456789, H1);
    assert_int_equal(coord_upload_ack_size(b, sizeof b), 123456789);
    assert_int_equal(coord_upload_ack_size(b, sizeof b - 1), 0);
    b[20] ^= 1;
    assert_int_equal(coord_upload_ack_size(b, sizeof b), 0);
}

int main(void)
{
    hashes();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_round_trip), cmocka_unit_test(test_ack_corrupt),
        cmocka_unit_test(test_parts_scan),     cmocka_unit_test(test_parts_admit),
        cmocka_unit_test(test_ack_size),       cmocka_unit_test(test_place_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
