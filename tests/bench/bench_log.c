/* tutti-bench-log: durable writes per second, tutti against raw LMDB.
 *
 * Measures in one run on the same disk: raw LMDB transactions of one put
 * each (each commit fsyncs), and take ratings end to end through a real
 * coordinator (CURVE, role check, fold, Ed25519 signature, durable commit,
 * reply) from 1 and from 8 concurrent clients, each waiting for its reply
 * before the next write. Group commit is what lets 8 clients beat the raw
 * single-put rate: writes that arrive together share one transaction.
 *
 * The disk on a shared machine changes speed from second to second, so the
 * three measurements are interleaved in rounds (raw, 1 client, 8 clients,
 * again) and each rate is total writes over total time: a slow spell weighs
 * on all three alike instead of on whichever ran during it. Clients connect
 * and finish their CURVE handshake before any clock starts, as the raw side
 * opens its environment before its clock starts. Prints one JSON object.
 */
#define _GNU_SOURCE
#include "bench_proc.h"
#include "tt_client.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_time.h"

#include <fcntl.h>
#include <jansson.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define BENCH_CLIENTS 8

typedef struct {
    tt_client_t *client; /* connected and past its handshake; used by one thread at a time */
    int writes;
    int failed;
    pthread_barrier_t *start;
} client_job_t;

/* The raw side: one LMDB environment in DIR, one put per durable transaction. */
typedef struct {
    MDB_env *env;
    MDB_dbi dbi;
    uint64_t next_key;
} raw_t;

static int raw_open(raw_t *r, const char *dir)
{
    MDB_txn *txn;
    memset(r, 0, sizeof *r);
    mkdir(dir, 0700);
    if (mdb_env_create(&r->env) || mdb_env_set_mapsize(r->env, 1ULL << 30) ||
        mdb_env_open(r->env, dir, 0, 0600) || mdb_txn_begin(r->env, NULL, 0, &txn))
        return -1;
    if (mdb_dbi_open(txn, NULL, 0, &r->dbi)) {
        mdb_txn_abort(txn);
        return -1;
    }
    return mdb_txn_commit(txn) ? -1 : 0;
}

/* Seconds for n single-put durable transactions. */
static double raw_commits(raw_t *r, int n)
{
    MDB_txn *txn;
    char value[200];
    memset(value, 'x', sizeof value);
    int64_t t0 = tt_time_mono_ns();
    for (int i = 0; i < n; i++) {
        uint64_t k = __builtin_bswap64(++r->next_key);
        MDB_val key = {sizeof k, &k}, val = {sizeof value, value};
        if (mdb_txn_begin(r->env, NULL, 0, &txn))
            return -1;
        if (mdb_put(txn, r->dbi, &key, &val, MDB_APPEND)) {
            mdb_txn_abort(txn);
            return -1;
        }
        if (mdb_txn_commit(txn)) /* frees txn either way */
            return -1;
    }
    return (double)(tt_time_mono_ns() - t0) / 1e9;
}

static int request(tt_client_t *c, Tutti__Envelope *env)
{
    char why[TT_WHY_LEN];
    Tutti__Envelope *reply = NULL;
    int rc = tt_client_request(c, env, &reply, 10000, why);
    if (rc != 0)
        fprintf(stderr, "tutti-bench-log: %s\n", why);
    if (reply)
        tutti__envelope__free_unpacked(reply, NULL);
    return rc;
}

/* Rates take 1 of cue 1M1 `writes` times, each after the last one's reply. */
static int rate_takes(tt_client_t *c, int writes)
{
    int failed = 0;
    for (int i = 0; i < writes; i++) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__TakeRate tr = TUTTI__TAKE_RATE__INIT;
        tr.cue = "1M1";
        tr.take = 1;
        tr.rating = (i & 1) ? "hold" : "circled";
        tr.note = "";
        env.body_case = TUTTI__ENVELOPE__BODY_TAKE_RATE;
        env.take_rate = &tr;
        if (request(c, &env) != 0)
            failed++;
    }
    return failed;
}

static void *client_thread(void *arg)
{
    client_job_t *j = arg;
    pthread_barrier_wait(j->start);
    j->failed = rate_takes(j->client, j->writes);
    return NULL;
}

