/* tt_actor: a thread plus a PAIR pipe, started and stopped in step. See
 * tt_actor.h.
 *
 * The stop is a handshake with a fallback. The thread's wrapper marks the
 * actor done (an atomic, the one thing the two threads share) and then
 * sends "$STOPPED" without blocking; the destructor waits for either. The
 * flag covers the cases where the signal cannot arrive: the owner's own
 * reader consumed it after an early return, or the pipe was full. Waiting
 * is a zmq_poll with a short timeout that re-checks the flag, never a
 * sleep, and it keeps reading the pipe so a thread blocked sending to its
 * owner cannot deadlock the stop.
 */
#define _GNU_SOURCE
#include "tt_actor.h"
#include "tt_diag.h"
#include "tt_error.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD_TERM "$TERM"
#define CMD_READY "$READY"
#define CMD_STOPPED "$STOPPED"
#define WAIT_SLICE_MS 100 /* how often a wait re-checks the done flag */

struct tt_actor {
    char name[32];
    void *pipe;        /* owner's end */
    void *thread_pipe; /* the thread's end while it runs; ours again after the join */
    tt_actor_fn *fn;
    void *args;
    pthread_t thread;
    atomic_int done; /* set by the wrapper once fn has returned */
};

/* ------------------------------------------------------------ messages */

static int cmd_ok(const char *cmd)
{
    size_t n = cmd ? strlen(cmd) : 0;
    if (n == 0 || n > TT_ACTOR_CMD_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = cmd[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '$'))
            return 0;
    }
    return 1;
}

int tt_actor_send(void *pipe, int flags, const char *cmd, const void *data, size_t len, char *why)
{
    if (!cmd_ok(cmd))
        return tt_fail(why, TT_ERR_INVALID, "'%.32s' is not a command name", cmd ? cmd : "");
    flags &= ZMQ_DONTWAIT;
    /* A multipart message is delivered whole or not at all, so a full
     * pipe refuses the first frame and nothing half-sent stays behind. */
    if (zmq_send(pipe, cmd, strlen(cmd), flags | (len ? ZMQ_SNDMORE : 0)) < 0 ||
        (len && zmq_send(pipe, data, len, flags) < 0)) {
        int e = errno;
        int rc = tt_fail(why, e == EAGAIN ? TT_ERR_AGAIN : TT_ERR_IO, "sending %s: %s", cmd,
                         zmq_strerror(e));
        errno = e; /* kept too: EINTR is worth another try */
        return rc;
    }
    return 0;
}

