/* tt_tempo_visual: storage, checks and reading of a map's visual markers
 * (see tt_tempo_visual.h). A fifth sorted array of the map, kept as
 * written; instants and default colors are computed when read, from the
 * map as it is then, so a later end bar or frame rate is never stale.
 * Their text is parsed in tt_tempo_text.c with the rest of the format.
 */
#include "tt_tempo_visual.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_error.h"
#include "tt_tempo_internal.h"

static const char *const kind_names[] = {
    [TT_VISUAL_STREAMER] = "streamer", [TT_VISUAL_PUNCH] = "punch", [TT_VISUAL_FLUTTER] = "flutter",
    [TT_VISUAL_WARNING] = "warning",   [TT_VISUAL_HIT] = "hit",
};

static const struct {
    const char *name;
    uint32_t rgb;
} colors[] = {
    [TT_COLOR_WHITE] = {"white", 0xffffff}, [TT_COLOR_RED] = {"red", 0xff0000},
    [TT_COLOR_GREEN] = {"green", 0x00ff00}, [TT_COLOR_YELLOW] = {"yellow", 0xffff00},
    [TT_COLOR_BLUE] = {"blue", 0x0000ff},   [TT_COLOR_ORANGE] = {"orange", 0xff8000},
    [TT_COLOR_CYAN] = {"cyan", 0x00ffff},   [TT_COLOR_MAGENTA] = {"magenta", 0xff00ff},
};

const char *tt_visual_kind_name(int kind)
{
    return kind >= TT_VISUAL_STREAMER && kind <= TT_VISUAL_HIT ? kind_names[kind] : "?";
}

const char *tt_visual_color_text(int color, uint32_t rgb, char buf[8])
{
    if (color >= TT_COLOR_WHITE && color < TT_COLOR_RGB)
        return colors[color].name;
    snprintf(buf, 8, "#%06x", (unsigned)(rgb & 0xffffff));
    return buf;
}

static int has_len(int kind)
{
    return kind == TT_VISUAL_STREAMER || kind == TT_VISUAL_WARNING;
}

/* "2s", "2.5s", "1.25b". */
static int len_text(const tt_visual_spec_t *v, char *out, size_t room)
{
    int32_t whole = v->len_milli / 1000, frac = v->len_milli % 1000;
    const char *unit = v->len_unit == TT_VISUAL_LEN_BEATS ? "b" : "s";
    if (!frac)
        return snprintf(out, room, "%d%s", (int)whole, unit);
    char digits[8];
    snprintf(digits, sizeof digits, "%03d", (int)frac);
    size_t n = strlen(digits);
    while (digits[n - 1] == '0')
        digits[--n] = '\0';
    return snprintf(out, room, "%d.%s%s", (int)whole, digits, unit);
}

int tt_tempo_visual_words(const tt_visual_spec_t *v, int with_pos, char *out, size_t room)
{
    char buf[TT_VISUAL_WORDS_LEN + 32], pos[48] = "", len[24], col[8];
    size_t n = 0;
    if (with_pos) {
        if (v->pos.tick)
            snprintf(pos, sizeof pos, " at %d.%d.%d", (int)v->pos.bar, (int)v->pos.beat,
                     (int)v->pos.tick);
        else
            snprintf(pos, sizeof pos, " at %d.%d", (int)v->pos.bar, (int)v->pos.beat);
    }
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", tt_visual_kind_name(v->kind), pos);
    if (has_len(v->kind)) {
        len_text(v, len, sizeof len);
        n += (size_t)snprintf(buf + n, sizeof buf - n, " len %s", len);
    }
    if (v->kind == TT_VISUAL_FLUTTER)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " flashes %d", v->flashes);
    if (v->color != TT_COLOR_DEFAULT)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " color %s",
                              tt_visual_color_text(v->color, v->rgb, col));
    if (v->name[0])
        snprintf(buf + n, sizeof buf - n, " \"%s\"", v->name);
    return snprintf(out, room, "%s", buf);
}

