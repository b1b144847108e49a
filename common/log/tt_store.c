/* tt_store: LMDB behind the log. See tt_store.h.
 *
 * A damaged data.mdb (a page or a value that lies past the end of the
 * file, say after a truncation or a flipped page pointer) makes LMDB touch
 * the map beyond the file, and the kernel answers with SIGBUS. Every LMDB
 * call here runs under a guard: a SIGBUS while the guard is armed jumps
 * back and the call returns TT_ERR_CORRUPT "store structure corrupt after
 * seq N" instead of killing the program. The pages of each value are
 * touched under the guard before a visitor sees them, so visitors run
 * unguarded and never leave half-built state behind a jump.
 */
#include "tt_store.h"
#include "tt_error.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct tt_store {
    MDB_env *env;
    MDB_dbi log;
    MDB_dbi meta;
    int has_meta;
    MDB_dbi snap;
    int has_snap; /* the "snapshot" database exists (a read-only older store may lack it) */
    int readonly;
    int lock_fd; /* DIR/tutti.lock, held (flock) while a writer has the store; -1 */
    char dir[1024];
    size_t map_mb;
    tt_store_fault_t fault; /* of the last TT_ERR_STORE failure */
};

/* One writer per store: a second coordinator (or agent) on the same
 * directory would interleave its own log with ours. An exclusive flock on
 * DIR/tutti.lock, held for the store's life, refuses it with the pid of
 * the holder; the kernel drops the lock when a holder dies, even by kill -9. */
static int take_writer_lock(tt_store_t *s, char *why)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/tutti.lock", s->dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0)
        return tt_fail(why, TT_ERR_IO, "opening %s: %s", path, strerror(errno));
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char holder[32] = "";
        ssize_t n = pread(s->lock_fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        if (err == EWOULDBLOCK)
            return tt_fail(why, TT_ERR_UNAVAILABLE,
                           "store %s is in use by another process (pid %s): one program per "
                           "--data directory",
                           s->dir, holder[0] ? holder : "unknown");
        return tt_fail(why, TT_ERR_IO, "locking %s: %s", path, strerror(err));
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, pid, (size_t)len, 0) != len)
        return tt_fail(why, TT_ERR_IO, "writing %s: %s", path, strerror(errno));
    return 0;
}

/* ------------------------------------------------------------ SIGBUS guard */

static _Thread_local sigjmp_buf *bus_guard; /* armed: where a SIGBUS returns to */
static struct sigaction bus_previous;
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
    if (bus_guard)
        siglongjmp(*bus_guard, 1);
    /* Not ours: the previous handler (or the default, which ends us). */
    if (bus_previous.sa_flags & SA_SIGINFO && bus_previous.sa_sigaction) {
        bus_previous.sa_sigaction(sig, info, uctx);
        return;
    }
    if (bus_previous.sa_handler != SIG_DFL && bus_previous.sa_handler != SIG_IGN &&
        bus_previous.sa_handler) {
        bus_previous.sa_handler(sig);
        return;
    }
    signal(SIGBUS, SIG_DFL);
    raise(SIGBUS);
}

static void install_bus_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &bus_previous) != 0)
        memset(&bus_previous, 0, sizeof bus_previous);
}

/* Reads one byte of every page of v (and its last byte), so a value that
 * runs past the end of the file faults here, under the guard. */
static void touch_value(const MDB_val *v)
{
    const volatile uint8_t *p = v->mv_data;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t off = 0; off < v->mv_size; off += page)
        (void)p[off];
    if (v->mv_size)
        (void)p[v->mv_size - 1];
}

static int structure_corrupt(const char *dir, uint64_t good_seq, char *why)
{
    return tt_fail(why, TT_ERR_CORRUPT,
                   "store structure corrupt after seq %llu in %s: a page or a record lies past "
                   "the end of data.mdb (restore the store from a replica or a backup)",
                   (unsigned long long)good_seq, dir);
}

/* Arms the guard in the calling function's frame: on a SIGBUS it cleans up
 * the transaction and cursor named and returns the corruption error. The
 * names must be volatile locals; good_seq is the last record known good. */
