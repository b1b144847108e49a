/* coord_upload: credit-based file transfer on its own thread. See coord_upload.h.
 *
 * One loop: poll the ROUTER and the actor's pipe, handle up to MSGS_PER_WAKE
 * messages. An offer or a fetch asks the main thread first (and waits for
 * it: the main loop answers checks at once and media records right after
 * their commit). Chunks are written as they come and synced as a group
 * (the chunks that arrived together: one fdatasync of the data, then the
 * .ack sidecar and its fdatasync) before any of them is credited, so
 * "acked" is always what survives a power cut, and a slow disk costs one
 * sync per burst rather than one per chunk.
 */
#define _GNU_SOURCE
#include "coord_upload.h"
#include "coord_outbox.h"
#include "coord_upload_internal.h"
#include "tt_actor.h"
#include "tt_bwf.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_listen.h"
#include "tt_text.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define MSGS_PER_WAKE 64
#define PIPE_TIMEOUT_MS 10000
#define IDLE_EVICT_NS (30LL * 1000000000LL) /* an open upload this quiet may be evicted */
#define ACK_MAGIC "TTACK001"
#define ACK_LEN COORD_UPLOAD_ACK_LEN /* magic, offset, size, hash, BLAKE2b of the rest */
#define HASH_LEN 32
#define MAX_PENDING 64        /* chunks written but not yet synced and answered, per upload */
#define PARTIAL_DIR "partial" /* DATA/media/partial/ROOM/NAME.part */
#define PART_PATH_MAX (sizeof PARTIAL_DIR + TT_ACCESS_MAX_NAME + TT_MEDIA_MAX_FILE + 16)
#define SWEEP_MAX_S 60 /* expired partial files go at least this often */

typedef struct {
    uint64_t request_id;
    uint64_t end; /* offset after the chunk */
} pending_t;

typedef struct {
    int used;
    uint8_t rid[TT_WIRE_MAX_ROUTING_ID];
    size_t rid_len;
    tt_media_entry_t rec; /* the offer as checked; rec.file is the final name */
    uint64_t acked;       /* bytes durable in NAME.part (and in the .ack) */
    uint64_t written;     /* bytes written; the rest of the way to acked is unsynced */
    pending_t pending[MAX_PENDING];
    int n_pending;
    int part_fd, ack_fd;
    int64_t last_ns;
} slot_t;

struct coord_upload {
    void *router;
    coord_outbox_t *outbox; /* the router's replies that wait for a full pipe */
    tt_listen_t *listen;    /* the router's endpoint; the thread's while it runs */
    tt_access_t *access;    /* the thread's copy of the access table */
    coord_upload_limits_t limits;
    int64_t next_sweep_ns;
    tt_actor_t *actor;
    void *control;            /* the thread's end of the actor's pipe ("$TERM"), while it runs */
    void *pipe, *thread_pipe; /* requests to the main thread, as envelopes (coord_upload_pipe) */
    unsigned port;
    char dir[PATH_MAX];
    int dir_fd;
    int stopping;
    uint64_t pipe_ids;
    uint8_t *buf; /* COORD_UPLOAD_FETCH_MAX bytes: hashing and fetches */
    slot_t slots[COORD_UPLOAD_MAX_OPEN];
};

/* ------------------------------------------------------------ the .ack sidecar */

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void coord_upload_ack_encode(uint8_t b[ACK_LEN], uint64_t acked, uint64_t size,
                             const uint8_t hash[HASH_LEN])
{
    memcpy(b, ACK_MAGIC, 8);
    put64(b + 8, acked);
    put64(b + 16, size);
    memcpy(b + 24, hash, HASH_LEN);
    crypto_generichash(b + 56, HASH_LEN, b, 56, NULL, 0);
}

int coord_upload_ack_decode(const uint8_t *b, size_t len, uint64_t size,
                            const uint8_t hash[HASH_LEN], uint64_t part_size, uint64_t *acked)
{
    uint8_t chk[HASH_LEN];
    *acked = 0;
    if (len != ACK_LEN || memcmp(b, ACK_MAGIC, 8) != 0)
        return TT_ERR_CORRUPT;
    crypto_generichash(chk, HASH_LEN, b, 56, NULL, 0);
    if (sodium_memcmp(chk, b + 56, HASH_LEN) != 0) /* torn write: start over */
        return TT_ERR_CORRUPT;
    uint64_t off = get64(b + 8);
    if (get64(b + 16) != size || memcmp(b + 24, hash, HASH_LEN) != 0)
        return TT_ERR_INVALID; /* the room offers another file under this name now */
    if (off > size || off > part_size)
        return TT_ERR_INVALID;
    *acked = off;
    return 0;
}

uint64_t coord_upload_ack_size(const uint8_t *b, size_t len)
{
    uint8_t chk[HASH_LEN];
    if (len != ACK_LEN || memcmp(b, ACK_MAGIC, 8) != 0)
        return 0;
    crypto_generichash(chk, HASH_LEN, b, 56, NULL, 0);
    return sodium_memcmp(chk, b + 56, HASH_LEN) == 0 ? get64(b + 16) : 0;
}

static int ack_write(slot_t *s)
{
    uint8_t b[ACK_LEN];
    coord_upload_ack_encode(b, s->acked, s->rec.size, s->rec.hash);
    if (pwrite(s->ack_fd, b, ACK_LEN, 0) != ACK_LEN || fdatasync(s->ack_fd) != 0)
        return TT_ERR_IO;
    return 0;
}

/* The durable offset the sidecar holds for this offer, or 0. */
static uint64_t ack_read(const slot_t *s, uint64_t part_size)
{
    uint8_t b[ACK_LEN];
    uint64_t off;
    ssize_t n = pread(s->ack_fd, b, ACK_LEN, 0);
    coord_upload_ack_decode(b, n > 0 ? (size_t)n : 0, s->rec.size, s->rec.hash, part_size, &off);
    return off;
}

/* ------------------------------------------------------------ helpers */

/* Replies go through the outbox: a peer that does not read holds a few
 * MiB at most (coord_outbox.h). */
static void reply_error(coord_upload_t *u, const tt_wire_msg_t *m, int code, const char *text)
{
    if (coord_outbox_send_error(u->outbox, m->routing_id, m->routing_id_len, m->request_id, code,
                                text) != 0)
        tt_diag_warn("upload error reply lost");
}

static void reply(coord_upload_t *u, const tt_wire_msg_t *m, Tutti__Envelope *env)
{
    char why[TT_WHY_LEN];
    env->request_id = m->request_id;
    if (coord_outbox_send(u->outbox, m->routing_id, m->routing_id_len, env, why) != 0)
        tt_diag_warn("upload reply lost: %s", why);
}

