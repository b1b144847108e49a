/* test_clock_est: tt_clock_est against a simulated truth.
 *
 * The simulator owns true time T (ns). The coordinator's session clock is
 * S0 + T; the agent's local clock is L0 + T * (1 + skew). Each exchange
 * draws its up and down delays from a seeded xorshift (no rand(): every run
 * is the same run), so an estimate can be compared with the truth at every
 * query. Every simulated query checks the two promises that matter most to
 * a click track: the output never goes backwards, and |error| never exceeds
 * the reported bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_clock_est.h"
#include "tt_clock_map.h"

/* ---- a tiny deterministic PRNG ---------------------------------------------------------- */

typedef struct {
    uint64_t s;
} xs_t;

static uint64_t xs_next(xs_t *r)
{
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return r->s = x;
}

static double xs_unif(xs_t *r)
{
    return (double)(xs_next(r) >> 11) * 0x1.0p-53;
}
static double xs_exp(xs_t *r, double mean)
{
    return -mean * log(1.0 - xs_unif(r));
}

/* ---- the simulator ----------------------------------------------------------------------- */

typedef struct {
    double base_ns; /* fixed one-way delay */
    double unif_ns; /* plus uniform [0, unif_ns) */
    double exp_ns;  /* plus exponential with this mean */
    double out_p;   /* probability of an outlier on this leg */
    double out_ns;  /* extra delay of an outlier */
} leg_t;

typedef struct {
    int64_t t1, t2, t3, t4, T4;
} xchg_t;

#define SIM_PENDING 512

typedef struct {
    int64_t S0, L0;
    double skew;
    leg_t up, down;
    xs_t rng;
    int64_t T, step, next_ping;
    bool feeding;
    xchg_t pend[SIM_PENDING];
    int npend;
    tt_clock_est_t *e;
    /* checks */
    long delivered;
    bool have_prev;
    int64_t prev_out, prev_T, prev_L;
    double cfg_slew_ppm, prev_drift_ppm, step_lo, step_hi;
    bool ever_locked;
    bool check_rate;     /* once locked: correction rate within the configured slew */
    double max_rate_ppm; /* largest |output rate / true rate - 1| seen while checking */
    bool require_locked; /* fail if the state leaves LOCKED */
    /* statistics */
    bool record; /* store |error| while locked */
    double *err;
    int nerr, cap;
    double max_err_us; /* max |error| while record is set and locked */
    double max_ratio;  /* max |error| / bound over every query */
    long checks;
    int64_t lock_T; /* true time of first lock, -1 before */
    double last_err_us, last_bound_us;
    tt_clock_est_report_t last;
} sim_t;

/* Expected drift: offset = S0 + T - local and T = (local - L0) / (1 + skew). */
static double expected_drift_ppm(const sim_t *s)
{
    return -s->skew / (1.0 + s->skew) * 1e6;
}

static void sim_init(sim_t *s, uint64_t seed, const tt_clock_est_config_t *cfg)
{
    memset(s, 0, sizeof *s);
    s->rng.s = seed * 0x9E3779B97F4A7C15ull + 1;
    s->S0 = 1000000000000;      /* session clock at T = 0: 1000 s */
    s->L0 = s->S0 - 2500000000; /* local is 2.5 s behind: offset +2.5 s */
    s->skew = 150e-6;
    s->step = 1000000; /* query every 1 ms of true time */
    s->feeding = true;
    s->lock_T = -1;
    tt_clock_est_config_t def;
    tt_clock_est_config_default(&def);
    s->e = tt_clock_est_new(cfg ? cfg : &def);
    s->cfg_slew_ppm = cfg ? cfg->max_slew_ppm : def.max_slew_ppm;
    assert_non_null(s->e);
}

static void sim_free(sim_t *s)
{
    tt_clock_est_destroy(&s->e);
    free(s->err);
    s->err = NULL;
}

static int64_t sim_local(const sim_t *s, int64_t T)
{
    return s->L0 + T + (int64_t)llround((double)T * s->skew);
}

static int64_t sim_leg(sim_t *s, const leg_t *l)
{
    double v = l->base_ns;
    if (l->unif_ns > 0)
        v += l->unif_ns * xs_unif(&s->rng);
    if (l->exp_ns > 0)
        v += xs_exp(&s->rng, l->exp_ns);
    if (l->out_p > 0 && xs_unif(&s->rng) < l->out_p)
        v += l->out_ns;
    return (int64_t)llround(v);
}

static void sim_send(sim_t *s, int64_t Tsend)
{
    assert_true(s->npend < SIM_PENDING);
    xchg_t *x = &s->pend[s->npend++];
    int64_t up = sim_leg(s, &s->up);
    int64_t proc = 20000 + (int64_t)(10000 * xs_unif(&s->rng)); /* coordinator turnaround */
    int64_t down = sim_leg(s, &s->down);
    x->t1 = sim_local(s, Tsend);
    x->t2 = s->S0 + Tsend + up;
    x->t3 = x->t2 + proc;
    x->T4 = Tsend + up + proc + down;
    x->t4 = sim_local(s, x->T4);
}

