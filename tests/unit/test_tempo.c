/* test_tempo: tempo maps against hand-computed times.
 *
 * Steps, compound meters, meter changes, ramps (closed form with a log,
 * checked against values computed independently), a meter change inside a
 * ramp, count-off clicks, the click iterator against a brute-force
 * integration of the example map, round trips at every tick, no drift far
 * into a cue, timecode placement, and the text format: canonical output,
 * round trips, and errors that name their line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_error.h"
#include "tt_tempo.h"
#include "tt_timecode.h"

/* The demo's map, deploy/tempo/example-1m1.tempo, in canonical form. */
static const char example_text[] = "fps 29.97df\n"
                                   "start 00:59:58;00\n"
                                   "countoff 2\n"
                                   "bar 1 4/4 q=92\n"
                                   "bar 9 3/4\n"
                                   "bar 11 q=92\n"
                                   "bar 13 4/4\n"
                                   "bar 15 q=104 ramp\n"
                                   "bar 21 q=88\n"
                                   "streamer at 9.1 len 3s\n"
                                   "warning at 21.1 len 2s\n"
                                   "flutter at 25.1 flashes 3\n";

static tt_tempo_map_t *parse(const char *text)
{
    char why[TT_WHY_LEN] = "";
    tt_tempo_map_t *m = tt_tempo_parse_text(text, strlen(text), why);
    if (!m)
        fail_msg("parse failed: %s", why);
    return m;
}

static tt_bbt_t bbt(int32_t bar, int32_t beat, int32_t tick)
{
    return (tt_bbt_t){.bar = bar, .beat = beat, .tick = tick};
}

static void assert_bbt(tt_bbt_t got, int32_t bar, int32_t beat, int32_t tick)
{
    if (got.bar != bar || got.beat != beat || got.tick != tick)
        fail_msg("got %d.%d.%d, expected %d.%d.%d", (int)got.bar, (int)got.beat, (int)got.tick,
                 (int)bar, (int)beat, (int)tick);
}

/* |a - b| <= 1 ns: the contract for hand-computed values. */
static void assert_ns(int64_t got, int64_t want)
{
    if (llabs(got - want) > 1)
        fail_msg("got %lld ns, expected %lld", (long long)got, (long long)want);
}

/* Every tick in [from, to): bbt -> ns -> bbt is the identity, ns is strictly
 * increasing, and one ns earlier is the previous tick. */
static void check_round_trip(const tt_tempo_map_t *m, int64_t from, int64_t to)
{
    int64_t prev = INT64_MIN;
    for (int64_t t = from; t < to; t++) {
        tt_bbt_t p = tt_tempo_tick_to_bbt(m, t);
        assert_int_equal(tt_tempo_bbt_to_tick(m, p), t);
        int64_t ns = tt_tempo_bbt_to_ns(m, p);
        assert_true(ns > prev);
        prev = ns;
        tt_bbt_t q = tt_tempo_ns_to_bbt(m, ns);
        if (q.bar != p.bar || q.beat != p.beat || q.tick != p.tick)
            fail_msg("tick %lld: %d.%d.%d -> %lld ns -> %d.%d.%d", (long long)t, (int)p.bar,
                     (int)p.beat, (int)p.tick, (long long)ns, (int)q.bar, (int)q.beat, (int)q.tick);
        assert_int_equal(tt_tempo_ns_to_tick(m, ns - 1), t - 1);
    }
}

static void test_steps(void **state)
{
    (void)state;
    tt_tempo_map_t *m = parse("bar 1 4/4 q=92\nbar 3 q=120\n");
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(1, 1, 0)), 0);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(1, 2, 0)), 652173913); /* 60/92 s */
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(2, 1, 0)), 2608695652);       /* 240/92 s */
    /* Bar 3 at 8 quarters of 60/92 s, then 0.5 s a beat. */
    int64_t bar3 = 5217391304;
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(3, 1, 0)), bar3);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(3, 2, 0)), bar3 + 500000000);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(3, 1, 480)), bar3 + 250000000);
    /* ns -> bbt floors to the tick. */
    assert_bbt(tt_tempo_ns_to_bbt(m, 652173913), 1, 2, 0);
    assert_bbt(tt_tempo_ns_to_bbt(m, 652173912), 1, 1, 959);
    assert_bbt(tt_tempo_ns_to_bbt(m, 0), 1, 1, 0);
    assert_bbt(tt_tempo_ns_to_bbt(m, -1), 0, 4, 959);
    assert_true(fabs(tt_tempo_bpm_at(m, 1000) - 92.0) < 1e-9);
    assert_true(fabs(tt_tempo_bpm_at(m, bar3 + 1) - 120.0) < 1e-9); /* exact: .35 ns after */
    assert_true(fabs(tt_tempo_bpm_at(m, bar3 - 1) - 92.0) < 1e-9);
    check_round_trip(m, -3840, 4 * 3840);
    tt_tempo_destroy(&m);
    assert_null(m);
    tt_tempo_destroy(&m); /* safe twice */
    tt_tempo_destroy(NULL);
}

static void test_six_eight(void **state)
{
    (void)state;
    tt_tempo_map_t *m = parse("bar 1 6/8 q=90\n");
    /* A beat is an eighth: 30/90 s. A bar is 3 quarters: 2 s. */
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(1, 2, 0)), 333333333);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(1, 6, 0)), 1666666667);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(2, 1, 0)), 2000000000);
    assert_int_equal(tt_tempo_bbt_to_tick(m, bbt(1, 2, 0)), 480);
    assert_bbt(tt_tempo_tick_to_bbt(m, 480 * 6 + 479), 2, 1, 479);
    /* Six clicks a bar, the first accented. */
    tt_click_t c;
    int64_t at = 0;
    for (int i = 0; i < 12; i++) {
        assert_int_equal(tt_tempo_next_click(m, at, &c), 0);
        assert_int_equal(c.pos.bar, 1 + i / 6);
        assert_int_equal(c.pos.beat, 1 + i % 6);
        assert_int_equal(c.beats, 6);
        assert_int_equal(c.downbeat, i % 6 == 0);
        assert_int_equal(c.countoff, 0);
        assert_ns(c.ns, (int64_t)i * 2000000000 / 6);
        at = c.ns + 1;
    }
    tt_tempo_destroy(&m);
}

static void test_meter_change(void **state)
{
    (void)state;
    tt_tempo_map_t *m = parse("bar 1 4/4 q=120\nbar 3 3/4\nbar 5 6/8\nbar 6 2/2\n");
    int32_t num, den;
    tt_tempo_meter_at(m, 2, &num, &den);
    assert_true(num == 4 && den == 4);
    tt_tempo_meter_at(m, 3, &num, &den);
    assert_true(num == 3 && den == 4);
    tt_tempo_meter_at(m, -1, &num, &den);
    assert_true(num == 4 && den == 4);
    tt_tempo_meter_at(m, 1000, &num, &den);
    assert_true(num == 2 && den == 2);
    /* 0.5 s a quarter: bar 3 at 8 quarters, bar 4 at 11, bar 5 at 14,
     * bar 6 at 14 + 3 (6/8 is 3 quarters), bar 7 at 17 + 4. */
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(3, 1, 0)), 4000000000);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(4, 1, 0)), 5500000000);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(5, 1, 0)), 7000000000);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(5, 2, 0)), 7250000000);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(6, 1, 0)), 8500000000);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(6, 2, 0)), 9500000000); /* half-note beats */
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(7, 1, 0)), 10500000000);
    assert_bbt(tt_tempo_ns_to_bbt(m, 5499999999), 3, 3, 959);
    assert_bbt(tt_tempo_ns_to_bbt(m, 9499999999), 6, 1, 1919);
    /* Out-of-range beat and tick are offsets from the bar in its meter. */
    assert_int_equal(tt_tempo_bbt_to_tick(m, bbt(1, 5, 0)), tt_tempo_bbt_to_tick(m, bbt(2, 1, 0)));
    assert_int_equal(tt_tempo_bbt_to_tick(m, bbt(3, 1, 960 * 3)),
                     tt_tempo_bbt_to_tick(m, bbt(4, 1, 0)));
    assert_int_equal(tt_tempo_bbt_to_tick(m, bbt(2, 0, 0)), tt_tempo_bbt_to_tick(m, bbt(1, 4, 0)));
    check_round_trip(m, -100, 3840 * 8);
    tt_tempo_destroy(&m);
}

