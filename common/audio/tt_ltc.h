/* tt_ltc: render and read SMPTE linear timecode (LTC) on top of libltc.
 *
 * The agent renders LTC next to the click so a take recorded anywhere can
 * be placed on the session timeline, and `tutti ltc read` turns a recorded
 * LTC track back into "this label starts at this sample". Both sides are
 * built around one promise: a frame's position is its first sample, the
 * sample where bit 0's leading edge is, exactly.
 *
 * Encoder. Frames are placed by the caller at the sample positions that
 * tt_timecode_frame_to_sample gives, so consecutive frames tile the timeline
 * with no drift however the rate divides the sample rate (29.97 at 48 kHz is
 * 1601 or 1602 samples a frame). libltc encodes one frame into its own
 * buffer (8-bit, 128 = silence) at the exact bit rate; we convert it to float
 * and make it exactly the caller's length. libltc's own length is
 * round(sample_rate / real fps) (it restarts its sub-sample carry every
 * frame, so the waveform depends only on the label and the length): when the
 * caller's frame is one sample longer the last sample is repeated, when it is
 * shorter the tail is cut. Either way only the last half-bit of the sync word
 * changes by a sample and the next frame's leading edge lands exactly where
 * the caller puts it. Every frame starts with a falling edge at out[0] (out[0]
 * is negative; libltc's reader, coming out of silence, only catches a first
 * edge that falls): the parity bit makes each frame's transition count even,
 * so frames always end high and the edge between frames is always there.
 *
 * Decoder. libltc finds and parses frames, but its off_start is an estimate
 * from a smoothed bit clock. Measured against frames rendered here (44.1,
 * 48, 96 kHz, all six rates) it is off by -3..+1 samples on a clean signal
 * and -2..+6 with noise, DC offset and a low-pass, depending on rate and
 * frame, and by about one whole bit (-17..-50 samples) for a frame at the
 * very start of a file: no constant offset to subtract. So each frame is
 * located again in the
 * audio: its leading edge is the edge that follows the end of the sync word
 * (a whole-bit gap for bit 78, then bit 79's two half-bit gaps), searched
 * within one bit of libltc's estimate, with the crossing of the signal's
 * mid level interpolated between samples. start_sample is the first sample
 * at or after that crossing; for frames rendered here that is exactly the
 * frame's first sample at every rate (see tests/unit/test_ltc.c), and within
 * a sample with noise and filtering. A frame that follows silence or the
 * start of the file has no sync word before it; its start is the first
 * sample that leaves the silence.
 *
 * LTC has no checksum: in a very noisy recording a bit error can give a
 * frame a wrong but valid label. The reader reports what is on the track;
 * it does not second-guess labels against their neighbours (tape can
 * legitimately jump).
 *
 * Lifetimes: the encoder is owned by its creator (destroy with
 * tt_ltc_enc_destroy); render/finish write into caller-owned buffers and do
 * not allocate, lock or log, so they could run in an audio callback
 * (tt_ltc_enc_new allocates). tt_ltc_read_file owns everything it opens and
 * frees it before returning; the frame passed to the callback is valid only
 * during the call.
 */
#ifndef TT_LTC_H
#define TT_LTC_H

#include "tt_timecode.h"

#include <stddef.h>
#include <stdint.h>

/* fps_hint for tt_ltc_read_file: work the rate out from the signal. */
#define TT_LTC_FPS_AUTO ((tt_fps_t)-1)

/* Default peak level of rendered LTC (float full scale is 1.0): -6 dBFS. */
#define TT_LTC_DEFAULT_AMPLITUDE 0.5f

/* ---- encoder ---- */

typedef struct tt_ltc_enc tt_ltc_enc_t;

/* An encoder for one sample rate (8000..768000 Hz) and frame rate. Returns
 * NULL with the reason in why (TT_WHY_LEN bytes, may be NULL). User bits
 * are zero and no date is encoded; the drop-frame flag (bit 10) is set for
 * TT_FPS_29_97_DF only. */
tt_ltc_enc_t *tt_ltc_enc_new(int sample_rate, tt_fps_t fps, char *why);

/* Frees the encoder and sets *e_p to NULL. Safe on NULL and on *e_p NULL. */
void tt_ltc_enc_destroy(tt_ltc_enc_t **e_p);

/* Peak level of the rendered signal, 0 < amplitude <= 1 (default 0.5).
 * Returns 0 or TT_ERR_INVALID. Real-time safe. */
int tt_ltc_enc_set_amplitude(tt_ltc_enc_t *e, float amplitude);

/* How far off speed a frame may be rendered: 10 %, as a varispeed
 * generator would. */
#define TT_LTC_VARISPEED 0.10

/* The lengths tt_ltc_enc_render accepts: sample_rate / real fps, within
 * TT_LTC_VARISPEED either way. Lengths within one sample of nominal (every
 * length tt_timecode_frame_to_sample produces) come out as libltc writes
 * them; others are the same frame scaled in time, so a frame placed by a
 * clock that runs fast or slow still decodes. Real-time safe. */
size_t tt_ltc_enc_min_samples(const tt_ltc_enc_t *e);
size_t tt_ltc_enc_max_samples(const tt_ltc_enc_t *e);

