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
 * Beat units. A tempo is written in a beat unit: q (quarter), h (half), e
 * (eighth), w (whole), s (sixteenth), each optionally dotted (q. is a
 * dotted quarter, 3/2 of a quarter). "q.=60" is 60 dotted quarters, i.e.
 * 90 quarters, per minute. The map stores the tempo as written (unit and
 * value) and computes from its value in quarters per minute, which must
 * lie in 20..400.
 *
 * Frame clicks. A tempo may instead be a click-book period: "q=12-4" is a
 * quarter every 12 4/8 frames (frames 1..999, eighths 0..7), at the map's
 * frame rate F = num/den frames per second (tt_fps_rate):
 *     period = (12 + 4/8) * den / num s,  bpm = 60 / period * (quarters
 *     per unit)  -- exactly the fraction 480 num / (E8 den) per unit,
 *     E8 = 8 frames + eighths = 100 here.
 * The click book's tables are for 24 fps: 12-4 at 24 is 12.5/24 s =
 * 0.5208333 s (115.2 bpm). At 23.976 the same 12-4 is 12.5 frames of
 * 1001/24000 s = 0.5213542 s (115200/1001 = 115.0849 bpm): the click stays
 * locked to the picture frames, which at 23.976 run 1001/1000 slower than
 * the book's 24, exactly as the picture does. At 25: 0.5 s (120 bpm); at
 * 29.97: 12.5 * 1001/30000 s (144000/1001 bpm); at 30: 144 bpm. Changing
 * the map's frame rate (tt_tempo_set_start) re-times every frame click.
 *
 * Grouped meters. A meter may click in groups of beats: "6/8 in 2" clicks
 * on beats 1 and 4 (two groups of 3 eighths), "3+2+2/8" on beats 1, 4 and
 * 6. Beats (positions, "at" lines, locate) stay the denominator unit; only
 * the click follows the groups, accenting the first. "N/D in G" needs G to
 * divide N; a list of groups sums to N; at most TT_TEMPO_MAX_GROUPS groups.
 * Groups of one beat are no groups.
 *
 * Pickup. "pickup N" (beats of bar 1's meter, 1..NUM-1) makes the last N
 * beats of bar 0 part of the cue: they click as music (not count-off) and
 * are where a roll from bar 1 begins its music. Before bar 1 the roll
 * plays the count-off bars, whose last N beats are the pickup; with no
 * count-off it plays the pickup alone (tt_tempo_countoff).
 *
 * Named ramps. "rit q=80 over 8" (or "accel") at a position on a beat
 * ramps, by the ramp model above, from the tempo in force there to the
 * target over 8 beats of the meter at that position (a meter change inside
 * does not change its length): it is the pair "restate the tempo here" and
 * "q=80 ramp" 8 beats later, kept as one statement. A rit must slow down,
 * an accel speed up. No tempo may be written inside it or where it ends.
 *
 * Cue end. "end B": bar B is the last bar; the click stops at bar B+1 beat
 * 1. Conversions (positions, time, timecode) go on past it.
 *
 * Click off. "click off" at a bar line silences the click from there,
 * "click on" brings it back; the map (tempo, bars, timecode) runs on
 * unchanged.
 *
 * Subdivision. "subdivide N" at a bar line asks the players' click feed
 * (a room's "--click NAME:players") to click N times a beat from there
 * (N 2..6 or 8; each divides every beat's ticks), "subdivide 1" stops it.
 * It changes no time and no other feed.
 *
 * Free time. "bar A free until B at TC" (A >= 2, B > A): bars A .. B-1 are
 * played without the map's tempo and without a click; bar B beat 1 is at
 * timecode TC (a label at the map's fps; the first such label after bar A,
 * i.e. it may wrap past midnight), and from there the map resumes with the
 * tempo in force before bar A (after a rit, its target; a "bar B" line
 * may give another). Bars and
 * timecode keep their meaning on both sides. Inside the section, positions
 * and time convert as if it were played at the one constant tempo that
 * takes bar A to TC: bar A + x of its ticks is at time(A) + x / ticks(A..B)
 * * (time(B) - time(A)). So 12.2 in a free 4/4 bar 12 to bar 13 at TC is a
 * quarter of the way from bar 12 to TC. That tempo must not exceed 400
 * quarters per minute (TC far enough after bar A); no tempo and no meter
 * change may be written inside the section.
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
 *   pickup 1
 *   end 40
 *   bar 1 4/4 q=92
 *   bar 9 6/8 in 2 q.=12-4
 *   bar 13 3+2+2/8 e=300
 *   bar 17 4/4 q=100 ramp
 *   at 20.3.0 rit q=80 over 6
 *   bar 24 free until 26 at 01:00:31;00
 *   bar 30 click off
 *   bar 32 click on subdivide 2
 *   marker 24.1.0 Door slam
 *   streamer at 17.1 len 3s color green
 *   hit at 33.2.480 "door slam"
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
 *             | "pickup" ws BEATS          1..NUM-1 of bar 1's meter (default 0)
 *             | "end" ws BAR               the last bar (default: none)
 *             | "bar" ws BAR [ws METER] [ws CHANGE] [ws CLICK] [ws SUBDIV]
 *             | "at" ws BAR "." BEAT "." TICK ws (TEMPO | NAMED)
 *             | "marker" ws BAR "." BEAT "." TICK ws WORD {ws WORD}
 *                                          a named location: up to 10 words,
 *                                          64 bytes with single spaces
 *             | ("streamer" | "punch" | "flutter" | "warning" | "hit") ws
 *               "at" ws BAR "." BEAT ["." TICK] ...
 *                                          a visual marker: tt_tempo_visual.h
 *   METER     = NUM "/" DEN [ws "in" ws G] NUM 1..32, DEN 1 2 4 8 16 32,
 *                                          G divides NUM: clicks in G groups
 *             | N1 "+" N2 {"+" Ni} "/" DEN groups of beats, summing to <= 32
 *   CHANGE    = TEMPO | NAMED | FREE
 *   TEMPO     = UNIT "=" VALUE [ws "ramp"]
 *   NAMED     = ("rit" | "accel") ws UNIT "=" VALUE ws "over" ws 1..999
 *                                          (beats; at a beat, tick 0)
 *   FREE      = "free" ws "until" ws BAR ws "at" ws TIMECODE
 *   CLICK     = "click" ws ("off" | "on")
 *   SUBDIV    = "subdivide" ws N           N 2..6 or 8 clicks a beat for the
 *                                          players' feed, 1: off again
 *   UNIT      = ("w" | "h" | "q" | "e" | "s") ["."]
 *   VALUE     = BPM                        units per minute
 *             | FRAMES "-" EIGHTHS         a frame click: FRAMES 1..999,
 *                                          EIGHTHS 0..7
 *   BPM       = DIGITS ["." 1..9 DIGITS]   decimal: 92  92.5  91.25
 *             | DIGITS "/" DIGITS          exact fraction, what MIDI imports
 *                                          need: 60000000 / 652174 us per
 *                                          quarter is q=30000000/326087;
 *                                          once reduced, both terms <= 1e9
 *                                          unless it is a short decimal
 *   BAR       = 1..1000000;  BEAT = 1..NUM of the bar's meter;
 *   TICK      = 0..(3840/DEN - 1), ticks into the beat (960 per quarter)
 *   ws        = one or more spaces or tabs (a word that starts with '"' runs
 *               to the next '"' before a blank or the end of the line)
 *   comment   = "#" and any bytes up to the end of the line (UTF-8 is fine),
 *               except "#RRGGBB" after "color" on a visual marker's line
 * Every tempo, in quarters per minute, lies in 20..400.
 * Rules: the first bar/at line is "bar 1 METER TEMPO" (no ramp); each
 * bar/at line lies strictly after the one before it (a bar line's position
 * is its beat 1); a "bar" line gives at least one of meter, change, click,
 * subdivision;
 * "at" places a tempo mark inside a bar (MIDI imports produce them). fps,
 * start, countoff, pickup and end appear at most once each, anywhere
 * (start and free-time timecodes are read at the fps given; frame clicks
 * time at it). Keywords are lower case; anything else on a line is an
 * error naming the line. Limits: TT_TEMPO_MAX_TEXT bytes,
 * TT_TEMPO_MAX_LINES lines, TT_TEMPO_MAX_EVENTS meter changes plus tempo
 * marks plus click switches plus subdivisions plus markers in total (a rit,
 * a free section or a visual marker counts two), TT_TEMPO_MAX_MARKERS
 * markers, TT_TEMPO_MAX_VISUALS visual markers. Markers and visual markers
 * are read after every bar line (their positions in the final meters);
 * markers in order of position, visual markers in any order.
 * Canonical form: fps, start, countoff, then pickup and end when set, then
 * one line per position in order, then the markers in order, then the
 * visual markers in order, no comments, single spaces; BPM as a
 * decimal without trailing zeros when exact to 9 decimals, else as a
 * reduced fraction; meters in groups as "N/D in G" when the groups are
 * equal, else "A+B+C/D". "at" is written only off beat 1 tick 0. A map
 * written before these additions reads and writes exactly as before.
 * parse(format(m)) equals m (tt_tempo_equal).
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
/* Meter changes + tempo marks + click switches + markers + twice the visual
 * markers. Keeps every canonical text (at most 52 bytes an event, a marker
 * 87, a visual marker 121 for two) under TT_TEMPO_MAX_TEXT, so any map
 * formats and parses back. */
#define TT_TEMPO_MAX_EVENTS 1024
#define TT_TEMPO_MARKER_LEN 64
#define TT_TEMPO_MAX_MARKERS 128 /* of the events */
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

/* Beat units a tempo is written in (TT_UNIT_Q is 0, the default). */
typedef enum {
    TT_UNIT_Q,
    TT_UNIT_H,
    TT_UNIT_E,
    TT_UNIT_W,
    TT_UNIT_S,
    TT_UNIT_Q_DOT,
    TT_UNIT_H_DOT,
    TT_UNIT_E_DOT,
    TT_UNIT_W_DOT,
    TT_UNIT_S_DOT,
    TT_UNIT_COUNT
} tt_beat_unit_t;

/* A tempo as written: units per minute n/d, or (frames8 > 0) a frame click,
 * one unit every frames8/8 frames at the map's frame rate. */
typedef struct {
    int unit;        /* tt_beat_unit_t */
    int32_t frames8; /* 0: a rate; else 8 * frames + eighths, 8..7999 */
    int64_t n, d;    /* rate (frames8 == 0): units per minute n/d */
} tt_tempo_value_t;

#define TT_TEMPO_MAX_GROUPS 12   /* click groups in a bar */
#define TT_TEMPO_MAX_SUBDIVIDE 8 /* clicks a beat ("subdivide N"; not 7) */
/* A meter: num beats of 1/den notes, clicked in ngroups groups of
 * groups[i] beats (ngroups 0: a click on every beat). */
typedef struct {
    int32_t num, den;
    int ngroups;
    uint8_t groups[TT_TEMPO_MAX_GROUPS];
} tt_meter_t;

enum { TT_TEMPO_RIT = 1, TT_TEMPO_ACCEL = 2 };

/* Accent levels of a click. */
enum { TT_CLICK_BEAT = 1, TT_CLICK_DOWNBEAT = 2 };

/* One click: a beat (or a group's first beat) of the click track. */
typedef struct {
    int64_t ns;    /* time from bar 1 beat 1, rounded to the nearest ns */
    int64_t tick;  /* position in ticks from bar 1 beat 1 */
    tt_bbt_t pos;  /* bar, beat, tick 0 */
    int32_t beats; /* beats in this bar (the meter's numerator) */
    int downbeat;  /* 1 on beat 1 (accent) */
    int countoff;  /* 1 in the count-off (before the pickup and bar 1) */
    int accent;    /* TT_CLICK_DOWNBEAT on beat 1, else TT_CLICK_BEAT */
    int group;     /* 1-based: which click of the bar (the group, or the beat) */
    int clicks;    /* clicks in this bar (groups, or beats) */
} tt_click_t;

/* ---- building ---- */

/* A new map whose bar 1 has meter num/den and tempo bpm_num/bpm_den (a
 * step at tick 0); no count-off, start 00:00:00:00 at TT_TEMPO_DEFAULT_FPS.
 * Returns NULL with the reason in why (TT_WHY_LEN bytes, may be NULL). The
 * caller owns the map. */
tt_tempo_map_t *tt_tempo_new(int32_t num, int32_t den, int64_t bpm_num, int64_t bpm_den, char *why);
/* The same with a meter in groups and a tempo as written (a frame click
 * times at TT_TEMPO_DEFAULT_FPS until tt_tempo_set_start). */
tt_tempo_map_t *tt_tempo_new_with(const tt_meter_t *meter, const tt_tempo_value_t *v, char *why);

/* Appends a meter change at the start of bar (after every meter change so
 * far, 2..TT_TEMPO_MAX_BAR, not inside a free section). Marks already
 * added keep their tick. Returns 0, TT_ERR_INVALID or TT_ERR_TOO_BIG
 * (TT_TEMPO_MAX_EVENTS) or TT_ERR_NOMEM, with the reason in why; the map is
 * unchanged on failure. */
int tt_tempo_add_meter(tt_tempo_map_t *m, int32_t bar, int32_t num, int32_t den, char *why);
int tt_tempo_add_meter_with(tt_tempo_map_t *m, int32_t bar, const tt_meter_t *meter, char *why);

/* Appends a tempo mark at tick (after every mark so far, at or before bar
 * TT_TEMPO_MAX_BAR in the meters added so far) with tempo bpm_num/bpm_den
 * quarter notes per minute (both 1..1e15; reduced, 20..400; a fraction that
 * is not a decimal of at most 9 places needs both terms <= 1e9 once
 * reduced). ramp: 0 step, 1 ramp from the previous mark. At the tick where
 * a free section resumes it replaces the tempo resumed (a step only).
 * Returns as tt_tempo_add_meter. */
int tt_tempo_add_tempo(tt_tempo_map_t *m, int64_t tick, int64_t bpm_num, int64_t bpm_den, int ramp,
                       char *why);
/* The same with a tempo as written (unit, rate or frame click). */
int tt_tempo_add_value(tt_tempo_map_t *m, int64_t tick, const tt_tempo_value_t *v, int ramp,
                       char *why);

/* A rit (TT_TEMPO_RIT) or accel (TT_TEMPO_ACCEL) from tick (on a beat,
 * after every mark so far, not inside a ramp) to the tempo target over
 * `over` (1..999) beats of the meter at tick. Returns as tt_tempo_add_meter. */
int tt_tempo_add_named(tt_tempo_map_t *m, int64_t tick, int named, int32_t over,
                       const tt_tempo_value_t *target, char *why);

/* Free time from bar to until_bar (2 <= bar < until_bar), resuming at
 * timecode frame resume_frame (0 .. frames a day - 1 at the map's fps; the
 * first such label after bar). Returns as tt_tempo_add_meter. */
int tt_tempo_add_free(tt_tempo_map_t *m, int32_t bar, int32_t until_bar, int64_t resume_frame,
                      char *why);

/* Click off (on 0) or on (1) from bar on (after every switch so far,
 * 1..TT_TEMPO_MAX_BAR). Returns as tt_tempo_add_meter. */
int tt_tempo_add_click(tt_tempo_map_t *m, int32_t bar, int on, char *why);

/* "subdivide n" from bar on (after every subdivision so far, 1..
 * TT_TEMPO_MAX_BAR; n 1 (off), 2..6 or 8). Returns as tt_tempo_add_meter. */
int tt_tempo_add_subdivide(tt_tempo_map_t *m, int32_t bar, int n, char *why);

/* A named location (a MIDI marker, a hit point): name is 1..
 * TT_TEMPO_MARKER_LEN bytes of printable ASCII without '#', at most 10
 * words separated by single spaces; pos a position in the meters added so
 * far (bar 1..TT_TEMPO_MAX_BAR, beat and tick inside it), at or after the
 * previous marker's. At most TT_TEMPO_MAX_MARKERS. Returns as
 * tt_tempo_add_meter. */
int tt_tempo_add_marker(tt_tempo_map_t *m, tt_bbt_t pos, const char *name, char *why);

/* Marker i (0..): its position and name (borrowed from the map), or
 * TT_ERR_NOTFOUND past the last. */
int tt_tempo_marker(const tt_tempo_map_t *m, size_t i, tt_bbt_t *pos, const char **name);

/* Count-off bars, 0..TT_TEMPO_MAX_COUNTOFF (a CLI override). Returns 0 or
 * TT_ERR_INVALID. */
int tt_tempo_set_countoff(tt_tempo_map_t *m, int bars);

/* Pickup beats (0..bar 1's numerator - 1). Returns 0 or TT_ERR_INVALID. */
int tt_tempo_set_pickup(tt_tempo_map_t *m, int beats);

/* The last bar (1..TT_TEMPO_MAX_BAR), 0 for none. Returns 0 or
 * TT_ERR_INVALID (also when a visual marker would lie after the end). */
int tt_tempo_set_end(tt_tempo_map_t *m, int32_t bar);

/* Start timecode of bar 1 beat 1: frame count 0 .. frames_per_day(fps) - 1.
 * Re-times frame clicks (frames at the new rate) and free sections (their
 * resume labels stay the same HH:MM:SS:FF, read at the new rate). Returns
 * 0, or TT_ERR_INVALID (the map unchanged) when a value is out of range, a
 * frame click leaves 20..400, a free section's label does not exist or
 * does not fit at the new rate, or a streamer in beats would last over
 * 10 s. */
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
 * flags, click switches, subdivisions, markers, visual markers as written,
 * count-off, pickup, end, start frame, fps), else 0. */
int tt_tempo_equal(const tt_tempo_map_t *a, const tt_tempo_map_t *b);

/* Name of a beat unit ("q", "q.", ...; "?" for none). */
const char *tt_tempo_unit_name(int unit);
/* The text of v as the format writes it ("q=92.5", "q.=12-4",
 * "h=30000000/326087"), at most 48 bytes; returns snprintf's count. */
int tt_tempo_value_text(const tt_tempo_value_t *v, char *out, size_t room);
/* A meter as the format writes it ("3/4", "6/8 in 2", "3+2+2/8"), at most
 * 64 bytes; returns the length it needed (snprintf's count). */
int tt_tempo_meter_text(const tt_meter_t *mt, char *out, size_t room);

/* ---- reading (never allocate; real-time safe) ---- */

int tt_tempo_countoff_bars(const tt_tempo_map_t *m);
int tt_tempo_pickup_beats(const tt_tempo_map_t *m);
int32_t tt_tempo_end_bar(const tt_tempo_map_t *m); /* 0: none */
int64_t tt_tempo_start_frame(const tt_tempo_map_t *m);
tt_fps_t tt_tempo_fps(const tt_tempo_map_t *m);

/* Time of the first count-off click (bar 1 - countoff, beat 1): <= 0. */
int64_t tt_tempo_start_ns(const tt_tempo_map_t *m);

/* Clicks a beat the map asks of the players' feed in bar (1: none). */
int tt_tempo_subdivide_at(const tt_tempo_map_t *m, int32_t bar);

/* Meter of a bar (bars < 1 have bar 1's meter). */
void tt_tempo_meter_at(const tt_tempo_map_t *m, int32_t bar, int32_t *num, int32_t *den);
void tt_tempo_meter_full_at(const tt_tempo_map_t *m, int32_t bar, tt_meter_t *out);

/* One change of the map, in order of position, for listing it (tempo show,
 * MIDI export): index 0, 1, ... until it returns TT_ERR_NOTFOUND. A change
 * is a position with a meter change, a tempo mark (implied ones too: the
 * end of a rit, a free section's start and resume) or a click switch. */
typedef struct {
    int64_t tick;
    int64_t ns; /* time of the position */
    tt_bbt_t pos;
    int has_meter; /* a meter change here: meter */
    tt_meter_t meter;
    int has_tempo;        /* a tempo mark here: */
    tt_tempo_value_t v;   /* the tempo as written (for a rit/accel: the target) */
    double bpm;           /* quarters per minute from here (free: the fitted one) */
    int64_t bpm_n, bpm_d; /* the tempo at the mark, exactly (quarters per minute) */
    int ramp;             /* a ramp ends here */
    int named;            /* TT_TEMPO_RIT / ACCEL starts here; over beats */
    int32_t over;
    int implied;        /* not a line of its own: end of a rit, start/end of free time */
    int free_from;      /* free time starts here, until the next tempo mark */
    int32_t free_until; /* its bar */
    int64_t resume_frame;
    int click;     /* -1 no switch, 0 click off, 1 click on */
    int subdivide; /* 0 no change, else "subdivide N" from here */
} tt_tempo_change_t;
int tt_tempo_change(const tt_tempo_map_t *m, size_t index, tt_tempo_change_t *out);

/* 1 if the click sounds at tick (not in a click-off or free section, not
 * past the end bar); positions before the lead-in count as sounding. */
int tt_tempo_click_on_at(const tt_tempo_map_t *m, int64_t tick);

/* 1 if the tempo changes inside bar (1..): a mark there that steps to
 * another tempo, or where a ramp, rit/accel or free time starts, or free
 * time resumes. What the warning click feed warns of, a bar ahead. */
int tt_tempo_bar_changes_tempo(const tt_tempo_map_t *m, int32_t bar);

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

/* The first click at or after at_or_after_ns: one per beat (or per group's
 * first beat in a grouped meter) from the first count-off click on (an
 * earlier time gives that click), none in click-off and free sections, none
 * from the bar after the end bar on. Without an end the map has no end;
 * stop where the cue stops. Render a click track with
 *     for (t = INT64_MIN; tt_tempo_next_click(m, t, &c) == 0 && c.ns < end;
 *          t = c.ns + 1) ...
 * Returns 0, or TT_ERR_NOTFOUND past the end bar or the tick limit. */
int tt_tempo_next_click(const tt_tempo_map_t *m, int64_t at_or_after_ns, tt_click_t *out);

/* The lead-in of a roll from bar from_bar: the map's count-off bars in the
 * meter (and groups) and beat of that bar, ending at its beat 1. From bar 1
 * with a pickup, the last pickup beats of the lead-in are the pickup (music,
 * not count-off); with no count-off bars, the lead-in is the pickup alone.
 * Fills the struct; returns the lead-in's length in ns (beats * beat_ns).
 * Real-time safe. */
typedef struct {
    int beats;             /* beats in the lead-in */
    int beats_per_bar;     /* the meter's numerator at from_bar */
    int64_t beat_ns;       /* the first beat of from_bar, the lead-in's beat */
    int64_t c_from;        /* time of from_bar beat 1 */
    int pickup;            /* the last `pickup` beats are the pickup */
    uint32_t group_starts; /* bit b: beat b+1 of a bar starts a click group */
} tt_tempo_countoff_t;
int64_t tt_tempo_countoff(const tt_tempo_map_t *m, int32_t from_bar, tt_tempo_countoff_t *out);

/* Beat i (0 .. beats-1) of a lead-in: 1 and *out filled (ns relative to
 * c_from, so negative; pos, tick and group left 0) when it clicks, else 0. */
int tt_tempo_countoff_click(const tt_tempo_countoff_t *co, int i, tt_click_t *out);

#endif
