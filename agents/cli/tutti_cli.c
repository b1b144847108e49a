/* tutti: the operator's command line. Each subcommand is one short
 * function; requests go over one CURVE DEALER connection with a timeout,
 * and every reply or error is printed so a person or a script can act. */
#define _POSIX_C_SOURCE 200809L
#include "cli_ltc.h"
#include "cli_media.h"
#include "tt_chain.h"
#include "tt_client.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_keys.h"
#include "tt_onsets.h"
#include "tt_opts.h"
#include "tt_record_json.h"
#include "tt_report.h"
#include "tt_rules.h"
#include "tt_session.h"
#include "tt_smf.h"
#include "tt_store.h"
#include "tt_tempo.h"
#include "tt_text.h"
#include "tt_time.h"
#include "tt_timecode.h"
#include "tt_wire.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define EXIT_USAGE 2
#define EXIT_REFUSED 3

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: tutti [connection options] COMMAND [args]\n"
        "\n"
        "The operator's command line for a tutti session.\n"
        "\n"
        "Commands:\n"
        "  keygen NAME --dir DIR        write DIR/NAME.key (mode 0600) and DIR/NAME.pub,\n"
        "                               czmq-compatible CURVE certificates\n"
        "  note TEXT                    append a session note (operator role)\n"
        "  status [--json]              log head and every room: online, replica position\n"
        "  history [--json|--csv] [--since SEQ] [--cue CUE] [--room ROOM] [--kind KIND]\n"
        "                               print records with seq > SEQ (default 0: all);\n"
        "                               --json prints one JSON object per line; filters\n"
        "                               keep records of a cue, by or about a room, of a kind\n"
        "  trim ROOM US                 set ROOM's clock trim in microseconds (operator; a log\n"
        "                               record): added to the room's session time to cancel a\n"
        "                               known path asymmetry; 0 removes it\n"
        "  cue add CUE [--title T]      add a cue (operator)\n"
        "  cue list [--json]            cues with their map version and takes\n"
        "  arm CUE                      arm the transport for CUE (idle/stopped -> armed)\n"
        "  take rate CUE N circled|hold|ng|false-start [--note TEXT]\n"
        "  take note CUE N TEXT         rate or annotate a take (each is a new record)\n"
        "  takes [--json|--csv] [--cue CUE]\n"
        "                               the take sheet: cue, take, state, start timecode,\n"
        "                               from bar, duration, latest rating, notes\n"
        "  change CUE --text TEXT [--bars A-B] [--parts P,...]\n"
        "                               record a score change and publish it to every room\n"
        "  presence ROOM [--in NAME]... [--out NAME]...\n"
        "  call start --rules PRESET|FILE   start the contractor's call (presets:\n"
        "                       afm-film-la afm-sound mu-london video-game)\n"
        "  call break-start | call break-end | call wrap\n"
        "  report [--csv]       per player: rooms, time in/out, cues, breaks, overtime\n"
        "                       units (the union report draft, CSV)\n"
        "                               check players in and out of a room (contractor,\n"
        "                               operator, or the room itself)\n"
        "  ack CHANGE                   acknowledge a change, with a room's key (role room)\n"
        "  tempo load CUE FILE [--start-tc TC] [--fps RATE] [--countoff BARS]\n"
        "                               load a tempo map (text format or Standard MIDI\n"
        "                               File) for CUE as a new version (operator)\n"
        "  roll CUE [--from-bar N] [--lead-ms MS] [--force] [--punch-in BAR --punch-out BAR]\n"
        "                               start the armed CUE at session time now + lead\n"
        "                               (default 1500 ms), opening its next take: every\n"
        "                               room counts off on the same sample. Refused while an\n"
        "                               online room has not acked a change to CUE; --force\n"
        "                               rolls anyway and the override is in the log\n"
        "  stop [--lead-ms MS]          stop at session time now + lead (default 0)\n"
        "  clicks REF.wav OTHER.wav... [--json] [--whole-samples] [--ref-delay SAMPLES]\n"
        "                               how far each file's clicks landed from REF's, in\n"
        "                               samples, to a fraction of a sample (or by first\n"
        "                               sample with --whole-samples); files from tutti-agent\n"
        "                               --click-wav on this host, simulated clocks undone;\n"
        "                               --ref-delay: REF sounds SAMPLES later than recorded\n"
        "  ltc read FILE.wav [--channel N] [--fps RATE] [--json]\n"
        "  media fetch CUE TAKE [--room R] [--input I] --out DIR\n"
        "                       download a take's uploaded files, each checked against\n"
        "                       the BLAKE2b hash in its signed media record\n"
        "                               print each LTC frame's timecode and first sample\n"
        "  verify DIR [--json]          check a coordinator store or agent replica offline:\n"
        "                               gap-free sequence, hash chain, signatures\n"
        "\n"
        "Connection options (for note, status, history):\n"
        "  --coordinator EP   request endpoint ($TUTTI_COORDINATOR, default tcp://127.0.0.1:7700)\n"
        "  --server-key FILE  coordinator's public certificate ($TUTTI_SERVER_KEY)\n"
        "  --key FILE.key     your certificate ($TUTTI_KEY)\n"
        "  --timeout-ms N     how long to wait for the coordinator (default 5000)\n"
        "  -h, --help         this text\n"
        "\n"
        "Exit status: 0 success, 1 failure, 2 bad usage, 3 refused (unknown key,\n"
        "role not allowed) or verification failed.\n"
        "\n"
        "Examples:\n"
        "  tutti keygen conductor --dir keys\n"
        "  export TUTTI_SERVER_KEY=keys/coordinator.pub TUTTI_KEY=keys/conductor.key\n"
        "  tutti note 'Bar 12-16 horns tacet'\n"
        "  tutti history --json --since 40\n"
        "  tutti verify /var/lib/tutti --json\n");
}

