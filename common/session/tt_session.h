/* tt_session: the one fold from log records to session state, and the
 * rules a request must pass before it may become a record.
 *
 * Pure: no I/O and no clocks (callers pass the session time where a rule
 * needs it). Tempo-map texts are copied into the state, so a state owns
 * memory: tt_session_clear frees it. The coordinator validates each
 * request against the folded state, seals it into a record, then applies
 * the record with tt_session_apply; agents and the dashboard apply the same
 * records to their replicas, so every program sees the same state.
 */
#ifndef TT_SESSION_H
#define TT_SESSION_H

#include <stdint.h>

#include "tt_access.h"
#include "tt_chain.h"
#include "tt_idem.h"
#include "tt_media.h"
#include "tt_rules.h"
#include "tt_text.h" /* tt_utf8_valid, tt_utf8_copy: callers of this header use them */
#include "tutti.pb-c.h"

#define TT_NOTE_MAX_TEXT 4096
#define TT_SESSION_MAX_NAME 128
#define TT_SESSION_MAX_ROOMS 256
#define TT_TRIM_MAX_NS 100000000LL         /* a trim beyond 100 ms is a mistake, not asymmetry */
#define TT_SESSION_KEY_LEN TT_IDEM_KEY_LEN /* Record.idempotency_key, when set */
#define TT_SESSION_KEY_WINDOW 65536        /* keyed records remembered (IDEMPOTENCY_WINDOW) */

typedef struct {
    char room[TT_ACCESS_MAX_NAME + 1];
    int64_t trim_ns;
} tt_session_trim_t;

#define TT_SESSION_MAX_CUES 1024
#define TT_CUE_MAX_NAME 32
#define TT_ROLL_MAX_LEAD_MS 60000

#define TT_CUE_MAX_TITLE 128

typedef enum { TT_TAKE_OPEN, TT_TAKE_DONE, TT_TAKE_INTERRUPTED } tt_take_state_t;

typedef struct {
    uint32_t number;
    tt_take_state_t state;
    int32_t from_bar;
    uint32_t tempo_version;
    int64_t start_session_ns;    /* first count-off click */
    int64_t downbeat_session_ns; /* from_bar beat 1 */
    int64_t end_session_ns;      /* 0 while open */
    int64_t start_frame;         /* timecode at start_session_ns */
    uint64_t roll_seq;
    char rating[16];        /* latest: circled, hold, ng, false-start; "" unrated */
    uint32_t notes;         /* notes and rating notes, every one in the history */
    uint64_t last_note_seq; /* record of the latest note, 0 if none */
    char last_note[256];    /* its text, cut to fit (history has it whole) */
    char rooms_online[256]; /* "stage+london-strings" at the roll, cut to fit */
    /* The online rooms that record their takes, the same way; when the roll
     * record does not list them (older coordinators), rooms_online. */
    char rooms_capturing[256];
    int forced;           /* rolled past unacked changes */
    char not_acked[256];  /* the rooms that had not acked, when forced */
    int32_t punch_in_bar; /* 0: whole take */
    int32_t punch_out_bar;
    int64_t roll_unix_ns; /* wall clock of the roll record (the report's) */
} tt_session_take_t;

typedef struct {
    char name[TT_CUE_MAX_NAME + 1];
    char title[TT_CUE_MAX_TITLE + 1];
    uint32_t tempo_version;   /* 0: no map loaded yet */
    char *map_text;           /* owned; canonical tempo text of the latest version */
    tt_session_take_t *takes; /* owned, in take order */
    size_t n_takes, cap_takes;
} tt_session_cue_t;

#define TT_SESSION_MAX_CHANGES 4096
#define TT_SESSION_MAX_PLAYERS 4096
#define TT_PLAYER_MAX_NAME 64

typedef struct {
    char room[TT_ACCESS_MAX_NAME + 1];
    char name[TT_PLAYER_MAX_NAME + 1];
} tt_session_player_t;

/* Attendance: one stay per check-in of a player to a room, closed by the
 * check-out (wall clock, the presence records' times), in check-in order.
 * Within a presence record the outs fold before the ins. */
typedef struct {
    char room[TT_ACCESS_MAX_NAME + 1];
    char name[TT_PLAYER_MAX_NAME + 1];
    uint64_t in_seq, out_seq; /* records; out_seq 0 while still in */
    int64_t in_unix_ns, out_unix_ns;
} tt_session_stay_t;

/* The contractor's call history: every call event folded, in order (the
 * calls, their breaks and wraps; tt_call_t holds only the latest call). */
typedef struct {
    uint64_t seq;
    int64_t at_unix_ns;
    char action[16];  /* start, break-start, break-end, wrap */
    tt_rules_t rules; /* start: the rules parsed; zero otherwise */
} tt_session_call_event_t;

typedef struct {
    uint64_t id; /* the change record's seq */
    char cue[TT_CUE_MAX_NAME + 1];
    char *text;   /* owned */
    char **acked; /* owned room names, in ack order */
    size_t n_acked;
} tt_session_change_t;

