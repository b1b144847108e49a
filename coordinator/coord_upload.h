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
 * The main thread's half lives here too as pure helpers (the media index
 * and the offer rules), so coord_server only wires them in.
 */
#ifndef COORD_UPLOAD_H
#define COORD_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "tt_access.h"
#include "tt_keys.h"
#include "tt_session.h"
#include "tutti.pb-c.h"

#define COORD_UPLOAD_CHUNK (256 * 1024)  /* largest chunk taken */
#define COORD_UPLOAD_CREDIT 8            /* chunks in flight per upload */
#define COORD_UPLOAD_FETCH_MAX (1 << 20) /* largest MediaData answer */
#define COORD_UPLOAD_MAX_OPEN 64         /* uploads open at once (one per connection) */
#define COORD_UPLOAD_HANDLES_S 60        /* seconds of handles a take's file may carry */
/* Bound for a take interrupted across a host reboot (its length is unknown):
 * the room's capture cap. */
#define COORD_UPLOAD_UNKNOWN_TAKE_S 1800
#define COORD_UPLOAD_HEADER_SLACK (1 << 20)
#define COORD_UPLOAD_MAX_INPUT 32
#define COORD_UPLOAD_MAX_FILE 192 /* CUE_tTAKE_ROOM_INPUT.wav fits easily */

typedef struct coord_upload coord_upload_t;

typedef struct {
    void *ctx;                /* the coordinator's context: ZAP already bound in it */
    const tt_keypair_t *keys; /* borrowed for the call */
    const char *endpoint;     /* bind, e.g. tcp://127.0.0.1:* */
    const char *data_dir;     /* files go to DATA/media, created 0700 */
} coord_upload_config_t;

/* Creates DATA/media, binds, starts the thread. NULL with a reason in why. */
coord_upload_t *coord_upload_start(const coord_upload_config_t *cfg, char *why);

/* Port the upload service listens on (0 for NULL). */
unsigned coord_upload_port(const coord_upload_t *u);

/* Main thread's end of the pipe (borrowed): poll it for ZMQ_POLLIN, read
 * with tt_wire_recv(pipe, 0, ZMQ_DONTWAIT, ...), answer each request with
 * tt_wire_send(pipe, NULL, 0, reply) carrying its request_id. NULL for NULL. */
void *coord_upload_pipe(coord_upload_t *u);

/* Stops the thread (an upload in flight resumes from its acked offset
 * later), closes its sockets. Safe on NULL. */
void coord_upload_stop(coord_upload_t **self_p);

/* ------------------------------------------------------------------
 * Main thread: the media index, folded from the log beside the session
 * state (media records by cue, take, room and input). */

typedef struct {
    uint64_t seq;
    char cue[TT_CUE_MAX_NAME + 1];
    uint32_t take;
    char room[TT_ACCESS_MAX_NAME + 1];
    char input[COORD_UPLOAD_MAX_INPUT + 1];
    char file[COORD_UPLOAD_MAX_FILE + 1];
    uint64_t size;
    uint8_t hash[32];
    uint32_t rate;
    uint64_t time_reference;
    int32_t punch_in_bar, punch_out_bar;
} coord_media_entry_t;

typedef struct {
    coord_media_entry_t *items; /* owned */
    size_t n, cap;
} coord_media_index_t;

/* Frees the entries; the index is empty (and reusable) afterwards. */
void coord_media_index_clear(coord_media_index_t *ix);

/* Folds one record in: media records are added, others ignored.
 * 0, or TT_ERR_NOMEM. */
int coord_media_index_note(coord_media_index_t *ix, const Tutti__Record *rec);

/* Borrowed pointer (valid until the next note or clear), or NULL. */
const coord_media_entry_t *coord_media_index_find(const coord_media_index_t *ix, const char *cue,
                                                  uint32_t take, const char *room,
                                                  const char *input);

/* Fills m (whose strings then point into e) from an entry. */
void coord_media_entry_to_record(const coord_media_entry_t *e, Tutti__Media *m);

/* "CUE_tTAKE_ROOM_INPUT.wav" into out (a leading '.' becomes '_': never a
 * hidden file); TT_ERR_INVALID when a part holds anything but [A-Za-z0-9._-]
 * or it does not fit. */
int coord_upload_file_name(const char *cue, uint32_t take, const char *room, const char *input,
                           char *out, size_t len);

/* The rules an offered (or finished) media record must pass, against the
 * folded state and index: cue and take exist and the take is closed; room
 * is `room_name`; size > 44 and <= (take length + 60 s of handles) * rate *
 * 3 bytes * channels + 1 MiB; rate 8000..192000; input [A-Za-z0-9._-]{1,32};
 * hash 32 bytes. A record already in the index for the same cue, take,
 * room and input is refused unless its hash and size are the same: then
 * *existing is that entry (else NULL) and the answer is 0. The file name
 * must not belong to another record. 0 or TT_ERR_INVALID / TT_ERR_NOTFOUND
 * with why. */
int coord_upload_check_media(const tt_session_t *st, const coord_media_index_t *ix,
                             const Tutti__Media *m, const char *room_name, int channels,
                             const coord_media_entry_t **existing, char *why);

#endif