/* Renders the LTC frame for frame count `frame` (frames since 00:00:00:00
 * at the encoder's fps; labelled as tt_timecode_format labels it, so
 * drop-frame labels at 29.97df and wrapping at 24 h) as float samples into
 * out[0 .. n_samples). Place it at the frame's start sample; n_samples is
 * the distance to the next frame's start, e.g.
 *   tt_timecode_frame_to_sample(frame + 1, fps, rate)
 *     - tt_timecode_frame_to_sample(frame, fps, rate).
 * out[0] is the leading edge of bit 0. Returns n_samples, or TT_ERR_INVALID
 * when e or out is NULL or n_samples is outside
 * tt_ltc_enc_min_samples..tt_ltc_enc_max_samples.
 * Real-time safe: no allocation, locks or I/O. */
int tt_ltc_enc_render(tt_ltc_enc_t *e, int64_t frame, float *out, size_t n_samples);

/* A reader reports a frame when it sees the edge that starts the next one,
 * so a finite stream needs a closing edge after its last frame. Writes it:
 * half a bit at the level opposite the last rendered sample (about 0.2 ms),
 * then the caller's silence. Returns the number of samples written (0 if
 * nothing was rendered yet), or TT_ERR_TOO_BIG if cap is smaller than half a
 * bit (cap >= 1 + sample_rate / 3000 always suffices). Real-time safe. */
int tt_ltc_enc_finish(tt_ltc_enc_t *e, float *out, size_t cap);

/* ---- decoder ---- */

typedef struct {
    int64_t frame;        /* frame count since 00:00:00:00 at fps */
    char tc[16];          /* its label, "HH:MM:SS:FF" or "HH:MM:SS;FF" at 29.97df */
    int64_t start_sample; /* first sample of the frame (see the file comment) */
    int64_t end_sample;   /* first sample after it: where the next frame's edge is */
    int reverse;          /* 1: the frame was played backwards; its samples are
                             approximate (libltc's estimate, not relocated) */
    tt_fps_t fps;         /* the rate used for frame and tc: fps_hint or detected */
    int located;          /* 1: start_sample is the measured edge; 0: libltc's
                             estimate (reverse play, or a signal too degraded
                             to find the edge), good to about a quarter bit */
} tt_ltc_frame_t;

/* Called for each frame in file order; return 0 to go on, anything else to
 * stop reading (tt_ltc_read_file then returns that value). */
typedef int (*tt_ltc_frame_fn)(void *arg, const tt_ltc_frame_t *f);

/* Reads channel `channel` (1-based) of any file libsndfile can open (WAV,
 * BWF, AIFF, FLAC, ...) and calls fn for every LTC frame found, in order.
 *
 * fps_hint gives the frame rate that turns labels into frame counts. With
 * TT_LTC_FPS_AUTO the rate is worked out from the first 64 frames (or all,
 * if fewer): the drop-frame bit means 29.97df; otherwise the highest frame
 * label seen picks the family (..23: 24, 24: 25, 25..29: 30) and the
 * measured frame length picks 23.976 vs 24 and 29.97ndf vs 30 (they differ
 * by 0.1 %, about 2 samples a frame at 48 kHz; a recorder's clock is good to
 * 0.01 %). With fewer than a second of LTC the family comes from the
 * measured rate alone. The choice is in every frame's fps.
 *
 * Frames whose label does not exist at the rate (frame 27 at 25 fps, a
 * dropped label at 29.97df, BCD garbage) are skipped. The last frame of the
 * file is reported only if the edge that ends it is there (see
 * tt_ltc_enc_finish).
 *
 * Returns 0 after at least one frame; TT_ERR_IO if the file cannot be opened
 * or read; TT_ERR_INVALID if channel is out of range; TT_ERR_NOTFOUND if no
 * LTC was found (or none with a valid label); or fn's non-zero value. The
 * reason, with the path, is in why (TT_WHY_LEN bytes, may be NULL). */
int tt_ltc_read_file(const char *path, int channel, tt_fps_t fps_hint, tt_ltc_frame_fn fn,
                     void *arg, char *why);

/* What a read saw, for warnings ("frames skipped: wrong --fps?"). */
typedef struct {
    int sample_rate;
    int channels;
    int64_t samples;           /* sample frames read */
    tt_fps_t fps;              /* rate used (hint or detected); TT_LTC_FPS_AUTO if no frame */
    long long frames_found;    /* frames libltc decoded */
    long long frames_reported; /* frames passed to fn */
    long long frames_skipped;  /* labels that do not exist at fps */
    char first_skipped[40];    /* the first such label, "" if none */
    long long drop_flagged;    /* frames with the drop-frame bit set */
} tt_ltc_stats_t;

/* tt_ltc_read_file, also filling *stats (may be NULL) whatever it returns
 * (zeroed first, so fields it did not get to stay 0). */
int tt_ltc_read_file_ex(const char *path, int channel, tt_fps_t fps_hint, tt_ltc_frame_fn fn,
                        void *arg, tt_ltc_stats_t *stats, char *why);

#endif
