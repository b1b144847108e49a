/* tt_replica: clone client. See tt_replica.h.
 *
 * Sequencing rule: the replica only ever appends record last_seq + 1.
 * Updates from the PUB socket that fit are applied; anything ahead of that
 * means a gap, which one outstanding fetch repairs from the ROUTER; older
 * ones are ignored. The PUB heartbeat carries the coordinator's head, so a
 * lost last update is noticed within a heartbeat too.
 *
 * Conflicts: the coordinator's log only grows within one epoch, so its
 * head can fall behind the replica's only across a restart (a store put
 * back from an older copy); the hello reply tells. After every hello the
 * replica compares the coordinator's record at min(its head, ours) with
 * its own (the first fetch starts there): equal bytes mean equal chains up
 * to that seq (each record holds its predecessor's hash), other bytes
 * signed with the same key mean the logs forked. The verdict, and a store
 * that failed its last write, ride on every heartbeat while they hold.
 */
#include "tt_replica.h"
#include "tt_chain.h"
#include "tt_client.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_snapshot.h"
#include "tt_text.h"
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
    tt_chain_keys_t keys; /* the genesis key and every key named up to last_seq */
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
    /* Several coordinators (--coordinator A,B): when the one talked to
     * became it (a move or the start), and the moves since a hello was
     * last answered (a whole round of them waits before the next). */
    int64_t endpoint_since_ns;
    int moves;
    char hello_endpoint[256];           /* whose hello was last answered ("": none yet) */
    char hello_key[TT_Z85_KEY_LEN + 1]; /* and its CURVE key */
    int64_t next_heartbeat_ns;
    int fetch_outstanding;
    uint64_t fetch_from; /* from_seq of the last fetch sent */
    int64_t fetch_sent_ns;

    int has_clock;
    Tutti__ClockReport clock; /* state points at a static string */
    char clock_state[16];

    /* Reported with every heartbeat while they hold (tutti.proto:
     * ReplicaConflict, StoreFault). */
    Tutti__ReplicaConflictKind conflict;
    uint64_t conflict_seq; /* DIVERGED: a seq where the logs hold different records */
    int64_t conflict_since_ns;
    uint64_t checked_seq; /* the seq last compared with the coordinator since the hello; 0: none */
    Tutti__StoreFaultCause store_fault;
    char store_fault_text[256];
    int64_t store_fault_since_ns;
    /* Since a failed write, until caught up: fetch a record at a time (a
     * page the store cannot hold, fetched again after every update, would
     * keep the coordinator busy) and leave the updates to the fetches. */
    int cautious;
    uint64_t prelays[TT_REPLICA_MAX_PRELAYS]; /* sent with every heartbeat */
    size_t n_prelays;
};

/* ------------------------------------------------------------ conditions */

static void set_conflict(tt_replica_t *r, Tutti__ReplicaConflictKind kind, uint64_t at_seq)
{
    if (kind == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED && r->conflict == kind &&
        at_seq < r->conflict_seq)
        r->conflict_seq = at_seq; /* the fork is there or before: keep the lowest */
    if (kind == r->conflict)
        return;
    if (kind == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_AHEAD)
        tt_diag_error("replica (%llu) is ahead of the coordinator (%llu): was its store "
                      "restored from an older copy? Reported in tutti status",
                      (unsigned long long)r->last_seq, (unsigned long long)r->coord_seq);
    else if (kind == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED)
        tt_diag_error("the coordinator's record %llu differs from this replica's (replica at "
                      "%llu, coordinator at %llu): its store was restored from an older copy and "
                      "written to since; taking nothing more from it. Reported in tutti status",
                      (unsigned long long)at_seq, (unsigned long long)r->last_seq,
                      (unsigned long long)r->coord_seq);
    else
        tt_diag_info("the coordinator's log agrees with the replica again (was %s)",
                     tt_replica_conflict_name(r->conflict));
    r->conflict = kind;
    r->conflict_seq = kind == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED ? at_seq : 0;
    r->conflict_since_ns = tt_time_mono_ns();
}

/* A write to the replica's store failed (rc, why) or, with rc 0, succeeded:
 * the fault is kept until a write succeeds. Logs changes only, not every
 * retry of a store that stays full. */
