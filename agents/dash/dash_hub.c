/* dash_hub: see dash_hub.h. */
#include "dash_hub.h"
#include "tt_web.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    uint64_t seq;
    char *json; /* owned */
} ring_entry_t;

struct dash_hub {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int closing;
    char *state; /* owned */
    uint64_t state_seq, state_version;
    ring_entry_t ring[DASH_RING];
    size_t ring_head, ring_len; /* oldest at ring_head */
    char *report;               /* owned */
    char report_name[DASH_REPORT_NAME];
};

dash_hub_t *dash_hub_new(void)
{
    dash_hub_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    tt_web_cond_init(&h->changed);
    return h;
}

void dash_hub_destroy(dash_hub_t **self_p)
{
    dash_hub_t *h = self_p ? *self_p : NULL;
    if (!h)
        return;
    for (size_t i = 0; i < DASH_RING; i++)
        free(h->ring[i].json);
    free(h->state);
    free(h->report);
    pthread_cond_destroy(&h->changed);
    pthread_mutex_destroy(&h->lock);
    free(h);
    *self_p = NULL;
}

static void replace(char **slot, const char *text)
{
    char *copy = strdup(text);
    if (!copy)
        return; /* keep the old one: stale beats empty */
    free(*slot);
    *slot = copy;
}

void dash_hub_set_state(dash_hub_t *h, uint64_t seq, const char *json)
{
    pthread_mutex_lock(&h->lock);
    replace(&h->state, json);
    h->state_seq = seq;
    h->state_version++;
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
}

void dash_hub_add_record(dash_hub_t *h, uint64_t seq, const char *json)
{
    char *copy = strdup(json);
    if (!copy)
        return;
    pthread_mutex_lock(&h->lock);
    size_t slot;
    if (h->ring_len < DASH_RING) {
        slot = (h->ring_head + h->ring_len++) % DASH_RING;
    } else {
        slot = h->ring_head;
        h->ring_head = (h->ring_head + 1) % DASH_RING;
    }
    free(h->ring[slot].json);
    h->ring[slot] = (ring_entry_t){.seq = seq, .json = copy};
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
}

void dash_hub_set_report(dash_hub_t *h, const char *csv, const char *name)
{
    pthread_mutex_lock(&h->lock);
    replace(&h->report, csv);
    snprintf(h->report_name, sizeof h->report_name, "%s", name);
    pthread_mutex_unlock(&h->lock);
}

char *dash_hub_state(dash_hub_t *h, uint64_t *seq, uint64_t *version)
{
    pthread_mutex_lock(&h->lock);
    char *copy = h->state ? strdup(h->state) : NULL;
    if (seq)
        *seq = h->state_seq;
    if (version)
        *version = h->state_version;
    pthread_mutex_unlock(&h->lock);
    return copy;
}

char *dash_hub_report(dash_hub_t *h, char name[DASH_REPORT_NAME])
{
    pthread_mutex_lock(&h->lock);
    char *copy = h->report ? strdup(h->report) : NULL;
    memcpy(name, h->report_name, DASH_REPORT_NAME);
    pthread_mutex_unlock(&h->lock);
    return copy;
}

/* Up to this much event text per chunk; the stream asks again at once. */
#define CHUNK_SOFT_MAX (256 * 1024)

static int something_new(const dash_hub_t *h, uint64_t last_seq, uint64_t version)
{
    if (h->state_version != version)
        return 1;
    if (h->ring_len == 0)
        return 0;
    const ring_entry_t *newest = &h->ring[(h->ring_head + h->ring_len - 1) % DASH_RING];
    return newest->seq > last_seq;
}

char *dash_hub_next_events(dash_hub_t *h, uint64_t *last_seq, uint64_t *version, int wait_ms)
{
    pthread_mutex_lock(&h->lock);
    struct timespec until;
    tt_web_deadline(wait_ms, &until);
    while (!h->closing && !something_new(h, *last_seq, *version)) {
        if (pthread_cond_timedwait(&h->changed, &h->lock, &until) == ETIMEDOUT)
            break;
    }
    if (h->closing) {
        pthread_mutex_unlock(&h->lock);
        return NULL;
    }
    tt_web_text_t b = {0};
    for (size_t i = 0; i < h->ring_len && b.len < CHUNK_SOFT_MAX; i++) {
        const ring_entry_t *e = &h->ring[(h->ring_head + i) % DASH_RING];
        if (e->seq <= *last_seq)
            continue;
        tt_web_text_add(&b, "event: record\nid: %llu\ndata: %s\n\n", (unsigned long long)e->seq,
                        e->json);
        *last_seq = e->seq;
    }
    if (h->state && h->state_version != *version && b.len < CHUNK_SOFT_MAX) {
        /* The state's id is its seq, so a reconnect resumes after it. */
        uint64_t id = h->state_seq > *last_seq ? h->state_seq : *last_seq;
        tt_web_text_add(&b, "event: state\nid: %llu\ndata: %s\n\n", (unsigned long long)id,
                        h->state);
        *version = h->state_version;
        *last_seq = id;
    }
    pthread_mutex_unlock(&h->lock);
    return tt_web_text_take(&b);
}

void dash_hub_shutdown(dash_hub_t *h)
{
    pthread_mutex_lock(&h->lock);
    h->closing = 1;
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
}
