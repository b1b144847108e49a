/* agent_render: click + LTC into a WAV file on the local clock. See
 * agent_render.h; the rendering itself is agent_click's. */
#define _GNU_SOURCE
#include "agent_render.h"
#include "agent_click.h"
#include "agent_playback.h"
#include "tt_actor.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_timecode.h"
#include "tt_wire.h"

#include <errno.h>
#include <jansson.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define BLOCK 480 /* 10 ms at 48 kHz: one "sound card period" */

/* The pipe, main -> thread: ROLL (a roll_cmd_t, then the map's text and
 * its NUL) and STOP (int64_t session ns). */
#define CMD_ROLL "ROLL"
#define CMD_STOP "STOP"
#define CMD_PLAYBACK "PLAYBACK" /* an agent_playback_roll_t *: the thread owns it */

typedef struct {
    int64_t session_ns;
    int32_t from_bar;
    int32_t pad;
} roll_cmd_t;

struct agent_render {
    agent_render_config_t cfg;
    void *ctx;
    tt_actor_t *actor;
    void *pipe; /* the thread's end of the actor's pipe, while it runs */
    agent_click_outputs_t outputs;
    int nfiles;
    SNDFILE *snd[AGENT_CLICK_MAX_FEEDS];
    char json_path[AGENT_CLICK_MAX_FEEDS][1200];
    int64_t local_start;
    agent_click_t click;
    agent_click_samples_t *words;
    int64_t written; /* samples in the file */
    /* Prelays and guides: PATH.prelay.wav beside the click's file. */
    SNDFILE *pb_snd;
    char pb_json_path[1200];
    agent_playback_roll_t *pb_roll; /* the thread's */
    float pb_buf[BLOCK];
};

static int64_t sample_to_local(const agent_render_t *r, int64_t sample)
{
    return r->local_start + (int64_t)((__int128)sample * 1000000000 / r->cfg.sample_rate);
}

/* Renders one block of every output; frames[f] interleaves output f's
 * click with the LTC. */
static void render_block(agent_render_t *r, float (*frames)[2 * BLOCK], int n)
{
    static _Thread_local float click[AGENT_CLICK_MAX_FEEDS][BLOCK];
    float ltc[BLOCK];
    float *outs[AGENT_CLICK_MAX_FEEDS];
    for (int f = 0; f < r->nfiles; f++)
        outs[f] = click[f];
    tt_clock_map_t m;
    tt_clock_box_read(r->cfg.box, &m);
    agent_click_clock_t k = {r->written, sample_to_local(r, r->written), 1e9 / r->cfg.sample_rate};
    agent_click_render_feeds(&r->click, &m, &k, outs, ltc, n);
    agent_playback_render(r->pb_roll, &m, &k, r->pb_buf, n); /* the same mapping */
    for (int f = 0; f < r->nfiles; f++)
        for (int i = 0; i < n; i++) {
            frames[f][2 * i] = click[f][i];
            frames[f][2 * i + 1] = ltc[i];
        }
}

/* ------------------------------------------------------------ thread */

static void on_roll(void *self, const void *data, size_t len)
{
    agent_render_t *r = self;
    roll_cmd_t cmd;
    if (len <= sizeof cmd || ((const char *)data)[len - 1] != '\0') {
        tt_diag_error("render: a roll command of %zu bytes without its map", len);
        return;
    }
    memcpy(&cmd, data, sizeof cmd);
    const char *text = (const char *)data + sizeof cmd;
    char why[TT_WHY_LEN];
    agent_click_roll_t *roll =
        agent_click_roll_new(text, cmd.from_bar, cmd.session_ns, r->cfg.sample_rate, why);
    if (!roll)
        tt_diag_error("render: cannot play the roll: %s", why);
    agent_click_roll_t *old = agent_click_set_roll(&r->click, roll);
    agent_click_roll_free(&old);
}

static void on_stop(void *self, const void *data, size_t len)
{
    (void)len;
    agent_render_t *r = self;
    int64_t at;
    memcpy(&at, data, sizeof at);
    agent_click_set_stop(&r->click, at);
    agent_playback_set_stop(r->pb_roll, at);
}

static void on_playback(void *self, const void *data, size_t len)
{
    (void)len;
    agent_render_t *r = self;
    agent_playback_roll_free(&r->pb_roll);
    memcpy(&r->pb_roll, data, sizeof r->pb_roll);
}

