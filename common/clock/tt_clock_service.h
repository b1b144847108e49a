/* tt_clock_service: the session clock service, on its own socket and thread.
 *
 * At the coordinator session time is this host's CLOCK_MONOTONIC. A site
 * relay or a standby that took over serves it through its own clock
 * client's estimate instead, and states that estimate's error bound in
 * every pong (ClockPong.server_error_ns); until the estimate has a first
 * sample it answers pings with ERROR_UNAVAILABLE. A ping is answered with the
 * receive time (t2, read as soon as zmq_poll wakes us) and the send time
 * (t3, read just before the send), so the time a pong waits in this thread
 * is measured rather than guessed. No other traffic shares the socket or
 * the thread: a bulk transfer or an LMDB commit never queues in front of a
 * ping. The ROUTER is CURVE like every socket and its handshakes go
 * through the coordinator's ZAP handler; the thread keeps its own copy of
 * the access table (the owner sends each reload) and answers a ping from
 * a key no longer in it with an authentication error, not a pong.
 */
#ifndef TT_CLOCK_SERVICE_H
#define TT_CLOCK_SERVICE_H

#include <stdint.h>

#include "tt_access.h"
#include "tt_clock_client.h"
#include "tt_keys.h"

typedef struct tt_clock_service tt_clock_service_t;

/* Binds endpoint in ctx (the ZAP handler must already be bound) and starts
 * the thread. kp and access are borrowed for the call. via: NULL for this
 * host's CLOCK_MONOTONIC, or a clock client with a box (borrowed: it must
 * outlive the service) whose estimate is served. NULL with a reason in
 * why. */
tt_clock_service_t *tt_clock_service_start(void *ctx, const tt_keypair_t *kp, const char *endpoint,
                                           uint64_t epoch, const tt_access_t *access,
                                           tt_clock_client_t *via, char *why);

/* Hands the thread a copy of access (after a reload). 0, or an error with
 * why when the pipe refused it. */
int tt_clock_service_set_access(tt_clock_service_t *c, const tt_access_t *access, char *why);

/* Port the clock service listens on. */
unsigned tt_clock_service_port(const tt_clock_service_t *c);

/* Stops the thread and closes its socket. Safe on NULL. */
void tt_clock_service_stop(tt_clock_service_t **self_p);

#endif