static void reply_done(coord_upload_t *u, const tt_wire_msg_t *m, uint64_t seq)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__UploadDone d = TUTTI__UPLOAD_DONE__INIT;
    d.seq = seq;
    env.body_case = TUTTI__ENVELOPE__BODY_UPLOAD_DONE;
    env.upload_done = &d;
    reply(u, m, &env);
}

/* "ACCESS": the access table after a reload, as its entries' bytes. */
static void on_access(void *self, const void *data, size_t len)
{
    coord_upload_t *u = self;
    char why[TT_WHY_LEN];
    tt_access_t *fresh = tt_access_from_bytes(data, len, why);
    if (!fresh) {
        tt_diag_error("upload service: keeping the old access table: %s", why);
        return;
    }
    tt_access_destroy(&u->access);
    u->access = fresh;
}

static const tt_actor_cmd_t commands[] = {
    {"ACCESS", TT_ACTOR_ANY_LEN, on_access},
    {NULL, 0, NULL},
};

/* Runs the owner's commands; 1 when one asked us to stop ("$TERM"), and
 * then u->stopping is set too. */
static int stop_asked(coord_upload_t *u)
{
    for (;;) {
        tt_actor_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_actor_recv(u->control, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_PROTOCOL)
            continue; /* malformed: dropped whole */
        if (rc != 0)
            break;
        if (tt_actor_is_stop(m.cmd))
            u->stopping = 1;
        else if (tt_actor_dispatch(commands, u, &m, why) != 0)
            tt_diag_error("upload service: %s", why);
        tt_actor_msg_clear(&m);
    }
    return u->stopping;
}

/* Sends env to the main thread and waits for the answer with the same
 * request id. An Error answer becomes its code with its text in why. */
static int pipe_request(coord_upload_t *u, Tutti__Envelope *env, Tutti__Envelope **out, char *why)
{
    *out = NULL;
    env->request_id = ++u->pipe_ids;
    int rc = tt_wire_send(u->thread_pipe, NULL, 0, env, why);
    if (rc != 0)
        return rc;
    int64_t deadline = tt_time_mono_ns() + (int64_t)PIPE_TIMEOUT_MS * 1000000;
    for (;;) {
        int64_t left = (deadline - tt_time_mono_ns()) / 1000000;
        if (left <= 0)
            return tt_fail(why, TT_ERR_UNAVAILABLE,
                           "the coordinator's main loop did not answer "
                           "within %d ms: try again",
                           PIPE_TIMEOUT_MS);
        zmq_pollitem_t items[2] = {{u->thread_pipe, 0, ZMQ_POLLIN, 0},
                                   {u->control, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, (long)left) < 0) {
            if (errno == EINTR)
                continue;
            return tt_fail(why, TT_ERR_IO, "polling the pipe: %s", zmq_strerror(errno));
        }
        if ((items[1].revents & ZMQ_POLLIN) && stop_asked(u))
            return tt_fail(why, TT_ERR_UNAVAILABLE, "the coordinator is stopping");
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        tt_wire_msg_t m;
        rc = tt_wire_recv(u->thread_pipe, 0, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_AGAIN)
            continue;
        if (rc != 0)
            return rc;
        if (m.env->request_id != env->request_id) {
            tt_wire_msg_clear(&m); /* late answer to a request that timed out */
            continue;
        }
        if (m.env->body_case == TUTTI__ENVELOPE__BODY_ERROR) {
            int code = m.env->error->code ? -(int)m.env->error->code : TT_ERR_PROTOCOL;
            rc = tt_fail(why, code, "%s", m.env->error->message);
            tt_wire_msg_clear(&m);
            return rc;
        }
        *out = m.env;
        return 0;
    }
}

static slot_t *slot_by_rid(coord_upload_t *u, const tt_wire_msg_t *m)
{
    for (int i = 0; i < COORD_UPLOAD_MAX_OPEN; i++) {
        slot_t *s = &u->slots[i];
        if (s->used && s->rid_len == m->routing_id_len &&
            !memcmp(s->rid, m->routing_id, m->routing_id_len))
            return s;
    }
    return NULL;
}

static void slot_close(slot_t *s)
{
    if (!s->used)
        return;
    if (s->part_fd >= 0)
        close(s->part_fd);
    if (s->ack_fd >= 0)
        close(s->ack_fd);
    memset(s, 0, sizeof *s);
    s->part_fd = s->ack_fd = -1;
}

/* A free slot; else the quietest one if it has been idle a while; else NULL. */
static slot_t *slot_alloc(coord_upload_t *u)
{
    slot_t *oldest = NULL;
    for (int i = 0; i < COORD_UPLOAD_MAX_OPEN; i++) {
        slot_t *s = &u->slots[i];
        if (!s->used)
            return s;
        if (!oldest || s->last_ns < oldest->last_ns)
            oldest = s;
    }
    if (oldest && tt_time_mono_ns() - oldest->last_ns > IDLE_EVICT_NS) {
        tt_diag_info("upload of %s from %s evicted after %lld s of silence", oldest->rec.file,
                     oldest->rec.room, (long long)(IDLE_EVICT_NS / 1000000000LL));
        slot_close(oldest);
        return oldest;
    }
    return NULL;
}

/* BLAKE2b-256 of the first size bytes of fd. */
static int hash_fd(coord_upload_t *u, int fd, uint64_t size, uint8_t out[HASH_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, HASH_LEN);
    for (uint64_t off = 0; off < size;) {
        size_t want =
            size - off > COORD_UPLOAD_FETCH_MAX ? COORD_UPLOAD_FETCH_MAX : (size_t)(size - off);
        ssize_t got = pread(fd, u->buf, want, (off_t)off);
        if (got <= 0)
            return got == 0 ? TT_ERR_CORRUPT : TT_ERR_IO;
        crypto_generichash_update(&st, u->buf, (size_t)got);
        off += (uint64_t)got;
    }
    crypto_generichash_final(&st, out, HASH_LEN);
    return 0;
}

static int fsync_dir(coord_upload_t *u)
{
    return fsync(u->dir_fd) == 0 ? 0 : TT_ERR_IO;
}

