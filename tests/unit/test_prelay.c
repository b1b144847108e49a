/* test_prelay: the room agent's prelay fetcher (agents/room/agent_prelay.c)
 * against a stand-in for the coordinator's upload service: a CURVE ROUTER
 * in this thread that serves one file's MediaFetch requests as each case
 * says, and counts how many were in flight at once.
 *
 * Pipelining: 2 requests (the default) and 3 in flight, never more, and
 * the file arrives whole and verified. A server that answers short (less
 * than asked): the pieces asked past it are dropped and asked again, the
 * file still verifies. A lost reply (the next one comes first): the agent
 * drops the connection and asks again from what it holds, on a new one. A
 * whole .part from before a restart verifies without a request; one with
 * a changed byte is caught and fetched again. More than 3 in flight is
 * refused at start.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "agent_prelay.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_wire.h"

#define SIZE (5 * (1 << 20) + 1234) /* six pieces, the last one short */
#define MAX_REQS 256

typedef enum { SERVE_ALL, SERVE_SHORT, SERVE_LOSE_THIRD } serve_t;

typedef struct {
    void *ctx, *router;
    tt_keypair_t *server, *client;
    unsigned port;
    char dir[64];
    uint8_t *data;
    tt_media_entry_t e;
    /* what the server saw */
    uint64_t offsets[MAX_REQS];
    size_t n_reqs;
    int max_in_flight;
    int connections; /* distinct routing ids */
} fx_t;

static void fx_setup(fx_t *f)
{
    memset(f, 0, sizeof *f);
    char why[TT_WHY_LEN];
    assert_int_equal(sodium_init() >= 0, 1);
    f->ctx = zmq_ctx_new();
    assert_non_null(f->server = tt_keypair_generate(why));
    assert_non_null(f->client = tt_keypair_generate(why));
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    assert_int_equal(tt_wire_setup_server(f->router, f->server, why), 0);
    assert_int_equal(zmq_bind(f->router, "tcp://127.0.0.1:*"), 0);
    char ep[256];
    size_t len = sizeof ep;
    assert_int_equal(zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    f->port = (unsigned)atoi(strrchr(ep, ':') + 1);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_prelay.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_non_null(f->data = malloc(SIZE));
    randombytes_buf(f->data, SIZE);
    tt_media_entry_t *e = &f->e;
    e->seq = 7;
    snprintf(e->cue, sizeof e->cue, "1M1");
    snprintf(e->file, sizeof e->file, "1M1_prelay_x.wav");
    snprintf(e->name, sizeof e->name, "x");
    e->kind = TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY;
    e->size = SIZE;
    e->rate = 48000;
    e->channels = 1;
    e->frames = (SIZE - 44) / 3;
    crypto_generichash(e->hash, sizeof e->hash, f->data, SIZE, NULL, 0);
}

static void fx_teardown(fx_t *f)
{
    char path[128];
    const char *names[] = {"1M1_prelay_x.wav", "1M1_prelay_x.wav.part", "index.json",
                           "index.json.tmp"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", f->dir, names[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(f->dir), 0);
    zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    tt_keypair_destroy(&f->server);
    tt_keypair_destroy(&f->client);
    free(f->data);
}

static agent_prelay_t *fx_start(fx_t *f, int pieces)
{
    char why[TT_WHY_LEN];
    agent_prelay_config_t cfg = {
        .ctx = f->ctx,
        .endpoint = "tcp://127.0.0.1:1",
        .server_key_z85 = f->server->public_z85,
        .keys = f->client,
        .dir = f->dir,
        .reply_timeout_ms = 3000,
        .pieces = pieces,
    };
    agent_prelay_t *p = agent_prelay_start(&cfg, why);
    if (!p)
        fail_msg("start: %s", why);
    agent_prelay_set_port(p, f->port);
    agent_prelay_want(p, &f->e);
    return p;
}

typedef struct {
    uint8_t rid[TT_WIRE_MAX_ROUTING_ID];
    size_t rid_len;
    uint64_t request_id, off;
    uint32_t max;
} req_t;

static void answer(fx_t *f, const req_t *r, serve_t how)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__MediaData md = TUTTI__MEDIA_DATA__INIT;
    Tutti__Media m;
    char *rooms[TT_MEDIA_MAX_ROOMS];
    tt_media_entry_to_record(&f->e, &m, rooms);
    size_t n = r->max && r->max < (1u << 20) ? r->max : (1u << 20);
    if (how == SERVE_SHORT && n > 300000)
        n = 300000; /* a coordinator with smaller pieces */
    if (n > SIZE - r->off)
        n = (size_t)(SIZE - r->off);
    md.offset = r->off;
    md.data.data = f->data + r->off;
    md.data.len = n;
    md.media = &m;
    env.request_id = r->request_id;
    env.body_case = TUTTI__ENVELOPE__BODY_MEDIA_DATA;
    env.media_data = &md;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_wire_send(f->router, r->rid, r->rid_len, &env, why), 0);
}

