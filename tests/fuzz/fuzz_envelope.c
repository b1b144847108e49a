/* libFuzzer target: tt_wire_decode and tt_wire_peek_request_id over an
 * untrusted frame. The peek never reads out of bounds and, on a frame that
 * decodes, finds the request id the full decode found.
 *
 * A decoded envelope must have the protocol version and re-pack into
 * exactly get_packed_size bytes. When those bytes decode again, packing
 * them once more gives the same bytes (the first pack normalises). They
 * need not decode: protobuf-c accepts an over-long tag for field number 0
 * (e.g. 82 00) as an unknown field and re-packs it as a one-byte tag (02)
 * that it then refuses.
 */
#include "tt_error.h"
#include "tt_wire.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[TT_WHY_LEN];
    Tutti__Envelope *env = (Tutti__Envelope *)1;
    int rc = tt_wire_decode(data, size, &env, why);
    uint64_t peeked = tt_wire_peek_request_id(data, size);
    if (rc != 0) {
        if (env != NULL)
            abort(); /* *out is NULL on every failure */
        if (rc != TT_ERR_PROTOCOL && rc != TT_ERR_VERSION && rc != TT_ERR_TOO_BIG)
            abort();
        return 0;
    }
    if (!env || env->version != TT_PROTOCOL_VERSION || env->request_id != peeked)
        abort();

    size_t len = tutti__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    size_t packed = tutti__envelope__pack(env, buf);
    if (packed != len)
        abort();
    tutti__envelope__free_unpacked(env, NULL);

    Tutti__Envelope *again = NULL;
    if (tt_wire_decode(buf, len, &again, why) == 0) {
        size_t len2 = tutti__envelope__get_packed_size(again);
        uint8_t *buf2 = malloc(len2 ? len2 : 1);
        if (!buf2)
            abort();
        if (tutti__envelope__pack(again, buf2) != len2 || len2 != len ||
            memcmp(buf, buf2, len) != 0)
            abort();
        free(buf2);
        tutti__envelope__free_unpacked(again, NULL);
    }
    free(buf);
    return 0;
}
