/* test_rules: the rules text (each kind of refusal, with the line or key it
 * names), the canonical format and its round trip, the presets and
 * tt_rules_load, and the call clock of every preset against a fake clock:
 * amber and red before a break, breaks and the break limit, overtime
 * units, wrap freezing the clock, and the transitions the call refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt_error.h"
#include "tt_rules.h"

#define MIN INT64_C(60000000000)
/* 2026-11-25T09:00:00Z */
#define T0 INT64_C(1795597200000000000)

static const char GOOD[] = "# test rules\n"
                           "[rules]\n"
                           "id = test-1\n"
                           "title = Test rules \xc3\xa9t\xc3\xa9\n"
                           "call_minutes = 180\n"
                           "break_after_minutes = 60\n"
                           "break_minutes = 10\n"
                           "overtime_unit_minutes = 15\n";

/* ---- parsing ---- */

static void test_parse_good(void **state)
{
    (void)state;
    tt_rules_t r;
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_rules_parse(GOOD, &r, why), 0);
    assert_string_equal(r.id, "test-1");
    assert_string_equal(r.title, "Test rules \xc3\xa9t\xc3\xa9");
    assert_int_equal(r.call_minutes, 180);
    assert_int_equal(r.break_after_minutes, 60);
    assert_int_equal(r.break_minutes, 10);
    assert_int_equal(r.breaks_per_call, 0); /* default */
    assert_int_equal(r.overtime_unit_minutes, 15);
    assert_int_equal(r.amber_minutes, TT_RULES_DEFAULT_AMBER); /* default */

    /* CRLF, ':' separators, comments of both kinds, a comment after a value,
     * blank lines, every key given. */
    const char *crlf = "; header\r\n\r\n[rules]\r\nid: x\r\ntitle = A; B ; comment\r\n"
                       "call_minutes = 1 ; minimum\r\nbreak_after_minutes = 1440\r\n"
                       "break_minutes = 120\r\nbreaks_per_call = 20\r\n"
                       "overtime_unit_minutes = 240\r\namber_minutes = 0\r\n";
    assert_int_equal(tt_rules_parse(crlf, &r, why), 0);
    assert_string_equal(r.id, "x");
    assert_string_equal(r.title, "A; B");
    assert_int_equal(r.call_minutes, 1);
    assert_int_equal(r.break_after_minutes, 1440);
    assert_int_equal(r.break_minutes, 120);
    assert_int_equal(r.breaks_per_call, 20);
    assert_int_equal(r.overtime_unit_minutes, 240);
    assert_int_equal(r.amber_minutes, 0);
}

/* GOOD with `line` put after line `after` (1-based; 0 = before everything)
 * and the line starting with `drop` removed. */
static char *variant(const char *drop, int after, const char *line)
{
    static char buf[8192];
    buf[0] = '\0';
    if (after == 0 && line)
        strcat(strcat(buf, line), "\n");
    const char *p = GOOD;
    int n = 0;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = (size_t)(eol - p) + 1;
        n++;
        if (!(drop && !strncmp(p, drop, strlen(drop))))
            strncat(buf, p, len);
        if (n == after && line)
            strcat(strcat(buf, line), "\n");
        p += len;
    }
    return buf;
}

static void refused(const char *text, const char *why_has)
{
    tt_rules_t r;
    memset(&r, 0x5a, sizeof r);
    tt_rules_t before = r;
    char why[TT_WHY_LEN] = "";
    int rc = tt_rules_parse(text, &r, why);
    if (rc != TT_ERR_INVALID || !strstr(why, why_has))
        fail_msg("expected TT_ERR_INVALID with \"%s\", got %d \"%s\" for:\n%s", why_has, rc, why,
                 text);
    assert_memory_equal(&r, &before, sizeof r); /* unchanged */
}

