/* test_osc: the room agent's OSC messages (agents/room/agent_osc): each
 * kind's address and type tags, its arguments, the bundle's timetag as
 * session time, and --osc HOST:PORT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "agent_osc.h"
#include "tt_error.h"

/* liblo's lo_arg pointers need not be aligned for the union: read through memcpy. */
static int32_t arg_i(lo_arg *a)
{
    int32_t v;
    memcpy(&v, (void *)a, sizeof v);
    return v;
}
static float arg_f(lo_arg *a)
{
    float v;
    memcpy(&v, (void *)a, sizeof v);
    return v;
}
#define ARG_S(a) ((const char *)(void *)(a))

typedef struct {
    lo_timetag tt;
    char path[64];
    char types[16];
    lo_message m; /* owned */
} decoded_t;

/* Takes a bundle apart by hand (liblo has no public bundle reader):
 * "#bundle\0", timetag (big-endian seconds, fraction), then one element. */
static void decode(const uint8_t *buf, size_t len, decoded_t *d)
{
    assert_true(len > 20);
    assert_memory_equal(buf, "#bundle\0", 8);
    uint32_t be[3];
    memcpy(be, buf + 8, 12);
    d->tt.sec = ntohl(be[0]);
    d->tt.frac = ntohl(be[1]);
    uint32_t size = ntohl(be[2]);
    assert_int_equal(size, len - 20); /* one message, the whole rest */
    void *msg = (void *)(buf + 20);
    char *path = lo_get_path(msg, (ssize_t)size);
    assert_non_null(path);
    snprintf(d->path, sizeof d->path, "%s", path);
    int res = 0;
    d->m = lo_message_deserialise(msg, size, &res);
    assert_int_equal(res, 0);
    assert_non_null(d->m);
    snprintf(d->types, sizeof d->types, "%s", lo_message_get_types(d->m));
}

static void encode_decode(const agent_osc_event_t *ev, decoded_t *d)
{
    uint8_t buf[8192];
    size_t len = 0;
    char why[TT_WHY_LEN];
    assert_int_equal(agent_osc_encode(ev, buf, sizeof buf, &len, why), 0);
    decode(buf, len, d);
    assert_int_equal(agent_osc_timetag_ns(d->tt), ev->session_ns);
}

static void test_transport(void **state)
{
    (void)state;
    agent_osc_event_t ev = {.kind = AGENT_OSC_TRANSPORT,
                            .session_ns = INT64_C(123456789012345),
                            .s1 = "rolling",
                            .s2 = "1M1",
                            .i1 = 4,
                            .i2 = 17};
    decoded_t d;
    encode_decode(&ev, &d);
    assert_string_equal(d.path, "/tutti/transport");
    assert_string_equal(d.types, "ssii");
    lo_arg **a = lo_message_get_argv(d.m);
    assert_string_equal(ARG_S(a[0]), "rolling");
    assert_string_equal(ARG_S(a[1]), "1M1");
    assert_int_equal(arg_i(a[2]), 4);
    assert_int_equal(arg_i(a[3]), 17);
    lo_message_free(d.m);
}

