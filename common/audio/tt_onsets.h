/* tt_onsets: where the clicks in a rendered click track really landed.
 *
 * Reads a WAV written by `tutti-agent --click-wav` and its PATH.json,
 * finds every click onset from the samples of channel 1 (a sample above
 * 0.05 after 5 ms below 0.01; the click starts at full amplitude) and
 * refines it below a sample: the click is a decaying cosine started at its
 * exact instant, so its frequency (from the zero crossings) and the ratio
 * of its first two samples give how long before the first sample it
 * began. Each onset is then mapped
 * to this host's CLOCK_MONOTONIC: sample n is local time
 * local_start + n / rate, and a simulated test clock (test_clock in the
 * JSON) is undone exactly. On one host CLOCK_MONOTONIC is the session
 * clock, so files from different agents compare directly. Used by the
 * main job, tutti clicks and tutti-bench-click.
 */
#ifndef TT_ONSETS_H
#define TT_ONSETS_H

#include <stddef.h>
#include <stdint.h>

#define TT_ONSETS_MAX 100000
#define TT_ONSETS_CLICK_MS 30 /* tutti's click: a cosine burst, linear decay over 30 ms */

/* How a click WAV's samples map to true time (from its PATH.json). */
typedef struct {
    int64_t local_start, start_mono, offset_ns;
    double skew_ppm;
    int rate;
} tt_wav_clock_t;

/* Reads WAV_PATH.json (written by the agent's WAV renderer); without it, a
 * Broadcast WAV's bext TimeReference places sample 0 on the timecode
 * timeline (then "true time" is ns since timecode midnight). */
int tt_wav_clock_read(const char *wav_path, tt_wav_clock_t *c, char *why);
int64_t tt_wav_clock_true_ns(const tt_wav_clock_t *c, int64_t sample);

typedef struct {
    int64_t *ns; /* owned: true time of each onset, ascending */
    size_t n;
    int rate;
} tt_onsets_t;

/* whole_samples: report each onset at its first sample, without the
 * sub-sample refinement (what "the onset sample" means to a sound card). */
int tt_onsets_read(const char *wav_path, int whole_samples, tt_onsets_t *out, char *why);
void tt_onsets_free(tt_onsets_t *o);

/* Pairs each onset of b with the nearest onset of a (within 5 ms) and
 * reports how many paired and the largest |b - a| in samples at a->rate. */
void tt_onsets_compare(const tt_onsets_t *a, const tt_onsets_t *b, size_t *paired,
                       double *max_abs_samples, double *mean_samples);

#endif
