/* tt_wire: envelopes on CURVE sockets. See tt_wire.h. */
#include "tt_wire.h"
#include "tt_error.h"
#include "tt_wire_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* tt_err_t is the negative of the contract's ErrorCode: one list of
 * numbers, stated in proto/tutti.proto and checked here. */
#define SAME_CODE(c, e) _Static_assert(-(c) == TUTTI__ERROR_CODE__##e, #c " is not ErrorCode " #e)
SAME_CODE(TT_OK, ERROR_NONE);
SAME_CODE(TT_ERR_IO, ERROR_IO);
SAME_CODE(TT_ERR_NOMEM, ERROR_NOMEM);
SAME_CODE(TT_ERR_INVALID, ERROR_INVALID);
SAME_CODE(TT_ERR_PROTOCOL, ERROR_PROTOCOL);
SAME_CODE(TT_ERR_VERSION, ERROR_VERSION);
SAME_CODE(TT_ERR_DENIED, ERROR_DENIED);
SAME_CODE(TT_ERR_AUTH, ERROR_AUTH);
SAME_CODE(TT_ERR_STORE, ERROR_STORE);
SAME_CODE(TT_ERR_CRYPTO, ERROR_CRYPTO);
SAME_CODE(TT_ERR_NOTFOUND, ERROR_NOT_FOUND);
SAME_CODE(TT_ERR_TIMEOUT, ERROR_TIMEOUT);
SAME_CODE(TT_ERR_TOO_BIG, ERROR_TOO_BIG);
SAME_CODE(TT_ERR_CORRUPT, ERROR_CORRUPT);
SAME_CODE(TT_ERR_UNAVAILABLE, ERROR_UNAVAILABLE);
SAME_CODE(TT_ERR_AGAIN, ERROR_AGAIN);
SAME_CODE(TT_ERR_STANDBY, ERROR_STANDBY);

static int set_common(void *sock, char *why)
{
    int linger = 0;
    int64_t maxmsg = TT_WIRE_MAX_MESSAGE;
    int handshake_ms = 5000;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(sock, ZMQ_HANDSHAKE_IVL, &handshake_ms, sizeof handshake_ms) != 0)
        return tt_fail(why, TT_ERR_IO, "setting socket options: %s", zmq_strerror(errno));
    return 0;
}

int tt_wire_setup_server(void *sock, const tt_keypair_t *kp, char *why)
{
    int rc = set_common(sock, why);
    if (rc != 0)
        return rc;
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->secret_z85, TT_Z85_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, TT_ZAP_DOMAIN, strlen(TT_ZAP_DOMAIN)) != 0)
        return tt_fail(why, TT_ERR_CRYPTO,
                       "enabling CURVE server: %s (libzmq built without "
                       "CURVE?)",
                       zmq_strerror(errno));
    return 0;
}

int tt_wire_setup_client(void *sock, const tt_keypair_t *kp, const char *server_key_z85, char *why)
{
    int rc = set_common(sock, why);
    if (rc != 0)
        return rc;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key_z85, TT_Z85_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, kp->public_z85, TT_Z85_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->secret_z85, TT_Z85_KEY_LEN) != 0)
        return tt_fail(why, TT_ERR_CRYPTO, "enabling CURVE client: %s", zmq_strerror(errno));
    return 0;
}

int tt_wire_decode(const uint8_t *buf, size_t len, Tutti__Envelope **out, char *why)
{
    *out = NULL;
    if (len > TT_WIRE_MAX_MESSAGE)
        return tt_fail(why, TT_ERR_TOO_BIG, "message of %zu bytes over the %d limit", len,
                       TT_WIRE_MAX_MESSAGE);
    Tutti__Envelope *env = tutti__envelope__unpack(NULL, len, buf);
    if (!env)
        return tt_fail(why, TT_ERR_PROTOCOL, "message of %zu bytes is not a tutti envelope", len);
    if (env->version != TT_PROTOCOL_VERSION) {
        uint32_t v = env->version;
        tutti__envelope__free_unpacked(env, NULL);
        return tt_fail(why, TT_ERR_VERSION,
                       "protocol version %u is not supported (this build speaks %d)", v,
                       TT_PROTOCOL_VERSION);
    }
    int rc = tt_wire_text_check(&tutti__envelope__descriptor, buf, len, why);
    if (rc != 0) { /* a NUL inside a string would cut it short unseen */
        tutti__envelope__free_unpacked(env, NULL);
        return rc;
    }
    *out = env;
    return 0;
}

