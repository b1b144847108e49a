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
 * Sections. The report has one section per call: a call's section holds
 * the records from the wrap before it (or the log's start) to its own
 * wrap, so players who check in before the call starts are in it. A
 * player still checked in at a wrap leaves that section at the wrap and
 * is carried, from the wrap, into the next one; records after the last
 * wrap with no new call form a section of no call. Calls are numbered
 * 1, 2, ... in log order.
 *
 * What counts (all wall time, the records' at_unix_ns), per section:
 *   - a player is present while checked in to at least one room; checking
 *     in again (same or another room) without leaving continues the stay,
 *     leaving the last room ends it. Within a presence record the outs are
 *     applied before the ins, as in the session fold.
 *   - a roll counts for every player present at the roll record.
 *   - a break counts for every player present when it starts.
 *   - overtime runs from the call's start + call_minutes to its wrap (or
 *     to now while it runs) and is cut into units of overtime_unit_minutes
 *     from its start; a player is paid each unit they were present in for
 *     any part of it.
 *
 * Times are shown in the process's time zone (tt_tz; the dashboard's and
 * the CLI's --tz), which the report names.
 *
 * CSV (RFC 4180: CRLF line ends; a field with '"', ',', CR or LF is quoted,
 * quotes doubled; cells a spreadsheet would run as formulas neutralised), a
 * header row, then per section in call order one row per player sorted by
 * name (bytewise):
 *   call,player,rooms,time_in,time_out,minutes,cues,breaks,overtime_units,time_zone
 * call: the call's number ("" in a section of no call). rooms: each room
 * the player was in, in order of first check-in, joined by ';'. time_in:
 * first check-in in the section (or the wrap that carried them in);
 * time_out: last time the player left, or the wrap that ended the section
 * while they were in ("" while still in); both ISO 8601 in the zone with
 * its offset, to the second (2026-11-25T01:12:00-08:00). minutes: total
 * minutes present in the section, rounded down. cues: each cue with takes
 * rolled while the player was present, in order of its first such roll, as
 * "CUE tN tM" (takes in roll order, each once), joined by ';', e.g.
 * "1M1 t1 t2;1M2 t1". breaks, overtime_units: as above. time_zone: the
 * zone's name (Europe/London).
 *
 * Text (tutti report): a line naming the session, when the report was
 * drawn and the zone with its UTC offset; then per section a heading (call
 * number, rules, start and wrap or "running", length, breaks, overtime and
 * its units; "After the wrap of call N (no call)") and an aligned table of
 * the same figures: player, rooms, in, out ("(in)" while in), minutes,
 * breaks, overtime units, cues. Times of day, with the date when it is not
 * the section's first day.
 *
 * Pure apart from malloc and the time zone (localtime_r): no I/O, no
 * clocks.
 */
#ifndef TT_REPORT_H
#define TT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "tt_session.h"

#define TT_REPORT_MAX_PLAYERS 4096 /* players in one section */
#define TT_REPORT_MAX_CUES 1024    /* cues per player */
#define TT_REPORT_MAX_TAKES 4096   /* takes of one cue per player */
#define TT_REPORT_MAX_ROOMS 1024   /* distinct rooms in the log */
#define TT_REPORT_MAX_CALLS 256    /* calls in the log */

/* The CSV described above for the folded state s into a malloc'd
 * NUL-terminated *out (the caller frees it; *out_len is its length without
 * the NUL). now_unix_ns closes stays still open and a call still running;
 * s is only read. A presence, roll or call record that would pass one of
 * the limits above is left out of the report: the answer is still 0, and
 * why says how many were left out and the first reason (else why is "";
 * the caller may warn). TT_ERR_NOMEM with *out NULL. */
int tt_report_csv(const tt_session_t *s, int64_t now_unix_ns, char **out, size_t *out_len,
                  char *why);

/* The same figures as text for people (above), with the same contract. */
int tt_report_text(const tt_session_t *s, int64_t now_unix_ns, char **out, size_t *out_len,
                   char *why);

#endif
