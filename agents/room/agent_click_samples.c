/* agent_click_samples: spoken count-off words. See agent_click_samples.h. */
#include "agent_click_samples.h"
#include "tt_diag.h"
#include "tt_error.h"

#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int agent_click_word_prepare(const float *in, int64_t n, int in_rate, int rate, float **out,
                             int64_t *out_n, char *why)
{
    *out = NULL;
    *out_n = 0;
    float peak = 0.0f;
    for (int64_t i = 0; i < n; i++)
        if (fabsf(in[i]) > peak)
            peak = fabsf(in[i]);
    if (peak <= 0.0f || in_rate <= 0 || rate <= 0)
        return tt_fail(why, TT_ERR_INVALID, "a silent word");
    int64_t first = 0;
    while (first < n && fabsf(in[first]) < peak / 50.0f)
        first++;
    /* Resample from the onset: output sample j is input time j / rate. */
    double ratio = (double)in_rate / rate;
    int64_t len = (int64_t)((double)(n - first - 1) / ratio) + 1;
    int64_t max = (int64_t)rate * AGENT_CLICK_WORD_MS / 1000;
    if (len > max)
        len = max;
    float *x = malloc((size_t)len * sizeof *x);
    if (!x)
        return tt_fail(why, TT_ERR_NOMEM, "a word of %lld samples", (long long)len);
    float gain = 0.8f / peak;
    for (int64_t j = 0; j < len; j++) {
        double p = (double)j * ratio;
        int64_t a = first + (int64_t)p;
        double f = p - floor(p);
        double b = a + 1 < n ? in[a + 1] : 0.0;
        x[j] = (float)((in[a] * (1.0 - f) + b * f) * gain);
    }
    int64_t fade = rate / 200;
    for (int64_t j = 0; j < fade && j < len; j++)
        x[len - 1 - j] *= (float)j / (float)fade;
    *out = x;
    *out_n = len;
    return 0;
}

/* The first channel of a WAV, as floats. */
static int read_mono(const char *path, float **out, int64_t *n, int *rate, char *why)
{
    SF_INFO info = {0};
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f)
        return tt_fail(why, TT_ERR_NOTFOUND, "%s: %s", path, sf_strerror(NULL));
    /* Bounded: a word is short; a huge file is not one. */
    if (info.channels < 1 || info.frames <= 0 || info.frames > 10 * (int64_t)info.samplerate ||
        info.samplerate <= 0) {
        sf_close(f);
        return tt_fail(why, TT_ERR_INVALID, "%s: not a short word (%lld frames at %d Hz)", path,
                       (long long)info.frames, info.samplerate);
    }
    float *all = malloc((size_t)info.frames * (size_t)info.channels * sizeof *all);
    float *x = malloc((size_t)info.frames * sizeof *x);
    if (!all || !x) {
        free(all);
        free(x);
        sf_close(f);
        return tt_fail(why, TT_ERR_NOMEM, "%s", path);
    }
    sf_count_t got = sf_readf_float(f, all, info.frames);
    sf_close(f);
    for (sf_count_t i = 0; i < got; i++)
        x[i] = all[i * info.channels];
    free(all);
    *out = x;
    *n = got;
    *rate = info.samplerate;
    return 0;
}

agent_click_samples_t *agent_click_samples_load(const char *dir, int rate, char *why)
{
    agent_click_samples_t *s = calloc(1, sizeof *s);
    if (!s) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the count-off words");
        return NULL;
    }
    s->rate = rate;
    int found = 0;
    char first_why[TT_WHY_LEN] = "";
    for (int w = 1; w <= AGENT_CLICK_WORDS; w++) {
        char path[4200], inner[TT_WHY_LEN];
        snprintf(path, sizeof path, "%s/%d.wav", dir, w);
        float *x;
        int64_t n;
        int in_rate;
        int rc = read_mono(path, &x, &n, &in_rate, inner);
        if (rc == 0) {
            rc = agent_click_word_prepare(x, n, in_rate, rate, &s->pcm[w], &s->len[w], inner);
            free(x);
        }
        if (rc == 0)
            found++;
        else if (rc != TT_ERR_NOTFOUND) {
            tt_fail(why, rc, "count-off word %s: %s", path, inner);
            agent_click_samples_destroy(&s);
            return NULL;
        } else if (!first_why[0])
            snprintf(first_why, sizeof first_why, "%s", inner);
    }
    if (!found) {
        tt_fail(why, TT_ERR_NOTFOUND, "no count-off words in %s (%s)", dir, first_why);
        agent_click_samples_destroy(&s);
    }
    return s;
}

void agent_click_samples_destroy(agent_click_samples_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int w = 0; w <= AGENT_CLICK_WORDS; w++)
        free((*self_p)->pcm[w]);
    free(*self_p);
    *self_p = NULL;
}

agent_click_samples_t *agent_click_samples_for(int needed, const char *dir, int rate)
{
    if (!needed)
        return NULL;
    char why[TT_WHY_LEN];
    agent_click_samples_t *s =
        agent_click_samples_load(dir ? dir : AGENT_CLICK_SAMPLES_DIR, rate, why);
    if (!s)
        tt_diag_warn("click: %s: the count-off is counted in tones (--click-samples DIR)", why);
    else
        tt_diag_info("click: count-off words from %s", dir ? dir : AGENT_CLICK_SAMPLES_DIR);
    return s;
}
