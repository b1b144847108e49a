/* tt_web_board: see tt_web_board.h. */
#include "tt_web_board.h"
#include "tt_error.h"
#include "tt_web.h"

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
    int rc = pthread_mutex_init(&b->lock, NULL);
    if (rc == 0 && tt_web_cond_init(&b->changed) != 0) {
        pthread_mutex_destroy(&b->lock);
        rc = -1;
    }
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

char *tt_web_board_all(tt_web_board_t *b, uint64_t *version)
{
    tt_web_text_t t = {0};
    tt_web_text_add(&t, "{");
    pthread_mutex_lock(&b->lock);
    int first = 1;
    for (size_t i = 0; i < TT_WEB_BOARD_SLOTS; i++) {
        if (!b->slots[i].json)
            continue;
        tt_web_text_add(&t, "%s\"%s\":%s", first ? "" : ",", b->slots[i].name, b->slots[i].json);
        first = 0;
    }
    if (version)
        *version = b->version;
    pthread_mutex_unlock(&b->lock);
    tt_web_text_add(&t, "}");
    return tt_web_text_take(&t);
}

char *tt_web_board_next(tt_web_board_t *b, uint64_t *seen, int wait_ms)
{
    pthread_mutex_lock(&b->lock);
    struct timespec until;
    tt_web_deadline(wait_ms, &until);
    while (!b->closing && b->version <= *seen)
        if (pthread_cond_timedwait(&b->changed, &b->lock, &until) == ETIMEDOUT)
            break;
    if (b->closing) {
        pthread_mutex_unlock(&b->lock);
        return NULL;
    }
    tt_web_text_t t = {0};
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
        tt_web_text_add(&t, "event: %s\nid: %llu\ndata: %s\n\n", next->name,
                        (unsigned long long)next->version, next->json);
        *seen = next->version;
    }
    pthread_mutex_unlock(&b->lock);
    return tt_web_text_take(&t);
}

void tt_web_board_shutdown(tt_web_board_t *b)
{
    pthread_mutex_lock(&b->lock);
    b->closing = 1;
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->lock);
}
