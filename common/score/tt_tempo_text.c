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

static int put_bpm(char *p, size_t room, const mark_t *mk)
{
    if (!tt_tempo_decimal_exact(mk->d))
        return snprintf(p, room, " q=%lld/%lld%s", (long long)mk->n, (long long)mk->d,
                        mk->ramp ? " ramp" : "");
    int64_t whole = mk->n / mk->d;
    int64_t frac = (mk->n % mk->d) * (DEC_SCALE / mk->d);
    if (frac == 0)
        return snprintf(p, room, " q=%lld%s", (long long)whole, mk->ramp ? " ramp" : "");
    char digits[16];
    snprintf(digits, sizeof digits, "%09lld", (long long)frac);
    size_t n = strlen(digits);
    while (n > 0 && digits[n - 1] == '0')
        digits[--n] = '\0';
    return snprintf(p, room, " q=%lld.%s%s", (long long)whole, digits, mk->ramp ? " ramp" : "");
}

int tt_tempo_format_text(const tt_tempo_map_t *m, char **out, char *why)
{
    /* Each line is at most 47 bytes (see TT_TEMPO_MAX_EVENTS); 64 is ample. */
    size_t cap = 128 + 64 * (m->nmeters + m->nmarks);
    char *buf = malloc(cap);
    *out = NULL;
    if (!buf)
        return tt_fail(why, TT_ERR_NOMEM, "formatting tempo map: out of memory");
    size_t len = 0;
    char tc[TT_TIMECODE_LEN];
    tt_timecode_format(m->start_frame, m->fps, tc);
    len += snprintf(buf + len, cap - len, "fps %s\nstart %s\ncountoff %d\n", tt_fps_name(m->fps),
                    tc, m->countoff);
    size_t i = 0, j = 0;
    while (i < m->nmeters || j < m->nmarks) {
        const meter_t *mt = i < m->nmeters ? &m->meters[i] : NULL;
        const mark_t *mk = j < m->nmarks ? &m->marks[j] : NULL;
        if (mt && (!mk || mt->tick <= mk->tick)) {
            len += snprintf(buf + len, cap - len, "bar %d %d/%d", (int)mt->bar, (int)mt->num,
                            (int)mt->den);
            if (mk && mk->tick == mt->tick) {
                len += put_bpm(buf + len, cap - len, mk);
                j++;
            }
            i++;
        } else {
            tt_bbt_t p = tt_tempo_tick_to_bbt(m, mk->tick);
            if (p.beat == 1 && p.tick == 0)
                len += snprintf(buf + len, cap - len, "bar %d", (int)p.bar);
            else
                len += snprintf(buf + len, cap - len, "at %d.%d.%d", (int)p.bar, (int)p.beat,
                                (int)p.tick);
            len += put_bpm(buf + len, cap - len, mk);
            j++;
        }
        len += snprintf(buf + len, cap - len, "\n");
    }
    *out = buf;
    return 0;
}

/* ---- text: parsing ---- */

#define MAX_TOKENS 6
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

