/* tt_smf: a Standard MIDI File's tempo track as a tt_tempo map.
 *
 * Composers deliver cues as MIDI files from their sequencer; the tempo and
 * meter in them are the cue's tempo map. This reader takes the file's bytes
 * (the caller reads the file) and keeps only what a tempo map needs:
 *
 *   - formats 0 and 1, with a PPQ division (ticks per quarter note). An
 *     SMPTE division, format 2, or anything malformed is refused with a
 *     reason naming the problem and its byte offset in the file.
 *   - set-tempo (FF 51) and time-signature (FF 58) meta events from every
 *     track, merged by tick (at one tick, later tracks and later events
 *     win). Tick 0 is bar 1 beat 1. Without a time signature at tick 0 the
 *     file is in 4/4 (the SMF default); without a set-tempo at tick 0 it
 *     is refused (the SMF default of 120 bpm is almost never the cue's).
 *   - set-tempo events are steps at any tick. They are placed on the map's
 *     960-per-quarter grid: exactly when the file's division divides into
 *     it (96, 120, 192, 240, 384, 480, 960 ... and multiples whose events
 *     fall on the grid), else at the nearest tick (at most half of 1/960
 *     quarter early or late). The tempo is written readably: the decimal
 *     of at most 3 places whose us per quarter rounds to the file's (q=72
 *     for 833333 us: the sequencer had 72 and the file rounded it to a
 *     whole us), else exactly 60000000 / (us per quarter); 20..400 bpm.
 *   - markers (FF 06) whose text reads as a visual marker's words
 *     (tt_tempo_visual.h: "streamer len 3s color green", "punch",
 *     "flutter 3", "warning", "hit door slam"), as it is or as the name it
 *     would be kept as, become visual markers at their position; cue points
 *     (FF 07) too, and other cue points are skipped. Other markers become
 *     the map's markers (named locations): printable ASCII ('?' for other
 *     bytes and '#'), single spaces, at most 10 words and 64 bytes; empty
 *     ones are skipped.
 *   - time signatures must fall exactly on a bar line of the meter before
 *     them; the denominator is 2^dd with dd 0..5 (1 .. 32), the numerator
 *     1..32. Repeated tempos and meters are dropped.
 *   - an SMPTE offset (FF 54) at tick 0, if present, sets the start
 *     timecode of bar 1 and the frame rate (rate bits 0: 24, 1: 25,
 *     2: 29.97df, 3: 30; sub-frames are ignored). Otherwise the map starts
 *     at 00:00:00:00 at TT_TEMPO_DEFAULT_FPS. No count-off.
 *
 * Other events are skipped but checked for framing: variable-length
 * quantities of at most 4 bytes, running status only after a channel
 * message (sysex and meta events do not cancel it, as many readers do),
 * sysex and meta lengths inside their track, no system real-time or common
 * status bytes. Unknown chunk types are skipped; bytes after the declared
 * tracks are ignored; a track may end without End of Track (FF 2F).
 * Limits: TT_SMF_MAX_BYTES, TT_SMF_MAX_TRACKS, TT_SMF_MAX_TEMPO_EVENTS raw
 * tempo/meter events, and the map's TT_TEMPO_MAX_EVENTS after merging.
 *
 * Pure: no I/O, no global state; the input is only read.
 */
#ifndef TT_SMF_H
#define TT_SMF_H

#include <stddef.h>
#include <stdint.h>

#include "tt_tempo.h"

#define TT_SMF_MAX_BYTES (16 * 1024 * 1024)
#define TT_SMF_MAX_TRACKS 64
#define TT_SMF_MAX_TEMPO_EVENTS 65536

/* Reads a MIDI file's tempo map from data[0..len). Returns a new map (the
 * caller owns it; free with tt_tempo_destroy) or NULL with the reason in why
 * (TT_WHY_LEN bytes, may be NULL), e.g. "MIDI file: running status without
 * a previous status byte at byte 37"; "not a MIDI file: ..." when data does
 * not start with MThd. */
tt_tempo_map_t *tt_smf_read(const uint8_t *data, size_t len, char *why);

/* Writes m as a Standard MIDI File for DAWs and streamer tools: format 0,
 * one track, 960 ticks per quarter, tick 0 = bar 1 beat 1. It holds a
 * time signature (FF 58) per meter change (clocks per click: the group's
 * length in a meter clicked in equal groups), a set-tempo (FF 51) per tempo
 * mark, rounded to the us; ramps as a step each sixteenth (or coarser, at
 * most 4096 steps a ramp) whose tempo gives that step's exact duration, so
 * bar times stay within a few us; free time at its fitted tempo (clamped to
 * the 24-bit limit, 3.6 bpm; tt_smf_read refuses under 20); the start as an
 * SMPTE offset (FF 54; 23.976 is written as 24 and 29.97 non-drop as 30,
 * their labels); markers (FF 06) for the map's markers and for what MIDI
 * cannot say: "rit q=80 over 6", "free until 26 at TC", "click off",
 * "click on", "end" after the last bar; a marker per visual marker with its
 * words ("streamer len 2s", "hit \"door slam\""), which read back as the
 * same. Count-off, pickup and visual markers in bar 0 (before tick 0) are
 * not written. *out is malloc'd (the caller frees it). Returns 0 or
 * TT_ERR_NOMEM / TT_ERR_TOO_BIG with the reason. */
int tt_smf_write(const tt_tempo_map_t *m, uint8_t **out, size_t *len, char *why);

#endif
