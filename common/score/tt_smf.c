/* tt_smf: Standard MIDI File -> tempo map.
 *
 * Two passes. The first walks every chunk and every event, checking the
 * framing (a file that lies about a length must be refused with the offset,
 * not half-read) and collecting the tempo, time-signature and SMPTE-offset
 * meta events with their absolute tick and byte offset. The second sorts
 * those by tick (stable across tracks) and appends them to a tt_tempo map,
 * which checks order, ranges and limits; its reasons are prefixed with the
 * offending event's offset.
 */
#include "tt_smf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_error.h"
#include "tt_tempo_visual.h"

#define US_PER_MINUTE 60000000
#define MIN_USPQ (US_PER_MINUTE / TT_TEMPO_MAX_BPM) /* 150000 */
#define MAX_USPQ (US_PER_MINUTE / TT_TEMPO_MIN_BPM) /* 3000000 */
/* Ticks beyond this cannot be a cue position (and * 960 must not overflow). */
#define MAX_EVENT_TICK (INT64_C(1) << 48)

enum { EV_TEMPO, EV_METER, EV_SMPTE, EV_MARKER, EV_CUE };

typedef struct {
    int64_t tick;
    uint32_t seq; /* file order, to keep the merge stable */
    uint8_t type;
    uint8_t b[5];
    uint32_t uspq;
    size_t off;      /* byte offset of the event's status byte */
    size_t text_off; /* EV_MARKER, EV_CUE: its text in the file */
    uint32_t text_len;
} ev_t;

typedef struct {
    const uint8_t *data;
    size_t len;
    char *why;
    ev_t *ev;
    size_t nev, cap;
} reader_t;

