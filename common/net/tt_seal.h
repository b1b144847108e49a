/* tt_seal: requests boxed end to end through a site relay (tutti.proto:
 * Sealed).
 *
 * A client behind a relay boxes each request (a packed Envelope) from its
 * own CURVE key pair to the coordinator's public key, and the coordinator
 * boxes the reply back: libsodium crypto_box_easy over the same X25519
 * keys ZeroMQ CURVE uses, so nobody needs a second key. The relay in
 * between carries bytes it can neither read nor alter; the coordinator
 * treats the caller's key exactly as if it had connected directly.
 *
 * Replays: the nonce is 8 bytes of wall-clock time (ns, big-endian) and 16
 * random bytes. A guard (tt_seal_guard_t) refuses a nonce further than
 * max_age_ns from the opener's clock, and one it has seen among the last
 * `window` nonces; once the window is full, a nonce no newer than the
 * newest it has forgotten is refused too, so nothing seen is ever taken
 * twice. Everything here is used from one thread.
 */
#ifndef TT_SEAL_H
#define TT_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "tt_keys.h"
#include "tutti.pb-c.h"

#define TT_SEAL_KEY_LEN 32
#define TT_SEAL_NONCE_LEN 24
#define TT_SEAL_MAX_AGE_NS ((int64_t)TUTTI__LIMITS__SEALED_MAX_AGE_S * 1000000000)
#define TT_SEAL_WINDOW TUTTI__LIMITS__SEALED_NONCE_WINDOW

/* An Envelope whose body is Sealed, with the storage its fields point at.
 * env is ready to send (tt_wire_send); free box with tt_sealed_clear. */
typedef struct {
    Tutti__Envelope env;
    Tutti__Sealed sealed;
    uint8_t caller_pk[TT_SEAL_KEY_LEN];
    uint8_t nonce[TT_SEAL_NONCE_LEN];
    uint8_t *box; /* owned (malloc) */
} tt_sealed_t;

/* Packs inner (its version set here) and boxes it from kp to peer_z85
 * (the coordinator's key for a request, the caller's for a reply) with a
 * fresh nonce of time now_wall_ns. caller_z85 goes into
 * Sealed.caller_public_key (kp's own key on a request, peer_z85 on a
 * reply). out->env.request_id is 0: the sender sets it. 0, or
 * TT_ERR_INVALID (a bad key), TT_ERR_TOO_BIG, TT_ERR_NOMEM. */
int tt_seal(Tutti__Envelope *inner, const tt_keypair_t *kp, const char *peer_z85,
            const char *caller_z85, int64_t now_wall_ns, tt_sealed_t *out, char *why);
void tt_sealed_clear(tt_sealed_t *s);

/* Sealed.caller_public_key in Z85 into out (TT_Z85_KEY_LEN + 1 bytes);
 * TT_ERR_PROTOCOL when it is not 32 bytes, TT_ERR_AUTH when its top bit
 * is set (X25519 ignores that bit: such a key would open boxes as the
 * key without it while naming another access-file entry). */
int tt_seal_caller_z85(const Tutti__Sealed *s, char *out, char *why);

/* The nonce's time (ns since 1970); 0 when it is not TT_SEAL_NONCE_LEN bytes. */
int64_t tt_seal_nonce_time(const Tutti__Sealed *s);

/* Opens s's box, sent by peer_z85 to kp, and decodes the inner Envelope
 * (bounded as tt_wire_decode). *inner is the caller's
 * (tutti__envelope__free_unpacked). TT_ERR_AUTH when the box does not open
 * (altered, or not from peer_z85 to us), TT_ERR_PROTOCOL / TT_ERR_VERSION
 * when what is inside is not a current Envelope or is itself Sealed. */
int tt_seal_open(const Tutti__Sealed *s, const tt_keypair_t *kp, const char *peer_z85,
                 Tutti__Envelope **inner, char *why);

typedef struct tt_seal_guard tt_seal_guard_t;

/* window: nonces remembered (>= 1); max_age_ns: how far a nonce's time may
 * be from the opener's clock either way. NULL with why when memory is short. */
tt_seal_guard_t *tt_seal_guard_new(size_t window, int64_t max_age_ns, char *why);
void tt_seal_guard_destroy(tt_seal_guard_t **self_p);

/* 0 when s's nonce is fresh (it is remembered from now on), TT_ERR_AUTH
 * with why when it is a replay, too old or too far ahead. Check only a box
 * that opened, so junk cannot push real nonces out of the window. */
int tt_seal_guard_check(tt_seal_guard_t *g, const Tutti__Sealed *s, int64_t now_wall_ns, char *why);

#endif
