/* test_upload: the coordinator's upload module without its thread
 * (coordinator/coord_upload.c): the NAME.part.ack sidecar. (The file
 * names, the offer rules and the media index are the session's: see
 * test_media.)
 *
 * The sidecar is round-tripped, then every truncation, every single bit
 * flip and a wrong magic must read as "start over", never as an offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    hashes();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_round_trip),
        cmocka_unit_test(test_ack_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
