/* tt_clock_est: session clock estimate from four-timestamp exchanges.
 *
 * Why it works this way (DESIGN.md "Clock"):
 * - Offset: a weighted line fit over the lowest-delay half of the window
 *   (at least 8), weighted gently toward the fastest and Tukey-reweighted
 *   to drop what selection let through. Queueing only ever adds delay, so
 *   the fast exchanges are the least disturbed; but on loopback the single
 *   fastest ones are not symmetric while the bulk is, so the estimate never
 *   rests on one. Round-trip delay does not depend on drift, so selecting by
 *   it is safe under drift, and a line (unlike a median) does not smear
 *   drift into offset.
 * - Drift: from the delay floors. Each exchange says offset(t1) <= t2 - t1
 *   and offset(t4) >= t3 - t4; the slope leaving the widest corridor
 *   between those two point sets is set by the fastest exchange in each
 *   direction near each end of the window, so queueing noise, outliers and
 *   a constant asymmetry do not tilt it. It is searched only within one
 *   standard error of the regression's slope (shrunk toward a prior while
 *   the window is too short to tell), and the distance between the two
 *   widens the drift's bound. The corridor's centre may also refine the
 *   offset: by two standard errors of the fit's mean when it lies near the
 *   fit, and all the way when it lies so far off that only one-sided
 *   queueing explains it.
 * - Window: 1024 exchanges. On one host the offset of an exchange scatters
 *   by tens of µs and its bias wanders over seconds with scheduling; two
 *   agents' estimates over 256 exchanges (under 2 s while pinging fast)
 *   disagreed by up to 19-67 µs in four tutti-bench-click runs, over 1024
 *   by up to 9-17 µs, and 6-10 µs with the limits on the floors and the
 *   centre above (replayed on the same recorded exchanges).
 * - Everything is computed relative to the newest exchange (offsets of
 *   seconds, epochs of 1e18 ns) so doubles keep sub-ns precision.
 * - The error bound is physical, not just statistical: each exchange
 *   bounds the true offset to within half its round trip, whatever the
 *   asymmetry; the intersection of those intervals, moved to one instant by
 *   the drift and widened by its uncertainty, bounds the error even on an
 *   asymmetric path, which no statistic can see.
 * - Output: offset(t) = model(t) + c(t). When the model is refitted the
 *   output keeps its value and c absorbs the jump; once locked, c decays
 *   exponentially (time constant 100 ms) but never faster than
 *   max_slew_ppm, so the output rate stays within the model's drift +-
 *   slew and never reverses. A clamp on the last returned value backs that
 *   up. A refit moves a 1024-exchange model by a µs or so; decaying that
 *   at the full slew rate put kinks of +-500 ppm a few ms long into the
 *   output, and a renderer extrapolating a published mapping 20-26 ms
 *   ahead (a JACK period) missed by up to 10-17 µs (measured); at the
 *   exponential's rate (|c| / 100 ms) it misses by about a µs.
 */
#include "tt_clock_est.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CE_K 4.0                 /* sigmas in a statistical bound */
#define CE_MIN_SEL 8             /* smallest selection, when the window has that many */
#define CE_SIG_FLOOR_NS 500.0    /* noise floor of the best samples (timestamping) */
#define CE_SIG_RANK(k) ((k) / 4) /* rank whose delay excess sets the weights' noise floor */
#define CE_S2_FLOOR 0.05         /* smallest residual variance, in units of the weights */
#define CE_TUKEY_C 4.685         /* biweight cut, in robust sigmas */
#define CE_IRLS_ROUNDS 3
#define CE_MAX_B 0.01        /* |drift| beyond 1% is not a clock; keeps the output monotonic */
#define CE_SLEW_TAU_NS 100e6 /* time constant of the output's correction (see Output above) */

typedef struct {
    int64_t x;    /* local midpoint of the exchange */
    int64_t off2; /* twice the offset: (t2 - t1) + (t3 - t4) */
    int64_t d;    /* round trip: (t4 - t1) - (t3 - t2) */
    int64_t span; /* t4 - t1, over which drift moves the offset */
    int64_t t1, t4;
    int64_t up;   /* t2 - t1: offset at t1 plus the up delay */
    int64_t down; /* t3 - t4: offset at t4 minus the down delay */
    uint64_t seq; /* arrival order: breaks delay ties deterministically */
} ce_sample_t;

