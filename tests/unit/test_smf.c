/* test_smf: MIDI files built byte by byte here (formats 0 and 1, running
 * status, tempo and meter events spread over tracks, divisions that are not
 * 960), one made at test time by another tool (abc2midi), and malformed
 * files, each of which must be refused with the problem and its byte offset.
 * Every map read is also checked to survive the text format unchanged.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt_error.h"
#include "tt_smf.h"
#include "tt_tempo.h"
#include "tt_tempo_visual.h"

typedef struct {
    uint8_t *b;
    size_t n, cap;
} buf_t;

static void put(buf_t *f, const uint8_t *p, size_t n)
{
    if (f->n + n > f->cap) {
        f->cap = (f->n + n) * 2 + 64;
        f->b = realloc(f->b, f->cap);
        assert_non_null(f->b);
    }
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void put32(buf_t *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(f, b, 4);
}

static void put16(buf_t *f, uint32_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(f, b, 2);
}

/* MThd with a 6-byte body. */
static buf_t header(uint32_t format, uint32_t ntrks, uint32_t division)
{
    buf_t f = {0};
    put(&f, (const uint8_t *)"MThd", 4);
    put32(&f, 6);
    put16(&f, format);
    put16(&f, ntrks);
    put16(&f, division);
    return f;
}

static void track(buf_t *f, const uint8_t *data, size_t n)
{
    put(f, (const uint8_t *)"MTrk", 4);
    put32(f, (uint32_t)n);
    put(f, data, n);
}

#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

/* Common events: set-tempo, time signature (2^dd), end of track. */
#define TEMPO(us) 0xFF, 0x51, 0x03, ((us) >> 16) & 0xFF, ((us) >> 8) & 0xFF, (us)&0xFF
#define TIMESIG(nn, dd) 0xFF, 0x58, 0x04, (nn), (dd), 0x18, 0x08
#define EOT 0x00, 0xFF, 0x2F, 0x00

/* Reads f, fails the test with the reason if it is refused, and checks the
 * map comes back equal through the canonical text. */
static tt_tempo_map_t *read_ok(const buf_t *f)
{
    char why[TT_WHY_LEN] = "";
    tt_tempo_map_t *m = tt_smf_read(f->b, f->n, why);
    if (!m)
        fail_msg("tt_smf_read: %s", why);
    char *text;
    assert_int_equal(tt_tempo_format_text(m, &text, why), 0);
    tt_tempo_map_t *back = tt_tempo_parse_text(text, strlen(text), why);
    if (!back)
        fail_msg("reparse of\n%s: %s", text, why);
    assert_true(tt_tempo_equal(m, back));
    free(text);
    tt_tempo_destroy(&back);
    return m;
}

static void assert_text(const tt_tempo_map_t *m, const char *events)
{
    char *text, why[TT_WHY_LEN], want[1024];
    snprintf(want, sizeof want, "fps 24\nstart 00:00:00:00\ncountoff 0\n%s", events);
    assert_int_equal(tt_tempo_format_text(m, &text, why), 0);
    assert_string_equal(text, want);
    free(text);
}

static int64_t ns_at(const tt_tempo_map_t *m, int32_t bar, int32_t beat, int32_t tick)
{
    return tt_tempo_bbt_to_ns(m, (tt_bbt_t){.bar = bar, .beat = beat, .tick = tick});
}

static void assert_ns(int64_t got, int64_t want)
{
    if (llabs(got - want) > 1)
        fail_msg("got %lld ns, expected %lld", (long long)got, (long long)want);
}

static void test_format0(void **state)
{
    (void)state;
    /* 480 PPQ: 4/4 at 120, notes under running status (which also runs on
     * across the meta event, as many files rely on), 60 bpm from beat 3,
     * 3/4 from bar 2. */
    buf_t f = header(0, 1, 480);
    track(&f, BYTES(0x00, TIMESIG(4, 2), 0x00, TEMPO(500000),       /* tick 0 */
                    0x00, 0x90, 0x3C, 0x64, 0x83, 0x60, 0x3C, 0x00, /* note, off at 480 */
                    0x00, 0x3E, 0x64, 0x83, 0x60, 0x3E, 0x00,       /* 480 .. 960 */
                    0x00, TEMPO(1000000),                           /* 960: 60 bpm */
                    0x00, 0x40, 0x64, 0x87, 0x40, 0x40, 0x00,       /* 960 .. 1920 */
                    0x00, TIMESIG(3, 2),                            /* 1920: bar 2 */
                    0x00, 0xC0, 0x05, 0x10, 0x05, 0x00, 0xD0, 0x10, /* 1-byte messages */
                    0x00, 0xF0, 0x03, 0x43, 0x12, 0xF7, EOT));
    tt_tempo_map_t *m = read_ok(&f);
    assert_text(m, "bar 1 4/4 q=120\nat 1.3.0 q=60\nbar 2 3/4\n");
    assert_int_equal(ns_at(m, 1, 2, 0), 500000000);
    assert_int_equal(ns_at(m, 1, 3, 0), 1000000000);
    assert_int_equal(ns_at(m, 1, 4, 0), 2000000000);
    assert_int_equal(ns_at(m, 2, 1, 0), 3000000000);
    assert_int_equal(ns_at(m, 2, 2, 0), 4000000000);
    assert_int_equal(ns_at(m, 3, 1, 0), 6000000000);
    assert_int_equal(ns_at(m, 3, 2, 0), 7000000000);
    assert_int_equal(tt_tempo_countoff_bars(m), 0);
    tt_tempo_destroy(&m);
    free(f.b);
}

