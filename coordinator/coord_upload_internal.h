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

#endif
