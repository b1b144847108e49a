/* test_report: the union-report draft from a session folded from
 * hand-built records: stays across rooms, rolls and breaks counted for
 * whoever is present, overtime units per player (whole units, any part
 * counts, each unit once), a call still running at "now", RFC 4180
 * quoting, what the fold refuses, and records left out at the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_error.h"
#include "tt_report.h"
#include "tt_rules.h"
#include "tt_session.h"

#define MIN INT64_C(60000000000)
/* 2026-11-25T09:00:00Z */
#define T0 INT64_C(1795597200000000000)
#define ANNE "Anne \"Nan\" Lee"

/* Records built on the stack of one apply: the fold copies what it keeps. */
static uint64_t seq;

static int fold(tt_session_t *s, Tutti__Record *rec, char *why)
{
    uint8_t hash[TT_HASH_LEN];
    memset(hash, (int)(rec->seq & 0xff), sizeof hash);
    return tt_session_apply(s, rec, hash, why);
}

static tt_session_t *session_new(void)
{
    seq = 0;
    tt_session_t *s = malloc(sizeof *s);
    assert_non_null(s);
    tt_session_init(s);
    return s;
}

static void session_free(tt_session_t **s)
{
    if (*s)
        tt_session_clear(*s);
    free(*s);
    *s = NULL;
}

static int add_presence(tt_session_t *r, int64_t at, const char *room, const char **in, size_t n_in,
                        const char **out, size_t n_out)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Presence p = TUTTI__PRESENCE__INIT;
    p.room = (char *)room;
    p.in = (char **)in;
    p.n_in = n_in;
    p.out = (char **)out;
    p.n_out = n_out;
    rec.seq = ++seq;
    rec.at_unix_ns = at;
    rec.body_case = TUTTI__RECORD__BODY_PRESENCE;
    rec.presence = &p;
    char why[TT_WHY_LEN] = "";
    int rc = fold(r, &rec, why);
    if (rc != 0)
        fail_msg("presence %llu: %s", (unsigned long long)rec.seq, why);
    return rc;
}

static void in(tt_session_t *r, int64_t at, const char *room, const char *name)
{
    assert_int_equal(add_presence(r, at, room, &name, 1, NULL, 0), 0);
}

static void out(tt_session_t *r, int64_t at, const char *room, const char *name)
{
    assert_int_equal(add_presence(r, at, room, NULL, 0, &name, 1), 0);
}

static int roll(tt_session_t *r, int64_t at, const char *cue, uint32_t take)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Roll ro = TUTTI__ROLL__INIT;
    ro.cue = (char *)cue;
    ro.take = take;
    ro.start_session_ns = 123; /* session time: not what the report uses */
    rec.seq = ++seq;
    rec.at_unix_ns = at;
    rec.body_case = TUTTI__RECORD__BODY_ROLL;
    rec.roll = &ro;
    char why[TT_WHY_LEN] = "";
    return fold(r, &rec, why);
}

static int call_event(tt_session_t *r, int64_t at, const char *action, const char *rules_text,
                      char *why)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__CallEvent ev = TUTTI__CALL_EVENT__INIT;
    ev.action = (char *)action;
    if (rules_text)
        ev.rules_text = (char *)rules_text;
    rec.seq = ++seq;
    rec.at_unix_ns = at;
    rec.body_case = TUTTI__RECORD__BODY_CALL_EVENT;
    rec.call_event = &ev;
    int rc = fold(r, &rec, why);
    if (rc != 0)
        seq--; /* refused: the next record takes its seq */
    return rc;
}

static void call(tt_session_t *r, int64_t at, const char *action, const char *preset)
{
    char text[TT_RULES_FORMAT_LEN];
    if (preset)
        assert_int_equal(tt_rules_format(tt_rules_preset(preset), text, sizeof text), 0);
    char why[TT_WHY_LEN] = "";
    if (call_event(r, at, action, preset ? text : NULL, why) != 0)
        fail_msg("call %s: %s", action, why);
}

