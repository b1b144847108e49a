/* tt_replica: clone client. See tt_replica.h.
 *
 * Sequencing rule: the replica only ever appends record last_seq + 1.
 * Updates from the PUB socket that fit are applied; anything ahead of that
 * means a gap, which one outstanding fetch repairs from the ROUTER; older
 * ones are ignored. The PUB heartbeat carries the coordinator's head, so a
 * lost last update is noticed within a heartbeat too.
 */
#include "tt_replica.h"
#include "tt_chain.h"
#include "tt_client.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELLO_RETRY_MS 1000
#define META_PINNED_KEY "signing_pk" /* the coordinator key this replica belongs to */
#define FETCH_TIMEOUT_MS 5000
#define MAX_UPDATES_PER_TURN 1024

struct tt_replica {
    tt_replica_config_t cfg;
    void *ctx;
    tt_store_t *store;
    tt_client_t *client;
    void *sub;
    char sub_endpoint[256];

    /* Where the stored chain stands: the last record's seq and hash, and
     * the key from its genesis record (all zero before record 1). */
    uint64_t last_seq;
    uint8_t head_hash[TT_HASH_LEN];
    uint8_t signing_pk[TT_SIGN_PK_LEN];
    uint8_t pinned_pk[TT_SIGN_PK_LEN];
    int have_pin;

    int helloed; /* a hello reply arrived since the last outage */
    int online;  /* coordinator heard from recently */
    uint64_t epoch;
    uint64_t coord_seq; /* coordinator's head as last heard */
    unsigned clock_port;
    unsigned upload_port;
    int64_t last_rx_ns;
    int64_t next_hello_ns;
    int64_t next_heartbeat_ns;
    int fetch_outstanding;
    uint64_t fetch_from; /* from_seq of the last fetch sent */
    int64_t fetch_sent_ns;

    int has_clock;
    Tutti__ClockReport clock; /* state points at a static string */
    char clock_state[16];
};

/* ------------------------------------------------------------ applying */

static int fold_replica(tt_replica_t *r, char *why);

typedef struct {
    uint64_t seq;
    uint8_t hash[TT_HASH_LEN];
} chain_pos_t;

/* Checks records[0..n) as the continuation of the replica, appends the
 * valid prefix in one durable transaction, then folds it. */
static int apply_records(tt_replica_t *r, const ProtobufCBinaryData *records, size_t n, int *fatal,
                         char *why)
{
    *fatal = 0;
    if (n == 0)
        return 0;
    Tutti__Record **decoded = calloc(n, sizeof *decoded);
    tt_bytes_t *bytes = calloc(n, sizeof *bytes);
    uint8_t(*hashes)[TT_HASH_LEN] = calloc(n, TT_HASH_LEN);
    if (!decoded || !bytes || !hashes) {
        free(decoded);
        free(bytes);
        free(hashes);
        return tt_fail(why, TT_ERR_NOMEM, "applying %zu records", n);
    }
    uint8_t pk[TT_SIGN_PK_LEN];
    memcpy(pk, r->last_seq ? r->signing_pk : r->pinned_pk, TT_SIGN_PK_LEN);
    chain_pos_t pos = {r->last_seq, {0}};
    memcpy(pos.hash, r->head_hash, TT_HASH_LEN);
    size_t good = 0;
    int rc = 0;
    for (; good < n; good++) {
        rc = tt_chain_check(records[good].data, records[good].len, pos.seq + 1, pos.hash, pk,
                            hashes[good], &decoded[good], why);
        if (rc != 0)
            break;
        bytes[good].data = records[good].data;
        bytes[good].len = records[good].len;
        pos.seq++;
        memcpy(pos.hash, hashes[good], TT_HASH_LEN);
    }
    if (rc != 0)
        tt_diag_error("record from the coordinator refused: %s", why);
    if (good > 0) {
        char swhy[TT_WHY_LEN];
        int arc = tt_store_append(r->store, r->last_seq + 1, bytes, good, swhy);
        if (arc != 0) {
            rc = tt_fail(why, arc, "%s", swhy);
            good = 0;
        }
    }
    if (good > 0) {
        r->last_seq = pos.seq;
        memcpy(r->head_hash, pos.hash, TT_HASH_LEN);
        memcpy(r->signing_pk, pk, TT_SIGN_PK_LEN);
    }
    for (size_t i = 0; i < good && !*fatal; i++) {
        char fwhy[TT_WHY_LEN];
        if (r->cfg.fold(r->cfg.fold_arg, decoded[i], hashes[i], fwhy) != 0) {
            tt_diag_error("folding record %llu: %s; folding the replica again",
                          (unsigned long long)decoded[i]->seq, fwhy);
            if (fold_replica(r, fwhy) != 0) {
                rc = tt_fail(why, TT_ERR_CORRUPT,
                             "the replica's state cannot be built from its store: %s", fwhy);
                *fatal = 1;
                break;
            }
            break; /* the refold folded everything stored; its records are not live news */
        }
        if (r->cfg.on_record)
            r->cfg.on_record(r->cfg.on_record_arg, decoded[i]);
    }
    for (size_t i = 0; i < n; i++)
        if (decoded[i])
            tutti__record__free_unpacked(decoded[i], NULL);
    free(decoded);
    free(bytes);
    free(hashes);
    return rc;
}

