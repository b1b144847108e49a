/* dash_http: the dashboard's routes on the shared web server (tt_web:
 * libmicrohttpd, a thread per browser connection).
 *
 * Serves the compiled-in page, the state as JSON and as server-sent events
 * (from dash_hub), the report CSV (a download, "SESSION-report.csv"), and
 * the contractor's actions: each POST becomes requests to the coordinator
 * on a connection of its own, so a slow coordinator never blocks the main
 * loop or another browser. One request each, but the wrap: it checks out
 * everyone the state lists as checked in (a presence record per room),
 * then wraps the call, and is refused before any of it unless a call
 * runs.
 *
 * Access (tt_web): with a password (required when bound beyond loopback)
 * every route but the login page wants a session cookie from POST /login;
 * every POST carries the session's CSRF token in X-CSRF-Token, password or
 * not. A read-only dashboard refuses every POST with 403. Limits
 * (tt_web_guard, tt_web.c): the Host header must name loopback when there
 * is no password; wrong passwords are throttled per client address (429);
 * idle connections close after idle_timeout_s; at most 32 live event
 * streams (more get 503), 256 connections, 64 from one address.
 */
#ifndef DASH_HTTP_H
#define DASH_HTTP_H

#include "dash_hub.h"
#include "tt_keys.h"
#include "tt_rules.h"
#include "tt_web.h"

typedef struct {
    const char *host;     /* IPv4 address to bind, e.g. "127.0.0.1" */
    unsigned port;        /* 0: any free port */
    const char *password; /* NULL: no login (loopback only) */
    int read_only;
    /* The coordinator, for actions: all borrowed for the server's life. */
    void *zmq_ctx;
    const char *endpoint;
    const char *server_key_z85;
    const tt_keypair_t *keys;
    const char *relay_endpoint; /* NULL, or the site relay every action passes */
    const char *relay_key_z85;
    const tt_rules_t *const *presets;
    size_t n_presets;
    const char *name; /* the dashboard key's access-file name */
    /* A connection silent this long is closed, so idle sockets cannot hold
     * the server's connections; 0: DASH_IDLE_TIMEOUT_S. */
    unsigned idle_timeout_s;
} dash_http_config_t;

#define DASH_IDLE_TIMEOUT_S TT_WEB_IDLE_TIMEOUT_S

typedef struct dash_http dash_http_t;

/* Starts serving; NULL with a reason in why. cfg and hub are borrowed and
 * must outlive the server. */
dash_http_t *dash_http_start(const dash_http_config_t *cfg, dash_hub_t *hub, char *why);
unsigned dash_http_port(const dash_http_t *h);
/* Ends every stream (through the hub) and stops the server. Safe on NULL. */
void dash_http_stop(dash_http_t **self_p);

#endif
