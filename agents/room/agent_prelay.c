/* agent_prelay: prelays and guides fetched into DATA/media. See agent_prelay.h.
 *
 * One loop on the thread: poll the owner's pipe and the DEALER (and its
 * monitor) with a timeout that is the nearest of the retry time, the pacing
 * time and the oldest reply's deadline. One file at a time, up to `pieces`
 * 1 MiB requests in flight on the one DEALER, so the link never idles for
 * a round trip between pieces. Replies come in request order; a piece is
 * written only where the .part ends (its bytes on disk are always one
 * contiguous run from byte 0, so "resume from the .part's length" stays
 * exact); a reply that comes short makes the pieces asked after it stale
 * (their bytes are dropped, the rest asked again); an error, a reply out
 * of order or a deadline passed drops the connection and every piece in
 * flight, and the next attempt asks again from the .part's length. The
 * BLAKE2b runs along with the writes (what a restart left is hashed once
 * when the fetch resumes), so the last byte is followed by the verdict,
 * not by a second pass over the whole file.
 */
#define _GNU_SOURCE
#include "agent_prelay.h"
#include "agent_coord_target.h"
#include "tt_actor.h"
#include "tt_client.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_text.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_WANTS 256
#define PIECE (1 << 20)
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 5000
#define INDEX_NAME "index.json"
#define INDEX_MAX (4 << 20)

/* The pipe: owner -> thread PORT (unsigned), WANT (tt_media_entry_t);
 * thread -> owner HELD (uint64_t seq). */
#define CMD_WANT "WANT"
#define CMD_HELD "HELD"

typedef struct {
    tt_media_entry_t e;
    int held;
} want_t;

typedef struct {
    uint64_t req_id;
    uint64_t off; /* where its bytes go */
    uint32_t len; /* asked for */
    int64_t deadline_ns;
} piece_t;

struct agent_prelay {
    tt_actor_t *actor;
    agent_coord_sent_t sent; /* owner thread: what it last handed over */
    /* thread-owned from here */
    void *pipe;
    void *ctx;
    tt_keypair_t *keys;
    agent_coord_target_t coord; /* the coordinator's upload service */
    char dir[PATH_MAX - 256];
    uint64_t rate;
    int timeout_ms;
    tt_client_t *client;
    want_t wants[MAX_WANTS];
    size_t n_wants;
    int cur;                       /* the want being fetched, -1: none */
    int part_fd;                   /* its DIR/NAME.wav.part */
    uint64_t off;                  /* bytes of it on disk: one run from byte 0 */
    uint64_t next_off;             /* where the next request starts */
    crypto_generichash_state hash; /* BLAKE2b-256 of the .part's off bytes, as they are written */
    piece_t fl[AGENT_PRELAY_MAX_PIECES]; /* requests in flight, oldest first */
    int in_flight;
    int pieces; /* how many may be in flight */
    int64_t retry_ns;
    int backoff_ms;
    double tokens;
    int64_t tokens_ns;
    uint8_t *buf; /* PIECE bytes: hashing */
    int stop;
};

/* ------------------------------------------------------------ the store */

static void path_of(const agent_prelay_t *p, const char *file, const char *suffix, char *out,
                    size_t len)
{
    snprintf(out, len, "%s/%s%s", p->dir, file, suffix);
}

/* st = BLAKE2b-256 state over fd's first size bytes. 0, or -1 when they
 * cannot all be read. */
static int hash_prefix(agent_prelay_t *p, int fd, uint64_t size, crypto_generichash_state *st)
{
    crypto_generichash_init(st, NULL, 0, TT_MEDIA_HASH_LEN);
    for (uint64_t o = 0; o < size;) {
        size_t want = size - o > PIECE ? PIECE : (size_t)(size - o);
        ssize_t got = pread(fd, p->buf, want, (off_t)o);
        if (got <= 0)
            return -1;
        crypto_generichash_update(st, p->buf, (size_t)got);
        o += (uint64_t)got;
    }
    return 0;
}

/* The state's hash equals hash: 1, else 0. */
static int state_matches(crypto_generichash_state *st, const uint8_t *hash)
{
    uint8_t h[TT_MEDIA_HASH_LEN];
    crypto_generichash_final(st, h, sizeof h);
    return sodium_memcmp(h, hash, sizeof h) == 0;
}

/* BLAKE2b-256 of fd's first size bytes equals hash: 1, else 0. */
static int fd_matches(agent_prelay_t *p, int fd, uint64_t size, const uint8_t *hash)
{
    crypto_generichash_state st;
    return hash_prefix(p, fd, size, &st) == 0 && state_matches(&st, hash);
}