static void test_ramp(void **state)
{
    (void)state;
    /* 60 -> 120 over the 4 quarters of bar 1: k = 15 bpm a quarter,
     * t(q) = 60/15 ln(1 + 15 q / 60) s; bar 2 at 4 ln 2 s. */
    tt_tempo_map_t *m = parse("bar 1 4/4 q=60\nbar 2 q=120 ramp\n");
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(1, 2, 0)), 892574205);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(1, 3, 0)), 1621860432);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(1, 4, 0)), 2238463152);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(2, 1, 0)), 2772588722);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(3, 1, 0)), 4772588722); /* then 120 */
    /* Halfway in position the tempo is 90; the inverse uses exp. */
    assert_true(fabs(tt_tempo_bpm_at(m, 1621860432) - 90.0) < 1e-6);
    assert_true(fabs(tt_tempo_bpm_at(m, 0) - 60.0) < 1e-9);
    assert_true(fabs(tt_tempo_bpm_at(m, 2772588723) - 120.0) < 1e-9);
    assert_bbt(tt_tempo_ns_to_bbt(m, 1621860433), 1, 3, 0);
    assert_bbt(tt_tempo_ns_to_bbt(m, 1621860431), 1, 2, 959);
    check_round_trip(m, -10, 3840 * 2 + 10);
    tt_tempo_destroy(&m);

    /* A ritardando, the same numbers backwards: 120 -> 60 over 4 quarters
     * takes 60/(-15) ln(60/120) = 4 ln 2 s too. */
    m = parse("bar 1 4/4 q=120\nbar 2 q=60 ramp\n");
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(2, 1, 0)), 2772588722);
    check_round_trip(m, 0, 3840 * 2);
    tt_tempo_destroy(&m);

    /* A ramp to the same tempo is a constant segment. */
    m = parse("bar 1 4/4 q=100\nbar 2 q=100 ramp\n");
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(2, 1, 0)), 2400000000);
    tt_tempo_destroy(&m);

    /* 6/8, 60 -> 90 over the bar (3 quarters): t(q) = 6 ln(1 + q/6) s, each
     * eighth a click. */
    m = parse("bar 1 6/8 q=60\nbar 2 q=90 ramp\n");
    static const int64_t eighths[] = {480256246,  924904079,  1338861308,
                                      1726092435, 2089840166, 2432790649};
    for (int i = 0; i < 6; i++)
        assert_ns(tt_tempo_bbt_to_ns(m, bbt(1, 2 + i, 0)), eighths[i]);
    tt_tempo_destroy(&m);
}

static void test_meter_change_mid_ramp(void **state)
{
    (void)state;
    /* 60 -> 120 from bar 1 to bar 3 across 4/4 then 3/4: 7 quarters,
     * k = 60/7, t(q) = 7 ln(1 + q/7) s whatever the meter. */
    tt_tempo_map_t *m = parse("bar 1 4/4 q=60\nbar 2 3/4\nbar 3 q=120 ramp\n");
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(2, 1, 0)), 3163895866);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(2, 2, 0)), 3772975505);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(3, 1, 0)), 4852030264);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(3, 2, 0)), 5352030264);
    assert_bbt(tt_tempo_ns_to_bbt(m, 3772975506), 2, 2, 0);
    /* Clicks: four in bar 1, three in bar 2, accents on each beat 1. */
    tt_click_t c;
    int64_t at = 0;
    int beats[] = {4, 4, 4, 4, 3, 3, 3, 3};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(tt_tempo_next_click(m, at, &c), 0);
        assert_int_equal(c.beats, beats[i]);
        assert_int_equal(c.downbeat, i == 0 || i == 4 || i == 7);
        at = c.ns + 1;
    }
    assert_bbt(c.pos, 3, 1, 0);
    assert_ns(c.ns, 4852030264);
    check_round_trip(m, 0, 3840 + 2880 + 100);
    tt_tempo_destroy(&m);
}

static void test_countoff_clicks(void **state)
{
    (void)state;
    tt_tempo_map_t *m = parse("countoff 2\nbar 1 3/4 q=120\nbar 2 q=60\n");
    assert_int_equal(tt_tempo_countoff_bars(m), 2);
    assert_int_equal(tt_tempo_start_ns(m), -3000000000);
    /* Six count-off clicks in bars -1 and 0, at bar 1's meter and tempo
     * (not bar 2's), then bar 1 beat 1 at 0. */
    tt_click_t c;
    int64_t at = INT64_MIN;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(tt_tempo_next_click(m, at, &c), 0);
        assert_int_equal(c.ns, -3000000000 + (int64_t)i * 500000000);
        assert_int_equal(c.countoff, 1);
        assert_int_equal(c.downbeat, i % 3 == 0);
        assert_bbt(c.pos, -1 + i / 3, 1 + i % 3, 0);
        at = c.ns + 1;
    }
    assert_int_equal(tt_tempo_next_click(m, at, &c), 0);
    assert_int_equal(c.ns, 0);
    assert_int_equal(c.countoff, 0);
    assert_int_equal(c.downbeat, 1);
    assert_bbt(c.pos, 1, 1, 0);
    /* An instant between clicks gives the next one; a click's own time
     * gives itself. */
    assert_int_equal(tt_tempo_next_click(m, -2200000000, &c), 0);
    assert_int_equal(c.ns, -2000000000);
    assert_int_equal(tt_tempo_next_click(m, -2000000000, &c), 0);
    assert_int_equal(c.ns, -2000000000);
    /* Bar 2 at 60 bpm: clicks a second apart. */
    assert_int_equal(tt_tempo_next_click(m, 1500000001, &c), 0);
    assert_int_equal(c.ns, 2500000000);
    assert_bbt(c.pos, 2, 2, 0);
    assert_true(fabs(tt_tempo_bpm_at(m, -2500000000) - 120.0) < 1e-9);

    /* CLI override of the count-off. */
    assert_int_equal(tt_tempo_set_countoff(m, 0), 0);
    assert_int_equal(tt_tempo_start_ns(m), 0);
    assert_int_equal(tt_tempo_next_click(m, INT64_MIN, &c), 0);
    assert_int_equal(c.ns, 0);
    assert_int_equal(c.countoff, 0);
    assert_int_equal(tt_tempo_set_countoff(m, 9), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_set_countoff(m, -1), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_set_countoff(m, 8), 0);
    assert_int_equal(tt_tempo_start_ns(m), -12000000000);
    /* Past the end of the positions a map can express there is no click. */
    assert_int_equal(tt_tempo_next_click(m, INT64_MAX, &c), TT_ERR_NOTFOUND);
    tt_tempo_destroy(&m);
}

/* Brute force for the example map, independent of tt_tempo's closed forms:
 * bpm as a function of quarter-note position, integrated tick by tick with
 * the midpoint rule (error far below 1 ns here), beats walked bar by bar. */
static long double example_bpm(long double q)
{
    /* bar 1: 0 q, bar 9: 32 q, 3/4 from there: bar 11 at 38 q, bar 13 at
     * 44 q, 4/4 again: bar 15 at 52 q, bar 21 at 76 q. */
    if (q < 38)
        return 92;
    if (q < 52)
        return 92 + (104.0L - 92) * (q - 38) / (52 - 38);
    if (q < 76)
        return 104;
    return 88;
}

static int example_beats(int bar)
{
    return (bar >= 9 && bar < 13) ? 3 : 4;
}

static void test_clicks_brute_force(void **state)
{
    (void)state;
    tt_tempo_map_t *m = parse(example_text);
    tt_click_t c;
    int64_t at = INT64_MIN;
    long double t = 0; /* brute-force ns of the current tick */
    int64_t tick = -2 * 3840;
    t = -2 * 4 * 60e9L / 92;
    int clicks = 0;
    for (int bar = -1; bar <= 24; bar++) {
        for (int beat = 1; beat <= example_beats(bar); beat++) {
            assert_int_equal(tt_tempo_next_click(m, at, &c), 0);
            assert_bbt(c.pos, bar, beat, 0);
            assert_int_equal(c.tick, tick);
            assert_int_equal(c.downbeat, beat == 1);
            assert_int_equal(c.countoff, bar <= 0);
            assert_int_equal(c.beats, example_beats(bar));
            if (llabs(c.ns - llroundl(t)) > 1)
                fail_msg("bar %d beat %d: click at %lld ns, brute force %.3Lf", bar, beat,
                         (long long)c.ns, t);
            at = c.ns + 1;
            clicks++;
            for (int k = 0; k < 960; k++, tick++) {
                long double mid = ((long double)tick + 0.5L) / 960;
                t += 60e9L / 960 / example_bpm(mid);
            }
        }
    }
    assert_int_equal(clicks, 8 + 8 * 4 + 4 * 3 + 12 * 4);
    tt_tempo_destroy(&m);
}

static void test_round_trip_every_tick(void **state)
{
    (void)state;
    tt_tempo_map_t *m = parse(example_text);
    check_round_trip(m, -2 * 3840, 26 * 3840);
    /* A ramp between odd tempos and positions, ticks inside the ramp. */
    tt_tempo_map_t *r = parse("bar 1 7/8 q=21.5\nat 1.3.17 q=399.999 ramp\nat 2.1.5 q=20 ramp\n");
    check_round_trip(r, -500, 3360 + 3360);
    tt_tempo_destroy(&r);
    tt_tempo_destroy(&m);
}

