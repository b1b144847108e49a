/* test_store: the LMDB log and metadata. A new store is empty; appends are
 * gap-free and all-or-nothing; get, scan (with its count and byte limits),
 * metadata, truncate_after; data survives close and reopen; read-only
 * stores refuse writes and a missing directory is an error. Snapshots go
 * in with records or not at all, the newest two are kept, truncate_after
 * drops those of removed records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tt_error.h"
#include "tt_store.h"

#define MAP_MB 16

/* ---- temp dir: the store directory is DIR/db, removed at the end ---- */

typedef struct {
    char dir[64];
    char db[128];
} fixture_t;

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

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/tt-store-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    remove_tree(f->dir);
    int gone = access(f->dir, F_OK) != 0;
    free(f);
    return gone ? 0 : -1;
}

/* Record i's payload: "record-<i>" padded with i bytes of 'x'. */
static size_t payload(uint64_t i, uint8_t *buf, size_t cap)
{
    int n = snprintf((char *)buf, cap, "record-%llu-", (unsigned long long)i);
    size_t len = (size_t)n + (size_t)i;
    assert_true(len <= cap);
    memset(buf + n, 'x', (size_t)i);
    return len;
}

static void append_range(tt_store_t *s, uint64_t first, uint64_t last)
{
    static uint8_t bufs[64][256];
    tt_bytes_t recs[64];
    size_t n = (size_t)(last - first + 1);
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        recs[i].data = bufs[i];
        recs[i].len = payload(first + i, bufs[i], sizeof bufs[i]);
    }
    char why[TT_WHY_LEN] = "";
    int rc = tt_store_append(s, first, recs, n, why);
    if (rc != 0)
        fail_msg("append %llu..%llu: %s", (unsigned long long)first, (unsigned long long)last, why);
}

static void expect_record(tt_store_t *s, uint64_t seq)
{
    uint8_t want[256], *data = NULL;
    size_t want_len = payload(seq, want, sizeof want), len = 0;
    char why[TT_WHY_LEN] = "";
    int rc = tt_store_get(s, seq, &data, &len, why);
    if (rc != 0)
        fail_msg("get %llu: %s", (unsigned long long)seq, why);
    assert_int_equal(len, want_len);
    assert_memory_equal(data, want, len);
    free(data);
}

static uint64_t last_seq(tt_store_t *s)
{
    uint64_t last = 12345;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_store_last_seq(s, &last, why), 0);
    return last;
}

/* ---- scan visitor ---- */

typedef struct {
    uint64_t seqs[64];
    size_t count;
    size_t bytes;
    uint64_t stop_at; /* return 7 when this seq is visited */
} visit_t;

static int visit(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    visit_t *v = arg;
    uint8_t want[256];
    size_t want_len = payload(seq, want, sizeof want);
    assert_int_equal(len, want_len);
    assert_memory_equal(data, want, len);
    if (v->stop_at == seq)
        return 7;
    assert_true(v->count < 64);
    v->seqs[v->count++] = seq;
    v->bytes += len;
    return 0;
}

static visit_t scan(tt_store_t *s, uint64_t from, size_t max_count, size_t max_bytes, int expect_rc)
{
    visit_t v = {0};
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_store_scan(s, from, max_count, max_bytes, visit, &v, why), expect_rc);
    for (size_t i = 1; i < v.count; i++)
        assert_int_equal(v.seqs[i], v.seqs[i - 1] + 1);
    return v;
}

/* ---- tests ---- */

