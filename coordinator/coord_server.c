/* coord_server: requests in, durable records out. See coord_server.h.
 *
 * Flow per loop turn: drain up to BATCH_MAX requests, each dispatched from
 * one table (request body -> role check -> rule check -> record builder).
 * Each write is checked against the folded state, sealed with the next
 * sequence number and folded in tentatively, so the next write of the
 * group checks against it. After the drain one LMDB transaction commits
 * the whole group; then (and only then) every writer gets its reply and
 * every record goes out on the PUB socket. If the commit fails, the
 * writers get errors and the state is folded again from the store, which
 * is the truth. Reads (hello, heartbeat, status, fetch, upload checks)
 * answer from committed state only: one that arrives while a group is in
 * flight waits for the commit, so no reply ever names a seq the store
 * does not hold. A write that repeats an idempotency key (a client's
 * retry) writes nothing: it is answered with the first record's seq, and
 * if that record is still in the group in flight, only after the commit.
 *
 * The OSC control surface (coord_osc.h) is one more source of requests,
 * not a second path: each command becomes the request envelope the CLI
 * sends, carrying the --osc-as identity's key, and goes through dispatch
 * like any other. Its replies find their way back through a routing id no
 * ZeroMQ peer can have (see OSC_RID).
 *
 * A site relay's Sealed envelope (tutti.proto: Sealed) is opened in the
 * drain, before dispatch: the inner request then carries the caller's own
 * key (looked up in the access file as on a direct connection) and a
 * routing id of the same made-up kind (SEAL_RID) whose slot remembers the
 * relay's real routing id, its request id and the caller; send_to seals
 * every reply to that slot back to the caller. So a relayed request takes
 * exactly the path of a direct one: role check, rules, group commit.
 */
#include "coord_server.h"
#include "coord_osc.h"
#include "coord_outbox.h"
#include "coord_upload.h"
#include "tt_access.h"
#include "tt_chain.h"
#include "tt_client.h"
#include "tt_clock_service.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_keys.h"
#include "tt_listen.h"
#include "tt_replica.h"
#include "tt_seal.h"
#include "tt_session.h"
#include "tt_session_snap.h"
#include "tt_snapshot.h"
#include "tt_store.h"
#include "tt_tempo.h"
#include "tt_text.h"
#include "tt_time.h"
#include "tt_timecode.h"
#include "tt_wire.h"
#include "tt_zap.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#define BATCH_MAX 512
#define FETCH_MAX_RECORDS TUTTI__LIMITS__FETCH_MAX_RECORDS /* a page, as tutti.proto states */
#define FETCH_MAX_BYTES TUTTI__LIMITS__FETCH_MAX_BYTES
#define PUB_HEARTBEAT_MS 1000
#define LIVENESS_CHECK_MS 250
#define PUB_HWM 200000
/* Connections the kernel queues for accept() (capped by somaxconn): a
 * thousand dashboards reconnecting at once overflowed libzmq's default of
 * 100, and each dropped SYN came back only after a retry, seconds later. */
#define LISTEN_BACKLOG 1024
#define COORD_PRELAYS_MAX 256 /* a heartbeat's prelay seqs kept per room */
/* An OSC sender's routing id: a zero byte, "OSC:", a 2-byte slot. ZeroMQ
 * makes its own routing ids 5 bytes long with a zero first byte and a
 * peer may not choose one starting with zero, so no peer can have it. */
#define OSC_RID "\0OSC:"
#define OSC_RID_LEN 7
#define OSC_PEERS 1024 /* senders remembered until their reply (more than a drain reads) */
/* A relayed caller's routing id, made up as OSC_RID is: "\0SEAL" and a
 * 2-byte slot. The slots outlast a drain, a batch in flight and the
 * requests that wait for it (each at most BATCH_MAX). */
#define SEAL_RID "\0SEAL"
#define SEAL_RID_LEN 7
#define SEAL_PEERS 4096
_Static_assert(SEAL_PEERS > 4 * BATCH_MAX && SEAL_PEERS <= 65536, "seal slots");

/* The limits tutti.proto states are the ones the code keeps. */
_Static_assert(TT_CHAIN_MAX_RECORD == TUTTI__LIMITS__RECORD_MAX_BYTES, "record limit");
_Static_assert(COORD_UPLOAD_CHUNK == TUTTI__LIMITS__UPLOAD_CHUNK_MAX_BYTES, "upload chunk");
_Static_assert(COORD_UPLOAD_FETCH_MAX == TUTTI__LIMITS__MEDIA_DATA_MAX_BYTES, "media fetch");
_Static_assert(TT_SESSION_KEY_LEN == TUTTI__LIMITS__IDEMPOTENCY_KEY_BYTES, "idempotency key");
_Static_assert(TT_SESSION_KEY_WINDOW == TUTTI__LIMITS__IDEMPOTENCY_WINDOW, "idempotency window");

typedef struct {
    char name[TT_ACCESS_MAX_NAME + 1];
    int online;
    int expected;         /* online when the coordinator last stopped, not heard from since */
    int64_t last_seen_ns; /* monotonic; 0 = never since start */
    uint64_t replica_seq;
    int has_clock;
    int captures; /* its heartbeats say it records its takes */
    char clock_state[16];
    double offset_us, drift_ppm, rtt_us, error_bound_us, trim_us;
    /* As in the room's last heartbeat (tutti.proto: ReplicaConflict,
     * StoreFault); kind/cause NONE when it had none. The since times are
     * ours (monotonic), from the for_ms the agent sent. */
    Tutti__ReplicaConflictKind conflict;
    uint64_t conflict_replica_seq, conflict_coordinator_seq, conflict_seq;
    int64_t conflict_since_ns;
    Tutti__StoreFaultCause store_fault;
    char store_fault_text[256];
    int64_t store_fault_since_ns;
    uint64_t prelays[COORD_PRELAYS_MAX]; /* prelay/guide seqs held verified, last heartbeat */
    size_t n_prelays;
} room_t;

typedef struct {
    uint8_t rid[TT_WIRE_MAX_ROUTING_ID];
    size_t rid_len;
    uint64_t request_id;
    uint64_t seq;
    uint8_t *record; /* owned SignedRecord bytes */
    size_t record_len;
    int own; /* the coordinator's own record: nobody waits for a reply */
} pending_t;

/* The primary's view of its standby (README "Standby coordinator"). */
typedef enum {
    PEER_NONE = 0,    /* no standby has said hello */
    PEER_CATCHING_UP, /* it is behind: writes do not wait for it */
    PEER_SYNCED,      /* every commit waits for its ack */
    PEER_ALONE        /* it stopped answering: writes do not wait for it */
} peer_state_t;

struct coord_server {
    coord_config_t cfg;
    tt_keypair_t *keys;
    tt_access_t *access;
    tt_signer_t *signer;
    tt_store_t *store;
    tt_session_t state; /* folded from the store, plus the batch in flight (writes check
                           against it; reads wait until it has committed) */
    uint64_t epoch;

    void *ctx;
    void *zap;
    tt_zap_quiet_t zap_quiet;
    void *router;
    coord_outbox_t *outbox; /* the router's replies that wait for a full pipe */
    void *pub;
    tt_listen_t *router_listen, *pub_listen;
    unsigned updates_port;
    tt_clock_service_t *clock;
    coord_upload_t *upload;

    room_t *rooms;
    size_t room_count;
    struct {
        char file[TT_MEDIA_MAX_FILE + 1];
        char key[TT_Z85_KEY_LEN + 1];
    } puts[COORD_UPLOAD_MAX_OPEN]; /* who offered each prelay/guide (its record's actor) */
    size_t next_put;
    int64_t expected_until_ns; /* monotonic: until then expected rooms count for the gate */

    pending_t batch[BATCH_MAX + 1]; /* + a StandbyEvent ALONE when shipping fails */
    size_t batch_len;
    struct {
        tt_wire_msg_t m;
        int from_pipe;
    } later[BATCH_MAX]; /* requests that wait for the batch to commit (CMD_COMMITTED, and
                           retries of a write still in it) */
    size_t later_len;

    /* The standby pair (README "Standby coordinator"). */
    int standby;           /* 1 while this coordinator is a standby */
    tt_replica_t *replica; /* standby: its verified copy of the primary's log */
    Tutti__StandbyHello standby_hello;
    char advertise[256];
    int primary_heard; /* standby: the primary answered since start */
    char peer_name[TT_ACCESS_MAX_NAME + 1];
    char peer_key[TT_Z85_KEY_LEN + 1];
    char peer_endpoint[256];
    peer_state_t peer_state; /* primary: its standby's */
    tt_client_t *ship;       /* primary: a DEALER to the standby's request endpoint */
    uint64_t peer_acked;     /* primary: the standby's durable head as last heard */
    int64_t peer_seen_ns;    /* monotonic; 0: never */
    int64_t sync_retry_ns;   /* primary: no attempt to sync before this */
    int64_t sync_backoff_ms; /* primary: the wait after the next failed attempt */
    /* A standby's view of the primary's session clock: its clock service
     * serves session time through it, and after a takeover this
     * coordinator's own session time is that estimate (session_now). */
    tt_clock_box_t clock_box;
    tt_clock_client_t *clock_client;
    int clock_connected;

    int osc_fd; /* the OSC control surface, or -1 */
    struct {
        struct sockaddr_in addr;
        const char *command; /* "roll", ... (static) */
    } osc_peers[OSC_PEERS];
    unsigned osc_next;

    tt_seal_guard_t *seal_guard; /* relayed requests' nonces (replays) */
    struct {
        uint8_t rid[TT_WIRE_MAX_ROUTING_ID]; /* the relay's */
        size_t rid_len;
        uint64_t request_id; /* the relay's (the outer envelope's) */
        char caller[TT_Z85_KEY_LEN + 1];
    } seal_peers[SEAL_PEERS];
    unsigned seal_next;
};

static void peer_hello(coord_server_t *s, const Tutti__Hello *h, const tt_access_entry_t *who);
static void status_standby(coord_server_t *s, Tutti__StatusReply *sr, Tutti__StandbyStatus *st);
static void ship_before_commit(coord_server_t *s);

/* Session time now: this host's monotonic clock, or for a standby (and a
 * coordinator that took over) the primary's clock as its clock client
 * estimates it, once it has one. */
static int64_t session_now(coord_server_t *s)
{
    int64_t mono = tt_time_mono_ns(), session;
    uint64_t bound;
    if (s->clock_client && tt_clock_client_session_ns(s->clock_client, mono, &session, &bound) == 0)
        return session;
    return mono;
}

/* ------------------------------------------------------------ the store */

/* state = fold(store), every record checked against our signing key: from
 * the newest snapshot that checks when snapshots are on, else from record
 * 1. at_start: say how, for the operator (and the tests). */
static int refold(coord_server_t *s, int at_start, char *why)
{
    tt_snapshot_fold_t fold = {tt_session_fold, tt_session_reset, tt_session_snap_restore,
                               &s->state};
    tt_snapshot_replay_t rep;
    int64_t t0 = tt_time_mono_ns();
    /* The genesis record's key, and the keys Signer records name: after a
     * takeover this coordinator signs with a named key (checked at start). */
    int rc = tt_snapshot_replay(s->store, &fold, NULL, s->cfg.snapshot_every > 0, &rep, why);
    if (rc != 0 || !at_start)
        return rc;
    double ms = (double)(tt_time_mono_ns() - t0) / 1e6;
    if (rep.snapshot_seq)
        tt_diag_info("state from the snapshot at seq %llu, then %llu records checked and folded, "
                     "in %.1f ms",
                     (unsigned long long)rep.snapshot_seq, (unsigned long long)rep.folded, ms);
    else if (rep.folded)
        tt_diag_info("state folded from all %llu records in %.1f ms (%s)",
                     (unsigned long long)rep.folded, ms,
                     !s->cfg.snapshot_every ? "--snapshot-every 0: no snapshot used"
                     : rep.ignored          ? "no stored snapshot checks"
                                            : "no snapshot stored yet");
    return 0;
}

/* A snapshot is due when the group [first, last] passes a multiple of
 * snapshot_every. */
static int snapshot_due(const coord_server_t *s, uint64_t first, uint64_t last)
{
    uint64_t n = s->cfg.snapshot_every;
    return n > 0 && first > 0 && last / n > (first - 1) / n;
}

/* Seals rec as the next record and folds it in; the caller commits. */
static int seal_next(coord_server_t *s, Tutti__Record *rec, uint8_t **out, size_t *out_len,
                     char *why)
{
    uint8_t hash[TT_HASH_LEN];
    uint64_t seq = s->state.last_seq + 1;
    rec->at_unix_ns = tt_time_wall_ns();
    int rc = tt_chain_seal(s->signer, rec, seq, s->state.head_hash, out, out_len, hash, why);
    if (rc != 0)
        return rc;
    return tt_session_apply(&s->state, rec, hash, why);
}

/* Appends one record the coordinator itself writes (genesis, recovery). */
static int append_own(coord_server_t *s, Tutti__Record *rec, char *why)
{
    rec->actor = "coordinator";
    rec->actor_role = "coordinator";
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = seal_next(s, rec, &buf, &len, why);
    if (rc != 0)
        return rc;
    tt_bytes_t b = {buf, len};
    rc = tt_store_append(s->store, s->state.last_seq, &b, 1, why);
    free(buf);
    return rc;
}

/* A take still open at start means the coordinator died during it: close
 * it as interrupted (and end its roll) before serving anyone. */
static int close_interrupted_take(coord_server_t *s, char *why)
{
    const char *cue = NULL;
    const tt_session_take_t *take = tt_session_open_take(&s->state, &cue);
    if (!take)
        return 0;
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__TakeInterrupted ti = TUTTI__TAKE_INTERRUPTED__INIT;
    ti.cue = (char *)cue;
    ti.take = take->number;
    ti.at_session_ns = tt_time_mono_ns();
    rec.body_case = TUTTI__RECORD__BODY_TAKE_INTERRUPTED;
    rec.take_interrupted = &ti;
    tt_diag_warn("take %u of %s was open when the coordinator stopped: closing it as "
                 "interrupted",
                 take->number, cue);
    return append_own(s, &rec, why);
}

static int write_genesis(coord_server_t *s, char *why)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Genesis gen = TUTTI__GENESIS__INIT;
    gen.signing_public_key.data = s->signer->public_key;
    gen.signing_public_key.len = TT_SIGN_PK_LEN;
    gen.session_name = (char *)s->cfg.session_name;
    rec.body_case = TUTTI__RECORD__BODY_GENESIS;
    rec.genesis = &gen;
    return append_own(s, &rec, why);
}

/* ------------------------------------------------------------ rooms */

static int rebuild_rooms(coord_server_t *s, char *why)
{
    size_t n = tt_access_count_role(s->access, TT_ROLE_ROOM);
    room_t *rooms = calloc(n ? n : 1, sizeof *rooms);
    if (!rooms)
        return tt_fail(why, TT_ERR_NOMEM, "allocating the room table");
    size_t k = 0;
    for (size_t i = 0; i < s->access->count; i++) {
        const tt_access_entry_t *e = &s->access->entries[i];
        if (e->role != TT_ROLE_ROOM)
            continue;
        room_t *r = &rooms[k++];
        snprintf(r->name, sizeof r->name, "%s", e->name);
        for (size_t j = 0; j < s->room_count; j++) /* keep liveness across a reload */
            if (strcmp(s->rooms[j].name, r->name) == 0)
                *r = s->rooms[j];
    }
    free(s->rooms);
    s->rooms = rooms;
    s->room_count = n;
    return 0;
}

static room_t *find_room(coord_server_t *s, const char *name)
{
    for (size_t i = 0; i < s->room_count; i++)
        if (strcmp(s->rooms[i].name, name) == 0)
            return &s->rooms[i];
    return NULL;
}

/* The rooms online (and those still expected back) are kept in the
 * store's meta whenever the set changes, so a restarted coordinator knows
 * who to wait for: without it every room starts offline and the ack gate
 * would open for the heartbeat window after every restart. */
#define META_ROOMS_ONLINE "rooms_online"

