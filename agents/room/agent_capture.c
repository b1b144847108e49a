/* agent_capture: takes recorded locally to Broadcast WAV. See
 * agent_capture.h for the timeline, the windows and the threads.
 *
 * Shape: the audio side only copies periods into a jack_ringbuffer. The
 * writer thread keeps the last few seconds of input in a history indexed
 * by session sample (so a take can start before its roll arrived), and
 * every take is a cursor into that history that writes forward until its
 * window's end. The main thread decides windows from the log records and
 * tells the writer over an inproc pair; nothing of the decision waits on
 * the network or on the writer.
 */
#define _GNU_SOURCE
#include "agent_capture.h"
#include "tt_actor.h"
#include "tt_bwf.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_media.h"
#include "tt_text.h"
#include "tt_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <jack/ringbuffer.h>
#include <jansson.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define NAME_LEN 64
#define SESSION_LEN 129
#define PATH_LEN 2048
#define PLAY_BLOCK 1024 /* frames the --capture-from player pushes at a time */

/* ---------------------------------------------------------------- arithmetic */

/* round(a / b) for b > 0, halves up, floor semantics for negatives. */
static int64_t div_round(__int128 a, __int128 b)
{
    __int128 n = a + b / 2;
    __int128 q = n / b;
    if (n % b != 0 && n < 0)
        q -= 1;
    return (int64_t)q;
}

static int64_t mod64(int64_t a, int64_t m)
{
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

int64_t agent_capture_sample(int64_t session_ns, int rate)
{
    return div_round((__int128)session_ns * rate, 1000000000);
}

static int32_t first_bar(const tt_session_take_t *tk)
{
    return tk->from_bar ? tk->from_bar : 1; /* a missing from_bar is bar 1 */
}

int agent_capture_window(const tt_session_take_t *tk, const tt_tempo_map_t *map, int64_t stop_ns,
                         int64_t pre_ns, int64_t post_ns, int64_t max_take_ns, int rate,
                         agent_capture_window_t *out, char *why)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    int64_t begin = tk->start_session_ns - pre_ns;
    int64_t end;
    if (stop_ns != INT64_MAX) {
        end = stop_ns + post_ns;
    } else {
        end = tk->start_session_ns + max_take_ns + post_ns;
        out->capped = 1;
    }
    if (tk->punch_in_bar != 0 || tk->punch_out_bar != 0) {
        if (!map) {
            rc = tt_fail(why, TT_ERR_INVALID,
                         "punch %d-%d without a tempo map: recording the whole take",
                         tk->punch_in_bar, tk->punch_out_bar);
        } else if (tk->punch_in_bar == 0 ||
                   (tk->punch_out_bar != 0 && tk->punch_out_bar <= tk->punch_in_bar)) {
            rc = tt_fail(why, TT_ERR_INVALID,
                         "punch %d-%d is not a range of bars: recording the whole take",
                         tk->punch_in_bar, tk->punch_out_bar);
        } else {
            int64_t c_from = tt_tempo_bbt_to_ns(map, (tt_bbt_t){first_bar(tk), 1, 0});
            int64_t c_in = tt_tempo_bbt_to_ns(map, (tt_bbt_t){tk->punch_in_bar, 1, 0});
            begin = tk->downbeat_session_ns + (c_in - c_from) - pre_ns;
            if (tk->punch_out_bar != 0) {
                int64_t c_out = tt_tempo_bbt_to_ns(map, (tt_bbt_t){tk->punch_out_bar, 1, 0});
                int64_t t_out = tk->downbeat_session_ns + (c_out - c_from);
                if (stop_ns != INT64_MAX && stop_ns < t_out)
                    t_out = stop_ns;
                end = t_out + post_ns;
                out->capped = 0;
            }
            out->punched = 1;
        }
    }
    out->begin_ns = begin;
    out->end_ns = end > begin ? end : begin;
    out->s_begin = agent_capture_sample(out->begin_ns, rate);
    out->s_end = agent_capture_sample(out->end_ns, rate);
    return rc;
}

/* TimeReference(S) = (S + *k) mod *day. See the header for the formula. */
static int tc_offset(const char *cue, const tt_session_take_t *tk, const tt_tempo_map_t *map,
                     int rate, int64_t *k, int64_t *day, char *why)
{
    if (!map)
        return tt_fail(why, TT_ERR_INVALID, "no tempo map%s%s: TimeReference unknown",
                       cue ? " for cue " : "", cue ? cue : "");
    tt_fps_t fps = tt_tempo_fps(map);
    int64_t fpd = tt_timecode_frames_per_day(fps);
    *day = tt_timecode_frame_to_sample(fpd, fps, rate);
    int64_t c_from = tt_tempo_bbt_to_ns(map, (tt_bbt_t){first_bar(tk), 1, 0});
    int64_t c_start = c_from - (tk->downbeat_session_ns - tk->start_session_ns);
    int64_t map_start = tt_tempo_start_frame(map);
    /* The coordinator's start_frame: tt_tempo_ns_to_frame(map, c_start). */
    if (mod64(map_start + tt_timecode_ns_to_frame(c_start, fps), fpd) ==
        mod64(tk->start_frame, fpd)) {
        int64_t tc_ns = tt_timecode_frame_to_ns(map_start, fps) + c_start;
        *k = div_round((__int128)(tc_ns - tk->start_session_ns) * rate, 1000000000);
    } else { /* not the roll's map: trust the record's frame */
        int64_t num, den;
        tt_fps_rate(fps, &num, &den);
        *k = div_round((__int128)tk->start_frame * den * rate, num) -
             agent_capture_sample(tk->start_session_ns, rate);
    }
    return 0;
}