static void drain(void *pipe)
{
    int more = 1;
    size_t sz = sizeof more;
    while (zmq_getsockopt(pipe, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = zmq_msg_recv(&m, pipe, 0);
        zmq_msg_close(&m);
        if (rc < 0)
            return;
    }
}

int tt_actor_recv(void *pipe, int flags, tt_actor_msg_t *msg, char *why)
{
    memset(msg->cmd, 0, sizeof msg->cmd);
    msg->data = NULL;
    msg->len = 0;
    zmq_msg_init(&msg->frame_);
    char cmd[TT_ACTOR_CMD_MAX + 2];
    int n = zmq_recv(pipe, cmd, sizeof cmd - 1, flags & ZMQ_DONTWAIT);
    if (n < 0) {
        int e = errno;
        int rc =
            tt_fail(why, e == EAGAIN ? TT_ERR_AGAIN : TT_ERR_IO, "receiving: %s", zmq_strerror(e));
        errno = e; /* kept too: EINTR is worth another try */
        return rc;
    }
    int more = 0;
    size_t sz = sizeof more;
    if (zmq_getsockopt(pipe, ZMQ_RCVMORE, &more, &sz) != 0)
        return tt_fail(why, TT_ERR_IO, "receiving: %s", zmq_strerror(errno));
    cmd[n < (int)sizeof cmd - 1 ? n : (int)sizeof cmd - 1] = '\0';
    if (n > TT_ACTOR_CMD_MAX || !cmd_ok(cmd)) {
        if (more)
            drain(pipe);
        return tt_fail(why, TT_ERR_PROTOCOL, "a message whose first frame is not a command");
    }
    if (more) {
        if (zmq_msg_recv(&msg->frame_, pipe, 0) < 0) {
            int e = errno;
            zmq_msg_close(&msg->frame_);
            return tt_fail(why, TT_ERR_IO, "receiving %s: %s", cmd, zmq_strerror(e));
        }
        if (zmq_msg_more(&msg->frame_)) {
            zmq_msg_close(&msg->frame_);
            drain(pipe);
            return tt_fail(why, TT_ERR_PROTOCOL, "%s came with more than one payload frame", cmd);
        }
        msg->data = zmq_msg_data(&msg->frame_);
        msg->len = zmq_msg_size(&msg->frame_);
        if (msg->len == 0)
            msg->data = NULL;
    }
    memcpy(msg->cmd, cmd, (size_t)n + 1);
    return 0;
}

void tt_actor_msg_clear(tt_actor_msg_t *msg)
{
    zmq_msg_close(&msg->frame_);
    zmq_msg_init(&msg->frame_);
    msg->data = NULL;
    msg->len = 0;
}

int tt_actor_is_stop(const char *cmd)
{
    return cmd && strcmp(cmd, CMD_TERM) == 0;
}

int tt_actor_dispatch(const tt_actor_cmd_t *table, void *self, const tt_actor_msg_t *msg, char *why)
{
    for (const tt_actor_cmd_t *row = table; row->cmd; row++) {
        if (strcmp(row->cmd, msg->cmd) != 0)
            continue;
        if (row->len != TT_ACTOR_ANY_LEN && row->len != msg->len)
            return tt_fail(why, TT_ERR_PROTOCOL, "%s takes %zu bytes, not %zu", msg->cmd, row->len,
                           msg->len);
        row->fn(self, msg->data, msg->len);
        return 0;
    }
    return tt_fail(why, TT_ERR_NOTFOUND, "no command %s here", msg->cmd);
}

/* ------------------------------------------------------------ the thread */

typedef struct {
    int32_t status;
    char why[TT_WHY_LEN];
} ready_t;

void tt_actor_ready(void *pipe, int status, const char *why)
{
    ready_t r = {.status = status};
    if (why)
        snprintf(r.why, sizeof r.why, "%s", why);
    char swhy[TT_WHY_LEN];
    /* Blocking: the constructor is waiting for exactly this. */
    if (tt_actor_send(pipe, 0, CMD_READY, &r, sizeof r, swhy) != 0)
        tt_diag_error("actor: reporting ready: %s", swhy);
}

static void *shim(void *arg)
{
    tt_actor_t *a = arg;
    a->fn(a->thread_pipe, a->args);
    atomic_store_explicit(&a->done, 1, memory_order_release);
    /* Only a wake-up for the owner's poll: the flag is the truth, so a
     * full pipe (or an owner that reads no more) costs nothing. */
    (void)tt_actor_send(a->thread_pipe, ZMQ_DONTWAIT, CMD_STOPPED, NULL, 0, NULL);
    return NULL;
}

/* ------------------------------------------------------------ the owner */

static int is_done(tt_actor_t *a)
{
    return atomic_load_explicit(&a->done, memory_order_acquire);
}

/* Reads the owner's end until the thread says `want` ($READY: *r is
 * filled) or has returned; discards anything else. 1 when `want` came, 0
 * when the thread returned first, TT_ERR_IO when the pipe failed. */
static int wait_for(tt_actor_t *a, const char *want, ready_t *r, char *why)
{
    for (int last = 0;;) {
        tt_actor_msg_t m;
        int rc = tt_actor_recv(a->pipe, ZMQ_DONTWAIT, &m, why);
        if (rc == 0) {
            int hit = strcmp(m.cmd, want) == 0;
            int stopped = strcmp(m.cmd, CMD_STOPPED) == 0;
            if (hit && r) {
                if (m.len == sizeof *r)
                    memcpy(r, m.data, sizeof *r);
                else
                    *r = (ready_t){.status = TT_ERR_PROTOCOL, .why = "a malformed $READY"};
            }
            tt_actor_msg_clear(&m);
            if (hit)
                return 1;
            if (stopped)
                return 0;
            continue;
        }
        if (rc == TT_ERR_PROTOCOL)
            continue;
        if (rc != TT_ERR_AGAIN && errno != EINTR)
            return TT_ERR_IO;
        if (last)
            return 0;
        if (is_done(a)) { /* what it sent before returning is in the pipe: one more look */
            last = 1;
            continue;
        }
        zmq_pollitem_t item = {a->pipe, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, WAIT_SLICE_MS) < 0 && errno != EINTR)
            return tt_fail(why, TT_ERR_IO, "waiting for the %s thread: %s", a->name,
                           zmq_strerror(errno));
    }
}

/* Frees the pipe and the actor; the thread is not running (never started,
 * or joined). */
static void release(tt_actor_t *a)
{
    if (a->pipe && zmq_close(a->pipe) != 0)
        tt_diag_error("actor %s: closing the pipe: %s", a->name, zmq_strerror(errno));
    if (a->thread_pipe && zmq_close(a->thread_pipe) != 0)
        tt_diag_error("actor %s: closing the thread's end: %s", a->name, zmq_strerror(errno));
    free(a);
}

static void join(tt_actor_t *a)
{
    int rc = pthread_join(a->thread, NULL);
    if (rc != 0)
        tt_diag_error("actor %s: joining the thread: %s", a->name, strerror(rc));
}

