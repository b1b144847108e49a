/* tt_timecode: SMPTE labels <-> frame counts <-> nanoseconds and samples.
 *
 * The frame count is the one true value; labels, time and samples are
 * derived from it with integer arithmetic only. Rates are exact fractions
 * (30000/1001, not 29.97), and the products frame * den * 1e9 or
 * frame * den * sample_rate are taken in __int128 so no int64 input can
 * overflow an intermediate; only a final result beyond int64 saturates.
 *
 * Drop-frame: a 10-minute block holds 17982 frames (10 * 1800 - 9 * 2). The
 * first minute of a block keeps all 1800 labels, the other nine start at
 * ;02 and hold 1798. Converting a frame count to a label adds back the 2
 * labels skipped for each started minute that drops; converting a label to
 * a frame count subtracts them.
 */
#include "tt_timecode.h"

#include <assert.h>
#include <stddef.h>

#include "tt_error.h"

__extension__ typedef __int128 i128;

#define NS_PER_S 1000000000

#define DF_FRAMES_PER_10MIN 17982 /* 10 * 60 * 30 - 9 * 2 */
#define DF_FRAMES_PER_MIN 1798    /* a minute that drops two labels */

typedef struct {
    const char *name;
    int64_t num, den; /* real frames per second = num / den */
    int nominal;      /* labels per label second */
    int drop;
} rate_t;

static const rate_t rates[] = {
    [TT_FPS_23_976] = {"23.976", 24000, 1001, 24, 0},
    [TT_FPS_24] = {"24", 24, 1, 24, 0},
    [TT_FPS_25] = {"25", 25, 1, 25, 0},
    [TT_FPS_29_97_DF] = {"29.97df", 30000, 1001, 30, 1},
    [TT_FPS_29_97_NDF] = {"29.97ndf", 30000, 1001, 30, 0},
    [TT_FPS_30] = {"30", 30, 1, 30, 0},
};

#define NRATES ((int)(sizeof rates / sizeof rates[0]))

static int valid_fps(tt_fps_t fps)
{
    return (int)fps >= 0 && (int)fps < NRATES;
}

/* A tt_fps_t outside the enum is a programmer error. */
static const rate_t *rate_of(tt_fps_t fps)
{
    assert(valid_fps(fps));
    return &rates[fps];
}

/* ---- integer helpers ---- */

static int64_t saturate(i128 v)
{
    if (v > INT64_MAX)
        return INT64_MAX;
    if (v < INT64_MIN)
        return INT64_MIN;
    return (int64_t)v;
}

