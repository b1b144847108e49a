/* test_timecode: SMPTE labels, frame counts, real time and samples.
 *
 * The edges a show hits: the drop-frame minute boundary (00:00:59;29 ->
 * 00:01:00;02), the tenth minute that does not drop, labels that do not
 * exist at 29.97df, the 24-hour wrap both ways, 23.976 against 24 and
 * 29.97 drop against non-drop in real time. Every label of a whole day at
 * every rate is checked against an independent label counter that ticks
 * one frame at a time; random frames (seeded) round-trip through labels,
 * nanoseconds and samples; bad input is refused with a reason that says
 * what was wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tt_error.h"
#include "tt_timecode.h"

__extension__ typedef __int128 i128;

static const tt_fps_t all_fps[] = {TT_FPS_23_976,   TT_FPS_24,        TT_FPS_25,
                                   TT_FPS_29_97_DF, TT_FPS_29_97_NDF, TT_FPS_30};
#define NFPS ((int)(sizeof all_fps / sizeof all_fps[0]))

/* ---- helpers ---- */

static int64_t parse_ok(const char *s, tt_fps_t fps)
{
    char why[TT_WHY_LEN] = "";
    int64_t frame = -12345;
    int rc = tt_timecode_parse(s, fps, &frame, why);
    if (rc != 0)
        fail_msg("\"%s\" at %s refused: %s", s, tt_fps_name(fps), why);
    return frame;
}

/* Parse must fail with TT_ERR_INVALID, leave *frame alone, and say `want`. */
static void parse_bad(const char *s, tt_fps_t fps, const char *want)
{
    char why[TT_WHY_LEN] = "";
    int64_t frame = -12345;
    int rc = tt_timecode_parse(s, fps, &frame, why);
    if (rc == 0)
        fail_msg("\"%s\" at %s accepted as frame %lld", s ? s : "(null)", tt_fps_name(fps),
                 (long long)frame);
    assert_int_equal(rc, TT_ERR_INVALID);
    assert_int_equal(frame, -12345);
    if (!strstr(why, want))
        fail_msg("reason for \"%s\" at %s is '%s', expected it to mention '%s'", s ? s : "(null)",
                 tt_fps_name(fps), why, want);
    /* why may be NULL */
    assert_int_equal(tt_timecode_parse(s, fps, &frame, NULL), TT_ERR_INVALID);
}

static void expect_label(int64_t frame, tt_fps_t fps, const char *want)
{
    char out[TT_TIMECODE_LEN];
    memset(out, 'x', sizeof out);
    tt_timecode_format(frame, fps, out);
    if (strcmp(out, want) != 0)
        fail_msg("frame %lld at %s is %s, expected %s", (long long)frame, tt_fps_name(fps), out,
                 want);
}

/* splitmix64: a fixed seed gives the same frames on every run. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* ---- frame rates ---- */

static void test_fps_parse_names(void **state)
{
    (void)state;
    for (int i = 0; i < NFPS; i++) {
        tt_fps_t got = (tt_fps_t)-1;
        char why[TT_WHY_LEN] = "";
        assert_int_equal(tt_fps_parse(tt_fps_name(all_fps[i]), &got, why), 0);
        assert_int_equal(got, all_fps[i]);
    }
    const struct {
        const char *s;
        tt_fps_t fps;
    } names[] = {
        {"23.976", TT_FPS_23_976},
        {"24", TT_FPS_24},
        {"25", TT_FPS_25},
        {"29.97df", TT_FPS_29_97_DF},
        {"29.97DF", TT_FPS_29_97_DF},
        {"29.97NDF", TT_FPS_29_97_NDF},
        {"29.97ndf", TT_FPS_29_97_NDF},
        {"29.97Df", TT_FPS_29_97_DF},
        {"30", TT_FPS_30},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        tt_fps_t got = (tt_fps_t)-1;
        assert_int_equal(tt_fps_parse(names[i].s, &got, NULL), 0);
        assert_int_equal(got, names[i].fps);
    }
    assert_string_equal(tt_fps_name(TT_FPS_23_976), "23.976");
    assert_string_equal(tt_fps_name(TT_FPS_24), "24");
    assert_string_equal(tt_fps_name(TT_FPS_25), "25");
    assert_string_equal(tt_fps_name(TT_FPS_29_97_DF), "29.97df");
    assert_string_equal(tt_fps_name(TT_FPS_29_97_NDF), "29.97ndf");
    assert_string_equal(tt_fps_name(TT_FPS_30), "30");
    assert_string_equal(tt_fps_name((tt_fps_t)99), "unknown");
}

