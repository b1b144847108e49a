/* tt_client: DEALER + monitor. See tt_client.h. */
#include "tt_client.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_opts.h"
#include "tt_seal.h"
#include "tt_time.h"

#include <sodium.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct tt_client {
    void *ctx;              /* borrowed */
    const tt_keypair_t *kp; /* borrowed */
    int immediate;
    void *sock;
    void *monitor;
    uint64_t next_request_id;
    tt_opts_endpoints_t eps; /* the --coordinator list */
    int cur;                 /* the endpoint talked to: eps.ep[cur] */
    const char *endpoint;    /* eps.ep[cur] */
    int refused;             /* a connect failed since the socket opened or last shook hands */
    /* --server-key: one per endpoint, or one for all (n_keys 1) */
    char keys[TT_OPTS_COORDINATORS_MAX][TT_Z85_KEY_LEN + 1];
    int n_keys;
    char monitor_ep[64];
    /* Through a site relay (tt_client_via_relay): the socket goes to
     * relay_ep under relay_key, and every request is sealed to
     * server_key, the coordinator's. */
    int relayed;
    char relay_ep[256];
    char relay_key[TT_Z85_KEY_LEN + 1];
};

/* How long tt_client_request waits on the socket alone before it also
 * watches the monitor for a refused handshake. */
#define MONITOR_AFTER_MS 20

_Static_assert(TT_CLIENT_KEY_LEN == TUTTI__LIMITS__IDEMPOTENCY_KEY_BYTES, "idempotency key");

static uint64_t client_counter = 0;

/* A DEALER to c->endpoint and its monitor, into c->sock and c->monitor. */
static int open_socket(tt_client_t *c, char *why)
{
    c->refused = 0;
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!c->sock)
        return tt_fail(why, TT_ERR_IO, "creating a socket: %s", zmq_strerror(errno));
    int rc = tt_wire_setup_client(c->sock, c->kp,
                                  c->relayed ? c->relay_key : tt_client_server_key(c), why);
    if (rc != 0)
        return rc;
    if (c->immediate) {
        int one = 1;
        zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &one, sizeof one);
    }
    int ivl = 200, ivl_max = 2000;
    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);

    snprintf(c->monitor_ep, sizeof c->monitor_ep, "inproc://tt-client-monitor-%p-%llu", (void *)c,
             (unsigned long long)++client_counter);
    if (zmq_socket_monitor(c->sock, c->monitor_ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_CONNECT_RETRIED) != 0)
        return tt_fail(why, TT_ERR_IO, "monitoring the socket: %s", zmq_strerror(errno));
    c->monitor = zmq_socket(c->ctx, ZMQ_PAIR);
    if (!c->monitor || zmq_connect(c->monitor, c->monitor_ep) != 0)
        return tt_fail(why, TT_ERR_IO, "connecting the monitor: %s", zmq_strerror(errno));
    int linger = 0;
    zmq_setsockopt(c->monitor, ZMQ_LINGER, &linger, sizeof linger);
    const char *ep = c->relayed ? c->relay_ep : c->endpoint;
    if (zmq_connect(c->sock, ep) != 0)
        return tt_fail(why, TT_ERR_INVALID, "connecting to %s: %s", ep, zmq_strerror(errno));
    return 0;
}

static void close_socket(tt_client_t *c)
{
    if (c->sock) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->sock);
        c->sock = NULL;
    }
    if (c->monitor) {
        zmq_close(c->monitor);
        c->monitor = NULL;
    }
}

tt_client_t *tt_client_new(void *ctx, const char *endpoint, const char *server_key_z85,
                           const tt_keypair_t *kp, int immediate, char *why)
{
    tt_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        tt_fail(why, TT_ERR_NOMEM, "allocating a client");
        return NULL;
    }
    c->ctx = ctx;
    c->kp = kp;
    c->immediate = immediate;
    if (tt_opts_split_endpoints(endpoint, &c->eps, why) != 0) {
        free(c);
        return NULL;
    }
    c->endpoint = c->eps.ep[0];
    /* "KEY" or "KEY,KEY,...": one for every endpoint or one each */
    for (const char *k = server_key_z85;; k += TT_Z85_KEY_LEN + 1) {
        if (c->n_keys == TT_OPTS_COORDINATORS_MAX || strlen(k) < TT_Z85_KEY_LEN ||
            (k[TT_Z85_KEY_LEN] != '\0' && k[TT_Z85_KEY_LEN] != ',')) {
            tt_fail(why, TT_ERR_INVALID, "--server-key: not a list of Z85 keys");
            free(c);
            return NULL;
        }
        memcpy(c->keys[c->n_keys], k, TT_Z85_KEY_LEN);
        c->keys[c->n_keys++][TT_Z85_KEY_LEN] = '\0';
        if (k[TT_Z85_KEY_LEN] == '\0')
            break;
    }
    if (c->n_keys != 1 && c->n_keys != c->eps.n) {
        tt_fail(why, TT_ERR_INVALID,
                "--server-key names %d certificates for %d coordinators: give one for all or "
                "one each, in the same order",
                c->n_keys, c->eps.n);
        free(c);
        return NULL;
    }
    c->next_request_id = 1;
    if (open_socket(c, why) != 0)
        tt_client_destroy(&c);
    return c;
}

