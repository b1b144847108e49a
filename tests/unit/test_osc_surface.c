/* test_osc_surface: the coordinator's OSC control surface (coordinator/
 * coord_osc): each command's forms, the refusals (unknown address, wrong
 * types, out of range, bundles, oversized), the reply, the bind host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <lo/lo.h>
#include <string.h>
#include <unistd.h>

#include "coord_osc.h"
#include "tt_error.h"

/* liblo's lo_arg pointers need not be aligned for the union: read through memcpy. */
static int64_t arg_h(lo_arg *a)
{
    int64_t v;
    memcpy(&v, (void *)a, sizeof v);
    return v;
}
#define ARG_S(a) ((const char *)(void *)(a))

/* A message built with liblo, as an OSC client would send it. */
static size_t build(uint8_t *buf, size_t cap, const char *path, const char *types, ...)
{
    lo_message m = lo_message_new();
    va_list ap;
    va_start(ap, types);
    for (const char *t = types; *t; t++) {
        if (*t == 's')
            lo_message_add_string(m, va_arg(ap, const char *));
        else if (*t == 'i')
            lo_message_add_int32(m, va_arg(ap, int32_t));
        else if (*t == 'f')
            lo_message_add_float(m, (float)va_arg(ap, double));
    }
    va_end(ap);
    size_t len = cap;
    assert_non_null(lo_message_serialise(m, path, buf, &len));
    lo_message_free(m);
    return len;
}

static void test_commands(void **state)
{
    (void)state;
    uint8_t buf[2048];
    coord_osc_cmd_t c;
    char why[TT_WHY_LEN];
    size_t n = build(buf, sizeof buf, "/tutti/arm", "s", "1M1");
    assert_int_equal(coord_osc_parse(buf, n, &c, why), 0);
    assert_int_equal(c.kind, COORD_OSC_ARM);
    assert_string_equal(c.cue, "1M1");
    assert_string_equal(c.name, "arm");

    n = build(buf, sizeof buf, "/tutti/roll", "s", "2M3a");
    assert_int_equal(coord_osc_parse(buf, n, &c, why), 0);
    assert_int_equal(c.kind, COORD_OSC_ROLL);
    assert_string_equal(c.cue, "2M3a");
    assert_int_equal(c.from_bar, 0);
    n = build(buf, sizeof buf, "/tutti/roll", "si", "2M3a", 17);
    assert_int_equal(coord_osc_parse(buf, n, &c, why), 0);
    assert_int_equal(c.from_bar, 17);

    n = build(buf, sizeof buf, "/tutti/stop", "");
    assert_int_equal(coord_osc_parse(buf, n, &c, why), 0);
    assert_int_equal(c.kind, COORD_OSC_STOP);

    n = build(buf, sizeof buf, "/tutti/rate", "sis", "1M1", 3, "circled");
    assert_int_equal(coord_osc_parse(buf, n, &c, why), 0);
    assert_int_equal(c.kind, COORD_OSC_RATE);
    assert_int_equal(c.take, 3);
    assert_string_equal(c.rating, "circled");
    assert_string_equal(c.note, "");
    n = build(buf, sizeof buf, "/tutti/rate", "siss", "1M1", 3, "hold", "horns late");
    assert_int_equal(coord_osc_parse(buf, n, &c, why), 0);
    assert_string_equal(c.note, "horns late");
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t buf[4096];
    coord_osc_cmd_t c;
    char why[TT_WHY_LEN];
    size_t n = build(buf, sizeof buf, "/tutti/wrap", "");
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_INVALID);
    assert_string_equal(c.name, "?");
    n = build(buf, sizeof buf, "/tutti/arm", "si", "1M1", 3); /* arm has no from-bar */
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_INVALID);
    assert_string_equal(c.name, "arm");
    n = build(buf, sizeof buf, "/tutti/arm", "i", 3);
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_INVALID);
    n = build(buf, sizeof buf, "/tutti/arm", "s", "");
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_INVALID);
    n = build(buf, sizeof buf, "/tutti/arm", "s", "a-cue-name-longer-than-thirty-two-bytes");
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_INVALID);
    n = build(buf, sizeof buf, "/tutti/roll", "si", "1M1", 0);
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_INVALID);
    n = build(buf, sizeof buf, "/tutti/roll", "si", "1M1", 100001);
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_INVALID);
    n = build(buf, sizeof buf, "/tutti/roll", "sf", "1M1", 3.0);
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_INVALID);
    n = build(buf, sizeof buf, "/tutti/stop", "i", 5);
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_INVALID);
    /* "rate" as a float: tutti has no playback rate; the reason says what rate is */
    n = build(buf, sizeof buf, "/tutti/rate", "f", 1.0);
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "rating"));
    n = build(buf, sizeof buf, "/tutti/rate", "sis", "1M1", 0, "ng");
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_INVALID);
    /* not OSC, a bundle, too big */
    assert_int_equal(coord_osc_parse("abc", 3, &c, why), TT_ERR_PROTOCOL);
    assert_int_equal(coord_osc_parse("/x\0\0,i\0\0", 8, &c, why), TT_ERR_PROTOCOL);
    lo_bundle b = lo_bundle_new(LO_TT_IMMEDIATE);
    lo_message m = lo_message_new();
    lo_message_add_string(m, "1M1");
    lo_bundle_add_message(b, "/tutti/roll", m);
    size_t blen = sizeof buf;
    assert_non_null(lo_bundle_serialise(b, buf, &blen));
    lo_bundle_free_recursive(b);
    assert_int_equal(coord_osc_parse(buf, blen, &c, why), TT_ERR_PROTOCOL);
    char note[1100];
    memset(note, 'x', sizeof note - 1);
    note[sizeof note - 1] = '\0';
    n = build(buf, sizeof buf, "/tutti/rate", "siss", "1M1", 1, "ng", note);
    assert_true(n > COORD_OSC_MAX_MESSAGE);
    assert_int_equal(coord_osc_parse(buf, n, &c, why), TT_ERR_TOO_BIG);
}

