/* test_bwf: the Broadcast WAV writer and reader, the media hash, and the
 * room agent's capture (agents/agent_capture.c) end to end.
 *
 * The BWF part writes files and reads them back: bext TimeReference (above
 * 2^32, so both halves count), description, frame count and 24-bit sample
 * values; the .part never outlives a close or an abort; the hash equals
 * crypto_generichash over the file's bytes.
 *
 * The capture part runs on a fake session time (no JACK, no network):
 * the window and TimeReference arithmetic against hand-worked values, then
 * --capture-from (roll -> ticks -> stop -> file) checking the file is the
 * exact slice of the input, its bext and its manifest, and the real-time
 * push path with a dropped period and clock jitter.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <sndfile.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "agent_capture.h"
#include "tt_bwf.h"
#include "tt_error.h"
#include "tt_tempo.h"
#include "tt_timecode.h"

#define RATE 48000
#define SEC INT64_C(1000000000)

/* ---- helpers ------------------------------------------------------------------------------- */

static void temp_dir(char out[64])
{
    strcpy(out, "/tmp/test_bwf_XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of directory entries whose name ends in suffix. */
static int count_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        n += l >= sl && !strcmp(e->d_name + l - sl, suffix);
    }
    closedir(d);
    return n;
}

/* Reads a mono or multichannel file's first channel as 24-bit integers. */
static int32_t *read_ints(const char *path, int64_t *frames, int *rate)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    assert_non_null(sf);
    int32_t *inter = malloc((size_t)(info.frames * info.channels + 1) * sizeof(int32_t));
    assert_non_null(inter);
    assert_int_equal(sf_readf_int(sf, inter, info.frames), info.frames);
    sf_close(sf);
    int32_t *mono = malloc((size_t)(info.frames + 1) * sizeof(int32_t));
    for (int64_t i = 0; i < info.frames; i++)
        mono[i] = inter[i * info.channels] >> 8; /* libsndfile left-justifies into 32 bits */
    free(inter);
    *frames = info.frames;
    if (rate)
        *rate = info.samplerate;
    return mono;
}

static int64_t round_div(__int128 a, __int128 b)
{
    __int128 n = a + b / 2;
    __int128 q = n / b;
    if (n % b != 0 && n < 0)
        q--;
    return (int64_t)q;
}

static int64_t S(int64_t ns)
{
    return round_div((__int128)ns * RATE, SEC);
}

/* ---- tt_bwf -------------------------------------------------------------------------------- */

static void fill_info(tt_bwf_info_t *info, uint64_t tr)
{
    memset(info, 0, sizeof *info);
    info->rate = RATE;
    info->channels = 1;
    snprintf(info->description, sizeof info->description,
             "session=s1 cue=1M1 take=2 room=stage input=in1");
    snprintf(info->originator, sizeof info->originator, "tutti");
    snprintf(info->originator_reference, sizeof info->originator_reference, "stage/1M1/t2");
    info->time_reference = tr;
}

static void test_write_read(void **state)
{
    (void)state;
    char dir[64], path[128], part[140], why[TT_WHY_LEN];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/take.wav", dir);
    snprintf(part, sizeof part, "%s.part", path);
    tt_bwf_info_t info;
    uint64_t tr = UINT64_C(0x123456789); /* above 2^32: both halves of the field */
    fill_info(&info, tr);
    tt_bwf_writer_t *w = tt_bwf_open(path, &info, why);
    assert_non_null(w);
    assert_true(exists(part));
    assert_false(exists(path));
    enum { N = 3001 };
    float *x = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++)
        x[i] = (float)(0.9 * sin(i * 0.01) + (i % 7) * 1e-7); /* off the 24-bit grid */
    x[10] = 1.5f;                                             /* clips to full scale */
    x[11] = -1.5f;                                            /* clips to negative full scale */
    assert_int_equal(tt_bwf_write(w, x, 1000, why), 0);
    assert_int_equal(tt_bwf_write(w, x + 1000, N - 1000, why), 0);
    assert_int_equal(tt_bwf_frames(w), N);
    assert_int_equal(tt_bwf_close(&w, why), 0);
    assert_null(w);
    assert_true(exists(path));
    assert_false(exists(part));

    tt_bwf_info_t back;
    uint64_t frames = 0;
    assert_int_equal(tt_bwf_read_info(path, &back, &frames, why), 0);
    assert_int_equal(back.rate, RATE);
    assert_int_equal(back.channels, 1);
    assert_int_equal(frames, N);
    assert_true(back.time_reference == tr);
    assert_string_equal(back.description, info.description);
    assert_string_equal(back.originator, "tutti");
    assert_string_equal(back.originator_reference, "stage/1M1/t2");
    /* libsndfile appends the line of its own encoding to whatever we give. */
    assert_true(strncmp(back.coding_history, "A=PCM,F=48000,W=24,M=mono,T=libsndfile", 38) == 0);
    assert_string_equal(back.coding_history + strlen(back.coding_history) - 2, "\r\n");

    int64_t n;
    int32_t *v = read_ints(path, &n, NULL);
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++) {
        double want = x[i] * 8388608.0;
        if (want > 8388607)
            want = 8388607;
        if (want < -8388608)
            want = -8388608;
        double d = fabs(v[i] - want);
        if (d > 1.0)
            fail_msg("sample %d: %d, want %.3f", i, v[i], want);
    }
    /* Never over a finished file. */
    assert_null(tt_bwf_open(path, &info, why));
    assert_non_null(strstr(why, "never overwritten"));
    free(v);
    free(x);
    remove_tree(dir);
}

