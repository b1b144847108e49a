/* tt_media: the media index, the offer rules, the file-name rule. See tt_media.h. */
#include "tt_media.h"
#include "tt_error.h"
#include "tt_session.h"
#include "tt_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the index */

void tt_media_index_clear(tt_media_index_t *ix)
{
    free(ix->items);
    ix->items = NULL;
    ix->n = ix->cap = 0;
}

const tt_media_entry_t *tt_media_find(const tt_media_index_t *ix, const char *cue, uint32_t take,
                                      const char *room, const char *input)
{
    for (size_t i = 0; i < ix->n; i++) {
        const tt_media_entry_t *e = &ix->items[i];
        if (e->take == take && !strcmp(e->cue, cue) && !strcmp(e->room, room) &&
            !strcmp(e->input, input))
            return e;
    }
    return NULL;
}

int tt_media_index_add(tt_media_index_t *ix, const Tutti__Record *rec)
{
    const Tutti__Media *m = rec->media;
    tt_media_entry_t *e = (tt_media_entry_t *)tt_media_find(ix, m->cue, m->take, m->room, m->input);
    if (!e) {
        if (ix->n == ix->cap) {
            size_t cap = ix->cap ? 2 * ix->cap : 64;
            tt_media_entry_t *grown = realloc(ix->items, cap * sizeof *grown);
            if (!grown)
                return TT_ERR_NOMEM;
            ix->items = grown;
            ix->cap = cap;
        }
        e = &ix->items[ix->n++];
    }
    memset(e, 0, sizeof *e);
    e->seq = rec->seq;
    snprintf(e->cue, sizeof e->cue, "%s", m->cue);
    e->take = m->take;
    snprintf(e->room, sizeof e->room, "%s", m->room);
    snprintf(e->input, sizeof e->input, "%s", m->input);
    snprintf(e->file, sizeof e->file, "%s", m->file ? m->file : "");
    e->size = m->size;
    if (m->hash.len == TT_MEDIA_HASH_LEN)
        memcpy(e->hash, m->hash.data, TT_MEDIA_HASH_LEN);
    e->rate = m->rate;
    e->time_reference = m->time_reference;
    e->punch_in_bar = m->punch_in_bar;
    e->punch_out_bar = m->punch_out_bar;
    return 0;
}

size_t tt_media_count(const tt_media_index_t *ix, const char *cue, uint32_t take)
{
    size_t n = 0;
    for (size_t i = 0; i < ix->n; i++)
        n += ix->items[i].take == take && !strcmp(ix->items[i].cue, cue);
    return n;
}

int tt_media_has_room(const tt_media_index_t *ix, const char *cue, uint32_t take, const char *room)
{
    for (size_t i = 0; i < ix->n; i++)
        if (ix->items[i].take == take && !strcmp(ix->items[i].cue, cue) &&
            !strcmp(ix->items[i].room, room))
            return 1;
    return 0;
}

void tt_media_rooms(const tt_media_index_t *ix, const char *cue, uint32_t take, char *out,
                    size_t cap)
{
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < ix->n; i++) {
        const tt_media_entry_t *e = &ix->items[i];
        if (e->take != take || strcmp(e->cue, cue) != 0)
            continue;
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = ix->items[k].take == take && !strcmp(ix->items[k].cue, cue) &&
                   !strcmp(ix->items[k].room, e->room);
        if (seen)
            continue;
        size_t len = strlen(e->room) + (used ? 1 : 0);
        if (used + len + 1 > cap)
            continue; /* a shorter name may still fit */
        used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? "+" : "", e->room);
    }
}

void tt_media_entry_to_record(const tt_media_entry_t *e, Tutti__Media *m)
{
    tutti__media__init(m);
    m->cue = (char *)e->cue;
    m->take = e->take;
    m->room = (char *)e->room;
    m->input = (char *)e->input;
    m->size = e->size;
    m->hash.data = (uint8_t *)e->hash;
    m->hash.len = TT_MEDIA_HASH_LEN;
    m->rate = e->rate;
    m->time_reference = e->time_reference;
    m->file = (char *)e->file;
    m->punch_in_bar = e->punch_in_bar;
    m->punch_out_bar = e->punch_out_bar;
}

/* ------------------------------------------------------------ names */

/* Appends part to out at *used, reduced to name characters ("x" if empty). */
static int put_part(char *out, size_t len, size_t *used, const char *part)
{
    if (!part || !*part)
        part = "x";
    for (; *part; part++) {
        if (*used + 1 >= len)
            return -1;
        out[(*used)++] = tt_name_char((unsigned char)*part) ? *part : '-';
    }
    out[*used] = '\0';
    return 0;
}

static int put_text(char *out, size_t len, size_t *used, const char *text)
{
    int n = snprintf(out + *used, len - *used, "%s", text);
    if (n < 0 || (size_t)n >= len - *used)
        return -1;
    *used += (size_t)n;
    return 0;
}

