/* agent_playback: prelays and guides on the roll's timeline. See agent_playback.h. */
#define _GNU_SOURCE
#include "agent_playback.h"
#include "tt_error.h"
#include "tt_tempo.h"
#include "tt_timecode.h"

#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdlib.h>
#include <string.h>

/* The fractional-delay reader: a Kaiser-windowed sinc (beta 8) over 32
 * taps, tabulated at 512 phases of the fraction; a tap between two
 * phases is interpolated linearly. Each phase is scaled to unit DC gain;
 * phase 0 is the identity (the sinc is 0 on every other integer), so a
 * file whose samples fall on output samples plays through unchanged.
 * Its error against the ideal delay (e^-iwd, over every fraction d; the
 * design's figures, which test_passband measures through the renderer):
 * from DC to 0.42 of the rate (20 kHz at 48 kHz) within 1.4e-4 (-77 dB),
 * i.e. gain within 0.0012 dB and delay within 5e-5 sample; above that it
 * rolls off (-0.6 dB at 0.45 of the rate). A hard onset (a burst that starts
 * at full level) rings a little before its instant, as any band-limited
 * reading of it must; the ringing is the onset's, on time. */
#define AGENT_PLAYBACK_FIR_HALF 16
#define AGENT_PLAYBACK_FIR_TAPS (2 * AGENT_PLAYBACK_FIR_HALF)
#define AGENT_PLAYBACK_FIR_PHASES 512
#define AGENT_PLAYBACK_FIR_BETA 8.0

typedef struct {
    /* c[p][k]: tap k (file sample floor(pos) - HALF + 1 + k) at fraction p / PHASES */
    float c[AGENT_PLAYBACK_FIR_PHASES + 1][AGENT_PLAYBACK_FIR_TAPS];
} agent_playback_fir_t;

typedef struct {
    tt_media_entry_t e; /* cue, kind and placement */
    float *pcm;         /* owned: mono at the library's rate */
    int64_t frames;
} pb_file_t;

struct agent_playback {
    int rate;
    agent_playback_fir_t fir; /* made once by agent_playback_new */
    pb_file_t files[AGENT_PLAYBACK_MAX_FILES];
    size_t n;
};

typedef struct {
    const float *pcm; /* borrowed from the library */
    int64_t frames;
    int64_t start_session; /* session time of pcm[0] */
} pb_placed_t;

struct agent_playback_roll {
    int rate;
    const agent_playback_fir_t *fir;    /* borrowed from the library */
    int64_t open_session, stop_session; /* sounds in [open, stop) */
    size_t n;
    pb_placed_t placed[AGENT_PLAYBACK_MAX_FILES];
};

/* I0, the modified Bessel function of order 0 (its series; converges fast for
 * the window's arguments, at most beta). */
static double bessel_i0(double x)
{
    double sum = 1, term = 1;
    for (int k = 1; k < 64 && term > 1e-17 * sum; k++) {
        double h = x / (2.0 * k);
        term *= h * h;
        sum += term;
    }
    return sum;
}

static void make_fir(agent_playback_fir_t *fir)
{
    const double half = AGENT_PLAYBACK_FIR_HALF, i0b = bessel_i0(AGENT_PLAYBACK_FIR_BETA);
    for (int p = 0; p <= AGENT_PLAYBACK_FIR_PHASES; p++) {
        double mu = (double)p / AGENT_PLAYBACK_FIR_PHASES, h[AGENT_PLAYBACK_FIR_TAPS], sum = 0;
        for (int k = 0; k < AGENT_PLAYBACK_FIR_TAPS; k++) {
            double t = mu + (half - 1) - k; /* from the tap to the position read */
            double r = t / half,
                   w = r * r < 1 ? bessel_i0(AGENT_PLAYBACK_FIR_BETA * sqrt(1 - r * r)) / i0b : 0;
            double sinc = fabs(t) < 1e-12 ? 1 : sin(M_PI * t) / (M_PI * t);
            if (fabs(t - round(t)) < 1e-12 && fabs(t) > 0.5)
                sinc = 0; /* exactly, so whole positions play the file unchanged */
            h[k] = sinc * w;
            sum += h[k];
        }
        for (int k = 0; k < AGENT_PLAYBACK_FIR_TAPS; k++)
            fir->c[p][k] = (float)(h[k] / sum);
    }
}

agent_playback_t *agent_playback_new(int rate, char *why)
{
    if (rate < 8000 || rate > 192000) {
        tt_fail(why, TT_ERR_INVALID, "playback at %d Hz: 8000..192000", rate);
        return NULL;
    }
    agent_playback_t *pb = calloc(1, sizeof *pb);
    if (!pb) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the playback library");
        return NULL;
    }
    pb->rate = rate;
    make_fir(&pb->fir);
    return pb;
}

