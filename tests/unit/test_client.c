/* test_client: tt_client over a --coordinator list (issue 16). Stand-in
 * coordinators on loopback, served from a thread: a primary (answers, and
 * answers a write whose idempotency key it holds with that record as a
 * duplicate), a standby (ERROR_STANDBY to everything), a silent one (reads,
 * never answers), a dropper (takes the write into the shared log, as a
 * primary that shipped it to its standby, then dies before replying) and
 * a port where nothing listens. The client moves on a standby's answer, a
 * timeout, a drop or a refused connection, tries each endpoint once, keeps
 * a write's key across the move (recorded once) and stays where it was
 * answered.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tt_client.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_wire.h"

enum { PRIMARY, STANDBY, SILENT, DROPPER };
#define MAX_SERVERS 4
#define MAX_KEYS 64

typedef struct {
    int mode;
    tt_keypair_t *kp; /* its own key (fx_start_keys), else NULL: the fixture's */
    void *sock;       /* owned by the server thread once started */
    int down_fd;      /* a down endpoint's port, bound and not listening; else -1 */
    char ep[64];
    atomic_int requests;
    uint8_t last_key[TT_CLIENT_KEY_LEN];
    atomic_int has_key;
} server_t;

/* The log the stand-ins share, as a primary and the standby it ships to. */
typedef struct {
    uint8_t keys[MAX_KEYS][TT_CLIENT_KEY_LEN];
    int n;
} shared_log_t;

typedef struct {
    void *ctx;
    tt_keypair_t *server_kp, *client_kp;
    server_t s[MAX_SERVERS];
    int n;
    shared_log_t log;
    atomic_int stop;
    pthread_t thread;
} fx_t;

static int log_find(const shared_log_t *l, const uint8_t *key)
{
    for (int i = 0; i < l->n; i++)
        if (!memcmp(l->keys[i], key, TT_CLIENT_KEY_LEN))
            return i + 1; /* its seq */
    return 0;
}

static void serve_one(fx_t *f, server_t *s)
{
    tt_wire_msg_t m;
    char why[TT_WHY_LEN];
    if (tt_wire_recv(s->sock, 1, ZMQ_DONTWAIT, &m, why) != 0)
        return;
    atomic_fetch_add(&s->requests, 1);
    Tutti__Envelope *req = m.env;
    if (req->idempotency_key.len == TT_CLIENT_KEY_LEN) {
        memcpy(s->last_key, req->idempotency_key.data, TT_CLIENT_KEY_LEN);
        atomic_store(&s->has_key, 1);
    }
    if (s->mode == STANDBY) {
        tt_wire_send_error(s->sock, m.routing_id, m.routing_id_len, req->request_id,
                           TUTTI__ERROR_CODE__ERROR_STANDBY, "a standby: ask the primary");
    } else if (s->mode == DROPPER) {
        if (req->idempotency_key.len == TT_CLIENT_KEY_LEN && f->log.n < MAX_KEYS)
            memcpy(f->log.keys[f->log.n++], req->idempotency_key.data, TT_CLIENT_KEY_LEN);
        zmq_close(s->sock); /* dies before the reply: the connection drops */
        s->sock = NULL;
    } else if (s->mode == PRIMARY) {
        Tutti__Envelope rep = TUTTI__ENVELOPE__INIT;
        rep.request_id = req->request_id;
        Tutti__WriteReply wr = TUTTI__WRITE_REPLY__INIT;
        Tutti__HelloReply hr = TUTTI__HELLO_REPLY__INIT;
        if (req->body_case == TUTTI__ENVELOPE__BODY_HELLO) {
            hr.name = "conductor";
            hr.role = "operator";
            rep.body_case = TUTTI__ENVELOPE__BODY_HELLO_REPLY;
            rep.hello_reply = &hr;
        } else {
            int seq = log_find(&f->log, req->idempotency_key.data);
            wr.duplicate = seq != 0;
            if (!seq && f->log.n < MAX_KEYS) {
                memcpy(f->log.keys[f->log.n++], req->idempotency_key.data, TT_CLIENT_KEY_LEN);
                seq = f->log.n;
            }
            wr.seq = (uint64_t)seq;
            rep.body_case = TUTTI__ENVELOPE__BODY_WRITE_REPLY;
            rep.write_reply = &wr;
        }
        tt_wire_send(s->sock, m.routing_id, m.routing_id_len, &rep, NULL);
    } /* SILENT: nothing */
    tt_wire_msg_clear(&m);
}

