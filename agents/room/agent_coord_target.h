/* agent_coord_target: where the coordinator's upload service is, as the
 * upload and prelay actors follow it: the owner thread hands over the port
 * and the endpoint whose host serves it (with that coordinator's key, a
 * standby serving with its own), the actor thread applies them. Shared by
 * agent_upload and agent_prelay, which both talk to that service; small
 * enough to live here whole (static inline), so each keeps its own build. */
#ifndef AGENT_COORD_TARGET_H
#define AGENT_COORD_TARGET_H

#include "tt_actor.h"
#include "tt_keys.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define AGENT_COORD_CMD "PORT"
#define AGENT_COORD_ENDPOINT_LEN 256

/* AGENT_COORD_CMD's payload: "" endpoint keeps the host, "" key keeps the key. */
typedef struct {
    unsigned port;
    char endpoint[AGENT_COORD_ENDPOINT_LEN];
    char server_key[TT_Z85_KEY_LEN + 1];
} agent_coord_msg_t;

/* The actor thread's view. */
typedef struct {
    unsigned port;
    char endpoint[AGENT_COORD_ENDPOINT_LEN];
    char server_key[TT_Z85_KEY_LEN + 1];
} agent_coord_target_t;

/* The owner thread's memory of what it last handed over. */
typedef struct {
    unsigned port;
    char endpoint[AGENT_COORD_ENDPOINT_LEN]; /* "": the configured one */
} agent_coord_sent_t;

/* Owner thread: hands port, endpoint and key to the actor on pipe unless
 * they are what was last handed over (cheap to call every loop turn).
 * Remembered only once sent: a full pipe is tried again next turn. */
static inline void agent_coord_send(void *pipe, agent_coord_sent_t *sent, const char *endpoint,
                                    const char *server_key, unsigned port)
{
    if (!endpoint || strlen(endpoint) >= sizeof sent->endpoint)
        endpoint = "";
    if (port == sent->port && !strcmp(endpoint, sent->endpoint))
        return;
    agent_coord_msg_t msg = {.port = port};
    snprintf(msg.endpoint, sizeof msg.endpoint, "%s", endpoint);
    snprintf(msg.server_key, sizeof msg.server_key, "%s", server_key ? server_key : "");
    if (tt_actor_send(pipe, ZMQ_DONTWAIT, AGENT_COORD_CMD, &msg, sizeof msg, NULL) == 0) {
        sent->port = port;
        snprintf(sent->endpoint, sizeof sent->endpoint, "%s", endpoint);
    }
}

/* Actor thread: applies a handed-over payload (data: an agent_coord_msg_t,
 * as the actor's command table sized it) to t. 0 when nothing changed,
 * else 1: the port moved, or the host did (a failover: another
 * coordinator's host, and its key when the payload names a valid one). */
static inline int agent_coord_apply(agent_coord_target_t *t, const void *data)
{
    agent_coord_msg_t msg;
    memcpy(&msg, data, sizeof msg);
    msg.endpoint[sizeof msg.endpoint - 1] = '\0';
    msg.server_key[TT_Z85_KEY_LEN] = '\0';
    int moved = msg.endpoint[0] && strcmp(msg.endpoint, t->endpoint) != 0;
    if (msg.port == t->port && !moved)
        return 0;
    if (moved) {
        snprintf(t->endpoint, sizeof t->endpoint, "%s", msg.endpoint);
        if (tt_z85_key_valid(msg.server_key)) /* a standby serves with its own key */
            snprintf(t->server_key, sizeof t->server_key, "%s", msg.server_key);
    }
    t->port = msg.port;
    return 1;
}

#endif