#define STORE_GUARD(s, txn, cur, good_seq, why)                                                    \
    sigjmp_buf guard_jb_;                                                                          \
    sigjmp_buf *guard_prev_ = bus_guard;                                                           \
    if (sigsetjmp(guard_jb_, 1)) {                                                                 \
        bus_guard = guard_prev_;                                                                   \
        if (cur)                                                                                   \
            mdb_cursor_close(cur);                                                                 \
        if (txn)                                                                                   \
            mdb_txn_abort(txn);                                                                    \
        return structure_corrupt((s)->dir, good_seq, why);                                         \
    }                                                                                              \
    bus_guard = &guard_jb_
#define STORE_UNGUARD() (bus_guard = guard_prev_)
#define STORE_REGUARD() (bus_guard = &guard_jb_)

/* ------------------------------------------------------------ keys */

static void seq_key(uint64_t seq, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(seq & 0xff);
        seq >>= 8;
    }
}

static uint64_t seq_from_key(const MDB_val *k)
{
    uint64_t v = 0;
    const uint8_t *p = k->mv_data;
    for (size_t i = 0; i < 8 && i < k->mv_size; i++)
        v = (v << 8) | p[i];
    return v;
}

static int structure_corrupt(const char *dir, uint64_t good_seq, char *why);

static int mdb_fail(tt_store_t *s, char *why, int rc, const char *doing)
{
    if (rc == MDB_PAGE_NOTFOUND || rc == MDB_CORRUPTED)
        return tt_fail(why, TT_ERR_CORRUPT,
                       "store structure corrupt in %s (%s while %s): restore the store from a "
                       "replica or a backup",
                       s->dir, mdb_strerror(rc), doing);
    /* LMDB turns a short write into EIO ("filesystem full?"): a write that
     * left no free block behind was one. */
    struct statvfs fs;
    if (rc == EIO && statvfs(s->dir, &fs) == 0 && fs.f_bavail == 0)
        rc = ENOSPC;
    s->fault = rc == MDB_MAP_FULL               ? TT_STORE_FAULT_MAP_FULL
               : (rc == ENOSPC || rc == EDQUOT) ? TT_STORE_FAULT_DISK_FULL
                                                : TT_STORE_FAULT_IO;
    if (rc == MDB_MAP_FULL)
        return tt_fail(why, TT_ERR_STORE,
                       "store full: %s in %s: MDB_MAP_FULL (map %zu MiB): raise --map-size-mb",
                       doing, s->dir, s->map_mb);
    if (rc == ENOSPC || rc == EDQUOT)
        return tt_fail(why, TT_ERR_STORE, "disk full: %s in %s: %s: free space on its disk", doing,
                       s->dir, strerror(rc));
    return tt_fail(why, TT_ERR_STORE, "%s in %s: %s", doing, s->dir, mdb_strerror(rc));
}

static int read_only(tt_store_t *s, char *why)
{
    s->fault = TT_STORE_FAULT_IO;
    return tt_fail(why, TT_ERR_STORE, "store %s is open read-only", s->dir);
}

tt_store_fault_t tt_store_fault(const tt_store_t *s)
{
    return s->fault;
}

/* Opens (creates) the log and meta databases in one transaction. */
static int open_databases(tt_store_t *s, char *why)
{
    MDB_txn *volatile txn = NULL;
    MDB_cursor *volatile no_cursor = NULL;
    STORE_GUARD(s, txn, no_cursor, 0, why);
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &t);
    if (rc != 0) {
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "opening store");
    }
    txn = t;
    unsigned flags = s->readonly ? 0 : MDB_CREATE;
    rc = mdb_dbi_open(t, "log", flags, &s->log);
    if (rc != 0) {
        mdb_txn_abort(t);
        STORE_UNGUARD();
        if (rc == MDB_NOTFOUND)
            return tt_fail(why, TT_ERR_NOTFOUND, "store %s has no 'log' database", s->dir);
        return mdb_fail(s, why, rc, "opening the log database");
    }
    rc = mdb_dbi_open(t, "meta", flags, &s->meta);
    s->has_meta = (rc == 0);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(t);
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "opening the meta database");
    }
    rc = mdb_dbi_open(t, "snapshot", flags, &s->snap);
    s->has_snap = (rc == 0);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(t);
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "opening the snapshot database");
    }
    txn = NULL; /* commit ends it either way */
    rc = mdb_txn_commit(t);
    STORE_UNGUARD();
    return rc ? mdb_fail(s, why, rc, "opening store") : 0;
}

