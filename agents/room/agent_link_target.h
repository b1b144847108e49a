/* agent_link_target: what the tutti session says a room's Link session
 * should be at an instant (agent_link.h applies it). Plain C: the roll in
 * the folded state, the cue's tempo map and the clock thread's mapping in,
 * an agent_link_target_t out.
 *
 * Beats are quarter notes from bar 1 beat 1 of the map (the count-off
 * counts back from the from-bar at its beat), the quantum is the bar's
 * length in quarters (4/4: 4, 6/8: 3), and the tempo is quarters per
 * minute of the host clock: the map's tempo times the session clock's rate
 * against the host clock, so Link's beat does not drift off the session's
 * between forced beats.
 */
#ifndef AGENT_LINK_TARGET_H
#define AGENT_LINK_TARGET_H

#include <stdint.h>

#include "agent_link.h"
#include "tt_clock_map.h"

typedef struct agent_link_plan agent_link_plan_t;

/* NULL with why on no memory. The plan owns a parsed copy of the map. */
agent_link_plan_t *agent_link_plan_new(char *why);
void agent_link_plan_destroy(agent_link_plan_t **self_p);

/* A roll of map_text (borrowed for the call; parsed when it changes) from
 * from_bar, first count-off click at start_session_ns, stopping at
 * stop_session_ns (INT64_MAX: no stop). Returns 0, or TT_ERR_INVALID with
 * why when the map does not parse (the plan then has no roll). */
int agent_link_plan_roll(agent_link_plan_t *p, const char *map_text, int32_t from_bar,
                         int64_t start_session_ns, int64_t stop_session_ns, char *why);

/* The roll stops at session time at_session_ns (a stop record). */
void agent_link_plan_stop(agent_link_plan_t *p, int64_t at_session_ns);

/* The target at host time host_ns through mapping m (the host clock is the
 * agent's local clock). out->active is 0 before any roll or while m is not
 * valid yet. Never allocates. */
void agent_link_plan_at(const agent_link_plan_t *p, const tt_clock_map_t *m, int64_t host_ns,
                        agent_link_target_t *out);

#endif
