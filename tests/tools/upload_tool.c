/* tutti-upload-tool: agent_upload for one capture directory, as a process.
 *
 * A test driver: runs the room agent's uploader on DIR until every
 * manifest there is "confirmed" or "refused", following the coordinator's
 * upload port through restarts by saying hello every second (what the
 * agent's replica does). Prints one line per event on stdout.
 */
#define _POSIX_C_SOURCE 200809L
#include "agent_upload.h"
#include "tt_client.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_opts.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t stop_flag = 0;
static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: tutti-upload-tool --dir DIR --key FILE.key --server-key FILE.pub [options]\n"
            "\n"
            "Uploads every manifest in DIR whose state is \"recorded\" (NAME.wav.json beside\n"
            "NAME.wav) to the coordinator with the room agent's uploader, and exits once\n"
            "each is \"confirmed\" or \"refused\". A test tool: tutti-agent does the same\n"
            "for its capture directory.\n"
            "\n"
            "Options:\n");
    tt_conn_opts_usage(out, 0);
    fprintf(out, "                        (--key: the room's; the upload port comes from the\n"
                 "                        coordinator's hello)\n"
                 "  --dir DIR             the capture directory (required)\n"
                 "  --upload-rate B       cap in bytes per second (default 0: none)\n"
                 "  --upload-port N       the upload service's port on the coordinator's host\n"
                 "                        (default: from its hello replies, followed across\n"
                 "                        restarts)\n"
                 "  --timeout-s N         give up after N seconds, exit 1 (default 120)\n"
                 "  --quiet               log warnings and errors only\n"
                 "  -h, --help            this text\n"
                 "\n"
                 "Prints: \"started NAME OFFSET SIZE\", \"retry NAME REASON\",\n"
                 "\"confirmed NAME SEQ\", \"refused NAME REASON\", \"done\".\n"
                 "Exit status: 0 all settled, 1 failure or timeout, 2 bad usage.\n"
                 "\n"
                 "Example:\n"
                 "  tutti-upload-tool --dir capture --key keys/stage.key --upload-rate 1000000\n");
}

/* Hello: the upload port, or 0 when nobody answered. *auth set when the
 * coordinator refused the key. */
static unsigned hello_port(tt_client_t *c, int *auth)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT, *reply = NULL;
    Tutti__Hello h = TUTTI__HELLO__INIT;
    h.program = "tutti-upload-tool";
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    char why[TT_WHY_LEN];
    int rc = tt_client_request(c, &env, &reply, 1000, why);
    if (rc == TT_ERR_AUTH && !*auth) {
        tt_diag_error("%s", why);
        *auth = 1;
    }
    if (rc != 0)
        return 0;
    unsigned port =
        reply->body_case == TUTTI__ENVELOPE__BODY_HELLO_REPLY ? reply->hello_reply->upload_port : 0;
    tutti__envelope__free_unpacked(reply, NULL);
    return port;
}

