/* test_wire: decoding untrusted frames (random bytes, mutated and truncated
 * envelopes, wrong or missing versions, oversize lengths), tt_wire_send and
 * tt_wire_recv over inproc PAIR and ROUTER/DEALER sockets (bad frames,
 * extra frames, routing ids, error replies), one CURVE round trip over TCP
 * loopback with a ZAP handler served from the test's own poll loop,
 * endpoint rewriting, and tt_strerror.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "tt_error.h"
#include "tt_keys.h"
#include "tt_wire.h"

static uint32_t xorshift(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* What *out holds before a decode: tt_wire_decode must replace it, even on failure. */
static Tutti__Envelope poison;

/* Packs an envelope with a note into a malloc'd buffer. */
static uint8_t *pack_note(uint32_t version, uint64_t request_id, const char *text, size_t *len)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__NoteRequest note = TUTTI__NOTE_REQUEST__INIT;
    note.text = (char *)text;
    env.version = version;
    env.request_id = request_id;
    env.body_case = TUTTI__ENVELOPE__BODY_NOTE;
    env.note = &note;
    *len = tutti__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(tutti__envelope__pack(&env, buf), *len);
    return buf;
}

/* Decodes and checks the contract on the result: 0 with an envelope of our version, or
 * an error with *out NULL and a reason. */
static int decode(const uint8_t *buf, size_t len)
{
    Tutti__Envelope *env = &poison; /* must be overwritten */
    char why[TT_WHY_LEN] = "";
    int rc = tt_wire_decode(buf, len, &env, why);
    if (rc == 0) {
        assert_non_null(env);
        assert_int_equal(env->version, TT_PROTOCOL_VERSION);
        tutti__envelope__free_unpacked(env, NULL);
    } else {
        assert_null(env);
        assert_true(strlen(why) > 0);
    }
    return rc;
}

/* ---- decoding ---- */

static void test_decode_valid(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = pack_note(TT_PROTOCOL_VERSION, 42, "Takt 12", &len);
    Tutti__Envelope *env = NULL;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_wire_decode(buf, len, &env, why), 0);
    assert_non_null(env);
    assert_int_equal(env->request_id, 42);
    assert_int_equal(env->body_case, TUTTI__ENVELOPE__BODY_NOTE);
    assert_string_equal(env->note->text, "Takt 12");
    tutti__envelope__free_unpacked(env, NULL);
    free(buf);
}

static void test_decode_random(void **state)
{
    (void)state;
    uint32_t x = 0x9e3779b9u;
    uint8_t buf[256];
    int counts[3] = {0};
    for (int iter = 0; iter < 1000; iter++) {
        size_t n = xorshift(&x) % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)xorshift(&x);
        int rc = decode(buf, n);
        assert_true(rc == 0 || rc == TT_ERR_PROTOCOL || rc == TT_ERR_VERSION);
        counts[rc == 0 ? 0 : rc == TT_ERR_PROTOCOL ? 1 : 2]++;
    }
    assert_true(counts[1] > 0); /* most junk does not parse */
}

static void test_decode_mutated(void **state)
{
    (void)state;
    /* Valid envelopes with a few random bytes changed: closer to parsing, so they reach
     * deeper into the decoder. */
    size_t len;
    uint8_t *orig = pack_note(TT_PROTOCOL_VERSION, 7, "a note of some length, Hörner", &len);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    uint32_t x = 12345;
    int ok = 0;
    for (int iter = 0; iter < 2000; iter++) {
        memcpy(buf, orig, len);
        int changes = 1 + (int)(xorshift(&x) % 3);
        for (int c = 0; c < changes; c++)
            buf[xorshift(&x) % len] = (uint8_t)xorshift(&x);
        size_t n = (xorshift(&x) % 4 == 0) ? xorshift(&x) % (len + 1) : len;
        int rc = decode(buf, n);
        assert_true(rc == 0 || rc == TT_ERR_PROTOCOL || rc == TT_ERR_VERSION);
        ok += rc == 0;
    }
    assert_true(ok > 0);
    free(buf);
    free(orig);
}