static int room_counts(const coord_server_t *s, const room_t *r, int64_t now)
{
    return r->online || (r->expected && now < s->expected_until_ns);
}

static void save_rooms_online(coord_server_t *s)
{
    char list[4096];
    size_t used = 0;
    int64_t now = tt_time_mono_ns();
    for (size_t i = 0; i < s->room_count; i++) {
        const room_t *r = &s->rooms[i];
        size_t n = strlen(r->name);
        if (room_counts(s, r, now) && used + n + 1 < sizeof list) {
            memcpy(list + used, r->name, n);
            used += n;
            list[used++] = '\n';
        }
    }
    char why[TT_WHY_LEN];
    if (tt_store_meta_put(s->store, META_ROOMS_ONLINE, list, used, why) != 0)
        tt_diag_warn("remembering the rooms online: %s", why);
}

static void load_rooms_expected(coord_server_t *s)
{
    char list[4097], why[TT_WHY_LEN];
    size_t len = sizeof list - 1;
    if (tt_store_meta_get(s->store, META_ROOMS_ONLINE, list, &len, why) != 0)
        return;
    list[len] = '\0';
    char names[1024] = "";
    for (char *save = NULL, *name = strtok_r(list, "\n", &save); name;
         name = strtok_r(NULL, "\n", &save)) {
        room_t *r = find_room(s, name);
        if (!r)
            continue;
        r->expected = 1;
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", name);
    }
    if (!names[0])
        return;
    s->expected_until_ns = tt_time_mono_ns() + (int64_t)s->cfg.room_timeout_ms * 1000000;
    tt_diag_info("rooms online before the restart, counted by the ack gate until they are back "
                 "or %d ms pass: %s",
                 s->cfg.room_timeout_ms, names);
}

static void room_seen(coord_server_t *s, const tt_access_entry_t *who, uint64_t replica_seq,
                      int has_seq)
{
    if (who->role != TT_ROLE_ROOM)
        return;
    room_t *r = find_room(s, who->name);
    if (!r)
        return;
    r->last_seen_ns = tt_time_mono_ns();
    if (has_seq)
        r->replica_seq = replica_seq;
    if (!r->online) {
        r->online = 1;
        r->expected = 0;
        tt_diag_info("room %s online (replica at %llu)", r->name,
                     (unsigned long long)r->replica_seq);
        save_rooms_online(s);
    }
}

static void check_liveness(coord_server_t *s)
{
    int64_t now = tt_time_mono_ns();
    for (size_t i = 0; i < s->room_count; i++) {
        room_t *r = &s->rooms[i];
        if (r->online && now - r->last_seen_ns > (int64_t)s->cfg.room_timeout_ms * 1000000) {
            r->online = 0;
            tt_diag_warn("room %s offline: silent for %d ms", r->name, s->cfg.room_timeout_ms);
            save_rooms_online(s);
        }
    }
}

/* ------------------------------------------------------------ replies */

/* The OSC sender slot a routing id names, or -1 when it is a ZeroMQ peer's. */
static int osc_slot(const uint8_t *rid, size_t rid_len)
{
    if (rid_len != OSC_RID_LEN || memcmp(rid, OSC_RID, 5) != 0)
        return -1;
    return (rid[5] << 8 | rid[6]) % OSC_PEERS;
}

/* A reply to an OSC sender: /tutti/reply to the address it sent from. */
static int osc_send(coord_server_t *s, int slot, int ok, uint64_t seq, const char *text, char *why)
{
    uint8_t buf[COORD_OSC_MAX_MESSAGE];
    size_t len;
    int rc = coord_osc_reply(s->osc_peers[slot].command, ok, seq, text, buf, sizeof buf, &len, why);
    if (rc == 0 &&
        sendto(s->osc_fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&s->osc_peers[slot].addr,
               sizeof s->osc_peers[slot].addr) < 0)
        rc = tt_fail(why, TT_ERR_IO, "OSC reply: %s", strerror(errno));
    return rc;
}

/* The relayed caller's slot a routing id names, or -1. */
static int seal_slot(const uint8_t *rid, size_t rid_len)
{
    if (rid_len != SEAL_RID_LEN || memcmp(rid, SEAL_RID, 5) != 0)
        return -1;
    return (rid[5] << 8 | rid[6]) % SEAL_PEERS;
}

/* A reply to a relayed caller: sealed to the caller, sent to its relay
 * under the relay's request id. */
static int seal_send(coord_server_t *s, int slot, Tutti__Envelope *env, char *why)
{
    tt_sealed_t sealed;
    int rc = tt_seal(env, s->keys, s->seal_peers[slot].caller, s->seal_peers[slot].caller,
                     tt_time_wall_ns(), &sealed, why);
    if (rc != 0)
        return rc;
    sealed.env.request_id = s->seal_peers[slot].request_id;
    rc = coord_outbox_send(s->outbox, s->seal_peers[slot].rid, s->seal_peers[slot].rid_len,
                           &sealed.env, why);
    tt_sealed_clear(&sealed);
    return rc;
}

/* Replies to a client go through the request socket's outbox (bounded per
 * peer); a message without a routing id came from the upload thread's
 * pipe and is answered there; an OSC sender's goes back as a datagram, a
 * relayed caller's sealed through its relay. */
static int send_to(coord_server_t *s, const uint8_t *rid, size_t rid_len, Tutti__Envelope *env,
                   char *why)
{
    int sslot = seal_slot(rid, rid_len);
    if (sslot >= 0)
        return seal_send(s, sslot, env, why);
    int slot = osc_slot(rid, rid_len);
    if (slot >= 0) {
        int wr = env->body_case == TUTTI__ENVELOPE__BODY_WRITE_REPLY;
        return osc_send(s, slot, 1, wr ? env->write_reply->seq : 0,
                        wr && env->write_reply->duplicate ? "duplicate" : "", why);
    }
    return rid_len ? coord_outbox_send(s->outbox, rid, rid_len, env, why)
                   : tt_wire_send(coord_upload_pipe(s->upload), NULL, 0, env, why);
}

static int send_error_to(coord_server_t *s, const uint8_t *rid, size_t rid_len, uint64_t request_id,
                         int code, const char *text)
{
    int slot = osc_slot(rid, rid_len);
    if (slot >= 0) {
        char why[TT_WHY_LEN];
        (void)code; /* the text names the refusal; OSC has no codes of ours */
        return osc_send(s, slot, 0, 0, text, why);
    }
    if (seal_slot(rid, rid_len) >= 0) {
        Tutti__Envelope env;
        Tutti__Error err;
        char why[TT_WHY_LEN];
        tt_wire_make_error(&env, &err, request_id, code, text);
        int rc = send_to(s, rid, rid_len, &env, why);
        if (rc != 0)
            tt_diag_warn("sealed error reply: %s", why);
        return rc;
    }
    return rid_len
               ? coord_outbox_send_error(s->outbox, rid, rid_len, request_id, code, text)
               : tt_wire_send_error(coord_upload_pipe(s->upload), NULL, 0, request_id, code, text);
}

static void send_reply(coord_server_t *s, const tt_wire_msg_t *m, Tutti__Envelope *env)
{
    char why[TT_WHY_LEN];
    env->request_id = m->request_id;
    if (send_to(s, m->routing_id, m->routing_id_len, env, why) != 0)
        tt_diag_warn("reply to a client lost: %s", why);
}

static void send_error(coord_server_t *s, const tt_wire_msg_t *m, int code, const char *text)
{
    if (send_error_to(s, m->routing_id, m->routing_id_len, m->request_id, code, text) != 0)
        tt_diag_warn("error reply to a client lost");
}

/* ------------------------------------------------------------ prelays */

/* A room's heartbeat lists the prelay/guide seqs it holds verified; the
 * list replaces the last one (at most COORD_PRELAYS_MAX kept). */
static void note_prelays(room_t *r, const Tutti__Heartbeat *hb)
{
    r->n_prelays = hb->n_prelays < COORD_PRELAYS_MAX ? hb->n_prelays : COORD_PRELAYS_MAX;
    if (r->n_prelays) /* (an empty list may come as NULL) */
        memcpy(r->prelays, hb->prelays, r->n_prelays * sizeof *r->prelays);
}

static int room_holds(void *arg, const char *room, uint64_t seq)
{
    const room_t *r = find_room(arg, room);
    for (size_t i = 0; r && i < r->n_prelays; i++)
        if (r->prelays[i] == seq)
            return 1;
    return 0;
}

#define STATUS_MISSING_MAX 16

static void status_prelays(coord_server_t *s, Tutti__RoomStatus *rs, const char *room,
                           char *missing[STATUS_MISSING_MAX])
{
    size_t held = 0, n_missing = 0;
    size_t wanted = tt_media_room_prelays(&s->state.media, room, room_holds, s, &held,
                                          (const char **)missing, STATUS_MISSING_MAX, &n_missing);
    rs->prelays_wanted = (uint32_t)wanted;
    rs->prelays_held = (uint32_t)held;
    rs->prelays_missing = missing;
    rs->n_prelays_missing = n_missing;
}

static int access_is_room(void *arg, const char *name)
{
    return tt_access_find_room(((coord_server_t *)arg)->access, name) != NULL;
}

/* tt_media_check_put, and a frame rate the timecode knows. */
static int check_put(coord_server_t *s, const Tutti__Media *m, const tt_media_entry_t **e,
                     char *why)
{
    int rc = tt_media_check_put(&s->state, m, access_is_room, s, e, why);
    tt_fps_t fps;
    if (rc == 0 && m->at_fps && *m->at_fps && tt_fps_parse(m->at_fps, &fps, NULL) != 0)
        rc = tt_fail(why, TT_ERR_INVALID, "'%s' is not a frame rate", m->at_fps);
    return rc;
}

/* The operator whose offer of a prelay/guide passed the check: its record
 * is written in that operator's name (the upload thread's record request
 * carries only the record). A ring: one entry per upload that may be open. */
static void remember_put(coord_server_t *s, const Tutti__Media *m, const char *key)
{
    char file[TT_MEDIA_MAX_FILE + 1];
    if (tt_media_record_file_name(m, file, sizeof file) != 0)
        return;
    size_t i = s->next_put++ % COORD_UPLOAD_MAX_OPEN;
    snprintf(s->puts[i].file, sizeof s->puts[i].file, "%s", file);
    snprintf(s->puts[i].key, sizeof s->puts[i].key, "%s", key);
}

static const tt_access_entry_t *put_by(const coord_server_t *s, const Tutti__Media *m)
{
    char file[TT_MEDIA_MAX_FILE + 1];
    if (tt_media_record_file_name(m, file, sizeof file) != 0)
        return NULL;
    for (size_t k = 0; k < COORD_UPLOAD_MAX_OPEN; k++) {
        size_t i = (s->next_put + COORD_UPLOAD_MAX_OPEN - 1 - k) % COORD_UPLOAD_MAX_OPEN;
        if (!strcmp(s->puts[i].file, file))
            return tt_access_find_key(s->access, s->puts[i].key);
    }
    return NULL;
}

static void on_hello(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    room_seen(s, who, m->env->hello->replica_seq, 1);
    if (who->role == TT_ROLE_COORDINATOR)
        peer_hello(s, m->env->hello, who);
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__HelloReply hr = TUTTI__HELLO_REPLY__INIT;
    hr.name = (char *)who->name;
    hr.role = (char *)tt_role_name(who->role);
    hr.epoch = s->epoch;
    hr.last_seq = s->state.last_seq;
    hr.updates_port = s->updates_port;
    hr.clock_port = tt_clock_service_port(s->clock);
    hr.upload_port = coord_upload_port(s->upload);
    /* The log's key (its genesis record's), which replicas pin; after a
     * takeover not the key this coordinator signs with. */
    hr.signing_public_key.data = s->state.signing_pk;
    hr.signing_public_key.len = TT_SIGN_PK_LEN;
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO_REPLY;
    env.hello_reply = &hr;
    send_reply(s, m, &env);
}

/* A since time from an agent's for_ms: bounded, so a wild value cannot
 * overflow the arithmetic (a year is plenty). */
static int64_t since_ns(int64_t now, int64_t for_ms)
{
    const int64_t year_ms = 366LL * 24 * 3600 * 1000;
    return now - (for_ms < 0 ? 0 : for_ms > year_ms ? year_ms : for_ms) * 1000000;
}

/* Keeps what the heartbeat says of the room's replica and store: a
 * condition absent from it has stopped. Unknown enum values from a newer
 * agent are kept as they are (the CLI names them by number). */
static void room_conditions(coord_server_t *s, room_t *r, const Tutti__Heartbeat *hb)
{
    int64_t now = tt_time_mono_ns();
    const Tutti__ReplicaConflict *c = hb->conflict;
    Tutti__ReplicaConflictKind kind =
        c ? c->kind : TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_NONE;
    if (kind != r->conflict)
        tt_diag_warn("room %s: its replica (at %llu) %s this coordinator's log (at %llu)", r->name,
                     (unsigned long long)hb->seq,
                     kind == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_NONE ? "agrees with"
                     : kind == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_AHEAD
                         ? "is ahead of"
                         : "diverged from",
                     (unsigned long long)s->state.last_seq);
    r->conflict = kind;
    if (c) {
        r->conflict_replica_seq = c->replica_seq;
        r->conflict_coordinator_seq = c->coordinator_seq;
        r->conflict_seq = c->conflict_seq;
        r->conflict_since_ns = since_ns(now, c->for_ms);
    }
    const Tutti__StoreFault *f = hb->store_fault;
    Tutti__StoreFaultCause cause = f ? f->cause : TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_NONE;
    char text[sizeof r->store_fault_text] = "";
    if (f) {
        tt_utf8_copy_any(text, sizeof text, f->text);
        r->store_fault_since_ns = since_ns(now, f->for_ms);
    }
    if (cause != r->store_fault)
        tt_diag_warn("room %s: %s%s", r->name, f ? "its store failed: " : "its store writes again",
                     text);
    r->store_fault = cause;
    memcpy(r->store_fault_text, text, sizeof text);
}

