/* dash_http: see dash_http.h. */
#include "dash_http.h"
#include "dash_assets.h"
#include "tt_client.h"
#include "tt_error.h"
#include "tt_web.h"
#include "tt_wire.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTION_TIMEOUT_MS 5000    /* coordinator round trip for one action */
#define FEED_BACKLOG 30           /* records a new stream starts with */
#define WRAP_NAMES_PER_RECORD 256 /* a presence record's limit (tt_session_check_presence) */

struct dash_http {
    dash_http_config_t cfg;
    dash_hub_t *hub;
    tt_web_t *web;
};

/* ------------------------------------------------------------ actions */

/* One write to the coordinator on client, exactly once (tt_client_write
 * retries a lost reply with the same key). */
static int write_on(tt_client_t *client, Tutti__Envelope *req, uint64_t *seq, char *why)
{
    return tt_client_write_logged(client, req, ACTION_TIMEOUT_MS, "dashboard", seq, why);
}

/* A connection of this thread's own to the coordinator (NULL, why). */
static tt_client_t *coordinator_open(dash_http_t *h, char *why)
{
    tt_client_t *c =
        tt_client_new(h->cfg.zmq_ctx, h->cfg.endpoint, h->cfg.server_key_z85, h->cfg.keys, 0, why);
    if (c && h->cfg.relay_endpoint &&
        tt_client_via_relay(c, h->cfg.relay_endpoint, h->cfg.relay_key_z85, why) != 0)
        tt_client_destroy(&c);
    return c;
}

static int coordinator_write(dash_http_t *h, Tutti__Envelope *req, uint64_t *seq, char *why)
{
    return tt_client_write_once_via(h->cfg.zmq_ctx, h->cfg.endpoint, h->cfg.server_key_z85,
                                    h->cfg.relay_endpoint, h->cfg.relay_key_z85, h->cfg.keys, req,
                                    ACTION_TIMEOUT_MS, "dashboard", seq, why);
}

/* Checks out, from room, players[from .. from+n) (JSON strings). */
static int check_out(tt_client_t *client, const char *room, json_t *players, size_t from, size_t n,
                     char *why)
{
    char *names[WRAP_NAMES_PER_RECORD];
    for (size_t i = 0; i < n; i++)
        names[i] = (char *)json_string_value(json_array_get(players, from + i));
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Presence pr = TUTTI__PRESENCE__INIT;
    pr.room = (char *)room;
    pr.out = names;
    pr.n_out = n;
    env.body_case = TUTTI__ENVELOPE__BODY_PRESENCE;
    env.presence = &pr;
    uint64_t seq;
    return write_on(client, &env, &seq, why);
}

/* Wrap: everyone the log has checked in (the state's "checked_in") is
 * checked out, a presence record per room (WRAP_NAMES_PER_RECORD names
 * each), then the call wraps. The outs go first so that the report ends
 * their stays in this call (a stay still open at a wrap is carried past
 * it). Nothing is written unless a call runs; a check-out that fails
 * stops there, before the wrap, and says how far it got. */
static enum MHD_Result on_wrap(dash_http_t *h, struct MHD_Connection *c)
{
    char *text = dash_hub_state(h->hub, NULL, NULL);
    json_t *st = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!st)
        return tt_web_reply_error(c, 503, "the dashboard has no state yet");
    if (!json_is_true(json_object_get(json_object_get(st, "call"), "running"))) {
        json_decref(st);
        return tt_web_reply_error(c, 409, "no call is running: there is nothing to wrap");
    }
    char why[TT_WHY_LEN] = "";
    tt_client_t *client = coordinator_open(h, why);
    if (!client) {
        json_decref(st);
        return tt_web_reply_error(c, 502, why);
    }
    size_t done = 0;
    int rc = 0;
    json_t *rooms = json_object_get(st, "checked_in");
    for (size_t i = 0; rc == 0 && i < json_array_size(rooms); i++) {
        json_t *r = json_array_get(rooms, i);
        const char *room = json_string_value(json_object_get(r, "room"));
        json_t *players = json_object_get(r, "players");
        size_t n = json_array_size(players);
        for (size_t k = 0; room && rc == 0 && k < n; k += WRAP_NAMES_PER_RECORD) {
            size_t chunk = n - k < WRAP_NAMES_PER_RECORD ? n - k : WRAP_NAMES_PER_RECORD;
            char cwhy[TT_WHY_LEN];
            rc = check_out(client, room, players, k, chunk, cwhy);
            if (rc == 0)
                done += chunk;
            else
                snprintf(why, TT_WHY_LEN,
                         "checked out %zu player%s, then checking out of %.64s failed: %.300s; "
                         "the call is not wrapped",
                         done, done == 1 ? "" : "s", room, cwhy);
        }
    }
    json_decref(st);
    uint64_t seq = 0;
    if (rc == 0) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__CallEvent ev = TUTTI__CALL_EVENT__INIT;
        ev.action = "wrap";
        env.body_case = TUTTI__ENVELOPE__BODY_CALL_EVENT;
        env.call_event = &ev;
        char cwhy[TT_WHY_LEN];
        rc = write_on(client, &env, &seq, cwhy);
        if (rc != 0)
            snprintf(why, TT_WHY_LEN, "checked out %zu player%s, then the wrap failed: %.400s",
                     done, done == 1 ? "" : "s", cwhy);
    }
    tt_client_destroy(&client);
    if (rc != 0)
        return tt_web_reply_error(c, tt_web_status_for(rc), why);
    return tt_web_reply_json(c, 200,
                             json_pack("{s:b, s:I, s:I}", "ok", 1, "seq", (json_int_t)seq,
                                       "checked_out", (json_int_t)done));
}

