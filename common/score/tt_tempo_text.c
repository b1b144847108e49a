/* tt_tempo_text: the tempo map's text format (see the grammar in
 * tt_tempo.h): formatting a map canonically and parsing one with errors
 * that name the line. Built on the map's representation
 * (tt_tempo_internal.h); conversions stay in tt_tempo.c. */
#include "tt_tempo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_error.h"
#include "tt_tempo_internal.h"
#include "tt_tempo_visual.h"

/* ---- text: formatting ---- */

int tt_tempo_meter_text(const tt_meter_t *mt, char *out, size_t room)
{
    if (!mt->ngroups)
        return snprintf(out, room, "%d/%d", (int)mt->num, (int)mt->den);
    int equal = 1;
    for (int i = 1; i < mt->ngroups; i++)
        equal &= mt->groups[i] == mt->groups[0];
    if (equal)
        return snprintf(out, room, "%d/%d in %d", (int)mt->num, (int)mt->den, mt->ngroups);
    size_t len = 0;
    for (int i = 0; i < mt->ngroups; i++)
        len += (size_t)snprintf(out + len, len < room ? room - len : 0, "%s%d", i ? "+" : "",
                                (int)mt->groups[i]);
    return (int)len + snprintf(out + len, len < room ? room - len : 0, "/%d", (int)mt->den);
}

static size_t put_meter(char *p, size_t room, const tt_meter_t *mt)
{
    char text[80];
    tt_tempo_meter_text(mt, text, sizeof text);
    return (size_t)snprintf(p, room, " %s", text);
}

/* The tempo part of a mark's line (implied marks have none), and free time. */
static size_t put_mark(const tt_tempo_map_t *m, size_t j, char *p, size_t room)
{
    const mark_t *mk = &m->marks[j];
    char v[64];
    size_t len = 0;
    tt_tempo_value_text(&mk->v, v, sizeof v);
    if (mk->kind == MARK_TEMPO)
        len += (size_t)snprintf(p, room, " %s%s", v, mk->ramp ? " ramp" : "");
    else if (mk->kind == MARK_NAMED)
        len += (size_t)snprintf(p, room, " %s %s over %d",
                                mk->named == TT_TEMPO_RIT ? "rit" : "accel", v, (int)mk->over);
    if (mk->free && j + 1 < m->nmarks) {
        char tc[TT_TIMECODE_LEN];
        tt_timecode_format(mk->resume_frame, m->fps, tc);
        len += (size_t)snprintf(p + len, room - len, " free until %d at %s",
                                (int)tt_tempo_tick_to_bbt(m, m->marks[j + 1].tick).bar, tc);
    }
    return len;
}

int tt_tempo_format_text(const tt_tempo_map_t *m, char **out, char *why)
{
    /* Every line is at most 128 bytes and holds at least one event (a
     * visual marker's line at most 121). */
    size_t cap = 256 + 128 * (m->nmeters + m->nmarks + m->nswitches + m->nsubdivs + m->nmarkers +
                              m->nvisuals);
    char *buf = malloc(cap);
    *out = NULL;
    if (!buf)
        return tt_fail(why, TT_ERR_NOMEM, "formatting tempo map: out of memory");
    size_t len = 0;
    char tc[TT_TIMECODE_LEN];
    tt_timecode_format(m->start_frame, m->fps, tc);
    len += (size_t)snprintf(buf + len, cap - len, "fps %s\nstart %s\ncountoff %d\n",
                            tt_fps_name(m->fps), tc, m->countoff);
    if (m->pickup)
        len += (size_t)snprintf(buf + len, cap - len, "pickup %d\n", m->pickup);
    if (m->end_bar)
        len += (size_t)snprintf(buf + len, cap - len, "end %d\n", (int)m->end_bar);
    tt_tempo_walk_t w = {0};
    for (int64_t t; (t = tt_tempo_walk_peek(m, &w)) != INT64_MAX; tt_tempo_walk_step(&w)) {
        tt_bbt_t p = tt_tempo_tick_to_bbt(m, t);
        size_t line = len;
        if (p.beat == 1 && p.tick == 0)
            len += (size_t)snprintf(buf + len, cap - len, "bar %d", (int)p.bar);
        else
            len += (size_t)snprintf(buf + len, cap - len, "at %d.%d.%d", (int)p.bar, (int)p.beat,
                                    (int)p.tick);
        size_t head = len;
        if (w.ti == t)
            len += put_meter(buf + len, cap - len, &m->meters[w.i].mt);
        if (w.tj == t)
            len += put_mark(m, w.j, buf + len, cap - len);
        if (w.tk == t)
            len += (size_t)snprintf(buf + len, cap - len, " click %s",
                                    m->switches[w.k].on ? "on" : "off");
        if (w.tq == t)
            len += (size_t)snprintf(buf + len, cap - len, " subdivide %d", m->subdivs[w.q].n);
        if (len == head) { /* only an implied mark here: no line */
            len = line;
            buf[len] = '\0';
        } else
            len += (size_t)snprintf(buf + len, cap - len, "\n");
    }
    for (size_t q = 0; q < m->nmarkers; q++) {
        const marker_t *mk = &m->markers[q];
        len += (size_t)snprintf(buf + len, cap - len, "marker %d.%d.%d %s\n", (int)mk->pos.bar,
                                (int)mk->pos.beat, (int)mk->pos.tick, mk->name);
    }
    for (size_t q = 0; q < m->nvisuals; q++) {
        len += (size_t)tt_tempo_visual_words(&m->visuals[q], 1, buf + len, cap - len);
        len += (size_t)snprintf(buf + len, cap - len, "\n");
    }
    *out = buf;
    return 0;
}

/* ---- text: parsing ---- */

#define MAX_TOKENS 12
#define MAX_TOKEN 64

typedef struct {
    const char *s;
    size_t n;
} tok_t;

static int tok_is(tok_t t, const char *word)
{
    return t.n == strlen(word) && memcmp(t.s, word, t.n) == 0;
}

