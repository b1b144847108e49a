/* tt_session: the fold and the request rules. See tt_session.h. */
#include "tt_session.h"
#include "tt_error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tt_session_init(tt_session_t *s)
{
    memset(s, 0, sizeof *s);
}

void tt_session_clear(tt_session_t *s)
{
    for (size_t i = 0; i < s->n_changes; i++) {
        free(s->changes[i].text);
        for (size_t k = 0; k < s->changes[i].n_acked; k++)
            free(s->changes[i].acked[k]);
        free(s->changes[i].acked);
    }
    free(s->changes);
    free(s->players);
    free(s->stays);
    free(s->call_events);
    for (size_t i = 0; i < s->n_cues; i++) {
        free(s->cues[i].map_text);
        free(s->cues[i].takes);
    }
    free(s->cues);
    tt_media_index_clear(&s->media);
    tt_idem_destroy(&s->keys);
    tt_session_init(s);
}

const tt_session_cue_t *tt_session_find_cue(const tt_session_t *s, const char *name)
{
    for (size_t i = 0; i < s->n_cues; i++)
        if (strcmp(s->cues[i].name, name) == 0)
            return &s->cues[i];
    return NULL;
}

/* The cue named, added when absent. NULL with why when there is no room. */
static tt_session_cue_t *cue_for(tt_session_t *s, const Tutti__Record *rec, const char *name,
                                 char *why)
{
    tt_session_cue_t *cue = (tt_session_cue_t *)tt_session_find_cue(s, name);
    if (!cue) {
        if (s->n_cues == TT_SESSION_MAX_CUES || strlen(name) > TT_CUE_MAX_NAME) {
            tt_fail(why, TT_ERR_INVALID, "record %llu: no room for cue '%s'",
                    (unsigned long long)rec->seq, name);
            return NULL;
        }
        if (s->n_cues == s->cap_cues) {
            size_t cap = s->cap_cues ? 2 * s->cap_cues : 16;
            tt_session_cue_t *grown = realloc(s->cues, cap * sizeof *grown);
            if (!grown) {
                tt_fail(why, TT_ERR_NOMEM, "growing the cue list");
                return NULL;
            }
            s->cues = grown;
            s->cap_cues = cap;
        }
        cue = &s->cues[s->n_cues++];
        memset(cue, 0, sizeof *cue);
        snprintf(cue->name, sizeof cue->name, "%s", name);
    }
    return cue;
}

static tt_session_take_t *find_take(tt_session_cue_t *cue, uint32_t number)
{
    for (size_t i = 0; cue && i < cue->n_takes; i++)
        if (cue->takes[i].number == number)
            return &cue->takes[i];
    return NULL;
}

/* "a+b+c" into out, cut at a name boundary when it does not fit. */
static void join_names(char *out, size_t cap, char **names, size_t n)
{
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]) + (i ? 1 : 0);
        if (used + len + 1 > cap)
            break;
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "+" : "", names[i]);
    }
}

static int apply_roll(tt_session_t *s, const Tutti__Record *rec, char *why)
{
    const Tutti__Roll *r = rec->roll;
    tt_session_cue_t *cue = cue_for(s, rec, r->cue, why);
    if (!cue)
        return TT_ERR_INVALID;
    if (r->take) {
        if (cue->n_takes == cue->cap_takes) {
            size_t cap = cue->cap_takes ? 2 * cue->cap_takes : 8;
            tt_session_take_t *grown = realloc(cue->takes, cap * sizeof *grown);
            if (!grown)
                return tt_fail(why, TT_ERR_NOMEM, "growing the take list of %s", r->cue);
            cue->takes = grown;
            cue->cap_takes = cap;
        }
        cue->takes[cue->n_takes++] = (tt_session_take_t){
            .number = r->take,
            .state = TT_TAKE_OPEN,
            .from_bar = r->from_bar,
            .tempo_version = r->tempo_version,
            .start_session_ns = r->start_session_ns,
            .downbeat_session_ns = r->downbeat_session_ns,
            .start_frame = r->start_frame,
            .roll_seq = rec->seq,
            .forced = r->forced,
        };
        tt_session_take_t *tk = &cue->takes[cue->n_takes - 1];
        tk->roll_unix_ns = rec->at_unix_ns;
        tk->punch_in_bar = r->punch_in_bar;
        tk->punch_out_bar = r->punch_out_bar;
        join_names(tk->rooms_online, sizeof tk->rooms_online, r->rooms_online, r->n_rooms_online);
        if (r->capturing_listed)
            join_names(tk->rooms_capturing, sizeof tk->rooms_capturing, r->rooms_capturing,
                       r->n_rooms_capturing);
        else
            snprintf(tk->rooms_capturing, sizeof tk->rooms_capturing, "%s", tk->rooms_online);
        join_names(tk->not_acked, sizeof tk->not_acked, r->not_acked, r->n_not_acked);
    }
    tt_transport_t *t = &s->transport;
    t->phase = TT_PHASE_ROLLED;
    t->rolled = 1;
    snprintf(t->cue, sizeof t->cue, "%s", r->cue);
    t->tempo_version = r->tempo_version;
    t->from_bar = r->from_bar;
    t->start_session_ns = r->start_session_ns;
    t->downbeat_session_ns = r->downbeat_session_ns;
    t->stop_session_ns = INT64_MAX;
    t->roll_seq = rec->seq;
    t->take = r->take;
    return 0;
}

