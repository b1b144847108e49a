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
 * n / d in long double. Each mark also keeps the tempo as written (unit,
 * rate or frame click) and what kind of statement made it (a plain tempo,
 * a rit/accel and its implied end, a free section's implied start and
 * resume), so the text comes back as written; settle() recomputes the
 * cached tempos and times from the written values, after an append (from
 * the new mark) and when the frame rate or start moves (from the start).
 *
 * Click switches are a third sorted array, subdivisions (a hint for the
 * players' click feed, no effect on time) a fourth; free sections and the end bar
 * silence the click too (click_on_at), so the click iterator skips whole
 * silent stretches instead of stepping through them.
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
    return WHOLE_TICKS / mt->mt.den;
}

static int64_t bar_ticks(const meter_t *mt)
{
    return (int64_t)mt->mt.num * (WHOLE_TICKS / mt->mt.den);
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

/* Quarters in a beat unit, as a fraction. */
static const struct {
    const char *name;
    int n, d;
} units[TT_UNIT_COUNT] = {
    [TT_UNIT_Q] = {"q", 1, 1},      [TT_UNIT_H] = {"h", 2, 1},      [TT_UNIT_E] = {"e", 1, 2},
    [TT_UNIT_W] = {"w", 4, 1},      [TT_UNIT_S] = {"s", 1, 4},      [TT_UNIT_Q_DOT] = {"q.", 3, 2},
    [TT_UNIT_H_DOT] = {"h.", 3, 1}, [TT_UNIT_E_DOT] = {"e.", 3, 4}, [TT_UNIT_W_DOT] = {"w.", 6, 1},
    [TT_UNIT_S_DOT] = {"s.", 3, 8},
};

const char *tt_tempo_unit_name(int unit)
{
    return unit >= 0 && unit < TT_UNIT_COUNT ? units[unit].name : "?";
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
        return dt * NS_TICK_BPM / mk->seg;
    return NS_TICK_BPM / mk->k * log1pl(mk->k * dt / mk->seg);
}

/* Inverse of seg_ns: ticks (fractional) from a mark after dns ns. */
static long double seg_ticks(const mark_t *mk, long double dns)
{
    if (mk->k == 0.0L)
        return dns * mk->seg / NS_TICK_BPM;
    return mk->seg / mk->k * expm1l(mk->k * dns / NS_TICK_BPM);
}

static long double tick_ns_exact(const tt_tempo_map_t *m, int64_t t)
{
    if (t < 0)
        return (long double)t * NS_TICK_BPM / m->marks[0].seg;
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

/* Quarters per minute of v at fps, reduced, checked against 20..400. v is
 * reduced in place (a rate's terms). */
int tt_tempo_value_bpm(tt_tempo_value_t *v, tt_fps_t fps, int64_t *n, int64_t *d, char *why)
{
    char txt[64];
    if (v->unit < 0 || v->unit >= TT_UNIT_COUNT)
        return tt_fail(why, TT_ERR_INVALID, "unknown beat unit %d", v->unit);
    int64_t un = units[v->unit].n, ud = units[v->unit].d;
    if (v->frames8) {
        if (v->frames8 < 8 || v->frames8 > 999 * 8 + 7)
            return tt_fail(why, TT_ERR_INVALID, "frame click %d-%d: frames 1..999, eighths 0..7",
                           (int)(v->frames8 / 8), (int)(v->frames8 % 8));
        int64_t fn, fd;
        tt_fps_rate(fps, &fn, &fd);
        *n = 480 * fn * un;
        *d = (int64_t)v->frames8 * fd * ud;
        v->n = v->d = 0;
    } else {
        if (v->n < 1 || v->d < 1 || v->n > MAX_TERM || v->d > MAX_TERM)
            return tt_fail(why, TT_ERR_INVALID, "tempo %lld/%lld: terms must be 1..1e15",
                           (long long)v->n, (long long)v->d);
        int64_t g = gcd64(v->n, v->d);
        v->n /= g;
        v->d /= g;
        /* The written value's terms follow the fraction rule; the range is
         * checked below, in quarters. */
        if (!tt_tempo_decimal_exact(v->d) && (v->n > MAX_FRACTION_TERM || v->d > MAX_FRACTION_TERM))
            return tt_fail(why, TT_ERR_INVALID,
                           "tempo %lld/%lld: a fraction needs terms <= 1000000000", (long long)v->n,
                           (long long)v->d);
        *n = v->n * un;
        *d = v->d * ud;
    }
    int64_t g = gcd64(*n, *d);
    *n /= g;
    *d /= g;
    if (*n < TT_TEMPO_MIN_BPM * *d || *n > TT_TEMPO_MAX_BPM * *d) {
        tt_tempo_value_text(v, txt, sizeof txt);
        if (v->unit == TT_UNIT_Q && !v->frames8)
            return tt_fail(why, TT_ERR_INVALID,
                           "tempo %.6g is outside %d..%d quarter notes per minute",
                           (double)*n / (double)*d, TT_TEMPO_MIN_BPM, TT_TEMPO_MAX_BPM);
        return tt_fail(why, TT_ERR_INVALID,
                       "tempo %s is %.6g quarter notes per minute%s%s, outside %d..%d", txt,
                       (double)*n / (double)*d, v->frames8 ? " at " : "",
                       v->frames8 ? tt_fps_name(fps) : "", TT_TEMPO_MIN_BPM, TT_TEMPO_MAX_BPM);
    }
    return 0;
}

int tt_tempo_value_text(const tt_tempo_value_t *v, char *out, size_t room)
{
    const char *u = tt_tempo_unit_name(v->unit);
    if (v->frames8)
        return snprintf(out, room, "%s=%d-%d", u, (int)(v->frames8 / 8), (int)(v->frames8 % 8));
    if (v->d < 1 || !tt_tempo_decimal_exact(v->d))
        return snprintf(out, room, "%s=%lld/%lld", u, (long long)v->n, (long long)v->d);
    int64_t whole = v->n / v->d;
    int64_t frac = (v->n % v->d) * (DEC_SCALE / v->d);
    if (frac == 0)
        return snprintf(out, room, "%s=%lld", u, (long long)whole);
    char digits[16];
    snprintf(digits, sizeof digits, "%09lld", (long long)frac);
    size_t n = strlen(digits);
    while (n > 0 && digits[n - 1] == '0')
        digits[--n] = '\0';
    return snprintf(out, room, "%s=%lld.%s", u, (long long)whole, digits);
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

int tt_tempo_check_meter_full(tt_meter_t *mt, char *why)
{
    int rc = tt_tempo_check_meter(mt->num, mt->den, why);
    if (rc)
        return rc;
    if (mt->ngroups < 0 || mt->ngroups > TT_TEMPO_MAX_GROUPS)
        return tt_fail(why, TT_ERR_INVALID, "meter %d/%d: %d groups (at most %d)", (int)mt->num,
                       (int)mt->den, mt->ngroups, TT_TEMPO_MAX_GROUPS);
    int sum = 0, ones = 1;
    for (int i = 0; i < mt->ngroups; i++) {
        if (mt->groups[i] < 1)
            return tt_fail(why, TT_ERR_INVALID, "meter %d/%d: a group of 0 beats", (int)mt->num,
                           (int)mt->den);
        sum += mt->groups[i];
        ones &= mt->groups[i] == 1;
    }
    if (mt->ngroups && sum != mt->num)
        return tt_fail(why, TT_ERR_INVALID, "meter %d/%d: groups add up to %d beats, not %d",
                       (int)mt->num, (int)mt->den, sum, (int)mt->num);
    if (ones || mt->ngroups == 0)
        mt->ngroups = 0; /* a click a beat */
    for (int i = mt->ngroups; i < TT_TEMPO_MAX_GROUPS; i++)
        mt->groups[i] = 0;
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

/* Time (ns from bar 1) of the start of timecode label `frame`: its first
 * occurrence after after_ns (labels repeat every day). */
static long double resume_ns(const tt_tempo_map_t *m, int64_t frame, long double after_ns)
{
    int64_t day = tt_timecode_frames_per_day(m->fps);
    int64_t delta = ((frame - m->start_frame) % day + day) % day;
    long double day_ns = (long double)tt_timecode_frame_to_ns(day, m->fps);
    if (after_ns > 0.0L) {
        /* Whole days to skip; at most one more step for rounding. */
        long double days = floorl(after_ns / day_ns);
        delta += (int64_t)(days < 1e6L ? days : 1e6L) * day;
        if ((long double)tt_timecode_frame_to_ns(delta, m->fps) <= after_ns)
            delta += day;
        if ((long double)tt_timecode_frame_to_ns(delta - day, m->fps) > after_ns)
            delta -= day;
    }
    return (long double)tt_timecode_frame_to_ns(delta, m->fps);
}

/* Recomputes marks[from..] (tempos from the written values at m's fps,
 * free sections' fitted tempos, slopes and times). Returns 0 or
 * TT_ERR_INVALID with the reason; on failure the caches are half done and
 * the caller restores or discards the map. */
static int settle(tt_tempo_map_t *m, size_t from, char *why)
{
    for (size_t i = from; i < m->nmarks; i++) {
        mark_t *mk = &m->marks[i];
        if (mk->kind == MARK_NAMED || mk->kind == MARK_FREE) {
            /* The tempo in force: the previous segment is a step. */
            const mark_t *p = &m->marks[i - 1];
            mk->n = p->n;
            mk->d = p->d;
        } else {
            int rc = tt_tempo_value_bpm(&mk->v, m->fps, &mk->n, &mk->d, why);
            if (rc)
                return rc;
        }
        mk->bpm = (long double)mk->n / (long double)mk->d;
        mk->seg = mk->bpm;
        mk->k = 0.0L;
        if (i == 0) {
            mk->ns = 0.0L;
            continue;
        }
        mark_t *prev = &m->marks[i - 1];
        long double len = (long double)(mk->tick - prev->tick);
        if (prev->free) {
            long double end = resume_ns(m, prev->resume_frame, prev->ns);
            long double dur = end - prev->ns;
            prev->seg = len * NS_TICK_BPM / dur;
            if (!(dur > 0.0L) || prev->seg > (long double)TT_TEMPO_MAX_BPM) {
                char tc[TT_TIMECODE_LEN];
                tt_timecode_format(prev->resume_frame, m->fps, tc);
                return tt_fail(why, TT_ERR_INVALID,
                               "free time resuming at %s is faster than %d quarter notes per "
                               "minute (%.0f ms for %.2f quarters): give a later timecode",
                               tc, TT_TEMPO_MAX_BPM, (double)(dur / 1e6L),
                               (double)(len / TT_TEMPO_PPQ));
            }
            if (dur > 43200e9L) {
                /* Half a day of free time: the label is almost surely
                 * before bar A, not a day after it. */
                char tc[TT_TIMECODE_LEN], at[TT_TIMECODE_LEN];
                tt_timecode_format(prev->resume_frame, m->fps, tc);
                tt_timecode_format(tt_tempo_ns_to_frame(m, llroundl(prev->ns)), m->fps, at);
                return tt_fail(why, TT_ERR_INVALID,
                               "free time resuming at %s: the section starts at %s; give a "
                               "timecode after it (within 12 hours)",
                               tc, at);
            }
            prev->k = 0.0L;
            mk->ns = end;
        } else {
            prev->k = mk->ramp ? (mk->bpm - prev->seg) / len : 0.0L;
            mk->ns = prev->ns + seg_ns(prev, len);
        }
    }
    return 0;
}

tt_tempo_map_t *tt_tempo_new_at(const tt_meter_t *meter, const tt_tempo_value_t *v, tt_fps_t fps,
                                int64_t start_frame, char *why)
{
    tt_meter_t mt = *meter;
    tt_tempo_value_t val = *v;
    int64_t n, d;
    if (tt_tempo_check_meter_full(&mt, why) || tt_tempo_value_bpm(&val, fps, &n, &d, why))
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
    m->meters[0] = (meter_t){.bar = 1, .mt = mt, .tick = 0};
    m->nmeters = 1;
    m->marks[0] = (mark_t){.tick = 0, .v = val, .kind = MARK_TEMPO};
    m->nmarks = 1;
    m->fps = fps;
    m->start_frame = start_frame;
    settle(m, 0, NULL); /* cannot fail: the value was checked at fps */
    return m;
}

tt_tempo_map_t *tt_tempo_new_with(const tt_meter_t *meter, const tt_tempo_value_t *v, char *why)
{
    return tt_tempo_new_at(meter, v, TT_TEMPO_DEFAULT_FPS, 0, why);
}

tt_tempo_map_t *tt_tempo_new(int32_t num, int32_t den, int64_t bpm_num, int64_t bpm_den, char *why)
{
    if (tt_tempo_check_meter(num, den, why) || check_bpm(&bpm_num, &bpm_den, why))
        return NULL;
    tt_meter_t mt = {.num = num, .den = den};
    tt_tempo_value_t v = {.unit = TT_UNIT_Q, .n = bpm_num, .d = bpm_den};
    return tt_tempo_new_with(&mt, &v, why);
}

/* A visual marker counts two: its line is up to twice an event's. */
int tt_tempo_room_for_event(const tt_tempo_map_t *m, size_t more, char *why)
{
    if (m->nmeters + m->nmarks + m->nswitches + m->nsubdivs + m->nmarkers + 2 * m->nvisuals + more >
        TT_TEMPO_MAX_EVENTS)
        return tt_fail(why, TT_ERR_TOO_BIG, "more than %d meter changes and tempo marks",
                       TT_TEMPO_MAX_EVENTS);
    return 0;
}

/* The free section (index of its start mark) that holds tick strictly
 * inside, or -1. Only the last two marks can be one still open for
 * appends. */
static long open_free_at(const tt_tempo_map_t *m, int64_t tick)
{
    if (m->nmarks < 2)
        return -1;
    const mark_t *a = &m->marks[m->nmarks - 2], *b = &m->marks[m->nmarks - 1];
    return a->free && tick > a->tick && tick < b->tick ? (long)(m->nmarks - 2) : -1;
}

int tt_tempo_add_meter_with(tt_tempo_map_t *m, int32_t bar, const tt_meter_t *meter, char *why)
{
    tt_meter_t mt = *meter;
    int rc = tt_tempo_check_meter_full(&mt, why);
    if (rc)
        return rc;
    const meter_t *last = &m->meters[m->nmeters - 1];
    if (bar <= last->bar)
        return tt_fail(why, TT_ERR_INVALID, "meter change at bar %d: must come after bar %d",
                       (int)bar, (int)last->bar);
    if (bar > TT_TEMPO_MAX_BAR)
        return tt_fail(why, TT_ERR_INVALID, "meter change at bar %d: beyond bar %d", (int)bar,
                       TT_TEMPO_MAX_BAR);
    int64_t tick = last->tick + (int64_t)(bar - last->bar) * bar_ticks(last);
    if (open_free_at(m, tick) >= 0)
        return tt_fail(why, TT_ERR_INVALID,
                       "meter change at bar %d: inside free time (it would move the bar free "
                       "time resumes at)",
                       (int)bar);
    if ((rc = tt_tempo_room_for_event(m, 1, why)))
        return rc;
    if (m->nmeters == m->cap_meters && grow((void **)&m->meters, &m->cap_meters, sizeof(meter_t)))
        return tt_fail(why, TT_ERR_NOMEM, "tempo map: out of memory");
    m->meters[m->nmeters++] = (meter_t){.bar = bar, .mt = mt, .tick = tick};
    return 0;
}

int tt_tempo_add_meter(tt_tempo_map_t *m, int32_t bar, int32_t num, int32_t den, char *why)
{
    tt_meter_t mt = {.num = num, .den = den};
    return tt_tempo_add_meter_with(m, bar, &mt, why);
}

/* Appends marks (1 or 2) and settles them; on failure removes them. */
static int append_marks(tt_tempo_map_t *m, const mark_t *mk, size_t count, char *why)
{
    int rc = tt_tempo_room_for_event(m, count, why);
    if (rc)
        return rc;
    while (m->nmarks + count > m->cap_marks)
        if (grow((void **)&m->marks, &m->cap_marks, sizeof(mark_t)))
            return tt_fail(why, TT_ERR_NOMEM, "tempo map: out of memory");
    /* The previous mark's slope and free fit change with what follows it. */
    mark_t saved = m->marks[m->nmarks - 1];
    size_t at = m->nmarks;
    for (size_t i = 0; i < count; i++)
        m->marks[m->nmarks++] = mk[i];
    if ((rc = settle(m, at, why))) {
        m->nmarks = at;
        m->marks[at - 1] = saved;
        return rc;
    }
    return 0;
}

/* Checks a new mark's tick against the marks so far. */
static int check_mark_tick(const tt_tempo_map_t *m, int64_t tick, char *why)
{
    const mark_t *prev = &m->marks[m->nmarks - 1];
    if (tick <= prev->tick)
        return tt_fail(why, TT_ERR_INVALID, "tempo mark at tick %lld: must come after tick %lld",
                       (long long)tick, (long long)prev->tick);
    if (tick > TT_TEMPO_TICK_LIMIT || tt_tempo_tick_to_bbt(m, tick).bar > TT_TEMPO_MAX_BAR)
        return tt_fail(why, TT_ERR_INVALID, "tempo mark at tick %lld: beyond bar %d",
                       (long long)tick, TT_TEMPO_MAX_BAR);
    return 0;
}

int tt_tempo_add_value(tt_tempo_map_t *m, int64_t tick, const tt_tempo_value_t *v, int ramp,
                       char *why)
{
    mark_t *last = &m->marks[m->nmarks - 1];
    if (last->kind == MARK_RESUME && tick == last->tick) {
        /* A tempo where free time resumes: the tempo it resumes at. */
        if (ramp)
            return tt_fail(why, TT_ERR_INVALID,
                           "tempo mark at tick %lld: free time resumes here; a ramp cannot "
                           "start in free time",
                           (long long)tick);
        mark_t saved = *last;
        last->v = *v;
        last->kind = MARK_TEMPO;
        int rc = settle(m, m->nmarks - 1, why);
        if (rc) {
            *last = saved;
            settle(m, m->nmarks - 1, NULL);
        }
        return rc;
    }
    if (last->kind == MARK_END && tick == last->tick)
        return tt_fail(why, TT_ERR_INVALID,
                       "a rit/accel ends here (tick %lld) at its own target: a new tempo "
                       "goes after it",
                       (long long)tick);
    int rc = check_mark_tick(m, tick, why);
    if (rc)
        return rc;
    if (ramp && last->free)
        return tt_fail(why, TT_ERR_INVALID, "a ramp cannot start in free time");
    mark_t mk = {.tick = tick, .v = *v, .ramp = ramp ? 1 : 0, .kind = MARK_TEMPO};
    return append_marks(m, &mk, 1, why);
}

int tt_tempo_add_tempo(tt_tempo_map_t *m, int64_t tick, int64_t bpm_num, int64_t bpm_den, int ramp,
                       char *why)
{
    int rc = check_bpm(&bpm_num, &bpm_den, why);
    if (rc)
        return rc;
    tt_tempo_value_t v = {.unit = TT_UNIT_Q, .n = bpm_num, .d = bpm_den};
    return tt_tempo_add_value(m, tick, &v, ramp, why);
}

int tt_tempo_add_named(tt_tempo_map_t *m, int64_t tick, int named, int32_t over,
                       const tt_tempo_value_t *target, char *why)
{
    const char *name = named == TT_TEMPO_RIT ? "rit" : "accel";
    if (named != TT_TEMPO_RIT && named != TT_TEMPO_ACCEL)
        return tt_fail(why, TT_ERR_INVALID, "named ramp %d: rit or accel", named);
    if (over < 1 || over > 999)
        return tt_fail(why, TT_ERR_INVALID, "%s over %d beats: 1..999", name, (int)over);
    int rc = check_mark_tick(m, tick, why);
    if (rc)
        return rc;
    tt_bbt_t p = tt_tempo_tick_to_bbt(m, tick);
    if (p.tick != 0)
        return tt_fail(why, TT_ERR_INVALID, "%s at %d.%d.%d: starts on a beat (tick 0)", name,
                       (int)p.bar, (int)p.beat, (int)p.tick);
    const mark_t *last = &m->marks[m->nmarks - 1];
    if (last->free)
        return tt_fail(why, TT_ERR_INVALID, "%s inside free time", name);
    int64_t end = tick + (int64_t)over * beat_ticks(meter_by_tick(m, tick));
    if (end > TT_TEMPO_TICK_LIMIT || tt_tempo_tick_to_bbt(m, end).bar > TT_TEMPO_MAX_BAR)
        return tt_fail(why, TT_ERR_INVALID, "%s ends beyond bar %d", name, TT_TEMPO_MAX_BAR);
    mark_t mk[2] = {
        {.tick = tick, .v = *target, .kind = MARK_NAMED, .named = named, .over = over},
        {.tick = end, .v = *target, .ramp = 1, .kind = MARK_END},
    };
    size_t before = m->nmarks;
    if ((rc = append_marks(m, mk, 2, why)))
        return rc;
    /* The target, settled; the direction must match the name. */
    const mark_t *a = &m->marks[before], *b = &m->marks[before + 1];
    __int128 x = (__int128)b->n * a->d, y = (__int128)a->n * b->d;
    int faster = x > y, same = x == y;
    if (same || (named == TT_TEMPO_RIT) == faster) {
        char txt[64];
        tt_tempo_value_text(&b->v, txt, sizeof txt);
        m->nmarks = before;
        settle(m, before - 1, NULL);
        return tt_fail(why, TT_ERR_INVALID, "%s to %s: that is %s than the tempo before (%.6g)",
                       name, txt,
                       same     ? "no different"
                       : faster ? "faster"
                                : "slower",
                       (double)a->bpm);
    }
    m->marks[before].v = b->v; /* reduced */
    return 0;
}

int tt_tempo_add_free(tt_tempo_map_t *m, int32_t bar, int32_t until_bar, int64_t resume_frame,
                      char *why)
{
    if (bar < 2 || until_bar <= bar || until_bar > TT_TEMPO_MAX_BAR)
        return tt_fail(why, TT_ERR_INVALID,
                       "free time from bar %d until bar %d: needs 2 <= from < until <= %d",
                       (int)bar, (int)until_bar, TT_TEMPO_MAX_BAR);
    if (resume_frame < 0 || resume_frame >= tt_timecode_frames_per_day(m->fps))
        return tt_fail(why, TT_ERR_INVALID, "free time: timecode frame %lld is not a label",
                       (long long)resume_frame);
    int64_t a = tt_tempo_bbt_to_tick(m, (tt_bbt_t){bar, 1, 0});
    int64_t b = tt_tempo_bbt_to_tick(m, (tt_bbt_t){until_bar, 1, 0});
    mark_t *last = &m->marks[m->nmarks - 1];
    if (last->free)
        return tt_fail(why, TT_ERR_INVALID, "free time at bar %d: inside free time", (int)bar);
    if (last->tick == a && last->kind == MARK_END) {
        /* A rit into free time: the section starts where the rit ends. */
        mark_t saved = *last;
        last->free = 1;
        last->resume_frame = resume_frame;
        /* The tempo resumed is the rit's target. */
        mark_t mk = {.tick = b, .v = last->v, .kind = MARK_RESUME};
        int rc = check_mark_tick(m, b, why);
        if (rc == 0)
            rc = append_marks(m, &mk, 1, why);
        if (rc) {
            *last = saved;
            settle(m, m->nmarks - 1, NULL);
        }
        return rc;
    }
    int rc = check_mark_tick(m, a, why);
    if (rc)
        return rc;
    if (b > TT_TEMPO_TICK_LIMIT)
        return tt_fail(why, TT_ERR_INVALID, "free time until bar %d: too far", (int)until_bar);
    /* The tempo in force before the section (a rit's end has its target). */
    mark_t mk[2] = {
        {.tick = a, .v = last->v, .kind = MARK_FREE, .free = 1, .resume_frame = resume_frame},
        {.tick = b, .v = last->v, .kind = MARK_RESUME},
    };
    if (last->kind == MARK_NAMED || last->kind == MARK_FREE) /* cannot be: they have a follower */
        return tt_fail(why, TT_ERR_INVALID, "free time at bar %d: after an open ramp", (int)bar);
    return append_marks(m, mk, 2, why);
}

int tt_tempo_add_click(tt_tempo_map_t *m, int32_t bar, int on, char *why)
{
    if (bar < 1 || bar > TT_TEMPO_MAX_BAR)
        return tt_fail(why, TT_ERR_INVALID, "click %s at bar %d: bars are 1..%d", on ? "on" : "off",
                       (int)bar, TT_TEMPO_MAX_BAR);
    if (m->nswitches && m->switches[m->nswitches - 1].bar >= bar)
        return tt_fail(why, TT_ERR_INVALID, "click %s at bar %d: must come after bar %d",
                       on ? "on" : "off", (int)bar, (int)m->switches[m->nswitches - 1].bar);
    int rc = tt_tempo_room_for_event(m, 1, why);
    if (rc)
        return rc;
    if (m->nswitches == m->cap_switches &&
        grow((void **)&m->switches, &m->cap_switches, sizeof(switch_t)))
        return tt_fail(why, TT_ERR_NOMEM, "tempo map: out of memory");
    /* The tick is taken when asked (meters added later move bar lines). */
    m->switches[m->nswitches++] = (switch_t){.bar = bar, .on = on ? 1 : 0};
    return 0;
}

int tt_tempo_add_subdivide(tt_tempo_map_t *m, int32_t bar, int n, char *why)
{
    if (bar < 1 || bar > TT_TEMPO_MAX_BAR)
        return tt_fail(why, TT_ERR_INVALID, "subdivide at bar %d: bars are 1..%d", (int)bar,
                       TT_TEMPO_MAX_BAR);
    /* Every allowed N divides the shortest beat (a 32nd, 120 ticks). */
    if (n < 1 || n > TT_TEMPO_MAX_SUBDIVIDE || n == 7)
        return tt_fail(why, TT_ERR_INVALID, "subdivide %d at bar %d: 1 (off), 2..6 or 8", n,
                       (int)bar);
    if (m->nsubdivs && m->subdivs[m->nsubdivs - 1].bar >= bar)
        return tt_fail(why, TT_ERR_INVALID, "subdivide at bar %d: must come after bar %d", (int)bar,
                       (int)m->subdivs[m->nsubdivs - 1].bar);
    int rc = tt_tempo_room_for_event(m, 1, why);
    if (rc)
        return rc;
    if (m->nsubdivs == m->cap_subdivs &&
        grow((void **)&m->subdivs, &m->cap_subdivs, sizeof(subdiv_t)))
        return tt_fail(why, TT_ERR_NOMEM, "tempo map: out of memory");
    m->subdivs[m->nsubdivs++] = (subdiv_t){.bar = bar, .n = n};
    return 0;
}

int tt_tempo_subdivide_at(const tt_tempo_map_t *m, int32_t bar)
{
    size_t lo = 0, hi = m->nsubdivs;
    while (lo < hi) { /* first change with a bar > bar */
        size_t mid = lo + (hi - lo) / 2;
        if (m->subdivs[mid].bar <= bar)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 1 : m->subdivs[lo - 1].n;
}

static int bbt_cmp(tt_bbt_t a, tt_bbt_t b)
{
    if (a.bar != b.bar)
        return a.bar < b.bar ? -1 : 1;
    if (a.beat != b.beat)
        return a.beat < b.beat ? -1 : 1;
    return a.tick < b.tick ? -1 : a.tick > b.tick;
}

int tt_tempo_check_name(const char *name, const char *what, int no_quote, char *why)
{
    size_t n = strlen(name);
    int words = 1;
    if (n < 1 || n > TT_TEMPO_MARKER_LEN)
        return tt_fail(why, TT_ERR_INVALID, "%s of %zu bytes: 1..%d", what, n, TT_TEMPO_MARKER_LEN);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c >= 0x7f || c == '#' || c == '\t' || (no_quote && c == '"'))
            return tt_fail(why, TT_ERR_INVALID, "%s: byte 0x%02x (printable ASCII, no '#'%s)", what,
                           c, no_quote ? " or '\"'" : "");
        if (c == ' ' && (i == 0 || i + 1 == n || name[i + 1] == ' '))
            return tt_fail(why, TT_ERR_INVALID, "%s: words separated by single spaces", what);
        words += c == ' ';
    }
    if (words > 10)
        return tt_fail(why, TT_ERR_INVALID, "%s: %d words (at most 10)", what, words);
    return 0;
}

int tt_tempo_add_marker(tt_tempo_map_t *m, tt_bbt_t pos, const char *name, char *why)
{
    int rc = tt_tempo_check_name(name, "marker name", 0, why);
    if (rc)
        return rc;
    size_t n = strlen(name);
    int32_t num, den;
    tt_tempo_meter_at(m, pos.bar, &num, &den);
    if (pos.bar < 1 || pos.bar > TT_TEMPO_MAX_BAR || pos.beat < 1 || pos.beat > num ||
        pos.tick < 0 || pos.tick >= WHOLE_TICKS / den)
        return tt_fail(why, TT_ERR_INVALID, "marker at %d.%d.%d: not in the bar (%d/%d)",
                       (int)pos.bar, (int)pos.beat, (int)pos.tick, (int)num, (int)den);
    if (m->nmarkers && bbt_cmp(pos, m->markers[m->nmarkers - 1].pos) < 0)
        return tt_fail(why, TT_ERR_INVALID, "marker at %d.%d.%d: before the previous marker",
                       (int)pos.bar, (int)pos.beat, (int)pos.tick);
    if (m->nmarkers == TT_TEMPO_MAX_MARKERS)
        return tt_fail(why, TT_ERR_TOO_BIG, "more than %d markers", TT_TEMPO_MAX_MARKERS);
    rc = tt_tempo_room_for_event(m, 1, why);
    if (rc)
        return rc;
    if (m->nmarkers == m->cap_markers &&
        grow((void **)&m->markers, &m->cap_markers, sizeof(marker_t)))
        return tt_fail(why, TT_ERR_NOMEM, "tempo map: out of memory");
    marker_t *mk = &m->markers[m->nmarkers++];
    mk->pos = pos;
    memcpy(mk->name, name, n + 1);
    return 0;
}

int tt_tempo_marker(const tt_tempo_map_t *m, size_t i, tt_bbt_t *pos, const char **name)
{
    if (i >= m->nmarkers)
        return TT_ERR_NOTFOUND;
    *pos = m->markers[i].pos;
    *name = m->markers[i].name;
    return 0;
}

int tt_tempo_set_countoff(tt_tempo_map_t *m, int bars)
{
    if (bars < 0 || bars > TT_TEMPO_MAX_COUNTOFF)
        return TT_ERR_INVALID;
    m->countoff = bars;
    return 0;
}

int tt_tempo_set_pickup(tt_tempo_map_t *m, int beats)
{
    if (beats < 0 || beats >= m->meters[0].mt.num)
        return TT_ERR_INVALID;
    m->pickup = beats;
    return 0;
}

int tt_tempo_set_end(tt_tempo_map_t *m, int32_t bar)
{
    if (bar < 0 || bar > TT_TEMPO_MAX_BAR)
        return TT_ERR_INVALID;
    int32_t old = m->end_bar;
    m->end_bar = bar;
    if (tt_tempo_check_visuals(m, NULL) != 0) { /* a visual would lie after the end */
        m->end_bar = old;
        return TT_ERR_INVALID;
    }
    return 0;
}

/* The frame count at rate `to` of the label frame has at rate `from`, or
 * -1 when that label does not exist there. */
static int64_t resume_at(int64_t frame, tt_fps_t from, tt_fps_t to, char *why)
{
    char label[TT_TIMECODE_LEN];
    int64_t out;
    if (from == to)
        return frame;
    tt_timecode_format(frame, from, label);
    for (char *p = label; *p; p++)
        if (*p == ';')
            *p = ':';
    return tt_timecode_parse(label, to, &out, why) == 0 ? out : -1;
}

int tt_tempo_set_start(tt_tempo_map_t *m, int64_t frame, tt_fps_t fps)
{
    if ((int)fps < TT_FPS_23_976 || (int)fps > TT_FPS_30)
        return TT_ERR_INVALID;
    if (frame < 0 || frame >= tt_timecode_frames_per_day(fps))
        return TT_ERR_INVALID;
    /* Free sections keep their resume labels: the same HH:MM:SS:FF at the
     * new rate, which must exist there. Checked before anything changes. */
    for (size_t i = 0; i < m->nmarks; i++)
        if (m->marks[i].free && resume_at(m->marks[i].resume_frame, m->fps, fps, NULL) < 0)
            return TT_ERR_INVALID;
    int64_t old_frame = m->start_frame;
    tt_fps_t old_fps = m->fps;
    for (size_t i = 0; i < m->nmarks; i++)
        if (m->marks[i].free)
            m->marks[i].resume_frame = resume_at(m->marks[i].resume_frame, old_fps, fps, NULL);
    m->start_frame = frame;
    m->fps = fps;
    /* Re-timed frame clicks may stretch a streamer in beats past 10 s. */
    if (settle(m, 0, NULL) != 0 || tt_tempo_check_visuals(m, NULL) != 0) {
        for (size_t i = 0; i < m->nmarks; i++)
            if (m->marks[i].free)
                m->marks[i].resume_frame = resume_at(m->marks[i].resume_frame, fps, old_fps, NULL);
        m->start_frame = old_frame;
        m->fps = old_fps;
        settle(m, 0, NULL);
        return TT_ERR_INVALID;
    }
    return 0;
}

void tt_tempo_destroy(tt_tempo_map_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_tempo_map_t *m = *self_p;
    free(m->meters);
    free(m->marks);
    free(m->switches);
    free(m->subdivs);
    free(m->markers);
    free(m->visuals);
    free(m);
    *self_p = NULL;
}

static int meter_equal(const tt_meter_t *a, const tt_meter_t *b)
{
    return a->num == b->num && a->den == b->den && a->ngroups == b->ngroups &&
           memcmp(a->groups, b->groups, sizeof a->groups) == 0;
}

static int value_equal(const tt_tempo_value_t *a, const tt_tempo_value_t *b)
{
    return a->unit == b->unit && a->frames8 == b->frames8 && a->n == b->n && a->d == b->d;
}

int tt_tempo_equal(const tt_tempo_map_t *a, const tt_tempo_map_t *b)
{
    if (a->countoff != b->countoff || a->start_frame != b->start_frame || a->fps != b->fps ||
        a->pickup != b->pickup || a->end_bar != b->end_bar || a->nmeters != b->nmeters ||
        a->nmarks != b->nmarks || a->nswitches != b->nswitches || a->nmarkers != b->nmarkers ||
        a->nsubdivs != b->nsubdivs || a->nvisuals != b->nvisuals)
        return 0;
    for (size_t i = 0; i < a->nvisuals; i++) {
        const tt_visual_spec_t *x = &a->visuals[i], *y = &b->visuals[i];
        if (x->kind != y->kind || bbt_cmp(x->pos, y->pos) != 0 || x->len_unit != y->len_unit ||
            x->len_milli != y->len_milli || x->flashes != y->flashes || x->color != y->color ||
            x->rgb != y->rgb || strcmp(x->name, y->name) != 0)
            return 0;
    }
    for (size_t i = 0; i < a->nsubdivs; i++)
        if (a->subdivs[i].bar != b->subdivs[i].bar || a->subdivs[i].n != b->subdivs[i].n)
            return 0;
    for (size_t i = 0; i < a->nmarkers; i++)
        if (bbt_cmp(a->markers[i].pos, b->markers[i].pos) != 0 ||
            strcmp(a->markers[i].name, b->markers[i].name) != 0)
            return 0;
    for (size_t i = 0; i < a->nmeters; i++) {
        const meter_t *x = &a->meters[i], *y = &b->meters[i];
        if (x->bar != y->bar || !meter_equal(&x->mt, &y->mt))
            return 0;
    }
    for (size_t i = 0; i < a->nmarks; i++) {
        const mark_t *x = &a->marks[i], *y = &b->marks[i];
        if (x->tick != y->tick || x->n != y->n || x->d != y->d || x->ramp != y->ramp ||
            x->kind != y->kind || x->named != y->named || x->over != y->over ||
            x->free != y->free || (x->free && x->resume_frame != y->resume_frame) ||
            !value_equal(&x->v, &y->v))
            return 0;
    }
    for (size_t i = 0; i < a->nswitches; i++)
        if (a->switches[i].bar != b->switches[i].bar || a->switches[i].on != b->switches[i].on)
            return 0;
    return 1;
}

/* ---- reading ---- */

int tt_tempo_countoff_bars(const tt_tempo_map_t *m)
{
    return m->countoff;
}

int tt_tempo_pickup_beats(const tt_tempo_map_t *m)
{
    return m->pickup;
}

int32_t tt_tempo_end_bar(const tt_tempo_map_t *m)
{
    return m->end_bar;
}

int64_t tt_tempo_start_frame(const tt_tempo_map_t *m)
{
    return m->start_frame;
}

tt_fps_t tt_tempo_fps(const tt_tempo_map_t *m)
{
    return m->fps;
}

/* Tick of the first click of the lead-in: the count-off bars, or the
 * pickup alone. */
static int64_t lead_in_tick(const tt_tempo_map_t *m)
{
    if (m->countoff)
        return -(int64_t)m->countoff * bar_ticks(&m->meters[0]);
    return -(int64_t)m->pickup * beat_ticks(&m->meters[0]);
}

int64_t tt_tempo_start_ns(const tt_tempo_map_t *m)
{
    return tt_tempo_tick_to_ns(m, lead_in_tick(m));
}

void tt_tempo_meter_at(const tt_tempo_map_t *m, int32_t bar, int32_t *num, int32_t *den)
{
    const meter_t *mt = meter_by_bar(m, bar);
    if (num)
        *num = mt->mt.num;
    if (den)
        *den = mt->mt.den;
}

void tt_tempo_meter_full_at(const tt_tempo_map_t *m, int32_t bar, tt_meter_t *out)
{
    *out = meter_by_bar(m, bar)->mt;
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
        approx = x * m->marks[0].seg / NS_TICK_BPM;
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
        return (double)m->marks[0].seg;
    long double x = (long double)ns;
    const mark_t *mk = &m->marks[mark_by_ns(m, x)];
    if (mk->k == 0.0L)
        return (double)mk->seg;
    long double bpm = mk->seg + mk->k * seg_ticks(mk, x - mk->ns);
    /* Stay inside the ramp's ends despite rounding. */
    long double end = (mk + 1)->bpm;
    long double lo = mk->seg < end ? mk->seg : end, hi = mk->seg < end ? end : mk->seg;
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

/* ---- listing ---- */

int64_t tt_tempo_walk_peek(const tt_tempo_map_t *m, tt_tempo_walk_t *w)
{
    w->ti = w->i < m->nmeters ? m->meters[w->i].tick : INT64_MAX;
    w->tj = w->j < m->nmarks ? m->marks[w->j].tick : INT64_MAX;
    w->tk = w->k < m->nswitches ? tt_tempo_bbt_to_tick(m, (tt_bbt_t){m->switches[w->k].bar, 1, 0})
                                : INT64_MAX;
    w->tq = w->q < m->nsubdivs ? tt_tempo_bbt_to_tick(m, (tt_bbt_t){m->subdivs[w->q].bar, 1, 0})
                               : INT64_MAX;
    int64_t t = w->ti < w->tj ? w->ti : w->tj;
    t = w->tk < t ? w->tk : t;
    w->t = w->tq < t ? w->tq : t;
    return w->t;
}

void tt_tempo_walk_step(tt_tempo_walk_t *w)
{
    w->i += w->ti == w->t;
    w->j += w->tj == w->t;
    w->k += w->tk == w->t;
    w->q += w->tq == w->t;
}

int tt_tempo_change(const tt_tempo_map_t *m, size_t index, tt_tempo_change_t *out)
{
    /* index counts the walk's positions. */
    tt_tempo_walk_t w = {0};
    for (size_t n = 0;; n++, tt_tempo_walk_step(&w)) {
        int64_t t = tt_tempo_walk_peek(m, &w);
        if (t == INT64_MAX)
            return TT_ERR_NOTFOUND;
        if (n < index)
            continue;
        memset(out, 0, sizeof *out);
        out->tick = t;
        out->ns = tt_tempo_tick_to_ns(m, t);
        out->pos = tt_tempo_tick_to_bbt(m, t);
        out->click = -1;
        if (w.ti == t) {
            out->has_meter = 1;
            out->meter = m->meters[w.i].mt;
        }
        if (w.tj == t) {
            const mark_t *mk = &m->marks[w.j];
            out->has_tempo = 1;
            out->v = mk->v;
            out->bpm = (double)mk->seg;
            out->bpm_n = mk->n;
            out->bpm_d = mk->d;
            out->ramp = mk->ramp;
            out->named = mk->kind == MARK_NAMED ? mk->named : 0;
            out->over = mk->over;
            out->implied = mk->kind == MARK_END || mk->kind == MARK_FREE || mk->kind == MARK_RESUME;
            out->free_from = mk->free;
            if (mk->free && w.j + 1 < m->nmarks) {
                out->free_until = tt_tempo_tick_to_bbt(m, m->marks[w.j + 1].tick).bar;
                out->resume_frame = mk->resume_frame;
            }
        }
        if (w.tk == t)
            out->click = m->switches[w.k].on;
        if (w.tq == t)
            out->subdivide = m->subdivs[w.q].n;
        return 0;
    }
}

/* ---- clicks ---- */

/* The click switch state at tick (on before the first switch); *next_on
 * the tick of the first later switch that turns the click on (INT64_MAX:
 * none), when it is off. Switches lie on bar lines, so the one in force is
 * the last whose bar is at or before tick's bar. */
static int switch_on_at(const tt_tempo_map_t *m, int64_t tick, int64_t *next_on)
{
    *next_on = INT64_MAX;
    if (!m->nswitches)
        return 1;
    int32_t bar = tt_tempo_tick_to_bbt(m, tick).bar;
    size_t lo = 0, hi = m->nswitches;
    while (lo < hi) { /* first switch with bar > tick's bar */
        size_t mid = lo + (hi - lo) / 2;
        if (m->switches[mid].bar <= bar)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || m->switches[lo - 1].on)
        return 1;
    for (size_t i = lo; i < m->nswitches; i++)
        if (m->switches[i].on) {
            *next_on = tt_tempo_bbt_to_tick(m, (tt_bbt_t){m->switches[i].bar, 1, 0});
            break;
        }
    return 0;
}

int64_t tt_tempo_end_tick(const tt_tempo_map_t *m)
{
    if (!m->end_bar)
        return INT64_MAX;
    return tt_tempo_bbt_to_tick(m, (tt_bbt_t){m->end_bar + 1, 1, 0});
}

/* 1 if the click sounds at tick; else 0 and *resume the first tick from
 * which it might (INT64_MAX: never again). */
static int sounding(const tt_tempo_map_t *m, int64_t tick, int64_t *resume)
{
    *resume = INT64_MAX;
    if (tick >= tt_tempo_end_tick(m))
        return 0;
    if (tick >= 0) {
        size_t i = mark_by_tick(m, tick);
        if (m->marks[i].free && i + 1 < m->nmarks) {
            *resume = m->marks[i + 1].tick;
            return 0;
        }
    }
    if (!switch_on_at(m, tick, resume))
        return 0;
    return 1;
}

/* Mark i (>= 1) changes the tempo: a step to another tempo, or the start
 * of a ramp, a rit/accel or free time, or the resume after it. */
static int mark_changes(const tt_tempo_map_t *m, size_t i)
{
    const mark_t *mk = &m->marks[i], *prev = &m->marks[i - 1];
    if (mk->kind == MARK_NAMED || mk->kind == MARK_FREE || mk->kind == MARK_RESUME)
        return 1;
    if (i + 1 < m->nmarks && m->marks[i + 1].ramp)
        return 1; /* a ramp starts here */
    return !mk->ramp && (mk->n != prev->n || mk->d != prev->d);
}

int tt_tempo_bar_changes_tempo(const tt_tempo_map_t *m, int32_t bar)
{
    if (bar < 1 || bar > TT_TEMPO_MAX_BAR || m->nmarks < 2)
        return 0;
    int64_t a = tt_tempo_bbt_to_tick(m, (tt_bbt_t){bar, 1, 0});
    int64_t b = tt_tempo_bbt_to_tick(m, (tt_bbt_t){bar + 1, 1, 0});
    size_t i = mark_by_tick(m, a);
    if (m->marks[i].tick < a)
        i++;
    for (; i < m->nmarks && m->marks[i].tick < b; i++)
        if (i >= 1 && mark_changes(m, i))
            return 1;
    return 0;
}

int tt_tempo_click_on_at(const tt_tempo_map_t *m, int64_t tick)
{
    int64_t r;
    return sounding(m, tick, &r);
}

/* The click group that beat (0-based) of a meter starts, 1-based, or 0. */
static int group_of_beat(const tt_meter_t *mt, int beat, int *clicks)
{
    if (!mt->ngroups) {
        *clicks = mt->num;
        return beat + 1;
    }
    *clicks = mt->ngroups;
    int at = 0;
    for (int g = 0; g < mt->ngroups; g++) {
        if (at == beat)
            return g + 1;
        at += mt->groups[g];
    }
    return 0;
}

static void fill_click(const tt_tempo_map_t *m, int64_t tick, int group, int clicks,
                       tt_click_t *out)
{
    const meter_t *mt = meter_by_tick(m, tick);
    out->tick = tick;
    out->ns = tt_tempo_tick_to_ns(m, tick);
    out->pos = tt_tempo_tick_to_bbt(m, tick);
    out->beats = mt->mt.num;
    out->downbeat = out->pos.beat == 1;
    out->accent = out->downbeat ? TT_CLICK_DOWNBEAT : TT_CLICK_BEAT;
    /* The pickup's beats are music, the rest of the lead-in count-off. */
    out->countoff = tick < -(int64_t)m->pickup * beat_ticks(&m->meters[0]);
    out->group = group;
    out->clicks = clicks;
}

int tt_tempo_next_click(const tt_tempo_map_t *m, int64_t at_or_after_ns, tt_click_t *out)
{
    int64_t first = lead_in_tick(m);
    int64_t b;
    if (at_or_after_ns <= tt_tempo_tick_to_ns(m, first)) {
        b = first;
    } else {
        int64_t t = tt_tempo_ns_to_tick(m, at_or_after_ns);
        const meter_t *mt = meter_by_tick(m, t);
        int64_t bt = beat_ticks(mt);
        /* Beats lie on a grid from each meter change: bar lines are whole
         * beats of the meter before, so the grid never straddles a change. */
        b = mt->tick + floor_div(t - mt->tick, bt) * bt;
        if (tt_tempo_tick_to_ns(m, b) < at_or_after_ns)
            b += bt;
    }
    /* Step beat by beat within a bar, jump over silent stretches. Each
     * jump passes a switch, a free section or a meter's bar, so this ends. */
    for (;;) {
        if (b >= TT_TEMPO_TICK_LIMIT)
            return TT_ERR_NOTFOUND;
        int64_t resume;
        if (!sounding(m, b, &resume)) {
            if (resume == INT64_MAX)
                return TT_ERR_NOTFOUND;
            /* Onto the first beat at or after resume (a bar line or a mark). */
            const meter_t *mt = meter_by_tick(m, resume);
            int64_t bt = beat_ticks(mt);
            b = mt->tick + floor_div(resume - mt->tick + bt - 1, bt) * bt;
            continue;
        }
        const meter_t *mt = meter_by_tick(m, b);
        tt_bbt_t p = tt_tempo_tick_to_bbt(m, b);
        int clicks, g = group_of_beat(&mt->mt, p.beat - 1, &clicks);
        if (g) {
            fill_click(m, b, g, clicks, out);
            return 0;
        }
        b += beat_ticks(mt);
    }
}

int64_t tt_tempo_countoff(const tt_tempo_map_t *m, int32_t from_bar, tt_tempo_countoff_t *out)
{
    tt_bbt_t b1 = {from_bar, 1, 0}, b2 = {from_bar, 2, 0};
    const meter_t *mt = meter_by_bar(m, from_bar);
    memset(out, 0, sizeof *out);
    out->c_from = tt_tempo_bbt_to_ns(m, b1);
    out->beats_per_bar = mt->mt.num;
    out->beat_ns = tt_tempo_bbt_to_ns(m, b2) - out->c_from;
    int pickup = from_bar == 1 ? m->pickup : 0;
    out->beats = m->countoff ? m->countoff * mt->mt.num : pickup;
    out->pickup = pickup;
    for (int beat = 0, g = 0; beat < mt->mt.num; g++) {
        out->group_starts |= UINT32_C(1) << beat;
        beat += mt->mt.ngroups ? mt->mt.groups[g] : 1;
    }
    return (int64_t)out->beats * out->beat_ns;
}

int tt_tempo_countoff_click(const tt_tempo_countoff_t *co, int i, tt_click_t *out)
{
    if (i < 0 || i >= co->beats || co->beats_per_bar < 1)
        return 0;
    /* Beat i's place in its bar: the lead-in ends on a bar line. */
    int back = co->beats - i;
    int in_bar = ((-back) % co->beats_per_bar + co->beats_per_bar) % co->beats_per_bar;
    if (!(co->group_starts >> in_bar & 1u))
        return 0;
    memset(out, 0, sizeof *out);
    out->ns = -(int64_t)back * co->beat_ns;
    out->beats = co->beats_per_bar;
    out->downbeat = in_bar == 0;
    out->accent = out->downbeat ? TT_CLICK_DOWNBEAT : TT_CLICK_BEAT;
    out->countoff = back > co->pickup;
    out->pos.beat = in_bar + 1;
    return 1;
}