typedef struct {
    double x, y; /* s and ns, relative to the newest sample */
    double w0;   /* weight from the round trip */
    double w;    /* w0 times the robust multiplier */
} ce_pick_t;

/* offset(t) = y_m + a + b * (t - x_m), in ns. */
typedef struct {
    int64_t x_m, y_m;
    double a, b;
    double u_b;          /* bound on |b - true drift| */
    double bound_ns;     /* error bound of the model at x_m */
    double prec_ns;      /* statistical part of it */
    double lock_prec_ns; /* statistical precision of the fit's mean offset */
    int64_t rtt_min;
    int used;
} ce_model_t;

struct tt_clock_est {
    tt_clock_est_config_t cfg;
    tt_clock_state_t state;
    ce_sample_t *ring; /* valid entries are [0, count) */
    int *order;
    ce_pick_t *pick;
    double *tmp;
    int count, head;
    uint64_t seq;
    bool have_t4;
    int64_t first_t4; /* first sample since the window was last empty */
    int64_t last_t4;
    bool have_model;
    bool stale; /* model from before a reset: drives the output, bounds nothing */
    ce_model_t m;
    double b0;    /* drift prior mean (ns/s): 0, or the drift when the window was cleared */
    bool slewing; /* set at the first lock, kept for the estimator's life */
    int64_t t_a;  /* output anchor: c(t_a) = c_a */
    double c_a;
    bool have_q; /* last call to session_ns, for the monotonic clamp */
    int64_t q_t, q_out;
};

void tt_clock_est_config_default(tt_clock_est_config_t *cfg)
{
    cfg->window = 1024;
    cfg->lock_samples = 16;
    cfg->lock_precision_us = 1000.0;
    cfg->holdover_after_ns = 2000000000;
    cfg->lost_bound_us = 1000.0;
    cfg->max_slew_ppm = 500.0;
    cfg->max_drift_ppm = 500.0;
    cfg->wander_ppm = 1.0;
    cfg->ping_fast_ms = 20;
    cfg->ping_slow_ms = 100;
    cfg->ping_holdover_ms = 100;
}

/* Written as "!(x in range)" so NaN fails too. */
static bool ce_config_ok(const tt_clock_est_config_t *c)
{
    if (c->window < 8 || c->window > 4096)
        return false;
    if (c->lock_samples < 4 || c->lock_samples > c->window)
        return false;
    if (!(c->lock_precision_us > 0.0 && c->lock_precision_us < 1e9))
        return false;
    if (c->holdover_after_ns <= 0)
        return false;
    if (!(c->lost_bound_us > 0.0 && c->lost_bound_us < 1e12))
        return false;
    if (!(c->max_slew_ppm > 0.0 && c->max_slew_ppm <= 100000.0))
        return false;
    if (!(c->max_drift_ppm > 0.0 && c->max_drift_ppm <= 10000.0))
        return false;
    if (!(c->wander_ppm >= 0.0 && c->wander_ppm <= 1000.0))
        return false;
    return c->ping_fast_ms >= 1 && c->ping_slow_ms >= 1 && c->ping_holdover_ms >= 1;
}

tt_clock_est_t *tt_clock_est_new(const tt_clock_est_config_t *cfg)
{
    if (!cfg || !ce_config_ok(cfg))
        return NULL;
    tt_clock_est_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    size_t n = (size_t)cfg->window;
    e->ring = calloc(n, sizeof *e->ring);
    e->order = calloc(n, sizeof *e->order);
    e->pick = calloc(n, sizeof *e->pick);
    e->tmp = calloc(n, sizeof *e->tmp);
    if (!e->ring || !e->order || !e->pick || !e->tmp) {
        tt_clock_est_destroy(&e);
        return NULL;
    }
    e->cfg = *cfg;
    e->state = TT_CLOCK_ACQUIRING;
    return e;
}

void tt_clock_est_destroy(tt_clock_est_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_clock_est_t *e = *self_p;
    free(e->ring);
    free(e->order);
    free(e->pick);
    free(e->tmp);
    free(e);
    *self_p = NULL;
}

const char *tt_clock_state_name(tt_clock_state_t s)
{
    switch (s) {
    case TT_CLOCK_ACQUIRING: return "acquiring";
    case TT_CLOCK_LOCKED: return "locked";
    case TT_CLOCK_HOLDOVER: return "holdover";
    case TT_CLOCK_LOST: return "lost";
    }
    return "?";
}

