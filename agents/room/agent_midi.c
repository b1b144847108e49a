/* agent_midi: MTC, MIDI clock and MMC of a roll. See agent_midi.h. */
#define _GNU_SOURCE
#include "agent_midi.h"
#include "tt_error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOCK_TICKS (TT_TEMPO_PPQ / 24) /* map ticks per MIDI clock */
#define SIXTEENTH_TICKS (TT_TEMPO_PPQ / 4)

struct agent_midi_roll {
    tt_tempo_map_t *map;
    tt_fps_t mfps;     /* MTC/MMC rate */
    int mcode;         /* its MTC rate code */
    int64_t mstart;    /* MTC frame count of bar 1 beat 1 */
    int64_t mstart_ns; /* tt_timecode_frame_to_ns(mstart) */
    int64_t f0;        /* the first quarter-frame's frame */
    int64_t start;     /* session: the first count-off click */
    int64_t origin;    /* session: from-bar beat 1 */
    int64_t c_from;    /* cue: from-bar beat 1 */
    int64_t stop;      /* session; INT64_MAX: none */
    tt_tempo_countoff_t co;
    double lead_clock_ns; /* a clock in the lead-in's beat */
    int64_t lead_clocks;  /* clocks in the lead-in, before origin */
    int64_t tick_from;    /* map tick of the from-bar */
    int64_t song0;        /* map tick of song position 0 (minus the pickup) */
    int64_t music_s;      /* session: Start or Continue */
    int from_start;       /* Start, not Continue */
    int start_in_free;    /* the from-bar is in free time: no Start/Continue there */
    int nfree;
    int64_t free_a[AGENT_MIDI_MAX_FREE], free_b[AGENT_MIDI_MAX_FREE]; /* ticks [a, b) */
};

/* ------------------------------------------------------------ outputs */

int agent_midi_kinds_parse(const char *s, int *kinds, char *why)
{
    static const struct {
        const char *name;
        int bit;
    } names[] = {{"mtc", AGENT_MIDI_MTC}, {"clock", AGENT_MIDI_CLOCK}, {"mmc", AGENT_MIDI_MMC}};
    int k = 0;
    const char *p = s;
    for (;;) {
        size_t len = strcspn(p, "+");
        int bit = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i].name) == len && strncmp(p, names[i].name, len) == 0)
                bit = names[i].bit;
        if (!bit)
            return tt_fail(why, TT_ERR_INVALID,
                           "\"%s\": a KIND is mtc, clock or mmc, joined by '+' (mtc+mmc)", s);
        k |= bit;
        if (!p[len])
            break;
        p += len + 1;
    }
    *kinds = k;
    return 0;
}

