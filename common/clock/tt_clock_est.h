/* tt_clock_est: an agent's estimate of the coordinator's session clock.
 *
 * Agents timestamp ping/pong exchanges (t1 agent send, t2 coordinator
 * receive, t3 coordinator send, t4 agent receive) and must turn a noisy,
 * sometimes asymmetric, sometimes broken stream of them into a session time
 * that a click can be rendered against: smooth, never backwards, and with an
 * error bound that is honest rather than flattering. Pure and deterministic
 * (no I/O, no clocks, no threads, no globals, memory allocated only in
 * tt_clock_est_new) so it can be driven by a simulated truth in unit tests.
 *
 * Units: every time is int64 nanoseconds. t1, t4 and every "local" argument
 * are on the agent's local clock; t2, t3 and every "session" value are on
 * the coordinator's session clock. Reported figures are in µs or ppm.
 *
 * Sign conventions: offset = session - local, so session ≈ local + offset.
 * drift is d(offset)/d(local): a local clock running 150 ppm fast shows a
 * drift of about -150 ppm.
 *
 * Not thread-safe: one owner calls every function (the clock thread), or
 * the caller serialises.
 */
#ifndef TT_CLOCK_EST_H
#define TT_CLOCK_EST_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    TT_CLOCK_ACQUIRING, /* not enough consistent samples yet; output may step forward */
    TT_CLOCK_LOCKED,    /* fitted; output slews and never goes backwards */
    TT_CLOCK_HOLDOVER,  /* no sample for holdover_after_ns: free-running on offset+drift */
    TT_CLOCK_LOST,      /* holdover growth of the bound passed lost_bound_us */
} tt_clock_state_t;

typedef struct {
    int window;                /* exchanges kept, oldest dropped first; 8..4096 (1024) */
    int lock_samples;          /* exchanges in the window before LOCKED; 4..window (16) */
    double lock_precision_us;  /* LOCKED needs the fit's statistical precision below this (1000) */
    int64_t holdover_after_ns; /* LOCKED with no exchange for this long -> HOLDOVER (2 s) */
    double lost_bound_us;      /* HOLDOVER -> LOST once the bound has grown this much since
                                  the newest exchange (1000) */
    double max_slew_ppm;       /* largest output correction rate once locked (500) */
    double max_drift_ppm;      /* |drift| assumed possible before the data shows it (500) */
    double wander_ppm;         /* assumed frequency wander, widens every extrapolation (1) */
    int ping_fast_ms;          /* ping interval while ACQUIRING (20) */
    int ping_slow_ms;          /* ping interval once LOCKED and the window has filled (100) */
    int ping_holdover_ms;      /* ping interval in HOLDOVER and LOST (100) */
} tt_clock_est_config_t;

/* Fills cfg with the defaults shown above. */
void tt_clock_est_config_default(tt_clock_est_config_t *cfg);

typedef struct tt_clock_est tt_clock_est_t;

/* Allocates an estimator (the only allocation it ever makes); cfg is
 * copied. NULL if cfg is out of range or memory is short. */
tt_clock_est_t *tt_clock_est_new(const tt_clock_est_config_t *cfg);

/* Frees *self_p and sets it to NULL; safe on NULL and on a NULL *self_p. */
void tt_clock_est_destroy(tt_clock_est_t **self_p);

/* Feeds one completed exchange. Returns false (and ignores it) when the
 * timestamps are impossible: t4 < t1, t3 < t2, a negative round trip, or
 * differences that overflow. Exchanges may arrive out of order. t4 is taken
 * as the local "now" for state changes. */
bool tt_clock_est_add(tt_clock_est_t *e, int64_t t1, int64_t t2, int64_t t3, int64_t t4);

/* Tells the estimator the local time so it can go LOCKED -> HOLDOVER ->
 * LOST when exchanges stop. Call it at least every ping interval. LOST is
 * declared on the bound's growth since the newest exchange ((drift
 * uncertainty + wander_ppm) x elapsed), not on its total: on a WAN path the
 * total includes half the round trip and may never be under 1 ms. LOST
 * drops the window (by the wander assumption it no longer describes now);
 * the output keeps free-running on the last offset and drift. */