int agent_capture_time_reference(const tt_session_take_t *tk, const tt_tempo_map_t *map, int rate,
                                 int64_t s_first, uint64_t *out, char *why)
{
    int64_t k, day;
    int rc = tc_offset(NULL, tk, map, rate, &k, &day, why);
    if (rc != 0)
        return rc;
    *out = (uint64_t)mod64(s_first + k, day);
    return 0;
}

/* ---------------------------------------------------------------- types */

/* The pipe, main -> writer: OPEN (a cap_cmd_t) and END (an end_cmd_t);
 * writer -> main: DONE (a cap_done_t). */
#define CMD_OPEN "OPEN"
#define CMD_END "END"
#define CMD_DONE "DONE"

typedef struct {
    uint32_t id;
    uint32_t take;
    int32_t punch_in, punch_out;
    int has_tc;
    int64_t s_begin, s_end;
    int64_t tc_k, tc_day; /* TimeReference = (S + tc_k) mod tc_day when has_tc */
    char cue[NAME_LEN];
    char session[SESSION_LEN];
} cap_cmd_t;

typedef struct {
    uint32_t id;
    int64_t s_end;
} end_cmd_t;

typedef struct {
    uint32_t id;
    int recorded; /* files kept */
} cap_done_t;

typedef struct { /* one ring message; n * n_inputs floats (planar) follow */
    int64_t s0;
    int64_t frame;
    uint32_t n;
    uint32_t pad;
} blk_hdr_t;

typedef struct { /* main thread's view of a take */
    int used;
    uint32_t id;
    tt_session_take_t take; /* the folded take, copied */
    char cue[NAME_LEN];
    tt_tempo_map_t *map; /* owned, may be NULL */
    int stopped;
    agent_capture_window_t win;
} main_take_t;

typedef struct { /* writer thread's view of a take */
    int used;
    cap_cmd_t open;
    int64_t s_end;
    int started;
    int64_t s_first, next;
    int complete;
    tt_bwf_writer_t *w[AGENT_CAPTURE_MAX_INPUTS];
} wtake_t;

struct agent_capture {
    agent_capture_config_t cfg; /* string pointers below are owned copies */
    char dir[PATH_LEN];
    char room[NAME_LEN];
    char input[AGENT_CAPTURE_MAX_INPUTS][NAME_LEN];
    int n;
    int64_t pre_ns, post_ns, max_ns;
    tt_actor_t *writer;
    jack_ringbuffer_t *ring;
    atomic_ullong dropped; /* frames rt_push could not queue */

    /* Main thread. */
    main_take_t takes[AGENT_CAPTURE_MAX_TAKES];
    uint32_t next_id;
    int busy;
    uint64_t finished; /* takes whose files were kept */
    int64_t now_s;     /* session sample of the last tick */
    SNDFILE *src;      /* --capture-from */
    int src_channels;
    int64_t src_frames, src_pos;
    float *src_buf, *play_buf;
    int playing;
    uint32_t play_id;
    int64_t play_origin, play_next, play_end;

    /* Writer thread. */
    void *pipe;                               /* its end of the actor's pipe */
    float *scratch[AGENT_CAPTURE_MAX_INPUTS]; /* AGENT_CAPTURE_MAX_BLOCK each */
    float *hist[AGENT_CAPTURE_MAX_INPUTS];    /* hist_len each, indexed by S mod hist_len */
    int64_t hist_len, hist_lo, hist_hi;
    int have_hist;
    int64_t next_s, last_frame_end;
    int have_frame;
    unsigned long long dropped_seen;
    wtake_t wt[AGENT_CAPTURE_MAX_TAKES];
};

/* DIR/CUE_tTAKE_ROOM_INPUT.wav (the one file-name rule, tt_media_file_name) */
static void take_path(const agent_capture_t *c, const char *cue, uint32_t take, int input,
                      char *out, size_t len)
{
    char name[3 * NAME_LEN + 32];
    tt_media_file_name(cue, take, c->room, c->input[input], name, sizeof name);
    /* Cannot be cut: agent_capture_new bounds the directory's length. */
    if (snprintf(out, len, "%s/%s", c->dir, name) >= (int)len)
        out[len - 1] = '\0';
}

/* ---------------------------------------------------------------- real time */

/* The one producer's side of the ring: the audio thread, or with
 * --capture-from the main thread's player. */
static int push(agent_capture_t *c, uint32_t n, const float *const *inputs, int64_t s0,
                int64_t frame)
{
    uint32_t off = 0;
    while (off < n) {
        uint32_t k = n - off;
        if (k > AGENT_CAPTURE_MAX_BLOCK)
            k = AGENT_CAPTURE_MAX_BLOCK;
        size_t bytes = (size_t)k * sizeof(float);
        if (jack_ringbuffer_write_space(c->ring) < sizeof(blk_hdr_t) + bytes * (size_t)c->n) {
            atomic_fetch_add_explicit(&c->dropped, n - off, memory_order_relaxed);
            return -1;
        }
        blk_hdr_t h = {s0 + off, frame + off, k, 0};
        jack_ringbuffer_write(c->ring, (const char *)&h, sizeof h);
        for (int i = 0; i < c->n; i++)
            jack_ringbuffer_write(c->ring, (const char *)(inputs[i] + off), bytes);
        off += k;
    }
    return 0;
}

