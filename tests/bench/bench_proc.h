/* bench_proc: start and stop the real tutti programs from a benchmark.
 *
 * Benchmarks run the programs as a user would (separate processes, keys in
 * a temp dir, CURVE on loopback) and measure from outside. Every child is
 * tracked by PID and ended by bench_proc_stop_all, also on failure paths.
 */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <stddef.h>
#include <sys/types.h>

#define BENCH_MAX_PROCS 16

typedef struct {
    char bin_dir[1024]; /* where this benchmark's sibling programs are */
    char tmp[1024];     /* temp dir for keys, stores, logs; removed at the end */
    pid_t pids[BENCH_MAX_PROCS];
    int n;
} bench_env_t;

/* Finds bin_dir from /proc/self/exe and makes the temp dir. 0 on success. */
int bench_env_init(bench_env_t *env, const char *prefix);
/* Generates DIR/keys/NAME.key + .pub. 0 on success. */
int bench_keygen(bench_env_t *env, const char *name);
/* The Z85 public key of NAME into out (41 bytes). */
int bench_pubkey(bench_env_t *env, const char *name, char *out);
/* Starts bin_dir/prog with argv (NULL-terminated, argv[0] ignored),
 * stdout+stderr to tmp/log_name.log. Returns the PID or -1. */
pid_t bench_spawn(bench_env_t *env, const char *log_name, const char *prog, char *const argv[]);
/* Waits up to timeout_ms for path to hold at least lines lines. 0 when it does. */
int bench_wait_lines(const char *path, int lines, int timeout_ms);
/* Reads line n (1-based) of path into out. */
int bench_read_line(const char *path, int n, char *out, size_t len);
/* Starts tutti-coordinator on a free loopback port with TMP/keys/coordinator.key
 * and the access file TMP/access (the caller writes it), waits until it
 * listens and reads its request, updates and clock endpoints into eps.
 * 0 on success; on failure says why on stderr. */
int bench_start_coordinator(bench_env_t *env, char eps[3][256]);
/* The same with more arguments for the coordinator (NULL-terminated, at
 * most 8), e.g. {"--media-channels", "2", NULL}. */
int bench_start_coordinator_with(bench_env_t *env, char eps[3][256], const char *const *extra);
/* SIGTERM one child and wait for it (SIGKILL after 5 s). Returns its status. */
int bench_stop(bench_env_t *env, pid_t pid);
/* Stops every child still running and removes the temp dir. */
void bench_env_cleanup(bench_env_t *env);

/* Sleeps s seconds, resuming after signals. */
void bench_sleep_s(double s);
/* Sorts v ascending; then bench_percentile reads the p-th percentile
 * (nearest rank) of the sorted values, NAN when n is 0. */
void bench_sort(double *v, size_t n);
double bench_percentile(const double *sorted, size_t n, double p);

#endif
