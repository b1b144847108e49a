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
        if (!tt_media_is_put(e) && e->take == take && !strcmp(e->cue, cue) &&
            !strcmp(e->room, room) && !strcmp(e->input, input))
            return e;
    }
    return NULL;
}

/* A prelay or guide by cue, kind and name. */
static const tt_media_entry_t *find_put(const tt_media_index_t *ix, const char *cue, int kind,
                                        const char *name)
{
    for (size_t i = 0; i < ix->n; i++) {
        const tt_media_entry_t *e = &ix->items[i];
        if (e->kind == kind && !strcmp(e->cue, cue) && !strcmp(e->name, name))
            return e;
    }
    return NULL;
}

const tt_media_entry_t *tt_media_find_seq(const tt_media_index_t *ix, uint64_t seq)
{
    for (size_t i = 0; i < ix->n; i++)
        if (ix->items[i].seq == seq)
            return &ix->items[i];
    return NULL;
}

int tt_media_is_put(const tt_media_entry_t *e)
{
    return e->kind != TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE;
}

int tt_media_names_room(const tt_media_entry_t *e, const char *room)
{
    if (e->n_rooms == 0)
        return 1;
    for (size_t i = 0; i < e->n_rooms; i++)
        if (!strcmp(e->rooms[i], room))
            return 1;
    return 0;
}

const char *tt_media_data_bad(const Tutti__MediaData *d, const tt_media_entry_t *e, uint64_t off)
{
    return !d                            ? "unexpected reply"
           : d->offset != off            ? "data for another offset"
           : d->data.len == 0            ? "no data before the end"
           : d->data.len > e->size - off ? "more data than the file holds"
           : !d->media || d->media->size != e->size || d->media->hash.len != TT_MEDIA_HASH_LEN ||
                   memcmp(d->media->hash.data, e->hash, TT_MEDIA_HASH_LEN)
               ? "the coordinator serves another record for this file"
               : NULL;
}

