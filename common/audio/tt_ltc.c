/* tt_ltc: LTC rendering and reading on libltc (see tt_ltc.h for the why).
 *
 * libltc does the bit-level work in both directions. What is ours is
 * placement: the encoder makes each frame exactly the caller's length and
 * starts it with its leading edge, and the reader relocates every frame's
 * leading edge in the audio, because libltc's off_start is only an estimate.
 */
#include "tt_ltc.h"

#include "tt_error.h"

#include <ltc.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_RATE 8000
#define MAX_RATE 768000

static int valid_fps(tt_fps_t fps)
{
    return (int)fps >= (int)TT_FPS_23_976 && (int)fps <= (int)TT_FPS_30;
}

/* The TV standard only decides which bit carries parity (bit 59 at 25 fps,
 * bit 27 otherwise); readers ignore it, but a hardware reader that checks
 * parity wants the right one. */
static enum LTC_TV_STANDARD standard_of(tt_fps_t fps)
{
    switch (fps) {
    case TT_FPS_25: return LTC_TV_625_50;
    case TT_FPS_23_976:
    case TT_FPS_24: return LTC_TV_FILM_24;
    default: return LTC_TV_525_60;
    }
}

/* Samples per frame at the real rate, as a double (only for sizing and
 * estimates; placement is always tt_timecode_frame_to_sample). */
static double samples_per_frame(int sample_rate, tt_fps_t fps)
{
    int64_t num, den;
    tt_fps_rate(fps, &num, &den);
    return (double)sample_rate * (double)den / (double)num;
}

/* ---- encoder ------------------------------------------------------------------------------ */

struct tt_ltc_enc {
    LTCEncoder *ltc;
    tt_fps_t fps;
    enum LTC_TV_STANDARD standard;
    float amplitude;
    float scale;  /* amplitude / 127: libltc at 0 dBFS writes 128 +- 127 */
    size_t n_min; /* accepted frame lengths */
    size_t n_max;
    size_t n_nominal_lo; /* lengths rendered as libltc writes them; others are scaled */
    size_t n_nominal_hi;
    size_t half_bit; /* samples in the closing half-bit */
    float last;      /* last sample rendered, 0 before the first frame */
};

tt_ltc_enc_t *tt_ltc_enc_new(int sample_rate, tt_fps_t fps, char *why)
{
    if (!valid_fps(fps)) {
        tt_fail(why, TT_ERR_INVALID, "LTC encoder: unknown frame rate %d", (int)fps);
        return NULL;
    }
    if (sample_rate < MIN_RATE || sample_rate > MAX_RATE) {
        tt_fail(why, TT_ERR_INVALID, "LTC encoder: sample rate %d Hz is outside %d..%d",
                sample_rate, MIN_RATE, MAX_RATE);
        return NULL;
    }
    tt_ltc_enc_t *e = calloc(1, sizeof *e);
    if (!e) {
        tt_fail(why, TT_ERR_NOMEM, "LTC encoder: out of memory");
        return NULL;
    }
    int64_t num, den;
    tt_fps_rate(fps, &num, &den);
    e->fps = fps;
    e->standard = standard_of(fps);
    /* No LTC_USE_DATE: user bits stay zero; BGF bits follow the standard. */
    e->ltc = ltc_encoder_create(sample_rate, (double)num / (double)den, e->standard, 0);
    if (!e->ltc) {
        free(e);
        tt_fail(why, TT_ERR_NOMEM, "LTC encoder: libltc could not create an encoder for %d Hz, %s",
                sample_rate, tt_fps_name(fps));
        return NULL;
    }
    /* Full 8-bit range (1..255) for the least quantisation; we scale. */
    ltc_encoder_set_volume(e->ltc, 0.0);
    e->amplitude = TT_LTC_DEFAULT_AMPLITUDE;
    e->scale = e->amplitude / 127.0f;
    double spf = samples_per_frame(sample_rate, fps);
    e->n_min = (size_t)floor(spf * (1.0 - TT_LTC_VARISPEED));
    e->n_max = (size_t)ceil(spf * (1.0 + TT_LTC_VARISPEED));
    e->n_nominal_lo = (size_t)floor(spf) - 1;
    e->n_nominal_hi = (size_t)ceil(spf) + 1;
    e->half_bit = (size_t)ceil(spf / 160.0);
    return e;
}