static void test_format1_merge(void **state)
{
    (void)state;
    /* 96 PPQ over three tracks: the conductor track sets 6/8 at 666667 us a
     * quarter (90 bpm rounded to the us: read as q=90); a note track
     * steps to 100 bpm at tick 144 (beat 4 of bar 1, in eighths) and then
     * repeats it (dropped); a third track changes to 2/4 and 120 bpm at bar
     * 2 (tick 288) and repeats 2/4 at bar 3 (dropped). */
    buf_t f = header(1, 3, 96);
    track(&f, BYTES(0x00, TIMESIG(6, 3), 0x00, TEMPO(666667), EOT));
    track(&f, BYTES(0x00, 0x91, 0x40, 0x50, 0x60, 0x40, 0x00, 0x30, 0x40, 0x50, /* 0..144 */
                    0x00, TEMPO(600000), 0x38, TEMPO(600000),                   /* 144, 200 */
                    0x10, 0x81, 0x40, 0x00, EOT));
    track(&f, BYTES(0x82, 0x20, TIMESIG(2, 2), 0x00, TEMPO(500000), /* 288 */
                    0x81, 0x40, TIMESIG(2, 2), EOT));               /* 480: bar 3 */
    tt_tempo_map_t *m = read_ok(&f);
    assert_text(m, "bar 1 6/8 q=90\nat 1.4.0 q=100\nbar 2 2/4 q=120\n");
    /* An eighth at 90 is 1/3 s. */
    assert_int_equal(ns_at(m, 1, 2, 0), 333333333);
    assert_int_equal(ns_at(m, 1, 4, 0), 1000000000);
    assert_int_equal(ns_at(m, 1, 5, 0), 1300000000);
    assert_int_equal(ns_at(m, 2, 1, 0), 1900000000);
    assert_int_equal(ns_at(m, 2, 2, 0), 2400000000);
    assert_int_equal(ns_at(m, 3, 1, 0), 2900000000);
    tt_tempo_destroy(&m);
    free(f.b);

    /* At one tick the later track wins. */
    f = header(1, 2, 480);
    track(&f, BYTES(0x00, TEMPO(500000), 0x00, TIMESIG(3, 2), EOT));
    track(&f, BYTES(0x00, TEMPO(600000), 0x00, TIMESIG(5, 3), EOT));
    m = read_ok(&f);
    assert_text(m, "bar 1 5/8 q=100\n");
    tt_tempo_destroy(&m);
    free(f.b);

    /* No meter: 4/4, as the specification says. An unknown chunk is
     * skipped, a track may end without End of Track, and bytes after the
     * declared tracks are ignored. */
    f = header(1, 2, 480);
    put(&f, BYTES('X', 'F', 'I', 'H', 0, 0, 0, 3, 1, 2, 3));
    track(&f, BYTES(0x00, 0x90, 0x3C, 0x64, 0x10, 0x80, 0x3C, 0x00));
    track(&f, BYTES(0x00, 0xFF, 0x03, 0x02, 'h', 'i', 0x00, TEMPO(833333), EOT, 0x12, 0x34));
    put(&f, BYTES(0xDE, 0xAD));
    m = read_ok(&f);
    assert_text(m, "bar 1 4/4 q=72\n"); /* 833333 us: 72 rounded to the us */
    tt_tempo_destroy(&m);
    free(f.b);

    /* No tempo: refused, not 120 invented. */
    char why[TT_WHY_LEN];
    f = header(1, 2, 480);
    track(&f, BYTES(0x00, 0x90, 0x3C, 0x64, 0x10, 0x80, 0x3C, 0x00));
    track(&f, BYTES(0x00, TIMESIG(3, 2), EOT));
    assert_null(tt_smf_read(f.b, f.n, why));
    assert_non_null(strstr(why, "no set-tempo event (FF 51) in any track"));
    free(f.b);
    f = header(0, 1, 480);
    track(&f, BYTES(0x83, 0x60, TEMPO(600000), EOT));
    assert_null(tt_smf_read(f.b, f.n, why));
    assert_non_null(strstr(why, "no set-tempo event at tick 0 (the first is at tick 480)"));
    assert_non_null(strstr(why, "at byte 24"));
    free(f.b);

    /* Tempos the file rounded to the us read as the decimal they were; a
     * tempo that is no short decimal stays exact. */
    static const struct {
        uint32_t uspq;
        const char *text;
    } readable[] = {{652174, "q=92"},
                    {631579, "q=95"},
                    {555556, "q=108"},
                    {483871, "q=124"},
                    {508475, "q=118"},
                    {504202, "q=119"},
                    {612245, "q=98"},
                    {666666, "q=10000000/111111"},
                    {652175, "q=2400000/26087"},
                    {500001, "q=20000000/166667"},
                    {545455, "q=110"},
                    {461538, "q=130"},
                    {600001, "q=60000000/600001"},
                    {1000000, "q=60"},
                    {648649, "q=92.5"},
                    {2999999, "q=60000000/2999999"}};
    for (size_t i = 0; i < sizeof readable / sizeof readable[0]; i++) {
        char want[64];
        f = header(0, 1, 480);
        track(&f, BYTES(0x00, TEMPO(readable[i].uspq), EOT));
        m = read_ok(&f);
        snprintf(want, sizeof want, "bar 1 4/4 %s\n", readable[i].text);
        assert_text(m, want);
        tt_tempo_destroy(&m);
        free(f.b);
    }
}

