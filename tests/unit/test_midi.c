/* test_midi: the MIDI a roll sends (agents/room/agent_midi.c), byte for
 * byte and nanosecond for nanosecond against values worked out by hand:
 * MTC quarter-frames and full frames at every rate (23.976 as 24 labels
 * at 23.976 pacing, 29.97 drop frame across a dropped minute), MIDI clock
 * through a tempo step and a rit (the ramp's closed form), SPP at a
 * from-bar, with a pickup and in 6/8, Start/Continue/Stop, the clock
 * stopping for free time, MMC locate/play/stop, the JACK transport's start
 * and BBT, and the --midi parser.
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

#include "agent_midi.h"
#include "tt_error.h"

#define S0 10000000000LL /* the roll's start, session ns */
#define MAXEV 4096

static agent_midi_event_t ev[MAXEV];

static agent_midi_roll_t *roll(const char *map, int32_t from_bar, const tt_fps_t *rate)
{
    char why[TT_WHY_LEN];
    agent_midi_roll_t *r = agent_midi_roll_new(map, from_bar, S0, rate, why);
    if (!r)
        fail_msg("roll: %s", why);
    return r;
}

/* The events of kinds from well before the roll for `ns`, in order. */
static int all(agent_midi_roll_t *r, int kinds, int64_t ns)
{
    return agent_midi_events(r, kinds, INT64_MIN, S0 + ns, ev, MAXEV);
}

/* Only the events whose first byte is status. */
static int only(int n, uint8_t status, agent_midi_event_t *out)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (ev[i].bytes[0] == status)
            out[k++] = ev[i];
    return k;
}

static void assert_bytes(const agent_midi_event_t *e, const uint8_t *b, int len)
{
    assert_int_equal(e->len, len);
    assert_memory_equal(e->bytes, b, (size_t)len);
}

/* Reassembles the label of 8 quarter-frames from q[0] (piece 0). */
static void qf_label(const agent_midi_event_t *q, int *h, int *m, int *s, int *f, int *code)
{
    int v[8];
    for (int i = 0; i < 8; i++) {
        assert_int_equal(q[i].bytes[0], 0xF1);
        assert_int_equal(q[i].bytes[1] >> 4, i);
        v[i] = q[i].bytes[1] & 0xF;
    }
    *f = v[0] | (v[1] & 1) << 4;
    *s = v[2] | (v[3] & 3) << 4;
    *m = v[4] | (v[5] & 3) << 4;
    *h = v[6] | (v[7] & 1) << 4;
    *code = v[7] >> 1 & 3;
}

static agent_midi_event_t qf[MAXEV];

/* 25 fps from 01:00:00:00, no count-off: the full frame, then 4
 * quarter-frames a frame 10 ms apart, labels every two frames. */
static void test_mtc_25(void **state)
{
    (void)state;
    agent_midi_roll_t *r = roll("fps 25\nstart 01:00:00:00\nbar 1 4/4 q=120\n", 1, NULL);
    int n = all(r, AGENT_MIDI_MTC, 1040000000LL); /* 1.04 s: 26 frames */
    static const uint8_t full[] = {0xF0, 0x7F, 0x7F, 0x01, 0x01, 0x21, 0, 0, 0, 0xF7};
    assert_int_equal(ev[0].s, S0);
    assert_bytes(&ev[0], full, sizeof full);
    int k = only(n, 0xF1, qf);
    assert_int_equal(k, 104);
    static const uint8_t first8[] = {0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x61, 0x72};
    for (int i = 0; i < k; i++) {
        assert_int_equal(qf[i].s, S0 + (int64_t)i * 10000000);
        if (i < 8)
            assert_int_equal(qf[i].bytes[1], first8[i]);
    }
    int h, m, s, f, code;
    qf_label(&qf[8], &h, &m, &s, &f, &code); /* frame 2 */
    assert_true(h == 1 && m == 0 && s == 0 && f == 2 && code == 1);
    qf_label(&qf[96], &h, &m, &s, &f, &code); /* frame 24, then 25 = 01:00:01:00 */
    assert_true(h == 1 && m == 0 && s == 0 && f == 24);
    assert_int_equal(qf[100].bytes[1], 0x40 | 0); /* piece 4 of frame 25's run: minutes */
    agent_midi_roll_free(&r);
}

