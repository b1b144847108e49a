/* tutti-bench-prelay: a prelay stem distributed to three rooms, each over
 * its own capped link, and what the fetches do to the rooms' clocks.
 *
 * A real tutti-coordinator child, cue 1M1 with the example tempo map (the
 * tutti CLI as children). Three tutti-agent children, each behind its own
 * tutti-netsim capped at R Mbit/s both ways: an agent learns the updates,
 * clock and upload ports from the coordinator's hello and pairs them with
 * the HOST of its --coordinator endpoint, so room i's relay listens on
 * 127.0.0.(2+i) at the coordinator's own port numbers and forwards to
 * 127.0.0.1; everything the agent says (request, updates, clock, prelay
 * fetch) goes through its link. The agents start before the put and lock
 * their clocks (r1 on an injected clock: offset 2.5 s, +150 ppm); after an
 * idle window `tutti media put` sends the generated stem to the coordinator
 * on loopback, and each room's fetch is timed from the put's record until
 * its DATA/media/index.json lists the file (verified). Prints one JSON
 * object.
 */
#define _GNU_SOURCE
#include "bench_proc.h"
#include "tt_time.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROOMS 3
#define FILE_NAME "1M1_prelay_stem.wav"

static void usage(FILE *out)
{
    fprintf(out, "Usage: tutti-bench-prelay [--mib N] [--rate-mbit R] [--prelay-rate RATE]\n"
                 "                          [--prelay-pieces N] [--idle S]\n"
                 "\n"
                 "Puts an N MiB WAV stem (48 kHz, 24-bit stereo, random samples) as a prelay\n"
                 "for three rooms (`tutti media put 1M1 FILE --kind prelay --rooms r1,r2,r3`,\n"
                 "straight to a real tutti-coordinator on loopback). Each room's tutti-agent\n"
                 "reaches the coordinator only through its own tutti-netsim capped at R Mbit/s\n"
                 "both ways, and traces its session-time error every 10 ms (r1 on an injected\n"
                 "clock: offset 2.5 s, +150 ppm). Prints JSON:\n"
                 "  bytes, rooms, fetch_s (per room, from the put's record until the room's\n"
                 "  index.json lists the file verified), goodput_ratio (min over rooms of\n"
                 "  bytes / fetch_s / cap), hash_match (every room's copy hashes as the\n"
                 "  original), put_s, clock_p99_us_idle (S_idle seconds before the put),\n"
                 "  clock_p99_us_during and clock_max_us_during (from the record until the\n"
                 "  last room holds the file), per-room p99s, samples.\n"
                 "\n"
                 "  --mib N            stem size in MiB (default 200)\n"
                 "  --rate-mbit R      each room's link cap (default 100)\n"
                 "  --prelay-rate RATE passed to each agent (bytes/s, e.g. 12.5M; default none)\n"
                 "  --prelay-pieces N  passed to each agent (fetch requests in flight; default:\n"
                 "                     the agent's, 2)\n"
                 "  --idle S           idle clock window before the put (default 10)\n"
                 "\n"
                 "Set BENCH_KEEP=1 to keep the temp dir (logs, traces, netsim --stats).\n"
                 "Example: tutti-bench-prelay --mib 16 --idle 3\n");
}

