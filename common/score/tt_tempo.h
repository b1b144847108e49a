/* tt_tempo: a cue's tempo map, and exact bar|beat|tick <-> time conversions.
 *
 * Every room renders the click, the count-off and the bar/beat display from
 * the same map, so the map is a value that travels as text (the canonical
 * form below goes into the log record and to every agent) and converts
 * deterministically: the same map gives the same nanosecond on every machine.
 *
 * ---- Model ----
 *
 * Positions are ticks, TT_TEMPO_PPQ (960) per quarter note, counted from bar
 * 1 beat 1 (tick 0). Time is nanoseconds from bar 1 beat 1 (time 0). The
 * map holds:
 *   - meter changes, at bar lines only: from bar B on, each bar has NUM beats
 *     of 1/DEN notes (DEN 1, 2, 4, 8, 16 or 32). A beat is the denominator
 *     unit: in 6/8 a beat is an eighth note (480 ticks) and the click clicks
 *     six times a bar. Bar 1 always carries a meter.
 *   - tempo marks, at any tick >= 0: a tempo in quarter notes per minute
 *     (20..400, an exact fraction), either a step (the tempo changes at the
 *     mark) or a ramp (see below). Tick 0 always carries a step.
 *   - count-off bars (0..8) before bar 1, in bar 1's meter and tempo;
 *   - the start timecode: the frame count (tt_timecode) of bar 1 beat 1,
 *     i.e. of time 0, and its frame rate. Count-off clicks come before the
 *     start timecode.
 *
 * Bars before bar 1 continue the first meter backwards: bar 0 is the bar just
 * before bar 1, bar -1 the one before it, and so on. With "countoff 2" the
 * count-off bars are bar -1 and bar 0, and the first count-off click is bar
 * -1 beat 1. Time before 0 runs at the tempo of tick 0 whatever follows.
 *
 * Ramps. A ramp mark "q=B1 ramp" at tick T1, whose previous mark is (T0, B0),
 * makes the tempo change linearly in musical position (quarter notes), not in
 * time, from B0 at T0 to B1 at T1; from T1 on the tempo is B1. Writing
 * q = quarter notes from T0, L = (T1 - T0) / 960 and k = (B1 - B0) / L:
 *     bpm(q)   = B0 + k q
 *     t(q)     = integral 60 / bpm(x) dx from 0 to q  [seconds]
 *              = (60 / k) ln(1 + k q / B0)        (= 60 q / B0 when k = 0)
 *     q(t)     = (B0 / k) (exp(k t / 60) - 1)     (inverse)
 * e.g. 60 -> 120 over 4 quarters: k = 15, t(4) = 4 ln 2 s = 2.7725887 s. A
 * ramp thus starts at the previous mark: to hold a tempo and then ramp,
 * restate the tempo where the ramp begins ("bar 13 q=92" then "bar 17
 * q=100 ramp"). Ramps ignore meter changes, which may fall inside them.
 *
 * Exactness. Each segment between marks is evaluated from its own start with
 * the closed forms above in long double; the time of each mark is stored
 * (cumulative, long double), so positions far into a cue do not drift.
 * tt_tempo_tick_to_ns rounds to the nearest ns; tt_tempo_ns_to_tick returns
 * the last tick whose rounded time is <= ns, so the two are exact inverses at
 * every tick (ticks are at least 156250 ns apart at 400 bpm).
 *
 * Range. Conversions clamp positions to +-TT_TEMPO_TICK_LIMIT ticks (about
 * 143 million quarter notes, 13 years at 20 bpm); marks and meter changes
 * lie at or before bar TT_TEMPO_MAX_BAR.
 *
 * ---- Text format ----
 *
 *   # 1M1 "Main Title"
 *   fps 29.97df
 *   start 00:59:58;00
 *   countoff 2
 *   bar 1 4/4 q=92
 *   bar 9 3/4
 *   bar 13 q=92
 *   bar 17 4/4 q=100 ramp
 *   at 20.3.480 q=88
 *
 * Grammar (ASCII; lines end with LF, an optional CR before it is ignored):
 *   file      = { line }
 *   line      = [ws] [statement [ws]] [comment] EOL
 *   statement = "fps" ws RATE              rate name of tt_fps_parse: 23.976 24
 *                                          25 29.97df 29.97ndf 30 (default 24)
 *             | "start" ws TIMECODE        label of bar 1 beat 1 at the file's
 *                                          fps, HH:MM:SS:FF (';' at 29.97df)
 *                                          (default 00:00:00:00)
 *             | "countoff" ws 0..8         count-off bars (default 0)
 *             | "bar" ws BAR [ws METER] [ws TEMPO]
 *             | "at" ws BAR "." BEAT "." TICK ws TEMPO
 *   METER     = NUM "/" DEN                NUM 1..32, DEN 1 2 4 8 16 32
 *   TEMPO     = "q=" BPM [ws "ramp"]       quarter notes per minute, 20..400
 *   BPM       = DIGITS ["." 1..9 DIGITS]   decimal: 92  92.5  91.25
 *             | DIGITS "/" DIGITS          exact fraction, what MIDI imports
 *                                          need: 60000000 / 652174 us per
 *                                          quarter is q=30000000/326087;
 *                                          once reduced, both terms <= 1e9
 *                                          unless it is a short decimal
 *   BAR       = 1..1000000;  BEAT = 1..NUM of the bar's meter;
 *   TICK      = 0..(3840/DEN - 1), ticks into the beat (960 per quarter)
 *   ws        = one or more spaces or tabs
 *   comment   = "#" and any bytes up to the end of the line (UTF-8 is fine)
 * Rules: the first bar/at line is "bar 1 METER q=BPM" (no ramp); each
 * bar/at line lies strictly after the one before it (a bar line's position
 * is its beat 1); a "bar" line gives a meter, a tempo or both; "at" places
 * a tempo mark inside a bar (MIDI imports produce them). fps, start and
 * countoff appear at most once each, anywhere (start is read at the fps
 * given). Keywords are lower case; anything else on a line is an error
 * naming the line. Limits: TT_TEMPO_MAX_TEXT bytes, TT_TEMPO_MAX_LINES
 * lines, TT_TEMPO_MAX_EVENTS meter changes plus tempo marks in total.
 * Canonical form: fps, start, countoff, then one line per position in
 * order, no comments, single spaces; BPM as a decimal without trailing zeros
 * when exact to 9 decimals, else as a reduced fraction. "at" is written only
 * off beat 1 tick 0. parse(format(m)) equals m (tt_tempo_equal).
 *
 * ---- Lifetimes, threads, real time ----
 *
 * A map is owned by whoever created it (tt_tempo_new, tt_tempo_parse_text,
 * tt_smf_read) and freed with tt_tempo_destroy. Functions taking a const map
 * only read it: share a finished map between threads freely, but builders
 * and setters need exclusive access. The conversion and click functions
 * never allocate, lock, block or log: they are safe in the JACK process
 * callback.
 */