static void note(tt_session_t *r, int64_t at)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Note n = TUTTI__NOTE__INIT;
    n.text = "bar 12 too loud";
    rec.seq = ++seq;
    rec.at_unix_ns = at;
    rec.body_case = TUTTI__RECORD__BODY_NOTE;
    rec.note = &n;
    char why[TT_WHY_LEN];
    assert_int_equal(fold(r, &rec, why), 0);
}

static void csv_is(const tt_session_t *r, int64_t now, const char *want)
{
    char *csv = NULL;
    size_t len = 0;
    char why[TT_WHY_LEN] = "x";
    assert_int_equal(tt_report_csv(r, now, &csv, &len, why), 0);
    assert_string_equal(why, ""); /* nothing left out */
    assert_non_null(csv);
    assert_int_equal(len, strlen(csv));
    if (strcmp(csv, want) != 0)
        fail_msg("got:\n%s\nwant:\n%s", csv, want);
    free(csv);
}

#define HEADER "player,rooms,time_in,time_out,minutes,cues,breaks,overtime_units\r\n"

static void test_empty(void **state)
{
    (void)state;
    tt_session_t *r = session_new();
    csv_is(r, T0, HEADER);
    note(r, T0);
    csv_is(r, T0, HEADER); /* records that are not attendance, takes or the call */
    session_free(&r);
}

static void test_session(void **state)
{
    (void)state;
    tt_session_t *r = session_new();
    note(r, T0 - MIN);
    call(r, T0, "start", "afm-film-la");
    roll(r, T0 + 2 * MIN, "0M0", 1); /* nobody in yet */
    in(r, T0 + 5 * MIN, "london-strings", "Carla");
    const char *two[] = {"Bob", ANNE};
    assert_int_equal(add_presence(r, T0 + 5 * MIN, "stage", two, 2, NULL, 0), 0);
    assert_int_equal(roll(r, T0 + 10 * MIN, "1M1", 1), 0);
    assert_int_equal(roll(r, T0 + 20 * MIN, "1M1", 2), 0);
    out(r, T0 + 30 * MIN, "stage", "Bob");
    assert_int_equal(roll(r, T0 + 40 * MIN, "1M2", 1), 0);
    call(r, T0 + 60 * MIN, "break-start", NULL);
    call(r, T0 + 70 * MIN, "break-end", NULL);
    /* Anne moves to london-strings: checked in twice, one stay */
    const char *twice[] = {ANNE, ANNE};
    assert_int_equal(add_presence(r, T0 + 75 * MIN, "london-strings", twice, 2, NULL, 0), 0);
    const char *gone[] = {ANNE, "Nobody"};
    assert_int_equal(add_presence(r, T0 + 80 * MIN, "stage", NULL, 0, gone, 2), 0);
    out(r, T0 + 81 * MIN, "stage", "Carla"); /* not in that room: ignored */
    assert_int_equal(roll(r, T0 + 90 * MIN, "1M1", 3), 0);
    in(r, T0 + 100 * MIN, "stage", "Bob");
    assert_int_equal(roll(r, T0 + 110 * MIN, "1M2", 2), 0);
    assert_int_equal(roll(r, T0 + 111 * MIN, "1M2", 2), 0); /* same take again: once */
    call(r, T0 + 130 * MIN, "break-start", NULL);
    call(r, T0 + 140 * MIN, "break-end", NULL);
    out(r, T0 + 190 * MIN, "london-strings", "Carla");

    /* Drawn while the call runs: overtime so far, Bob still in. */
    csv_is(r, T0 + 196 * MIN,
           HEADER "\"Anne \"\"Nan\"\" Lee\",stage;london-strings,2026-11-25T09:05:00Z,,191,"
                  "1M1 t1 t2 t3;1M2 t1 t2,2,2\r\n"
                  "Bob,stage,2026-11-25T09:05:00Z,,121,1M1 t1 t2;1M2 t2,1,2\r\n"
                  "Carla,london-strings,2026-11-25T09:05:00Z,2026-11-25T12:10:00Z,185,"
                  "1M1 t1 t2 t3;1M2 t1 t2,2,1\r\n");

    out(r, T0 + 200 * MIN, "stage", "Bob");
    call(r, T0 + 215 * MIN, "wrap", NULL);
    note(r, T0 + 216 * MIN);
    const char *want =
        HEADER "\"Anne \"\"Nan\"\" Lee\",stage;london-strings,2026-11-25T09:05:00Z,,235,"
               "1M1 t1 t2 t3;1M2 t1 t2,2,3\r\n"
               "Bob,stage,2026-11-25T09:05:00Z,2026-11-25T12:20:00Z,125,1M1 t1 t2;1M2 t2,1,2\r\n"
               "Carla,london-strings,2026-11-25T09:05:00Z,2026-11-25T12:10:00Z,185,"
               "1M1 t1 t2 t3;1M2 t1 t2,2,1\r\n";
    csv_is(r, T0 + 240 * MIN, want);
    csv_is(r, T0 + 240 * MIN, want); /* drawing changes nothing */
    session_free(&r);
}