int main(int argc, char **argv)
{
    tt_conn_opts_t conn = {0};
    const char *dir = NULL;
    long rate = 0, timeout_s = 120, fixed_port = 0;
    int quiet = 0;
    enum { O_DIR = 1, O_RATE, O_TIMEOUT, O_QUIET, O_PORT };
    static const struct option opts[] = {
        TT_CONN_OPTIONS,
        {"dir", required_argument, 0, O_DIR},
        {"upload-rate", required_argument, 0, O_RATE},
        {"upload-port", required_argument, 0, O_PORT},
        {"timeout-s", required_argument, 0, O_TIMEOUT},
        {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case TT_OPT_COORDINATOR:
        case TT_OPT_SERVER_KEY:
        case TT_OPT_KEY: {
            char cwhy[TT_WHY_LEN];
            if (tt_conn_opts_set(&conn, c, optarg, cwhy) != 0) {
                fprintf(stderr, "tutti-upload-tool: %s\n", cwhy);
                return 2;
            }
            break;
        }
        case O_DIR: dir = optarg; break;
        case O_RATE:
            if (tt_opts_parse_long(optarg, 0, 10L * 1000 * 1000 * 1000, &rate) != 0) {
                fprintf(stderr, "tutti-upload-tool: --upload-rate wants bytes per second\n");
                return 2;
            }
            break;
        case O_TIMEOUT:
            if (tt_opts_parse_long(optarg, 1, 86400, &timeout_s) != 0) {
                fprintf(stderr, "tutti-upload-tool: --timeout-s wants 1..86400\n");
                return 2;
            }
            break;
        case O_QUIET: quiet = 1; break;
        case O_PORT:
            if (tt_opts_parse_long(optarg, 1, 65535, &fixed_port) != 0) {
                fprintf(stderr, "tutti-upload-tool: --upload-port wants 1..65535\n");
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (tt_conn_opts_resolve(&conn) != 0 || !dir || optind < argc) {
        usage(stderr);
        return 2;
    }
    tt_diag_init("tutti-upload-tool", NULL);
    tt_diag_set_quiet(quiet);
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char why[TT_WHY_LEN], server_key[TT_Z85_KEY_LEN + 1];
    if (tt_pubkey_load(conn.server_key_path, server_key, why) != 0) {
        tt_diag_error("--server-key: %s", why);
        return 1;
    }
    tt_keypair_t *keys = tt_keypair_load(conn.key_path, why);
    if (!keys) {
        tt_diag_error("--key: %s", why);
        return 1;
    }
    void *ctx = zmq_ctx_new();
    int rc = 1;
    agent_upload_t *up = NULL;
    tt_client_t *cl = tt_client_new(ctx, conn.endpoint, server_key, keys, 0, why);
    if (!cl) {
        tt_diag_error("%s", why);
        goto out;
    }
    int auth = 0;
    unsigned port = fixed_port ? (unsigned)fixed_port : hello_port(cl, &auth);
    agent_upload_config_t cfg = {
        .ctx = ctx,
        .endpoint = conn.endpoint,
        .upload_port = port,
        .server_key_z85 = server_key,
        .keys = keys,
        .capture_dir = dir,
        .rate_bytes_per_s = (uint64_t)rate,
    };
    if (!(up = agent_upload_start(&cfg, why))) {
        tt_diag_error("%s", why);
        goto out;
    }
    int64_t give_up = tt_time_mono_ns() + (int64_t)timeout_s * 1000000000LL;
    int64_t next_hello = tt_time_mono_ns() + 1000000000LL;
    while (!stop_flag) {
        int64_t now = tt_time_mono_ns();
        if (now > give_up) {
            tt_diag_error("not settled within %ld s", timeout_s);
            break;
        }
        if (!fixed_port && now >= next_hello) {
            unsigned p = hello_port(cl, &auth);
            if (p && p != port) {
                port = p;
                agent_upload_set_port(up, port);
            }
            next_hello = tt_time_mono_ns() + 1000000000LL;
        }
        zmq_pollitem_t items[1] = {{agent_upload_socket(up), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 1, 200) < 0 && errno != EINTR)
            break;
        agent_upload_event_t ev;
        int done = 0;
        while (agent_upload_read(up, &ev)) {
            switch (ev.kind) {
            case AGENT_UPLOAD_SCANNED:
                done = ev.pending == 0; /* scans run only between files */
                break;
            case AGENT_UPLOAD_STARTED:
                printf("started %s %llu %llu\n", ev.name, (unsigned long long)ev.offset,
                       (unsigned long long)ev.size);
                break;
            case AGENT_UPLOAD_RETRY: printf("retry %s %s\n", ev.name, ev.reason); break;
            case AGENT_UPLOAD_CONFIRMED:
                printf("confirmed %s %llu\n", ev.name, (unsigned long long)ev.seq);
                break;
            case AGENT_UPLOAD_REFUSED: printf("refused %s %s\n", ev.name, ev.reason); break;
            case AGENT_UPLOAD_PROGRESS: break; /* started/confirmed say enough here */
            }
        }
        if (done) {
            printf("done\n");
            rc = 0;
            break;
        }
    }
    if (stop_flag)
        rc = 0;
out:
    agent_upload_stop(&up);
    tt_client_destroy(&cl);
    zmq_ctx_term(ctx);
    tt_keypair_destroy(&keys);
    return rc;
}
