/* tt_error: one error space for tutti.
 *
 * Functions return 0 on success and a negative tt_err_t on failure. The
 * positive value travels on the wire in Error.code, so clients can tell a
 * refused request from a malformed one. Messages with context are written
 * into a caller-owned buffer of TT_WHY_LEN bytes (the "why" argument).
 */
#ifndef TT_ERROR_H
#define TT_ERROR_H

#include <stddef.h>

#define TT_WHY_LEN 512

typedef enum {
    TT_OK = 0,
    TT_ERR_IO = -1, /* file or socket I/O failed */
    TT_ERR_NOMEM = -2,
    TT_ERR_INVALID = -3,  /* bad argument or input from a user */
    TT_ERR_PROTOCOL = -4, /* malformed message from a peer */
    TT_ERR_VERSION = -5,  /* unknown protocol version */
    TT_ERR_DENIED = -6,   /* caller's role does not allow it */
    TT_ERR_AUTH = -7,     /* authentication refused */
    TT_ERR_STORE = -8,    /* LMDB failed */
    TT_ERR_CRYPTO = -9,   /* key or signature problem */
    TT_ERR_NOTFOUND = -10,
    TT_ERR_TIMEOUT = -11,
    TT_ERR_TOO_BIG = -12,
    TT_ERR_CORRUPT = -13,     /* stored data fails verification */
    TT_ERR_UNAVAILABLE = -14, /* coordinator busy, shutting down or unreachable */
    TT_ERR_AGAIN = -15,       /* would block: nothing to read, or no room to send now */
    TT_ERR_STANDBY = -16      /* a standby coordinator: ask the other endpoint */
} tt_err_t;

/* Static, never NULL. Unknown codes give "unknown error". */
const char *tt_strerror(int err);

/* snprintf into why (TT_WHY_LEN bytes) and return err, so failures read
 *   return tt_fail(why, TT_ERR_IO, "opening %s: %s", path, strerror(errno)); */
int tt_fail(char *why, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The code of this thread's last tt_fail: what a constructor that returned
 * NULL failed with (its why names the details). Like errno, valid only
 * right after the failing call. */
int tt_error_last(void);

#endif