static void test_new_store_is_empty(void **state)
{
    fixture_t *f = *state;
    char why[TT_WHY_LEN] = "";
    tt_store_t *s = tt_store_open(f->db, 0, MAP_MB, why);
    if (!s)
        fail_msg("%s", why);
    struct stat st;
    assert_int_equal(stat(f->db, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(last_seq(s), 0);
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(tt_store_get(s, 1, &data, &len, why), TT_ERR_NOTFOUND);
    assert_int_equal(strncmp(why, "no record 1 in ", 15), 0);
    assert_int_equal(tt_store_get(s, 0, &data, &len, why), TT_ERR_NOTFOUND);
    visit_t v = scan(s, 1, 100, 1 << 20, 0);
    assert_int_equal(v.count, 0);
    /* Appending must start at 1. */
    uint8_t b[8] = "x";
    tt_bytes_t r = {b, 1};
    assert_int_equal(tt_store_append(s, 0, &r, 1, why), TT_ERR_INVALID);
    assert_int_equal(tt_store_append(s, 2, &r, 1, why), TT_ERR_INVALID);
    assert_int_equal(last_seq(s), 0);
    tt_store_destroy(&s);
    assert_null(s);
    tt_store_destroy(&s);
    tt_store_destroy(NULL);
}

static void test_default_map_size(void **state)
{
    fixture_t *f = *state;
    char why[TT_WHY_LEN] = "";
    tt_store_t *s = tt_store_open(f->db, 0, 0, why);
    if (!s)
        fail_msg("%s", why);
    append_range(s, 1, 2);
    assert_int_equal(last_seq(s), 2);
    tt_store_destroy(&s);
}

static void test_append_get(void **state)
{
    fixture_t *f = *state;
    char why[TT_WHY_LEN] = "";
    tt_store_t *s = tt_store_open(f->db, 0, MAP_MB, why);
    assert_non_null(s);
    append_range(s, 1, 3); /* three records in one call */
    assert_int_equal(last_seq(s), 3);
    for (uint64_t i = 1; i <= 3; i++)
        expect_record(s, i);
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(tt_store_get(s, 4, &data, &len, why), TT_ERR_NOTFOUND);
    assert_null(data);

    append_range(s, 4, 4);
    append_range(s, 5, 20);
    assert_int_equal(last_seq(s), 20);
    for (uint64_t i = 1; i <= 20; i++)
        expect_record(s, i);

    /* An empty record and an empty append. */
    tt_bytes_t empty = {(const uint8_t *)"", 0};
    assert_int_equal(tt_store_append(s, 21, &empty, 1, why), 0);
    assert_int_equal(tt_store_get(s, 21, &data, &len, why), 0);
    assert_int_equal(len, 0);
    free(data);
    assert_int_equal(tt_store_append(s, 22, NULL, 0, why), 0);
    assert_int_equal(last_seq(s), 21);
    tt_store_destroy(&s);
}

static void test_append_wrong_seq(void **state)
{
    fixture_t *f = *state;
    char why[TT_WHY_LEN] = "";
    tt_store_t *s = tt_store_open(f->db, 0, MAP_MB, why);
    assert_non_null(s);
    append_range(s, 1, 3);

    uint8_t a[] = "new-a", b[] = "new-b";
    tt_bytes_t recs[2] = {{a, sizeof a}, {b, sizeof b}};
    const uint64_t wrong[] = {0, 1, 2, 3, 5, 100, UINT64_MAX};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        why[0] = '\0';
        assert_int_equal(tt_store_append(s, wrong[i], recs, 2, why), TT_ERR_INVALID);
        assert_true(strlen(why) > 0);
    }
    /* Nothing changed. */
    assert_int_equal(last_seq(s), 3);
    for (uint64_t i = 1; i <= 3; i++)
        expect_record(s, i);
    uint8_t *data = NULL;
    size_t len;
    assert_int_equal(tt_store_get(s, 4, &data, &len, why), TT_ERR_NOTFOUND);
    assert_int_equal(tt_store_get(s, 5, &data, &len, why), TT_ERR_NOTFOUND);
    /* And the right one still works. */
    assert_int_equal(tt_store_append(s, 4, recs, 2, why), 0);
    assert_int_equal(last_seq(s), 5);
    assert_int_equal(tt_store_get(s, 5, &data, &len, why), 0);
    assert_int_equal(len, sizeof b);
    assert_memory_equal(data, b, len);
    free(data);
    tt_store_destroy(&s);
}

static void test_scan_limits(void **state)
{
    fixture_t *f = *state;
    char why[TT_WHY_LEN] = "";
    tt_store_t *s = tt_store_open(f->db, 0, MAP_MB, why);
    assert_non_null(s);
    append_range(s, 1, 10);
    uint8_t tmp[256];
    size_t len[11];
    for (uint64_t i = 1; i <= 10; i++)
        len[i] = payload(i, tmp, sizeof tmp);

    visit_t v = scan(s, 1, 100, SIZE_MAX, 0);
    assert_int_equal(v.count, 10);
    assert_int_equal(v.seqs[0], 1);

    v = scan(s, 4, 100, SIZE_MAX, 0);
    assert_int_equal(v.count, 7);
    assert_int_equal(v.seqs[0], 4);
    assert_int_equal(v.seqs[6], 10);

    v = scan(s, 0, 100, SIZE_MAX, 0); /* from 0: starts at the first record */
    assert_int_equal(v.count, 10);
    assert_int_equal(v.seqs[0], 1);

    v = scan(s, 11, 100, SIZE_MAX, 0);
    assert_int_equal(v.count, 0);

    v = scan(s, 2, 3, SIZE_MAX, 0);
    assert_int_equal(v.count, 3);
    assert_int_equal(v.seqs[0], 2);
    assert_int_equal(v.seqs[2], 4);

    v = scan(s, 2, 0, SIZE_MAX, 0);
    assert_int_equal(v.count, 0);

    /* Byte limit: exactly records 3..5, not a byte more. */
    size_t three = len[3] + len[4] + len[5];
    v = scan(s, 3, 100, three, 0);
    assert_int_equal(v.count, 3);
    assert_int_equal(v.bytes, three);
    v = scan(s, 3, 100, three - 1, 0);
    assert_int_equal(v.count, 2);
    v = scan(s, 3, 100, three + len[6] - 1, 0);
    assert_int_equal(v.count, 3);

    /* At least one record, however small the limit. */
    v = scan(s, 7, 100, 1, 0);
    assert_int_equal(v.count, 1);
    assert_int_equal(v.seqs[0], 7);
    v = scan(s, 7, 100, 0, 0);
    assert_int_equal(v.count, 1);

    /* The visitor's non-zero return stops the scan and is returned. */
    v = (visit_t){.stop_at = 5};
    assert_int_equal(tt_store_scan(s, 1, 100, SIZE_MAX, visit, &v, why), 7);
    assert_int_equal(v.count, 4);
    tt_store_destroy(&s);
}

static void test_meta(void **state)
{
    fixture_t *f = *state;
    char why[TT_WHY_LEN] = "";
    tt_store_t *s = tt_store_open(f->db, 0, MAP_MB, why);
    assert_non_null(s);
    char out[4096];
    size_t len = sizeof out;
    assert_int_equal(tt_store_meta_get(s, "epoch", out, &len, why), TT_ERR_NOTFOUND);

    assert_int_equal(tt_store_meta_put(s, "epoch", "12345", 5, why), 0);
    assert_int_equal(tt_store_meta_put(s, "name", "rehearsal", 9, why), 0);
    len = sizeof out;
    assert_int_equal(tt_store_meta_get(s, "epoch", out, &len, why), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "12345", 5);
    /* Overwrite with a shorter value. */
    assert_int_equal(tt_store_meta_put(s, "epoch", "9", 1, why), 0);
    len = sizeof out;
    assert_int_equal(tt_store_meta_get(s, "epoch", out, &len, why), 0);
    assert_int_equal(len, 1);
    assert_memory_equal(out, "9", 1);
    /* A buffer too small is refused rather than overrun. */
    len = 3;
    assert_int_equal(tt_store_meta_get(s, "name", out, &len, why), TT_ERR_TOO_BIG);
    len = 9;
    assert_int_equal(tt_store_meta_get(s, "name", out, &len, why), 0);
    assert_memory_equal(out, "rehearsal", 9);
    /* Keys are exact: a prefix is another key. */
    len = sizeof out;
    assert_int_equal(tt_store_meta_get(s, "nam", out, &len, why), TT_ERR_NOTFOUND);
    /* 4 KiB is the limit. */
    static char big[4097];
    memset(big, 'b', sizeof big);
    assert_int_equal(tt_store_meta_put(s, "big", big, 4097, why), TT_ERR_TOO_BIG);
    assert_int_equal(tt_store_meta_put(s, "big", big, 4096, why), 0);
    len = sizeof out;
    assert_int_equal(tt_store_meta_get(s, "big", out, &len, why), 0);
    assert_int_equal(len, 4096);
    /* Metadata is not in the log. */
    assert_int_equal(last_seq(s), 0);
    tt_store_destroy(&s);

    s = tt_store_open(f->db, 1, MAP_MB, why);
    assert_non_null(s);
    len = sizeof out;
    assert_int_equal(tt_store_meta_get(s, "name", out, &len, why), 0);
    assert_memory_equal(out, "rehearsal", 9);
    assert_int_equal(tt_store_meta_put(s, "name", "x", 1, why), TT_ERR_STORE);
    tt_store_destroy(&s);
}

static void test_truncate_after(void **state)
{
    fixture_t *f = *state;
    char why[TT_WHY_LEN] = "";
    tt_store_t *s = tt_store_open(f->db, 0, MAP_MB, why);
    assert_non_null(s);
    append_range(s, 1, 10);
    assert_int_equal(tt_store_truncate_after(s, 20, why), 0);
    assert_int_equal(last_seq(s), 10);
    assert_int_equal(tt_store_truncate_after(s, 10, why), 0);
    assert_int_equal(last_seq(s), 10);
    assert_int_equal(tt_store_truncate_after(s, 6, why), 0);
    assert_int_equal(last_seq(s), 6);
    for (uint64_t i = 1; i <= 6; i++)
        expect_record(s, i);
    uint8_t *data = NULL;
    size_t len;
    for (uint64_t i = 7; i <= 10; i++)
        assert_int_equal(tt_store_get(s, i, &data, &len, why), TT_ERR_NOTFOUND);
    visit_t v = scan(s, 1, 100, SIZE_MAX, 0);
    assert_int_equal(v.count, 6);
    /* The log continues from the new head. */
    assert_int_equal(tt_store_append(s, 11, NULL, 0, why), TT_ERR_INVALID);
    append_range(s, 7, 8);
    assert_int_equal(last_seq(s), 8);
    expect_record(s, 8);
    assert_int_equal(tt_store_truncate_after(s, 0, why), 0);
    assert_int_equal(last_seq(s), 0);
    assert_int_equal(tt_store_get(s, 1, &data, &len, why), TT_ERR_NOTFOUND);
    append_range(s, 1, 1);
    tt_store_destroy(&s);
}

static uint64_t snap_seqs(tt_store_t *s, uint64_t out[8])
{
    size_t n = 99;
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_store_snapshot_seqs(s, out, 8, &n, why), 0);
    return n;
}

