/* agent_view: see agent_view.h. */
#include "agent_view.h"
#include "tt_clock_est.h"
#include "tt_error.h"
#include "tt_tempo.h"
#include "tt_tempo_visual.h"
#include "tt_timecode.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MAP_CHANGES 256 /* changes listed from one roll */

static json_t *str(const char *s)
{
    json_t *j = json_string(s ? s : "");
    return j ? j : json_string("?"); /* invalid UTF-8 from a record: show something */
}

/* Takes o; its compact text, or NULL with why. */
static char *dump(json_t *o, char *why)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        tt_fail(why, TT_ERR_NOMEM, "building the display's JSON");
    return text;
}

/* ------------------------------------------------------------ roll */

typedef struct {
    const tt_tempo_map_t *map;
    int64_t origin; /* session time of from_bar beat 1 */
    int64_t c_from; /* cue time of from_bar beat 1 */
} roll_time_t;

static int64_t to_session(const roll_time_t *rt, int64_t cue_ns)
{
    return rt->origin + (cue_ns - rt->c_from);
}

static json_t *beat_entry(int64_t s, int32_t bar, int32_t beat, int flags)
{
    return json_pack("[I,i,i,i]", (json_int_t)s, (int)bar, (int)beat, flags);
}

/* The lead-in's beats (count-in, then any pickup), as the click plays them. */
static int add_lead_in(json_t *beats, const tt_tempo_countoff_t *co, int32_t from_bar,
                       int64_t origin, int64_t from, int64_t to)
{
    int bpb = co->beats_per_bar;
    for (int i = 0; i < co->beats && bpb > 0; i++) {
        int back = co->beats - i;
        int64_t s = origin - (int64_t)back * co->beat_ns;
        if (s < from)
            continue;
        if (s > to)
            break;
        int in_bar = ((-back) % bpb + bpb) % bpb;
        int32_t bar = from_bar - (back + bpb - 1) / bpb;
        tt_click_t c;
        int flags = (in_bar == 0 ? AGENT_VIEW_DOWNBEAT : 0) |
                    (back <= co->pickup ? AGENT_VIEW_PICKUP : AGENT_VIEW_COUNTIN) |
                    (tt_tempo_countoff_click(co, i, &c) ? AGENT_VIEW_CLICK : 0);
        if (json_array_append_new(beats, beat_entry(s, bar, in_bar + 1, flags)) != 0)
            return TT_ERR_NOMEM;
    }
    return 0;
}

/* Every beat of the bars from from_bar on inside [from, to] and before
 * stop, each marked where the click sounds; *last gets the last one's time. */
static int add_music(json_t *beats, const roll_time_t *rt, int32_t from_bar, int64_t from,
                     int64_t to, int64_t stop, int64_t *last)
{
    const tt_tempo_map_t *m = rt->map;
    int32_t end = tt_tempo_end_bar(m);
    int32_t bar = from_bar;
    if (from > rt->origin) { /* start near the window, not at the roll's first bar */
        tt_bbt_t at = tt_tempo_ns_to_bbt(m, rt->c_from + (from - rt->origin));
        if (at.bar > bar)
            bar = at.bar;
    }
    tt_click_t click;
    int64_t first_ns = tt_tempo_bbt_to_ns(m, (tt_bbt_t){bar, 1, 0});
    int have_click = tt_tempo_next_click(m, first_ns, &click) == 0;
    for (; bar <= TT_TEMPO_MAX_BAR && (!end || bar <= end); bar++) {
        int32_t num, den;
        tt_tempo_meter_at(m, bar, &num, &den);
        for (int32_t beat = 1; beat <= num; beat++) {
            tt_bbt_t pos = {bar, beat, 0};
            int64_t tick = tt_tempo_bbt_to_tick(m, pos);
            int64_t s = to_session(rt, tt_tempo_tick_to_ns(m, tick));
            if (s > to || s >= stop || json_array_size(beats) >= AGENT_VIEW_MAX_BEATS)
                return 0;
            while (have_click && click.tick < tick)
                have_click = tt_tempo_next_click(m, click.ns + 1, &click) == 0;
            if (s < from)
                continue;
            int flags = (beat == 1 ? AGENT_VIEW_DOWNBEAT : 0) |
                        (have_click && click.tick == tick ? AGENT_VIEW_CLICK : 0);
            if (json_array_append_new(beats, beat_entry(s, bar, beat, flags)) != 0)
                return TT_ERR_NOMEM;
            *last = s;
        }
    }
    return 0;
}