int agent_capture_rt_push(agent_capture_t *c, uint32_t n, const float *const *inputs, int64_t s0,
                          int64_t frame)
{
    if (c->src) /* the --capture-from player is the input (and the ring's one producer) */
        return 0;
    return push(c, n, inputs, s0, frame);
}

/* ---------------------------------------------------------------- writer */

static void send_done(agent_capture_t *c, uint32_t id, int recorded)
{
    cap_done_t d = {id, recorded};
    char why[TT_WHY_LEN];
    if (tt_actor_send(c->pipe, ZMQ_DONTWAIT, CMD_DONE, &d, sizeof d, why) != 0)
        tt_diag_error("capture: telling the main thread take %u is done: %s", id, why);
}

/* NAME.wav.json, atomically (tt_file_write_atomic). */
static int write_manifest(agent_capture_t *c, const wtake_t *t, int input, const char *path,
                          uint64_t frames, uint64_t time_reference, char *why)
{
    uint8_t hash[TT_BWF_HASH_LEN];
    uint64_t size = 0;
    int rc = tt_bwf_hash_file(path, hash, &size, why);
    if (rc != 0)
        return rc;
    char hex[2 * TT_BWF_HASH_LEN + 1];
    tt_hex_encode(hash, sizeof hash, hex);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    json_t *o = json_pack(
        "{s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:s, s:i, s:I, s:I, s:I, s:i, s:i, s:s, s:b}", "file",
        base, "cue", t->open.cue, "take", (json_int_t)t->open.take, "room", c->room, "input",
        c->input[input], "session", t->open.session, "size", (json_int_t)size, "hash", hex, "rate",
        c->cfg.rate, "frames", (json_int_t)frames, "time_reference", (json_int_t)time_reference,
        "session_sample", (json_int_t)t->s_first, "punch_in_bar", t->open.punch_in, "punch_out_bar",
        t->open.punch_out, "state", "recorded", "complete", t->complete);
    if (!o)
        return tt_fail(why, TT_ERR_NOMEM, "building the manifest of %s", path);
    char json_path[PATH_LEN + 16];
    snprintf(json_path, sizeof json_path, "%s.json", path);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    size_t len = text ? strlen(text) : 0;
    char *line = text ? realloc(text, len + 2) : NULL;
    if (!line) {
        free(text);
        return tt_fail(why, TT_ERR_NOMEM, "encoding the manifest of %s", path);
    }
    memcpy(line + len, "\n", 2);
    rc = tt_file_write_atomic(json_path, line, len + 1, 0644, 0, why);
    free(line);
    return rc;
}

static uint64_t time_reference_of(const wtake_t *t, int64_t s)
{
    return t->open.has_tc ? (uint64_t)mod64(s + t->open.tc_k, t->open.tc_day) : 0;
}

/* Closes the take's files (rename from .part), hashes them, writes the
 * manifests, and tells the main thread. */
static void finish(agent_capture_t *c, wtake_t *t)
{
    char why[TT_WHY_LEN];
    int kept = 0;
    uint64_t tr = time_reference_of(t, t->s_first);
    for (int i = 0; i < c->n; i++) {
        if (!t->w[i])
            continue;
        uint64_t frames = tt_bwf_frames(t->w[i]);
        char path[PATH_LEN];
        take_path(c, t->open.cue, t->open.take, i, path, sizeof path);
        if (tt_bwf_close(&t->w[i], why) != 0) {
            tt_diag_error("capture: %s", why);
            continue;
        }
        if (write_manifest(c, t, i, path, frames, tr, why) != 0) {
            tt_diag_error("capture: %s", why);
            continue;
        }
        kept++;
        tt_diag_info("capture: %s: %.3f s from session sample %lld, TimeReference %llu%s", path,
                     (double)frames / c->cfg.rate, (long long)t->s_first, (unsigned long long)tr,
                     t->complete ? "" : " (incomplete)");
    }
    send_done(c, t->open.id, kept > 0);
    memset(t, 0, sizeof *t);
}

static void discard(agent_capture_t *c, wtake_t *t, const char *reason)
{
    for (int i = 0; i < c->n; i++)
        tt_bwf_abort(&t->w[i]);
    tt_diag_warn("capture: %s take %u: %s; nothing recorded", t->open.cue, t->open.take, reason);
    send_done(c, t->open.id, 0);
    memset(t, 0, sizeof *t);
}

