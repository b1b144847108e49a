/* tt_clock_service: ping/pong on a dedicated thread. See tt_clock_service.h. */
#define _GNU_SOURCE
#include "tt_clock_service.h"
#include "tt_actor.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_listen.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define PINGS_PER_WAKE 64

struct tt_clock_service {
    void *router;        /* created by the starter, used only by the thread while it runs */
    tt_listen_t *listen; /* the router's endpoint; the thread's while it runs */
    tt_access_t *access; /* the thread's copy of the access table */
    tt_actor_t *actor;
    unsigned port;
    uint64_t epoch;
    tt_clock_client_t *via; /* NULL: session time is CLOCK_MONOTONIC */
    int stop;
};

static void answer(tt_clock_service_t *c, const tt_wire_msg_t *m, int64_t t2_mono)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__ClockPong pong = TUTTI__CLOCK_PONG__INIT;
    pong.t1 = m->env->clock_ping->t1;
    pong.t2 = t2_mono;
    pong.epoch = c->epoch;
    env.request_id = m->request_id;
    env.body_case = TUTTI__ENVELOPE__BODY_CLOCK_PONG;
    env.clock_pong = &pong;
    if (c->via) {
        uint64_t bound;
        int64_t t3_mono = tt_time_mono_ns();
        if (tt_clock_client_session_ns(c->via, t2_mono, &pong.t2, &bound) != 0 ||
            tt_clock_client_session_ns(c->via, t3_mono, &pong.t3, &bound) != 0 ||
            bound == UINT64_MAX) {
            tt_wire_send_error(c->router, m->routing_id, m->routing_id_len, m->request_id,
                               TT_ERR_UNAVAILABLE, "no estimate of session time here yet");
            return;
        }
        pong.server_error_ns = bound;
    } else {
        pong.t3 = tt_time_mono_ns(); /* last thing before pack + send (under a microsecond) */
    }
    tt_wire_send(c->router, m->routing_id, m->routing_id_len, &env, NULL);
}

/* "ACCESS": the access table after a reload, as its entries' bytes. */
static void on_access(void *self, const void *data, size_t len)
{
    tt_clock_service_t *c = self;
    char why[TT_WHY_LEN];
    tt_access_t *fresh = tt_access_from_bytes(data, len, why);
    if (!fresh) {
        tt_diag_error("clock service: keeping the old access table: %s", why);
        return;
    }
    tt_access_destroy(&c->access);
    c->access = fresh;
}

static const tt_actor_cmd_t commands[] = {
    {"ACCESS", TT_ACTOR_ANY_LEN, on_access},
    {NULL, 0, NULL},
};

static void on_command(tt_clock_service_t *c, void *pipe)
{
    for (;;) {
        tt_actor_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_actor_recv(pipe, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_PROTOCOL)
            continue; /* malformed: dropped whole */
        if (rc != 0)
            return;
        if (tt_actor_is_stop(m.cmd))
            c->stop = 1;
        else if (tt_actor_dispatch(commands, c, &m, why) != 0)
            tt_diag_error("clock service: %s", why);
        tt_actor_msg_clear(&m);
    }
}

static void clock_actor(void *pipe, void *arg)
{
    tt_clock_service_t *c = arg;
    tt_actor_ready(pipe, 0, NULL);
    long timeout = -1;
    while (!c->stop) {
        zmq_pollitem_t items[3] = {{c->router, 0, ZMQ_POLLIN, 0},
                                   {pipe, 0, ZMQ_POLLIN, 0},
                                   {tt_listen_events(c->listen), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 3, timeout) < 0) {
            if (errno == EINTR)
                continue;
            tt_diag_error("clock service: polling: %s", zmq_strerror(errno));
            break;
        }
        int64_t woke = tt_time_mono_ns();
        if (items[1].revents & ZMQ_POLLIN) {
            on_command(c, pipe);
            if (c->stop)
                break;
        }
        timeout = tt_listen_tick(c->listen);
        for (int i = 0; i < PINGS_PER_WAKE; i++) {
            tt_wire_msg_t m;
            char why[TT_WHY_LEN];
            int rc = tt_wire_recv(c->router, 1, ZMQ_DONTWAIT, &m, why);
            if (rc == TT_ERR_AGAIN)
                break;
            if (rc == TT_ERR_IO) {
                tt_diag_warn("clock socket: %s", why);
                break;
            }
            /* The first message was there when poll woke; later ones arrived since. */
            int64_t t2 = i == 0 ? woke : tt_time_mono_ns();
            if (rc == 0 && !tt_access_find_key(c->access, m.user_id))
                /* Admitted at the handshake, removed since by a reload: no
                 * more time for it (a ROUTER cannot drop one peer). */
                tt_wire_send_error(c->router, m.routing_id, m.routing_id_len, m.request_id,
                                   TT_ERR_AUTH, "your key is no longer in the access file");
            else if (rc == 0 && m.env->body_case == TUTTI__ENVELOPE__BODY_CLOCK_PING)
                answer(c, &m, t2);
            else if (m.routing_id_len)
                tt_wire_send_error(c->router, m.routing_id, m.routing_id_len, m.request_id,
                                   rc ? rc : TT_ERR_PROTOCOL, "the clock socket takes pings only");
            tt_wire_msg_clear(&m);
        }
    }
}

tt_clock_service_t *tt_clock_service_start(void *ctx, const tt_keypair_t *kp, const char *endpoint,
                                           uint64_t epoch, const tt_access_t *access,
                                           tt_clock_client_t *via, char *why)
{
    tt_clock_service_t *c = calloc(1, sizeof *c);
    if (!c) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the clock service");
        return NULL;
    }
    c->epoch = epoch;
    c->via = via;
    c->router = zmq_socket(ctx, ZMQ_ROUTER);
    if (!c->router) {
        tt_fail(why, TT_ERR_IO, "creating the clock socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (tt_wire_setup_server(c->router, kp, why) != 0)
        goto fail;
    if (!(c->access = tt_access_from_entries(access->entries, access->count, why)))
        goto fail;
    if (!(c->listen = tt_listen_new(ctx, c->router, "clock", endpoint, why)))
        goto fail;
    c->port = tt_listen_port(c->listen);
    /* The socket was made here but from now on only the thread touches it;
     * the thread's start is the memory barrier ZeroMQ asks for on a hand-over. */
    if (!(c->actor = tt_actor_new(ctx, "clock", clock_actor, c, NULL, why)))
        goto fail;
    return c;
fail:
    tt_clock_service_stop(&c);
    return NULL;
}

int tt_clock_service_set_access(tt_clock_service_t *c, const tt_access_t *access, char *why)
{
    return tt_actor_send(tt_actor_sock(c->actor), 0, "ACCESS", access->entries,
                         access->count * sizeof *access->entries, why);
}

unsigned tt_clock_service_port(const tt_clock_service_t *c)
{
    return c->port;
}

void tt_clock_service_stop(tt_clock_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_clock_service_t *c = *self_p;
    tt_actor_destroy(&c->actor); /* joined: the router is ours again */
    tt_listen_destroy(&c->listen);
    if (c->router)
        zmq_close(c->router);
    tt_access_destroy(&c->access);
    free(c);
    *self_p = NULL;
}