void tt_ltc_enc_destroy(tt_ltc_enc_t **e_p)
{
    if (!e_p || !*e_p)
        return;
    ltc_encoder_free((*e_p)->ltc);
    free(*e_p);
    *e_p = NULL;
}

int tt_ltc_enc_set_amplitude(tt_ltc_enc_t *e, float amplitude)
{
    if (!e || !(amplitude > 0.0f && amplitude <= 1.0f))
        return TT_ERR_INVALID;
    e->amplitude = amplitude;
    e->scale = amplitude / 127.0f;
    return 0;
}

size_t tt_ltc_enc_min_samples(const tt_ltc_enc_t *e)
{
    return e ? e->n_min : 0;
}

size_t tt_ltc_enc_max_samples(const tt_ltc_enc_t *e)
{
    return e ? e->n_max : 0;
}

int tt_ltc_enc_render(tt_ltc_enc_t *e, int64_t frame, float *out, size_t n_samples)
{
    if (!e || !out || n_samples < e->n_min || n_samples > e->n_max)
        return TT_ERR_INVALID;

    int h, m, s, f;
    tt_timecode_fields(frame, e->fps, &h, &m, &s, &f);
    SMPTETimecode st;
    memset(&st, 0, sizeof st);
    strcpy(st.timezone, "+0000");
    st.hours = (unsigned char)h;
    st.mins = (unsigned char)m;
    st.secs = (unsigned char)s;
    st.frame = (unsigned char)f;

    /* Build the whole 80-bit word ourselves rather than through
     * ltc_encoder_set_timecode: libltc sets dfbit for any 29.97 (also
     * non-drop), and the parity bit must be computed with dfbit already in
     * place, which ltc_time_to_frame does when dfbit is set first. */
    LTCFrame lf;
    ltc_frame_reset(&lf);
    lf.dfbit = tt_fps_is_drop(e->fps) ? 1 : 0;
    ltc_time_to_frame(&lf, &st, e->standard, 0);
    ltc_encoder_set_frame(e->ltc, &lf);

    /* Restart libltc's level and sub-sample carry: every frame then starts
     * with a rising edge at sample 0 and has the same length, whatever was
     * rendered before (parity guarantees the previous frame ended on the
     * other level, so the edge between frames is always there). */
    ltc_encoder_reset(e->ltc);
    ltc_encoder_encode_frame(e->ltc);
    ltcsnd_sample_t *buf = NULL;
    int len = ltc_encoder_get_bufferptr(e->ltc, &buf, 1);
    if (len <= 0 || !buf)
        return TT_ERR_INVALID; /* cannot happen with a buffer sized by libltc */

    /* Inverted, so every frame starts with a falling edge: coming out of
     * silence, libltc's reader only registers a first edge that falls, and
     * a first frame that began by rising would be lost. */
    if (n_samples < e->n_nominal_lo || n_samples > e->n_nominal_hi) {
        /* Off speed (the clock it follows runs fast or slow): scale the
         * whole frame, as a generator on that clock would; the first edge
         * stays on sample 0. */
        for (size_t i = 0; i < n_samples; i++) {
            size_t src = (size_t)(((double)i + 0.5) * (double)len / (double)n_samples);
            out[i] = (float)(128 - (int)buf[src < (size_t)len ? src : (size_t)len - 1]) * e->scale;
        }
        e->last = out[n_samples - 1];
        return (int)n_samples;
    }
    size_t copy = (size_t)len < n_samples ? (size_t)len : n_samples;
    for (size_t i = 0; i < copy; i++)
        out[i] = (float)(128 - (int)buf[i]) * e->scale;
    /* One sample longer than libltc's frame: hold the last level (it is the
     * last half-bit of the sync word, so no edge moves). */
    for (size_t i = copy; i < n_samples; i++)
        out[i] = out[copy - 1];
    e->last = out[n_samples - 1];
    return (int)n_samples;
}

