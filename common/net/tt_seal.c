/* tt_seal: boxed envelopes and the replay guard. See tt_seal.h. */
#include "tt_seal.h"
#include "tt_error.h"
#include "tt_wire.h"

#include <sodium.h>

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

_Static_assert(TT_SEAL_KEY_LEN == crypto_box_PUBLICKEYBYTES, "CURVE public key");
_Static_assert(TT_SEAL_NONCE_LEN == crypto_box_NONCEBYTES, "box nonce");

/* X25519 ignores a public key's top bit, so two keys that differ in it
 * alone are one key to the box but two names in an access file: keys
 * with it set (never made by a key generator) are refused. */
static int canonical(const uint8_t *pk)
{
    return (pk[TT_SEAL_KEY_LEN - 1] & 0x80) == 0;
}

static int key_from_z85(const char *z85, uint8_t *out, const char *what, char *why)
{
    if (!z85 || !tt_z85_key_valid(z85) || !zmq_z85_decode(out, z85))
        return tt_fail(why, TT_ERR_INVALID, "%s is not a Z85 CURVE key", what);
    if (!canonical(out))
        return tt_fail(why, TT_ERR_AUTH, "%s has its top bit set: not a CURVE public key", what);
    return 0;
}

int tt_seal(Tutti__Envelope *inner, const tt_keypair_t *kp, const char *peer_z85,
            const char *caller_z85, int64_t now_wall_ns, tt_sealed_t *out, char *why)
{
    memset(out, 0, sizeof *out);
    uint8_t peer_pk[TT_SEAL_KEY_LEN];
    int rc = key_from_z85(peer_z85, peer_pk, "the peer's key", why);
    if (rc == 0)
        rc = key_from_z85(caller_z85, out->caller_pk, "the caller's key", why);
    if (rc != 0)
        return rc;
    inner->version = TT_PROTOCOL_VERSION;
    size_t len = tutti__envelope__get_packed_size(inner);
    /* room for the outer envelope's few fields around the box */
    if (len + crypto_box_MACBYTES + 128 > TT_WIRE_MAX_MESSAGE)
        return tt_fail(why, TT_ERR_TOO_BIG, "a sealed message of %zu bytes is over the %d limit",
                       len, TT_WIRE_MAX_MESSAGE);
    uint8_t *plain = malloc(len ? len : 1);
    out->box = malloc(len + crypto_box_MACBYTES);
    uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (!plain || !out->box || !sk) {
        free(plain);
        sodium_free(sk);
        tt_sealed_clear(out);
        return tt_fail(why, TT_ERR_NOMEM, "allocating a %zu-byte box", len);
    }
    tutti__envelope__pack(inner, plain);
    uint64_t t = (uint64_t)now_wall_ns;
    for (int i = 0; i < 8; i++)
        out->nonce[i] = (uint8_t)(t >> (56 - 8 * i));
    randombytes_buf(out->nonce + 8, TT_SEAL_NONCE_LEN - 8);
    rc = 0;
    if (!zmq_z85_decode(sk, kp->secret_z85) ||
        crypto_box_easy(out->box, plain, len, out->nonce, peer_pk, sk) != 0)
        rc = tt_fail(why, TT_ERR_CRYPTO, "boxing a message (a bad key pair?)");
    sodium_free(sk);
    free(plain);
    if (rc != 0) {
        tt_sealed_clear(out);
        return rc;
    }
    tutti__sealed__init(&out->sealed);
    out->sealed.caller_public_key = (ProtobufCBinaryData){TT_SEAL_KEY_LEN, out->caller_pk};
    out->sealed.nonce = (ProtobufCBinaryData){TT_SEAL_NONCE_LEN, out->nonce};
    out->sealed.box = (ProtobufCBinaryData){len + crypto_box_MACBYTES, out->box};
    tutti__envelope__init(&out->env);
    out->env.body_case = TUTTI__ENVELOPE__BODY_SEALED;
    out->env.sealed = &out->sealed;
    return 0;
}

void tt_sealed_clear(tt_sealed_t *s)
{
    free(s->box);
    s->box = NULL;
}

int tt_seal_caller_z85(const Tutti__Sealed *s, char *out, char *why)
{
    if (s->caller_public_key.len == TT_SEAL_KEY_LEN && !canonical(s->caller_public_key.data))
        return tt_fail(why, TT_ERR_AUTH,
                       "a sealed message's caller key has its top bit set: not a CURVE key");
    if (s->caller_public_key.len != TT_SEAL_KEY_LEN ||
        !zmq_z85_encode(out, s->caller_public_key.data, TT_SEAL_KEY_LEN))
        return tt_fail(why, TT_ERR_PROTOCOL, "a sealed message's caller key is %zu bytes, not %d",
                       s->caller_public_key.len, TT_SEAL_KEY_LEN);
    return 0;
}

int64_t tt_seal_nonce_time(const Tutti__Sealed *s)
{
    if (s->nonce.len != TT_SEAL_NONCE_LEN)
        return 0;
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | s->nonce.data[i];
    return (int64_t)t;
}

