/* tutti-dash: the music contractor's live dashboard.
 *
 * An agent with the contractor role (or observer, --read-only): it keeps a
 * verified replica of the log like any room, asks the coordinator for the
 * rooms' status twice a second, folds both into the state JSON that the
 * page renders, and serves it over HTTP with server-sent events (dash_http).
 * This thread owns every ZeroMQ socket and the store; HTTP threads see only
 * what it publishes through dash_hub.
 */
#include "dash_http.h"
#include "dash_hub.h"
#include "dash_state.h"
#include "tt_bundle.h"
#include "tt_chain.h"
#include "tt_client.h"
#include "tt_config.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_opts.h"
#include "tt_replica.h"
#include "tt_report.h"
#include "tt_rules.h"
#include "tt_session.h"
#include "tt_session_snap.h"
#include "tt_signals.h"
#include "tt_snapshot.h"
#include "tt_store.h"
#include "tt_time.h"
#include "tt_tz.h"
#include "tt_web.h"
#include "tt_wire.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define STATUS_EVERY_MS 500
#define STATE_EVERY_MS 1000 /* clocks and countdowns move even when the log does not */
#define REPORT_EVERY_MS 5000
/* No status answer for this long (three asks) and the coordinator is
 * unreachable: the page says so within 3 s of it going away. */
#define STATUS_STALE_MS 1600
#define MAX_PRESETS 16

static volatile sig_atomic_t stop_flag;

static void usage(FILE *out)
{
    fprintf(out, "Usage: tutti-dash --bundle FILE.tutti [options]\n"
                 "       tutti-dash --key FILE --server-key FILE [options]\n"
                 "\n"
                 "The music contractor's dashboard: rooms, players, takes, changes and the\n"
                 "session clock with breaks and overtime, live in a browser.\n"
                 "\n");
    fprintf(out, "Options:\n");
    tt_conn_opts_usage(out, 0);
    fprintf(out, "                        (--key: a contractor or operator key; an observer's\n"
                 "                        with --read-only; an observer's bundle is read-only)\n");
    fputs(TT_CONN_OPTS_HELP_RELAY, out);
    fputs(TT_CONFIG_HELP, out);
    fprintf(out,
            "  --http HOST:PORT      where to serve (default 127.0.0.1:8080; PORT 0: any free\n"
            "                        port, printed at start)\n"
            "  --http-password FILE  the login password (first line); required unless HOST\n"
            "                        is a loopback address (also --password-file)\n"
            "  --read-only           show everything, change nothing (observer key)\n"
            "  --rules FILE          an extra session-rules file offered beside the presets\n"
            "                        (afm-film-la, afm-sound, mu-london, video-game)\n"
            "  --tz ZONE             the session's time zone for the page and the report, an\n"
            "                        IANA name such as Europe/London (default: this\n"
            "                        machine's zone)\n"
            "  --data DIR            replica store (default ./tutti-dash; a service:\n"
            "                        /var/lib/tutti/dash)\n"
            "  --http-port-file FILE write the HTTP port there once serving (also\n"
            "                        --port-file)\n"
            "  --idle-timeout S      close a browser connection silent for S seconds\n"
            "                        (default 15; live views send every 5 s)\n"
            "  --snapshot-every N    store a snapshot of the folded replica with the records\n"
            "                        that pass every Nth (default: 1000), so a start checks\n"
            "                        and folds only the records after the newest one (the\n"
            "                        feed resumes with the last 1,024 records); 0: write\n"
            "                        none and fold the whole replica at start\n"
            "  --quiet               log warnings and errors only\n"
            "  -h, --help            this text\n"
            "\n"
            "Example:\n"
            "  tutti-dash --bundle contractor.tutti --tz America/Los_Angeles\n"
            "  tutti-dash --key keys/contractor.key --server-key keys/coordinator.pub \\\n"
            "      --tz America/Los_Angeles\n"
            "  # then open http://127.0.0.1:8080/\n");
}

typedef struct {
    tt_session_t state; /* the fold of the replica */
    tt_replica_t *replica;
    dash_hub_t *hub;
    int report_dirty;
} dash_t;

static void publish_record(dash_t *d, const Tutti__Record *rec)
{
    char *summary = dash_record_summary(rec);
    if (summary) {
        dash_hub_add_record(d->hub, rec->seq, summary);
        free(summary);
    }
    d->report_dirty = 1;
}

