/* tt_tz: see tt_tz.h. glibc keeps the zone process-wide; this module only
 * checks a name before handing it over and remembers what to call it. */
#include "tt_tz.h"
#include "tt_error.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char zone_name[TT_TZ_MAX_NAME + 1] = "UTC";

/* IANA names: letters, digits and "_+-./", relative, no "..". */
static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TT_TZ_MAX_NAME || name[0] == '/' || name[0] == '.' || strstr(name, ".."))
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_+-./", *p)))
            return 0;
    return 1;
}

/* 1 when DIR/name is a TZif file. */
static int in_database(const char *dir, const char *name)
{
    char path[512];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char magic[4];
    ssize_t got = read(fd, magic, sizeof magic);
    close(fd);
    return got == 4 && !memcmp(magic, "TZif", 4);
}

static void remember(const char *name)
{
    snprintf(zone_name, sizeof zone_name, "%s", name);
}

/* The part of a zoneinfo path after ".../zoneinfo/", or NULL. */
static const char *after_zoneinfo(const char *path)
{
    const char *p = NULL, *q = path;
    while ((q = strstr(q, "zoneinfo/")) != NULL)
        p = q += strlen("zoneinfo/");
    return p && *p ? p : NULL;
}

/* Names the machine's zone (TZ unset by us). */
static void machine_zone(void)
{
    const char *tz = getenv("TZ");
    if (tz && *tz) {
        if (*tz == ':')
            tz++;
        const char *tail = tz[0] == '/' ? after_zoneinfo(tz) : tz;
        remember(tail ? tail : tz);
        return;
    }
    char link[512];
    ssize_t n = readlink("/etc/localtime", link, sizeof link - 1);
    if (n > 0) {
        link[n] = '\0';
        const char *tail = after_zoneinfo(link);
        if (tail) {
            remember(tail);
            return;
        }
    }
    FILE *f = fopen("/etc/timezone", "re");
    if (f) {
        char line[TT_TZ_MAX_NAME + 2] = "";
        int got = fgets(line, sizeof line, f) != NULL;
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        if (got && name_ok(line)) {
            remember(line);
            return;
        }
    }
    remember(access("/etc/localtime", F_OK) == 0 ? "localtime" : "UTC");
}

int tt_tz_set(const char *name, char *why)
{
    if (!name || !*name) {
        machine_zone();
        tzset();
        return 0;
    }
    if (!name_ok(name))
        return tt_fail(why, TT_ERR_INVALID,
                       "time zone \"%.64s\": an IANA name such as Europe/London or "
                       "America/Los_Angeles",
                       name);
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    /* glibc reads "UTC" without the database, so a machine without tzdata
     * still has it. */
    if (!in_database(dir, name) && strcmp(name, "UTC") != 0)
        return tt_fail(why, TT_ERR_INVALID,
                       "unknown time zone \"%s\" (not in %s): an IANA name such as "
                       "Europe/London or America/Los_Angeles",
                       name, dir);
    if (setenv("TZ", name, 1) != 0)
        return tt_fail(why, TT_ERR_INVALID, "setting TZ=%s failed", name);
    tzset();
    remember(name);
    return 0;
}

const char *tt_tz_name(void)
{
    return zone_name;
}

void tt_tz_local(int64_t unix_ns, struct tm *out)
{
    int64_t s = unix_ns / 1000000000;
    if (unix_ns % 1000000000 < 0)
        s--;
    time_t t = (time_t)s;
    if (!localtime_r(&t, out))
        memset(out, 0, sizeof *out);
}

int tt_tz_offset_s(int64_t unix_ns)
{
    struct tm tm;
    tt_tz_local(unix_ns, &tm);
    return (int)tm.tm_gmtoff;
}

void tt_tz_iso(int64_t unix_ns, char out[TT_TZ_ISO_LEN])
{
    struct tm tm;
    tt_tz_local(unix_ns, &tm);
    long off = tm.tm_gmtoff;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    char date[TT_TZ_ISO_LEN];
    if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(date, sizeof date, "?");
    char zone[8];
    snprintf(zone, sizeof zone, "%c%02u:%02u", sign, (unsigned)(off / 3600) % 24u,
             (unsigned)(off / 60) % 60u);
    snprintf(out, TT_TZ_ISO_LEN, "%.19s%.6s", date, zone);
}
