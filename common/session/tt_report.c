/* tt_report: per-player totals from the session's attendance, takes and
 * call history (see tt_report.h).
 *
 * The fold keeps the history (tt_session_t's stays, takes with their roll
 * times, call events); the report walks it again in record order, a
 * presence record's outs before its ins, and counts as it goes.
 *
 * Everything is settled as it happens so no history is kept: a stay's
 * minutes when the player leaves, a roll or a break for whoever is present
 * at that record. Overtime is the one figure that depends on the future
 * (the call's wrap), so each player carries the time from which their
 * presence has not yet been counted against the call's overtime window,
 * and that is settled when they leave, when the call wraps, and (on a
 * copy) when the report is drawn at "now".
 *
 * A wrap closes the section it ends (one per call): players still in
 * leave it at the wrap and are copied, present from the wrap, into a new
 * section that the next start makes the next call's.
 */
#include "tt_report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt_csv.h"
#include "tt_error.h"
#include "tt_rules.h"
#include "tt_session.h"
#include "tt_tz.h"

#define NS_PER_MIN INT64_C(60000000000)
#define NS_PER_SEC INT64_C(1000000000)

/* Presence not yet counted against the overtime of the section's call. */
typedef struct {
    int64_t from; /* counted up to here */
    int64_t last; /* last overtime unit counted, -1 none */
    uint64_t units;
} ot_t;

typedef struct {
    uint32_t cue; /* index into the report's cue names */
    uint32_t *takes;
    size_t n_takes, cap_takes;
} pcue_t;

/* One player in one section. */
typedef struct {
    char *name;
    uint32_t *rooms; /* visited, in order of first check-in */
    size_t n_rooms, cap_rooms;
    uint32_t *here; /* rooms checked in to now */
    size_t n_here, cap_here;
    int64_t first_in;
    int64_t last_out; /* valid when has_out */
    int has_out;
    int64_t stay_start; /* valid while n_here > 0 */
    int64_t total_ns;   /* finished stays */
    pcue_t *cues;
    size_t n_cues, cap_cues;
    uint64_t breaks;
    ot_t ot;
} player_t;

typedef struct {
    char **names;
    size_t n, cap;
} names_t;

/* The records from one wrap to the next: one call's, or none's. */
typedef struct {
    player_t **players; /* sorted by name */
    size_t n_players, cap_players;
    uint32_t call_no; /* 1-based number of its call in the log; 0: no call */
    tt_call_t call;   /* that call (started when call_no > 0) */
} section_t;

typedef struct tt_report {
    section_t *sections; /* the last one takes the records */
    size_t n_sections, cap_sections;
    names_t rooms, cues;
    uint32_t calls;
} tt_report_t; /* one drawing of the report */

/* ---- small helpers ---- */

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap : 4;
    while (cap2 < need)
        cap2 *= 2;
    void *q = realloc(*p, cap2 * size);
    if (!q)
        return -1;
    *p = q;
    *cap = cap2;
    return 0;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* Index of name in t, or -1. */
static long names_find(const names_t *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->names[i], name))
            return (long)i;
    return -1;
}

/* Index of name in t, added if new; -1 when out of memory. */
static long names_intern(names_t *t, const char *name)
{
    long i = names_find(t, name);
    if (i >= 0)
        return i;
    char *copy = strdup(name);
    if (!copy || grow((void **)&t->names, &t->cap, t->n + 1, sizeof *t->names) != 0) {
        free(copy);
        return -1;
    }
    t->names[t->n] = copy;
    return (long)t->n++;
}

static void names_free(names_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->names[i]);
    free(t->names);
    memset(t, 0, sizeof *t);
}

static int has_index(const uint32_t *a, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] == x)
            return 1;
    return 0;
}

/* ---- lifecycle ---- */

static void player_free(player_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_cues; i++)
        free(p->cues[i].takes);
    free(p->cues);
    free(p->rooms);
    free(p->here);
    free(p->name);
    free(p);
}

static void section_free(section_t *sec)
{
    for (size_t i = 0; i < sec->n_players; i++)
        player_free(sec->players[i]);
    free(sec->players);
}

