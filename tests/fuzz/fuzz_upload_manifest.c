/* fuzz_upload_manifest: the room agent's upload manifest reader
 * (agent_manifest_decode, after jansson's parser) on arbitrary bytes, as a
 * manifest anyone with access to the capture directory could write.
 * Whatever the bytes, it must not crash or read out of bounds, and what it
 * accepts must be a Media record the coordinator can be offered: strings
 * present, take, size and rate positive, a 32-byte hash, punch bars not
 * negative.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent_manifest.h"
#include "tt_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t err;
    json_t *o = json_loadb((const char *)data, size, 0, &err);
    if (!o)
        return 0;
    Tutti__Media media;
    uint8_t hash[32];
    char why[TT_WHY_LEN];
    if (agent_manifest_decode(o, &media, hash, why) == 0) {
        if (!media.cue || !media.room || !media.input || media.take < 1 || media.size < 1 ||
            media.rate < 1 || media.hash.len != 32 || media.hash.data != hash ||
            media.punch_in_bar < 0 || media.punch_out_bar < 0)
            abort();
        /* The strings must be readable to their end. */
        volatile size_t n = strlen(media.cue) + strlen(media.room) + strlen(media.input);
        (void)n;
    } else if (why[0] == '\0') {
        abort(); /* a refusal always says why */
    }
    json_decref(o);
    return 0;
}
