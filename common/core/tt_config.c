/* tt_config: see tt_config.h.
 *
 * inih goes through our own line reader (as in tt_rules): inih as packaged
 * does not give the handler line numbers, and the reader is where lines are
 * counted, length-checked and refused when indented (inih would join them
 * to the key above as a continuation).
 */
#define _POSIX_C_SOURCE 200809L
#include "tt_config.h"
#include "tt_error.h"
#include "tt_file.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the INI reader ---- */

typedef struct {
    const char *next; /* the rest of the text (NUL-terminated copy) */
    int lineno;
    tt_ini_fn fn;
    void *arg;
    int err; /* first error, its line and reason */
    int err_line;
    char why[TT_WHY_LEN];
} ini_ctx_t;

static char *read_line(char *str, int num, void *stream)
{
    ini_ctx_t *c = stream;
    if (*c->next == '\0')
        return NULL;
    const char *eol = strchr(c->next, '\n');
    size_t n = eol ? (size_t)(eol - c->next) : strlen(c->next);
    if (n > 0 && c->next[n - 1] == '\r')
        n--;
    if (n > (size_t)num - 1)
        n = (size_t)num - 1; /* not reached: lengths are checked first */
    memcpy(str, c->next, n);
    str[n] = '\0';
    c->lineno++;
    c->next = eol ? eol + 1 : c->next + strlen(c->next);
    return str;
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx_t *c = user;
    if (c->err)
        return 0; /* inih goes on after an error; the first is the one reported */
    char why[TT_WHY_LEN] = "";
    int rc = c->fn(c->arg, section, name, value, c->lineno, why);
    if (rc != 0) {
        c->err = rc;
        c->err_line = c->lineno;
        snprintf(c->why, sizeof c->why, "line %d: %.480s", c->lineno, why);
        return 0;
    }
    return 1;
}

int tt_ini_each(const char *text, size_t len, tt_ini_fn fn, void *arg, char *why)
{
    if (len > TT_CONFIG_MAX_TEXT)
        return tt_fail(why, TT_ERR_TOO_BIG, "%zu bytes, limit %d", len, TT_CONFIG_MAX_TEXT);
    if (memchr(text, '\0', len))
        return tt_fail(why, TT_ERR_INVALID, "contains a NUL byte");
    int lineno = 1;
    for (size_t i = 0; i < len; lineno++) {
        const char *p = text + i;
        const char *eol = memchr(p, '\n', len - i);
        size_t n = eol ? (size_t)(eol - p) : len - i;
        size_t raw = n;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > TT_INI_MAX_LINE)
            return tt_fail(why, TT_ERR_INVALID, "line %d: longer than %d bytes", lineno,
                           TT_INI_MAX_LINE);
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t'))
            k++;
        if (k > 0 && k < n && p[k] != '#' && p[k] != ';')
            return tt_fail(why, TT_ERR_INVALID,
                           "line %d: indented (continuation lines are not allowed)", lineno);
        i += raw + (eol != NULL);
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return tt_fail(why, TT_ERR_NOMEM, "copying %zu bytes of INI text", len);
    memcpy(copy, text, len);
    copy[len] = '\0';
    ini_ctx_t c = {.next = copy, .fn = fn, .arg = arg};
    int rc = ini_parse_stream(read_line, &c, on_pair, &c);
    /* The copy may hold a bundle's secret key. */
    volatile char *v = copy;
    for (size_t i = 0; i < len; i++)
        v[i] = 0;
    free(copy);
    if (c.err)
        return tt_fail(why, c.err, "%s", c.why);
    if (rc > 0)
        return tt_fail(why, TT_ERR_INVALID, "line %d: expected [section], key = value or a comment",
                       rc);
    if (rc != 0)
        return tt_fail(why, TT_ERR_NOMEM, "inih failed (%d)", rc);
    return 0;
}

/* ---- config files ---- */

static int in_list(const char *const *list, const char *name)
{
    for (; list && *list; list++)
        if (!strcmp(*list, name))
            return 1;
    return 0;
}

/* The option a command-line "--name[=value]" means, as getopt_long reads
 * it: an exact name, else a unique prefix. NULL when none or ambiguous. */
static const struct option *find_flag(const struct option *opts, const char *name, size_t n)
{
    const struct option *hit = NULL;
    int hits = 0;
    for (const struct option *o = opts; o->name; o++) {
        if (strncmp(o->name, name, n) != 0)
            continue;
        if (strlen(o->name) == n)
            return o;
        hit = o;
        hits++;
    }
    return hits == 1 ? hit : NULL;
}

typedef struct {
    const tt_config_spec_t *spec;
    const char *dir; /* the file's directory with its '/', or "" */
    size_t dir_len;
    const unsigned char *given; /* per option: the command line gives it */
    unsigned char *seen;        /* per option: the file gave it */
    tt_config_argv_t *out;
    char **args; /* the file's flags, in order */
    size_t n_args;
} cfg_ctx_t;

static int is_true(const char *v)
{
    return !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1");
}

static int is_false(const char *v)
{
    return !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0");
}