/* floor(a / b) and ceil(a / b) for b > 0 (C division truncates toward 0). */
static i128 floor_div(i128 a, i128 b)
{
    i128 q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

static i128 ceil_div(i128 a, i128 b)
{
    i128 q = a / b;
    return (a % b > 0) ? q + 1 : q;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int same_nocase(const char *a, const char *b)
{
    while (*a && lower((unsigned char)*a) == lower((unsigned char)*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

/* A short, printable copy of user input for error messages. */
static const char *printable(const char *s, char buf[40])
{
    size_t n = 0;
    for (; s[n] && n < 32; n++)
        buf[n] = (s[n] >= 0x20 && s[n] < 0x7f) ? s[n] : '?';
    if (s[n]) {
        buf[n++] = '.';
        buf[n++] = '.';
        buf[n++] = '.';
    }
    buf[n] = '\0';
    return buf;
}

/* ---- frame rates ---- */

int tt_fps_parse(const char *s, tt_fps_t *out, char *why)
{
    if (!s || !*s)
        return tt_fail(why, TT_ERR_INVALID,
                       "empty frame rate: use 23.976, 24, 25, 29.97df, 29.97ndf or 30");
    for (int i = 0; i < NRATES; i++) {
        if (same_nocase(s, rates[i].name)) {
            *out = (tt_fps_t)i;
            return 0;
        }
    }
    char q[40];
    if (same_nocase(s, "29.97"))
        return tt_fail(why, TT_ERR_INVALID,
                       "frame rate \"29.97\" is ambiguous: say 29.97df (drop-frame, labels follow "
                       "the clock) or 29.97ndf (non-drop, every label used)");
    return tt_fail(why, TT_ERR_INVALID,
                   "unknown frame rate \"%s\": use 23.976, 24, 25, 29.97df, 29.97ndf or 30",
                   printable(s, q));
}

const char *tt_fps_name(tt_fps_t fps)
{
    return valid_fps(fps) ? rates[fps].name : "unknown";
}

void tt_fps_rate(tt_fps_t fps, int64_t *num, int64_t *den)
{
    const rate_t *r = rate_of(fps);
    *num = r->num;
    *den = r->den;
}

int tt_fps_nominal(tt_fps_t fps)
{
    return rate_of(fps)->nominal;
}

int tt_fps_is_drop(tt_fps_t fps)
{
    return rate_of(fps)->drop;
}

/* ---- labels ---- */

int64_t tt_timecode_frames_per_day(tt_fps_t fps)
{
    const rate_t *r = rate_of(fps);
    if (r->drop)
        return (int64_t)24 * 6 * DF_FRAMES_PER_10MIN;
    return (int64_t)r->nominal * 86400;
}

void tt_timecode_fields(int64_t frame, tt_fps_t fps, int *h, int *m, int *s, int *f)
{
    const rate_t *r = rate_of(fps);
    int64_t day = tt_timecode_frames_per_day(fps);
    int64_t n = frame % day;
    if (n < 0)
        n += day;
    /* n becomes a label count: labels since 00:00:00:00 at the nominal rate. */
    if (r->drop) {
        int64_t blocks = n / DF_FRAMES_PER_10MIN;
        int64_t rest = n % DF_FRAMES_PER_10MIN;
        int64_t skipped = 18 * blocks;
        if (rest >= 2)
            skipped += 2 * ((rest - 2) / DF_FRAMES_PER_MIN);
        n += skipped;
    }
    int64_t per_s = r->nominal;
    if (f)
        *f = (int)(n % per_s);
    if (s)
        *s = (int)(n / per_s % 60);
    if (m)
        *m = (int)(n / (per_s * 60) % 60);
    if (h)
        *h = (int)(n / (per_s * 3600));
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void tt_timecode_format(int64_t frame, tt_fps_t fps, char out[TT_TIMECODE_LEN])
{
    int h, m, s, f;
    tt_timecode_fields(frame, fps, &h, &m, &s, &f);
    put2(out, h);
    out[2] = ':';
    put2(out + 3, m);
    out[5] = ':';
    put2(out + 6, s);
    out[8] = rate_of(fps)->drop ? ';' : ':';
    put2(out + 9, f);
    out[11] = '\0';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int tt_timecode_parse(const char *s, tt_fps_t fps, int64_t *frame, char *why)
{
    const rate_t *r = rate_of(fps);
    const char *shape = r->drop ? "HH:MM:SS;FF" : "HH:MM:SS:FF";
    char q[40];

    if (!s || !*s)
        return tt_fail(why, TT_ERR_INVALID, "empty timecode: expected %s", shape);

    int field[4] = {0};
    for (int i = 0; i < 11; i++) {
        char c = s[i];
        if (c == '\0')
            return tt_fail(why, TT_ERR_INVALID,
                           "timecode \"%s\" is too short: expected %s, two digits per field",
                           printable(s, q), shape);
        if (i % 3 == 2) {
            if (c == ':' || (c == ';' && r->drop))
                continue;
            if (c == ';')
                return tt_fail(why, TT_ERR_INVALID,
                               "timecode \"%s\": ';' marks a drop-frame label, but the rate is "
                               "%s (use ':', or rate 29.97df)",
                               printable(s, q), r->name);
            return tt_fail(why, TT_ERR_INVALID,
                           "timecode \"%s\": expected a separator at character %d, found '%c' "
                           "(format %s, two digits per field)",
                           printable(s, q), i + 1, (c >= 0x20 && c < 0x7f) ? c : '?', shape);
        }
        if (!is_digit(c))
            return tt_fail(why, TT_ERR_INVALID,
                           "timecode \"%s\": expected a digit at character %d, found '%c' "
                           "(format %s, two digits per field)",
                           printable(s, q), i + 1, (c >= 0x20 && c < 0x7f) ? c : '?', shape);
        if (i % 3 == 0)
            field[i / 3] = (c - '0') * 10;
        else
            field[i / 3] += c - '0';
    }
    if (s[11] != '\0')
        return tt_fail(why, TT_ERR_INVALID,
                       "timecode \"%s\": unexpected characters after the frames field "
                       "(format %s)",
                       printable(s, q), shape);

    int h = field[0], m = field[1], sec = field[2], f = field[3];
    if (h > 23)
        return tt_fail(why, TT_ERR_INVALID, "timecode \"%s\": hours %02d out of range 00-23",
                       printable(s, q), h);
    if (m > 59)
        return tt_fail(why, TT_ERR_INVALID, "timecode \"%s\": minutes %02d out of range 00-59",
                       printable(s, q), m);
    if (sec > 59)
        return tt_fail(why, TT_ERR_INVALID, "timecode \"%s\": seconds %02d out of range 00-59",
                       printable(s, q), sec);
    if (f >= r->nominal)
        return tt_fail(why, TT_ERR_INVALID,
                       "timecode \"%s\": frames %02d out of range 00-%02d at %s fps",
                       printable(s, q), f, r->nominal - 1, r->name);

    int64_t minutes = (int64_t)h * 60 + m;
    int64_t labels = ((minutes * 60) + sec) * r->nominal + f;
    if (r->drop) {
        if (m % 10 != 0 && sec == 0 && f < 2)
            return tt_fail(why, TT_ERR_INVALID,
                           "timecode \"%s\" does not exist at 29.97df: labels ;00 and ;01 are "
                           "dropped at the start of each minute not divisible by 10 "
                           "(the frame after %02d:%02d:59;29 is %02d:%02d:00;02)",
                           printable(s, q), h, m - 1, h, m);
        labels -= 2 * (minutes - minutes / 10);
    }
    *frame = labels;
    return 0;
}

/* ---- real time and samples ---- */

int64_t tt_timecode_frame_to_ns(int64_t frame, tt_fps_t fps)
{
    const rate_t *r = rate_of(fps);
    /* round(frame * den * 1e9 / num) = floor((2 * frame * den * 1e9 + num) / (2 * num)) */
    i128 x = (i128)frame * r->den * NS_PER_S;
    return saturate(floor_div(2 * x + r->num, 2 * (i128)r->num));
}

int64_t tt_timecode_ns_to_frame(int64_t ns, tt_fps_t fps)
{
    const rate_t *r = rate_of(fps);
    /* Frame f starts at floor(f * T + 1/2) with T = den * 1e9 / num, which is <= ns
     * exactly when 2 * f * den * 1e9 < (2 * ns + 1) * num. The largest such f is
     * floor(((2 * ns + 1) * num - 1) / (2 * den * 1e9)). */
    i128 b = ((i128)2 * ns + 1) * r->num;
    return saturate(floor_div(b - 1, (i128)2 * r->den * NS_PER_S));
}

int64_t tt_timecode_frame_to_sample(int64_t frame, tt_fps_t fps, int sample_rate)
{
    assert(sample_rate > 0);
    const rate_t *r = rate_of(fps);
    return saturate(ceil_div((i128)frame * r->den * sample_rate, r->num));
}

int64_t tt_timecode_sample_to_frame(int64_t sample, tt_fps_t fps, int sample_rate)
{
    assert(sample_rate > 0);
    const rate_t *r = rate_of(fps);
    return saturate(floor_div((i128)sample * r->num, (i128)r->den * sample_rate));
}