static void *serve(void *arg)
{
    fx_t *f = arg;
    while (!atomic_load(&f->stop)) {
        zmq_pollitem_t items[MAX_SERVERS];
        server_t *who[MAX_SERVERS];
        int n = 0;
        for (int i = 0; i < f->n; i++)
            if (f->s[i].sock) {
                items[n] = (zmq_pollitem_t){f->s[i].sock, 0, ZMQ_POLLIN, 0};
                who[n++] = &f->s[i];
            }
        if (zmq_poll(items, n, 20) <= 0)
            continue;
        for (int i = 0; i < n; i++)
            if (items[i].revents & ZMQ_POLLIN)
                serve_one(f, who[i]);
    }
    return NULL;
}

/* A loopback port where nothing listens, held bound (not listening, so a
 * connect is refused) for the fixture's life. A ZeroMQ socket bound and
 * closed here went on listening in its reaper thread under load, and
 * another test could take a port given back: the client then shook hands
 * with something (a failed handshake, not a refusal) and waited out its
 * timeout (1 run in 12 beside a build). Returns the fd. */
static int down_endpoint(char *ep, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(ep, len, "tcp://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    return fd;
}

/* Stand-ins of the given modes (-1 for a down endpoint), their list in eps;
 * with keys (TT_Z85_KEYS_LEN), each its own CURVE key, listed there. */
static void fx_start_keys(fx_t *f, const int *modes, int n, char *eps, size_t eps_len, char *keys)
{
    memset(f, 0, sizeof *f);
    char why[TT_WHY_LEN];
    assert_true(sodium_init() >= 0);
    f->ctx = zmq_ctx_new();
    assert_non_null(f->server_kp = tt_keypair_generate(why));
    assert_non_null(f->client_kp = tt_keypair_generate(why));
    eps[0] = '\0';
    for (int i = 0; i < n; i++) {
        server_t *s = &f->s[f->n++];
        s->mode = modes[i];
        s->down_fd = -1;
        if (modes[i] < 0) {
            s->down_fd = down_endpoint(s->ep, sizeof s->ep);
        } else {
            if (keys) {
                assert_non_null(s->kp = tt_keypair_generate(why));
                snprintf(keys + strlen(keys), TT_Z85_KEYS_LEN - strlen(keys), "%s%s", i ? "," : "",
                         s->kp->public_z85);
            }
            s->sock = zmq_socket(f->ctx, ZMQ_ROUTER);
            assert_int_equal(tt_wire_setup_server(s->sock, s->kp ? s->kp : f->server_kp, why), 0);
            assert_int_equal(zmq_bind(s->sock, "tcp://127.0.0.1:*"), 0);
            size_t len = sizeof s->ep;
            assert_int_equal(zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, s->ep, &len), 0);
        }
        size_t used = strlen(eps);
        snprintf(eps + used, eps_len - used, "%s%s", i ? "," : "", s->ep);
    }
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
}

static void fx_start(fx_t *f, const int *modes, int n, char *eps, size_t eps_len)
{
    fx_start_keys(f, modes, n, eps, eps_len, NULL);
}

static void fx_stop(fx_t *f)
{
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    for (int i = 0; i < f->n; i++) {
        if (f->s[i].sock)
            zmq_close(f->s[i].sock);
        if (f->s[i].down_fd >= 0)
            close(f->s[i].down_fd);
        tt_keypair_destroy(&f->s[i].kp);
    }
    zmq_ctx_term(f->ctx);
    tt_keypair_destroy(&f->server_kp);
    tt_keypair_destroy(&f->client_kp);
}

static tt_client_t *fx_client(fx_t *f, const char *eps)
{
    char why[TT_WHY_LEN];
    tt_client_t *c = tt_client_new(f->ctx, eps, f->server_kp->public_z85, f->client_kp, 0, why);
    assert_non_null(c);
    return c;
}

static void make_note(Tutti__Envelope *env, Tutti__NoteRequest *nr)
{
    *env = (Tutti__Envelope)TUTTI__ENVELOPE__INIT;
    *nr = (Tutti__NoteRequest)TUTTI__NOTE_REQUEST__INIT;
    nr->text = "x";
    env->body_case = TUTTI__ENVELOPE__BODY_NOTE;
    env->note = nr;
}

static void test_bad_list(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    void *ctx = zmq_ctx_new();
    tt_keypair_t *kp = tt_keypair_generate(why);
    assert_null(
        tt_client_new(ctx, "tcp://127.0.0.1:1,,tcp://127.0.0.1:2", kp->public_z85, kp, 0, why));
    assert_non_null(strstr(why, "is empty"));
    assert_null(tt_client_new(ctx, "tcp://a:1,tcp://a:2,tcp://a:3,tcp://a:4,tcp://a:5",
                              kp->public_z85, kp, 0, why));
    assert_non_null(strstr(why, "more than 4"));
    tt_keypair_destroy(&kp);
    zmq_ctx_term(ctx);
}

