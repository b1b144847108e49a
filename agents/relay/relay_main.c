/* tutti-relay: a site relay between one site's agents, dashboards and CLI
 * and the coordinator, so the site holds one set of connections over the
 * WAN instead of one per program.
 *
 * Updates: the ZeroMQ guide's XSUB/XPUB proxy. The relay subscribes to
 * everything upstream and fans each record out to its site; records are
 * signed by the coordinator, so the relay cannot forge one.
 *
 * Requests: a client behind the relay seals each request to the
 * coordinator's key (tt_seal.h, tutti.proto: Sealed); the relay passes the
 * box on over its own DEALER under a request id of its own and maps the
 * reply back to the caller's routing id and request id. It cannot read,
 * alter or originate a request: its key has the relay role, which may
 * only read, and the coordinator checks every sealed request against the
 * caller's key and role. Unsealed, the relay answers only a status request
 * about itself (RelayStatus).
 *
 * Downstream handshakes are admitted by a ZAP handler against --access
 * (reread on SIGHUP), the same file format as the coordinator's. One
 * thread, one zmq_poll loop.
 *
 * Clock: a clock client (its own thread) keeps the relay's estimate of
 * session time against the coordinator's clock service, and a clock
 * service (its own thread) serves the site through that estimate, stating
 * its error bound in every pong (ClockPong.server_error_ns), which the
 * site's agents add to the bound they report. The site's clocks thus ping
 * across the LAN, and only the relay across the WAN.
 */
#define _POSIX_C_SOURCE 200809L
#include "tt_access.h"
#include "tt_client.h"
#include "tt_clock_client.h"
#include "tt_clock_map.h"
#include "tt_clock_service.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_opts.h"
#include "tt_signals.h"
#include "tt_time.h"
#include "tt_wire.h"
#include "tt_zap.h"

#include <sodium.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define RELAY_BIND_DEFAULT "tcp://127.0.0.1:7710"
#define RELAY_FLIGHTS 8192                   /* requests awaiting their reply upstream */
#define RELAY_FLIGHT_NS (120LL * 1000000000) /* a reply later than this is not awaited */
#define HELLO_EVERY_MS 2000
#define STATUS_LOG_MS 60000
#define RELAY_HWM 200000 /* updates queued per subscriber, as the coordinator's PUB */

static volatile sig_atomic_t stop_flag = 0;
static volatile sig_atomic_t reload_flag = 0;

/* A request passed upstream, awaiting its reply. */
typedef struct {
    uint64_t up_id; /* ours upstream; 0 = free */
    uint64_t down_id;
    uint8_t rid[TT_WIRE_MAX_ROUTING_ID];
    size_t rid_len;
    int64_t since_ns;
} flight_t;

typedef struct {
    const char *coordinator, *bind, *access_path;
    char server_key[TT_Z85_KEY_LEN + 1];
    int alter_sealed;  /* tests only: flip a byte of every sealed box */
    int replay_sealed; /* tests only: send every sealed request twice */
    tt_keypair_t *keys;
    tt_access_t *access;

    void *ctx, *zap, *router, *xpub, *xsub;
    tt_zap_quiet_t zap_quiet;
    tt_client_t *up;
    int up_connected, helloed;
    uint64_t hello_id;
    int64_t next_hello_ns, next_status_ns;
    char name[TT_ACCESS_MAX_NAME + 1];
    char xsub_ep[256];

    tt_clock_box_t box; /* the relay's estimate, for the service (the client publishes it) */
    tt_clock_client_t *clock;
    tt_clock_service_t *clock_service;
    char clock_up_ep[256];
    tt_clock_client_report_t clock_report;

    flight_t flights[RELAY_FLIGHTS];
    uint64_t passed, refused, last_seq;
    long subscribers;
} relay_t;

