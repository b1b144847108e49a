/* tt_idem: the idempotency keys of the most recent keyed records, so a
 * retried write finds the record its first attempt became.
 *
 * A write request may carry a 16-byte key of the client's choosing
 * (Envelope.idempotency_key); the record keeps it (Record.idempotency_key)
 * and the fold adds it here. The index remembers the last `window` keys: a
 * ring in record order (the oldest falls out) plus a chained hash over the
 * ring, so a lookup and an add cost a few comparisons whatever the window.
 * The hash is SipHash under a random key picked at tt_idem_new: keys come
 * from clients, and chosen collisions must not make one chain long. Only
 * the layout is random; what tt_idem_find answers is not.
 *
 * Memory: 36 bytes per slot of the window, allocated at tt_idem_new
 * (zero pages until used). One thread; the index is owned by its
 * tt_session_t.
 */
#ifndef TT_IDEM_H
#define TT_IDEM_H

#include <stddef.h>
#include <stdint.h>

#define TT_IDEM_KEY_LEN 16 /* tutti.proto IDEMPOTENCY_KEY_BYTES */

typedef struct tt_idem tt_idem_t;

/* An empty index remembering up to window keys (1 .. 2^31). NULL with why
 * when out of memory or window is out of range. */
tt_idem_t *tt_idem_new(size_t window, char *why);
void tt_idem_destroy(tt_idem_t **self_p);

/* Remembers key as carried by record seq of body case kind. A key already
 * held keeps its first record (the log never holds one twice, but a
 * replica folds whatever it is given). When the index is full the oldest
 * key is forgotten first. */
void tt_idem_add(tt_idem_t *x, const uint8_t key[TT_IDEM_KEY_LEN], uint64_t seq, int kind);

/* The seq of the record that carried key (its body case in *kind, which
 * may be NULL), or 0 when the key is not among the last window keys. */
uint64_t tt_idem_find(const tt_idem_t *x, const uint8_t key[TT_IDEM_KEY_LEN], int *kind);

/* How many keys are held (at most the window). */
size_t tt_idem_count(const tt_idem_t *x);

/* The window given to tt_idem_new. */
size_t tt_idem_window(const tt_idem_t *x);

/* The i-th key held, oldest first (i < tt_idem_count): adding them in this
 * order to an empty index of the same window gives an index that answers
 * and forgets exactly as x does (a snapshot of the fold saves them so). */
void tt_idem_get(const tt_idem_t *x, size_t i, uint8_t key[TT_IDEM_KEY_LEN], uint64_t *seq,
                 int *kind);

#endif