/* The first is down (nothing listens): the request moves on at once, not
 * after the timeout, and the client stays with the one that answered. */
static void test_down_then_primary(void **state)
{
    (void)state;
    fx_t f;
    char eps[512], why[TT_WHY_LEN];
    int modes[] = {-1, PRIMARY};
    fx_start(&f, modes, 2, eps, sizeof eps);
    tt_client_t *c = fx_client(&f, eps);
    assert_int_equal(tt_client_endpoint_count(c), 2);
    assert_string_equal(tt_client_endpoint(c), f.s[0].ep);
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT, *reply = NULL;
    Tutti__Hello h = TUTTI__HELLO__INIT;
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    int64_t t0 = tt_time_mono_ns();
    assert_int_equal(tt_client_request(c, &env, &reply, 3000, why), 0);
    int64_t took_ms = (tt_time_mono_ns() - t0) / 1000000;
    assert_int_equal(reply->body_case, TUTTI__ENVELOPE__BODY_HELLO_REPLY);
    tutti__envelope__free_unpacked(reply, NULL);
    assert_true(took_ms < 2000); /* a refused connect, not the 3 s timeout */
    assert_string_equal(tt_client_endpoint(c), f.s[1].ep);
    /* A write is answered there first: no retry to report. */
    Tutti__NoteRequest nr;
    make_note(&env, &nr);
    tt_client_write_how_t how;
    assert_int_equal(tt_client_write(c, &env, &reply, 3000, &how, NULL, why), 0);
    assert_int_equal(how, TT_CLIENT_WRITE_ANSWERED);
    tutti__envelope__free_unpacked(reply, NULL);
    tt_client_destroy(&c);
    fx_stop(&f);
}

/* A standby's answer sends the write on with its key; it is not a retry;
 * the next write goes straight to the primary. */
static void test_standby_then_primary(void **state)
{
    (void)state;
    fx_t f;
    char eps[512], why[TT_WHY_LEN], lost[TT_WHY_LEN] = "";
    int modes[] = {STANDBY, PRIMARY};
    fx_start(&f, modes, 2, eps, sizeof eps);
    tt_client_t *c = fx_client(&f, eps);
    Tutti__Envelope env, *reply = NULL;
    Tutti__NoteRequest nr;
    make_note(&env, &nr);
    tt_client_write_how_t how;
    assert_int_equal(tt_client_write(c, &env, &reply, 3000, &how, lost, why), 0);
    assert_int_equal(how, TT_CLIENT_WRITE_ANSWERED);
    assert_int_equal(reply->write_reply->seq, 1);
    assert_false(reply->write_reply->duplicate);
    tutti__envelope__free_unpacked(reply, NULL);
    assert_int_equal(atomic_load(&f.s[0].requests), 1);
    assert_int_equal(atomic_load(&f.s[1].requests), 1);
    assert_memory_equal(f.s[0].last_key, f.s[1].last_key, TT_CLIENT_KEY_LEN);
    assert_int_equal(env.idempotency_key.len, 0); /* the request is as it was */
    assert_string_equal(tt_client_endpoint(c), f.s[1].ep);

    make_note(&env, &nr);
    assert_int_equal(tt_client_write(c, &env, &reply, 3000, &how, lost, why), 0);
    assert_int_equal(reply->write_reply->seq, 2);
    tutti__envelope__free_unpacked(reply, NULL);
    assert_int_equal(atomic_load(&f.s[0].requests), 1); /* stayed with the primary */
    assert_int_equal(atomic_load(&f.s[1].requests), 2);
    tt_client_destroy(&c);
    fx_stop(&f);
}

/* No reply within the timeout: the same key goes to the next endpoint. */
static void test_silent_then_primary(void **state)
{
    (void)state;
    fx_t f;
    char eps[512], why[TT_WHY_LEN], lost[TT_WHY_LEN] = "";
    int modes[] = {SILENT, PRIMARY};
    fx_start(&f, modes, 2, eps, sizeof eps);
    tt_client_t *c = fx_client(&f, eps);
    Tutti__Envelope env, *reply = NULL;
    Tutti__NoteRequest nr;
    make_note(&env, &nr);
    tt_client_write_how_t how;
    assert_int_equal(tt_client_write(c, &env, &reply, 300, &how, lost, why), 0);
    assert_int_equal(how, TT_CLIENT_WRITE_ON_RETRY);
    assert_non_null(strstr(lost, "no reply"));
    assert_int_equal(reply->write_reply->seq, 1);
    tutti__envelope__free_unpacked(reply, NULL);
    assert_int_equal(atomic_load(&f.s[0].has_key), 1);
    assert_memory_equal(f.s[0].last_key, f.s[1].last_key, TT_CLIENT_KEY_LEN);
    tt_client_destroy(&c);
    fx_stop(&f);
}