/* What a change of the map changes to, as a musician reads it: "3/4 q=96",
 * "rit q=80 over 6", "q=100 (ramp)", "free until bar 26", "click off". */
static void change_text(const tt_tempo_change_t *ch, char *out, size_t cap)
{
    char part[96];
    size_t n = 0;
    out[0] = '\0';
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < cap)                                                                               \
            n += (size_t)snprintf(out + n, cap - n, "%s", n ? " " : "");                           \
        if (n < cap)                                                                               \
            n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__);                                  \
    } while (0)
    if (ch->has_meter) {
        tt_tempo_meter_text(&ch->meter, part, sizeof part);
        ADD("%s", part);
    }
    if (ch->free_from) {
        ADD("free until bar %d", (int)ch->free_until);
    } else if (ch->has_tempo) {
        tt_tempo_value_text(&ch->v, part, sizeof part);
        if (ch->named)
            ADD("%s %s over %d", ch->named == TT_TEMPO_RIT ? "rit" : "accel", part, (int)ch->over);
        else
            ADD("%s%s", part, ch->ramp ? " (ramp)" : "");
    }
    if (ch->click == 0)
        ADD("click off");
    else if (ch->click == 1)
        ADD("click on");
#undef ADD
}

/* The map's changes after from_bar beat 1 and before stop. */
static int add_changes(json_t *changes, const roll_time_t *rt, int64_t stop)
{
    int64_t from_tick = tt_tempo_ns_to_tick(rt->map, rt->c_from);
    tt_tempo_change_t ch;
    for (size_t i = 0; tt_tempo_change(rt->map, i, &ch) == 0; i++) {
        if (ch.tick <= from_tick)
            continue;
        int64_t s = to_session(rt, ch.ns);
        if (s >= stop || json_array_size(changes) >= MAX_MAP_CHANGES)
            break;
        if (!ch.has_meter && !ch.has_tempo && ch.click < 0 && !ch.free_from)
            continue; /* a subdivision only: the players' click, not a change to read */
        char text[200];
        change_text(&ch, text, sizeof text);
        if (json_array_append_new(changes,
                                  json_pack("[I,i,s]", (json_int_t)s, (int)ch.pos.bar, text)) != 0)
            return TT_ERR_NOMEM;
    }
    return 0;
}

/* The map's visual markers the roll reaches (their instant at or after its
 * first lead-in beat, before its stop), in order of position: a streamer
 * or warning with where it starts, a flutter with each flash. */
static int add_visuals(json_t *markers, const roll_time_t *rt, int64_t start, int64_t stop)
{
    tt_visual_t v;
    for (size_t i = 0; tt_tempo_visual(rt->map, i, &v) == 0; i++) {
        int64_t s = to_session(rt, v.ns);
        if (s < start || s >= stop)
            continue;
        char rgb[8];
        snprintf(rgb, sizeof rgb, "#%06x", (unsigned)(v.rgb & 0xffffffu));
        json_t *o = json_pack("{s:s, s:I, s:I, s:i, s:i, s:i, s:s, s:s, s:s}", "kind",
                              tt_visual_kind_name(v.spec.kind), "ns", (json_int_t)s, "start_ns",
                              (json_int_t)to_session(rt, v.start_ns), "bar", (int)v.spec.pos.bar,
                              "beat", (int)v.spec.pos.beat, "tick", (int)v.spec.pos.tick, "color",
                              v.color_text, "rgb", rgb, "name", v.spec.name);
        if (o && v.spec.kind == TT_VISUAL_FLUTTER) {
            json_t *flashes = json_array();
            int n = v.spec.flashes > 0 ? v.spec.flashes : TT_VISUAL_DEFAULT_FLASHES;
            for (int k = 0; flashes && k < n; k++)
                json_array_append_new(
                    flashes,
                    json_integer((json_int_t)(s + (k - (n - 1) / 2) * AGENT_VIEW_FLUTTER_GAP_NS)));
            json_object_set_new(o, "flashes", flashes);
        }
        if (!o || json_array_append_new(markers, o) != 0)
            return TT_ERR_NOMEM;
    }
    return 0;
}

