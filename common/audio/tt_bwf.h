/* tt_bwf: Broadcast WAV files (EBU Tech 3285 "bext") for recorded takes,
 * and the BLAKE2b hash that identifies a media file.
 *
 * A room records each input of a take into one mono 24-bit BWF whose bext
 * TimeReference places its first sample on the session's timecode
 * timeline, so any DAW lines the takes of every room up. The writer never
 * leaves a half-written file under the final name: it writes PATH.part,
 * and only tt_bwf_close (header finished, data fsynced) renames it to PATH
 * and fsyncs the directory, so a crash leaves at most a .part behind.
 * libsndfile writes the bext chunk (SF_BROADCAST_INFO); it must be set
 * before the first sample, which is why the info is given to tt_bwf_open.
 *
 * Threads: a writer is used by one thread at a time. Nothing here is
 * real-time safe (it allocates and does file I/O): run it on a writer
 * thread, never in the audio callback.
 */
#ifndef TT_BWF_H
#define TT_BWF_H

#include <stddef.h>
#include <stdint.h>

#define TT_BWF_DESC_LEN 256    /* bext Description: at most 256 bytes */
#define TT_BWF_ORIG_LEN 32     /* Originator, OriginatorReference: 32 bytes each */
#define TT_BWF_HISTORY_LEN 256 /* CodingHistory given to tt_bwf_open / read back */
#define TT_BWF_HASH_LEN 32     /* BLAKE2b-256 */

typedef struct {
    int rate;     /* samples per second, > 0 */
    int channels; /* 1 (what takes use); up to 8 accepted */
    /* NUL-terminated ASCII; tt_bwf_open refuses longer texts. */
    char description[TT_BWF_DESC_LEN + 1]; /* "session=S cue=C take=N room=R input=I" */
    char originator[TT_BWF_ORIG_LEN + 1];  /* "tutti" */
    char originator_reference[TT_BWF_ORIG_LEN + 1];
    uint64_t time_reference; /* first sample, in samples since timecode midnight */
    /* EBU R98 lines, each ending in "\r\n", describing what came before
     * this file (may be ""). libsndfile appends the line of its own
     * encoding, "A=PCM,F=<rate>,W=24,M=mono,T=libsndfile-<version>\r\n",
     * so a file read back has that line last. */
    char coding_history[TT_BWF_HISTORY_LEN + 1];
} tt_bwf_info_t;

typedef struct tt_bwf_writer tt_bwf_writer_t;

/* Creates PATH.part (truncating a stale one a crash left behind) as a
 * 24-bit PCM WAV with a bext chunk from info (copied; Origination date and
 * time are the local wall clock). Refuses when PATH itself exists: a
 * finished recording is never overwritten. NULL with the reason in why
 * (TT_WHY_LEN bytes). The caller owns the writer: tt_bwf_close or
 * tt_bwf_abort frees it. */
tt_bwf_writer_t *tt_bwf_open(const char *path, const tt_bwf_info_t *info, char *why);

/* Appends n frames (n * channels interleaved floats in [-1, 1]; values
 * beyond are clipped). 0, or TT_ERR_IO with why. */
int tt_bwf_write(tt_bwf_writer_t *w, const float *frames, size_t n, char *why);

/* Frames written so far (after any truncation). */
uint64_t tt_bwf_frames(const tt_bwf_writer_t *w);

/* Cuts the file back to its first `frames` frames (a take whose stop
 * turned out earlier than what was already written). frames must be <=
 * tt_bwf_frames. 0, or TT_ERR_INVALID / TT_ERR_IO with why. */
int tt_bwf_truncate(tt_bwf_writer_t *w, uint64_t frames, char *why);

/* Finishes the header, fsyncs the data, renames PATH.part to PATH and
 * fsyncs the directory. Frees the writer and NULLs *w whatever happens;
 * on failure the .part is removed. 0 or TT_ERR_IO with why (may be NULL).
 * Safe on NULL / *w NULL. */
int tt_bwf_close(tt_bwf_writer_t **w, char *why);

/* Closes and removes PATH.part. Frees the writer and NULLs *w. Safe on
 * NULL / *w NULL. */
void tt_bwf_abort(tt_bwf_writer_t **w);

/* Reads a BWF's format and bext: rate, channels, time_reference,
 * description, originator, originator_reference, coding history into
 * *out, and its length in frames into *frames (may be NULL). Returns 0;
 * TT_ERR_NOTFOUND when the file is a readable sound file without a bext
 * chunk (rate, channels and *frames are still filled, the bext fields are
 * zero); TT_ERR_IO when it cannot be opened as a sound file. */
int tt_bwf_read_info(const char *path, tt_bwf_info_t *out, uint64_t *frames, char *why);

/* BLAKE2b-256 (libsodium crypto_generichash, no key) of a whole file, read
 * in 1 MiB pieces, and its size in bytes (size may be NULL). 0 or
 * TT_ERR_IO / TT_ERR_NOMEM / TT_ERR_CRYPTO (libsodium) with why. */
int tt_bwf_hash_file(const char *path, uint8_t hash[TT_BWF_HASH_LEN], uint64_t *size, char *why);

#endif
