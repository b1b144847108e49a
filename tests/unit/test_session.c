/* test_session: the fold from records to session state (genesis, notes,
 * per-room trims, records of kinds this build does not know, order), the
 * role x request matrix, the note rules including strict UTF-8, and the
 * trim rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_error.h"
#include "tt_session.h"

static const uint8_t PK[TT_SIGN_PK_LEN] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                           12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                           23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void hash_of(uint64_t seq, uint8_t out[TT_HASH_LEN])
{
    memset(out, (int)(seq & 0xff), TT_HASH_LEN);
    out[0] = 0xaa;
}

static void genesis(Tutti__Record *rec, Tutti__Genesis *g, uint64_t seq, const char *name)
{
    tutti__record__init(rec);
    tutti__genesis__init(g);
    g->signing_public_key.data = (uint8_t *)PK;
    g->signing_public_key.len = sizeof PK;
    g->session_name = (char *)name;
    rec->seq = seq;
    rec->at_unix_ns = 1000;
    rec->body_case = TUTTI__RECORD__BODY_GENESIS;
    rec->genesis = g;
}

static void note(Tutti__Record *rec, Tutti__Note *n, uint64_t seq, int64_t at)
{
    tutti__record__init(rec);
    tutti__note__init(n);
    n->text = "Takt 12";
    rec->seq = seq;
    rec->at_unix_ns = at;
    rec->body_case = TUTTI__RECORD__BODY_NOTE;
    rec->note = n;
}

static void assert_same(const tt_session_t *a, const tt_session_t *b)
{
    assert_int_equal(a->last_seq, b->last_seq);
    assert_memory_equal(a->head_hash, b->head_hash, TT_HASH_LEN);
    assert_memory_equal(a->signing_pk, b->signing_pk, TT_SIGN_PK_LEN);
    assert_string_equal(a->session_name, b->session_name);
    assert_int_equal(a->created_unix_ns, b->created_unix_ns);
    assert_int_equal(a->notes, b->notes);
    assert_int_equal(a->last_note_unix_ns, b->last_note_unix_ns);
    assert_int_equal(a->n_trims, b->n_trims);
    for (size_t i = 0; i < a->n_trims; i++) {
        assert_string_equal(a->trims[i].room, b->trims[i].room);
        assert_int_equal(a->trims[i].trim_ns, b->trims[i].trim_ns);
    }
}

static void trim(Tutti__Record *rec, Tutti__Trim *t, uint64_t seq, const char *room,
                 int64_t trim_ns)
{
    tutti__record__init(rec);
    tutti__trim__init(t);
    t->room = (char *)room;
    t->trim_ns = trim_ns;
    rec->seq = seq;
    rec->body_case = TUTTI__RECORD__BODY_TRIM;
    rec->trim = t;
}

static int apply(tt_session_t *s, const Tutti__Record *rec)
{
    uint8_t h[TT_HASH_LEN];
    hash_of(rec->seq, h);
    char why[TT_WHY_LEN] = "";
    return tt_session_apply(s, rec, h, why);
}

/* ---- the fold ---- */

static void test_init(void **state)
{
    (void)state;
    tt_session_t s;
    memset(&s, 0x5a, sizeof s);
    tt_session_init(&s);
    assert_int_equal(s.last_seq, 0);
    assert_int_equal(s.notes, 0);
    assert_string_equal(s.session_name, "");
    static const uint8_t zero[TT_HASH_LEN];
    assert_memory_equal(s.head_hash, zero, TT_HASH_LEN);
    assert_memory_equal(s.signing_pk, zero, TT_SIGN_PK_LEN);
}

static void test_fold(void **state)
{
    (void)state;
    tt_session_t s;
    tt_session_init(&s);
    Tutti__Record rec;
    Tutti__Genesis g;
    Tutti__Note n;
    genesis(&rec, &g, 1, "Probe Mahler 5");
    assert_int_equal(apply(&s, &rec), 0);
    assert_int_equal(s.last_seq, 1);
    assert_int_equal(s.notes, 0);
    assert_string_equal(s.session_name, "Probe Mahler 5");
    assert_memory_equal(s.signing_pk, PK, TT_SIGN_PK_LEN);
    assert_int_equal(s.created_unix_ns, 1000);
    uint8_t h[TT_HASH_LEN];
    hash_of(1, h);
    assert_memory_equal(s.head_hash, h, TT_HASH_LEN);

    for (uint64_t i = 2; i <= 10; i++) {
        note(&rec, &n, i, (int64_t)i * 100);
        assert_int_equal(apply(&s, &rec), 0);
        assert_int_equal(s.last_seq, i);
        assert_int_equal(s.notes, i - 1);
        assert_int_equal(s.last_note_unix_ns, (int64_t)i * 100);
        hash_of(i, h);
        assert_memory_equal(s.head_hash, h, TT_HASH_LEN);
    }
    /* Genesis facts are kept. */
    assert_string_equal(s.session_name, "Probe Mahler 5");
    assert_memory_equal(s.signing_pk, PK, TT_SIGN_PK_LEN);
    assert_int_equal(s.created_unix_ns, 1000);

    /* A record of a kind this build does not know still moves the head. */
    tutti__record__init(&rec);
    rec.seq = 11;
    assert_int_equal(apply(&s, &rec), 0);
    assert_int_equal(s.last_seq, 11);
    assert_int_equal(s.notes, 9);
    hash_of(11, h);
    assert_memory_equal(s.head_hash, h, TT_HASH_LEN);
}

/* Idempotency keys: the fold remembers which record carried each key, a
 * fold from scratch (a restart) finds the same, and only the last
 * TT_SESSION_KEY_WINDOW keys are kept. */
static void key_of(uint8_t key[TT_SESSION_KEY_LEN], uint32_t n)
{
    memset(key, 0x42, TT_SESSION_KEY_LEN);
    memcpy(key, &n, sizeof n);
}

