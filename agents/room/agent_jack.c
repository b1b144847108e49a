/* agent_jack: click + LTC on JACK ports. See agent_jack.h. */
#define _GNU_SOURCE
#include "agent_jack.h"
#include "agent_click.h"
#include "agent_cycle_map.h"
#include "agent_playback.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_time.h"

#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/ringbuffer.h>
#include <jack/transport.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { JCMD_ROLL = 1, JCMD_STOP, JCMD_PLAYBACK };

typedef struct {
    int kind;
    agent_click_roll_t *roll;  /* JCMD_ROLL: ownership passes to the callback */
    agent_midi_roll_t *midi;   /* JCMD_ROLL: the same roll's MIDI and transport, or NULL */
    int64_t at_session_ns;     /* JCMD_STOP */
    agent_playback_roll_t *pb; /* JCMD_PLAYBACK: ownership passes to the callback */
} jack_cmd_t;

struct agent_jack {
    agent_jack_config_t cfg;
    jack_client_t *client;
    agent_click_outputs_t outputs;
    int nclick;
    jack_port_t *click_ports[AGENT_CLICK_MAX_FEEDS], *ltc_port;
    agent_click_samples_t *words;
    jack_port_t *prelay_port;        /* prelays and guides (agent_playback) */
    jack_ringbuffer_t *retired_pb;   /* agent_playback_roll_t *, callback -> main */
    agent_playback_roll_t *pb;       /* callback-owned */
    jack_ringbuffer_t *to_rt;        /* jack_cmd_t, main -> callback */
    jack_ringbuffer_t *retired;      /* agent_click_roll_t *, callback -> main */
    jack_ringbuffer_t *retired_midi; /* agent_midi_roll_t *, callback -> main */
    agent_midi_outputs_t midi;
    jack_port_t *midi_ports[AGENT_MIDI_MAX_PORTS];
    int timebase;                      /* 1: this client is the timebase master */
    atomic_uint_fast64_t midi_dropped; /* events the port buffers had no room for */
    uint64_t logged_midi_dropped;
    int64_t jack_minus_mono_ns; /* jack_get_time() * 1000 - CLOCK_MONOTONIC */
    int rate;
    int active;
    /* Capture: ports registered on the main thread before the pointer is
     * published; the callback reads the pointer with acquire. */
    jack_port_t *in_ports[AGENT_CAPTURE_MAX_INPUTS];
    int n_in;
    _Atomic(agent_capture_t *) capture;
    atomic_int capture_latency;  /* frames between the converter and this cycle */
    atomic_int playback_latency; /* frames between this cycle and the click's converter */
    /* Published by the callback for the main thread's log. */
    atomic_uint_fast64_t cycle_distrusts, cycle_reanchors;
    atomic_int cycle_trusted;
    atomic_llong fail_ppm, fail_lag_us, fail_skipped; /* the last failing cycle */
    /* Main thread: what was last logged. */
    uint64_t logged_distrusts, logged_reanchors;
    int logged_trusted, logged_playback_latency;
    /* Callback-owned (the timebase callback runs on the same thread). */
    agent_midi_roll_t *mroll;
    int64_t midi_s[AGENT_MIDI_MAX_PORTS]; /* each port's last event sent: (s, order) */
    int midi_order[AGENT_MIDI_MAX_PORTS];
    agent_midi_transport_t tp; /* the roll's transport start */
    int tp_located, tp_started, tp_stopped;
    int64_t midi_prev_local1; /* where the last cycle's local time ended; 0: none */
    agent_click_t click;
    agent_cycle_map_t cycle_map;
    int64_t frames64; /* 64-bit frame counter */
    jack_nframes_t last_frames;
    int have_frames;
};