static void on_heartbeat(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    room_seen(s, who, m->env->heartbeat->seq, 1);
    if (who->role == TT_ROLE_COORDINATOR && !s->standby && s->peer_state != PEER_NONE &&
        strcmp(who->name, s->peer_name) == 0) {
        s->peer_acked = m->env->heartbeat->seq;
        s->peer_seen_ns = tt_time_mono_ns();
    }
    const Tutti__ClockReport *cr = m->env->heartbeat->clock;
    room_t *r = who->role == TT_ROLE_ROOM ? find_room(s, who->name) : NULL;
    if (r && cr && cr->state && *cr->state) {
        r->has_clock = 1;
        snprintf(r->clock_state, sizeof r->clock_state, "%s", cr->state);
        r->offset_us = cr->offset_us;
        r->drift_ppm = cr->drift_ppm;
        r->rtt_us = cr->rtt_us;
        r->error_bound_us = cr->error_bound_us;
        r->trim_us = cr->trim_us;
    }
    if (r) {
        r->captures = m->env->heartbeat->captures;
        room_conditions(s, r, m->env->heartbeat);
        note_prelays(r, m->env->heartbeat);
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Heartbeat hb = TUTTI__HEARTBEAT__INIT;
    hb.seq = s->state.last_seq;
    hb.epoch = s->epoch;
    env.body_case = TUTTI__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    send_reply(s, m, &env);
}

static void on_status(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    (void)who;
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__StatusReply sr = TUTTI__STATUS_REPLY__INIT;
    Tutti__RoomStatus *rs = calloc(s->room_count ? s->room_count : 1, sizeof *rs);
    Tutti__RoomStatus **rp = calloc(s->room_count ? s->room_count : 1, sizeof *rp);
    Tutti__ClockReport *cr = calloc(s->room_count ? s->room_count : 1, sizeof *cr);
    Tutti__ReplicaConflict *rc = calloc(s->room_count ? s->room_count : 1, sizeof *rc);
    Tutti__StoreFault *sf = calloc(s->room_count ? s->room_count : 1, sizeof *sf);
    char **players = calloc(s->state.n_players + 1, sizeof *players);
    char *(*missing)[STATUS_MISSING_MAX] =
        calloc(s->room_count ? s->room_count : 1, sizeof *missing);
    size_t used_players = 0;
    if (!rs || !rp || !cr || !rc || !sf || !missing) {
        free(rs);
        free(rp);
        free(cr);
        free(rc);
        free(sf);
        free(players);
        free(missing);
        send_error(s, m, TT_ERR_NOMEM, "coordinator out of memory");
        return;
    }
    int64_t now = tt_time_mono_ns();
    for (size_t i = 0; i < s->room_count; i++) {
        tutti__room_status__init(&rs[i]);
        rs[i].name = s->rooms[i].name;
        rs[i].online = s->rooms[i].online;
        rs[i].last_seq = s->rooms[i].replica_seq;
        rs[i].last_seen_ms_ago =
            s->rooms[i].last_seen_ns ? (now - s->rooms[i].last_seen_ns) / 1000000 : -1;
        if (s->rooms[i].has_clock) {
            tutti__clock_report__init(&cr[i]);
            cr[i].state = s->rooms[i].clock_state;
            cr[i].offset_us = s->rooms[i].offset_us;
            cr[i].drift_ppm = s->rooms[i].drift_ppm;
            cr[i].rtt_us = s->rooms[i].rtt_us;
            cr[i].error_bound_us = s->rooms[i].error_bound_us;
            cr[i].trim_us = s->rooms[i].trim_us;
            rs[i].clock = &cr[i];
        }
        const room_t *room = &s->rooms[i];
        if (room->conflict != TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_NONE) {
            tutti__replica_conflict__init(&rc[i]);
            rc[i].kind = room->conflict;
            rc[i].replica_seq = room->conflict_replica_seq;
            rc[i].coordinator_seq = room->conflict_coordinator_seq;
            rc[i].conflict_seq = room->conflict_seq;
            rc[i].for_ms = (now - room->conflict_since_ns) / 1000000;
            rs[i].conflict = &rc[i];
        }
        if (room->store_fault != TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_NONE) {
            tutti__store_fault__init(&sf[i]);
            sf[i].cause = room->store_fault;
            sf[i].text = (char *)room->store_fault_text;
            sf[i].for_ms = (now - room->store_fault_since_ns) / 1000000;
            rs[i].store_fault = &sf[i];
        }
        status_prelays(s, &rs[i], s->rooms[i].name, missing[i]);
        rs[i].players = players ? players + used_players : NULL;
        for (size_t p = 0; players && p < s->state.n_players; p++)
            if (!strcmp(s->state.players[p].room, s->rooms[i].name))
                players[used_players + rs[i].n_players++] = s->state.players[p].name;
        used_players += rs[i].n_players;
        rp[i] = &rs[i];
    }
    sr.last_seq = s->state.last_seq;
    sr.head_hash.data = s->state.head_hash;
    sr.head_hash.len = TT_HASH_LEN;
    sr.epoch = s->epoch;
    sr.session_name = s->state.session_name;
    sr.session_ns = session_now(s);
    /* Open changes: some room of the access file has not acked. */
    size_t n_open = 0;
    Tutti__ChangeStatus *cs = calloc(s->state.n_changes + 1, sizeof *cs);
    Tutti__ChangeStatus **csp = calloc(s->state.n_changes + 1, sizeof *csp);
    const char **names = calloc((s->state.n_changes + 2) * (s->room_count + 1), sizeof *names);
    const char **rooms = names ? names + (s->state.n_changes + 1) * (s->room_count + 1) : NULL;
    for (size_t r = 0; rooms && r < s->room_count; r++)
        rooms[r] = s->rooms[r].name;
    size_t used_names = 0;
    for (size_t i = 0; cs && csp && names && i < s->state.n_changes; i++) {
        const tt_session_change_t *c = &s->state.changes[i];
        Tutti__ChangeStatus *st = &cs[n_open];
        tutti__change_status__init(st);
        st->id = c->id;
        st->cue = (char *)c->cue;
        st->text = c->text;
        st->acked = c->acked;
        st->n_acked = c->n_acked;
        st->not_acked = (char **)names + used_names;
        st->n_not_acked = tt_session_not_acked(c, rooms, s->room_count, names + used_names);
        used_names += st->n_not_acked;
        if (st->n_not_acked > 0)
            csp[n_open++] = st;
    }
    sr.changes = csp;
    sr.n_changes = n_open;
    sr.transport = (char *)tt_session_transport_name(&s->state, session_now(s));
    sr.cue = s->state.transport.cue;
    sr.take = s->state.transport.take;
    sr.n_rooms = s->room_count;
    sr.rooms = rp;
    Tutti__StandbyStatus sst;
    status_standby(s, &sr, &sst);
    env.body_case = TUTTI__ENVELOPE__BODY_STATUS_REPLY;
    env.status_reply = &sr;
    send_reply(s, m, &env);
    free(rs);
    free(rp);
    free(cr);
    free(rc);
    free(sf);
    free(cs);
    free(csp);
    free(names);
    free(players);
    free(missing);
}

typedef struct {
    ProtobufCBinaryData *items;
    size_t count;
} fetch_ctx_t;

static int fetch_one(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    (void)seq;
    fetch_ctx_t *c = arg;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return TT_ERR_NOMEM;
    memcpy(copy, data, len);
    c->items[c->count].data = copy;
    c->items[c->count].len = len;
    c->count++;
    return 0;
}

static void on_fetch(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    (void)who;
    const Tutti__FetchRequest *fr = m->env->fetch;
    size_t max = fr->max_records && fr->max_records < FETCH_MAX_RECORDS ? fr->max_records
                                                                        : FETCH_MAX_RECORDS;
    uint64_t from = fr->from_seq ? fr->from_seq : 1;
    fetch_ctx_t c = {calloc(max, sizeof *c.items), 0};
    if (!c.items) {
        send_error(s, m, TT_ERR_NOMEM, "coordinator out of memory");
        return;
    }
    char why[TT_WHY_LEN];
    int rc = from <= s->state.last_seq
                 ? tt_store_scan(s->store, from, max, FETCH_MAX_BYTES, fetch_one, &c, why)
                 : 0;
    if (rc != 0) {
        tt_diag_error("serving history from %llu: %s", (unsigned long long)from, why);
        send_error(s, m, TT_ERR_STORE, "coordinator could not read its log");
    } else {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__FetchReply rep = TUTTI__FETCH_REPLY__INIT;
        rep.records = c.items;
        rep.n_records = c.count;
        rep.last_seq = s->state.last_seq; /* committed: reads wait for the batch */
        env.body_case = TUTTI__ENVELOPE__BODY_FETCH_REPLY;
        env.fetch_reply = &rep;
        send_reply(s, m, &env);
    }
    for (size_t i = 0; i < c.count; i++)
        free(c.items[i].data);
    free(c.items);
}

/* ------------------------------------------------------------ writes */

/* One request on its way through the table: what its rule check finds and
 * hands its record builder, and the record body, which must live until
 * the record is sealed. */
typedef struct {
    coord_server_t *s;
    const tt_wire_msg_t *m;
    const tt_access_entry_t *who; /* the caller; for pipe requests, named by the check */
    int64_t now;                  /* session time (this host's monotonic clock) of the request */
    char why[TT_WHY_LEN];         /* a refusal's reason */
    uint64_t done_seq;            /* the check found this request in the log already, at this seq */
    int duplicate;                /* ... by its idempotency key: the reply says so */
    char *canonical;              /* tempo load: the map as every agent will parse it (owned) */
    tt_rules_t rules;             /* call start: the rules the text parsed to */
    int32_t from_bar;             /* roll, defaults applied */
    uint32_t lead_ms;
    const char **online; /* roll: the rooms online, then those expected back (owned) */
    size_t n_online, n_expected;
    const char **capturing; /* roll: the online rooms that record their takes (owned) */
    size_t n_capturing;
    tt_session_gate_t gate;           /* roll: who has not acked this cue's changes */
    tt_media_gate_t prelays;          /* roll: who lacks a prelay or guide of the cue */
    char file[TT_MEDIA_MAX_FILE + 1]; /* media: the file's name under the media dir */
    union {
        Tutti__Note note;
        Tutti__Trim trim;
        Tutti__TempoLoad tempo_load;
        Tutti__Roll roll;
        Tutti__Stop stop;
        Tutti__CueAdd cue_add;
        Tutti__Arm arm;
        Tutti__TakeRate take_rate;
        Tutti__TakeNote take_note;
        Tutti__Change change;
        Tutti__Ack ack;
        Tutti__Presence presence;
        Tutti__CallEvent call_event;
        Tutti__Media media;
    } body;
} req_t;

/* Seals rec, written by the caller, as the next record of the batch. */
static void queue_write(req_t *q, Tutti__Record *rec)
{
    coord_server_t *s = q->s;
    char why[TT_WHY_LEN];
    rec->actor = (char *)q->who->name;
    rec->actor_role = (char *)tt_role_name(q->who->role);
    rec->idempotency_key = q->m->env->idempotency_key; /* checked by check_key; 0 or 16 bytes */
    pending_t *p = &s->batch[s->batch_len];
    int rc = seal_next(s, rec, &p->record, &p->record_len, why);
    if (rc != 0) {
        tt_diag_error("sealing a record: %s", why);
        send_error(s, q->m, rc, why);
        return;
    }
    memcpy(p->rid, q->m->routing_id, q->m->routing_id_len);
    p->rid_len = q->m->routing_id_len;
    p->request_id = q->m->request_id;
    p->seq = s->state.last_seq;
    p->own = 0;
    s->batch_len++;
}

static int is_access_room(const coord_server_t *s, const char *name)
{
    return tt_access_find_room(s->access, name) != NULL;
}

static void refuse(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who,
                   const char *what, int rc, const char *why)
{
    tt_diag_warn("refused %s from %s: %s", what, who ? who->name : "?", why);
    send_error(s, m, rc, why);
}

/* Bytes a singular field of this type takes in a generated struct. */
static size_t field_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM: return 4;
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    default: return 8; /* 64-bit integers, double */
    }
}

/* The builder of the writes whose record carries the request's fields as
 * they came (note, trim, cue add, take rate, take note, change, ack,
 * presence, media): each record field takes the request's field of the
 * same number and type (tutti.proto keeps them equal); the unknown fields
 * the request brought stay behind. The two bodies are found through the
 * generated descriptors, by their body cases. */
static int build_same_fields(req_t *q, Tutti__Record *rec)
{
    const ProtobufCFieldDescriptor *from =
        protobuf_c_message_descriptor_get_field(&tutti__envelope__descriptor, q->m->env->body_case);
    const ProtobufCFieldDescriptor *to =
        protobuf_c_message_descriptor_get_field(&tutti__record__descriptor, rec->body_case);
    const char *src = *(const char *const *)((const char *)q->m->env + from->offset);
    const ProtobufCMessageDescriptor *d = to->descriptor, *sd = from->descriptor;
    assert(d->sizeof_message <= sizeof q->body);
    char *dst = (char *)&q->body;
    protobuf_c_message_init(d, dst);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const ProtobufCFieldDescriptor *sf = protobuf_c_message_descriptor_get_field(sd, f->id);
        if (!sf || sf->type != f->type || sf->label != f->label ||
            sf->descriptor != f->descriptor ||
            ((f->flags | sf->flags) & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue; /* not the same field (a oneof member would need its case too) */
        int repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
        memcpy(dst + f->offset, src + sf->offset, repeated ? sizeof(void *) : field_size(f->type));
        if (repeated) /* n_ */
            memcpy(dst + f->quantifier_offset, src + sf->quantifier_offset, sizeof(size_t));
        else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset) /* has_ */
            memcpy(dst + f->quantifier_offset, src + sf->quantifier_offset,
                   sizeof(protobuf_c_boolean));
    }
    *(void **)((char *)rec + to->offset) = dst;
    return 0;
}

/* Rule checks (0 to go on, or an error with q->why) and record builders
 * (rec->body_case is set: they fill the body), one pair per write. */

static int check_note(req_t *q)
{
    return tt_session_check_note(&q->s->state, q->m->env->note->text, q->why);
}

static int check_trim(req_t *q)
{
    const Tutti__TrimRequest *tr = q->m->env->trim;
    return tt_session_check_trim(&q->s->state, tr->room, is_access_room(q->s, tr->room),
                                 tr->trim_ns, q->why);
}

/* Parses the map and keeps its canonical form: every agent parses exactly
 * the text that is stored. */
static int check_tempo_load(req_t *q)
{
    const Tutti__TempoLoadRequest *req = q->m->env->tempo_load;
    int rc = tt_session_check_tempo_load(&q->s->state, req->cue, q->why);
    if (rc != 0)
        return rc;
    char pwhy[TT_WHY_LEN];
    tt_tempo_map_t *map = tt_tempo_parse_text(req->map_text, strlen(req->map_text), pwhy);
    if (!map || tt_tempo_format_text(map, &q->canonical, pwhy) != 0)
        rc = tt_fail(q->why, TT_ERR_INVALID, "tempo map for %.32s: %.400s", req->cue, pwhy);
    tt_tempo_destroy(&map);
    return rc;
}

static int build_tempo_load(req_t *q, Tutti__Record *rec)
{
    const Tutti__TempoLoadRequest *req = q->m->env->tempo_load;
    const tt_session_cue_t *cue = tt_session_find_cue(&q->s->state, req->cue);
    Tutti__TempoLoad *tl = &q->body.tempo_load;
    tutti__tempo_load__init(tl);
    tl->cue = req->cue;
    tl->version = (cue ? cue->tempo_version : 0) + 1;
    tl->map_text = q->canonical;
    tl->source = req->source;
    rec->tempo_load = tl;
    return 0;
}

static int check_roll(req_t *q)
{
    const coord_server_t *s = q->s;
    const Tutti__RollRequest *req = q->m->env->roll;
    q->from_bar = req->from_bar ? req->from_bar : 1;
    q->lead_ms = req->lead_ms ? req->lead_ms : 1500;
    int rc = tt_session_check_roll(&s->state, req->cue, q->from_bar, q->now, q->why);
    if (rc == 0)
        rc = tt_session_check_punch(q->from_bar, req->punch_in, req->punch_out, q->why);
    if (rc == 0 && q->lead_ms > TT_ROLL_MAX_LEAD_MS)
        rc = tt_fail(q->why, TT_ERR_INVALID, "--lead-ms %u is over %d", q->lead_ms,
                     TT_ROLL_MAX_LEAD_MS);
    if (rc != 0)
        return rc;
    /* The gate: every online room must have acked every change on this
     * cue, and so must a room that was online before a restart of ours and
     * has not had its heartbeat window to come back: online rooms first,
     * then the expected ones, in one list. */
    q->online = calloc(s->room_count ? s->room_count : 1, sizeof *q->online);
    if (!q->online)
        return tt_fail(q->why, TT_ERR_NOMEM, "coordinator out of memory");
    q->capturing = calloc(s->room_count ? s->room_count : 1, sizeof *q->capturing);
    if (!q->capturing)
        return tt_fail(q->why, TT_ERR_NOMEM, "coordinator out of memory");
    for (size_t r = 0; r < s->room_count; r++)
        if (s->rooms[r].online) {
            q->online[q->n_online++] = s->rooms[r].name;
            if (s->rooms[r].captures)
                q->capturing[q->n_capturing++] = s->rooms[r].name;
        }
    int64_t mono = tt_time_mono_ns();
    for (size_t r = 0; r < s->room_count; r++)
        if (!s->rooms[r].online && room_counts(s, &s->rooms[r], mono))
            q->online[q->n_online + q->n_expected++] = s->rooms[r].name;
    rc = tt_session_roll_gate(&s->state, req->cue, q->online, q->n_online + q->n_expected,
                              req->force, &q->gate, q->why);
    if (rc == 0) /* and every one of them must hold the cue's prelays, verified */
        rc = tt_media_prelay_gate(&s->state.media, req->cue, q->online, q->n_online + q->n_expected,
                                  room_holds, (void *)s, req->force, &q->prelays, q->why);
    return rc;
}