const char *tt_media_kind_name(int kind)
{
    return kind == TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY  ? "prelay"
           : kind == TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE ? "guide"
                                                         : "capture";
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

void tt_media_entry_from_record(tt_media_entry_t *e, const Tutti__Media *m)
{
    memset(e, 0, sizeof *e);
    snprintf(e->cue, sizeof e->cue, "%s", str_or_empty(m->cue));
    e->take = m->take;
    snprintf(e->room, sizeof e->room, "%s", str_or_empty(m->room));
    snprintf(e->input, sizeof e->input, "%s", str_or_empty(m->input));
    snprintf(e->file, sizeof e->file, "%s", str_or_empty(m->file));
    e->size = m->size;
    if (m->hash.len == TT_MEDIA_HASH_LEN)
        memcpy(e->hash, m->hash.data, TT_MEDIA_HASH_LEN);
    e->rate = m->rate;
    e->time_reference = m->time_reference;
    e->punch_in_bar = m->punch_in_bar;
    e->punch_out_bar = m->punch_out_bar;
    e->kind = (int)m->kind;
    snprintf(e->name, sizeof e->name, "%s", str_or_empty(m->name));
    for (size_t i = 0; i < m->n_rooms && e->n_rooms < TT_MEDIA_MAX_ROOMS; i++)
        snprintf(e->rooms[e->n_rooms++], sizeof e->rooms[0], "%s", str_or_empty(m->rooms[i]));
    e->at_bar = m->at_bar;
    e->at_frame = m->at_frame;
    snprintf(e->at_fps, sizeof e->at_fps, "%s", str_or_empty(m->at_fps));
    e->channels = m->channels;
    e->frames = m->frames;
    e->source_seq = m->source_seq;
}

int tt_media_index_add(tt_media_index_t *ix, const Tutti__Record *rec)
{
    const Tutti__Media *m = rec->media;
    tt_media_entry_t *e =
        (tt_media_entry_t *)(m->kind != TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE
                                 ? find_put(ix, m->cue, (int)m->kind, str_or_empty(m->name))
                                 : tt_media_find(ix, m->cue, m->take, m->room, m->input));
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
    tt_media_entry_from_record(e, m);
    e->seq = rec->seq;
    return 0;
}

size_t tt_media_count(const tt_media_index_t *ix, const char *cue, uint32_t take)
{
    size_t n = 0;
    for (size_t i = 0; i < ix->n; i++)
        n += !tt_media_is_put(&ix->items[i]) && ix->items[i].take == take &&
             !strcmp(ix->items[i].cue, cue);
    return n;
}

int tt_media_has_room(const tt_media_index_t *ix, const char *cue, uint32_t take, const char *room)
{
    for (size_t i = 0; i < ix->n; i++)
        if (!tt_media_is_put(&ix->items[i]) && ix->items[i].take == take &&
            !strcmp(ix->items[i].cue, cue) && !strcmp(ix->items[i].room, room))
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
        if (tt_media_is_put(e) || e->take != take || strcmp(e->cue, cue) != 0)
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

void tt_media_entry_to_record(const tt_media_entry_t *e, Tutti__Media *m,
                              char *rooms[TT_MEDIA_MAX_ROOMS])
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
    m->kind = (Tutti__MediaKind)e->kind;
    m->name = (char *)e->name;
    for (size_t i = 0; i < e->n_rooms; i++)
        rooms[i] = (char *)e->rooms[i];
    m->rooms = e->n_rooms ? rooms : NULL;
    m->n_rooms = e->n_rooms;
    m->at_bar = e->at_bar;
    m->at_frame = e->at_frame;
    m->at_fps = (char *)e->at_fps;
    m->channels = e->channels;
    m->frames = e->frames;
    m->source_seq = e->source_seq;
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

int tt_media_put_file_name(const char *cue, int kind, const char *name, char *out, size_t len)
{
    const char *what = kind == TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY  ? "_prelay_"
                       : kind == TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE ? "_guide_"
                                                                     : NULL;
    if (len)
        out[0] = '\0';
    if (!what || !tt_name_ok(cue, TT_MEDIA_MAX_CUE, 0) || !tt_name_ok(name, TT_MEDIA_MAX_NAME, 0))
        return TT_ERR_INVALID;
    int n = snprintf(out, len, "%s%s%s.wav", cue, what, name);
    if (n < 0 || (size_t)n >= len) {
        if (len)
            out[0] = '\0';
        return TT_ERR_INVALID;
    }
    if (out[0] == '.') /* as for captures: never a hidden file */
        out[0] = '_';
    return 0;
}

int tt_media_record_file_name(const Tutti__Media *m, char *out, size_t len)
{
    if (m->kind != TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE)
        return tt_media_put_file_name(m->cue, (int)m->kind, m->name, out, len);
    return tt_media_file_name(m->cue, m->take, m->room, m->input, out, len);
}

int tt_media_stored_name_ok(const char *s)
{
    return tt_name_ok(s, TT_MEDIA_MAX_FILE, TT_NAME_FILE);
}

/* ------------------------------------------------------------ the rules */

/* The file name must not belong to another record of the index. */
static int name_free(const tt_media_index_t *ix, const char *name, char *why)
{
    for (size_t i = 0; i < ix->n; i++)
        if (!strcmp(ix->items[i].file, name))
            return tt_fail(why, TT_ERR_INVALID,
                           "file name %s is taken by record %llu (another cue, room, input or "
                           "name that reads the same)",
                           name, (unsigned long long)ix->items[i].seq);
    return 0;
}

/* e holds the file m offers (same size and hash): then *existing = e. */
static int same_file(const tt_media_entry_t *e, const Tutti__Media *m,
                     const tt_media_entry_t **existing)
{
    if (e->size != m->size || memcmp(e->hash, m->hash.data, TT_MEDIA_HASH_LEN) != 0)
        return 0;
    *existing = e;
    return 1;
}

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
        if (same_file(e, m, existing))
            return 0;
        return tt_fail(why, TT_ERR_INVALID,
                       "%s take %u of room %s input %s already arrived (record %llu) with "
                       "another hash; a take's file is never replaced",
                       m->cue, m->take, m->room, m->input, (unsigned long long)e->seq);
    }
    return name_free(ix, name, why);
}

/* ------------------------------------------------------------ operator media */

/* A guide made from a take's capture: record source_seq is a capture of
 * the same cue, and m carries its bytes' identity. */
