/* tutti-bench-clock: how closely an agent tracks the session clock.
 *
 * Starts a coordinator and one agent on an injected local clock (default
 * offset 2.5 s, skew +150 ppm), optionally through tutti-netsim, and lets
 * the agent trace its session-time estimate every 10 ms. On one host the
 * coordinator's session clock is CLOCK_MONOTONIC, so each trace line holds
 * the truth (mono) and the estimate taken from the same reading: the error
 * is exact, with no measurement noise of its own. Prints one JSON object.
 */
#define _GNU_SOURCE
#include "bench_proc.h"
#include "tt_time.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: tutti-bench-clock [--duration S] [--offset-us N] [--skew-ppm P]\n"
            "                         [--path SPEC] [--outage S]\n"
            "\n"
            "Measures an agent's session-time error against the truth and prints JSON:\n"
            "p50_us, p95_us, p99_us, max_us (|error| over every 10 ms trace point after the\n"
            "first lock), lock_ms (agent start to first 'locked'), samples,\n"
            "bound_covered (share of points whose error bound held the true error), and\n"
            "with --outage: holdover_error_us (error at the end of the outage).\n"
            "\n"
            "  --duration S     measure for S seconds (default 20)\n"
            "  --offset-us N    injected local clock offset (default 2500000)\n"
            "  --skew-ppm P     injected local clock skew (default 150)\n"
            "  --path SPEC      route the agent through tutti-netsim, e.g.\n"
            "                   \"delay=20ms,jitter=2ms\" (symmetric, uniform) or\n"
            "                   \"up=1ms,down=1ms,down_jitter_exp=2ms\" (one-way exponential).\n"
            "                   Keys: delay jitter jitter_exp up down up_jitter down_jitter\n"
            "                   up_jitter_exp down_jitter_exp rate (Mbit/s); values in ms.\n"
            "  --outage S       cut the link for S seconds in the middle of the run\n"
            "                   ((duration - S) / 2 after the start)\n"
            "\n"
            "Example: tutti-bench-clock --duration 90 --outage 30\n");
}

typedef struct {
    char args[32][64];
    int n;
} netsim_args_t;

static int add_arg(netsim_args_t *a, const char *flag, const char *value)
{
    if (a->n + 2 > 32)
        return -1;
    snprintf(a->args[a->n++], 64, "%s", flag);
    snprintf(a->args[a->n++], 64, "%s", value);
    return 0;
}