static int build_roll(req_t *q, Tutti__Record *rec)
{
    const coord_server_t *s = q->s;
    const Tutti__RollRequest *req = q->m->env->roll;
    const tt_session_cue_t *cue = tt_session_find_cue(&s->state, req->cue);
    char pwhy[TT_WHY_LEN];
    tt_tempo_map_t *map = tt_tempo_parse_text(cue->map_text, strlen(cue->map_text), pwhy);
    if (!map) { /* the stored map was canonical when written: a bug if this happens */
        tt_diag_error("cue %s: stored map does not parse: %s", req->cue, pwhy);
        return tt_fail(q->why, TT_ERR_STORE, "the coordinator cannot read this cue's map");
    }
    tt_tempo_countoff_t co;
    int64_t countoff_ns = tt_tempo_countoff(map, q->from_bar, &co);
    Tutti__Roll *roll = &q->body.roll;
    tutti__roll__init(roll);
    roll->cue = req->cue;
    roll->tempo_version = cue->tempo_version;
    roll->from_bar = q->from_bar;
    roll->start_session_ns = q->now + (int64_t)q->lead_ms * 1000000;
    roll->downbeat_session_ns = roll->start_session_ns + countoff_ns;
    roll->start_frame = tt_tempo_ns_to_frame(map, co.c_from - countoff_ns);
    roll->take = tt_session_next_take(&s->state, req->cue);
    roll->punch_in_bar = req->punch_in;
    roll->punch_out_bar = req->punch_out;
    roll->rooms_online = (char **)q->online;
    roll->n_rooms_online = q->n_online < 256 ? q->n_online : 256;
    roll->rooms_capturing = (char **)q->capturing;
    roll->n_rooms_capturing = q->n_capturing < 256 ? q->n_capturing : 256;
    roll->capturing_listed = 1;
    roll->rooms_expected = (char **)q->online + q->n_online;
    roll->n_rooms_expected = q->n_expected < 256 ? q->n_expected : 256;
    roll->forced = q->gate.n > 0 || q->prelays.n_pairs > 0;
    roll->not_acked = (char **)q->gate.rooms;
    roll->n_not_acked = q->gate.n;
    roll->prelays_missing = q->prelays.pair_ptrs;
    roll->n_prelays_missing = q->prelays.n_pairs;
    if (q->gate.n > 0)
        tt_diag_warn("roll of %s forced by %s past unacked changes: %s", req->cue, q->who->name,
                     q->gate.missing);
    if (q->prelays.n_pairs > 0)
        tt_diag_warn("roll of %s forced by %s: %s", req->cue, q->who->name, q->prelays.missing);
    tt_tempo_destroy(&map);
    rec->roll = roll;
    return 0;
}

static int check_stop(req_t *q)
{
    uint32_t lead_ms = q->m->env->stop->lead_ms;
    int rc = tt_session_check_stop(&q->s->state, q->now, q->why);
    if (rc == 0 && lead_ms > TT_ROLL_MAX_LEAD_MS)
        rc = tt_fail(q->why, TT_ERR_INVALID, "--lead-ms %u is over %d", lead_ms,
                     TT_ROLL_MAX_LEAD_MS);
    return rc;
}

static int build_stop(req_t *q, Tutti__Record *rec)
{
    Tutti__Stop *stop = &q->body.stop;
    tutti__stop__init(stop);
    stop->cue = q->s->state.transport.cue;
    stop->take = q->s->state.transport.take;
    stop->at_session_ns = q->now + (int64_t)q->m->env->stop->lead_ms * 1000000;
    rec->stop = stop;
    return 0;
}

static int check_cue_add(req_t *q)
{
    const Tutti__CueAddRequest *req = q->m->env->cue_add;
    return tt_session_check_cue_add(&q->s->state, req->cue, req->title, q->why);
}

static int check_arm(req_t *q)
{
    return tt_session_check_arm(&q->s->state, q->m->env->arm->cue, q->now, q->why);
}

static int build_arm(req_t *q, Tutti__Record *rec)
{
    tutti__arm__init(&q->body.arm);
    q->body.arm.cue = q->m->env->arm->cue;
    q->body.arm.at_session_ns = q->now;
    rec->arm = &q->body.arm;
    return 0;
}

static int check_take_rate(req_t *q)
{
    const Tutti__TakeRate *req = q->m->env->take_rate;
    return tt_session_check_take_rate(&q->s->state, req->cue, req->take, req->rating, req->note,
                                      q->why);
}

static int check_take_note(req_t *q)
{
    const Tutti__TakeNote *req = q->m->env->take_note;
    return tt_session_check_take_note(&q->s->state, req->cue, req->take, req->text, q->why);
}

static int check_change(req_t *q)
{
    const Tutti__Change *req = q->m->env->change;
    return tt_session_check_change(&q->s->state, req->cue, req->text, req->bars, req->parts,
                                   q->why);
}

/* The acking room is the caller: a room can only ack for itself. */
static int check_ack(req_t *q)
{
    return tt_session_check_ack(&q->s->state, q->m->env->ack->change, q->who->name, q->why);
}

static int check_presence(req_t *q)
{
    const Tutti__Presence *req = q->m->env->presence;
    return tt_session_check_presence(&q->s->state, q->who->role, q->who->name, req->room,
                                     is_access_room(q->s, req->room), req->in, req->n_in, req->out,
                                     req->n_out, q->why);
}

static int check_call(req_t *q)
{
    const Tutti__CallEvent *req = q->m->env->call_event;
    return tt_session_check_call(&q->s->state, req->action, req->rules_text, &q->rules, q->why);
}

static int build_call(req_t *q, Tutti__Record *rec)
{
    const Tutti__CallEvent *req = q->m->env->call_event;
    Tutti__CallEvent *ev = &q->body.call_event;
    tutti__call_event__init(ev);
    ev->action = req->action;
    if (!strcmp(req->action, "start")) { /* the record names the rules it parsed */
        ev->rules_name = q->rules.id;
        ev->rules_text = req->rules_text;
    }
    rec->call_event = ev;
    return 0;
}

/* ------------------------------------------------------------ uploads */

/* A fetch by record seq: a prelay or guide, which a room may fetch when it
 * names the room (or none). NULL with the code (tt_error_last) and why. */
static const tt_media_entry_t *fetch_put(coord_server_t *s, uint64_t seq,
                                         const tt_access_entry_t *who, char *why)
{
    const tt_media_entry_t *e = tt_media_find_seq(&s->state.media, seq);
    if (!e || !tt_media_is_put(e)) {
        tt_fail(why, TT_ERR_NOTFOUND, "record %llu is not a prelay or guide",
                (unsigned long long)seq);
        return NULL;
    }
    if (who->role == TT_ROLE_ROOM && !tt_media_names_room(e, who->name)) {
        tt_fail(why, TT_ERR_DENIED, "%s %s is not for room %.64s", tt_media_kind_name(e->kind),
                e->file, who->name);
        return NULL;
    }
    return e;
}

/* The upload thread asks whether its caller may offer (or fetch) a file:
 * a room uploads its own takes' files only; operator, contractor and
 * observer fetch any file, a room its own. */
static void on_upload_check(coord_server_t *s, const tt_wire_msg_t *m,
                            const tt_access_entry_t *caller)
{
    (void)caller; /* the check names its caller by key */
    char why[TT_WHY_LEN];
    const Tutti__UploadCheck *c = m->env->upload_check;
    const tt_access_entry_t *who = tt_access_find_key(s->access, c->user_id ? c->user_id : "");
    if (!who) {
        send_error(s, m, TT_ERR_AUTH, "your key is no longer in the access file");
        return;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__UploadCheckReply rep = TUTTI__UPLOAD_CHECK_REPLY__INIT;
    Tutti__Media media, source;
    rep.name = (char *)who->name;
    rep.role = (char *)tt_role_name(who->role);
    const tt_media_entry_t *e = NULL, *src = NULL;
    if (c->media && c->media->kind != TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE) {
        int rc = who->role == TT_ROLE_OPERATOR ? check_put(s, c->media, &e, why)
                                               : tt_fail(why, TT_ERR_DENIED,
                                                         "only an operator puts prelays and guides "
                                                         "(%s is %s)",
                                                         who->name, tt_role_name(who->role));
        if (rc != 0) {
            refuse(s, m, who, "media put", rc, why);
            return;
        }
        remember_put(s, c->media, c->user_id);
        /* A guide from a capture: the upload thread makes its file of that one's. */
        if (c->media->source_seq)
            src = tt_media_find_seq(&s->state.media, c->media->source_seq);
    } else if (c->media) {
        int rc = who->role == TT_ROLE_ROOM
                     ? tt_media_check_offer(&s->state, c->media, who->name, s->cfg.media_channels,
                                            &e, why)
                     : tt_fail(why, TT_ERR_DENIED, "only a room uploads files (%s is %s)",
                               who->name, tt_role_name(who->role));
        if (rc != 0) {
            refuse(s, m, who, "upload", rc, why);
            return;
        }
    } else if (c->fetch && c->fetch->seq) {
        if (!(e = fetch_put(s, c->fetch->seq, who, why))) {
            refuse(s, m, who, "media fetch", tt_error_last(), why);
            return;
        }
    } else if (c->fetch) {
        const Tutti__MediaFetch *f = c->fetch;
        if (who->role == TT_ROLE_ROOM && strcmp(f->room, who->name) != 0) {
            snprintf(why, sizeof why, "a room fetches only its own files (%.64s asked for %.64s's)",
                     who->name, f->room);
            refuse(s, m, who, "media fetch", TT_ERR_DENIED, why);
            return;
        }
        e = tt_media_find(&s->state.media, f->cue, f->take, f->room, f->input);
        if (!e) {
            snprintf(why, sizeof why,
                     "no file of %.32s take %u from room %.64s input %.32s has arrived", f->cue,
                     f->take, f->room, f->input);
            send_error(s, m, TT_ERR_NOTFOUND, why);
            return;
        }
    } else {
        send_error(s, m, TT_ERR_PROTOCOL, "an upload check names an offer or a fetch");
        return;
    }
    char *rooms[TT_MEDIA_MAX_ROOMS], *src_rooms[TT_MEDIA_MAX_ROOMS];
    if (e) {
        tt_media_entry_to_record(e, &media, rooms);
        rep.media = &media;
        rep.media_seq = e->seq;
    }
    if (src) {
        tt_media_entry_to_record(src, &source, src_rooms);
        rep.source = &source;
    }
    env.body_case = TUTTI__ENVELOPE__BODY_UPLOAD_CHECK_REPLY;
    env.upload_check_reply = &rep;
    send_reply(s, m, &env);
}

/* A file that arrived and verified becomes a media record by its room
 * (answered after the commit). The same record again gets the first one's
 * seq: the upload thread may ask twice after a crash. */
static int check_media(req_t *q)
{
    const coord_server_t *s = q->s;
    const Tutti__Media *req = q->m->env->media;
    const tt_media_entry_t *have = NULL;
    int rc;
    if (req->kind != TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE) { /* in the name of who offered it */
        if (!q->who)
            q->who = put_by(s, req);
        if (!q->who || q->who->role != TT_ROLE_OPERATOR)
            return tt_fail(q->why, TT_ERR_DENIED,
                           "the operator who offered the file is not known now: offer again");
        rc = check_put((coord_server_t *)s, req, &have, q->why);
        if (rc == 0 && req->source_seq && (req->channels == 0 || req->frames == 0))
            rc = tt_fail(q->why, TT_ERR_INVALID,
                         "a guide's record names its channels and frames (read from the "
                         "capture's file)");
        if (rc == 0 && have)
            q->done_seq = have->seq;
        return rc;
    }
    if (!q->who)
        q->who = tt_access_find_room(s->access, req->room);
    if (!q->who)
        return tt_fail(q->why, TT_ERR_DENIED, "the file's room is no longer in the access file");
    rc = tt_media_check_offer(&s->state, req, q->who->name, s->cfg.media_channels, &have, q->why);
    if (rc == 0 && have)
        q->done_seq = have->seq;
    return rc;
}

static int build_media(req_t *q, Tutti__Record *rec)
{
    const Tutti__Media *req = q->m->env->media;
    tt_media_record_file_name(req, q->file, sizeof q->file);
    build_same_fields(q, rec);
    rec->media->file = q->file; /* named by us */
    return 0;
}

static void publish(coord_server_t *s, uint64_t seq, const uint8_t *data, size_t len)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Update up = TUTTI__UPDATE__INIT;
    up.seq = seq;
    up.record.data = (uint8_t *)data;
    up.record.len = len;
    env.body_case = TUTTI__ENVELOPE__BODY_UPDATE;
    env.update = &up;
    char why[TT_WHY_LEN];
    /* A dropped update is repaired by the subscriber's gap fetch; say so. */
    if (tt_wire_send(s->pub, NULL, 0, &env, why) != 0)
        tt_diag_warn("update %llu not published: %s", (unsigned long long)seq, why);
}

static int send_write_reply(coord_server_t *s, const uint8_t *rid, size_t rid_len,
                            uint64_t request_id, uint64_t seq, int duplicate, char *why)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__WriteReply wr = TUTTI__WRITE_REPLY__INIT;
    wr.seq = seq;
    wr.duplicate = duplicate;
    env.request_id = request_id;
    env.body_case = TUTTI__ENVELOPE__BODY_WRITE_REPLY;
    env.write_reply = &wr;
    return send_to(s, rid, rid_len, &env, why);
}

static void commit_batch(coord_server_t *s)
{
    if (s->batch_len == 0)
        return;
    ship_before_commit(s);
    tt_bytes_t b[BATCH_MAX + 1];
    for (size_t i = 0; i < s->batch_len; i++) {
        b[i].data = s->batch[i].record;
        b[i].len = s->batch[i].record_len;
    }
    char why[TT_WHY_LEN];
    /* The state is folded through the whole group: its snapshot goes in
     * the group's own transaction, so it never exists without its records. */
    uint8_t *snap_bytes = NULL;
    tt_store_snapshot_t snap = {s->state.last_seq, NULL, 0};
    if (snapshot_due(s, s->batch[0].seq, s->state.last_seq)) {
        char swhy[TT_WHY_LEN];
        if (tt_session_snap_take(&s->state, &snap_bytes, &snap.len, swhy) != 0)
            tt_diag_warn("no snapshot at seq %llu: %s", (unsigned long long)snap.seq, swhy);
        snap.data = snap_bytes;
    }
    int rc = tt_store_append_snapshot(s->store, s->batch[0].seq, b, s->batch_len,
                                      snap_bytes ? &snap : NULL, why);
    if (rc != 0 && snap_bytes) {
        /* The records may fit where the snapshot did not: never refuse a
         * write for the sake of a cache. */
        tt_diag_warn("committing with the snapshot at seq %llu failed (%s): without it",
                     (unsigned long long)snap.seq, why);
        rc = tt_store_append(s->store, s->batch[0].seq, b, s->batch_len, why);
    }
    free(snap_bytes);
    if (rc != 0) {
        tt_diag_error("commit of %zu records failed: %s", s->batch_len, why);
        char fold_why[TT_WHY_LEN];
        if (refold(s, 0, fold_why) != 0)
            tt_diag_error("refolding the store after a failed commit: %s", fold_why);
    }
    /* The writer hears the cause ("store full: raise --map-size-mb", "disk
     * full"), so the operator at the CLI can act on it. */
    char refusal[TT_WHY_LEN + 64];
    if (rc != 0)
        snprintf(refusal, sizeof refusal,
                 "the coordinator could not commit this write; nothing "
                 "changed: %s",
                 why);
    for (size_t i = 0; i < s->batch_len; i++) {
        pending_t *p = &s->batch[i];
        char swhy[TT_WHY_LEN];
        if (p->own) {
            if (rc != 0)
                tt_diag_error("the coordinator's own record %llu did not commit",
                              (unsigned long long)p->seq);
            continue;
        }
        if (rc == 0 && send_write_reply(s, p->rid, p->rid_len, p->request_id, p->seq, 0, swhy) != 0)
            tt_diag_warn("write %llu committed but its reply was lost: %s",
                         (unsigned long long)p->seq, swhy);
        if (rc != 0 &&
            send_error_to(s, p->rid, p->rid_len, p->request_id, TT_ERR_STORE, refusal) != 0)
            tt_diag_warn("write refused (commit failed) and its error reply was lost");
    }
    if (rc == 0)
        for (size_t i = 0; i < s->batch_len; i++)
            publish(s, s->batch[i].seq, s->batch[i].record, s->batch[i].record_len);
    for (size_t i = 0; i < s->batch_len; i++)
        free(s->batch[i].record);
    s->batch_len = 0;
}