static void usage(FILE *out)
{
    fprintf(out, "Usage: tutti-relay --key FILE.key --server-key FILE.pub --access FILE [options]\n"
                 "\n"
                 "A site relay: one connection upstream to the coordinator, the site's agents,\n"
                 "dashboards and CLI downstream. Updates fan out through it (XSUB/XPUB); requests\n"
                 "pass through sealed end to end (clients use --relay EP --relay-key FILE), so\n"
                 "the coordinator checks each caller's own key and role and the relay can\n"
                 "neither read, alter nor make one. Its key needs the relay role in the\n"
                 "coordinator's access file, which lets it read and nothing else.\n"
                 "\n"
                 "Options:\n");
    tt_conn_opts_usage(out, 0);
    fprintf(out, "                        (--key is the relay's own, with the relay role)\n"
                 "  --access FILE         who may connect to the relay (the access file format;\n"
                 "                        usually a copy of the coordinator's), reread on SIGHUP\n"
                 "  --bind EP             requests on EP, updates on its port + 1, the clock on\n"
                 "                        port + 2 (default " RELAY_BIND_DEFAULT ")\n"
                 "  --quiet               warnings and errors only\n"
                 "  --test-alter-sealed   tests only: flip one byte of every sealed request (the\n"
                 "                        coordinator must refuse them)\n"
                 "  --test-replay-sealed  tests only: send every sealed request twice (the\n"
                 "                        coordinator must refuse the second)\n"
                 "  -h, --help            this text\n"
                 "\n"
                 "Status: logged when the upstream connection changes and every minute; an\n"
                 "unsealed status request to the relay gets a RelayStatus (tutti relay-status).\n"
                 "\n"
                 "Example:\n"
                 "  tutti-relay --coordinator tcp://stage.example:7700 --server-key coord.pub \\\n"
                 "      --key berlin-relay.key --access access.txt --bind tcp://0.0.0.0:7710\n");
}

/* ------------------------------------------------------------ upstream */

static void send_hello(relay_t *r)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Hello hello = TUTTI__HELLO__INIT;
    hello.program = "tutti-relay";
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    char why[TT_WHY_LEN];
    if (tt_client_send(r->up, &env, why) == 0)
        r->hello_id = env.request_id; /* dropped while disconnected: retried */
}

