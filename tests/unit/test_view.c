/* test_view: the room display's documents (agent_view): a roll's beats in
 * session time with bar|beat, click and count-in, from bar 1 and from a
 * later bar, a pickup, a grouped meter, a stop, a window far into the
 * roll; visual markers; the map's changes as a musician reads them; the room's open
 * changes and the coordinator's absence; when the clock line is worth
 * sending again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_view.h"
#include "tt_error.h"
#include "tt_tempo.h"

#define S_NS 1000000000LL
#define START (1000 * S_NS) /* session time of the first count-in beat */

static const char *MAP = "countoff 1\nbar 1 4/4 q=120\nbar 5 3/4 q=96\nbar 7 6/8 in 2 q.=60\n"
                         "bar 9 q.=60 ramp\nbar 10 click off\n";

static json_t *roll_doc(const char *map, int32_t from_bar, int64_t stop, int64_t window_from,
                        int64_t *to)
{
    agent_view_roll_t in = {
        .cue = "1M1",
        .title = "Main Title",
        .take = 3,
        .map_text = map,
        .from_bar = from_bar,
        .start_session_ns = START,
        .stop_session_ns = stop,
        .window_from = window_from,
    };
    char why[TT_WHY_LEN];
    char *text = agent_view_roll_json(&in, to, why);
    if (!text)
        fail_msg("roll: %s", why);
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    free(text);
    assert_non_null(o);
    return o;
}

static int64_t beat_ns(json_t *beats, size_t i, int *bar, int *beat, int *flags)
{
    json_t *b = json_array_get(beats, i);
    assert_non_null(b);
    *bar = (int)json_integer_value(json_array_get(b, 1));
    *beat = (int)json_integer_value(json_array_get(b, 2));
    *flags = (int)json_integer_value(json_array_get(b, 3));
    return json_integer_value(json_array_get(b, 0));
}

static int64_t map_ns(const char *map, int32_t bar, int32_t beat)
{
    tt_tempo_map_t *m = tt_tempo_parse_text(map, strlen(map), NULL);
    assert_non_null(m);
    int64_t ns = tt_tempo_bbt_to_ns(m, (tt_bbt_t){bar, beat, 0});
    tt_tempo_destroy(&m);
    return ns;
}

/* From bar 1: four count-in beats, then every beat on the map's time from
 * the origin (start + count-in), bar|beat and the click as the map says. */
static void test_roll_from_bar_1(void **state)
{
    (void)state;
    int64_t to = 0;
    json_t *o = roll_doc(MAP, 1, INT64_MAX, START - 2 * S_NS, &to);
    assert_true(json_is_true(json_object_get(o, "active")));
    assert_string_equal(json_string_value(json_object_get(o, "cue")), "1M1");
    assert_int_equal(json_integer_value(json_object_get(o, "take")), 3);
    assert_int_equal(to, START - 2 * S_NS + AGENT_VIEW_AHEAD_NS);
    int64_t origin = START + 2 * S_NS;
    assert_int_equal(json_integer_value(json_object_get(o, "origin_ns")), origin);
    assert_int_equal(json_integer_value(json_object_get(o, "start_ns")), START);
    assert_true(json_is_null(json_object_get(o, "stop_ns")));
    json_t *ci = json_object_get(o, "countin");
    assert_int_equal(json_integer_value(json_object_get(ci, "beats")), 4);
    assert_int_equal(json_integer_value(json_object_get(ci, "per_bar")), 4);
    assert_int_equal(json_integer_value(json_object_get(ci, "beat_ns")), S_NS / 2);
    json_t *beats = json_object_get(o, "beats");
    int bar, beat, flags;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(beat_ns(beats, i, &bar, &beat, &flags), START + (int64_t)i * S_NS / 2);
        assert_int_equal(bar, 0);
        assert_int_equal(beat, (int)i + 1);
        assert_int_equal(flags, AGENT_VIEW_COUNTIN | AGENT_VIEW_CLICK |
                                    (i == 0 ? AGENT_VIEW_DOWNBEAT : 0));
    }
    /* Music: bars 1-4 of 4, 5-6 of 3, 7-8 of 6 (clicked on 1 and 4), 9 ramps. */
    size_t i = 4;
    for (int32_t b = 1; b <= 9; b++) {
        int32_t num = b <= 4 ? 4 : b <= 6 ? 3 : 6;
        for (int32_t k = 1; k <= num; k++, i++) {
            int64_t ns = beat_ns(beats, i, &bar, &beat, &flags);
            assert_int_equal(bar, b);
            assert_int_equal(beat, k);
            assert_int_equal(ns, origin + map_ns(MAP, b, k));
            int clicks = num != 6 || k == 1 || k == 4;
            assert_int_equal(flags,
                             (k == 1 ? AGENT_VIEW_DOWNBEAT : 0) | (clicks ? AGENT_VIEW_CLICK : 0));
        }
    }
    /* Bar 10 on: no click, the beats go on. */
    beat_ns(beats, i, &bar, &beat, &flags);
    assert_int_equal(bar, 10);
    assert_int_equal(flags, AGENT_VIEW_DOWNBEAT);
    /* The changes, in session time, as a musician reads them. */
    json_t *ch = json_object_get(o, "changes");
    assert_int_equal(json_array_size(ch), 4);
    const char *want[] = {"3/4 q=96", "6/8 in 2 q.=60", "q.=60 (ramp)", "click off"};
    const int bars[] = {5, 7, 9, 10};
    for (size_t c = 0; c < 4; c++) {
        json_t *e = json_array_get(ch, c);
        assert_int_equal(json_integer_value(json_array_get(e, 0)),
                         origin + map_ns(MAP, bars[c], 1));
        assert_int_equal(json_integer_value(json_array_get(e, 1)), bars[c]);
        assert_string_equal(json_string_value(json_array_get(e, 2)), want[c]);
    }
    json_t *tc = json_object_get(o, "tc");
    assert_int_equal(json_integer_value(json_object_get(tc, "nominal")), 24);
    assert_false(json_is_true(json_object_get(tc, "drop")));
    json_decref(o);
}

