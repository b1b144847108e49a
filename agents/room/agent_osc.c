/* agent_osc: OSC out, at session instants. See agent_osc.h.
 *
 * The thread holds the roll in progress as two sources of events: its
 * beats (worked out one at a time from the map, so a cue without an end
 * costs nothing) and a short sorted list of one-shots (transport states,
 * visual markers). Each turn it takes the earliest, waits for it and sends
 * it; a pipe command wakes it early and it starts the turn again, so a
 * stop or a new roll is obeyed before anything it cancels goes out.
 */
#define _POSIX_C_SOURCE 200809L
#include "agent_osc.h"
#include "tt_actor.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_tempo.h"
#include "tt_tempo_visual.h"
#include "tt_time.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CMD_ROLL "ROLL"     /* a roll_cmd_t, then the map's text and its NUL */
#define CMD_STOP "STOP"     /* int64_t session ns */
#define CMD_ARM "ARM"       /* an arm_cmd_t */
#define CMD_CHANGE "CHANGE" /* uint64_t seq, then the text and its NUL */
#define CMD_ACK "ACK"       /* uint64_t seq */
#define SPIN_NS 2000000     /* the last 2 ms are slept, not polled */
#define MAX_ONESHOTS (TT_TEMPO_MAX_VISUALS + 4)
#define MAX_DATAGRAM (AGENT_OSC_MAX_TEXT + 256)

typedef struct {
    char cue[33];
    uint32_t take;
    int32_t from_bar;
    int64_t start, downbeat, stop;
} roll_cmd_t;

typedef struct {
    char cue[33];
    uint32_t take;
    int64_t at;
} arm_cmd_t;

/* A transport state or a marker, due at `at`. */
typedef struct {
    int64_t at;
    int kind;   /* AGENT_OSC_TRANSPORT or AGENT_OSC_MARKER */
    int always; /* sent however late (transport) */
    char s1[16], color[8];
    char name[TT_TEMPO_MARKER_LEN + 1];
    float len_s;
} oneshot_t;

struct agent_osc {
    agent_osc_config_t cfg;
    int fds[AGENT_OSC_MAX_TARGETS];
    int n_fds;
    tt_actor_t *actor;
    /* the thread's */
    void *pipe;
    tt_tempo_map_t *map; /* the roll's, or NULL */
    char cue[33];
    uint32_t take;
    int32_t from_bar;
    int64_t downbeat, c_from, stop;
    tt_tempo_countoff_t co;
    int co_i;                     /* next count-off beat; co.beats: into the music */
    tt_bbt_t pos;                 /* next beat of the music */
    int beats_done;               /* past the end bar */
    oneshot_t ones[MAX_ONESHOTS]; /* sorted by at */
    size_t n_ones, next_one;
    uint8_t buf[MAX_DATAGRAM];
};

/* ------------------------------------------------------------ messages */

const char *agent_osc_path(int kind)
{
    switch (kind) {
    case AGENT_OSC_TRANSPORT: return "/tutti/transport";
    case AGENT_OSC_CUE: return "/tutti/cue";
    case AGENT_OSC_TAKE: return "/tutti/take";
    case AGENT_OSC_BEAT: return "/tutti/beat";
    case AGENT_OSC_MARKER: return "/tutti/marker";
    case AGENT_OSC_CHANGE: return "/tutti/change";
    case AGENT_OSC_ACK: return "/tutti/ack";
    default: return NULL;
    }
}

lo_timetag agent_osc_timetag(int64_t session_ns)
{
    if (session_ns < 0)
        session_ns = 0;
    lo_timetag tt;
    tt.sec = (uint32_t)(session_ns / 1000000000);
    tt.frac = (uint32_t)(((uint64_t)(session_ns % 1000000000) << 32) / 1000000000u);
    return tt;
}

