/* libFuzzer target: tt_chain_check over untrusted stored-record bytes.
 *
 * Checked as record 1 and as record 2, against a fixed signing key and
 * against an all-zero key ("trust the genesis record"), with a zero
 * previous hash. A record that checks is returned and freed.
 */
#include "tt_chain.h"
#include "tt_error.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
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
            abort();    /* nothing handed out on failure */
        if (rc != TT_ERR_CORRUPT)
            abort();
    }
    /* Without out_rec the record is freed inside. */
    memcpy(pk, pk_in, sizeof pk);
    int rc2 = tt_chain_check(data, size, seq, prev, pk, hash, NULL, why);
    if (rc2 != rc)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t zero_pk[TT_SIGN_PK_LEN] = {0};
    check_once(data, size, 1, zero_pk);
    check_once(data, size, 1, fixed_pk);
    check_once(data, size, 2, zero_pk);
    check_once(data, size, 2, fixed_pk);
    return 0;
}