/* 1 when index.json lists e's seq with e's hash (the file was verified). */
static int index_lists(const agent_prelay_t *p, const tt_media_entry_t *e)
{
    char path[PATH_MAX], hex[2 * TT_MEDIA_HASH_LEN + 1];
    path_of(p, INDEX_NAME, "", path, sizeof path);
    json_t *o = json_load_file(path, 0, NULL);
    tt_hex_encode(e->hash, TT_MEDIA_HASH_LEN, hex);
    int yes = 0;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(o, "held"), i, it)
    {
        const char *h = json_string_value(json_object_get(it, "hash"));
        yes |= (uint64_t)json_integer_value(json_object_get(it, "seq")) == e->seq && h &&
               !strcmp(h, hex);
    }
    json_decref(o);
    return yes;
}

/* Rewrites index.json from the wants held (atomically, synced). */
static void index_write(agent_prelay_t *p)
{
    json_t *held = json_array();
    for (size_t i = 0; i < p->n_wants; i++) {
        const tt_media_entry_t *e = &p->wants[i].e;
        if (!p->wants[i].held)
            continue;
        char hex[2 * TT_MEDIA_HASH_LEN + 1];
        tt_hex_encode(e->hash, TT_MEDIA_HASH_LEN, hex);
        json_array_append_new(
            held, json_pack("{sI ss ss ss ss sI sI sI sI sI sI ss sI}", "seq", (json_int_t)e->seq,
                            "file", e->file, "cue", e->cue, "kind", tt_media_kind_name(e->kind),
                            "hash", hex, "size", (json_int_t)e->size, "rate", (json_int_t)e->rate,
                            "channels", (json_int_t)e->channels, "frames", (json_int_t)e->frames,
                            "at_bar", (json_int_t)e->at_bar, "at_frame", (json_int_t)e->at_frame,
                            "at_fps", e->at_fps, "time_reference", (json_int_t)e->time_reference));
    }
    json_t *o = json_pack("{so}", "held", held);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    char path[PATH_MAX], why[TT_WHY_LEN];
    path_of(p, INDEX_NAME, "", path, sizeof path);
    if (!text || tt_file_write_atomic(path, text, strlen(text), 0600, 0, why) != 0)
        tt_diag_error("prelays: writing %s: %s", path, text ? why : "out of memory");
    free(text);
}

static void mark_held(agent_prelay_t *p, want_t *w, int write_index)
{
    w->held = 1;
    if (write_index)
        index_write(p);
    tt_actor_send(p->pipe, ZMQ_DONTWAIT, CMD_HELD, &w->e.seq, sizeof w->e.seq, NULL);
}

/* A wanted file already in place: held if the index vouches for it (and
 * its size is right), else if it hashes right; else it goes. */