/* A stop or an interruption closes the take and ends the roll at `at`. */
static void close_take(tt_session_t *s, const char *cue_name, uint32_t take, int64_t at,
                       tt_take_state_t how)
{
    tt_session_take_t *tk = find_take((tt_session_cue_t *)tt_session_find_cue(s, cue_name), take);
    if (tk && tk->state == TT_TAKE_OPEN) {
        tk->state = how;
        tk->end_session_ns = at;
    }
    s->transport.stop_session_ns = at;
}

static tt_session_change_t *find_change(const tt_session_t *s, uint64_t id)
{
    for (size_t i = 0; i < s->n_changes; i++)
        if (s->changes[i].id == id)
            return &s->changes[i];
    return NULL;
}

static int apply_change(tt_session_t *s, const Tutti__Record *rec, char *why)
{
    if (s->n_changes == TT_SESSION_MAX_CHANGES)
        return tt_fail(why, TT_ERR_INVALID, "record %llu: more than %d changes",
                       (unsigned long long)rec->seq, TT_SESSION_MAX_CHANGES);
    if (s->n_changes == s->cap_changes) {
        size_t cap = s->cap_changes ? 2 * s->cap_changes : 16;
        tt_session_change_t *grown = realloc(s->changes, cap * sizeof *grown);
        if (!grown)
            return tt_fail(why, TT_ERR_NOMEM, "growing the change list");
        s->changes = grown;
        s->cap_changes = cap;
    }
    tt_session_change_t *c = &s->changes[s->n_changes];
    memset(c, 0, sizeof *c);
    c->id = rec->seq;
    snprintf(c->cue, sizeof c->cue, "%s", rec->change->cue);
    c->text = strdup(rec->change->text);
    if (!c->text)
        return tt_fail(why, TT_ERR_NOMEM, "copying change %llu", (unsigned long long)rec->seq);
    s->n_changes++;
    return 0;
}

static int apply_ack(tt_session_t *s, const Tutti__Record *rec, char *why)
{
    tt_session_change_t *c = find_change(s, rec->ack->change);
    if (!c || tt_session_acked(c, rec->actor))
        return 0; /* a replica folds what the coordinator accepted; nothing to add */
    char **grown = realloc(c->acked, (c->n_acked + 1) * sizeof *grown);
    char *name = strdup(rec->actor);
    if (!grown || !name) {
        free(name);
        if (grown)
            c->acked = grown;
        return tt_fail(why, TT_ERR_NOMEM, "recording an ack");
    }
    c->acked = grown;
    c->acked[c->n_acked++] = name;
    return 0;
}

int tt_session_present(const tt_session_t *s, const char *room, const char *player)
{
    for (size_t i = 0; i < s->n_players; i++)
        if (!strcmp(s->players[i].room, room) && !strcmp(s->players[i].name, player))
            return 1;
    return 0;
}

/* The open stay of player in room (the latest), or NULL. */
static tt_session_stay_t *open_stay(tt_session_t *s, const char *room, const char *player)
{
    for (size_t i = s->n_stays; i-- > 0;)
        if (!s->stays[i].out_seq && !strcmp(s->stays[i].room, room) &&
            !strcmp(s->stays[i].name, player))
            return &s->stays[i];
    return NULL;
}

