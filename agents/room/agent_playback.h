/* agent_playback: the room's prelays and guide tracks, played in sync with
 * the roll's click.
 *
 * agent_prelay fetches and verifies the files; this module plays them. The
 * owner loads each verified file once (agent_playback_load: libsndfile
 * reads it, the channels are averaged to one, libsoxr resamples it to the
 * session rate), so the real-time path only reads memory. For each roll
 * the owner makes an agent_playback_roll_t: the loaded files of the roll's
 * cue, each placed on the cue's timeline by
 *   at_bar    the bar's downbeat in the tempo map the roll plays,
 *   at_frame  the timecode (frames at at_fps), against the map's start
 *             timecode,
 *   neither   the file's BWF TimeReference (samples since midnight at its
 *             own rate), against the map's start timecode; 0: bar 1,
 * and tied to session time as agent_click ties the click: session =
 * origin + (cue - c_from). The files sound from the from-bar's downbeat
 * (from bar 1: from the pickup) until the stop, exactly: a roll from a
 * later bar starts each file mid-way, silence comes before a file and
 * after it (but for the filter's reach, 16 samples, where a file starts or
 * ends abruptly), the count-off itself is silent, and nothing sounds
 * without a roll. Output sample i takes the file's value at its own
 * session instant t: file position (t - start) * rate, read between the
 * file's samples by a windowed-sinc fractional-delay filter (32 taps,
 * tabulated; its passband and error are stated in agent_playback.c). So a
 * file's events land where the map puts them to a fraction of a sample, as
 * the clicks do, and a room whose sound card runs fast or slow stays on the
 * click by reading the file a little faster or slower (band-limited
 * varispeed, no repeated or skipped samples). A file's samples that fall
 * on output samples play unchanged. Gates (the window's open, the stop)
 * stay on whole samples: the first output sample at or after the instant.
 *
 * Lifetimes: a roll borrows the loaded files (and the filter) of the
 * agent_playback_t it
 * was made from, which must outlive it (files are never unloaded while the
 * agent runs). Real-time rules: load, roll_new and roll_free allocate and
 * run outside the audio path; agent_playback_set_stop and
 * agent_playback_render never allocate, lock, log or block.
 */
#ifndef AGENT_PLAYBACK_H
#define AGENT_PLAYBACK_H

#include <stddef.h>
#include <stdint.h>

#include "agent_click.h"
#include "tt_clock_map.h"
#include "tt_media.h"

#define AGENT_PLAYBACK_MAX_FILES 64     /* loaded prelays and guides */
#define AGENT_PLAYBACK_MAX_SECONDS 3600 /* one file, at the session rate */

typedef struct agent_playback agent_playback_t;
typedef struct agent_playback_roll agent_playback_roll_t;

/* A library of loaded files at `rate` Hz. NULL with a reason in why. */
agent_playback_t *agent_playback_new(int rate, char *why);
/* Frees every file: destroy every renderer holding a roll first. Safe on NULL. */
void agent_playback_destroy(agent_playback_t **self_p);

/* Not real-time: loads the verified file at path for media entry e (a
 * prelay or guide; its placement and cue are copied). Loading a seq
 * already loaded does nothing. 0, or an error with a reason. */
int agent_playback_load(agent_playback_t *pb, const tt_media_entry_t *e, const char *path,
                        char *why);
/* Frames of the loaded file of seq at the session rate, or -1. */
int64_t agent_playback_frames(const agent_playback_t *pb, uint64_t seq);

/* Not real-time: the files of cue placed for a roll of map_text from
 * from_bar whose first lead-in click is at start_session_ns. A roll with
 * no file of the cue is still made (it plays silence). NULL with a reason
 * (a map that does not parse, no memory). */
agent_playback_roll_t *agent_playback_roll_new(const agent_playback_t *pb, const char *cue,
                                               const char *map_text, int32_t from_bar,
                                               int64_t start_session_ns, char *why);
void agent_playback_roll_free(agent_playback_roll_t **roll_p);

/* Files the roll plays; the session time file i's first sample is placed
 * at, and the window the roll sounds in [open, close). For reports and tests. */
size_t agent_playback_roll_files(const agent_playback_roll_t *roll);
int64_t agent_playback_roll_file_start(const agent_playback_roll_t *roll, size_t i);
void agent_playback_roll_window(const agent_playback_roll_t *roll, int64_t *open, int64_t *close);

/* Real-time safe: silence from session time at_session_ns on. */
void agent_playback_set_stop(agent_playback_roll_t *roll, int64_t at_session_ns);

/* Real-time safe: renders n samples from clk.s0 into out (overwritten):
 * the sum of the roll's files (roll NULL or m invalid: silence). */
void agent_playback_render(const agent_playback_roll_t *roll, const tt_clock_map_t *m,
                           const agent_click_clock_t *clk, float *out, int n);

#endif
