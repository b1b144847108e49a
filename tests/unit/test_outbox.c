/* test_outbox: the coordinator's per-peer reply queue. Over inproc, where
 * a pipe holds exactly the ROUTER's send mark plus the peer's receive
 * mark: replies beyond it wait in order and all arrive as the peer reads;
 * a peer that never reads is held to its bounds, and given up after a
 * while; a peer that leaves takes its queue with it; the poll hint says
 * "now" while a peer reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <time.h>
#include <zmq.h>

#include "coord_outbox.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_wire.h"

/* Loops wait on the clock, not a count: on a loaded machine libzmq's
 * commands (a pipe's "read some, write again") take their time. */
#define DEADLINE_NS (20LL * 1000000000)
#define GIVE_UP_MS 500

typedef struct {
    void *ctx, *router, *dealer;
    coord_outbox_t *o;
    uint8_t rid[8];
    size_t rid_len;
} fixture_t;

static int setup_at(void **state, const char *endpoint)
{
    static fixture_t f;
    memset(&f, 0, sizeof f);
    char why[TT_WHY_LEN];
    f.ctx = zmq_ctx_new();
    f.router = zmq_socket(f.ctx, ZMQ_ROUTER);
    assert_int_equal(coord_outbox_configure(f.router, why), 0);
    int small = 4096, zero = 0; /* over TCP, kernel buffers that hold little */
    zmq_setsockopt(f.router, ZMQ_SNDBUF, &small, sizeof small);
    /* As tt_wire sets it: with linger a gone peer's pipe waits for its
     * unsent replies forever, and stays full. */
    zmq_setsockopt(f.router, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(f.router, endpoint), 0);
    char bound[256];
    size_t bound_len = sizeof bound;
    assert_int_equal(zmq_getsockopt(f.router, ZMQ_LAST_ENDPOINT, bound, &bound_len), 0);
    f.dealer = zmq_socket(f.ctx, ZMQ_DEALER);
    int one = 1;
    zmq_setsockopt(f.dealer, ZMQ_RCVHWM, &one, sizeof one);
    zmq_setsockopt(f.dealer, ZMQ_RCVBUF, &small, sizeof small);
    zmq_setsockopt(f.dealer, ZMQ_ROUTING_ID, "peer", 4);
    assert_int_equal(zmq_connect(f.dealer, bound), 0);
    assert_int_equal(zmq_send(f.dealer, "hi", 2, 0), 2); /* the router learns the peer */
    f.rid_len = (size_t)zmq_recv(f.router, f.rid, sizeof f.rid, 0);
    char body[8];
    assert_int_equal(zmq_recv(f.router, body, sizeof body, 0), 2);
    assert_non_null(f.o = coord_outbox_new(f.router, "test", GIVE_UP_MS, why));
    *state = &f;
    return 0;
}

static int setup(void **state)
{
    return setup_at(state, "inproc://outbox");
}