static void on_record(void *arg, const Tutti__Record *rec)
{
    publish_record(arg, rec);
}

/* Records already in the replica at start (an earlier run) go into the
 * feed too (the replica folds them into the state the report reads). */
static int replay_one(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    (void)seq;
    Tutti__SignedRecord *sr = tutti__signed_record__unpack(NULL, len, data);
    Tutti__Record *rec = sr ? tutti__record__unpack(NULL, sr->record.len, sr->record.data) : NULL;
    if (rec)
        publish_record(arg, rec);
    if (rec)
        tutti__record__free_unpacked(rec, NULL);
    if (sr)
        tutti__signed_record__free_unpacked(sr, NULL);
    return 0;
}

/* "SESSION-report.csv", the session's name kept to file-name-safe bytes. */
static void report_name(const tt_session_t *s, char out[DASH_REPORT_NAME])
{
    char base[TT_SESSION_MAX_NAME + 1];
    size_t n = 0;
    for (const char *p = s->session_name; *p && n < sizeof base - 1; p++)
        base[n++] = (strchr("._-", *p) || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9'))
                        ? *p
                        : '_';
    base[n] = '\0';
    snprintf(out, DASH_REPORT_NAME, "%s-report.csv", n && base[0] != '.' ? base : "tutti");
}

static void publish_report(dash_t *d)
{
    char *csv = NULL;
    size_t len = 0;
    char why[TT_WHY_LEN];
    if (tt_report_csv(&d->state, tt_time_wall_ns(), &csv, &len, why) == 0) {
        if (why[0])
            tt_diag_warn("report: %s", why);
        char name[DASH_REPORT_NAME];
        report_name(&d->state, name);
        dash_hub_set_report(d->hub, csv, name);
        free(csv);
    } else {
        tt_diag_warn("report: %s", why);
    }
    d->report_dirty = 0;
}

typedef struct {
    tt_client_t *client;
    Tutti__Envelope *last; /* owned: the latest status reply */
    int64_t last_at;       /* monotonic ns it arrived */
    int64_t last_wall;     /* the same, wall clock (the dashboard's start before any) */
    int64_t asked_at;
    uint64_t asked_id;
} status_poll_t;

static void status_ask(status_poll_t *p, int64_t now)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__StatusRequest sr = TUTTI__STATUS_REQUEST__INIT;
    env.body_case = TUTTI__ENVELOPE__BODY_STATUS;
    env.status = &sr;
    char why[TT_WHY_LEN];
    if (tt_client_send(p->client, &env, why) != 0)
        tt_diag_warn("asking for status: %s", why);
    p->asked_at = now;
}

static void status_read(status_poll_t *p)
{
    for (;;) {
        tt_wire_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_client_recv(p->client, &m, why);
        if (rc == TT_ERR_AGAIN)
            return;
        if (rc == TT_ERR_IO) {
            tt_diag_warn("reading status: %s", why);
            return;
        }
        if (rc == 0 && m.env->body_case == TUTTI__ENVELOPE__BODY_STATUS_REPLY) {
            if (p->last)
                tutti__envelope__free_unpacked(p->last, NULL);
            p->last = m.env;
            m.env = NULL; /* kept */
            p->last_at = tt_time_mono_ns();
            p->last_wall = tt_time_wall_ns();
        } else if (rc == 0 && m.env->body_case == TUTTI__ENVELOPE__BODY_ERROR) {
            tt_diag_warn("status refused: %s", m.env->error->message);
        } else if (rc != 0) {
            tt_diag_warn("status reply: %s", why);
        }
        tt_wire_msg_clear(&m);
    }
}

/* 1 while the coordinator answers: a fresh status and a live replica. */
static int coordinator_online(const dash_t *d, const status_poll_t *p, int64_t now)
{
    const Tutti__StatusReply *st = p->last ? p->last->status_reply : NULL;
    return st && now - p->last_at < (int64_t)STATUS_STALE_MS * 1000000 &&
           tt_replica_coordinator_online(d->replica);
}