/* The primary takes the write (its standby holds it), then dies before the
 * reply: the standby-turned-primary answers the retry as a duplicate with
 * the same seq. Recorded once. */
static void test_drop_committed_once(void **state)
{
    (void)state;
    fx_t f;
    char eps[512], why[TT_WHY_LEN], lost[TT_WHY_LEN] = "";
    int modes[] = {DROPPER, PRIMARY};
    fx_start(&f, modes, 2, eps, sizeof eps);
    tt_client_t *c = fx_client(&f, eps);
    Tutti__Envelope env, *reply = NULL;
    Tutti__NoteRequest nr;
    make_note(&env, &nr);
    tt_client_write_how_t how;
    assert_int_equal(tt_client_write(c, &env, &reply, 3000, &how, lost, why), 0);
    assert_int_equal(how, TT_CLIENT_WRITE_WAS_COMMITTED);
    assert_true(reply->write_reply->duplicate);
    assert_int_equal(reply->write_reply->seq, 1);
    tutti__envelope__free_unpacked(reply, NULL);
    assert_int_equal(f.log.n, 1); /* once */
    tt_client_destroy(&c);
    fx_stop(&f);
}

/* Every endpoint a standby: one try each, then TT_ERR_STANDBY. One
 * endpoint: its answer, no move. */
static void test_all_standby(void **state)
{
    (void)state;
    fx_t f;
    char eps[512], why[TT_WHY_LEN];
    int modes[] = {STANDBY, STANDBY};
    fx_start(&f, modes, 2, eps, sizeof eps);
    tt_client_t *c = fx_client(&f, eps);
    Tutti__Envelope env, *reply = NULL;
    Tutti__NoteRequest nr;
    make_note(&env, &nr);
    tt_client_write_how_t how;
    assert_int_equal(tt_client_write(c, &env, &reply, 3000, &how, NULL, why), TT_ERR_STANDBY);
    assert_null(reply);
    assert_non_null(strstr(why, "every coordinator in the list answered as a standby"));
    assert_int_equal(atomic_load(&f.s[0].requests), 1);
    assert_int_equal(atomic_load(&f.s[1].requests), 1);
    tt_client_destroy(&c);

    c = fx_client(&f, f.s[0].ep);
    assert_int_equal(tt_client_write(c, &env, &reply, 3000, &how, NULL, why), TT_ERR_STANDBY);
    assert_string_equal(why, "a standby: ask the primary");
    assert_int_equal(atomic_load(&f.s[0].requests), 2);
    assert_int_equal(atomic_load(&f.s[1].requests), 1);
    tt_client_destroy(&c);
    fx_stop(&f);
}

/* A standby with a CURVE key of its own: --server-key lists one per
 * endpoint; a count that matches neither 1 nor the endpoints is refused. */
static void test_key_per_endpoint(void **state)
{
    (void)state;
    fx_t f;
    char eps[512], why[TT_WHY_LEN], keys[TT_Z85_KEYS_LEN] = "";
    int modes[] = {STANDBY, PRIMARY};
    fx_start_keys(&f, modes, 2, eps, sizeof eps, keys);
    tt_client_t *c = tt_client_new(f.ctx, eps, keys, f.client_kp, 0, why);
    assert_non_null(c);
    assert_string_equal(tt_client_server_key(c), f.s[0].kp->public_z85);
    Tutti__Envelope env, *reply = NULL;
    Tutti__NoteRequest nr;
    make_note(&env, &nr);
    tt_client_write_how_t how;
    assert_int_equal(tt_client_write(c, &env, &reply, 3000, &how, NULL, why), 0);
    assert_int_equal(reply->write_reply->seq, 1);
    tutti__envelope__free_unpacked(reply, NULL);
    assert_string_equal(tt_client_server_key(c), f.s[1].kp->public_z85);
    tt_client_destroy(&c);
    char three[TT_Z85_KEYS_LEN];
    snprintf(three, sizeof three, "%s,%s", keys, f.s[0].kp->public_z85);
    assert_null(tt_client_new(f.ctx, eps, three, f.client_kp, 0, why));
    assert_non_null(strstr(why, "3 certificates for 2 coordinators"));
    assert_null(tt_client_new(f.ctx, eps, "not-a-key", f.client_kp, 0, why));
    fx_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_list),
        cmocka_unit_test(test_down_then_primary),
        cmocka_unit_test(test_standby_then_primary),
        cmocka_unit_test(test_silent_then_primary),
        cmocka_unit_test(test_drop_committed_once),
        cmocka_unit_test(test_all_standby),
        cmocka_unit_test(test_key_per_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
