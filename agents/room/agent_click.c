/* agent_click: click + LTC of a roll, block by block. See agent_click.h. */
#define _GNU_SOURCE
#include "agent_click.h"
#include "tt_error.h"
#include "tt_onsets.h"
#include "tt_timecode.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CLICK_MS TT_ONSETS_CLICK_MS /* the onset reader knows the shape */

struct agent_click_roll {
    tt_tempo_map_t *map;
    tt_fps_t fps;
    int64_t start_frame;    /* timecode of bar 1 */
    int64_t start_session;  /* first count-off click */
    int64_t origin;         /* session time of from_bar beat 1 */
    int64_t c_from;         /* cue time of from_bar beat 1 */
    tt_tempo_countoff_t co; /* the lead-in: count-off and pickup */
    int64_t stop_session;   /* INT64_MAX: not scheduled */
    tt_ltc_enc_t *ltc;
    int64_t ltc_frame; /* frame held in ltc_buf, or INT64_MIN */
    int64_t ltc_first_sample;
    int64_t ltc_len;
    float ltc_buf[AGENT_CLICK_LTC_MAX];
};

/* ------------------------------------------------------------ time */

static int64_t sample_to_local(const agent_click_clock_t *k, int64_t s)
{
    return k->local0 + (int64_t)llround((double)(s - k->s0) * k->ns_per_sample);
}

/* The sample nearest to local time `local`: placement is then off by at
 * most half a sample, the best a sample grid allows. */
static int64_t local_to_sample(const agent_click_clock_t *k, int64_t local)
{
    return k->s0 + (int64_t)llround((double)(local - k->local0) / k->ns_per_sample);
}

static int64_t session_to_sample(const agent_click_clock_t *k, const tt_clock_map_t *m, int64_t s)
{
    return local_to_sample(k, tt_clock_map_local(m, s));
}

/* Exact (fractional) sample position of session time s. */
static double session_to_position(const agent_click_clock_t *k, const tt_clock_map_t *m, int64_t s)
{
    return (double)k->s0 + (double)(tt_clock_map_local(m, s) - k->local0) / k->ns_per_sample;
}

/* ------------------------------------------------------------ rolls */

agent_click_roll_t *agent_click_roll_new(const char *text, int32_t from_bar, int64_t start,
                                         int sample_rate, char *why)
{
    agent_click_roll_t *roll = calloc(1, sizeof *roll);
    if (!roll) {
        tt_fail(why, TT_ERR_NOMEM, "allocating a roll");
        return NULL;
    }
    roll->map = tt_tempo_parse_text(text, strlen(text), why);
    if (!roll->map) {
        agent_click_roll_free(&roll);
        return NULL;
    }
    roll->fps = tt_tempo_fps(roll->map);
    roll->start_frame = tt_tempo_start_frame(roll->map);
    /* The count-off plays the beat and meter of the bar it leads into. */
    tt_tempo_countoff_t co;
    int64_t countoff_ns = tt_tempo_countoff(roll->map, from_bar, &co);
    roll->c_from = co.c_from;
    roll->co = co;
    roll->start_session = start;
    roll->origin = start + countoff_ns;
    roll->stop_session = INT64_MAX;
    roll->ltc = tt_ltc_enc_new(sample_rate, roll->fps, why);
    if (!roll->ltc) {
        agent_click_roll_free(&roll);
        return NULL;
    }
    roll->ltc_frame = INT64_MIN;
    return roll;
}

void agent_click_roll_free(agent_click_roll_t **roll_p)
{
    if (!roll_p || !*roll_p)
        return;
    tt_tempo_destroy(&(*roll_p)->map);
    tt_ltc_enc_destroy(&(*roll_p)->ltc);
    free(*roll_p);
    *roll_p = NULL;
}

const tt_tempo_map_t *agent_click_roll_map(const agent_click_roll_t *roll)
{
    return roll->map;
}

static int64_t cue_to_session(const agent_click_roll_t *roll, int64_t cue_ns)
{
    return roll->origin + (cue_ns - roll->c_from);
}

static int64_t frame_cue_ns(const agent_click_roll_t *roll, int64_t frame)
{
    return tt_timecode_frame_to_ns(frame, roll->fps) -
           tt_timecode_frame_to_ns(roll->start_frame, roll->fps);
}

void agent_click_init(agent_click_t *c, int sample_rate)
{
    memset(c, 0, sizeof *c);
    c->sample_rate = sample_rate;
    agent_pattern_t p = AGENT_PATTERN_CLICK;
    agent_click_set_feeds(c, &p, 1, NULL);
}

void agent_click_set_feeds(agent_click_t *c, const agent_pattern_t *patterns, int n,
                           const agent_click_samples_t *words)
{
    c->nfeeds = n < 1 ? 1 : n > AGENT_CLICK_MAX_FEEDS ? AGENT_CLICK_MAX_FEEDS : n;
    c->words = words;
    for (int f = 0; f < c->nfeeds; f++) {
        agent_click_feed_t *fd = &c->feeds[f];
        fd->pattern = n < 1 ? AGENT_PATTERN_CLICK : patterns[f];
        fd->last_click = INT64_MIN;
        for (int i = 0; i < AGENT_CLICK_MAX_VOICES; i++)
            fd->voices[i] = (agent_click_voice_t){.pos = INT64_MAX, .len = 0}; /* silent */
    }
}

