/* agent_link_target: tutti's beat, tempo and transport for Link (see the
 * header). */
#include "agent_link_target.h"

#include "tt_error.h"
#include "tt_tempo.h"

#include <stdlib.h>
#include <string.h>

struct agent_link_plan {
    tt_tempo_map_t *map; /* owned; NULL: no roll */
    char *text;          /* owned: the text map was parsed from */
    int32_t from_bar;
    int64_t start, stop; /* session ns */
    int64_t origin;      /* session ns of the from-bar's beat 1 */
    tt_tempo_countoff_t co;
};

agent_link_plan_t *agent_link_plan_new(char *why)
{
    agent_link_plan_t *p = calloc(1, sizeof *p);
    if (!p)
        tt_fail(why, TT_ERR_NOMEM, "Link plan: out of memory");
    return p;
}

void agent_link_plan_destroy(agent_link_plan_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_tempo_destroy(&(*self_p)->map);
    free((*self_p)->text);
    free(*self_p);
    *self_p = NULL;
}

int agent_link_plan_roll(agent_link_plan_t *p, const char *map_text, int32_t from_bar,
                         int64_t start_session_ns, int64_t stop_session_ns, char *why)
{
    if (!p->text || strcmp(p->text, map_text) != 0) {
        tt_tempo_destroy(&p->map);
        free(p->text);
        p->text = NULL;
        char bad[TT_WHY_LEN];
        p->map = tt_tempo_parse_text(map_text, strlen(map_text), bad);
        if (!p->map)
            return tt_fail(why, TT_ERR_INVALID, "the roll's tempo map: %s", bad);
        if (!(p->text = strdup(map_text))) {
            tt_tempo_destroy(&p->map);
            return tt_fail(why, TT_ERR_NOMEM, "Link plan: out of memory");
        }
    }
    p->from_bar = from_bar;
    p->start = start_session_ns;
    p->stop = stop_session_ns;
    p->origin = start_session_ns + tt_tempo_countoff(p->map, from_bar, &p->co);
    return 0;
}

void agent_link_plan_stop(agent_link_plan_t *p, int64_t at_session_ns)
{
    p->stop = at_session_ns;
}

/* Quarter notes from bar 1 beat 1 at cue time ns (ns from bar 1 beat 1),
 * interpolated inside the tick. */
static double quarters_at(const tt_tempo_map_t *m, int64_t ns)
{
    int64_t tick = tt_tempo_ns_to_tick(m, ns);
    int64_t t0 = tt_tempo_tick_to_ns(m, tick), t1 = tt_tempo_tick_to_ns(m, tick + 1);
    double frac = t1 > t0 ? (double)(ns - t0) / (double)(t1 - t0) : 0.0;
    return ((double)tick + frac) / TT_TEMPO_PPQ;
}

void agent_link_plan_at(const agent_link_plan_t *p, const tt_clock_map_t *m, int64_t host_ns,
                        agent_link_target_t *out)
{
    memset(out, 0, sizeof *out);
    out->host_ns = host_ns;
    if (!p->map || !m->valid)
        return;
    out->active = 1;
    int64_t session = tt_clock_map_session(m, host_ns);
    double rate = m->far_rate > 0 && host_ns > m->knee_local ? m->far_rate : m->rate;
    out->playing = session < p->stop;
    out->play_ns = tt_clock_map_local(m, out->playing ? p->start : p->stop);
    out->in_roll = out->playing;
    int64_t cue = session - p->origin + p->co.c_from;
    int32_t num, den;
    double bpm;
    if (cue < p->co.c_from) { /* the count-off: the from-bar's beat, counted back */
        tt_tempo_meter_at(p->map, p->from_bar, &num, &den);
        double q_per_beat = 4.0 / den;
        out->beat = quarters_at(p->map, p->co.c_from) -
                    (double)(p->co.c_from - cue) / (double)p->co.beat_ns * q_per_beat;
        bpm = 60e9 / (double)p->co.beat_ns * q_per_beat;
    } else {
        out->beat = quarters_at(p->map, cue);
        bpm = tt_tempo_bpm_at(p->map, cue);
        tt_bbt_t pos = tt_tempo_ns_to_bbt(p->map, cue);
        tt_tempo_meter_at(p->map, pos.bar, &num, &den);
    }
    out->bpm = bpm * rate;
    out->quantum = (double)num * 4.0 / den;
}
