/* tutti-bench-restart: how long a coordinator takes to start over a long
 * log, from its newest snapshot of the fold and with the whole fold.
 *
 * For each size (default 10,000, 100,000 and 1,000,000 records)
 * tutti-loggen writes a signed log of that many records straight into a
 * store (every kind of record once per 500, a snapshot with every 1000th,
 * as a coordinator stores them). Then tutti-coordinator starts on it again
 * and again, alternately with snapshots (the default) and with
 * --snapshot-every 0 (the whole log checked and folded), each time timed
 * from fork to its endpoint file (written once the state is built and
 * every socket is bound: ready to serve) and stopped. The medians and
 * their ratio per size go out as one JSON object, with the store's size,
 * the newest snapshot's size and what the coordinator said it folded.
 *
 * Time is bounded: before a size, its cost is estimated from the last one
 * (linear in records); a size that would end past --budget-s is skipped
 * and said so in the JSON ("skipped" with the estimate). A mode whose
 * starts add up past 60 s at one size is started no more at that size.
 */
#define _GNU_SOURCE
#include "bench_proc.h"
#include "tt_error.h"
#include "tt_store.h"
#include "tt_time.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZES 8
#define MODE_BUDGET_S 60.0

static void usage(FILE *out)
{
    fprintf(out, "Usage: tutti-bench-restart [--sizes N,N,...] [--runs R] [--budget-s S]\n"
                 "\n"
                 "Times tutti-coordinator's start (fork to ready) over logs of N records written\n"
                 "by tutti-loggen, from the newest snapshot and with the whole fold\n"
                 "(--snapshot-every 0). Prints one JSON object.\n"
                 "\n"
                 "  --sizes N,...   log sizes in records (default: 10000,100000,1000000)\n"
                 "  --runs R        starts per mode and size (default: 3)\n"
                 "  --budget-s S    skip a size whose estimated cost would end past S seconds\n"
                 "                  from the start (default: 900)\n"
                 "\n"
                 "Example: tutti-bench-restart --sizes 10000,100000 --runs 5\n");
}

/* Runs bin_dir/prog argv to completion, stdout+stderr into out_path.
 * Returns its exit status, -1 when it did not run. */
static int run_child(bench_env_t *env, const char *prog, char *const argv[], const char *out_path)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", env->bin_dir, prog);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FILE *f = freopen(out_path, "w", stdout);
        if (!f || dup2(fileno(stdout), 2) < 0)
            _exit(126);
        execv(path, argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Starts the coordinator on data (snapshots on or off), waits until its
 * endpoint file holds three lines, stops it. Seconds to ready, or -1. */
static double timed_start(bench_env_t *env, const char *data, int snapshots, const char *log)
{
    char path[1200], key[1200], access[1200], epfile[1200];
    snprintf(path, sizeof path, "%s/tutti-coordinator", env->bin_dir);
    snprintf(key, sizeof key, "%s/keys/coordinator.key", env->tmp);
    snprintf(access, sizeof access, "%s/access", env->tmp);
    snprintf(epfile, sizeof epfile, "%s/endpoints", env->tmp);
    unlink(epfile);
    char *argv[] = {path,
                    "--data",
                    (char *)data,
                    "--key",
                    key,
                    "--access",
                    access,
                    "--bind",
                    "tcp://127.0.0.1:*",
                    "--endpoint-file",
                    epfile,
                    "--snapshot-every",
                    snapshots ? "1000" : "0",
                    NULL};
    int64_t t0 = tt_time_mono_ns();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FILE *f = freopen(log, "a", stdout);
        if (!f || dup2(fileno(stdout), 2) < 0)
            _exit(126);
        execv(path, argv);
        _exit(127);
    }
    double secs = -1;
    char line[512];
    for (;;) {
        if (bench_read_line(epfile, 3, line, sizeof line) == 0) {
            secs = (double)(tt_time_mono_ns() - t0) / 1e9;
            break;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1; /* it died before it was ready */
            break;
        }
        if (tt_time_mono_ns() - t0 > 600 * 1000000000LL)
            break;
        struct timespec ts = {0, 1000000}; /* 1 ms: a start from a snapshot takes a few */
        nanosleep(&ts, NULL);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    return secs;
}

static double median(double *v, size_t n)
{
    bench_sort(v, n);
    return n == 0 ? NAN : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The coordinator's own word on how it built its state, last start. */
static void last_state_line(const char *log, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, "info: state ");
        if (p) {
            snprintf(out, cap, "%s", p + 6);
            out[strcspn(out, "\n")] = '\0';
        }
    }
    fclose(f);
}

static json_int_t newest_snapshot_bytes(const char *data)
{
    char why[TT_WHY_LEN];
    tt_store_t *s = tt_store_open(data, 1, 0, why);
    uint64_t seqs[4];
    size_t n = 0;
    uint8_t *bytes = NULL;
    size_t len = 0;
    json_int_t out = -1;
    if (s && tt_store_snapshot_seqs(s, seqs, 4, &n, why) == 0 && n > 0 &&
        tt_store_snapshot_get(s, seqs[n - 1], &bytes, &len, why) == 0)
        out = (json_int_t)len;
    free(bytes);
    tt_store_destroy(&s);
    return out;
}

/* One size: generate, then alternate starts. Adds its object to sizes;
 * *cost: seconds spent. 0, or -1 on a failure (said on stderr). */
