/* tt_rules: the contractor's session rules (call length, breaks, overtime)
 * and the call clock that applies them.
 *
 * A union or house agreement says how long a call is, how long players may
 * work before a break is due, how long a break lasts and in what units
 * overtime is paid. The contractor picks the rules at the start of a call;
 * their text goes into the log with the "start" call event, so every
 * replica folds the same call and shows the same clock. The text is INI
 * because contractors edit it by hand:
 *
 *   # AFM film/TV, Los Angeles
 *   [rules]
 *   id = afm-film-la
 *   title = AFM film/TV Los Angeles
 *   call_minutes = 180
 *   break_after_minutes = 60
 *   break_minutes = 10
 *   breaks_per_call = 0
 *   overtime_unit_minutes = 15
 *   amber_minutes = 5
 *
 * Rules text (parsed with inih): one section [rules], keys exactly the
 * field names of tt_rules_t, each at most once; "key = value" or
 * "key: value"; comment lines start with '#' or ';', and " ;" starts a
 * comment after a value. Required: id, title, call_minutes,
 * break_after_minutes, break_minutes, overtime_unit_minutes; optional:
 * breaks_per_call (default 0), amber_minutes (default 5). Numbers are plain
 * decimal integers. Limits: TT_RULES_MAX_TEXT bytes, lines of at most
 * TT_RULES_MAX_LINE bytes, indented continuation lines are refused.
 *
 * The call: tt_call_t is a plain value folded from call events (the session
 * fold and the report each hold one). tt_call_check / tt_call_apply are the
 * transitions, tt_call_clock reads it at a given time. All times are Unix
 * ns of the wall clock: a call is booked in wall time.
 *
 * Pure: no I/O and no clocks, except tt_rules_load, which reads a file.
 * Only tt_rules_load allocates (and frees before it returns); presets are
 * static and live for the program. Functions on a const value may share
 * it between threads.
 */
#ifndef TT_RULES_H
#define TT_RULES_H

#include <stddef.h>
#include <stdint.h>

#define TT_RULES_MAX_TEXT 4096 /* bytes of rules text, parsed or loaded */
#define TT_RULES_MAX_LINE 198  /* bytes of one line, without its EOL */
#define TT_RULES_MAX_ID 31
#define TT_RULES_MAX_TITLE 95
#define TT_RULES_DEFAULT_AMBER 5
#define TT_RULES_FORMAT_LEN 512 /* enough for any tt_rules_format output */

typedef struct {
    char id[32];               /* "afm-film-la": [a-z0-9-]{1,31} */
    char title[96];            /* "AFM film/TV Los Angeles": 1..95 bytes of UTF-8 */
    int call_minutes;          /* length of the call, 1..1440, e.g. 180 */
    int break_after_minutes;   /* 1..1440 work minutes from the call start, or from the end
                                  of the last break, until a break is due */
    int break_minutes;         /* length of one break, 1..120 */
    int breaks_per_call;       /* 0..20; 0: no limit; once this many breaks were taken, no
                                  further break is due */
    int overtime_unit_minutes; /* 1..240; overtime accrues in whole units; any part of a unit
                                  counts as a unit */
    int amber_minutes;         /* 0..60, warn this long before a break is due (default 5) */
} tt_rules_t;

/* Parses NUL-terminated rules text into *out. Returns 0, or TT_ERR_INVALID
 * with "line N: ..." or "key K: ..." in why (TT_WHY_LEN bytes, may be
 * NULL); *out is unchanged on failure. */
int tt_rules_parse(const char *text, tt_rules_t *out, char *why);

/* 0 when r holds values tt_rules_parse could have produced (ranges, id
 * syntax, title: UTF-8 without control characters, without leading or
 * trailing spaces and without " ;", which would read as a comment);
 * TT_ERR_INVALID naming the field otherwise. */
int tt_rules_check(const tt_rules_t *r, char *why);

/* Writes the canonical text of r ("[rules]", then every key in the order
 * of the struct as "key = value", no comments, LF line ends) into buf,
 * NUL-terminated; parse(format(r)) equals r. Returns 0, TT_ERR_INVALID when
 * tt_rules_check refuses r, or TT_ERR_TOO_BIG when len is too small
 * (TT_RULES_FORMAT_LEN bytes always suffice). */
int tt_rules_format(const tt_rules_t *r, char *buf, size_t len);

