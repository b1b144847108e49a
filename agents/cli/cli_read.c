/* cli_read: see cli_read.h. The session is fetched whole and folded with
 * the same function every agent uses (tt_session), so the CLI's view is
 * the agents' view; history prints the records themselves. */
#define _POSIX_C_SOURCE 200809L
#include "cli_read.h"
#include "cli_conn.h"
#include "tt_bundle.h"
#include "tt_chain.h"
#include "tt_csv.h"
#include "tt_error.h"
#include "tt_media.h"
#include "tt_record_json.h"
#include "tt_replica.h"
#include "tt_report.h"
#include "tt_session.h"
#include "tt_tempo.h"
#include "tt_text.h"
#include "tt_time.h"
#include "tt_timecode.h"
#include "tt_tz.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* A room's prelays and guides: {"wanted": 3, "held": 2, "missing": [...]} */
static json_t *prelays_json(const Tutti__RoomStatus *r)
{
    json_t *missing = json_array();
    for (size_t k = 0; k < r->n_prelays_missing; k++)
        json_array_append_new(missing, json_string(r->prelays_missing[k]));
    return json_pack("{s:I, s:I, s:o}", "wanted", (json_int_t)r->prelays_wanted, "held",
                     (json_int_t)r->prelays_held, "missing", missing);
}

/* " prelays 2/3 (missing 1M1_prelay_strings.wav)", when the room wants any. */
static void print_prelays(const Tutti__RoomStatus *r)
{
    if (!r->prelays_wanted)
        return;
    printf(" prelays %u/%u", r->prelays_held, r->prelays_wanted);
    for (size_t k = 0; k < r->n_prelays_missing; k++)
        printf("%s%s", k ? ", " : " (missing ", r->prelays_missing[k]);
    if (r->n_prelays_missing)
        printf("%s)", r->prelays_held + r->n_prelays_missing < r->prelays_wanted ? ", ..." : "");
}

static void put_stdout(void *arg, const char *bytes, size_t n)
{
    (void)arg;
    fwrite(bytes, 1, n, stdout);
}

void cli_csv_field(const char *v, int last)
{
    if (v)
        tt_csv_cell(v, strlen(v), put_stdout, NULL);
    putchar(last ? '\n' : ',');
}

int cli_read_fold_each(cli_conn_t *s, tt_session_t *st, cli_record_fn each, void *arg)
{
    tt_session_init(st);
    for (;;) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__FetchRequest fr = TUTTI__FETCH_REQUEST__INIT;
        fr.from_seq = st->last_seq + 1;
        env.body_case = TUTTI__ENVELOPE__BODY_FETCH;
        env.fetch = &fr;
        Tutti__Envelope *reply = NULL;
        int rc = cli_request(s, &env, &reply, TUTTI__ENVELOPE__BODY_FETCH_REPLY);
        if (rc != 0)
            return rc;
        const Tutti__FetchReply *rep = reply->fetch_reply;
        size_t got = rep->n_records;
        for (size_t i = 0; i < got && rc == 0; i++) {
            uint8_t hash[TT_HASH_LEN];
            Tutti__Record *rec = NULL;
            char why[TT_WHY_LEN];
            /* Signed with the genesis key or one a Signer record named:
             * the fold keeps that set. */
            tt_chain_keys_t keys = st->signers;
            if (keys.n == 0)
                tt_chain_keys_init(&keys, st->signing_pk);
            rc = tt_chain_check_keys(rep->records[i].data, rep->records[i].len, st->last_seq + 1,
                                     st->head_hash, &keys, hash, &rec, why);
            if (rc == 0)
                rc = tt_session_apply(st, rec, hash, why);
            if (rc == 0 && each)
                each(arg, rec);
            if (rc != 0)
                fprintf(stderr, "tutti: record %llu: %s\n", (unsigned long long)st->last_seq + 1,
                        why);
            if (rec)
                tutti__record__free_unpacked(rec, NULL);
        }
        uint64_t head = rep->last_seq;
        tutti__envelope__free_unpacked(reply, NULL);
        if (rc != 0)
            return 1;
        if (got == 0 || st->last_seq >= head)
            return 0;
    }
}

static int fetch_fold(cli_conn_t *s, tt_session_t *st)
{
    return cli_read_fold_each(s, st, NULL, NULL);
}

const char *cli_take_state_name(tt_take_state_t t)
{
    return t == TT_TAKE_OPEN ? "open" : t == TT_TAKE_DONE ? "done" : "interrupted";
}