static void test_no_drift(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    /* One tempo for 100000 bars: 400000 quarters of 60/92 s. */
    tt_tempo_map_t *m = parse("bar 1 4/4 q=92\n");
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(100001, 1, 0)), 260869565217391);
    assert_bbt(tt_tempo_ns_to_bbt(m, 260869565217391), 100001, 1, 0);
    assert_bbt(tt_tempo_ns_to_bbt(m, 260869565217390), 100000, 4, 959);
    tt_tempo_destroy(&m);

    /* 1000 steps alternating 90 and 120 a bar: 500 bars of 8/3 s and 500
     * of 2 s. */
    m = tt_tempo_new(4, 4, 90, 1, why);
    assert_non_null(m);
    for (int bar = 2; bar <= 1000; bar++)
        assert_int_equal(
            tt_tempo_add_tempo(m, (int64_t)(bar - 1) * 3840, bar % 2 ? 90 : 120, 1, 0, why), 0);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(1001, 1, 0)), 2333333333333);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(1001, 2, 0)), 2333333333333 + 500000000); /* 120 on */
    check_round_trip(m, 998 * 3840, 998 * 3840 + 2000);
    tt_tempo_destroy(&m);

    /* 1000 ramps alternating 90 -> 120 and back, a bar each: every bar takes
     * 60/7.5 ln(4/3) s, so bar 1001 is at 8000 ln(4/3) s. */
    m = tt_tempo_new(4, 4, 90, 1, why);
    for (int bar = 2; bar <= 1001; bar++)
        assert_int_equal(
            tt_tempo_add_tempo(m, (int64_t)(bar - 1) * 3840, bar % 2 ? 90 : 120, 1, 1, why), 0);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(1001, 1, 0)), 2301456579614);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(501, 1, 0)), 1150728289807);
    check_round_trip(m, 999 * 3840, 999 * 3840 + 3000);
    /* The 1024-event limit. */
    for (int bar = 1002; bar <= 1023; bar++)
        assert_int_equal(tt_tempo_add_tempo(m, (int64_t)(bar - 1) * 3840, 100, 1, 0, why), 0);
    assert_int_equal(tt_tempo_add_tempo(m, 1023 * 3840, 100, 1, 0, why), TT_ERR_TOO_BIG);
    assert_non_null(strstr(why, "1024"));
    /* Formats under the text limits and reads back equal. */
    char *text;
    assert_int_equal(tt_tempo_format_text(m, &text, why), 0);
    tt_tempo_map_t *back = tt_tempo_parse_text(text, strlen(text), why);
    assert_non_null(back);
    assert_true(tt_tempo_equal(m, back));
    free(text);
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);
}

static void test_limits(void **state)
{
    (void)state;
    tt_tempo_map_t *m = parse("bar 1 1/32 q=400\n");
    /* Positions clamp at the tick limit; bars stay in int32. */
    tt_bbt_t far = tt_tempo_ns_to_bbt(m, INT64_MAX);
    assert_int_equal(far.bar, 1 + (int32_t)(TT_TEMPO_TICK_LIMIT / 120));
    assert_int_equal(tt_tempo_ns_to_tick(m, INT64_MAX), TT_TEMPO_TICK_LIMIT);
    assert_int_equal(tt_tempo_ns_to_tick(m, INT64_MIN), -TT_TEMPO_TICK_LIMIT);
    assert_int_equal(tt_tempo_bbt_to_tick(m, bbt(INT32_MAX, INT32_MAX, INT32_MAX)),
                     TT_TEMPO_TICK_LIMIT);
    assert_int_equal(tt_tempo_bbt_to_tick(m, bbt(INT32_MIN, INT32_MIN, INT32_MIN)),
                     -TT_TEMPO_TICK_LIMIT);
    int64_t end = tt_tempo_tick_to_ns(m, TT_TEMPO_TICK_LIMIT);
    assert_true(end > 0);
    assert_int_equal(tt_tempo_ns_to_tick(m, end), TT_TEMPO_TICK_LIMIT);
    assert_int_equal(tt_tempo_ns_to_tick(m, end - 1), TT_TEMPO_TICK_LIMIT - 1);
    tt_tempo_destroy(&m);
    m = parse("bar 1 32/1 q=20\n");
    assert_true(tt_tempo_tick_to_ns(m, -TT_TEMPO_TICK_LIMIT) < 0);
    tt_bbt_t early = tt_tempo_tick_to_bbt(m, -TT_TEMPO_TICK_LIMIT);
    assert_true(early.bar < 0 && early.beat >= 1 && early.tick >= 0);
    tt_tempo_destroy(&m);
}

static void test_timecode(void **state)
{
    (void)state;
    tt_tempo_map_t *m = parse(example_text);
    int64_t start;
    assert_int_equal(tt_timecode_parse("00:59:58;00", TT_FPS_29_97_DF, &start, NULL), 0);
    assert_int_equal(tt_tempo_start_frame(m), start);
    assert_int_equal(tt_tempo_fps(m), TT_FPS_29_97_DF);
    /* Bar 1 beat 1 is the start frame; the count-off runs before it. */
    assert_int_equal(tt_tempo_ns_to_frame(m, 0), start);
    assert_int_equal(tt_tempo_ns_to_frame(m, -1), start - 1);
    assert_int_equal(tt_tempo_frame_to_ns(m, start + 30), 1001000000);
    char tc[TT_TIMECODE_LEN];
    tt_timecode_format(tt_tempo_ns_to_frame(m, tt_tempo_bbt_to_ns(m, bbt(1, 1, 0))),
                       TT_FPS_29_97_DF, tc);
    assert_string_equal(tc, "00:59:58;00");
    /* Two bars of 4/4 at 92 is 5.217 s: frame 156 before bar 1 at 29.97. */
    int64_t co = tt_tempo_ns_to_frame(m, tt_tempo_start_ns(m));
    assert_int_equal(co, start - 157); /* 5.217391304 s * 29.97 = 156.36 -> floor -157 */
    /* Across the hour: 01:00:00;02 is 62 frames (2.0687 s) after the start,
     * 3.17 beats at 92: bar 1 beat 4. Frames and ns convert both ways. */
    assert_int_equal(tt_timecode_parse("01:00:00;02", TT_FPS_29_97_DF, &start, NULL), 0);
    int64_t ns = tt_tempo_frame_to_ns(m, start);
    assert_int_equal(ns, 62 * INT64_C(1001000000) / 30);
    tt_timecode_format(tt_tempo_ns_to_frame(m, ns), TT_FPS_29_97_DF, tc);
    assert_string_equal(tc, "01:00:00;02");
    tt_timecode_format(tt_tempo_ns_to_frame(m, ns - 1), TT_FPS_29_97_DF, tc);
    assert_string_equal(tc, "01:00:00;01");
    tt_bbt_t p = tt_tempo_ns_to_bbt(m, ns);
    assert_true(p.bar == 1 && p.beat == 4);

    /* CLI override of the start. */
    assert_int_equal(tt_tempo_set_start(m, 25 * 3600, TT_FPS_25), 0);
    assert_int_equal(tt_tempo_fps(m), TT_FPS_25);
    assert_int_equal(tt_tempo_ns_to_frame(m, 1000000000), 25 * 3600 + 25);
    assert_int_equal(tt_tempo_set_start(m, -1, TT_FPS_25), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_set_start(m, 25 * 86400, TT_FPS_25), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_set_start(m, 0, (tt_fps_t)42), TT_ERR_INVALID);
    char *text, why[TT_WHY_LEN];
    assert_int_equal(tt_tempo_format_text(m, &text, why), 0);
    assert_non_null(strstr(text, "fps 25\nstart 01:00:00:00\n"));
    free(text);
    tt_tempo_destroy(&m);
}

