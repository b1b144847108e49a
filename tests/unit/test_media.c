/* test_media: the media module (common/session/tt_media.c): the file
 * names made from a record's fields, the rules an offered media record
 * must pass against a folded session, and the media index the session
 * folds from Media records.
 *
 * The names are attacked with what a hostile room could send (slashes,
 * "..", empty, too long, control characters, non-ASCII, random bytes):
 * each is refused as a stored name (the rule says so), and what comes out
 * is always one path component a fetch will open, never a path out of the
 * media dir.
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
#include "tt_media.h"
#include "tt_session.h"

#define S_NS 1000000000LL

static const uint8_t PK[TT_SIGN_PK_LEN] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                           12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                           23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* ---------------------------------------------------------------- helpers */

static int apply(tt_session_t *s, Tutti__Record *rec)
{
    uint8_t h[TT_HASH_LEN];
    memset(h, (int)(rec->seq & 0xff), sizeof h);
    char why[TT_WHY_LEN] = "";
    rec->seq = s->last_seq + 1;
    int rc = tt_session_apply(s, rec, h, why);
    if (rc != 0)
        fprintf(stderr, "apply %llu: %s\n", (unsigned long long)rec->seq, why);
    return rc;
}

static void genesis(tt_session_t *s)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Genesis g = TUTTI__GENESIS__INIT;
    g.signing_public_key.data = (uint8_t *)PK;
    g.signing_public_key.len = sizeof PK;
    g.session_name = "upload";
    rec.body_case = TUTTI__RECORD__BODY_GENESIS;
    rec.genesis = &g;
    assert_int_equal(apply(s, &rec), 0);
}

static void roll(tt_session_t *s, const char *cue, uint32_t take, int64_t start_ns)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Roll r = TUTTI__ROLL__INIT;
    r.cue = (char *)cue;
    r.take = take;
    r.from_bar = 1;
    r.start_session_ns = start_ns;
    r.downbeat_session_ns = start_ns + 2 * S_NS;
    rec.body_case = TUTTI__RECORD__BODY_ROLL;
    rec.roll = &r;
    assert_int_equal(apply(s, &rec), 0);
}

static void stop(tt_session_t *s, const char *cue, uint32_t take, int64_t at_ns)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Stop st = TUTTI__STOP__INIT;
    st.cue = (char *)cue;
    st.take = take;
    st.at_session_ns = at_ns;
    rec.body_case = TUTTI__RECORD__BODY_STOP;
    rec.stop = &st;
    assert_int_equal(apply(s, &rec), 0);
}

static void interrupt(tt_session_t *s, const char *cue, uint32_t take, int64_t at_ns)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__TakeInterrupted ti = TUTTI__TAKE_INTERRUPTED__INIT;
    ti.cue = (char *)cue;
    ti.take = take;
    ti.at_session_ns = at_ns;
    rec.body_case = TUTTI__RECORD__BODY_TAKE_INTERRUPTED;
    rec.take_interrupted = &ti;
    assert_int_equal(apply(s, &rec), 0);
}

static uint8_t H1[32], H2[32];

static void hashes(void)
{
    for (int i = 0; i < 32; i++) {
        H1[i] = (uint8_t)(0x10 + i);
        H2[i] = (uint8_t)(0x80 + i);
    }
}

/* A valid offer of 1M1 take 1 from stage, in1, 48 kHz. */
static void offer(Tutti__Media *m, const uint8_t *hash)
{
    tutti__media__init(m);
    m->cue = "1M1";
    m->take = 1;
    m->room = "stage";
    m->input = "in1";
    m->size = 1000000;
    m->hash.data = (uint8_t *)hash;
    m->hash.len = 32;
    m->rate = 48000;
    m->time_reference = 123456789;
    m->punch_in_bar = 3;
    m->punch_out_bar = 9;
}

/* The record the coordinator would write for m (its file named by us). */
static void media_record(Tutti__Record *rec, Tutti__Media *md, char *file, const Tutti__Media *m)
{
    assert_int_equal(
        tt_media_file_name(m->cue, m->take, m->room, m->input, file, TT_MEDIA_MAX_FILE + 1), 0);
    *md = *m;
    md->file = file;
    tutti__record__init(rec);
    rec->body_case = TUTTI__RECORD__BODY_MEDIA;
    rec->media = md;
}

/* That record folded into the session; its seq. */
static uint64_t note_media(tt_session_t *s, const Tutti__Media *m)
{
    char file[TT_MEDIA_MAX_FILE + 1];
    Tutti__Media md;
    Tutti__Record rec;
    media_record(&rec, &md, file, m);
    assert_int_equal(apply(s, &rec), 0);
    return rec.seq;
}

/* That record added to a bare index at seq. */
static void index_media(tt_media_index_t *ix, uint64_t seq, const Tutti__Media *m)
{
    char file[TT_MEDIA_MAX_FILE + 1];
    Tutti__Media md;
    Tutti__Record rec;
    media_record(&rec, &md, file, m);
    rec.seq = seq;
    assert_int_equal(tt_media_index_add(ix, &rec), 0);
}

/* The session every rule test folds:
 *   1M1 take 1: 1 s .. 11 s, stopped (10 s long)
 *   2M1 take 1: 12 s .. 14 s, interrupted (2 s)
 *   1M1 take 2: rolled at 20 s, still open
 *   .x  take 1: 30 s .. 31 s, stopped (a cue name the session takes) */
static void fold(tt_session_t *s)
{
    tt_session_init(s);
    genesis(s);
    roll(s, "1M1", 1, 1 * S_NS);
    stop(s, "1M1", 1, 11 * S_NS);
    roll(s, "2M1", 1, 12 * S_NS);
    interrupt(s, "2M1", 1, 14 * S_NS);
    roll(s, ".x", 1, 30 * S_NS);
    stop(s, ".x", 1, 31 * S_NS);
    roll(s, "1M1", 2, 20 * S_NS);
}

/* 1 when name is one path component a fetch will open: no '/', not "."
 * or "..", no leading '.', only [A-Za-z0-9._-], ends in ".wav". */
static int safe_file(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TT_MEDIA_MAX_FILE || strchr(name, '/') || !strcmp(name, ".") ||
        !strcmp(name, "..") || name[0] == '.')
        return 0;
    if (n < 4 || strcmp(name + n - 4, ".wav") != 0)
        return 0;
    return tt_media_stored_name_ok(name);
}

/* ---------------------------------------------------------------- file names */