int tt_client_reconnect(tt_client_t *c, char *why)
{
    close_socket(c);
    int rc = open_socket(c, why);
    if (rc != 0)
        close_socket(c);
    return rc;
}

int tt_client_via_relay(tt_client_t *c, const char *relay_ep, const char *relay_key_z85, char *why)
{
    if (!tt_z85_key_valid(relay_key_z85))
        return tt_fail(why, TT_ERR_INVALID, "the relay's key is not a Z85 CURVE key");
    if (strlen(relay_ep) >= sizeof c->relay_ep)
        return tt_fail(why, TT_ERR_INVALID, "relay endpoint too long");
    c->relayed = 1;
    snprintf(c->relay_ep, sizeof c->relay_ep, "%s", relay_ep);
    snprintf(c->relay_key, sizeof c->relay_key, "%s", relay_key_z85);
    return tt_client_reconnect(c, why);
}

int tt_client_relayed(const tt_client_t *c)
{
    return c->relayed;
}

int tt_client_relay_port(const char *relay_ep, unsigned offset, char *out, size_t len)
{
    const char *colon = strrchr(relay_ep, ':');
    char *end = NULL;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || !end || *end || port == 0 || port + offset > 65535)
        return TT_ERR_INVALID;
    return tt_wire_endpoint_with_port(relay_ep, (unsigned)(port + offset), out, len) == 0
               ? 0
               : TT_ERR_INVALID;
}

int tt_client_next(tt_client_t *c, char *why)
{
    c->cur = (c->cur + 1) % c->eps.n;
    c->endpoint = c->eps.ep[c->cur];
    return tt_client_reconnect(c, why);
}

int tt_client_endpoint_count(const tt_client_t *c)
{
    return c->eps.n;
}

void tt_client_destroy(tt_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_client_t *c = *self_p;
    close_socket(c);
    free(c);
    *self_p = NULL;
}

void *tt_client_socket(tt_client_t *c)
{
    return c->sock;
}
void *tt_client_monitor(tt_client_t *c)
{
    return c->monitor;
}
const char *tt_client_endpoint(const tt_client_t *c)
{
    return c->endpoint;
}
const char *tt_client_server_key(const tt_client_t *c)
{
    return c->keys[c->n_keys == 1 ? 0 : c->cur];
}

int tt_client_check_monitor(tt_client_t *c, int *connected, char *why)
{
    int result = 0;
    for (;;) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, c->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
        }
        int more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        if (more) { /* the address frame */
            zmq_msg_init(&ev);
            zmq_msg_recv(&ev, c->monitor, 0);
            zmq_msg_close(&ev);
        }
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            result = tt_fail(why, TT_ERR_AUTH,
                             "the %s at %s refused this key (status %u): it is not in "
                             "the access file",
                             c->relayed ? "relay" : "coordinator",
                             c->relayed ? c->relay_ep : c->endpoint, value);
        } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            c->refused = 0;
            if (connected)
                *connected = 1;
        } else if (event == ZMQ_EVENT_DISCONNECTED && connected) {
            *connected = 0;
        } else if (event == ZMQ_EVENT_CONNECT_RETRIED) {
            c->refused = 1;
        }
    }
    return result;
}

