/* tt_session_snap: the folded state as a SessionState. See tt_session_snap.h.
 *
 * Encoding borrows every string from the state and builds the messages in
 * arrays allocated up front (an arena freed in one go), so a failure leaves
 * nothing behind. Decoding checks every count and string against the
 * fold's limits before it copies anything into the state.
 */
#include "tt_session_snap.h"
#include "tt_error.h"
#include "tt_snapshot.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDEM_ENTRY 28 /* key 16, seq 8, kind 4 */

/* Tripwires (LP64): these sizes change when a field is added to what the
 * fold keeps. Then add it to encode, decode and diff below and raise
 * SNAPSHOT_FORMAT_CURRENT in tutti.proto, and only then the size here. */
#if defined(__LP64__)
_Static_assert(sizeof(tt_session_t) == 22440, "tt_session_t changed: see the comment above");
_Static_assert(sizeof(tt_session_take_t) == 1136, "tt_session_take_t changed");
_Static_assert(sizeof(tt_session_cue_t) == 200, "tt_session_cue_t changed");
_Static_assert(sizeof(tt_session_change_t) == 72, "tt_session_change_t changed");
_Static_assert(sizeof(tt_session_stay_t) == 168, "tt_session_stay_t changed");
_Static_assert(sizeof(tt_session_player_t) == 130, "tt_session_player_t changed");
_Static_assert(sizeof(tt_session_call_event_t) == 184, "tt_session_call_event_t changed");
_Static_assert(sizeof(tt_transport_t) == 96, "tt_transport_t changed");
_Static_assert(sizeof(tt_call_t) == 1208, "tt_call_t changed");
_Static_assert(sizeof(tt_rules_t) == 152, "tt_rules_t changed");
_Static_assert(sizeof(tt_media_entry_t) == 1552, "tt_media_entry_t changed");
#endif

/* ------------------------------------------------------------ encode */

typedef struct {
    void **ptrs;
    size_t n, cap;
    int failed;
} arena_t;

/* count zeroed items of size bytes, owned by the arena; NULL once any
 * allocation failed (check a->failed before using what it gave). */
static void *grab(arena_t *a, size_t count, size_t size)
{
    if (a->failed)
        return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 32;
        void **grown = realloc(a->ptrs, cap * sizeof *grown);
        if (!grown) {
            a->failed = 1;
            return NULL;
        }
        a->ptrs = grown;
        a->cap = cap;
    }
    void *p = calloc(count ? count : 1, size);
    if (!p) {
        a->failed = 1;
        return NULL;
    }
    a->ptrs[a->n++] = p;
    return p;
}

static void arena_free(arena_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->ptrs[i]);
    free(a->ptrs);
    memset(a, 0, sizeof *a);
}

static void rules_to(const tt_rules_t *r, Tutti__StateRules *m)
{
    tutti__state_rules__init(m);
    m->id = (char *)r->id;
    m->title = (char *)r->title;
    m->call_minutes = r->call_minutes;
    m->break_after_minutes = r->break_after_minutes;
    m->break_minutes = r->break_minutes;
    m->breaks_per_call = r->breaks_per_call;
    m->overtime_unit_minutes = r->overtime_unit_minutes;
    m->amber_minutes = r->amber_minutes;
}

