/* tt_error: names for tutti's error codes and the why-buffer helper. */
#include "tt_error.h"

#include <stdarg.h>
#include <stdio.h>

const char *tt_strerror(int err)
{
    switch (err) {
    case TT_OK: return "ok";
    case TT_ERR_IO: return "I/O error";
    case TT_ERR_NOMEM: return "out of memory";
    case TT_ERR_INVALID: return "invalid input";
    case TT_ERR_PROTOCOL: return "malformed message";
    case TT_ERR_VERSION: return "unsupported protocol version";
    case TT_ERR_DENIED: return "permission denied";
    case TT_ERR_AUTH: return "authentication refused";
    case TT_ERR_STORE: return "store error";
    case TT_ERR_CRYPTO: return "cryptographic error";
    case TT_ERR_NOTFOUND: return "not found";
    case TT_ERR_TIMEOUT: return "timed out";
    case TT_ERR_TOO_BIG: return "too big";
    case TT_ERR_CORRUPT: return "verification failed";
    case TT_ERR_UNAVAILABLE: return "unavailable";
    case TT_ERR_AGAIN: return "would block";
    case TT_ERR_STANDBY: return "standby";
    default: return "unknown error";
    }
}

static _Thread_local int last_error;

int tt_fail(char *why, int err, const char *fmt, ...)
{
    last_error = err;
    if (why) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, TT_WHY_LEN, fmt, ap);
        va_end(ap);
    }
    return err;
}

int tt_error_last(void)
{
    return last_error;
}