tt_store_t *tt_store_open(const char *dir, int readonly, size_t map_mb, char *why)
{
    tt_store_t *s = calloc(1, sizeof *s);
    if (!s) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the store");
        return NULL;
    }
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    s->readonly = readonly;
    s->lock_fd = -1;
    pthread_once(&bus_once, install_bus_handler);
    s->map_mb = map_mb ? map_mb : TT_STORE_DEFAULT_MAP_MB;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (readonly || mkdir(dir, 0700) != 0) {
            tt_fail(why, TT_ERR_IO, "opening store %s: %s", dir,
                    readonly ? "no such directory" : strerror(errno));
            free(s);
            return NULL;
        }
    }
    if (!readonly && take_writer_lock(s, why) != 0) {
        tt_store_destroy(&s);
        return NULL;
    }
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, 8);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, s->map_mb * 1024 * 1024);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, readonly ? MDB_RDONLY : 0, 0600);
    if (rc != 0) {
        if (rc == ENOENT && readonly)
            tt_fail(why, TT_ERR_NOTFOUND, "opening store %s: no LMDB environment there", dir);
        else
            mdb_fail(s, why, rc, "opening store");
        tt_store_destroy(&s);
        return NULL;
    }
    rc = open_databases(s, why);
    if (rc != 0) {
        tt_store_destroy(&s);
        return NULL;
    }
    return s;
}

void tt_store_destroy(tt_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->env)
        mdb_env_close((*self_p)->env);
    if ((*self_p)->lock_fd >= 0)
        close((*self_p)->lock_fd); /* releases the flock */
    free(*self_p);
    *self_p = NULL;
}

static int last_seq_in(MDB_txn *txn, MDB_dbi dbi, uint64_t *last)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        *last = 0;
        return 0;
    }
    if (rc == 0)
        *last = seq_from_key(&k);
    return rc;
}

int tt_store_last_seq(tt_store_t *s, uint64_t *last_seq, char *why)
{
    MDB_txn *volatile txn = NULL;
    MDB_cursor *volatile no_cursor = NULL;
    STORE_GUARD(s, txn, no_cursor, 0, why);
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
    if (rc == 0) {
        txn = t;
        rc = last_seq_in(t, s->log, last_seq);
        txn = NULL;
        mdb_txn_abort(t);
    }
    STORE_UNGUARD();
    return rc ? mdb_fail(s, why, rc, "reading the log head") : 0;
}

/* Keeps the newest TT_STORE_SNAPSHOTS_KEPT snapshots, deleting the rest. */
static int prune_snapshots(tt_store_t *s, MDB_txn *t)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, s->snap, &c);
    if (rc != 0)
        return rc;
    MDB_val k, v;
    size_t seen = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_PREV))
        if (++seen > TT_STORE_SNAPSHOTS_KEPT && (rc = mdb_cursor_del(c, 0)) != 0)
            break;
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int tt_store_append(tt_store_t *s, uint64_t first_seq, const tt_bytes_t *records, size_t n,
                    char *why)
{
    return tt_store_append_snapshot(s, first_seq, records, n, NULL, why);
}