static void fold_keyed(tt_session_t *s, uint64_t n_notes)
{
    Tutti__Record rec;
    Tutti__Genesis g;
    Tutti__Note n;
    Tutti__Trim t;
    uint8_t key[TT_SESSION_KEY_LEN];
    genesis(&rec, &g, 1, "keys");
    assert_int_equal(apply(s, &rec), 0);
    for (uint64_t seq = 2; seq < n_notes + 2; seq++) { /* note i carries key i */
        note(&rec, &n, seq, 0);
        key_of(key, (uint32_t)seq);
        rec.idempotency_key.data = key;
        rec.idempotency_key.len = sizeof key;
        assert_int_equal(apply(s, &rec), 0);
    }
    /* A record without a key, and one with a key of another length: they
     * fold, neither is remembered. */
    trim(&rec, &t, n_notes + 2, "stage", 5);
    assert_int_equal(apply(s, &rec), 0);
    note(&rec, &n, n_notes + 3, 0);
    rec.idempotency_key.data = key;
    rec.idempotency_key.len = 15;
    assert_int_equal(apply(s, &rec), 0);
}

static void test_idempotency_keys(void **state)
{
    (void)state;
    tt_session_t s;
    tt_session_init(&s);
    uint8_t key[TT_SESSION_KEY_LEN];
    ProtobufCBinaryData k = {sizeof key, key};
    Tutti__Record__BodyCase kind = TUTTI__RECORD__BODY_TRIM;
    key_of(key, 2);
    assert_int_equal(tt_session_find_key(&s, &k, &kind), 0); /* nothing folded */
    assert_int_equal(kind, TUTTI__RECORD__BODY__NOT_SET);

    fold_keyed(&s, 100);
    for (uint32_t i = 2; i < 102; i++) {
        key_of(key, i);
        assert_int_equal(tt_session_find_key(&s, &k, &kind), i);
        assert_int_equal(kind, TUTTI__RECORD__BODY_NOTE);
    }
    key_of(key, 102); /* the unkeyed trim's seq: no key */
    assert_int_equal(tt_session_find_key(&s, &k, NULL), 0);
    k.len = 15; /* not a key */
    key_of(key, 2);
    assert_int_equal(tt_session_find_key(&s, &k, NULL), 0);
    k.len = sizeof key;

    /* Folded again from scratch (the coordinator's restart): the same. */
    tt_session_clear(&s);
    assert_null(s.keys);
    assert_int_equal(tt_session_find_key(&s, &k, NULL), 0);
    fold_keyed(&s, 100);
    key_of(key, 57);
    assert_int_equal(tt_session_find_key(&s, &k, NULL), 57);
    tt_session_clear(&s);

    /* The window: of WINDOW + 10 keyed records the first 10 are forgotten. */
    fold_keyed(&s, TT_SESSION_KEY_WINDOW + 10);
    assert_int_equal(tt_idem_count(s.keys), TT_SESSION_KEY_WINDOW);
    for (uint32_t i = 2; i < 12; i++) {
        key_of(key, i);
        assert_int_equal(tt_session_find_key(&s, &k, NULL), 0);
    }
    for (uint32_t i = 12; i < TT_SESSION_KEY_WINDOW + 12; i += 997) {
        key_of(key, i);
        assert_int_equal(tt_session_find_key(&s, &k, NULL), i);
    }
    key_of(key, TT_SESSION_KEY_WINDOW + 11);
    assert_int_equal(tt_session_find_key(&s, &k, NULL), TT_SESSION_KEY_WINDOW + 11);
    tt_session_clear(&s);
}

static void test_out_of_order(void **state)
{
    (void)state;
    tt_session_t s;
    tt_session_init(&s);
    Tutti__Record rec;
    Tutti__Genesis g;
    Tutti__Note n;
    char why[TT_WHY_LEN] = "";
    uint8_t h[TT_HASH_LEN] = {0};

    /* Nothing before genesis at 1. */
    note(&rec, &n, 2, 5);
    assert_int_equal(tt_session_apply(&s, &rec, h, why), TT_ERR_INVALID);
    assert_true(strlen(why) > 0);
    note(&rec, &n, 0, 5);
    assert_int_equal(apply(&s, &rec), TT_ERR_INVALID);
    assert_int_equal(s.last_seq, 0);

    genesis(&rec, &g, 1, "x");
    assert_int_equal(apply(&s, &rec), 0);
    note(&rec, &n, 2, 5);
    assert_int_equal(apply(&s, &rec), 0);

    tt_session_t before = s;
    const uint64_t wrong[] = {0, 1, 2, 4, 100, UINT64_MAX};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        note(&rec, &n, wrong[i], 99);
        assert_int_equal(apply(&s, &rec), TT_ERR_INVALID);
        assert_same(&s, &before); /* refused means unchanged */
    }
    /* A second genesis is refused, also in sequence. */
    genesis(&rec, &g, 3, "hijack");
    assert_int_equal(apply(&s, &rec), TT_ERR_INVALID);
    assert_same(&s, &before);
    note(&rec, &n, 3, 99);
    assert_int_equal(apply(&s, &rec), 0);
}

