/* agent_render: the room's click and LTC, rendered to a WAV file as if a
 * sound card ran on the agent's local clock.
 *
 * Sample n of the file is local time local_start + n / rate. A thread
 * renders one 10 ms block after the local clock has passed it (like a
 * sound card's period) and places every click and every LTC frame on the
 * sample where its session time falls, through the clock thread's latest
 * mapping. Nothing depends on the thread waking on time: positions are
 * computed, never slept to. A roll that arrives after its start time
 * starts mid-bar at the right place. Channel 1 is the click (accented
 * downbeat, plain beat, and a distinct count-off), channel 2 LTC.
 * SIGINT/SIGTERM (agent_render_destroy) finalize the file and write
 * PATH.json: sample_rate, local_start_ns, session_start_ns, start_tc, fps.
 * The roll's prelays and guides (agent_playback), mixed to one channel,
 * go to STEM.prelay.wav beside it (stage.wav -> stage.prelay.wav, and its
 * .json), rendered with the same mapping, sample for sample.
 *
 * With click outputs (--click NAME:PATTERN), each output gets a file of
 * its own beside PATH: stage.wav -> stage-NAME.wav (+ .json), channel 1
 * that output's click, channel 2 the same LTC. Every file is one reading
 * of the same rendering, so their samples line up.
 */
#ifndef AGENT_RENDER_H
#define AGENT_RENDER_H

#include <stdint.h>

#include "agent_click_pattern.h"
#include "agent_playback.h"
#include "tt_clock_client.h"
#include "tt_clock_map.h"

typedef struct {
    const char *wav_path;
    int sample_rate;                      /* default 48000 */
    tt_clock_client_t *clock;             /* borrowed: local clock of this agent */
    tt_clock_box_t *box;                  /* borrowed: session mapping */
    const agent_click_outputs_t *outputs; /* borrowed, copied; NULL or n 0: one click */
} agent_render_config_t;

typedef struct agent_render agent_render_t;

agent_render_t *agent_render_start(void *ctx, const agent_render_config_t *cfg, char *why);
void agent_render_destroy(agent_render_t **self_p);

/* Main thread: play map_text from from_bar, first count-off click at
 * start_session_ns, until a stop. Copies map_text. */
void agent_render_roll(agent_render_t *r, const char *map_text, int32_t from_bar,
                       int64_t start_session_ns);
/* Main thread: stop at session time at_session_ns. */
void agent_render_stop(agent_render_t *r, int64_t at_session_ns);
/* Main thread, after agent_render_roll: play these prelays and guides
 * (ownership passes; the stop applies to them too). */
void agent_render_playback(agent_render_t *r, agent_playback_roll_t *roll);

#endif
