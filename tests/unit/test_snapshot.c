/* test_snapshot: a restart from a snapshot builds the same state as the
 * whole fold.
 *
 * A log of every record kind (tests/tools/loggen_gen) is signed into a
 * store with a snapshot every 250 records, as the coordinator writes them.
 * Then: the state encoded and decoded at many points equals the fold there
 * field by field (tt_session_snap_diff, itself checked to see a change in
 * each part of the state), and folds on to the same end; tt_snapshot_replay
 * starts from the newest snapshot and folds only the records after it, to
 * the same state as the whole fold; a snapshot that is damaged, of another
 * format, of another head, stored under another seq or whose state names
 * another seq is ignored (with the next older one, then the whole fold
 * used instead) and the state is still the same; decoding refuses states
 * out of bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loggen_gen.h"
#include "tt_chain.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_session.h"
#include "tt_session_snap.h"
#include "tt_snapshot.h"
#include "tt_store.h"

#define N_RECORDS 1500
#define PERIOD 40
#define EVERY 250
#define BATCH 64

typedef struct {
    char dir[64];
    tt_signer_t *signer;
    tt_store_t *store;
    uint8_t *rec[N_RECORDS + 1]; /* SignedRecord bytes, 1-based */
    size_t len[N_RECORDS + 1];
    tt_session_t full; /* the fold of all N_RECORDS */
} fixture_t;

static fixture_t *fx; /* one log for every test: made once, never changed but by copies */

static int setup_log(void **state)
{
    (void)state;
    fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/tt_snapshot_XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    char why[TT_WHY_LEN] = "", path[128];
    fx->signer = tt_signer_load_or_create(fx->dir, why);
    assert_non_null(fx->signer);
    snprintf(path, sizeof path, "%s/log", fx->dir);
    fx->store = tt_store_open(path, 0, 64, why);
    assert_non_null(fx->store);
    loggen_t *g = loggen_new(7, PERIOD);
    assert_non_null(g);
    tt_session_init(&fx->full);
    uint64_t first = 1;
    for (uint64_t seq = 1; seq <= N_RECORDS; seq++) {
        Tutti__Record rec;
        loggen_next(g, &fx->full, fx->signer->public_key, seq == N_RECORDS, &rec);
        uint8_t hash[TT_HASH_LEN];
        if (tt_chain_seal(fx->signer, &rec, seq, fx->full.head_hash, &fx->rec[seq], &fx->len[seq],
                          hash, why) != 0 ||
            tt_session_apply(&fx->full, &rec, hash, why) != 0)
            fail_msg("record %llu: %s", (unsigned long long)seq, why);
        if (seq - first + 1 < BATCH && seq != N_RECORDS)
            continue;
        /* Commit as the coordinator does: a snapshot with the group that
         * passes a multiple of EVERY, of the state after the group. */
        tt_bytes_t b[BATCH];
        for (uint64_t s = first; s <= seq; s++)
            b[s - first] = (tt_bytes_t){fx->rec[s], fx->len[s]};
        uint8_t *snap_bytes = NULL;
        tt_store_snapshot_t snap = {seq, NULL, 0};
        if (seq / EVERY > (first - 1) / EVERY) {
            assert_int_equal(tt_session_snap_take(&fx->full, &snap_bytes, &snap.len, why), 0);
            snap.data = snap_bytes;
        }
        if (tt_store_append_snapshot(fx->store, first, b, (size_t)(seq - first + 1),
                                     snap_bytes ? &snap : NULL, why) != 0)
            fail_msg("append: %s", why);
        free(snap_bytes);
        first = seq + 1;
    }
    loggen_destroy(&g);
    /* The log holds every kind the fold keeps. */
    assert_true(fx->full.n_cues >= 3);
    assert_true(fx->full.n_changes >= 10);
    assert_true(fx->full.n_stays >= 10);
    assert_true(fx->full.n_players >= 1);
    assert_true(fx->full.n_call_events >= 10);
    assert_true(fx->full.call.n_breaks >= 1 || fx->full.call.wrap_ns);
    assert_true(fx->full.n_trims == 3);
    assert_true(fx->full.media.n >= 20);
    assert_true(tt_idem_count(fx->full.keys) > 500);
    size_t takes = 0, interrupted = 0, rated = 0;
    for (size_t i = 0; i < fx->full.n_cues; i++)
        for (size_t k = 0; k < fx->full.cues[i].n_takes; k++) {
            takes++;
            interrupted += fx->full.cues[i].takes[k].state == TT_TAKE_INTERRUPTED;
            rated += fx->full.cues[i].takes[k].rating[0] != '\0';
        }
    assert_true(takes >= 20 && interrupted >= 5 && rated >= 5);
    return 0;
}