static void sim_deliver(sim_t *s)
{
    s->step_lo = s->step_hi = s->prev_drift_ppm;
    for (;;) {
        int best = -1;
        for (int i = 0; i < s->npend; i++)
            if (s->pend[i].T4 <= s->T && (best < 0 || s->pend[i].T4 < s->pend[best].T4))
                best = i;
        if (best < 0)
            return;
        xchg_t x = s->pend[best];
        s->pend[best] = s->pend[--s->npend];
        assert_true(tt_clock_est_add(s->e, x.t1, x.t2, x.t3, x.t4));
        s->delivered++;
        /* Each refit may change the model's drift; the output follows each. */
        tt_clock_est_report_t r;
        tt_clock_est_report(s->e, x.t4, &r);
        s->step_lo = fmin(s->step_lo, r.drift_ppm);
        s->step_hi = fmax(s->step_hi, r.drift_ppm);
    }
}

static void sim_query(sim_t *s)
{
    int64_t L = sim_local(s, s->T);
    int64_t out = tt_clock_est_session_ns(s->e, L);
    tt_clock_est_report_t r;
    tt_clock_est_report(s->e, L, &r);
    s->last = r;
    /* local(T) is rounded to 1 ns, so the truth for L is S0 + T within 1 ns. */
    double err_us = (double)(out - (s->S0 + s->T)) * 1e-3;
    s->last_err_us = err_us;
    s->last_bound_us = r.error_bound_us;
    s->checks++;
    if (r.state == TT_CLOCK_LOCKED && !s->ever_locked) {
        s->ever_locked = true;
        s->lock_T = s->T;
    }
    if (s->have_prev) {
        if (out < s->prev_out)
            fail_msg("output went backwards at T=%lld: %lld -> %lld", (long long)s->T,
                     (long long)s->prev_out, (long long)out);
        if (s->check_rate && s->ever_locked) {
            /* Against the model: the correction rate is what the slew limit
             * bounds. Refits between two queries split the step between the
             * models' drifts; 2 ns of rounding per step is allowed for. */
            double dL = (double)(L - s->prev_L), dT = (double)(s->T - s->prev_T);
            double rate = ((double)(out - s->prev_out) / dL - 1.0) * 1e6;
            double lo = fmin(r.drift_ppm, s->step_lo), hi = fmax(r.drift_ppm, s->step_hi);
            double tol = s->cfg_slew_ppm + 2.0 / dL * 1e6;
            if (rate < lo - tol || rate > hi + tol)
                fail_msg("output rate %.1f ppm, model drift %.1f..%.1f ppm at T=%lld", rate, lo, hi,
                         (long long)s->T);
            /* Against the truth: what a listener would hear; reported. */
            double ppm = ((double)(out - s->prev_out) - dT) / dT * 1e6;
            if (fabs(ppm) > s->max_rate_ppm)
                s->max_rate_ppm = fabs(ppm);
        }
    }
    s->have_prev = s->delivered > 0; /* before any sample the output means nothing */
    s->prev_out = out;
    s->prev_T = s->T;
    s->prev_L = L;
    s->prev_drift_ppm = r.drift_ppm;
    if (isfinite(r.error_bound_us)) {
        if (fabs(err_us) > r.error_bound_us + 0.001)
            fail_msg("error %.3f us beyond bound %.3f us at T=%.3f s (%s)", err_us,
                     r.error_bound_us, (double)s->T * 1e-9, tt_clock_state_name(r.state));
        double ratio = fabs(err_us) / r.error_bound_us;
        if (ratio > s->max_ratio)
            s->max_ratio = ratio;
    }
    if (s->require_locked && r.state != TT_CLOCK_LOCKED)
        fail_msg("left LOCKED (%s) at T=%.3f s", tt_clock_state_name(r.state), (double)s->T * 1e-9);
    if (s->record && r.state == TT_CLOCK_LOCKED) {
        if (s->nerr == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 65536;
            s->err = realloc(s->err, (size_t)s->cap * sizeof *s->err);
            assert_non_null(s->err);
        }
        s->err[s->nerr++] = fabs(err_us);
        if (fabs(err_us) > s->max_err_us)
            s->max_err_us = fabs(err_us);
    }
}

static void sim_run(sim_t *s, double seconds)
{
    int64_t end = s->T + (int64_t)llround(seconds * 1e9);
    while (s->T < end) {
        s->T += s->step;
        sim_deliver(s);
        if (s->feeding && s->T >= s->next_ping) {
            sim_send(s, s->next_ping);
            s->next_ping += (int64_t)tt_clock_est_next_ping_ms(s->e) * 1000000;
        }
        tt_clock_est_tick(s->e, sim_local(s, s->T));
        sim_query(s);
    }
}

static void sim_stop_feeding(sim_t *s)
{
    s->feeding = false;
}