/* The transport as the log says: idle -> armed -> (roll) count-in ->
 * rolling -> stopped -> armed ... Count-in and rolling are one phase in the
 * log, told apart by the session time (the roll's downbeat). */
typedef enum { TT_PHASE_IDLE, TT_PHASE_ARMED, TT_PHASE_ROLLED } tt_phase_t;

typedef struct {
    tt_phase_t phase;
    int rolled;    /* a roll happened and no stop has taken effect yet */
    uint32_t take; /* take of the last roll */
    int64_t downbeat_session_ns;
    char cue[TT_CUE_MAX_NAME + 1];
    uint32_t tempo_version;
    int32_t from_bar;
    int64_t start_session_ns;
    int64_t stop_session_ns; /* INT64_MAX: not scheduled */
    uint64_t roll_seq;       /* record that rolled; identifies the take-to-be */
} tt_transport_t;

struct tt_session {
    uint64_t last_seq;
    uint8_t head_hash[TT_HASH_LEN];
    uint8_t signing_pk[TT_SIGN_PK_LEN];
    /* The keys the log's records may be signed with: the genesis key and
     * every one a Signer record named (a standby coordinator's). */
    tt_chain_keys_t signers;
    char session_name[TT_SESSION_MAX_NAME + 1];
    int64_t created_unix_ns;
    uint64_t notes;
    int64_t last_note_unix_ns;
    tt_session_trim_t trims[TT_SESSION_MAX_ROOMS]; /* per-room clock trims, latest wins */
    size_t n_trims;
    tt_session_player_t *players; /* owned: who is in which room now */
    size_t n_players, cap_players;
    tt_session_stay_t *stays; /* owned: who was in which room when */
    size_t n_stays, cap_stays;
    tt_session_call_event_t *call_events; /* owned: the call history */
    size_t n_call_events, cap_call_events;
    tt_session_change_t *changes; /* owned array, in order */
    size_t n_changes, cap_changes;
    tt_session_cue_t *cues; /* owned array */
    size_t n_cues, cap_cues;
    tt_transport_t transport;
    tt_call_t call;         /* the contractor's call: start, breaks, wrap (wall clock) */
    tt_media_index_t media; /* owned: the rooms' files that arrived (tt_media.h) */
    tt_idem_t *keys;        /* owned: the last TT_SESSION_KEY_WINDOW idempotency keys; NULL until
                               the first keyed record */
};

void tt_session_init(tt_session_t *s);
/* Frees what the state owns and leaves it as after tt_session_init. */
void tt_session_clear(tt_session_t *s);

/* Folds one verified record (its hash from tt_chain_check) into s. Records
 * must come in sequence; TT_ERR_INVALID otherwise. */
int tt_session_apply(tt_session_t *s, const Tutti__Record *rec, const uint8_t hash[TT_HASH_LEN],
                     char *why);

/* tt_session_apply and tt_session_clear in the shape of a replica's fold
 * and reset (tt_replica_config_t), with arg the tt_session_t. */
int tt_session_fold(void *session, const Tutti__Record *rec, const uint8_t hash[TT_HASH_LEN],
                    char *why);
void tt_session_reset(void *session);

/* The record that carried idempotency key (a Record.idempotency_key of
 * TT_SESSION_KEY_LEN bytes) among the last TT_SESSION_KEY_WINDOW keyed
 * records folded: its seq, and its body case in *kind (may be NULL); 0
 * when there is none (also for a key of another length). */
uint64_t tt_session_find_key(const tt_session_t *s, const ProtobufCBinaryData *key,
                             Tutti__Record__BodyCase *kind);

/* Requests the wire can carry, named for role checks and messages. */
typedef enum {
    TT_REQ_HELLO,
    TT_REQ_HEARTBEAT,
    TT_REQ_STATUS,
    TT_REQ_FETCH,
    TT_REQ_NOTE,
    TT_REQ_TRIM,
    TT_REQ_TEMPO_LOAD,
    TT_REQ_ROLL,
    TT_REQ_STOP,
    TT_REQ_CUE_ADD,
    TT_REQ_ARM,
    TT_REQ_TAKE_RATE,
    TT_REQ_TAKE_NOTE,
    TT_REQ_CHANGE,
    TT_REQ_ACK,
    TT_REQ_PRESENCE,
    TT_REQ_CALL
} tt_request_t;

/* 0 when role may make request; TT_ERR_DENIED with a reason otherwise. */
int tt_session_may(tt_role_t role, tt_request_t request, char *why);

/* Checks a note against the rules and the state: TT_ERR_INVALID + why. */
int tt_session_check_note(const tt_session_t *s, const char *text, char *why);

/* Checks a clock trim: known room (the caller looks it up in the access
 * table and passes is_room), |trim| <= TT_TRIM_MAX_NS, room capacity. */
int tt_session_check_trim(const tt_session_t *s, const char *room, int is_room, int64_t trim_ns,
                          char *why);

/* Borrowed pointer into s (valid until the next apply or clear), or NULL. */
const tt_session_cue_t *tt_session_find_cue(const tt_session_t *s, const char *name);

