/* test_ltc: render LTC with tt_ltc_enc, write it to a WAV with libsndfile,
 * read it back with tt_ltc_read_file and check every label and every
 * frame's first sample.
 *
 * The timeline is built the way the agent builds it: frame k of the run
 * starts at tt_timecode_frame_to_sample(start + k) - base, and its length is
 * the distance to the next frame's start, so at 29.97 frames are 1601 or
 * 1602 samples at 48 kHz. The runs start three frames before a minute
 * boundary so the 29.97df run crosses 00:01:00;02 (labels ;00 and ;01
 * dropped). LTC sits on channel 2 of a 2-channel file with silence on
 * channel 1, to prove the channel is picked.
 */
#define _POSIX_C_SOURCE 200809L
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

#include "tt_error.h"
#include "tt_ltc.h"
#include "tt_timecode.h"

#define NFRAMES 60 /* default run length */
#define MAXREAD 256

static const tt_fps_t all_fps[] = {TT_FPS_23_976,   TT_FPS_24,        TT_FPS_25,
                                   TT_FPS_29_97_DF, TT_FPS_29_97_NDF, TT_FPS_30};

/* ---- helpers ------------------------------------------------------------------------------- */

static void temp_path(char out[64])
{
    strcpy(out, "/tmp/test_ltc_XXXXXX");
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
}

/* Writes a WAV with `channels` channels; `ltc` (n samples) goes on channel
 * ltc_channel (1-based), every other channel is silent. */
static void write_wav(const char *path, int rate, int channels, int ltc_channel, const float *ltc,
                      int64_t n, int format)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | format;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    assert_non_null(sf);
    float *inter = calloc((size_t)(n * channels), sizeof(float));
    assert_non_null(inter);
    for (int64_t i = 0; i < n; i++)
        inter[i * channels + (ltc_channel - 1)] = ltc[i];
    assert_int_equal(sf_writef_float(sf, inter, n), n);
    assert_int_equal(sf_close(sf), 0);
    free(inter);
}

typedef struct {
    tt_ltc_frame_t f[MAXREAD];
    int n;
} collected_t;

static int collect(void *arg, const tt_ltc_frame_t *f)
{
    collected_t *c = arg;
    if (c->n < MAXREAD)
        c->f[c->n++] = *f;
    return 0;
}

/* Three frames before minute 1: crosses a drop-frame minute at 29.97df. */
static int64_t start_frame(tt_fps_t fps)
{
    char label[32];
    snprintf(label, sizeof label, "00:00:59%c%02d", tt_fps_is_drop(fps) ? ';' : ':',
             tt_fps_nominal(fps) - 3);
    int64_t f = -1;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_timecode_parse(label, fps, &f, why), 0);
    return f;
}

typedef struct {
    int rate;
    int lead;       /* silent samples before the first frame */
    int format;     /* SF_FORMAT_PCM_16 / _24 / _FLOAT */
    int autodetect; /* read with TT_LTC_FPS_AUTO instead of the true rate */
    int nframes;    /* 0: NFRAMES */
    double speed;   /* 0: 1; else frames this much longer (a slow clock) */
} run_t;

/* Where frame k of the run starts, relative to the run's first sample. */
static int64_t run_sample(const run_t *run, tt_fps_t fps, int64_t first, int k)
{
    int64_t nominal = tt_timecode_frame_to_sample(first + k, fps, run->rate) -
                      tt_timecode_frame_to_sample(first, fps, run->rate);
    double speed = run->speed > 0 ? run->speed : 1.0;
    return run->lead + (int64_t)llround((double)nominal * speed);
}