static void test_text_canonical(void **state)
{
    (void)state;
    /* Comments, blank lines, tabs, CRLF, leading zeros, decimals with
     * trailing zeros, fractions, header lines anywhere. */
    const char *messy = "# 1M1 \"Main Title\"\r\n"
                        "\r\n"
                        "bar 1\t4/4   q=092.50 # trailing comment\r\n"
                        "countoff 1\n"
                        "bar 09 3/4\n"
                        "at 9.2.480 q=185/2 ramp\n"
                        "  bar 10 q=30000000/326087\n"
                        "at 10.1.1 q=91.000000001\n"
                        "bar 11 6/8 q=120 ramp\n"
                        "fps 23.976\n"
                        "start 01:00:00:00"; /* no final newline */
    const char *canonical = "fps 23.976\n"
                            "start 01:00:00:00\n"
                            "countoff 1\n"
                            "bar 1 4/4 q=92.5\n"
                            "bar 9 3/4\n"
                            "at 9.2.480 q=92.5 ramp\n"
                            "bar 10 q=30000000/326087\n"
                            "at 10.1.1 q=91.000000001\n"
                            "bar 11 6/8 q=120 ramp\n";
    tt_tempo_map_t *m = parse(messy);
    char *text, why[TT_WHY_LEN];
    assert_int_equal(tt_tempo_format_text(m, &text, why), 0);
    assert_string_equal(text, canonical);
    tt_tempo_map_t *back = parse(text);
    assert_true(tt_tempo_equal(m, back));
    char *again;
    assert_int_equal(tt_tempo_format_text(back, &again, why), 0);
    assert_string_equal(again, canonical);
    free(again);
    free(text);
    tt_tempo_destroy(&back);

    /* Defaults when the header lines are left out. */
    back = parse("bar 1 4/4 q=92\n");
    assert_int_equal(tt_tempo_format_text(back, &text, why), 0);
    assert_string_equal(text, "fps 24\nstart 00:00:00:00\ncountoff 0\nbar 1 4/4 q=92\n");
    assert_false(tt_tempo_equal(m, back));
    free(text);
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);

    /* The demo map in deploy/ is the example in canonical form plus
     * comments. The path is found from this file's, so it works from the
     * source tree and from CMake (absolute __FILE__); skipped otherwise. */
    char path[1024];
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__) : 0;
    snprintf(path, sizeof path, "%.*s%s../../deploy/tempo/example-1m1.tempo", dir, __FILE__,
             slash ? "/" : "");
    FILE *f = fopen(path, "rb");
    if (f) {
        static char buf[TT_TEMPO_MAX_TEXT];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        m = tt_tempo_parse_text(buf, n, why);
        if (!m)
            fail_msg("%s: %s", path, why);
        back = parse(example_text);
        assert_true(tt_tempo_equal(m, back));
        tt_tempo_destroy(&back);
        tt_tempo_destroy(&m);
    } else {
        print_message("note: %s not found, demo map not checked\n", path);
    }
}

static void test_text_round_trip(void **state)
{
    (void)state;
    static const char *maps[] = {
        example_text,
        "bar 1 4/4 q=92\n",
        "countoff 8\nfps 29.97ndf\nstart 23:59:59:29\nbar 1 32/32 q=400\nbar 1000000 1/1 q=20\n",
        "bar 1 5/16 q=20.000000001\nat 1.5.239 q=399.999999999 ramp\nbar 2 q=1000000000/2500001\n",
        "bar 1 2/2 q=60\nat 1.2.1 q=61\nat 1.2.2 q=62 ramp\nbar 2 7/8\nat 3.7.479 q=63\n",
    };
    char why[TT_WHY_LEN];
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        tt_tempo_map_t *m = parse(maps[i]);
        char *text;
        assert_int_equal(tt_tempo_format_text(m, &text, why), 0);
        tt_tempo_map_t *back = parse(text);
        assert_true(tt_tempo_equal(m, back));
        free(text);
        tt_tempo_destroy(&back);
        tt_tempo_destroy(&m);
    }
}

/* Each bad text fails with "line N" (or the given words) in the reason. */
static void test_text_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"", "no bar lines"},
        {"# only a comment\n", "no bar lines"},
        {"fps 24\nbar 2 4/4 q=92\n", "line 2: the first bar line"},
        {"bar 1 4/4\n", "line 1: the first bar line"},
        {"bar 1 q=92\n", "line 1: the first bar line"},
        {"bar 1 4/4 q=92 ramp\n", "line 1: the first bar line"},
        {"bar 1 4/4 q=92\nbar 5 3/4\nbar 5 q=90\n", "line 3: bar 5 is not after"},
        {"bar 1 4/4 q=92\nbar 5 3/4\nbar 4 q=90\n", "line 3: bar 4 is not after"},
        {"bar 1 4/4 q=92\nat 2.2.0 q=90\nbar 2 3/4\n", "line 3: bar 2 is not after"},
        {"bar 1 4/4 q=92\nbar 2 q=90\nat 2.1.0 q=91\n", "line 3: 2.1.0 is not after"},
        {"bar 1 4/4 q=19.999\n", "line 1: tempo 19.999 is outside 20..400"},
        {"bar 1 4/4 q=400.01\n", "line 1: tempo 400.01 is outside"},
        {"bar 1 4/4 q=92\n\nbar 3 q=0\n", "line 3: bad tempo"},
        {"bar 1 4/4 q=92.1234567891\n", "line 1: bad tempo"},
        {"bar 1 4/4 q=92.\n", "line 1: bad tempo"},
        {"bar 1 4/4 q=\n", "line 1: bad tempo"},
        {"bar 1 4/4 q=1/0\n", "line 1: bad tempo"},
        {"bar 1 4/4 q=92.5/2\n", "line 1: bad tempo"},
        {"bar 1 4/4 q=100000000/1000001\nbar 2 q=10000000001/30000001\n",
         "line 2: tempo 10000000001/30000001: a fraction needs"},
        {"bar 1 0/4 q=92\n", "line 1: meter 0/4: numerator"},
        {"bar 1 33/4 q=92\n", "line 1: meter 33/4"},
        {"bar 1 4/3 q=92\n", "line 1: meter 4/3: denominator"},
        {"bar 1 4/64 q=92\n", "line 1: meter 4/64"},
        {"bar 1 4/ q=92\n", "line 1: bad meter"},
        {"bar 1 4/4 q=92\ncountoff 9\n", "line 2: countoff \"9\""},
        {"bar 1 4/4 q=92\ncountoff -1\n", "line 2: countoff"},
        {"bar 1 4/4 q=92\ncountoff 1\ncountoff 2\n", "line 3: countoff given twice"},
        {"bar 1 4/4 q=92\ntempo 120\n", "line 2: unknown keyword \"tempo\""},
        {"Bar 1 4/4 q=92\n", "line 1: unknown keyword \"Bar\""},
        {"bar 1 4/4 q=92 loud\n", "line 1: unexpected \"loud\" after the tempo"},
        {"bar 1 4/4 q=92\nbar 2 q=90 ramp now\n", "line 2: unexpected \"now\""},
        {"bar 1 4/4 q=92\nbar 2 3/4 4/4\n", "line 2: unexpected \"4/4\""},
        {"bar 1 4/4 q=92\nbar 2\n", "line 2: bar 2 gives neither"},
        {"bar 1 4/4 q=92\nbar\n", "line 2: bar needs a number"},
        {"bar 1 4/4 q=92\nbar two q=90\n", "line 2: bad bar number \"two\""},
        {"bar 1 4/4 q=92\nbar 0 q=90\n", "line 2: bad bar number"},
        {"bar 1 4/4 q=92\nbar 1000001 q=90\n", "line 2: bad bar number"},
        {"bar 1 4/4 q=92\nbar 2 ramp\n", "line 2: unexpected \"ramp\""},
        {"bar 1 4/4 q=92\nfps 29.97\n", "line 2: "},
        {"bar 1 4/4 q=92\nfps 24 25\n", "line 2: fps takes one value"},
        {"fps 25\nbar 1 4/4 q=92\nstart 00:00:00;00\n", "line 3: "},
        {"fps 25\nstart 00:00:00:25\nbar 1 4/4 q=92\n", "line 2: "},
        {"start 00:01:00;00\nfps 29.97df\nbar 1 4/4 q=92\n", "line 1: "},
        {"bar 1 4/4 q=92\nat 1.5.0 q=90\n", "line 2: position 1.5.0 is not in the bar"},
        {"bar 1 6/8 q=92\nat 1.2.480 q=90\n", "line 2: position 1.2.480"},
        {"bar 1 4/4 q=92\nat 1.0.0 q=90\n", "line 2: position 1.0.0"},
        {"bar 1 4/4 q=92\nat 1.2 q=90\n", "line 2: \"at\" needs a position"},
        {"bar 1 4/4 q=92\nat 1.2.3.4 q=90\n", "line 2: \"at\" needs a position"},
        {"bar 1 4/4 q=92\nat 1.2.3\n", "line 2: \"at 1.2.3\" needs a tempo"},
        {"bar 1 4/4 q=92\nat 1.2.3 3/4\n", "line 2: unexpected \"3/4\""},
        {"at 1.2.3 q=92\n", "line 1: \"at\" before"},
        {"bar 1 4/4 q=92\nbar 2 q=90\x01\n", "line 2: unexpected byte 0x01"},
        {"bar 1 4/4 q=92\nbar 2 q=90\rx\n", "line 2: unexpected byte 0x0d"},
        {"bar 1 4/4 q=92\nbar\xc3\xa9 2\n", "line 2: unexpected byte 0xc3"},
        {"bar 1 4/4 q=92\nbar 2 q=9 0 1 2 3 4 5 6 7 8 9\n",
         "line 2: unexpected \"9\": too many words"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[TT_WHY_LEN] = "";
        tt_tempo_map_t *m = tt_tempo_parse_text(cases[i].text, strlen(cases[i].text), why);
        if (m || !strstr(why, cases[i].want)) {
            tt_tempo_destroy(&m);
            fail_msg("case %zu: %s\n  want \"%s\", got \"%s\"", i, cases[i].text, cases[i].want,
                     why);
        }
    }

    /* A NUL byte inside the text (not a terminator: len says more). */
    char why[TT_WHY_LEN];
    static const char nul[] = "bar 1 4/4 q=92\nbar 2\0 q=90\n";
    assert_null(tt_tempo_parse_text(nul, sizeof nul - 1, why));
    assert_non_null(strstr(why, "line 2: unexpected byte 0x00"));
    /* ... but inside a comment anything goes, even UTF-8. */
    static const char cmt[] = "bar 1 4/4 q=92 # \xc3\xa9t\xc3\xa9 \0 ok\n";
    tt_tempo_map_t *m = tt_tempo_parse_text(cmt, sizeof cmt - 1, why);
    assert_non_null(m);
    tt_tempo_destroy(&m);

    /* Size and line limits. */
    char *big = malloc(TT_TEMPO_MAX_TEXT + 2);
    assert_non_null(big);
    memcpy(big, "bar 1 4/4 q=92\n", 15);
    memset(big + 15, '\n', TT_TEMPO_MAX_TEXT + 1 - 15);
    assert_null(tt_tempo_parse_text(big, TT_TEMPO_MAX_TEXT + 1, why));
    assert_non_null(strstr(why, "at most 65536"));
    assert_null(tt_tempo_parse_text(big, TT_TEMPO_MAX_LINES + 15, why));
    assert_non_null(strstr(why, "line 4097: more than 4096 lines"));
    m = tt_tempo_parse_text(big, TT_TEMPO_MAX_LINES + 14, why); /* exactly 4096 lines */
    assert_non_null(m);
    tt_tempo_destroy(&m);
    /* 1024 events fit, 1025 do not. */
    size_t n = 0;
    n += (size_t)sprintf(big + n, "bar 1 4/4 q=92\n");
    for (int bar = 2; bar <= 1023; bar++) /* bar 1 holds two: meter and tempo */
        n += (size_t)sprintf(big + n, "bar %d q=%d\n", bar, 90 + bar % 2);
    m = tt_tempo_parse_text(big, n, why);
    assert_non_null(m);
    tt_tempo_destroy(&m);
    n += (size_t)sprintf(big + n, "bar 1024 3/4\n");
    assert_null(tt_tempo_parse_text(big, n, why));
    assert_non_null(strstr(why, "line 1024: more than 1024"));
    free(big);
}