static void store_wrote(tt_replica_t *r, int rc, const char *why)
{
    if (rc == 0) {
        if (r->store_fault != TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_NONE)
            tt_diag_info("the replica's store writes again (at %llu)",
                         (unsigned long long)r->last_seq);
        r->store_fault = TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_NONE;
        r->store_fault_text[0] = '\0';
        return;
    }
    Tutti__StoreFaultCause cause = TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_IO;
    if (rc == TT_ERR_STORE && tt_store_fault(r->store) == TT_STORE_FAULT_MAP_FULL)
        cause = TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_MAP_FULL;
    else if (rc == TT_ERR_STORE && tt_store_fault(r->store) == TT_STORE_FAULT_DISK_FULL)
        cause = TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_DISK_FULL;
    r->cautious = 1;
    char text[sizeof r->store_fault_text];
    tt_utf8_copy_any(text, sizeof text, why);
    if (cause == r->store_fault && strcmp(text, r->store_fault_text) == 0)
        return;
    tt_diag_error("the replica cannot store the coordinator's records (at %llu, coordinator at "
                  "%llu): %s. Reported in tutti status",
                  (unsigned long long)r->last_seq, (unsigned long long)r->coord_seq, text);
    if (r->store_fault == TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_NONE)
        r->store_fault_since_ns = tt_time_mono_ns();
    r->store_fault = cause;
    memcpy(r->store_fault_text, text, sizeof text);
}

/* 1 when data is record seq signed with the replica's key, whatever it
 * chains onto: tells a forked log from a damaged message. */
static int signed_record(const tt_replica_t *r, const uint8_t *data, size_t len, uint64_t seq)
{
    Tutti__SignedRecord *sr = tutti__signed_record__unpack(NULL, len, data);
    Tutti__Record *rec = sr ? tutti__record__unpack(NULL, sr->record.len, sr->record.data) : NULL;
    int ok = 0;
    if (rec && rec->prev_hash.len == TT_HASH_LEN) {
        uint8_t hash[TT_HASH_LEN];
        char why[TT_WHY_LEN];
        tt_chain_keys_t keys = r->keys;
        if (keys.n == 0)
            tt_chain_keys_init(&keys, r->pinned_pk);
        ok = tt_chain_check_keys(data, len, seq, rec->prev_hash.data, &keys, hash, NULL, why) == 0;
    }
    if (rec)
        tutti__record__free_unpacked(rec, NULL);
    if (sr)
        tutti__signed_record__free_unpacked(sr, NULL);
    return ok;
}

/* The seq at which the coordinator's log is to be compared with ours. */
static uint64_t check_point(const tt_replica_t *r)
{
    return r->coord_seq < r->last_seq ? r->coord_seq : r->last_seq;
}

/* A comparison is due after each hello, and while the replica is ahead
 * whenever the coordinator's head moves (its next record is where a fork
 * would show). */
static int check_due(const tt_replica_t *r)
{
    uint64_t at = check_point(r);
    return r->helloed && at > 0 && at != r->checked_seq &&
           (r->checked_seq == 0 ||
            r->conflict == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_AHEAD);
}

/* The coordinator's record seq (from a fetch) against ours. */
static void compare_record(tt_replica_t *r, uint64_t seq, const ProtobufCBinaryData *theirs)
{
    uint8_t *ours = NULL;
    size_t len = 0;
    char why[TT_WHY_LEN];
    if (tt_store_get(r->store, seq, &ours, &len, why) != 0) {
        tt_diag_warn("comparing record %llu with the coordinator's: %s", (unsigned long long)seq,
                     why);
        return;
    }
    int same = len == theirs->len && memcmp(ours, theirs->data, len) == 0;
    free(ours);
    if (!same && !signed_record(r, theirs->data, theirs->len, seq)) {
        tt_diag_warn("the coordinator sent a record %llu that is not signed with its key",
                     (unsigned long long)seq);
        return;
    }
    r->checked_seq = seq;
    if (!same)
        set_conflict(r, TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED, seq);
    else if (seq == r->last_seq)
        set_conflict(r, TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_NONE, 0);
    else if (r->conflict == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED)
        /* Only after a hello (a diverged replica applies nothing since): the
         * coordinator now answering holds our records up to its head. */
        set_conflict(r, TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_AHEAD, 0);
}

/* ------------------------------------------------------------ applying */

static int fold_replica(tt_replica_t *r, int use_snapshots, char *why);

static int snapshots_on(const tt_replica_t *r)
{
    return r->cfg.snapshot_every > 0 && r->cfg.save && r->cfg.restore;
}

