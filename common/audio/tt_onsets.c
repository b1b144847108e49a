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

/* How the scan finds and refines onsets. */
typedef struct {
    float quiet_level;    /* an onset follows 5 ms below this */
    size_t behind, ahead; /* samples the refinement sees before and after the onset (0: 20 ms) */
    const tt_onsets_ref_t *ref; /* NULL: the click model (onset_fraction) */
    int whole_samples;          /* no refinement */
} scan_t;

/* Offset in samples of the copy of ref near x[0] (x[-behind..] valid;
 * sigma: reference samples per output sample; the fit spans `window`
 * samples after the onset): see tt_onsets_read_ref. */
static double ref_offset(const float *x, size_t avail, const tt_onsets_ref_t *ref, double sigma,
                         size_t window);

/* Channel 1 of wav_path in chunks, each with what comes before and after
 * it in view for the refinement: memory stays small for long takes. An
 * onset is a sample above 0.05 after 5 ms below quiet_level. */
static int scan(const char *wav_path, const scan_t *sc, tt_onsets_t *out, char *why)
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
    if (sc->ref && sc->ref->rate != c.rate) {
        sf_close(f);
        return tt_fail(why, TT_ERR_INVALID, "%s is at %d Hz, the reference sound at %d Hz",
                       wav_path, c.rate, sc->ref->rate);
    }
    const size_t chunk = 65536, behind = sc->behind;
    const size_t ahead = sc->ahead ? sc->ahead : (size_t)c.rate / 50;
    const size_t size = behind + chunk + ahead;
    out->ns = malloc(TT_ONSETS_MAX * sizeof *out->ns);
    float *raw = malloc(chunk * (size_t)info.channels * sizeof *raw);
    float *x = calloc(size, sizeof *x); /* x[0..behind): what came before (silence at first) */
    if (!out->ns || !raw || !x) {
        free(raw);
        free(x);
        sf_close(f);
        tt_onsets_free(out);
        return tt_fail(why, TT_ERR_NOMEM, "reading %s", wav_path);
    }
    out->rate = c.rate;
    const double ns_per_sample = 1e9 / c.rate;
    /* A copy follows true time: output samples are 1 / (1 + skew) of a
     * sample of it apart. The fit spans 5 ms of it at most. */
    const double sigma = 1.0 / (1.0 + c.skew_ppm * 1e-6);
    const size_t window =
        sc->ref && sc->ref->n < (size_t)c.rate / 200 ? sc->ref->n : (size_t)c.rate / 200;
    int64_t quiet = 0, base = 0; /* base: file position of x[behind] */
    size_t have = behind;        /* samples in x, history included */
    int eof = 0;
    while (!eof || have > behind) {
        while (!eof && have < size) {
            size_t want = size - have < chunk ? size - have : chunk;
            sf_count_t got = sf_readf_float(f, raw, (sf_count_t)want);
            if (got <= 0) {
                eof = 1;
                break;
            }
            for (sf_count_t i = 0; i < got; i++)
                x[have + (size_t)i] = raw[i * info.channels];
            have += (size_t)got;
        }
        size_t todo = eof ? have - behind : (have > behind + ahead ? have - behind - ahead : 0);
        for (size_t i = behind; i < behind + todo; i++) {
            float a = fabsf(x[i]);
            if (a > 0.05f && quiet >= c.rate / 200 && out->n < TT_ONSETS_MAX) {
                double off = sc->whole_samples ? 0.0
                             : sc->ref         ? ref_offset(x + i, have - i, sc->ref, sigma, window)
                                               : -onset_fraction(x + i, have - i, c.rate);
                out->ns[out->n++] = tt_wav_clock_true_ns(&c, base + (int64_t)(i - behind)) +
                                    (int64_t)llround(off * ns_per_sample);
            }
            quiet = a < sc->quiet_level ? quiet + 1 : 0;
        }
        /* Keep the last `behind` samples seen as history. */
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

int tt_onsets_read(const char *wav_path, int whole_samples, tt_onsets_t *out, char *why)
{
    /* 20 ms of the burst in view for the sub-sample fit. */
    scan_t sc = {0.01f, 0, 0, NULL, whole_samples};
    return scan(wav_path, &sc, out, why);
}

/* ------------------------------------------------------------ by reference */

#define REF_SEARCH 8  /* samples either side of the coarse onset */
#define REF_BEFORE 16 /* the fit starts this many samples before the onset (ringing) */

/* The reference read band-limited at position t (in its samples): the
 * sinc sum over all its samples, exact for a sound that is whole (silent
 * outside [0, n)). sin(pi (t - j)) = (-1)^(k - j) sin(pi f) for t = k + f. */
static double ref_at(const tt_onsets_ref_t *ref, double t)
{
    double fl = floor(t), f = t - fl;
    int64_t k = (int64_t)fl;
    if (f == 0.0)
        return k >= 0 && k < (int64_t)ref->n ? ref->x[k] : 0.0;
    double sum = 0;
    for (size_t j = 0; j < ref->n; j++) {
        double term = ref->x[j] / (t - (double)j);
        sum += ((k - (int64_t)j) & 1) ? -term : term;
    }
    return sin(M_PI * f) / M_PI * sum;
}

/* How well the copy in x fits the reference with its onset at p (samples
 * from x[0]) and output samples sigma reference samples apart: the squared
 * correlation over the model's energy, the least-squares fit with the best
 * gain (the larger, the better the fit). */
static double ref_fit(const float *x, ptrdiff_t from, ptrdiff_t to, const tt_onsets_ref_t *ref,
                      double sigma, double p)
{
    double xy = 0, yy = 0;
    for (ptrdiff_t m = from; m < to; m++) {
        double model = ref_at(ref, sigma * ((double)m - p));
        xy += (double)x[m] * model;
        yy += model * model;
    }
    return yy > 0 ? xy * fabs(xy) / yy : 0;
}

static double ref_offset(const float *x, size_t avail, const tt_onsets_ref_t *ref, double sigma,
                         size_t window)
{
    /* Whole lags first (cheap: at sigma 1 the model is the reference's own
     * samples), then the best one refined by golden-section search within
     * a sample either side. */
    int best = -REF_SEARCH;
    double best_fit = -INFINITY;
    for (int k = -REF_SEARCH; k <= REF_SEARCH; k++) {
        double xy = 0;
        for (size_t n = 0; n < ref->n && (ptrdiff_t)n + k < (ptrdiff_t)avail; n++)
            xy += (double)x[(ptrdiff_t)n + k] * ref->x[n];
        if (xy > best_fit)
            best_fit = xy, best = k;
    }
    ptrdiff_t from = best - REF_BEFORE - 1, to = best + 1 + (ptrdiff_t)window;
    if (to > (ptrdiff_t)avail)
        to = (ptrdiff_t)avail;
    const double g = (sqrt(5.0) - 1) / 2;
    double a = best - 1, b = best + 1;
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = ref_fit(x, from, to, ref, sigma, x1), f2 = ref_fit(x, from, to, ref, sigma, x2);
    while (b - a > 1e-4) {
        if (f1 > f2) {
            b = x2, x2 = x1, f2 = f1;
            x1 = b - g * (b - a);
            f1 = ref_fit(x, from, to, ref, sigma, x1);
        } else {
            a = x1, x1 = x2, f1 = f2;
            x2 = a + g * (b - a);
            f2 = ref_fit(x, from, to, ref, sigma, x2);
        }
    }
    return (a + b) / 2;
}

int tt_onsets_ref_load(const char *path, double ms, tt_onsets_ref_t *ref, char *why)
{
    memset(ref, 0, sizeof *ref);
    SF_INFO info = {0};
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f)
        return tt_fail(why, TT_ERR_IO, "%s: %s", path, sf_strerror(NULL));
    size_t want = (size_t)llround(ms * info.samplerate / 1000.0);
    if (info.channels < 1 || info.channels > 64 || info.samplerate <= 0 || ms < 1 || ms > 1000) {
        sf_close(f);
        return tt_fail(why, TT_ERR_INVALID, "%s: %d channels at %d Hz, %.1f ms of it: 1..1000 ms",
                       path, info.channels, info.samplerate, ms);
    }
    float *frame = malloc((size_t)info.channels * sizeof *frame);
    ref->x = malloc(want * sizeof *ref->x);
    if (!frame || !ref->x) {
        free(frame);
        tt_onsets_ref_free(ref);
        sf_close(f);
        return tt_fail(why, TT_ERR_NOMEM, "reading %s", path);
    }
    /* From the first sample above 0.05 (the sound's onset, on a sample: the
     * reference is the file as made, not a rendering of it). */
    while (ref->n < want && sf_readf_float(f, frame, 1) == 1)
        if (ref->n > 0 || fabsf(frame[0]) > 0.05f)
            ref->x[ref->n++] = frame[0];
    free(frame);
    sf_close(f);
    /* Its tail to silence, without the silence after it. */
    while (ref->n > 0 && fabsf(ref->x[ref->n - 1]) < 1e-6f)
        ref->n--;
    if (ref->n < 2) {
        tt_onsets_ref_free(ref);
        return tt_fail(why, TT_ERR_INVALID, "%s: no sound in it (a sample above 0.05)", path);
    }
    ref->rate = info.samplerate;
    return 0;
}

void tt_onsets_ref_free(tt_onsets_ref_t *ref)
{
    free(ref->x);
    memset(ref, 0, sizeof *ref);
}

int tt_onsets_read_ref(const char *wav_path, const tt_onsets_ref_t *ref, tt_onsets_t *out,
                       char *why)
{
    scan_t sc = {0.05f, REF_SEARCH + REF_BEFORE + 2, ref->n + REF_SEARCH + 2, ref, 0};
    return scan(wav_path, &sc, out, why);
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