/* Cue names: 1..32 of letters, digits, '-', '_', '.' (film cues read 1M1, 2M3a). */
int tt_session_check_cue_name(const char *name, char *why);

/* A map may be loaded for any valid cue name (the cue appears with it);
 * the caller has already parsed map_text with tt_tempo_parse_text. */
int tt_session_check_tempo_load(const tt_session_t *s, const char *cue, char *why);

/* "idle", "armed", "count-in", "rolling" or "stopped" at session time now. */
const char *tt_session_transport_name(const tt_session_t *s, int64_t now_session_ns);

/* A cue may be added once; the title is at most TT_CUE_MAX_TITLE bytes. */
int tt_session_check_cue_add(const tt_session_t *s, const char *cue, const char *title, char *why);

/* Arm: the cue must exist, and nothing may be rolling. */
int tt_session_check_arm(const tt_session_t *s, const char *cue, int64_t now_session_ns, char *why);

/* The take a roll of cue would open: one past the last ever opened. */
uint32_t tt_session_next_take(const tt_session_t *s, const char *cue);

/* A rating (circled, hold, ng, false-start) with an optional note, or a
 * note, for a take that exists. */
int tt_session_check_take_rate(const tt_session_t *s, const char *cue, uint32_t take,
                               const char *rating, const char *note, char *why);
int tt_session_check_take_note(const tt_session_t *s, const char *cue, uint32_t take,
                               const char *text, char *why);

/* A change for an existing cue: text 1..4096 bytes UTF-8, bars "A" or "A-B". */
int tt_session_check_change(const tt_session_t *s, const char *cue, const char *text,
                            const char *bars, const char *parts, char *why);
/* An ack by room for change id: the change exists, not acked twice. */
int tt_session_check_ack(const tt_session_t *s, uint64_t id, const char *room, char *why);
/* 1 when room has acked change c. */
int tt_session_acked(const tt_session_change_t *c, const char *room);

/* The rooms among rooms[0..n_rooms) (the caller's list: the access file's
 * rooms) that have not acked change c, in the caller's order, into out
 * (n_rooms entries; the names are the caller's). Returns how many. */
size_t tt_session_not_acked(const tt_session_change_t *c, const char *const *rooms, size_t n_rooms,
                            const char **out);

#define TT_SESSION_GATE_MAX 64 /* rooms a roll record names as not acked */

/* What the roll gate found: the online rooms that have not acked a change
 * to the cue, each once (in change order, then the caller's room order;
 * at most TT_SESSION_GATE_MAX), names borrowed from the caller's list, and
 * the same as text: "stage (change 5), london-strings (change 5)". */
typedef struct {
    const char *rooms[TT_SESSION_GATE_MAX];
    size_t n;
    char missing[512];
} tt_session_gate_t;

/* The roll gate: every online room (online[0..n_online), the caller's
 * list) must have acked every change to cue. Fills *gate either way;
 * returns 0 when all have (or force), else TT_ERR_INVALID with why naming
 * the rooms and the way out. */
int tt_session_roll_gate(const tt_session_t *s, const char *cue, const char *const *online,
                         size_t n_online, int force, tt_session_gate_t *gate, char *why);

/* Presence for room by caller (role, name): contractor and operator for any
 * room, a room for itself; room must be a room (is_room); names 1..64 bytes
 * of UTF-8 without ',' or control characters; at most 256 per report. */
int tt_session_check_presence(const tt_session_t *s, tt_role_t role, const char *caller,
                              const char *room, int is_room, char **in, size_t n_in, char **out,
                              size_t n_out, char *why);
int tt_session_present(const tt_session_t *s, const char *room, const char *player);

/* A call event ("start" with rules text, "break-start", "break-end",
 * "wrap") against the folded call. On start, rules_text must parse
 * (tt_rules_parse); the parsed rules go to *rules when rules is not NULL. */
int tt_session_check_call(const tt_session_t *s, const char *action, const char *rules_text,
                          tt_rules_t *rules, char *why);

/* The open take (rolled, no stop or interruption recorded), or NULL. */
const tt_session_take_t *tt_session_open_take(const tt_session_t *s, const char **cue);

/* Roll at start_session_ns: the transport must be armed for this cue and
 * the cue must have a map. */
int tt_session_check_roll(const tt_session_t *s, const char *cue, int32_t from_bar,
                          int64_t now_session_ns, char *why);

/* A punch (both 0: none): from_bar <= punch_in < punch_out <= 100000. */
int tt_session_check_punch(int32_t from_bar, int32_t punch_in, int32_t punch_out, char *why);

/* Stop: something must be rolling at now_session_ns. */
int tt_session_check_stop(const tt_session_t *s, int64_t now_session_ns, char *why);

/* 1 while a roll is in effect at session time t (from its start until its stop). */
int tt_session_rolling_at(const tt_session_t *s, int64_t t);

/* The room's current trim, 0 when none was ever set. */
int64_t tt_session_trim_ns(const tt_session_t *s, const char *room);

#endif
