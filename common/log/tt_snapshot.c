/* tt_snapshot: see tt_snapshot.h. */
#include "tt_snapshot.h"
#include "tt_diag.h"
#include "tt_error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SNAPSHOTS_TRIED 8 /* newest first; the store keeps fewer */

int tt_snapshot_keys(const Tutti__Snapshot *snap, const uint8_t genesis_pk[TT_SIGN_PK_LEN],
                     tt_chain_keys_t *keys, char *why)
{
    tt_chain_keys_init(keys, genesis_pk);
    if (snap->n_signers + keys->n > TT_CHAIN_MAX_SIGNERS)
        return tt_fail(why, TT_ERR_CORRUPT, "snapshot %llu names %zu signers",
                       (unsigned long long)snap->seq, snap->n_signers);
    for (size_t i = 0; i < snap->n_signers; i++) {
        if (snap->signers[i].len != TT_SIGN_PK_LEN)
            return tt_fail(why, TT_ERR_CORRUPT, "snapshot %llu: a signer key is malformed",
                           (unsigned long long)snap->seq);
        memcpy(keys->pk[keys->n++], snap->signers[i].data, TT_SIGN_PK_LEN);
    }
    return 0;
}

int tt_snapshot_wrap(uint64_t seq, const uint8_t head_hash[TT_HASH_LEN],
                     const tt_chain_keys_t *keys, const uint8_t *state, size_t len, uint8_t **out,
                     size_t *out_len, char *why)
{
    ProtobufCBinaryData signers[TT_CHAIN_MAX_SIGNERS];
    size_t n_signers = 0;
    for (size_t i = 1; keys && i < keys->n; i++)
        signers[n_signers++] = (ProtobufCBinaryData){TT_SIGN_PK_LEN, (uint8_t *)keys->pk[i]};
    uint8_t sum[TT_HASH_LEN];
    tt_chain_hash(state, len, sum);
    Tutti__Snapshot snap = TUTTI__SNAPSHOT__INIT;
    snap.format = TT_SNAPSHOT_FORMAT;
    snap.seq = seq;
    snap.head_hash.data = (uint8_t *)head_hash;
    snap.head_hash.len = TT_HASH_LEN;
    snap.state_hash.data = sum;
    snap.state_hash.len = TT_HASH_LEN;
    snap.state.data = (uint8_t *)state;
    snap.state.len = len;
    snap.signers = signers;
    snap.n_signers = n_signers;
    size_t size = tutti__snapshot__get_packed_size(&snap);
    if (size > TT_STORE_SNAPSHOT_MAX_BYTES)
        return tt_fail(why, TT_ERR_TOO_BIG, "a snapshot at %llu of %zu bytes (at most %u)",
                       (unsigned long long)seq, size, TT_STORE_SNAPSHOT_MAX_BYTES);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return tt_fail(why, TT_ERR_NOMEM, "packing a snapshot of %zu bytes", size);
    tutti__snapshot__pack(&snap, buf);
    *out = buf;
    *out_len = size;
    return 0;
}

int tt_snapshot_open(const uint8_t *data, size_t len, uint64_t key_seq, Tutti__Snapshot **out,
                     char *why)
{
    unsigned long long key = (unsigned long long)key_seq;
    if (len > TT_STORE_SNAPSHOT_MAX_BYTES)
        return tt_fail(why, TT_ERR_CORRUPT, "snapshot %llu: %zu bytes, over the limit", key, len);
    Tutti__Snapshot *snap = tutti__snapshot__unpack(NULL, len, data);
    if (!snap)
        return tt_fail(why, TT_ERR_CORRUPT, "snapshot %llu does not decode", key);
    int rc = 0;
    uint8_t sum[TT_HASH_LEN];
    if (snap->format != TT_SNAPSHOT_FORMAT)
        rc = tt_fail(why, TT_ERR_CORRUPT, "snapshot %llu is of format %d, this build reads %d", key,
                     (int)snap->format, (int)TT_SNAPSHOT_FORMAT);
    else if (snap->seq != key_seq)
        rc = tt_fail(why, TT_ERR_CORRUPT, "snapshot %llu says it is of seq %llu", key,
                     (unsigned long long)snap->seq);
    else if (snap->head_hash.len != TT_HASH_LEN || snap->state_hash.len != TT_HASH_LEN)
        rc = tt_fail(why, TT_ERR_CORRUPT, "snapshot %llu: head or checksum malformed", key);
    else {
        tt_chain_hash(snap->state.data, snap->state.len, sum);
        if (sodium_memcmp(sum, snap->state_hash.data, TT_HASH_LEN) != 0)
            rc = tt_fail(why, TT_ERR_CORRUPT,
                         "snapshot %llu: its state does not match its checksum", key);
    }
    if (rc != 0) {
        tutti__snapshot__free_unpacked(snap, NULL);
        return rc;
    }
    *out = snap;
    return 0;
}