int cli_read_cue_list(const tt_conn_opts_t *o, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "list") != 0 || argc > 3 ||
        (argc == 3 && strcmp(argv[2], "--json") != 0)) {
        fprintf(stderr, "usage: tutti cue add CUE [--title T] | tutti cue list [--json]\n");
        return EXIT_USAGE;
    }
    int as_json = argc == 3;
    cli_conn_t s;
    tt_session_t st;
    int rc = cli_conn_open(o, &s);
    if (rc == 0)
        rc = fetch_fold(&s, &st);
    if (rc == 0) {
        for (size_t i = 0; i < st.n_cues; i++) {
            const tt_session_cue_t *c = &st.cues[i];
            const tt_session_take_t *last = c->n_takes ? &c->takes[c->n_takes - 1] : NULL;
            if (as_json) {
                json_t *j =
                    json_pack("{s:s, s:s, s:i, s:i}", "cue", c->name, "title", c->title,
                              "tempo_version", (int)c->tempo_version, "takes", (int)c->n_takes);
                if (last)
                    json_object_set_new(j, "last_take",
                                        json_pack("{s:i, s:s}", "take", (int)last->number, "state",
                                                  cli_take_state_name(last->state)));
                cli_print_json_line(j);
                json_decref(j);
            } else {
                printf("%-10s %-30s map v%u  %zu takes", c->name, c->title, c->tempo_version,
                       c->n_takes);
                if (last)
                    printf(" (last: %u, %s)", last->number, cli_take_state_name(last->state));
                putchar('\n');
            }
        }
        tt_session_clear(&st);
    }
    cli_conn_close(&s);
    return rc;
}

int cli_read_cue_map(const tt_conn_opts_t *o, const char *cue, char **text, unsigned *version)
{
    cli_conn_t s;
    tt_session_t st;
    *text = NULL;
    int rc = cli_conn_open(o, &s);
    if (rc == 0)
        rc = fetch_fold(&s, &st);
    if (rc == 0) {
        const tt_session_cue_t *c = tt_session_find_cue(&st, cue);
        if (!c) {
            fprintf(stderr, "tutti: no cue %s (see tutti cue list)\n", cue);
            rc = 1;
        } else if (!c->map_text || !c->map_text[0]) {
            fprintf(stderr, "tutti: cue %s has no tempo map yet (tutti tempo load %s FILE)\n", cue,
                    cue);
            rc = 1;
        } else if (!(*text = strdup(c->map_text))) {
            fprintf(stderr, "tutti: out of memory\n");
            rc = 1;
        } else if (version) {
            *version = c->tempo_version;
        }
        tt_session_clear(&st);
    }
    cli_conn_close(&s);
    return rc;
}

int cli_read_report(const tt_conn_opts_t *o, int argc, char **argv)
{
    int as_csv = 0;
    const char *zone = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv")) {
            as_csv = 1;
        } else if (!strcmp(argv[i], "--tz") && i + 1 < argc) {
            zone = argv[++i];
        } else {
            fprintf(stderr, "usage: tutti report [--csv] [--tz ZONE]\n");
            return EXIT_USAGE;
        }
    }
    char why[TT_WHY_LEN];
    if (tt_tz_set(zone, why) != 0) {
        fprintf(stderr, "tutti report: --tz: %s\n", why);
        return EXIT_USAGE;
    }
    cli_conn_t s;
    tt_session_t st;
    int rc = cli_conn_open(o, &s);
    if (rc == 0)
        rc = fetch_fold(&s, &st);
    if (rc == 0) {
        char *out = NULL;
        size_t len = 0;
        int64_t now = tt_time_wall_ns();
        if ((as_csv ? tt_report_csv(&st, now, &out, &len, why)
                    : tt_report_text(&st, now, &out, &len, why)) != 0) {
            fprintf(stderr, "tutti report: %s\n", why);
            rc = 1;
        } else {
            if (why[0]) /* records left out of the report: say so, draw the rest */
                fprintf(stderr, "tutti report: %s\n", why);
            if (fwrite(out, 1, len, stdout) != len)
                rc = 1;
        }
        free(out);
    }
    if (rc == 0 || s.client)
        tt_session_clear(&st);
    cli_conn_close(&s);
    return rc;
}