static void take_commands(agent_jack_t *j)
{
    jack_cmd_t cmd;
    while (jack_ringbuffer_read_space(j->to_rt) >= sizeof cmd) {
        jack_ringbuffer_read(j->to_rt, (char *)&cmd, sizeof cmd);
        if (cmd.kind == JCMD_ROLL) {
            agent_click_roll_t *old = agent_click_set_roll(&j->click, cmd.roll);
            if (old && jack_ringbuffer_write_space(j->retired) >= sizeof old)
                jack_ringbuffer_write(j->retired, (const char *)&old, sizeof old);
            /* else: leak rather than free in the callback; the ring holds 64 */
            if (cmd.midi) {
                agent_midi_roll_t *mold = j->mroll;
                j->mroll = cmd.midi;
                if (mold && jack_ringbuffer_write_space(j->retired_midi) >= sizeof mold)
                    jack_ringbuffer_write(j->retired_midi, (const char *)&mold, sizeof mold);
                for (int p = 0; p < j->midi.n; p++) {
                    j->midi_s[p] = INT64_MIN;
                    j->midi_order[p] = -1;
                }
                agent_midi_transport(j->mroll, j->rate, &j->tp);
                j->tp_located = j->tp_started = j->tp_stopped = 0;
            }
        } else if (cmd.kind == JCMD_STOP) {
            agent_click_set_stop(&j->click, cmd.at_session_ns);
            if (j->mroll)
                agent_midi_roll_set_stop(j->mroll, cmd.at_session_ns);
            agent_playback_set_stop(j->pb, cmd.at_session_ns);
        } else if (cmd.kind == JCMD_PLAYBACK) {
            agent_playback_roll_t *old = j->pb;
            j->pb = cmd.pb;
            if (old && jack_ringbuffer_write_space(j->retired_pb) >= sizeof old)
                jack_ringbuffer_write(j->retired_pb, (const char *)&old, sizeof old);
        }
    }
}

/* Exact (fractional) sample position of session time s, as the click places it. */
static double session_position(const agent_click_clock_t *k, const tt_clock_map_t *m, int64_t s)
{
    return (double)k->s0 + (double)(tt_clock_map_local(m, s) - k->local0) / k->ns_per_sample;
}

static int64_t sample_session(const agent_click_clock_t *k, const tt_clock_map_t *m, int64_t i)
{
    return tt_clock_map_session(m, k->local0 +
                                       (int64_t)llround((double)(i - k->s0) * k->ns_per_sample));
}

/* Real-time. Each port's messages of this period, on the sample a click
 * at the same instant would start (ceil of its position). One that falls
 * before the period (the roll came late, or the mapping stepped) goes on
 * its first sample if it sets a receiver's position or is less than a
 * period late; others are dropped, so a late roll joins mid-stream. */
static void write_midi(agent_jack_t *j, const tt_clock_map_t *m, const agent_click_clock_t *k,
                       jack_nframes_t n)
{
    /* A cycle whose local time does not follow on from the last one's (an
     * xrun: the server repeats or skips frames, and one cycle was seen to
     * map seconds away) is held: judged against it, every message to come
     * would look late and be dropped. A real step (a stall) costs a cycle. */
    int64_t local1 = k->local0 + (int64_t)llround((double)n * k->ns_per_sample);
    double nominal = 1e9 / j->rate;
    int hold = (j->midi_prev_local1 && llabs(k->local0 - j->midi_prev_local1) > 20000000) ||
               !(k->ns_per_sample > 0.5 * nominal && k->ns_per_sample < 2 * nominal);
    j->midi_prev_local1 = local1;
    for (int p = 0; p < j->midi.n; p++) {
        void *buf = jack_port_get_buffer(j->midi_ports[p], n);
        jack_midi_clear_buffer(buf);
        if (!j->mroll || !m->valid || hold)
            continue;
        jack_nframes_t last = 0;
        agent_midi_event_t ev;
        /* Bounded: a roll seconds late skips its past over a few periods. */
        for (int guard = 0; guard < 512; guard++) {
            if (agent_midi_next(j->mroll, j->midi.kinds[p], j->midi_s[p], j->midi_order[p], &ev) !=
                0)
                break;
            int64_t i = (int64_t)ceil(session_position(k, m, ev.s));
            if (i >= k->s0 + (int64_t)n)
                break;
            j->midi_s[p] = ev.s;
            j->midi_order[p] = ev.order;
            if (i < k->s0) {
                if (ev.order > AGENT_MIDI_ORDER_STATE && i < k->s0 - (int64_t)n)
                    continue;
                i = k->s0;
            }
            jack_nframes_t at = (jack_nframes_t)(i - k->s0);
            if (at < last)
                at = last;
            if (jack_midi_event_write(buf, at, ev.bytes, (size_t)ev.len) == 0)
                last = at;
            else
                atomic_fetch_add_explicit(&j->midi_dropped, 1, memory_order_relaxed);
        }
    }
}

/* Real-time (jack_transport_* are). A request takes effect at the next
 * cycle: ask one cycle ahead, so the transport rolls from the cycle that
 * holds the instant (its frame then leads by less than a period). */
