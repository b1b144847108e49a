/* coord_upload: rooms' recorded files in, verified; and out again on request.
 *
 * The ZeroMQ guide's credit-based file transfer ("fileio3"), on its own
 * ROUTER socket and thread so a bulk transfer never queues in front of a
 * request or a clock ping. A room offers a file (UploadOffer: the media
 * record it will become); the coordinator answers with the offset it
 * already holds durably (resume), a chunk size and a credit of chunks.
 * Every chunk is written, fsynced, and its end recorded in a small sidecar
 * (NAME.part.ack, fsynced too) before the room gets one more credit, so an
 * acknowledged byte survives a crash of either side (chunks that arrive
 * together share one sync: group commit). When the last byte is
 * in, the whole file is hashed (BLAKE2b-256) and compared with the offer;
 * only a match is renamed into place and becomes a media record in the log.
 *
 * The thread never touches the store or the session state: it asks the
 * main thread over an inproc PAIR (coord_upload_pipe), one request at a
 * time, and waits for the answer:
 *   UploadCheck{user_id, media | fetch} -> UploadCheckReply or Error
 *   Media (the complete record)         -> WriteReply{seq} after the commit, or Error
 * Files live in DATA/media (0700), named CUE_tTAKE_ROOM_INPUT.wav from the
 * checked fields only: no path from the wire is ever used. Every size from
 * the wire is bounded (chunk <= 256 KiB, fetch <= 1 MiB, at most 64 open
 * uploads; an offer's size is bounded by the main thread's rule).
 *
 * Unfinished uploads wait in DATA/media/partial/ROOM/ (NAME.part and its
 * NAME.part.ack), so a room's share is known exactly: a room may hold at
 * most limits.max_parts of them and limits.max_bytes (each counted at its
 * offered size), and one untouched for limits.expire_s is removed (at
 * start and every so often), so a room key cannot fill the disk with
 * uploads it never finishes. An offer past a bound is refused with
 * TT_ERR_UNAVAILABLE, saying which.
 *
 * The thread keeps a copy of the access table (coord_upload_set_access
 * after each reload): a message from a key no longer in it is refused and
 * the peer's upload closed, and a chunk goes on only while its key is
 * still the room the upload is for.
 *
 * The main thread's half is the session's: the media index folds with
 * the rest of the state and the offer rules are tt_media_check_offer
 * (tt_media.h), so coord_server only asks them.
 */
#ifndef COORD_UPLOAD_H
#define COORD_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "tt_access.h"
#include "tt_keys.h"
#include "tt_media.h"
#include "tt_session.h"
#include "tutti.pb-c.h"

#define COORD_UPLOAD_CHUNK (256 * 1024)  /* largest chunk taken */
#define COORD_UPLOAD_CREDIT 8            /* chunks in flight per upload */
#define COORD_UPLOAD_FETCH_MAX (1 << 20) /* largest MediaData answer */
#define COORD_UPLOAD_MAX_OPEN 64         /* uploads open at once (one per connection) */

#define COORD_UPLOAD_ROOM_PARTS 8                                /* default limits.max_parts */
#define COORD_UPLOAD_ROOM_PART_BYTES (4ULL * 1024 * 1024 * 1024) /* default limits.max_bytes */
#define COORD_UPLOAD_PART_EXPIRE_S 3600                          /* default limits.expire_s */

typedef struct coord_upload coord_upload_t;

/* A room's unfinished uploads; 0 in a field means its default above. */
typedef struct {
    unsigned max_parts;
    uint64_t max_bytes;
    int64_t expire_s; /* untouched (file mtime) this long: removed */
} coord_upload_limits_t;

typedef struct {
    void *ctx;                 /* the coordinator's context: ZAP already bound in it */
    const tt_keypair_t *keys;  /* borrowed for the call */
    const char *endpoint;      /* bind, e.g. tcp://127.0.0.1:* */
    const char *data_dir;      /* files go to DATA/media, created 0700 */
    const tt_access_t *access; /* copied for the thread */
    coord_upload_limits_t limits;
} coord_upload_config_t;

/* Creates DATA/media, binds, starts the thread. NULL with a reason in why. */
coord_upload_t *coord_upload_start(const coord_upload_config_t *cfg, char *why);

/* Hands the thread a copy of access (after a reload). 0, or an error with
 * why when the pipe refused it. */
int coord_upload_set_access(coord_upload_t *u, const tt_access_t *access, char *why);

/* Port the upload service listens on (0 for NULL). */
unsigned coord_upload_port(const coord_upload_t *u);

/* Main thread's end of the pipe (borrowed): poll it for ZMQ_POLLIN, read
 * with tt_wire_recv(pipe, 0, ZMQ_DONTWAIT, ...), answer each request with
 * tt_wire_send(pipe, NULL, 0, reply) carrying its request_id. NULL for NULL. */
void *coord_upload_pipe(coord_upload_t *u);

/* Stops the thread (an upload in flight resumes from its acked offset
 * later), closes its sockets. Safe on NULL. */
void coord_upload_stop(coord_upload_t **self_p);

#endif