static void test_file_name_good(void **state)
{
    (void)state;
    char out[TT_MEDIA_MAX_FILE + 1];
    assert_int_equal(tt_media_file_name("1M1", 3, "stage", "in1", out, sizeof out), 0);
    assert_string_equal(out, "1M1_t3_stage_in1.wav");
    assert_true(safe_file(out));
    assert_int_equal(tt_media_file_name("2M3a", 4294967295u, "london-strings", "system_capture_1",
                                        out, sizeof out),
                     0);
    assert_string_equal(out, "2M3a_t4294967295_london-strings_system_capture_1.wav");

    /* The longest parts allowed still fit TT_MEDIA_MAX_FILE. */
    char cue[TT_CUE_MAX_NAME + 1], room[TT_ACCESS_MAX_NAME + 1], input[TT_MEDIA_MAX_INPUT + 1];
    memset(cue, 'c', TT_CUE_MAX_NAME);
    cue[TT_CUE_MAX_NAME] = '\0';
    memset(room, 'r', TT_ACCESS_MAX_NAME);
    room[TT_ACCESS_MAX_NAME] = '\0';
    memset(input, 'i', TT_MEDIA_MAX_INPUT);
    input[TT_MEDIA_MAX_INPUT] = '\0';
    assert_int_equal(tt_media_file_name(cue, 4294967295u, room, input, out, sizeof out), 0);
    assert_true(safe_file(out));

    /* The buffer: exactly enough fits, one byte less does not. */
    const char *want = "1M1_t3_stage_in1.wav";
    char small[64];
    memset(small, 'Z', sizeof small);
    assert_int_equal(tt_media_file_name("1M1", 3, "stage", "in1", small, strlen(want) + 1), 0);
    assert_string_equal(small, want);
    assert_int_equal(tt_media_file_name("1M1", 3, "stage", "in1", small, strlen(want)),
                     TT_ERR_INVALID);
    assert_int_equal(tt_media_file_name("1M1", 3, "stage", "in1", small, 1), TT_ERR_INVALID);
    assert_int_equal(tt_media_file_name("1M1", 3, "stage", "in1", NULL, 0), TT_ERR_INVALID);
}

static void test_file_name_hostile(void **state)
{
    (void)state;
    char long_cue[TT_CUE_MAX_NAME + 2], long_room[TT_ACCESS_MAX_NAME + 2],
        long_input[TT_MEDIA_MAX_INPUT + 2], huge[4096];
    memset(long_cue, 'c', sizeof long_cue - 1);
    long_cue[sizeof long_cue - 1] = '\0';
    memset(long_room, 'r', sizeof long_room - 1);
    long_room[sizeof long_room - 1] = '\0';
    memset(long_input, 'i', sizeof long_input - 1);
    long_input[sizeof long_input - 1] = '\0';
    memset(huge, 'a', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    /* The last three: a zero-width space, an overlong '/', a fullwidth solidus. */
    const char *bad[] = {NULL,        "",
                         "/",         "a/b",
                         "../x",      "../../etc/passwd",
                         "/abs",      "x/",
                         "a\\b",      "a b",
                         " ",         "a\tb",
                         "a\nb",      "\r",
                         "\x01",      "\x7f",
                         "a:b",       "a*b",
                         "$HOME",     "a%s",
                         "~root",     "caf\xc3\xa9",
                         "\xc3\xa9",  "\xff",
                         huge,        "\xe2\x80\x8b",
                         "a\xc0\xaf", "\xef\xbc\x8f"};
    /* Not a name the coordinator stores under (1), or not one that fits
     * (TT_ERR_INVALID); what comes out is still one safe component, the
     * name the capture writes (bad characters become '-', an empty part "x"). */
    char out[TT_MEDIA_MAX_FILE + 1];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = tt_media_file_name(bad[i], 1, "stage", "in1", out, sizeof out);
        assert_true(rc == 1 || (rc == TT_ERR_INVALID && bad[i] == huge));
        assert_true(rc != 1 || safe_file(out));
        rc = tt_media_file_name("1M1", 1, bad[i], "in1", out, sizeof out);
        assert_true(rc == 1 || (rc == TT_ERR_INVALID && bad[i] == huge));
        assert_true(rc != 1 || safe_file(out));
        rc = tt_media_file_name("1M1", 1, "stage", bad[i], out, sizeof out);
        assert_true(rc == 1 || (rc == TT_ERR_INVALID && bad[i] == huge));
        assert_true(rc != 1 || safe_file(out));
    }
    assert_int_equal(tt_media_file_name("../x", 1, "a b", "", out, sizeof out), 1);
    assert_string_equal(out, "_.-x_t1_a-b_x.wav"); /* leading '.' made '_', '/' and ' ' '-' */
    assert_int_equal(tt_media_file_name("1M1", 1, "caf\xc3\xa9", "in1", out, sizeof out), 1);
    assert_string_equal(out, "1M1_t1_caf--_in1.wav");
    assert_int_equal(tt_media_file_name(NULL, 2, "stage", "in1", out, sizeof out), 1);
    assert_string_equal(out, "x_t2_stage_in1.wav");
    /* Too long for the rule, still a name the capture can write. */
    assert_int_equal(tt_media_file_name(long_cue, 1, "stage", "in1", out, sizeof out), 1);
    assert_true(safe_file(out));
    assert_int_equal(tt_media_file_name("1M1", 1, long_room, "in1", out, sizeof out), 1);
    assert_int_equal(tt_media_file_name("1M1", 1, "stage", long_input, out, sizeof out), 1);

    /* Dots alone are legal characters: the name stays one component, and
     * never one a fetch (or `tutti media`) would refuse as hidden. */
    const char *dots[] = {".", "..", "...", ".x", "..a", "a..", "-", "_", "-rf"};
    for (size_t i = 0; i < sizeof dots / sizeof *dots; i++) {
        assert_int_equal(tt_media_file_name(dots[i], 1, dots[i], dots[i], out, sizeof out), 0);
        assert_true(safe_file(out));
        assert_int_equal(tt_media_file_name("1M1", 1, dots[i], "in1", out, sizeof out), 0);
        assert_true(safe_file(out));
    }
}