int64_t agent_osc_timetag_ns(lo_timetag tt)
{
    /* +1: the fraction was rounded down, so round its way back up */
    uint64_t ns = ((uint64_t)tt.frac * 1000000000u + ((1ull << 32) - 1)) >> 32;
    return (int64_t)tt.sec * 1000000000 + (int64_t)ns;
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

int agent_osc_encode(const agent_osc_event_t *ev, void *buf, size_t cap, size_t *len, char *why)
{
    const char *path = agent_osc_path(ev->kind);
    if (!path)
        return tt_fail(why, TT_ERR_INVALID, "OSC: no message of kind %d", ev->kind);
    const char *strs[3] = {ev->s1, ev->s2, ev->s3};
    for (int i = 0; i < 3; i++)
        if (strs[i] && strlen(strs[i]) > AGENT_OSC_MAX_TEXT)
            return tt_fail(why, TT_ERR_INVALID, "OSC %s: a string of %zu bytes (at most %d)", path,
                           strlen(strs[i]), AGENT_OSC_MAX_TEXT);
    lo_message m = lo_message_new();
    if (!m)
        return tt_fail(why, TT_ERR_NOMEM, "OSC %s: out of memory", path);
    int rc = 0;
    switch (ev->kind) {
    case AGENT_OSC_TRANSPORT:
        rc = lo_message_add(m, "ssii", str_or_empty(ev->s1), str_or_empty(ev->s2), ev->i1, ev->i2);
        break;
    case AGENT_OSC_CUE: rc = lo_message_add(m, "s", str_or_empty(ev->s1)); break;
    case AGENT_OSC_TAKE: rc = lo_message_add(m, "i", ev->i1); break;
    case AGENT_OSC_BEAT: rc = lo_message_add(m, "iii", ev->i1, ev->i2, ev->i3); break;
    case AGENT_OSC_MARKER:
        rc = lo_message_add(m, "ssfs", str_or_empty(ev->s1), str_or_empty(ev->s2), ev->f,
                            str_or_empty(ev->s3));
        break;
    case AGENT_OSC_CHANGE: rc = lo_message_add(m, "is", ev->i1, str_or_empty(ev->s3)); break;
    case AGENT_OSC_ACK: rc = lo_message_add(m, "i", ev->i1); break;
    }
    lo_bundle b = rc == 0 ? lo_bundle_new(agent_osc_timetag(ev->session_ns)) : NULL;
    if (!b || lo_bundle_add_message(b, path, m) != 0) {
        if (b)
            lo_bundle_free(b);
        lo_message_free(m);
        return tt_fail(why, TT_ERR_NOMEM, "OSC %s: building the message failed", path);
    }
    size_t need = lo_bundle_length(b);
    if (need > cap) {
        lo_bundle_free_recursive(b);
        return tt_fail(why, TT_ERR_TOO_BIG, "OSC %s: %zu bytes, room for %zu", path, need, cap);
    }
    *len = need;
    void *out = lo_bundle_serialise(b, buf, len);
    lo_bundle_free_recursive(b); /* frees m too */
    if (!out)
        return tt_fail(why, TT_ERR_NOMEM, "OSC %s: serialising failed", path);
    return 0;
}

int agent_osc_parse_target(const char *arg, agent_osc_target_t *out, char *why)
{
    const char *colon = strrchr(arg, ':');
    memset(out, 0, sizeof *out);
    if (!colon || colon == arg)
        return tt_fail(why, TT_ERR_INVALID, "--osc %s: want HOST:PORT", arg);
    const char *host = arg;
    size_t hlen = (size_t)(colon - arg);
    if (host[0] == '[') { /* [IPv6]:PORT */
        if (hlen < 3 || host[hlen - 1] != ']')
            return tt_fail(why, TT_ERR_INVALID, "--osc %s: want [IPv6]:PORT", arg);
        host++;
        hlen -= 2;
    } else if (memchr(host, ':', hlen)) {
        return tt_fail(why, TT_ERR_INVALID, "--osc %s: write an IPv6 host in brackets", arg);
    }
    if (hlen >= sizeof out->host)
        return tt_fail(why, TT_ERR_INVALID, "--osc %s: host name too long", arg);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 1 || port > 65535)
        return tt_fail(why, TT_ERR_INVALID, "--osc %s: port wants 1..65535", arg);
    memcpy(out->host, host, hlen);
    snprintf(out->port, sizeof out->port, "%ld", port);
    return 0;
}

/* ------------------------------------------------------------ the thread */

