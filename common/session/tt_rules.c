/* tt_rules: rules text, presets and the call clock (see tt_rules.h).
 *
 * Parsing goes through inih, but with our own line reader rather than
 * ini_parse_string: inih as packaged does not pass line numbers to the
 * handler, and the reader is where we count them, so a refused key is
 * reported with its line. Lines are length-checked first because inih
 * splits an over-long line into two, and the second half would be read
 * as a line of its own (a long comment could hide a key).
 */
#include "tt_rules.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "tt_error.h"
#include "tt_file.h"

#define NS_PER_MIN INT64_C(60000000000)

/* ---- presets ---- */

static const tt_rules_t PRESETS[] = {
    {"afm-film-la", "AFM film/TV Los Angeles", 180, 60, 10, 0, 15, 5},
    {"afm-sound", "AFM sound recording", 180, 60, 10, 2, 30, 5},
    {"mu-london", "Musicians' Union London", 180, 90, 15, 1, 15, 5},
    {"video-game", "Video game", 180, 60, 10, 0, 15, 5},
};
#define N_PRESETS (sizeof PRESETS / sizeof PRESETS[0])

size_t tt_rules_preset_count(void)
{
    return N_PRESETS;
}

const tt_rules_t *tt_rules_preset_at(size_t i)
{
    return i < N_PRESETS ? &PRESETS[i] : NULL;
}

const tt_rules_t *tt_rules_preset(const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < N_PRESETS; i++)
        if (!strcmp(PRESETS[i].id, id))
            return &PRESETS[i];
    return NULL;
}

/* ---- field checks ---- */

/* Strict UTF-8: no overlongs, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, min = 0x80, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, min = 0x800, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

static int check_id(const char *id, char *why)
{
    size_t n = strnlen(id, TT_RULES_MAX_ID + 1);
    if (n == 0 || n > TT_RULES_MAX_ID)
        return tt_fail(why, TT_ERR_INVALID, "id: 1 to %d characters of a-z, 0-9 and '-'",
                       TT_RULES_MAX_ID);
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return tt_fail(why, TT_ERR_INVALID,
                           "id: character %zu is not a-z, 0-9 or '-' (ids read afm-film-la)",
                           i + 1);
    }
    return 0;
}

static int check_title(const char *t, char *why)
{
    size_t n = strnlen(t, TT_RULES_MAX_TITLE + 1);
    if (n == 0)
        return tt_fail(why, TT_ERR_INVALID, "title: empty");
    if (n > TT_RULES_MAX_TITLE)
        return tt_fail(why, TT_ERR_INVALID, "title: longer than %d bytes", TT_RULES_MAX_TITLE);
    if (!utf8_valid((const unsigned char *)t, n))
        return tt_fail(why, TT_ERR_INVALID, "title: not valid UTF-8");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
            return tt_fail(why, TT_ERR_INVALID, "title: control character at byte %zu", i + 1);
    /* What the INI syntax cannot carry: inih strips outer spaces and reads
     * " ;" (or a leading ';') as the start of a comment. */
    if (t[0] == ' ' || t[n - 1] == ' ')
        return tt_fail(why, TT_ERR_INVALID, "title: leading or trailing space");
    if (t[0] == ';' || strstr(t, " ;"))
        return tt_fail(why, TT_ERR_INVALID,
                       "title: ';' after a space (or first) would start a comment");
    return 0;
}

typedef struct {
    const char *name;
    size_t off; /* offsetof the int in tt_rules_t */
    int min, max;
    int required;
} int_key_t;

static const int_key_t INT_KEYS[] = {
    {"call_minutes", offsetof(tt_rules_t, call_minutes), 1, 1440, 1},
    {"break_after_minutes", offsetof(tt_rules_t, break_after_minutes), 1, 1440, 1},
    {"break_minutes", offsetof(tt_rules_t, break_minutes), 1, 120, 1},
    {"breaks_per_call", offsetof(tt_rules_t, breaks_per_call), 0, 20, 0},
    {"overtime_unit_minutes", offsetof(tt_rules_t, overtime_unit_minutes), 1, 240, 1},
    {"amber_minutes", offsetof(tt_rules_t, amber_minutes), 0, 60, 0},
};
#define N_INT_KEYS (sizeof INT_KEYS / sizeof INT_KEYS[0])

