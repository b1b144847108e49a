/* tt_clock_client: ping/pong and the estimator on a thread. See tt_clock_client.h. */
#define _GNU_SOURCE
#include "tt_clock_client.h"
#include "tt_actor.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define REPORT_MS 200
#define PUBLISH_MS 5
#define PUBLISH_AHEAD_MS 20
#define PUBLISH_FAR_MS 120 /* the map's second segment, for long playback latencies */
#define RECENT_PINGS 32
/* Pings go out in bursts, each sent the moment the previous pong lands. On
 * this machine kind a thread that slept for a while wakes tens of us late
 * and not equally on both ends (measured: offset bias +35 us at one ping
 * per 250 ms, -1.4 us at one per ms), so the first exchange of a burst
 * only wakes both paths up and is not used. */
#define BURST 4

/* The pipe, main -> thread: CONNECT (the endpoint, its bytes, then
 * optionally a space and the service's Z85 key: another coordinator's
 * after a failover) and TRIM
 * (int64_t ns); thread -> main: REPORT (an tt_clock_client_report_t). */
#define CMD_CONNECT "CONNECT"
#define CMD_TRIM "TRIM"
#define CMD_REPORT "REPORT"
#define MAX_ENDPOINT 255

struct tt_clock_client {
    void *ctx;
    tt_actor_t *actor;

    /* Thread-owned from here on. */
    tt_keypair_t *keys; /* own copy: the caller's is only borrowed */
    char server_key[TT_Z85_KEY_LEN + 1];
    int64_t inject_offset_ns;
    double inject_skew_ppm;
    int64_t start_mono;
    FILE *trace;
    int trace_interval_ms;
    tt_clock_box_t *box;
    /* The bound published with the box: the estimate's plus the serving
     * clock's own (ClockPong.server_error_ns); UINT64_MAX while unbounded. */
    atomic_ullong error_ns;
};

static int64_t local_now(const tt_clock_client_t *c, int64_t mono)
{
    if (c->inject_offset_ns == 0 && c->inject_skew_ppm == 0.0)
        return mono;
    double skew = (double)(mono - c->start_mono) * c->inject_skew_ppm * 1e-6;
    return mono + (int64_t)llround(skew) + c->inject_offset_ns;
}

int64_t tt_clock_client_local_ns(const tt_clock_client_t *c, int64_t mono)
{
    return local_now(c, mono);
}

void tt_clock_client_injection(const tt_clock_client_t *c, int64_t *start_mono, int64_t *offset_ns,
                               double *skew_ppm)
{
    *start_mono = c->start_mono;
    *offset_ns = c->inject_offset_ns;
    *skew_ppm = c->inject_skew_ppm;
}

int64_t tt_clock_client_mono_ns(const tt_clock_client_t *c, int64_t local)
{
    if (c->inject_offset_ns == 0 && c->inject_skew_ppm == 0.0)
        return local;
    double k = 1.0 + c->inject_skew_ppm * 1e-6;
    return c->start_mono +
           (int64_t)llround((double)(local - c->inject_offset_ns - c->start_mono) / k);
}

typedef struct {
    tt_clock_client_t *c;
    void *pipe;
    void *dealer;
    tt_clock_est_t *est;
    int64_t trim_ns;
    uint64_t epoch;
    uint64_t server_error_ns;     /* the newest pong's */
    int64_t recent[RECENT_PINGS]; /* t1 of pings in flight */
    int recent_next;
    uint64_t request_id;
    tt_clock_state_t last_state;
    int burst_left;    /* pings still to send in this burst */
    int64_t warmup_t1; /* t1 of the burst's first ping: not a sample */
    int64_t next_ping; /* mono */
} clock_loop_t;