int tt_ltc_enc_finish(tt_ltc_enc_t *e, float *out, size_t cap)
{
    if (!e || !out)
        return TT_ERR_INVALID;
    if (e->last == 0.0f)
        return 0;
    if (cap < e->half_bit)
        return TT_ERR_TOO_BIG;
    float v = e->last > 0.0f ? -e->amplitude : e->amplitude;
    for (size_t i = 0; i < e->half_bit; i++)
        out[i] = v;
    e->last = v;
    return (int)e->half_bit;
}

/* ---- reader ------------------------------------------------------------------------------- */

enum {
    RD_CHUNK = 4096,  /* sample frames read from the file at a time */
    RD_QUEUE = 64,    /* libltc's frame queue; > frames per chunk at any rate */
    RD_PENDING = 64,  /* frames held back while the rate is being detected */
    RD_MAX_EDGES = 48 /* edges in one search window (about 5 bits) */
};

/* What libltc found, relocated, before labels are turned into frame counts
 * (which needs the rate). */
typedef struct {
    int h, m, s, f;
    int dfbit;
    int64_t start, end;
    int reverse;
    int located;
} raw_frame_t;

typedef struct {
    int sample_rate;
    tt_fps_t fps;
    int fps_known;

    /* The channel's recent samples, for relocating edges: ring[p & mask]
     * holds sample p for have - ring_len <= p < have. */
    float *ring;
    int64_t ring_len;
    int64_t have;

    raw_frame_t pending[RD_PENDING];
    int n_pending;

    tt_ltc_frame_fn fn;
    void *arg;
    int stop;

    long long decoded;
    long long delivered;
    long long invalid;
    long long drop_flagged;
    char first_invalid[40];
} reader_t;

static float at(const reader_t *r, int64_t p)
{
    return r->ring[p & (r->ring_len - 1)];
}

static void clamp_window(const reader_t *r, int64_t *w0, int64_t *w1)
{
    int64_t lo = r->have - r->ring_len;
    if (lo < 0)
        lo = 0;
    if (*w0 < lo)
        *w0 = lo;
    if (*w1 > r->have)
        *w1 = r->have;
}

/* Mid level and hysteresis of the signal in [w0, w1): a sample is clearly
 * high above mid + thr and clearly low below mid - thr. Using the local
 * extremes rather than zero keeps DC offset and level changes harmless.
 * Returns 0 if the window is (nearly) silent. */
static int levels(const reader_t *r, int64_t w0, int64_t w1, float *mid, float *thr)
{
    if (w1 - w0 < 2)
        return 0;
    float lo = at(r, w0), hi = lo;
    for (int64_t p = w0 + 1; p < w1; p++) {
        float v = at(r, p);
        if (v < lo)
            lo = v;
        if (v > hi)
            hi = v;
    }
    if (hi - lo < 0.002f) /* about -60 dBFS peak: nothing to find */
        return 0;
    *mid = (hi + lo) / 2.0f;
    *thr = (hi - lo) / 4.0f;
    return 1;
}

/* Edges of the biphase signal in [w0, w1): positions (in samples, with a
 * fraction) where it crosses the mid level between a clearly-low and a
 * clearly-high stretch, interpolated between the two samples either side.
 * A sample exactly at mid is the crossing. Returns the count. */