/* Renders a run of frames plus a closing edge, writes, reads back, checks. */
static void roundtrip(tt_fps_t fps, const run_t *run)
{
    const int NF = run->nframes > 0 ? run->nframes : NFRAMES;
    const int rate = run->rate;
    const int64_t first = start_frame(fps);
    const int64_t end = run_sample(run, fps, first, NF);
    const int64_t total = end + rate / 10; /* closing edge, then 100 ms of silence */
    float *buf = calloc((size_t)total, sizeof(float));
    assert_non_null(buf);

    char why[TT_WHY_LEN];
    tt_ltc_enc_t *e = tt_ltc_enc_new(rate, fps, why);
    assert_non_null(e);
    for (int k = 0; k < NF; k++) {
        int64_t s0 = run_sample(run, fps, first, k), s1 = run_sample(run, fps, first, k + 1);
        assert_int_equal(tt_ltc_enc_render(e, first + k, buf + s0, (size_t)(s1 - s0)), s1 - s0);
        /* Sample-accurate placement: every frame opens with an edge. */
        if (k > 0)
            assert_true(buf[s0 - 1] * buf[s0] < 0.0f);
    }
    int nf = tt_ltc_enc_finish(e, buf + end, (size_t)(total - end));
    assert_true(nf > 0);
    assert_true(buf[end - 1] * buf[end] < 0.0f);
    tt_ltc_enc_destroy(&e);
    assert_null(e);

    char path[64];
    temp_path(path);
    write_wav(path, rate, 2, 2, buf, total, run->format);
    free(buf);

    collected_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    tt_ltc_stats_t st;
    int rc =
        tt_ltc_read_file_ex(path, 2, run->autodetect ? TT_LTC_FPS_AUTO : fps, collect, c, &st, why);
    if (rc != 0)
        fail_msg("%s at %d Hz: %s", tt_fps_name(fps), rate, why);
    unlink(path);

    assert_int_equal(c->n, NF);
    assert_int_equal(st.frames_found, NF);
    assert_int_equal(st.frames_reported, NF);
    assert_int_equal(st.frames_skipped, 0);
    assert_int_equal(st.drop_flagged, tt_fps_is_drop(fps) ? NF : 0);
    assert_int_equal(st.fps, fps);
    assert_int_equal(st.sample_rate, rate);
    assert_int_equal(st.channels, 2);
    assert_int_equal(st.samples, total);
    for (int k = 0; k < c->n; k++) {
        const tt_ltc_frame_t *f = &c->f[k];
        char want[TT_TIMECODE_LEN];
        tt_timecode_format(first + k, fps, want);
        int64_t s0 = run_sample(run, fps, first, k), s1 = run_sample(run, fps, first, k + 1);
        if (f->frame != first + k || strcmp(f->tc, want) != 0 || f->fps != fps ||
            llabs(f->start_sample - s0) > 1 || llabs(f->end_sample - s1) > 1 || !f->located ||
            f->reverse)
            fail_msg("%s at %d Hz, lead %d, frame %d: got %s (%lld) %s [%lld, %lld) located %d, "
                     "want %s (%lld) %s [%lld, %lld)",
                     tt_fps_name(fps), rate, run->lead, k, f->tc, (long long)f->frame,
                     tt_fps_name(f->fps), (long long)f->start_sample, (long long)f->end_sample,
                     f->located, want, (long long)(first + k), tt_fps_name(fps), (long long)s0,
                     (long long)s1);
        /* Within +-1 is the promise; for our own signal at speed it is exact. */
        if (run->speed == 0) {
            assert_int_equal(f->start_sample, s0);
            assert_int_equal(f->end_sample, s1);
        }
    }
    free(c);
}