int tt_snapshot_check_head(tt_store_t *store, const Tutti__Snapshot *snap,
                           const uint8_t pk[TT_SIGN_PK_LEN], char *why)
{
    unsigned long long seq = (unsigned long long)snap->seq;
    uint8_t *data = NULL;
    size_t len = 0;
    char swhy[TT_WHY_LEN];
    int rc = tt_store_get(store, snap->seq, &data, &len, swhy);
    if (rc == TT_ERR_NOTFOUND)
        return tt_fail(why, TT_ERR_CORRUPT, "snapshot %llu: the log has no record %llu", seq, seq);
    if (rc != 0)
        return tt_fail(why, rc, "snapshot %llu: %s", seq, swhy);
    uint8_t hash[TT_HASH_LEN];
    tt_chain_hash(data, len, hash);
    if (snap->head_hash.len != TT_HASH_LEN ||
        sodium_memcmp(hash, snap->head_hash.data, TT_HASH_LEN) != 0) {
        free(data);
        return tt_fail(why, TT_ERR_CORRUPT, "snapshot %llu: record %llu has another hash", seq,
                       seq);
    }
    /* Its signature, with the previous hash it names (the chain up to it
     * is what the snapshot stands for; tutti verify walks that). */
    uint8_t prev[TT_HASH_LEN] = {0};
    Tutti__SignedRecord *sr = tutti__signed_record__unpack(NULL, len, data);
    Tutti__Record *rec = sr ? tutti__record__unpack(NULL, sr->record.len, sr->record.data) : NULL;
    if (rec && rec->prev_hash.len == TT_HASH_LEN)
        memcpy(prev, rec->prev_hash.data, TT_HASH_LEN);
    if (rec)
        tutti__record__free_unpacked(rec, NULL);
    if (sr)
        tutti__signed_record__free_unpacked(sr, NULL);
    tt_chain_keys_t keys;
    rc = tt_snapshot_keys(snap, pk, &keys, swhy);
    if (rc == 0)
        rc = tt_chain_check_keys(data, len, snap->seq, prev, &keys, hash, NULL, swhy);
    free(data);
    if (rc != 0)
        return tt_fail(why, TT_ERR_CORRUPT, "snapshot %llu: %s", seq, swhy);
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* The log's key into out->signing_pk: record 1 checked (against the key
 * already there, when one is). 0, or non-zero when record 1 does not
 * check (the fold from record 1 then says why). */
static int genesis_key(tt_store_t *store, tt_snapshot_replay_t *out)
{
    uint8_t *data = NULL;
    size_t len = 0;
    char why[TT_WHY_LEN];
    if (tt_store_get(store, 1, &data, &len, why) != 0)
        return -1;
    uint8_t zero[TT_HASH_LEN] = {0}, hash[TT_HASH_LEN], key[TT_SIGN_PK_LEN];
    memcpy(key, out->signing_pk, TT_SIGN_PK_LEN);
    int rc = tt_chain_check(data, len, 1, zero, key, hash, NULL, why);
    free(data);
    if (rc == 0) {
        memcpy(out->signing_pk, key, TT_SIGN_PK_LEN);
        tt_chain_keys_init(&out->keys, key);
    }
    return rc;
}

/* Restores the newest snapshot that checks into the (reset) state; leaves
 * out at 0 when there is none. */