/* The map's named locations (markers) from from_bar on. */
static int add_markers(json_t *markers, const roll_time_t *rt, int64_t stop)
{
    tt_bbt_t pos;
    const char *name;
    for (size_t i = 0; tt_tempo_marker(rt->map, i, &pos, &name) == 0; i++) {
        int64_t s = to_session(rt, tt_tempo_bbt_to_ns(rt->map, pos));
        if (s < rt->origin || s >= stop)
            continue;
        if (json_array_append_new(markers, json_pack("{s:s, s:I, s:i, s:i, s:s}", "kind", "marker",
                                                     "ns", (json_int_t)s, "bar", (int)pos.bar,
                                                     "beat", (int)pos.beat, "name", name)) != 0)
            return TT_ERR_NOMEM;
    }
    return 0;
}

char *agent_view_roll_json(const agent_view_roll_t *in, int64_t *window_to, char *why)
{
    tt_tempo_map_t *m = tt_tempo_parse_text(in->map_text ? in->map_text : "",
                                            in->map_text ? strlen(in->map_text) : 0, why);
    if (!m)
        return NULL;
    tt_tempo_countoff_t co;
    int64_t lead = tt_tempo_countoff(m, in->from_bar, &co);
    roll_time_t rt = {m, in->start_session_ns + lead, co.c_from};
    int64_t from = in->window_from, to = from + AGENT_VIEW_AHEAD_NS;
    int64_t stop = in->stop_session_ns;
    tt_fps_t fps = tt_tempo_fps(m);
    int64_t num, den;
    tt_fps_rate(fps, &num, &den);
    json_t *beats = json_array(), *changes = json_array(), *markers = json_array();
    int64_t last = from;
    int rc = beats && changes && markers ? 0 : TT_ERR_NOMEM;
    if (rc == 0)
        rc = add_lead_in(beats, &co, in->from_bar, rt.origin, from, to);
    if (rc == 0)
        rc = add_music(beats, &rt, in->from_bar, from, to, stop, &last);
    if (rc == 0)
        rc = add_changes(changes, &rt, stop);
    if (rc == 0)
        rc = add_visuals(markers, &rt, in->start_session_ns, stop);
    if (rc == 0)
        rc = add_markers(markers, &rt, stop);
    /* A window cut short by the beat cap ends at its last beat. */
    if (json_array_size(beats) >= AGENT_VIEW_MAX_BEATS)
        to = last;
    json_t *o = NULL;
    if (rc == 0)
        o = json_pack(
            "{s:b, s:o, s:o, s:I, s:i, s:I, s:I, s:I, s:o, s:I, s:I,"
            " s:{s:I, s:I, s:I, s:i, s:b},"
            " s:{s:i, s:i, s:i, s:I}, s:O, s:O, s:O}",
            "active", 1, "cue", str(in->cue), "title", str(in->title), "take", (json_int_t)in->take,
            "from_bar", (int)in->from_bar, "start_ns", (json_int_t)in->start_session_ns,
            "origin_ns", (json_int_t)rt.origin, "c_from_ns", (json_int_t)rt.c_from, "stop_ns",
            stop == INT64_MAX ? json_null() : json_integer((json_int_t)stop), "window_from",
            (json_int_t)from, "window_to", (json_int_t)to, "tc", "start_frame",
            (json_int_t)tt_tempo_start_frame(m), "num", (json_int_t)num, "den", (json_int_t)den,
            "nominal", tt_fps_nominal(fps), "drop", tt_fps_is_drop(fps), "countin", "beats",
            co.beats - co.pickup, "pickup", co.pickup, "per_bar", co.beats_per_bar, "beat_ns",
            (json_int_t)co.beat_ns, "beats", beats, "changes", changes, "markers", markers);
    json_decref(beats);
    json_decref(changes);
    json_decref(markers);
    tt_tempo_destroy(&m);
    if (rc == 0 && !o)
        rc = TT_ERR_NOMEM;
    if (rc != 0) {
        json_decref(o);
        tt_fail(why, rc, "building the roll for the display");
        return NULL;
    }
    if (window_to)
        *window_to = to;
    return dump(o, why);
}

