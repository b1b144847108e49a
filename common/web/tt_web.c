/* tt_web: see tt_web.h. */
#include "tt_web.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_opts.h"
#include "tt_time.h"
#include "tt_web_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define SSE_WAIT_MS 5000    /* keep-alive comment after this much silence (< idle timeout) */
#define MAX_STREAMS 32      /* default live event streams at once */
#define MAX_CONNECTIONS 256 /* a thread each */
#define MAX_PER_ADDRESS 64  /* leaves room for other addresses when one hogs */
#define COOKIE "tutti_session"

typedef struct {
    char id[TT_WEB_TOKEN_HEX + 1];
    char csrf[TT_WEB_TOKEN_HEX + 1];
    uint64_t born; /* login order, for dropping the oldest */
} session_t;

struct tt_web {
    tt_web_config_t cfg;
    struct MHD_Daemon *daemon;
    unsigned port;
    /* Without a password there is one implicit session: its CSRF token. */
    char open_csrf[TT_WEB_TOKEN_HEX + 1];
    tt_web_guard_t *guard; /* wrong passwords per client address */
    atomic_int n_streams;  /* live event streams */
    pthread_mutex_t lock;  /* sessions */
    session_t sessions[TT_WEB_MAX_SESSIONS];
    uint64_t logins;
};

typedef struct {
    char *body; /* owned, NUL-terminated */
    size_t len;
    int too_big;
} request_t;

/* ------------------------------------------------------------ replies */

enum MHD_Result tt_web_reply_with(struct MHD_Connection *c, unsigned status, const char *type,
                                  const void *data, size_t len, const char *const *headers)
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
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        MHD_add_response_header(r, headers[i], headers[i + 1]);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result tt_web_reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const void *data, size_t len, const char *cookie)
{
    const char *const headers[] = {MHD_HTTP_HEADER_SET_COOKIE, cookie, NULL};
    return tt_web_reply_with(c, status, type, data, len, cookie ? headers : NULL);
}

enum MHD_Result tt_web_reply_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return tt_web_reply(c, 500, "text/plain", "out of memory\n", 14, NULL);
    enum MHD_Result rc = tt_web_reply(c, status, "application/json", text, strlen(text), NULL);
    free(text);
    return rc;
}

enum MHD_Result tt_web_reply_error(struct MHD_Connection *c, unsigned status, const char *text)
{
    return tt_web_reply_json(c, status, json_pack("{s:s}", "error", text));
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

static const tt_web_asset_t *find_asset(const tt_web_t *w, const char *path)
{
    for (size_t i = 0; i < w->cfg.n_assets; i++)
        if (!strcmp(w->cfg.assets[i].path, path))
            return &w->cfg.assets[i];
    return NULL;
}

enum MHD_Result tt_web_serve_asset(tt_web_t *w, struct MHD_Connection *c, const char *path)
{
    const tt_web_asset_t *a = find_asset(w, path);
    if (!a)
        return tt_web_reply(c, 404, "text/plain", "not found\n", 10, NULL);
    return tt_web_reply(c, 200, a->content_type, a->data, a->len, NULL);
}

/* ------------------------------------------------------------ sessions */

static void random_hex(char out[TT_WEB_TOKEN_HEX + 1])
{
    uint8_t raw[TT_WEB_TOKEN_HEX / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, TT_WEB_TOKEN_HEX + 1, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
}

int tt_web_token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb || la == 0)
        return 0;
    return sodium_memcmp(a, b, la) == 0;
}