static int find_edges(const reader_t *r, int64_t w0, int64_t w1, double *edges, int max)
{
    clamp_window(r, &w0, &w1);
    float mid, thr;
    if (!levels(r, w0, w1, &mid, &thr))
        return 0;
    int n = 0, state = 0;
    int64_t last = w0;
    for (int64_t p = w0; p < w1 && n < max; p++) {
        float v = at(r, p);
        int c = v > mid + thr ? 1 : v < mid - thr ? -1 : 0;
        if (c == 0)
            continue;
        if (state != 0 && c != state) {
            /* First sample on the new side (or at mid) after the last
             * clear sample on the old side. */
            int64_t k = last + 1;
            while (k < p && (at(r, k) - mid) * (float)c < 0.0f)
                k++;
            float a = at(r, k - 1), b = at(r, k);
            edges[n++] = b == mid ? (double)k : (double)(k - 1) + (double)((mid - a) / (b - a));
        }
        state = c;
        last = p;
    }
    return n;
}

/* The leading edge of the frame that starts near `approx`, found by the end
 * of the previous frame's sync word: bit 78 is a 0 (a whole bit with no
 * edge), bit 79 a 1 (two half-bit gaps), then the edge we want. Searched
 * within one bit of approx, so libltc's estimate may be off by up to
 * T = samples per bit. */
static int locate_after_sync(const reader_t *r, double approx, double T, double *edge)
{
    double e[RD_MAX_EDGES];
    int64_t w0 = (int64_t)floor(approx - 3.5 * T), w1 = (int64_t)ceil(approx + 1.5 * T);
    int n = find_edges(r, w0, w1, e, RD_MAX_EDGES);
    int found = 0;
    double best = 0;
    for (int i = 0; i + 3 < n; i++) {
        double g0 = e[i + 1] - e[i], g1 = e[i + 2] - e[i + 1], g2 = e[i + 3] - e[i + 2];
        if (g0 < 0.75 * T || g0 > 1.5 * T)
            continue;
        if (g1 < 0.25 * T || g1 > 0.75 * T || g2 < 0.25 * T || g2 > 0.75 * T)
            continue;
        /* bit 77 is a 1 too: its second half ends the long gap's start */
        if (i > 0 && (e[i] - e[i - 1] < 0.25 * T || e[i] - e[i - 1] > 0.75 * T))
            continue;
        if (fabs(e[i + 3] - approx) > T)
            continue;
        if (!found || fabs(e[i + 3] - approx) < fabs(best - approx))
            best = e[i + 3];
        found = 1;
    }
    if (found)
        *edge = best;
    return found;
}

/* The leading edge of a frame with nothing before it: the first clearly
 * high or low sample within 1.5 bits of approx that follows at least a
 * quarter bit of quiet (or the start of the file). Inside running LTC the
 * signal is never quiet that long, so the window can be generous; libltc's
 * estimate for such a frame is the roughest (up to half a bit off). */
static int locate_after_silence(const reader_t *r, double approx, double T, int64_t *start)
{
    int64_t w0 = (int64_t)floor(approx - 2.5 * T), w1 = (int64_t)ceil(approx + 2.5 * T);
    clamp_window(r, &w0, &w1);
    float mid, thr;
    if (!levels(r, w0, w1, &mid, &thr))
        return 0;
    int64_t s0 = (int64_t)floor(approx - 1.5 * T), s1 = (int64_t)ceil(approx + 1.5 * T);
    int64_t quiet_needed = (int64_t)ceil(T / 4.0);
    int64_t quiet = 0;
    for (int64_t p = w0; p < w1 && p <= s1; p++) {
        float v = at(r, p);
        int clear = v > mid + thr || v < mid - thr;
        if (!clear) {
            quiet++;
            continue;
        }
        if (p >= s0 && (quiet >= quiet_needed || p == 0)) {
            *start = p;
            return 1;
        }
        quiet = 0;
    }
    return 0;
}

static int64_t first_sample_at_or_after(double x)
{
    /* The tolerance absorbs float noise when the crossing is exactly on a
     * sample. */
    return (int64_t)ceil(x - 1e-6);
}

