/* agent_prelay: the room's prelays and guide tracks, fetched ahead of the take.
 *
 * An operator puts a prelay or guide (`tutti media put`): a Media record of
 * kind PRELAY or GUIDE naming the rooms that must hold it (none: every
 * room). For each one naming this room the owner calls agent_prelay_want;
 * the thread fetches the file from the coordinator's upload service
 * (MediaFetch by record seq, 1 MiB pieces, `pieces` in flight: 2 by
 * default, so the link does not idle a round trip between pieces) into
 * DIR/NAME.wav.part, resuming from the .part's length after any restart,
 * and hashes the whole .part (BLAKE2b-256, as the bytes are written; what a
 * restart left is read back once when it resumes): only a match with the
 * signed record is fsynced and renamed to DIR/NAME.wav; a
 * mismatch (a damaged or tampered .part) is removed and fetched again from
 * byte 0. A lost connection or an unreachable coordinator is retried with
 * backoff (0.5 s doubling to 5 s); a refusal (the record is not for this
 * room) drops the want.
 *
 * The store, for playback to read: DIR/NAME.wav (verified files only) and
 * DIR/index.json, rewritten atomically after each file verifies:
 *   {"held": [{"seq": 12, "file": "1M1_prelay_click.wav", "cue": "1M1",
 *              "kind": "prelay", "hash": "<64 hex>", "size": N, "rate": R,
 *              "channels": C, "frames": F, "at_bar": B, "at_frame": T,
 *              "at_fps": "24", "time_reference": S}, ...]}
 * A file listed there with its size on disk is trusted at start (not hashed
 * again); anything else under a wanted name is hashed before it counts.
 *
 * Its own thread and socket (a tt_actor), never the clock's or the log's;
 * --prelay-rate caps its bytes/s. The owner reads HELD events (a seq now
 * held verified) and reports the list in its heartbeats.
 */
#ifndef AGENT_PRELAY_H
#define AGENT_PRELAY_H

#include <stdint.h>

#include "tt_keys.h"
#include "tt_media.h"

typedef struct {
    void *ctx;
    const char *endpoint;       /* tcp://HOST:PORT of the coordinator (its host is used) */
    const char *server_key_z85; /* the coordinator's public key */
    const tt_keypair_t *keys;   /* borrowed for the call (the thread keeps a copy) */
    const char *dir;            /* DATA/media: created 0700 */
    uint64_t rate_bytes_per_s;  /* 0: no cap */
    int reply_timeout_ms;       /* 0: 10000 */
    int pieces; /* MediaFetch requests in flight, 1..AGENT_PRELAY_MAX_PIECES; 0: 2 */
} agent_prelay_config_t;

#define AGENT_PRELAY_PIECES 2 /* the default */
/* At most: the coordinator's pipe to a peer holds 4 replies and it refuses
 * a reader more once its outbox holds more than 64 KiB (tutti.proto,
 * "Pipelining fetches"); 3 in flight never get there. */
#define AGENT_PRELAY_MAX_PIECES 3

typedef struct agent_prelay agent_prelay_t;

/* Creates the directory and starts the thread. NULL with a reason in why. */
agent_prelay_t *agent_prelay_start(const agent_prelay_config_t *cfg, char *why);

/* Stops the thread (a fetch in flight resumes next start). Safe on NULL. */
void agent_prelay_stop(agent_prelay_t **self_p);

/* Owner: the coordinator's upload port (from each hello; 0 pauses). */
void agent_prelay_set_port(agent_prelay_t *p, unsigned port);
/* agent_prelay_set_port with the endpoint and CURVE key of the coordinator
 * that gave it (after a failover, fetches go to its host); NULL or "" keeps
 * the host (and the key). */
void agent_prelay_set_coordinator(agent_prelay_t *p, const char *endpoint, const char *server_key,
                                  unsigned port);

/* Owner: hold the file of this prelay/guide entry (copied). A want already
 * given is ignored. */
void agent_prelay_want(agent_prelay_t *p, const tt_media_entry_t *e);

/* Owner: socket to poll for ZMQ_POLLIN, then agent_prelay_read. */
void *agent_prelay_socket(agent_prelay_t *p);

/* Owner: the next record seq whose file is now held verified, without
 * blocking; 1 if one was read. */
int agent_prelay_read(agent_prelay_t *p, uint64_t *seq);

#endif