static void send_event(agent_osc_t *o, const agent_osc_event_t *ev)
{
    char why[TT_WHY_LEN];
    size_t len;
    if (agent_osc_encode(ev, o->buf, sizeof o->buf, &len, why) != 0) {
        tt_diag_error("osc: %s", why);
        return;
    }
    /* UDP: a target that is not listening costs an ICMP error, reported on
     * a later send; neither is worth more than a debug line. */
    for (int i = 0; i < o->n_fds; i++)
        if (send(o->fds[i], o->buf, len, MSG_DONTWAIT) < 0 && errno != ECONNREFUSED)
            tt_diag_warn("osc: sending %s to %s:%s: %s", agent_osc_path(ev->kind),
                         o->cfg.targets[i].host, o->cfg.targets[i].port, strerror(errno));
}

/* The session time now, 0 when the clock has no mapping yet. */
static int session_now(const agent_osc_t *o, tt_clock_map_t *m, int64_t *now)
{
    tt_clock_box_read(o->cfg.box, m);
    if (!m->valid)
        return 0;
    *now = tt_clock_map_session(m, tt_clock_client_local_ns(o->cfg.clock, tt_time_mono_ns()));
    return 1;
}

static int64_t stamp_now(const agent_osc_t *o)
{
    tt_clock_map_t m;
    int64_t now = 0;
    session_now(o, &m, &now);
    return now;
}

static void add_oneshot(agent_osc_t *o, const oneshot_t *e)
{
    if (o->n_ones == MAX_ONESHOTS)
        return; /* cannot happen: a map holds at most TT_TEMPO_MAX_VISUALS */
    size_t i = o->n_ones;
    while (i > o->next_one && o->ones[i - 1].at > e->at) { /* after any at the same time */
        o->ones[i] = o->ones[i - 1];
        i--;
    }
    o->ones[i] = *e;
    o->n_ones++;
}

/* The next beat of the roll: its session time and bar|beat; 0 when none. */
static int next_beat(const agent_osc_t *o, int64_t *at, int32_t *bar, int32_t *beat, int32_t *n)
{
    if (!o->map || o->beats_done)
        return 0;
    int64_t c;
    if (o->co_i < o->co.beats) {
        int back = o->co.beats - o->co_i, bpb = o->co.beats_per_bar > 0 ? o->co.beats_per_bar : 1;
        c = o->c_from - (int64_t)back * o->co.beat_ns;
        *bar = o->from_bar - 1 - (back - 1) / bpb;
        *beat = bpb - (back - 1) % bpb;
        *n = bpb;
    } else {
        int32_t num, den;
        tt_tempo_meter_at(o->map, o->pos.bar, &num, &den);
        c = tt_tempo_bbt_to_ns(o->map, o->pos);
        *bar = o->pos.bar;
        *beat = o->pos.beat;
        *n = num;
    }
    *at = o->downbeat + (c - o->c_from);
    return *at < o->stop;
}

static void advance_beat(agent_osc_t *o)
{
    if (o->co_i < o->co.beats) {
        o->co_i++;
        return;
    }
    int32_t num, den;
    tt_tempo_meter_at(o->map, o->pos.bar, &num, &den);
    if (++o->pos.beat > num) {
        o->pos.beat = 1;
        o->pos.bar++;
    }
    int32_t end = tt_tempo_end_bar(o->map);
    if ((end && o->pos.bar > end) || o->pos.bar >= TT_TEMPO_MAX_BAR)
        o->beats_done = 1;
}