#ifndef TT_TEMPO_H
#define TT_TEMPO_H

#include <stddef.h>
#include <stdint.h>

#include "tt_timecode.h"

#define TT_TEMPO_PPQ 960 /* ticks per quarter note */
#define TT_TEMPO_MIN_BPM 20
#define TT_TEMPO_MAX_BPM 400
#define TT_TEMPO_MAX_COUNTOFF 8
#define TT_TEMPO_MAX_BAR 1000000
#define TT_TEMPO_MAX_TEXT (64 * 1024) /* bytes of text parsed */
#define TT_TEMPO_MAX_LINES 4096
/* Meter changes + tempo marks. Keeps every canonical text (at most 47 bytes
 * a line) well under TT_TEMPO_MAX_TEXT, so any map formats and parses back. */
#define TT_TEMPO_MAX_EVENTS 1024
#define TT_TEMPO_TICK_LIMIT (INT64_C(1) << 37)
#define TT_TEMPO_DEFAULT_FPS TT_FPS_24

/* A musical position. beat counts from 1 in the bar's meter (denominator
 * units), tick from 0 within the beat (0 .. 3840/den - 1). Bars <= 0 are the
 * count-off (and earlier), see above. Functions returning a tt_bbt_t always
 * return it normalized; functions taking one accept beat and tick outside
 * those ranges as offsets from the bar's beat 1 in that bar's meter ("bar 1
 * beat 5" in 4/4 is bar 2 beat 1). */