static void report_destroy(tt_report_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_report_t *r = *self_p;
    for (size_t i = 0; i < r->n_sections; i++)
        section_free(&r->sections[i]);
    free(r->sections);
    names_free(&r->rooms);
    names_free(&r->cues);
    free(r);
    *self_p = NULL;
}

/* A new, empty last section; -1 when out of memory. */
static int section_open(tt_report_t *r)
{
    if (grow((void **)&r->sections, &r->cap_sections, r->n_sections + 1, sizeof *r->sections) != 0)
        return -1;
    memset(&r->sections[r->n_sections++], 0, sizeof *r->sections);
    return 0;
}

static tt_report_t *report_new(void)
{
    tt_report_t *r = calloc(1, sizeof *r);
    if (r && section_open(r) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

static section_t *cur(tt_report_t *r)
{
    return &r->sections[r->n_sections - 1];
}

/* ---- players ---- */

/* Binary search: the player's index, or where it would go (*found 0). */
static size_t player_slot(const section_t *r, const char *name, int *found)
{
    size_t lo = 0, hi = r->n_players;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->players[mid]->name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static player_t *player_find(const section_t *r, const char *name)
{
    int found;
    size_t i = player_slot(r, name, &found);
    return found ? r->players[i] : NULL;
}

static player_t *player_add(section_t *r, const char *name)
{
    int found;
    size_t i = player_slot(r, name, &found);
    if (found)
        return r->players[i];
    if (grow((void **)&r->players, &r->cap_players, r->n_players + 1, sizeof *r->players) != 0)
        return NULL;
    player_t *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(name))) {
        free(p);
        return NULL;
    }
    p->ot.last = -1;
    memmove(&r->players[i + 1], &r->players[i], (r->n_players - i) * sizeof *r->players);
    r->players[i] = p;
    r->n_players++;
    return p;
}

/* Counts ot->from .. to against the overtime window of the section's
 * call, each unit of it once. */
static void settle(const section_t *sec, ot_t *ot, int64_t to)
{
    int64_t from = ot->from;
    if (to > ot->from)
        ot->from = to;
    const tt_call_t *c = &sec->call;
    if (!sec->call_no || !c->started || c->rules.overtime_unit_minutes <= 0)
        return;
    int64_t call_ns = (int64_t)c->rules.call_minutes * NS_PER_MIN;
    if (c->start_ns > INT64_MAX - call_ns)
        return;
    int64_t os = c->start_ns + call_ns;
    int64_t oe = c->wrap_ns ? c->wrap_ns : INT64_MAX;
    int64_t a = from > os ? from : os;
    int64_t b = to < oe ? to : oe;
    if (a >= b)
        return;
    int64_t unit = (int64_t)c->rules.overtime_unit_minutes * NS_PER_MIN;
    int64_t first = (a - os) / unit, last = (b - os - 1) / unit;
    if (first <= ot->last)
        first = ot->last + 1;
    if (first <= last) {
        ot->units += (uint64_t)(last - first + 1);
        ot->last = last;
    }
}

/* ---- records ---- */

static int add_presence(tt_report_t *rep, const Tutti__Record *rec, char *why)
{
    section_t *r = cur(rep);
    const Tutti__Presence *pr = rec->presence;
    int64_t t = rec->at_unix_ns;
    const char *room = str_or_empty(pr->room);

    /* Limits first, so a refused record changes nothing. */
    size_t fresh = 0;
    for (size_t k = 0; k < pr->n_in; k++) {
        const char *name = str_or_empty(pr->in[k]);
        if (player_find(r, name))
            continue;
        size_t j;
        for (j = 0; j < k; j++)
            if (!strcmp(str_or_empty(pr->in[j]), name))
                break;
        if (j == k)
            fresh++;
    }
    if (r->n_players + fresh > TT_REPORT_MAX_PLAYERS)
        return tt_fail(why, TT_ERR_TOO_BIG, "record %" PRIu64 ": more than %d players", rec->seq,
                       TT_REPORT_MAX_PLAYERS);
    long ri = names_find(&rep->rooms, room);
    if (ri < 0 && pr->n_in > 0 && rep->rooms.n >= TT_REPORT_MAX_ROOMS)
        return tt_fail(why, TT_ERR_TOO_BIG, "record %" PRIu64 ": more than %d rooms", rec->seq,
                       TT_REPORT_MAX_ROOMS);

    for (size_t k = 0; ri >= 0 && k < pr->n_out; k++) {
        player_t *p = player_find(r, str_or_empty(pr->out[k]));
        if (!p)
            continue;
        size_t i;
        for (i = 0; i < p->n_here && p->here[i] != (uint32_t)ri; i++)
            ;
        if (i == p->n_here)
            continue; /* not in that room */
        p->here[i] = p->here[--p->n_here];
        if (p->n_here == 0) {
            if (t > p->stay_start)
                p->total_ns += t - p->stay_start;
            p->last_out = t;
            p->has_out = 1;
            settle(r, &p->ot, t);
        }
    }
    if (pr->n_in == 0)
        return 0;
    if (ri < 0 && (ri = names_intern(&rep->rooms, room)) < 0)
        return tt_fail(why, TT_ERR_NOMEM, "record %" PRIu64 ": adding room %s", rec->seq, room);
    for (size_t k = 0; k < pr->n_in; k++) {
        const char *name = str_or_empty(pr->in[k]);
        player_t *p = player_add(r, name);
        if (!p)
            return tt_fail(why, TT_ERR_NOMEM, "record %" PRIu64 ": adding player", rec->seq);
        if (has_index(p->here, p->n_here, (uint32_t)ri))
            continue; /* checked in twice: one stay */
        if (grow((void **)&p->here, &p->cap_here, p->n_here + 1, sizeof *p->here) != 0 ||
            grow((void **)&p->rooms, &p->cap_rooms, p->n_rooms + 1, sizeof *p->rooms) != 0)
            return tt_fail(why, TT_ERR_NOMEM, "record %" PRIu64 ": checking in", rec->seq);
        if (p->n_here == 0) { /* a stay begins */
            if (p->n_rooms == 0)
                p->first_in = t;
            p->stay_start = t;
            p->ot.from = t;
        }
        p->here[p->n_here++] = (uint32_t)ri;
        if (!has_index(p->rooms, p->n_rooms, (uint32_t)ri))
            p->rooms[p->n_rooms++] = (uint32_t)ri;
    }
    return 0;
}

static pcue_t *player_cue(player_t *p, uint32_t cue)
{
    for (size_t i = 0; i < p->n_cues; i++)
        if (p->cues[i].cue == cue)
            return &p->cues[i];
    return NULL;
}

static int add_roll(tt_report_t *rep, const Tutti__Record *rec, char *why)
{
    section_t *r = cur(rep);
    const Tutti__Roll *roll = rec->roll;
    const char *cue = str_or_empty(roll->cue);
    long ci = names_find(&rep->cues, cue);
    size_t present = 0;
    for (size_t i = 0; i < r->n_players; i++) {
        player_t *p = r->players[i];
        if (p->n_here == 0)
            continue;
        present++;
        pcue_t *pc = ci >= 0 ? player_cue(p, (uint32_t)ci) : NULL;
        if (!pc && p->n_cues >= TT_REPORT_MAX_CUES)
            return tt_fail(why, TT_ERR_TOO_BIG, "record %" PRIu64 ": %s played more than %d cues",
                           rec->seq, p->name, TT_REPORT_MAX_CUES);
        if (pc && pc->n_takes >= TT_REPORT_MAX_TAKES &&
            !has_index(pc->takes, pc->n_takes, roll->take))
            return tt_fail(why, TT_ERR_TOO_BIG,
                           "record %" PRIu64 ": %s played more than %d takes of %s", rec->seq,
                           p->name, TT_REPORT_MAX_TAKES, cue);
    }
    if (present == 0)
        return 0;
    if (ci < 0 && (ci = names_intern(&rep->cues, cue)) < 0)
        return tt_fail(why, TT_ERR_NOMEM, "record %" PRIu64 ": adding cue", rec->seq);
    for (size_t i = 0; i < r->n_players; i++) {
        player_t *p = r->players[i];
        if (p->n_here == 0)
            continue;
        pcue_t *pc = player_cue(p, (uint32_t)ci);
        if (!pc) {
            if (grow((void **)&p->cues, &p->cap_cues, p->n_cues + 1, sizeof *p->cues) != 0)
                return tt_fail(why, TT_ERR_NOMEM, "record %" PRIu64 ": adding cue", rec->seq);
            pc = &p->cues[p->n_cues++];
            memset(pc, 0, sizeof *pc);
            pc->cue = (uint32_t)ci;
        }
        if (has_index(pc->takes, pc->n_takes, roll->take))
            continue;
        if (grow((void **)&pc->takes, &pc->cap_takes, pc->n_takes + 1, sizeof *pc->takes) != 0)
            return tt_fail(why, TT_ERR_NOMEM, "record %" PRIu64 ": adding take", rec->seq);
        pc->takes[pc->n_takes++] = roll->take;
    }
    return 0;
}

/* The wrap closed section sec: whoever is still in leaves it at the wrap
 * and stays on, from the wrap, in the next section (no call's, until a
 * start). -1 when out of memory. */
static int carry_over(tt_report_t *r, int64_t wrap_ns)
{
    if (section_open(r) != 0)
        return -1;
    section_t *prev = &r->sections[r->n_sections - 2], *next = cur(r);
    for (size_t i = 0; i < prev->n_players; i++) {
        player_t *p = prev->players[i];
        if (p->n_here == 0)
            continue;
        if (wrap_ns > p->stay_start)
            p->total_ns += wrap_ns - p->stay_start;
        p->last_out = wrap_ns;
        p->has_out = 1;
        player_t *q = player_add(next, p->name);
        if (!q || grow((void **)&q->here, &q->cap_here, p->n_here, sizeof *q->here) != 0 ||
            grow((void **)&q->rooms, &q->cap_rooms, p->n_here, sizeof *q->rooms) != 0)
            return -1;
        memcpy(q->here, p->here, p->n_here * sizeof *q->here);
        memcpy(q->rooms, p->here, p->n_here * sizeof *q->rooms);
        q->n_here = q->n_rooms = p->n_here;
        q->first_in = q->stay_start = q->ot.from = wrap_ns;
        p->n_here = 0;
    }
    return 0;
}

/* A call event the session folded (so the call took it). */
static int add_call(tt_report_t *rep, const tt_session_call_event_t *e, char *why)
{
    section_t *r = cur(rep);
    const char *action = e->action;
    int start = !strcmp(action, "start");
    if (start && rep->calls >= TT_REPORT_MAX_CALLS)
        return tt_fail(why, TT_ERR_TOO_BIG, "record %" PRIu64 ": more than %d calls", e->seq,
                       TT_REPORT_MAX_CALLS);
    char cwhy[TT_WHY_LEN];
    int rc = tt_call_apply(&r->call, action, start ? &e->rules : NULL, e->at_unix_ns, cwhy);
    if (rc != 0)
        return tt_fail(why, rc, "record %" PRIu64 ": call %s: %s", e->seq, action, cwhy);
    if (start) {
        r->call_no = ++rep->calls;
    } else if (!strcmp(action, "break-start")) {
        for (size_t i = 0; i < r->n_players; i++)
            if (r->players[i]->n_here > 0)
                r->players[i]->breaks++;
    } else if (!strcmp(action, "wrap")) {
        for (size_t i = 0; i < r->n_players; i++)
            if (r->players[i]->n_here > 0)
                settle(r, &r->players[i]->ot, r->call.wrap_ns);
        uint32_t no = r->call_no;
        if (carry_over(rep, r->call.wrap_ns) != 0) /* r moves with the sections */
            return tt_fail(why, TT_ERR_NOMEM, "record %" PRIu64 ": closing call %" PRIu32, e->seq,
                           no);
    }
    return 0;
}

/* ---- the fold's history, in record order ---- */

enum { EV_OUT, EV_IN, EV_ROLL, EV_CALL }; /* outs before ins within a presence record */

typedef struct {
    uint64_t seq;
    int kind;
    size_t idx; /* stay, call event */
    const char *cue;
    const tt_session_take_t *take;
} ev_t;

static int ev_cmp(const void *a, const void *b)
{
    const ev_t *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Every presence, roll and call event the state remembers, by record. */
static ev_t *history(const tt_session_t *s, size_t *n_out)
{
    size_t n = s->n_call_events;
    for (size_t i = 0; i < s->n_stays; i++)
        n += s->stays[i].out_seq ? 2 : 1;
    for (size_t i = 0; i < s->n_cues; i++)
        n += s->cues[i].n_takes;
    ev_t *ev = calloc(n ? n : 1, sizeof *ev);
    if (!ev)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < s->n_stays; i++) {
        ev[k++] = (ev_t){.seq = s->stays[i].in_seq, .kind = EV_IN, .idx = i};
        if (s->stays[i].out_seq)
            ev[k++] = (ev_t){.seq = s->stays[i].out_seq, .kind = EV_OUT, .idx = i};
    }
    for (size_t i = 0; i < s->n_cues; i++)
        for (size_t t = 0; t < s->cues[i].n_takes; t++)
            ev[k++] = (ev_t){.seq = s->cues[i].takes[t].roll_seq,
                             .kind = EV_ROLL,
                             .idx = t,
                             .cue = s->cues[i].name,
                             .take = &s->cues[i].takes[t]};
    for (size_t i = 0; i < s->n_call_events; i++)
        ev[k++] = (ev_t){.seq = s->call_events[i].seq, .kind = EV_CALL, .idx = i};
    qsort(ev, k, sizeof *ev, ev_cmp);
    *n_out = k;
    return ev;
}

/* The presence record of events ev[0..n) (one seq, one room) again. */
static int add_presence_events(tt_report_t *r, const tt_session_t *s, const ev_t *ev, size_t n,
                               char *why)
{
    char **names = calloc(n, sizeof *names);
    if (!names)
        return tt_fail(why, TT_ERR_NOMEM, "record %" PRIu64 ": presence", ev[0].seq);
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Presence p = TUTTI__PRESENCE__INIT;
    rec.seq = ev[0].seq;
    rec.body_case = TUTTI__RECORD__BODY_PRESENCE;
    rec.presence = &p;
    for (size_t i = 0; i < n; i++) {
        const tt_session_stay_t *st = &s->stays[ev[i].idx];
        p.room = (char *)st->room;
        names[i] = (char *)st->name;
        if (ev[i].kind == EV_OUT) {
            rec.at_unix_ns = st->out_unix_ns;
            p.n_out++;
        } else {
            rec.at_unix_ns = st->in_unix_ns;
            p.n_in++;
        }
    }
    p.out = names;
    p.in = names + p.n_out;
    int rc = add_presence(r, &rec, why);
    free(names);
    return rc;
}

static int add_roll_event(tt_report_t *r, const ev_t *e, char *why)
{
    Tutti__Record rec = TUTTI__RECORD__INIT;
    Tutti__Roll roll = TUTTI__ROLL__INIT;
    roll.cue = (char *)e->cue;
    roll.take = e->take->number;
    rec.seq = e->seq;
    rec.at_unix_ns = e->take->roll_unix_ns;
    rec.body_case = TUTTI__RECORD__BODY_ROLL;
    rec.roll = &roll;
    return add_roll(r, &rec, why);
}

/* The report of s's history; a record over the limits is left out (the
 * count and the first reason go to note). NULL with why when out of
 * memory. */
static tt_report_t *report_of(const tt_session_t *s, char *note, char *why)
{
    note[0] = '\0';
    size_t n = 0;
    ev_t *ev = history(s, &n);
    tt_report_t *r = ev ? report_new() : NULL;
    if (!r) {
        free(ev);
        tt_fail(why, TT_ERR_NOMEM, "drawing the report");
        return NULL;
    }
    size_t left_out = 0;
    char first[TT_WHY_LEN] = "";
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        int rc;
        if (ev[i].kind == EV_OUT || ev[i].kind == EV_IN) {
            while (j < n && ev[j].seq == ev[i].seq && ev[j].kind <= EV_IN)
                j++;
            rc = add_presence_events(r, s, &ev[i], j - i, why);
        } else if (ev[i].kind == EV_ROLL) {
            rc = add_roll_event(r, &ev[i], why);
        } else {
            rc = add_call(r, &s->call_events[ev[i].idx], why);
        }
        if (rc == TT_ERR_TOO_BIG || rc == TT_ERR_INVALID) {
            if (!left_out++)
                snprintf(first, sizeof first, "%s", why);
        } else if (rc != 0) {
            free(ev);
            report_destroy(&r);
            return NULL;
        }
        i = j;
    }
    free(ev);
    if (left_out)
        snprintf(note, TT_WHY_LEN, "%zu record%s left out of the report: %.400s", left_out,
                 left_out == 1 ? "" : "s", first);
    return r;
}