/* Random bytes for each part: reduced or refused, or a safe name made of exactly them. */
static void test_file_name_random(void **state)
{
    (void)state;
    uint32_t x = 0x12345678u;
    static const char safe[] = "aZ09._-";
    static const char pool[] = "aZ09._-/\\ \n\x01\x7f\x80\xc3\xa9\xff:%";
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        char part[3][80];
        for (int p = 0; p < 3; p++) {
            x = x * 1664525u + 1013904223u;
            size_t len = (x >> 8) % 70;
            int hostile = (x >> 20) & 1; /* half the parts only of legal characters */
            const char *from = hostile ? pool : safe;
            size_t n_from = hostile ? sizeof pool - 1 : sizeof safe - 1;
            for (size_t k = 0; k < len; k++) {
                x = x * 1664525u + 1013904223u;
                part[p][k] = from[(x >> 16) % n_from];
            }
            part[p][len] = '\0';
        }
        char out[TT_MEDIA_MAX_FILE + 1];
        memset(out, 0, sizeof out);
        int rc = tt_media_file_name(part[0], round, part[1], part[2], out, sizeof out);
        if (rc != 0) {
            assert_true(rc == 1 || rc == TT_ERR_INVALID);
            if (rc == 1)
                assert_true(safe_file(out)); /* reduced, still one safe component */
            continue;
        }
        accepted++;
        assert_true(safe_file(out));
        char want[512];
        snprintf(want, sizeof want, "%s_t%d_%s_%s.wav", part[0], round, part[1], part[2]);
        if (want[0] == '.')
            want[0] = '_';
        assert_string_equal(out, want);
    }
    assert_true(accepted > 100); /* the generator does reach the accepting side */
}

/* ---------------------------------------------------------------- the rules */

static int check(const tt_session_t *st, const Tutti__Media *m, const char *room, int channels,
                 const tt_media_entry_t **e, char *why)
{
    const tt_media_entry_t *sentinel = (const tt_media_entry_t *)(uintptr_t)1;
    *e = sentinel;
    why[0] = '\0';
    int rc = tt_media_check_offer(st, m, room, channels, e, why);
    assert_true(*e != sentinel); /* always set */
    if (rc != 0) {
        assert_null(*e);
        assert_true(why[0] != '\0');
    }
    return rc;
}

static void test_check_rules(void **state)
{
    (void)state;
    tt_session_t st;
    fold(&st);
    const tt_media_entry_t *e;
    char why[TT_WHY_LEN];
    Tutti__Media m;

    offer(&m, H1);
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0);
    assert_null(e);
    assert_int_equal(check(&st, NULL, "stage", 1, &e, why), TT_ERR_INVALID);

    /* Whose file. */
    assert_int_equal(check(&st, &m, "london", 1, &e, why), TT_ERR_DENIED);
    assert_non_null(strstr(why, "only for itself"));
    assert_int_equal(check(&st, &m, "stag", 1, &e, why), TT_ERR_DENIED);
    m.room = NULL;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_DENIED);
    m.room = "";
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_DENIED);
    m.room = "../stage";
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_DENIED);

    /* Which take. */
    offer(&m, H1);
    m.cue = "9M9";
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_NOTFOUND);
    assert_non_null(strstr(why, "no cue 9M9"));
    m.cue = "../1M1";
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_INVALID);
    m.cue = NULL;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_INVALID);
    m.cue = "";
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_INVALID);
    offer(&m, H1);
    m.take = 7;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_NOTFOUND);
    assert_non_null(strstr(why, "no take 7"));
    m.take = 0;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_NOTFOUND);

    /* Still rolling: not refused for good, the room asks again later. */
    m.take = 2;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_UNAVAILABLE);
    assert_non_null(strstr(why, "still rolling"));

    /* An interrupted take is closed: its files are taken. */
    offer(&m, H1);
    m.cue = "2M1";
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0);

    /* The input names a file part. */
    offer(&m, H1);
    const char *bad_inputs[] = {NULL,   "",      "a/b",      "../in1",
                                "in 1", "in\n1", "\xc3\xa9", "123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad_inputs / sizeof *bad_inputs; i++) {
        m.input = (char *)bad_inputs[i];
        assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_INVALID);
    }
    m.input = "12345678901234567890123456789012"; /* 32: the limit */
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0);

    /* Rate: 8000..192000. */
    offer(&m, H1);
    const uint32_t bad_rates[] = {0, 1, 7999, 192001, 384000, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_rates / sizeof *bad_rates; i++) {
        m.rate = bad_rates[i];
        assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_INVALID);
        assert_non_null(strstr(why, "sample rate"));
    }
    m.rate = 8000;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0);
    m.rate = 192000;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0);

    /* Hash: 32 bytes, no more, no less. */
    offer(&m, H1);
    uint8_t big[64] = {0};
    m.hash.data = big;
    const size_t bad_lens[] = {0, 1, 31, 33, 64};
    for (size_t i = 0; i < sizeof bad_lens / sizeof *bad_lens; i++) {
        m.hash.len = bad_lens[i];
        assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_INVALID);
        assert_non_null(strstr(why, "hash"));
    }
    m.hash.data = NULL;
    m.hash.len = 0;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_INVALID);

    tt_session_clear(&st);
}

static void test_check_size(void **state)
{
    (void)state;
    tt_session_t st;
    fold(&st);
    const tt_media_entry_t *e;
    char why[TT_WHY_LEN];
    Tutti__Media m;
    offer(&m, H1);

    /* A WAV header alone (44 bytes) holds no audio. */
    const uint64_t small[] = {0, 1, 43, 44};
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
        m.size = small[i];
        assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_INVALID);
    }
    m.size = 45;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0);

    /* 1M1 take 1 is 10 s: (10 + 60) s * 48000 Hz * 3 bytes * channels + 1 MiB. */
    const uint64_t mono = 70ull * 48000 * 3 + (1u << 20); /* 11128576 */
    assert_int_equal(mono, 11128576ull);
    m.size = mono;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0); /* exactly at the bound */
    m.size = mono + 1;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_TOO_BIG);
    assert_non_null(strstr(why, "11128576 bytes"));
    /* No channel count, or a nonsense one, counts as one channel. */
    assert_int_equal(check(&st, &m, "stage", 0, &e, why), TT_ERR_TOO_BIG);
    assert_int_equal(check(&st, &m, "stage", -5, &e, why), TT_ERR_TOO_BIG);
    m.size = mono;
    assert_int_equal(check(&st, &m, "stage", 0, &e, why), 0);

    const uint64_t stereo = 70ull * 48000 * 3 * 2 + (1u << 20);
    m.size = stereo;
    assert_int_equal(check(&st, &m, "stage", 2, &e, why), 0);
    m.size = stereo + 1;
    assert_int_equal(check(&st, &m, "stage", 2, &e, why), TT_ERR_TOO_BIG);
    m.size = UINT64_MAX;
    assert_int_equal(check(&st, &m, "stage", 64, &e, why), TT_ERR_TOO_BIG);

    /* The bound follows the rate. */
    m.rate = 8000;
    m.size = 70ull * 8000 * 3 + (1u << 20);
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0);
    m.size++;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_TOO_BIG);

    /* The interrupted 2M1 take 1 lasted 2 s. */
    offer(&m, H1);
    m.cue = "2M1";
    m.size = 62ull * 48000 * 3 + (1u << 20);
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0);
    m.size++;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_TOO_BIG);
    tt_session_clear(&st);
}

