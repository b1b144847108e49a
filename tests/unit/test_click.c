/* test_click: the room agent's click renderer (agents/room/agent_click.c)
 * follows what the tempo map says about the click: a lead-in counted off in
 * the first bar's meter, a meter clicked in groups, a click-off section
 * (silent while the map runs on) and the end bar (no click after it). The
 * roll is rendered at 48 kHz on an exact clock, block by block, and every
 * click's first sample and kind are read back from the audio. Several
 * feeds rendered at once each play their own pattern, on the samples the
 * default click uses.
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

#include "agent_click.h"
#include "tt_error.h"

#define RATE 48000
#define BLOCK 512

typedef struct {
    int64_t sample;
    float peak; /* its largest sample in the first 60: its amplitude, within 4 % */
} onset_t;

/* Renders the roll from session time 0 for `seconds` and lists the click
 * onsets: the first non-zero sample after at least 5 ms of silence. */
static size_t render(const char *map, int32_t from_bar, int64_t start_ns, double seconds,
                     onset_t *out, size_t cap)
{
    char why[TT_WHY_LEN];
    agent_click_t c;
    agent_click_init(&c, RATE);
    agent_click_roll_t *roll = agent_click_roll_new(map, from_bar, start_ns, RATE, why);
    if (!roll)
        fail_msg("roll: %s", why);
    assert_null(agent_click_set_roll(&c, roll));
    tt_clock_map_t m = {.local_ref = 0, .session_ref = 0, .rate = 1.0, .valid = 1};
    static float click[BLOCK], ltc[BLOCK];
    size_t n = 0;
    int64_t quiet = RATE;
    for (int64_t s0 = 0; s0 < (int64_t)(seconds * RATE); s0 += BLOCK) {
        agent_click_clock_t k = {.s0 = s0,
                                 .local0 =
                                     s0 * (1000000000 / RATE) + (s0 * (1000000000 % RATE)) / RATE,
                                 .ns_per_sample = 1e9 / RATE};
        agent_click_render(&c, &m, &k, click, ltc, BLOCK);
        for (int i = 0; i < BLOCK; i++) {
            if (click[i] != 0.0f && quiet >= RATE / 200 && n < cap)
                out[n++] = (onset_t){s0 + i, 0.0f};
            if (n && s0 + i - out[n - 1].sample < 60 && fabsf(click[i]) > out[n - 1].peak)
                out[n - 1].peak = fabsf(click[i]);
            quiet = click[i] == 0.0f ? quiet + 1 : 0;
        }
    }
    agent_click_roll_t *old = agent_click_set_roll(&c, NULL);
    agent_click_roll_free(&old);
    return n;
}

/* Click kinds by their amplitude (the renderer's 0.9, 0.8, 0.6, 0.55; the
 * peak may lie a little into the decay). */
static char kind(float peak)
{
    return peak >= 0.84f ? 'A' : peak >= 0.69f ? 'C' : peak >= 0.565f ? 'b' : 'c';
}

static void expect(const onset_t *got, size_t n, const double *at, const char *kinds)
{
    size_t want = strlen(kinds);
    char list[1024];
    size_t len = 0;
    for (size_t i = 0; i < n && len + 32 < sizeof list; i++)
        len +=
            (size_t)snprintf(list + len, sizeof list - len, " %.4f%c(%.3f)",
                             (double)got[i].sample / RATE, kind(got[i].peak), (double)got[i].peak);
    if (n != want)
        fail_msg("%zu clicks, expected %zu:%s", n, want, list);
    for (size_t i = 0; i < n; i++)
        if (llabs(got[i].sample - (int64_t)llround(at[i] * RATE)) > 1 ||
            kind(got[i].peak) != kinds[i])
            fail_msg("click %zu: %.4f s %c, expected %.4f s %c:%s", i, (double)got[i].sample / RATE,
                     kind(got[i].peak), at[i], kinds[i], list);
}

static void test_click_off_groups_end(void **state)
{
    (void)state;
    /* Count-off 1 bar of 4/4 at 120 from 1 s; bar 1 at 3 s; bar 2 in 6/8
     * in 2 at a dotted quarter a second (two clicks); bar 3 click off (the
     * map runs on: 2 s); bar 4 clicks again; the end is bar 4, so bar 5
     * (from 11 s) is silent. */
    const char *map = "countoff 1\nend 4\nbar 1 4/4 q=120\nbar 2 6/8 in 2 q.=60\n"
                      "bar 3 4/4 q=120 click off\nbar 4 click on\n";
    onset_t got[64];
    size_t n = render(map, 1, 1000000000, 13.0, got, 64);
    static const double at[] = {1.0, 1.5, 2.0, 2.5, 3.0, 3.5,  4.0,
                                4.5, 5.0, 6.0, 9.0, 9.5, 10.0, 10.5};
    expect(got, n, at, "CcccAbbbAbAbbb");
}

static void test_pickup_and_free_time(void **state)
{
    (void)state;
    /* A 1-beat pickup counted into: 1 bar of 3/4 at 60 from 1 s, its last
     * beat the pickup (a music click), bar 1 at 4 s; bar 2 is free until
     * bar 3 at 00:00:08:00 (silent), bar 3 resumes at 60. */
    const char *map = "countoff 1\npickup 1\nbar 1 3/4 q=60\n"
                      "bar 2 free until 3 at 00:00:08:00\n";
    onset_t got[64];
    size_t n = render(map, 1, 1000000000, 14.5, got, 64);
    static const double at[] = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 12.0, 13.0, 14.0};
    expect(got, n, at, "CcbAbbAbb");
}