static void test_overtime_units(void **state)
{
    (void)state;
    tt_session_t *r = session_new();
    call(r, T0, "start", "afm-sound"); /* 30-minute units from T0 + 180 */
    in(r, T0 + 10 * MIN, "stage", "a-twice-in-one-unit");
    in(r, T0 + 10 * MIN, "stage", "b-two-units");
    in(r, T0 + 10 * MIN, "stage", "c-before");
    in(r, T0 + 10 * MIN, "stage", "d-straddles");
    out(r, T0 + 180 * MIN, "stage", "c-before"); /* leaves as overtime begins: none */
    out(r, T0 + 182 * MIN, "stage", "a-twice-in-one-unit");
    in(r, T0 + 200 * MIN, "stage", "a-twice-in-one-unit");
    out(r, T0 + 201 * MIN, "stage", "a-twice-in-one-unit");
    out(r, T0 + 181 * MIN, "stage", "b-two-units");
    in(r, T0 + 215 * MIN, "stage", "b-two-units");
    out(r, T0 + 216 * MIN, "stage", "b-two-units");
    out(r, T0 + 211 * MIN, "stage", "d-straddles"); /* clock stepped back: 211 < 216 */
    call(r, T0 + 230 * MIN, "wrap", NULL);
    in(r, T0 + 240 * MIN, "stage", "e-after-wrap");
    /* a second call adds up: mu-london, 15-minute units */
    call(r, T0 + 300 * MIN, "start", "mu-london");
    in(r, T0 + 300 * MIN, "stage", "a-twice-in-one-unit");
    call(r, T0 + 300 * MIN + 181 * MIN, "wrap", NULL);
    csv_is(r, T0 + 1000 * MIN,
           HEADER "a-twice-in-one-unit,stage,2026-11-25T09:10:00Z,,873,,0,2\r\n"
                  "b-two-units,stage,2026-11-25T09:10:00Z,2026-11-25T12:36:00Z,172,,0,2\r\n"
                  "c-before,stage,2026-11-25T09:10:00Z,2026-11-25T12:00:00Z,170,,0,0\r\n"
                  "d-straddles,stage,2026-11-25T09:10:00Z,2026-11-25T12:31:00Z,201,,0,2\r\n"
                  "e-after-wrap,stage,2026-11-25T13:00:00Z,,760,,0,1\r\n");
    session_free(&r);
}

/* What the fold refuses never reaches the report: records out of order,
 * call events the call refuses, rules that do not parse. */
