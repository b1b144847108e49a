/* tutti-bench-upload: a take's file through a capped link with an outage,
 * and what the transfer does to the clock meanwhile.
 *
 * A real tutti-coordinator child holds a real take (cue add, tempo load,
 * arm, roll, stop over the request API). This process runs the room
 * agent's uploader (agent_upload, in-process) on a generated file of N MiB
 * through tutti-netsim capped at R Mbit/s, with the link cut for S seconds
 * in the middle. A tutti-agent child on an injected clock traces its
 * session-time estimate every 10 ms, straight to the coordinator (its
 * clock must not share the simulated link: the question is whether the
 * upload disturbs the coordinator's clock thread, not the link's queue).
 * Prints one JSON object.
 */
#define _GNU_SOURCE
#include "agent_upload.h"
#include "bench_proc.h"
#include "tt_client.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define RATE_HZ 192000 /* the manifest's rate: the size bound grows with it */

static void usage(FILE *out)
{
    fprintf(out, "Usage: tutti-bench-upload [--mib N] [--rate-mbit R] [--outage S] [--idle S]\n"
                 "\n"
                 "Uploads an N MiB take file with the room agent's uploader to a real\n"
                 "tutti-coordinator through tutti-netsim capped at R Mbit/s, the link cut for S\n"
                 "seconds in the middle, while a tutti-agent on an injected clock (offset 2.5 s,\n"
                 "+150 ppm) traces its session-time error on loopback. Prints JSON:\n"
                 "  bytes, hash_match (the coordinator's copy hashes as the original),\n"
                 "  goodput_ratio (bytes / (upload time - outage) / cap), upload_s,\n"
                 "  clock_p99_us_during (|error| p99 over the upload), clock_p99_us_idle\n"
                 "  (the same over S_idle seconds before it), clock_max_us_during, samples.\n"
                 "\n"
                 "  --mib N          file size in MiB (default 256)\n"
                 "  --rate-mbit R    link cap (default 100)\n"
                 "  --outage S       link down for S seconds, centred on the expected\n"
                 "                   transfer (default 5; 0: none)\n"
                 "  --idle S         idle clock window before the upload (default 10)\n"
                 "\n"
                 "Set BENCH_KEEP=1 to keep the temp dir (logs, trace).\n"
                 "Example: tutti-bench-upload --mib 64 --outage 2\n");
}

/* One request over the operator's connection; 0 or prints why. */
static int call(tt_client_t *c, Tutti__Envelope *env, Tutti__Envelope **reply, const char *what)
{
    char why[TT_WHY_LEN];
    Tutti__Envelope *r = NULL;
    int rc = tt_client_request(c, env, &r, 5000, why);
    if (rc != 0) {
        fprintf(stderr, "tutti-bench-upload: %s: %s\n", what, why);
        return rc;
    }
    if (reply)
        *reply = r;
    else
        tutti__envelope__free_unpacked(r, NULL);
    return 0;
}