static const tt_rules_t *find_rules(const dash_http_t *h, const char *id)
{
    for (size_t i = 0; i < h->cfg.n_presets; i++)
        if (!strcmp(h->cfg.presets[i]->id, id))
            return h->cfg.presets[i];
    return NULL;
}

/* Builds the request for POST path from its JSON body; 0 or an HTTP status
 * with the reason in why. */
static unsigned build_action(dash_http_t *h, const char *path, json_t *body, Tutti__Envelope *env,
                             Tutti__CallEvent *ev, Tutti__Presence *pr, char **names,
                             char *rules_text, size_t rules_cap, char *why)
{
    if (!strcmp(path, "/api/call")) {
        const char *action = json_string_value(json_object_get(body, "action"));
        if (!action)
            return snprintf(why, TT_WHY_LEN, "\"action\" is required"), 400;
        ev->action = (char *)action;
        if (!strcmp(action, "start")) {
            const char *id = json_string_value(json_object_get(body, "rules"));
            const tt_rules_t *r = id ? find_rules(h, id) : NULL;
            if (!r)
                return snprintf(why, TT_WHY_LEN, "unknown rules \"%.64s\"", id ? id : ""), 400;
            if (tt_rules_format(r, rules_text, rules_cap) < 0)
                return snprintf(why, TT_WHY_LEN, "rules %s do not format", r->id), 500;
            ev->rules_name = (char *)r->id;
            ev->rules_text = rules_text;
        }
        env->body_case = TUTTI__ENVELOPE__BODY_CALL_EVENT;
        env->call_event = ev;
        return 0;
    }
    if (!strcmp(path, "/api/presence")) {
        const char *room = json_string_value(json_object_get(body, "room"));
        const char *player = json_string_value(json_object_get(body, "player"));
        json_t *in = json_object_get(body, "in");
        if (!room || !player || !json_is_boolean(in))
            return snprintf(why, TT_WHY_LEN, "\"room\", \"player\" and \"in\" are required"), 400;
        pr->room = (char *)room;
        names[0] = (char *)player;
        if (json_is_true(in)) {
            pr->in = names;
            pr->n_in = 1;
        } else {
            pr->out = names;
            pr->n_out = 1;
        }
        env->body_case = TUTTI__ENVELOPE__BODY_PRESENCE;
        env->presence = pr;
        return 0;
    }
    return snprintf(why, TT_WHY_LEN, "no such action"), 404;
}

static enum MHD_Result on_action(void *arg, struct MHD_Connection *c, const char *path,
                                 const char *text)
{
    dash_http_t *h = arg;
    json_error_t jerr;
    json_t *body = text ? json_loads(text, 0, &jerr) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        return tt_web_reply_error(c, 400, "the body must be a JSON object");
    }
    const char *action = json_string_value(json_object_get(body, "action"));
    if (!strcmp(path, "/api/call") && action && !strcmp(action, "wrap")) {
        json_decref(body);
        return on_wrap(h, c);
    }
    char why[TT_WHY_LEN] = "";
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__CallEvent ev = TUTTI__CALL_EVENT__INIT;
    Tutti__Presence pr = TUTTI__PRESENCE__INIT;
    char *names[1];
    char rules_text[1024];
    unsigned status =
        build_action(h, path, body, &env, &ev, &pr, names, rules_text, sizeof rules_text, why);
    enum MHD_Result result;
    if (status != 0) {
        result = tt_web_reply_error(c, status, why);
    } else {
        uint64_t seq = 0;
        int rc = coordinator_write(h, &env, &seq, why);
        if (rc == 0)
            result =
                tt_web_reply_json(c, 200, json_pack("{s:b, s:I}", "ok", 1, "seq", (json_int_t)seq));
        else
            result = tt_web_reply_error(c, tt_web_status_for(rc), why);
    }
    json_decref(body);
    return result;
}

