/* dash_state: see dash_state.h. */
#include "dash_state.h"
#include "tt_record_json.h"
#include "tt_replica.h"
#include "tt_tempo.h"
#include "tt_timecode.h"
#include "tt_tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *str(const char *s)
{
    json_t *j = json_string(s ? s : "");
    return j ? j : json_string("?"); /* invalid UTF-8 from a peer: show something */
}

static json_int_t ms(int64_t ns)
{
    return (json_int_t)(ns / 1000000);
}

static json_t *room_players(const tt_session_t *s, const char *room)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_players; i++)
        if (!strcmp(s->players[i].room, room))
            json_array_append_new(a, str(s->players[i].name));
    return a;
}

/* While the coordinator is unreachable its last status says nothing about
 * the rooms now: each is "unknown", without the clock, alerts or prelays
 * it had. */
static json_t *room_unknown(const dash_state_in_t *in, const Tutti__RoomStatus *r)
{
    return json_pack("{s:o, s:b, s:s, s:n, s:o, s:n, s:n, s:n}", "name", str(r->name), "online", 0,
                     "reach", "unknown", "clock", "players", room_players(in->session, r->name),
                     "conflict", "store_fault", "prelays");
}

static json_t *rooms_json(const dash_state_in_t *in)
{
    json_t *a = json_array();
    if (!in->status)
        return a;
    for (size_t i = 0; i < in->status->n_rooms; i++) {
        const Tutti__RoomStatus *r = in->status->rooms[i];
        if (!in->coordinator_online) {
            json_array_append_new(a, room_unknown(in, r));
            continue;
        }
        const Tutti__ClockReport *c = r->clock;
        json_t *clock =
            json_pack("{s:o, s:f, s:f}", "state", str(c ? c->state : ""), "error_bound_us",
                      c ? c->error_bound_us : -1.0, "offset_us", c ? c->offset_us : 0.0);
        /* What the room's agent reports of its replica and store (null: fine). */
        const Tutti__ReplicaConflict *rc = r->conflict;
        const Tutti__StoreFault *sf = r->store_fault;
        json_t *conflict =
            rc ? json_pack("{s:s, s:I, s:I, s:I}", "kind", tt_replica_conflict_name(rc->kind),
                           "replica_seq", (json_int_t)rc->replica_seq, "coordinator_seq",
                           (json_int_t)rc->coordinator_seq, "conflict_seq",
                           (json_int_t)rc->conflict_seq)
               : json_null();
        json_t *fault =
            sf ? json_pack("{s:s, s:o}", "cause", tt_replica_store_fault_name(sf->cause), "text",
                           str(sf->text))
               : json_null();
        /* Prelays and guides the room must hold, and which it lacks. */
        json_t *missing = json_array();
        for (size_t k = 0; k < r->n_prelays_missing; k++)
            json_array_append_new(missing, str(r->prelays_missing[k]));
        json_t *prelays = json_pack("{s:i, s:i, s:o}", "wanted", (int)r->prelays_wanted, "held",
                                    (int)r->prelays_held, "missing", missing);
        json_array_append_new(
            a, json_pack("{s:o, s:b, s:s, s:o, s:o, s:o, s:o, s:o}", "name", str(r->name), "online",
                         r->online, "reach", r->online ? "online" : "offline", "clock", clock,
                         "players", room_players(in->session, r->name), "conflict", conflict,
                         "store_fault", fault, "prelays", prelays));
    }
    return a;
}

/* Who is checked in where, from the log (every room, in the access file
 * or not): [{"room", "players": [...]}], rooms in order of first player. */
static json_t *checked_in_json(const tt_session_t *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_players; i++) {
        const char *room = s->players[i].room;
        size_t k;
        for (k = 0; k < i && strcmp(s->players[k].room, room) != 0; k++)
            ;
        if (k < i)
            continue; /* that room's list is made */
        json_array_append_new(
            a, json_pack("{s:o, s:o}", "room", str(room), "players", room_players(s, room)));
    }
    return a;
}

static double ms_of(int64_t ns)
{
    return (double)ns / 1e6;
}

/* The page ticks the transport between states by itself: the timecode at
 * the frame rate from tc, bar|beat and the count-in from the upcoming
 * beats (ms from now). Up to BEATS_AHEAD_MS ahead, at most BEATS_MAX. */
#define BEATS_AHEAD_MS 3000
#define BEATS_MAX 48

static void add_beat(json_t *beats, int64_t in_ns, int bar, int beat, int count)
{
    if (json_array_size(beats) < BEATS_MAX)
        json_array_append_new(beats, json_pack("{s:f, s:i, s:i, s:i}", "in_ms", ms_of(in_ns), "bar",
                                               bar, "beat", beat, "count", count));
}

/* Bar|beat, the count-in and timecode at the coordinator's session time
 * while counting in or rolling. */