void agent_playback_destroy(agent_playback_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < (*self_p)->n; i++)
        free((*self_p)->files[i].pcm);
    free(*self_p);
    *self_p = NULL;
}

static const pb_file_t *find(const agent_playback_t *pb, uint64_t seq)
{
    for (size_t i = 0; i < pb->n; i++)
        if (pb->files[i].e.seq == seq)
            return &pb->files[i];
    return NULL;
}

int64_t agent_playback_frames(const agent_playback_t *pb, uint64_t seq)
{
    const pb_file_t *f = find(pb, seq);
    return f ? f->frames : -1;
}

/* Reads the whole file as one channel (the channels' mean) into *out. */
static int read_mono(const char *path, int64_t max_frames, float **out, int64_t *frames, int *rate,
                     char *why)
{
    SF_INFO info = {0};
    SNDFILE *snd = sf_open(path, SFM_READ, &info);
    if (!snd)
        return tt_fail(why, TT_ERR_IO, "opening %s: %s", path, sf_strerror(NULL));
    int rc = 0;
    float *buf = NULL, *mono = NULL;
    if (info.channels < 1 || info.channels > TT_MEDIA_MAX_CHANNELS || info.samplerate < 8000 ||
        info.samplerate > 192000 || info.frames < 0 || info.frames > max_frames) {
        rc = tt_fail(why, TT_ERR_INVALID,
                     "%s: %d channels at %d Hz, %lld frames: 1..%d channels, 8..192 kHz, at "
                     "most %d s",
                     path, info.channels, info.samplerate, (long long)info.frames,
                     TT_MEDIA_MAX_CHANNELS, AGENT_PLAYBACK_MAX_SECONDS);
        goto done;
    }
    enum { CHUNK = 4096 };
    buf = malloc((size_t)CHUNK * (size_t)info.channels * sizeof *buf);
    mono = malloc((size_t)(info.frames > 0 ? info.frames : 1) * sizeof *mono);
    if (!buf || !mono) {
        rc = tt_fail(why, TT_ERR_NOMEM, "%s: no memory for %lld frames", path,
                     (long long)info.frames);
        goto done;
    }
    int64_t have = 0;
    while (have < info.frames) {
        sf_count_t want = info.frames - have < CHUNK ? info.frames - have : CHUNK;
        sf_count_t got = sf_readf_float(snd, buf, want);
        if (got <= 0) {
            rc = tt_fail(why, TT_ERR_IO, "%s: read %lld of %lld frames: %s", path, (long long)have,
                         (long long)info.frames, sf_strerror(snd));
            goto done;
        }
        for (sf_count_t i = 0; i < got; i++) {
            float sum = 0;
            for (int c = 0; c < info.channels; c++)
                sum += buf[i * info.channels + c];
            mono[have + i] = sum / (float)info.channels;
        }
        have += got;
    }
    *out = mono;
    mono = NULL;
    *frames = have;
    *rate = info.samplerate;
done:
    free(buf);
    free(mono);
    sf_close(snd);
    return rc;
}

/* libsoxr, once at load time: the file at the session rate, as long as
 * its duration (round(frames * out / in) samples), delay compensated. */
static int resample(const float *in, int64_t in_frames, int in_rate, int out_rate, float **out,
                    int64_t *out_frames, char *why)
{
    int64_t want = (int64_t)llround((double)in_frames * out_rate / in_rate);
    float *o = malloc((size_t)(want > 0 ? want : 1) * sizeof *o);
    if (!o)
        return tt_fail(why, TT_ERR_NOMEM, "no memory to resample %lld frames",
                       (long long)in_frames);
    size_t done = 0;
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_VHQ, 0); /* linear phase */
    soxr_error_t err = soxr_oneshot((double)in_rate, (double)out_rate, 1, in, (size_t)in_frames,
                                    NULL, o, (size_t)want, &done, &io, &q, NULL);
    if (err) {
        free(o);
        return tt_fail(why, TT_ERR_INVALID, "resampling %d -> %d Hz: %s", in_rate, out_rate,
                       soxr_strerror(err));
    }
    for (size_t i = done; i < (size_t)want; i++)
        o[i] = 0; /* the filter's tail fell short: keep the duration */
    *out = o;
    *out_frames = want;
    return 0;
}