/* A take's file arrives once: the same again is the existing record, a
 * different one is refused, and no other record may take its name. */
static void test_check_duplicates(void **state)
{
    (void)state;
    tt_session_t st;
    fold(&st);
    const tt_media_entry_t *e;
    char why[TT_WHY_LEN];
    Tutti__Media m;
    offer(&m, H1);
    uint64_t first = note_media(&st, &m);
    char rec_first[32], rec_second[96];
    snprintf(rec_first, sizeof rec_first, "record %llu", (unsigned long long)first);

    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0);
    assert_non_null(e);
    assert_int_equal(e->seq, first);
    assert_ptr_equal(e, tt_media_find(&st.media, "1M1", 1, "stage", "in1"));
    assert_string_equal(e->file, "1M1_t1_stage_in1.wav");

    m.hash.data = H2; /* another file for the same take, room and input */
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, rec_first));
    assert_non_null(strstr(why, "never replaced"));
    m.hash.data = H1;
    m.size = 1000001; /* same hash, another size: not the same file either */
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_INVALID);

    /* Other inputs, rooms and takes are other files. */
    offer(&m, H2);
    m.input = "in2";
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0);
    assert_null(e);
    offer(&m, H2);
    m.room = "london";
    assert_int_equal(check(&st, &m, "london", 1, &e, why), 0);
    assert_null(e);

    /* Names are not injective ('_' is a legal character): room stage_a's
     * input in1 and room stage's input a_in1 read the same. The second is
     * refused rather than overwrite the first. */
    offer(&m, H1);
    m.room = "stage_a";
    uint64_t second = note_media(&st, &m);
    snprintf(rec_second, sizeof rec_second, "1M1_t1_stage_a_in1.wav is taken by record %llu",
             (unsigned long long)second);
    offer(&m, H2);
    m.input = "a_in1";
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, rec_second));

    tt_session_clear(&st);
    assert_int_equal(st.media.n, 0); /* the session's clear frees its index */
    assert_null(st.media.items);
}

/* What the rules accept, the fetch side opens: every accepted record's
 * file name is one a fetch serves. A cue name may start with '.'. */
static void test_check_names_fetchable(void **state)
{
    (void)state;
    tt_session_t st;
    fold(&st);
    const tt_media_entry_t *e;
    char why[TT_WHY_LEN];
    Tutti__Media m;
    offer(&m, H1);
    m.cue = ".x";
    m.size = 1000;
    assert_int_equal(check(&st, &m, "stage", 1, &e, why), 0);
    char file[TT_MEDIA_MAX_FILE + 1];
    assert_int_equal(tt_media_file_name(m.cue, m.take, m.room, m.input, file, sizeof file), 0);
    assert_true(safe_file(file));
    note_media(&st, &m);
    const tt_media_entry_t *got = tt_media_find(&st.media, ".x", 1, "stage", "in1");
    assert_non_null(got);
    assert_true(tt_media_stored_name_ok(got->file));

    /* What a fetch refuses, whatever a record says. */
    const char *stored_bad[] = {
        NULL, "", ".", "..", ".hidden.wav", "a/b.wav", "../a.wav", "a b.wav", "caf\xc3\xa9.wav"};
    for (size_t i = 0; i < sizeof stored_bad / sizeof *stored_bad; i++)
        assert_false(tt_media_stored_name_ok(stored_bad[i]));
    char too_long[TT_MEDIA_MAX_FILE + 2];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    assert_false(tt_media_stored_name_ok(too_long));
    too_long[TT_MEDIA_MAX_FILE] = '\0';
    assert_true(tt_media_stored_name_ok(too_long));
    tt_session_clear(&st);
}

/* ---------------------------------------------------------------- the index */