/* Serves until the agent says it holds the file (1) or timeout_ms pass (0).
 * Requests are read for 20 ms before the oldest is answered, so every one
 * the agent would keep in flight is seen in flight. */
static int serve(fx_t *f, agent_prelay_t *p, serve_t how, int timeout_ms)
{
    req_t q[16];
    size_t nq = 0;
    uint8_t last_rid[TT_WIRE_MAX_ROUTING_ID];
    size_t last_rid_len = 0;
    int64_t end = tt_time_mono_ns() + (int64_t)timeout_ms * 1000000, first_ns = 0;
    while (tt_time_mono_ns() < end) {
        zmq_pollitem_t items[2] = {{f->router, 0, ZMQ_POLLIN, 0},
                                   {agent_prelay_socket(p), 0, ZMQ_POLLIN, 0}};
        assert_true(zmq_poll(items, 2, 5) >= 0);
        uint64_t seq;
        if ((items[1].revents & ZMQ_POLLIN) && agent_prelay_read(p, &seq)) {
            assert_int_equal(seq, f->e.seq);
            return 1;
        }
        tt_wire_msg_t m;
        char why[TT_WHY_LEN];
        while (tt_wire_recv(f->router, 1, ZMQ_DONTWAIT, &m, why) == 0) {
            assert_int_equal(m.env->body_case, TUTTI__ENVELOPE__BODY_MEDIA_FETCH);
            assert_int_equal(m.env->media_fetch->seq, f->e.seq);
            if (m.routing_id_len != last_rid_len || memcmp(m.routing_id, last_rid, last_rid_len)) {
                f->connections++;
                memcpy(last_rid, m.routing_id, m.routing_id_len);
                last_rid_len = m.routing_id_len;
                nq = 0; /* the old connection's requests go unanswered */
            }
            assert_true(nq < sizeof q / sizeof *q);
            req_t *r = &q[nq++];
            memcpy(r->rid, m.routing_id, m.routing_id_len);
            r->rid_len = m.routing_id_len;
            r->request_id = m.env->request_id;
            r->off = m.env->media_fetch->offset;
            r->max = m.env->media_fetch->max_bytes;
            assert_true(f->n_reqs < MAX_REQS);
            f->offsets[f->n_reqs++] = r->off;
            if ((int)nq > f->max_in_flight)
                f->max_in_flight = (int)nq;
            if (nq == 1)
                first_ns = tt_time_mono_ns();
            tt_wire_msg_clear(&m);
        }
        if (nq && tt_time_mono_ns() - first_ns > 20000000) {
            if (!(how == SERVE_LOSE_THIRD && f->n_reqs - nq == 2 && f->connections == 1))
                answer(f, &q[0], how);
            memmove(&q[0], &q[1], --nq * sizeof *q);
            first_ns = tt_time_mono_ns();
        }
    }
    return 0;
}

/* The verified file is the data, no .part is left, the index lists it. */
static void check_held(const fx_t *f)
{
    char path[128];
    snprintf(path, sizeof path, "%s/1M1_prelay_x.wav", f->dir);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint8_t *got = malloc(SIZE + 1);
    assert_int_equal(read(fd, got, SIZE + 1), SIZE);
    assert_memory_equal(got, f->data, SIZE);
    free(got);
    close(fd);
    snprintf(path, sizeof path, "%s/1M1_prelay_x.wav.part", f->dir);
    assert_int_not_equal(access(path, F_OK), 0);
}

static void test_two_in_flight(void **state)
{
    (void)state;
    fx_t f;
    fx_setup(&f);
    agent_prelay_t *p = fx_start(&f, 0);
    assert_int_equal(serve(&f, p, SERVE_ALL, 10000), 1);
    agent_prelay_stop(&p);
    check_held(&f);
    assert_int_equal(f.max_in_flight, AGENT_PRELAY_PIECES);
    assert_int_equal(f.n_reqs, 6); /* each piece asked once, in order */
    for (size_t i = 0; i < f.n_reqs; i++)
        assert_int_equal(f.offsets[i], i << 20);
    assert_int_equal(f.connections, 1);
    fx_teardown(&f);
}

