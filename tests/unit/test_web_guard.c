/* test_web_guard: the web servers' Host rule and their per-address login
 * throttle, on fake time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "tt_web_guard.h"

#define MS 1000000LL

static void test_host_rule(void **state)
{
    (void)state;
    static const char *const ok[] = {"127.0.0.1",    "127.0.0.1:8080", "localhost",
                                     "localhost:80", "[::1]",          "[::1]:8080"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_true(tt_web_guard_host_ok(ok[i], NULL));
    static const char *const refused[] = {"127.attacker.example",
                                          "127.0.0.1.attacker.example",
                                          "127.0.0.1:",
                                          "127.0.0.1:80x",
                                          "127.0.0.1:8080:80",
                                          "localhost.",
                                          "localhost.attacker.example",
                                          "LOCALHOST",
                                          "attacker.example",
                                          "[::1]x",
                                          "[::1",
                                          "[::2]:80",
                                          "127.0.0.2",
                                          "",
                                          ":8080"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        assert_false(tt_web_guard_host_ok(refused[i], NULL));
    assert_false(tt_web_guard_host_ok(NULL, NULL));
    /* The bound address counts too, exactly. */
    assert_true(tt_web_guard_host_ok("127.0.0.5:9000", "127.0.0.5"));
    assert_false(tt_web_guard_host_ok("127.0.0.55:9000", "127.0.0.5"));
    assert_false(tt_web_guard_host_ok("127.0.0.5.evil:9000", "127.0.0.5"));
    assert_false(tt_web_guard_host_ok("x", ""));
}

static void test_throttle_per_address(void **state)
{
    (void)state;
    tt_web_guard_t *g = tt_web_guard_new();
    assert_non_null(g);
    int64_t t = 1000 * MS;
    assert_int_equal(tt_web_guard_login_wait_ms(g, "10.0.0.1", t), 0);
    tt_web_guard_login_failed(g, "10.0.0.1", t);
    assert_int_equal(tt_web_guard_login_wait_ms(g, "10.0.0.1", t), TT_WEB_GUARD_FIRST_WAIT_MS);
    assert_int_equal(tt_web_guard_login_wait_ms(g, "10.0.0.2", t), 0); /* others unaffected */
    t += TT_WEB_GUARD_FIRST_WAIT_MS * MS;
    assert_int_equal(tt_web_guard_login_wait_ms(g, "10.0.0.1", t), 0);
    /* Doubling, capped. */
    int64_t want = TT_WEB_GUARD_FIRST_WAIT_MS;
    for (int i = 2; i <= 10; i++) {
        tt_web_guard_login_failed(g, "10.0.0.1", t);
        want = want * 2 > TT_WEB_GUARD_MAX_WAIT_MS ? TT_WEB_GUARD_MAX_WAIT_MS : want * 2;
        assert_int_equal(tt_web_guard_login_wait_ms(g, "10.0.0.1", t), want);
    }
    assert_int_equal(want, TT_WEB_GUARD_MAX_WAIT_MS);
    /* A right password clears the address. */
    tt_web_guard_login_ok(g, "10.0.0.1");
    assert_int_equal(tt_web_guard_login_wait_ms(g, "10.0.0.1", t), 0);
    tt_web_guard_login_failed(g, "10.0.0.1", t);
    assert_int_equal(tt_web_guard_login_wait_ms(g, "10.0.0.1", t), TT_WEB_GUARD_FIRST_WAIT_MS);
    tt_web_guard_destroy(&g);
    assert_null(g);
    tt_web_guard_destroy(&g);
}

static void test_throttle_table_is_bounded(void **state)
{
    (void)state;
    tt_web_guard_t *g = tt_web_guard_new();
    int64_t t = 1000 * MS;
    char addr[32];
    /* More addresses than the table holds: the newest are always tracked. */
    for (int i = 0; i < TT_WEB_GUARD_ADDRESSES * 2; i++) {
        snprintf(addr, sizeof addr, "10.1.%d.%d", i / 256, i % 256);
        tt_web_guard_login_failed(g, addr, t + i * MS);
        assert_true(tt_web_guard_login_wait_ms(g, addr, t + i * MS) > 0);
    }
    tt_web_guard_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_rule),
        cmocka_unit_test(test_throttle_per_address),
        cmocka_unit_test(test_throttle_table_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
