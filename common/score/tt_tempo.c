/* tt_tempo: tempo map storage and conversions (the text format is
 * tt_tempo_text.c; both share tt_tempo_internal.h).
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
#include "tt_tempo_internal.h"

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
int tt_tempo_decimal_exact(int64_t d)
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
    if (!tt_tempo_decimal_exact(*d) && (*n > MAX_FRACTION_TERM || *d > MAX_FRACTION_TERM))
        return tt_fail(why, TT_ERR_INVALID, "tempo %lld/%lld: a fraction needs terms <= 1000000000",
                       (long long)*n, (long long)*d);
    return 0;
}

int tt_tempo_check_meter(int32_t num, int32_t den, char *why)
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
    if (tt_tempo_check_meter(num, den, why) || check_bpm(&bpm_num, &bpm_den, why))
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
    int rc = tt_tempo_check_meter(num, den, why);
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
