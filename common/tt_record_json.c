#include "tt_record_json.h"
#include "tt_time.h"

static const char hexdigits[] = "0123456789abcdef";

void tt_hex(const uint8_t *data, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[data[i] >> 4];
        out[2 * i + 1] = hexdigits[data[i] & 15];
    }
    out[2 * n] = '\0';
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
    if (hash) {
        char hex[2 * TT_HASH_LEN + 1];
        tt_hex(hash, TT_HASH_LEN, hex);
        json_object_set_new(o, "hash", json_string(hex));
    }
    switch (rec->body_case) {
    case TUTTI__RECORD__BODY_GENESIS: {
        char hex[2 * TT_SIGN_PK_LEN + 1] = "";
        if (rec->genesis->signing_public_key.len == TT_SIGN_PK_LEN)
            tt_hex(rec->genesis->signing_public_key.data, TT_SIGN_PK_LEN, hex);
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
    case TUTTI__RECORD__BODY_ROLL:
        json_object_set_new(o, "take", json_integer(rec->roll->take));
        if (rec->roll->forced) {
            json_t *na = json_array();
            for (size_t i = 0; i < rec->roll->n_not_acked; i++)
                json_array_append_new(na, json_string(rec->roll->not_acked[i]));
            json_object_set_new(o, "forced", json_true());
            json_object_set_new(o, "not_acked", na);
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