int agent_playback_load(agent_playback_t *pb, const tt_media_entry_t *e, const char *path,
                        char *why)
{
    if (find(pb, e->seq))
        return 0;
    if (pb->n >= AGENT_PLAYBACK_MAX_FILES)
        return tt_fail(why, TT_ERR_TOO_BIG, "%s: %d prelays and guides loaded already", path,
                       AGENT_PLAYBACK_MAX_FILES);
    float *pcm = NULL;
    int64_t frames = 0;
    int rate = 0;
    int64_t max_frames = (int64_t)AGENT_PLAYBACK_MAX_SECONDS * 192000;
    int rc = read_mono(path, max_frames, &pcm, &frames, &rate, why);
    if (rc != 0)
        return rc;
    if (frames > (int64_t)AGENT_PLAYBACK_MAX_SECONDS * rate) {
        free(pcm);
        return tt_fail(why, TT_ERR_TOO_BIG, "%s: %.0f s: at most %d s", path, (double)frames / rate,
                       AGENT_PLAYBACK_MAX_SECONDS);
    }
    if (rate != pb->rate) {
        float *res = NULL;
        int64_t res_frames = 0;
        rc = resample(pcm, frames, rate, pb->rate, &res, &res_frames, why);
        free(pcm);
        if (rc != 0)
            return rc;
        pcm = res;
        frames = res_frames;
    }
    pb_file_t *f = &pb->files[pb->n++];
    f->e = *e;
    f->e.rate = (uint32_t)rate; /* the file's own, for its TimeReference */
    f->pcm = pcm;
    f->frames = frames;
    return 0;
}

/* ------------------------------------------------------------ placement */

/* Cue time (ns from bar 1 beat 1 of map) of a file's first sample. */
static int64_t place(const tt_media_entry_t *e, const tt_tempo_map_t *map)
{
    tt_fps_t map_fps = tt_tempo_fps(map);
    int64_t start_ns = tt_timecode_frame_to_ns(tt_tempo_start_frame(map), map_fps);
    if (e->at_bar != 0)
        return tt_tempo_bbt_to_ns(map, (tt_bbt_t){e->at_bar, 1, 0});
    tt_fps_t fps;
    if (e->at_fps[0] && tt_fps_parse(e->at_fps, &fps, NULL) == 0)
        return tt_timecode_frame_to_ns(e->at_frame, fps) - start_ns;
    if (e->time_reference != 0 && e->rate > 0) {
        /* Samples since midnight: the nearest reading across midnight. */
        int64_t day = tt_timecode_frame_to_ns(tt_timecode_frames_per_day(map_fps), map_fps);
        int64_t c = (int64_t)((__int128)e->time_reference * 1000000000 / e->rate) - start_ns;
        c %= day;
        if (c > day / 2)
            c -= day;
        else if (c < -day / 2)
            c += day;
        return c;
    }
    return 0; /* bar 1 */
}

agent_playback_roll_t *agent_playback_roll_new(const agent_playback_t *pb, const char *cue,
                                               const char *map_text, int32_t from_bar,
                                               int64_t start_session_ns, char *why)
{
    tt_tempo_map_t *map = tt_tempo_parse_text(map_text, strlen(map_text), why);
    if (!map)
        return NULL;
    agent_playback_roll_t *roll = calloc(1, sizeof *roll);
    if (!roll) {
        tt_tempo_destroy(&map);
        tt_fail(why, TT_ERR_NOMEM, "allocating a playback roll");
        return NULL;
    }
    roll->rate = pb->rate;
    roll->fir = &pb->fir;
    tt_tempo_countoff_t co;
    int64_t origin = start_session_ns + tt_tempo_countoff(map, from_bar, &co);
    /* The count-off proper is silent; a pickup is music. */
    roll->open_session = origin - (int64_t)co.pickup * co.beat_ns;
    roll->stop_session = INT64_MAX;
    for (size_t i = 0; i < pb->n; i++) {
        const pb_file_t *f = &pb->files[i];
        if (strcmp(f->e.cue, cue) != 0)
            continue;
        pb_placed_t *p = &roll->placed[roll->n++];
        p->pcm = f->pcm;
        p->frames = f->frames;
        p->start_session = origin + (place(&f->e, map) - co.c_from);
    }
    tt_tempo_destroy(&map);
    return roll;
}

void agent_playback_roll_free(agent_playback_roll_t **roll_p)
{
    if (!roll_p || !*roll_p)
        return;
    free(*roll_p);
    *roll_p = NULL;
}

size_t agent_playback_roll_files(const agent_playback_roll_t *roll)
{
    return roll->n;
}

