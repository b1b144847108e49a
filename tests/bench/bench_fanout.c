/* tutti-bench-fanout: updates fanned out to many subscribers by a real
 * coordinator, against raw libzmq CURVE PUB/SUB in the same run.
 *
 * One process holds N CURVE SUB sockets on the coordinator's updates port
 * (N observer keys in its access file, so every handshake passes its ZAP
 * handler) and N more on a raw publisher: a forked child of this program
 * with a CURVE ROUTER and a CURVE PUB and nothing else (no ZAP, no store).
 * Meanwhile K rooms heartbeat every second on DEALERs as agents do, and a
 * writer sends notes at a fixed rate.
 *
 * Both sides are driven alike: the writer sends a request, the server
 * answers it and then publishes one update of the same size (the raw side
 * sends an Update envelope of the size the coordinator's note updates
 * have). The coordinator publishes a group's updates right after its
 * commit and its replies, so its publish instant is not visible from
 * outside; the latency compared is therefore from the moment the reply
 * reaches the writer to each subscriber's receipt ("reply_to_receive"),
 * measured the same way on both sides. The raw side also stamps its send
 * instant into each update, which gives true send-to-receive latency
 * ("send_to_receive", a bound on what the reply method leaves out). All
 * times are CLOCK_MONOTONIC on this host. The coordinator's and the raw
 * side's rounds are interleaved, so a busy spell on the shared machine
 * weighs on both.
 *
 * Also reported: the coordinator's CPU time (utime+stime from
 * /proc/PID/stat) during its rounds, its memory with 0 and with N
 * subscribers (memory per subscriber), how long the N handshakes took, and
 * updates that never reached a subscriber (must be 0). Bounded: every wait
 * has a deadline; every child is stopped by PID.
 *
 * Hooks: --relay-bin PATH adds a third set of N subscribers behind a
 * tutti-relay (when PATH exists); --standby measures write latency with a
 * synchronous standby coordinator against the coordinator alone (when
 * tutti-coordinator knows --standby-of).
 */
#define _GNU_SOURCE
#include "bench_proc.h"
#include "tt_client.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define PROBE_BIT (1ULL << 62) /* a raw update that only says "connected" */
#define SUB_HWM 200000         /* as an agent's updates socket */
#define PUB_HWM 200000         /* as the coordinator's */
#define MAX_SUBS 5000
#define MAX_ROOMS 200
#define MAX_MESSAGES 100000

/* ------------------------------------------------------------ options */

typedef struct {
    int subs, rooms, messages, rounds;
    double rate;
    const char *relay_bin;
    const char *coordinator_dir; /* NULL: beside this program (or beside --relay-bin) */
    int standby;
} opts_t;

static void usage(FILE *out)
{
    fprintf(out, "Usage: tutti-bench-fanout [--subscribers N] [--rooms K] [--messages M]\n"
                 "                          [--rate HZ] [--rounds R] [--relay-bin PATH]\n"
                 "                          [--coordinator-dir DIR] [--standby]\n"
                 "\n"
                 "Fan-out latency of a real tutti-coordinator to N CURVE subscribers (observer\n"
                 "keys, through its ZAP handler) while K rooms heartbeat every second and a\n"
                 "writer sends M notes at HZ, against raw libzmq CURVE PUB/SUB (a CURVE PUB in a\n"
                 "child process, N CURVE SUBs, updates of the same size) in the same run, the\n"
                 "two interleaved in R rounds. Latency: from the write's reply reaching the\n"
                 "writer to each subscriber's receipt, the same way on both sides (the\n"
                 "coordinator publishes right after its commit and replies); the raw side\n"
                 "also reports true send-to-receive. p50/p99/max, the p99 ratio (target <=\n"
                 "1.5), the coordinator's CPU and memory per subscriber, updates lost (must\n"
                 "be 0). Prints one JSON object.\n"
                 "\n"
                 "  --subscribers N  subscribers per side (default 1000)\n"
                 "  --rooms K        rooms heartbeating every second (default 50)\n"
                 "  --messages M     updates per side (default 100)\n"
                 "  --rate HZ        writes per second (default 5)\n"
                 "  --rounds R       alternations of the two sides (default 4)\n"
                 "  --relay-bin PATH then M more notes, to N subscribers of one tutti-relay at\n"
                 "                   PATH (the coordinator beside it is used, which knows the\n"
                 "                   relay role; skipped, and said so, when PATH is not an\n"
                 "                   executable)\n"
                 "  --coordinator-dir DIR\n"
                 "                   run DIR/tutti-coordinator (default: beside this program,\n"
                 "                   or beside --relay-bin)\n"
                 "  --standby        then write latency of a primary with a synchronous\n"
                 "                   standby (tutti-coordinator --peer / --standby-of, from\n"
                 "                   --coordinator-dir) against the run's coordinator alone,\n"
                 "                   notes interleaved (skipped, and said so, when that\n"
                 "                   tutti-coordinator has no --standby-of)\n"
                 "\n"
                 "Example: tutti-bench-fanout --subscribers 1000 --messages 200 --rate 10\n");
}

/* ------------------------------------------------------------ keys */

typedef struct {
    tt_keypair_t *server_raw; /* the raw publisher's */
    tt_keypair_t *writer;
    tt_keypair_t **rooms;
    tt_keypair_t **subs;
    char coord_pub[TT_Z85_KEY_LEN + 1];
} keys_t;

static void keys_free(keys_t *k, const opts_t *o)
{
    tt_keypair_destroy(&k->server_raw);
    tt_keypair_destroy(&k->writer);
    for (int i = 0; k->rooms && i < o->rooms; i++)
        tt_keypair_destroy(&k->rooms[i]);
    for (int i = 0; k->subs && i < o->subs; i++)
        tt_keypair_destroy(&k->subs[i]);
    free(k->rooms);
    free(k->subs);
}

/* Keys made here; the coordinator's saved for it; the access file names the
 * writer (operator), the rooms and the observers. */
static int keys_make(bench_env_t *env, keys_t *k, const opts_t *o)
{
    char why[TT_WHY_LEN], path[1200];
    memset(k, 0, sizeof *k);
    if (bench_keygen(env, "coordinator") || bench_pubkey(env, "coordinator", k->coord_pub))
        return -1;
    k->rooms = calloc((size_t)o->rooms, sizeof *k->rooms);
    k->subs = calloc((size_t)o->subs, sizeof *k->subs);
    if (!k->rooms || !k->subs || !(k->server_raw = tt_keypair_generate(why)) ||
        !(k->writer = tt_keypair_generate(why)))
        return -1;
    snprintf(path, sizeof path, "%s/keys", env->tmp);
    char access_path[1200];
    snprintf(access_path, sizeof access_path, "%s/access", env->tmp);
    FILE *f = fopen(access_path, "w");
    if (!f)
        return -1;
    fprintf(f, "operator writer %s\n", k->writer->public_z85);
    if (o->relay_bin) {
        char relay_pub[TT_Z85_KEY_LEN + 1];
        if (bench_keygen(env, "relay") || bench_pubkey(env, "relay", relay_pub)) {
            fclose(f);
            return -1;
        }
        fprintf(f, "relay site-relay %s\n", relay_pub);
    }
    if (o->standby) {
        /* (d): the primary's access file names its standby; the standby's
         * (access-standby) names the primary, as tutti-coordinator wants */
        char sb_pub[TT_Z85_KEY_LEN + 1], sb_access[1200];
        if (bench_keygen(env, "standby") || bench_pubkey(env, "standby", sb_pub) ||
            tt_keypair_save(k->writer, path, "writer", why) != 0) {
            fclose(f);
            return -1;
        }
        fprintf(f, "coordinator standby %s\n", sb_pub);
        snprintf(sb_access, sizeof sb_access, "%s/access-standby", env->tmp);
        FILE *g = fopen(sb_access, "w");
        if (!g)
            return -1;
        fprintf(g, "operator writer %s\ncoordinator primary %s\n", k->writer->public_z85,
                k->coord_pub);
        if (fclose(g) != 0)
            return -1;
    }
    for (int i = 0; i < o->rooms; i++) {
        if (!(k->rooms[i] = tt_keypair_generate(why)))
            break;
        fprintf(f, "room r%03d %s\n", i + 1, k->rooms[i]->public_z85);
    }
    for (int i = 0; i < o->subs; i++) {
        if (!(k->subs[i] = tt_keypair_generate(why)))
            break;
        fprintf(f, "observer o%04d %s\n", i + 1, k->subs[i]->public_z85);
    }
    return fclose(f) == 0 && k->subs[o->subs - 1] && k->rooms[o->rooms - 1] ? 0 : -1;
}