static void test_index(void **state)
{
    (void)state;
    tt_media_index_t ix = {0};
    assert_null(tt_media_find(&ix, "1M1", 1, "stage", "in1"));

    Tutti__Media m;
    offer(&m, H1);
    index_media(&ix, 7, &m);
    assert_int_equal(ix.n, 1);
    const tt_media_entry_t *e = tt_media_find(&ix, "1M1", 1, "stage", "in1");
    assert_non_null(e);
    assert_int_equal(e->seq, 7);
    assert_string_equal(e->cue, "1M1");
    assert_int_equal(e->take, 1);
    assert_string_equal(e->room, "stage");
    assert_string_equal(e->input, "in1");
    assert_string_equal(e->file, "1M1_t1_stage_in1.wav");
    assert_int_equal(e->size, 1000000);
    assert_memory_equal(e->hash, H1, 32);
    assert_int_equal(e->rate, 48000);
    assert_int_equal(e->time_reference, 123456789);
    assert_int_equal(e->punch_in_bar, 3);
    assert_int_equal(e->punch_out_bar, 9);

    /* Every key part matters, and only whole strings match. */
    assert_null(tt_media_find(&ix, "1M2", 1, "stage", "in1"));
    assert_null(tt_media_find(&ix, "1M1", 2, "stage", "in1"));
    assert_null(tt_media_find(&ix, "1M1", 1, "stag", "in1"));
    assert_null(tt_media_find(&ix, "1M1", 1, "stage", "in"));
    assert_null(tt_media_find(&ix, "1M1", 1, "stage", "in12"));
    assert_null(tt_media_find(&ix, "", 1, "stage", "in1"));

    /* The entry back as a record. */
    Tutti__Media back;
    char *back_rooms[TT_MEDIA_MAX_ROOMS];
    tt_media_entry_to_record(e, &back, back_rooms);
    assert_string_equal(back.cue, "1M1");
    assert_int_equal(back.take, 1);
    assert_string_equal(back.room, "stage");
    assert_string_equal(back.input, "in1");
    assert_string_equal(back.file, "1M1_t1_stage_in1.wav");
    assert_int_equal(back.size, 1000000);
    assert_int_equal(back.hash.len, 32);
    assert_memory_equal(back.hash.data, H1, 32);
    assert_int_equal(back.rate, 48000);
    assert_int_equal(back.time_reference, 123456789);
    assert_int_equal(back.punch_in_bar, 3);
    assert_int_equal(back.punch_out_bar, 9);

    /* The same key again: the later record wins, no second entry. */
    m.hash.data = H2;
    m.size = 2000;
    index_media(&ix, 9, &m);
    assert_int_equal(ix.n, 1);
    e = tt_media_find(&ix, "1M1", 1, "stage", "in1");
    assert_int_equal(e->seq, 9);
    assert_int_equal(e->size, 2000);
    assert_memory_equal(e->hash, H2, 32);

    /* A hash of the wrong length is stored as zeros, not read past. */
    uint8_t one = 0xee;
    offer(&m, H1);
    m.input = "in9";
    m.hash.data = &one;
    m.hash.len = 1;
    index_media(&ix, 10, &m);
    static const uint8_t zero[32];
    assert_memory_equal(tt_media_find(&ix, "1M1", 1, "stage", "in9")->hash, zero, 32);

    /* Many entries (the array grows past its first 64): all still found. */
    char inputs[300][16];
    for (int i = 0; i < 300; i++) {
        snprintf(inputs[i], sizeof inputs[i], "ch%d", i);
        offer(&m, H1);
        m.input = inputs[i];
        m.take = (uint32_t)(i % 3) + 1;
        index_media(&ix, 100 + (uint64_t)i, &m);
    }
    assert_int_equal(ix.n, 302);
    for (int i = 0; i < 300; i++) {
        e = tt_media_find(&ix, "1M1", (uint32_t)(i % 3) + 1, "stage", inputs[i]);
        assert_non_null(e);
        assert_int_equal(e->seq, 100 + (uint64_t)i);
    }

    /* Strings longer than an entry's fields (a log this build did not
     * write) are cut to fit, never written past. */
    char long_cue[200], long_file[400];
    memset(long_cue, 'c', sizeof long_cue - 1);
    long_cue[sizeof long_cue - 1] = '\0';
    memset(long_file, 'f', sizeof long_file - 1);
    long_file[sizeof long_file - 1] = '\0';
    Tutti__Media lm;
    offer(&lm, H1);
    lm.cue = long_cue;
    lm.room = long_cue;
    lm.input = long_cue;
    lm.file = long_file;
    Tutti__Record rec = TUTTI__RECORD__INIT;
    rec.seq = 999;
    rec.body_case = TUTTI__RECORD__BODY_MEDIA;
    rec.media = &lm;
    assert_int_equal(tt_media_index_add(&ix, &rec), 0);
    const tt_media_entry_t *last = &ix.items[ix.n - 1];
    assert_int_equal(strlen(last->cue), TT_CUE_MAX_NAME);
    assert_int_equal(strlen(last->room), TT_ACCESS_MAX_NAME);
    assert_int_equal(strlen(last->input), TT_MEDIA_MAX_INPUT);
    assert_int_equal(strlen(last->file), TT_MEDIA_MAX_FILE);

    /* Clear empties it and it is usable again. */
    tt_media_index_clear(&ix);
    assert_int_equal(ix.n, 0);
    assert_null(ix.items);
    assert_null(tt_media_find(&ix, "1M1", 1, "stage", "in1"));
    offer(&m, H1);
    index_media(&ix, 1, &m);
    assert_non_null(tt_media_find(&ix, "1M1", 1, "stage", "in1"));
    tt_media_index_clear(&ix);
    tt_media_index_clear(&ix); /* twice is fine */
}

/* The session folds Media records into its index; the take sheet's
 * "arrived" rooms and counts are asked of it. */
static void test_fold_index(void **state)
{
    (void)state;
    tt_session_t st;
    fold(&st);
    char rooms[256];
    tt_media_rooms(&st.media, "1M1", 1, rooms, sizeof rooms);
    assert_string_equal(rooms, "");
    assert_int_equal(tt_media_count(&st.media, "1M1", 1), 0);
    Tutti__Media m;
    offer(&m, H1);
    uint64_t seq = note_media(&st, &m);
    m.input = "in2";
    note_media(&st, &m);
    m.room = "london";
    m.input = "in1";
    note_media(&st, &m);
    m.cue = "2M1";
    note_media(&st, &m); /* another take's file */
    tt_media_rooms(&st.media, "1M1", 1, rooms, sizeof rooms);
    assert_string_equal(rooms, "stage+london"); /* each room once, first arrival first */
    assert_int_equal(tt_media_count(&st.media, "1M1", 1), 3);
    assert_int_equal(tt_media_count(&st.media, "2M1", 1), 1);
    assert_int_equal(tt_media_count(&st.media, "1M1", 2), 0);
    assert_true(tt_media_has_room(&st.media, "1M1", 1, "london"));
    assert_false(tt_media_has_room(&st.media, "1M1", 1, "lond"));
    assert_false(tt_media_has_room(&st.media, "2M1", 1, "stage"));
    const tt_media_entry_t *e = tt_media_find(&st.media, "1M1", 1, "stage", "in1");
    assert_non_null(e);
    assert_int_equal(e->seq, seq);
    assert_string_equal(e->file, "1M1_t1_stage_in1.wav");
    /* Too small a buffer: names that do not fit are left out. */
    char small[8];
    tt_media_rooms(&st.media, "1M1", 1, small, sizeof small);
    assert_string_equal(small, "stage");
    /* A media record for a take the log never rolled does not fold. */
    offer(&m, H1);
    m.take = 9;
    char file[TT_MEDIA_MAX_FILE + 1];
    Tutti__Media md;
    Tutti__Record rec;
    media_record(&rec, &md, file, &m);
    rec.seq = st.last_seq + 1;
    uint8_t h[TT_HASH_LEN] = {0};
    char why[TT_WHY_LEN];
    assert_int_equal(tt_session_apply(&st, &rec, h, why), TT_ERR_INVALID);
    assert_int_equal(tt_media_count(&st.media, "1M1", 9), 0);
    tt_session_clear(&st);
    assert_null(tt_media_find(&st.media, "1M1", 1, "stage", "in1"));
}

/* ---------------------------------------------------------------- prelays and guides */

/* A valid prelay of 1M1 named "click", for stage and london, 48 kHz stereo. */
static char *PUT_ROOMS[] = {"stage", "london"};
static void put(Tutti__Media *m, const uint8_t *hash)
{
    tutti__media__init(m);
    m->kind = TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY;
    m->cue = "1M1";
    m->name = "click";
    m->rooms = PUT_ROOMS;
    m->n_rooms = 2;
    m->size = 480044;
    m->hash.data = (uint8_t *)hash;
    m->hash.len = 32;
    m->rate = 48000;
    m->channels = 2;
    m->frames = 80000;
    m->at_bar = 9;
}

static int is_room(void *arg, const char *name)
{
    (void)arg;
    return !strcmp(name, "stage") || !strcmp(name, "london") || !strcmp(name, "overdub");
}