typedef struct {
    tt_replica_t *r;
    char *why;
} fold_ctx_t;

static int fold_stored(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    fold_ctx_t *c = arg;
    tt_replica_t *r = c->r;
    uint8_t hash[TT_HASH_LEN];
    Tutti__Record *rec = NULL;
    int rc = tt_chain_check(data, len, seq, r->head_hash, r->signing_pk, hash, &rec, c->why);
    if (rc != 0)
        return rc;
    rc = r->cfg.fold(r->cfg.fold_arg, rec, hash, c->why);
    if (rc != 0)
        rc = tt_fail(c->why, TT_ERR_CORRUPT, "folding record %llu: %s", (unsigned long long)seq,
                     c->why);
    tutti__record__free_unpacked(rec, NULL);
    if (rc == 0) {
        r->last_seq = seq;
        memcpy(r->head_hash, hash, TT_HASH_LEN);
    }
    return rc;
}

/* Verifies and folds the whole store from record 1. */
static int fold_replica(tt_replica_t *r, char *why)
{
    r->cfg.reset(r->cfg.fold_arg);
    r->last_seq = 0;
    memset(r->head_hash, 0, TT_HASH_LEN);
    memset(r->signing_pk, 0, TT_SIGN_PK_LEN);
    fold_ctx_t c = {r, why};
    for (;;) {
        uint64_t before = r->last_seq;
        int rc = tt_store_scan(r->store, before + 1, 4096, SIZE_MAX, fold_stored, &c, why);
        if (rc != 0)
            return rc;
        if (r->last_seq == before)
            return 0;
    }
}

/* ------------------------------------------------------------ sending */

static void send_hello(tt_replica_t *r)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Hello h = TUTTI__HELLO__INIT;
    h.program = "tutti-agent";
    h.replica_seq = r->last_seq;
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    tt_client_send(r->client, &env, NULL); /* dropped while disconnected: retried */
}

static void send_heartbeat(tt_replica_t *r)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Heartbeat hb = TUTTI__HEARTBEAT__INIT;
    hb.seq = r->last_seq;
    if (r->has_clock)
        hb.clock = &r->clock;
    env.body_case = TUTTI__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    tt_client_send(r->client, &env, NULL);
}

static void send_fetch(tt_replica_t *r)
{
    if (r->fetch_outstanding)
        return;
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__FetchRequest f = TUTTI__FETCH_REQUEST__INIT;
    f.from_seq = r->last_seq + 1;
    env.body_case = TUTTI__ENVELOPE__BODY_FETCH;
    env.fetch = &f;
    if (tt_client_send(r->client, &env, NULL) == 0) {
        r->fetch_from = f.from_seq;
        r->fetch_outstanding = 1;
        r->fetch_sent_ns = tt_time_mono_ns();
    }
}