static void take_to(const tt_session_take_t *t, Tutti__StateTake *m)
{
    tutti__state_take__init(m);
    m->number = t->number;
    m->state = (uint32_t)t->state;
    m->from_bar = t->from_bar;
    m->tempo_version = t->tempo_version;
    m->start_session_ns = t->start_session_ns;
    m->downbeat_session_ns = t->downbeat_session_ns;
    m->end_session_ns = t->end_session_ns;
    m->start_frame = t->start_frame;
    m->roll_seq = t->roll_seq;
    m->rating = (char *)t->rating;
    m->notes = t->notes;
    m->last_note_seq = t->last_note_seq;
    m->last_note = (char *)t->last_note;
    m->rooms_online = (char *)t->rooms_online;
    m->rooms_capturing = (char *)t->rooms_capturing;
    m->forced = t->forced != 0;
    m->not_acked = (char *)t->not_acked;
    m->punch_in_bar = t->punch_in_bar;
    m->punch_out_bar = t->punch_out_bar;
    m->roll_unix_ns = t->roll_unix_ns;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

int tt_session_snap_encode(const tt_session_t *s, uint8_t **out, size_t *len, char *why)
{
    arena_t a = {0};
    Tutti__SessionState st = TUTTI__SESSION_STATE__INIT;
    size_t n_takes = 0;
    for (size_t i = 0; i < s->n_cues; i++)
        n_takes += s->cues[i].n_takes;
    size_t n_keys = tt_idem_count(s->keys);

    /* Everything allocated first, filled after one check. */
    Tutti__StateTrim *trims = grab(&a, s->n_trims, sizeof *trims);
    Tutti__StateTrim **trim_p = grab(&a, s->n_trims, sizeof *trim_p);
    Tutti__StatePlayer *players = grab(&a, s->n_players, sizeof *players);
    Tutti__StatePlayer **player_p = grab(&a, s->n_players, sizeof *player_p);
    Tutti__StateStay *stays = grab(&a, s->n_stays, sizeof *stays);
    Tutti__StateStay **stay_p = grab(&a, s->n_stays, sizeof *stay_p);
    Tutti__StateCallEvent *events = grab(&a, s->n_call_events, sizeof *events);
    Tutti__StateCallEvent **event_p = grab(&a, s->n_call_events, sizeof *event_p);
    Tutti__StateRules *event_rules = grab(&a, s->n_call_events, sizeof *event_rules);
    Tutti__StateChange *changes = grab(&a, s->n_changes, sizeof *changes);
    Tutti__StateChange **change_p = grab(&a, s->n_changes, sizeof *change_p);
    Tutti__StateCue *cues = grab(&a, s->n_cues, sizeof *cues);
    Tutti__StateCue **cue_p = grab(&a, s->n_cues, sizeof *cue_p);
    Tutti__StateTake *takes = grab(&a, n_takes, sizeof *takes);
    Tutti__StateTake **take_p = grab(&a, n_takes, sizeof *take_p);
    Tutti__StateMedia *media = grab(&a, s->media.n, sizeof *media);
    Tutti__StateMedia **media_p = grab(&a, s->media.n, sizeof *media_p);
    Tutti__Media *media_rec = grab(&a, s->media.n, sizeof *media_rec);
    char *(*media_rooms)[TT_MEDIA_MAX_ROOMS] = grab(&a, s->media.n, sizeof *media_rooms);
    Tutti__StateBreak *breaks = grab(&a, s->call.n_breaks, sizeof *breaks);
    Tutti__StateBreak **break_p = grab(&a, s->call.n_breaks, sizeof *break_p);
    uint8_t *keys = grab(&a, n_keys, IDEM_ENTRY);
    if (a.failed) {
        arena_free(&a);
        return tt_fail(why, TT_ERR_NOMEM, "encoding the state at %llu",
                       (unsigned long long)s->last_seq);
    }

    st.last_seq = s->last_seq;
    st.head_hash.data = (uint8_t *)s->head_hash;
    st.head_hash.len = TT_HASH_LEN;
    st.signing_public_key.data = (uint8_t *)s->signing_pk;
    st.signing_public_key.len = TT_SIGN_PK_LEN;
    ProtobufCBinaryData signers[TT_CHAIN_MAX_SIGNERS];
    for (size_t i = 1; i < s->signers.n; i++)
        signers[st.n_signers++] =
            (ProtobufCBinaryData){TT_SIGN_PK_LEN, (uint8_t *)s->signers.pk[i]};
    st.signers = signers;
    st.session_name = (char *)s->session_name;
    st.created_unix_ns = s->created_unix_ns;
    st.notes = s->notes;
    st.last_note_unix_ns = s->last_note_unix_ns;

    for (size_t i = 0; i < s->n_trims; i++) {
        tutti__state_trim__init(&trims[i]);
        trims[i].room = (char *)s->trims[i].room;
        trims[i].trim_ns = s->trims[i].trim_ns;
        trim_p[i] = &trims[i];
    }
    st.trims = trim_p;
    st.n_trims = s->n_trims;

    for (size_t i = 0; i < s->n_players; i++) {
        tutti__state_player__init(&players[i]);
        players[i].room = (char *)s->players[i].room;
        players[i].name = (char *)s->players[i].name;
        player_p[i] = &players[i];
    }
    st.players = player_p;
    st.n_players = s->n_players;

    for (size_t i = 0; i < s->n_stays; i++) {
        const tt_session_stay_t *y = &s->stays[i];
        tutti__state_stay__init(&stays[i]);
        stays[i].room = (char *)y->room;
        stays[i].name = (char *)y->name;
        stays[i].in_seq = y->in_seq;
        stays[i].out_seq = y->out_seq;
        stays[i].in_unix_ns = y->in_unix_ns;
        stays[i].out_unix_ns = y->out_unix_ns;
        stay_p[i] = &stays[i];
    }
    st.stays = stay_p;
    st.n_stays = s->n_stays;

    for (size_t i = 0; i < s->n_call_events; i++) {
        const tt_session_call_event_t *e = &s->call_events[i];
        tutti__state_call_event__init(&events[i]);
        events[i].seq = e->seq;
        events[i].at_unix_ns = e->at_unix_ns;
        events[i].action = (char *)e->action;
        rules_to(&e->rules, &event_rules[i]);
        events[i].rules = &event_rules[i];
        event_p[i] = &events[i];
    }
    st.call_events = event_p;
    st.n_call_events = s->n_call_events;

    for (size_t i = 0; i < s->n_changes; i++) {
        const tt_session_change_t *c = &s->changes[i];
        tutti__state_change__init(&changes[i]);
        changes[i].id = c->id;
        changes[i].cue = (char *)c->cue;
        changes[i].text = c->text;
        changes[i].acked = c->acked;
        changes[i].n_acked = c->n_acked;
        change_p[i] = &changes[i];
    }
    st.changes = change_p;
    st.n_changes = s->n_changes;

    size_t t = 0;
    for (size_t i = 0; i < s->n_cues; i++) {
        const tt_session_cue_t *c = &s->cues[i];
        tutti__state_cue__init(&cues[i]);
        cues[i].name = (char *)c->name;
        cues[i].title = (char *)c->title;
        cues[i].tempo_version = c->tempo_version;
        cues[i].has_map = c->map_text != NULL;
        cues[i].map_text = c->map_text ? c->map_text : "";
        cues[i].takes = &take_p[t];
        cues[i].n_takes = c->n_takes;
        for (size_t k = 0; k < c->n_takes; k++, t++) {
            take_to(&c->takes[k], &takes[t]);
            take_p[t] = &takes[t];
        }
        cue_p[i] = &cues[i];
    }
    st.cues = cue_p;
    st.n_cues = s->n_cues;

    Tutti__StateTransport tr = TUTTI__STATE_TRANSPORT__INIT;
    const tt_transport_t *x = &s->transport;
    tr.phase = (uint32_t)x->phase;
    tr.rolled = x->rolled != 0;
    tr.take = x->take;
    tr.downbeat_session_ns = x->downbeat_session_ns;
    tr.cue = (char *)x->cue;
    tr.tempo_version = x->tempo_version;
    tr.from_bar = x->from_bar;
    tr.start_session_ns = x->start_session_ns;
    tr.stop_session_ns = x->stop_session_ns;
    tr.roll_seq = x->roll_seq;
    st.transport = &tr;

    Tutti__StateCall call = TUTTI__STATE_CALL__INIT;
    Tutti__StateRules call_rules;
    call.started = s->call.started != 0;
    call.start_ns = s->call.start_ns;
    call.wrap_ns = s->call.wrap_ns;
    rules_to(&s->call.rules, &call_rules);
    call.rules = &call_rules;
    for (size_t i = 0; i < s->call.n_breaks; i++) {
        tutti__state_break__init(&breaks[i]);
        breaks[i].start_ns = s->call.breaks[i].start_ns;
        breaks[i].end_ns = s->call.breaks[i].end_ns;
        break_p[i] = &breaks[i];
    }
    call.breaks = break_p;
    call.n_breaks = s->call.n_breaks;
    st.call = &call;

    for (size_t i = 0; i < s->media.n; i++) {
        tutti__state_media__init(&media[i]);
        media[i].seq = s->media.items[i].seq;
        tt_media_entry_to_record(&s->media.items[i], &media_rec[i], media_rooms[i]);
        media[i].media = &media_rec[i];
        media_p[i] = &media[i];
    }
    st.media = media_p;
    st.n_media = s->media.n;

    for (size_t i = 0; i < n_keys; i++) {
        uint8_t *e = keys + i * IDEM_ENTRY;
        uint64_t seq;
        int kind;
        tt_idem_get(s->keys, i, e, &seq, &kind);
        put_be(e + TT_IDEM_KEY_LEN, seq, 8);
        put_be(e + TT_IDEM_KEY_LEN + 8, (uint32_t)kind, 4);
    }
    st.idempotency_keys.data = keys;
    st.idempotency_keys.len = n_keys * IDEM_ENTRY;

    size_t size = tutti__session_state__get_packed_size(&st);
    int rc = 0;
    uint8_t *buf = NULL;
    if (size > TT_STORE_SNAPSHOT_MAX_BYTES)
        rc = tt_fail(why, TT_ERR_TOO_BIG, "the state at %llu encodes to %zu bytes (at most %u)",
                     (unsigned long long)s->last_seq, size, TT_STORE_SNAPSHOT_MAX_BYTES);
    else if (!(buf = malloc(size ? size : 1)))
        rc = tt_fail(why, TT_ERR_NOMEM, "encoding the state at %llu",
                     (unsigned long long)s->last_seq);
    else {
        tutti__session_state__pack(&st, buf);
        *out = buf;
        *len = size;
    }
    arena_free(&a);
    return rc;
}

/* ------------------------------------------------------------ decode */

/* src (NULL: "") into dst[cap], refused when it does not fit: a snapshot
 * never holds what the fold would have cut. */
static int copy_str(char *dst, size_t cap, const char *src, const char *field, char *why)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        return tt_fail(why, TT_ERR_CORRUPT, "%s of %zu bytes (at most %zu)", field, n, cap - 1);
    memcpy(dst, src ? src : "", n + 1);
    return 0;
}