static int apply_presence(tt_session_t *s, const Tutti__Record *rec, char *why)
{
    const Tutti__Presence *p = rec->presence;
    for (size_t k = 0; k < p->n_out; k++)
        for (size_t i = 0; i < s->n_players; i++)
            if (!strcmp(s->players[i].room, p->room) && !strcmp(s->players[i].name, p->out[k])) {
                tt_session_stay_t *st = open_stay(s, s->players[i].room, s->players[i].name);
                if (st) {
                    st->out_seq = rec->seq;
                    st->out_unix_ns = rec->at_unix_ns;
                }
                s->players[i] = s->players[--s->n_players];
                break;
            }
    for (size_t k = 0; k < p->n_in; k++) {
        if (tt_session_present(s, p->room, p->in[k]))
            continue;
        if (s->n_players == TT_SESSION_MAX_PLAYERS)
            return tt_fail(why, TT_ERR_INVALID, "record %llu: more than %d players",
                           (unsigned long long)rec->seq, TT_SESSION_MAX_PLAYERS);
        if (s->n_stays == s->cap_stays) {
            size_t cap = s->cap_stays ? 2 * s->cap_stays : 16;
            tt_session_stay_t *grown = realloc(s->stays, cap * sizeof *grown);
            if (!grown)
                return tt_fail(why, TT_ERR_NOMEM, "growing the attendance");
            s->stays = grown;
            s->cap_stays = cap;
        }
        if (s->n_players == s->cap_players) {
            size_t cap = s->cap_players ? 2 * s->cap_players : 16;
            tt_session_player_t *grown = realloc(s->players, cap * sizeof *grown);
            if (!grown)
                return tt_fail(why, TT_ERR_NOMEM, "growing the player list");
            s->players = grown;
            s->cap_players = cap;
        }
        tt_session_player_t *pl = &s->players[s->n_players++];
        snprintf(pl->room, sizeof pl->room, "%s", p->room);
        snprintf(pl->name, sizeof pl->name, "%s", p->in[k]);
        tt_session_stay_t *st = &s->stays[s->n_stays++];
        memset(st, 0, sizeof *st);
        snprintf(st->room, sizeof st->room, "%s", pl->room);
        snprintf(st->name, sizeof st->name, "%s", pl->name);
        st->in_seq = rec->seq;
        st->in_unix_ns = rec->at_unix_ns;
    }
    return 0;
}

static int apply_tempo_load(tt_session_t *s, const Tutti__Record *rec, char *why)
{
    const Tutti__TempoLoad *tl = rec->tempo_load;
    tt_session_cue_t *cue = cue_for(s, rec, tl->cue, why);
    if (!cue)
        return TT_ERR_INVALID;
    char *text = strdup(tl->map_text);
    if (!text)
        return tt_fail(why, TT_ERR_NOMEM, "copying the tempo map of %s", tl->cue);
    free(cue->map_text);
    cue->map_text = text;
    cue->tempo_version = tl->version;
    return 0;
}

static int apply_media(tt_session_t *s, const Tutti__Record *rec, char *why)
{
    const Tutti__Media *m = rec->media;
    tt_session_cue_t *cue = (tt_session_cue_t *)tt_session_find_cue(s, m->cue);
    if (m->kind != TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE) { /* a prelay or guide: no take */
        if (!cue)
            return tt_fail(why, TT_ERR_INVALID, "%s record %llu for unknown cue %s",
                           tt_media_kind_name((int)m->kind), (unsigned long long)rec->seq, m->cue);
    } else if (!find_take(cue, m->take))
        return tt_fail(why, TT_ERR_INVALID, "media record %llu for unknown take %s/%u",
                       (unsigned long long)rec->seq, m->cue, m->take);
    if (tt_media_index_add(&s->media, rec) != 0)
        return tt_fail(why, TT_ERR_NOMEM, "indexing media record %llu",
                       (unsigned long long)rec->seq);
    return 0;
}

static int apply_call(tt_session_t *s, const Tutti__Record *rec, char *why)
{
    const Tutti__CallEvent *e = rec->call_event;
    tt_rules_t rules;
    int rc = tt_session_check_call(s, e->action, e->rules_text, &rules, why);
    if (rc != 0)
        return rc;
    if (s->n_call_events == s->cap_call_events) {
        size_t cap = s->cap_call_events ? 2 * s->cap_call_events : 16;
        tt_session_call_event_t *grown = realloc(s->call_events, cap * sizeof *grown);
        if (!grown)
            return tt_fail(why, TT_ERR_NOMEM, "growing the call history");
        s->call_events = grown;
        s->cap_call_events = cap;
    }
    rc = tt_call_apply(&s->call, e->action, &rules, rec->at_unix_ns, why);
    if (rc != 0)
        return rc;
    tt_session_call_event_t *ev = &s->call_events[s->n_call_events++];
    memset(ev, 0, sizeof *ev);
    ev->seq = rec->seq;
    ev->at_unix_ns = rec->at_unix_ns;
    snprintf(ev->action, sizeof ev->action, "%s", e->action);
    if (!strcmp(e->action, "start"))
        ev->rules = rules;
    return 0;
}

int tt_session_check_call(const tt_session_t *s, const char *action, const char *rules_text,
                          tt_rules_t *rules, char *why)
{
    tt_rules_t parsed;
    memset(&parsed, 0, sizeof parsed);
    int rc = tt_call_check(&s->call, action, why);
    if (rc != 0)
        return rc;
    if (!strcmp(action, "start")) {
        if (!rules_text || !rules_text[0])
            return tt_fail(why, TT_ERR_INVALID, "starting a call needs its rules");
        rc = tt_rules_parse(rules_text, &parsed, why);
        if (rc != 0)
            return rc;
    }
    if (rules)
        *rules = parsed;
    return 0;
}

/* A key of another length is not one this build knows: the record still
 * folds, its key is not remembered. */