/* ------------------------------------------------------------ dispatch */

#define VIA_PIPE (-1)     /* kind of a request only the upload thread sends */
#define CMD_COMMITTED 0x1 /* answered from committed state only: waits for the batch in flight */

/* One row per request body, in the manner of Redis's redisCommandTable.
 * The dispatcher finds the caller and the row, checks the caller's role
 * (tt_session_may with the row's kind), then either answers (reads) or
 * runs the row's rule check against the folded state and queues the
 * record its builder makes (writes). Rows marked CMD_COMMITTED see only
 * committed state: while a batch is in flight they wait for its commit,
 * so no answer ever shows a record the store might still lose. */
typedef struct {
    Tutti__Envelope__BodyCase body;
    const char *name; /* in refusals: "refused roll from stage: ..." */
    int kind; /* tt_request_t for the role check, or VIA_PIPE (the check names the caller) */
    int flags;
    void (*answer)(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who);
    int (*check)(req_t *q); /* writes: 0 to go on, or an error with q->why */
    Tutti__Record__BodyCase record;
    int (*build)(req_t *q, Tutti__Record *rec); /* writes: fills the body */
} command_t;

#define READ(body, name, kind, answer)                                                             \
    {                                                                                              \
        TUTTI__ENVELOPE__BODY_##body, name, kind, CMD_COMMITTED, answer, NULL,                     \
            TUTTI__RECORD__BODY__NOT_SET, NULL                                                     \
    }
#define WRITE(body, name, kind, check, build)                                                      \
    {                                                                                              \
        TUTTI__ENVELOPE__BODY_##body, name, kind, 0, NULL, check, TUTTI__RECORD__BODY_##body,      \
            build                                                                                  \
    }

static const command_t commands[] = {
    READ(HELLO, "hello", TT_REQ_HELLO, on_hello),
    READ(HEARTBEAT, "heartbeat", TT_REQ_HEARTBEAT, on_heartbeat),
    READ(STATUS, "status", TT_REQ_STATUS, on_status),
    READ(FETCH, "fetch", TT_REQ_FETCH, on_fetch),
    WRITE(NOTE, "note", TT_REQ_NOTE, check_note, build_same_fields),
    WRITE(TRIM, "trim", TT_REQ_TRIM, check_trim, build_same_fields),
    WRITE(TEMPO_LOAD, "tempo load", TT_REQ_TEMPO_LOAD, check_tempo_load, build_tempo_load),
    WRITE(ROLL, "roll", TT_REQ_ROLL, check_roll, build_roll),
    WRITE(STOP, "stop", TT_REQ_STOP, check_stop, build_stop),
    WRITE(CUE_ADD, "cue add", TT_REQ_CUE_ADD, check_cue_add, build_same_fields),
    WRITE(ARM, "arm", TT_REQ_ARM, check_arm, build_arm),
    WRITE(TAKE_RATE, "take rate", TT_REQ_TAKE_RATE, check_take_rate, build_same_fields),
    WRITE(TAKE_NOTE, "take note", TT_REQ_TAKE_NOTE, check_take_note, build_same_fields),
    WRITE(CHANGE, "change", TT_REQ_CHANGE, check_change, build_same_fields),
    WRITE(ACK, "ack", TT_REQ_ACK, check_ack, build_same_fields),
    WRITE(PRESENCE, "presence", TT_REQ_PRESENCE, check_presence, build_same_fields),
    WRITE(CALL_EVENT, "call", TT_REQ_CALL, check_call, build_call),
    /* From the upload thread: an offer or fetch to check (a read), and the
     * record of a file that arrived, checked against committed state so a
     * repeat is answered with a seq the store holds. */
    READ(UPLOAD_CHECK, "upload check", VIA_PIPE, on_upload_check),
    {TUTTI__ENVELOPE__BODY_MEDIA, "media record", VIA_PIPE, CMD_COMMITTED, NULL, check_media,
     TUTTI__RECORD__BODY_MEDIA, build_media},
};

static const command_t *find_command(Tutti__Envelope__BodyCase body)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (commands[i].body == body)
            return &commands[i];
    return NULL;
}

/* Keeps m (its envelope moves here) to be dispatched again once the batch
 * in flight has committed. */
static void defer(coord_server_t *s, tt_wire_msg_t *m, int from_pipe)
{
    assert(s->later_len < BATCH_MAX); /* a drain reads at most BATCH_MAX messages */
    s->later[s->later_len].m = *m;
    s->later[s->later_len].from_pipe = from_pipe;
    s->later_len++;
    m->env = NULL;
}

/* The committed or in-flight record that carried m's idempotency key, or
 * 0 when it has none or the key is new. */
static uint64_t keyed_seq(const coord_server_t *s, const tt_wire_msg_t *m,
                          Tutti__Record__BodyCase *kind)
{
    return tt_session_find_key(&s->state, &m->env->idempotency_key, kind);
}

/* A write whose key's record is still in the batch in flight: it is
 * answered (duplicate) once that record has committed, never before. */
static int retry_in_flight(const coord_server_t *s, const tt_wire_msg_t *m)
{
    uint64_t seq = keyed_seq(s, m, NULL);
    return seq && s->batch_len > 0 && seq >= s->batch[0].seq;
}

/* A write's idempotency key, before its rules: a retry of a committed
 * write is answered with the first one's seq (its rules would refuse it
 * now: the cue exists, the take rolled), whatever the state since. */
static int check_key(req_t *q, const command_t *cmd)
{
    const ProtobufCBinaryData *key = &q->m->env->idempotency_key;
    if (key->len != 0 && key->len != TT_SESSION_KEY_LEN)
        return tt_fail(q->why, TT_ERR_INVALID,
                       "idempotency_key is %zu bytes: it must be %d random bytes (or empty)",
                       key->len, TT_SESSION_KEY_LEN);
    Tutti__Record__BodyCase kind;
    uint64_t seq = keyed_seq(q->s, q->m, &kind);
    if (!seq)
        return 0;
    if (kind != cmd->record)
        return tt_fail(q->why, TT_ERR_INVALID,
                       "this idempotency key was used for record %llu, another kind of write: a "
                       "new write needs a new key",
                       (unsigned long long)seq);
    tt_diag_info("%s from %s repeats the idempotency key of record %llu: answered with it, "
                 "nothing written",
                 cmd->name, q->who ? q->who->name : "?", (unsigned long long)seq);
    q->done_seq = seq;
    q->duplicate = 1;
    return 0;
}

/* Runs one write through its row: idempotency key, rule check, record. */
static void write_request(coord_server_t *s, const command_t *cmd, const tt_wire_msg_t *m,
                          const tt_access_entry_t *who)
{
    req_t q = {.s = s, .m = m, .who = who, .now = session_now(s)};
    int rc = check_key(&q, cmd);
    if (rc == 0 && !q.done_seq)
        rc = cmd->check(&q);
    if (rc != 0) {
        refuse(s, m, q.who, cmd->name, rc, q.why);
    } else if (q.done_seq) {
        char why[TT_WHY_LEN];
        if (send_write_reply(s, m->routing_id, m->routing_id_len, m->request_id, q.done_seq,
                             q.duplicate, why) != 0)
            tt_diag_warn("reply to a client lost: %s", why);
    } else {
        Tutti__Record rec = TUTTI__RECORD__INIT;
        rec.body_case = cmd->record;
        rc = cmd->build(&q, &rec);
        if (rc != 0)
            send_error(s, m, rc, q.why);
        else
            queue_write(&q, &rec);
    }
    free(q.canonical);
    free(q.online);
    free(q.capturing);
}

static void dispatch(coord_server_t *s, tt_wire_msg_t *m, int from_pipe)
{
    const command_t *cmd = find_command(m->env->body_case);
    const tt_access_entry_t *who = NULL;
    if (from_pipe) {
        if (!cmd || cmd->kind != VIA_PIPE) {
            send_error(s, m, TT_ERR_PROTOCOL, "not an upload pipe request");
            return;
        }
    } else {
        char why[TT_WHY_LEN];
        if (!(who = tt_access_find_key(s->access, m->user_id))) {
            /* Admitted at the handshake, removed since by a reload. */
            send_error(s, m, TT_ERR_AUTH, "your key is no longer in the access file");
            return;
        }
        if (!cmd || cmd->kind == VIA_PIPE) {
            tt_diag_warn("unsupported message %d from %s", (int)m->env->body_case, who->name);
            send_error(s, m, TT_ERR_PROTOCOL, "unsupported request");
            return;
        }
        int rc = tt_session_may(who->role, (tt_request_t)cmd->kind, why);
        if (rc != 0) {
            tt_diag_warn("refused request from %s: %s", who->name, why);
            send_error(s, m, rc, why);
            return;
        }
        /* A peer that asks without reading gets no more pages to hold. */
        size_t unread = coord_outbox_waiting(s->outbox, m->routing_id, m->routing_id_len);
        if (cmd->answer && unread > COORD_OUTBOX_READ_MAX_UNREAD) {
            snprintf(why, sizeof why,
                     "%zu bytes of your earlier replies are unread: read them, then ask again",
                     unread);
            send_error(s, m, TT_ERR_UNAVAILABLE, why);
            return;
        }
    }
    if ((cmd->flags & CMD_COMMITTED) && s->batch_len > 0)
        defer(s, m, from_pipe);
    else if (cmd->answer)
        cmd->answer(s, m, who);
    else if (retry_in_flight(s, m)) {
        tt_diag_info("%s from %s repeats the idempotency key of a record not yet committed: "
                     "it waits for the commit",
                     cmd->name, who ? who->name : "?");
        defer(s, m, from_pipe);
    } else
        write_request(s, cmd, m, who);
}

/* The requests that waited for committed state, in arrival order. A
 * deferred write (a media record) may open a batch: it commits before the
 * next one is answered. */
static void answer_later(coord_server_t *s)
{
    for (size_t i = 0; i < s->later_len; i++) {
        commit_batch(s);
        dispatch(s, &s->later[i].m, s->later[i].from_pipe);
        tt_wire_msg_clear(&s->later[i].m);
    }
    s->later_len = 0;
    commit_batch(s);
}

/* How big a request frame a key may send, decided before decoding:
 * operators up to the wire's limit, everyone else far less (their
 * requests are small), so an observer's 8 MiB notes cost nothing. */
static size_t request_cap(void *arg, const char *user_id)
{
    const coord_server_t *s = arg;
    const tt_access_entry_t *who = user_id[0] ? tt_access_find_key(s->access, user_id) : NULL;
    return who && who->role == TT_ROLE_OPERATOR
               ? (size_t)TT_WIRE_MAX_MESSAGE
               : (size_t)TUTTI__LIMITS__NON_OPERATOR_MAX_MESSAGE_BYTES;
}

/* A Sealed request off the ROUTER (m's envelope) becomes the caller's
 * own: its box opened, the caller's key checked against the access file,
 * the nonce against replays, and m given the inner envelope, the caller's
 * key as user_id and a seal slot as routing id. 0, or the refusal sent
 * to the relay (a plain Error: nothing could be sealed to a caller we do
 * not trust) and an error returned. */
static int unseal(coord_server_t *s, tt_wire_msg_t *m)
{
    char why[TT_WHY_LEN], caller[TT_Z85_KEY_LEN + 1] = "";
    const tt_access_entry_t *relay = tt_access_find_key(s->access, m->user_id);
    const tt_access_entry_t *who = NULL;
    Tutti__Envelope *inner = NULL;
    int rc = 0;
    if (!relay || relay->role != TT_ROLE_RELAY)
        rc = tt_fail(why, TT_ERR_DENIED, "only a key with the relay role may pass sealed requests");
    else if ((rc = tt_seal_caller_z85(m->env->sealed, caller, why)) == 0 &&
             !(who = tt_access_find_key(s->access, caller)))
        rc = tt_fail(why, TT_ERR_AUTH, "the caller's key %s is not in the access file", caller);
    else if (rc == 0 && who->role == TT_ROLE_RELAY)
        rc = tt_fail(why, TT_ERR_DENIED, "a relay's key may not be the caller of a sealed request");
    else if (rc == 0 && who->role != TT_ROLE_OPERATOR &&
             m->env->sealed->box.len > TUTTI__LIMITS__NON_OPERATOR_MAX_MESSAGE_BYTES)
        rc = tt_fail(why, TT_ERR_TOO_BIG, "a sealed request of %zu bytes from %s (role %s)",
                     m->env->sealed->box.len, who->name, tt_role_name(who->role));
    else if (rc == 0 && (rc = tt_seal_open(m->env->sealed, s->keys, caller, &inner, why)) == 0)
        rc = tt_seal_guard_check(s->seal_guard, m->env->sealed, tt_time_wall_ns(), why);
    if (rc != 0) {
        tt_diag_warn("refused a sealed request from relay %s%s%s: %s", relay ? relay->name : "?",
                     who ? " for " : "", who ? who->name : "", why);
        send_error(s, m, rc, why);
        if (inner)
            tutti__envelope__free_unpacked(inner, NULL);
        return rc;
    }
    unsigned slot = s->seal_next++ % SEAL_PEERS;
    memcpy(s->seal_peers[slot].rid, m->routing_id, m->routing_id_len);
    s->seal_peers[slot].rid_len = m->routing_id_len;
    s->seal_peers[slot].request_id = m->request_id;
    memcpy(s->seal_peers[slot].caller, caller, sizeof caller);
    memcpy(m->routing_id, SEAL_RID, 5);
    m->routing_id[5] = (uint8_t)(slot >> 8);
    m->routing_id[6] = (uint8_t)slot;
    m->routing_id_len = SEAL_RID_LEN;
    memcpy(m->user_id, caller, sizeof caller);
    m->request_id = inner->request_id;
    tutti__envelope__free_unpacked(m->env, NULL);
    m->env = inner;
    return 0;
}

/* One turn on sock (the ROUTER, or the upload thread's pipe): the writes
 * read together commit as one group, then the waiting reads are answered. */
static void drain(coord_server_t *s, void *sock, int from_pipe)
{
    for (int n = 0; n < BATCH_MAX && s->batch_len < BATCH_MAX; n++) {
        tt_wire_msg_t m;
        char why[TT_WHY_LEN];
        int rc = from_pipe ? tt_wire_recv(sock, 0, ZMQ_DONTWAIT, &m, why)
                           : tt_wire_recv_capped(sock, 1, ZMQ_DONTWAIT, request_cap, s, &m, why);
        if (rc == TT_ERR_AGAIN)
            break; /* nothing more to read */
        if (rc == TT_ERR_IO) {
            tt_diag_error("%s: %s", from_pipe ? "upload pipe" : "request socket", why);
            break;
        }
        if (rc != 0) {
            tt_diag_warn("malformed message from %s: %s",
                         from_pipe      ? "the upload thread"
                         : m.user_id[0] ? m.user_id
                                        : "?",
                         why);
            if (m.routing_id_len)
                send_error(s, &m, rc, why);
        } else if (from_pipe || m.env->body_case != TUTTI__ENVELOPE__BODY_SEALED ||
                   unseal(s, &m) == 0) {
            dispatch(s, &m, from_pipe);
        }
        tt_wire_msg_clear(&m);
    }
    commit_batch(s);
    answer_later(s);
}

/* One turn on the OSC surface: each datagram parsed (coord_osc_parse),
 * made into the CLI's request envelope from the --osc-as identity and
 * dispatched like a request off the ROUTER; then the group commits and
 * every sender gets its reply. */