/* Makes the media record over the pipe and answers the room UploadDone. */
static void commit_and_done(coord_upload_t *u, const tt_wire_msg_t *m, const tt_media_entry_t *rec)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT, *ans = NULL;
    Tutti__Media media;
    char *rooms[TT_MEDIA_MAX_ROOMS];
    tt_media_entry_to_record(rec, &media, rooms);
    env.body_case = TUTTI__ENVELOPE__BODY_MEDIA;
    env.media = &media;
    char why[TT_WHY_LEN];
    int rc = pipe_request(u, &env, &ans, why);
    if (rc == 0 && ans->body_case != TUTTI__ENVELOPE__BODY_WRITE_REPLY)
        rc = tt_fail(why, TT_ERR_PROTOCOL, "the main loop answered a media record oddly");
    if (rc != 0) {
        tt_diag_warn("media record for %s from %s not written: %s (the file stays; a new offer "
                     "finishes it)",
                     rec->file, rec->room, why);
        reply_error(u, m, rc, why);
    } else {
        tt_diag_info("upload of %s from %s complete: %llu bytes verified, record %llu", rec->file,
                     rec->room, (unsigned long long)rec->size,
                     (unsigned long long)ans->write_reply->seq);
        reply_done(u, m, ans->write_reply->seq);
    }
    if (ans)
        tutti__envelope__free_unpacked(ans, NULL);
}

static int name_with(char *out, size_t len, const char *name, const char *suffix)
{
    int n = snprintf(out, len, "%s%s", name, suffix);
    return (n < 0 || (size_t)n >= len) ? TT_ERR_INVALID : 0;
}

/* Whose bounds a partial upload counts against: its room's; the
 * operators' prelays and guides (no room) share PUTS_BUCKET, a name no
 * room can have ('+' is not a name character). */
#define PUTS_BUCKET "+puts"
static const char *bucket_of(const tt_media_entry_t *rec)
{
    return rec->room[0] ? rec->room : PUTS_BUCKET;
}

/* rec's partial file and its sidecar, relative to the media directory. */
static void part_paths(const tt_media_entry_t *rec, char part[PART_PATH_MAX],
                       char ack[PART_PATH_MAX])
{
    snprintf(part, PART_PATH_MAX, PARTIAL_DIR "/%s/%s.part", bucket_of(rec), rec->file);
    snprintf(ack, PART_PATH_MAX, PARTIAL_DIR "/%s/%s.part.ack", bucket_of(rec), rec->file);
}

/* The reply address of a slot's peer for request_id. */
static void slot_peer(const slot_t *s, uint64_t request_id, tt_wire_msg_t *m)
{
    memset(m, 0, sizeof *m);
    memcpy(m->routing_id, s->rid, s->rid_len);
    m->routing_id_len = s->rid_len;
    m->request_id = request_id;
}

static void finish(coord_upload_t *u, slot_t *s, const tt_wire_msg_t *m);

/* Group commit: the chunks written since the last sync become durable
 * with one fdatasync of the data and one of the .ack, then each gets its
 * credit (the last chunk of the file gets UploadDone, after finish). */
static void flush_slot(coord_upload_t *u, slot_t *s)
{
    if (!s->used || s->n_pending == 0)
        return;
    tt_wire_msg_t peer;
    uint64_t before = s->acked;
    s->acked = s->written;
    if (fdatasync(s->part_fd) != 0 || ack_write(s) != 0) {
        tt_diag_error("upload of %s: syncing: %s", s->rec.file, strerror(errno));
        s->acked = before;
        slot_peer(s, s->pending[0].request_id, &peer);
        slot_close(s);
        reply_error(u, &peer, TT_ERR_IO, "the coordinator could not sync the chunk; offer again");
        return;
    }
    int n = s->n_pending;
    s->n_pending = 0;
    int complete = s->acked == s->rec.size;
    for (int i = 0; i < n - complete; i++) {
        Tutti__Envelope out = TUTTI__ENVELOPE__INIT;
        Tutti__UploadCredit cr = TUTTI__UPLOAD_CREDIT__INIT;
        cr.acked = s->pending[i].end;
        cr.credit = 1;
        out.body_case = TUTTI__ENVELOPE__BODY_UPLOAD_CREDIT;
        out.upload_credit = &cr;
        slot_peer(s, s->pending[i].request_id, &peer);
        reply(u, &peer, &out);
    }
    if (complete) {
        slot_peer(s, s->pending[n - 1].request_id, &peer);
        finish(u, s, &peer);
    }
}

static void flush_all(coord_upload_t *u)
{
    for (int i = 0; i < COORD_UPLOAD_MAX_OPEN; i++)
        flush_slot(u, &u->slots[i]);
}

/* Every byte is in: hash, compare, rename into place, record. */
static void finish(coord_upload_t *u, slot_t *s, const tt_wire_msg_t *m)
{
    char part[PART_PATH_MAX], ack[PART_PATH_MAX];
    part_paths(&s->rec, part, ack);
    uint8_t got[HASH_LEN];
    int rc = hash_fd(u, s->part_fd, s->rec.size, got);
    if (rc != 0) {
        tt_diag_error("upload of %s: reading it back: %s", s->rec.file, strerror(errno));
        reply_error(u, m, TT_ERR_IO, "the coordinator could not read the file back; offer again");
        slot_close(s);
        return;
    }
    if (memcmp(got, s->rec.hash, HASH_LEN) != 0) {
        char want_hex[2 * HASH_LEN + 1], got_hex[2 * HASH_LEN + 1], text[TT_WHY_LEN];
        sodium_bin2hex(want_hex, sizeof want_hex, s->rec.hash, HASH_LEN);
        sodium_bin2hex(got_hex, sizeof got_hex, got, HASH_LEN);
        tt_diag_warn("upload from room %s of cue %s take %u input %s: hash mismatch (offered "
                     "%.16s…, arrived %.16s…, %llu bytes); discarded",
                     s->rec.room, s->rec.cue, s->rec.take, s->rec.input, want_hex, got_hex,
                     (unsigned long long)s->rec.size);
        snprintf(text, sizeof text,
                 "hash mismatch: the %llu bytes of %s hash to %.16s…, the offer said %.16s… "
                 "(was the file changed after its manifest was written?); discarded",
                 (unsigned long long)s->rec.size, s->rec.file, got_hex, want_hex);
        slot_close(s);
        unlinkat(u->dir_fd, part, 0);
        unlinkat(u->dir_fd, ack, 0);
        reply_error(u, m, TT_ERR_INVALID, text);
        return;
    }
    if (fsync(s->part_fd) != 0 || renameat(u->dir_fd, part, u->dir_fd, s->rec.file) != 0 ||
        fsync_dir(u) != 0) {
        tt_diag_error("upload of %s: putting it in place: %s", s->rec.file, strerror(errno));
        reply_error(u, m, TT_ERR_IO, "the coordinator could not store the file; offer again");
        slot_close(s);
        return;
    }
    unlinkat(u->dir_fd, ack, 0);
    tt_media_entry_t rec = s->rec;
    slot_close(s);
    commit_and_done(u, m, &rec);
}

/* ------------------------------------------------------------ handlers */

/* Asks the main thread (which holds the session) whether caller user_id
 * may upload media or fetch f: exactly one of the two is given. The answer,
 * when rc is 0, is in *ans for the caller to free as pipe_request says. */
