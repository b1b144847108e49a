/* loggen_gen: see loggen_gen.h. */
#include "loggen_gen.h"
#include "tt_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CUES 200                       /* well under TT_SESSION_MAX_CUES */
#define MAX_CHANGES 4000                   /* under TT_SESSION_MAX_CHANGES */
#define BASE_UNIX_NS 1767225600000000000LL /* 2026-01-01 */

static const char *const ROOMS[] = {"stage", "london-strings", "overdub"};
#define N_ROOMS 3

static const char MAP[] = "fps 24\nstart 00:59:58:00\ncountoff 2\nbar 1 4/4 q=%u\nbar 9 3/4\n"
                          "bar 13 4/4 q=%u ramp\n";

struct loggen {
    uint64_t rng;
    unsigned period;
    uint8_t pk[TT_SIGN_PK_LEN];
    uint8_t key[16];
    uint8_t hash[32];
    char text[256], text2[256], cue[40], name[40], file[200], map[512], rules[TT_RULES_FORMAT_LEN];
    char *list[4];
    Tutti__Genesis genesis;
    Tutti__Note note;
    Tutti__Trim trim;
    Tutti__TempoLoad tempo;
    Tutti__Roll roll;
    Tutti__Stop stop;
    Tutti__CueAdd cue_add;
    Tutti__Arm arm;
    Tutti__TakeInterrupted interrupted;
    Tutti__TakeRate rate;
    Tutti__TakeNote take_note;
    Tutti__Change change;
    Tutti__Ack ack;
    Tutti__Presence presence;
    Tutti__CallEvent call;
    Tutti__Media media;
};

static uint64_t next_rand(loggen_t *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}

loggen_t *loggen_new(uint64_t seed, unsigned period)
{
    loggen_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->rng = seed * 2654435761u + 0x9e3779b97f4a7c15ULL;
    g->period = period < 40 ? 40 : period;
    return g;
}