static void test_abort_and_truncate(void **state)
{
    (void)state;
    char dir[64], path[128], part[140], why[TT_WHY_LEN];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/a.wav", dir);
    snprintf(part, sizeof part, "%s.part", path);
    tt_bwf_info_t info;
    fill_info(&info, 42);
    snprintf(info.coding_history, sizeof info.coding_history, "A=ANALOGUE,M=mono,T=room mic\r\n");
    float x[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = (float)((i - 500) / 8388608.0); /* exactly on the 24-bit grid */

    tt_bwf_writer_t *w = tt_bwf_open(path, &info, why);
    assert_non_null(w);
    assert_int_equal(tt_bwf_write(w, x, 1000, why), 0);
    tt_bwf_abort(&w);
    assert_null(w);
    assert_false(exists(part));
    assert_false(exists(path));
    tt_bwf_abort(&w); /* safe on NULL */
    assert_int_equal(tt_bwf_close(&w, why), 0);

    w = tt_bwf_open(path, &info, why);
    assert_non_null(w);
    assert_int_equal(tt_bwf_write(w, x, 1000, why), 0);
    assert_int_not_equal(tt_bwf_truncate(w, 1001, why), 0);
    assert_int_equal(tt_bwf_truncate(w, 600, why), 0);
    assert_int_equal(tt_bwf_frames(w), 600);
    assert_int_equal(tt_bwf_write(w, x + 600, 10, why), 0); /* and on from there */
    assert_int_equal(tt_bwf_close(&w, why), 0);
    uint64_t frames;
    tt_bwf_info_t back;
    assert_int_equal(tt_bwf_read_info(path, &back, &frames, why), 0);
    assert_int_equal(frames, 610);
    assert_int_equal(back.time_reference, 42);
    assert_true(strncmp(back.coding_history,
                        "A=ANALOGUE,M=mono,T=room mic\r\nA=PCM,F=48000,W=24,M=mono,T=libsndfile",
                        68) == 0);
    int64_t n;
    int32_t *v = read_ints(path, &n, NULL);
    for (int i = 0; i < 610; i++)
        assert_int_equal(v[i], i - 500);
    free(v);
    assert_int_equal(count_suffix(dir, ".part"), 0);

    /* Refusals. */
    tt_bwf_info_t bad = info;
    memset(bad.description, 'x', TT_BWF_DESC_LEN);
    bad.description[TT_BWF_DESC_LEN] = '\0'; /* exactly 256: fine */
    snprintf(path, sizeof path, "%s/b.wav", dir);
    w = tt_bwf_open(path, &bad, why);
    assert_non_null(w);
    tt_bwf_abort(&w);
    bad.channels = 0;
    assert_null(tt_bwf_open(path, &bad, why));
    snprintf(path, sizeof path, "%s/no/such/dir.wav", dir);
    assert_null(tt_bwf_open(path, &info, why));
    assert_non_null(strstr(why, "no/such/dir.wav.part"));
    remove_tree(dir);
}

static void test_read_plain_wav(void **state)
{
    (void)state;
    char dir[64], path[128], why[TT_WHY_LEN];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/plain.wav", dir);
    SF_INFO si = {.samplerate = 44100, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &si);
    assert_non_null(sf);
    short z[20] = {0};
    sf_writef_short(sf, z, 10);
    sf_close(sf);
    tt_bwf_info_t info;
    uint64_t frames;
    assert_int_equal(tt_bwf_read_info(path, &info, &frames, why), TT_ERR_NOTFOUND);
    assert_int_equal(info.rate, 44100);
    assert_int_equal(info.channels, 2);
    assert_int_equal(frames, 10);
    assert_int_equal(info.time_reference, 0);
    snprintf(path, sizeof path, "%s/missing.wav", dir);
    assert_int_equal(tt_bwf_read_info(path, &info, &frames, why), TT_ERR_IO);
    remove_tree(dir);
}

static void test_hash(void **state)
{
    (void)state;
    char dir[64], path[128], why[TT_WHY_LEN];
    temp_dir(dir);
    snprintf(path, sizeof path, "%s/blob", dir);
    size_t len = 3 * 1024 * 1024 + 12345; /* crosses the 1 MiB reads, odd tail */
    uint8_t *buf = malloc(len);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    uint8_t want[32], got[32];
    assert_true(sodium_init() >= 0);
    crypto_generichash(want, 32, buf, len, NULL, 0);
    uint64_t size = 0;
    assert_int_equal(tt_bwf_hash_file(path, got, &size, why), 0);
    assert_int_equal(size, len);
    assert_memory_equal(got, want, 32);
    /* The empty file: BLAKE2b-256 of nothing. */
    f = fopen(path, "wb");
    fclose(f);
    crypto_generichash(want, 32, buf, 0, NULL, 0);
    assert_int_equal(tt_bwf_hash_file(path, got, &size, why), 0);
    assert_int_equal(size, 0);
    assert_memory_equal(got, want, 32);
    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(tt_bwf_hash_file(path, got, &size, why), TT_ERR_IO);
    free(buf);
    remove_tree(dir);
}

/* ---- capture arithmetic -------------------------------------------------------------------- */

/* 25 fps, bar 1 at 01:00:00:00, one count-off bar of 4/4 at 120: a beat
 * is 0.5 s, a bar 2 s, the count-off 2 s. */
static const char *MAP25 = "fps 25\nstart 01:00:00:00\ncountoff 1\nbar 1 4/4 q=120\n";

static tt_tempo_map_t *parse(const char *text)
{
    char why[TT_WHY_LEN];
    tt_tempo_map_t *m = tt_tempo_parse_text(text, strlen(text), why);
    if (!m)
        fail_msg("%s", why);
    return m;
}

/* A take as the session folds a roll the coordinator makes (coord_server.c on_roll). */
static void make_roll(tt_session_take_t *r, const tt_tempo_map_t *map, const char *cue,
                      uint32_t take, int32_t from_bar, int64_t start_ns)
{
    (void)cue; /* the cue goes beside the take (agent_capture_on_roll) */
    memset(r, 0, sizeof *r);
    r->number = take;
    r->from_bar = from_bar;
    tt_tempo_countoff_t co;
    int64_t countoff_ns = tt_tempo_countoff(map, from_bar, &co);
    r->start_session_ns = start_ns;
    r->downbeat_session_ns = start_ns + countoff_ns;
    r->start_frame = tt_tempo_ns_to_frame(map, co.c_from - countoff_ns);
}

static void test_sample_rounding(void **state)
{
    (void)state;
    assert_int_equal(agent_capture_sample(0, RATE), 0);
    assert_int_equal(agent_capture_sample(10416, RATE), 0); /* 0.49997 */
    assert_int_equal(agent_capture_sample(10417, RATE), 1); /* 0.50002 */
    assert_int_equal(agent_capture_sample(62500, 8000), 1); /* exactly half: up */
    assert_int_equal(agent_capture_sample(-62500, 8000), 0);
    assert_int_equal(agent_capture_sample(-62501, 8000), -1);
    assert_int_equal(agent_capture_sample(1000 * SEC, RATE), 48000000);
    /* A day of monotonic time at 192 kHz does not overflow. */
    assert_int_equal(agent_capture_sample(86400 * SEC * 365, 192000),
                     INT64_C(86400) * 365 * 192000);
}

static void test_window(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    tt_tempo_map_t *map = parse(MAP25);
    const int64_t T = 1000 * SEC, pre = SEC, post = SEC, max = 1800 * SEC;
    tt_session_take_t r;
    make_roll(&r, map, "1M1", 1, 1, T);
    assert_int_equal(r.downbeat_session_ns, T + 2 * SEC);
    agent_capture_window_t w;

    /* Whole take: [start - pre, stop + post). */
    assert_int_equal(agent_capture_window(&r, map, T + 10 * SEC, pre, post, max, RATE, &w, why), 0);
    assert_int_equal(w.begin_ns, T - SEC);
    assert_int_equal(w.end_ns, T + 11 * SEC);
    assert_int_equal(w.s_begin, S(T - SEC));
    assert_int_equal(w.s_end, S(T + 11 * SEC));
    assert_false(w.punched);
    assert_false(w.capped);

    /* No stop yet: capped at max take + post. */
    assert_int_equal(agent_capture_window(&r, map, INT64_MAX, pre, post, max, RATE, &w, why), 0);
    assert_int_equal(w.end_ns, T + 1801 * SEC);
    assert_true(w.capped);

    /* Punch bars 3..5: bar 3 beat 1 is 4 s after the downbeat (bar 1), bar 5 8 s. */
    r.punch_in_bar = 3;
    r.punch_out_bar = 5;
    assert_int_equal(agent_capture_window(&r, map, INT64_MAX, pre, post, max, RATE, &w, why), 0);
    assert_true(w.punched);
    assert_false(w.capped); /* the punch bounds it */
    assert_int_equal(w.begin_ns, T + 2 * SEC + 4 * SEC - SEC);
    assert_int_equal(w.end_ns, T + 2 * SEC + 8 * SEC + SEC);
    /* A stop inside the punch ends it early; one after it changes nothing. */
    assert_int_equal(agent_capture_window(&r, map, T + 7 * SEC, pre, post, max, RATE, &w, why), 0);
    assert_int_equal(w.end_ns, T + 8 * SEC);
    assert_int_equal(agent_capture_window(&r, map, T + 60 * SEC, pre, post, max, RATE, &w, why), 0);
    assert_int_equal(w.end_ns, T + 11 * SEC);
    /* A stop before the punch-in: an empty window. */
    assert_int_equal(agent_capture_window(&r, map, T + 3 * SEC, pre, post, max, RATE, &w, why), 0);
    assert_int_equal(w.s_end, w.s_begin);

    /* Rolled from bar 3: the downbeat is bar 3, so punch 5..6 is 4 s and 6 s after it. */
    make_roll(&r, map, "1M1", 2, 3, T);
    r.punch_in_bar = 5;
    r.punch_out_bar = 6;
    assert_int_equal(agent_capture_window(&r, map, INT64_MAX, 0, 0, max, RATE, &w, why), 0);
    assert_int_equal(w.begin_ns, r.downbeat_session_ns + 4 * SEC);
    assert_int_equal(w.end_ns, r.downbeat_session_ns + 6 * SEC);

    /* Meter and tempo changes: bar 2 in 3/4 at 60, so bar 3 is 2 s + 3 s after bar 1. */
    tt_tempo_map_t *m2 = parse("fps 24\ncountoff 0\nbar 1 4/4 q=120\nbar 2 3/4 q=60\n");
    make_roll(&r, m2, "2M1", 1, 1, T);
    r.punch_in_bar = 2;
    r.punch_out_bar = 3;
    assert_int_equal(agent_capture_window(&r, m2, INT64_MAX, 0, 0, max, RATE, &w, why), 0);
    assert_int_equal(w.begin_ns, T + 2 * SEC);
    assert_int_equal(w.end_ns, T + 5 * SEC);
    tt_tempo_destroy(&m2);

    /* A punch that cannot be honoured records the whole take and says why. */
    make_roll(&r, map, "1M1", 3, 1, T);
    r.punch_in_bar = 3;
    r.punch_out_bar = 5;
    assert_int_equal(agent_capture_window(&r, NULL, T + 10 * SEC, pre, post, max, RATE, &w, why),
                     TT_ERR_INVALID);
    assert_false(w.punched);
    assert_int_equal(w.begin_ns, T - SEC);
    assert_int_equal(w.end_ns, T + 11 * SEC);
    r.punch_out_bar = 2;
    assert_int_equal(agent_capture_window(&r, map, T + 10 * SEC, pre, post, max, RATE, &w, why),
                     TT_ERR_INVALID);
    assert_false(w.punched);
    tt_tempo_destroy(&map);
}

static void test_time_reference(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    tt_tempo_map_t *map = parse(MAP25);
    const int64_t T = 1000 * SEC;
    tt_session_take_t r;
    make_roll(&r, map, "1M1", 1, 1, T);
    /* The first click is 2 s before 01:00:00:00: 00:59:58:00 = frame 89950. */
    assert_int_equal(r.start_frame, 90000 - 50);
    uint64_t tr;
    /* A file starting at the pre-handle (session T - 1 s) starts at 00:59:57:00. */
    assert_int_equal(agent_capture_time_reference(&r, map, RATE, S(T - SEC), &tr, why), 0);
    assert_int_equal(tr, 3597 * RATE);
    /* Not on a sample boundary: the timecode position rounds like the sample does. */
    r.start_session_ns = T + 123457;
    r.downbeat_session_ns = r.start_session_ns + 2 * SEC;
    int64_t s_first = S(r.start_session_ns - SEC);
    assert_int_equal(agent_capture_time_reference(&r, map, RATE, s_first, &tr, why), 0);
    assert_int_equal(tr,
                     s_first + round_div((__int128)(3598 * SEC - r.start_session_ns) * RATE, SEC));
    assert_int_equal(agent_capture_time_reference(&r, NULL, RATE, s_first, &tr, why),
                     TT_ERR_INVALID);

    /* The first click inside a frame: 29.97df, 2 bars of count-off at 92. The
     * exact form follows the click, not the start of its frame. */
    tt_tempo_map_t *df = parse("fps 29.97df\nstart 00:59:58;00\ncountoff 2\nbar 1 4/4 q=92\n");
    make_roll(&r, df, "2M1", 1, 1, T);
    int64_t countoff = r.downbeat_session_ns - r.start_session_ns; /* 8 beats at 92 */
    assert_int_equal(countoff, round_div((__int128)8 * 60 * SEC, 92));
    int64_t tc_click_ns = tt_timecode_frame_to_ns(tt_tempo_start_frame(df), TT_FPS_29_97_DF) -
                          countoff; /* timecode-timeline time of the first click */
    assert_int_equal(agent_capture_time_reference(&r, df, RATE, S(T), &tr, why), 0);
    assert_int_equal(tr, round_div((__int128)tc_click_ns * RATE, SEC));
    /* ... which the frame-start form would miss by a fraction of a frame. */
    int64_t frame_start = round_div((__int128)r.start_frame * 1001 * RATE, 30000);
    assert_true(tr > (uint64_t)frame_start);
    assert_true(tr - (uint64_t)frame_start < 1602);
    /* A map that is not the roll's: the record's frame is trusted. */
    r.start_frame += 100;
    assert_int_equal(agent_capture_time_reference(&r, df, RATE, S(T), &tr, why), 0);
    assert_int_equal(tr, round_div((__int128)r.start_frame * 1001 * RATE, 30000));
    tt_tempo_destroy(&df);

    /* A count-off before 00:00:00:00 wraps to the day before. */
    tt_tempo_map_t *zero = parse("fps 25\ncountoff 1\nbar 1 4/4 q=120\n");
    make_roll(&r, zero, "3M1", 1, 1, T);
    assert_int_equal(agent_capture_time_reference(&r, zero, RATE, S(T), &tr, why), 0);
    assert_int_equal(tr, (86400 - 2) * (uint64_t)RATE);
    tt_tempo_destroy(&zero);
    tt_tempo_destroy(&map);
}

/* ---- capture end to end -------------------------------------------------------------------- */

/* Input sample k of the --capture-from file, as a 24-bit integer (|v| < 2^22,
 * so float round trips are exact). Channel 2 carries something else. */
static int32_t input_at(int64_t k)
{
    return (int32_t)((k * 7919) % 4000000) - 2000000;
}

static void write_input(const char *path, int64_t frames)
{
    SF_INFO si = {.samplerate = RATE, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &si);
    assert_non_null(sf);
    int32_t *buf = malloc((size_t)frames * 2 * sizeof(int32_t));
    for (int64_t k = 0; k < frames; k++) {
        buf[2 * k] = input_at(k) * 256;
        buf[2 * k + 1] = (int32_t)(k % 1000) * 256;
    }
    assert_int_equal(sf_writef_int(sf, buf, frames), frames);
    sf_close(sf);
    free(buf);
}

/* Ticks fake session time from *now to until in uneven steps. */
static void run_until(agent_capture_t *c, int64_t *now, int64_t until)
{
    while (*now < until) {
        *now += 7 * 1000 * 1000 + 333;
        if (*now > until)
            *now = until;
        agent_capture_tick(c, *now);
    }
}

static void wait_idle(agent_capture_t *c, int64_t now)
{
    for (int i = 0; i < 10000 && agent_capture_busy(c) > 0; i++) {
        agent_capture_tick(c, now);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(agent_capture_busy(c), 0);
}

/* Checks the manifest beside path against the file; returns it (decref). */
static json_t *check_manifest(const char *path, uint64_t want_tr, int64_t want_frames)
{
    char mpath[600], why[TT_WHY_LEN];
    snprintf(mpath, sizeof mpath, "%s.json", path);
    json_error_t err;
    json_t *m = json_load_file(mpath, 0, &err);
    if (!m)
        fail_msg("%s: %s", mpath, err.text);
    /* Hash: over the file's bytes, independently of tt_bwf_hash_file. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *bytes = malloc((size_t)len);
    assert_int_equal(fread(bytes, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    uint8_t h[32];
    crypto_generichash(h, 32, bytes, (unsigned long long)len, NULL, 0);
    free(bytes);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, h, 32);
    assert_string_equal(json_string_value(json_object_get(m, "hash")), hex);
    assert_int_equal(json_integer_value(json_object_get(m, "size")), len);
    assert_string_equal(json_string_value(json_object_get(m, "state")), "recorded");
    assert_int_equal(json_integer_value(json_object_get(m, "rate")), RATE);
    assert_int_equal(json_integer_value(json_object_get(m, "time_reference")), (json_int_t)want_tr);
    assert_int_equal(json_integer_value(json_object_get(m, "frames")), want_frames);
    const char *base = strrchr(path, '/') + 1;
    assert_string_equal(json_string_value(json_object_get(m, "file")), base);
    tt_bwf_info_t info;
    uint64_t frames;
    assert_int_equal(tt_bwf_read_info(path, &info, &frames, why), 0);
    assert_int_equal(frames, want_frames);
    assert_true(info.time_reference == want_tr);
    return m;
}

/* The take's file must be input samples [from, from + frames). */
static void check_slice(const char *path, int64_t from, int64_t want_frames)
{
    int64_t n;
    int rate;
    int32_t *v = read_ints(path, &n, &rate);
    assert_int_equal(rate, RATE);
    assert_int_equal(n, want_frames);
    for (int64_t i = 0; i < n; i++)
        if (v[i] != input_at(from + i))
            fail_msg("%s sample %lld: %d, input %d", path, (long long)i, v[i], input_at(from + i));
    free(v);
}

static uint64_t expected_tr(int64_t s_first, int64_t start_ns)
{
    /* MAP25: the first click of a roll from bar 1 is at 00:59:58:00 = 3598 s. */
    return (uint64_t)(s_first + round_div((__int128)(3598 * SEC - start_ns) * RATE, SEC));
}

static void test_capture_from(void **state)
{
    (void)state;
    char dir[64], input[128], why[TT_WHY_LEN];
    temp_dir(dir);
    snprintf(input, sizeof input, "%s/player.wav", dir);
    write_input(input, 12 * RATE);
    char capdir[128];
    snprintf(capdir, sizeof capdir, "%s/cap", dir);
    void *ctx = zmq_ctx_new();
    agent_capture_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    agent_capture_config_defaults(&cfg);
    assert_true(cfg.pre_handle_s == 1.0 && cfg.post_handle_s == 1.0 && cfg.max_take_s == 1800);
    cfg.ctx = ctx;
    cfg.dir = capdir;
    cfg.room = "london strings";
    cfg.rate = RATE;
    cfg.capture_from = input;
    cfg.pre_handle_s = 0.5;
    cfg.post_handle_s = 0.5;

    /* Refusals first: the file's rate must be the session's. */
    cfg.rate = 44100;
    assert_null(agent_capture_new(&cfg, why));
    assert_non_null(strstr(why, "48000 Hz"));
    cfg.rate = RATE;

    agent_capture_t *c = agent_capture_new(&cfg, why);
    if (!c)
        fail_msg("%s", why);
    tt_tempo_map_t *map = parse(MAP25);
    const int64_t T = 1000 * SEC + 123457; /* off any sample boundary */
    int64_t now = T - 1500 * 1000 * 1000;
    agent_capture_tick(c, now);

    /* Take 3: rolled ahead, stopped 2 s after the start. */
    tt_session_take_t r;
    make_roll(&r, map, "1M1", 3, 1, T);
    assert_int_equal(agent_capture_on_roll(c, "1M1", &r, MAP25, "scoring-day", why), 0);
    assert_int_equal(agent_capture_on_roll(c, "1M1", &r, MAP25, "scoring-day", why), 0); /* again */
    assert_int_equal(agent_capture_busy(c), 1);
    run_until(c, &now, T + 1 * SEC);
    agent_capture_on_stop(c, "1M1", 3, T + 2 * SEC);
    run_until(c, &now, T + 3 * SEC);
    wait_idle(c, now);
    char path[256], part[270];
    snprintf(path, sizeof path, "%s/1M1_t3_london-strings_in1.wav", capdir);
    snprintf(part, sizeof part, "%s.part", path);
    assert_true(exists(path));
    assert_false(exists(part));
    int64_t s_first = S(T - SEC / 2), frames = S(T + 2 * SEC + SEC / 2) - s_first;
    check_slice(path, 0, frames);
    json_t *m = check_manifest(path, expected_tr(s_first, T), frames);
    assert_string_equal(json_string_value(json_object_get(m, "cue")), "1M1");
    assert_int_equal(json_integer_value(json_object_get(m, "take")), 3);
    assert_string_equal(json_string_value(json_object_get(m, "room")), "london strings");
    assert_string_equal(json_string_value(json_object_get(m, "input")), "in1");
    assert_int_equal(json_integer_value(json_object_get(m, "punch_in_bar")), 0);
    assert_true(json_is_true(json_object_get(m, "complete")));
    assert_int_equal(json_integer_value(json_object_get(m, "session_sample")), s_first);
    json_decref(m);
    tt_bwf_info_t info;
    assert_int_equal(tt_bwf_read_info(path, &info, NULL, why), 0);
    assert_string_equal(info.description,
                        "session=scoring-day cue=1M1 take=3 room=london strings input=in1");
    /* The same take again (a restarted agent): on disk already, not redone. */
    assert_int_equal(agent_capture_on_roll(c, "1M1", &r, MAP25, "scoring-day", why),
                     TT_ERR_INVALID);
    assert_non_null(strstr(why, "on disk already"));

    /* Take 4: the roll reaches us 0.3 s after its window began. The player's
     * file still begins at the window's start. */
    const int64_t T4 = T + 20 * SEC;
    run_until(c, &now, T4 - SEC / 2 + 300 * 1000 * 1000);
    make_roll(&r, map, "1M1", 4, 1, T4);
    assert_int_equal(agent_capture_on_roll(c, "1M1", &r, MAP25, "scoring-day", why), 0);
    run_until(c, &now, T4 + SEC);
    agent_capture_on_stop(c, "1M1", 0, T4 + SEC + 250 * 1000 * 1000); /* take 0: the open one */
    run_until(c, &now, T4 + 3 * SEC);
    wait_idle(c, now);
    snprintf(path, sizeof path, "%s/1M1_t4_london-strings_in1.wav", capdir);
    s_first = S(T4 - SEC / 2);
    frames = S(T4 + SEC + 750 * 1000 * 1000) - s_first;
    check_slice(path, 0, frames);
    json_decref(check_manifest(path, expected_tr(s_first, T4), frames));

    /* Take 5: punch bars 2..3 (2 s and 4 s after the downbeat), stopped later. */
    const int64_t T5 = T + 40 * SEC;
    run_until(c, &now, T5 - SEC);
    make_roll(&r, map, "1M1", 5, 1, T5);
    r.punch_in_bar = 2;
    r.punch_out_bar = 3;
    assert_int_equal(agent_capture_on_roll(c, "1M1", &r, MAP25, "scoring-day", why), 0);
    run_until(c, &now, T5 + 5 * SEC);
    agent_capture_on_stop(c, "1M1", 5, T5 + 7 * SEC); /* after the punch-out (T5 + 6 s) */
    run_until(c, &now, T5 + 9 * SEC);
    wait_idle(c, now);
    snprintf(path, sizeof path, "%s/1M1_t5_london-strings_in1.wav", capdir);
    int64_t db = r.downbeat_session_ns;
    s_first = S(db + 2 * SEC - SEC / 2);
    frames = S(db + 4 * SEC + SEC / 2) - s_first;
    check_slice(path, 0, frames);
    m = check_manifest(path, expected_tr(s_first, T5), frames);
    assert_int_equal(json_integer_value(json_object_get(m, "punch_in_bar")), 2);
    assert_int_equal(json_integer_value(json_object_get(m, "punch_out_bar")), 3);
    json_decref(m);

    /* Take 6: the stop never comes (the coordinator vanished). Shut down
     * mid-take: what was recorded is kept, marked incomplete. */
    const int64_t T6 = T + 60 * SEC;
    run_until(c, &now, T6 - SEC);
    make_roll(&r, map, "1M1", 6, 1, T6);
    assert_int_equal(agent_capture_on_roll(c, "1M1", &r, MAP25, "scoring-day", why), 0);
    run_until(c, &now, T6 + 2 * SEC);
    float one = 0.5f;
    const float *one_in[1] = {&one};
    assert_int_equal(agent_capture_rt_push(c, 1, one_in, 0, 0), 0); /* the player is the input */
    assert_int_equal(agent_capture_finished(c), 3);
    for (int i = 0; i < 200; i++) { /* let the writer catch up with the player */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    agent_capture_destroy(&c);
    assert_null(c);
    snprintf(path, sizeof path, "%s/1M1_t6_london-strings_in1.wav", capdir);
    assert_true(exists(path));
    s_first = S(T6 - SEC / 2);
    int64_t n;
    int32_t *v = read_ints(path, &n, NULL);
    assert_true(n > 0 && n <= S(T6 + 2 * SEC) - s_first);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(v[i], input_at(i));
    free(v);
    m = check_manifest(path, expected_tr(s_first, T6), n);
    assert_true(json_is_false(json_object_get(m, "complete")));
    json_decref(m);
    assert_int_equal(count_suffix(capdir, ".part"), 0);
    assert_int_equal(count_suffix(capdir, ".tmp"), 0);
    assert_int_equal(count_suffix(capdir, ".wav"), 4);
    assert_int_equal(count_suffix(capdir, ".wav.json"), 4);

    tt_tempo_destroy(&map);
    zmq_ctx_term(ctx);
    remove_tree(capdir);
    remove_tree(dir);
}

/* Input at session sample s on input i, on the 24-bit grid. */
static float live_at(int i, int64_t s)
{
    int32_t v = (int32_t)(s % 100000) - 50000;
    return (float)((i ? -v : v) / 8388608.0);
}

/* Pushes n frames as a JACK period would: the data is the input at its true
 * session samples [s, s + n), tagged with s0 (jitter) and frame. */
static void push(agent_capture_t *c, int64_t s, int64_t s0, int64_t frame, uint32_t n)
{
    static float a[1024], b[1024];
    for (uint32_t k = 0; k < n; k++) {
        a[k] = live_at(0, s + k);
        b[k] = live_at(1, s + k);
    }
    const float *in[2] = {a, b};
    assert_int_equal(agent_capture_rt_push(c, n, in, s0, frame), 0);
}

static void test_rt_push(void **state)
{
    (void)state;
    char dir[64], why[TT_WHY_LEN];
    temp_dir(dir);
    void *ctx = zmq_ctx_new();
    agent_capture_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    agent_capture_config_defaults(&cfg);
    const char *inputs[] = {"system:capture_1", "bass"};
    cfg.ctx = ctx;
    cfg.dir = dir;
    cfg.room = "stage";
    cfg.rate = RATE;
    cfg.inputs = inputs;
    cfg.n_inputs = 2;
    agent_capture_t *c = agent_capture_new(&cfg, why);
    if (!c)
        fail_msg("%s", why);
    tt_tempo_map_t *map = parse(MAP25);
    const int64_t T = 2000 * SEC;
    const int64_t s_start = S(T - 3 * SEC); /* the card runs 3 s before the roll arrives */
    int64_t s = s_start, frame = 1029;      /* (frame / P) % 3 == 1: no jitter first */
    const uint32_t P = 256;
    /* 3 s of periods, with +-1 sample of jitter on the clock's placement. */
    while (s < S(T - 0 * SEC)) {
        push(c, s, s + ((frame / P) % 3) - 1, frame, P);
        s += P;
        frame += P;
    }
    /* The roll arrives late (at T): its pre-handle comes from the history. */
    tt_session_take_t r;
    make_roll(&r, map, "4M2", 1, 1, T);
    assert_int_equal(agent_capture_on_roll(c, "4M2", &r, MAP25, "s", why), 0);
    agent_capture_on_stop(c, "4M2", 1, T + SEC);
    /* An xrun: 2 periods lost (the card's frame counter jumps). */
    int64_t gap_from = 0, gap_to = 0;
    while (s < S(T + 3 * SEC)) {
        if (!gap_from && s >= S(T + SEC / 2)) {
            gap_from = s;
            s += 2 * P;
            frame += 2 * P;
            gap_to = s;
        }
        push(c, s, s, frame, P);
        s += P;
        frame += P;
        if ((frame / P) % 64 == 0) { /* pace the ring like a card would */
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    wait_idle(c, T + 3 * SEC);
    int64_t s_first = S(T - SEC), s_end = S(T + 2 * SEC);
    for (int i = 0; i < 2; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/4M2_t1_stage_%s.wav", dir, i ? "bass" : "system-capture_1");
        int64_t n;
        int32_t *v = read_ints(path, &n, NULL);
        assert_int_equal(n, s_end - s_first);
        for (int64_t k = 0; k < n; k++) {
            int64_t at = s_first + k;
            int32_t want =
                at >= gap_from && at < gap_to ? 0 : (int32_t)lrint(live_at(i, at) * 8388608.0);
            if (v[k] != want)
                fail_msg("input %d sample %lld (session %lld): %d, want %d", i, (long long)k,
                         (long long)at, v[k], want);
        }
        free(v);
        json_t *m = check_manifest(path, expected_tr(s_first, T), n);
        assert_string_equal(json_string_value(json_object_get(m, "input")),
                            i ? "bass" : "system:capture_1");
        json_decref(m);
    }

    /* Take 2: the stop reaches us late, after the writer has gone past its
     * end: the files are cut back to the window. */
    const int64_t T2 = T + 10 * SEC;
    make_roll(&r, map, "4M2", 2, 1, T2);
    assert_int_equal(agent_capture_on_roll(c, "4M2", &r, MAP25, "s", why), 0);
    /* Take 3: stopped before its window begins; nothing is recorded. */
    make_roll(&r, map, "4M2", 3, 1, T2 + 60 * SEC);
    assert_int_equal(agent_capture_on_roll(c, "4M2", &r, MAP25, "s", why), 0);
    agent_capture_on_stop(c, "4M2", 3, T2 + 50 * SEC);
    s = S(T2 - 2 * SEC); /* the card ran on, but the clock now puts it 5 s later: resync */
    while (s < S(T2 + 3 * SEC)) {
        push(c, s, s, frame, P);
        s += P;
        frame += P;
        if ((frame / P) % 64 == 0) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    for (int i = 0; i < 300; i++) { /* let the writer pass T2 + 1.5 s */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    agent_capture_on_stop(c, "4M2", 2, T2 + SEC / 2);
    wait_idle(c, T2 + 3 * SEC);
    s_first = S(T2 - SEC);
    s_end = S(T2 + SEC / 2 + SEC);
    char path[256];
    snprintf(path, sizeof path, "%s/4M2_t2_stage_bass.wav", dir);
    int64_t n;
    int32_t *v = read_ints(path, &n, NULL);
    assert_int_equal(n, s_end - s_first);
    for (int64_t k = 0; k < n; k++)
        assert_int_equal(v[k], (int32_t)lrint(live_at(1, s_first + k) * 8388608.0));
    free(v);
    json_decref(check_manifest(path, expected_tr(s_first, T2), n));
    snprintf(path, sizeof path, "%s/4M2_t3_stage_bass.wav", dir);
    assert_false(exists(path));
    assert_int_equal(agent_capture_finished(c), 2);
    assert_int_equal(count_suffix(dir, ".part"), 0);
    agent_capture_destroy(&c);
    tt_tempo_destroy(&map);
    zmq_ctx_term(ctx);
    remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_read),      cmocka_unit_test(test_abort_and_truncate),
        cmocka_unit_test(test_read_plain_wav),  cmocka_unit_test(test_hash),
        cmocka_unit_test(test_sample_rounding), cmocka_unit_test(test_window),
        cmocka_unit_test(test_time_reference),  cmocka_unit_test(test_capture_from),
        cmocka_unit_test(test_rt_push),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