static int ask_check(coord_upload_t *u, const char *user_id, const Tutti__Media *media,
                     const Tutti__MediaFetch *fetch, Tutti__Envelope **ans, char *why)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__UploadCheck chk = TUTTI__UPLOAD_CHECK__INIT;
    chk.user_id = (char *)user_id;
    chk.media = (Tutti__Media *)media;
    chk.fetch = (Tutti__MediaFetch *)fetch;
    env.body_case = TUTTI__ENVELOPE__BODY_UPLOAD_CHECK;
    env.upload_check = &chk;
    return pipe_request(u, &env, ans, why);
}

/* ------------------------------------------------------------ partial files */

static int is_part(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    return n > k && strcmp(name + n - k, suffix) == 0;
}

int coord_upload_parts_scan(int dir_fd, time_t now, int64_t expire_s, const char *skip,
                            int (*is_open)(void *arg, const char *part), void *arg,
                            coord_upload_parts_t *out, char *why)
{
    memset(out, 0, sizeof *out);
    int fd = dup(dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return tt_fail(why, TT_ERR_IO, "reading a directory of partial uploads: %s",
                       strerror(errno));
    }
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char other[NAME_MAX + 16];
        struct stat ps, as;
        if (is_part(e->d_name, ".part.ack")) { /* an .ack whose .part is gone */
            size_t n = strlen(e->d_name) - 4;
            snprintf(other, sizeof other, "%.*s", (int)n, e->d_name);
            if (fstatat(dir_fd, other, &ps, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
                unlinkat(dir_fd, e->d_name, 0);
            continue;
        }
        if (!is_part(e->d_name, ".part") ||
            fstatat(dir_fd, e->d_name, &ps, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(ps.st_mode))
            continue;
        snprintf(other, sizeof other, "%s.ack", e->d_name);
        int has_ack = fstatat(dir_fd, other, &as, AT_SYMLINK_NOFOLLOW) == 0;
        time_t touched = has_ack && as.st_mtime > ps.st_mtime ? as.st_mtime : ps.st_mtime;
        if ((int64_t)(now - touched) >= expire_s && !(is_open && is_open(arg, e->d_name))) {
            unlinkat(dir_fd, e->d_name, 0);
            unlinkat(dir_fd, other, 0);
            out->expired++;
            continue;
        }
        if (skip && strcmp(skip, e->d_name) == 0)
            continue;
        uint64_t size = (uint64_t)ps.st_size, offered = 0;
        if (has_ack) {
            uint8_t b[ACK_LEN];
            int afd = openat(dir_fd, other, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            ssize_t n = afd >= 0 ? pread(afd, b, sizeof b, 0) : -1;
            if (afd >= 0)
                close(afd);
            offered = coord_upload_ack_size(b, n > 0 ? (size_t)n : 0);
        }
        out->parts++;
        out->bytes += size > offered ? size : offered;
    }
    closedir(d);
    return 0;
}

int coord_upload_parts_admit(const coord_upload_parts_t *p, uint64_t size,
                             const coord_upload_limits_t *lim, const char *room, char *why)
{
    unsigned max_parts = lim->max_parts ? lim->max_parts : COORD_UPLOAD_ROOM_PARTS;
    uint64_t max_bytes = lim->max_bytes ? lim->max_bytes : COORD_UPLOAD_ROOM_PART_BYTES;
    long long expire = lim->expire_s ? (long long)lim->expire_s : COORD_UPLOAD_PART_EXPIRE_S;
    if (p->parts >= max_parts)
        return tt_fail(why, TT_ERR_UNAVAILABLE,
                       "room %s has %u unfinished uploads: finish or wait for them to expire "
                       "(%lld s untouched)",
                       room, p->parts, expire);
    if (size > max_bytes || p->bytes > max_bytes - size)
        return tt_fail(why, TT_ERR_UNAVAILABLE,
                       "room %s has %llu bytes in unfinished uploads and offers %llu more, over "
                       "its %llu: finish them or wait for them to expire (%lld s untouched)",
                       room, (unsigned long long)p->bytes, (unsigned long long)size,
                       (unsigned long long)max_bytes, expire);
    return 0;
}

static int64_t expire_s(const coord_upload_t *u)
{
    return u->limits.expire_s ? u->limits.expire_s : COORD_UPLOAD_PART_EXPIRE_S;
}

typedef struct {
    coord_upload_t *u;
    const char *room;
} open_arg_t;

static int part_is_open(void *arg, const char *part)
{
    open_arg_t *a = arg;
    char name[TT_MEDIA_MAX_FILE + 16];
    for (int i = 0; i < COORD_UPLOAD_MAX_OPEN; i++) {
        const slot_t *s = &a->u->slots[i];
        if (s->used && !strcmp(bucket_of(&s->rec), a->room) &&
            name_with(name, sizeof name, s->rec.file, ".part") == 0 && !strcmp(name, part))
            return 1;
    }
    return 0;
}

/* Removes partial files untouched for expire_s: every room's, and those an
 * older version left in the media directory itself. An open upload that
 * quiet is closed first (its peer has gone). */
static void sweep(coord_upload_t *u)
{
    int64_t now_ns = tt_time_mono_ns(), quiet_ns = expire_s(u) * 1000000000LL;
    for (int i = 0; i < COORD_UPLOAD_MAX_OPEN; i++)
        if (u->slots[i].used && u->slots[i].n_pending == 0 &&
            now_ns - u->slots[i].last_ns >= quiet_ns)
            slot_close(&u->slots[i]);
    char why[TT_WHY_LEN];
    coord_upload_parts_t p;
    unsigned expired = 0;
    if (coord_upload_parts_scan(u->dir_fd, time(NULL), expire_s(u), NULL, NULL, NULL, &p, why) == 0)
        expired += p.expired;
    int pd = openat(u->dir_fd, PARTIAL_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = pd >= 0 ? fdopendir(pd) : NULL;
    if (!d && pd >= 0)
        close(pd);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int rfd = openat(pd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (rfd < 0)
            continue;
        open_arg_t arg = {u, e->d_name};
        if (coord_upload_parts_scan(rfd, time(NULL), expire_s(u), NULL, part_is_open, &arg, &p,
                                    why) == 0 &&
            p.expired) {
            expired += p.expired;
            fsync(rfd);
        }
        close(rfd);
    }
    if (d)
        closedir(d);
    if (expired)
        tt_diag_info("removed %u unfinished uploads untouched for %lld s", expired,
                     (long long)expire_s(u));
}

/* Makes rec's room directory, removes its expired partial files and
 * checks the room's bounds. 0 with the directory open in *room_fd (the
 * caller syncs and closes it), or a refusal with why. */
static int room_admits(coord_upload_t *u, const tt_media_entry_t *rec, int *room_fd, char *why)
{
    char dir[sizeof PARTIAL_DIR + TT_ACCESS_MAX_NAME + 2], part[TT_MEDIA_MAX_FILE + 16];
    snprintf(dir, sizeof dir, PARTIAL_DIR "/%s", bucket_of(rec));
    name_with(part, sizeof part, rec->file, ".part");
    if ((mkdirat(u->dir_fd, PARTIAL_DIR, 0700) != 0 && errno != EEXIST) ||
        (mkdirat(u->dir_fd, dir, 0700) != 0 && errno != EEXIST) ||
        (*room_fd = openat(u->dir_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        tt_diag_error("upload of %s: making %s/%s: %s", rec->file, u->dir, dir, strerror(errno));
        return tt_fail(why, TT_ERR_IO, "the coordinator cannot write its media directory");
    }
    open_arg_t arg = {u, bucket_of(rec)};
    coord_upload_parts_t p;
    int rc = coord_upload_parts_scan(*room_fd, time(NULL), expire_s(u), part, part_is_open, &arg,
                                     &p, why);
    if (rc == 0)
        rc = coord_upload_parts_admit(&p, rec->size, &u->limits, bucket_of(rec), why);
    if (rc != 0) {
        if (rc == TT_ERR_UNAVAILABLE)
            tt_diag_warn("upload of %s refused: %s", rec->file, why);
        close(*room_fd);
        *room_fd = -1;
    }
    return rc;
}

/* 0 when the sender of m may go on: its key is still in the access table
 * and, for a chunk, still the room its upload is for. Else its upload on
 * this connection is closed and it gets the reason. */
static int sender_allowed(coord_upload_t *u, const tt_wire_msg_t *m)
{
    const tt_access_entry_t *who = tt_access_find_key(u->access, m->user_id);
    slot_t *s = slot_by_rid(u, m);
    if (who && (!s || (tt_media_is_put(&s->rec)
                           ? who->role == TT_ROLE_OPERATOR
                           : who->role == TT_ROLE_ROOM && !strcmp(who->name, s->rec.room))))
        return 0;
    if (s) {
        tt_diag_warn("upload of %s closed: its room's key %s", s->rec.file,
                     who ? "is no longer that room's" : "was revoked");
        slot_close(s);
    }
    reply_error(u, m, TT_ERR_AUTH,
                who ? "your key no longer belongs to the room of this upload"
                    : "your key is no longer in the access file");
    return TT_ERR_AUTH;
}

int coord_upload_place_copy(int dir_fd, int fd, const char *src, const char *dst, uint64_t size,
                            int link_ok, uint8_t *buf, char *why)
{
    struct stat a, b;
    if (fstat(fd, &a) != 0)
        return tt_fail(why, TT_ERR_IO, "reading %s: %s", src, strerror(errno));
    if (fstatat(dir_fd, dst, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
        (b.st_ino != a.st_ino || b.st_dev != a.st_dev) && unlinkat(dir_fd, dst, 0) != 0)
        return tt_fail(why, TT_ERR_IO, "removing an unrecorded %s: %s", dst, strerror(errno));
    int out = -1, link_errno = ENOTSUP;
    if (link_ok && (linkat(dir_fd, src, dir_fd, dst, 0) == 0 || errno == EEXIST)) {
        out = openat(dir_fd, dst, O_RDONLY | O_CLOEXEC);
    } else { /* no hard links here (EPERM, EMLINK, ENOTSUP, ...): copy */
        link_errno = link_ok ? errno : link_errno;
        char part[TT_MEDIA_MAX_FILE + 16];
        if (name_with(part, sizeof part, dst, ".part") != 0)
            return tt_fail(why, TT_ERR_INVALID, "%s: name too long", dst);
        out = openat(dir_fd, part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        for (uint64_t off = 0; out >= 0 && off < size;) {
            size_t want =
                size - off > COORD_UPLOAD_FETCH_MAX ? COORD_UPLOAD_FETCH_MAX : (size_t)(size - off);
            ssize_t got = pread(fd, buf, want, (off_t)off);
            if (got <= 0 || pwrite(out, buf, (size_t)got, (off_t)off) != got) {
                close(out);
                out = -1;
                break;
            }
            off += (uint64_t)got;
        }
        if (out >= 0 && (fsync(out) != 0 || renameat(dir_fd, part, dir_fd, dst) != 0)) {
            close(out);
            out = -1;
        }
        if (out < 0) {
            int copy_errno = errno;
            unlinkat(dir_fd, part, 0);
            return tt_fail(why, TT_ERR_IO, "linking %s to %s: %s; copying it: %s", src, dst,
                           strerror(link_errno), strerror(copy_errno));
        }
        tt_diag_info("%s copied to %s (no hard link: %s)", src, dst, strerror(link_errno));
    }
    int synced = out >= 0 && fsync(out) == 0 && fsync(dir_fd) == 0;
    int sync_errno = errno;
    if (out >= 0)
        close(out);
    if (!synced)
        return tt_fail(why, TT_ERR_IO, "syncing %s: %s", dst, strerror(sync_errno));
    return 0;
}

/* A guide made from a take's capture (Media.source_seq): no bytes come.
 * The coordinator's own copy of the capture is hashed again against its
 * record, its channels and frames read from its header, and it is linked
 * (or copied) under the guide's name, durably, before the record is asked
 * for. The same guide again is answered with its record. */
static void guide_from_capture(coord_upload_t *u, const tt_wire_msg_t *m, tt_media_entry_t *rec,
                               uint64_t existing_seq, const tt_media_entry_t *src)
{
    struct stat st;
    if (existing_seq && fstatat(u->dir_fd, rec->file, &st, 0) == 0 &&
        (uint64_t)st.st_size == rec->size) {
        tt_diag_info("guide %s: already made, record %llu", rec->file,
                     (unsigned long long)existing_seq);
        reply_done(u, m, existing_seq);
        return;
    }
    char why[TT_WHY_LEN], path[PATH_MAX];
    int fd = tt_media_stored_name_ok(src->file)
                 ? openat(u->dir_fd, src->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
                 : -1;
    int rc = 0;
    uint8_t got[HASH_LEN];
    if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size != src->size)
        rc = tt_fail(why, TT_ERR_NOTFOUND,
                     "the coordinator does not hold %s (record %llu) in full: not made", src->file,
                     (unsigned long long)src->seq);
    else if (hash_fd(u, fd, src->size, got) != 0 || memcmp(got, src->hash, HASH_LEN) != 0)
        rc = tt_fail(why, TT_ERR_CORRUPT,
                     "the coordinator's %s does not hash to record %llu (damaged on disk?): not "
                     "made",
                     src->file, (unsigned long long)src->seq);
    tt_bwf_info_t info;
    uint64_t frames = 0;
    int n = snprintf(path, sizeof path, "%s/%s", u->dir, src->file);
    if (rc == 0 && (n < 0 || (size_t)n >= sizeof path))
        rc = tt_fail(why, TT_ERR_INVALID, "the media directory's path is too long");
    if (rc == 0) {
        char sub[TT_WHY_LEN];
        int r = tt_bwf_read_info(path, &info, &frames, sub);
        if ((r != 0 && r != TT_ERR_NOTFOUND) || info.channels < 1 ||
            (uint32_t)info.rate != src->rate || frames == 0)
            rc = tt_fail(why, TT_ERR_CORRUPT, "%s is not the WAV its record says (%s)", src->file,
                         r != 0 && r != TT_ERR_NOTFOUND ? sub : "rate or length");
    }
    if (rc == 0)
        rc =
            coord_upload_place_copy(u->dir_fd, fd, src->file, rec->file, src->size, 1, u->buf, why);
    if (fd >= 0)
        close(fd);
    if (rc != 0) {
        tt_diag_warn("guide %s from record %llu not made: %s", rec->file,
                     (unsigned long long)src->seq, why);
        reply_error(u, m, rc, why);
        return;
    }
    rec->channels = (uint32_t)info.channels;
    rec->frames = frames;
    tt_diag_info("guide %s made from %s (record %llu, %llu bytes)", rec->file, src->file,
                 (unsigned long long)src->seq, (unsigned long long)src->size);
    commit_and_done(u, m, rec);
}

static void on_offer(coord_upload_t *u, const tt_wire_msg_t *m)
{
    const Tutti__UploadOffer *o = m->env->upload_offer;
    if (!o->media) {
        reply_error(u, m, TT_ERR_PROTOCOL, "an offer carries the media record it will become");
        return;
    }
    const Tutti__Media *md = o->media;
    Tutti__Envelope *ans = NULL;
    char why[TT_WHY_LEN];
    int rc = ask_check(u, m->user_id, md, NULL, &ans, why);
    if (rc == 0 && ans->body_case != TUTTI__ENVELOPE__BODY_UPLOAD_CHECK_REPLY)
        rc = tt_fail(why, TT_ERR_PROTOCOL, "the main loop answered a check oddly");
    if (rc != 0) {
        if (rc != TT_ERR_DENIED && rc != TT_ERR_INVALID && rc != TT_ERR_NOTFOUND &&
            rc != TT_ERR_TOO_BIG) /* the main thread logs refusals, naming the caller */
            tt_diag_warn("upload offer of %.32s take %u not taken: %s", md->cue, md->take, why);
        reply_error(u, m, rc, why);
        if (ans)
            tutti__envelope__free_unpacked(ans, NULL);
        return;
    }
    uint64_t existing_seq = ans->upload_check_reply->media_seq;
    tt_media_entry_t src; /* a guide from a capture: that capture's record */
    int from_capture = md->source_seq != 0;
    if (from_capture && ans->upload_check_reply->source) {
        tt_media_entry_from_record(&src, ans->upload_check_reply->source);
        src.seq = md->source_seq;
    } else if (from_capture) {
        tutti__envelope__free_unpacked(ans, NULL);
        reply_error(u, m, TT_ERR_PROTOCOL, "the main loop did not name the capture");
        return;
    }
    tutti__envelope__free_unpacked(ans, NULL);

    /* The main thread checked every field: the name is made of them only. */
    tt_media_entry_t rec;
    tt_media_entry_from_record(&rec, md);
    if (tt_media_record_file_name(md, rec.file, sizeof rec.file) != 0) {
        reply_error(u, m, TT_ERR_INVALID, "no file name can be made for this record");
        return;
    }

    /* One upload per connection and per file: a new offer replaces the old. */
    for (int i = 0; i < COORD_UPLOAD_MAX_OPEN; i++) {
        slot_t *s = &u->slots[i];
        if (!s->used)
            continue;
        int same_peer =
            s->rid_len == m->routing_id_len && !memcmp(s->rid, m->routing_id, m->routing_id_len);
        if (same_peer || !strcmp(s->rec.file, rec.file))
            slot_close(s);
    }
    if (from_capture) {
        guide_from_capture(u, m, &rec, existing_seq, &src);
        return;
    }

    struct stat st;
    if (fstatat(u->dir_fd, rec.file, &st, 0) == 0) {
        if (existing_seq && (uint64_t)st.st_size == rec.size) {
            tt_diag_info("upload of %s from %s: already here as record %llu", rec.file, rec.room,
                         (unsigned long long)existing_seq);
            reply_done(u, m, existing_seq);
            return;
        }
        if (!existing_seq) { /* in place but not recorded: a crash between the two */
            int fd = openat(u->dir_fd, rec.file, O_RDONLY | O_CLOEXEC);
            uint8_t got[HASH_LEN];
            int same = fd >= 0 && (uint64_t)st.st_size == rec.size &&
                       hash_fd(u, fd, rec.size, got) == 0 && !memcmp(got, rec.hash, HASH_LEN);
            if (fd >= 0)
                close(fd);
            if (same) {
                tt_diag_info("upload of %s from %s: the file is here and verifies; recording it",
                             rec.file, rec.room);
                commit_and_done(u, m, &rec);
                return;
            }
            tt_diag_warn("upload of %s from %s: an unrecorded file of that name does not match "
                         "the offer; replacing it",
                         rec.file, rec.room);
            unlinkat(u->dir_fd, rec.file, 0);
        }
    }

    int room_fd = -1;
    if ((rc = room_admits(u, &rec, &room_fd, why)) != 0) {
        reply_error(u, m, rc, why);
        return;
    }
    slot_t *s = slot_alloc(u);
    if (!s) {
        close(room_fd);
        reply_error(u, m, TT_ERR_UNAVAILABLE,
                    "the coordinator has as many uploads open as it takes; try again shortly");
        return;
    }
    char part[PART_PATH_MAX], ack[PART_PATH_MAX];
    part_paths(&rec, part, ack);
    memset(s, 0, sizeof *s);
    s->used = 1;
    s->rec = rec;
    memcpy(s->rid, m->routing_id, m->routing_id_len);
    s->rid_len = m->routing_id_len;
    s->last_ns = tt_time_mono_ns();
    s->part_fd = openat(u->dir_fd, part, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    s->ack_fd = openat(u->dir_fd, ack, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat pst;
    if (s->part_fd < 0 || s->ack_fd < 0 || fstat(s->part_fd, &pst) != 0) {
        tt_diag_error("upload of %s: opening %s/%s: %s", rec.file, u->dir, part, strerror(errno));
        close(room_fd);
        slot_close(s);
        reply_error(u, m, TT_ERR_IO, "the coordinator cannot open its media directory");
        return;
    }
    s->acked = s->written = ack_read(s, (uint64_t)pst.st_size);
    int synced = fsync(room_fd) == 0;
    close(room_fd);
    if (ftruncate(s->part_fd, (off_t)s->acked) != 0 || fdatasync(s->part_fd) != 0 ||
        ack_write(s) != 0 || !synced) {
        tt_diag_error("upload of %s: preparing %s: %s", rec.file, part, strerror(errno));
        slot_close(s);
        reply_error(u, m, TT_ERR_IO, "the coordinator cannot write its media directory");
        return;
    }
    tt_diag_info("upload of %s from %s: accepting from offset %llu of %llu", rec.file, rec.room,
                 (unsigned long long)s->acked, (unsigned long long)rec.size);
    if (s->acked == rec.size) {
        finish(u, s, m);
        return;
    }
    Tutti__Envelope out = TUTTI__ENVELOPE__INIT;
    Tutti__UploadAccept acc = TUTTI__UPLOAD_ACCEPT__INIT;
    acc.offset = s->acked;
    acc.chunk_size = COORD_UPLOAD_CHUNK;
    acc.credit = COORD_UPLOAD_CREDIT;
    out.body_case = TUTTI__ENVELOPE__BODY_UPLOAD_ACCEPT;
    out.upload_accept = &acc;
    reply(u, m, &out);
}

/* Writes a chunk; it is synced and answered by flush_slot (after the
 * messages that arrived together, or when MAX_PENDING are waiting). */
static void on_chunk(coord_upload_t *u, const tt_wire_msg_t *m)
{
    slot_t *s = slot_by_rid(u, m);
    if (!s) {
        reply_error(u, m, TT_ERR_PROTOCOL,
                    "no upload is open on this connection (coordinator restarted?): offer again");
        return;
    }
    const Tutti__UploadChunk *c = m->env->upload_chunk;
    size_t len = c->data.len;
    char text[TT_WHY_LEN];
    if (c->offset != s->written) {
        snprintf(text, sizeof text, "chunk at %llu, but %s holds %llu bytes: offer again",
                 (unsigned long long)c->offset, s->rec.file, (unsigned long long)s->written);
        slot_close(s);
        reply_error(u, m, TT_ERR_PROTOCOL, text);
        return;
    }
    if (len == 0 || len > COORD_UPLOAD_CHUNK || len > s->rec.size - s->written) {
        snprintf(text, sizeof text,
                 "chunk of %zu bytes at %llu: chunks hold 1..%d bytes and stay within the "
                 "offered %llu",
                 len, (unsigned long long)c->offset, COORD_UPLOAD_CHUNK,
                 (unsigned long long)s->rec.size);
        slot_close(s);
        reply_error(u, m, TT_ERR_PROTOCOL, text);
        return;
    }
    for (size_t done = 0; done < len;) {
        ssize_t w = pwrite(s->part_fd, c->data.data + done, len - done, (off_t)(s->written + done));
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            tt_diag_error("upload of %s: writing: %s", s->rec.file, strerror(errno));
            slot_close(s);
            reply_error(u, m, TT_ERR_IO, "the coordinator could not write the chunk; offer again");
            return;
        }
        done += (size_t)w;
    }
    s->written += len;
    s->pending[s->n_pending].request_id = m->request_id;
    s->pending[s->n_pending].end = s->written;
    s->n_pending++;
    s->last_ns = tt_time_mono_ns();
    if (s->n_pending == MAX_PENDING)
        flush_slot(u, s);
}

static void on_fetch(coord_upload_t *u, const tt_wire_msg_t *m)
{
    const Tutti__MediaFetch *f = m->env->media_fetch;
    /* A peer that asks without reading gets no more pages to hold. */
    size_t unread = coord_outbox_waiting(u->outbox, m->routing_id, m->routing_id_len);
    if (unread > COORD_OUTBOX_READ_MAX_UNREAD) {
        char text[128];
        snprintf(text, sizeof text,
                 "%zu bytes of your earlier replies are unread: read them, then ask again", unread);
        reply_error(u, m, TT_ERR_UNAVAILABLE, text);
        return;
    }
    Tutti__Envelope *ans = NULL;
    char why[TT_WHY_LEN];
    int rc = ask_check(u, m->user_id, NULL, f, &ans, why);
    const Tutti__Media *rec = rc == 0 && ans->body_case == TUTTI__ENVELOPE__BODY_UPLOAD_CHECK_REPLY
                                  ? ans->upload_check_reply->media
                                  : NULL;
    if (rc == 0 && (!rec || !tt_media_stored_name_ok(rec->file)))
        rc = tt_fail(why, TT_ERR_NOTFOUND, "no media record for that cue, take, room and input");
    if (rc == 0 && f->offset > rec->size)
        rc = tt_fail(why, TT_ERR_INVALID, "offset %llu is past the end (%llu bytes)",
                     (unsigned long long)f->offset, (unsigned long long)rec->size);
    size_t n = 0;
    if (rc == 0) {
        uint64_t left = rec->size - f->offset;
        n = f->max_bytes && f->max_bytes < COORD_UPLOAD_FETCH_MAX ? f->max_bytes
                                                                  : COORD_UPLOAD_FETCH_MAX;
        if (n > left)
            n = (size_t)left;
        int fd = openat(u->dir_fd, rec->file, O_RDONLY | O_CLOEXEC);
        ssize_t got = 0;
        while (fd >= 0 && (size_t)got < n) {
            ssize_t r = pread(fd, u->buf + got, n - (size_t)got, (off_t)(f->offset + got));
            if (r <= 0)
                break;
            got += r;
        }
        if (fd < 0 || (size_t)got != n) {
            tt_diag_error("serving %s: %s", rec->file,
                          fd < 0 ? strerror(errno) : "shorter than its record");
            rc = tt_fail(why, TT_ERR_CORRUPT, "the coordinator cannot read %s in full", rec->file);
        }
        if (fd >= 0)
            close(fd);
    }
    if (rc != 0) {
        reply_error(u, m, rc, why);
    } else {
        Tutti__Envelope out = TUTTI__ENVELOPE__INIT;
        Tutti__MediaData md = TUTTI__MEDIA_DATA__INIT;
        md.offset = f->offset;
        md.data.data = u->buf;
        md.data.len = n;
        md.media = (Tutti__Media *)rec;
        out.body_case = TUTTI__ENVELOPE__BODY_MEDIA_DATA;
        out.media_data = &md;
        reply(u, m, &out);
    }
    if (ans)
        tutti__envelope__free_unpacked(ans, NULL);
}

/* ------------------------------------------------------------ thread */

static void upload_actor(void *control, void *arg)
{
    coord_upload_t *u = arg;
    u->control = control;
    tt_actor_ready(control, 0, NULL);
    int64_t sweep_every_ns = (expire_s(u) / 4 < SWEEP_MAX_S ? expire_s(u) / 4 : SWEEP_MAX_S);
    sweep_every_ns = (sweep_every_ns > 0 ? sweep_every_ns : 1) * 1000000000LL;
    while (!u->stopping) {
        int64_t now = tt_time_mono_ns();
        if (now >= u->next_sweep_ns) {
            sweep(u);
            u->next_sweep_ns = now + sweep_every_ns;
        }
        long timeout = (long)((u->next_sweep_ns - now) / 1000000) + 1;
        timeout = tt_listen_min_timeout(timeout, tt_listen_tick(u->listen));
        timeout = tt_listen_min_timeout(timeout, coord_outbox_wait_ms(u->outbox));
        zmq_pollitem_t items[3] = {{u->router, 0, ZMQ_POLLIN, 0},
                                   {control, 0, ZMQ_POLLIN, 0},
                                   {tt_listen_events(u->listen), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 3, timeout) < 0) {
            if (errno == EINTR)
                continue;
            tt_diag_error("upload service: polling: %s", zmq_strerror(errno));
            break;
        }
        if ((items[1].revents & ZMQ_POLLIN) && stop_asked(u))
            break;
        for (int i = 0; i < MSGS_PER_WAKE && !u->stopping; i++) {
            tt_wire_msg_t m;
            char why[TT_WHY_LEN];
            int rc = tt_wire_recv(u->router, 1, ZMQ_DONTWAIT, &m, why);
            if (rc == TT_ERR_AGAIN)
                break;
            if (rc == TT_ERR_IO) {
                tt_diag_warn("upload socket: %s", why);
                break;
            }
            if (rc != 0) {
                if (m.routing_id_len)
                    reply_error(u, &m, rc, why);
                tt_wire_msg_clear(&m);
                continue;
            }
            /* Chunks wait for the group sync; anything else sees them durable. */
            if (m.env->body_case != TUTTI__ENVELOPE__BODY_UPLOAD_CHUNK)
                flush_all(u);
            if (sender_allowed(u, &m) != 0) {
                tt_wire_msg_clear(&m);
                continue;
            }
            switch (m.env->body_case) {
            case TUTTI__ENVELOPE__BODY_UPLOAD_OFFER: on_offer(u, &m); break;
            case TUTTI__ENVELOPE__BODY_UPLOAD_CHUNK: on_chunk(u, &m); break;
            case TUTTI__ENVELOPE__BODY_MEDIA_FETCH: on_fetch(u, &m); break;
            default:
                reply_error(u, &m, TT_ERR_PROTOCOL,
                            "the upload socket takes offers, chunks and fetches only");
            }
            tt_wire_msg_clear(&m);
        }
        flush_all(u);
        coord_outbox_flush(u->outbox);
    }
    for (int i = 0; i < COORD_UPLOAD_MAX_OPEN; i++)
        slot_close(&u->slots[i]);
}

coord_upload_t *coord_upload_start(const coord_upload_config_t *cfg, char *why)
{
    coord_upload_t *u = calloc(1, sizeof *u);
    if (!u) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the upload service");
        return NULL;
    }
    u->dir_fd = -1;
    for (int i = 0; i < COORD_UPLOAD_MAX_OPEN; i++)
        u->slots[i].part_fd = u->slots[i].ack_fd = -1;
    int n = snprintf(u->dir, sizeof u->dir, "%s/media", cfg->data_dir);
    if (n < 0 || (size_t)n >= sizeof u->dir) {
        tt_fail(why, TT_ERR_INVALID, "data directory path too long");
        goto fail;
    }
    if (mkdir(u->dir, 0700) != 0 && errno != EEXIST) {
        tt_fail(why, TT_ERR_IO, "creating %s: %s", u->dir, strerror(errno));
        goto fail;
    }
    u->dir_fd = open(u->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (u->dir_fd < 0) {
        tt_fail(why, TT_ERR_IO, "opening %s: %s", u->dir, strerror(errno));
        goto fail;
    }
    if (!(u->buf = malloc(COORD_UPLOAD_FETCH_MAX))) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the upload buffer");
        goto fail;
    }
    u->router = zmq_socket(cfg->ctx, ZMQ_ROUTER);
    if (!u->router) {
        tt_fail(why, TT_ERR_IO, "creating the upload socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (tt_actor_pipe(cfg->ctx, "upload", &u->pipe, &u->thread_pipe, why) != 0)
        goto fail;
    if (tt_wire_setup_server(u->router, cfg->keys, why) != 0 ||
        coord_outbox_configure(u->router, why) != 0)
        goto fail;
    if (!(u->outbox = coord_outbox_new(u->router, "upload", COORD_OUTBOX_GIVE_UP_MS, why)))
        goto fail;
    if (!(u->access = tt_access_from_entries(cfg->access->entries, cfg->access->count, why)))
        goto fail;
    u->limits = cfg->limits;
    if (!(u->listen = tt_listen_new(cfg->ctx, u->router, "uploads", cfg->endpoint, why)))
        goto fail;
    u->port = tt_listen_port(u->listen);
    /* From here only the thread touches the router and the thread ends. */
    if (!(u->actor = tt_actor_new(cfg->ctx, "upload", upload_actor, u, NULL, why)))
        goto fail;
    return u;
fail:
    coord_upload_stop(&u);
    return NULL;
}

int coord_upload_set_access(coord_upload_t *u, const tt_access_t *access, char *why)
{
    return tt_actor_send(tt_actor_sock(u->actor), 0, "ACCESS", access->entries,
                         access->count * sizeof *access->entries, why);
}

unsigned coord_upload_port(const coord_upload_t *u)
{
    return u ? u->port : 0;
}

void *coord_upload_pipe(coord_upload_t *u)
{
    return u ? u->pipe : NULL;
}

void coord_upload_stop(coord_upload_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    coord_upload_t *u = *self_p;
    tt_actor_destroy(&u->actor); /* joined: the router and the thread ends are ours again */
    coord_outbox_destroy(&u->outbox);
    tt_listen_destroy(&u->listen);
    tt_access_destroy(&u->access);
    if (u->router)
        zmq_close(u->router);
    if (u->pipe)
        zmq_close(u->pipe);
    if (u->thread_pipe)
        zmq_close(u->thread_pipe);
    if (u->dir_fd >= 0)
        close(u->dir_fd);
    free(u->buf);
    free(u);
    *self_p = NULL;
}
