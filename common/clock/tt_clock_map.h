/* tt_clock_map: the clock thread's latest local<->session mapping, handed
 * to renderers (a WAV writer thread, the JACK process callback) without
 * locks or system calls.
 *
 * The mapping is linear around a reference point: session(local) =
 * session_ref + (local - local_ref) * rate, up to a knee, and on from the
 * knee at far_rate. The clock thread republishes it every few
 * milliseconds with the knee 20 ms ahead (where a renderer's next period
 * ends) and far_rate the estimator's own course from there to 120 ms: a
 * JACK room with a long playback latency decides samples that far ahead,
 * while the output correction bends the course (it decays over ~100 ms).
 * far_rate 0 means one line throughout. Publication
 * is a seqlock over atomics: one writer, any number of readers; a reader
 * retries only if it raced a write, so it is real-time safe (no malloc,
 * no lock, no syscall). A ZeroMQ pipe cannot be used from the audio
 * callback, which is why this one hand-over is shared memory.
 */
#ifndef TT_CLOCK_MAP_H
#define TT_CLOCK_MAP_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    int64_t local_ref;
    int64_t session_ref;
    double rate; /* d session / d local, up to the knee */
    int state;   /* tt_clock_state_t */
    int valid;   /* 0 until the first estimate */
    int64_t knee_local;
    int64_t knee_session;
    double far_rate; /* past the knee; 0: rate throughout */
} tt_clock_map_t;

typedef struct {
    atomic_uint seq;
    atomic_llong local_ref, session_ref, rate_bits;
    atomic_llong knee_local, knee_session, far_rate_bits;
    atomic_int state, valid;
} tt_clock_box_t;

void tt_clock_box_init(tt_clock_box_t *b);
/* Writer (one thread). */
void tt_clock_box_publish(tt_clock_box_t *b, const tt_clock_map_t *m);
/* Readers: real-time safe. */
void tt_clock_box_read(tt_clock_box_t *b, tt_clock_map_t *out);

static inline int64_t tt_clock_map_session(const tt_clock_map_t *m, int64_t local)
{
    if (m->far_rate > 0 && local > m->knee_local)
        return m->knee_session + (int64_t)((double)(local - m->knee_local) * m->far_rate);
    return m->session_ref + (int64_t)((double)(local - m->local_ref) * m->rate);
}

static inline int64_t tt_clock_map_local(const tt_clock_map_t *m, int64_t session)
{
    if (m->far_rate > 0 && session > m->knee_session)
        return m->knee_local + (int64_t)((double)(session - m->knee_session) / m->far_rate);
    return m->local_ref + (int64_t)((double)(session - m->session_ref) / m->rate);
}

#endif