/* A new session: its id and CSRF token. The oldest is dropped when full. */
static void login(tt_web_t *w, char id[TT_WEB_TOKEN_HEX + 1], char csrf[TT_WEB_TOKEN_HEX + 1])
{
    random_hex(id);
    random_hex(csrf);
    pthread_mutex_lock(&w->lock);
    size_t slot = 0;
    for (size_t i = 0; i < TT_WEB_MAX_SESSIONS; i++) {
        if (!w->sessions[i].id[0]) {
            slot = i;
            break;
        }
        if (w->sessions[i].born < w->sessions[slot].born)
            slot = i;
    }
    session_t *s = &w->sessions[slot];
    memcpy(s->id, id, TT_WEB_TOKEN_HEX + 1);
    memcpy(s->csrf, csrf, TT_WEB_TOKEN_HEX + 1);
    s->born = ++w->logins;
    pthread_mutex_unlock(&w->lock);
}

/* The CSRF token of the caller's session into csrf; 0 when not logged in. */
static int session_of(tt_web_t *w, struct MHD_Connection *c, char csrf[TT_WEB_TOKEN_HEX + 1])
{
    if (!w->cfg.password) {
        memcpy(csrf, w->open_csrf, sizeof w->open_csrf);
        return 1;
    }
    const char *id = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
    if (!id || strlen(id) != TT_WEB_TOKEN_HEX)
        return 0;
    int found = 0;
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < TT_WEB_MAX_SESSIONS && !found; i++) {
        if (w->sessions[i].id[0] && tt_web_token_equal(w->sessions[i].id, id)) {
            memcpy(csrf, w->sessions[i].csrf, TT_WEB_TOKEN_HEX + 1);
            found = 1;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return found;
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

static enum MHD_Result on_login(tt_web_t *w, struct MHD_Connection *c, request_t *rq)
{
    char address[64];
    client_address(c, address, sizeof address);
    int64_t wait_ms = tt_web_guard_login_wait_ms(w->guard, address, tt_time_mono_ns());
    if (wait_ms > 0) { /* not even checked: more connections buy no more guesses */
        char text[120];
        int n = snprintf(text, sizeof text,
                         "too many wrong passwords from this address: try again in %lld s\n",
                         (long long)(wait_ms + 999) / 1000);
        return tt_web_reply(c, 429, "text/plain", text, (size_t)n, NULL);
    }
    char given[512] = "";
    int ok = w->cfg.password && rq->body && form_value(rq->body, "password", given, sizeof given) &&
             tt_web_token_equal(given, w->cfg.password);
    sodium_memzero(given, sizeof given);
    if (!ok) {
        tt_web_guard_login_failed(w->guard, address, tt_time_mono_ns());
        tt_diag_warn("%s: wrong password from %s", w->cfg.what, address);
        struct timespec pause = {0, 500000000L}; /* slow down guessing */
        nanosleep(&pause, NULL);
        const tt_web_asset_t *a = find_asset(w, "/login.html");
        return a ? tt_web_reply(c, 401, a->content_type, a->data, a->len, NULL)
                 : tt_web_reply(c, 401, "text/plain", "wrong password\n", 15, NULL);
    }
    tt_web_guard_login_ok(w->guard, address);
    char id[TT_WEB_TOKEN_HEX + 1], csrf[TT_WEB_TOKEN_HEX + 1];
    login(w, id, csrf);
    char cookie[200];
    snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict", COOKIE, id);
    return redirect(c, "/", cookie);
}

/* ------------------------------------------------------------ streams */

typedef struct {
    tt_web_t *w;
    tt_web_next_fn next;
    void *src;
    void (*free_src)(void *);
    char *pending; /* owned: event text not yet handed to MHD */
    size_t off, len;
} stream_t;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_t *s = cls;
    while (s->off == s->len) {
        free(s->pending);
        s->pending = s->next(s->src, SSE_WAIT_MS);
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
    atomic_fetch_sub(&s->w->n_streams, 1);
    if (s->free_src)
        s->free_src(s->src);
    free(s->pending);
    free(s);
}

enum MHD_Result tt_web_stream(tt_web_t *w, struct MHD_Connection *c, tt_web_next_fn next, void *src,
                              void (*free_src)(void *src))
{
    int max = w->cfg.max_streams > 0 ? w->cfg.max_streams : MAX_STREAMS;
    if (atomic_fetch_add(&w->n_streams, 1) >= max) {
        atomic_fetch_sub(&w->n_streams, 1);
        if (free_src)
            free_src(src);
        char full[160];
        int n =
            snprintf(full, sizeof full,
                     "too many live views of this %s are open (%d): close one, or reload later\n",
                     w->cfg.what, max);
        return tt_web_reply(c, 503, "text/plain", full, (size_t)n, NULL);
    }
    stream_t *s = calloc(1, sizeof *s);
    if (!s) {
        atomic_fetch_sub(&w->n_streams, 1);
        if (free_src)
            free_src(src);
        return tt_web_reply(c, 500, "text/plain", "out of memory\n", 14, NULL);
    }
    *s = (stream_t){.w = w, .next = next, .src = src, .free_src = free_src};
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

static int is_public(const tt_web_t *w, const char *url)
{
    for (size_t i = 0; i < w->cfg.n_public; i++)
        if (!strcmp(w->cfg.public_paths[i], url))
            return 1;
    return 0;
}

static enum MHD_Result on_get(tt_web_t *w, struct MHD_Connection *c, const char *url)
{
    if (is_public(w, url))
        return tt_web_serve_asset(w, c, url);
    char csrf[TT_WEB_TOKEN_HEX + 1];
    if (!session_of(w, c, csrf)) {
        if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
            return redirect(c, "/login.html", NULL);
        return tt_web_reply_error(c, 401, "log in first");
    }
    return w->cfg.on_get(w->cfg.arg, c, !strcmp(url, "/") ? "/index.html" : url, csrf);
}

static enum MHD_Result on_post(tt_web_t *w, struct MHD_Connection *c, const char *url,
                               request_t *rq)
{
    if (!strcmp(url, "/login"))
        return on_login(w, c, rq);
    if (w->cfg.refuse_posts)
        return tt_web_reply_error(c, 403, w->cfg.refuse_posts);
    char csrf[TT_WEB_TOKEN_HEX + 1];
    if (!session_of(w, c, csrf))
        return tt_web_reply_error(c, 401, "log in first");
    const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
    if (!token || !tt_web_token_equal(token, csrf))
        return tt_web_reply_error(c, 403, "missing or wrong CSRF token: reload the page");
    if (rq->too_big)
        return tt_web_reply_error(c, 413, "request body too large");
    return w->cfg.on_post(w->cfg.arg, c, url, rq->body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    tt_web_t *w = cls;
    request_t *rq = *con_cls;
    if (!rq && !w->cfg.password &&
        !tt_web_guard_host_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST),
                              w->cfg.host)) {
        char wrong_host[120];
        int n = snprintf(wrong_host, sizeof wrong_host,
                         "this %s answers only as 127.0.0.1 or localhost\n", w->cfg.what);
        return tt_web_reply(c, 421, "text/plain", wrong_host, (size_t)n, NULL);
    }
    if (!rq) { /* first call: headers only */
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size > 0) { /* a piece of the body */
        if (rq->len + *upload_size > TT_WEB_BODY_MAX) {
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
        return on_get(w, c, url);
    if (!strcmp(method, "POST"))
        return on_post(w, c, url, rq);
    return tt_web_reply_error(c, 405, "method not allowed");
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

tt_web_t *tt_web_start(const tt_web_config_t *cfg, char *why)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    if (inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) {
        tt_fail(why, TT_ERR_INVALID, "--http: %s is not an IPv4 address", cfg->host);
        return NULL;
    }
    tt_web_t *w = calloc(1, sizeof *w);
    if (!w) {
        tt_fail(why, TT_ERR_NOMEM, "starting the web server");
        return NULL;
    }
    w->cfg = *cfg;
    if (!w->cfg.what)
        w->cfg.what = "server";
    w->guard = tt_web_guard_new();
    if (!w->guard || pthread_mutex_init(&w->lock, NULL) != 0) {
        tt_fail(why, TT_ERR_NOMEM, "starting the web server");
        tt_web_guard_destroy(&w->guard);
        free(w);
        return NULL;
    }
    atomic_init(&w->n_streams, 0);
    random_hex(w->open_csrf);
    unsigned idle_s = cfg->idle_timeout_s ? cfg->idle_timeout_s : TT_WEB_IDLE_TIMEOUT_S;
    w->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, w, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, w, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_PER_ADDRESS,
        MHD_OPTION_CONNECTION_TIMEOUT, idle_s, MHD_OPTION_END);
    if (!w->daemon) {
        tt_fail(why, TT_ERR_IO, "cannot serve HTTP on %s:%u (in use, or not an address here?)",
                cfg->host, cfg->port);
        tt_web_guard_destroy(&w->guard);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_BIND_PORT);
    w->port = info ? info->port : cfg->port;
    return w;
}

unsigned tt_web_port(const tt_web_t *w)
{
    return w->port;
}

void tt_web_stop(tt_web_t **self_p)
{
    tt_web_t *w = self_p ? *self_p : NULL;
    if (!w)
        return;
    MHD_stop_daemon(w->daemon);
    tt_web_guard_destroy(&w->guard);
    sodium_memzero(w->sessions, sizeof w->sessions);
    sodium_memzero(w->open_csrf, sizeof w->open_csrf);
    pthread_mutex_destroy(&w->lock);
    free(w);
    *self_p = NULL;
}

unsigned tt_web_status_for(int rc)
{
    return rc == TT_ERR_DENIED || rc == TT_ERR_AUTH ? 403 : rc == TT_ERR_INVALID ? 409 : 502;
}

/* ------------------------------------------------------------ stream feeders */

void tt_web_text_add(tt_web_text_t *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n =
            vsnprintf(t->data ? t->data + t->len : NULL, t->data ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->data && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap <= t->len + (size_t)n)
            cap *= 2;
        char *grown = realloc(t->data, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
}

char *tt_web_text_take(tt_web_text_t *t)
{
    char *out = t->failed ? NULL : t->data ? t->data : strdup("");
    if (t->failed)
        free(t->data);
    *t = (tt_web_text_t){0};
    return out;
}

int tt_web_cond_init(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}

void tt_web_deadline(int wait_ms, struct timespec *until)
{
    clock_gettime(CLOCK_MONOTONIC, until);
    until->tv_sec += wait_ms / 1000;
    until->tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until->tv_nsec >= 1000000000L) {
        until->tv_sec++;
        until->tv_nsec -= 1000000000L;
    }
}

/* ------------------------------------------------------------ command line */

int tt_web_port_file(const char *path, unsigned port, char *why)
{
    char text[16];
    int n = snprintf(text, sizeof text, "%u\n", port);
    return tt_file_write_atomic(path, text, (size_t)n, 0644, 0, why);
}

int tt_web_parse_listen(const char *spec, char *host, size_t cap, unsigned *port)
{
    const char *colon = strrchr(spec, ':');
    long p;
    if (!colon || (size_t)(colon - spec) >= cap || colon == spec ||
        tt_opts_parse_long(colon + 1, 0, 65535, &p) != 0)
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    *port = (unsigned)p;
    return 0;
}

int tt_web_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0;
}

int tt_web_password_read(const char *path, char **out, char *why)
{
    char *password = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = tt_file_read(path, 4096, &password, &len, why);
    if (rc != 0)
        return rc;
    password[strcspn(password, "\r\n")] = '\0';
    if (strlen(password) < TT_WEB_PASSWORD_MIN) {
        tt_web_password_free(&password);
        return tt_fail(why, TT_ERR_INVALID, "the password must be at least %d characters",
                       TT_WEB_PASSWORD_MIN);
    }
    *out = password;
    return 0;
}

void tt_web_password_free(char **pw)
{
    if (!pw || !*pw)
        return;
    sodium_memzero(*pw, strlen(*pw));
    free(*pw);
    *pw = NULL;
}
