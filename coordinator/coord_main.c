/* tutti-coordinator: the session's single authority. */
#define _POSIX_C_SOURCE 200809L
#include "coord_osc.h"
#include "coord_server.h"
#include "tt_config.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_opts.h"
#include "tt_signals.h"
#include "tt_snapshot.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static volatile sig_atomic_t stop_flag = 0;
static volatile sig_atomic_t reload_flag = 0;

/* Every connection costs a descriptor: take all the hard limit allows (a
 * default soft limit of 1024 is a few hundred clients). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        tt_diag_warn("reading the file descriptor limit: %s", strerror(errno));
        return;
    }
    rlim_t soft = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            tt_diag_warn("raising the file descriptor limit from %llu to %llu: %s",
                         (unsigned long long)soft, (unsigned long long)rl.rlim_max,
                         strerror(errno));
            return;
        }
    }
    tt_diag_info("file descriptors: soft limit %llu (was %llu), hard limit %llu",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)soft,
                 (unsigned long long)rl.rlim_max);
}

/* A whole number in [min, max] from optarg, or -1 after saying what was wanted. */
static long long number_arg(const char *name, long long min, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(optarg, &end, 10);
    if (errno || end == optarg || *end || v < min || v > max) {
        fprintf(stderr, "tutti-coordinator: %s wants %lld..%lld\n", name, min, max);
        return -1;
    }
    return v;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: tutti-coordinator --config FILE [options]\n"
            "       tutti-coordinator --key FILE.key --access FILE [options]\n"
            "\n"
            "The session's single authority: keeps the signed, hash-chained log in LMDB,\n"
            "answers requests from agents and the operator CLI over CURVE-encrypted\n"
            "ZeroMQ, and publishes every committed record to the room agents.\n"
            "\n"
            "Options:\n" TT_CONFIG_HELP
            "                        (tutti init writes one: coordinator.ini)\n"
            "  --data DIR            store directory (LMDB + signing.key), created if absent\n"
            "                        (default: ./tutti-coordinator; a service:\n"
            "                        /var/lib/tutti/coordinator)\n"
            "  --key FILE.key        the coordinator's CURVE certificate (tutti keygen)\n"
            "  --access FILE         access file: lines of 'ROLE NAME PUBLIC-KEY'; roles are\n"
            "                        operator, room, contractor, observer. SIGHUP rereads it.\n"
            "  --bind ENDPOINT       request endpoint (default: tcp://127.0.0.1:7700);\n"
            "                        tcp://HOST:* picks a free port\n"
            "  --pub-bind ENDPOINT   updates endpoint (default: same host, a free port;\n"
            "                        clients learn it from the hello reply)\n"
            "  --clock-bind ENDPOINT clock service endpoint (default: same host, a free port;\n"
            "                        clients learn it from the hello reply)\n"
            "  --upload-bind ENDPOINT\n"
            "                        media upload and fetch endpoint (default: same host, a\n"
            "                        free port; clients learn it from the hello reply). Files\n"
            "                        go to DATA/media\n"
            "  --media-channels N    most channels a room's file may hold (default 1): a file\n"
            "                        is refused above (take length + 60 s) * rate * 3 bytes *\n"
            "                        N + 1 MiB\n"
            "  --endpoint-file PATH  once listening, write the request, updates and clock\n"
            "                        endpoints here, one per line\n"
            "  --session NAME        session name recorded in a new store (default: session)\n"
            "  --map-size-mb N       LMDB map size (default: 4096)\n"
            "  --snapshot-every N    store a snapshot of the folded state with the commit\n"
            "                        that passes every Nth record (default: 1000), so a start\n"
            "                        checks and folds only the records after the newest one;\n"
            "                        0: write none and fold the whole log at start\n"
            "  --room-timeout-ms N   a room silent this long counts as offline (default: 2200)\n"
            "  --upload-parts N      unfinished uploads a room may hold (default: 8)\n"
            "  --upload-part-max-mb N\n"
            "                        bytes a room's unfinished uploads may hold, each counted\n"
            "                        at its offered size (default: 4096)\n"
            "  --upload-part-expire-s S\n"
            "                        an unfinished upload untouched this long is removed\n"
            "                        (default: 3600)\n"
            "  --osc-surface PORT    an OSC control surface on UDP 127.0.0.1:PORT (also\n"
            "                        127.0.0.1:PORT; other hosts are refused: it has no\n"
            "                        authentication of its own). /tutti/arm s, /tutti/roll s\n"
            "                        [i from-bar], /tutti/stop, /tutti/rate s i s [s] (a\n"
            "                        take's rating) run as --osc-as NAME, through the same\n"
            "                        role and rule checks as that identity's CLI; replies\n"
            "                        /tutti/reply to the sender (README: \"OSC\")\n"
            "  --osc-as NAME         the access file's name whose role the surface has\n"
            "                        (required with --osc-surface), e.g. --osc-surface 9100\n"
            "                        --osc-as desk\n"
            "  --standby-of ENDPOINT start as the standby of the primary whose request\n"
            "                        endpoint this is: a verified replica of its log in --data,\n"
            "                        its own DATA/signing.key (named in the log by the\n"
            "                        primary), every write acknowledged only once it holds it;\n"
            "                        clients are answered ERROR_STANDBY until the primary is\n"
            "                        lost AND a client asks, then it takes over (README:\n"
            "                        \"Standby coordinator\"). The access file's one entry of\n"
            "                        role coordinator that is not this one's key is the peer\n"
            "  --peer ENDPOINT       a primary's standby endpoint: at start, if the peer there\n"
            "                        serves (it took over), rejoin as its standby after\n"
            "                        checking this log is a prefix of its log (exit 4 if not)\n"
            "  --advertise ENDPOINT  a standby's request endpoint as the primary dials it\n"
            "                        (default: the --bind endpoint as bound)\n"
            "  --standby-ack-ms N    how long a primary waits for its standby's ack before it\n"
            "                        runs alone (default: 1000)\n"
            "  --quiet               log warnings and errors only\n"
            "  -h, --help            this text\n"
            "\n"
            "Signals: SIGINT/SIGTERM stop cleanly; SIGHUP reloads the access file (a removed\n"
            "key's requests, clock pings and uploads are refused from then on, and its\n"
            "updates stop: the updates port drops its connections, every subscriber\n"
            "reconnects through the access check).\n"
            "The soft file descriptor limit is raised to the hard one at start; at the\n"
            "limit a port refuses connections for a while rather than retry at once.\n"
            "Exit status: 0 after SIGINT/SIGTERM, 3 when the store is damaged or its log\n"
            "does not verify, 4 when a standby's log is not a prefix of its primary's (a\n"
            "rejoin refused), 1 on other errors, 2 on bad usage.\n"
            "\n"
            "Example:\n"
            "  tutti init scoring --coordinator tcp://studio.example.org:7700\n"
            "  tutti-coordinator --config scoring/coordinator.ini\n"
            "or by hand:\n"
            "  tutti keygen coordinator --dir keys\n"
            "  tutti-coordinator --data /var/lib/tutti --key keys/coordinator.key \\\n"
            "      --access /etc/tutti/access --bind tcp://0.0.0.0:7700\n");
}