void loggen_destroy(loggen_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static void as_note(loggen_t *g, uint64_t seq, Tutti__Record *rec)
{
    tutti__note__init(&g->note);
    snprintf(g->text, sizeof g->text, "note %llu: bar %u, %s", (unsigned long long)seq,
             (unsigned)(next_rand(g) % 200 + 1), next_rand(g) & 1 ? "horns late" : "ok");
    g->note.text = g->text;
    rec->body_case = TUTTI__RECORD__BODY_NOTE;
    rec->note = &g->note;
}

/* The open take, its cue in *cue; NULL when none. */
static const tt_session_take_t *open_take(const tt_session_t *st, const char **cue)
{
    return tt_session_open_take(st, cue);
}

/* The latest closed take of any cue (its cue in *cue), or NULL. */
static const tt_session_take_t *last_closed(const tt_session_t *st, const char **cue)
{
    const tt_session_take_t *best = NULL;
    for (size_t i = 0; i < st->n_cues; i++)
        for (size_t k = 0; k < st->cues[i].n_takes; k++) {
            const tt_session_take_t *t = &st->cues[i].takes[k];
            if (t->state != TT_TAKE_OPEN && (!best || t->roll_seq > best->roll_seq)) {
                best = t;
                *cue = st->cues[i].name;
            }
        }
    return best;
}

/* A cue with a map (the round's), or NULL. */
static const tt_session_cue_t *mapped_cue(const tt_session_t *st, uint64_t round)
{
    size_t n = 0;
    for (size_t i = 0; i < st->n_cues; i++)
        n += st->cues[i].tempo_version > 0;
    if (n == 0)
        return NULL;
    size_t want = round % n;
    for (size_t i = 0; i < st->n_cues; i++)
        if (st->cues[i].tempo_version > 0 && want-- == 0)
            return &st->cues[i];
    return NULL;
}

static void tempo_load(loggen_t *g, const char *cue, uint32_t version, Tutti__Record *rec)
{
    tutti__tempo_load__init(&g->tempo);
    snprintf(g->cue, sizeof g->cue, "%s", cue);
    snprintf(g->map, sizeof g->map, MAP, 80 + (unsigned)(next_rand(g) % 60),
             90 + (unsigned)(next_rand(g) % 40));
    g->tempo.cue = g->cue;
    g->tempo.version = version;
    g->tempo.map_text = g->map;
    g->tempo.source = "gen.tempo";
    rec->body_case = TUTTI__RECORD__BODY_TEMPO_LOAD;
    rec->tempo_load = &g->tempo;
}

static void call_event(loggen_t *g, const tt_session_t *st, Tutti__Record *rec)
{
    const tt_call_t *c = &st->call;
    tutti__call_event__init(&g->call);
    int on_break = c->n_breaks > 0 && c->breaks[c->n_breaks - 1].end_ns == 0;
    if (!c->started || c->wrap_ns) {
        const tt_rules_t *r = tt_rules_preset_at(next_rand(g) % tt_rules_preset_count());
        tt_rules_format(r, g->rules, sizeof g->rules);
        g->call.action = "start";
        g->call.rules_name = (char *)r->id;
        g->call.rules_text = g->rules;
    } else if (on_break) {
        g->call.action = "break-end";
    } else if (c->n_breaks < 3) {
        g->call.action = "break-start";
    } else {
        g->call.action = "wrap";
    }
    rec->body_case = TUTTI__RECORD__BODY_CALL_EVENT;
    rec->call_event = &g->call;
}

static void media(loggen_t *g, const tt_session_t *st, uint64_t seq, int prelay, Tutti__Record *rec)
{
    tutti__media__init(&g->media);
    const char *cue = NULL;
    const tt_session_take_t *t = prelay ? NULL : last_closed(st, &cue);
    const tt_session_cue_t *pc = prelay ? mapped_cue(st, seq) : NULL;
    if ((!prelay && !t) || (prelay && !pc))
        return;
    for (size_t i = 0; i < sizeof g->hash; i++)
        g->hash[i] = (uint8_t)next_rand(g);
    g->media.hash.data = g->hash;
    g->media.hash.len = sizeof g->hash;
    g->media.rate = 48000;
    g->media.size = 44 + 6 * (next_rand(g) % 100000);
    if (prelay) {
        snprintf(g->cue, sizeof g->cue, "%s", pc->name);
        snprintf(g->name, sizeof g->name, "p%llu", (unsigned long long)seq);
        g->media.kind = next_rand(g) & 1 ? TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY
                                         : TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE;
        g->media.cue = g->cue;
        g->media.name = g->name;
        tt_media_put_file_name(g->cue, (int)g->media.kind, g->name, g->file, sizeof g->file);
        g->list[0] = (char *)ROOMS[0];
        g->list[1] = (char *)ROOMS[1];
        g->media.rooms = g->list;
        g->media.n_rooms = next_rand(g) % 3;
        g->media.channels = 2;
        g->media.frames = 48000;
        g->media.at_bar = (int32_t)(next_rand(g) % 8);
        g->media.at_fps = g->media.at_bar ? "" : "24";
        g->media.at_frame = g->media.at_bar ? 0 : 86400;
    } else {
        snprintf(g->cue, sizeof g->cue, "%s", cue);
        g->media.cue = g->cue;
        g->media.take = t->number;
        g->media.room = (char *)ROOMS[seq % N_ROOMS];
        g->media.input = next_rand(g) & 1 ? "in1" : "bass.di";
        g->media.time_reference = 172800000 + next_rand(g) % 48000;
        g->media.punch_in_bar = t->punch_in_bar;
        g->media.punch_out_bar = t->punch_out_bar;
        tt_media_file_name(g->cue, t->number, g->media.room, g->media.input, g->file,
                           sizeof g->file);
    }
    g->media.file = g->file;
    rec->body_case = TUTTI__RECORD__BODY_MEDIA;
    rec->media = &g->media;
}

void loggen_next(loggen_t *g, const tt_session_t *st, const uint8_t pk[TT_SIGN_PK_LEN], int last,
                 Tutti__Record *rec)
{
    uint64_t seq = st->last_seq + 1;
    tutti__record__init(rec);
    rec->seq = seq;
    rec->at_unix_ns = BASE_UNIX_NS + (int64_t)seq * 1000000;
    rec->actor = "op";
    rec->actor_role = "operator";
    if (seq == 1) {
        tutti__genesis__init(&g->genesis);
        memcpy(g->pk, pk, TT_SIGN_PK_LEN);
        g->genesis.signing_public_key.data = g->pk;
        g->genesis.signing_public_key.len = TT_SIGN_PK_LEN;
        g->genesis.session_name = "generated";
        rec->actor = "coordinator";
        rec->actor_role = "coordinator";
        rec->body_case = TUTTI__RECORD__BODY_GENESIS;
        rec->genesis = &g->genesis;
        return;
    }
    if ((next_rand(g) & 3) != 0) {
        for (size_t i = 0; i < sizeof g->key; i++)
            g->key[i] = (uint8_t)next_rand(g);
        rec->idempotency_key.data = g->key;
        rec->idempotency_key.len = sizeof g->key;
    }
    const char *cue = NULL;
    const tt_session_take_t *open = open_take(st, &cue);
    uint64_t round = seq / g->period;
    unsigned r = (unsigned)(seq % g->period);
    const tt_session_cue_t *mc = mapped_cue(st, round);
    if (open && (last || r != 7)) { /* a roll is stopped at once, or by the last record */
        tutti__stop__init(&g->stop);
        snprintf(g->cue, sizeof g->cue, "%s", cue);
        g->stop.cue = g->cue;
        g->stop.take = open->number;
        g->stop.at_session_ns = open->downbeat_session_ns + 30000000000LL;
        rec->body_case = TUTTI__RECORD__BODY_STOP;
        rec->stop = &g->stop;
        if (r == 27 || r == 28) { /* now and then the coordinator died during it */
            tutti__take_interrupted__init(&g->interrupted);
            g->interrupted.cue = g->cue;
            g->interrupted.take = open->number;
            g->interrupted.at_session_ns = g->stop.at_session_ns;
            rec->actor = "coordinator";
            rec->actor_role = "coordinator";
            rec->body_case = TUTTI__RECORD__BODY_TAKE_INTERRUPTED;
            rec->take_interrupted = &g->interrupted;
            rec->idempotency_key.len = 0;
        }
        return;
    }
    switch (r) {
    case 1: /* a new cue, then its map */
        if (st->n_cues >= MAX_CUES)
            break;
        tutti__cue_add__init(&g->cue_add);
        snprintf(g->cue, sizeof g->cue, "%uM%u", (unsigned)(round % 9 + 1),
                 (unsigned)st->n_cues + 1);
        snprintf(g->text, sizeof g->text, "Cue %u \"%s\"", (unsigned)st->n_cues + 1,
                 round & 1 ? "Main Title" : "The Chase");
        g->cue_add.cue = g->cue;
        g->cue_add.title = g->text;
        rec->body_case = TUTTI__RECORD__BODY_CUE_ADD;
        rec->cue_add = &g->cue_add;
        return;
    case 2:
    case 20: { /* a map for the newest cue, or a new version of the round's */
        const tt_session_cue_t *c = r == 2 && st->n_cues ? &st->cues[st->n_cues - 1] : mc;
        if (!c || (r == 2 && c->tempo_version > 0))
            break;
        tempo_load(g, c->name, c->tempo_version + 1, rec);
        return;
    }
    case 5:
    case 25: /* arm */
        if (!mc)
            break;
        tutti__arm__init(&g->arm);
        snprintf(g->cue, sizeof g->cue, "%s", mc->name);
        g->arm.cue = g->cue;
        g->arm.at_session_ns = (int64_t)seq * 1000000000LL;
        rec->body_case = TUTTI__RECORD__BODY_ARM;
        rec->arm = &g->arm;
        return;
    case 6:
    case 26: { /* roll the armed cue (a stop or an interruption follows) */
        if (last || st->transport.phase != TT_PHASE_ARMED)
            break;
        const tt_session_cue_t *c = tt_session_find_cue(st, st->transport.cue);
        if (!c || !c->tempo_version)
            break;
        tutti__roll__init(&g->roll);
        snprintf(g->cue, sizeof g->cue, "%s", c->name);
        g->roll.cue = g->cue;
        g->roll.tempo_version = c->tempo_version;
        g->roll.from_bar = 1 + (int32_t)(next_rand(g) % 4);
        g->roll.take = tt_session_next_take(st, c->name);
        g->roll.start_session_ns = (int64_t)seq * 1000000000LL;
        g->roll.downbeat_session_ns = g->roll.start_session_ns + 2600000000LL;
        g->roll.start_frame = 86400 + (int64_t)seq;
        g->list[0] = (char *)ROOMS[0];
        g->list[1] = (char *)ROOMS[1];
        g->roll.rooms_online = g->list;
        g->roll.n_rooms_online = 2;
        g->roll.capturing_listed = next_rand(g) & 1;
        g->roll.rooms_capturing = g->list;
        g->roll.n_rooms_capturing = g->roll.capturing_listed ? 1 : 0;
        if (r == 26) {
            g->roll.forced = 1;
            g->roll.not_acked = g->list + 1;
            g->roll.n_not_acked = 1;
            g->roll.punch_in_bar = g->roll.from_bar + 1;
            g->roll.punch_out_bar = g->roll.from_bar + 5;
        }
        rec->body_case = TUTTI__RECORD__BODY_ROLL;
        rec->roll = &g->roll;
        return;
    }
    case 9:
    case 10: { /* rate or annotate the latest closed take */
        const tt_session_take_t *t = last_closed(st, &cue);
        if (!t)
            break;
        snprintf(g->cue, sizeof g->cue, "%s", cue);
        snprintf(g->text, sizeof g->text, "take %u: %s", t->number,
                 next_rand(g) & 1 ? "good balance" : "intonation at bar 12");
        if (r == 9) {
            static const char *const ratings[] = {"circled", "hold", "ng", "false-start"};
            tutti__take_rate__init(&g->rate);
            g->rate.cue = g->cue;
            g->rate.take = t->number;
            g->rate.rating = (char *)ratings[next_rand(g) % 4];
            g->rate.note = next_rand(g) & 1 ? g->text : "";
            rec->body_case = TUTTI__RECORD__BODY_TAKE_RATE;
            rec->take_rate = &g->rate;
        } else {
            tutti__take_note__init(&g->take_note);
            g->take_note.cue = g->cue;
            g->take_note.take = t->number;
            g->take_note.text = g->text;
            rec->body_case = TUTTI__RECORD__BODY_TAKE_NOTE;
            rec->take_note = &g->take_note;
        }
        return;
    }
    case 11:
    case 12:
    case 13: /* the rooms' files of the latest take; a prelay */
        media(g, st, seq, r == 13, rec);
        if (rec->body_case == TUTTI__RECORD__BODY_MEDIA) {
            if (r != 13) {
                rec->actor = (char *)g->media.room;
                rec->actor_role = "room";
            }
            return;
        }
        break;
    case 15: /* a change, then acks */
        if (!mc || st->n_changes >= MAX_CHANGES)
            break;
        tutti__change__init(&g->change);
        snprintf(g->cue, sizeof g->cue, "%s", mc->name);
        snprintf(g->text, sizeof g->text, "bar %u: horns tacet", (unsigned)(seq % 40 + 1));
        g->change.cue = g->cue;
        g->change.text = g->text;
        g->change.bars = "12-16";
        g->change.parts = "horns";
        rec->body_case = TUTTI__RECORD__BODY_CHANGE;
        rec->change = &g->change;
        return;
    case 16:
    case 17: /* london-strings acks every other round's change only */
        if (!st->n_changes || (r == 17 && (round & 1)))
            break;
        tutti__ack__init(&g->ack);
        g->ack.change = st->changes[st->n_changes - 1].id;
        rec->actor = (char *)ROOMS[r - 16];
        rec->actor_role = "room";
        rec->body_case = TUTTI__RECORD__BODY_ACK;
        rec->ack = &g->ack;
        return;
    case 18: /* players in, and out of the room again the next round */
    case 19: {
        tutti__presence__init(&g->presence);
        const char *room = ROOMS[round % N_ROOMS];
        g->presence.room = (char *)room;
        snprintf(g->text, sizeof g->text, "Player %llu", (unsigned long long)round);
        snprintf(g->text2, sizeof g->text2, "Player %llu",
                 (unsigned long long)(round ? round - 1 : 0));
        g->list[0] = g->text;
        g->list[1] = g->text2;
        if (r == 18) {
            g->presence.in = g->list;
            g->presence.n_in = 1;
        } else {
            g->presence.out = g->list + 1;
            g->presence.n_out = 1;
        }
        rec->actor = (char *)room;
        rec->actor_role = "room";
        rec->body_case = TUTTI__RECORD__BODY_PRESENCE;
        rec->presence = &g->presence;
        return;
    }
    case 21:
        tutti__trim__init(&g->trim);
        g->trim.room = (char *)ROOMS[seq % N_ROOMS];
        g->trim.trim_ns = (int64_t)(next_rand(g) % 200000) - 100000;
        rec->body_case = TUTTI__RECORD__BODY_TRIM;
        rec->trim = &g->trim;
        return;
    case 22:
        call_event(g, st, rec);
        rec->actor = "contractor";
        rec->actor_role = "contractor";
        return;
    default: break;
    }
    as_note(g, seq, rec);
}