static void osc_drain(coord_server_t *s)
{
    for (int n = 0; n < BATCH_MAX && s->batch_len < BATCH_MAX; n++) {
        uint8_t buf[COORD_OSC_MAX_MESSAGE];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        /* MSG_TRUNC: the datagram's real length, so an oversized one is refused, not cut */
        ssize_t r = recvfrom(s->osc_fd, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&from, &fl);
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                tt_diag_warn("OSC surface: %s", strerror(errno));
            break;
        }
        unsigned slot = s->osc_next++ % OSC_PEERS;
        uint8_t rid[OSC_RID_LEN];
        memcpy(rid, OSC_RID, 5);
        rid[5] = (uint8_t)(slot >> 8);
        rid[6] = (uint8_t)slot;
        s->osc_peers[slot].addr = from;
        coord_osc_cmd_t cmd;
        char why[TT_WHY_LEN];
        int rc = coord_osc_parse(buf, (size_t)r, &cmd, why);
        s->osc_peers[slot].command = cmd.name;
        const tt_access_entry_t *who = tt_access_find_name(s->access, s->cfg.osc_as);
        if (rc == 0 && !who)
            rc = tt_fail(why, TT_ERR_AUTH, "--osc-as %s is no longer in the access file",
                         s->cfg.osc_as);
        if (rc != 0) {
            char swhy[TT_WHY_LEN];
            tt_diag_warn("OSC surface: refused %s from 127.0.0.1:%u: %s", cmd.name,
                         ntohs(from.sin_port), why);
            if (osc_send(s, (int)slot, 0, 0, why, swhy) != 0)
                tt_diag_warn("%s", swhy);
            continue;
        }
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__ArmRequest arm = TUTTI__ARM_REQUEST__INIT;
        Tutti__RollRequest roll = TUTTI__ROLL_REQUEST__INIT;
        Tutti__StopRequest stop = TUTTI__STOP_REQUEST__INIT;
        Tutti__TakeRate rate = TUTTI__TAKE_RATE__INIT;
        switch (cmd.kind) {
        case COORD_OSC_ARM:
            arm.cue = cmd.cue;
            env.body_case = TUTTI__ENVELOPE__BODY_ARM;
            env.arm = &arm;
            break;
        case COORD_OSC_ROLL:
            roll.cue = cmd.cue;
            roll.from_bar = cmd.from_bar;
            env.body_case = TUTTI__ENVELOPE__BODY_ROLL;
            env.roll = &roll;
            break;
        case COORD_OSC_STOP:
            env.body_case = TUTTI__ENVELOPE__BODY_STOP;
            env.stop = &stop;
            break;
        case COORD_OSC_RATE:
            rate.cue = cmd.cue;
            rate.take = cmd.take;
            rate.rating = cmd.rating;
            rate.note = cmd.note;
            env.body_case = TUTTI__ENVELOPE__BODY_TAKE_RATE;
            env.take_rate = &rate;
            break;
        }
        tt_wire_msg_t m;
        memset(&m, 0, sizeof m);
        memcpy(m.routing_id, rid, sizeof rid);
        m.routing_id_len = sizeof rid;
        snprintf(m.user_id, sizeof m.user_id, "%s", who->key_z85);
        m.env = &env;
        tt_diag_info("OSC surface: %s from 127.0.0.1:%u as %s", cmd.name, ntohs(from.sin_port),
                     who->name);
        dispatch(s, &m, 0);
        /* A write without an idempotency key is never deferred, so the
         * envelope on this stack is not kept past the call. */
        assert(m.env == &env);
    }
    commit_batch(s);
    answer_later(s);
}

/* ------------------------------------------------------------ standby pair */

/* Binary Star (the ZeroMQ guide, chapter 4), with synchronous shipping. A
 * primary with a synced standby ships every group of records to it (on a
 * DEALER of its own to the standby's request endpoint) and commits the
 * group locally, answers and publishes only once the standby has acked it
 * durably: ship before the local commit, so the primary's log is always a
 * prefix of the standby's. A standby silent for PEER_AWAY_MS, or one that
 * does not ack within standby_ack_ms, leaves the primary alone (a
 * StandbyEvent ALONE record) and writes go on; once it has caught up again
 * a SYNCED record, shipped like any other, makes writes wait again. The
 * standby keeps a verified replica of the primary and answers clients
 * ERROR_STANDBY; it takes over only when it has lost the primary AND a
 * client asks, so a cut between the two coordinators alone never makes two
 * writers (the primary goes on serving, alone). */

#define PEER_AWAY_MS 2200      /* two heartbeats missed */
#define SYNC_RETRY_MIN_MS 1000 /* a failed attempt to sync waits this long, doubling */
#define SYNC_RETRY_MAX_MS 60000
#define PEER_PROBE_MS 1500 /* --peer at start: how long to wait for the peer's hello */

static int exit_hint; /* coord_server_exit_hint */

int coord_server_exit_hint(void)
{
    return exit_hint;
}

static void commit_batch(coord_server_t *s);

static const char *peer_state_name(peer_state_t st)
{
    switch (st) {
    case PEER_CATCHING_UP: return "catching_up";
    case PEER_SYNCED: return "synced";
    case PEER_ALONE: return "alone";
    default: return "none";
    }
}

/* The peer coordinator: the access file's one entry of role coordinator
 * other than this coordinator's own key (tutti init --standby writes one
 * access file naming both, for both to read). */
static const tt_access_entry_t *peer_entry(const coord_server_t *s, char *why)
{
    const tt_access_entry_t *found = NULL;
    for (size_t i = 0; i < s->access->count; i++) {
        if (s->access->entries[i].role != TT_ROLE_COORDINATOR ||
            !strcmp(s->access->entries[i].key_z85, s->keys->public_z85))
            continue;
        if (found) {
            tt_fail(why, TT_ERR_INVALID,
                    "the access file has more than one entry of role coordinator (%s, %s): a "
                    "standby pair has one peer",
                    found->name, s->access->entries[i].name);
            return NULL;
        }
        found = &s->access->entries[i];
    }
    if (!found)
        tt_fail(why, TT_ERR_INVALID,
                "the access file has no entry of role coordinator: add the peer coordinator's "
                "public key as 'coordinator NAME KEY'");
    return found;
}

/* Seals rec, the coordinator's own, as the next record of the batch. */
static int queue_own(coord_server_t *s, Tutti__Record *rec, char *why)
{
    if (s->batch_len >= BATCH_MAX + 1)
        return tt_fail(why, TT_ERR_UNAVAILABLE, "the batch is full");
    rec->actor = "coordinator";
    rec->actor_role = "coordinator";
    pending_t *p = &s->batch[s->batch_len];
    memset(p, 0, sizeof *p);
    int rc = seal_next(s, rec, &p->record, &p->record_len, why);
    if (rc != 0)
        return rc;
    p->own = 1;
    p->seq = s->state.last_seq;
    s->batch_len++;
    return 0;
}

static void queue_standby_event(coord_server_t *s, Tutti__StandbyEvent__Kind kind)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__StandbyEvent ev = TUTTI__STANDBY_EVENT__INIT;
    ev.kind = kind;
    ev.peer = s->peer_name;
    ev.peer_endpoint = s->peer_endpoint;
    ev.acked_seq = s->peer_acked;
    rec.body_case = TUTTI__RECORD__BODY_STANDBY_EVENT;
    rec.standby_event = &ev;
    char why[TT_WHY_LEN];
    if (queue_own(s, &rec, why) != 0)
        tt_diag_error("recording the standby's state: %s", why);
}

/* Ships the batch to the standby and waits for its ack: 0 once it holds
 * every record of the batch durably. */
static int ship_batch(coord_server_t *s, char *why)
{
    if (!s->ship)
        return tt_fail(why, TT_ERR_UNAVAILABLE, "no connection to the standby");
    ProtobufCBinaryData recs[BATCH_MAX + 1];
    for (size_t i = 0; i < s->batch_len; i++)
        recs[i] = (ProtobufCBinaryData){s->batch[i].record_len, s->batch[i].record};
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__FetchReply fr = TUTTI__FETCH_REPLY__INIT;
    fr.records = recs;
    fr.n_records = s->batch_len;
    fr.last_seq = s->batch[s->batch_len - 1].seq;
    env.body_case = TUTTI__ENVELOPE__BODY_FETCH_REPLY;
    env.fetch_reply = &fr;
    int rc = tt_client_send(s->ship, &env, why);
    if (rc != 0)
        return rc;
    uint64_t want = fr.last_seq, request_id = env.request_id;
    int ack_ms = s->cfg.standby_ack_ms > 0 ? s->cfg.standby_ack_ms : 1000;
    int64_t deadline = tt_time_mono_ns() + (int64_t)ack_ms * 1000000;
    void *sock = tt_client_socket(s->ship);
    while (s->peer_acked < want) {
        int64_t left = (deadline - tt_time_mono_ns()) / 1000000;
        if (left <= 0)
            return tt_fail(why, TT_ERR_TIMEOUT, "no ack of record %llu within %d ms",
                           (unsigned long long)want, ack_ms);
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)left) < 0) {
            if (errno == EINTR)
                continue;
            return tt_fail(why, TT_ERR_IO, "waiting for the standby: %s", zmq_strerror(errno));
        }
        for (;;) {
            tt_wire_msg_t m;
            char mwhy[TT_WHY_LEN];
            if (tt_wire_recv(sock, 0, ZMQ_DONTWAIT, &m, mwhy) != 0)
                break;
            int mine = m.env->request_id == request_id;
            if (m.env->body_case == TUTTI__ENVELOPE__BODY_HEARTBEAT) {
                if (m.env->heartbeat->seq > s->peer_acked || mine)
                    s->peer_acked = m.env->heartbeat->seq;
                s->peer_seen_ns = tt_time_mono_ns();
            } else if (m.env->body_case == TUTTI__ENVELOPE__BODY_ERROR && mine) {
                rc = tt_fail(why, TT_ERR_UNAVAILABLE, "the standby refused: %s",
                             m.env->error->message);
            }
            tt_wire_msg_clear(&m);
            if (rc == 0 && mine && s->peer_acked < want)
                rc = tt_fail(why, TT_ERR_UNAVAILABLE,
                             "the standby holds up to %llu, not the records before these",
                             (unsigned long long)s->peer_acked);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Before a group commits: with a synced standby, ship it first. A standby
 * that does not ack leaves this coordinator alone, with a record saying so
 * at the end of the group (its records may or may not be at the standby:
 * either way its log is a prefix of ours). */
static void ship_before_commit(coord_server_t *s)
{
    if (s->peer_state != PEER_SYNCED || s->batch_len == 0)
        return;
    char why[TT_WHY_LEN];
    if (ship_batch(s, why) == 0)
        return;
    tt_diag_error("the standby %s did not acknowledge records %llu..%llu: %s; running alone "
                  "(writes are acknowledged with this coordinator's copy only)",
                  s->peer_name, (unsigned long long)s->batch[0].seq,
                  (unsigned long long)s->batch[s->batch_len - 1].seq, why);
    s->peer_state = PEER_ALONE;
    queue_standby_event(s, TUTTI__STANDBY_EVENT__KIND__STANDBY_ALONE);
}

/* A standby's hello: name its key in the log (once), dial its request
 * endpoint for shipping, and let it catch up. */
static void peer_hello(coord_server_t *s, const Tutti__Hello *h, const tt_access_entry_t *who)
{
    const Tutti__StandbyHello *sh = h->standby;
    if (s->standby)
        return; /* a standby takes no standby */
    if (!sh || sh->signing_public_key.len != TT_SIGN_PK_LEN || !sh->endpoint || !*sh->endpoint ||
        strlen(sh->endpoint) >= sizeof s->peer_endpoint) {
        tt_diag_warn("coordinator %s said hello without a standby's key and endpoint", who->name);
        return;
    }
    char why[TT_WHY_LEN];
    snprintf(s->peer_name, sizeof s->peer_name, "%s", who->name);
    snprintf(s->peer_key, sizeof s->peer_key, "%s", who->key_z85);
    snprintf(s->peer_endpoint, sizeof s->peer_endpoint, "%s", sh->endpoint);
    s->peer_acked = h->replica_seq;
    s->peer_seen_ns = tt_time_mono_ns();
    if (s->ship && strcmp(tt_client_endpoint(s->ship), sh->endpoint) != 0)
        tt_client_destroy(&s->ship);
    if (!s->ship &&
        !(s->ship = tt_client_new(s->ctx, sh->endpoint, who->key_z85, s->keys, 1, why))) {
        tt_diag_error("cannot dial the standby %s at %s: %s", who->name, sh->endpoint, why);
        return;
    }
    if (s->peer_state == PEER_SYNCED)
        tt_diag_warn("the standby %s said hello again (restarted?): catching up", who->name);
    s->peer_state = PEER_CATCHING_UP;
    s->sync_retry_ns = 0;
    if (!tt_chain_keys_has(&s->state.signers, sh->signing_public_key.data)) {
        if (s->state.signers.n >= TT_CHAIN_MAX_SIGNERS) {
            tt_diag_error("cannot name the standby %s's key: the log names %d signers already",
                          who->name, TT_CHAIN_MAX_SIGNERS);
            s->peer_state = PEER_NONE;
            return;
        }
        Tutti__Record rec = TUTTI__RECORD__INIT;
        Tutti__Signer sg = TUTTI__SIGNER__INIT;
        sg.public_key = sh->signing_public_key;
        sg.name = (char *)who->name;
        rec.body_case = TUTTI__RECORD__BODY_SIGNER;
        rec.signer = &sg;
        if (queue_own(s, &rec, why) != 0) {
            tt_diag_error("naming the standby %s's key: %s", who->name, why);
            return;
        }
        commit_batch(s);
        tt_diag_info("the standby %s's signing key is named in the log at %llu", who->name,
                     (unsigned long long)s->state.last_seq);
    }
    tt_diag_info("standby %s at %s said hello (at %llu, this log at %llu)", who->name, sh->endpoint,
                 (unsigned long long)h->replica_seq, (unsigned long long)s->state.last_seq);
}

/* The primary's timers for its standby: gone after PEER_AWAY_MS silent;
 * synced once it has everything (the SYNCED record is shipped too). */
static void peer_tick(coord_server_t *s)
{
    if (s->standby || s->peer_state == PEER_NONE || s->batch_len > 0)
        return;
    int64_t now = tt_time_mono_ns();
    int away = now - s->peer_seen_ns > (int64_t)PEER_AWAY_MS * 1000000;
    if (away && s->peer_state != PEER_ALONE) {
        int was_synced = s->peer_state == PEER_SYNCED;
        tt_diag_error("the standby %s is silent for %d ms: running alone", s->peer_name,
                      PEER_AWAY_MS);
        s->peer_state = PEER_ALONE;
        if (was_synced) {
            queue_standby_event(s, TUTTI__STANDBY_EVENT__KIND__STANDBY_ALONE);
            commit_batch(s);
        }
        return;
    }
    if (away || s->peer_state == PEER_SYNCED || s->peer_acked != s->state.last_seq ||
        now < s->sync_retry_ns || !s->ship)
        return;
    s->peer_state = PEER_SYNCED;
    queue_standby_event(s, TUTTI__STANDBY_EVENT__KIND__STANDBY_SYNCED);
    commit_batch(s);
    if (s->peer_state == PEER_SYNCED) {
        tt_diag_info("the standby %s is synced at %llu: writes wait for its ack", s->peer_name,
                     (unsigned long long)s->state.last_seq);
        s->sync_retry_ns = 0;
        s->sync_backoff_ms = SYNC_RETRY_MIN_MS;
    } else { /* it did not ack: try again later, less often each time */
        if (s->sync_backoff_ms < SYNC_RETRY_MIN_MS)
            s->sync_backoff_ms = SYNC_RETRY_MIN_MS;
        s->sync_retry_ns = now + s->sync_backoff_ms * 1000000;
        s->sync_backoff_ms =
            s->sync_backoff_ms * 2 > SYNC_RETRY_MAX_MS ? SYNC_RETRY_MAX_MS : s->sync_backoff_ms * 2;
    }
}

/* Asks the peer at ep for a hello: 1 when it answers as a serving
 * coordinator, 2 when it is a standby, 0 when it does not answer in time. */
static int peer_serving(coord_server_t *s, const char *ep)
{
    char why[TT_WHY_LEN];
    const tt_access_entry_t *peer = peer_entry(s, why);
    if (!peer) {
        tt_diag_warn("--peer %s: %s", ep, why);
        return 0;
    }
    tt_client_t *c = tt_client_new(s->ctx, ep, peer->key_z85, s->keys, 0, why);
    if (!c) {
        tt_diag_warn("--peer %s: %s", ep, why);
        return 0;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT, *reply = NULL;
    Tutti__Hello h = TUTTI__HELLO__INIT;
    h.program = "tutti-coordinator";
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    int rc = tt_client_request(c, &env, &reply, PEER_PROBE_MS, why);
    int serving = rc == 0 && reply->body_case == TUTTI__ENVELOPE__BODY_HELLO_REPLY;
    if (rc == TT_ERR_STANDBY)
        serving = 2;
    if (serving == 1)
        tt_diag_warn("the peer %s at %s is serving (its log at %llu): rejoining as its standby",
                     peer->name, ep, (unsigned long long)reply->hello_reply->last_seq);
    else
        tt_diag_info("the peer %s at %s %s: serving", peer->name, ep,
                     rc == TT_ERR_STANDBY ? "is a standby" : "does not answer");
    if (reply)
        tutti__envelope__free_unpacked(reply, NULL);
    tt_client_destroy(&c);
    return serving;
}

/* A primary restarting beside its standby first takes the records the
 * standby holds beyond its own head: shipped before a local commit that
 * the crash cut off (signed by this coordinator, checked like any record).
 * Then the primary's log is the standby's again, and the pair goes on. */
static int take_from_standby(coord_server_t *s, const char *ep, char *why)
{
    const tt_access_entry_t *peer = peer_entry(s, why);
    if (!peer)
        return TT_ERR_INVALID;
    tt_client_t *c = tt_client_new(s->ctx, ep, peer->key_z85, s->keys, 0, why);
    if (!c)
        return TT_ERR_IO;
    uint64_t took = 0, from = s->state.last_seq + 1;
    int rc = 0;
    for (;;) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT, *reply = NULL;
        Tutti__FetchRequest fr = TUTTI__FETCH_REQUEST__INIT;
        fr.from_seq = s->state.last_seq + 1;
        env.body_case = TUTTI__ENVELOPE__BODY_FETCH;
        env.fetch = &fr;
        rc = tt_client_request(c, &env, &reply, PEER_PROBE_MS, why);
        if (rc == 0 && reply->body_case != TUTTI__ENVELOPE__BODY_FETCH_REPLY)
            rc = tt_fail(why, TT_ERR_PROTOCOL, "the standby answered a fetch with something else");
        size_t n = rc == 0 ? reply->fetch_reply->n_records : 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            const ProtobufCBinaryData *b = &reply->fetch_reply->records[i];
            tt_chain_keys_t keys = s->state.signers;
            uint8_t hash[TT_HASH_LEN];
            Tutti__Record *rec = NULL;
            uint64_t seq = s->state.last_seq + 1;
            rc = tt_chain_check_keys(b->data, b->len, seq, s->state.head_hash, &keys, hash, &rec,
                                     why);
            tt_bytes_t bytes = {b->data, b->len};
            if (rc == 0)
                rc = tt_store_append(s->store, seq, &bytes, 1, why);
            if (rc == 0)
                rc = tt_session_apply(&s->state, rec, hash, why);
            if (rec)
                tutti__record__free_unpacked(rec, NULL);
            if (rc == 0)
                took++;
        }
        if (reply)
            tutti__envelope__free_unpacked(reply, NULL);
        if (rc != 0 || n == 0)
            break;
    }
    tt_client_destroy(&c);
    if (rc == TT_ERR_TIMEOUT) /* gone since it answered: what it held stays with it */
        rc = 0;
    if (took)
        tt_diag_warn("took records %llu..%llu from the standby %s: shipped to it before a local "
                     "commit the stop cut off",
                     (unsigned long long)from, (unsigned long long)s->state.last_seq, peer->name);
    return rc;
}