static int rules_from(const Tutti__StateRules *m, tt_rules_t *r, const char *field, char *why)
{
    memset(r, 0, sizeof *r);
    if (!m)
        return 0;
    int rc = copy_str(r->id, sizeof r->id, m->id, field, why);
    if (rc == 0)
        rc = copy_str(r->title, sizeof r->title, m->title, field, why);
    r->call_minutes = m->call_minutes;
    r->break_after_minutes = m->break_after_minutes;
    r->break_minutes = m->break_minutes;
    r->breaks_per_call = m->breaks_per_call;
    r->overtime_unit_minutes = m->overtime_unit_minutes;
    r->amber_minutes = m->amber_minutes;
    return rc;
}

static int take_from(const Tutti__StateTake *m, tt_session_take_t *t, char *why)
{
    memset(t, 0, sizeof *t);
    if (m->state > TT_TAKE_INTERRUPTED)
        return tt_fail(why, TT_ERR_CORRUPT, "a take in state %u", m->state);
    t->number = m->number;
    t->state = (tt_take_state_t)m->state;
    t->from_bar = m->from_bar;
    t->tempo_version = m->tempo_version;
    t->start_session_ns = m->start_session_ns;
    t->downbeat_session_ns = m->downbeat_session_ns;
    t->end_session_ns = m->end_session_ns;
    t->start_frame = m->start_frame;
    t->roll_seq = m->roll_seq;
    t->notes = m->notes;
    t->last_note_seq = m->last_note_seq;
    t->forced = m->forced;
    t->punch_in_bar = m->punch_in_bar;
    t->punch_out_bar = m->punch_out_bar;
    t->roll_unix_ns = m->roll_unix_ns;
    int rc = copy_str(t->rating, sizeof t->rating, m->rating, "a take's rating", why);
    if (rc == 0)
        rc = copy_str(t->last_note, sizeof t->last_note, m->last_note, "a take's note", why);
    if (rc == 0)
        rc = copy_str(t->rooms_online, sizeof t->rooms_online, m->rooms_online,
                      "a take's rooms online", why);
    if (rc == 0)
        rc = copy_str(t->rooms_capturing, sizeof t->rooms_capturing, m->rooms_capturing,
                      "a take's rooms capturing", why);
    if (rc == 0)
        rc = copy_str(t->not_acked, sizeof t->not_acked, m->not_acked, "a take's not acked", why);
    return rc;
}

static int fits(const char *s, size_t cap)
{
    return !s || strlen(s) < cap;
}