/* ------------------------------------------------------------ wire peeking */

/* A base-128 varint at *p; 0 past end or over 10 bytes. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

enum { PEEK_OTHER, PEEK_UPDATE, PEEK_HEARTBEAT };

/* What an envelope frame is, without decoding it: an Update's seq and the
 * first 8 bytes of its record (the raw side's send instant). Subscribers
 * on both sides read their frames this way, so neither pays for a full
 * decode in the measured path. */
static int peek(const uint8_t *buf, size_t len, uint64_t *seq, int64_t *stamp)
{
    const uint8_t *p = buf, *end = buf + len;
    uint64_t key, v;
    while (p < end && varint(&p, end, &key)) {
        unsigned wt = key & 7, field = (unsigned)(key >> 3);
        if (wt == 0) {
            if (!varint(&p, end, &v))
                return PEEK_OTHER;
            continue;
        }
        if (wt != 2 || !varint(&p, end, &v) || v > (uint64_t)(end - p))
            return PEEK_OTHER;
        if (field == 20)
            return PEEK_HEARTBEAT;
        if (field == 19) {
            const uint8_t *q = p, *qend = p + v;
            *seq = 0;
            *stamp = 0;
            while (q < qend && varint(&q, qend, &key)) {
                if ((key & 7) == 0) {
                    if (!varint(&q, qend, &v))
                        return PEEK_OTHER;
                    if (key >> 3 == 2)
                        *seq = v;
                } else if ((key & 7) == 2) {
                    if (!varint(&q, qend, &v) || v > (uint64_t)(qend - q))
                        return PEEK_OTHER;
                    if (key >> 3 == 1 && v >= 8)
                        memcpy(stamp, q, 8);
                    q += v;
                } else {
                    return PEEK_OTHER;
                }
            }
            return PEEK_UPDATE;
        }
        p += v;
    }
    return PEEK_OTHER;
}

/* ------------------------------------------------------------ subscribers */

typedef struct {
    uint64_t id;
    int64_t t_ns;
    int64_t stamp; /* raw side: the publisher's send instant */
} rx_t;

typedef struct {
    const char *name;
    void *ctx;
    void **socks;
    int n;
    int cap;          /* rx slots per subscriber */
    rx_t *rx;         /* n * cap */
    int *rx_n;        /* per subscriber, written by the thread only */
    atomic_int *seen; /* per subscriber: has received anything */
    atomic_int n_seen;
    atomic_int stop;
    atomic_long update_bytes; /* size of the last update frame */
    long overflow;
    pthread_t th;
    int started;
} subset_t;

/* Reads everything sock i holds, stamping each frame as it comes. */
static void sub_drain(subset_t *s, int i)
{
    void *sock = s->socks[i];
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            /* ZMQ_FD only signals changes: look once more after EAGAIN */
            int ev = 0;
            size_t sz = sizeof ev;
            if (zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) != 0 || !(ev & ZMQ_POLLIN))
                return;
            continue;
        }
        int64_t t = tt_time_mono_ns();
        uint64_t seq = 0;
        int64_t stamp = 0;
        int kind = peek(zmq_msg_data(&m), zmq_msg_size(&m), &seq, &stamp);
        if (kind != PEEK_OTHER && !atomic_exchange(&s->seen[i], 1))
            atomic_fetch_add(&s->n_seen, 1);
        if (kind == PEEK_UPDATE && !(seq & PROBE_BIT)) {
            atomic_store(&s->update_bytes, (long)zmq_msg_size(&m));
            if (s->rx_n[i] < s->cap)
                s->rx[(size_t)i * s->cap + s->rx_n[i]++] = (rx_t){seq, t, stamp};
            else
                s->overflow++;
        }
        zmq_msg_close(&m);
    }
}

/* One epoll set over every socket's ZMQ_FD: a wake costs the sockets that
 * have something, not all N (zmq_poll over 1,000 sockets asks each one
 * on every return, which made the bench, not the servers, the slow part).
 * Every 100 ms every socket is read once more, in case an edge was missed. */
static void *sub_thread(void *arg)
{
    subset_t *s = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return NULL;
    for (int i = 0; i < s->n; i++) {
        int fd;
        size_t sz = sizeof fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (zmq_getsockopt(s->socks[i], ZMQ_FD, &fd, &sz) != 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            fprintf(stderr, "tutti-bench-fanout: %s: watching subscriber %d failed\n", s->name, i);
            close(ep);
            return NULL;
        }
    }
    struct epoll_event evs[256];
    int64_t next_sweep = tt_time_mono_ns();
    while (!atomic_load(&s->stop)) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int k = 0; k < n; k++)
            sub_drain(s, (int)evs[k].data.u32);
        int64_t now = tt_time_mono_ns();
        if (now >= next_sweep) {
            for (int i = 0; i < s->n; i++)
                sub_drain(s, i);
            next_sweep = now + 100000000;
        }
    }
    close(ep);
    return NULL;
}

/* N SUB sockets in a context of their own, connected to ep. */
static int subset_open(subset_t *s, const char *name, int n, int cap, tt_keypair_t **keys,
                       const char *server_key, const char *ep)
{
    char why[TT_WHY_LEN];
    memset(s, 0, sizeof *s);
    s->name = name;
    s->n = n;
    s->cap = cap;
    s->ctx = zmq_ctx_new();
    s->socks = calloc((size_t)n, sizeof *s->socks);
    s->rx = calloc((size_t)n * (size_t)cap, sizeof *s->rx);
    s->rx_n = calloc((size_t)n, sizeof *s->rx_n);
    s->seen = calloc((size_t)n, sizeof *s->seen);
    if (!s->ctx || !s->socks || !s->rx || !s->rx_n || !s->seen ||
        zmq_ctx_set(s->ctx, ZMQ_MAX_SOCKETS, n + 64) != 0) {
        fprintf(stderr, "tutti-bench-fanout: %s: setting up %d subscribers failed\n", name, n);
        return -1;
    }
    int hwm = SUB_HWM;
    for (int i = 0; i < n; i++) {
        void *sock = zmq_socket(s->ctx, ZMQ_SUB);
        if (!sock) {
            fprintf(stderr, "tutti-bench-fanout: %s: subscriber %d: %s\n", name, i,
                    zmq_strerror(errno));
            return -1;
        }
        s->socks[i] = sock;
        if (zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
            tt_wire_setup_client(sock, keys[i], server_key, why) != 0 ||
            zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0) != 0 || zmq_connect(sock, ep) != 0) {
            fprintf(stderr, "tutti-bench-fanout: %s: subscriber %d to %s: %s\n", name, i, ep,
                    zmq_strerror(errno));
            return -1;
        }
    }
    if (pthread_create(&s->th, NULL, sub_thread, s) != 0)
        return -1;
    s->started = 1;
    return 0;
}

