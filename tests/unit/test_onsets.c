/* test_onsets: click onsets found from audio, to a fraction of a sample,
 * and mapped back through a simulated test clock. The bursts here are
 * drawn with the agent's formula (decaying cosine from its exact start). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tt_onsets.h"

#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RATE 48000

static char dir[64];

/* Writes a 2-channel WAV with bursts at the given exact sample positions. */
static void write_clicks(const char *path, const double *at, const float *freq, int n,
                         int64_t frames, const char *json)
{
    float *buf = calloc((size_t)frames * 2, sizeof *buf);
    assert_non_null(buf);
    const double len = RATE * TT_ONSETS_CLICK_MS / 1000.0;
    for (int k = 0; k < n; k++)
        for (int64_t i = (int64_t)ceil(at[k]); i < frames && i < at[k] + len; i++) {
            double t = (double)i - at[k];
            buf[2 * i] += (float)(0.6 * (1.0 - t / len) * cos(2 * M_PI * freq[k] * t / RATE));
        }
    SF_INFO info = {.samplerate = RATE, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    assert_non_null(f);
    assert_int_equal(sf_writef_float(f, buf, frames), frames);
    sf_close(f);
    free(buf);
    char jpath[256];
    snprintf(jpath, sizeof jpath, "%s.json", path);
    FILE *j = fopen(jpath, "w");
    assert_non_null(j);
    fputs(json, j);
    fclose(j);
}

static void test_subsample_onsets(void **state)
{
    (void)state;
    double at[40];
    float freq[40];
    const float kinds[] = {1760, 880, 2637, 1319};
    for (int k = 0; k < 40; k++) {
        at[k] = 1000.0 + k * 7200.0 + (k % 10) * 0.1 + 0.05; /* fractions 0.05 .. 0.95 */
        freq[k] = kinds[k % 4];
    }
    char path[128];
    snprintf(path, sizeof path, "%s/clicks.wav", dir);
    write_clicks(path, at, freq, 40, 300000, "{\"sample_rate\": 48000, \"local_start_ns\": 0}");
    tt_onsets_t o;
    char why[512];
    assert_int_equal(tt_onsets_read(path, 0, &o, why), 0);
    assert_int_equal(o.n, 40);
    double worst = 0;
    for (int k = 0; k < 40; k++) {
        double err = fabs((double)o.ns[k] - at[k] * 1e9 / RATE) / (1e9 / RATE);
        worst = err > worst ? err : worst;
    }
    printf("worst onset error %.4f samples\n", worst);
    assert_true(worst < 0.05);
    tt_onsets_free(&o);
}

static void test_test_clock_undone(void **state)
{
    (void)state;
    /* A file from an agent 2.5 s ahead and 150 ppm fast, started at mono 10 s. */
    double at[3] = {4800.0, 52800.25, 100800.5};
    float freq[3] = {880, 880, 880};
    char path[128];
    snprintf(path, sizeof path, "%s/skewed.wav", dir);
    const int64_t start_mono = 10000000000LL, offset = 2500000000LL;
    const double skew = 150.0;
    int64_t local_start = start_mono + offset + 2000000000LL; /* file began 2 s later */
    char json[512];
    snprintf(json, sizeof json,
             "{\"sample_rate\": 48000, \"local_start_ns\": %lld, \"test_clock\": "
             "{\"start_mono_ns\": %lld, \"offset_ns\": %lld, \"skew_ppm\": %.1f}}",
             (long long)local_start, (long long)start_mono, (long long)offset, skew);
    write_clicks(path, at, freq, 3, 150000, json);
    tt_onsets_t o;
    char why[512];
    assert_int_equal(tt_onsets_read(path, 0, &o, why), 0);
    assert_int_equal(o.n, 3);
    for (int k = 0; k < 3; k++) {
        double local = (double)local_start + at[k] * 1e9 / RATE;
        double truth = start_mono + (local - offset - start_mono) / (1 + skew * 1e-6);
        assert_true(fabs((double)o.ns[k] - truth) < 1000.0); /* < 0.05 sample */
    }
    /* Compared with itself: everything pairs, nothing apart. */
    size_t paired;
    double max_abs, mean;
    tt_onsets_compare(&o, &o, &paired, &max_abs, &mean);
    assert_int_equal(paired, 3);
    assert_true(max_abs < 1e-9);
    tt_onsets_free(&o);
}

/* The click shape as a file makes it: a decaying 1760 Hz cosine from 0.8
 * on sample 0 (the prelay burst of it_prelay_play; read band-limited it
 * peaks up to 13 % higher between samples, so 0.9 would clip). */
static double burst_sample(int64_t m)
{
    const double len = RATE * TT_ONSETS_CLICK_MS / 1000.0;
    return m < 0 || m >= (int64_t)len
               ? 0.0
               : 0.8 * (1.0 - (double)m / len) * cos(2 * M_PI * 1760 * m / RATE);
}

/* Writes a WAV of the burst band-limited (the exact sinc sum over its
 * samples: what an ideal fractional-delay reader plays) at the given
 * positions in file-position units, output sample n holding the burst at
 * position n / stretch - at[k]. */
static void write_bandlimited(const char *path, const double *at, int n, int64_t frames,
                              double stretch, const char *json)
{
    float *buf = calloc((size_t)frames, sizeof *buf);
    assert_non_null(buf);
    enum { LEN = RATE * TT_ONSETS_CLICK_MS / 1000 };
    const int64_t len = LEN;
    static double bs[LEN];
    for (int64_t m = 0; m < len; m++)
        bs[m] = burst_sample(m);
    for (int k = 0; k < n; k++) {
        int64_t from = (int64_t)(at[k] * stretch) - 2000,
                to = (int64_t)(at[k] * stretch) + len + 2000;
        for (int64_t i = from < 0 ? 0 : from; i < to && i < frames; i++) {
            /* sin(pi (t - m)) = (-1)^(k - m) sin(pi f) for t = k + f */
            double t = (double)i / stretch - at[k], fl = floor(t), f = t - fl, sum = 0;
            double sf = sin(M_PI * f) / M_PI;
            for (int64_t m = 0; m < len; m++) {
                double term = f == 0.0 ? (fl == (double)m ? 1.0 : 0.0) : sf / (t - (double)m);
                sum += bs[m] * (((int64_t)fl - m) & 1 ? -term : term);
            }
            buf[i] += (float)sum;
        }
    }
    SF_INFO info = {.samplerate = RATE, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    assert_non_null(f);
    assert_int_equal(sf_writef_float(f, buf, frames), frames);
    sf_close(f);
    free(buf);
    char jpath[256];
    snprintf(jpath, sizeof jpath, "%s.json", path);
    FILE *j = fopen(jpath, "w");
    assert_non_null(j);
    fputs(json, j);
    fclose(j);
}

/* Copies of a known burst, read back band-limited at fractions of a
 * sample (they ring before a hard onset), are placed by tt_onsets_read_ref
 * within 0.01 sample, also on a clock 150 ppm fast. The reference is the
 * burst's file as made (16-bit, on its samples). */
static void test_reference_onsets(void **state)
{
    (void)state;
    char ref_path[128], path[128], why[512];
    snprintf(ref_path, sizeof ref_path, "%s/ref.wav", dir);
    {
        SF_INFO info = {
            .samplerate = RATE, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
        SNDFILE *f = sf_open(ref_path, SFM_WRITE, &info);
        assert_non_null(f);
        float x[4800] = {0};
        for (int m = 100; m < 4800; m++)
            x[m] = (float)burst_sample(m - 100);
        assert_int_equal(sf_writef_float(f, x, 4800), 4800);
        sf_close(f);
    }
    tt_onsets_ref_t ref;
    assert_int_equal(tt_onsets_ref_load(ref_path, 40, &ref, why), 0);
    assert_true(ref.n > 1400 && ref.n <= 1440); /* the burst, not the silence after it */
    assert_float_equal(ref.x[0], 0.8f, 1e-4);
    double at[12];
    for (int k = 0; k < 12; k++)
        at[k] = 2000.0 + k * 12000.0 + k / 11.0; /* fractions 0 .. 1 */
    const double skews[2] = {0, 150};
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/bl%d.wav", dir, s);
        char json[256];
        snprintf(json, sizeof json,
                 "{\"sample_rate\": 48000, \"local_start_ns\": 0, \"test_clock\": "
                 "{\"start_mono_ns\": 0, \"offset_ns\": 0, \"skew_ppm\": %.1f}}",
                 skews[s]);
        write_bandlimited(path, at, 12, 150000, 1 + skews[s] * 1e-6, json);
        tt_onsets_t o;
        assert_int_equal(tt_onsets_read_ref(path, &ref, &o, why), 0);
        assert_int_equal(o.n, 12);
        double worst = 0;
        for (int k = 0; k < 12; k++) {
            double err = fabs((double)o.ns[k] - at[k] * 1e9 / RATE) / (1e9 / RATE);
            worst = err > worst ? err : worst;
        }
        tt_onsets_free(&o);
        /* The click reader on the same copies, for comparison. */
        assert_int_equal(tt_onsets_read(path, 0, &o, why), 0);
        double click_worst = 0;
        for (size_t k = 0; k < o.n; k++) {
            double best = 1e9;
            for (int j = 0; j < 12; j++)
                best = fmin(best, fabs((double)o.ns[k] - at[j] * 1e9 / RATE) / (1e9 / RATE));
            click_worst = best > click_worst ? best : click_worst;
        }
        printf("band-limited copies, clock %+.0f ppm: by reference worst %.4f samples (the click "
               "reader: %zu onsets, worst %.3f)\n",
               skews[s], worst, o.n, click_worst);
        tt_onsets_free(&o);
        assert_true(worst < 0.01);
    }
    /* A WAV at another rate than the reference is refused. */
    double one[1] = {100};
    float freq[1] = {880};
    snprintf(path, sizeof path, "%s/r441.wav", dir);
    write_clicks(path, one, freq, 1, 4800, "{\"sample_rate\": 44100, \"local_start_ns\": 0}");
    tt_onsets_t o;
    assert_int_not_equal(tt_onsets_read_ref(path, &ref, &o, why), 0);
    tt_onsets_ref_free(&ref);
    /* A reference with no sound in it is refused. */
    snprintf(path, sizeof path, "%s/silent.wav", dir);
    write_clicks(path, one, freq, 0, 4800, "{}");
    assert_int_not_equal(tt_onsets_ref_load(path, 40, &ref, why), 0);
    assert_non_null(strstr(why, "silent.wav"));
}

static void test_bad_inputs(void **state)
{
    (void)state;
    tt_onsets_t o;
    char why[512], path[128];
    snprintf(path, sizeof path, "%s/missing.wav", dir);
    assert_int_not_equal(tt_onsets_read(path, 0, &o, why), 0);
    assert_non_null(strstr(why, "missing.wav"));
    /* A WAV whose JSON disagrees on the rate is refused. */
    double at[1] = {100};
    float freq[1] = {880};
    snprintf(path, sizeof path, "%s/rate.wav", dir);
    write_clicks(path, at, freq, 1, 4800, "{\"sample_rate\": 44100, \"local_start_ns\": 0}");
    assert_int_not_equal(tt_onsets_read(path, 0, &o, why), 0);
    assert_non_null(strstr(why, "44100"));
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_onsets.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subsample_onsets),
        cmocka_unit_test(test_test_clock_undone),
        cmocka_unit_test(test_reference_onsets),
        cmocka_unit_test(test_bad_inputs),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
