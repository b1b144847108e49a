/* tt_replica: the clone-pattern client that keeps a verified copy of the
 * coordinator's log in a local store.
 *
 * Hello over DEALER (learn the updates port, epoch and signing key), SUB to
 * the sequenced updates, fetch whatever is missing by sequence number
 * (at start, after a gap, after an outage), heartbeats both ways. Every
 * record is checked (signature, hash chain, sequence) before it is
 * appended; the replica resumes from its last sequence after any restart.
 * Runs inside the caller's zmq_poll loop on one thread; the store is
 * borrowed and must outlive the replica.
 */
#ifndef TT_REPLICA_H
#define TT_REPLICA_H

#include <stdint.h>
#include <zmq.h>

#include "tt_chain.h"
#include "tt_keys.h"
#include "tt_store.h"

#define TT_REPLICA_POLL_ITEMS 3

typedef struct {
    /* The coordinator's request endpoint, or a --coordinator list "A,B": a
     * primary and its standby. The replica says hello to one at a time and
     * moves to the next when it answers ERROR_STANDBY, does not answer a
     * hello within away_after_ms or goes away (silent away_after_ms); after
     * a whole round without an answer it waits a hello retry (1 s). */
    const char *endpoint;
    const char *server_key_z85;   /* one Z85 key, or one per endpoint "KEY,KEY" */
    const tt_keypair_t *keys;     /* borrowed */
    const char *updates_endpoint; /* NULL: coordinator host + port from hello */
    const char *expect_name;      /* NULL or the access-file name this key must have */
    const char *expect_role;      /* NULL or the role this key must have */
    int heartbeat_ms;             /* default 1000 */
    int away_after_ms;            /* default 2200: two heartbeats missed */
    int captures;                 /* the room records its takes: heartbeats say so */
    /* NULL, or a site relay (tutti-relay) every request passes, sealed to
     * server_key_z85 (tt_client_via_relay); the updates then come from the
     * relay's port + TT_RELAY_UPDATES_PORT_OFFSET under relay_key_z85
     * unless updates_endpoint is given. */
    const char *relay_endpoint;
    const char *relay_key_z85;
    /* The caller's fold (the log layer knows no session state). fold gets
     * every verified record once it is durably in the replica, in sequence,
     * from the first; it returns 0, or an error with why when it refuses a
     * record the chain accepted. reset forgets everything folded. On a
     * refusal the replica resets and folds its whole store again once; a
     * second refusal is fatal (tt_replica_handle returns TT_ERR_CORRUPT),
     * so a replica never sits on records its state does not hold. */
    int (*fold)(void *arg, const Tutti__Record *rec, const uint8_t hash[TT_HASH_LEN], char *why);
    void (*reset)(void *arg);
    void *fold_arg;
    /* Snapshots of the fold (tt_snapshot.h), on when snapshot_every > 0
     * and both save and restore are set: the replica starts from the
     * newest stored snapshot that checks, and an append of records that
     * passes a multiple of snapshot_every stores with them, in the same
     * transaction, a snapshot of the state as it stood before them (the
     * replica folds a record only once it is stored). save: the state as
     * bytes into *out (malloc'd; the replica frees it); restore as in
     * tt_snapshot_fold_t. A refold after a refusal always starts from
     * record 1. */
    uint64_t snapshot_every;
    int (*save)(void *arg, uint8_t **out, size_t *len, char *why);
    int (*restore)(void *arg, uint64_t seq, const uint8_t head_hash[TT_HASH_LEN],
                   const uint8_t signing_pk[TT_SIGN_PK_LEN], const uint8_t *state, size_t len,
                   char *why);
    /* Called after each record that arrives live is stored and folded (not
     * for the records folded from the store at start or on a refold). */
    void (*on_record)(void *arg, const Tutti__Record *rec);
    void *on_record_arg;
    /* A standby coordinator's replica: sent in every hello (borrowed; NULL
     * for agents), which makes the primary name its key and ship to it. */
    const Tutti__StandbyHello *standby;
} tt_replica_config_t;

typedef struct tt_replica tt_replica_t;

/* Verifies the store and folds it through cfg->fold before it returns
 * (from a snapshot when they are on: only the records after it are
 * checked); NULL with why when the store does not verify or fold. */
tt_replica_t *tt_replica_new(void *ctx, const tt_replica_config_t *cfg, tt_store_t *store,
                             char *why);