/* 29.97 drop frame across 00:00:59;28 -> 00:01:00;02, code 2, frames of
 * 1001/30000 s. */
static void test_mtc_2997df(void **state)
{
    (void)state;
    agent_midi_roll_t *r = roll("fps 29.97df\nstart 00:00:59;28\nbar 1 4/4 q=120\n", 1, NULL);
    int n = all(r, AGENT_MIDI_MTC, 200000000LL);
    static const uint8_t full[] = {0xF0, 0x7F, 0x7F, 0x01, 0x01, 0x40, 0, 59, 28, 0xF7};
    assert_bytes(&ev[0], full, sizeof full);
    int k = only(n, 0xF1, qf);
    int h, m, s, f, code;
    qf_label(&qf[0], &h, &m, &s, &f, &code);
    assert_true(h == 0 && m == 0 && s == 59 && f == 28 && code == 2);
    qf_label(&qf[8], &h, &m, &s, &f, &code);
    assert_true(h == 0 && m == 1 && s == 0 && f == 2 && code == 2); /* ;00 ;01 dropped */
    /* Frame 2 of the run starts 2 * 1001/30000 s = 66733333.3 ns in. */
    assert_int_equal(qf[8].s - S0, 66733333);
    assert_int_equal(qf[1].s - S0, 8341666); /* a quarter of 33366666.7, floored */
    assert_true(k >= 16);
    agent_midi_roll_free(&r);
}

/* 23.976: code 0 (24 labels), paced at 1001/24000 s a frame; with
 * --mtc-rate 24 the same map paces at 1/24 s. 30 -> code 3, 24 -> 0. */
static void test_mtc_rates(void **state)
{
    (void)state;
    const char *m23 = "fps 23.976\nstart 00:10:00:00\nbar 1 4/4 q=120\n";
    agent_midi_roll_t *r = roll(m23, 1, NULL);
    int n = all(r, AGENT_MIDI_MTC, 100000000LL);
    int k = only(n, 0xF1, qf);
    assert_true(k >= 8);
    assert_int_equal(qf[4].s - S0, 41708333); /* 1001/24000 s */
    assert_int_equal(qf[7].bytes[1], 0x70);   /* code 0 */
    int h, m, s, f, code;
    qf_label(&qf[0], &h, &m, &s, &f, &code);
    assert_true(h == 0 && m == 10 && s == 0 && f == 0 && code == 0);
    agent_midi_roll_free(&r);
    tt_fps_t r24 = TT_FPS_24;
    r = roll(m23, 1, &r24);
    n = all(r, AGENT_MIDI_MTC, 100000000LL);
    k = only(n, 0xF1, qf);
    assert_int_equal(qf[4].s - S0, 41666667);
    qf_label(&qf[0], &h, &m, &s, &f, &code);
    assert_true(h == 0 && m == 10 && s == 0 && f == 0 && code == 0);
    agent_midi_roll_free(&r);
    r = roll("fps 30\nstart 23:59:59:29\nbar 1 4/4 q=120\n", 1, NULL);
    n = all(r, AGENT_MIDI_MTC, 200000000LL);
    static const uint8_t full30[] = {0xF0, 0x7F, 0x7F, 0x01, 0x01, 0x60 | 23, 59, 59, 29, 0xF7};
    assert_bytes(&ev[0], full30, sizeof full30);
    k = only(n, 0xF1, qf);
    assert_int_equal(qf[7].bytes[1], 0x77);  /* hour 23: bit 4 set, code 3 */
    qf_label(&qf[8], &h, &m, &s, &f, &code); /* wraps at midnight */
    assert_true(h == 0 && m == 0 && s == 0 && f == 1 && code == 3);
    agent_midi_roll_free(&r);
    assert_int_equal(agent_midi_mtc_code(TT_FPS_24), 0);
    assert_int_equal(agent_midi_mtc_code(TT_FPS_25), 1);
    assert_int_equal(agent_midi_mtc_code(TT_FPS_29_97_DF), 2);
    assert_int_equal(agent_midi_mtc_code(TT_FPS_29_97_NDF), 3);
}

