/* agent_click_samples: the spoken numbers of the count-off feed.
 *
 * The build speaks "one" .. "twelve" with espeak-ng (agents/room/
 * CMakeLists.txt; deploy/install-deps.sh installs it) and prepares each with agent_click_word_prepare into
 * AGENT_CLICK_SAMPLES_DIR/N.wav (N = 1..12): mono, 48 kHz, at most
 * 0.6 s. Recorded words may replace them (any rate, any channel count:
 * the first channel is used). The agent loads them at start (--click-samples
 * DIR) and prepares them again for its rate, which is a no-op on prepared
 * files except for the resampling.
 *
 * Onset alignment: a word's first sample is its acoustic onset, the first
 * sample whose magnitude reaches 1/50 (-34 dB) of the word's peak; the
 * silence before it is cut, so that sample sounds on the beat. The
 * perceptual centre of a word (near its vowel) lies later still: that is
 * left to the speaker, as with a recorded count.
 */
#ifndef AGENT_CLICK_SAMPLES_H
#define AGENT_CLICK_SAMPLES_H

#include <stdint.h>

#ifndef AGENT_CLICK_SAMPLES_DIR
#define AGENT_CLICK_SAMPLES_DIR "/usr/local/share/tutti/click"
#endif
#define AGENT_CLICK_WORDS 12    /* spoken numbers; higher counts are tones */
#define AGENT_CLICK_WORD_MS 600 /* longest word kept */

typedef struct {
    int rate;
    float *pcm[AGENT_CLICK_WORDS + 1]; /* [1..12], owned; NULL: no sample (a tone) */
    int64_t len[AGENT_CLICK_WORDS + 1];
} agent_click_samples_t;

/* Trims in[0..n) (at in_rate) to its onset, resamples it to rate
 * (linear), scales its peak to 0.8, keeps at most AGENT_CLICK_WORD_MS and
 * fades the last 5 ms out. *out is malloc'd (caller frees). Returns 0, or
 * TT_ERR_INVALID for silence, TT_ERR_NOMEM. */
int agent_click_word_prepare(const float *in, int64_t n, int in_rate, int rate, float **out,
                             int64_t *out_n, char *why);

/* Loads DIR/1.wav .. DIR/12.wav for rate. A missing file leaves its word a
 * tone; no file at all is an error (TT_ERR_NOTFOUND). NULL with why on
 * failure. Not real-time; the caller owns the result. */
agent_click_samples_t *agent_click_samples_load(const char *dir, int rate, char *why);
void agent_click_samples_destroy(agent_click_samples_t **self_p);

/* For an agent's renderer: when needed (a count feed runs), the words
 * from dir (NULL: AGENT_CLICK_SAMPLES_DIR) at rate; where they cannot be
 * loaded, logs a warning and returns NULL (the count in tones). */
agent_click_samples_t *agent_click_samples_for(int needed, const char *dir, int rate);

#endif
