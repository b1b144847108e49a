/* tt_client: a CURVE DEALER connection to the coordinator that can tell
 * "my key was refused" from "nobody answered".
 *
 * libzmq retries a refused handshake quietly forever; a socket monitor
 * shows the refusal (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), so programs fail
 * fast with a clear authentication error instead of timing out.
 * Used from one thread. The socket and monitor are owned by the client.
 *
 * Several coordinators (issue 16: a primary and its standby): endpoint may
 * be a --coordinator list "A,B" (tt_opts_split_endpoints; every endpoint
 * answers to the same --server-key). The client talks to one at a time,
 * starting with the first, and stays with the one that answered. A
 * request moves to the next endpoint when the current one answers
 * ERROR_STANDBY (a standby while its primary serves), sends no reply
 * within the timeout, drops the connection while the reply is awaited or
 * refuses connections (nothing listens), and tries each endpoint once: it
 * can take up to one timeout per endpoint. A write keeps its idempotency
 * key on every endpoint, so it is recorded once across a failover (the
 * standby that takes over holds the primary's keys through replication).
 */
#ifndef TT_CLIENT_H
#define TT_CLIENT_H

#include "tt_keys.h"
#include "tt_wire.h"

typedef struct tt_client tt_client_t;

/* endpoint: one endpoint or a comma list (NULL with why when the list is
 * bad); server_key_z85: one Z85 key for all, or "KEY,KEY" one each in the
 * list's order (tt_pubkey_load_list: a standby serves with its own key). immediate: queue messages
 * only to a completed connection (agents, which must not pile up stale heartbeats); 0 for one-shot
 * CLI requests. ctx and kp are borrowed: they must outlive the client (a reconnect uses them). */
tt_client_t *tt_client_new(void *ctx, const char *endpoint, const char *server_key_z85,
                           const tt_keypair_t *kp, int immediate, char *why);
void tt_client_destroy(tt_client_t **self_p);

void *tt_client_socket(tt_client_t *c);  /* borrowed: poll it, recv with tt_wire_recv */
void *tt_client_monitor(tt_client_t *c); /* borrowed: poll it, then tt_client_check_monitor */
/* The endpoint talked to now (one of the list); borrowed, valid until the
 * next call that moves the client. */
const char *tt_client_endpoint(const tt_client_t *c);
int tt_client_endpoint_count(const tt_client_t *c);
/* The CURVE key of the endpoint talked to now; borrowed, as the endpoint. */
const char *tt_client_server_key(const tt_client_t *c);

/* Moves to the next endpoint of the list (round: after the last, the
 * first) on a fresh socket, as tt_client_reconnect. For clients that keep
 * their own loop (tt_replica); requests move by themselves. */
int tt_client_next(tt_client_t *c, char *why);

/* From now on through a site relay (tutti-relay) at relay_ep, whose
 * CURVE public key is relay_key_z85: the socket is reopened there, and
 * every request is sealed (tt_seal.h) from our key pair to the
 * coordinator's key given at tt_client_new, so the coordinator checks our
 * own key and role and the relay can neither read nor alter it. Replies
 * come back sealed the same way; an unsealed one other than an Error is
 * dropped. 0, or TT_ERR_INVALID for a bad key. */
int tt_client_via_relay(tt_client_t *c, const char *relay_ep, const char *relay_key_z85, char *why);
int tt_client_relayed(const tt_client_t *c);

/* A relay listens for requests on its endpoint's port P, serves the
 * updates on P + 1 and the clock on P + 2 (tutti-relay --help). */
#define TT_RELAY_UPDATES_PORT_OFFSET 1
#define TT_RELAY_CLOCK_PORT_OFFSET 2
/* relay_ep's host with its port + offset into out. 0, or TT_ERR_INVALID. */
int tt_client_relay_port(const char *relay_ep, unsigned offset, char *out, size_t len);

/* Receives one reply without blocking (TT_ERR_AGAIN: none): tt_wire_recv
 * on the socket, and through a relay the reply opened. TT_ERR_PROTOCOL /
 * TT_ERR_AUTH for a relayed reply that is not sealed or does not open
 * (msg is then empty); anything else as tt_wire_recv. */
