/* bench_proc: child processes for benchmarks. See bench_proc.h. */
#define _GNU_SOURCE
#include "bench_proc.h"
#include "tt_error.h"
#include "tt_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int bench_env_init(bench_env_t *env, const char *prefix)
{
    memset(env, 0, sizeof *env);
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    snprintf(env->bin_dir, sizeof env->bin_dir, "%s", dirname(exe));
    snprintf(env->tmp, sizeof env->tmp, "/tmp/%s.XXXXXX", prefix);
    if (!mkdtemp(env->tmp))
        return -1;
    return 0;
}

int bench_keygen(bench_env_t *env, const char *name)
{
    char why[TT_WHY_LEN], dir[1100];
    snprintf(dir, sizeof dir, "%s/keys", env->tmp);
    tt_keypair_t *kp = tt_keypair_generate(why);
    int rc = kp ? tt_keypair_save(kp, dir, name, why) : -1;
    if (rc != 0)
        fprintf(stderr, "bench: keygen %s: %s\n", name, why);
    tt_keypair_destroy(&kp);
    return rc;
}

int bench_pubkey(bench_env_t *env, const char *name, char *out)
{
    char why[TT_WHY_LEN], path[1200];
    snprintf(path, sizeof path, "%s/keys/%s.pub", env->tmp, name);
    return tt_pubkey_load(path, out, why);
}

pid_t bench_spawn(bench_env_t *env, const char *log_name, const char *prog, char *const argv[])
{
    if (env->n == BENCH_MAX_PROCS)
        return -1;
    char path[1200], log[1200];
    snprintf(path, sizeof path, "%s/%s", env->bin_dir, prog);
    snprintf(log, sizeof log, "%s/%s.log", env->tmp, log_name);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        char *args[64];
        int i = 0;
        args[i++] = path;
        for (int k = 1; argv[k] && i < 63; k++)
            args[i++] = argv[k];
        args[i] = NULL;
        execv(path, args);
        fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    env->pids[env->n++] = pid;
    return pid;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

int bench_read_line(const char *path, int n, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int rc = -1;
    for (int i = 1; fgets(out, (int)len, f); i++)
        if (i == n) {
            out[strcspn(out, "\n")] = '\0';
            rc = 0;
            break;
        }
    fclose(f);
    return rc;
}

int bench_wait_lines(const char *path, int lines, int timeout_ms)
{
    char buf[512];
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (bench_read_line(path, lines, buf, sizeof buf) == 0)
            return 0;
        sleep_ms(50);
    }
    return -1;
}

int bench_start_coordinator(bench_env_t *env, char eps[3][256])
{
    return bench_start_coordinator_with(env, eps, NULL);
}

int bench_start_coordinator_with(bench_env_t *env, char eps[3][256], const char *const *extra)
{
    char data[1200], key[1200], access[1200], epfile[1200];
    snprintf(data, sizeof data, "%s/coord", env->tmp);
    snprintf(key, sizeof key, "%s/keys/coordinator.key", env->tmp);
    snprintf(access, sizeof access, "%s/access", env->tmp);
    snprintf(epfile, sizeof epfile, "%s/endpoints", env->tmp);
    enum { EXTRA_MAX = 8 };
    char *argv[12 + EXTRA_MAX] = {"",
                                  "--data",
                                  data,
                                  "--key",
                                  key,
                                  "--access",
                                  access,
                                  "--bind",
                                  "tcp://127.0.0.1:*",
                                  "--endpoint-file",
                                  epfile};
    int n = 11;
    for (int i = 0; extra && extra[i] && i < EXTRA_MAX; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    if (bench_spawn(env, "coordinator", "tutti-coordinator", argv) < 0 ||
        bench_wait_lines(epfile, 3, 10000) != 0) {
        fprintf(stderr, "bench: the coordinator did not start (see %s)\n", env->tmp);
        return -1;
    }
    for (int i = 0; i < 3; i++)
        bench_read_line(epfile, i + 1, eps[i], 256);
    return 0;
}

int bench_stop(bench_env_t *env, pid_t pid)
{
    int status = -1;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            goto done;
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
done:
    for (int i = 0; i < env->n; i++)
        if (env->pids[i] == pid)
            env->pids[i] = 0;
    return status;
}

void bench_env_cleanup(bench_env_t *env)
{
    for (int i = 0; i < env->n; i++)
        if (env->pids[i] > 0)
            bench_stop(env, env->pids[i]);
    if (env->tmp[0] && !getenv("BENCH_KEEP")) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", env->tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "bench: could not remove %s\n", env->tmp);
    }
}

void bench_sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_sort(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
}

double bench_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    return sorted[i == 0 ? 0 : i - 1];
}
