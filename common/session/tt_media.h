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
 *
 * Operator media (prelays and guide tracks, `tutti media put`) fold into
 * the same index: kind PRELAY or GUIDE, take 0, no room or input, a name,
 * the rooms that must hold the file (none: every room), and a placement.
 * Their file is CUE_prelay_NAME.wav / CUE_guide_NAME.wav. Which room holds
 * which is not in the log (the rooms say so in their heartbeats): the gate
 * and the per-room count take it as a callback.
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
#define TT_MEDIA_MAX_NAME 32  /* a prelay's or guide's name: [A-Za-z0-9._-]{1,32} */
#define TT_MEDIA_MAX_ROOMS 16 /* rooms a prelay or guide names (none: every room) */
#define TT_MEDIA_MAX_CHANNELS 8
#define TT_MEDIA_PUT_MAX_BYTES (2ULL << 30) /* a prelay or guide: 2 GiB (WAV stays under 4 GB) */
#define TT_MEDIA_MAX_FPS 15                 /* "29.97ndf" and the like */

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
    int kind; /* TUTTI__MEDIA_KIND__*: CAPTURE, or PRELAY / GUIDE (operator media) */
    char name[TT_MEDIA_MAX_NAME + 1];
    char rooms[TT_MEDIA_MAX_ROOMS][TT_ACCESS_MAX_NAME + 1];
    size_t n_rooms; /* 0: every room */
    int32_t at_bar;
    int64_t at_frame;
    char at_fps[TT_MEDIA_MAX_FPS + 1];
    uint32_t channels;
    uint64_t frames;
    uint64_t source_seq; /* GUIDE made from a take's capture: that capture's record; else 0 */
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

/* Fills m (whose strings then point into e, its rooms into the caller's
 * rooms[TT_MEDIA_MAX_ROOMS]) from an entry. */
void tt_media_entry_to_record(const tt_media_entry_t *e, Tutti__Media *m,
                              char *rooms[TT_MEDIA_MAX_ROOMS]);

/* Fills e from a record's fields (seq 0; strings cut to their limits,
 * rooms past TT_MEDIA_MAX_ROOMS left out: check the record first). */
void tt_media_entry_from_record(tt_media_entry_t *e, const Tutti__Media *m);

/* 1 for a prelay or guide (operator media), 0 for a capture. */
int tt_media_is_put(const tt_media_entry_t *e);

/* 1 when prelay/guide e must be held by room (it names the room, or none). */
int tt_media_names_room(const tt_media_entry_t *e, const char *room);

/* The entry of record seq, borrowed as tt_media_find's, or NULL. */
const tt_media_entry_t *tt_media_find_seq(const tt_media_index_t *ix, uint64_t seq);

/* What is wrong with d as the answer to a fetch of e's file at offset off
 * (no answer, another offset, empty before the end, more than the file
 * holds, another record's bytes), or NULL when it is right. Static text. */
const char *tt_media_data_bad(const Tutti__MediaData *d, const tt_media_entry_t *e, uint64_t off);

/* "prelay" or "guide" ("capture" for 0). Static. */
const char *tt_media_kind_name(int kind);

/* The file-name rule: "CUE_tTAKE_ROOM_INPUT.wav" into out. A part's
 * characters outside [A-Za-z0-9._-] become '-', an empty part "x", and a
 * leading '.' of the name '_' (never a hidden file). Returns 0 when every
 * part was already 1..its limit (cue 32, room TT_ACCESS_MAX_NAME, input
 * 32) of those characters: the name the coordinator stores under; 1 when
 * a part had to be changed (the capture still uses the name; an offer is
 * refused); TT_ERR_INVALID when it does not fit in len. */
int tt_media_file_name(const char *cue, uint32_t take, const char *room, const char *input,
                       char *out, size_t len);

/* The operator-media rule: "CUE_prelay_NAME.wav" or "CUE_guide_NAME.wav"
 * (kind PRELAY / GUIDE). 0 when cue and name are valid names (cue 1..32,
 * name 1..TT_MEDIA_MAX_NAME of [A-Za-z0-9._-]) and it fits in len;
 * TT_ERR_INVALID otherwise (out is then ""). */
int tt_media_put_file_name(const char *cue, int kind, const char *name, char *out, size_t len);

/* The name a record's file is stored under, by its kind: 0, or nonzero
 * as the two rules above (a capture's changed part: 1). */
int tt_media_record_file_name(const Tutti__Media *m, char *out, size_t len);

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