static int check_source(const tt_session_t *st, const Tutti__Media *m, char *why)
{
    if (m->kind != TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE)
        return tt_fail(why, TT_ERR_INVALID, "only a guide is made from a take's capture");
    const tt_media_entry_t *src = tt_media_find_seq(&st->media, m->source_seq);
    if (!src || tt_media_is_put(src))
        return tt_fail(why, TT_ERR_NOTFOUND, "record %llu is not a take's capture",
                       (unsigned long long)m->source_seq);
    if (strcmp(src->cue, m->cue) != 0)
        return tt_fail(why, TT_ERR_INVALID,
                       "record %llu is a capture of cue %s: a guide for %s is made from one of "
                       "its own takes",
                       (unsigned long long)src->seq, src->cue, m->cue);
    if (m->size != src->size || m->hash.len != TT_MEDIA_HASH_LEN ||
        memcmp(m->hash.data, src->hash, TT_MEDIA_HASH_LEN) != 0 || m->rate != src->rate ||
        m->time_reference != src->time_reference)
        return tt_fail(why, TT_ERR_INVALID,
                       "a guide made from record %llu carries that capture's size, hash, rate "
                       "and time reference",
                       (unsigned long long)src->seq);
    return 0;
}

int tt_media_check_put(const tt_session_t *st, const Tutti__Media *m,
                       int (*is_room)(void *arg, const char *name), void *arg,
                       const tt_media_entry_t **existing, char *why)
{
    *existing = NULL;
    if (!m)
        return tt_fail(why, TT_ERR_INVALID, "an offer carries the media record it will become");
    if (m->kind != TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY &&
        m->kind != TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE)
        return tt_fail(why, TT_ERR_INVALID, "an operator puts prelays and guides only");
    int rc = tt_session_check_cue_name(m->cue, why);
    if (rc != 0)
        return rc;
    if (!tt_session_find_cue(st, m->cue))
        return tt_fail(why, TT_ERR_NOTFOUND, "no cue %s in this session (tutti cue add first)",
                       m->cue);
    if (!tt_name_ok(m->name, TT_MEDIA_MAX_NAME, 0))
        return tt_fail(why, TT_ERR_INVALID,
                       "name '%.40s': 1 to %d of letters, digits, '.', '_' or '-'",
                       str_or_empty(m->name), TT_MEDIA_MAX_NAME);
    if (m->take != 0 || (m->room && *m->room) || (m->input && *m->input))
        return tt_fail(why, TT_ERR_INVALID,
                       "a %s belongs to no take, room or input (those are a capture's)",
                       tt_media_kind_name((int)m->kind));
    if (m->n_rooms > TT_MEDIA_MAX_ROOMS)
        return tt_fail(why, TT_ERR_INVALID,
                       "a %s names at most %d rooms (%zu given); name none for every room",
                       tt_media_kind_name((int)m->kind), TT_MEDIA_MAX_ROOMS, m->n_rooms);
    for (size_t i = 0; i < m->n_rooms; i++) {
        if (!m->rooms[i] || !is_room(arg, m->rooms[i]))
            return tt_fail(why, TT_ERR_INVALID, "'%.64s' is not a room of the access file",
                           str_or_empty(m->rooms[i]));
        for (size_t k = 0; k < i; k++)
            if (!strcmp(m->rooms[k], m->rooms[i]))
                return tt_fail(why, TT_ERR_INVALID, "room %.64s is named twice", m->rooms[i]);
    }
    if (m->source_seq && (rc = check_source(st, m, why)) != 0)
        return rc;
    if (m->rate < 8000 || m->rate > 192000)
        return tt_fail(why, TT_ERR_INVALID, "sample rate %u is outside 8000..192000", m->rate);
    /* An offer from a capture leaves the format to the coordinator, which
     * reads it from the capture's header before the record is written. */
    int format_later = m->source_seq && m->channels == 0 && m->frames == 0;
    if (!format_later && (m->channels < 1 || m->channels > TT_MEDIA_MAX_CHANNELS))
        return tt_fail(why, TT_ERR_INVALID, "%u channels: a %s has 1 to %d", m->channels,
                       tt_media_kind_name((int)m->kind), TT_MEDIA_MAX_CHANNELS);
    if (!format_later && m->frames < 1)
        return tt_fail(why, TT_ERR_INVALID, "a file of no sample frames holds no audio");
    if (m->size <= 44 || m->size < m->frames * m->channels)
        return tt_fail(why, TT_ERR_INVALID, "a file of %llu bytes cannot hold %llu frames",
                       (unsigned long long)m->size, (unsigned long long)m->frames);
    if (m->size > TT_MEDIA_PUT_MAX_BYTES)
        return tt_fail(why, TT_ERR_TOO_BIG, "a %s of %llu bytes is over the %llu-byte limit",
                       tt_media_kind_name((int)m->kind), (unsigned long long)m->size,
                       (unsigned long long)TT_MEDIA_PUT_MAX_BYTES);
    if (m->hash.len != TT_MEDIA_HASH_LEN)
        return tt_fail(why, TT_ERR_INVALID, "the hash has %zu bytes, not 32 (BLAKE2b-256)",
                       m->hash.len);
    if (m->at_bar < 0 || m->at_bar > 100000 || m->at_frame < 0)
        return tt_fail(why, TT_ERR_INVALID, "placement: bar 0..100000, a frame >= 0");
    if (m->at_fps && strlen(m->at_fps) > TT_MEDIA_MAX_FPS)
        return tt_fail(why, TT_ERR_INVALID, "frame rate '%.20s' is not a rate name", m->at_fps);
    char name[TT_MEDIA_MAX_FILE + 1];
    if (tt_media_put_file_name(m->cue, (int)m->kind, m->name, name, sizeof name) != 0)
        return tt_fail(why, TT_ERR_INVALID, "no file name can be made for this record");
    const tt_media_entry_t *e = find_put(&st->media, m->cue, (int)m->kind, m->name);
    if (e) {
        if (same_file(e, m, existing))
            return 0;
        return tt_fail(why, TT_ERR_INVALID,
                       "%s %s of %s is already in (record %llu) with another hash; it is never "
                       "replaced: put the new file under another --name",
                       tt_media_kind_name((int)m->kind), m->name, m->cue,
                       (unsigned long long)e->seq);
    }
    return name_free(&st->media, name, why);
}