/* cue add, tempo load, arm, roll, stop: take 1 of cue B1 exists and is closed. */
static int make_take(tt_client_t *c, unsigned *upload_port)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT, *reply = NULL;
    Tutti__Hello h = TUTTI__HELLO__INIT;
    h.program = "tutti-bench-upload";
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    if (call(c, &env, &reply, "hello") != 0)
        return -1;
    *upload_port = reply->hello_reply ? reply->hello_reply->upload_port : 0;
    tutti__envelope__free_unpacked(reply, NULL);

    Tutti__CueAddRequest ca = TUTTI__CUE_ADD_REQUEST__INIT;
    ca.cue = "B1";
    ca.title = "upload bench";
    env = (Tutti__Envelope)TUTTI__ENVELOPE__INIT;
    env.body_case = TUTTI__ENVELOPE__BODY_CUE_ADD;
    env.cue_add = &ca;
    if (call(c, &env, NULL, "cue add") != 0)
        return -1;
    Tutti__TempoLoadRequest tl = TUTTI__TEMPO_LOAD_REQUEST__INIT;
    tl.cue = "B1";
    tl.map_text = "fps 25\nstart 01:00:00:00\ncountoff 1\nbar 1 4/4 q=120\n";
    tl.source = "bench";
    env = (Tutti__Envelope)TUTTI__ENVELOPE__INIT;
    env.body_case = TUTTI__ENVELOPE__BODY_TEMPO_LOAD;
    env.tempo_load = &tl;
    if (call(c, &env, NULL, "tempo load") != 0)
        return -1;
    Tutti__ArmRequest arm = TUTTI__ARM_REQUEST__INIT;
    arm.cue = "B1";
    env = (Tutti__Envelope)TUTTI__ENVELOPE__INIT;
    env.body_case = TUTTI__ENVELOPE__BODY_ARM;
    env.arm = &arm;
    if (call(c, &env, NULL, "arm") != 0)
        return -1;
    Tutti__RollRequest roll = TUTTI__ROLL_REQUEST__INIT;
    roll.cue = "B1";
    roll.lead_ms = 100;
    env = (Tutti__Envelope)TUTTI__ENVELOPE__INIT;
    env.body_case = TUTTI__ENVELOPE__BODY_ROLL;
    env.roll = &roll;
    if (call(c, &env, NULL, "roll") != 0)
        return -1;
    bench_sleep_s(1.0);
    Tutti__StopRequest stop = TUTTI__STOP_REQUEST__INIT;
    env = (Tutti__Envelope)TUTTI__ENVELOPE__INIT;
    env.body_case = TUTTI__ENVELOPE__BODY_STOP;
    env.stop = &stop;
    return call(c, &env, NULL, "stop");
}

/* Writes bytes of pseudo-random data (a WAV-sized file) and its BLAKE2b-256. */
static int make_file(const char *path, uint64_t bytes, uint8_t hash[32])
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    size_t blk = 1 << 20;
    uint8_t *buf = malloc(blk), seed[randombytes_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    int rc = buf ? 0 : -1;
    for (uint64_t off = 0; rc == 0 && off < bytes; off += blk) {
        size_t n = bytes - off < blk ? (size_t)(bytes - off) : blk;
        seed[0] = (uint8_t)(off >> 20);
        seed[1] = (uint8_t)(off >> 28);
        randombytes_buf_deterministic(buf, n, seed);
        crypto_generichash_update(&st, buf, n);
        if (write(fd, buf, n) != (ssize_t)n)
            rc = -1;
    }
    crypto_generichash_final(&st, hash, 32);
    free(buf);
    if (fsync(fd) != 0)
        rc = -1;
    close(fd);
    return rc;
}

static int hash_file(const char *path, uint8_t hash[32])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *buf = malloc(1 << 20);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    size_t n;
    while (buf && (n = fread(buf, 1, 1 << 20, f)) > 0)
        crypto_generichash_update(&st, buf, n);
    crypto_generichash_final(&st, hash, 32);
    free(buf);
    fclose(f);
    return 0;
}

typedef struct {
    double *v;
    size_t n, cap;
} series_t;

static void push(series_t *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        double *g = realloc(s->v, cap * sizeof *g);
        if (!g)
            return;
        s->v = g;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

/* Waits for the trace to show "locked"; 0 when it does. */
static int wait_locked(const char *trace, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        FILE *t = fopen(trace, "r");
        char line[256];
        int locked = 0;
        while (t && fgets(line, sizeof line, t))
            locked |= strstr(line, " locked ") != NULL;
        if (t)
            fclose(t);
        if (locked)
            return 0;
        bench_sleep_s(0.1);
    }
    return -1;
}