static void relocate(const reader_t *r, const LTCFrameExt *x, raw_frame_t *out)
{
    double a = (double)x->off_start, b = (double)x->off_end + 1.0;
    out->start = x->off_start;
    out->end = x->off_end + 1;
    out->located = 0;
    if (x->reverse) {
        if (out->end < out->start) {
            int64_t t = out->start;
            out->start = out->end;
            out->end = t;
        }
        return;
    }
    double T = (b - a) / 80.0;
    if (!(T >= 2.0))
        return;
    double edge;
    int64_t s;
    if (locate_after_sync(r, a, T, &edge)) {
        out->start = first_sample_at_or_after(edge);
        out->located = 1;
    } else if (locate_after_silence(r, a, T, &s)) {
        out->start = s;
        out->located = 1;
    }
    if (locate_after_sync(r, b, T, &edge))
        out->end = first_sample_at_or_after(edge);
}

/* Turns the label into a frame count at r->fps and hands it on. */
static void deliver(reader_t *r, const raw_frame_t *rf)
{
    char label[40];
    snprintf(label, sizeof label, "%02d:%02d:%02d:%02d", rf->h, rf->m, rf->s, rf->f);
    int64_t frame;
    if (tt_timecode_parse(label, r->fps, &frame, NULL) != 0) {
        if (r->invalid++ == 0)
            snprintf(r->first_invalid, sizeof r->first_invalid, "%s", label);
        return;
    }
    tt_ltc_frame_t f;
    memset(&f, 0, sizeof f);
    f.frame = frame;
    tt_timecode_format(frame, r->fps, f.tc);
    f.start_sample = rf->start;
    f.end_sample = rf->end;
    f.reverse = rf->reverse;
    f.fps = r->fps;
    f.located = rf->located;
    r->delivered++;
    int rc = r->fn(r->arg, &f);
    if (rc != 0)
        r->stop = rc;
}

/* Picks the rate for TT_LTC_FPS_AUTO from the held-back frames (see
 * tt_ltc_read_file in the header for the rules). */
static tt_fps_t detect_fps(const reader_t *r)
{
    int forward = 0, drop = 0, maxf = -1, wrap = 0;
    double len_sum = 0, est_sum = 0;
    int len_n = 0, est_n = 0;
    for (int i = 0; i < r->n_pending; i++) {
        const raw_frame_t *p = &r->pending[i];
        if (p->reverse)
            continue;
        forward++;
        drop += p->dfbit;
        if (p->f > maxf)
            maxf = p->f;
        if (i > 0 && p->f == 0 && r->pending[i - 1].f > 0 && !r->pending[i - 1].reverse)
            wrap = 1;
        est_sum += (double)(p->end - p->start);
        est_n++;
        /* Exact lengths: a located frame whose end is the next frame's
         * located start. */
        if (i + 1 < r->n_pending && p->located && r->pending[i + 1].located &&
            p->end == r->pending[i + 1].start) {
            len_sum += (double)(p->end - p->start);
            len_n++;
        }
    }
    if (forward > 0 && 2 * drop > forward)
        return TT_FPS_29_97_DF;
    double spf = len_n > 0 ? len_sum / len_n : est_n > 0 ? est_sum / est_n : 0;
    double fps = spf > 0 ? r->sample_rate / spf : 25.0;

    static const tt_fps_t all[] = {TT_FPS_23_976, TT_FPS_24, TT_FPS_25, TT_FPS_29_97_NDF,
                                   TT_FPS_30};
    int lo = 0, hi = 4; /* candidates all[lo..hi] */
    if (maxf >= 25 && maxf <= 29) {
        lo = 3;
        hi = 4;
    } else if (maxf == 24) {
        lo = hi = 2;
    } else if (maxf == 23 && wrap) {
        lo = 0;
        hi = 1;
    }
    tt_fps_t best = all[lo];
    double best_d = INFINITY;
    for (int i = lo; i <= hi; i++) {
        int64_t num, den;
        tt_fps_rate(all[i], &num, &den);
        double d = fabs(log(fps * (double)den / (double)num));
        if (d < best_d) {
            best_d = d;
            best = all[i];
        }
    }
    return best;
}