static void open_dealer(clock_loop_t *l, const char *endpoint)
{
    if (l->dealer)
        zmq_close(l->dealer);
    l->dealer = zmq_socket(l->c->ctx, ZMQ_DEALER);
    char why[TT_WHY_LEN];
    int one = 1;
    if (!l->dealer || tt_wire_setup_client(l->dealer, l->c->keys, l->c->server_key, why) != 0 ||
        zmq_setsockopt(l->dealer, ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
        zmq_connect(l->dealer, endpoint) != 0) {
        tt_diag_error("clock: cannot connect to %s: %s", endpoint, zmq_strerror(errno));
        if (l->dealer)
            zmq_close(l->dealer);
        l->dealer = NULL;
        return;
    }
    int ivl = 100;
    zmq_setsockopt(l->dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    tt_diag_info("clock: using the clock service at %s", endpoint);
}

static int64_t send_ping(clock_loop_t *l)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__ClockPing ping = TUTTI__CLOCK_PING__INIT;
    env.body_case = TUTTI__ENVELOPE__BODY_CLOCK_PING;
    env.clock_ping = &ping;
    env.request_id = ++l->request_id;
    ping.t1 = local_now(l->c, tt_time_mono_ns());
    if (tt_wire_send(l->dealer, NULL, 0, &env, NULL) != 0)
        return 0;
    l->recent[l->recent_next] = ping.t1;
    l->recent_next = (l->recent_next + 1) % RECENT_PINGS;
    return ping.t1;
}

static void start_burst(clock_loop_t *l)
{
    l->warmup_t1 = send_ping(l);
    l->burst_left = l->warmup_t1 ? BURST - 1 : 0;
}

/* A pong counts only if it answers a ping we sent and have not matched. */
static int claim_ping(clock_loop_t *l, int64_t t1)
{
    for (int i = 0; i < RECENT_PINGS; i++)
        if (l->recent[i] == t1 && t1 != 0) {
            l->recent[i] = 0;
            return 1;
        }
    return 0;
}

/* A pong of a new epoch comes from a restarted coordinator or another one
 * (a standby that took over, a relay) that may serve the same session time
 * through an estimate of its own. Same timeline when its time agrees with
 * ours within our bound, its stated bound (server_error_ns), half the round
 * trip and 1 ms: the estimate is kept, so a failover costs the room no
 * re-acquisition (no clock while acquiring); otherwise it starts over. */
static int same_timeline(clock_loop_t *l, const Tutti__ClockPong *p, int64_t t4)
{
    tt_clock_est_report_t r;
    tt_clock_est_report(l->est, t4, &r);
    if (r.state == TT_CLOCK_ACQUIRING || r.state == TT_CLOCK_LOST || !isfinite(r.error_bound_us) ||
        t4 < p->t1 || p->t3 < p->t2)
        return 0;
    int64_t ours = tt_clock_est_preview_ns(l->est, p->t1 + (t4 - p->t1) / 2);
    int64_t theirs = p->t2 + (p->t3 - p->t2) / 2;
    double allowed_ns =
        r.error_bound_us * 1000.0 + (double)p->server_error_ns + (double)(t4 - p->t1) / 2.0 + 1e6;
    double off_ns = fabs((double)(ours - theirs));
    if (off_ns <= allowed_ns)
        tt_diag_info("clock: coordinator restarted (new epoch), serving the same session time "
                     "(%.0f us apart, its bound %.0f us): estimate kept",
                     off_ns / 1000.0, (double)p->server_error_ns / 1000.0);
    return off_ns <= allowed_ns;
}

static void on_pongs(clock_loop_t *l, int64_t woke_local)
{
    for (int i = 0;; i++) {
        tt_wire_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_wire_recv(l->dealer, 0, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_AGAIN)
            return;
        if (rc == TT_ERR_IO) {
            tt_diag_warn("clock: reading pongs: %s", why);
            return;
        }
        int64_t t4 = i == 0 ? woke_local : local_now(l->c, tt_time_mono_ns());
        if (rc == 0 && m.env->body_case == TUTTI__ENVELOPE__BODY_CLOCK_PONG) {
            const Tutti__ClockPong *p = m.env->clock_pong;
            if (l->epoch && p->epoch != l->epoch && !same_timeline(l, p, t4)) {
                tt_diag_warn("clock: coordinator restarted (new epoch): re-acquiring");
                tt_clock_est_reset(l->est);
            }
            l->epoch = p->epoch;
            if (claim_ping(l, p->t1)) {
                l->server_error_ns = p->server_error_ns;
                if (p->t1 != l->warmup_t1)
                    tt_clock_est_add(l->est, p->t1, p->t2, p->t3, t4);
                if (l->burst_left > 0) {
                    l->burst_left--;
                    send_ping(l);
                }
            }
        } else if (rc == 0 && m.env->body_case == TUTTI__ENVELOPE__BODY_ERROR) {
            tt_diag_warn("clock: coordinator says: %s", m.env->error->message);
        }
        tt_wire_msg_clear(&m);
    }
}

static void send_report(clock_loop_t *l, int64_t now_local)
{
    tt_clock_est_report_t r;
    tt_clock_est_report(l->est, now_local, &r);
    /* A relay or a promoted standby serves time through an estimate of its
     * own: its bound adds to ours. */
    r.error_bound_us += (double)l->server_error_ns / 1000.0;
    tt_clock_client_report_t out = {
        .state = r.state,
        .offset_us = r.offset_us + (double)l->trim_ns / 1000.0,
        .drift_ppm = r.drift_ppm,
        .rtt_us = r.rtt_us,
        .error_bound_us = isfinite(r.error_bound_us) ? r.error_bound_us : -1.0,
        .trim_us = (double)l->trim_ns / 1000.0,
        .has_sample = r.samples > 0 || r.state != TT_CLOCK_ACQUIRING,
    };
    tt_actor_send(l->pipe, ZMQ_DONTWAIT, CMD_REPORT, &out, sizeof out, NULL); /* newest wins */
    if (r.state != l->last_state) {
        tt_diag_info("clock: %s (offset %.1f us, drift %.2f ppm, rtt %.0f us, bound %.1f us)",
                     tt_clock_state_name(r.state), out.offset_us, r.drift_ppm, r.rtt_us,
                     out.error_bound_us);
        l->last_state = r.state;
    }
}

/* The rate is the slope of the estimator's own (slewed) output over the
 * next PUBLISH_AHEAD_MS, the stretch a renderer extrapolates over before
 * the next mapping (a JACK period of 1024 frames is 21 ms, plus up to
 * PUBLISH_MS of age). The slope of the last interval, used before, missed
 * by up to 10-17 µs at that distance whenever a correction started or
 * ended in between (measured on published mappings under it_jack). */
static void publish_map(clock_loop_t *l, int64_t mono)
{
    int64_t local = local_now(l->c, mono);
    tt_clock_est_report_t r;
    tt_clock_est_report(l->est, local, &r);
    tt_clock_map_t m = {
        .local_ref = local,
        .session_ref = tt_clock_est_session_ns(l->est, local) + l->trim_ns,
        .rate = 1.0 + r.drift_ppm * 1e-6,
        .state = (int)r.state,
        .valid = r.samples > 0 || r.state != TT_CLOCK_ACQUIRING,
    };
    if (m.valid) {
        const int64_t ahead = PUBLISH_AHEAD_MS * 1000000LL, far = PUBLISH_FAR_MS * 1000000LL;
        int64_t knee = tt_clock_est_preview_ns(l->est, local + ahead) + l->trim_ns;
        double slope = (double)(knee - m.session_ref) / (double)ahead;
        if (slope > 0.999 && slope < 1.001) {
            m.rate = slope;
            /* On past the knee along the estimator's own course. */
            double far_slope =
                (double)(tt_clock_est_preview_ns(l->est, local + far) + l->trim_ns - knee) /
                (double)(far - ahead);
            if (far_slope > 0.999 && far_slope < 1.001) {
                m.knee_local = local + ahead;
                m.knee_session = knee;
                m.far_rate = far_slope;
            }
        }
    }
    double bound_ns = (r.error_bound_us + (double)l->server_error_ns / 1000.0) * 1000.0;
    atomic_store(&l->c->error_ns,
                 m.valid && isfinite(bound_ns) && bound_ns >= 0 ? (uint64_t)bound_ns : UINT64_MAX);
    tt_clock_box_publish(l->c->box, &m);
}

static void write_trace(clock_loop_t *l, int64_t mono)
{
    int64_t local = local_now(l->c, mono);
    int64_t session = tt_clock_est_session_ns(l->est, local) + l->trim_ns;
    tt_clock_est_report_t r;
    tt_clock_est_report(l->est, local, &r);
    fprintf(l->c->trace, "%lld %lld %lld %s %.0f\n", (long long)mono, (long long)local,
            (long long)session, tt_clock_state_name(r.state),
            isfinite(r.error_bound_us) ? r.error_bound_us * 1000.0 + (double)l->server_error_ns
                                       : -1.0);
}

static void on_connect(void *self, const void *data, size_t len)
{
    clock_loop_t *l = self;
    char endpoint[MAX_ENDPOINT + TT_Z85_KEY_LEN + 2];
    size_t max = sizeof endpoint - 1;
    snprintf(endpoint, sizeof endpoint, "%.*s", (int)(len < max ? len : max),
             data ? (const char *)data : "");
    char *space = strrchr(endpoint, ' ');
    if (space && tt_z85_key_valid(space + 1)) {
        snprintf(l->c->server_key, sizeof l->c->server_key, "%s", space + 1);
        *space = '\0';
    }
    open_dealer(l, endpoint);
    l->next_ping = tt_time_mono_ns();
}

static void on_trim(void *self, const void *data, size_t len)
{
    (void)len;
    clock_loop_t *l = self;
    int64_t trim_ns;
    memcpy(&trim_ns, data, sizeof trim_ns);
    if (trim_ns != l->trim_ns)
        tt_diag_info("clock: trim %.1f us", (double)trim_ns / 1000.0);
    l->trim_ns = trim_ns;
}

static const tt_actor_cmd_t commands[] = {
    {CMD_CONNECT, TT_ACTOR_ANY_LEN, on_connect},
    {CMD_TRIM, sizeof(int64_t), on_trim},
    {NULL, 0, NULL},
};

/* Applies one command from the pipe; 1 when it was the stop. */
static int on_command(clock_loop_t *l)
{
    tt_actor_msg_t m;
    char why[TT_WHY_LEN];
    if (tt_actor_recv(l->pipe, ZMQ_DONTWAIT, &m, why) != 0)
        return 0;
    int stop = tt_actor_is_stop(m.cmd);
    if (!stop && tt_actor_dispatch(commands, l, &m, why) != 0)
        tt_diag_error("clock: %s", why);
    tt_actor_msg_clear(&m);
    return stop;
}

static void clock_actor(void *pipe, void *arg)
{
    tt_clock_client_t *c = arg;
    clock_loop_t l = {.c = c, .last_state = TT_CLOCK_ACQUIRING};
    tt_clock_est_config_t cfg;
    tt_clock_est_config_default(&cfg);
    l.est = tt_clock_est_new(&cfg);
    l.pipe = pipe;
    if (!l.est) {
        tt_actor_ready(pipe, TT_ERR_NOMEM, "clock: cannot start the clock thread");
        return;
    }
    tt_actor_ready(pipe, 0, NULL);
    const int64_t ms = 1000000;
    int64_t now = tt_time_mono_ns();
    int64_t next_report = now, next_trace = now, next_publish = now;
    l.next_ping = now;
    for (;;) {
        now = tt_time_mono_ns();
        tt_clock_est_tick(l.est, local_now(c, now));
        if (l.dealer && now >= l.next_ping) {
            start_burst(&l);
            l.next_ping = now + tt_clock_est_next_ping_ms(l.est) * ms;
        }
        if (now >= next_report) {
            send_report(&l, local_now(c, now));
            next_report = now + REPORT_MS * ms;
        }
        if (c->box && now >= next_publish) {
            publish_map(&l, now);
            next_publish = now + PUBLISH_MS * ms;
        }
        if (c->trace && now >= next_trace) {
            write_trace(&l, now);
            next_trace += c->trace_interval_ms * ms;
            if (next_trace < now)
                next_trace = now + c->trace_interval_ms * ms;
        }
        int64_t next = next_report;
        if (l.dealer && l.next_ping < next)
            next = l.next_ping;
        if (c->trace && next_trace < next)
            next = next_trace;
        if (c->box && next_publish < next)
            next = next_publish;
        long wait_ms = next > now ? (long)((next - now + ms - 1) / ms) : 0;
        zmq_pollitem_t items[2] = {{l.pipe, 0, ZMQ_POLLIN, 0}, {l.dealer, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(items, l.dealer ? 2 : 1, wait_ms);
        int64_t woke_local = local_now(c, tt_time_mono_ns());
        if (n < 0 && errno != EINTR) {
            tt_diag_error("clock: polling: %s", zmq_strerror(errno));
            break;
        }
        if (n <= 0)
            continue;
        if (l.dealer && (items[1].revents & ZMQ_POLLIN))
            on_pongs(&l, woke_local);
        if ((items[0].revents & ZMQ_POLLIN) && on_command(&l))
            break;
    }
    if (l.dealer)
        zmq_close(l.dealer);
    tt_clock_est_destroy(&l.est);
}

tt_clock_client_t *tt_clock_client_start(void *ctx, const tt_clock_client_config_t *cfg, char *why)
{
    tt_clock_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the clock");
        return NULL;
    }
    c->ctx = ctx;
    c->inject_offset_ns = cfg->inject_offset_ns;
    c->inject_skew_ppm = cfg->inject_skew_ppm;
    c->start_mono = tt_time_mono_ns();
    c->trace_interval_ms = cfg->trace_interval_ms > 0 ? cfg->trace_interval_ms : 10;
    c->box = cfg->box;
    atomic_init(&c->error_ns, UINT64_MAX);
    snprintf(c->server_key, sizeof c->server_key, "%s", cfg->server_key_z85);
    c->keys = tt_keypair_copy(cfg->keys, why);
    if (!c->keys)
        goto fail;
    if (cfg->trace_path) {
        c->trace = fopen(cfg->trace_path, "w");
        if (!c->trace) {
            tt_fail(why, TT_ERR_IO, "opening --clock-trace %s: %s", cfg->trace_path,
                    strerror(errno));
            goto fail;
        }
        fprintf(c->trace, "# mono_ns local_ns session_estimate_ns state error_bound_ns\n");
    }
    if (!(c->actor = tt_actor_new(ctx, "clock", clock_actor, c, NULL, why)))
        goto fail;
    return c;
fail:
    tt_clock_client_stop(&c);
    return NULL;
}

void tt_clock_client_stop(tt_clock_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_clock_client_t *c = *self_p;
    tt_actor_destroy(&c->actor); /* joined: the trace file is ours again */
    if (c->trace)
        fclose(c->trace);
    tt_keypair_destroy(&c->keys);
    free(c);
    *self_p = NULL;
}

void tt_clock_client_connect_key(tt_clock_client_t *c, const char *endpoint,
                                 const char *server_key_z85)
{
    char why[TT_WHY_LEN];
    size_t len = strnlen(endpoint, MAX_ENDPOINT + 1);
    if (len > MAX_ENDPOINT || strchr(endpoint, ' ')) {
        tt_diag_error("clock: cannot connect to %.64s...: not an endpoint", endpoint);
        return;
    }
    char msg[MAX_ENDPOINT + TT_Z85_KEY_LEN + 2];
    int n = snprintf(msg, sizeof msg, "%s", endpoint);
    if (server_key_z85 && tt_z85_key_valid(server_key_z85))
        n = snprintf(msg, sizeof msg, "%s %s", endpoint, server_key_z85);
    if (tt_actor_send(tt_actor_sock(c->actor), ZMQ_DONTWAIT, CMD_CONNECT, msg, (size_t)n, why) != 0)
        tt_diag_error("clock: telling the clock thread to connect: %s", why);
}

void tt_clock_client_connect(tt_clock_client_t *c, const char *endpoint)
{
    tt_clock_client_connect_key(c, endpoint, NULL);
}

void tt_clock_client_set_trim(tt_clock_client_t *c, int64_t trim_ns)
{
    char why[TT_WHY_LEN];
    if (tt_actor_send(tt_actor_sock(c->actor), ZMQ_DONTWAIT, CMD_TRIM, &trim_ns, sizeof trim_ns,
                      why) != 0)
        tt_diag_error("clock: telling the clock thread the trim: %s", why);
}

void *tt_clock_client_socket(tt_clock_client_t *c)
{
    return tt_actor_sock(c->actor);
}

int tt_clock_client_read(tt_clock_client_t *c, tt_clock_client_report_t *out)
{
    int any = 0;
    tt_actor_msg_t m;
    while (tt_actor_recv(tt_actor_sock(c->actor), ZMQ_DONTWAIT, &m, NULL) == 0) {
        if (!strcmp(m.cmd, CMD_REPORT) && m.len == sizeof *out) {
            memcpy(out, m.data, sizeof *out);
            any = 1;
        }
        tt_actor_msg_clear(&m);
    }
    return any;
}

int tt_clock_client_session_ns(tt_clock_client_t *c, int64_t mono, int64_t *session,
                               uint64_t *error_ns)
{
    if (!c->box)
        return -1;
    tt_clock_map_t m;
    tt_clock_box_read(c->box, &m);
    if (!m.valid)
        return -1;
    *session = tt_clock_map_session(&m, local_now(c, mono));
    *error_ns = atomic_load(&c->error_ns);
    return 0;
}