static void test_divisions(void **state)
{
    (void)state;
    /* 1000 PPQ does not divide 960: tick 1 lands on grid tick 1 (0.96
     * rounded), tick 1500 exactly on 1440; 4/4 bar 2 is tick 4000 -> 3840. */
    buf_t f = header(0, 1, 1000);
    track(&f, BYTES(0x00, TEMPO(500000), 0x01, TEMPO(1000000), 0x8B, 0x5B, TEMPO(500000), 0x93,
                    0x44, TIMESIG(3, 2), EOT));
    tt_tempo_map_t *m = read_ok(&f);
    assert_text(m, "bar 1 4/4 q=120\nat 1.1.1 q=60\nat 1.2.480 q=120\nbar 2 3/4\n");
    tt_tempo_destroy(&m);
    free(f.b);

    /* 3840 PPQ: a tempo at tick 1 rounds to grid tick 0 and replaces the
     * one at tick 0; two at ticks that round alike: the later one counts. */
    f = header(0, 1, 3840);
    track(&f,
          BYTES(0x00, TEMPO(500000), 0x01, TEMPO(600000), 0xF7, 0x7E, TEMPO(1000000), /* 15359 */
                0x01, TEMPO(750000), EOT));                                           /* 15360 */
    m = read_ok(&f);
    assert_text(m, "bar 1 4/4 q=100\nbar 2 q=80\n");
    tt_tempo_destroy(&m);
    free(f.b);

    /* A meter change that falls between grid ticks cannot be on a bar line. */
    char why[TT_WHY_LEN];
    f = header(0, 1, 1000);
    track(&f, BYTES(0x00, TEMPO(500000), 0x9F, 0x21, TIMESIG(3, 2), EOT));
    assert_null(tt_smf_read(f.b, f.n, why));
    assert_non_null(strstr(why, "time signature 3/4 at tick 4001 is not on a bar line"));
    assert_non_null(strstr(why, "at byte 31"));
    free(f.b);
}

static void test_smpte_offset(void **state)
{
    (void)state;
    char why[TT_WHY_LEN], *text;
    /* Rate bits 3 (30 fps), 1 h: bar 1 is 01:00:00:00 at 30. */
    buf_t f = header(0, 1, 480);
    track(&f,
          BYTES(0x00, 0xFF, 0x54, 0x05, 0x61, 0x00, 0x00, 0x00, 0x00, 0x00, TEMPO(500000), EOT));
    tt_tempo_map_t *m = read_ok(&f);
    assert_int_equal(tt_tempo_fps(m), TT_FPS_30);
    assert_int_equal(tt_tempo_start_frame(m), 30 * 3600);
    tt_tempo_destroy(&m);
    free(f.b);

    /* Rate bits 2: 29.97 drop frame, 00:10:00;00. */
    f = header(0, 1, 480);
    track(&f,
          BYTES(0x00, 0xFF, 0x54, 0x05, 0x40, 0x0A, 0x00, 0x00, 0x00, 0x00, TEMPO(500000), EOT));
    m = read_ok(&f);
    assert_int_equal(tt_tempo_format_text(m, &text, why), 0);
    assert_string_equal(text, "fps 29.97df\nstart 00:10:00;00\ncountoff 0\nbar 1 4/4 q=120\n");
    free(text);
    tt_tempo_destroy(&m);
    free(f.b);

    /* A label that does not exist is refused. */
    f = header(0, 1, 480);
    track(&f,
          BYTES(0x00, 0xFF, 0x54, 0x05, 0x19, 0x00, 0x00, 0x00, 0x00, 0x00, TEMPO(500000), EOT));
    assert_null(tt_smf_read(f.b, f.n, why));
    assert_non_null(strstr(why, "SMPTE offset 25:00:00:00"));
    assert_non_null(strstr(why, "at byte 23"));
    free(f.b);
}