static void test_parse_errors(void **state)
{
    (void)state;
    /* unknown key, unknown section, key outside [rules] */
    refused(variant(NULL, 4, "lunch_minutes = 60"), "line 5: key lunch_minutes is unknown");
    refused(variant(NULL, 8, "[extra]\nfoo = 1"), "line 10: section [extra] is unknown");
    refused(variant(NULL, 0, "id = early"), "line 1: key id: outside the [rules] section");
    refused(variant(NULL, 2, "Call_minutes = 5"), "key Call_minutes is unknown");
    /* missing required keys */
    const char *required[] = {"id",
                              "title",
                              "call_minutes",
                              "break_after_minutes",
                              "break_minutes",
                              "overtime_unit_minutes"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        char drop[64], want[64];
        snprintf(drop, sizeof drop, "%s =", required[i]);
        snprintf(want, sizeof want, "key %s is missing", required[i]);
        refused(variant(drop, 0, NULL), want);
    }
    refused("", "key id is missing");
    /* non-integers */
    refused(variant("call_minutes", 4, "call_minutes = 3h"), "line 5: key call_minutes: \"3h\"");
    refused(variant("call_minutes", 4, "call_minutes = 1.5"), "not an integer");
    refused(variant("call_minutes", 4, "call_minutes = +180"), "not an integer");
    refused(variant("call_minutes", 4, "call_minutes ="), "not an integer");
    refused(variant("call_minutes", 4, "call_minutes = 180 # 3 h"), "not an integer");
    refused(variant("call_minutes", 4, "call_minutes = 99999999999999999999"), "not an integer");
    refused(variant(NULL, 4, "amber_minutes = five"), "key amber_minutes: \"five\"");
    /* out of range, each bound */
    static const struct {
        const char *key;
        int lo, hi;
    } ranges[] = {{"call_minutes", 1, 1440},         {"break_after_minutes", 1, 1440},
                  {"break_minutes", 1, 120},         {"breaks_per_call", 0, 20},
                  {"overtime_unit_minutes", 1, 240}, {"amber_minutes", 0, 60}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        char drop[64], line[64], want[96];
        snprintf(drop, sizeof drop, "%s =", ranges[i].key);
        int bad[2] = {ranges[i].lo - 1, ranges[i].hi + 1};
        for (int k = 0; k < 2; k++) {
            snprintf(line, sizeof line, "%s = %d", ranges[i].key, bad[k]);
            snprintf(want, sizeof want, "key %s: %d is outside %d..%d", ranges[i].key, bad[k],
                     ranges[i].lo, ranges[i].hi);
            refused(variant(drop, 2, line), want);
        }
    }
    /* ids */
    refused(variant("id =", 2, "id = AFM"), "line 3: key id: character 1");
    refused(variant("id =", 2, "id = afm_la"), "key id: character 4");
    refused(variant("id =", 2, "id ="), "key id: 1 to 31");
    refused(variant("id =", 2, "id = abcdefghijklmnopqrstuvwxyz012345"), "key id: 1 to 31");
    /* titles */
    char longtitle[160] = "title = ";
    memset(longtitle + 8, 'x', 96);
    refused(variant("title", 2, longtitle), "key title: longer than 95 bytes");
    longtitle[8 + 95] = '\0'; /* exactly 95 is fine */
    tt_rules_t r;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_rules_parse(variant("title", 2, longtitle), &r, why), 0);
    assert_int_equal(strlen(r.title), 95);
    refused(variant("title", 2, "title = Caf\xe9"), "key title: not valid UTF-8");
    refused(variant("title", 2, "title = \xc0\xaf overlong"), "not valid UTF-8");
    refused(variant("title", 2, "title = \xed\xa0\x80 surrogate"), "not valid UTF-8");
    refused(variant("title", 2, "title = tab\there"), "key title: control character");
    refused(variant("title", 2, "title ="), "key title: empty");
    refused(variant("title", 2, "title = ; a comment"), "key title: empty");
    /* given twice, continuation lines, syntax, long lines, long text */
    refused(variant(NULL, 8, "call_minutes = 180"), "line 9: key call_minutes given twice");
    refused(variant(NULL, 8, "  more title"), "line 9: key overtime_unit_minutes: indented");
    refused(variant(NULL, 4, "this line is nonsense"), "line 5: expected [rules]");
    refused(variant(NULL, 4, "[rules"), "line 5: expected [rules]");
    /* a syntax error before a refused key is the one reported */
    refused(variant(NULL, 2, "nonsense\nbogus = 1"), "line 3: expected");
    char longline[300] = "# ";
    memset(longline + 2, 'c', 196);
    assert_int_equal(tt_rules_parse(variant(NULL, 1, longline), &r, why), 0); /* 198 bytes */
    strcat(longline, "call_minutes = 5"); /* inih would split this line in two */
    refused(variant("call_minutes", 1, longline), "line 2: longer than 198 bytes");
    char *big = malloc(TT_RULES_MAX_TEXT + 64);
    assert_non_null(big);
    strcpy(big, GOOD);
    size_t n = strlen(big);
    while (n <= TT_RULES_MAX_TEXT) {
        memcpy(big + n, "# padding\n", 10);
        n += 10;
    }
    big[n] = '\0';
    refused(big, "longer than 4096 bytes");
    big[TT_RULES_MAX_TEXT] = '\0';
    big[TT_RULES_MAX_TEXT - 1] = '\n';
    assert_int_equal(tt_rules_parse(big, &r, why), 0); /* exactly 4096 is fine */
    free(big);
    assert_int_equal(tt_rules_parse(NULL, &r, why), TT_ERR_INVALID);
}