/* A count-off: the full frame at the first count-off click with its label
 * (before the start timecode), quarter-frames from the first frame start
 * at or after it, continuous into bar 1. */
static void test_mtc_countoff_continuous(void **state)
{
    (void)state;
    /* 1 bar of 4/4 at 100: 2.4 s = 60 frames before 01:00:00:00. */
    agent_midi_roll_t *r =
        roll("fps 25\nstart 01:00:00:00\ncountoff 1\nbar 1 4/4 q=100\n", 1, NULL);
    int n = all(r, AGENT_MIDI_MTC, 4000000000LL);
    static const uint8_t full[] = {0xF0, 0x7F, 0x7F, 0x01, 0x01, 0x20, 59, 57, 15, 0xF7};
    assert_bytes(&ev[0], full, sizeof full);
    int k = only(n, 0xF1, qf);
    assert_int_equal(k, 400);
    for (int i = 0; i < k; i++) {
        assert_int_equal(qf[i].s, S0 + (int64_t)i * 10000000);
        assert_int_equal(qf[i].bytes[1] >> 4, i % 8);
    }
    int h, m, s, f, code;
    qf_label(&qf[240], &h, &m, &s, &f, &code); /* 2.4 s in: bar 1 */
    assert_true(h == 1 && m == 0 && s == 0 && f == 0);
    agent_midi_roll_free(&r);
}

/* Clock: 24 a quarter through the count-off (at 120), bars 1-2 at 120, a
 * rit from bar 2 to 60 at bar 3 (-4 ln(1 - q/8) s after bar 2 at q
 * quarters), then 60. Start just before the downbeat's clock. */
static void test_clock_tempo(void **state)
{
    (void)state;
    agent_midi_roll_t *r =
        roll("fps 25\ncountoff 1\nbar 1 4/4 q=120\nbar 2 q=120\nbar 3 q=60 ramp\n", 1, NULL);
    int n = all(r, AGENT_MIDI_CLOCK, 12000000000LL);
    static const uint8_t spp0[] = {0xF2, 0, 0};
    assert_int_equal(ev[0].s, S0);
    assert_bytes(&ev[0], spp0, 3);
    int64_t origin = S0 + 2000000000LL;
    static agent_midi_event_t ck[MAXEV];
    int k = only(n, 0xF8, ck);
    /* Lead-in: 96 clocks, 1/48 s apart, from the first count-off click. */
    for (int i = 0; i < 96; i++)
        assert_int_equal(ck[i].s, S0 + llround(i * 1e9 / 48));
    int start = -1;
    for (int i = 0; i < n; i++)
        if (ev[i].bytes[0] == 0xFA)
            start = i;
    assert_true(start > 0);
    assert_int_equal(ev[start].s, origin);
    assert_int_equal(ev[start + 1].bytes[0], 0xF8); /* the downbeat's clock right after */
    assert_int_equal(ev[start + 1].s, origin);
    assert_int_equal(ev[start - 1].bytes[0], 0xF8);
    const agent_midi_event_t *mu = &ck[96]; /* bar 1 beat 1 */
    assert_int_equal(mu[0].s, origin);
    assert_int_equal(mu[24].s, origin + 500000000);
    assert_int_equal(mu[96].s, origin + 2000000000);
    /* In the rit, q quarters after bar 2: -4 ln(1 - q/8) s. */
    for (int c = 1; c <= 96; c++) {
        double q = c / 24.0;
        int64_t want = origin + 2000000000 + llround(-4e9 * log(1 - q / 8));
        assert_true(llabs(mu[96 + c].s - want) <= 1);
    }
    assert_true(llabs(mu[96 + 48].s - (origin + 2000000000 + 1150728290)) <= 1);
    /* At 60 after bar 3 (4 ln 2 s after bar 2): 1/24 s a clock. */
    int64_t bar3 = origin + 2000000000 + llround(4e9 * log(2));
    assert_true(llabs(mu[192].s - bar3) <= 1);
    assert_true(llabs(mu[193].s - bar3 - 41666667) <= 1);
    assert_true(k > 300);
    agent_midi_roll_free(&r);
}