static void test_refusals(void **state)
{
    (void)state;
    tt_session_t *r = session_new();
    char why[TT_WHY_LEN] = "";
    note(r, T0); /* seq 1 */
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Note n = TUTTI__NOTE__INIT;
    n.text = "again";
    rec.seq = 1;
    rec.body_case = TUTTI__RECORD__BODY_NOTE;
    rec.note = &n;
    assert_int_equal(fold(r, &rec, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "record 1 applied after 1"));
    in(r, T0, "stage", "Bob");
    assert_int_equal(call_event(r, T0, "break-end", NULL, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "not on a break"));
    assert_int_equal(call_event(r, T0, "start", "[rules]\nid = x\n", why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "key title is missing"));
    assert_int_equal(call_event(r, T0, "start", NULL, why), TT_ERR_INVALID);
    call(r, T0, "start", "video-game");
    assert_int_equal(call_event(r, T0, "start", NULL, why), TT_ERR_INVALID); /* already running */
    assert_int_equal(r->n_call_events, 1); /* only the start that took */
    call(r, T0 + 10 * MIN, "break-start", NULL);
    csv_is(r, T0 + 20 * MIN, HEADER "Bob,stage,2026-11-25T09:00:00Z,,20,,1,0\r\n");
    session_free(&r);
}

/* A record that would pass a limit is left out, the rest drawn, and the
 * caller told. */
static void test_limits(void **state)
{
    (void)state;
    tt_session_t *r = session_new();
    static char names[TT_REPORT_MAX_PLAYERS + 1][16];
    static const char *list[TT_REPORT_MAX_PLAYERS + 1];
    for (size_t i = 0; i <= TT_REPORT_MAX_PLAYERS; i++) {
        snprintf(names[i], sizeof names[i], "p%05zu", i);
        list[i] = names[i];
    }
    assert_int_equal(add_presence(r, T0, "stage", list, TT_REPORT_MAX_PLAYERS, NULL, 0), 0);
    /* out with everyone, then in with one more distinct player than the
     * report counts: that check-in is left out. */
    assert_int_equal(add_presence(r, T0, "stage", NULL, 0, list, TT_REPORT_MAX_PLAYERS), 0);
    in(r, T0, "stage", "p04096");
    in(r, T0, "booth", "p00000"); /* known players are no new ones */
    out(r, T0, "booth", "p00000");
    in(r, T0, "stage", "p00007");
    for (int i = 0; i < TT_REPORT_MAX_CUES; i++) {
        char cue[16];
        snprintf(cue, sizeof cue, "%dM1", i);
        assert_int_equal(roll(r, T0 + MIN, cue, 1), 0);
    }
    assert_int_equal(roll(r, T0 + MIN, "0M1", 2), 0); /* another take of a cue it has */
    /* The session holds as many cues as a player may have in the report:
     * one more is the fold's refusal, never the report's. */
    assert_int_equal(roll(r, T0 + MIN, "extra", 1), TT_ERR_INVALID);
    seq--;
    char *csv = NULL;
    size_t len;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_report_csv(r, T0 + 2 * MIN, &csv, &len, why), 0);
    assert_non_null(strstr(csv, "\r\np00007,stage,2026-11-25T09:00:00Z,,2,0M1 t1 t2;1M1 t1;"));
    assert_null(strstr(csv, "extra"));
    assert_null(strstr(csv, "p04096"));
    assert_non_null(strstr(csv, "\r\np00000,stage;booth,"));
    assert_non_null(strstr(why, "1 record left out of the report"));
    assert_non_null(strstr(why, "more than 4096 players"));
    free(csv);
    session_free(&r);
}

/* A player's name that a spreadsheet would run as a formula comes out inert. */
static void test_formula_names(void **state)
{
    (void)state;
    tt_session_t *r = session_new();
    in(r, T0, "stage", "=HYPERLINK(\"http://x\")");
    in(r, T0, "stage", "@SUM(A1)");
    csv_is(r, T0 + MIN,
           HEADER "\"'=HYPERLINK(\"\"http://x\"\")\",stage,2026-11-25T09:00:00Z,,1,,0,0\r\n"
                  "\"'@SUM(A1)\",stage,2026-11-25T09:00:00Z,,1,,0,0\r\n");
    session_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formula_names), cmocka_unit_test(test_empty),
        cmocka_unit_test(test_session),       cmocka_unit_test(test_overtime_units),
        cmocka_unit_test(test_refusals),      cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