static void check_in_place(agent_prelay_t *p, want_t *w)
{
    char path[PATH_MAX];
    path_of(p, w->e.file, "", path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0)
        return;
    if ((uint64_t)st.st_size == w->e.size && index_lists(p, &w->e)) {
        mark_held(p, w, 0);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int ok =
        fd >= 0 && (uint64_t)st.st_size == w->e.size && fd_matches(p, fd, w->e.size, w->e.hash);
    if (fd >= 0)
        close(fd);
    if (ok) {
        mark_held(p, w, 1);
        return;
    }
    tt_diag_warn("prelays: %s does not match record %llu; fetching it again", w->e.file,
                 (unsigned long long)w->e.seq);
    unlink(path);
}

/* ------------------------------------------------------------ the transfer */

static void job_close(agent_prelay_t *p)
{
    if (p->part_fd >= 0)
        close(p->part_fd);
    p->part_fd = -1;
    p->cur = -1;
    p->in_flight = 0;
}

/* This attempt failed: new socket (no late reply of the old one can
 * arrive), the same file again from the .part's end after the backoff. */
static void attempt_failed(agent_prelay_t *p, const char *reason)
{
    tt_client_destroy(&p->client);
    p->in_flight = 0;
    p->next_off = p->off;
    p->retry_ns = tt_time_mono_ns() + (int64_t)p->backoff_ms * 1000000;
    tt_diag_warn("prelays: fetch of %s interrupted at %llu: %s; again in %d ms",
                 p->cur >= 0 ? p->wants[p->cur].e.file : "?", (unsigned long long)p->off, reason,
                 p->backoff_ms);
    p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
}

/* Opens the next wanted file's .part; its length is where to resume. */
static void job_next(agent_prelay_t *p)
{
    for (size_t i = 0; i < p->n_wants && p->cur < 0; i++) {
        want_t *w = &p->wants[i];
        if (w->held)
            continue;
        char part[PATH_MAX];
        path_of(p, w->e.file, ".part", part, sizeof part);
        p->part_fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        struct stat st;
        if (p->part_fd < 0 || fstat(p->part_fd, &st) != 0) {
            tt_diag_error("prelays: opening %s: %s", part, strerror(errno));
            job_close(p);
            p->retry_ns = tt_time_mono_ns() + (int64_t)BACKOFF_MAX_MS * 1000000;
            return;
        }
        p->cur = (int)i;
        p->off = (uint64_t)st.st_size;
        if (p->off > w->e.size && ftruncate(p->part_fd, 0) == 0)
            p->off = 0; /* longer than the file: not ours */
        /* The hash runs along as pieces are written: what a restart left
         * is hashed once here, not the whole file again at the end. */
        if (hash_prefix(p, p->part_fd, p->off, &p->hash) != 0) {
            tt_diag_warn("prelays: %s.part cannot be read back (%s); starting it over", w->e.file,
                         strerror(errno));
            p->off = 0;
            if (ftruncate(p->part_fd, 0) != 0 || hash_prefix(p, p->part_fd, 0, &p->hash) != 0) {
                job_close(p);
                p->retry_ns = tt_time_mono_ns() + (int64_t)BACKOFF_MAX_MS * 1000000;
                return;
            }
        }
        p->next_off = p->off;
        tt_diag_info("prelays: fetching %s (record %llu) from %llu of %llu bytes", w->e.file,
                     (unsigned long long)w->e.seq, (unsigned long long)p->off,
                     (unsigned long long)w->e.size);
    }
}

/* The whole .part is in: verify, sync, rename; or start it over. */
static void job_finish(agent_prelay_t *p)
{
    want_t *w = &p->wants[p->cur];
    char part[PATH_MAX], final[PATH_MAX];
    path_of(p, w->e.file, ".part", part, sizeof part);
    path_of(p, w->e.file, "", final, sizeof final);
    char why[TT_WHY_LEN];
    if (!state_matches(&p->hash, w->e.hash)) {
        tt_diag_warn("prelays: %s does not hash to record %llu's BLAKE2b (a damaged or altered "
                     ".part); discarded, fetching it again from the start",
                     w->e.file, (unsigned long long)w->e.seq);
        if (ftruncate(p->part_fd, 0) != 0)
            unlink(part);
        job_close(p);
        p->retry_ns = tt_time_mono_ns() + (int64_t)p->backoff_ms * 1000000;
        return;
    }
    if (fsync(p->part_fd) != 0 || rename(part, final) != 0 ||
        tt_file_sync_dir_of(final, why) != 0) {
        tt_diag_error("prelays: putting %s in place: %s", final, strerror(errno));
        job_close(p);
        p->retry_ns = tt_time_mono_ns() + (int64_t)BACKOFF_MAX_MS * 1000000;
        return;
    }
    tt_diag_info("prelays: %s verified (%llu bytes, record %llu)", w->e.file,
                 (unsigned long long)w->e.size, (unsigned long long)w->e.seq);
    job_close(p);
    p->backoff_ms = BACKOFF_MIN_MS;
    mark_held(p, w, 1);
}

/* Asks for the next piece, when the port is known and pacing allows (the
 * caller checks there is room in flight and bytes left to ask for).
 * Returns ms until pacing allows it, or -1. */
static int request_piece(agent_prelay_t *p)
{
    const tt_media_entry_t *e = &p->wants[p->cur].e;
    uint64_t left = e->size - p->next_off;
    uint32_t n = left > PIECE ? PIECE : (uint32_t)left;
    int64_t now = tt_time_mono_ns();
    if (p->rate) { /* token bucket; smaller pieces under a low cap */
        if (n > p->rate / 4 + 4096)
            n = (uint32_t)(p->rate / 4 + 4096);
        p->tokens += (double)(now - p->tokens_ns) * 1e-9 * (double)p->rate;
        p->tokens_ns = now;
        if (p->tokens > (double)n)
            p->tokens = (double)n;
        if (p->tokens < (double)n)
            return (int)(((double)n - p->tokens) / (double)p->rate * 1000.0) + 1;
        p->tokens -= (double)n;
    }
    char why[TT_WHY_LEN];
    if (!p->client) {
        char ep[300];
        if (tt_wire_endpoint_with_port(p->coord.endpoint, p->coord.port, ep, sizeof ep) != 0 ||
            !(p->client = tt_client_new(p->ctx, ep, p->coord.server_key, p->keys, 0, why))) {
            attempt_failed(p, "cannot connect to the upload service");
            return -1;
        }
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__MediaFetch f = TUTTI__MEDIA_FETCH__INIT;
    f.seq = e->seq;
    f.offset = p->next_off;
    f.max_bytes = n;
    env.body_case = TUTTI__ENVELOPE__BODY_MEDIA_FETCH;
    env.media_fetch = &f;
    if (tt_client_send(p->client, &env, why) != 0) {
        attempt_failed(p, why);
        return -1;
    }
    piece_t *pc = &p->fl[p->in_flight++];
    pc->req_id = env.request_id;
    pc->off = p->next_off;
    pc->len = n;
    pc->deadline_ns = now + (int64_t)p->timeout_ms * 1000000;
    p->next_off += n;
    return -1;
}

/* Asks for pieces until `pieces` are in flight, the file is all asked
 * for, or pacing says wait (then ms until it allows; else -1). */
static int request_pieces(agent_prelay_t *p)
{
    while (p->cur >= 0 && p->in_flight < p->pieces && p->next_off < p->wants[p->cur].e.size) {
        int before = p->in_flight;
        int pace_ms = request_piece(p);
        if (pace_ms >= 0 || p->in_flight == before)
            return pace_ms;
    }
    return -1;
}

static void on_reply(agent_prelay_t *p, const Tutti__Envelope *env)
{
    int k = 0;
    while (k < p->in_flight && p->fl[k].req_id != env->request_id)
        k++;
    if (p->cur < 0 || k == p->in_flight)
        return;  /* an answer to an earlier attempt */
    if (k > 0) { /* replies come in order: the ones before it will not */
        attempt_failed(p, "a reply came before an earlier one");
        return;
    }
    piece_t pc = p->fl[0];
    memmove(&p->fl[0], &p->fl[1], (size_t)(--p->in_flight) * sizeof *p->fl);
    want_t *w = &p->wants[p->cur];
    if (env->body_case == TUTTI__ENVELOPE__BODY_ERROR) {
        int code = env->error->code ? -(int)env->error->code : TT_ERR_PROTOCOL;
        if (code == TT_ERR_DENIED || code == TT_ERR_NOTFOUND) {
            tt_diag_warn("prelays: %s refused: %s; not fetched", w->e.file, env->error->message);
            w->held = -1;                  /* never: the coordinator says it is not ours */
            tt_client_destroy(&p->client); /* the other pieces' answers are moot */
            job_close(p);
            return;
        }
        attempt_failed(p, env->error->message ? env->error->message : "error");
        return;
    }
    const Tutti__MediaData *d =
        env->body_case == TUTTI__ENVELOPE__BODY_MEDIA_DATA ? env->media_data : NULL;
    const char *bad = tt_media_data_bad(d, &w->e, pc.off);
    if (bad) {
        attempt_failed(p, bad);
        return;
    }
    if (pc.off != p->off)
        return; /* asked past a reply that came short: asked again since */
    for (size_t done = 0; done < d->data.len;) {
        ssize_t n =
            pwrite(p->part_fd, d->data.data + done, d->data.len - done, (off_t)(p->off + done));
        if (n <= 0 && errno != EINTR) {
            tt_diag_error("prelays: writing %s.part: %s", w->e.file, strerror(errno));
            tt_client_destroy(&p->client);
            job_close(p);
            p->retry_ns = tt_time_mono_ns() + (int64_t)BACKOFF_MAX_MS * 1000000;
            return;
        }
        done += n > 0 ? (size_t)n : 0;
    }
    crypto_generichash_update(&p->hash, d->data.data, d->data.len);
    p->off += d->data.len;
    if (d->data.len < pc.len) /* the pieces asked after it start past the end: ask again */
        p->next_off = p->off;
    p->backoff_ms = BACKOFF_MIN_MS; /* progress: the link works */
    if (p->off == w->e.size) {
        if (p->in_flight) /* only stale pieces are left: their answers are moot */
            tt_client_destroy(&p->client);
        p->in_flight = 0;
        job_finish(p);
    }
}

/* ------------------------------------------------------------ the thread */

static void on_port(void *self, const void *data, size_t len)
{
    (void)len;
    agent_prelay_t *p = self;
    if (!agent_coord_apply(&p->coord, data))
        return;
    tt_client_destroy(&p->client);
    p->in_flight = 0;
    p->next_off = p->off;
    p->retry_ns = 0;
}

static void on_want(void *self, const void *data, size_t len)
{
    (void)len;
    agent_prelay_t *p = self;
    const tt_media_entry_t *e = data;
    for (size_t i = 0; i < p->n_wants; i++)
        if (p->wants[i].e.seq == e->seq)
            return;
    if (p->n_wants == MAX_WANTS || !tt_media_stored_name_ok(e->file)) {
        tt_diag_warn("prelays: record %llu not fetched (%s)", (unsigned long long)e->seq,
                     p->n_wants == MAX_WANTS ? "too many prelays" : "its file name is unusable");
        return;
    }
    want_t *w = &p->wants[p->n_wants++];
    memcpy(&w->e, e, sizeof *e);
    w->held = 0;
    check_in_place(p, w);
}

static const tt_actor_cmd_t commands[] = {
    {AGENT_COORD_CMD, sizeof(agent_coord_msg_t), on_port},
    {CMD_WANT, sizeof(tt_media_entry_t), on_want},
    {NULL, 0, NULL},
};

static void on_command(agent_prelay_t *p)
{
    for (;;) {
        tt_actor_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_actor_recv(p->pipe, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_PROTOCOL)
            continue;
        if (rc != 0)
            return;
        if (tt_actor_is_stop(m.cmd))
            p->stop = 1;
        else if (tt_actor_dispatch(commands, p, &m, why) != 0)
            tt_diag_error("prelays: %s", why);
        tt_actor_msg_clear(&m);
    }
}

static void on_socket(agent_prelay_t *p, const zmq_pollitem_t *items)
{
    if (items[2].revents & ZMQ_POLLIN) {
        char why[TT_WHY_LEN];
        int connected = -1;
        if (tt_client_check_monitor(p->client, &connected, why) != 0)
            attempt_failed(p, why);
        else if (connected == 0 && p->in_flight)
            attempt_failed(p, "connection to the coordinator lost");
    }
    for (int k = 0; k < 16 && p->client && (items[1].revents & ZMQ_POLLIN); k++) {
        tt_wire_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_wire_recv(tt_client_socket(p->client), 0, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_AGAIN)
            break;
        if (rc == 0)
            on_reply(p, m.env);
        else if (p->in_flight)
            attempt_failed(p, why);
        tt_wire_msg_clear(&m);
        if (rc == TT_ERR_IO)
            break;
    }
}

static void prelay_actor(void *pipe, void *arg)
{
    agent_prelay_t *p = arg;
    p->pipe = pipe;
    tt_actor_ready(pipe, 0, NULL);
    while (!p->stop) {
        int64_t now = tt_time_mono_ns();
        int pace_ms = -1;
        if (p->cur < 0 && now >= p->retry_ns)
            job_next(p);
        if (p->cur >= 0 && !p->in_flight && p->off == p->wants[p->cur].e.size)
            job_finish(p); /* a whole .part from before a restart: nothing to ask for */
        if (p->cur >= 0 && p->coord.port && now >= p->retry_ns)
            pace_ms = request_pieces(p);
        now = tt_time_mono_ns();
        if (p->in_flight && now >= p->fl[0].deadline_ns) {
            attempt_failed(p, "no answer in time");
            continue;
        }
        int64_t wake = now + 1000000000LL;
        if (p->in_flight && p->fl[0].deadline_ns < wake)
            wake = p->fl[0].deadline_ns;
        if (!p->in_flight && p->retry_ns > now && p->retry_ns < wake)
            wake = p->retry_ns;
        if (pace_ms >= 0 && now + (int64_t)pace_ms * 1000000 < wake)
            wake = now + (int64_t)pace_ms * 1000000;
        zmq_pollitem_t items[3] = {{pipe, 0, ZMQ_POLLIN, 0}};
        int n = 1;
        if (p->client) {
            items[1] = (zmq_pollitem_t){tt_client_socket(p->client), 0, ZMQ_POLLIN, 0};
            items[2] = (zmq_pollitem_t){tt_client_monitor(p->client), 0, ZMQ_POLLIN, 0};
            n = 3;
        }
        if (zmq_poll(items, n, (long)((wake - now) / 1000000) + 1) < 0) {
            if (errno == EINTR)
                continue;
            tt_diag_error("prelays: polling: %s", zmq_strerror(errno));
            break;
        }
        if (items[0].revents & ZMQ_POLLIN)
            on_command(p);
        if (n == 3 && p->client)
            on_socket(p, items);
    }
    job_close(p);
    tt_client_destroy(&p->client);
}

/* ------------------------------------------------------------ owner side */

agent_prelay_t *agent_prelay_start(const agent_prelay_config_t *cfg, char *why)
{
    agent_prelay_t *p = calloc(1, sizeof *p);
    if (!p) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the prelay fetcher");
        return NULL;
    }
    p->part_fd = -1;
    p->cur = -1;
    p->ctx = cfg->ctx;
    p->rate = cfg->rate_bytes_per_s;
    p->timeout_ms = cfg->reply_timeout_ms > 0 ? cfg->reply_timeout_ms : 10000;
    p->pieces = cfg->pieces > 0 ? cfg->pieces : AGENT_PRELAY_PIECES;
    if (p->pieces > AGENT_PRELAY_MAX_PIECES) {
        tt_fail(why, TT_ERR_INVALID, "%d pieces in flight: at most %d", p->pieces,
                AGENT_PRELAY_MAX_PIECES);
        goto fail;
    }
    p->backoff_ms = BACKOFF_MIN_MS;
    char probe[300];
    if (!cfg->endpoint || !cfg->dir || !cfg->server_key_z85 || !cfg->keys ||
        strlen(cfg->endpoint) >= sizeof p->coord.endpoint || strlen(cfg->dir) >= sizeof p->dir ||
        tt_wire_endpoint_with_port(cfg->endpoint, 1, probe, sizeof probe) != 0) {
        tt_fail(why, TT_ERR_INVALID, "the prelay fetcher needs a tcp endpoint, keys and a dir");
        goto fail;
    }
    snprintf(p->coord.endpoint, sizeof p->coord.endpoint, "%s", cfg->endpoint);
    snprintf(p->dir, sizeof p->dir, "%s", cfg->dir);
    snprintf(p->coord.server_key, sizeof p->coord.server_key, "%s", cfg->server_key_z85);
    if (mkdir(p->dir, 0700) != 0 && errno != EEXIST) {
        tt_fail(why, TT_ERR_IO, "creating %s: %s", p->dir, strerror(errno));
        goto fail;
    }
    if (!(p->buf = malloc(PIECE))) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the prelay buffer");
        goto fail;
    }
    if (!(p->keys = tt_keypair_copy(cfg->keys, why)))
        goto fail;
    if (!(p->actor = tt_actor_new(cfg->ctx, "prelay", prelay_actor, p, NULL, why)))
        goto fail;
    return p;
fail:
    agent_prelay_stop(&p);
    return NULL;
}