/* ------------------------------------------------------------ events */

typedef struct {
    dash_hub_t *hub;
    uint64_t last_seq, version;
} stream_t;

static char *stream_next(void *src, int wait_ms)
{
    stream_t *s = src;
    return dash_hub_next_events(s->hub, &s->last_seq, &s->version, wait_ms);
}

static enum MHD_Result on_events(dash_http_t *h, struct MHD_Connection *c)
{
    stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return tt_web_reply(c, 500, "text/plain", "out of memory\n", 14, NULL);
    s->hub = h->hub;
    uint64_t head = 0;
    free(dash_hub_state(h->hub, &head, NULL));
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    char *end = NULL;
    unsigned long long resume = last ? strtoull(last, &end, 10) : 0;
    if (last && end && *end == '\0' && resume <= head)
        s->last_seq = resume; /* a reconnect: records after the last one seen */
    else
        s->last_seq = head > FEED_BACKLOG ? head - FEED_BACKLOG : 0;
    return tt_web_stream(h->web, c, stream_next, s, free);
}

/* ------------------------------------------------------------ routing */

static enum MHD_Result on_get(void *arg, struct MHD_Connection *c, const char *url,
                              const char *csrf)
{
    dash_http_t *h = arg;
    if (!strcmp(url, "/api/state")) {
        char *state = dash_hub_state(h->hub, NULL, NULL);
        if (!state)
            return tt_web_reply_error(c, 503, "the dashboard has no state yet");
        enum MHD_Result rc = tt_web_reply(c, 200, "application/json", state, strlen(state), NULL);
        free(state);
        return rc;
    }
    if (!strcmp(url, "/api/session"))
        return tt_web_reply_json(c, 200,
                                 json_pack("{s:s, s:b, s:s}", "csrf", csrf, "read_only",
                                           h->cfg.read_only, "name", h->cfg.name));
    if (!strcmp(url, "/events"))
        return on_events(h, c);
    if (!strcmp(url, "/report.csv")) {
        char name[DASH_REPORT_NAME];
        char *csv = dash_hub_report(h->hub, name);
        if (!csv)
            return tt_web_reply_error(c, 503, "the report is not ready yet");
        /* A download with the session's name, not a page called report.csv. */
        char disposition[DASH_REPORT_NAME + 40];
        snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", name);
        const char *const headers[] = {MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition, NULL};
        enum MHD_Result rc =
            tt_web_reply_with(c, 200, "text/csv; charset=utf-8", csv, strlen(csv), headers);
        free(csv);
        return rc;
    }
    return tt_web_serve_asset(h->web, c, url);
}

static const char *const public_paths[] = {"/login.html", "/style.css", "/app.js"};

dash_http_t *dash_http_start(const dash_http_config_t *cfg, dash_hub_t *hub, char *why)
{
    dash_http_t *h = calloc(1, sizeof *h);
    if (!h) {
        tt_fail(why, TT_ERR_NOMEM, "starting the web server");
        return NULL;
    }
    h->cfg = *cfg;
    h->hub = hub;
    tt_web_config_t wcfg = {
        .host = cfg->host,
        .port = cfg->port,
        .password = cfg->password,
        .what = "dashboard",
        .idle_timeout_s = cfg->idle_timeout_s,
        .refuse_posts = cfg->read_only ? "read-only dashboard: it changes nothing" : NULL,
        .assets = dash_assets,
        .n_assets = dash_asset_count,
        .public_paths = public_paths,
        .n_public = sizeof public_paths / sizeof *public_paths,
        .on_get = on_get,
        .on_post = on_action,
        .arg = h,
    };
    h->web = tt_web_start(&wcfg, why);
    if (!h->web) {
        free(h);
        return NULL;
    }
    return h;
}

unsigned dash_http_port(const dash_http_t *h)
{
    return tt_web_port(h->web);
}

void dash_http_stop(dash_http_t **self_p)
{
    dash_http_t *h = self_p ? *self_p : NULL;
    if (!h)
        return;
    dash_hub_shutdown(h->hub);
    tt_web_stop(&h->web);
    free(h);
    *self_p = NULL;
}
