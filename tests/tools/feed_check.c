/* tutti-feed-check: did a click feed's WAV click where its pattern says?
 *
 *   tutti-feed-check MAP PATTERN START_S UNTIL_S FILE.wav [--words]
 *
 * Computes the pattern's events (agent_click_pattern: the lead-in of a
 * roll from bar 1 whose first count-off click is at session time START_S,
 * then the cue) up to session time UNTIL_S, reads FILE's onsets on true
 * time (tt_onsets; on one host the session clock), and pairs each event
 * with the nearest onset. Prints JSON: expected, onsets, matched, the
 * largest error in samples, and onsets before UNTIL_S that match no event
 * (extra).
 * --words: FILE is a spoken count. A word starts soft (its first sample
 * is at 1/50 of its peak, agent_click_samples.h), below the click onset
 * reader's threshold, so here an onset is the first sample above 0.01
 * after 20 ms below it; each event takes the first onset from 5 ms before
 * it (gaps inside a word come later) and errors are reported in ms.
 */
#include "agent_click_pattern.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_onsets.h"
#include "tt_tempo.h"

#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENTS 20000

/* Word onsets of channel 1 on true time (see the file comment). */
static int word_onsets(const char *path, tt_onsets_t *out, char *why)
{
    tt_wav_clock_t clk;
    if (tt_wav_clock_read(path, &clk, why) != 0)
        return -1;
    SF_INFO info = {0};
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f)
        return tt_fail(why, TT_ERR_IO, "%s: %s", path, sf_strerror(NULL));
    memset(out, 0, sizeof *out);
    out->rate = info.samplerate;
    out->ns = malloc(MAX_EVENTS * sizeof *out->ns);
    float *buf = malloc((size_t)info.channels * 4096 * sizeof *buf);
    if (!out->ns || !buf) {
        free(buf);
        sf_close(f);
        return tt_fail(why, TT_ERR_NOMEM, "reading %s", path);
    }
    int64_t quiet = info.samplerate, pos = 0;
    sf_count_t got;
    while ((got = sf_readf_float(f, buf, 4096)) > 0) {
        for (sf_count_t i = 0; i < got; i++, pos++) {
            float a = fabsf(buf[i * info.channels]);
            if (a > 0.01f && quiet >= info.samplerate / 50 && out->n < MAX_EVENTS)
                out->ns[out->n++] = tt_wav_clock_true_ns(&clk, pos);
            quiet = a <= 0.01f ? quiet + 1 : 0;
        }
    }
    free(buf);
    sf_close(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: tutti-feed-check MAP PATTERN START_S UNTIL_S FILE.wav [--words]\n");
        return 2;
    }
    int words = argc > 6 && strcmp(argv[6], "--words") == 0;
    char why[TT_WHY_LEN];
    agent_pattern_t p;
    if (agent_click_pattern_parse(argv[2], &p, why) != 0) {
        fprintf(stderr, "tutti-feed-check: %s\n", why);
        return 2;
    }
    char *text = NULL;
    size_t len = 0;
    if (tt_file_read(argv[1], 1 << 20, &text, &len, why) != 0) {
        fprintf(stderr, "tutti-feed-check: %s\n", why);
        return 1;
    }
    tt_tempo_map_t *m = tt_tempo_parse_text(text, len, why);
    free(text);
    if (!m) {
        fprintf(stderr, "tutti-feed-check: %s\n", why);
        return 1;
    }
    int64_t start = llround(atof(argv[3]) * 1e9), until = llround(atof(argv[4]) * 1e9);
    static int64_t ev[MAX_EVENTS];
    int n = 0;
    tt_tempo_countoff_t co;
    int64_t lead = tt_tempo_countoff(m, 1, &co);
    int64_t origin = start + lead; /* session time of bar 1 beat 1 */
    agent_click_event_t e;
    for (int i = 0; i < co.beats && n < MAX_EVENTS; i++)
        if (agent_click_pattern_lead_in(p, &co, i, &e) && origin + e.ns < until)
            ev[n++] = origin + e.ns;
    for (int64_t t = 0;
         n < MAX_EVENTS && agent_click_pattern_next(m, p, t, until - origin, &e) == 0; t = e.ns + 1)
        ev[n++] = origin + e.ns;
    tt_tempo_destroy(&m);
    tt_onsets_t on;
    if ((words ? word_onsets(argv[5], &on, why) : tt_onsets_read(argv[5], 0, &on, why)) != 0) {
        fprintf(stderr, "tutti-feed-check: %s\n", why);
        return 1;
    }
    const double per_sample = 1e9 / on.rate;
    int matched = 0, extra = 0;
    double max_err = 0;
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (words) {
            while (k < on.n && on.ns[k] < ev[i] - 5000000)
                k++;
            if (k < on.n && on.ns[k] < ev[i] + 50000000) {
                double err = fabs((double)(on.ns[k] - ev[i])) / 1e6;
                max_err = err > max_err ? err : max_err;
                matched++;
            }
            continue;
        }
        size_t best = 0;
        double d = INFINITY;
        for (size_t j = 0; j < on.n; j++)
            if (fabs((double)(on.ns[j] - ev[i])) < d) {
                d = fabs((double)(on.ns[j] - ev[i]));
                best = j;
            }
        (void)best;
        if (d / per_sample <= 240) { /* within 5 ms: this click */
            matched++;
            max_err = d / per_sample > max_err ? d / per_sample : max_err;
        }
    }
    if (!words)
        for (size_t j = 0; j < on.n && on.ns[j] < until; j++) {
            int near = 0;
            for (int i = 0; i < n && !near; i++)
                near = fabs((double)(on.ns[j] - ev[i])) / per_sample <= 240;
            extra += !near;
        }
    printf("{\"pattern\": \"%s\", \"expected\": %d, \"onsets\": %zu, \"matched\": %d, "
           "\"extra\": %d, \"%s\": %.3f}\n",
           argv[2], n, on.n, matched, extra, words ? "max_err_ms" : "max_err_samples", max_err);
    tt_onsets_free(&on);
    return 0;
}