/* ---- CSV ---- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sb_t;

static void sb_put(sb_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (grow((void **)&b->p, &b->cap, b->n + n + 1, 1) != 0) {
        b->oom = 1;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sb_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sb_t *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = 1; /* only short numbers go through here */
        return;
    }
    sb_put(b, tmp, (size_t)n);
}

static void sb_put_any(void *b, const char *s, size_t n)
{
    sb_put(b, s, n);
}

/* One cell through tt_csv (RFC 4180, formulas neutralised), then its separator. */
static void csv_field(sb_t *out, const char *s, size_t n, int last)
{
    tt_csv_cell(s, n, sb_put_any, out);
    sb_str(out, last ? "\r\n" : ",");
}

static void csv_sb(sb_t *out, sb_t *field, int last)
{
    csv_field(out, field->p ? field->p : "", field->n, last);
    field->n = 0;
    if (field->p)
        field->p[0] = '\0';
}

/* A player of sec as drawn at now: stays still open (only in the last
 * section) run to now, their overtime counted on a copy. */
typedef struct {
    int in;
    int64_t total_ns;
    uint64_t ot_units;
} pview_t;

static void player_view(const section_t *sec, const player_t *p, int64_t now, pview_t *v)
{
    v->in = p->n_here > 0;
    v->total_ns = p->total_ns;
    ot_t ot = p->ot;
    if (v->in) {
        if (now > p->stay_start)
            v->total_ns += now - p->stay_start;
        settle(sec, &ot, now);
    }
    v->ot_units = ot.units;
}

