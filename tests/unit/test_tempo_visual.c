/* test_tempo_visual: a tempo map's visual markers (streamers, punches,
 * flutters, warnings, hits): each kind read from the text with its
 * defaults, the convention's default colors, instants through a tempo step
 * and a rit (hand-computed), free time, the errors (each naming its line),
 * the canonical text as a fixed point, the bounds, and the words an SMF
 * marker holds.
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
#include "tt_tempo_visual.h"

static tt_tempo_map_t *parse(const char *text)
{
    char why[TT_WHY_LEN] = "";
    tt_tempo_map_t *m = tt_tempo_parse_text(text, strlen(text), why);
    if (!m)
        fail_msg("parse failed: %s", why);
    return m;
}

static void assert_ns(int64_t got, int64_t want)
{
    if (llabs(got - want) > 1)
        fail_msg("got %lld ns, expected %lld", (long long)got, (long long)want);
}

static tt_visual_t visual(const tt_tempo_map_t *m, size_t i)
{
    tt_visual_t v;
    if (tt_tempo_visual(m, i, &v) != 0)
        fail_msg("no visual marker %zu", i);
    return v;
}

/* format(parse(text)) is want, and want is a fixed point. */
static void assert_canonical(const char *text, const char *want)
{
    char why[TT_WHY_LEN], *out = NULL, *again = NULL;
    tt_tempo_map_t *m = parse(text);
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_string_equal(out, want);
    tt_tempo_map_t *back = parse(out);
    assert_true(tt_tempo_equal(m, back));
    assert_int_equal(tt_tempo_format_text(back, &again, why), 0);
    assert_string_equal(again, out);
    free(again);
    free(out);
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);
}

/* Each kind, its defaults, and the canonical text. */
static void test_kinds(void **state)
{
    (void)state;
    tt_tempo_map_t *m = parse("bar 1 4/4 q=120\n"
                              "streamer at 5.1\n"
                              "punch at 5.1\n"
                              "flutter at 6.3\n"
                              "warning at 7.1 len 1.5s\n"
                              "hit at 8.2.480 \"door   slam\"\n"
                              "streamer at 9.1 len 2b color #FF8800 \"Titles\"\n");
    assert_int_equal(tt_tempo_visual_count(m), 6);
    tt_visual_t v = visual(m, 0);
    assert_int_equal(v.spec.kind, TT_VISUAL_STREAMER);
    assert_int_equal(v.spec.len_unit, TT_VISUAL_LEN_S);
    assert_int_equal(v.spec.len_milli, 2000); /* the default: 2 s */
    assert_int_equal(v.tick, 16 * 960);
    assert_ns(v.ns, 8000000000); /* 16 quarters at 120 */
    assert_ns(v.start_ns, 6000000000);
    assert_string_equal(v.color_text, "green"); /* into a downbeat */
    assert_true(v.color_default);
    v = visual(m, 1);
    assert_int_equal(v.spec.kind, TT_VISUAL_PUNCH);
    assert_ns(v.ns, 8000000000);
    assert_int_equal(v.start_ns, v.ns);
    assert_string_equal(v.color_text, "white");
    v = visual(m, 2);
    assert_int_equal(v.spec.kind, TT_VISUAL_FLUTTER);
    assert_int_equal(v.spec.flashes, 3);
    assert_ns(v.ns, 11000000000);
    v = visual(m, 3);
    assert_int_equal(v.spec.kind, TT_VISUAL_WARNING);
    assert_ns(v.start_ns, 12000000000 - 1500000000);
    assert_string_equal(v.color_text, "yellow");
    assert_int_equal(v.rgb, 0xffff00);
    v = visual(m, 4);
    assert_int_equal(v.spec.kind, TT_VISUAL_HIT);
    assert_string_equal(v.spec.name, "door slam");
    assert_ns(v.ns, 14000000000 + 500000000 + 250000000); /* 8.2.480: 1.5 quarters in */
    v = visual(m, 5);
    assert_int_equal(v.spec.len_unit, TT_VISUAL_LEN_BEATS);
    assert_ns(v.start_ns, 16000000000 - 1000000000); /* two beats at 120 */
    assert_int_equal(v.color, TT_COLOR_RGB);
    assert_int_equal(v.rgb, 0xff8800);
    assert_string_equal(v.color_text, "#ff8800");
    assert_false(v.color_default);
    assert_string_equal(v.spec.name, "Titles");
    tt_tempo_destroy(&m);

    assert_canonical("bar 1 4/4 q=120\n"
                     "hit at 8.2.480 \"door   slam\"   # a comment\n"
                     "streamer   at 5.1.0\n"
                     "flutter at 6.3 flashes 7 color red\n"
                     "warning at 7.1 len 1.5s\n"
                     "streamer at 9.1 len 2.250b color #FF8800 \"Titles\"\n"
                     "punch at 5.1 \"x\" # color #ff0000: a comment\n",
                     "fps 24\nstart 00:00:00:00\ncountoff 0\nbar 1 4/4 q=120\n"
                     "streamer at 5.1 len 2s\n"
                     "punch at 5.1 \"x\"\n"
                     "flutter at 6.3 flashes 7 color red\n"
                     "warning at 7.1 len 1.5s\n"
                     "hit at 8.2.480 \"door slam\"\n"
                     "streamer at 9.1 len 2.25b color #ff8800 \"Titles\"\n");
}