static void test_three_in_flight(void **state)
{
    (void)state;
    fx_t f;
    fx_setup(&f);
    agent_prelay_t *p = fx_start(&f, 3);
    assert_int_equal(serve(&f, p, SERVE_ALL, 10000), 1);
    agent_prelay_stop(&p);
    check_held(&f);
    assert_int_equal(f.max_in_flight, 3);
    assert_int_equal(f.n_reqs, 6);
    /* More would risk the coordinator's refusal: not started. */
    char why[TT_WHY_LEN];
    agent_prelay_config_t cfg = {
        .ctx = f.ctx,
        .endpoint = "tcp://127.0.0.1:1",
        .server_key_z85 = f.server->public_z85,
        .keys = f.client,
        .dir = f.dir,
        .pieces = AGENT_PRELAY_MAX_PIECES + 1,
    };
    assert_null(agent_prelay_start(&cfg, why));
    assert_non_null(strstr(why, "at most 3"));
    fx_teardown(&f);
}

/* Less than asked: the piece asked after a short one started past the
 * end of what is held; its bytes are dropped and asked for again. */
static void test_short_replies(void **state)
{
    (void)state;
    fx_t f;
    fx_setup(&f);
    agent_prelay_t *p = fx_start(&f, 0);
    assert_int_equal(serve(&f, p, SERVE_SHORT, 20000), 1);
    agent_prelay_stop(&p);
    check_held(&f);
    assert_true(f.max_in_flight <= AGENT_PRELAY_PIECES);
    assert_int_equal(f.connections, 1);
    /* Every byte came from a request at the held length: 300000-byte steps. */
    uint64_t held = 0;
    for (size_t i = 0; i < f.n_reqs; i++)
        if (f.offsets[i] == held)
            held += held + 300000 < SIZE ? 300000 : SIZE - held;
    assert_int_equal(held, SIZE);
    fx_teardown(&f);
}

/* A reply never comes and the next one does: a new connection asks again
 * from the bytes held (2 MiB: the first two pieces). */
static void test_lost_reply(void **state)
{
    (void)state;
    fx_t f;
    fx_setup(&f);
    agent_prelay_t *p = fx_start(&f, 0);
    assert_int_equal(serve(&f, p, SERVE_LOSE_THIRD, 20000), 1);
    agent_prelay_stop(&p);
    check_held(&f);
    assert_int_equal(f.connections, 2);
    /* 0, 1, 2 (lost), 3 (out of order: dropped); then 2 again on the new one. */
    assert_true(f.n_reqs >= 5);
    assert_int_equal(f.offsets[0], 0);
    assert_int_equal(f.offsets[1], 1 << 20);
    assert_int_equal(f.offsets[2], 2 << 20);
    assert_int_equal(f.offsets[3], 3 << 20);
    assert_int_equal(f.offsets[4], 2 << 20);
    fx_teardown(&f);
}

/* A whole .part (the rename did not happen before a restart): verified
 * and put in place, nothing asked for. */
static void test_whole_part(void **state)
{
    (void)state;
    fx_t f;
    fx_setup(&f);
    char path[128];
    snprintf(path, sizeof path, "%s/1M1_prelay_x.wav.part", f.dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, f.data, SIZE), SIZE);
    close(fd);
    agent_prelay_t *p = fx_start(&f, 0);
    assert_int_equal(serve(&f, p, SERVE_ALL, 5000), 1);
    agent_prelay_stop(&p);
    check_held(&f);
    assert_int_equal(f.n_reqs, 0);
    fx_teardown(&f);
}

/* A .part left by a restart with a byte changed since: the fetch resumes
 * from its length, the hash (the kept bytes hashed once, the rest as they
 * come) catches it at the end, and the file comes again from byte 0. */
static void test_changed_part(void **state)
{
    (void)state;
    fx_t f;
    fx_setup(&f);
    char path[128];
    snprintf(path, sizeof path, "%s/1M1_prelay_x.wav.part", f.dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    const size_t kept = (2 << 20) + 5;
    assert_int_equal(write(fd, f.data, kept), (ssize_t)kept);
    assert_int_equal(pwrite(fd, "X", 1, 1000), 1);
    close(fd);
    agent_prelay_t *p = fx_start(&f, 0);
    assert_int_equal(serve(&f, p, SERVE_ALL, 15000), 1);
    agent_prelay_stop(&p);
    check_held(&f);
    assert_int_equal(f.offsets[0], kept);
    size_t restart = 0;
    while (restart < f.n_reqs && f.offsets[restart] != 0)
        restart++;
    assert_true(restart < f.n_reqs); /* asked again from byte 0 */
    fx_teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_in_flight), cmocka_unit_test(test_three_in_flight),
        cmocka_unit_test(test_short_replies), cmocka_unit_test(test_lost_reply),
        cmocka_unit_test(test_whole_part),    cmocka_unit_test(test_changed_part),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