int tt_clock_est_next_ping_ms(const tt_clock_est_t *e)
{
    switch (e->state) {
    case TT_CLOCK_LOCKED: {
        /* Drift is learnt from the time the window spans, and a full
         * window drops a sample per ping: so stretch from fast to slow at
         * the rate that keeps the window just spanning the whole time since
         * samples began, and no information is thrown away while it firms. */
        double ms = (double)(e->last_t4 - e->first_t4) * 1e-6 / e->cfg.window;
        if (ms >= e->cfg.ping_slow_ms)
            return e->cfg.ping_slow_ms;
        return ms <= e->cfg.ping_fast_ms ? e->cfg.ping_fast_ms : (int)ms;
    }
    case TT_CLOCK_HOLDOVER:
    case TT_CLOCK_LOST:
        /* Probe for the link without flooding a queue that may be backed up. */
        return e->cfg.ping_holdover_ms;
    case TT_CLOCK_ACQUIRING: break;
    }
    return e->cfg.ping_fast_ms;
}

/* ---- small numeric helpers ---------------------------------------------------------------- */

static bool ce_sub(int64_t a, int64_t b, int64_t *out)
{
    if ((b > 0 && a < INT64_MIN + b) || (b < 0 && a > INT64_MAX + b))
        return false;
    *out = a - b;
    return true;
}

static bool ce_add(int64_t a, int64_t b, int64_t *out)
{
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
        return false;
    *out = a + b;
    return true;
}

static int64_t ce_floor_half(int64_t v)
{
    return (v - (v & 1)) / 2;
}

/* llround without undefined behaviour on absurd values. */
static int64_t ce_round(double v)
{
    if (!(v > -9.0e18))
        return v != v ? 0 : -(int64_t)9000000000000000000;
    if (v > 9.0e18)
        return (int64_t)9000000000000000000;
    return (int64_t)llround(v);
}

static bool ce_before(const ce_sample_t *p, const ce_sample_t *q)
{
    return p->d < q->d || (p->d == q->d && p->seq < q->seq);
}

/* Selection, not sorting: the fit needs the k fastest exchanges and a few
 * ranks among them, and the reweighting a median; a full sort of a
 * 1024-sample window on every exchange cost more than the fit itself.
 * Quickselect (median-of-three pivot, Hoare partition) is O(n) on average,
 * in place and deterministic. */
static void ce_swap_i(int *v, int a, int b)
{
    int t = v[a];
    v[a] = v[b];
    v[b] = t;
}

/* Rearranges v[lo..hi] so v[m] holds the sample of rank m by delay (ties by
 * arrival), everything before it is no slower and everything after no
 * faster. */
static void ce_select_order(const ce_sample_t *ring, int *v, int lo, int hi, int m)
{
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ce_before(&ring[v[mid]], &ring[v[lo]]))
            ce_swap_i(v, mid, lo);
        if (ce_before(&ring[v[hi]], &ring[v[lo]]))
            ce_swap_i(v, hi, lo);
        if (ce_before(&ring[v[hi]], &ring[v[mid]]))
            ce_swap_i(v, hi, mid);
        const ce_sample_t *pv = &ring[v[mid]];
        int i = lo, j = hi;
        while (i <= j) {
            while (ce_before(&ring[v[i]], pv))
                i++;
            while (ce_before(pv, &ring[v[j]]))
                j--;
            if (i <= j)
                ce_swap_i(v, i++, j--);
        }
        if (m <= j)
            hi = j;
        else if (m >= i)
            lo = i;
        else
            return;
    }
}

static void ce_select_d(double *v, int lo, int hi, int m)
{
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        double t;
        if (v[mid] < v[lo])
            t = v[mid], v[mid] = v[lo], v[lo] = t;
        if (v[hi] < v[lo])
            t = v[hi], v[hi] = v[lo], v[lo] = t;
        if (v[hi] < v[mid])
            t = v[hi], v[hi] = v[mid], v[mid] = t;
        double pv = v[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pv)
                i++;
            while (pv < v[j])
                j--;
            if (i <= j)
                t = v[i], v[i++] = v[j], v[j--] = t;
        }
        if (m <= j)
            hi = j;
        else if (m >= i)
            lo = i;
        else
            return;
    }
}

/* Median of v[0..n) (n >= 1); reorders v. */
static double ce_median(double *v, int n)
{
    int h = n / 2;
    ce_select_d(v, 0, n - 1, h);
    if (n % 2)
        return v[h];
    double below = v[0]; /* the largest of v[0..h) */
    for (int i = 1; i < h; i++)
        if (v[i] > below)
            below = v[i];
    return 0.5 * (below + v[h]);
}

