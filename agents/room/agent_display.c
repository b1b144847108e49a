/* agent_display: see agent_display.h. */
#include "agent_display.h"
#include "agent_view.h"
#include "display_assets.h"
#include "tt_client.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_web.h"
#include "tt_web_board.h"
#include "tt_wire.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACK_TIMEOUT_MS 5000                    /* coordinator round trip for one ack */
#define LOOK_EVERY_MS 100                      /* the main loop calls at least this often */
#define REFILL_BEFORE_NS (60LL * 1000000000LL) /* a new window this long before one ends */

struct agent_display {
    agent_display_config_t cfg;
    tt_web_t *web;
    tt_web_board_t *board;
    /* Main thread only: what the page has. */
    uint64_t room_seq;
    int room_online; /* -1: nothing sent yet */
    int64_t offline_since;
    tt_clock_map_t clock_sent;
    double bound_sent;
    int clock_any;
    uint64_t roll_seq; /* the roll shown (0: none) */
    int64_t roll_stop;
    tt_phase_t phase;
    char *roll_map;  /* owned: the map rolled */
    int64_t roll_to; /* the window's end */
    int roll_dirty;  /* build the roll document again */
};

/* ------------------------------------------------------------ HTTP threads */

typedef struct {
    tt_web_board_t *board;
    uint64_t seen; /* the last document number this view has */
} view_t;

static char *stream_next(void *src, int wait_ms)
{
    view_t *v = src;
    return tt_web_board_next(v->board, &v->seen, wait_ms);
}

static enum MHD_Result on_events(agent_display_t *d, struct MHD_Connection *c)
{
    view_t *v = calloc(1, sizeof *v); /* seen 0: a new view starts from every document */
    if (!v)
        return tt_web_reply(c, 500, "text/plain", "out of memory\n", 14, NULL);
    v->board = d->board;
    return tt_web_stream(d->web, c, stream_next, v, free);
}

static enum MHD_Result on_ping(struct MHD_Connection *c, const agent_display_t *d)
{
    char text[64];
    /* Read last, just before the reply goes: the page takes the midpoint. */
    int64_t local = tt_clock_client_local_ns(d->cfg.clock, tt_time_mono_ns());
    int n = snprintf(text, sizeof text, "{\"local_ns\":%lld}", (long long)local);
    return tt_web_reply(c, 200, "application/json", text, (size_t)n, NULL);
}

static enum MHD_Result on_get(void *arg, struct MHD_Connection *c, const char *url,
                              const char *csrf)
{
    agent_display_t *d = arg;
    if (!strcmp(url, "/api/ping"))
        return on_ping(c, d);
    if (!strcmp(url, "/api/state")) {
        char *all = tt_web_board_all(d->board, NULL);
        if (!all)
            return tt_web_reply_error(c, 500, "out of memory");
        enum MHD_Result rc = tt_web_reply(c, 200, "application/json", all, strlen(all), NULL);
        free(all);
        return rc;
    }
    if (!strcmp(url, "/api/session"))
        return tt_web_reply_json(c, 200,
                                 json_pack("{s:s, s:s}", "csrf", csrf, "room", d->cfg.room));
    if (!strcmp(url, "/events"))
        return on_events(d, c);
    return tt_web_serve_asset(d->web, c, url);
}

/* POST /api/ack {"change": SEQ}: the room acknowledges a change. */
static enum MHD_Result on_post(void *arg, struct MHD_Connection *c, const char *url,
                               const char *text)
{
    agent_display_t *d = arg;
    if (strcmp(url, "/api/ack") != 0)
        return tt_web_reply_error(c, 404, "no such action");
    json_error_t jerr;
    json_t *body = text ? json_loads(text, 0, &jerr) : NULL;
    json_t *change = json_object_get(body, "change");
    json_int_t id = json_is_integer(change) ? json_integer_value(change) : 0;
    json_decref(body);
    if (id <= 0)
        return tt_web_reply_error(c, 400, "the body must be {\"change\": SEQ}");
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Ack ack = TUTTI__ACK__INIT;
    ack.change = (uint64_t)id;
    env.body_case = TUTTI__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    char why[TT_WHY_LEN] = "";
    uint64_t seq = 0;
    int rc = tt_client_write_once_via(d->cfg.zmq_ctx, d->cfg.endpoint, d->cfg.server_key_z85,
                                      d->cfg.relay_endpoint, d->cfg.relay_key_z85, d->cfg.keys,
                                      &env, ACK_TIMEOUT_MS, "display", &seq, why);
    if (rc != 0) {
        tt_diag_warn("display: ack of change %lld: %s", (long long)id, why);
        return tt_web_reply_error(c, tt_web_status_for(rc), why);
    }
    tt_diag_info("display: change %lld acknowledged (record %llu)", (long long)id,
                 (unsigned long long)seq);
    return tt_web_reply_json(c, 200, json_pack("{s:b, s:I}", "ok", 1, "seq", (json_int_t)seq));
}

static const char *const public_paths[] = {"/login.html", "/display.css", "/display.js"};