int main(int argc, char **argv)
{
    double mib = 256, rate_mbit = 100, outage = 5, idle = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--mib") && v)
            mib = atof(v), i++;
        else if (!strcmp(a, "--rate-mbit") && v)
            rate_mbit = atof(v), i++;
        else if (!strcmp(a, "--outage") && v)
            outage = atof(v), i++;
        else if (!strcmp(a, "--idle") && v)
            idle = atof(v), i++;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (mib < 1 || mib > 4096 || rate_mbit <= 0 || outage < 0 || idle < 1) {
        fprintf(stderr, "tutti-bench-upload: want 1 <= --mib <= 4096, --rate-mbit > 0, "
                        "--outage >= 0, --idle >= 1\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    tt_diag_init("tutti-bench-upload", NULL);
    tt_diag_set_quiet(1);
    uint64_t bytes = (uint64_t)(mib * 1048576.0);
    double cap_Bps = rate_mbit * 1e6 / 8.0;
    double expect_s = (double)bytes / cap_Bps;
    /* The size bound at 192 kHz, 24-bit, for a take under a second plus 60 s
     * of handles holds ~33 MiB a channel: ask for as many channels as needed. */
    int channels = (int)ceil((double)(bytes - (1 << 20)) / (60.0 * RATE_HZ * 3.0));
    if (channels < 1)
        channels = 1;
    if (channels > 64) {
        fprintf(stderr, "tutti-bench-upload: --mib too large for the size bound\n");
        return 2;
    }

    bench_env_t env;
    if (bench_env_init(&env, "tutti-bench-upload") != 0) {
        fprintf(stderr, "tutti-bench-upload: cannot make a temp dir\n");
        return 1;
    }
    int rc = 1;
    void *ctx = zmq_ctx_new();
    tt_client_t *op = NULL;
    tt_keypair_t *stage_keys = NULL, *op_keys = NULL;
    agent_upload_t *up = NULL;
    series_t idle_err = {0}, during_err = {0};
    char path[1200], line[512], why[TT_WHY_LEN];
    if (bench_keygen(&env, "coordinator") || bench_keygen(&env, "conductor") ||
        bench_keygen(&env, "stage") || bench_keygen(&env, "clockroom"))
        goto out;
    char pub_op[64], pub_stage[64], pub_clock[64], server_key[64];
    bench_pubkey(&env, "conductor", pub_op);
    bench_pubkey(&env, "stage", pub_stage);
    bench_pubkey(&env, "clockroom", pub_clock);
    bench_pubkey(&env, "coordinator", server_key);
    snprintf(path, sizeof path, "%s/access", env.tmp);
    FILE *f = fopen(path, "w");
    if (!f)
        goto out;
    fprintf(f, "operator conductor %s\nroom stage %s\nroom clockroom %s\n", pub_op, pub_stage,
            pub_clock);
    fclose(f);

    /* The coordinator, with the channel count the file needs. */
    char chans[16], eps[3][256];
    snprintf(chans, sizeof chans, "%d", channels);
    const char *extra[] = {"--media-channels", chans, "--quiet", NULL};
    if (bench_start_coordinator_with(&env, eps, extra) != 0)
        goto out;

    snprintf(path, sizeof path, "%s/keys/conductor.key", env.tmp);
    if (!(op_keys = tt_keypair_load(path, why)) ||
        !(op = tt_client_new(ctx, eps[0], server_key, op_keys, 0, why))) {
        fprintf(stderr, "tutti-bench-upload: %s\n", why);
        goto out;
    }
    unsigned upload_port = 0;
    if (make_take(op, &upload_port) != 0)
        goto out;
    if (!upload_port) {
        fprintf(stderr, "tutti-bench-upload: the coordinator has no upload service\n");
        goto out;
    }

    /* The clock client: a room agent on an injected clock, on loopback. */
    char skey[1200], akey[1200], adata[1200], trace[1200];
    snprintf(skey, sizeof skey, "%s/keys/coordinator.pub", env.tmp);
    snprintf(akey, sizeof akey, "%s/keys/clockroom.key", env.tmp);
    snprintf(adata, sizeof adata, "%s/agent", env.tmp);
    snprintf(trace, sizeof trace, "%s/trace", env.tmp);
    char *aargv[] = {"",        "--room",           "clockroom", "--coordinator",
                     eps[0],    "--server-key",     skey,        "--key",
                     akey,      "--data",           adata,       "--clock-offset-us",
                     "2500000", "--clock-skew-ppm", "150",       "--clock-trace",
                     trace,     "--quiet",          NULL};
    pid_t agent = bench_spawn(&env, "agent", "tutti-agent", aargv);
    if (agent < 0 || wait_locked(trace, 60) != 0) {
        fprintf(stderr, "tutti-bench-upload: the clock agent never locked (see %s)\n", env.tmp);
        goto out;
    }
    bench_sleep_s(3); /* settle past the lock */

    /* The file and its manifest, as agent_capture writes them. */
    char cap[1200], wav[1300], manifest[1400];
    snprintf(cap, sizeof cap, "%s/capture", env.tmp);
    mkdir(cap, 0700);
    snprintf(wav, sizeof wav, "%s/B1_t1_stage_in1.wav", cap);
    snprintf(manifest, sizeof manifest, "%s.json", wav);
    uint8_t hash[32];
    if (make_file(wav, bytes, hash) != 0) {
        fprintf(stderr, "tutti-bench-upload: writing %s: %s\n", wav, strerror(errno));
        goto out;
    }
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, hash, 32);
    json_t *mj = json_pack("{s:s, s:i, s:s, s:s, s:I, s:s, s:i, s:I, s:i, s:i, s:s}", "cue", "B1",
                           "take", 1, "room", "stage", "input", "in1", "size", (json_int_t)bytes,
                           "hash", hex, "rate", RATE_HZ, "time_reference", (json_int_t)0,
                           "punch_in_bar", 0, "punch_out_bar", 0, "state", "recorded");
    if (!mj || json_dump_file(mj, manifest, JSON_INDENT(2)) != 0) {
        json_decref(mj);
        goto out;
    }
    json_decref(mj);

    /* Idle window. */
    int64_t idle_from = tt_time_mono_ns();
    bench_sleep_s(idle);
    int64_t idle_to = tt_time_mono_ns();

    /* The capped link with its outage centred on the expected transfer. */
    char ready[1200], to[300], outage_arg[64], rate_arg[32];
    snprintf(ready, sizeof ready, "%s/netsim.ready", env.tmp);
    tt_wire_endpoint_with_port(eps[0], upload_port, to, sizeof to);
    snprintf(outage_arg, sizeof outage_arg, "%.3f+%.3f", expect_s / 2, outage);
    snprintf(rate_arg, sizeof rate_arg, "%g", rate_mbit);
    char *nargv[16];
    int k = 0;
    nargv[k++] = "";
    nargv[k++] = "--listen";
    nargv[k++] = "tcp://127.0.0.1:0";
    nargv[k++] = "--to";
    nargv[k++] = to;
    nargv[k++] = "--rate";
    nargv[k++] = rate_arg;
    if (outage > 0) {
        nargv[k++] = "--outage";
        nargv[k++] = outage_arg;
    }
    nargv[k++] = "--ready-file";
    nargv[k++] = ready;
    nargv[k] = NULL;
    if (bench_spawn(&env, "netsim", "tutti-netsim", nargv) < 0 ||
        bench_wait_lines(ready, 1, 10000) != 0) {
        fprintf(stderr, "tutti-bench-upload: tutti-netsim did not start (see %s)\n", env.tmp);
        goto out;
    }
    char link_ep[256];
    bench_read_line(ready, 1, link_ep, sizeof link_ep);
    const char *colon = strrchr(link_ep, ':');
    unsigned link_port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;

    snprintf(path, sizeof path, "%s/keys/stage.key", env.tmp);
    if (!(stage_keys = tt_keypair_load(path, why))) {
        fprintf(stderr, "tutti-bench-upload: %s\n", why);
        goto out;
    }
    agent_upload_config_t ucfg = {
        .ctx = ctx,
        .endpoint = link_ep,
        .upload_port = link_port,
        .server_key_z85 = server_key,
        .keys = stage_keys,
        .capture_dir = cap,
        .room = "stage",
        .reply_timeout_ms = (int)(outage * 1000) + 10000,
    };
    int64_t up_from = tt_time_mono_ns();
    if (!(up = agent_upload_start(&ucfg, why))) {
        fprintf(stderr, "tutti-bench-upload: %s\n", why);
        goto out;
    }
    int64_t up_to = 0, give_up = up_from + (int64_t)((expect_s * 10 + outage + 60) * 1e9);
    uint64_t seq = 0;
    int retries = 0;
    while (!up_to && tt_time_mono_ns() < give_up) {
        zmq_pollitem_t item = {agent_upload_socket(up), 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 200);
        agent_upload_event_t ev;
        while (agent_upload_read(up, &ev)) {
            if (ev.kind == AGENT_UPLOAD_CONFIRMED) {
                up_to = tt_time_mono_ns();
                seq = ev.seq;
            } else if (ev.kind == AGENT_UPLOAD_REFUSED) {
                fprintf(stderr, "tutti-bench-upload: refused: %s\n", ev.reason);
                goto out;
            } else if (ev.kind == AGENT_UPLOAD_RETRY) {
                retries++;
            }
        }
    }
    agent_upload_stop(&up);
    if (!up_to) {
        fprintf(stderr, "tutti-bench-upload: the upload did not finish (see %s)\n", env.tmp);
        goto out;
    }
    bench_sleep_s(0.5);
    bench_stop(&env, agent);

    /* The clock's error in each window (on one host mono is the truth). */
    FILE *t = fopen(trace, "r");
    while (t && fgets(line, sizeof line, t)) {
        long long mono, local, session;
        char state[16];
        double bound;
        if (sscanf(line, "%lld %lld %lld %15s %lf", &mono, &local, &session, state, &bound) != 5)
            continue;
        double e = fabs((double)(session - mono)) / 1000.0;
        if (mono >= idle_from && mono <= idle_to)
            push(&idle_err, e);
        else if (mono >= up_from && mono <= up_to)
            push(&during_err, e);
    }
    if (t)
        fclose(t);
    bench_sort(idle_err.v, idle_err.n);
    bench_sort(during_err.v, during_err.n);

    uint8_t got[32];
    snprintf(path, sizeof path, "%.1100s/coord/media/B1_t1_stage_in1.wav", env.tmp);
    int hash_match = hash_file(path, got) == 0 && !memcmp(got, hash, 32);
    double upload_s = (double)(up_to - up_from) / 1e9;
    json_t *o = json_object();
    json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(o, "hash_match", json_boolean(hash_match));
    json_object_set_new(o, "goodput_ratio",
                        json_real((double)bytes / (upload_s - outage) / cap_Bps));
    json_object_set_new(o, "upload_s", json_real(upload_s));
    json_object_set_new(o, "clock_p99_us_during",
                        json_real(bench_percentile(during_err.v, during_err.n, 99)));
    json_object_set_new(o, "clock_p99_us_idle",
                        json_real(bench_percentile(idle_err.v, idle_err.n, 99)));
    json_object_set_new(o, "clock_max_us_during",
                        json_real(during_err.n ? during_err.v[during_err.n - 1] : NAN));
    json_object_set_new(o, "samples_during", json_integer((json_int_t)during_err.n));
    json_object_set_new(o, "samples_idle", json_integer((json_int_t)idle_err.n));
    json_object_set_new(o, "rate_mbit", json_real(rate_mbit));
    json_object_set_new(o, "outage_s", json_real(outage));
    json_object_set_new(o, "retries", json_integer(retries));
    json_object_set_new(o, "record", json_integer((json_int_t)seq));
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    puts(s);
    free(s);
    json_decref(o);
    rc = hash_match ? 0 : 1;
out:
    agent_upload_stop(&up);
    tt_client_destroy(&op);
    zmq_ctx_term(ctx);
    tt_keypair_destroy(&op_keys);
    tt_keypair_destroy(&stage_keys);
    free(idle_err.v);
    free(during_err.v);
    bench_env_cleanup(&env);
    return rc;
}
