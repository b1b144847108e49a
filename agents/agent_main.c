/* tutti-agent: one per room. Keeps a verified replica of the session log
 * and (in later releases) the clock, click and capture for its room. */
#define _POSIX_C_SOURCE 200809L
#include "agent_opts.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_replica.h"
#include "tt_store.h"
#include "tt_time.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t stop_flag = 0;
static void on_stop(int sig) { (void)sig; stop_flag = 1; }

static void usage(FILE *out)
{
    fprintf(out,
        "Usage: tutti-agent --room NAME --key FILE.key --server-key FILE.pub [options]\n"
        "\n"
        "The room agent: keeps a verified replica of the coordinator's session log in\n"
        "its own LMDB store, resumes from its last sequence after any restart, and\n"
        "reports its presence with heartbeats.\n"
        "\n"
        "Options:\n"
        "  --room NAME           this room's name in the access file (required)\n"
        "  --coordinator EP      coordinator request endpoint\n"
        "                        (default: $TUTTI_COORDINATOR or tcp://127.0.0.1:7700)\n"
        "  --server-key FILE     coordinator's public certificate ($TUTTI_SERVER_KEY)\n"
        "  --key FILE.key        this room's certificate ($TUTTI_KEY)\n"
        "  --data DIR            replica store (default: ./tutti-agent-ROOM)\n"
        "  --updates EP          updates endpoint override (default: learned from the\n"
        "                        coordinator; use when a relay or NAT sits in between)\n"
        "  --map-size-mb N       LMDB map size (default: 4096)\n"
        "  --quiet               log warnings and errors only\n"
        "  -h, --help            this text\n"
        "\n"
        "Exit status: 0 after SIGINT/SIGTERM, 3 when the coordinator refuses the key\n"
        "or the key is not this room's, 1 on other errors, 2 on bad usage.\n"
        "\n"
        "Example:\n"
        "  tutti-agent --room stage --coordinator tcp://10.0.0.5:7700 \\\n"
        "      --server-key keys/coordinator.pub --key keys/stage.key --data /var/lib/tutti-stage\n");
}

static void on_record(void *arg, const Tutti__Record *rec)
{
    (void)arg;
    if (rec->body_case == TUTTI__RECORD__BODY_NOTE)
        tt_diag_info("note %llu from %s: %s", (unsigned long long)rec->seq, rec->actor,
                     rec->note->text);
}

int main(int argc, char **argv)
{
    const char *room = NULL, *endpoint = NULL, *server_key_path = NULL, *key_path = NULL;
    const char *data = NULL, *updates = NULL;
    long map_mb = 0;
    int quiet = 0;
    enum { O_ROOM = 1, O_COORD, O_SKEY, O_KEY, O_DATA, O_UPDATES, O_MAP, O_QUIET };
    static const struct option opts[] = {
        {"room", required_argument, 0, O_ROOM},
        {"coordinator", required_argument, 0, O_COORD},
        {"server-key", required_argument, 0, O_SKEY},
        {"key", required_argument, 0, O_KEY},
        {"data", required_argument, 0, O_DATA},
        {"updates", required_argument, 0, O_UPDATES},
        {"map-size-mb", required_argument, 0, O_MAP},
        {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_ROOM: room = optarg; break;
        case O_COORD: endpoint = optarg; break;
        case O_SKEY: server_key_path = optarg; break;
        case O_KEY: key_path = optarg; break;
        case O_DATA: data = optarg; break;
        case O_UPDATES: updates = optarg; break;
        case O_MAP:
            if (opt_parse_long(optarg, 1, 1024 * 1024, &map_mb) != 0) {
                fprintf(stderr, "tutti-agent: --map-size-mb wants 1..1048576\n");
                return 2;
            }
            break;
        case O_QUIET: quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tutti-agent: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    endpoint = opt_or_env(endpoint, "TUTTI_COORDINATOR", "tcp://127.0.0.1:7700");
    server_key_path = opt_or_env(server_key_path, "TUTTI_SERVER_KEY", NULL);
    key_path = opt_or_env(key_path, "TUTTI_KEY", NULL);
    if (!room || !server_key_path || !key_path) {
        fprintf(stderr, "tutti-agent: --room, --key and --server-key are required (see --help)\n");
        return 2;
    }
    char default_data[256];
    if (!data) {
        snprintf(default_data, sizeof default_data, "tutti-agent-%s", room);
        data = default_data;
    }
    tt_diag_init("tutti-agent", room);
    tt_diag_set_quiet(quiet);

    char why[TT_WHY_LEN];
    char server_key[TT_Z85_KEY_LEN + 1];
    if (tt_pubkey_load(server_key_path, server_key, why) != 0) {
        tt_diag_error("--server-key: %s", why);
        return 1;
    }
    tt_keypair_t *keys = tt_keypair_load(key_path, why);
    if (!keys) {
        tt_diag_error("--key: %s", why);
        return 1;
    }
    tt_store_t *store = tt_store_open(data, 0, (size_t)map_mb, why);
    if (!store) {
        tt_diag_error("%s", why);
        tt_keypair_destroy(&keys);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    void *ctx = zmq_ctx_new();
    tt_replica_config_t cfg = {
        .endpoint = endpoint,
        .server_key_z85 = server_key,
        .keys = keys,
        .updates_endpoint = updates,
        .expect_name = room,
        .expect_role = "room",
        .on_record = on_record,
    };
    int exit_code = 0;
    tt_replica_t *rep = tt_replica_new(ctx, &cfg, store, why);
    if (!rep) {
        tt_diag_error("%s", why);
        exit_code = 1;
        goto out;
    }
    tt_diag_info("room %s, key %s, replica %s at %llu", room, keys->public_z85, data,
                 (unsigned long long)tt_replica_state(rep)->last_seq);
    while (!stop_flag) {
        int wait_ms = tt_replica_tick(rep, tt_time_mono_ns());
        zmq_pollitem_t items[TT_REPLICA_POLL_ITEMS];
        int n = tt_replica_poll_items(rep, items);
        if (zmq_poll(items, n, wait_ms) < 0) {
            if (errno == EINTR)
                continue;
            tt_diag_error("polling: %s", zmq_strerror(errno));
            exit_code = 1;
            break;
        }
        int rc = tt_replica_handle(rep, items, n, why);
        if (rc != 0) {
            tt_diag_error("%s", why);
            exit_code = (rc == TT_ERR_AUTH || rc == TT_ERR_DENIED || rc == TT_ERR_CRYPTO) ? 3 : 1;
            break;
        }
    }
    if (exit_code == 0)
        tt_diag_info("stopping; replica at %llu", (unsigned long long)tt_replica_state(rep)->last_seq);
out:
    tt_replica_destroy(&rep);
    zmq_ctx_term(ctx);
    tt_store_destroy(&store);
    tt_keypair_destroy(&keys);
    return exit_code;
}
