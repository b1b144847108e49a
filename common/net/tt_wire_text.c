/* tt_wire_text: see tt_wire_text.h. */
#include "tt_wire_text.h"
#include "tt_error.h"

#include <string.h>

/* Reads a varint at *pos; 0 on success, -1 when it runs off the end or
 * past 10 bytes. */
static int read_varint(const uint8_t *data, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*pos >= len)
            return -1;
        uint8_t b = data[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len, int depth,
                 char *why)
{
    if (depth > TT_WIRE_TEXT_MAX_DEPTH)
        return tt_fail(why, TT_ERR_PROTOCOL, "%s: nested more than %d deep", desc->name,
                       TT_WIRE_TEXT_MAX_DEPTH);
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag, n;
        if (read_varint(data, len, &pos, &tag) != 0)
            return 0; /* malformed: the decoder says so */
        unsigned wire = (unsigned)(tag & 7);
        uint64_t number = tag >> 3;
        switch (wire) {
        case 0: /* varint */
            if (read_varint(data, len, &pos, &n) != 0)
                return 0;
            break;
        case 1: pos += 8; break;
        case 5: pos += 4; break;
        case 2: { /* length-delimited: strings, bytes, messages, packed */
            if (read_varint(data, len, &pos, &n) != 0 || n > len - pos)
                return 0;
            const ProtobufCFieldDescriptor *f =
                number <= UINT32_MAX
                    ? protobuf_c_message_descriptor_get_field(desc, (unsigned)number)
                    : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(data + pos, 0, (size_t)n))
                return tt_fail(why, TT_ERR_PROTOCOL, "%s.%s carries a NUL byte", desc->name,
                               f->name);
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = check(f->descriptor, data + pos, (size_t)n, depth + 1, why);
                if (rc != 0)
                    return rc;
            }
            pos += (size_t)n;
            break;
        }
        default: return 0; /* groups and junk: the decoder refuses them */
        }
    }
    return 0;
}

int tt_wire_text_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                       char *why)
{
    return check(desc, data, len, 0, why);
}