static int open_files(agent_capture_t *c, wtake_t *t, int64_t s_first, char *why)
{
    tt_bwf_info_t info;
    memset(&info, 0, sizeof info);
    info.rate = c->cfg.rate;
    info.channels = 1;
    info.time_reference = time_reference_of(t, s_first);
    snprintf(info.originator, sizeof info.originator, "tutti");
    snprintf(info.originator_reference, sizeof info.originator_reference, "%.14s/%.10s/t%u",
             c->room, t->open.cue, t->open.take);
    for (int i = 0; i < c->n; i++) {
        char path[PATH_LEN], part[PATH_LEN + 8], old[PATH_LEN + 32];
        take_path(c, t->open.cue, t->open.take, i, path, sizeof path);
        snprintf(part, sizeof part, "%s.part", path);
        snprintf(old, sizeof old, "%s.part.interrupted", path);
        struct stat st;
        if (stat(part, &st) == 0) {
            tt_diag_warn("capture: %s was left by an interrupted run; moved to %s", part, old);
            rename(part, old);
        }
        char desc[TT_BWF_DESC_LEN + 64];
        snprintf(desc, sizeof desc, "session=%s cue=%s take=%u room=%s input=%s", t->open.session,
                 t->open.cue, t->open.take, c->room, c->input[i]);
        size_t dl = strnlen(desc, TT_BWF_DESC_LEN); /* bext holds 256 bytes: cut to fit */
        memcpy(info.description, desc, dl);
        info.description[dl] = '\0';
        t->w[i] = tt_bwf_open(path, &info, why);
        if (!t->w[i]) {
            for (int k = 0; k < i; k++)
                tt_bwf_abort(&t->w[k]);
            return TT_ERR_IO;
        }
    }
    return 0;
}

static int write_silence(agent_capture_t *c, wtake_t *t, int64_t n, char *why)
{
    static const float zeros[1024];
    while (n > 0) {
        size_t k = n > 1024 ? 1024 : (size_t)n;
        for (int i = 0; i < c->n; i++)
            if (tt_bwf_write(t->w[i], zeros, k, why) != 0)
                return TT_ERR_IO;
        n -= (int64_t)k;
    }
    return 0;
}

/* History samples [from, to) into every file of t. */
static int write_history(agent_capture_t *c, wtake_t *t, int64_t from, int64_t to, char *why)
{
    while (from < to) {
        int64_t idx = mod64(from, c->hist_len);
        int64_t k = to - from;
        if (k > c->hist_len - idx)
            k = c->hist_len - idx;
        for (int i = 0; i < c->n; i++)
            if (tt_bwf_write(t->w[i], c->hist[i] + idx, (size_t)k, why) != 0)
                return TT_ERR_IO;
        from += k;
    }
    return 0;
}

/* Moves every take forward through what the history holds. */
static void service(agent_capture_t *c)
{
    char why[TT_WHY_LEN];
    for (int k = 0; k < AGENT_CAPTURE_MAX_TAKES; k++) {
        wtake_t *t = &c->wt[k];
        if (!t->used)
            continue;
        if (!t->started) {
            if (t->s_end <= t->open.s_begin) {
                discard(c, t, "the window is empty");
                continue;
            }
            if (!c->have_hist)
                continue;
            if (t->s_end <= c->hist_lo) {
                discard(c, t, "its window had passed before the input reached this agent");
                continue;
            }
            int64_t start = t->open.s_begin > c->hist_lo ? t->open.s_begin : c->hist_lo;
            if (start >= c->hist_hi)
                continue; /* not yet */
            t->complete = 1;
            if (start > t->open.s_begin) {
                tt_diag_warn("capture: %s take %u starts %.3f s late (the input before it is "
                             "gone)",
                             t->open.cue, t->open.take,
                             (double)(start - t->open.s_begin) / c->cfg.rate);
                t->complete = 0;
            }
            if (open_files(c, t, start, why) != 0) {
                tt_diag_error("capture: %s", why);
                discard(c, t, "its files could not be created");
                continue;
            }
            t->started = 1;
            t->s_first = t->next = start;
        }
        int rc = 0;
        if (t->next < c->hist_lo) { /* a gap longer than the history: silence */
            int64_t to = c->hist_lo < t->s_end ? c->hist_lo : t->s_end;
            rc = write_silence(c, t, to - t->next, why);
            t->next = to;
        }
        int64_t to = c->hist_hi < t->s_end ? c->hist_hi : t->s_end;
        if (rc == 0 && to > t->next) {
            rc = write_history(c, t, t->next, to, why);
            t->next = to;
        }
        if (rc != 0) {
            tt_diag_error("capture: %s; closing the take early", why);
            t->complete = 0;
            finish(c, t);
        } else if (t->next >= t->s_end) {
            finish(c, t);
        }
    }
}

/* 1 when some take still needs history before new_lo (about to be overwritten). */
static int needs_service(const agent_capture_t *c, int64_t new_lo)
{
    for (int k = 0; k < AGENT_CAPTURE_MAX_TAKES; k++) {
        const wtake_t *t = &c->wt[k];
        int64_t pos = t->started ? t->next : t->open.s_begin;
        if (t->used && pos < new_lo && pos < t->s_end)
            return 1;
    }
    return 0;
}

/* Appends n samples (src NULL: silence) at hist_hi, a quarter of the
 * history at a time, letting the takes write before anything they still
 * need is overwritten (otherwise they write once per writer loop). */
static void hist_append(agent_capture_t *c, float *const *src, int64_t off, int64_t n)
{
    int64_t piece = c->hist_len / 4 > 0 ? c->hist_len / 4 : 1;
    while (n > 0) {
        int64_t k = n < piece ? n : piece;
        if (needs_service(c, c->hist_hi + k - c->hist_len))
            service(c);
        int64_t done = 0;
        while (done < k) {
            int64_t idx = mod64(c->hist_hi + done, c->hist_len);
            int64_t m = k - done;
            if (m > c->hist_len - idx)
                m = c->hist_len - idx;
            for (int i = 0; i < c->n; i++) {
                if (src)
                    memcpy(c->hist[i] + idx, src[i] + off + done, (size_t)m * sizeof(float));
                else
                    memset(c->hist[i] + idx, 0, (size_t)m * sizeof(float));
            }
            done += m;
        }
        c->hist_hi += k;
        if (c->hist_hi - c->hist_lo > c->hist_len)
            c->hist_lo = c->hist_hi - c->hist_len;
        off += k;
        n -= k;
    }
}