static void on_roll(void *self, const void *data, size_t len)
{
    agent_osc_t *o = self;
    roll_cmd_t cmd;
    if (len <= sizeof cmd || ((const char *)data)[len - 1] != '\0') {
        tt_diag_error("osc: a roll command of %zu bytes without its map", len);
        return;
    }
    memcpy(&cmd, data, sizeof cmd);
    cmd.cue[sizeof cmd.cue - 1] = '\0';
    const char *text = (const char *)data + sizeof cmd;
    char why[TT_WHY_LEN];
    tt_tempo_destroy(&o->map);
    o->n_ones = o->next_one = 0;
    tt_tempo_map_t *map = tt_tempo_parse_text(text, strlen(text), why);
    if (!map) {
        tt_diag_error("osc: the roll of %s has a map that does not parse: %s", cmd.cue, why);
        return;
    }
    o->map = map;
    snprintf(o->cue, sizeof o->cue, "%s", cmd.cue);
    o->take = cmd.take;
    o->from_bar = cmd.from_bar;
    o->downbeat = cmd.downbeat;
    o->stop = cmd.stop;
    tt_tempo_countoff(map, cmd.from_bar, &o->co);
    o->c_from = o->co.c_from;
    o->co_i = 0;
    o->pos = (tt_bbt_t){cmd.from_bar, 1, 0};
    o->beats_done = 0;
    int64_t now = stamp_now(o);
    agent_osc_event_t ev = {.kind = AGENT_OSC_CUE, .session_ns = now, .s1 = o->cue};
    send_event(o, &ev);
    ev = (agent_osc_event_t){.kind = AGENT_OSC_TAKE, .session_ns = now, .i1 = (int32_t)o->take};
    send_event(o, &ev);
    if (cmd.downbeat > cmd.start)
        add_oneshot(
            o, &(oneshot_t){
                   .at = cmd.start, .kind = AGENT_OSC_TRANSPORT, .always = 1, .s1 = "count-in"});
    add_oneshot(o,
                &(oneshot_t){
                    .at = cmd.downbeat, .kind = AGENT_OSC_TRANSPORT, .always = 1, .s1 = "rolling"});
    size_t nv = tt_tempo_visual_count(map);
    for (size_t i = 0; i < nv; i++) {
        tt_visual_t v;
        if (tt_tempo_visual(map, i, &v) != 0)
            break;
        oneshot_t e = {.kind = AGENT_OSC_MARKER};
        e.at = o->downbeat + (v.start_ns - o->c_from); /* a streamer's start; else v.ns */
        if (e.at < cmd.start)
            continue; /* before the roll's first click: not part of it */
        snprintf(e.s1, sizeof e.s1, "%s", tt_visual_kind_name(v.spec.kind));
        snprintf(e.color, sizeof e.color, "%s", v.color_text);
        snprintf(e.name, sizeof e.name, "%s", v.spec.name);
        e.len_s = (float)(v.ns - v.start_ns) / 1e9f;
        add_oneshot(o, &e);
    }
}

static void on_stop(void *self, const void *data, size_t len)
{
    (void)len;
    agent_osc_t *o = self;
    int64_t at;
    memcpy(&at, data, sizeof at);
    if (!o->map || at >= o->stop)
        return; /* no roll, or a stop already in force before it */
    o->stop = at;
    add_oneshot(o,
                &(oneshot_t){.at = at, .kind = AGENT_OSC_TRANSPORT, .always = 1, .s1 = "stopped"});
}

static void on_arm(void *self, const void *data, size_t len)
{
    (void)len;
    agent_osc_t *o = self;
    arm_cmd_t cmd;
    memcpy(&cmd, data, sizeof cmd);
    cmd.cue[sizeof cmd.cue - 1] = '\0';
    agent_osc_event_t ev = {.kind = AGENT_OSC_CUE, .session_ns = cmd.at, .s1 = cmd.cue};
    send_event(o, &ev);
    ev = (agent_osc_event_t){.kind = AGENT_OSC_TRANSPORT,
                             .session_ns = cmd.at,
                             .s1 = "armed",
                             .s2 = cmd.cue,
                             .i1 = (int32_t)cmd.take};
    send_event(o, &ev);
}

static void on_change(void *self, const void *data, size_t len)
{
    agent_osc_t *o = self;
    uint64_t seq;
    if (len <= sizeof seq || ((const char *)data)[len - 1] != '\0')
        return;
    memcpy(&seq, data, sizeof seq);
    agent_osc_event_t ev = {.kind = AGENT_OSC_CHANGE,
                            .session_ns = stamp_now(o),
                            .i1 = (int32_t)seq,
                            .s3 = (const char *)data + sizeof seq};
    send_event(o, &ev);
}

static void on_ack(void *self, const void *data, size_t len)
{
    (void)len;
    agent_osc_t *o = self;
    uint64_t seq;
    memcpy(&seq, data, sizeof seq);
    agent_osc_event_t ev = {.kind = AGENT_OSC_ACK, .session_ns = stamp_now(o), .i1 = (int32_t)seq};
    send_event(o, &ev);
}

static const tt_actor_cmd_t commands[] = {
    {CMD_ROLL, TT_ACTOR_ANY_LEN, on_roll}, {CMD_STOP, sizeof(int64_t), on_stop},
    {CMD_ARM, sizeof(arm_cmd_t), on_arm},  {CMD_CHANGE, TT_ACTOR_ANY_LEN, on_change},
    {CMD_ACK, sizeof(uint64_t), on_ack},   {NULL, 0, NULL},
};