int tt_media_file_name(const char *cue, uint32_t take, const char *room, const char *input,
                       char *out, size_t len)
{
    if (len == 0)
        return TT_ERR_INVALID;
    char mid[16];
    snprintf(mid, sizeof mid, "_t%u_", take);
    size_t used = 0;
    out[0] = '\0';
    if (put_part(out, len, &used, cue) || put_text(out, len, &used, mid) ||
        put_part(out, len, &used, room) || put_text(out, len, &used, "_") ||
        put_part(out, len, &used, input) || put_text(out, len, &used, ".wav")) {
        out[0] = '\0';
        return TT_ERR_INVALID;
    }
    if (out[0] == '.') /* a cue may start with '.'; a hidden file is one a fetch refuses */
        out[0] = '_';
    int exact = tt_name_ok(cue, TT_MEDIA_MAX_CUE, 0) && tt_name_ok(room, TT_ACCESS_MAX_NAME, 0) &&
                tt_name_ok(input, TT_MEDIA_MAX_INPUT, 0);
    return exact ? 0 : 1;
}

int tt_media_stored_name_ok(const char *s)
{
    return tt_name_ok(s, TT_MEDIA_MAX_FILE, TT_NAME_FILE);
}

/* ------------------------------------------------------------ the rules */

int tt_media_check_offer(const tt_session_t *st, const Tutti__Media *m, const char *room_name,
                         int channels, const tt_media_entry_t **existing, char *why)
{
    *existing = NULL;
    if (!m)
        return tt_fail(why, TT_ERR_INVALID, "an offer carries the media record it will become");
    if (!m->room || strcmp(m->room, room_name) != 0)
        return tt_fail(why, TT_ERR_DENIED,
                       "a room uploads only for itself: %.64s cannot upload a file of room "
                       "'%.64s'",
                       room_name, m->room ? m->room : "");
    int rc = tt_session_check_cue_name(m->cue, why);
    if (rc != 0)
        return rc;
    if (!tt_name_ok(m->input, TT_MEDIA_MAX_INPUT, 0))
        return tt_fail(why, TT_ERR_INVALID,
                       "input name '%.40s': 1 to %d of letters, digits, '.', '_' or '-'",
                       m->input ? m->input : "", TT_MEDIA_MAX_INPUT);
    if (m->rate < 8000 || m->rate > 192000)
        return tt_fail(why, TT_ERR_INVALID, "sample rate %u is outside 8000..192000", m->rate);
    if (m->hash.len != TT_MEDIA_HASH_LEN)
        return tt_fail(why, TT_ERR_INVALID, "the hash has %zu bytes, not 32 (BLAKE2b-256)",
                       m->hash.len);
    const tt_session_cue_t *cue = tt_session_find_cue(st, m->cue);
    if (!cue)
        return tt_fail(why, TT_ERR_NOTFOUND, "no cue %s in this session", m->cue);
    const tt_session_take_t *take = NULL;
    for (size_t i = 0; i < cue->n_takes; i++)
        if (cue->takes[i].number == m->take)
            take = &cue->takes[i];
    if (!take)
        return tt_fail(why, TT_ERR_NOTFOUND, "no take %u of cue %s", m->take, m->cue);
    if (take->state == TT_TAKE_OPEN) /* not yet, not never: the room retries (a punch ends early) */
        return tt_fail(why, TT_ERR_UNAVAILABLE,
                       "take %u of %s is still rolling: its files are taken after the stop",
                       m->take, m->cue);
    if (m->size <= 44)
        return tt_fail(why, TT_ERR_INVALID, "a file of %llu bytes holds no audio",
                       (unsigned long long)m->size);
    double len_s = (double)(take->end_session_ns - take->start_session_ns) / 1e9;
    if (len_s <= 0 && take->state == TT_TAKE_INTERRUPTED)
        len_s = TT_MEDIA_UNKNOWN_TAKE_S; /* closed after a reboot: session time restarted */
    if (len_s < 0)
        len_s = 0;
    if (channels < 1)
        channels = 1;
    double bound = (len_s + TT_MEDIA_HANDLES_S) * m->rate * 3.0 * channels + TT_MEDIA_HEADER_SLACK;
    if ((double)m->size > bound)
        return tt_fail(why, TT_ERR_TOO_BIG,
                       "a file of %llu bytes is more than take %u of %s can hold: %.1f s + %d s "
                       "of handles at %u Hz, 24-bit, %d channel%s + 1 MiB is %.0f bytes",
                       (unsigned long long)m->size, m->take, m->cue, len_s, TT_MEDIA_HANDLES_S,
                       m->rate, channels, channels == 1 ? "" : "s", bound);
    char name[TT_MEDIA_MAX_FILE + 1];
    if (tt_media_file_name(m->cue, m->take, m->room, m->input, name, sizeof name) != 0)
        return tt_fail(why, TT_ERR_INVALID, "no file name can be made for this record");
    const tt_media_index_t *ix = &st->media;
    const tt_media_entry_t *e = tt_media_find(ix, m->cue, m->take, m->room, m->input);
    if (e) {
        if (e->size == m->size && !memcmp(e->hash, m->hash.data, TT_MEDIA_HASH_LEN)) {
            *existing = e;
            return 0;
        }
        return tt_fail(why, TT_ERR_INVALID,
                       "%s take %u of room %s input %s already arrived (record %llu) with "
                       "another hash; a take's file is never replaced",
                       m->cue, m->take, m->room, m->input, (unsigned long long)e->seq);
    }
    for (size_t i = 0; i < ix->n; i++)
        if (!strcmp(ix->items[i].file, name))
            return tt_fail(why, TT_ERR_INVALID,
                           "file name %s is taken by record %llu (another cue, room or input "
                           "that reads the same)",
                           name, (unsigned long long)ix->items[i].seq);
    return 0;
}