static void test_fps_parse_refuses(void **state)
{
    (void)state;
    const struct {
        const char *s;
        const char *want;
    } bad[] = {
        {"29.97", "ambiguous"}, {"29.97", "29.97df"},    {"29.97", "29.97ndf"},
        {"", "empty"},          {NULL, "empty"},         {"60", "unknown frame rate \"60\""},
        {"24fps", "unknown"},   {" 24", "unknown"},      {"24 ", "unknown"},
        {"23.98", "unknown"},   {"29.97d", "unknown"},   {"2", "unknown"},
        {"250", "unknown"},     {"29.97dff", "unknown"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tt_fps_t got = TT_FPS_25;
        char why[TT_WHY_LEN] = "";
        assert_int_equal(tt_fps_parse(bad[i].s, &got, why), TT_ERR_INVALID);
        assert_int_equal(got, TT_FPS_25);
        if (!strstr(why, bad[i].want))
            fail_msg("reason for \"%s\" is '%s', expected '%s'", bad[i].s ? bad[i].s : "(null)",
                     why, bad[i].want);
        assert_int_equal(tt_fps_parse(bad[i].s, &got, NULL), TT_ERR_INVALID);
    }
    /* A long, unprintable name is quoted short and printable. */
    char why[TT_WHY_LEN] = "";
    tt_fps_t got;
    assert_int_equal(tt_fps_parse("\x01\x02\x7f"
                                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                  &got, why),
                     TT_ERR_INVALID);
    assert_non_null(strstr(why, "\"???aaaa"));
    assert_non_null(strstr(why, "...\""));
}

static void test_fps_table(void **state)
{
    (void)state;
    const struct {
        tt_fps_t fps;
        int64_t num, den;
        int nominal, drop;
        int64_t per_day;
    } want[] = {
        {TT_FPS_23_976, 24000, 1001, 24, 0, 2073600},
        {TT_FPS_24, 24, 1, 24, 0, 2073600},
        {TT_FPS_25, 25, 1, 25, 0, 2160000},
        {TT_FPS_29_97_DF, 30000, 1001, 30, 1, 2589408},
        {TT_FPS_29_97_NDF, 30000, 1001, 30, 0, 2592000},
        {TT_FPS_30, 30, 1, 30, 0, 2592000},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int64_t num = 0, den = 0;
        tt_fps_rate(want[i].fps, &num, &den);
        assert_int_equal(num, want[i].num);
        assert_int_equal(den, want[i].den);
        assert_int_equal(tt_fps_nominal(want[i].fps), want[i].nominal);
        assert_int_equal(tt_fps_is_drop(want[i].fps), want[i].drop);
        assert_int_equal(tt_timecode_frames_per_day(want[i].fps), want[i].per_day);
    }
}

/* ---- drop-frame edges ---- */

static void test_df_minute_boundary(void **state)
{
    (void)state;
    const tt_fps_t df = TT_FPS_29_97_DF;
    expect_label(0, df, "00:00:00;00");
    expect_label(1799, df, "00:00:59;29");
    expect_label(1800, df, "00:01:00;02");
    expect_label(1801, df, "00:01:00;03");
    assert_int_equal(parse_ok("00:00:59;29", df), 1799);
    assert_int_equal(parse_ok("00:01:00;02", df), 1800);
    /* minute 2 starts 1798 frames after minute 1's first label */
    expect_label(1800 + 1797, df, "00:01:59;29");
    expect_label(1800 + 1798, df, "00:02:00;02");
    assert_int_equal(parse_ok("00:02:00;02", df), 3598);
    /* the same boundary an hour in: minute 61 drops, minute 60 does not */
    assert_int_equal(parse_ok("01:00:00;00", df), 107892);
    assert_int_equal(parse_ok("01:00:59;29", df), 107892 + 1799);
    expect_label(107892 + 1800, df, "01:01:00;02");
    /* at non-drop rates the same boundary has no gap */
    expect_label(1800, TT_FPS_29_97_NDF, "00:01:00:00");
    expect_label(1800, TT_FPS_30, "00:01:00:00");
    assert_int_equal(parse_ok("00:01:00:00", TT_FPS_29_97_NDF), 1800);
}

static void test_df_tenth_minute(void **state)
{
    (void)state;
    const tt_fps_t df = TT_FPS_29_97_DF;
    expect_label(17981, df, "00:09:59;29");
    expect_label(17982, df, "00:10:00;00");
    expect_label(17983, df, "00:10:00;01");
    expect_label(17984, df, "00:10:00;02");
    assert_int_equal(parse_ok("00:10:00;00", df), 17982);
    assert_int_equal(parse_ok("00:10:00;01", df), 17983);
    /* each tenth minute, through the day */
    for (int tens = 0; tens < 24 * 6; tens++) {
        char want[32];
        snprintf(want, sizeof want, "%02d:%02d:00;00", tens / 6, tens % 6 * 10);
        expect_label((int64_t)tens * 17982, df, want);
        assert_int_equal(parse_ok(want, df), (int64_t)tens * 17982);
    }
    expect_label(5 * 17982 + 1800, df, "00:51:00;02");
}

static void test_df_missing_labels(void **state)
{
    (void)state;
    const tt_fps_t df = TT_FPS_29_97_DF;
    parse_bad("00:01:00;00", df, "does not exist");
    parse_bad("00:01:00;01", df, "does not exist");
    parse_bad("00:01:00;00", df, "00:00:59;29 is 00:01:00;02");
    parse_bad("00:01:00:01", df, "does not exist"); /* ':' separator, same label */
    parse_bad("00:11:00;00", df, "does not exist");
    parse_bad("00:59:00;01", df, "does not exist");
    parse_bad("23:59:00;00", df, "the frame after 23:58:59;29 is 23:59:00;02");
    parse_bad("01:09:00;01", df, "does not exist");
    /* ;02 and the same second's other frames exist; so does second 01's ;00 */
    parse_ok("00:01:00;02", df);
    parse_ok("00:01:01;00", df);
    parse_ok("00:01:01;01", df);
    parse_ok("00:20:00;00", df);
    parse_ok("00:00:00;01", df);
    /* every label of every minute: exactly the dropped ones are refused */
    for (int m = 0; m < 60; m++) {
        for (int f = 0; f < 30; f++) {
            char s[32];
            snprintf(s, sizeof s, "12:%02d:00;%02d", m, f);
            int64_t frame;
            int rc = tt_timecode_parse(s, df, &frame, NULL);
            assert_int_equal(rc == 0, !(m % 10 != 0 && f < 2));
        }
    }
    /* the labels exist at non-drop rates */
    assert_int_equal(parse_ok("00:01:00:00", TT_FPS_30), 1800);
    assert_int_equal(parse_ok("00:01:00:01", TT_FPS_29_97_NDF), 1801);
}

static void test_df_separators(void **state)
{
    (void)state;
    const tt_fps_t df = TT_FPS_29_97_DF;
    assert_int_equal(parse_ok("00:01:00;02", df), 1800);
    assert_int_equal(parse_ok("00:01:00:02", df), 1800);
    assert_int_equal(parse_ok("00;01;00;02", df), 1800);
    assert_int_equal(parse_ok("00;01:00;02", df), 1800);
    expect_label(1800, df, "00:01:00;02"); /* always printed with one ';' */
    parse_bad("00:01:00.02", df, "separator at character 9");
    parse_bad("00:01:00,02", df, "separator at character 9");
}

static void test_semicolon_needs_drop_frame(void **state)
{
    (void)state;
    const tt_fps_t ndf[] = {TT_FPS_23_976, TT_FPS_24, TT_FPS_25, TT_FPS_29_97_NDF, TT_FPS_30};
    for (size_t i = 0; i < sizeof ndf / sizeof ndf[0]; i++) {
        parse_bad("00:00:01;00", ndf[i], "drop-frame");
        parse_bad("00;00:01:00", ndf[i], "drop-frame");
        char out[TT_TIMECODE_LEN];
        tt_timecode_format(1000, ndf[i], out);
        assert_null(strchr(out, ';'));
    }
}

/* ---- 24-hour wrap ---- */

static void test_day_wrap(void **state)
{
    (void)state;
    for (int i = 0; i < NFPS; i++) {
        tt_fps_t fps = all_fps[i];
        int64_t day = tt_timecode_frames_per_day(fps);
        int n = tt_fps_nominal(fps);
        char last[32];
        snprintf(last, sizeof last, "23:59:59%c%02d", tt_fps_is_drop(fps) ? ';' : ':', n - 1);
        const char *zero = tt_fps_is_drop(fps) ? "00:00:00;00" : "00:00:00:00";

        assert_int_equal(parse_ok(last, fps), day - 1);
        expect_label(day - 1, fps, last);
        expect_label(day, fps, zero);
        expect_label(day + 1, fps, tt_fps_is_drop(fps) ? "00:00:00;01" : "00:00:00:01");
        expect_label(-1, fps, last);
        expect_label(-day, fps, zero);
        expect_label(-day - 1, fps, last);
        char first_minute[TT_TIMECODE_LEN];
        tt_timecode_format(1800, fps, first_minute);
        expect_label(7 * day + 1800, fps, first_minute);
        expect_label(INT64_MAX - INT64_MAX % day, fps, zero);
        expect_label(INT64_MIN - INT64_MIN % day, fps, zero);

        int64_t wrap_day = parse_ok(last, fps) + 1;
        expect_label(wrap_day, fps, zero);
        /* real time does not wrap */
        assert_true(tt_timecode_frame_to_ns(day, fps) > tt_timecode_frame_to_ns(day - 1, fps));
    }
    assert_int_equal(parse_ok("23:59:59:23", TT_FPS_24), 2073599);
    expect_label(2073599 + 1, TT_FPS_24, "00:00:00:00");
    expect_label(-1, TT_FPS_24, "23:59:59:23");
    expect_label(-1, TT_FPS_29_97_DF, "23:59:59;29");
}

static void test_fields_match_format(void **state)
{
    (void)state;
    int h, m, s, f;
    tt_timecode_fields(107892 + 1800, TT_FPS_29_97_DF, &h, &m, &s, &f);
    assert_int_equal(h, 1);
    assert_int_equal(m, 1);
    assert_int_equal(s, 0);
    assert_int_equal(f, 2);
    tt_timecode_fields(-1, TT_FPS_25, &h, &m, &s, &f);
    assert_int_equal(h, 23);
    assert_int_equal(m, 59);
    assert_int_equal(s, 59);
    assert_int_equal(f, 24);
    /* any pointer may be NULL */
    tt_timecode_fields(3 * 3600 * 25 + 7, TT_FPS_25, &h, NULL, NULL, &f);
    assert_int_equal(h, 3);
    assert_int_equal(f, 7);
    tt_timecode_fields(5, TT_FPS_25, NULL, NULL, NULL, NULL);
}

/* Every label of a day at every rate, against a counter that ticks labels
 * one frame at a time and skips ;00 and ;01 where drop-frame says so. */
static void test_every_label_of_the_day(void **state)
{
    (void)state;
    for (int i = 0; i < NFPS; i++) {
        tt_fps_t fps = all_fps[i];
        int n = tt_fps_nominal(fps), drop = tt_fps_is_drop(fps);
        int h = 0, m = 0, s = 0, f = 0;
        int64_t day = tt_timecode_frames_per_day(fps);
        int64_t frame;
        for (frame = 0; frame < day; frame++) {
            int gh, gm, gs, gf;
            tt_timecode_fields(frame, fps, &gh, &gm, &gs, &gf);
            if (gh != h || gm != m || gs != s || gf != f)
                fail_msg("%s frame %lld: got %02d:%02d:%02d:%02d, counter %02d:%02d:%02d:%02d",
                         tt_fps_name(fps), (long long)frame, gh, gm, gs, gf, h, m, s, f);
            /* format -> parse for the first 11 minutes and the last minute of the day */
            if (frame < 11 * 60 * 30 || frame >= day - 60 * 30) {
                char label[TT_TIMECODE_LEN];
                tt_timecode_format(frame, fps, label);
                assert_int_equal(parse_ok(label, fps), frame);
            }
            if (++f == n) {
                f = 0;
                if (++s == 60) {
                    s = 0;
                    if (++m == 60) {
                        m = 0;
                        if (++h == 24)
                            h = 0;
                    }
                }
                if (drop && s == 0 && m % 10 != 0)
                    f = 2;
            }
        }
        /* the counter came back to 00:00:00:00 exactly one day later */
        assert_int_equal(h + m + s + f, 0);
    }
}

/* ---- real time ---- */

static void test_23976_vs_24(void **state)
{
    (void)state;
    /* same labels, same frame counts */
    assert_int_equal(parse_ok("01:00:00:00", TT_FPS_23_976), 86400);
    assert_int_equal(parse_ok("01:00:00:00", TT_FPS_24), 86400);
    assert_int_equal(parse_ok("00:00:01:00", TT_FPS_23_976), parse_ok("00:00:01:00", TT_FPS_24));
    /* 23.976 runs 1001/1000 slower */
    assert_int_equal(tt_timecode_frame_to_ns(86400, TT_FPS_24), 3600 * INT64_C(1000000000));
    assert_int_equal(tt_timecode_frame_to_ns(86400, TT_FPS_23_976), INT64_C(3603600000000));
    assert_int_equal(tt_timecode_frame_to_ns(24, TT_FPS_24), INT64_C(1000000000));
    assert_int_equal(tt_timecode_frame_to_ns(24, TT_FPS_23_976), INT64_C(1001000000));
    /* one frame: 1/24 s = 41666666.67 ns, 1001/24000 s = 41708333.33 ns */
    assert_int_equal(tt_timecode_frame_to_ns(1, TT_FPS_24), 41666667);
    assert_int_equal(tt_timecode_frame_to_ns(1, TT_FPS_23_976), 41708333);
    assert_int_equal(tt_timecode_frame_to_ns(2, TT_FPS_24), 83333333);
    /* a whole day of 23.976 labels is 86486.4 s */
    assert_int_equal(tt_timecode_frame_to_ns(2073600, TT_FPS_23_976), INT64_C(86486400000000));
    /* at the real hour, 23.976 is 3.6 s = 86.31 frames behind its labels */
    assert_int_equal(tt_timecode_ns_to_frame(3600 * INT64_C(1000000000), TT_FPS_23_976), 86313);
    assert_int_equal(tt_timecode_ns_to_frame(3600 * INT64_C(1000000000), TT_FPS_24), 86400);
}

static void test_df_vs_ndf_real_time(void **state)
{
    (void)state;
    int64_t df = parse_ok("01:00:00;00", TT_FPS_29_97_DF);
    int64_t ndf = parse_ok("01:00:00:00", TT_FPS_29_97_NDF);
    assert_int_equal(df, 107892);
    assert_int_equal(ndf, 108000);
    assert_int_equal(tt_timecode_frame_to_ns(df, TT_FPS_29_97_DF), INT64_C(3599996400000));
    assert_int_equal(tt_timecode_frame_to_ns(ndf, TT_FPS_29_97_NDF), INT64_C(3603600000000));
    assert_int_equal(tt_timecode_frame_to_ns(108000, TT_FPS_30), INT64_C(3600000000000));
    /* a DF label day is 86399.9136 s: under 3 frames short of 24 h */
    int64_t day = tt_timecode_frames_per_day(TT_FPS_29_97_DF);
    int64_t day_ns = tt_timecode_frame_to_ns(day, TT_FPS_29_97_DF);
    assert_int_equal(day_ns, INT64_C(86399913600000));
    int64_t short_ns = 86400 * INT64_C(1000000000) - day_ns;
    int64_t frame_ns = tt_timecode_frame_to_ns(1, TT_FPS_29_97_DF);
    assert_true(short_ns > 2 * frame_ns && short_ns < 3 * frame_ns);
    /* each DF label hour runs 3.6 ms short of a real hour (a frame is 33.4 ms) */
    for (int h = 1; h < 24; h++) {
        char s[32];
        snprintf(s, sizeof s, "%02d:00:00;00", h);
        int64_t ns = tt_timecode_frame_to_ns(parse_ok(s, TT_FPS_29_97_DF), TT_FPS_29_97_DF);
        int64_t off = h * 3600 * INT64_C(1000000000) - ns;
        assert_int_equal(off, h * INT64_C(3600000));
    }
    /* DF and NDF frame counts take the same real time; only labels differ */
    assert_int_equal(tt_timecode_frame_to_ns(12345, TT_FPS_29_97_DF),
                     tt_timecode_frame_to_ns(12345, TT_FPS_29_97_NDF));
}

static void test_ns_round_trip_and_floor(void **state)
{
    (void)state;
    for (int i = 0; i < NFPS; i++) {
        tt_fps_t fps = all_fps[i];
        int64_t num, den;
        tt_fps_rate(fps, &num, &den);
        assert_int_equal(tt_timecode_frame_to_ns(0, fps), 0);
        assert_int_equal(tt_timecode_ns_to_frame(0, fps), 0);
        assert_int_equal(tt_timecode_ns_to_frame(-1, fps), -1);
        for (int64_t f = -100000; f <= 100000; f++) {
            int64_t ns = tt_timecode_frame_to_ns(f, fps);
            /* nearest ns: |ns * num - f * den * 1e9| <= num / 2 */
            i128 err = (i128)ns * num - (i128)f * den * 1000000000;
            assert_true(2 * err <= num && -2 * err < num);
            assert_int_equal(tt_timecode_ns_to_frame(ns, fps), f);
            assert_int_equal(tt_timecode_ns_to_frame(ns - 1, fps), f - 1);
            /* the middle of the frame */
            int64_t next = tt_timecode_frame_to_ns(f + 1, fps);
            assert_int_equal(tt_timecode_ns_to_frame(ns + (next - ns) / 2, fps), f);
        }
    }
    /* 29.97: frame 1 starts at 33366666.67 ns -> 33366667 */
    assert_int_equal(tt_timecode_frame_to_ns(1, TT_FPS_29_97_DF), 33366667);
    assert_int_equal(tt_timecode_ns_to_frame(33366666, TT_FPS_29_97_DF), 0);
    assert_int_equal(tt_timecode_ns_to_frame(33366667, TT_FPS_29_97_DF), 1);
    assert_int_equal(tt_timecode_frame_to_ns(-1, TT_FPS_29_97_DF), -33366667);
    assert_int_equal(tt_timecode_ns_to_frame(-33366667, TT_FPS_29_97_DF), -1);
    assert_int_equal(tt_timecode_ns_to_frame(-33366668, TT_FPS_29_97_DF), -2);
    assert_int_equal(tt_timecode_frame_to_ns(-1, TT_FPS_25), -40000000);
    assert_int_equal(tt_timecode_ns_to_frame(-40000000, TT_FPS_25), -1);
    assert_int_equal(tt_timecode_ns_to_frame(-40000001, TT_FPS_25), -2);
    assert_int_equal(tt_timecode_ns_to_frame(39999999, TT_FPS_25), 0);
}

/* ---- samples ---- */

static void test_samples_25fps_48k(void **state)
{
    (void)state;
    for (int64_t f = -5000; f < 100000; f++) {
        assert_int_equal(tt_timecode_frame_to_sample(f, TT_FPS_25, 48000), f * 1920);
        assert_int_equal(tt_timecode_sample_to_frame(f * 1920, TT_FPS_25, 48000), f);
        assert_int_equal(tt_timecode_sample_to_frame(f * 1920 + 1919, TT_FPS_25, 48000), f);
        assert_int_equal(tt_timecode_sample_to_frame(f * 1920 - 1, TT_FPS_25, 48000), f - 1);
    }
    /* one whole day at 25 fps */
    assert_int_equal(tt_timecode_frame_to_sample(2160000, TT_FPS_25, 48000),
                     86400 * INT64_C(48000));
}

static void test_samples_exact_and_monotonic(void **state)
{
    (void)state;
    const int rates[] = {8000, 44100, 48000, 88200, 96000, 192000};
    for (int i = 0; i < NFPS; i++) {
        tt_fps_t fps = all_fps[i];
        int64_t num, den;
        tt_fps_rate(fps, &num, &den);
        for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
            int sr = rates[r];
            i128 per = (i128)den * sr; /* samples per frame = per / num */
            int64_t lo = (int64_t)(per / num), hi = lo + (per % num != 0);
            int64_t prev = tt_timecode_frame_to_sample(-2001, fps, sr);
            for (int64_t f = -2000; f < 20000; f++) {
                int64_t s = tt_timecode_frame_to_sample(f, fps, sr);
                /* first sample at or after the frame start: s >= f * per / num > s - 1 */
                assert_true((i128)s * num >= (i128)f * per);
                assert_true((i128)(s - 1) * num < (i128)f * per);
                /* monotonic, spacing floor or ceil of samples per frame */
                assert_true(s - prev == lo || s - prev == hi);
                assert_int_equal(tt_timecode_sample_to_frame(s, fps, sr), f);
                assert_int_equal(tt_timecode_sample_to_frame(s - 1, fps, sr), f - 1);
                prev = s;
            }
        }
    }
    /* 23.976 at 48 kHz: exactly 2002 samples per frame */
    assert_int_equal(tt_timecode_frame_to_sample(1, TT_FPS_23_976, 48000), 2002);
    assert_int_equal(tt_timecode_frame_to_sample(86400, TT_FPS_23_976, 48000), 86400 * 2002);
    /* 29.97 at 48 kHz: 1601.6 per frame, so 5 frames are exactly 8008 samples */
    assert_int_equal(tt_timecode_frame_to_sample(1, TT_FPS_29_97_DF, 48000), 1602);
    assert_int_equal(tt_timecode_frame_to_sample(2, TT_FPS_29_97_DF, 48000), 3204);
    assert_int_equal(tt_timecode_frame_to_sample(5, TT_FPS_29_97_DF, 48000), 8008);
    assert_int_equal(tt_timecode_frame_to_sample(-1, TT_FPS_29_97_DF, 48000), -1601);
    /* 01:00:00;00 = 3599.9964 s = 172799827.2 samples -> 172799828 */
    assert_int_equal(tt_timecode_frame_to_sample(107892, TT_FPS_29_97_DF, 48000), 172799828);
    /* 44.1 kHz at 30 fps: 1470 exactly */
    assert_int_equal(tt_timecode_frame_to_sample(30, TT_FPS_30, 44100), 44100);
}