static int *int_field(tt_rules_t *r, const int_key_t *k)
{
    return (int *)((char *)r + k->off);
}

static int int_value(const tt_rules_t *r, const int_key_t *k)
{
    return *(const int *)((const char *)r + k->off);
}

int tt_rules_check(const tt_rules_t *r, char *why)
{
    if (!r)
        return tt_fail(why, TT_ERR_INVALID, "no rules");
    if (memchr(r->id, '\0', sizeof r->id) == NULL)
        return tt_fail(why, TT_ERR_INVALID, "id: not terminated");
    if (memchr(r->title, '\0', sizeof r->title) == NULL)
        return tt_fail(why, TT_ERR_INVALID, "title: not terminated");
    int rc = check_id(r->id, why);
    if (rc == 0)
        rc = check_title(r->title, why);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < N_INT_KEYS; i++) {
        int v = int_value(r, &INT_KEYS[i]);
        if (v < INT_KEYS[i].min || v > INT_KEYS[i].max)
            return tt_fail(why, TT_ERR_INVALID, "%s: %d is outside %d..%d", INT_KEYS[i].name, v,
                           INT_KEYS[i].min, INT_KEYS[i].max);
    }
    return 0;
}

int tt_rules_equal(const tt_rules_t *a, const tt_rules_t *b)
{
    if (strncmp(a->id, b->id, sizeof a->id) || strncmp(a->title, b->title, sizeof a->title))
        return 0;
    for (size_t i = 0; i < N_INT_KEYS; i++)
        if (int_value(a, &INT_KEYS[i]) != int_value(b, &INT_KEYS[i]))
            return 0;
    return 1;
}

/* ---- parsing ---- */

typedef struct {
    const char *next; /* the reader's position in the text */
    const char *line; /* the raw line being parsed */
    int lineno;       /* of that line, from 1 */
    tt_rules_t r;
    unsigned seen; /* bit 0 id, 1 title, 2.. INT_KEYS */
    int err_line;  /* first line the handler refused, 0 if none */
    char err[TT_WHY_LEN];
} parse_ctx_t;

/* An fgets for inih over the text: one line per call, without its EOL (the
 * lengths were checked before, so a line always fits). */
static char *read_line(char *str, int num, void *stream)
{
    parse_ctx_t *ctx = stream;
    if (*ctx->next == '\0')
        return NULL;
    const char *eol = strchr(ctx->next, '\n');
    size_t n = eol ? (size_t)(eol - ctx->next) : strlen(ctx->next);
    if (n > 0 && ctx->next[n - 1] == '\r')
        n--;
    if (n > (size_t)num - 1)
        n = (size_t)num - 1; /* not reached: lines are checked first */
    memcpy(str, ctx->next, n);
    str[n] = '\0';
    ctx->line = ctx->next;
    ctx->lineno++;
    ctx->next = eol ? eol + 1 : ctx->next + strlen(ctx->next);
    return str;
}

static int parse_int(const char *v, int *out)
{
    const char *p = v;
    int neg = 0;
    if (*p == '-')
        neg = 1, p++;
    if (*p == '\0')
        return -1;
    long long x = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        x = 10 * x + (*p - '0');
        if (x > 1000000000LL)
            return -1;
    }
    *out = (int)(neg ? -x : x);
    return 0;
}

/* Records the first refusal; inih goes on (it does not stop at the first
 * error as built) but the first error line is what it returns. */
