/* agent_view: what a room's display page draws from, as JSON documents
 * (agents/room/web/display.js reads them).
 *
 * Three documents, each sent when it changes and never per frame:
 *   clock  how session time follows this agent's local clock: session =
 *          session_ref + (local - local_ref) * rate, with the clock's state
 *          (holdover keeps running on it) and error bound. The page maps
 *          its own performance.now() to the agent's local clock by pings.
 *   roll   the roll in session time, computed here by the one tempo
 *          implementation (tt_tempo) so the page only compares times: every
 *          beat of a window with its bar|beat and whether it clicks, the
 *          lead-in (count-in and pickup), the map's changes with their
 *          bars and what they change to, its visual markers (streamers and
 *          warnings with where they start, punches, hits, each flutter's
 *          flashes, their colors; tt_tempo_visual.h) and named locations,
 *          and the timecode's anchor and rate. The window reaches AGENT_VIEW_AHEAD_NS ahead;
 *          the caller asks for a new one before the page runs out.
 *   room   the room, the transport phase, the coordinator's reachability
 *          and this room's open (not yet acknowledged) score changes.
 *
 * Pure: no I/O and no clocks (the caller passes every time). Every
 * function returns a malloc'd compact JSON text the caller frees, or NULL
 * with the reason in why.
 */
#ifndef AGENT_VIEW_H
#define AGENT_VIEW_H

#include <stdint.h>

#include "tt_clock_map.h"
#include "tt_session.h"

#define AGENT_VIEW_AHEAD_NS (180LL * 1000000000LL) /* a window reaches 3 minutes ahead */
#define AGENT_VIEW_BEHIND_NS (2LL * 1000000000LL)  /* and starts 2 s back */
#define AGENT_VIEW_MAX_BEATS 8192                  /* beats in one window, at most */
#define AGENT_VIEW_MAX_CHANGES 64                  /* open changes listed */
/* A flutter's flashes are this far apart (the middle one on its instant):
 * two film frames at 24 fps, five display frames at 60 Hz, so each flash
 * stands alone on the screen. */
#define AGENT_VIEW_FLUTTER_GAP_NS (1000000000LL / 12)

/* Beat flags in the roll document's "beats": [session_ns, bar, beat, flags]. */
enum {
    AGENT_VIEW_DOWNBEAT = 1, /* beat 1 of its bar */
    AGENT_VIEW_COUNTIN = 2,  /* a count-in beat (before the pickup and the first bar) */
    AGENT_VIEW_CLICK = 4,    /* the click sounds here */
    AGENT_VIEW_PICKUP = 8,   /* a pickup beat of the lead-in (music) */
};

/* The roll document for the roll of cue (its map text as of the roll,
 * from_bar, start = first lead-in beat, stop or INT64_MAX), with beats
 * in [window_from, window_from + AGENT_VIEW_AHEAD_NS]. take and title
 * label it. */
typedef struct {
    const char *cue;
    const char *title;
    uint32_t take;
    const char *map_text;
    int32_t from_bar;
    int64_t start_session_ns;
    int64_t stop_session_ns; /* INT64_MAX: not scheduled */
    int64_t window_from;
} agent_view_roll_t;
char *agent_view_roll_json(const agent_view_roll_t *in, int64_t *window_to, char *why);
/* No roll to show. */
char *agent_view_no_roll_json(char *why);

/* The clock document. bound_us < 0: unbounded. */
char *agent_view_clock_json(const tt_clock_map_t *m, double bound_us, char *why);
/* 1 when the page's copy `sent` has moved away from `now` enough to send
 * again: validity or state changed, or the two lines disagree by more than
 * 100 us at local_now or 5 s later. */
int agent_view_clock_moved(const tt_clock_map_t *sent, const tt_clock_map_t *now,
                           int64_t local_now);

/* The room document. */
typedef struct {
    const char *room;
    const tt_session_t *session;
    int coordinator_online;
    int64_t offline_since_unix_ns; /* when it went away (0: never heard / online) */
} agent_view_room_t;
char *agent_view_room_json(const agent_view_room_t *in, char *why);

#endif