static void test_each_kind(void **state)
{
    (void)state;
    static const struct {
        agent_osc_event_t ev;
        const char *path, *types;
    } cases[] = {
        {{.kind = AGENT_OSC_CUE, .session_ns = 5, .s1 = "2M3a"}, "/tutti/cue", "s"},
        {{.kind = AGENT_OSC_TAKE, .session_ns = 1000000000, .i1 = 3}, "/tutti/take", "i"},
        {{.kind = AGENT_OSC_BEAT, .session_ns = 999999999, .i1 = -1, .i2 = 3, .i3 = 4},
         "/tutti/beat",
         "iii"},
        {{.kind = AGENT_OSC_MARKER,
          .session_ns = 42,
          .s1 = "streamer",
          .s2 = "green",
          .s3 = "door slam",
          .f = 3.0f},
         "/tutti/marker",
         "ssfs"},
        {{.kind = AGENT_OSC_CHANGE, .session_ns = 7, .i1 = 12, .s3 = "horns tacet 12-16"},
         "/tutti/change",
         "is"},
        {{.kind = AGENT_OSC_ACK, .session_ns = 8, .i1 = 12}, "/tutti/ack", "i"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        decoded_t d;
        encode_decode(&cases[i].ev, &d);
        assert_string_equal(d.path, cases[i].path);
        assert_string_equal(d.types, cases[i].types);
        lo_arg **a = lo_message_get_argv(d.m);
        switch (cases[i].ev.kind) {
        case AGENT_OSC_BEAT:
            assert_int_equal(arg_i(a[0]), -1);
            assert_int_equal(arg_i(a[1]), 3);
            assert_int_equal(arg_i(a[2]), 4);
            break;
        case AGENT_OSC_MARKER:
            assert_string_equal(ARG_S(a[0]), "streamer");
            assert_string_equal(ARG_S(a[1]), "green");
            assert_true(arg_f(a[2]) == 3.0f);
            assert_string_equal(ARG_S(a[3]), "door slam");
            break;
        case AGENT_OSC_CHANGE:
            assert_int_equal(arg_i(a[0]), 12);
            assert_string_equal(ARG_S(a[1]), "horns tacet 12-16");
            break;
        default: break;
        }
        lo_message_free(d.m);
    }
}

static void test_timetag(void **state)
{
    (void)state;
    /* NTP fixed point: 2^32 fractions a second, session ns as the seconds. */
    lo_timetag tt = agent_osc_timetag(INT64_C(1500000000));
    assert_int_equal(tt.sec, 1);
    assert_int_equal(tt.frac, 0x80000000u);
    int64_t samples[] = {
        0, 1, 999, 1000000000, INT64_C(86400123456789), INT64_C(4000000000999999999)};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++)
        assert_int_equal(agent_osc_timetag_ns(agent_osc_timetag(samples[i])), samples[i]);
    assert_int_equal(agent_osc_timetag_ns(agent_osc_timetag(-5)), 0);
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len;
    char why[TT_WHY_LEN];
    agent_osc_event_t ev = {.kind = 99};
    assert_int_equal(agent_osc_encode(&ev, buf, sizeof buf, &len, why), TT_ERR_INVALID);
    ev = (agent_osc_event_t){.kind = AGENT_OSC_CHANGE,
                             .i1 = 1,
                             .s3 = "a longer text than 64 bytes "
                                   "can hold in one datagram"};
    assert_int_equal(agent_osc_encode(&ev, buf, sizeof buf, &len, why), TT_ERR_TOO_BIG);
    static char big[AGENT_OSC_MAX_TEXT + 2];
    memset(big, 'x', sizeof big - 1);
    ev.s3 = big;
    static uint8_t huge[3 * AGENT_OSC_MAX_TEXT];
    assert_int_equal(agent_osc_encode(&ev, huge, sizeof huge, &len, why), TT_ERR_INVALID);
}

static void test_targets(void **state)
{
    (void)state;
    agent_osc_target_t t;
    char why[TT_WHY_LEN];
    assert_int_equal(agent_osc_parse_target("127.0.0.1:9000", &t, why), 0);
    assert_string_equal(t.host, "127.0.0.1");
    assert_string_equal(t.port, "9000");
    assert_int_equal(agent_osc_parse_target("[::1]:57120", &t, why), 0);
    assert_string_equal(t.host, "::1");
    assert_string_equal(t.port, "57120");
    assert_int_equal(agent_osc_parse_target("conductor.local:8000", &t, why), 0);
    assert_string_equal(t.host, "conductor.local");
    const char *bad[] = {"9000",       ":9000",    "host:",    "host:0",
                         "host:65536", "host:90x", "::1:9000", "[::1:9000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(agent_osc_parse_target(bad[i], &t, why), TT_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transport), cmocka_unit_test(test_each_kind),
        cmocka_unit_test(test_timetag),   cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
