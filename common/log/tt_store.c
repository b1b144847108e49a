/* tt_store: LMDB behind the log. See tt_store.h. */
#include "tt_store.h"
#include "tt_error.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct tt_store {
    MDB_env *env;
    MDB_dbi log;
    MDB_dbi meta;
    int has_meta;
    int readonly;
    char dir[1024];
    size_t map_mb;
};

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

static int mdb_fail(tt_store_t *s, char *why, int rc, const char *doing)
{
    if (rc == MDB_MAP_FULL)
        return tt_fail(why, TT_ERR_STORE,
                       "%s in %s: MDB_MAP_FULL (map %zu MiB): raise --map-size-mb", doing, s->dir,
                       s->map_mb);
    return tt_fail(why, TT_ERR_STORE, "%s in %s: %s", doing, s->dir, mdb_strerror(rc));
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
    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, readonly ? MDB_RDONLY : 0, &txn);
    if (rc != 0) {
        mdb_fail(s, why, rc, "opening store");
        tt_store_destroy(&s);
        return NULL;
    }
    unsigned flags = readonly ? 0 : MDB_CREATE;
    rc = mdb_dbi_open(txn, "log", flags, &s->log);
    if (rc != 0) {
        mdb_txn_abort(txn);
        if (rc == MDB_NOTFOUND)
            tt_fail(why, TT_ERR_NOTFOUND, "store %s has no 'log' database", dir);
        else
            mdb_fail(s, why, rc, "opening the log database");
        tt_store_destroy(&s);
        return NULL;
    }
    rc = mdb_dbi_open(txn, "meta", flags, &s->meta);
    s->has_meta = (rc == 0);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        mdb_fail(s, why, rc, "opening the meta database");
        tt_store_destroy(&s);
        return NULL;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        mdb_fail(s, why, rc, "opening store");
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
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = last_seq_in(txn, s->log, last_seq);
        mdb_txn_abort(txn);
    }
    return rc ? mdb_fail(s, why, rc, "reading the log head") : 0;
}

int tt_store_append(tt_store_t *s, uint64_t first_seq, const tt_bytes_t *records, size_t n,
                    char *why)
{
    if (s->readonly)
        return tt_fail(why, TT_ERR_STORE, "store %s is open read-only", s->dir);
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return mdb_fail(s, why, rc, "starting a write");
    uint64_t last = 0;
    rc = last_seq_in(txn, s->log, &last);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return mdb_fail(s, why, rc, "reading the log head");
    }
    if (first_seq != last + 1) {
        mdb_txn_abort(txn);
        return tt_fail(why, TT_ERR_INVALID, "appending seq %llu to a log ending at %llu",
                       (unsigned long long)first_seq, (unsigned long long)last);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t key[8];
        seq_key(first_seq + i, key);
        MDB_val k = {sizeof key, key};
        MDB_val v = {records[i].len, (void *)records[i].data};
        rc = mdb_put(txn, s->log, &k, &v, MDB_NOOVERWRITE | MDB_APPEND);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return mdb_fail(s, why, rc, "appending to the log");
        }
    }
    rc = mdb_txn_commit(txn); /* durable: LMDB fsyncs before returning */
    return rc ? mdb_fail(s, why, rc, "committing to the log") : 0;
}

int tt_store_get(tt_store_t *s, uint64_t seq, uint8_t **data, size_t *len, char *why)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return mdb_fail(s, why, rc, "reading the log");
    uint8_t key[8];
    seq_key(seq, key);
    MDB_val k = {sizeof key, key}, v;
    rc = mdb_get(txn, s->log, &k, &v);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return tt_fail(why, TT_ERR_NOTFOUND, "no record %llu in %s", (unsigned long long)seq,
                       s->dir);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return mdb_fail(s, why, rc, "reading the log");
    }
    *data = malloc(v.mv_size ? v.mv_size : 1);
    if (!*data) {
        mdb_txn_abort(txn);
        return tt_fail(why, TT_ERR_NOMEM, "copying record %llu", (unsigned long long)seq);
    }
    memcpy(*data, v.mv_data, v.mv_size);
    *len = v.mv_size;
    mdb_txn_abort(txn);
    return 0;
}

int tt_store_scan(tt_store_t *s, uint64_t from_seq, size_t max_count, size_t max_bytes,
                  tt_store_visit_fn fn, void *arg, char *why)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return mdb_fail(s, why, rc, "reading the log");
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, s->log, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return mdb_fail(s, why, rc, "reading the log");
    }
    uint8_t key[8];
    seq_key(from_seq, key);
    MDB_val k = {sizeof key, key}, v;
    size_t count = 0, bytes = 0;
    int result = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && count < max_count) {
        if (count > 0 && bytes + v.mv_size > max_bytes)
            break;
        result = fn(arg, seq_from_key(&k), v.mv_data, v.mv_size);
        if (result != 0)
            break;
        count++;
        bytes += v.mv_size;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (result == 0 && rc != 0 && rc != MDB_NOTFOUND)
        return mdb_fail(s, why, rc, "reading the log");
    return result;
}

int tt_store_meta_get(tt_store_t *s, const char *key, void *out, size_t *len, char *why)
{
    if (!s->has_meta)
        return tt_fail(why, TT_ERR_NOTFOUND, "no meta database in %s", s->dir);
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return mdb_fail(s, why, rc, "reading metadata");
    MDB_val k = {strlen(key), (void *)key}, v;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0) {
        if (v.mv_size > *len) {
            mdb_txn_abort(txn);
            return tt_fail(why, TT_ERR_TOO_BIG, "metadata %s is %zu bytes", key, v.mv_size);
        }
        memcpy(out, v.mv_data, v.mv_size);
        *len = v.mv_size;
    }
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND)
        return tt_fail(why, TT_ERR_NOTFOUND, "no metadata %s", key);
    return rc ? mdb_fail(s, why, rc, "reading metadata") : 0;
}

int tt_store_meta_put(tt_store_t *s, const char *key, const void *data, size_t len, char *why)
{
    if (s->readonly || !s->has_meta)
        return tt_fail(why, TT_ERR_STORE, "store %s is open read-only", s->dir);
    if (len > 4096)
        return tt_fail(why, TT_ERR_TOO_BIG, "metadata %s of %zu bytes", key, len);
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return mdb_fail(s, why, rc, "writing metadata");
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)data};
    rc = mdb_put(txn, s->meta, &k, &v, 0);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return mdb_fail(s, why, rc, "writing metadata");
    }
    rc = mdb_txn_commit(txn);
    return rc ? mdb_fail(s, why, rc, "writing metadata") : 0;
}

int tt_store_truncate_after(tt_store_t *s, uint64_t keep_seq, char *why)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return mdb_fail(s, why, rc, "truncating the log");
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, s->log, &cur);
    if (rc == 0) {
        MDB_val k, v;
        while ((rc = mdb_cursor_get(cur, &k, &v, MDB_LAST)) == 0 && seq_from_key(&k) > keep_seq)
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
        mdb_cursor_close(cur);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return mdb_fail(s, why, rc, "truncating the log");
    }
    rc = mdb_txn_commit(txn);
    return rc ? mdb_fail(s, why, rc, "truncating the log") : 0;
}
