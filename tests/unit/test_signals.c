/* test_signals: tt_signals_catch. SIGINT and SIGTERM set the stop flag,
 * SIGHUP the reload flag, only when one is given (else SIGHUP keeps its
 * action); no SA_RESTART, so a blocking poll is woken.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>

#include "tt_signals.h"

static volatile sig_atomic_t stop_a, reload_a, stop_b;

static void test_stop_and_reload(void **state)
{
    (void)state;
    tt_signals_catch(&stop_a, &reload_a);
    assert_int_equal(raise(SIGHUP), 0);
    assert_int_equal(reload_a, 1);
    assert_int_equal(stop_a, 0);
    assert_int_equal(raise(SIGTERM), 0);
    assert_int_equal(stop_a, 1);
    stop_a = 0;
    assert_int_equal(raise(SIGINT), 0);
    assert_int_equal(stop_a, 1);
    struct sigaction now;
    assert_int_equal(sigaction(SIGTERM, NULL, &now), 0);
    assert_int_equal(now.sa_flags & SA_RESTART, 0);
}

static void test_stop_only(void **state)
{
    (void)state;
    struct sigaction dfl = {0}, now;
    dfl.sa_handler = SIG_DFL;
    assert_int_equal(sigaction(SIGHUP, &dfl, NULL), 0);
    tt_signals_catch(&stop_b, NULL);
    assert_int_equal(sigaction(SIGHUP, NULL, &now), 0);
    assert_ptr_equal(now.sa_handler, SIG_DFL); /* left as it was */
    stop_a = 0;
    assert_int_equal(raise(SIGTERM), 0);
    assert_int_equal(stop_b, 1);
    assert_int_equal(stop_a, 0); /* the second call replaced the first */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_and_reload),
        cmocka_unit_test(test_stop_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
