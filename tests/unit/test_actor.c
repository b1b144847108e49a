/* test_actor: the actor's contract. Many actors started and stopped at
 * once; a stop while commands stream in and the thread is blocked sending
 * to an owner that does not read; a setup failure reported by the
 * constructor with the thread's code and reason (and a thread that returns
 * without a word); a thread that returns on its own before the destroy;
 * commands round-tripping with payloads of every size; the command table;
 * malformed messages; stop signals kept off the actors; destroy on NULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "tt_actor.h"
#include "tt_error.h"

typedef struct {
    atomic_int set_up;    /* ready(0) sent */
    atomic_int torn_down; /* loop left, about to return */
    atomic_int saw_term;  /* the loop ended on $TERM */
    atomic_long handled;  /* commands handled */
    atomic_int failed;    /* sends that failed on the thread (cmocka asserts on ours only) */
    int ack_each;         /* send ACK (blocking) for every WORK */
    int fail_with;        /* setup fails with this code */
    const char *fail_why; /* ... and this reason */
    int skip_ready;       /* return without tt_actor_ready */
} probe_t;

/* The shape every thread of ours has: ready, loop on the pipe until $TERM. */
static void echo_actor(void *pipe, void *args)
{
    probe_t *p = args;
    if (p->skip_ready)
        return;
    if (p->fail_with) {
        tt_actor_ready(pipe, p->fail_with, p->fail_why);
        return;
    }
    atomic_store(&p->set_up, 1);
    tt_actor_ready(pipe, 0, NULL);
    for (;;) {
        tt_actor_msg_t m;
        char why[TT_WHY_LEN];
        if (tt_actor_recv(pipe, 0, &m, why) != 0)
            continue;
        if (tt_actor_is_stop(m.cmd)) {
            tt_actor_msg_clear(&m);
            atomic_store(&p->saw_term, 1);
            break;
        }
        if (!strcmp(m.cmd, "ECHO")) {
            if (tt_actor_send(pipe, 0, "ECHOED", m.data, m.len, why) != 0)
                atomic_fetch_add(&p->failed, 1);
        } else if (!strcmp(m.cmd, "WORK") && p->ack_each) {
            /* Blocks once the owner's side is full: the owner never reads. */
            if (tt_actor_send(pipe, 0, "ACK", m.data, m.len, why) != 0)
                atomic_fetch_add(&p->failed, 1);
        } else if (!strcmp(m.cmd, "QUIT")) {
            tt_actor_msg_clear(&m);
            break;
        }
        atomic_fetch_add(&p->handled, 1);
        tt_actor_msg_clear(&m);
    }
    atomic_store(&p->torn_down, 1);
}

static void *new_ctx(void)
{
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    return ctx;
}

static void test_start_stop_many(void **state)
{
    (void)state;
    void *ctx = new_ctx();
    enum { N = 48 };
    static probe_t probes[N];
    tt_actor_t *a[N];
    char why[TT_WHY_LEN];
    for (int round = 0; round < 3; round++) {
        memset(probes, 0, sizeof probes);
        for (int i = 0; i < N; i++) {
            int err = 1;
            a[i] = tt_actor_new(ctx, "many", echo_actor, &probes[i], &err, why);
            assert_non_null(a[i]);
            assert_int_equal(err, 0);
            /* The constructor returns after the thread's setup, not before. */
            assert_int_equal(atomic_load(&probes[i].set_up), 1);
            assert_non_null(tt_actor_sock(a[i]));
        }
        /* Each one answers on its own pipe: no crossed wires. */
        for (int i = 0; i < N; i++) {
            uint32_t v = (uint32_t)(round * 1000 + i);
            assert_int_equal(tt_actor_send(tt_actor_sock(a[i]), 0, "ECHO", &v, sizeof v, why), 0);
        }
        for (int i = 0; i < N; i++) {
            tt_actor_msg_t m;
            assert_int_equal(tt_actor_recv(tt_actor_sock(a[i]), 0, &m, why), 0);
            assert_string_equal(m.cmd, "ECHOED");
            assert_int_equal(m.len, sizeof(uint32_t));
            uint32_t v;
            memcpy(&v, m.data, sizeof v);
            assert_int_equal(v, (uint32_t)(round * 1000 + i));
            tt_actor_msg_clear(&m);
        }
        for (int i = 0; i < N; i++) {
            tt_actor_destroy(&a[i]);
            assert_null(a[i]);
            /* Destroy returns after the thread has finished, not before. */
            assert_int_equal(atomic_load(&probes[i].torn_down), 1);
            assert_int_equal(atomic_load(&probes[i].saw_term), 1);
        }
    }
    assert_int_equal(zmq_ctx_term(ctx), 0); /* every socket was closed */
}

