/* agent_jack: the room's click and LTC on JACK output ports "click" and
 * "ltc", every event on its exact sample inside the period, and the roll's
 * prelays and guides (agent_playback) on "prelay", by the same mapping.
 * With click outputs (--click NAME:PATTERN) there is one port per output,
 * CLIENT:NAME, instead of "click"; all are rendered in the same callback
 * from the same timing, so they agree to the sample.
 *
 * MIDI outputs (--midi NAME:KIND) are JACK MIDI ports CLIENT:NAME: the
 * roll's MTC, MIDI clock and MMC (agent_midi) are written with
 * jack_midi_event_write on the sample the click's mapping gives each
 * message (the sample a click at that instant starts on). With
 * transport set the agent is JACK's timebase master (unconditionally: the
 * session is the authority, another master is replaced) and starts, stops
 * and locates JACK transport with the roll (agent_midi.h says where and
 * when), filling bar|beat|tick from the roll's map.
 *
 * The process callback maps the period to local time with
 * jack_get_cycle_times (the frame time and microsecond time of this cycle
 * and the next), checked by agent_cycle_map, plus the click port's playback
 * latency (what is written now sounds that many frames later), then to
 * session time with the clock thread's mapping, and renders with
 * agent_click. It never allocates, locks, logs or blocks:
 * rolls are prepared on the main thread and handed over by pointer through
 * a jack_ringbuffer; retired rolls come back the same way to be freed.
 */
#ifndef AGENT_JACK_H
#define AGENT_JACK_H

#include <stdint.h>

#include "agent_capture.h"
#include "agent_click_pattern.h"
#include "agent_midi.h"
#include "agent_playback.h"
#include "tt_clock_client.h"
#include "tt_clock_map.h"

typedef struct {
    const char *client_name;              /* JACK client name, e.g. "tutti-stage" */
    tt_clock_client_t *clock;             /* borrowed */
    tt_clock_box_t *box;                  /* borrowed */
    const agent_click_outputs_t *outputs; /* borrowed, copied; NULL or n 0: one "click" */
    const agent_midi_outputs_t *midi;     /* borrowed, copied; NULL or n 0: no MIDI ports */
    int transport;                        /* 1: timebase master, transport follows rolls */
} agent_jack_config_t;

typedef struct agent_jack agent_jack_t;

/* Connects to the JACK server ($JACK_DEFAULT_SERVER or the default),
 * registers the ports and activates. NULL with a reason in why. */
agent_jack_t *agent_jack_start(const agent_jack_config_t *cfg, char *why);
void agent_jack_destroy(agent_jack_t **self_p);

/* Main thread. */
void agent_jack_roll(agent_jack_t *j, const char *map_text, int32_t from_bar,
                     int64_t start_session_ns);
void agent_jack_stop(agent_jack_t *j, int64_t at_session_ns);
/* After agent_jack_roll: play these prelays and guides on the prelay port
 * (ownership passes; the stop applies to them too). */
void agent_jack_playback(agent_jack_t *j, agent_playback_roll_t *roll);

/* Main thread, often: logs what changed in the callback's timing (the
 * server's cycle times set aside or trusted again, playback latency). */
void agent_jack_log_changes(agent_jack_t *j);

/* The server's sample rate. */
int agent_jack_rate(const agent_jack_t *j);

/* Main thread, once: registers input ports CLIENT:names[i] and hands every
 * period of them to cap (agent_capture_rt_push, in the callback). cap must
 * outlive the JACK client (destroy the client first). */
int agent_jack_set_capture(agent_jack_t *j, agent_capture_t *cap, const char *const *names, int n,
                           char *why);

#endif
