/* coord_server: requests in, durable records out. See coord_server.h.
 *
 * Flow per loop turn: drain up to BATCH_MAX requests; reads are answered at
 * once; each write is checked against the role and the folded state, sealed
 * with the next sequence number and folded in tentatively. After the drain
 * one LMDB transaction commits the whole group; then (and only then) every
 * writer gets its reply and every record goes out on the PUB socket. If the
 * commit fails, the writers get errors and the state is folded again from
 * the store, which is the truth.
 */
#include "coord_server.h"
#include "coord_clock.h"
#include "coord_upload.h"
#include "coord_zap.h"
#include "tt_access.h"
#include "tt_chain.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_session.h"
#include "tt_store.h"
#include "tt_tempo.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define BATCH_MAX 512
#define FETCH_MAX_RECORDS 1000
#define FETCH_MAX_BYTES (4 * 1024 * 1024)
#define PUB_HEARTBEAT_MS 1000
#define LIVENESS_CHECK_MS 250
#define PUB_HWM 200000

typedef struct {
    char name[TT_ACCESS_MAX_NAME + 1];
    int online;
    int64_t last_seen_ns; /* monotonic; 0 = never since start */
    uint64_t replica_seq;
    int has_clock;
    char clock_state[16];
    double offset_us, drift_ppm, rtt_us, error_bound_us, trim_us;
} room_t;

typedef struct {
    uint8_t rid[TT_WIRE_MAX_ROUTING_ID];
    size_t rid_len;
    uint64_t request_id;
    uint64_t seq;
    uint8_t *record; /* owned SignedRecord bytes */
    size_t record_len;
} pending_t;

struct coord_server {
    coord_config_t cfg;
    tt_keypair_t *keys;
    tt_access_t *access;
    tt_signer_t *signer;
    tt_store_t *store;
    tt_session_t state; /* folded from the store, plus the uncommitted batch */
    uint64_t epoch;

    void *ctx;
    void *zap;
    void *router;
    void *pub;
    unsigned updates_port;
    coord_clock_t *clock;
    coord_upload_t *upload;

    room_t *rooms;
    size_t room_count;

    pending_t batch[BATCH_MAX];
    size_t batch_len;
};

/* ------------------------------------------------------------ the store */

typedef struct {
    tt_session_t *state;
    char *why;
} fold_ctx_t;

static int fold_one(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    fold_ctx_t *c = arg;
    uint8_t hash[TT_HASH_LEN];
    Tutti__Record *rec = NULL;
    int rc = tt_chain_check(data, len, seq, c->state->head_hash, c->state->signing_pk, hash, &rec,
                            c->why);
    if (rc != 0)
        return rc;
    rc = tt_session_apply(c->state, rec, hash, c->why);
    tutti__record__free_unpacked(rec, NULL);
    return rc;
}

/* state = fold(store), checking every record against our signing key. */
static int refold(coord_server_t *s, char *why)
{
    tt_session_clear(&s->state);
    memcpy(s->state.signing_pk, s->signer->public_key, TT_SIGN_PK_LEN);
    fold_ctx_t c = {&s->state, why};
    for (;;) {
        uint64_t before = s->state.last_seq;
        int rc = tt_store_scan(s->store, before + 1, 4096, SIZE_MAX, fold_one, &c, why);
        if (rc != 0)
            return rc;
        if (s->state.last_seq == before)
            return 0;
    }
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
    size_t n = 0;
    for (size_t i = 0; i < s->access->count; i++)
        n += s->access->entries[i].role == TT_ROLE_ROOM;
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
        tt_diag_info("room %s online (replica at %llu)", r->name,
                     (unsigned long long)r->replica_seq);
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
        }
    }
}

/* ------------------------------------------------------------ replies */

/* A message without a routing id came from the upload thread's pipe. */
static void *reply_socket(coord_server_t *s, size_t rid_len)
{
    return rid_len ? s->router : coord_upload_pipe(s->upload);
}

static void send_reply(coord_server_t *s, const tt_wire_msg_t *m, Tutti__Envelope *env)
{
    char why[TT_WHY_LEN];
    env->request_id = m->request_id;
    if (tt_wire_send(reply_socket(s, m->routing_id_len), m->routing_id_len ? m->routing_id : NULL,
                     m->routing_id_len, env, why) != 0)
        tt_diag_warn("reply to a client lost: %s", why);
}

static void send_error(coord_server_t *s, const tt_wire_msg_t *m, int code, const char *text)
{
    if (tt_wire_send_error(reply_socket(s, m->routing_id_len),
                           m->routing_id_len ? m->routing_id : NULL, m->routing_id_len,
                           m->request_id, code, text) != 0)
        tt_diag_warn("error reply to a client lost");
}

