/* tt_web: the web server our programs share (the contractor's dashboard,
 * a room's display): libmicrohttpd with a thread per browser connection,
 * compiled-in pages, login, CSRF and live event streams.
 *
 * What it does the same way for every program:
 *   - the Host rule and the login throttle (tt_web_guard);
 *   - access: with a password (required when bound beyond loopback) every
 *     route but the public assets wants a session cookie from POST /login;
 *     every other POST carries the session's CSRF token in X-CSRF-Token,
 *     password or not (without a password there is one implicit session);
 *   - bounded bodies (16 KiB), idle connections closed, at most 256
 *     connections (64 from one address) and max_streams live event streams
 *     (more get a 503 that says so).
 * The program routes the rest: on_get and on_post run on the
 * connection's thread, may block it (a coordinator round trip), and must
 * queue exactly one reply (tt_web_reply* or tt_web_stream).
 *
 * Threads: tt_web_start/stop from one thread; the callbacks on
 * libmicrohttpd's threads, concurrently. Sessions live under a lock here.
 */
#ifndef TT_WEB_H
#define TT_WEB_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <time.h>

#define TT_WEB_TOKEN_HEX 64 /* 32 random bytes as hex: session ids, CSRF tokens */
#define TT_WEB_MAX_SESSIONS 64
#define TT_WEB_BODY_MAX (16 * 1024)
#define TT_WEB_IDLE_TIMEOUT_S 15
#define TT_WEB_PASSWORD_MIN 8

/* A compiled-in file (tt_web_embed.cmake makes a table of them). */
typedef struct {
    const char *path; /* "/index.html" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} tt_web_asset_t;

typedef struct tt_web tt_web_t;

typedef struct {
    const char *host;     /* IPv4 address to bind, e.g. "127.0.0.1" */
    unsigned port;        /* 0: any free port */
    const char *password; /* NULL: no login (loopback only); borrowed */
    const char *what;     /* "dashboard", "room display": names it in replies */
    /* A connection silent this long is closed; 0: TT_WEB_IDLE_TIMEOUT_S. */
    unsigned idle_timeout_s;
    int max_streams; /* live event streams at once; 0: 32 */
    /* Non-NULL: every POST but /login is refused with 403 and this text. */
    const char *refuse_posts;
    const tt_web_asset_t *assets; /* borrowed; "/index.html" is "/" */
    size_t n_assets;
    const char *const *public_paths; /* served without login (the login page, its CSS, JS) */
    size_t n_public;
    /* GET and HEAD once logged in ("/" is answered as "/index.html" before
     * this is asked). csrf is the caller's session's token. */
    enum MHD_Result (*on_get)(void *arg, struct MHD_Connection *c, const char *url,
                              const char *csrf);
    /* POST (not /login), once the session and its CSRF token passed; body
     * is NUL-terminated (NULL when empty). */
    enum MHD_Result (*on_post)(void *arg, struct MHD_Connection *c, const char *url,
                               const char *body);
    void *arg;
} tt_web_config_t;

/* Starts serving; NULL with a reason in why. cfg's strings and tables are
 * borrowed and must outlive the server. */
tt_web_t *tt_web_start(const tt_web_config_t *cfg, char *why);
unsigned tt_web_port(const tt_web_t *w);
/* Stops the server (open streams must have been told to end: their next()
 * returns NULL). Safe on NULL. */
void tt_web_stop(tt_web_t **self_p);

/* ---- replies (from on_get / on_post) ---- */

/* A reply with our security headers (no-store, nosniff, DENY, a CSP of
 * 'self'); data is copied. cookie may be NULL. */
enum MHD_Result tt_web_reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const void *data, size_t len, const char *cookie);
/* The same with extra headers: pairs name, value, ..., NULL. */
enum MHD_Result tt_web_reply_with(struct MHD_Connection *c, unsigned status, const char *type,
                                  const void *data, size_t len, const char *const *headers);
/* o as compact JSON; takes o's reference (NULL: 500 "out of memory"). */
enum MHD_Result tt_web_reply_json(struct MHD_Connection *c, unsigned status, json_t *o);
/* {"error": text} */
enum MHD_Result tt_web_reply_error(struct MHD_Connection *c, unsigned status, const char *text);
/* The compiled-in asset at path, or 404. */
enum MHD_Result tt_web_serve_asset(tt_web_t *w, struct MHD_Connection *c, const char *path);

/* A server-sent event stream. next(src, wait_ms) waits up to wait_ms and
 * returns a malloc'd chunk of text/event-stream (the stream frees it), ""
 * (malloc'd) when nothing happened (a keep-alive comment goes out), or
 * NULL to end the stream. free_src(src) runs when the stream ends; src is
 * freed also when the stream is refused (too many: 503). */
typedef char *(*tt_web_next_fn)(void *src, int wait_ms);
enum MHD_Result tt_web_stream(tt_web_t *w, struct MHD_Connection *c, tt_web_next_fn next, void *src,
                              void (*free_src)(void *src));

/* 1 when the two NUL-terminated tokens are equal, in constant time for
 * equal lengths (empty tokens are never equal). */
int tt_web_token_equal(const char *a, const char *b);

/* The HTTP status that answers a coordinator's refusal (tt_client_write's
 * code): 403 for a key or role refused, 409 for a request the rules
 * refuse, 502 for anything else (no answer, a broken reply). */
unsigned tt_web_status_for(int rc);

/* ---- for what feeds event streams (tt_web_board, the dashboard's hub) ---- */

/* A growing text, e.g. an event-stream chunk. A failed allocation marks it
 * failed and later adds do nothing. Start zeroed. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} tt_web_text_t;
void tt_web_text_add(tt_web_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text, malloc'd (the caller frees; "" when nothing was added), or
 * NULL after a failed allocation; t is left empty either way. */
char *tt_web_text_take(tt_web_text_t *t);

/* A condition variable that times its waits on CLOCK_MONOTONIC (a wall
 * clock step cannot stretch or cut them); 0 or an errno value. */
int tt_web_cond_init(pthread_cond_t *c);
/* The CLOCK_MONOTONIC instant wait_ms from now, for pthread_cond_timedwait. */
void tt_web_deadline(int wait_ms, struct timespec *until);

/* ---- the command line, the same for every program ---- */

/* Writes "PORT\n" to path (atomically), for a test or a script to read
 * the port the server got. 0 or TT_ERR_* with why. */
int tt_web_port_file(const char *path, unsigned port, char *why);
/* "HOST:PORT" (IPv4, port 0..65535) into host (cap bytes) and *port. 0 or -1. */
int tt_web_parse_listen(const char *spec, char *host, size_t cap, unsigned *port);
/* 1 for a 127.x.y.z address. */
int tt_web_is_loopback(const char *host);
/* The first line of path, at least TT_WEB_PASSWORD_MIN bytes: a malloc'd
 * string into *out (free with tt_web_password_free). 0 or TT_ERR_* with why. */
int tt_web_password_read(const char *path, char **out, char *why);
/* Wipes and frees it; safe on NULL. */
void tt_web_password_free(char **pw);

#endif