typedef struct {
    const char *endpoint;
    const char *server_key_path;
    const char *key_path;
    long timeout_ms;
} conn_opts_t;

typedef struct {
    void *ctx;
    tt_keypair_t *keys;
    tt_client_t *client;
    int timeout_ms;
} session_t;

static int exit_for(int rc)
{
    return (rc == TT_ERR_AUTH || rc == TT_ERR_DENIED) ? EXIT_REFUSED : 1;
}

static int connect_session(const conn_opts_t *o, session_t *s)
{
    memset(s, 0, sizeof *s);
    const char *endpoint = tt_opts_or_env(o->endpoint, "TUTTI_COORDINATOR", "tcp://127.0.0.1:7700");
    const char *skey_path = tt_opts_or_env(o->server_key_path, "TUTTI_SERVER_KEY", NULL);
    const char *key_path = tt_opts_or_env(o->key_path, "TUTTI_KEY", NULL);
    if (!skey_path || !key_path) {
        fprintf(stderr, "tutti: --server-key and --key (or TUTTI_SERVER_KEY, TUTTI_KEY) are "
                        "required\n");
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN];
    char server_key[TT_Z85_KEY_LEN + 1];
    if (tt_pubkey_load(skey_path, server_key, why) != 0) {
        fprintf(stderr, "tutti: --server-key: %s\n", why);
        return 1;
    }
    s->keys = tt_keypair_load(key_path, why);
    if (!s->keys) {
        fprintf(stderr, "tutti: --key: %s\n", why);
        return 1;
    }
    s->ctx = zmq_ctx_new();
    s->client = tt_client_new(s->ctx, endpoint, server_key, s->keys, 0, why);
    if (!s->client) {
        fprintf(stderr, "tutti: %s\n", why);
        return 1;
    }
    s->timeout_ms = (int)o->timeout_ms;
    return 0;
}

static void close_session(session_t *s)
{
    tt_client_destroy(&s->client);
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    tt_keypair_destroy(&s->keys);
}

static int request(session_t *s, Tutti__Envelope *req, Tutti__Envelope **reply,
                   Tutti__Envelope__BodyCase want)
{
    char why[TT_WHY_LEN];
    int rc = tt_client_request(s->client, req, reply, s->timeout_ms, why);
    if (rc != 0) {
        fprintf(stderr, "tutti: %s%s\n",
                rc == TT_ERR_AUTH     ? "authentication error: "
                : rc == TT_ERR_DENIED ? "refused: "
                                      : "",
                why);
        return exit_for(rc);
    }
    if ((*reply)->body_case != want) {
        fprintf(stderr, "tutti: unexpected reply from the coordinator\n");
        tutti__envelope__free_unpacked(*reply, NULL);
        *reply = NULL;
        return 1;
    }
    return 0;
}

static void print_json_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) {
        puts(s);
        free(s);
    }
}

/* ------------------------------------------------------------ commands */

static int cmd_keygen(int argc, char **argv)
{
    const char *dir = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            fprintf(stderr, "tutti keygen: unexpected '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!name || !dir) {
        fprintf(stderr, "usage: tutti keygen NAME --dir DIR\n");
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN];
    tt_keypair_t *kp = tt_keypair_generate(why);
    if (!kp || tt_keypair_save(kp, dir, name, why) != 0) {
        fprintf(stderr, "tutti keygen: %s\n", why);
        tt_keypair_destroy(&kp);
        return 1;
    }
    printf("%s/%s.key  (secret, mode 0600)\n%s/%s.pub  public key %s\n", dir, name, dir, name,
           kp->public_z85);
    tt_keypair_destroy(&kp);
    return 0;
}

/* Sends a write request; prints "WHAT recorded as SEQ" unless what is
 * NULL. *seq_out (may be NULL) gets the committed sequence number. */
static int write_request(const conn_opts_t *o, Tutti__Envelope *env, const char *what,
                         uint64_t *seq_out)
{
    session_t s;
    int rc = connect_session(o, &s);
    if (rc == 0) {
        Tutti__Envelope *reply = NULL;
        rc = request(&s, env, &reply, TUTTI__ENVELOPE__BODY_WRITE_REPLY);
        if (rc == 0) {
            if (what)
                printf("%s recorded as %llu\n", what, (unsigned long long)reply->write_reply->seq);
            if (seq_out)
                *seq_out = reply->write_reply->seq;
            tutti__envelope__free_unpacked(reply, NULL);
        }
    }
    close_session(&s);
    return rc;
}

static int cmd_note(const conn_opts_t *o, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tutti note TEXT\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__NoteRequest nr = TUTTI__NOTE_REQUEST__INIT;
    nr.text = argv[1];
    env.body_case = TUTTI__ENVELOPE__BODY_NOTE;
    env.note = &nr;
    return write_request(o, &env, "note", NULL);
}