static int remember_key(tt_session_t *s, const Tutti__Record *rec, char *why)
{
    if (rec->idempotency_key.len != TT_SESSION_KEY_LEN)
        return 0;
    if (!s->keys && !(s->keys = tt_idem_new(TT_SESSION_KEY_WINDOW, why)))
        return TT_ERR_NOMEM;
    tt_idem_add(s->keys, rec->idempotency_key.data, rec->seq, (int)rec->body_case);
    return 0;
}

uint64_t tt_session_find_key(const tt_session_t *s, const ProtobufCBinaryData *key,
                             Tutti__Record__BodyCase *kind)
{
    int k = 0;
    uint64_t seq =
        s->keys && key->len == TT_SESSION_KEY_LEN ? tt_idem_find(s->keys, key->data, &k) : 0;
    if (kind)
        *kind = seq ? (Tutti__Record__BodyCase)k : TUTTI__RECORD__BODY__NOT_SET;
    return seq;
}

int tt_session_apply(tt_session_t *s, const Tutti__Record *rec, const uint8_t hash[TT_HASH_LEN],
                     char *why)
{
    if (rec->seq != s->last_seq + 1)
        return tt_fail(why, TT_ERR_INVALID, "record %llu applied after %llu",
                       (unsigned long long)rec->seq, (unsigned long long)s->last_seq);
    switch (rec->body_case) {
    case TUTTI__RECORD__BODY_GENESIS:
        if (rec->seq != 1 || rec->genesis->signing_public_key.len != TT_SIGN_PK_LEN)
            return tt_fail(why, TT_ERR_INVALID, "genesis record at %llu",
                           (unsigned long long)rec->seq);
        memcpy(s->signing_pk, rec->genesis->signing_public_key.data, TT_SIGN_PK_LEN);
        tt_chain_keys_init(&s->signers, s->signing_pk);
        snprintf(s->session_name, sizeof s->session_name, "%s",
                 rec->genesis->session_name ? rec->genesis->session_name : "");
        s->created_unix_ns = rec->at_unix_ns;
        break;
    case TUTTI__RECORD__BODY_NOTE:
        s->notes++;
        s->last_note_unix_ns = rec->at_unix_ns;
        break;
    case TUTTI__RECORD__BODY_TEMPO_LOAD: {
        int rc = apply_tempo_load(s, rec, why);
        if (rc != 0)
            return rc;
        break;
    }
    case TUTTI__RECORD__BODY_ROLL: {
        int rc = apply_roll(s, rec, why);
        if (rc != 0)
            return rc;
        break;
    }
    case TUTTI__RECORD__BODY_STOP:
        close_take(s, rec->stop->cue, rec->stop->take, rec->stop->at_session_ns, TT_TAKE_DONE);
        break;
    case TUTTI__RECORD__BODY_TAKE_INTERRUPTED:
        close_take(s, rec->take_interrupted->cue, rec->take_interrupted->take,
                   rec->take_interrupted->at_session_ns, TT_TAKE_INTERRUPTED);
        break;
    case TUTTI__RECORD__BODY_CALL_EVENT: {
        int rc = apply_call(s, rec, why);
        if (rc != 0)
            return rc;
        break;
    }
    case TUTTI__RECORD__BODY_SIGNER:
        /* The chain checked it (32 bytes, room for it): keep the set it keeps. */
        if (rec->signer->public_key.len != TT_SIGN_PK_LEN ||
            tt_chain_keys_add(&s->signers, rec->signer->public_key.data) != 0)
            return tt_fail(why, TT_ERR_INVALID, "signer record %llu: malformed or one too many",
                           (unsigned long long)rec->seq);
        break;
    case TUTTI__RECORD__BODY_MEDIA: {
        int rc = apply_media(s, rec, why);
        if (rc != 0)
            return rc;
        break;
    }
    case TUTTI__RECORD__BODY_PRESENCE: {
        int rc = apply_presence(s, rec, why);
        if (rc != 0)
            return rc;
        break;
    }
    case TUTTI__RECORD__BODY_CHANGE: {
        int rc = apply_change(s, rec, why);
        if (rc != 0)
            return rc;
        break;
    }
    case TUTTI__RECORD__BODY_ACK: {
        int rc = apply_ack(s, rec, why);
        if (rc != 0)
            return rc;
        break;
    }
    case TUTTI__RECORD__BODY_TAKE_RATE: {
        tt_session_take_t *tk = find_take(
            (tt_session_cue_t *)tt_session_find_cue(s, rec->take_rate->cue), rec->take_rate->take);
        if (tk) {
            snprintf(tk->rating, sizeof tk->rating, "%s", rec->take_rate->rating);
            if (rec->take_rate->note && rec->take_rate->note[0]) {
                tk->notes++;
                tk->last_note_seq = rec->seq;
                tt_utf8_copy(tk->last_note, sizeof tk->last_note, rec->take_rate->note);
            }
        }
        break;
    }
    case TUTTI__RECORD__BODY_TAKE_NOTE: {
        tt_session_take_t *tk = find_take(
            (tt_session_cue_t *)tt_session_find_cue(s, rec->take_note->cue), rec->take_note->take);
        if (tk) {
            tk->notes++;
            tk->last_note_seq = rec->seq;
            tt_utf8_copy(tk->last_note, sizeof tk->last_note, rec->take_note->text);
        }
        break;
    }
    case TUTTI__RECORD__BODY_CUE_ADD: {
        tt_session_cue_t *cue = cue_for(s, rec, rec->cue_add->cue, why);
        if (!cue)
            return TT_ERR_INVALID;
        snprintf(cue->title, sizeof cue->title, "%s", rec->cue_add->title);
        break;
    }
    case TUTTI__RECORD__BODY_ARM:
        s->transport.phase = TT_PHASE_ARMED;
        s->transport.rolled = 0;
        snprintf(s->transport.cue, sizeof s->transport.cue, "%s", rec->arm->cue);
        break;
    case TUTTI__RECORD__BODY_TRIM: {
        const char *room = rec->trim->room;
        size_t i = 0;
        while (i < s->n_trims && strcmp(s->trims[i].room, room) != 0)
            i++;
        if (i == s->n_trims) {
            if (s->n_trims == TT_SESSION_MAX_ROOMS || strlen(room) > TT_ACCESS_MAX_NAME)
                return tt_fail(why, TT_ERR_INVALID, "trim record %llu: no room for '%s'",
                               (unsigned long long)rec->seq, room);
            snprintf(s->trims[i].room, sizeof s->trims[i].room, "%s", room);
            s->n_trims++;
        }
        s->trims[i].trim_ns = rec->trim->trim_ns;
        break;
    }
    default:
        /* A record kind this build does not know: newer coordinator. Its
         * sequence still counts; its meaning is skipped. */
        break;
    }
    int rc = remember_key(s, rec, why);
    if (rc != 0)
        return rc;
    s->last_seq = rec->seq;
    memcpy(s->head_hash, hash, TT_HASH_LEN);
    return 0;
}

