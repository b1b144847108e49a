/* agent_clock: the room's view of the session clock, on its own thread.
 *
 * The thread owns a CURVE DEALER to the coordinator's clock service and a
 * tt_clock_est estimator: it pings at the rate the estimator asks for,
 * stamps t1 just before the send and t4 as soon as poll wakes, and feeds
 * the exchanges in. It talks to the main thread only through an inproc
 * PAIR: commands in (connect to an endpoint, set the trim), reports out
 * (state, offset, drift, round trip, error bound) every 200 ms and on every
 * state change. The local clock can be simulated for tests:
 *   local = monotonic + (monotonic - start) * skew_ppm / 1e6 + offset
 * i.e. a clock running skew_ppm fast from the agent's start, offset ahead.
 */
#ifndef AGENT_CLOCK_H
#define AGENT_CLOCK_H

#include <stdint.h>

#include "tt_clock_est.h"
#include "tt_clock_map.h"
#include "tt_keys.h"

typedef struct {
    const tt_keypair_t *keys; /* borrowed for the call */
    const char *server_key_z85;
    int64_t inject_offset_ns; /* test clock: 0 for the real one */
    double inject_skew_ppm;
    const char *trace_path; /* NULL, or a file to write "mono local session state
                               bound_ns" lines to every trace_interval_ms */
    int trace_interval_ms;  /* default 10 */
    tt_clock_box_t *box;    /* borrowed, outlives the clock: where the mapping for
                               renderers is published every 5 ms (may be NULL) */
} agent_clock_config_t;

typedef struct {
    tt_clock_state_t state;
    double offset_us; /* session - local, trim included */
    double drift_ppm;
    double rtt_us;
    double error_bound_us; /* < 0: unbounded (no sample yet) */
    double trim_us;
    int has_sample;
} agent_clock_report_t;

typedef struct agent_clock agent_clock_t;

agent_clock_t *agent_clock_start(void *ctx, const agent_clock_config_t *cfg, char *why);
void agent_clock_stop(agent_clock_t **self_p);

/* Any thread: this agent's local clock (real or simulated) at a
 * CLOCK_MONOTONIC reading, and the inverse. Pure functions of settings
 * fixed at start. */
int64_t agent_clock_local_ns(const agent_clock_t *c, int64_t mono);
int64_t agent_clock_mono_ns(const agent_clock_t *c, int64_t local);

/* The simulated clock's settings (all zero for the real clock), so a test
 * can map this agent's local times back to the truth. */
void agent_clock_injection(const agent_clock_t *c, int64_t *start_mono, int64_t *offset_ns,
                           double *skew_ppm);

/* Main thread: (re)connect to the clock service at endpoint. */
void agent_clock_connect(agent_clock_t *c, const char *endpoint);
/* Main thread: the room's trim from the log. */
void agent_clock_set_trim(agent_clock_t *c, int64_t trim_ns);
/* Main thread: socket to poll for reports; then agent_clock_read. */
void *agent_clock_socket(agent_clock_t *c);
/* Main thread: drains reports into *out (the newest wins); 1 if any came. */
int agent_clock_read(agent_clock_t *c, agent_clock_report_t *out);

#endif