static void expect_snapshot(tt_store_t *s, uint64_t seq, const char *text)
{
    uint8_t *data = NULL;
    size_t len = 0;
    char why[TT_WHY_LEN] = "";
    if (tt_store_snapshot_get(s, seq, &data, &len, why) != 0)
        fail_msg("snapshot %llu: %s", (unsigned long long)seq, why);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(data, text, len);
    free(data);
}

static void test_snapshots(void **state)
{
    fixture_t *f = *state;
    char why[TT_WHY_LEN] = "";
    tt_store_t *s = tt_store_open(f->db, 0, MAP_MB, why);
    assert_non_null(s);
    uint64_t seqs[8];
    assert_int_equal(snap_seqs(s, seqs), 0);
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(tt_store_snapshot_get(s, 1, &data, &len, why), TT_ERR_NOTFOUND);

    uint8_t b[4][16];
    tt_bytes_t recs[4];
    for (uint64_t i = 0; i < 4; i++) {
        recs[i].data = b[i];
        recs[i].len = payload(i + 1, b[i], sizeof b[i]);
    }
    /* A snapshot names a record of the log as it stands after the write. */
    tt_store_snapshot_t snap = {5, (const uint8_t *)"five", 4};
    assert_int_equal(tt_store_append_snapshot(s, 1, recs, 4, &snap, why), TT_ERR_INVALID);
    snap.seq = 0;
    assert_int_equal(tt_store_append_snapshot(s, 1, recs, 4, &snap, why), TT_ERR_INVALID);
    assert_int_equal(last_seq(s), 0); /* refused: nothing written */
    snap = (tt_store_snapshot_t){3, (const uint8_t *)"three", 5};
    assert_int_equal(tt_store_append_snapshot(s, 1, recs, 4, &snap, why), 0);
    assert_int_equal(snap_seqs(s, seqs), 1);
    assert_int_equal(seqs[0], 3);
    expect_snapshot(s, 3, "three");
    /* A failed append stores neither the records nor the snapshot. */
    snap = (tt_store_snapshot_t){4, (const uint8_t *)"four", 4};
    assert_int_equal(tt_store_append_snapshot(s, 9, recs, 1, &snap, why), TT_ERR_INVALID);
    assert_int_equal(snap_seqs(s, seqs), 1);

    /* The newest two are kept. */
    for (uint64_t seq = 5; seq <= 9; seq++) {
        uint8_t buf[64];
        tt_bytes_t r = {buf, payload(seq, buf, sizeof buf)};
        char text[16];
        snprintf(text, sizeof text, "snap-%llu", (unsigned long long)seq);
        snap = (tt_store_snapshot_t){seq, (const uint8_t *)text, strlen(text)};
        assert_int_equal(tt_store_append_snapshot(s, seq, &r, 1, seq % 2 ? &snap : NULL, why), 0);
    }
    assert_int_equal(snap_seqs(s, seqs), TT_STORE_SNAPSHOTS_KEPT);
    assert_int_equal(seqs[0], 7);
    assert_int_equal(seqs[1], 9);
    expect_snapshot(s, 7, "snap-7");
    expect_snapshot(s, 9, "snap-9");
    assert_int_equal(tt_store_snapshot_get(s, 5, &data, &len, why), TT_ERR_NOTFOUND);
    assert_int_equal(strncmp(why, "no snapshot 5 in ", 17), 0);
    /* Fewer slots than snapshots: the newest. */
    size_t n = 0;
    assert_int_equal(tt_store_snapshot_seqs(s, seqs, 1, &n, why), 0);
    assert_int_equal(n, 1);
    assert_int_equal(seqs[0], 9);

    assert_int_equal(tt_store_snapshot_replace(s, 9, (const uint8_t *)"nine", 4, why), 0);
    expect_snapshot(s, 9, "nine");
    assert_int_equal(tt_store_snapshot_replace(s, 8, (const uint8_t *)"x", 1, why),
                     TT_ERR_NOTFOUND);

    /* Truncating the log takes the snapshots of the records it removes. */
    assert_int_equal(tt_store_truncate_after(s, 8, why), 0);
    assert_int_equal(snap_seqs(s, seqs), 1);
    assert_int_equal(seqs[0], 7);
    tt_store_destroy(&s);

    /* They survive a reopen, and a reader sees them. */
    s = tt_store_open(f->db, 1, MAP_MB, why);
    assert_non_null(s);
    assert_int_equal(snap_seqs(s, seqs), 1);
    expect_snapshot(s, 7, "snap-7");
    tt_store_destroy(&s);
}