/* rooms (sep between) and cues ("1M1 t1 t2;1M2 t1") of p into f. */
static void put_rooms(sb_t *f, const tt_report_t *r, const player_t *p, const char *sep)
{
    for (size_t k = 0; k < p->n_rooms; k++) {
        if (k)
            sb_str(f, sep);
        sb_str(f, r->rooms.names[p->rooms[k]]);
    }
}

static void put_cues(sb_t *f, const tt_report_t *r, const player_t *p, const char *sep)
{
    for (size_t k = 0; k < p->n_cues; k++) {
        const pcue_t *pc = &p->cues[k];
        if (k)
            sb_str(f, sep);
        sb_str(f, r->cues.names[pc->cue]);
        for (size_t j = 0; j < pc->n_takes; j++)
            sb_printf(f, " t%" PRIu32, pc->takes[j]);
    }
}

/* The report drawn at now into *out; text or CSV. */
static int finish(sb_t *b, sb_t *f, tt_report_t **r, const char *note, char **out, size_t *out_len,
                  char *why)
{
    free(f->p);
    report_destroy(r);
    if (b->oom || f->oom) {
        free(b->p);
        return tt_fail(why, TT_ERR_NOMEM, "drawing the report");
    }
    *out = b->p;
    if (out_len)
        *out_len = b->n;
    snprintf(why, TT_WHY_LEN, "%s", note);
    return 0;
}

