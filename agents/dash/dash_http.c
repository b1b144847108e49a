/* dash_http: see dash_http.h. */
#include "dash_http.h"
#include "dash_assets.h"
#include "dash_guard.h"
#include "tt_client.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BODY_MAX (16 * 1024)   /* a POST body: an action is a few dozen bytes */
#define SSE_WAIT_MS 5000       /* keep-alive comment after this much silence (< idle timeout) */
#define MAX_STREAMS 32         /* live event streams at once; more get a clear 503 */
#define MAX_CONNECTIONS 256    /* a thread each */
#define MAX_PER_ADDRESS 64     /* leaves room for other addresses when one hogs */
#define ACTION_TIMEOUT_MS 5000 /* coordinator round trip for one action */
#define FEED_BACKLOG 30        /* records a new stream starts with */
#define COOKIE "tutti_session"
#define WRAP_NAMES_PER_RECORD 256 /* a presence record's limit (tt_session_check_presence) */

struct dash_http {
    dash_http_config_t cfg;
    dash_hub_t *hub;
    struct MHD_Daemon *daemon;
    unsigned port;
    /* Without a password there is one implicit session: its CSRF token. */
    char open_csrf[DASH_TOKEN_HEX + 1];
    dash_guard_t *guard;  /* wrong passwords per client address */
    atomic_int n_streams; /* live /events streams */
};

typedef struct {
    char *body; /* owned, NUL-terminated */
    size_t len;
    int too_big;
} request_t;

/* ------------------------------------------------------------ replies */

static enum MHD_Result reply_with(struct MHD_Connection *c, unsigned status, const char *type,
                                  const void *data, size_t len, const char *cookie,
                                  const char *disposition)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; style-src 'self' 'unsafe-inline'");
    if (cookie)
        MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    if (disposition)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const void *data, size_t len, const char *cookie)
{
    return reply_with(c, status, type, data, len, cookie, NULL);
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return reply(c, 500, "text/plain", "out of memory\n", 14, NULL);
    enum MHD_Result rc = reply(c, status, "application/json", text, strlen(text), NULL);
    free(text);
    return rc;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *text)
{
    return reply_json(c, status, json_pack("{s:s}", "error", text));
}

static enum MHD_Result redirect(struct MHD_Connection *c, const char *to, const char *cookie)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, to);
    if (cookie)
        MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
    MHD_destroy_response(r);
    return rc;
}

static const dash_asset_t *find_asset(const char *path)
{
    for (size_t i = 0; i < dash_asset_count; i++)
        if (!strcmp(dash_assets[i].path, path))
            return &dash_assets[i];
    return NULL;
}

static enum MHD_Result serve_asset(struct MHD_Connection *c, const char *path)
{
    const dash_asset_t *a = find_asset(path);
    if (!a)
        return reply(c, 404, "text/plain", "not found\n", 10, NULL);
    return reply(c, 200, a->content_type, a->data, a->len, NULL);
}

/* ------------------------------------------------------------ access */

/* The CSRF token of the caller's session into csrf; 0 when not logged in. */
static int session_of(dash_http_t *h, struct MHD_Connection *c, char csrf[DASH_TOKEN_HEX + 1])
{
    if (!h->cfg.password) {
        memcpy(csrf, h->open_csrf, sizeof h->open_csrf);
        return 1;
    }
    const char *id = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
    return id && strlen(id) == DASH_TOKEN_HEX && dash_hub_session(h->hub, id, csrf);
}

/* application/x-www-form-urlencoded: the value of `key`, unescaped in place
 * into out (cap bytes). 1 when found. */
