/* tt_listen: drop and bind again. See tt_listen.h. */
#include "tt_listen.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define RETRY_MS 10        /* binding again after a drop, while the port is still held */
#define BIND_QUIET_MS 1000 /* failing this long is an error in the log */
#define BIND_LOG_EVERY_MS 10000
#define BACKOFF_FIRST_MS 250 /* unbound after EMFILE, doubling while it recurs */
#define BACKOFF_MAX_MS 4000
#define BACKOFF_RESET_MS 30000 /* bound this long without EMFILE: the next back-off is short */
#define EVENTS_PER_TICK 256
#define MONITOR_HWM 100000 /* events queued for us; past it libzmq's I/O thread waits for us */

#define MS(x) ((int64_t)(x)*1000000)

struct tt_listen {
    void *sock;
    void *monitor;
    char name[32];
    char endpoint[256]; /* as bound, with the port */
    unsigned port;
    int bound;
    int64_t bind_at;       /* while unbound: the next try */
    int64_t unbound_since; /* while unbound */
    int64_t bound_since;
    int64_t next_bind_log;
    long backoff_ms;
};

static int64_t now_ns(void)
{
    return tt_time_mono_ns();
}

tt_listen_t *tt_listen_new(void *ctx, void *sock, const char *name, const char *endpoint, char *why)
{
    tt_listen_t *l = calloc(1, sizeof *l);
    if (!l) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the %s listener", name);
        return NULL;
    }
    l->sock = sock;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->backoff_ms = BACKOFF_FIRST_MS;
    char addr[64];
    snprintf(addr, sizeof addr, "inproc://coord-listen-%p", (void *)l);
    int hwm = MONITOR_HWM, linger = 0;
    if (zmq_socket_monitor(sock, addr, ZMQ_EVENT_ACCEPT_FAILED) != 0 ||
        !(l->monitor = zmq_socket(ctx, ZMQ_PAIR)) ||
        zmq_setsockopt(l->monitor, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(l->monitor, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(l->monitor, addr) != 0) {
        tt_fail(why, TT_ERR_IO, "watching the %s socket: %s", name, zmq_strerror(errno));
        goto fail;
    }
    if (zmq_bind(sock, endpoint) != 0) {
        tt_fail(why, TT_ERR_IO, "binding the %s socket to %s: %s", name, endpoint,
                zmq_strerror(errno));
        goto fail;
    }
    size_t len = sizeof l->endpoint;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, l->endpoint, &len) != 0 ||
        !(l->port = tt_wire_bound_port(sock))) {
        tt_fail(why, TT_ERR_IO, "reading the endpoint the %s socket bound for %s: %s", name,
                endpoint, zmq_strerror(errno));
        goto fail;
    }
    l->bound = 1;
    l->bound_since = now_ns();
    return l;
fail:
    tt_listen_destroy(&l);
    return NULL;
}

void tt_listen_destroy(tt_listen_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_listen_t *l = *self_p;
    /* Stopped before our end closes: an event with nobody to read it
     * would block libzmq's I/O thread. */
    zmq_socket_monitor(l->sock, NULL, 0);
    if (l->monitor)
        zmq_close(l->monitor);
    free(l);
    *self_p = NULL;
}

unsigned tt_listen_port(const tt_listen_t *l)
{
    return l->port;
}

const char *tt_listen_endpoint(const tt_listen_t *l)
{
    return l->endpoint;
}

void *tt_listen_events(tt_listen_t *l)
{
    return l->monitor;
}

int tt_listen_bound(const tt_listen_t *l)
{
    return l->bound;
}

/* Unbinds (dropping the listener's connections) and sets the next bind. */
static void unbind(tt_listen_t *l, int64_t now, long after_ms)
{
    if (l->bound && zmq_unbind(l->sock, l->endpoint) != 0)
        tt_diag_error("%s: unbinding %s: %s", l->name, l->endpoint, zmq_strerror(errno));
    l->bound = 0;
    l->unbound_since = now;
    l->bind_at = now + MS(after_ms);
    l->next_bind_log = now + MS(after_ms + BIND_QUIET_MS);
}

void tt_listen_drop(tt_listen_t *l, const char *why_text)
{
    tt_diag_info("%s: %s; dropping the connections on port %u and binding it again", l->name,
                 why_text, l->port);
    int64_t now = now_ns();
    unbind(l, now, 0);
    tt_listen_tick(l);
}

static void try_bind(tt_listen_t *l, int64_t now)
{
    if (zmq_bind(l->sock, l->endpoint) == 0) {
        l->bound = 1;
        l->bound_since = now;
        tt_diag_info("%s: listening on port %u again (%lld ms unbound)", l->name, l->port,
                     (long long)((now - l->unbound_since) / 1000000));
        return;
    }
    if (now >= l->next_bind_log) { /* never deaf without a word */
        tt_diag_error("%s: cannot bind %s again for %lld ms: %s; retrying", l->name, l->endpoint,
                      (long long)((now - l->unbound_since) / 1000000), zmq_strerror(errno));
        l->next_bind_log = now + MS(BIND_LOG_EVERY_MS);
    }
    l->bind_at = now + MS(RETRY_MS);
}

/* One monitor event: EMFILE/ENFILE on accept starts a back-off. */
static void on_event(tt_listen_t *l, uint16_t event, uint32_t value, int64_t now)
{
    if (event != ZMQ_EVENT_ACCEPT_FAILED || !l->bound)
        return; /* queued before we unbound */
    if (value != EMFILE && value != ENFILE && value != ENOBUFS && value != ENOMEM)
        return; /* one connection's trouble (ECONNABORTED...): libzmq goes on */
    if (now - l->bound_since > MS(BACKOFF_RESET_MS))
        l->backoff_ms = BACKOFF_FIRST_MS;
    tt_diag_warn("%s: accepting a connection failed: %s; refusing connections on port %u for "
                 "%ld ms (its open connections are dropped and reconnect)",
                 l->name, strerror((int)value), l->port, l->backoff_ms);
    unbind(l, now, l->backoff_ms);
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

long tt_listen_tick(tt_listen_t *l)
{
    int64_t now = now_ns();
    for (int i = 0; i < EVENTS_PER_TICK; i++) {
        zmq_msg_t head, addr;
        zmq_msg_init(&head);
        if (zmq_msg_recv(&head, l->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&head);
            break;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&head) >= 6) {
            memcpy(&event, zmq_msg_data(&head), 2);
            memcpy(&value, (const char *)zmq_msg_data(&head) + 2, 4);
        }
        int more = zmq_msg_more(&head);
        zmq_msg_close(&head);
        while (more) { /* the endpoint frame */
            zmq_msg_init(&addr);
            if (zmq_msg_recv(&addr, l->monitor, 0) < 0)
                more = 0;
            else
                more = zmq_msg_more(&addr);
            zmq_msg_close(&addr);
        }
        on_event(l, event, value, now);
    }
    if (l->bound)
        return -1;
    if (now >= l->bind_at)
        try_bind(l, now);
    if (l->bound)
        return -1;
    long ms = (long)((l->bind_at - now) / 1000000) + 1;
    return ms > 0 ? ms : 1;
}

long tt_listen_min_timeout(long a, long b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}
