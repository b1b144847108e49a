#include "tt_record_json.h"
#include "tt_text.h"
#include "tt_time.h"

#include <stdio.h>

/* A prelay's or guide's own fields. */
static void media_put_json(json_t *o, const Tutti__Media *m)
{
    json_t *rooms = json_array();
    for (size_t i = 0; i < m->n_rooms; i++)
        json_array_append_new(rooms, json_string(m->rooms[i]));
    json_object_set_new(
        o, "kind",
        json_string(m->kind == TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE ? "guide" : "prelay"));
    json_object_set_new(o, "name", json_string(m->name));
    json_object_set_new(o, "rooms", rooms);
    json_object_set_new(o, "channels", json_integer(m->channels));
    json_object_set_new(o, "frames", json_integer((json_int_t)m->frames));
    if (m->at_bar)
        json_object_set_new(o, "at_bar", json_integer(m->at_bar));
    if (m->at_fps && *m->at_fps) {
        json_object_set_new(o, "at_frame", json_integer((json_int_t)m->at_frame));
        json_object_set_new(o, "at_fps", json_string(m->at_fps));
    }
    if (m->source_seq) /* a guide made from a take's capture: that capture's record */
        json_object_set_new(o, "source_seq", json_integer((json_int_t)m->source_seq));
}