int tt_report_csv(const tt_session_t *s, int64_t now_unix_ns, char **out, size_t *out_len,
                  char *why)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    char note[TT_WHY_LEN];
    tt_report_t *r = report_of(s, note, why);
    if (!r)
        return TT_ERR_NOMEM;
    sb_t b = {0}, f = {0};
    const char *zone = tt_tz_name();
    sb_str(&b, "call,player,rooms,time_in,time_out,minutes,cues,breaks,overtime_units,"
               "time_zone\r\n");
    for (size_t si = 0; si < r->n_sections; si++) {
        const section_t *sec = &r->sections[si];
        for (size_t i = 0; i < sec->n_players; i++) {
            const player_t *p = sec->players[i];
            pview_t v;
            player_view(sec, p, now_unix_ns, &v);
            char when[TT_TZ_ISO_LEN];
            if (sec->call_no)
                sb_printf(&f, "%" PRIu32, sec->call_no);
            csv_sb(&b, &f, 0);
            csv_field(&b, p->name, strlen(p->name), 0);
            put_rooms(&f, r, p, ";");
            csv_sb(&b, &f, 0);
            tt_tz_iso(p->first_in, when);
            csv_field(&b, when, strlen(when), 0);
            if (!v.in && p->has_out) {
                tt_tz_iso(p->last_out, when);
                csv_field(&b, when, strlen(when), 0);
            } else {
                csv_field(&b, "", 0, 0);
            }
            sb_printf(&f, "%" PRId64, v.total_ns / NS_PER_MIN);
            csv_sb(&b, &f, 0);
            put_cues(&f, r, p, ";");
            csv_sb(&b, &f, 0);
            sb_printf(&f, "%" PRIu64, p->breaks);
            csv_sb(&b, &f, 0);
            sb_printf(&f, "%" PRIu64, v.ot_units);
            csv_sb(&b, &f, 0);
            csv_field(&b, zone, strlen(zone), 1);
        }
    }
    return finish(&b, &f, &r, note, out, out_len, why);
}

