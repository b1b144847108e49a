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

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_error.h"

#define US_PER_MINUTE 60000000
#define MIN_USPQ (US_PER_MINUTE / TT_TEMPO_MAX_BPM) /* 150000 */
#define MAX_USPQ (US_PER_MINUTE / TT_TEMPO_MIN_BPM) /* 3000000 */
/* Ticks beyond this cannot be a cue position (and * 960 must not overflow). */
#define MAX_EVENT_TICK (INT64_C(1) << 48)

enum { EV_TEMPO, EV_METER, EV_SMPTE };

typedef struct {
    int64_t tick;
    uint32_t seq; /* file order, to keep the merge stable */
    uint8_t type;
    uint8_t b[5];
    uint32_t uspq;
    size_t off; /* byte offset of the event's status byte */
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
    if (type != 0x51 && type != 0x58 && type != 0x54)
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

/* Merges the collected events into a map. */
static tt_tempo_map_t *build(reader_t *r, uint32_t ppq)
{
    char inner[TT_WHY_LEN];
    int rc = 0;
    if (r->nev > 1)
        qsort(r->ev, r->nev, sizeof *r->ev, by_tick);
    /* Bar 1: the last meter at tick 0 and the last tempo that lands on
     * grid tick 0; defaults 4/4 and 120 bpm. */
    int32_t num = 4, den = 4;
    uint32_t uspq = 500000;
    const ev_t *smpte = NULL;
    for (size_t i = 0; i < r->nev; i++) {
        const ev_t *e = &r->ev[i];
        int64_t g = (e->tick * TT_TEMPO_PPQ + ppq / 2) / ppq;
        if (e->type == EV_TEMPO && g == 0)
            uspq = e->uspq;
        else if (e->type == EV_METER && e->tick == 0) {
            num = e->b[0];
            den = 1 << e->b[1];
        } else if (e->type == EV_SMPTE)
            smpte = e;
    }
    tt_tempo_map_t *m = tt_tempo_new(num, den, US_PER_MINUTE, uspq, inner);
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
                rc = tt_tempo_add_tempo(m, pending_g, US_PER_MINUTE, pending->uspq, 0, inner);
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
        fail_at(why, TT_ERR_INVALID, 0, "no MThd header (not a Standard MIDI File)");
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