static void test_builder(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    assert_null(tt_tempo_new(4, 3, 92, 1, why));
    assert_null(tt_tempo_new(4, 4, 401, 1, why));
    assert_null(tt_tempo_new(4, 4, 0, 1, why));
    assert_null(tt_tempo_new(4, 4, 92, 0, why));
    assert_null(tt_tempo_new(4, 4, INT64_MAX, INT64_MAX / 92, why));
    tt_tempo_map_t *m = tt_tempo_new(4, 4, 184, 2, why); /* reduced to 92 */
    assert_non_null(m);
    assert_int_equal(tt_tempo_add_meter(m, 1, 3, 4, why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_meter(m, 3, 3, 4, why), 0);
    assert_int_equal(tt_tempo_add_meter(m, 3, 2, 4, why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_meter(m, 2, 2, 4, why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_meter(m, 5, 2, 5, why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_meter(m, TT_TEMPO_MAX_BAR + 1, 2, 4, why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_tempo(m, 0, 100, 1, 0, why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_tempo(m, 100, 100, 1, 1, why), 0);
    assert_int_equal(tt_tempo_add_tempo(m, 100, 100, 1, 1, why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_tempo(m, 50, 100, 1, 1, why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_tempo(m, 200, 19, 1, 0, why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_tempo(m, TT_TEMPO_TICK_LIMIT, 100, 1, 0, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "beyond bar"));
    /* Meter added after a mark: the mark keeps its tick. */
    assert_int_equal(tt_tempo_add_tempo(m, 3840 * 2 + 960, 60, 1, 0, why), 0);
    assert_int_equal(tt_tempo_add_meter(m, 4, 6, 8, why), 0);
    char *text;
    assert_int_equal(tt_tempo_format_text(m, &text, why), 0);
    assert_string_equal(text, "fps 24\nstart 00:00:00:00\ncountoff 0\n"
                              "bar 1 4/4 q=92\nat 1.1.100 q=100 ramp\nbar 3 3/4\n"
                              "at 3.2.0 q=60\nbar 4 6/8\n");
    tt_tempo_map_t *back = parse(text);
    assert_true(tt_tempo_equal(m, back));
    free(text);
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);
}

/* ---- film notation: frame clicks, units, groups, pickup, rit, end,
 * click off, free time ---- */

/* Quarters per minute at a mark, exactly, from the listing. */
static void assert_mark_bpm(const tt_tempo_map_t *m, size_t change, int64_t n, int64_t d)
{
    tt_tempo_change_t c;
    assert_int_equal(tt_tempo_change(m, change, &c), 0);
    assert_true(c.has_tempo);
    if (c.bpm_n != n || c.bpm_d != d)
        fail_msg("change %zu: %lld/%lld bpm, expected %lld/%lld", change, (long long)c.bpm_n,
                 (long long)c.bpm_d, (long long)n, (long long)d);
}

static void test_frame_clicks(void **state)
{
    (void)state;
    /* A 12-4 click (12.5 frames a beat) at each rate, against periods
     * computed by hand: 12.5 * den / num s. */
    static const struct {
        const char *fps;
        int64_t beat_ns;      /* rounded to the ns */
        int64_t four_ns;      /* four beats */
        int64_t bpm_n, bpm_d; /* quarters per minute */
    } rates[] = {
        {"24", 520833333, 2083333333, 576, 5},            /* 12.5/24 s, 115.2 */
        {"23.976", 521354167, 2085416667, 115200, 1001},  /* 12.5*1001/24000 s */
        {"25", 500000000, 2000000000, 120, 1},            /* 12.5/25 s */
        {"29.97df", 417083333, 1668333333, 144000, 1001}, /* 12.5*1001/30000 s */
        {"29.97ndf", 417083333, 1668333333, 144000, 1001},
        {"30", 416666667, 1666666667, 144, 1},
    };
    char text[128];
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        snprintf(text, sizeof text, "fps %s\nbar 1 4/4 q=12-4\n", rates[i].fps);
        tt_tempo_map_t *m = parse(text);
        assert_ns(tt_tempo_bbt_to_ns(m, bbt(1, 2, 0)), rates[i].beat_ns);
        assert_ns(tt_tempo_bbt_to_ns(m, bbt(2, 1, 0)), rates[i].four_ns);
        assert_mark_bpm(m, 0, rates[i].bpm_n, rates[i].bpm_d);
        char *out, why[TT_WHY_LEN];
        assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
        assert_non_null(strstr(out, "bar 1 4/4 q=12-4\n"));
        free(out);
        check_round_trip(m, -100, 4000);
        tt_tempo_destroy(&m);
    }
    /* Eighth-frame steps: 7-7 at 24 is 7.875/24 s = 0.328125 s exactly; a
     * dotted-quarter click in 6/8 in 2: 12-4 per dotted quarter. */
    tt_tempo_map_t *m = parse("bar 1 4/4 q=7-7\n");
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(1, 2, 0)), 328125000);
    tt_tempo_destroy(&m);
    m = parse("bar 1 6/8 in 2 q.=12-4\n");
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(1, 4, 0)), 520833333);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(1, 2, 0)), 173611111); /* an eighth: a third */
    /* Changing the rate re-times the click (it stays in frames). */
    assert_int_equal(tt_tempo_set_start(m, 0, TT_FPS_25), 0);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(1, 4, 0)), 500000000);
    tt_tempo_destroy(&m);
    /* A click too fast for the map at its rate, or outside the book. */
    char why[TT_WHY_LEN];
    assert_null(tt_tempo_parse_text("fps 30\nbar 1 4/4 q=4-0\n",
                                    strlen("fps 30\nbar 1 4/4 q=4-0\n"), why)); /* 450 bpm */
    assert_non_null(strstr(why, "line 2: tempo q=4-0 is 450 quarter notes per minute at 30"));
    m = parse("bar 1 4/4 q=4-0\n"); /* 360 at 24 */
    assert_int_equal(tt_tempo_set_start(m, 0, TT_FPS_30), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_fps(m), TT_FPS_24); /* unchanged */
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(1, 2, 0)), 166666667);
    tt_tempo_destroy(&m);
    static const char *bad[] = {"bar 1 4/4 q=12-8\n", "bar 1 4/4 q=0-4\n", "bar 1 4/4 q=12-\n",
                                "bar 1 4/4 q=12-44\n", "bar 1 4/4 q=1000-0\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(tt_tempo_parse_text(bad[i], strlen(bad[i]), why));
        assert_non_null(strstr(why, "line 1: bad frame click"));
    }
}

