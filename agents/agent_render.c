/* agent_render: click + LTC into a WAV file on the local clock. See
 * agent_render.h.
 *
 * Cue time c (ns from bar 1 beat 1 in the tempo map) and session time s
 * of a roll are tied by one origin: s = origin + (c - c_from), where
 * c_from is the cue time of the first bar played and origin = the roll's
 * start + the count-off. Timecode frame f sits at cue time
 * frame_ns(f) - frame_ns(start_frame): the start timecode labels bar 1.
 */
#define _GNU_SOURCE
#include "agent_render.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_ltc.h"
#include "tt_tempo.h"
#include "tt_time.h"
#include "tt_timecode.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define BLOCK 480                   /* 10 ms at 48 kHz: one "sound card period" */
#define CLICK_MS 30
#define MAX_VOICES 8
#define LTC_MAX_FRAME 4096          /* samples: one frame at >= 23.976 fps and <= 96 kHz */

enum { CMD_ROLL = 1, CMD_STOP, CMD_QUIT };

typedef struct {
    int kind;
    int32_t from_bar;
    int64_t session_ns;
    char map_text[];                /* CMD_ROLL only, NUL-terminated */
} render_cmd_t;

typedef enum { CLICK_ACCENT, CLICK_BEAT, CLICK_COUNTOFF_ACCENT, CLICK_COUNTOFF } click_kind_t;

typedef struct {
    int64_t pos;                    /* samples already played */
    float freq, amp;
} voice_t;

/* One roll as the renderer sees it. */
typedef struct {
    int active;
    tt_tempo_map_t *map;
    tt_fps_t fps;
    int64_t start_frame;            /* timecode of bar 1 */
    int64_t start_session;          /* first count-off click */
    int64_t origin;                 /* session time of from_bar beat 1 */
    int64_t c_from;                 /* cue time of from_bar beat 1 */
    int64_t beat_ns;                /* count-off beat */
    int countoff_clicks, beats_per_bar;
    int64_t stop_session;
    tt_ltc_enc_t *ltc;
    int64_t ltc_frame;              /* frame held in ltc_buf, or INT64_MIN */
    int64_t ltc_first_sample;       /* its first sample in the file */
    int64_t ltc_len;
    float ltc_buf[LTC_MAX_FRAME];
} roll_t;

struct agent_render {
    agent_render_config_t cfg;
    void *ctx;
    void *main_pipe, *thread_pipe;
    char pipe_ep[64];
    pthread_t thread;
    int started;
    SNDFILE *snd;
    char json_path[1100];
    int64_t local_start;
    roll_t roll;
    voice_t voices[MAX_VOICES];
    int64_t written;                /* samples in the file */
};

/* ------------------------------------------------------------ time */

static int64_t sample_to_local(const agent_render_t *r, int64_t sample)
{
    return r->local_start + (int64_t)((__int128)sample * 1000000000 / r->cfg.sample_rate);
}

/* The sample nearest to local time `local`: placement is then off by at
 * most half a sample, the best a sample grid allows. */
static int64_t local_to_sample(const agent_render_t *r, int64_t local)
{
    __int128 num = (__int128)(local - r->local_start) * r->cfg.sample_rate;
    __int128 half = 500000000;
    return (int64_t)(num >= 0 ? (num + half) / 1000000000 : -((-num + half) / 1000000000));
}

static int64_t session_to_sample(const agent_render_t *r, const tt_clock_map_t *m, int64_t s)
{
    return local_to_sample(r, tt_clock_map_local(m, s));
}

/* ------------------------------------------------------------ rolls */

static void roll_clear(roll_t *roll)
{
    tt_tempo_destroy(&roll->map);
    tt_ltc_enc_destroy(&roll->ltc);
    roll->active = 0;
}

static int roll_setup(agent_render_t *r, const char *text, int32_t from_bar, int64_t start,
                      char *why)
{
    roll_t *roll = &r->roll;
    roll_clear(roll);
    roll->map = tt_tempo_parse_text(text, strlen(text), why);
    if (!roll->map)
        return TT_ERR_INVALID;
    roll->fps = tt_tempo_fps(roll->map);
    roll->start_frame = tt_tempo_start_frame(roll->map);
    tt_bbt_t b1 = {from_bar, 1, 0}, b2 = {from_bar, 2, 0}, next_bar = {from_bar + 1, 1, 0};
    roll->c_from = tt_tempo_bbt_to_ns(roll->map, b1);
    /* The count-off plays the beat and meter of the bar it leads into. */
    tt_click_t c;
    roll->beats_per_bar = 0;
    int64_t bar_end = tt_tempo_bbt_to_ns(roll->map, next_bar);
    for (int64_t t = roll->c_from; tt_tempo_next_click(roll->map, t, &c) == 0 && c.ns < bar_end;
         t = c.ns + 1)
        roll->beats_per_bar++;
    if (roll->beats_per_bar <= 0)
        roll->beats_per_bar = 1;
    roll->beat_ns = roll->beats_per_bar > 1 ? tt_tempo_bbt_to_ns(roll->map, b2) - roll->c_from
                                            : bar_end - roll->c_from;
    roll->countoff_clicks = tt_tempo_countoff_bars(roll->map) * roll->beats_per_bar;
    roll->start_session = start;
    roll->origin = start + (int64_t)roll->countoff_clicks * roll->beat_ns;
    roll->stop_session = INT64_MAX;
    roll->ltc = tt_ltc_enc_new(r->cfg.sample_rate, roll->fps, why);
    if (!roll->ltc) {
        roll_clear(roll);
        return TT_ERR_INVALID;
    }
    roll->ltc_frame = INT64_MIN;
    roll->active = 1;
    return 0;
}