static const char *request_name(tt_request_t r)
{
    switch (r) {
    case TT_REQ_HELLO: return "hello";
    case TT_REQ_HEARTBEAT: return "heartbeat";
    case TT_REQ_STATUS: return "status";
    case TT_REQ_FETCH: return "history";
    case TT_REQ_NOTE: return "note";
    case TT_REQ_TRIM: return "trim";
    case TT_REQ_TEMPO_LOAD: return "tempo load";
    case TT_REQ_ROLL: return "roll";
    case TT_REQ_STOP: return "stop";
    case TT_REQ_CUE_ADD: return "cue add";
    case TT_REQ_ARM: return "arm";
    case TT_REQ_TAKE_RATE: return "take rate";
    case TT_REQ_TAKE_NOTE: return "take note";
    case TT_REQ_CHANGE: return "change";
    case TT_REQ_ACK: return "ack";
    case TT_REQ_PRESENCE: return "presence";
    case TT_REQ_CALL: return "call";
    }
    return "request";
}

int tt_session_may(tt_role_t role, tt_request_t request, char *why)
{
    int ok;
    switch (request) {
    case TT_REQ_HELLO:
    case TT_REQ_HEARTBEAT:
    case TT_REQ_STATUS:
    case TT_REQ_FETCH:
        ok = role != TT_ROLE_NONE; /* everyone admitted may read */
        break;
    case TT_REQ_NOTE:
    case TT_REQ_TRIM:
    case TT_REQ_TEMPO_LOAD:
    case TT_REQ_ROLL:
    case TT_REQ_STOP:
    case TT_REQ_CUE_ADD:
    case TT_REQ_ARM:
    case TT_REQ_TAKE_RATE:
    case TT_REQ_TAKE_NOTE:
    case TT_REQ_CHANGE: ok = role == TT_ROLE_OPERATOR; break;
    case TT_REQ_ACK: ok = role == TT_ROLE_ROOM; break; /* a room acks for itself */
    case TT_REQ_PRESENCE:
        ok = role != TT_ROLE_NONE && role != TT_ROLE_OBSERVER && role != TT_ROLE_COORDINATOR &&
             role != TT_ROLE_RELAY;
        break;
    case TT_REQ_CALL: ok = role == TT_ROLE_OPERATOR || role == TT_ROLE_CONTRACTOR; break;
    default: ok = 0;
    }
    if (ok)
        return 0;
    return tt_fail(why, TT_ERR_DENIED, "role %s may not send %s requests", tt_role_name(role),
                   request_name(request));
}