static int64_t spp_value(const agent_midi_event_t *e)
{
    return e->bytes[1] | e->bytes[2] << 7;
}

/* SPP in sixteenths from the music's start, Continue on the from-bar's
 * downbeat; the pickup moves song position 0 to its first beat and Start
 * there; a 6/8 bar is 12 sixteenths; Stop at the stop, nothing after. */
static void test_spp_start_stop(void **state)
{
    (void)state;
    agent_midi_roll_t *r = roll("countoff 1\nbar 1 4/4 q=120\n", 3, NULL);
    int n = all(r, AGENT_MIDI_CLOCK, 3000000000LL);
    static const uint8_t spp32[] = {0xF2, 32, 0};
    assert_bytes(&ev[0], spp32, 3);
    agent_midi_event_t st[4];
    assert_int_equal(only(n, 0xFB, st), 1);
    assert_int_equal(st[0].s, S0 + 2000000000);
    assert_int_equal(only(n, 0xFA, st), 0);
    agent_midi_roll_free(&r);

    r = roll("countoff 1\nbar 1 4/4 q=120\n", 200, NULL);
    all(r, AGENT_MIDI_CLOCK, 1000);
    assert_int_equal(spp_value(&ev[0]), 199 * 16); /* 3184: lsb 0x70 msb 0x18 */
    assert_int_equal(ev[0].bytes[1], 0x70);
    assert_int_equal(ev[0].bytes[2], 0x18);
    agent_midi_roll_free(&r);

    /* Pickup of 1: position 0 is bar 0 beat 4, Start there, 500 ms before bar 1. */
    r = roll("countoff 1\npickup 1\nbar 1 4/4 q=120\n", 1, NULL);
    n = all(r, AGENT_MIDI_CLOCK, 3000000000LL);
    assert_int_equal(spp_value(&ev[0]), 0);
    assert_int_equal(only(n, 0xFA, st), 1);
    assert_int_equal(st[0].s, S0 + 1500000000);
    agent_midi_roll_free(&r);
    r = roll("countoff 1\npickup 1\nbar 1 4/4 q=120\n", 3, NULL);
    all(r, AGENT_MIDI_CLOCK, 1000);
    assert_int_equal(spp_value(&ev[0]), 36); /* 32 + the pickup's 4 */
    agent_midi_roll_free(&r);

    /* 6/8 (an eighth = 12 clocks): bar 2 is 12 sixteenths in. */
    r = roll("bar 1 6/8 e=240\n", 2, NULL);
    n = all(r, AGENT_MIDI_CLOCK, 1000000000LL);
    assert_int_equal(spp_value(&ev[0]), 12);
    static agent_midi_event_t ck[MAXEV];
    int k = only(n, 0xF8, ck);
    assert_int_equal(ck[12].s - ck[0].s, 250000000); /* an eighth at 240 */
    assert_true(k >= 13);
    agent_midi_roll_free(&r);

    r = roll("bar 1 4/4 q=120\n", 1, NULL);
    agent_midi_roll_set_stop(r, S0 + 1000000000);
    n = all(r, AGENT_MIDI_CLOCK | AGENT_MIDI_MTC | AGENT_MIDI_MMC, 5000000000LL);
    assert_int_equal(ev[n - 2].s, S0 + 1000000000);
    assert_int_equal(ev[n - 2].bytes[0], 0xFC);
    static const uint8_t mmc_stop[] = {0xF0, 0x7F, 0x7F, 0x06, 0x01, 0xF7};
    assert_bytes(&ev[n - 1], mmc_stop, 6);
    assert_true(ev[n - 3].s < S0 + 1000000000);
    assert_int_equal(only(n, 0xF8, ck), 48);
    agent_midi_roll_free(&r);
}

/* Free time: the clock stops at the section's start and continues at its
 * resume bar with SPP; no clock inside. */