static void flush_pending(reader_t *r)
{
    if (!r->fps_known) {
        r->fps = detect_fps(r);
        r->fps_known = 1;
    }
    for (int i = 0; i < r->n_pending && !r->stop; i++)
        deliver(r, &r->pending[i]);
    r->n_pending = 0;
}

static void on_frame(reader_t *r, const LTCFrameExt *x)
{
    SMPTETimecode st;
    LTCFrame lf = x->ltc;
    ltc_frame_to_time(&st, &lf, 0);
    raw_frame_t rf;
    memset(&rf, 0, sizeof rf);
    rf.h = st.hours;
    rf.m = st.mins;
    rf.s = st.secs;
    rf.f = st.frame;
    rf.dfbit = x->ltc.dfbit;
    rf.reverse = x->reverse != 0;
    relocate(r, x, &rf);
    r->decoded++;
    r->drop_flagged += rf.dfbit;
    if (r->fps_known) {
        deliver(r, &rf);
        return;
    }
    r->pending[r->n_pending++] = rf;
    if (r->n_pending == RD_PENDING)
        flush_pending(r);
}

int tt_ltc_read_file(const char *path, int channel, tt_fps_t fps_hint, tt_ltc_frame_fn fn,
                     void *arg, char *why)
{
    return tt_ltc_read_file_ex(path, channel, fps_hint, fn, arg, NULL, why);
}

static void fill_stats(tt_ltc_stats_t *st, const SF_INFO *info, const reader_t *r)
{
    if (!st)
        return;
    st->sample_rate = info->samplerate;
    st->channels = info->channels;
    if (!r)
        return;
    st->samples = r->have;
    st->fps = r->fps_known ? r->fps : TT_LTC_FPS_AUTO;
    st->frames_found = r->decoded;
    st->frames_reported = r->delivered;
    st->frames_skipped = r->invalid;
    snprintf(st->first_skipped, sizeof st->first_skipped, "%s", r->first_invalid);
    st->drop_flagged = r->drop_flagged;
}