int tt_client_send(tt_client_t *c, Tutti__Envelope *env, char *why)
{
    if (!c->sock)
        return tt_fail(why, TT_ERR_IO, "no socket to %s (a reconnect failed)", c->endpoint);
    env->request_id = c->next_request_id++;
    if (!c->relayed)
        return tt_wire_send(c->sock, NULL, 0, env, why);
    tt_sealed_t sealed;
    int rc = tt_seal(env, c->kp, tt_client_server_key(c), c->kp->public_z85, tt_time_wall_ns(),
                     &sealed, why);
    if (rc != 0)
        return rc;
    sealed.env.request_id = env->request_id; /* the relay maps its own ids to ours */
    rc = tt_wire_send(c->sock, NULL, 0, &sealed.env, why);
    tt_sealed_clear(&sealed);
    return rc;
}

int tt_client_recv(tt_client_t *c, tt_wire_msg_t *msg, char *why)
{
    int rc = tt_wire_recv(c->sock, 0, ZMQ_DONTWAIT, msg, why);
    if (rc != 0 || !c->relayed)
        return rc;
    Tutti__Envelope *env = msg->env;
    if (env->body_case == TUTTI__ENVELOPE__BODY_ERROR)
        return 0; /* the relay's own refusal, or the coordinator's of the box itself */
    Tutti__Envelope *inner = NULL;
    if (env->body_case != TUTTI__ENVELOPE__BODY_SEALED)
        rc = tt_fail(why, TT_ERR_PROTOCOL,
                     "an unsealed reply through the relay at %s (only errors may be): dropped",
                     c->relay_ep);
    else if ((rc = tt_seal_open(env->sealed, c->kp, tt_client_server_key(c), &inner, why)) == 0 &&
             inner->request_id != env->request_id) {
        rc = tt_fail(why, TT_ERR_PROTOCOL,
                     "a sealed reply for request %llu under request %llu: dropped",
                     (unsigned long long)inner->request_id, (unsigned long long)env->request_id);
        tutti__envelope__free_unpacked(inner, NULL);
    }
    if (rc != 0) {
        tt_wire_msg_clear(msg);
        return rc;
    }
    tutti__envelope__free_unpacked(env, NULL);
    msg->env = inner;
    return 0;
}

/* tt_client_request; with watch_drop, a connection that drops while the
 * reply is awaited ends the wait at once (*dropped = 1, TT_ERR_UNAVAILABLE):
 * the reply, if any, was sent on that connection and is lost with it. With
 * a list to move along, an endpoint that refuses connections (nothing
 * listens there) ends it too (*dropped = 2): the request never left. */
static int request_once(tt_client_t *c, Tutti__Envelope *req, Tutti__Envelope **reply,
                        int timeout_ms, int watch_drop, int *dropped, char *why)
{
    *reply = NULL;
    *dropped = 0;
    int connected = -1;
    int watch_refused = watch_drop && c->eps.n > 1;
    if (watch_drop && c->monitor) { /* events of earlier requests are not this one's */
        int rc = tt_client_check_monitor(c, NULL, why);
        if (rc != 0)
            return rc;
        if (watch_refused && c->refused) {
            *dropped = 2;
            return tt_fail(why, TT_ERR_UNAVAILABLE, "%s refuses connections", c->endpoint);
        }
    }
    int rc = tt_client_send(c, req, why);
    if (rc != 0)
        return rc;
    int64_t start = tt_time_mono_ns();
    int64_t deadline = start + (int64_t)timeout_ms * 1000000;
    /* A refused key never gets a reply, so the monitor only matters once a
     * reply is late: until then wait on the socket alone. A second socket in
     * every poll cost ~4% of a durable write's round trip (tutti-bench-log). */
    int64_t monitor_from = start + (int64_t)MONITOR_AFTER_MS * 1000000;
    for (;;) {
        int64_t now = tt_time_mono_ns();
        int64_t left_ms = (deadline - now) / 1000000;
        if (left_ms <= 0) {
            rc = tt_client_check_monitor(c, NULL, why); /* a refusal says more */
            if (rc != 0)
                return rc;
            return tt_fail(why, TT_ERR_TIMEOUT,
                           "no reply from the coordinator at %s within %d ms (is it running? "
                           "is --server-key its public key?)",
                           c->endpoint, timeout_ms);
        }
        int with_monitor = now >= monitor_from;
        long wait_ms = (long)left_ms;
        if (!with_monitor && wait_ms > (monitor_from - now) / 1000000 + 1)
            wait_ms = (long)((monitor_from - now) / 1000000 + 1);
        zmq_pollitem_t items[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->monitor, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, with_monitor ? 2 : 1, wait_ms) < 0) {
            if (errno == EINTR)
                return tt_fail(why, TT_ERR_UNAVAILABLE, "interrupted");
            return tt_fail(why, TT_ERR_IO, "polling: %s", zmq_strerror(errno));
        }
        if (with_monitor && (items[1].revents & ZMQ_POLLIN)) {
            rc = tt_client_check_monitor(c, &connected, why);
            if (rc != 0)
                return rc;
            if (watch_drop && connected == 0) {
                *dropped = 1;
                return tt_fail(why, TT_ERR_UNAVAILABLE,
                               "the connection to %s dropped before the reply came", c->endpoint);
            }
            if (watch_refused && c->refused && connected != 1) {
                *dropped = 2;
                return tt_fail(why, TT_ERR_UNAVAILABLE, "%s refuses connections", c->endpoint);
            }
        }
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        tt_wire_msg_t msg;
        char rwhy[TT_WHY_LEN];
        rc = tt_client_recv(c, &msg, rwhy);
        if (rc == TT_ERR_AGAIN)
            continue;
        if (c->relayed && (rc == TT_ERR_PROTOCOL || rc == TT_ERR_AUTH || rc == TT_ERR_VERSION)) {
            tt_diag_warn("%s", rwhy); /* a reply the relay forged or broke: wait for ours */
            continue;
        }
        if (rc != 0)
            return tt_fail(why, rc, "%s", rwhy);
        if (msg.env->request_id != req->request_id) {
            tt_wire_msg_clear(&msg); /* a late reply to an earlier request */
            continue;
        }
        if (msg.env->body_case == TUTTI__ENVELOPE__BODY_ERROR) {
            int code = -(int)msg.env->error->code;
            rc = tt_fail(why, code ? code : TT_ERR_PROTOCOL, "%s", msg.env->error->message);
            tt_wire_msg_clear(&msg);
            return rc;
        }
        *reply = msg.env;
        return 0;
    }
}

