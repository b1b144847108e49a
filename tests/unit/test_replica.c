/* test_replica: the replica folds through its caller's fold and never
 * sits on records its state does not hold.
 *
 * A store is filled with signed records (genesis + notes); the replica
 * folds it at start through a counting fold. A fake coordinator (a CURVE
 * ROUTER in this process) answers hello and fetch with more records, so the
 * live path runs too: a fold that refuses a record once makes the replica
 * refold its store and go on; a fold that always refuses it makes
 * tt_replica_handle fail with TT_ERR_CORRUPT. With snapshots on, records
 * appended past a multiple of snapshot_every store a snapshot of the state
 * before them, and the next start restores it and folds only what follows
 * (a damaged one, or snapshots off, fold everything).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "tt_chain.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_replica.h"
#include "tt_store.h"
#include "tt_time.h"
#include "tt_wire.h"

#define N_RECORDS 8 /* genesis + 7 notes; the store starts with the first 4 */
#define IN_STORE 4

typedef struct {
    uint8_t *data;
    size_t len;
    uint8_t hash[TT_HASH_LEN];
} sealed_t;

typedef struct {
    char dir[64];
    tt_signer_t *signer;
    sealed_t rec[N_RECORDS + 1]; /* 1-based */
    tt_store_t *store;
    tt_keypair_t *server_kp, *client_kp;
    void *ctx, *router, *pub;
    char endpoint[64], updates[64];
} fixture_t;

/* What the fold saw, and when it refuses. */
typedef struct {
    uint64_t folded_seq; /* last record folded since the last reset */
    int resets;
    int live;            /* on_record calls */
    uint64_t refuse_seq; /* refuse this record ... */
    int refusals_left;   /* ... this many times (-1: always) */
    int folds;           /* fold calls */
    int saves;
    uint64_t restored; /* the seq of the last snapshot restored */
} fold_t;

static int fold(void *arg, const Tutti__Record *rec, const uint8_t hash[TT_HASH_LEN], char *why)
{
    (void)hash;
    fold_t *f = arg;
    if (rec->seq == f->refuse_seq && f->refusals_left != 0) {
        if (f->refusals_left > 0)
            f->refusals_left--;
        return tt_fail(why, TT_ERR_INVALID, "test refuses record %llu",
                       (unsigned long long)rec->seq);
    }
    if (rec->seq != f->folded_seq + 1)
        return tt_fail(why, TT_ERR_INVALID, "out of order: %llu after %llu",
                       (unsigned long long)rec->seq, (unsigned long long)f->folded_seq);
    f->folded_seq = rec->seq;
    f->folds++;
    return 0;
}

/* The state as a snapshot holds it: the seq folded up to, 8 bytes. */
static int save(void *arg, uint8_t **out, size_t *len, char *why)
{
    fold_t *f = arg;
    if (!(*out = malloc(sizeof f->folded_seq)))
        return tt_fail(why, TT_ERR_NOMEM, "saving");
    memcpy(*out, &f->folded_seq, sizeof f->folded_seq);
    *len = sizeof f->folded_seq;
    f->saves++;
    return 0;
}

static int restore(void *arg, uint64_t seq, const uint8_t head_hash[TT_HASH_LEN],
                   const uint8_t signing_pk[TT_SIGN_PK_LEN], const uint8_t *state, size_t len,
                   char *why)
{
    (void)head_hash;
    (void)signing_pk;
    fold_t *f = arg;
    uint64_t v = 0;
    if (len != sizeof v)
        return tt_fail(why, TT_ERR_CORRUPT, "a state of %zu bytes", len);
    memcpy(&v, state, sizeof v);
    if (v != seq)
        return tt_fail(why, TT_ERR_CORRUPT, "a state of %llu", (unsigned long long)v);
    f->folded_seq = v;
    f->restored = seq;
    return 0;
}

static void reset(void *arg)
{
    fold_t *f = arg;
    f->folded_seq = 0;
    f->resets++;
}

static void on_record(void *arg, const Tutti__Record *rec)
{
    (void)rec;
    ((fold_t *)arg)->live++;
}

