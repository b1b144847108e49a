/* test_chain: sealing and checking the signed, hash-chained log. A chain
 * sealed with a tt_signer checks record by record and as a whole store;
 * every single-bit flip and every byte flip of a stored record is caught
 * at that record; missing, reordered, re-signed and foreign records, a
 * pinned key that does not match, and a chain that does not start with a
 * genesis record are all refused at the right sequence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tt_chain.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_store.h"

#define MAP_MB 16
#define N 8      /* records in the test chain */
#define MIDDLE 4 /* the record that gets damaged */

typedef struct {
    uint8_t *data;
    size_t len;
    uint8_t hash[TT_HASH_LEN];
} sealed_t;

typedef struct {
    char dir[64];
    int stores; /* store directories made so far */
    tt_signer_t *signer;
    tt_signer_t *other;  /* a second, unrelated signing key */
    sealed_t rec[N + 1]; /* 1..N */
} fixture_t;

/* ---- helpers ---- */

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            remove_tree(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void genesis_record(Tutti__Record *rec, Tutti__Genesis *g, const uint8_t *pk, size_t pk_len)
{
    tutti__record__init(rec);
    tutti__genesis__init(g);
    g->signing_public_key.data = (uint8_t *)pk;
    g->signing_public_key.len = pk_len;
    g->session_name = "rehearsal";
    rec->at_unix_ns = 1700000000000000000;
    rec->actor = "coordinator";
    rec->actor_role = "coordinator";
    rec->body_case = TUTTI__RECORD__BODY_GENESIS;
    rec->genesis = g;
}

static void note_record(Tutti__Record *rec, Tutti__Note *n, const char *text)
{
    tutti__record__init(rec);
    tutti__note__init(n);
    n->text = (char *)text;
    rec->at_unix_ns = 1700000000000000000;
    rec->actor = "conductor";
    rec->actor_role = "operator";
    rec->body_case = TUTTI__RECORD__BODY_NOTE;
    rec->note = n;
}

static void seal(const tt_signer_t *signer, Tutti__Record *rec, uint64_t seq, const uint8_t *prev,
                 sealed_t *out)
{
    char why[TT_WHY_LEN] = "";
    static const uint8_t zero[TT_HASH_LEN];
    int rc =
        tt_chain_seal(signer, rec, seq, prev ? prev : zero, &out->data, &out->len, out->hash, why);
    if (rc != 0)
        fail_msg("seal %llu: %s", (unsigned long long)seq, why);
}

/* Packs rec exactly as given (no seq or prev_hash fix-ups) and signs it. */
static void seal_raw(const tt_signer_t *signer, const Tutti__Record *rec, sealed_t *out)
{
    size_t rec_len = tutti__record__get_packed_size(rec);
    uint8_t *rec_buf = malloc(rec_len + 1);
    assert_non_null(rec_buf);
    tutti__record__pack(rec, rec_buf);
    uint8_t sig[TT_SIGN_SIG_LEN];
    tt_signer_sign(signer, rec_buf, rec_len, sig);
    Tutti__SignedRecord sr = TUTTI__SIGNED_RECORD__INIT;
    sr.record.data = rec_buf;
    sr.record.len = rec_len;
    sr.signature.data = sig;
    sr.signature.len = sizeof sig;
    out->len = tutti__signed_record__get_packed_size(&sr);
    out->data = malloc(out->len);
    assert_non_null(out->data);
    tutti__signed_record__pack(&sr, out->data);
    tt_chain_hash(out->data, out->len, out->hash);
    free(rec_buf);
}

/* A fresh store directory under the fixture's temp dir. */
static tt_store_t *new_store(fixture_t *f, char *path_out, size_t cap)
{
    char path[128], why[TT_WHY_LEN] = "";
    snprintf(path, sizeof path, "%s/store%d", f->dir, f->stores++);
    if (path_out)
        snprintf(path_out, cap, "%s", path);
    tt_store_t *s = tt_store_open(path, 0, MAP_MB, why);
    if (!s)
        fail_msg("%s", why);
    return s;
}

/* Appends the given byte strings as records 1..n. */
static void store_records(tt_store_t *s, const sealed_t *const *recs, size_t n)
{
    tt_bytes_t b[N + 2];
    assert_true(n <= N + 2);
    for (size_t i = 0; i < n; i++) {
        b[i].data = recs[i]->data;
        b[i].len = recs[i]->len;
    }
    char why[TT_WHY_LEN] = "";
    if (tt_store_append(s, 1, b, n, why) != 0)
        fail_msg("%s", why);
}

static void store_chain(fixture_t *f, tt_store_t *s)
{
    const sealed_t *recs[N];
    for (int i = 0; i < N; i++)
        recs[i] = &f->rec[i + 1];
    store_records(s, recs, N);
}

/* Runs verify_store and expects failure at bad_seq (0: expects success). */
static void expect_verify(tt_store_t *s, const uint8_t *pinned, uint64_t bad_seq)
{
    tt_chain_report_t rep;
    char why[TT_WHY_LEN] = "";
    int rc = tt_chain_verify_store(s, pinned, &rep, why);
    if (bad_seq == 0) {
        if (rc != 0)
            fail_msg("verify failed: %s", why);
        assert_int_equal(rep.bad_seq, 0);
        return;
    }
    if (rc == 0)
        fail_msg("verify passed, expected failure at %llu", (unsigned long long)bad_seq);
    assert_int_equal(rc, TT_ERR_CORRUPT);
    assert_int_equal(rep.bad_seq, bad_seq);
    assert_int_equal(rep.last_seq, bad_seq - 1);
    assert_int_equal(rep.records, bad_seq - 1);
    char want[32];
    snprintf(want, sizeof want, "record %llu", (unsigned long long)bad_seq);
    if (!strstr(why, want))
        fail_msg("reason '%s' does not name %s", why, want);
}

/* Checks one record where the chain stands after record seq - 1 of f's chain. */
static int check_at(fixture_t *f, const uint8_t *data, size_t len, uint64_t seq, const uint8_t *pk)
{
    static const uint8_t zero[TT_HASH_LEN];
    uint8_t key[TT_SIGN_PK_LEN], hash[TT_HASH_LEN];
    memcpy(key, pk ? pk : zero, TT_SIGN_PK_LEN);
    char why[TT_WHY_LEN] = "";
    static Tutti__Record sentinel;
    Tutti__Record *const poison = &sentinel; /* must stay untouched on failure */
    Tutti__Record *rec = poison;
    const uint8_t *prev = seq > 1 && seq - 1 <= N ? f->rec[seq - 1].hash : zero;
    int rc = tt_chain_check(data, len, seq, prev, key, hash, &rec, why);
    if (rc == 0) {
        assert_ptr_not_equal(rec, poison);
        assert_non_null(rec);
        assert_int_equal(rec->seq, seq);
        tutti__record__free_unpacked(rec, NULL);
    } else {
        assert_int_equal(rc, TT_ERR_CORRUPT);
        assert_ptr_equal(rec, poison);
        assert_true(strlen(why) > 0);
    }
    return rc;
}

/* ---- fixture: one signer, a chain of N records ---- */

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/tt-chain-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    char why[TT_WHY_LEN], sub[128];
    f->signer = tt_signer_load_or_create(f->dir, why);
    snprintf(sub, sizeof sub, "%s/other", f->dir);
    if (mkdir(sub, 0700) != 0)
        return -1;
    f->other = tt_signer_load_or_create(sub, why);
    if (!f->signer || !f->other)
        return -1;

    Tutti__Record rec;
    Tutti__Genesis g;
    genesis_record(&rec, &g, f->signer->public_key, TT_SIGN_PK_LEN);
    seal(f->signer, &rec, 1, NULL, &f->rec[1]);
    for (uint64_t i = 2; i <= N; i++) {
        Tutti__Note n;
        char text[64];
        snprintf(text, sizeof text, "note %llu: Takt %llu, Hörner tacet", (unsigned long long)i,
                 (unsigned long long)(i * 4));
        note_record(&rec, &n, text);
        seal(f->signer, &rec, i, f->rec[i - 1].hash, &f->rec[i]);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    for (int i = 1; i <= N; i++)
        free(f->rec[i].data);
    tt_signer_destroy(&f->signer);
    tt_signer_destroy(&f->other);
    remove_tree(f->dir);
    int gone = access(f->dir, F_OK) != 0;
    free(f);
    return gone ? 0 : -1;
}

/* ---- tests ---- */

static void test_hash(void **state)
{
    (void)state;
    /* BLAKE2b-256 of the empty string and of "abc". */
    static const uint8_t empty[TT_HASH_LEN] = {0x0e, 0x57, 0x51, 0xc0, 0x26, 0xe5, 0x43, 0xb2,
                                               0xe8, 0xab, 0x2e, 0xb0, 0x60, 0x99, 0xda, 0xa1,
                                               0xd1, 0xe5, 0xdf, 0x47, 0x77, 0x8f, 0x77, 0x87,
                                               0xfa, 0xab, 0x45, 0xcd, 0xf1, 0x2f, 0xe3, 0xa8};
    static const uint8_t abc[TT_HASH_LEN] = {0xbd, 0xdd, 0x81, 0x3c, 0x63, 0x42, 0x39, 0x72,
                                             0x31, 0x71, 0xef, 0x3f, 0xee, 0x98, 0x57, 0x9b,
                                             0x94, 0x96, 0x4e, 0x3b, 0xb1, 0xcb, 0x3e, 0x42,
                                             0x72, 0x62, 0xc8, 0xc0, 0x68, 0xd5, 0x23, 0x19};
    uint8_t out[TT_HASH_LEN];
    tt_chain_hash((const uint8_t *)"", 0, out);
    assert_memory_equal(out, empty, TT_HASH_LEN);
    tt_chain_hash((const uint8_t *)"abc", 3, out);
    assert_memory_equal(out, abc, TT_HASH_LEN);
}

static void test_seal_and_check(void **state)
{
    fixture_t *f = *state;
    uint8_t key[TT_SIGN_PK_LEN] = {0}, prev[TT_HASH_LEN] = {0}, hash[TT_HASH_LEN];
    char why[TT_WHY_LEN] = "";
    for (uint64_t i = 1; i <= N; i++) {
        uint8_t h[TT_HASH_LEN];
        tt_chain_hash(f->rec[i].data, f->rec[i].len, h);
        assert_memory_equal(h, f->rec[i].hash, TT_HASH_LEN);

        Tutti__Record *rec = NULL;
        int rc = tt_chain_check(f->rec[i].data, f->rec[i].len, i, prev, key, hash, &rec, why);
        if (rc != 0)
            fail_msg("record %llu: %s", (unsigned long long)i, why);
        /* The genesis record taught us the key. */
        assert_memory_equal(key, f->signer->public_key, TT_SIGN_PK_LEN);
        assert_memory_equal(hash, f->rec[i].hash, TT_HASH_LEN);
        assert_non_null(rec);
        assert_int_equal(rec->seq, i);
        if (i == 1) {
            assert_int_equal(rec->prev_hash.len, 0);
            assert_string_equal(tt_chain_kind(rec), "genesis");
            assert_string_equal(rec->genesis->session_name, "rehearsal");
        } else {
            assert_int_equal(rec->prev_hash.len, TT_HASH_LEN);
            assert_memory_equal(rec->prev_hash.data, f->rec[i - 1].hash, TT_HASH_LEN);
            assert_string_equal(tt_chain_kind(rec), "note");
            assert_non_null(strstr(rec->note->text, "Hörner"));
            assert_string_equal(rec->actor, "conductor");
        }
        tutti__record__free_unpacked(rec, NULL);
        memcpy(prev, hash, TT_HASH_LEN);
    }
    /* prev_hash is ignored at seq 1, so it may be NULL there. */
    memset(key, 0, sizeof key);
    assert_int_equal(tt_chain_check(f->rec[1].data, f->rec[1].len, 1, NULL, key, hash, NULL, why),
                     0);
    /* The out_rec argument is optional. */
    assert_int_equal(
        tt_chain_check(f->rec[2].data, f->rec[2].len, 2, f->rec[1].hash, key, hash, NULL, why), 0);
}

static void test_seal_leaves_record_clean(void **state)
{
    fixture_t *f = *state;
    Tutti__Record rec;
    Tutti__Note n;
    note_record(&rec, &n, "x");
    sealed_t a, b;
    seal(f->signer, &rec, 5, f->rec[4].hash, &a);
    assert_int_equal(rec.seq, 5);
    assert_null(rec.prev_hash.data); /* the borrowed hash is not left behind */
    assert_int_equal(rec.prev_hash.len, 0);
    /* Sealing is deterministic: same record, same bytes. */
    seal(f->signer, &rec, 5, f->rec[4].hash, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_memory_equal(a.hash, b.hash, TT_HASH_LEN);
    free(a.data);
    free(b.data);
}

static void test_seal_too_big(void **state)
{
    fixture_t *f = *state;
    size_t n = TT_CHAIN_MAX_RECORD + 1;
    char *text = malloc(n + 1);
    assert_non_null(text);
    memset(text, 'a', n);
    text[n] = '\0';
    Tutti__Record rec;
    Tutti__Note note;
    note_record(&rec, &note, text);
    uint8_t *out = NULL, hash[TT_HASH_LEN];
    size_t len = 0;
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_chain_seal(f->signer, &rec, 2, f->rec[1].hash, &out, &len, hash, why),
                     TT_ERR_TOO_BIG);
    assert_null(out);
    free(text);
}

static void test_verify_store_ok(void **state)
{
    fixture_t *f = *state;
    tt_store_t *s = new_store(f, NULL, 0);
    tt_chain_report_t rep;
    char why[TT_WHY_LEN] = "";

    /* An empty store verifies, with nothing in it. */
    memset(&rep, 0xaa, sizeof rep);
    assert_int_equal(tt_chain_verify_store(s, NULL, &rep, why), 0);
    assert_int_equal(rep.records, 0);
    assert_int_equal(rep.last_seq, 0);
    assert_int_equal(rep.bad_seq, 0);

    store_chain(f, s);
    memset(&rep, 0xaa, sizeof rep);
    int rc = tt_chain_verify_store(s, NULL, &rep, why);
    if (rc != 0)
        fail_msg("%s", why);
    assert_int_equal(rep.records, N);
    assert_int_equal(rep.last_seq, N);
    assert_int_equal(rep.bad_seq, 0);
    assert_memory_equal(rep.head_hash, f->rec[N].hash, TT_HASH_LEN);
    assert_memory_equal(rep.signing_pk, f->signer->public_key, TT_SIGN_PK_LEN);

    /* Pinned to the right key: the same. */
    memset(&rep, 0, sizeof rep);
    assert_int_equal(tt_chain_verify_store(s, f->signer->public_key, &rep, why), 0);
    assert_int_equal(rep.records, N);
    assert_memory_equal(rep.head_hash, f->rec[N].hash, TT_HASH_LEN);
    tt_store_destroy(&s);
}

static void test_every_flip_caught(void **state)
{
    fixture_t *f = *state;
    const sealed_t *m = &f->rec[MIDDLE];
    uint8_t *copy = malloc(m->len);
    assert_non_null(copy);
    /* The unchanged record passes where the chain stands, with or without a key to start. */
    assert_int_equal(check_at(f, m->data, m->len, MIDDLE, f->signer->public_key), 0);

    /* Every single-bit flip and every whole-byte inversion is refused at that record. */
    size_t caught = 0;
    for (size_t pos = 0; pos < m->len; pos++) {
        for (int k = 0; k < 9; k++) {
            memcpy(copy, m->data, m->len);
            copy[pos] ^= k < 8 ? (uint8_t)(1u << k) : 0xff;
            if (check_at(f, copy, m->len, MIDDLE, f->signer->public_key) == 0)
                fail_msg("flip 0x%02x at byte %zu of record %d went unnoticed",
                         k < 8 ? 1u << k : 0xffu, pos, MIDDLE);
            caught++;
        }
    }
    assert_int_equal(caught, 9 * m->len);

    /* Truncated at every length, and with a byte appended. */
    for (size_t len = 0; len < m->len; len++)
        assert_int_equal(check_at(f, m->data, len, MIDDLE, f->signer->public_key), TT_ERR_CORRUPT);
    uint8_t *longer = malloc(m->len + 1);
    assert_non_null(longer);
    memcpy(longer, m->data, m->len);
    longer[m->len] = 0;
    assert_int_equal(check_at(f, longer, m->len + 1, MIDDLE, f->signer->public_key),
                     TT_ERR_CORRUPT);
    free(longer);
    free(copy);
}

static void test_every_byte_in_store(void **state)
{
    fixture_t *f = *state;
    /* The same through whole stores: one store, rewritten from MIDDLE on. Every commit is
     * an fsync, so every 5th byte and the last one here; tt_chain_check saw them all. */
    tt_store_t *s = new_store(f, NULL, 0);
    store_chain(f, s);
    expect_verify(s, NULL, 0);
    const sealed_t *m = &f->rec[MIDDLE];
    uint8_t *copy = malloc(m->len);
    assert_non_null(copy);
    char why[TT_WHY_LEN] = "";
    for (size_t step = 0; step * 5 < m->len + 4; step++) {
        size_t pos = step * 5 < m->len ? step * 5 : m->len - 1; /* ends on the last byte */
        memcpy(copy, m->data, m->len);
        copy[pos] ^= 0xff;
        assert_int_equal(tt_store_truncate_after(s, MIDDLE - 1, why), 0);
        tt_bytes_t tail[N - MIDDLE + 1];
        tail[0] = (tt_bytes_t){copy, m->len};
        for (int i = MIDDLE + 1; i <= N; i++)
            tail[i - MIDDLE] = (tt_bytes_t){f->rec[i].data, f->rec[i].len};
        assert_int_equal(tt_store_append(s, MIDDLE, tail, N - MIDDLE + 1, why), 0);
        expect_verify(s, NULL, MIDDLE);
        expect_verify(s, f->signer->public_key, MIDDLE);
    }
    free(copy);
    tt_store_destroy(&s);

    /* And once in a fresh store, as `tutti verify` would meet it. */
    s = new_store(f, NULL, 0);
    sealed_t bad = {malloc(m->len), m->len, {0}};
    assert_non_null(bad.data);
    memcpy(bad.data, m->data, m->len);
    bad.data[m->len / 2] ^= 0x01;
    const sealed_t *recs[N];
    for (int i = 0; i < N; i++)
        recs[i] = i + 1 == MIDDLE ? &bad : &f->rec[i + 1];
    store_records(s, recs, N);
    expect_verify(s, NULL, MIDDLE);
    free(bad.data);
    tt_store_destroy(&s);
}

static void test_missing_record(void **state)
{
    fixture_t *f = *state;
    /* Where the chain stands after 2, record 4 is not the next record ... */
    assert_int_equal(check_at(f, f->rec[4].data, f->rec[4].len, 3, NULL), TT_ERR_CORRUPT);
    /* ... and as record 4 its previous hash is not record 2's. */
    uint8_t key[TT_SIGN_PK_LEN], hash[TT_HASH_LEN];
    memcpy(key, f->signer->public_key, TT_SIGN_PK_LEN);
    char why[TT_WHY_LEN] = "";
    assert_int_equal(
        tt_chain_check(f->rec[4].data, f->rec[4].len, 4, f->rec[2].hash, key, hash, NULL, why),
        TT_ERR_CORRUPT);
    assert_non_null(strstr(why, "previous"));
    /* Any record checked at the wrong place is refused. */
    for (uint64_t i = 1; i <= N; i++)
        for (uint64_t at = 1; at <= N; at++)
            if (at != i)
                assert_int_equal(
                    check_at(f, f->rec[i].data, f->rec[i].len, at, f->signer->public_key),
                    TT_ERR_CORRUPT);

    /* A store whose record 3 holds record 4's bytes (3 was dropped). */
    tt_store_t *s = new_store(f, NULL, 0);
    const sealed_t *skip[N - 1];
    for (int i = 0, j = 1; j <= N; j++)
        if (j != 3)
            skip[i++] = &f->rec[j];
    store_records(s, skip, N - 1);
    expect_verify(s, NULL, 3);
    tt_store_destroy(&s);

    /* A store with record 3 swapped with 5. */
    s = new_store(f, NULL, 0);
    const sealed_t *swapped[N];
    for (int i = 0; i < N; i++)
        swapped[i] = &f->rec[i + 1];
    swapped[2] = &f->rec[5];
    swapped[4] = &f->rec[3];
    store_records(s, swapped, N);
    expect_verify(s, NULL, 3);
    tt_store_destroy(&s);

    /* A real gap: record 3 deleted from the LMDB file behind the store's back. */
    char path[128];
    s = new_store(f, path, sizeof path);
    store_chain(f, s);
    tt_store_destroy(&s);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_set_mapsize(env, (size_t)MAP_MB << 20), 0);
    assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "log", 0, &dbi), 0);
    uint8_t k3[8] = {0, 0, 0, 0, 0, 0, 0, 3};
    MDB_val key3 = {sizeof k3, k3};
    assert_int_equal(mdb_del(txn, dbi, &key3, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    s = tt_store_open(path, 1, MAP_MB, why);
    assert_non_null(s);
    tt_chain_report_t rep;
    assert_int_equal(tt_chain_verify_store(s, NULL, &rep, why), TT_ERR_CORRUPT);
    assert_int_equal(rep.bad_seq, 3);
    assert_int_equal(rep.last_seq, 2);
    assert_non_null(strstr(why, "missing"));
    tt_store_destroy(&s);

    /* A store cut short is a shorter good chain, with the head where it ends. */
    s = new_store(f, NULL, 0);
    store_records(s, (const sealed_t *[]){&f->rec[1], &f->rec[2]}, 2);
    assert_int_equal(tt_chain_verify_store(s, NULL, &rep, why), 0);
    assert_int_equal(rep.last_seq, 2);
    assert_memory_equal(rep.head_hash, f->rec[2].hash, TT_HASH_LEN);
    tt_store_destroy(&s);
}

static void test_pinned_key_mismatch(void **state)
{
    fixture_t *f = *state;
    tt_store_t *s = new_store(f, NULL, 0);
    store_chain(f, s);
    expect_verify(s, f->other->public_key, 1);
    expect_verify(s, NULL, 0);
    tt_store_destroy(&s);
    assert_int_equal(check_at(f, f->rec[1].data, f->rec[1].len, 1, f->other->public_key),
                     TT_ERR_CORRUPT);
    /* Later records do not verify under the other key either. */
    assert_int_equal(check_at(f, f->rec[2].data, f->rec[2].len, 2, f->other->public_key),
                     TT_ERR_CORRUPT);
}

static void test_foreign_records(void **state)
{
    fixture_t *f = *state;
    Tutti__Record rec;
    Tutti__Note n;
    Tutti__Genesis g;

    /* A record sealed by another key in the right place, with the right previous hash. */
    sealed_t forged;
    note_record(&rec, &n, "forged");
    seal(f->other, &rec, MIDDLE, f->rec[MIDDLE - 1].hash, &forged);
    assert_int_equal(check_at(f, forged.data, forged.len, MIDDLE, f->signer->public_key),
                     TT_ERR_CORRUPT);
    tt_store_t *s = new_store(f, NULL, 0);
    const sealed_t *recs[N];
    for (int i = 0; i < N; i++)
        recs[i] = i + 1 == MIDDLE ? &forged : &f->rec[i + 1];
    store_records(s, recs, N);
    expect_verify(s, NULL, MIDDLE);
    tt_store_destroy(&s);
    free(forged.data);

    /* A genesis naming one key, signed with another. */
    sealed_t g1;
    genesis_record(&rec, &g, f->signer->public_key, TT_SIGN_PK_LEN);
    seal(f->other, &rec, 1, NULL, &g1);
    assert_int_equal(check_at(f, g1.data, g1.len, 1, NULL), TT_ERR_CORRUPT);
    free(g1.data);

    /* A whole chain by the other key is fine unpinned, refused when pinned to ours. */
    genesis_record(&rec, &g, f->other->public_key, TT_SIGN_PK_LEN);
    seal(f->other, &rec, 1, NULL, &g1);
    assert_int_equal(check_at(f, g1.data, g1.len, 1, NULL), 0);
    assert_int_equal(check_at(f, g1.data, g1.len, 1, f->signer->public_key), TT_ERR_CORRUPT);
    free(g1.data);
}

static void test_genesis_rules(void **state)
{
    fixture_t *f = *state;
    Tutti__Record rec;
    Tutti__Note n;
    Tutti__Genesis g;
    sealed_t r;

    /* A note at seq 1: no genesis, no chain. */
    note_record(&rec, &n, "first");
    seal(f->signer, &rec, 1, NULL, &r);
    assert_int_equal(check_at(f, r.data, r.len, 1, NULL), TT_ERR_CORRUPT);
    assert_int_equal(check_at(f, r.data, r.len, 1, f->signer->public_key), TT_ERR_CORRUPT);
    tt_store_t *s = new_store(f, NULL, 0);
    const sealed_t *recs[N];
    for (int i = 0; i < N; i++)
        recs[i] = i == 0 ? &r : &f->rec[i + 1];
    store_records(s, recs, N);
    expect_verify(s, NULL, 1);
    expect_verify(s, f->signer->public_key, 1);
    tt_store_destroy(&s);
    free(r.data);

    /* A store that starts with the genesis record at 2 (record 1 is a note). */
    sealed_t first, second;
    note_record(&rec, &n, "first");
    seal(f->signer, &rec, 1, NULL, &first);
    genesis_record(&rec, &g, f->signer->public_key, TT_SIGN_PK_LEN);
    seal(f->signer, &rec, 2, first.hash, &second);
    s = new_store(f, NULL, 0);
    store_records(s, (const sealed_t *[]){&first, &second}, 2);
    expect_verify(s, NULL, 1);
    tt_store_destroy(&s);
    free(first.data);
    free(second.data);

    /* A genesis record with a key of the wrong length. */
    genesis_record(&rec, &g, f->signer->public_key, TT_SIGN_PK_LEN - 1);
    seal(f->signer, &rec, 1, NULL, &r);
    assert_int_equal(check_at(f, r.data, r.len, 1, NULL), TT_ERR_CORRUPT);
    free(r.data);
    genesis_record(&rec, &g, NULL, 0);
    seal(f->signer, &rec, 1, NULL, &r);
    assert_int_equal(check_at(f, r.data, r.len, 1, NULL), TT_ERR_CORRUPT);
    free(r.data);

    /* A genesis record that carries a previous hash. */
    genesis_record(&rec, &g, f->signer->public_key, TT_SIGN_PK_LEN);
    rec.seq = 1;
    rec.prev_hash.data = f->rec[1].hash;
    rec.prev_hash.len = TT_HASH_LEN;
    seal_raw(f->signer, &rec, &r);
    assert_int_equal(check_at(f, r.data, r.len, 1, NULL), TT_ERR_CORRUPT);
    free(r.data);

    /* A later record with a short previous hash that is a prefix of the right one. */
    note_record(&rec, &n, "short prev");
    rec.seq = 2;
    rec.prev_hash.data = f->rec[1].hash;
    rec.prev_hash.len = TT_HASH_LEN - 1;
    seal_raw(f->signer, &rec, &r);
    assert_int_equal(check_at(f, r.data, r.len, 2, f->signer->public_key), TT_ERR_CORRUPT);
    free(r.data);
    /* The same record with the full hash passes: the helper itself is sound. */
    rec.prev_hash.len = TT_HASH_LEN;
    seal_raw(f->signer, &rec, &r);
    assert_int_equal(check_at(f, r.data, r.len, 2, f->signer->public_key), 0);
    free(r.data);
}

static void test_malformed_bytes(void **state)
{
    fixture_t *f = *state;
    /* Not a SignedRecord at all, or one without a signature or body. */
    assert_int_equal(check_at(f, (const uint8_t *)"", 0, 1, NULL), TT_ERR_CORRUPT);
    assert_int_equal(check_at(f, (const uint8_t *)"\xff\xff\xff", 3, 2, NULL), TT_ERR_CORRUPT);
    Tutti__SignedRecord sr = TUTTI__SIGNED_RECORD__INIT;
    Tutti__SignedRecord *orig = tutti__signed_record__unpack(NULL, f->rec[2].len, f->rec[2].data);
    assert_non_null(orig);
    sr.record = orig->record;
    uint8_t buf[1024];
    size_t len = tutti__signed_record__pack(&sr, buf); /* no signature */
    assert_int_equal(check_at(f, buf, len, 2, f->signer->public_key), TT_ERR_CORRUPT);
    sr.signature.data = orig->signature.data;
    sr.signature.len = TT_SIGN_SIG_LEN - 1;
    len = tutti__signed_record__pack(&sr, buf);
    assert_int_equal(check_at(f, buf, len, 2, f->signer->public_key), TT_ERR_CORRUPT);
    sr.signature.len = TT_SIGN_SIG_LEN;
    len = tutti__signed_record__pack(&sr, buf); /* rebuilt: fine again */
    assert_int_equal(check_at(f, buf, len, 2, f->signer->public_key), 0);
    sr.record.len = 0;
    len = tutti__signed_record__pack(&sr, buf);
    assert_int_equal(check_at(f, buf, len, 2, f->signer->public_key), TT_ERR_CORRUPT);
    tutti__signed_record__free_unpacked(orig, NULL);

    /* Over the size limit without reading it. */
    size_t big = TT_CHAIN_MAX_RECORD + 257;
    uint8_t *huge = calloc(1, big);
    assert_non_null(huge);
    assert_int_equal(check_at(f, huge, big, 2, f->signer->public_key), TT_ERR_CORRUPT);
    free(huge);

    /* Deterministic junk: always refused, never a crash. */
    uint32_t x = 2463534242u;
    uint8_t junk[300];
    for (int iter = 0; iter < 500; iter++) {
        size_t n = (size_t)iter % sizeof junk;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            junk[i] = (uint8_t)x;
        }
        assert_int_equal(check_at(f, junk, n, 1 + (uint64_t)iter % N, NULL), TT_ERR_CORRUPT);
    }
}