static int teardown_log(void **state)
{
    (void)state;
    tt_session_clear(&fx->full);
    tt_store_destroy(&fx->store);
    tt_signer_destroy(&fx->signer);
    for (int i = 1; i <= N_RECORDS; i++)
        free(fx->rec[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

/* Folds stored records from..to into s (checked as a replica would). */
static void fold_range(tt_session_t *s, uint64_t from, uint64_t to)
{
    for (uint64_t seq = from; seq <= to; seq++) {
        Tutti__Record *rec = NULL;
        uint8_t hash[TT_HASH_LEN];
        char why[TT_WHY_LEN] = "";
        if (tt_chain_check(fx->rec[seq], fx->len[seq], seq, s->head_hash, s->signing_pk, hash, &rec,
                           why) != 0 ||
            tt_session_apply(s, rec, hash, why) != 0)
            fail_msg("folding %llu: %s", (unsigned long long)seq, why);
        tutti__record__free_unpacked(rec, NULL);
    }
}

static void expect_same(const tt_session_t *a, const tt_session_t *b)
{
    char where[256] = "";
    if (tt_session_snap_diff(a, b, where, sizeof where) != 0)
        fail_msg("states differ at %s", where);
}

/* ---- the state through its encoding ---- */

static void test_roundtrip_at_many_points(void **state)
{
    (void)state;
    static const uint64_t points[] = {1, 2, 3, 17, 41, 99, 250, 333, 777, 1024, 1499, N_RECORDS};
    for (size_t p = 0; p < sizeof points / sizeof *points; p++) {
        tt_session_t a, b;
        tt_session_init(&a);
        tt_session_init(&b);
        fold_range(&a, 1, points[p]);
        uint8_t *bytes = NULL;
        size_t len = 0;
        char why[TT_WHY_LEN] = "";
        assert_int_equal(tt_session_snap_encode(&a, &bytes, &len, why), 0);
        if (tt_session_snap_decode(&b, bytes, len, why) != 0)
            fail_msg("decode at %llu: %s", (unsigned long long)points[p], why);
        free(bytes);
        expect_same(&a, &b);
        /* The decoded state folds on exactly as the original. */
        fold_range(&a, points[p] + 1, N_RECORDS);
        fold_range(&b, points[p] + 1, N_RECORDS);
        expect_same(&a, &b);
        expect_same(&b, &fx->full);
        tt_session_clear(&a);
        tt_session_clear(&b);
    }
}

/* A copy of the full state through its encoding, to change. */
static void copy_full(tt_session_t *out)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    char why[TT_WHY_LEN] = "";
    tt_session_init(out);
    assert_int_equal(tt_session_snap_encode(&fx->full, &bytes, &len, why), 0);
    assert_int_equal(tt_session_snap_decode(out, bytes, len, why), 0);
    free(bytes);
}

static void expect_differs(tt_session_t *changed, const char *field)
{
    char where[256] = "";
    assert_int_equal(tt_session_snap_diff(&fx->full, changed, where, sizeof where), 1);
    if (!strstr(where, field))
        fail_msg("diff named '%s', expected '%s'", where, field);
    tt_session_clear(changed);
}

static void test_diff_sees_every_part(void **state)
{
    (void)state;
    tt_session_t c;
    copy_full(&c);
    expect_same(&fx->full, &c);
    tt_session_clear(&c);

    copy_full(&c);
    c.notes++;
    expect_differs(&c, "notes");
    copy_full(&c);
    c.trims[1].trim_ns++;
    expect_differs(&c, "trims[1].trim_ns");
    copy_full(&c);
    c.players[0].name[0] ^= 1;
    expect_differs(&c, "players[0].name");
    copy_full(&c);
    c.stays[c.n_stays - 1].out_seq++;
    expect_differs(&c, ".out_seq");
    copy_full(&c);
    c.call_events[0].rules.break_minutes++;
    expect_differs(&c, "call_events[0].rules.break_minutes");
    copy_full(&c);
    c.changes[2].acked[0][0] ^= 1;
    expect_differs(&c, "changes[2].acked[0]");
    copy_full(&c);
    c.changes[2].n_acked--;
    free(c.changes[2].acked[c.changes[2].n_acked]);
    expect_differs(&c, "changes[2].n_acked");
    copy_full(&c);
    c.cues[0].map_text[0] ^= 1;
    expect_differs(&c, "cues[0].map_text");
    copy_full(&c);
    free(c.cues[1].map_text);
    c.cues[1].map_text = NULL;
    expect_differs(&c, "cues[1].map_text");
    copy_full(&c);
    c.cues[0].takes[1].rooms_capturing[0] ^= 1;
    expect_differs(&c, "cues[0].takes[1].rooms_capturing");
    copy_full(&c);
    c.cues[0].takes[0].end_session_ns--;
    expect_differs(&c, "cues[0].takes[0].end_session_ns");
    copy_full(&c);
    c.transport.stop_session_ns--;
    expect_differs(&c, "transport.stop_session_ns");
    copy_full(&c);
    c.call.rules.title[0] ^= 1;
    expect_differs(&c, "call.rules.title");
    copy_full(&c);
    c.media.items[3].hash[31] ^= 1;
    expect_differs(&c, "media[3].hash");
    copy_full(&c);
    c.media.items[c.media.n - 1].at_fps[0] ^= 1;
    expect_differs(&c, ".at_fps");
    /* The keys: one fewer (the newest), or the same keys in another order. */
    copy_full(&c);
    tt_idem_destroy(&c.keys);
    char why[TT_WHY_LEN];
    c.keys = tt_idem_new(TT_SESSION_KEY_WINDOW, why);
    size_t n = tt_idem_count(fx->full.keys);
    for (size_t i = 0; i + 1 < n; i++) {
        uint8_t key[TT_IDEM_KEY_LEN];
        uint64_t seq;
        int kind;
        tt_idem_get(fx->full.keys, i, key, &seq, &kind);
        tt_idem_add(c.keys, key, seq, kind);
    }
    expect_differs(&c, "idempotency keys held");
    copy_full(&c);
    tt_idem_destroy(&c.keys);
    c.keys = tt_idem_new(TT_SESSION_KEY_WINDOW, why);
    for (size_t i = n; i-- > 0;) {
        uint8_t key[TT_IDEM_KEY_LEN];
        uint64_t seq;
        int kind;
        tt_idem_get(fx->full.keys, i, key, &seq, &kind);
        tt_idem_add(c.keys, key, seq, kind);
    }
    expect_differs(&c, "idempotency key 0");
}

/* The key window itself: more keyed records than it holds, restored in the
 * middle, folds on to the same keys (the oldest fall out in the same order). */
static void test_key_window_roundtrip(void **state)
{
    (void)state;
    tt_session_t a, b;
    tt_session_init(&a);
    char why[TT_WHY_LEN] = "";
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Genesis g = TUTTI__GENESIS__INIT;
    Tutti__Note note = TUTTI__NOTE__INIT;
    uint8_t hash[TT_HASH_LEN] = {1}, key[16];
    g.signing_public_key.data = fx->signer->public_key;
    g.signing_public_key.len = TT_SIGN_PK_LEN;
    rec.seq = 1;
    rec.body_case = TUTTI__RECORD__BODY_GENESIS;
    rec.genesis = &g;
    assert_int_equal(tt_session_apply(&a, &rec, hash, why), 0);
    note.text = "n";
    rec.body_case = TUTTI__RECORD__BODY_NOTE;
    rec.note = &note;
    rec.idempotency_key.data = key;
    rec.idempotency_key.len = sizeof key;
    uint64_t cut = TT_SESSION_KEY_WINDOW + 100, end = TT_SESSION_KEY_WINDOW + 400;
    for (uint64_t seq = 2; seq <= end; seq++) {
        memset(key, 0, sizeof key);
        memcpy(key, &seq, sizeof seq);
        rec.seq = seq;
        assert_int_equal(tt_session_apply(&a, &rec, hash, why), 0);
        if (seq != cut)
            continue;
        uint8_t *bytes = NULL;
        size_t len = 0;
        tt_session_init(&b);
        assert_int_equal(tt_session_snap_encode(&a, &bytes, &len, why), 0);
        assert_int_equal(tt_session_snap_decode(&b, bytes, len, why), 0);
        free(bytes);
        assert_int_equal(tt_idem_count(b.keys), TT_SESSION_KEY_WINDOW);
    }
    for (uint64_t seq = cut + 1; seq <= end; seq++) {
        memset(key, 0, sizeof key);
        memcpy(key, &seq, sizeof seq);
        rec.seq = seq;
        assert_int_equal(tt_session_apply(&b, &rec, hash, why), 0);
    }
    char where[256] = "";
    if (tt_session_snap_diff(&a, &b, where, sizeof where) != 0)
        fail_msg("%s", where);
    /* The oldest key still held is the same record's in both. */
    ProtobufCBinaryData k = {sizeof key, key};
    uint64_t oldest = end - TT_SESSION_KEY_WINDOW + 1;
    memset(key, 0, sizeof key);
    memcpy(key, &oldest, sizeof oldest);
    assert_int_equal(tt_session_find_key(&b, &k, NULL), oldest);
    oldest--;
    memcpy(key, &oldest, sizeof oldest);
    assert_int_equal(tt_session_find_key(&b, &k, NULL), 0);
    tt_session_clear(&a);
    tt_session_clear(&b);
}

static void expect_refused(const Tutti__SessionState *st)
{
    size_t len = tutti__session_state__get_packed_size(st);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    tutti__session_state__pack(st, buf);
    tt_session_t s;
    tt_session_init(&s);
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_session_snap_decode(&s, buf, len, why), TT_ERR_CORRUPT);
    assert_true(strlen(why) > 0);
    assert_int_equal(s.last_seq, 0); /* left cleared */
    free(buf);
}

static void test_decode_bounds(void **state)
{
    (void)state;
    uint8_t zeros[32] = {0};
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    Tutti__SessionState st = TUTTI__SESSION_STATE__INIT;
    st.last_seq = 5;
    st.head_hash = (ProtobufCBinaryData){32, zeros};
    /* no key */
    expect_refused(&st);
    st.signing_public_key = (ProtobufCBinaryData){32, zeros};
    st.session_name = longname; /* longer than the field */
    expect_refused(&st);
    st.session_name = "ok";
    uint8_t keys[28] = {0};
    st.idempotency_keys = (ProtobufCBinaryData){27, keys}; /* not whole entries */
    expect_refused(&st);
    st.idempotency_keys = (ProtobufCBinaryData){0, NULL};
    Tutti__StateTrim trim = TUTTI__STATE_TRIM__INIT;
    Tutti__StateTrim *trims[TT_SESSION_MAX_ROOMS + 1];
    for (size_t i = 0; i <= TT_SESSION_MAX_ROOMS; i++)
        trims[i] = &trim;
    st.trims = trims;
    st.n_trims = TT_SESSION_MAX_ROOMS + 1; /* more rooms than the fold holds */
    expect_refused(&st);
    st.n_trims = 0;
    Tutti__StateCue cue = TUTTI__STATE_CUE__INIT;
    Tutti__StateTake take = TUTTI__STATE_TAKE__INIT, *takes[1] = {&take};
    Tutti__StateCue *cues[1] = {&cue};
    cue.name = "1M1";
    cue.takes = takes;
    cue.n_takes = 1;
    take.state = 7; /* no such take state */
    st.cues = cues;
    st.n_cues = 1;
    expect_refused(&st);
    take.state = 1;
    take.rating = longname;
    expect_refused(&st);
    take.rating = "hold";
    Tutti__StateMedia sm = TUTTI__STATE_MEDIA__INIT, *sms[1] = {&sm};
    Tutti__Media m = TUTTI__MEDIA__INIT;
    sm.media = &m; /* a media entry without its hash */
    st.media = sms;
    st.n_media = 1;
    expect_refused(&st);
    m.hash = (ProtobufCBinaryData){32, zeros};
    m.cue = longname;
    expect_refused(&st);
    m.cue = "1M1";
    /* Within bounds it decodes (and frees what it holds on clear). */
    size_t len = tutti__session_state__get_packed_size(&st);
    uint8_t *buf = malloc(len);
    tutti__session_state__pack(&st, buf);
    tt_session_t s;
    tt_session_init(&s);
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_session_snap_decode(&s, buf, len, why), 0);
    assert_int_equal(s.n_cues, 1);
    assert_string_equal(s.cues[0].takes[0].rating, "hold");
    /* Damaged bytes do not decode, or decode to something refused. */
    for (size_t cut = 0; cut < len; cut += 7) {
        tt_session_t d;
        tt_session_init(&d);
        (void)tt_session_snap_decode(&d, buf, cut, why);
        tt_session_clear(&d);
    }
    free(buf);
    tt_session_clear(&s);
}

