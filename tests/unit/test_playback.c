/* test_playback: the room agent's prelay/guide playback
 * (agents/room/agent_playback.c) places files on the roll's timeline as the
 * map says: by bar across a meter change and a free-time section, by
 * timecode, by BWF TimeReference; a roll from a later bar starts the file
 * mid-way with a silent count-off; the stop mutes on its sample; nothing
 * sounds without a roll; a 44.1 kHz file is resampled once to the session
 * rate with its duration and its events in place; a room whose sound card
 * runs fast still lands the file's later samples on session time. Every
 * expected sample is worked out by hand from the map below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_playback.h"
#include "tt_error.h"

#define RATE 48000
#define BLOCK 512
#define SECONDS 24

/* 1: 4/4 q=120 (2 s a bar), bar 3 at 4 s in 3/4 (1.5 s a bar), bar 5 at
 * 7 s free until bar 7 at 00:00:12:00, then q=90 (a 4/4 bar 8/3 s). */
static const char MAP[] = "start 00:00:00:00\n"
                          "countoff 1\n"
                          "bar 1 4/4 q=120\n"
                          "bar 3 3/4\n"
                          "bar 5 4/4 free until 7 at 00:00:12:00\n"
                          "bar 7 q=90\n";

static char dir[64];

/* A mono float WAV: sample j = ramp ? j / frames : (j % every == 0 ? 0.9 : 0). */
static void write_wav(const char *path, int rate, int64_t frames, int ramp, int64_t every)
{
    SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    assert_non_null(f);
    float *x = calloc((size_t)frames, sizeof *x);
    assert_non_null(x);
    for (int64_t j = 0; j < frames; j++)
        x[j] = ramp ? (float)j / (float)frames : (j % every == 0 ? 0.9f : 0.0f);
    assert_int_equal(sf_writef_float(f, x, frames), frames);
    sf_close(f);
    free(x);
}

static tt_media_entry_t entry(uint64_t seq, int32_t at_bar)
{
    tt_media_entry_t e;
    memset(&e, 0, sizeof e);
    e.seq = seq;
    strcpy(e.cue, "1M1");
    e.kind = TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY;
    e.at_bar = at_bar;
    return e;
}

static agent_playback_t *library(const tt_media_entry_t *e, const char *path)
{
    char why[TT_WHY_LEN];
    agent_playback_t *pb = agent_playback_new(RATE, why);
    assert_non_null(pb);
    if (agent_playback_load(pb, e, path, why) != 0)
        fail_msg("load: %s", why);
    return pb;
}

/* Renders `seconds` of the roll block by block at sample rate sr. The
 * sound card's sample s is local time s / sr; session = local * rate
 * (rate 1: the same clock). */
static float *render_for(const agent_playback_roll_t *roll, double rate, int sr, int seconds)
{
    float *out = calloc((size_t)seconds * sr, sizeof *out);
    assert_non_null(out);
    tt_clock_map_t m = {.local_ref = 0, .session_ref = 0, .rate = rate, .valid = 1};
    for (int64_t s0 = 0, end = (int64_t)seconds * sr; s0 < end; s0 += BLOCK) {
        agent_click_clock_t k = {
            .s0 = s0, .local0 = s0 * 1000000000 / sr, .ns_per_sample = 1e9 / sr};
        agent_playback_render(roll, &m, &k, out + s0, (int)(end - s0 < BLOCK ? end - s0 : BLOCK));
    }
    return out;
}

static float *render(const agent_playback_roll_t *roll, double rate)
{
    return render_for(roll, rate, RATE, SECONDS);
}

static int64_t first_nonzero(const float *x, int64_t from)
{
    for (int64_t i = from; i < (int64_t)SECONDS * RATE; i++)
        if (x[i] != 0.0f)
            return i;
    return -1;
}

/* Rolls start EARLY ns before a whole second: instants that would fall on
 * a sample boundary fall 0.01 sample before it, on no knife's edge. */
#define EARLY 208

static agent_playback_roll_t *roll_of(const agent_playback_t *pb, int32_t from_bar,
                                      int64_t start_ns)
{
    char why[TT_WHY_LEN];
    agent_playback_roll_t *r = agent_playback_roll_new(pb, "1M1", MAP, from_bar, start_ns, why);
    if (!r)
        fail_msg("roll: %s", why);
    return r;
}

/* The largest |x| in [c - r, c + r]. */
static int64_t peak_near(const float *x, int64_t c, int64_t r)
{
    int64_t best = c - r;
    for (int64_t i = c - r; i <= c + r; i++)
        if (fabsf(x[i]) > fabsf(x[best]))
            best = i;
    return best;
}