static void test_beat_units(void **state)
{
    (void)state;
    /* h=60, e=240 and q.=80 are all 120 quarters a minute. */
    static const char *maps[] = {"bar 1 4/4 h=60\n",  "bar 1 4/4 e=240\n", "bar 1 4/4 q.=80\n",
                                 "bar 1 4/4 s=480\n", "bar 1 4/4 w=30\n",  "bar 1 4/4 e.=160\n"};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        tt_tempo_map_t *m = parse(maps[i]);
        assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(1, 2, 0)), 500000000);
        assert_mark_bpm(m, 0, 120, 1);
        char *out, why[TT_WHY_LEN];
        assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
        assert_non_null(strstr(out, maps[i]));
        free(out);
        tt_tempo_destroy(&m);
    }
    char why[TT_WHY_LEN];
    /* The range is in quarters: e=30 is 15. */
    assert_null(tt_tempo_parse_text("bar 1 4/4 e=30\n", strlen("bar 1 4/4 e=30\n"), why));
    assert_non_null(strstr(why, "tempo e=30 is 15 quarter notes per minute, outside 20..400"));
    assert_null(tt_tempo_parse_text("bar 1 4/4 x=30\n", strlen("bar 1 4/4 x=30\n"), why));
    assert_non_null(strstr(why, "unexpected \"x=30\""));
}

/* The clicks from time `from` up to `to`, as "bar.beat" (countoff marked
 * with c, accents with !) separated by spaces. */
static void click_list(const tt_tempo_map_t *m, int64_t from, int64_t to, char *out, size_t room)
{
    tt_click_t c;
    size_t len = 0;
    out[0] = '\0';
    for (int64_t t = from; len + 32 < room && tt_tempo_next_click(m, t, &c) == 0 && c.ns < to;
         t = c.ns + 1)
        len += (size_t)snprintf(out + len, room - len, "%s%d.%d%s%s", len ? " " : "",
                                (int)c.pos.bar, (int)c.pos.beat, c.countoff ? "c" : "",
                                c.accent == TT_CLICK_DOWNBEAT ? "!" : "");
}

static void test_grouped_meters(void **state)
{
    (void)state;
    char got[512];
    /* 6/8 in 2 at q.=60: a dotted quarter a second, clicks on 1 and 4. */
    tt_tempo_map_t *m = parse("bar 1 6/8 in 2 q.=60\nbar 3 3+2+2/8 e=420\nbar 5 3/4 in 1\n");
    click_list(m, INT64_MIN, INT64_MAX / 2, got, sizeof got);
    /* 3+2+2/8 at 420 eighths: beats 1, 4, 6 at 0, 3/7, 5/7 s of the bar;
     * 3/4 in 1: one click a bar, until the map's end... the list stops at 8. */
    assert_true(strncmp(got, "1.1! 1.4 2.1! 2.4 3.1! 3.4 3.6 4.1! 4.4 4.6 5.1! 6.1! 7.1!", 57) ==
                0);
    tt_click_t c;
    assert_int_equal(tt_tempo_next_click(m, 1, &c), 0);
    assert_int_equal(c.ns, 1000000000);
    assert_int_equal(c.group, 2);
    assert_int_equal(c.clicks, 2);
    int64_t bar3 = 4000000000;
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(3, 1, 0)), bar3);
    assert_int_equal(tt_tempo_next_click(m, bar3 + 1, &c), 0);
    assert_ns(c.ns, bar3 + 428571429);
    assert_int_equal(c.group, 2);
    assert_int_equal(c.clicks, 3);
    assert_int_equal(tt_tempo_next_click(m, c.ns + 1, &c), 0);
    assert_ns(c.ns, bar3 + 714285714);
    assert_int_equal(c.pos.beat, 6);
    /* Positions stay in eighths. */
    assert_bbt(tt_tempo_ns_to_bbt(m, bar3 + 142857143), 3, 2, 0);
    char *out, why[TT_WHY_LEN];
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_string_equal(out, "fps 24\nstart 00:00:00:00\ncountoff 0\nbar 1 6/8 in 2 q.=60\n"
                             "bar 3 3+2+2/8 e=420\nbar 5 3/4 in 1\n");
    free(out);
    tt_tempo_destroy(&m);
    /* Equal groups print as "in"; single beats are no groups. */
    m = parse("bar 1 3+3/8 q=90\nbar 2 4/4 in 4\nbar 3 2+2/4\n");
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_string_equal(out, "fps 24\nstart 00:00:00:00\ncountoff 0\nbar 1 6/8 in 2 q=90\n"
                             "bar 2 4/4\nbar 3 4/4 in 2\n");
    free(out);
    tt_tempo_destroy(&m);
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"bar 1 6/8 in 4 q=90\n", "line 1: bad click groups \"in 4\""},
        {"bar 1 6/8 in q=90\n", "line 1: bad click groups"},
        {"bar 1 3+0/8 q=90\n", "a group of 0 beats"},
        {"bar 1 3+/8 q=90\n", "line 1: bad meter"},
        {"bar 1 3+2+2 q=90\n", "unexpected \"3+2+2\""},
        {"bar 1 1+1+1+1+1+1+1+1+1+1+1+1+2/8 q=90\n", "at most 12 click groups"},
        {"bar 1 3+2+2/8 in 7 q=90\n", "line 1: bad click groups"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m = tt_tempo_parse_text(cases[i].text, strlen(cases[i].text), why);
        if (m || !strstr(why, cases[i].want)) {
            tt_tempo_destroy(&m);
            fail_msg("case %zu: %s\n  want \"%s\", got \"%s\"", i, cases[i].text, cases[i].want,
                     why);
        }
    }
}

static void test_pickup(void **state)
{
    (void)state;
    char got[512];
    /* One beat of pickup in 4/4 at 120, two count-off bars: the count-off
     * counts into the pickup (bar 0 beat 4), which clicks as music. */
    tt_tempo_map_t *m = parse("countoff 2\npickup 1\nbar 1 4/4 q=120\n");
    assert_int_equal(tt_tempo_pickup_beats(m), 1);
    assert_int_equal(tt_tempo_start_ns(m), -4000000000);
    click_list(m, INT64_MIN, 1, got, sizeof got);
    assert_string_equal(got, "-1.1c! -1.2c -1.3c -1.4c 0.1c! 0.2c 0.3c 0.4 1.1!");
    tt_tempo_countoff_t co;
    assert_int_equal(tt_tempo_countoff(m, 1, &co), 4000000000);
    assert_int_equal(co.beats, 8);
    assert_int_equal(co.pickup, 1);
    tt_click_t c;
    assert_int_equal(tt_tempo_countoff_click(&co, 7, &c), 1);
    assert_int_equal(c.ns, -500000000);
    assert_false(c.countoff);
    assert_int_equal(tt_tempo_countoff_click(&co, 6, &c), 1);
    assert_true(c.countoff);
    assert_int_equal(tt_tempo_countoff_click(&co, 4, &c), 1);
    assert_true(c.downbeat && c.countoff);
    /* From a later bar there is no pickup. */
    tt_tempo_countoff(m, 5, &co);
    assert_int_equal(co.pickup, 0);
    assert_int_equal(tt_tempo_countoff_click(&co, 7, &c), 1);
    assert_true(c.countoff);
    tt_tempo_destroy(&m);
    /* No count-off: the lead-in is the pickup alone (two beats of 3/4). */
    m = parse("pickup 2\nbar 1 3/4 q=60\n");
    assert_int_equal(tt_tempo_start_ns(m), -2000000000);
    click_list(m, INT64_MIN, 1, got, sizeof got);
    assert_string_equal(got, "0.2 0.3 1.1!");
    assert_int_equal(tt_tempo_countoff(m, 1, &co), 2000000000);
    assert_int_equal(co.beats, 2);
    assert_int_equal(tt_tempo_countoff_click(&co, 0, &c), 1);
    assert_int_equal(c.pos.beat, 2);
    assert_false(c.countoff);
    char *out, why[TT_WHY_LEN];
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_string_equal(out, "fps 24\nstart 00:00:00:00\ncountoff 0\npickup 2\nbar 1 3/4 q=60\n");
    free(out);
    tt_tempo_destroy(&m);
    assert_null(tt_tempo_parse_text("pickup 3\nbar 1 3/4 q=60\n",
                                    strlen("pickup 3\nbar 1 3/4 q=60\n"), why));
    assert_non_null(strstr(why, "line 1: pickup 3: must be fewer beats than bar 1's 3"));
}