/* A room's conflict and store fault as JSON (null when it has none). */
static json_t *conflict_json(const Tutti__ReplicaConflict *c)
{
    if (!c)
        return json_null();
    return json_pack("{s:s, s:I, s:I, s:I, s:I}", "kind", tt_replica_conflict_name(c->kind),
                     "replica_seq", (json_int_t)c->replica_seq, "coordinator_seq",
                     (json_int_t)c->coordinator_seq, "conflict_seq", (json_int_t)c->conflict_seq,
                     "for_ms", (json_int_t)c->for_ms);
}

static json_t *store_fault_json(const Tutti__StoreFault *f)
{
    if (!f)
        return json_null();
    json_t *text = json_string(f->text);
    return json_pack("{s:s, s:o, s:I}", "cause", tt_replica_store_fault_name(f->cause), "text",
                     text ? text : json_string("?"), "for_ms", (json_int_t)f->for_ms);
}

/* The same in words, at the end of the room's line: what is wrong, what
 * it means and what to do. */
static void print_room_conditions(const Tutti__RoomStatus *r)
{
    const Tutti__ReplicaConflict *c = r->conflict;
    if (c && c->kind == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_AHEAD)
        printf("  REPLICA AHEAD of the coordinator (replica %llu, coordinator %llu, for %llds: "
               "was the coordinator's store restored from a backup?)",
               (unsigned long long)c->replica_seq, (unsigned long long)c->coordinator_seq,
               (long long)(c->for_ms / 1000));
    else if (c && c->kind == TUTTI__REPLICA_CONFLICT_KIND__REPLICA_CONFLICT_DIVERGED)
        printf("  REPLICA DIVERGED from the coordinator (replica %llu, coordinator %llu, "
               "different records at %llu, for %llds: the coordinator's store was restored from "
               "a backup and written to since; the room takes nothing more from it)",
               (unsigned long long)c->replica_seq, (unsigned long long)c->coordinator_seq,
               (unsigned long long)c->conflict_seq, (long long)(c->for_ms / 1000));
    else if (c)
        printf("  REPLICA CONFLICT %d (replica %llu, coordinator %llu)", (int)c->kind,
               (unsigned long long)c->replica_seq, (unsigned long long)c->coordinator_seq);
    const Tutti__StoreFault *f = r->store_fault;
    if (f && f->cause == TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_MAP_FULL)
        printf("  STORE FULL: raise --map-size-mb (for %llds)", (long long)(f->for_ms / 1000));
    else if (f && f->cause == TUTTI__STORE_FAULT_CAUSE__STORE_FAULT_DISK_FULL)
        printf("  DISK FULL: free space on the agent's disk (for %llds)",
               (long long)(f->for_ms / 1000));
    else if (f)
        printf("  STORE WRITE FAILED: %s (for %llds)", f->text, (long long)(f->for_ms / 1000));
}

/* Asked unsealed, straight of the relay (its key is the CURVE server's):
 * the relay answers it itself. */