static void subset_close(subset_t *s)
{
    if (s->started) {
        atomic_store(&s->stop, 1);
        pthread_join(s->th, NULL);
    }
    for (int i = 0; s->socks && i < s->n; i++)
        if (s->socks[i])
            zmq_close(s->socks[i]);
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    free(s->socks);
    free(s->rx);
    free(s->rx_n);
    free(s->seen);
    memset(s, 0, sizeof *s);
}

/* Waits until every subscriber has heard something; poke() (may be NULL)
 * makes the server say something. Seconds it took, or -1 past timeout_s. */
static double subset_wait_all(subset_t *s, double timeout_s, int (*poke)(void *), void *arg)
{
    int64_t t0 = tt_time_mono_ns();
    while (atomic_load(&s->n_seen) < s->n) {
        double el = (double)(tt_time_mono_ns() - t0) / 1e9;
        if (el > timeout_s) {
            fprintf(stderr,
                    "tutti-bench-fanout: %s: %d of %d subscribers heard nothing in %.0f s\n",
                    s->name, s->n - atomic_load(&s->n_seen), s->n, timeout_s);
            return -1;
        }
        if (poke && poke(arg) != 0)
            return -1;
        bench_sleep_s(0.05);
    }
    return (double)(tt_time_mono_ns() - t0) / 1e9;
}

/* ------------------------------------------------------------ the raw publisher */

typedef struct {
    uint64_t id;
    uint32_t frame_bytes; /* the update frame to publish */
} raw_req_t;

/* An Update envelope of about frame_bytes with seq = id and the send
 * instant in the record's first 8 bytes, sent on pub. */
static int raw_publish(void *pub, uint64_t id, size_t frame_bytes)
{
    static uint8_t record[65536];
    size_t rlen = frame_bytes > 24 ? frame_bytes - 16 : 8;
    if (rlen > sizeof record)
        rlen = sizeof record;
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Update up = TUTTI__UPDATE__INIT;
    up.seq = id;
    up.record.data = record;
    up.record.len = rlen;
    env.body_case = TUTTI__ENVELOPE__BODY_UPDATE;
    env.update = &up;
    env.version = TT_PROTOCOL_VERSION;
    size_t packed = tutti__envelope__get_packed_size(&env);
    if (packed > frame_bytes && rlen > 8 + (packed - frame_bytes))
        up.record.len = rlen - (packed - frame_bytes);
    int64_t t = tt_time_mono_ns();
    memcpy(record, &t, 8);
    zmq_msg_t frame;
    if (tt_wire_pack(&env, &frame, NULL) != 0)
        return -1;
    if (zmq_msg_send(&frame, pub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&frame);
        return -1;
    }
    return 0;
}

static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}

/* The child: a CURVE ROUTER and a CURVE PUB with the options the
 * coordinator's have, minus ZAP. Each request [id, size] is answered,
 * then published. Writes "ROUTER\nPUB\n" to epfile once bound. */
static void raw_publisher(const tt_keypair_t *kp, const char *epfile)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGTERM, on_term);
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 64);
    void *router = zmq_socket(ctx, ZMQ_ROUTER), *pub = zmq_socket(ctx, ZMQ_PUB);
    int one = 1, linger = 0, hwm = PUB_HWM, hs = 5000;
    int64_t maxmsg = TT_WIRE_MAX_MESSAGE;
    void *socks[2] = {router, pub};
    for (int i = 0; i < 2; i++)
        if (!socks[i] || zmq_setsockopt(socks[i], ZMQ_CURVE_SERVER, &one, sizeof one) ||
            zmq_setsockopt(socks[i], ZMQ_CURVE_SECRETKEY, kp->secret_z85, TT_Z85_KEY_LEN) ||
            zmq_setsockopt(socks[i], ZMQ_LINGER, &linger, sizeof linger) ||
            zmq_setsockopt(socks[i], ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
            zmq_setsockopt(socks[i], ZMQ_HANDSHAKE_IVL, &hs, sizeof hs) ||
            zmq_bind(socks[i], "tcp://127.0.0.1:*"))
            _exit(3);
    if (zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof hwm))
        _exit(3);
    char eps[2][256], tmp[1300];
    for (int i = 0; i < 2; i++) {
        size_t len = sizeof eps[i];
        if (zmq_getsockopt(socks[i], ZMQ_LAST_ENDPOINT, eps[i], &len))
            _exit(3);
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", epfile);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n%s\n", eps[0], eps[1]) < 0 || fclose(f) || rename(tmp, epfile))
        _exit(3);
    for (;;) {
        uint8_t rid[256];
        raw_req_t req;
        int n = zmq_recv(router, rid, sizeof rid, 0);
        if (n < 0)
            _exit(errno == EINTR ? 0 : 4);
        int m = zmq_recv(router, &req, sizeof req, 0);
        if (m != (int)sizeof req)
            continue;
        if (zmq_send(router, rid, (size_t)n, ZMQ_SNDMORE) < 0 ||
            zmq_send(router, &req.id, sizeof req.id, 0) < 0)
            continue;
        raw_publish(pub, req.id, req.frame_bytes);
    }
}

/* ------------------------------------------------------------ writers */

typedef struct {
    void *ctx;
    void *dealer;        /* the raw side */
    tt_client_t *client; /* the coordinator */
    uint32_t frame_bytes;
} writer_t;

/* One raw request and its reply; *t_reply when it came. */
static int raw_request(writer_t *w, uint64_t id, int64_t *t_reply)
{
    raw_req_t req = {id, w->frame_bytes};
    uint64_t back;
    if (zmq_send(w->dealer, &req, sizeof req, 0) < 0)
        return -1;
    zmq_pollitem_t it = {w->dealer, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 10000) != 1 || zmq_recv(w->dealer, &back, sizeof back, 0) != sizeof back ||
        back != id)
        return -1;
    *t_reply = tt_time_mono_ns();
    return 0;
}

static int raw_probe(void *arg)
{
    static uint64_t n;
    int64_t t;
    return raw_request(arg, PROBE_BIT | ++n, &t);
}

/* One note through the coordinator; its seq and the reply's instant. */
static int coord_note(writer_t *w, int k, uint64_t *seq, int64_t *t_reply)
{
    char why[TT_WHY_LEN], text[64];
    snprintf(text, sizeof text, "fan-out note %d from the bench", k);
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT, *reply = NULL;
    Tutti__NoteRequest nr = TUTTI__NOTE_REQUEST__INIT;
    nr.text = text;
    env.body_case = TUTTI__ENVELOPE__BODY_NOTE;
    env.note = &nr;
    tt_client_write_how_t how;
    int rc = tt_client_write(w->client, &env, &reply, 10000, &how, NULL, why);
    *t_reply = tt_time_mono_ns();
    if (rc != 0) {
        fprintf(stderr, "tutti-bench-fanout: note %d: %s\n", k, why);
        return -1;
    }
    *seq = reply->write_reply ? reply->write_reply->seq : 0;
    tutti__envelope__free_unpacked(reply, NULL);
    return *seq ? 0 : -1;
}

/* How many rooms the coordinator counts online (heard within its room
 * timeout), -1 when status fails. */
