/* agent_upload: a room's captured takes to the coordinator, verified, later.
 *
 * Its own thread and its own CURVE DEALER to the coordinator's upload
 * service (the same keys as the agent), so a transfer never delays the
 * clock or the replica. Every second (and on a nudge) it scans the capture
 * directory for manifests NAME.wav.json whose state is "recorded" (written
 * by agent_capture beside each NAME.wav) and uploads them one at a time,
 * the ZeroMQ guide's credit-based transfer: offer (the media record from
 * the manifest), send chunks from the offset the coordinator accepts while
 * credit lasts, paced by a token bucket when a rate cap is set.
 *
 * Nothing is re-checked here: the coordinator checks the record and the
 * hash. Its verdict is written back into the manifest (temp file + fsync +
 * rename): "confirmed" with the record's "seq", or "refused" with the
 * "reason" (the file is kept; a person decides). A timeout or a lost
 * connection is retried with backoff (0.5 s doubling to 5 s) by offering
 * again, which resumes from what the coordinator holds durably. The local
 * file is never deleted or modified.
 *
 * One-file mode (`tutti media put`): given a file and the media record it
 * becomes (a prelay or guide), the thread offers just that file, with the
 * same resume, retry and pacing, writes no manifest, and reports the
 * verdict as an event (CONFIRMED or REFUSED), PROGRESS about twice a second.
 *
 * Threads share nothing mutable: the thread is a tt_actor, and the owner
 * talks to it over the actor's pipe (the port, a nudge, the stop) and
 * reads its events from the same pipe.
 */
#ifndef AGENT_UPLOAD_H
#define AGENT_UPLOAD_H

#include <stdint.h>

#include "tt_keys.h"
#include "tutti.pb-c.h"

typedef struct {
    void *ctx;
    const char *endpoint;       /* any tcp://HOST:PORT of the coordinator (the request
                                   endpoint will do): the host is used with upload_port */
    unsigned upload_port;       /* 0: not known yet, wait for agent_upload_set_port */
    const char *server_key_z85; /* the coordinator's public key */
    const tt_keypair_t *keys;   /* borrowed for the call (the thread keeps a copy) */
    const char *capture_dir;    /* where NAME.wav + NAME.wav.json are (NULL with file) */
    const char *file;           /* one-file mode: this file ... */
    const Tutti__Media *media;  /* ... as this record (copied); NULL: scan capture_dir */
    const char *room;           /* for log lines only: the coordinator decides who we are */
    uint64_t rate_bytes_per_s;  /* 0: no cap */
    int scan_interval_ms;       /* 0: 1000 */
    int reply_timeout_ms;       /* 0: 10000; silence this long while waiting is a failure */
} agent_upload_config_t;

typedef enum {
    AGENT_UPLOAD_SCANNED,   /* a scan finished: `pending` manifests are "recorded" */
    AGENT_UPLOAD_STARTED,   /* offered `name`; the coordinator holds `offset` of `size` */
    AGENT_UPLOAD_CONFIRMED, /* `name` arrived and verified as record `seq` */
    AGENT_UPLOAD_REFUSED,   /* `name` refused: `reason` */
    AGENT_UPLOAD_RETRY,     /* `name` interrupted (`reason`); trying again */
    AGENT_UPLOAD_PROGRESS   /* `name`: the coordinator holds `offset` of `size` */
} agent_upload_event_kind_t;

typedef struct {
    agent_upload_event_kind_t kind;
    char name[256]; /* the WAV file name in the capture dir */
    uint64_t seq;
    uint64_t offset, size;
    unsigned pending;
    char reason[512];
    int code; /* REFUSED: the coordinator's error code (TT_ERR_*), 0 for our own reasons */
} agent_upload_event_t;

typedef struct agent_upload agent_upload_t;

/* Starts the thread. NULL with a reason in why. */
agent_upload_t *agent_upload_start(const agent_upload_config_t *cfg, char *why);

/* Stops the thread (an upload in flight resumes on the next start) and
 * frees everything. Safe on NULL. */
void agent_upload_stop(agent_upload_t **self_p);

/* Owner thread: the coordinator's upload port (new after its restart: take
 * it from each hello reply). Reconnects when it changed; 0 pauses. Cheap
 * when unchanged: call it every loop turn. */
void agent_upload_set_port(agent_upload_t *u, unsigned port);
/* agent_upload_set_port with the endpoint (any tcp://HOST:PORT) and CURVE
 * key of the coordinator that gave it: after a failover to another host,
 * uploads go there. NULL or "" keeps the host (and the key). */
void agent_upload_set_coordinator(agent_upload_t *u, const char *endpoint, const char *server_key,
                                  unsigned port);

/* Owner thread: scan now (a take was just written). */
void agent_upload_nudge(agent_upload_t *u);

/* Owner thread: socket to poll for ZMQ_POLLIN, then agent_upload_read.
 * The thread logs every start, retry, confirmation and refusal itself
 * (tt_diag); events are for programs that act on them. Read them anyway:
 * unread events pile up in the pipe (up to its high-water mark, then
 * newer ones are dropped). */
void *agent_upload_socket(agent_upload_t *u);

/* Owner thread: the next event without blocking; 1 if one was read. */
int agent_upload_read(agent_upload_t *u, agent_upload_event_t *ev);

#endif
