/* tt_actor: every thread of ours, started and stopped one way.
 *
 * czmq's zactor in small: a thread plus an inproc PAIR-PAIR pipe to its
 * owner. The constructor returns once the thread says it is set up (or
 * fails with the thread's own code and reason, the thread joined); the
 * destructor asks it to stop, waits until it has, joins it and closes the
 * pipe. Before this, each thread had its own start, its own stop message
 * ("stop", a struct with CMD_QUIT, ...) and its own unchecked join.
 *
 * One message format on the pipe, both ways:
 *   frame 1  the command: 1..TT_ACTOR_CMD_MAX bytes of [A-Z0-9_$] ("CONNECT", "$TERM")
 *   frame 2  optional binary payload (absent when there is none)
 * Names starting with '$' belong to this module: "$TERM" (owner -> thread:
 * stop now), "$READY" and "$STOPPED" (thread -> owner, sent for you). A
 * payload is raw bytes between two threads of one process: a struct or a
 * string, never a wire format. A reader skips commands it does not know:
 * the owner's may meet a "$STOPPED" from a thread that returned early.
 *
 * Threads share nothing mutable: the pipe is the only way in or out
 * (besides what the thread function's args hand over at the start, which
 * pthread_create makes visible to the new thread). An actor's thread
 * blocks SIGINT, SIGTERM and SIGHUP: they reach the main thread, whose
 * handler and poll loop deal with them.
 */
#ifndef TT_ACTOR_H
#define TT_ACTOR_H

#include <stddef.h>
#include <zmq.h>

#define TT_ACTOR_CMD_MAX 15
#define TT_ACTOR_ANY_LEN ((size_t)-1) /* a command table row taking any payload */

typedef struct tt_actor tt_actor_t;

/* Runs on the new thread. pipe is the thread's end: the function owns it
 * for its lifetime but must not close it (the destructor does, after the
 * join). It must call tt_actor_ready once: with 0 when set up, then loop
 * until it receives "$TERM" and return; or with a TT_ERR_* code (and a
 * reason) and return at once, and the constructor fails with that code.
 * Returning early is allowed (the owner sees "$STOPPED"); blocking past a
 * "$TERM" is not: the destructor waits for the return. */
typedef void(tt_actor_fn)(void *pipe, void *args);

/* Creates the pipe (both ends before the thread starts, so nothing sent
 * early is lost), starts fn(pipe, args) on a new thread named by name (for
 * log lines; copied) and waits for its tt_actor_ready. args is the
 * thread's from now until it returns. NULL with a reason in why when the
 * pipe or the thread cannot be made, or with the thread's own reason when
 * it reported a failure (its code is then in *err when err is not NULL;
 * TT_ERR_IO / TT_ERR_NOMEM for our own failures). The thread has been
 * joined by then. */
tt_actor_t *tt_actor_new(void *zmq_ctx, const char *name, tt_actor_fn *fn, void *args, int *err,
                         char *why);

/* Sends "$TERM", waits for the thread to return (reading and discarding
 * whatever it still sends), joins it, closes both ends of the pipe, frees
 * and NULLs *self_p. Failures are logged (tt_diag), not returned: there is
 * nothing a caller could do but carry on. Safe on NULL. */
void tt_actor_destroy(tt_actor_t **self_p);

/* A second pipe between a thread and its owner, for traffic in another
 * framing than the command format (coord_upload's envelope requests,
 * which the main loop answers like its clients' requests): inproc PAIR,
 * linger 0, both ends connected before this returns. Hand *thread_end to
 * the thread through tt_actor_new's args; the caller closes both after
 * tt_actor_destroy. 0, or TT_ERR_IO with why. */
int tt_actor_pipe(void *zmq_ctx, const char *name, void **owner_end, void **thread_end, char *why);

/* The owner's end of the pipe (borrowed, valid until destroy): poll it for
 * ZMQ_POLLIN, read with tt_actor_recv, send with tt_actor_send. */
void *tt_actor_sock(tt_actor_t *self);

/* The thread: 0 once set up, or a TT_ERR_* code and a reason (may be NULL)
 * when setup failed. Call once, before anything else is sent. */
void tt_actor_ready(void *pipe, int status, const char *why);

/* Sends cmd with len bytes of data (len 0: no payload frame) on either end
 * of a pipe. flags: 0 or ZMQ_DONTWAIT. 0; TT_ERR_INVALID for a bad command
 * name; TT_ERR_AGAIN when the pipe is full (ZMQ_DONTWAIT); TT_ERR_IO with why
 * otherwise, errno kept (EINTR: try again). */
int tt_actor_send(void *pipe, int flags, const char *cmd, const void *data, size_t len, char *why);

/* A received message. data points into the message (NULL when it has no
 * payload) and is valid until tt_actor_msg_clear. */
typedef struct {
    char cmd[TT_ACTOR_CMD_MAX + 1];
    const void *data;
    size_t len;
    zmq_msg_t frame_; /* the payload frame; private */
} tt_actor_msg_t;

/* Receives one message from either end of a pipe. flags: 0 or
 * ZMQ_DONTWAIT. 0 (clear msg afterwards); TT_ERR_AGAIN when nothing is there
 * (ZMQ_DONTWAIT); TT_ERR_IO when nothing could be read, errno kept (EINTR: try
 * again); TT_ERR_PROTOCOL when the message is not in the
 * format above (it has been read whole and dropped; msg needs no clear). */
int tt_actor_recv(void *pipe, int flags, tt_actor_msg_t *msg, char *why);
void tt_actor_msg_clear(tt_actor_msg_t *msg);

/* 1 when cmd asks the thread to stop ("$TERM"). */
int tt_actor_is_stop(const char *cmd);

/* One row of a thread's command table (Redis's command table in small):
 * the name, the payload length it takes (TT_ACTOR_ANY_LEN: any), and the
 * handler, called with the table's self. A table ends with a {NULL} row. */
typedef struct {
    const char *cmd;
    size_t len;
    void (*fn)(void *self, const void *data, size_t len);
} tt_actor_cmd_t;

/* Runs the row of table named by msg->cmd. 0; TT_ERR_NOTFOUND for a
 * command the table does not have, TT_ERR_PROTOCOL for a payload of
 * another length; why says which. */
int tt_actor_dispatch(const tt_actor_cmd_t *table, void *self, const tt_actor_msg_t *msg,
                      char *why);

#endif
