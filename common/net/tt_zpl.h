/* tt_zpl: read the ZeroMQ Property Language (ZPL, rfc.zeromq.org spec 4).
 *
 * Only what certificates need: find the value at a path such as
 * "curve/public-key". The input is untrusted (a file a user points us at),
 * so the reader is bounded, never allocates, and reports the line of the
 * first syntax error. czmq writes certificates in this format, so its
 * certificates work with tutti and ours with it.
 */
#ifndef TT_ZPL_H
#define TT_ZPL_H

#include <stddef.h>

#define TT_ZPL_MAX_TEXT (64 * 1024)
#define TT_ZPL_MAX_DEPTH 8
#define TT_ZPL_MAX_NAME 64

/* Copies the value at path into out (NUL-terminated). Returns 0,
 * TT_ERR_NOTFOUND, TT_ERR_TOO_BIG (value longer than outlen - 1, or text
 * over TT_ZPL_MAX_TEXT) or TT_ERR_INVALID with the line number in why.
 * text need not be NUL-terminated. */
int tt_zpl_find(const char *text, size_t len, const char *path, char *out, size_t outlen,
                char *why);

#endif
