/* tt_idem: see tt_idem.h. */
#include "tt_idem.h"
#include "tt_error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* One remembered key. Chains link ring slots by index + 1 (0 ends a
 * chain), so calloc'd buckets are empty without a pass over them. */
typedef struct {
    uint8_t key[TT_IDEM_KEY_LEN];
    uint64_t seq;
    uint32_t next; /* the next slot in this bucket's chain, + 1; 0: none */
    int32_t kind;
} slot_t;

struct tt_idem {
    slot_t *ring;      /* window slots; [0, count) used until the ring is full */
    uint32_t *buckets; /* n_buckets chain heads (slot + 1) */
    size_t window, count, oldest, n_buckets;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

tt_idem_t *tt_idem_new(size_t window, char *why)
{
    if (window == 0 || window > ((size_t)1 << 31)) {
        tt_fail(why, TT_ERR_INVALID, "an idempotency window of %zu keys", window);
        return NULL;
    }
    if (sodium_init() < 0) { /* idempotent; randombytes_buf wants it */
        tt_fail(why, TT_ERR_CRYPTO, "libsodium failed to initialise");
        return NULL;
    }
    tt_idem_t *x = calloc(1, sizeof *x);
    size_t n = 1;
    while (n < window)
        n <<= 1;
    if (x) {
        x->ring = calloc(window, sizeof *x->ring);
        x->buckets = calloc(n, sizeof *x->buckets);
    }
    if (!x || !x->ring || !x->buckets) {
        tt_idem_destroy(&x);
        tt_fail(why, TT_ERR_NOMEM, "allocating an idempotency index of %zu keys", window);
        return NULL;
    }
    x->window = window;
    x->n_buckets = n;
    randombytes_buf(x->hash_key, sizeof x->hash_key);
    return x;
}

void tt_idem_destroy(tt_idem_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->ring);
    free((*self_p)->buckets);
    free(*self_p);
    *self_p = NULL;
}

static uint32_t *bucket_of(const tt_idem_t *x, const uint8_t key[TT_IDEM_KEY_LEN])
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, TT_IDEM_KEY_LEN, x->hash_key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return &x->buckets[v & (x->n_buckets - 1)];
}

uint64_t tt_idem_find(const tt_idem_t *x, const uint8_t key[TT_IDEM_KEY_LEN], int *kind)
{
    for (uint32_t at = *bucket_of(x, key); at; at = x->ring[at - 1].next) {
        const slot_t *sl = &x->ring[at - 1];
        if (memcmp(sl->key, key, TT_IDEM_KEY_LEN) == 0) {
            if (kind)
                *kind = sl->kind;
            return sl->seq;
        }
    }
    return 0;
}

/* Takes slot i out of its bucket's chain. */
static void unlink_slot(tt_idem_t *x, size_t i)
{
    uint32_t *link = bucket_of(x, x->ring[i].key);
    while (*link && *link != i + 1)
        link = &x->ring[*link - 1].next;
    if (*link)
        *link = x->ring[i].next;
}

void tt_idem_add(tt_idem_t *x, const uint8_t key[TT_IDEM_KEY_LEN], uint64_t seq, int kind)
{
    if (tt_idem_find(x, key, NULL))
        return;
    size_t i;
    if (x->count < x->window) {
        i = x->count++;
    } else { /* full: the oldest key makes room */
        i = x->oldest;
        unlink_slot(x, i);
        x->oldest = (x->oldest + 1) % x->window;
    }
    slot_t *sl = &x->ring[i];
    memcpy(sl->key, key, TT_IDEM_KEY_LEN);
    sl->seq = seq;
    sl->kind = kind;
    uint32_t *head = bucket_of(x, key);
    sl->next = *head;
    *head = (uint32_t)(i + 1);
}

size_t tt_idem_count(const tt_idem_t *x)
{
    return x ? x->count : 0;
}

size_t tt_idem_window(const tt_idem_t *x)
{
    return x ? x->window : 0;
}

void tt_idem_get(const tt_idem_t *x, size_t i, uint8_t key[TT_IDEM_KEY_LEN], uint64_t *seq,
                 int *kind)
{
    /* Until the ring is full, oldest is 0 and slots fill in order; after,
     * the oldest slot is where the next add writes. */
    const slot_t *sl = &x->ring[(x->oldest + i) % x->window];
    memcpy(key, sl->key, TT_IDEM_KEY_LEN);
    *seq = sl->seq;
    *kind = sl->kind;
}
