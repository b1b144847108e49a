/* tt_tempo: tempo map storage, conversions, text format.
 *
 * The map is two sorted arrays: meter changes (by bar, with the tick of each
 * bar line cached) and tempo marks (by tick). A tempo segment runs from one
 * mark to the next; it is a ramp when the next mark is a ramp mark. Each mark
 * caches its time (long double, accumulated once when the mark is appended)
 * and the slope of the segment it starts, so converting a position costs one
 * binary search and one closed form evaluated from the segment's own start:
 * no stepping through the cue, nothing that drifts.
 *
 * Tempos are exact fractions (bpm = n / d) so the text form round-trips
 * without floating-point printing or locale-dependent parsing; the math uses
 * n / d in long double.
 */
#include "tt_tempo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_error.h"

#define WHOLE_TICKS (4 * TT_TEMPO_PPQ) /* ticks in a whole note */
/* ns per tick at 1 quarter per minute: 60e9 / 960. */
#define NS_TICK_BPM 62500000.0L
#define MAX_TERM INT64_C(1000000000000000) /* bpm fraction inputs */
#define MAX_FRACTION_TERM INT64_C(1000000000)
#define DEC_SCALE INT64_C(1000000000) /* 9 decimals */

typedef struct {
    int32_t bar, num, den;
    int64_t tick; /* tick of the bar line where this meter starts */
} meter_t;

typedef struct {
    int64_t tick;
    int64_t n, d; /* bpm = n / d, reduced */
    int ramp;     /* the segment ending here is a ramp from the previous mark */
    long double bpm;
    long double ns; /* time of this mark from tick 0 */
    long double k;  /* slope (bpm per tick) of the segment starting here */
} mark_t;

struct tt_tempo_map {
    meter_t *meters;
    size_t nmeters, cap_meters;
    mark_t *marks;
    size_t nmarks, cap_marks;
    int countoff;
    int64_t start_frame;
    tt_fps_t fps;
};

/* ---- small helpers ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

static int64_t clamp_tick(int64_t t)
{
    if (t > TT_TEMPO_TICK_LIMIT)
        return TT_TEMPO_TICK_LIMIT;
    if (t < -TT_TEMPO_TICK_LIMIT)
        return -TT_TEMPO_TICK_LIMIT;
    return t;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

static int64_t beat_ticks(const meter_t *mt)
{
    return WHOLE_TICKS / mt->den;
}

static int64_t bar_ticks(const meter_t *mt)
{
    return (int64_t)mt->num * (WHOLE_TICKS / mt->den);
}

static int valid_den(int32_t den)
{
    return den == 1 || den == 2 || den == 4 || den == 8 || den == 16 || den == 32;
}

/* 1 if d divides 10^9, i.e. n / d prints exactly with at most 9 decimals. */
static int decimal_exact(int64_t d)
{
    return DEC_SCALE % d == 0;
}

/* The meter in force at tick t (the first one before bar 1). */
static const meter_t *meter_by_tick(const tt_tempo_map_t *m, int64_t t)
{
    size_t lo = 0, hi = m->nmeters;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->meters[mid].tick <= t)
            lo = mid;
        else
            hi = mid;
    }
    return &m->meters[lo];
}

static const meter_t *meter_by_bar(const tt_tempo_map_t *m, int64_t bar)
{
    size_t lo = 0, hi = m->nmeters;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->meters[mid].bar <= bar)
            lo = mid;
        else
            hi = mid;
    }
    return &m->meters[lo];
}