static void test_genesis_checks(void **state)
{
    (void)state;
    tt_session_t s;
    Tutti__Record rec;
    Tutti__Genesis g;
    /* A genesis whose key is not 32 bytes. */
    tt_session_init(&s);
    genesis(&rec, &g, 1, "x");
    g.signing_public_key.len = TT_SIGN_PK_LEN - 1;
    assert_int_equal(apply(&s, &rec), TT_ERR_INVALID);
    assert_int_equal(s.last_seq, 0);
    /* No session name: empty, not a crash. */
    genesis(&rec, &g, 1, NULL);
    assert_int_equal(apply(&s, &rec), 0);
    assert_string_equal(s.session_name, "");
    /* A long session name is cut, NUL-terminated. */
    char longname[TT_SESSION_MAX_NAME * 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    tt_session_init(&s);
    genesis(&rec, &g, 1, longname);
    assert_int_equal(apply(&s, &rec), 0);
    assert_int_equal(strlen(s.session_name), TT_SESSION_MAX_NAME);
}

/* ---- who may do what ---- */

static void test_may_matrix(void **state)
{
    (void)state;
    const tt_role_t roles[] = {TT_ROLE_NONE,       TT_ROLE_OPERATOR, TT_ROLE_ROOM,
                               TT_ROLE_CONTRACTOR, TT_ROLE_OBSERVER, TT_ROLE_RELAY};
    const tt_request_t reqs[] = {TT_REQ_HELLO, TT_REQ_HEARTBEAT, TT_REQ_STATUS,     TT_REQ_FETCH,
                                 TT_REQ_NOTE,  TT_REQ_TRIM,      TT_REQ_TEMPO_LOAD, TT_REQ_ROLL,
                                 TT_REQ_STOP,  TT_REQ_CUE_ADD,   TT_REQ_ARM};
    for (size_t r = 0; r < sizeof roles / sizeof *roles; r++) {
        for (size_t q = 0; q < sizeof reqs / sizeof *reqs; q++) {
            int allowed;
            if (roles[r] == TT_ROLE_NONE)
                allowed = 0;
            else if (reqs[q] >= TT_REQ_NOTE)
                allowed = roles[r] == TT_ROLE_OPERATOR; /* writes: operator only */
            else
                allowed = 1;
            char why[TT_WHY_LEN] = "";
            int rc = tt_session_may(roles[r], reqs[q], why);
            if (allowed && rc != 0)
                fail_msg("%s refused request %d: %s", tt_role_name(roles[r]), (int)reqs[q], why);
            if (!allowed) {
                if (rc != TT_ERR_DENIED)
                    fail_msg("%s allowed request %d", tt_role_name(roles[r]), (int)reqs[q]);
                assert_non_null(strstr(why, tt_role_name(roles[r])));
            }
        }
    }
    /* Out-of-range values are refused. */
    char why[TT_WHY_LEN];
    assert_int_equal(tt_session_may((tt_role_t)99, TT_REQ_NOTE, why), TT_ERR_DENIED);
    assert_int_equal(tt_session_may(TT_ROLE_OPERATOR, (tt_request_t)99, why), TT_ERR_DENIED);
    assert_int_equal(tt_session_may(TT_ROLE_NONE, (tt_request_t)-1, why), TT_ERR_DENIED);
}

/* ---- notes ---- */

static void expect_note(const char *text, int rc)
{
    tt_session_t s;
    tt_session_init(&s);
    char why[TT_WHY_LEN] = "";
    int got = tt_session_check_note(&s, text, why);
    if (got != rc)
        fail_msg("note '%s': got %d (%s), want %d", text ? text : "(null)", got, why, rc);
    if (rc != 0)
        assert_true(strlen(why) > 0);
}

static void test_note_rules(void **state)
{
    (void)state;
    expect_note("Takt 12 – Hörner tacet ♩", 0);
    expect_note("a", 0);
    expect_note("tab\tand\nnewline", 0);
    expect_note("𝄞 G clef (4 bytes)", 0);
    expect_note("\xef\xbf\xbd", 0);     /* U+FFFD */
    expect_note("\xf4\x8f\xbf\xbf", 0); /* U+10FFFF, the last one */
    expect_note("\xed\x9f\xbf", 0);     /* U+D7FF, just below the surrogates */
    expect_note("\xee\x80\x80", 0);     /* U+E000, just above */
    expect_note("\xc2\x80", 0);         /* U+0080, smallest two-byte */
    expect_note("\xe0\xa0\x80", 0);     /* U+0800, smallest three-byte */
    expect_note("\xf0\x90\x80\x80", 0); /* U+10000, smallest four-byte */

    expect_note("", TT_ERR_INVALID);
    expect_note(NULL, TT_ERR_INVALID);
    expect_note("\xc0\xaf", TT_ERR_INVALID);         /* overlong '/' */
    expect_note("\xc1\xbf", TT_ERR_INVALID);         /* overlong */
    expect_note("\xe0\x80\xaf", TT_ERR_INVALID);     /* overlong, three bytes */
    expect_note("\xe0\x9f\xbf", TT_ERR_INVALID);     /* overlong U+07FF */
    expect_note("\xf0\x80\x80\xaf", TT_ERR_INVALID); /* overlong, four bytes */
    expect_note("\xf0\x8f\xbf\xbf", TT_ERR_INVALID); /* overlong U+FFFF */
    expect_note("\xed\xa0\x80", TT_ERR_INVALID);     /* surrogate U+D800 */
    expect_note("\xed\xbf\xbf", TT_ERR_INVALID);     /* surrogate U+DFFF */
    expect_note("\xe2\x82", TT_ERR_INVALID);         /* truncated */
    expect_note("ok \xe2\x82", TT_ERR_INVALID);      /* truncated at the end */
    expect_note("\xe2\x82 x", TT_ERR_INVALID);       /* truncated in the middle */
    expect_note("\xf4\x90\x80\x80", TT_ERR_INVALID); /* U+110000 */
    expect_note("\xf5\x80\x80\x80", TT_ERR_INVALID);
    expect_note("\xf8\x88\x80\x80\x80", TT_ERR_INVALID); /* five bytes */
    expect_note("\x80", TT_ERR_INVALID);                 /* lone continuation */
    expect_note("a\xbf", TT_ERR_INVALID);
    expect_note("\xfe", TT_ERR_INVALID);
    expect_note("\xff", TT_ERR_INVALID);
    expect_note("\xc3\x28", TT_ERR_INVALID); /* bad continuation */
}

static void test_note_length(void **state)
{
    (void)state;
    char *text = malloc(TT_NOTE_MAX_TEXT + 2);
    assert_non_null(text);
    memset(text, 'a', TT_NOTE_MAX_TEXT + 1);
    text[TT_NOTE_MAX_TEXT + 1] = '\0';
    expect_note(text, TT_ERR_INVALID);
    text[TT_NOTE_MAX_TEXT] = '\0';
    expect_note(text, 0);
    /* The limit is in bytes: 4096 bytes of 'ä' (2 bytes each) is fine, one more is not. */
    for (size_t i = 0; i < TT_NOTE_MAX_TEXT; i += 2)
        memcpy(text + i, "\xc3\xa4", 2);
    text[TT_NOTE_MAX_TEXT] = '\0';
    expect_note(text, 0);
    text[TT_NOTE_MAX_TEXT] = 'a';
    text[TT_NOTE_MAX_TEXT + 1] = '\0';
    expect_note(text, TT_ERR_INVALID);
    free(text);
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(tt_utf8_valid("", 0));
    assert_true(tt_utf8_valid("\xe2\x82\xac", 3));
    assert_false(tt_utf8_valid("\xe2\x82\xac", 2)); /* cut by n, not by NUL */
    assert_true(tt_utf8_valid("a\0b", 3));          /* NUL is U+0000, valid UTF-8 */
    assert_false(tt_utf8_valid("\xc0\x80", 2));     /* overlong NUL */
    /* Every single byte: ASCII yes, anything else alone no. */
    for (int c = 0; c < 256; c++) {
        char b = (char)c;
        assert_int_equal(tt_utf8_valid(&b, 1), c < 0x80);
    }
    /* Every two-byte sequence, against a straightforward reference. */
    for (int a = 0xc0; a < 0x100; a++) {
        for (int b = 0; b < 0x100; b++) {
            char s[2] = {(char)a, (char)b};
            int ok = a >= 0xc2 && a <= 0xdf && (b & 0xc0) == 0x80;
            assert_int_equal(tt_utf8_valid(s, 2), ok);
        }
    }
    /* Every three-byte sequence from E0..EF with continuation bytes. */
    for (int a = 0xe0; a <= 0xef; a++) {
        for (int b = 0x80; b < 0xc0; b++) {
            char s[3] = {(char)a, (char)b, (char)0x80};
            unsigned cp = ((unsigned)(a & 0x0f) << 12) | ((unsigned)(b & 0x3f) << 6);
            int ok = cp >= 0x800 && !(cp >= 0xd800 && cp <= 0xdfff);
            assert_int_equal(tt_utf8_valid(s, 3), ok);
        }
    }
    /* Four-byte leads F0..F7 with every second byte. */
    for (int a = 0xf0; a <= 0xf7; a++) {
        for (int b = 0x80; b < 0xc0; b++) {
            char s[4] = {(char)a, (char)b, (char)0x80, (char)0x80};
            unsigned cp = ((unsigned)(a & 0x07) << 18) | ((unsigned)(b & 0x3f) << 12);
            int ok = cp >= 0x10000 && cp <= 0x10ffff;
            assert_int_equal(tt_utf8_valid(s, 4), ok);
        }
    }
}

/* ---- trims ---- */

static void test_trim_fold(void **state)
{
    (void)state;
    tt_session_t *s = malloc(sizeof *s);
    assert_non_null(s);
    tt_session_init(s);
    Tutti__Record rec;
    Tutti__Genesis g;
    Tutti__Trim t;
    genesis(&rec, &g, 1, "x");
    assert_int_equal(apply(s, &rec), 0);
    assert_int_equal(s->n_trims, 0);
    assert_int_equal(tt_session_trim_ns(s, "stage"), 0);

    trim(&rec, &t, 2, "stage", 1500);
    assert_int_equal(apply(s, &rec), 0);
    trim(&rec, &t, 3, "pit", -2500);
    assert_int_equal(apply(s, &rec), 0);
    assert_int_equal(tt_session_trim_ns(s, "stage"), 1500);
    assert_int_equal(tt_session_trim_ns(s, "pit"), -2500);
    assert_int_equal(tt_session_trim_ns(s, "sta"), 0); /* names are exact */
    assert_int_equal(tt_session_trim_ns(s, "stage2"), 0);
    assert_int_equal(s->n_trims, 2);
    /* Latest wins, without a second entry. */
    trim(&rec, &t, 4, "stage", -7);
    assert_int_equal(apply(s, &rec), 0);
    assert_int_equal(tt_session_trim_ns(s, "stage"), -7);
    assert_int_equal(s->n_trims, 2);
    trim(&rec, &t, 5, "stage", 0);
    assert_int_equal(apply(s, &rec), 0);
    assert_int_equal(tt_session_trim_ns(s, "stage"), 0);
    assert_int_equal(s->last_seq, 5);
    assert_int_equal(s->notes, 0);
    /* Out of order is refused like any record. */
    trim(&rec, &t, 5, "pit", 1);
    assert_int_equal(apply(s, &rec), TT_ERR_INVALID);
    assert_int_equal(tt_session_trim_ns(s, "pit"), -2500);

    /* Up to TT_SESSION_MAX_ROOMS rooms; one more is refused and changes nothing. */
    uint64_t seq = 6;
    for (int i = (int)s->n_trims; i < TT_SESSION_MAX_ROOMS; i++) {
        char room[32];
        snprintf(room, sizeof room, "room-%d", i);
        trim(&rec, &t, seq++, room, i);
        assert_int_equal(apply(s, &rec), 0);
    }
    assert_int_equal(s->n_trims, TT_SESSION_MAX_ROOMS);
    assert_int_equal(tt_session_trim_ns(s, "room-100"), 100);
    tt_session_t *before = malloc(sizeof *before);
    assert_non_null(before);
    memcpy(before, s, sizeof *s);
    trim(&rec, &t, seq, "one-too-many", 1);
    assert_int_equal(apply(s, &rec), TT_ERR_INVALID);
    assert_same(s, before);
    /* A known room may still change. */
    trim(&rec, &t, seq, "pit", 9);
    assert_int_equal(apply(s, &rec), 0);
    assert_int_equal(tt_session_trim_ns(s, "pit"), 9);

    /* A room name longer than any access-file name is refused. */
    tt_session_init(s);
    genesis(&rec, &g, 1, "x");
    assert_int_equal(apply(s, &rec), 0);
    char longname[TT_ACCESS_MAX_NAME + 2];
    memset(longname, 'r', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    trim(&rec, &t, 2, longname, 1);
    assert_int_equal(apply(s, &rec), TT_ERR_INVALID);
    assert_int_equal(s->n_trims, 0);
    longname[TT_ACCESS_MAX_NAME] = '\0';
    assert_int_equal(apply(s, &rec), 0);
    assert_int_equal(tt_session_trim_ns(s, longname), 1);
    free(before);
    free(s);
}

static void test_trim_rules(void **state)
{
    (void)state;
    tt_session_t *s = malloc(sizeof *s);
    assert_non_null(s);
    tt_session_init(s);
    char why[TT_WHY_LEN] = "";
    assert_int_equal(tt_session_check_trim(s, "stage", 1, 0, why), 0);
    assert_int_equal(tt_session_check_trim(s, "stage", 1, TT_TRIM_MAX_NS, why), 0);
    assert_int_equal(tt_session_check_trim(s, "stage", 1, -TT_TRIM_MAX_NS, why), 0);
    assert_int_equal(tt_session_check_trim(s, "stage", 1, TT_TRIM_MAX_NS + 1, why), TT_ERR_INVALID);
    assert_int_equal(tt_session_check_trim(s, "stage", 1, -TT_TRIM_MAX_NS - 1, why),
                     TT_ERR_INVALID);
    assert_int_equal(tt_session_check_trim(s, "stage", 1, INT64_MAX, why), TT_ERR_INVALID);
    assert_int_equal(tt_session_check_trim(s, "stage", 1, INT64_MIN, why), TT_ERR_INVALID);
    why[0] = '\0';
    assert_int_equal(tt_session_check_trim(s, "conductor", 0, 10, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "conductor"));
    assert_int_equal(tt_session_check_trim(s, "", 1, 10, why), TT_ERR_INVALID);
    assert_int_equal(tt_session_check_trim(s, NULL, 1, 10, why), TT_ERR_INVALID);

    /* With every room slot taken, only known rooms may be trimmed. */
    Tutti__Record rec;
    Tutti__Genesis g;
    Tutti__Trim t;
    genesis(&rec, &g, 1, "x");
    assert_int_equal(apply(s, &rec), 0);
    for (int i = 0; i < TT_SESSION_MAX_ROOMS; i++) {
        char room[32];
        snprintf(room, sizeof room, "room-%d", i);
        trim(&rec, &t, (uint64_t)i + 2, room, 1);
        assert_int_equal(apply(s, &rec), 0);
    }
    assert_int_equal(tt_session_check_trim(s, "room-7", 1, 5, why), 0);
    assert_int_equal(tt_session_check_trim(s, "room-new", 1, 5, why), TT_ERR_INVALID);
    free(s);
}

/* ---- transport and takes ---- */

static int apply_body(tt_session_t *s, uint64_t seq, Tutti__Record *rec)
{
    rec->seq = seq;
    return apply(s, rec);
}

static void test_transport_and_takes(void **state)
{
    (void)state;
    tt_session_t s;
    tt_session_init(&s);
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Genesis g = TUTTI__GENESIS__INIT;
    genesis(&rec, &g, 1, "takes");
    assert_int_equal(apply(&s, &rec), 0);
    char why[TT_WHY_LEN];
    const int64_t now = 1000;
    assert_string_equal(tt_session_transport_name(&s, now), "idle");
    assert_int_not_equal(tt_session_check_arm(&s, "1M1", now, why), 0); /* no such cue */
    assert_non_null(strstr(why, "no cue 1M1"));

    Tutti__Record add = TUTTI__RECORD__INIT;
    Tutti__CueAdd ca = TUTTI__CUE_ADD__INIT;
    ca.cue = "1M1";
    ca.title = "Main Title";
    add.body_case = TUTTI__RECORD__BODY_CUE_ADD;
    add.cue_add = &ca;
    assert_int_equal(apply_body(&s, 2, &add), 0);
    assert_int_not_equal(tt_session_check_cue_add(&s, "1M1", "x", why), 0);
    assert_int_equal(tt_session_check_arm(&s, "1M1", now, why), 0);
    assert_int_not_equal(tt_session_check_roll(&s, "1M1", 1, now, why), 0); /* not armed */
    assert_non_null(strstr(why, "transport is idle"));

    Tutti__Record arm = TUTTI__RECORD__INIT;
    Tutti__Arm a = TUTTI__ARM__INIT;
    a.cue = "1M1";
    arm.body_case = TUTTI__RECORD__BODY_ARM;
    arm.arm = &a;
    assert_int_equal(apply_body(&s, 3, &arm), 0);
    assert_string_equal(tt_session_transport_name(&s, now), "armed");
    assert_int_not_equal(tt_session_check_roll(&s, "1M1", 1, now, why), 0); /* no map */
    assert_non_null(strstr(why, "no tempo map"));
    assert_int_equal(tt_session_next_take(&s, "1M1"), 1);

    Tutti__Record roll = TUTTI__RECORD__INIT;
    Tutti__Roll r = TUTTI__ROLL__INIT;
    r.cue = "1M1";
    r.from_bar = 1;
    r.start_session_ns = 2000;
    r.downbeat_session_ns = 3000;
    r.take = 1;
    roll.body_case = TUTTI__RECORD__BODY_ROLL;
    roll.roll = &r;
    assert_int_equal(apply_body(&s, 4, &roll), 0);
    assert_string_equal(tt_session_transport_name(&s, 2500), "count-in");
    assert_string_equal(tt_session_transport_name(&s, 3500), "rolling");
    assert_int_not_equal(tt_session_check_arm(&s, "1M1", 3500, why), 0);
    assert_non_null(strstr(why, "allowed now: stop"));
    const char *open_cue = NULL;
    const tt_session_take_t *open = tt_session_open_take(&s, &open_cue);
    assert_non_null(open);
    assert_int_equal(open->number, 1);
    assert_string_equal(open_cue, "1M1");
    assert_int_equal(tt_session_next_take(&s, "1M1"), 2);

    /* The coordinator died: the take is closed as interrupted; numbers go on. */
    Tutti__Record ti = TUTTI__RECORD__INIT;
    Tutti__TakeInterrupted t = TUTTI__TAKE_INTERRUPTED__INIT;
    t.cue = "1M1";
    t.take = 1;
    t.at_session_ns = 5000;
    ti.body_case = TUTTI__RECORD__BODY_TAKE_INTERRUPTED;
    ti.take_interrupted = &t;
    assert_int_equal(apply_body(&s, 5, &ti), 0);
    assert_null(tt_session_open_take(&s, NULL));
    assert_string_equal(tt_session_transport_name(&s, 6000), "stopped");
    assert_int_not_equal(tt_session_check_stop(&s, 6000, why), 0);
    const tt_session_cue_t *c = tt_session_find_cue(&s, "1M1");
    assert_int_equal(c->n_takes, 1);
    assert_int_equal(c->takes[0].state, TT_TAKE_INTERRUPTED);
    assert_int_equal(c->takes[0].end_session_ns, 5000);
    assert_int_equal(tt_session_next_take(&s, "1M1"), 2);
    assert_string_equal(c->title, "Main Title");
    tt_session_clear(&s);
}

/* The contractor's call and media arrivals fold like everything else. */
static void test_call_and_media(void **state)
{
    (void)state;
    tt_session_t s;
    tt_session_init(&s);
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Genesis g = TUTTI__GENESIS__INIT;
    genesis(&rec, &g, 1, "call");
    assert_int_equal(apply(&s, &rec), 0);
    char why[TT_WHY_LEN];
    char text[TT_RULES_MAX_TEXT];
    assert_true(tt_rules_format(tt_rules_preset("afm-film-la"), text, sizeof text) >= 0);

    assert_int_not_equal(tt_session_check_call(&s, "break-start", NULL, NULL, why), 0);
    assert_int_not_equal(tt_session_check_call(&s, "start", "", NULL, why), 0);
    assert_non_null(strstr(why, "rules"));
    assert_int_not_equal(tt_session_check_call(&s, "start", "[rules]\nid = x\n", NULL, why), 0);
    tt_rules_t parsed;
    assert_int_equal(tt_session_check_call(&s, "start", text, &parsed, why), 0);
    assert_string_equal(parsed.id, "afm-film-la");

    const int64_t t0 = 1764000000000000000LL, min = 60000000000LL;
    Tutti__Record ev = TUTTI__RECORD__INIT;
    Tutti__CallEvent ce = TUTTI__CALL_EVENT__INIT;
    ev.body_case = TUTTI__RECORD__BODY_CALL_EVENT;
    ev.call_event = &ce;
    ce.action = "start";
    ce.rules_text = text;
    ev.at_unix_ns = t0;
    assert_int_equal(apply_body(&s, 2, &ev), 0);
    assert_true(s.call.started);
    assert_int_equal(s.call.rules.call_minutes, 180);
    ce.action = "break-start";
    ce.rules_text = "";
    ev.at_unix_ns = t0 + 60 * min;
    assert_int_equal(apply_body(&s, 3, &ev), 0);
    assert_int_not_equal(tt_session_check_call(&s, "break-start", NULL, NULL, why), 0);
    ce.action = "break-end";
    ev.at_unix_ns = t0 + 70 * min;
    assert_int_equal(apply_body(&s, 4, &ev), 0);
    tt_call_clock_t k;
    tt_call_clock(&s.call, t0 + 185 * min, &k);
    assert_int_equal(k.breaks_taken, 1);
    assert_int_equal(k.overtime_units, 1); /* 5 minutes into 15-minute units */
    /* A record the rules refuse does not fold (a replica of a bad log stops). */
    ce.action = "break-end";
    assert_int_not_equal(apply_body(&s, 5, &ev), 0);
    assert_int_equal(s.last_seq, 4);

    /* Roles: the contractor and the operator run the call, nobody else. */
    assert_int_equal(tt_session_may(TT_ROLE_CONTRACTOR, TT_REQ_CALL, why), 0);
    assert_int_equal(tt_session_may(TT_ROLE_OPERATOR, TT_REQ_CALL, why), 0);
    assert_int_equal(tt_session_may(TT_ROLE_OBSERVER, TT_REQ_CALL, why), TT_ERR_DENIED);
    assert_int_equal(tt_session_may(TT_ROLE_ROOM, TT_REQ_CALL, why), TT_ERR_DENIED);

    /* Punch ranges. */
    assert_int_equal(tt_session_check_punch(1, 0, 0, why), 0);
    assert_int_equal(tt_session_check_punch(5, 9, 13, why), 0);
    assert_int_not_equal(tt_session_check_punch(5, 4, 13, why), 0);
    assert_int_not_equal(tt_session_check_punch(5, 9, 9, why), 0);
    assert_int_not_equal(tt_session_check_punch(5, 9, 0, why), 0);

    /* Media: a take gains the rooms whose files arrived. */
    Tutti__Record roll = TUTTI__RECORD__INIT;
    Tutti__Roll r = TUTTI__ROLL__INIT;
    r.cue = "1M1";
    r.from_bar = 1;
    r.take = 1;
    r.punch_in_bar = 3;
    r.punch_out_bar = 5;
    roll.body_case = TUTTI__RECORD__BODY_ROLL;
    roll.roll = &r;
    assert_int_equal(apply_body(&s, 5, &roll), 0);
    Tutti__Record media = TUTTI__RECORD__INIT;
    Tutti__Media m = TUTTI__MEDIA__INIT;
    m.cue = "1M1";
    m.take = 1;
    m.room = "stage";
    m.input = "in1";
    media.body_case = TUTTI__RECORD__BODY_MEDIA;
    media.media = &m;
    assert_int_equal(apply_body(&s, 6, &media), 0);
    m.input = "in2";
    assert_int_equal(apply_body(&s, 7, &media), 0);
    m.room = "london";
    assert_int_equal(apply_body(&s, 8, &media), 0);
    const tt_session_take_t *t = &tt_session_find_cue(&s, "1M1")->takes[0];
    char rooms[256];
    tt_media_rooms(&s.media, "1M1", 1, rooms, sizeof rooms);
    assert_string_equal(rooms, "stage+london");
    assert_int_equal(tt_media_count(&s.media, "1M1", 1), 3);
    assert_int_equal(t->punch_in_bar, 3);
    assert_true(tt_media_has_room(&s.media, "1M1", 1, "london"));
    assert_false(tt_media_has_room(&s.media, "1M1", 1, "lond"));
    m.take = 9; /* no such take */
    assert_int_not_equal(apply_body(&s, 9, &media), 0);
    tt_session_clear(&s);
}

/* The roll gate and the open changes: pure over the folded changes and acks
 * and the rooms the caller names (online, or in the access file). */
static void test_gate_and_not_acked(void **state)
{
    (void)state;
    tt_session_t s;
    tt_session_init(&s);
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Genesis g = TUTTI__GENESIS__INIT;
    genesis(&rec, &g, 1, "gate");
    assert_int_equal(apply(&s, &rec), 0);
    Tutti__Record add = TUTTI__RECORD__INIT;
    Tutti__CueAdd ca = TUTTI__CUE_ADD__INIT;
    add.body_case = TUTTI__RECORD__BODY_CUE_ADD;
    add.cue_add = &ca;
    ca.cue = "1M1";
    assert_int_equal(apply_body(&s, 2, &add), 0);
    ca.cue = "1M2";
    assert_int_equal(apply_body(&s, 3, &add), 0);
    Tutti__Record chg = TUTTI__RECORD__INIT;
    Tutti__Change c = TUTTI__CHANGE__INIT;
    chg.body_case = TUTTI__RECORD__BODY_CHANGE;
    chg.change = &c;
    c.cue = "1M1";
    c.text = "bars 12-16 horns tacet";
    assert_int_equal(apply_body(&s, 4, &chg), 0); /* change 4 */
    c.text = "tempo 92";
    assert_int_equal(apply_body(&s, 5, &chg), 0); /* change 5 */
    c.cue = "1M2";
    assert_int_equal(apply_body(&s, 6, &chg), 0); /* change 6, another cue */
    Tutti__Record ack = TUTTI__RECORD__INIT;
    Tutti__Ack a = TUTTI__ACK__INIT;
    ack.body_case = TUTTI__RECORD__BODY_ACK;
    ack.ack = &a;
    a.change = 4;
    ack.actor = "stage";
    assert_int_equal(apply_body(&s, 7, &ack), 0);

    const char *rooms[] = {"stage", "london-strings", "home"};
    const char *out[3];
    assert_int_equal(tt_session_not_acked(&s.changes[0], rooms, 3, out), 2);
    assert_string_equal(out[0], "london-strings");
    assert_string_equal(out[1], "home");
    assert_ptr_equal(out[0], rooms[1]); /* the caller's names */
    assert_int_equal(tt_session_not_acked(&s.changes[1], rooms, 3, out), 3);
    assert_int_equal(tt_session_not_acked(&s.changes[0], rooms, 0, out), 0);

    char why[TT_WHY_LEN] = "";
    tt_session_gate_t gate;
    /* Only the online rooms count: stage (acked 4, not 5) and london. */
    const char *online[] = {"stage", "london-strings"};
    assert_int_equal(tt_session_roll_gate(&s, "1M1", online, 2, 0, &gate, why), TT_ERR_INVALID);
    assert_int_equal(gate.n, 2);
    assert_string_equal(gate.rooms[0], "london-strings"); /* first missing at change 4 */
    assert_string_equal(gate.rooms[1], "stage");          /* then at change 5 */
    assert_string_equal(gate.missing, "london-strings (change 4), stage (change 5)");
    assert_string_equal(why, "not every room has seen the changes to 1M1: london-strings "
                             "(change 4), stage (change 5) have not acked; tutti ack CHANGE "
                             "in those rooms, or roll --force");
    /* --force lets it through and still says who had not acked. */
    why[0] = '\0';
    assert_int_equal(tt_session_roll_gate(&s, "1M1", online, 2, 1, &gate, why), 0);
    assert_int_equal(gate.n, 2);
    assert_string_equal(why, "");
    /* An offline room does not hold the roll; other cues' changes do not either. */
    assert_int_equal(tt_session_roll_gate(&s, "1M1", online, 0, 0, &gate, why), 0);
    assert_int_equal(gate.n, 0);
    assert_string_equal(gate.missing, "");
    assert_int_equal(tt_session_roll_gate(&s, "2M1", online, 2, 0, &gate, why), 0);
    /* Every ack in: the gate opens. */
    ack.actor = "london-strings";
    assert_int_equal(apply_body(&s, 8, &ack), 0);
    a.change = 5;
    assert_int_equal(apply_body(&s, 9, &ack), 0);
    ack.actor = "stage";
    assert_int_equal(apply_body(&s, 10, &ack), 0);
    assert_int_equal(tt_session_roll_gate(&s, "1M1", online, 2, 0, &gate, why), 0);
    assert_int_equal(gate.n, 0);
    assert_int_equal(tt_session_roll_gate(&s, "1M2", online, 2, 0, &gate, why), TT_ERR_INVALID);
    assert_string_equal(gate.missing, "stage (change 6), london-strings (change 6)");
    tt_session_clear(&s);
}

/* Attendance and the call history fold for the report: a stay per
 * check-in closed by its check-out (outs before ins within a record), every
 * call event the call took, the roll's wall time on its take. */
static void test_attendance_and_call_history(void **state)
{
    (void)state;
    tt_session_t s;
    tt_session_init(&s);
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Genesis g = TUTTI__GENESIS__INIT;
    genesis(&rec, &g, 1, "attendance");
    assert_int_equal(apply(&s, &rec), 0);
    Tutti__Record pr = TUTTI__RECORD__INIT;
    Tutti__Presence p = TUTTI__PRESENCE__INIT;
    pr.body_case = TUTTI__RECORD__BODY_PRESENCE;
    pr.presence = &p;
    char *ab[] = {"Anne", "Bob"}, *a[] = {"Anne"};
    p.room = "stage";
    p.in = ab;
    p.n_in = 2;
    pr.at_unix_ns = 100;
    assert_int_equal(apply_body(&s, 2, &pr), 0);
    p.n_in = 1; /* Anne again: already in, no second stay */
    pr.at_unix_ns = 150;
    assert_int_equal(apply_body(&s, 3, &pr), 0);
    assert_int_equal(s.n_stays, 2);
    /* Out and in again in one record: the stay closes, a new one opens. */
    p.out = a;
    p.n_out = 1;
    pr.at_unix_ns = 200;
    assert_int_equal(apply_body(&s, 4, &pr), 0);
    assert_int_equal(s.n_stays, 3);
    assert_string_equal(s.stays[0].name, "Anne");
    assert_string_equal(s.stays[0].room, "stage");
    assert_int_equal(s.stays[0].in_seq, 2);
    assert_int_equal(s.stays[0].in_unix_ns, 100);
    assert_int_equal(s.stays[0].out_seq, 4);
    assert_int_equal(s.stays[0].out_unix_ns, 200);
    assert_string_equal(s.stays[1].name, "Bob");
    assert_int_equal(s.stays[1].out_seq, 0); /* still in */
    assert_int_equal(s.stays[2].in_seq, 4);
    assert_int_equal(s.stays[2].out_seq, 0);
    assert_true(tt_session_present(&s, "stage", "Anne"));
    /* Out of a room the player is not in: nothing closes. */
    p.room = "booth";
    p.n_in = 0;
    assert_int_equal(apply_body(&s, 5, &pr), 0);
    assert_int_equal(s.stays[2].out_seq, 0);

    char text[TT_RULES_MAX_TEXT];
    assert_true(tt_rules_format(tt_rules_preset("afm-film-la"), text, sizeof text) >= 0);
    Tutti__Record ev = TUTTI__RECORD__INIT;
    Tutti__CallEvent ce = TUTTI__CALL_EVENT__INIT;
    ev.body_case = TUTTI__RECORD__BODY_CALL_EVENT;
    ev.call_event = &ce;
    ce.action = "start";
    ce.rules_text = text;
    ev.at_unix_ns = 1000;
    assert_int_equal(apply_body(&s, 6, &ev), 0);
    ce.action = "break-start";
    ce.rules_text = "";
    ev.at_unix_ns = 2000;
    assert_int_equal(apply_body(&s, 7, &ev), 0);
    ce.action = "break-start"; /* refused: not in the history */
    assert_int_not_equal(apply_body(&s, 8, &ev), 0);
    ce.action = "wrap";
    ev.at_unix_ns = 3000;
    assert_int_equal(apply_body(&s, 8, &ev), 0);
    assert_int_equal(s.n_call_events, 3);
    assert_string_equal(s.call_events[0].action, "start");
    assert_int_equal(s.call_events[0].seq, 6);
    assert_int_equal(s.call_events[0].at_unix_ns, 1000);
    assert_string_equal(s.call_events[0].rules.id, "afm-film-la");
    assert_string_equal(s.call_events[1].action, "break-start");
    assert_string_equal(s.call_events[1].rules.id, "");
    assert_string_equal(s.call_events[2].action, "wrap");
    assert_int_equal(s.call_events[2].seq, 8);

    Tutti__Record roll = TUTTI__RECORD__INIT;
    Tutti__Roll r = TUTTI__ROLL__INIT;
    r.cue = "1M1";
    r.take = 1;
    roll.body_case = TUTTI__RECORD__BODY_ROLL;
    roll.roll = &r;
    roll.at_unix_ns = 4242;
    assert_int_equal(apply_body(&s, 9, &roll), 0);
    const tt_session_take_t *t = &tt_session_find_cue(&s, "1M1")->takes[0];
    assert_int_equal(t->roll_seq, 9);
    assert_int_equal(t->roll_unix_ns, 4242);
    tt_session_clear(&s);
    assert_int_equal(s.n_stays, 0);
    assert_null(s.stays);
    assert_null(s.call_events);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_idempotency_keys),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_genesis_checks),
        cmocka_unit_test(test_may_matrix),
        cmocka_unit_test(test_note_rules),
        cmocka_unit_test(test_note_length),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_trim_fold),
        cmocka_unit_test(test_trim_rules),
        cmocka_unit_test(test_transport_and_takes),
        cmocka_unit_test(test_call_and_media),
        cmocka_unit_test(test_gate_and_not_acked),
        cmocka_unit_test(test_attendance_and_call_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