static void from_snapshot(tt_store_t *store, const tt_snapshot_fold_t *fold,
                          tt_snapshot_replay_t *out)
{
    uint64_t seqs[SNAPSHOTS_TRIED];
    size_t n = 0;
    char why[TT_WHY_LEN];
    if (tt_store_snapshot_seqs(store, seqs, SNAPSHOTS_TRIED, &n, why) != 0) {
        tt_diag_warn("listing the stored snapshots: %s; folding the whole log", why);
        return;
    }
    if (n == 0 || genesis_key(store, out) != 0)
        return;
    for (size_t i = n; i-- > 0;) {
        uint8_t *data = NULL;
        size_t len = 0;
        Tutti__Snapshot *snap = NULL;
        int rc = tt_store_snapshot_get(store, seqs[i], &data, &len, why);
        if (rc == 0)
            rc = tt_snapshot_open(data, len, seqs[i], &snap, why);
        free(data);
        if (rc == 0)
            rc = tt_snapshot_check_head(store, snap, out->signing_pk, why);
        tt_chain_keys_t keys;
        if (rc == 0)
            rc = tt_snapshot_keys(snap, out->signing_pk, &keys, why);
        if (rc == 0) {
            char rwhy[TT_WHY_LEN];
            rc = fold->restore(fold->arg, snap->seq, snap->head_hash.data, out->signing_pk,
                               snap->state.data, snap->state.len, rwhy);
            if (rc != 0) {
                tt_fail(why, rc, "snapshot %llu: %s", (unsigned long long)seqs[i], rwhy);
                fold->reset(fold->arg);
            }
        }
        if (rc == 0) {
            out->keys = keys;
            out->last_seq = snap->seq;
            memcpy(out->head_hash, snap->head_hash.data, TT_HASH_LEN);
            out->snapshot_seq = snap->seq;
            tutti__snapshot__free_unpacked(snap, NULL);
            return;
        }
        if (snap)
            tutti__snapshot__free_unpacked(snap, NULL);
        out->ignored++;
        tt_diag_warn("ignoring the snapshot at seq %llu: %s", (unsigned long long)seqs[i], why);
    }
    tt_diag_warn("no stored snapshot checks: folding the whole log from record 1");
}

typedef struct {
    const tt_snapshot_fold_t *fold;
    tt_snapshot_replay_t *out;
    char *why;
} replay_ctx_t;

static int fold_stored(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    replay_ctx_t *c = arg;
    tt_snapshot_replay_t *out = c->out;
    if (seq != out->last_seq + 1)
        return tt_fail(c->why, TT_ERR_CORRUPT, "record %llu is missing (next present: %llu)",
                       (unsigned long long)(out->last_seq + 1), (unsigned long long)seq);
    uint8_t hash[TT_HASH_LEN];
    Tutti__Record *rec = NULL;
    int rc = tt_chain_check_keys(data, len, seq, out->head_hash, &out->keys, hash, &rec, c->why);
    if (rc == 0)
        memcpy(out->signing_pk, out->keys.pk[0], TT_SIGN_PK_LEN);
    if (rc != 0)
        return rc;
    rc = c->fold->fold(c->fold->arg, rec, hash, c->why);
    if (rc != 0)
        rc = tt_fail(c->why, TT_ERR_CORRUPT, "folding record %llu: %s", (unsigned long long)seq,
                     c->why);
    tutti__record__free_unpacked(rec, NULL);
    if (rc == 0) {
        out->last_seq = seq;
        memcpy(out->head_hash, hash, TT_HASH_LEN);
        out->folded++;
    }
    return rc;
}

int tt_snapshot_replay(tt_store_t *store, const tt_snapshot_fold_t *fold, const uint8_t *pk,
                       int use_snapshots, tt_snapshot_replay_t *out, char *why)
{
    memset(out, 0, sizeof *out);
    if (pk && !all_zero(pk, TT_SIGN_PK_LEN))
        memcpy(out->signing_pk, pk, TT_SIGN_PK_LEN);
    tt_chain_keys_init(&out->keys, pk);
    fold->reset(fold->arg);
    if (use_snapshots && fold->restore)
        from_snapshot(store, fold, out);
    replay_ctx_t c = {fold, out, why};
    /* Scan in pages so one read transaction never pins a huge snapshot. */
    for (;;) {
        uint64_t before = out->last_seq;
        int rc = tt_store_scan(store, before + 1, 4096, SIZE_MAX, fold_stored, &c, why);
        if (rc != 0)
            return rc;
        if (out->last_seq == before)
            return 0;
    }
}