typedef struct {
    int32_t bar;
    int32_t beat;
    int32_t tick;
} tt_bbt_t;

typedef struct tt_tempo_map tt_tempo_map_t;

/* One click: a beat of the click track. */
typedef struct {
    int64_t ns;    /* time from bar 1 beat 1, rounded to the nearest ns */
    int64_t tick;  /* position in ticks from bar 1 beat 1 */
    tt_bbt_t pos;  /* bar, beat, tick 0 */
    int32_t beats; /* beats in this bar (the meter's numerator) */
    int downbeat;  /* 1 on beat 1 (accent) */
    int countoff;  /* 1 in a count-off bar (bar <= 0) */
} tt_click_t;

/* ---- building ---- */

/* A new map whose bar 1 has meter num/den and tempo bpm_num/bpm_den (a
 * step at tick 0); no count-off, start 00:00:00:00 at TT_TEMPO_DEFAULT_FPS.
 * Returns NULL with the reason in why (TT_WHY_LEN bytes, may be NULL). The
 * caller owns the map. */
tt_tempo_map_t *tt_tempo_new(int32_t num, int32_t den, int64_t bpm_num, int64_t bpm_den, char *why);

/* Appends a meter change at the start of bar (after every meter change so
 * far, 2..TT_TEMPO_MAX_BAR). Marks already added keep their tick. Returns 0,
 * TT_ERR_INVALID or TT_ERR_TOO_BIG (TT_TEMPO_MAX_EVENTS) or TT_ERR_NOMEM,
 * with the reason in why; the map is unchanged on failure. */
int tt_tempo_add_meter(tt_tempo_map_t *m, int32_t bar, int32_t num, int32_t den, char *why);

/* Appends a tempo mark at tick (after every mark so far, at or before bar
 * TT_TEMPO_MAX_BAR in the meters added so far) with tempo bpm_num/bpm_den
 * quarter notes per minute (both 1..1e15; reduced, 20..400; a fraction that
 * is not a decimal of at most 9 places needs both terms <= 1e9 once
 * reduced). ramp: 0 step, 1 ramp from the previous mark. Returns as
 * tt_tempo_add_meter. */
int tt_tempo_add_tempo(tt_tempo_map_t *m, int64_t tick, int64_t bpm_num, int64_t bpm_den, int ramp,
                       char *why);

/* Count-off bars, 0..TT_TEMPO_MAX_COUNTOFF (a CLI override). Returns 0 or
 * TT_ERR_INVALID. */
int tt_tempo_set_countoff(tt_tempo_map_t *m, int bars);

/* Start timecode of bar 1 beat 1: frame count 0 .. frames_per_day(fps) - 1.
 * Returns 0 or TT_ERR_INVALID. */
int tt_tempo_set_start(tt_tempo_map_t *m, int64_t frame, tt_fps_t fps);

/* Frees the map and sets *self_p to NULL; safe on NULL and on *self_p NULL. */
void tt_tempo_destroy(tt_tempo_map_t **self_p);

/* ---- text ---- */

/* Parses the text format above. text need not be NUL-terminated. Returns a
 * new map (caller owns it) or NULL with "line N: ..." in why (TT_WHY_LEN
 * bytes, may be NULL). */
tt_tempo_map_t *tt_tempo_parse_text(const char *text, size_t len, char *why);

