/* coord_outbox: per-peer replies waiting for a full pipe. See coord_outbox.h.
 *
 * Only peers with something waiting have an entry, so the table is short
 * (a peer that reads leaves it within moments) and is searched linearly.
 * A waiting reply is kept packed as the zmq_msg_t it will be sent as.
 */
#define _GNU_SOURCE
#include "coord_outbox.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define READING_NS (2LL * 1000000) /* a peer that took a reply this recently is reading */
#define RETRY_MS 5                 /* peers not reading are tried this often */

typedef struct msg_node {
    struct msg_node *next;
    zmq_msg_t frame;
} msg_node_t;

typedef struct {
    uint8_t rid[TT_WIRE_MAX_ROUTING_ID];
    size_t rid_len;
    msg_node_t *head, *tail;
    size_t msgs, bytes;
    size_t dropped;       /* replies dropped at the bounds since the last warning */
    int64_t last_sent_ns; /* monotonic, when the pipe last took one of these */
} peer_t;

struct coord_outbox {
    void *router;
    char name[32];
    int64_t give_up_ns;
    peer_t *peers; /* peers with replies waiting */
    size_t n_peers, cap_peers;
};

int coord_outbox_configure(void *router, char *why)
{
    int hwm = COORD_OUTBOX_PIPE_HWM, mandatory = 1;
    if (zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory) != 0)
        return tt_fail(why, TT_ERR_IO, "setting the ROUTER's send limits: %s", zmq_strerror(errno));
    return 0;
}

coord_outbox_t *coord_outbox_new(void *router, const char *name, int give_up_ms, char *why)
{
    coord_outbox_t *o = calloc(1, sizeof *o);
    if (!o) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the %s outbox", name);
        return NULL;
    }
    o->router = router;
    o->give_up_ns = (int64_t)give_up_ms * 1000000;
    snprintf(o->name, sizeof o->name, "%s", name);
    return o;
}

static void peer_clear(peer_t *p)
{
    while (p->head) {
        msg_node_t *n = p->head;
        p->head = n->next;
        zmq_msg_close(&n->frame);
        free(n);
    }
    p->tail = NULL;
    p->msgs = p->bytes = 0;
}

void coord_outbox_destroy(coord_outbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    coord_outbox_t *o = *self_p;
    for (size_t i = 0; i < o->n_peers; i++)
        peer_clear(&o->peers[i]);
    free(o->peers);
    free(o);
    *self_p = NULL;
}

static peer_t *find_peer(const coord_outbox_t *o, const uint8_t *rid, size_t rid_len)
{
    for (size_t i = 0; i < o->n_peers; i++)
        if (o->peers[i].rid_len == rid_len && memcmp(o->peers[i].rid, rid, rid_len) == 0)
            return &o->peers[i];
    return NULL;
}

static peer_t *add_peer(coord_outbox_t *o, const uint8_t *rid, size_t rid_len)
{
    if (o->n_peers == o->cap_peers) {
        size_t cap = o->cap_peers ? 2 * o->cap_peers : 8;
        peer_t *more = realloc(o->peers, cap * sizeof *more);
        if (!more)
            return NULL;
        o->peers = more;
        o->cap_peers = cap;
    }
    peer_t *p = &o->peers[o->n_peers++];
    memset(p, 0, sizeof *p);
    memcpy(p->rid, rid, rid_len);
    p->rid_len = rid_len;
    p->last_sent_ns = tt_time_mono_ns(); /* just now: it may be reading */
    return p;
}

static void remove_peer(coord_outbox_t *o, peer_t *p)
{
    peer_clear(p);
    *p = o->peers[--o->n_peers];
}

/* 0 sent (frame consumed), TT_ERR_AGAIN the pipe is full (frame kept),
 * TT_ERR_IO the peer is gone (frame kept). */