/* The convention: green into a downbeat, yellow into a warning (and a
 * warning itself), red into the last bar and the end; explicit wins. */
static void test_default_colors(void **state)
{
    (void)state;
    tt_tempo_map_t *m = parse("end 8\nbar 1 4/4 q=120\n"
                              "streamer at 3.1\n" /* downbeat: green */
                              "streamer at 3.3\n" /* off the downbeat: white */
                              "warning at 5.1\n"  /* yellow */
                              "streamer at 5.1\n" /* into the warning: yellow */
                              "streamer at 6.1 color blue\n"
                              "streamer at 8.1\n" /* the last bar: red */
                              "streamer at 8.3\n" /* red */
                              "streamer at 9.1\n" /* the end itself: red */
                              "punch at 9.1\n");  /* white */
    static const char *want[] = {"green", "white", "yellow", "yellow", "blue",
                                 "red",   "red",   "red",    "white"};
    assert_int_equal(tt_tempo_visual_count(m), 9);
    for (size_t i = 0; i < 9; i++) {
        tt_visual_t v = visual(m, i);
        if (strcmp(v.color_text, want[i]) != 0)
            fail_msg("visual %zu (%s at %d.%d): %s, expected %s", i,
                     tt_visual_kind_name(v.spec.kind), (int)v.spec.pos.bar, (int)v.spec.pos.beat,
                     v.color_text, want[i]);
    }
    assert_int_equal(visual(m, 5).rgb, 0xff0000);
    assert_int_equal(visual(m, 0).rgb, 0x00ff00);
    /* A later end bar changes the default, and an earlier one is refused. */
    assert_int_equal(tt_tempo_set_end(m, 20), 0);
    assert_string_equal(visual(m, 5).color_text, "green");
    assert_int_equal(tt_tempo_set_end(m, 7), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_end_bar(m), 20);
    tt_visual_t all[4];
    assert_int_equal(tt_tempo_visuals(m, all, 4), 9);
    assert_string_equal(all[3].color_text, "yellow");
    tt_tempo_destroy(&m);
}