/* A position of the map in bbt: bar 0.., beat and tick inside it. */
static int check_pos(const tt_tempo_map_t *m, const tt_visual_spec_t *v, char *why)
{
    const char *k = tt_visual_kind_name(v->kind);
    tt_bbt_t p = v->pos;
    if (p.bar < 0)
        return tt_fail(why, TT_ERR_INVALID, "%s at %d.%d.%d: before bar 0", k, (int)p.bar,
                       (int)p.beat, (int)p.tick);
    int32_t num, den;
    tt_tempo_meter_at(m, p.bar, &num, &den);
    if (p.bar > TT_TEMPO_MAX_BAR || p.beat < 1 || p.beat > num || p.tick < 0 ||
        p.tick >= WHOLE_TICKS / den)
        return tt_fail(why, TT_ERR_INVALID,
                       "%s at %d.%d.%d: not in the bar (%d/%d: beats 1..%d, ticks 0..%d; bars "
                       "0..%d)",
                       k, (int)p.bar, (int)p.beat, (int)p.tick, (int)num, (int)den, (int)num,
                       WHOLE_TICKS / (int)den - 1, TT_TEMPO_MAX_BAR);
    return 0;
}

/* The free section [a, b) holding tick (its start mark's index), or -1. */
static long free_section_at(const tt_tempo_map_t *m, int64_t tick, int64_t *a, int64_t *b)
{
    for (size_t i = 0; i + 1 < m->nmarks; i++)
        if (m->marks[i].free && tick > m->marks[i].tick && tick < m->marks[i + 1].tick) {
            *a = m->marks[i].tick;
            *b = m->marks[i + 1].tick;
            return (long)i;
        }
    return -1;
}

/* The streamer's first tick, counted back in beats of the meter at its
 * end (len in beats only). */
static int64_t beats_back(const tt_tempo_map_t *m, const tt_visual_spec_t *v, int64_t tick)
{
    int32_t den;
    tt_tempo_meter_at(m, v->pos.bar, NULL, &den);
    int64_t bt = WHOLE_TICKS / den;
    return tick - ((int64_t)v->len_milli * bt + 500) / 1000;
}

/* Everything about v that depends on the map (position, end, free time,
 * length in time). */
static int check_in_map(const tt_tempo_map_t *m, const tt_visual_spec_t *v, char *why)
{
    const char *k = tt_visual_kind_name(v->kind);
    int rc = check_pos(m, v, why);
    if (rc)
        return rc;
    tt_bbt_t p = v->pos;
    int64_t tick = tt_tempo_bbt_to_tick(m, p);
    if (tick > tt_tempo_end_tick(m))
        return tt_fail(why, TT_ERR_INVALID,
                       "%s at %d.%d.%d: after the end of the cue (bar %d is the last; the cue "
                       "ends at %d.1)",
                       k, (int)p.bar, (int)p.beat, (int)p.tick, (int)m->end_bar,
                       (int)m->end_bar + 1);
    int64_t a, b;
    if (free_section_at(m, tick, &a, &b) >= 0)
        return tt_fail(why, TT_ERR_INVALID,
                       "%s at %d.%d.%d: inside free time (bars %d to %d): no tempo places it "
                       "there; put it at bar %d or %d",
                       k, (int)p.bar, (int)p.beat, (int)p.tick, (int)tt_tempo_tick_to_bbt(m, a).bar,
                       (int)tt_tempo_tick_to_bbt(m, b).bar - 1, (int)tt_tempo_tick_to_bbt(m, a).bar,
                       (int)tt_tempo_tick_to_bbt(m, b).bar);
    if (!has_len(v->kind) || v->len_unit != TT_VISUAL_LEN_BEATS)
        return 0;
    int64_t start = beats_back(m, v, tick);
    if (start >= tick)
        return tt_fail(why, TT_ERR_INVALID, "%s at %d.%d.%d: its length is under a tick", k,
                       (int)p.bar, (int)p.beat, (int)p.tick);
    for (size_t i = 0; i + 1 < m->nmarks; i++)
        if (m->marks[i].free && m->marks[i].tick < tick && m->marks[i + 1].tick > start)
            return tt_fail(why, TT_ERR_INVALID,
                           "%s at %d.%d.%d: its beats count back into free time; give its "
                           "length in seconds",
                           k, (int)p.bar, (int)p.beat, (int)p.tick);
    int64_t dur = tt_tempo_tick_to_ns(m, tick) - tt_tempo_tick_to_ns(m, start);
    if (dur > TT_VISUAL_MAX_LEN_NS)
        return tt_fail(why, TT_ERR_INVALID,
                       "%s at %d.%d.%d: its %.3g beats last %.3f s (at most 10)", k, (int)p.bar,
                       (int)p.beat, (int)p.tick, v->len_milli / 1000.0, (double)dur / 1e9);
    return 0;
}

