/* tt_opts: what every program's command line shares: a flag's value or
 * its environment variable or its default, and checked integers. */
#ifndef TT_OPTS_H
#define TT_OPTS_H

/* Value of --flag if given (not NULL), else the environment variable when
 * set and not empty, else dflt. Borrowed: the result is one of the three
 * (the environment's string lives until the variable changes). */
const char *tt_opts_or_env(const char *given, const char *env, const char *dflt);

/* Parses a whole decimal integer in [lo, hi] into *out; 0, or -1 when s
 * is empty, has trailing characters or is out of range. */
int tt_opts_parse_long(const char *s, long lo, long hi, long *out);

#endif
