/* agent_click: the click and LTC of a roll, rendered block by block
 * against the session clock. Shared by the WAV writer and the JACK client.
 *
 * Cue time c (ns from bar 1 beat 1 in the tempo map) and session time s of
 * a roll are tied by one origin: s = origin + (c - c_from), where c_from is
 * the cue time of the first bar played and origin = the roll's start + the
 * count-off. Timecode frame f sits at cue time frame_ns(f) -
 * frame_ns(start_frame): the start timecode labels bar 1. Every click and
 * LTC frame goes on the sample nearest its session time; a roll that
 * arrives late simply has its past clicks skipped, so it joins mid-bar on
 * the map's times.
 *
 * A roll feeds up to AGENT_CLICK_MAX_FEEDS click outputs at once, each
 * through its pattern (agent_click_pattern.h) with its own voices: the same
 * map, the same clock mapping, so every feed's clicks fall on the same
 * samples as the default output's. One LTC output serves them all.
 *
 * Real-time rules: agent_click_roll_new and agent_click_roll_free
 * allocate and run outside the audio callback; everything taking an
 * agent_click_t (render, set_roll, set_stop) never allocates, locks,
 * logs or blocks, and is safe in a JACK process callback. One thread
 * renders; rolls are handed over by pointer.
 */
#ifndef AGENT_CLICK_H
#define AGENT_CLICK_H

#include <stdint.h>

#include "agent_click_pattern.h"
#include "agent_click_samples.h"
#include "tt_clock_map.h"
#include "tt_ltc.h"
#include "tt_tempo.h"

#define AGENT_CLICK_MAX_VOICES 8
#define AGENT_CLICK_LTC_MAX 4096 /* samples in one LTC frame, at most */

/* How sample positions map to local time for the block being rendered:
 * local(s) = local0 + (s - s0) * ns_per_sample. */
typedef struct {
    int64_t s0;
    int64_t local0;
    double ns_per_sample;
} agent_click_clock_t;

typedef struct agent_click_roll agent_click_roll_t;

/* Prepares a roll (parses the map, makes the LTC encoder). Not real-time. */
agent_click_roll_t *agent_click_roll_new(const char *map_text, int32_t from_bar,
                                         int64_t start_session_ns, int sample_rate, char *why);
void agent_click_roll_free(agent_click_roll_t **roll_p);
/* The roll's map and timecode (for reports). */
const tt_tempo_map_t *agent_click_roll_map(const agent_click_roll_t *roll);

typedef struct {
    int64_t pos; /* samples already played; < 0: starts later */
    double frac; /* the click began this many samples before pos 0 */
    float freq, amp;
    const float *pcm; /* a word sample (borrowed), or NULL: the synthesized click */
    int64_t len;      /* samples the voice lasts */
} agent_click_voice_t;

typedef struct {
    agent_pattern_t pattern;
    int64_t last_click; /* session time of the last event started, INT64_MIN: none */
    agent_click_voice_t voices[AGENT_CLICK_MAX_VOICES];
} agent_click_feed_t;

typedef struct {
    int sample_rate;
    agent_click_roll_t *roll; /* current roll or NULL; owned by whoever set it */
    int finished;             /* the roll's stop has passed and the last click rang out */
    int nfeeds;               /* 1..AGENT_CLICK_MAX_FEEDS */
    agent_click_feed_t feeds[AGENT_CLICK_MAX_FEEDS];
    const agent_click_samples_t *words; /* borrowed, or NULL: the count in tones */
} agent_click_t;

/* One feed of today's click pattern. */
void agent_click_init(agent_click_t *c, int sample_rate);
/* Not real-time, before rendering: n (1..AGENT_CLICK_MAX_FEEDS) feeds in
 * these patterns, spoken numbers from words (borrowed; must outlive c; NULL:
 * tones at the rate given to init). */
void agent_click_set_feeds(agent_click_t *c, const agent_pattern_t *patterns, int n,
                           const agent_click_samples_t *words);

/* Sets the roll to play (NULL: none); returns the previous one for the
 * caller to free outside the real-time thread. */
agent_click_roll_t *agent_click_set_roll(agent_click_t *c, agent_click_roll_t *roll);
/* Stops the current roll at session time at_session_ns. */
void agent_click_set_stop(agent_click_t *c, int64_t at_session_ns);

/* Renders n samples from clk.s0: feed i into outs[i] (c->nfeeds of
 * them), LTC into ltc[] (all overwritten). m: the clock thread's latest
 * mapping. */
void agent_click_render_feeds(agent_click_t *c, const tt_clock_map_t *m,
                              const agent_click_clock_t *clk, float *const *outs, float *ltc,
                              int n);
/* The same for a single feed (c->nfeeds 1): click into click[]. */
void agent_click_render(agent_click_t *c, const tt_clock_map_t *m, const agent_click_clock_t *clk,
                        float *click, float *ltc, int n);

#endif