void tt_replica_destroy(tt_replica_t **self_p);

/* Fills items (TT_REPLICA_POLL_ITEMS room) with the sockets to poll;
 * returns how many. Call again after every handle: sockets may change. */
int tt_replica_poll_items(tt_replica_t *r, zmq_pollitem_t *items);

/* Handles readiness of the items just polled. Returns 0, or a fatal error
 * (TT_ERR_AUTH: key refused; TT_ERR_CRYPTO: the replica belongs to another
 * coordinator; TT_ERR_DENIED: the key is not the expected name/role). */
int tt_replica_handle(tt_replica_t *r, const zmq_pollitem_t *items, int n, char *why);

/* Timers: hello retries, heartbeats, liveness. Returns ms until the next. */
int tt_replica_tick(tt_replica_t *r, int64_t now_ns);

/* Sends a request to the coordinator on the replica's connection (its reply,
 * a WriteReply or an Error, is logged by the replica). 0 or TT_ERR_*. */
int tt_replica_send(tt_replica_t *r, Tutti__Envelope *env, char *why);

/* Records a primary shipped to its standby, consecutive from first_seq:
 * what continues the replica is checked, appended durably and folded
 * (records it holds already are skipped; a batch past its head is left
 * for the fetches). 0, or a fatal error as tt_replica_handle's. */
int tt_replica_accept(tt_replica_t *r, const ProtobufCBinaryData *records, size_t n,
                      uint64_t first_seq, char *why);

/* How the coordinator's log disagrees with the replica (NONE, AHEAD,
 * DIVERGED), and for DIVERGED the seq where they differ. */
Tutti__ReplicaConflictKind tt_replica_conflict(const tt_replica_t *r, uint64_t *at_seq);

/* 1 once the replica has compared its log with the coordinator's since
 * the last hello (the verdict is then tt_replica_conflict's). */
int tt_replica_checked(const tt_replica_t *r);

/* 1 when hello'd and the replica holds everything the coordinator has. */
int tt_replica_caught_up(const tt_replica_t *r);

/* The room's clock, sent with every heartbeat from now on (copied). */
void tt_replica_set_clock(tt_replica_t *r, const Tutti__ClockReport *clock);

#define TT_REPLICA_MAX_PRELAYS 256
/* The prelay/guide record seqs the room holds verified, sent with every
 * heartbeat from now on (copied; at most TT_REPLICA_MAX_PRELAYS). */
void tt_replica_set_prelays(tt_replica_t *r, const uint64_t *seqs, size_t n);

/* 1 when store holds a replica: it pins a coordinator's signing key (the
 * meta entry the replica writes at its first hello). A coordinator must
 * not make a signing key of its own over such a log. */
int tt_replica_store_pins_key(tt_store_t *store);

/* The last sequence stored (and folded) in the replica. */
uint64_t tt_replica_seq(const tt_replica_t *r);
int tt_replica_coordinator_online(const tt_replica_t *r);
uint64_t tt_replica_coordinator_seq(const tt_replica_t *r);
unsigned tt_replica_clock_port(const tt_replica_t *r);
/* The coordinator's media upload port from the last hello, 0 when none. */
unsigned tt_replica_upload_port(const tt_replica_t *r);
uint64_t tt_replica_epoch(const tt_replica_t *r);
/* The coordinator endpoint (one of cfg.endpoint's list) whose hello was
 * last answered, the first of the list before any: the host whose clock,
 * updates and upload ports that hello gave. Borrowed, valid until the next
 * tt_replica_handle or tt_replica_tick. */
const char *tt_replica_endpoint(const tt_replica_t *r);
/* That coordinator's CURVE key (one of cfg.server_key_z85's list). */
const char *tt_replica_server_key(const tt_replica_t *r);

/* A replica reports how the coordinator's log disagrees with it, and why
 * its store failed its last write, in every heartbeat while they hold
 * (tutti.proto: ReplicaConflict, StoreFault). Their names in JSON: "none",
 * "ahead", "diverged"; "none", "map_full", "disk_full", "io"; "unknown"
 * for a value from a newer peer. Static strings. */
const char *tt_replica_conflict_name(Tutti__ReplicaConflictKind kind);
const char *tt_replica_store_fault_name(Tutti__StoreFaultCause cause);

#endif
