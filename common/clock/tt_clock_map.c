/* tt_clock_map: seqlock publication of the clock mapping. See tt_clock_map.h. */
#include "tt_clock_map.h"

#include <string.h>

void tt_clock_box_init(tt_clock_box_t *b)
{
    atomic_init(&b->seq, 0);
    atomic_init(&b->local_ref, 0);
    atomic_init(&b->session_ref, 0);
    atomic_init(&b->rate_bits, 0);
    atomic_init(&b->knee_local, 0);
    atomic_init(&b->knee_session, 0);
    atomic_init(&b->far_rate_bits, 0);
    atomic_init(&b->state, 0);
    atomic_init(&b->valid, 0);
}

void tt_clock_box_publish(tt_clock_box_t *b, const tt_clock_map_t *m)
{
    unsigned s = atomic_load_explicit(&b->seq, memory_order_relaxed);
    atomic_store_explicit(&b->seq, s + 1, memory_order_relaxed); /* odd: writing */
    atomic_thread_fence(memory_order_release);
    long long bits, far_bits;
    memcpy(&bits, &m->rate, sizeof bits);
    memcpy(&far_bits, &m->far_rate, sizeof far_bits);
    atomic_store_explicit(&b->local_ref, m->local_ref, memory_order_relaxed);
    atomic_store_explicit(&b->session_ref, m->session_ref, memory_order_relaxed);
    atomic_store_explicit(&b->rate_bits, bits, memory_order_relaxed);
    atomic_store_explicit(&b->knee_local, m->knee_local, memory_order_relaxed);
    atomic_store_explicit(&b->knee_session, m->knee_session, memory_order_relaxed);
    atomic_store_explicit(&b->far_rate_bits, far_bits, memory_order_relaxed);
    atomic_store_explicit(&b->state, m->state, memory_order_relaxed);
    atomic_store_explicit(&b->valid, m->valid, memory_order_relaxed);
    atomic_store_explicit(&b->seq, s + 2, memory_order_release); /* even: stable */
}

void tt_clock_box_read(tt_clock_box_t *b, tt_clock_map_t *out)
{
    for (;;) {
        unsigned s1 = atomic_load_explicit(&b->seq, memory_order_acquire);
        if (s1 & 1)
            continue;
        out->local_ref = atomic_load_explicit(&b->local_ref, memory_order_relaxed);
        out->session_ref = atomic_load_explicit(&b->session_ref, memory_order_relaxed);
        long long bits = atomic_load_explicit(&b->rate_bits, memory_order_relaxed);
        out->knee_local = atomic_load_explicit(&b->knee_local, memory_order_relaxed);
        out->knee_session = atomic_load_explicit(&b->knee_session, memory_order_relaxed);
        long long far_bits = atomic_load_explicit(&b->far_rate_bits, memory_order_relaxed);
        out->state = atomic_load_explicit(&b->state, memory_order_relaxed);
        out->valid = atomic_load_explicit(&b->valid, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&b->seq, memory_order_relaxed) == s1) {
            memcpy(&out->rate, &bits, sizeof out->rate);
            memcpy(&out->far_rate, &far_bits, sizeof out->far_rate);
            return;
        }
    }
}