static json_t *transport_json(const dash_state_in_t *in)
{
    const tt_session_t *s = in->session;
    const tt_transport_t *t = &s->transport;
    const char *state = tt_session_transport_name(s, in->session_now_ns);
    json_t *o = json_pack("{s:s, s:o, s:i, s:i, s:i, s:s, s:n, s:n, s:n, s:n}", "state", state,
                          "cue", str(t->cue), "take", (int)t->take, "bar", 0, "beat", 0, "timecode",
                          "", "count_in", "tc", "beats", "stop_in_ms");
    if (strcmp(state, "count-in") && strcmp(state, "rolling"))
        return o;
    const tt_session_cue_t *cue = tt_session_find_cue(s, t->cue);
    if (!cue || !cue->map_text)
        return o;
    tt_tempo_map_t *map = tt_tempo_parse_text(cue->map_text, strlen(cue->map_text), NULL);
    if (!map)
        return o;
    tt_tempo_countoff_t co;
    tt_tempo_countoff(map, t->from_bar, &co);
    int64_t map_ns = co.c_from + (in->session_now_ns - t->downbeat_session_ns);
    tt_bbt_t pos = tt_tempo_ns_to_bbt(map, map_ns);
    tt_fps_t fps = tt_tempo_fps(map);
    int64_t frame = tt_tempo_ns_to_frame(map, map_ns);
    int64_t f0 = tt_tempo_frame_to_ns(map, frame), f1 = tt_tempo_frame_to_ns(map, frame + 1);
    char tc[TT_TIMECODE_LEN];
    tt_timecode_format(frame, fps, tc);
    int64_t num, den;
    tt_fps_rate(fps, &num, &den);
    json_object_set_new(o, "bar", json_integer(pos.bar));
    json_object_set_new(o, "beat", json_integer(pos.beat));
    json_object_set_new(o, "timecode", json_string(tc));
    json_object_set_new(o, "tc",
                        json_pack("{s:I, s:f, s:I, s:I, s:i, s:b}", "frame", (json_int_t)frame,
                                  "phase",
                                  f1 > f0 ? (double)(map_ns - f0) / (double)(f1 - f0) : 0.0, "num",
                                  (json_int_t)num, "den", (json_int_t)den, "nominal",
                                  tt_fps_nominal(fps), "drop", tt_fps_is_drop(fps)));
    if (t->stop_session_ns != INT64_MAX)
        json_object_set_new(o, "stop_in_ms",
                            json_real(ms_of(t->stop_session_ns - in->session_now_ns)));

    /* The lead-in: beat i clicks at c_from - (beats - i) * beat_ns. */
    json_t *beats = json_array();
    int64_t ahead = map_ns + (int64_t)BEATS_AHEAD_MS * 1000000;
    if (co.beats > 0 && co.beat_ns > 0) {
        int64_t first = co.c_from - (int64_t)co.beats * co.beat_ns;
        int64_t done = map_ns < first ? 0 : (map_ns - first) / co.beat_ns + 1;
        if (done > co.beats)
            done = co.beats;
        if (map_ns < co.c_from)
            json_object_set_new(o, "count_in",
                                json_pack("{s:i, s:i}", "beat", (int)done, "of", co.beats));
        for (int i = (int)done; i < co.beats; i++) {
            int64_t at = first + (int64_t)i * co.beat_ns;
            if (at >= ahead)
                break;
            add_beat(beats, at - map_ns, 0, 0, i + 1);
        }
    }
    /* Then the map's clicks from the downbeat on. */
    tt_click_t c;
    for (int64_t at = map_ns >= co.c_from ? map_ns + 1 : co.c_from;
         tt_tempo_next_click(map, at, &c) == 0 && c.ns < ahead &&
         json_array_size(beats) < BEATS_MAX;
         at = c.ns + 1)
        add_beat(beats, c.ns - map_ns, c.pos.bar, c.pos.beat, 0);
    json_object_set_new(o, "beats", beats);
    json_object_set_new(o, "downbeat_in_ms", json_real(ms_of(co.c_from - map_ns)));
    tt_tempo_destroy(&map);
    return o;
}

static const char *take_state(tt_take_state_t st)
{
    return st == TT_TAKE_OPEN ? "open" : st == TT_TAKE_DONE ? "done" : "interrupted";
}

static json_t *cues_json(const tt_session_t *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_cues; i++) {
        const tt_session_cue_t *c = &s->cues[i];
        json_t *takes = json_array();
        for (size_t k = 0; k < c->n_takes; k++) {
            const tt_session_take_t *t = &c->takes[k];
            json_t *notes = json_array();
            char media[256];
            tt_media_rooms(&s->media, c->name, t->number, media, sizeof media);
            if (t->last_note[0])
                json_array_append_new(notes, str(t->last_note));
            json_array_append_new(
                takes, json_pack("{s:i, s:s, s:s, s:o, s:i, s:b, s:s, s:s}", "take", (int)t->number,
                                 "state", take_state(t->state), "rating", t->rating, "notes", notes,
                                 "note_count", (int)t->notes, "forced", t->forced, "rooms_online",
                                 t->rooms_online, "media", media));
        }
        json_array_append_new(a, json_pack("{s:o, s:o, s:o}", "name", str(c->name), "title",
                                           str(c->title), "takes", takes));
    }
    return a;
}