/* Instants through a tempo step and a rit, hand-computed. */
static void test_instants(void **state)
{
    (void)state;
    /* 120 for two bars (4 s), then 60: bar 4 is at 8 s; two beats back at 60
     * is 6 s; 3 s back 5 s; a streamer over the step counts beats of both. */
    tt_tempo_map_t *m = parse("bar 1 4/4 q=120\nbar 3 q=60\n"
                              "streamer at 4.1 len 2b\nstreamer at 4.1 len 3s\n"
                              "streamer at 3.2 len 4b\n");
    assert_ns(visual(m, 1).ns, 8000000000);
    assert_ns(visual(m, 1).start_ns, 6000000000);
    assert_ns(visual(m, 2).start_ns, 5000000000);
    assert_ns(visual(m, 0).ns, 5000000000);
    assert_ns(visual(m, 0).start_ns, 5000000000 - 1000000000 - 1500000000); /* 1 at 60, 3 at 120 */
    tt_tempo_destroy(&m);

    /* A rit 120 -> 60 over 4 beats from bar 2: t(q) = -4 ln(1 - q/8) s. */
    m = parse("bar 1 4/4 q=120\nbar 2 rit q=60 over 4\n"
              "punch at 2.3\nhit at 3.1 \"cut\"\nstreamer at 3.1 len 2b\n");
    int64_t q2 = (int64_t)llroundl(-4e9L * logl(0.75L)), q4 = (int64_t)llroundl(-4e9L * logl(0.5L));
    assert_ns(visual(m, 0).ns, 2000000000 + q2);
    assert_ns(visual(m, 1).ns, 2000000000 + q4);
    assert_ns(visual(m, 2).ns, 2000000000 + q4);
    assert_ns(visual(m, 2).start_ns, 2000000000 + q2);
    tt_tempo_destroy(&m);

    /* 6/8: beats are eighths; bar 0 (before bar 1) is allowed. */
    m = parse("countoff 1\nbar 1 6/8 e=240\nstreamer at 0.4 len 1b\nflutter at 2.6.239\n");
    assert_ns(visual(m, 0).ns, -3 * 250000000);
    assert_ns(visual(m, 0).start_ns, -4 * 250000000);
    assert_ns(visual(m, 1).ns, INT64_C(11) * 250000000 + INT64_C(239) * 250000000 / 480);
    tt_tempo_destroy(&m);
}

/* Free time: its bar lines are exact, inside it is refused, and beats may
 * not count back into it. */
static void test_free_time(void **state)
{
    (void)state;
    const char *base = "bar 1 4/4 q=120\nbar 3 free until 5 at 00:00:10:00\n";
    char text[512], why[TT_WHY_LEN];
    snprintf(text, sizeof text, "%sstreamer at 3.1\nstreamer at 5.1 len 3s\npunch at 5.1\n", base);
    tt_tempo_map_t *m = parse(text);
    assert_ns(visual(m, 0).ns, 4000000000);
    assert_ns(visual(m, 1).ns, 10000000000); /* the stated timecode */
    assert_ns(visual(m, 1).start_ns, 7000000000);
    tt_tempo_destroy(&m);
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"hit at 4.1 \"x\"\n", "line 3: hit at 4.1.0: inside free time (bars 3 to 4)"},
        {"punch at 3.1.1\n", "line 3: punch at 3.1.1: inside free time"},
        {"streamer at 5.1 len 2b\n", "line 3: streamer at 5.1.0: its beats count back into free"},
        {"warning at 6.1 len 5b\n", "line 3: warning at 6.1.0: its beats count back"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s", base, bad[i].line);
        m = tt_tempo_parse_text(text, strlen(text), why);
        if (m || !strstr(why, bad[i].want)) {
            tt_tempo_destroy(&m);
            fail_msg("case %zu: %s\n  want \"%s\", got \"%s\"", i, bad[i].line, bad[i].want, why);
        }
    }
}