static void test_reply(void **state)
{
    (void)state;
    uint8_t buf[COORD_OSC_MAX_MESSAGE];
    size_t len;
    char why[TT_WHY_LEN];
    assert_int_equal(coord_osc_reply("roll", 1, 42, "", buf, sizeof buf, &len, why), 0);
    assert_string_equal(lo_get_path(buf, (ssize_t)len), "/tutti/reply");
    int res;
    lo_message m = lo_message_deserialise(buf, len, &res);
    assert_non_null(m);
    assert_string_equal(lo_message_get_types(m), "sshs");
    lo_arg **a = lo_message_get_argv(m);
    assert_string_equal(ARG_S(a[0]), "roll");
    assert_string_equal(ARG_S(a[1]), "ok");
    assert_int_equal(arg_h(a[2]), 42);
    lo_message_free(m);
    assert_int_equal(coord_osc_reply("roll", 0, 0, "room may not roll", buf, sizeof buf, &len, why),
                     0);
    m = lo_message_deserialise(buf, len, &res);
    a = lo_message_get_argv(m);
    assert_string_equal(ARG_S(a[1]), "error");
    assert_string_equal(ARG_S(a[3]), "room may not roll");
    lo_message_free(m);
    assert_int_equal(coord_osc_reply("roll", 0, 0, "x", buf, 16, &len, why), TT_ERR_TOO_BIG);
}

static void test_bind(void **state)
{
    (void)state;
    unsigned port;
    char why[TT_WHY_LEN];
    assert_int_equal(coord_osc_parse_bind("9100", &port, why), 0);
    assert_int_equal(port, 9100);
    assert_int_equal(coord_osc_parse_bind("127.0.0.1:9101", &port, why), 0);
    assert_int_equal(port, 9101);
    assert_int_equal(coord_osc_parse_bind("localhost:9102", &port, why), 0);
    assert_int_equal(coord_osc_parse_bind("0.0.0.0:9100", &port, why), TT_ERR_INVALID);
    assert_int_equal(coord_osc_parse_bind("10.0.0.5:9100", &port, why), TT_ERR_INVALID);
    assert_int_equal(coord_osc_parse_bind("127.0.0.1:70000", &port, why), TT_ERR_INVALID);
    assert_int_equal(coord_osc_parse_bind("x", &port, why), TT_ERR_INVALID);
    int fd = coord_osc_open(0, &port, why);
    assert_true(fd >= 0);
    assert_true(port > 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_bind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
