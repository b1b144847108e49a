/* agent_click_pattern: what each click feed plays. See agent_click_pattern.h. */
#include "agent_click_pattern.h"
#include "tt_error.h"

#include <string.h>

static const char *const names[AGENT_PATTERN_N] = {"click", "conductor", "players", "warning",
                                                   "count"};

int agent_click_pattern_parse(const char *name, agent_pattern_t *out, char *why)
{
    for (int p = 0; p < AGENT_PATTERN_N; p++)
        if (strcmp(name, names[p]) == 0) {
            *out = (agent_pattern_t)p;
            return 0;
        }
    return tt_fail(why, TT_ERR_INVALID,
                   "no click pattern \"%s\": one of click, conductor, players, warning, count",
                   name);
}

const char *agent_click_pattern_name(agent_pattern_t p)
{
    return p >= 0 && p < AGENT_PATTERN_N ? names[p] : "?";
}

int agent_click_outputs_add(agent_click_outputs_t *o, const char *arg, char *why)
{
    const char *colon = strchr(arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : 0;
    if (!colon || len == 0 || len > AGENT_CLICK_NAME_LEN)
        return tt_fail(why, TT_ERR_INVALID,
                       "--click %s: write NAME:PATTERN, NAME 1..%d characters, e.g. "
                       "--click band:players",
                       arg, AGENT_CLICK_NAME_LEN);
    for (size_t i = 0; i < len; i++) {
        char ch = arg[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return tt_fail(why, TT_ERR_INVALID,
                           "--click %s: a NAME is letters, digits, '_' and '-' (it names a JACK "
                           "port and a file)",
                           arg);
    }
    if (len == 3 && memcmp(arg, "ltc", 3) == 0)
        return tt_fail(why, TT_ERR_INVALID, "--click %s: \"ltc\" is the timecode port", arg);
    for (int i = 0; i < o->n; i++)
        if (strlen(o->name[i]) == len && memcmp(o->name[i], arg, len) == 0)
            return tt_fail(why, TT_ERR_INVALID, "--click %s: output %.*s given twice", arg,
                           (int)len, arg);
    if (o->n >= AGENT_CLICK_MAX_FEEDS)
        return tt_fail(why, TT_ERR_TOO_BIG, "--click %s: at most %d click outputs", arg,
                       AGENT_CLICK_MAX_FEEDS);
    char inner[TT_WHY_LEN];
    if (agent_click_pattern_parse(colon + 1, &o->pattern[o->n], inner) != 0)
        return tt_fail(why, TT_ERR_INVALID, "--click %s: %s", arg, inner);
    memcpy(o->name[o->n], arg, len);
    o->name[o->n][len] = '\0';
    o->n++;
    return 0;
}

int agent_click_outputs_use(const agent_click_outputs_t *o, agent_pattern_t p)
{
    for (int i = 0; o && i < o->n; i++)
        if (o->pattern[i] == p)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ lead-in */

int agent_click_pattern_lead_in(agent_pattern_t p, const tt_tempo_countoff_t *co, int i,
                                agent_click_event_t *out)
{
    if (i < 0 || i >= co->beats || co->beats_per_bar < 1)
        return 0;
    /* Beat i's place in its bar (the lead-in ends on a bar line), as
     * tt_tempo_countoff_click finds it. */
    int back = co->beats - i;
    int in_bar = ((-back) % co->beats_per_bar + co->beats_per_bar) % co->beats_per_bar;
    int group_start = (int)(co->group_starts >> in_bar & 1u);
    int countoff = back > co->pickup;
    int downbeat = in_bar == 0;
    memset(out, 0, sizeof *out);
    out->ns = -(int64_t)back * co->beat_ns;
    switch (p) {
    case AGENT_PATTERN_CLICK:
        if (!group_start)
            return 0;
        out->sound = countoff ? (downbeat ? AGENT_SOUND_COUNTOFF_ACCENT : AGENT_SOUND_COUNTOFF)
                              : (downbeat ? AGENT_SOUND_ACCENT : AGENT_SOUND_BEAT);
        return 1;
    case AGENT_PATTERN_CONDUCTOR:
        if (!group_start)
            return 0;
        out->sound = downbeat ? AGENT_SOUND_ACCENT : AGENT_SOUND_BEAT;
        return 1;
    case AGENT_PATTERN_PLAYERS: /* every beat */
        out->sound = countoff ? (downbeat ? AGENT_SOUND_COUNTOFF_ACCENT : AGENT_SOUND_COUNTOFF)
                              : (downbeat ? AGENT_SOUND_ACCENT : AGENT_SOUND_BEAT);
        return 1;
    case AGENT_PATTERN_WARNING: /* the bar before the first downbeat */
        if (!group_start || back > co->beats_per_bar)
            return 0;
        out->sound = AGENT_SOUND_WARNING;
        return 1;
    case AGENT_PATTERN_COUNT:
        if (!group_start || !countoff)
            return 0;
        out->sound = AGENT_SOUND_WORD;
        for (int b = 0; b <= in_bar; b++) /* which click of the bar: 1, 2, ... */
            out->word += (int)(co->group_starts >> b & 1u);
        return 1;
    default: return 0;
    }
}

/* ------------------------------------------------------------ the cue */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The players' feed: the map's next click c, or an earlier beat or
 * subdivision inside the group sounding at t. Sounding clicks start at a
 * group's first beat and bar lines start groups, so the only points
 * between t and c that can sound are those of the bar holding t. */
static int players_next(const tt_tempo_map_t *m, int64_t t, int64_t before,
                        agent_click_event_t *out)
{
    tt_click_t c;
    int have = tt_tempo_next_click(m, t, &c) == 0;
    int64_t tick = tt_tempo_ns_to_tick(m, t);
    tt_bbt_t pos = tt_tempo_tick_to_bbt(m, tick);
    tt_meter_t mt;
    tt_tempo_meter_full_at(m, pos.bar, &mt);
    int64_t bt = 4 * TT_TEMPO_PPQ / mt.den;
    int sub = pos.bar >= 1 ? tt_tempo_subdivide_at(m, pos.bar) : 1;
    int64_t step = bt / sub;
    int64_t bar0 = tt_tempo_bbt_to_tick(m, (tt_bbt_t){pos.bar, 1, 0});
    int64_t g = bar0 + floor_div(tick - bar0 + step - 1, step) * step;
    int64_t gns = tt_tempo_tick_to_ns(m, g);
    if (gns < t) {
        g += step;
        gns = tt_tempo_tick_to_ns(m, g);
    }
    if (g < bar0 + (int64_t)mt.num * bt && (!have || g < c.tick) && gns < before &&
        tt_tempo_click_on_at(m, g) && g >= 0) {
        out->ns = gns;
        out->tick = g;
        out->sound = (g - bar0) % bt == 0 ? AGENT_SOUND_BEAT : AGENT_SOUND_SUB;
        return 0;
    }
    if (!have || c.ns >= before)
        return TT_ERR_NOTFOUND;
    out->ns = c.ns;
    out->tick = c.tick;
    out->sound = c.downbeat ? AGENT_SOUND_ACCENT : AGENT_SOUND_BEAT;
    return 0;
}

int agent_click_pattern_next(const tt_tempo_map_t *m, agent_pattern_t p, int64_t at_or_after_ns,
                             int64_t before_ns, agent_click_event_t *out)
{
    memset(out, 0, sizeof *out);
    if (p == AGENT_PATTERN_PLAYERS)
        return players_next(m, at_or_after_ns, before_ns, out);
    if (p == AGENT_PATTERN_COUNT)
        return TT_ERR_NOTFOUND;
    tt_click_t c;
    for (int64_t t = at_or_after_ns; tt_tempo_next_click(m, t, &c) == 0 && c.ns < before_ns;
         t = c.ns + 1) {
        out->ns = c.ns;
        out->tick = c.tick;
        if (p == AGENT_PATTERN_WARNING) {
            if (!tt_tempo_bar_changes_tempo(m, c.pos.bar + 1))
                continue;
            out->sound = AGENT_SOUND_WARNING;
        } else {
            out->sound = c.downbeat ? AGENT_SOUND_ACCENT : AGENT_SOUND_BEAT;
        }
        return 0;
    }
    return TT_ERR_NOTFOUND;
}