int tt_store_append_snapshot(tt_store_t *s, uint64_t first_seq, const tt_bytes_t *records, size_t n,
                             const tt_store_snapshot_t *snap, char *why)
{
    if (s->readonly)
        return read_only(s, why);
    if (snap && (snap->seq == 0 || snap->seq >= first_seq + n))
        return tt_fail(why, TT_ERR_INVALID, "a snapshot at %llu with records up to %llu",
                       (unsigned long long)snap->seq, (unsigned long long)(first_seq + n - 1));
    if (snap && snap->len > TT_STORE_SNAPSHOT_MAX_BYTES)
        return tt_fail(why, TT_ERR_TOO_BIG, "a snapshot of %zu bytes (at most %u)", snap->len,
                       TT_STORE_SNAPSHOT_MAX_BYTES);
    MDB_txn *volatile txn = NULL;
    MDB_cursor *volatile no_cursor = NULL;
    STORE_GUARD(s, txn, no_cursor, first_seq - 1, why);
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc != 0) {
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "starting a write");
    }
    txn = t;
    uint64_t last = 0;
    rc = last_seq_in(t, s->log, &last);
    const char *doing = "reading the log head";
    if (rc == 0 && first_seq != last + 1) {
        txn = NULL;
        mdb_txn_abort(t);
        STORE_UNGUARD();
        return tt_fail(why, TT_ERR_INVALID, "appending seq %llu to a log ending at %llu",
                       (unsigned long long)first_seq, (unsigned long long)last);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint8_t key[8];
        seq_key(first_seq + i, key);
        MDB_val k = {sizeof key, key};
        MDB_val v = {records[i].len, (void *)records[i].data};
        rc = mdb_put(t, s->log, &k, &v, MDB_NOOVERWRITE | MDB_APPEND);
        doing = "appending to the log";
    }
    if (rc == 0 && snap) {
        uint8_t key[8];
        seq_key(snap->seq, key);
        MDB_val k = {sizeof key, key};
        MDB_val v = {snap->len, (void *)snap->data};
        rc = mdb_put(t, s->snap, &k, &v, 0);
        if (rc == 0)
            rc = prune_snapshots(s, t);
        doing = "storing a snapshot";
    }
    txn = NULL;
    if (rc != 0) {
        mdb_txn_abort(t);
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, doing);
    }
    rc = mdb_txn_commit(t); /* durable: LMDB fsyncs before returning */
    STORE_UNGUARD();
    return rc ? mdb_fail(s, why, rc, "committing to the log") : 0;
}

int tt_store_snapshot_seqs(tt_store_t *s, uint64_t *seqs, size_t cap, size_t *n, char *why)
{
    *n = 0;
    if (!s->has_snap || cap == 0)
        return 0;
    MDB_txn *volatile txn = NULL;
    MDB_cursor *volatile cur = NULL;
    STORE_GUARD(s, txn, cur, 0, why);
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
    if (rc != 0) {
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "listing snapshots");
    }
    txn = t;
    MDB_cursor *c;
    rc = mdb_cursor_open(t, s->snap, &c);
    if (rc == 0) {
        cur = c;
        MDB_val k, v;
        /* Newest first into the end of seqs, then moved down: ascending. */
        size_t got = 0;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0 && got < cap;
             rc = mdb_cursor_get(c, &k, &v, MDB_PREV))
            seqs[cap - 1 - got++] = seq_from_key(&k);
        if (got < cap)
            memmove(seqs, seqs + (cap - got), got * sizeof *seqs);
        *n = got;
        cur = NULL;
        mdb_cursor_close(c);
    }
    txn = NULL;
    mdb_txn_abort(t);
    STORE_UNGUARD();
    if (rc != 0 && rc != MDB_NOTFOUND)
        return mdb_fail(s, why, rc, "listing snapshots");
    return 0;
}

/* One value of dbi (the log's or the snapshots') copied out whole, under
 * the SIGBUS guard (good_seq: the last record known good, for the
 * corruption report). what names the value in messages ("record",
 * "snapshot"), doing says what failed ("reading the log"); a value over max
 * bytes is TT_ERR_TOO_BIG. *data is the caller's to free. */