static int rooms_online(writer_t *w)
{
    char why[TT_WHY_LEN];
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT, *reply = NULL;
    Tutti__StatusRequest st = TUTTI__STATUS_REQUEST__INIT;
    env.body_case = TUTTI__ENVELOPE__BODY_STATUS;
    env.status = &st;
    if (tt_client_request(w->client, &env, &reply, 10000, why) != 0) {
        fprintf(stderr, "tutti-bench-fanout: status: %s\n", why);
        return -1;
    }
    int n = 0;
    for (size_t i = 0; reply->status_reply && i < reply->status_reply->n_rooms; i++)
        n += reply->status_reply->rooms[i]->online != 0;
    tutti__envelope__free_unpacked(reply, NULL);
    return n;
}

/* What one side sent: per message its id, request and reply instants. */
typedef struct {
    uint64_t *id;
    int64_t *t_req, *t_reply;
    int n;
} sent_t;

/* ------------------------------------------------------------ rooms */

typedef struct {
    void *ctx;
    tt_client_t **c;
    int n;
    atomic_int stop;
    atomic_long sent, answered;
    pthread_t th;
    int started;
} rooms_t;

/* Each room heartbeats once a second, the rooms spread over the second as
 * independent agents are; replies are read and dropped. */
static void *rooms_thread(void *arg)
{
    rooms_t *r = arg;
    zmq_pollitem_t items[MAX_ROOMS];
    int64_t next[MAX_ROOMS], t0 = tt_time_mono_ns();
    for (int i = 0; i < r->n; i++) {
        items[i] = (zmq_pollitem_t){tt_client_socket(r->c[i]), 0, ZMQ_POLLIN, 0};
        next[i] = t0 + (int64_t)1000000000 * i / r->n;
    }
    while (!atomic_load(&r->stop)) {
        int64_t now = tt_time_mono_ns(), soonest = now + 100000000;
        for (int i = 0; i < r->n; i++) {
            if (now >= next[i]) {
                Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
                Tutti__Heartbeat hb = TUTTI__HEARTBEAT__INIT;
                Tutti__ClockReport cr = TUTTI__CLOCK_REPORT__INIT;
                cr.state = "locked";
                cr.offset_us = 12.5;
                cr.rtt_us = 80;
                cr.error_bound_us = 20;
                hb.clock = &cr;
                env.body_case = TUTTI__ENVELOPE__BODY_HEARTBEAT;
                env.heartbeat = &hb;
                if (tt_client_send(r->c[i], &env, NULL) == 0)
                    atomic_fetch_add(&r->sent, 1);
                next[i] += 1000000000;
            }
            if (next[i] < soonest)
                soonest = next[i];
        }
        long ms = (long)((soonest - now) / 1000000);
        if (zmq_poll(items, r->n, ms < 1 ? 1 : ms) > 0)
            for (int i = 0; i < r->n; i++) {
                if (!(items[i].revents & ZMQ_POLLIN))
                    continue;
                tt_wire_msg_t m;
                char why[TT_WHY_LEN];
                while (tt_wire_recv(items[i].socket, 0, ZMQ_DONTWAIT, &m, why) != TT_ERR_AGAIN) {
                    atomic_fetch_add(&r->answered, 1);
                    tt_wire_msg_clear(&m);
                }
            }
    }
    return NULL;
}

/* ------------------------------------------------------------ process figures */

/* utime + stime of pid in seconds, -1 when unreadable. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Key:  N kB" line of /proc/PID/status in KiB, -1 when absent. */
static long proc_status_kib(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* TcpExt ListenOverflows from /proc/net/netstat: connections the kernel
 * dropped because a listener's accept queue was full (host-wide). */
static long listen_overflows(void)
{
    FILE *f = fopen("/proc/net/netstat", "r");
    if (!f)
        return -1;
    char names[8192], values[8192];
    long v = -1;
    while (fgets(names, sizeof names, f) && fgets(values, sizeof values, f)) {
        if (strncmp(names, "TcpExt:", 7) != 0)
            continue;
        char *sn, *sv;
        char *n = strtok_r(names, " \n", &sn), *x = strtok_r(values, " \n", &sv);
        while (n && x) {
            if (!strcmp(n, "ListenOverflows"))
                v = strtol(x, NULL, 10);
            n = strtok_r(NULL, " \n", &sn);
            x = strtok_r(NULL, " \n", &sv);
        }
    }
    fclose(f);
    return v;
}

static json_t *load_avg(void)
{
    double l[3] = {-1, -1, -1};
    if (getloadavg(l, 3) != 3)
        return json_null();
    return json_pack("[f, f, f]", l[0], l[1], l[2]);
}

/* ------------------------------------------------------------ results */

/* p50/p99/max of v (n values, sorted here) in microseconds. */
static json_t *dist_us(double *v, size_t n)
{
    bench_sort(v, n);
    if (n == 0)
        return json_pack("{s:i}", "samples", 0);
    return json_pack("{s:f, s:f, s:f, s:I}", "p50", bench_percentile(v, n, 50), "p99",
                     bench_percentile(v, n, 99), "max", v[n - 1], "samples", (json_int_t)n);
}

static int cmp_rx(const void *a, const void *b)
{
    uint64_t x = ((const rx_t *)a)->id, y = ((const rx_t *)b)->id;
    return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double *reply_to_rx, *req_to_rx, *send_to_rx, *all_rx;
    size_t n_reply, n_req, n_send, n_all;
    long lost, dup;
} lat_t;

/* Matches what every subscriber of s received against what was sent. */
static int collect(subset_t *s, const sent_t *sent, lat_t *L)
{
    size_t total = (size_t)s->n * (size_t)sent->n;
    memset(L, 0, sizeof *L);
    L->reply_to_rx = malloc(total * sizeof(double));
    L->req_to_rx = malloc(total * sizeof(double));
    L->send_to_rx = malloc(total * sizeof(double));
    L->all_rx = malloc((size_t)sent->n * sizeof(double));
    int64_t *last = calloc((size_t)sent->n, sizeof *last);
    /* sent ids in order, with their index */
    uint64_t(*ids)[2] = malloc((size_t)sent->n * sizeof *ids);
    if (!L->reply_to_rx || !L->req_to_rx || !L->send_to_rx || !L->all_rx || !last || !ids) {
        free(last);
        free(ids);
        return -1;
    }
    for (int k = 0; k < sent->n; k++) {
        ids[k][0] = sent->id[k];
        ids[k][1] = (uint64_t)k;
    }
    qsort(ids, (size_t)sent->n, sizeof *ids, cmp_u64);
    for (int i = 0; i < s->n; i++) {
        rx_t *rx = &s->rx[(size_t)i * s->cap];
        int n = s->rx_n[i];
        qsort(rx, (size_t)n, sizeof *rx, cmp_rx);
        int j = 0;
        for (int k = 0; k < sent->n; k++) {
            uint64_t id = ids[k][0];
            int idx = (int)ids[k][1];
            while (j < n && rx[j].id < id)
                j++;
            if (j == n || rx[j].id != id) {
                L->lost++;
                continue;
            }
            int64_t t = rx[j].t_ns;
            L->reply_to_rx[L->n_reply++] = (double)(t - sent->t_reply[idx]) / 1e3;
            L->req_to_rx[L->n_req++] = (double)(t - sent->t_req[idx]) / 1e3;
            if (rx[j].stamp)
                L->send_to_rx[L->n_send++] = (double)(t - rx[j].stamp) / 1e3;
            if (t > last[idx])
                last[idx] = t;
            j++;
            while (j < n && rx[j].id == id) {
                L->dup++;
                j++;
            }
        }
    }
    for (int k = 0; k < sent->n; k++)
        if (last[k])
            L->all_rx[L->n_all++] = (double)(last[k] - sent->t_reply[k]) / 1e3;
    free(last);
    free(ids);
    return 0;
}

static void lat_free(lat_t *L)
{
    free(L->reply_to_rx);
    free(L->req_to_rx);
    free(L->send_to_rx);
    free(L->all_rx);
}

static int sent_alloc(sent_t *s, int n)
{
    s->id = calloc((size_t)n, sizeof *s->id);
    s->t_req = calloc((size_t)n, sizeof *s->t_req);
    s->t_reply = calloc((size_t)n, sizeof *s->t_reply);
    s->n = 0;
    return s->id && s->t_req && s->t_reply ? 0 : -1;
}

static void sent_free(sent_t *s)
{
    free(s->id);
    free(s->t_req);
    free(s->t_reply);
}

/* ------------------------------------------------------------ through a relay */

/* Sleeps until t (monotonic ns). */
static void sleep_until(int64_t t)
{
    int64_t now = tt_time_mono_ns();
    if (t > now)
        bench_sleep_s((double)(t - now) / 1e9);
}

/* A port p with p, p+1 and p+2 free on loopback (a relay binds all three). */
static int free_port_triple(void)
{
    for (int tries = 0; tries < 50; tries++) {
        int fds[3] = {-1, -1, -1}, port = 0, ok = 1;
        for (int i = 0; i < 3 && ok; i++) {
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port ? port + i : 0)};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t al = sizeof a;
            fds[i] = socket(AF_INET, SOCK_STREAM, 0);
            ok = fds[i] >= 0 && bind(fds[i], (struct sockaddr *)&a, sizeof a) == 0 &&
                 getsockname(fds[i], (struct sockaddr *)&a, &al) == 0;
            if (ok && i == 0)
                port = ntohs(a.sin_port);
            ok = ok && port > 0 && port < 65533;
        }
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        if (ok)
            return port;
    }
    return -1;
}

