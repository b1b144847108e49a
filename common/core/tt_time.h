/* tt_time: the clocks tutti reads, in int64 nanoseconds.
 *
 * Monotonic time orders events inside one process (timers, heartbeats);
 * wall time (CLOCK_REALTIME) only labels log records for humans.
 */
#ifndef TT_TIME_H
#define TT_TIME_H

#include <stddef.h>
#include <stdint.h>

int64_t tt_time_mono_ns(void);
int64_t tt_time_wall_ns(void);

/* "2026-11-25T06:32:07.123456Z" into buf (at least 32 bytes). */
void tt_time_iso8601(int64_t unix_ns, char *buf, size_t len);

#endif