static void test_rit_accel(void **state)
{
    (void)state;
    /* rit from 120 to 60 over 4 beats from bar 2: a ramp of 4 quarters,
     * 4 ln 2 s long (k = -15 bpm a quarter). */
    tt_tempo_map_t *m = parse("bar 1 4/4 q=120\nbar 2 rit q=60 over 4\nbar 4 3/4\n");
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(2, 1, 0)), 2000000000);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(3, 1, 0)), 2000000000 + 2772588722);
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(4, 1, 0)), 4772588722 + 4000000000);
    /* Half way (2 quarters): t = 4 ln(120/90) s; tempo 90. */
    int64_t half = INT64_C(2000000000) + 1150728289;
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(2, 3, 0)), half);
    assert_true(fabs(tt_tempo_bpm_at(m, half) - 90.0) < 1e-6);
    check_round_trip(m, 3840, 3 * 3840);
    char *out, why[TT_WHY_LEN];
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_string_equal(out, "fps 24\nstart 00:00:00:00\ncountoff 0\nbar 1 4/4 q=120\n"
                             "bar 2 rit q=60 over 4\nbar 4 3/4\n");
    tt_tempo_map_t *back = parse(out);
    assert_true(tt_tempo_equal(m, back));
    free(out);
    tt_tempo_destroy(&back);
    /* The listing shows the rit and its implied end. */
    tt_tempo_change_t c;
    assert_int_equal(tt_tempo_change(m, 1, &c), 0);
    assert_int_equal(c.named, TT_TEMPO_RIT);
    assert_int_equal(c.over, 4);
    assert_int_equal(tt_tempo_change(m, 2, &c), 0);
    assert_true(c.implied && c.ramp);
    assert_int_equal(c.pos.bar, 3);
    tt_tempo_destroy(&m);
    /* It equals the two marks it stands for. */
    tt_tempo_map_t *a = parse("bar 1 4/4 q=120\nat 1.3.0 accel e=300 over 2\n");
    tt_tempo_map_t *b = parse("bar 1 4/4 q=120\nat 1.3.0 q=120\nbar 2 q=150 ramp\n");
    assert_int_equal(tt_tempo_bbt_to_ns(a, bbt(3, 1, 0)), tt_tempo_bbt_to_ns(b, bbt(3, 1, 0)));
    assert_false(tt_tempo_equal(a, b)); /* written differently */
    tt_tempo_destroy(&a);
    tt_tempo_destroy(&b);
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"bar 1 4/4 q=120\nbar 2 rit q=130 over 4\n", "line 2: rit to q=130: that is faster"},
        {"bar 1 4/4 q=120\nbar 2 accel q=100 over 4\n", "line 2: accel to q=100: that is slower"},
        {"bar 1 4/4 q=120\nbar 2 rit q=120 over 4\n", "no different"},
        {"bar 1 4/4 q=120\nbar 2 rit q=60 over 8\nbar 3 q=90\n",
         "line 3: bar 3 is inside the rit/accel before it (it ends at 4.1.0)"},
        {"bar 1 4/4 q=120\nbar 2 rit q=60 over 4\nbar 3 q=90\n", "line 3: a rit/accel ends here"},
        {"bar 1 4/4 q=120\nbar 2 rit q=60\n", "line 2: rit needs a target and a length"},
        {"bar 1 4/4 q=120\nbar 2 rit q=60 over 0\n", "line 2: bad length \"0\""},
        {"bar 1 4/4 q=120\nbar 2 rit q=60 by 4\n", "line 2: bad length"},
        {"bar 1 4/4 q=120\nat 2.1.10 rit q=60 over 4\n", "starts on a beat"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m = tt_tempo_parse_text(cases[i].text, strlen(cases[i].text), why);
        if (m || !strstr(why, cases[i].want)) {
            tt_tempo_destroy(&m);
            fail_msg("case %zu: %s\n  want \"%s\", got \"%s\"", i, cases[i].text, cases[i].want,
                     why);
        }
    }
    /* A meter change inside the rit is fine: the rit lasts 6 beats of its
     * own meter (quarters), 6 ln 2 s, and ends at 3.5 (eighths). */
    m = parse("bar 1 4/4 q=120\nbar 2 rit q=60 over 6\nbar 3 6/8\n");
    assert_ns(tt_tempo_bbt_to_ns(m, bbt(3, 5, 0)), INT64_C(2000000000) + 4158883083);
    tt_tempo_destroy(&m);
}

static void test_end_and_click_off(void **state)
{
    (void)state;
    char got[512];
    tt_tempo_map_t *m = parse("end 4\nbar 1 2/4 q=120\nbar 2 click off\nbar 3 3/4 click on\n");
    click_list(m, INT64_MIN, INT64_MAX, got, sizeof got);
    assert_string_equal(got, "1.1! 1.2 3.1! 3.2 3.3 4.1! 4.2 4.3");
    /* Time and bars go on past the end and through the silence. */
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(6, 1, 0)), INT64_C(2000000000) + 4500000000);
    tt_click_t c;
    assert_int_equal(tt_tempo_next_click(m, tt_tempo_bbt_to_ns(m, bbt(4, 3, 0)) + 1, &c),
                     TT_ERR_NOTFOUND);
    assert_false(tt_tempo_click_on_at(m, 3840 / 2));
    assert_true(tt_tempo_click_on_at(m, 0));
    char *out, why[TT_WHY_LEN];
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_string_equal(out, "fps 24\nstart 00:00:00:00\ncountoff 0\nend 4\nbar 1 2/4 q=120\n"
                             "bar 2 click off\nbar 3 3/4 click on\n");
    free(out);
    tt_tempo_destroy(&m);
    /* Off to the end of the map. */
    m = parse("bar 1 4/4 q=120\nbar 3 click off\n");
    assert_int_equal(tt_tempo_next_click(m, tt_tempo_bbt_to_ns(m, bbt(2, 4, 0)) + 1, &c),
                     TT_ERR_NOTFOUND);
    tt_tempo_destroy(&m);
    assert_null(tt_tempo_parse_text("bar 1 4/4 q=120\nbar 3 click maybe\n",
                                    strlen("bar 1 4/4 q=120\nbar 3 click maybe\n"), why));
    assert_non_null(strstr(why, "line 2: write \"click off\""));
    assert_null(
        tt_tempo_parse_text("end 0\nbar 1 4/4 q=120\n", strlen("end 0\nbar 1 4/4 q=120\n"), why));
    assert_non_null(strstr(why, "line 1: end \"0\""));
}