/* Becomes the standby of the primary at ep: a replica of its log in our
 * store, folded into s->state, with our key and endpoint in its hello. */
static int standby_start(coord_server_t *s, const char *ep, const char *bound, char *why)
{
    const tt_access_entry_t *peer = peer_entry(s, why);
    if (!peer)
        return TT_ERR_INVALID;
    snprintf(s->peer_name, sizeof s->peer_name, "%s", peer->name);
    snprintf(s->peer_key, sizeof s->peer_key, "%s", peer->key_z85);
    snprintf(s->peer_endpoint, sizeof s->peer_endpoint, "%s", ep);
    snprintf(s->advertise, sizeof s->advertise, "%s", s->cfg.advertise ? s->cfg.advertise : bound);
    tutti__standby_hello__init(&s->standby_hello);
    s->standby_hello.signing_public_key.data = s->signer->public_key;
    s->standby_hello.signing_public_key.len = TT_SIGN_PK_LEN;
    s->standby_hello.endpoint = s->advertise;
    tt_replica_config_t rc = {
        .endpoint = ep,
        .server_key_z85 = s->peer_key,
        .keys = s->keys,
        .expect_role = "coordinator",
        .fold = tt_session_fold,
        .reset = tt_session_reset,
        .fold_arg = &s->state,
        .snapshot_every = s->cfg.snapshot_every,
        .save = tt_session_snap_save,
        .restore = tt_session_snap_restore,
        .standby = &s->standby_hello,
    };
    if (!(s->replica = tt_replica_new(s->ctx, &rc, s->store, why)))
        return tt_error_last() ? tt_error_last() : TT_ERR_CORRUPT;
    s->standby = 1;
    tt_diag_info("standby of %s at %s: log at %llu, this standby's requests at %s", peer->name, ep,
                 (unsigned long long)s->state.last_seq, s->advertise);
    return 0;
}

/* The standby's verdict on its log against the primary's: a log that is
 * not a prefix of the primary's is refused loudly (exit status 4). */
static int standby_check_prefix(coord_server_t *s, char *why)
{
    uint64_t at = 0;
    Tutti__ReplicaConflictKind k = tt_replica_conflict(s->replica, &at);
    if (k == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_NONE)
        return 0;
    exit_hint = 4;
    uint64_t ours = tt_replica_seq(s->replica), theirs = tt_replica_coordinator_seq(s->replica);
    if (k == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_AHEAD)
        return tt_fail(
            why, TT_ERR_CORRUPT,
            "this coordinator's log (at %llu) holds records %llu..%llu the serving peer "
            "%s (at %llu) never had: they were written while this one ran alone, or "
            "shipped and never acknowledged, and the peer has taken over since. Refusing "
            "to rejoin: move %s aside (keep it: it holds those records) and start again",
            (unsigned long long)ours, (unsigned long long)theirs + 1, (unsigned long long)ours,
            s->peer_name, (unsigned long long)theirs, s->cfg.data_dir);
    return tt_fail(
        why, TT_ERR_CORRUPT,
        "this coordinator's log differs from the serving peer %s's at record %llu or before (ours "
        "at %llu, theirs at %llu): the logs diverged. Refusing to rejoin: move %s aside "
        "(keep it) and start again",
        s->peer_name, (unsigned long long)at, (unsigned long long)ours, (unsigned long long)theirs,
        s->cfg.data_dir);
}

/* Takes over from a lost primary, asked by a client: a TOOK_OVER record
 * signed with our key, the take open at that moment closed interrupted,
 * numbering continued; from here this coordinator serves. */
static int take_over(coord_server_t *s, char *why)
{
    uint64_t primary_seq = tt_replica_coordinator_seq(s->replica);
    tt_diag_warn("the primary %s at %s is lost and a client asked: taking over at seq %llu "
                 "(the primary was last heard at %llu)",
                 s->peer_name, s->peer_endpoint, (unsigned long long)s->state.last_seq,
                 (unsigned long long)primary_seq);
    tt_replica_destroy(&s->replica);
    s->standby = 0;
    s->peer_state = PEER_ALONE; /* its peer is lost: it serves alone until that one rejoins */
    s->peer_acked = s->state.last_seq;
    s->peer_seen_ns = 0;
    queue_standby_event(s, TUTTI__STANDBY_EVENT__KIND__STANDBY_TOOK_OVER);
    const char *cue = NULL;
    const tt_session_take_t *take = tt_session_open_take(&s->state, &cue);
    if (take) {
        Tutti__Record rec = TUTTI__RECORD__INIT;
        Tutti__TakeInterrupted ti = TUTTI__TAKE_INTERRUPTED__INIT;
        ti.cue = (char *)cue;
        ti.take = take->number;
        ti.at_session_ns = session_now(s);
        rec.body_case = TUTTI__RECORD__BODY_TAKE_INTERRUPTED;
        rec.take_interrupted = &ti;
        tt_diag_warn("take %u of %s was open when the primary was lost: closing it as interrupted",
                     take->number, cue);
        int rc = queue_own(s, &rec, why);
        if (rc != 0)
            return rc;
    }
    uint64_t want = s->state.last_seq;
    commit_batch(s);
    uint64_t stored = 0;
    if (tt_store_last_seq(s->store, &stored, why) != 0 || stored != want)
        return tt_fail(why, TT_ERR_STORE, "the takeover records did not commit");
    return 0;
}

/* 0 when a client's request may make this standby take over (Binary
 * Star: the primary lost AND a client asking), else the answer's code. */
static int may_take_over(coord_server_t *s, char *why)
{
    if (tt_replica_coordinator_online(s->replica))
        return tt_fail(why, TT_ERR_STANDBY, "this coordinator is the standby of %s: ask %s",
                       s->peer_name, s->peer_endpoint);
    if (!s->primary_heard)
        return tt_fail(why, TT_ERR_STANDBY,
                       "this coordinator is a standby that has not reached its primary %s at %s "
                       "since it started: it does not take over",
                       s->peer_name, s->peer_endpoint);
    if (!tt_chain_keys_has(&s->state.signers, s->signer->public_key))
        return tt_fail(why, TT_ERR_UNAVAILABLE,
                       "the primary %s is lost but the log does not name this standby's key yet: "
                       "it cannot take over",
                       s->peer_name);
    return 0;
}

/* A standby's turn on its request socket: records shipped by the primary
 * are stored and acked; status is answered; a client's request is
 * answered ERROR_STANDBY while the primary is there, and makes the
 * standby take over when it is lost. */
static int standby_drain(coord_server_t *s, char *fatal)
{
    for (int n = 0; n < BATCH_MAX && s->standby; n++) {
        tt_wire_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_wire_recv_capped(s->router, 1, ZMQ_DONTWAIT, request_cap, s, &m, why);
        if (rc == TT_ERR_AGAIN)
            break;
        if (rc == TT_ERR_IO) {
            tt_diag_error("request socket: %s", why);
            break;
        }
        if (rc != 0) {
            if (m.routing_id_len)
                send_error(s, &m, rc, why);
            tt_wire_msg_clear(&m);
            continue;
        }
        const tt_access_entry_t *who = tt_access_find_key(s->access, m.user_id);
        Tutti__Envelope__BodyCase body = m.env->body_case;
        if (!who) {
            send_error(s, &m, TT_ERR_AUTH, "your key is no longer in the access file");
        } else if (who->role == TT_ROLE_COORDINATOR && body == TUTTI__ENVELOPE__BODY_FETCH_REPLY) {
            const Tutti__FetchReply *fr = m.env->fetch_reply;
            uint64_t first = fr->n_records && fr->last_seq >= fr->n_records
                                 ? fr->last_seq - fr->n_records + 1
                                 : 0;
            rc = tt_replica_accept(s->replica, fr->records, fr->n_records, first, fatal);
            Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
            Tutti__Heartbeat hb = TUTTI__HEARTBEAT__INIT;
            hb.seq = tt_replica_seq(s->replica);
            hb.epoch = s->epoch;
            env.body_case = TUTTI__ENVELOPE__BODY_HEARTBEAT;
            env.heartbeat = &hb;
            send_reply(s, &m, &env);
            if (rc != 0) {
                tt_wire_msg_clear(&m);
                return rc;
            }
        } else if (body == TUTTI__ENVELOPE__BODY_STATUS ||
                   (who->role == TT_ROLE_COORDINATOR && body == TUTTI__ENVELOPE__BODY_FETCH)) {
            /* status for anyone; its log for a restarting primary (take_from_standby) */
            (body == TUTTI__ENVELOPE__BODY_STATUS ? on_status : on_fetch)(s, &m, who);
        } else if (who->role == TT_ROLE_COORDINATOR) {
            send_error(s, &m, TT_ERR_STANDBY, "this coordinator is a standby");
        } else if ((rc = may_take_over(s, why)) != 0) {
            send_error(s, &m, rc, why);
        } else if ((rc = take_over(s, why)) != 0) {
            tt_diag_error("taking over: %s", why);
            send_error(s, &m, TT_ERR_UNAVAILABLE, why);
        } else {
            dispatch(s, &m, 0);
        }
        tt_wire_msg_clear(&m);
    }
    if (!s->standby) {
        commit_batch(s);
        answer_later(s);
    }
    return 0;
}

/* The standby block of a status reply. */
static void status_standby(coord_server_t *s, Tutti__StatusReply *sr, Tutti__StandbyStatus *st)
{
    if (!s->standby && s->peer_state == PEER_NONE)
        return;
    int64_t now = tt_time_mono_ns();
    tutti__standby_status__init(st);
    st->peer = s->peer_name;
    st->peer_endpoint = s->peer_endpoint;
    if (s->standby) {
        st->role = "standby";
        int online = tt_replica_coordinator_online(s->replica);
        st->state = !online ? "alone" : tt_replica_caught_up(s->replica) ? "synced" : "catching_up";
        st->peer_seq = tt_replica_coordinator_seq(s->replica);
        st->peer_seen_ms_ago = online ? 0 : -1;
    } else {
        st->role = "primary";
        st->state = (char *)peer_state_name(s->peer_state);
        st->peer_seq = s->peer_acked;
        st->peer_seen_ms_ago = s->peer_seen_ns ? (now - s->peer_seen_ns) / 1000000 : -1;
    }
    sr->standby = st;
}

static void publish_heartbeat(coord_server_t *s)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Heartbeat hb = TUTTI__HEARTBEAT__INIT;
    hb.seq = s->state.last_seq;
    hb.epoch = s->epoch;
    env.body_case = TUTTI__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    tt_wire_send(s->pub, NULL, 0, &env, NULL);
}

/* ------------------------------------------------------------ lifecycle */

/* Written to a temporary name, synced, renamed over and the directory
 * synced: a reader (a test, a supervisor) sees the old file or the whole
 * new one, also after a crash. */
static int write_endpoint_file(const char *path, const char *request, const char *updates,
                               const char *clock, char *why)
{
    char text[3 * 1024];
    int n = snprintf(text, sizeof text, "%s\n%s\n%s\n", request, updates, clock);
    if (n < 0 || (size_t)n >= sizeof text)
        return tt_fail(why, TT_ERR_INVALID, "writing %s: endpoints too long", path);
    return tt_file_write_atomic(path, text, (size_t)n, 0644, 0, why);
}