/* 1 if every field of a and b is equal (strings compared as strings). */
int tt_rules_equal(const tt_rules_t *a, const tt_rules_t *b);

/* Built-in presets: afm-film-la, afm-sound, mu-london, video-game (also
 * shipped as deploy/rules/ID.ini). Pointers are static; NULL when i or id
 * is unknown. */
size_t tt_rules_preset_count(void);
const tt_rules_t *tt_rules_preset_at(size_t i);
const tt_rules_t *tt_rules_preset(const char *id);

/* Does file I/O. A preset id, else a path to a rules file (at most
 * TT_RULES_MAX_TEXT bytes, no NUL bytes). Returns 0, TT_ERR_NOTFOUND (not
 * a preset and no such file: why lists the presets), TT_ERR_IO,
 * TT_ERR_TOO_BIG (file too long) or TT_ERR_INVALID (see tt_rules_parse),
 * with the reason in why. Not for the real-time path. */
int tt_rules_load(const char *id_or_path, tt_rules_t *out, char *why);

/* ---- the call ---- */

#define TT_CALL_MAX_BREAKS 64

typedef struct {
    int64_t start_ns, end_ns; /* unix ns; end_ns 0 while on the break */
} tt_call_break_t;

/* A plain value: zero it (memset or = {0}) for "no call yet". */
typedef struct {
    int started; /* a call was started */
    int64_t start_ns;
    int64_t wrap_ns;  /* 0 while the call runs */
    tt_rules_t rules; /* in force since start */
    tt_call_break_t breaks[TT_CALL_MAX_BREAKS];
    size_t n_breaks;
} tt_call_t;

/* Whether action may happen now:
 *   "start"        no call yet, or the last one wrapped (a start resets the call)
 *   "break-start"  the call runs, not on a break, fewer than TT_CALL_MAX_BREAKS
 *   "break-end"    on a break
 *   "wrap"         the call runs (a break in progress ends with it)
 * Returns 0 or TT_ERR_INVALID with the reason in why. The break limit of
 * the rules does not refuse a break: it only stops breaks falling due. */
int tt_call_check(const tt_call_t *c, const char *action, char *why);

/* Checks, then applies action at at_ns (> 0). rules is read on "start"
 * only (copied into the call; must pass tt_rules_check) and may be NULL
 * otherwise. A time before the call's latest event (a wall clock stepped
 * back) counts as that event's time, so durations are never negative.
 * Returns 0 or TT_ERR_INVALID; c is unchanged on failure. */
int tt_call_apply(tt_call_t *c, const char *action, const tt_rules_t *rules, int64_t at_ns,
                  char *why);

typedef enum { TT_CALL_ALERT_NONE, TT_CALL_ALERT_AMBER, TT_CALL_ALERT_RED } tt_call_alert_t;

typedef struct {
    int running;        /* started and not wrapped */
    int64_t elapsed_ns; /* from start to now (or to wrap); breaks count */
    int on_break;
    int64_t break_elapsed_ns;
    int64_t break_remaining_ns; /* < 0: the break overran */
    int break_due;              /* a next break is due at some point */
    int64_t next_break_at_ns;   /* unix ns; 0 when !break_due */
    int64_t next_break_in_ns;   /* <= 0: due now/overdue; 0 when !break_due */
    tt_call_alert_t alert;      /* RED when due (in <= 0), AMBER within amber_minutes
                                   (in <= amber), else NONE; NONE while on a break, not
                                   running or with no break due */
    size_t breaks_taken;        /* finished or in progress */
    int64_t overtime_ns;        /* elapsed beyond call_minutes, 0 before */
    int overtime_units;         /* ceil(overtime / unit) */
} tt_call_clock_t;

/* Reads the call at now_ns into *out (all zero when no call was started).
 * The next break falls due break_after_minutes after the end of the last
 * finished break, or after the start; while on a break, after the break's
 * booked end (start + break_minutes, or now if it overran). No break is
 * due once breaks_per_call (> 0) breaks were taken. A now before the
 * call's latest event counts as that event's time; after a wrap everything
 * is frozen at the wrap time. Never allocates; safe anywhere. */
void tt_call_clock(const tt_call_t *c, int64_t now_ns, tt_call_clock_t *out);

/* "none", "amber", "red" (static; "none" for unknown values). */
const char *tt_call_alert_name(tt_call_alert_t a);

#endif
