/* tt_web_guard: see tt_web_guard.h. */
#include "tt_web_guard.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDRESS_MAX 64 /* an IPv6 address as text is at most 45 bytes */

int tt_web_guard_host_ok(const char *host, const char *bound_host)
{
    if (!host)
        return 0;
    size_t name_len;
    const char *port;
    if (host[0] == '[') { /* [v6]:port */
        const char *close = strchr(host, ']');
        if (!close)
            return 0;
        name_len = (size_t)(close - host) + 1;
        port = close + 1;
    } else {
        name_len = strcspn(host, ":");
        port = host + name_len;
    }
    if (*port) { /* ":digits" and nothing else */
        if (*port != ':' || !port[1])
            return 0;
        for (const char *p = port + 1; *p; p++)
            if (*p < '0' || *p > '9')
                return 0;
    }
    static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof loopback / sizeof *loopback; i++)
        if (strlen(loopback[i]) == name_len && !strncmp(host, loopback[i], name_len))
            return 1;
    return bound_host && *bound_host && strlen(bound_host) == name_len &&
           !strncmp(host, bound_host, name_len);
}

typedef struct {
    char address[ADDRESS_MAX];
    int fails;
    int64_t until_ns; /* no password is checked before this */
} entry_t;

struct tt_web_guard {
    pthread_mutex_t lock;
    entry_t entries[TT_WEB_GUARD_ADDRESSES];
};

tt_web_guard_t *tt_web_guard_new(void)
{
    tt_web_guard_t *g = calloc(1, sizeof *g);
    if (g && pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g);
        return NULL;
    }
    return g;
}

void tt_web_guard_destroy(tt_web_guard_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy(&(*self_p)->lock);
    free(*self_p);
    *self_p = NULL;
}

static entry_t *find(tt_web_guard_t *g, const char *address)
{
    for (size_t i = 0; i < TT_WEB_GUARD_ADDRESSES; i++)
        if (g->entries[i].fails && !strcmp(g->entries[i].address, address))
            return &g->entries[i];
    return NULL;
}

int64_t tt_web_guard_login_wait_ms(tt_web_guard_t *g, const char *address, int64_t now_ns)
{
    pthread_mutex_lock(&g->lock);
    const entry_t *e = find(g, address);
    int64_t wait = e && e->until_ns > now_ns ? (e->until_ns - now_ns + 999999) / 1000000 : 0;
    pthread_mutex_unlock(&g->lock);
    return wait;
}

void tt_web_guard_login_failed(tt_web_guard_t *g, const char *address, int64_t now_ns)
{
    pthread_mutex_lock(&g->lock);
    entry_t *e = find(g, address);
    if (!e) { /* a free slot, else the one whose wait ended first */
        e = &g->entries[0];
        for (size_t i = 0; i < TT_WEB_GUARD_ADDRESSES; i++) {
            if (!g->entries[i].fails) {
                e = &g->entries[i];
                break;
            }
            if (g->entries[i].until_ns < e->until_ns)
                e = &g->entries[i];
        }
        memset(e, 0, sizeof *e);
        snprintf(e->address, sizeof e->address, "%s", address);
    }
    e->fails++;
    int64_t wait_ms = TT_WEB_GUARD_FIRST_WAIT_MS;
    for (int i = 1; i < e->fails && wait_ms < TT_WEB_GUARD_MAX_WAIT_MS; i++)
        wait_ms *= 2;
    if (wait_ms > TT_WEB_GUARD_MAX_WAIT_MS)
        wait_ms = TT_WEB_GUARD_MAX_WAIT_MS;
    e->until_ns = now_ns + wait_ms * 1000000;
    pthread_mutex_unlock(&g->lock);
}

void tt_web_guard_login_ok(tt_web_guard_t *g, const char *address)
{
    pthread_mutex_lock(&g->lock);
    entry_t *e = find(g, address);
    if (e)
        memset(e, 0, sizeof *e);
    pthread_mutex_unlock(&g->lock);
}