/* Starts the relay at o->relay_bin upstream of coord_ep, puts N subscribers
 * on its updates port, writes o->messages notes at o->rate through the
 * coordinator and measures as for the coordinator's own subscribers. */
static json_t *relay_phase(bench_env_t *env, const opts_t *o, keys_t *k, const char *coord_ep,
                           writer_t *w, pid_t coord_pid, long *lost)
{
    subset_t rs = {0};
    sent_t sent = {0};
    lat_t L = {0};
    json_t *out = NULL;
    char relay_pub[TT_Z85_KEY_LEN + 1], bind[64], upd[64], key[1200], skey[1200], access[1200];
    int port = free_port_triple();
    if (port < 0 || bench_pubkey(env, "relay", relay_pub) != 0)
        return json_pack("{s:s}", "failed", "no free ports or no relay key");
    snprintf(bind, sizeof bind, "tcp://127.0.0.1:%d", port);
    snprintf(upd, sizeof upd, "tcp://127.0.0.1:%d", port + 1);
    snprintf(key, sizeof key, "%s/keys/relay.key", env->tmp);
    snprintf(skey, sizeof skey, "%s/keys/coordinator.pub", env->tmp);
    snprintf(access, sizeof access, "%s/access", env->tmp);
    char *argv[] = {"",  "--coordinator", (char *)coord_ep, "--server-key", skey, "--key",
                    key, "--access",      access,           "--bind",       bind, NULL};
    char saved[1024], path[1024];
    snprintf(saved, sizeof saved, "%s", env->bin_dir);
    snprintf(path, sizeof path, "%s", o->relay_bin);
    char *slash = strrchr(path, '/');
    const char *prog = slash ? slash + 1 : path;
    snprintf(env->bin_dir, sizeof env->bin_dir, "%.*s", slash ? (int)(slash - path) : 1,
             slash ? path : ".");
    pid_t relay_pid = bench_spawn(env, "relay", prog, argv);
    snprintf(env->bin_dir, sizeof env->bin_dir, "%s", saved);
    if (relay_pid < 0)
        return json_pack("{s:s}", "failed", "could not start the relay");
    int cap = o->messages + 64;
    if (subset_open(&rs, "relay", o->subs, cap, k->subs, relay_pub, upd) != 0) {
        out = json_pack("{s:s}", "failed", "opening the relay's subscribers");
        goto done;
    }
    double connect_s = subset_wait_all(&rs, 90, NULL, NULL);
    if (connect_s < 0) {
        out = json_pack("{s:s, s:s}", "failed", "not every subscriber heard the relay", "log",
                        "relay.log in the temp dir (BENCH_KEEP=1 keeps it)");
        goto done;
    }
    if (sent_alloc(&sent, o->messages) != 0)
        goto done;
    int64_t period = (int64_t)(1e9 / o->rate), t0 = tt_time_mono_ns();
    double c0 = proc_cpu_s(coord_pid), r0 = proc_cpu_s(relay_pid);
    for (int i = 0; i < o->messages; i++) {
        sleep_until(t0 + i * period);
        sent.t_req[i] = tt_time_mono_ns();
        if (coord_note(w, 100000 + i, &sent.id[i], &sent.t_reply[i]) != 0) {
            out = json_pack("{s:s}", "failed", "a note through the coordinator failed");
            goto done;
        }
        sent.n++;
    }
    bench_sleep_s(1.0);
    double coord_cpu = proc_cpu_s(coord_pid) - c0, relay_cpu = proc_cpu_s(relay_pid) - r0;
    long relay_rss = proc_status_kib(relay_pid, "VmRSS");
    atomic_store(&rs.stop, 1);
    pthread_join(rs.th, NULL);
    rs.started = 0;
    if (collect(&rs, &sent, &L) != 0)
        goto done;
    *lost = L.lost;
    out =
        json_pack("{s:o, s:o, s:I, s:I, s:f, s:f, s:f, s:I, s:s}", "reply_to_receive_us",
                  dist_us(L.reply_to_rx, L.n_reply), "all_received_us", dist_us(L.all_rx, L.n_all),
                  "lost", (json_int_t)L.lost, "duplicates", (json_int_t)L.dup, "connect_s",
                  connect_s, "relay_cpu_s", relay_cpu, "coordinator_cpu_s", coord_cpu,
                  "relay_rss_kib", (json_int_t)relay_rss, "relay_bin", o->relay_bin);
done:
    subset_close(&rs);
    lat_free(&L);
    sent_free(&sent);
    bench_stop(env, relay_pid);
    return out ? out : json_pack("{s:s}", "failed", "out of memory");
}

/* ------------------------------------------------------------ with a standby */

/* Whether dir/tutti-coordinator knows --standby-of (its --help says so). */
static int has_standby(const char *dir)
{
    char cmd[1200], line[512];
    snprintf(cmd, sizeof cmd, "'%s/tutti-coordinator' --help 2>&1", dir);
    FILE *p = popen(cmd, "r");
    int yes = 0;
    while (p && fgets(line, sizeof line, p))
        yes |= strstr(line, "--standby-of") != NULL;
    if (p)
        pclose(p);
    return yes;
}

/* Whether `tutti status --json` at ep says the pair is synced. */
static int pair_synced(bench_env_t *env, const char *dir, const char *ep)
{
    char cmd[4096], line[4096];
    snprintf(cmd, sizeof cmd,
             "'%s/tutti' --coordinator '%s' --server-key '%s/keys/coordinator.pub' --key "
             "'%s/keys/writer.key' status --json 2>/dev/null",
             dir, ep, env->tmp, env->tmp);
    FILE *p = popen(cmd, "r");
    int yes = 0;
    while (p && fgets(line, sizeof line, p))
        yes |= strstr(line, "synced") != NULL;
    if (p)
        pclose(p);
    return yes;
}