static void test_reopen_keeps_data(void **state)
{
    fixture_t *f = *state;
    char why[TT_WHY_LEN] = "";
    tt_store_t *s = tt_store_open(f->db, 0, MAP_MB, why);
    assert_non_null(s);
    append_range(s, 1, 5);
    assert_int_equal(tt_store_meta_put(s, "k", "v", 1, why), 0);
    tt_store_destroy(&s);

    s = tt_store_open(f->db, 0, MAP_MB, why);
    assert_non_null(s);
    assert_int_equal(last_seq(s), 5);
    for (uint64_t i = 1; i <= 5; i++)
        expect_record(s, i);
    append_range(s, 6, 7);
    tt_store_destroy(&s);

    s = tt_store_open(f->db, 1, MAP_MB, why);
    if (!s)
        fail_msg("%s", why);
    assert_int_equal(last_seq(s), 7);
    for (uint64_t i = 1; i <= 7; i++)
        expect_record(s, i);
    visit_t v = scan(s, 1, 100, SIZE_MAX, 0);
    assert_int_equal(v.count, 7);
    tt_store_destroy(&s);
}

static void test_readonly(void **state)
{
    fixture_t *f = *state;
    char why[TT_WHY_LEN] = "";
    /* A missing directory is not created by a reader. */
    assert_null(tt_store_open(f->db, 1, MAP_MB, why));
    assert_non_null(strstr(why, f->db));
    assert_int_not_equal(access(f->db, F_OK), 0);
    /* An empty directory holds no store. */
    assert_int_equal(mkdir(f->db, 0700), 0);
    why[0] = '\0';
    assert_null(tt_store_open(f->db, 1, MAP_MB, why));
    assert_true(strlen(why) > 0);
    assert_int_equal(rmdir(f->db), 0);

    tt_store_t *s = tt_store_open(f->db, 0, MAP_MB, why);
    assert_non_null(s);
    append_range(s, 1, 2);
    tt_store_destroy(&s);

    s = tt_store_open(f->db, 1, MAP_MB, why);
    assert_non_null(s);
    uint8_t b[] = "nope";
    tt_bytes_t r = {b, sizeof b};
    why[0] = '\0';
    assert_int_not_equal(tt_store_append(s, 3, &r, 1, why), 0);
    assert_true(strlen(why) > 0);
    assert_int_not_equal(tt_store_truncate_after(s, 0, why), 0);
    assert_int_equal(last_seq(s), 2);
    expect_record(s, 1);
    expect_record(s, 2);
    tt_store_destroy(&s);

    /* A path that is a file, not a directory. */
    char file[256];
    snprintf(file, sizeof file, "%s/plain", f->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_null(tt_store_open(file, 0, MAP_MB, why));
    assert_null(tt_store_open(file, 1, MAP_MB, why));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_store_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_map_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_wrong_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