static int get_copy(tt_store_t *s, MDB_dbi dbi, uint64_t seq, uint64_t good_seq, size_t max,
                    const char *what, const char *doing, uint8_t **data, size_t *len, char *why)
{
    MDB_txn *volatile txn = NULL;
    MDB_cursor *volatile no_cursor = NULL;
    STORE_GUARD(s, txn, no_cursor, good_seq, why);
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
    if (rc != 0) {
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, doing);
    }
    txn = t;
    uint8_t key[8];
    seq_key(seq, key);
    MDB_val k = {sizeof key, key}, v;
    rc = mdb_get(t, dbi, &k, &v);
    uint8_t *copy = NULL;
    int too_big = rc == 0 && v.mv_size > max;
    if (rc == 0 && !too_big) {
        touch_value(&v);
        copy = malloc(v.mv_size ? v.mv_size : 1);
        if (copy)
            memcpy(copy, v.mv_data, v.mv_size);
    }
    txn = NULL;
    mdb_txn_abort(t);
    STORE_UNGUARD();
    if (rc == MDB_NOTFOUND)
        return tt_fail(why, TT_ERR_NOTFOUND, "no %s %llu in %s", what, (unsigned long long)seq,
                       s->dir);
    if (rc != 0)
        return mdb_fail(s, why, rc, doing);
    if (too_big)
        return tt_fail(why, TT_ERR_TOO_BIG, "%s %llu is %zu bytes (at most %zu)", what,
                       (unsigned long long)seq, v.mv_size, max);
    if (!copy)
        return tt_fail(why, TT_ERR_NOMEM, "copying %s %llu", what, (unsigned long long)seq);
    *data = copy;
    *len = v.mv_size;
    return 0;
}

int tt_store_snapshot_get(tt_store_t *s, uint64_t seq, uint8_t **data, size_t *len, char *why)
{
    if (!s->has_snap)
        return tt_fail(why, TT_ERR_NOTFOUND, "no snapshot %llu in %s", (unsigned long long)seq,
                       s->dir);
    return get_copy(s, s->snap, seq, 0, TT_STORE_SNAPSHOT_MAX_BYTES, "snapshot",
                    "reading a snapshot", data, len, why);
}

int tt_store_snapshot_replace(tt_store_t *s, uint64_t seq, const uint8_t *data, size_t len,
                              char *why)
{
    if (s->readonly || !s->has_snap)
        return read_only(s, why);
    MDB_txn *volatile txn = NULL;
    MDB_cursor *volatile no_cursor = NULL;
    STORE_GUARD(s, txn, no_cursor, 0, why);
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc != 0) {
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "replacing a snapshot");
    }
    txn = t;
    uint8_t key[8];
    seq_key(seq, key);
    MDB_val k = {sizeof key, key}, v = {len, (void *)data};
    MDB_val old;
    rc = mdb_get(t, s->snap, &k, &old);
    if (rc == 0)
        rc = mdb_put(t, s->snap, &k, &v, 0);
    txn = NULL;
    if (rc != 0)
        mdb_txn_abort(t);
    else
        rc = mdb_txn_commit(t);
    STORE_UNGUARD();
    if (rc == MDB_NOTFOUND)
        return tt_fail(why, TT_ERR_NOTFOUND, "no snapshot %llu in %s", (unsigned long long)seq,
                       s->dir);
    return rc ? mdb_fail(s, why, rc, "replacing a snapshot") : 0;
}

int tt_store_get(tt_store_t *s, uint64_t seq, uint8_t **data, size_t *len, char *why)
{
    return get_copy(s, s->log, seq, seq - 1, SIZE_MAX, "record", "reading the log", data, len, why);
}

int tt_store_scan(tt_store_t *s, uint64_t from_seq, size_t max_count, size_t max_bytes,
                  tt_store_visit_fn fn, void *arg, char *why)
{
    MDB_txn *volatile txn = NULL;
    MDB_cursor *volatile cur = NULL;
    volatile uint64_t good = from_seq ? from_seq - 1 : 0; /* last record handed out */
    STORE_GUARD(s, txn, cur, good, why);
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
    if (rc != 0) {
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "reading the log");
    }
    txn = t;
    MDB_cursor *c;
    rc = mdb_cursor_open(t, s->log, &c);
    if (rc != 0) {
        txn = NULL;
        mdb_txn_abort(t);
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "reading the log");
    }
    cur = c;
    uint8_t key[8];
    seq_key(from_seq, key);
    MDB_val k = {sizeof key, key}, v;
    size_t count = 0, bytes = 0;
    int result = 0;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && count < max_count) {
        if (count > 0 && bytes + v.mv_size > max_bytes)
            break;
        touch_value(&v);
        uint64_t seq = seq_from_key(&k);
        STORE_UNGUARD(); /* the visitor runs unguarded: its pages are known good */
        result = fn(arg, seq, v.mv_data, v.mv_size);
        STORE_REGUARD();
        if (result != 0)
            break;
        good = seq;
        count++;
        bytes += v.mv_size;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    cur = NULL;
    mdb_cursor_close(c);
    txn = NULL;
    mdb_txn_abort(t);
    STORE_UNGUARD();
    if (result == 0 && (rc == MDB_PAGE_NOTFOUND || rc == MDB_CORRUPTED))
        return structure_corrupt(s->dir, good, why);
    if (result == 0 && rc != 0 && rc != MDB_NOTFOUND)
        return mdb_fail(s, why, rc, "reading the log");
    return result;
}

