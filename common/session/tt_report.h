/* tt_report: the contractor's union-report draft, folded from the log.
 *
 * After a session the contractor files who played, for how long, on which
 * cues, through how many breaks and how much overtime. All of it is in the
 * log already: presence records say who was checked in where, roll records
 * which takes ran, call events when the call started, broke and wrapped
 * under which rules. The report streams the records once (a long session
 * need not fit in memory as records) and keeps only per-player totals.
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
 * Pure apart from malloc: no I/O, no clocks. One report is used from one
 * thread at a time.
 */
#ifndef TT_REPORT_H
#define TT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "tutti.pb-c.h"

#define TT_REPORT_MAX_PLAYERS 4096
#define TT_REPORT_MAX_CUES 1024  /* cues per player */
#define TT_REPORT_MAX_TAKES 4096 /* takes of one cue per player */
#define TT_REPORT_MAX_ROOMS 1024 /* distinct rooms in the log */

typedef struct tt_report tt_report_t;

/* An empty report (the caller owns it), or NULL when out of memory. */
tt_report_t *tt_report_new(void);

/* Frees the report and sets *self_p to NULL; safe on NULL and *self_p NULL. */
void tt_report_destroy(tt_report_t **self_p);

/* Folds one record; records come in seq order (each seq above the last,
 * else TT_ERR_INVALID). Presence, roll and call_event records count,
 * others are skipped. rec is only read during the call. Returns 0, or with
 * the reason in why: TT_ERR_INVALID (a call event tt_call_apply or
 * tt_rules_parse refuses, a body missing), TT_ERR_TOO_BIG (one of the
 * limits above; the record is not applied) or TT_ERR_NOMEM (the report
 * may then hold part of the record: destroy it). */
int tt_report_add(tt_report_t *r, const Tutti__Record *rec, char *why);

/* The CSV described above into a malloc'd NUL-terminated *out (the caller
 * frees it; *out_len is its length without the NUL). now_unix_ns closes
 * stays still open and a call still running; r is not changed, so the
 * report can be drawn again later. Returns 0, or TT_ERR_NOMEM with *out
 * NULL. */
int tt_report_csv(const tt_report_t *r, int64_t now_unix_ns, char **out, size_t *out_len,
                  char *why);

#endif