static int64_t cue_to_session(const roll_t *roll, int64_t cue_ns)
{
    return roll->origin + (cue_ns - roll->c_from);
}

static int64_t frame_cue_ns(const roll_t *roll, int64_t frame)
{
    return tt_timecode_frame_to_ns(frame, roll->fps) -
           tt_timecode_frame_to_ns(roll->start_frame, roll->fps);
}

/* ------------------------------------------------------------ rendering */

static void start_voice(agent_render_t *r, click_kind_t kind, int64_t offset)
{
    static const float freq[] = {1760.0f, 880.0f, 2637.0f, 1319.0f};
    static const float amp[] = {0.9f, 0.6f, 0.8f, 0.55f};
    for (int i = 0; i < MAX_VOICES; i++)
        if (r->voices[i].pos < 0 ||
            r->voices[i].pos >= (int64_t)CLICK_MS * r->cfg.sample_rate / 1000) {
            /* pos < 0 means "starts this many samples into the block" */
            r->voices[i] = (voice_t){-offset, freq[kind], amp[kind]};
            return;
        }
}

static void mix_voices(agent_render_t *r, float *click, int n)
{
    const int64_t len = (int64_t)CLICK_MS * r->cfg.sample_rate / 1000;
    for (int v = 0; v < MAX_VOICES; v++) {
        voice_t *vo = &r->voices[v];
        for (int i = 0; i < n; i++, vo->pos++) {
            if (vo->pos < 0 || vo->pos >= len)
                continue;
            /* A cosine starts at full amplitude, so the onset is exactly this sample. */
            double t = (double)vo->pos / r->cfg.sample_rate;
            double env = 1.0 - (double)vo->pos / (double)len;
            click[i] += (float)(vo->amp * env * cos(2.0 * M_PI * vo->freq * t));
        }
    }
}

static void place_clicks(agent_render_t *r, const tt_clock_map_t *m, int64_t s0, int n)
{
    roll_t *roll = &r->roll;
    int64_t sess_lo = tt_clock_map_session(m, sample_to_local(r, s0)) - 1000000;
    int64_t sess_hi = tt_clock_map_session(m, sample_to_local(r, s0 + n)) + 1000000;
    /* Count-off: synthesized from the beat of the first bar played. */
    for (int k = 0; k < roll->countoff_clicks; k++) {
        int64_t s = roll->start_session + (int64_t)k * roll->beat_ns;
        if (s < sess_lo || s > sess_hi || s >= roll->stop_session)
            continue;
        int64_t i = session_to_sample(r, m, s);
        if (i >= s0 && i < s0 + n)
            start_voice(r, k % roll->beats_per_bar == 0 ? CLICK_COUNTOFF_ACCENT : CLICK_COUNTOFF,
                        i - s0);
    }
    /* The cue itself. */
    int64_t cue_lo = roll->c_from + (sess_lo - roll->origin);
    if (cue_lo < roll->c_from)
        cue_lo = roll->c_from;
    tt_click_t c;
    for (int64_t t = cue_lo; tt_tempo_next_click(roll->map, t, &c) == 0; t = c.ns + 1) {
        int64_t s = cue_to_session(roll, c.ns);
        if (s > sess_hi || s >= roll->stop_session)
            break;
        int64_t i = session_to_sample(r, m, s);
        if (i >= s0 && i < s0 + n)
            start_voice(r, c.downbeat ? CLICK_ACCENT : CLICK_BEAT, i - s0);
    }
}