/* Places a block of scratch at session sample s. */
static void place(agent_capture_t *c, int64_t s, int64_t n)
{
    if (!c->have_hist) {
        c->hist_lo = c->hist_hi = s;
        c->have_hist = 1;
    }
    if (s > c->hist_hi) {
        int64_t gap = s - c->hist_hi;
        if (gap >= c->hist_len) { /* nothing of the old history would survive */
            service(c);
            c->hist_lo = c->hist_hi = s;
        } else {
            hist_append(c, NULL, 0, gap);
        }
    }
    int64_t off = 0;
    if (s < c->hist_hi) { /* overlap: that part of the timeline is written */
        off = c->hist_hi - s;
        if (off >= n)
            return;
    }
    hist_append(c, c->scratch, off, n - off);
}

static void ingest(agent_capture_t *c, const blk_hdr_t *h)
{
    int64_t s = h->s0;
    int64_t resync = (int64_t)(AGENT_CAPTURE_RESYNC_S * c->cfg.rate);
    unsigned long long dropped = atomic_load_explicit(&c->dropped, memory_order_relaxed);
    if (c->have_frame && h->frame == c->last_frame_end) {
        int64_t dev = h->s0 - c->next_s;
        if (dev > resync || dev < -resync)
            tt_diag_warn("capture: the input is %+.3f s off the session clock; placing it "
                         "again by the clock",
                         (double)dev / c->cfg.rate);
        else
            s = c->next_s;
    } else if (c->have_frame) {
        if (dropped != c->dropped_seen)
            tt_diag_warn("capture: %llu frames of input lost (the writer fell behind); "
                         "silence in their place",
                         dropped - c->dropped_seen);
        else
            tt_diag_info("capture: input resumes at session sample %lld (%+lld from contiguous)",
                         (long long)h->s0, (long long)(h->s0 - c->next_s));
    }
    c->dropped_seen = dropped;
    c->have_frame = 1;
    c->last_frame_end = h->frame + h->n;
    c->next_s = s + h->n;
    place(c, s, h->n);
}

static void drain(agent_capture_t *c)
{
    for (;;) {
        size_t avail = jack_ringbuffer_read_space(c->ring);
        blk_hdr_t h;
        if (avail < sizeof h)
            return;
        jack_ringbuffer_peek(c->ring, (char *)&h, sizeof h);
        size_t bytes = (size_t)h.n * sizeof(float);
        if (avail < sizeof h + bytes * (size_t)c->n)
            return;
        jack_ringbuffer_read_advance(c->ring, sizeof h);
        for (int i = 0; i < c->n; i++)
            jack_ringbuffer_read(c->ring, (char *)c->scratch[i], bytes);
        ingest(c, &h);
    }
}

static void on_end(agent_capture_t *c, wtake_t *t, int64_t s_end)
{
    char why[TT_WHY_LEN];
    t->s_end = s_end;
    if (!t->started)
        return;
    if (s_end <= t->s_first) {
        discard(c, t, "its stop fell before the first sample captured");
        return;
    }
    if (s_end < t->next) { /* written past the real end: cut back */
        for (int i = 0; i < c->n; i++)
            if (tt_bwf_truncate(t->w[i], (uint64_t)(s_end - t->s_first), why) != 0)
                tt_diag_error("capture: %s", why);
        t->next = s_end;
    }
}

static void on_open(void *self, const void *data, size_t len)
{
    (void)len;
    agent_capture_t *c = self;
    cap_cmd_t cmd;
    memcpy(&cmd, data, sizeof cmd);
    wtake_t *t = NULL;
    for (int k = 0; k < AGENT_CAPTURE_MAX_TAKES && !t; k++)
        if (!c->wt[k].used)
            t = &c->wt[k];
    if (!t) { /* the main thread keeps the same count: cannot happen */
        send_done(c, cmd.id, 0);
        return;
    }
    memset(t, 0, sizeof *t);
    t->used = 1;
    t->open = cmd;
    t->s_end = cmd.s_end;
}

static void on_end_cmd(void *self, const void *data, size_t len)
{
    (void)len;
    agent_capture_t *c = self;
    end_cmd_t cmd;
    memcpy(&cmd, data, sizeof cmd);
    for (int k = 0; k < AGENT_CAPTURE_MAX_TAKES; k++)
        if (c->wt[k].used && c->wt[k].open.id == cmd.id)
            on_end(c, &c->wt[k], cmd.s_end);
}

static const tt_actor_cmd_t commands[] = {
    {CMD_OPEN, sizeof(cap_cmd_t), on_open},
    {CMD_END, sizeof(end_cmd_t), on_end_cmd},
    {NULL, 0, NULL},
};

/* Applies pending commands; 1 once asked to stop. */
static int writer_commands(agent_capture_t *c)
{
    for (;;) {
        tt_actor_msg_t m;
        char why[TT_WHY_LEN];
        int rc = tt_actor_recv(c->pipe, ZMQ_DONTWAIT, &m, why);
        if (rc == TT_ERR_PROTOCOL)
            continue; /* malformed: dropped whole */
        if (rc != 0)
            return 0;
        int quit = tt_actor_is_stop(m.cmd);
        if (!quit && tt_actor_dispatch(commands, c, &m, why) != 0)
            tt_diag_error("capture: %s", why);
        tt_actor_msg_clear(&m);
        if (quit)
            return 1;
    }
}

