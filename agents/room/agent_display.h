/* agent_display: the room's display, served by its agent (--http).
 *
 * A page for the room (a screen by the conductor, a tablet on a stand):
 * cue, take, count-in, a big bar|beat, timecode, the next tempo or meter
 * change, streamers and punches, the visual click, and the room's open
 * score changes with an Acknowledge button. The page draws from this
 * agent's clock, not the coordinator's, so it runs on through a
 * coordinator outage and says so.
 *
 * Shape: the shared web server (tt_web: loopback unless a password, login,
 * CSRF, Host rule) serves the compiled-in page (agents/room/web/), the
 * documents of agent_view on a tt_web_board (GET /api/state whole, GET
 * /events as server-sent events when one changes), GET /api/ping (this
 * agent's local clock now, for the page's clock mapping) and POST /api/ack
 * (the room's ack of a change: the request `tutti ack` sends, with the
 * room's key, on a connection of the HTTP thread's own, so the main loop,
 * the clock thread and the audio path never wait for it).
 *
 * Threads: start, stop and the main-thread calls (agent_display_roll,
 * agent_display_update) from the agent's main thread; the routes run on
 * libmicrohttpd's threads and share only the board.
 */
#ifndef AGENT_DISPLAY_H
#define AGENT_DISPLAY_H

#include <stdint.h>

#include "tt_clock_client.h"
#include "tt_clock_map.h"
#include "tt_keys.h"
#include "tt_session.h"

typedef struct {
    const char *host;     /* IPv4 address to bind */
    unsigned port;        /* 0: any free port */
    const char *password; /* NULL: no login, loopback only */
    const char *room;
    const tt_clock_client_t *clock; /* the local clock pings read */
    /* The coordinator, for acks: all borrowed for the display's life. */
    void *zmq_ctx;
    const char *endpoint;
    const char *server_key_z85;
    const tt_keypair_t *keys;
    const char *relay_endpoint; /* NULL, or the site relay acks pass (tt_client_via_relay) */
    const char *relay_key_z85;
} agent_display_config_t;

typedef struct agent_display agent_display_t;

/* Starts serving; NULL with the reason in why. cfg's pointers are borrowed
 * and must outlive the display. */
agent_display_t *agent_display_start(const agent_display_config_t *cfg, char *why);
unsigned agent_display_port(const agent_display_t *d);
/* Ends the page's streams and stops the server. Safe on NULL. */
void agent_display_stop(agent_display_t **self_p);

/* Main thread: a roll record has just folded into st (its cue's map is the
 * one rolled), or the agent starts with a roll under way. */
void agent_display_roll(agent_display_t *d, const tt_session_t *st);

typedef struct {
    const tt_session_t *session;
    int coordinator_online;
    tt_clock_map_t clock; /* the clock box's latest */
    double bound_us;      /* the clock's error bound, < 0: unbounded */
    int64_t local_now;    /* this agent's local clock now */
    int64_t unix_now_ns;  /* wall clock now, to say since when the coordinator is away */
} agent_display_in_t;

/* Main thread, after every turn of the loop: sends the page what changed
 * (the room when the log or the coordinator's reachability moved, the
 * clock when its line moved, the roll when it stopped or its window runs
 * short). Returns the ms within which it wants to be called again. */
int agent_display_update(agent_display_t *d, const agent_display_in_t *in);

#endif