/* By bar: bar 4 is at 5.5 s (after the meter change), bar 7 at 12 s (after
 * free time). From bar 1 with the roll at 1 s: origin 3 s. Each impulse's
 * instant is 0.01 sample before an output sample: it peaks there, at
 * nearly its full height, and the filter's ringing reaches no further than
 * its 16 taps either side. */
static void test_bar_placement(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/impulses.wav", dir);
    write_wav(path, RATE, RATE * 2, 0, RATE / 2); /* 0.9 every 0.5 s for 2 s */
    const double at[] = {5.5, 12.0};
    const int32_t bars[] = {4, 7};
    for (int t = 0; t < 2; t++) {
        tt_media_entry_t e = entry(10, bars[t]);
        agent_playback_t *pb = library(&e, path);
        agent_playback_roll_t *r = roll_of(pb, 1, 1000000000 - EARLY);
        float *out = render(r, 1.0);
        int64_t want = (int64_t)llround((3.0 + at[t]) * RATE);
        int64_t first = first_nonzero(out, 0);
        assert_true(first >= want - 16 && first <= want);
        for (int j = 0; j < 4; j++) { /* every event on its sample */
            int64_t c = want + j * RATE / 2;
            assert_int_equal(peak_near(out, c, 40), c);
            assert_float_equal(out[c], 0.9f, 1e-3);
        }
        assert_int_equal(first_nonzero(out, want + 3 * RATE / 2 + 17), -1); /* then silence */
        free(out);
        agent_playback_roll_free(&r);
        agent_playback_destroy(&pb);
    }
}

/* From bar 7 (its count-off: a 4/4 bar at q=90, 8/3 s) a ramp placed at bar
 * 3 (4 s) is 8 s in at bar 7's downbeat: it starts there, mid-file, and the
 * count-off is silent although the file covers it. A stop mutes it. */
static void test_mid_file_and_stop(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/ramp.wav", dir);
    write_wav(path, RATE, RATE * 20, 1, 0);
    tt_media_entry_t e = entry(11, 3);
    agent_playback_t *pb = library(&e, path);
    agent_playback_roll_t *r = roll_of(pb, 7, 1000000000 - EARLY);
    int64_t open, close;
    agent_playback_roll_window(r, &open, &close);
    assert_true(llabs(open - (1000000000 - EARLY + 2666666667LL)) <= 2); /* 4 beats of 2/3 s */
    assert_int_equal(close, INT64_MAX);
    float *out = render(r, 1.0);
    int64_t origin = 176000; /* (1 + 8/3) s */
    assert_int_equal(first_nonzero(out, 0), origin);
    /* The sample there is the file's 8 s point (8/20 of the ramp), and
     * a second later 9 s. */
    assert_float_equal(out[origin], 8.0 / 20.0, 1e-5);
    assert_float_equal(out[origin + RATE], 9.0 / 20.0, 1e-5);
    free(out);
    /* Stop at sample 300000.5: sample 300000 sounds, none from 300001 on. */
    agent_playback_set_stop(r, 6250000000LL + 10417);
    out = render(r, 1.0);
    int64_t stop = 6 * RATE + RATE / 4 + 1;
    assert_true(out[stop - 1] != 0.0f);
    assert_int_equal(first_nonzero(out, stop), -1);
    free(out);
    /* No roll: nothing. */
    out = render(NULL, 1.0);
    assert_int_equal(first_nonzero(out, 0), -1);
    free(out);
    agent_playback_roll_free(&r);
    agent_playback_destroy(&pb);
}

/* Timecode: 00:00:05:12 at 24 fps is 5.5 s (bar 4); BWF: TimeReference
 * 6 s at the file's 44.1 kHz after the map's start 01:00:00:00. A 44.1 kHz
 * file of 2 s is 96000 samples at 48 kHz, its impulses where they were. */
static void test_timecode_bwf_resample(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/cd.wav", dir);
    write_wav(path, 44100, 44100 * 2, 0, 44100 / 2);
    static const char map_tc[] = "start 01:00:00:00\nbar 1 4/4 q=120\n";
    char why[TT_WHY_LEN];
    for (int t = 0; t < 2; t++) {
        tt_media_entry_t e = entry(12, 0);
        if (t == 0) {
            strcpy(e.at_fps, "24");
            e.at_frame = 3600 * 24 + 5 * 24 + 12;
        } else {
            e.rate = 44100;
            e.time_reference = (uint64_t)(3600 + 6) * 44100;
        }
        agent_playback_t *pb = library(&e, path);
        assert_int_equal(agent_playback_frames(pb, 12), 96000);
        agent_playback_roll_t *r = agent_playback_roll_new(pb, "1M1", map_tc, 1, -EARLY, why);
        assert_non_null(r);
        float *out = render(r, 1.0);
        int64_t want = (int64_t)llround((t == 0 ? 5.5 : 6.0) * RATE);
        assert_int_equal(agent_playback_roll_file_start(r, 0),
                         (int64_t)llround((t == 0 ? 5.5 : 6.0) * 1e9) - EARLY);
        /* Each impulse (a band-limited one now) peaks on its 48 kHz sample. */
        for (int j = 0; j < 4; j++) {
            int64_t c = want + j * RATE / 2, best = c - 20;
            for (int64_t i = c - 20; i <= c + 20; i++)
                if (fabsf(out[i]) > fabsf(out[best]))
                    best = i;
            assert_int_equal(best, c);
            assert_true(out[best] > 0.5f);
        }
        free(out);
        agent_playback_roll_free(&r);
        agent_playback_destroy(&pb);
    }
}