/* ---- properties over random frames ---- */

static void test_random_round_trips(void **state)
{
    (void)state;
    rng_state = UINT64_C(0x7475747469); /* "tutti" */
    for (int i = 0; i < NFPS; i++) {
        tt_fps_t fps = all_fps[i];
        int64_t day = tt_timecode_frames_per_day(fps);
        for (int k = 0; k < 200000; k++) {
            int64_t f = (int64_t)(rng_next() % (uint64_t)day);
            char label[TT_TIMECODE_LEN];
            tt_timecode_format(f, fps, label);
            assert_int_equal(parse_ok(label, fps), f);
            /* labels wrap by whole days, up to a thousand days either way */
            int64_t days = (int64_t)(rng_next() % 2001) - 1000;
            char again[TT_TIMECODE_LEN];
            tt_timecode_format(f + days * day, fps, again);
            assert_string_equal(again, label);
            /* real time and samples, over a few years either way */
            int64_t g = f + days * day;
            int64_t ns = tt_timecode_frame_to_ns(g, fps);
            assert_int_equal(tt_timecode_ns_to_frame(ns, fps), g);
            assert_int_equal(tt_timecode_ns_to_frame(ns - 1, fps), g - 1);
            int64_t s = tt_timecode_frame_to_sample(g, fps, 48000);
            assert_int_equal(tt_timecode_sample_to_frame(s, fps, 48000), g);
            assert_true(tt_timecode_frame_to_sample(g + 1, fps, 48000) > s);
        }
    }
}