int agent_midi_outputs_add(agent_midi_outputs_t *o, const char *arg, char *why)
{
    const char *colon = strchr(arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : 0;
    if (!colon || len == 0 || len > AGENT_MIDI_NAME_LEN)
        return tt_fail(why, TT_ERR_INVALID,
                       "--midi %s: write NAME:KIND, NAME 1..%d characters, e.g. --midi mtc:mtc",
                       arg, AGENT_MIDI_NAME_LEN);
    for (size_t i = 0; i < len; i++) {
        char ch = arg[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return tt_fail(why, TT_ERR_INVALID,
                           "--midi %s: a NAME is letters, digits, '_' and '-' (it names a JACK "
                           "port)",
                           arg);
    }
    for (int i = 0; i < o->n; i++)
        if (strlen(o->name[i]) == len && memcmp(o->name[i], arg, len) == 0)
            return tt_fail(why, TT_ERR_INVALID, "--midi %s: port %.*s given twice", arg, (int)len,
                           arg);
    if (o->n >= AGENT_MIDI_MAX_PORTS)
        return tt_fail(why, TT_ERR_TOO_BIG, "--midi %s: at most %d MIDI outputs", arg,
                       AGENT_MIDI_MAX_PORTS);
    char inner[TT_WHY_LEN];
    if (agent_midi_kinds_parse(colon + 1, &o->kinds[o->n], inner) != 0)
        return tt_fail(why, TT_ERR_INVALID, "--midi %s: %s", arg, inner);
    memcpy(o->name[o->n], arg, len);
    o->name[o->n][len] = '\0';
    o->n++;
    return 0;
}

int agent_midi_mtc_code(tt_fps_t fps)
{
    switch (fps) {
    case TT_FPS_23_976:
    case TT_FPS_24: return 0;
    case TT_FPS_25: return 1;
    case TT_FPS_29_97_DF: return 2;
    default: return 3; /* 30, and 29.97 non-drop's 30 labels */
    }
}

/* ------------------------------------------------------------ rolls */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t cue_to_session(const agent_midi_roll_t *r, int64_t cue)
{
    return r->origin + (cue - r->c_from);
}

static int64_t session_to_cue(const agent_midi_roll_t *r, int64_t s)
{
    return s - r->origin + r->c_from;
}

/* Cue time of MTC frame f's start. */
static int64_t mtc_cue(const agent_midi_roll_t *r, int64_t f)
{
    return tt_timecode_frame_to_ns(f, r->mfps) - r->mstart_ns;
}

static int64_t mtc_frame_at(const agent_midi_roll_t *r, int64_t cue)
{
    return tt_timecode_ns_to_frame(cue + r->mstart_ns, r->mfps);
}

agent_midi_roll_t *agent_midi_roll_new(const char *text, int32_t from_bar, int64_t start,
                                       const tt_fps_t *mtc_rate, char *why)
{
    agent_midi_roll_t *r = calloc(1, sizeof *r);
    if (!r) {
        tt_fail(why, TT_ERR_NOMEM, "allocating a MIDI roll");
        return NULL;
    }
    r->map = tt_tempo_parse_text(text, strlen(text), why);
    if (!r->map) {
        agent_midi_roll_free(&r);
        return NULL;
    }
    tt_fps_t map_fps = tt_tempo_fps(r->map);
    int64_t map_start = tt_tempo_start_frame(r->map);
    r->mfps = mtc_rate ? *mtc_rate : map_fps;
    r->mcode = agent_midi_mtc_code(r->mfps);
    r->mstart = map_start;
    if (r->mfps != map_fps) { /* bar 1 keeps its label, read at the MTC rate */
        char label[TT_TIMECODE_LEN];
        tt_timecode_format(map_start, map_fps, label);
        for (char *p = label; *p; p++)
            if (*p == ';')
                *p = ':';
        if (tt_timecode_parse(label, r->mfps, &r->mstart, NULL) != 0) /* e.g. frame 29 at 25 */
            r->mstart =
                tt_timecode_ns_to_frame(tt_timecode_frame_to_ns(map_start, map_fps), r->mfps);
    }
    r->mstart_ns = tt_timecode_frame_to_ns(r->mstart, r->mfps);
    int64_t countoff_ns = tt_tempo_countoff(r->map, from_bar, &r->co);
    r->c_from = r->co.c_from;
    r->start = start;
    r->origin = start + countoff_ns;
    r->stop = INT64_MAX;
    int32_t num, den;
    tt_tempo_meter_at(r->map, from_bar, &num, &den);
    r->lead_clock_ns = (double)r->co.beat_ns * den / 96.0;
    r->lead_clocks = (int64_t)r->co.beats * 96 / den;
    r->tick_from = tt_tempo_bbt_to_tick(r->map, (tt_bbt_t){from_bar, 1, 0});
    int32_t num1, den1;
    tt_tempo_meter_at(r->map, 1, &num1, &den1);
    r->song0 = -(int64_t)tt_tempo_pickup_beats(r->map) * (4 * TT_TEMPO_PPQ / den1);
    r->from_start = from_bar <= 1;
    r->music_s = r->origin;
    if (r->from_start && r->co.pickup > 0) /* the pickup's first beat: a lead-in clock */
        r->music_s =
            r->origin - llround((double)((int64_t)r->co.pickup * 96 / den) * r->lead_clock_ns);
    tt_tempo_change_t c;
    for (size_t i = 0; r->nfree < AGENT_MIDI_MAX_FREE && tt_tempo_change(r->map, i, &c) == 0; i++)
        if (c.free_from) {
            r->free_a[r->nfree] = c.tick;
            r->free_b[r->nfree] = tt_tempo_bbt_to_tick(r->map, (tt_bbt_t){c.free_until, 1, 0});
            if (r->tick_from >= r->free_a[r->nfree] && r->tick_from < r->free_b[r->nfree])
                r->start_in_free = 1;
            r->nfree++;
        }
    int64_t f = mtc_frame_at(r, session_to_cue(r, start));
    r->f0 = cue_to_session(r, mtc_cue(r, f)) < start ? f + 1 : f;
    return r;
}

void agent_midi_roll_free(agent_midi_roll_t **roll_p)
{
    if (!roll_p || !*roll_p)
        return;
    tt_tempo_destroy(&(*roll_p)->map);
    free(*roll_p);
    *roll_p = NULL;
}

void agent_midi_roll_set_stop(agent_midi_roll_t *roll, int64_t at_session_ns)
{
    roll->stop = at_session_ns;
}

int64_t agent_midi_roll_stop(const agent_midi_roll_t *roll)
{
    return roll->stop;
}

/* ------------------------------------------------------------ events */

typedef struct {
    int64_t after_s;
    int after_order;
    int have;
    agent_midi_event_t best;
} pick_t;

static int after_cursor(const pick_t *p, int64_t s, int order)
{
    return s > p->after_s || (s == p->after_s && order > p->after_order);
}

static int before_best(const pick_t *p, int64_t s, int order)
{
    return !p->have || s < p->best.s || (s == p->best.s && order < p->best.order);
}

/* Offers one event: kept when it is after the cursor and before the best so far. */
static void offer(pick_t *p, int64_t s, int order, int kind, const uint8_t *bytes, int len)
{
    if (!after_cursor(p, s, order) || !before_best(p, s, order))
        return;
    p->have = 1;
    p->best.s = s;
    p->best.order = order;
    p->best.kind = kind;
    p->best.len = len;
    memcpy(p->best.bytes, bytes, (size_t)len);
}

/* Where to look for the next periodic event: the cursor, or (from far
 * before the roll) its start; the searches begin just before it. */
static int64_t search_from(const agent_midi_roll_t *r, const pick_t *p)
{
    int64_t early = r->start - 2 * AGENT_MIDI_LOCATE_LEAD_NS;
    return p->after_s < early ? early : p->after_s;
}

static void mtc_fields(const agent_midi_roll_t *r, int64_t f, int *h, int *m, int *s, int *fr)
{
    tt_timecode_fields(f, r->mfps, h, m, s, fr);
}

static void next_mtc(const agent_midi_roll_t *r, pick_t *p)
{
    if (r->start < r->stop) {
        int h, m, s, fr;
        mtc_fields(r, mtc_frame_at(r, session_to_cue(r, r->start)), &h, &m, &s, &fr);
        uint8_t full[] = {
            0xF0,       0x7F,       0x7F,        0x01, 0x01, (uint8_t)(r->mcode << 5 | h),
            (uint8_t)m, (uint8_t)s, (uint8_t)fr, 0xF7};
        offer(p, r->start, AGENT_MIDI_ORDER_FULL, AGENT_MIDI_MTC, full, (int)sizeof full);
    }
    /* Quarter-frame q: frame q / 4, quarter q % 4. Begin a frame before the cursor's. */
    int64_t q = 4 * (mtc_frame_at(r, session_to_cue(r, search_from(r, p))) - 1);
    if (q < 4 * r->f0)
        q = 4 * r->f0;
    for (int guard = 0; guard < 64; guard++, q++) {
        int64_t f = floor_div(q, 4), k = q - 4 * f;
        int64_t c0 = mtc_cue(r, f), c1 = mtc_cue(r, f + 1);
        int64_t sess = cue_to_session(r, c0 + (c1 - c0) * k / 4);
        if (sess >= r->stop || !before_best(p, sess, AGENT_MIDI_ORDER_QF))
            return;
        if (!after_cursor(p, sess, AGENT_MIDI_ORDER_QF))
            continue;
        int64_t odd = (f - r->f0) & 1;
        int piece = (int)(odd * 4 + k);
        int h, m, s, fr;
        mtc_fields(r, f - odd, &h, &m, &s, &fr);
        int v;
        switch (piece) {
        case 0: v = fr & 0xF; break;
        case 1: v = fr >> 4 & 0x1; break;
        case 2: v = s & 0xF; break;
        case 3: v = s >> 4 & 0x3; break;
        case 4: v = m & 0xF; break;
        case 5: v = m >> 4 & 0x3; break;
        case 6: v = h & 0xF; break;
        default: v = (h >> 4 & 0x1) | r->mcode << 1; break;
        }
        uint8_t b[] = {0xF1, (uint8_t)(piece << 4 | v)};
        offer(p, sess, AGENT_MIDI_ORDER_QF, AGENT_MIDI_MTC, b, 2);
        return;
    }
}

static int free_at(const agent_midi_roll_t *r, int64_t tick, int64_t *resume)
{
    for (int i = 0; i < r->nfree; i++)
        if (tick >= r->free_a[i] && tick < r->free_b[i]) {
            *resume = r->free_b[i];
            return 1;
        }
    return 0;
}

static int64_t tick_session(const agent_midi_roll_t *r, int64_t tick)
{
    return cue_to_session(r, tt_tempo_tick_to_ns(r->map, tick));
}

static void offer_spp(const agent_midi_roll_t *r, pick_t *p, int64_t s, int64_t tick)
{
    int64_t v = floor_div(tick - r->song0, SIXTEENTH_TICKS);
    v = v < 0 ? 0 : v > 16383 ? 16383 : v;
    uint8_t b[] = {0xF2, (uint8_t)(v & 0x7F), (uint8_t)(v >> 7)};
    offer(p, s, AGENT_MIDI_ORDER_SPP, AGENT_MIDI_CLOCK, b, 3);
}

static void next_clock(const agent_midi_roll_t *r, pick_t *p)
{
    static const uint8_t f8[] = {0xF8}, fa[] = {0xFA}, fb[] = {0xFB}, fc[] = {0xFC};
    if (r->start < r->stop)
        offer_spp(r, p, r->start, r->from_start ? r->song0 : r->tick_from);
    if (!r->start_in_free && r->music_s < r->stop)
        offer(p, r->music_s, AGENT_MIDI_ORDER_START, AGENT_MIDI_CLOCK, r->from_start ? fa : fb, 1);
    for (int i = 0; i < r->nfree; i++) {
        if (r->free_b[i] <= r->tick_from)
            continue;
        int64_t sa = tick_session(r, r->free_a[i]), sb = tick_session(r, r->free_b[i]);
        if (r->free_a[i] > r->tick_from && sa < r->stop)
            offer(p, sa, AGENT_MIDI_ORDER_STOP, AGENT_MIDI_CLOCK, fc, 1);
        if (sb < r->stop) {
            offer_spp(r, p, sb, r->free_b[i]);
            offer(p, sb, AGENT_MIDI_ORDER_START, AGENT_MIDI_CLOCK, fb, 1);
        }
    }
    if (r->stop != INT64_MAX)
        offer(p, r->stop, AGENT_MIDI_ORDER_STOP, AGENT_MIDI_CLOCK, fc, 1);
    /* Lead-in clocks: k = lead_clocks .. 1 clocks before origin. */
    int64_t a = search_from(r, p);
    if (a < r->origin) {
        int64_t k = (int64_t)floor((double)(r->origin - a) / r->lead_clock_ns) + 1;
        if (k > r->lead_clocks)
            k = r->lead_clocks;
        for (; k >= 1; k--) {
            int64_t s = r->origin - llround((double)k * r->lead_clock_ns);
            if (after_cursor(p, s, AGENT_MIDI_ORDER_CLOCK)) {
                if (s < r->stop)
                    offer(p, s, AGENT_MIDI_ORDER_CLOCK, AGENT_MIDI_CLOCK, f8, 1);
                return; /* found the lead-in's next clock; the music's come later */
            }
        }
    }
    /* The music's clocks, every CLOCK_TICKS from the from-bar, none in free time. */
    int64_t t = tt_tempo_ns_to_tick(r->map, session_to_cue(r, a));
    int64_t i = floor_div(t - r->tick_from, CLOCK_TICKS) - 1;
    if (i < 0)
        i = 0;
    int64_t tick = r->tick_from + i * CLOCK_TICKS;
    for (int guard = 0; guard < 64; guard++, tick += CLOCK_TICKS) {
        int64_t resume;
        if (free_at(r, tick, &resume))
            tick = r->tick_from +
                   (floor_div(resume - r->tick_from - 1, CLOCK_TICKS) + 1) * CLOCK_TICKS;
        int64_t s = tick_session(r, tick);
        if (s >= r->stop || !before_best(p, s, AGENT_MIDI_ORDER_CLOCK))
            return;
        if (after_cursor(p, s, AGENT_MIDI_ORDER_CLOCK)) {
            offer(p, s, AGENT_MIDI_ORDER_CLOCK, AGENT_MIDI_CLOCK, f8, 1);
            return;
        }
    }
}

static void next_mmc(const agent_midi_roll_t *r, pick_t *p)
{
    if (r->start < r->stop) {
        int64_t cue = session_to_cue(r, r->start);
        int64_t f = mtc_frame_at(r, cue);
        int64_t c0 = mtc_cue(r, f), c1 = mtc_cue(r, f + 1);
        int sub = (int)((cue - c0) * 100 / (c1 - c0));
        int h, m, s, fr;
        mtc_fields(r, f, &h, &m, &s, &fr);
        uint8_t loc[] = {0xF0,       0x7F,       0x7F,        0x06,
                         0x44,       0x06,       0x01,        (uint8_t)(r->mcode << 5 | h),
                         (uint8_t)m, (uint8_t)s, (uint8_t)fr, (uint8_t)sub,
                         0xF7};
        offer(p, r->start - AGENT_MIDI_LOCATE_LEAD_NS, AGENT_MIDI_ORDER_LOCATE, AGENT_MIDI_MMC, loc,
              (int)sizeof loc);
        uint8_t play[] = {0xF0, 0x7F, 0x7F, 0x06, 0x02, 0xF7};
        offer(p, r->start, AGENT_MIDI_ORDER_PLAY, AGENT_MIDI_MMC, play, (int)sizeof play);
    }
    if (r->stop != INT64_MAX) {
        uint8_t stop[] = {0xF0, 0x7F, 0x7F, 0x06, 0x01, 0xF7};
        offer(p, r->stop, AGENT_MIDI_ORDER_MMC_STOP, AGENT_MIDI_MMC, stop, (int)sizeof stop);
    }
}

int agent_midi_next(const agent_midi_roll_t *roll, int kinds, int64_t after_s, int after_order,
                    agent_midi_event_t *out)
{
    pick_t p = {.after_s = after_s, .after_order = after_order};
    if (kinds & AGENT_MIDI_MMC)
        next_mmc(roll, &p);
    if (kinds & AGENT_MIDI_MTC)
        next_mtc(roll, &p);
    if (kinds & AGENT_MIDI_CLOCK)
        next_clock(roll, &p);
    if (!p.have)
        return TT_ERR_NOTFOUND;
    *out = p.best;
    return 0;
}

int agent_midi_events(const agent_midi_roll_t *roll, int kinds, int64_t a, int64_t b,
                      agent_midi_event_t *out, int max)
{
    int n = 0;
    int64_t s = a == INT64_MIN ? a : a - 1;
    int order = a == INT64_MIN ? -1 : AGENT_MIDI_ORDER_MMC_STOP;
    while (n < max && agent_midi_next(roll, kinds, s, order, &out[n]) == 0 && out[n].s < b) {
        s = out[n].s;
        order = out[n].order;
        n++;
    }
    return n;
}

/* ------------------------------------------------------------ transport */

void agent_midi_transport(const agent_midi_roll_t *roll, int rate, agent_midi_transport_t *out)
{
    int64_t cue = session_to_cue(roll, roll->start);
    if (cue < 0) { /* frames start at bar 1: roll from there */
        out->start_s = cue_to_session(roll, 0);
        out->frame = 0;
        return;
    }
    out->start_s = roll->start;
    out->frame = (int64_t)llround((double)cue * rate / 1e9);
}

void agent_midi_bbt(const agent_midi_roll_t *roll, int64_t cue_ns, agent_midi_bbt_t *out)
{
    int64_t tick = tt_tempo_ns_to_tick(roll->map, cue_ns);
    tt_bbt_t b = tt_tempo_tick_to_bbt(roll->map, tick);
    int32_t num, den;
    tt_tempo_meter_at(roll->map, b.bar, &num, &den);
    int beat_ticks = 4 * TT_TEMPO_PPQ / den;
    int64_t bar_tick = tt_tempo_bbt_to_tick(roll->map, (tt_bbt_t){b.bar, 1, 0});
    out->bar = b.bar;
    out->beat = b.beat;
    out->tick = (int32_t)((int64_t)b.tick * AGENT_MIDI_TICKS_PER_BEAT / beat_ticks);
    out->bar_start_tick = (double)bar_tick * AGENT_MIDI_TICKS_PER_BEAT / beat_ticks;
    out->beats_per_bar = num;
    out->beat_type = den;
    out->ticks_per_beat = AGENT_MIDI_TICKS_PER_BEAT;
    out->beats_per_minute = tt_tempo_bpm_at(roll->map, cue_ns) * den / 4.0;
}
