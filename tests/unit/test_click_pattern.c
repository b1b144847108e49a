/* test_click_pattern: which clicks each click feed plays (agent_click_pattern)
 * for a map with a count-off, a grouped meter, a subdivision, meter and
 * tempo changes; the "subdivide N" statement's round trip; --click
 * NAME:PATTERN parsing.
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

#include "agent_click_pattern.h"
#include "tt_error.h"

/* 1 bar of count-off at 120; bar 2 in 6/8 in 2 at a dotted quarter a
 * second; bar 3 back to 4/4 at 120 in eighths; bar 4 3/4 (no tempo
 * change); bar 5 at 60; the end is bar 5. Tempo changes in bars 2, 3, 5:
 * the warning feed clicks in bars 1, 2 and 4. */
static const char *MAP = "countoff 1\nend 5\nbar 1 4/4 q=120\nbar 2 6/8 in 2 q.=60\n"
                         "bar 3 4/4 q=120 subdivide 2\nbar 4 3/4 subdivide 1\nbar 5 q=60\n";

static tt_tempo_map_t *load(void)
{
    char why[TT_WHY_LEN];
    tt_tempo_map_t *m = tt_tempo_parse_text(MAP, strlen(MAP), why);
    if (!m)
        fail_msg("map: %s", why);
    return m;
}

/* The cue's events as "T:S" (seconds to 3 places, sound letter). */
static const char letters[] = "AbCcsWw";

static void cue(const tt_tempo_map_t *m, agent_pattern_t p, char *out, size_t room)
{
    agent_click_event_t ev;
    size_t len = 0;
    out[0] = '\0';
    for (int64_t t = 0; agent_click_pattern_next(m, p, t, INT64_MAX, &ev) == 0 && len + 16 < room;
         t = ev.ns + 1)
        len += (size_t)snprintf(out + len, room - len, "%s%.3f%c", len ? " " : "",
                                (double)ev.ns / 1e9, letters[ev.sound]);
}

static void lead_in(const tt_tempo_map_t *m, int32_t bar, agent_pattern_t p, char *out, size_t room)
{
    tt_tempo_countoff_t co;
    tt_tempo_countoff(m, bar, &co);
    agent_click_event_t ev;
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < co.beats; i++)
        if (agent_click_pattern_lead_in(p, &co, i, &ev)) {
            len += (size_t)snprintf(out + len, room - len, "%s%.3f%c", len ? " " : "",
                                    (double)ev.ns / 1e9, letters[ev.sound]);
            if (ev.sound == AGENT_SOUND_WORD)
                len += (size_t)snprintf(out + len, room - len, "%d", ev.word);
        }
}

static void test_cue_patterns(void **state)
{
    (void)state;
    tt_tempo_map_t *m = load();
    char got[2048];
    const char *conductor = "0.000A 0.500b 1.000b 1.500b 2.000A 3.000b 4.000A 4.500b 5.000b "
                            "5.500b 6.000A 6.500b 7.000b 7.500A 8.500b 9.500b";
    cue(m, AGENT_PATTERN_CONDUCTOR, got, sizeof got);
    assert_string_equal(got, conductor);
    cue(m, AGENT_PATTERN_CLICK, got, sizeof got); /* today's click: the same in the cue */
    assert_string_equal(got, conductor);
    cue(m, AGENT_PATTERN_PLAYERS, got, sizeof got);
    assert_string_equal(got, "0.000A 0.500b 1.000b 1.500b 2.000A 2.333b 2.667b 3.000b 3.333b "
                             "3.667b 4.000A 4.250s 4.500b 4.750s 5.000b 5.250s 5.500b 5.750s "
                             "6.000A 6.500b 7.000b 7.500A 8.500b 9.500b");
    cue(m, AGENT_PATTERN_WARNING, got, sizeof got);
    assert_string_equal(got, "0.000W 0.500W 1.000W 1.500W 2.000W 3.000W 6.000W 6.500W 7.000W");
    cue(m, AGENT_PATTERN_COUNT, got, sizeof got);
    assert_string_equal(got, "");
    /* The span bounds the search: nothing in [3.1 s, 6 s) for the warning. */
    agent_click_event_t ev;
    assert_int_equal(
        agent_click_pattern_next(m, AGENT_PATTERN_WARNING, 3100000000LL, 6000000000LL, &ev),
        TT_ERR_NOTFOUND);
    assert_int_equal(
        agent_click_pattern_next(m, AGENT_PATTERN_PLAYERS, 4100000000LL, INT64_MAX, &ev), 0);
    assert_int_equal(ev.ns, 4250000000LL);
    assert_int_equal(ev.sound, AGENT_SOUND_SUB);
    tt_tempo_destroy(&m);
}

