/* agent_capture: the room's local recording of every take, one mono
 * 24-bit Broadcast WAV per input, placed on the session timecode timeline.
 *
 * Timeline. Input audio is addressed by session sample index
 *     S = round(session_ns * rate / 1e9)
 * (agent_capture_sample). The source hands in blocks tagged with the S of
 * their first frame and the source's own frame counter: JACK periods from
 * the process callback (agent_capture_rt_push), or the --capture-from file
 * played in by agent_capture_tick. Blocks whose frame counter continues
 * the previous one are laid end to end (a sound card's samples stay
 * contiguous; drift between the card and the session clock is not
 * resampled away). A block that does not continue the last (an xrun, a
 * full ring, a new --capture-from playback) or whose S strays more than
 * AGENT_CAPTURE_RESYNC_S seconds from where contiguity puts it (the
 * session clock stepped) is placed at its own S: a gap is filled with
 * silence, an overlap dropped, and the writer says so.
 *
 * Windows. A take rolled at start with a stop at stop records
 *     [start - pre_handle, stop + post_handle)
 * and with a punch (punch_in_bar, punch_out_bar non-zero)
 *     [t(punch_in) - pre_handle, min(t(punch_out), stop) + post_handle)
 * (punch_out_bar 0 with a punch-in: up to the stop, as without a punch)
 * where t(bar) = downbeat_session_ns + (tempo-map time of bar beat 1 -
 * tempo-map time of from_bar beat 1). Until a stop is known the window
 * ends max_take after start plus the post handle (default 30 min): a
 * recording never depends on the network, so a take whose coordinator
 * vanished ends at the stop when it arrives, or at that cap. The tempo
 * map has no end, which is why the cap is a duration, not the map's end.
 *
 * TimeReference (bext) of a file whose first sample is S_first:
 *     TimeReference = S_first + round(D * rate / 1e9)   (mod one timecode day)
 *     D = tc_ns(start) - start_session_ns
 *     tc_ns(start) = frame_to_ns(map start frame) + (c_from - countoff_ns)
 * i.e. the timecode-timeline time of the first count-off click: the map's
 * start label is at cue time 0, and the first click is countoff_ns =
 * downbeat - start before from_bar's beat 1 (c_from). This is the exact
 * form of round(start_frame * rate / fps) + (S_first - S(start)): the
 * roll's start_frame is the frame that *contains* the first click, which
 * may be up to a frame earlier than the click itself; using it would put
 * the file up to one frame off the LTC rendered beside it. When the map
 * given does not reproduce the roll's start_frame (a map that is not the
 * roll's), the start_frame form is used. Every agent computes the same
 * value from the same records: no local clock enters it.
 *
 * Threads. Three roles, sharing nothing mutable but two pipes:
 *   - the main thread: agent_capture_new/destroy, on_roll, on_stop, tick;
 *   - the audio thread: agent_capture_rt_push only (real-time safe);
 *   - the writer thread (owned): drains the ring into a history of the
 *     last pre_handle + AGENT_CAPTURE_HISTORY_S seconds (so a roll that
 *     arrives after its window started still gets its pre-handle), writes
 *     the BWFs, then for each file: close (fsync + rename from .part),
 *     BLAKE2b, and the manifest NAME.wav.json (tmp + fsync + rename).
 * Main -> writer commands and writer -> main completions travel over an
 * inproc ZeroMQ pair; audio travels over one jack_ringbuffer (SPSC).
 *
 * Files: DIR/CUE_tTAKE_ROOM_INPUT.wav, named by tt_media_file_name (the
 * rule the coordinator stores under: characters outside [A-Za-z0-9._-]
 * become '-', a leading '.' '_'). A take whose first file exists
 * already is not recorded again (a restarted agent replaying its roll);
 * a stale .part from a crash is moved aside to NAME.wav.part.interrupted.
 * Manifest (jansson): file, cue, take, room, input, session, size, hash
 * (BLAKE2b-256, hex), rate, frames, time_reference, session_sample (S of
 * the first sample), punch_in_bar, punch_out_bar, state "recorded",
 * complete (false when the take began late because the input before it
 * was gone, the agent shut down inside the window, or a write failed;
 * input gaps inside a take are silence and are logged, not flagged).
 */
#ifndef AGENT_CAPTURE_H
#define AGENT_CAPTURE_H

#include <stdint.h>

#include "tt_session.h"
#include "tt_tempo.h"

#define AGENT_CAPTURE_MAX_INPUTS 32
#define AGENT_CAPTURE_MAX_TAKES 8    /* takes recording at once (overlapping handles) */
#define AGENT_CAPTURE_MAX_BLOCK 8192 /* frames per ring message; longer pushes are split */
#define AGENT_CAPTURE_RING_S 4.0     /* audio the ring holds, seconds */
#define AGENT_CAPTURE_HISTORY_S 8.0  /* history kept beyond the pre-handle, seconds */
#define AGENT_CAPTURE_RESYNC_S 0.25  /* contiguous input further than this from its S resyncs */
#define AGENT_CAPTURE_DEFAULT_HANDLE_S 1.0
#define AGENT_CAPTURE_DEFAULT_MAX_TAKE_S 1800.0

