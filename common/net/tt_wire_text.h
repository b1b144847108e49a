/* tt_wire_text: no string on the wire may hide a NUL byte.
 *
 * protobuf-c hands strings to C as NUL-terminated char *, so "abc\0xyz"
 * on the wire reads as "abc": a note, a name or a cue would be cut short
 * without anyone noticing, and two different wire strings would read the
 * same. This walks the encoded message against its descriptor before it
 * is decoded and refuses any string field (in any nested message) whose
 * bytes contain NUL. Bounded: nesting deeper than TT_WIRE_TEXT_MAX_DEPTH
 * is refused too.
 */
#ifndef TT_WIRE_TEXT_H
#define TT_WIRE_TEXT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define TT_WIRE_TEXT_MAX_DEPTH 32

/* 0 when every string field of the encoded message (desc) is free of NUL
 * bytes; TT_ERR_PROTOCOL with the field's name in why otherwise. Malformed
 * encodings are left to the decoder (0), which refuses them itself. */
int tt_wire_text_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                       char *why);

#endif