static int on_key(void *arg, const char *section, const char *key, const char *value, int line,
                  char *why)
{
    (void)line;
    cfg_ctx_t *c = arg;
    const tt_config_spec_t *s = c->spec;
    if (section[0] && strcmp(section, s->program) != 0)
        return tt_fail(why, TT_ERR_INVALID, "section [%s]: only [%s] (or none) is read", section,
                       s->program);
    if (!strcmp(key, "config") || !strcmp(key, "help") || !strcmp(key, "version"))
        return tt_fail(why, TT_ERR_INVALID, "'%s' cannot be set in a config file", key);
    const struct option *o = NULL;
    for (const struct option *p = s->options; p->name; p++)
        if (!strcmp(p->name, key))
            o = p;
    if (!o)
        return tt_fail(why, TT_ERR_INVALID, "unknown key '%s' (not a flag of %s; see %s --help)",
                       key, s->program, s->program);
    size_t idx = (size_t)(o - s->options);
    if (c->seen[idx] && !in_list(s->repeatable, key))
        return tt_fail(why, TT_ERR_INVALID, "key '%s' given twice", key);
    c->seen[idx] = 1;
    if (c->given[idx])
        return 0; /* the command line's value wins */
    if (c->n_args == TT_CONFIG_MAX_KEYS)
        return tt_fail(why, TT_ERR_TOO_BIG, "more than %d keys", TT_CONFIG_MAX_KEYS);
    char *a;
    if (o->has_arg == no_argument) {
        if (is_false(value))
            return 0;
        if (!is_true(value))
            return tt_fail(why, TT_ERR_INVALID, "key '%s' is true or false, not '%s'", key, value);
        a = malloc(strlen(key) + 3);
        if (a)
            sprintf(a, "--%s", key);
    } else {
        if (!value[0])
            return tt_fail(why, TT_ERR_INVALID, "key '%s' needs a value", key);
        int rel = in_list(s->paths, key) && value[0] != '/';
        size_t n = strlen(key) + strlen(value) + (rel ? c->dir_len : 0) + 4;
        a = malloc(n);
        if (a)
            snprintf(a, n, "--%s=%.*s%s", key, rel ? (int)c->dir_len : 0, c->dir, value);
    }
    if (!a)
        return tt_fail(why, TT_ERR_NOMEM, "copying key '%s'", key);
    c->args[c->n_args++] = a;
    return 0;
}

void tt_config_argv_free(tt_config_argv_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_mine; i++)
        free(a->mine[i]);
    free(a->mine);
    free(a->argv);
    memset(a, 0, sizeof *a);
}

int tt_config_apply(const tt_config_spec_t *spec, int argc, char **argv, tt_config_argv_t *out,
                    char *why)
{
    memset(out, 0, sizeof *out);
    size_t n_opts = 0;
    while (spec->options[n_opts].name)
        n_opts++;
    unsigned char *given = calloc(n_opts + 1, 2);
    char **keep = calloc((size_t)argc + 1, sizeof *keep);
    int rc = 0;
    if (!given || !keep) {
        rc = tt_fail(why, TT_ERR_NOMEM, "reading the command line");
        goto done;
    }
    /* The command line: which flags it gives, and where --config is. */
    int n_keep = 0;
    keep[n_keep++] = argv[0];
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            break;
        if (a[0] != '-' || a[1] == '\0') {
            if (spec->stop_at_operand)
                break;
            keep[n_keep++] = argv[i];
            continue;
        }
        if (a[1] != '-') { /* short options take no values in these programs */
            keep[n_keep++] = argv[i];
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        if (n == 6 && !strncmp(name, "config", 6)) {
            if (!eq && i + 1 >= argc) {
                rc = tt_fail(why, TT_ERR_INVALID, "--config wants a FILE");
                goto done;
            }
            if (out->path) {
                rc = tt_fail(why, TT_ERR_INVALID, "--config given twice");
                goto done;
            }
            out->path = eq ? eq + 1 : argv[++i];
            continue;
        }
        keep[n_keep++] = argv[i];
        const struct option *o = find_flag(spec->options, name, n);
        if (!o)
            continue; /* getopt_long will say so */
        given[o - spec->options] = 1;
        if (o->has_arg == required_argument && !eq && i + 1 < argc)
            keep[n_keep++] = argv[++i];
    }
    for (; i < argc; i++)
        keep[n_keep++] = argv[i];

    char *text = NULL;
    size_t len = 0;
    char **args = NULL;
    size_t n_args = 0;
    if (out->path) {
        char fwhy[TT_WHY_LEN];
        if ((rc = tt_file_read(out->path, TT_CONFIG_MAX_TEXT, &text, &len, fwhy)) != 0) {
            tt_fail(why, rc, "--config: %s", fwhy);
            goto done;
        }
        args = calloc(TT_CONFIG_MAX_KEYS, sizeof *args);
        if (!args) {
            free(text);
            rc = tt_fail(why, TT_ERR_NOMEM, "reading %s", out->path);
            goto done;
        }
        const char *slash = strrchr(out->path, '/');
        cfg_ctx_t c = {
            .spec = spec,
            .dir = out->path,
            .dir_len = slash ? (size_t)(slash - out->path) + 1 : 0,
            .given = given,
            .seen = given + n_opts + 1,
            .out = out,
            .args = args,
        };
        char iwhy[TT_WHY_LEN];
        rc = tt_ini_each(text, len, on_key, &c, iwhy);
        free(text);
        n_args = c.n_args;
        if (rc != 0) {
            for (size_t k = 0; k < n_args; k++)
                free(args[k]);
            free(args);
            tt_fail(why, rc, "%s: %s", out->path, iwhy);
            goto done;
        }
    }
    out->argv = calloc((size_t)n_keep + n_args + 1, sizeof *out->argv);
    if (!out->argv) {
        for (size_t k = 0; k < n_args; k++)
            free(args[k]);
        free(args);
        rc = tt_fail(why, TT_ERR_NOMEM, "building the command line");
        goto done;
    }
    out->mine = args;
    out->n_mine = n_args;
    out->argv[out->argc++] = keep[0];
    for (size_t k = 0; k < n_args; k++)
        out->argv[out->argc++] = args[k];
    for (int k = 1; k < n_keep; k++)
        out->argv[out->argc++] = keep[k];
    out->argv[out->argc] = NULL;
done:
    free(given);
    free(keep);
    return rc;
}
