/* tt_listen: a bound endpoint that can be dropped and bound again.
 *
 * Two things need it.
 *
 * Revocation. A PUB socket has no per-peer check: after the handshake it
 * never hears from a subscriber again, so a key removed from the access
 * file would keep receiving every update. Unbinding the endpoint drops
 * every connection the listener accepted (libzmq owns them under it);
 * binding the same port again makes every subscriber reconnect through
 * ZAP, where a revoked key is refused. Subscribers repair the gap with
 * their usual gap fetch.
 *
 * The fd limit. When accept() fails with EMFILE, libzmq's I/O thread
 * leaves the connection in the backlog and epoll wakes it again at once:
 * it spins (measured: 5,500 failed accepts a second, a core busy, for as
 * long as the flood holds). A monitor on the socket reports each failure;
 * at EMFILE or ENFILE the endpoint is unbound for a back-off (new
 * connections are refused, and the ones it held are dropped, which frees
 * their descriptors), then bound again.
 *
 * Binding again can fail for a moment (the old listener closes on the
 * I/O thread): it is retried every few ms, and logged as an error after
 * a second, never left silently unbound.
 *
 * A tt_listen belongs to the thread that owns its socket: that thread
 * polls tt_listen_events and calls tt_listen_tick each turn.
 */
#ifndef TT_LISTEN_H
#define TT_LISTEN_H

#include <stdint.h>

typedef struct tt_listen tt_listen_t;

/* Binds sock (borrowed; it must outlive this) to endpoint ("tcp://host:*"
 * picks a free port, kept for every later bind) and starts watching it.
 * name is for log lines ("updates"). NULL with a reason in why. */
tt_listen_t *tt_listen_new(void *ctx, void *sock, const char *name, const char *endpoint,
                           char *why);

/* Stops the monitor. Call before the socket is closed, on its thread.
 * Safe on NULL. */
void tt_listen_destroy(tt_listen_t **self_p);

/* The port, and the endpoint with it ("tcp://127.0.0.1:41234"). */
unsigned tt_listen_port(const tt_listen_t *l);
const char *tt_listen_endpoint(const tt_listen_t *l);

/* The monitor socket: poll it for ZMQ_POLLIN, then call tt_listen_tick. */
void *tt_listen_events(tt_listen_t *l);

/* 1 while the endpoint is bound. */
int tt_listen_bound(const tt_listen_t *l);

/* Drops every connection of the endpoint and binds it again now (or as
 * soon as the port is free). why_text is logged. */
void tt_listen_drop(tt_listen_t *l, const char *why_text);

/* Reads the monitor and binds again when due. Returns the ms until it
 * wants to be called again, or -1 when only the monitor matters. */
long tt_listen_tick(tt_listen_t *l);

/* The smaller of two poll timeouts where -1 means "none". */
long tt_listen_min_timeout(long a, long b);

#endif