/* The rules for a prelay or guide an operator offers (or the record it
 * becomes): kind PRELAY/GUIDE; the cue exists; name [A-Za-z0-9._-]{1,32};
 * take 0, room and input empty; rooms: at most TT_MEDIA_MAX_ROOMS, each
 * once and a room (is_room(arg, name) != 0); rate 8000..192000; channels
 * 1..8; frames >= 1; 44 < size <= TT_MEDIA_PUT_MAX_BYTES and size >=
 * frames * channels (at least a byte a sample); hash 32 bytes; at_bar
 * 0..100000; at_frame >= 0; at_fps at most TT_MEDIA_MAX_FPS characters
 * (the caller checks it names a rate). The same cue, kind and name already
 * indexed: 0 with *existing set when size and hash are the same, else
 * refused (a prelay is never replaced: put it under another name). The
 * file name must not belong to another record. 0, or TT_ERR_INVALID /
 * TT_ERR_NOTFOUND / TT_ERR_TOO_BIG with why. */
int tt_media_check_put(const tt_session_t *st, const Tutti__Media *m,
                       int (*is_room)(void *arg, const char *name), void *arg,
                       const tt_media_entry_t **existing, char *why);

/* A guide made from a take's capture (m->source_seq != 0) passes
 * tt_media_check_put's rules with these on top: kind GUIDE; record
 * source_seq is a capture of the same cue; size, hash, rate and
 * time_reference are that capture's; channels and frames may both be 0
 * (an offer: the coordinator reads them from the capture's file before
 * the record is written). */

/* The capture a guide is made from (`tutti media guide CUE --take N --room
 * R [--input I]`), found in the folded state st: room's file of take
 * `take` of cue, input `input` (NULL: its only one). 0 with *out (borrowed
 * as tt_media_find's); else *out NULL and why says what is missing:
 * TT_ERR_NOTFOUND no such cue or take, the room did not record the take
 * (not among the roll's capturing rooms, and no file of it arrived), or
 * recorded no such input; TT_ERR_UNAVAILABLE the take is still rolling,
 * or the room recorded it and its file has not arrived yet; TT_ERR_INVALID
 * the room recorded several inputs and input is NULL (why names them). */
int tt_media_take_capture(const tt_session_t *st, const char *cue, uint32_t take, const char *room,
                          const char *input, const tt_media_entry_t **out, char *why);

/* Whether room holds (verified) the file of media record seq: the caller's
 * knowledge (the rooms' heartbeats). */
typedef int (*tt_media_holds_fn)(void *arg, const char *room, uint64_t seq);

#define TT_MEDIA_GATE_MAX 64 /* room-file pairs a gate lists */

/* What the prelay gate found: each (room, file) missing, as "ROOM:FILE"
 * strings (owned by the struct, at most TT_MEDIA_GATE_MAX), the rooms
 * once each (names borrowed from the caller's list or the index, valid
 * until either changes), and as text:
 * "rooms london-strings, overdub lack prelay 1M1_prelay_click.wav". */
typedef struct {
    char pairs[TT_MEDIA_GATE_MAX][TT_ACCESS_MAX_NAME + TT_MEDIA_MAX_FILE + 2];
    char *pair_ptrs[TT_MEDIA_GATE_MAX]; /* into pairs, for a repeated field */
    size_t n_pairs;
    const char *rooms[TT_MEDIA_GATE_MAX];
    size_t n_rooms;
    char missing[512];
} tt_media_gate_t;

/* The prelay gate for a roll of cue: every room a prelay or guide of the
 * cue names must hold it, online or not; one that names no room, every
 * room of rooms[0..n_rooms) (online or expected back). Fills *gate either way; 0 when none
 * is missing (or force), else TT_ERR_INVALID with why naming the rooms,
 * the files and the way out. */
int tt_media_prelay_gate(const tt_media_index_t *ix, const char *cue, const char *const *rooms,
                         size_t n_rooms, tt_media_holds_fn holds, void *arg, int force,
                         tt_media_gate_t *gate, char *why);

/* For status: how many prelays and guides (all cues) room must hold, how
 * many of them it holds, and the file names of up to max_missing it lacks
 * (borrowed from the index) into missing. Returns the count wanted. */
size_t tt_media_room_prelays(const tt_media_index_t *ix, const char *room, tt_media_holds_fn holds,
                             void *arg, size_t *held, const char **missing, size_t max_missing,
                             size_t *n_missing);

#endif