static void sim_resume_feeding(sim_t *s)
{
    s->feeding = true;
    s->next_ping = s->T;
}

static void sim_record(sim_t *s)
{
    s->record = true;
    s->nerr = 0;
    s->max_err_us = 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double sim_pct(sim_t *s, double p)
{
    assert_true(s->nerr > 0);
    qsort(s->err, (size_t)s->nerr, sizeof *s->err, cmp_double);
    int i = (int)ceil(p / 100.0 * s->nerr) - 1;
    return s->err[i < 0 ? 0 : i];
}

static void leg_set(leg_t *l, double base_us, double unif_us)
{
    memset(l, 0, sizeof *l);
    l->base_ns = base_us * 1e3;
    l->unif_ns = unif_us * 1e3;
}

/* ---- API basics -------------------------------------------------------------------------- */

static void test_config_and_names(void **state)
{
    (void)state;
    tt_clock_est_config_t c;
    tt_clock_est_config_default(&c);
    tt_clock_est_t *e = tt_clock_est_new(&c);
    assert_non_null(e);
    assert_int_equal(tt_clock_est_next_ping_ms(e), 20);
    tt_clock_est_report_t r;
    tt_clock_est_report(e, 123, &r);
    assert_int_equal(r.state, TT_CLOCK_ACQUIRING);
    assert_true(isinf(r.error_bound_us));
    assert_int_equal(tt_clock_est_session_ns(e, 777), 777);
    tt_clock_est_destroy(&e);
    assert_null(e);
    tt_clock_est_destroy(&e);
    tt_clock_est_destroy(NULL);

    assert_null(tt_clock_est_new(NULL));
    tt_clock_est_config_t bad = c;
    bad.window = 4;
    assert_null(tt_clock_est_new(&bad));
    bad = c;
    bad.lock_samples = c.window + 1;
    assert_null(tt_clock_est_new(&bad));
    bad = c;
    bad.max_slew_ppm = NAN;
    assert_null(tt_clock_est_new(&bad));
    bad = c;
    bad.holdover_after_ns = 0;
    assert_null(tt_clock_est_new(&bad));
    bad = c;
    bad.lost_bound_us = -1;
    assert_null(tt_clock_est_new(&bad));

    assert_string_equal(tt_clock_state_name(TT_CLOCK_ACQUIRING), "acquiring");
    assert_string_equal(tt_clock_state_name(TT_CLOCK_LOCKED), "locked");
    assert_string_equal(tt_clock_state_name(TT_CLOCK_HOLDOVER), "holdover");
    assert_string_equal(tt_clock_state_name(TT_CLOCK_LOST), "lost");
    assert_string_equal(tt_clock_state_name((tt_clock_state_t)42), "?");
}

static void test_rejects_impossible_samples(void **state)
{
    (void)state;
    tt_clock_est_config_t c;
    tt_clock_est_config_default(&c);
    tt_clock_est_t *e = tt_clock_est_new(&c);
    assert_false(tt_clock_est_add(e, 100, 50, 60, 90));      /* t4 < t1 */
    assert_false(tt_clock_est_add(e, 100, 60, 50, 200));     /* t3 < t2 */
    assert_false(tt_clock_est_add(e, 100, 1000, 1200, 150)); /* turnaround > round trip */
    assert_false(tt_clock_est_add(e, INT64_MIN, INT64_MAX - 10, INT64_MAX, 0)); /* overflow */
    tt_clock_est_report_t r;
    tt_clock_est_report(e, 0, &r);
    assert_int_equal(r.samples, 0);
    assert_true(tt_clock_est_add(e, 100, 1000, 1010, 200));
    tt_clock_est_report(e, 200, &r);
    assert_int_equal(r.samples, 1);
    tt_clock_est_destroy(&e);
}

/* 1. Known offset 2.5 s and drift +150 ppm, 10 µs symmetric jitter. */
static void test_converges_offset_and_drift(void **state)
{
    (void)state;
    sim_t s;
    sim_init(&s, 1, NULL);
    leg_set(&s.up, 50, 10);
    leg_set(&s.down, 50, 10);
    s.check_rate = true;
    sim_run(&s, 2.0);
    assert_int_equal(s.last.state, TT_CLOCK_LOCKED);
    assert_true(s.lock_T >= 0 && s.lock_T <= 2000000000);
    sim_run(&s, 28.0);
    sim_record(&s);
    sim_run(&s, 30.0);
    double drift_err = s.last.drift_ppm - expected_drift_ppm(&s);
    printf("  [1] lock %.2f s, end error %.3f us (bound %.1f), max over last 30 s %.3f us, "
           "drift error %.4f ppm, max err/bound %.3f\n",
           (double)s.lock_T * 1e-9, s.last_err_us, s.last_bound_us, s.max_err_us, drift_err,
           s.max_ratio);
    assert_true(fabs(s.last_err_us) < 5.0);
    assert_true(s.max_err_us < 5.0);
    assert_true(fabs(drift_err) < 1.0);
    assert_true(fabs(s.last.offset_us - 2.5e6) < 10000); /* 2.5 s, less 60 s of drift */
    /* Pings stretch from fast to slow as the window fills (1024 samples):
     * after 60 s, 60 s / 1024 = 58 ms; slow (100 ms) from about 102 s. */
    int ping = tt_clock_est_next_ping_ms(s.e);
    assert_true(ping >= 50 && ping <= 60);
    sim_run(&s, 50.0);
    assert_int_equal(tt_clock_est_next_ping_ms(s.e), 100);
    sim_free(&s);
}

/* 2. Symmetric uniform jitter, each leg 20 ms +- 2 ms, skew -80 ppm, 300 s. */
static void test_symmetric_uniform_jitter(void **state)
{
    (void)state;
    sim_t s;
    sim_init(&s, 2, NULL);
    s.skew = -80e-6;
    leg_set(&s.up, 18000, 4000);
    leg_set(&s.down, 18000, 4000);
    s.check_rate = true;
    sim_record(&s);
    sim_run(&s, 300.0);
    double p95 = sim_pct(&s, 95), p99 = sim_pct(&s, 99);
    printf("  [2] lock %.2f s, p95 %.1f us, p99 %.1f us, max %.1f us, drift error %.3f ppm, "
           "bound at end %.0f us, max err/bound %.3f\n",
           (double)s.lock_T * 1e-9, p95, p99, s.max_err_us,
           s.last.drift_ppm - expected_drift_ppm(&s), s.last_bound_us, s.max_ratio);
    assert_true(s.lock_T >= 0 && s.lock_T <= 3000000000);
    assert_true(p95 < 250.0);
    assert_true(p99 < 500.0);
    sim_free(&s);
}

/* 3. One-way exponential jitter: 1 ms each way, plus exp(mean 2 ms) up only.
 * A plain median is pulled by hundreds of µs here; lowest-delay selection
 * is not. */
static void test_one_way_exponential(void **state)
{
    (void)state;
    sim_t s;
    sim_init(&s, 3, NULL);
    s.skew = 50e-6;
    leg_set(&s.up, 1000, 0);
    s.up.exp_ns = 2e6;
    leg_set(&s.down, 1000, 0);
    s.check_rate = true;
    sim_record(&s);
    sim_run(&s, 120.0);
    printf("  [3] lock %.2f s, p99 %.1f us, max %.1f us, max err/bound %.3f\n",
           (double)s.lock_T * 1e-9, sim_pct(&s, 99), s.max_err_us, s.max_ratio);
    assert_true(s.ever_locked);
    assert_true(s.max_err_us < 500.0);
    sim_free(&s);
}

/* 4. 5% outliers with +50 ms on one leg (either leg) are rejected. */
static void test_outliers_rejected(void **state)
{
    (void)state;
    double max_err[2];
    for (int with = 0; with < 2; with++) {
        sim_t s;
        sim_init(&s, 4, NULL);
        s.skew = 100e-6;
        leg_set(&s.up, 1000, 200);
        leg_set(&s.down, 1000, 200);
        if (with) {
            s.up.out_p = s.down.out_p = 0.025;
            s.up.out_ns = s.down.out_ns = 50e6;
        }
        s.check_rate = true;
        sim_run(&s, 5.0);
        sim_record(&s);
        sim_run(&s, 115.0);
        max_err[with] = s.max_err_us;
        printf("  [4] %s outliers: max error %.1f us, p99 %.1f us, max err/bound %.3f\n",
               with ? "with" : "without", s.max_err_us, sim_pct(&s, 99), s.max_ratio);
        sim_free(&s);
    }
    assert_true(max_err[1] < 50.0);
}

/* 5. Step in path delay: round trip 200 µs -> 20 ms and stays. Symmetric:
 * the estimate must not be pulled beyond the 500 µs target and keeps
 * tracking. Asymmetric (one leg takes the whole step): the estimate must
 * move by half the new asymmetry, which nothing can observe, but only at
 * the slew rate, and the bound must cover it all the way. Both stay locked. */
static void test_delay_step(void **state)
{
    (void)state;
    for (int asym = 0; asym < 2; asym++) {
        sim_t s;
        sim_init(&s, 5, NULL);
        leg_set(&s.up, 90, 20);
        leg_set(&s.down, 90, 20);
        s.check_rate = true;
        sim_run(&s, 60.0);
        assert_int_equal(s.last.state, TT_CLOCK_LOCKED);
        s.require_locked = true;
        sim_record(&s);
        if (asym) {
            leg_set(&s.up, 19890, 1000);
        } else {
            leg_set(&s.up, 9990, 1000);
            leg_set(&s.down, 9990, 1000);
        }
        sim_run(&s, 120.0);
        printf("  [5] %s step: max error %.1f us, end error %.1f us (bound %.0f us), "
               "drift error %.3f ppm, max rate dev %.1f ppm, max err/bound %.3f\n",
               asym ? "asymmetric" : "symmetric", s.max_err_us, s.last_err_us, s.last_bound_us,
               s.last.drift_ppm - expected_drift_ppm(&s), s.max_rate_ppm, s.max_ratio);
        if (!asym) {
            assert_true(s.max_err_us < 500.0);
            assert_true(fabs(s.last.drift_ppm - expected_drift_ppm(&s)) < 5.0);
        } else {
            assert_true(s.last_err_us > 9000.0 && s.last_err_us < 10500.0);
        }
        /* And back down: the fast exchanges take over again. */
        leg_set(&s.up, 90, 20);
        leg_set(&s.down, 90, 20);
        sim_run(&s, 60.0);
        printf("  [5] ... and back to 200 us: end error %.2f us (bound %.1f us)\n", s.last_err_us,
               s.last_bound_us);
        assert_true(fabs(s.last_err_us) < 5.0);
        if (!asym)
            assert_true(s.max_err_us < 500.0);
        sim_free(&s);
    }
}

/* 6. Fixed asymmetry: 1.5 ms up, 0.5 ms down. Both clocks agree on every
 * timestamp as if the path were symmetric with 1 ms each way and the
 * coordinator 0.5 ms ahead, so the error is exactly half the asymmetry,
 * +500 µs, whatever the estimator does. What it must do is say so: the
 * bound (from round trip / 2 = 1 ms) covers it, although the statistical
 * precision alone (a few µs) would not. */
static void test_fixed_asymmetry(void **state)
{
    (void)state;
    sim_t s;
    sim_init(&s, 6, NULL);
    leg_set(&s.up, 1500, 10);
    leg_set(&s.down, 500, 10);
    s.check_rate = true;
    sim_run(&s, 60.0);
    printf("  [6] error %.1f us (half the asymmetry: 500), bound %.1f us, precision %.2f us, "
           "max err/bound %.3f\n",
           s.last_err_us, s.last_bound_us, s.last.precision_us, s.max_ratio);
    assert_true(fabs(s.last_err_us - 500.0) < 10.0);
    assert_true(s.last_bound_us >= fabs(s.last_err_us));
    assert_true(s.last_bound_us < 1200.0);
    assert_true(s.last.precision_us < 100.0);
    sim_free(&s);
}

/* 7a. Holdover: 30 s locked at +150 ppm, then 30 s without samples. */
static void test_holdover(void **state)
{
    (void)state;
    sim_t s;
    sim_init(&s, 7, NULL);
    leg_set(&s.up, 100, 10);
    leg_set(&s.down, 100, 10);
    s.check_rate = true;
    sim_run(&s, 30.0);
    assert_int_equal(s.last.state, TT_CLOCK_LOCKED);
    sim_stop_feeding(&s);
    sim_run(&s, 1.5);
    assert_int_equal(s.last.state, TT_CLOCK_LOCKED);
    sim_run(&s, 1.0);
    assert_int_equal(s.last.state, TT_CLOCK_HOLDOVER);
    assert_int_equal(tt_clock_est_next_ping_ms(s.e), 100);
    sim_run(&s, 27.5);
    assert_int_equal(s.last.state, TT_CLOCK_HOLDOVER);
    printf("  [7] after 30 s holdover: error %.2f us, bound %.1f us\n", s.last_err_us,
           s.last_bound_us);
    assert_true(fabs(s.last_err_us) < 500.0);
    assert_true(s.last_bound_us >= fabs(s.last_err_us));
    sim_resume_feeding(&s);
    sim_run(&s, 1.0);
    assert_int_equal(s.last.state, TT_CLOCK_LOCKED);
    sim_run(&s, 10.0);
    assert_true(fabs(s.last_err_us) < 5.0);
    sim_free(&s);
}

/* 7b. Holdover until the bound has grown by more than a small limit (20 µs:
 * about 20 s at the assumed 1 ppm wander) -> LOST; recovery afterwards. */
static void test_holdover_to_lost(void **state)
{
    (void)state;
    tt_clock_est_config_t c;
    tt_clock_est_config_default(&c);
    c.lost_bound_us = 20.0;
    sim_t s;
    sim_init(&s, 8, &c);
    leg_set(&s.up, 100, 10);
    leg_set(&s.down, 100, 10);
    s.check_rate = true;
    sim_run(&s, 30.0);
    assert_int_equal(s.last.state, TT_CLOCK_LOCKED);
    sim_stop_feeding(&s);
    int64_t t_hold = -1, t_lost = -1;
    for (int i = 0; i < 400; i++) {
        sim_run(&s, 0.1);
        if (s.last.state == TT_CLOCK_HOLDOVER && t_hold < 0)
            t_hold = s.T;
        if (s.last.state == TT_CLOCK_LOST && t_lost < 0)
            t_lost = s.T;
    }
    printf("  [7] holdover after %.1f s, lost after %.1f s, error at end %.2f us, bound %.1f us\n",
           (double)(t_hold - 30000000000) * 1e-9, (double)(t_lost - 30000000000) * 1e-9,
           s.last_err_us, s.last_bound_us);
    assert_true(t_hold > 0 && t_lost > t_hold);
    assert_int_equal(s.last.state, TT_CLOCK_LOST);
    assert_int_equal(s.last.samples, 0);
    assert_true(s.last_bound_us >= 20.0);
    sim_resume_feeding(&s);
    sim_run(&s, 0.1);
    assert_int_equal(s.last.state, TT_CLOCK_ACQUIRING);
    sim_run(&s, 2.0);
    assert_int_equal(s.last.state, TT_CLOCK_LOCKED);
    sim_run(&s, 30.0);
    assert_true(fabs(s.last_err_us) < 5.0);
    sim_free(&s);
}

/* 8. The output never goes backwards, not even when the model jumps: a
 * reset to a new coordinator epoch 3 ms behind (or ahead) while locked is
 * slewed at <= 500 ppm, and an asymmetric delay step (test 5) likewise. */
static void test_monotonic_through_model_jumps(void **state)
{
    (void)state;
    for (int dir = -1; dir <= 1; dir += 2) {
        sim_t s;
        sim_init(&s, 9, NULL);
        leg_set(&s.up, 100, 10);
        leg_set(&s.down, 100, 10);
        s.step = 100000; /* query every 100 µs */
        s.check_rate = true;
        sim_run(&s, 20.0);
        assert_int_equal(s.last.state, TT_CLOCK_LOCKED);
        tt_clock_est_reset(s.e);
        s.S0 += dir * 3000000;
        /* The exchanges in flight carry the old epoch: drop them. */
        s.npend = 0;
        s.next_ping = s.T;
        tt_clock_est_report_t r;
        tt_clock_est_report(s.e, sim_local(&s, s.T), &r);
        assert_int_equal(r.state, TT_CLOCK_ACQUIRING);
        assert_true(isinf(r.error_bound_us));
        sim_run(&s, 3.0);
        /* Relocked on the new epoch, still slewing toward it. */
        assert_int_equal(s.last.state, TT_CLOCK_LOCKED);
        assert_true(fabs(s.last_err_us) > 1000.0);
        assert_true(fabs(s.last.slew_us) > 1000.0);
        sim_run(&s, 7.0);
        printf("  [8] epoch jump %+d ms: max rate deviation %.1f ppm, error after 10 s %.2f us\n",
               3 * dir, s.max_rate_ppm, s.last_err_us);
        /* Heard against true time: the slew plus what the re-acquired
         * drift is still wrong by; a step would show as thousands. */
        assert_true(s.max_rate_ppm <= 1000.0);
        assert_true(fabs(s.last_err_us) < 5.0);
        sim_free(&s);
    }
}

/* 8b. Before the first lock the output may step forward, and holds rather
 * than stepping back; queries earlier than the last one never exceed it. */
static void test_monotonic_before_lock_and_out_of_order_queries(void **state)
{
    (void)state;
    tt_clock_est_config_t c;
    tt_clock_est_config_default(&c);
    tt_clock_est_t *e = tt_clock_est_new(&c);
    /* Offset +1 ms, round trip 100 µs. */
    assert_true(tt_clock_est_add(e, 1000000, 2050000, 2060000, 1110000));
    int64_t a = tt_clock_est_session_ns(e, 1200000);
    assert_true(llabs(a - 2200000) < 1000);
    /* A sample claiming the offset is 500 µs less: the model moves back. */
    assert_true(tt_clock_est_add(e, 1210000, 1710000, 1720000, 1230000));
    int64_t b = tt_clock_est_session_ns(e, 1240000);
    assert_true(b >= a);
    int64_t prev = b;
    for (int64_t t = 1240000; t < 3000000; t += 1000) {
        int64_t v = tt_clock_est_session_ns(e, t);
        assert_true(v >= prev);
        prev = v;
    }
    /* An earlier query returns at most the last result and changes nothing. */
    int64_t early = tt_clock_est_session_ns(e, 1500000);
    assert_true(early <= prev);
    assert_true(tt_clock_est_session_ns(e, 3000000) >= prev);
    tt_clock_est_destroy(&e);
}

/* 9. Bound coverage across a spread of random paths (each query of every
 * test above also checks it). */
static void test_bound_covers_random_paths(void **state)
{
    (void)state;
    xs_t pick = {12345};
    double worst = 0;
    long checks = 0;
    for (int run = 0; run < 16; run++) {
        sim_t s;
        sim_init(&s, 100 + (uint64_t)run, NULL);
        s.skew = (xs_unif(&pick) * 400.0 - 200.0) * 1e-6;
        s.S0 += (int64_t)(xs_unif(&pick) * 1e12);
        s.L0 += (int64_t)(xs_unif(&pick) * 1e12);
        double base = 20.0 + xs_unif(&pick) * 20000.0, asym = xs_unif(&pick) * 0.5;
        double jit = base * (0.01 + xs_unif(&pick));
        leg_set(&s.up, base * (1.0 + asym), jit);
        leg_set(&s.down, base * (1.0 - asym), jit * xs_unif(&pick));
        if (run % 3 == 0)
            s.up.exp_ns = jit * 1e3;
        if (run % 4 == 1) {
            s.down.out_p = 0.05;
            s.down.out_ns = 30e6;
        }
        s.step = 5000000;
        s.check_rate = true;
        sim_run(&s, 60.0);
        if (run % 2) { /* and a gap */
            sim_stop_feeding(&s);
            sim_run(&s, 10.0);
            sim_resume_feeding(&s);
            sim_run(&s, 20.0);
        }
        if (s.max_ratio > worst)
            worst = s.max_ratio;
        checks += s.checks;
        sim_free(&s);
    }
    printf("  [9] %ld checks over 16 random paths, worst |error|/bound %.3f\n", checks, worst);
    assert_true(worst <= 1.0);
}

/* 10. Two rooms on the same loopback-like path agree. On one host the
 * fastest exchanges are rare and not symmetric (up floor 40 µs, down 25 µs,
 * both approached gradually: uniform plus exponential queueing) while the
 * bulk is. Two estimators fed independent draws of that path at about the
 * rate an agent pings (~140 exchanges/s while the window fills) must agree
 * within 15 µs from 3 s to 20 s after the start, at every 1 ms query: a
 * click is one sample (20.8 µs at 48 kHz) wide. With a 256-exchange window
 * and the corridor allowed the fit's whole bound, these runs disagreed by
 * 13-24 µs. */
static void test_two_rooms_agree_on_loopback(void **state)
{
    (void)state;
    enum { N = 20000, FROM = 3000 };
    double *err[2], worst = 0;
    err[0] = malloc(N * sizeof(double));
    err[1] = malloc(N * sizeof(double));
    assert_non_null(err[0]);
    assert_non_null(err[1]);
    for (int trial = 0; trial < 4; trial++) {
        for (int a = 0; a < 2; a++) {
            tt_clock_est_config_t c;
            tt_clock_est_config_default(&c);
            c.ping_fast_ms = 7;
            sim_t s;
            sim_init(&s, 500 + (uint64_t)(2 * trial + a), &c);
            s.skew = a ? -150e-6 : 150e-6;
            leg_set(&s.up, 40, 50);
            s.up.exp_ns = 90e3;
            leg_set(&s.down, 25, 65);
            s.down.exp_ns = 90e3;
            for (int i = 0; i < N; i++) {
                sim_run(&s, 0.001);
                err[a][i] = s.last_err_us;
            }
            sim_free(&s);
        }
        double m = 0;
        for (int i = FROM; i < N; i++)
            m = fmax(m, fabs(err[0][i] - err[1][i]));
        printf("  [10] trial %d: rooms apart by at most %.2f us\n", trial, m);
        worst = fmax(worst, m);
    }
    free(err[0]);
    free(err[1]);
    assert_true(worst < 15.0);
}

/* 11. A renderer extrapolates a published mapping (the output at P and
 * its slope over the next 20 ms, from tt_clock_est_preview_ns) up to a
 * JACK period plus the mapping's age ahead, 26 ms: on the path of test 10,
 * with refits every ~7 ms, that lands within 1 µs of what the output then
 * says. (Corrections decayed at the full 500 ppm missed by 2.3 µs here
 * and by up to 9 µs on exchanges recorded under it_jack.) preview_ns
 * itself changes nothing. */
static void test_output_extrapolates_smoothly(void **state)
{
    (void)state;
    tt_clock_est_config_t c;
    tt_clock_est_config_default(&c);
    c.ping_fast_ms = 7;
    sim_t s;
    sim_init(&s, 600, &c);
    leg_set(&s.up, 40, 50);
    s.up.exp_ns = 90e3;
    leg_set(&s.down, 25, 65);
    s.down.exp_ns = 90e3;
    sim_run(&s, 2.0);
    enum { N = 15000, AHEAD = 20, USE = 26 };
    int64_t *L = malloc(N * sizeof *L), *out = malloc(N * sizeof *out);
    double *slope = malloc(N * sizeof *slope);
    assert_true(L && out && slope);
    for (int i = 0; i < N; i++) {
        sim_run(&s, 0.001); /* ends with a session_ns query at s.T */
        L[i] = sim_local(&s, s.T);
        int64_t ahead = L[i] + AHEAD * 1000000;
        int64_t p1 = tt_clock_est_preview_ns(s.e, ahead);
        assert_int_equal(tt_clock_est_preview_ns(s.e, ahead), p1);
        out[i] = tt_clock_est_session_ns(s.e, L[i]); /* the same query again */
        slope[i] = (double)(p1 - out[i]) / (AHEAD * 1e6);
    }
    double worst = 0;
    for (int i = 0; i + USE < N; i += 5) {
        double pred = (double)out[i] + slope[i] * (double)(L[i + USE] - L[i]);
        worst = fmax(worst, fabs(pred - (double)out[i + USE]) * 1e-3);
    }
    printf("  [11] mapping 26 ms ahead: worst miss %.2f us\n", worst);
    assert_true(worst < 1.0);
    free(L);
    free(out);
    free(slope);
    sim_free(&s);
}

/* Epoch-sized session times (CLOCK_REALTIME) against a monotonic local
 * clock: no precision is lost to doubles. */
static void test_epoch_sized_offsets(void **state)
{
    (void)state;
    sim_t s;
    sim_init(&s, 10, NULL);
    s.S0 = 1764000000000000000; /* 2025 in Unix ns */
    s.L0 = 12345678901234;
    s.skew = -200e-6;
    leg_set(&s.up, 40, 8);
    leg_set(&s.down, 40, 8);
    s.check_rate = true;
    sim_run(&s, 30.0);
    sim_record(&s);
    sim_run(&s, 30.0);
    printf("  [--] epoch offsets: max error %.3f us, drift error %.4f ppm\n", s.max_err_us,
           s.last.drift_ppm - expected_drift_ppm(&s));
    assert_true(s.max_err_us < 5.0);
    assert_true(fabs(s.last.drift_ppm - expected_drift_ppm(&s)) < 1.0);
    /* The inverse lands on the same nanosecond, give or take one. */
    int64_t L = sim_local(&s, s.T) + 123456789;
    int64_t S = tt_clock_est_session_ns(s.e, L);
    int64_t back = tt_clock_est_local_ns(s.e, S);
    assert_true(llabs(back - L) <= 2);
    sim_free(&s);
}

/* Same inputs, same outputs: nothing depends on hidden state. */
static void test_deterministic(void **state)
{
    (void)state;
    double end[2], bound[2];
    for (int i = 0; i < 2; i++) {
        sim_t s;
        sim_init(&s, 11, NULL);
        leg_set(&s.up, 5000, 2000);
        leg_set(&s.down, 5000, 500);
        sim_run(&s, 20.0);
        end[i] = s.last_err_us;
        bound[i] = s.last_bound_us;
        sim_free(&s);
    }
    assert_true(end[0] == end[1] && bound[0] == bound[1]);
}

/* The published map: two segments meeting at the knee, inverse of each
 * other on both sides, one line when far_rate is 0; the box carries every
 * field. */
static void test_map_knee(void **state)
{
    (void)state;
    tt_clock_map_t m = {.local_ref = 1000000000,
                        .session_ref = 5000000000,
                        .rate = 1.0001,
                        .state = 1,
                        .valid = 1,
                        .knee_local = 1020000000,
                        .knee_session = 5000000000 + 20002000,
                        .far_rate = 0.9998};
    assert_int_equal(tt_clock_map_session(&m, 1020000000), 5020002000);
    /* 100 ms past the knee at the far rate, not the near one. */
    assert_int_equal(tt_clock_map_session(&m, 1120000000), 5020002000 + 99980000);
    for (int64_t local = 990000000; local < 1130000000; local += 7000001) {
        int64_t s = tt_clock_map_session(&m, local);
        assert_true(llabs(tt_clock_map_local(&m, s) - local) <= 1);
    }
    tt_clock_map_t line = m;
    line.far_rate = 0;
    assert_int_equal(tt_clock_map_session(&line, 1120000000), 5000000000 + 120012000);
    tt_clock_box_t box;
    tt_clock_box_init(&box);
    tt_clock_box_publish(&box, &m);
    tt_clock_map_t back;
    tt_clock_box_read(&box, &back);
    assert_int_equal(back.knee_local, m.knee_local);
    assert_int_equal(back.knee_session, m.knee_session);
    assert_true(back.far_rate == m.far_rate && back.rate == m.rate);
    assert_int_equal(back.local_ref, m.local_ref);
    assert_int_equal(back.session_ref, m.session_ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_and_names),
        cmocka_unit_test(test_rejects_impossible_samples),
        cmocka_unit_test(test_converges_offset_and_drift),
        cmocka_unit_test(test_symmetric_uniform_jitter),
        cmocka_unit_test(test_one_way_exponential),
        cmocka_unit_test(test_outliers_rejected),
        cmocka_unit_test(test_delay_step),
        cmocka_unit_test(test_fixed_asymmetry),
        cmocka_unit_test(test_holdover),
        cmocka_unit_test(test_holdover_to_lost),
        cmocka_unit_test(test_monotonic_through_model_jumps),
        cmocka_unit_test(test_monotonic_before_lock_and_out_of_order_queries),
        cmocka_unit_test(test_bound_covers_random_paths),
        cmocka_unit_test(test_two_rooms_agree_on_loopback),
        cmocka_unit_test(test_output_extrapolates_smoothly),
        cmocka_unit_test(test_epoch_sized_offsets),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_map_knee),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
