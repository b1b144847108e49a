/* tt_bwf: Broadcast WAV writer/reader on libsndfile, and the media hash.
 * See tt_bwf.h. The writer opens the .part itself and hands libsndfile
 * the descriptor (sf_open_fd without close_desc), so it can fsync the
 * finished file before the rename makes it visible under its real name. */
#define _POSIX_C_SOURCE 200809L
#include "tt_bwf.h"
#include "tt_error.h"
#include "tt_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sndfile.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PATH_MAX_LEN 4096
#define HASH_CHUNK (1024 * 1024)

struct tt_bwf_writer {
    char path[PATH_MAX_LEN];
    char part[PATH_MAX_LEN + 8];
    int fd;
    SNDFILE *snd;
    int channels;
    uint64_t frames;
};

static void free_writer(tt_bwf_writer_t *w)
{
    if (w->snd)
        sf_close(w->snd);
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}

static int text_fits(const char *s, size_t max)
{
    return strnlen(s, max + 1) <= max;
}

tt_bwf_writer_t *tt_bwf_open(const char *path, const tt_bwf_info_t *info, char *why)
{
    if (!path || !*path || strlen(path) >= PATH_MAX_LEN) {
        tt_fail(why, TT_ERR_INVALID, "BWF path missing or longer than %d bytes", PATH_MAX_LEN - 1);
        return NULL;
    }
    if (info->rate <= 0 || info->channels < 1 || info->channels > 8) {
        tt_fail(why, TT_ERR_INVALID, "%s: rate %d and channels %d (1..8) are not a format", path,
                info->rate, info->channels);
        return NULL;
    }
    if (!text_fits(info->description, TT_BWF_DESC_LEN) ||
        !text_fits(info->originator, TT_BWF_ORIG_LEN) ||
        !text_fits(info->originator_reference, TT_BWF_ORIG_LEN) ||
        !text_fits(info->coding_history, TT_BWF_HISTORY_LEN)) {
        tt_fail(why, TT_ERR_INVALID,
                "%s: a bext text is too long (description %d, originator and reference %d, "
                "coding history %d bytes at most)",
                path, TT_BWF_DESC_LEN, TT_BWF_ORIG_LEN, TT_BWF_HISTORY_LEN);
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        tt_fail(why, TT_ERR_INVALID, "%s exists already: a finished recording is never overwritten",
                path);
        return NULL;
    }
    tt_bwf_writer_t *w = calloc(1, sizeof *w);
    if (!w) {
        tt_fail(why, TT_ERR_NOMEM, "allocating a BWF writer for %s", path);
        return NULL;
    }
    w->fd = -1;
    w->channels = info->channels;
    snprintf(w->path, sizeof w->path, "%s", path);
    snprintf(w->part, sizeof w->part, "%s.part", path);
    w->fd = open(w->part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        tt_fail(why, TT_ERR_IO, "creating %s: %s", w->part, strerror(errno));
        free_writer(w);
        return NULL;
    }
    SF_INFO sfi;
    memset(&sfi, 0, sizeof sfi);
    sfi.samplerate = info->rate;
    sfi.channels = info->channels;
    sfi.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
    w->snd = sf_open_fd(w->fd, SFM_WRITE, &sfi, SF_FALSE);
    if (!w->snd) {
        tt_fail(why, TT_ERR_IO, "starting the WAV %s: %s", w->part, sf_strerror(NULL));
        goto fail;
    }
    SF_BROADCAST_INFO bi;
    memset(&bi, 0, sizeof bi);
    memcpy(bi.description, info->description, strlen(info->description));
    memcpy(bi.originator, info->originator, strlen(info->originator));
    memcpy(bi.originator_reference, info->originator_reference, strlen(info->originator_reference));
    char date[48], hms[48]; /* roomy: the compiler cannot bound struct tm fields */
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    snprintf(date, sizeof date, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    snprintf(hms, sizeof hms, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(bi.origination_date, date, sizeof bi.origination_date);
    memcpy(bi.origination_time, hms, sizeof bi.origination_time);
    bi.time_reference_low = (uint32_t)(info->time_reference & 0xffffffffu);
    bi.time_reference_high = (uint32_t)(info->time_reference >> 32);
    bi.version = 1;
    /* libsndfile appends its own line ("A=PCM,F=48000,W=24,M=mono,T=libsndfile-1.2.0"). */
    size_t hl = strlen(info->coding_history);
    memcpy(bi.coding_history, info->coding_history, hl);
    bi.coding_history_size = (uint32_t)hl;
    if (sf_command(w->snd, SFC_SET_BROADCAST_INFO, &bi, sizeof bi) != SF_TRUE) {
        tt_fail(why, TT_ERR_IO, "writing the bext chunk of %s: %s", w->part, sf_strerror(w->snd));
        goto fail;
    }
    /* Floats beyond [-1, 1] clip instead of wrapping around. */
    sf_command(w->snd, SFC_SET_CLIPPING, NULL, SF_TRUE);
    return w;
fail:
    tt_bwf_abort(&w);
    return NULL;
}

int tt_bwf_write(tt_bwf_writer_t *w, const float *frames, size_t n, char *why)
{
    if (n == 0)
        return 0;
    sf_count_t done = sf_writef_float(w->snd, frames, (sf_count_t)n);
    if (done != (sf_count_t)n)
        return tt_fail(why, TT_ERR_IO, "writing %zu frames to %s: %s", n, w->part,
                       sf_strerror(w->snd));
    w->frames += n;
    return 0;
}

uint64_t tt_bwf_frames(const tt_bwf_writer_t *w)
{
    return w->frames;
}

int tt_bwf_truncate(tt_bwf_writer_t *w, uint64_t frames, char *why)
{
    if (frames > w->frames)
        return tt_fail(why, TT_ERR_INVALID, "%s: cannot truncate %llu frames to %llu", w->part,
                       (unsigned long long)w->frames, (unsigned long long)frames);
    if (frames == w->frames)
        return 0;
    sf_count_t to = (sf_count_t)frames;
    if (sf_command(w->snd, SFC_FILE_TRUNCATE, &to, sizeof to) != 0)
        return tt_fail(why, TT_ERR_IO, "truncating %s to %llu frames: %s", w->part,
                       (unsigned long long)frames, sf_strerror(w->snd));
    w->frames = frames;
    return 0;
}

int tt_bwf_close(tt_bwf_writer_t **wp, char *why)
{
    if (!wp || !*wp)
        return 0;
    tt_bwf_writer_t *w = *wp;
    *wp = NULL;
    char local[TT_WHY_LEN];
    if (!why)
        why = local;
    int rc = 0;
    int err = sf_close(w->snd); /* writes the final RIFF and data sizes */
    w->snd = NULL;
    if (err != 0)
        rc = tt_fail(why, TT_ERR_IO, "finishing the header of %s: %s", w->part,
                     sf_error_number(err));
    else if (fsync(w->fd) != 0)
        rc = tt_fail(why, TT_ERR_IO, "syncing %s: %s", w->part, strerror(errno));
    if (close(w->fd) != 0 && rc == 0)
        rc = tt_fail(why, TT_ERR_IO, "closing %s: %s", w->part, strerror(errno));
    w->fd = -1;
    if (rc == 0 && rename(w->part, w->path) != 0)
        rc = tt_fail(why, TT_ERR_IO, "renaming %s to %s: %s", w->part, w->path, strerror(errno));
    if (rc == 0)
        rc = tt_file_sync_dir_of(w->path, why);
    else
        unlink(w->part);
    free_writer(w);
    return rc;
}

void tt_bwf_abort(tt_bwf_writer_t **wp)
{
    if (!wp || !*wp)
        return;
    tt_bwf_writer_t *w = *wp;
    *wp = NULL;
    if (w->snd)
        sf_close(w->snd);
    w->snd = NULL;
    unlink(w->part);
    free_writer(w);
}

/* Copies a fixed-size bext field that need not be NUL-terminated. */
static void copy_field(char *dst, size_t dst_len, const char *src, size_t src_len)
{
    size_t n = strnlen(src, src_len);
    if (n >= dst_len)
        n = dst_len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int tt_bwf_read_info(const char *path, tt_bwf_info_t *out, uint64_t *frames, char *why)
{
    memset(out, 0, sizeof *out);
    if (frames)
        *frames = 0;
    SF_INFO sfi;
    memset(&sfi, 0, sizeof sfi);
    SNDFILE *snd = sf_open(path, SFM_READ, &sfi);
    if (!snd)
        return tt_fail(why, TT_ERR_IO, "opening %s: %s", path, sf_strerror(NULL));
    out->rate = sfi.samplerate;
    out->channels = sfi.channels;
    if (frames)
        *frames = sfi.frames > 0 ? (uint64_t)sfi.frames : 0;
    SF_BROADCAST_INFO bi;
    memset(&bi, 0, sizeof bi);
    int has = sf_command(snd, SFC_GET_BROADCAST_INFO, &bi, sizeof bi) == SF_TRUE;
    sf_close(snd);
    if (!has)
        return tt_fail(why, TT_ERR_NOTFOUND, "%s has no bext chunk (not a Broadcast WAV)", path);
    copy_field(out->description, sizeof out->description, bi.description, sizeof bi.description);
    copy_field(out->originator, sizeof out->originator, bi.originator, sizeof bi.originator);
    copy_field(out->originator_reference, sizeof out->originator_reference, bi.originator_reference,
               sizeof bi.originator_reference);
    size_t hl = bi.coding_history_size < sizeof bi.coding_history ? bi.coding_history_size
                                                                  : sizeof bi.coding_history;
    copy_field(out->coding_history, sizeof out->coding_history, bi.coding_history, hl);
    out->time_reference = ((uint64_t)bi.time_reference_high << 32) | bi.time_reference_low;
    return 0;
}

int tt_bwf_hash_file(const char *path, uint8_t hash[TT_BWF_HASH_LEN], uint64_t *size, char *why)
{
    if (sodium_init() < 0)
        return tt_fail(why, TT_ERR_CRYPTO, "libsodium failed to initialize");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tt_fail(why, TT_ERR_IO, "opening %s to hash it: %s", path, strerror(errno));
    uint8_t *buf = malloc(HASH_CHUNK);
    if (!buf) {
        close(fd);
        return tt_fail(why, TT_ERR_NOMEM, "allocating 1 MiB to hash %s", path);
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, TT_BWF_HASH_LEN);
    uint64_t total = 0;
    int rc = 0;
    for (;;) {
        ssize_t got = read(fd, buf, HASH_CHUNK);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            rc = tt_fail(why, TT_ERR_IO, "reading %s at byte %llu: %s", path,
                         (unsigned long long)total, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        crypto_generichash_update(&st, buf, (unsigned long long)got);
        total += (uint64_t)got;
    }
    free(buf);
    close(fd);
    if (rc != 0)
        return rc;
    crypto_generichash_final(&st, hash, TT_BWF_HASH_LEN);
    if (size)
        *size = total;
    return 0;
}