int tt_session_check_note(const tt_session_t *s, const char *text, char *why)
{
    (void)s;
    size_t n = text ? strlen(text) : 0;
    if (n == 0)
        return tt_fail(why, TT_ERR_INVALID, "a note needs text");
    if (n > TT_NOTE_MAX_TEXT)
        return tt_fail(why, TT_ERR_INVALID, "note of %zu bytes is over the %d-byte limit", n,
                       TT_NOTE_MAX_TEXT);
    if (!tt_utf8_valid(text, n))
        return tt_fail(why, TT_ERR_INVALID, "note text is not valid UTF-8");
    return 0;
}

int64_t tt_session_trim_ns(const tt_session_t *s, const char *room)
{
    for (size_t i = 0; i < s->n_trims; i++)
        if (strcmp(s->trims[i].room, room) == 0)
            return s->trims[i].trim_ns;
    return 0;
}

int tt_session_check_trim(const tt_session_t *s, const char *room, int is_room, int64_t trim_ns,
                          char *why)
{
    if (!room || !*room || !is_room)
        return tt_fail(why, TT_ERR_INVALID, "'%s' is not a room in the access file",
                       room ? room : "");
    if (trim_ns > TT_TRIM_MAX_NS || trim_ns < -TT_TRIM_MAX_NS)
        return tt_fail(why, TT_ERR_INVALID, "trim of %lld us is beyond +/-%lld us",
                       (long long)(trim_ns / 1000), (long long)(TT_TRIM_MAX_NS / 1000));
    int known = 0;
    for (size_t i = 0; i < s->n_trims; i++)
        known |= strcmp(s->trims[i].room, room) == 0;
    if (!known && s->n_trims == TT_SESSION_MAX_ROOMS)
        return tt_fail(why, TT_ERR_INVALID, "trims already set for %d rooms", TT_SESSION_MAX_ROOMS);
    return 0;
}

int tt_session_check_cue_name(const char *name, char *why)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > TT_CUE_MAX_NAME)
        return tt_fail(why, TT_ERR_INVALID, "a cue name has 1 to %d characters", TT_CUE_MAX_NAME);
    if (!tt_name_ok(name, TT_CUE_MAX_NAME, 0))
        return tt_fail(why, TT_ERR_INVALID, "cue name '%s': use letters, digits, '-', '_' or '.'",
                       name);
    return 0;
}

int tt_session_check_tempo_load(const tt_session_t *s, const char *cue, char *why)
{
    int rc = tt_session_check_cue_name(cue, why);
    if (rc != 0)
        return rc;
    if (!tt_session_find_cue(s, cue) && s->n_cues == TT_SESSION_MAX_CUES)
        return tt_fail(why, TT_ERR_INVALID, "the session already has %d cues", TT_SESSION_MAX_CUES);
    return 0;
}

int tt_session_rolling_at(const tt_session_t *s, int64_t t)
{
    const tt_transport_t *tr = &s->transport;
    return tr->rolled && t < tr->stop_session_ns;
}

const char *tt_session_transport_name(const tt_session_t *s, int64_t now)
{
    const tt_transport_t *t = &s->transport;
    switch (t->phase) {
    case TT_PHASE_IDLE: return "idle";
    case TT_PHASE_ARMED: return "armed";
    case TT_PHASE_ROLLED:
        if (now >= t->stop_session_ns)
            return "stopped";
        return now < t->downbeat_session_ns ? "count-in" : "rolling";
    }
    return "idle";
}

int tt_session_check_cue_add(const tt_session_t *s, const char *cue, const char *title, char *why)
{
    int rc = tt_session_check_cue_name(cue, why);
    if (rc != 0)
        return rc;
    const tt_session_cue_t *c = tt_session_find_cue(s, cue);
    if (c && c->title[0])
        return tt_fail(why, TT_ERR_INVALID, "cue %s already exists (\"%s\")", cue, c->title);
    if (title && strlen(title) > TT_CUE_MAX_TITLE)
        return tt_fail(why, TT_ERR_INVALID, "a cue title has at most %d bytes", TT_CUE_MAX_TITLE);
    if (title && !tt_utf8_valid(title, strlen(title)))
        return tt_fail(why, TT_ERR_INVALID, "cue title is not valid UTF-8");
    if (!c && s->n_cues == TT_SESSION_MAX_CUES)
        return tt_fail(why, TT_ERR_INVALID, "the session already has %d cues", TT_SESSION_MAX_CUES);
    return 0;
}

int tt_session_check_arm(const tt_session_t *s, const char *cue, int64_t now, char *why)
{
    if (!tt_session_find_cue(s, cue))
        return tt_fail(why, TT_ERR_INVALID, "no cue %s: tutti cue add %s (or tempo load)", cue,
                       cue);
    if (tt_session_rolling_at(s, now))
        return tt_fail(why, TT_ERR_INVALID,
                       "transport is %s (cue %s take %u): stop first; allowed now: stop",
                       tt_session_transport_name(s, now), s->transport.cue, s->transport.take);
    return 0;
}