/* ---- format, presets, load ---- */

static void round_trip(const tt_rules_t *r)
{
    char text[TT_RULES_FORMAT_LEN], again[TT_RULES_FORMAT_LEN];
    char why[TT_WHY_LEN] = "";
    tt_rules_t back;
    assert_int_equal(tt_rules_format(r, text, sizeof text), 0);
    if (tt_rules_parse(text, &back, why) != 0)
        fail_msg("%s\n%s", why, text);
    assert_true(tt_rules_equal(r, &back));
    assert_int_equal(tt_rules_format(&back, again, sizeof again), 0);
    assert_string_equal(text, again);
}

static void test_format(void **state)
{
    (void)state;
    char text[TT_RULES_FORMAT_LEN];
    const tt_rules_t *la = tt_rules_preset("afm-film-la");
    assert_non_null(la);
    assert_int_equal(tt_rules_format(la, text, sizeof text), 0);
    assert_string_equal(text, "[rules]\n"
                              "id = afm-film-la\n"
                              "title = AFM film/TV Los Angeles\n"
                              "call_minutes = 180\n"
                              "break_after_minutes = 60\n"
                              "break_minutes = 10\n"
                              "breaks_per_call = 0\n"
                              "overtime_unit_minutes = 15\n"
                              "amber_minutes = 5\n");
    for (size_t i = 0; i < tt_rules_preset_count(); i++)
        round_trip(tt_rules_preset_at(i));

    tt_rules_t r;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_rules_parse(GOOD, &r, why), 0);
    round_trip(&r);
    /* titles at the edges of what INI carries */
    const char *titles[] = {"a;b", "x ; y", "A: \"quoted\" = [x] #1", "\xf0\x9f\x8e\xbb violin"};
    int ok[] = {1, 0, 1, 1};
    for (size_t i = 0; i < 4; i++) {
        snprintf(r.title, sizeof r.title, "%s", titles[i]);
        if (ok[i])
            round_trip(&r);
        else
            assert_int_equal(tt_rules_format(&r, text, sizeof text), TT_ERR_INVALID);
    }
    snprintf(r.title, sizeof r.title, " padded");
    assert_int_equal(tt_rules_format(&r, text, sizeof text), TT_ERR_INVALID);
    assert_int_equal(tt_rules_check(&r, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "title"));
    r = *la;
    r.overtime_unit_minutes = 0;
    assert_int_equal(tt_rules_format(&r, text, sizeof text), TT_ERR_INVALID);
    assert_int_equal(tt_rules_check(&r, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "overtime_unit_minutes"));
    assert_int_equal(tt_rules_format(la, text, 20), TT_ERR_TOO_BIG);
    assert_string_equal(text, "");
}