/* Index of the mark whose segment holds tick t >= 0. */
static size_t mark_by_tick(const tt_tempo_map_t *m, int64_t t)
{
    size_t lo = 0, hi = m->nmarks;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->marks[mid].tick <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static size_t mark_by_ns(const tt_tempo_map_t *m, long double ns)
{
    size_t lo = 0, hi = m->nmarks;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->marks[mid].ns <= ns)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Time (ns) from a mark to dt ticks after it, within its segment. */
static long double seg_ns(const mark_t *mk, long double dt)
{
    if (mk->k == 0.0L)
        return dt * NS_TICK_BPM / mk->bpm;
    return NS_TICK_BPM / mk->k * log1pl(mk->k * dt / mk->bpm);
}

/* Inverse of seg_ns: ticks (fractional) from a mark after dns ns. */
static long double seg_ticks(const mark_t *mk, long double dns)
{
    if (mk->k == 0.0L)
        return dns * mk->bpm / NS_TICK_BPM;
    return mk->bpm / mk->k * expm1l(mk->k * dns / NS_TICK_BPM);
}

static long double tick_ns_exact(const tt_tempo_map_t *m, int64_t t)
{
    if (t < 0)
        return (long double)t * NS_TICK_BPM / m->marks[0].bpm;
    const mark_t *mk = &m->marks[mark_by_tick(m, t)];
    return mk->ns + seg_ns(mk, (long double)(t - mk->tick));
}

/* ---- building ---- */

/* Reduces n / d and checks it is a tempo the map and its text can hold. */
static int check_bpm(int64_t *n, int64_t *d, char *why)
{
    if (*n < 1 || *d < 1 || *n > MAX_TERM || *d > MAX_TERM)
        return tt_fail(why, TT_ERR_INVALID, "tempo %lld/%lld: terms must be 1..1e15", (long long)*n,
                       (long long)*d);
    int64_t g = gcd64(*n, *d);
    *n /= g;
    *d /= g;
    if (*n < TT_TEMPO_MIN_BPM * *d || *n > TT_TEMPO_MAX_BPM * *d)
        return tt_fail(why, TT_ERR_INVALID, "tempo %.6g is outside %d..%d quarter notes per minute",
                       (double)*n / (double)*d, TT_TEMPO_MIN_BPM, TT_TEMPO_MAX_BPM);
    if (!decimal_exact(*d) && (*n > MAX_FRACTION_TERM || *d > MAX_FRACTION_TERM))
        return tt_fail(why, TT_ERR_INVALID, "tempo %lld/%lld: a fraction needs terms <= 1000000000",
                       (long long)*n, (long long)*d);
    return 0;
}

static int check_meter(int32_t num, int32_t den, char *why)
{
    if (num < 1 || num > 32)
        return tt_fail(why, TT_ERR_INVALID, "meter %d/%d: numerator must be 1..32", (int)num,
                       (int)den);
    if (!valid_den(den))
        return tt_fail(why, TT_ERR_INVALID, "meter %d/%d: denominator must be 1, 2, 4, 8, 16 or 32",
                       (int)num, (int)den);
    return 0;
}

static int grow(void **arr, size_t *cap, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

tt_tempo_map_t *tt_tempo_new(int32_t num, int32_t den, int64_t bpm_num, int64_t bpm_den, char *why)
{
    if (check_meter(num, den, why) || check_bpm(&bpm_num, &bpm_den, why))
        return NULL;
    tt_tempo_map_t *m = calloc(1, sizeof *m);
    if (!m) {
        tt_fail(why, TT_ERR_NOMEM, "tempo map: out of memory");
        return NULL;
    }
    if (grow((void **)&m->meters, &m->cap_meters, sizeof(meter_t)) ||
        grow((void **)&m->marks, &m->cap_marks, sizeof(mark_t))) {
        tt_tempo_destroy(&m);
        tt_fail(why, TT_ERR_NOMEM, "tempo map: out of memory");
        return NULL;
    }
    m->meters[0] = (meter_t){.bar = 1, .num = num, .den = den, .tick = 0};
    m->nmeters = 1;
    m->marks[0] = (mark_t){.tick = 0,
                           .n = bpm_num,
                           .d = bpm_den,
                           .ramp = 0,
                           .bpm = (long double)bpm_num / (long double)bpm_den,
                           .ns = 0.0L,
                           .k = 0.0L};
    m->nmarks = 1;
    m->fps = TT_TEMPO_DEFAULT_FPS;
    return m;
}

static int room_for_event(const tt_tempo_map_t *m, char *why)
{
    if (m->nmeters + m->nmarks >= TT_TEMPO_MAX_EVENTS)
        return tt_fail(why, TT_ERR_TOO_BIG, "more than %d meter changes and tempo marks",
                       TT_TEMPO_MAX_EVENTS);
    return 0;
}

int tt_tempo_add_meter(tt_tempo_map_t *m, int32_t bar, int32_t num, int32_t den, char *why)
{
    int rc = check_meter(num, den, why);
    if (rc)
        return rc;
    const meter_t *last = &m->meters[m->nmeters - 1];
    if (bar <= last->bar)
        return tt_fail(why, TT_ERR_INVALID, "meter change at bar %d: must come after bar %d",
                       (int)bar, (int)last->bar);
    if (bar > TT_TEMPO_MAX_BAR)
        return tt_fail(why, TT_ERR_INVALID, "meter change at bar %d: beyond bar %d", (int)bar,
                       TT_TEMPO_MAX_BAR);
    if ((rc = room_for_event(m, why)))
        return rc;
    if (m->nmeters == m->cap_meters && grow((void **)&m->meters, &m->cap_meters, sizeof(meter_t)))
        return tt_fail(why, TT_ERR_NOMEM, "tempo map: out of memory");
    last = &m->meters[m->nmeters - 1];
    int64_t tick = last->tick + (int64_t)(bar - last->bar) * bar_ticks(last);
    m->meters[m->nmeters++] = (meter_t){.bar = bar, .num = num, .den = den, .tick = tick};
    return 0;
}

int tt_tempo_add_tempo(tt_tempo_map_t *m, int64_t tick, int64_t bpm_num, int64_t bpm_den, int ramp,
                       char *why)
{
    int rc = check_bpm(&bpm_num, &bpm_den, why);
    if (rc)
        return rc;
    mark_t *prev = &m->marks[m->nmarks - 1];
    if (tick <= prev->tick)
        return tt_fail(why, TT_ERR_INVALID, "tempo mark at tick %lld: must come after tick %lld",
                       (long long)tick, (long long)prev->tick);
    if (tick > TT_TEMPO_TICK_LIMIT || tt_tempo_tick_to_bbt(m, tick).bar > TT_TEMPO_MAX_BAR)
        return tt_fail(why, TT_ERR_INVALID, "tempo mark at tick %lld: beyond bar %d",
                       (long long)tick, TT_TEMPO_MAX_BAR);
    if ((rc = room_for_event(m, why)))
        return rc;
    if (m->nmarks == m->cap_marks && grow((void **)&m->marks, &m->cap_marks, sizeof(mark_t)))
        return tt_fail(why, TT_ERR_NOMEM, "tempo map: out of memory");
    prev = &m->marks[m->nmarks - 1];
    mark_t mk = {.tick = tick,
                 .n = bpm_num,
                 .d = bpm_den,
                 .ramp = ramp ? 1 : 0,
                 .bpm = (long double)bpm_num / (long double)bpm_den,
                 .k = 0.0L};
    long double len = (long double)(tick - prev->tick);
    /* The previous segment becomes a ramp ending here; its end time is
     * computed from its own start, once. */
    prev->k = mk.ramp ? (mk.bpm - prev->bpm) / len : 0.0L;
    mk.ns = prev->ns + seg_ns(prev, len);
    m->marks[m->nmarks++] = mk;
    return 0;
}

int tt_tempo_set_countoff(tt_tempo_map_t *m, int bars)
{
    if (bars < 0 || bars > TT_TEMPO_MAX_COUNTOFF)
        return TT_ERR_INVALID;
    m->countoff = bars;
    return 0;
}

int tt_tempo_set_start(tt_tempo_map_t *m, int64_t frame, tt_fps_t fps)
{
    if ((int)fps < TT_FPS_23_976 || (int)fps > TT_FPS_30)
        return TT_ERR_INVALID;
    if (frame < 0 || frame >= tt_timecode_frames_per_day(fps))
        return TT_ERR_INVALID;
    m->start_frame = frame;
    m->fps = fps;
    return 0;
}

void tt_tempo_destroy(tt_tempo_map_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_tempo_map_t *m = *self_p;
    free(m->meters);
    free(m->marks);
    free(m);
    *self_p = NULL;
}

int tt_tempo_equal(const tt_tempo_map_t *a, const tt_tempo_map_t *b)
{
    if (a->countoff != b->countoff || a->start_frame != b->start_frame || a->fps != b->fps ||
        a->nmeters != b->nmeters || a->nmarks != b->nmarks)
        return 0;
    for (size_t i = 0; i < a->nmeters; i++) {
        const meter_t *x = &a->meters[i], *y = &b->meters[i];
        if (x->bar != y->bar || x->num != y->num || x->den != y->den)
            return 0;
    }
    for (size_t i = 0; i < a->nmarks; i++) {
        const mark_t *x = &a->marks[i], *y = &b->marks[i];
        if (x->tick != y->tick || x->n != y->n || x->d != y->d || x->ramp != y->ramp)
            return 0;
    }
    return 1;
}

/* ---- reading ---- */

int tt_tempo_countoff_bars(const tt_tempo_map_t *m)
{
    return m->countoff;
}

int64_t tt_tempo_start_frame(const tt_tempo_map_t *m)
{
    return m->start_frame;
}

tt_fps_t tt_tempo_fps(const tt_tempo_map_t *m)
{
    return m->fps;
}

int64_t tt_tempo_start_ns(const tt_tempo_map_t *m)
{
    return tt_tempo_tick_to_ns(m, -(int64_t)m->countoff * bar_ticks(&m->meters[0]));
}

void tt_tempo_meter_at(const tt_tempo_map_t *m, int32_t bar, int32_t *num, int32_t *den)
{
    const meter_t *mt = meter_by_bar(m, bar);
    if (num)
        *num = mt->num;
    if (den)
        *den = mt->den;
}

int64_t tt_tempo_bbt_to_tick(const tt_tempo_map_t *m, tt_bbt_t pos)
{
    const meter_t *mt = meter_by_bar(m, pos.bar);
    /* int64 throughout: |bar| < 2^32 times at most 122880 ticks a bar. */
    int64_t t = mt->tick + ((int64_t)pos.bar - mt->bar) * bar_ticks(mt) +
                ((int64_t)pos.beat - 1) * beat_ticks(mt) + pos.tick;
    return clamp_tick(t);
}

tt_bbt_t tt_tempo_tick_to_bbt(const tt_tempo_map_t *m, int64_t tick)
{
    tick = clamp_tick(tick);
    const meter_t *mt = meter_by_tick(m, tick);
    int64_t bt = beat_ticks(mt), bl = bar_ticks(mt);
    int64_t rel = tick - mt->tick;
    int64_t bars = floor_div(rel, bl);
    int64_t within = rel - bars * bl;
    /* The tick limit keeps bars within int32 (at least 120 ticks a bar). */
    return (tt_bbt_t){.bar = (int32_t)(mt->bar + bars),
                      .beat = (int32_t)(1 + within / bt),
                      .tick = (int32_t)(within % bt)};
}

int64_t tt_tempo_tick_to_ns(const tt_tempo_map_t *m, int64_t tick)
{
    return llroundl(tick_ns_exact(m, clamp_tick(tick)));
}

int64_t tt_tempo_ns_to_tick(const tt_tempo_map_t *m, int64_t ns)
{
    long double x = (long double)ns, approx;
    if (ns < 0) {
        approx = x * m->marks[0].bpm / NS_TICK_BPM;
    } else {
        const mark_t *mk = &m->marks[mark_by_ns(m, x)];
        approx = (long double)mk->tick + seg_ticks(mk, x - mk->ns);
    }
    /* Clamp before converting: a far ns can exceed int64 ticks. */
    int64_t t;
    if (!(approx < (long double)TT_TEMPO_TICK_LIMIT))
        t = TT_TEMPO_TICK_LIMIT;
    else if (!(approx > (long double)-TT_TEMPO_TICK_LIMIT))
        t = -TT_TEMPO_TICK_LIMIT;
    else
        t = (int64_t)floorl(approx);
    /* The closed form lands within a tick; settle on the rounded times so
     * that this is the exact inverse of tt_tempo_tick_to_ns. */
    while (t < TT_TEMPO_TICK_LIMIT && tt_tempo_tick_to_ns(m, t + 1) <= ns)
        t++;
    while (t > -TT_TEMPO_TICK_LIMIT && tt_tempo_tick_to_ns(m, t) > ns)
        t--;
    return t;
}

int64_t tt_tempo_bbt_to_ns(const tt_tempo_map_t *m, tt_bbt_t pos)
{
    return tt_tempo_tick_to_ns(m, tt_tempo_bbt_to_tick(m, pos));
}

tt_bbt_t tt_tempo_ns_to_bbt(const tt_tempo_map_t *m, int64_t ns)
{
    return tt_tempo_tick_to_bbt(m, tt_tempo_ns_to_tick(m, ns));
}

double tt_tempo_bpm_at(const tt_tempo_map_t *m, int64_t ns)
{
    if (ns < 0)
        return (double)m->marks[0].bpm;
    long double x = (long double)ns;
    const mark_t *mk = &m->marks[mark_by_ns(m, x)];
    if (mk->k == 0.0L)
        return (double)mk->bpm;
    long double bpm = mk->bpm + mk->k * seg_ticks(mk, x - mk->ns);
    /* Stay inside the ramp's ends despite rounding. */
    long double end = (mk + 1)->bpm;
    long double lo = mk->bpm < end ? mk->bpm : end, hi = mk->bpm < end ? end : mk->bpm;
    return (double)(bpm < lo ? lo : bpm > hi ? hi : bpm);
}

int64_t tt_tempo_ns_to_frame(const tt_tempo_map_t *m, int64_t ns)
{
    return m->start_frame + tt_timecode_ns_to_frame(ns, m->fps);
}

int64_t tt_tempo_frame_to_ns(const tt_tempo_map_t *m, int64_t frame)
{
    return tt_timecode_frame_to_ns(frame - m->start_frame, m->fps);
}

static void fill_click(const tt_tempo_map_t *m, int64_t tick, tt_click_t *out)
{
    const meter_t *mt = meter_by_tick(m, tick);
    out->tick = tick;
    out->ns = tt_tempo_tick_to_ns(m, tick);
    out->pos = tt_tempo_tick_to_bbt(m, tick);
    out->beats = mt->num;
    out->downbeat = out->pos.beat == 1;
    out->countoff = out->pos.bar <= 0;
}

int tt_tempo_next_click(const tt_tempo_map_t *m, int64_t at_or_after_ns, tt_click_t *out)
{
    int64_t first = -(int64_t)m->countoff * bar_ticks(&m->meters[0]);
    if (at_or_after_ns <= tt_tempo_tick_to_ns(m, first)) {
        fill_click(m, first, out);
        return 0;
    }
    int64_t t = tt_tempo_ns_to_tick(m, at_or_after_ns);
    const meter_t *mt = meter_by_tick(m, t);
    int64_t bt = beat_ticks(mt);
    /* Beats lie on a grid from each meter change: bar lines are whole
     * beats of the meter before, so the grid never straddles a change. */
    int64_t b = mt->tick + floor_div(t - mt->tick, bt) * bt;
    if (tt_tempo_tick_to_ns(m, b) < at_or_after_ns)
        b += bt;
    if (b >= TT_TEMPO_TICK_LIMIT)
        return TT_ERR_NOTFOUND;
    fill_click(m, b, out);
    return 0;
}

/* ---- text: formatting ---- */

static int put_bpm(char *p, size_t room, const mark_t *mk)
{
    if (!decimal_exact(mk->d))
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
        if (check_meter(mnum, mden, inner))
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