/* "delay=20ms,jitter=2ms" -> netsim flags. */
static int parse_path(const char *spec, netsim_args_t *a)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            return -1;
        *eq = '\0';
        char *val = eq + 1, *end;
        double v = strtod(val, &end);
        if (end == val || v < 0)
            return -1;
        if (!strcmp(end, "us"))
            v /= 1000.0;
        else if (strcmp(end, "ms") != 0 && strcmp(end, "") != 0)
            return -1;
        char num[32];
        snprintf(num, sizeof num, "%g", v);
        const char *k = tok;
        int rc = 0;
        if (!strcmp(k, "delay"))
            rc = add_arg(a, "--delay", num);
        else if (!strcmp(k, "jitter"))
            rc = add_arg(a, "--jitter", num);
        else if (!strcmp(k, "jitter_exp"))
            rc = add_arg(a, "--jitter", num) || add_arg(a, "--jitter-dist", "exp");
        else if (!strcmp(k, "up"))
            rc = add_arg(a, "--up-delay", num);
        else if (!strcmp(k, "down"))
            rc = add_arg(a, "--down-delay", num);
        else if (!strcmp(k, "up_jitter"))
            rc = add_arg(a, "--up-jitter", num);
        else if (!strcmp(k, "down_jitter"))
            rc = add_arg(a, "--down-jitter", num);
        else if (!strcmp(k, "up_jitter_exp"))
            rc = add_arg(a, "--up-jitter", num) || add_arg(a, "--up-jitter-dist", "exp");
        else if (!strcmp(k, "down_jitter_exp"))
            rc = add_arg(a, "--down-jitter", num) || add_arg(a, "--down-jitter-dist", "exp");
        else if (!strcmp(k, "rate")) {
            snprintf(num, sizeof num, "%g", strtod(val, NULL));
            rc = add_arg(a, "--rate", num);
        } else
            return -1;
        if (rc)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    double duration = 20, outage = 0, skew = 150;
    long offset_us = 2500000;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--duration") && v)
            duration = atof(v), i++;
        else if (!strcmp(a, "--outage") && v)
            outage = atof(v), i++;
        else if (!strcmp(a, "--skew-ppm") && v)
            skew = atof(v), i++;
        else if (!strcmp(a, "--offset-us") && v)
            offset_us = atol(v), i++;
        else if (!strcmp(a, "--path") && v)
            path = v, i++;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (duration < 2 || outage < 0 || outage > duration - 1) {
        fprintf(stderr, "tutti-bench-clock: need duration >= 2 s and outage < duration - 1\n");
        return 2;
    }
    netsim_args_t ns = {0};
    if (path && parse_path(path, &ns) != 0) {
        fprintf(stderr, "tutti-bench-clock: cannot read --path '%s'\n", path);
        return 2;
    }
    bench_env_t env;
    if (bench_env_init(&env, "tutti-bench-clock") != 0) {
        fprintf(stderr, "tutti-bench-clock: cannot make a temp dir\n");
        return 1;
    }
    int rc = 1;
    char file[1200], line[512];
    if (bench_keygen(&env, "coordinator") || bench_keygen(&env, "stage"))
        goto out;
    char stage_pub[64];
    bench_pubkey(&env, "stage", stage_pub);
    snprintf(file, sizeof file, "%s/access", env.tmp);
    FILE *f = fopen(file, "w");
    if (!f)
        goto out;
    fprintf(f, "room stage %s\n", stage_pub);
    fclose(f);

    char eps[3][256];
    if (bench_start_coordinator(&env, eps) != 0)
        goto out;

    /* The agent's three connections go through the simulated link when asked. */
    char agent_eps[3][256];
    memcpy(agent_eps, eps, sizeof eps);
    if (path || outage > 0) {
        char ready[1200], outage_arg[64];
        snprintf(ready, sizeof ready, "%s/netsim.ready", env.tmp);
        char *nargv[48];
        int k = 0;
        nargv[k++] = "";
        for (int i = 0; i < 3; i++) {
            nargv[k++] = "--listen";
            nargv[k++] = "tcp://127.0.0.1:0";
            nargv[k++] = "--to";
            nargv[k++] = eps[i];
        }
        for (int i = 0; i < ns.n; i++)
            nargv[k++] = ns.args[i];
        if (outage > 0) {
            /* netsim counts from its own start; the agent starts right after. */
            snprintf(outage_arg, sizeof outage_arg, "%.3f+%.3f", (duration - outage) / 2, outage);
            nargv[k++] = "--outage";
            nargv[k++] = outage_arg;
        }
        nargv[k++] = "--ready-file";
        nargv[k++] = ready;
        nargv[k] = NULL;
        if (bench_spawn(&env, "netsim", "tutti-netsim", nargv) < 0 ||
            bench_wait_lines(ready, 3, 10000) != 0) {
            fprintf(stderr, "tutti-bench-clock: tutti-netsim did not start (see %s)\n", env.tmp);
            goto out;
        }
        for (int i = 0; i < 3; i++)
            bench_read_line(ready, i + 1, agent_eps[i], sizeof agent_eps[i]);
    }
    char skey[1200], akey[1200], adata[1200], trace[1200], off[32], sk[32];
    snprintf(skey, sizeof skey, "%s/keys/coordinator.pub", env.tmp);
    snprintf(akey, sizeof akey, "%s/keys/stage.key", env.tmp);
    snprintf(adata, sizeof adata, "%s/agent", env.tmp);
    snprintf(trace, sizeof trace, "%s/trace", env.tmp);
    snprintf(off, sizeof off, "%ld", offset_us);
    snprintf(sk, sizeof sk, "%g", skew);
    char *aargv[] = {"",           "--room",
                     "stage",      "--coordinator",
                     agent_eps[0], "--updates",
                     agent_eps[1], "--clock",
                     agent_eps[2], "--server-key",
                     skey,         "--key",
                     akey,         "--data",
                     adata,        "--clock-offset-us",
                     off,          "--clock-skew-ppm",
                     sk,           "--clock-trace",
                     trace,        NULL};
    int64_t agent_start = tt_time_mono_ns();
    pid_t agent = bench_spawn(&env, "agent", "tutti-agent", aargv);
    if (agent < 0)
        goto out;
    bench_sleep_s(duration);
    bench_stop(&env, agent);

    /* Read the trace. */
    FILE *t = fopen(trace, "r");
    if (!t) {
        fprintf(stderr, "tutti-bench-clock: no trace from the agent (see %s)\n", env.tmp);
        goto out;
    }
    size_t cap = 1024, n = 0, covered = 0;
    double *err = malloc(cap * sizeof *err);
    int64_t lock_at = 0;
    double holdover_err = NAN;
    int64_t outage_end = agent_start + (int64_t)(((duration - outage) / 2 + outage) * 1e9);
    while (err && fgets(line, sizeof line, t)) {
        long long mono, local, session;
        char state[16];
        double bound;
        if (sscanf(line, "%lld %lld %lld %15s %lf", &mono, &local, &session, state, &bound) != 5)
            continue;
        if (!lock_at && !strcmp(state, "locked"))
            lock_at = mono;
        if (!lock_at)
            continue;
        double e = fabs((double)(session - mono)) / 1000.0;
        if (outage > 0 && mono <= outage_end)
            holdover_err = e;
        if (bound >= 0 && e <= bound / 1000.0)
            covered++;
        if (n == cap) {
            double *grown = realloc(err, 2 * cap * sizeof *err);
            if (!grown)
                break;
            err = grown;
            cap *= 2;
        }
        err[n++] = e;
    }
    fclose(t);
    if (!err || n == 0) {
        fprintf(stderr, "tutti-bench-clock: the agent never locked (see %s)\n", env.tmp);
        free(err);
        goto out;
    }
    bench_sort(err, n);
    json_t *o = json_object();
    json_object_set_new(o, "p50_us", json_real(bench_percentile(err, n, 50)));
    json_object_set_new(o, "p95_us", json_real(bench_percentile(err, n, 95)));
    json_object_set_new(o, "p99_us", json_real(bench_percentile(err, n, 99)));
    json_object_set_new(o, "max_us", json_real(err[n - 1]));
    json_object_set_new(o, "lock_ms", json_integer((lock_at - agent_start) / 1000000));
    json_object_set_new(o, "samples", json_integer((json_int_t)n));
    json_object_set_new(o, "bound_covered", json_real((double)covered / (double)n));
    if (outage > 0)
        json_object_set_new(o, "holdover_error_us", json_real(holdover_err));
    json_object_set_new(o, "duration_s", json_real(duration));
    json_object_set_new(o, "offset_us", json_integer(offset_us));
    json_object_set_new(o, "skew_ppm", json_real(skew));
    json_object_set_new(o, "path", path ? json_string(path) : json_string("loopback"));
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    puts(s);
    free(s);
    json_decref(o);
    free(err);
    rc = 0;
out:
    bench_env_cleanup(&env);
    return rc;
}