uint32_t tt_session_next_take(const tt_session_t *s, const char *cue)
{
    const tt_session_cue_t *c = tt_session_find_cue(s, cue);
    uint32_t last = 0;
    for (size_t i = 0; c && i < c->n_takes; i++)
        if (c->takes[i].number > last)
            last = c->takes[i].number;
    return last + 1;
}

const tt_session_take_t *tt_session_open_take(const tt_session_t *s, const char **cue)
{
    for (size_t i = 0; i < s->n_cues; i++)
        for (size_t k = 0; k < s->cues[i].n_takes; k++)
            if (s->cues[i].takes[k].state == TT_TAKE_OPEN) {
                if (cue)
                    *cue = s->cues[i].name;
                return &s->cues[i].takes[k];
            }
    return NULL;
}

int tt_session_check_roll(const tt_session_t *s, const char *cue, int32_t from_bar,
                          int64_t now_session_ns, char *why)
{
    const char *state = tt_session_transport_name(s, now_session_ns);
    if (strcmp(state, "armed") != 0)
        return tt_fail(why, TT_ERR_INVALID, "transport is %s%s%s: %s", state,
                       s->transport.cue[0] ? " for " : "", s->transport.cue,
                       tt_session_rolling_at(s, now_session_ns)
                           ? "allowed now: stop"
                           : "allowed now: arm a cue (tutti arm CUE), then roll");
    if (strcmp(s->transport.cue, cue) != 0)
        return tt_fail(why, TT_ERR_INVALID, "transport is armed for %s, not %s: arm %s first",
                       s->transport.cue, cue, cue);
    const tt_session_cue_t *c = tt_session_find_cue(s, cue);
    if (!c || c->tempo_version == 0)
        return tt_fail(why, TT_ERR_INVALID, "cue %s has no tempo map: tutti tempo load %s FILE",
                       cue, cue);
    if (from_bar < 1 || from_bar > 100000)
        return tt_fail(why, TT_ERR_INVALID, "--from-bar %d is outside 1..100000", from_bar);
    return 0;
}

int tt_session_check_punch(int32_t from_bar, int32_t punch_in, int32_t punch_out, char *why)
{
    if (punch_in == 0 && punch_out == 0)
        return 0;
    if (punch_in < from_bar || punch_out <= punch_in || punch_out > 100000)
        return tt_fail(why, TT_ERR_INVALID,
                       "punch %d..%d: want from-bar (%d) <= punch-in < punch-out <= 100000",
                       punch_in, punch_out, from_bar);
    return 0;
}

int tt_session_check_stop(const tt_session_t *s, int64_t now_session_ns, char *why)
{
    if (!tt_session_rolling_at(s, now_session_ns))
        return tt_fail(why, TT_ERR_INVALID, "transport is %s: nothing is rolling",
                       tt_session_transport_name(s, now_session_ns));
    return 0;
}

static const tt_session_take_t *take_of(const tt_session_t *s, const char *cue, uint32_t take,
                                        char *why)
{
    const tt_session_take_t *tk =
        find_take((tt_session_cue_t *)tt_session_find_cue(s, cue ? cue : ""), take);
    if (!tk)
        tt_fail(why, TT_ERR_INVALID, "no take %u of cue %s", take, cue ? cue : "");
    return tk;
}

int tt_session_check_take_note(const tt_session_t *s, const char *cue, uint32_t take,
                               const char *text, char *why)
{
    if (!take_of(s, cue, take, why))
        return TT_ERR_INVALID;
    return tt_session_check_note(s, text, why);
}

int tt_session_check_take_rate(const tt_session_t *s, const char *cue, uint32_t take,
                               const char *rating, const char *note, char *why)
{
    if (!take_of(s, cue, take, why))
        return TT_ERR_INVALID;
    static const char *const ratings[] = {"circled", "hold", "ng", "false-start"};
    int known = 0;
    for (size_t i = 0; i < sizeof ratings / sizeof *ratings; i++)
        known |= rating && strcmp(rating, ratings[i]) == 0;
    if (!known)
        return tt_fail(why, TT_ERR_INVALID, "rating '%s': use circled, hold, ng or false-start",
                       rating ? rating : "");
    if (note && *note)
        return tt_session_check_note(s, note, why);
    return 0;
}

int tt_session_acked(const tt_session_change_t *c, const char *room)
{
    for (size_t i = 0; i < c->n_acked; i++)
        if (strcmp(c->acked[i], room) == 0)
            return 1;
    return 0;
}

size_t tt_session_not_acked(const tt_session_change_t *c, const char *const *rooms, size_t n_rooms,
                            const char **out)
{
    size_t n = 0;
    for (size_t r = 0; r < n_rooms; r++)
        if (!tt_session_acked(c, rooms[r]))
            out[n++] = rooms[r];
    return n;
}