int64_t agent_playback_roll_file_start(const agent_playback_roll_t *roll, size_t i)
{
    return i < roll->n ? roll->placed[i].start_session : INT64_MIN;
}

void agent_playback_roll_window(const agent_playback_roll_t *roll, int64_t *open, int64_t *close)
{
    *open = roll->open_session;
    *close = roll->stop_session;
}

void agent_playback_set_stop(agent_playback_roll_t *roll, int64_t at_session_ns)
{
    if (roll)
        roll->stop_session = at_session_ns;
}

/* ------------------------------------------------------------ rendering */

static int64_t session_of(const tt_clock_map_t *m, const agent_click_clock_t *k, int64_t sample)
{
    return tt_clock_map_session(
        m, k->local0 + (int64_t)llround((double)(sample - k->s0) * k->ns_per_sample));
}

/* The block [s0, s0 + n) spans session [sess0, sess0 + n * ns_per_out)
 * (the mapping is linear within it). The first of its samples at or after
 * session time s, as a click's first sample is placed; s0 + n if none. */
static int64_t first_at(int64_t s0, int n, int64_t sess0, double ns_per_out, int64_t s)
{
    if (s <= sess0)
        return s0;
    double i = ceil((double)(s - sess0) / ns_per_out);
    return i >= n ? s0 + n : s0 + (int64_t)i;
}

/* The file's value at position pos (in file samples; the file is silent
 * outside [0, frames)): the windowed sinc over the taps around it, each
 * tap's coefficient interpolated between the two table phases around pos's
 * fraction. */
static float read_at(const agent_playback_fir_t *fir, const float *pcm, int64_t frames, double pos)
{
    double fl = floor(pos);
    int64_t j0 = (int64_t)fl - (AGENT_PLAYBACK_FIR_HALF - 1); /* file index of tap 0 */
    double ph = (pos - fl) * AGENT_PLAYBACK_FIR_PHASES;
    int p = (int)ph;
    float f = (float)(ph - p);
    const float *c0 = fir->c[p], *c1 = fir->c[p + 1];
    int k0 = j0 < 0 ? (int)-j0 : 0;
    int k1 = j0 + AGENT_PLAYBACK_FIR_TAPS > frames ? (int)(frames - j0) : AGENT_PLAYBACK_FIR_TAPS;
    float acc = 0;
    for (int k = k0; k < k1; k++)
        acc += pcm[j0 + k] * (c0[k] + f * (c1[k] - c0[k]));
    return acc;
}

/* Real-time: see the header. */
void agent_playback_render(const agent_playback_roll_t *roll, const tt_clock_map_t *m,
                           const agent_click_clock_t *k, float *out, int n)
{
    memset(out, 0, (size_t)n * sizeof *out);
    if (!roll || !m->valid || n <= 0 || roll->n == 0)
        return;
    int64_t s0 = k->s0, s1 = k->s0 + n;
    int64_t sess0 = session_of(m, k, s0), sess1 = session_of(m, k, s1);
    if (sess1 <= roll->open_session || sess0 >= roll->stop_session)
        return;
    /* Session ns per output sample over this block, and file samples per
     * ns: output sample i reads the file at its own session instant, so the
     * file follows the session clock whatever the sound card's rate. */
    double ns_per_out = (double)(sess1 - sess0) / n;
    double per_ns = roll->rate / 1e9;
    double step = ns_per_out * per_ns;
    int64_t lo = first_at(s0, n, sess0, ns_per_out, roll->open_session);
    int64_t hi = first_at(s0, n, sess0, ns_per_out, roll->stop_session);
    /* The filter reaches this far (ns) either side of a file sample. */
    int64_t reach = (int64_t)ceil(AGENT_PLAYBACK_FIR_HALF / per_ns);
    for (size_t f = 0; f < roll->n; f++) {
        const pb_placed_t *p = &roll->placed[f];
        int64_t end_session = p->start_session + (int64_t)llround((double)p->frames / per_ns);
        if (end_session + reach <= sess0 || p->start_session - reach >= sess1)
            continue;
        double pos0 = (double)(sess0 - p->start_session) * per_ns; /* file position at s0 */
        for (int64_t i = lo; i < hi; i++) {
            double pos = pos0 + (double)(i - s0) * step;
            if (pos <= -AGENT_PLAYBACK_FIR_HALF)
                continue; /* the filter does not reach the file yet */
            if (pos >= (double)p->frames + AGENT_PLAYBACK_FIR_HALF - 1)
                break;
            out[i - s0] += read_at(roll->fir, p->pcm, p->frames, pos);
        }
    }
}