/* Several feeds rendered at once: onsets per feed, found as render() does. */
static void render_feeds(const char *map, const agent_pattern_t *pats, int nf, double seconds,
                         onset_t (*out)[64], size_t *counts)
{
    char why[TT_WHY_LEN];
    agent_click_t c;
    agent_click_init(&c, RATE);
    agent_click_set_feeds(&c, pats, nf, NULL);
    agent_click_roll_t *roll = agent_click_roll_new(map, 1, 1000000000, RATE, why);
    if (!roll)
        fail_msg("roll: %s", why);
    assert_null(agent_click_set_roll(&c, roll));
    tt_clock_map_t m = {.local_ref = 0, .session_ref = 0, .rate = 1.0, .valid = 1};
    static float bufs[AGENT_CLICK_MAX_FEEDS][BLOCK], ltc[BLOCK];
    float *outs[AGENT_CLICK_MAX_FEEDS];
    int64_t quiet[AGENT_CLICK_MAX_FEEDS];
    for (int f = 0; f < nf; f++) {
        outs[f] = bufs[f];
        quiet[f] = RATE;
        counts[f] = 0;
    }
    for (int64_t s0 = 0; s0 < (int64_t)(seconds * RATE); s0 += BLOCK) {
        agent_click_clock_t k = {.s0 = s0,
                                 .local0 =
                                     s0 * (1000000000 / RATE) + (s0 * (1000000000 % RATE)) / RATE,
                                 .ns_per_sample = 1e9 / RATE};
        agent_click_render_feeds(&c, &m, &k, outs, ltc, BLOCK);
        for (int f = 0; f < nf; f++)
            for (int i = 0; i < BLOCK; i++) {
                size_t *n = &counts[f];
                if (bufs[f][i] != 0.0f && quiet[f] >= RATE / 200 && *n < 64)
                    out[f][(*n)++] = (onset_t){s0 + i, 0.0f};
                if (*n && s0 + i - out[f][*n - 1].sample < 60 &&
                    fabsf(bufs[f][i]) > out[f][*n - 1].peak)
                    out[f][*n - 1].peak = fabsf(bufs[f][i]);
                quiet[f] = bufs[f][i] == 0.0f ? quiet[f] + 1 : 0;
            }
    }
    agent_click_roll_t *old = agent_click_set_roll(&c, NULL);
    agent_click_roll_free(&old);
}

static int has_sample(const onset_t *o, size_t n, int64_t sample)
{
    for (size_t i = 0; i < n; i++)
        if (o[i].sample == sample)
            return 1;
    return 0;
}

static void test_feeds(void **state)
{
    (void)state;
    /* Count-off 1 bar of 4/4 at 120 from 1 s; bar 1 at 3 s; bar 2 6/8 in 2
     * at a dotted quarter a second (a tempo change: bar 1 warns); bar 3 4/4
     * at 120 in eighths (bar 2 warns); the end is bar 3. */
    const char *map = "countoff 1\nend 3\nbar 1 4/4 q=120\nbar 2 6/8 in 2 q.=60\n"
                      "bar 3 4/4 q=120 subdivide 2\n";
    onset_t alone[64];
    size_t n_alone = render(map, 1, 1000000000, 9.5, alone, 64);
    static const agent_pattern_t pats[] = {AGENT_PATTERN_CLICK, AGENT_PATTERN_PLAYERS,
                                           AGENT_PATTERN_WARNING, AGENT_PATTERN_COUNT};
    static onset_t got[4][64];
    size_t n[4];
    render_feeds(map, pats, 4, 9.5, got, n);
    /* Feed 0 is today's click, sample for sample and kind for kind. */
    static const double at[] = {1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0,
                                4.5, 5.0, 6.0, 7.0, 7.5, 8.0, 8.5};
    expect(alone, n_alone, at, "CcccAbbbAbAbbb");
    expect(got[0], n[0], at, "CcccAbbbAbAbbb");
    /* Players: every beat and eighth, on the default's samples where both click. */
    static const double players[] = {
        1.0, 1.5,           2.0,           2.5,  3.0,           3.5,           4.0, 4.5,
        5.0, 5.0 + 1.0 / 3, 5.0 + 2.0 / 3, 6.0,  6.0 + 1.0 / 3, 6.0 + 2.0 / 3, 7.0, 7.25,
        7.5, 7.75,          8.0,           8.25, 8.5,           8.75};
    assert_int_equal(n[1], sizeof players / sizeof *players);
    for (size_t i = 0; i < n[1]; i++)
        if (llabs(got[1][i].sample - (int64_t)llround(players[i] * RATE)) > 1)
            fail_msg("players click %zu at %.4f s, expected %.4f", i,
                     (double)got[1][i].sample / RATE, players[i]);
    for (size_t i = 0; i < n_alone; i++)
        assert_true(has_sample(got[1], n[1], alone[i].sample));
    /* Warning: the lead-in's bar and bars 1 and 2, on the default's samples. */
    static const double warn[] = {1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0};
    assert_int_equal(n[2], sizeof warn / sizeof *warn);
    for (size_t i = 0; i < n[2]; i++) {
        assert_int_equal(got[2][i].sample, alone[i].sample);
        assert_true(got[2][i].peak > 0.7f && got[2][i].peak < 0.8f); /* its own sound */
    }
    /* Count (no words loaded: tones): the four count-off beats only. */
    assert_int_equal(n[3], 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(got[3][i].sample, alone[i].sample);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_click_off_groups_end),
        cmocka_unit_test(test_pickup_and_free_time),
        cmocka_unit_test(test_feeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
