/* fuzz_upload_ack: the coordinator's NAME.part.ack decoder
 * (coord_upload_ack_decode) on arbitrary bytes.
 *
 * The input is the sidecar itself, preceded by the offer it is read for:
 * the first 8 bytes are part_size (the bytes on disk) and the rest the
 * sidecar. The file's size and hash come from a fixed offer, and, when the
 * input is a whole sidecar, also from its own fields (so the checks past
 * the magic and the checksum are reached, by inputs that carry a valid
 * check). Whatever the bytes, the decoder must not read past them, and an
 * offset it returns must be within both the file and the part; every
 * well-formed sidecar must round-trip through the encoder.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coord_upload_internal.h"
#include "tt_error.h"

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void one(const uint8_t *b, size_t len, uint64_t size, const uint8_t hash[32],
                uint64_t part_size)
{
    /* A copy of exactly len bytes, so ASan sees any read past the input. */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    if (len)
        memcpy(copy, b, len);
    uint64_t acked = 0xdeadbeef;
    int rc = coord_upload_ack_decode(copy, len, size, hash, part_size, &acked);
    if (rc != 0) {
        if (acked != 0 || (rc != TT_ERR_CORRUPT && rc != TT_ERR_INVALID))
            abort();
    } else {
        if (len != COORD_UPLOAD_ACK_LEN || acked > size || acked > part_size)
            abort();
        uint8_t again[COORD_UPLOAD_ACK_LEN];
        coord_upload_ack_encode(again, acked, size, hash);
        if (memcmp(again, copy, COORD_UPLOAD_ACK_LEN) != 0)
            abort(); /* only what the encoder writes decodes */
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t fixed_hash[32] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                           0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
                                           0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
                                           0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};
    if (size < 8)
        return 0;
    uint64_t part_size = get64(data);
    const uint8_t *b = data + 8;
    size_t len = size - 8;
    one(b, len, 5000000, fixed_hash, part_size);
    if (len >= COORD_UPLOAD_ACK_LEN)
        one(b, len, get64(b + 16), b + 24, part_size); /* the offer the sidecar names */
    /* And a valid sidecar made from the input's fields, corrupted by its tail. */
    if (len >= 56) {
        uint8_t s[COORD_UPLOAD_ACK_LEN];
        coord_upload_ack_encode(s, get64(b + 8), get64(b + 16), b + 24);
        one(s, sizeof s, get64(b + 16), b + 24, part_size);
        if (len > 56) {
            size_t at = b[56] % COORD_UPLOAD_ACK_LEN;
            s[at] ^= (uint8_t)(len > 57 ? (b[57] | 1) : 1);
            one(s, sizeof s, get64(b + 16), b + 24, part_size);
        }
    }
    return 0;
}