/* A client that has finished its CURVE handshake: connecting is not a write. */
static tt_client_t *connect_client(void *ctx, const char *ep, const char *skey,
                                   const tt_keypair_t *kp)
{
    char why[TT_WHY_LEN];
    tt_client_t *c = tt_client_new(ctx, ep, skey, kp, 0, why);
    if (!c) {
        fprintf(stderr, "tutti-bench-log: %s\n", why);
        return NULL;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__StatusRequest st = TUTTI__STATUS_REQUEST__INIT;
    env.body_case = TUTTI__ENVELOPE__BODY_STATUS;
    env.status = &st;
    if (request(c, &env) != 0)
        tt_client_destroy(&c);
    return c;
}

/* Seconds for `clients` concurrent clients writing per_client each; the
 * clock starts when all are ready. */
static double run_clients(tt_client_t **cs, int clients, int per_client, int *failed)
{
    pthread_t th[BENCH_CLIENTS];
    client_job_t jobs[BENCH_CLIENTS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)clients + 1);
    for (int i = 0; i < clients; i++) {
        jobs[i] = (client_job_t){cs[i], per_client, 0, &start};
        pthread_create(&th[i], NULL, client_thread, &jobs[i]);
    }
    pthread_barrier_wait(&start);
    int64_t t0 = tt_time_mono_ns();
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        *failed += jobs[i].failed;
    }
    double s = (double)(tt_time_mono_ns() - t0) / 1e9;
    pthread_barrier_destroy(&start);
    return s;
}

/* The share of total that round r of rounds gets (the shares add up to total). */
static int share(int total, int r, int rounds)
{
    return (int)((long)total * (r + 1) / rounds - (long)total * r / rounds);
}

/* Wall time of `tutti history --json > /dev/null` against the coordinator. */
static double time_history(bench_env_t *env, const char *ep)
{
    char tutti[1200], skey[1200], key[1200];
    snprintf(tutti, sizeof tutti, "%s/tutti", env->bin_dir);
    snprintf(skey, sizeof skey, "%s/keys/coordinator.pub", env->tmp);
    snprintf(key, sizeof key, "%s/keys/conductor.key", env->tmp);
    int64_t t0 = tt_time_mono_ns();
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 1);
        execl(tutti, tutti, "--coordinator", ep, "--server-key", skey, "--key", key, "--timeout-ms",
              "60000", "history", "--json", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return (double)(tt_time_mono_ns() - t0) / 1e9;
}

