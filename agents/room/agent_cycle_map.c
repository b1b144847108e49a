/* agent_cycle_map: see agent_cycle_map.h. */
#include "agent_cycle_map.h"

#include <math.h>
#include <string.h>

/* A driver wake-up 1 ms late (seen every half second on this VM) moves
 * JACK's period by ~1000 ppm for a cycle and its start by ~25 us: noise to
 * live with. A stall of 5 ms or more is not. */
#define RATE_TOL 5000e-6        /* period vs nominal */
#define LAG_EARLY_NS 200000.0   /* callback before JACK's cycle start: rounding only */
#define LAG_MAX_NS 5000000.0    /* callback later than this after the start: suspect */
#define RATE_WINDOW 1024.0      /* cycles in the smoothed period (JACK's wobbles for seconds) */
#define LEARN_NS 2e9            /* passing figures needed before the lag is trusted */
#define JUMP_NS 2000000.0       /* the model is this far off: it jumped */
#define LATE_CYCLES 3           /* ... when so many callbacks in a row say so */
#define AGREE_NS 45000.0        /* JACK agrees with the model again (1.5 dead bands) */
#define SETTLE_NS 350e6         /* after a jump: the line settles this long */
#define SETTLE_DISCARD_NS 175e6 /* ... from the wake-ups after this much */
#define DEADBAND_NS 30000.0     /* wake-ups vs JACK's carried-on line: noise within this */

static void window_clear(agent_cycle_window_t *w)
{
    w->count = 0;
    w->next = 0;
}

