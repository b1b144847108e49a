/* tutti-bench-log: durable writes per second, tutti against raw LMDB.
 *
 * Measures in one run on the same disk: raw LMDB transactions of one put
 * each (each commit fsyncs), then take ratings end to end through a real
 * coordinator (CURVE, role check, fold, Ed25519 signature, durable commit,
 * reply) from 1 and from 8 concurrent clients, each waiting for its reply
 * before the next write. Group commit is what lets 8 clients beat the raw
 * single-put rate: writes that arrive together share one transaction.
 * Prints one JSON object.
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

typedef struct {
    void *ctx;
    const char *endpoint;
    const char *server_key;
    const tt_keypair_t *keys;
    int writes;
    int failed;
} client_job_t;

static double raw_lmdb(const char *dir, int n)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    mkdir(dir, 0700);
    if (mdb_env_create(&env) || mdb_env_set_mapsize(env, 1ULL << 30) ||
        mdb_env_open(env, dir, 0, 0600))
        return -1;
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, NULL, 0, &dbi);
    mdb_txn_commit(txn);
    char value[200];
    memset(value, 'x', sizeof value);
    int64_t t0 = tt_time_mono_ns();
    for (int i = 0; i < n; i++) {
        uint64_t k = __builtin_bswap64((uint64_t)i + 1);
        MDB_val key = {sizeof k, &k}, val = {sizeof value, value};
        if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_put(txn, dbi, &key, &val, MDB_APPEND) ||
            mdb_txn_commit(txn))
            return -1;
    }
    double s = (double)(tt_time_mono_ns() - t0) / 1e9;
    mdb_env_close(env);
    return n / s;
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

static void *client_thread(void *arg)
{
    client_job_t *j = arg;
    char why[TT_WHY_LEN];
    tt_client_t *c = tt_client_new(j->ctx, j->endpoint, j->server_key, j->keys, 0, why);
    if (!c) {
        j->failed = j->writes;
        return NULL;
    }
    for (int i = 0; i < j->writes; i++) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__TakeRate tr = TUTTI__TAKE_RATE__INIT;
        tr.cue = "1M1";
        tr.take = 1;
        tr.rating = (i & 1) ? "hold" : "circled";
        tr.note = "";
        env.body_case = TUTTI__ENVELOPE__BODY_TAKE_RATE;
        env.take_rate = &tr;
        if (request(c, &env) != 0)
            j->failed++;
    }
    tt_client_destroy(&c);
    return NULL;
}

static double run_clients(void *ctx, const char *ep, const char *skey, const tt_keypair_t *kp,
                          int clients, int per_client, int *failed)
{
    pthread_t th[64];
    client_job_t jobs[64];
    int64_t t0 = tt_time_mono_ns();
    for (int i = 0; i < clients; i++) {
        jobs[i] = (client_job_t){ctx, ep, skey, kp, per_client, 0};
        pthread_create(&th[i], NULL, client_thread, &jobs[i]);
    }
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        *failed += jobs[i].failed;
    }
    double s = (double)(tt_time_mono_ns() - t0) / 1e9;
    return (double)clients * per_client / s;
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
    int n = 400, history = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--writes") && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--history") && i + 1 < argc) {
            history = atoi(argv[++i]);
        } else {
            printf("Usage: tutti-bench-log [--writes N] [--history RECORDS]\n\n"
                   "Durable writes per second in one run on the same disk: raw LMDB single-put\n"
                   "transactions, then tutti take ratings end to end from 1 and 8 clients\n"
                   "(N each for raw and 1 client, N/8 per client for 8; default 400). Prints\n"
                   "raw_commits_per_s, tutti_writes_per_s_1, tutti_writes_per_s_8,\n"
                   "ratio_1 (= tutti_1 / raw) and ratio_8 (= tutti_8 / raw). --history R\n"
                   "then fills the log to R records and times `tutti history --json`\n"
                   "(history_s).\n");
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (n < 16 || n > 1000000) {
        fprintf(stderr, "tutti-bench-log: --writes wants 16..1000000\n");
        return 2;
    }
    bench_env_t env;
    if (bench_env_init(&env, "tutti-bench-log") != 0)
        return 1;
    int rc = 1, failed = 0;
    void *ctx = NULL;
    tt_keypair_t *kp = NULL;
    tt_client_t *c = NULL;
    char dir[1200], why[TT_WHY_LEN];
    snprintf(dir, sizeof dir, "%s/raw", env.tmp);
    double raw = raw_lmdb(dir, n);
    if (raw <= 0) {
        fprintf(stderr, "tutti-bench-log: raw LMDB run failed\n");
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
    c = tt_client_new(ctx, eps[0], skey, kp, 0, why);
    if (!c)
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
    double one = run_clients(ctx, eps[0], skey, kp, 1, n, &failed);
    double eight = run_clients(ctx, eps[0], skey, kp, 8, n / 8, &failed);
    if (failed) {
        fprintf(stderr, "tutti-bench-log: %d writes failed\n", failed);
        goto out;
    }
    json_t *o = json_pack("{s:f, s:f, s:f, s:f, s:f, s:i}", "raw_commits_per_s", raw,
                          "tutti_writes_per_s_1", one, "tutti_writes_per_s_8", eight, "ratio_1",
                          one / raw, "ratio_8", eight / raw, "writes", n);
    if (history > 0) {
        int have = 5 + n + (n / 8) * 8; /* genesis, map, arm, roll, stop, and the writes */
        if (history > have)
            run_clients(ctx, eps[0], skey, kp, 8, (history - have + 7) / 8, &failed);
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
    if (ctx)
        zmq_ctx_term(ctx);
    tt_keypair_destroy(&kp);
    bench_env_cleanup(&env);
    return rc;
}