int tt_client_recv(tt_client_t *c, tt_wire_msg_t *msg, char *why);

/* Drains monitor events. TT_ERR_AUTH when the coordinator refused our key,
 * 0 otherwise. *connected (may be NULL) is set to 1 on a completed
 * handshake and 0 on a disconnect, left alone otherwise. */
int tt_client_check_monitor(tt_client_t *c, int *connected, char *why);

/* Sends with a fresh request id (returned in env->request_id). */
int tt_client_send(tt_client_t *c, Tutti__Envelope *env, char *why);

/* Sends req and waits up to timeout_ms for its reply, moving along the
 * list as above (each endpoint once; with one endpoint, one attempt). An
 * Error reply becomes its (negative) code with the coordinator's message
 * in why; TT_ERR_STANDBY when every endpoint of a list answered so.
 * TT_ERR_AUTH when the monitor shows our key refused; it is watched only
 * once the reply is 20 ms late, so a refusal is reported that much later.
 * *reply is owned by the caller (tutti__envelope__free_unpacked). */
int tt_client_request(tt_client_t *c, Tutti__Envelope *req, Tutti__Envelope **reply, int timeout_ms,
                      char *why);

/* Closes the socket and opens a new one to the same coordinator (a fresh
 * connection; replies still due on the old one are dropped). Request ids
 * go on from where they were. On failure the client has no socket:
 * requests fail until a reconnect succeeds. */
int tt_client_reconnect(tt_client_t *c, char *why);

#define TT_CLIENT_KEY_LEN 16 /* Envelope.idempotency_key */

/* How tt_client_write's write went. */
typedef enum {
    TT_CLIENT_WRITE_ANSWERED,      /* the first attempt's reply arrived */
    TT_CLIENT_WRITE_WAS_COMMITTED, /* that reply was lost; the retry found the write committed */
    TT_CLIENT_WRITE_ON_RETRY,      /* the first attempt was not recorded; the retry wrote it */
} tt_client_write_how_t;

/* A write, exactly once: req (a write request) goes out with its
 * idempotency_key, or with 16 fresh random bytes when it has none (req's
 * own field is as it was on return). When no reply comes within
 * timeout_ms, or the connection drops while it is awaited, the client
 * reconnects (to the next endpoint of a list, each once; with one
 * endpoint, once to the same) and sends req again with the same key: the
 * coordinator
 * answers a write it already holds with that record (duplicate) and
 * writes nothing. *how says which happened; lost (TT_WHY_LEN, may be NULL)
 * gets what befell the first attempt when there was a retry. A standby's
 * refusal or an endpoint that refuses connections sends the write on
 * without doubt (it was not recorded there): alone it is not a retry. A refusal is
 * returned as by tt_client_request, without a retry. *reply (a
 * WriteReply) is the caller's to free. */
int tt_client_write(tt_client_t *c, Tutti__Envelope *req, Tutti__Envelope **reply, int timeout_ms,
                    tt_client_write_how_t *how, char *lost, char *why);

/* tt_client_write for a program that only needs the record's seq: a lost
 * first reply is logged as a warning naming who (what happened on the
 * retry), *seq gets the seq. */
int tt_client_write_logged(tt_client_t *c, Tutti__Envelope *req, int timeout_ms, const char *who,
                           uint64_t *seq, char *why);

/* One write from a thread that holds no connection (a web server's
 * request thread): a connection of its own for this write, exactly once
 * as tt_client_write_logged. Blocks up to about twice timeout_ms. */
int tt_client_write_once(void *ctx, const char *endpoint, const char *server_key_z85,
                         const tt_keypair_t *kp, Tutti__Envelope *req, int timeout_ms,
                         const char *who, uint64_t *seq, char *why);
/* The same through a site relay (tt_client_via_relay) when relay_ep is
 * not NULL. */
int tt_client_write_once_via(void *ctx, const char *endpoint, const char *server_key_z85,
                             const char *relay_ep, const char *relay_key_z85,
                             const tt_keypair_t *kp, Tutti__Envelope *req, int timeout_ms,
                             const char *who, uint64_t *seq, char *why);

#endif