/* ------------------------------------------------------------ receiving */

static int open_sub(tt_replica_t *r, const char *endpoint, char *why)
{
    if (r->sub && strcmp(endpoint, r->sub_endpoint) == 0)
        return 0;
    if (r->sub)
        zmq_close(r->sub);
    r->sub = zmq_socket(r->ctx, ZMQ_SUB);
    if (!r->sub)
        return tt_fail(why, TT_ERR_IO, "creating the updates socket: %s", zmq_strerror(errno));
    int hwm = 200000;
    zmq_setsockopt(r->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    int rc = tt_wire_setup_client(r->sub, r->cfg.keys, r->cfg.server_key_z85, why);
    if (rc != 0)
        return rc;
    zmq_setsockopt(r->sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_connect(r->sub, endpoint) != 0)
        return tt_fail(why, TT_ERR_INVALID, "connecting to updates at %s: %s", endpoint,
                       zmq_strerror(errno));
    snprintf(r->sub_endpoint, sizeof r->sub_endpoint, "%s", endpoint);
    return 0;
}

static int on_hello_reply(tt_replica_t *r, const Tutti__HelloReply *hr, char *why)
{
    if (r->cfg.expect_name && strcmp(hr->name, r->cfg.expect_name) != 0)
        return tt_fail(why, TT_ERR_DENIED,
                       "this key belongs to '%s' in the coordinator's access file, not '%s'",
                       hr->name, r->cfg.expect_name);
    if (r->cfg.expect_role && strcmp(hr->role, r->cfg.expect_role) != 0)
        return tt_fail(why, TT_ERR_DENIED, "this key has role %s, not %s", hr->role,
                       r->cfg.expect_role);
    if (hr->signing_public_key.len != TT_SIGN_PK_LEN)
        return tt_fail(why, TT_ERR_PROTOCOL, "hello reply without a signing key");
    if (r->have_pin && memcmp(r->pinned_pk, hr->signing_public_key.data, TT_SIGN_PK_LEN) != 0)
        return tt_fail(why, TT_ERR_CRYPTO,
                       "the replica holds another coordinator's log (signing keys differ); "
                       "use a fresh --data directory");
    if (!r->have_pin) {
        memcpy(r->pinned_pk, hr->signing_public_key.data, TT_SIGN_PK_LEN);
        r->have_pin = 1;
        int rc = tt_store_meta_put(r->store, META_PINNED_KEY, r->pinned_pk, TT_SIGN_PK_LEN, why);
        if (rc != 0)
            return rc;
    }
    if (r->epoch && hr->epoch != r->epoch)
        tt_diag_info("coordinator restarted (new epoch)");
    r->epoch = hr->epoch;
    r->coord_seq = hr->last_seq;
    r->clock_port = hr->clock_port;
    r->upload_port = hr->upload_port;
    char ep[256];
    if (r->cfg.updates_endpoint)
        snprintf(ep, sizeof ep, "%s", r->cfg.updates_endpoint);
    else if (tt_wire_endpoint_with_port(r->cfg.endpoint, hr->updates_port, ep, sizeof ep) != 0)
        return tt_fail(why, TT_ERR_INVALID, "cannot derive the updates endpoint from %s",
                       r->cfg.endpoint);
    int rc = open_sub(r, ep, why);
    if (rc != 0)
        return rc;
    if (!r->helloed)
        tt_diag_info("connected to %s as %s (%s); replica at %llu, coordinator at %llu",
                     r->cfg.endpoint, hr->name, hr->role, (unsigned long long)r->last_seq,
                     (unsigned long long)hr->last_seq);
    if (r->last_seq > hr->last_seq)
        tt_diag_error("replica (%llu) is ahead of the coordinator (%llu): was its store "
                      "restored from an older copy?",
                      (unsigned long long)r->last_seq, (unsigned long long)hr->last_seq);
    r->helloed = 1;
    r->fetch_outstanding = 0;
    if (hr->last_seq > r->last_seq)
        send_fetch(r);
    return 0;
}

static int on_dealer(tt_replica_t *r, char *why)
{
    for (;;) {
        tt_wire_msg_t m;
        char mwhy[TT_WHY_LEN];
        int rc = tt_wire_recv(tt_client_socket(r->client), 0, ZMQ_DONTWAIT, &m, mwhy);
        if (rc == TT_ERR_AGAIN)
            return 0; /* nothing more to read */
        if (rc == TT_ERR_IO) {
            tt_diag_warn("reading from the coordinator: %s", mwhy);
            return 0;
        }
        if (rc != 0) {
            tt_diag_warn("bad message from the coordinator: %s", mwhy);
            continue;
        }
        r->last_rx_ns = tt_time_mono_ns();
        if (!r->online) {
            r->online = 1;
            if (r->helloed)
                tt_diag_info("coordinator reachable again");
        }
        const Tutti__Envelope *env = m.env;
        rc = 0;
        switch (env->body_case) {
        case TUTTI__ENVELOPE__BODY_HELLO_REPLY:
            rc = on_hello_reply(r, env->hello_reply, why);
            break;
        case TUTTI__ENVELOPE__BODY_HEARTBEAT:
            r->coord_seq = env->heartbeat->seq;
            if (r->epoch && env->heartbeat->epoch != r->epoch) {
                r->helloed = 0; /* restarted under us: hello again */
                r->next_hello_ns = 0;
            } else if (r->coord_seq > r->last_seq) {
                send_fetch(r);
            }
            break;
        case TUTTI__ENVELOPE__BODY_FETCH_REPLY: {
            const Tutti__FetchReply *fr = env->fetch_reply;
            r->fetch_outstanding = 0;
            if (fr->last_seq > r->coord_seq)
                r->coord_seq = fr->last_seq;
            /* Updates may have brought some of these while the fetch was in
             * flight: skip what the replica already holds. */
            size_t skip = 0;
            if (r->fetch_from && r->last_seq + 1 > r->fetch_from)
                skip = (size_t)(r->last_seq + 1 - r->fetch_from);
            if (skip > fr->n_records)
                skip = fr->n_records;
            char awhy[TT_WHY_LEN];
            int fatal = 0;
            if (apply_records(r, fr->records + skip, fr->n_records - skip, &fatal, awhy) != 0) {
                if (fatal)
                    rc = tt_fail(why, TT_ERR_CORRUPT, "%s", awhy);
                else
                    tt_diag_error("catching up: %s", awhy);
            } else if (r->coord_seq > r->last_seq && fr->n_records > 0)
                send_fetch(r);
            break;
        }
        case TUTTI__ENVELOPE__BODY_ERROR:
            tt_diag_warn("coordinator: %s", env->error->message);
            if (-(int)env->error->code == TT_ERR_AUTH)
                rc = tt_fail(why, TT_ERR_AUTH, "%s", env->error->message);
            r->fetch_outstanding = 0;
            break;
        default: break;
        }
        tt_wire_msg_clear(&m);
        if (rc != 0)
            return rc;
    }
}

static int on_sub(tt_replica_t *r, char *fatal_why)
{
    ProtobufCBinaryData run[MAX_UPDATES_PER_TURN];
    Tutti__Envelope *held[MAX_UPDATES_PER_TURN];
    size_t n = 0;
    uint64_t next = r->last_seq + 1;
    int gap = 0;
    for (int i = 0; i < MAX_UPDATES_PER_TURN; i++) {
        tt_wire_msg_t m;
        char mwhy[TT_WHY_LEN];
        int rc = tt_wire_recv(r->sub, 0, ZMQ_DONTWAIT, &m, mwhy);
        if (rc == TT_ERR_AGAIN)
            break; /* nothing more to read */
        if (rc == TT_ERR_IO) {
            tt_diag_warn("reading updates: %s", mwhy);
            break;
        }
        if (rc != 0) {
            tt_diag_warn("bad update from the coordinator: %s", mwhy);
            continue;
        }
        int keep = 0;
        if (m.env->body_case == TUTTI__ENVELOPE__BODY_UPDATE) {
            uint64_t seq = m.env->update->seq;
            if (seq == next + n && r->helloed) {
                run[n] = m.env->update->record;
                held[n++] = m.env;
                keep = 1;
            } else if (seq > next + n) {
                gap = 1;
            }
            if (seq > r->coord_seq)
                r->coord_seq = seq;
        } else if (m.env->body_case == TUTTI__ENVELOPE__BODY_HEARTBEAT) {
            if (m.env->heartbeat->seq > r->coord_seq)
                r->coord_seq = m.env->heartbeat->seq;
            if (r->epoch && m.env->heartbeat->epoch != r->epoch && r->helloed) {
                r->helloed = 0;
                r->next_hello_ns = 0;
            }
        }
        if (!keep)
            tt_wire_msg_clear(&m);
    }
    char why[TT_WHY_LEN];
    int fatal = 0, rc = 0;
    if (n > 0 && apply_records(r, run, n, &fatal, why) != 0) {
        if (fatal)
            rc = tt_fail(fatal_why, TT_ERR_CORRUPT, "%s", why);
        else
            tt_diag_error("applying updates: %s", why);
    }
    for (size_t i = 0; i < n; i++)
        tutti__envelope__free_unpacked(held[i], NULL);
    if (rc == 0 && (gap || r->coord_seq > r->last_seq) && r->helloed)
        send_fetch(r);
    return rc;
}

/* ------------------------------------------------------------ public */

tt_replica_t *tt_replica_new(void *ctx, const tt_replica_config_t *cfg, tt_store_t *store,
                             char *why)
{
    tt_replica_t *r = calloc(1, sizeof *r);
    if (!r) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the replica");
        return NULL;
    }
    r->cfg = *cfg;
    if (!cfg->fold || !cfg->reset) {
        tt_fail(why, TT_ERR_INVALID, "a replica needs a fold and a reset");
        free(r);
        return NULL;
    }
    if (!r->cfg.heartbeat_ms)
        r->cfg.heartbeat_ms = 1000;
    if (!r->cfg.away_after_ms)
        r->cfg.away_after_ms = 2200;
    r->ctx = ctx;
    r->store = store;
    size_t len = TT_SIGN_PK_LEN;
    char mwhy[TT_WHY_LEN];
    if (tt_store_meta_get(store, META_PINNED_KEY, r->pinned_pk, &len, mwhy) == 0 &&
        len == TT_SIGN_PK_LEN)
        r->have_pin = 1;
    char fwhy[TT_WHY_LEN];
    if (fold_replica(r, fwhy) != 0) {
        tt_fail(why, TT_ERR_CORRUPT, "the replica does not verify: %s", fwhy);
        goto fail;
    }
    if (r->last_seq > 0) {
        if (r->have_pin && memcmp(r->pinned_pk, r->signing_pk, TT_SIGN_PK_LEN) != 0) {
            tt_fail(why, TT_ERR_CORRUPT, "the replica's genesis key differs from its pinned key");
            goto fail;
        }
        memcpy(r->pinned_pk, r->signing_pk, TT_SIGN_PK_LEN);
        r->have_pin = 1;
    }
    r->client = tt_client_new(ctx, cfg->endpoint, cfg->server_key_z85, cfg->keys, 1, why);
    if (!r->client)
        goto fail;
    return r;
fail:
    tt_replica_destroy(&r);
    return NULL;
}