static void seal_all(fixture_t *fx)
{
    static const uint8_t zero[TT_HASH_LEN];
    for (uint64_t seq = 1; seq <= N_RECORDS; seq++) {
        Tutti__Record rec = TUTTI__RECORD__INIT;
        Tutti__Genesis g = TUTTI__GENESIS__INIT;
        Tutti__Note n = TUTTI__NOTE__INIT;
        char text[32];
        rec.at_unix_ns = 1700000000000000000;
        rec.actor = "coordinator";
        rec.actor_role = "coordinator";
        if (seq == 1) {
            g.signing_public_key.data = fx->signer->public_key;
            g.signing_public_key.len = TT_SIGN_PK_LEN;
            g.session_name = "replica-test";
            rec.body_case = TUTTI__RECORD__BODY_GENESIS;
            rec.genesis = &g;
        } else {
            snprintf(text, sizeof text, "note %llu", (unsigned long long)seq);
            n.text = text;
            rec.body_case = TUTTI__RECORD__BODY_NOTE;
            rec.note = &n;
        }
        char why[TT_WHY_LEN] = "";
        sealed_t *s = &fx->rec[seq];
        int rc = tt_chain_seal(fx->signer, &rec, seq, seq == 1 ? zero : fx->rec[seq - 1].hash,
                               &s->data, &s->len, s->hash, why);
        if (rc != 0)
            fail_msg("seal %llu: %s", (unsigned long long)seq, why);
    }
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/tt_replica_XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    char why[TT_WHY_LEN] = "";
    fx->signer = tt_signer_load_or_create(fx->dir, why);
    assert_non_null(fx->signer);
    seal_all(fx);

    char path[128];
    snprintf(path, sizeof path, "%s/replica", fx->dir);
    fx->store = tt_store_open(path, 0, 16, why);
    assert_non_null(fx->store);
    tt_bytes_t bytes[IN_STORE];
    for (int i = 0; i < IN_STORE; i++)
        bytes[i] = (tt_bytes_t){fx->rec[i + 1].data, fx->rec[i + 1].len};
    assert_int_equal(tt_store_append(fx->store, 1, bytes, IN_STORE, why), 0);

    fx->server_kp = tt_keypair_generate(why);
    fx->client_kp = tt_keypair_generate(why);
    assert_non_null(fx->server_kp);
    assert_non_null(fx->client_kp);
    fx->ctx = zmq_ctx_new();
    fx->router = zmq_socket(fx->ctx, ZMQ_ROUTER);
    fx->pub = zmq_socket(fx->ctx, ZMQ_PUB);
    /* No ZAP handler here: the fake coordinator accepts any client key. */
    assert_int_equal(tt_wire_setup_server(fx->router, fx->server_kp, why), 0);
    assert_int_equal(tt_wire_setup_server(fx->pub, fx->server_kp, why), 0);
    assert_int_equal(zmq_bind(fx->router, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_bind(fx->pub, "tcp://127.0.0.1:*"), 0);
    snprintf(fx->endpoint, sizeof fx->endpoint, "tcp://127.0.0.1:%u",
             tt_wire_bound_port(fx->router));
    snprintf(fx->updates, sizeof fx->updates, "tcp://127.0.0.1:%u", tt_wire_bound_port(fx->pub));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    zmq_close(fx->router);
    zmq_close(fx->pub);
    zmq_ctx_term(fx->ctx);
    tt_keypair_destroy(&fx->server_kp);
    tt_keypair_destroy(&fx->client_kp);
    tt_store_destroy(&fx->store);
    tt_signer_destroy(&fx->signer);
    for (int i = 1; i <= N_RECORDS; i++)
        free(fx->rec[i].data);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static tt_replica_config_t config(fixture_t *fx, fold_t *f)
{
    return (tt_replica_config_t){
        .endpoint = fx->endpoint,
        .server_key_z85 = fx->server_kp->public_z85,
        .keys = fx->client_kp,
        .updates_endpoint = fx->updates,
        .heartbeat_ms = 200,
        .fold = fold,
        .reset = reset,
        .fold_arg = f,
        .on_record = on_record,
        .on_record_arg = f,
    };
}

/* The fake coordinator answers one request: hello with the head at
 * N_RECORDS, fetch with every record from from_seq. */
static void serve_one(fixture_t *fx)
{
    tt_wire_msg_t m;
    char why[TT_WHY_LEN];
    if (tt_wire_recv(fx->router, 1, ZMQ_DONTWAIT, &m, why) != 0)
        return;
    Tutti__Envelope reply = TUTTI__ENVELOPE__INIT;
    Tutti__HelloReply hr = TUTTI__HELLO_REPLY__INIT;
    Tutti__FetchReply fr = TUTTI__FETCH_REPLY__INIT;
    ProtobufCBinaryData recs[N_RECORDS];
    reply.request_id = m.env->request_id;
    if (m.env->body_case == TUTTI__ENVELOPE__BODY_HELLO) {
        hr.name = "stage";
        hr.role = "room";
        hr.epoch = 42;
        hr.last_seq = N_RECORDS;
        hr.updates_port = 0; /* the config names the updates endpoint */
        hr.signing_public_key.data = fx->signer->public_key;
        hr.signing_public_key.len = TT_SIGN_PK_LEN;
        reply.body_case = TUTTI__ENVELOPE__BODY_HELLO_REPLY;
        reply.hello_reply = &hr;
    } else if (m.env->body_case == TUTTI__ENVELOPE__BODY_FETCH) {
        uint64_t from = m.env->fetch->from_seq;
        for (uint64_t seq = from; seq >= 1 && seq <= N_RECORDS; seq++)
            recs[fr.n_records++] = (ProtobufCBinaryData){fx->rec[seq].len, fx->rec[seq].data};
        fr.records = recs;
        fr.last_seq = N_RECORDS;
        reply.body_case = TUTTI__ENVELOPE__BODY_FETCH_REPLY;
        reply.fetch_reply = &fr;
    }
    if (reply.body_case != TUTTI__ENVELOPE__BODY__NOT_SET)
        assert_int_equal(tt_wire_send(fx->router, m.routing_id, m.routing_id_len, &reply, why), 0);
    tt_wire_msg_clear(&m);
}

/* Runs the replica and the fake coordinator until the replica holds
 * want_seq or fails; returns tt_replica_handle's first non-zero code. */
static int run(fixture_t *fx, tt_replica_t *r, uint64_t want_seq, char *why)
{
    int64_t deadline = tt_time_mono_ns() + 10 * 1000000000LL;
    while (tt_time_mono_ns() < deadline && tt_replica_seq(r) < want_seq) {
        int wait = tt_replica_tick(r, tt_time_mono_ns());
        zmq_pollitem_t items[TT_REPLICA_POLL_ITEMS + 1];
        int n = tt_replica_poll_items(r, items);
        items[n] = (zmq_pollitem_t){fx->router, 0, ZMQ_POLLIN, 0};
        assert_true(zmq_poll(items, n + 1, wait < 50 ? wait : 50) >= 0);
        if (items[n].revents & ZMQ_POLLIN)
            serve_one(fx);
        int rc = tt_replica_handle(r, items, n, why);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void test_folds_store_at_start(void **state)
{
    fixture_t *fx = *state;
    fold_t f = {0};
    tt_replica_config_t cfg = config(fx, &f);
    char why[TT_WHY_LEN] = "";
    tt_replica_t *r = tt_replica_new(fx->ctx, &cfg, fx->store, why);
    assert_non_null(r);
    assert_int_equal(f.folded_seq, IN_STORE);
    assert_int_equal(tt_replica_seq(r), IN_STORE);
    assert_int_equal(f.live, 0); /* start-up folding is not a live record */
    tt_replica_destroy(&r);
    assert_null(r);
    tt_replica_destroy(&r); /* safe on NULL */
}

static void test_refused_at_start_is_reported(void **state)
{
    fixture_t *fx = *state;
    fold_t f = {.refuse_seq = 3, .refusals_left = -1};
    tt_replica_config_t cfg = config(fx, &f);
    char why[TT_WHY_LEN] = "";
    tt_replica_t *r = tt_replica_new(fx->ctx, &cfg, fx->store, why);
    assert_null(r);
    assert_non_null(strstr(why, "record 3"));

    tt_replica_config_t no_fold = config(fx, &f);
    no_fold.fold = NULL;
    r = tt_replica_new(fx->ctx, &no_fold, fx->store, why);
    assert_null(r);
}

static void test_live_refusal_refolds_once(void **state)
{
    fixture_t *fx = *state;
    fold_t f = {.refuse_seq = 6, .refusals_left = 1};
    tt_replica_config_t cfg = config(fx, &f);
    char why[TT_WHY_LEN] = "";
    tt_replica_t *r = tt_replica_new(fx->ctx, &cfg, fx->store, why);
    assert_non_null(r);
    int resets_at_start = f.resets;
    int rc = run(fx, r, N_RECORDS, why);
    assert_int_equal(rc, 0);
    assert_int_equal(tt_replica_seq(r), N_RECORDS);
    /* The refusal cost one reset and a refold; the state holds everything. */
    assert_int_equal(f.resets, resets_at_start + 1);
    assert_int_equal(f.folded_seq, N_RECORDS);
    assert_true(tt_replica_caught_up(r));
    tt_replica_destroy(&r);
}

static void test_live_refusal_twice_is_fatal(void **state)
{
    fixture_t *fx = *state;
    fold_t f = {.refuse_seq = 7, .refusals_left = -1};
    tt_replica_config_t cfg = config(fx, &f);
    char why[TT_WHY_LEN] = "";
    tt_replica_t *r = tt_replica_new(fx->ctx, &cfg, fx->store, why);
    assert_non_null(r);
    int rc = run(fx, r, N_RECORDS, why);
    assert_int_equal(rc, TT_ERR_CORRUPT);
    assert_non_null(strstr(why, "cannot be built"));
    /* Nothing past the refused record was folded. */
    assert_true(f.folded_seq < 7);
    tt_replica_destroy(&r);
}

static void test_snapshot_restart(void **state)
{
    fixture_t *fx = *state;
    fold_t f = {0};
    tt_replica_config_t cfg = config(fx, &f);
    cfg.snapshot_every = 2;
    cfg.save = save;
    cfg.restore = restore;
    char why[TT_WHY_LEN] = "";
    tt_replica_t *r = tt_replica_new(fx->ctx, &cfg, fx->store, why);
    assert_non_null(r);
    assert_int_equal(f.restored, 0); /* none stored yet */
    assert_int_equal(f.folds, IN_STORE);
    assert_int_equal(run(fx, r, N_RECORDS, why), 0);
    assert_int_equal(f.folded_seq, N_RECORDS);
    /* Records 5..8 came in one fetch: one snapshot, of the state before them. */
    assert_int_equal(f.saves, 1);
    uint64_t seqs[4];
    size_t n = 0;
    assert_int_equal(tt_store_snapshot_seqs(fx->store, seqs, 4, &n, why), 0);
    assert_int_equal(n, 1);
    assert_int_equal(seqs[0], IN_STORE);
    tt_replica_destroy(&r);

    /* A restart restores it and folds only the records after it. */
    f = (fold_t){0};
    r = tt_replica_new(fx->ctx, &cfg, fx->store, why);
    assert_non_null(r);
    assert_int_equal(f.restored, IN_STORE);
    assert_int_equal(f.folds, N_RECORDS - IN_STORE);
    assert_int_equal(f.folded_seq, N_RECORDS);
    assert_int_equal(tt_replica_seq(r), N_RECORDS);
    tt_replica_destroy(&r);

    /* Snapshots off: the whole store, the stored snapshot unused. */
    f = (fold_t){0};
    tt_replica_config_t off = cfg;
    off.snapshot_every = 0;
    r = tt_replica_new(fx->ctx, &off, fx->store, why);
    assert_non_null(r);
    assert_int_equal(f.restored, 0);
    assert_int_equal(f.folds, N_RECORDS);
    tt_replica_destroy(&r);

    /* A damaged snapshot is passed over: the whole store again. */
    assert_int_equal(tt_store_snapshot_replace(fx->store, IN_STORE, (const uint8_t *)"x", 1, why),
                     0);
    f = (fold_t){0};
    r = tt_replica_new(fx->ctx, &cfg, fx->store, why);
    assert_non_null(r);
    assert_int_equal(f.restored, 0);
    assert_int_equal(f.folds, N_RECORDS);
    assert_int_equal(tt_replica_seq(r), N_RECORDS);
    tt_replica_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_folds_store_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_at_start_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_refusal_refolds_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_refusal_twice_is_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