static void test_extra_fields_refused(void **state)
{
    fixture_t *f = *state;
    /* The head record with an unknown, empty field 3 appended to its SignedRecord bytes:
     * the signed Record inside is untouched, but the stored bytes (and so the head hash
     * every later record chains to) changed. Nothing after the head would notice, so the
     * record itself must be refused. */
    const sealed_t *head = &f->rec[N];
    uint8_t *ext = malloc(head->len + 2);
    assert_non_null(ext);
    memcpy(ext, head->data, head->len);
    ext[head->len] = (3 << 3) | 2;
    ext[head->len + 1] = 0;
    int rc = check_at(f, ext, head->len + 2, N, f->signer->public_key);

    /* A store ending in it must not verify either (today it does, with another head). */
    tt_store_t *s = new_store(f, NULL, 0);
    sealed_t mid = {ext, head->len + 2, {0}};
    const sealed_t *recs[N];
    for (int i = 0; i < N; i++)
        recs[i] = &f->rec[i + 1];
    recs[N - 1] = &mid;
    store_records(s, recs, N);
    tt_chain_report_t rep;
    char why[TT_WHY_LEN] = "";
    int vrc = tt_chain_verify_store(s, NULL, &rep, why);
    tt_store_destroy(&s);
    free(ext);
    if (rc == 0)
        fail_msg("record %d with an unknown field appended passed tt_chain_check; "
                 "verify_store on a chain ending in it returned %d (bad_seq %llu)",
                 N, vrc, (unsigned long long)rep.bad_seq);
    assert_int_equal(vrc, TT_ERR_CORRUPT);
    assert_int_equal(rep.bad_seq, N);
}