static const tt_actor_cmd_t commands[] = {
    {CMD_ROLL, TT_ACTOR_ANY_LEN, on_roll},
    {CMD_STOP, sizeof(int64_t), on_stop},
    {CMD_PLAYBACK, sizeof(agent_playback_roll_t *), on_playback},
    {NULL, 0, NULL},
};

/* Applies every pending command; returns 1 when asked to stop the thread. */
static int handle_commands(agent_render_t *r)
{
    for (;;) {
        tt_actor_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_actor_recv(r->pipe, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_PROTOCOL)
            continue; /* malformed: dropped whole */
        if (rc != 0)
            return 0; /* nothing more */
        int quit = tt_actor_is_stop(m.cmd);
        if (!quit && tt_actor_dispatch(commands, r, &m, why) != 0)
            tt_diag_error("render: %s", why);
        tt_actor_msg_clear(&m);
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

static void render_actor(void *pipe, void *arg)
{
    agent_render_t *r = arg;
    static _Thread_local float frames[AGENT_CLICK_MAX_FEEDS][2 * BLOCK];
    r->pipe = pipe;
    tt_actor_ready(pipe, 0, NULL);
    for (;;) {
        /* Like a sound card: the block is due once the local clock has passed its end. */
        int64_t due_local = sample_to_local(r, r->written + BLOCK);
        int64_t due_mono = tt_clock_client_mono_ns(r->cfg.clock, due_local);
        if (tt_time_mono_ns() < due_mono) {
            zmq_pollitem_t item = {pipe, 0, ZMQ_POLLIN, 0};
            long wait_ms = (long)((due_mono - tt_time_mono_ns()) / 1000000);
            if (wait_ms > 0)
                zmq_poll(&item, 1, wait_ms);
            sleep_until_mono(due_mono);
        }
        if (handle_commands(r))
            break;
        render_block(r, frames, BLOCK);
        int failed = 0;
        for (int f = 0; f < r->nfiles && !failed; f++)
            if (sf_writef_float(r->snd[f], frames[f], BLOCK) != BLOCK) {
                tt_diag_error("render: writing the WAV file: %s", sf_strerror(r->snd[f]));
                failed = 1;
            }
        if (failed)
            break;
        if (sf_writef_float(r->pb_snd, r->pb_buf, BLOCK) != BLOCK) {
            tt_diag_error("render: writing the prelay WAV file: %s", sf_strerror(r->pb_snd));
            break;
        }
        r->written += BLOCK;
    }
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
    tt_clock_client_injection(r->cfg.clock, &start_mono, &offset_ns, &skew_ppm);
    if (o && (offset_ns || skew_ppm != 0.0)) /* test clock: say how to undo it */
        json_object_set_new(o, "test_clock",
                            json_pack("{s:I, s:I, s:f}", "start_mono_ns", (json_int_t)start_mono,
                                      "offset_ns", (json_int_t)offset_ns, "skew_ppm", skew_ppm));
    for (int f = 0; f < r->nfiles; f++) {
        if (o && r->outputs.n)
            json_object_set_new(o, "pattern",
                                json_string(agent_click_pattern_name(r->outputs.pattern[f])));
        if (!o || json_dump_file(o, r->json_path[f], JSON_INDENT(2)) != 0)
            tt_diag_error("render: writing %s failed", r->json_path[f]);
    }
    if (o)
        json_object_del(o, "pattern"); /* the prelay file plays no click pattern */
    if (!o || json_dump_file(o, r->pb_json_path, JSON_INDENT(2)) != 0)
        tt_diag_error("render: writing %s failed", r->pb_json_path);
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
    if (cfg->outputs)
        r->outputs = *cfg->outputs;
    r->cfg.outputs = &r->outputs;
    agent_click_init(&r->click, r->cfg.sample_rate);
    r->words = agent_click_samples_for(agent_click_outputs_use(&r->outputs, AGENT_PATTERN_COUNT),
                                       r->outputs.samples_dir, r->cfg.sample_rate);
    if (r->outputs.n)
        agent_click_set_feeds(&r->click, r->outputs.pattern, r->outputs.n, r->words);
    r->nfiles = r->outputs.n ? r->outputs.n : 1;
    size_t base = strlen(cfg->wav_path);
    if (base > 4 && strcmp(cfg->wav_path + base - 4, ".wav") == 0)
        base -= 4;
    for (int f = 0; f < r->nfiles; f++) {
        char path[1100];
        if (r->outputs.n)
            snprintf(path, sizeof path, "%.*s-%s.wav", (int)(base < 1000 ? base : 1000),
                     cfg->wav_path, r->outputs.name[f]);
        else
            snprintf(path, sizeof path, "%s", cfg->wav_path);
        snprintf(r->json_path[f], sizeof r->json_path[f], "%s.json", path);
        SF_INFO info = {.samplerate = r->cfg.sample_rate,
                        .channels = 2,
                        .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
        r->snd[f] = sf_open(path, SFM_WRITE, &info);
        if (!r->snd[f]) {
            tt_fail(why, TT_ERR_IO, "opening --click-wav %s: %s", path, sf_strerror(NULL));
            goto fail;
        }
    }
    /* The prelay/guide mix, mono, on the same samples: STEM.prelay.wav. */
    char pb_path[1100];
    size_t stem = strlen(cfg->wav_path);
    if (stem > 4 && strcmp(cfg->wav_path + stem - 4, ".wav") == 0)
        stem -= 4;
    snprintf(pb_path, sizeof pb_path, "%.*s.prelay.wav", (int)(stem < 1000 ? stem : 1000),
             cfg->wav_path);
    snprintf(r->pb_json_path, sizeof r->pb_json_path, "%s.json", pb_path);
    SF_INFO pb_info = {.samplerate = r->cfg.sample_rate,
                       .channels = 1,
                       .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
    if (!(r->pb_snd = sf_open(pb_path, SFM_WRITE, &pb_info))) {
        tt_fail(why, TT_ERR_IO, "opening %s: %s", pb_path, sf_strerror(NULL));
        goto fail;
    }
    /* A file mastered to full scale peaks above it between its samples
     * (read at a fraction of a sample: up to 13 % for a hard onset at 0.9);
     * libsndfile would wrap such a sample to the other sign, a DAC clips. */
    if (sf_command(r->pb_snd, SFC_SET_CLIPPING, NULL, SF_TRUE) != SF_TRUE) {
        tt_fail(why, TT_ERR_IO, "%s: cannot set clipping", pb_path);
        goto fail;
    }
    r->local_start = tt_clock_client_local_ns(cfg->clock, tt_time_mono_ns());
    if (!(r->actor = tt_actor_new(ctx, "render", render_actor, r, NULL, why)))
        goto fail;
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
    if (r->actor) {
        tt_actor_destroy(&r->actor); /* joined: the file and the click are ours again */
        write_json(r);
    }
    for (int f = 0; f < r->nfiles; f++)
        if (r->snd[f])
            sf_close(r->snd[f]); /* writes the final RIFF sizes */
    if (r->pb_snd)
        sf_close(r->pb_snd);
    agent_playback_roll_free(&r->pb_roll);
    agent_click_roll_t *roll = agent_click_set_roll(&r->click, NULL);
    agent_click_roll_free(&roll);
    agent_click_samples_destroy(&r->words);
    free(r);
    *self_p = NULL;
}

void agent_render_roll(agent_render_t *r, const char *map_text, int32_t from_bar,
                       int64_t start_session_ns)
{
    size_t len = strlen(map_text) + 1;
    roll_cmd_t cmd = {.session_ns = start_session_ns, .from_bar = from_bar};
    uint8_t *buf = malloc(sizeof cmd + len);
    if (!buf) {
        tt_diag_error("render: out of memory for a roll");
        return;
    }
    memcpy(buf, &cmd, sizeof cmd);
    memcpy(buf + sizeof cmd, map_text, len);
    char why[TT_WHY_LEN];
    if (tt_actor_send(tt_actor_sock(r->actor), 0, CMD_ROLL, buf, sizeof cmd + len, why) != 0)
        tt_diag_error("render: telling the render thread to roll: %s", why);
    free(buf);
}

void agent_render_stop(agent_render_t *r, int64_t at_session_ns)
{
    char why[TT_WHY_LEN];
    if (tt_actor_send(tt_actor_sock(r->actor), 0, CMD_STOP, &at_session_ns, sizeof at_session_ns,
                      why) != 0)
        tt_diag_error("render: telling the render thread to stop: %s", why);
}

void agent_render_playback(agent_render_t *r, agent_playback_roll_t *roll)
{
    char why[TT_WHY_LEN];
    if (tt_actor_send(tt_actor_sock(r->actor), 0, CMD_PLAYBACK, &roll, sizeof roll, why) != 0) {
        tt_diag_error("render: handing prelays to the render thread: %s", why);
        agent_playback_roll_free(&roll);
    }
}