int main(int argc, char **argv)
{
    coord_config_t cfg = {
        .data_dir = "tutti-coordinator",
        .bind = "tcp://127.0.0.1:7700",
        .session_name = "session",
        .room_timeout_ms = 2200,
        .snapshot_every = TT_SNAPSHOT_DEFAULT_EVERY,
        .osc_port = -1,
    };
    int quiet = 0;
    enum {
        O_DATA = 1,
        O_KEY,
        O_ACCESS,
        O_BIND,
        O_PUB,
        O_EPFILE,
        O_SESSION,
        O_MAP,
        O_RTO,
        O_QUIET,
        O_CLOCK,
        O_UPLOAD,
        O_CHANNELS,
        O_PARTS,
        O_PART_MB,
        O_PART_EXPIRE,
        O_SNAPSHOT,
        O_OSC_SURFACE,
        O_OSC_AS,
        O_STANDBY_OF,
        O_PEER,
        O_ADVERTISE,
        O_ACK_MS
    };
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA},
        {"key", required_argument, 0, O_KEY},
        {"access", required_argument, 0, O_ACCESS},
        {"bind", required_argument, 0, O_BIND},
        {"pub-bind", required_argument, 0, O_PUB},
        {"endpoint-file", required_argument, 0, O_EPFILE},
        {"clock-bind", required_argument, 0, O_CLOCK},
        {"upload-bind", required_argument, 0, O_UPLOAD},
        {"media-channels", required_argument, 0, O_CHANNELS},
        {"session", required_argument, 0, O_SESSION},
        {"map-size-mb", required_argument, 0, O_MAP},
        {"room-timeout-ms", required_argument, 0, O_RTO},
        {"upload-parts", required_argument, 0, O_PARTS},
        {"upload-part-max-mb", required_argument, 0, O_PART_MB},
        {"upload-part-expire-s", required_argument, 0, O_PART_EXPIRE},
        {"snapshot-every", required_argument, 0, O_SNAPSHOT},
        {"osc-surface", required_argument, 0, O_OSC_SURFACE},
        {"osc-as", required_argument, 0, O_OSC_AS},
        {"standby-of", required_argument, 0, O_STANDBY_OF},
        {"peer", required_argument, 0, O_PEER},
        {"advertise", required_argument, 0, O_ADVERTISE},
        {"standby-ack-ms", required_argument, 0, O_ACK_MS},
        {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    /* --config FILE: its keys become flags before these (static: they stay
     * reachable for the whole run, as argv's strings do). */
    static const char *const paths[] = {"data", "key", "access", "endpoint-file", NULL};
    static const tt_config_spec_t spec = {"tutti-coordinator", opts, NULL, paths, 0};
    static tt_config_argv_t args;
    if (tt_opts_config(&spec, &argc, &argv, &args) != 0)
        return TT_OPTS_EXIT_USAGE;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: cfg.data_dir = optarg; break;
        case O_KEY: cfg.key_path = optarg; break;
        case O_ACCESS: cfg.access_path = optarg; break;
        case O_BIND: cfg.bind = optarg; break;
        case O_PUB: cfg.pub_bind = optarg; break;
        case O_EPFILE: cfg.endpoint_file = optarg; break;
        case O_CLOCK: cfg.clock_bind = optarg; break;
        case O_UPLOAD: cfg.upload_bind = optarg; break;
        case O_CHANNELS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 64) {
                fprintf(stderr, "tutti-coordinator: --media-channels wants 1..64\n");
                return 2;
            }
            cfg.media_channels = (int)v;
            break;
        }
        case O_SESSION: cfg.session_name = optarg; break;
        case O_MAP: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1024 * 1024) {
                fprintf(stderr, "tutti-coordinator: --map-size-mb wants 1..1048576\n");
                return 2;
            }
            cfg.map_mb = (size_t)v;
            break;
        }
        case O_RTO: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 100 || v > 600000) {
                fprintf(stderr, "tutti-coordinator: --room-timeout-ms wants 100..600000\n");
                return 2;
            }
            cfg.room_timeout_ms = (int)v;
            break;
        }
        case O_PARTS: {
            long long v = number_arg("--upload-parts", 1, 64);
            if (v < 0)
                return 2;
            cfg.part_limits.max_parts = (unsigned)v;
            break;
        }
        case O_PART_MB: {
            long long v = number_arg("--upload-part-max-mb", 1, 16 * 1024 * 1024);
            if (v < 0)
                return 2;
            cfg.part_limits.max_bytes = (uint64_t)v * 1024 * 1024;
            break;
        }
        case O_PART_EXPIRE: {
            long long v = number_arg("--upload-part-expire-s", 1, 30LL * 24 * 3600);
            if (v < 0)
                return 2;
            cfg.part_limits.expire_s = v;
            break;
        }
        case O_SNAPSHOT: {
            long long v = number_arg("--snapshot-every", 0, 1000000000LL);
            if (v < 0)
                return 2;
            cfg.snapshot_every = (uint64_t)v;
            break;
        }
        case O_OSC_SURFACE: {
            char bad[TT_WHY_LEN];
            unsigned port;
            if (coord_osc_parse_bind(optarg, &port, bad) != 0) {
                fprintf(stderr, "tutti-coordinator: %s\n", bad);
                return 2;
            }
            cfg.osc_port = (int)port;
            break;
        }
        case O_OSC_AS: cfg.osc_as = optarg; break;
        case O_STANDBY_OF: cfg.standby_of = optarg; break;
        case O_PEER: cfg.peer = optarg; break;
        case O_ADVERTISE: cfg.advertise = optarg; break;
        case O_ACK_MS: {
            long long v = number_arg("--standby-ack-ms", 50, 60000);
            if (v < 0)
                return 2;
            cfg.standby_ack_ms = (int)v;
            break;
        }
        case O_QUIET: quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tutti-coordinator: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if ((cfg.osc_port >= 0) != (cfg.osc_as != NULL)) {
        fprintf(stderr, "tutti-coordinator: --osc-surface and --osc-as go together\n");
        return 2;
    }
    if (cfg.standby_of && cfg.peer) {
        fprintf(stderr, "tutti-coordinator: --standby-of and --peer: give one (the other "
                        "coordinator's request endpoint)\n");
        return 2;
    }
    if (!cfg.key_path || !cfg.access_path) {
        fprintf(
            stderr,
            "tutti-coordinator: --key and --access (or --config FILE) are required (see --help)\n");
        return 2;
    }
    tt_diag_init("tutti-coordinator", NULL);
    tt_diag_set_quiet(quiet);
    raise_fd_limit();

    tt_signals_catch(&stop_flag, &reload_flag);

    char why[TT_WHY_LEN];
    coord_server_t *s = coord_server_new(&cfg, why);
    if (!s) {
        int rc = tt_error_last();
        tt_diag_error("%s", why);
        if (coord_server_exit_hint())
            return coord_server_exit_hint();
        return rc == TT_ERR_CORRUPT ? 3 : 1; /* 3: a damaged or foreign log */
    }
    int rc = coord_server_run(s, &stop_flag, &reload_flag, why);
    if (rc != 0)
        tt_diag_error("%s", why);
    coord_server_destroy(&s);
    tt_diag_info("stopped");
    if (rc && coord_server_exit_hint())
        return coord_server_exit_hint();
    return rc ? 1 : 0;
}
