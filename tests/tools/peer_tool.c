/* tutti-peer: test tool that holds every connection a room agent holds
 * (requests, updates, clock) with one key and says what arrives on each,
 * so a test can watch what a key still gets after it was revoked.
 *
 *   tutti-peer [--coordinator EP --server-key F.pub --key F.key]
 *              [--seconds S] [--interval-ms MS]
 *   (the connection flags default to $TUTTI_* like every client's)
 *
 * After a hello (for the updates and clock ports) it subscribes to every
 * update and, every interval (default 200 ms), sends a clock ping and a
 * status request. One line per event, flushed at once:
 *   update SEQ               a record published on the updates socket
 *   pong ERR_NS              a clock answer, with the serving clock's own bound
 *   clock-error CODE TEXT    an Error on the clock socket
 *   status SEQ               a status reply (the coordinator's head)
 *   error CODE TEXT          an Error on the request socket
 * Runs S seconds (default 30), then exits 0; 2 on bad usage or when the
 * hello gets no answer within 5 s. */
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_opts.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static void *client(void *ctx, int type, const tt_keypair_t *kp, const char *server_key,
                    const char *ep)
{
    char why[TT_WHY_LEN];
    void *s = zmq_socket(ctx, type);
    if (!s || tt_wire_setup_client(s, kp, server_key, why) != 0 || zmq_connect(s, ep) != 0) {
        fprintf(stderr, "tutti-peer: connecting to %s failed\n", ep);
        if (s)
            zmq_close(s);
        return NULL;
    }
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    return s;
}

static void print_error(const char *prefix, const Tutti__Envelope *e)
{
    printf("%s %d %s\n", prefix, (int)e->error->code, e->error->message);
}