/* ---- bad input ---- */

static void test_bad_labels(void **state)
{
    (void)state;
    parse_bad("", TT_FPS_25, "empty timecode");
    parse_bad(NULL, TT_FPS_25, "empty timecode");
    parse_bad("1:00:00:00", TT_FPS_25, "expected a digit at character 2"); /* hours need 2 digits */
    parse_bad("01:0:00:00", TT_FPS_25, "two digits per field");
    parse_bad("001:00:00:00", TT_FPS_25, "separator at character 3");
    parse_bad("00:00:00:0", TT_FPS_25, "too short");
    parse_bad("00:00:00", TT_FPS_25, "too short");
    parse_bad("00:60:00:00", TT_FPS_25, "minutes 60 out of range 00-59");
    parse_bad("00:00:60:00", TT_FPS_25, "seconds 60 out of range 00-59");
    parse_bad("24:00:00:00", TT_FPS_25, "hours 24 out of range 00-23");
    parse_bad("99:99:99:99", TT_FPS_25, "hours 99");
    parse_bad("00:00:00:30", TT_FPS_30, "frames 30 out of range 00-29 at 30 fps");
    parse_bad("00:00:00;30", TT_FPS_29_97_DF, "frames 30 out of range 00-29");
    parse_bad("00:00:00:30", TT_FPS_29_97_NDF, "frames 30 out of range 00-29");
    parse_bad("00:00:00:25", TT_FPS_25, "frames 25 out of range 00-24 at 25 fps");
    parse_bad("00:00:00:24", TT_FPS_24, "frames 24 out of range 00-23");
    parse_bad("00:00:00:24", TT_FPS_23_976, "frames 24 out of range 00-23 at 23.976 fps");
    parse_bad("ab:cd:ef:gh", TT_FPS_25, "expected a digit at character 1, found 'a'");
    parse_bad("00:00:0x:00", TT_FPS_25, "found 'x'");
    parse_bad("00:00:00:00x", TT_FPS_25, "after the frames field");
    parse_bad("00:00:00:00 ", TT_FPS_25, "after the frames field");
    parse_bad("00:00:00:00:00", TT_FPS_25, "after the frames field");
    parse_bad(" 00:00:00:00", TT_FPS_25, "expected a digit at character 1");
    parse_bad("-0:00:00:01", TT_FPS_25, "found '-'");
    parse_bad("+0:00:00:01", TT_FPS_25, "found '+'");
    parse_bad("00-00-00-00", TT_FPS_25, "separator at character 3");
    parse_bad("00:00:00.00", TT_FPS_25, "separator at character 9");
    parse_bad("\x01\x02:00:00:00", TT_FPS_25, "found '?'");
    parse_bad("00:00:00:00aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
              TT_FPS_25, "...\"");
    parse_bad("\xff\xfe:00:00:00", TT_FPS_25, "\"??:00:00:00\"");
    /* the bounds themselves are fine */
    assert_int_equal(parse_ok("00:00:00:24", TT_FPS_25), 24);
    assert_int_equal(parse_ok("00:00:59:00", TT_FPS_25), 59 * 25);
    assert_int_equal(parse_ok("00:59:00:00", TT_FPS_25), 59 * 60 * 25);
    assert_int_equal(parse_ok("23:00:00:00", TT_FPS_25), 23 * 3600 * 25);
}