__attribute__((format(printf, 2, 3))) static int refuse(parse_ctx_t *ctx, const char *fmt, ...)
{
    if (!ctx->err_line) {
        ctx->err_line = ctx->lineno;
        int n = snprintf(ctx->err, sizeof ctx->err, "line %d: ", ctx->lineno);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err + n, sizeof ctx->err - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx_t *ctx = user;
    if (ctx->err_line)
        return 0; /* one error is enough */
    if (ctx->line && (ctx->line[0] == ' ' || ctx->line[0] == '\t'))
        return refuse(ctx, "key %s: indented line (continuation lines are not allowed)", name);
    if (section[0] == '\0')
        return refuse(ctx, "key %s: outside the [rules] section", name);
    if (strcmp(section, "rules") != 0)
        return refuse(ctx, "section [%s] is unknown (key %s): only [rules]", section, name);

    unsigned bit;
    char why[TT_WHY_LEN];
    if (!strcmp(name, "id")) {
        bit = 1u;
        if (!(ctx->seen & bit)) {
            if (check_id(value, why) != 0)
                return refuse(ctx, "key %s", why); /* why reads "id: ..." */
            snprintf(ctx->r.id, sizeof ctx->r.id, "%s", value);
        }
    } else if (!strcmp(name, "title")) {
        bit = 2u;
        if (!(ctx->seen & bit)) {
            if (check_title(value, why) != 0)
                return refuse(ctx, "key %s", why);
            snprintf(ctx->r.title, sizeof ctx->r.title, "%s", value);
        }
    } else {
        size_t i;
        for (i = 0; i < N_INT_KEYS; i++)
            if (!strcmp(name, INT_KEYS[i].name))
                break;
        if (i == N_INT_KEYS)
            return refuse(ctx, "key %s is unknown", name);
        bit = 4u << i;
        if (!(ctx->seen & bit)) {
            int v;
            if (parse_int(value, &v) != 0)
                return refuse(ctx, "key %s: \"%s\" is not an integer", name, value);
            if (v < INT_KEYS[i].min || v > INT_KEYS[i].max)
                return refuse(ctx, "key %s: %d is outside %d..%d", name, v, INT_KEYS[i].min,
                              INT_KEYS[i].max);
            *int_field(&ctx->r, &INT_KEYS[i]) = v;
        }
    }
    if (ctx->seen & bit)
        return refuse(ctx, "key %s given twice", name);
    ctx->seen |= bit;
    return 1;
}

int tt_rules_parse(const char *text, tt_rules_t *out, char *why)
{
    if (!text)
        return tt_fail(why, TT_ERR_INVALID, "no rules text");
    size_t len = strnlen(text, TT_RULES_MAX_TEXT + 1);
    if (len > TT_RULES_MAX_TEXT)
        return tt_fail(why, TT_ERR_INVALID, "rules text longer than %d bytes", TT_RULES_MAX_TEXT);
    int lineno = 1;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > TT_RULES_MAX_LINE)
            return tt_fail(why, TT_ERR_INVALID, "line %d: longer than %d bytes", lineno,
                           TT_RULES_MAX_LINE);
        if (!eol)
            break;
        p = eol + 1;
        lineno++;
    }

    parse_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.next = text;
    ctx.r.amber_minutes = TT_RULES_DEFAULT_AMBER;
    int rc = ini_parse_stream(read_line, &ctx, on_pair, &ctx);
    if (rc > 0 && rc == ctx.err_line)
        return tt_fail(why, TT_ERR_INVALID, "%s", ctx.err);
    if (rc > 0)
        return tt_fail(why, TT_ERR_INVALID, "line %d: expected [rules], key = value or a comment",
                       rc);
    if (rc != 0)
        return tt_fail(why, TT_ERR_NOMEM, "parsing rules: inih failed (%d)", rc);
    static const char *const required_text[] = {"id", "title"};
    for (unsigned i = 0; i < 2; i++)
        if (!(ctx.seen & (1u << i)))
            return tt_fail(why, TT_ERR_INVALID, "key %s is missing", required_text[i]);
    for (size_t i = 0; i < N_INT_KEYS; i++)
        if (INT_KEYS[i].required && !(ctx.seen & (4u << i)))
            return tt_fail(why, TT_ERR_INVALID, "key %s is missing", INT_KEYS[i].name);
    *out = ctx.r;
    return 0;
}

int tt_rules_format(const tt_rules_t *r, char *buf, size_t len)
{
    if (tt_rules_check(r, NULL) != 0)
        return TT_ERR_INVALID;
    if (!buf || len == 0)
        return TT_ERR_TOO_BIG;
    int n = snprintf(buf, len,
                     "[rules]\n"
                     "id = %s\n"
                     "title = %s\n"
                     "call_minutes = %d\n"
                     "break_after_minutes = %d\n"
                     "break_minutes = %d\n"
                     "breaks_per_call = %d\n"
                     "overtime_unit_minutes = %d\n"
                     "amber_minutes = %d\n",
                     r->id, r->title, r->call_minutes, r->break_after_minutes, r->break_minutes,
                     r->breaks_per_call, r->overtime_unit_minutes, r->amber_minutes);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return TT_ERR_TOO_BIG;
    }
    return 0;
}