/* ---- text ---- */

/* Characters on screen of UTF-8 s (code points; names have no controls). */
static size_t width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)s[i] & 0xC0) != 0x80;
    return w;
}

/* s, then spaces to w characters (at least one). */
static void put_padded(sb_t *b, const char *s, size_t n, size_t w)
{
    sb_put(b, s, n);
    size_t k = width(s, n);
    do
        sb_str(b, " ");
    while (++k < w);
}

/* "HH:MM:SS" in the zone, with the date when it is not day's. */
static void clock_text(int64_t ns, const struct tm *day, char out[40])
{
    struct tm tm;
    tt_tz_local(ns, &tm);
    const char *fmt = day && tm.tm_year == day->tm_year && tm.tm_yday == day->tm_yday
                          ? "%H:%M:%S"
                          : "%Y-%m-%d %H:%M:%S";
    if (strftime(out, 40, fmt, &tm) == 0)
        snprintf(out, 40, "?");
}

static void hms(sb_t *b, int64_t ns)
{
    int64_t sec = ns > 0 ? ns / NS_PER_SEC : 0;
    sb_printf(b, "%" PRId64 ":%02d:%02d", sec / 3600, (int)(sec / 60 % 60), (int)(sec % 60));
}

static void section_heading(sb_t *b, const tt_report_t *r, const section_t *sec, int64_t now,
                            struct tm *day)
{
    char t[40];
    if (!sec->call_no) {
        if (sec->n_players)
            tt_tz_local(sec->players[0]->first_in, day);
        if (r->calls)
            sb_printf(b, "After the wrap of call %" PRIu32 " (no call)\n", r->calls);
        else
            sb_str(b, "No call started\n");
        return;
    }
    const tt_call_t *c = &sec->call;
    tt_call_clock_t k;
    tt_call_clock(c, c->wrap_ns ? c->wrap_ns : now, &k);
    tt_tz_local(c->start_ns, day);
    sb_printf(b, "Call %" PRIu32 ": ", sec->call_no);
    sb_str(b, c->rules.id);
    sb_str(b, " (");
    sb_str(b, c->rules.title);
    sb_str(b, "), ");
    clock_text(c->start_ns, NULL, t);
    sb_str(b, t);
    if (c->wrap_ns) {
        clock_text(c->wrap_ns, day, t);
        sb_str(b, " to ");
        sb_str(b, t);
        sb_str(b, ", ");
        hms(b, k.elapsed_ns);
    } else {
        sb_str(b, ", running: ");
        hms(b, k.elapsed_ns);
        sb_str(b, " so far");
    }
    sb_printf(b, "; %zu break%s; overtime ", k.breaks_taken, k.breaks_taken == 1 ? "" : "s");
    hms(b, k.overtime_ns);
    if (c->rules.overtime_unit_minutes > 0)
        sb_printf(b, " (%d unit%s of %d min)", k.overtime_units, k.overtime_units == 1 ? "" : "s",
                  c->rules.overtime_unit_minutes);
    sb_str(b, "\n");
}

