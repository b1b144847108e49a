/* test_seal: a request boxed from a caller to the coordinator opens only
 * with the coordinator's key and the caller's public key, and comes out
 * as it went in; one altered byte (box, nonce or caller key) is refused;
 * the guard refuses a replayed nonce, one older or newer than its age
 * limit, and one the window has forgotten; the reply direction works the
 * same way back.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <zmq.h>

#include "tt_error.h"
#include "tt_keys.h"
#include "tt_seal.h"
#include "tt_wire.h"

#define SEC 1000000000LL

typedef struct {
    tt_keypair_t *caller, *coord, *other;
} keys_t;

static int setup(void **state)
{
    static keys_t k;
    char why[TT_WHY_LEN];
    k.caller = tt_keypair_generate(why);
    k.coord = tt_keypair_generate(why);
    k.other = tt_keypair_generate(why);
    *state = &k;
    return k.caller && k.coord && k.other ? 0 : -1;
}

static int teardown(void **state)
{
    keys_t *k = *state;
    tt_keypair_destroy(&k->caller);
    tt_keypair_destroy(&k->coord);
    tt_keypair_destroy(&k->other);
    return 0;
}

static void note_request(Tutti__Envelope *env, Tutti__NoteRequest *note, const char *text)
{
    tutti__envelope__init(env);
    tutti__note_request__init(note);
    note->text = (char *)text;
    env->request_id = 42;
    env->body_case = TUTTI__ENVELOPE__BODY_NOTE;
    env->note = note;
}

/* The Sealed message as it arrives: packed and unpacked again. */
static Tutti__Envelope *over_the_wire(tt_sealed_t *s)
{
    s->env.version = TT_PROTOCOL_VERSION;
    size_t len = tutti__envelope__get_packed_size(&s->env);
    uint8_t buf[4096];
    assert_true(len <= sizeof buf);
    tutti__envelope__pack(&s->env, buf);
    Tutti__Envelope *env = NULL;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_wire_decode(buf, len, &env, why), 0);
    assert_int_equal(env->body_case, TUTTI__ENVELOPE__BODY_SEALED);
    return env;
}

static void test_round_trip(void **state)
{
    keys_t *k = *state;
    char why[TT_WHY_LEN];
    Tutti__Envelope inner;
    Tutti__NoteRequest note;
    note_request(&inner, &note, "from the caller");
    tt_sealed_t s;
    int64_t now = 1800000000LL * SEC;
    assert_int_equal(
        tt_seal(&inner, k->caller, k->coord->public_z85, k->caller->public_z85, now, &s, why), 0);
    /* the relay sees no plaintext */
    assert_null(memmem(s.box, s.sealed.box.len, "from the caller", 15));
    Tutti__Envelope *env = over_the_wire(&s);
    char caller[TT_Z85_KEY_LEN + 1];
    assert_int_equal(tt_seal_caller_z85(env->sealed, caller, why), 0);
    assert_string_equal(caller, k->caller->public_z85);
    assert_int_equal(tt_seal_nonce_time(env->sealed), now);
    Tutti__Envelope *out = NULL;
    assert_int_equal(tt_seal_open(env->sealed, k->coord, caller, &out, why), 0);
    assert_int_equal(out->body_case, TUTTI__ENVELOPE__BODY_NOTE);
    assert_string_equal(out->note->text, "from the caller");
    assert_int_equal(out->request_id, 42);
    tutti__envelope__free_unpacked(out, NULL);

    /* another key pair cannot open it, nor can the caller claim another key */
    assert_int_equal(tt_seal_open(env->sealed, k->other, caller, &out, why), TT_ERR_AUTH);
    assert_null(out);
    assert_int_equal(tt_seal_open(env->sealed, k->coord, k->other->public_z85, &out, why),
                     TT_ERR_AUTH);

    /* the reply goes back to the caller */
    tt_sealed_t r;
    Tutti__NoteRequest rn;
    note_request(&inner, &rn, "the reply");
    assert_int_equal(tt_seal(&inner, k->coord, caller, caller, now + 1, &r, why), 0);
    Tutti__Envelope *renv = over_the_wire(&r);
    assert_int_equal(tt_seal_open(renv->sealed, k->caller, k->coord->public_z85, &out, why), 0);
    assert_string_equal(out->note->text, "the reply");
    tutti__envelope__free_unpacked(out, NULL);
    tutti__envelope__free_unpacked(renv, NULL);
    tt_sealed_clear(&r);
    tutti__envelope__free_unpacked(env, NULL);
    tt_sealed_clear(&s);
}