agent_click_roll_t *agent_click_set_roll(agent_click_t *c, agent_click_roll_t *roll)
{
    agent_click_roll_t *old = c->roll;
    c->roll = roll;
    c->finished = 0;
    for (int f = 0; f < c->nfeeds; f++)
        c->feeds[f].last_click = INT64_MIN; /* a new roll's clicks are all new */
    return old;
}

void agent_click_set_stop(agent_click_t *c, int64_t at_session_ns)
{
    if (c->roll)
        c->roll->stop_session = at_session_ns;
}

/* ------------------------------------------------------------ rendering */

/* A sound whose exact start lies `frac` samples before sample s0 + offset:
 * rendered from that instant, so its phase carries the sub-sample timing.
 * Today's four click sounds keep their pitch and level (tests and the
 * onset reader tell them apart); the subdivision is a soft click, the
 * warning a high one, a word its sample or a mid tone. */
static void start_voice(agent_click_t *c, agent_click_feed_t *fd, const agent_click_event_t *ev,
                        int64_t offset, double frac)
{
    static const float freq[AGENT_SOUND_N] = {1760.0f, 880.0f,  2637.0f, 1319.0f,
                                              1175.0f, 3520.0f, 660.0f};
    static const float amp[AGENT_SOUND_N] = {0.9f, 0.6f, 0.8f, 0.55f, 0.35f, 0.75f, 0.5f};
    int sound = ev->sound >= 0 && ev->sound < AGENT_SOUND_N ? ev->sound : AGENT_SOUND_BEAT;
    agent_click_voice_t v = {-offset,    frac, freq[sound],
                             amp[sound], NULL, (int64_t)CLICK_MS * c->sample_rate / 1000};
    if (sound == AGENT_SOUND_WORD && c->words && ev->word >= 1 && ev->word <= AGENT_CLICK_WORDS &&
        c->words->pcm[ev->word] && c->words->rate == c->sample_rate) {
        v.pcm = c->words->pcm[ev->word];
        v.len = c->words->len[ev->word];
        v.frac = 0.0; /* a sample starts on the sample */
    }
    if (v.pcm) /* one number at a time: the word before ends 10 ms before this one */
        for (int i = 0; i < AGENT_CLICK_MAX_VOICES; i++) {
            agent_click_voice_t *o = &fd->voices[i];
            int64_t end = o->pos + offset - c->sample_rate / 100;
            if (o->pcm && o->pos < o->len && end < o->len)
                o->len = end > o->pos ? end : o->pos;
        }
    for (int i = 0; i < AGENT_CLICK_MAX_VOICES; i++)
        if (fd->voices[i].pos >= fd->voices[i].len) {
            fd->voices[i] = v;
            return;
        }
}

static void mix_voices(agent_click_t *c, agent_click_feed_t *fd, float *click, int n)
{
    for (int v = 0; v < AGENT_CLICK_MAX_VOICES; v++) {
        agent_click_voice_t *vo = &fd->voices[v];
        const int64_t len = vo->len;
        for (int i = 0; i < n && vo->pos < len; i++, vo->pos++) {
            if (vo->pos < 0)
                continue;
            if (vo->pcm) { /* a word: faded over its last 5 ms (it may have been cut) */
                int64_t left = len - vo->pos, fade = c->sample_rate / 200;
                click[i] += vo->pcm[vo->pos] * (left < fade ? (float)left / (float)fade : 1.0f);
                continue;
            }
            /* A cosine from its exact start: full amplitude at once, so the first
             * sample marks the onset and its phase the fraction of a sample. */
            double t = ((double)vo->pos + vo->frac) / c->sample_rate;
            double env = 1.0 - ((double)vo->pos + vo->frac) / (double)len;
            click[i] += (float)(vo->amp * env * cos(2.0 * M_PI * vo->freq * t));
        }
    }
}

/* Starts ev at session time s if its sample falls in this block. */
static void place_event(agent_click_t *c, agent_click_feed_t *fd, const tt_clock_map_t *m,
                        const agent_click_clock_t *k, int n, int64_t s,
                        const agent_click_event_t *ev)
{
    double p = session_to_position(k, m, s);
    int64_t i = (int64_t)ceil(p);
    /* Each click once: when the clock's mapping steps back (a JACK
     * stall re-anchored), a click already played would fall in again. */
    if (i >= k->s0 && i < k->s0 + n && s > fd->last_click) {
        start_voice(c, fd, ev, i - k->s0, (double)i - p);
        fd->last_click = s;
    }
}