/* LTC frames tile the timeline: frame f covers [sample(f), sample(f+1)). */
static void place_ltc(agent_render_t *r, const tt_clock_map_t *m, int64_t s0, int n, float *out)
{
    roll_t *roll = &r->roll;
    int64_t sess0 = tt_clock_map_session(m, sample_to_local(r, s0));
    int64_t cue0 = roll->c_from + (sess0 - roll->origin);
    int64_t f = tt_timecode_ns_to_frame(cue0 + tt_timecode_frame_to_ns(roll->start_frame,
                                                                       roll->fps), roll->fps) - 1;
    for (;; f++) {
        int64_t fs = cue_to_session(roll, frame_cue_ns(roll, f));
        int64_t fe = cue_to_session(roll, frame_cue_ns(roll, f + 1));
        if (fs < roll->start_session)
            continue;               /* LTC starts with the first count-off click's frame */
        if (fs >= roll->stop_session)
            break;
        int64_t a = session_to_sample(r, m, fs), b = session_to_sample(r, m, fe);
        if (a >= s0 + n)
            break;
        if (b <= s0 || b - a <= 0 || b - a > LTC_MAX_FRAME)
            continue;
        if (roll->ltc_frame != f || roll->ltc_first_sample != a || roll->ltc_len != b - a) {
            if (tt_ltc_enc_render(roll->ltc, f, roll->ltc_buf, (size_t)(b - a)) < 0)
                continue;
            roll->ltc_frame = f;
            roll->ltc_first_sample = a;
            roll->ltc_len = b - a;
        }
        for (int64_t i = a > s0 ? a : s0; i < b && i < s0 + n; i++)
            out[i - s0] = roll->ltc_buf[i - a];
    }
}

static void render_block(agent_render_t *r, float *frames, int n)
{
    float click[BLOCK] = {0}, ltc[BLOCK] = {0};
    tt_clock_map_t m;
    tt_clock_box_read(r->cfg.box, &m);
    int64_t s0 = r->written;
    if (r->roll.active && m.valid) {
        place_clicks(r, &m, s0, n);
        place_ltc(r, &m, s0, n, ltc);
        int64_t end_session = tt_clock_map_session(&m, sample_to_local(r, s0 + n));
        if (r->roll.stop_session != INT64_MAX && end_session > r->roll.stop_session + 200000000LL)
            roll_clear(&r->roll);   /* stopped, and the last click has rung out */
    }
    mix_voices(r, click, n);
    for (int i = 0; i < n; i++) {
        frames[2 * i] = click[i];
        frames[2 * i + 1] = ltc[i];
    }
}

/* ------------------------------------------------------------ thread */

/* Applies every pending command; returns 1 when asked to quit. */
static int handle_commands(agent_render_t *r)
{
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, r->thread_pipe, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return 0;
        }
        const render_cmd_t *cmd = zmq_msg_data(&msg);
        int quit = 0;
        if (zmq_msg_size(&msg) >= sizeof *cmd) {
            char why[TT_WHY_LEN];
            if (cmd->kind == CMD_QUIT) {
                quit = 1;
            } else if (cmd->kind == CMD_ROLL) {
                if (roll_setup(r, cmd->map_text, cmd->from_bar, cmd->session_ns, why) != 0)
                    tt_diag_error("render: cannot play the roll: %s", why);
            } else if (cmd->kind == CMD_STOP) {
                r->roll.stop_session = cmd->session_ns;
            }
        }
        zmq_msg_close(&msg);
        if (quit)
            return 1;
    }
}