int tt_store_meta_get(tt_store_t *s, const char *key, void *out, size_t *len, char *why)
{
    if (!s->has_meta)
        return tt_fail(why, TT_ERR_NOTFOUND, "no meta database in %s", s->dir);
    MDB_txn *volatile txn = NULL;
    MDB_cursor *volatile no_cursor = NULL;
    STORE_GUARD(s, txn, no_cursor, 0, why);
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
    if (rc != 0) {
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "reading metadata");
    }
    txn = t;
    MDB_val k = {strlen(key), (void *)key}, v;
    rc = mdb_get(t, s->meta, &k, &v);
    size_t size = rc == 0 ? v.mv_size : 0;
    if (rc == 0 && size <= *len) {
        touch_value(&v);
        memcpy(out, v.mv_data, size);
        *len = size;
    }
    txn = NULL;
    mdb_txn_abort(t);
    STORE_UNGUARD();
    if (rc == 0 && size > *len)
        return tt_fail(why, TT_ERR_TOO_BIG, "metadata %s is %zu bytes", key, size);
    if (rc == MDB_NOTFOUND)
        return tt_fail(why, TT_ERR_NOTFOUND, "no metadata %s", key);
    return rc ? mdb_fail(s, why, rc, "reading metadata") : 0;
}

int tt_store_meta_put(tt_store_t *s, const char *key, const void *data, size_t len, char *why)
{
    if (s->readonly || !s->has_meta)
        return read_only(s, why);
    if (len > 4096)
        return tt_fail(why, TT_ERR_TOO_BIG, "metadata %s of %zu bytes", key, len);
    MDB_txn *volatile txn = NULL;
    MDB_cursor *volatile no_cursor = NULL;
    STORE_GUARD(s, txn, no_cursor, 0, why);
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc != 0) {
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "writing metadata");
    }
    txn = t;
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)data};
    rc = mdb_put(t, s->meta, &k, &v, 0);
    txn = NULL;
    if (rc != 0)
        mdb_txn_abort(t);
    else
        rc = mdb_txn_commit(t);
    STORE_UNGUARD();
    return rc ? mdb_fail(s, why, rc, "writing metadata") : 0;
}

int tt_store_truncate_after(tt_store_t *s, uint64_t keep_seq, char *why)
{
    MDB_txn *volatile txn = NULL;
    MDB_cursor *volatile cur = NULL;
    STORE_GUARD(s, txn, cur, keep_seq, why);
    MDB_txn *t;
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc != 0) {
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "truncating the log");
    }
    txn = t;
    MDB_cursor *c;
    rc = mdb_cursor_open(t, s->log, &c);
    if (rc == 0) {
        cur = c;
        MDB_val k, v;
        while ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST)) == 0 && seq_from_key(&k) > keep_seq)
            if ((rc = mdb_cursor_del(c, 0)) != 0)
                break;
        cur = NULL;
        mdb_cursor_close(c);
    }
    /* A snapshot of a removed record would describe a log that is gone. */
    if ((rc == 0 || rc == MDB_NOTFOUND) && s->has_snap &&
        (rc = mdb_cursor_open(t, s->snap, &c)) == 0) {
        cur = c;
        MDB_val k, v;
        while ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST)) == 0 && seq_from_key(&k) > keep_seq)
            if ((rc = mdb_cursor_del(c, 0)) != 0)
                break;
        cur = NULL;
        mdb_cursor_close(c);
    }
    txn = NULL;
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(t);
        STORE_UNGUARD();
        return mdb_fail(s, why, rc, "truncating the log");
    }
    rc = mdb_txn_commit(t);
    STORE_UNGUARD();
    return rc ? mdb_fail(s, why, rc, "truncating the log") : 0;
}