int cli_read_relay_status(const tt_conn_opts_t *o, int argc, char **argv)
{
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else {
            fprintf(stderr, "usage: tutti relay-status --relay EP --relay-key FILE [--json]\n");
            return EXIT_USAGE;
        }
    }
    tt_conn_opts_t co = *o;
    if (tt_conn_opts_resolve(&co) != 0 || !co.relay) {
        fprintf(stderr, "tutti: relay-status needs --relay, --relay-key and --key\n");
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN], relay_key[TT_Z85_KEY_LEN + 1];
    if (tt_pubkey_load(co.relay_key_path, relay_key, why) != 0) {
        fprintf(stderr, "tutti: --relay-key: %s\n", why);
        return 1;
    }
    tt_conn_t tc; /* --key, or the bundle's */
    if (tt_conn_load(&co, &tc, NULL, why) != 0) {
        fprintf(stderr, "tutti: %s\n", why);
        tt_conn_clear(&tc);
        return 1;
    }
    tt_keypair_t *keys = tc.keys;
    tc.keys = NULL;
    tt_conn_clear(&tc);
    void *ctx = zmq_ctx_new();
    tt_client_t *c = tt_client_new(ctx, co.relay, relay_key, keys, 0, why);
    Tutti__Envelope *reply = NULL;
    int rc = c ? 0 : TT_ERR_IO;
    if (rc == 0) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__StatusRequest sr = TUTTI__STATUS_REQUEST__INIT;
        env.body_case = TUTTI__ENVELOPE__BODY_STATUS;
        env.status = &sr;
        rc = tt_client_request(c, &env, &reply, (int)co.timeout_ms, why);
        if (rc == 0 && reply->body_case != TUTTI__ENVELOPE__BODY_RELAY_STATUS)
            rc = tt_fail(why, TT_ERR_PROTOCOL, "%s answered, but not as a relay", co.relay);
    }
    if (rc == 0) {
        const Tutti__RelayStatus *st = reply->relay_status;
        if (as_json) {
            json_t *j = json_pack("{s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "name", st->name,
                                  "upstream_connected", (int)st->upstream_connected, "coordinator",
                                  st->coordinator, "subscribers", (json_int_t)st->subscribers,
                                  "requests_passed", (json_int_t)st->requests_passed,
                                  "requests_refused", (json_int_t)st->requests_refused, "last_seq",
                                  (json_int_t)st->last_seq, "clock_error_ns",
                                  (json_int_t)st->clock_error_ns, "clock_state", st->clock_state);
            char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
            if (text)
                printf("%s\n", text);
            free(text);
            json_decref(j);
        } else {
            printf("relay %s: upstream %s (%s), %u subscribers, %llu requests passed, %llu "
                   "refused, head %llu, clock %s (bound %.1f us)\n",
                   st->name, st->upstream_connected ? "connected" : "down", st->coordinator,
                   st->subscribers, (unsigned long long)st->requests_passed,
                   (unsigned long long)st->requests_refused, (unsigned long long)st->last_seq,
                   st->clock_state[0] ? st->clock_state : "none",
                   (double)st->clock_error_ns / 1000.0);
        }
    } else {
        fprintf(stderr, "tutti: relay-status: %s\n", why);
    }
    if (reply)
        tutti__envelope__free_unpacked(reply, NULL);
    tt_client_destroy(&c);
    zmq_ctx_term(ctx);
    tt_keypair_destroy(&keys);
    return rc == 0 ? 0 : cli_exit_for(rc);
}