/* 1 when name is one of the '+'-joined names in list ("stage+london"). */
static int in_plus_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, '+');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int tt_media_take_capture(const tt_session_t *st, const char *cue, uint32_t take, const char *room,
                          const char *input, const tt_media_entry_t **out, char *why)
{
    *out = NULL;
    const tt_session_cue_t *c = tt_session_find_cue(st, cue);
    if (!c)
        return tt_fail(why, TT_ERR_NOTFOUND, "no cue %.32s in this session", cue);
    const tt_session_take_t *t = NULL;
    for (size_t i = 0; i < c->n_takes; i++)
        if (c->takes[i].number == take)
            t = &c->takes[i];
    if (!t)
        return tt_fail(why, TT_ERR_NOTFOUND, "no take %u of cue %s (it has %zu)", take, cue,
                       c->n_takes);
    if (t->state == TT_TAKE_OPEN)
        return tt_fail(why, TT_ERR_UNAVAILABLE,
                       "take %u of %s is still rolling: its files are uploaded after the stop",
                       take, cue);
    const tt_media_index_t *ix = &st->media;
    const tt_media_entry_t *found = NULL;
    size_t n = 0;
    char inputs[256] = "";
    for (size_t i = 0; i < ix->n; i++) {
        const tt_media_entry_t *e = &ix->items[i];
        if (tt_media_is_put(e) || e->take != take || strcmp(e->cue, cue) || strcmp(e->room, room))
            continue;
        size_t used = strlen(inputs);
        snprintf(inputs + used, sizeof inputs - used, "%s%s", n ? ", " : "", e->input);
        n++;
        if (!input || !strcmp(e->input, input))
            found = e;
    }
    if (n == 0 && !in_plus_list(t->rooms_capturing, room))
        return tt_fail(why, TT_ERR_NOTFOUND, "room %.64s did not record take %u of %s%s%.200s%s",
                       room, take, cue, t->rooms_capturing[0] ? " (recording: " : "",
                       t->rooms_capturing, t->rooms_capturing[0] ? ")" : " (no room recorded it)");
    if (n == 0)
        return tt_fail(why, TT_ERR_UNAVAILABLE,
                       "room %.64s recorded take %u of %s but its file has not arrived yet: wait "
                       "for the upload (tutti takes shows files pending)",
                       room, take, cue);
    if (!input && n > 1)
        return tt_fail(why, TT_ERR_INVALID,
                       "room %.64s recorded %zu inputs of take %u of %s (%s): name one with "
                       "--input",
                       room, n, take, cue, inputs);
    if (!found)
        return tt_fail(why, TT_ERR_NOTFOUND,
                       "room %.64s recorded no input %.32s of take %u of %s (it has %s)", room,
                       input, take, cue, inputs);
    *out = found;
    return 0;
}