static void drive_transport(agent_jack_t *j, const tt_clock_map_t *m, const agent_click_clock_t *k,
                            jack_nframes_t n)
{
    if (!j->timebase || !j->mroll || !m->valid)
        return;
    if (!j->tp_located) {
        jack_transport_stop(j->client);
        jack_transport_locate(j->client, (jack_nframes_t)j->tp.frame);
        j->tp_located = 1;
    }
    int64_t ahead = sample_session(k, m, k->s0 + 2 * (int64_t)n);
    int64_t stop = agent_midi_roll_stop(j->mroll);
    if (!j->tp_started && j->tp.start_s < stop && ahead > j->tp.start_s) {
        jack_transport_start(j->client);
        j->tp_started = 1;
    }
    if (j->tp_started && !j->tp_stopped && stop != INT64_MAX && ahead > stop) {
        jack_transport_stop(j->client);
        j->tp_stopped = 1;
    }
}

/* The timebase master's part of every cycle (called by JACK on the
 * process thread): bar|beat|tick of the transport frame from the roll's
 * map; frame F is cue time F / rate. */
static void on_timebase(jack_transport_state_t state, jack_nframes_t nframes, jack_position_t *pos,
                        int new_pos, void *arg)
{
    (void)state;
    (void)nframes;
    (void)new_pos;
    agent_jack_t *j = arg;
    if (!j->mroll || pos->frame_rate == 0)
        return;
    agent_midi_bbt_t b;
    agent_midi_bbt(j->mroll, (int64_t)llround((double)pos->frame * 1e9 / pos->frame_rate), &b);
    pos->valid = JackPositionBBT;
    pos->bar = b.bar;
    pos->beat = b.beat;
    pos->tick = b.tick;
    pos->bar_start_tick = b.bar_start_tick;
    pos->beats_per_bar = (float)b.beats_per_bar;
    pos->beat_type = (float)b.beat_type;
    pos->ticks_per_beat = b.ticks_per_beat;
    pos->beats_per_minute = b.beats_per_minute;
}

/* Real-time: see the file comment. */
static int process(jack_nframes_t n, void *arg)
{
    agent_jack_t *j = arg;
    int64_t wake = tt_time_mono_ns();
    take_commands(j);
    float *outs[AGENT_CLICK_MAX_FEEDS];
    for (int f = 0; f < j->nclick; f++)
        outs[f] = jack_port_get_buffer(j->click_ports[f], n);
    float *ltc = jack_port_get_buffer(j->ltc_port, n);
    float *prelay = jack_port_get_buffer(j->prelay_port, n);
    jack_nframes_t cur_frames;
    jack_time_t cur_usecs, next_usecs;
    float period_usecs;
    if (n == 0 ||
        jack_get_cycle_times(j->client, &cur_frames, &cur_usecs, &next_usecs, &period_usecs) != 0) {
        for (int f = 0; f < j->nclick; f++)
            memset(outs[f], 0, n * sizeof *outs[f]);
        memset(ltc, 0, n * sizeof *ltc);
        memset(prelay, 0, n * sizeof *prelay);
        for (int p = 0; p < j->midi.n; p++)
            jack_midi_clear_buffer(jack_port_get_buffer(j->midi_ports[p], n));
        return 0;
    }
    if (j->have_frames)
        j->frames64 += (jack_nframes_t)(cur_frames - j->last_frames); /* wraps at 2^32 */
    else
        j->frames64 = cur_frames;
    j->last_frames = cur_frames;
    j->have_frames = 1;
    /* JACK's figures for this cycle, checked against the wake-up (see
     * agent_cycle_map.h: after a stall they are milliseconds off). */
    agent_cycle_t cyc = {j->frames64, (int)n, (int64_t)cur_usecs * 1000 - j->jack_minus_mono_ns,
                         (int64_t)next_usecs * 1000 - j->jack_minus_mono_ns, wake};
    agent_cycle_time_t ct = agent_cycle_map_next(&j->cycle_map, &cyc);
    atomic_store_explicit(&j->cycle_distrusts, j->cycle_map.distrusts, memory_order_relaxed);
    atomic_store_explicit(&j->cycle_reanchors, j->cycle_map.reanchors, memory_order_relaxed);
    atomic_store_explicit(&j->cycle_trusted, ct.trusted, memory_order_relaxed);
    atomic_store_explicit(&j->fail_ppm, llround(j->cycle_map.fail_ppm), memory_order_relaxed);
    atomic_store_explicit(&j->fail_lag_us, llround(j->cycle_map.fail_lag_ns / 1e3),
                          memory_order_relaxed);
    atomic_store_explicit(&j->fail_skipped, j->cycle_map.fail_skipped, memory_order_relaxed);
    /* What is written now reaches the converter playback-latency frames
     * later: place every event that much earlier. */
    int64_t lat = atomic_load_explicit(&j->playback_latency, memory_order_relaxed);
    int64_t out0 = ct.mono0 + (int64_t)llround((double)lat * ct.ns_per_frame);
    int64_t out1 = out0 + (int64_t)llround((double)n * ct.ns_per_frame);
    int64_t local0 = tt_clock_client_local_ns(j->cfg.clock, out0);
    int64_t local1 = tt_clock_client_local_ns(j->cfg.clock, out1);
    /* The samples written this cycle sound in [local0, local1). */
    agent_click_clock_t k = {j->frames64, local0, (double)(local1 - local0) / (double)n};
    tt_clock_map_t m;
    tt_clock_box_read(j->cfg.box, &m);
    agent_click_render_feeds(&j->click, &m, &k, outs, ltc, (int)n);
    agent_playback_render(j->pb, &m, &k, prelay, (int)n); /* the click's mapping and latency */
    write_midi(j, &m, &k, n);
    drive_transport(j, &m, &k, n);
    agent_capture_t *cap = atomic_load_explicit(&j->capture, memory_order_acquire);
    if (cap && m.valid) {
        const float *in[AGENT_CAPTURE_MAX_INPUTS];
        for (int i = 0; i < j->n_in; i++)
            in[i] = jack_port_get_buffer(j->in_ports[i], n);
        /* This period's input entered the converter capture-latency frames
         * before the cycle start. */
        int64_t cycle_local = tt_clock_client_local_ns(j->cfg.clock, ct.mono0);
        int64_t s0 = agent_capture_sample(tt_clock_map_session(&m, cycle_local), j->rate) -
                     atomic_load_explicit(&j->capture_latency, memory_order_relaxed);
        agent_capture_rt_push(cap, n, in, s0, j->frames64);
    }
    return 0;
}