static void on_hello(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    room_seen(s, who, m->env->hello->replica_seq, 1);
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__HelloReply hr = TUTTI__HELLO_REPLY__INIT;
    hr.name = (char *)who->name;
    hr.role = (char *)tt_role_name(who->role);
    hr.epoch = s->epoch;
    hr.last_seq = s->state.last_seq;
    hr.updates_port = s->updates_port;
    hr.clock_port = coord_clock_port(s->clock);
    hr.upload_port = coord_upload_port(s->upload);
    hr.signing_public_key.data = s->signer->public_key;
    hr.signing_public_key.len = TT_SIGN_PK_LEN;
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO_REPLY;
    env.hello_reply = &hr;
    send_reply(s, m, &env);
}

static void on_heartbeat(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    room_seen(s, who, m->env->heartbeat->seq, 1);
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
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Heartbeat hb = TUTTI__HEARTBEAT__INIT;
    hb.seq = s->state.last_seq;
    hb.epoch = s->epoch;
    env.body_case = TUTTI__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    send_reply(s, m, &env);
}

static void on_status(coord_server_t *s, const tt_wire_msg_t *m)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__StatusReply sr = TUTTI__STATUS_REPLY__INIT;
    Tutti__RoomStatus *rs = calloc(s->room_count ? s->room_count : 1, sizeof *rs);
    Tutti__RoomStatus **rp = calloc(s->room_count ? s->room_count : 1, sizeof *rp);
    Tutti__ClockReport *cr = calloc(s->room_count ? s->room_count : 1, sizeof *cr);
    char **players = calloc(s->state.n_players + 1, sizeof *players);
    size_t used_players = 0;
    if (!rs || !rp || !cr) {
        free(rs);
        free(rp);
        free(cr);
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
    sr.session_ns = now;
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
    sr.transport = (char *)tt_session_transport_name(&s->state, tt_time_mono_ns());
    sr.cue = s->state.transport.cue;
    sr.take = s->state.transport.take;
    sr.n_rooms = s->room_count;
    sr.rooms = rp;
    env.body_case = TUTTI__ENVELOPE__BODY_STATUS_REPLY;
    env.status_reply = &sr;
    send_reply(s, m, &env);
    free(rs);
    free(rp);
    free(cr);
    free(cs);
    free(csp);
    free(names);
    free(players);
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

static void on_fetch(coord_server_t *s, const tt_wire_msg_t *m)
{
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
    /* Only committed records: the batch in flight is not in the store yet. */
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
        rep.last_seq = s->state.last_seq - s->batch_len;
        env.body_case = TUTTI__ENVELOPE__BODY_FETCH_REPLY;
        env.fetch_reply = &rep;
        send_reply(s, m, &env);
    }
    for (size_t i = 0; i < c.count; i++)
        free(c.items[i].data);
    free(c.items);
}

/* ------------------------------------------------------------ writes */

/* Seals rec, written by caller `who`, as the next record of the batch. */
static void queue_write(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who,
                        Tutti__Record *rec)
{
    char why[TT_WHY_LEN];
    rec->actor = (char *)who->name;
    rec->actor_role = (char *)tt_role_name(who->role);
    pending_t *p = &s->batch[s->batch_len];
    int rc = seal_next(s, rec, &p->record, &p->record_len, why);
    if (rc != 0) {
        tt_diag_error("sealing a record: %s", why);
        send_error(s, m, rc, why);
        return;
    }
    memcpy(p->rid, m->routing_id, m->routing_id_len);
    p->rid_len = m->routing_id_len;
    p->request_id = m->request_id;
    p->seq = s->state.last_seq;
    s->batch_len++;
}

static int is_access_room(const coord_server_t *s, const char *name)
{
    for (size_t i = 0; i < s->access->count; i++)
        if (s->access->entries[i].role == TT_ROLE_ROOM && !strcmp(s->access->entries[i].name, name))
            return 1;
    return 0;
}

static void refuse(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who,
                   const char *what, int rc, const char *why)
{
    tt_diag_warn("refused %s from %s: %s", what, who->name, why);
    send_error(s, m, rc, why);
}

static void on_note(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const char *text = m->env->note->text;
    int rc = tt_session_check_note(&s->state, text, why);
    if (rc != 0) {
        refuse(s, m, who, "note", rc, why);
        return;
    }
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Note note = TUTTI__NOTE__INIT;
    note.text = (char *)text;
    rec.body_case = TUTTI__RECORD__BODY_NOTE;
    rec.note = &note;
    queue_write(s, m, who, &rec);
}