/* That put folded as its record; its seq. */
static uint64_t note_put(tt_session_t *s, const Tutti__Media *m)
{
    char file[TT_MEDIA_MAX_FILE + 1];
    assert_int_equal(tt_media_record_file_name(m, file, sizeof file), 0);
    Tutti__Media md = *m;
    md.file = file;
    Tutti__Record rec = TUTTI__RECORD__INIT;
    rec.body_case = TUTTI__RECORD__BODY_MEDIA;
    rec.media = &md;
    assert_int_equal(apply(s, &rec), 0);
    return rec.seq;
}

static void test_put_file_name(void **state)
{
    (void)state;
    char out[TT_MEDIA_MAX_FILE + 1];
    assert_int_equal(tt_media_put_file_name("1M1", TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY, "strings",
                                            out, sizeof out),
                     0);
    assert_string_equal(out, "1M1_prelay_strings.wav");
    assert_int_equal(tt_media_put_file_name("2M3a", TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE, "vox.v2",
                                            out, sizeof out),
                     0);
    assert_string_equal(out, "2M3a_guide_vox.v2.wav");
    assert_int_equal(
        tt_media_put_file_name(".x", TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE, "a", out, sizeof out), 0);
    assert_string_equal(out, "_x_guide_a.wav"); /* never a hidden file */
    assert_true(tt_media_stored_name_ok(out));
    /* A capture is not operator media; hostile names are refused, not mended. */
    const char *bad[] = {
        "", "../x", "a/b", "a b", "caf\xc3\xa9", "x\n", "0123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(tt_media_put_file_name("1M1", TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY, bad[i],
                                                out, sizeof out),
                         TT_ERR_INVALID);
        assert_string_equal(out, "");
        assert_int_equal(tt_media_put_file_name(bad[i], TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY, "a",
                                                out, sizeof out),
                         TT_ERR_INVALID);
    }
    assert_int_equal(
        tt_media_put_file_name("1M1", TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE, "a", out, sizeof out),
        TT_ERR_INVALID);
    assert_int_equal(tt_media_put_file_name("1M1", TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY, "click",
                                            out, strlen("1M1_prelay_click.wav")),
                     TT_ERR_INVALID);
    /* By kind: a capture keeps its name. */
    Tutti__Media m;
    offer(&m, H1);
    assert_int_equal(tt_media_record_file_name(&m, out, sizeof out), 0);
    assert_string_equal(out, "1M1_t1_stage_in1.wav");
    put(&m, H1);
    assert_int_equal(tt_media_record_file_name(&m, out, sizeof out), 0);
    assert_string_equal(out, "1M1_prelay_click.wav");
}

static void test_put_rules(void **state)
{
    (void)state;
    tt_session_t st;
    fold(&st);
    Tutti__Media m;
    const tt_media_entry_t *e = (const tt_media_entry_t *)1;
    char why[TT_WHY_LEN];
    put(&m, H1);
    assert_int_equal(tt_media_check_put(&st, &m, is_room, NULL, &e, why), 0);
    assert_null(e);
    m.n_rooms = 0; /* every room */
    assert_int_equal(tt_media_check_put(&st, &m, is_room, NULL, &e, why), 0);
#define REFUSED(code, field, value)                                                                \
    do {                                                                                           \
        put(&m, H1);                                                                               \
        m.field = value;                                                                           \
        assert_int_equal(tt_media_check_put(&st, &m, is_room, NULL, &e, why), code);               \
    } while (0)
    REFUSED(TT_ERR_NOTFOUND, cue, "9M9");
    REFUSED(TT_ERR_INVALID, cue, "a/b");
    REFUSED(TT_ERR_INVALID, kind, TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE);
    REFUSED(TT_ERR_INVALID, name, "");
    REFUSED(TT_ERR_INVALID, name, "../x");
    REFUSED(TT_ERR_INVALID, take, 1);
    REFUSED(TT_ERR_INVALID, room, "stage");
    REFUSED(TT_ERR_INVALID, input, "in1");
    REFUSED(TT_ERR_INVALID, rate, 7999);
    REFUSED(TT_ERR_INVALID, channels, 0);
    REFUSED(TT_ERR_INVALID, channels, 9);
    REFUSED(TT_ERR_INVALID, frames, 0);
    REFUSED(TT_ERR_INVALID, size, 44);
    REFUSED(TT_ERR_INVALID, size, 1000); /* fewer bytes than samples */
    REFUSED(TT_ERR_TOO_BIG, size, TT_MEDIA_PUT_MAX_BYTES + 1);
    REFUSED(TT_ERR_INVALID, hash.len, 31);
    REFUSED(TT_ERR_INVALID, at_bar, -1);
    REFUSED(TT_ERR_INVALID, at_frame, -1);
    REFUSED(TT_ERR_INVALID, at_fps, "0123456789abcdef");
    char *unknown[] = {"stage", "nowhere"}, *twice[] = {"stage", "stage"};
    REFUSED(TT_ERR_INVALID, rooms, unknown);
    REFUSED(TT_ERR_INVALID, rooms, twice);
    REFUSED(TT_ERR_INVALID, n_rooms, TT_MEDIA_MAX_ROOMS + 1);
#undef REFUSED
    /* In the log: the same file again is that record; another file under
     * the name is refused; another name is a new prelay. */
    put(&m, H1);
    uint64_t seq = note_put(&st, &m);
    assert_int_equal(tt_media_check_put(&st, &m, is_room, NULL, &e, why), 0);
    assert_non_null(e);
    assert_int_equal(e->seq, seq);
    put(&m, H2);
    assert_int_equal(tt_media_check_put(&st, &m, is_room, NULL, &e, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "another --name"));
    m.name = "click2";
    assert_int_equal(tt_media_check_put(&st, &m, is_room, NULL, &e, why), 0);
    assert_null(e);
    /* A guide of the same name is another file. */
    put(&m, H2);
    m.kind = TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE;
    assert_int_equal(tt_media_check_put(&st, &m, is_room, NULL, &e, why), 0);
    tt_session_clear(&st);
}

/* A roll whose record lists the rooms that record their takes. */
static void roll_capturing(tt_session_t *s, const char *cue, uint32_t take, int64_t start_ns,
                           char **rooms, size_t n)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Roll r = TUTTI__ROLL__INIT;
    r.cue = (char *)cue;
    r.take = take;
    r.from_bar = 1;
    r.start_session_ns = start_ns;
    r.downbeat_session_ns = start_ns + 2 * S_NS;
    r.rooms_online = rooms;
    r.n_rooms_online = n;
    r.rooms_capturing = rooms;
    r.n_rooms_capturing = n;
    r.capturing_listed = 1;
    rec.body_case = TUTTI__RECORD__BODY_ROLL;
    rec.roll = &r;
    assert_int_equal(apply(s, &rec), 0);
}