static void publish_state(dash_t *d, status_poll_t *p, int read_only,
                          const tt_rules_t *const *presets, size_t n_presets)
{
    int64_t now = tt_time_mono_ns();
    const Tutti__StatusReply *st = p->last ? p->last->status_reply : NULL;
    dash_state_in_t in = {
        .session = &d->state,
        .status = st,
        /* The coordinator's session time now: its answer plus the time since. */
        .session_now_ns = st ? st->session_ns + (now - p->last_at) : 0,
        .coordinator_online = coordinator_online(d, p, now),
        .coordinator_last_unix_ns = p->last_wall,
        .read_only = read_only,
        .now_unix_ns = tt_time_wall_ns(),
        .presets = presets,
        .n_presets = n_presets,
    };
    char *json = dash_state_json(&in);
    if (json) {
        dash_hub_set_state(d->hub, in.session->last_seq, json);
        free(json);
    }
}

int main(int argc, char **argv)
{
    tt_conn_opts_t conn = {0};
    const char *http = "127.0.0.1:8080", *password_file = NULL, *rules_file = NULL;
    const char *data = "tutti-dash", *port_file = NULL, *zone = NULL;
    int read_only = 0, quiet = 0;
    long idle_s = DASH_IDLE_TIMEOUT_S, snapshot_every = TT_SNAPSHOT_DEFAULT_EVERY;
    enum { O_HTTP = 1, O_PWFILE, O_RO, O_RULES, O_DATA, O_PORTFILE, O_IDLE, O_QUIET, O_TZ, O_SNAP };
    static const struct option opts[] = {
        TT_CONN_OPTIONS,
        TT_CONN_OPTIONS_RELAY,
        {"http", required_argument, 0, O_HTTP},
        {"http-password", required_argument, 0, O_PWFILE},
        {"password-file", required_argument, 0, O_PWFILE}, /* the older name */
        {"read-only", no_argument, 0, O_RO},
        {"rules", required_argument, 0, O_RULES},
        {"data", required_argument, 0, O_DATA},
        {"http-port-file", required_argument, 0, O_PORTFILE},
        {"port-file", required_argument, 0, O_PORTFILE}, /* the older name */
        {"idle-timeout", required_argument, 0, O_IDLE},
        {"snapshot-every", required_argument, 0, O_SNAP},
        {"quiet", no_argument, 0, O_QUIET},
        {"tz", required_argument, 0, O_TZ},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    /* --config FILE: its keys become flags before these (static: they stay
     * reachable for the whole run, as argv's strings do). */
    static const char *const paths[] = {"key",           "server-key", "bundle", "http-password",
                                        "password-file", "rules",      "data",   "http-port-file",
                                        "port-file",     NULL};
    static const tt_config_spec_t spec = {"tutti-dash", opts, NULL, paths, 0};
    static tt_config_argv_t args;
    if (tt_opts_config(&spec, &argc, &argv, &args) != 0)
        return TT_OPTS_EXIT_USAGE;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (tt_conn_opts_is_flag(c)) {
            if (tt_conn_opts_take(&conn, c, optarg, "tutti-dash") != 0)
                return TT_OPTS_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case O_HTTP: http = optarg; break;
        case O_PWFILE: password_file = optarg; break;
        case O_RO: read_only = 1; break;
        case O_RULES: rules_file = optarg; break;
        case O_DATA: data = optarg; break;
        case O_PORTFILE: port_file = optarg; break;
        case O_IDLE:
            if (tt_opts_parse_long(optarg, 1, 3600, &idle_s) != 0) {
                fprintf(stderr, "tutti-dash: --idle-timeout wants seconds, 1..3600\n");
                return 2;
            }
            break;
        case O_SNAP:
            if (tt_opts_parse_long(optarg, 0, 1000000000L, &snapshot_every) != 0) {
                fprintf(stderr, "tutti-dash: --snapshot-every wants 0..1000000000\n");
                return 2;
            }
            break;
        case O_QUIET: quiet = 1; break;
        case O_TZ: zone = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tutti-dash: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (tt_conn_opts_resolve(&conn) != 0) {
        fprintf(stderr, "tutti-dash: %s (see --help)\n",
                conn.relay && !conn.relay_key_path
                    ? "--relay needs --relay-key, the relay's public certificate"
                    : "--bundle, or --key and --server-key are required");
        return 2;
    }
    char ewhy[TT_WHY_LEN];
    if (tt_conn_opts_check_endpoint(&conn, ewhy) != 0) { /* $TUTTI_COORDINATOR's list */
        fprintf(stderr, "tutti-dash: %s\n", ewhy);
        return 2;
    }
    char host[64];
    unsigned port;
    if (tt_web_parse_listen(http, host, sizeof host, &port) != 0) {
        fprintf(stderr, "tutti-dash: --http wants HOST:PORT, e.g. 127.0.0.1:8080\n");
        return 2;
    }
    if (!tt_web_is_loopback(host) && !password_file) {
        fprintf(stderr,
                "tutti-dash: serving on %s (beyond this machine) needs "
                "--http-password\n",
                host);
        return 2;
    }
    char why[TT_WHY_LEN];
    /* Before any thread: the C library reads the zone process-wide. */
    if (tt_tz_set(zone, why) != 0) {
        fprintf(stderr, "tutti-dash: --tz: %s\n", why);
        return 2;
    }
    tt_diag_init("tutti-dash", NULL);
    tt_diag_set_quiet(quiet);

    char *password = NULL;
    if (password_file && tt_web_password_read(password_file, &password, why) != 0) {
        tt_diag_error("--http-password: %s", why);
        return 1;
    }
    const tt_rules_t *presets[MAX_PRESETS];
    size_t n_presets = 0;
    tt_rules_t custom;
    if (rules_file) {
        if (tt_rules_load(rules_file, &custom, why) != 0) {
            tt_diag_error("--rules: %s", why);
            tt_web_password_free(&password);
            return 1;
        }
        presets[n_presets++] = &custom;
    }
    for (size_t i = 0; i < tt_rules_preset_count() && n_presets < MAX_PRESETS; i++)
        if (!rules_file || strcmp(tt_rules_preset_at(i)->id, custom.id) != 0)
            presets[n_presets++] = tt_rules_preset_at(i);

    char warn[TT_WHY_LEN];
    tt_conn_t tc; /* lives to the end: the endpoint may point into its bundle */
    if (tt_conn_load(&conn, &tc, warn, why) != 0) {
        tt_diag_error("%s", why);
        tt_conn_clear(&tc);
        tt_web_password_free(&password);
        return 1;
    }
    if (warn[0])
        tt_diag_warn("%s", warn);
    if (tc.bundle && tc.bundle->role == TT_ROLE_OBSERVER && !read_only) {
        tt_diag_info("--bundle %s is an observer's: read-only", conn.bundle_path);
        read_only = 1;
    }
    conn.relay = tc.relay; /* --relay's, or the bundle's */
    char relay_key[TT_Z85_KEY_LEN + 1];
    snprintf(relay_key, sizeof relay_key, "%s", tc.relay_key);
    const char *server_key = tc.server_key;
    conn.endpoint = tc.endpoint;
    tt_keypair_t *keys = tc.keys; /* owned here from now on */
    tc.keys = NULL;
    tt_store_t *store = tt_store_open(data, 0, 0, why);
    if (!store) {
        tt_diag_error("%s", why);
        tt_keypair_destroy(&keys);
        tt_conn_clear(&tc);
        tt_web_password_free(&password);
        return 1;
    }
    tt_signals_catch(&stop_flag, NULL);
    signal(SIGPIPE, SIG_IGN); /* a browser that goes away mid-write is not fatal */

    void *ctx = zmq_ctx_new();
    dash_t d = {.hub = dash_hub_new()};
    tt_session_init(&d.state);
    status_poll_t poll_st = {.last_wall = tt_time_wall_ns()};
    dash_http_t *web = NULL;
    int exit_code = 0;
    tt_replica_config_t cfg = {
        .endpoint = conn.endpoint,
        .server_key_z85 = server_key,
        .keys = keys,
        .relay_endpoint = conn.relay,
        .relay_key_z85 = conn.relay ? relay_key : NULL,
        .fold = tt_session_fold,
        .reset = tt_session_reset,
        .fold_arg = &d.state,
        .snapshot_every = (uint64_t)snapshot_every,
        .save = tt_session_snap_save,
        .restore = tt_session_snap_restore,
        .on_record = on_record,
        .on_record_arg = &d,
    };
    if (!d.hub) {
        tt_diag_error("out of memory");
        exit_code = 1;
        goto out;
    }
    /* The feed resumes with what its ring holds, the last DASH_RING
     * records (the state comes from the replica's fold, from a snapshot):
     * a start reads those, not the whole log. */
    uint64_t stored = 0;
    if (tt_store_last_seq(store, &stored, why) != 0 ||
        tt_store_scan(store, stored > DASH_RING ? stored - DASH_RING + 1 : 1, SIZE_MAX, SIZE_MAX,
                      replay_one, &d, why) != 0) {
        tt_diag_error("reading the replica: %s", why);
        exit_code = 1;
        goto out;
    }
    d.replica = tt_replica_new(ctx, &cfg, store, why);
    poll_st.client = d.replica ? tt_client_new(ctx, conn.endpoint, server_key, keys, 0, why) : NULL;
    if (poll_st.client && conn.relay &&
        tt_client_via_relay(poll_st.client, conn.relay, relay_key, why) != 0)
        tt_client_destroy(&poll_st.client);
    if (!d.replica || !poll_st.client) {
        tt_diag_error("%s", why);
        exit_code = 1;
        goto out;
    }
    publish_state(&d, &poll_st, read_only, presets, n_presets);
    publish_report(&d);
    dash_http_config_t hcfg = {
        .host = host,
        .port = port,
        .password = password,
        .read_only = read_only,
        .zmq_ctx = ctx,
        .endpoint = conn.endpoint,
        .server_key_z85 = server_key,
        .keys = keys,
        .relay_endpoint = conn.relay,
        .relay_key_z85 = conn.relay ? relay_key : NULL,
        .presets = presets,
        .n_presets = n_presets,
        .name = read_only ? "observer" : "contractor",
        .idle_timeout_s = (unsigned)idle_s,
    };
    web = dash_http_start(&hcfg, d.hub, why);
    if (!web) {
        tt_diag_error("%s", why);
        exit_code = 1;
        goto out;
    }
    tt_diag_info("serving http://%s:%u/ (%s%s), key %s, times in %s", host, dash_http_port(web),
                 password ? "password" : "no password: loopback only",
                 read_only ? ", read-only" : "", keys->public_z85, tt_tz_name());
    if (port_file) {
        if (tt_web_port_file(port_file, dash_http_port(web), why) != 0) {
            tt_diag_error("--port-file: %s", why);
            exit_code = 1;
            goto out;
        }
    }
    int64_t next_status = 0, next_state = 0, next_report = 0;
    uint64_t published_seq = 0;
    int published_online = -1;
    while (!stop_flag) {
        int64_t now = tt_time_mono_ns();
        if (now >= next_status) {
            status_ask(&poll_st, now);
            next_status = now + (int64_t)STATUS_EVERY_MS * 1000000;
        }
        int wait_ms = tt_replica_tick(d.replica, now);
        if (wait_ms > 100)
            wait_ms = 100;
        zmq_pollitem_t items[TT_REPLICA_POLL_ITEMS + 1];
        int n = tt_replica_poll_items(d.replica, items);
        items[n] = (zmq_pollitem_t){tt_client_socket(poll_st.client), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(items, n + 1, wait_ms) < 0) {
            if (errno == EINTR)
                continue;
            tt_diag_error("polling: %s", zmq_strerror(errno));
            exit_code = 1;
            break;
        }
        int rc = tt_replica_handle(d.replica, items, n, why);
        if (rc != 0) {
            tt_diag_error("%s", why);
            exit_code = (rc == TT_ERR_AUTH || rc == TT_ERR_DENIED || rc == TT_ERR_CRYPTO) ? 3 : 1;
            break;
        }
        int status_came = items[n].revents & ZMQ_POLLIN;
        if (status_came)
            status_read(&poll_st);
        now = tt_time_mono_ns();
        uint64_t seq = d.state.last_seq;
        int online = coordinator_online(&d, &poll_st, now); /* a change shows at once */
        if (seq != published_seq || status_came || online != published_online ||
            now >= next_state) {
            publish_state(&d, &poll_st, read_only, presets, n_presets);
            published_seq = seq;
            published_online = online;
            next_state = now + (int64_t)STATE_EVERY_MS * 1000000;
        }
        if (d.report_dirty || now >= next_report) {
            publish_report(&d);
            next_report = now + (int64_t)REPORT_EVERY_MS * 1000000;
        }
    }
out:
    dash_http_stop(&web);
    if (poll_st.last)
        tutti__envelope__free_unpacked(poll_st.last, NULL);
    tt_client_destroy(&poll_st.client);
    tt_replica_destroy(&d.replica);
    tt_session_clear(&d.state);
    zmq_ctx_term(ctx);
    dash_hub_destroy(&d.hub);
    tt_store_destroy(&store);
    tt_keypair_destroy(&keys);
    tt_web_password_free(&password);
    tt_conn_clear(&tc);
    return exit_code;
}