static void on_trim(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__TrimRequest *tr = m->env->trim;
    int rc =
        tt_session_check_trim(&s->state, tr->room, is_access_room(s, tr->room), tr->trim_ns, why);
    if (rc != 0) {
        refuse(s, m, who, "trim", rc, why);
        return;
    }
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Trim trim = TUTTI__TRIM__INIT;
    trim.room = tr->room;
    trim.trim_ns = tr->trim_ns;
    rec.body_case = TUTTI__RECORD__BODY_TRIM;
    rec.trim = &trim;
    queue_write(s, m, who, &rec);
}

static void on_tempo_load(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__TempoLoadRequest *req = m->env->tempo_load;
    int rc = tt_session_check_tempo_load(&s->state, req->cue, why);
    if (rc != 0) {
        refuse(s, m, who, "tempo load", rc, why);
        return;
    }
    /* Parse and store the canonical form: every agent parses exactly this. */
    char pwhy[TT_WHY_LEN];
    tt_tempo_map_t *map = tt_tempo_parse_text(req->map_text, strlen(req->map_text), pwhy);
    char *canonical = NULL;
    if (!map || tt_tempo_format_text(map, &canonical, pwhy) != 0) {
        tt_tempo_destroy(&map);
        snprintf(why, sizeof why, "tempo map for %.32s: %.400s", req->cue, pwhy);
        refuse(s, m, who, "tempo load", TT_ERR_INVALID, why);
        return;
    }
    tt_tempo_destroy(&map);
    const tt_session_cue_t *cue = tt_session_find_cue(&s->state, req->cue);
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__TempoLoad tl = TUTTI__TEMPO_LOAD__INIT;
    tl.cue = req->cue;
    tl.version = (cue ? cue->tempo_version : 0) + 1;
    tl.map_text = canonical;
    tl.source = req->source;
    rec.body_case = TUTTI__RECORD__BODY_TEMPO_LOAD;
    rec.tempo_load = &tl;
    queue_write(s, m, who, &rec);
    free(canonical);
}

static void on_roll(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__RollRequest *req = m->env->roll;
    int32_t from_bar = req->from_bar ? req->from_bar : 1;
    uint32_t lead_ms = req->lead_ms ? req->lead_ms : 1500;
    int64_t now = tt_time_mono_ns(); /* session time is this host's monotonic clock */
    int rc = tt_session_check_roll(&s->state, req->cue, from_bar, now, why);
    if (rc == 0)
        rc = tt_session_check_punch(from_bar, req->punch_in, req->punch_out, why);
    if (rc == 0 && lead_ms > TT_ROLL_MAX_LEAD_MS)
        rc = tt_fail(why, TT_ERR_INVALID, "--lead-ms %u is over %d", lead_ms, TT_ROLL_MAX_LEAD_MS);
    if (rc != 0) {
        refuse(s, m, who, "roll", rc, why);
        return;
    }
    /* The gate: every online room must have acked every change on this cue. */
    const char **online = calloc(s->room_count ? s->room_count : 1, sizeof *online);
    if (!online) {
        send_error(s, m, TT_ERR_NOMEM, "coordinator out of memory");
        return;
    }
    size_t n_online = 0;
    for (size_t r = 0; r < s->room_count; r++)
        if (s->rooms[r].online)
            online[n_online++] = s->rooms[r].name;
    tt_session_gate_t gate;
    rc = tt_session_roll_gate(&s->state, req->cue, online, n_online, req->force, &gate, why);
    if (rc != 0) {
        free(online);
        refuse(s, m, who, "roll", rc, why);
        return;
    }
    const tt_session_cue_t *cue = tt_session_find_cue(&s->state, req->cue);
    char pwhy[TT_WHY_LEN];
    tt_tempo_map_t *map = tt_tempo_parse_text(cue->map_text, strlen(cue->map_text), pwhy);
    if (!map) { /* the stored map was canonical when written: a bug if this happens */
        tt_diag_error("cue %s: stored map does not parse: %s", req->cue, pwhy);
        send_error(s, m, TT_ERR_STORE, "the coordinator cannot read this cue's map");
        free(online);
        return;
    }
    tt_tempo_countoff_t co;
    int64_t countoff_ns = tt_tempo_countoff(map, from_bar, &co);
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Roll roll = TUTTI__ROLL__INIT;
    roll.cue = req->cue;
    roll.tempo_version = cue->tempo_version;
    roll.from_bar = from_bar;
    roll.start_session_ns = now + (int64_t)lead_ms * 1000000;
    roll.downbeat_session_ns = roll.start_session_ns + countoff_ns;
    roll.start_frame = tt_tempo_ns_to_frame(map, co.c_from - countoff_ns);
    roll.take = tt_session_next_take(&s->state, req->cue);
    roll.punch_in_bar = req->punch_in;
    roll.punch_out_bar = req->punch_out;
    roll.rooms_online = (char **)online;
    roll.n_rooms_online = n_online < 256 ? n_online : 256;
    roll.forced = gate.n > 0;
    roll.not_acked = (char **)gate.rooms;
    roll.n_not_acked = gate.n;
    if (roll.forced)
        tt_diag_warn("roll of %s forced by %s past unacked changes: %s", req->cue, who->name,
                     gate.missing);
    tt_tempo_destroy(&map);
    rec.body_case = TUTTI__RECORD__BODY_ROLL;
    rec.roll = &roll;
    queue_write(s, m, who, &rec);
    free(online);
}