static void test_presets(void **state)
{
    (void)state;
    assert_int_equal(tt_rules_preset_count(), 4);
    assert_null(tt_rules_preset_at(4));
    assert_null(tt_rules_preset("afm"));
    assert_null(tt_rules_preset(NULL));
    static const tt_rules_t want[] = {
        {"afm-film-la", "AFM film/TV Los Angeles", 180, 60, 10, 0, 15, 5},
        {"afm-sound", "AFM sound recording", 180, 60, 10, 2, 30, 5},
        {"mu-london", "Musicians' Union London", 180, 90, 15, 1, 15, 5},
        {"video-game", "Video game", 180, 60, 10, 0, 15, 5},
    };
    for (size_t i = 0; i < 4; i++) {
        const tt_rules_t *p = tt_rules_preset(want[i].id);
        assert_non_null(p);
        assert_ptr_equal(p, tt_rules_preset_at(i));
        assert_true(tt_rules_equal(p, &want[i]));
        assert_int_equal(tt_rules_check(p, NULL), 0);
    }
}

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_load(void **state)
{
    (void)state;
    tt_rules_t r;
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_rules_load("mu-london", &r, why), 0);
    assert_true(tt_rules_equal(&r, tt_rules_preset("mu-london")));

    char path[] = "/tmp/test_rules_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, GOOD, strlen(GOOD));
    assert_int_equal(tt_rules_load(path, &r, why), 0);
    assert_string_equal(r.id, "test-1");

    write_file(path, "[rules]\nid = x\n", 15);
    assert_int_equal(tt_rules_load(path, &r, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, path));
    assert_non_null(strstr(why, "key title is missing"));

    write_file(path, "[rules]\0id = x\n", 15);
    assert_int_equal(tt_rules_load(path, &r, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "NUL"));

    char *big = malloc(TT_RULES_MAX_TEXT + 1);
    assert_non_null(big);
    memset(big, '\n', TT_RULES_MAX_TEXT + 1);
    memcpy(big, GOOD, strlen(GOOD));
    write_file(path, big, TT_RULES_MAX_TEXT);
    assert_int_equal(tt_rules_load(path, &r, why), 0); /* 4096 bytes: fine */
    write_file(path, big, TT_RULES_MAX_TEXT + 1);
    assert_int_equal(tt_rules_load(path, &r, why), TT_ERR_TOO_BIG);
    free(big);
    unlink(path);

    assert_int_equal(tt_rules_load("afm-film-ny", &r, why), TT_ERR_NOTFOUND);
    assert_non_null(strstr(why, "afm-film-la, afm-sound, mu-london, video-game"));
    assert_int_equal(tt_rules_load("/nonexistent/dir/rules.ini", &r, why), TT_ERR_NOTFOUND);
    assert_int_equal(tt_rules_load("/tmp", &r, why) < 0, 1); /* a directory */
    assert_int_equal(tt_rules_load("", &r, why), TT_ERR_INVALID);
}

/* ---- the call ---- */

static void apply_ok(tt_call_t *c, const char *action, const tt_rules_t *rules, int64_t at)
{
    char why[TT_WHY_LEN] = "";
    if (tt_call_apply(c, action, rules, at, why) != 0)
        fail_msg("%s: %s", action, why);
}

static tt_call_clock_t clock_at(const tt_call_t *c, int64_t at)
{
    tt_call_clock_t k;
    memset(&k, 0x5a, sizeof k);
    tt_call_clock(c, at, &k);
    return k;
}

static tt_call_t started(const char *preset)
{
    tt_call_t c;
    memset(&c, 0, sizeof c);
    apply_ok(&c, "start", tt_rules_preset(preset), T0);
    return c;
}

static void test_clock_idle(void **state)
{
    (void)state;
    tt_call_t c;
    memset(&c, 0, sizeof c);
    tt_call_clock_t k = clock_at(&c, T0);
    tt_call_clock_t zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&k, &zero, sizeof k);
    assert_string_equal(tt_call_alert_name(TT_CALL_ALERT_NONE), "none");
    assert_string_equal(tt_call_alert_name(TT_CALL_ALERT_AMBER), "amber");
    assert_string_equal(tt_call_alert_name(TT_CALL_ALERT_RED), "red");
    assert_string_equal(tt_call_alert_name((tt_call_alert_t)7), "none");
}