/* The token, NUL-terminated and made printable, for messages. */
static const char *tok_show(tok_t t, char buf[MAX_TOKEN + 1])
{
    size_t n = t.n < MAX_TOKEN ? t.n : MAX_TOKEN;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t.s[i];
        buf[i] = (c >= 0x21 && c < 0x7f) ? (char)c : '?';
    }
    buf[n] = '\0';
    return buf;
}

/* Decimal digits s[0..n) as a value <= max. Returns 0 or -1. */
static int parse_uint(const char *s, size_t n, int64_t max, int64_t *out)
{
    if (n == 0 || n > 12)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* "92", "92.5" (up to 9 decimals) or "N/D" -> n / d (not yet reduced). */
static int parse_bpm(const char *s, size_t n, int64_t *num, int64_t *den)
{
    const char *dot = memchr(s, '.', n), *slash = memchr(s, '/', n);
    if (dot && slash)
        return -1;
    if (slash) {
        size_t a = (size_t)(slash - s);
        if (parse_uint(s, a, MAX_TERM, num) || parse_uint(slash + 1, n - a - 1, MAX_TERM, den))
            return -1;
        return (*num > 0 && *den > 0) ? 0 : -1;
    }
    size_t a = dot ? (size_t)(dot - s) : n;
    int64_t whole, frac = 0, scale = 1;
    if (a > 9 || parse_uint(s, a, INT64_C(999999999), &whole))
        return -1;
    if (dot) {
        size_t f = n - a - 1;
        if (f < 1 || f > 9 || parse_uint(dot + 1, f, DEC_SCALE, &frac))
            return -1;
        for (size_t i = 0; i < f; i++)
            scale *= 10;
    }
    *num = whole * scale + frac;
    *den = scale;
    return *num > 0 ? 0 : -1;
}

/* "4/4" or "3+2+2/8" (groups). */
static int parse_meter(tok_t t, tt_meter_t *mt)
{
    const char *slash = memchr(t.s, '/', t.n);
    int64_t v, den;
    if (!slash)
        return -1;
    size_t k = (size_t)(slash - t.s);
    if (parse_uint(slash + 1, t.n - k - 1, 999, &den))
        return -1;
    memset(mt, 0, sizeof *mt);
    mt->den = (int32_t)den;
    const char *p = t.s;
    int n = 0, sum = 0;
    while (p < slash) {
        const char *q = p;
        while (q < slash && *q != '+')
            q++;
        if (n == TT_TEMPO_MAX_GROUPS)
            return -2;
        if (parse_uint(p, (size_t)(q - p), 999, &v))
            return -1;
        mt->groups[n] = (uint8_t)(v > 255 ? 255 : v);
        n++;
        sum += (int)v;
        if (q < slash && q + 1 == slash)
            return -1; /* "3+/8" */
        p = q < slash ? q + 1 : q;
    }
    mt->num = sum;
    if (n > 1)
        mt->ngroups = n;
    return 0;
}

/* "BAR.BEAT.TICK" */
static int parse_bbt(tok_t t, tt_bbt_t *pos)
{
    const char *p = t.s, *end = t.s + t.n;
    int64_t v[3];
    for (int i = 0; i < 3; i++) {
        const char *q = p;
        while (q < end && *q != '.')
            q++;
        if (parse_uint(p, (size_t)(q - p), INT32_MAX, &v[i]))
            return -1;
        if (i < 2 && q == end)
            return -1;
        p = q + 1;
    }
    if (p != end + 1)
        return -1;
    *pos = (tt_bbt_t){.bar = (int32_t)v[0], .beat = (int32_t)v[1], .tick = (int32_t)v[2]};
    return 0;
}

/* "BAR.BEAT" or "BAR.BEAT.TICK" (tick 0 when left out). */
static int parse_pos(tok_t t, tt_bbt_t *pos)
{
    const char *p = t.s, *end = t.s + t.n;
    int64_t v[3] = {0, 0, 0};
    int k = 0;
    for (; k < 3 && p <= end; k++) {
        const char *q = p;
        while (q < end && *q != '.')
            q++;
        if (parse_uint(p, (size_t)(q - p), INT32_MAX, &v[k]))
            return -1;
        p = q + 1;
    }
    if (k < 2 || p != end + 1)
        return -1;
    *pos = (tt_bbt_t){.bar = (int32_t)v[0], .beat = (int32_t)v[1], .tick = (int32_t)v[2]};
    return 0;
}

/* Appends t's words to out[*len..cap) with single spaces between them
 * (a quoted token may hold several). Returns 0, or -1 when it does not fit. */
static int append_words(char *out, size_t *len, size_t cap, tok_t t)
{
    for (size_t i = 0; i < t.n;) {
        while (i < t.n && (t.s[i] == ' ' || t.s[i] == '\t'))
            i++;
        size_t w = i;
        while (i < t.n && t.s[i] != ' ' && t.s[i] != '\t')
            i++;
        if (i == w)
            break;
        if (*len + (*len > 0) + (i - w) + 1 > cap)
            return -1;
        if (*len > 0)
            out[(*len)++] = ' ';
        memcpy(out + *len, t.s + w, i - w);
        *len += i - w;
        out[*len] = '\0';
    }
    return 0;
}

/* ---- visual markers' words (the text's lines and SMF markers) ---- */

static int visual_kind(tok_t t)
{
    for (int k = TT_VISUAL_STREAMER; k <= TT_VISUAL_HIT; k++)
        if (tok_is(t, tt_visual_kind_name(k)))
            return k;
    return 0;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* "3s", "2.5s", "1b": thousandths and unit. */
static int parse_len(tok_t t, tt_visual_spec_t *v)
{
    if (t.n < 2 || (t.s[t.n - 1] != 's' && t.s[t.n - 1] != 'b'))
        return -1;
    const char *s = t.s, *dot = memchr(s, '.', t.n - 1);
    size_t a = dot ? (size_t)(dot - s) : t.n - 1;
    int64_t whole, frac = 0;
    if (parse_uint(s, a, 999, &whole))
        return -1;
    if (dot) {
        size_t f = t.n - 1 - a - 1;
        if (f < 1 || f > 3 || parse_uint(dot + 1, f, 999, &frac))
            return -1;
        for (size_t i = f; i < 3; i++)
            frac *= 10;
    }
    v->len_unit = t.s[t.n - 1] == 's' ? TT_VISUAL_LEN_S : TT_VISUAL_LEN_BEATS;
    v->len_milli = (int32_t)(whole * 1000 + frac);
    return 0;
}

static int parse_color(tok_t t, tt_visual_spec_t *v)
{
    if (t.n == 7 && t.s[0] == '#') {
        uint32_t rgb = 0;
        for (size_t i = 1; i < 7; i++) {
            char c = t.s[i];
            if (!is_hex(c))
                return -1;
            rgb = rgb << 4 | (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        v->color = TT_COLOR_RGB;
        v->rgb = rgb;
        return 0;
    }
    char buf[8];
    for (int c = TT_COLOR_WHITE; c < TT_COLOR_RGB; c++)
        if (tok_is(t, tt_visual_color_text(c, 0, buf))) {
            v->color = c;
            v->rgb = 0;
            return 0;
        }
    return -1;
}

/* A quoted name, '"' ... '"', its words joined by single spaces. */
static int parse_name(tok_t t, tt_visual_spec_t *v, char *why)
{
    int shown = t.n > 40 ? 40 : (int)t.n; /* printable or blanks: the tokenizer checked */
    const char *more = t.n > 40 ? "..." : "";
    if (t.n < 2 || t.s[0] != '"' || t.s[t.n - 1] != '"')
        return tt_fail(why, TT_ERR_INVALID,
                       "name %.*s%s: a name is quoted and ends with '\"', e.g. \"door slam\"",
                       shown, t.s, more);
    size_t len = 0;
    v->name[0] = '\0';
    if (append_words(v->name, &len, sizeof v->name, (tok_t){t.s + 1, t.n - 2}))
        return tt_fail(why, TT_ERR_INVALID, "name %.*s%s: longer than %d bytes", shown, t.s, more,
                       TT_TEMPO_MARKER_LEN);
    if (!len)
        return tt_fail(why, TT_ERR_INVALID, "an empty name \"\"");
    return 0;
}

/* The words after a visual marker's position (or after its kind, in an
 * SMF marker: smf allows "flutter 3"). Fills *v but its pos. */
static int visual_words(int kind, const tok_t *t, int n, int smf, tt_visual_spec_t *v, char *why)
{
    char b1[MAX_TOKEN + 1];
    const char *k = tt_visual_kind_name(kind);
    int have_len = 0, have_color = 0, have_flashes = 0, i = 0;
    int takes_len = kind == TT_VISUAL_STREAMER || kind == TT_VISUAL_WARNING;
    int64_t x;
    memset(v, 0, sizeof *v);
    v->kind = kind;
    v->color = TT_COLOR_DEFAULT;
    if (smf && kind == TT_VISUAL_FLUTTER && n > 0 && parse_uint(t[0].s, t[0].n, 9, &x) == 0) {
        v->flashes = (int)x;
        have_flashes = 1;
        i = 1;
    }
    for (; i < n; i++) {
        tok_t a = t[i];
        int has_value = i + 1 < n;
        if (tok_is(a, "len")) {
            if (!takes_len)
                return tt_fail(why, TT_ERR_INVALID, "%s: only a streamer or a warning has a length",
                               k);
            if (have_len++)
                return tt_fail(why, TT_ERR_INVALID, "%s: len given twice", k);
            if (!has_value || parse_len(t[i + 1], v))
                return tt_fail(why, TT_ERR_INVALID,
                               "%s: bad length \"%s\": write len 3s (seconds) or len 2b (beats), "
                               "at most 3 decimals",
                               k, has_value ? tok_show(t[i + 1], b1) : "");
            i++;
        } else if (tok_is(a, "color")) {
            if (have_color++)
                return tt_fail(why, TT_ERR_INVALID, "%s: color given twice", k);
            if (!has_value || parse_color(t[i + 1], v))
                return tt_fail(why, TT_ERR_INVALID,
                               "%s: unknown color \"%s\": white, red, green, yellow, blue, "
                               "orange, cyan, magenta or #rrggbb",
                               k, has_value ? tok_show(t[i + 1], b1) : "");
            i++;
        } else if (tok_is(a, "flashes")) {
            if (kind != TT_VISUAL_FLUTTER)
                return tt_fail(why, TT_ERR_INVALID, "%s: only a flutter has flashes", k);
            if (have_flashes++)
                return tt_fail(why, TT_ERR_INVALID, "%s: flashes given twice", k);
            if (!has_value || parse_uint(t[i + 1].s, t[i + 1].n, 99, &x))
                return tt_fail(why, TT_ERR_INVALID, "flutter: flashes \"%s\": 1, 3, 5 or 7",
                               has_value ? tok_show(t[i + 1], b1) : "");
            v->flashes = (int)x;
            i++;
        } else if (a.n && a.s[0] == '"') {
            if (v->name[0])
                return tt_fail(why, TT_ERR_INVALID, "%s: two names", k);
            int rc = parse_name(a, v, why);
            if (rc)
                return rc;
        } else {
            return tt_fail(why, TT_ERR_INVALID,
                           "%s: unexpected \"%s\" (expected %scolor or a \"name\")", k,
                           tok_show(a, b1),
                           takes_len                   ? "len, "
                           : kind == TT_VISUAL_FLUTTER ? "flashes, "
                                                       : "");
        }
    }
    if (takes_len && !have_len) {
        v->len_unit = TT_VISUAL_LEN_S;
        v->len_milli = TT_VISUAL_DEFAULT_LEN_MS;
    }
    if (kind == TT_VISUAL_FLUTTER && !have_flashes)
        v->flashes = TT_VISUAL_DEFAULT_FLASHES;
    return tt_tempo_check_visual_spec(v, why);
}

typedef struct {
    tt_tempo_map_t *m;
    int line;
    char *why;
    int64_t last_tick; /* position of the previous bar/at line, or -1 */
    int32_t last_bar;
    int have_fps, have_countoff, have_start, have_pickup, have_end, start_line, pickup_line;
    tt_fps_t fps;
    int countoff, pickup;
    int32_t end_bar;
    int64_t start_frame;
    char start[MAX_TOKEN + 1];
} parser_t;

static int perr(parser_t *ps, const char *fmt, const char *a, const char *b)
{
    char msg[TT_WHY_LEN];
    snprintf(msg, sizeof msg, fmt, a, b);
    return tt_fail(ps->why, TT_ERR_INVALID, "line %d: %s", ps->line, msg);
}

/* Wraps a builder's reason with the line number. */
static int pwrap(parser_t *ps, int rc, const char *inner)
{
    return tt_fail(ps->why, rc, "line %d: %s", ps->line, inner);
}

/* "UNIT=" at the start of t: the unit, and the length of "UNIT=", or -1. */
static int parse_unit(tok_t t, int *unit, size_t *skip)
{
    static const char *names[TT_UNIT_COUNT] = {
        [TT_UNIT_Q] = "q",      [TT_UNIT_H] = "h",      [TT_UNIT_E] = "e",
        [TT_UNIT_W] = "w",      [TT_UNIT_S] = "s",      [TT_UNIT_Q_DOT] = "q.",
        [TT_UNIT_H_DOT] = "h.", [TT_UNIT_E_DOT] = "e.", [TT_UNIT_W_DOT] = "w.",
        [TT_UNIT_S_DOT] = "s.",
    };
    const char *eq = memchr(t.s, '=', t.n);
    if (!eq)
        return -1;
    size_t k = (size_t)(eq - t.s);
    for (int u = 0; u < TT_UNIT_COUNT; u++)
        if (strlen(names[u]) == k && memcmp(t.s, names[u], k) == 0) {
            *unit = u;
            *skip = k + 1;
            return 0;
        }
    return -1;
}

static int looks_like_value(tok_t t)
{
    int unit;
    size_t skip;
    return parse_unit(t, &unit, &skip) == 0;
}

/* "q=92", "q.=60", "e=30000000/326087", "q=12-4" (a frame click). */
static int parse_value(parser_t *ps, tok_t t, tt_tempo_value_t *v)
{
    char b1[MAX_TOKEN + 1];
    size_t skip;
    memset(v, 0, sizeof *v);
    if (parse_unit(t, &v->unit, &skip))
        return perr(ps, "unexpected \"%s\"%s", tok_show(t, b1),
                    ": expected a tempo like q=92, q.=60 or q=12-4 (units w h q e s, dotted "
                    "w. h. q. e. s.)");
    const char *s = t.s + skip;
    size_t n = t.n - skip;
    const char *dash = memchr(s, '-', n);
    if (dash) {
        int64_t f, e;
        size_t a = (size_t)(dash - s);
        if (parse_uint(s, a, 999, &f) || f < 1 || parse_uint(dash + 1, n - a - 1, 7, &e) ||
            n - a - 1 != 1)
            return perr(ps, "bad frame click \"%s\"%s", tok_show(t, b1),
                        ": write FRAMES-EIGHTHS, frames 1..999, eighths 0..7, e.g. q=12-4");
        v->frames8 = (int32_t)(f * 8 + e);
        return 0;
    }
    if (parse_bpm(s, n, &v->n, &v->d))
        return perr(ps, "bad tempo \"%s\"%s", tok_show(t, b1),
                    ": write q=92, q=92.5 (up to 9 decimals) or q=N/D");
    return 0;
}

/* What a bar or at line asks for, once parsed. */
typedef struct {
    int have_meter;
    tt_meter_t meter;
    int have_tempo, ramp;
    tt_tempo_value_t v;
    int named; /* TT_TEMPO_RIT / ACCEL */
    int64_t over;
    int have_free;
    int64_t until;
    int64_t resume_frame;
    int click;     /* -1: none */
    int subdivide; /* 0: none */
} clauses_t;

/* toks[i..n): [TEMPO | NAMED | FREE (allow_free)] [CLICK (allow_click)]. */
static int parse_change(parser_t *ps, tok_t *toks, int i, int n, clauses_t *c, int allow_more)
{
    char b1[MAX_TOKEN + 1], inner[TT_WHY_LEN], num[24];
    const char *after = c->have_meter ? " after the meter" : "";
    if (i < n && looks_like_value(toks[i])) {
        int rc = parse_value(ps, toks[i], &c->v);
        if (rc)
            return rc;
        c->have_tempo = 1;
        i++;
        if (i < n && tok_is(toks[i], "ramp")) {
            c->ramp = 1;
            i++;
        }
        after = " after the tempo";
    } else if (i < n && (tok_is(toks[i], "rit") || tok_is(toks[i], "accel"))) {
        c->named = tok_is(toks[i], "rit") ? TT_TEMPO_RIT : TT_TEMPO_ACCEL;
        if (i + 3 >= n)
            return perr(ps, "%s needs a target and a length: \"%s q=80 over 8\"",
                        c->named == TT_TEMPO_RIT ? "rit" : "accel",
                        c->named == TT_TEMPO_RIT ? "rit" : "accel");
        int rc = parse_value(ps, toks[i + 1], &c->v);
        if (rc)
            return rc;
        if (!tok_is(toks[i + 2], "over") ||
            parse_uint(toks[i + 3].s, toks[i + 3].n, 999, &c->over) || c->over < 1)
            return perr(ps, "bad length \"%s\"%s", tok_show(toks[i + 3], b1),
                        ": write \"over N\", N beats 1..999");
        i += 4;
        after = " after the rit/accel";
    } else if (i < n && tok_is(toks[i], "free")) {
        if (!allow_more)
            return perr(ps, "free time starts at a bar line: \"bar N free until M at TC\"%s%s", "",
                        "");
        if (i + 4 >= n || !tok_is(toks[i + 1], "until") || !tok_is(toks[i + 3], "at"))
            return perr(ps, "free time needs \"free until BAR at TIMECODE\"%s%s", "", "");
        if (parse_uint(toks[i + 2].s, toks[i + 2].n, TT_TEMPO_MAX_BAR, &c->until) || c->until < 1) {
            snprintf(num, sizeof num, "%d", TT_TEMPO_MAX_BAR);
            return perr(ps, "bad bar number \"%s\": bars are 1..%s", tok_show(toks[i + 2], b1),
                        num);
        }
        char tc[MAX_TOKEN + 1];
        tok_show(toks[i + 4], tc);
        if (toks[i + 4].n > MAX_TOKEN || tt_timecode_parse(tc, ps->fps, &c->resume_frame, inner))
            return pwrap(ps, TT_ERR_INVALID, inner);
        c->have_free = 1;
        i += 5;
        after = " after the free time";
    }
    if (i < n && tok_is(toks[i], "click") && allow_more) {
        if (i + 1 >= n || !(tok_is(toks[i + 1], "off") || tok_is(toks[i + 1], "on")))
            return perr(ps, "write \"click off\" or \"click on\"%s%s", "", "");
        c->click = tok_is(toks[i + 1], "on");
        i += 2;
        after = "";
    }
    if (i < n && tok_is(toks[i], "subdivide") && allow_more) {
        int64_t sub;
        if (i + 1 >= n || parse_uint(toks[i + 1].s, toks[i + 1].n, TT_TEMPO_MAX_SUBDIVIDE, &sub) ||
            sub < 1 || sub == 7)
            return perr(ps, "bad subdivision \"%s\"%s", i + 1 < n ? tok_show(toks[i + 1], b1) : "",
                        ": write \"subdivide N\", N 2..6 or 8 clicks a beat, 1 for off");
        c->subdivide = (int)sub;
        i += 2;
        after = "";
    }
    if (i < n) {
        if (!c->have_meter && !c->have_tempo && !c->named && !c->have_free && c->click < 0 &&
            !c->subdivide)
            return perr(ps, "unexpected \"%s\"%s", tok_show(toks[i], b1),
                        ": expected a meter like 3/4, a tempo like q=92, rit, accel, free, "
                        "click or subdivide");
        return perr(ps, "unexpected \"%s\"%s", tok_show(toks[i], b1), after);
    }
    return 0;
}

/* Adds a line's tempo clauses at tick. */
static int add_change(parser_t *ps, int64_t tick, int32_t bar, clauses_t *c)
{
    char inner[TT_WHY_LEN];
    int rc = 0;
    if (c->have_tempo)
        rc = tt_tempo_add_value(ps->m, tick, &c->v, c->ramp, inner);
    else if (c->named)
        rc = tt_tempo_add_named(ps->m, tick, c->named, (int32_t)c->over, &c->v, inner);
    else if (c->have_free)
        rc = tt_tempo_add_free(ps->m, bar, (int32_t)c->until, c->resume_frame, inner);
    if (rc == 0 && c->click >= 0)
        rc = tt_tempo_add_click(ps->m, bar, c->click, inner);
    if (rc == 0 && c->subdivide)
        rc = tt_tempo_add_subdivide(ps->m, bar, c->subdivide, inner);
    return rc ? pwrap(ps, rc, inner) : 0;
}

/* A tempo, rit or free section may not start inside a rit or free time
 * written before it (the line's own end marks are added with it). */
static int check_inside(parser_t *ps, int64_t tick, const clauses_t *c, const char *where)
{
    const tt_tempo_map_t *m = ps->m;
    if (m->nmarks < 2 || !(c->have_tempo || c->named || c->have_free))
        return 0;
    const mark_t *a = &m->marks[m->nmarks - 2], *b = &m->marks[m->nmarks - 1];
    if (!((a->kind == MARK_NAMED || a->free) && tick < b->tick))
        return 0;
    tt_bbt_t e = tt_tempo_tick_to_bbt(m, b->tick);
    char what[96];
    snprintf(what, sizeof what, "%s before it (it %s %d.%d.%d)",
             a->free ? "free time" : "rit/accel", a->free ? "resumes at" : "ends at", (int)e.bar,
             (int)e.beat, (int)e.tick);
    return perr(ps, "%s is inside the %s", where, what);
}

static int parse_bar_line(parser_t *ps, tok_t *toks, int n)
{
    char b1[MAX_TOKEN + 1], inner[TT_WHY_LEN], num[24];
    int64_t bar;
    if (n < 2)
        return perr(ps, "bar needs a number%s%s", "", "");
    if (parse_uint(toks[1].s, toks[1].n, TT_TEMPO_MAX_BAR, &bar) || bar < 1) {
        snprintf(num, sizeof num, "%d", TT_TEMPO_MAX_BAR);
        return perr(ps, "bad bar number \"%s\": bars are 1..%s", tok_show(toks[1], b1), num);
    }
    int i = 2;
    clauses_t c = {.click = -1};
    if (i < n && memchr(toks[i].s, '/', toks[i].n) && !looks_like_value(toks[i])) {
        int rc = parse_meter(toks[i], &c.meter);
        if (rc == -2) {
            snprintf(num, sizeof num, "%d", TT_TEMPO_MAX_GROUPS);
            return perr(ps, "meter \"%s\": at most %s click groups", tok_show(toks[i], b1), num);
        }
        if (rc)
            return perr(ps, "bad meter \"%s\"%s", tok_show(toks[i], b1),
                        ": write NUM/DEN, NUM/DEN in GROUPS or A+B+C/DEN");
        i++;
        if (i < n && tok_is(toks[i], "in")) {
            int64_t g;
            if (c.meter.ngroups || i + 1 >= n || parse_uint(toks[i + 1].s, toks[i + 1].n, 32, &g) ||
                g < 1 || c.meter.num % g != 0 || g > TT_TEMPO_MAX_GROUPS) {
                snprintf(num, sizeof num, "%d", (int)c.meter.num);
                return perr(ps, "bad click groups \"in %s\": the groups must divide %s beats",
                            i + 1 < n ? tok_show(toks[i + 1], b1) : "", num);
            }
            c.meter.ngroups = (int)g;
            for (int k = 0; k < g; k++)
                c.meter.groups[k] = (uint8_t)(c.meter.num / g);
            i += 2;
        }
        if (tt_tempo_check_meter_full(&c.meter, inner))
            return pwrap(ps, TT_ERR_INVALID, inner);
        c.have_meter = 1;
    }
    int rc = parse_change(ps, toks, i, n, &c, 1);
    if (rc)
        return rc;
    snprintf(num, sizeof num, "%lld", (long long)bar);
    if (!c.have_meter && !c.have_tempo && !c.named && !c.have_free && c.click < 0 && !c.subdivide)
        return perr(ps, "bar %s gives neither a meter nor a tempo%s", num, "");
    if (!ps->m) {
        if (bar != 1 || !c.have_meter || !c.have_tempo || c.ramp)
            return perr(ps, "the first bar line must be \"bar 1 METER q=BPM\" (no ramp)%s%s", "",
                        "");
        ps->m = tt_tempo_new_at(&c.meter, &c.v, ps->fps, ps->start_frame, inner);
        if (!ps->m)
            return pwrap(ps, TT_ERR_INVALID, inner);
        ps->last_tick = 0;
        ps->last_bar = 1;
        if (c.click >= 0 && (rc = tt_tempo_add_click(ps->m, 1, c.click, inner)))
            return pwrap(ps, rc, inner);
        if (c.subdivide && (rc = tt_tempo_add_subdivide(ps->m, 1, c.subdivide, inner)))
            return pwrap(ps, rc, inner);
        return 0;
    }
    tt_bbt_t pos = {.bar = (int32_t)bar, .beat = 1, .tick = 0};
    int64_t tick = tt_tempo_bbt_to_tick(ps->m, pos);
    if (bar < ps->last_bar || tick <= ps->last_tick)
        return perr(ps, "bar %s is not after the previous bar/at line%s", num,
                    ": lines must be in order, one per position");
    snprintf(b1, sizeof b1, "bar %lld", (long long)bar);
    if ((rc = check_inside(ps, tick, &c, b1)))
        return rc;
    if (c.have_meter && (rc = tt_tempo_add_meter_with(ps->m, (int32_t)bar, &c.meter, inner)))
        return pwrap(ps, rc, inner);
    if ((rc = add_change(ps, tick, (int32_t)bar, &c)))
        return rc;
    ps->last_tick = tick;
    ps->last_bar = (int32_t)bar;
    return 0;
}

static int parse_at_line(parser_t *ps, tok_t *toks, int n)
{
    char b1[MAX_TOKEN + 1], what[64];
    tt_bbt_t pos;
    if (n < 2 || parse_bbt(toks[1], &pos))
        return perr(ps, "\"at\" needs a position BAR.BEAT.TICK, got \"%s\"%s",
                    n < 2 ? "" : tok_show(toks[1], b1), "");
    if (!ps->m)
        return perr(ps, "\"at\" before \"bar 1 METER q=BPM\"%s%s", "", "");
    int32_t num, den;
    tt_tempo_meter_at(ps->m, pos.bar, &num, &den);
    if (pos.bar < 1 || pos.bar > TT_TEMPO_MAX_BAR || pos.beat < 1 || pos.beat > num ||
        pos.tick < 0 || pos.tick >= WHOLE_TICKS / den) {
        snprintf(what, sizeof what, "beats 1..%d, ticks 0..%d in %d/%d", (int)num,
                 WHOLE_TICKS / (int)den - 1, (int)num, (int)den);
        return perr(ps, "position %s is not in the bar (%s)", tok_show(toks[1], b1), what);
    }
    clauses_t c = {.click = -1};
    int rc = parse_change(ps, toks, 2, n, &c, 0);
    if (rc)
        return rc;
    if (!c.have_tempo && !c.named)
        return perr(ps, "\"at %s\" needs a tempo q=BPM%s", tok_show(toks[1], b1), "");
    int64_t tick = tt_tempo_bbt_to_tick(ps->m, pos);
    if (tick <= ps->last_tick)
        return perr(ps, "%s is not after the previous bar/at line%s", tok_show(toks[1], b1),
                    ": lines must be in order, one per position");
    if ((rc = check_inside(ps, tick, &c, tok_show(toks[1], b1))))
        return rc;
    if ((rc = add_change(ps, tick, pos.bar, &c)))
        return rc;
    ps->last_tick = tick;
    ps->last_bar = pos.bar;
    return 0;
}

/* Pass 1: the header statements (fps first of all: frame clicks and
 * timecodes in bar lines are read at it), and every keyword checked. */
static int parse_header(parser_t *ps, tok_t *toks, int n)
{
    char b1[MAX_TOKEN + 1], inner[TT_WHY_LEN];
    int64_t v;
    if (n == 0 || tok_is(toks[0], "bar") || tok_is(toks[0], "at") || tok_is(toks[0], "marker") ||
        visual_kind(toks[0]))
        return 0;
    int is_fps = tok_is(toks[0], "fps"), is_start = tok_is(toks[0], "start");
    int is_countoff = tok_is(toks[0], "countoff"), is_pickup = tok_is(toks[0], "pickup");
    int is_end = tok_is(toks[0], "end");
    if (!is_fps && !is_start && !is_countoff && !is_pickup && !is_end)
        return perr(ps, "unknown keyword \"%s\"%s", tok_show(toks[0], b1),
                    " (expected bar, at, marker, fps, start, countoff, pickup, end, "
                    "streamer, punch, flutter, warning or hit)");
    if (n != 2)
        return perr(ps, "%s takes one value%s", tok_show(toks[0], b1), "");
    if ((is_fps && ps->have_fps) || (is_start && ps->have_start) ||
        (is_countoff && ps->have_countoff) || (is_pickup && ps->have_pickup) ||
        (is_end && ps->have_end))
        return perr(ps, "%s given twice%s", tok_show(toks[0], b1), "");
    if (is_fps) {
        char name[MAX_TOKEN + 1];
        tok_show(toks[1], name);
        if (toks[1].n > MAX_TOKEN || tt_fps_parse(name, &ps->fps, inner))
            return pwrap(ps, TT_ERR_INVALID, inner);
        ps->have_fps = 1;
    } else if (is_start) {
        if (toks[1].n > MAX_TOKEN)
            return perr(ps, "start \"%s...\" is not a timecode%s", tok_show(toks[1], b1), "");
        tok_show(toks[1], ps->start);
        ps->have_start = 1;
        ps->start_line = ps->line;
    } else if (is_countoff) {
        if (parse_uint(toks[1].s, toks[1].n, TT_TEMPO_MAX_COUNTOFF, &v))
            return perr(ps, "countoff \"%s\": must be 0..8 bars%s", tok_show(toks[1], b1), "");
        ps->countoff = (int)v;
        ps->have_countoff = 1;
    } else if (is_pickup) {
        if (parse_uint(toks[1].s, toks[1].n, 31, &v))
            return perr(ps, "pickup \"%s\": must be 0..31 beats (fewer than bar 1's)%s",
                        tok_show(toks[1], b1), "");
        ps->pickup = (int)v;
        ps->have_pickup = 1;
        ps->pickup_line = ps->line;
    } else {
        char max[24];
        snprintf(max, sizeof max, "%d", TT_TEMPO_MAX_BAR);
        if (parse_uint(toks[1].s, toks[1].n, TT_TEMPO_MAX_BAR, &v) || v < 1)
            return perr(ps, "end \"%s\": the last bar, 1..%s", tok_show(toks[1], b1), max);
        ps->end_bar = (int32_t)v;
        ps->have_end = 1;
    }
    return 0;
}

static int parse_line(parser_t *ps, tok_t *toks, int n)
{
    if (n == 0)
        return 0;
    if (tok_is(toks[0], "bar"))
        return parse_bar_line(ps, toks, n);
    if (tok_is(toks[0], "at"))
        return parse_at_line(ps, toks, n);
    return 0; /* header lines: pass 1 */
}

/* Pass 3: markers, placed in the final meters. */
static int parse_marker(parser_t *ps, tok_t *toks, int n)
{
    char b1[MAX_TOKEN + 1], name[TT_TEMPO_MARKER_LEN + 2], inner[TT_WHY_LEN];
    tt_bbt_t pos;
    if (n == 0 || !tok_is(toks[0], "marker"))
        return 0;
    if (n < 3 || parse_bbt(toks[1], &pos))
        return perr(ps, "a marker is \"marker BAR.BEAT.TICK NAME\", got \"%s\"%s",
                    n < 2 ? "" : tok_show(toks[1], b1), "");
    size_t len = 0;
    name[0] = '\0';
    for (int i = 2; i < n; i++)
        if (append_words(name, &len, TT_TEMPO_MARKER_LEN + 1, toks[i]))
            return perr(ps, "marker name longer than %s bytes%s", "64", "");
    int rc = tt_tempo_add_marker(ps->m, pos, name, inner);
    return rc ? pwrap(ps, rc, inner) : 0;
}

/* Pass 3: a visual marker, "KIND at POS {OPTION} [NAME]". */
static int parse_visual_line(parser_t *ps, tok_t *toks, int n)
{
    char inner[TT_WHY_LEN];
    int kind = n ? visual_kind(toks[0]) : 0;
    if (!kind)
        return 0;
    tt_visual_spec_t v;
    tt_bbt_t pos;
    if (n < 3 || !tok_is(toks[1], "at") || parse_pos(toks[2], &pos))
        return perr(ps, "write \"%s at BAR.BEAT[.TICK] ...\"%s", tt_visual_kind_name(kind),
                    n >= 3 && tok_is(toks[1], "at") ? ", e.g. 17.1 or 33.2.480" : "");
    if (visual_words(kind, toks + 3, n - 3, 0, &v, inner))
        return pwrap(ps, TT_ERR_INVALID, inner);
    v.pos = pos;
    int rc = tt_tempo_add_visual(ps->m, &v, inner);
    return rc ? pwrap(ps, rc, inner) : 0;
}

/* Splits s[0..n) into words at spaces and tabs; a word that starts with
 * '"' runs to the next '"' followed by a blank or the end (or to the end),
 * blanks included. Returns 0 with *count words; TOK_BYTE with *at the
 * offset of a byte outside printable ASCII; TOK_MANY with toks[max] the
 * word that did not fit. toks holds max + 1. */
enum { TOK_BYTE = -1, TOK_MANY = -2 };
static int tokenize(const char *s, size_t n, tok_t *toks, int max, int *count, size_t *at)
{
    int k = 0;
    *count = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == ' ' || s[i] == '\t') {
            i++;
            continue;
        }
        size_t b = i, e = n;
        if (s[i] == '"') {
            for (size_t j = i + 1; j < n; j++)
                if (s[j] == '"' && (j + 1 == n || s[j + 1] == ' ' || s[j + 1] == '\t')) {
                    e = j + 1;
                    break;
                }
            while (e > b + 1 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
                e--;
        } else {
            for (e = i; e < n && s[e] != ' ' && s[e] != '\t';)
                e++;
        }
        for (size_t j = b; j < e; j++) {
            unsigned char c = (unsigned char)s[j];
            if ((c < 0x20 || c >= 0x7f) && c != '\t') {
                *at = j;
                return TOK_BYTE;
            }
        }
        toks[k] = (tok_t){s + b, e - b};
        if (k == max)
            return TOK_MANY;
        *count = ++k;
        i = e;
    }
    return 0;
}

/* 1 if the '#' at h in line[0..n) is a color ("color #ff8800") on a line
 * of a visual marker, not a comment. */
static int color_hash(const char *line, size_t n, size_t h)
{
    size_t w = 0;
    while (w < n && (line[w] == ' ' || line[w] == '\t'))
        w++;
    size_t we = w;
    while (we < n && line[we] != ' ' && line[we] != '\t')
        we++;
    if (!visual_kind((tok_t){line + w, we - w}))
        return 0;
    if (h + 7 > n || (h + 7 < n && line[h + 7] != ' ' && line[h + 7] != '\t'))
        return 0;
    for (size_t i = h + 1; i < h + 7; i++)
        if (!is_hex(line[i]))
            return 0;
    size_t q = h;
    while (q > 0 && (line[q - 1] == ' ' || line[q - 1] == '\t'))
        q--;
    return q < h && q >= 5 && memcmp(line + q - 5, "color", 5) == 0 &&
           (q == 5 || line[q - 6] == ' ' || line[q - 6] == '\t');
}

/* Runs one pass over the lines. */
static int run_pass(parser_t *ps, const char *text, size_t len, int pass)
{
    size_t pos = 0;
    int rc = 0;
    ps->line = 0;
    while (pos < len && rc == 0) {
        size_t eol = pos;
        while (eol < len && text[eol] != '\n')
            eol++;
        ps->line++;
        if (ps->line > TT_TEMPO_MAX_LINES)
            return tt_fail(ps->why, TT_ERR_TOO_BIG, "line %d: more than %d lines", ps->line,
                           TT_TEMPO_MAX_LINES);
        size_t end = eol;
        if (end > pos && text[end - 1] == '\r')
            end--;
        for (size_t h = pos; h < end; h++)
            if (text[h] == '#' && !color_hash(text + pos, end - pos, h - pos)) {
                end = h;
                break;
            }
        tok_t toks[MAX_TOKENS + 1];
        int n = 0;
        size_t at = 0;
        int t = tokenize(text + pos, end - pos, toks, MAX_TOKENS, &n, &at);
        if (t == TOK_BYTE) {
            char hex[8];
            snprintf(hex, sizeof hex, "0x%02x", (unsigned char)text[pos + at]);
            rc = perr(ps, "unexpected byte %s%s", hex, " (text is ASCII)");
        } else if (t == TOK_MANY) {
            char b1[MAX_TOKEN + 1];
            rc =
                perr(ps, "unexpected \"%s\": too many words%s", tok_show(toks[MAX_TOKENS], b1), "");
        }
        if (rc == 0)
            rc = pass == 1                        ? parse_header(ps, toks, n)
                 : pass == 2                      ? parse_line(ps, toks, n)
                 : n && tok_is(toks[0], "marker") ? parse_marker(ps, toks, n)
                                                  : parse_visual_line(ps, toks, n);
        pos = eol + 1;
    }
    return rc;
}

int tt_tempo_visual_parse(const char *text, size_t len, tt_visual_spec_t *out, char *why)
{
    tok_t toks[MAX_TOKENS + 1];
    int n = 0;
    size_t at = 0;
    memset(out, 0, sizeof *out);
    int t = tokenize(text, len, toks, MAX_TOKENS, &n, &at);
    if (t == TOK_BYTE)
        return tt_fail(why, TT_ERR_INVALID, "not a visual marker: byte 0x%02x at %zu",
                       (unsigned char)text[at], at);
    if (t == TOK_MANY)
        return tt_fail(why, TT_ERR_INVALID, "not a visual marker: more than %d words", MAX_TOKENS);
    int kind = n ? visual_kind(toks[0]) : 0;
    if (!kind)
        return tt_fail(why, TT_ERR_INVALID,
                       "not a visual marker: the first word is none of streamer, punch, "
                       "flutter, warning, hit");
    int rc = visual_words(kind, toks + 1, n - 1, 1, out, why);
    if (rc == 0 || kind != TT_VISUAL_HIT || n < 2)
        return rc;
    /* "hit door slam": the rest of the text is the name. */
    tt_visual_spec_t v = {.kind = TT_VISUAL_HIT, .color = TT_COLOR_DEFAULT};
    size_t nl = 0;
    for (int i = 1; i < n; i++)
        if (append_words(v.name, &nl, sizeof v.name, toks[i]))
            return rc;
    if (tt_tempo_check_visual_spec(&v, NULL))
        return rc;
    *out = v;
    return 0;
}

tt_tempo_map_t *tt_tempo_parse_text(const char *text, size_t len, char *why)
{
    if (len > TT_TEMPO_MAX_TEXT) {
        tt_fail(why, TT_ERR_TOO_BIG, "tempo map text is %zu bytes; at most %d", len,
                TT_TEMPO_MAX_TEXT);
        return NULL;
    }
    parser_t ps = {.why = why, .last_tick = -1, .fps = TT_TEMPO_DEFAULT_FPS};
    int rc = run_pass(&ps, text, len, 1);
    if (rc == 0 && ps.have_start) {
        char inner[TT_WHY_LEN];
        if (tt_timecode_parse(ps.start, ps.fps, &ps.start_frame, inner)) {
            ps.line = ps.start_line;
            rc = pwrap(&ps, TT_ERR_INVALID, inner);
        }
    }
    if (rc == 0)
        rc = run_pass(&ps, text, len, 2);
    if (rc == 0 && !ps.m)
        rc = tt_fail(why, TT_ERR_INVALID, "no bar lines: a map starts with \"bar 1 METER q=BPM\"");
    if (rc == 0) {
        /* Visual markers are checked against the end bar. */
        ps.m->countoff = ps.countoff;
        ps.m->end_bar = ps.end_bar;
        rc = run_pass(&ps, text, len, 3);
    }
    if (rc == 0 && tt_tempo_set_pickup(ps.m, ps.pickup) != 0) {
        char b1[24], b2[24];
        ps.line = ps.pickup_line;
        snprintf(b1, sizeof b1, "%d", ps.pickup);
        snprintf(b2, sizeof b2, "%d", (int)ps.m->meters[0].mt.num);
        rc = perr(&ps, "pickup %s: must be fewer beats than bar 1's %s", b1, b2);
    }
    if (rc == 0) {
        ps.m->countoff = ps.countoff;
        ps.m->end_bar = ps.end_bar;
        return ps.m;
    }
    tt_tempo_destroy(&ps.m);
    return NULL;
}