static void test_clock_free(void **state)
{
    (void)state;
    agent_midi_roll_t *r = roll(
        "fps 25\nstart 01:00:00:00\nbar 1 4/4 q=120\nbar 3 free until 4 at 01:00:06:00\n", 1, NULL);
    int n = all(r, AGENT_MIDI_CLOCK, 8000000000LL);
    int64_t bar3 = S0 + 4000000000LL, bar4 = S0 + 6000000000LL;
    int stops = 0, conts = 0;
    for (int i = 0; i < n; i++) {
        if (ev[i].bytes[0] == 0xF8)
            assert_true(ev[i].s < bar3 || ev[i].s >= bar4);
        if (ev[i].bytes[0] == 0xFC) {
            assert_int_equal(ev[i].s, bar3);
            stops++;
        }
        if (ev[i].bytes[0] == 0xFB) {
            assert_int_equal(ev[i].s, bar4);
            assert_int_equal(ev[i - 1].bytes[0], 0xF2);
            assert_int_equal(spp_value(&ev[i - 1]), 48);
            assert_int_equal(ev[i + 1].bytes[0], 0xF8);
            assert_int_equal(ev[i + 1].s, bar4);
            conts++;
        }
    }
    assert_int_equal(stops, 1);
    assert_int_equal(conts, 1);
    agent_midi_roll_free(&r);
}

/* MMC: locate half a second before the roll to the first count-off
 * click's label and subframe, play at it, stop at the stop. */
static void test_mmc(void **state)
{
    (void)state;
    /* Count-off 1 bar at 125: 1.92 s = 48 frames before 01:00:00:00; from
     * bar 1 the first click is at 00:59:58:02. At 29.97df: 2 beats at 90. */
    agent_midi_roll_t *r =
        roll("fps 25\nstart 01:00:00:00\ncountoff 1\nbar 1 4/4 q=125\n", 1, NULL);
    agent_midi_roll_set_stop(r, S0 + 5000000000LL);
    int n = all(r, AGENT_MIDI_MMC, 10000000000LL);
    assert_int_equal(n, 3);
    static const uint8_t loc[] = {0xF0, 0x7F, 0x7F, 0x06, 0x44, 0x06, 0x01,
                                  0x20, 59,   58,   2,    0,    0xF7};
    assert_int_equal(ev[0].s, S0 - 500000000);
    assert_bytes(&ev[0], loc, sizeof loc);
    static const uint8_t play[] = {0xF0, 0x7F, 0x7F, 0x06, 0x02, 0xF7};
    assert_int_equal(ev[1].s, S0);
    assert_bytes(&ev[1], play, sizeof play);
    assert_int_equal(ev[2].s, S0 + 5000000000LL);
    agent_midi_roll_free(&r);
    /* A subframe: 1 beat of 1/4 at 90 (0.666667 s) before 00:00:10;00 at
     * 29.97df falls 0.667 ms into frame 00:00:09;10 (20 frames of 33.3667
     * ms before it): 2.0 % of a frame, st 1 (hundredths, rounded down). */
    r = roll("fps 29.97df\nstart 00:00:10;00\ncountoff 1\nbar 1 1/4 q=90\n", 1, NULL);
    n = all(r, AGENT_MIDI_MMC, 1000);
    assert_int_equal(ev[0].bytes[7], 0x40);
    assert_int_equal(ev[0].bytes[9], 9);
    assert_int_equal(ev[0].bytes[10], 10);
    assert_int_equal(ev[0].bytes[11], 1);
    agent_midi_roll_free(&r);
}

/* The JACK transport: from bar 3 after a bar of count-off it rolls at the
 * first count-off click from bar 2's frame; from bar 1 at bar 1's downbeat
 * from frame 0. BBT with 1920 ticks a beat, in 6/8 too. */
