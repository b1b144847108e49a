/* agent_cycle_map: when the first sample of each JACK period plays, on
 * CLOCK_MONOTONIC, robust against the server's own estimate going wrong.
 *
 * JACK reports each cycle's frame time and microsecond time from a
 * delay-locked loop over the driver's wake-ups. In steady state that is the
 * best figure there is, and it is used as it is. After a stall (an xrun, a
 * preempted server, a VM pause) the loop does not re-anchor: measured with
 * jackd -d dummy and an 80 ms stop, it put the cycle start 59 ms before the
 * callback, reported periods 7 % long, overshot to 12 ms after the callback
 * and had not settled 5 s later. Every click and LTC frame placed from it in
 * that time is off by milliseconds, and LTC frames come out too long to
 * decode.
 *
 * So each cycle is checked: frames contiguous with the last cycle, period
 * within 0.5 % of nominal, and the callback not before the cycle start nor
 * more than 5 ms after it three cycles in a row. While the figures pass,
 * they are used, and the callback's usual lag behind them and the period
 * are learnt (the lag as the median of the last 384 cycles). When one
 * fails, once the lag has been learnt over two seconds, the map runs on
 * its own. It first carries JACK's last good line on with the learnt
 * period (the same line for every client of the server; most hiccups leave
 * the driver's grid where it was) and moves off it only by what the median
 * of the wake-ups minus the lag says beyond a 30 us dead band. When the
 * frame counter jumps or the wake-ups show the server lost time, it
 * restarts the line through the wake-ups and follows their median. It goes
 * back to JACK's figures when they have passed for a second and agree with
 * the model. Pure arithmetic: real-time safe, unit-tested without a server.
 */
#ifndef AGENT_CYCLE_MAP_H
#define AGENT_CYCLE_MAP_H

#include <stdint.h>

/* One process cycle, as the callback sees it. */
typedef struct {
    int64_t frames;     /* 64-bit frame counter of the cycle's first sample */
    int n;              /* frames in the cycle */
    int64_t jack_mono0; /* JACK's time of this cycle's start, CLOCK_MONOTONIC ns */
    int64_t jack_mono1; /* ... and of the next cycle's start */
    int64_t wake_mono;  /* when the callback began */
} agent_cycle_t;

typedef struct {
    int64_t mono0;       /* the cycle's first sample */
    double ns_per_frame; /* the period's length / n */
    int trusted;         /* 1: JACK's own figures */
} agent_cycle_time_t;

#define AGENT_CYCLE_WINDOW 384 /* cycles in a median: 8 s at 1024 frames, 2 s at 256 */

typedef struct {
    double v[AGENT_CYCLE_WINDOW];      /* ring, oldest at next once full */
    double sorted[AGENT_CYCLE_WINDOW]; /* the same values in order */
    int count, next;
} agent_cycle_window_t;

typedef struct {
    double nominal_pf; /* 1e9 / sample rate */
    int have;
    int trusting;
    int64_t last_frames;
    int last_n;
    /* The map: mono(F) = ref_mono + (F - ref_frames) * pf + offset. */
    int64_t ref_frames;
    double ref_mono;
    double pf;
    double offset;
    /* Learnt while JACK's figures pass. */
    double rate_pf;            /* JACK's period per frame, smoothed */
    double rate_cycles;        /* cycles in rate_pf, up to its window */
    agent_cycle_window_t lags; /* callback wake-up minus JACK's cycle start */
    double wake_lag;           /* ... their median */
    int64_t learnt_frames;     /* frames of passing figures learnt from */
    /* Free-running. */
    agent_cycle_window_t residuals; /* wake-up minus lag minus the line */
    int late_cycles;                /* callbacks in a row far after the model */
    int lag_bad_cycles;             /* callbacks in a row out of range of JACK's start */
    int64_t settle_frames;          /* frames left of settling after a jump */
    int line_from_jack;             /* the line is JACK's last good one, carried on */
    int64_t good_frames;            /* frames of passing, agreeing figures */
    /* For the log (agent_jack publishes them to the main thread). */
    uint64_t distrusts; /* times JACK's figures were set aside */
    uint64_t reanchors; /* times the own model jumped to the wake-up */
    /* The last cycle whose figures failed: why. */
    double fail_ppm;      /* its period against nominal */
    double fail_lag_ns;   /* callback after JACK's cycle start */
    int64_t fail_skipped; /* frames the counter skipped (0: contiguous) */
} agent_cycle_map_t;

void agent_cycle_map_init(agent_cycle_map_t *m, int sample_rate);

/* The cycle's start and sample period; call once per cycle, in order. */
agent_cycle_time_t agent_cycle_map_next(agent_cycle_map_t *m, const agent_cycle_t *c);

#endif