static int bench_size(bench_env_t *env, long records, int runs, json_t *sizes, double *cost)
{
    int64_t t0 = tt_time_mono_ns();
    char data[1200], out[1200], log[1200], n[32];
    snprintf(data, sizeof data, "%s/store-%ld", env->tmp, records);
    snprintf(out, sizeof out, "%s/loggen-%ld.json", env->tmp, records);
    snprintf(log, sizeof log, "%s/coordinator-%ld.log", env->tmp, records);
    snprintf(n, sizeof n, "%ld", records);
    char *gen_argv[] = {"tutti-loggen",     "--data", data, "--records", n,
                        "--snapshot-every", "1000",   NULL};
    if (run_child(env, "tutti-loggen", gen_argv, out) != 0) {
        fprintf(stderr, "bench: tutti-loggen --records %ld failed (see %s)\n", records, out);
        return -1;
    }
    json_error_t jerr;
    json_t *gen = json_load_file(out, 0, &jerr);
    double with[64], without[64];
    size_t n_with = 0, n_without = 0;
    double spent_with = 0, spent_without = 0;
    char with_line[512] = "", without_line[512] = "";
    for (int r = 0; r < runs && r < 64; r++) {
        if (spent_with < MODE_BUDGET_S) {
            double s = timed_start(env, data, 1, log);
            if (s < 0) {
                fprintf(stderr, "bench: the coordinator did not start (see %s)\n", log);
                json_decref(gen);
                return -1;
            }
            with[n_with++] = s;
            spent_with += s;
            last_state_line(log, with_line, sizeof with_line);
        }
        if (spent_without < MODE_BUDGET_S) {
            double s = timed_start(env, data, 0, log);
            if (s < 0) {
                fprintf(stderr, "bench: the coordinator did not start (see %s)\n", log);
                json_decref(gen);
                return -1;
            }
            without[n_without++] = s;
            spent_without += s;
            last_state_line(log, without_line, sizeof without_line);
        }
    }
    struct stat st;
    char mdb[1300];
    snprintf(mdb, sizeof mdb, "%s/data.mdb", data);
    double mw = median(with, n_with), mo = median(without, n_without);
    json_t *o = json_pack(
        "{s:I, s:f, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:s, s:s}", "records", (json_int_t)records,
        "generate_s", gen ? json_real_value(json_object_get(gen, "seconds")) : NAN, "store_bytes",
        (json_int_t)(stat(mdb, &st) == 0 ? st.st_size : -1), "snapshot_bytes",
        newest_snapshot_bytes(data), "start_snapshot_s", mw, "start_full_fold_s", mo, "ratio",
        mo / mw, "runs_snapshot", (json_int_t)n_with, "runs_full_fold", (json_int_t)n_without,
        "said_snapshot", with_line, "said_full_fold", without_line);
    json_decref(gen);
    json_array_append_new(sizes, o);
    /* A million records is a large store: gone once measured. */
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", data);
    *cost = (double)(tt_time_mono_ns() - t0) / 1e9;
    return 0;
}

int main(int argc, char **argv)
{
    long sizes[MAX_SIZES] = {10000, 100000, 1000000};
    size_t n_sizes = 3;
    int runs = 3;
    double budget = 900;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
            n_sizes = 0;
            for (char *p = argv[++i], *end; *p && n_sizes < MAX_SIZES; p = end + (*end == ',')) {
                sizes[n_sizes] = strtol(p, &end, 10);
                if (end == p || sizes[n_sizes] < 2 || sizes[n_sizes] > 100000000) {
                    usage(stderr);
                    return 2;
                }
                n_sizes++;
            }
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = atoi(argv[++i]);
            if (runs < 1 || runs > 64) {
                usage(stderr);
                return 2;
            }
        } else if (!strcmp(argv[i], "--budget-s") && i + 1 < argc) {
            budget = atof(argv[++i]);
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    bench_env_t env;
    if (bench_env_init(&env, "tutti-bench-restart") != 0 ||
        bench_keygen(&env, "coordinator") != 0 || bench_keygen(&env, "op") != 0) {
        fprintf(stderr, "bench: setting up the temp dir failed\n");
        return 1;
    }
    char pk[64], access[1200];
    snprintf(access, sizeof access, "%s/access", env.tmp);
    FILE *f = fopen(access, "w");
    if (!f || bench_pubkey(&env, "op", pk) != 0) {
        fprintf(stderr, "bench: writing the access file failed\n");
        if (f)
            fclose(f);
        bench_env_cleanup(&env);
        return 1;
    }
    fprintf(f, "operator op %s\n", pk);
    fclose(f);

    int64_t t0 = tt_time_mono_ns();
    json_t *out_sizes = json_array();
    double last_cost = 0;
    long last_records = 0;
    int rc = 0;
    for (size_t i = 0; i < n_sizes && rc == 0; i++) {
        double elapsed = (double)(tt_time_mono_ns() - t0) / 1e9;
        double estimate = last_records ? last_cost * (double)sizes[i] / (double)last_records : 0;
        if (elapsed + estimate > budget) {
            char why[160];
            snprintf(why, sizeof why, "estimated %.0f s (from %ld records), past --budget-s %.0f",
                     estimate, last_records, budget);
            json_array_append_new(out_sizes, json_pack("{s:I, s:s}", "records",
                                                       (json_int_t)sizes[i], "skipped", why));
            continue;
        }
        double cost = 0;
        rc = bench_size(&env, sizes[i], runs, out_sizes, &cost);
        last_cost = cost;
        last_records = sizes[i];
    }
    json_t *o = json_pack("{s:s, s:o, s:f}", "bench", "restart", "sizes", out_sizes, "seconds",
                          (double)(tt_time_mono_ns() - t0) / 1e9);
    char *text = json_dumps(o, JSON_INDENT(2));
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(o);
    bench_env_cleanup(&env);
    return rc ? 1 : 0;
}
