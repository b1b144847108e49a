/* tt_chain: sealing and checking signed, hash-chained log records.
 *
 * A stored record is a SignedRecord: the packed Record bytes exactly as
 * signed, plus an Ed25519 signature over them. Each Record carries the
 * BLAKE2b-256 hash of the previous stored SignedRecord bytes, so changing
 * any byte anywhere breaks either a signature or the chain. Record 1 is the
 * genesis record holding the coordinator's signing public key; a verifier
 * with no key pinned trusts that one and checks everything after against it.
 * Checks never re-encode: they hash and verify the bytes as stored.
 */
#ifndef TT_CHAIN_H
#define TT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "tt_keys.h"
#include "tt_store.h"
#include "tutti.pb-c.h"

#define TT_HASH_LEN 32
#define TT_CHAIN_MAX_RECORD (1024 * 1024)

void tt_chain_hash(const uint8_t *data, size_t len, uint8_t out[TT_HASH_LEN]);

/* Sets rec->seq and rec->prev_hash, packs and signs it. *out is malloc'd
 * SignedRecord bytes the caller frees; out_hash is their hash. */
int tt_chain_seal(const tt_signer_t *signer, Tutti__Record *rec, uint64_t seq,
                  const uint8_t prev_hash[TT_HASH_LEN], uint8_t **out, size_t *out_len,
                  uint8_t out_hash[TT_HASH_LEN], char *why);

/* The keys whose signatures the chain accepts: pk[0] the genesis key,
 * then every key a Signer record named, in order (at most
 * TT_CHAIN_MAX_SIGNERS in all: a Signer record that would name more is
 * refused as corrupt). n 0: none yet (record 1 names the first). */
#define TT_CHAIN_MAX_SIGNERS 8
typedef struct {
    uint8_t pk[TT_CHAIN_MAX_SIGNERS][TT_SIGN_PK_LEN];
    size_t n;
} tt_chain_keys_t;

/* k = {genesis_pk}, or empty when genesis_pk is NULL or all zero. */
void tt_chain_keys_init(tt_chain_keys_t *k, const uint8_t *genesis_pk);
/* Adds pk unless k has it: 0, or -1 when k is full. */
int tt_chain_keys_add(tt_chain_keys_t *k, const uint8_t pk[TT_SIGN_PK_LEN]);
/* 1 when pk is one of k's keys. */
int tt_chain_keys_has(const tt_chain_keys_t *k, const uint8_t pk[TT_SIGN_PK_LEN]);

/* tt_chain_check with a key set: the record must be signed with one of
 * keys (an empty set at seq 1 takes the genesis key), and a Signer record
 * that checks adds its key to keys. keys changes only on success. */
int tt_chain_check_keys(const uint8_t *data, size_t len, uint64_t expected_seq,
                        const uint8_t prev_hash[TT_HASH_LEN], tt_chain_keys_t *keys,
                        uint8_t out_hash[TT_HASH_LEN], Tutti__Record **out_rec, char *why);

/* Checks one stored record against the chain so far, signed with the
 * genesis key only (a walk of a log whose Signer records matter keeps a
 * tt_chain_keys_t and calls tt_chain_check_keys).
 *   expected_seq, prev_hash: where the chain stands (prev_hash ignored at seq 1)
 *   signing_pk: in/out. All-zero on entry at seq 1 means "take the key from
 *               the genesis record"; otherwise the record must verify with it.
 * On success out_hash is the record's hash and, when out_rec is not NULL,
 * *out_rec the decoded Record (free with tutti__record__free_unpacked). */
int tt_chain_check(const uint8_t *data, size_t len, uint64_t expected_seq,
                   const uint8_t prev_hash[TT_HASH_LEN], uint8_t signing_pk[TT_SIGN_PK_LEN],
                   uint8_t out_hash[TT_HASH_LEN], Tutti__Record **out_rec, char *why);

typedef struct {
    uint64_t records;
    uint64_t last_seq;
    uint8_t head_hash[TT_HASH_LEN];
    uint8_t signing_pk[TT_SIGN_PK_LEN]; /* the genesis key */
    tt_chain_keys_t keys;               /* it and every key named up to last_seq */
    uint64_t bad_seq;                   /* first sequence that failed, 0 when all good */
} tt_chain_report_t;

/* Walks a whole store. pinned_pk NULL: trust the genesis record's key.
 * Returns 0 when every record checks, TT_ERR_CORRUPT with bad_seq set and
 * the reason in why otherwise. */
int tt_chain_verify_store(tt_store_t *store, const uint8_t *pinned_pk, tt_chain_report_t *rep,
                          char *why);

/* The signer a stored record's signature verifies with among keys: its
 * index, or -1 (no key verifies, or the bytes are no signed record). */
int tt_chain_signed_by(const uint8_t *data, size_t len, const tt_chain_keys_t *keys);

/* "kind" of a record for people and JSON: "genesis", "note", ... */
const char *tt_chain_kind(const Tutti__Record *rec);

#endif
