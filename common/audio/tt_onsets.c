/* tt_onsets: onsets from a click WAV, on true time. See tt_onsets.h. */
#include "tt_onsets.h"
#include "tt_bwf.h"
#include "tt_error.h"

#include <jansson.h>
#include <math.h>
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tt_wav_clock_read(const char *wav_path, tt_wav_clock_t *c, char *why)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.json", wav_path);
    json_error_t err;
    json_t *o = json_load_file(path, 0, &err);
    if (!o && access(path, F_OK) != 0) {
        /* No render metadata: a recorded take, placed by its BWF TimeReference
         * on the timecode timeline. */
        tt_bwf_info_t info;
        char bwhy[TT_WHY_LEN];
        if (tt_bwf_read_info(wav_path, &info, NULL, bwhy) != 0)
            return tt_fail(why, TT_ERR_IO, "%s: neither %s nor a bext TimeReference (%s)", wav_path,
                           path, bwhy);
        memset(c, 0, sizeof *c);
        c->rate = info.rate;
        c->local_start = (int64_t)((__int128)info.time_reference * 1000000000 / info.rate);
        return 0;
    }
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

/* How many samples before x[0] the cosine burst starting near x[0] began,
 * in [0, 1]; 0 when the shape does not fit (then the sample itself counts). */
static double onset_fraction(const float *x, size_t avail, int rate)
{
    const size_t span = (size_t)rate / 100; /* 10 ms of the burst */
    if (avail < span || x[0] == 0.0f)
        return 0.0;
    /* Frequency from interpolated zero crossings. */
    double first = -1, last = -1;
    int crossings = 0;
    for (size_t i = 1; i < span; i++) {
        if ((x[i - 1] > 0) == (x[i] > 0))
            continue;
        double t = (double)(i - 1) + (double)x[i - 1] / (double)(x[i - 1] - x[i]);
        if (first < 0)
            first = t;
        last = t;
        crossings++;
    }
    if (crossings < 4 || last <= first)
        return 0.0;
    double w = M_PI * (double)(crossings - 1) / (last - first); /* rad per sample */
    double len = (double)rate * TT_ONSETS_CLICK_MS / 1000.0;
    double r = 1.0 - 1.0 / len; /* envelope step */
    double tan_phi = (cos(w) - (double)x[1] / (r * (double)x[0])) / sin(w);
    double frac = atan(tan_phi) / w;
    return (frac >= -0.01 && frac <= 1.01) ? fmin(fmax(frac, 0.0), 1.0) : 0.0;
}

int tt_onsets_read(const char *wav_path, int whole_samples, tt_onsets_t *out, char *why)
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
        return tt_fail(why, TT_ERR_INVALID, "%s: %d channels at %d Hz, JSON says %d Hz", wav_path,
                       info.channels, info.samplerate, c.rate);
    }
    /* Channel 1 in chunks, each with 20 ms of what follows it in view, so the
     * sub-sample fit can see the burst: memory stays small for long takes. */
    const size_t chunk = 65536, ahead = (size_t)c.rate / 50;
    out->ns = malloc(TT_ONSETS_MAX * sizeof *out->ns);
    float *raw = malloc(chunk * (size_t)info.channels * sizeof *raw);
    float *x = malloc((chunk + ahead) * sizeof *x);
    if (!out->ns || !raw || !x) {
        free(raw);
        free(x);
        sf_close(f);
        tt_onsets_free(out);
        return tt_fail(why, TT_ERR_NOMEM, "reading %s", wav_path);
    }
    out->rate = c.rate;
    const double ns_per_sample = 1e9 / c.rate;
    int64_t quiet = 0, base = 0; /* base: file position of x[0] */
    size_t have = 0;             /* samples in x */
    int eof = 0;
    while (!eof || have > 0) {
        while (!eof && have < chunk + ahead) {
            size_t want = chunk + ahead - have;
            if (want > chunk)
                want = chunk;
            sf_count_t got = sf_readf_float(f, raw, (sf_count_t)want);
            if (got <= 0) {
                eof = 1;
                break;
            }
            for (sf_count_t i = 0; i < got; i++)
                x[have + (size_t)i] = raw[i * info.channels];
            have += (size_t)got;
        }
        size_t todo = eof ? have : (have > ahead ? have - ahead : 0);
        for (size_t i = 0; i < todo; i++) {
            float a = fabsf(x[i]);
            if (a > 0.05f && quiet >= c.rate / 200 && out->n < TT_ONSETS_MAX) {
                double frac = whole_samples ? 0.0 : onset_fraction(x + i, have - i, c.rate);
                out->ns[out->n++] = tt_wav_clock_true_ns(&c, base + (int64_t)i) -
                                    (int64_t)llround(frac * ns_per_sample);
            }
            quiet = a < 0.01f ? quiet + 1 : 0;
        }
        memmove(x, x + todo, (have - todo) * sizeof *x);
        have -= todo;
        base += (int64_t)todo;
        if (todo == 0 && eof)
            break;
    }
    free(raw);
    free(x);
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