/* The coordinator's updates, subscribed to whole. */
static int open_xsub(relay_t *r, unsigned port, char *why)
{
    char ep[256];
    if (tt_wire_endpoint_with_port(r->coordinator, port, ep, sizeof ep) != 0)
        return tt_fail(why, TT_ERR_INVALID, "cannot derive the updates endpoint from %s",
                       r->coordinator);
    if (r->xsub && strcmp(ep, r->xsub_ep) == 0)
        return 0;
    if (r->xsub)
        zmq_close(r->xsub);
    r->xsub = zmq_socket(r->ctx, ZMQ_XSUB);
    if (!r->xsub)
        return tt_fail(why, TT_ERR_IO, "creating the updates socket: %s", zmq_strerror(errno));
    int hwm = RELAY_HWM;
    zmq_setsockopt(r->xsub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    int rc = tt_wire_setup_client(r->xsub, r->keys, r->server_key, why);
    if (rc != 0)
        return rc;
    if (zmq_connect(r->xsub, ep) != 0)
        return tt_fail(why, TT_ERR_INVALID, "connecting to updates at %s: %s", ep,
                       zmq_strerror(errno));
    const uint8_t all = 1; /* subscribe to everything: the site's subscribers filter nothing */
    if (zmq_send(r->xsub, &all, 1, 0) != 1)
        return tt_fail(why, TT_ERR_IO, "subscribing upstream: %s", zmq_strerror(errno));
    snprintf(r->xsub_ep, sizeof r->xsub_ep, "%s", ep);
    return 0;
}

/* The relay's clock bound in ns, 0 while it has none. */
static uint64_t clock_bound_ns(const relay_t *r)
{
    return r->clock_report.has_sample && r->clock_report.error_bound_us >= 0
               ? (uint64_t)(r->clock_report.error_bound_us * 1000.0)
               : 0;
}

static void log_status(relay_t *r, const char *what)
{
    tt_diag_info("%s: upstream %s (%s), %ld subscribers, %llu requests passed, %llu refused, "
                 "head %llu, clock %s (bound %.1f us)",
                 what, r->up_connected && r->helloed ? "connected" : "down", r->coordinator,
                 r->subscribers, (unsigned long long)r->passed, (unsigned long long)r->refused,
                 (unsigned long long)r->last_seq,
                 r->clock_report.has_sample ? tt_clock_state_name(r->clock_report.state) : "none",
                 (double)clock_bound_ns(r) / 1000.0);
}

static int on_hello_reply(relay_t *r, const Tutti__Envelope *env, char *why)
{
    if (env->body_case == TUTTI__ENVELOPE__BODY_ERROR) {
        tt_diag_warn("the coordinator refused the relay's hello: %s", env->error->message);
        return 0;
    }
    if (env->body_case != TUTTI__ENVELOPE__BODY_HELLO_REPLY)
        return 0;
    const Tutti__HelloReply *hr = env->hello_reply;
    if (strcmp(hr->role, "relay") != 0)
        return tt_fail(why, TT_ERR_DENIED,
                       "the coordinator knows this key as %s with role %s: a relay's key needs "
                       "the relay role in its access file",
                       hr->name, hr->role);
    int rc = open_xsub(r, hr->updates_port, why);
    if (rc != 0)
        return rc;
    char clock_ep[256];
    if (hr->clock_port &&
        tt_wire_endpoint_with_port(r->coordinator, hr->clock_port, clock_ep, sizeof clock_ep) ==
            0 &&
        strcmp(clock_ep, r->clock_up_ep) != 0) {
        tt_clock_client_connect(r->clock, clock_ep);
        snprintf(r->clock_up_ep, sizeof r->clock_up_ep, "%s", clock_ep);
    }
    snprintf(r->name, sizeof r->name, "%s", hr->name);
    if (hr->last_seq > r->last_seq)
        r->last_seq = hr->last_seq;
    r->helloed = 1;
    log_status(r, "upstream hello answered");
    return 0;
}

/* Replies from the coordinator: ours (hello), or a caller's, back to it. */
static int on_up(relay_t *r, char *why)
{
    for (;;) {
        tt_wire_msg_t m;
        char mwhy[TT_WHY_LEN];
        int rc = tt_wire_recv(tt_client_socket(r->up), 0, ZMQ_DONTWAIT, &m, mwhy);
        if (rc == TT_ERR_AGAIN)
            return 0;
        if (rc != 0) {
            tt_diag_warn("from the coordinator: %s", mwhy);
            if (rc == TT_ERR_IO)
                return 0;
            continue;
        }
        if (m.env->request_id == r->hello_id) {
            rc = on_hello_reply(r, m.env, why);
            tt_wire_msg_clear(&m);
            if (rc != 0)
                return rc;
            continue;
        }
        flight_t *f = &r->flights[m.env->request_id % RELAY_FLIGHTS];
        if (f->up_id != m.env->request_id || m.env->request_id == 0) {
            tt_diag_warn("a reply from the coordinator for request %llu, which no caller awaits",
                         (unsigned long long)m.env->request_id);
        } else {
            m.env->request_id = f->down_id;
            char swhy[TT_WHY_LEN];
            if (tt_wire_send(r->router, f->rid, f->rid_len, m.env, swhy) != 0)
                tt_diag_warn("a reply to a caller lost: %s", swhy);
            f->up_id = 0;
        }
        tt_wire_msg_clear(&m);
    }
}

/* ------------------------------------------------------------ downstream */

static void refuse(relay_t *r, const tt_wire_msg_t *m, int code, const char *text)
{
    r->refused++;
    if (tt_wire_send_error(r->router, m->routing_id, m->routing_id_len, m->request_id, code,
                           text) != 0)
        tt_diag_warn("an error reply to a caller lost");
}

static void answer_status(relay_t *r, const tt_wire_msg_t *m)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__RelayStatus st = TUTTI__RELAY_STATUS__INIT;
    st.name = r->name;
    st.upstream_connected = r->up_connected && r->helloed;
    st.coordinator = (char *)r->coordinator;
    st.subscribers = r->subscribers > 0 ? (uint32_t)r->subscribers : 0;
    st.requests_passed = r->passed;
    st.requests_refused = r->refused;
    st.last_seq = r->last_seq;
    st.clock_state =
        r->clock_report.has_sample ? (char *)tt_clock_state_name(r->clock_report.state) : "";
    st.clock_error_ns = clock_bound_ns(r);
    env.body_case = TUTTI__ENVELOPE__BODY_RELAY_STATUS;
    env.relay_status = &st;
    env.request_id = m->request_id;
    char why[TT_WHY_LEN];
    if (tt_wire_send(r->router, m->routing_id, m->routing_id_len, &env, why) != 0)
        tt_diag_warn("a status reply lost: %s", why);
}