void agent_prelay_stop(agent_prelay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_prelay_t *p = *self_p;
    tt_actor_destroy(&p->actor); /* joined: its file and client are closed */
    tt_keypair_destroy(&p->keys);
    free(p->buf);
    free(p);
    *self_p = NULL;
}

void agent_prelay_set_coordinator(agent_prelay_t *p, const char *endpoint, const char *server_key,
                                  unsigned port)
{
    agent_coord_send(tt_actor_sock(p->actor), &p->sent, endpoint, server_key, port);
}

void agent_prelay_set_port(agent_prelay_t *p, unsigned port)
{
    agent_prelay_set_coordinator(p, NULL, NULL, port);
}

void agent_prelay_want(agent_prelay_t *p, const tt_media_entry_t *e)
{
    char why[TT_WHY_LEN];
    /* Blocking: a want lost to a full pipe would never be fetched. */
    if (tt_actor_send(tt_actor_sock(p->actor), 0, CMD_WANT, e, sizeof *e, why) != 0)
        tt_diag_error("prelays: handing over record %llu: %s", (unsigned long long)e->seq, why);
}

void *agent_prelay_socket(agent_prelay_t *p)
{
    return tt_actor_sock(p->actor);
}

int agent_prelay_read(agent_prelay_t *p, uint64_t *seq)
{
    tt_actor_msg_t m;
    while (tt_actor_recv(tt_actor_sock(p->actor), ZMQ_DONTWAIT, &m, NULL) == 0) {
        int got = !strcmp(m.cmd, CMD_HELD) && m.len == sizeof *seq;
        if (got)
            memcpy(seq, m.data, sizeof *seq);
        tt_actor_msg_clear(&m);
        if (got)
            return 1;
    }
    return 0;
}