/* A CURVE server socket of type, bound to ep through a tt_listen (*l). */
static void *bind_server_socket(coord_server_t *s, int type, const char *name, const char *ep,
                                tt_listen_t **l, char *why)
{
    void *sock = zmq_socket(s->ctx, type);
    if (!sock) {
        tt_fail(why, TT_ERR_IO, "creating a socket: %s", zmq_strerror(errno));
        return NULL;
    }
    if (tt_wire_setup_server(sock, s->keys, why) != 0) {
        zmq_close(sock);
        return NULL;
    }
    int backlog = LISTEN_BACKLOG;
    if (zmq_setsockopt(sock, ZMQ_BACKLOG, &backlog, sizeof backlog) != 0) {
        tt_fail(why, TT_ERR_IO, "setting the listen backlog for %s: %s", ep, zmq_strerror(errno));
        zmq_close(sock);
        return NULL;
    }
    int hwm = PUB_HWM;
    if (type == ZMQ_PUB && zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0) {
        tt_fail(why, TT_ERR_IO, "setting the PUB high-water mark for %s: %s", ep,
                zmq_strerror(errno));
        zmq_close(sock);
        return NULL;
    }
    char sub[TT_WHY_LEN];
    if (type == ZMQ_ROUTER && coord_outbox_configure(sock, sub) != 0) {
        tt_fail(why, TT_ERR_IO, "%s: %s", ep, sub);
        zmq_close(sock);
        return NULL;
    }
    if (!(*l = tt_listen_new(s->ctx, sock, name, ep, why))) {
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

coord_server_t *coord_server_new(const coord_config_t *cfg, char *why)
{
    coord_server_t *s = calloc(1, sizeof *s);
    if (!s) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the coordinator");
        return NULL;
    }
    s->cfg = *cfg;
    s->osc_fd = -1;
    char sub[TT_WHY_LEN];
    if (!(s->seal_guard = tt_seal_guard_new(TT_SEAL_WINDOW, TT_SEAL_MAX_AGE_NS, why)))
        goto fail;
    if (!(s->keys = tt_keypair_load(cfg->key_path, sub))) {
        tt_fail(why, TT_ERR_CRYPTO, "loading --key: %s", sub);
        goto fail;
    }
    if (!(s->access = tt_access_load(cfg->access_path, sub))) {
        tt_fail(why, TT_ERR_INVALID, "loading --access: %s", sub);
        goto fail;
    }
    if (rebuild_rooms(s, why) != 0)
        goto fail;
    if (!(s->store = tt_store_open(cfg->data_dir, 0, cfg->map_mb, why)))
        goto fail;
    s->ctx = zmq_ctx_new();
    if (!s->ctx) {
        tt_fail(why, TT_ERR_IO, "creating the ZeroMQ context: %s", zmq_strerror(errno));
        goto fail;
    }
    /* A primary given its peer rejoins as the standby of a peer that serves
     * (Binary Star: the one that serves stays serving). */
    const char *standby_of = cfg->standby_of;
    int peer_is = !standby_of && cfg->peer ? peer_serving(s, cfg->peer) : 0;
    if (peer_is == 1)
        standby_of = cfg->peer;
    /* A room agent's replica (a pinned key, no signing.key) is not ours:
     * a signing key made over it would be a second authority for a copy of
     * someone else's log. */
    char key_path[1100];
    snprintf(key_path, sizeof key_path, "%s/signing.key", cfg->data_dir);
    if (!standby_of && access(key_path, F_OK) != 0 && tt_replica_store_pins_key(s->store)) {
        tt_fail(why, TT_ERR_INVALID,
                "%s holds a room agent's replica, not a coordinator's log: give the "
                "coordinator a --data directory of its own",
                cfg->data_dir);
        goto fail;
    }
    if (!(s->signer = tt_signer_load_or_create(cfg->data_dir, why)))
        goto fail;
    /* A standby's store is folded by its replica (standby_start). */
    if (!standby_of && refold(s, 1, sub) != 0) {
        tt_fail(why, TT_ERR_CORRUPT, "the log in %s does not verify: %s (run tutti verify)",
                cfg->data_dir, sub);
        goto fail;
    }
    if (!standby_of && s->state.last_seq > 0 &&
        !tt_chain_keys_has(&s->state.signers, s->signer->public_key)) {
        tt_fail(why, TT_ERR_CORRUPT,
                "the log in %s is signed with neither %s/signing.key nor a key it names for it "
                "(a standby that was never named cannot serve this log)",
                cfg->data_dir, cfg->data_dir);
        goto fail;
    }
    if (!standby_of && s->state.last_seq == 0 && write_genesis(s, why) != 0)
        goto fail;
    if (peer_is == 2 && s->state.last_seq > 0 && take_from_standby(s, cfg->peer, sub) != 0) {
        tt_fail(why, TT_ERR_CORRUPT, "taking the records the standby holds beyond this log: %s",
                sub);
        goto fail;
    }
    if (!standby_of && close_interrupted_take(s, why) != 0)
        goto fail;
    load_rooms_expected(s);
    randombytes_buf(&s->epoch, sizeof s->epoch);

    /* ZAP first: a CURVE socket bound before it would admit every key. */
    if (!(s->zap = tt_zap_bind(s->ctx, why)))
        goto fail;
    if (!(s->router =
              bind_server_socket(s, ZMQ_ROUTER, "requests", cfg->bind, &s->router_listen, why)))
        goto fail;
    if (!(s->outbox = coord_outbox_new(s->router, "request", COORD_OUTBOX_GIVE_UP_MS, why)))
        goto fail;
    char bound[256];
    snprintf(bound, sizeof bound, "%s", tt_listen_endpoint(s->router_listen));
    char any_port[256] = "", pub_ep[256], clock_ep[256];
    if (tt_wire_endpoint_with_port(bound, 0, any_port, sizeof any_port) == 0)
        any_port[strlen(any_port) - 1] = '*'; /* same host, any free port */
    snprintf(pub_ep, sizeof pub_ep, "%s", cfg->pub_bind ? cfg->pub_bind : any_port);
    if (!(s->pub = bind_server_socket(s, ZMQ_PUB, "updates", pub_ep, &s->pub_listen, why)))
        goto fail;
    s->updates_port = tt_listen_port(s->pub_listen);
    snprintf(clock_ep, sizeof clock_ep, "%s", cfg->clock_bind ? cfg->clock_bind : any_port);
    if (standby_of) { /* the primary's clock, estimated, served once taken over */
        const tt_access_entry_t *peer = peer_entry(s, why);
        if (!peer)
            goto fail;
        tt_clock_box_init(&s->clock_box);
        tt_clock_client_config_t ccfg = {
            .keys = s->keys, .server_key_z85 = peer->key_z85, .box = &s->clock_box};
        if (!(s->clock_client = tt_clock_client_start(s->ctx, &ccfg, why)))
            goto fail;
    }
    if (!(s->clock = tt_clock_service_start(s->ctx, s->keys, clock_ep, s->epoch, s->access,
                                            s->clock_client, why)))
        goto fail;
    char upload_ep[256];
    snprintf(upload_ep, sizeof upload_ep, "%s", cfg->upload_bind ? cfg->upload_bind : any_port);
    coord_upload_config_t ucfg = {s->ctx,        s->keys,   upload_ep,
                                  cfg->data_dir, s->access, cfg->part_limits};
    if (!(s->upload = coord_upload_start(&ucfg, why)))
        goto fail;
    tt_diag_info("media uploads on port %u, files in %s/media", coord_upload_port(s->upload),
                 cfg->data_dir);
    if (cfg->osc_port >= 0) {
        const tt_access_entry_t *as = tt_access_find_name(s->access, cfg->osc_as);
        if (!as) {
            tt_fail(why, TT_ERR_INVALID, "--osc-as %s: no such name in the access file",
                    cfg->osc_as ? cfg->osc_as : "(none)");
            goto fail;
        }
        unsigned port;
        int fd = coord_osc_open((unsigned)cfg->osc_port, &port, why);
        if (fd < 0)
            goto fail;
        s->osc_fd = fd;
        tt_diag_info("OSC control surface on 127.0.0.1:%u (UDP) as %s, role %s", port, as->name,
                     tt_role_name(as->role));
    }
    if (cfg->endpoint_file) {
        char up[256], ck[256];
        tt_wire_endpoint_with_port(bound, s->updates_port, up, sizeof up);
        tt_wire_endpoint_with_port(bound, tt_clock_service_port(s->clock), ck, sizeof ck);
        if (write_endpoint_file(cfg->endpoint_file, bound, up, ck, why) != 0)
            goto fail;
    }
    if (standby_of && standby_start(s, standby_of, bound, why) != 0)
        goto fail;
    char hash_hex[2 * TT_HASH_LEN + 1];
    sodium_bin2hex(hash_hex, sizeof hash_hex, s->state.head_hash, TT_HASH_LEN);
    tt_diag_info("serving %s (updates on port %u, clock on port %u), key %s, log at %llu, "
                 "head %.16s…",
                 bound, s->updates_port, tt_clock_service_port(s->clock), s->keys->public_z85,
                 (unsigned long long)s->state.last_seq, hash_hex);
    return s;
fail:
    coord_server_destroy(&s);
    return NULL;
}

void coord_server_destroy(coord_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    coord_server_t *s = *self_p;
    for (size_t i = 0; i < s->batch_len; i++)
        free(s->batch[i].record);
    for (size_t i = 0; i < s->later_len; i++)
        tt_wire_msg_clear(&s->later[i].m);
    tt_replica_destroy(&s->replica);
    tt_client_destroy(&s->ship);
    coord_upload_stop(&s->upload);
    tt_clock_service_stop(&s->clock);
    tt_clock_client_stop(&s->clock_client); /* after the service that reads it */
    if (s->osc_fd >= 0)
        close(s->osc_fd);
    tt_session_clear(&s->state);
    coord_outbox_destroy(&s->outbox);
    tt_listen_destroy(&s->router_listen);
    tt_listen_destroy(&s->pub_listen);
    if (s->router)
        zmq_close(s->router);
    if (s->pub)
        zmq_close(s->pub);
    if (s->zap)
        zmq_close(s->zap);
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    tt_store_destroy(&s->store);
    tt_signer_destroy(&s->signer);
    tt_access_destroy(&s->access);
    tt_keypair_destroy(&s->keys);
    tt_seal_guard_destroy(&s->seal_guard);
    free(s->rooms);
    free(s);
    *self_p = NULL;
}

/* How many keys of old are not in fresh; the first few names into names. */
static size_t count_revoked(const tt_access_t *old, const tt_access_t *fresh, char *names,
                            size_t len)
{
    size_t n = 0, used = 0;
    names[0] = '\0';
    for (size_t i = 0; i < old->count; i++) {
        if (tt_access_find_key(fresh, old->entries[i].key_z85))
            continue;
        n++;
        int w = snprintf(names + used, len - used, "%s%s", used ? ", " : "", old->entries[i].name);
        if (w > 0 && (size_t)w < len - used)
            used += (size_t)w;
    }
    return n;
}

/* Every socket sees the new table: the ROUTER and ZAP look each request and
 * handshake up in s->access; the clock and upload threads get a copy and
 * check each message; the PUB, which never hears from a subscriber, drops
 * its connections when a key went, so each subscriber passes ZAP again. */
static void reload_access(coord_server_t *s)
{
    char why[TT_WHY_LEN];
    tt_access_t *fresh = tt_access_load(s->cfg.access_path, why);
    if (!fresh) {
        tt_diag_error("SIGHUP: keeping the old access table: %s", why);
        return;
    }
    tt_access_t *old = s->access;
    s->access = fresh;
    if (rebuild_rooms(s, why) != 0) {
        tt_diag_error("SIGHUP: %s; keeping the old access table", why);
        s->access = old;
        tt_access_destroy(&fresh);
        return;
    }
    char names[256];
    size_t revoked = count_revoked(old, fresh, names, sizeof names);
    tt_access_destroy(&old);
    tt_diag_info("SIGHUP: access file reloaded, %zu keys, %zu revoked%s%s%s", s->access->count,
                 revoked, revoked ? " (" : "", names, revoked ? ")" : "");
    if (tt_clock_service_set_access(s->clock, s->access, why) != 0)
        tt_diag_error("SIGHUP: the clock thread did not take the new table: %s", why);
    if (coord_upload_set_access(s->upload, s->access, why) != 0)
        tt_diag_error("SIGHUP: the upload thread did not take the new table: %s", why);
    if (revoked)
        tt_listen_drop(s->pub_listen, "a key was revoked");
}

int coord_server_run(coord_server_t *s, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload,
                     char *why)
{
    int64_t next_heartbeat = 0, next_liveness = 0;
    while (!*stop) {
        if (*reload) {
            *reload = 0;
            reload_access(s);
        }
        int64_t now = tt_time_mono_ns();
        if (now >= next_heartbeat) {
            publish_heartbeat(s);
            next_heartbeat = now + (int64_t)PUB_HEARTBEAT_MS * 1000000;
        }
        if (now >= next_liveness) {
            check_liveness(s);
            next_liveness = now + (int64_t)LIVENESS_CHECK_MS * 1000000;
        }
        int64_t next = next_heartbeat < next_liveness ? next_heartbeat : next_liveness;
        long timeout_ms = (long)((next - now) / 1000000) + 1;
        int outbox_ms = coord_outbox_wait_ms(s->outbox);
        if (outbox_ms >= 0 && outbox_ms < timeout_ms)
            timeout_ms = outbox_ms;
        timeout_ms = tt_listen_min_timeout(timeout_ms, tt_listen_tick(s->router_listen));
        timeout_ms = tt_listen_min_timeout(timeout_ms, tt_listen_tick(s->pub_listen));
        if (s->standby) {
            int rms = tt_replica_tick(s->replica, now);
            if (rms < timeout_ms)
                timeout_ms = rms;
            unsigned cport = tt_replica_clock_port(s->replica);
            char cep[256];
            if (s->clock_client && !s->clock_connected && cport &&
                tt_wire_endpoint_with_port(s->peer_endpoint, cport, cep, sizeof cep) == 0) {
                tt_clock_client_connect(s->clock_client, cep);
                s->clock_connected = 1;
                tt_diag_info("following the primary's clock at %s", cep);
            }
        }
        /* A standby leaves uploads and the OSC surface waiting: they are
         * served once it has taken over. */
        int standby = s->standby;
        zmq_pollitem_t items[7 + TT_REPLICA_POLL_ITEMS] = {
            {s->zap, 0, ZMQ_POLLIN, 0},
            {s->router, 0, ZMQ_POLLIN, 0},
            {coord_upload_pipe(s->upload), 0, standby ? 0 : ZMQ_POLLIN, 0},
            {tt_listen_events(s->router_listen), 0, ZMQ_POLLIN, 0},
            {tt_listen_events(s->pub_listen), 0, ZMQ_POLLIN, 0},
            {NULL, s->osc_fd, s->osc_fd >= 0 && !standby ? ZMQ_POLLIN : 0, 0}};
        int n_items = 6, n_replica = 0;
        if (s->clock_client) /* its reports, drained: the estimate itself is in the box */
            items[n_items++] =
                (zmq_pollitem_t){tt_clock_client_socket(s->clock_client), 0, ZMQ_POLLIN, 0};
        if (s->osc_fd < 0)
            items[5].fd = -1;
        if (standby)
            n_replica = tt_replica_poll_items(s->replica, items + n_items);
        if (zmq_poll(items, n_items + n_replica, timeout_ms) < 0) {
            if (errno == EINTR)
                continue;
            return tt_fail(why, TT_ERR_IO, "polling: %s", zmq_strerror(errno));
        }
        if (items[0].revents & ZMQ_POLLIN)
            tt_zap_handle(s->zap, s->access, &s->zap_quiet);
        if (s->clock_client && (items[6].revents & ZMQ_POLLIN)) {
            tt_clock_client_report_t rep;
            tt_clock_client_read(s->clock_client, &rep);
        }
        if (standby && n_replica) {
            int rc = tt_replica_handle(s->replica, items + n_items, n_replica, why);
            if (rc != 0)
                return rc;
            if (tt_replica_coordinator_online(s->replica) && !s->primary_heard) {
                s->primary_heard = 1;
                tt_diag_info("the primary %s answers: standing by", s->peer_name);
            }
            if (tt_replica_checked(s->replica) && standby_check_prefix(s, why) != 0)
                return TT_ERR_CORRUPT;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            if (standby) {
                int rc = standby_drain(s, why);
                if (rc != 0)
                    return rc;
            } else
                drain(s, s->router, 0);
        }
        if (!standby && (items[2].revents & ZMQ_POLLIN))
            drain(s, coord_upload_pipe(s->upload), 1);
        if (!standby && s->osc_fd >= 0 && (items[5].revents & ZMQ_POLLIN))
            osc_drain(s);
        if (!s->standby)
            peer_tick(s);
        coord_outbox_flush(s->outbox);
    }
    return 0;
}