/* ---- the fit ------------------------------------------------------------------------------ */

typedef struct {
    double a, bs;      /* intercept at x = 0 (ns), slope (ns/s) */
    double u_bs;       /* bound on the slope error (ns/s) */
    double xbar, ybar; /* weighted centre of the picks */
    double sd_ybar;    /* standard error of ybar (ns) */
    double kk;         /* sigmas for a bound, widened for few degrees of freedom */
    double prec;       /* statistical bound on a (ns) */
    int used;
} ce_line_t;

/* Weighted least squares over the picks with w > 0. The slope is shrunk
 * toward 0 by a prior of sd max_drift/2 so that a short or noisy window
 * (acquiring at ms jitter) yields "drift unknown, about 0" instead of a
 * wild number; u_bs covers both the fit's own error (K sigma, widened for
 * few degrees of freedom) and the shrinkage, given |true drift| <=
 * max_drift. */
static void ce_wls(const tt_clock_est_t *e, int k, ce_line_t *L)
{
    const ce_pick_t *p = e->pick;
    double sw = 0, sx = 0, sy = 0;
    int nu = 0;
    for (int j = 0; j < k; j++) {
        if (p[j].w <= 0)
            continue;
        sw += p[j].w;
        sx += p[j].w * p[j].x;
        sy += p[j].w * p[j].y;
        nu++;
    }
    double xbar = sx / sw, ybar = sy / sw, sxx = 0, sxy = 0;
    for (int j = 0; j < k; j++) {
        if (p[j].w <= 0)
            continue;
        double dx = p[j].x - xbar;
        sxx += p[j].w * dx * dx;
        sxy += p[j].w * dx * (p[j].y - ybar);
    }
    /* A slope from fewer points is mostly noise, and so is its variance. */
    int npar = 1;
    double bfit = 0;
    if (nu >= CE_MIN_SEL && sxx > 0) {
        bfit = sxy / sxx;
        npar = 2;
    }
    double rss = 0;
    for (int j = 0; j < k; j++) {
        if (p[j].w <= 0)
            continue;
        double r = p[j].y - ybar - bfit * (p[j].x - xbar);
        rss += p[j].w * r * r;
    }
    int dof = nu - npar;
    /* With no residual degrees of freedom, trust the delay-derived weights. */
    double s2 = dof >= 1 ? rss / dof : 1.0;
    /* Floor: residuals far below the delay-derived sigmas are luck, not skill. */
    if (s2 < CE_S2_FLOOR)
        s2 = CE_S2_FLOOR;
    double kk = CE_K * (1.0 + 3.0 / (dof >= 1 ? dof : 1));
    double bmax = e->cfg.max_drift_ppm * 1e3;
    double sp = bmax / 2;
    /* The prior's mean b0 is 0, or the drift held when the window was
     * last cleared (the local oscillator has not changed); it can be wrong
     * by up to bmax + |b0|. */
    double b0 = e->b0, u0 = bmax + fabs(b0);
    if (npar == 2) {
        double varb = s2 / sxx;
        double f = sp * sp / (sp * sp + varb);
        L->bs = f * bfit + (1 - f) * b0;
        L->u_bs = f * kk * sqrt(varb) + (1 - f) * u0;
    } else {
        L->bs = b0;
        L->u_bs = u0;
    }
    if (L->bs > CE_MAX_B * 1e9)
        L->bs = CE_MAX_B * 1e9;
    if (L->bs < -CE_MAX_B * 1e9)
        L->bs = -CE_MAX_B * 1e9;
    L->a = ybar - L->bs * xbar;
    L->xbar = xbar;
    L->ybar = ybar;
    L->sd_ybar = sqrt(s2 / sw);
    L->kk = kk;
    L->prec = kk * L->sd_ybar + L->u_bs * fabs(xbar);
    L->used = nu;
}

/* Tukey biweight on residuals scaled by each pick's own sigma (1/sqrt(w0))
 * and by their median absolute size, so rejection adapts to the path. */