/* Writes the canonical text of m into a NUL-terminated malloc'd *out (the
 * caller frees it; at most TT_TEMPO_MAX_TEXT bytes). Returns 0, or
 * TT_ERR_NOMEM with *out NULL. */
int tt_tempo_format_text(const tt_tempo_map_t *m, char **out, char *why);

/* 1 if a and b are the same map (meters, marks with exact tempos and ramp
 * flags, count-off, start frame, fps), else 0. */
int tt_tempo_equal(const tt_tempo_map_t *a, const tt_tempo_map_t *b);

/* ---- reading (never allocate; real-time safe) ---- */

int tt_tempo_countoff_bars(const tt_tempo_map_t *m);
int64_t tt_tempo_start_frame(const tt_tempo_map_t *m);
tt_fps_t tt_tempo_fps(const tt_tempo_map_t *m);

/* Time of the first count-off click (bar 1 - countoff, beat 1): <= 0. */
int64_t tt_tempo_start_ns(const tt_tempo_map_t *m);

/* Meter of a bar (bars < 1 have bar 1's meter). */
void tt_tempo_meter_at(const tt_tempo_map_t *m, int32_t bar, int32_t *num, int32_t *den);

/* Positions: bbt <-> ticks from bar 1 beat 1 (clamped to the tick limit). */
int64_t tt_tempo_bbt_to_tick(const tt_tempo_map_t *m, tt_bbt_t pos);
tt_bbt_t tt_tempo_tick_to_bbt(const tt_tempo_map_t *m, int64_t tick);

/* Ticks <-> ns from bar 1 beat 1. tick_to_ns rounds to the nearest ns;
 * ns_to_tick is the last tick whose tick_to_ns is <= ns (floor), so
 * ns_to_tick(tick_to_ns(t)) == t for every t within the limit. */
int64_t tt_tempo_tick_to_ns(const tt_tempo_map_t *m, int64_t tick);
int64_t tt_tempo_ns_to_tick(const tt_tempo_map_t *m, int64_t ns);

/* The same through bbt: ns from bar 1 beat 1, and the tick at or before ns. */
int64_t tt_tempo_bbt_to_ns(const tt_tempo_map_t *m, tt_bbt_t pos);
tt_bbt_t tt_tempo_ns_to_bbt(const tt_tempo_map_t *m, int64_t ns);

/* Tempo in quarter notes per minute at time ns (inside a ramp, the
 * instantaneous tempo; at a step, the new tempo). */
double tt_tempo_bpm_at(const tt_tempo_map_t *m, int64_t ns);

/* Timecode: the frame count (tt_timecode) at time ns, i.e. the frame that
 * contains that instant, counting from the start frame at ns 0; and the ns
 * at which a frame starts. Format labels with tt_timecode_format. */
int64_t tt_tempo_ns_to_frame(const tt_tempo_map_t *m, int64_t ns);
int64_t tt_tempo_frame_to_ns(const tt_tempo_map_t *m, int64_t frame);

/* The first click at or after at_or_after_ns: one per beat from the first
 * count-off click on (an earlier time gives that click). The map has no end;
 * stop where the cue stops. Render a click track with
 *     for (t = INT64_MIN; tt_tempo_next_click(m, t, &c) == 0 && c.ns < end;
 *          t = c.ns + 1) ...
 * Returns 0, or TT_ERR_NOTFOUND past the tick limit. */
int tt_tempo_next_click(const tt_tempo_map_t *m, int64_t at_or_after_ns, tt_click_t *out);

/* The count-off of a roll from bar from_bar: the map's count-off bars in
 * the meter and beat of that bar. Fills clicks, beats per bar and the beat
 * length; returns the count-off's length in ns (clicks * beat). Real-time
 * safe. */
typedef struct {
    int clicks;
    int beats_per_bar;
    int64_t beat_ns;
    int64_t c_from; /* time of from_bar beat 1 */
} tt_tempo_countoff_t;
int64_t tt_tempo_countoff(const tt_tempo_map_t *m, int32_t from_bar, tt_tempo_countoff_t *out);

#endif