agent_display_t *agent_display_start(const agent_display_config_t *cfg, char *why)
{
    agent_display_t *d = calloc(1, sizeof *d);
    if (!d) {
        tt_fail(why, TT_ERR_NOMEM, "starting the display");
        return NULL;
    }
    d->cfg = *cfg;
    d->room_online = -1;
    d->board = tt_web_board_new();
    char *none = agent_view_no_roll_json(why);
    if (!d->board || !none || tt_web_board_set(d->board, "roll", none) != 0) {
        free(none);
        tt_web_board_destroy(&d->board);
        free(d);
        tt_fail(why, TT_ERR_NOMEM, "starting the display");
        return NULL;
    }
    free(none);
    tt_web_config_t wcfg = {
        .host = cfg->host,
        .port = cfg->port,
        .password = cfg->password,
        .what = "room display",
        .assets = display_assets,
        .n_assets = display_asset_count,
        .public_paths = public_paths,
        .n_public = sizeof public_paths / sizeof *public_paths,
        .on_get = on_get,
        .on_post = on_post,
        .arg = d,
    };
    d->web = tt_web_start(&wcfg, why);
    if (!d->web) {
        tt_web_board_destroy(&d->board);
        free(d);
        return NULL;
    }
    return d;
}

unsigned agent_display_port(const agent_display_t *d)
{
    return tt_web_port(d->web);
}

void agent_display_stop(agent_display_t **self_p)
{
    agent_display_t *d = self_p ? *self_p : NULL;
    if (!d)
        return;
    tt_web_board_shutdown(d->board);
    tt_web_stop(&d->web);
    tt_web_board_destroy(&d->board);
    free(d->roll_map);
    free(d);
    *self_p = NULL;
}

/* ------------------------------------------------------------ main thread */

static void publish(agent_display_t *d, const char *name, char *json, const char *why)
{
    if (!json) {
        tt_diag_warn("display: %s: %s", name, why);
        return;
    }
    if (tt_web_board_set(d->board, name, json) != 0)
        tt_diag_warn("display: %s: out of memory", name);
    free(json);
}

void agent_display_roll(agent_display_t *d, const tt_session_t *st)
{
    const tt_transport_t *t = &st->transport;
    const tt_session_cue_t *cue = tt_session_find_cue(st, t->cue);
    char *copy = cue && cue->map_text ? strdup(cue->map_text) : NULL;
    if (cue && cue->map_text && !copy)
        tt_diag_warn("display: out of memory for the roll of %s", t->cue);
    free(d->roll_map);
    d->roll_map = copy;
    d->roll_seq = t->roll_seq;
    d->roll_dirty = 1;
}

static void update_roll(agent_display_t *d, const agent_display_in_t *in)
{
    const tt_session_t *st = in->session;
    const tt_transport_t *t = &st->transport;
    int show = t->phase == TT_PHASE_ROLLED && t->roll_seq == d->roll_seq && d->roll_map;
    int64_t session_now =
        in->clock.valid ? tt_clock_map_session(&in->clock, in->local_now) : INT64_MIN;
    if (t->phase != d->phase || t->stop_session_ns != d->roll_stop)
        d->roll_dirty = 1;
    if (show && session_now != INT64_MIN && session_now > d->roll_to - REFILL_BEFORE_NS)
        d->roll_dirty = 1;
    if (!d->roll_dirty)
        return;
    d->roll_dirty = 0;
    d->phase = t->phase;
    d->roll_stop = t->stop_session_ns;
    char why[TT_WHY_LEN] = "";
    if (!show) {
        publish(d, "roll", agent_view_no_roll_json(why), why);
        return;
    }
    const tt_session_cue_t *cue = tt_session_find_cue(st, t->cue);
    int64_t from = t->start_session_ns;
    if (session_now != INT64_MIN && session_now > from)
        from = session_now;
    agent_view_roll_t r = {
        .cue = t->cue,
        .title = cue ? cue->title : "",
        .take = t->take,
        .map_text = d->roll_map,
        .from_bar = t->from_bar,
        .start_session_ns = t->start_session_ns,
        .stop_session_ns = t->stop_session_ns,
        .window_from = from - AGENT_VIEW_BEHIND_NS,
    };
    char *json = agent_view_roll_json(&r, &d->roll_to, why);
    if (!json) { /* a map that does not parse here: show no roll rather than the last one */
        tt_diag_warn("display: the roll of %s: %s", t->cue, why);
        json = agent_view_no_roll_json(why);
    }
    publish(d, "roll", json, why);
}

static int bound_moved(double sent, double now)
{
    if ((sent < 0) != (now < 0))
        return 1;
    return sent >= 0 && (now > 2 * sent + 1 || now < sent / 2 - 1);
}

int agent_display_update(agent_display_t *d, const agent_display_in_t *in)
{
    const tt_session_t *st = in->session;
    int online = in->coordinator_online ? 1 : 0;
    if (online != d->room_online || st->last_seq != d->room_seq) {
        if (!online && d->room_online == 1)
            d->offline_since = in->unix_now_ns;
        if (online)
            d->offline_since = 0;
        d->room_online = online;
        d->room_seq = st->last_seq;
        agent_view_room_t r = {
            .room = d->cfg.room,
            .session = st,
            .coordinator_online = online,
            .offline_since_unix_ns = d->offline_since,
        };
        char why[TT_WHY_LEN] = "";
        publish(d, "room", agent_view_room_json(&r, why), why);
    }
    if (!d->clock_any || agent_view_clock_moved(&d->clock_sent, &in->clock, in->local_now) ||
        bound_moved(d->bound_sent, in->bound_us)) {
        d->clock_sent = in->clock;
        d->bound_sent = in->bound_us;
        d->clock_any = 1;
        char why[TT_WHY_LEN] = "";
        publish(d, "clock", agent_view_clock_json(&in->clock, in->bound_us, why), why);
    }
    update_roll(d, in);
    return LOOK_EVERY_MS;
}