/* The checks tt_media_entry_from_record does not make (it cuts). */
static int media_ok(const Tutti__Media *m)
{
    return m && fits(m->cue, TT_MEDIA_MAX_CUE + 1) && fits(m->room, TT_ACCESS_MAX_NAME + 1) &&
           fits(m->input, TT_MEDIA_MAX_INPUT + 1) && fits(m->file, TT_MEDIA_MAX_FILE + 1) &&
           fits(m->name, TT_MEDIA_MAX_NAME + 1) && fits(m->at_fps, TT_MEDIA_MAX_FPS + 1) &&
           m->hash.len == TT_MEDIA_HASH_LEN && m->n_rooms <= TT_MEDIA_MAX_ROOMS;
}

static int decode_lists(tt_session_t *s, const Tutti__SessionState *st, char *why)
{
    int rc = 0;
    if (st->n_trims > TT_SESSION_MAX_ROOMS || st->n_players > TT_SESSION_MAX_PLAYERS ||
        st->n_changes > TT_SESSION_MAX_CHANGES || st->n_cues > TT_SESSION_MAX_CUES)
        return tt_fail(why, TT_ERR_CORRUPT,
                       "%zu trims, %zu players, %zu changes, %zu cues: over the fold's limits",
                       st->n_trims, st->n_players, st->n_changes, st->n_cues);
    for (size_t i = 0; rc == 0 && i < st->n_trims; i++) {
        rc = copy_str(s->trims[i].room, sizeof s->trims[i].room, st->trims[i]->room,
                      "a trim's room", why);
        s->trims[i].trim_ns = st->trims[i]->trim_ns;
        s->n_trims = i + 1;
    }
    if (rc == 0 && st->n_players && !(s->players = calloc(st->n_players, sizeof *s->players)))
        return tt_fail(why, TT_ERR_NOMEM, "restoring %zu players", st->n_players);
    s->cap_players = st->n_players;
    for (size_t i = 0; rc == 0 && i < st->n_players; i++) {
        tt_session_player_t *p = &s->players[i];
        rc = copy_str(p->room, sizeof p->room, st->players[i]->room, "a player's room", why);
        if (rc == 0)
            rc = copy_str(p->name, sizeof p->name, st->players[i]->name, "a player's name", why);
        s->n_players = i + 1;
    }
    if (rc == 0 && st->n_stays && !(s->stays = calloc(st->n_stays, sizeof *s->stays)))
        return tt_fail(why, TT_ERR_NOMEM, "restoring %zu stays", st->n_stays);
    s->cap_stays = st->n_stays;
    for (size_t i = 0; rc == 0 && i < st->n_stays; i++) {
        tt_session_stay_t *y = &s->stays[i];
        const Tutti__StateStay *m = st->stays[i];
        rc = copy_str(y->room, sizeof y->room, m->room, "a stay's room", why);
        if (rc == 0)
            rc = copy_str(y->name, sizeof y->name, m->name, "a stay's name", why);
        y->in_seq = m->in_seq;
        y->out_seq = m->out_seq;
        y->in_unix_ns = m->in_unix_ns;
        y->out_unix_ns = m->out_unix_ns;
        s->n_stays = i + 1;
    }
    if (rc == 0 && st->n_call_events &&
        !(s->call_events = calloc(st->n_call_events, sizeof *s->call_events)))
        return tt_fail(why, TT_ERR_NOMEM, "restoring %zu call events", st->n_call_events);
    s->cap_call_events = st->n_call_events;
    for (size_t i = 0; rc == 0 && i < st->n_call_events; i++) {
        tt_session_call_event_t *e = &s->call_events[i];
        const Tutti__StateCallEvent *m = st->call_events[i];
        e->seq = m->seq;
        e->at_unix_ns = m->at_unix_ns;
        rc = copy_str(e->action, sizeof e->action, m->action, "a call event", why);
        if (rc == 0)
            rc = rules_from(m->rules, &e->rules, "a call event's rules", why);
        s->n_call_events = i + 1;
    }
    return rc;
}

static int decode_changes(tt_session_t *s, const Tutti__SessionState *st, char *why)
{
    if (st->n_changes && !(s->changes = calloc(st->n_changes, sizeof *s->changes)))
        return tt_fail(why, TT_ERR_NOMEM, "restoring %zu changes", st->n_changes);
    s->cap_changes = st->n_changes;
    for (size_t i = 0; i < st->n_changes; i++) {
        tt_session_change_t *c = &s->changes[i];
        const Tutti__StateChange *m = st->changes[i];
        s->n_changes = i + 1; /* from here on the clear frees what it holds */
        c->id = m->id;
        int rc = copy_str(c->cue, sizeof c->cue, m->cue, "a change's cue", why);
        if (rc != 0)
            return rc;
        if (!(c->text = strdup(m->text ? m->text : "")) ||
            (m->n_acked && !(c->acked = calloc(m->n_acked, sizeof *c->acked))))
            return tt_fail(why, TT_ERR_NOMEM, "restoring change %llu", (unsigned long long)m->id);
        for (size_t k = 0; k < m->n_acked; k++) {
            if (!(c->acked[k] = strdup(m->acked[k] ? m->acked[k] : "")))
                return tt_fail(why, TT_ERR_NOMEM, "restoring change %llu",
                               (unsigned long long)m->id);
            c->n_acked = k + 1;
        }
    }
    return 0;
}