static void test_smpte_division(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    buf_t f = header(0, 1, 0xE728); /* -25 fps, 40 ticks per frame */
    track(&f, BYTES(0x00, TEMPO(500000), EOT));
    assert_null(tt_smf_read(f.b, f.n, why));
    assert_non_null(strstr(why, "SMPTE time division (25 fps, 40 ticks per frame)"));
    assert_non_null(strstr(why, "at byte 12"));
    free(f.b);
}

/* One malformed single-track file per case: header fields, track bytes
 * (from byte 22), and what the reason must say. */
static void test_corrupt_tracks(void **state)
{
    (void)state;
    struct {
        uint32_t format, ntrks, division;
        const uint8_t *trk;
        size_t n;
        const char *want, *at;
    } cases[] = {
        {0, 1, 480, BYTES(0xFF, 0xFF, 0xFF, 0xFF, 0x00), "bad variable-length quantity",
         "at byte 22"},
        {0, 1, 480, BYTES(0x00, 0x90, 0x3C, 0x64, 0x81), "truncated variable-length quantity",
         "at byte 26"},
        {0, 1, 480, BYTES(0x00, 0x3C, 0x64, EOT), "running status without a previous status",
         "at byte 23"},
        {0, 1, 480, BYTES(0x00, 0xFF, 0x51, 0x10, 0x07, 0xA1, 0x20),
         "meta event FF 51 length 16 runs past the end of the track", "at byte 23"},
        {0, 1, 480, BYTES(0x00, 0xFF, 0x51, 0x83), "truncated variable-length quantity",
         "at byte 25"},
        {0, 1, 480, BYTES(0x00, 0xFF), "truncated meta event", "at byte 23"},
        {0, 1, 480, BYTES(0x00, 0xF0, 0x05, 0x01, 0x02), "sysex length 5", "at byte 23"},
        {0, 1, 480, BYTES(0x00, 0xF1, 0x00), "unexpected status byte 0xF1", "at byte 23"},
        {0, 1, 480, BYTES(0x00, 0x90, 0x3C), "channel message 0x90 runs past", "at byte 23"},
        {0, 1, 480, BYTES(0x00, 0x90, 0x3C, 0x64, 0x10), "truncated event", "at byte 27"},
        {0, 1, 480, BYTES(0x00, 0xFF, 0x51, 0x02, 0x07, 0xA1), "set-tempo (FF 51) of length 2",
         "at byte 23"},
        {0, 1, 480, BYTES(0x00, TEMPO(100000), EOT),
         "set-tempo 100000 us per quarter (600.000 bpm) is outside 20..400", "at byte 23"},
        {0, 1, 480, BYTES(0x00, TEMPO(0), EOT), "set-tempo 0 us", "at byte 23"},
        {0, 1, 480, BYTES(0x00, TEMPO(3000001), EOT), "outside 20..400", "at byte 23"},
        {0, 1, 480, BYTES(0x00, 0xFF, 0x58, 0x02, 0x04, 0x02, EOT),
         "time signature (FF 58) of length 2", "at byte 23"},
        {0, 1, 480, BYTES(0x00, TIMESIG(4, 6), EOT), "time signature 4/2^6", "at byte 23"},
        {0, 1, 480, BYTES(0x00, TIMESIG(0, 2), EOT), "time signature 0/2^2", "at byte 23"},
        {0, 1, 480, BYTES(0x00, TEMPO(500000), 0x00, TIMESIG(4, 2), 0x83, 0x60, TIMESIG(3, 2), EOT),
         "time signature 3/4 at tick 480 is not on a bar line (bar 1 beat 2 tick 0 of 4/4)",
         "at byte 39"},
        {0, 1, 480, BYTES(0x00, 0xFF, 0x54, 0x04, 0x01, 0x00, 0x00, 0x00, EOT),
         "SMPTE offset (FF 54) of length 4", "at byte 23"},
        /* 4/4 at 1 PPQ: bar 1000001 starts at tick 4000000. */
        {0, 1, 1, BYTES(0x00, TEMPO(500000), 0x81, 0xF4, 0x92, 0x00, TIMESIG(3, 2), EOT),
         "meter event: meter change at bar 1000001: beyond bar 1000000", "at byte 33"},
        {0, 1, 1, BYTES(0x00, TEMPO(500000), 0x81, 0xF4, 0x92, 0x00, TEMPO(600000), EOT),
         "set-tempo event: tempo mark at tick 3840000000: beyond bar 1000000", "at byte 33"},
        {2, 1, 480, BYTES(EOT), "format 2 is not supported", "at byte 8"},
        {0, 0, 480, BYTES(EOT), "0 tracks", "at byte 10"},
        {1, 65, 480, BYTES(EOT), "65 tracks (1..64 supported)", "at byte 10"},
        {0, 1, 0, BYTES(EOT), "division of 0", "at byte 12"},
        {1, 2, 480, BYTES(EOT), "file ends after 1 of the 2 tracks", "at byte 26"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[TT_WHY_LEN] = "";
        buf_t f = header(cases[i].format, cases[i].ntrks, cases[i].division);
        track(&f, cases[i].trk, cases[i].n);
        tt_tempo_map_t *m = tt_smf_read(f.b, f.n, why);
        free(f.b);
        if (m || !strstr(why, cases[i].want) || !strstr(why, cases[i].at) ||
            strncmp(why, "MIDI file: ", 11) != 0) {
            tt_tempo_destroy(&m);
            fail_msg("case %zu: want \"%s\" %s, got \"%s\"", i, cases[i].want, cases[i].at, why);
        }
    }
}

static void expect_fail(const uint8_t *b, size_t n, const char *want, const char *at)
{
    char why[TT_WHY_LEN] = "";
    tt_tempo_map_t *m = tt_smf_read(b, n, why);
    if (m || !strstr(why, want) || !strstr(why, at)) {
        tt_tempo_destroy(&m);
        fail_msg("want \"%s\" %s, got \"%s\"", want, at, why);
    }
}

static void test_corrupt_files(void **state)
{
    (void)state;
    expect_fail(BYTES('R', 'I', 'F', 'F', 0, 0, 0, 0), "no MThd header", "at byte 0");
    expect_fail(BYTES('M', 'T'), "no MThd header", "at byte 0");
    expect_fail(NULL, 0, "no MThd header", "at byte 0");
    expect_fail(BYTES('M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0), "truncated MThd header", "at byte 0");
    expect_fail(BYTES('M', 'T', 'h', 'd', 0, 0, 0, 4, 0, 0, 0, 1, 1, 0xE0), "MThd length 4",
                "at byte 4");
    expect_fail(BYTES('M', 'T', 'h', 'd', 0, 0, 3, 0xE8, 0, 0, 0, 1, 1, 0xE0),
                "MThd length 1000 runs past the end of the file (14 bytes)", "at byte 4");

    buf_t f = header(0, 1, 480);
    put(&f, BYTES('M', 'T', 'r', 'k', 0, 0, 0, 100, 0x00, 0xFF, 0x2F, 0x00));
    expect_fail(f.b, f.n, "chunk \"MTrk\" length 100 runs past the end of the file (26 bytes)",
                "at byte 14");
    free(f.b);

    f = header(0, 2, 480);
    track(&f, BYTES(EOT));
    put(&f, BYTES('M', 'T', 'r'));
    expect_fail(f.b, f.n, "truncated chunk header", "at byte 26");
    free(f.b);

    f = header(0, 2, 480);
    track(&f, BYTES(EOT));
    put(&f, BYTES(0, 0, 0, 0, 0, 0, 0, 0));
    expect_fail(f.b, f.n, "not a chunk header (00 00 00 00)", "at byte 26");
    free(f.b);

    /* Over 16 MiB, whatever it holds. */
    size_t big = TT_SMF_MAX_BYTES + 1;
    uint8_t *b = calloc(1, big);
    assert_non_null(b);
    memcpy(b, "MThd", 4);
    char why[TT_WHY_LEN];
    assert_null(tt_smf_read(b, big, why));
    assert_non_null(strstr(why, "at most 16777216"));
    free(b);

    /* More tempo changes than a map holds. */
    f = header(0, 1, 480);
    buf_t t = {0};
    put(&t, BYTES(0x00, TEMPO(700000)));
    for (int i = 0; i < 1100; i++)
        put(&t, BYTES(0x83, 0x60, TEMPO(i % 2 ? 500000 : 600000)));
    put(&t, BYTES(EOT));
    track(&f, t.b, t.n);
    expect_fail(f.b, f.n, "set-tempo event: more than 1024 meter changes and tempo marks",
                "at byte 8207"); /* the 1023rd change: 22 + 7 + 1022 * 8 + 2 */
    free(t.b);
    free(f.b);
}

/* Every prefix and many one-byte mutations of a valid file: refused with a
 * reason or read, never a crash (ASan watches). */
static void test_truncations_and_mutations(void **state)
{
    (void)state;
    buf_t f = header(1, 2, 96);
    track(&f, BYTES(0x00, TIMESIG(6, 3), 0x00, TEMPO(666667), 0x00, 0xFF, 0x54, 0x05, 0x20, 0, 0, 0,
                    0, EOT));
    track(&f, BYTES(0x00, 0x91, 0x40, 0x50, 0x60, 0x40, 0x00, 0x30, 0x40, 0x50, 0x00, TEMPO(600000),
                    0x00, 0xF0, 0x02, 0x01, 0xF7, 0x81, 0x10, TIMESIG(2, 2), EOT));
    char why[TT_WHY_LEN];
    tt_tempo_map_t *m = read_ok(&f);
    tt_tempo_destroy(&m);
    int read = 0, refused = 0;
    for (size_t n = 0; n < f.n; n++) {
        m = tt_smf_read(f.b, n, why);
        if (m) {
            read++;
            tt_tempo_destroy(&m);
        } else {
            refused++;
            assert_non_null(strstr(why, "at byte"));
        }
    }
    assert_true(refused > 0);
    static const uint8_t values[] = {0x00, 0x01, 0x7F, 0x80, 0x81, 0xF0, 0xFF};
    uint8_t *copy = malloc(f.n);
    for (size_t i = 0; i < f.n; i++) {
        for (size_t v = 0; v < sizeof values; v++) {
            memcpy(copy, f.b, f.n);
            copy[i] = values[v];
            m = tt_smf_read(copy, f.n, why);
            if (m) {
                read++;
                char *text;
                assert_int_equal(tt_tempo_format_text(m, &text, why), 0);
                tt_tempo_map_t *back = tt_tempo_parse_text(text, strlen(text), why);
                assert_non_null(back);
                assert_true(tt_tempo_equal(m, back));
                free(text);
                tt_tempo_destroy(&back);
                tt_tempo_destroy(&m);
            } else {
                assert_non_null(strstr(why, "MIDI file: "));
            }
        }
    }
    assert_true(read > 0);
    free(copy);
    free(f.b);
}

/* A file written by another program: abc2midi (Debian package abcmidi)
 * from ABC with tempo (Q:) and meter (M:) changes. abc2midi writes 480 PPQ,
 * meters on the bar line, and inline tempos a tick after it (and rounds us
 * per quarter), so times after a tempo change are checked against the
 * score to 2 ms and against each other exactly. */
static void test_abc2midi(void **state)
{
    (void)state;
    if (system("command -v abc2midi >/dev/null 2>&1") != 0) {
        print_message("abc2midi not installed (Debian package abcmidi): skipping\n");
        skip();
    }
    const char *tmp = getenv("TMPDIR");
    char dir[512], abc[600], mid[600], cmd[2048];
    snprintf(dir, sizeof dir, "%s/tt_smf_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(abc, sizeof abc, "%s/cue.abc", dir);
    snprintf(mid, sizeof mid, "%s/cue.mid", dir);
    FILE *fp = fopen(abc, "w");
    assert_non_null(fp);
    fputs("X:1\n"
          "T:tutti tempo import\n"
          "M:4/4\n"
          "L:1/4\n"
          "Q:1/4=120\n"
          "K:C\n"
          "C D E F | G A B c |[M:3/4] c B A |[Q:1/4=90] G F E |"
          "[M:6/8][Q:3/8=80] C3/2 D3/2 | E3/2 F3/2 | G3/2 A3/2 |]\n",
          fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "abc2midi '%s' -o '%s' -silent >/dev/null 2>&1", abc, mid);
    int rc = system(cmd);
    buf_t f = {0};
    fp = fopen(mid, "rb");
    if (rc == 0 && fp) {
        uint8_t chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
            put(&f, chunk, n);
    }
    if (fp)
        fclose(fp);
    unlink(abc);
    unlink(mid);
    rmdir(dir);
    if (rc != 0 || f.n == 0)
        fail_msg("abc2midi failed (exit %d) or wrote nothing", rc);

    tt_tempo_map_t *m = read_ok(&f);
    int32_t num, den;
    tt_tempo_meter_at(m, 2, &num, &den);
    assert_true(num == 4 && den == 4);
    tt_tempo_meter_at(m, 3, &num, &den);
    assert_true(num == 3 && den == 4);
    tt_tempo_meter_at(m, 4, &num, &den);
    assert_true(num == 3 && den == 4);
    tt_tempo_meter_at(m, 5, &num, &den);
    assert_true(num == 6 && den == 8);
    /* Until bar 4, 120 bpm exactly: 8 + 3 quarters of 0.5 s. */
    assert_int_equal(ns_at(m, 2, 1, 0), 2000000000);
    assert_int_equal(ns_at(m, 3, 1, 0), 4000000000);
    assert_int_equal(ns_at(m, 3, 3, 0), 5000000000);
    assert_int_equal(ns_at(m, 4, 1, 0), 5500000000);
    /* The score: bar 4 at quarter = 90, 6/8 from bar 5 at dotted quarter =
     * 80 (quarter = 120, an eighth 0.25 s). */
    static const struct {
        int32_t bar, beat;
        int64_t ns;
    } score[] = {{4, 2, 6166666667}, {5, 1, 7500000000}, {5, 2, 7750000000},
                 {6, 1, 9000000000}, {6, 4, 9750000000}, {7, 1, 10500000000}};
    for (size_t i = 0; i < sizeof score / sizeof score[0]; i++) {
        int64_t got = ns_at(m, score[i].bar, score[i].beat, 0);
        if (llabs(got - score[i].ns) > 2000000)
            fail_msg("bar %d beat %d at %lld ns, score says %lld", (int)score[i].bar,
                     (int)score[i].beat, (long long)got, (long long)score[i].ns);
    }
    /* Exactly: 5 eighths at 120 between bar 5 beat 2 and bar 6, 6 more to
     * bar 7, and a quarter of bar 4 after its tempo change is 60/90 s
     * give or take abc2midi's rounding of the us value (< 1 us). */
    assert_ns(ns_at(m, 6, 1, 0) - ns_at(m, 5, 2, 0), 1250000000);
    assert_ns(ns_at(m, 7, 1, 0) - ns_at(m, 6, 1, 0), 1500000000);
    assert_true(llabs(ns_at(m, 4, 3, 0) - ns_at(m, 4, 2, 0) - 666666667) < 1000);
    assert_true(fabs(tt_tempo_bpm_at(m, 6500000000) - 90.0) < 0.001);
    assert_true(fabs(tt_tempo_bpm_at(m, 8000000000) - 120.0) < 0.001);
    /* The click follows: 6 a bar in 6/8, accented on each beat 1. */
    tt_click_t c;
    assert_int_equal(tt_tempo_next_click(m, ns_at(m, 5, 1, 0), &c), 0);
    assert_int_equal(c.beats, 6);
    assert_int_equal(c.downbeat, 1);
    tt_tempo_destroy(&m);
    free(f.b);
}

static void test_markers(void **state)
{
    (void)state;
    /* Markers are named locations: "Start" at tick 0, a second one 960
     * ticks (two quarters at 480) later with a tab and a '#'. */
    buf_t f = header(0, 1, 480);
    track(&f, BYTES(0x00, TEMPO(500000), 0x00, 0xFF, 0x06, 0x05, 'S', 't', 'a', 'r', 't', 0x87,
                    0x40, 0xFF, 0x06, 0x0C, 'D', 'o', 'o', 'r', '\t', ' ', 's', 'l', 'a', 'm', ' ',
                    '#', 0x00, 0xFF, 0x06, 0x00, EOT));
    tt_tempo_map_t *m = read_ok(&f);
    assert_text(m, "bar 1 4/4 q=120\nmarker 1.1.0 Start\nmarker 1.3.0 Door slam ?\n");
    tt_tempo_destroy(&m);
    free(f.b);
}

/* Writes m, reads it back: what the file can say comes back. */
static tt_tempo_map_t *export_import(const tt_tempo_map_t *m)
{
    uint8_t *b = NULL;
    size_t n = 0;
    char why[TT_WHY_LEN];
    if (tt_smf_write(m, &b, &n, why) != 0)
        fail_msg("tt_smf_write: %s", why);
    buf_t f = {.b = b, .n = n, .cap = n};
    tt_tempo_map_t *back = read_ok(&f);
    free(b);
    return back;
}

/* A meta event of type `type` with text t after delta ticks (< 128). */
static void put_text(buf_t *f, uint8_t delta, uint8_t type, const char *t)
{
    size_t n = strlen(t);
    uint8_t head[4] = {delta, 0xFF, type, (uint8_t)n};
    assert_true(n < 128);
    put(f, head, 4);
    put(f, (const uint8_t *)t, n);
}

static void put_track(buf_t *f, const buf_t *t)
{
    track(f, t->b, t->n);
}

/* Markers and cue points whose text reads as a visual marker's words
 * become visual markers; other markers stay named locations, other cue
 * points are skipped. */
static void test_visual_markers(void **state)
{
    (void)state;
    buf_t t = {0};
    put(&t, BYTES(0x00, TEMPO(500000)));
    put_text(&t, 0, 0x06, "streamer");
    put_text(&t, 0, 0x06, "Start");
    put_text(&t, 120, 0x06, "punch"); /* tick 120 at 480: 1.1.240 */
    put_text(&t, 0, 0x07, "flutter 3");
    put_text(&t, 0, 0x07, "Scene 5");
    put_text(&t, 0, 0x06, "hit door  slam");
    put_text(&t, 0, 0x06, "Hit the lights");
    put_text(&t, 0, 0x06, "flutter 4");
    put_text(&t, 0, 0x06, "streamer len 1b color #00FF00");
    put_text(&t, 0, 0x06, "hit #1"); /* kept as "hit ?1", which reads as a hit */
    put_text(&t, 0, 0x07, "warning\tlen 1.5s");
    put(&t, BYTES(EOT));
    buf_t f = header(0, 1, 480);
    put_track(&f, &t);
    tt_tempo_map_t *m = read_ok(&f);
    assert_text(m, "bar 1 4/4 q=120\n"
                   "marker 1.1.0 Start\nmarker 1.1.240 Hit the lights\n"
                   "marker 1.1.240 flutter 4\n"
                   "streamer at 1.1 len 2s\n"
                   "punch at 1.1.240\n"
                   "flutter at 1.1.240 flashes 3\n"
                   "hit at 1.1.240 \"door slam\"\n"
                   "streamer at 1.1.240 len 1b color #00ff00\n"
                   "hit at 1.1.240 \"?1\"\n"
                   "warning at 1.1.240 len 1.5s\n");
    /* Written and read again: the same map. */
    tt_tempo_map_t *back = export_import(m);
    assert_true(tt_tempo_equal(m, back));
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);
    free(f.b);
    free(t.b);

    /* A visual marker that does not fit the map refuses the file, naming
     * the event: 30 beats at 120 last 15 s. */
    t = (buf_t){0};
    put(&t, BYTES(0x00, TEMPO(500000)));
    put_text(&t, 0, 0x06, "streamer len 30b");
    put(&t, BYTES(EOT));
    f = header(0, 1, 480);
    put_track(&f, &t);
    char why[TT_WHY_LEN];
    assert_null(tt_smf_read(f.b, f.n, why));
    assert_non_null(strstr(why, "MIDI file: marker \"streamer len 30b\": streamer at 1.1.0: its "
                                "30 beats last 15.000 s (at most 10) at byte 30"));
    free(f.b);
    free(t.b);
}

static void test_export(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    /* Steps and meters come back exactly, tempos readably. */
    const char *plain = "fps 24\nstart 00:00:00:00\ncountoff 0\nbar 1 4/4 q=92\nbar 3 3/4 q=120\n"
                        "at 4.2.0 q=72\nbar 6 7/8\n";
    tt_tempo_map_t *m = tt_tempo_parse_text(plain, strlen(plain), why);
    assert_non_null(m);
    tt_tempo_map_t *back = export_import(m);
    assert_true(tt_tempo_equal(m, back));
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);

    /* A film cue: bar times within a few us through the ramp, the rit and
     * free time; the start, meters and what MIDI cannot say as markers. */
    const char *film = "fps 25\nstart 01:00:00:00\nend 20\nbar 1 4/4 q=100\n"
                       "bar 3 6/8 in 2 q.=12-4\nbar 5 4/4 q=90\nbar 7 q=120 ramp\n"
                       "bar 8 rit q=80 over 4\nbar 10 free until 11 at 01:00:30:00\n"
                       "bar 12 click off\nbar 14 click on\nmarker 13.3.0 Hit\n";
    m = tt_tempo_parse_text(film, strlen(film), why);
    assert_non_null(m);
    back = export_import(m);
    assert_int_equal(tt_tempo_fps(back), TT_FPS_25);
    assert_int_equal(tt_tempo_start_frame(back), 25 * 3600);
    for (int32_t bar = 1; bar <= 21; bar++) {
        int32_t n1, d1, n2, d2;
        tt_tempo_meter_at(m, bar, &n1, &d1);
        tt_tempo_meter_at(back, bar, &n2, &d2);
        assert_true(n1 == n2 && d1 == d2);
        int64_t a = ns_at(m, bar, 1, 0), b = ns_at(back, bar, 1, 0);
        if (llabs(a - b) > 20000)
            fail_msg("bar %d: %lld ns in the map, %lld ns from the file", (int)bar, (long long)a,
                     (long long)b);
    }
    static const char *names[] = {
        "rit q=80 over 4", "free until 11 at 01:00:30:00", "click off", "click on", "Hit", "end"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        tt_bbt_t pos;
        const char *name;
        size_t k = 0;
        while (tt_tempo_marker(back, k, &pos, &name) == 0 && strcmp(name, names[i]) != 0)
            k++;
        if (tt_tempo_marker(back, k, &pos, &name) != 0)
            fail_msg("no marker \"%s\" in the exported file", names[i]);
    }
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);
}

/* A text map's visual markers survive the MIDI file: each is a marker with
 * its words; those in bar 0 (before tick 0) are not written. */
static void test_export_visuals(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    const char *text = "fps 25\nstart 01:00:00:00\nbar 1 4/4 q=100\nbar 3 6/8\n"
                       "marker 2.1.0 Titles\n"
                       "streamer at 2.1 len 3s\npunch at 2.1\nwarning at 3.1 len 2b\n"
                       "flutter at 3.4 flashes 5 color #102030\nhit at 4.2.100 \"door slam\"\n"
                       "streamer at 5.1 len 9.5s color yellow \"a b c d e f g h i j\"\n";
    tt_tempo_map_t *m = tt_tempo_parse_text(text, strlen(text), why);
    assert_non_null(m);
    tt_tempo_map_t *back = export_import(m);
    assert_true(tt_tempo_equal(m, back));
    tt_tempo_destroy(&back);
    /* Bar 0 is before the file's tick 0. */
    tt_visual_spec_t v = {.kind = TT_VISUAL_PUNCH, .pos = {0, 2, 0}, .color = TT_COLOR_DEFAULT};
    assert_int_equal(tt_tempo_add_visual(m, &v, why), 0);
    back = export_import(m);
    assert_false(tt_tempo_equal(m, back));
    assert_int_equal(tt_tempo_visual_count(back), tt_tempo_visual_count(m) - 1);
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format0),        cmocka_unit_test(test_format1_merge),
        cmocka_unit_test(test_divisions),      cmocka_unit_test(test_smpte_offset),
        cmocka_unit_test(test_smpte_division), cmocka_unit_test(test_corrupt_tracks),
        cmocka_unit_test(test_corrupt_files),  cmocka_unit_test(test_truncations_and_mutations),
        cmocka_unit_test(test_abc2midi),       cmocka_unit_test(test_markers),
        cmocka_unit_test(test_visual_markers), cmocka_unit_test(test_export),
        cmocka_unit_test(test_export_visuals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