/* Every error names its line. */
static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"bar 1 4/4 q=120\nstreamer at 2.1 color pink\n",
         "line 2: streamer: unknown color \"pink\""},
        {"bar 1 4/4 q=120\nstreamer at 2.1 color #ff88\n", "line 2: streamer: unknown color"},
        {"bar 1 4/4 q=120\nstreamer at 2.1 color\n", "line 2: streamer: unknown color \"\""},
        {"bar 1 4/4 q=120\nflutter at 2.1 flashes 4\n",
         "line 2: flutter: 4 flashes (1, 3, 5 or 7)"},
        {"bar 1 4/4 q=120\nflutter at 2.1 flashes 0\n", "line 2: flutter: 0 flashes"},
        {"bar 1 4/4 q=120\nflutter at 2.1 flashes x\n", "line 2: flutter: flashes \"x\""},
        {"bar 1 4/4 q=120\npunch at 2.1 flashes 3\n", "line 2: punch: only a flutter has flashes"},
        {"bar 1 4/4 q=120\nstreamer at 2.1 len 0s\n", "line 2: streamer: length must be over 0"},
        {"bar 1 4/4 q=120\nstreamer at 2.1 len 10.001s\n",
         "line 2: streamer: length 10.001 s is over 10"},
        {"bar 1 4/4 q=120\nstreamer at 5.1 len 21b\n",
         "line 2: streamer at 5.1.0: its 21 beats last 10.500 s"},
        {"bar 1 4/4 q=120\nstreamer at 2.1 len 3\n", "line 2: streamer: bad length \"3\""},
        {"bar 1 4/4 q=120\nstreamer at 2.1 len 1.2345s\n", "line 2: streamer: bad length"},
        {"bar 1 4/4 q=120\nstreamer at 2.1 len -1s\n", "line 2: streamer: bad length"},
        {"bar 1 4/4 q=120\npunch at 2.1 len 3s\n", "line 2: punch: only a streamer or a warning"},
        {"bar 1 4/4 q=120\nstreamer at 2.1 len 1s len 2s\n", "line 2: streamer: len given twice"},
        {"bar 1 4/4 q=120\nhit at 2.1\n", "line 2: hit: needs a name"},
        {"bar 1 4/4 q=120\nhit at 2.1 door\n", "line 2: hit: unexpected \"door\""},
        {"bar 1 4/4 q=120\nhit at 2.1 \"door slam\n", "line 2: name \"door slam: a name is quoted"},
        {"bar 1 4/4 q=120\nhit at 2.1 \"a\"b\"\n", "line 2: hit name: byte 0x22"},
        {"bar 1 4/4 q=120\nhit at 2.1 \"a\" \"b\"\n", "line 2: hit: two names"},
        {"bar 1 4/4 q=120\nhit at 2.1 \"\"\n", "line 2: an empty name"},
        {"bar 1 4/4 q=120\nhit at 2.1 \"a # b\"\n", "line 2: name \"a: a name is quoted"},
        {"bar 1 4/4 q=120\nhit at 2.1 \"a b c d e f g h i j k\"\n", "line 2: hit name: 11 words"},
        {"bar 1 4/4 q=120\nhit at 2.1 "
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
         "line 2: name \"aaaa"},
        {"bar 1 4/4 q=120\nstreamer 2.1\n", "line 2: write \"streamer at BAR.BEAT[.TICK] ...\""},
        {"bar 1 4/4 q=120\nstreamer at\n", "line 2: write \"streamer at"},
        {"bar 1 4/4 q=120\nstreamer at 2\n",
         "line 2: write \"streamer at BAR.BEAT[.TICK] ...\", e.g."},
        {"bar 1 4/4 q=120\nstreamer at -1.1\n", "line 2: write \"streamer at"},
        {"bar 1 4/4 q=120\nstreamer at 2.5\n", "line 2: streamer at 2.5.0: not in the bar (4/4"},
        {"bar 1 4/4 q=120\npunch at 2.1.960\n", "line 2: punch at 2.1.960: not in the bar"},
        {"bar 1 4/4 q=120\npunch at 1000001.1\n", "line 2: punch at 1000001.1.0: not in the bar"},
        {"end 8\nbar 1 4/4 q=120\npunch at 9.1.1\n",
         "line 3: punch at 9.1.1: after the end of the cue (bar 8 is the last"},
        {"bar 1 4/4 q=120\nstreamer at 2.1 loud\n",
         "line 2: streamer: unexpected \"loud\" (expected len, color"},
        {"bar 1 4/4 q=120\npunch at 2.1 color red color blue\n",
         "line 2: punch: color given twice"},
        {"bar 1 4/4 q=120\nStreamer at 2.1\n", "line 2: unknown keyword \"Streamer\""},
        {"bar 1 4/4 q=120\nstreamer at 2.1 \x01\n", "line 2: unexpected byte 0x01"},
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
}

/* Order: the map keeps them by position, ties in the order written, and
 * the builder refuses without changing the map. */
