/* tutti-click-words: prepares a spoken count-off word for tutti-agent.
 *
 *   tutti-click-words IN.wav OUT.wav
 *
 * Reads IN (any rate; its first channel), cuts the silence before the
 * onset (the first sample at 1/50 of the peak), resamples to 48 kHz, scales
 * the peak to 0.8 and writes OUT as mono 16-bit PCM. The build runs it on
 * espeak-ng's words (agents/room/CMakeLists.txt); run it on recorded ones.
 */
#include "agent_click_samples.h"
#include "tt_error.h"

#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tutti-click-words IN.wav OUT.wav\n"
                        "Trims a spoken word to its onset, 48 kHz mono, for tutti-agent's\n"
                        "--click-samples DIR (DIR/1.wav .. DIR/12.wav).\n");
        return 2;
    }
    SF_INFO in = {0};
    SNDFILE *f = sf_open(argv[1], SFM_READ, &in);
    if (!f) {
        fprintf(stderr, "tutti-click-words: %s: %s\n", argv[1], sf_strerror(NULL));
        return 1;
    }
    if (in.channels < 1 || in.frames <= 0 || in.frames > 10 * (sf_count_t)in.samplerate) {
        fprintf(stderr, "tutti-click-words: %s: not a short word\n", argv[1]);
        sf_close(f);
        return 1;
    }
    float *all = malloc((size_t)in.frames * (size_t)in.channels * sizeof *all);
    float *x = malloc((size_t)in.frames * sizeof *x);
    if (!all || !x) {
        fprintf(stderr, "tutti-click-words: out of memory\n");
        free(all);
        free(x);
        sf_close(f);
        return 1;
    }
    sf_count_t n = sf_readf_float(f, all, in.frames);
    sf_close(f);
    for (sf_count_t i = 0; i < n; i++)
        x[i] = all[i * in.channels];
    free(all);
    float *out;
    int64_t len;
    char why[TT_WHY_LEN];
    int rc = agent_click_word_prepare(x, n, in.samplerate, 48000, &out, &len, why);
    free(x);
    if (rc) {
        fprintf(stderr, "tutti-click-words: %s: %s\n", argv[1], why);
        return 1;
    }
    SF_INFO oi = {.samplerate = 48000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *o = sf_open(argv[2], SFM_WRITE, &oi);
    if (!o) {
        fprintf(stderr, "tutti-click-words: %s: %s\n", argv[2], sf_strerror(NULL));
        free(out);
        return 1;
    }
    sf_count_t w = sf_writef_float(o, out, len);
    sf_close(o);
    free(out);
    if (w != len) {
        fprintf(stderr, "tutti-click-words: writing %s failed\n", argv[2]);
        return 1;
    }
    return 0;
}