/* ---- extremes ---- */

static void test_saturation(void **state)
{
    (void)state;
    for (int i = 0; i < NFPS; i++) {
        tt_fps_t fps = all_fps[i];
        assert_int_equal(tt_timecode_frame_to_ns(INT64_MAX, fps), INT64_MAX);
        assert_int_equal(tt_timecode_frame_to_ns(INT64_MIN, fps), INT64_MIN);
        assert_int_equal(tt_timecode_frame_to_sample(INT64_MAX, fps, 192000), INT64_MAX);
        assert_int_equal(tt_timecode_frame_to_sample(INT64_MIN, fps, 192000), INT64_MIN);
        /* no overflow inside: results are about ns / 3.3e7 */
        int64_t fmax = tt_timecode_ns_to_frame(INT64_MAX, fps);
        int64_t fmin = tt_timecode_ns_to_frame(INT64_MIN, fps);
        assert_true(fmax > 0 && fmax < INT64_MAX / 1000);
        assert_true(fmin < 0 && fmin > INT64_MIN / 1000);
        assert_int_equal(tt_timecode_ns_to_frame(tt_timecode_frame_to_ns(fmax, fps), fps), fmax);
        assert_int_equal(tt_timecode_ns_to_frame(tt_timecode_frame_to_ns(fmin + 1, fps), fps),
                         fmin + 1);
        /* sample_to_frame shrinks its input; 8000 Hz at 30 fps is the largest ratio */
        int64_t smax = tt_timecode_sample_to_frame(INT64_MAX, fps, 8000);
        assert_true(smax > 0 && smax < INT64_MAX / 200);
        assert_true(tt_timecode_sample_to_frame(INT64_MIN, fps, 8000) < 0);
        char out[TT_TIMECODE_LEN];
        tt_timecode_format(INT64_MAX, fps, out);
        assert_int_equal(strlen(out), 11);
        tt_timecode_format(INT64_MIN, fps, out);
        assert_int_equal(strlen(out), 11);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fps_parse_names),
        cmocka_unit_test(test_fps_parse_refuses),
        cmocka_unit_test(test_fps_table),
        cmocka_unit_test(test_df_minute_boundary),
        cmocka_unit_test(test_df_tenth_minute),
        cmocka_unit_test(test_df_missing_labels),
        cmocka_unit_test(test_df_separators),
        cmocka_unit_test(test_semicolon_needs_drop_frame),
        cmocka_unit_test(test_day_wrap),
        cmocka_unit_test(test_fields_match_format),
        cmocka_unit_test(test_every_label_of_the_day),
        cmocka_unit_test(test_23976_vs_24),
        cmocka_unit_test(test_df_vs_ndf_real_time),
        cmocka_unit_test(test_ns_round_trip_and_floor),
        cmocka_unit_test(test_samples_25fps_48k),
        cmocka_unit_test(test_samples_exact_and_monotonic),
        cmocka_unit_test(test_random_round_trips),
        cmocka_unit_test(test_bad_labels),
        cmocka_unit_test(test_saturation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