static void test_decode_truncated(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = pack_note(TT_PROTOCOL_VERSION, 0x1234567890ull, "truncate me", &len);
    /* Fields are packed in number order: version (1), request_id (2), note (13). The note
     * field starts after them; cutting anywhere inside it is malformed. */
    size_t note_start = len - (2 + 2 + strlen("truncate me"));
    assert_int_equal(buf[note_start], (13 << 3) | 2);
    for (size_t cut = note_start + 1; cut < len; cut++)
        assert_int_equal(decode(buf, cut), TT_ERR_PROTOCOL);
    /* Cutting inside the request id varint is malformed too. */
    assert_int_equal(buf[2], (2 << 3) | 0);
    for (size_t cut = 3; cut < note_start; cut++)
        assert_int_equal(decode(buf, cut), TT_ERR_PROTOCOL);
    /* Cut at a field boundary it is a shorter message, still checked for its version. */
    assert_int_equal(decode(buf, note_start), 0);
    assert_int_equal(decode(buf, 2), 0);
    assert_int_equal(decode(buf, 1), TT_ERR_PROTOCOL);
    assert_int_equal(decode(buf, 0), TT_ERR_VERSION);
    free(buf);
}

static void test_decode_versions(void **state)
{
    (void)state;
    const uint32_t versions[] = {0, 2, 3, 255, 65536, UINT32_MAX};
    for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
        size_t len;
        uint8_t *buf = pack_note(versions[i], 9, "x", &len);
        Tutti__Envelope *env = NULL;
        char why[TT_WHY_LEN] = "";
        assert_int_equal(tt_wire_decode(buf, len, &env, why), TT_ERR_VERSION);
        assert_null(env);
        char want[32];
        snprintf(want, sizeof want, "version %u", versions[i]);
        assert_non_null(strstr(why, want));
        free(buf);
    }
    /* Empty frame: every field missing, so the version is 0. */
    assert_int_equal(decode((const uint8_t *)"", 0), TT_ERR_VERSION);
}

static void test_decode_too_big(void **state)
{
    (void)state;
    size_t n = TT_WIRE_MAX_MESSAGE + 1;
    uint8_t *big = calloc(1, n);
    assert_non_null(big);
    Tutti__Envelope *env = &poison;
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_wire_decode(big, n, &env, why), TT_ERR_TOO_BIG);
    assert_null(env);
    assert_int_equal(tt_wire_decode(big, SIZE_MAX, &env, why), TT_ERR_TOO_BIG);
    free(big);
}

/* ---- sockets: inproc without CURVE for framing, TCP with CURVE once ---- */

