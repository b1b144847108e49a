/* tt_web_board: see tt_web_board.h. */
#include "tt_web_board.h"
#include "tt_error.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char name[TT_WEB_BOARD_NAME];
    char *json; /* owned; NULL: slot unused */
    uint64_t version;
} slot_t;

struct tt_web_board {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int closing;
    uint64_t version; /* the last number given out */
    slot_t slots[TT_WEB_BOARD_SLOTS];
};

tt_web_board_t *tt_web_board_new(void)
{
    tt_web_board_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_mutex_init(&b->lock, NULL);
    if (rc == 0 && pthread_cond_init(&b->changed, &ca) != 0) {
        pthread_mutex_destroy(&b->lock);
        rc = -1;
    }
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        free(b);
        return NULL;
    }
    return b;
}

void tt_web_board_destroy(tt_web_board_t **self_p)
{
    tt_web_board_t *b = self_p ? *self_p : NULL;
    if (!b)
        return;
    for (size_t i = 0; i < TT_WEB_BOARD_SLOTS; i++)
        free(b->slots[i].json);
    pthread_cond_destroy(&b->changed);
    pthread_mutex_destroy(&b->lock);
    free(b);
    *self_p = NULL;
}

int tt_web_board_set(tt_web_board_t *b, const char *name, const char *json)
{
    if (strlen(name) >= TT_WEB_BOARD_NAME)
        return TT_ERR_TOO_BIG;
    pthread_mutex_lock(&b->lock);
    slot_t *slot = NULL, *free_slot = NULL;
    for (size_t i = 0; i < TT_WEB_BOARD_SLOTS && !slot; i++) {
        if (b->slots[i].json && !strcmp(b->slots[i].name, name))
            slot = &b->slots[i];
        else if (!b->slots[i].json && !free_slot)
            free_slot = &b->slots[i];
    }
    int rc = 0;
    if (slot && !strcmp(slot->json, json)) {
        rc = 0; /* the same text: nothing to send */
    } else if (!slot && !free_slot) {
        rc = TT_ERR_TOO_BIG;
    } else {
        char *copy = strdup(json);
        if (!copy) {
            rc = TT_ERR_NOMEM;
        } else {
            if (!slot) {
                slot = free_slot;
                snprintf(slot->name, sizeof slot->name, "%s", name);
            }
            free(slot->json);
            slot->json = copy;
            slot->version = ++b->version;
            pthread_cond_broadcast(&b->changed);
        }
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* A growing text buffer; on allocation failure it is marked failed. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} buf_t;

static void buf_add(buf_t *t, const char *s)
{
    size_t n = strlen(s);
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *grown = realloc(t->data, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n + 1);
    t->len += n;
}

static char *buf_take(buf_t *t)
{
    if (t->failed) {
        free(t->data);
        return NULL;
    }
    return t->data;
}

char *tt_web_board_all(tt_web_board_t *b, uint64_t *version)
{
    buf_t t = {0};
    buf_add(&t, "{");
    pthread_mutex_lock(&b->lock);
    int first = 1;
    for (size_t i = 0; i < TT_WEB_BOARD_SLOTS; i++) {
        if (!b->slots[i].json)
            continue;
        buf_add(&t, first ? "\"" : ",\"");
        buf_add(&t, b->slots[i].name);
        buf_add(&t, "\":");
        buf_add(&t, b->slots[i].json);
        first = 0;
    }
    if (version)
        *version = b->version;
    pthread_mutex_unlock(&b->lock);
    buf_add(&t, "}");
    return buf_take(&t);
}

char *tt_web_board_next(tt_web_board_t *b, uint64_t *seen, int wait_ms)
{
    pthread_mutex_lock(&b->lock);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!b->closing && b->version <= *seen)
        if (pthread_cond_timedwait(&b->changed, &b->lock, &until) == ETIMEDOUT)
            break;
    if (b->closing) {
        pthread_mutex_unlock(&b->lock);
        return NULL;
    }
    buf_t t = {0};
    buf_add(&t, "");
    /* Oldest change first, so a page sees them in the order they were made. */
    for (;;) {
        const slot_t *next = NULL;
        for (size_t i = 0; i < TT_WEB_BOARD_SLOTS; i++) {
            const slot_t *s = &b->slots[i];
            if (s->json && s->version > *seen && (!next || s->version < next->version))
                next = s;
        }
        if (!next)
            break;
        char head[TT_WEB_BOARD_NAME + 64];
        snprintf(head, sizeof head, "event: %s\nid: %llu\ndata: ", next->name,
                 (unsigned long long)next->version);
        buf_add(&t, head);
        buf_add(&t, next->json);
        buf_add(&t, "\n\n");
        *seen = next->version;
    }
    pthread_mutex_unlock(&b->lock);
    return buf_take(&t);
}

void tt_web_board_shutdown(tt_web_board_t *b)
{
    pthread_mutex_lock(&b->lock);
    b->closing = 1;
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->lock);
}