static void ce_reweight(tt_clock_est_t *e, int k, const ce_line_t *L)
{
    ce_pick_t *p = e->pick;
    for (int j = 0; j < k; j++)
        e->tmp[j] = fabs(p[j].y - L->a - L->bs * p[j].x) * sqrt(p[j].w0);
    double scale = 1.4826 * ce_median(e->tmp, k);
    if (scale < 1e-3)
        scale = 1e-3;
    for (int j = 0; j < k; j++) {
        double u = fabs(p[j].y - L->a - L->bs * p[j].x) * sqrt(p[j].w0) / (CE_TUKEY_C * scale);
        p[j].w = u < 1.0 ? p[j].w0 * (1 - u * u) * (1 - u * u) : 0.0;
    }
}

/* Width of the corridor left between the exchanges' two one-way
 * constraints when the offset is taken to drift at bs (ns/s): every
 * exchange says offset(t1) <= t2 - t1 and offset(t4) >= t3 - t4, so with a
 * line of slope bs, all "up" points lie above it and all "down" points below;
 * the room between the lowest up point and the highest down point is the
 * width. A wrong slope tilts the points and narrows it. */
static double ce_corridor(const tt_clock_est_t *e, int64_t x_m, int64_t y_m, double bs, double *mid)
{
    double lo = -INFINITY, hi = INFINITY;
    for (int i = 0; i < e->count; i++) {
        const ce_sample_t *s = &e->ring[i];
        double u = (double)(s->up - y_m) - bs * (double)(s->t1 - x_m) * 1e-9;
        double d = (double)(s->down - y_m) - bs * (double)(s->t4 - x_m) * 1e-9;
        if (u < hi)
            hi = u;
        if (d > lo)
            lo = d;
    }
    if (mid)
        *mid = 0.5 * (lo + hi);
    return hi - lo;
}

/* Drift from the delay floors: the slope in [lo, hi] that leaves the widest
 * corridor (golden-section search; the width is concave in the slope). Only
 * the fastest exchange in each direction near each end of the window
 * matters, so queueing noise and outliers do not, and a constant asymmetry
 * does not tilt the floors. A small pull toward the regression's slope bs
 * decides when the floors leave the slope open (fast exchanges only at one
 * end of the window, as after a delay step). */
static double ce_floor_slope(const tt_clock_est_t *e, int64_t x_m, int64_t y_m, double lo,
                             double hi, double bs, double span_s)
{
    const double g = 0.6180339887498949;
    double pull = 0.1 * span_s;
    double p = hi - g * (hi - lo), q = lo + g * (hi - lo);
    double fp = ce_corridor(e, x_m, y_m, p, NULL) - pull * fabs(p - bs);
    double fq = ce_corridor(e, x_m, y_m, q, NULL) - pull * fabs(q - bs);
    for (int it = 0; it < 80 && hi - lo > 1e-3; it++) {
        if (fp < fq) {
            lo = p;
            p = q;
            fp = fq;
            q = lo + g * (hi - lo);
            fq = ce_corridor(e, x_m, y_m, q, NULL) - pull * fabs(q - bs);
        } else {
            hi = q;
            q = p;
            fq = fp;
            p = hi - g * (hi - lo);
            fp = ce_corridor(e, x_m, y_m, p, NULL) - pull * fabs(p - bs);
        }
    }
    return 0.5 * (lo + hi);
}

