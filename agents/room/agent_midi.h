/* agent_midi: the MIDI a roll sends (MTC, MIDI clock, MMC) and the JACK
 * transport's bar|beat, as pure functions of the roll and session time.
 *
 * The JACK client (agent_jack) asks for the events between two session
 * instants and writes each on the sample the click's mapping gives it, so
 * MIDI and click agree within a sample; nothing here knows JACK, so every
 * byte and instant is unit-tested without a server.
 *
 * Time is the click's (agent_click.h): cue time c (ns from bar 1 beat 1)
 * and session time s are tied by s = origin + (c - c_from), origin = the
 * roll's start + the count-off. Every kind pre-rolls through the count-off
 * with the click: MTC and MMC play run from the first count-off click.
 *
 * MTC (F1 quarter-frames, 4 a frame; F0 7F 7F 01 01 hh mm ss ff F7 full
 * frame). The full frame goes at the roll's start (the first count-off
 * click) with the label of the frame holding that instant. Quarter-frames
 * then run on every frame from the first frame starting at or after it,
 * continuous to the stop; each run of 8 (pieces 0..7, over two frames)
 * carries the label of the frame its piece 0 starts, as MTC defines. The
 * rate code is the map's: 24 -> 0, 25 -> 1, 29.97df -> 2, 30 -> 3. MTC
 * has no code for 23.976 nor for 29.97 non-drop: they go out as 24 (code
 * 0) and 30 (code 3) labels, paced at the map's real 23.976 / 29.97, the
 * way a picture at those rates is locked (a receiver set to 24 or 30 reads
 * the labels right and drifts 0.1 % from the wall clock, as the picture
 * does). A rate given (--mtc-rate) replaces the map's for MTC and MMC: its
 * labels and pacing, bar 1 keeping the map's start label read at that rate.
 *
 * MIDI clock (F8, 24 a quarter note whatever the meter's beat unit: a 6/8
 * eighth is 12 clocks, a 2/2 half 48). Clocks run from the first count-off
 * click, in the lead-in's beat, and from the from-bar on at map ticks 40
 * apart (so rits, accels and meter changes follow the map exactly). Song
 * position 0 is the music's start: bar 1 beat 1, or the pickup's first
 * beat when the map has one. SPP (F2 lsb msb, in sixteenths from there,
 * rounded down where a 32nd-note meter leaves half a sixteenth) goes at
 * the roll's start; Start (FA) when the music starts at its beginning
 * (from bar 1, on the pickup's first beat if any), else Continue (FB) on
 * the from-bar's downbeat, just before that instant's clock. Free-time
 * sections have no tempo to send: the clock stops (FC) at the section's
 * start and sends SPP and Continue at its resume bar, clocks from there.
 * Stop (FC) at the stop; no clock after it.
 *
 * MMC (all-call device 7F): locate (F0 7F 7F 06 44 06 01 hr mn sc fr st
 * F7, hr carrying the MTC rate code in bits 5-6, st the subframe in
 * hundredths) to the label of the roll's start, half a second before it so
 * a transport has time to wind (late rolls: at once); play (F0 7F 7F 06 02
 * F7) at the roll's start; stop (06 01) at the stop.
 *
 * Events at one instant go in a fixed order: MMC locate, full frame, SPP,
 * Start/Continue, MMC play, clock, quarter-frame, Stop, MMC stop.
 *
 * Real-time rules: agent_midi_roll_new / _free allocate (main thread);
 * everything else never allocates, locks, logs or blocks.
 */
#ifndef AGENT_MIDI_H
#define AGENT_MIDI_H

#include <stdint.h>

#include "tt_tempo.h"
#include "tt_timecode.h"

enum { AGENT_MIDI_MTC = 1, AGENT_MIDI_CLOCK = 2, AGENT_MIDI_MMC = 4 };

#define AGENT_MIDI_MAX_PORTS 8
#define AGENT_MIDI_NAME_LEN 32
#define AGENT_MIDI_MAX_BYTES 13 /* the longest message: an MMC locate */
#define AGENT_MIDI_MAX_FREE 32  /* free sections the clock stops for; later ones clock on */
#define AGENT_MIDI_LOCATE_LEAD_NS 500000000LL

/* A room's MIDI outputs, from --midi NAME:KIND[+KIND] and --mtc-rate. */
typedef struct {
    int n;
    char name[AGENT_MIDI_MAX_PORTS][AGENT_MIDI_NAME_LEN + 1];
    int kinds[AGENT_MIDI_MAX_PORTS]; /* AGENT_MIDI_* bits */
    int mtc_rate_set;                /* 1: mtc_rate replaces the map's rate */
    tt_fps_t mtc_rate;
} agent_midi_outputs_t;

