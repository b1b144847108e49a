/* agent_opts: small helpers shared by the programs' command lines. */
#ifndef AGENT_OPTS_H
#define AGENT_OPTS_H

#include <stdlib.h>

/* Value of --flag if given, else the environment variable, else dflt. */
static inline const char *opt_or_env(const char *given, const char *env, const char *dflt)
{
    if (given)
        return given;
    const char *e = getenv(env);
    return (e && *e) ? e : dflt;
}

/* Parses a decimal integer in [lo, hi]; 0 on success. */
static inline int opt_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

#endif