static void ce_fit(tt_clock_est_t *e, ce_model_t *m)
{
    int n = e->count;
    const ce_sample_t *r = e->ring;
    int newest = 0;
    for (int i = 1; i < n; i++)
        if (r[i].x > r[newest].x || (r[i].x == r[newest].x && r[i].seq > r[newest].seq))
            newest = i;
    m->x_m = r[newest].x;
    m->y_m = ce_floor_half(r[newest].off2);

    for (int i = 0; i < n; i++)
        e->order[i] = i;
    int k = (n + 1) / 2;
    if (k < CE_MIN_SEL)
        k = n < CE_MIN_SEL ? n : CE_MIN_SEL;
    /* order[0..k) holds the k fastest (in no particular order), with the
     * ranks the fit needs in place: k - 1, CE_SIG_RANK(k) and 0. */
    ce_select_order(r, e->order, 0, n - 1, k - 1);
    ce_select_order(r, e->order, 0, k - 1, CE_SIG_RANK(k));
    ce_select_order(r, e->order, 0, CE_SIG_RANK(k), 0);
    int64_t dmin = r[e->order[0]].d;
    /* Weight 1 / (sig^2 + (excess/2)^2): a sample's offset can be off by at
     * most half its delay excess, and sig (half the excess a quarter of the
     * way into the selection) keeps the fastest few from dominating. */
    double sig = 0.5 * (double)(r[e->order[CE_SIG_RANK(k)]].d - dmin);
    if (sig < CE_SIG_FLOOR_NS)
        sig = CE_SIG_FLOOR_NS;
    for (int j = 0; j < k; j++) {
        const ce_sample_t *s = &r[e->order[j]];
        double ex = 0.5 * (double)(s->d - dmin);
        e->pick[j].x = (double)(s->x - m->x_m) * 1e-9;
        e->pick[j].y = 0.5 * (double)(s->off2 - 2 * m->y_m);
        e->pick[j].w0 = 1.0 / (sig * sig + ex * ex);
        e->pick[j].w = e->pick[j].w0;
    }
    ce_line_t L;
    for (int round = 0;; round++) {
        ce_wls(e, k, &L);
        if (round == CE_IRLS_ROUNDS)
            break;
        ce_reweight(e, k, &L);
    }
    /* Drift: the floors' slope, within one standard error of the
     * regression's; its bound is the regression's plus the distance between
     * the two. On loopback the floors are soft (the fastest exchanges are
     * rare and not symmetric), so the floors may only refine the slope, not
     * tilt it: searched across the regression's whole bound they moved it
     * by up to 1 ppm and the output ramped away by several µs (measured on
     * recorded exchanges of three agents on one host). */
    double span_s = 0;
    for (int i = 0; i < n; i++) {
        double x = (double)(m->x_m - r[i].x) * 1e-9;
        if (x > span_s)
            span_s = x;
    }
    if (L.used >= CE_MIN_SEL) {
        double bmax = e->cfg.max_drift_ppm * 1e3 + fabs(e->b0);
        double sd_b = L.u_bs / L.kk;
        double lo = fmax(L.bs - sd_b, -bmax), hi = fmin(L.bs + sd_b, bmax);
        double bs = lo < hi ? ce_floor_slope(e, m->x_m, m->y_m, lo, hi, L.bs, span_s) : L.bs;
        L.u_bs += fabs(bs - L.bs);
        L.bs = bs;
        L.a = L.ybar - L.bs * L.xbar;
        L.prec = L.kk * L.sd_ybar + L.u_bs * fabs(L.xbar);
    }
    /* Offset: the corridor's centre is far sharper than any average when
     * the floors are symmetric (they are on a WAN, where queueing is what
     * varies), but on loopback the fastest exchanges are not symmetric
     * while the bulk is (DESIGN.md), and the centre, which rests on two
     * single exchanges, sits 0-5 standard errors of the fit's mean away
     * from the fit. So near the fit the centre may only move it by two
     * standard errors (allowed the fit's whole bound it moved loopback
     * estimates by 10-20 µs). Beyond twice the fit's K-sigma bound (about
     * 8 standard errors) it is not noise but one-sided queueing (10-20
     * standard errors on a path with exponential delay one way, where the
     * fit over the fastest half is still pulled by hundreds of µs): blend
     * over to the centre, fully at twice that distance. */
    double est = L.a, dev = 0;
    if (L.used >= CE_MIN_SEL) {
        double mid;
        ce_corridor(e, m->x_m, m->y_m, L.bs, &mid);
        if (isfinite(mid)) {
            double room = 0.5 * L.kk * L.sd_ybar, far = 2.0 * L.kk * L.sd_ybar;
            double z = mid - L.a;
            double w = far > 0 ? fmin(fmax(fabs(z) / far - 1.0, 0.0), 1.0) : 1.0;
            est = (1.0 - w) * (L.a + fmin(fmax(z, -room), room)) + w * mid;
        }
        dev = fabs(est - L.a);
    }

    /* Physical bound: true offset at x_m lies in every sample's interval
     * [offset - d/2, offset + d/2], moved to x_m along the fitted drift and
     * widened by what the drift may be wrong by over the distance. */
    double grow = L.u_bs + e->cfg.wander_ppm * 1e3;
    double lo = -INFINITY, hi = INFINITY;
    for (int i = 0; i < n; i++) {
        double x = (double)(r[i].x - m->x_m) * 1e-9;
        double c = 0.5 * (double)(r[i].off2 - 2 * m->y_m) - L.bs * x;
        double h = 0.5 * (double)r[i].d + 0.5 * (double)r[i].span * (fabs(L.bs) + L.u_bs) * 1e-9 +
                   grow * fabs(x) + 1.0;
        if (c - h > lo)
            lo = c - h;
        if (c + h < hi)
            hi = c + h;
    }
    double hard =
        lo <= hi ? fmax(est - lo, hi - est) : fmax(fabs(est - lo), fabs(est - hi)) + (lo - hi);
    double spread = 0.5 * (double)(r[e->order[k - 1]].d - dmin);
    m->a = est;
    m->b = L.bs * 1e-9;
    m->u_b = L.u_bs * 1e-9;
    m->lock_prec_ns = L.kk * L.sd_ybar;
    m->prec_ns = L.prec + dev;
    /* Never below half the selection's delay spread or half the best
     * round trip: what the intersection claims beyond that rests on the
     * clocks being exactly linear. */
    m->bound_ns = fmax(fmax(hard, m->prec_ns), fmax(spread, 0.5 * (double)dmin));
    m->rtt_min = dmin;
    m->used = L.used;
}

