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
 *     win). Tick 0 is bar 1 beat 1. Without events at tick 0 the file is
 *     4/4 at 120 bpm, as the SMF specification says.
 *   - set-tempo events are steps at any tick. They are placed on the map's
 *     960-per-quarter grid: exactly when the file's division divides into
 *     it (96, 120, 192, 240, 384, 480, 960 ... and multiples whose events
 *     fall on the grid), else at the nearest tick (at most half of 1/960
 *     quarter early or late). The tempo is kept exactly: 60000000 / (us per
 *     quarter) quarter notes per minute, which must lie in 20..400.
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
 * a previous status byte at byte 37". */
tt_tempo_map_t *tt_smf_read(const uint8_t *data, size_t len, char *why);

#endif
