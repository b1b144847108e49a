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

/* A known sound to find copies of (a prelay's burst): channel 1 samples. */
typedef struct {
    float *x; /* owned */
    size_t n;
    int rate;
} tt_onsets_ref_t;

/* The reference: channel 1 of path from its first sample above 0.05 (the
 * sound's onset, taken to be on that sample: the file as made) for up to
 * ms (1..1000), without the silence after it. Give it the whole sound (to
 * its end, before the next): the fit below models a copy as exactly this.
 * Free with tt_onsets_ref_free. */
int tt_onsets_ref_load(const char *path, double ms, tt_onsets_ref_t *ref, char *why);
void tt_onsets_ref_free(tt_onsets_ref_t *ref);

/* Onsets of copies of ref in a WAV at ref's rate, placed to a fraction of a
 * sample however they were rendered: a fractional-delay reader (the room
 * agent's prelay playback) rings before a hard onset, which a threshold
 * takes for the onset and the click model cannot fit. Each copy is found
 * where a sample exceeds 0.05 after 5 ms below 0.05 (the ringing stays
 * under it but for a sample or two), then placed by least squares: the
 * position (and gain) at which ref read band-limited (the sinc sum over
 * its samples) best matches the WAV from 16 samples before the onset to
 * 5 ms after it, within 8 samples of the coarse onset. A copy on a
 * simulated clock (the JSON's test_clock) is modelled stretched as that
 * clock stretched it. The same clock mapping as tt_onsets_read. */
int tt_onsets_read_ref(const char *wav_path, const tt_onsets_ref_t *ref, tt_onsets_t *out,
                       char *why);

/* Pairs each onset of b with the nearest onset of a (within 5 ms) and
 * reports how many paired and the largest |b - a| in samples at a->rate. */
void tt_onsets_compare(const tt_onsets_t *a, const tt_onsets_t *b, size_t *paired,
                       double *max_abs_samples, double *mean_samples);

#endif