static void test_altered(void **state)
{
    keys_t *k = *state;
    char why[TT_WHY_LEN];
    Tutti__Envelope inner;
    Tutti__NoteRequest note;
    note_request(&inner, &note, "x");
    tt_sealed_t s;
    assert_int_equal(
        tt_seal(&inner, k->caller, k->coord->public_z85, k->caller->public_z85, SEC, &s, why), 0);
    Tutti__Envelope *out = NULL;
    for (size_t i = 0; i < s.sealed.box.len; i++) { /* every byte of the box */
        s.box[i] ^= 0x01;
        assert_int_equal(tt_seal_open(&s.sealed, k->coord, k->caller->public_z85, &out, why),
                         TT_ERR_AUTH);
        assert_null(out);
        s.box[i] ^= 0x01;
    }
    assert_non_null(strstr(why, "altered"));
    s.nonce[3] ^= 0x80; /* the time in the nonce is covered too */
    assert_int_equal(tt_seal_open(&s.sealed, k->coord, k->caller->public_z85, &out, why),
                     TT_ERR_AUTH);
    s.nonce[3] ^= 0x80;
    assert_int_equal(tt_seal_open(&s.sealed, k->coord, k->caller->public_z85, &out, why), 0);
    tutti__envelope__free_unpacked(out, NULL);
    /* X25519 ignores the key's top bit: the box would open under a second
     * name for the same key, so such a caller key is refused outright */
    char z[TT_Z85_KEY_LEN + 1];
    s.caller_pk[31] ^= 0x80;
    assert_int_equal(tt_seal_caller_z85(&s.sealed, z, why), TT_ERR_AUTH);
    char flipped[TT_Z85_KEY_LEN + 1];
    assert_non_null(zmq_z85_encode(flipped, s.caller_pk, 32));
    assert_int_equal(tt_seal_open(&s.sealed, k->coord, flipped, &out, why), TT_ERR_AUTH);
    assert_null(out);
    s.caller_pk[31] ^= 0x80;
    /* malformed fields are protocol errors, not crashes */
    s.sealed.nonce.len = 23;
    assert_int_equal(tt_seal_open(&s.sealed, k->coord, k->caller->public_z85, &out, why),
                     TT_ERR_PROTOCOL);
    s.sealed.nonce.len = 24;
    s.sealed.box.len = 3;
    assert_int_equal(tt_seal_open(&s.sealed, k->coord, k->caller->public_z85, &out, why),
                     TT_ERR_PROTOCOL);
    s.sealed.caller_public_key.len = 31;
    assert_int_equal(tt_seal_caller_z85(&s.sealed, z, why), TT_ERR_PROTOCOL);
    tt_sealed_clear(&s);
}

/* A Sealed with a nonce of time t and random byte r. */
static Tutti__Sealed nonce_at(uint8_t *buf, int64_t t, uint8_t r)
{
    memset(buf, r, TT_SEAL_NONCE_LEN);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)t >> (56 - 8 * i));
    Tutti__Sealed s = TUTTI__SEALED__INIT;
    s.nonce = (ProtobufCBinaryData){TT_SEAL_NONCE_LEN, buf};
    return s;
}

static void test_replay(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    tt_seal_guard_t *g = tt_seal_guard_new(4, 60 * SEC, why);
    assert_non_null(g);
    int64_t now = 1800000000LL * SEC;
    uint8_t b[8][TT_SEAL_NONCE_LEN];
    Tutti__Sealed s0 = nonce_at(b[0], now - SEC, 1);
    assert_int_equal(tt_seal_guard_check(g, &s0, now, why), 0);
    assert_int_equal(tt_seal_guard_check(g, &s0, now, why), TT_ERR_AUTH); /* replayed */
    assert_non_null(strstr(why, "replay"));
    Tutti__Sealed old = nonce_at(b[1], now - 61 * SEC, 2);
    assert_int_equal(tt_seal_guard_check(g, &old, now, why), TT_ERR_AUTH); /* too old */
    assert_non_null(strstr(why, "61.0 s behind"));
    Tutti__Sealed ahead = nonce_at(b[2], now + 61 * SEC, 3);
    assert_int_equal(tt_seal_guard_check(g, &ahead, now, why), TT_ERR_AUTH);
    Tutti__Sealed edge = nonce_at(b[1], now - 59 * SEC, 2);
    assert_int_equal(tt_seal_guard_check(g, &edge, now, why), 0);
    /* fill the window of 4 (s0, edge, two more), then one more forgets s0 */
    Tutti__Sealed s2 = nonce_at(b[3], now - 2 * SEC, 4);
    Tutti__Sealed s3 = nonce_at(b[4], now - 3 * SEC, 5);
    Tutti__Sealed s4 = nonce_at(b[5], now, 6);
    assert_int_equal(tt_seal_guard_check(g, &s2, now, why), 0);
    assert_int_equal(tt_seal_guard_check(g, &s3, now, why), 0);
    assert_int_equal(tt_seal_guard_check(g, &s4, now, why), 0);
    /* s0 is forgotten but still refused: nothing at or before a forgotten time is taken */
    assert_int_equal(tt_seal_guard_check(g, &s0, now, why), TT_ERR_AUTH);
    assert_non_null(strstr(why, "window"));
    /* and the ones still held are refused as seen */
    assert_int_equal(tt_seal_guard_check(g, &s4, now, why), TT_ERR_AUTH);
    assert_int_equal(tt_seal_guard_check(g, &s3, now, why), TT_ERR_AUTH);
    /* a fresh one after all that is taken */
    Tutti__Sealed s5 = nonce_at(b[6], now + SEC, 7);
    assert_int_equal(tt_seal_guard_check(g, &s5, now, why), 0);
    Tutti__Sealed none = TUTTI__SEALED__INIT;
    assert_int_equal(tt_seal_guard_check(g, &none, now, why), TT_ERR_AUTH);
    tt_seal_guard_destroy(&g);
    assert_null(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_altered),
        cmocka_unit_test(test_replay),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