static void writer_actor(void *pipe, void *arg)
{
    agent_capture_t *c = arg;
    c->pipe = pipe;
    tt_actor_ready(pipe, 0, NULL);
    for (;;) {
        zmq_pollitem_t item = {pipe, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 10);
        int quit = writer_commands(c);
        drain(c);
        service(c);
        if (quit)
            break;
    }
    for (int k = 0; k < AGENT_CAPTURE_MAX_TAKES; k++) { /* shutting down mid-take */
        wtake_t *t = &c->wt[k];
        if (!t->used)
            continue;
        if (!t->started) {
            send_done(c, t->open.id, 0);
            memset(t, 0, sizeof *t);
            continue;
        }
        if (t->next < t->s_end)
            t->complete = 0;
        finish(c, t);
    }
}

/* ---------------------------------------------------------------- main thread */

void agent_capture_config_defaults(agent_capture_config_t *cfg)
{
    cfg->pre_handle_s = AGENT_CAPTURE_DEFAULT_HANDLE_S;
    cfg->post_handle_s = AGENT_CAPTURE_DEFAULT_HANDLE_S;
    cfg->max_take_s = AGENT_CAPTURE_DEFAULT_MAX_TAKE_S;
}

static int open_source(agent_capture_t *c, const char *path, char *why)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    c->src = sf_open(path, SFM_READ, &info);
    if (!c->src)
        return tt_fail(why, TT_ERR_IO, "--capture-from %s: %s", path, sf_strerror(NULL));
    if (info.samplerate != c->cfg.rate)
        return tt_fail(why, TT_ERR_INVALID,
                       "--capture-from %s runs at %d Hz but the session runs at %d Hz: "
                       "resample it first",
                       path, info.samplerate, c->cfg.rate);
    c->src_channels = info.channels;
    c->src_frames = info.frames;
    c->src_buf = malloc((size_t)PLAY_BLOCK * (size_t)info.channels * sizeof(float));
    c->play_buf = malloc((size_t)PLAY_BLOCK * sizeof(float));
    if (!c->src_buf || !c->play_buf)
        return tt_fail(why, TT_ERR_NOMEM, "allocating the --capture-from player");
    return 0;
}

agent_capture_t *agent_capture_new(const agent_capture_config_t *cfg, char *why)
{
    static const char *const default_inputs[] = {"in1"};
    const char *const *inputs = cfg->inputs;
    int n = cfg->n_inputs;
    if (cfg->capture_from && n == 0) {
        inputs = default_inputs;
        n = 1;
    }
    if (!cfg->ctx || !cfg->dir || !*cfg->dir || !cfg->room || !*cfg->room) {
        tt_fail(why, TT_ERR_INVALID, "capture needs a ZeroMQ context, a directory and a room");
        return NULL;
    }
    if (cfg->rate < 8000 || cfg->rate > 384000) {
        tt_fail(why, TT_ERR_INVALID, "capture rate %d Hz is not an audio rate", cfg->rate);
        return NULL;
    }
    if (n < 1 || n > AGENT_CAPTURE_MAX_INPUTS || (cfg->capture_from && n != 1)) {
        tt_fail(why, TT_ERR_INVALID, "capture wants 1..%d inputs (exactly 1 with --capture-from)",
                AGENT_CAPTURE_MAX_INPUTS);
        return NULL;
    }
    if (!(cfg->pre_handle_s >= 0 && cfg->pre_handle_s <= 60 && cfg->post_handle_s >= 0 &&
          cfg->post_handle_s <= 60 && cfg->max_take_s > 0 && cfg->max_take_s <= 86400)) {
        tt_fail(why, TT_ERR_INVALID,
                "capture handles must be 0..60 s and the take bound 0..86400 s");
        return NULL;
    }
    if (strlen(cfg->dir) > PATH_LEN - 256) {
        tt_fail(why, TT_ERR_INVALID, "capture directory path too long");
        return NULL;
    }
    agent_capture_t *c = calloc(1, sizeof *c);
    if (!c) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the capture");
        return NULL;
    }
    c->cfg = *cfg;
    snprintf(c->dir, sizeof c->dir, "%s", cfg->dir);
    snprintf(c->room, sizeof c->room, "%s", cfg->room);
    c->n = n;
    for (int i = 0; i < n; i++)
        snprintf(c->input[i], sizeof c->input[i], "%s", inputs[i] ? inputs[i] : "");
    c->cfg.dir = c->dir;
    c->cfg.room = c->room;
    c->cfg.inputs = NULL;
    c->cfg.n_inputs = n;
    c->pre_ns = (int64_t)(cfg->pre_handle_s * 1e9 + 0.5);
    c->post_ns = (int64_t)(cfg->post_handle_s * 1e9 + 0.5);
    c->max_ns = (int64_t)(cfg->max_take_s * 1e9 + 0.5);
    atomic_init(&c->dropped, 0);

    if (mkdir(c->dir, 0755) != 0 && errno != EEXIST) {
        tt_fail(why, TT_ERR_IO, "creating the capture directory %s: %s", c->dir, strerror(errno));
        goto fail;
    }
    if (access(c->dir, W_OK | X_OK) != 0) {
        tt_fail(why, TT_ERR_IO, "capture directory %s is not writable: %s", c->dir,
                strerror(errno));
        goto fail;
    }
    if (cfg->capture_from && open_source(c, cfg->capture_from, why) != 0)
        goto fail;
    size_t per_frame = (size_t)n * sizeof(float);
    size_t ring = (size_t)(AGENT_CAPTURE_RING_S * cfg->rate) * per_frame * 3 / 2;
    size_t min_ring = 2 * (sizeof(blk_hdr_t) + AGENT_CAPTURE_MAX_BLOCK * per_frame);
    c->ring = jack_ringbuffer_create(ring > min_ring ? ring : min_ring);
    c->hist_len = (int64_t)((cfg->pre_handle_s + AGENT_CAPTURE_HISTORY_S) * cfg->rate);
    if (!c->ring) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the capture ring");
        goto fail;
    }
    jack_ringbuffer_mlock(c->ring); /* best effort: page faults in the callback hurt */
    for (int i = 0; i < n; i++) {
        c->scratch[i] = malloc(AGENT_CAPTURE_MAX_BLOCK * sizeof(float));
        c->hist[i] = calloc((size_t)c->hist_len, sizeof(float));
        if (!c->scratch[i] || !c->hist[i]) {
            tt_fail(why, TT_ERR_NOMEM, "allocating %.1f s of capture history",
                    (double)c->hist_len / cfg->rate);
            goto fail;
        }
    }
    if (!(c->writer = tt_actor_new(cfg->ctx, "capture", writer_actor, c, NULL, why)))
        goto fail;
    tt_diag_info("capture: %d input%s at %d Hz into %s%s%s, handles %.3f/%.3f s", n,
                 n == 1 ? "" : "s", cfg->rate, c->dir, cfg->capture_from ? " from " : "",
                 cfg->capture_from ? cfg->capture_from : "", cfg->pre_handle_s, cfg->post_handle_s);
    return c;
