/* tt_client: a CURVE DEALER connection to the coordinator that can tell
 * "my key was refused" from "nobody answered".
 *
 * libzmq retries a refused handshake quietly forever; a socket monitor
 * shows the refusal (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), so programs fail
 * fast with a clear authentication error instead of timing out.
 * Used from one thread. The socket and monitor are owned by the client.
 */
#ifndef TT_CLIENT_H
#define TT_CLIENT_H

#include "tt_keys.h"
#include "tt_wire.h"

typedef struct tt_client tt_client_t;

/* immediate: queue messages only to a completed connection (agents, which
 * must not pile up stale heartbeats); 0 for one-shot CLI requests. */
tt_client_t *tt_client_new(void *ctx, const char *endpoint, const char *server_key_z85,
                           const tt_keypair_t *kp, int immediate, char *why);
void tt_client_destroy(tt_client_t **self_p);

void *tt_client_socket(tt_client_t *c);  /* borrowed: poll it, recv with tt_wire_recv */
void *tt_client_monitor(tt_client_t *c); /* borrowed: poll it, then tt_client_check_monitor */
const char *tt_client_endpoint(const tt_client_t *c);

/* Drains monitor events. TT_ERR_AUTH when the coordinator refused our key,
 * 0 otherwise. *connected (may be NULL) is set to 1 on a completed
 * handshake and 0 on a disconnect, left alone otherwise. */
int tt_client_check_monitor(tt_client_t *c, int *connected, char *why);

/* Sends with a fresh request id (returned in env->request_id). */
int tt_client_send(tt_client_t *c, Tutti__Envelope *env, char *why);

/* Sends req and waits up to timeout_ms for its reply. An Error reply
 * becomes its (negative) code with the coordinator's message in why.
 * TT_ERR_AUTH when the monitor shows our key refused; it is watched only
 * once the reply is 20 ms late, so a refusal is reported that much later.
 * *reply is owned by the caller (tutti__envelope__free_unpacked). */
int tt_client_request(tt_client_t *c, Tutti__Envelope *req, Tutti__Envelope **reply, int timeout_ms,
                      char *why);

#endif