int tt_media_prelay_gate(const tt_media_index_t *ix, const char *cue, const char *const *rooms,
                         size_t n_rooms, tt_media_holds_fn holds, void *arg, int force,
                         tt_media_gate_t *gate, char *why)
{
    gate->n_pairs = gate->n_rooms = 0;
    gate->missing[0] = '\0';
    const char *first_file = NULL;
    size_t n_files = 0;
    for (size_t i = 0; i < ix->n; i++) {
        const tt_media_entry_t *e = &ix->items[i];
        if (!tt_media_is_put(e) || strcmp(e->cue, cue) != 0)
            continue;
        /* The rooms it names, online or not; naming none, the rooms online. */
        int file_missing = 0;
        size_t n = e->n_rooms ? e->n_rooms : n_rooms;
        for (size_t r = 0; r < n; r++) {
            const char *room = e->n_rooms ? e->rooms[r] : rooms[r];
            if (holds(arg, room, e->seq))
                continue;
            file_missing = 1;
            if (gate->n_pairs < TT_MEDIA_GATE_MAX) {
                snprintf(gate->pairs[gate->n_pairs], sizeof gate->pairs[0], "%s:%s", room, e->file);
                gate->pair_ptrs[gate->n_pairs] = gate->pairs[gate->n_pairs];
                gate->n_pairs++;
            }
            int listed = 0;
            for (size_t k = 0; k < gate->n_rooms; k++)
                listed |= !strcmp(gate->rooms[k], room);
            if (!listed && gate->n_rooms < TT_MEDIA_GATE_MAX)
                gate->rooms[gate->n_rooms++] = room;
        }
        if (file_missing && n_files++ == 0)
            first_file = e->file;
    }
    if (gate->n_pairs == 0)
        return 0;
    size_t used = 0;
    used += (size_t)snprintf(gate->missing, sizeof gate->missing, "room%s ",
                             gate->n_rooms == 1 ? "" : "s");
    for (size_t k = 0; k < gate->n_rooms && used < sizeof gate->missing; k++)
        used += (size_t)snprintf(gate->missing + used, sizeof gate->missing - used, "%s%s",
                                 k ? ", " : "", gate->rooms[k]);
    if (used < sizeof gate->missing)
        snprintf(gate->missing + used, sizeof gate->missing - used, " lack%s prelay %s%s",
                 gate->n_rooms == 1 ? "s" : "", first_file, n_files > 1 ? " and others" : "");
    if (force)
        return 0;
    return tt_fail(why, TT_ERR_INVALID, "%.400s: wait, or --force", gate->missing);
}

size_t tt_media_room_prelays(const tt_media_index_t *ix, const char *room, tt_media_holds_fn holds,
                             void *arg, size_t *held, const char **missing, size_t max_missing,
                             size_t *n_missing)
{
    size_t wanted = 0;
    *held = *n_missing = 0;
    for (size_t i = 0; i < ix->n; i++) {
        const tt_media_entry_t *e = &ix->items[i];
        if (!tt_media_is_put(e) || !tt_media_names_room(e, room))
            continue;
        wanted++;
        if (holds(arg, room, e->seq))
            (*held)++;
        else if (*n_missing < max_missing)
            missing[(*n_missing)++] = e->file;
    }
    return wanted;
}