static int form_value(char *body, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    for (char *p = body; p && *p;) {
        char *amp = strchr(p, '&');
        if (!strncmp(p, key, klen) && p[klen] == '=') {
            size_t vlen = amp ? (size_t)(amp - p - klen - 1) : strlen(p + klen + 1);
            if (vlen >= cap)
                return 0;
            memcpy(out, p + klen + 1, vlen);
            out[vlen] = '\0';
            for (char *q = out; *q; q++)
                if (*q == '+')
                    *q = ' ';
            MHD_http_unescape(out);
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* The client's address as text, for the login throttle. */
static void client_address(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const void *bytes = NULL;
    if (sa && sa->sa_family == AF_INET)
        bytes = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa && sa->sa_family == AF_INET6)
        bytes = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!bytes || !inet_ntop(sa->sa_family, bytes, out, (socklen_t)cap))
        snprintf(out, cap, "unknown");
}

static enum MHD_Result on_login(dash_http_t *h, struct MHD_Connection *c, request_t *rq)
{
    char address[64];
    client_address(c, address, sizeof address);
    int64_t wait_ms = dash_guard_login_wait_ms(h->guard, address, tt_time_mono_ns());
    if (wait_ms > 0) { /* not even checked: more connections buy no more guesses */
        char text[120];
        int n = snprintf(text, sizeof text,
                         "too many wrong passwords from this address: try again in %lld s\n",
                         (long long)(wait_ms + 999) / 1000);
        return reply(c, 429, "text/plain", text, (size_t)n, NULL);
    }
    char given[512] = "";
    int ok = h->cfg.password && rq->body && form_value(rq->body, "password", given, sizeof given) &&
             dash_token_equal(given, h->cfg.password);
    sodium_memzero(given, sizeof given);
    if (!ok) {
        dash_guard_login_failed(h->guard, address, tt_time_mono_ns());
        tt_diag_warn("dashboard: wrong password from %s", address);
        struct timespec pause = {0, 500000000L}; /* slow down guessing */
        nanosleep(&pause, NULL);
        const dash_asset_t *a = find_asset("/login.html");
        return a ? reply(c, 401, a->content_type, a->data, a->len, NULL)
                 : reply(c, 401, "text/plain", "wrong password\n", 15, NULL);
    }
    dash_guard_login_ok(h->guard, address);
    char id[DASH_TOKEN_HEX + 1], csrf[DASH_TOKEN_HEX + 1];
    dash_hub_login(h->hub, id, csrf);
    char cookie[200];
    snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict", COOKIE, id);
    return redirect(c, "/", cookie);
}

/* ------------------------------------------------------------ actions */

/* One write to the coordinator on client, exactly once (tt_client_write
 * retries a lost reply with the same key). */
static int write_on(tt_client_t *client, Tutti__Envelope *req, uint64_t *seq, char *why)
{
    Tutti__Envelope *rep = NULL;
    tt_client_write_how_t how;
    char lost[TT_WHY_LEN];
    int rc = tt_client_write(client, req, &rep, ACTION_TIMEOUT_MS, &how, lost, why);
    if (rc == 0)
        *seq = rep->write_reply->seq;
    if (rc == 0 && how != TT_CLIENT_WRITE_ANSWERED)
        tt_diag_warn("dashboard: %s (%s); %s: seq %llu",
                     how == TT_CLIENT_WRITE_WAS_COMMITTED ? "a write's reply was lost"
                                                          : "a write was not recorded",
                     lost,
                     how == TT_CLIENT_WRITE_WAS_COMMITTED ? "it had committed" : "written on retry",
                     (unsigned long long)*seq);
    if (rep)
        tutti__envelope__free_unpacked(rep, NULL);
    return rc;
}

/* A connection of this thread's own to the coordinator (NULL, why). */
static tt_client_t *coordinator_open(dash_http_t *h, char *why)
{
    return tt_client_new(h->cfg.zmq_ctx, h->cfg.endpoint, h->cfg.server_key_z85, h->cfg.keys, 0,
                         why);
}

static int coordinator_write(dash_http_t *h, Tutti__Envelope *req, uint64_t *seq, char *why)
{
    tt_client_t *client = coordinator_open(h, why);
    if (!client)
        return TT_ERR_IO;
    int rc = write_on(client, req, seq, why);
    tt_client_destroy(&client);
    return rc;
}

static unsigned status_of(int rc)
{
    return rc == TT_ERR_DENIED || rc == TT_ERR_AUTH ? 403 : rc == TT_ERR_INVALID ? 409 : 502;
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
        return reply_error(c, 503, "the dashboard has no state yet");
    if (!json_is_true(json_object_get(json_object_get(st, "call"), "running"))) {
        json_decref(st);
        return reply_error(c, 409, "no call is running: there is nothing to wrap");
    }
    char why[TT_WHY_LEN] = "";
    tt_client_t *client = coordinator_open(h, why);
    if (!client) {
        json_decref(st);
        return reply_error(c, 502, why);
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
        return reply_error(c, status_of(rc), why);
    return reply_json(c, 200,
                      json_pack("{s:b, s:I, s:I}", "ok", 1, "seq", (json_int_t)seq, "checked_out",
                                (json_int_t)done));
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

static enum MHD_Result on_action(dash_http_t *h, struct MHD_Connection *c, const char *path,
                                 request_t *rq)
{
    if (h->cfg.read_only)
        return reply_error(c, 403, "read-only dashboard: it changes nothing");
    char csrf[DASH_TOKEN_HEX + 1];
    if (!session_of(h, c, csrf))
        return reply_error(c, 401, "log in first");
    const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
    if (!token || !dash_token_equal(token, csrf))
        return reply_error(c, 403, "missing or wrong CSRF token: reload the page");
    if (rq->too_big)
        return reply_error(c, 413, "request body too large");
    json_error_t jerr;
    json_t *body = rq->body ? json_loads(rq->body, 0, &jerr) : NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        return reply_error(c, 400, "the body must be a JSON object");
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
        result = reply_error(c, status, why);
    } else {
        uint64_t seq = 0;
        int rc = coordinator_write(h, &env, &seq, why);
        if (rc == 0)
            result = reply_json(c, 200, json_pack("{s:b, s:I}", "ok", 1, "seq", (json_int_t)seq));
        else
            result = reply_error(c, status_of(rc), why);
    }
    json_decref(body);
    return result;
}

/* ------------------------------------------------------------ events */

typedef struct {
    dash_http_t *h;
    uint64_t last_seq, version;
    char *pending; /* owned: event text not yet handed to MHD */
    size_t off, len;
} stream_t;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_t *s = cls;
    while (s->off == s->len) {
        free(s->pending);
        s->pending = dash_hub_next_events(s->h->hub, &s->last_seq, &s->version, SSE_WAIT_MS);
        s->off = 0;
        if (!s->pending) {
            s->len = 0;
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        s->len = strlen(s->pending);
        if (s->len == 0) { /* quiet: a comment keeps proxies and the browser content */
            free(s->pending);
            s->pending = strdup(": keep-alive\n\n");
            if (!s->pending)
                return MHD_CONTENT_READER_END_WITH_ERROR;
            s->len = strlen(s->pending);
        }
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->pending + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream_t *s = cls;
    atomic_fetch_sub(&s->h->n_streams, 1);
    free(s->pending);
    free(s);
}

static enum MHD_Result on_events(dash_http_t *h, struct MHD_Connection *c)
{
    if (atomic_fetch_add(&h->n_streams, 1) >= MAX_STREAMS) {
        atomic_fetch_sub(&h->n_streams, 1);
        static const char full[] = "too many live views of this dashboard are open (32): "
                                   "close one, or reload later\n";
        return reply(c, 503, "text/plain", full, sizeof full - 1, NULL);
    }
    stream_t *s = calloc(1, sizeof *s);
    if (!s) {
        atomic_fetch_sub(&h->n_streams, 1);
        return reply(c, 500, "text/plain", "out of memory\n", 14, NULL);
    }
    s->h = h;
    uint64_t head = 0;
    free(dash_hub_state(h->hub, &head, NULL));
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    char *end = NULL;
    unsigned long long resume = last ? strtoull(last, &end, 10) : 0;
    if (last && end && *end == '\0' && resume <= head)
        s->last_seq = resume; /* a reconnect: records after the last one seen */
    else
        s->last_seq = head > FEED_BACKLOG ? head - FEED_BACKLOG : 0;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, s, stream_free);
    if (!r) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

/* ------------------------------------------------------------ routing */

static enum MHD_Result on_get(dash_http_t *h, struct MHD_Connection *c, const char *url)
{
    if (!strcmp(url, "/login.html") || !strcmp(url, "/style.css") || !strcmp(url, "/app.js"))
        return serve_asset(c, url);
    char csrf[DASH_TOKEN_HEX + 1];
    int logged_in = session_of(h, c, csrf);
    if (!logged_in) {
        if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
            return redirect(c, "/login.html", NULL);
        return reply_error(c, 401, "log in first");
    }
    if (!strcmp(url, "/"))
        return serve_asset(c, "/index.html");
    if (!strcmp(url, "/api/state")) {
        char *state = dash_hub_state(h->hub, NULL, NULL);
        if (!state)
            return reply_error(c, 503, "the dashboard has no state yet");
        enum MHD_Result rc = reply(c, 200, "application/json", state, strlen(state), NULL);
        free(state);
        return rc;
    }
    if (!strcmp(url, "/api/session"))
        return reply_json(c, 200,
                          json_pack("{s:s, s:b, s:s}", "csrf", csrf, "read_only", h->cfg.read_only,
                                    "name", h->cfg.name));
    if (!strcmp(url, "/events"))
        return on_events(h, c);
    if (!strcmp(url, "/report.csv")) {
        char name[DASH_REPORT_NAME];
        char *csv = dash_hub_report(h->hub, name);
        if (!csv)
            return reply_error(c, 503, "the report is not ready yet");
        /* A download with the session's name, not a page called report.csv. */
        char disposition[DASH_REPORT_NAME + 40];
        snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", name);
        enum MHD_Result rc =
            reply_with(c, 200, "text/csv; charset=utf-8", csv, strlen(csv), NULL, disposition);
        free(csv);
        return rc;
    }
    return serve_asset(c, url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    dash_http_t *h = cls;
    request_t *rq = *con_cls;
    static const char wrong_host[] = "this dashboard answers only as 127.0.0.1 or localhost\n";
    if (!rq && !h->cfg.password &&
        !dash_guard_host_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST),
                            h->cfg.host))
        return reply(c, 421, "text/plain", wrong_host, sizeof wrong_host - 1, NULL);
    if (!rq) { /* first call: headers only */
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size > 0) { /* a piece of the body */
        if (rq->len + *upload_size > BODY_MAX) {
            rq->too_big = 1;
        } else {
            char *grown = realloc(rq->body, rq->len + *upload_size + 1);
            if (!grown)
                return MHD_NO;
            memcpy(grown + rq->len, upload_data, *upload_size);
            rq->len += *upload_size;
            grown[rq->len] = '\0';
            rq->body = grown;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
        return on_get(h, c, url);
    if (!strcmp(method, "POST")) {
        if (!strcmp(url, "/login"))
            return on_login(h, c, rq);
        return on_action(h, c, url, rq);
    }
    return reply_error(c, 405, "method not allowed");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    request_t *rq = *con_cls;
    if (rq) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

dash_http_t *dash_http_start(const dash_http_config_t *cfg, dash_hub_t *hub, char *why)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    if (inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) {
        tt_fail(why, TT_ERR_INVALID, "--http: %s is not an IPv4 address", cfg->host);
        return NULL;
    }
    dash_http_t *h = calloc(1, sizeof *h);
    if (!h) {
        tt_fail(why, TT_ERR_NOMEM, "starting the web server");
        return NULL;
    }
    h->cfg = *cfg;
    h->hub = hub;
    h->guard = dash_guard_new();
    if (!h->guard) {
        tt_fail(why, TT_ERR_NOMEM, "starting the web server");
        free(h);
        return NULL;
    }
    atomic_init(&h->n_streams, 0);
    unsigned idle_s = cfg->idle_timeout_s ? cfg->idle_timeout_s : DASH_IDLE_TIMEOUT_S;
    char unused[DASH_TOKEN_HEX + 1];
    dash_hub_login(hub, unused, h->open_csrf);
    h->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_PER_ADDRESS,
        MHD_OPTION_CONNECTION_TIMEOUT, idle_s, MHD_OPTION_END);
    if (!h->daemon) {
        tt_fail(why, TT_ERR_IO, "cannot serve HTTP on %s:%u (in use, or not an address here?)",
                cfg->host, cfg->port);
        dash_guard_destroy(&h->guard);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : cfg->port;
    return h;
}

unsigned dash_http_port(const dash_http_t *h)
{
    return h->port;
}

void dash_http_stop(dash_http_t **self_p)
{
    dash_http_t *h = self_p ? *self_p : NULL;
    if (!h)
        return;
    dash_hub_shutdown(h->hub);
    MHD_stop_daemon(h->daemon);
    dash_guard_destroy(&h->guard);
    free(h);
    *self_p = NULL;
}
