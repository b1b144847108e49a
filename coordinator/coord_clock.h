/* coord_clock: the session clock service, on its own socket and thread.
 *
 * Session time is this host's CLOCK_MONOTONIC. A ping is answered with the
 * receive time (t2, read as soon as zmq_poll wakes us) and the send time
 * (t3, read just before the send), so the time a pong waits in this thread
 * is measured rather than guessed. No other traffic shares the socket or
 * the thread: a bulk transfer or an LMDB commit never queues in front of a
 * ping. The ROUTER is CURVE like every socket and its handshakes go
 * through the coordinator's ZAP handler; the thread keeps its own copy of
 * the access table (the owner sends each reload) and answers a ping from
 * a key no longer in it with an authentication error, not a pong.
 */
#ifndef COORD_CLOCK_H
#define COORD_CLOCK_H

#include <stdint.h>

#include "tt_access.h"
#include "tt_keys.h"

typedef struct coord_clock coord_clock_t;

/* Binds endpoint in ctx (the ZAP handler must already be bound) and starts
 * the thread. kp and access are borrowed for the call. NULL with a reason
 * in why. */
coord_clock_t *coord_clock_start(void *ctx, const tt_keypair_t *kp, const char *endpoint,
                                 uint64_t epoch, const tt_access_t *access, char *why);

/* Hands the thread a copy of access (after a reload). 0, or an error with
 * why when the pipe refused it. */
int coord_clock_set_access(coord_clock_t *c, const tt_access_t *access, char *why);

/* Port the clock service listens on. */
unsigned coord_clock_port(const coord_clock_t *c);

/* Stops the thread and closes its socket. Safe on NULL. */
void coord_clock_stop(coord_clock_t **self_p);

#endif