fail:
    agent_capture_destroy(&c);
    return NULL;
}

void agent_capture_destroy(agent_capture_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    agent_capture_t *c = *self_p;
    tt_actor_destroy(&c->writer); /* joined: what it finished is on disk */
    for (int k = 0; k < AGENT_CAPTURE_MAX_TAKES; k++)
        tt_tempo_destroy(&c->takes[k].map);
    for (int i = 0; i < AGENT_CAPTURE_MAX_INPUTS; i++) {
        free(c->scratch[i]);
        free(c->hist[i]);
    }
    if (c->ring)
        jack_ringbuffer_free(c->ring);
    if (c->src)
        sf_close(c->src);
    free(c->src_buf);
    free(c->play_buf);
    free(c);
    *self_p = NULL;
}

static void send_cmd(agent_capture_t *c, const char *cmd, const void *data, size_t len)
{
    char why[TT_WHY_LEN];
    if (tt_actor_send(tt_actor_sock(c->writer), 0, cmd, data, len, why) != 0)
        tt_diag_error("capture: telling the writer: %s", why);
}

int agent_capture_on_roll(agent_capture_t *c, const char *cue, const tt_session_take_t *tk,
                          const char *map_text, const char *session_name, char *why)
{
    if (!cue || !*cue || strlen(cue) >= NAME_LEN)
        return tt_fail(why, TT_ERR_INVALID, "capture: a roll without a usable cue name");
    main_take_t *slot = NULL;
    for (int k = 0; k < AGENT_CAPTURE_MAX_TAKES; k++) {
        main_take_t *t = &c->takes[k];
        if (t->used && t->take.number == tk->number && strcmp(t->cue, cue) == 0)
            return 0; /* the same roll again (resumed after a restart): already recording */
        if (!t->used && !slot)
            slot = t;
    }
    char path[PATH_LEN];
    take_path(c, cue, tk->number, 0, path, sizeof path);
    struct stat st;
    if (stat(path, &st) == 0)
        return tt_fail(why, TT_ERR_INVALID, "capture: %s take %u is on disk already (%s)", cue,
                       tk->number, path);
    if (!slot)
        return tt_fail(why, TT_ERR_TOO_BIG,
                       "capture: %d takes are recording already; %s take %u is not recorded",
                       AGENT_CAPTURE_MAX_TAKES, cue, tk->number);
    char pwhy[TT_WHY_LEN];
    tt_tempo_map_t *map = NULL;
    if (map_text) {
        map = tt_tempo_parse_text(map_text, strlen(map_text), pwhy);
        if (!map)
            tt_diag_error("capture: the tempo map of %s does not parse: %s", cue, pwhy);
    }
    agent_capture_window_t win;
    if (agent_capture_window(tk, map, INT64_MAX, c->pre_ns, c->post_ns, c->max_ns, c->cfg.rate,
                             &win, pwhy) != 0)
        tt_diag_warn("capture: %s take %u: %s", cue, tk->number, pwhy);
    cap_cmd_t cmd;
    memset(&cmd, 0, sizeof cmd);
    if (tc_offset(cue, tk, map, c->cfg.rate, &cmd.tc_k, &cmd.tc_day, pwhy) == 0)
        cmd.has_tc = 1;
    else
        tt_diag_warn("capture: %s take %u: %s; TimeReference 0", cue, tk->number, pwhy);
    memset(slot, 0, sizeof *slot);
    slot->used = 1;
    slot->id = ++c->next_id;
    snprintf(slot->cue, sizeof slot->cue, "%s", cue);
    slot->take = *tk;
    slot->map = map;
    slot->win = win;

    cmd.id = slot->id;
    cmd.take = tk->number;
    cmd.punch_in = win.punched ? tk->punch_in_bar : 0;
    cmd.punch_out = win.punched ? tk->punch_out_bar : 0;
    cmd.s_begin = win.s_begin;
    cmd.s_end = win.s_end;
    snprintf(cmd.cue, sizeof cmd.cue, "%s", cue);
    snprintf(cmd.session, sizeof cmd.session, "%s", session_name ? session_name : "");
    send_cmd(c, CMD_OPEN, &cmd, sizeof cmd);
    c->busy++;
    tt_diag_info("capture: %s take %u: recording session samples %lld..%lld%s (%.3f s)", cue,
                 tk->number, (long long)win.s_begin, (long long)win.s_end,
                 win.capped ? " at most, until the stop" : "",
                 (double)(win.s_end - win.s_begin) / c->cfg.rate);
    if (c->src) { /* the player's file begins at this window's start */
        c->playing = 1;
        c->play_id = slot->id;
        c->play_origin = win.s_begin;
        if (c->play_next < win.s_begin)
            c->play_next = win.s_begin;
        c->play_end = win.s_end;
    }
    return 0;
}

