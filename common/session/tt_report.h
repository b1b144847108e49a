/* tt_report: the contractor's union-report draft, a function of the
 * folded session state.
 *
 * After a session the contractor files who played, for how long, on which
 * cues, through how many breaks and how much overtime. All of it is in the
 * fold already (tt_session): the attendance (who was checked in where,
 * when), the takes and when they rolled, the call history (when the call
 * started, broke and wrapped under which rules). The report reads that
 * state, never records of its own, so it says what the dashboard and the
 * CLI's other views say.
 *
 * What counts (all wall time, the records' at_unix_ns):
 *   - a player is present while checked in to at least one room; checking
 *     in again (same or another room) without leaving continues the stay,
 *     leaving the last room ends it. Within a presence record the outs are
 *     applied before the ins, as in the session fold.
 *   - a roll counts for every player present at the roll record.
 *   - a break counts for every player present when it starts.
 *   - overtime runs from the call's start + call_minutes to its wrap (or
 *     to now while it runs) and is cut into units of overtime_unit_minutes
 *     from its start; a player is paid each unit they were present in for
 *     any part of it. Several calls in one log add up.
 *
 * CSV (RFC 4180: CRLF line ends; a field with '"', ',', CR or LF is quoted,
 * quotes doubled), a header row, then one row per player sorted by name
 * (bytewise):
 *   player,rooms,time_in,time_out,minutes,cues,breaks,overtime_units
 * rooms: each room the player was in, in order of first check-in, joined
 * by ';'. time_in: first check-in; time_out: last time the player left
 * ("" while still in); both ISO-8601 UTC to the second (2026-11-25T09:12:00Z).
 * minutes: total minutes present, rounded down. cues: each cue with takes
 * rolled while the player was present, in order of its first such roll, as
 * "CUE tN tM" (takes in roll order, each once), joined by ';', e.g.
 * "1M1 t1 t2;1M2 t1". breaks, overtime_units: as above.
 *
 * Pure apart from malloc: no I/O, no clocks.
 */
#ifndef TT_REPORT_H
#define TT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "tt_session.h"

#define TT_REPORT_MAX_PLAYERS 4096
#define TT_REPORT_MAX_CUES 1024  /* cues per player */
#define TT_REPORT_MAX_TAKES 4096 /* takes of one cue per player */
#define TT_REPORT_MAX_ROOMS 1024 /* distinct rooms in the log */

/* The CSV described above for the folded state s into a malloc'd
 * NUL-terminated *out (the caller frees it; *out_len is its length without
 * the NUL). now_unix_ns closes stays still open and a call still running;
 * s is only read. A presence or roll record that would pass one of the
 * limits above is left out of the report: the answer is still 0, and why
 * says how many were left out and the first reason (else why is ""; the
 * caller may warn). TT_ERR_NOMEM with *out NULL. */
int tt_report_csv(const tt_session_t *s, int64_t now_unix_ns, char **out, size_t *out_len,
                  char *why);

#endif