/* ---- restarts from the store ---- */

static tt_snapshot_fold_t session_fold(tt_session_t *s)
{
    return (tt_snapshot_fold_t){tt_session_fold, tt_session_reset, tt_session_snap_restore, s};
}

static void replay(tt_store_t *store, int use, tt_snapshot_replay_t *rep, tt_session_t *s)
{
    tt_snapshot_fold_t fold = session_fold(s);
    char why[TT_WHY_LEN] = "";
    if (tt_snapshot_replay(store, &fold, fx->signer->public_key, use, rep, why) != 0)
        fail_msg("replay: %s", why);
    assert_int_equal(rep->last_seq, N_RECORDS);
    assert_memory_equal(rep->head_hash, fx->full.head_hash, TT_HASH_LEN);
    expect_same(s, &fx->full);
}

static void test_replay_from_newest_snapshot(void **state)
{
    (void)state;
    uint64_t seqs[8];
    size_t n = 0;
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_store_snapshot_seqs(fx->store, seqs, 8, &n, why), 0);
    assert_int_equal(n, TT_STORE_SNAPSHOTS_KEPT);
    /* The groups of 64 passing 1250 and 1500 end at 1280 and 1500. */
    assert_int_equal(seqs[0], 1280);
    assert_int_equal(seqs[1], N_RECORDS);

    tt_session_t s;
    tt_session_init(&s);
    tt_snapshot_replay_t rep;
    replay(fx->store, 1, &rep, &s);
    assert_int_equal(rep.snapshot_seq, N_RECORDS);
    assert_int_equal(rep.folded, 0);
    assert_int_equal(rep.ignored, 0);
    /* Without snapshots: every record. */
    replay(fx->store, 0, &rep, &s);
    assert_int_equal(rep.snapshot_seq, 0);
    assert_int_equal(rep.folded, N_RECORDS);
    tt_session_clear(&s);
}