static void test_stop_under_load(void **state)
{
    (void)state;
    void *ctx = new_ctx();
    char why[TT_WHY_LEN];
    /* Without acks: the queue in front of $TERM is drained in order. With
     * acks the thread blocks sending to an owner that never reads, and the
     * stop must still get through. */
    for (int ack = 0; ack <= 1; ack++) {
        probe_t p = {.ack_each = ack};
        tt_actor_t *a = tt_actor_new(ctx, "busy", echo_actor, &p, NULL, why);
        assert_non_null(a);
        long sent = 0;
        uint8_t payload[256];
        memset(payload, 0xa5, sizeof payload);
        for (int i = 0; i < 50000; i++) {
            int rc = tt_actor_send(tt_actor_sock(a), ZMQ_DONTWAIT, "WORK", payload,
                                   (size_t)(i % (int)sizeof payload), why);
            if (rc == 0)
                sent++;
            else
                assert_int_equal(rc, TT_ERR_AGAIN); /* full pipe: the only way to fail */
        }
        assert_true(sent > 1000);
        if (ack) /* the thread blocked on its acks, then our side of the pipe filled */
            assert_true(sent < 50000);
        tt_actor_destroy(&a);
        assert_null(a);
        assert_int_equal(atomic_load(&p.torn_down), 1);
        assert_int_equal(atomic_load(&p.saw_term), 1);
        /* $TERM was queued behind every command sent: all of them were handled. */
        assert_int_equal(atomic_load(&p.handled), sent);
        assert_int_equal(atomic_load(&p.failed), 0);
    }
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

static void test_setup_failure(void **state)
{
    (void)state;
    void *ctx = new_ctx();
    char why[TT_WHY_LEN];
    int err = 0;

    probe_t p = {.fail_with = TT_ERR_STORE, .fail_why = "opening the store: MDB_MAP_FULL"};
    assert_null(tt_actor_new(ctx, "store", echo_actor, &p, &err, why));
    assert_int_equal(err, TT_ERR_STORE);
    assert_string_equal(why, "opening the store: MDB_MAP_FULL");

    /* A code without a reason: the reason names the thread and the code. */
    probe_t q = {.fail_with = TT_ERR_NOTFOUND};
    assert_null(tt_actor_new(ctx, "finder", echo_actor, &q, &err, why));
    assert_int_equal(err, TT_ERR_NOTFOUND);
    assert_non_null(strstr(why, "finder"));
    assert_non_null(strstr(why, tt_strerror(TT_ERR_NOTFOUND)));

    /* A thread that returns without saying ready is a failure, not a hang. */
    probe_t r = {.skip_ready = 1};
    assert_null(tt_actor_new(ctx, "mute", echo_actor, &r, &err, why));
    assert_int_equal(err, TT_ERR_IO);
    assert_non_null(strstr(why, "mute"));

    /* err may be NULL; the failure still comes back as NULL + why. */
    why[0] = '\0';
    assert_null(tt_actor_new(ctx, "store", echo_actor, &p, NULL, why));
    assert_string_equal(why, "opening the store: MDB_MAP_FULL");

    assert_int_equal(zmq_ctx_term(ctx), 0); /* the failed actors left no socket behind */
}

static void test_early_return(void **state)
{
    (void)state;
    void *ctx = new_ctx();
    char why[TT_WHY_LEN];
    probe_t p = {0};
    tt_actor_t *a = tt_actor_new(ctx, "quitter", echo_actor, &p, NULL, why);
    assert_non_null(a);
    assert_int_equal(tt_actor_send(tt_actor_sock(a), 0, "QUIT", NULL, 0, why), 0);
    /* The owner sees the thread go, and reads the signal itself... */
    tt_actor_msg_t m;
    assert_int_equal(tt_actor_recv(tt_actor_sock(a), 0, &m, why), 0);
    assert_string_equal(m.cmd, "$STOPPED");
    assert_null(m.data);
    tt_actor_msg_clear(&m);
    assert_int_equal(atomic_load(&p.torn_down), 1);
    assert_int_equal(atomic_load(&p.saw_term), 0);
    /* ...and the destroy, with nothing left to wait for, still returns. */
    tt_actor_destroy(&a);
    assert_null(a);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    void *ctx = new_ctx();
    char why[TT_WHY_LEN];
    probe_t p = {0};
    tt_actor_t *a = tt_actor_new(ctx, "echo", echo_actor, &p, NULL, why);
    assert_non_null(a);
    void *pipe = tt_actor_sock(a);
    size_t sizes[] = {0, 1, 7, 4096, 1 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        uint8_t *buf = malloc(n ? n : 1);
        assert_non_null(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)(i * 31 + k);
        assert_int_equal(tt_actor_send(pipe, 0, "ECHO", buf, n, why), 0);
        tt_actor_msg_t m;
        assert_int_equal(tt_actor_recv(pipe, 0, &m, why), 0);
        assert_string_equal(m.cmd, "ECHOED");
        assert_int_equal(m.len, n);
        if (n)
            assert_memory_equal(m.data, buf, n);
        else
            assert_null(m.data);
        tt_actor_msg_clear(&m);
        free(buf);
    }
    /* Nothing there: TT_ERR_AGAIN, not a message. */
    tt_actor_msg_t m;
    assert_int_equal(tt_actor_recv(pipe, ZMQ_DONTWAIT, &m, why), TT_ERR_AGAIN);
    tt_actor_destroy(&a);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

/* The format itself, on a bare pipe: names, malformed messages, the table. */
typedef struct {
    int64_t trim;
    char endpoint[64];
    int calls;
} table_self_t;

static void on_trim(void *self, const void *data, size_t len)
{
    (void)len;
    table_self_t *t = self;
    memcpy(&t->trim, data, sizeof t->trim);
    t->calls++;
}

static void on_connect(void *self, const void *data, size_t len)
{
    table_self_t *t = self;
    snprintf(t->endpoint, sizeof t->endpoint, "%.*s", (int)len, (const char *)data);
    t->calls++;
}

static void test_format(void **state)
{
    (void)state;
    void *ctx = new_ctx();
    char why[TT_WHY_LEN];
    void *a = NULL, *b = NULL;
    assert_int_equal(tt_actor_pipe(ctx, "fmt", &a, &b, why), 0);

    /* Names: 1..15 of [A-Z0-9_$]. */
    assert_int_equal(tt_actor_send(a, 0, "", NULL, 0, why), TT_ERR_INVALID);
    assert_int_equal(tt_actor_send(a, 0, NULL, NULL, 0, why), TT_ERR_INVALID);
    assert_int_equal(tt_actor_send(a, 0, "stop", NULL, 0, why), TT_ERR_INVALID);
    assert_int_equal(tt_actor_send(a, 0, "A_NAME_TOO_LONG_", NULL, 0, why), TT_ERR_INVALID);
    assert_int_equal(tt_actor_send(a, 0, "A_NAME_LONG_15X", NULL, 0, why), 0);
    tt_actor_msg_t m;
    assert_int_equal(tt_actor_recv(b, 0, &m, why), 0);
    assert_string_equal(m.cmd, "A_NAME_LONG_15X");
    tt_actor_msg_clear(&m);

    /* Malformed messages are read whole and dropped; the next one is intact. */
    assert_int_equal(zmq_send(a, "lower", 5, 0), 5);
    assert_int_equal(zmq_send(a, "THREE", 5, ZMQ_SNDMORE), 5);
    assert_int_equal(zmq_send(a, "x", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(zmq_send(a, "y", 1, 0), 1);
    assert_int_equal(zmq_send(a, "A_VERY_LONG_COMMAND_NAME", 24, ZMQ_SNDMORE), 24);
    assert_int_equal(zmq_send(a, "z", 1, 0), 1);
    assert_int_equal(tt_actor_send(a, 0, "$TERM", NULL, 0, why), 0);
    assert_int_equal(tt_actor_recv(b, 0, &m, why), TT_ERR_PROTOCOL);
    assert_int_equal(tt_actor_recv(b, 0, &m, why), TT_ERR_PROTOCOL);
    assert_int_equal(tt_actor_recv(b, 0, &m, why), TT_ERR_PROTOCOL);
    assert_int_equal(tt_actor_recv(b, 0, &m, why), 0);
    assert_true(tt_actor_is_stop(m.cmd));
    assert_false(tt_actor_is_stop("$TERMX"));
    assert_false(tt_actor_is_stop(NULL));
    tt_actor_msg_clear(&m);

    /* Both directions carry the same format. */
    int64_t trim = -1234567;
    assert_int_equal(tt_actor_send(b, 0, "TRIM", &trim, sizeof trim, why), 0);
    assert_int_equal(tt_actor_send(b, 0, "CONNECT", "tcp://h:1", 9, why), 0);
    assert_int_equal(tt_actor_send(b, 0, "TRIM", &trim, 4, why), 0);
    assert_int_equal(tt_actor_send(b, 0, "NUDGE", NULL, 0, why), 0);

    static const tt_actor_cmd_t table[] = {
        {"TRIM", sizeof(int64_t), on_trim},
        {"CONNECT", TT_ACTOR_ANY_LEN, on_connect},
        {NULL, 0, NULL},
    };
    table_self_t t = {0};
    assert_int_equal(tt_actor_recv(a, 0, &m, why), 0);
    assert_int_equal(tt_actor_dispatch(table, &t, &m, why), 0);
    tt_actor_msg_clear(&m);
    assert_int_equal(t.trim, trim);
    assert_int_equal(tt_actor_recv(a, 0, &m, why), 0);
    assert_int_equal(tt_actor_dispatch(table, &t, &m, why), 0);
    tt_actor_msg_clear(&m);
    assert_string_equal(t.endpoint, "tcp://h:1");
    assert_int_equal(tt_actor_recv(a, 0, &m, why), 0);
    assert_int_equal(tt_actor_dispatch(table, &t, &m, why), TT_ERR_PROTOCOL); /* 4 bytes, not 8 */
    assert_non_null(strstr(why, "TRIM"));
    tt_actor_msg_clear(&m);
    assert_int_equal(tt_actor_recv(a, 0, &m, why), 0);
    assert_int_equal(tt_actor_dispatch(table, &t, &m, why), TT_ERR_NOTFOUND);
    assert_non_null(strstr(why, "NUDGE"));
    tt_actor_msg_clear(&m);
    assert_int_equal(t.calls, 2);

    zmq_close(a);
    zmq_close(b);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

static atomic_int hup_count;
static atomic_int hup_off_main; /* taken by a thread other than the test's */
static pthread_t main_thread;

static void on_hup(int sig)
{
    (void)sig;
    atomic_fetch_add(&hup_count, 1);
    if (!pthread_equal(pthread_self(), main_thread))
        atomic_fetch_add(&hup_off_main, 1);
}

/* A stop signal sent to the process while only actors could take it stays
 * pending (they block it) and reaches the main thread once it unblocks. */
static void test_signals_stay_on_main(void **state)
{
    (void)state;
    void *ctx = new_ctx();
    char why[TT_WHY_LEN];
    main_thread = pthread_self();
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hup;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGHUP, &sa, &old_sa), 0);
    enum { N = 8 };
    probe_t p[N];
    tt_actor_t *a[N];
    memset(p, 0, sizeof p);
    for (int i = 0; i < N; i++)
        assert_non_null(a[i] = tt_actor_new(ctx, "sig", echo_actor, &p[i], NULL, why));
    /* The creator's own mask is as it was: SIGHUP not blocked here. */
    sigset_t now;
    assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &now), 0);
    assert_false(sigismember(&now, SIGHUP));

    sigset_t hup, old;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &hup, &old), 0);
    assert_int_equal(kill(getpid(), SIGHUP), 0);
    /* Give a thread that does not block it every chance to take it. */
    for (int i = 0; i < N; i++) {
        uint32_t v = (uint32_t)i;
        assert_int_equal(tt_actor_send(tt_actor_sock(a[i]), 0, "ECHO", &v, sizeof v, why), 0);
        tt_actor_msg_t m;
        assert_int_equal(tt_actor_recv(tt_actor_sock(a[i]), 0, &m, why), 0);
        tt_actor_msg_clear(&m);
    }
    assert_int_equal(atomic_load(&hup_count), 0);
    sigset_t pending;
    assert_int_equal(sigpending(&pending), 0);
    assert_true(sigismember(&pending, SIGHUP));
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0); /* delivered here, now */
    assert_int_equal(atomic_load(&hup_count), 1);
    assert_int_equal(atomic_load(&hup_off_main), 0);

    for (int i = 0; i < N; i++)
        tt_actor_destroy(&a[i]);
    assert_int_equal(sigaction(SIGHUP, &old_sa, NULL), 0);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

static void test_destroy_null(void **state)
{
    (void)state;
    tt_actor_destroy(NULL);
    tt_actor_t *a = NULL;
    tt_actor_destroy(&a);
    assert_null(a);
    assert_null(tt_actor_sock(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_stop_many),      cmocka_unit_test(test_stop_under_load),
        cmocka_unit_test(test_setup_failure),        cmocka_unit_test(test_early_return),
        cmocka_unit_test(test_round_trip),           cmocka_unit_test(test_format),
        cmocka_unit_test(test_signals_stay_on_main), cmocka_unit_test(test_destroy_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
