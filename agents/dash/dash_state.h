/* dash_state: the dashboard's view of the session, as the JSON the page
 * renders (see agents/dash/app.js for the reader).
 *
 * Built by the main thread from the one session fold (tt_session), the
 * coordinator's latest status reply (rooms online, their clocks) and the
 * time now. Pure apart from reading its arguments and the time zone
 * (tt_tz): no I/O, no clocks.
 *
 * What the page reads besides the fold's view: "coordinator" {online,
 * unreachable_since_unix_ms (its last answer; 0 while online)}; rooms with
 * "reach" online|offline|unknown (unknown, clock null, while the
 * coordinator is unreachable); "tz" {name, offset_s (now)}; "checked_in"
 * [{room, players}] from the log; the transport's "count_in" {beat (0
 * before the first click), of}, "tc" {frame, phase (0..1 into it), num,
 * den (frames a second = num/den), nominal, drop}, "beats" [{in_ms, bar,
 * beat, count (lead-in beat, else 0)}] for the next 3 s, "downbeat_in_ms"
 * and "stop_in_ms" (null: none), all ms from now, so the page can tick
 * between states.
 */
#ifndef DASH_STATE_H
#define DASH_STATE_H

#include <jansson.h>
#include <stdint.h>

#include "tt_rules.h"
#include "tt_session.h"
#include "tutti.pb-c.h"

typedef struct {
    const tt_session_t *session;
    const Tutti__StatusReply *status; /* NULL: no status yet */
    int64_t session_now_ns;           /* coordinator session time now (estimated) */
    int coordinator_online;
    int64_t coordinator_last_unix_ns; /* its last status answer (or the start), wall clock */
    int read_only;
    int64_t now_unix_ns;
    const tt_rules_t *const *presets; /* offered for "start call" */
    size_t n_presets;
} dash_state_in_t;

/* The state JSON, malloc'd (caller frees), or NULL when out of memory. */
char *dash_state_json(const dash_state_in_t *in);

/* A one-line summary of a record for the page's feed, malloc'd JSON:
 * {"seq","kind","actor","at_unix_ms","summary"}. NULL when out of memory. */
char *dash_record_summary(const Tutti__Record *rec);

#endif
