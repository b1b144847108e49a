/* tt_session_snap: the folded state (tt_session_t) as bytes, for the
 * snapshots a store keeps beside its log (tt_snapshot.h), and a
 * field-by-field comparison of two states.
 *
 * The bytes are a packed SessionState (tutti.proto): every field the fold
 * keeps, lists in the fold's order, the idempotency keys oldest first, so
 * a decoded state answers and folds on exactly as the one encoded. Decoding
 * is bounded: the fold's own limits (rooms, players, changes, cues, call
 * breaks, media rooms, the key window), every string within its field, and
 * the whole within TT_STORE_SNAPSHOT_MAX_BYTES; anything else refuses the
 * snapshot.
 *
 * Whoever changes what tt_session_t holds, or how a record folds, changes
 * encode, decode and diff here and raises SNAPSHOT_FORMAT_CURRENT in
 * tutti.proto (old snapshots are then ignored, not misread). The struct
 * sizes asserted in the .c file are the tripwire for the first half.
 */
#ifndef TT_SESSION_SNAP_H
#define TT_SESSION_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "tt_session.h"

/* Packs s into *out (malloc'd, the caller frees). 0, TT_ERR_NOMEM, or
 * TT_ERR_TOO_BIG over TT_STORE_SNAPSHOT_MAX_BYTES. */
int tt_session_snap_encode(const tt_session_t *s, uint8_t **out, size_t *len, char *why);

/* Replaces s (cleared first) with the state encoded in data[0..len).
 * 0, or TT_ERR_CORRUPT / TT_ERR_NOMEM with why; s is then cleared. */
int tt_session_snap_decode(tt_session_t *s, const uint8_t *data, size_t len, char *why);

/* The Snapshot value of s (its state after record s->last_seq): encode
 * and tt_snapshot_wrap. *out malloc'd, the caller frees. */
int tt_session_snap_take(const tt_session_t *s, uint8_t **out, size_t *len, char *why);

/* tt_session_snap_encode in the shape of a replica's save
 * (tt_replica_config_t), with arg the tt_session_t. */
int tt_session_snap_save(void *session, uint8_t **out, size_t *len, char *why);

/* The restore of tt_snapshot_fold_t for a tt_session_t: decodes, then
 * refuses a state that does not say seq, head_hash and signing_pk. */
int tt_session_snap_restore(void *session, uint64_t seq, const uint8_t head_hash[TT_HASH_LEN],
                            const uint8_t signing_pk[TT_SIGN_PK_LEN], const uint8_t *state,
                            size_t len, char *why);

/* 0 when a and b hold the same state, field by field (capacities aside);
 * 1 otherwise, with the first field that differs in where, e.g.
 * "cues[2].takes[0].rating: \"hold\" vs \"ng\"". */
int tt_session_snap_diff(const tt_session_t *a, const tt_session_t *b, char *where, size_t cap);

#endif
