/* agent_render: click + LTC into a WAV file on the local clock. See
 * agent_render.h; the rendering itself is agent_click's. */
#define _GNU_SOURCE
#include "agent_render.h"
#include "agent_click.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_timecode.h"
#include "tt_wire.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define BLOCK 480 /* 10 ms at 48 kHz: one "sound card period" */

enum { CMD_ROLL = 1, CMD_STOP, CMD_QUIT };

typedef struct {
    int kind;
    int32_t from_bar;
    int64_t session_ns;
    char map_text[]; /* CMD_ROLL only, NUL-terminated */
} render_cmd_t;

struct agent_render {
    agent_render_config_t cfg;
    void *ctx;
    void *main_pipe, *thread_pipe;
    pthread_t thread;
    int started;
    SNDFILE *snd;
    char json_path[1100];
    int64_t local_start;
    agent_click_t click;
    int64_t written; /* samples in the file */
};

static int64_t sample_to_local(const agent_render_t *r, int64_t sample)
{
    return r->local_start + (int64_t)((__int128)sample * 1000000000 / r->cfg.sample_rate);
}

static void render_block(agent_render_t *r, float *frames, int n)
{
    float click[BLOCK], ltc[BLOCK];
    tt_clock_map_t m;
    tt_clock_box_read(r->cfg.box, &m);
    agent_click_clock_t k = {r->written, sample_to_local(r, r->written), 1e9 / r->cfg.sample_rate};
    agent_click_render(&r->click, &m, &k, click, ltc, n);
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
                agent_click_roll_t *roll = agent_click_roll_new(
                    cmd->map_text, cmd->from_bar, cmd->session_ns, r->cfg.sample_rate, why);
                if (!roll)
                    tt_diag_error("render: cannot play the roll: %s", why);
                agent_click_roll_t *old = agent_click_set_roll(&r->click, roll);
                agent_click_roll_free(&old);
            } else if (cmd->kind == CMD_STOP) {
                agent_click_set_stop(&r->click, cmd->session_ns);
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
    if (r->click.roll) {
        const tt_tempo_map_t *map = agent_click_roll_map(r->click.roll);
        tt_timecode_format(tt_tempo_start_frame(map), tt_tempo_fps(map), tc);
        fps = tt_fps_name(tt_tempo_fps(map));
    }
    json_t *o =
        json_pack("{s:i, s:I, s:I, s:s, s:s, s:I, s:b}", "sample_rate", r->cfg.sample_rate,
                  "local_start_ns", (json_int_t)r->local_start, "session_start_ns",
                  (json_int_t)(m.valid ? tt_clock_map_session(&m, r->local_start) : 0), "start_tc",
                  tc, "fps", fps, "samples", (json_int_t)r->written, "clock_valid", m.valid);
    int64_t start_mono, offset_ns;
    double skew_ppm;
    agent_clock_injection(r->cfg.clock, &start_mono, &offset_ns, &skew_ppm);
    if (o && (offset_ns || skew_ppm != 0.0)) /* test clock: say how to undo it */
        json_object_set_new(o, "test_clock",
                            json_pack("{s:I, s:I, s:f}", "start_mono_ns", (json_int_t)start_mono,
                                      "offset_ns", (json_int_t)offset_ns, "skew_ppm", skew_ppm));
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
    agent_click_init(&r->click, r->cfg.sample_rate);
    snprintf(r->json_path, sizeof r->json_path, "%s.json", cfg->wav_path);
    SF_INFO info = {.samplerate = r->cfg.sample_rate,
                    .channels = 2,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
    r->snd = sf_open(cfg->wav_path, SFM_WRITE, &info);
    if (!r->snd) {
        tt_fail(why, TT_ERR_IO, "opening --click-wav %s: %s", cfg->wav_path, sf_strerror(NULL));
        goto fail;
    }
    if (tt_wire_pipe(ctx, "render", &r->main_pipe, &r->thread_pipe, why) != 0)
        goto fail;
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
        sf_close(r->snd); /* writes the final RIFF sizes */
    if (r->main_pipe)
        zmq_close(r->main_pipe);
    if (r->thread_pipe)
        zmq_close(r->thread_pipe);
    agent_click_roll_t *roll = agent_click_set_roll(&r->click, NULL);
    agent_click_roll_free(&roll);
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