static void place_clicks(agent_click_t *c, agent_click_feed_t *fd, const tt_clock_map_t *m,
                         const agent_click_clock_t *k, int n)
{
    agent_click_roll_t *roll = c->roll;
    int64_t s0 = k->s0;
    int64_t sess_lo = tt_clock_map_session(m, sample_to_local(k, s0)) - 1000000;
    int64_t sess_hi = tt_clock_map_session(m, sample_to_local(k, s0 + n)) + 1000000;
    /* Lead-in: synthesized from the beat (and groups) of the first bar
     * played; from bar 1 its last beats may be the pickup, clicked as music. */
    agent_click_event_t ev;
    for (int j = 0; j < roll->co.beats; j++) {
        int64_t s = roll->start_session + (int64_t)j * roll->co.beat_ns;
        if (s < sess_lo || s > sess_hi || s >= roll->stop_session ||
            !agent_click_pattern_lead_in(fd->pattern, &roll->co, j, &ev))
            continue;
        place_event(c, fd, m, k, n, s, &ev);
    }
    /* The cue itself. The map says which beats click: groups, click-off
     * and free sections and the end bar are silent. */
    int64_t cue_lo = roll->c_from + (sess_lo - roll->origin);
    if (cue_lo < roll->c_from)
        cue_lo = roll->c_from;
    int64_t cue_hi = roll->c_from + (sess_hi - roll->origin) + 1;
    for (int64_t t = cue_lo; agent_click_pattern_next(roll->map, fd->pattern, t, cue_hi, &ev) == 0;
         t = ev.ns + 1) {
        int64_t s = cue_to_session(roll, ev.ns);
        if (s > sess_hi || s >= roll->stop_session)
            break;
        place_event(c, fd, m, k, n, s, &ev);
    }
}

/* LTC frames tile the timeline: frame f covers [sample(f), sample(f+1)). */
static void place_ltc(agent_click_t *c, const tt_clock_map_t *m, const agent_click_clock_t *k,
                      int n, float *out)
{
    agent_click_roll_t *roll = c->roll;
    int64_t s0 = k->s0;
    int64_t sess0 = tt_clock_map_session(m, sample_to_local(k, s0));
    int64_t cue0 = roll->c_from + (sess0 - roll->origin);
    int64_t f = tt_timecode_ns_to_frame(
                    cue0 + tt_timecode_frame_to_ns(roll->start_frame, roll->fps), roll->fps) -
                1;
    for (;; f++) {
        int64_t fs = cue_to_session(roll, frame_cue_ns(roll, f));
        int64_t fe = cue_to_session(roll, frame_cue_ns(roll, f + 1));
        if (fs < roll->start_session)
            continue; /* LTC starts with the first count-off click's frame */
        if (fs >= roll->stop_session)
            break;
        int64_t a = session_to_sample(k, m, fs), b = session_to_sample(k, m, fe);
        int64_t prev_end = roll->ltc_first_sample + roll->ltc_len;
        if (roll->ltc_frame == f && roll->ltc_first_sample < s0) {
            /* Already sounding: finish it as rendered. Re-placing it by a
             * mapping that moved a little would cut the frame in two. */
            a = roll->ltc_first_sample;
            b = prev_end;
        } else if (roll->ltc_frame == f - 1 && b > a && llabs(a - prev_end) <= (b - a) / 20) {
            a = prev_end; /* tile on from the frame before; the length absorbs the move */
        }
        if (a >= s0 + n)
            break;
        if (b <= s0 || b - a <= 0 || b - a > AGENT_CLICK_LTC_MAX)
            continue;
        if (roll->ltc_frame != f || roll->ltc_first_sample != a || roll->ltc_len != b - a) {
            if (tt_ltc_enc_render(roll->ltc, f, roll->ltc_buf, (size_t)(b - a)) < 0)
                continue;
            roll->ltc_frame = f;
            roll->ltc_first_sample = a;
            roll->ltc_len = b - a;
        }
        for (int64_t i = a > s0 ? a : s0; i < b && i < s0 + n; i++)
            out[i - s0] = roll->ltc_buf[i - a];
    }
}

void agent_click_render_feeds(agent_click_t *c, const tt_clock_map_t *m,
                              const agent_click_clock_t *k, float *const *outs, float *ltc, int n)
{
    for (int f = 0; f < c->nfeeds; f++)
        memset(outs[f], 0, (size_t)n * sizeof *outs[f]);
    memset(ltc, 0, (size_t)n * sizeof *ltc);
    if (c->roll && !c->finished && m->valid) {
        for (int f = 0; f < c->nfeeds; f++)
            place_clicks(c, &c->feeds[f], m, k, n);
        place_ltc(c, m, k, n, ltc);
        int64_t end = tt_clock_map_session(m, sample_to_local(k, k->s0 + n));
        if (c->roll->stop_session != INT64_MAX && end > c->roll->stop_session + 200000000LL)
            c->finished = 1; /* stopped, and the last click has rung out */
    }
    for (int f = 0; f < c->nfeeds; f++)
        mix_voices(c, &c->feeds[f], outs[f], n);
}

void agent_click_render(agent_click_t *c, const tt_clock_map_t *m, const agent_click_clock_t *k,
                        float *click, float *ltc, int n)
{
    assert(c->nfeeds == 1);
    float *outs[1] = {click};
    agent_click_render_feeds(c, m, k, outs, ltc, n);
}