static void test_clock_la(void **state)
{
    (void)state;
    tt_call_t c = started("afm-film-la");
    tt_call_clock_t k = clock_at(&c, T0 + 49 * MIN);
    assert_true(k.running);
    assert_int_equal(k.elapsed_ns, 49 * MIN);
    assert_true(k.break_due);
    assert_int_equal(k.next_break_at_ns, T0 + 60 * MIN);
    assert_int_equal(k.next_break_in_ns, 11 * MIN);
    assert_int_equal(k.alert, TT_CALL_ALERT_NONE);
    k = clock_at(&c, T0 + 55 * MIN - 1);
    assert_int_equal(k.alert, TT_CALL_ALERT_NONE);
    k = clock_at(&c, T0 + 55 * MIN);
    assert_int_equal(k.alert, TT_CALL_ALERT_AMBER);
    k = clock_at(&c, T0 + 60 * MIN - 1);
    assert_int_equal(k.alert, TT_CALL_ALERT_AMBER);
    k = clock_at(&c, T0 + 60 * MIN);
    assert_int_equal(k.alert, TT_CALL_ALERT_RED);
    assert_int_equal(k.next_break_in_ns, 0);
    k = clock_at(&c, T0 + 61 * MIN);
    assert_int_equal(k.alert, TT_CALL_ALERT_RED);
    assert_int_equal(k.next_break_in_ns, -MIN);

    apply_ok(&c, "break-start", NULL, T0 + 61 * MIN);
    k = clock_at(&c, T0 + 66 * MIN);
    assert_true(k.on_break);
    assert_int_equal(k.break_elapsed_ns, 5 * MIN);
    assert_int_equal(k.break_remaining_ns, 5 * MIN);
    assert_int_equal(k.alert, TT_CALL_ALERT_NONE);
    assert_int_equal(k.breaks_taken, 1);
    assert_int_equal(k.elapsed_ns, 66 * MIN);             /* a break is inside the call */
    assert_int_equal(k.next_break_at_ns, T0 + 131 * MIN); /* if it ends on time */
    k = clock_at(&c, T0 + 73 * MIN);                      /* overran by 2 */
    assert_int_equal(k.break_remaining_ns, -2 * MIN);
    assert_int_equal(k.next_break_at_ns, T0 + 133 * MIN);

    apply_ok(&c, "break-end", NULL, T0 + 71 * MIN);
    k = clock_at(&c, T0 + 72 * MIN);
    assert_false(k.on_break);
    assert_int_equal(k.breaks_taken, 1);
    assert_int_equal(k.next_break_at_ns, T0 + 131 * MIN);
    assert_int_equal(k.alert, TT_CALL_ALERT_NONE);
    assert_int_equal(clock_at(&c, T0 + 126 * MIN).alert, TT_CALL_ALERT_AMBER);
    assert_int_equal(clock_at(&c, T0 + 131 * MIN).alert, TT_CALL_ALERT_RED);

    /* no limit: a third break still falls due */
    apply_ok(&c, "break-start", NULL, T0 + 131 * MIN);
    apply_ok(&c, "break-end", NULL, T0 + 141 * MIN);
    apply_ok(&c, "break-start", NULL, T0 + 201 * MIN);
    apply_ok(&c, "break-end", NULL, T0 + 211 * MIN);
    k = clock_at(&c, T0 + 212 * MIN);
    assert_int_equal(k.breaks_taken, 3);
    assert_true(k.break_due);
    assert_int_equal(k.next_break_at_ns, T0 + 271 * MIN);

    /* overtime in 15-minute units */
    tt_call_t o = started("afm-film-la");
    k = clock_at(&o, T0 + 180 * MIN);
    assert_int_equal(k.overtime_ns, 0);
    assert_int_equal(k.overtime_units, 0);
    k = clock_at(&o, T0 + 181 * MIN);
    assert_int_equal(k.overtime_ns, MIN);
    assert_int_equal(k.overtime_units, 1);
    k = clock_at(&o, T0 + 195 * MIN);
    assert_int_equal(k.overtime_units, 1);
    k = clock_at(&o, T0 + 196 * MIN);
    assert_int_equal(k.overtime_units, 2);
}

static void test_clock_mu_london(void **state)
{
    (void)state;
    tt_call_t c = started("mu-london");
    assert_int_equal(clock_at(&c, T0 + 84 * MIN).alert, TT_CALL_ALERT_NONE);
    assert_int_equal(clock_at(&c, T0 + 85 * MIN).alert, TT_CALL_ALERT_AMBER);
    tt_call_clock_t k = clock_at(&c, T0 + 90 * MIN);
    assert_int_equal(k.alert, TT_CALL_ALERT_RED);
    assert_int_equal(k.next_break_at_ns, T0 + 90 * MIN);
    apply_ok(&c, "break-start", NULL, T0 + 90 * MIN);
    k = clock_at(&c, T0 + 100 * MIN);
    assert_int_equal(k.break_remaining_ns, 5 * MIN); /* a 15-minute break */
    assert_false(k.break_due); /* the one break is in progress: none further */
    apply_ok(&c, "break-end", NULL, T0 + 105 * MIN);
    for (int m = 106; m < 400; m += 17) {
        k = clock_at(&c, T0 + m * MIN);
        assert_false(k.break_due);
        assert_int_equal(k.next_break_at_ns, 0);
        assert_int_equal(k.alert, TT_CALL_ALERT_NONE);
    }
    k = clock_at(&c, T0 + 181 * MIN);
    assert_int_equal(k.overtime_units, 1);
    k = clock_at(&c, T0 + 196 * MIN);
    assert_int_equal(k.overtime_units, 2);
}

