/* agent_click_pattern: which clicks a click feed plays, and with which sound.
 *
 * A room may run several click outputs ("feeds", --click NAME:PATTERN),
 * all rendered by agent_click from the one roll and the one map, each
 * through a pattern:
 *   click      today's click (the default output): every click of the map
 *              (a beat, or a group's first beat), the downbeat accented, the
 *              count-off in its own two sounds.
 *   conductor  the same clicks, counted off in the accent/beat sounds: the
 *              bar's downbeat accented, only the group beats (6/8 in 2 is
 *              two clicks), never subdivided.
 *   players    every beat (all six of a 6/8 in 2), the downbeat accented,
 *              and where the map says "subdivide N" each beat split in N
 *              (the extra clicks in the subdivision sound). The lead-in is
 *              clicked on its beats, not subdivided.
 *   warning    only warning clicks, in the warning sound, on the group
 *              beats of the bar before the first downbeat (the lead-in's
 *              last bar) and of each bar before a bar where the tempo
 *              changes (tt_tempo_bar_changes_tempo).
 *   count      a spoken count-off: on each count-off click the number of
 *              that click in its bar ("one, two, three, four"; 6/8 in 2:
 *              "one, two"), then silence (the pickup and the cue too).
 * The map's silences (click off, free time, past the end) hold for every
 * feed.
 *
 * Two sources of events, as agent_click renders them: the lead-in of a roll
 * (tt_tempo_countoff: beats i = 0 .. co.beats-1) and the cue from the first
 * bar played (the map's clicks, through agent_click_pattern_next).
 *
 * Everything here reads a const map and never allocates, locks or blocks:
 * real-time safe.
 */
#ifndef AGENT_CLICK_PATTERN_H
#define AGENT_CLICK_PATTERN_H

#include <stdint.h>

#include "tt_tempo.h"

typedef enum {
    AGENT_PATTERN_CLICK, /* today's single click output */
    AGENT_PATTERN_CONDUCTOR,
    AGENT_PATTERN_PLAYERS,
    AGENT_PATTERN_WARNING,
    AGENT_PATTERN_COUNT,
    AGENT_PATTERN_N
} agent_pattern_t;

/* The sounds a feed plays (agent_click synthesizes them; a word is a
 * spoken-number sample, or a tone where there is none). */
typedef enum {
    AGENT_SOUND_ACCENT,
    AGENT_SOUND_BEAT,
    AGENT_SOUND_COUNTOFF_ACCENT,
    AGENT_SOUND_COUNTOFF,
    AGENT_SOUND_SUB,
    AGENT_SOUND_WARNING,
    AGENT_SOUND_WORD,
    AGENT_SOUND_N
} agent_sound_t;

typedef struct {
    int64_t ns;   /* cue time; a lead-in beat's is relative to co.c_from (< 0) */
    int64_t tick; /* cue events: the position (lead-in: 0) */
    int sound;    /* agent_sound_t */
    int word;     /* AGENT_SOUND_WORD: the number to say, 1.. */
} agent_click_event_t;

/* A room's click outputs, from --click NAME:PATTERN (n 0: the one
 * default output "click", pattern click). */
#define AGENT_CLICK_MAX_FEEDS 8
#define AGENT_CLICK_NAME_LEN 32
typedef struct {
    int n;
    char name[AGENT_CLICK_MAX_FEEDS][AGENT_CLICK_NAME_LEN + 1];
    agent_pattern_t pattern[AGENT_CLICK_MAX_FEEDS];
    const char *samples_dir; /* borrowed; NULL: AGENT_CLICK_SAMPLES_DIR */
} agent_click_outputs_t;

/* Adds "NAME:PATTERN" (NAME 1..32 of [A-Za-z0-9_-], unique, not "ltc").
 * Returns 0, or TT_ERR_INVALID / TT_ERR_TOO_BIG with the reason in why. */
int agent_click_outputs_add(agent_click_outputs_t *o, const char *arg, char *why);
/* 1 if an output uses pattern p. */
int agent_click_outputs_use(const agent_click_outputs_t *o, agent_pattern_t p);

/* "click", "conductor", "players", "warning" or "count" -> *out; else
 * TT_ERR_INVALID with the names in why. */
int agent_click_pattern_parse(const char *name, agent_pattern_t *out, char *why);
const char *agent_click_pattern_name(agent_pattern_t p);

/* Beat i of a roll's lead-in: 1 and *out when the pattern sounds there,
 * else 0. */
int agent_click_pattern_lead_in(agent_pattern_t p, const tt_tempo_countoff_t *co, int i,
                                agent_click_event_t *out);

/* The pattern's first event of the cue at or after at_or_after_ns and
 * before before_ns (cue time): 0 and *out, or TT_ERR_NOTFOUND when there
 * is none in that span. The span bounds the work: the warning feed's next
 * click may be far away. For "count" there are none. */
int agent_click_pattern_next(const tt_tempo_map_t *m, agent_pattern_t p, int64_t at_or_after_ns,
                             int64_t before_ns, agent_click_event_t *out);

#endif