/* Over TCP a peer that closes is seen to go (libzmq ends its pipe). */
static int setup_tcp(void **state)
{
    return setup_at(state, "tcp://127.0.0.1:*");
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    coord_outbox_destroy(&f->o);
    int zero = 0;
    if (f->dealer) {
        zmq_setsockopt(f->dealer, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(f->dealer);
    }
    zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    return 0;
}

static int send_id(fixture_t *f, uint64_t id, size_t pad)
{
    static char text[4096];
    memset(text, 'x', sizeof text - 1);
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Error err = TUTTI__ERROR__INIT;
    text[pad < sizeof text ? pad : sizeof text - 1] = '\0';
    err.message = text;
    env.request_id = id;
    env.body_case = TUTTI__ENVELOPE__BODY_ERROR;
    env.error = &err;
    char why[TT_WHY_LEN];
    int rc = coord_outbox_send(f->o, f->rid, f->rid_len, &env, why);
    text[pad < sizeof text ? pad : sizeof text - 1] = 'x';
    return rc;
}

/* Reads one reply at the dealer: its request id, or -1 when none is there. */
static int64_t read_id(fixture_t *f)
{
    tt_wire_msg_t m;
    char why[TT_WHY_LEN];
    if (tt_wire_recv(f->dealer, 0, ZMQ_DONTWAIT, &m, why) != 0)
        return -1;
    int64_t id = (int64_t)m.env->request_id;
    tt_wire_msg_clear(&m);
    return id;
}

static void test_in_order_nothing_lost(void **state)
{
    fixture_t *f = *state;
    for (uint64_t i = 1; i <= 600; i++)
        assert_int_equal(send_id(f, i, 16), 0);
    /* The pipe holds send mark + receive mark; the rest waits here. */
    assert_true(coord_outbox_waiting(f->o, f->rid, f->rid_len) > 0);
    assert_true(coord_outbox_wait_ms(f->o) >= 0); /* something waits */
    int64_t want = 1, end = tt_time_mono_ns() + DEADLINE_NS;
    while (want <= 600 && tt_time_mono_ns() < end) {
        int64_t id = read_id(f);
        if (id < 0) {
            coord_outbox_flush(f->o);
            continue;
        }
        assert_int_equal(id, want);
        want++;
    }
    assert_int_equal(want, 601);
    assert_int_equal(coord_outbox_waiting(f->o, f->rid, f->rid_len), 0);
    assert_int_equal(coord_outbox_wait_ms(f->o), -1);
}

static void test_bounded_when_not_read(void **state)
{
    fixture_t *f = *state;
    int refused = 0;
    for (uint64_t i = 1; i <= COORD_OUTBOX_PEER_MAX_MSGS + 100; i++)
        refused += send_id(f, i, 16) == TT_ERR_UNAVAILABLE;
    assert_true(refused > 0);
    assert_true(refused <= 100);
    /* Big replies meet the byte bound first. */
    size_t before = coord_outbox_waiting(f->o, f->rid, f->rid_len);
    for (uint64_t i = 1; i <= 1000; i++)
        send_id(f, i, 4000);
    size_t waiting = coord_outbox_waiting(f->o, f->rid, f->rid_len);
    assert_true(waiting >= before);
    assert_true(waiting <= COORD_OUTBOX_PEER_MAX_BYTES);
    /* Not reading: flushes send nothing, and the hint is a pause, not a spin. */
    assert_int_equal(coord_outbox_flush(f->o), 0);
    struct timespec pause = {0, 3 * 1000000};
    nanosleep(&pause, NULL);
    assert_true(coord_outbox_wait_ms(f->o) > 0);
    /* Still nothing taken after the give-up time: the queue goes. */
    struct timespec longer = {0, (GIVE_UP_MS + 100) * 1000000L};
    nanosleep(&longer, NULL);
    coord_outbox_flush(f->o);
    assert_int_equal(coord_outbox_waiting(f->o, f->rid, f->rid_len), 0);
    assert_int_equal(coord_outbox_wait_ms(f->o), -1);
}

static void test_peer_gone(void **state)
{
    fixture_t *f = *state;
    /* More than the kernel's socket buffers take: replies wait here. */
    for (uint64_t i = 1; i <= 400; i++)
        assert_int_equal(send_id(f, i, 4000), 0);
    assert_true(coord_outbox_waiting(f->o, f->rid, f->rid_len) > 0);
    int zero = 0;
    zmq_setsockopt(f->dealer, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(f->dealer);
    f->dealer = NULL;
    int64_t end = tt_time_mono_ns() + DEADLINE_NS;
    while (coord_outbox_wait_ms(f->o) >= 0 && tt_time_mono_ns() < end) {
        coord_outbox_flush(f->o);
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    assert_int_equal(coord_outbox_wait_ms(f->o), -1);
    assert_int_equal(coord_outbox_waiting(f->o, f->rid, f->rid_len), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_in_order_nothing_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounded_when_not_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_gone, setup_tcp, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
