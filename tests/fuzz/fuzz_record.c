/* libFuzzer target: tt_chain_check over untrusted stored-record bytes.
 *
 * Stored mode: the input is a stored SignedRecord, checked as record 1 and
 * as record 2, against a fixed signing key and against an all-zero key
 * ("trust the genesis record"), with a zero previous hash. A record that
 * checks is returned and freed. Almost nothing gets past the signature.
 *
 * Signed mode: the same input is taken as Record bytes and signed with a
 * test key made here, so the signature holds and the decoder, the chain
 * rules (seq and previous hash taken from the record itself when it
 * decodes), the JSON view and the session fold behind it are reached.
 */
#include "tt_chain.h"
#include "tt_error.h"
#include "tt_record_json.h"
#include "tt_session.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t test_pk[crypto_sign_PUBLICKEYBYTES];
static uint8_t test_sk[crypto_sign_SECRETKEYBYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    static const uint8_t seed[crypto_sign_SEEDBYTES] = {42}; /* a key for this target only */
    crypto_sign_seed_keypair(test_pk, test_sk, seed);
    return 0;
}

/* The public half of the throwaway key that signed the seed records, so
 * seeds checked against it reach the success path (its secret was never kept). */
static const uint8_t fixed_pk[TT_SIGN_PK_LEN] = {
    0xf0, 0x85, 0xb1, 0x15, 0x90, 0x11, 0x81, 0x95, 0x27, 0x2e, 0x99, 0x84, 0x06, 0xd4, 0x3e, 0xcb,
    0x26, 0xea, 0x3a, 0x9c, 0xd7, 0xba, 0x26, 0x9e, 0xec, 0xb8, 0xb1, 0x39, 0x9c, 0x1b, 0x6f, 0xe7,
};

static void check_once(const uint8_t *data, size_t size, uint64_t seq, const uint8_t *pk_in)
{
    uint8_t prev[TT_HASH_LEN] = {0};
    uint8_t pk[TT_SIGN_PK_LEN];
    uint8_t hash[TT_HASH_LEN];
    char why[TT_WHY_LEN];
    memcpy(pk, pk_in, sizeof pk);
    Tutti__Record *rec = NULL;
    int rc = tt_chain_check(data, size, seq, prev, pk, hash, &rec, why);
    if (rc == 0) {
        if (!rec || rec->seq != seq)
            abort();
        if (seq == 1 && rec->body_case != TUTTI__RECORD__BODY_GENESIS)
            abort();
        (void)tt_chain_kind(rec);
        tutti__record__free_unpacked(rec, NULL);
    } else {
        if (rec != NULL)
            abort(); /* nothing handed out on failure */
        if (rc != TT_ERR_CORRUPT)
            abort();
    }
    /* Without out_rec the record is freed inside. */
    memcpy(pk, pk_in, sizeof pk);
    int rc2 = tt_chain_check(data, size, seq, prev, pk, hash, NULL, why);
    if (rc2 != rc)
        abort();
}

/* Signs data as Record bytes and checks the SignedRecord, then folds what
 * checks into an empty session brought to the record's place. */
static void check_signed(const uint8_t *data, size_t size)
{
    if (size > TT_CHAIN_MAX_RECORD)
        return;
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, data, size, test_sk);
    Tutti__SignedRecord sr = TUTTI__SIGNED_RECORD__INIT;
    sr.record.data = (uint8_t *)data;
    sr.record.len = size;
    sr.signature.data = sig;
    sr.signature.len = sizeof sig;
    size_t len = tutti__signed_record__get_packed_size(&sr);
    uint8_t *stored = malloc(len);
    if (!stored)
        return;
    tutti__signed_record__pack(&sr, stored);

    /* Where the record says it stands, so the chain rules pass when it decodes. */
    uint64_t seq = 2;
    uint8_t prev[TT_HASH_LEN] = {0};
    Tutti__Record *peek = tutti__record__unpack(NULL, size, data);
    if (peek) {
        if (peek->seq >= 1 && peek->seq < UINT64_MAX)
            seq = peek->seq;
        if (peek->prev_hash.len == TT_HASH_LEN)
            memcpy(prev, peek->prev_hash.data, TT_HASH_LEN);
        tutti__record__free_unpacked(peek, NULL);
    }
    uint8_t pk[TT_SIGN_PK_LEN], hash[TT_HASH_LEN];
    memcpy(pk, test_pk, sizeof pk);
    char why[TT_WHY_LEN];
    Tutti__Record *rec = NULL;
    int rc = tt_chain_check(stored, len, seq, prev, pk, hash, &rec, why);
    if (rc == 0) {
        if (!rec || rec->seq != seq)
            abort();
        json_t *j = tt_record_json(rec, hash);
        json_decref(j);
        char summary[256];
        tt_record_summary(rec, summary, sizeof summary);
        tt_session_t st;
        tt_session_init(&st);
        st.last_seq = seq - 1;
        (void)tt_session_apply(&st, rec, hash, why);
        tt_session_clear(&st);
        tutti__record__free_unpacked(rec, NULL);
    } else if (rec != NULL || rc != TT_ERR_CORRUPT) {
        abort();
    }
    free(stored);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_signed(data, size);
    static const uint8_t zero_pk[TT_SIGN_PK_LEN] = {0};
    check_once(data, size, 1, zero_pk);
    check_once(data, size, 1, fixed_pk);
    check_once(data, size, 2, zero_pk);
    check_once(data, size, 2, fixed_pk);
    return 0;
}