int tt_session_roll_gate(const tt_session_t *s, const char *cue, const char *const *online,
                         size_t n_online, int force, tt_session_gate_t *gate, char *why)
{
    gate->n = 0;
    gate->missing[0] = '\0';
    for (size_t i = 0; i < s->n_changes; i++) {
        const tt_session_change_t *c = &s->changes[i];
        if (strcmp(c->cue, cue) != 0)
            continue;
        for (size_t r = 0; r < n_online; r++) {
            if (tt_session_acked(c, online[r]))
                continue;
            int listed = 0;
            for (size_t k = 0; k < gate->n; k++)
                listed |= strcmp(gate->rooms[k], online[r]) == 0;
            if (!listed && gate->n < TT_SESSION_GATE_MAX) {
                gate->rooms[gate->n++] = online[r];
                size_t used = strlen(gate->missing);
                snprintf(gate->missing + used, sizeof gate->missing - used, "%s%s (change %llu)",
                         used ? ", " : "", online[r], (unsigned long long)c->id);
            }
        }
    }
    if (gate->n == 0 || force)
        return 0;
    return tt_fail(why, TT_ERR_INVALID,
                   "not every room has seen the changes to %.32s: %.300s have not acked; "
                   "tutti ack CHANGE in those rooms, or roll --force",
                   cue, gate->missing);
}

int tt_session_check_change(const tt_session_t *s, const char *cue, const char *text,
                            const char *bars, const char *parts, char *why)
{
    if (!tt_session_find_cue(s, cue ? cue : ""))
        return tt_fail(why, TT_ERR_INVALID, "no cue %s", cue ? cue : "");
    int rc = tt_session_check_note(s, text, why);
    if (rc != 0)
        return rc;
    if (bars && *bars) {
        int a = 0, b = 0, n = 0;
        if (!((sscanf(bars, "%d-%d%n", &a, &b, &n) == 2 && bars[n] == '\0' && a >= 1 && b >= a) ||
              (sscanf(bars, "%d%n", &a, &n) == 1 && bars[n] == '\0' && a >= 1)))
            return tt_fail(why, TT_ERR_INVALID, "--bars '%s': use A or A-B with 1 <= A <= B", bars);
    }
    if (parts && (strlen(parts) > 256 || !tt_utf8_valid(parts, strlen(parts))))
        return tt_fail(why, TT_ERR_INVALID, "--parts: at most 256 bytes of UTF-8");
    if (s->n_changes == TT_SESSION_MAX_CHANGES)
        return tt_fail(why, TT_ERR_INVALID, "the session already has %d changes",
                       TT_SESSION_MAX_CHANGES);
    return 0;
}

int tt_session_check_ack(const tt_session_t *s, uint64_t id, const char *room, char *why)
{
    const tt_session_change_t *c = find_change(s, id);
    if (!c)
        return tt_fail(why, TT_ERR_INVALID, "no change %llu", (unsigned long long)id);
    if (tt_session_acked(c, room))
        return tt_fail(why, TT_ERR_INVALID, "%s has already acked change %llu", room,
                       (unsigned long long)id);
    return 0;
}

static int valid_player(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > TT_PLAYER_MAX_NAME || !tt_utf8_valid(n, len))
        return 0;
    for (const unsigned char *p = (const unsigned char *)n; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == ',')
            return 0;
    return 1;
}

int tt_session_check_presence(const tt_session_t *s, tt_role_t role, const char *caller,
                              const char *room, int is_room, char **in, size_t n_in, char **out,
                              size_t n_out, char *why)
{
    if (!is_room)
        return tt_fail(why, TT_ERR_INVALID, "'%s' is not a room in the access file",
                       room ? room : "");
    if (role == TT_ROLE_ROOM && strcmp(caller, room) != 0)
        return tt_fail(why, TT_ERR_DENIED, "room %s may report presence only for itself", caller);
    if (n_in + n_out == 0 || n_in + n_out > 256)
        return tt_fail(why, TT_ERR_INVALID, "a presence report names 1 to 256 players");
    for (size_t i = 0; i < n_in + n_out; i++) {
        const char *n = i < n_in ? in[i] : out[i - n_in];
        if (!valid_player(n))
            return tt_fail(why, TT_ERR_INVALID,
                           "player name '%.64s': 1..64 bytes, no commas or control characters", n);
    }
    if (s->n_players + n_in > TT_SESSION_MAX_PLAYERS)
        return tt_fail(why, TT_ERR_INVALID, "more than %d players", TT_SESSION_MAX_PLAYERS);
    return 0;
}

int tt_session_fold(void *session, const Tutti__Record *rec, const uint8_t hash[TT_HASH_LEN],
                    char *why)
{
    return tt_session_apply(session, rec, hash, why);
}

void tt_session_reset(void *session)
{
    tt_session_clear(session);
}