static int try_send(coord_outbox_t *o, const uint8_t *rid, size_t rid_len, zmq_msg_t *frame)
{
    if (zmq_send(o->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN ? TT_ERR_AGAIN : TT_ERR_IO;
    /* Mandatory routing checked the pipe with the routing id: the body goes. */
    if (zmq_msg_send(frame, o->router, ZMQ_DONTWAIT) < 0)
        return TT_ERR_IO;
    return 0;
}

static int enqueue(coord_outbox_t *o, peer_t *p, zmq_msg_t *frame, char *why)
{
    size_t size = zmq_msg_size(frame);
    if (p->msgs >= COORD_OUTBOX_PEER_MAX_MSGS || p->bytes + size > COORD_OUTBOX_PEER_MAX_BYTES) {
        if (p->dropped++ == 0)
            tt_diag_warn("%s socket: a peer is not reading its replies (%zu waiting, %zu bytes): "
                         "dropping more until it does",
                         o->name, p->msgs, p->bytes);
        return tt_fail(why, TT_ERR_UNAVAILABLE, "the peer has %zu replies unread", p->msgs);
    }
    msg_node_t *n = malloc(sizeof *n);
    if (!n)
        return tt_fail(why, TT_ERR_NOMEM, "queueing a %zu-byte reply", size);
    n->next = NULL;
    zmq_msg_init(&n->frame);
    zmq_msg_move(&n->frame, frame);
    if (p->tail)
        p->tail->next = n;
    else
        p->head = n;
    p->tail = n;
    p->msgs++;
    p->bytes += size;
    return 0;
}

int coord_outbox_send(coord_outbox_t *o, const uint8_t *rid, size_t rid_len, Tutti__Envelope *env,
                      char *why)
{
    if (rid_len == 0 || rid_len > TT_WIRE_MAX_ROUTING_ID)
        return tt_fail(why, TT_ERR_INVALID, "a reply without a routing id");
    zmq_msg_t frame;
    int rc = tt_wire_pack(env, &frame, why);
    if (rc != 0)
        return rc;
    peer_t *p = find_peer(o, rid, rid_len);
    if (!p) { /* nothing waits: straight to the pipe if it has room */
        rc = try_send(o, rid, rid_len, &frame);
        if (rc != TT_ERR_AGAIN) {
            zmq_msg_close(&frame);
            return rc == 0 ? 0 : tt_fail(why, TT_ERR_IO, "the peer is gone");
        }
        if (!(p = add_peer(o, rid, rid_len))) {
            zmq_msg_close(&frame);
            return tt_fail(why, TT_ERR_NOMEM, "queueing a reply");
        }
    }
    rc = enqueue(o, p, &frame, why);
    zmq_msg_close(&frame); /* empty when it moved into the queue */
    if (p->msgs == 0)
        remove_peer(o, p);
    return rc;
}

int coord_outbox_send_error(coord_outbox_t *o, const uint8_t *rid, size_t rid_len,
                            uint64_t request_id, int code, const char *message)
{
    Tutti__Envelope env;
    Tutti__Error err;
    tt_wire_make_error(&env, &err, request_id, code, message);
    return coord_outbox_send(o, rid, rid_len, &env, NULL);
}

size_t coord_outbox_waiting(const coord_outbox_t *o, const uint8_t *rid, size_t rid_len)
{
    const peer_t *p = find_peer(o, rid, rid_len);
    return p ? p->bytes : 0;
}

size_t coord_outbox_flush(coord_outbox_t *o)
{
    size_t sent = 0;
    int64_t now = tt_time_mono_ns();
    for (size_t i = 0; i < o->n_peers;) {
        peer_t *p = &o->peers[i];
        int rc = 0;
        while (p->head && (rc = try_send(o, p->rid, p->rid_len, &p->head->frame)) == 0) {
            msg_node_t *n = p->head;
            p->head = n->next;
            p->bytes -= zmq_msg_size(&n->frame);
            p->msgs--;
            zmq_msg_close(&n->frame);
            free(n);
            p->last_sent_ns = now;
            sent++;
        }
        if (!p->head)
            p->tail = NULL;
        if (p->dropped && p->msgs == 0) {
            tt_diag_info("%s socket: the peer reads again; %zu replies to it were dropped", o->name,
                         p->dropped);
            p->dropped = 0;
        }
        int stuck = p->msgs > 0 && now - p->last_sent_ns > o->give_up_ns;
        if (rc == TT_ERR_IO) /* gone: its replies have nobody to go to */
            tt_diag_warn("%s socket: a peer left with %zu replies unread", o->name, p->msgs);
        else if (stuck)
            tt_diag_warn("%s socket: a peer took no reply for %lld s: dropping its %zu waiting",
                         o->name, (long long)(o->give_up_ns / 1000000000), p->msgs);
        if (rc == TT_ERR_IO || stuck || p->msgs == 0)
            remove_peer(o, p); /* the last entry moved to i: look at it next */
        else
            i++;
    }
    return sent;
}

int coord_outbox_wait_ms(const coord_outbox_t *o)
{
    if (o->n_peers == 0)
        return -1;
    int64_t now = tt_time_mono_ns();
    for (size_t i = 0; i < o->n_peers; i++)
        if (now - o->peers[i].last_sent_ns < READING_NS)
            return 0;
    return RETRY_MS;
}