__attribute__((format(printf, 4, 5))) static int fail_at(char *why, int err, size_t off,
                                                         const char *fmt, ...)
{
    char msg[TT_WHY_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tt_fail(why, err, "MIDI file: %s at byte %zu", msg, off);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static int read_vlq(reader_t *r, size_t *p, size_t end, uint32_t *out)
{
    size_t start = *p;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (*p >= end)
            return fail_at(r->why, TT_ERR_CORRUPT, start,
                           "truncated variable-length quantity (track ends at byte %zu)", end);
        uint8_t c = r->data[(*p)++];
        v = v << 7 | (c & 0x7f);
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return fail_at(r->why, TT_ERR_CORRUPT, start, "bad variable-length quantity (over 4 bytes)");
}

static int push(reader_t *r, const ev_t *e)
{
    if (r->nev == TT_SMF_MAX_TEMPO_EVENTS)
        return fail_at(r->why, TT_ERR_TOO_BIG, e->off, "more than %d tempo and meter events",
                       TT_SMF_MAX_TEMPO_EVENTS);
    if (r->nev == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 64;
        ev_t *p = realloc(r->ev, ncap * sizeof *p);
        if (!p)
            return tt_fail(r->why, TT_ERR_NOMEM, "MIDI file: out of memory");
        r->ev = p;
        r->cap = ncap;
    }
    r->ev[r->nev] = *e;
    r->ev[r->nev].seq = (uint32_t)r->nev;
    r->nev++;
    return 0;
}

static int meta_event(reader_t *r, uint8_t type, const uint8_t *d, uint32_t n, int64_t tick,
                      size_t off)
{
    ev_t e = {.tick = tick, .off = off};
    if (type != 0x51 && type != 0x58 && type != 0x54 && type != 0x06 && type != 0x07)
        return 0;
    if (tick > MAX_EVENT_TICK)
        return fail_at(r->why, TT_ERR_INVALID, off, "meta event at tick %lld is too far out",
                       (long long)tick);
    switch (type) {
    case 0x51:
        if (n != 3)
            return fail_at(r->why, TT_ERR_CORRUPT, off, "set-tempo (FF 51) of length %u, not 3", n);
        e.type = EV_TEMPO;
        e.uspq = (uint32_t)d[0] << 16 | (uint32_t)d[1] << 8 | d[2];
        if (e.uspq < MIN_USPQ || e.uspq > MAX_USPQ)
            return fail_at(r->why, TT_ERR_INVALID, off,
                           "set-tempo %u us per quarter (%.3f bpm) is outside %d..%d bpm", e.uspq,
                           e.uspq ? (double)US_PER_MINUTE / e.uspq : 0.0, TT_TEMPO_MIN_BPM,
                           TT_TEMPO_MAX_BPM);
        break;
    case 0x58:
        if (n < 4)
            return fail_at(r->why, TT_ERR_CORRUPT, off,
                           "time signature (FF 58) of length %u, not 4", n);
        e.type = EV_METER;
        e.b[0] = d[0];
        e.b[1] = d[1];
        if (d[0] < 1 || d[0] > 32 || d[1] > 5)
            return fail_at(r->why, TT_ERR_INVALID, off,
                           "time signature %u/2^%u: numerator must be 1..32, denominator 1..32",
                           d[0], d[1]);
        break;
    case 0x06: /* marker: a named location or a visual marker */
    case 0x07: /* cue point: a visual marker, else nothing */
        e.type = type == 0x06 ? EV_MARKER : EV_CUE;
        e.text_off = (size_t)(d - r->data);
        e.text_len = n;
        break;
    default: /* 0x54 */
        if (n != 5)
            return fail_at(r->why, TT_ERR_CORRUPT, off, "SMPTE offset (FF 54) of length %u, not 5",
                           n);
        if (tick != 0)
            return 0; /* only the offset of tick 0 places the cue */
        e.type = EV_SMPTE;
        memcpy(e.b, d, 5);
        break;
    }
    return push(r, &e);
}

static int read_track(reader_t *r, size_t p, size_t end)
{
    const uint8_t *d = r->data;
    int64_t tick = 0;
    uint8_t running = 0;
    int rc;
    while (p < end) {
        uint32_t delta = 0; /* set by read_vlq on success */
        if ((rc = read_vlq(r, &p, end, &delta)))
            return rc;
        tick += delta;
        size_t off = p;
        if (p >= end)
            return fail_at(r->why, TT_ERR_CORRUPT, p, "truncated event (track ends at byte %zu)",
                           end);
        uint8_t st = d[p];
        if (st & 0x80) {
            p++;
        } else if (!running) {
            return fail_at(r->why, TT_ERR_CORRUPT, p,
                           "running status without a previous status byte (data byte 0x%02X)", st);
        } else {
            st = running;
        }
        if (st < 0xF0) {
            size_t need = (st & 0xE0) == 0xC0 ? 1 : 2; /* program change, channel pressure */
            running = st;
            if (end - p < need)
                return fail_at(r->why, TT_ERR_CORRUPT, off,
                               "channel message 0x%02X runs past the end of the track (byte %zu)",
                               st, end);
            p += need;
        } else if (st == 0xF0 || st == 0xF7) {
            uint32_t n = 0;
            if ((rc = read_vlq(r, &p, end, &n)))
                return rc;
            if (n > end - p)
                return fail_at(r->why, TT_ERR_CORRUPT, off,
                               "sysex length %u runs past the end of the track (byte %zu)", n, end);
            p += n;
        } else if (st == 0xFF) {
            uint32_t n = 0;
            if (p >= end)
                return fail_at(r->why, TT_ERR_CORRUPT, off,
                               "truncated meta event (track ends at byte %zu)", end);
            uint8_t type = d[p++];
            if ((rc = read_vlq(r, &p, end, &n)))
                return rc;
            if (n > end - p)
                return fail_at(r->why, TT_ERR_CORRUPT, off,
                               "meta event FF %02X length %u runs past the end of the track "
                               "(byte %zu)",
                               type, n, end);
            if ((rc = meta_event(r, type, d + p, n, tick, off)))
                return rc;
            p += n;
            if (type == 0x2F)
                return 0; /* End of Track; anything after it is padding */
        } else {
            return fail_at(r->why, TT_ERR_CORRUPT, off,
                           "unexpected status byte 0x%02X (not allowed in a MIDI file)", st);
        }
    }
    return 0;
}

static int read_chunks(reader_t *r, uint32_t ntrks, size_t pos)
{
    const uint8_t *d = r->data;
    uint32_t track = 0;
    while (track < ntrks) {
        if (pos == r->len)
            return fail_at(r->why, TT_ERR_CORRUPT, pos,
                           "file ends after %u of the %u tracks the header declares", track, ntrks);
        if (r->len - pos < 8)
            return fail_at(r->why, TT_ERR_CORRUPT, pos, "truncated chunk header");
        for (int i = 0; i < 4; i++)
            if (d[pos + i] < 0x20 || d[pos + i] > 0x7e)
                return fail_at(r->why, TT_ERR_CORRUPT, pos,
                               "not a chunk header (%02X %02X %02X %02X)", d[pos], d[pos + 1],
                               d[pos + 2], d[pos + 3]);
        uint32_t clen = be32(d + pos + 4);
        if (clen > r->len - pos - 8)
            return fail_at(r->why, TT_ERR_CORRUPT, pos,
                           "chunk \"%.4s\" length %u runs past the end of the file (%zu bytes)",
                           (const char *)d + pos, clen, r->len);
        if (memcmp(d + pos, "MTrk", 4) == 0) {
            int rc = read_track(r, pos + 8, pos + 8 + clen);
            if (rc)
                return rc;
            track++;
        }
        pos += 8 + (size_t)clen;
    }
    return 0;
}

static int by_tick(const void *a, const void *b)
{
    const ev_t *x = a, *y = b;
    if (x->tick != y->tick)
        return x->tick < y->tick ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Prefixes a tt_tempo builder's reason with the event's offset. */
static int builder_fail(reader_t *r, int rc, const ev_t *e, const char *inner)
{
    return fail_at(r->why, rc, e->off, "%s event: %s", e->type == EV_TEMPO ? "set-tempo" : "meter",
                   inner);
}

static int apply_smpte(reader_t *r, tt_tempo_map_t *m, const ev_t *e)
{
    static const tt_fps_t rate[4] = {TT_FPS_24, TT_FPS_25, TT_FPS_29_97_DF, TT_FPS_30};
    char label[32], inner[TT_WHY_LEN];
    int64_t frame;
    tt_fps_t fps = rate[(e->b[0] >> 5) & 3];
    snprintf(label, sizeof label, "%02u:%02u:%02u:%02u", e->b[0] & 0x1fu, e->b[1], e->b[2],
             e->b[3]);
    if (tt_timecode_parse(label, fps, &frame, inner))
        return fail_at(r->why, TT_ERR_INVALID, e->off, "SMPTE offset %s: %s", label, inner);
    tt_tempo_set_start(m, frame, fps);
    return 0;
}

/* The tempo of uspq as the sequencer most likely had it: the decimal with
 * the fewest places (0..3) whose us per quarter rounds to uspq (72 bpm is
 * stored as 833333 us, which is 72.0000288 bpm); else exactly 60000000 /
 * uspq. */
static void readable_bpm(uint32_t uspq, int64_t *n, int64_t *d)
{
    int64_t scale = 1;
    for (int p = 0; p <= 3; p++, scale *= 10) {
        int64_t num = (int64_t)US_PER_MINUTE * scale;
        for (int64_t b = num / uspq; b <= num / uspq + 1; b++)
            if (b > 0 && (num + b / 2) / b == (int64_t)uspq) {
                *n = b;
                *d = scale;
                return;
            }
    }
    *n = US_PER_MINUTE;
    *d = uspq;
}

/* A marker's text as a map marker name: printable ASCII ('?' for other
 * bytes and '#'), single spaces, at most 10 words and 64 bytes. Empty when
 * nothing printable is left. */
static void marker_name(const uint8_t *t, uint32_t n, char out[TT_TEMPO_MARKER_LEN + 1])
{
    size_t len = 0;
    int words = 0, space = 0;
    for (uint32_t i = 0; i < n && len < TT_TEMPO_MARKER_LEN; i++) {
        uint8_t c = t[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = len > 0;
            continue;
        }
        if (space) {
            if (len + 2 > TT_TEMPO_MARKER_LEN)
                break;
            out[len++] = ++words < 10 ? ' ' : '_';
            space = 0;
        }
        out[len++] = (c >= 0x21 && c < 0x7f && c != '#') ? (char)c : '?';
    }
    out[len] = '\0';
}

/* Merges the collected events into a map. */
static tt_tempo_map_t *build(reader_t *r, uint32_t ppq)
{
    char inner[TT_WHY_LEN];
    int rc = 0;
    if (r->nev > 1)
        qsort(r->ev, r->nev, sizeof *r->ev, by_tick);
    /* Bar 1: the last meter at tick 0 (default 4/4) and the last tempo that
     * lands on grid tick 0. A file without one is refused: the SMF default
     * of 120 bpm is almost never the cue's tempo. */
    int32_t num = 4, den = 4;
    uint32_t uspq = 0;
    const ev_t *smpte = NULL, *first_tempo = NULL;
    for (size_t i = 0; i < r->nev; i++) {
        const ev_t *e = &r->ev[i];
        int64_t g = (e->tick * TT_TEMPO_PPQ + ppq / 2) / ppq;
        if (e->type == EV_TEMPO && !first_tempo)
            first_tempo = e;
        if (e->type == EV_TEMPO && g == 0)
            uspq = e->uspq;
        else if (e->type == EV_METER && e->tick == 0) {
            num = e->b[0];
            den = 1 << e->b[1];
        } else if (e->type == EV_SMPTE)
            smpte = e;
    }
    if (!uspq) {
        if (first_tempo)
            fail_at(r->why, TT_ERR_INVALID, first_tempo->off,
                    "no set-tempo event at tick 0 (the first is at tick %lld): the file does "
                    "not say the tempo bar 1 starts at",
                    (long long)first_tempo->tick);
        else
            tt_fail(r->why, TT_ERR_INVALID,
                    "MIDI file: no set-tempo event (FF 51) in any track: the file does not say "
                    "its tempo (export it with the tempo track)");
        return NULL;
    }
    int64_t bn, bd;
    readable_bpm(uspq, &bn, &bd);
    tt_tempo_map_t *m = tt_tempo_new(num, den, bn, bd, inner);
    if (!m) {
        tt_fail(r->why, TT_ERR_INVALID, "MIDI file: %s", inner);
        return NULL;
    }
    if (smpte && (rc = apply_smpte(r, m, smpte)))
        goto fail;

    /* A tempo is appended once no later event lands on the same grid tick
     * (several can when the division is finer than 960). */
    const ev_t *pending = NULL;
    int64_t pending_g = 0;
    uint32_t cur_uspq = uspq;
    for (size_t i = 0; i <= r->nev; i++) {
        const ev_t *e = i < r->nev ? &r->ev[i] : NULL;
        int64_t g = e ? (e->tick * TT_TEMPO_PPQ + ppq / 2) / ppq : 0;
        if (pending && (!e || (e->type == EV_TEMPO && g != pending_g))) {
            if (pending->uspq != cur_uspq) {
                readable_bpm(pending->uspq, &bn, &bd);
                rc = tt_tempo_add_tempo(m, pending_g, bn, bd, 0, inner);
                if (rc) {
                    rc = builder_fail(r, rc, pending, inner);
                    goto fail;
                }
                cur_uspq = pending->uspq;
            }
            pending = NULL;
        }
        if (!e)
            break;
        if (e->type == EV_TEMPO && g > 0) {
            pending = e;
            pending_g = g;
        } else if (e->type == EV_METER && e->tick > 0) {
            /* Only the last time signature at a tick counts. */
            if (i + 1 < r->nev && r->ev[i + 1].tick == e->tick) {
                size_t j = i + 1;
                while (j < r->nev && r->ev[j].tick == e->tick && r->ev[j].type != EV_METER)
                    j++;
                if (j < r->nev && r->ev[j].tick == e->tick)
                    continue;
            }
            int64_t scaled = e->tick * TT_TEMPO_PPQ;
            if (scaled / ppq > TT_TEMPO_TICK_LIMIT) {
                rc = fail_at(r->why, TT_ERR_INVALID, e->off, "meter event: beyond bar %d",
                             TT_TEMPO_MAX_BAR);
                goto fail;
            }
            int32_t cnum, cden, nnum = e->b[0], nden = 1 << e->b[1];
            tt_bbt_t pos = tt_tempo_tick_to_bbt(m, scaled / ppq);
            tt_tempo_meter_at(m, pos.bar, &cnum, &cden);
            if (scaled % ppq != 0) {
                rc = fail_at(r->why, TT_ERR_INVALID, e->off,
                             "time signature %d/%d at tick %lld is not on a bar line (it falls "
                             "between ticks of the %d-per-quarter grid)",
                             (int)nnum, (int)nden, (long long)e->tick, TT_TEMPO_PPQ);
                goto fail;
            }
            if (pos.beat != 1 || pos.tick != 0) {
                rc = fail_at(r->why, TT_ERR_INVALID, e->off,
                             "time signature %d/%d at tick %lld is not on a bar line (bar %d "
                             "beat %d tick %d of %d/%d)",
                             (int)nnum, (int)nden, (long long)e->tick, (int)pos.bar, (int)pos.beat,
                             (int)pos.tick, (int)cnum, (int)cden);
                goto fail;
            }
            if (nnum == cnum && nden == cden)
                continue;
            if ((rc = tt_tempo_add_meter(m, pos.bar, nnum, nden, inner))) {
                rc = builder_fail(r, rc, e, inner);
                goto fail;
            }
        }
    }
    /* Markers and cue points, in the meters just built. */
    for (size_t i = 0; i < r->nev; i++) {
        const ev_t *e = &r->ev[i];
        char name[TT_TEMPO_MARKER_LEN + 1];
        tt_visual_spec_t v;
        if (e->type != EV_MARKER && e->type != EV_CUE)
            continue;
        const char *text = (const char *)r->data + e->text_off;
        marker_name(r->data + e->text_off, e->text_len, name);
        /* A visual marker if the text reads as one, as it is or as the
         * name it would be kept as (so a name kept never reads as one
         * when the file is written and read again). */
        int visual = (e->text_len <= TT_VISUAL_WORDS_LEN &&
                      tt_tempo_visual_parse(text, e->text_len, &v, NULL) == 0) ||
                     (name[0] && tt_tempo_visual_parse(name, strlen(name), &v, NULL) == 0);
        if (!visual && (e->type == EV_CUE || !name[0]))
            continue; /* an empty marker names nothing; other cue points are skipped */
        int64_t g = (e->tick * TT_TEMPO_PPQ + ppq / 2) / ppq;
        tt_bbt_t pos = tt_tempo_tick_to_bbt(m, g);
        if (visual) {
            v.pos = pos;
            rc = tt_tempo_add_visual(m, &v, inner);
        } else {
            rc = tt_tempo_add_marker(m, pos, name, inner);
        }
        if (rc) {
            rc = fail_at(r->why, rc, e->off, "%s \"%s\": %s",
                         e->type == EV_CUE ? "cue point" : "marker", name, inner);
            goto fail;
        }
    }
    return m;
fail:
    tt_tempo_destroy(&m);
    return NULL;
}

tt_tempo_map_t *tt_smf_read(const uint8_t *data, size_t len, char *why)
{
    reader_t r = {.data = data, .len = len, .why = why};
    tt_tempo_map_t *m = NULL;
    if (len > TT_SMF_MAX_BYTES) {
        tt_fail(why, TT_ERR_TOO_BIG, "MIDI file: %zu bytes; at most %d", len, TT_SMF_MAX_BYTES);
        return NULL;
    }
    if (len < 4 || memcmp(data, "MThd", 4) != 0) {
        tt_fail(why, TT_ERR_INVALID, "not a MIDI file: no MThd header at byte 0");
        return NULL;
    }
    if (len < 14) {
        fail_at(why, TT_ERR_CORRUPT, 0, "truncated MThd header (%zu bytes of 14)", len);
        return NULL;
    }
    uint32_t hlen = be32(data + 4);
    uint32_t format = be16(data + 8), ntrks = be16(data + 10), division = be16(data + 12);
    if (hlen < 6) {
        fail_at(why, TT_ERR_CORRUPT, 4, "MThd length %u, at least 6", hlen);
        return NULL;
    }
    if (hlen > len - 8) {
        fail_at(why, TT_ERR_CORRUPT, 4, "MThd length %u runs past the end of the file (%zu bytes)",
                hlen, len);
        return NULL;
    }
    if (format > 1) {
        fail_at(why, TT_ERR_INVALID, 8, "format %u is not supported (only 0 and 1)", format);
        return NULL;
    }
    if (ntrks == 0 || ntrks > TT_SMF_MAX_TRACKS) {
        fail_at(why, TT_ERR_INVALID, 10, "%u tracks (1..%d supported)", ntrks, TT_SMF_MAX_TRACKS);
        return NULL;
    }
    if (division & 0x8000) {
        fail_at(why, TT_ERR_INVALID, 12,
                "SMPTE time division (%d fps, %u ticks per frame) is not supported: export "
                "with ticks per quarter note (PPQ)",
                -(int)(int8_t)(division >> 8), division & 0xffu);
        return NULL;
    }
    if (division == 0) {
        fail_at(why, TT_ERR_INVALID, 12, "division of 0 ticks per quarter note");
        return NULL;
    }
    if (read_chunks(&r, ntrks, 8 + (size_t)hlen) == 0)
        m = build(&r, division);
    free(r.ev);
    return m;
}

/* ---- writing ---- */

typedef struct {
    int64_t tick;
    uint32_t seq;
    uint8_t prio; /* at one tick: SMPTE offset, meter, tempo, text */
    uint8_t n;
    uint8_t b[TT_VISUAL_WORDS_LEN + 8]; /* the longest: a visual marker's text */
} wev_t;

typedef struct {
    wev_t *v;
    size_t n, cap;
    int rc;
    char *why;
} wlist_t;

static void wpush(wlist_t *w, int64_t tick, uint8_t prio, const uint8_t *b, size_t n)
{
    if (w->rc)
        return;
    if (w->n == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        wev_t *p =
            ncap * sizeof *p / 16 > TT_SMF_MAX_BYTES ? NULL : realloc(w->v, ncap * sizeof *p);
        if (!p) {
            w->rc = tt_fail(
                w->why, ncap * sizeof *p / 16 > TT_SMF_MAX_BYTES ? TT_ERR_TOO_BIG : TT_ERR_NOMEM,
                "writing MIDI file: too many events");
            return;
        }
        w->v = p;
        w->cap = ncap;
    }
    wev_t *e = &w->v[w->n];
    e->tick = tick;
    e->seq = (uint32_t)w->n;
    e->prio = prio;
    e->n = (uint8_t)n;
    memcpy(e->b, b, n);
    w->n++;
}

static void wtext(wlist_t *w, int64_t tick, const char *text)
{
    uint8_t b[TT_VISUAL_WORDS_LEN + 8];
    size_t n = strlen(text);
    if (n > TT_VISUAL_WORDS_LEN - 1)
        n = TT_VISUAL_WORDS_LEN - 1; /* one byte of length */
    b[0] = 0xFF;
    b[1] = 0x06;
    b[2] = (uint8_t)n;
    memcpy(b + 3, text, n);
    wpush(w, tick, 3, b, n + 3);
}

static void wtempo(wlist_t *w, int64_t tick, int64_t uspq, int64_t *last)
{
    if (uspq < 1)
        uspq = 1;
    if (uspq > 0xFFFFFF)
        uspq = 0xFFFFFF; /* the format's limit, 3.58 bpm */
    if (uspq == *last)
        return;
    *last = uspq;
    uint8_t b[6] = {0xFF, 0x51, 0x03, (uint8_t)(uspq >> 16), (uint8_t)(uspq >> 8), (uint8_t)uspq};
    wpush(w, tick, 2, b, sizeof b);
}

static int wev_cmp(const void *a, const void *b)
{
    const wev_t *x = a, *y = b;
    if (x->tick != y->tick)
        return x->tick < y->tick ? -1 : 1;
    if (x->prio != y->prio)
        return x->prio < y->prio ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void wmeter(wlist_t *w, int64_t tick, const tt_meter_t *mt)
{
    int dd = 0;
    while ((1 << dd) < mt->den)
        dd++;
    int clocks = 96 / mt->den;
    int equal = mt->ngroups > 0;
    for (int i = 1; i < mt->ngroups; i++)
        equal &= mt->groups[i] == mt->groups[0];
    if (equal)
        clocks *= mt->groups[0];
    if (clocks > 255)
        clocks = 255;
    uint8_t b[7] = {0xFF, 0x58, 0x04, (uint8_t)mt->num, (uint8_t)dd, (uint8_t)clocks, 8};
    wpush(w, tick, 1, b, sizeof b);
}

/* Set-tempo events for the segment [t0, t1) that starts at change c. */
static void wsegment(wlist_t *w, const tt_tempo_map_t *m, const tt_tempo_change_t *c, int64_t t1,
                     int ramp, int64_t *last)
{
    if (c->free_from) {
        wtempo(w, c->tick, llround(60000000.0 / c->bpm), last);
        return;
    }
    if (!ramp) {
        wtempo(w, c->tick, (INT64_C(60000000) * c->bpm_d + c->bpm_n / 2) / c->bpm_n, last);
        return;
    }
    int64_t len = t1 - c->tick, step = 240;
    if (len / step > 4096)
        step = ((len / 4096 + 239) / 240) * 240;
    for (int64_t b = c->tick; b < t1 && !w->rc; b += step) {
        int64_t e = b + step < t1 ? b + step : t1;
        int64_t dur = tt_tempo_tick_to_ns(m, e) - tt_tempo_tick_to_ns(m, b);
        /* us per quarter = dur ns / 1000 / ((e - b) / 960). */
        wtempo(w, b, llround((double)dur * 0.96 / (double)(e - b)), last);
    }
}

int tt_smf_write(const tt_tempo_map_t *m, uint8_t **out, size_t *len, char *why)
{
    wlist_t w = {.why = why};
    *out = NULL;
    *len = 0;
    /* The start, as an SMPTE offset at tick 0. */
    tt_fps_t fps = tt_tempo_fps(m);
    int hh, mm, ss, ff;
    tt_timecode_fields(tt_tempo_start_frame(m), fps, &hh, &mm, &ss, &ff);
    int code = fps == TT_FPS_25                                ? 1
               : fps == TT_FPS_29_97_DF                        ? 2
               : (fps == TT_FPS_29_97_NDF || fps == TT_FPS_30) ? 3
                                                               : 0;
    uint8_t smpte[8] = {0xFF,        0x54,        0x05,        (uint8_t)(code << 5 | hh),
                        (uint8_t)mm, (uint8_t)ss, (uint8_t)ff, 0};
    wpush(&w, 0, 0, smpte, sizeof smpte);

    tt_tempo_change_t c, next;
    int64_t last_uspq = -1, last_tick = 0;
    char text[80];
    for (size_t i = 0; tt_tempo_change(m, i, &c) == 0 && !w.rc; i++) {
        last_tick = c.tick;
        if (c.has_meter)
            wmeter(&w, c.tick, &c.meter);
        if (c.has_tempo) {
            /* The segment runs to the next tempo mark. */
            int64_t t1 = INT64_MAX;
            int ramp = 0;
            for (size_t j = i + 1; tt_tempo_change(m, j, &next) == 0; j++)
                if (next.has_tempo) {
                    t1 = next.tick;
                    ramp = next.ramp;
                    break;
                }
            wsegment(&w, m, &c, t1, ramp, &last_uspq);
            if (c.named) {
                char v[64];
                tt_tempo_value_text(&c.v, v, sizeof v);
                snprintf(text, sizeof text, "%s %s over %d",
                         c.named == TT_TEMPO_RIT ? "rit" : "accel", v, (int)c.over);
                wtext(&w, c.tick, text);
            }
            if (c.free_from) {
                char tc[TT_TIMECODE_LEN];
                tt_timecode_format(c.resume_frame, fps, tc);
                snprintf(text, sizeof text, "free until %d at %s", (int)c.free_until, tc);
                wtext(&w, c.tick, text);
            }
        }
        if (c.click >= 0)
            wtext(&w, c.tick, c.click ? "click on" : "click off");
    }
    tt_bbt_t pos;
    const char *name;
    for (size_t i = 0; tt_tempo_marker(m, i, &pos, &name) == 0; i++) {
        int64_t t = tt_tempo_bbt_to_tick(m, pos);
        wtext(&w, t, name);
        last_tick = t > last_tick ? t : last_tick;
    }
    tt_visual_t vis;
    for (size_t i = 0; tt_tempo_visual(m, i, &vis) == 0; i++) {
        char words[TT_VISUAL_WORDS_LEN];
        if (vis.tick < 0)
            continue; /* in bar 0, before tick 0, like the count-off */
        tt_tempo_visual_words(&vis.spec, 0, words, sizeof words);
        wtext(&w, vis.tick, words);
        last_tick = vis.tick > last_tick ? vis.tick : last_tick;
    }
    if (tt_tempo_end_bar(m)) {
        int64_t t = tt_tempo_bbt_to_tick(m, (tt_bbt_t){tt_tempo_end_bar(m) + 1, 1, 0});
        wtext(&w, t, "end");
        last_tick = t > last_tick ? t : last_tick;
    }
    uint8_t eot[3] = {0xFF, 0x2F, 0x00};
    wpush(&w, last_tick, 4, eot, sizeof eot);
    if (w.rc) {
        free(w.v);
        return w.rc;
    }
    qsort(w.v, w.n, sizeof *w.v, wev_cmp);

    /* Header, track header, then delta-time + event each. */
    size_t cap = 22 + w.n * (5 + sizeof w.v->b) + 7 * 1024; /* + gaps over 2^28 ticks */
    if (cap > TT_SMF_MAX_BYTES) {
        free(w.v);
        return tt_fail(why, TT_ERR_TOO_BIG, "writing MIDI file: %zu events is too many", w.n);
    }
    uint8_t *b = malloc(cap);
    if (!b) {
        free(w.v);
        return tt_fail(why, TT_ERR_NOMEM, "writing MIDI file: out of memory");
    }
    static const uint8_t mthd[14] = {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0x03, 0xC0};
    memcpy(b, mthd, sizeof mthd);
    memcpy(b + 14, "MTrk", 4);
    size_t p = 22;
    int64_t at = 0;
    for (size_t i = 0; i < w.n; i++) {
        uint64_t delta = (uint64_t)(w.v[i].tick - at);
        at = w.v[i].tick;
        /* A delta holds 28 bits: a longer gap is bridged with empty
         * markers (the reader skips them). */
        while (delta > 0x0FFFFFFF) {
            static const uint8_t pad[] = {0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0x06, 0x00};
            memcpy(b + p, pad, sizeof pad);
            p += sizeof pad;
            delta -= 0x0FFFFFFF;
        }
        uint8_t v[4];
        int k = 0;
        v[k++] = delta & 0x7F;
        while (delta >>= 7)
            v[k++] = (uint8_t)(0x80 | (delta & 0x7F));
        while (k)
            b[p++] = v[--k];
        memcpy(b + p, w.v[i].b, w.v[i].n);
        p += w.v[i].n;
    }
    free(w.v);
    uint32_t tl = (uint32_t)(p - 22);
    b[18] = (uint8_t)(tl >> 24);
    b[19] = (uint8_t)(tl >> 16);
    b[20] = (uint8_t)(tl >> 8);
    b[21] = (uint8_t)tl;
    *out = b;
    *len = p;
    return 0;
}