/* `tutti media guide`: which capture a take's guide is made from, and what
 * is said when there is none to make it from. */
static void test_take_capture(void **state)
{
    (void)state;
    tt_session_t st;
    tt_session_init(&st);
    genesis(&st);
    char *rec_rooms[] = {"stage", "london", "strings"};
    roll_capturing(&st, "1M1", 1, 1 * S_NS, rec_rooms, 3);
    stop(&st, "1M1", 1, 11 * S_NS);
    Tutti__Media m;
    offer(&m, H1);
    uint64_t stage = note_media(&st, &m);
    m.room = "london";
    note_media(&st, &m);
    m.input = "in2";
    m.hash.data = H2;
    uint64_t london2 = note_media(&st, &m);
    roll_capturing(&st, "1M1", 2, 20 * S_NS, rec_rooms, 3); /* still rolling */
    const tt_media_entry_t *e = (const tt_media_entry_t *)1;
    char why[TT_WHY_LEN];
#define MISSING(code, text, cue, take, room, input)                                                \
    do {                                                                                           \
        assert_int_equal(tt_media_take_capture(&st, cue, take, room, input, &e, why), code);       \
        assert_null(e);                                                                            \
        if (!strstr(why, text))                                                                    \
            fail_msg("said: %s", why);                                                             \
    } while (0)
    MISSING(TT_ERR_NOTFOUND, "no cue 9M9", "9M9", 1, "stage", NULL);
    MISSING(TT_ERR_NOTFOUND, "no take 5 of cue 1M1", "1M1", 5, "stage", NULL);
    MISSING(TT_ERR_UNAVAILABLE, "still rolling", "1M1", 2, "stage", NULL);
    MISSING(TT_ERR_NOTFOUND,
            "room overdub did not record take 1 of 1M1 (recording: "
            "stage+london+strings)",
            "1M1", 1, "overdub", NULL);
    MISSING(TT_ERR_UNAVAILABLE, "room strings recorded take 1 of 1M1 but its file has not arrived",
            "1M1", 1, "strings", NULL);
    MISSING(TT_ERR_INVALID, "recorded 2 inputs of take 1 of 1M1 (in1, in2): name one with --input",
            "1M1", 1, "london", NULL);
    MISSING(TT_ERR_NOTFOUND, "no input in3 of take 1 of 1M1 (it has in1, in2)", "1M1", 1, "london",
            "in3");
    MISSING(TT_ERR_NOTFOUND, "no input in2", "1M1", 1, "stage", "in2");
    /* "stag" is not "stage": the list holds whole names. */
    MISSING(TT_ERR_NOTFOUND, "did not record", "1M1", 1, "stag", NULL);
#undef MISSING
    assert_int_equal(tt_media_take_capture(&st, "1M1", 1, "stage", NULL, &e, why), 0);
    assert_int_equal(e->seq, stage);
    assert_int_equal(tt_media_take_capture(&st, "1M1", 1, "london", "in2", &e, why), 0);
    assert_int_equal(e->seq, london2);
    assert_string_equal(e->file, "1M1_t1_london_in2.wav");
    tt_session_clear(&st);
}

/* A guide from a capture: its record names the capture and carries its
 * bytes' identity; the format may wait for the coordinator in an offer. */
static void test_guide_from_capture_rules(void **state)
{
    (void)state;
    tt_session_t st;
    fold(&st);
    roll(&st, "2M2", 1, 40 * S_NS);
    stop(&st, "2M2", 1, 41 * S_NS);
    Tutti__Media cap;
    offer(&cap, H1);
    uint64_t src = note_media(&st, &cap);
    Tutti__Media p;
    put(&p, H2);
    uint64_t prelay = note_put(&st, &p);
    char *od[] = {"overdub"};
    Tutti__Media m;
#define GUIDE()                                                                                    \
    do {                                                                                           \
        tutti__media__init(&m);                                                                    \
        m.kind = TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE;                                              \
        m.cue = "1M1";                                                                             \
        m.name = "t1-stage";                                                                       \
        m.rooms = od;                                                                              \
        m.n_rooms = 1;                                                                             \
        m.size = cap.size;                                                                         \
        m.hash = cap.hash;                                                                         \
        m.rate = cap.rate;                                                                         \
        m.time_reference = cap.time_reference;                                                     \
        m.source_seq = src;                                                                        \
    } while (0)
    const tt_media_entry_t *e = (const tt_media_entry_t *)1;
    char why[TT_WHY_LEN];
    GUIDE(); /* an offer: channels and frames to come from the file */
    assert_int_equal(tt_media_check_put(&st, &m, is_room, NULL, &e, why), 0);
    assert_null(e);
    m.channels = 1;
    m.frames = 200000;
    assert_int_equal(tt_media_check_put(&st, &m, is_room, NULL, &e, why), 0);
#define REFUSED(code, text, field, value)                                                          \
    do {                                                                                           \
        GUIDE();                                                                                   \
        m.field = value;                                                                           \
        assert_int_equal(tt_media_check_put(&st, &m, is_room, NULL, &e, why), code);               \
        if (!strstr(why, text))                                                                    \
            fail_msg("said: %s", why);                                                             \
    } while (0)
    REFUSED(TT_ERR_INVALID, "only a guide", kind, TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY);
    REFUSED(TT_ERR_NOTFOUND, "record 999 is not a take's capture", source_seq, 999);
    REFUSED(TT_ERR_NOTFOUND, "is not a take's capture", source_seq, prelay);
    REFUSED(TT_ERR_INVALID, "is a capture of cue 1M1", cue, "2M2");
    REFUSED(TT_ERR_INVALID, "carries that capture's size", size, cap.size + 1);
    REFUSED(TT_ERR_INVALID, "carries that capture's size", hash.data, H2);
    REFUSED(TT_ERR_INVALID, "carries that capture's size", rate, 44100);
    REFUSED(TT_ERR_INVALID, "carries that capture's size", time_reference, 1);
    REFUSED(TT_ERR_INVALID, "no sample frames", channels, 1); /* one without the other */
    REFUSED(TT_ERR_INVALID, "0 channels", frames, 1000);
    char *nowhere[] = {"nowhere"};
    REFUSED(TT_ERR_INVALID, "not a room", rooms, nowhere); /* the put rules hold too */
#undef REFUSED
    /* Folded: the index names the capture, and the same guide again is it. */
    GUIDE();
    m.channels = 1;
    m.frames = 200000;
    uint64_t guide = note_put(&st, &m);
    const tt_media_entry_t *g = tt_media_find_seq(&st.media, guide);
    assert_non_null(g);
    assert_int_equal(g->source_seq, src);
    assert_string_equal(g->file, "1M1_guide_t1-stage.wav");
    Tutti__Media back;
    char *rooms[TT_MEDIA_MAX_ROOMS];
    tt_media_entry_to_record(g, &back, rooms);
    assert_int_equal(back.source_seq, src);
    GUIDE();
    assert_int_equal(tt_media_check_put(&st, &m, is_room, NULL, &e, why), 0);
    assert_non_null(e);
    assert_int_equal(e->seq, guide);
    /* A capture's record is never made from another. */
    assert_int_equal(tt_media_find_seq(&st.media, src)->source_seq, 0);
#undef GUIDE
    tt_session_clear(&st);
}

