/* tt_wire: Envelope messages over CURVE ZeroMQ sockets.
 *
 * Every message is one protobuf Envelope in one frame (ROUTER sockets add
 * the peer's routing id in front). Decoding is bounded and checked: a
 * frame larger than TT_WIRE_MAX_MESSAGE never reaches us (ZMQ_MAXMSGSIZE
 * drops the peer), a frame that does not decode or carries another
 * protocol version is reported as TT_ERR_PROTOCOL / TT_ERR_VERSION.
 * Every socket made here is CURVE; there is no plaintext path.
 */
#ifndef TT_WIRE_H
#define TT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "tt_keys.h"
#include "tutti.pb-c.h"

#include <zmq.h>

/* Both stated in proto/tutti.proto (ProtocolVersion, Limits). */
#define TT_PROTOCOL_VERSION TUTTI__PROTOCOL_VERSION__PROTOCOL_VERSION_CURRENT
#define TT_WIRE_MAX_MESSAGE TUTTI__LIMITS__MESSAGE_MAX_BYTES
#define TT_WIRE_MAX_ROUTING_ID 256
#define TT_ZAP_DOMAIN "tutti"

/* A received message. env is owned (free with tt_wire_msg_clear). */
typedef struct {
    uint8_t routing_id[TT_WIRE_MAX_ROUTING_ID];
    size_t routing_id_len;            /* 0 on non-ROUTER sockets */
    char user_id[TT_Z85_KEY_LEN + 1]; /* peer's public key (Z85) as set by ZAP, or "" */
    Tutti__Envelope *env;
    uint64_t request_id; /* also when the frame did not decode, had another version or
                            more frames, if its request_id field could be read; else 0 */
} tt_wire_msg_t;

/* Common options plus CURVE server role and the ZAP domain. */
int tt_wire_setup_server(void *sock, const tt_keypair_t *kp, char *why);
/* Common options plus CURVE client role against server_key_z85. */
int tt_wire_setup_client(void *sock, const tt_keypair_t *kp, const char *server_key_z85, char *why);

/* Receives one message without blocking past what zmq_poll promised.
 * Returns 0, TT_ERR_PROTOCOL / TT_ERR_VERSION / TT_ERR_TOO_BIG
 * (msg->routing_id and, when it could be read, msg->request_id are still
 * set, so the caller can answer with an error), TT_ERR_AGAIN when there is
 * nothing to read (ZMQ_DONTWAIT), or TT_ERR_IO when receiving failed.
 * router: expect a routing-id frame first. */
int tt_wire_recv(void *sock, int router, int flags, tt_wire_msg_t *msg, char *why);

/* tt_wire_recv with a size cap chosen per sender before anything is
 * decoded: cap(arg, user_id) gives the largest frame that peer may send
 * (its Z85 key as ZAP set it, "" when none); a larger frame is refused
 * with TT_ERR_TOO_BIG (request id peeked when it can be read). */
typedef size_t (*tt_wire_cap_fn)(void *arg, const char *user_id);
int tt_wire_recv_capped(void *sock, int router, int flags, tt_wire_cap_fn cap, void *cap_arg,
                        tt_wire_msg_t *msg, char *why);
void tt_wire_msg_clear(tt_wire_msg_t *msg);

/* Decodes one frame. The caller frees *out with tutti__envelope__free_unpacked. */
int tt_wire_decode(const uint8_t *buf, size_t len, Tutti__Envelope **out, char *why);

/* The request_id field (2) of a frame that may not decode as a whole: the
 * top-level fields are walked until field 2 is found or the bytes stop
 * making sense. 0 when it cannot be read. Never reads past len. */
uint64_t tt_wire_peek_request_id(const uint8_t *buf, size_t len);

/* Sets env->version and packs env into frame (initialised here; the
 * caller sends or closes it). TT_ERR_TOO_BIG over the wire's limit. */
int tt_wire_pack(Tutti__Envelope *env, zmq_msg_t *frame, char *why);
/* Sets env->version and sends it without blocking; rid may be NULL for
 * non-ROUTER sockets. 0, TT_ERR_AGAIN when the peer's queue is full,
 * TT_ERR_IO (e.g. EHOSTUNREACH: the ROUTER peer is gone), TT_ERR_TOO_BIG. */
int tt_wire_send(void *sock, const uint8_t *rid, size_t rid_len, Tutti__Envelope *env, char *why);
/* Fills env (and err, which it points to) as an Error reply: code is a
 * tt_err_t (negative) or an ErrorCode value; message is borrowed. */
void tt_wire_make_error(Tutti__Envelope *env, Tutti__Error *err, uint64_t request_id, int code,
                        const char *message);
/* An Error reply: code is a tt_err_t (negative) or an ErrorCode value;
 * Error.code is always the positive ErrorCode. */
int tt_wire_send_error(void *sock, const uint8_t *rid, size_t rid_len, uint64_t request_id,
                       int code, const char *message);

/* "tcp://host:7700" + port 7701 -> "tcp://host:7701" into out. */
int tt_wire_endpoint_with_port(const char *endpoint, unsigned port, char *out, size_t len);
/* Port a bound socket actually listens on (after "tcp://host:*"), 0 on error. */
unsigned tt_wire_bound_port(void *sock);

#endif