int tt_report_text(const tt_session_t *s, int64_t now_unix_ns, char **out, size_t *out_len,
                   char *why)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    char note[TT_WHY_LEN];
    tt_report_t *r = report_of(s, note, why);
    if (!r)
        return TT_ERR_NOMEM;
    sb_t b = {0}, f = {0};
    char t[40];
    clock_text(now_unix_ns, NULL, t);
    int off = tt_tz_offset_s(now_unix_ns), aoff = off < 0 ? -off : off;
    sb_str(&b, "Report of session ");
    sb_str(&b, s->session_name[0] ? s->session_name : "(unnamed)");
    sb_str(&b, ", drawn ");
    sb_str(&b, t);
    sb_str(&b, "; times in ");
    sb_str(&b, tt_tz_name());
    sb_printf(&b, " (UTC%c%02d:%02d)\n", off < 0 ? '-' : '+', aoff / 3600 % 24, aoff / 60 % 60);
    size_t shown = 0;
    for (size_t si = 0; si < r->n_sections; si++) {
        const section_t *sec = &r->sections[si];
        if (!sec->call_no && !sec->n_players)
            continue; /* nothing happened between a wrap and the next start */
        struct tm day;
        memset(&day, 0, sizeof day);
        sb_str(&b, "\n");
        section_heading(&b, r, sec, now_unix_ns, &day);
        shown++;
        if (!sec->n_players) {
            sb_str(&b, "  nobody checked in\n");
            continue;
        }
        /* Column widths: the longest name and room list. */
        size_t wn = strlen("player"), wr = strlen("rooms");
        for (size_t i = 0; i < sec->n_players; i++) {
            const player_t *p = sec->players[i];
            size_t w = width(p->name, strlen(p->name));
            wn = w > wn ? w : wn;
            put_rooms(&f, r, p, ", ");
            w = width(f.p ? f.p : "", f.n);
            wr = w > wr ? w : wr;
            f.n = 0;
        }
        sb_str(&b, "  ");
        put_padded(&b, "player", 6, wn + 2);
        put_padded(&b, "rooms", 5, wr + 2);
        sb_str(&b, "in        out       minutes  breaks  overtime units  cues\n");
        for (size_t i = 0; i < sec->n_players; i++) {
            const player_t *p = sec->players[i];
            pview_t v;
            player_view(sec, p, now_unix_ns, &v);
            sb_str(&b, "  ");
            put_padded(&b, p->name, strlen(p->name), wn + 2);
            put_rooms(&f, r, p, ", ");
            put_padded(&b, f.p ? f.p : "", f.n, wr + 2);
            f.n = 0;
            clock_text(p->first_in, &day, t);
            put_padded(&b, t, strlen(t), 10);
            if (!v.in && p->has_out)
                clock_text(p->last_out, &day, t);
            else
                snprintf(t, sizeof t, "(in)");
            put_padded(&b, t, strlen(t), 10);
            sb_printf(&b, "%7" PRId64 "  %6" PRIu64 "  %14" PRIu64, v.total_ns / NS_PER_MIN,
                      p->breaks, v.ot_units);
            put_cues(&f, r, p, "; ");
            if (f.n)
                sb_str(&b, "  ");
            sb_put(&b, f.p ? f.p : "", f.n);
            f.n = 0;
            sb_str(&b, "\n");
        }
    }
    if (!shown)
        sb_str(&b, "\nNo call started and nobody checked in.\n");
    return finish(&b, &f, &r, note, out, out_len, why);
}