/* What does not depend on the map: kind, length, flashes, color, name. */
int tt_tempo_check_visual_spec(const tt_visual_spec_t *v, char *why)
{
    if (v->kind < TT_VISUAL_STREAMER || v->kind > TT_VISUAL_HIT)
        return tt_fail(why, TT_ERR_INVALID,
                       "visual marker kind %d: streamer, punch, flutter, "
                       "warning or hit",
                       v->kind);
    const char *k = tt_visual_kind_name(v->kind);
    if (has_len(v->kind)) {
        if ((v->len_unit != TT_VISUAL_LEN_S && v->len_unit != TT_VISUAL_LEN_BEATS) ||
            v->len_milli < 1 || v->len_milli > TT_VISUAL_MAX_LEN_MILLI)
            return tt_fail(why, TT_ERR_INVALID,
                           "%s: length must be over 0 and at most 10 s (len 3s, or beats: len 2b)",
                           k);
        if (v->len_unit == TT_VISUAL_LEN_S && v->len_milli > 10000)
            return tt_fail(why, TT_ERR_INVALID, "%s: length %.3f s is over 10 s", k,
                           v->len_milli / 1000.0);
    } else if (v->len_unit != TT_VISUAL_LEN_NONE || v->len_milli) {
        return tt_fail(why, TT_ERR_INVALID, "%s: only a streamer or a warning has a length", k);
    }
    if (v->kind == TT_VISUAL_FLUTTER) {
        if (v->flashes != 1 && v->flashes != 3 && v->flashes != 5 && v->flashes != 7)
            return tt_fail(why, TT_ERR_INVALID, "flutter: %d flashes (1, 3, 5 or 7)", v->flashes);
    } else if (v->flashes) {
        return tt_fail(why, TT_ERR_INVALID, "%s: only a flutter has flashes", k);
    }
    if (v->color < TT_COLOR_DEFAULT || v->color > TT_COLOR_RGB ||
        (v->color == TT_COLOR_RGB ? v->rgb > 0xffffff : v->rgb != 0))
        return tt_fail(why, TT_ERR_INVALID, "%s: color %d (rgb %06x) is not one", k, v->color,
                       (unsigned)v->rgb);
    if (memchr(v->name, '\0', sizeof v->name) == NULL)
        return tt_fail(why, TT_ERR_INVALID, "%s: name is not terminated", k);
    if (v->kind == TT_VISUAL_HIT && !v->name[0])
        return tt_fail(why, TT_ERR_INVALID, "hit: needs a name (hit at 33.2 \"door slam\")");
    if (v->name[0]) {
        char what[32];
        snprintf(what, sizeof what, "%s name", k);
        return tt_tempo_check_name(v->name, what, 1, why);
    }
    return 0;
}

static int bbt_before(tt_bbt_t a, tt_bbt_t b)
{
    if (a.bar != b.bar)
        return a.bar < b.bar;
    if (a.beat != b.beat)
        return a.beat < b.beat;
    return a.tick < b.tick;
}

int tt_tempo_add_visual(tt_tempo_map_t *m, const tt_visual_spec_t *spec, char *why)
{
    int rc = tt_tempo_check_visual_spec(spec, why);
    if (rc == 0)
        rc = check_in_map(m, spec, why);
    if (rc)
        return rc;
    if (m->nvisuals == TT_TEMPO_MAX_VISUALS)
        return tt_fail(why, TT_ERR_TOO_BIG, "more than %d visual markers", TT_TEMPO_MAX_VISUALS);
    if ((rc = tt_tempo_room_for_event(m, 2, why)))
        return rc;
    if (m->nvisuals == m->cap_visuals) {
        size_t ncap = m->cap_visuals ? m->cap_visuals * 2 : 8;
        tt_visual_spec_t *p = realloc(m->visuals, ncap * sizeof *p);
        if (!p)
            return tt_fail(why, TT_ERR_NOMEM, "tempo map: out of memory");
        m->visuals = p;
        m->cap_visuals = ncap;
    }
    /* After every one at or before its position. */
    size_t at = m->nvisuals;
    while (at > 0 && bbt_before(spec->pos, m->visuals[at - 1].pos))
        at--;
    memmove(&m->visuals[at + 1], &m->visuals[at], (m->nvisuals - at) * sizeof *m->visuals);
    tt_visual_spec_t *v = &m->visuals[at];
    memset(v, 0, sizeof *v);
    v->kind = spec->kind;
    v->pos = spec->pos;
    v->len_unit = spec->len_unit;
    v->len_milli = spec->len_milli;
    v->flashes = spec->flashes;
    v->color = spec->color;
    v->rgb = spec->rgb;
    memcpy(v->name, spec->name, strlen(spec->name) + 1);
    m->nvisuals++;
    return 0;
}