static json_t *changes_json(const dash_state_in_t *in)
{
    const tt_session_t *s = in->session;
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_changes; i++) {
        const tt_session_change_t *c = &s->changes[i];
        json_t *acked = json_array(), *missing = json_array();
        for (size_t k = 0; k < c->n_acked; k++)
            json_array_append_new(acked, str(c->acked[k]));
        for (size_t r = 0; in->status && r < in->status->n_rooms; r++)
            if (!tt_session_acked(c, in->status->rooms[r]->name))
                json_array_append_new(missing, str(in->status->rooms[r]->name));
        if (json_array_size(missing) == 0) { /* every room has it: not open any more */
            json_decref(acked);
            json_decref(missing);
            continue;
        }
        json_array_append_new(a, json_pack("{s:I, s:o, s:o, s:o, s:o}", "id", (json_int_t)c->id,
                                           "cue", str(c->cue), "text", str(c->text), "acked", acked,
                                           "not_acked", missing));
    }
    return a;
}

static json_t *call_json(const dash_state_in_t *in)
{
    const tt_call_t *c = &in->session->call;
    tt_call_clock_t k;
    tt_call_clock(c, in->now_unix_ns, &k);
    json_t *breaks = json_array();
    for (size_t i = 0; i < c->n_breaks; i++)
        json_array_append_new(breaks,
                              json_pack("{s:I, s:I}", "start_unix_ms", ms(c->breaks[i].start_ns),
                                        "end_unix_ms", ms(c->breaks[i].end_ns)));
    json_t *o = json_pack(
        "{s:b, s:b, s:s, s:o, s:I, s:I, s:b, s:I, s:I, s:b, s:I, s:s}", "started", c->started,
        "running", k.running, "rules_id", c->started ? c->rules.id : "", "rules_title",
        str(c->started ? c->rules.title : ""), "start_unix_ms", ms(c->start_ns), "elapsed_ms",
        ms(k.elapsed_ns), "on_break", k.on_break, "break_elapsed_ms", ms(k.break_elapsed_ns),
        "break_remaining_ms", ms(k.break_remaining_ns), "break_due", k.break_due,
        "next_break_in_ms", ms(k.next_break_in_ns), "alert", tt_call_alert_name(k.alert));
    json_object_set_new(o, "breaks", breaks);
    json_object_set_new(o, "breaks_taken", json_integer((json_int_t)k.breaks_taken));
    json_object_set_new(o, "call_minutes", json_integer(c->started ? c->rules.call_minutes : 0));
    json_object_set_new(o, "overtime_ms", json_integer(ms(k.overtime_ns)));
    json_object_set_new(o, "overtime_units", json_integer(k.overtime_units));
    json_object_set_new(o, "overtime_unit_minutes",
                        json_integer(c->started ? c->rules.overtime_unit_minutes : 0));
    json_object_set_new(o, "wrap_unix_ms", json_integer(ms(c->wrap_ns)));
    return o;
}

char *dash_state_json(const dash_state_in_t *in)
{
    const tt_session_t *s = in->session;
    json_t *presets = json_array();
    for (size_t i = 0; i < in->n_presets; i++)
        json_array_append_new(presets, json_pack("{s:s, s:o}", "id", in->presets[i]->id, "title",
                                                 str(in->presets[i]->title)));
    json_t *o =
        json_pack("{s:I, s:o, s:b, s:b, s:I}", "seq", (json_int_t)s->last_seq, "session_name",
                  str(s->session_name), "coordinator_online", in->coordinator_online, "read_only",
                  in->read_only, "now_unix_ms", ms(in->now_unix_ns));
    if (!o)
        return NULL;
    /* Unreachable since its last answer (or since this dashboard started). */
    json_object_set_new(
        o, "coordinator",
        json_pack("{s:b, s:I}", "online", in->coordinator_online, "unreachable_since_unix_ms",
                  in->coordinator_online ? (json_int_t)0 : ms(in->coordinator_last_unix_ns)));
    json_object_set_new(
        o, "tz",
        json_pack("{s:s, s:i}", "name", tt_tz_name(), "offset_s", tt_tz_offset_s(in->now_unix_ns)));
    json_object_set_new(o, "checked_in", checked_in_json(s));
    json_object_set_new(o, "rooms", rooms_json(in));
    json_object_set_new(o, "transport", transport_json(in));
    json_object_set_new(o, "cues", cues_json(s));
    json_object_set_new(o, "changes", changes_json(in));
    json_object_set_new(o, "call", call_json(in));
    json_object_set_new(o, "presets", presets);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* ---------------------------------------------------------------- feed */

char *dash_record_summary(const Tutti__Record *rec)
{
    char text[512];
    tt_record_summary(rec, text, sizeof text);
    char safe[512];
    tt_utf8_copy(safe, sizeof safe, text); /* a %.200s may have cut a character */
    json_t *o = json_pack("{s:I, s:s, s:o, s:I, s:o}", "seq", (json_int_t)rec->seq, "kind",
                          tt_chain_kind(rec), "actor", str(rec->actor), "at_unix_ms",
                          ms(rec->at_unix_ns), "summary", str(safe));
    if (!o)
        return NULL;
    char *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}