/* Reads a base-128 varint at *p; 0 when it runs past end or over 10 bytes. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

uint64_t tt_wire_peek_request_id(const uint8_t *buf, size_t len)
{
    if (!buf)
        return 0;
    const uint8_t *p = buf, *end = buf + len;
    uint64_t key, skip, id = 0;
    while (p < end && varint(&p, end, &key)) {
        switch (key & 7) { /* the wire type */
        case 0:            /* varint */
            if (!varint(&p, end, &skip))
                return id;
            if (key >> 3 == 2)
                id = skip; /* the last one wins, as in a full decode */
            continue;
        case 1: skip = 8; break;
        case 2: /* length-delimited */
            if (!varint(&p, end, &skip))
                return id;
            break;
        case 5: skip = 4; break;
        default: return id; /* groups or garbage: stop reading */
        }
        if (skip > (uint64_t)(end - p))
            return id;
        p += skip;
    }
    return id;
}

/* Discards the rest of a multipart message. */
static void drain(void *sock)
{
    int more = 1;
    size_t sz = sizeof more;
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            return;
        }
        zmq_msg_close(&m);
    }
}

/* EAGAIN is "nothing more to read", which every read loop ends on; any
 * other errno is a real failure and must not look like it. */
static int recv_failed(int e, char *why)
{
    return tt_fail(why, e == EAGAIN ? TT_ERR_AGAIN : TT_ERR_IO, "receiving: %s", zmq_strerror(e));
}

int tt_wire_recv(void *sock, int router, int flags, tt_wire_msg_t *msg, char *why)
{
    return tt_wire_recv_capped(sock, router, flags, NULL, NULL, msg, why);
}

int tt_wire_recv_capped(void *sock, int router, int flags, tt_wire_cap_fn cap, void *cap_arg,
                        tt_wire_msg_t *msg, char *why)
{
    memset(msg, 0, sizeof *msg);
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (router) {
        if (zmq_msg_recv(&frame, sock, flags) < 0) {
            int e = errno;
            zmq_msg_close(&frame);
            return recv_failed(e, why);
        }
        size_t n = zmq_msg_size(&frame);
        int more = zmq_msg_more(&frame);
        if (n > TT_WIRE_MAX_ROUTING_ID)
            n = TT_WIRE_MAX_ROUTING_ID; /* ROUTER ids are 5 bytes; never longer */
        memcpy(msg->routing_id, zmq_msg_data(&frame), n);
        msg->routing_id_len = n;
        zmq_msg_close(&frame);
        if (!more)
            return tt_fail(why, TT_ERR_PROTOCOL, "empty message");
        zmq_msg_init(&frame);
        flags = 0; /* the rest of a multipart message is already here */
    }
    if (zmq_msg_recv(&frame, sock, flags) < 0) {
        int e = errno;
        zmq_msg_close(&frame);
        return recv_failed(e, why);
    }
    const char *uid = zmq_msg_gets(&frame, "User-Id");
    if (uid && strlen(uid) == TT_Z85_KEY_LEN)
        memcpy(msg->user_id, uid, TT_Z85_KEY_LEN + 1);
    int more = zmq_msg_more(&frame);
    if (more) {
        msg->request_id = tt_wire_peek_request_id(zmq_msg_data(&frame), zmq_msg_size(&frame));
        zmq_msg_close(&frame);
        drain(sock);
        return tt_fail(why, TT_ERR_PROTOCOL, "message has more than one frame");
    }
    size_t limit = cap ? cap(cap_arg, msg->user_id) : TT_WIRE_MAX_MESSAGE;
    if (zmq_msg_size(&frame) > limit) { /* refused before any decoding work */
        msg->request_id = tt_wire_peek_request_id(zmq_msg_data(&frame), zmq_msg_size(&frame));
        size_t n = zmq_msg_size(&frame);
        zmq_msg_close(&frame);
        return tt_fail(why, TT_ERR_TOO_BIG,
                       "a %zu-byte request, over the %zu bytes this key may send", n, limit);
    }
    int rc = tt_wire_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &msg->env, why);
    /* An error reply echoes the request id whenever it can be read. */
    msg->request_id = rc == 0 ? msg->env->request_id
                              : tt_wire_peek_request_id(zmq_msg_data(&frame), zmq_msg_size(&frame));
    zmq_msg_close(&frame);
    return rc;
}

