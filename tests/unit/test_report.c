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
#include "tt_tz.h"

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

#define HEADER "call,player,rooms,time_in,time_out,minutes,cues,breaks,overtime_units,time_zone\r\n"

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
           HEADER "1,\"Anne \"\"Nan\"\" Lee\",stage;london-strings,2026-11-25T09:05:00+00:00,,191,"
                  "1M1 t1 t2 t3;1M2 t1 t2,2,2,UTC\r\n"
                  "1,Bob,stage,2026-11-25T09:05:00+00:00,,121,1M1 t1 t2;1M2 t2,1,2,UTC\r\n"
                  "1,Carla,london-strings,2026-11-25T09:05:00+00:00,2026-11-25T12:10:00+00:00,185,"
                  "1M1 t1 t2 t3;1M2 t1 t2,2,1,UTC\r\n");

    out(r, T0 + 200 * MIN, "stage", "Bob");
    call(r, T0 + 215 * MIN, "wrap", NULL);
    note(r, T0 + 216 * MIN);
    /* Anne, still in at the wrap, leaves call 1 there and stays on after it. */
    const char *want = HEADER
        "1,\"Anne \"\"Nan\"\" Lee\",stage;london-strings,2026-11-25T09:05:00+00:00,"
        "2026-11-25T12:35:00+00:00,210,1M1 t1 t2 t3;1M2 t1 t2,2,3,UTC\r\n"
        "1,Bob,stage,2026-11-25T09:05:00+00:00,2026-11-25T12:20:00+00:00,125,"
        "1M1 t1 t2;1M2 t2,1,2,UTC\r\n"
        "1,Carla,london-strings,2026-11-25T09:05:00+00:00,2026-11-25T12:10:00+00:00,185,"
        "1M1 t1 t2 t3;1M2 t1 t2,2,1,UTC\r\n"
        ",\"Anne \"\"Nan\"\" Lee\",london-strings,2026-11-25T12:35:00+00:00,,25,,0,0,UTC\r\n";
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
    /* Each call its own section: a's and b's returns within call 1's
     * overtime; e checked in between the calls is call 2's; whoever is in
     * at a wrap is carried past it. */
    csv_is(r, T0 + 1000 * MIN,
           HEADER
           "1,a-twice-in-one-unit,stage,2026-11-25T09:10:00+00:00,2026-11-25T12:21:00+00:00,"
           "173,,0,1,UTC\r\n"
           "1,b-two-units,stage,2026-11-25T09:10:00+00:00,2026-11-25T12:36:00+00:00,172,,0,2,"
           "UTC\r\n"
           "1,c-before,stage,2026-11-25T09:10:00+00:00,2026-11-25T12:00:00+00:00,170,,0,0,"
           "UTC\r\n"
           "1,d-straddles,stage,2026-11-25T09:10:00+00:00,2026-11-25T12:31:00+00:00,201,,0,2,"
           "UTC\r\n"
           "2,a-twice-in-one-unit,stage,2026-11-25T14:00:00+00:00,2026-11-25T17:01:00+00:00,"
           "181,,0,1,UTC\r\n"
           "2,e-after-wrap,stage,2026-11-25T13:00:00+00:00,2026-11-25T17:01:00+00:00,241,,0,1,"
           "UTC\r\n"
           ",a-twice-in-one-unit,stage,2026-11-25T17:01:00+00:00,,519,,0,0,UTC\r\n"
           ",e-after-wrap,stage,2026-11-25T17:01:00+00:00,,519,,0,0,UTC\r\n");
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
    csv_is(r, T0 + 20 * MIN, HEADER "1,Bob,stage,2026-11-25T09:00:00+00:00,,20,,1,0,UTC\r\n");
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
    assert_non_null(
        strstr(csv, "\r\n,p00007,stage,2026-11-25T09:00:00+00:00,,2,0M1 t1 t2;1M1 t1;"));
    assert_null(strstr(csv, "extra"));
    assert_null(strstr(csv, "p04096"));
    assert_non_null(strstr(csv, "\r\n,p00000,stage;booth,"));
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
           HEADER
           ",\"'=HYPERLINK(\"\"http://x\"\")\",stage,2026-11-25T09:00:00+00:00,,1,,0,0,UTC\r\n"
           ",\"'@SUM(A1)\",stage,2026-11-25T09:00:00+00:00,,1,,0,0,UTC\r\n");
    session_free(&r);
}

static void text_is(const tt_session_t *r, int64_t now, const char *want)
{
    char *text = NULL;
    size_t len = 0;
    char why[TT_WHY_LEN] = "x";
    assert_int_equal(tt_report_text(r, now, &text, &len, why), 0);
    assert_string_equal(why, "");
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    size_t i = 0;
    while (text[i] && text[i] == want[i])
        i++;
    if (text[i] || want[i]) /* cmocka cuts long messages: show where they part */
        fail_msg("differs at byte %zu:\ngot:  ...%.60s\nwant: ...%.60s", i, text + i, want + i);
    free(text);
}

/* Two calls in the session's zone (Los Angeles, 8 hours behind UTC in
 * November): one section per call with its number in the call column,
 * arrivals before a start in that call, a player still in at the first
 * wrap carried into the second call from the wrap, times with the zone's
 * offset and the zone named; the same as text. */