/* From bar 6: the count-in is in bar 6's 3/4 and tempo, music starts at
 * bar 6 beat 1 at the origin; the change at bar 5 is behind. */
static void test_roll_from_later_bar(void **state)
{
    (void)state;
    json_t *o = roll_doc(MAP, 6, INT64_MAX, START - 2 * S_NS, NULL);
    int64_t beat = 625000000; /* q=96 */
    int64_t origin = START + 3 * beat;
    assert_int_equal(json_integer_value(json_object_get(o, "origin_ns")), origin);
    assert_int_equal(json_integer_value(json_object_get(o, "c_from_ns")), map_ns(MAP, 6, 1));
    json_t *beats = json_object_get(o, "beats");
    int bar, bt, flags;
    assert_int_equal(beat_ns(beats, 0, &bar, &bt, &flags), START);
    assert_int_equal(bar, 5);
    assert_int_equal(bt, 1);
    assert_int_equal(beat_ns(beats, 3, &bar, &bt, &flags), origin);
    assert_int_equal(bar, 6);
    assert_int_equal(flags, AGENT_VIEW_DOWNBEAT | AGENT_VIEW_CLICK);
    json_t *ch = json_object_get(o, "changes");
    assert_int_equal(json_integer_value(json_array_get(json_array_get(ch, 0), 1)), 7);
    json_decref(o);
}

/* A pickup beat closes the lead-in as music, not count-in. */
static void test_pickup(void **state)
{
    (void)state;
    const char *map = "countoff 1\npickup 1\nbar 1 4/4 q=120\n";
    json_t *o = roll_doc(map, 1, INT64_MAX, START - 2 * S_NS, NULL);
    json_t *ci = json_object_get(o, "countin");
    assert_int_equal(json_integer_value(json_object_get(ci, "beats")), 3);
    assert_int_equal(json_integer_value(json_object_get(ci, "pickup")), 1);
    json_t *beats = json_object_get(o, "beats");
    int bar, beat, flags;
    beat_ns(beats, 2, &bar, &beat, &flags);
    assert_true(flags & AGENT_VIEW_COUNTIN);
    beat_ns(beats, 3, &bar, &beat, &flags);
    assert_int_equal(bar, 0);
    assert_int_equal(beat, 4);
    assert_int_equal(flags, AGENT_VIEW_PICKUP | AGENT_VIEW_CLICK);
    json_decref(o);
}