void tt_wire_msg_clear(tt_wire_msg_t *msg)
{
    if (msg->env)
        tutti__envelope__free_unpacked(msg->env, NULL);
    msg->env = NULL;
}

int tt_wire_pack(Tutti__Envelope *env, zmq_msg_t *frame, char *why)
{
    env->version = TT_PROTOCOL_VERSION;
    size_t len = tutti__envelope__get_packed_size(env);
    if (len > TT_WIRE_MAX_MESSAGE)
        return tt_fail(why, TT_ERR_TOO_BIG, "message of %zu bytes over the %d limit", len,
                       TT_WIRE_MAX_MESSAGE);
    if (zmq_msg_init_size(frame, len) != 0)
        return tt_fail(why, TT_ERR_NOMEM, "allocating a %zu-byte message", len);
    tutti__envelope__pack(env, zmq_msg_data(frame));
    return 0;
}

int tt_wire_send(void *sock, const uint8_t *rid, size_t rid_len, Tutti__Envelope *env, char *why)
{
    zmq_msg_t frame;
    int rc = tt_wire_pack(env, &frame, why);
    if (rc != 0)
        return rc;
    if ((rid && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) ||
        zmq_msg_send(&frame, sock, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(&frame);
        /* EAGAIN: the peer's queue is full (high-water mark); the caller decides. */
        return tt_fail(why, e == EAGAIN ? TT_ERR_AGAIN : TT_ERR_IO, "sending: %s", zmq_strerror(e));
    }
    return 0;
}

void tt_wire_make_error(Tutti__Envelope *env, Tutti__Error *err, uint64_t request_id, int code,
                        const char *message)
{
    tutti__envelope__init(env);
    tutti__error__init(err);
    err->code = (Tutti__ErrorCode)(code < 0 ? -code : code);
    err->message = (char *)message;
    env->request_id = request_id;
    env->body_case = TUTTI__ENVELOPE__BODY_ERROR;
    env->error = err;
}

int tt_wire_send_error(void *sock, const uint8_t *rid, size_t rid_len, uint64_t request_id,
                       int code, const char *message)
{
    Tutti__Envelope env;
    Tutti__Error err;
    tt_wire_make_error(&env, &err, request_id, code, message);
    return tt_wire_send(sock, rid, rid_len, &env, NULL);
}

int tt_wire_endpoint_with_port(const char *endpoint, unsigned port, char *out, size_t len)
{
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return TT_ERR_INVALID;
    const char *host = endpoint + 6;
    const char *colon = strrchr(host, ':');
    const char *bracket = strrchr(host, ']');
    if (!colon || colon == host || (bracket && bracket > colon))
        return TT_ERR_INVALID; /* no port, or the last ':' is inside an IPv6 address */
    const char *p = colon + 1;
    if (!(p[0] == '*' && p[1] == '\0')) {
        if (!*p)
            return TT_ERR_INVALID;
        for (; *p; p++)
            if (*p < '0' || *p > '9')
                return TT_ERR_INVALID;
    }
    int n = snprintf(out, len, "%.*s:%u", (int)(colon - endpoint), endpoint, port);
    return (n < 0 || (size_t)n >= len) ? TT_ERR_INVALID : 0;
}

unsigned tt_wire_bound_port(void *sock)
{
    char ep[256];
    size_t sz = sizeof ep;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &sz) != 0)
        return 0;
    const char *colon = strrchr(ep, ':');
    if (!colon)
        return 0;
    long p = strtol(colon + 1, NULL, 10);
    return (p > 0 && p < 65536) ? (unsigned)p : 0;
}