static void roundtrip_all(const run_t *run)
{
    for (size_t i = 0; i < sizeof all_fps / sizeof all_fps[0]; i++)
        roundtrip(all_fps[i], run);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_roundtrip_48k(void **state)
{
    (void)state;
    run_t run = {.rate = 48000, .lead = 480, .format = SF_FORMAT_PCM_24};
    roundtrip_all(&run);
}

/* LTC from the file's first sample: no sync word precedes the first frame. */
static void test_roundtrip_at_file_start(void **state)
{
    (void)state;
    run_t run = {.rate = 48000, .lead = 0, .format = SF_FORMAT_FLOAT};
    roundtrip_all(&run);
}

/* 44.1 kHz: no rate divides it evenly except 25 and 30 (1764, 1470). */
static void test_roundtrip_44k1(void **state)
{
    (void)state;
    run_t run = {.rate = 44100, .lead = 1000, .format = SF_FORMAT_PCM_16};
    roundtrip_all(&run);
}

static void test_roundtrip_96k(void **state)
{
    (void)state;
    run_t run = {.rate = 96000, .lead = 17, .format = SF_FORMAT_PCM_24};
    roundtrip_all(&run);
}

/* No --fps: the drop bit, the labels and the frame length pick the rate.
 * 100 frames: the first 64 are held back while deciding, the rest stream. */
/* Frames placed by a clock 5 % slow or 7 % fast (JACK's own estimate runs
 * that far off for seconds after a stall) still read back, at the right
 * samples. Read with the rate given: detection assumes speed 1. */
static void test_roundtrip_varispeed(void **state)
{
    (void)state;
    roundtrip_all(&(run_t){.rate = 48000, .lead = 1000, .format = SF_FORMAT_PCM_24, .speed = 1.05});
    roundtrip_all(
        &(run_t){.rate = 48000, .lead = 1000, .format = SF_FORMAT_PCM_24, .speed = 1.0 / 1.07});
}

static void test_autodetect(void **state)
{
    (void)state;
    run_t run = {
        .rate = 48000, .lead = 480, .format = SF_FORMAT_PCM_24, .autodetect = 1, .nframes = 100};
    roundtrip_all(&run);
    run.rate = 44100;
    roundtrip_all(&run);
}

/* Under a second of LTC: 23.976 vs 24 and 29.97 vs 30 from lengths alone. */
static void test_autodetect_short_take(void **state)
{
    (void)state;
    run_t run = {
        .rate = 48000, .lead = 480, .format = SF_FORMAT_PCM_24, .autodetect = 1, .nframes = 6};
    roundtrip_all(&run);
}

/* The waveform depends on nothing but the label and the length. */
static void test_render_is_stateless(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    tt_ltc_enc_t *e = tt_ltc_enc_new(48000, TT_FPS_29_97_DF, why);
    assert_non_null(e);
    float a[1602], b[1602], junk[1602];
    assert_int_equal(tt_ltc_enc_render(e, 1799, a, 1602), 1602);
    assert_int_equal(tt_ltc_enc_render(e, 5, junk, 1601), 1601);
    assert_int_equal(tt_ltc_enc_render(e, 1799, b, 1602), 1602);
    assert_memory_equal(a, b, sizeof a);
    /* Starts with a full falling edge, peak at the amplitude. */
    assert_true(a[0] < -0.4f);
    float peak = 0;
    for (int i = 0; i < 1602; i++)
        peak = fmaxf(peak, fabsf(a[i]));
    assert_true(fabsf(peak - TT_LTC_DEFAULT_AMPLITUDE) < 1e-6f);
    assert_int_equal(tt_ltc_enc_set_amplitude(e, 0.25f), 0);
    assert_int_equal(tt_ltc_enc_render(e, 1799, b, 1602), 1602);
    for (int i = 0; i < 1602; i++)
        assert_true(fabsf(b[i] - a[i] / 2) < 1e-6f);
    tt_ltc_enc_destroy(&e);
}

static void test_encoder_refuses_bad_input(void **state)
{
    (void)state;
    char why[TT_WHY_LEN] = "";
    assert_null(tt_ltc_enc_new(1000, TT_FPS_25, why));
    assert_non_null(strstr(why, "1000 Hz"));
    assert_null(tt_ltc_enc_new(48000, (tt_fps_t)42, why));
    assert_non_null(strstr(why, "frame rate"));

    tt_ltc_enc_t *e = tt_ltc_enc_new(48000, TT_FPS_25, why);
    assert_non_null(e);
    assert_int_equal(tt_ltc_enc_min_samples(e), 1728);
    assert_int_equal(tt_ltc_enc_max_samples(e), 2112);
    float buf[4000];
    assert_int_equal(tt_ltc_enc_finish(e, buf, sizeof buf / sizeof buf[0]), 0);
    assert_int_equal(tt_ltc_enc_render(e, 0, buf, 1727), TT_ERR_INVALID);
    assert_int_equal(tt_ltc_enc_render(e, 0, buf, 2113), TT_ERR_INVALID);
    assert_int_equal(tt_ltc_enc_render(e, 0, NULL, 1920), TT_ERR_INVALID);
    assert_int_equal(tt_ltc_enc_render(NULL, 0, buf, 1920), TT_ERR_INVALID);
    assert_int_equal(tt_ltc_enc_render(e, 0, buf, 1921), 1921);
    assert_int_equal(tt_ltc_enc_finish(e, buf, 1), TT_ERR_TOO_BIG);
    assert_int_equal(tt_ltc_enc_set_amplitude(e, 0.0f), TT_ERR_INVALID);
    assert_int_equal(tt_ltc_enc_set_amplitude(e, 1.5f), TT_ERR_INVALID);
    tt_ltc_enc_destroy(&e);
    tt_ltc_enc_destroy(&e); /* safe twice */
    tt_ltc_enc_destroy(NULL);
}

static void test_no_ltc(void **state)
{
    (void)state;
    char path[64], why[TT_WHY_LEN] = "";
    temp_path(path);
    /* One second of a 1 kHz tone: loud, but not LTC. */
    float tone[48000];
    for (int i = 0; i < 48000; i++)
        tone[i] = 0.5f * sinf(2.0f * 3.14159265f * 1000.0f * (float)i / 48000.0f);
    write_wav(path, 48000, 2, 2, tone, 48000, SF_FORMAT_PCM_16);
    collected_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    assert_int_equal(tt_ltc_read_file(path, 2, TT_FPS_25, collect, c, why), TT_ERR_NOTFOUND);
    assert_non_null(strstr(why, "no LTC"));
    assert_int_equal(c->n, 0);
    /* Channel 1 is silent. */
    assert_int_equal(tt_ltc_read_file(path, 1, TT_LTC_FPS_AUTO, collect, c, why), TT_ERR_NOTFOUND);
    assert_non_null(strstr(why, "no LTC"));
    assert_non_null(strstr(why, "silent"));
    unlink(path);
    free(c);
}

static void test_channel_out_of_range(void **state)
{
    (void)state;
    char path[64], why[TT_WHY_LEN] = "";
    temp_path(path);
    float mono[4800] = {0};
    write_wav(path, 48000, 1, 1, mono, 4800, SF_FORMAT_PCM_16);
    collected_t c = {.n = 0};
    assert_int_equal(tt_ltc_read_file(path, 2, TT_FPS_25, collect, &c, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "1 channel"));
    assert_non_null(strstr(why, "channel 2"));
    assert_int_equal(tt_ltc_read_file(path, 0, TT_FPS_25, collect, &c, why), TT_ERR_INVALID);
    unlink(path);
}

static void test_missing_file(void **state)
{
    (void)state;
    char why[TT_WHY_LEN] = "";
    collected_t c = {.n = 0};
    assert_int_equal(tt_ltc_read_file("/nonexistent/take.wav", 1, TT_FPS_25, collect, &c, why),
                     TT_ERR_IO);
    assert_non_null(strstr(why, "/nonexistent/take.wav"));
}

/* Labels that do not exist at the given rate are skipped; if nothing is
 * left the error says which label was wrong. */
static int stop_after_one(void *arg, const tt_ltc_frame_t *f)
{
    (void)f;
    (*(int *)arg)++;
    return 7;
}

static void test_wrong_rate_and_stop(void **state)
{
    (void)state;
    const int rate = 48000;
    char why[TT_WHY_LEN], path[64];
    /* 30 fps frames labelled 00:00:00:25 .. :29 read as 25 fps. */
    tt_ltc_enc_t *e = tt_ltc_enc_new(rate, TT_FPS_30, why);
    assert_non_null(e);
    float buf[1600 * 6 + 2000] = {0};
    for (int k = 0; k < 5; k++)
        assert_int_equal(tt_ltc_enc_render(e, 25 + k, buf + 1600 * k, 1600), 1600);
    assert_true(tt_ltc_enc_finish(e, buf + 1600 * 5, 2000) > 0);
    tt_ltc_enc_destroy(&e);
    temp_path(path);
    write_wav(path, rate, 1, 1, buf, sizeof buf / sizeof buf[0], SF_FORMAT_PCM_16);
    collected_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    tt_ltc_stats_t st;
    assert_int_equal(tt_ltc_read_file_ex(path, 1, TT_FPS_25, collect, c, &st, why),
                     TT_ERR_NOTFOUND);
    assert_non_null(strstr(why, "00:00:00:25"));
    assert_int_equal(c->n, 0);
    assert_int_equal(st.frames_found, 5);
    assert_int_equal(st.frames_skipped, 5);
    assert_int_equal(st.frames_reported, 0);
    assert_string_equal(st.first_skipped, "00:00:00:25");
    assert_int_equal(st.fps, TT_FPS_25);
    /* The callback's non-zero value stops the read and is returned. */
    int calls = 0;
    assert_int_equal(tt_ltc_read_file(path, 1, TT_FPS_30, stop_after_one, &calls, why), 7);
    assert_int_equal(calls, 1);
    unlink(path);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_48k),
        cmocka_unit_test(test_roundtrip_at_file_start),
        cmocka_unit_test(test_roundtrip_44k1),
        cmocka_unit_test(test_roundtrip_96k),
        cmocka_unit_test(test_roundtrip_varispeed),
        cmocka_unit_test(test_autodetect),
        cmocka_unit_test(test_autodetect_short_take),
        cmocka_unit_test(test_render_is_stateless),
        cmocka_unit_test(test_encoder_refuses_bad_input),
        cmocka_unit_test(test_no_ltc),
        cmocka_unit_test(test_channel_out_of_range),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_wrong_rate_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