int main(int argc, char **argv)
{
    int n = 400, history = 0, rounds = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--writes") && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--history") && i + 1 < argc) {
            history = atoi(argv[++i]);
        } else {
            printf("Usage: tutti-bench-log [--writes N] [--rounds R] [--history RECORDS]\n\n"
                   "Durable writes per second in one run on the same disk: raw LMDB single-put\n"
                   "transactions against tutti take ratings end to end from 1 and 8 clients\n"
                   "(N each for raw and 1 client, N/8 per client for 8; default 400). The\n"
                   "three are interleaved in R rounds (default 4) of N/R each, so a change in\n"
                   "the disk's speed during the run weighs on all three alike; clients connect\n"
                   "(CURVE handshake) before the clock starts. Prints raw_commits_per_s,\n"
                   "tutti_writes_per_s_1, tutti_writes_per_s_8, ratio_1 (= tutti_1 / raw)\n"
                   "and ratio_8 (= tutti_8 / raw). --history R then fills the log to R\n"
                   "records and times `tutti history --json` (history_s).\n"
                   "Example: tutti-bench-log --writes 2000 --rounds 8\n");
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (n < 16 || n > 1000000) {
        fprintf(stderr, "tutti-bench-log: --writes wants 16..1000000\n");
        return 2;
    }
    if (rounds < 1 || rounds > n / BENCH_CLIENTS) {
        fprintf(stderr, "tutti-bench-log: --rounds wants 1..N/%d\n", BENCH_CLIENTS);
        return 2;
    }
    bench_env_t env;
    if (bench_env_init(&env, "tutti-bench-log") != 0)
        return 1;
    int rc = 1, failed = 0;
    void *ctx = NULL;
    tt_keypair_t *kp = NULL;
    tt_client_t *c = NULL, *cs[BENCH_CLIENTS] = {NULL};
    raw_t raw = {0};
    char dir[1200], why[TT_WHY_LEN];
    snprintf(dir, sizeof dir, "%s/raw", env.tmp);
    if (raw_open(&raw, dir) != 0) {
        fprintf(stderr, "tutti-bench-log: opening the raw LMDB environment failed\n");
        goto out;
    }
    if (bench_keygen(&env, "coordinator") || bench_keygen(&env, "conductor"))
        goto out;
    char pk[64], access[1200], keypath[1200], skeypath[1200], skey[64];
    bench_pubkey(&env, "conductor", pk);
    snprintf(access, sizeof access, "%s/access", env.tmp);
    FILE *f = fopen(access, "w");
    if (!f)
        goto out;
    fprintf(f, "operator conductor %s\n", pk);
    fclose(f);
    char eps[3][256];
    if (bench_start_coordinator(&env, eps) != 0)
        goto out;
    snprintf(keypath, sizeof keypath, "%s/keys/conductor.key", env.tmp);
    snprintf(skeypath, sizeof skeypath, "%s/keys/coordinator.pub", env.tmp);
    kp = tt_keypair_load(keypath, why);
    if (!kp || tt_pubkey_load(skeypath, skey, why) != 0)
        goto out;
    ctx = zmq_ctx_new();
    if (!(c = connect_client(ctx, eps[0], skey, kp)))
        goto out;
    for (int i = 0; i < BENCH_CLIENTS; i++)
        if (!(cs[i] = connect_client(ctx, eps[0], skey, kp)))
            goto out;
    /* A take to rate: a cue with a map, armed, rolled and stopped. */
    Tutti__Envelope e1 = TUTTI__ENVELOPE__INIT, e2 = TUTTI__ENVELOPE__INIT,
                    e3 = TUTTI__ENVELOPE__INIT, e4 = TUTTI__ENVELOPE__INIT;
    Tutti__TempoLoadRequest tl = TUTTI__TEMPO_LOAD_REQUEST__INIT;
    tl.cue = "1M1";
    tl.map_text = "bar 1 4/4 q=120\n";
    tl.source = "bench";
    e1.body_case = TUTTI__ENVELOPE__BODY_TEMPO_LOAD;
    e1.tempo_load = &tl;
    Tutti__ArmRequest ar = TUTTI__ARM_REQUEST__INIT;
    ar.cue = "1M1";
    e2.body_case = TUTTI__ENVELOPE__BODY_ARM;
    e2.arm = &ar;
    Tutti__RollRequest rr = TUTTI__ROLL_REQUEST__INIT;
    rr.cue = "1M1";
    rr.lead_ms = 1;
    e3.body_case = TUTTI__ENVELOPE__BODY_ROLL;
    e3.roll = &rr;
    Tutti__StopRequest sr = TUTTI__STOP_REQUEST__INIT;
    e4.body_case = TUTTI__ENVELOPE__BODY_STOP;
    e4.stop = &sr;
    if (request(c, &e1) || request(c, &e2) || request(c, &e3) || request(c, &e4))
        goto out;
    double raw_s = 0, one_s = 0, eight_s = 0;
    int per_client = n / BENCH_CLIENTS;
    for (int r = 0; r < rounds; r++) {
        double t = raw_commits(&raw, share(n, r, rounds));
        if (t < 0) {
            fprintf(stderr, "tutti-bench-log: raw LMDB commit failed\n");
            goto out;
        }
        raw_s += t;
        one_s += run_clients(&c, 1, share(n, r, rounds), &failed);
        eight_s += run_clients(cs, BENCH_CLIENTS, share(per_client, r, rounds), &failed);
    }
    if (failed) {
        fprintf(stderr, "tutti-bench-log: %d writes failed\n", failed);
        goto out;
    }
    double raw_rate = n / raw_s, one = n / one_s;
    double eight = (double)per_client * BENCH_CLIENTS / eight_s;
    json_t *o =
        json_pack("{s:f, s:f, s:f, s:f, s:f, s:i, s:i}", "raw_commits_per_s", raw_rate,
                  "tutti_writes_per_s_1", one, "tutti_writes_per_s_8", eight, "ratio_1",
                  one / raw_rate, "ratio_8", eight / raw_rate, "writes", n, "rounds", rounds);
    if (history > 0) {
        /* genesis, map, arm, roll, stop, and the writes */
        int have = 5 + n + per_client * BENCH_CLIENTS;
        if (history > have)
            run_clients(cs, BENCH_CLIENTS, (history - have + BENCH_CLIENTS - 1) / BENCH_CLIENTS,
                        &failed);
        double hs = time_history(&env, eps[0]);
        json_object_set_new(o, "history_records", json_integer(history > have ? history : have));
        json_object_set_new(o, "history_s", json_real(hs));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(5));
    puts(s);
    free(s);
    json_decref(o);
    rc = 0;
out:
    tt_client_destroy(&c);
    for (int i = 0; i < BENCH_CLIENTS; i++)
        tt_client_destroy(&cs[i]);
    if (ctx)
        zmq_ctx_term(ctx);
    if (raw.env)
        mdb_env_close(raw.env);
    tt_keypair_destroy(&kp);
    bench_env_cleanup(&env);
    return rc;
}
