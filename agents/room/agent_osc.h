/* agent_osc: the room's transport, cue, take, bar|beat, visual markers and
 * score changes sent as OSC (liblo, UDP) to up to AGENT_OSC_MAX_TARGETS
 * configured targets (--osc HOST:PORT), each message at its session instant.
 *
 * A thread of its own (tt_actor), never on the audio path: the main thread
 * hands it what the log says (roll, stop, arm, change, ack); the thread
 * works out every beat and marker of the roll through the cue's tempo map,
 * converts each session instant to this host's monotonic clock through the
 * clock thread's latest mapping (the same box the renderers read), polls
 * its pipe until 2 ms before, then sleeps to the instant (clock_nanosleep,
 * absolute) and sends. Each message travels alone in a bundle whose OSC
 * timetag is the session time it stands for, so a receiver can schedule
 * by it or measure its lateness:
 *
 *   timetag = session_ns as NTP: seconds = session_ns / 1e9, fraction =
 *   (session_ns mod 1e9) * 2^32 / 1e9 (rounded down); and back, session_ns
 *   = seconds * 1e9 + fraction * 1e9 / 2^32 (within 1 ns). Session time is
 *   the coordinator's clock, not wall time: to a receiver these timetags lie
 *   in the past (NTP era 0), so liblo dispatches them at once.
 *
 * Address space (all sent to every target):
 *   /tutti/transport ssii  state, cue, take, from-bar. state "armed" (take:
 *                          the take a roll would open; from-bar 0), "count-in"
 *                          (at the roll's first count-off click, when it has
 *                          one), "rolling" (at the from-bar's downbeat),
 *                          "stopped" (at the stop's instant)
 *   /tutti/cue s           the cue armed or rolled (with armed and the roll)
 *   /tutti/take i          the take a roll opened (with the roll)
 *   /tutti/beat iii        bar, beat, beats in the bar: every beat of the roll
 *                          from its first count-off beat (bars <= from-bar - 1
 *                          then) until the stop or the bar after "end B"
 *   /tutti/marker ssfs     kind ("streamer", "warning", "punch", "flutter",
 *                          "hit"), color ("green", "#ff8800"), length in s
 *                          (streamer, warning; else 0), name ("" none). A
 *                          streamer or warning is sent at its START (its end
 *                          minus its length), the others at their instant
 *   /tutti/change is       a score change's seq and text, when it is logged
 *   /tutti/ack i           a change's seq, when this room's ack is logged
 * A message late by up to AGENT_OSC_LATE_MS (a loaded host) still goes out:
 * its timetag says how late it is. One later than that (a roll that arrived
 * after it, a restart mid-roll) is not sent; transport, cue and take always
 * are.
 */
#ifndef AGENT_OSC_H
#define AGENT_OSC_H

#include <lo/lo.h>
#include <stdint.h>

#include "tt_clock_client.h"
#include "tt_clock_map.h"

#define AGENT_OSC_MAX_TARGETS 8
#define AGENT_OSC_LATE_MS 250
#define AGENT_OSC_MAX_TEXT 4096 /* a change's text, as the log bounds it */

typedef struct {
    char host[256];
    char port[8];
} agent_osc_target_t;

/* Parses "HOST:PORT" (PORT 1..65535; HOST a name, an IPv4 address or
 * [IPv6]) into *out. 0, or TT_ERR_INVALID with why. */
int agent_osc_parse_target(const char *arg, agent_osc_target_t *out, char *why);

/* ---- messages (pure; what the thread sends) ---- */

typedef enum {
    AGENT_OSC_TRANSPORT = 1,
    AGENT_OSC_CUE,
    AGENT_OSC_TAKE,
    AGENT_OSC_BEAT,
    AGENT_OSC_MARKER,
    AGENT_OSC_CHANGE,
    AGENT_OSC_ACK,
} agent_osc_kind_t;

/* One message. Strings are borrowed for the call. */
typedef struct {
    int kind;           /* agent_osc_kind_t */
    int64_t session_ns; /* the instant it stands for (the timetag) */
    const char *s1;     /* transport: state; cue: cue; marker: kind */
    const char *s2;     /* transport: cue; marker: color */
    const char *s3;     /* marker: name; change: text */
    int32_t i1, i2, i3; /* transport: take, from-bar; take; beat: bar, beat, beats;
                           change, ack: seq (as i1) */
    float f;            /* marker: length in s */
} agent_osc_event_t;

/* The OSC address of kind ("/tutti/beat"), or NULL. */
const char *agent_osc_path(int kind);

/* Session ns <-> OSC timetag, as the header says. */
lo_timetag agent_osc_timetag(int64_t session_ns);
int64_t agent_osc_timetag_ns(lo_timetag tt);

/* Serializes ev as a bundle (timetag + one message) into buf[0..cap);
 * *len gets its size. 0, or TT_ERR_INVALID (unknown kind, a string over
 * AGENT_OSC_MAX_TEXT bytes), TT_ERR_TOO_BIG (cap too small) or
 * TT_ERR_NOMEM, with why. */
int agent_osc_encode(const agent_osc_event_t *ev, void *buf, size_t cap, size_t *len, char *why);

/* ---- the sender thread ---- */

typedef struct {
    const agent_osc_target_t *targets; /* copied */
    int n_targets;                     /* 1..AGENT_OSC_MAX_TARGETS */
    tt_clock_client_t *clock;          /* borrowed: local clock of this agent */
    tt_clock_box_t *box;               /* borrowed: session mapping */
} agent_osc_config_t;

typedef struct agent_osc agent_osc_t;

/* Opens a UDP socket per target (names resolved here) and starts the
 * thread. NULL with why. */
agent_osc_t *agent_osc_start(void *ctx, const agent_osc_config_t *cfg, char *why);
/* Stops and joins the thread, closes the sockets. Safe on NULL. */
void agent_osc_destroy(agent_osc_t **self_p);

/* Main thread, from the folded log: a roll of cue (take, from_bar; first
 * count-off click at start_session_ns, from-bar's downbeat at
 * downbeat_session_ns) on map_text (copied); its stop (INT64_MAX: none yet).
 * A new roll replaces the one before. */
void agent_osc_roll(agent_osc_t *o, const char *cue, uint32_t take, int32_t from_bar,
                    int64_t start_session_ns, int64_t downbeat_session_ns, int64_t stop_session_ns,
                    const char *map_text);
void agent_osc_stop(agent_osc_t *o, int64_t at_session_ns);
void agent_osc_arm(agent_osc_t *o, const char *cue, uint32_t next_take, int64_t at_session_ns);
void agent_osc_change(agent_osc_t *o, uint64_t seq, const char *text);
void agent_osc_ack(agent_osc_t *o, uint64_t seq);

#endif