void agent_capture_on_stop(agent_capture_t *c, const char *cue, uint32_t take, int64_t at_ns)
{
    for (int k = 0; k < AGENT_CAPTURE_MAX_TAKES; k++) {
        main_take_t *t = &c->takes[k];
        if (!t->used || t->stopped || !cue || strcmp(t->cue, cue) != 0 ||
            (take != 0 && take != t->take.number))
            continue;
        char why[TT_WHY_LEN];
        agent_capture_window_t win;
        agent_capture_window(&t->take, t->map, at_ns, c->pre_ns, c->post_ns, c->max_ns, c->cfg.rate,
                             &win, why);
        t->stopped = 1;
        if (win.s_end > t->win.s_end)
            win.s_end = t->win.s_end; /* a stop never extends a window */
        t->win.s_end = win.s_end;
        t->win.capped = 0;
        end_cmd_t cmd = {.id = t->id, .s_end = win.s_end};
        send_cmd(c, CMD_END, &cmd, sizeof cmd);
        if (c->playing && c->play_id == t->id)
            c->play_end = win.s_end;
        tt_diag_info("capture: %s take %u ends at session sample %lld", t->cue, t->take.number,
                     (long long)win.s_end);
    }
}

/* Plays the --capture-from file in up to session sample s_now. */
static void play(agent_capture_t *c, int64_t s_now)
{
    int64_t target = s_now < c->play_end ? s_now : c->play_end;
    size_t need = sizeof(blk_hdr_t) + PLAY_BLOCK * sizeof(float);
    while (c->play_next < target && jack_ringbuffer_write_space(c->ring) >= need) {
        int64_t n = target - c->play_next;
        if (n > PLAY_BLOCK)
            n = PLAY_BLOCK;
        int64_t pos = c->play_next - c->play_origin; /* file sample */
        int64_t got = 0;
        if (pos < c->src_frames) {
            if (pos != c->src_pos && sf_seek(c->src, pos, SEEK_SET) < 0) {
                tt_diag_error("capture: seeking --capture-from to %lld: %s", (long long)pos,
                              sf_strerror(c->src));
                c->src_frames = pos; /* play silence from here */
            } else {
                got = sf_readf_float(c->src, c->src_buf, n);
                if (got < 0)
                    got = 0;
                c->src_pos = pos + got;
            }
        }
        for (int64_t i = 0; i < n; i++)
            c->play_buf[i] = i < got ? c->src_buf[i * c->src_channels] : 0.0f;
        const float *in[1] = {c->play_buf};
        push(c, (uint32_t)n, in, c->play_next, c->play_next);
        c->play_next += n;
    }
    if (c->play_next >= c->play_end)
        c->playing = 0;
}

int agent_capture_tick(agent_capture_t *c, int64_t now_session_ns)
{
    c->now_s = agent_capture_sample(now_session_ns, c->cfg.rate);
    tt_actor_msg_t m;
    while (tt_actor_recv(tt_actor_sock(c->writer), ZMQ_DONTWAIT, &m, NULL) == 0) {
        cap_done_t d;
        int done = !strcmp(m.cmd, CMD_DONE) && m.len == sizeof d;
        if (done)
            memcpy(&d, m.data, sizeof d);
        tt_actor_msg_clear(&m);
        if (!done)
            continue; /* not a completion */
        for (int k = 0; k < AGENT_CAPTURE_MAX_TAKES; k++) {
            main_take_t *t = &c->takes[k];
            if (!t->used || t->id != d.id)
                continue;
            tt_tempo_destroy(&t->map);
            t->used = 0;
            c->busy--;
            if (d.recorded)
                c->finished++;
        }
    }
    if (c->playing)
        play(c, c->now_s);
    return c->playing ? 10 : 100;
}

int agent_capture_busy(const agent_capture_t *c)
{
    return c->busy;
}

uint64_t agent_capture_finished(const agent_capture_t *c)
{
    return c->finished;
}