/* A stop ends the beats and the changes; a window far into a roll starts
 * there and says where it ends. */
static void test_stop_and_window(void **state)
{
    (void)state;
    int64_t origin = START + 2 * S_NS;
    int64_t stop = origin + 5 * S_NS; /* bar 3 beat 3 */
    json_t *o = roll_doc(MAP, 1, stop, START - 2 * S_NS, NULL);
    assert_int_equal(json_integer_value(json_object_get(o, "stop_ns")), stop);
    json_t *beats = json_object_get(o, "beats");
    int bar, beat, flags;
    size_t n = json_array_size(beats);
    assert_int_equal(n, 4 + 10);
    assert_true(beat_ns(beats, n - 1, &bar, &beat, &flags) < stop);
    assert_int_equal(bar, 3);
    assert_int_equal(beat, 2);
    assert_int_equal(json_array_size(json_object_get(o, "changes")), 0);
    json_decref(o);

    const char *steady = "bar 1 4/4 q=120\n";
    int64_t from = START + 3600 * S_NS, to = 0;
    o = roll_doc(steady, 1, INT64_MAX, from, &to);
    assert_int_equal(to, from + AGENT_VIEW_AHEAD_NS);
    beats = json_object_get(o, "beats");
    int64_t first = beat_ns(beats, 0, &bar, &beat, &flags);
    assert_true(first >= from && first < from + S_NS / 2);
    assert_int_equal(bar, 1 + 3600 / 2);
    assert_int_equal(json_array_size(beats), AGENT_VIEW_AHEAD_NS / (S_NS / 2) + 1);
    json_decref(o);
}

/* Visual markers in session time: a streamer with where it starts, a
 * flutter's flashes around its instant, a hit's name, colors; one before
 * a later from-bar's lead-in is left out. */
static void test_visuals(void **state)
{
    (void)state;
    const char *map = "countoff 1\nbar 1 4/4 q=120\nbar 5 3/4 q=96\n"
                      "streamer at 5.1 len 2s\nwarning at 7.1 len 1b\nhit at 8.1 \"door slam\"\n"
                      "flutter at 9.2 flashes 3\npunch at 2.1 color #ff8800\nmarker 3.1.0 Door\n";
    json_t *o = roll_doc(map, 1, INT64_MAX, START - 2 * S_NS, NULL);
    int64_t origin = START + 2 * S_NS;
    json_t *mk = json_object_get(o, "markers");
    assert_int_equal(json_array_size(mk), 6);
    const char *kinds[] = {"punch", "streamer", "warning", "hit", "flutter", "marker"};
    const int64_t at[] = {2 * S_NS,
                          8 * S_NS,
                          8 * S_NS + 3750000000LL,
                          8 * S_NS + 5625000000LL,
                          8 * S_NS + 8125000000LL,
                          4 * S_NS};
    for (size_t i = 0; i < 6; i++) {
        json_t *m = json_array_get(mk, i);
        assert_string_equal(json_string_value(json_object_get(m, "kind")), kinds[i]);
        assert_int_equal(json_integer_value(json_object_get(m, "ns")), origin + at[i]);
    }
    json_t *punch = json_array_get(mk, 0), *streamer = json_array_get(mk, 1);
    assert_string_equal(json_string_value(json_object_get(punch, "rgb")), "#ff8800");
    assert_int_equal(json_integer_value(json_object_get(streamer, "start_ns")), origin + 6 * S_NS);
    assert_string_equal(json_string_value(json_object_get(streamer, "color")), "green");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(mk, 2), "start_ns")),
                     origin + 8 * S_NS + 3750000000LL - 625000000LL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(mk, 3), "name")),
                        "door slam");
    json_t *flashes = json_object_get(json_array_get(mk, 4), "flashes");
    assert_int_equal(json_array_size(flashes), 3);
    for (int k = 0; k < 3; k++)
        assert_int_equal(json_integer_value(json_array_get(flashes, (size_t)k)),
                         origin + 8 * S_NS + 8125000000LL + (k - 1) * AGENT_VIEW_FLUTTER_GAP_NS);
    json_decref(o);
    /* From bar 6 (its lead-in is bar 5) the punch and the named marker are
     * behind; the streamer into bar 5 ends on the first lead-in beat. */
    o = roll_doc(map, 6, INT64_MAX, START - 2 * S_NS, NULL);
    mk = json_object_get(o, "markers");
    assert_int_equal(json_array_size(mk), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(mk, 0), "kind")),
                        "streamer");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(mk, 0), "ns")), START);
    json_decref(o);
}