static void test_pair_round_trip(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
    int linger = 0;
    zmq_setsockopt(a, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(b, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_bind(a, "inproc://tt-wire-pair"), 0);
    assert_int_equal(zmq_connect(b, "inproc://tt-wire-pair"), 0);
    char why[TT_WHY_LEN] = "";
    tt_wire_msg_t msg;

    /* Nothing there yet. */
    assert_int_equal(tt_wire_recv(b, 0, ZMQ_DONTWAIT, &msg, why), TT_ERR_AGAIN);
    assert_null(msg.env);

    /* send sets the version whatever the caller left in it. */
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Heartbeat hb = TUTTI__HEARTBEAT__INIT;
    hb.seq = 17;
    hb.epoch = 99;
    env.version = 7;
    env.request_id = 1234;
    env.body_case = TUTTI__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    assert_int_equal(tt_wire_send(a, NULL, 0, &env, why), 0);
    assert_int_equal(env.version, TT_PROTOCOL_VERSION);
    assert_int_equal(tt_wire_recv(b, 0, 0, &msg, why), 0);
    assert_non_null(msg.env);
    assert_int_equal(msg.request_id, 1234);
    assert_int_equal(msg.routing_id_len, 0);
    assert_string_equal(msg.user_id, "");
    assert_int_equal(msg.env->body_case, TUTTI__ENVELOPE__BODY_HEARTBEAT);
    assert_int_equal(msg.env->heartbeat->seq, 17);
    assert_int_equal(msg.env->heartbeat->epoch, 99);
    tt_wire_msg_clear(&msg);
    assert_null(msg.env);
    tt_wire_msg_clear(&msg); /* twice is fine */

    /* Junk, a wrong version, and two frames: refused, and the next message still comes
     * through intact. */
    assert_int_equal(zmq_send(a, "\xff\xff\xff", 3, 0), 3);
    assert_int_equal(tt_wire_recv(b, 0, 0, &msg, why), TT_ERR_PROTOCOL);
    assert_null(msg.env);
    size_t len;
    uint8_t *v2 = pack_note(2, 5, "from the future", &len);
    assert_int_equal(zmq_send(a, v2, len, 0), (int)len);
    assert_int_equal(tt_wire_recv(b, 0, 0, &msg, why), TT_ERR_VERSION);
    assert_null(msg.env);
    free(v2);
    uint8_t *good = pack_note(TT_PROTOCOL_VERSION, 6, "two frames", &len);
    assert_int_equal(zmq_send(a, good, len, ZMQ_SNDMORE), (int)len);
    assert_int_equal(zmq_send(a, good, len, ZMQ_SNDMORE), (int)len);
    assert_int_equal(zmq_send(a, "tail", 4, 0), 4);
    assert_int_equal(tt_wire_recv(b, 0, 0, &msg, why), TT_ERR_PROTOCOL);
    assert_null(msg.env);
    assert_int_equal(zmq_send(a, good, len, 0), (int)len);
    assert_int_equal(tt_wire_recv(b, 0, 0, &msg, why), 0);
    assert_int_equal(msg.request_id, 6);
    assert_string_equal(msg.env->note->text, "two frames");
    tt_wire_msg_clear(&msg);
    assert_int_equal(tt_wire_recv(b, 0, ZMQ_DONTWAIT, &msg, why), TT_ERR_AGAIN);
    free(good);

    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

static void test_router_dealer(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER), *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "room-1", 6), 0);
    assert_int_equal(zmq_bind(router, "inproc://tt-wire-router"), 0);
    assert_int_equal(zmq_connect(dealer, "inproc://tt-wire-router"), 0);
    char why[TT_WHY_LEN] = "";
    tt_wire_msg_t msg;

    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__StatusRequest st = TUTTI__STATUS_REQUEST__INIT;
    env.request_id = 77;
    env.body_case = TUTTI__ENVELOPE__BODY_STATUS;
    env.status = &st;
    assert_int_equal(tt_wire_send(dealer, NULL, 0, &env, why), 0);
    assert_int_equal(tt_wire_recv(router, 1, 0, &msg, why), 0);
    assert_int_equal(msg.routing_id_len, 6);
    assert_memory_equal(msg.routing_id, "room-1", 6);
    assert_int_equal(msg.request_id, 77);
    assert_int_equal(msg.env->body_case, TUTTI__ENVELOPE__BODY_STATUS);

    /* Answer with an error: the code travels positive. */
    assert_int_equal(tt_wire_send_error(router, msg.routing_id, msg.routing_id_len, msg.request_id,
                                        TT_ERR_DENIED, "role room may not"),
                     0);
    tt_wire_msg_clear(&msg);
    assert_int_equal(tt_wire_recv(dealer, 0, 0, &msg, why), 0);
    assert_int_equal(msg.request_id, 77);
    assert_int_equal(msg.env->body_case, TUTTI__ENVELOPE__BODY_ERROR);
    assert_int_equal(msg.env->error->code, (uint32_t)-TT_ERR_DENIED);
    assert_string_equal(msg.env->error->message, "role room may not");
    tt_wire_msg_clear(&msg);

    /* A malformed request still yields the routing id, so it can be answered. */
    assert_int_equal(zmq_send(dealer, "\x08", 1, 0), 1); /* truncated varint */
    assert_int_equal(tt_wire_recv(router, 1, 0, &msg, why), TT_ERR_PROTOCOL);
    assert_int_equal(msg.routing_id_len, 6);
    assert_memory_equal(msg.routing_id, "room-1", 6);
    assert_null(msg.env);
    assert_int_equal(zmq_send(dealer, "", 0, 0), 0); /* empty: version 0 */
    assert_int_equal(tt_wire_recv(router, 1, 0, &msg, why), TT_ERR_VERSION);
    assert_int_equal(msg.routing_id_len, 6);
    assert_null(msg.env);
    assert_int_equal(tt_wire_send_error(router, msg.routing_id, msg.routing_id_len, 0,
                                        TT_ERR_VERSION, "upgrade"),
                     0);
    assert_int_equal(tt_wire_recv(dealer, 0, 0, &msg, why), 0);
    assert_int_equal(msg.env->error->code, (uint32_t)-TT_ERR_VERSION);
    tt_wire_msg_clear(&msg);
    assert_int_equal(tt_wire_recv(router, 1, ZMQ_DONTWAIT, &msg, why), TT_ERR_AGAIN);

    /* Truncated, wrong version, two frames: the request id is still read. */
    uint8_t buf[256];
    env.version = TT_PROTOCOL_VERSION;
    size_t len = tutti__envelope__pack(&env, buf);
    assert_int_equal(zmq_send(dealer, buf, len - 1, 0), (int)len - 1);
    assert_int_equal(tt_wire_recv(router, 1, 0, &msg, why), TT_ERR_PROTOCOL);
    assert_int_equal(msg.request_id, 77);
    env.version = 99;
    len = tutti__envelope__pack(&env, buf);
    assert_int_equal(zmq_send(dealer, buf, len, 0), (int)len);
    assert_int_equal(tt_wire_recv(router, 1, 0, &msg, why), TT_ERR_VERSION);
    assert_int_equal(msg.request_id, 77);
    assert_int_equal(zmq_send(dealer, buf, len, ZMQ_SNDMORE), (int)len);
    assert_int_equal(zmq_send(dealer, "x", 1, 0), 1);
    assert_int_equal(tt_wire_recv(router, 1, 0, &msg, why), TT_ERR_PROTOCOL);
    assert_int_equal(msg.request_id, 77);
    assert_int_equal(tt_wire_recv(router, 1, ZMQ_DONTWAIT, &msg, why), TT_ERR_AGAIN);

    zmq_close(router);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
}

