/* tutti-standby-standin: a stand-in for a standby coordinator whose
 * primary serves (issue 16): a CURVE ROUTER with the coordinator's key
 * that answers every request with ERROR_STANDBY, so clients given
 * --coordinator STANDIN,PRIMARY can be seen to move on (it_coordinator_list).
 *
 *   tutti-standby-standin --key coordinator.key --endpoint-file FILE
 *                         [--bind EP] [--seconds S]
 *
 * Binds EP (default tcp://127.0.0.1:*), writes the bound endpoint to FILE,
 * prints "standby-answer N" for the Nth request answered, runs S seconds
 * (default 60) and exits 0; 2 on bad usage or when it cannot start. */
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

int main(int argc, char **argv)
{
    const char *key = NULL, *file = NULL, *bind = "tcp://127.0.0.1:*";
    long seconds = 60;
    enum { O_KEY = 1, O_FILE, O_BIND, O_SECONDS };
    static const struct option opts[] = {
        {"key", required_argument, 0, O_KEY},
        {"endpoint-file", required_argument, 0, O_FILE},
        {"bind", required_argument, 0, O_BIND},
        {"seconds", required_argument, 0, O_SECONDS},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == O_KEY)
            key = optarg;
        else if (c == O_FILE)
            file = optarg;
        else if (c == O_BIND)
            bind = optarg;
        else if (c == O_SECONDS)
            seconds = atol(optarg);
        else
            key = NULL, file = NULL, seconds = 0;
    }
    if (!key || !file || seconds < 1 || optind < argc) {
        fprintf(stderr, "usage: tutti-standby-standin --key F.key --endpoint-file FILE "
                        "[--bind EP] [--seconds S]\n");
        return 2;
    }
    char why[TT_WHY_LEN];
    tt_keypair_t *kp = tt_keypair_load(key, why);
    if (!kp) {
        fprintf(stderr, "tutti-standby-standin: --key: %s\n", why);
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_ROUTER);
    char ep[256];
    size_t len = sizeof ep;
    FILE *f = NULL;
    int rc = 2;
    if (!sock || tt_wire_setup_server(sock, kp, why) != 0 || zmq_bind(sock, bind) != 0 ||
        zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &len) != 0 || !(f = fopen(file, "w"))) {
        fprintf(stderr, "tutti-standby-standin: cannot serve at %s\n", bind);
        goto out;
    }
    fprintf(f, "%s\n", ep);
    fclose(f);
    int64_t end = tt_time_mono_ns() + seconds * 1000000000LL;
    unsigned long answered = 0;
    while (tt_time_mono_ns() < end) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 100) <= 0)
            continue;
        tt_wire_msg_t m;
        if (tt_wire_recv(sock, 1, ZMQ_DONTWAIT, &m, why) != 0)
            continue;
        tt_wire_send_error(sock, m.routing_id, m.routing_id_len, m.env->request_id,
                           TUTTI__ERROR_CODE__ERROR_STANDBY,
                           "this coordinator is a standby and its primary serves");
        tt_wire_msg_clear(&m);
        printf("standby-answer %lu\n", ++answered);
        fflush(stdout);
    }
    rc = 0;
out:
    if (sock)
        zmq_close(sock);
    zmq_ctx_term(ctx);
    tt_keypair_destroy(&kp);
    return rc;
}