static void test_free_time(void **state)
{
    (void)state;
    char got[512];
    /* 4/4 at 120 (2 s a bar) from 01:00:00:00 at 25 fps; bar 3 (at 4 s) is
     * free until bar 4 at 01:00:10:00 (10 s): bar 3 takes 6 s. */
    const char *text = "fps 25\nstart 01:00:00:00\nbar 1 4/4 q=120\n"
                       "bar 3 free until 4 at 01:00:10:00\n";
    tt_tempo_map_t *m = parse(text);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(3, 1, 0)), 4000000000);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(4, 1, 0)), 10000000000);
    /* Inside: as if at the one tempo that fits (4 quarters in 6 s, 40 bpm):
     * 3.2 is a quarter of the way. */
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(3, 2, 0)), 5500000000);
    assert_bbt(tt_tempo_ns_to_bbt(m, 7000000000), 3, 3, 0);
    assert_true(fabs(tt_tempo_bpm_at(m, 5000000000) - 40.0) < 1e-9);
    /* Resumes at the tempo before. */
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(4, 2, 0)), 10500000000);
    char tc[TT_TIMECODE_LEN];
    tt_timecode_format(tt_tempo_ns_to_frame(m, tt_tempo_bbt_to_ns(m, bbt(4, 1, 0))), TT_FPS_25, tc);
    assert_string_equal(tc, "01:00:10:00");
    /* No clicks in it. */
    click_list(m, 3400000000, 11000000001, got, sizeof got);
    assert_string_equal(got, "2.4 4.1! 4.2 4.3");
    check_round_trip(m, 2 * 3840 - 10, 4 * 3840 + 10);
    char *out, why[TT_WHY_LEN];
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_string_equal(out, "fps 25\nstart 01:00:00:00\ncountoff 0\nbar 1 4/4 q=120\n"
                             "bar 3 free until 4 at 01:00:10:00\n");
    free(out);
    /* Moving the start keeps the resume label: bar 3 is then 4 s after
     * 01:00:01:00, and bar 4 still at 01:00:10:00. */
    assert_int_equal(tt_tempo_set_start(m, 25 * 3601, TT_FPS_25), 0);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(4, 1, 0)), 9000000000);
    /* A new rate keeps the label: 01:00:10:00 at 24 is still 10 s after
     * 01:00:00:00 at 24. */
    assert_int_equal(tt_tempo_set_start(m, 24 * 3600, TT_FPS_24), 0);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(4, 1, 0)), 10000000000);
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_non_null(strstr(out, "bar 3 free until 4 at 01:00:10:00\n"));
    free(out);
    tt_tempo_destroy(&m);
    /* ... and refuses a rate where the label does not exist. */
    m = parse("fps 25\nbar 1 4/4 q=120\nbar 3 free until 4 at 00:00:10:24\n");
    assert_int_equal(tt_tempo_set_start(m, 0, TT_FPS_24), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_fps(m), TT_FPS_25);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(4, 1, 0)), 10960000000);
    tt_tempo_destroy(&m);

    /* A rit into free time, then a new tempo where it resumes, and the
     * listing. */
    m = parse("fps 24\nbar 1 4/4 q=120\nbar 2 rit q=60 over 4\n"
              "bar 3 free until 5 at 00:00:20:00\nbar 5 q=100\n");
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(5, 1, 0)), 20000000000);
    assert_int_equal(tt_tempo_bbt_to_ns(m, bbt(5, 2, 0)), 20600000000);
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_string_equal(out, "fps 24\nstart 00:00:00:00\ncountoff 0\nbar 1 4/4 q=120\n"
                             "bar 2 rit q=60 over 4\nbar 3 free until 5 at 00:00:20:00\n"
                             "bar 5 q=100\n");
    tt_tempo_map_t *back = parse(out);
    assert_true(tt_tempo_equal(m, back));
    tt_tempo_destroy(&back);
    free(out);
    tt_tempo_change_t c;
    assert_int_equal(tt_tempo_change(m, 2, &c), 0); /* bar 3 */
    assert_true(c.free_from && c.implied);
    assert_int_equal(c.free_until, 5);
    tt_tempo_destroy(&m);

    static const struct {
        const char *text, *want;
    } cases[] = {
        {"fps 25\nbar 1 4/4 q=120\nbar 3 free until 4 at 00:00:04:12\n",
         "line 3: free time resuming at 00:00:04:12 is faster than 400"},
        {"fps 25\nbar 1 4/4 q=120\nbar 3 free until 4 at 00:00:03:00\n",
         "line 3: free time resuming at 00:00:03:00: the section starts at 00:00:04:00"},
        {"bar 1 4/4 q=120\nbar 3 free until 5 at 00:00:20:00\nbar 4 3/4\n",
         "line 3: meter change at bar 4: inside free time"},
        {"bar 1 4/4 q=120\nbar 3 free until 5 at 00:00:20:00\nbar 4 q=90\n",
         "line 3: bar 4 is inside the free time before it (it resumes at 5.1.0)"},
        {"bar 1 4/4 q=120\nbar 3 free until 5 at 00:00:20:00\nbar 5 q=90 ramp\n",
         "a ramp cannot start in free time"},
        {"bar 1 4/4 q=120\nbar 3 free until 3 at 00:00:20:00\n", "needs 2 <= from < until"},
        {"bar 1 4/4 q=120\nbar 3 free until 4\n", "line 2: free time needs"},
        {"bar 1 4/4 q=120\nbar 3 free until 4 at 00:00:20:30\n", "line 2: "},
        {"bar 1 4/4 q=120\nbar 3 q=90 free until 4 at 00:00:20:00\n",
         "unexpected \"free\" after the tempo"},
        {"bar 1 4/4 q=120\nat 3.2.0 free until 4 at 00:00:20:00\n", "starts at a bar line"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m = tt_tempo_parse_text(cases[i].text, strlen(cases[i].text), why);
        if (m || !strstr(why, cases[i].want)) {
            tt_tempo_destroy(&m);
            fail_msg("case %zu: %s\n  want \"%s\", got \"%s\"", i, cases[i].text, cases[i].want,
                     why);
        }
    }
}

/* A film cue with everything, in canonical form: it reads back equal and
 * formats to the same bytes. */
static void test_markers(void **state)
{
    (void)state;
    /* Markers are placed after every bar line: a meter written after them
     * counts. Words are joined by single spaces. */
    tt_tempo_map_t *m = parse("marker 2.5.0   Big   hit\nbar 1 4/4 q=120\nbar 2 6/8\n");
    char *out, why[TT_WHY_LEN];
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_string_equal(out, "fps 24\nstart 00:00:00:00\ncountoff 0\nbar 1 4/4 q=120\n"
                             "bar 2 6/8\nmarker 2.5.0 Big hit\n");
    free(out);
    assert_int_equal(tt_tempo_add_marker(m, bbt(3, 1, 0), "two  spaces", why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_marker(m, bbt(3, 1, 0), "a#b", why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_marker(m, bbt(2, 1, 0), "early", why), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_add_marker(m, bbt(3, 1, 0), "ok", why), 0);
    tt_tempo_destroy(&m);
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"bar 1 4/4 q=120\nmarker 1.5.0 x\n", "line 2: marker at 1.5.0: not in the bar"},
        {"bar 1 4/4 q=120\nmarker 1.1.0\n", "line 2: a marker is"},
        {"bar 1 4/4 q=120\nmarker 2.1.0 b\nmarker 1.1.0 a\n", "line 3: marker at 1.1.0: before"},
        {"bar 1 4/4 q=120\nmarker 1.1.0 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
         "bbbbbbbbbb\n",
         "line 2: marker name longer than 64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m = tt_tempo_parse_text(cases[i].text, strlen(cases[i].text), why);
        if (m || !strstr(why, cases[i].want)) {
            tt_tempo_destroy(&m);
            fail_msg("case %zu: %s\n  want \"%s\", got \"%s\"", i, cases[i].text, cases[i].want,
                     why);
        }
    }
}

static void test_film_round_trip(void **state)
{
    (void)state;
    const char *film = "fps 23.976\n"
                       "start 00:59:58:00\n"
                       "countoff 2\n"
                       "pickup 1\n"
                       "end 40\n"
                       "bar 1 4/4 q=12-4\n"
                       "bar 9 6/8 in 2 q.=12-4\n"
                       "bar 13 3+2+2/8 e=300\n"
                       "bar 17 4/4 q=100 ramp\n"
                       "at 20.3.0 rit q=80 over 6\n"
                       "bar 24 free until 26 at 01:00:59:00\n"
                       "bar 30 click off\n"
                       "bar 32 h=44 click on\n"
                       "marker 24.1.0 Door slam\n"
                       "marker 30.2.0 Hit: the car\n";
    tt_tempo_map_t *m = parse(film);
    char *out, *again, why[TT_WHY_LEN];
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_string_equal(out, film);
    tt_tempo_map_t *back = parse(out);
    assert_true(tt_tempo_equal(m, back));
    assert_int_equal(tt_tempo_format_text(back, &again, why), 0);
    assert_string_equal(again, film);
    check_round_trip(m, -2 * 3840, 40 * 3840);
    tt_bbt_t pos;
    const char *name;
    assert_int_equal(tt_tempo_marker(m, 1, &pos, &name), 0);
    assert_bbt(pos, 30, 2, 0);
    assert_string_equal(name, "Hit: the car");
    assert_int_equal(tt_tempo_marker(m, 2, &pos, &name), TT_ERR_NOTFOUND);
    free(again);
    free(out);
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_six_eight),
        cmocka_unit_test(test_meter_change),
        cmocka_unit_test(test_ramp),
        cmocka_unit_test(test_meter_change_mid_ramp),
        cmocka_unit_test(test_countoff_clicks),
        cmocka_unit_test(test_clicks_brute_force),
        cmocka_unit_test(test_round_trip_every_tick),
        cmocka_unit_test(test_no_drift),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_timecode),
        cmocka_unit_test(test_text_canonical),
        cmocka_unit_test(test_text_round_trip),
        cmocka_unit_test(test_text_errors),
        cmocka_unit_test(test_builder),
        cmocka_unit_test(test_frame_clicks),
        cmocka_unit_test(test_beat_units),
        cmocka_unit_test(test_grouped_meters),
        cmocka_unit_test(test_pickup),
        cmocka_unit_test(test_rit_accel),
        cmocka_unit_test(test_end_and_click_off),
        cmocka_unit_test(test_free_time),
        cmocka_unit_test(test_markers),
        cmocka_unit_test(test_film_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