int tt_tempo_check_visuals(const tt_tempo_map_t *m, char *why)
{
    for (size_t i = 0; i < m->nvisuals; i++) {
        int rc = check_in_map(m, &m->visuals[i], why);
        if (rc)
            return rc;
    }
    return 0;
}

size_t tt_tempo_visual_count(const tt_tempo_map_t *m)
{
    return m->nvisuals;
}

/* 1 if a warning marker stands at tick (visual i's neighbours: sorted). */
static int warning_at(const tt_tempo_map_t *m, size_t i, int64_t tick)
{
    for (size_t j = i; j-- > 0;) {
        if (tt_tempo_bbt_to_tick(m, m->visuals[j].pos) != tick)
            break;
        if (m->visuals[j].kind == TT_VISUAL_WARNING)
            return 1;
    }
    for (size_t j = i + 1; j < m->nvisuals; j++) {
        if (tt_tempo_bbt_to_tick(m, m->visuals[j].pos) != tick)
            break;
        if (m->visuals[j].kind == TT_VISUAL_WARNING)
            return 1;
    }
    return 0;
}

/* The convention: yellow warnings; streamers red into the last bar, yellow
 * into a warning, green into a downbeat, else white; the rest white. */
static int default_color(const tt_tempo_map_t *m, size_t i, int64_t tick)
{
    const tt_visual_spec_t *v = &m->visuals[i];
    if (v->kind == TT_VISUAL_WARNING)
        return TT_COLOR_YELLOW;
    if (v->kind != TT_VISUAL_STREAMER)
        return TT_COLOR_WHITE;
    if (m->end_bar && tick >= tt_tempo_bbt_to_tick(m, (tt_bbt_t){m->end_bar, 1, 0}))
        return TT_COLOR_RED;
    if (warning_at(m, i, tick))
        return TT_COLOR_YELLOW;
    if (v->pos.beat == 1 && v->pos.tick == 0)
        return TT_COLOR_GREEN;
    return TT_COLOR_WHITE;
}

int tt_tempo_visual(const tt_tempo_map_t *m, size_t i, tt_visual_t *out)
{
    if (i >= m->nvisuals)
        return TT_ERR_NOTFOUND;
    const tt_visual_spec_t *v = &m->visuals[i];
    memset(out, 0, sizeof *out);
    out->spec = *v;
    out->tick = tt_tempo_bbt_to_tick(m, v->pos);
    out->ns = tt_tempo_tick_to_ns(m, out->tick);
    out->start_ns = out->ns;
    if (has_len(v->kind)) {
        if (v->len_unit == TT_VISUAL_LEN_BEATS)
            out->start_ns = tt_tempo_tick_to_ns(m, beats_back(m, v, out->tick));
        else
            out->start_ns = out->ns - (int64_t)v->len_milli * 1000000;
    }
    out->color_default = v->color == TT_COLOR_DEFAULT;
    out->color = out->color_default ? default_color(m, i, out->tick) : v->color;
    out->rgb = out->color == TT_COLOR_RGB ? v->rgb : colors[out->color].rgb;
    const char *t = tt_visual_color_text(out->color, out->rgb, out->color_text);
    if (t != out->color_text)
        snprintf(out->color_text, sizeof out->color_text, "%s", t);
    return 0;
}

size_t tt_tempo_visuals(const tt_tempo_map_t *m, tt_visual_t *out, size_t max)
{
    for (size_t i = 0; i < m->nvisuals && i < max; i++)
        tt_tempo_visual(m, i, &out[i]);
    return m->nvisuals;
}