static void test_order_and_builder(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    assert_canonical("bar 1 4/4 q=120\nhit at 9.1 \"b\"\npunch at 3.1\nhit at 9.1 \"a\"\n"
                     "warning at 2.4\n",
                     "fps 24\nstart 00:00:00:00\ncountoff 0\nbar 1 4/4 q=120\n"
                     "warning at 2.4 len 2s\npunch at 3.1\nhit at 9.1 \"b\"\nhit at 9.1 \"a\"\n");
    tt_tempo_map_t *m = parse("bar 1 4/4 q=120\n");
    tt_visual_spec_t v = {.kind = TT_VISUAL_PUNCH, .pos = {2, 1, 0}, .color = TT_COLOR_DEFAULT};
    assert_int_equal(tt_tempo_add_visual(m, &v, why), 0);
    v.kind = 9;
    assert_int_equal(tt_tempo_add_visual(m, &v, why), TT_ERR_INVALID);
    v.kind = TT_VISUAL_STREAMER; /* no length */
    assert_int_equal(tt_tempo_add_visual(m, &v, why), TT_ERR_INVALID);
    v.len_unit = TT_VISUAL_LEN_S;
    v.len_milli = 3000;
    v.color = TT_COLOR_RED;
    v.rgb = 0x123456; /* only with TT_COLOR_RGB */
    assert_int_equal(tt_tempo_add_visual(m, &v, why), TT_ERR_INVALID);
    v.rgb = 0;
    v.pos.bar = -1;
    assert_int_equal(tt_tempo_add_visual(m, &v, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "before bar 0"));
    assert_int_equal(tt_tempo_visual_count(m), 1);
    v.pos.bar = 0;
    v.pos.beat = 4;
    assert_int_equal(tt_tempo_add_visual(m, &v, why), 0);
    assert_int_equal(visual(m, 0).spec.pos.bar, 0); /* before the punch at bar 2 */
    tt_visual_t out;
    assert_int_equal(tt_tempo_visual(m, 2, &out), TT_ERR_NOTFOUND);
    tt_tempo_destroy(&m);

    /* A frame rate that stretches a streamer in beats past 10 s is refused. */
    m = parse("fps 25\nbar 1 4/4 q=12-0\nstreamer at 20.1 len 20b\n"); /* 20 x 0.48 s */
    assert_int_equal(tt_tempo_set_start(m, 0, TT_FPS_23_976), TT_ERR_INVALID);
    assert_int_equal(tt_tempo_fps(m), TT_FPS_25);
    assert_int_equal(tt_tempo_set_start(m, 0, TT_FPS_30), 0); /* shorter */
    tt_tempo_destroy(&m);
}

/* 256 visual markers at most, each counting two events; the longest lines
 * still format under TT_TEMPO_MAX_TEXT with every other event at its most. */
static void test_bounds(void **state)
{
    (void)state;
    char why[TT_WHY_LEN], name[72];
    size_t cap = 256 * 1024, n = 0;
    char *big = malloc(cap);
    assert_non_null(big);
    memset(name, 'n', 64);
    name[64] = '\0';
    n += (size_t)snprintf(big + n, cap - n,
                          "fps 29.97ndf\nstart 23:59:59:29\ncountoff 8\n"
                          "pickup 31\nend 1000000\nbar 1 32/32 q=400\n");
    /* 1024 events: 2 above, 128 markers, 256 visuals (512), 382 tempos. */
    for (int i = 0; i < 382; i++)
        n += (size_t)snprintf(big + n, cap - n, "at %d.32.119 q=%d.123456789\n", 999000 + i,
                              300 + i % 2);
    for (int i = 0; i < 128; i++)
        n += (size_t)snprintf(big + n, cap - n, "marker 999999.%d.119 %s\n", i / 4 + 1, name);
    for (int i = 0; i < 256; i++)
        n += (size_t)snprintf(big + n, cap - n,
                              "streamer at 999999.%d.119 len 9.999s color magenta \"%s\"\n",
                              i / 8 + 1, name);
    tt_tempo_map_t *m = tt_tempo_parse_text(big, n, why);
    if (!m)
        fail_msg("the biggest map: %s", why);
    assert_int_equal(tt_tempo_visual_count(m), 256);
    char *out;
    assert_int_equal(tt_tempo_format_text(m, &out, why), 0);
    assert_true(strlen(out) <= TT_TEMPO_MAX_TEXT);
    tt_tempo_map_t *back = parse(out);
    assert_true(tt_tempo_equal(m, back));
    free(out);
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);
    /* One more visual is one too many for the events... */
    n += (size_t)snprintf(big + n, cap - n, "punch at 2.1\n");
    assert_null(tt_tempo_parse_text(big, n, why));
    assert_non_null(strstr(why, "more than 256 visual markers"));

    /* ... and 257 visuals alone are too many. */
    n = (size_t)snprintf(big, cap, "bar 1 4/4 q=120\n");
    for (int i = 0; i < 257; i++)
        n += (size_t)snprintf(big + n, cap - n, "punch at %d.1\n", i + 1);
    assert_null(tt_tempo_parse_text(big, n, why));
    assert_non_null(strstr(why, "line 258: more than 256 visual markers"));
    /* 256 of them and 513 other events are too many events. */
    n = (size_t)snprintf(big, cap, "bar 1 4/4 q=120\n");
    for (int i = 0; i < 511; i++)
        n += (size_t)snprintf(big + n, cap - n, "bar %d q=%d\n", i + 2, 100 + i % 2);
    for (int i = 0; i < 256; i++)
        n += (size_t)snprintf(big + n, cap - n, "punch at %d.1\n", i + 1);
    assert_null(tt_tempo_parse_text(big, n, why));
    assert_non_null(strstr(why, "line 768: more than 1024 meter changes"));
    free(big);

    /* The longest line of each kind is 120 bytes (121 with its newline) and
     * its words fit TT_VISUAL_WORDS_LEN (an SMF marker). */
    tt_visual_spec_t v = {.kind = TT_VISUAL_FLUTTER,
                          .pos = {1000000, 32, 119},
                          .flashes = 7,
                          .color = TT_COLOR_MAGENTA};
    memcpy(v.name, name, 65);
    char words[256];
    assert_true(tt_tempo_visual_words(&v, 1, words, sizeof words) <= 120);
    assert_true(tt_tempo_visual_words(&v, 0, words, sizeof words) < TT_VISUAL_WORDS_LEN);
    v.kind = TT_VISUAL_STREAMER;
    v.flashes = 0;
    v.len_unit = TT_VISUAL_LEN_BEATS;
    v.len_milli = 999999;
    assert_int_equal(tt_tempo_visual_words(&v, 1, words, sizeof words), 120);
    assert_true(tt_tempo_visual_words(&v, 0, words, sizeof words) < TT_VISUAL_WORDS_LEN);
}

