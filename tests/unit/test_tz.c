/* test_tz: the session's time zone. IANA names from the TZ database,
 * daylight saving and half-hour offsets in the ISO text, names that are
 * not zones refused with the reason (glibc alone would use UTC), and the
 * machine's zone named when none is given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tt_error.h"
#include "tt_tz.h"

/* 2026-11-25T09:00:00Z and 2026-07-01T12:00:00Z */
#define NOV INT64_C(1795597200000000000)
#define JUL INT64_C(1782907200000000000)

static void iso_is(int64_t ns, const char *want)
{
    char got[TT_TZ_ISO_LEN];
    tt_tz_iso(ns, got);
    assert_string_equal(got, want);
}

static void test_zones(void **state)
{
    (void)state;
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_tz_set("America/Los_Angeles", why), 0);
    assert_string_equal(tt_tz_name(), "America/Los_Angeles");
    iso_is(NOV, "2026-11-25T01:00:00-08:00");
    iso_is(JUL, "2026-07-01T05:00:00-07:00"); /* daylight saving */
    assert_int_equal(tt_tz_offset_s(NOV), -8 * 3600);
    iso_is(NOV + 999999999, "2026-11-25T01:00:00-08:00"); /* to the second, rounded down */
    iso_is(NOV - 1, "2026-11-25T00:59:59-08:00");
    struct tm tm;
    tt_tz_local(NOV, &tm);
    assert_int_equal(tm.tm_hour, 1);
    assert_int_equal(tm.tm_mday, 25);

    assert_int_equal(tt_tz_set("Asia/Kolkata", why), 0);
    iso_is(NOV, "2026-11-25T14:30:00+05:30");
    assert_int_equal(tt_tz_set("Europe/London", why), 0);
    iso_is(NOV, "2026-11-25T09:00:00+00:00");
    iso_is(JUL, "2026-07-01T13:00:00+01:00");
    assert_int_equal(tt_tz_set("UTC", why), 0);
    iso_is(JUL, "2026-07-01T12:00:00+00:00");
}

static void test_refused(void **state)
{
    (void)state;
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_tz_set("Asia/Tokyo", why), 0);
    assert_int_equal(tt_tz_set("Mars/Olympus_Mons", why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "unknown time zone \"Mars/Olympus_Mons\""));
    /* unchanged on failure */
    assert_string_equal(tt_tz_name(), "Asia/Tokyo");
    iso_is(NOV, "2026-11-25T18:00:00+09:00");
    const char *bad[] = {"../../etc/passwd", "/etc/localtime", "Europe/London extra", "UTC+3",
                         "Europe/"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        assert_int_equal(tt_tz_set(bad[i], why), TT_ERR_INVALID);
        assert_true(why[0] != '\0');
    }
    /* a directory of the database is no zone */
    assert_int_equal(tt_tz_set("America", why), TT_ERR_INVALID);
    assert_string_equal(tt_tz_name(), "Asia/Tokyo");
}

static void test_machine_zone(void **state)
{
    (void)state;
    char why[TT_WHY_LEN] = "";
    setenv("TZ", ":Europe/Paris", 1);
    assert_int_equal(tt_tz_set(NULL, why), 0);
    assert_string_equal(tt_tz_name(), "Europe/Paris");
    iso_is(NOV, "2026-11-25T10:00:00+01:00");
    setenv("TZ", "/usr/share/zoneinfo/Asia/Kolkata", 1);
    assert_int_equal(tt_tz_set("", why), 0);
    assert_string_equal(tt_tz_name(), "Asia/Kolkata");
    unsetenv("TZ"); /* the machine's /etc/localtime: some name, and its offset */
    assert_int_equal(tt_tz_set(NULL, why), 0);
    assert_true(tt_tz_name()[0] != '\0');
    struct tm tm;
    tt_tz_local(NOV, &tm);
    assert_int_equal(tt_tz_offset_s(NOV), (int)tm.tm_gmtoff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zones),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_machine_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