static void test_lead_in_patterns(void **state)
{
    (void)state;
    tt_tempo_map_t *m = load();
    char got[1024];
    lead_in(m, 1, AGENT_PATTERN_CLICK, got, sizeof got);
    assert_string_equal(got, "-2.000C -1.500c -1.000c -0.500c");
    lead_in(m, 1, AGENT_PATTERN_CONDUCTOR, got, sizeof got);
    assert_string_equal(got, "-2.000A -1.500b -1.000b -0.500b");
    lead_in(m, 1, AGENT_PATTERN_PLAYERS, got, sizeof got);
    assert_string_equal(got, "-2.000C -1.500c -1.000c -0.500c");
    lead_in(m, 1, AGENT_PATTERN_WARNING, got, sizeof got);
    assert_string_equal(got, "-2.000W -1.500W -1.000W -0.500W");
    lead_in(m, 1, AGENT_PATTERN_COUNT, got, sizeof got);
    assert_string_equal(got, "-2.000w1 -1.500w2 -1.000w3 -0.500w4");
    /* Into bar 2, 6/8 in 2: the count says "one, two" on the groups, the
     * players hear all six eighths. */
    lead_in(m, 2, AGENT_PATTERN_COUNT, got, sizeof got);
    assert_string_equal(got, "-2.000w1 -1.000w2");
    lead_in(m, 2, AGENT_PATTERN_CONDUCTOR, got, sizeof got);
    assert_string_equal(got, "-2.000A -1.000b");
    lead_in(m, 2, AGENT_PATTERN_PLAYERS, got, sizeof got);
    assert_string_equal(got, "-2.000C -1.667c -1.333c -1.000c -0.667c -0.333c");
    tt_tempo_destroy(&m);
}

static void test_pickup_not_counted(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    const char *text = "countoff 1\npickup 1\nbar 1 3/4 q=60\n";
    tt_tempo_map_t *m = tt_tempo_parse_text(text, strlen(text), why);
    assert_non_null(m);
    char got[256];
    lead_in(m, 1, AGENT_PATTERN_COUNT, got, sizeof got);
    assert_string_equal(got, "-3.000w1 -2.000w2"); /* the pickup beat is music */
    lead_in(m, 1, AGENT_PATTERN_CLICK, got, sizeof got);
    assert_string_equal(got, "-3.000C -2.000c -1.000b");
    tt_tempo_destroy(&m);
}

static void test_subdivide_round_trip(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    tt_tempo_map_t *m = load();
    char *text;
    assert_int_equal(tt_tempo_format_text(m, &text, why), 0);
    assert_non_null(strstr(text, "bar 3 4/4 q=120 subdivide 2\nbar 4 3/4 subdivide 1\n"));
    tt_tempo_map_t *b = tt_tempo_parse_text(text, strlen(text), why);
    assert_non_null(b);
    assert_true(tt_tempo_equal(m, b));
    assert_int_equal(tt_tempo_subdivide_at(b, 2), 1);
    assert_int_equal(tt_tempo_subdivide_at(b, 3), 2);
    assert_int_equal(tt_tempo_subdivide_at(b, 4), 1);
    tt_tempo_change_t c;
    assert_int_equal(tt_tempo_change(b, 2, &c), 0);
    assert_int_equal(c.pos.bar, 3);
    assert_int_equal(c.subdivide, 2);
    free(text);
    tt_tempo_destroy(&b);
    /* A different subdivision is a different map. */
    const char *other = "countoff 1\nend 5\nbar 1 4/4 q=120\nbar 2 6/8 in 2 q.=60\n"
                        "bar 3 4/4 q=120 subdivide 3\nbar 4 3/4 subdivide 1\nbar 5 q=60\n";
    b = tt_tempo_parse_text(other, strlen(other), why);
    assert_non_null(b);
    assert_false(tt_tempo_equal(m, b));
    tt_tempo_destroy(&b);
    const char *bad = "bar 1 4/4 q=120\nbar 2 subdivide 7\n";
    assert_null(tt_tempo_parse_text(bad, strlen(bad), why));
    assert_non_null(strstr(why, "line 2"));
    assert_non_null(strstr(why, "subdivision"));
    tt_tempo_destroy(&m);
}

static void test_outputs_parse(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    agent_click_outputs_t o = {0};
    assert_int_equal(agent_click_outputs_add(&o, "cond:conductor", why), 0);
    assert_int_equal(agent_click_outputs_add(&o, "band:players", why), 0);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.name[1], "band");
    assert_int_equal(o.pattern[1], AGENT_PATTERN_PLAYERS);
    assert_int_equal(agent_click_outputs_add(&o, "x:polka", why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "no click pattern \"polka\""));
    assert_non_null(strstr(why, "conductor"));
    assert_int_equal(agent_click_outputs_add(&o, "cond:warning", why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "twice"));
    assert_int_equal(agent_click_outputs_add(&o, "players", why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "NAME:PATTERN"));
    assert_int_equal(agent_click_outputs_add(&o, "a b:count", why), TT_ERR_INVALID);
    assert_int_equal(agent_click_outputs_add(&o, "ltc:count", why), TT_ERR_INVALID);
    for (int i = 2; i < AGENT_CLICK_MAX_FEEDS; i++) {
        char arg[32];
        snprintf(arg, sizeof arg, "o%d:count", i);
        assert_int_equal(agent_click_outputs_add(&o, arg, why), 0);
    }
    assert_int_equal(agent_click_outputs_add(&o, "one-more:count", why), TT_ERR_TOO_BIG);
    assert_true(agent_click_outputs_use(&o, AGENT_PATTERN_COUNT));
    assert_false(agent_click_outputs_use(&o, AGENT_PATTERN_WARNING));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cue_patterns),       cmocka_unit_test(test_lead_in_patterns),
        cmocka_unit_test(test_pickup_not_counted), cmocka_unit_test(test_subdivide_round_trip),
        cmocka_unit_test(test_outputs_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