static void test_transport_bbt(void **state)
{
    (void)state;
    const char *map = "countoff 1\nbar 1 4/4 q=120\nbar 3 6/8 e=240\n";
    agent_midi_roll_t *r = roll(map, 3, NULL);
    agent_midi_transport_t t;
    agent_midi_transport(r, 48000, &t);
    assert_int_equal(t.start_s, S0);
    assert_int_equal(t.frame, 120000); /* 6 eighths at 240 before bar 3 (4 s): 2.5 s */
    agent_midi_bbt_t b;
    agent_midi_bbt(r, 2250000000LL, &b); /* bar 2 beat 1 + an eighth */
    assert_int_equal(b.bar, 2);
    assert_int_equal(b.beat, 1);
    assert_int_equal(b.tick, 960);
    assert_true(b.beats_per_bar == 4 && b.beat_type == 4 && b.ticks_per_beat == 1920);
    assert_true(fabs(b.beats_per_minute - 120) < 1e-9);
    assert_true(fabs(b.bar_start_tick - 1920 * 4) < 1e-9);
    agent_midi_bbt(r, 4000000000LL + 3 * 250000000LL + 125000000LL, &b); /* bar 3 beat 4 + 1/2 */
    assert_int_equal(b.bar, 3);
    assert_int_equal(b.beat, 4);
    assert_int_equal(b.tick, 960);
    assert_true(b.beats_per_bar == 6 && b.beat_type == 8);
    assert_true(fabs(b.beats_per_minute - 240) < 1e-9);
    agent_midi_roll_free(&r);
    r = roll(map, 1, NULL);
    agent_midi_transport(r, 48000, &t);
    assert_int_equal(t.start_s, S0 + 2000000000LL);
    assert_int_equal(t.frame, 0);
    agent_midi_roll_free(&r);
}

/* Events asked for in windows (as the JACK callback does, period by
 * period) are the ones asked for at once. */
static void test_windows_match(void **state)
{
    (void)state;
    agent_midi_roll_t *r =
        roll("fps 29.97df\nstart 00:59:58;00\ncountoff 2\nbar 1 4/4 q=92\nbar 9 3/4\n"
             "bar 11 q=92\nbar 13 4/4\nbar 15 q=104 ramp\n",
             7, NULL);
    agent_midi_roll_set_stop(r, S0 + 9000000000LL);
    int kinds = AGENT_MIDI_MTC | AGENT_MIDI_CLOCK | AGENT_MIDI_MMC;
    int n = all(r, kinds, 20000000000LL);
    static agent_midi_event_t w[MAXEV];
    int k = 0;
    for (int64_t a = S0 - 1000000000LL; a < S0 + 20000000000LL; a += 5333333)
        k += agent_midi_events(r, kinds, a, a + 5333333, &w[k], MAXEV - k);
    assert_int_equal(k, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(w[i].s, ev[i].s);
        assert_int_equal(w[i].len, ev[i].len);
        assert_memory_equal(w[i].bytes, ev[i].bytes, (size_t)ev[i].len);
        if (i)
            assert_true(ev[i].s > ev[i - 1].s ||
                        (ev[i].s == ev[i - 1].s && ev[i].order > ev[i - 1].order));
    }
    agent_midi_roll_free(&r);
}

static void test_outputs(void **state)
{
    (void)state;
    agent_midi_outputs_t o = {0};
    char why[TT_WHY_LEN];
    assert_int_equal(agent_midi_outputs_add(&o, "mtc:mtc", why), 0);
    assert_int_equal(agent_midi_outputs_add(&o, "sync:mtc+mmc", why), 0);
    assert_int_equal(agent_midi_outputs_add(&o, "clk:clock", why), 0);
    assert_int_equal(o.n, 3);
    assert_int_equal(o.kinds[1], AGENT_MIDI_MTC | AGENT_MIDI_MMC);
    assert_string_equal(o.name[2], "clk");
    assert_int_equal(agent_midi_outputs_add(&o, "clk:mtc", why), TT_ERR_INVALID);
    assert_int_equal(agent_midi_outputs_add(&o, "x:ltc", why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "mtc, clock or mmc"));
    assert_int_equal(agent_midi_outputs_add(&o, "x:mtc+", why), TT_ERR_INVALID);
    assert_int_equal(agent_midi_outputs_add(&o, "nocolon", why), TT_ERR_INVALID);
    assert_int_equal(agent_midi_outputs_add(&o, "a b:mtc", why), TT_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mtc_25),        cmocka_unit_test(test_mtc_2997df),
        cmocka_unit_test(test_mtc_rates),     cmocka_unit_test(test_mtc_countoff_continuous),
        cmocka_unit_test(test_clock_tempo),   cmocka_unit_test(test_spp_start_stop),
        cmocka_unit_test(test_clock_free),    cmocka_unit_test(test_mmc),
        cmocka_unit_test(test_transport_bbt), cmocka_unit_test(test_windows_match),
        cmocka_unit_test(test_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