static void sleep_until_mono(int64_t mono)
{
    struct timespec ts = {(time_t)(mono / 1000000000), (long)(mono % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void *render_thread(void *arg)
{
    agent_render_t *r = arg;
    float frames[2 * BLOCK];
    for (;;) {
        /* Like a sound card: the block is due once the local clock has passed its end. */
        int64_t due_local = sample_to_local(r, r->written + BLOCK);
        int64_t due_mono = agent_clock_mono_ns(r->cfg.clock, due_local);
        if (tt_time_mono_ns() < due_mono) {
            zmq_pollitem_t item = {r->thread_pipe, 0, ZMQ_POLLIN, 0};
            long wait_ms = (long)((due_mono - tt_time_mono_ns()) / 1000000);
            if (wait_ms > 0)
                zmq_poll(&item, 1, wait_ms);
            sleep_until_mono(due_mono);
        }
        if (handle_commands(r))
            break;
        render_block(r, frames, BLOCK);
        if (sf_writef_float(r->snd, frames, BLOCK) != BLOCK) {
            tt_diag_error("render: writing the WAV file: %s", sf_strerror(r->snd));
            break;
        }
        r->written += BLOCK;
    }
    return NULL;
}

static void write_json(agent_render_t *r)
{
    tt_clock_map_t m;
    tt_clock_box_read(r->cfg.box, &m);
    char tc[TT_TIMECODE_LEN] = "";
    const char *fps = "";
    if (r->roll.map) {
        tt_timecode_format(r->roll.start_frame, r->roll.fps, tc);
        fps = tt_fps_name(r->roll.fps);
    }
    json_t *o = json_pack("{s:i, s:I, s:I, s:s, s:s, s:I, s:b}", "sample_rate",
                          r->cfg.sample_rate, "local_start_ns", (json_int_t)r->local_start,
                          "session_start_ns",
                          (json_int_t)(m.valid ? tt_clock_map_session(&m, r->local_start) : 0),
                          "start_tc", tc, "fps", fps, "samples", (json_int_t)r->written,
                          "clock_valid", m.valid);
    int64_t start_mono, offset_ns;
    double skew_ppm;
    agent_clock_injection(r->cfg.clock, &start_mono, &offset_ns, &skew_ppm);
    if (o && (offset_ns || skew_ppm != 0.0))   /* test clock: say how to undo it */
        json_object_set_new(o, "test_clock", json_pack("{s:I, s:I, s:f}", "start_mono_ns",
                                                       (json_int_t)start_mono, "offset_ns",
                                                       (json_int_t)offset_ns, "skew_ppm",
                                                       skew_ppm));
    if (!o || json_dump_file(o, r->json_path, JSON_INDENT(2)) != 0)
        tt_diag_error("render: writing %s failed", r->json_path);
    json_decref(o);
}

agent_render_t *agent_render_start(void *ctx, const agent_render_config_t *cfg, char *why)
{
    agent_render_t *r = calloc(1, sizeof *r);
    if (!r) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the renderer");
        return NULL;
    }
    r->cfg = *cfg;
    if (r->cfg.sample_rate <= 0)
        r->cfg.sample_rate = 48000;
    r->ctx = ctx;
    snprintf(r->json_path, sizeof r->json_path, "%s.json", cfg->wav_path);
    SF_INFO info = {.samplerate = r->cfg.sample_rate, .channels = 2,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
    r->snd = sf_open(cfg->wav_path, SFM_WRITE, &info);
    if (!r->snd) {
        tt_fail(why, TT_ERR_IO, "opening --click-wav %s: %s", cfg->wav_path, sf_strerror(NULL));
        goto fail;
    }
    snprintf(r->pipe_ep, sizeof r->pipe_ep, "inproc://agent-render-%p", (void *)r);
    r->main_pipe = zmq_socket(ctx, ZMQ_PAIR);
    r->thread_pipe = zmq_socket(ctx, ZMQ_PAIR);
    int linger = 0;
    if (!r->main_pipe || !r->thread_pipe ||
        zmq_setsockopt(r->main_pipe, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(r->main_pipe, r->pipe_ep) != 0 || zmq_connect(r->thread_pipe, r->pipe_ep) != 0) {
        tt_fail(why, TT_ERR_IO, "creating the render pipe: %s", zmq_strerror(errno));
        goto fail;
    }
    r->local_start = agent_clock_local_ns(cfg->clock, tt_time_mono_ns());
    if (pthread_create(&r->thread, NULL, render_thread, r) != 0) {
        tt_fail(why, TT_ERR_IO, "starting the render thread");
        goto fail;
    }
    r->started = 1;
    return r;
fail:
    agent_render_destroy(&r);
    return NULL;
}

void agent_render_destroy(agent_render_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_render_t *r = *self_p;
    if (r->started) {
        render_cmd_t cmd = {.kind = CMD_QUIT};
        zmq_send(r->main_pipe, &cmd, sizeof cmd, 0);
        pthread_join(r->thread, NULL);
        write_json(r);
    }
    if (r->snd)
        sf_close(r->snd);   /* writes the final RIFF sizes */
    if (r->main_pipe)
        zmq_close(r->main_pipe);
    if (r->thread_pipe)
        zmq_close(r->thread_pipe);
    roll_clear(&r->roll);
    free(r);
    *self_p = NULL;
}

void agent_render_roll(agent_render_t *r, const char *map_text, int32_t from_bar,
                       int64_t start_session_ns)
{
    size_t len = strlen(map_text) + 1;
    render_cmd_t *cmd = malloc(sizeof *cmd + len);
    if (!cmd) {
        tt_diag_error("render: out of memory for a roll");
        return;
    }
    cmd->kind = CMD_ROLL;
    cmd->from_bar = from_bar;
    cmd->session_ns = start_session_ns;
    memcpy(cmd->map_text, map_text, len);
    zmq_send(r->main_pipe, cmd, sizeof *cmd + len, 0);
    free(cmd);
}

void agent_render_stop(agent_render_t *r, int64_t at_session_ns)
{
    render_cmd_t cmd = {.kind = CMD_STOP, .session_ns = at_session_ns};
    zmq_send(r->main_pipe, &cmd, sizeof cmd, 0);
}
