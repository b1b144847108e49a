/* tt_onsets: onsets from a click WAV, on true time. See tt_onsets.h. */
#include "tt_onsets.h"
#include "tt_error.h"

#include <jansson.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tt_wav_clock_read(const char *wav_path, tt_wav_clock_t *c, char *why)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.json", wav_path);
    json_error_t err;
    json_t *o = json_load_file(path, 0, &err);
    if (!o)
        return tt_fail(why, TT_ERR_IO, "%s: %s (line %d)", path, err.text, err.line);
    memset(c, 0, sizeof *c);
    c->rate = (int)json_integer_value(json_object_get(o, "sample_rate"));
    c->local_start = json_integer_value(json_object_get(o, "local_start_ns"));
    json_t *tc = json_object_get(o, "test_clock");
    if (tc) {
        c->start_mono = json_integer_value(json_object_get(tc, "start_mono_ns"));
        c->offset_ns = json_integer_value(json_object_get(tc, "offset_ns"));
        c->skew_ppm = json_number_value(json_object_get(tc, "skew_ppm"));
    }
    json_decref(o);
    if (c->rate <= 0 || c->rate > 384000)
        return tt_fail(why, TT_ERR_INVALID, "%s: no valid sample_rate", path);
    return 0;
}

int64_t tt_wav_clock_true_ns(const tt_wav_clock_t *c, int64_t sample)
{
    int64_t local = c->local_start + (int64_t)((__int128)sample * 1000000000 / c->rate);
    if (c->offset_ns == 0 && c->skew_ppm == 0.0)
        return local;
    return c->start_mono + (int64_t)llround((double)(local - c->offset_ns - c->start_mono) /
                                            (1.0 + c->skew_ppm * 1e-6));
}

int tt_onsets_read(const char *wav_path, tt_onsets_t *out, char *why)
{
    memset(out, 0, sizeof *out);
    tt_wav_clock_t c;
    int rc = tt_wav_clock_read(wav_path, &c, why);
    if (rc != 0)
        return rc;
    SF_INFO info = {0};
    SNDFILE *f = sf_open(wav_path, SFM_READ, &info);
    if (!f)
        return tt_fail(why, TT_ERR_IO, "%s: %s", wav_path, sf_strerror(NULL));
    if (info.channels < 1 || info.channels > 64 || info.samplerate != c.rate) {
        sf_close(f);
        return tt_fail(why, TT_ERR_INVALID, "%s: %d channels at %d Hz, JSON says %d Hz",
                       wav_path, info.channels, info.samplerate, c.rate);
    }
    out->ns = malloc(TT_ONSETS_MAX * sizeof *out->ns);
    float *buf = malloc(4096 * (size_t)info.channels * sizeof *buf);
    if (!out->ns || !buf) {
        free(buf);
        sf_close(f);
        tt_onsets_free(out);
        return tt_fail(why, TT_ERR_NOMEM, "reading %s", wav_path);
    }
    out->rate = c.rate;
    int64_t pos = 0, quiet = 0;
    sf_count_t n;
    while ((n = sf_readf_float(f, buf, 4096)) > 0) {
        for (sf_count_t i = 0; i < n; i++, pos++) {
            float x = fabsf(buf[i * info.channels]);
            if (x > 0.05f && quiet >= c.rate / 200 && out->n < TT_ONSETS_MAX)
                out->ns[out->n++] = tt_wav_clock_true_ns(&c, pos);
            quiet = x < 0.01f ? quiet + 1 : 0;
        }
    }
    free(buf);
    sf_close(f);
    return 0;
}

void tt_onsets_free(tt_onsets_t *o)
{
    free(o->ns);
    memset(o, 0, sizeof *o);
}

void tt_onsets_compare(const tt_onsets_t *a, const tt_onsets_t *b, size_t *paired,
                       double *max_abs_samples, double *mean_samples)
{
    const double per_sample = 1e9 / (a->rate ? a->rate : 48000);
    size_t k = 0, count = 0;
    double max = 0, sum = 0;
    for (size_t i = 0; i < b->n && a->n > 0; i++) {
        while (k + 1 < a->n && llabs(a->ns[k + 1] - b->ns[i]) < llabs(a->ns[k] - b->ns[i]))
            k++;
        double d = (double)(b->ns[i] - a->ns[k]) / per_sample;
        if (fabs(d) * per_sample > 5e6)
            continue;
        count++;
        sum += d;
        max = fabs(d) > max ? fabs(d) : max;
    }
    *paired = count;
    *max_abs_samples = max;
    *mean_samples = count ? sum / (double)count : 0.0;
}