int tt_actor_pipe(void *zmq_ctx, const char *name, void **owner_end, void **thread_end, char *why)
{
    static atomic_uint counter;
    char ep[128];
    snprintf(ep, sizeof ep, "inproc://tt-pipe-%.32s-%p-%u", name, (void *)owner_end,
             atomic_fetch_add(&counter, 1) + 1);
    int linger = 0;
    *owner_end = zmq_socket(zmq_ctx, ZMQ_PAIR);
    *thread_end = zmq_socket(zmq_ctx, ZMQ_PAIR);
    if (*owner_end && *thread_end &&
        zmq_setsockopt(*owner_end, ZMQ_LINGER, &linger, sizeof linger) == 0 &&
        zmq_setsockopt(*thread_end, ZMQ_LINGER, &linger, sizeof linger) == 0 &&
        zmq_bind(*owner_end, ep) == 0 && zmq_connect(*thread_end, ep) == 0)
        return 0;
    int e = errno;
    if (*owner_end)
        zmq_close(*owner_end);
    if (*thread_end)
        zmq_close(*thread_end);
    *owner_end = *thread_end = NULL;
    return tt_fail(why, TT_ERR_IO, "creating the %s pipe: %s", name, zmq_strerror(e));
}

tt_actor_t *tt_actor_new(void *zmq_ctx, const char *name, tt_actor_fn *fn, void *args, int *err,
                         char *why)
{
    int dummy;
    if (!err)
        err = &dummy;
    tt_actor_t *a = calloc(1, sizeof *a);
    if (!a) {
        *err = tt_fail(why, TT_ERR_NOMEM, "allocating the %s thread", name);
        return NULL;
    }
    snprintf(a->name, sizeof a->name, "%s", name);
    a->fn = fn;
    a->args = args;
    atomic_init(&a->done, 0);
    if ((*err = tt_actor_pipe(zmq_ctx, a->name, &a->pipe, &a->thread_pipe, why)) != 0) {
        release(a);
        return NULL;
    }
    /* The programs' stop signals go to the main thread, whose poll they
     * interrupt and whose handler sets its stop flag: an actor would take
     * one with its own poll and leave the main loop to notice late. A new
     * thread inherits its creator's mask, so block them for the create. */
    sigset_t stop_signals, old_mask;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    int masked = pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    if (masked != 0)
        tt_diag_warn("actor %s: blocking stop signals: %s", a->name, strerror(masked));
    int rc = pthread_create(&a->thread, NULL, shim, a);
    if (masked == 0 && (masked = pthread_sigmask(SIG_SETMASK, &old_mask, NULL)) != 0)
        tt_diag_error("actor %s: restoring the signal mask: %s", a->name, strerror(masked));
    if (rc != 0) {
        *err = tt_fail(why, TT_ERR_IO, "starting the %s thread: %s", a->name, strerror(rc));
        release(a);
        return NULL;
    }
    ready_t r;
    rc = wait_for(a, CMD_READY, &r, why);
    if (rc == 1 && r.status == 0) {
        *err = 0;
        return a;
    }
    if (rc == 1) {
        *err = r.status < 0 ? r.status : TT_ERR_IO;
        if (r.why[0])
            snprintf(why, TT_WHY_LEN, "%s", r.why);
        else
            tt_fail(why, *err, "the %s thread failed to start: %s", a->name, tt_strerror(*err));
        wait_for(a, CMD_STOPPED, NULL, NULL);
    } else {
        *err = rc < 0 ? rc
                      : tt_fail(why, TT_ERR_IO, "the %s thread ended before it was ready", a->name);
    }
    /* A thread that failed its setup returns next; one whose pipe failed
     * has no way to hear a $TERM, so the join is all there is. */
    join(a);
    release(a);
    return NULL;
}

void tt_actor_destroy(tt_actor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_actor_t *a = *self_p;
    char why[TT_WHY_LEN];
    /* Not blocking: a thread that already returned never reads it, and a
     * full pipe must not stop us from reading what the thread sends. */
    int told = is_done(a);
    while (!told) {
        int rc = tt_actor_send(a->pipe, ZMQ_DONTWAIT, CMD_TERM, NULL, 0, why);
        if (rc == 0) {
            told = 1;
            break;
        }
        if (rc != TT_ERR_AGAIN && errno != EINTR) {
            tt_diag_error("actor %s: asking the thread to stop: %s; waiting for it", a->name, why);
            break;
        }
        tt_actor_msg_t m; /* make room: the thread may be blocked sending to us */
        while (tt_actor_recv(a->pipe, ZMQ_DONTWAIT, &m, NULL) == 0)
            tt_actor_msg_clear(&m);
        zmq_pollitem_t item = {a->pipe, 0, ZMQ_POLLIN | ZMQ_POLLOUT, 0};
        if (zmq_poll(&item, 1, WAIT_SLICE_MS) < 0 && errno != EINTR) {
            tt_diag_error("actor %s: asking the thread to stop: %s; waiting for it", a->name,
                          zmq_strerror(errno));
            break;
        }
        told = is_done(a);
    }
    if (wait_for(a, CMD_STOPPED, NULL, why) < 0)
        tt_diag_error("actor %s: waiting for the thread to stop: %s", a->name, why);
    join(a);
    release(a);
    *self_p = NULL;
}

void *tt_actor_sock(tt_actor_t *self)
{
    return self ? self->pipe : NULL;
}