/* "4/4" */
static int parse_meter(tok_t t, int32_t *num, int32_t *den)
{
    const char *slash = memchr(t.s, '/', t.n);
    int64_t a, b;
    if (!slash)
        return -1;
    size_t k = (size_t)(slash - t.s);
    if (parse_uint(t.s, k, 999, &a) || parse_uint(slash + 1, t.n - k - 1, 999, &b))
        return -1;
    *num = (int32_t)a;
    *den = (int32_t)b;
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
    int have_fps, have_countoff, have_start, start_line;
    tt_fps_t fps;
    int countoff;
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

/* Optional "q=BPM [ramp]" at toks[i..n). */
static int parse_tempo_tail(parser_t *ps, tok_t *toks, int i, int n, int *have, int64_t *bn,
                            int64_t *bd, int *ramp)
{
    char b1[MAX_TOKEN + 1];
    *have = 0;
    *ramp = 0;
    if (i == n)
        return 0;
    if (toks[i].n < 2 || memcmp(toks[i].s, "q=", 2) != 0)
        return perr(ps, "unexpected \"%s\"%s", tok_show(toks[i], b1),
                    ": expected a meter like 3/4 or a tempo like q=92");
    if (parse_bpm(toks[i].s + 2, toks[i].n - 2, bn, bd))
        return perr(ps, "bad tempo \"%s\"%s", tok_show(toks[i], b1),
                    ": write q=92, q=92.5 (up to 9 decimals) or q=N/D");
    *have = 1;
    i++;
    if (i < n && tok_is(toks[i], "ramp")) {
        *ramp = 1;
        i++;
    }
    if (i < n)
        return perr(ps, "unexpected \"%s\" after the tempo%s", tok_show(toks[i], b1), "");
    return 0;
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
    int have_meter = 0;
    int32_t mnum = 0, mden = 0;
    if (i < n && memchr(toks[i].s, '/', toks[i].n) && !(toks[i].n >= 2 && toks[i].s[0] == 'q')) {
        if (parse_meter(toks[i], &mnum, &mden))
            return perr(ps, "bad meter \"%s\"%s", tok_show(toks[i], b1), ": write NUM/DEN");
        if (tt_tempo_check_meter(mnum, mden, inner))
            return pwrap(ps, TT_ERR_INVALID, inner);
        have_meter = 1;
        i++;
    }
    int have_tempo, ramp, rc;
    int64_t bn = 0, bd = 1;
    if ((rc = parse_tempo_tail(ps, toks, i, n, &have_tempo, &bn, &bd, &ramp)))
        return rc;
    snprintf(num, sizeof num, "%lld", (long long)bar);
    if (!have_meter && !have_tempo)
        return perr(ps, "bar %s gives neither a meter nor a tempo%s", num, "");
    if (!ps->m) {
        if (bar != 1 || !have_meter || !have_tempo || ramp)
            return perr(ps, "the first bar line must be \"bar 1 METER q=BPM\" (no ramp)%s%s", "",
                        "");
        ps->m = tt_tempo_new(mnum, mden, bn, bd, inner);
        if (!ps->m)
            return pwrap(ps, TT_ERR_INVALID, inner);
        ps->last_tick = 0;
        ps->last_bar = 1;
        return 0;
    }
    tt_bbt_t pos = {.bar = (int32_t)bar, .beat = 1, .tick = 0};
    int64_t tick = tt_tempo_bbt_to_tick(ps->m, pos);
    if (bar < ps->last_bar || tick <= ps->last_tick)
        return perr(ps, "bar %s is not after the previous bar/at line%s", num,
                    ": lines must be in order, one per position");
    if (have_meter && (rc = tt_tempo_add_meter(ps->m, (int32_t)bar, mnum, mden, inner)))
        return pwrap(ps, rc, inner);
    if (have_tempo && (rc = tt_tempo_add_tempo(ps->m, tick, bn, bd, ramp, inner)))
        return pwrap(ps, rc, inner);
    ps->last_tick = tick;
    ps->last_bar = (int32_t)bar;
    return 0;
}

static int parse_at_line(parser_t *ps, tok_t *toks, int n)
{
    char b1[MAX_TOKEN + 1], inner[TT_WHY_LEN], what[64];
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
    int have_tempo, ramp, rc;
    int64_t bn = 0, bd = 1;
    if ((rc = parse_tempo_tail(ps, toks, 2, n, &have_tempo, &bn, &bd, &ramp)))
        return rc;
    if (!have_tempo)
        return perr(ps, "\"at %s\" needs a tempo q=BPM%s", tok_show(toks[1], b1), "");
    int64_t tick = tt_tempo_bbt_to_tick(ps->m, pos);
    if (tick <= ps->last_tick)
        return perr(ps, "%s is not after the previous bar/at line%s", tok_show(toks[1], b1),
                    ": lines must be in order, one per position");
    if ((rc = tt_tempo_add_tempo(ps->m, tick, bn, bd, ramp, inner)))
        return pwrap(ps, rc, inner);
    ps->last_tick = tick;
    ps->last_bar = pos.bar;
    return 0;
}

static int parse_line(parser_t *ps, tok_t *toks, int n)
{
    char b1[MAX_TOKEN + 1], inner[TT_WHY_LEN];
    int64_t v;
    if (n == 0)
        return 0;
    if (tok_is(toks[0], "bar"))
        return parse_bar_line(ps, toks, n);
    if (tok_is(toks[0], "at"))
        return parse_at_line(ps, toks, n);
    int is_fps = tok_is(toks[0], "fps"), is_start = tok_is(toks[0], "start");
    int is_countoff = tok_is(toks[0], "countoff");
    if (!is_fps && !is_start && !is_countoff)
        return perr(ps, "unknown keyword \"%s\"%s", tok_show(toks[0], b1),
                    " (expected bar, at, fps, start or countoff)");
    if (n != 2)
        return perr(ps, "%s takes one value%s", tok_show(toks[0], b1), "");
    if ((is_fps && ps->have_fps) || (is_start && ps->have_start) ||
        (is_countoff && ps->have_countoff))
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
    } else {
        if (parse_uint(toks[1].s, toks[1].n, TT_TEMPO_MAX_COUNTOFF, &v))
            return perr(ps, "countoff \"%s\": must be 0..8 bars%s", tok_show(toks[1], b1), "");
        ps->countoff = (int)v;
        ps->have_countoff = 1;
    }
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
    size_t pos = 0;
    int rc = 0;
    while (pos < len && rc == 0) {
        size_t eol = pos;
        while (eol < len && text[eol] != '\n')
            eol++;
        ps.line++;
        if (ps.line > TT_TEMPO_MAX_LINES) {
            rc = tt_fail(why, TT_ERR_TOO_BIG, "line %d: more than %d lines", ps.line,
                         TT_TEMPO_MAX_LINES);
            break;
        }
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
                    rc = perr(&ps, "unexpected byte %s%s", hex, " (text is ASCII)");
                    break;
                }
                i++;
            }
            if (rc)
                break;
            if (n == MAX_TOKENS) {
                char b1[MAX_TOKEN + 1];
                rc = perr(&ps, "unexpected \"%s\": too many words%s",
                          tok_show((tok_t){text + s, i - s}, b1), "");
                break;
            }
            toks[n++] = (tok_t){text + s, i - s};
        }
        if (rc == 0)
            rc = parse_line(&ps, toks, n);
        pos = eol + 1;
    }
    if (rc == 0 && !ps.m)
        rc = tt_fail(why, TT_ERR_INVALID, "no bar lines: a map starts with \"bar 1 METER q=BPM\"");
    if (rc == 0 && ps.have_start) {
        int64_t frame;
        char inner[TT_WHY_LEN];
        if (tt_timecode_parse(ps.start, ps.fps, &frame, inner)) {
            ps.line = ps.start_line;
            rc = pwrap(&ps, TT_ERR_INVALID, inner);
        } else {
            ps.m->start_frame = frame;
        }
    }
    if (rc == 0) {
        ps.m->fps = ps.fps;
        ps.m->countoff = ps.countoff;
        return ps.m;
    }
    tt_tempo_destroy(&ps.m);
    return NULL;
}

int64_t tt_tempo_countoff(const tt_tempo_map_t *m, int32_t from_bar, tt_tempo_countoff_t *out)
{
    tt_bbt_t b1 = {from_bar, 1, 0}, next_bar = {from_bar + 1, 1, 0};
    out->c_from = tt_tempo_bbt_to_ns(m, b1);
    int64_t bar_end = tt_tempo_bbt_to_ns(m, next_bar);
    out->beats_per_bar = 1;
    out->beat_ns = bar_end - out->c_from;
    tt_click_t c, second;
    if (tt_tempo_next_click(m, out->c_from, &c) == 0 && c.beats > 1) {
        out->beats_per_bar = c.beats;
        if (tt_tempo_next_click(m, c.ns + 1, &second) == 0)
            out->beat_ns = second.ns - c.ns;
    }
    out->clicks = tt_tempo_countoff_bars(m) * out->beats_per_bar;
    return (int64_t)out->clicks * out->beat_ns;
}