static int decode_cues(tt_session_t *s, const Tutti__SessionState *st, char *why)
{
    if (st->n_cues && !(s->cues = calloc(st->n_cues, sizeof *s->cues)))
        return tt_fail(why, TT_ERR_NOMEM, "restoring %zu cues", st->n_cues);
    s->cap_cues = st->n_cues;
    for (size_t i = 0; i < st->n_cues; i++) {
        tt_session_cue_t *c = &s->cues[i];
        const Tutti__StateCue *m = st->cues[i];
        s->n_cues = i + 1;
        int rc = copy_str(c->name, sizeof c->name, m->name, "a cue's name", why);
        if (rc == 0)
            rc = copy_str(c->title, sizeof c->title, m->title, "a cue's title", why);
        if (rc != 0)
            return rc;
        c->tempo_version = m->tempo_version;
        if (m->has_map && !(c->map_text = strdup(m->map_text ? m->map_text : "")))
            return tt_fail(why, TT_ERR_NOMEM, "restoring the map of %s", c->name);
        if (m->n_takes && !(c->takes = calloc(m->n_takes, sizeof *c->takes)))
            return tt_fail(why, TT_ERR_NOMEM, "restoring the takes of %s", c->name);
        c->cap_takes = m->n_takes;
        for (size_t k = 0; k < m->n_takes; k++) {
            if ((rc = take_from(m->takes[k], &c->takes[k], why)) != 0)
                return rc;
            c->n_takes = k + 1;
        }
    }
    return 0;
}

static int decode_rest(tt_session_t *s, const Tutti__SessionState *st, char *why)
{
    const Tutti__StateTransport *tr = st->transport;
    if (tr) {
        if (tr->phase > TT_PHASE_ROLLED)
            return tt_fail(why, TT_ERR_CORRUPT, "transport in phase %u", tr->phase);
        tt_transport_t *x = &s->transport;
        x->phase = (tt_phase_t)tr->phase;
        x->rolled = tr->rolled;
        x->take = tr->take;
        x->downbeat_session_ns = tr->downbeat_session_ns;
        x->tempo_version = tr->tempo_version;
        x->from_bar = tr->from_bar;
        x->start_session_ns = tr->start_session_ns;
        x->stop_session_ns = tr->stop_session_ns;
        x->roll_seq = tr->roll_seq;
        int rc = copy_str(x->cue, sizeof x->cue, tr->cue, "the transport's cue", why);
        if (rc != 0)
            return rc;
    }
    const Tutti__StateCall *call = st->call;
    if (call) {
        if (call->n_breaks > TT_CALL_MAX_BREAKS)
            return tt_fail(why, TT_ERR_CORRUPT, "a call of %zu breaks", call->n_breaks);
        s->call.started = call->started;
        s->call.start_ns = call->start_ns;
        s->call.wrap_ns = call->wrap_ns;
        int rc = rules_from(call->rules, &s->call.rules, "the call's rules", why);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < call->n_breaks; i++) {
            s->call.breaks[i].start_ns = call->breaks[i]->start_ns;
            s->call.breaks[i].end_ns = call->breaks[i]->end_ns;
        }
        s->call.n_breaks = call->n_breaks;
    }
    if (st->n_media && !(s->media.items = calloc(st->n_media, sizeof *s->media.items)))
        return tt_fail(why, TT_ERR_NOMEM, "restoring %zu media records", st->n_media);
    s->media.cap = st->n_media;
    for (size_t i = 0; i < st->n_media; i++) {
        if (!media_ok(st->media[i]->media))
            return tt_fail(why, TT_ERR_CORRUPT, "media entry %zu out of bounds", i);
        tt_media_entry_from_record(&s->media.items[i], st->media[i]->media);
        s->media.items[i].seq = st->media[i]->seq;
        s->media.n = i + 1;
    }
    size_t keys = st->idempotency_keys.len / IDEM_ENTRY;
    if (st->idempotency_keys.len % IDEM_ENTRY || keys > TT_SESSION_KEY_WINDOW)
        return tt_fail(why, TT_ERR_CORRUPT, "idempotency keys of %zu bytes",
                       st->idempotency_keys.len);
    if (keys && !(s->keys = tt_idem_new(TT_SESSION_KEY_WINDOW, why)))
        return TT_ERR_NOMEM;
    for (size_t i = 0; i < keys; i++) {
        const uint8_t *e = st->idempotency_keys.data + i * IDEM_ENTRY;
        tt_idem_add(s->keys, e, get_be(e + TT_IDEM_KEY_LEN, 8),
                    (int)(int32_t)get_be(e + TT_IDEM_KEY_LEN + 8, 4));
    }
    if (tt_idem_count(s->keys) != keys)
        return tt_fail(why, TT_ERR_CORRUPT, "an idempotency key held twice");
    return 0;
}

int tt_session_snap_decode(tt_session_t *s, const uint8_t *data, size_t len, char *why)
{
    tt_session_clear(s);
    if (len > TT_STORE_SNAPSHOT_MAX_BYTES)
        return tt_fail(why, TT_ERR_CORRUPT, "a state of %zu bytes", len);
    Tutti__SessionState *st = tutti__session_state__unpack(NULL, len, data);
    if (!st)
        return tt_fail(why, TT_ERR_CORRUPT, "the state does not decode");
    int rc = 0;
    if (st->head_hash.len != TT_HASH_LEN || st->signing_public_key.len != TT_SIGN_PK_LEN)
        rc = tt_fail(why, TT_ERR_CORRUPT, "the state's head or key is malformed");
    if (rc == 0) {
        s->last_seq = st->last_seq;
        memcpy(s->head_hash, st->head_hash.data, TT_HASH_LEN);
        memcpy(s->signing_pk, st->signing_public_key.data, TT_SIGN_PK_LEN);
        tt_chain_keys_init(&s->signers, s->signing_pk);
        if (s->signers.n + st->n_signers > TT_CHAIN_MAX_SIGNERS)
            rc = tt_fail(why, TT_ERR_CORRUPT, "the state names %zu signers", st->n_signers);
        for (size_t i = 0; rc == 0 && i < st->n_signers; i++) {
            if (st->signers[i].len != TT_SIGN_PK_LEN)
                rc = tt_fail(why, TT_ERR_CORRUPT, "the state's signer %zu is malformed", i);
            else
                memcpy(s->signers.pk[s->signers.n++], st->signers[i].data, TT_SIGN_PK_LEN);
        }
    }
    if (rc == 0) {
        s->created_unix_ns = st->created_unix_ns;
        s->notes = st->notes;
        s->last_note_unix_ns = st->last_note_unix_ns;
        rc = copy_str(s->session_name, sizeof s->session_name, st->session_name, "the session name",
                      why);
    }
    if (rc == 0)
        rc = decode_lists(s, st, why);
    if (rc == 0)
        rc = decode_changes(s, st, why);
    if (rc == 0)
        rc = decode_cues(s, st, why);
    if (rc == 0)
        rc = decode_rest(s, st, why);
    tutti__session_state__free_unpacked(st, NULL);
    if (rc != 0)
        tt_session_clear(s);
    return rc;
}