static void test_calls_in_zone(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_tz_set("America/Los_Angeles", why), 0);
    tt_session_t *r = session_new();
    in(r, T0 - 10 * MIN, "stage", "Ann"); /* before the call: the call's */
    call(r, T0, "start", "afm-film-la");  /* 01:00 in LA */
    in(r, T0 + 5 * MIN, "stage", "Cy");
    assert_int_equal(roll(r, T0 + 10 * MIN, "1M1", 1), 0);
    call(r, T0 + 60 * MIN, "break-start", NULL);
    call(r, T0 + 70 * MIN, "break-end", NULL);
    out(r, T0 + 100 * MIN, "stage", "Ann");
    call(r, T0 + 200 * MIN, "wrap", NULL);         /* Cy still in: carried over */
    in(r, T0 + 230 * MIN, "booth", "Bo");          /* between the calls: the next one's */
    call(r, T0 + 240 * MIN, "start", "mu-london"); /* 05:00 */
    assert_int_equal(roll(r, T0 + 250 * MIN, "2M1", 1), 0);
    out(r, T0 + 260 * MIN, "stage", "Cy");

    csv_is(r, T0 + 270 * MIN,
           HEADER "1,Ann,stage,2026-11-25T00:50:00-08:00,2026-11-25T02:40:00-08:00,110,1M1 t1,1,0,"
                  "America/Los_Angeles\r\n"
                  "1,Cy,stage,2026-11-25T01:05:00-08:00,2026-11-25T04:20:00-08:00,195,1M1 t1,1,2,"
                  "America/Los_Angeles\r\n"
                  "2,Bo,booth,2026-11-25T04:50:00-08:00,,40,2M1 t1,0,0,America/Los_Angeles\r\n"
                  "2,Cy,stage,2026-11-25T04:20:00-08:00,2026-11-25T05:20:00-08:00,60,2M1 t1,0,0,"
                  "America/Los_Angeles\r\n");
    text_is(r, T0 + 270 * MIN,
            "Report of session (unnamed), drawn 2026-11-25 05:30:00; times in "
            "America/Los_Angeles (UTC-08:00)\n"
            "\n"
            "Call 1: afm-film-la (AFM film/TV Los Angeles), 2026-11-25 01:00:00 to 04:20:00, "
            "3:20:00; 1 break; overtime 0:20:00 (2 units of 15 min)\n"
            "  player  rooms  in        out       minutes  breaks  overtime units  cues\n"
            "  Ann     stage  00:50:00  02:40:00      110       1               0  1M1 t1\n"
            "  Cy      stage  01:05:00  04:20:00      195       1               2  1M1 t1\n"
            "\n"
            "Call 2: mu-london (Musicians' Union London), 2026-11-25 05:00:00, running: 0:30:00 so "
            "far; 0 "
            "breaks; overtime 0:00:00 (0 units of 15 min)\n"
            "  player  rooms  in        out       minutes  breaks  overtime units  cues\n"
            "  Bo      booth  04:50:00  (in)           40       0               0  2M1 t1\n"
            "  Cy      stage  04:20:00  05:20:00       60       0               0  2M1 t1\n");
    session_free(&r);
}

/* The text when nothing happened, and after the last wrap. */
static void test_text_edges(void **state)
{
    (void)state;
    tt_session_t *r = session_new();
    text_is(r, T0,
            "Report of session (unnamed), drawn 2026-11-25 09:00:00; times in UTC (UTC+00:00)\n"
            "\n"
            "No call started and nobody checked in.\n");
    in(r, T0, "stage", "Ann");
    text_is(r, T0 + MIN,
            "Report of session (unnamed), drawn 2026-11-25 09:01:00; times in UTC (UTC+00:00)\n"
            "\n"
            "No call started\n"
            "  player  rooms  in        out       minutes  breaks  overtime units  cues\n"
            "  Ann     stage  09:00:00  (in)            1       0               0\n");
    call(r, T0 + 2 * MIN, "start", "video-game");
    call(r, T0 + 3 * MIN, "wrap", NULL);
    /* next day */
    text_is(r, T0 + 24 * 60 * MIN,
            "Report of session (unnamed), drawn 2026-11-26 09:00:00; times in UTC (UTC+00:00)\n"
            "\n"
            "Call 1: video-game (Video game), 2026-11-25 09:02:00 to 09:03:00, 0:01:00; 0 breaks; "
            "overtime 0:00:00 (0 units of 15 min)\n"
            "  player  rooms  in        out       minutes  breaks  overtime units  cues\n"
            "  Ann     stage  09:00:00  09:03:00        3       0               0\n"
            "\n"
            "After the wrap of call 1 (no call)\n"
            "  player  rooms  in        out       minutes  breaks  overtime units  cues\n"
            "  Ann     stage  09:03:00  (in)         1437       0               0\n");
    session_free(&r);
}

static int utc(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    return tt_tz_set("UTC", why);
}

int main(void)
{
    /* every test starts in UTC (one sets another zone) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_formula_names, utc),
        cmocka_unit_test_setup(test_empty, utc),
        cmocka_unit_test_setup(test_session, utc),
        cmocka_unit_test_setup(test_overtime_units, utc),
        cmocka_unit_test_setup(test_refusals, utc),
        cmocka_unit_test_setup(test_limits, utc),
        cmocka_unit_test_setup(test_calls_in_zone, utc),
        cmocka_unit_test_setup(test_text_edges, utc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
