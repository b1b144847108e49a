/* test_web_board: named documents for web pages: each set numbered, the
 * same text again changes nothing, a stream gets every changed document
 * once (newest text, oldest change first), waits when there is nothing,
 * and ends at shutdown; the whole board as one object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt_error.h"
#include "tt_web_board.h"

static void test_set_and_stream(void **state)
{
    (void)state;
    tt_web_board_t *b = tt_web_board_new();
    assert_non_null(b);
    uint64_t seen = 0;
    char *s = tt_web_board_next(b, &seen, 10); /* nothing yet: "" after the wait */
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(tt_web_board_set(b, "clock", "{\"a\":1}"), 0);
    assert_int_equal(tt_web_board_set(b, "roll", "{\"r\":1}"), 0);
    assert_int_equal(tt_web_board_set(b, "clock", "{\"a\":2}"), 0);
    assert_int_equal(tt_web_board_set(b, "roll", "{\"r\":1}"), 0); /* the same: no news */
    s = tt_web_board_next(b, &seen, 1000);
    assert_string_equal(s, "event: roll\nid: 2\ndata: {\"r\":1}\n\n"
                           "event: clock\nid: 3\ndata: {\"a\":2}\n\n");
    free(s);
    assert_int_equal(seen, 3);
    s = tt_web_board_next(b, &seen, 10);
    assert_string_equal(s, "");
    free(s);
    /* A new stream gets everything as it is now. */
    uint64_t fresh = 0;
    s = tt_web_board_next(b, &fresh, 10);
    assert_non_null(strstr(s, "event: clock"));
    assert_non_null(strstr(s, "event: roll"));
    free(s);
    uint64_t version = 0;
    s = tt_web_board_all(b, &version);
    assert_string_equal(s, "{\"clock\":{\"a\":2},\"roll\":{\"r\":1}}");
    assert_int_equal(version, 3);
    free(s);
    tt_web_board_destroy(&b);
    assert_null(b);
    tt_web_board_destroy(&b); /* safe on NULL */
}

static void test_bounds(void **state)
{
    (void)state;
    tt_web_board_t *b = tt_web_board_new();
    char name[8];
    for (int i = 0; i < TT_WEB_BOARD_SLOTS; i++) {
        snprintf(name, sizeof name, "d%d", i);
        assert_int_equal(tt_web_board_set(b, name, "1"), 0);
    }
    assert_int_equal(tt_web_board_set(b, "one_more", "1"), TT_ERR_TOO_BIG);
    assert_int_equal(tt_web_board_set(b, "d0", "2"), 0); /* a known name still changes */
    assert_int_equal(tt_web_board_set(b, "a_name_longer_than_the_limit", "1"), TT_ERR_TOO_BIG);
    tt_web_board_destroy(&b);
}

typedef struct {
    tt_web_board_t *b;
    uint64_t seen;
    char *got;
    int done;
} waiter_t;

static void *wait_one(void *arg)
{
    waiter_t *w = arg;
    w->got = tt_web_board_next(w->b, &w->seen, 5000);
    w->done = 1;
    return NULL;
}

/* A waiting stream wakes for a set, and ends (NULL) at shutdown. */
static void test_wake_and_shutdown(void **state)
{
    (void)state;
    tt_web_board_t *b = tt_web_board_new();
    waiter_t w = {b, 0, NULL, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_one, &w), 0);
    struct timespec pause = {0, 20000000L};
    nanosleep(&pause, NULL);
    tt_web_board_set(b, "room", "{}");
    pthread_join(t, NULL);
    assert_non_null(w.got);
    assert_non_null(strstr(w.got, "event: room\nid: 1\n"));
    free(w.got);
    /* Up to date, it waits; shutdown ends it. */
    w = (waiter_t){b, 1, NULL, 0};
    assert_int_equal(pthread_create(&t, NULL, wait_one, &w), 0);
    nanosleep(&pause, NULL);
    tt_web_board_shutdown(b);
    pthread_join(t, NULL);
    assert_true(w.done);
    assert_null(w.got);
    tt_web_board_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_stream),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_wake_and_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
