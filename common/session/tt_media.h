/* tt_media: the rooms' recorded files as the log knows them.
 *
 * A room records each take locally (one file per input) and uploads it;
 * the coordinator checks the offer, receives and verifies the bytes, and
 * writes a Media record. Those records fold here like everything else:
 * tt_session_apply adds each to the session's media index (tt_session_t
 * owns it; tt_session_clear frees it), so the coordinator (offers,
 * fetches), the CLI (`tutti media fetch`, the take sheet) and the room
 * agent all read the same index instead of a copy of their own.
 *
 * Also here, pure and in one place: the offer rules (what a Media record
 * must be before it may be written) and the file-name rule
 * CUE_tTAKE_ROOM_INPUT.wav that the capture writes, the coordinator stores
 * under and the CLI checks.
 */
#ifndef TT_MEDIA_H
#define TT_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "tt_access.h"
#include "tutti.pb-c.h"

#define TT_MEDIA_MAX_CUE 32   /* TT_CUE_MAX_NAME */
#define TT_MEDIA_MAX_INPUT 32 /* an input's name: [A-Za-z0-9._-]{1,32} */
#define TT_MEDIA_MAX_FILE 192 /* CUE_tTAKE_ROOM_INPUT.wav of valid parts fits easily */
#define TT_MEDIA_HASH_LEN 32  /* BLAKE2b-256 */
#define TT_MEDIA_HANDLES_S 60 /* seconds of handles a take's file may carry */
/* Bound for a take interrupted across a host reboot (its length is unknown):
 * the room's capture cap. */
#define TT_MEDIA_UNKNOWN_TAKE_S 1800
#define TT_MEDIA_HEADER_SLACK (1 << 20)

typedef struct tt_session tt_session_t;

/* One Media record, by cue, take, room and input (a later record for the
 * same four replaces the earlier). */
typedef struct {
    uint64_t seq; /* the record's */
    char cue[TT_MEDIA_MAX_CUE + 1];
    uint32_t take;
    char room[TT_ACCESS_MAX_NAME + 1];
    char input[TT_MEDIA_MAX_INPUT + 1];
    char file[TT_MEDIA_MAX_FILE + 1];
    uint64_t size;
    uint8_t hash[TT_MEDIA_HASH_LEN];
    uint32_t rate;
    uint64_t time_reference;
    int32_t punch_in_bar, punch_out_bar;
} tt_media_entry_t;

/* In record order. Zeroed is empty. */
typedef struct {
    tt_media_entry_t *items; /* owned */
    size_t n, cap;
} tt_media_index_t;

/* Frees the entries; the index is empty (and reusable) afterwards. */
void tt_media_index_clear(tt_media_index_t *ix);

/* Folds the Media record rec (seq rec->seq) in. 0, or TT_ERR_NOMEM. */
int tt_media_index_add(tt_media_index_t *ix, const Tutti__Record *rec);

/* Borrowed pointer (valid until the next add or clear), or NULL. */
const tt_media_entry_t *tt_media_find(const tt_media_index_t *ix, const char *cue, uint32_t take,
                                      const char *room, const char *input);

/* Media records of the take (one per room and input). */
size_t tt_media_count(const tt_media_index_t *ix, const char *cue, uint32_t take);

/* 1 when room has a media record for the take. */
int tt_media_has_room(const tt_media_index_t *ix, const char *cue, uint32_t take, const char *room);

/* The rooms whose files of the take arrived, in order of their first
 * record, joined with '+' ("stage+london") into out (cap > 0 bytes); a
 * name that does not fit is left out. */
void tt_media_rooms(const tt_media_index_t *ix, const char *cue, uint32_t take, char *out,
                    size_t cap);

/* Fills m (whose strings then point into e) from an entry. */
void tt_media_entry_to_record(const tt_media_entry_t *e, Tutti__Media *m);

/* The file-name rule: "CUE_tTAKE_ROOM_INPUT.wav" into out. A part's
 * characters outside [A-Za-z0-9._-] become '-', an empty part "x", and a
 * leading '.' of the name '_' (never a hidden file). Returns 0 when every
 * part was already 1..its limit (cue 32, room TT_ACCESS_MAX_NAME, input
 * 32) of those characters: the name the coordinator stores under; 1 when
 * a part had to be changed (the capture still uses the name; an offer is
 * refused); TT_ERR_INVALID when it does not fit in len. */
int tt_media_file_name(const char *cue, uint32_t take, const char *room, const char *input,
                       char *out, size_t len);

/* 1 when s is usable as a stored file name from a record: one path
 * component of 1..TT_MEDIA_MAX_FILE of [A-Za-z0-9._-], not starting with '.'. */
int tt_media_stored_name_ok(const char *s);

/* The rules an offered (or finished) media record must pass, against the
 * folded state st (its takes and media index): cue and take exist and the
 * take is closed; room is `room_name`; size > 44 and <= (take length +
 * 60 s of handles) * rate * 3 bytes * channels + 1 MiB; rate
 * 8000..192000; input [A-Za-z0-9._-]{1,32}; hash 32 bytes. A record
 * already in the index for the same cue, take, room and input is refused
 * unless its hash and size are the same: then *existing is that entry
 * (else NULL) and the answer is 0. The file name must not belong to
 * another record. 0 or TT_ERR_INVALID / TT_ERR_DENIED / TT_ERR_NOTFOUND /
 * TT_ERR_UNAVAILABLE (take still rolling) / TT_ERR_TOO_BIG with why. */
int tt_media_check_offer(const tt_session_t *st, const Tutti__Media *m, const char *room_name,
                         int channels, const tt_media_entry_t **existing, char *why);

#endif