int cli_read_status(const tt_conn_opts_t *o, int argc, char **argv)
{
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else {
            fprintf(stderr, "usage: tutti status [--json]\n");
            return EXIT_USAGE;
        }
    }
    cli_conn_t s;
    int rc = cli_conn_open(o, &s);
    Tutti__Envelope *reply = NULL;
    if (rc == 0) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__StatusRequest sr = TUTTI__STATUS_REQUEST__INIT;
        env.body_case = TUTTI__ENVELOPE__BODY_STATUS;
        env.status = &sr;
        rc = cli_request(&s, &env, &reply, TUTTI__ENVELOPE__BODY_STATUS_REPLY);
    }
    if (rc == 0) {
        const Tutti__StatusReply *st = reply->status_reply;
        char hash[2 * TT_HASH_LEN + 1] = "";
        if (st->head_hash.len == TT_HASH_LEN)
            tt_hex_encode(st->head_hash.data, TT_HASH_LEN, hash);
        if (as_json) {
            json_t *o2 = json_object();
            json_object_set_new(o2, "session", json_string(st->session_name));
            json_object_set_new(o2, "last_seq", json_integer((json_int_t)st->last_seq));
            json_object_set_new(o2, "head_hash", json_string(hash));
            if (st->standby) /* README "Standby coordinator" */
                json_object_set_new(o2, "standby",
                                    json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "role",
                                              st->standby->role, "state", st->standby->state,
                                              "peer", st->standby->peer, "peer_endpoint",
                                              st->standby->peer_endpoint, "peer_seq",
                                              (json_int_t)st->standby->peer_seq, "peer_seen_ms_ago",
                                              (json_int_t)st->standby->peer_seen_ms_ago));
            json_object_set_new(o2, "transport",
                                json_pack("{s:s, s:s, s:i}", "state", st->transport, "cue", st->cue,
                                          "take", (int)st->take));
            json_t *rooms = json_array();
            for (size_t i = 0; i < st->n_rooms; i++) {
                const Tutti__RoomStatus *r = st->rooms[i];
                json_t *ro = json_object();
                json_object_set_new(ro, "name", json_string(r->name));
                json_object_set_new(ro, "online", json_boolean(r->online));
                json_object_set_new(ro, "last_seq", json_integer((json_int_t)r->last_seq));
                json_object_set_new(ro, "last_seen_ms_ago",
                                    json_integer((json_int_t)r->last_seen_ms_ago));
                json_t *pl = json_array();
                for (size_t k = 0; k < r->n_players; k++)
                    json_array_append_new(pl, json_string(r->players[k]));
                json_object_set_new(ro, "players", pl);
                if (r->clock) {
                    json_t *co = json_object();
                    json_object_set_new(co, "state", json_string(r->clock->state));
                    json_object_set_new(co, "offset_us", json_real(r->clock->offset_us));
                    json_object_set_new(co, "drift_ppm", json_real(r->clock->drift_ppm));
                    json_object_set_new(co, "rtt_us", json_real(r->clock->rtt_us));
                    json_object_set_new(co, "error_bound_us",
                                        r->clock->error_bound_us < 0
                                            ? json_null()
                                            : json_real(r->clock->error_bound_us));
                    json_object_set_new(co, "trim_us", json_real(r->clock->trim_us));
                    json_object_set_new(ro, "clock", co);
                }
                json_object_set_new(ro, "conflict", conflict_json(r->conflict));
                json_object_set_new(ro, "store_fault", store_fault_json(r->store_fault));
                json_object_set_new(ro, "prelays", prelays_json(r));
                json_array_append_new(rooms, ro);
            }
            json_object_set_new(o2, "rooms", rooms);
            json_t *changes = json_array();
            for (size_t i = 0; i < st->n_changes; i++) {
                const Tutti__ChangeStatus *c = st->changes[i];
                json_t *acked = json_array(), *missing = json_array();
                for (size_t k = 0; k < c->n_acked; k++)
                    json_array_append_new(acked, json_string(c->acked[k]));
                for (size_t k = 0; k < c->n_not_acked; k++)
                    json_array_append_new(missing, json_string(c->not_acked[k]));
                json_array_append_new(changes,
                                      json_pack("{s:I, s:s, s:s, s:o, s:o}", "id",
                                                (json_int_t)c->id, "cue", c->cue, "text", c->text,
                                                "acked", acked, "not_acked", missing));
            }
            json_object_set_new(o2, "open_changes", changes);
            cli_print_json_line(o2);
            json_decref(o2);
        } else {
            printf("session %s: log at %llu, head %.16s\n", st->session_name,
                   (unsigned long long)st->last_seq, hash);
            printf("  transport %s%s%s", st->transport, st->cue[0] ? " " : "", st->cue);
            if (st->take)
                printf(" (take %u)", st->take);
            putchar('\n');
            for (size_t i = 0; i < st->n_rooms; i++) {
                const Tutti__RoomStatus *r = st->rooms[i];
                printf("  room %-20s %-8s replica at %-8llu", r->name,
                       r->online ? "online" : "offline", (unsigned long long)r->last_seq);
                if (r->clock && r->clock->error_bound_us >= 0)
                    printf(" clock %-9s offset %+.1f us, drift %+.2f ppm, rtt %.0f us, "
                           "bound %.1f us",
                           r->clock->state, r->clock->offset_us, r->clock->drift_ppm,
                           r->clock->rtt_us, r->clock->error_bound_us);
                else if (r->clock)
                    printf(" clock %s", r->clock->state);
                print_room_conditions(r);
                print_prelays(r);
                putchar('\n');
            }
        }
        tutti__envelope__free_unpacked(reply, NULL);
    }
    cli_conn_close(&s);
    return rc;
}

static void print_record(const Tutti__Record *rec, const uint8_t *hash, int as_json)
{
    if (as_json) {
        json_t *o = tt_record_json(rec, hash);
        cli_print_json_line(o);
        json_decref(o);
        return;
    }
    char at[40];
    tt_time_iso8601(rec->at_unix_ns, at, sizeof at);
    printf("%6llu  %s  %-14s %-8s", (unsigned long long)rec->seq, at, rec->actor,
           tt_chain_kind(rec));
    char summary[TT_NOTE_MAX_TEXT + 64]; /* a whole note */
    tt_record_summary(rec, summary, sizeof summary);
    if (summary[0])
        printf("  %s", summary);
    putchar('\n');
}

typedef struct {
    const char *cue, *room, *kind;
} history_filter_t;

/* Filters read the record's JSON form, so they name the fields people see. */
static int history_keeps(const history_filter_t *f, json_t *o)
{
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const char *cue = json_string_value(json_object_get(o, "cue"));
    const char *actor = json_string_value(json_object_get(o, "actor"));
    const char *room = json_string_value(json_object_get(o, "room"));
    if (f->kind && (!kind || strcmp(f->kind, kind) != 0))
        return 0;
    if (f->cue && (!cue || strcmp(f->cue, cue) != 0))
        return 0;
    if (f->room && !((actor && !strcmp(f->room, actor)) || (room && !strcmp(f->room, room))))
        return 0;
    return 1;
}