/* The words of an SMF marker: canonical, the two short forms, and what is
 * not a visual marker. */
static void test_words(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want; /* want NULL: not a visual marker */
    } cases[] = {
        {"streamer", "streamer len 2s"},
        {"streamer len 3s color green", "streamer len 3s color green"},
        {"streamer\tlen 0.5b   color #00FF00", "streamer len 0.5b color #00ff00"},
        {"punch", "punch"},
        {"flutter 3", "flutter flashes 3"},
        {"flutter 5 color red", "flutter flashes 5 color red"},
        {"flutter flashes 1", "flutter flashes 1"},
        {"warning", "warning len 2s"},
        {"hit door slam", "hit \"door slam\""},
        {"hit \"door slam\" color red", "hit color red \"door slam\""},
        {"hit Door, slam!", "hit \"Door, slam!\""},
        {"flutter 4", NULL},
        {"flutter 3 3", NULL},
        {"hit", NULL},
        {"Hit the lights", NULL},
        {"streamer at 17.1", NULL},
        {"streamers", NULL},
        {"punch in", NULL},
        {"streamer len 11s", NULL},
        {"hit \"a\" b\"", NULL},
        {"hit \xc3\xa9", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tt_visual_spec_t v;
        char why[TT_WHY_LEN] = "", words[TT_VISUAL_WORDS_LEN];
        int rc = tt_tempo_visual_parse(cases[i].text, strlen(cases[i].text), &v, why);
        if (!cases[i].want) {
            if (rc == 0)
                fail_msg("case %zu: \"%s\" read as a visual marker", i, cases[i].text);
            continue;
        }
        if (rc != 0)
            fail_msg("case %zu: \"%s\": %s", i, cases[i].text, why);
        tt_tempo_visual_words(&v, 0, words, sizeof words);
        assert_string_equal(words, cases[i].want);
        /* The words read back as the same. */
        tt_visual_spec_t again;
        assert_int_equal(tt_tempo_visual_parse(words, strlen(words), &again, why), 0);
        tt_tempo_visual_words(&again, 0, why, sizeof why);
        assert_string_equal(why, words);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),    cmocka_unit_test(test_default_colors),
        cmocka_unit_test(test_instants), cmocka_unit_test(test_free_time),
        cmocka_unit_test(test_errors),   cmocka_unit_test(test_order_and_builder),
        cmocka_unit_test(test_bounds),   cmocka_unit_test(test_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