/* The Snapshot value of the state as folded now (at last_seq) into *out,
 * when an append of records first..last is due one; else *out NULL. */
static void snapshot_for(tt_replica_t *r, uint64_t first, uint64_t last, uint8_t **out, size_t *len)
{
    *out = NULL;
    uint64_t n = r->cfg.snapshot_every;
    if (!snapshots_on(r) || r->last_seq == 0 || last / n <= (first - 1) / n)
        return;
    uint8_t *state = NULL;
    size_t state_len = 0;
    char why[TT_WHY_LEN];
    int rc = r->cfg.save(r->cfg.fold_arg, &state, &state_len, why);
    if (rc == 0)
        rc = tt_snapshot_wrap(r->last_seq, r->head_hash, &r->keys, state, state_len, out, len, why);
    free(state);
    if (rc != 0)
        tt_diag_warn("no snapshot at seq %llu: %s", (unsigned long long)r->last_seq, why);
}

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
    tt_chain_keys_t keys = r->keys;
    if (r->last_seq == 0)
        tt_chain_keys_init(&keys, r->have_pin ? r->pinned_pk : NULL);
    chain_pos_t pos = {r->last_seq, {0}};
    memcpy(pos.hash, r->head_hash, TT_HASH_LEN);
    size_t good = 0;
    int rc = 0;
    for (; good < n; good++) {
        rc = tt_chain_check_keys(records[good].data, records[good].len, pos.seq + 1, pos.hash,
                                 &keys, hashes[good], &decoded[good], why);
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
        uint8_t *snap_bytes = NULL;
        tt_store_snapshot_t snap = {r->last_seq, NULL, 0};
        snapshot_for(r, r->last_seq + 1, r->last_seq + good, &snap_bytes, &snap.len);
        snap.data = snap_bytes;
        int arc = tt_store_append_snapshot(r->store, r->last_seq + 1, bytes, good,
                                           snap_bytes ? &snap : NULL, swhy);
        if (arc != 0 && snap_bytes) /* the records may fit where the snapshot did not */
            arc = tt_store_append(r->store, r->last_seq + 1, bytes, good, swhy);
        free(snap_bytes);
        store_wrote(r, arc, swhy);
        if (arc != 0) {
            rc = tt_fail(why, arc, "%s", swhy);
            good = 0;
        }
    }
    if (good > 0) {
        r->last_seq = pos.seq;
        memcpy(r->head_hash, pos.hash, TT_HASH_LEN);
        r->keys = keys;
        memcpy(r->signing_pk, keys.pk[0], TT_SIGN_PK_LEN);
        /* The coordinator's records chain onto ours: its log is ours up to here. */
        r->checked_seq = r->last_seq;
        if (r->last_seq >= r->coord_seq)
            r->cautious = 0;
        set_conflict(r, TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_NONE, 0);
    }
    for (size_t i = 0; i < good && !*fatal; i++) {
        char fwhy[TT_WHY_LEN];
        if (r->cfg.fold(r->cfg.fold_arg, decoded[i], hashes[i], fwhy) != 0) {
            tt_diag_error("folding record %llu: %s; folding the replica again",
                          (unsigned long long)decoded[i]->seq, fwhy);
            if (fold_replica(r, 0, fwhy) != 0) {
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

/* Verifies and folds the store: from the newest snapshot that checks
 * (use_snapshots, when they are on), else from record 1. */
static int fold_replica(tt_replica_t *r, int use_snapshots, char *why)
{
    tt_snapshot_fold_t fold = {r->cfg.fold, r->cfg.reset, r->cfg.restore, r->cfg.fold_arg};
    tt_snapshot_replay_t rep;
    int64_t t0 = tt_time_mono_ns();
    int rc = tt_snapshot_replay(r->store, &fold, NULL, use_snapshots && snapshots_on(r), &rep, why);
    r->last_seq = rep.last_seq;
    memcpy(r->head_hash, rep.head_hash, TT_HASH_LEN);
    memcpy(r->signing_pk, rep.signing_pk, TT_SIGN_PK_LEN);
    r->keys = rep.keys;
    if (rc == 0 && rep.snapshot_seq)
        tt_diag_info("replica state from the snapshot at seq %llu, then %llu records checked "
                     "and folded, in %.1f ms",
                     (unsigned long long)rep.snapshot_seq, (unsigned long long)rep.folded,
                     (double)(tt_time_mono_ns() - t0) / 1e6);
    else if (rc == 0 && rep.folded)
        tt_diag_info("replica state folded from all %llu records in %.1f ms",
                     (unsigned long long)rep.folded, (double)(tt_time_mono_ns() - t0) / 1e6);
    return rc;
}

/* ------------------------------------------------------------ sending */

static void send_hello(tt_replica_t *r)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Hello h = TUTTI__HELLO__INIT;
    h.program = r->cfg.standby ? "tutti-coordinator" : "tutti-agent";
    h.replica_seq = r->last_seq;
    h.standby = (Tutti__StandbyHello *)r->cfg.standby;
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    tt_client_send(r->client, &env, NULL); /* dropped while disconnected: retried */
}

static void send_heartbeat(tt_replica_t *r)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Heartbeat hb = TUTTI__HEARTBEAT__INIT;
    Tutti__ReplicaConflict rc = TUTTI__REPLICA_CONFLICT__INIT;
    Tutti__StoreFault sf = TUTTI__STORE_FAULT__INIT;
    int64_t now = tt_time_mono_ns();
    hb.seq = r->last_seq;
    hb.captures = r->cfg.captures != 0;
    if (r->has_clock)
        hb.clock = &r->clock;
    if (r->conflict != TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_NONE) {
        rc.kind = r->conflict;
        rc.replica_seq = r->last_seq;
        rc.coordinator_seq = r->coord_seq;
        rc.conflict_seq = r->conflict_seq;
        rc.for_ms = (now - r->conflict_since_ns) / 1000000;
        hb.conflict = &rc;
    }
    if (r->store_fault != TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_NONE) {
        sf.cause = r->store_fault;
        sf.text = r->store_fault_text;
        sf.for_ms = (now - r->store_fault_since_ns) / 1000000;
        hb.store_fault = &sf;
    }
    hb.prelays = r->prelays;
    hb.n_prelays = r->n_prelays;
    env.body_case = TUTTI__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    tt_client_send(r->client, &env, NULL);
}

/* Fetches what the replica lacks, from the seq due for a comparison when
 * one is (check_due). A forked coordinator is only compared with, never
 * fetched from. */
static void send_fetch(tt_replica_t *r)
{
    int check = check_due(r);
    if (r->fetch_outstanding ||
        (!check && r->conflict == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED))
        return;
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__FetchRequest f = TUTTI__FETCH_REQUEST__INIT;
    f.from_seq = check ? check_point(r) : r->last_seq + 1;
    /* A comparison that cannot be followed by records to take needs one. */
    if ((check && (f.from_seq < r->last_seq ||
                   r->conflict == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED)) ||
        r->cautious)
        f.max_records = 1;
    env.body_case = TUTTI__ENVELOPE__BODY_FETCH;
    env.fetch = &f;
    if (tt_client_send(r->client, &env, NULL) == 0) {
        r->fetch_from = f.from_seq;
        r->fetch_outstanding = 1;
        r->fetch_sent_ns = tt_time_mono_ns();
    }
}

/* Says hello to the next coordinator of the list (why: what was wrong
 * with this one). A no-op with one endpoint: it is hello'd again. */
static void move_on(tt_replica_t *r, const char *reason)
{
    if (tt_client_endpoint_count(r->client) < 2)
        return;
    char from[256], mwhy[TT_WHY_LEN];
    snprintf(from, sizeof from, "%s", tt_client_endpoint(r->client));
    int64_t now = tt_time_mono_ns();
    if (tt_client_next(r->client, mwhy) != 0)
        tt_diag_warn("moving to %s: %s", tt_client_endpoint(r->client), mwhy);
    else
        tt_diag_info("%s %s: saying hello to %s", from, reason, tt_client_endpoint(r->client));
    r->helloed = 0;
    r->fetch_outstanding = 0;
    r->endpoint_since_ns = now;
    /* Straight on, unless every endpoint has been tried since the last
     * answer (all standbys, or all away): then at the hello pace. */
    r->moves++;
    r->next_hello_ns = r->moves < tt_client_endpoint_count(r->client)
                           ? 0
                           : now + (int64_t)HELLO_RETRY_MS * 1000000;
    if (r->moves >= tt_client_endpoint_count(r->client))
        r->moves = 0;
}

/* ------------------------------------------------------------ receiving */

static int open_sub(tt_replica_t *r, const char *endpoint, char *why)
{
    if (r->sub && strcmp(endpoint, r->sub_endpoint) == 0 &&
        strcmp(tt_client_server_key(r->client), r->hello_key) == 0)
        return 0;
    if (r->sub)
        zmq_close(r->sub);
    r->sub = zmq_socket(r->ctx, ZMQ_SUB);
    if (!r->sub)
        return tt_fail(why, TT_ERR_IO, "creating the updates socket: %s", zmq_strerror(errno));
    int hwm = 200000;
    zmq_setsockopt(r->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    /* through a relay, the updates come from its XPUB, under its key */
    int rc = tt_wire_setup_client(
        r->sub, r->cfg.keys,
        r->cfg.relay_endpoint ? r->cfg.relay_key_z85 : tt_client_server_key(r->client), why);
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
    else if (r->cfg.relay_endpoint) {
        if (tt_client_relay_port(r->cfg.relay_endpoint, TT_RELAY_UPDATES_PORT_OFFSET, ep,
                                 sizeof ep) != 0)
            return tt_fail(why, TT_ERR_INVALID,
                           "cannot derive the relay's updates endpoint from %s",
                           r->cfg.relay_endpoint);
    } else if (tt_wire_endpoint_with_port(tt_client_endpoint(r->client), hr->updates_port, ep,
                                          sizeof ep) != 0)
        return tt_fail(why, TT_ERR_INVALID, "cannot derive the updates endpoint from %s",
                       tt_client_endpoint(r->client));
    int rc = open_sub(r, ep, why);
    if (rc != 0)
        return rc;
    if (!r->helloed) {
        tt_diag_info("connected to %s as %s (%s); replica at %llu, coordinator at %llu",
                     tt_client_endpoint(r->client), hr->name, hr->role,
                     (unsigned long long)r->last_seq, (unsigned long long)hr->last_seq);
        /* A head behind ours is a log that lost records (the first reply to
         * this hello: a late one to an earlier hello may predate updates). */
        if (r->last_seq > hr->last_seq &&
            r->conflict != TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED)
            set_conflict(r, TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_AHEAD, 0);
        r->checked_seq = 0; /* whoever answers now: compare its log with ours */
    }
    r->helloed = 1;
    r->moves = 0;
    snprintf(r->hello_endpoint, sizeof r->hello_endpoint, "%s", tt_client_endpoint(r->client));
    snprintf(r->hello_key, sizeof r->hello_key, "%s", tt_client_server_key(r->client));
    r->fetch_outstanding = 0;
    if (hr->last_seq > r->last_seq || check_due(r))
        send_fetch(r);
    return 0;
}

static int on_dealer(tt_replica_t *r, char *why)
{
    for (;;) {
        tt_wire_msg_t m;
        char mwhy[TT_WHY_LEN];
        int rc = tt_client_recv(r->client, &m, mwhy);
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
            } else if (r->coord_seq > r->last_seq || check_due(r)) {
                send_fetch(r);
            }
            break;
        case TUTTI__ENVELOPE__BODY_FETCH_REPLY: {
            const Tutti__FetchReply *fr = env->fetch_reply;
            r->fetch_outstanding = 0;
            if (fr->last_seq > r->coord_seq)
                r->coord_seq = fr->last_seq;
            /* Records we hold already: the last of them, compared, tells
             * whether the coordinator's chain is ours up to there. */
            if (r->fetch_from && r->fetch_from <= r->last_seq && fr->n_records > 0) {
                uint64_t last = r->fetch_from + fr->n_records - 1;
                if (last > r->last_seq)
                    last = r->last_seq;
                compare_record(r, last, &fr->records[last - r->fetch_from]);
            }
            /* Updates may have brought some of these while the fetch was in
             * flight: skip what the replica already holds. */
            size_t skip = 0;
            if (r->fetch_from && r->last_seq + 1 > r->fetch_from)
                skip = (size_t)(r->last_seq + 1 - r->fetch_from);
            if (skip > fr->n_records)
                skip = fr->n_records;
            char awhy[TT_WHY_LEN];
            int fatal = 0;
            /* A forked log: nothing of it is taken. */
            int take = r->conflict != TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED;
            if (take &&
                apply_records(r, fr->records + skip, fr->n_records - skip, &fatal, awhy) != 0) {
                if (fatal)
                    rc = tt_fail(why, TT_ERR_CORRUPT, "%s", awhy);
                else if (r->store_fault == TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_NONE)
                    tt_diag_error("catching up: %s", awhy); /* a full store said so once */
            } else if (take && r->coord_seq > r->last_seq && fr->n_records > 0)
                send_fetch(r);
            break;
        }
        case TUTTI__ENVELOPE__BODY_ERROR:
            if (-(int)env->error->code == TT_ERR_STANDBY &&
                tt_client_endpoint_count(r->client) > 1) {
                /* A standby while its primary serves: hello the next. */
                tt_wire_msg_clear(&m);
                move_on(r, "is a standby");
                return 0; /* the rest was for the old connection */
            }
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
            if (seq == next + n && r->helloed && !r->cautious &&
                r->conflict != TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED) {
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
        else if (r->store_fault == TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_NONE)
            tt_diag_error("applying updates: %s", why); /* a full store said so once */
    }
    for (size_t i = 0; i < n; i++)
        tutti__envelope__free_unpacked(held[i], NULL);
    if (rc == 0 && !r->cautious && (gap || r->coord_seq > r->last_seq || check_due(r)) &&
        r->helloed)
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
    if (fold_replica(r, 1, fwhy) != 0) {
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
    if (cfg->relay_endpoint &&
        tt_client_via_relay(r->client, cfg->relay_endpoint, cfg->relay_key_z85, why) != 0)
        goto fail;
    r->endpoint_since_ns = tt_time_mono_ns();
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
        move_on(r, "is away");
    } else if (!r->helloed && tt_client_endpoint_count(r->client) > 1 &&
               now - r->endpoint_since_ns > r->cfg.away_after_ms * ms &&
               now - r->last_rx_ns > r->cfg.away_after_ms * ms) {
        move_on(r, "did not answer hello"); /* down, or never reached */
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
        if (r->coord_seq > r->last_seq || check_due(r))
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

int tt_replica_accept(tt_replica_t *r, const ProtobufCBinaryData *records, size_t n,
                      uint64_t first_seq, char *why)
{
    if (r->conflict == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED || first_seq == 0 ||
        first_seq > r->last_seq + 1)
        return 0; /* a forked log takes nothing; a gap is the fetches' to fill */
    size_t skip = (size_t)(r->last_seq + 1 - first_seq);
    if (skip >= n)
        return 0;
    if (first_seq + n - 1 > r->coord_seq)
        r->coord_seq = first_seq + n - 1;
    char awhy[TT_WHY_LEN];
    int fatal = 0;
    if (apply_records(r, records + skip, n - skip, &fatal, awhy) != 0) {
        if (fatal)
            return tt_fail(why, TT_ERR_CORRUPT, "%s", awhy);
        tt_diag_error("records shipped by the primary: %s", awhy);
    }
    return 0;
}

Tutti__ReplicaConflictKind tt_replica_conflict(const tt_replica_t *r, uint64_t *at_seq)
{
    if (at_seq)
        *at_seq = r->conflict_seq;
    return r->conflict;
}

int tt_replica_checked(const tt_replica_t *r)
{
    return r->helloed && (r->checked_seq != 0 || check_point(r) == 0);
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

void tt_replica_set_prelays(tt_replica_t *r, const uint64_t *seqs, size_t n)
{
    r->n_prelays = n < TT_REPLICA_MAX_PRELAYS ? n : TT_REPLICA_MAX_PRELAYS;
    if (r->n_prelays)
        memcpy(r->prelays, seqs, r->n_prelays * sizeof *seqs);
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
const char *tt_replica_endpoint(const tt_replica_t *r)
{
    return r->hello_endpoint[0] ? r->hello_endpoint : tt_client_endpoint(r->client);
}
const char *tt_replica_server_key(const tt_replica_t *r)
{
    return r->hello_key[0] ? r->hello_key : tt_client_server_key(r->client);
}

const char *tt_replica_conflict_name(Tutti__ReplicaConflictKind kind)
{
    switch (kind) {
    case TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_NONE: return "none";
    case TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_AHEAD: return "ahead";
    case TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED: return "diverged";
    default: return "unknown";
    }
}

const char *tt_replica_store_fault_name(Tutti__StoreFaultCause cause)
{
    switch (cause) {
    case TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_NONE: return "none";
    case TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_MAP_FULL: return "map_full";
    case TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_DISK_FULL: return "disk_full";
    case TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_IO: return "io";
    default: return "unknown";
    }
}