int tt_session_snap_take(const tt_session_t *s, uint8_t **out, size_t *len, char *why)
{
    uint8_t *state = NULL;
    size_t state_len = 0;
    int rc = tt_session_snap_encode(s, &state, &state_len, why);
    if (rc != 0)
        return rc;
    rc = tt_snapshot_wrap(s->last_seq, s->head_hash, &s->signers, state, state_len, out, len, why);
    free(state);
    return rc;
}

int tt_session_snap_save(void *session, uint8_t **out, size_t *len, char *why)
{
    return tt_session_snap_encode(session, out, len, why);
}

int tt_session_snap_restore(void *session, uint64_t seq, const uint8_t head_hash[TT_HASH_LEN],
                            const uint8_t signing_pk[TT_SIGN_PK_LEN], const uint8_t *state,
                            size_t len, char *why)
{
    tt_session_t *s = session;
    int rc = tt_session_snap_decode(s, state, len, why);
    if (rc != 0)
        return rc;
    if (s->last_seq != seq || memcmp(s->head_hash, head_hash, TT_HASH_LEN) != 0 ||
        memcmp(s->signing_pk, signing_pk, TT_SIGN_PK_LEN) != 0) {
        rc = tt_fail(why, TT_ERR_CORRUPT,
                     "the state says seq %llu, another head or another key than its snapshot",
                     (unsigned long long)s->last_seq);
        tt_session_clear(s);
    }
    return rc;
}

/* ------------------------------------------------------------ diff */

static int differ(char *where, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (where && cap)
        vsnprintf(where, cap, fmt, ap);
    va_end(ap);
    return 1;
}

/* Compares one field; the path is a printf format with its arguments
 * before the field's own. */
#define SAME_INT(a, b, ...)                                                                        \
    do {                                                                                           \
        if ((a) != (b)) {                                                                          \
            char path_[160];                                                                       \
            snprintf(path_, sizeof path_, __VA_ARGS__);                                            \
            return differ(where, cap, "%s: %lld vs %lld", path_, (long long)(a), (long long)(b));  \
        }                                                                                          \
    } while (0)
#define SAME_STR(a, b, ...)                                                                        \
    do {                                                                                           \
        const char *a_ = (a) ? (a) : "(none)", *b_ = (b) ? (b) : "(none)";                         \
        if (((a) == NULL) != ((b) == NULL) || strcmp(a_, b_) != 0) {                               \
            char path_[160];                                                                       \
            snprintf(path_, sizeof path_, __VA_ARGS__);                                            \
            return differ(where, cap, "%s: \"%.60s\" vs \"%.60s\"", path_, a_, b_);                \
        }                                                                                          \
    } while (0)
#define SAME_MEM(a, b, n, ...)                                                                     \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0) {                                                          \
            char path_[160];                                                                       \
            snprintf(path_, sizeof path_, __VA_ARGS__);                                            \
            return differ(where, cap, "%s: bytes differ", path_);                                  \
        }                                                                                          \
    } while (0)

static int diff_rules(const tt_rules_t *a, const tt_rules_t *b, const char *at, char *where,
                      size_t cap)
{
    SAME_STR(a->id, b->id, "%s.id", at);
    SAME_STR(a->title, b->title, "%s.title", at);
    SAME_INT(a->call_minutes, b->call_minutes, "%s.call_minutes", at);
    SAME_INT(a->break_after_minutes, b->break_after_minutes, "%s.break_after_minutes", at);
    SAME_INT(a->break_minutes, b->break_minutes, "%s.break_minutes", at);
    SAME_INT(a->breaks_per_call, b->breaks_per_call, "%s.breaks_per_call", at);
    SAME_INT(a->overtime_unit_minutes, b->overtime_unit_minutes, "%s.overtime_unit_minutes", at);
    SAME_INT(a->amber_minutes, b->amber_minutes, "%s.amber_minutes", at);
    return 0;
}

