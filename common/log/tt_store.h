/* tt_store: the log (and a little metadata) in one LMDB environment.
 *
 * Named database "log": key = sequence number as 8-byte big-endian, value =
 * SignedRecord bytes, gap-free from 1. Named database "meta": small
 * string-keyed values. Named database "snapshot": key = sequence as 8-byte
 * big-endian, value = a packed Snapshot (tutti.proto) of the folded state
 * at that record; only ever written in the same transaction as records,
 * the newest TT_STORE_SNAPSHOTS_KEPT kept. tt_store_append commits durably
 * (fsync) before it returns 0; only then may a caller acknowledge the
 * write. Coordinator store and agent replica use the same layout, so
 * `tutti verify` reads both.
 *
 * One tt_store_t per directory and process, used from one thread.
 */
#ifndef TT_STORE_H
#define TT_STORE_H

#include <stddef.h>
#include <stdint.h>

#define TT_STORE_DEFAULT_MAP_MB 4096
#define TT_STORE_SNAPSHOTS_KEPT 2
/* A snapshot value: larger ones are neither written nor read. */
#define TT_STORE_SNAPSHOT_MAX_BYTES (256u * 1024 * 1024)

typedef struct tt_store tt_store_t;

typedef struct {
    const uint8_t *data;
    size_t len;
} tt_bytes_t;

/* Opens (and with !readonly creates) the environment in dir. map_mb 0 means
 * the default. A writer holds DIR/tutti.lock until destroy: a second writer
 * on the same directory, in any process, is refused (TT_ERR_UNAVAILABLE,
 * naming the holder's pid). Readers take no lock. NULL with a reason in why
 * (tt_error_last: the code). */
tt_store_t *tt_store_open(const char *dir, int readonly, size_t map_mb, char *why);
void tt_store_destroy(tt_store_t **self_p);

/* Highest sequence in the log, 0 when empty. */
int tt_store_last_seq(tt_store_t *s, uint64_t *last_seq, char *why);

/* Appends n records with sequence numbers first_seq.. in one durable
 * transaction. Refuses (TT_ERR_INVALID) unless first_seq == last + 1. */
int tt_store_append(tt_store_t *s, uint64_t first_seq, const tt_bytes_t *records, size_t n,
                    char *why);

/* A snapshot to store with records: the value for key seq (borrowed). */
typedef struct {
    uint64_t seq;
    const uint8_t *data;
    size_t len;
} tt_store_snapshot_t;

/* tt_store_append, and in the same transaction snap (NULL: none) stored
 * under snap->seq, which must be a record the log holds once the
 * transaction commits (1..first_seq + n - 1); snapshots beyond the newest
 * TT_STORE_SNAPSHOTS_KEPT are deleted in it too. TT_ERR_INVALID for a seq
 * out of range, TT_ERR_TOO_BIG over TT_STORE_SNAPSHOT_MAX_BYTES (nothing
 * is written then). */
int tt_store_append_snapshot(tt_store_t *s, uint64_t first_seq, const tt_bytes_t *records, size_t n,
                             const tt_store_snapshot_t *snap, char *why);

/* The seqs of the stored snapshots, ascending: the newest cap of them into
 * seqs, how many into *n. None (0) in a store that has no snapshot
 * database yet. */
int tt_store_snapshot_seqs(tt_store_t *s, uint64_t *seqs, size_t cap, size_t *n, char *why);

/* Copies snapshot seq into a malloc'd buffer the caller frees.
 * TT_ERR_NOTFOUND when absent, TT_ERR_TOO_BIG over
 * TT_STORE_SNAPSHOT_MAX_BYTES. */
int tt_store_snapshot_get(tt_store_t *s, uint64_t seq, uint8_t **data, size_t *len, char *why);

/* Replaces the value of snapshot seq, which must exist (tests and tools
 * only: damaging a snapshot on purpose). */
int tt_store_snapshot_replace(tt_store_t *s, uint64_t seq, const uint8_t *data, size_t len,
                              char *why);

/* Copies record seq into a malloc'd buffer the caller frees.
 * TT_ERR_NOTFOUND when absent. */
int tt_store_get(tt_store_t *s, uint64_t seq, uint8_t **data, size_t *len, char *why);

/* Calls fn for records from_seq.. in order inside one read transaction,
 * until fn returns non-zero (which is returned), max_count records were
 * visited, or max_bytes would be exceeded (at least one record is always
 * given). data is valid only during the call. Returns 0 at the end. */
typedef int (*tt_store_visit_fn)(void *arg, uint64_t seq, const uint8_t *data, size_t len);
int tt_store_scan(tt_store_t *s, uint64_t from_seq, size_t max_count, size_t max_bytes,
                  tt_store_visit_fn fn, void *arg, char *why);

/* Metadata values, at most 4 KiB. get: TT_ERR_NOTFOUND when absent; *len
 * in: capacity of out, out: bytes copied. */
int tt_store_meta_get(tt_store_t *s, const char *key, void *out, size_t *len, char *why);
int tt_store_meta_put(tt_store_t *s, const char *key, const void *data, size_t len, char *why);

/* What the last call on s that failed with TT_ERR_STORE ran into, for a
 * status a person reads (the why says it in words). Like errno: valid right
 * after that call, and not reset by calls that succeed. */
typedef enum {
    TT_STORE_FAULT_NONE = 0,  /* no such failure yet */
    TT_STORE_FAULT_MAP_FULL,  /* MDB_MAP_FULL: the map is too small (--map-size-mb) */
    TT_STORE_FAULT_DISK_FULL, /* ENOSPC or EDQUOT: the filesystem is full */
    TT_STORE_FAULT_IO         /* any other LMDB or I/O failure */
} tt_store_fault_t;
tt_store_fault_t tt_store_fault(const tt_store_t *s);

/* Removes every record with seq > keep_seq, and every snapshot of one
 * (replicas only: used when a replica finds it diverged from the
 * coordinator after a restore). */
int tt_store_truncate_after(tt_store_t *s, uint64_t keep_seq, char *why);

#endif
