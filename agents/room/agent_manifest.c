/* agent_manifest: see agent_manifest.h. */
#include "agent_manifest.h"
#include "tt_error.h"
#include "tt_text.h"

#include <string.h>

static int in_range(const json_t *v, json_int_t lo, json_int_t hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static int hex32(const char *s, uint8_t out[32])
{
    return s && tt_hex_decode(s, strlen(s), out, 32) == 0 ? 0 : -1;
}

int agent_manifest_decode(const json_t *o, Tutti__Media *media, uint8_t hash[32], char *why)
{
    if (!json_is_object(o))
        return tt_fail(why, TT_ERR_INVALID, "the manifest is not a JSON object");
    const char *cue = json_string_value(json_object_get(o, "cue"));
    const char *room = json_string_value(json_object_get(o, "room"));
    const char *input = json_string_value(json_object_get(o, "input"));
    const char *hex = json_string_value(json_object_get(o, "hash"));
    const json_t *take = json_object_get(o, "take"), *size = json_object_get(o, "size");
    const json_t *rate = json_object_get(o, "rate");
    const char *missing = !cue                             ? "cue"
                          : !room                          ? "room"
                          : !input                         ? "input"
                          : !in_range(take, 1, UINT32_MAX) ? "take"
                          : !in_range(size, 1, INT64_MAX)  ? "size"
                          : !in_range(rate, 1, UINT32_MAX) ? "rate"
                          : hex32(hex, hash) != 0          ? "hash (64 hex digits)"
                                                           : NULL;
    if (missing)
        return tt_fail(why, TT_ERR_INVALID, "the manifest has no valid %s", missing);
    tutti__media__init(media);
    media->cue = (char *)cue;
    media->take = (uint32_t)json_integer_value(take);
    media->room = (char *)room;
    media->input = (char *)input;
    media->size = (uint64_t)json_integer_value(size);
    media->hash.data = hash;
    media->hash.len = 32;
    media->rate = (uint32_t)json_integer_value(rate);
    const json_t *tr = json_object_get(o, "time_reference");
    const json_t *pin = json_object_get(o, "punch_in_bar");
    const json_t *pout = json_object_get(o, "punch_out_bar");
    media->time_reference = in_range(tr, 0, INT64_MAX) ? (uint64_t)json_integer_value(tr) : 0;
    media->punch_in_bar = in_range(pin, 0, INT32_MAX) ? (int32_t)json_integer_value(pin) : 0;
    media->punch_out_bar = in_range(pout, 0, INT32_MAX) ? (int32_t)json_integer_value(pout) : 0;
    return 0;
}
