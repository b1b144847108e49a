/* coord_osc: the control surface's datagrams. See coord_osc.h. */
#define _POSIX_C_SOURCE 200809L
#include "coord_osc.h"
#include "tt_error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <lo/lo.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* liblo's lo_arg pointers need not be aligned for the union: read through memcpy. */
static int32_t arg_i(lo_arg *a)
{
    int32_t v;
    memcpy(&v, (void *)a, sizeof v);
    return v;
}
#define ARG_S(a) ((const char *)(void *)(a))

/* The arguments an address takes, as type tags: each row one accepted form. */
static const struct {
    const char *path;
    const char *name;
    int kind;
    const char *forms[2];
    const char *usage;
} surface[] = {
    {"/tutti/arm",
     "arm",
     COORD_OSC_ARM,
     {"s", NULL},
     "s cue (arm has no from-bar: give it to roll)"},
    {"/tutti/roll", "roll", COORD_OSC_ROLL, {"s", "si"}, "s cue [i from-bar]"},
    {"/tutti/stop", "stop", COORD_OSC_STOP, {"", NULL}, "no arguments"},
    {"/tutti/rate",
     "rate",
     COORD_OSC_RATE,
     {"sis", "siss"},
     "s cue, i take, s rating [s note] (a take's rating: tutti has no playback-rate command)"},
};

static int copy_str(char *dst, size_t cap, const char *src, const char *what, const char *cmd,
                    char *why)
{
    size_t n = strlen(src);
    if (n == 0 || n >= cap)
        return tt_fail(why, TT_ERR_INVALID, "/tutti/%s: %s wants 1..%zu bytes", cmd, what, cap - 1);
    memcpy(dst, src, n + 1);
    return 0;
}

int coord_osc_parse(const void *data, size_t len, coord_osc_cmd_t *out, char *why)
{
    memset(out, 0, sizeof *out);
    out->name = "?";
    if (len > COORD_OSC_MAX_MESSAGE)
        return tt_fail(why, TT_ERR_TOO_BIG, "an OSC message of over %d bytes",
                       COORD_OSC_MAX_MESSAGE);
    if (len < 4 || len % 4 != 0)
        return tt_fail(why, TT_ERR_PROTOCOL, "not an OSC message (%zu bytes)", len);
    if (((const char *)data)[0] == '#')
        return tt_fail(why, TT_ERR_PROTOCOL, "bundles are not taken: one message a datagram");
    uint8_t copy[COORD_OSC_MAX_MESSAGE]; /* liblo's readers take a non-const pointer */
    memcpy(copy, data, len);
    int res = 0;
    lo_message m = lo_message_deserialise(copy, len, &res);
    if (!m)
        return tt_fail(why, TT_ERR_PROTOCOL, "not an OSC message (liblo error %d)", res);
    char *path = lo_get_path(copy, (ssize_t)len);
    int rc = 0;
    size_t row = sizeof surface / sizeof *surface;
    for (size_t i = 0; path && i < sizeof surface / sizeof *surface; i++)
        if (!strcmp(path, surface[i].path))
            row = i;
    if (row == sizeof surface / sizeof *surface) {
        rc = tt_fail(why, TT_ERR_INVALID,
                     "unknown address %.64s: the surface takes /tutti/arm, /tutti/roll, "
                     "/tutti/stop, /tutti/rate",
                     path ? path : "?");
        goto out;
    }
    out->kind = surface[row].kind;
    out->name = surface[row].name;
    const char *types = lo_message_get_types(m);
    int form_ok = 0;
    for (int f = 0; f < 2; f++)
        if (surface[row].forms[f] && !strcmp(types, surface[row].forms[f]))
            form_ok = 1;
    if (!form_ok) {
        rc = tt_fail(why, TT_ERR_INVALID, "%s ,%.16s: it takes %s", surface[row].path, types,
                     surface[row].usage);
        goto out;
    }
    lo_arg **a = lo_message_get_argv(m);
    switch (out->kind) {
    case COORD_OSC_ARM:
        rc = copy_str(out->cue, sizeof out->cue, ARG_S(a[0]), "cue", "arm", why);
        break;
    case COORD_OSC_ROLL:
        rc = copy_str(out->cue, sizeof out->cue, ARG_S(a[0]), "cue", "roll", why);
        if (rc == 0 && types[1] == 'i') {
            if (arg_i(a[1]) < 1 || arg_i(a[1]) > 100000)
                rc = tt_fail(why, TT_ERR_INVALID, "/tutti/roll: from-bar %d is not 1..100000",
                             arg_i(a[1]));
            out->from_bar = arg_i(a[1]);
        }
        break;
    case COORD_OSC_STOP: break;
    case COORD_OSC_RATE:
        rc = copy_str(out->cue, sizeof out->cue, ARG_S(a[0]), "cue", "rate", why);
        if (rc == 0 && arg_i(a[1]) < 1)
            rc = tt_fail(why, TT_ERR_INVALID, "/tutti/rate: take %d is not a take", arg_i(a[1]));
        out->take = (uint32_t)arg_i(a[1]);
        if (rc == 0)
            rc = copy_str(out->rating, sizeof out->rating, ARG_S(a[2]), "rating", "rate", why);
        if (rc == 0 && types[3] == 's' && (ARG_S(a[3]))[0])
            rc = copy_str(out->note, sizeof out->note, ARG_S(a[3]), "note", "rate", why);
        break;
    }
out:
    lo_message_free(m); /* path points into copy: liblo's, not to free */
    return rc;
}

