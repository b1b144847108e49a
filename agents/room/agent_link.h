/* agent_link: the room's Ableton Link session, kept on the tutti session.
 *
 * With --link the agent is a Link peer on the room's LAN. Link alone aligns
 * the apps of one LAN; the tutti session clock is what aligns two rooms'
 * Link sessions across a WAN. agent_link_follow, called every
 * AGENT_LINK_TICK_MS from the main thread (never an audio thread), keeps
 * Link's session state on what tutti says (agent_link_target.h computes it):
 *   - tempo: set when Link's differs by more than AGENT_LINK_TEMPO_EPS bpm;
 *   - beat: forced (forceBeatAtTime) only when Link's beat at the target's
 *     host time is off by more than AGENT_LINK_PHASE_MS at the tempo, so the
 *     bridge does not fight the room's other peers on every tick;
 *   - isPlaying: set at the roll's and the stop's host times when it changes.
 * Link's clock is the host clock the caller gives (the agent's local clock:
 * the real CLOCK_MONOTONIC, or the simulated --clock-skew-ppm one), so a
 * room whose host clock runs fast runs Link on that clock; Link's ghost
 * time aligns the room's other peers to it.
 *
 * The only C++ translation unit of the agent (agent_link.cpp, over
 * ableton-link-dev). One bridge per process: Link's clock is a type whose
 * source is a static.
 */
#ifndef AGENT_LINK_H
#define AGENT_LINK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AGENT_LINK_PHASE_MS 0.5   /* force the beat when Link is further off than this */
#define AGENT_LINK_TEMPO_EPS 1e-3 /* bpm: set the tempo when it differs by more */
#define AGENT_LINK_TICK_MS 10     /* how often agent_link_follow wants to run */

/* What tutti says Link should be. */
typedef struct {
    int active;      /* 0: no roll ever: Link is left alone */
    int64_t host_ns; /* an instant on the host clock (now, or just ahead) */
    double bpm;      /* tempo at host_ns, in quarter notes per host-clock minute */
    double beat;     /* quarter notes from bar 1 beat 1 at host_ns (negative in the count-off) */
    double quantum;  /* the bar's length in quarter notes at host_ns */
    int playing;     /* 1 from the roll's first count-off click until its stop */
    int64_t play_ns; /* host time of that start, or of the stop when not playing */
    int in_roll;     /* 1 while the roll runs: tempo and beat are followed */
} agent_link_target_t;

/* What the bridge saw and did, for logs and tests. */
typedef struct {
    int peers;       /* other Link peers seen */
    double bpm;      /* Link's tempo after the last follow */
    double error_ms; /* tutti's beat minus Link's at the last follow, before any force, in ms */
    uint64_t forces; /* forceBeatAtTime calls so far */
    uint64_t tempos; /* tempo changes so far */
} agent_link_status_t;

typedef struct agent_link agent_link_t;

/* Host clock for Link: host_ns(arg) returns an instant in ns on the clock
 * Link should run on; arg is borrowed and must outlive the bridge. Joins
 * the Link session (enabled, start/stop sync on). NULL with why when a
 * bridge exists already or Link cannot start. */
agent_link_t *agent_link_new(int64_t (*host_ns)(void *arg), void *arg, char *why);
/* Leaves the Link session; safe on NULL and on *self_p NULL. */
void agent_link_destroy(agent_link_t **self_p);

/* Main thread: bring Link's session state onto target (see above). */
void agent_link_follow(agent_link_t *l, const agent_link_target_t *target);

/* Any thread that called nothing else meanwhile: the last follow's figures. */
void agent_link_status(const agent_link_t *l, agent_link_status_t *out);

#ifdef __cplusplus
}
#endif
#endif