/* A file of four Gaussian-windowed tone bursts (sigma 0.5 ms: well inside
 * the filter's passband) at 0.1, 0.3, 0.5 and 0.7 s, of 1, 5, 11 and
 * 17 kHz; burst(b, t) is burst b's continuous signal at t seconds from
 * the file's first sample. */
static const double BURST_AT[4] = {0.1, 0.3, 0.5, 0.7}, BURST_HZ[4] = {1000, 5000, 11000, 17000};
#define BURST_SIGMA 0.0005

static double burst(int b, double t)
{
    double u = t - BURST_AT[b];
    if (fabs(u) > 12 * BURST_SIGMA)
        return 0;
    return 0.8 * exp(-0.5 * u * u / (BURST_SIGMA * BURST_SIGMA)) * sin(2 * M_PI * BURST_HZ[b] * u);
}

static void write_bursts(const char *path)
{
    SF_INFO info = {.samplerate = RATE, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    assert_non_null(f);
    float x[RATE];
    for (int j = 0; j < RATE; j++) {
        double v = 0;
        for (int b = 0; b < 4; b++)
            v += burst(b, (double)j / RATE);
        x[j] = (float)v;
    }
    assert_int_equal(sf_writef_float(f, x, RATE), RATE);
    sf_close(f);
}

/* Squared error between out and burst b read from session time start_s +
 * delta samples, where output sample n sounds at session n / RATE * rate. */
static double burst_sse(const float *out, int64_t frames, double rate, int b, double start_s,
                        double delta)
{
    double s0 = start_s + delta / RATE, sum = 0;
    double c = (s0 + BURST_AT[b]) * RATE / rate; /* the burst's centre, in output samples */
    for (int64_t n = (int64_t)c - 600; n <= (int64_t)c + 600; n++) {
        assert_true(n >= 0 && n < frames);
        double d = out[n] - burst(b, (double)n / RATE * rate - s0);
        sum += d * d;
    }
    return sum;
}

/* Where burst b sits in out, in samples from start_s: the delay that fits
 * it best (golden-section search of the squared error over +-1 sample,
 * where it has one minimum even at 17 kHz). */
static double burst_delay(const float *out, int64_t frames, double rate, int b, double start_s)
{
    const double g = (sqrt(5.0) - 1) / 2;
    double a = -1, z = 1;
    double x1 = z - g * (z - a), x2 = a + g * (z - a);
    double f1 = burst_sse(out, frames, rate, b, start_s, x1);
    double f2 = burst_sse(out, frames, rate, b, start_s, x2);
    while (z - a > 1e-5) {
        if (f1 < f2) {
            z = x2, x2 = x1, f2 = f1;
            x1 = z - g * (z - a);
            f1 = burst_sse(out, frames, rate, b, start_s, x1);
        } else {
            a = x1, x1 = x2, f1 = f2;
            x2 = a + g * (z - a);
            f2 = burst_sse(out, frames, rate, b, start_s, x2);
        }
    }
    return (a + z) / 2;
}

/* The point: a file placed at a fraction of a sample reads back
 * delayed by that fraction. The bursts file at bar 4 (7.5 s after the
 * roll) from rolls 0, 0.25, 0.5, 0.73 and 0.999 samples after 1 s: every
 * burst, 1 to 17 kHz, fits the file read from its exact instant within
 * 0.05 sample (a whole-sample reader is off by the fraction). */
static void test_fractional_delay(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/bursts.wav", dir);
    write_bursts(path);
    tt_media_entry_t e = entry(14, 4);
    agent_playback_t *pb = library(&e, path);
    const double fracs[] = {0, 0.25, 0.5, 0.73, 0.999};
    double worst = 0;
    for (size_t i = 0; i < sizeof fracs / sizeof fracs[0]; i++) {
        int64_t start_ns = 1000000000 + llround(fracs[i] * 1e9 / RATE);
        agent_playback_roll_t *r = roll_of(pb, 1, start_ns);
        int64_t file_ns = agent_playback_roll_file_start(r, 0);
        assert_true(llabs(file_ns - (start_ns + 7500000000LL)) <= 1);
        float *out = render_for(r, 1.0, RATE, 10);
        for (int b = 0; b < 4; b++) {
            double d = burst_delay(out, 10 * RATE, 1.0, b, (double)file_ns / 1e9);
            worst = fabs(d) > worst ? fabs(d) : worst;
            assert_true(fabs(d) < 0.05);
        }
        free(out);
        agent_playback_roll_free(&r);
    }
    printf("fractional delay: worst fit %.5f samples off the placement\n", worst);
    agent_playback_destroy(&pb);
}

/* The filter's response, through the renderer: a sine of f read at
 * fractions 0.05 .. 0.95 of a sample (at 50 kHz, where a sample is a whole
 * 20000 ns, so the expected value is exact) against the sine itself at that
 * delay, up to 0.42 of the rate. The error stated in agent_playback.c. */
static void test_passband(void **state)
{
    (void)state;
    enum { SR = 50000 };
    char path[128], why[TT_WHY_LEN];
    snprintf(path, sizeof path, "%s/sine.wav", dir);
    const double hz[] = {100, 1000, 5000, 10000, 15000, 19000, 21000};
    double worst = 0, worst_hz = 0;
    for (size_t h = 0; h < sizeof hz / sizeof hz[0]; h++) {
        SF_INFO info = {.samplerate = SR, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
        SNDFILE *f = sf_open(path, SFM_WRITE, &info);
        assert_non_null(f);
        static float x[SR / 4];
        for (int j = 0; j < SR / 4; j++)
            x[j] = (float)sin(2 * M_PI * hz[h] * j / SR);
        assert_int_equal(sf_writef_float(f, x, SR / 4), SR / 4);
        sf_close(f);
        tt_media_entry_t e = entry(15 + h, 1);
        agent_playback_t *pb = agent_playback_new(SR, why);
        assert_non_null(pb);
        assert_int_equal(agent_playback_load(pb, &e, path, why), 0);
        for (int q = 0; q < 10; q++) {
            double frac = 0.05 + 0.1 * q;
            int64_t start_ns = 1000000000 + llround(frac * 20000); /* exact */
            agent_playback_roll_t *r = agent_playback_roll_new(pb, "1M1", MAP, 1, start_ns, why);
            assert_non_null(r);
            float *out = render_for(r, 1.0, SR, 4);
            double file_s = (double)(start_ns + 2000000000) / 1e9; /* bar 1 */
            for (int64_t n = (int64_t)(file_s * SR) + 200; n < (int64_t)(file_s * SR) + SR / 5;
                 n++) {
                double want = sin(2 * M_PI * hz[h] * ((double)n / SR - file_s));
                double err = fabs(out[n] - want);
                if (err > worst)
                    worst = err, worst_hz = hz[h];
            }
            free(out);
            agent_playback_roll_free(&r);
        }
        agent_playback_destroy(&pb);
    }
    printf("passband to %.0f Hz at %d Hz: worst error %.2e (at %.0f Hz)\n", hz[6], SR, worst,
           worst_hz);
    assert_true(worst < 2e-4);
}

/* The room's clock runs 200 ppm slow against the session (session =
 * local * 1.0002): its sound card plays more session time per sample, and
 * the file follows session time, read a little faster, so the bursts land
 * where session time says (within 0.05 sample), not a second of samples
 * apart. */
static void test_skewed_clock(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/bursts.wav", dir);
    write_bursts(path);
    tt_media_entry_t e = entry(13, 4); /* 5.5 s: session 8.5 s from a roll at 1 s */
    agent_playback_t *pb = library(&e, path);
    agent_playback_roll_t *r = roll_of(pb, 1, 1000000000);
    float *out = render_for(r, 1.0002, RATE, 10);
    double worst = 0;
    for (int b = 0; b < 4; b++) {
        double d = burst_delay(out, 10 * RATE, 1.0002, b, 8.5);
        worst = fabs(d) > worst ? fabs(d) : worst;
        assert_true(fabs(d) < 0.05);
    }
    printf("skewed clock: worst fit %.5f samples off session time\n", worst);
    /* Read at the sound card's rate instead, the last burst would sit
     * 0.7 s * 200 ppm = 6.7 samples late: the fit would not find it. */
    free(out);
    agent_playback_roll_free(&r);
    agent_playback_destroy(&pb);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_playback.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"impulses.wav", "ramp.wav", "cd.wav", "bursts.wav", "sine.wav"};
    for (size_t i = 0; i < 5; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bar_placement),         cmocka_unit_test(test_mid_file_and_stop),
        cmocka_unit_test(test_timecode_bwf_resample), cmocka_unit_test(test_skewed_clock),
        cmocka_unit_test(test_fractional_delay),      cmocka_unit_test(test_passband),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