int tt_ltc_read_file_ex(const char *path, int channel, tt_fps_t fps_hint, tt_ltc_frame_fn fn,
                        void *arg, tt_ltc_stats_t *stats, char *why)
{
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->fps = TT_LTC_FPS_AUTO;
    }
    if (!path || !fn)
        return tt_fail(why, TT_ERR_INVALID, "reading LTC: no file or no callback given");
    if (fps_hint != TT_LTC_FPS_AUTO && !valid_fps(fps_hint))
        return tt_fail(why, TT_ERR_INVALID, "reading LTC from %s: unknown frame rate %d", path,
                       (int)fps_hint);

    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf)
        return tt_fail(why, TT_ERR_IO, "opening %s: %s", path, sf_strerror(NULL));
    fill_stats(stats, &info, NULL);
    if (channel < 1 || channel > info.channels) {
        sf_close(sf);
        return tt_fail(why, TT_ERR_INVALID, "%s has %d channel%s: channel %d is out of range", path,
                       info.channels, info.channels == 1 ? "" : "s", channel);
    }
    if (info.samplerate < MIN_RATE || info.samplerate > MAX_RATE) {
        sf_close(sf);
        return tt_fail(why, TT_ERR_INVALID, "%s: sample rate %d Hz is outside %d..%d", path,
                       info.samplerate, MIN_RATE, MAX_RATE);
    }

    int rc = 0;
    reader_t *r = calloc(1, sizeof *r);
    float *inter = NULL, *mono = NULL;
    LTCDecoder *dec = NULL;
    if (!r) {
        sf_close(sf);
        return tt_fail(why, TT_ERR_NOMEM, "reading LTC from %s: out of memory", path);
    }
    r->sample_rate = info.samplerate;
    r->fn = fn;
    r->arg = arg;
    r->fps_known = fps_hint != TT_LTC_FPS_AUTO;
    r->fps = r->fps_known ? fps_hint : TT_FPS_25;

    /* History for relocation: a frame is reported at most one frame plus
     * one chunk after its start; allow 25 % slow play of 23.976. */
    double longest = samples_per_frame(info.samplerate, TT_FPS_23_976) * 1.25;
    int64_t need = 2 * (int64_t)longest + 2 * RD_CHUNK;
    r->ring_len = 1;
    while (r->ring_len < need)
        r->ring_len <<= 1;
    r->ring = calloc((size_t)r->ring_len, sizeof(float));
    inter = malloc((size_t)RD_CHUNK * (size_t)info.channels * sizeof(float));
    mono = malloc(RD_CHUNK * sizeof(float));
    /* apv only seeds libltc's bit clock; it tracks the real rate itself. */
    int apv = (int)lround(samples_per_frame(info.samplerate, r->fps));
    dec = ltc_decoder_create(apv, RD_QUEUE);
    if (!r->ring || !inter || !mono || !dec) {
        rc = tt_fail(why, TT_ERR_NOMEM, "reading LTC from %s: out of memory", path);
        goto out;
    }

    float peak = 0.0f;
    for (;;) {
        sf_count_t n = sf_readf_float(sf, inter, RD_CHUNK);
        if (n <= 0)
            break;
        for (sf_count_t i = 0; i < n; i++) {
            float v = inter[i * info.channels + (channel - 1)];
            /* libltc converts with 128 + v * 127 into an unsigned char:
             * anything outside -1..1 (float files may hold it) would wrap. */
            if (!(v >= -1.0f))
                v = v < 0.0f ? -1.0f : 0.0f; /* also NaN -> 0 */
            if (v > 1.0f)
                v = 1.0f;
            if (fabsf(v) > peak)
                peak = fabsf(v);
            mono[i] = v;
            r->ring[(r->have + i) & (r->ring_len - 1)] = v;
        }
        ltc_decoder_write_float(dec, mono, (size_t)n, (ltc_off_t)r->have);
        r->have += n;
        LTCFrameExt x;
        while (!r->stop && ltc_decoder_read(dec, &x) == 1)
            on_frame(r, &x);
        if (r->stop)
            break;
    }
    if (sf_error(sf) != SF_ERR_NO_ERROR) {
        rc = tt_fail(why, TT_ERR_IO, "reading %s: %s", path, sf_strerror(sf));
        goto out;
    }
    if (!r->stop && r->n_pending > 0)
        flush_pending(r);

    if (r->stop) {
        rc = r->stop;
    } else if (r->delivered == 0 && r->decoded > 0) {
        rc = tt_fail(why, TT_ERR_NOTFOUND,
                     "%s channel %d: %lld LTC frame%s found but none has a valid %s label "
                     "(first: %s); wrong --fps?",
                     path, channel, r->decoded, r->decoded == 1 ? "" : "s", tt_fps_name(r->fps),
                     r->first_invalid);
    } else if (r->delivered == 0) {
        char level[32];
        if (peak > 0.0f)
            snprintf(level, sizeof level, "peak %.1f dBFS", 20.0 * log10((double)peak));
        else
            snprintf(level, sizeof level, "silent");
        rc = tt_fail(why, TT_ERR_NOTFOUND,
                     "no LTC found in %s channel %d (%lld samples at %d Hz, %s)", path, channel,
                     (long long)r->have, info.samplerate, level);
    }

out:
    fill_stats(stats, &info, r);
    ltc_decoder_free(dec);
    free(mono);
    free(inter);
    free(r->ring);
    free(r);
    sf_close(sf);
    return rc;
}
