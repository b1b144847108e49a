/* coord_clock: ping/pong on a dedicated thread. See coord_clock.h. */
#define _GNU_SOURCE
#include "coord_clock.h"
#include "tt_actor.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define PINGS_PER_WAKE 64

struct coord_clock {
    void *router; /* created by the starter, used only by the thread while it runs */
    tt_actor_t *actor;
    unsigned port;
    uint64_t epoch;
};

static void answer(coord_clock_t *c, const tt_wire_msg_t *m, int64_t t2)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__ClockPong pong = TUTTI__CLOCK_PONG__INIT;
    pong.t1 = m->env->clock_ping->t1;
    pong.t2 = t2;
    pong.epoch = c->epoch;
    env.request_id = m->request_id;
    env.body_case = TUTTI__ENVELOPE__BODY_CLOCK_PONG;
    env.clock_pong = &pong;
    pong.t3 = tt_time_mono_ns(); /* last thing before pack + send (under a microsecond) */
    tt_wire_send(c->router, m->routing_id, m->routing_id_len, &env, NULL);
}

/* 1 when the owner asked us to stop; nothing else is ever sent here. */
static int stop_asked(void *pipe)
{
    tt_actor_msg_t m;
    if (tt_actor_recv(pipe, ZMQ_DONTWAIT, &m, NULL) != 0)
        return 0;
    int stop = tt_actor_is_stop(m.cmd);
    tt_actor_msg_clear(&m);
    return stop;
}

static void clock_actor(void *pipe, void *arg)
{
    coord_clock_t *c = arg;
    tt_actor_ready(pipe, 0, NULL);
    for (;;) {
        zmq_pollitem_t items[2] = {{c->router, 0, ZMQ_POLLIN, 0}, {pipe, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            tt_diag_error("clock service: polling: %s", zmq_strerror(errno));
            break;
        }
        int64_t woke = tt_time_mono_ns();
        if ((items[1].revents & ZMQ_POLLIN) && stop_asked(pipe))
            break;
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
            if (rc == 0 && m.env->body_case == TUTTI__ENVELOPE__BODY_CLOCK_PING)
                answer(c, &m, t2);
            else if (m.routing_id_len)
                tt_wire_send_error(c->router, m.routing_id, m.routing_id_len, m.request_id,
                                   rc ? rc : TT_ERR_PROTOCOL, "the clock socket takes pings only");
            tt_wire_msg_clear(&m);
        }
    }
}

coord_clock_t *coord_clock_start(void *ctx, const tt_keypair_t *kp, const char *endpoint,
                                 uint64_t epoch, char *why)
{
    coord_clock_t *c = calloc(1, sizeof *c);
    if (!c) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the clock service");
        return NULL;
    }
    c->epoch = epoch;
    c->router = zmq_socket(ctx, ZMQ_ROUTER);
    if (!c->router) {
        tt_fail(why, TT_ERR_IO, "creating the clock socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (tt_wire_setup_server(c->router, kp, why) != 0)
        goto fail;
    if (zmq_bind(c->router, endpoint) != 0) {
        tt_fail(why, TT_ERR_IO, "binding the clock service to %s: %s", endpoint,
                zmq_strerror(errno));
        goto fail;
    }
    c->port = tt_wire_bound_port(c->router);
    /* The socket was made here but from now on only the thread touches it;
     * the thread's start is the memory barrier ZeroMQ asks for on a hand-over. */
    if (!(c->actor = tt_actor_new(ctx, "clock", clock_actor, c, NULL, why)))
        goto fail;
    return c;
fail:
    coord_clock_stop(&c);
    return NULL;
}

unsigned coord_clock_port(const coord_clock_t *c)
{
    return c->port;
}

void coord_clock_stop(coord_clock_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    coord_clock_t *c = *self_p;
    tt_actor_destroy(&c->actor); /* joined: the router is ours again */
    if (c->router)
        zmq_close(c->router);
    free(c);
    *self_p = NULL;
}