/* ---- output trajectory -------------------------------------------------------------------- */

/* Unslewed correction at t. Every correction decays along one curve:
 * linearly at max_slew while |c| is above slew x CE_SLEW_TAU_NS, then
 * exponentially with that time constant (the two join with the same
 * slope). The anchor sits on the curve where |c| = |c_a|; later times move
 * down it and earlier ones up it, so the trajectory is one smooth curve. */
static double ce_c(const tt_clock_est_t *e, int64_t t)
{
    if (e->c_a == 0.0 || !e->slewing)
        return e->c_a;
    double s = e->cfg.max_slew_ppm * 1e-6;
    double ck = s * CE_SLEW_TAU_NS; /* where linear turns exponential */
    double a = fabs(e->c_a);
    double xa = a > ck ? (ck - a) / s : -CE_SLEW_TAU_NS * log(a / ck);
    double x = xa + (double)(t - e->t_a);
    return copysign(x < 0 ? ck - s * x : ck * exp(-x / CE_SLEW_TAU_NS), e->c_a);
}

static double ce_model_rel(const ce_model_t *m, int64_t t)
{
    return m->a + m->b * (double)(t - m->x_m);
}

static int64_t ce_traj(const tt_clock_est_t *e, int64_t t)
{
    return t + e->m.y_m + ce_round(ce_model_rel(&e->m, t) + ce_c(e, t));
}

/* The trajectory, clamped so no later call returns less than an earlier
 * one and no earlier call more than a later one. */
static int64_t ce_out(const tt_clock_est_t *e, int64_t t)
{
    int64_t v = ce_traj(e, t);
    if (e->have_q) {
        if (t >= e->q_t && v < e->q_out)
            v = e->q_out;
        if (t < e->q_t && v > e->q_out)
            v = e->q_out;
    }
    return v;
}

int64_t tt_clock_est_session_ns(tt_clock_est_t *e, int64_t local_ns)
{
    if (!e->have_model)
        return local_ns;
    int64_t v = ce_out(e, local_ns);
    if (!e->have_q || local_ns >= e->q_t) {
        e->have_q = true;
        e->q_t = local_ns;
        e->q_out = v;
    }
    return v;
}

int64_t tt_clock_est_preview_ns(const tt_clock_est_t *e, int64_t local_ns)
{
    if (!e->have_model)
        return local_ns;
    return ce_out(e, local_ns);
}

int64_t tt_clock_est_local_ns(const tt_clock_est_t *e, int64_t session_ns)
{
    if (!e->have_model)
        return session_ns;
    /* The trajectory's rate is within ~1% of 1: a few fixed-point steps. */
    int64_t t = session_ns - e->m.y_m - ce_round(e->m.a);
    for (int i = 0; i < 8; i++) {
        int64_t diff = session_ns - ce_traj(e, t);
        if (diff == 0)
            break;
        t += diff;
    }
    return t;
}

/* ---- samples and states ------------------------------------------------------------------- */

static bool ce_lockable(const tt_clock_est_t *e)
{
    return e->count >= e->cfg.lock_samples && e->m.lock_prec_ns <= e->cfg.lock_precision_us * 1e3;
}