/* (d): a primary with a synchronous standby, beside the coordinator of the
 * run (alone, idle by now): o->messages notes to each, interleaved, each
 * timed from request to reply. */
static json_t *standby_phase(bench_env_t *env, const opts_t *o, const char *dir, keys_t *k,
                             writer_t *w)
{
    char data_p[1200], data_s[1200], key_p[1200], key_s[1200], acc_p[1200], acc_s[1200],
        epfile[1200], sb_ep[64], pep[256] = "", why[TT_WHY_LEN];
    int port = free_port_triple();
    if (port < 0)
        return json_pack("{s:s}", "failed", "no free port");
    snprintf(sb_ep, sizeof sb_ep, "tcp://127.0.0.1:%d", port);
    snprintf(data_p, sizeof data_p, "%s/primary", env->tmp);
    snprintf(data_s, sizeof data_s, "%s/standby", env->tmp);
    snprintf(key_p, sizeof key_p, "%s/keys/coordinator.key", env->tmp);
    snprintf(key_s, sizeof key_s, "%s/keys/standby.key", env->tmp);
    snprintf(acc_p, sizeof acc_p, "%s/access", env->tmp);
    snprintf(acc_s, sizeof acc_s, "%s/access-standby", env->tmp);
    snprintf(epfile, sizeof epfile, "%s/primary-endpoints", env->tmp);
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", env->bin_dir);
    snprintf(env->bin_dir, sizeof env->bin_dir, "%s", dir);
    char *pa[] = {"",
                  "--data",
                  data_p,
                  "--key",
                  key_p,
                  "--access",
                  acc_p,
                  "--bind",
                  "tcp://127.0.0.1:*",
                  "--endpoint-file",
                  epfile,
                  "--peer",
                  sb_ep,
                  NULL};
    pid_t ppid = bench_spawn(env, "primary", "tutti-coordinator", pa);
    pid_t spid = -1;
    if (ppid > 0 && bench_wait_lines(epfile, 1, 10000) == 0 &&
        bench_read_line(epfile, 1, pep, sizeof pep) == 0) {
        char *sa[] = {"",    "--data", data_s, "--key",        key_s, "--access",
                      acc_s, "--bind", sb_ep,  "--standby-of", pep,   NULL};
        spid = bench_spawn(env, "standby", "tutti-coordinator", sa);
    }
    snprintf(env->bin_dir, sizeof env->bin_dir, "%s", saved);
    json_t *out = NULL;
    tt_client_t *pc = NULL;
    double *alone = calloc((size_t)o->messages, sizeof *alone),
           *paired = calloc((size_t)o->messages, sizeof *paired);
    if (spid < 0 || !alone || !paired) {
        out = json_pack("{s:s}", "failed", "could not start the primary and its standby");
        goto done;
    }
    int synced = 0;
    for (int i = 0; i < 150 && !(synced = pair_synced(env, dir, pep)); i++)
        bench_sleep_s(0.2);
    if (!synced) {
        out = json_pack("{s:s}", "failed", "the pair did not report synced in 30 s");
        goto done;
    }
    writer_t pw = *w;
    if (!(pc = tt_client_new(w->ctx, pep, k->coord_pub, k->writer, 0, why))) {
        out = json_pack("{s:s}", "failed", why);
        goto done;
    }
    pw.client = pc;
    int64_t period = (int64_t)(1e9 / o->rate), t0 = tt_time_mono_ns();
    for (int i = 0; i < o->messages; i++) {
        sleep_until(t0 + i * period);
        uint64_t seq;
        int64_t a0 = tt_time_mono_ns(), a1, b0, b1;
        if (coord_note(w, 200000 + i, &seq, &a1) != 0)
            goto fail;
        b0 = tt_time_mono_ns();
        if (coord_note(&pw, 200000 + i, &seq, &b1) != 0)
            goto fail;
        alone[i] = (double)(a1 - a0) / 1e3;
        paired[i] = (double)(b1 - b0) / 1e3;
    }
    int still_synced = pair_synced(env, dir, pep);
    json_t *ja = dist_us(alone, (size_t)o->messages), *jp = dist_us(paired, (size_t)o->messages);
    double r50 =
        json_real_value(json_object_get(jp, "p50")) / json_real_value(json_object_get(ja, "p50"));
    double r99 =
        json_real_value(json_object_get(jp, "p99")) / json_real_value(json_object_get(ja, "p99"));
    out = json_pack("{s:o, s:o, s:f, s:f, s:b, s:s}", "alone_write_us", ja, "with_standby_write_us",
                    jp, "ratio_p50", r50, "ratio_p99", r99, "synced_at_end", still_synced,
                    "coordinator_dir", dir);
    goto done;
fail:
    out = json_pack("{s:s}", "failed", "a note failed");
done:
    tt_client_destroy(&pc);
    free(alone);
    free(paired);
    if (spid > 0)
        bench_stop(env, spid);
    if (ppid > 0)
        bench_stop(env, ppid);
    return out;
}

/* ------------------------------------------------------------ main */

static int parse(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){1000, 50, 100, 4, 5.0, NULL, NULL, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--subscribers") && v)
            o->subs = atoi(argv[++i]);
        else if (!strcmp(a, "--rooms") && v)
            o->rooms = atoi(argv[++i]);
        else if (!strcmp(a, "--messages") && v)
            o->messages = atoi(argv[++i]);
        else if (!strcmp(a, "--rate") && v)
            o->rate = atof(argv[++i]);
        else if (!strcmp(a, "--rounds") && v)
            o->rounds = atoi(argv[++i]);
        else if (!strcmp(a, "--relay-bin") && v)
            o->relay_bin = argv[++i];
        else if (!strcmp(a, "--coordinator-dir") && v)
            o->coordinator_dir = argv[++i];
        else if (!strcmp(a, "--standby"))
            o->standby = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (o->subs < 1 || o->subs > MAX_SUBS || o->rooms < 1 || o->rooms > MAX_ROOMS ||
        o->messages < 1 || o->messages > MAX_MESSAGES || o->rate <= 0 || o->rate > 10000 ||
        o->rounds < 1 || o->rounds > o->messages) {
        fprintf(stderr,
                "tutti-bench-fanout: --subscribers 1..%d, --rooms 1..%d, --messages "
                "1..%d, --rate 0..10000, --rounds 1..M\n",
                MAX_SUBS, MAX_ROOMS, MAX_MESSAGES);
        return 2;
    }
    return -1;
}

/* Every descriptor the hard limit allows: each subscriber holds two. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            fprintf(stderr, "tutti-bench-fanout: raising RLIMIT_NOFILE: %s\n", strerror(errno));
    }
}

/* The share of total that round r of rounds gets. */
static int share(int total, int r, int rounds)
{
    return (int)((long)total * (r + 1) / rounds - (long)total * r / rounds);
}