int coord_osc_reply(const char *command, int ok, uint64_t seq, const char *text, void *buf,
                    size_t cap, size_t *len, char *why)
{
    lo_message m = lo_message_new();
    if (!m)
        return tt_fail(why, TT_ERR_NOMEM, "OSC reply: out of memory");
    int rc =
        lo_message_add(m, "sshs", command, ok ? "ok" : "error", (int64_t)seq, text ? text : "");
    size_t need = rc == 0 ? lo_message_length(m, "/tutti/reply") : 0;
    if (rc != 0 || need == 0 || need > cap) {
        lo_message_free(m);
        return tt_fail(why, TT_ERR_TOO_BIG, "OSC reply of %zu bytes, room for %zu", need, cap);
    }
    *len = need;
    void *o = lo_message_serialise(m, "/tutti/reply", buf, len);
    lo_message_free(m);
    return o ? 0 : tt_fail(why, TT_ERR_NOMEM, "OSC reply: serialising failed");
}

int coord_osc_parse_bind(const char *arg, unsigned *port, char *why)
{
    const char *p = arg, *colon = strrchr(arg, ':');
    if (colon) {
        size_t hlen = (size_t)(colon - arg);
        if (!((hlen == 9 && !strncmp(arg, "127.0.0.1", 9)) ||
              (hlen == 9 && !strncmp(arg, "localhost", 9))))
            return tt_fail(why, TT_ERR_INVALID,
                           "--osc-surface %s: the surface binds 127.0.0.1 only (it has no "
                           "authentication of its own); give PORT or 127.0.0.1:PORT",
                           arg);
        p = colon + 1;
    }
    char *end;
    long v = strtol(p, &end, 10);
    if (!*p || *end || v < 0 || v > 65535)
        return tt_fail(why, TT_ERR_INVALID, "--osc-surface %s: port wants 0..65535", arg);
    *port = (unsigned)v;
    return 0;
}

int coord_osc_open(unsigned port, unsigned *bound, char *why)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return tt_fail(why, TT_ERR_IO, "OSC surface: socket: %s", strerror(errno));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        int e = errno;
        close(fd);
        return tt_fail(why, TT_ERR_IO, "OSC surface: binding 127.0.0.1:%u: %s", port, strerror(e));
    }
    *bound = ntohs(sa.sin_port);
    return fd;
}