char *agent_view_no_roll_json(char *why)
{
    return dump(json_pack("{s:b}", "active", 0), why);
}

/* ------------------------------------------------------------ clock */

char *agent_view_clock_json(const tt_clock_map_t *m, double bound_us, char *why)
{
    return dump(json_pack("{s:b, s:s, s:I, s:I, s:f, s:o}", "valid", m->valid, "state",
                          tt_clock_state_name((tt_clock_state_t)m->state), "local_ref_ns",
                          (json_int_t)m->local_ref, "session_ref_ns", (json_int_t)m->session_ref,
                          "rate", m->rate, "error_bound_us",
                          bound_us < 0 ? json_null() : json_real(bound_us)),
                why);
}

static int64_t on_line(const tt_clock_map_t *m, int64_t local)
{
    return m->session_ref + (int64_t)llround((double)(local - m->local_ref) * m->rate);
}

int agent_view_clock_moved(const tt_clock_map_t *sent, const tt_clock_map_t *now, int64_t local_now)
{
    if (sent->valid != now->valid || sent->state != now->state)
        return 1;
    if (!now->valid)
        return 0;
    const int64_t tolerance = 100000, horizon = 5000000000LL;
    for (int i = 0; i < 2; i++) {
        int64_t at = local_now + i * horizon;
        if (llabs(on_line(sent, at) - on_line(now, at)) > tolerance)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ room */

static const char *phase_name(tt_phase_t p)
{
    return p == TT_PHASE_ARMED ? "armed" : p == TT_PHASE_ROLLED ? "rolled" : "idle";
}

char *agent_view_room_json(const agent_view_room_t *in, char *why)
{
    const tt_session_t *st = in->session;
    json_t *changes = json_array();
    for (size_t i = 0; changes && i < st->n_changes; i++) {
        const tt_session_change_t *c = &st->changes[i];
        if (tt_session_acked(c, in->room))
            continue;
        if (json_array_size(changes) >= AGENT_VIEW_MAX_CHANGES)
            break;
        json_array_append_new(changes, json_pack("{s:I, s:o, s:o}", "id", (json_int_t)c->id, "cue",
                                                 str(c->cue), "text", str(c->text)));
    }
    const tt_transport_t *t = &st->transport;
    json_t *since = in->coordinator_online || !in->offline_since_unix_ns
                        ? json_null()
                        : json_integer((json_int_t)(in->offline_since_unix_ns / 1000000));
    json_t *o = changes
                    ? json_pack("{s:o, s:s, s:o, s:I, s:b, s:{s:b, s:o}, s:I, s:o}", "room",
                                str(in->room), "phase", phase_name(t->phase), "cue", str(t->cue),
                                "take", (json_int_t)t->take, "rolled", t->rolled, "coordinator",
                                "online", in->coordinator_online, "since_unix_ms", since, "seq",
                                (json_int_t)st->last_seq, "changes", changes)
                    : NULL;
    if (!changes)
        json_decref(since); /* json_pack takes its "o" arguments, also when it fails */
    return dump(o, why);
}