int main(int argc, char **argv)
{
    opts_t o;
    int prc = parse(argc, argv, &o);
    if (prc >= 0)
        return prc;
    raise_nofile();
    bench_env_t env;
    if (bench_env_init(&env, "tutti-bench-fanout") != 0) {
        fprintf(stderr, "tutti-bench-fanout: making the temp dir failed\n");
        return 1;
    }
    int rc = 1;
    keys_t keys;
    subset_t raw_subs = {0}, coord_subs = {0};
    rooms_t rooms = {0};
    writer_t w = {0};
    sent_t raw_sent = {0}, coord_sent = {0};
    lat_t raw_lat = {0}, coord_lat = {0};
    json_t *out = NULL;
    char why[TT_WHY_LEN];
    json_t *load_start = load_avg();
    json_t *relay_j = NULL;
    long relay_lost = 0;
    if (o.relay_bin && access(o.relay_bin, X_OK) != 0) {
        relay_j = json_pack("{s:s, s:s}", "skipped", "no executable at --relay-bin", "relay_bin",
                            o.relay_bin);
        o.relay_bin = NULL;
    }
    /* The coordinator beside the relay knows the relay role. */
    char own_dir[1024], coord_dir[1024] = "";
    snprintf(own_dir, sizeof own_dir, "%s", env.bin_dir);
    if (o.coordinator_dir)
        snprintf(coord_dir, sizeof coord_dir, "%s", o.coordinator_dir);
    else if (o.relay_bin && strrchr(o.relay_bin, '/'))
        snprintf(coord_dir, sizeof coord_dir, "%.*s",
                 (int)(strrchr(o.relay_bin, '/') - o.relay_bin), o.relay_bin);
    json_t *standby_j = NULL;
    if (o.standby && !has_standby(coord_dir[0] ? coord_dir : own_dir)) {
        standby_j = json_pack("{s:s, s:s}", "skipped", "this tutti-coordinator has no --standby-of",
                              "coordinator_dir", coord_dir[0] ? coord_dir : own_dir);
        o.standby = 0;
    }
    if (keys_make(&env, &keys, &o) != 0) {
        fprintf(stderr, "tutti-bench-fanout: making keys failed\n");
        goto done;
    }
    /* The raw publisher, forked before any thread or ZeroMQ context. */
    char raw_epfile[1200], raw_eps[2][256];
    snprintf(raw_epfile, sizeof raw_epfile, "%s/raw-endpoints", env.tmp);
    pid_t raw_pid = fork();
    if (raw_pid < 0)
        goto done;
    if (raw_pid == 0) {
        raw_publisher(keys.server_raw, raw_epfile);
        _exit(0);
    }
    env.pids[env.n++] = raw_pid;
    if (bench_wait_lines(raw_epfile, 2, 10000) != 0) {
        fprintf(stderr, "tutti-bench-fanout: the raw publisher did not start\n");
        goto done;
    }
    for (int i = 0; i < 2; i++)
        bench_read_line(raw_epfile, i + 1, raw_eps[i], sizeof raw_eps[i]);

    char eps[3][256];
    if (coord_dir[0])
        snprintf(env.bin_dir, sizeof env.bin_dir, "%s", coord_dir);
    int started = bench_start_coordinator(&env, eps);
    snprintf(env.bin_dir, sizeof env.bin_dir, "%s", own_dir);
    if (started != 0)
        goto done;
    pid_t coord_pid = env.pids[env.n - 1];

    /* The writer (both sides) and the rooms, in a context of their own. */
    w.ctx = zmq_ctx_new();
    rooms.ctx = zmq_ctx_new();
    zmq_ctx_set(rooms.ctx, ZMQ_MAX_SOCKETS, 4 * o.rooms + 64); /* a client is 3 */
    if (!(w.client = tt_client_new(w.ctx, eps[0], keys.coord_pub, keys.writer, 0, why))) {
        fprintf(stderr, "tutti-bench-fanout: writer: %s\n", why);
        goto done;
    }
    w.dealer = zmq_socket(w.ctx, ZMQ_DEALER);
    if (!w.dealer ||
        tt_wire_setup_client(w.dealer, keys.writer, keys.server_raw->public_z85, why) ||
        zmq_connect(w.dealer, raw_eps[0]) != 0) {
        fprintf(stderr, "tutti-bench-fanout: raw writer: %s\n", why);
        goto done;
    }
    rooms.n = o.rooms;
    rooms.c = calloc((size_t)o.rooms, sizeof *rooms.c);
    if (!rooms.c)
        goto done;
    for (int i = 0; i < o.rooms; i++)
        if (!(rooms.c[i] =
                  tt_client_new(rooms.ctx, eps[0], keys.coord_pub, keys.rooms[i], 1, why))) {
            fprintf(stderr, "tutti-bench-fanout: room %d: %s\n", i + 1, why);
            goto done;
        }
    if (pthread_create(&rooms.th, NULL, rooms_thread, &rooms) != 0)
        goto done;
    rooms.started = 1;
    /* The coordinator's memory with the rooms heartbeating and no subscriber. */
    bench_sleep_s(2.5);
    long rss0 = proc_status_kib(coord_pid, "VmRSS"), anon0 = proc_status_kib(coord_pid, "RssAnon");

    int cap = o.messages + 64;
    long ovf0 = listen_overflows();
    int64_t t_conn = tt_time_mono_ns();
    if (subset_open(&coord_subs, "coordinator", o.subs, cap, keys.subs, keys.coord_pub, eps[1]))
        goto done;
    /* The coordinator heartbeats on its updates port every second. */
    double coord_connect_s = subset_wait_all(&coord_subs, 60, NULL, NULL);
    if (coord_connect_s < 0)
        goto done;
    coord_connect_s = (double)(tt_time_mono_ns() - t_conn) / 1e9;
    long coord_ovf = listen_overflows() - ovf0;
    bench_sleep_s(1.5);
    long rss_n = proc_status_kib(coord_pid, "VmRSS"),
         anon_n = proc_status_kib(coord_pid, "RssAnon");

    ovf0 = listen_overflows();
    if (subset_open(&raw_subs, "raw", o.subs, cap, keys.subs, keys.server_raw->public_z85,
                    raw_eps[1]))
        goto done;
    double raw_connect_s = subset_wait_all(&raw_subs, 60, raw_probe, &w);
    if (raw_connect_s < 0)
        goto done;
    long raw_ovf = listen_overflows() - ovf0;

    /* A first note: its update's size is the raw side's. */
    uint64_t seq0;
    int64_t t_r;
    if (coord_note(&w, -1, &seq0, &t_r) != 0)
        goto done;
    for (int i = 0; i < 100 && atomic_load(&coord_subs.update_bytes) == 0; i++)
        bench_sleep_s(0.05);
    w.frame_bytes = (uint32_t)atomic_load(&coord_subs.update_bytes);
    if (w.frame_bytes == 0) {
        fprintf(stderr, "tutti-bench-fanout: the first note's update reached no subscriber\n");
        goto done;
    }
    if (sent_alloc(&raw_sent, o.messages) || sent_alloc(&coord_sent, o.messages))
        goto done;

    double coord_cpu = 0, raw_cpu = 0, coord_wall = 0;
    int64_t period = (int64_t)(1e9 / o.rate);
    int failed = 0;
    uint64_t raw_id = 1;
    for (int r = 0; r < o.rounds && !failed; r++) {
        int n = share(o.messages, r, o.rounds);
        /* the coordinator's round */
        double c0 = proc_cpu_s(coord_pid);
        int64_t t0 = tt_time_mono_ns();
        for (int k = 0; k < n && !failed; k++) {
            sleep_until(t0 + k * period);
            int i = coord_sent.n;
            coord_sent.t_req[i] = tt_time_mono_ns();
            if (coord_note(&w, i, &coord_sent.id[i], &coord_sent.t_reply[i]) != 0)
                failed = 1;
            else
                coord_sent.n++;
        }
        bench_sleep_s(0.3); /* the round's last updates land */
        coord_cpu += proc_cpu_s(coord_pid) - c0;
        coord_wall += (double)(tt_time_mono_ns() - t0) / 1e9;
        /* the raw side's */
        double r0 = proc_cpu_s(raw_pid);
        t0 = tt_time_mono_ns();
        for (int k = 0; k < n && !failed; k++) {
            sleep_until(t0 + k * period);
            int i = raw_sent.n;
            raw_sent.id[i] = raw_id++;
            raw_sent.t_req[i] = tt_time_mono_ns();
            if (raw_request(&w, raw_sent.id[i], &raw_sent.t_reply[i]) != 0) {
                fprintf(stderr, "tutti-bench-fanout: raw message %d got no reply\n", i);
                failed = 1;
            } else {
                raw_sent.n++;
            }
        }
        bench_sleep_s(0.3);
        raw_cpu += proc_cpu_s(raw_pid) - r0;
    }
    if (failed)
        goto done;
    bench_sleep_s(1.0); /* stragglers */
    int online = rooms_online(&w);
    long rss_end = proc_status_kib(coord_pid, "VmRSS"),
         anon_end = proc_status_kib(coord_pid, "RssAnon");
    atomic_store(&rooms.stop, 1);
    pthread_join(rooms.th, NULL);
    rooms.started = 0;
    atomic_store(&raw_subs.stop, 1);
    atomic_store(&coord_subs.stop, 1);
    pthread_join(raw_subs.th, NULL);
    pthread_join(coord_subs.th, NULL);
    raw_subs.started = coord_subs.started = 0;
    if (collect(&raw_subs, &raw_sent, &raw_lat) || collect(&coord_subs, &coord_sent, &coord_lat))
        goto done;
    if (o.relay_bin) {
        /* (c): the coordinator's and the raw side's subscribers gone, N on the relay */
        subset_close(&raw_subs);
        subset_close(&coord_subs);
        relay_j = relay_phase(&env, &o, &keys, eps[0], &w, coord_pid, &relay_lost);
    }
    if (o.standby) {
        subset_close(&raw_subs);
        subset_close(&coord_subs);
        standby_j = standby_phase(&env, &o, coord_dir[0] ? coord_dir : own_dir, &keys, &w);
    }

    json_t *raw_j = json_pack(
        "{s:o, s:o, s:o, s:I, s:I, s:f, s:I, s:f, s:I}", "reply_to_receive_us",
        dist_us(raw_lat.reply_to_rx, raw_lat.n_reply), "send_to_receive_us",
        dist_us(raw_lat.send_to_rx, raw_lat.n_send), "all_received_us",
        dist_us(raw_lat.all_rx, raw_lat.n_all), "lost", (json_int_t)raw_lat.lost, "duplicates",
        (json_int_t)raw_lat.dup, "connect_s", raw_connect_s, "connect_listen_overflows",
        (json_int_t)raw_ovf, "publisher_cpu_s", raw_cpu, "overflow", (json_int_t)raw_subs.overflow);
    double raw_p99 = bench_percentile(raw_lat.reply_to_rx, raw_lat.n_reply, 99);
    double raw_send_p99 = bench_percentile(raw_lat.send_to_rx, raw_lat.n_send, 99);
    json_t *coord_j =
        json_pack("{s:o, s:o, s:o, s:I, s:I, s:f, s:I, s:f, s:f, s:I}", "reply_to_receive_us",
                  dist_us(coord_lat.reply_to_rx, coord_lat.n_reply), "request_to_receive_us",
                  dist_us(coord_lat.req_to_rx, coord_lat.n_req), "all_received_us",
                  dist_us(coord_lat.all_rx, coord_lat.n_all), "lost", (json_int_t)coord_lat.lost,
                  "duplicates", (json_int_t)coord_lat.dup, "connect_s", coord_connect_s,
                  "connect_listen_overflows", (json_int_t)coord_ovf, "cpu_s", coord_cpu,
                  "cpu_share_of_a_core", coord_wall > 0 ? coord_cpu / coord_wall : NAN, "overflow",
                  (json_int_t)coord_subs.overflow);
    double coord_p99 = bench_percentile(coord_lat.reply_to_rx, coord_lat.n_reply, 99);
    json_object_set_new(coord_j, "memory",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "rss_kib_0_subscribers",
                                  (json_int_t)rss0, "rss_kib_n_subscribers", (json_int_t)rss_n,
                                  "rss_kib_end", (json_int_t)rss_end, "anon_kib_0_subscribers",
                                  (json_int_t)anon0, "anon_kib_n_subscribers", (json_int_t)anon_n,
                                  "anon_kib_end", (json_int_t)anon_end, "kib_per_subscriber",
                                  (double)(anon_n - anon0) / o.subs));
    json_object_set_new(coord_j, "room_heartbeats",
                        json_pack("{s:I, s:I, s:i}", "sent", (json_int_t)atomic_load(&rooms.sent),
                                  "answered", (json_int_t)atomic_load(&rooms.answered),
                                  "rooms_online_at_end", online));
    out = json_pack(
        "{s:s, s:i, s:i, s:i, s:f, s:i, s:I, s:s, s:o, s:o, s:f, s:f, s:f}", "bench", "fanout",
        "subscribers", o.subs, "rooms", o.rooms, "messages", o.messages, "rate_hz", o.rate,
        "rounds", o.rounds, "update_bytes", (json_int_t)w.frame_bytes, "method",
        "latency from the write's reply reaching the writer to each subscriber's receipt "
        "(CLOCK_MONOTONIC, one host), the same on both sides: the coordinator publishes a "
        "group's updates right after its commit and replies; the raw side answers, then "
        "publishes. raw.send_to_receive_us is the raw side's true latency from its send",
        "raw", raw_j, "coordinator", coord_j, "ratio_p99", coord_p99 / raw_p99,
        "ratio_p99_vs_raw_send", coord_p99 / raw_send_p99, "target_ratio_p99", 1.5);
    json_object_set_new(out, "load_avg_start", load_start);
    load_start = NULL;
    json_object_set_new(out, "load_avg_end", load_avg());
    /* this process: 2N subscribers' decryption and receipts, the writer, the rooms */
    json_object_set_new(out, "bench_process_cpu_s", json_real(proc_cpu_s(getpid())));
    if (relay_j) {
        double relay_p99 = json_real_value(
            json_object_get(json_object_get(relay_j, "reply_to_receive_us"), "p99"));
        if (relay_p99 > 0)
            json_object_set_new(relay_j, "ratio_p99", json_real(relay_p99 / raw_p99));
        json_object_set_new(out, "relay", relay_j);
        relay_j = NULL;
    } else {
        json_object_set_new(out, "relay", json_null());
    }
    json_object_set_new(out, "standby", standby_j ? standby_j : json_null());
    standby_j = NULL;
    json_object_set_new(out, "coordinator_dir", json_string(coord_dir[0] ? coord_dir : own_dir));
    json_object_set_new(out, "lost_total",
                        json_integer(raw_lat.lost + coord_lat.lost + relay_lost));
    char *text = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    if (text)
        puts(text);
    free(text);
    rc = raw_lat.lost + coord_lat.lost + relay_lost == 0 ? 0 : 3;
done:
    if (rooms.started) {
        atomic_store(&rooms.stop, 1);
        pthread_join(rooms.th, NULL);
    }
    for (int i = 0; rooms.c && i < rooms.n; i++)
        tt_client_destroy(&rooms.c[i]);
    free(rooms.c);
    subset_close(&raw_subs);
    subset_close(&coord_subs);
    tt_client_destroy(&w.client);
    if (w.dealer)
        zmq_close(w.dealer);
    if (w.ctx)
        zmq_ctx_term(w.ctx);
    if (rooms.ctx)
        zmq_ctx_term(rooms.ctx);
    lat_free(&raw_lat);
    lat_free(&coord_lat);
    sent_free(&raw_sent);
    sent_free(&coord_sent);
    json_decref(out);
    json_decref(load_start);
    json_decref(relay_j);
    json_decref(standby_j);
    keys_free(&keys, &o);
    bench_env_cleanup(&env);
    return rc;
}