/* The request id of a frame that does not decode: read when the bytes up to
 * it make sense, 0 otherwise, and never read past the end. */
static void test_peek_request_id(void **state)
{
    (void)state;
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__NoteRequest nr = TUTTI__NOTE_REQUEST__INIT;
    nr.text = "a note";
    env.version = TT_PROTOCOL_VERSION;
    env.request_id = 300; /* two varint bytes */
    env.body_case = TUTTI__ENVELOPE__BODY_NOTE;
    env.note = &nr;
    uint8_t buf[64];
    size_t len = tutti__envelope__pack(&env, buf);
    assert_int_equal(tt_wire_peek_request_id(buf, len), 300);
    for (size_t cut = 0; cut < len; cut++) { /* each prefix on its own heap block (ASan) */
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, buf, cut);
        uint64_t id = tt_wire_peek_request_id(p, cut);
        assert_true(id == 0 || id == 300);
        assert_int_equal(id == 300, cut >= 5); /* 08 01 10 ac 02 */
        free(p);
    }
    /* Fields before it of every wire type are skipped; garbage stops the walk. */
    const uint8_t mixed[] = {0x19, 1,   2,   3,   4, 5, 6, 7, 8, /* field 3, 64-bit */
                             0x25, 1,   2,   3,   4,             /* field 4, 32-bit */
                             0x2a, 2,   'h', 'i',                /* field 5, bytes */
                             0x10, 42,                           /* request id */
                             0x0b, 0xff};                        /* a group: stop */
    assert_int_equal(tt_wire_peek_request_id(mixed, sizeof mixed), 42);
    const uint8_t longlen[] = {0x2a, 0x7f, 0x10, 9}; /* a length past the end */
    assert_int_equal(tt_wire_peek_request_id(longlen, sizeof longlen), 0);
    const uint8_t endless[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(tt_wire_peek_request_id(endless, sizeof endless), 0);
    assert_int_equal(tt_wire_peek_request_id(NULL, 0), 0);
}

