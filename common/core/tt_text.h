/* tt_text: the text rules every module shares, so a name, a UTF-8 string
 * or a hex digest is judged the same way by the coordinator, the agents and
 * the command line.
 *
 * Names. Cues, rooms, inputs, key names and stored files all use one
 * alphabet, [A-Za-z0-9._-]: safe in a path component, in CSV without
 * quoting, in a log line. A leading '.' is allowed in a name that is only
 * an identifier (a cue "1M1" or ".5M2"), and refused (TT_NAME_FILE) in a
 * name that becomes a file-system name on its own: a hidden file is one
 * nobody sees, and "." and ".." are not files. Names built from parts
 * (CUE_tTAKE_ROOM_INPUT.wav, tt_media_file_name) replace a leading '.'
 * with '_' instead.
 *
 * Nothing here allocates; every output buffer is the caller's.
 */
#ifndef TT_TEXT_H
#define TT_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Flags for tt_name_ok. */
#define TT_NAME_FILE 1u /* a file-system name: no leading '.' */

/* 1 when c is in the name alphabet [A-Za-z0-9._-]. */
int tt_name_char(int c);

/* 1 when s (may be NULL) is 1..max characters of the name alphabet and,
 * with TT_NAME_FILE, does not start with '.'. */
int tt_name_ok(const char *s, size_t max, unsigned flags);

/* 1 when text[0..n) is valid UTF-8: no overlongs, no surrogates, nothing
 * past U+10FFFF. n bytes are judged, NUL included (U+0000 is valid). */
int tt_utf8_valid(const char *text, size_t n);

/* Copies valid UTF-8 src into dst (cap > 0 bytes), cut at a character
 * boundary when it does not fit. */
void tt_utf8_copy(char *dst, size_t cap, const char *src);

/* The same for src of any bytes (a peer's text, a path in a message):
 * when the copy is not valid UTF-8, every byte over 0x7F becomes '?'. */
void tt_utf8_copy_any(char *dst, size_t cap, const char *src);

/* Lowercase hex of data[0..n) into out (2n + 1 bytes, NUL-terminated). */
void tt_hex_encode(const uint8_t *data, size_t n, char *out);

/* Decodes exactly 2n hex digits (either case) of hex[0..hex_len) into
 * out[0..n). 0, or TT_ERR_INVALID when hex_len != 2n or a character is not
 * a hex digit (out is then unspecified). */
int tt_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t n);

#endif