typedef struct {
    void *ctx;                 /* ZeroMQ context for the writer's pipe (borrowed) */
    const char *dir;           /* capture directory; created (one level) if missing */
    const char *room;          /* this room's name */
    int rate;                  /* session sample rate: JACK's rate, or the render rate */
    const char *const *inputs; /* n_inputs names (JACK port short names); copied */
    int n_inputs;              /* 1..AGENT_CAPTURE_MAX_INPUTS */
    const char *capture_from;  /* NULL, or a sound file played in as the one input
                                  (its first channel); inputs then default to {"in1"} */
    double pre_handle_s;       /* >= 0; agent_capture_config_defaults sets 1.0 */
    double post_handle_s;      /* >= 0; default 1.0 */
    double max_take_s;         /* > 0; take length bound without a stop; default 1800 */
} agent_capture_config_t;

typedef struct agent_capture agent_capture_t;

/* Fills the defaults (handles, max take); the caller sets the rest. */
void agent_capture_config_defaults(agent_capture_config_t *cfg);

/* Checks the config, opens --capture-from (its rate must equal cfg->rate),
 * creates the ring and starts the writer thread. NULL with a reason in why
 * (TT_WHY_LEN bytes). Main thread. */
agent_capture_t *agent_capture_new(const agent_capture_config_t *cfg, char *why);

/* Finishes every take still recording with what the writer has by now
 * (manifest complete: false), stops the writer, frees everything and
 * NULLs *self_p. The audio thread must no longer call rt_push (deactivate
 * JACK first). Safe on NULL. */
void agent_capture_destroy(agent_capture_t **self_p);

/* Main thread: a roll, as the session state folded it (the take of cue
 * the transport rolled: tt_session_t's transport names it), the way render
 * and JACK take theirs. map_text: the cue's tempo map as of the roll (the
 * replica's cue->map_text; NULL: no punch window and TimeReference 0,
 * both logged). session_name goes into the bext description (NULL: "").
 * tk is copied. A roll for a take already recording is ignored (0); one
 * whose file is on disk already is refused (TT_ERR_INVALID). Returns 0,
 * or TT_ERR_* with why (for the caller to log) when nothing will be
 * recorded. */
int agent_capture_on_roll(agent_capture_t *c, const char *cue, const tt_session_take_t *tk,
                          const char *map_text, const char *session_name, char *why);

/* Main thread: a Stop (or TakeInterrupted) at session time at_ns for
 * cue/take (take 0: whichever take of cue is recording). Sets the end of
 * the window; never extends a punch window. */
void agent_capture_on_stop(agent_capture_t *c, const char *cue, uint32_t take, int64_t at_ns);

/* Main thread, regularly (every loop turn): now_session_ns is this
 * agent's session time (local clock through the clock map). Plays the
 * --capture-from file in up to now, collects finished takes. Returns the
 * ms until it wants the next tick (10 while playing in, else 100). */
int agent_capture_tick(agent_capture_t *c, int64_t now_session_ns);

/* Main thread: takes started and not yet finished by the writer. */
int agent_capture_busy(const agent_capture_t *c);

/* Main thread: takes finished with their files and manifests on disk so
 * far (as of the last tick); when it grows, nudge the uploader. */
uint64_t agent_capture_finished(const agent_capture_t *c);

/* Audio thread (JACK process callback): hands n frames of every input
 * (inputs[i] for i < n_inputs, non-NULL) to the writer. s0: the session
 * sample of frame 0 (agent_capture_sample of the period's session time);
 * frame: the source's frame counter at frame 0 (JACK's 64-bit frame
 * time), so the writer can tell contiguous periods from a gap. Real-time
 * safe: no allocation, lock, log or system call; when the ring is full
 * the block is dropped and counted (the writer fills silence and warns).
 * One audio thread at a time. Ignored (returns 0) when the capture plays
 * a --capture-from file: that player is then the input. Returns 0, or -1
 * when dropped. */
int agent_capture_rt_push(agent_capture_t *c, uint32_t n, const float *const *inputs, int64_t s0,
                          int64_t frame);

/* ---- the arithmetic (pure; also real-time safe) ---- */

/* round(session_ns * rate / 1e9), halves up, exact (128-bit). */
int64_t agent_capture_sample(int64_t session_ns, int rate);

typedef struct {
    int64_t begin_ns, end_ns; /* session time: [begin, end) */
    int64_t s_begin, s_end;   /* session samples: [s_begin, s_end) */
    int punched;              /* the punch bars set the window */
    int capped;               /* end is the max-take cap: no stop yet */
} agent_capture_window_t;

/* The capture window of a take (see the file comment). stop_ns: the
 * stop's session time, INT64_MAX when none is known. map: the cue's map
 * (NULL: no punch). Returns 0; TT_ERR_INVALID with why when the punch
 * cannot be honoured (no map, punch_out <= punch_in), *out then holds the
 * whole-take window. */
int agent_capture_window(const tt_session_take_t *tk, const tt_tempo_map_t *map, int64_t stop_ns,
                         int64_t pre_ns, int64_t post_ns, int64_t max_take_ns, int rate,
                         agent_capture_window_t *out, char *why);

/* TimeReference of a file whose first sample is session sample s_first
 * (see the file comment), wrapped into one timecode day. 0 and *out, or
 * TT_ERR_INVALID (no map) with why. */
int agent_capture_time_reference(const tt_session_take_t *tk, const tt_tempo_map_t *map, int rate,
                                 int64_t s_first, uint64_t *out, char *why);

#endif