static int diff_take(const tt_session_take_t *a, const tt_session_take_t *b, size_t c, size_t k,
                     char *where, size_t cap)
{
#define TK "cues[%zu].takes[%zu]."
    SAME_INT(a->number, b->number, TK "number", c, k);
    SAME_INT(a->state, b->state, TK "state", c, k);
    SAME_INT(a->from_bar, b->from_bar, TK "from_bar", c, k);
    SAME_INT(a->tempo_version, b->tempo_version, TK "tempo_version", c, k);
    SAME_INT(a->start_session_ns, b->start_session_ns, TK "start_session_ns", c, k);
    SAME_INT(a->downbeat_session_ns, b->downbeat_session_ns, TK "downbeat_session_ns", c, k);
    SAME_INT(a->end_session_ns, b->end_session_ns, TK "end_session_ns", c, k);
    SAME_INT(a->start_frame, b->start_frame, TK "start_frame", c, k);
    SAME_INT(a->roll_seq, b->roll_seq, TK "roll_seq", c, k);
    SAME_STR(a->rating, b->rating, TK "rating", c, k);
    SAME_INT(a->notes, b->notes, TK "notes", c, k);
    SAME_INT(a->last_note_seq, b->last_note_seq, TK "last_note_seq", c, k);
    SAME_STR(a->last_note, b->last_note, TK "last_note", c, k);
    SAME_STR(a->rooms_online, b->rooms_online, TK "rooms_online", c, k);
    SAME_STR(a->rooms_capturing, b->rooms_capturing, TK "rooms_capturing", c, k);
    SAME_INT(a->forced, b->forced, TK "forced", c, k);
    SAME_STR(a->not_acked, b->not_acked, TK "not_acked", c, k);
    SAME_INT(a->punch_in_bar, b->punch_in_bar, TK "punch_in_bar", c, k);
    SAME_INT(a->punch_out_bar, b->punch_out_bar, TK "punch_out_bar", c, k);
    SAME_INT(a->roll_unix_ns, b->roll_unix_ns, TK "roll_unix_ns", c, k);
#undef TK
    return 0;
}

static int diff_media(const tt_media_entry_t *a, const tt_media_entry_t *b, size_t i, char *where,
                      size_t cap)
{
    SAME_INT(a->seq, b->seq, "media[%zu].seq", i);
    SAME_STR(a->cue, b->cue, "media[%zu].cue", i);
    SAME_INT(a->take, b->take, "media[%zu].take", i);
    SAME_STR(a->room, b->room, "media[%zu].room", i);
    SAME_STR(a->input, b->input, "media[%zu].input", i);
    SAME_STR(a->file, b->file, "media[%zu].file", i);
    SAME_INT(a->size, b->size, "media[%zu].size", i);
    SAME_MEM(a->hash, b->hash, TT_MEDIA_HASH_LEN, "media[%zu].hash", i);
    SAME_INT(a->rate, b->rate, "media[%zu].rate", i);
    SAME_INT(a->time_reference, b->time_reference, "media[%zu].time_reference", i);
    SAME_INT(a->punch_in_bar, b->punch_in_bar, "media[%zu].punch_in_bar", i);
    SAME_INT(a->punch_out_bar, b->punch_out_bar, "media[%zu].punch_out_bar", i);
    SAME_INT(a->kind, b->kind, "media[%zu].kind", i);
    SAME_STR(a->name, b->name, "media[%zu].name", i);
    SAME_INT(a->n_rooms, b->n_rooms, "media[%zu].n_rooms", i);
    for (size_t r = 0; r < a->n_rooms; r++)
        SAME_STR(a->rooms[r], b->rooms[r], "media[%zu].rooms[%zu]", i, r);
    SAME_INT(a->at_bar, b->at_bar, "media[%zu].at_bar", i);
    SAME_INT(a->at_frame, b->at_frame, "media[%zu].at_frame", i);
    SAME_STR(a->at_fps, b->at_fps, "media[%zu].at_fps", i);
    SAME_INT(a->channels, b->channels, "media[%zu].channels", i);
    SAME_INT(a->frames, b->frames, "media[%zu].frames", i);
    SAME_INT(a->source_seq, b->source_seq, "media[%zu].source_seq", i);
    return 0;
}

static int diff_head(const tt_session_t *a, const tt_session_t *b, char *where, size_t cap)
{
    SAME_INT(a->last_seq, b->last_seq, "last_seq");
    SAME_MEM(a->head_hash, b->head_hash, TT_HASH_LEN, "head_hash");
    SAME_MEM(a->signing_pk, b->signing_pk, TT_SIGN_PK_LEN, "signing_pk");
    SAME_INT(a->signers.n, b->signers.n, "signers.n");
    for (size_t i = 0; i < a->signers.n; i++)
        SAME_MEM(a->signers.pk[i], b->signers.pk[i], TT_SIGN_PK_LEN, "signers.pk[%zu]", i);
    SAME_STR(a->session_name, b->session_name, "session_name");
    SAME_INT(a->created_unix_ns, b->created_unix_ns, "created_unix_ns");
    SAME_INT(a->notes, b->notes, "notes");
    SAME_INT(a->last_note_unix_ns, b->last_note_unix_ns, "last_note_unix_ns");
    SAME_INT(a->n_trims, b->n_trims, "n_trims");
    for (size_t i = 0; i < a->n_trims; i++) {
        SAME_STR(a->trims[i].room, b->trims[i].room, "trims[%zu].room", i);
        SAME_INT(a->trims[i].trim_ns, b->trims[i].trim_ns, "trims[%zu].trim_ns", i);
    }
    SAME_INT(a->n_players, b->n_players, "n_players");
    for (size_t i = 0; i < a->n_players; i++) {
        SAME_STR(a->players[i].room, b->players[i].room, "players[%zu].room", i);
        SAME_STR(a->players[i].name, b->players[i].name, "players[%zu].name", i);
    }
    SAME_INT(a->n_stays, b->n_stays, "n_stays");
    for (size_t i = 0; i < a->n_stays; i++) {
        const tt_session_stay_t *x = &a->stays[i], *y = &b->stays[i];
        SAME_STR(x->room, y->room, "stays[%zu].room", i);
        SAME_STR(x->name, y->name, "stays[%zu].name", i);
        SAME_INT(x->in_seq, y->in_seq, "stays[%zu].in_seq", i);
        SAME_INT(x->out_seq, y->out_seq, "stays[%zu].out_seq", i);
        SAME_INT(x->in_unix_ns, y->in_unix_ns, "stays[%zu].in_unix_ns", i);
        SAME_INT(x->out_unix_ns, y->out_unix_ns, "stays[%zu].out_unix_ns", i);
    }
    SAME_INT(a->n_call_events, b->n_call_events, "n_call_events");
    for (size_t i = 0; i < a->n_call_events; i++) {
        const tt_session_call_event_t *x = &a->call_events[i], *y = &b->call_events[i];
        SAME_INT(x->seq, y->seq, "call_events[%zu].seq", i);
        SAME_INT(x->at_unix_ns, y->at_unix_ns, "call_events[%zu].at_unix_ns", i);
        SAME_STR(x->action, y->action, "call_events[%zu].action", i);
        char at[48];
        snprintf(at, sizeof at, "call_events[%zu].rules", i);
        if (diff_rules(&x->rules, &y->rules, at, where, cap))
            return 1;
    }
    return 0;
}