void tt_replica_destroy(tt_replica_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_replica_t *r = *self_p;
    tt_client_destroy(&r->client);
    if (r->sub)
        zmq_close(r->sub);
    free(r);
    *self_p = NULL;
}

int tt_replica_poll_items(tt_replica_t *r, zmq_pollitem_t *items)
{
    int n = 0;
    items[n++] = (zmq_pollitem_t){tt_client_socket(r->client), 0, ZMQ_POLLIN, 0};
    items[n++] = (zmq_pollitem_t){tt_client_monitor(r->client), 0, ZMQ_POLLIN, 0};
    if (r->sub)
        items[n++] = (zmq_pollitem_t){r->sub, 0, ZMQ_POLLIN, 0};
    return n;
}

int tt_replica_handle(tt_replica_t *r, const zmq_pollitem_t *items, int n, char *why)
{
    for (int i = 0; i < n; i++) {
        if (!(items[i].revents & ZMQ_POLLIN))
            continue;
        int rc = 0;
        if (items[i].socket == tt_client_monitor(r->client)) {
            int connected = -1;
            rc = tt_client_check_monitor(r->client, &connected, why);
            if (connected == 1 && !r->helloed)
                r->next_hello_ns = 0; /* say hello the moment the handshake completes */
        } else if (items[i].socket == tt_client_socket(r->client))
            rc = on_dealer(r, why);
        else if (items[i].socket == r->sub)
            rc = on_sub(r, why);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int tt_replica_tick(tt_replica_t *r, int64_t now)
{
    const int64_t ms = 1000000;
    if (r->online && now - r->last_rx_ns > r->cfg.away_after_ms * ms) {
        r->online = 0;
        r->helloed = 0;
        r->next_hello_ns = 0;
        tt_diag_warn("coordinator silent for %d ms: working from the replica (at %llu)",
                     r->cfg.away_after_ms, (unsigned long long)r->last_seq);
    }
    if (r->fetch_outstanding && now - r->fetch_sent_ns > FETCH_TIMEOUT_MS * ms)
        r->fetch_outstanding = 0;
    if (!r->helloed) {
        if (now >= r->next_hello_ns) {
            send_hello(r);
            r->next_hello_ns = now + HELLO_RETRY_MS * ms;
        }
    } else if (now >= r->next_heartbeat_ns) {
        send_heartbeat(r);
        r->next_heartbeat_ns = now + r->cfg.heartbeat_ms * ms;
        if (r->coord_seq > r->last_seq)
            send_fetch(r);
    }
    int64_t next = r->helloed ? r->next_heartbeat_ns : r->next_hello_ns;
    int64_t wait = (next - now) / ms + 1;
    return wait < 1 ? 1 : wait > 1000 ? 1000 : (int)wait;
}

int tt_replica_send(tt_replica_t *r, Tutti__Envelope *env, char *why)
{
    return tt_client_send(r->client, env, why);
}

int tt_replica_caught_up(const tt_replica_t *r)
{
    return r->helloed && r->online && r->last_seq >= r->coord_seq;
}

void tt_replica_set_clock(tt_replica_t *r, const Tutti__ClockReport *clock)
{
    r->clock = *clock;
    snprintf(r->clock_state, sizeof r->clock_state, "%s", clock->state ? clock->state : "");
    r->clock.state = r->clock_state;
    r->has_clock = 1;
}

int tt_replica_store_pins_key(tt_store_t *store)
{
    uint8_t pk[TT_SIGN_PK_LEN];
    size_t len = sizeof pk;
    char why[TT_WHY_LEN];
    return tt_store_meta_get(store, META_PINNED_KEY, pk, &len, why) == 0;
}

uint64_t tt_replica_seq(const tt_replica_t *r)
{
    return r->last_seq;
}
int tt_replica_coordinator_online(const tt_replica_t *r)
{
    return r->online && r->helloed;
}
uint64_t tt_replica_coordinator_seq(const tt_replica_t *r)
{
    return r->coord_seq;
}
unsigned tt_replica_clock_port(const tt_replica_t *r)
{
    return r->clock_port;
}
unsigned tt_replica_upload_port(const tt_replica_t *r)
{
    return r->upload_port;
}
uint64_t tt_replica_epoch(const tt_replica_t *r)
{
    return r->epoch;
}
