/* agent_upload: the room's side of the credit-based transfer. See agent_upload.h.
 *
 * One loop on the thread: poll the owner's pipe, the DEALER and its
 * monitor, with a timeout that is the nearest of the scan timer, the retry
 * time, the pacing time and the reply deadline. At most one file is in
 * flight; a failed attempt throws its socket away (so no late reply can be
 * mistaken for a fresh one) and offers again on a new one.
 */
#define _GNU_SOURCE
#include "agent_upload.h"
#include "agent_coord_target.h"
#include "agent_manifest.h"
#include "tt_actor.h"
#include "tt_client.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define MANIFEST_SUFFIX ".wav.json"
#define MANIFEST_MAX (64 * 1024)
#define MAX_CHUNK (4 * 1024 * 1024) /* whatever the coordinator says, never more */
#define MAX_CREDIT 64
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 5000
#define MAX_IGNORED 256

/* The pipe, owner -> thread: PORT (an unsigned) and NUDGE; thread ->
 * owner: EVENT (an agent_upload_event_t). */
#define CMD_NUDGE "NUDGE"
#define CMD_EVENT "EVENT"

typedef enum { P_NONE, P_OFFERED, P_SENDING, P_BACKOFF } phase_t;

typedef struct {
    int active;
    char name[256];          /* NAME.wav */
    char wav[PATH_MAX];      /* capture_dir/NAME.wav */
    char manifest[PATH_MAX]; /* capture_dir/NAME.wav.json */
    json_t *json;            /* the manifest as read: media strings point into it */
    Tutti__Media media;
    uint8_t hash[32];
    int fd;
    phase_t phase;
    uint64_t offer_id;
    uint64_t next, acked;
    uint32_t chunk, credit;
    int outstanding;
    int64_t deadline_ns; /* a reply is due by then (while offered or chunks outstanding) */
    int64_t retry_ns;
    int backoff_ms;
} job_t;

struct agent_upload {
    tt_actor_t *actor;
    agent_coord_sent_t sent; /* owner thread: what it last handed over */
    /* thread-owned from here */
    void *pipe; /* the thread's end of the actor's pipe */
    void *ctx;
    tt_keypair_t *keys;
    agent_coord_target_t coord; /* the coordinator's upload service */
    char dir[PATH_MAX];
    char room[128];
    uint64_t rate;
    int scan_ms, timeout_ms;
    tt_client_t *client;
    job_t job;
    uint8_t *buf;
    size_t buf_len;
    double tokens;
    int64_t tokens_ns;
    int64_t scan_ns;
    char ignored[MAX_IGNORED][256]; /* manifests that do not parse: warned about once */
    int n_ignored;
    int stop;
    char *one_file;      /* one-file mode: the file (owned) ... */
    Tutti__Media *one;   /* ... and its record (owned, unpacked copy); NULL: scan */
    int one_done;        /* its verdict is in */
    int64_t progress_ns; /* last PROGRESS event */
    int refused_code;    /* the coordinator's code for the refusal being reported */
};

/* ------------------------------------------------------------ events */

static void emit_ev(agent_upload_t *u, const agent_upload_event_t *ev)
{
    /* Dropped if nobody reads (the header says so); the thread logs anyway. */
    tt_actor_send(u->pipe, ZMQ_DONTWAIT, CMD_EVENT, ev, sizeof *ev, NULL);
}

static void emit(agent_upload_t *u, agent_upload_event_kind_t kind, const char *reason)
{
    agent_upload_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    snprintf(ev.name, sizeof ev.name, "%s", u->job.name);
    ev.offset = u->job.acked;
    ev.size = u->job.media.size;
    ev.code = kind == AGENT_UPLOAD_REFUSED ? u->refused_code : 0;
    if (reason)
        snprintf(ev.reason, sizeof ev.reason, "%s", reason);
    emit_ev(u, &ev);
}

/* ------------------------------------------------------------ manifests */

/* Rewrites the manifest with state (and seq or reason), atomically. */
static int manifest_update(agent_upload_t *u, const char *path, const char *state, uint64_t seq,
                           const char *reason, char *why)
{
    if (u->one) { /* one-file mode: the verdict is the event */
        u->one_done = 1;
        return 0;
    }
    json_error_t err;
    json_t *o = json_load_file(path, 0, &err);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return tt_fail(why, TT_ERR_INVALID, "re-reading %s: %s", path, err.text);
    }
    json_object_set_new(o, "state", json_string(state));
    if (seq)
        json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    char *text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!text)
        return tt_fail(why, TT_ERR_NOMEM, "encoding %s", path);
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (!line) {
        free(text);
        return tt_fail(why, TT_ERR_NOMEM, "encoding %s", path);
    }
    memcpy(line + len, "\n", 2);
    int rc = tt_file_write_atomic(path, line, len + 1, 0644, 0, why);
    free(line);
    return rc;
}