static void print_csv(json_t *o)
{
    char seq[32], take[32] = "";
    snprintf(seq, sizeof seq, "%lld", (long long)json_integer_value(json_object_get(o, "seq")));
    if (json_object_get(o, "take"))
        snprintf(take, sizeof take, "%lld",
                 (long long)json_integer_value(json_object_get(o, "take")));
    json_t *rest = json_deep_copy(o);
    const char *drop[] = {"seq", "at",   "kind", "actor",      "role",
                          "cue", "take", "hash", "at_unix_ns", "idempotency_key"};
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        json_object_del(rest, drop[i]);
    char *details = json_dumps(rest, JSON_COMPACT | JSON_SORT_KEYS);
    cli_csv_field(seq, 0);
    cli_csv_field(json_string_value(json_object_get(o, "at")), 0);
    cli_csv_field(json_string_value(json_object_get(o, "kind")), 0);
    cli_csv_field(json_string_value(json_object_get(o, "actor")), 0);
    cli_csv_field(json_string_value(json_object_get(o, "cue")), 0);
    cli_csv_field(take, 0);
    cli_csv_field(details, 1);
    free(details);
    json_decref(rest);
}

int cli_read_history(const tt_conn_opts_t *o, int argc, char **argv)
{
    int as_json = 0, as_csv = 0;
    long since = 0;
    history_filter_t filter = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (strcmp(argv[i], "--csv") == 0)
            as_csv = 1;
        else if (strcmp(argv[i], "--cue") == 0 && i + 1 < argc)
            filter.cue = argv[++i];
        else if (strcmp(argv[i], "--room") == 0 && i + 1 < argc)
            filter.room = argv[++i];
        else if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc)
            filter.kind = argv[++i];
        else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            if (tt_opts_parse_long(argv[++i], 0, __LONG_MAX__, &since) != 0) {
                fprintf(stderr, "tutti history: --since wants a sequence number\n");
                return EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "usage: tutti history [--json|--csv] [--since SEQ] [--cue CUE] "
                            "[--room ROOM] [--kind KIND]\n");
            return EXIT_USAGE;
        }
    }
    int filtered = filter.cue || filter.room || filter.kind;
    cli_conn_t s;
    int rc = cli_conn_open(o, &s);
    if (rc == 0 && as_csv)
        printf("seq,at,kind,actor,cue,take,details\n");
    uint64_t next = (uint64_t)since + 1, until = 0;
    while (rc == 0) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__FetchRequest fr = TUTTI__FETCH_REQUEST__INIT;
        fr.from_seq = next;
        env.body_case = TUTTI__ENVELOPE__BODY_FETCH;
        env.fetch = &fr;
        Tutti__Envelope *reply = NULL;
        rc = cli_request(&s, &env, &reply, TUTTI__ENVELOPE__BODY_FETCH_REPLY);
        if (rc != 0)
            break;
        const Tutti__FetchReply *rep = reply->fetch_reply;
        if (until == 0)
            until = rep->last_seq; /* a snapshot: stop at the head seen first */
        for (size_t i = 0; i < rep->n_records && rc == 0; i++) {
            Tutti__SignedRecord *sr =
                tutti__signed_record__unpack(NULL, rep->records[i].len, rep->records[i].data);
            Tutti__Record *rec =
                sr ? tutti__record__unpack(NULL, sr->record.len, sr->record.data) : NULL;
            if (!rec || rec->seq != next) {
                fprintf(stderr, "tutti history: record %llu from the coordinator is malformed\n",
                        (unsigned long long)next);
                rc = 1;
            } else {
                uint8_t hash[TT_HASH_LEN];
                tt_chain_hash(rep->records[i].data, rep->records[i].len, hash);
                json_t *j = (filtered || as_csv) ? tt_record_json(rec, hash) : NULL;
                if (!j || history_keeps(&filter, j)) {
                    if (as_csv && j)
                        print_csv(j);
                    else
                        print_record(rec, hash, as_json);
                }
                json_decref(j);
                next++;
            }
            if (rec)
                tutti__record__free_unpacked(rec, NULL);
            if (sr)
                tutti__signed_record__free_unpacked(sr, NULL);
        }
        size_t got = rep->n_records;
        tutti__envelope__free_unpacked(reply, NULL);
        if (got == 0 || next > until)
            break;
    }
    cli_conn_close(&s);
    return rc;
}