/* A scratch copy of the store (data.mdb) to damage. */
static tt_store_t *copy_store(const char *name)
{
    char cmd[512], path[128];
    snprintf(path, sizeof path, "%s/%s", fx->dir, name);
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s && cp %s/log/data.mdb %s/", path, path,
             fx->dir, path);
    assert_int_equal(system(cmd), 0);
    char why[TT_WHY_LEN] = "";
    tt_store_t *s = tt_store_open(path, 0, 64, why);
    assert_non_null(s);
    return s;
}

static void put_snapshot(tt_store_t *s, uint64_t key, const Tutti__Snapshot *snap)
{
    size_t len = tutti__snapshot__get_packed_size(snap);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    tutti__snapshot__pack(snap, buf);
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_store_snapshot_replace(s, key, buf, len, why), 0);
    free(buf);
}

static Tutti__Snapshot *get_snapshot(tt_store_t *s, uint64_t seq, uint8_t **raw, size_t *len)
{
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_store_snapshot_get(s, seq, raw, len, why), 0);
    Tutti__Snapshot *snap = tutti__snapshot__unpack(NULL, *len, *raw);
    assert_non_null(snap);
    return snap;
}

static void test_replay_ignores_bad_snapshots(void **state)
{
    (void)state;
    tt_session_t s;
    tt_session_init(&s);
    tt_snapshot_replay_t rep;
    uint8_t *raw = NULL, *raw2 = NULL;
    size_t len = 0, len2 = 0;
    char why[TT_WHY_LEN] = "";

    /* One flipped byte in the state: the checksum catches it; the older
     * snapshot is used. Both damaged: the whole log. */
    tt_store_t *st = copy_store("flip");
    assert_int_equal(tt_store_snapshot_get(st, N_RECORDS, &raw, &len, why), 0);
    raw[len / 2] ^= 0x01;
    assert_int_equal(tt_store_snapshot_replace(st, N_RECORDS, raw, len, why), 0);
    free(raw);
    replay(st, 1, &rep, &s);
    assert_int_equal(rep.snapshot_seq, 1280);
    assert_int_equal(rep.folded, N_RECORDS - 1280);
    assert_int_equal(rep.ignored, 1);
    assert_int_equal(tt_store_snapshot_get(st, 1280, &raw, &len, why), 0);
    raw[len - 1] ^= 0x80;
    assert_int_equal(tt_store_snapshot_replace(st, 1280, raw, len, why), 0);
    free(raw);
    replay(st, 1, &rep, &s);
    assert_int_equal(rep.snapshot_seq, 0);
    assert_int_equal(rep.folded, N_RECORDS);
    assert_int_equal(rep.ignored, 2);
    tt_store_destroy(&st);

    /* Another format; another head; stored under another seq. */
    static const char *const cases[] = {"format", "head", "key", "state-seq", "garbage"};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        st = copy_store(cases[c]);
        Tutti__Snapshot *snap = get_snapshot(st, N_RECORDS, &raw, &len);
        Tutti__Snapshot *older = get_snapshot(st, 1280, &raw2, &len2);
        uint8_t other[TT_HASH_LEN];
        uint8_t *wrapped = NULL;
        size_t wrapped_len = 0;
        if (!strcmp(cases[c], "format")) {
            snap->format = TT_SNAPSHOT_FORMAT + 1;
            put_snapshot(st, N_RECORDS, snap);
        } else if (!strcmp(cases[c], "head")) {
            /* A consistent envelope whose head is not record 1500's. */
            memcpy(other, snap->head_hash.data, TT_HASH_LEN);
            other[0] ^= 1;
            assert_int_equal(tt_snapshot_wrap(N_RECORDS, other, NULL, snap->state.data,
                                              snap->state.len, &wrapped, &wrapped_len, why),
                             0);
            assert_int_equal(tt_store_snapshot_replace(st, N_RECORDS, wrapped, wrapped_len, why),
                             0);
        } else if (!strcmp(cases[c], "key")) {
            put_snapshot(st, N_RECORDS, older); /* says 1280, stored as 1500 */
        } else if (!strcmp(cases[c], "state-seq")) {
            /* Envelope of record 1500, state of 1280: restore refuses it. */
            assert_int_equal(tt_snapshot_wrap(N_RECORDS, snap->head_hash.data, NULL,
                                              older->state.data, older->state.len, &wrapped,
                                              &wrapped_len, why),
                             0);
            assert_int_equal(tt_store_snapshot_replace(st, N_RECORDS, wrapped, wrapped_len, why),
                             0);
        } else {
            assert_int_equal(
                tt_store_snapshot_replace(st, N_RECORDS, (const uint8_t *)"\x08\x01", 2, why), 0);
        }
        replay(st, 1, &rep, &s);
        if (rep.snapshot_seq != 1280 || rep.ignored != 1)
            fail_msg("%s: started from %llu, %zu ignored", cases[c],
                     (unsigned long long)rep.snapshot_seq, rep.ignored);
        free(wrapped);
        tutti__snapshot__free_unpacked(snap, NULL);
        tutti__snapshot__free_unpacked(older, NULL);
        free(raw);
        free(raw2);
        tt_store_destroy(&st);
    }

    /* A log signed with another key than the one expected: no snapshot
     * helps; the fold from record 1 refuses it. */
    st = copy_store("key");
    tt_snapshot_fold_t fold = session_fold(&s);
    uint8_t wrong[TT_SIGN_PK_LEN];
    memcpy(wrong, fx->signer->public_key, TT_SIGN_PK_LEN);
    wrong[3] ^= 1;
    assert_int_equal(tt_snapshot_replay(st, &fold, wrong, 1, &rep, why), TT_ERR_CORRUPT);
    assert_non_null(strstr(why, "record 1"));
    tt_session_clear(&s);
    tt_store_destroy(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_at_many_points),
        cmocka_unit_test(test_diff_sees_every_part),
        cmocka_unit_test(test_key_window_roundtrip),
        cmocka_unit_test(test_decode_bounds),
        cmocka_unit_test(test_replay_from_newest_snapshot),
        cmocka_unit_test(test_replay_ignores_bad_snapshots),
    };
    return cmocka_run_group_tests(tests, setup_log, teardown_log);
}