/* One request over the list: the current endpoint first, then, when it is a
 * standby (ERROR_STANDBY), silent (no reply within timeout_ms), dropped
 * while the reply was awaited or has no socket, each other endpoint once.
 * A single endpoint gets one attempt, or two for a write (a fresh socket
 * and the same request: the old connection may be the trouble).
 * *uncertain is set when an attempt went out and its fate is unknown (a
 * timeout or a drop: a write may have committed); first gets that
 * attempt's story. A standby's refusal is not uncertain: it writes nothing. */
static int request_failover(tt_client_t *c, Tutti__Envelope *req, Tutti__Envelope **reply,
                            int timeout_ms, int is_write, int *uncertain, char *first, char *why)
{
    int n = c->eps.n;
    int attempts = n > 1 ? n : (is_write ? 2 : 1);
    *uncertain = 0;
    first[0] = '\0';
    char story[TT_WHY_LEN] = ""; /* every attempt's failure, for the last error */
    int rc = 0, standbys = 0;
    for (int i = 0; i < attempts; i++) {
        char w[TT_WHY_LEN];
        if (i > 0) {
            rc = n > 1 ? tt_client_next(c, w) : tt_client_reconnect(c, w);
            if (rc != 0)
                goto failed;
        }
        int dropped = 0;
        rc = request_once(c, req, reply, timeout_ms, is_write || n > 1, &dropped, w);
        if (rc == 0)
            return 0;
        if (dropped == 2) {
            /* nothing listens there: the request never left */
        } else if (rc == TT_ERR_TIMEOUT || dropped) {
            if (!*uncertain)
                snprintf(first, TT_WHY_LEN, "%s", w);
            *uncertain = 1;
        } else if (rc == TT_ERR_STANDBY && n > 1) {
            snprintf(w, sizeof w, "%s is a standby", c->endpoint);
            standbys++;
        } else if (rc == TT_ERR_UNAVAILABLE && n > 1) {
            /* busy or shutting down: another may serve */
        } else if (!(rc == TT_ERR_IO && !c->sock)) {
            /* An answer (a refusal, a bad request): the next endpoint would
             * say the same, and a key refused here is refused there. */
            snprintf(why, TT_WHY_LEN, "%s", w);
            return rc;
        }
    failed:;
        size_t used = strlen(story);
        if (used + 8 < sizeof story)
            snprintf(story + used, sizeof story - used, "%s%.*s", used ? "; then " : "",
                     (int)(sizeof story - used - 8), w);
    }
    if (n > 1 && standbys == n)
        return tt_fail(why, TT_ERR_STANDBY,
                       "every coordinator in the list answered as a standby (%.400s): none "
                       "serves yet",
                       story);
    snprintf(why, TT_WHY_LEN, "%s", story);
    return rc;
}