static void test_kind(void **state)
{
    (void)state;
    Tutti__Record rec = TUTTI__RECORD__INIT;
    assert_string_equal(tt_chain_kind(&rec), "unknown");
    Tutti__Note n = TUTTI__NOTE__INIT;
    rec.body_case = TUTTI__RECORD__BODY_NOTE;
    rec.note = &n;
    assert_string_equal(tt_chain_kind(&rec), "note");
    Tutti__Genesis g = TUTTI__GENESIS__INIT;
    rec.body_case = TUTTI__RECORD__BODY_GENESIS;
    rec.genesis = &g;
    assert_string_equal(tt_chain_kind(&rec), "genesis");
    Tutti__Trim t = TUTTI__TRIM__INIT;
    rec.body_case = TUTTI__RECORD__BODY_TRIM;
    rec.trim = &t;
    assert_string_equal(tt_chain_kind(&rec), "trim");
}

static void test_long_chain_pages(void **state)
{
    fixture_t *f = *state;
    /* More records than verify_store reads in one page (4096). */
    enum { LONG = 4100 };
    sealed_t *recs = calloc(LONG + 1, sizeof *recs);
    tt_bytes_t *bytes = calloc(LONG, sizeof *bytes);
    assert_non_null(recs);
    assert_non_null(bytes);
    Tutti__Record rec;
    Tutti__Genesis g;
    Tutti__Note n;
    genesis_record(&rec, &g, f->signer->public_key, TT_SIGN_PK_LEN);
    seal(f->signer, &rec, 1, NULL, &recs[1]);
    note_record(&rec, &n, "tick");
    for (uint64_t i = 2; i <= LONG; i++)
        seal(f->signer, &rec, i, recs[i - 1].hash, &recs[i]);
    for (size_t i = 0; i < LONG; i++)
        bytes[i] = (tt_bytes_t){recs[i + 1].data, recs[i + 1].len};

    tt_store_t *s = new_store(f, NULL, 0);
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_store_append(s, 1, bytes, LONG, why), 0);
    tt_chain_report_t rep;
    assert_int_equal(tt_chain_verify_store(s, NULL, &rep, why), 0);
    assert_int_equal(rep.records, LONG);
    assert_int_equal(rep.last_seq, LONG);
    assert_memory_equal(rep.head_hash, recs[LONG].hash, TT_HASH_LEN);

    /* Damage just past the first page. */
    tt_store_destroy(&s);
    s = new_store(f, NULL, 0);
    recs[4098].data[recs[4098].len - 1] ^= 0x10;
    assert_int_equal(tt_store_append(s, 1, bytes, LONG, why), 0);
    assert_int_equal(tt_chain_verify_store(s, NULL, &rep, why), TT_ERR_CORRUPT);
    assert_int_equal(rep.bad_seq, 4098);
    assert_int_equal(rep.records, 4097);
    tt_store_destroy(&s);

    for (size_t i = 1; i <= LONG; i++)
        free(recs[i].data);
    free(recs);
    free(bytes);
}