static int cmd_trim(const conn_opts_t *o, int argc, char **argv)
{
    long us = 0;
    if (argc != 3 || tt_opts_parse_long(argv[2], -100000, 100000, &us) != 0) {
        fprintf(stderr, "usage: tutti trim ROOM MICROSECONDS   (-100000..100000)\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__TrimRequest tr = TUTTI__TRIM_REQUEST__INIT;
    tr.room = argv[1];
    tr.trim_ns = (int64_t)us * 1000;
    env.body_case = TUTTI__ENVELOPE__BODY_TRIM;
    env.trim = &tr;
    uint64_t seq = 0;
    int rc = write_request(o, &env, NULL, &seq);
    if (rc == 0)
        printf("trim for %s set to %ld us (record %llu)\n", argv[1], us, (unsigned long long)seq);
    return rc;
}

static int cmd_tempo(const conn_opts_t *o, int argc, char **argv)
{
    const char *cue = NULL, *file = NULL, *start_tc = NULL, *fps_s = NULL;
    long countoff = -1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--start-tc") && i + 1 < argc)
            start_tc = argv[++i];
        else if (!strcmp(argv[i], "--fps") && i + 1 < argc)
            fps_s = argv[++i];
        else if (!strcmp(argv[i], "--countoff") && i + 1 < argc) {
            if (tt_opts_parse_long(argv[++i], 0, 8, &countoff) != 0) {
                fprintf(stderr, "tutti tempo: --countoff wants 0..8 bars\n");
                return EXIT_USAGE;
            }
        } else if (argv[i][0] != '-' && !cue)
            cue = argv[i];
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            fprintf(stderr, "tutti tempo: unexpected '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (argc < 2 || strcmp(argv[1], "load") != 0 || !cue || !file) {
        fprintf(stderr, "usage: tutti tempo load CUE FILE [--start-tc TC] [--fps RATE] "
                        "[--countoff BARS]\n");
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN];
    char *data = NULL;
    size_t len = 0;
    if (tt_file_read(file, TT_SMF_MAX_BYTES, &data, &len, why) != 0) {
        fprintf(stderr, "tutti tempo: %s\n", why);
        return 1;
    }
    int is_smf = len >= 4 && memcmp(data, "MThd", 4) == 0;
    tt_tempo_map_t *map =
        is_smf ? tt_smf_read((const uint8_t *)data, len, why) : tt_tempo_parse_text(data, len, why);
    free(data);
    if (!map) {
        fprintf(stderr, "tutti tempo: %s: %s\n", file, why);
        return 1;
    }
    int rc = 0;
    if (fps_s || start_tc) {
        tt_fps_t fps = tt_tempo_fps(map);
        int64_t frame = tt_tempo_start_frame(map);
        if (fps_s && tt_fps_parse(fps_s, &fps, why) != 0)
            rc = 1;
        else if (start_tc && tt_timecode_parse(start_tc, fps, &frame, why) != 0)
            rc = 1;
        else if (!start_tc) { /* the same label at the new rate */
            char label[TT_TIMECODE_LEN];
            tt_timecode_format(frame, tt_tempo_fps(map), label);
            for (char *p = label; *p; p++)
                if (*p == ';' && !tt_fps_is_drop(fps))
                    *p = ':';
            rc = tt_timecode_parse(label, fps, &frame, why) ? 1 : 0;
        }
        if (rc == 0 && tt_tempo_set_start(map, frame, fps) != 0)
            rc = 1;
    }
    if (rc == 0 && countoff >= 0 && tt_tempo_set_countoff(map, (int)countoff) != 0)
        rc = 1;
    char *text = NULL;
    if (rc == 0 && tt_tempo_format_text(map, &text, why) != 0)
        rc = 1;
    tt_tempo_destroy(&map);
    if (rc != 0) {
        fprintf(stderr, "tutti tempo: %s\n", why);
        free(text);
        return 1;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__TempoLoadRequest tl = TUTTI__TEMPO_LOAD_REQUEST__INIT;
    tl.cue = (char *)cue;
    tl.map_text = text;
    tl.source = (char *)file;
    env.body_case = TUTTI__ENVELOPE__BODY_TEMPO_LOAD;
    env.tempo_load = &tl;
    rc = write_request(o, &env, "tempo map", NULL);
    free(text);
    return rc;
}

static int cmd_arm(const conn_opts_t *o, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tutti arm CUE\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__ArmRequest ar = TUTTI__ARM_REQUEST__INIT;
    ar.cue = argv[1];
    env.body_case = TUTTI__ENVELOPE__BODY_ARM;
    env.arm = &ar;
    return write_request(o, &env, "arm", NULL);
}

/* The session as the log folds it, fetched whole: the CLI applies the same
 * fold as every agent instead of asking for a second, hand-made view. */
typedef void (*record_fn)(void *arg, const Tutti__Record *rec);

/* Fetches the whole log, checks every record's chain and signature, folds
 * it into st and, when each is not NULL, hands each record to it. */
static int fetch_fold_each(session_t *s, tt_session_t *st, record_fn each, void *arg)
{
    tt_session_init(st);
    for (;;) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__FetchRequest fr = TUTTI__FETCH_REQUEST__INIT;
        fr.from_seq = st->last_seq + 1;
        env.body_case = TUTTI__ENVELOPE__BODY_FETCH;
        env.fetch = &fr;
        Tutti__Envelope *reply = NULL;
        int rc = request(s, &env, &reply, TUTTI__ENVELOPE__BODY_FETCH_REPLY);
        if (rc != 0)
            return rc;
        const Tutti__FetchReply *rep = reply->fetch_reply;
        size_t got = rep->n_records;
        for (size_t i = 0; i < got && rc == 0; i++) {
            uint8_t hash[TT_HASH_LEN];
            Tutti__Record *rec = NULL;
            char why[TT_WHY_LEN];
            rc = tt_chain_check(rep->records[i].data, rep->records[i].len, st->last_seq + 1,
                                st->head_hash, st->signing_pk, hash, &rec, why);
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

static int fetch_fold(session_t *s, tt_session_t *st)
{
    return fetch_fold_each(s, st, NULL, NULL);
}

static const char *take_state_name(tt_take_state_t t)
{
    return t == TT_TAKE_OPEN ? "open" : t == TT_TAKE_DONE ? "done" : "interrupted";
}

static int cmd_cue(const conn_opts_t *o, int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "add")) {
        const char *title = "";
        if (argc == 5 && !strcmp(argv[3], "--title"))
            title = argv[4];
        else if (argc != 3) {
            fprintf(stderr, "usage: tutti cue add CUE [--title T]\n");
            return EXIT_USAGE;
        }
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__CueAddRequest ca = TUTTI__CUE_ADD_REQUEST__INIT;
        ca.cue = argv[2];
        ca.title = (char *)title;
        env.body_case = TUTTI__ENVELOPE__BODY_CUE_ADD;
        env.cue_add = &ca;
        return write_request(o, &env, "cue", NULL);
    }
    if (argc < 2 || strcmp(argv[1], "list") != 0 || argc > 3 ||
        (argc == 3 && strcmp(argv[2], "--json") != 0)) {
        fprintf(stderr, "usage: tutti cue add CUE [--title T] | tutti cue list [--json]\n");
        return EXIT_USAGE;
    }
    int as_json = argc == 3;
    session_t s;
    tt_session_t st;
    int rc = connect_session(o, &s);
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
                                                  take_state_name(last->state)));
                print_json_line(j);
                json_decref(j);
            } else {
                printf("%-10s %-30s map v%u  %zu takes", c->name, c->title, c->tempo_version,
                       c->n_takes);
                if (last)
                    printf(" (last: %u, %s)", last->number, take_state_name(last->state));
                putchar('\n');
            }
        }
        tt_session_clear(&st);
    }
    close_session(&s);
    return rc;
}