/* Index of the first value in sorted[0, n) not less than x. */
static int lower_bound(const double *sorted, int n, double x)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (sorted[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Adds x, dropping the oldest value once full; the sorted copy is kept in
 * step (two memmoves of at most the window: no allocation, real-time safe). */
static void window_push(agent_cycle_window_t *w, double x)
{
    if (w->count == AGENT_CYCLE_WINDOW) {
        int i = lower_bound(w->sorted, w->count, w->v[w->next]); /* the oldest is in there */
        memmove(&w->sorted[i], &w->sorted[i + 1], (size_t)(w->count - i - 1) * sizeof(double));
        w->count--;
    }
    int j = lower_bound(w->sorted, w->count, x);
    memmove(&w->sorted[j + 1], &w->sorted[j], (size_t)(w->count - j) * sizeof(double));
    w->sorted[j] = x;
    w->count++;
    w->v[w->next] = x;
    w->next = (w->next + 1) % AGENT_CYCLE_WINDOW;
}

/* Fills empty w with src's values plus shift, oldest first in src's sorted
 * order: what pushing them one by one in that order gives, in one pass
 * instead of a sorted insert each (this runs in the audio callback). */
static void window_seed_sorted(agent_cycle_window_t *w, const agent_cycle_window_t *src,
                               double shift)
{
    for (int i = 0; i < src->count; i++)
        w->v[i] = w->sorted[i] = src->sorted[i] + shift;
    w->count = src->count;
    w->next = src->count % AGENT_CYCLE_WINDOW;
}

/* The median of the window: callbacks are late by a varying amount, a few
 * by far; the median ignores those, and taken for the lag and for the
 * free-running line alike, it places every client of one server alike
 * (replayed on recorded cycles: the minimum of 32 left two clients 30-60 us
 * apart, the median mostly within 10). */
static double window_median(const agent_cycle_window_t *w)
{
    return w->sorted[w->count / 2];
}

void agent_cycle_map_init(agent_cycle_map_t *m, int sample_rate)
{
    memset(m, 0, sizeof *m);
    m->nominal_pf = 1e9 / (double)(sample_rate > 0 ? sample_rate : 48000);
    m->pf = m->rate_pf = m->nominal_pf;
}

/* What JACK says of one cycle, worked out once. */
typedef struct {
    double pf;   /* its period per frame */
    double lag;  /* the callback's wake-up after its start */
    int rate_ok; /* the period within RATE_TOL of nominal */
    int lag_ok;  /* the wake-up within range of the start */
} figures_t;

static figures_t figures_of(const agent_cycle_map_t *m, const agent_cycle_t *c)
{
    figures_t f;
    f.pf = (double)(c->jack_mono1 - c->jack_mono0) / (double)c->n;
    f.lag = (double)(c->wake_mono - c->jack_mono0);
    f.rate_ok = fabs(f.pf / m->nominal_pf - 1.0) <= RATE_TOL;
    f.lag_ok = f.lag >= -LAG_EARLY_NS && f.lag <= LAG_MAX_NS;
    return f;
}

/* Where the map's line puts the start of frame `frames` (before the offset). */
static double line_at(const agent_cycle_map_t *m, int64_t frames)
{
    return m->ref_mono + (double)(frames - m->ref_frames) * m->pf;
}

static int jack_figures_pass(agent_cycle_map_t *m, const agent_cycle_t *c, const figures_t *f,
                             int contiguous)
{
    /* One late callback is this client's scheduling, not the server's
     * figures: the lag counts only when it stays out of range. */
    m->lag_bad_cycles = f->lag_ok ? 0 : m->lag_bad_cycles + 1;
    int pass = contiguous && f->rate_ok && m->lag_bad_cycles < LATE_CYCLES;
    if (!pass) {
        m->fail_ppm = (f->pf / m->nominal_pf - 1.0) * 1e6;
        m->fail_lag_ns = f->lag;
        m->fail_skipped = contiguous ? 0 : c->frames - (m->last_frames + m->last_n);
    }
    return pass;
}

/* Uses JACK's figures as they are; learns from them only if they passed. */
static void follow_jack(agent_cycle_map_t *m, const agent_cycle_t *c, const figures_t *f, int pass)
{
    m->ref_frames = c->frames;
    m->ref_mono = (double)c->jack_mono0;
    m->offset = 0;
    m->pf = f->pf;
    if (!pass || !f->lag_ok)
        return;
    window_push(&m->lags, f->lag);
    m->wake_lag = window_median(&m->lags);
    if (m->rate_cycles < RATE_WINDOW)
        m->rate_cycles++; /* a plain mean until the window is full */
    m->rate_pf += (f->pf - m->rate_pf) / m->rate_cycles;
    if ((double)m->learnt_frames * m->nominal_pf < LEARN_NS)
        m->learnt_frames += c->n;
}

/* Free-running from here: a line with the learnt period through `mono` at
 * this cycle, moved by the median of the wake-ups from now on. */
static void restart_line(agent_cycle_map_t *m, const agent_cycle_t *c, double mono, int seed)
{
    m->ref_frames = c->frames;
    m->ref_mono = mono;
    m->pf = m->rate_pf;
    /* Carrying JACK's good line on, seed with how the wake-ups scattered
     * about it (centred on 0): the first new ones then move the median a
     * little each, not to wherever the first one fell. Through a wake-up
     * after a jump, nothing is known yet: the median of the new ones
     * decides as they come (one wake-up may be 100 us late). */
    window_clear(&m->residuals);
    if (seed)
        window_seed_sorted(&m->residuals, &m->lags, -m->wake_lag);
    if (m->residuals.count == 0)
        window_push(&m->residuals, 0.0);
    m->line_from_jack = seed;
    m->offset = 0;
    m->late_cycles = 0;
}

/* The server lost time: a new line through this wake-up, settled over the
 * next SETTLE_NS by the wake-ups' median. */
static void restart_after_jump(agent_cycle_map_t *m, const agent_cycle_t *c, double wake)
{
    restart_line(m, c, wake, 0);
    m->settle_frames = (int64_t)(SETTLE_NS / m->nominal_pf);
    m->reanchors++;
}

/* Free-running: where the wake-up puts this cycle's start, against the
 * line; jumps restart the line. */
static void steer(agent_cycle_map_t *m, const agent_cycle_t *c, const figures_t *f, int contiguous)
{
    double line = line_at(m, c->frames);
    double wake = (double)c->wake_mono - m->wake_lag; /* where the wake-up puts the start */
    double r = wake - line;
    double e = r - m->offset;
    if (!contiguous || (m->settle_frames <= 0 && e < -JUMP_NS)) {
        /* The frame counter skipped (the server lost time) or the model is
         * far late: start again from this wake-up. */
        restart_after_jump(m, c, wake);
        return;
    }
    if (m->settle_frames > 0) {
        /* Just after a jump: jackd may run the cycles it owes back to back
         * (late against the grid they belong to) before the grid resumes.
         * The median of what comes after the first SETTLE_DISCARD_NS is
         * the grid; the jump checks wait until SETTLE_NS has passed. */
        int64_t before = m->settle_frames;
        m->settle_frames -= c->n;
        if ((double)before * m->nominal_pf > SETTLE_NS - SETTLE_DISCARD_NS &&
            (double)m->settle_frames * m->nominal_pf <= SETTLE_NS - SETTLE_DISCARD_NS)
            window_clear(&m->residuals);
        window_push(&m->residuals, r);
        m->offset = window_median(&m->residuals);
        return;
    }
    if (e > JUMP_NS) {
        /* One late callback is a hiccup; lost time shows in the next ones
         * too: two in a row when the server saw it as well (its period
         * jumped), else three. */
        int server_saw = !f->rate_ok;
        if (++m->late_cycles >= (server_saw ? 2 : LATE_CYCLES))
            restart_after_jump(m, c, wake);
        return;
    }
    m->late_cycles = 0;
    window_push(&m->residuals, r);
    double med = window_median(&m->residuals);
    if (m->line_from_jack) {
        /* JACK's last good line, carried on: the same for every client of
         * the server, and most hiccups (a late wake-up, the grid unmoved)
         * leave it right. Move off it only by what the wake-ups say beyond
         * a dead band, so clients do not part over their own jitter. */
        m->offset = med > DEADBAND_NS    ? med - DEADBAND_NS
                    : med < -DEADBAND_NS ? med + DEADBAND_NS
                                         : 0;
    } else {
        m->offset = med;
    }
}

agent_cycle_time_t agent_cycle_map_next(agent_cycle_map_t *m, const agent_cycle_t *c)
{
    if (c->n <= 0) /* no frames: nothing to time; keep the line */
        return (agent_cycle_time_t){(int64_t)llround(line_at(m, c->frames) + m->offset), m->pf,
                                    m->trusting};
    int contiguous = !m->have || c->frames == m->last_frames + m->last_n;
    figures_t f = figures_of(m, c);
    int pass = jack_figures_pass(m, c, &f, contiguous);
    if (!m->have)
        m->trusting = 1; /* the server ran before this client: start on its figures */
    /* Without a learnt lag the wake-ups cannot stand in for JACK's figures
     * (right after this client started, its own activation may be what
     * kicked the server's loop): keep to them until then. */
    int lag_known = (double)m->learnt_frames * m->nominal_pf >= LEARN_NS;
    m->have = 1;
    if (m->trusting && !pass && lag_known) {
        m->trusting = 0;
        m->distrusts++;
        m->good_frames = 0;
        /* Carry JACK's last good line on (see restart_line). */
        restart_line(m, c, line_at(m, c->frames), 1);
    }
    if (m->trusting) {
        follow_jack(m, c, &f, pass);
    } else {
        steer(m, c, &f, contiguous);
        /* Back to JACK's figures once they have passed for a second and
         * agree with the model (the step is then at most AGREE_NS). */
        if (pass && fabs((double)c->jack_mono0 - (line_at(m, c->frames) + m->offset)) <= AGREE_NS) {
            m->good_frames += c->n;
            if ((double)m->good_frames * m->nominal_pf >= 1e9) {
                m->trusting = 1;
                follow_jack(m, c, &f, pass);
            }
        } else {
            m->good_frames = 0;
        }
    }
    m->last_frames = c->frames;
    m->last_n = c->n;
    agent_cycle_time_t t = {(int64_t)llround(line_at(m, c->frames) + m->offset), m->pf,
                            m->trusting};
    return t;
}