static void on_stop(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__StopRequest *req = m->env->stop;
    int64_t now = tt_time_mono_ns();
    int rc = tt_session_check_stop(&s->state, now, why);
    if (rc == 0 && req->lead_ms > TT_ROLL_MAX_LEAD_MS)
        rc = tt_fail(why, TT_ERR_INVALID, "--lead-ms %u is over %d", req->lead_ms,
                     TT_ROLL_MAX_LEAD_MS);
    if (rc != 0) {
        refuse(s, m, who, "stop", rc, why);
        return;
    }
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Stop stop = TUTTI__STOP__INIT;
    stop.cue = s->state.transport.cue;
    stop.take = s->state.transport.take;
    stop.at_session_ns = now + (int64_t)req->lead_ms * 1000000;
    rec.body_case = TUTTI__RECORD__BODY_STOP;
    rec.stop = &stop;
    queue_write(s, m, who, &rec);
}

static void on_cue_add(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__CueAddRequest *req = m->env->cue_add;
    int rc = tt_session_check_cue_add(&s->state, req->cue, req->title, why);
    if (rc != 0) {
        refuse(s, m, who, "cue add", rc, why);
        return;
    }
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__CueAdd ca = TUTTI__CUE_ADD__INIT;
    ca.cue = req->cue;
    ca.title = req->title;
    rec.body_case = TUTTI__RECORD__BODY_CUE_ADD;
    rec.cue_add = &ca;
    queue_write(s, m, who, &rec);
}

static void on_arm(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__ArmRequest *req = m->env->arm;
    int rc = tt_session_check_arm(&s->state, req->cue, tt_time_mono_ns(), why);
    if (rc != 0) {
        refuse(s, m, who, "arm", rc, why);
        return;
    }
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Arm arm = TUTTI__ARM__INIT;
    arm.cue = req->cue;
    arm.at_session_ns = tt_time_mono_ns();
    rec.body_case = TUTTI__RECORD__BODY_ARM;
    rec.arm = &arm;
    queue_write(s, m, who, &rec);
}

static void on_take_rate(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__TakeRate *req = m->env->take_rate;
    int rc =
        tt_session_check_take_rate(&s->state, req->cue, req->take, req->rating, req->note, why);
    if (rc != 0) {
        refuse(s, m, who, "take rate", rc, why);
        return;
    }
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__TakeRate tr = *req; /* the record has the request's shape */
    tr.base.unknown_fields = NULL;
    tr.base.n_unknown_fields = 0;
    rec.body_case = TUTTI__RECORD__BODY_TAKE_RATE;
    rec.take_rate = &tr;
    queue_write(s, m, who, &rec);
}

static void on_take_note(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__TakeNote *req = m->env->take_note;
    int rc = tt_session_check_take_note(&s->state, req->cue, req->take, req->text, why);
    if (rc != 0) {
        refuse(s, m, who, "take note", rc, why);
        return;
    }
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__TakeNote tn = *req;
    tn.base.unknown_fields = NULL;
    tn.base.n_unknown_fields = 0;
    rec.body_case = TUTTI__RECORD__BODY_TAKE_NOTE;
    rec.take_note = &tn;
    queue_write(s, m, who, &rec);
}

static void on_change(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__Change *req = m->env->change;
    int rc = tt_session_check_change(&s->state, req->cue, req->text, req->bars, req->parts, why);
    if (rc != 0) {
        refuse(s, m, who, "change", rc, why);
        return;
    }
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Change ch = *req; /* the record has the request's shape */
    ch.base.unknown_fields = NULL;
    ch.base.n_unknown_fields = 0;
    rec.body_case = TUTTI__RECORD__BODY_CHANGE;
    rec.change = &ch;
    queue_write(s, m, who, &rec);
}

static void on_ack(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__Ack *req = m->env->ack;
    /* The acking room is the caller: a room can only ack for itself. */
    int rc = tt_session_check_ack(&s->state, req->change, who->name, why);
    if (rc != 0) {
        refuse(s, m, who, "ack", rc, why);
        return;
    }
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Ack ack = TUTTI__ACK__INIT;
    ack.change = req->change;
    rec.body_case = TUTTI__RECORD__BODY_ACK;
    rec.ack = &ack;
    queue_write(s, m, who, &rec);
}

