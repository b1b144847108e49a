#define _POSIX_C_SOURCE 200809L
#include "tt_time.h"

#include <stdio.h>
#include <time.h>

static int64_t read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tt_time_mono_ns(void)
{
    return read_clock(CLOCK_MONOTONIC);
}
int64_t tt_time_wall_ns(void)
{
    return read_clock(CLOCK_REALTIME);
}

void tt_time_iso8601(int64_t unix_ns, char *buf, size_t len)
{
    time_t secs = (time_t)(unix_ns / 1000000000);
    long micros = (long)((unix_ns % 1000000000) / 1000);
    if (micros < 0) {
        secs -= 1;
        micros += 1000000;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06ldZ", date, micros);
}