/* Notification thread: JACK recomputed latencies (a connection changed). */
static void on_latency(jack_latency_callback_mode_t mode, void *arg)
{
    agent_jack_t *j = arg;
    jack_latency_range_t r;
    if (mode == JackPlaybackLatency) {
        jack_port_get_latency_range(j->click_ports[0], JackPlaybackLatency, &r);
        atomic_store_explicit(&j->playback_latency, (int)r.max, memory_order_relaxed);
    } else if (atomic_load_explicit(&j->capture, memory_order_acquire)) {
        jack_port_get_latency_range(j->in_ports[0], JackCaptureLatency, &r);
        atomic_store_explicit(&j->capture_latency, (int)r.max, memory_order_relaxed);
    }
}

void agent_jack_log_changes(agent_jack_t *j)
{
    uint64_t distrusts = atomic_load_explicit(&j->cycle_distrusts, memory_order_relaxed);
    uint64_t reanchors = atomic_load_explicit(&j->cycle_reanchors, memory_order_relaxed);
    int trusted = atomic_load_explicit(&j->cycle_trusted, memory_order_relaxed);
    int lat = atomic_load_explicit(&j->playback_latency, memory_order_relaxed);
    if (distrusts != j->logged_distrusts || reanchors != j->logged_reanchors)
        tt_diag_warn("JACK: the server's cycle times went wrong (stall or xrun; last: period "
                     "%+lld ppm, callback %+.3f ms after the cycle start, %lld frames skipped): "
                     "timing from the callback's wake-ups (%llu times so far, %llu re-anchors)",
                     (long long)atomic_load_explicit(&j->fail_ppm, memory_order_relaxed),
                     (double)atomic_load_explicit(&j->fail_lag_us, memory_order_relaxed) / 1e3,
                     (long long)atomic_load_explicit(&j->fail_skipped, memory_order_relaxed),
                     (unsigned long long)distrusts, (unsigned long long)reanchors);
    else if (trusted && !j->logged_trusted)
        tt_diag_info("JACK: back on the server's cycle times");
    if (lat != j->logged_playback_latency)
        tt_diag_info("JACK: click port playback latency %d frames (%.2f ms); compensated", lat,
                     1e3 * lat / j->rate);
    j->logged_distrusts = distrusts;
    j->logged_reanchors = reanchors;
    j->logged_trusted = trusted;
    j->logged_playback_latency = lat;
    uint64_t dropped = atomic_load_explicit(&j->midi_dropped, memory_order_relaxed);
    if (dropped != j->logged_midi_dropped)
        tt_diag_warn("JACK: %llu MIDI messages found no room in their port's buffer (so far)",
                     (unsigned long long)dropped);
    j->logged_midi_dropped = dropped;
}