static void on_presence(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__Presence *req = m->env->presence;
    int rc = tt_session_check_presence(&s->state, who->role, who->name, req->room,
                                       is_access_room(s, req->room), req->in, req->n_in, req->out,
                                       req->n_out, why);
    if (rc != 0) {
        refuse(s, m, who, "presence", rc, why);
        return;
    }
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Presence p = *req; /* the record has the request's shape */
    p.base.unknown_fields = NULL;
    p.base.n_unknown_fields = 0;
    rec.body_case = TUTTI__RECORD__BODY_PRESENCE;
    rec.presence = &p;
    queue_write(s, m, who, &rec);
}

static void on_call_event(coord_server_t *s, const tt_wire_msg_t *m, const tt_access_entry_t *who)
{
    char why[TT_WHY_LEN];
    const Tutti__CallEvent *req = m->env->call_event;
    tt_rules_t rules;
    int rc = tt_session_check_call(&s->state, req->action, req->rules_text, &rules, why);
    if (rc != 0) {
        refuse(s, m, who, "call", rc, why);
        return;
    }
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__CallEvent ev = TUTTI__CALL_EVENT__INIT;
    ev.action = req->action;
    if (!strcmp(req->action, "start")) { /* the record names the rules it parsed */
        ev.rules_name = rules.id;
        ev.rules_text = req->rules_text;
    }
    rec.body_case = TUTTI__RECORD__BODY_CALL_EVENT;
    rec.call_event = &ev;
    queue_write(s, m, who, &rec);
}

/* ------------------------------------------------------------ uploads */

/* The upload thread asks whether its caller may offer (or fetch) a file:
 * a room uploads its own takes' files only; operator, contractor and
 * observer fetch any file, a room its own. */