/* Rooms online at the roll whose files have not arrived: "a+b", "" if none. */
static void media_pending(const tt_session_t *st, const char *cue, const tt_session_take_t *t,
                          char *out, size_t cap)
{
    char online[sizeof t->rooms_online];
    snprintf(online, sizeof online, "%s", t->rooms_online);
    size_t used = 0;
    out[0] = '\0';
    for (char *save = NULL, *room = strtok_r(online, "+", &save); room;
         room = strtok_r(NULL, "+", &save))
        if (!tt_media_has_room(&st->media, cue, t->number, room) && used < cap)
            used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? "+" : "", room);
}

static int cmd_takes(const conn_opts_t *o, int argc, char **argv)
{
    int as_json = 0, as_csv = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (!strcmp(argv[i], "--csv"))
            as_csv = 1;
        else if (!strcmp(argv[i], "--cue") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: tutti takes [--json|--csv] [--cue CUE]\n");
            return EXIT_USAGE;
        }
    }
    session_t s;
    tt_session_t st;
    int rc = connect_session(o, &s);
    if (rc == 0)
        rc = fetch_fold(&s, &st);
    if (rc != 0) {
        close_session(&s);
        return rc;
    }
    if (as_csv)
        printf("cue,take,state,start_tc,from_bar,duration_s,rating,notes,rooms_online,"
               "changes_acked,files_arrived,files_pending\n");
    else if (!as_json)
        printf("%-10s %5s %-12s %-12s %8s %10s %-12s %5s  %-24s %-14s %s\n", "cue", "take", "state",
               "start tc", "from bar", "duration", "rating", "notes", "rooms online",
               "changes acked", "files (arrived / pending)");
    for (size_t i = 0; i < st.n_cues; i++) {
        const tt_session_cue_t *c = &st.cues[i];
        if (only && strcmp(only, c->name) != 0)
            continue;
        tt_fps_t fps = TT_FPS_24;
        tt_tempo_map_t *map =
            c->map_text ? tt_tempo_parse_text(c->map_text, strlen(c->map_text), NULL) : NULL;
        if (map)
            fps = tt_tempo_fps(map);
        tt_tempo_destroy(&map);
        for (size_t k = 0; k < c->n_takes; k++) {
            const tt_session_take_t *t = &c->takes[k];
            char tc[TT_TIMECODE_LEN];
            tt_timecode_format(t->start_frame, fps, tc);
            char pending[sizeof t->rooms_online], arrived[256];
            media_pending(&st, c->name, t, pending, sizeof pending);
            tt_media_rooms(&st.media, c->name, t->number, arrived, sizeof arrived);
            /* A stop before the first click makes a take of no length, not a negative one. */
            double dur = t->end_session_ns > t->start_session_ns
                             ? (double)(t->end_session_ns - t->start_session_ns) / 1e9
                             : 0.0;
            if (as_json) {
                json_t *j =
                    json_pack("{s:s, s:i, s:s, s:s, s:i, s:f, s:I, s:s, s:i, s:s, s:b, s:s}", "cue",
                              c->name, "take", (int)t->number, "state", take_state_name(t->state),
                              "start_tc", tc, "from_bar", (int)t->from_bar, "duration_s", dur,
                              "roll_seq", (json_int_t)t->roll_seq, "rating", t->rating, "notes",
                              (int)t->notes, "rooms_online", t->rooms_online, "changes_acked",
                              !t->forced, "not_acked", t->not_acked);
                json_object_set_new(j, "files_arrived", json_string(arrived));
                json_object_set_new(j, "files_pending", json_string(pending));
                json_object_set_new(j, "files",
                                    json_integer(tt_media_count(&st.media, c->name, t->number)));
                if (t->punch_in_bar) {
                    json_object_set_new(j, "punch_in_bar", json_integer(t->punch_in_bar));
                    json_object_set_new(j, "punch_out_bar", json_integer(t->punch_out_bar));
                }
                print_json_line(j);
                json_decref(j);
            } else if (as_csv) {
                /* Cue and room names are [A-Za-z0-9._-], ratings fixed words: no quoting. */
                printf("%s,%u,%s,%s,%d,%.3f,%s,%u,%s,%s,%s,%s\n", c->name, t->number,
                       take_state_name(t->state), tc, t->from_bar, dur, t->rating, t->notes,
                       t->rooms_online, t->forced ? "forced" : "yes", arrived, pending);
            } else {
                char acked[300];
                snprintf(acked, sizeof acked, "%s%s", t->forced ? "forced past " : "yes",
                         t->forced ? t->not_acked : "");
                printf("%-10s %5u %-12s %-12s %8d %9.1fs %-12s %5u  %-24s %-14s %s / %s\n", c->name,
                       t->number, take_state_name(t->state), tc, t->from_bar, dur,
                       t->rating[0] ? t->rating : "-", t->notes,
                       t->rooms_online[0] ? t->rooms_online : "-", acked,
                       arrived[0] ? arrived : "-", pending[0] ? pending : "-");
            }
        }
    }
    tt_session_clear(&st);
    close_session(&s);
    return 0;
}