int agent_jack_rate(const agent_jack_t *j)
{
    return j->rate;
}

int agent_jack_set_capture(agent_jack_t *j, agent_capture_t *cap, const char *const *names, int n,
                           char *why)
{
    if (n < 1 || n > AGENT_CAPTURE_MAX_INPUTS)
        return tt_fail(why, TT_ERR_INVALID, "%d capture inputs: 1..%d", n,
                       AGENT_CAPTURE_MAX_INPUTS);
    for (int i = 0; i < n; i++) {
        j->in_ports[i] =
            jack_port_register(j->client, names[i], JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        if (!j->in_ports[i])
            return tt_fail(why, TT_ERR_IO, "registering JACK input port %s", names[i]);
    }
    j->n_in = n;
    jack_latency_range_t r;
    jack_port_get_latency_range(j->in_ports[0], JackCaptureLatency, &r);
    atomic_store_explicit(&j->capture_latency, (int)r.max, memory_order_relaxed);
    atomic_store_explicit(&j->capture, cap, memory_order_release);
    tt_diag_info("JACK: capturing %d input%s from %s:%s%s", n, n == 1 ? "" : "s",
                 jack_get_client_name(j->client), names[0], n > 1 ? " ..." : "");
    return 0;
}

static void free_retired(agent_jack_t *j)
{
    agent_click_roll_t *old;
    while (jack_ringbuffer_read_space(j->retired) >= sizeof old) {
        jack_ringbuffer_read(j->retired, (char *)&old, sizeof old);
        agent_click_roll_free(&old);
    }
    agent_midi_roll_t *mr;
    while (jack_ringbuffer_read_space(j->retired_midi) >= sizeof mr) {
        jack_ringbuffer_read(j->retired_midi, (char *)&mr, sizeof mr);
        agent_midi_roll_free(&mr);
    }
    agent_playback_roll_t *pb;
    while (jack_ringbuffer_read_space(j->retired_pb) >= sizeof pb) {
        jack_ringbuffer_read(j->retired_pb, (char *)&pb, sizeof pb);
        agent_playback_roll_free(&pb);
    }
}

/* jack_get_time() minus CLOCK_MONOTONIC, in ns. JACK may run on
 * CLOCK_MONOTONIC_RAW (here ~209 ms apart), so measure: many bracketed
 * readings, keep the tightest brackets (one preempted reading was seen to be
 * 22 us off under ASan, shifting every click), add half of JACK's
 * microsecond truncation, average. */
static int64_t jack_minus_mono(void)
{
    enum { N = 200 };
    int64_t diff[N], gap[N], min_gap = INT64_MAX;
    for (int i = 0; i < N; i++) {
        int64_t a = tt_time_mono_ns();
        int64_t jt = (int64_t)jack_get_time() * 1000 + 500;
        int64_t b = tt_time_mono_ns();
        diff[i] = jt - (a + b) / 2;
        gap[i] = b - a;
        if (gap[i] < min_gap)
            min_gap = gap[i];
    }
    int64_t sum = 0, n = 0;
    for (int i = 0; i < N; i++)
        if (gap[i] <= 2 * min_gap + 100) {
            sum += diff[i];
            n++;
        }
    return sum / n; /* n >= 1: the tightest reading always qualifies */
}

agent_jack_t *agent_jack_start(const agent_jack_config_t *cfg, char *why)
{
    agent_jack_t *j = calloc(1, sizeof *j);
    if (!j) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the JACK client");
        return NULL;
    }
    j->cfg = *cfg;
    jack_status_t status;
    j->client = jack_client_open(cfg->client_name, JackNoStartServer, &status);
    if (!j->client) {
        tt_fail(why, TT_ERR_UNAVAILABLE,
                "no JACK server to connect to (status 0x%x): start jackd first, e.g. "
                "jackd -d dummy -r 48000 -p 256",
                (unsigned)status);
        goto fail;
    }
    j->rate = (int)jack_get_sample_rate(j->client);
    if (cfg->outputs)
        j->outputs = *cfg->outputs;
    j->cfg.outputs = &j->outputs;
    agent_click_init(&j->click, j->rate);
    j->words = agent_click_samples_for(agent_click_outputs_use(&j->outputs, AGENT_PATTERN_COUNT),
                                       j->outputs.samples_dir, j->rate);
    if (j->outputs.n)
        agent_click_set_feeds(&j->click, j->outputs.pattern, j->outputs.n, j->words);
    j->nclick = j->outputs.n ? j->outputs.n : 1;
    j->to_rt = jack_ringbuffer_create(64 * sizeof(jack_cmd_t));
    j->retired = jack_ringbuffer_create(64 * sizeof(agent_click_roll_t *));
    j->retired_pb = jack_ringbuffer_create(64 * sizeof(agent_playback_roll_t *));
    j->retired_midi = jack_ringbuffer_create(64 * sizeof(agent_midi_roll_t *));
    if (cfg->midi)
        j->midi = *cfg->midi;
    j->cfg.midi = &j->midi;
    for (int p = 0; p < j->midi.n; p++) {
        j->midi_ports[p] = jack_port_register(j->client, j->midi.name[p], JACK_DEFAULT_MIDI_TYPE,
                                              JackPortIsOutput, 0);
        if (!j->midi_ports[p]) {
            tt_fail(why, TT_ERR_IO, "registering JACK MIDI output port %s", j->midi.name[p]);
            goto fail;
        }
    }
    for (int f = 0; f < j->nclick; f++) {
        const char *name = j->outputs.n ? j->outputs.name[f] : "click";
        j->click_ports[f] =
            jack_port_register(j->client, name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        if (!j->click_ports[f]) {
            tt_fail(why, TT_ERR_IO, "registering JACK output port %s", name);
            goto fail;
        }
    }
    j->ltc_port =
        jack_port_register(j->client, "ltc", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    j->prelay_port =
        jack_port_register(j->client, "prelay", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    if (!j->to_rt || !j->retired || !j->retired_pb || !j->retired_midi || !j->ltc_port ||
        !j->prelay_port) {
        tt_fail(why, TT_ERR_IO, "registering JACK ports ltc and prelay");
        goto fail;
    }
    j->jack_minus_mono_ns = jack_minus_mono(); /* measured, not assumed */
    if (j->jack_minus_mono_ns > 1000000 || j->jack_minus_mono_ns < -1000000)
        tt_diag_warn("JACK's clock is %lld us off CLOCK_MONOTONIC; compensating",
                     (long long)(j->jack_minus_mono_ns / 1000));
    else
        j->jack_minus_mono_ns = 0; /* the same clock; the difference was the reading */
    agent_cycle_map_init(&j->cycle_map, j->rate);
    atomic_store(&j->cycle_trusted, 1);
    j->logged_trusted = 1;
    if (jack_set_process_callback(j->client, process, j) != 0 ||
        jack_set_latency_callback(j->client, on_latency, j) != 0 || jack_activate(j->client) != 0) {
        tt_fail(why, TT_ERR_IO, "activating the JACK client");
        goto fail;
    }
    j->active = 1;
    if (cfg->transport) {
        int rc = jack_set_timebase_callback(j->client, 0, on_timebase, j);
        if (rc != 0) {
            tt_fail(why, TT_ERR_IO, "becoming JACK's timebase master (--jack-transport): error %d",
                    rc);
            goto fail;
        }
        j->timebase = 1;
        tt_diag_info("JACK: timebase master; transport follows the session's rolls");
    }
    for (int p = 0; p < j->midi.n; p++)
        tt_diag_info(
            "JACK: MIDI port %s:%s (%s%s%s%s%s)", jack_get_client_name(j->client), j->midi.name[p],
            j->midi.kinds[p] & AGENT_MIDI_MTC ? "mtc" : "",
            (j->midi.kinds[p] & AGENT_MIDI_MTC) && (j->midi.kinds[p] & ~AGENT_MIDI_MTC) ? "+" : "",
            j->midi.kinds[p] & AGENT_MIDI_CLOCK ? "clock" : "",
            (j->midi.kinds[p] & AGENT_MIDI_CLOCK) && (j->midi.kinds[p] & AGENT_MIDI_MMC) ? "+" : "",
            j->midi.kinds[p] & AGENT_MIDI_MMC ? "mmc" : "");
    for (int f = 0; f < j->outputs.n; f++)
        tt_diag_info("JACK: click port %s:%s (%s)", jack_get_client_name(j->client),
                     j->outputs.name[f], agent_click_pattern_name(j->outputs.pattern[f]));
    tt_diag_info("JACK: ports %s:%s, %s:ltc and %s:prelay at %d Hz",
                 jack_get_client_name(j->client), j->outputs.n ? "(click outputs above)" : "click",
                 jack_get_client_name(j->client), jack_get_client_name(j->client), j->rate);
    return j;
fail:
    agent_jack_destroy(&j);
    return NULL;
}

void agent_jack_destroy(agent_jack_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_jack_t *j = *self_p;
    if (j->client) {
        atomic_store_explicit(&j->capture, NULL, memory_order_release);
        if (j->timebase) {
            jack_transport_stop(j->client);
            jack_release_timebase(j->client);
        }
        if (j->active)
            jack_deactivate(j->client);
        jack_client_close(j->client);
    }
    if (j->retired && j->retired_pb && j->retired_midi)
        free_retired(j);
    if (j->to_rt) { /* commands the callback never took */
        jack_cmd_t cmd;
        while (jack_ringbuffer_read_space(j->to_rt) >= sizeof cmd) {
            jack_ringbuffer_read(j->to_rt, (char *)&cmd, sizeof cmd);
            agent_click_roll_free(&cmd.roll);
            agent_midi_roll_free(&cmd.midi);
            agent_playback_roll_free(&cmd.pb);
        }
        jack_ringbuffer_free(j->to_rt);
    }
    if (j->retired)
        jack_ringbuffer_free(j->retired);
    if (j->retired_pb)
        jack_ringbuffer_free(j->retired_pb);
    if (j->retired_midi)
        jack_ringbuffer_free(j->retired_midi);
    agent_midi_roll_free(&j->mroll);
    agent_playback_roll_free(&j->pb);
    agent_click_roll_t *roll = agent_click_set_roll(&j->click, NULL);
    agent_click_roll_free(&roll);
    agent_click_samples_destroy(&j->words);
    free(j);
    *self_p = NULL;
}

static void send_cmd(agent_jack_t *j, const jack_cmd_t *cmd)
{
    free_retired(j);
    if (jack_ringbuffer_write_space(j->to_rt) < sizeof *cmd) {
        tt_diag_error("JACK: command queue full; dropping a %s", cmd->kind == JCMD_ROLL ? "roll"
                                                                 : cmd->kind == JCMD_STOP
                                                                     ? "stop"
                                                                     : "prelay roll");
        agent_click_roll_t *roll = cmd->roll;
        agent_click_roll_free(&roll);
        agent_midi_roll_t *midi = cmd->midi;
        agent_midi_roll_free(&midi);
        agent_playback_roll_t *pb = cmd->pb;
        agent_playback_roll_free(&pb);
        return;
    }
    jack_ringbuffer_write(j->to_rt, (const char *)cmd, sizeof *cmd);
}

void agent_jack_roll(agent_jack_t *j, const char *map_text, int32_t from_bar,
                     int64_t start_session_ns)
{
    char why[TT_WHY_LEN];
    jack_cmd_t cmd = {JCMD_ROLL, NULL, NULL, 0, NULL};
    cmd.roll = agent_click_roll_new(map_text, from_bar, start_session_ns, j->rate, why);
    if (!cmd.roll) {
        tt_diag_error("JACK: cannot play the roll: %s", why);
        return;
    }
    if (j->midi.n || j->timebase) {
        cmd.midi = agent_midi_roll_new(map_text, from_bar, start_session_ns,
                                       j->midi.mtc_rate_set ? &j->midi.mtc_rate : NULL, why);
        if (!cmd.midi)
            tt_diag_error("JACK: no MIDI or transport for the roll: %s", why);
    }
    send_cmd(j, &cmd);
}

void agent_jack_stop(agent_jack_t *j, int64_t at_session_ns)
{
    jack_cmd_t cmd = {JCMD_STOP, NULL, NULL, at_session_ns, NULL};
    send_cmd(j, &cmd);
}

void agent_jack_playback(agent_jack_t *j, agent_playback_roll_t *roll)
{
    jack_cmd_t cmd = {JCMD_PLAYBACK, NULL, NULL, 0, roll};
    send_cmd(j, &cmd);
}
