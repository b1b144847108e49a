/* tt_opts: see tt_opts.h. */
#include "tt_opts.h"
#include "tt_error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int tt_opts_config(const tt_config_spec_t *spec, int *argc, char ***argv, tt_config_argv_t *out)
{
    char why[TT_WHY_LEN];
    if (tt_config_apply(spec, *argc, *argv, out, why) != 0) {
        fprintf(stderr, "%s: %s\n", spec->program, why);
        tt_config_argv_free(out);
        return TT_OPTS_EXIT_USAGE;
    }
    *argc = out->argc;
    *argv = out->argv;
    return 0;
}

int tt_opts_split_endpoints(const char *list, tt_opts_endpoints_t *out, char *why)
{
    out->n = 0;
    if (!list || !*list)
        return tt_fail(why, TT_ERR_INVALID, "--coordinator: no endpoint given");
    const char *p = list;
    for (int item = 1;; item++) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a == b)
            return tt_fail(why, TT_ERR_INVALID, "--coordinator: item %d of \"%.200s\" is empty",
                           item, list);
        if (out->n == TT_OPTS_COORDINATORS_MAX)
            return tt_fail(why, TT_ERR_INVALID,
                           "--coordinator: more than %d endpoints in \"%.200s\"",
                           TT_OPTS_COORDINATORS_MAX, list);
        if (b - a >= TT_OPTS_ENDPOINT_LEN)
            return tt_fail(why, TT_ERR_INVALID, "--coordinator: item %d is %d characters or more",
                           item, TT_OPTS_ENDPOINT_LEN);
        memcpy(out->ep[out->n], a, (size_t)(b - a));
        out->ep[out->n][b - a] = '\0';
        out->n++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int tt_conn_opts_check_endpoint(const tt_conn_opts_t *o, char *why)
{
    tt_opts_endpoints_t eps;
    if (!o->endpoint)
        return 0; /* a bundle's list, checked when it was read */
    return tt_opts_split_endpoints(o->endpoint, &eps, why);
}

int tt_conn_opts_set(tt_conn_opts_t *o, int code, const char *arg, char *why)
{
    switch (code) {
    case TT_OPT_COORDINATOR: {
        tt_opts_endpoints_t eps;
        int rc = tt_opts_split_endpoints(arg, &eps, why);
        if (rc == 0)
            o->endpoint = arg;
        return rc;
    }
    case TT_OPT_SERVER_KEY: o->server_key_path = arg; return 0;
    case TT_OPT_KEY: o->key_path = arg; return 0;
    case TT_OPT_BUNDLE: o->bundle_path = arg; return 0;
    case TT_OPT_RELAY: o->relay = arg; return 0;
    case TT_OPT_RELAY_KEY: o->relay_key_path = arg; return 0;
    case TT_OPT_TIMEOUT_MS:
        if (tt_opts_parse_long(arg, 1, TT_OPTS_TIMEOUT_MS_MAX, &o->timeout_ms) != 0)
            return tt_fail(why, TT_ERR_INVALID, "--timeout-ms wants 1..%d", TT_OPTS_TIMEOUT_MS_MAX);
        return 0;
    default: return tt_fail(why, TT_ERR_INVALID, "not a connection option");
    }
}

int tt_conn_opts_is_flag(int code)
{
    switch (code) {
    case TT_OPT_COORDINATOR:
    case TT_OPT_SERVER_KEY:
    case TT_OPT_KEY:
    case TT_OPT_TIMEOUT_MS:
    case TT_OPT_BUNDLE:
    case TT_OPT_RELAY:
    case TT_OPT_RELAY_KEY: return 1;
    default: return 0;
    }
}

int tt_conn_opts_take(tt_conn_opts_t *o, int code, const char *arg, const char *prog)
{
    char why[TT_WHY_LEN];
    if (tt_conn_opts_set(o, code, arg, why) != 0) {
        fprintf(stderr, "%s: %s\n", prog, why);
        return TT_OPTS_EXIT_USAGE;
    }
    return 0;
}

int tt_conn_opts_resolve(tt_conn_opts_t *o)
{
    if (o->timeout_ms <= 0)
        o->timeout_ms = TT_OPTS_TIMEOUT_MS_DEFAULT;
    o->relay = tt_opts_or_env(o->relay, "TUTTI_RELAY", NULL);
    o->relay_key_path = tt_opts_or_env(o->relay_key_path, "TUTTI_RELAY_KEY", NULL);
    if (o->relay && !o->relay_key_path)
        return TT_ERR_INVALID;
    o->bundle_path = tt_opts_or_env(o->bundle_path, "TUTTI_BUNDLE", NULL);
    if (o->bundle_path)
        return 0; /* the bundle fills what the flags did not give */
    o->endpoint = tt_opts_or_env(o->endpoint, "TUTTI_COORDINATOR", TT_OPTS_COORDINATOR_DEFAULT);
    o->server_key_path = tt_opts_or_env(o->server_key_path, "TUTTI_SERVER_KEY", NULL);
    o->key_path = tt_opts_or_env(o->key_path, "TUTTI_KEY", NULL);
    return o->server_key_path && o->key_path ? 0 : TT_ERR_INVALID;
}

void tt_conn_opts_usage(FILE *out, int with_timeout)
{
    fputs(TT_CONN_OPTS_HELP, out);
    if (with_timeout)
        fputs(TT_CONN_OPTS_HELP_TIMEOUT, out);
}