void tt_clock_est_tick(tt_clock_est_t *e, int64_t local_now_ns);

/* New coordinator epoch: forgets every sample and goes ACQUIRING. The
 * output keeps its continuity: once the estimator has locked, the jump to
 * the new epoch is slewed at max_slew_ppm, never stepped. For an unrelated
 * timeline, destroy the estimator and make a new one. */
void tt_clock_est_reset(tt_clock_est_t *e);

/* Session time at local_ns. Before the first sample it returns local_ns
 * (meaningless; the report says so with an infinite bound). After that,
 * for a sequence of calls with non-decreasing local_ns, the results never
 * decrease: before the first lock the output steps forward to the model and
 * holds (rather than steps back) when the model moves back; once locked it
 * converges on the model exponentially (time constant 100 ms) and never
 * faster than max_slew_ppm. A call with a local_ns earlier than a previous
 * call returns at most that call's result and changes nothing. */
int64_t tt_clock_est_session_ns(tt_clock_est_t *e, int64_t local_ns);

/* What tt_clock_est_session_ns(e, local_ns) would return now, without
 * recording the call: local_ns may lie ahead of every query so far (the
 * clock thread uses it to publish the output's rate over the next few
 * ms). Changes nothing; a later refit may of course change the answer. */
int64_t tt_clock_est_preview_ns(const tt_clock_est_t *e, int64_t local_ns);

/* Local time at which the output reaches session_ns (the inverse of
 * tt_clock_est_session_ns as it now stands, within a nanosecond or two),
 * for scheduling "at session time T". Changes nothing. Before the first
 * sample it returns session_ns. */
int64_t tt_clock_est_local_ns(const tt_clock_est_t *e, int64_t session_ns);

/* The error bound: every exchange proves the true offset lay within half
 * its round trip of its own offset, whatever the path's asymmetry; the
 * bound is the distance from the estimate to the far end of the
 * intersection of those intervals (moved along the fitted drift, widened by
 * its uncertainty and the wander), never less than half the best round trip
 * or half the delay spread of the exchanges the fit used, nor than the
 * statistical precision. Time since the newest exchange widens it by
 * (drift uncertainty + wander_ppm) x elapsed, and the part of a model jump
 * not yet slewed out adds to it. It assumes linear clocks (up to the wander)
 * and no timestamp lies. */
typedef struct {
    tt_clock_state_t state;
    double offset_us;      /* model offset (session - local) at local_now */
    double drift_ppm;      /* d(offset)/d(local) of the model */
    double rtt_us;         /* lowest round trip in the window (last one before a clear) */
    double error_bound_us; /* bound on |session_ns(local_now) - true session time| (above);
                              INFINITY before the first exchange of an epoch */
    double precision_us;   /* statistical part only: what a symmetric path would allow */
    double slew_us;        /* output minus model at local_now, still to be slewed out */
    int samples;           /* exchanges in the window */
    int used;              /* exchanges the last fit used (selected, not rejected) */
} tt_clock_est_report_t;

/* Describes the estimate as seen at local_now_ns. Changes nothing; state
 * changes only happen in add and tick. */
void tt_clock_est_report(const tt_clock_est_t *e, int64_t local_now_ns, tt_clock_est_report_t *out);

/* "acquiring", "locked", "holdover", "lost" ("?" for anything else). */
const char *tt_clock_state_name(tt_clock_state_t s);

/* How long to wait before the next ping, in ms: ping_fast_ms while
 * acquiring; once locked, stretching from fast to ping_slow_ms as the
 * window fills (interval = time since the first exchange / window), so the
 * window always spans all the time there is to learn the drift from;
 * ping_holdover_ms while the link is down. */
int tt_clock_est_next_ping_ms(const tt_clock_est_t *e);

#endif