/* A sealed request, passed on under an id of ours. */
static void pass_on(relay_t *r, tt_wire_msg_t *m)
{
    char why[TT_WHY_LEN];
    if (!r->up_connected || !r->helloed) {
        snprintf(why, sizeof why, "the relay %s has no connection to the coordinator at %s now",
                 r->name[0] ? r->name : "", r->coordinator);
        refuse(r, m, TT_ERR_UNAVAILABLE, why);
        return;
    }
    if (r->alter_sealed && m->env->sealed->box.len > 0)
        m->env->sealed->box.data[m->env->sealed->box.len / 2] ^= 0x01;
    uint64_t down_id = m->request_id;
    if (tt_client_send(r->up, m->env, why) != 0) { /* sets m->env->request_id to ours */
        refuse(r, m, TT_ERR_UNAVAILABLE, why);
        return;
    }
    uint64_t up_id = m->env->request_id;
    if (r->replay_sealed && tt_client_send(r->up, m->env, why) != 0) /* its reply awaited by none */
        tt_diag_warn("--test-replay-sealed: %s", why);
    flight_t *f = &r->flights[up_id % RELAY_FLIGHTS];
    int64_t now = tt_time_mono_ns();
    if (f->up_id && now - f->since_ns < RELAY_FLIGHT_NS)
        tt_diag_warn("%d requests in flight: the oldest caller's reply will be dropped",
                     RELAY_FLIGHTS);
    f->up_id = up_id;
    f->down_id = down_id;
    memcpy(f->rid, m->routing_id, m->routing_id_len);
    f->rid_len = m->routing_id_len;
    f->since_ns = now;
    r->passed++;
}

/* A caller's frame may be as big as its role may send the coordinator
 * (operators up to the wire's limit, everyone else far less). */
static size_t request_cap(void *arg, const char *user_id)
{
    const relay_t *r = arg;
    const tt_access_entry_t *who = user_id[0] ? tt_access_find_key(r->access, user_id) : NULL;
    return who && who->role == TT_ROLE_OPERATOR
               ? (size_t)TT_WIRE_MAX_MESSAGE
               : (size_t)TUTTI__LIMITS__NON_OPERATOR_MAX_MESSAGE_BYTES + 256;
}

static void on_down(relay_t *r)
{
    for (int n = 0; n < 512; n++) {
        tt_wire_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_wire_recv_capped(r->router, 1, ZMQ_DONTWAIT, request_cap, r, &m, why);
        if (rc == TT_ERR_AGAIN)
            return;
        if (rc == TT_ERR_IO) {
            tt_diag_error("request socket: %s", why);
            return;
        }
        if (rc != 0) {
            if (m.routing_id_len)
                refuse(r, &m, rc, why);
        } else if (!tt_access_find_key(r->access, m.user_id)) {
            refuse(r, &m, TT_ERR_AUTH, "your key is no longer in the relay's access file");
        } else if (m.env->body_case == TUTTI__ENVELOPE__BODY_SEALED) {
            pass_on(r, &m);
        } else if (m.env->body_case == TUTTI__ENVELOPE__BODY_STATUS) {
            answer_status(r, &m);
        } else {
            refuse(r, &m, TT_ERR_PROTOCOL,
                   "a relay passes sealed requests only (--relay with --relay-key seals them); "
                   "unsealed it answers a status request about itself");
        }
        tt_wire_msg_clear(&m);
    }
}