static void on_upload_check(coord_server_t *s, const tt_wire_msg_t *m)
{
    char why[TT_WHY_LEN];
    const Tutti__UploadCheck *c = m->env->upload_check;
    const tt_access_entry_t *who = tt_access_find_key(s->access, c->user_id ? c->user_id : "");
    if (!who) {
        send_error(s, m, TT_ERR_AUTH, "your key is no longer in the access file");
        return;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__UploadCheckReply rep = TUTTI__UPLOAD_CHECK_REPLY__INIT;
    Tutti__Media media;
    rep.name = (char *)who->name;
    rep.role = (char *)tt_role_name(who->role);
    const tt_media_entry_t *e = NULL;
    if (c->media) {
        int rc = who->role == TT_ROLE_ROOM
                     ? tt_media_check_offer(&s->state, c->media, who->name, s->cfg.media_channels,
                                            &e, why)
                     : tt_fail(why, TT_ERR_DENIED, "only a room uploads files (%s is %s)",
                               who->name, tt_role_name(who->role));
        if (rc != 0) {
            refuse(s, m, who, "upload", rc, why);
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
    if (e) {
        tt_media_entry_to_record(e, &media);
        rep.media = &media;
        rep.media_seq = e->seq;
    }
    env.body_case = TUTTI__ENVELOPE__BODY_UPLOAD_CHECK_REPLY;
    env.upload_check_reply = &rep;
    send_reply(s, m, &env);
}

/* A file that arrived and verified becomes a media record by its room
 * (answered after the commit). The same record again gets the first one's
 * seq: the upload thread may ask twice after a crash. */
static void on_upload_media(coord_server_t *s, const tt_wire_msg_t *m)
{
    char why[TT_WHY_LEN];
    const Tutti__Media *req = m->env->media;
    const tt_access_entry_t *who = NULL;
    for (size_t i = 0; i < s->access->count && !who; i++)
        if (s->access->entries[i].role == TT_ROLE_ROOM &&
            !strcmp(s->access->entries[i].name, req->room))
            who = &s->access->entries[i];
    if (!who) {
        send_error(s, m, TT_ERR_DENIED, "the file's room is no longer in the access file");
        return;
    }
    const tt_media_entry_t *have = NULL;
    int rc = tt_media_check_offer(&s->state, req, who->name, s->cfg.media_channels, &have, why);
    if (rc != 0) {
        refuse(s, m, who, "media record", rc, why);
        return;
    }
    if (have) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__WriteReply wr = TUTTI__WRITE_REPLY__INIT;
        wr.seq = have->seq;
        env.body_case = TUTTI__ENVELOPE__BODY_WRITE_REPLY;
        env.write_reply = &wr;
        send_reply(s, m, &env);
        return;
    }
    char file[TT_MEDIA_MAX_FILE + 1];
    tt_media_file_name(req->cue, req->take, req->room, req->input, file, sizeof file);
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Media md = *req; /* the record has the request's shape, named by us */
    md.base.unknown_fields = NULL;
    md.base.n_unknown_fields = 0;
    md.file = file;
    rec.body_case = TUTTI__RECORD__BODY_MEDIA;
    rec.media = &md;
    queue_write(s, m, who, &rec);
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

static void commit_batch(coord_server_t *s)
{
    if (s->batch_len == 0)
        return;
    tt_bytes_t b[BATCH_MAX];
    for (size_t i = 0; i < s->batch_len; i++) {
        b[i].data = s->batch[i].record;
        b[i].len = s->batch[i].record_len;
    }
    char why[TT_WHY_LEN];
    int rc = tt_store_append(s->store, s->batch[0].seq, b, s->batch_len, why);
    if (rc != 0) {
        tt_diag_error("commit of %zu records failed: %s", s->batch_len, why);
        char fold_why[TT_WHY_LEN];
        if (refold(s, fold_why) != 0)
            tt_diag_error("refolding the store after a failed commit: %s", fold_why);
    }
    for (size_t i = 0; i < s->batch_len; i++) {
        pending_t *p = &s->batch[i];
        if (rc == 0) {
            Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
            Tutti__WriteReply wr = TUTTI__WRITE_REPLY__INIT;
            wr.seq = p->seq;
            env.request_id = p->request_id;
            env.body_case = TUTTI__ENVELOPE__BODY_WRITE_REPLY;
            env.write_reply = &wr;
            char swhy[TT_WHY_LEN];
            if (tt_wire_send(reply_socket(s, p->rid_len), p->rid_len ? p->rid : NULL, p->rid_len,
                             &env, swhy) != 0)
                tt_diag_warn("write %llu committed but its reply was lost: %s",
                             (unsigned long long)p->seq, swhy);
        } else {
            tt_wire_send_error(reply_socket(s, p->rid_len), p->rid_len ? p->rid : NULL, p->rid_len,
                               p->request_id, TT_ERR_STORE,
                               "the coordinator could not commit this write; nothing changed");
        }
    }
    if (rc == 0)
        for (size_t i = 0; i < s->batch_len; i++)
            publish(s, s->batch[i].seq, s->batch[i].record, s->batch[i].record_len);
    for (size_t i = 0; i < s->batch_len; i++)
        free(s->batch[i].record);
    s->batch_len = 0;
}

/* ------------------------------------------------------------ dispatch */

static void handle_request(coord_server_t *s, const tt_wire_msg_t *m)
{
    char why[TT_WHY_LEN];
    const tt_access_entry_t *who = tt_access_find_key(s->access, m->user_id);
    if (!who) {
        /* Admitted at the handshake, removed since by a reload. */
        send_error(s, m, TT_ERR_AUTH, "your key is no longer in the access file");
        return;
    }
    tt_request_t kind;
    switch (m->env->body_case) {
    case TUTTI__ENVELOPE__BODY_HELLO: kind = TT_REQ_HELLO; break;
    case TUTTI__ENVELOPE__BODY_HEARTBEAT: kind = TT_REQ_HEARTBEAT; break;
    case TUTTI__ENVELOPE__BODY_STATUS: kind = TT_REQ_STATUS; break;
    case TUTTI__ENVELOPE__BODY_FETCH: kind = TT_REQ_FETCH; break;
    case TUTTI__ENVELOPE__BODY_NOTE: kind = TT_REQ_NOTE; break;
    case TUTTI__ENVELOPE__BODY_TRIM: kind = TT_REQ_TRIM; break;
    case TUTTI__ENVELOPE__BODY_TEMPO_LOAD: kind = TT_REQ_TEMPO_LOAD; break;
    case TUTTI__ENVELOPE__BODY_ROLL: kind = TT_REQ_ROLL; break;
    case TUTTI__ENVELOPE__BODY_STOP: kind = TT_REQ_STOP; break;
    case TUTTI__ENVELOPE__BODY_CUE_ADD: kind = TT_REQ_CUE_ADD; break;
    case TUTTI__ENVELOPE__BODY_ARM: kind = TT_REQ_ARM; break;
    case TUTTI__ENVELOPE__BODY_TAKE_RATE: kind = TT_REQ_TAKE_RATE; break;
    case TUTTI__ENVELOPE__BODY_TAKE_NOTE: kind = TT_REQ_TAKE_NOTE; break;
    case TUTTI__ENVELOPE__BODY_CHANGE: kind = TT_REQ_CHANGE; break;
    case TUTTI__ENVELOPE__BODY_ACK: kind = TT_REQ_ACK; break;
    case TUTTI__ENVELOPE__BODY_PRESENCE: kind = TT_REQ_PRESENCE; break;
    case TUTTI__ENVELOPE__BODY_CALL_EVENT: kind = TT_REQ_CALL; break;
    default:
        tt_diag_warn("unsupported message %d from %s", (int)m->env->body_case, who->name);
        send_error(s, m, TT_ERR_PROTOCOL, "unsupported request");
        return;
    }
    int rc = tt_session_may(who->role, kind, why);
    if (rc != 0) {
        tt_diag_warn("refused request from %s: %s", who->name, why);
        send_error(s, m, rc, why);
        return;
    }
    switch (kind) {
    case TT_REQ_HELLO: on_hello(s, m, who); break;
    case TT_REQ_HEARTBEAT: on_heartbeat(s, m, who); break;
    case TT_REQ_STATUS: on_status(s, m); break;
    case TT_REQ_FETCH: on_fetch(s, m); break;
    case TT_REQ_NOTE: on_note(s, m, who); break;
    case TT_REQ_TRIM: on_trim(s, m, who); break;
    case TT_REQ_TEMPO_LOAD: on_tempo_load(s, m, who); break;
    case TT_REQ_ROLL: on_roll(s, m, who); break;
    case TT_REQ_STOP: on_stop(s, m, who); break;
    case TT_REQ_CUE_ADD: on_cue_add(s, m, who); break;
    case TT_REQ_ARM: on_arm(s, m, who); break;
    case TT_REQ_TAKE_RATE: on_take_rate(s, m, who); break;
    case TT_REQ_TAKE_NOTE: on_take_note(s, m, who); break;
    case TT_REQ_CHANGE: on_change(s, m, who); break;
    case TT_REQ_ACK: on_ack(s, m, who); break;
    case TT_REQ_PRESENCE: on_presence(s, m, who); break;
    case TT_REQ_CALL: on_call_event(s, m, who); break;
    }
}

static void drain_router(coord_server_t *s)
{
    for (int n = 0; n < BATCH_MAX && s->batch_len < BATCH_MAX; n++) {
        tt_wire_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_wire_recv(s->router, 1, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_AGAIN)
            break; /* nothing more to read */
        if (rc == TT_ERR_IO) {
            tt_diag_error("request socket: %s", why);
            break;
        }
        if (rc != 0) {
            tt_diag_warn("malformed message from %s: %s", m.user_id[0] ? m.user_id : "?", why);
            if (m.routing_id_len)
                send_error(s, &m, rc, why);
            tt_wire_msg_clear(&m);
            continue;
        }
        handle_request(s, &m);
        tt_wire_msg_clear(&m);
    }
    commit_batch(s);
}

static void drain_upload(coord_server_t *s)
{
    void *pipe = coord_upload_pipe(s->upload);
    for (int n = 0; n < BATCH_MAX && s->batch_len < BATCH_MAX; n++) {
        tt_wire_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_wire_recv(pipe, 0, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_AGAIN)
            break;
        if (rc == TT_ERR_IO) {
            tt_diag_error("upload pipe: %s", why);
            break;
        }
        if (rc != 0)
            tt_diag_error("upload pipe: %s", why);
        else if (m.env->body_case == TUTTI__ENVELOPE__BODY_UPLOAD_CHECK)
            on_upload_check(s, &m);
        else if (m.env->body_case == TUTTI__ENVELOPE__BODY_MEDIA)
            on_upload_media(s, &m);
        else
            send_error(s, &m, TT_ERR_PROTOCOL, "not an upload pipe request");
        tt_wire_msg_clear(&m);
    }
    commit_batch(s);
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
    char tmp[4096], dir[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return tt_fail(why, TT_ERR_IO, "writing %s: %s", tmp, strerror(errno));
    int ok = fprintf(f, "%s\n%s\n%s\n", request, updates, clock) > 0 && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        return tt_fail(why, TT_ERR_IO, "writing %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return tt_fail(why, TT_ERR_IO, "renaming %s to %s: %s", tmp, path, strerror(e));
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir] = '\0'; /* "/file" -> "/" */
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fsync(fd) != 0) {
        e = errno;
        if (fd >= 0)
            close(fd);
        return tt_fail(why, TT_ERR_IO, "syncing directory %s after writing %s: %s", dir, path,
                       strerror(e));
    }
    close(fd);
    return 0;
}

static void *bind_server_socket(coord_server_t *s, int type, const char *ep, char *why)
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
    int hwm = PUB_HWM, mandatory = 1;
    if ((type == ZMQ_PUB && zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0) ||
        (type == ZMQ_ROUTER &&
         zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory) != 0)) {
        tt_fail(why, TT_ERR_IO, "setting %s options for %s: %s",
                type == ZMQ_PUB ? "PUB high-water mark" : "ROUTER mandatory routing", ep,
                zmq_strerror(errno));
        zmq_close(sock);
        return NULL;
    }
    if (zmq_bind(sock, ep) != 0) {
        tt_fail(why, TT_ERR_IO, "binding %s: %s", ep, zmq_strerror(errno));
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
    char sub[TT_WHY_LEN];
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
    if (!(s->signer = tt_signer_load_or_create(cfg->data_dir, why)))
        goto fail;
    if (refold(s, sub) != 0) {
        tt_fail(why, TT_ERR_CORRUPT,
                "the log in %s does not verify with %s/signing.key: %s (run tutti verify)",
                cfg->data_dir, cfg->data_dir, sub);
        goto fail;
    }
    if (s->state.last_seq == 0 && write_genesis(s, why) != 0)
        goto fail;
    if (close_interrupted_take(s, why) != 0)
        goto fail;
    randombytes_buf(&s->epoch, sizeof s->epoch);

    s->ctx = zmq_ctx_new();
    if (!s->ctx) {
        tt_fail(why, TT_ERR_IO, "creating the ZeroMQ context: %s", zmq_strerror(errno));
        goto fail;
    }
    /* ZAP first: a CURVE socket bound before it would admit every key. */
    if (!(s->zap = coord_zap_bind(s->ctx, why)))
        goto fail;
    if (!(s->router = bind_server_socket(s, ZMQ_ROUTER, cfg->bind, why)))
        goto fail;
    char bound[256];
    size_t bsz = sizeof bound;
    if (zmq_getsockopt(s->router, ZMQ_LAST_ENDPOINT, bound, &bsz) != 0) {
        tt_fail(why, TT_ERR_IO, "reading the endpoint bound for %s: %s", cfg->bind,
                zmq_strerror(errno));
        goto fail;
    }
    char any_port[256] = "", pub_ep[256], clock_ep[256];
    if (tt_wire_endpoint_with_port(bound, 0, any_port, sizeof any_port) == 0)
        any_port[strlen(any_port) - 1] = '*'; /* same host, any free port */
    snprintf(pub_ep, sizeof pub_ep, "%s", cfg->pub_bind ? cfg->pub_bind : any_port);
    if (!(s->pub = bind_server_socket(s, ZMQ_PUB, pub_ep, why)))
        goto fail;
    if (!(s->updates_port = tt_wire_bound_port(s->pub))) {
        tt_fail(why, TT_ERR_IO, "reading the port the updates socket bound (%s)", pub_ep);
        goto fail;
    }
    snprintf(clock_ep, sizeof clock_ep, "%s", cfg->clock_bind ? cfg->clock_bind : any_port);
    if (!(s->clock = coord_clock_start(s->ctx, s->keys, clock_ep, s->epoch, why)))
        goto fail;
    char upload_ep[256];
    snprintf(upload_ep, sizeof upload_ep, "%s", cfg->upload_bind ? cfg->upload_bind : any_port);
    coord_upload_config_t ucfg = {s->ctx, s->keys, upload_ep, cfg->data_dir};
    if (!(s->upload = coord_upload_start(&ucfg, why)))
        goto fail;
    tt_diag_info("media uploads on port %u, files in %s/media", coord_upload_port(s->upload),
                 cfg->data_dir);
    if (cfg->endpoint_file) {
        char up[256], ck[256];
        tt_wire_endpoint_with_port(bound, s->updates_port, up, sizeof up);
        tt_wire_endpoint_with_port(bound, coord_clock_port(s->clock), ck, sizeof ck);
        if (write_endpoint_file(cfg->endpoint_file, bound, up, ck, why) != 0)
            goto fail;
    }
    char hash_hex[2 * TT_HASH_LEN + 1];
    sodium_bin2hex(hash_hex, sizeof hash_hex, s->state.head_hash, TT_HASH_LEN);
    tt_diag_info("serving %s (updates on port %u, clock on port %u), key %s, log at %llu, "
                 "head %.16s…",
                 bound, s->updates_port, coord_clock_port(s->clock), s->keys->public_z85,
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
    coord_upload_stop(&s->upload);
    coord_clock_stop(&s->clock);
    tt_session_clear(&s->state);
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
    free(s->rooms);
    free(s);
    *self_p = NULL;
}

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
    tt_access_destroy(&old);
    tt_diag_info("SIGHUP: access file reloaded, %zu keys", s->access->count);
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
        zmq_pollitem_t items[3] = {{s->zap, 0, ZMQ_POLLIN, 0},
                                   {s->router, 0, ZMQ_POLLIN, 0},
                                   {coord_upload_pipe(s->upload), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 3, timeout_ms) < 0) {
            if (errno == EINTR)
                continue;
            return tt_fail(why, TT_ERR_IO, "polling: %s", zmq_strerror(errno));
        }
        if (items[0].revents & ZMQ_POLLIN)
            coord_zap_handle(s->zap, s->access);
        if (items[1].revents & ZMQ_POLLIN)
            drain_router(s);
        if (items[2].revents & ZMQ_POLLIN)
            drain_upload(s);
    }
    return 0;
}