/* Holdings for the gate: "stage" holds every seq in HELD, the rest none. */
static uint64_t HELD[4];
static int holds(void *arg, const char *room, uint64_t seq)
{
    (void)arg;
    for (size_t i = 0; i < sizeof HELD / sizeof *HELD; i++)
        if (HELD[i] == seq && !strcmp(room, "stage"))
            return 1;
    return 0;
}

static void test_put_index_and_gate(void **state)
{
    (void)state;
    tt_session_t st;
    fold(&st);
    Tutti__Media m;
    put(&m, H1); /* 1M1 click: stage, london */
    uint64_t click = note_put(&st, &m);
    put(&m, H2);
    m.kind = TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE;
    m.name = "vox";
    m.n_rooms = 0; /* 1M1 guide vox: everyone */
    uint64_t vox = note_put(&st, &m);
    put(&m, H2);
    m.cue = "2M1"; /* another cue's prelay, for overdub only */
    char *od[] = {"overdub"};
    m.rooms = od;
    m.n_rooms = 1;
    uint64_t other = note_put(&st, &m);
    /* The index: operator media are not a take's files. */
    assert_int_equal(tt_media_count(&st.media, "1M1", 0), 0);
    const tt_media_entry_t *e = tt_media_find_seq(&st.media, click);
    assert_non_null(e);
    assert_true(tt_media_is_put(e));
    assert_string_equal(e->file, "1M1_prelay_click.wav");
    assert_int_equal(e->channels, 2);
    assert_int_equal(e->frames, 80000);
    assert_int_equal(e->at_bar, 9);
    assert_true(tt_media_names_room(e, "london"));
    assert_false(tt_media_names_room(e, "overdub"));
    assert_true(tt_media_names_room(tt_media_find_seq(&st.media, vox), "overdub"));
    assert_null(tt_media_find_seq(&st.media, 999));
    assert_null(tt_media_find(&st.media, "1M1", 0, "", ""));
    /* Back as a record: every field, rooms included. */
    Tutti__Media back;
    char *rooms[TT_MEDIA_MAX_ROOMS];
    tt_media_entry_to_record(e, &back, rooms);
    assert_int_equal(back.kind, TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY);
    assert_string_equal(back.name, "click");
    assert_int_equal(back.n_rooms, 2);
    assert_string_equal(back.rooms[1], "london");

    /* The gate for 1M1 with stage, london, overdub online and nothing held. */
    const char *online[] = {"stage", "london", "overdub"};
    tt_media_gate_t g;
    char why[TT_WHY_LEN];
    memset(HELD, 0, sizeof HELD);
    assert_int_equal(tt_media_prelay_gate(&st.media, "1M1", online, 3, holds, NULL, 0, &g, why),
                     TT_ERR_INVALID);
    assert_int_equal(g.n_rooms, 3);
    assert_int_equal(g.n_pairs, 5); /* click x2, vox x3 */
    assert_string_equal(g.pair_ptrs[0], "stage:1M1_prelay_click.wav");
    assert_non_null(strstr(why, "rooms stage, london, overdub lack prelay 1M1_prelay_click.wav"));
    assert_non_null(strstr(why, "--force"));
    /* Forced: passes, and still says who lacked what. */
    assert_int_equal(tt_media_prelay_gate(&st.media, "1M1", online, 3, holds, NULL, 1, &g, why), 0);
    assert_int_equal(g.n_pairs, 5);
    /* stage holds both; london is named by click: offline, it still lacks it
     * (the guide for everyone asks only the rooms online). */
    HELD[0] = click;
    HELD[1] = vox;
    assert_int_equal(tt_media_prelay_gate(&st.media, "1M1", online, 1, holds, NULL, 0, &g, why),
                     TT_ERR_INVALID);
    assert_int_equal(g.n_pairs, 1);
    assert_string_equal(g.pair_ptrs[0], "london:1M1_prelay_click.wav");
    assert_non_null(strstr(why, "room london lacks prelay 1M1_prelay_click.wav"));
    /* 2M1's prelay names overdub, online or not. */
    assert_int_equal(tt_media_prelay_gate(&st.media, "2M1", online, 2, holds, NULL, 0, &g, why),
                     TT_ERR_INVALID);
    assert_non_null(strstr(why, "room overdub lacks prelay 2M1_prelay_click.wav"));
    assert_int_equal(g.n_pairs, 1);
    (void)other;
    /* A cue without prelays rolls. */
    assert_int_equal(tt_media_prelay_gate(&st.media, ".x", online, 3, holds, NULL, 0, &g, why), 0);

    /* Per room, for status. */
    size_t held, n_missing;
    const char *missing[4];
    assert_int_equal(
        tt_media_room_prelays(&st.media, "stage", holds, NULL, &held, missing, 4, &n_missing), 2);
    assert_int_equal(held, 2);
    assert_int_equal(n_missing, 0);
    assert_int_equal(
        tt_media_room_prelays(&st.media, "overdub", holds, NULL, &held, missing, 1, &n_missing), 2);
    assert_int_equal(held, 0);
    assert_int_equal(n_missing, 1); /* listed up to the cap */
    assert_string_equal(missing[0], "1M1_guide_vox.wav");
    tt_session_clear(&st);
}

int main(void)
{
    hashes();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_name_good),
        cmocka_unit_test(test_file_name_hostile),
        cmocka_unit_test(test_file_name_random),
        cmocka_unit_test(test_check_rules),
        cmocka_unit_test(test_check_size),
        cmocka_unit_test(test_check_duplicates),
        cmocka_unit_test(test_check_names_fetchable),
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_fold_index),
        cmocka_unit_test(test_put_file_name),
        cmocka_unit_test(test_put_rules),
        cmocka_unit_test(test_put_index_and_gate),
        cmocka_unit_test(test_take_capture),
        cmocka_unit_test(test_guide_from_capture_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