static void test_clock_afm_sound(void **state)
{
    (void)state;
    tt_call_t c = started("afm-sound");
    assert_int_equal(clock_at(&c, T0 + 60 * MIN).alert, TT_CALL_ALERT_RED);
    apply_ok(&c, "break-start", NULL, T0 + 60 * MIN);
    apply_ok(&c, "break-end", NULL, T0 + 70 * MIN);
    tt_call_clock_t k = clock_at(&c, T0 + 71 * MIN);
    assert_true(k.break_due);
    assert_int_equal(k.next_break_at_ns, T0 + 130 * MIN);
    assert_int_equal(clock_at(&c, T0 + 125 * MIN).alert, TT_CALL_ALERT_AMBER);
    apply_ok(&c, "break-start", NULL, T0 + 130 * MIN);
    apply_ok(&c, "break-end", NULL, T0 + 140 * MIN);
    k = clock_at(&c, T0 + 200 * MIN);
    assert_int_equal(k.breaks_taken, 2);
    assert_false(k.break_due); /* the limit is 2 */
    assert_int_equal(k.alert, TT_CALL_ALERT_NONE);
    /* the limit stops breaks falling due, not being taken */
    char why[TT_WHY_LEN];
    assert_int_equal(tt_call_check(&c, "break-start", why), 0);
    /* 30-minute units */
    assert_int_equal(clock_at(&c, T0 + 181 * MIN).overtime_units, 1);
    assert_int_equal(clock_at(&c, T0 + 210 * MIN).overtime_units, 1);
    assert_int_equal(clock_at(&c, T0 + 211 * MIN).overtime_units, 2);
    assert_int_equal(clock_at(&c, T0 + 241 * MIN).overtime_units, 3);
}

static void test_clock_video_game(void **state)
{
    (void)state;
    tt_call_t c = started("video-game");
    assert_int_equal(clock_at(&c, T0 + 54 * MIN).alert, TT_CALL_ALERT_NONE);
    assert_int_equal(clock_at(&c, T0 + 55 * MIN).alert, TT_CALL_ALERT_AMBER);
    assert_int_equal(clock_at(&c, T0 + 60 * MIN).alert, TT_CALL_ALERT_RED);
    assert_int_equal(clock_at(&c, T0 + 180 * MIN).overtime_units, 0);
    assert_int_equal(clock_at(&c, T0 + 180 * MIN + 1).overtime_units, 1);
    assert_int_equal(clock_at(&c, T0 + 195 * MIN).overtime_units, 1);
    assert_int_equal(clock_at(&c, T0 + 195 * MIN + 1).overtime_units, 2);
}

static void test_wrap_freezes(void **state)
{
    (void)state;
    tt_call_t c = started("afm-film-la");
    apply_ok(&c, "break-start", NULL, T0 + 60 * MIN);
    apply_ok(&c, "break-end", NULL, T0 + 70 * MIN);
    apply_ok(&c, "break-start", NULL, T0 + 195 * MIN);
    apply_ok(&c, "wrap", NULL, T0 + 200 * MIN); /* ends the break in progress */
    assert_int_equal(c.breaks[1].end_ns, T0 + 200 * MIN);
    tt_call_clock_t at_wrap = clock_at(&c, T0 + 200 * MIN);
    tt_call_clock_t later = clock_at(&c, T0 + 900 * MIN);
    tt_call_clock_t earlier = clock_at(&c, T0); /* before the wrap: still frozen */
    assert_memory_equal(&at_wrap, &later, sizeof later);
    assert_memory_equal(&at_wrap, &earlier, sizeof later);
    assert_false(later.running);
    assert_false(later.on_break);
    assert_int_equal(later.elapsed_ns, 200 * MIN);
    assert_int_equal(later.breaks_taken, 2);
    assert_int_equal(later.overtime_ns, 20 * MIN);
    assert_int_equal(later.overtime_units, 2);
    assert_int_equal(later.alert, TT_CALL_ALERT_NONE);
    assert_int_equal(later.next_break_at_ns, T0 + 260 * MIN);

    /* a start after the wrap resets the call */
    apply_ok(&c, "start", tt_rules_preset("mu-london"), T0 + 1000 * MIN);
    tt_call_clock_t k = clock_at(&c, T0 + 1010 * MIN);
    assert_true(k.running);
    assert_int_equal(k.elapsed_ns, 10 * MIN);
    assert_int_equal(k.breaks_taken, 0);
    assert_int_equal(c.n_breaks, 0);
    assert_int_equal(c.wrap_ns, 0);
    assert_string_equal(c.rules.id, "mu-london");
}

