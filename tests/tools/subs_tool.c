/* tutti-subs: many observers on the coordinator's updates port at once,
 * checking that every update reaches every one of them (it_many_subscribers).
 *
 *   tutti-subs --make-keys DIR --count N
 *       writes DIR/sNNNN.key/.pub and prints "observer sNNNN KEY" lines
 *       for the access file.
 *   tutti-subs --updates EP --server-key FILE.pub --keys DIR --count N
 *              --expect K [--timeout-s S]
 *       connects N CURVE SUB sockets at once, prints "ready SECONDS" once
 *       every one has heard the coordinator (its heartbeat, each second),
 *       then waits until each has received K updates. Exits 0 when every
 *       subscriber holds the same gap-free run of K seqs, 1 otherwise
 *       (saying which subscriber lacks which seq), 2 on a usage error.
 */
#define _GNU_SOURCE
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zmq.h>

#define MAX_SUBS 4000
#define MAX_EXPECT 10000

static int make_keys(const char *dir, int n)
{
    char why[TT_WHY_LEN], name[32];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "s%04d", i + 1);
        tt_keypair_t *kp = tt_keypair_generate(why);
        if (!kp || tt_keypair_save(kp, dir, name, why) != 0) {
            fprintf(stderr, "tutti-subs: %s: %s\n", name, why);
            tt_keypair_destroy(&kp);
            return 1;
        }
        printf("observer %s %s\n", name, kp->public_z85);
        tt_keypair_destroy(&kp);
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *updates = NULL, *skey_path = NULL, *keys = NULL, *make = NULL;
    int n = 0, expect = 0;
    double timeout_s = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--updates"))
            updates = argv[i + 1];
        else if (!strcmp(argv[i], "--server-key"))
            skey_path = argv[i + 1];
        else if (!strcmp(argv[i], "--keys"))
            keys = argv[i + 1];
        else if (!strcmp(argv[i], "--make-keys"))
            make = argv[i + 1];
        else if (!strcmp(argv[i], "--count"))
            n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--expect"))
            expect = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--timeout-s"))
            timeout_s = atof(argv[i + 1]);
        else
            n = -1;
    }
    if (n < 1 || n > MAX_SUBS || (argc % 2) == 0) {
        fprintf(stderr, "usage: tutti-subs --make-keys DIR --count N\n"
                        "       tutti-subs --updates EP --server-key FILE.pub --keys DIR "
                        "--count N --expect K [--timeout-s S]\n");
        return 2;
    }
    if (make)
        return make_keys(make, n);
    if (!updates || !skey_path || !keys || expect < 1 || expect > MAX_EXPECT) {
        fprintf(stderr, "tutti-subs: --updates, --server-key, --keys and --expect 1..%d wanted\n",
                MAX_EXPECT);
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char why[TT_WHY_LEN], skey[TT_Z85_KEY_LEN + 1], path[1200];
    if (tt_pubkey_load(skey_path, skey, why) != 0) {
        fprintf(stderr, "tutti-subs: %s\n", why);
        return 2;
    }
    int rc = 1;
    void *ctx = zmq_ctx_new();
    tt_keypair_t **kps = calloc((size_t)n, sizeof *kps);
    void **socks = calloc((size_t)n, sizeof *socks);
    zmq_pollitem_t *items = calloc((size_t)n, sizeof *items);
    uint64_t *got = calloc((size_t)n * (size_t)expect, sizeof *got);
    int *n_got = calloc((size_t)n, sizeof *n_got);
    char *heard = calloc((size_t)n, 1);
    if (!ctx || !kps || !socks || !items || !got || !n_got || !heard ||
        zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, n + 16) != 0)
        goto out;
    int hwm = 100000;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/s%04d.key", keys, i + 1);
        if (!(kps[i] = tt_keypair_load(path, why)) || !(socks[i] = zmq_socket(ctx, ZMQ_SUB)) ||
            zmq_setsockopt(socks[i], ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
            tt_wire_setup_client(socks[i], kps[i], skey, why) != 0 ||
            zmq_setsockopt(socks[i], ZMQ_SUBSCRIBE, "", 0) != 0 || zmq_connect(socks[i], updates)) {
            fprintf(stderr, "tutti-subs: subscriber %d: %s %s\n", i + 1, why, zmq_strerror(errno));
            goto out;
        }
        items[i] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
    }
    int64_t t0 = tt_time_mono_ns(), deadline = t0 + (int64_t)(timeout_s * 1e9);
    int n_heard = 0, done = 0, ready = 0;
    while (done < n && tt_time_mono_ns() < deadline) {
        if (zmq_poll(items, n, 100) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            tt_wire_msg_t m;
            while (tt_wire_recv(socks[i], 0, ZMQ_DONTWAIT, &m, why) != TT_ERR_AGAIN) {
                if (!m.env) {
                    fprintf(stderr, "tutti-subs: subscriber %d: %s\n", i + 1, why);
                    continue;
                }
                if (!heard[i]) {
                    heard[i] = 1;
                    n_heard++;
                }
                /* only what follows "ready" counts: the test writes after it */
                if (ready && m.env->body_case == TUTTI__ENVELOPE__BODY_UPDATE &&
                    n_got[i] < expect) {
                    got[(size_t)i * expect + n_got[i]++] = m.env->update->seq;
                    done += n_got[i] == expect;
                }
                tt_wire_msg_clear(&m);
            }
        }
        if (!ready && n_heard == n) {
            ready = 1;
            printf("ready %.2f\n", (double)(tt_time_mono_ns() - t0) / 1e9);
            fflush(stdout);
        }
    }
    if (!ready) {
        printf("only %d of %d subscribers heard the coordinator in %.0f s\n", n_heard, n,
               timeout_s);
        goto out;
    }
    /* The run every subscriber should hold: the first one's, sorted. */
    int bad = 0;
    uint64_t first = 0;
    for (int i = 0; i < n; i++) {
        uint64_t *g = &got[(size_t)i * expect];
        qsort(g, (size_t)n_got[i], sizeof *g, cmp_u64);
        if (n_got[i] < expect) {
            if (bad++ < 10)
                printf("subscriber s%04d got %d of %d updates\n", i + 1, n_got[i], expect);
            continue;
        }
        if (!first)
            first = g[0];
        for (int k = 0; k < expect; k++)
            if (g[k] != first + (uint64_t)k) {
                if (bad++ < 10)
                    printf("subscriber s%04d: seq %llu where %llu was due\n", i + 1,
                           (unsigned long long)g[k], (unsigned long long)(first + (uint64_t)k));
                break;
            }
    }
    if (bad) {
        printf("FAIL: %d of %d subscribers missed updates\n", bad, n);
        goto out;
    }
    printf("all %d subscribers got all %d updates (seqs %llu..%llu)\n", n, expect,
           (unsigned long long)first, (unsigned long long)(first + (uint64_t)expect - 1));
    rc = 0;
out:
    for (int i = 0; socks && i < n; i++)
        if (socks[i])
            zmq_close(socks[i]);
    for (int i = 0; kps && i < n; i++)
        tt_keypair_destroy(&kps[i]);
    if (ctx)
        zmq_ctx_term(ctx);
    free(kps);
    free(socks);
    free(items);
    free(got);
    free(n_got);
    free(heard);
    return rc;
}