int tt_seal_open(const Tutti__Sealed *s, const tt_keypair_t *kp, const char *peer_z85,
                 Tutti__Envelope **inner, char *why)
{
    *inner = NULL;
    uint8_t peer_pk[TT_SEAL_KEY_LEN];
    int rc = key_from_z85(peer_z85, peer_pk, "the sender's key", why);
    if (rc != 0)
        return rc;
    if (s->nonce.len != TT_SEAL_NONCE_LEN)
        return tt_fail(why, TT_ERR_PROTOCOL, "a sealed message's nonce is %zu bytes, not %d",
                       s->nonce.len, TT_SEAL_NONCE_LEN);
    if (s->box.len < crypto_box_MACBYTES || s->box.len > TT_WIRE_MAX_MESSAGE)
        return tt_fail(why, TT_ERR_PROTOCOL, "a sealed message's box of %zu bytes", s->box.len);
    size_t len = s->box.len - crypto_box_MACBYTES;
    uint8_t *plain = malloc(len ? len : 1);
    uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (!plain || !sk) {
        free(plain);
        sodium_free(sk);
        return tt_fail(why, TT_ERR_NOMEM, "allocating %zu bytes to open a box", len);
    }
    if (!zmq_z85_decode(sk, kp->secret_z85))
        rc = tt_fail(why, TT_ERR_CRYPTO, "our secret key does not decode");
    else if (crypto_box_open_easy(plain, s->box.data, s->box.len, s->nonce.data, peer_pk, sk) != 0)
        rc = tt_fail(why, TT_ERR_AUTH,
                     "a sealed message does not open: altered on the way, or not boxed from "
                     "%.12s... to this key",
                     peer_z85);
    sodium_free(sk);
    if (rc == 0)
        rc = tt_wire_decode(plain, len, inner, why);
    free(plain);
    if (rc == 0 && (*inner)->body_case == TUTTI__ENVELOPE__BODY_SEALED) {
        tutti__envelope__free_unpacked(*inner, NULL);
        *inner = NULL;
        rc = tt_fail(why, TT_ERR_PROTOCOL, "a sealed message inside a sealed message");
    }
    return rc;
}

/* ------------------------------------------------------------ the guard */

/* The window is a ring in arrival order (the oldest is forgotten first)
 * with a chained hash over it for lookups. */
typedef struct {
    uint8_t nonce[TT_SEAL_NONCE_LEN];
    uint32_t next; /* the next entry in its bucket's chain, NONE at the end */
} slot_t;

#define NONE UINT32_MAX

struct tt_seal_guard {
    slot_t *ring;
    uint32_t *buckets;
    size_t window, nbuckets, count, oldest;
    int64_t max_age_ns;
    int64_t floor_ns; /* the newest time among forgotten nonces: none at or before it is taken */
};

tt_seal_guard_t *tt_seal_guard_new(size_t window, int64_t max_age_ns, char *why)
{
    if (window < 1 || window > (1u << 24)) {
        tt_fail(why, TT_ERR_INVALID, "a nonce window of %zu", window);
        return NULL;
    }
    tt_seal_guard_t *g = calloc(1, sizeof *g);
    if (g) {
        g->window = window;
        g->nbuckets = window * 2;
        g->max_age_ns = max_age_ns;
        g->ring = calloc(window, sizeof *g->ring);
        g->buckets = malloc(g->nbuckets * sizeof *g->buckets);
    }
    if (!g || !g->ring || !g->buckets) {
        tt_seal_guard_destroy(&g);
        tt_fail(why, TT_ERR_NOMEM, "allocating a window of %zu nonces", window);
        return NULL;
    }
    for (size_t i = 0; i < g->nbuckets; i++)
        g->buckets[i] = NONE;
    return g;
}

void tt_seal_guard_destroy(tt_seal_guard_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->ring);
    free((*self_p)->buckets);
    free(*self_p);
    *self_p = NULL;
}

static size_t bucket_of(const tt_seal_guard_t *g, const uint8_t *nonce)
{
    uint64_t h = 0;
    memcpy(&h, nonce + 8, sizeof h); /* random bytes: already a hash */
    return (size_t)(h % g->nbuckets);
}

static void forget_oldest(tt_seal_guard_t *g)
{
    uint32_t idx = (uint32_t)g->oldest;
    uint32_t *p = &g->buckets[bucket_of(g, g->ring[idx].nonce)];
    while (*p != idx)
        p = &g->ring[*p].next;
    *p = g->ring[idx].next;
    int64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = (int64_t)((uint64_t)t << 8 | g->ring[idx].nonce[i]);
    if (t > g->floor_ns)
        g->floor_ns = t;
    g->oldest = (g->oldest + 1) % g->window;
    g->count--;
}

int tt_seal_guard_check(tt_seal_guard_t *g, const Tutti__Sealed *s, int64_t now_wall_ns, char *why)
{
    int64_t t = tt_seal_nonce_time(s);
    if (!t)
        return tt_fail(why, TT_ERR_AUTH, "a sealed message without a proper nonce");
    int64_t off = t - now_wall_ns;
    if (off > g->max_age_ns || off < -g->max_age_ns)
        return tt_fail(why, TT_ERR_AUTH,
                       "a sealed message's nonce is %.1f s %s the coordinator's clock (more "
                       "than %lld s): a replay, or the caller's clock is off",
                       (double)(off < 0 ? -off : off) / 1e9, off < 0 ? "behind" : "ahead of",
                       (long long)(g->max_age_ns / 1000000000));
    if (t <= g->floor_ns)
        return tt_fail(why, TT_ERR_AUTH,
                       "a sealed message's nonce is older than the replay window holds: refused");
    size_t b = bucket_of(g, s->nonce.data);
    for (uint32_t i = g->buckets[b]; i != NONE; i = g->ring[i].next)
        if (memcmp(g->ring[i].nonce, s->nonce.data, TT_SEAL_NONCE_LEN) == 0)
            return tt_fail(why, TT_ERR_AUTH, "a sealed message seen before: a replay, refused");
    if (g->count == g->window)
        forget_oldest(g);
    uint32_t idx = (uint32_t)((g->oldest + g->count) % g->window);
    memcpy(g->ring[idx].nonce, s->nonce.data, TT_SEAL_NONCE_LEN);
    g->ring[idx].next = g->buckets[b];
    g->buckets[b] = idx;
    g->count++;
    return 0;
}