int main(int argc, char **argv)
{
    tt_conn_opts_t conn = {0};
    long seconds = 30, interval_ms = 200;
    enum { O_SECONDS = 1, O_INTERVAL };
    static const struct option opts[] = {
        TT_CONN_OPTIONS,
        {"seconds", required_argument, 0, O_SECONDS},
        {"interval-ms", required_argument, 0, O_INTERVAL},
        {0, 0, 0, 0},
    };
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == O_SECONDS)
            seconds = atol(optarg);
        else if (c == O_INTERVAL)
            interval_ms = atol(optarg);
        else if (c == TT_OPT_COORDINATOR || c == TT_OPT_SERVER_KEY || c == TT_OPT_KEY)
            bad |= tt_conn_opts_set(&conn, c, optarg, NULL) != 0;
        else
            bad = 1;
    }
    if (bad || optind < argc || tt_conn_opts_resolve(&conn) != 0 || seconds < 1 ||
        interval_ms < 10) {
        fprintf(stderr, "usage: tutti-peer --coordinator EP --server-key F.pub --key F.key "
                        "[--seconds S] [--interval-ms MS]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char why[TT_WHY_LEN], server_key[TT_Z85_KEY_LEN + 1];
    tt_keypair_t *kp = tt_keypair_load(conn.key_path, why);
    if (!kp || tt_pubkey_load(conn.server_key_path, server_key, why) != 0) {
        fprintf(stderr, "tutti-peer: %s\n", why);
        tt_keypair_destroy(&kp);
        return 2;
    }
    int rc = 2;
    void *ctx = zmq_ctx_new();
    void *req = client(ctx, ZMQ_DEALER, kp, server_key, conn.endpoint), *sub = NULL, *clk = NULL;
    Tutti__Envelope hello = TUTTI__ENVELOPE__INIT;
    Tutti__Hello h = TUTTI__HELLO__INIT;
    h.program = "tutti-peer";
    hello.body_case = TUTTI__ENVELOPE__BODY_HELLO;
    hello.hello = &h;
    hello.request_id = 1;
    zmq_pollitem_t first = {req, 0, ZMQ_POLLIN, 0};
    tt_wire_msg_t m;
    if (!req || tt_wire_send(req, NULL, 0, &hello, why) != 0 || zmq_poll(&first, 1, 5000) <= 0 ||
        tt_wire_recv(req, 0, 0, &m, why) != 0) {
        fprintf(stderr, "tutti-peer: no hello reply\n");
        goto out;
    }
    if (m.env->body_case != TUTTI__ENVELOPE__BODY_HELLO_REPLY) {
        fprintf(stderr, "tutti-peer: hello answered with body %d\n", (int)m.env->body_case);
        tt_wire_msg_clear(&m);
        goto out;
    }
    char up_ep[256], clock_ep[256];
    tt_wire_endpoint_with_port(conn.endpoint, m.env->hello_reply->updates_port, up_ep,
                               sizeof up_ep);
    tt_wire_endpoint_with_port(conn.endpoint, m.env->hello_reply->clock_port, clock_ep,
                               sizeof clock_ep);
    tt_wire_msg_clear(&m);
    if (!(sub = client(ctx, ZMQ_SUB, kp, server_key, up_ep)) ||
        !(clk = client(ctx, ZMQ_DEALER, kp, server_key, clock_ep)))
        goto out;
    printf("connected\n");

    int64_t end = tt_time_mono_ns() + (int64_t)seconds * 1000000000, next = 0;
    uint64_t id = 1;
    while (tt_time_mono_ns() < end) {
        int64_t now = tt_time_mono_ns();
        if (now >= next) {
            Tutti__Envelope ping = TUTTI__ENVELOPE__INIT, st = TUTTI__ENVELOPE__INIT;
            Tutti__ClockPing p = TUTTI__CLOCK_PING__INIT;
            Tutti__StatusRequest sr = TUTTI__STATUS_REQUEST__INIT;
            p.t1 = now;
            ping.body_case = TUTTI__ENVELOPE__BODY_CLOCK_PING;
            ping.clock_ping = &p;
            ping.request_id = ++id;
            st.body_case = TUTTI__ENVELOPE__BODY_STATUS;
            st.status = &sr;
            st.request_id = ++id;
            tt_wire_send(clk, NULL, 0, &ping, NULL); /* queued while disconnected: fine */
            tt_wire_send(req, NULL, 0, &st, NULL);
            next = now + interval_ms * 1000000;
        }
        zmq_pollitem_t items[3] = {
            {req, 0, ZMQ_POLLIN, 0}, {sub, 0, ZMQ_POLLIN, 0}, {clk, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 3, (long)((next - now) / 1000000) + 1) < 0)
            continue;
        for (int i = 0; i < 3; i++) {
            if (!(items[i].revents & ZMQ_POLLIN) ||
                tt_wire_recv(items[i].socket, 0, ZMQ_DONTWAIT, &m, why) != 0)
                continue;
            const Tutti__Envelope *e = m.env;
            if (e->body_case == TUTTI__ENVELOPE__BODY_ERROR)
                print_error(i == 2 ? "clock-error" : "error", e);
            else if (e->body_case == TUTTI__ENVELOPE__BODY_UPDATE)
                printf("update %llu\n", (unsigned long long)e->update->seq);
            else if (e->body_case == TUTTI__ENVELOPE__BODY_CLOCK_PONG)
                printf("pong %llu\n", (unsigned long long)e->clock_pong->server_error_ns);
            else if (e->body_case == TUTTI__ENVELOPE__BODY_STATUS_REPLY)
                printf("status %llu\n", (unsigned long long)e->status_reply->last_seq);
            tt_wire_msg_clear(&m); /* heartbeats on the updates socket: not printed */
        }
    }
    rc = 0;
out:
    if (clk)
        zmq_close(clk);
    if (sub)
        zmq_close(sub);
    if (req)
        zmq_close(req);
    zmq_ctx_term(ctx);
    tt_keypair_destroy(&kp);
    return rc;
}