static int cmd_take(const conn_opts_t *o, int argc, char **argv)
{
    long take = 0;
    int rate = argc >= 5 && !strcmp(argv[1], "rate");
    int note = argc == 5 && !strcmp(argv[1], "note");
    if ((!rate && !note) || tt_opts_parse_long(argv[3], 1, 1000000, &take) != 0 ||
        (rate && argc != 5 && !(argc == 7 && !strcmp(argv[5], "--note")))) {
        fprintf(stderr, "usage: tutti take rate CUE N circled|hold|ng|false-start [--note TEXT]\n"
                        "       tutti take note CUE N TEXT\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    if (rate) {
        Tutti__TakeRate tr = TUTTI__TAKE_RATE__INIT;
        tr.cue = argv[2];
        tr.take = (uint32_t)take;
        tr.rating = argv[4];
        tr.note = argc == 7 ? argv[6] : "";
        env.body_case = TUTTI__ENVELOPE__BODY_TAKE_RATE;
        env.take_rate = &tr;
        return write_request(o, &env, "rating", NULL);
    }
    Tutti__TakeNote tn = TUTTI__TAKE_NOTE__INIT;
    tn.cue = argv[2];
    tn.take = (uint32_t)take;
    tn.text = argv[4];
    env.body_case = TUTTI__ENVELOPE__BODY_TAKE_NOTE;
    env.take_note = &tn;
    return write_request(o, &env, "take note", NULL);
}

static int cmd_change(const conn_opts_t *o, int argc, char **argv)
{
    const char *cue = NULL, *text = NULL, *bars = "", *parts = "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--text") && i + 1 < argc)
            text = argv[++i];
        else if (!strcmp(argv[i], "--bars") && i + 1 < argc)
            bars = argv[++i];
        else if (!strcmp(argv[i], "--parts") && i + 1 < argc)
            parts = argv[++i];
        else if (argv[i][0] != '-' && !cue)
            cue = argv[i];
        else
            cue = NULL, text = NULL, i = argc;
    }
    if (!cue || !text) {
        fprintf(stderr, "usage: tutti change CUE --text TEXT [--bars A-B] [--parts P,...]\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Change ch = TUTTI__CHANGE__INIT;
    ch.cue = (char *)cue;
    ch.text = (char *)text;
    ch.bars = (char *)bars;
    ch.parts = (char *)parts;
    env.body_case = TUTTI__ENVELOPE__BODY_CHANGE;
    env.change = &ch;
    return write_request(o, &env, "change", NULL);
}

static int cmd_ack(const conn_opts_t *o, int argc, char **argv)
{
    long id = 0;
    if (argc != 2 || tt_opts_parse_long(argv[1], 1, __LONG_MAX__, &id) != 0) {
        fprintf(stderr, "usage: tutti ack CHANGE   (run with the room's key)\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Ack ack = TUTTI__ACK__INIT;
    ack.change = (uint64_t)id;
    env.body_case = TUTTI__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    return write_request(o, &env, "ack", NULL);
}

static int cmd_presence(const conn_opts_t *o, int argc, char **argv)
{
    char *in[256], *out[256];
    size_t n_in = 0, n_out = 0;
    const char *room = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--in") && i + 1 < argc && n_in < 256)
            in[n_in++] = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc && n_out < 256)
            out[n_out++] = argv[++i];
        else if (argv[i][0] != '-' && !room)
            room = argv[i];
        else
            room = NULL, i = argc;
    }
    if (!room || n_in + n_out == 0) {
        fprintf(stderr, "usage: tutti presence ROOM [--in NAME]... [--out NAME]...\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Presence p = TUTTI__PRESENCE__INIT;
    p.room = (char *)room;
    p.in = in;
    p.n_in = n_in;
    p.out = out;
    p.n_out = n_out;
    env.body_case = TUTTI__ENVELOPE__BODY_PRESENCE;
    env.presence = &p;
    return write_request(o, &env, "presence", NULL);
}

#define ROLL_USAGE                                                                                 \
    "tutti roll CUE [--from-bar N] [--lead-ms MS] [--force] [--punch-in BAR --punch-out BAR]"

static int cmd_roll(const conn_opts_t *o, int argc, char **argv)
{
    const char *cue = NULL;
    long from_bar = 1, lead_ms = 1500, punch_in = 0, punch_out = 0;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--force")) {
            force = 1;
        } else if ((!strcmp(argv[i], "--punch-in") || !strcmp(argv[i], "--punch-out")) &&
                   i + 1 < argc) {
            long *bar = !strcmp(argv[i], "--punch-in") ? &punch_in : &punch_out;
            if (tt_opts_parse_long(argv[++i], 1, 100000, bar) != 0) {
                fprintf(stderr, "tutti roll: %s wants a bar 1..100000\n", argv[i - 1]);
                return EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--from-bar") && i + 1 < argc) {
            if (tt_opts_parse_long(argv[++i], 1, 100000, &from_bar) != 0) {
                fprintf(stderr, "tutti roll: --from-bar wants 1..100000\n");
                return EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--lead-ms") && i + 1 < argc) {
            if (tt_opts_parse_long(argv[++i], 1, 60000, &lead_ms) != 0) {
                fprintf(stderr, "tutti roll: --lead-ms wants 1..60000\n");
                return EXIT_USAGE;
            }
        } else if (argv[i][0] != '-' && !cue) {
            cue = argv[i];
        } else {
            fprintf(stderr, "usage: %s\n", ROLL_USAGE);
            return EXIT_USAGE;
        }
    }
    if (!cue || (punch_in != 0) != (punch_out != 0)) {
        fprintf(stderr, "usage: %s\n", ROLL_USAGE);
        if (cue)
            fprintf(stderr, "tutti roll: --punch-in and --punch-out go together\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__RollRequest rr = TUTTI__ROLL_REQUEST__INIT;
    rr.cue = (char *)cue;
    rr.from_bar = (int32_t)from_bar;
    rr.lead_ms = (uint32_t)lead_ms;
    rr.force = force;
    rr.punch_in = (int32_t)punch_in;
    rr.punch_out = (int32_t)punch_out;
    env.body_case = TUTTI__ENVELOPE__BODY_ROLL;
    env.roll = &rr;
    return write_request(o, &env, "roll", NULL);
}

#define CALL_USAGE                                                                                 \
    "tutti call start --rules PRESET|FILE | call break-start | call break-end | call wrap"

static int cmd_call(const conn_opts_t *o, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s\n", CALL_USAGE);
        return EXIT_USAGE;
    }
    const char *action = argv[1];
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__CallEvent ev = TUTTI__CALL_EVENT__INIT;
    char text[TT_RULES_MAX_TEXT];
    tt_rules_t rules;
    if (!strcmp(action, "start")) {
        if (argc != 4 || strcmp(argv[2], "--rules") != 0) {
            fprintf(stderr, "usage: %s\n", CALL_USAGE);
            return EXIT_USAGE;
        }
        char why[TT_WHY_LEN];
        if (tt_rules_load(argv[3], &rules, why) != 0 ||
            tt_rules_format(&rules, text, sizeof text) < 0) {
            fprintf(stderr, "tutti call: --rules %s: %s\n", argv[3], why);
            return 1;
        }
        ev.rules_name = rules.id;
        ev.rules_text = text;
    } else if (argc != 2 || (strcmp(action, "break-start") && strcmp(action, "break-end") &&
                             strcmp(action, "wrap"))) {
        fprintf(stderr, "usage: %s\n", CALL_USAGE);
        return EXIT_USAGE;
    }
    ev.action = (char *)action;
    env.body_case = TUTTI__ENVELOPE__BODY_CALL_EVENT;
    env.call_event = &ev;
    return write_request(o, &env, "call event", NULL);
}

static int cmd_report(const conn_opts_t *o, int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--csv") != 0)) {
        fprintf(stderr, "usage: tutti report [--csv]\n");
        return EXIT_USAGE;
    }
    session_t s;
    tt_session_t st;
    int rc = connect_session(o, &s);
    if (rc == 0)
        rc = fetch_fold(&s, &st);
    if (rc == 0) {
        char *csv = NULL;
        size_t len = 0;
        char why[TT_WHY_LEN];
        if (tt_report_csv(&st, tt_time_wall_ns(), &csv, &len, why) != 0) {
            fprintf(stderr, "tutti report: %s\n", why);
            rc = 1;
        } else {
            if (why[0]) /* records left out of the report: say so, draw the rest */
                fprintf(stderr, "tutti report: %s\n", why);
            if (fwrite(csv, 1, len, stdout) != len)
                rc = 1;
        }
        free(csv);
    }
    if (rc == 0 || s.client)
        tt_session_clear(&st);
    close_session(&s);
    return rc;
}

static int cmd_stop(const conn_opts_t *o, int argc, char **argv)
{
    long lead_ms = 0;
    if (argc == 3 && !strcmp(argv[1], "--lead-ms")) {
        if (tt_opts_parse_long(argv[2], 0, 60000, &lead_ms) != 0) {
            fprintf(stderr, "tutti stop: --lead-ms wants 0..60000\n");
            return EXIT_USAGE;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: tutti stop [--lead-ms MS]\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__StopRequest sr = TUTTI__STOP_REQUEST__INIT;
    sr.lead_ms = (uint32_t)lead_ms;
    env.body_case = TUTTI__ENVELOPE__BODY_STOP;
    env.stop = &sr;
    return write_request(o, &env, "stop", NULL);
}

static int cmd_clicks(int argc, char **argv)
{
    static const char usage[] = "usage: tutti clicks REF.wav OTHER.wav... [--json] "
                                "[--whole-samples] [--ref-delay SAMPLES]\n";
    int as_json = 0, nfiles = 0, whole = 0;
    long ref_delay = 0;
    const char *files[64];
    for (int i = 1; i < argc; i++) {
        char *end;
        if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (!strcmp(argv[i], "--whole-samples")) {
            whole = 1;
        } else if (!strcmp(argv[i], "--ref-delay") && i + 1 < argc) {
            errno = 0;
            ref_delay = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || ref_delay < -10000000 || ref_delay > 10000000) {
                fprintf(stderr, "tutti clicks: --ref-delay %s: a whole number of samples\n",
                        argv[i]);
                return EXIT_USAGE;
            }
        } else if (argv[i][0] != '-' && nfiles < 64) {
            files[nfiles++] = argv[i];
        } else {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (nfiles < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN];
    tt_onsets_t ref;
    if (tt_onsets_read(files[0], whole, &ref, why) != 0) {
        fprintf(stderr, "tutti clicks: %s\n", why);
        return 1;
    }
    /* REF sounds this much later than recorded (e.g. its port's playback
     * latency): compare where it is heard. */
    for (size_t i = 0; i < ref.n; i++)
        ref.ns[i] += (int64_t)llround((double)ref_delay * 1e9 / (ref.rate ? ref.rate : 48000));
    int rc = 0;
    if (!as_json)
        printf("%-40s %7s %8s %12s %12s\n", "file", "clicks", "paired", "max |d| smp",
               "mean d smp");
    for (int i = 1; i < nfiles && rc == 0; i++) {
        tt_onsets_t other;
        if (tt_onsets_read(files[i], whole, &other, why) != 0) {
            fprintf(stderr, "tutti clicks: %s\n", why);
            rc = 1;
            break;
        }
        size_t paired;
        double max_abs, mean;
        tt_onsets_compare(&ref, &other, &paired, &max_abs, &mean);
        if (as_json) {
            json_t *o = json_pack(
                "{s:s, s:s, s:I, s:I, s:I, s:f, s:f}", "file", files[i], "reference", files[0],
                "clicks", (json_int_t)other.n, "reference_clicks", (json_int_t)ref.n, "paired",
                (json_int_t)paired, "max_abs_samples", max_abs, "mean_samples", mean);
            print_json_line(o);
            json_decref(o);
        } else {
            printf("%-40s %7zu %8zu %12.2f %+12.2f\n", files[i], other.n, paired, max_abs, mean);
        }
        tt_onsets_free(&other);
    }
    tt_onsets_free(&ref);
    return rc;
}

static int cmd_status(const conn_opts_t *o, int argc, char **argv)
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
    session_t s;
    int rc = connect_session(o, &s);
    Tutti__Envelope *reply = NULL;
    if (rc == 0) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__StatusRequest sr = TUTTI__STATUS_REQUEST__INIT;
        env.body_case = TUTTI__ENVELOPE__BODY_STATUS;
        env.status = &sr;
        rc = request(&s, &env, &reply, TUTTI__ENVELOPE__BODY_STATUS_REPLY);
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
            print_json_line(o2);
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
                putchar('\n');
            }
        }
        tutti__envelope__free_unpacked(reply, NULL);
    }
    close_session(&s);
    return rc;
}

static void print_record(const Tutti__Record *rec, const uint8_t *hash, int as_json)
{
    if (as_json) {
        json_t *o = tt_record_json(rec, hash);
        print_json_line(o);
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

/* One CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
static void csv_field(const char *v, int last)
{
    if (v && strpbrk(v, ",\"\r\n")) {
        putchar('"');
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                putchar('"');
            putchar(*p);
        }
        putchar('"');
    } else if (v) {
        fputs(v, stdout);
    }
    putchar(last ? '\n' : ',');
}

static void print_csv(json_t *o)
{
    char seq[32], take[32] = "";
    snprintf(seq, sizeof seq, "%lld", (long long)json_integer_value(json_object_get(o, "seq")));
    if (json_object_get(o, "take"))
        snprintf(take, sizeof take, "%lld",
                 (long long)json_integer_value(json_object_get(o, "take")));
    json_t *rest = json_deep_copy(o);
    const char *drop[] = {"seq", "at",   "kind", "actor",     "role",
                          "cue", "take", "hash", "at_unix_ns"};
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        json_object_del(rest, drop[i]);
    char *details = json_dumps(rest, JSON_COMPACT | JSON_SORT_KEYS);
    csv_field(seq, 0);
    csv_field(json_string_value(json_object_get(o, "at")), 0);
    csv_field(json_string_value(json_object_get(o, "kind")), 0);
    csv_field(json_string_value(json_object_get(o, "actor")), 0);
    csv_field(json_string_value(json_object_get(o, "cue")), 0);
    csv_field(take, 0);
    csv_field(details, 1);
    free(details);
    json_decref(rest);
}

static int cmd_history(const conn_opts_t *o, int argc, char **argv)
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
    session_t s;
    int rc = connect_session(o, &s);
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
        rc = request(&s, &env, &reply, TUTTI__ENVELOPE__BODY_FETCH_REPLY);
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
    close_session(&s);
    return rc;
}

static int cmd_verify(int argc, char **argv)
{
    const char *dir = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else {
            fprintf(stderr, "usage: tutti verify DIR [--json]\n");
            return EXIT_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: tutti verify DIR [--json]\n");
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN];
    tt_store_t *store = tt_store_open(dir, 1, 0, why);
    if (!store) {
        fprintf(stderr, "tutti verify: %s\n", why);
        return 1;
    }
    tt_chain_report_t rep;
    int rc = tt_chain_verify_store(store, NULL, &rep, why);
    tt_store_destroy(&store);
    char hash[2 * TT_HASH_LEN + 1], pk[2 * TT_SIGN_PK_LEN + 1];
    tt_hex_encode(rep.head_hash, TT_HASH_LEN, hash);
    tt_hex_encode(rep.signing_pk, TT_SIGN_PK_LEN, pk);
    if (rc == 0 && rep.records == 0) {
        rc = TT_ERR_CORRUPT;
        rep.bad_seq = 1;
        snprintf(why, sizeof why, "the log is empty: no genesis record");
    }
    if (as_json) {
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_boolean(rc == 0));
        json_object_set_new(o, "records", json_integer((json_int_t)rep.records));
        json_object_set_new(o, "last_seq", json_integer((json_int_t)rep.last_seq));
        json_object_set_new(o, "head_hash", json_string(hash));
        json_object_set_new(o, "signing_key", json_string(pk));
        if (rc != 0) {
            json_object_set_new(o, "bad_seq", json_integer((json_int_t)rep.bad_seq));
            json_object_set_new(o, "error", json_string(why));
        }
        print_json_line(o);
        json_decref(o);
    } else if (rc == 0) {
        printf("%s: %llu records, 1..%llu, chain and signatures good, head %s\n", dir,
               (unsigned long long)rep.records, (unsigned long long)rep.last_seq, hash);
    }
    if (rc != 0) {
        fprintf(stderr, "tutti verify: %s: FAILED at record %llu: %s\n", dir,
                (unsigned long long)rep.bad_seq, why);
        return rc == TT_ERR_CORRUPT ? EXIT_REFUSED : 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    conn_opts_t o = {.timeout_ms = 5000};
    enum { O_COORD = 1, O_SKEY, O_KEY, O_TIMEOUT };
    static const struct option opts[] = {
        {"coordinator", required_argument, 0, O_COORD},
        {"server-key", required_argument, 0, O_SKEY},
        {"key", required_argument, 0, O_KEY},
        {"timeout-ms", required_argument, 0, O_TIMEOUT},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    /* '+': stop at the command; its own flags are parsed by the command. */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case O_COORD: o.endpoint = optarg; break;
        case O_SKEY: o.server_key_path = optarg; break;
        case O_KEY: o.key_path = optarg; break;
        case O_TIMEOUT:
            if (tt_opts_parse_long(optarg, 1, 3600000, &o.timeout_ms) != 0) {
                fprintf(stderr, "tutti: --timeout-ms wants 1..3600000\n");
                return EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    const char *cmd = sub_argv[0];
    if (strcmp(cmd, "ltc") == 0) /* has its own --help */
        return cli_ltc_main(sub_argc, sub_argv);
    if (strcmp(cmd, "media") == 0) { /* has its own --help */
        cli_media_conn_t mc = {o.endpoint, o.server_key_path, o.key_path, o.timeout_ms};
        return cli_media_main(sub_argc, sub_argv, &mc);
    }
    for (int i = 1; i < sub_argc; i++)
        if (strcmp(sub_argv[i], "--help") == 0 || strcmp(sub_argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(sub_argc, sub_argv);
    if (strcmp(cmd, "note") == 0)
        return cmd_note(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "status") == 0)
        return cmd_status(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "history") == 0)
        return cmd_history(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "arm") == 0)
        return cmd_arm(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "cue") == 0)
        return cmd_cue(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "presence") == 0)
        return cmd_presence(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "call") == 0)
        return cmd_call(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "change") == 0)
        return cmd_change(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "ack") == 0)
        return cmd_ack(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "take") == 0)
        return cmd_take(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "takes") == 0)
        return cmd_takes(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "clicks") == 0)
        return cmd_clicks(sub_argc, sub_argv);
    if (strcmp(cmd, "tempo") == 0)
        return cmd_tempo(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "roll") == 0)
        return cmd_roll(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "stop") == 0)
        return cmd_stop(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "trim") == 0)
        return cmd_trim(&o, sub_argc, sub_argv);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(sub_argc, sub_argv);
    fprintf(stderr, "tutti: unknown command '%s' (see tutti --help)\n", cmd);
    return EXIT_USAGE;
}