/* ---- loading ---- */

static void preset_list(char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < N_PRESETS && used < len; i++) {
        int n = snprintf(out + used, len - used, "%s%s", i ? ", " : "", PRESETS[i].id);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int tt_rules_load(const char *id_or_path, tt_rules_t *out, char *why)
{
    if (!id_or_path || !id_or_path[0])
        return tt_fail(why, TT_ERR_INVALID, "rules: give a preset id or a file");
    const tt_rules_t *p = tt_rules_preset(id_or_path);
    if (p) {
        *out = *p;
        return 0;
    }
    char presets[256];
    preset_list(presets, sizeof presets);
    char *text = NULL;
    size_t n = 0;
    char fwhy[TT_WHY_LEN];
    int rc = tt_file_read(id_or_path, TT_RULES_MAX_TEXT, &text, &n, fwhy);
    if (rc == TT_ERR_IO && access(id_or_path, F_OK) != 0 && errno == ENOENT)
        return tt_fail(why, TT_ERR_NOTFOUND, "rules %s: not a preset (%s) and no such file",
                       id_or_path, presets);
    if (rc == TT_ERR_TOO_BIG)
        return tt_fail(why, rc, "rules file %s: longer than %d bytes", id_or_path,
                       TT_RULES_MAX_TEXT);
    if (rc != 0)
        return tt_fail(why, rc, "rules file: %s", fwhy);
    if (memchr(text, '\0', n))
        rc = tt_fail(why, TT_ERR_INVALID, "rules file %s: contains a NUL byte", id_or_path);
    if (rc == 0) {
        char pwhy[TT_WHY_LEN];
        rc = tt_rules_parse(text, out, pwhy);
        if (rc != 0)
            rc = tt_fail(why, rc, "rules file %.200s: %s", id_or_path, pwhy);
    }
    free(text);
    return rc;
}

/* ---- the call ---- */

static int64_t add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static int running(const tt_call_t *c)
{
    return c->started && c->wrap_ns == 0;
}

static int on_break(const tt_call_t *c)
{
    return running(c) && c->n_breaks > 0 && c->breaks[c->n_breaks - 1].end_ns == 0;
}

/* The latest event time: start, a break's start or end, or the wrap. */
static int64_t last_event(const tt_call_t *c)
{
    int64_t t = c->start_ns;
    if (c->n_breaks > 0) {
        const tt_call_break_t *b = &c->breaks[c->n_breaks - 1];
        t = b->end_ns > b->start_ns ? b->end_ns : b->start_ns;
    }
    if (c->wrap_ns > t)
        t = c->wrap_ns;
    return t;
}

int tt_call_check(const tt_call_t *c, const char *action, char *why)
{
    if (!c || !action)
        return tt_fail(why, TT_ERR_INVALID, "call: no action");
    if (!strcmp(action, "start")) {
        if (running(c))
            return tt_fail(why, TT_ERR_INVALID, "a call is already running: wrap it first");
        return 0;
    }
    if (!strcmp(action, "break-start")) {
        if (!running(c))
            return tt_fail(why, TT_ERR_INVALID, "no call is running: start one first");
        if (on_break(c))
            return tt_fail(why, TT_ERR_INVALID, "already on a break");
        if (c->n_breaks >= TT_CALL_MAX_BREAKS)
            return tt_fail(why, TT_ERR_INVALID, "a call holds at most %d breaks",
                           TT_CALL_MAX_BREAKS);
        return 0;
    }
    if (!strcmp(action, "break-end")) {
        if (!on_break(c))
            return tt_fail(why, TT_ERR_INVALID, "not on a break");
        return 0;
    }
    if (!strcmp(action, "wrap")) {
        if (!running(c))
            return tt_fail(why, TT_ERR_INVALID,
                           c->started ? "the call has already wrapped" : "no call is running");
        return 0;
    }
    return tt_fail(why, TT_ERR_INVALID,
                   "call action \"%.64s\" is unknown (start, break-start, break-end, wrap)",
                   action);
}

int tt_call_apply(tt_call_t *c, const char *action, const tt_rules_t *rules, int64_t at_ns,
                  char *why)
{
    int rc = tt_call_check(c, action, why);
    if (rc != 0)
        return rc;
    if (at_ns <= 0)
        return tt_fail(why, TT_ERR_INVALID, "call %s at %" PRId64 " ns: not a Unix time", action,
                       at_ns);
    if (!strcmp(action, "start")) {
        if (!rules)
            return tt_fail(why, TT_ERR_INVALID, "starting a call needs its rules");
        char rwhy[TT_WHY_LEN];
        if (tt_rules_check(rules, rwhy) != 0)
            return tt_fail(why, TT_ERR_INVALID, "call rules: %s", rwhy);
        tt_rules_t copy = *rules; /* rules may live inside *c */
        memset(c, 0, sizeof *c);
        c->started = 1;
        c->start_ns = at_ns;
        c->rules = copy;
        return 0;
    }
    int64_t last = last_event(c);
    if (at_ns < last)
        at_ns = last;
    if (!strcmp(action, "break-start")) {
        c->breaks[c->n_breaks].start_ns = at_ns;
        c->breaks[c->n_breaks].end_ns = 0;
        c->n_breaks++;
    } else if (!strcmp(action, "break-end")) {
        c->breaks[c->n_breaks - 1].end_ns = at_ns;
    } else { /* wrap */
        if (on_break(c))
            c->breaks[c->n_breaks - 1].end_ns = at_ns;
        c->wrap_ns = at_ns;
    }
    return 0;
}

void tt_call_clock(const tt_call_t *c, int64_t now_ns, tt_call_clock_t *out)
{
    memset(out, 0, sizeof *out);
    if (!c || !c->started)
        return;
    const tt_rules_t *r = &c->rules;
    int64_t t = c->wrap_ns ? c->wrap_ns : now_ns;
    int64_t last = last_event(c);
    if (t < last)
        t = last;
    out->running = running(c);
    out->elapsed_ns = t - c->start_ns;
    out->breaks_taken = c->n_breaks;

    int64_t brk_ns = (int64_t)r->break_minutes * NS_PER_MIN;
    int64_t base = c->start_ns; /* where the work stretch before the next break began */
    if (on_break(c)) {
        const tt_call_break_t *b = &c->breaks[c->n_breaks - 1];
        out->on_break = 1;
        out->break_elapsed_ns = t - b->start_ns;
        out->break_remaining_ns = brk_ns - out->break_elapsed_ns;
        base = add_sat(b->start_ns, brk_ns);
        if (base < t)
            base = t; /* overran: the stretch starts when the break does end */
    } else if (c->n_breaks > 0) {
        base = c->breaks[c->n_breaks - 1].end_ns;
    }
    out->break_due = !(r->breaks_per_call > 0 && c->n_breaks >= (size_t)r->breaks_per_call);
    if (out->break_due) {
        out->next_break_at_ns = add_sat(base, (int64_t)r->break_after_minutes * NS_PER_MIN);
        out->next_break_in_ns = out->next_break_at_ns - t; /* both >= start > 0 */
        if (out->running && !out->on_break) {
            if (out->next_break_in_ns <= 0)
                out->alert = TT_CALL_ALERT_RED;
            else if (out->next_break_in_ns <= (int64_t)r->amber_minutes * NS_PER_MIN)
                out->alert = TT_CALL_ALERT_AMBER;
        }
    }

    int64_t call_ns = (int64_t)r->call_minutes * NS_PER_MIN;
    if (out->elapsed_ns > call_ns && r->overtime_unit_minutes > 0) {
        int64_t unit = (int64_t)r->overtime_unit_minutes * NS_PER_MIN;
        out->overtime_ns = out->elapsed_ns - call_ns;
        int64_t units = out->overtime_ns / unit + (out->overtime_ns % unit != 0);
        out->overtime_units = units > INT32_MAX ? INT32_MAX : (int)units;
    }
}

const char *tt_call_alert_name(tt_call_alert_t a)
{
    switch (a) {
    case TT_CALL_ALERT_AMBER: return "amber";
    case TT_CALL_ALERT_RED: return "red";
    default: return "none";
    }
}
