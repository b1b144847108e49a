/* tt_tz: the time zone a program shows wall-clock times in.
 *
 * A session has one time zone for people (the call sheet, the report, the
 * dashboard): the stage's, which need not be the server's. Log records
 * stay in UTC; only what is shown is converted. The zone comes from the TZ
 * database (glibc's localtime_r), set once at program start with
 * tt_tz_set, before any thread starts: it sets TZ and calls tzset, which
 * the C library reads process-wide.
 *
 * Names are IANA zone names ("Europe/London", "America/Los_Angeles",
 * "UTC"), looked up in $TZDIR or /usr/share/zoneinfo; anything else is
 * refused with a reason (glibc would quietly use UTC for a name it does
 * not know). NULL or "" keeps the machine's zone and names it from $TZ or
 * the /etc/localtime link (else /etc/timezone, else "UTC" when there is no
 * /etc/localtime, else "localtime").
 */
#ifndef TT_TZ_H
#define TT_TZ_H

#include <stdint.h>
#include <time.h>

#define TT_TZ_MAX_NAME 127
/* "2026-11-25T09:05:00+01:00" (25 bytes) plus NUL, with room to spare */
#define TT_TZ_ISO_LEN 32

/* Sets the zone (see above). Call once, before threads start. 0, or
 * TT_ERR_INVALID with the reason in why (TT_WHY_LEN bytes); on failure the
 * zone is unchanged. */
int tt_tz_set(const char *name, char *why);

/* The zone's name: what tt_tz_set took or found ("UTC" before any call).
 * Static storage, valid until the next tt_tz_set. */
const char *tt_tz_name(void);

/* Local time in the zone at unix_ns (seconds, rounded down). */
void tt_tz_local(int64_t unix_ns, struct tm *out);

/* The zone's offset from UTC at unix_ns, in seconds (east positive). */
int tt_tz_offset_s(int64_t unix_ns);

/* ISO 8601 local time with the zone's offset at that instant, to the
 * second: "2026-11-25T01:05:00-08:00". */
void tt_tz_iso(int64_t unix_ns, char out[TT_TZ_ISO_LEN]);

#endif