static int is_ignored(agent_upload_t *u, const char *name)
{
    for (int i = 0; i < u->n_ignored; i++)
        if (!strcmp(u->ignored[i], name))
            return 1;
    return 0;
}

static void ignore(agent_upload_t *u, const char *name, const char *why)
{
    if (is_ignored(u, name))
        return;
    tt_diag_warn("upload: skipping %s: %s", name, why);
    if (u->n_ignored < MAX_IGNORED)
        snprintf(u->ignored[u->n_ignored++], sizeof u->ignored[0], "%s", name);
}

/* 1 when the manifest file's state is "recorded" (cheap look before parsing). */
static int manifest_recorded(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[MANIFEST_MAX + 1];
    ssize_t n = read(fd, buf, MANIFEST_MAX);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (!strstr(buf, "\"recorded\""))
        return 0;
    json_error_t err;
    json_t *o = json_loadb(buf, (size_t)n, 0, &err);
    const char *st = json_string_value(json_object_get(o, "state"));
    int yes = st && !strcmp(st, "recorded");
    json_decref(o);
    return yes;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The recorded manifests in the capture dir, sorted by name. *first
 * (malloc'd, may be NULL) is the first one; returns how many there are
 * (manifests that do not parse are left out). */
static unsigned scan_dir(agent_upload_t *u, char **first)
{
    *first = NULL;
    DIR *d = opendir(u->dir);
    if (!d) {
        tt_diag_warn("upload: cannot read %s: %s", u->dir, strerror(errno));
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    size_t sl = strlen(MANIFEST_SUFFIX);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l <= sl || strcmp(de->d_name + l - sl, MANIFEST_SUFFIX) != 0 || l >= 250)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", u->dir, de->d_name) >= (int)sizeof path)
            continue;
        if (!manifest_recorded(path))
            continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            char **g = realloc(names, nc * sizeof *g);
            if (!g)
                break;
            names = g;
            cap = nc;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    unsigned pending = 0;
    for (size_t i = 0; i < n; i++) {
        int skip = is_ignored(u, names[i]);
        pending += !skip;
        if (!*first && !skip)
            *first = names[i];
        else
            free(names[i]);
    }
    free(names);
    return pending;
}

static void job_close(agent_upload_t *u)
{
    job_t *j = &u->job;
    if (j->fd >= 0)
        close(j->fd);
    json_decref(j->json);
    memset(j, 0, sizeof *j);
    j->fd = -1;
}

/* The job ends with a verdict in its manifest. */
static void job_refuse(agent_upload_t *u, const char *reason)
{
    char why[TT_WHY_LEN];
    tt_diag_warn("upload of %s refused: %s", u->job.name, reason);
    if (manifest_update(u, u->job.manifest, "refused", 0, reason, why) != 0)
        tt_diag_error("upload: %s", why);
    emit(u, AGENT_UPLOAD_REFUSED, reason);
    job_close(u);
    u->scan_ns = tt_time_mono_ns(); /* next file at once */
}

/* Loads manifest `name` into the job. 0, or -1 when it was ignored or refused. */
static int job_load(agent_upload_t *u, const char *mname)
{
    job_t *j = &u->job;
    job_close(u);
    size_t sl = strlen(".json");
    /* scan_dir keeps names under 250 bytes and the dir under PATH_MAX - 256. */
    int keep = (int)(strlen(mname) - sl);
    snprintf(j->name, sizeof j->name, "%.*s", keep < 250 ? keep : 250, mname);
    snprintf(j->manifest, sizeof j->manifest, "%.3800s/%.250s", u->dir, mname);
    snprintf(j->wav, sizeof j->wav, "%.3800s/%.250s", u->dir, j->name);
    json_error_t err;
    j->json = json_load_file(j->manifest, 0, &err);
    if (!j->json || !json_is_object(j->json)) {
        char why[TT_WHY_LEN];
        snprintf(why, sizeof why, "not a JSON object (%s)", err.text);
        ignore(u, mname, why);
        job_close(u);
        return -1;
    }
    j->active = 1;
    char why[TT_WHY_LEN];
    if (agent_manifest_decode(j->json, &j->media, j->hash, why) != 0) {
        job_refuse(u, why);
        return -1;
    }
    j->fd = open(j->wav, O_RDONLY | O_CLOEXEC);
    if (j->fd < 0) {
        snprintf(why, sizeof why, "cannot open %.250s: %s", j->name, strerror(errno));
        job_refuse(u, why);
        return -1;
    }
    j->backoff_ms = BACKOFF_MIN_MS;
    return 0;
}

/* One-file mode: the given file as the given record. 0, or -1 when refused. */
static int job_load_one(agent_upload_t *u)
{
    job_t *j = &u->job;
    job_close(u);
    const char *base = strrchr(u->one_file, '/');
    snprintf(j->name, sizeof j->name, "%.250s", base ? base + 1 : u->one_file);
    snprintf(j->wav, sizeof j->wav, "%s", u->one_file);
    j->active = 1;
    j->media = *u->one; /* its strings and hash stay u->one's */
    j->fd = open(j->wav, O_RDONLY | O_CLOEXEC);
    if (j->fd < 0) {
        char why[TT_WHY_LEN];
        snprintf(why, sizeof why, "cannot open %.250s: %s", j->wav, strerror(errno));
        job_refuse(u, why);
        return -1;
    }
    j->backoff_ms = BACKOFF_MIN_MS;
    return 0;
}

/* ------------------------------------------------------------ the transfer */

static void drop_client(agent_upload_t *u)
{
    tt_client_destroy(&u->client);
}

/* When the answer to what was just sent is due: the last chunk's answer
 * waits for the coordinator to hash the whole file (BLAKE2b ~600 MB/s; allow
 * 50 MB/s). */
static int64_t due(const agent_upload_t *u, int64_t now)
{
    const job_t *j = &u->job;
    int64_t ns = now + (int64_t)u->timeout_ms * 1000000;
    if (j->phase == P_SENDING && j->next >= j->media.size)
        ns += (int64_t)(j->media.size / 50) * 1000; /* size / 50e6 s in ns */
    return ns;
}

/* This attempt failed: new socket, offer again after the backoff. */
static void attempt_failed(agent_upload_t *u, const char *reason)
{
    job_t *j = &u->job;
    drop_client(u);
    j->phase = P_BACKOFF;
    j->retry_ns = tt_time_mono_ns() + (int64_t)j->backoff_ms * 1000000;
    tt_diag_warn("upload of %s interrupted at %llu of %llu: %s; again in %d ms", j->name,
                 (unsigned long long)j->acked, (unsigned long long)j->media.size, reason,
                 j->backoff_ms);
    emit(u, AGENT_UPLOAD_RETRY, reason);
    j->backoff_ms = j->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : j->backoff_ms * 2;
}

static void offer(agent_upload_t *u)
{
    job_t *j = &u->job;
    char why[TT_WHY_LEN];
    if (u->coord.port == 0) { /* the coordinator's upload port is not known yet */
        j->phase = P_BACKOFF;
        j->retry_ns = tt_time_mono_ns() + 1000000000LL;
        return;
    }
    if (!u->client) {
        char ep[300];
        if (tt_wire_endpoint_with_port(u->coord.endpoint, u->coord.port, ep, sizeof ep) != 0) {
            tt_diag_error("upload: cannot make an endpoint of %s and port %u", u->coord.endpoint,
                          u->coord.port);
            j->phase = P_BACKOFF;
            j->retry_ns = tt_time_mono_ns() + (int64_t)BACKOFF_MAX_MS * 1000000;
            return;
        }
        u->client = tt_client_new(u->ctx, ep, u->coord.server_key, u->keys, 0, why);
        if (!u->client) {
            attempt_failed(u, why);
            return;
        }
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__UploadOffer o = TUTTI__UPLOAD_OFFER__INIT;
    o.media = &j->media;
    env.body_case = TUTTI__ENVELOPE__BODY_UPLOAD_OFFER;
    env.upload_offer = &o;
    if (tt_client_send(u->client, &env, why) != 0) {
        attempt_failed(u, why);
        return;
    }
    j->offer_id = env.request_id;
    j->phase = P_OFFERED;
    j->outstanding = 0;
    j->deadline_ns = tt_time_mono_ns() + (int64_t)u->timeout_ms * 1000000;
}

/* Sends chunks while credit, bytes and the rate cap allow. Returns the ms
 * until pacing allows the next one, or -1 when not paced. */
static int send_chunks(agent_upload_t *u)
{
    job_t *j = &u->job;
    while (j->phase == P_SENDING && j->credit > 0 && j->next < j->media.size) {
        uint64_t left = j->media.size - j->next;
        size_t len = j->chunk;
        if (u->rate) { /* small chunks under a low cap, so pacing stays smooth */
            uint64_t tenth = u->rate / 8 > 4096 ? u->rate / 8 : 4096;
            if (len > tenth)
                len = (size_t)tenth;
        }
        if (len > left)
            len = (size_t)left;
        int64_t now = tt_time_mono_ns();
        if (u->rate) {
            double burst = (double)(len > u->rate / 10 ? len : u->rate / 10);
            u->tokens += (double)(now - u->tokens_ns) * 1e-9 * (double)u->rate;
            if (u->tokens > burst)
                u->tokens = burst;
            u->tokens_ns = now;
            if (u->tokens < (double)len) {
                double wait_s = ((double)len - u->tokens) / (double)u->rate;
                return (int)(wait_s * 1000.0) + 1;
            }
        }
        size_t got = 0;
        while (got < len) {
            ssize_t r = pread(j->fd, u->buf + got, len - got, (off_t)(j->next + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (got != len) {
            char why[TT_WHY_LEN];
            snprintf(why, sizeof why, "%.250s holds fewer bytes than its manifest's %llu", j->name,
                     (unsigned long long)j->media.size);
            job_refuse(u, why);
            return -1;
        }
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__UploadChunk c = TUTTI__UPLOAD_CHUNK__INIT;
        c.offset = j->next;
        c.data.data = u->buf;
        c.data.len = len;
        env.body_case = TUTTI__ENVELOPE__BODY_UPLOAD_CHUNK;
        env.upload_chunk = &c;
        char why[TT_WHY_LEN];
        if (tt_client_send(u->client, &env, why) != 0)
            return 10; /* queue full: try again shortly */
        j->outstanding++;
        j->credit--;
        j->next += len;
        if (j->outstanding == 1 || j->next >= j->media.size)
            j->deadline_ns = due(u, now);
        if (u->rate)
            u->tokens -= (double)len;
    }
    return -1;
}

/* A refusal the room cannot fix by trying again. */
static int is_verdict(int code)
{
    return code == TT_ERR_INVALID || code == TT_ERR_DENIED || code == TT_ERR_TOO_BIG ||
           code == TT_ERR_NOTFOUND || code == TT_ERR_CORRUPT;
}

static void on_reply(agent_upload_t *u, Tutti__Envelope *env)
{
    job_t *j = &u->job;
    if (!j->active || j->phase == P_BACKOFF || env->request_id < j->offer_id)
        return; /* nothing asked, or an answer to an earlier attempt */
    int64_t now = tt_time_mono_ns();
    switch (env->body_case) {
    case TUTTI__ENVELOPE__BODY_UPLOAD_ACCEPT: {
        const Tutti__UploadAccept *a = env->upload_accept;
        if (j->phase != P_OFFERED || a->offset >= j->media.size || a->chunk_size == 0) {
            attempt_failed(u, "the coordinator's accept does not fit the offer");
            return;
        }
        j->chunk = a->chunk_size > MAX_CHUNK ? MAX_CHUNK : a->chunk_size;
        j->credit = a->credit > MAX_CREDIT ? MAX_CREDIT : a->credit ? a->credit : 1;
        if (j->chunk > u->buf_len) {
            uint8_t *b = realloc(u->buf, j->chunk);
            if (!b) {
                attempt_failed(u, "out of memory for a chunk");
                return;
            }
            u->buf = b;
            u->buf_len = j->chunk;
        }
        j->next = j->acked = a->offset;
        j->phase = P_SENDING;
        j->outstanding = 0;
        j->deadline_ns = now + (int64_t)u->timeout_ms * 1000000;
        u->tokens_ns = now;
        u->tokens = 0;
        tt_diag_info("upload of %s: the coordinator holds %llu of %llu bytes; sending the rest",
                     j->name, (unsigned long long)a->offset, (unsigned long long)j->media.size);
        emit(u, AGENT_UPLOAD_STARTED, NULL);
        break;
    }
    case TUTTI__ENVELOPE__BODY_UPLOAD_CREDIT: {
        const Tutti__UploadCredit *c = env->upload_credit;
        if (j->phase != P_SENDING || c->acked > j->next || c->acked < j->acked) {
            attempt_failed(u, "a credit that does not fit what was sent");
            return;
        }
        j->acked = c->acked;
        j->credit += c->credit;
        if (j->credit > MAX_CREDIT)
            j->credit = MAX_CREDIT;
        if (j->outstanding > 0)
            j->outstanding--;
        j->deadline_ns = due(u, now);
        j->backoff_ms = BACKOFF_MIN_MS; /* progress: the link works */
        if (now - u->progress_ns > 500000000LL) {
            u->progress_ns = now;
            emit(u, AGENT_UPLOAD_PROGRESS, NULL);
        }
        break;
    }
    case TUTTI__ENVELOPE__BODY_UPLOAD_DONE: {
        uint64_t seq = env->upload_done->seq;
        char why[TT_WHY_LEN];
        j->acked = j->media.size;
        tt_diag_info("upload of %s confirmed: %llu bytes verified, record %llu", j->name,
                     (unsigned long long)j->media.size, (unsigned long long)seq);
        if (manifest_update(u, j->manifest, "confirmed", seq, NULL, why) != 0)
            tt_diag_error("upload: %s", why);
        agent_upload_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = AGENT_UPLOAD_CONFIRMED;
        snprintf(ev.name, sizeof ev.name, "%s", j->name);
        ev.seq = seq;
        ev.offset = ev.size = j->media.size;
        emit_ev(u, &ev);
        job_close(u);
        u->scan_ns = now;
        break;
    }
    case TUTTI__ENVELOPE__BODY_ERROR: {
        int code = env->error->code ? -(int)env->error->code : TT_ERR_PROTOCOL;
        const char *msg = env->error->message ? env->error->message : "";
        char reason[TT_WHY_LEN];
        snprintf(reason, sizeof reason, "%s: %s", tt_strerror(code), msg);
        if (is_verdict(code)) {
            u->refused_code = code;
            job_refuse(u, reason);
            u->refused_code = 0;
        } else
            attempt_failed(u, reason);
        break;
    }
    default: attempt_failed(u, "an unexpected answer on the upload socket"); break;
    }
}

/* ------------------------------------------------------------ the thread */

static void on_port(void *self, const void *data, size_t len)
{
    (void)len;
    agent_upload_t *u = self;
    if (!agent_coord_apply(&u->coord, data))
        return;
    tt_diag_info("upload: the coordinator's upload service is on port %u (%s)", u->coord.port,
                 u->coord.endpoint);
    drop_client(u);
    if (u->job.active) { /* offer again on the new port now */
        u->job.phase = P_BACKOFF;
        u->job.retry_ns = 0;
        u->job.backoff_ms = BACKOFF_MIN_MS;
    }
}

static void on_nudge(void *self, const void *data, size_t len)
{
    (void)data;
    (void)len;
    agent_upload_t *u = self;
    u->scan_ns = 0;
}

static const tt_actor_cmd_t commands[] = {
    {AGENT_COORD_CMD, sizeof(agent_coord_msg_t), on_port},
    {CMD_NUDGE, 0, on_nudge},
    {NULL, 0, NULL},
};

static void on_command(agent_upload_t *u)
{
    for (;;) {
        tt_actor_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_actor_recv(u->pipe, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_PROTOCOL)
            continue; /* malformed: dropped whole */
        if (rc != 0)
            return;
        if (tt_actor_is_stop(m.cmd))
            u->stop = 1;
        else if (tt_actor_dispatch(commands, u, &m, why) != 0)
            tt_diag_error("upload: %s", why);
        tt_actor_msg_clear(&m);
    }
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void upload_actor(void *pipe, void *arg)
{
    agent_upload_t *u = arg;
    u->pipe = pipe;
    tt_actor_ready(pipe, 0, NULL);
    while (!u->stop) {
        int64_t now = tt_time_mono_ns();
        job_t *j = &u->job;
        if (u->one && !j->active) { /* one-file mode: offer it until there is a verdict */
            if (!u->one_done && job_load_one(u) == 0)
                offer(u);
        } else if (!j->active && now >= u->scan_ns) {
            char *first = NULL;
            agent_upload_event_t ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = AGENT_UPLOAD_SCANNED;
            ev.pending = scan_dir(u, &first);
            u->scan_ns = now + (int64_t)u->scan_ms * 1000000;
            if (first) {
                snprintf(ev.name, sizeof ev.name, "%s", first);
                if (job_load(u, first) == 0)
                    offer(u);
                free(first);
            }
            emit_ev(u, &ev);
            continue;
        }
        if (j->active && j->phase == P_BACKOFF && now >= j->retry_ns)
            offer(u);
        int pace_ms = j->active ? send_chunks(u) : -1;
        now = tt_time_mono_ns();
        if (j->active && (j->phase == P_OFFERED || (j->phase == P_SENDING && j->outstanding > 0)) &&
            now >= j->deadline_ns) {
            char why[128];
            snprintf(why, sizeof why, "no answer within %d ms", u->timeout_ms);
            attempt_failed(u, why);
            continue;
        }
        int64_t wake = j->active || u->one ? INT64_MAX : u->scan_ns;
        if (j->active && j->phase == P_BACKOFF)
            wake = min64(wake, j->retry_ns);
        if (j->active && (j->phase == P_OFFERED || (j->phase == P_SENDING && j->outstanding > 0)))
            wake = min64(wake, j->deadline_ns);
        if (pace_ms >= 0)
            wake = min64(wake, now + (int64_t)pace_ms * 1000000);
        long timeout = wake == INT64_MAX ? 1000 : (long)((wake - now) / 1000000) + 1;
        if (timeout < 0)
            timeout = 0;
        zmq_pollitem_t items[3] = {{pipe, 0, ZMQ_POLLIN, 0}};
        int n = 1;
        if (u->client) {
            items[1] = (zmq_pollitem_t){tt_client_socket(u->client), 0, ZMQ_POLLIN, 0};
            items[2] = (zmq_pollitem_t){tt_client_monitor(u->client), 0, ZMQ_POLLIN, 0};
            n = 3;
        }
        if (zmq_poll(items, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            tt_diag_error("upload: polling: %s", zmq_strerror(errno));
            break;
        }
        if (items[0].revents & ZMQ_POLLIN)
            on_command(u);
        if (n == 3 && !u->client)
            continue; /* a new port: the socket polled is gone */
        if (n == 3 && (items[2].revents & ZMQ_POLLIN)) {
            char why[TT_WHY_LEN];
            int connected = -1;
            int rc = tt_client_check_monitor(u->client, &connected, why);
            if (rc != 0 && j->active)
                attempt_failed(u, why);
            else if (connected == 0 && j->active && j->phase != P_BACKOFF)
                attempt_failed(u, "connection to the coordinator lost");
            if (!u->client)
                continue;
        }
        if (n == 3 && (items[1].revents & ZMQ_POLLIN)) {
            for (int k = 0; k < 64 && u->client; k++) {
                tt_wire_msg_t m;
                char why[TT_WHY_LEN];
                int rc = tt_wire_recv(tt_client_socket(u->client), 0, ZMQ_DONTWAIT, &m, why);
                if (rc == TT_ERR_AGAIN)
                    break;
                if (rc == TT_ERR_IO) {
                    tt_diag_warn("upload: reading from the coordinator: %s", why);
                    break;
                }
                if (rc == 0)
                    on_reply(u, m.env);
                else if (j->active && j->phase != P_BACKOFF)
                    attempt_failed(u, why);
                tt_wire_msg_clear(&m);
            }
        }
    }
    job_close(u);
    drop_client(u);
}

/* ------------------------------------------------------------ owner side */

/* One-file mode's own copies: the record is packed and unpacked, so the
 * thread owns every string of it. */
static int one_file_copy(agent_upload_t *u, const char *file, const Tutti__Media *m, char *why)
{
    size_t len = tutti__media__get_packed_size(m);
    uint8_t *b = malloc(len ? len : 1);
    if (!b || !(u->one_file = strdup(file))) {
        free(b);
        return tt_fail(why, TT_ERR_NOMEM, "copying the file's record");
    }
    tutti__media__pack(m, b);
    u->one = tutti__media__unpack(NULL, len, b);
    free(b);
    return u->one ? 0 : tt_fail(why, TT_ERR_NOMEM, "copying the file's record");
}

agent_upload_t *agent_upload_start(const agent_upload_config_t *cfg, char *why)
{
    agent_upload_t *u = calloc(1, sizeof *u);
    if (!u) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the uploader");
        return NULL;
    }
    u->job.fd = -1;
    u->ctx = cfg->ctx;
    if (!cfg->endpoint || !(cfg->capture_dir || (cfg->file && cfg->media)) ||
        !cfg->server_key_z85 || !cfg->keys) {
        tt_fail(why, TT_ERR_INVALID, "the uploader needs an endpoint, keys and a capture dir");
        goto fail;
    }
    if (cfg->file && one_file_copy(u, cfg->file, cfg->media, why) != 0)
        goto fail;
    if (strlen(cfg->endpoint) >= sizeof u->coord.endpoint ||
        (cfg->capture_dir && strlen(cfg->capture_dir) >= sizeof u->dir - 256)) {
        tt_fail(why, TT_ERR_INVALID, "endpoint or capture dir too long");
        goto fail;
    }
    char probe[300];
    if (tt_wire_endpoint_with_port(cfg->endpoint, 1, probe, sizeof probe) != 0) {
        tt_fail(why, TT_ERR_INVALID, "'%s' is not a tcp://HOST:PORT endpoint", cfg->endpoint);
        goto fail;
    }
    snprintf(u->coord.endpoint, sizeof u->coord.endpoint, "%s", cfg->endpoint);
    snprintf(u->dir, sizeof u->dir, "%s", cfg->capture_dir ? cfg->capture_dir : ".");
    struct stat st;
    errno = 0;
    if (!u->one && (stat(u->dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        tt_fail(why, TT_ERR_INVALID, "capture dir %.400s: %s", u->dir,
                errno ? strerror(errno) : "not a directory");
        goto fail;
    }
    snprintf(u->coord.server_key, sizeof u->coord.server_key, "%s", cfg->server_key_z85);
    snprintf(u->room, sizeof u->room, "%s", cfg->room ? cfg->room : "");
    u->coord.port = u->sent.port = cfg->upload_port;
    u->rate = cfg->rate_bytes_per_s;
    u->scan_ms = cfg->scan_interval_ms > 0 ? cfg->scan_interval_ms : 1000;
    u->timeout_ms = cfg->reply_timeout_ms > 0 ? cfg->reply_timeout_ms : 10000;
    u->buf_len = 256 * 1024;
    if (!(u->buf = malloc(u->buf_len))) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the chunk buffer");
        goto fail;
    }
    if (!(u->keys = tt_keypair_copy(cfg->keys, why)))
        goto fail;
    if (!(u->actor = tt_actor_new(cfg->ctx, "upload", upload_actor, u, NULL, why)))
        goto fail;
    return u;
fail:
    agent_upload_stop(&u);
    return NULL;
}

void agent_upload_stop(agent_upload_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_upload_t *u = *self_p;
    tt_actor_destroy(&u->actor); /* joined: its job and client are closed */
    tt_keypair_destroy(&u->keys);
    free(u->buf);
    free(u->one_file);
    if (u->one)
        tutti__media__free_unpacked(u->one, NULL);
    free(u);
    *self_p = NULL;
}

void agent_upload_set_coordinator(agent_upload_t *u, const char *endpoint, const char *server_key,
                                  unsigned port)
{
    agent_coord_send(tt_actor_sock(u->actor), &u->sent, endpoint, server_key, port);
}

void agent_upload_set_port(agent_upload_t *u, unsigned port)
{
    agent_upload_set_coordinator(u, NULL, NULL, port);
}

void agent_upload_nudge(agent_upload_t *u)
{
    /* A nudge lost to a full pipe is made up by the next scan. */
    tt_actor_send(tt_actor_sock(u->actor), ZMQ_DONTWAIT, CMD_NUDGE, NULL, 0, NULL);
}

void *agent_upload_socket(agent_upload_t *u)
{
    return tt_actor_sock(u->actor);
}

int agent_upload_read(agent_upload_t *u, agent_upload_event_t *ev)
{
    tt_actor_msg_t m;
    while (tt_actor_recv(tt_actor_sock(u->actor), ZMQ_DONTWAIT, &m, NULL) == 0) {
        int got = !strcmp(m.cmd, CMD_EVENT) && m.len == sizeof *ev;
        if (got)
            memcpy(ev, m.data, sizeof *ev);
        tt_actor_msg_clear(&m);
        if (got)
            return 1;
    }
    return 0;
}
