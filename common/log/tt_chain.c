/* tt_chain: seal and check log records. See tt_chain.h. */
#include "tt_chain.h"
#include "tt_error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void tt_chain_hash(const uint8_t *data, size_t len, uint8_t out[TT_HASH_LEN])
{
    crypto_generichash(out, TT_HASH_LEN, data, len, NULL, 0);
}

int tt_chain_seal(const tt_signer_t *signer, Tutti__Record *rec, uint64_t seq,
                  const uint8_t prev_hash[TT_HASH_LEN], uint8_t **out, size_t *out_len,
                  uint8_t out_hash[TT_HASH_LEN], char *why)
{
    rec->seq = seq;
    rec->prev_hash.data = (uint8_t *)prev_hash;
    rec->prev_hash.len = seq > 1 ? TT_HASH_LEN : 0;
    size_t rec_len = tutti__record__get_packed_size(rec);
    if (rec_len > TT_CHAIN_MAX_RECORD)
        return tt_fail(why, TT_ERR_TOO_BIG, "record of %zu bytes over the %d limit", rec_len,
                       TT_CHAIN_MAX_RECORD);
    uint8_t *rec_buf = malloc(rec_len ? rec_len : 1);
    if (!rec_buf)
        return tt_fail(why, TT_ERR_NOMEM, "packing a record");
    tutti__record__pack(rec, rec_buf);

    uint8_t sig[TT_SIGN_SIG_LEN];
    tt_signer_sign(signer, rec_buf, rec_len, sig);
    Tutti__SignedRecord sr = TUTTI__SIGNED_RECORD__INIT;
    sr.record.data = rec_buf;
    sr.record.len = rec_len;
    sr.signature.data = sig;
    sr.signature.len = sizeof sig;
    size_t len = tutti__signed_record__get_packed_size(&sr);
    uint8_t *buf = malloc(len);
    if (!buf) {
        free(rec_buf);
        return tt_fail(why, TT_ERR_NOMEM, "packing a signed record");
    }
    tutti__signed_record__pack(&sr, buf);
    free(rec_buf);
    tt_chain_hash(buf, len, out_hash);
    *out = buf;
    *out_len = len;
    rec->prev_hash.data = NULL; /* borrowed from the caller; do not leave it behind */
    rec->prev_hash.len = 0;
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

void tt_chain_keys_init(tt_chain_keys_t *k, const uint8_t *genesis_pk)
{
    memset(k, 0, sizeof *k);
    if (genesis_pk && !all_zero(genesis_pk, TT_SIGN_PK_LEN)) {
        memcpy(k->pk[0], genesis_pk, TT_SIGN_PK_LEN);
        k->n = 1;
    }
}

int tt_chain_keys_has(const tt_chain_keys_t *k, const uint8_t pk[TT_SIGN_PK_LEN])
{
    for (size_t i = 0; i < k->n; i++)
        if (sodium_memcmp(k->pk[i], pk, TT_SIGN_PK_LEN) == 0)
            return 1;
    return 0;
}

int tt_chain_keys_add(tt_chain_keys_t *k, const uint8_t pk[TT_SIGN_PK_LEN])
{
    if (tt_chain_keys_has(k, pk))
        return 0;
    if (k->n >= TT_CHAIN_MAX_SIGNERS)
        return -1;
    memcpy(k->pk[k->n++], pk, TT_SIGN_PK_LEN);
    return 0;
}

/* The index of the key in keys that signed msg, or -1. The newest key
 * first: after a takeover nearly every record is signed with it. */
static int which_key(const tt_chain_keys_t *keys, const uint8_t *msg, size_t len,
                     const uint8_t *sig)
{
    for (size_t i = keys->n; i-- > 0;)
        if (tt_sign_verify(keys->pk[i], msg, len, sig) == 0)
            return (int)i;
    return -1;
}

int tt_chain_signed_by(const uint8_t *data, size_t len, const tt_chain_keys_t *keys)
{
    if (len > TT_CHAIN_MAX_RECORD + 256)
        return -1;
    Tutti__SignedRecord *sr = tutti__signed_record__unpack(NULL, len, data);
    if (!sr)
        return -1;
    int i = sr->signature.len == TT_SIGN_SIG_LEN
                ? which_key(keys, sr->record.data, sr->record.len, sr->signature.data)
                : -1;
    tutti__signed_record__free_unpacked(sr, NULL);
    return i;
}

int tt_chain_check(const uint8_t *data, size_t len, uint64_t expected_seq,
                   const uint8_t prev_hash[TT_HASH_LEN], uint8_t signing_pk[TT_SIGN_PK_LEN],
                   uint8_t out_hash[TT_HASH_LEN], Tutti__Record **out_rec, char *why)
{
    tt_chain_keys_t keys;
    tt_chain_keys_init(&keys, signing_pk);
    int rc = tt_chain_check_keys(data, len, expected_seq, prev_hash, &keys, out_hash, out_rec, why);
    if (rc == 0 && keys.n > 0)
        memcpy(signing_pk, keys.pk[0], TT_SIGN_PK_LEN);
    return rc;
}

int tt_chain_check_keys(const uint8_t *data, size_t len, uint64_t expected_seq,
                        const uint8_t prev_hash[TT_HASH_LEN], tt_chain_keys_t *keys,
                        uint8_t out_hash[TT_HASH_LEN], Tutti__Record **out_rec, char *why)
{
    uint8_t genesis[TT_SIGN_PK_LEN];
    if (keys->n > 0)
        memcpy(genesis, keys->pk[0], TT_SIGN_PK_LEN);
    else
        memset(genesis, 0, TT_SIGN_PK_LEN);
    uint8_t *signing_pk = genesis;
    unsigned long long seq = (unsigned long long)expected_seq;
    if (len > TT_CHAIN_MAX_RECORD + 256)
        return tt_fail(why, TT_ERR_CORRUPT, "record %llu: %zu bytes, over the limit", seq, len);
    Tutti__SignedRecord *sr = tutti__signed_record__unpack(NULL, len, data);
    if (!sr)
        return tt_fail(why, TT_ERR_CORRUPT, "record %llu: not a signed record", seq);
    int rc = 0;
    Tutti__Record *rec = NULL;
    /* The signature covers only the inner record, the chain hash the whole
     * value: so the wrapper must be exactly the canonical encoding of its two
     * fields, or bytes outside the signature could ride along unnoticed. */
    size_t canon = tutti__signed_record__get_packed_size(sr);
    uint8_t *canon_buf = canon == len ? malloc(canon ? canon : 1) : NULL;
    int canonical = sr->base.n_unknown_fields == 0 && canon_buf &&
                    tutti__signed_record__pack(sr, canon_buf) == len &&
                    memcmp(canon_buf, data, len) == 0;
    free(canon_buf);
    if (!canonical) {
        rc = tt_fail(why, TT_ERR_CORRUPT,
                     "record %llu: extra or reordered bytes around the "
                     "signed record",
                     seq);
        goto out;
    }
    if (sr->signature.len != TT_SIGN_SIG_LEN) {
        rc = tt_fail(why, TT_ERR_CORRUPT, "record %llu: signature missing or malformed", seq);
        goto out;
    }
    rec = tutti__record__unpack(NULL, sr->record.len, sr->record.data);
    if (!rec) {
        rc = tt_fail(why, TT_ERR_CORRUPT, "record %llu: body does not decode", seq);
        goto out;
    }
    if (rec->seq != expected_seq) {
        rc = tt_fail(why, TT_ERR_CORRUPT, "record %llu: carries sequence %llu", seq,
                     (unsigned long long)rec->seq);
        goto out;
    }
    if (expected_seq == 1) {
        if (rec->body_case != TUTTI__RECORD__BODY_GENESIS ||
            rec->genesis->signing_public_key.len != TT_SIGN_PK_LEN) {
            rc = tt_fail(why, TT_ERR_CORRUPT, "record 1: not a genesis record with a key");
            goto out;
        }
        if (all_zero(signing_pk, TT_SIGN_PK_LEN))
            memcpy(signing_pk, rec->genesis->signing_public_key.data, TT_SIGN_PK_LEN);
        else if (memcmp(signing_pk, rec->genesis->signing_public_key.data, TT_SIGN_PK_LEN)) {
            rc = tt_fail(why, TT_ERR_CORRUPT,
                         "record 1: genesis names a signing key other than the expected one");
            goto out;
        }
        if (rec->prev_hash.len != 0) {
            rc = tt_fail(why, TT_ERR_CORRUPT, "record 1: has a previous hash");
            goto out;
        }
    } else if (rec->prev_hash.len != TT_HASH_LEN ||
               sodium_memcmp(rec->prev_hash.data, prev_hash, TT_HASH_LEN) != 0) {
        rc = tt_fail(why, TT_ERR_CORRUPT, "record %llu: previous-hash does not match record %llu",
                     seq, seq - 1);
        goto out;
    }
    tt_chain_keys_t next;
    if (expected_seq == 1)
        tt_chain_keys_init(&next, signing_pk);
    else
        next = *keys;
    if (next.n == 0 || which_key(&next, sr->record.data, sr->record.len, sr->signature.data) < 0) {
        rc = tt_fail(why, TT_ERR_CORRUPT, "record %llu: bad signature%s", seq,
                     next.n > 1 ? " (no key the log names verifies it)" : "");
        goto out;
    }
    if (rec->body_case == TUTTI__RECORD__BODY_SIGNER) {
        const ProtobufCBinaryData *pk = &rec->signer->public_key;
        if (pk->len != TT_SIGN_PK_LEN) {
            rc = tt_fail(why, TT_ERR_CORRUPT, "record %llu: a signer without a 32-byte key", seq);
            goto out;
        }
        if (tt_chain_keys_add(&next, pk->data) != 0) {
            rc = tt_fail(why, TT_ERR_CORRUPT,
                         "record %llu: names a signer beyond the %d a log may have", seq,
                         TT_CHAIN_MAX_SIGNERS);
            goto out;
        }
    }
    *keys = next;
    tt_chain_hash(data, len, out_hash);
out:
    tutti__signed_record__free_unpacked(sr, NULL);
    if (rc == 0 && out_rec)
        *out_rec = rec;
    else if (rec)
        tutti__record__free_unpacked(rec, NULL);
    return rc;
}

typedef struct {
    tt_chain_report_t *rep;
    uint8_t prev[TT_HASH_LEN];
    char *why;
} verify_ctx_t;

static int verify_one(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    verify_ctx_t *c = arg;
    uint64_t expected = c->rep->last_seq + 1;
    if (seq != expected) {
        c->rep->bad_seq = expected;
        return tt_fail(c->why, TT_ERR_CORRUPT, "record %llu is missing (next present: %llu)",
                       (unsigned long long)expected, (unsigned long long)seq);
    }
    uint8_t hash[TT_HASH_LEN];
    int rc = tt_chain_check_keys(data, len, seq, c->prev, &c->rep->keys, hash, NULL, c->why);
    if (rc != 0) {
        c->rep->bad_seq = seq;
        return rc;
    }
    memcpy(c->rep->signing_pk, c->rep->keys.pk[0], TT_SIGN_PK_LEN);
    memcpy(c->prev, hash, TT_HASH_LEN);
    memcpy(c->rep->head_hash, hash, TT_HASH_LEN);
    c->rep->records++;
    c->rep->last_seq = seq;
    return 0;
}

int tt_chain_verify_store(tt_store_t *store, const uint8_t *pinned_pk, tt_chain_report_t *rep,
                          char *why)
{
    memset(rep, 0, sizeof *rep);
    if (pinned_pk)
        memcpy(rep->signing_pk, pinned_pk, TT_SIGN_PK_LEN);
    tt_chain_keys_init(&rep->keys, pinned_pk);
    verify_ctx_t c = {.rep = rep, .why = why};
    /* Scan in pages so one read transaction never pins a huge snapshot. */
    for (;;) {
        uint64_t before = rep->last_seq;
        int rc = tt_store_scan(store, before + 1, 4096, SIZE_MAX, verify_one, &c, why);
        if (rc != 0) {
            if (!rep->bad_seq) /* the store itself failed: at the next record */
                rep->bad_seq = rep->last_seq + 1;
            return rc;
        }
        if (rep->last_seq == before)
            break;
    }
    return 0;
}

const char *tt_chain_kind(const Tutti__Record *rec)
{
    switch (rec->body_case) {
    case TUTTI__RECORD__BODY_GENESIS: return "genesis";
    case TUTTI__RECORD__BODY_NOTE: return "note";
    case TUTTI__RECORD__BODY_TRIM: return "trim";
    case TUTTI__RECORD__BODY_TEMPO_LOAD: return "tempo";
    case TUTTI__RECORD__BODY_ROLL: return "roll";
    case TUTTI__RECORD__BODY_STOP: return "stop";
    case TUTTI__RECORD__BODY_CUE_ADD: return "cue";
    case TUTTI__RECORD__BODY_ARM: return "arm";
    case TUTTI__RECORD__BODY_TAKE_INTERRUPTED: return "take-interrupted";
    case TUTTI__RECORD__BODY_TAKE_RATE: return "take-rate";
    case TUTTI__RECORD__BODY_TAKE_NOTE: return "take-note";
    case TUTTI__RECORD__BODY_CHANGE: return "change";
    case TUTTI__RECORD__BODY_ACK: return "ack";
    case TUTTI__RECORD__BODY_PRESENCE: return "presence";
    case TUTTI__RECORD__BODY_CALL_EVENT: return "call";
    case TUTTI__RECORD__BODY_MEDIA: return "media";
    case TUTTI__RECORD__BODY_SIGNER: return "signer";
    case TUTTI__RECORD__BODY_STANDBY_EVENT: return "standby";
    default: return "unknown";
    }
}