static int diff_changes_cues(const tt_session_t *a, const tt_session_t *b, char *where, size_t cap)
{
    SAME_INT(a->n_changes, b->n_changes, "n_changes");
    for (size_t i = 0; i < a->n_changes; i++) {
        const tt_session_change_t *x = &a->changes[i], *y = &b->changes[i];
        SAME_INT(x->id, y->id, "changes[%zu].id", i);
        SAME_STR(x->cue, y->cue, "changes[%zu].cue", i);
        SAME_STR(x->text, y->text, "changes[%zu].text", i);
        SAME_INT(x->n_acked, y->n_acked, "changes[%zu].n_acked", i);
        for (size_t k = 0; k < x->n_acked; k++)
            SAME_STR(x->acked[k], y->acked[k], "changes[%zu].acked[%zu]", i, k);
    }
    SAME_INT(a->n_cues, b->n_cues, "n_cues");
    for (size_t i = 0; i < a->n_cues; i++) {
        const tt_session_cue_t *x = &a->cues[i], *y = &b->cues[i];
        SAME_STR(x->name, y->name, "cues[%zu].name", i);
        SAME_STR(x->title, y->title, "cues[%zu].title", i);
        SAME_INT(x->tempo_version, y->tempo_version, "cues[%zu].tempo_version", i);
        SAME_STR(x->map_text, y->map_text, "cues[%zu].map_text", i);
        SAME_INT(x->n_takes, y->n_takes, "cues[%zu].n_takes", i);
        for (size_t k = 0; k < x->n_takes; k++)
            if (diff_take(&x->takes[k], &y->takes[k], i, k, where, cap))
                return 1;
    }
    return 0;
}

static int diff_rest(const tt_session_t *a, const tt_session_t *b, char *where, size_t cap)
{
    const tt_transport_t *x = &a->transport, *y = &b->transport;
    SAME_INT(x->phase, y->phase, "transport.phase");
    SAME_INT(x->rolled, y->rolled, "transport.rolled");
    SAME_INT(x->take, y->take, "transport.take");
    SAME_INT(x->downbeat_session_ns, y->downbeat_session_ns, "transport.downbeat_session_ns");
    SAME_STR(x->cue, y->cue, "transport.cue");
    SAME_INT(x->tempo_version, y->tempo_version, "transport.tempo_version");
    SAME_INT(x->from_bar, y->from_bar, "transport.from_bar");
    SAME_INT(x->start_session_ns, y->start_session_ns, "transport.start_session_ns");
    SAME_INT(x->stop_session_ns, y->stop_session_ns, "transport.stop_session_ns");
    SAME_INT(x->roll_seq, y->roll_seq, "transport.roll_seq");
    SAME_INT(a->call.started, b->call.started, "call.started");
    SAME_INT(a->call.start_ns, b->call.start_ns, "call.start_ns");
    SAME_INT(a->call.wrap_ns, b->call.wrap_ns, "call.wrap_ns");
    if (diff_rules(&a->call.rules, &b->call.rules, "call.rules", where, cap))
        return 1;
    SAME_INT(a->call.n_breaks, b->call.n_breaks, "call.n_breaks");
    for (size_t i = 0; i < a->call.n_breaks; i++) {
        SAME_INT(a->call.breaks[i].start_ns, b->call.breaks[i].start_ns, "call.breaks[%zu].start",
                 i);
        SAME_INT(a->call.breaks[i].end_ns, b->call.breaks[i].end_ns, "call.breaks[%zu].end", i);
    }
    SAME_INT(a->media.n, b->media.n, "media.n");
    for (size_t i = 0; i < a->media.n; i++)
        if (diff_media(&a->media.items[i], &b->media.items[i], i, where, cap))
            return 1;
    size_t n = tt_idem_count(a->keys);
    SAME_INT(n, tt_idem_count(b->keys), "idempotency keys held");
    if (n)
        SAME_INT(tt_idem_window(a->keys), tt_idem_window(b->keys), "idempotency window");
    for (size_t i = 0; i < n; i++) {
        uint8_t ka[TT_IDEM_KEY_LEN], kb[TT_IDEM_KEY_LEN];
        uint64_t sa, sb;
        int kinda, kindb;
        tt_idem_get(a->keys, i, ka, &sa, &kinda);
        tt_idem_get(b->keys, i, kb, &sb, &kindb);
        SAME_MEM(ka, kb, TT_IDEM_KEY_LEN, "idempotency key %zu (oldest first)", i);
        SAME_INT(sa, sb, "idempotency key %zu seq", i);
        SAME_INT(kinda, kindb, "idempotency key %zu kind", i);
    }
    return 0;
}

int tt_session_snap_diff(const tt_session_t *a, const tt_session_t *b, char *where, size_t cap)
{
    if (where && cap)
        where[0] = '\0';
    return diff_head(a, b, where, cap) || diff_changes_cues(a, b, where, cap) ||
           diff_rest(a, b, where, cap);
}