int tt_client_request(tt_client_t *c, Tutti__Envelope *req, Tutti__Envelope **reply, int timeout_ms,
                      char *why)
{
    int uncertain;
    char first[TT_WHY_LEN];
    return request_failover(c, req, reply, timeout_ms, 0, &uncertain, first, why);
}

int tt_client_write(tt_client_t *c, Tutti__Envelope *req, Tutti__Envelope **reply, int timeout_ms,
                    tt_client_write_how_t *how, char *lost, char *why)
{
    uint8_t key[TT_CLIENT_KEY_LEN];
    ProtobufCBinaryData given = req->idempotency_key;
    if (!given.len) { /* one key for this write, the same on every retry */
        randombytes_buf(key, sizeof key);
        req->idempotency_key.data = key;
        req->idempotency_key.len = sizeof key;
    }
    *how = TT_CLIENT_WRITE_ANSWERED;
    int uncertain = 0;
    char first[TT_WHY_LEN], all[TT_WHY_LEN];
    int rc = request_failover(c, req, reply, timeout_ms, 1, &uncertain, first, all);
    if (rc == 0 && uncertain && (*reply)->body_case == TUTTI__ENVELOPE__BODY_WRITE_REPLY) {
        *how = (*reply)->write_reply->duplicate ? TT_CLIENT_WRITE_WAS_COMMITTED
                                                : TT_CLIENT_WRITE_ON_RETRY;
        if (lost)
            snprintf(lost, TT_WHY_LEN, "%s", first);
    } else if (rc != 0 && uncertain) {
        tt_fail(why, rc,
                "no reply to the write, nor to its retry with the same key (%.360s): it may or "
                "may not be recorded; look at the history before writing it again",
                all);
    } else if (rc != 0) {
        snprintf(why, TT_WHY_LEN, "%s", all);
    }
    req->idempotency_key = given;
    if (rc == 0 && (*reply)->body_case != TUTTI__ENVELOPE__BODY_WRITE_REPLY) {
        tutti__envelope__free_unpacked(*reply, NULL);
        *reply = NULL;
        rc = tt_fail(why, TT_ERR_PROTOCOL, "unexpected reply to a write from %s", c->endpoint);
    }
    return rc;
}

int tt_client_write_logged(tt_client_t *c, Tutti__Envelope *req, int timeout_ms, const char *who,
                           uint64_t *seq, char *why)
{
    Tutti__Envelope *rep = NULL;
    tt_client_write_how_t how;
    char lost[TT_WHY_LEN];
    int rc = tt_client_write(c, req, &rep, timeout_ms, &how, lost, why);
    if (rc == 0)
        *seq = rep->write_reply->seq;
    if (rc == 0 && how != TT_CLIENT_WRITE_ANSWERED)
        tt_diag_warn("%s: %s (%s); %s: seq %llu", who,
                     how == TT_CLIENT_WRITE_WAS_COMMITTED ? "a write's reply was lost"
                                                          : "a write was not recorded",
                     lost,
                     how == TT_CLIENT_WRITE_WAS_COMMITTED ? "it had committed" : "written on retry",
                     (unsigned long long)*seq);
    if (rep)
        tutti__envelope__free_unpacked(rep, NULL);
    return rc;
}

int tt_client_write_once(void *ctx, const char *endpoint, const char *server_key_z85,
                         const tt_keypair_t *kp, Tutti__Envelope *req, int timeout_ms,
                         const char *who, uint64_t *seq, char *why)
{
    return tt_client_write_once_via(ctx, endpoint, server_key_z85, NULL, NULL, kp, req, timeout_ms,
                                    who, seq, why);
}

int tt_client_write_once_via(void *ctx, const char *endpoint, const char *server_key_z85,
                             const char *relay_ep, const char *relay_key_z85,
                             const tt_keypair_t *kp, Tutti__Envelope *req, int timeout_ms,
                             const char *who, uint64_t *seq, char *why)
{
    tt_client_t *client = tt_client_new(ctx, endpoint, server_key_z85, kp, 0, why);
    if (!client)
        return TT_ERR_IO;
    int rc = relay_ep ? tt_client_via_relay(client, relay_ep, relay_key_z85, why) : 0;
    if (rc == 0)
        rc = tt_client_write_logged(client, req, timeout_ms, who, seq, why);
    tt_client_destroy(&client);
    return rc;
}