json_t *tt_record_json(const Tutti__Record *rec, const uint8_t *hash)
{
    char at[40];
    tt_time_iso8601(rec->at_unix_ns, at, sizeof at);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "seq", json_integer((json_int_t)rec->seq));
    json_object_set_new(o, "kind", json_string(tt_chain_kind(rec)));
    json_object_set_new(o, "actor", json_string(rec->actor ? rec->actor : ""));
    json_object_set_new(o, "role", json_string(rec->actor_role ? rec->actor_role : ""));
    json_object_set_new(o, "at", json_string(at));
    json_object_set_new(o, "at_unix_ns", json_integer((json_int_t)rec->at_unix_ns));
    if (rec->idempotency_key.len > 0 && rec->idempotency_key.len <= 64) { /* the writer's */
        char hex[2 * 64 + 1];
        tt_hex_encode(rec->idempotency_key.data, rec->idempotency_key.len, hex);
        json_object_set_new(o, "idempotency_key", json_string(hex));
    }
    if (hash) {
        char hex[2 * TT_HASH_LEN + 1];
        tt_hex_encode(hash, TT_HASH_LEN, hex);
        json_object_set_new(o, "hash", json_string(hex));
    }
    switch (rec->body_case) {
    case TUTTI__RECORD__BODY_GENESIS: {
        char hex[2 * TT_SIGN_PK_LEN + 1] = "";
        if (rec->genesis->signing_public_key.len == TT_SIGN_PK_LEN)
            tt_hex_encode(rec->genesis->signing_public_key.data, TT_SIGN_PK_LEN, hex);
        json_object_set_new(o, "session", json_string(rec->genesis->session_name));
        json_object_set_new(o, "signing_key", json_string(hex));
        break;
    }
    case TUTTI__RECORD__BODY_NOTE:
        /* The coordinator refuses invalid UTF-8, but a replica is untrusted input. */
        {
            json_t *t = json_string(rec->note->text);
            json_object_set_new(o, "text", t ? t : json_string("(invalid UTF-8)"));
        }
        break;
    case TUTTI__RECORD__BODY_TEMPO_LOAD:
        json_object_set_new(o, "cue", json_string(rec->tempo_load->cue));
        json_object_set_new(o, "version", json_integer(rec->tempo_load->version));
        json_object_set_new(o, "source", json_string(rec->tempo_load->source));
        json_object_set_new(o, "map", json_string(rec->tempo_load->map_text));
        break;
    case TUTTI__RECORD__BODY_CUE_ADD:
        json_object_set_new(o, "cue", json_string(rec->cue_add->cue));
        json_object_set_new(o, "title", json_string(rec->cue_add->title));
        break;
    case TUTTI__RECORD__BODY_ARM:
        json_object_set_new(o, "cue", json_string(rec->arm->cue));
        json_object_set_new(o, "at_session_ns", json_integer(rec->arm->at_session_ns));
        break;
    case TUTTI__RECORD__BODY_TAKE_INTERRUPTED:
        json_object_set_new(o, "cue", json_string(rec->take_interrupted->cue));
        json_object_set_new(o, "take", json_integer(rec->take_interrupted->take));
        json_object_set_new(o, "at_session_ns", json_integer(rec->take_interrupted->at_session_ns));
        break;
    case TUTTI__RECORD__BODY_TAKE_RATE:
        json_object_set_new(o, "cue", json_string(rec->take_rate->cue));
        json_object_set_new(o, "take", json_integer(rec->take_rate->take));
        json_object_set_new(o, "rating", json_string(rec->take_rate->rating));
        json_object_set_new(o, "note", json_string(rec->take_rate->note));
        break;
    case TUTTI__RECORD__BODY_TAKE_NOTE:
        json_object_set_new(o, "cue", json_string(rec->take_note->cue));
        json_object_set_new(o, "take", json_integer(rec->take_note->take));
        json_object_set_new(o, "text", json_string(rec->take_note->text));
        break;
    case TUTTI__RECORD__BODY_CHANGE:
        json_object_set_new(o, "change", json_integer((json_int_t)rec->seq));
        json_object_set_new(o, "cue", json_string(rec->change->cue));
        json_object_set_new(o, "text", json_string(rec->change->text));
        json_object_set_new(o, "bars", json_string(rec->change->bars));
        json_object_set_new(o, "parts", json_string(rec->change->parts));
        break;
    case TUTTI__RECORD__BODY_ACK:
        json_object_set_new(o, "change", json_integer((json_int_t)rec->ack->change));
        json_object_set_new(o, "room", json_string(rec->actor));
        break;
    case TUTTI__RECORD__BODY_PRESENCE: {
        json_t *in = json_array(), *out = json_array();
        for (size_t i = 0; i < rec->presence->n_in; i++)
            json_array_append_new(in, json_string(rec->presence->in[i]));
        for (size_t i = 0; i < rec->presence->n_out; i++)
            json_array_append_new(out, json_string(rec->presence->out[i]));
        json_object_set_new(o, "room", json_string(rec->presence->room));
        json_object_set_new(o, "in", in);
        json_object_set_new(o, "out", out);
        break;
    }
    case TUTTI__RECORD__BODY_CALL_EVENT:
        json_object_set_new(o, "action", json_string(rec->call_event->action));
        if (rec->call_event->rules_name && rec->call_event->rules_name[0])
            json_object_set_new(o, "rules", json_string(rec->call_event->rules_name));
        break;
    case TUTTI__RECORD__BODY_SIGNER: {
        char hex[2 * TT_SIGN_PK_LEN + 1] = "";
        if (rec->signer->public_key.len == TT_SIGN_PK_LEN)
            tt_hex_encode(rec->signer->public_key.data, TT_SIGN_PK_LEN, hex);
        json_object_set_new(o, "name", json_string(rec->signer->name));
        json_object_set_new(o, "signing_key", json_string(hex));
        break;
    }
    case TUTTI__RECORD__BODY_STANDBY_EVENT: {
        const Tutti__StandbyEvent *e = rec->standby_event;
        const char *k = e->kind == TUTTI__STANDBY_EVENT__KIND__STANDBY_SYNCED      ? "synced"
                        : e->kind == TUTTI__STANDBY_EVENT__KIND__STANDBY_ALONE     ? "alone"
                        : e->kind == TUTTI__STANDBY_EVENT__KIND__STANDBY_TOOK_OVER ? "took_over"
                                                                                   : "unknown";
        json_object_set_new(o, "state", json_string(k));
        json_object_set_new(o, "peer", json_string(e->peer));
        json_object_set_new(o, "peer_endpoint", json_string(e->peer_endpoint));
        json_object_set_new(o, "acked_seq", json_integer((json_int_t)e->acked_seq));
        break;
    }
    case TUTTI__RECORD__BODY_MEDIA: {
        const Tutti__Media *m = rec->media;
        char hex[2 * TT_HASH_LEN + 1] = "";
        if (m->hash.len == TT_HASH_LEN)
            tt_hex_encode(m->hash.data, TT_HASH_LEN, hex);
        json_object_set_new(o, "cue", json_string(m->cue));
        json_object_set_new(o, "take", json_integer(m->take));
        json_object_set_new(o, "room", json_string(m->room));
        json_object_set_new(o, "input", json_string(m->input));
        json_object_set_new(o, "file", json_string(m->file));
        json_object_set_new(o, "size", json_integer((json_int_t)m->size));
        json_object_set_new(o, "hash", json_string(hex));
        json_object_set_new(o, "rate", json_integer(m->rate));
        json_object_set_new(o, "time_reference", json_integer((json_int_t)m->time_reference));
        if (m->punch_in_bar) {
            json_object_set_new(o, "punch_in_bar", json_integer(m->punch_in_bar));
            json_object_set_new(o, "punch_out_bar", json_integer(m->punch_out_bar));
        }
        if (m->kind != TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE)
            media_put_json(o, m);
        break;
    }
    case TUTTI__RECORD__BODY_ROLL:
        json_object_set_new(o, "take", json_integer(rec->roll->take));
        if (rec->roll->punch_in_bar) {
            json_object_set_new(o, "punch_in_bar", json_integer(rec->roll->punch_in_bar));
            json_object_set_new(o, "punch_out_bar", json_integer(rec->roll->punch_out_bar));
        }
        json_t *on = json_array(), *ex = json_array();
        for (size_t i = 0; i < rec->roll->n_rooms_online; i++)
            json_array_append_new(on, json_string(rec->roll->rooms_online[i]));
        for (size_t i = 0; i < rec->roll->n_rooms_expected; i++)
            json_array_append_new(ex, json_string(rec->roll->rooms_expected[i]));
        json_object_set_new(o, "rooms_online", on);
        json_object_set_new(o, "rooms_expected", ex);
        if (rec->roll->forced) {
            json_t *na = json_array();
            for (size_t i = 0; i < rec->roll->n_not_acked; i++)
                json_array_append_new(na, json_string(rec->roll->not_acked[i]));
            json_object_set_new(o, "forced", json_true());
            json_object_set_new(o, "not_acked", na);
            json_t *pm = json_array();
            for (size_t i = 0; i < rec->roll->n_prelays_missing; i++)
                json_array_append_new(pm, json_string(rec->roll->prelays_missing[i]));
            json_object_set_new(o, "prelays_missing", pm);
        }
        json_object_set_new(o, "downbeat_session_ns", json_integer(rec->roll->downbeat_session_ns));
        json_object_set_new(o, "cue", json_string(rec->roll->cue));
        json_object_set_new(o, "tempo_version", json_integer(rec->roll->tempo_version));
        json_object_set_new(o, "from_bar", json_integer(rec->roll->from_bar));
        json_object_set_new(o, "start_session_ns", json_integer(rec->roll->start_session_ns));
        break;
    case TUTTI__RECORD__BODY_STOP:
        json_object_set_new(o, "take", json_integer(rec->stop->take));
        json_object_set_new(o, "cue", json_string(rec->stop->cue));
        json_object_set_new(o, "at_session_ns", json_integer(rec->stop->at_session_ns));
        break;
    case TUTTI__RECORD__BODY_TRIM:
        json_object_set_new(o, "room", json_string(rec->trim->room));
        json_object_set_new(o, "trim_us", json_real((double)rec->trim->trim_ns / 1000.0));
        break;
    default: break;
    }
    return o;
}

