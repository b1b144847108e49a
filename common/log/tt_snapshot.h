/* tt_snapshot: start from a snapshot of the folded state instead of the
 * whole log.
 *
 * Every program folds its log (records -> state) when it starts, and
 * checking every record's signature on the way costs about 4 s per 100,000
 * records. So every N records a writer stores, in the same LMDB transaction
 * as records (tt_store_append_snapshot), a Snapshot (tutti.proto): the
 * state its fold had built at some seq S, the hash of record S and a
 * checksum of the state. At start tt_snapshot_replay takes the newest
 * stored snapshot that checks -- its format, its checksum, its key, record
 * S hashing to its head and signed with the log's key, the caller's
 * restore accepting the state -- and checks and folds only the records
 * after S, each against the chain as always. A snapshot that does not
 * check is logged and passed over; with none left the whole log is folded
 * from record 1, exactly as without snapshots.
 *
 * The state is opaque bytes here (the log layer knows no session): the
 * caller's save and restore encode it (tt_session_snap.h).
 *
 * A snapshot is as trustworthy as the disk under it, like the meta
 * database: it is checked against the log, not signed. `tutti verify`
 * folds the whole log and compares every stored snapshot with the fold.
 */
#ifndef TT_SNAPSHOT_H
#define TT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "tt_chain.h"
#include "tt_keys.h"
#include "tt_store.h"
#include "tutti.pb-c.h"

#define TT_SNAPSHOT_FORMAT TUTTI__SNAPSHOT_FORMAT__SNAPSHOT_FORMAT_CURRENT
#define TT_SNAPSHOT_DEFAULT_EVERY 1000 /* records between snapshots */

/* The caller's fold, as a replica's (tt_replica_config_t). */
typedef struct {
    int (*fold)(void *arg, const Tutti__Record *rec, const uint8_t hash[TT_HASH_LEN], char *why);
    void (*reset)(void *arg); /* forget everything folded */
    /* NULL: never start from a snapshot. Replaces the state just reset
     * with the one encoded in state[0..len), which the save made after
     * record seq (hash head_hash) of a log signed with signing_pk. Refuses
     * with why what it cannot take: a state that does not say the same seq,
     * head and key, or does not decode within its bounds. */
    int (*restore)(void *arg, uint64_t seq, const uint8_t head_hash[TT_HASH_LEN],
                   const uint8_t signing_pk[TT_SIGN_PK_LEN], const uint8_t *state, size_t len,
                   char *why);
    void *arg;
} tt_snapshot_fold_t;

/* Where a replay left the chain. */
typedef struct {
    uint64_t last_seq;
    uint8_t head_hash[TT_HASH_LEN];
    uint8_t signing_pk[TT_SIGN_PK_LEN]; /* the genesis key */
    tt_chain_keys_t keys;               /* it and every key named up to last_seq */
    uint64_t snapshot_seq;              /* the snapshot it started from; 0: from record 1 */
    uint64_t folded;                    /* records checked and folded (after the snapshot) */
    size_t ignored;                     /* snapshots passed over (each logged with its reason) */
} tt_snapshot_replay_t;

/* Resets the state and builds it from store: from the newest snapshot
 * that checks (use_snapshots and fold->restore set), then every record
 * after it, each checked against the chain and signed with the log's key
 * (pk: that key, or NULL to take the genesis record's). 0, or the first
 * record that fails (TT_ERR_CORRUPT) or does not fold, or a store error,
 * with why; the state is then partly built (reset it). */
int tt_snapshot_replay(tt_store_t *store, const tt_snapshot_fold_t *fold, const uint8_t *pk,
                       int use_snapshots, tt_snapshot_replay_t *out, char *why);

/* The Snapshot value for state[0..len) (borrowed) after record seq of
 * hash head_hash, with the keys the chain accepts after it (keys->pk[1..],
 * the named ones; NULL: none): *out malloc'd, the caller frees.
 * TT_ERR_TOO_BIG over TT_STORE_SNAPSHOT_MAX_BYTES. */
int tt_snapshot_wrap(uint64_t seq, const uint8_t head_hash[TT_HASH_LEN],
                     const tt_chain_keys_t *keys, const uint8_t *state, size_t len, uint8_t **out,
                     size_t *out_len, char *why);

/* keys = {genesis_pk} plus the snapshot's named signers. TT_ERR_CORRUPT
 * when one is not 32 bytes or there are too many. */
int tt_snapshot_keys(const Tutti__Snapshot *snap, const uint8_t genesis_pk[TT_SIGN_PK_LEN],
                     tt_chain_keys_t *keys, char *why);

/* Decodes the value stored under key_seq and checks it by itself: the
 * current format, seq equal to key_seq, a 32-byte head, the checksum of
 * its state. *out: free with tutti__snapshot__free_unpacked. 0, or
 * TT_ERR_CORRUPT with why. */
int tt_snapshot_open(const uint8_t *data, size_t len, uint64_t key_seq, Tutti__Snapshot **out,
                     char *why);

/* Checks an opened snapshot against the log in store: record snap->seq is
 * there, hashes to its head and is signed with pk (the genesis key) or a
 * key the snapshot names. 0 or TT_ERR_CORRUPT (or a store error) with
 * why. */
int tt_snapshot_check_head(tt_store_t *store, const Tutti__Snapshot *snap,
                           const uint8_t pk[TT_SIGN_PK_LEN], char *why);

#endif