/* Applies every pending command; 1 when asked to stop the thread. */
static int handle_commands(agent_osc_t *o)
{
    for (;;) {
        tt_actor_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_actor_recv(o->pipe, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_PROTOCOL)
            continue;
        if (rc != 0)
            return 0;
        int quit = tt_actor_is_stop(m.cmd);
        if (!quit && tt_actor_dispatch(commands, o, &m, why) != 0)
            tt_diag_error("osc: %s", why);
        tt_actor_msg_clear(&m);
        if (quit)
            return 1;
    }
}

/* The earliest event due: 1 (a one-shot in *one, else a beat), 0 none. */
static int earliest(agent_osc_t *o, int64_t *at, const oneshot_t **one, int32_t b[3])
{
    /* a one-shot after the stop is dropped, but for the stop itself */
    while (o->next_one < o->n_ones && o->ones[o->next_one].at >= o->stop &&
           strcmp(o->ones[o->next_one].s1, "stopped") != 0)
        o->next_one++;
    int64_t tb = 0;
    int has_beat = next_beat(o, &tb, &b[0], &b[1], &b[2]);
    *one = o->next_one < o->n_ones ? &o->ones[o->next_one] : NULL;
    if (*one && (!has_beat || (*one)->at <= tb)) {
        *at = (*one)->at;
        return 1;
    }
    if (!has_beat)
        return 0;
    *one = NULL;
    *at = tb;
    return 1;
}

