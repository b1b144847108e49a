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

/* ---- text: formatting ---- */

static size_t put_meter(char *p, size_t room, const tt_meter_t *mt)
{
    if (!mt->ngroups)
        return (size_t)snprintf(p, room, " %d/%d", (int)mt->num, (int)mt->den);
    int equal = 1;
    for (int i = 1; i < mt->ngroups; i++)
        equal &= mt->groups[i] == mt->groups[0];
    if (equal)
        return (size_t)snprintf(p, room, " %d/%d in %d", (int)mt->num, (int)mt->den, mt->ngroups);
    size_t len = 0;
    for (int i = 0; i < mt->ngroups; i++)
        len += (size_t)snprintf(p + len, room - len, "%s%d", i ? "+" : " ", (int)mt->groups[i]);
    return len + (size_t)snprintf(p + len, room - len, "/%d", (int)mt->den);
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
    /* Every line is at most 128 bytes and holds at least one event. */
    size_t cap = 256 + 128 * (m->nmeters + m->nmarks + m->nswitches + m->nsubdivs + m->nmarkers);
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
    if (n == 0 || tok_is(toks[0], "bar") || tok_is(toks[0], "at") || tok_is(toks[0], "marker"))
        return 0;
    int is_fps = tok_is(toks[0], "fps"), is_start = tok_is(toks[0], "start");
    int is_countoff = tok_is(toks[0], "countoff"), is_pickup = tok_is(toks[0], "pickup");
    int is_end = tok_is(toks[0], "end");
    if (!is_fps && !is_start && !is_countoff && !is_pickup && !is_end)
        return perr(ps, "unknown keyword \"%s\"%s", tok_show(toks[0], b1),
                    " (expected bar, at, marker, fps, start, countoff, pickup or end)");
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
    for (int i = 2; i < n; i++) {
        if (len + (i > 2) + toks[i].n > TT_TEMPO_MARKER_LEN)
            return perr(ps, "marker name longer than %s bytes%s", "64", "");
        if (i > 2)
            name[len++] = ' ';
        memcpy(name + len, toks[i].s, toks[i].n);
        len += toks[i].n;
    }
    name[len] = '\0';
    int rc = tt_tempo_add_marker(ps->m, pos, name, inner);
    return rc ? pwrap(ps, rc, inner) : 0;
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
        const char *hash = memchr(text + pos, '#', end - pos);
        if (hash)
            end = (size_t)(hash - text);
        else if (end > pos && text[end - 1] == '\r')
            end--;
        tok_t toks[MAX_TOKENS];
        int n = 0;
        for (size_t i = pos; i < end && rc == 0;) {
            unsigned char c = (unsigned char)text[i];
            if (c == ' ' || c == '\t') {
                i++;
                continue;
            }
            size_t s = i;
            while (i < end && text[i] != ' ' && text[i] != '\t') {
                c = (unsigned char)text[i];
                if (c < 0x20 || c >= 0x7f) {
                    char hex[8];
                    snprintf(hex, sizeof hex, "0x%02x", c);
                    rc = perr(ps, "unexpected byte %s%s", hex, " (text is ASCII)");
                    break;
                }
                i++;
            }
            if (rc)
                break;
            if (n == MAX_TOKENS) {
                char b1[MAX_TOKEN + 1];
                rc = perr(ps, "unexpected \"%s\": too many words%s",
                          tok_show((tok_t){text + s, i - s}, b1), "");
                break;
            }
            toks[n++] = (tok_t){text + s, i - s};
        }
        if (rc == 0)
            rc = pass == 1   ? parse_header(ps, toks, n)
                 : pass == 2 ? parse_line(ps, toks, n)
                             : parse_marker(ps, toks, n);
        pos = eol + 1;
    }
    return rc;
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
    if (rc == 0)
        rc = run_pass(&ps, text, len, 3);
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