/* The room: this room's open changes only, the coordinator's absence. */
static void test_room(void **state)
{
    (void)state;
    tt_session_t st;
    tt_session_init(&st);
    char *stage_acked[] = {"stage"};
    tt_session_change_t changes[2] = {
        {.id = 7, .cue = "1M1", .text = "bar 3: horns tacet", .acked = stage_acked, .n_acked = 1},
        {.id = 9, .cue = "1M2", .text = "bars 12-16: con sord."},
    };
    st.changes = changes;
    st.n_changes = 2;
    st.last_seq = 12;
    st.transport.phase = TT_PHASE_ARMED;
    snprintf(st.transport.cue, sizeof st.transport.cue, "1M2");
    agent_view_room_t in = {.room = "stage",
                            .session = &st,
                            .coordinator_online = 0,
                            .offline_since_unix_ns = 1700000000123456789LL};
    char why[TT_WHY_LEN];
    char *text = agent_view_room_json(&in, why);
    assert_non_null(text);
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    assert_string_equal(json_string_value(json_object_get(o, "phase")), "armed");
    assert_string_equal(json_string_value(json_object_get(o, "cue")), "1M2");
    json_t *co = json_object_get(o, "coordinator");
    assert_false(json_is_true(json_object_get(co, "online")));
    assert_int_equal(json_integer_value(json_object_get(co, "since_unix_ms")), 1700000000123LL);
    json_t *open = json_object_get(o, "changes");
    assert_int_equal(json_array_size(open), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(open, 0), "id")), 9);
    json_decref(o);
    /* Another room has acked neither. */
    in.room = "london-strings";
    in.coordinator_online = 1;
    text = agent_view_room_json(&in, why);
    o = json_loads(text, 0, NULL);
    free(text);
    assert_int_equal(json_array_size(json_object_get(o, "changes")), 2);
    assert_true(json_is_null(json_object_get(json_object_get(o, "coordinator"), "since_unix_ms")));
    json_decref(o);
    st.changes = NULL; /* the test's, not the state's */
    st.n_changes = 0;
    tt_session_clear(&st);
}

/* The clock line goes again when it moved by more than 100 us now or 5 s
 * on, or its state changed; not for less. */
static void test_clock_moved(void **state)
{
    (void)state;
    tt_clock_map_t a = {
        .local_ref = 5 * S_NS, .session_ref = 7 * S_NS, .rate = 1.0, .state = 1, .valid = 1};
    tt_clock_map_t b = a;
    assert_false(agent_view_clock_moved(&a, &b, 6 * S_NS));
    b.session_ref += 90000;
    assert_false(agent_view_clock_moved(&a, &b, 6 * S_NS));
    b.session_ref += 20000;
    assert_true(agent_view_clock_moved(&a, &b, 6 * S_NS));
    b = a;
    b.rate = 1.0 + 15e-6; /* 15 ppm: 75 us in 5 s */
    assert_false(agent_view_clock_moved(&a, &b, 5 * S_NS));
    b.rate = 1.0 + 25e-6; /* 125 us in 5 s */
    assert_true(agent_view_clock_moved(&a, &b, 5 * S_NS));
    b = a;
    b.state = 2; /* holdover */
    assert_true(agent_view_clock_moved(&a, &b, 5 * S_NS));
    char why[TT_WHY_LEN];
    char *text = agent_view_clock_json(&b, -1, why);
    json_t *o = json_loads(text, 0, NULL);
    free(text);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "holdover");
    assert_int_equal(json_integer_value(json_object_get(o, "local_ref_ns")), 5 * S_NS);
    assert_true(json_is_null(json_object_get(o, "error_bound_us")));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roll_from_bar_1),
        cmocka_unit_test(test_roll_from_later_bar),
        cmocka_unit_test(test_pickup),
        cmocka_unit_test(test_stop_and_window),
        cmocka_unit_test(test_visuals),
        cmocka_unit_test(test_room),
        cmocka_unit_test(test_clock_moved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