static void sleep_until_mono(int64_t mono)
{
    struct timespec ts = {(time_t)(mono / 1000000000), (long)(mono % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void osc_actor(void *pipe, void *arg)
{
    agent_osc_t *o = arg;
    o->pipe = pipe;
    tt_actor_ready(pipe, 0, NULL);
    for (;;) {
        if (handle_commands(o))
            break;
        int64_t at;
        const oneshot_t *one;
        int32_t b[3];
        long wait_ms = -1;
        tt_clock_map_t m;
        int64_t now = 0;
        int have = earliest(o, &at, &one, b);
        if (have && !session_now(o, &m, &now)) {
            wait_ms = 10; /* no session clock yet: look again soon */
            have = 0;
        }
        if (have) {
            int64_t due = tt_clock_client_mono_ns(o->cfg.clock, tt_clock_map_local(&m, at));
            int64_t left = due - tt_time_mono_ns();
            if (left > SPIN_NS) { /* poll the pipe until 2 ms before */
                wait_ms = (long)((left - SPIN_NS) / 1000000) + 1;
                have = 0;
            } else {
                if (left > 0)
                    sleep_until_mono(due);
                int late = now - at > (int64_t)AGENT_OSC_LATE_MS * 1000000;
                agent_osc_event_t ev = {.session_ns = at};
                if (one) {
                    ev.kind = one->kind;
                    ev.s1 = one->s1;
                    if (one->kind == AGENT_OSC_TRANSPORT) {
                        ev.s2 = o->cue;
                        ev.i1 = (int32_t)o->take;
                        ev.i2 = o->from_bar;
                    } else {
                        ev.s2 = one->color;
                        ev.s3 = one->name;
                        ev.f = one->len_s;
                    }
                    if (!late || one->always)
                        send_event(o, &ev);
                    o->next_one++;
                } else {
                    ev.kind = AGENT_OSC_BEAT;
                    ev.i1 = b[0];
                    ev.i2 = b[1];
                    ev.i3 = b[2];
                    if (!late)
                        send_event(o, &ev);
                    advance_beat(o);
                }
                continue;
            }
        }
        zmq_pollitem_t item = {pipe, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, wait_ms);
    }
    tt_tempo_destroy(&o->map);
}

/* ------------------------------------------------------------ owner */

agent_osc_t *agent_osc_start(void *ctx, const agent_osc_config_t *cfg, char *why)
{
    if (cfg->n_targets < 1 || cfg->n_targets > AGENT_OSC_MAX_TARGETS) {
        tt_fail(why, TT_ERR_INVALID, "--osc: 1..%d targets", AGENT_OSC_MAX_TARGETS);
        return NULL;
    }
    agent_osc_t *o = calloc(1, sizeof *o);
    agent_osc_target_t *targets = calloc((size_t)cfg->n_targets, sizeof *targets);
    if (!o || !targets) {
        free(o);
        free(targets);
        tt_fail(why, TT_ERR_NOMEM, "osc: out of memory");
        return NULL;
    }
    memcpy(targets, cfg->targets, (size_t)cfg->n_targets * sizeof *targets);
    o->cfg = *cfg;
    o->cfg.targets = targets;
    o->stop = INT64_MAX;
    for (int i = 0; i < cfg->n_targets; i++) {
        struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
        int rc = getaddrinfo(targets[i].host, targets[i].port, &hints, &res);
        if (rc != 0) {
            tt_fail(why, TT_ERR_INVALID, "--osc %s:%s: %s", targets[i].host, targets[i].port,
                    gai_strerror(rc));
            goto fail;
        }
        int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
            tt_fail(why, TT_ERR_IO, "--osc %s:%s: %s", targets[i].host, targets[i].port,
                    strerror(errno));
            if (fd >= 0)
                close(fd);
            freeaddrinfo(res);
            goto fail;
        }
        freeaddrinfo(res);
        o->fds[o->n_fds++] = fd;
    }
    if (!(o->actor = tt_actor_new(ctx, "osc", osc_actor, o, NULL, why)))
        goto fail;
    return o;
fail:
    agent_osc_destroy(&o);
    return NULL;
}

void agent_osc_destroy(agent_osc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_osc_t *o = *self_p;
    tt_actor_destroy(&o->actor);
    for (int i = 0; i < o->n_fds; i++)
        close(o->fds[i]);
    tt_tempo_destroy(&o->map);
    free((void *)o->cfg.targets);
    free(o);
    *self_p = NULL;
}

static void tell(agent_osc_t *o, const char *cmd, const void *data, size_t len)
{
    char why[TT_WHY_LEN];
    if (tt_actor_send(tt_actor_sock(o->actor), 0, cmd, data, len, why) != 0)
        tt_diag_error("osc: telling the OSC thread %s: %s", cmd, why);
}

void agent_osc_roll(agent_osc_t *o, const char *cue, uint32_t take, int32_t from_bar,
                    int64_t start_session_ns, int64_t downbeat_session_ns, int64_t stop_session_ns,
                    const char *map_text)
{
    size_t len = strlen(map_text) + 1;
    roll_cmd_t cmd = {.take = take,
                      .from_bar = from_bar,
                      .start = start_session_ns,
                      .downbeat = downbeat_session_ns,
                      .stop = stop_session_ns};
    snprintf(cmd.cue, sizeof cmd.cue, "%s", cue);
    uint8_t *buf = malloc(sizeof cmd + len);
    if (!buf) {
        tt_diag_error("osc: out of memory for a roll");
        return;
    }
    memcpy(buf, &cmd, sizeof cmd);
    memcpy(buf + sizeof cmd, map_text, len);
    tell(o, CMD_ROLL, buf, sizeof cmd + len);
    free(buf);
}

void agent_osc_stop(agent_osc_t *o, int64_t at_session_ns)
{
    tell(o, CMD_STOP, &at_session_ns, sizeof at_session_ns);
}

void agent_osc_arm(agent_osc_t *o, const char *cue, uint32_t next_take, int64_t at_session_ns)
{
    arm_cmd_t cmd = {.take = next_take, .at = at_session_ns};
    snprintf(cmd.cue, sizeof cmd.cue, "%s", cue);
    tell(o, CMD_ARM, &cmd, sizeof cmd);
}

void agent_osc_change(agent_osc_t *o, uint64_t seq, const char *text)
{
    size_t len = strnlen(text, AGENT_OSC_MAX_TEXT);
    uint8_t *buf = malloc(sizeof seq + len + 1);
    if (!buf) {
        tt_diag_error("osc: out of memory for a change");
        return;
    }
    memcpy(buf, &seq, sizeof seq);
    memcpy(buf + sizeof seq, text, len);
    buf[sizeof seq + len] = '\0';
    tell(o, CMD_CHANGE, buf, sizeof seq + len + 1);
    free(buf);
}

void agent_osc_ack(agent_osc_t *o, uint64_t seq)
{
    tell(o, CMD_ACK, &seq, sizeof seq);
}