/* Adds "NAME:KIND[+KIND...]" (KIND mtc, clock, mmc; NAME 1..32 of
 * [A-Za-z0-9_-], unique). Returns 0, or TT_ERR_INVALID / TT_ERR_TOO_BIG
 * with the reason in why. */
int agent_midi_outputs_add(agent_midi_outputs_t *o, const char *arg, char *why);
/* "mtc+clock" -> AGENT_MIDI_MTC | AGENT_MIDI_CLOCK; else TT_ERR_INVALID. */
int agent_midi_kinds_parse(const char *s, int *kinds, char *why);

/* One message at a session instant. */
typedef struct {
    int64_t s; /* session time, ns */
    int order; /* AGENT_MIDI_ORDER_*: its place among events at the instant */
    int kind;  /* the AGENT_MIDI_* that sends it */
    int len;   /* bytes used */
    uint8_t bytes[AGENT_MIDI_MAX_BYTES];
} agent_midi_event_t;

enum {
    AGENT_MIDI_ORDER_LOCATE, /* MMC locate */
    AGENT_MIDI_ORDER_FULL,   /* MTC full frame */
    AGENT_MIDI_ORDER_SPP,
    AGENT_MIDI_ORDER_START, /* Start or Continue */
    AGENT_MIDI_ORDER_PLAY,  /* MMC play */
    AGENT_MIDI_ORDER_CLOCK,
    AGENT_MIDI_ORDER_QF,
    AGENT_MIDI_ORDER_STOP, /* FC */
    AGENT_MIDI_ORDER_MMC_STOP
};
/* Events of order <= this set a receiver's position: sent late rather than dropped. */
#define AGENT_MIDI_ORDER_STATE AGENT_MIDI_ORDER_START

typedef struct agent_midi_roll agent_midi_roll_t;

/* Prepares a roll like agent_click_roll_new (same map, from bar and
 * start). mtc_rate: the MTC/MMC rate, or NULL for the map's. Not
 * real-time. NULL with the reason in why. */
agent_midi_roll_t *agent_midi_roll_new(const char *map_text, int32_t from_bar,
                                       int64_t start_session_ns, const tt_fps_t *mtc_rate,
                                       char *why);
void agent_midi_roll_free(agent_midi_roll_t **roll_p);
/* Stops the roll at session time at (MIDI Stop, MMC stop; nothing after). */
void agent_midi_roll_set_stop(agent_midi_roll_t *roll, int64_t at_session_ns);
int64_t agent_midi_roll_stop(const agent_midi_roll_t *roll); /* INT64_MAX: none yet */

/* The first event of `kinds` strictly after (after_s, after_order), in
 * order of (s, order). Start from (INT64_MIN, -1). Returns 0, or
 * TT_ERR_NOTFOUND when none is left (past the stop). */
int agent_midi_next(const agent_midi_roll_t *roll, int kinds, int64_t after_s, int after_order,
                    agent_midi_event_t *out);
/* The events with a <= s < b, in order, up to max; returns how many. */
int agent_midi_events(const agent_midi_roll_t *roll, int kinds, int64_t a, int64_t b,
                      agent_midi_event_t *out, int max);

/* ---- JACK transport ----
 * Transport frame F is cue time F / rate: frame 0 is bar 1 beat 1. The
 * transport locates to the frame of the roll's start (the first count-off
 * click; 0 when that is before bar 1) and rolls from that instant, so
 * every client pre-rolls through the count-off and is on the from-bar's
 * frame at its downbeat. */
typedef struct {
    int64_t start_s; /* session time the transport starts rolling */
    int64_t frame;   /* the transport frame it rolls from */
} agent_midi_transport_t;
void agent_midi_transport(const agent_midi_roll_t *roll, int rate, agent_midi_transport_t *out);

/* bar|beat|tick at cue time cue_ns, for jack_position_t's BBT: beat in
 * the meter's unit, 1920 ticks a beat, the tempo in those beats a minute,
 * bar_start_tick = the bar's start in map ticks scaled to this bar's beat
 * (exact while one beat unit holds). */
typedef struct {
    int32_t bar, beat, tick;
    double bar_start_tick, beats_per_bar, beat_type, ticks_per_beat, beats_per_minute;
} agent_midi_bbt_t;
#define AGENT_MIDI_TICKS_PER_BEAT 1920
void agent_midi_bbt(const agent_midi_roll_t *roll, int64_t cue_ns, agent_midi_bbt_t *out);

/* The MTC rate code (0..3) for a frame rate. */
int agent_midi_mtc_code(tt_fps_t fps);

#endif