static void refuse(const tt_call_t *c, const char *action, const char *why_has)
{
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_call_check(c, action, why), TT_ERR_INVALID);
    if (!strstr(why, why_has))
        fail_msg("%s: \"%s\" lacks \"%s\"", action, why, why_has);
    tt_call_t copy = *c;
    assert_int_equal(tt_call_apply(&copy, action, tt_rules_preset("afm-sound"), T0 + 5 * MIN, why),
                     TT_ERR_INVALID);
    assert_memory_equal(&copy, c, sizeof copy);
}

static void test_call_refusals(void **state)
{
    (void)state;
    tt_call_t c;
    memset(&c, 0, sizeof c);
    refuse(&c, "break-start", "no call is running");
    refuse(&c, "break-end", "not on a break");
    refuse(&c, "wrap", "no call is running");
    refuse(&c, "lunch", "unknown");

    char why[TT_WHY_LEN];
    assert_int_equal(tt_call_apply(&c, "start", NULL, T0, why), TT_ERR_INVALID);
    tt_rules_t bad = *tt_rules_preset("afm-film-la");
    bad.break_minutes = 0;
    assert_int_equal(tt_call_apply(&c, "start", &bad, T0, why), TT_ERR_INVALID);
    assert_int_equal(tt_call_apply(&c, "start", tt_rules_preset("afm-film-la"), 0, why),
                     TT_ERR_INVALID);
    assert_false(c.started);

    c = started("afm-film-la");
    refuse(&c, "start", "already running");
    refuse(&c, "break-end", "not on a break");
    apply_ok(&c, "break-start", NULL, T0 + 60 * MIN);
    refuse(&c, "break-start", "already on a break");
    refuse(&c, "start", "already running");
    apply_ok(&c, "break-end", NULL, T0 + 70 * MIN);
    refuse(&c, "break-end", "not on a break");
    apply_ok(&c, "wrap", NULL, T0 + 100 * MIN);
    refuse(&c, "wrap", "already wrapped");
    refuse(&c, "break-start", "no call is running");
    refuse(&c, "break-end", "not on a break");
    assert_int_equal(tt_call_check(&c, "start", why), 0);

    /* the break cap */
    c = started("afm-film-la");
    for (int i = 0; i < TT_CALL_MAX_BREAKS; i++) {
        apply_ok(&c, "break-start", NULL, T0 + (2 * i + 1) * MIN);
        apply_ok(&c, "break-end", NULL, T0 + (2 * i + 2) * MIN);
    }
    refuse(&c, "break-start", "at most 64 breaks");
    assert_int_equal(tt_call_check(&c, "wrap", why), 0);

    /* a wall clock stepping back never makes a negative break */
    c = started("afm-film-la");
    apply_ok(&c, "break-start", NULL, T0 + 60 * MIN);
    apply_ok(&c, "break-end", NULL, T0 + 59 * MIN);
    assert_int_equal(c.breaks[0].end_ns, T0 + 60 * MIN);
    tt_call_clock_t k = clock_at(&c, T0 + 30 * MIN);
    assert_int_equal(k.elapsed_ns, 60 * MIN);
    assert_int_equal(k.next_break_at_ns, T0 + 120 * MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_clock_idle),
        cmocka_unit_test(test_clock_la),
        cmocka_unit_test(test_clock_mu_london),
        cmocka_unit_test(test_clock_afm_sound),
        cmocka_unit_test(test_clock_video_game),
        cmocka_unit_test(test_wrap_freezes),
        cmocka_unit_test(test_call_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
