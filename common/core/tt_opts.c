/* tt_opts: see tt_opts.h. */
#include "tt_opts.h"

#include <errno.h>
#include <stdlib.h>

const char *tt_opts_or_env(const char *given, const char *env, const char *dflt)
{
    if (given)
        return given;
    const char *e = getenv(env);
    return (e && *e) ? e : dflt;
}

int tt_opts_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}
