/* libFuzzer target: the coordinator's side of a site relay's Sealed
 * envelope (tt_seal_caller_z85, tt_seal_open, tt_seal_guard_check).
 *
 * Mode 0 (first byte even): the rest is a frame off the ROUTER. Whatever
 * it holds, opening it never succeeds (nobody without the caller's secret
 * key can make a box that opens) and fails only with the documented codes;
 * the replay guard takes or refuses its nonce without reading out of
 * bounds. Mode 1: a genuine request with the rest as its note opens to
 * exactly that note, and with any one bit of its box, nonce or caller key
 * flipped (chosen by the input) it no longer opens.
 */
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_seal.h"
#include "tt_wire.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static tt_keypair_t caller, coord;
static char caller_sk[TT_Z85_KEY_LEN + 1], coord_sk[TT_Z85_KEY_LEN + 1];
static tt_seal_guard_t *guard;

static void fixed_keypair(tt_keypair_t *kp, char *sk_z85, uint8_t seed_byte)
{
    uint8_t seed[crypto_box_SEEDBYTES], pk[32], sk[32];
    memset(seed, seed_byte, sizeof seed);
    crypto_box_seed_keypair(pk, sk, seed);
    zmq_z85_encode(kp->public_z85, pk, 32);
    zmq_z85_encode(sk_z85, sk, 32);
    kp->secret_z85 = sk_z85;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    fixed_keypair(&caller, caller_sk, 1);
    fixed_keypair(&coord, coord_sk, 2);
    char why[TT_WHY_LEN];
    if (!(guard = tt_seal_guard_new(64, TT_SEAL_MAX_AGE_NS, why)))
        abort();
    return 0;
}

static void from_the_router(const uint8_t *data, size_t size)
{
    char why[TT_WHY_LEN], z85[TT_Z85_KEY_LEN + 1];
    Tutti__Envelope *env = NULL;
    if (tt_wire_decode(data, size, &env, why) != 0)
        return;
    if (env->body_case == TUTTI__ENVELOPE__BODY_SEALED &&
        tt_seal_caller_z85(env->sealed, z85, why) == 0) {
        Tutti__Envelope *inner = (Tutti__Envelope *)1;
        int rc = tt_seal_open(env->sealed, &coord, z85, &inner, why);
        if (rc == 0 || inner != NULL)
            abort(); /* a box nobody with the key made */
        if (rc != TT_ERR_AUTH && rc != TT_ERR_PROTOCOL && rc != TT_ERR_INVALID)
            abort();
        int64_t t = tt_seal_nonce_time(env->sealed);
        rc = tt_seal_guard_check(guard, env->sealed, t ? t : 1, why);
        if (rc != 0 && rc != TT_ERR_AUTH)
            abort();
    }
    tutti__envelope__free_unpacked(env, NULL);
}

static void genuine(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    size_t pick = (size_t)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__NoteRequest note = TUTTI__NOTE_REQUEST__INIT;
    note.text = text;
    env.body_case = TUTTI__ENVELOPE__BODY_NOTE;
    env.note = &note;
    env.request_id = 7;
    char why[TT_WHY_LEN];
    tt_sealed_t s;
    if (tt_seal(&env, &caller, coord.public_z85, caller.public_z85, 1, &s, why) != 0)
        abort();
    Tutti__Envelope *inner = NULL;
    int rc = tt_seal_open(&s.sealed, &coord, caller.public_z85, &inner, why);
    if (rc == 0) {
        if (inner->body_case != TUTTI__ENVELOPE__BODY_NOTE || inner->request_id != 7 ||
            strcmp(inner->note->text, text) != 0)
            abort();
        tutti__envelope__free_unpacked(inner, NULL);
    } else if (rc != TT_ERR_PROTOCOL) {
        abort(); /* only a note the wire itself refuses may fail */
    }
    /* one bit flipped anywhere in what the relay carries */
    size_t total = s.sealed.box.len + TT_SEAL_NONCE_LEN + TT_SEAL_KEY_LEN;
    size_t at = (pick >> 3) % total;
    uint8_t bit = (uint8_t)(1u << (pick & 7));
    uint8_t *p = at < s.sealed.box.len ? &s.box[at]
                 : at < s.sealed.box.len + TT_SEAL_NONCE_LEN
                     ? &s.nonce[at - s.sealed.box.len]
                     : &s.caller_pk[at - s.sealed.box.len - TT_SEAL_NONCE_LEN];
    *p ^= bit;
    char z85[TT_Z85_KEY_LEN + 1];
    rc = tt_seal_caller_z85(&s.sealed, z85, why);
    inner = NULL;
    if (rc == 0)
        rc = tt_seal_open(&s.sealed, &coord, z85, &inner, why);
    if (rc != TT_ERR_AUTH || inner) {
        fprintf(stderr, "rc %d at %zu of %zu: %s\n", rc, at, total, why);
        abort();
    }
    tt_sealed_clear(&s);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        genuine(data + 1, size - 1);
    else
        from_the_router(data + 1, size - 1);
    return 0;
}
