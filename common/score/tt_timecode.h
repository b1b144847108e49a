/* tt_timecode: SMPTE timecode labels, frame counts and real time, exactly.
 *
 * A cue's start and every take's placement are written as SMPTE timecode
 * ("01:00:00:00"), but the clock, the click and LTC need real time and
 * sample positions. Everything here is pure integer arithmetic on one
 * number, the frame count: frames since the label 00:00:00:00, counted
 * without gaps at the real frame rate. Labels, nanoseconds and samples are
 * all derived from it, so conversions are exact and never drift (no
 * floating point; products that could overflow int64 use __int128).
 *
 * Two things differ between the rates and are easy to mix up:
 *   - label rate (tt_fps_nominal): how many frame labels make one label
 *     second (24, 25 or 30);
 *   - real rate (tt_fps_rate): how many frames pass per real second.
 * 23.976 and 24 share labels, but 23.976 runs 1001/1000 slower: its
 * 01:00:00:00 is 86400 frames = 3603.6 s after 00:00:00:00. 29.97 non-drop
 * labels run slow the same way (108000 frames = 3603.6 s per label hour).
 * 29.97 drop-frame skips labels ;00 and ;01 at the start of every minute
 * except minutes 00, 10, 20, 30, 40 and 50, so its labels follow the wall
 * clock: 01:00:00;00 is frame 107892 = 3599.9964 s, and a whole label day
 * (2589408 frames) is 86399.9136 s, about 2.6 frames short of 24 h.
 *
 * All functions are pure: no allocation, no locks, no I/O. They are safe to
 * call from the audio callback and from any thread.
 */
#ifndef TT_TIMECODE_H
#define TT_TIMECODE_H

#include <stdint.h>

/* "HH:MM:SS:FF" plus the terminating NUL. */
#define TT_TIMECODE_LEN 12

typedef enum {
    TT_FPS_23_976,    /* 24000/1001 frames/s, 24 labels/s */
    TT_FPS_24,        /* 24/1 */
    TT_FPS_25,        /* 25/1 */
    TT_FPS_29_97_DF,  /* 30000/1001, 30 labels/s, drop-frame labels */
    TT_FPS_29_97_NDF, /* 30000/1001, 30 labels/s, every label used */
    TT_FPS_30         /* 30/1 */
} tt_fps_t;

/* ---- frame rates ---- */

/* Parses a rate name, case-insensitive: "23.976", "24", "25", "29.97df",
 * "29.97ndf", "30". Plain "29.97" is refused as ambiguous (drop or non-drop
 * changes what every label means). Returns 0 and sets *out, or TT_ERR_INVALID
 * with *out left alone and the reason, listing the accepted names, in why
 * (TT_WHY_LEN bytes, may be NULL). */
int tt_fps_parse(const char *s, tt_fps_t *out, char *why);

/* The canonical name above, for printing and for tt_fps_parse. Static,
 * never NULL; "unknown" for a value outside the enum. */
const char *tt_fps_name(tt_fps_t fps);

/* Real frame rate as an exact fraction: frames per second = *num / *den.
 * 24000/1001, 24/1, 25/1, 30000/1001, 30000/1001, 30/1. */
void tt_fps_rate(tt_fps_t fps, int64_t *num, int64_t *den);

/* Frame labels per label second: 24, 24, 25, 30, 30, 30. Frame fields run
 * 00 .. nominal-1. */
int tt_fps_nominal(tt_fps_t fps);

/* 1 for TT_FPS_29_97_DF, else 0. */
int tt_fps_is_drop(tt_fps_t fps);

/* ---- labels ---- */

/* Frames from 00:00:00:00 to the next 00:00:00:00, i.e. how many labels a
 * day has: nominal * 86400, or 2589408 at 29.97df. Labels repeat with this
 * period. */
int64_t tt_timecode_frames_per_day(tt_fps_t fps);

/* Parses a label into its frame count since 00:00:00:00
 * (0 .. tt_timecode_frames_per_day - 1).
 *
 * Grammar: exactly two decimal digits per field, "HH:MM:SS:FF", nothing
 * before or after (no spaces, no sign). Hours 00-23, minutes and seconds
 * 00-59, frames 00 .. nominal-1. At 29.97df any separator may be ':' or
 * ';' ("00:01:00;02", "00;01;00;02" and "00:01:00:02" are the same label);
 * at the other rates only ':' is accepted, because ';' marks a drop-frame
 * label and reading one at a non-drop rate would silently shift it. At
 * 29.97df the labels that do not exist (frames 00 and 01 of a minute not
 * divisible by 10, e.g. 00:01:00;00) are refused.
 *
 * Returns 0 and sets *frame, or TT_ERR_INVALID with the reason in why
 * (TT_WHY_LEN bytes, may be NULL); *frame is left alone on failure. */
int tt_timecode_parse(const char *s, tt_fps_t fps, int64_t *frame, char *why);

/* Writes the label of a frame count into out: "HH:MM:SS:FF", or
 * "HH:MM:SS;FF" at 29.97df. Any int64 is accepted: the count is taken
 * modulo tt_timecode_frames_per_day, so labels wrap at 24 h and negative
 * counts wrap backwards (-1 is 23:59:59:23 at 24 fps). */
void tt_timecode_format(int64_t frame, tt_fps_t fps, char out[TT_TIMECODE_LEN]);

/* The same label split into fields. Any pointer may be NULL. */
void tt_timecode_fields(int64_t frame, tt_fps_t fps, int *h, int *m, int *s, int *f);

/* ---- real time and samples ----
 *
 * These do not wrap: frame N is N frame durations after frame 0 (negative
 * N is before it). Results that would not fit in int64 saturate at
 * INT64_MIN / INT64_MAX (only beyond about 292 years of nanoseconds). */

/* Real time in nanoseconds from the start of frame 0 to the start of this
 * frame: frame * den * 1e9 / num rounded to the nearest ns (exact halves
 * round up). */
int64_t tt_timecode_frame_to_ns(int64_t frame, tt_fps_t fps);

/* The frame that contains the instant ns (negative ns is fine): the largest
 * frame whose tt_timecode_frame_to_ns is <= ns. This is floor(ns * num /
 * (den * 1e9)) except within half a nanosecond of a frame start, where it
 * follows the rounded start, so the two functions are exact inverses:
 *   tt_timecode_ns_to_frame(tt_timecode_frame_to_ns(f)) == f
 *   tt_timecode_ns_to_frame(tt_timecode_frame_to_ns(f) - 1) == f - 1 */
int64_t tt_timecode_ns_to_frame(int64_t ns, tt_fps_t fps);

/* Index of the first sample at or after the start of this frame, with
 * sample 0 at the start of frame 0: ceil(frame * den * sample_rate / num),
 * exactly. At 25 fps and 48 kHz frames start every 1920 samples; at 29.97
 * every 1601.6 on average (1601 or 1602). sample_rate must be > 0. */
int64_t tt_timecode_frame_to_sample(int64_t frame, tt_fps_t fps, int sample_rate);

/* The frame that contains sample index sample: floor(sample * num /
 * (den * sample_rate)). The inverse of tt_timecode_frame_to_sample:
 *   tt_timecode_sample_to_frame(tt_timecode_frame_to_sample(f)) == f
 * for every rate of at least one sample per frame. sample_rate must be > 0. */
int64_t tt_timecode_sample_to_frame(int64_t sample, tt_fps_t fps, int sample_rate);

#endif