/* Runs a sibling program to its end; its exit status, or -1. */
static int run(bench_env_t *env, const char *log, const char *prog, char *const argv[])
{
    pid_t pid = bench_spawn(env, log, prog, argv);
    if (pid < 0)
        return -1;
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    for (int i = 0; i < env->n; i++)
        if (env->pids[i] == pid)
            env->pids[i] = 0;
    if (r != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void le16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A canonical 44-byte WAV header, 48 kHz 24-bit stereo, then random frames
 * up to about `bytes` in all; the file's BLAKE2b-256 and size out. */
static int make_wav(const char *path, uint64_t bytes, uint8_t hash[32], uint64_t *size)
{
    const unsigned rate = 48000, ch = 2, bits = 24, align = ch * bits / 8;
    uint64_t data = (bytes - 44) / align * align;
    uint8_t h[44];
    memcpy(h, "RIFF", 4);
    le32(h + 4, (uint32_t)(36 + data));
    memcpy(h + 8, "WAVEfmt ", 8);
    le32(h + 16, 16);
    le16(h + 20, 1); /* PCM */
    le16(h + 22, ch);
    le32(h + 24, rate);
    le32(h + 28, rate * align);
    le16(h + 32, align);
    le16(h + 34, bits);
    memcpy(h + 36, "data", 4);
    le32(h + 40, (uint32_t)data);

    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, h, sizeof h);
    int rc = write(fd, h, sizeof h) == (ssize_t)sizeof h ? 0 : -1;
    size_t blk = 1 << 20;
    uint8_t *buf = malloc(blk), seed[randombytes_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    if (!buf)
        rc = -1;
    for (uint64_t off = 0; rc == 0 && off < data; off += blk) {
        size_t n = data - off < blk ? (size_t)(data - off) : blk;
        seed[0] = (uint8_t)(off >> 20);
        seed[1] = (uint8_t)(off >> 28);
        randombytes_buf_deterministic(buf, n, seed);
        crypto_generichash_update(&st, buf, n);
        if (write(fd, buf, n) != (ssize_t)n)
            rc = -1;
    }
    crypto_generichash_final(&st, hash, 32);
    free(buf);
    if (close(fd) != 0)
        rc = -1;
    *size = 44 + data;
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
    int rc = buf && !ferror(f) ? 0 : -1;
    free(buf);
    fclose(f);
    return rc;
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

/* 1 when the trace shows "locked". */
static int trace_locked(const char *trace)
{
    FILE *t = fopen(trace, "r");
    char line[256];
    int locked = 0;
    while (t && !locked && fgets(line, sizeof line, t))
        locked = strstr(line, " locked ") != NULL;
    if (t)
        fclose(t);
    return locked;
}

/* 1 when the room's index.json lists the stem (written only once verified). */
static int room_holds(const char *index)
{
    json_t *o = json_load_file(index, 0, NULL);
    int yes = 0;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(o, "held"), i, it)
    {
        const char *f = json_string_value(json_object_get(it, "file"));
        yes |= f && !strcmp(f, FILE_NAME);
    }
    json_decref(o);
    return yes;
}

/* The port of "tcp://HOST:PORT", 0 when there is none. */
static unsigned port_of(const char *ep)
{
    const char *c = strrchr(ep, ':');
    return c ? (unsigned)strtoul(c + 1, NULL, 10) : 0;
}

/* The coordinator logs "media uploads on port N"; 0 until it has. */
static unsigned upload_port_from_log(const char *log)
{
    FILE *f = fopen(log, "r");
    char line[1024];
    unsigned port = 0;
    while (f && !port && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "media uploads on port ");
        if (p)
            port = (unsigned)strtoul(p + strlen("media uploads on port "), NULL, 10);
    }
    if (f)
        fclose(f);
    return port;
}

/* A netsim's --stats lines at exit (reads and chunks it relayed, not the
 * histogram), joined, for the JSON: evidence the fetch went through it. */
static void netsim_stats(const char *log, char *out, size_t len)
{
    FILE *f = fopen(log, "r");
    char line[512];
    size_t n = 0;
    out[0] = '\0';
    while (f && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "stats: ");
        if (!p || strstr(p, "histogram"))
            continue;
        line[strcspn(line, "\n")] = '\0';
        int w = snprintf(out + n, len - n, "%s%s", n ? "; " : "", p + strlen("stats: "));
        if (w < 0 || (size_t)w >= len - n)
            break;
        n += (size_t)w;
    }
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    double mib = 200, rate_mbit = 100, idle = 10;
    const char *prelay_rate = NULL, *prelay_pieces = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--mib") && v)
            mib = atof(v), i++;
        else if (!strcmp(a, "--rate-mbit") && v)
            rate_mbit = atof(v), i++;
        else if (!strcmp(a, "--prelay-rate") && v)
            prelay_rate = v, i++;
        else if (!strcmp(a, "--prelay-pieces") && v)
            prelay_pieces = v, i++;
        else if (!strcmp(a, "--idle") && v)
            idle = atof(v), i++;
        else {
            usage(stderr);
            return 2;
        }
    }
    /* The coordinator takes prelays up to 2 GiB. */
    if (mib < 1 || mib > 2000 || rate_mbit <= 0 || idle < 1) {
        fprintf(stderr, "tutti-bench-prelay: want 1 <= --mib <= 2000, --rate-mbit > 0, "
                        "--idle >= 1\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    double cap_Bps = rate_mbit * 1e6 / 8.0;

    bench_env_t env;
    if (bench_env_init(&env, "tutti-bench-prelay") != 0) {
        fprintf(stderr, "tutti-bench-prelay: cannot make a temp dir\n");
        return 1;
    }
    int rc = 1;
    series_t idle_err = {0}, during_err = {0}, room_err[ROOMS] = {{0}};
    char path[1200], line[512];
    const char *names[ROOMS] = {"r1", "r2", "r3"};
    if (bench_keygen(&env, "coordinator") || bench_keygen(&env, "conductor"))
        goto out;
    for (int i = 0; i < ROOMS; i++)
        if (bench_keygen(&env, names[i]))
            goto out;
    char pub[64];
    snprintf(path, sizeof path, "%s/access", env.tmp);
    FILE *f = fopen(path, "w");
    if (!f || bench_pubkey(&env, "conductor", pub) != 0)
        goto out_close;
    fprintf(f, "operator conductor %s\n", pub);
    for (int i = 0; i < ROOMS; i++) {
        if (bench_pubkey(&env, names[i], pub) != 0)
            goto out_close;
        fprintf(f, "room %s %s\n", names[i], pub);
    }
    if (fclose(f) != 0) {
        f = NULL;
        goto out;
    }
    f = NULL;

    char eps[3][256];
    if (bench_start_coordinator(&env, eps) != 0)
        goto out;
    char clog[1200];
    snprintf(clog, sizeof clog, "%s/coordinator.log", env.tmp);
    unsigned ports[4] = {port_of(eps[0]), port_of(eps[1]), port_of(eps[2]), 0};
    for (int i = 0; i < 100 && !(ports[3] = upload_port_from_log(clog)); i++)
        bench_sleep_s(0.1);
    if (!ports[0] || !ports[1] || !ports[2] || !ports[3]) {
        fprintf(stderr, "tutti-bench-prelay: no coordinator ports (see %s)\n", env.tmp);
        goto out;
    }

    /* The CLI as an operator would run it. */
    char skey[1200], opkey[1200];
    snprintf(skey, sizeof skey, "%s/keys/coordinator.pub", env.tmp);
    snprintf(opkey, sizeof opkey, "%s/keys/conductor.key", env.tmp);
    if (setenv("TUTTI_COORDINATOR", eps[0], 1) || setenv("TUTTI_SERVER_KEY", skey, 1) ||
        setenv("TUTTI_KEY", opkey, 1))
        goto out;
    char map[1200];
    snprintf(map, sizeof map, "%s/deploy/tempo/example-1m1.tempo", TUTTI_SOURCE_DIR);
    char *cue_argv[] = {"", "cue", "add", "1M1", NULL};
    char *tempo_argv[] = {"", "tempo", "load", "1M1", map, NULL};
    if (run(&env, "cli", "tutti", cue_argv) != 0 || run(&env, "cli", "tutti", tempo_argv) != 0) {
        fprintf(stderr, "tutti-bench-prelay: cue add / tempo load failed (see %s/cli.log)\n",
                env.tmp);
        goto out;
    }

    /* One capped relay per room on its own loopback address, same ports. */
    char rate_arg[32];
    snprintf(rate_arg, sizeof rate_arg, "%g", rate_mbit);
    pid_t netsim[ROOMS], agent[ROOMS];
    char trace[ROOMS][1300], index[ROOMS][1300], copy[ROOMS][1300];
    for (int i = 0; i < ROOMS; i++) {
        char lis[4][64], to[4][64], ready[1200], logn[32];
        char *nargv[32];
        int k = 0;
        nargv[k++] = "";
        for (int p = 0; p < 4; p++) {
            snprintf(lis[p], sizeof lis[p], "tcp://127.0.0.%d:%u", 2 + i, ports[p]);
            snprintf(to[p], sizeof to[p], "tcp://127.0.0.1:%u", ports[p]);
            nargv[k++] = "--listen";
            nargv[k++] = lis[p];
            nargv[k++] = "--to";
            nargv[k++] = to[p];
        }
        snprintf(ready, sizeof ready, "%s/netsim-%s.ready", env.tmp, names[i]);
        nargv[k++] = "--rate";
        nargv[k++] = rate_arg;
        nargv[k++] = "--stats";
        nargv[k++] = "--ready-file";
        nargv[k++] = ready;
        nargv[k] = NULL;
        snprintf(logn, sizeof logn, "netsim-%s", names[i]);
        if ((netsim[i] = bench_spawn(&env, logn, "tutti-netsim", nargv)) < 0 ||
            bench_wait_lines(ready, 4, 10000) != 0) {
            fprintf(stderr, "tutti-bench-prelay: tutti-netsim for %s did not start (see %s)\n",
                    names[i], env.tmp);
            goto out;
        }
    }

    /* The agents, before the put: their clocks lock and idle first. */
    for (int i = 0; i < ROOMS; i++) {
        char ep[64], key[1200], data[1200], logn[32];
        snprintf(ep, sizeof ep, "tcp://127.0.0.%d:%u", 2 + i, ports[0]);
        snprintf(key, sizeof key, "%s/keys/%s.key", env.tmp, names[i]);
        snprintf(data, sizeof data, "%s/agent-%s", env.tmp, names[i]);
        snprintf(trace[i], sizeof trace[i], "%s/trace-%s", env.tmp, names[i]);
        snprintf(index[i], sizeof index[i], "%s/media/index.json", data);
        snprintf(copy[i], sizeof copy[i], "%s/media/" FILE_NAME, data);
        snprintf(logn, sizeof logn, "agent-%s", names[i]);
        char *aargv[32] = {"",
                           "--room",
                           (char *)names[i],
                           "--coordinator",
                           ep,
                           "--server-key",
                           skey,
                           "--key",
                           key,
                           "--data",
                           data,
                           "--clock-trace",
                           trace[i]};
        int k = 13;
        if (i == 0) {
            aargv[k++] = "--clock-offset-us";
            aargv[k++] = "2500000";
            aargv[k++] = "--clock-skew-ppm";
            aargv[k++] = "150";
        }
        if (prelay_pieces) {
            aargv[k++] = "--prelay-pieces";
            aargv[k++] = (char *)prelay_pieces;
        }
        if (prelay_rate) {
            aargv[k++] = "--prelay-rate";
            aargv[k++] = (char *)prelay_rate;
        }
        aargv[k] = NULL;
        if ((agent[i] = bench_spawn(&env, logn, "tutti-agent", aargv)) < 0)
            goto out;
    }
    for (int i = 0; i < ROOMS; i++) {
        int w = 0;
        while (!trace_locked(trace[i]) && w++ < 600)
            bench_sleep_s(0.1);
        if (!trace_locked(trace[i])) {
            fprintf(stderr, "tutti-bench-prelay: %s's clock never locked (see %s)\n", names[i],
                    env.tmp);
            goto out;
        }
    }
    bench_sleep_s(3); /* settle past the lock */

    char wav[1200];
    snprintf(wav, sizeof wav, "%s/stem.wav", env.tmp);
    uint8_t hash[32];
    uint64_t bytes = 0;
    if (make_wav(wav, (uint64_t)(mib * 1048576.0), hash, &bytes) != 0) {
        fprintf(stderr, "tutti-bench-prelay: writing %s: %s\n", wav, strerror(errno));
        goto out;
    }

    int64_t idle_from = tt_time_mono_ns();
    bench_sleep_s(idle);
    int64_t idle_to = tt_time_mono_ns();

    /* The put, straight to the coordinator; its record starts the fetches. */
    char *put_argv[] = {"",       "media",  "put",  "1M1",     wav,        "--kind",
                        "prelay", "--name", "stem", "--rooms", "r1,r2,r3", NULL};
    int64_t put_from = tt_time_mono_ns();
    if (run(&env, "put", "tutti", put_argv) != 0) {
        fprintf(stderr, "tutti-bench-prelay: the put failed (see %s/put.log)\n", env.tmp);
        goto out;
    }
    int64_t put_to = tt_time_mono_ns();

    double expect_s = (double)bytes / cap_Bps;
    int64_t give_up = put_to + (int64_t)((expect_s * 10 + 120) * 1e9), done[ROOMS] = {0};
    int left = ROOMS;
    while (left && tt_time_mono_ns() < give_up) {
        for (int i = 0; i < ROOMS; i++)
            if (!done[i] && room_holds(index[i])) {
                done[i] = tt_time_mono_ns();
                left--;
            }
        if (left)
            bench_sleep_s(0.05);
    }
    if (left) {
        fprintf(stderr, "tutti-bench-prelay: %d room(s) did not fetch the stem (see %s)\n", left,
                env.tmp);
        goto out;
    }
    int64_t last = 0;
    for (int i = 0; i < ROOMS; i++)
        last = done[i] > last ? done[i] : last;
    bench_sleep_s(0.5);
    for (int i = 0; i < ROOMS; i++) {
        bench_stop(&env, agent[i]);
        bench_stop(&env, netsim[i]); /* --stats go to its log */
    }

    /* Each room's clock error in the two windows (on one host mono is the truth). */
    for (int i = 0; i < ROOMS; i++) {
        FILE *t = fopen(trace[i], "r");
        while (t && fgets(line, sizeof line, t)) {
            long long mono, local, session;
            char state[16];
            double bound;
            if (sscanf(line, "%lld %lld %lld %15s %lf", &mono, &local, &session, state, &bound) !=
                5)
                continue;
            double e = fabs((double)(session - mono)) / 1000.0;
            if (mono >= idle_from && mono <= idle_to)
                push(&idle_err, e);
            else if (mono >= put_to && mono <= last) {
                push(&during_err, e);
                push(&room_err[i], e);
            }
        }
        if (t)
            fclose(t);
        bench_sort(room_err[i].v, room_err[i].n);
    }
    bench_sort(idle_err.v, idle_err.n);
    bench_sort(during_err.v, during_err.n);

    int hash_match = 1;
    double min_ratio = INFINITY;
    json_t *o = json_object(), *fetch = json_object(), *p99s = json_object(),
           *relays = json_object();
    for (int i = 0; i < ROOMS; i++) {
        uint8_t got[32];
        hash_match &= hash_file(copy[i], got) == 0 && !memcmp(got, hash, 32);
        double s = (double)(done[i] - put_to) / 1e9, r = (double)bytes / s / cap_Bps;
        min_ratio = r < min_ratio ? r : min_ratio;
        json_object_set_new(fetch, names[i], json_real(s));
        json_object_set_new(p99s, names[i],
                            json_real(bench_percentile(room_err[i].v, room_err[i].n, 99)));
        char stats[512];
        snprintf(path, sizeof path, "%.1100s/netsim-%s.log", env.tmp, names[i]);
        netsim_stats(path, stats, sizeof stats);
        json_object_set_new(relays, names[i], json_string(stats));
    }
    json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(o, "rooms", json_integer(ROOMS));
    json_object_set_new(o, "rate_mbit", json_real(rate_mbit));
    json_object_set_new(o, "prelay_rate", prelay_rate ? json_string(prelay_rate) : json_null());
    json_object_set_new(o, "prelay_pieces",
                        prelay_pieces ? json_integer(atoi(prelay_pieces)) : json_null());
    json_object_set_new(o, "put_s", json_real((double)(put_to - put_from) / 1e9));
    json_object_set_new(o, "fetch_s", fetch);
    json_object_set_new(o, "goodput_ratio", json_real(min_ratio));
    json_object_set_new(o, "hash_match", json_boolean(hash_match));
    json_object_set_new(o, "clock_p99_us_idle",
                        json_real(bench_percentile(idle_err.v, idle_err.n, 99)));
    json_object_set_new(o, "clock_p99_us_during",
                        json_real(bench_percentile(during_err.v, during_err.n, 99)));
    json_object_set_new(o, "clock_max_us_during",
                        json_real(during_err.n ? during_err.v[during_err.n - 1] : NAN));
    json_object_set_new(o, "clock_p99_us_during_per_room", p99s);
    json_object_set_new(o, "samples_idle", json_integer((json_int_t)idle_err.n));
    json_object_set_new(o, "samples_during", json_integer((json_int_t)during_err.n));
    json_object_set_new(o, "relay_stats", relays);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (s)
        puts(s);
    free(s);
    json_decref(o);
    rc = hash_match ? 0 : 1;
    goto out;
out_close:
    if (f)
        fclose(f);
out:
    free(idle_err.v);
    free(during_err.v);
    for (int i = 0; i < ROOMS; i++)
        free(room_err[i].v);
    bench_env_cleanup(&env);
    return rc;
}