static void signer_record(Tutti__Record *rec, Tutti__Signer *sg, const uint8_t *pk)
{
    tutti__record__init(rec);
    tutti__signer__init(sg);
    sg->public_key.data = (uint8_t *)pk;
    sg->public_key.len = TT_SIGN_PK_LEN;
    sg->name = "standby";
    rec->at_unix_ns = 1700000000000000000;
    rec->actor = "coordinator";
    rec->actor_role = "coordinator";
    rec->body_case = TUTTI__RECORD__BODY_SIGNER;
    rec->signer = sg;
}

/* A record signed with a key no Signer record named is refused; once an
 * earlier record names it, it checks record by record (tt_chain_check_keys)
 * and in verify_store, and a pinned genesis key still verifies the whole
 * log. A ninth signer is refused. */
static void test_named_signers(void **state)
{
    fixture_t *f = *state;
    Tutti__Record rec;
    Tutti__Genesis g;
    Tutti__Note n;
    Tutti__Signer sg;
    sealed_t r[5];
    genesis_record(&rec, &g, f->signer->public_key, TT_SIGN_PK_LEN);
    seal(f->signer, &rec, 1, NULL, &r[1]);
    /* 2: a note signed with the other key, unnamed: refused. */
    note_record(&rec, &n, "too early");
    seal(f->other, &rec, 2, r[1].hash, &r[2]);
    tt_store_t *s = new_store(f, NULL, 0);
    const sealed_t *bad[] = {&r[1], &r[2]};
    store_records(s, bad, 2);
    expect_verify(s, NULL, 2);
    tt_store_destroy(&s);
    free(r[2].data);

    /* 2: the genesis key names the other key; 3: the other key signs; 4:
     * the genesis key signs again. */
    signer_record(&rec, &sg, f->other->public_key);
    seal(f->signer, &rec, 2, r[1].hash, &r[2]);
    note_record(&rec, &n, "from the standby");
    seal(f->other, &rec, 3, r[2].hash, &r[3]);
    note_record(&rec, &n, "from the primary");
    seal(f->signer, &rec, 4, r[3].hash, &r[4]);

    tt_chain_keys_t keys;
    tt_chain_keys_init(&keys, NULL);
    char why[TT_WHY_LEN] = "";
    uint8_t hash[TT_HASH_LEN];
    static const uint8_t zero[TT_HASH_LEN];
    assert_int_equal(tt_chain_check_keys(r[1].data, r[1].len, 1, zero, &keys, hash, NULL, why), 0);
    assert_int_equal(keys.n, 1);
    /* Record 3 against the genesis key alone: refused. */
    tt_chain_keys_t before = keys;
    assert_int_equal(
        tt_chain_check_keys(r[3].data, r[3].len, 3, r[2].hash, &before, hash, NULL, why),
        TT_ERR_CORRUPT);
    assert_non_null(strstr(why, "bad signature"));
    assert_int_equal(before.n, 1); /* unchanged on failure */
    assert_int_equal(tt_chain_check_keys(r[2].data, r[2].len, 2, r[1].hash, &keys, hash, NULL, why),
                     0);
    assert_int_equal(keys.n, 2);
    assert_memory_equal(keys.pk[1], f->other->public_key, TT_SIGN_PK_LEN);
    assert_int_equal(tt_chain_signed_by(r[3].data, r[3].len, &keys), 1);
    assert_int_equal(tt_chain_signed_by(r[4].data, r[4].len, &keys), 0);
    assert_int_equal(tt_chain_check_keys(r[3].data, r[3].len, 3, r[2].hash, &keys, hash, NULL, why),
                     0);
    assert_int_equal(tt_chain_check_keys(r[4].data, r[4].len, 4, r[3].hash, &keys, hash, NULL, why),
                     0);

    s = new_store(f, NULL, 0);
    const sealed_t *good[] = {&r[1], &r[2], &r[3], &r[4]};
    store_records(s, good, 4);
    expect_verify(s, NULL, 0);
    expect_verify(s, f->signer->public_key, 0); /* a replica that pinned the genesis key */
    tt_chain_report_t rep;
    assert_int_equal(tt_chain_verify_store(s, NULL, &rep, why), 0);
    assert_int_equal(rep.keys.n, 2);
    assert_memory_equal(rep.signing_pk, f->signer->public_key, TT_SIGN_PK_LEN);
    tt_store_destroy(&s);

    /* The set is bounded: with it full, a signer naming one more is refused. */
    tt_chain_keys_t full = keys;
    while (full.n < TT_CHAIN_MAX_SIGNERS) {
        memset(full.pk[full.n], (int)full.n + 1, TT_SIGN_PK_LEN);
        full.n++;
    }
    uint8_t ninth[TT_SIGN_PK_LEN];
    memset(ninth, 0x77, sizeof ninth);
    sealed_t x;
    signer_record(&rec, &sg, ninth);
    seal(f->signer, &rec, 5, r[4].hash, &x);
    assert_int_equal(tt_chain_check_keys(x.data, x.len, 5, r[4].hash, &full, hash, NULL, why),
                     TT_ERR_CORRUPT);
    assert_non_null(strstr(why, "beyond"));
    /* Naming a key already named adds nothing and is accepted. */
    free(x.data);
    signer_record(&rec, &sg, f->other->public_key);
    seal(f->signer, &rec, 5, r[4].hash, &x);
    assert_int_equal(tt_chain_check_keys(x.data, x.len, 5, r[4].hash, &full, hash, NULL, why), 0);
    assert_int_equal(full.n, TT_CHAIN_MAX_SIGNERS);
    free(x.data);
    for (int i = 1; i <= 4; i++)
        free(r[i].data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_kind),
        cmocka_unit_test_setup_teardown(test_seal_and_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_leaves_record_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_store_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_flip_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_byte_in_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pinned_key_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_genesis_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extra_fields_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_chain_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_signers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