bool tt_clock_est_add(tt_clock_est_t *e, int64_t t1, int64_t t2, int64_t t3, int64_t t4)
{
    int64_t up, down, span, proc, off2;
    if (t4 < t1 || t3 < t2)
        return false;
    if (!ce_sub(t2, t1, &up) || !ce_sub(t3, t4, &down) || !ce_add(up, down, &off2))
        return false;
    if (!ce_sub(t4, t1, &span) || !ce_sub(t3, t2, &proc) || span < proc)
        return false;
    ce_sample_t s = {.x = t1 + span / 2,
                     .off2 = off2,
                     .d = span - proc,
                     .span = span,
                     .t1 = t1,
                     .t4 = t4,
                     .up = up,
                     .down = down,
                     .seq = e->seq++};
    e->ring[e->head] = s;
    e->head = (e->head + 1) % e->cfg.window;
    if (e->count < e->cfg.window)
        e->count++;
    if (e->count == 1)
        e->first_t4 = t4;
    if (!e->have_t4 || t4 > e->last_t4)
        e->last_t4 = t4;
    e->have_t4 = true;

    /* Re-anchor the output where it was last seen (or now, if later) so
     * the new model changes its course, never its value. */
    bool had = e->have_model;
    int64_t t_new = e->last_t4;
    if (e->have_q && e->q_t > t_new)
        t_new = e->q_t;
    if (had && e->t_a > t_new)
        t_new = e->t_a;
    int64_t out_now = had ? ce_out(e, t_new) : 0;

    ce_fit(e, &e->m);
    e->have_model = true;
    e->stale = false;
    if (e->state != TT_CLOCK_LOCKED)
        e->state = ce_lockable(e) ? TT_CLOCK_LOCKED : TT_CLOCK_ACQUIRING;
    if (e->state == TT_CLOCK_LOCKED)
        e->slewing = true;

    e->t_a = t_new;
    e->c_a = 0.0;
    if (had && e->slewing)
        e->c_a = (double)(out_now - t_new - e->m.y_m) - ce_model_rel(&e->m, t_new);
    return true;
}

static double ce_growth(const tt_clock_est_t *e, int64_t t)
{
    double dt = fabs((double)(t - e->m.x_m));
    return (e->m.u_b + e->cfg.wander_ppm * 1e-6) * dt;
}

void tt_clock_est_tick(tt_clock_est_t *e, int64_t local_now_ns)
{
    if (!e->have_model || e->stale)
        return;
    if (e->state == TT_CLOCK_LOCKED && e->have_t4 &&
        local_now_ns - e->last_t4 > e->cfg.holdover_after_ns)
        e->state = TT_CLOCK_HOLDOVER;
    if (e->state == TT_CLOCK_HOLDOVER && ce_growth(e, local_now_ns) > e->cfg.lost_bound_us * 1e3) {
        /* By our own wander assumption the window no longer says anything
         * reliable about now: drop it and start again when samples return.
         * The model keeps driving the output meanwhile. */
        e->state = TT_CLOCK_LOST;
        e->b0 = e->m.b * 1e9;
        e->count = 0;
        e->head = 0;
    }
}

void tt_clock_est_reset(tt_clock_est_t *e)
{
    e->count = 0;
    e->head = 0;
    e->state = TT_CLOCK_ACQUIRING;
    e->stale = e->have_model;
    if (e->have_model)
        e->b0 = e->m.b * 1e9;
}

void tt_clock_est_report(const tt_clock_est_t *e, int64_t local_now_ns, tt_clock_est_report_t *out)
{
    memset(out, 0, sizeof *out);
    out->state = e->state;
    out->samples = e->count;
    out->used = e->m.used;
    if (!e->have_model) {
        out->error_bound_us = INFINITY;
        out->precision_us = INFINITY;
        return;
    }
    double rel = ce_model_rel(&e->m, local_now_ns);
    /* Split y_m so an epoch-sized offset keeps its sub-µs digits. */
    out->offset_us = (double)(e->m.y_m / 1000) + ((double)(e->m.y_m % 1000) + rel) * 1e-3;
    out->drift_ppm = e->m.b * 1e6;
    out->rtt_us = (double)e->m.rtt_min * 1e-3;
    double slew = (double)(ce_out(e, local_now_ns) - local_now_ns - e->m.y_m) - rel;
    out->slew_us = slew * 1e-3;
    double grow = ce_growth(e, local_now_ns);
    if (e->stale) {
        out->error_bound_us = INFINITY;
        out->precision_us = INFINITY;
        return;
    }
    /* +1 ns for the output's rounding to integer nanoseconds. */
    out->error_bound_us = (e->m.bound_ns + grow + fabs(slew) + 1.0) * 1e-3;
    out->precision_us = (e->m.prec_ns + grow) * 1e-3;
}