/* ---------------------------------------------------------------- summary */

void tt_record_summary(const Tutti__Record *rec, char *out, size_t cap)
{
    switch (rec->body_case) {
    case TUTTI__RECORD__BODY_ROLL:
        snprintf(out, cap, "%s take %u rolled from bar %d%s at session %.3f s", rec->roll->cue,
                 rec->roll->take, rec->roll->from_bar, rec->roll->forced ? " (forced)" : "",
                 (double)rec->roll->start_session_ns / 1e9);
        break;
    case TUTTI__RECORD__BODY_STOP:
        snprintf(out, cap, "%s take %u stopped", rec->stop->cue, rec->stop->take);
        break;
    case TUTTI__RECORD__BODY_ARM: snprintf(out, cap, "%s armed", rec->arm->cue); break;
    case TUTTI__RECORD__BODY_TAKE_RATE:
        snprintf(out, cap, "%s take %u: %s%s%.200s", rec->take_rate->cue, rec->take_rate->take,
                 rec->take_rate->rating, rec->take_rate->note[0] ? " — " : "",
                 rec->take_rate->note);
        break;
    case TUTTI__RECORD__BODY_TAKE_NOTE:
        snprintf(out, cap, "%s take %u note: %.200s", rec->take_note->cue, rec->take_note->take,
                 rec->take_note->text);
        break;
    case TUTTI__RECORD__BODY_CHANGE:
        snprintf(out, cap, "change %llu on %s: %.200s", (unsigned long long)rec->seq,
                 rec->change->cue, rec->change->text);
        break;
    case TUTTI__RECORD__BODY_ACK:
        snprintf(out, cap, "%s acked change %llu", rec->actor,
                 (unsigned long long)rec->ack->change);
        break;
    case TUTTI__RECORD__BODY_PRESENCE: {
        size_t used = (size_t)snprintf(out, cap, "%s:", rec->presence->room);
        for (size_t i = 0; i < rec->presence->n_in && used < cap; i++)
            used += (size_t)snprintf(out + used, cap - used, " +%s", rec->presence->in[i]);
        for (size_t i = 0; i < rec->presence->n_out && used < cap; i++)
            used += (size_t)snprintf(out + used, cap - used, " -%s", rec->presence->out[i]);
        break;
    }
    case TUTTI__RECORD__BODY_SIGNER:
        snprintf(out, cap, "signer %s named", rec->signer->name);
        break;
    case TUTTI__RECORD__BODY_STANDBY_EVENT:
        snprintf(out, cap, "standby %s: %s (acked %llu)", rec->standby_event->peer,
                 rec->standby_event->kind == TUTTI__STANDBY_EVENT__KIND__STANDBY_SYNCED ? "synced"
                 : rec->standby_event->kind == TUTTI__STANDBY_EVENT__KIND__STANDBY_ALONE
                     ? "running alone"
                     : "took over",
                 (unsigned long long)rec->standby_event->acked_seq);
        break;
    case TUTTI__RECORD__BODY_CALL_EVENT:
        snprintf(out, cap, "call %s%s%s", rec->call_event->action,
                 rec->call_event->rules_name[0] ? " " : "", rec->call_event->rules_name);
        break;
    case TUTTI__RECORD__BODY_MEDIA:
        if (rec->media->kind != TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE)
            snprintf(out, cap, "%s %s %.64s put", rec->media->cue,
                     rec->media->kind == TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE ? "guide" : "prelay",
                     rec->media->name);
        else
            snprintf(out, cap, "%s take %u: %s/%s file arrived", rec->media->cue, rec->media->take,
                     rec->media->room, rec->media->input);
        break;
    case TUTTI__RECORD__BODY_NOTE: snprintf(out, cap, "%s", rec->note->text); break;
    case TUTTI__RECORD__BODY_TEMPO_LOAD:
        snprintf(out, cap, "%s tempo map v%u from %.200s", rec->tempo_load->cue,
                 rec->tempo_load->version, rec->tempo_load->source);
        break;
    case TUTTI__RECORD__BODY_GENESIS:
        snprintf(out, cap, "session %.200s", rec->genesis->session_name);
        break;
    case TUTTI__RECORD__BODY_TAKE_INTERRUPTED:
        snprintf(out, cap, "%s take %u interrupted (coordinator restarted)",
                 rec->take_interrupted->cue, rec->take_interrupted->take);
        break;
    case TUTTI__RECORD__BODY_TRIM:
        snprintf(out, cap, "%s clock trim %+.1f us", rec->trim->room,
                 (double)rec->trim->trim_ns / 1000.0);
        break;
    case TUTTI__RECORD__BODY_CUE_ADD: snprintf(out, cap, "cue %s added", rec->cue_add->cue); break;
    default: out[0] = '\0';
    }
}
