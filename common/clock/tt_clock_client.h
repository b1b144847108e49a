/* tt_clock_client: a view of the session clock (a room's, a site relay's,
 * a standby coordinator's), on its own thread.
 *
 * The thread owns a CURVE DEALER to a clock service (tt_clock_service) and a
 * tt_clock_est estimator: it pings at the rate the estimator asks for,
 * stamps t1 just before the send and t4 as soon as poll wakes, and feeds
 * the exchanges in. It talks to the main thread only through an inproc
 * PAIR: commands in (connect to an endpoint, set the trim), reports out
 * (state, offset, drift, round trip, error bound) every 200 ms and on every
 * state change. The local clock can be simulated for tests:
 *   local = monotonic + (monotonic - start) * skew_ppm / 1e6 + offset
 * i.e. a clock running skew_ppm fast from the agent's start, offset ahead.
 */
#ifndef TT_CLOCK_CLIENT_H
#define TT_CLOCK_CLIENT_H

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
} tt_clock_client_config_t;

typedef struct {
    tt_clock_state_t state;
    double offset_us; /* session - local, trim included */
    double drift_ppm;
    double rtt_us;
    double error_bound_us; /* < 0: unbounded (no sample yet) */
    double trim_us;
    int has_sample;
} tt_clock_client_report_t;

typedef struct tt_clock_client tt_clock_client_t;

tt_clock_client_t *tt_clock_client_start(void *ctx, const tt_clock_client_config_t *cfg, char *why);
void tt_clock_client_stop(tt_clock_client_t **self_p);

/* Any thread: this agent's local clock (real or simulated) at a
 * CLOCK_MONOTONIC reading, and the inverse. Pure functions of settings
 * fixed at start. */
int64_t tt_clock_client_local_ns(const tt_clock_client_t *c, int64_t mono);
int64_t tt_clock_client_mono_ns(const tt_clock_client_t *c, int64_t local);

/* The simulated clock's settings (all zero for the real clock), so a test
 * can map this agent's local times back to the truth. */
void tt_clock_client_injection(const tt_clock_client_t *c, int64_t *start_mono, int64_t *offset_ns,
                               double *skew_ppm);

/* Any thread: session time at a CLOCK_MONOTONIC reading through the
 * published mapping, and the error bound that goes with it (the
 * estimate's plus the serving clock's own; UINT64_MAX while unbounded).
 * -1 while there is no mapping yet or the client has no box. A site relay
 * or a standby serves session time to others this way. */
int tt_clock_client_session_ns(tt_clock_client_t *c, int64_t mono, int64_t *session,
                               uint64_t *error_ns);

/* Main thread: (re)connect to the clock service at endpoint. */
void tt_clock_client_connect(tt_clock_client_t *c, const char *endpoint);
/* tt_clock_client_connect to a service with another CURVE key (a standby
 * coordinator that took over and serves with its own); NULL keeps it. */
void tt_clock_client_connect_key(tt_clock_client_t *c, const char *endpoint,
                                 const char *server_key_z85);
/* Main thread: the room's trim from the log. */
void tt_clock_client_set_trim(tt_clock_client_t *c, int64_t trim_ns);
/* Main thread: socket to poll for reports; then tt_clock_client_read. */
void *tt_clock_client_socket(tt_clock_client_t *c);
/* Main thread: drains reports into *out (the newest wins); 1 if any came. */
int tt_clock_client_read(tt_clock_client_t *c, tt_clock_client_report_t *out);

#endif