/* Answers one ZAP request: accept CURVE clients, naming them by their Z85 public key. */
static void serve_zap(void *zap)
{
    zmq_msg_t part[7];
    int n = 0, more = 1;
    while (more && n < 7) {
        zmq_msg_init(&part[n]);
        assert_true(zmq_msg_recv(&part[n], zap, 0) >= 0);
        more = zmq_msg_more(&part[n]);
        n++;
    }
    assert_int_equal(more, 0);
    assert_int_equal(n, 7);
    assert_int_equal(zmq_msg_size(&part[2]), strlen(TT_ZAP_DOMAIN));
    assert_memory_equal(zmq_msg_data(&part[2]), TT_ZAP_DOMAIN, strlen(TT_ZAP_DOMAIN));
    assert_int_equal(zmq_msg_size(&part[5]), 5);
    assert_memory_equal(zmq_msg_data(&part[5]), "CURVE", 5);
    assert_int_equal(zmq_msg_size(&part[6]), 32);
    char user[TT_Z85_KEY_LEN + 1];
    assert_non_null(zmq_z85_encode(user, zmq_msg_data(&part[6]), 32));
    zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(zap, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
    zmq_send(zap, "200", 3, ZMQ_SNDMORE);
    zmq_send(zap, "OK", 2, ZMQ_SNDMORE);
    zmq_send(zap, user, TT_Z85_KEY_LEN, ZMQ_SNDMORE);
    zmq_send(zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls sock (and serves ZAP meanwhile) until it is readable or ms pass. */
static int wait_readable(void *zap, void *sock, int ms)
{
    int64_t end = now_ms() + ms;
    while (now_ms() < end) {
        zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, {zap, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, 2, 50);
        assert_true(rc >= 0);
        if (items[1].revents & ZMQ_POLLIN)
            serve_zap(zap);
        if (items[0].revents & ZMQ_POLLIN)
            return 1;
    }
    return 0;
}

static void test_curve_round_trip(void **state)
{
    (void)state;
    char why[TT_WHY_LEN] = "";
    tt_keypair_t *server_kp = tt_keypair_generate(why), *client_kp = tt_keypair_generate(why);
    tt_keypair_t *stranger = tt_keypair_generate(why);
    assert_non_null(server_kp);
    assert_non_null(client_kp);
    assert_non_null(stranger);

    void *ctx = zmq_ctx_new();
    void *zap = zmq_socket(ctx, ZMQ_REP);
    assert_int_equal(zmq_bind(zap, "inproc://zeromq.zap.01"), 0);
    void *server = zmq_socket(ctx, ZMQ_ROUTER);
    void *client = zmq_socket(ctx, ZMQ_DEALER);
    void *wrong = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(zap, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(tt_wire_setup_server(server, server_kp, why), 0);
    assert_int_equal(tt_wire_setup_client(client, client_kp, server_kp->public_z85, why), 0);
    /* A client that expects another server key. */
    assert_int_equal(tt_wire_setup_client(wrong, client_kp, stranger->public_z85, why), 0);

    assert_int_equal(zmq_bind(server, "tcp://127.0.0.1:*"), 0);
    unsigned port = tt_wire_bound_port(server);
    assert_true(port > 0 && port < 65536);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    assert_int_equal(zmq_connect(client, ep), 0);
    assert_int_equal(zmq_connect(wrong, ep), 0);

    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Hello hello = TUTTI__HELLO__INIT;
    hello.program = "test_wire";
    hello.replica_seq = 3;
    env.request_id = 1;
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    assert_int_equal(tt_wire_send(wrong, NULL, 0, &env, why), 0);
    env.request_id = 2;
    assert_int_equal(tt_wire_send(client, NULL, 0, &env, why), 0);

    assert_true(wait_readable(zap, server, 5000));
    tt_wire_msg_t msg;
    assert_int_equal(tt_wire_recv(server, 1, ZMQ_DONTWAIT, &msg, why), 0);
    assert_int_equal(msg.request_id, 2); /* only the right client got through */
    assert_string_equal(msg.user_id, client_kp->public_z85);
    assert_true(msg.routing_id_len > 0);
    assert_string_equal(msg.env->hello->program, "test_wire");
    assert_int_equal(msg.env->hello->replica_seq, 3);

    Tutti__Envelope reply = TUTTI__ENVELOPE__INIT;
    Tutti__HelloReply hr = TUTTI__HELLO_REPLY__INIT;
    hr.name = "stage";
    hr.role = "room";
    reply.request_id = msg.request_id;
    reply.body_case = TUTTI__ENVELOPE__BODY_HELLO_REPLY;
    reply.hello_reply = &hr;
    assert_int_equal(tt_wire_send(server, msg.routing_id, msg.routing_id_len, &reply, why), 0);
    tt_wire_msg_clear(&msg);

    assert_true(wait_readable(zap, client, 5000));
    assert_int_equal(tt_wire_recv(client, 0, ZMQ_DONTWAIT, &msg, why), 0);
    assert_int_equal(msg.request_id, 2);
    assert_string_equal(msg.env->hello_reply->name, "stage");
    tt_wire_msg_clear(&msg);

    /* The client with the wrong server key never got a message through. */
    assert_false(wait_readable(zap, server, 200));

    zmq_close(wrong);
    zmq_close(client);
    zmq_close(server);
    zmq_close(zap);
    zmq_ctx_term(ctx);
    tt_keypair_destroy(&stranger);
    tt_keypair_destroy(&client_kp);
    tt_keypair_destroy(&server_kp);
}

static void test_bound_port(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    assert_int_equal(tt_wire_bound_port(s), 0); /* not bound */
    assert_int_equal(zmq_bind(s, "inproc://tt-wire-port"), 0);
    assert_int_equal(tt_wire_bound_port(s), 0); /* inproc has no port */
    zmq_close(s);
    zmq_ctx_term(ctx);
}

/* ---- endpoints and error names ---- */

static void test_endpoint_with_port(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(tt_wire_endpoint_with_port("tcp://127.0.0.1:7700", 7701, out, sizeof out), 0);
    assert_string_equal(out, "tcp://127.0.0.1:7701");
    assert_int_equal(tt_wire_endpoint_with_port("tcp://[::1]:7700", 7701, out, sizeof out), 0);
    assert_string_equal(out, "tcp://[::1]:7701");
    assert_int_equal(tt_wire_endpoint_with_port("tcp://conductor.local:1", 65535, out, sizeof out),
                     0);
    assert_string_equal(out, "tcp://conductor.local:65535");
    assert_int_equal(tt_wire_endpoint_with_port("tcp://*:7700", 7702, out, sizeof out), 0);
    assert_string_equal(out, "tcp://*:7702");

    assert_int_equal(tt_wire_endpoint_with_port("ipc://x", 1, out, sizeof out), TT_ERR_INVALID);
    assert_int_equal(tt_wire_endpoint_with_port("ipc://x:1", 1, out, sizeof out), TT_ERR_INVALID);
    assert_int_equal(tt_wire_endpoint_with_port("garbage", 1, out, sizeof out), TT_ERR_INVALID);
    assert_int_equal(tt_wire_endpoint_with_port("", 1, out, sizeof out), TT_ERR_INVALID);
    assert_int_equal(tt_wire_endpoint_with_port("tcp://", 1, out, sizeof out), TT_ERR_INVALID);
    assert_int_equal(tt_wire_endpoint_with_port("tcp://host", 1, out, sizeof out), TT_ERR_INVALID);
    assert_int_equal(tt_wire_endpoint_with_port("TCP://h:1", 1, out, sizeof out), TT_ERR_INVALID);

    /* Exactly enough room, and one byte less. */
    const char *want = "tcp://127.0.0.1:7701";
    char small[32];
    memset(small, 'Z', sizeof small);
    assert_int_equal(
        tt_wire_endpoint_with_port("tcp://127.0.0.1:7700", 7701, small, strlen(want) + 1), 0);
    assert_string_equal(small, want);
    memset(small, 'Z', sizeof small);
    assert_int_equal(tt_wire_endpoint_with_port("tcp://127.0.0.1:7700", 7701, small, strlen(want)),
                     TT_ERR_INVALID);
    assert_int_equal(small[strlen(want)], 'Z'); /* nothing written past len */
    assert_int_equal(tt_wire_endpoint_with_port("tcp://127.0.0.1:7700", 7701, small, 4),
                     TT_ERR_INVALID);
}

static void test_strerror(void **state)
{
    (void)state;
    const int codes[] = {TT_OK,           TT_ERR_IO,      TT_ERR_NOMEM,       TT_ERR_INVALID,
                         TT_ERR_PROTOCOL, TT_ERR_VERSION, TT_ERR_DENIED,      TT_ERR_AUTH,
                         TT_ERR_STORE,    TT_ERR_CRYPTO,  TT_ERR_NOTFOUND,    TT_ERR_TIMEOUT,
                         TT_ERR_TOO_BIG,  TT_ERR_CORRUPT, TT_ERR_UNAVAILABLE, TT_ERR_AGAIN,
                         TT_ERR_STANDBY};
    const size_t n = sizeof codes / sizeof *codes;
    assert_int_equal(n, 17);
    const char *unknown = tt_strerror(-9999);
    assert_non_null(unknown);
    assert_true(strlen(unknown) > 0);
    assert_string_equal(tt_strerror(1), unknown);
    assert_string_equal(tt_strerror(TT_ERR_STANDBY - 1), unknown);
    for (size_t i = 0; i < n; i++) {
        const char *s = tt_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, unknown);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, tt_strerror(codes[j]));
    }
    /* tt_fail formats into why and returns the code. */
    char why[TT_WHY_LEN];
    assert_int_equal(tt_fail(why, TT_ERR_IO, "opening %s: %d", "x", 5), TT_ERR_IO);
    assert_string_equal(why, "opening x: 5");
    assert_int_equal(tt_fail(NULL, TT_ERR_AUTH, "no buffer"), TT_ERR_AUTH);
    char longer[2 * TT_WHY_LEN];
    memset(longer, 'w', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(tt_fail(why, TT_ERR_IO, "%s", longer), TT_ERR_IO);
    assert_int_equal(strlen(why), TT_WHY_LEN - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_valid),       cmocka_unit_test(test_decode_random),
        cmocka_unit_test(test_decode_mutated),     cmocka_unit_test(test_decode_truncated),
        cmocka_unit_test(test_decode_versions),    cmocka_unit_test(test_decode_too_big),
        cmocka_unit_test(test_pair_round_trip),    cmocka_unit_test(test_router_dealer),
        cmocka_unit_test(test_curve_round_trip),   cmocka_unit_test(test_bound_port),
        cmocka_unit_test(test_endpoint_with_port), cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_peek_request_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