/* Updates from the coordinator, out to every subscriber; the head noted. */
static void on_xsub(relay_t *r)
{
    for (int n = 0; n < 4096; n++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, r->xsub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        int more = zmq_msg_more(&msg);
        Tutti__Envelope *env = NULL;
        if (!more && tt_wire_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &env, NULL) == 0) {
            uint64_t seq = env->body_case == TUTTI__ENVELOPE__BODY_UPDATE      ? env->update->seq
                           : env->body_case == TUTTI__ENVELOPE__BODY_HEARTBEAT ? env->heartbeat->seq
                                                                               : 0;
            if (seq > r->last_seq)
                r->last_seq = seq;
            tutti__envelope__free_unpacked(env, NULL);
        }
        /* A full subscriber loses updates (it fetches the gap), as at the coordinator. */
        if (zmq_msg_send(&msg, r->xpub, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
            zmq_msg_close(&msg);
    }
}

/* Subscriptions from the site (XPUB_VERBOSER: one message per subscribe
 * and unsubscribe, a subscriber's going included): counted only, since
 * the relay subscribes to everything upstream itself. */
static void on_xpub(relay_t *r)
{
    for (;;) {
        uint8_t buf[256];
        int n = zmq_recv(r->xpub, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n < 0)
            return;
        if (n >= 1 && buf[0] == 1)
            r->subscribers++;
        else if (n >= 1 && buf[0] == 0 && r->subscribers > 0)
            r->subscribers--;
    }
}

/* ------------------------------------------------------------ lifecycle */

static void *bind_server(relay_t *r, int type, const char *ep, const char *what, char *why)
{
    void *s = zmq_socket(r->ctx, type);
    if (!s) {
        tt_fail(why, TT_ERR_IO, "creating the %s socket: %s", what, zmq_strerror(errno));
        return NULL;
    }
    if (tt_wire_setup_server(s, r->keys, why) != 0 || zmq_bind(s, ep) != 0) {
        if (!why[0] || errno)
            tt_fail(why, TT_ERR_IO, "binding the %s socket to %s: %s", what, ep,
                    zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

static int relay_open(relay_t *r, const char *key_path, const char *server_key_path, char *why)
{
    char sub[TT_WHY_LEN];
    if (!(r->keys = tt_keypair_load(key_path, sub)))
        return tt_fail(why, TT_ERR_CRYPTO, "--key: %s", sub);
    if (tt_pubkey_load(server_key_path, r->server_key, sub) != 0)
        return tt_fail(why, TT_ERR_CRYPTO, "--server-key: %s", sub);
    if (!(r->access = tt_access_load(r->access_path, sub)))
        return tt_fail(why, TT_ERR_INVALID, "--access: %s", sub);
    char pub_ep[256];
    if (tt_client_relay_port(r->bind, TT_RELAY_UPDATES_PORT_OFFSET, pub_ep, sizeof pub_ep) != 0)
        return tt_fail(why, TT_ERR_INVALID,
                       "--bind %s: want tcp://HOST:PORT with a port number (clients find the "
                       "updates and the clock at port + 1 and + 2)",
                       r->bind);
    r->ctx = zmq_ctx_new();
    /* The ZAP handler before any CURVE server socket: libzmq admits every
     * key while none is bound. */
    if (!(r->zap = tt_zap_bind(r->ctx, why)))
        return TT_ERR_IO;
    why[0] = '\0';
    if (!(r->router = bind_server(r, ZMQ_ROUTER, r->bind, "request", why)))
        return TT_ERR_IO;
    int one = 1;
    zmq_setsockopt(r->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    if (!(r->xpub = bind_server(r, ZMQ_XPUB, pub_ep, "updates", why)))
        return TT_ERR_IO;
    int hwm = RELAY_HWM;
    zmq_setsockopt(r->xpub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r->xpub, ZMQ_XPUB_VERBOSER, &one, sizeof one);
    if (!(r->up = tt_client_new(r->ctx, r->coordinator, r->server_key, r->keys, 1, why)))
        return TT_ERR_IO;
    char clock_ep[256];
    if (tt_client_relay_port(r->bind, TT_RELAY_CLOCK_PORT_OFFSET, clock_ep, sizeof clock_ep) != 0)
        return tt_fail(why, TT_ERR_INVALID, "--bind %s: no room for the clock port", r->bind);
    tt_clock_box_init(&r->box);
    tt_clock_client_config_t ccfg = {
        .keys = r->keys, .server_key_z85 = r->server_key, .box = &r->box};
    if (!(r->clock = tt_clock_client_start(r->ctx, &ccfg, why)))
        return TT_ERR_IO;
    uint64_t epoch;
    randombytes_buf(&epoch, sizeof epoch);
    if (!(r->clock_service =
              tt_clock_service_start(r->ctx, r->keys, clock_ep, epoch, r->access, r->clock, why)))
        return TT_ERR_IO;
    tt_diag_info("relay %s on %s (updates %s, clock %s), upstream %s", r->keys->public_z85, r->bind,
                 pub_ep, clock_ep, r->coordinator);
    return 0;
}

static void relay_close(relay_t *r)
{
    tt_clock_service_stop(&r->clock_service); /* before the client it serves through */
    tt_clock_client_stop(&r->clock);
    tt_client_destroy(&r->up);
    if (r->router)
        zmq_close(r->router);
    if (r->xpub)
        zmq_close(r->xpub);
    if (r->xsub)
        zmq_close(r->xsub);
    if (r->zap)
        zmq_close(r->zap);
    if (r->ctx)
        zmq_ctx_term(r->ctx);
    tt_access_destroy(&r->access);
    tt_keypair_destroy(&r->keys);
}

static void reload_access(relay_t *r)
{
    char why[TT_WHY_LEN];
    tt_access_t *fresh = tt_access_load(r->access_path, why);
    if (!fresh) {
        tt_diag_error("SIGHUP: keeping the old access table: %s", why);
        return;
    }
    tt_access_destroy(&r->access);
    r->access = fresh;
    tt_diag_info("SIGHUP: access file reloaded, %zu keys", r->access->count);
    if (tt_clock_service_set_access(r->clock_service, r->access, why) != 0)
        tt_diag_error("SIGHUP: the clock service keeps the old table: %s", why);
}

static int relay_run(relay_t *r, char *why)
{
    r->next_status_ns = tt_time_mono_ns() + (int64_t)STATUS_LOG_MS * 1000000;
    while (!stop_flag) {
        if (reload_flag) {
            reload_flag = 0;
            reload_access(r);
        }
        int64_t now = tt_time_mono_ns();
        if (!r->helloed && now >= r->next_hello_ns) {
            send_hello(r);
            r->next_hello_ns = now + (int64_t)HELLO_EVERY_MS * 1000000;
        }
        if (now >= r->next_status_ns) {
            log_status(r, "status");
            r->next_status_ns = now + (int64_t)STATUS_LOG_MS * 1000000;
        }
        zmq_pollitem_t items[7] = {
            {r->zap, 0, ZMQ_POLLIN, 0},
            {r->router, 0, ZMQ_POLLIN, 0},
            {tt_client_socket(r->up), 0, ZMQ_POLLIN, 0},
            {tt_client_monitor(r->up), 0, ZMQ_POLLIN, 0},
            {r->xpub, 0, ZMQ_POLLIN, 0},
            {tt_clock_client_socket(r->clock), 0, ZMQ_POLLIN, 0},
            {r->xsub, 0, ZMQ_POLLIN, 0},
        };
        int n = r->xsub ? 7 : 6;
        if (zmq_poll(items, n, 200) < 0) {
            if (errno == EINTR)
                continue;
            return tt_fail(why, TT_ERR_IO, "polling: %s", zmq_strerror(errno));
        }
        if (items[0].revents & ZMQ_POLLIN)
            tt_zap_handle(r->zap, r->access, &r->zap_quiet);
        if (items[3].revents & ZMQ_POLLIN) {
            int was = r->up_connected;
            int rc = tt_client_check_monitor(r->up, &r->up_connected, why);
            if (rc != 0)
                return rc; /* our key refused upstream */
            if (was && !r->up_connected) {
                r->helloed = 0; /* a restarted coordinator may have new ports: hello again */
                log_status(r, "upstream lost");
            } else if (!was && r->up_connected) {
                r->next_hello_ns = 0;
            }
        }
        if (items[2].revents & ZMQ_POLLIN) {
            int rc = on_up(r, why);
            if (rc != 0)
                return rc;
        }
        if (items[1].revents & ZMQ_POLLIN)
            on_down(r);
        if (items[4].revents & ZMQ_POLLIN)
            on_xpub(r);
        if (items[5].revents & ZMQ_POLLIN) {
            tt_clock_state_t was = r->clock_report.state;
            int had = r->clock_report.has_sample;
            if (tt_clock_client_read(r->clock, &r->clock_report) &&
                (r->clock_report.state != was || r->clock_report.has_sample != had))
                log_status(r, "clock");
        }
        if (n > 6 && (items[6].revents & ZMQ_POLLIN))
            on_xsub(r);
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_ACCESS = 1, O_BIND, O_QUIET, O_ALTER, O_REPLAY };
    static const struct option opts[] = {
        TT_CONN_OPTIONS,
        {"access", required_argument, 0, O_ACCESS},
        {"bind", required_argument, 0, O_BIND},
        {"quiet", no_argument, 0, O_QUIET},
        {"test-alter-sealed", no_argument, 0, O_ALTER},
        {"test-replay-sealed", no_argument, 0, O_REPLAY},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    static relay_t r; /* big (the flights): not on the stack */
    tt_conn_opts_t conn = {0};
    int quiet = 0, c;
    char why[TT_WHY_LEN];
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case TT_OPT_COORDINATOR:
        case TT_OPT_SERVER_KEY:
        case TT_OPT_KEY:
            if (tt_conn_opts_take(&conn, c, optarg, "tutti-relay") != 0)
                return 2;
            break;
        case O_ACCESS: r.access_path = optarg; break;
        case O_BIND: r.bind = optarg; break;
        case O_QUIET: quiet = 1; break;
        case O_ALTER: r.alter_sealed = 1; break;
        case O_REPLAY: r.replay_sealed = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tutti-relay: unexpected argument %s (see --help)\n", argv[optind]);
        return 2;
    }
    if (tt_conn_opts_resolve(&conn) != 0 || !r.access_path) {
        fprintf(stderr,
                "tutti-relay: --key, --server-key and --access are required (see --help)\n");
        return 2;
    }
    r.coordinator = conn.endpoint;
    if (!r.bind)
        r.bind = RELAY_BIND_DEFAULT;
    tt_diag_init("tutti-relay", NULL);
    tt_diag_set_quiet(quiet);
    tt_signals_catch(&stop_flag, &reload_flag);
    if (r.alter_sealed)
        tt_diag_warn("--test-alter-sealed: every sealed request is altered on the way (tests)");
    if (r.replay_sealed)
        tt_diag_warn("--test-replay-sealed: every sealed request is sent twice (tests)");
    int rc = relay_open(&r, conn.key_path, conn.server_key_path, why);
    if (rc == 0)
        rc = relay_run(&r, why);
    if (rc != 0)
        tt_diag_error("%s", why);
    else
        log_status(&r, "stopping");
    relay_close(&r);
    return rc == 0 ? 0 : 1;
}
