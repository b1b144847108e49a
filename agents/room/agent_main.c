/* tutti-agent: one per room. Keeps a verified replica of the session log
 * and (in later releases) the clock, click and capture for its room. */
#define _POSIX_C_SOURCE 200809L
#include "agent_capture.h"
#include "agent_click_samples.h"
#include "agent_display.h"
#include "agent_jack.h"
#include "agent_link.h"
#include "agent_link_target.h"
#include "agent_osc.h"
#include "agent_playback.h"
#include "agent_prelay.h"
#include "agent_render.h"
#include "agent_upload.h"
#include "tt_bundle.h"
#include "tt_client.h"
#include "tt_clock_client.h"
#include "tt_config.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_keys.h"
#include "tt_opts.h"
#include "tt_replica.h"
#include "tt_session.h"
#include "tt_session_snap.h"
#include "tt_signals.h"
#include "tt_snapshot.h"
#include "tt_store.h"
#include "tt_time.h"
#include "tt_web.h"
#include "tt_wire.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t stop_flag = 0;

static void usage(FILE *out)
{
    fprintf(out, "Usage: tutti-agent --bundle FILE.tutti [options]\n"
                 "       tutti-agent --room NAME --key FILE.key --server-key FILE.pub [options]\n"
                 "\n"
                 "The room agent: keeps a verified replica of the coordinator's session log in\n"
                 "its own LMDB store, resumes from its last sequence after any restart, and\n"
                 "reports its presence with heartbeats.\n"
                 "\n"
                 "Options:\n"
                 "  --room NAME           this room's name in the access file (required without\n"
                 "                        --bundle; with one, the bundle's name)\n");
    tt_conn_opts_usage(out, 0);
    fputs(TT_CONN_OPTS_HELP_RELAY, out);
    fprintf(out, "                        (through a relay, the updates and the clock are the\n"
                 "                        relay's too: its port + 1 and + 2; uploads and\n"
                 "                        prelay fetches still go to --coordinator)\n");
    fputs(TT_CONFIG_HELP, out);
    fprintf(out,
            "  --data DIR            replica store (default: ./tutti-ROOM; a service:\n"
            "                        /var/lib/tutti/ROOM)\n"
            "  --updates EP          updates endpoint override (default: learned from the\n"
            "                        coordinator; use when a relay or NAT sits in between)\n"
            "  --clock EP            clock service endpoint override (default: learned)\n"
            "  --players FILE        who is in this room: one player name per line ('#'\n"
            "                        comments); reported to the coordinator on every connect\n"
            "  --jack                click and LTC live on JACK output ports CLIENT:click and\n"
            "                        CLIENT:ltc, every event on its exact sample in the period\n"
            "                        (server: $JACK_DEFAULT_SERVER or the default)\n"
            "  --jack-name NAME      JACK client name (default: tutti-ROOM)\n"
            "  --click-wav PATH      render the click (channel 1) and LTC (channel 2) of every\n"
            "                        roll into a 48 kHz WAV, as if a sound card ran on this\n"
            "                        agent's clock, for the agent's whole run; PATH.json holds\n"
            "                        sample_rate, local_start_ns, session_start_ns, start_tc, fps\n"
            "  --click NAME:PATTERN  a click output of its own (repeat, up to 8): JACK port\n"
            "                        CLIENT:NAME instead of CLIENT:click, and with --click-wav\n"
            "                        stage.wav a file stage-NAME.wav (+ .json) per output.\n"
            "                        PATTERN: click (today's click: beats or groups, downbeat\n"
            "                        accented, a distinct count-off), conductor (downbeat\n"
            "                        accented, group beats only, never subdivided), players\n"
            "                        (every beat, split where the map says \"subdivide N\"),\n"
            "                        warning (a distinct high click through the bar before the\n"
            "                        first downbeat and before each tempo change), count (the\n"
            "                        count-off spoken, \"one, two, ...\", then silent). E.g.\n"
            "                        --click cond:conductor --click band:players --click\n"
            "                        warn:warning --click count:count (default: one output\n"
            "                        \"click\", pattern click)\n"
            "  --midi NAME:KIND      a JACK MIDI output port CLIENT:NAME (repeat, up to 8; needs\n"
            "                        --jack); KIND mtc, clock or mmc, or several joined by '+'\n"
            "                        (mtc+mmc). Each message on its sample in the period, by\n"
            "                        the click's timing. mtc: a full frame at the first\n"
            "                        count-off click, then 4 quarter-frames a frame to the\n"
            "                        stop, at the map's rate (code 24 0, 25 1, 29.97df 2, 30\n"
            "                        3). MTC has no 23.976 nor 29.97 non-drop: they go out as\n"
            "                        24 and 30 labels paced at the real 23.976 / 29.97 (set a\n"
            "                        receiver to 24 or 30; see --mtc-rate). clock: 24 F8 a\n"
            "                        quarter note following the map (rit/accel, meters; a 6/8\n"
            "                        eighth is 12), from the first count-off click; SPP of\n"
            "                        the from-bar then Start (from bar 1; with a pickup on\n"
            "                        its first beat, which is song position 0) or Continue\n"
            "                        on the downbeat; Stop at the stop; in free time the\n"
            "                        clock stops, SPP + Continue at the resume bar. mmc:\n"
            "                        locate (to the first count-off click's timecode) 0.5 s\n"
            "                        before it, play at it, stop at the stop. E.g. --midi\n"
            "                        mtc:mtc --midi clk:clock --midi mmc:mmc. ALSA sequencer\n"
            "                        apps reach these ports through a2jmidid -e\n"
            "  --mtc-rate RATE       MTC and MMC timecode at RATE (24, 25, 29.97df, 30,\n"
            "                        23.976, 29.97ndf) instead of the map's, labels and pacing:\n"
            "                        bar 1 keeps the map's start label read at RATE. E.g. a\n"
            "                        23.976 map with --mtc-rate 24 runs MTC at true 24 fps\n"
            "                        (default: the map's rate)\n"
            "  --jack-transport      be JACK's timebase master (taking over from any other):\n"
            "                        every roll locates the transport to the first count-off\n"
            "                        click's frame (frame F = F/rate s after bar 1 beat 1;\n"
            "                        from bar 1 with a count-off, frame 0 at the downbeat)\n"
            "                        and starts it there, so clients pre-roll through the\n"
            "                        count-off (within one period); stops it at the stop;\n"
            "                        bar|beat|tick (1920 a beat), meter and tempo from the map\n"
            "  --click-samples DIR   spoken count-off words DIR/1.wav .. DIR/12.wav (default:\n"
            "                        " AGENT_CLICK_SAMPLES_DIR ",\n"
            "                        built with espeak-ng); missing words are counted in tones\n"
            "  --capture DIR         record every take into DIR: one 24-bit Broadcast WAV per\n"
            "                        input, CUE_tTAKE_ROOM_INPUT.wav, its bext TimeReference on\n"
            "                        the cue's timecode, and NAME.wav.json (BLAKE2b hash, size,\n"
            "                        ...) for the upload. Inputs: JACK (with --jack) or\n"
            "                        --capture-from. Decided from the local replica and clock\n"
            "                        alone: a take outlives a lost coordinator and ends at its\n"
            "                        stop or at --capture-max-take\n"
            "  --capture-input NAME  a JACK input port CLIENT:NAME to record (repeat, up to 32;\n"
            "                        default: one port \"in1\"); connect it, e.g.\n"
            "                        jack_connect system:capture_1 tutti-stage:in1\n"
            "  --capture-from FILE   play FILE (a WAV at the session rate: JACK's, or 48000 Hz\n"
            "                        without --jack; its first channel) in as the one input\n"
            "                        \"in1\", in real time against the session clock. FILE is\n"
            "                        taken to begin at each take's capture window start (the\n"
            "                        first count-off click, or the punch-in bar, minus\n"
            "                        --capture-pre): sample k of FILE is sample k of the take\n"
            "  --capture-pre S       seconds recorded before the first count-off click or the\n"
            "                        punch-in bar (default: 1.0)\n"
            "  --capture-post S      seconds recorded after the stop or the punch-out bar\n"
            "                        (default: 1.0)\n"
            "  --capture-max-take S  a take whose stop never arrives ends S seconds after its\n"
            "                        start, plus --capture-post (default: 1800)\n"
            "  --upload-rate RATE    cap on the upload of captured takes to the coordinator, in\n"
            "                        bytes/s, with k or M (default: no cap). Uploads start after\n"
            "                        each take, resume after any outage, and never share a\n"
            "                        socket or thread with the clock or the log\n"
            "  --no-upload           keep captured takes here only\n"
            "  --prelay-rate RATE    cap on fetching prelays and guide tracks (tutti media put)\n"
            "                        into DATA/media, in bytes/s, with k or M (default: no\n"
            "                        cap). Each is fetched ahead of the take, resumes after any\n"
            "                        outage and is BLAKE2b-verified before it counts\n"
            "  --prelay-pieces N     1 MiB fetch requests kept in flight, 1..%d (default: %d):\n"
            "                        more hide the round trip between pieces on a long link\n"
            "  --http HOST:PORT      serve the room's display (a page for a screen or tablet\n"
            "                        in the room: cue, take, count-in, bar|beat, timecode,\n"
            "                        next change, streamers and punches, the room's open\n"
            "                        changes with an Acknowledge button) at http://HOST:PORT/\n"
            "                        (default: off; PORT 0: any free port). HOST must be a\n"
            "                        loopback address unless --http-password is given\n"
            "  --http-password FILE  the display's login password (first line, 8 characters\n"
            "                        or more); needed to serve beyond this machine\n"
            "  --http-port-file FILE write the display's port there once serving\n"
            "  --link                join this room's Ableton Link session (the LAN's Link apps)\n"
            "                        and keep its tempo, beat (quarter notes from bar 1 beat 1,\n"
            "                        quantum: the bar in quarters) and start/stop on each roll,\n"
            "                        so every room's Link apps share one beat grid; Link's\n"
            "                        beat is forced when it is over 0.5 ms off tutti's\n"
            "  --osc HOST:PORT       send OSC (UDP) to HOST:PORT (repeat, up to 8): transport,\n"
            "                        cue, take, every beat's bar|beat, visual markers (a\n"
            "                        streamer at its start), score changes and this room's\n"
            "                        acks, each at its session instant in a bundle whose\n"
            "                        timetag is that session time (README: \"OSC\"), e.g.\n"
            "                        --osc 127.0.0.1:9000 --osc 10.0.0.7:8000\n"
            "  --map-size-mb N       LMDB map size (default: 4096)\n"
            "  --snapshot-every N    store a snapshot of the folded replica with the records\n"
            "                        that pass every Nth (default: 1000), so a start checks\n"
            "                        and folds only the records after the newest one; 0:\n"
            "                        write none and fold the whole replica at start\n"
            "  --quiet               log warnings and errors only\n"
            "  -h, --help            this text\n"
            "\n"
            "Test options (simulated local clock, so accuracy can be measured against known\n"
            "truth on one machine; never use them in a session):\n"
            "  --clock-offset-us N   local clock = monotonic + N us ...\n"
            "  --clock-skew-ppm P    ... running P ppm fast from the agent's start\n"
            "                        (local = mono + (mono - start) * P / 1e6 + N)\n"
            "  --clock-trace FILE    every 10 ms write 'mono_ns local_ns session_estimate_ns\n"
            "                        state error_bound_ns' (on one host mono is the truth)\n"
            "\n"
            "Exit status: 0 after SIGINT/SIGTERM, 3 when the coordinator refuses the key,\n"
            "the key is not this room's or the replica is damaged, 1 on other errors, 2 on\n"
            "bad usage.\n"
            "\n"
            "Example:\n"
            "  tutti-agent --bundle stage.tutti     (from tutti invite stage --role room)\n"
            "  tutti-agent --room stage --coordinator tcp://10.0.0.5:7700 \\\n"
            "      --server-key keys/coordinator.pub --key keys/stage.key --data "
            "/var/lib/tutti-stage\n",
            AGENT_PRELAY_MAX_PIECES, AGENT_PRELAY_PIECES);
}

#define MAX_PLAYERS 256

typedef struct {
    tt_session_t state;                       /* the fold of the replica */
    tt_replica_t *replica;                    /* set once the replica exists */
    agent_render_t *render;                   /* NULL without --click-wav */
    agent_jack_t *jack;                       /* NULL without --jack */
    agent_capture_t *capture;                 /* NULL without --capture */
    agent_upload_t *upload;                   /* NULL without --capture, or with --no-upload */
    agent_prelay_t *prelay;                   /* prelays and guides into DATA/media */
    agent_display_t *display;                 /* NULL without --http */
    agent_link_t *link;                       /* NULL without --link */
    agent_link_plan_t *link_plan;             /* with --link: the roll Link follows */
    tt_clock_client_t *clock;                 /* borrowed: Link's host clock */
    agent_osc_t *osc;                         /* NULL without --osc */
    uint64_t prelays[TT_REPLICA_MAX_PRELAYS]; /* their seqs held verified */
    size_t n_prelays;
    /* The held files, loaded for playback: at the WAV's rate, and at JACK's
     * when that differs (NULL: that renderer is off, or shares the first). */
    agent_playback_t *pb_render, *pb_jack;
    const char *media_dir;
    const char *room;
    char *players[MAX_PLAYERS]; /* owned: from --players */
    size_t n_players;
    int has_players;
    uint64_t players_epoch; /* coordinator epoch the list was last reported to */
} agent_t;

/* Hands the renderers the prelays and guides of the roll in the folded
 * state (every loaded one of its cue), with its stop if known. Again
 * whenever a file loads while the cue rolls (after a restart mid-roll). */
static void play_prelays(agent_t *a, const tt_session_t *st)
{
    const tt_transport_t *t = &st->transport;
    const tt_session_cue_t *cue = tt_session_find_cue(st, t->cue);
    if (!cue || !cue->map_text || !a->pb_render)
        return;
    char why[TT_WHY_LEN];
    agent_render_t *r = a->render;
    agent_jack_t *j = a->jack;
    for (int i = 0; i < 2; i++) {
        if (i == 0 ? !r : !j)
            continue;
        agent_playback_t *lib = i == 1 && a->pb_jack ? a->pb_jack : a->pb_render;
        agent_playback_roll_t *pb = agent_playback_roll_new(lib, cue->name, cue->map_text,
                                                            t->from_bar, t->start_session_ns, why);
        if (!pb) {
            tt_diag_error("prelays of %s: %s", cue->name, why);
            continue;
        }
        agent_playback_set_stop(pb, t->stop_session_ns);
        if (i == 0)
            agent_render_playback(r, pb);
        else
            agent_jack_playback(j, pb);
    }
}

/* Starts rendering the roll in the folded state (its map is the cue's map
 * as of the roll, since records fold in order). */
static void play_roll(agent_t *a, const tt_session_t *st)
{
    const tt_transport_t *t = &st->transport;
    const tt_session_cue_t *cue = tt_session_find_cue(st, t->cue);
    if (!cue || !cue->map_text) {
        tt_diag_error("roll of %s without a tempo map in the replica", t->cue);
        return;
    }
    if (a->osc)
        agent_osc_roll(a->osc, t->cue, t->take, t->from_bar, t->start_session_ns,
                       t->downbeat_session_ns, t->stop_session_ns, cue->map_text);
    if (a->render) {
        agent_render_roll(a->render, cue->map_text, t->from_bar, t->start_session_ns);
        if (t->stop_session_ns != INT64_MAX)
            agent_render_stop(a->render, t->stop_session_ns);
    }
    if (a->jack) {
        agent_jack_roll(a->jack, cue->map_text, t->from_bar, t->start_session_ns);
        if (t->stop_session_ns != INT64_MAX)
            agent_jack_stop(a->jack, t->stop_session_ns);
    }
    play_prelays(a, st);
}

/* Hands the roll in the folded state to the capture: its take as folded
 * and the cue's map as of the roll, the way play_roll hands it to render
 * and JACK. */
static void capture_roll(agent_t *a, const tt_session_t *st)
{
    const tt_transport_t *t = &st->transport;
    const tt_session_cue_t *cue = tt_session_find_cue(st, t->cue);
    const tt_session_take_t *tk = NULL;
    for (size_t i = 0; cue && i < cue->n_takes; i++)
        if (cue->takes[i].number == t->take)
            tk = &cue->takes[i];
    if (!tk)
        return;
    char why[TT_WHY_LEN];
    if (agent_capture_on_roll(a->capture, cue->name, tk, cue->map_text, st->session_name, why) != 0)
        tt_diag_warn("capture of %s take %u: %s", cue->name, tk->number, why);
}

/* After a restart mid-take: the capture picks the open take up again
 * (what it had recorded stays in its .part.interrupted file). */
static void capture_resume(agent_t *a, const tt_session_t *st)
{
    const tt_transport_t *t = &st->transport;
    capture_roll(a, st);
    if (t->stop_session_ns != INT64_MAX)
        agent_capture_on_stop(a->capture, t->cue, t->take, t->stop_session_ns);
}

/* A prelay or guide in the folded state that names this room: fetch it. */
static void want_prelay(agent_t *a, const tt_media_entry_t *e)
{
    if (a->prelay && tt_media_is_put(e) && tt_media_names_room(e, a->room))
        agent_prelay_want(a->prelay, e);
}

/* A prelay or guide now held verified: loaded (and resampled) for
 * playback here, on the main thread, never in a renderer's path. */
static void load_prelay(agent_t *a, uint64_t seq)
{
    const tt_media_entry_t *e = tt_media_find_seq(&a->state.media, seq);
    if (!e || !a->pb_render || agent_playback_frames(a->pb_render, seq) >= 0)
        return;
    char path[1024], why[TT_WHY_LEN];
    snprintf(path, sizeof path, "%s/%s", a->media_dir, e->file);
    agent_playback_t *libs[2] = {a->pb_render, a->pb_jack};
    for (int i = 0; i < 2; i++) {
        if (!libs[i])
            continue;
        int64_t t0 = tt_time_mono_ns();
        if (agent_playback_load(libs[i], e, path, why) != 0)
            tt_diag_error("%s %s of %s will not play: %s", tt_media_kind_name(e->kind), e->file,
                          e->cue, why);
        else
            tt_diag_info("%s %s of %s loaded for playback (%lld samples, %.0f ms)",
                         tt_media_kind_name(e->kind), e->file, e->cue,
                         (long long)agent_playback_frames(libs[i], seq),
                         (double)(tt_time_mono_ns() - t0) / 1e6);
    }
    const tt_transport_t *t = &a->state.transport;
    if (t->rolled && !strcmp(t->cue, e->cue) && agent_playback_frames(a->pb_render, seq) >= 0)
        play_prelays(a, &a->state); /* it joins the roll under way */
}

/* The fetcher's port from each hello; what it holds goes in the heartbeats. */
static void follow_prelays(agent_t *a)
{
    agent_prelay_set_coordinator(a->prelay, tt_replica_endpoint(a->replica),
                                 tt_replica_server_key(a->replica),
                                 tt_replica_upload_port(a->replica));
    uint64_t seq;
    int more = 0;
    while (agent_prelay_read(a->prelay, &seq)) {
        load_prelay(a, seq);
        if (a->n_prelays < TT_REPLICA_MAX_PRELAYS) {
            a->prelays[a->n_prelays++] = seq;
            more = 1;
        }
    }
    if (more)
        tt_replica_set_prelays(a->replica, a->prelays, a->n_prelays);
}

static void on_record(void *arg, const Tutti__Record *rec)
{
    agent_t *a = arg;
    switch (rec->body_case) {
    case TUTTI__RECORD__BODY_MEDIA: {
        const tt_media_entry_t *e = tt_media_find_seq(&a->state.media, rec->seq);
        if (e && a->replica)
            want_prelay(a, e);
        break;
    }
    case TUTTI__RECORD__BODY_NOTE:
        tt_diag_info("note %llu from %s: %s", (unsigned long long)rec->seq, rec->actor,
                     rec->note->text);
        break;
    case TUTTI__RECORD__BODY_ROLL:
        tt_diag_info("roll %s take %u from bar %d at session %.6f s", rec->roll->cue,
                     rec->roll->take, rec->roll->from_bar,
                     (double)rec->roll->start_session_ns / 1e9);
        if ((a->render || a->jack || a->osc) && a->replica)
            play_roll(a, &a->state);
        if (a->capture && a->replica)
            capture_roll(a, &a->state);
        if (a->display)
            agent_display_roll(a->display, &a->state);
        break;
    case TUTTI__RECORD__BODY_ARM:
        if (a->osc && a->replica)
            agent_osc_arm(a->osc, rec->arm->cue, tt_session_next_take(&a->state, rec->arm->cue),
                          rec->arm->at_session_ns);
        break;
    case TUTTI__RECORD__BODY_ACK:
        if (a->osc && a->replica && a->room && !strcmp(rec->actor, a->room))
            agent_osc_ack(a->osc, rec->ack->change);
        break;
    case TUTTI__RECORD__BODY_CHANGE:
        if (a->osc && a->replica)
            agent_osc_change(a->osc, rec->seq, rec->change->text);
        tt_diag_warn("change %llu to %s%s%s%s%s: %s  (acknowledge: tutti ack %llu)",
                     (unsigned long long)rec->seq, rec->change->cue,
                     rec->change->bars[0] ? " bars " : "", rec->change->bars,
                     rec->change->parts[0] ? ", parts " : "", rec->change->parts, rec->change->text,
                     (unsigned long long)rec->seq);
        break;
    case TUTTI__RECORD__BODY_TAKE_INTERRUPTED:
        tt_diag_warn("take %u of %s interrupted (coordinator restart)", rec->take_interrupted->take,
                     rec->take_interrupted->cue);
        if (a->render)
            agent_render_stop(a->render, rec->take_interrupted->at_session_ns);
        if (a->jack)
            agent_jack_stop(a->jack, rec->take_interrupted->at_session_ns);
        if (a->link_plan)
            agent_link_plan_stop(a->link_plan, rec->take_interrupted->at_session_ns);
        if (a->osc)
            agent_osc_stop(a->osc, rec->take_interrupted->at_session_ns);
        if (a->capture)
            agent_capture_on_stop(a->capture, rec->take_interrupted->cue,
                                  rec->take_interrupted->take,
                                  rec->take_interrupted->at_session_ns);
        break;
    case TUTTI__RECORD__BODY_STOP:
        tt_diag_info("stop %s take %u at session %.6f s", rec->stop->cue, rec->stop->take,
                     (double)rec->stop->at_session_ns / 1e9);
        if (a->link_plan) /* before an arm in the same catch-up clears the roll */
            agent_link_plan_stop(a->link_plan, rec->stop->at_session_ns);
        if (a->render)
            agent_render_stop(a->render, rec->stop->at_session_ns);
        if (a->jack)
            agent_jack_stop(a->jack, rec->stop->at_session_ns);
        if (a->osc)
            agent_osc_stop(a->osc, rec->stop->at_session_ns);
        if (a->capture)
            agent_capture_on_stop(a->capture, rec->stop->cue, rec->stop->take,
                                  rec->stop->at_session_ns);
        break;
    default: break;
    }
}

/* Link's host clock: this agent's local clock (real or simulated). */
static int64_t link_host_ns(void *arg)
{
    return tt_clock_client_local_ns(arg, tt_time_mono_ns());
}

/* Every AGENT_LINK_TICK_MS: the roll in the folded state onto Link. */
static void follow_link(agent_t *a, tt_clock_box_t *box)
{
    const tt_transport_t *t = &a->state.transport;
    const tt_session_cue_t *cue = t->rolled ? tt_session_find_cue(&a->state, t->cue) : NULL;
    char why[TT_WHY_LEN];
    if (cue && cue->map_text &&
        agent_link_plan_roll(a->link_plan, cue->map_text, t->from_bar, t->start_session_ns,
                             t->stop_session_ns, why) != 0) {
        static uint64_t warned_seq;
        if (warned_seq != t->roll_seq)
            tt_diag_error("Link: %s", why);
        warned_seq = t->roll_seq;
    }
    tt_clock_map_t m;
    tt_clock_box_read(box, &m);
    agent_link_target_t target;
    agent_link_plan_at(a->link_plan, &m, link_host_ns(a->clock), &target);
    agent_link_follow(a->link, &target);
}

/* Reads --players: one name per line, '#' comments, blank lines skipped. */
static int read_players(agent_t *a, const char *path, char *why)
{
    char *text = NULL;
    size_t len = 0;
    int rc = tt_file_read(path, 64 * 1024, &text, &len, why);
    if (rc != 0)
        return rc;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (a->n_players == MAX_PLAYERS) {
            free(text);
            return tt_fail(why, TT_ERR_TOO_BIG, "%s: more than %d players", path, MAX_PLAYERS);
        }
        a->players[a->n_players++] = strdup(line);
    }
    free(text);
    a->has_players = 1;
    return 0;
}

/* After every (re)connect, once caught up: check in the listed players the
 * log does not have in this room, check out those it has but the list does not. */
static void report_players(agent_t *a)
{
    tt_replica_t *rep = a->replica;
    if (!a->has_players || !tt_replica_caught_up(rep) || a->players_epoch == tt_replica_epoch(rep))
        return;
    a->players_epoch = tt_replica_epoch(rep);
    const tt_session_t *st = &a->state;
    char *in[MAX_PLAYERS], *out[TT_SESSION_MAX_PLAYERS];
    size_t n_in = 0, n_out = 0;
    for (size_t i = 0; i < a->n_players; i++)
        if (!tt_session_present(st, a->room, a->players[i]))
            in[n_in++] = a->players[i];
    for (size_t i = 0; i < st->n_players && n_out < MAX_PLAYERS; i++) {
        if (strcmp(st->players[i].room, a->room) != 0)
            continue;
        int listed = 0;
        for (size_t k = 0; k < a->n_players; k++)
            listed |= !strcmp(a->players[k], st->players[i].name);
        if (!listed)
            out[n_out++] = (char *)st->players[i].name;
    }
    if (n_in + n_out == 0)
        return;
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Presence p = TUTTI__PRESENCE__INIT;
    p.room = (char *)a->room;
    p.in = in;
    p.n_in = n_in;
    p.out = out;
    p.n_out = n_out;
    env.body_case = TUTTI__ENVELOPE__BODY_PRESENCE;
    env.presence = &p;
    char why[TT_WHY_LEN];
    if (tt_replica_send(rep, &env, why) != 0) {
        tt_diag_warn("reporting players: %s", why);
        a->players_epoch = 0; /* try again */
    } else {
        tt_diag_info("players: %zu checked in, %zu checked out", n_in, n_out);
    }
}

/* Hands the clock thread what the log and the hello reply say: where the
 * clock service is (new after a coordinator restart), and this room's trim.
 * Passes the clock's latest report on to the replica's heartbeats. */
static void follow_coordinator(tt_replica_t *rep, const tt_session_t *st, tt_clock_client_t *clock,
                               const char *clock_override, const char *room, uint64_t *clock_epoch,
                               int64_t *trim_sent, tt_clock_client_report_t *latest)
{
    uint64_t epoch = tt_replica_epoch(rep);
    if (!clock_override && epoch != *clock_epoch && tt_replica_clock_port(rep) != 0) {
        char ep[256];
        /* the coordinator that answered the hello: after a failover, the
         * standby that took over (a new epoch) */
        if (tt_wire_endpoint_with_port(tt_replica_endpoint(rep), tt_replica_clock_port(rep), ep,
                                       sizeof ep) == 0)
            tt_clock_client_connect_key(clock, ep, tt_replica_server_key(rep));
        *clock_epoch = epoch;
    }
    int64_t trim = tt_session_trim_ns(st, room);
    if (trim != *trim_sent) {
        tt_clock_client_set_trim(clock, trim);
        *trim_sent = trim;
    }
    tt_clock_client_report_t cr;
    if (tt_clock_client_read(clock, &cr)) {
        *latest = cr;
        Tutti__ClockReport rep_msg = TUTTI__CLOCK_REPORT__INIT;
        rep_msg.state = (char *)tt_clock_state_name(cr.state);
        rep_msg.offset_us = cr.offset_us;
        rep_msg.drift_ppm = cr.drift_ppm;
        rep_msg.rtt_us = cr.rtt_us;
        rep_msg.error_bound_us = cr.error_bound_us;
        rep_msg.trim_us = cr.trim_us;
        tt_replica_set_clock(rep, &rep_msg);
    }
}

/* The uploader learns the coordinator's upload port from each hello (it
 * changes when the coordinator restarts) and is nudged when a take's files
 * are written. */
static void follow_uploads(agent_t *a, uint64_t *captured)
{
    agent_upload_set_coordinator(a->upload, tt_replica_endpoint(a->replica),
                                 tt_replica_server_key(a->replica),
                                 tt_replica_upload_port(a->replica));
    if (a->capture && agent_capture_finished(a->capture) != *captured) {
        *captured = agent_capture_finished(a->capture);
        agent_upload_nudge(a->upload);
    }
    agent_upload_event_t ev;
    while (agent_upload_read(a->upload, &ev))
        ; /* the upload thread logs its own progress and verdicts */
}

int main(int argc, char **argv)
{
    const char *room = NULL;
    tt_conn_opts_t conn = {0};
    const char *data = NULL, *updates = NULL, *clock_ep = NULL, *clock_trace = NULL;
    const char *click_wav = NULL, *jack_name = NULL, *players = NULL;
    const char *http = NULL, *http_password = NULL, *http_port_file = NULL;
    const char *capture_dir = NULL, *capture_from = NULL;
    const char *cap_inputs[AGENT_CAPTURE_MAX_INPUTS];
    int n_cap_inputs = 0, cap_opts = 0;
    double cap_pre = 1.0, cap_post = 1.0, cap_max = 1800.0;
    uint64_t upload_rate = 0, prelay_rate = 0;
    long prelay_pieces = AGENT_PRELAY_PIECES;
    int no_upload = 0;
    int use_jack = 0, use_link = 0;
    agent_click_outputs_t click_outs = {0};
    agent_midi_outputs_t midi_outs = {0};
    int jack_transport = 0;
    agent_osc_target_t osc_targets[AGENT_OSC_MAX_TARGETS];
    int n_osc = 0;
    long clock_offset_us = 0;
    double clock_skew_ppm = 0.0;
    long map_mb = 0;
    long snapshot_every = TT_SNAPSHOT_DEFAULT_EVERY;
    int quiet = 0;
    enum {
        O_ROOM = 1,
        O_DATA,
        O_UPDATES,
        O_MAP,
        O_QUIET,
        O_CLOCK,
        O_COFF,
        O_CSKEW,
        O_CTRACE,
        O_WAV,
        O_JACK,
        O_JACKNAME,
        O_PLAYERS,
        O_CAPTURE,
        O_CAP_INPUT,
        O_CAP_FROM,
        O_CAP_PRE,
        O_CAP_POST,
        O_CAP_MAX,
        O_UPLOAD_RATE,
        O_NO_UPLOAD,
        O_PRELAY_RATE,
        O_PRELAY_PIECES,
        O_CLICK,
        O_CLICK_SAMPLES,
        O_SNAPSHOT,
        O_HTTP,
        O_HTTP_PASSWORD,
        O_HTTP_PORT_FILE,
        O_MIDI,
        O_MTC_RATE,
        O_JACK_TRANSPORT,
        O_LINK,
        O_OSC
    };
    static const struct option opts[] = {
        {"room", required_argument, 0, O_ROOM},
        TT_CONN_OPTIONS,
        TT_CONN_OPTIONS_RELAY,
        {"data", required_argument, 0, O_DATA},
        {"updates", required_argument, 0, O_UPDATES},
        {"map-size-mb", required_argument, 0, O_MAP},
        {"snapshot-every", required_argument, 0, O_SNAPSHOT},
        {"clock", required_argument, 0, O_CLOCK},
        {"clock-offset-us", required_argument, 0, O_COFF},
        {"clock-skew-ppm", required_argument, 0, O_CSKEW},
        {"clock-trace", required_argument, 0, O_CTRACE},
        {"click-wav", required_argument, 0, O_WAV},
        {"jack", no_argument, 0, O_JACK},
        {"link", no_argument, 0, O_LINK},
        {"click", required_argument, 0, O_CLICK},
        {"click-samples", required_argument, 0, O_CLICK_SAMPLES},
        {"midi", required_argument, 0, O_MIDI},
        {"mtc-rate", required_argument, 0, O_MTC_RATE},
        {"jack-transport", no_argument, 0, O_JACK_TRANSPORT},
        {"osc", required_argument, 0, O_OSC},
        {"jack-name", required_argument, 0, O_JACKNAME},
        {"players", required_argument, 0, O_PLAYERS},
        {"capture", required_argument, 0, O_CAPTURE},
        {"capture-input", required_argument, 0, O_CAP_INPUT},
        {"capture-from", required_argument, 0, O_CAP_FROM},
        {"capture-pre", required_argument, 0, O_CAP_PRE},
        {"capture-post", required_argument, 0, O_CAP_POST},
        {"capture-max-take", required_argument, 0, O_CAP_MAX},
        {"upload-rate", required_argument, 0, O_UPLOAD_RATE},
        {"no-upload", no_argument, 0, O_NO_UPLOAD},
        {"prelay-rate", required_argument, 0, O_PRELAY_RATE},
        {"prelay-pieces", required_argument, 0, O_PRELAY_PIECES},
        {"http", required_argument, 0, O_HTTP},
        {"http-password", required_argument, 0, O_HTTP_PASSWORD},
        {"http-port-file", required_argument, 0, O_HTTP_PORT_FILE},
        {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    /* --config FILE: its keys become flags before these (static: they stay
     * reachable for the whole run, as argv's strings do). */
    static const char *const repeatable[] = {"click", "midi", "osc", "capture-input", NULL};
    static const char *const paths[] = {
        "data",           "key",           "server-key", "bundle",       "players",
        "click-wav",      "click-samples", "capture",    "capture-from", "http-password",
        "http-port-file", "clock-trace",   NULL};
    static const tt_config_spec_t spec = {"tutti-agent", opts, repeatable, paths, 0};
    static tt_config_argv_t args;
    if (tt_opts_config(&spec, &argc, &argv, &args) != 0)
        return TT_OPTS_EXIT_USAGE;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (tt_conn_opts_is_flag(c)) {
            if (tt_conn_opts_take(&conn, c, optarg, "tutti-agent") != 0)
                return TT_OPTS_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case O_ROOM: room = optarg; break;
        case O_DATA: data = optarg; break;
        case O_UPDATES: updates = optarg; break;
        case O_MAP:
            if (tt_opts_parse_long(optarg, 1, 1024 * 1024, &map_mb) != 0) {
                fprintf(stderr, "tutti-agent: --map-size-mb wants 1..1048576\n");
                return 2;
            }
            break;
        case O_SNAPSHOT:
            if (tt_opts_parse_long(optarg, 0, 1000000000L, &snapshot_every) != 0) {
                fprintf(stderr, "tutti-agent: --snapshot-every wants 0..1000000000\n");
                return 2;
            }
            break;
        case O_QUIET: quiet = 1; break;
        case O_CLOCK: clock_ep = optarg; break;
        case O_CTRACE: clock_trace = optarg; break;
        case O_WAV: click_wav = optarg; break;
        case O_JACK: use_jack = 1; break;
        case O_LINK: use_link = 1; break;
        case O_CLICK: {
            char bad[TT_WHY_LEN];
            if (agent_click_outputs_add(&click_outs, optarg, bad) != 0) {
                fprintf(stderr, "tutti-agent: %s\n", bad);
                return 2;
            }
            break;
        }
        case O_CLICK_SAMPLES: click_outs.samples_dir = optarg; break;
        case O_MIDI:
        case O_MTC_RATE: {
            char bad[TT_WHY_LEN];
            if (c == O_MIDI ? agent_midi_outputs_add(&midi_outs, optarg, bad) != 0
                            : tt_fps_parse(optarg, &midi_outs.mtc_rate, bad) != 0) {
                fprintf(stderr, "tutti-agent: %s%s\n", c == O_MIDI ? "" : "--mtc-rate: ", bad);
                return 2;
            }
            midi_outs.mtc_rate_set |= c == O_MTC_RATE;
            break;
        }
        case O_JACK_TRANSPORT: jack_transport = 1; break;
        case O_OSC: {
            char bad[TT_WHY_LEN];
            if (n_osc == AGENT_OSC_MAX_TARGETS) {
                fprintf(stderr, "tutti-agent: at most %d --osc\n", AGENT_OSC_MAX_TARGETS);
                return 2;
            }
            if (agent_osc_parse_target(optarg, &osc_targets[n_osc], bad) != 0) {
                fprintf(stderr, "tutti-agent: %s\n", bad);
                return 2;
            }
            n_osc++;
            break;
        }
        case O_JACKNAME: jack_name = optarg; break;
        case O_PLAYERS: players = optarg; break;
        case O_HTTP: http = optarg; break;
        case O_HTTP_PASSWORD: http_password = optarg; break;
        case O_HTTP_PORT_FILE: http_port_file = optarg; break;
        case O_CAPTURE: capture_dir = optarg; break;
        case O_NO_UPLOAD: no_upload = 1; break;
        case O_UPLOAD_RATE:
        case O_PRELAY_RATE: {
            char *end;
            double v = strtod(optarg, &end);
            double unit = !strcmp(end, "k") ? 1e3 : !strcmp(end, "M") ? 1e6 : *end ? 0 : 1;
            if (!*optarg || unit == 0 || !(v * unit >= 1000 && v * unit <= 1e10)) {
                fprintf(stderr, "tutti-agent: %s wants bytes/s 1000..1e10, e.g. 12.5M\n",
                        c == O_UPLOAD_RATE ? "--upload-rate" : "--prelay-rate");
                return 2;
            }
            *(c == O_UPLOAD_RATE ? &upload_rate : &prelay_rate) = (uint64_t)(v * unit);
            break;
        }
        case O_PRELAY_PIECES:
            if (tt_opts_parse_long(optarg, 1, AGENT_PRELAY_MAX_PIECES, &prelay_pieces) != 0) {
                fprintf(stderr, "tutti-agent: --prelay-pieces wants 1..%d\n",
                        AGENT_PRELAY_MAX_PIECES);
                return 2;
            }
            break;
        case O_CAP_INPUT:
            if (n_cap_inputs == AGENT_CAPTURE_MAX_INPUTS) {
                fprintf(stderr, "tutti-agent: at most %d --capture-input\n",
                        AGENT_CAPTURE_MAX_INPUTS);
                return 2;
            }
            if (strlen(optarg) < 1 || strlen(optarg) > 32 ||
                strspn(optarg,
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
                    strlen(optarg)) {
                fprintf(stderr,
                        "tutti-agent: --capture-input %s: 1..32 of letters, digits, "
                        "'.', '_', '-' (it names the port and the file)\n",
                        optarg);
                return 2;
            }
            cap_inputs[n_cap_inputs++] = optarg;
            cap_opts = 1;
            break;
        case O_CAP_FROM:
            capture_from = optarg;
            cap_opts = 1;
            break;
        case O_CAP_PRE:
        case O_CAP_POST:
        case O_CAP_MAX: {
            char *end;
            double v = strtod(optarg, &end);
            double hi = c == O_CAP_MAX ? 86400 : 60, lo = c == O_CAP_MAX ? 1 : 0;
            if (*end || !*optarg || !(v >= lo && v <= hi)) {
                fprintf(stderr, "tutti-agent: %s wants seconds %g..%g\n",
                        c == O_CAP_PRE    ? "--capture-pre"
                        : c == O_CAP_POST ? "--capture-post"
                                          : "--capture-max-take",
                        lo, hi);
                return 2;
            }
            *(c == O_CAP_PRE ? &cap_pre : c == O_CAP_POST ? &cap_post : &cap_max) = v;
            cap_opts = 1;
            break;
        }
        case O_COFF:
            if (tt_opts_parse_long(optarg, -86400000000L, 86400000000L, &clock_offset_us) != 0) {
                fprintf(stderr,
                        "tutti-agent: --clock-offset-us wants microseconds (|N| <= 1 day)\n");
                return 2;
            }
            break;
        case O_CSKEW: {
            char *end;
            clock_skew_ppm = strtod(optarg, &end);
            if (*end || !*optarg || clock_skew_ppm < -1000 || clock_skew_ppm > 1000) {
                fprintf(stderr, "tutti-agent: --clock-skew-ppm wants -1000..1000\n");
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tutti-agent: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (cap_opts && !capture_dir) {
        fprintf(stderr, "tutti-agent: --capture-* options need --capture DIR\n");
        return 2;
    }
    if ((midi_outs.n || midi_outs.mtc_rate_set || jack_transport) && !use_jack) {
        fprintf(stderr, "tutti-agent: --midi, --mtc-rate and --jack-transport need --jack\n");
        return 2;
    }
    if (capture_dir && !use_jack && !capture_from) {
        fprintf(stderr, "tutti-agent: --capture records JACK inputs (--jack) or --capture-from "
                        "FILE\n");
        return 2;
    }
    char http_host[64];
    unsigned http_port = 0;
    if ((http_password || http_port_file) && !http) {
        fprintf(stderr, "tutti-agent: --http-password and --http-port-file need --http\n");
        return 2;
    }
    if (http && tt_web_parse_listen(http, http_host, sizeof http_host, &http_port) != 0) {
        fprintf(stderr, "tutti-agent: --http wants HOST:PORT, e.g. 127.0.0.1:8090\n");
        return 2;
    }
    if (http && !tt_web_is_loopback(http_host) && !http_password) {
        fprintf(stderr,
                "tutti-agent: serving the display on %s (beyond this machine) needs "
                "--http-password\n",
                http_host);
        return 2;
    }
    if (tt_conn_opts_resolve(&conn) != 0 || (!room && !conn.bundle_path)) {
        fprintf(stderr, "tutti-agent: %s (see --help)\n",
                conn.relay && !conn.relay_key_path
                    ? "--relay needs --relay-key, the relay's public certificate"
                    : "--bundle, or --room, --key and --server-key are required");
        return 2;
    }
    char ewhy[TT_WHY_LEN];
    if (tt_conn_opts_check_endpoint(&conn, ewhy) != 0) { /* $TUTTI_COORDINATOR's list */
        fprintf(stderr, "tutti-agent: %s\n", ewhy);
        return 2;
    }
    char why[TT_WHY_LEN], warn[TT_WHY_LEN];
    tt_conn_t tc; /* lives to the end: endpoint may point into its bundle */
    if (tt_conn_load(&conn, &tc, warn, why) != 0) {
        fprintf(stderr, "tutti-agent: %s\n", why);
        tt_conn_clear(&tc);
        return 1; /* as an unreadable --key always was */
    }
    if (warn[0])
        fprintf(stderr, "tutti-agent: warning: %s\n", warn);
    if (tc.bundle && tc.bundle->role != TT_ROLE_ROOM) {
        fprintf(stderr, "tutti-agent: --bundle %s is %s's, a%s %s, not a room's\n",
                conn.bundle_path, tc.bundle->name,
                tc.bundle->role == TT_ROLE_OPERATOR || tc.bundle->role == TT_ROLE_OBSERVER ? "n"
                                                                                           : "",
                tt_role_name(tc.bundle->role));
        tt_conn_clear(&tc);
        return 2;
    }
    if (!room)
        room = tc.bundle->name;
    const char *endpoint = tc.endpoint; /* the list: the replica and display move along it */
    /* Uploads and prelay fetches start at the first coordinator's host and
     * follow the one the replica says hello to (follow_uploads). */
    tt_opts_endpoints_t eps;
    if (tt_opts_split_endpoints(endpoint, &eps, why) != 0) {
        fprintf(stderr, "tutti-agent: %s\n", why);
        tt_conn_clear(&tc);
        return 2;
    }
    const char *first_endpoint = eps.ep[0];
    char default_data[256];
    if (!data) {
        snprintf(default_data, sizeof default_data, "tutti-%s", room);
        data = default_data;
    }
    tt_diag_init("tutti-agent", room);
    tt_diag_set_quiet(quiet);

    const char *server_key = tc.server_key;
    tt_keypair_t *keys = tc.keys; /* owned here from now on */
    tc.keys = NULL;
    /* Through a site relay: requests sealed to server_key, and the clock
     * served by the relay under its own key. */
    const char *relay = tc.relay; /* --relay's, or the bundle's */
    char relay_key[TT_Z85_KEY_LEN + 1] = "", relay_clock[256];
    if (relay) {
        snprintf(relay_key, sizeof relay_key, "%s", tc.relay_key);
        if (!clock_ep) {
            if (tt_client_relay_port(relay, TT_RELAY_CLOCK_PORT_OFFSET, relay_clock,
                                     sizeof relay_clock) != 0) {
                tt_diag_error("--relay %s: not tcp://HOST:PORT", relay);
                tt_keypair_destroy(&keys);
                tt_conn_clear(&tc);
                return 2;
            }
            clock_ep = relay_clock;
        }
    }
    /* The first coordinator's key, for the clock, uploads and prelays until
     * a hello names the coordinator that answered (follow_coordinator). */
    char first_key[TT_Z85_KEY_LEN + 1];
    snprintf(first_key, sizeof first_key, "%.*s", TT_Z85_KEY_LEN, server_key);
    char *password = NULL;
    if (http_password && tt_web_password_read(http_password, &password, why) != 0) {
        tt_diag_error("--http-password: %s", why);
        tt_keypair_destroy(&keys);
        tt_conn_clear(&tc);
        return 1;
    }
    tt_store_t *store = tt_store_open(data, 0, (size_t)map_mb, why);
    if (!store) {
        int rc = tt_error_last();
        tt_diag_error("%s", why);
        tt_keypair_destroy(&keys);
        tt_web_password_free(&password);
        tt_conn_clear(&tc);
        return rc == TT_ERR_CORRUPT ? 3 : 1;
    }
    tt_signals_catch(&stop_flag, NULL);

    void *ctx = zmq_ctx_new();
    agent_t agent = {0};
    tt_session_init(&agent.state);
    tt_clock_box_t box;
    tt_clock_box_init(&box);
    tt_replica_config_t cfg = {
        .endpoint = endpoint,
        .server_key_z85 = server_key,
        .keys = keys,
        .updates_endpoint = updates,
        .relay_endpoint = relay,
        .relay_key_z85 = relay ? relay_key : NULL,
        .expect_name = room,
        .expect_role = "room",
        .captures = capture_dir != NULL,
        .fold = tt_session_fold,
        .reset = tt_session_reset,
        .fold_arg = &agent.state,
        .snapshot_every = (uint64_t)snapshot_every,
        .save = tt_session_snap_save,
        .restore = tt_session_snap_restore,
        .on_record = on_record,
        .on_record_arg = &agent,
    };
    int exit_code = 0;
    tt_clock_client_t *clock = NULL;
    tt_replica_t *rep = tt_replica_new(ctx, &cfg, store, why);
    if (!rep) {
        tt_diag_error("%s", why);
        exit_code = tt_error_last() == TT_ERR_CORRUPT ? 3 : 1; /* a damaged replica */
        goto out;
    }
    tt_clock_client_config_t ccfg = {
        .keys = keys,
        .server_key_z85 = relay ? relay_key : first_key,
        .inject_offset_ns = (int64_t)clock_offset_us * 1000,
        .inject_skew_ppm = clock_skew_ppm,
        .trace_path = clock_trace,
        .box = &box,
    };
    clock = tt_clock_client_start(ctx, &ccfg, why);
    if (!clock) {
        tt_diag_error("%s", why);
        exit_code = 1;
        goto out;
    }
    if (use_link) {
        agent.clock = clock;
        agent.link_plan = agent_link_plan_new(why);
        if (!agent.link_plan || !(agent.link = agent_link_new(link_host_ns, clock, why))) {
            tt_diag_error("--link: %s", why);
            exit_code = 1;
            goto out;
        }
        tt_diag_info("Link: joined the room's Link session (a peer on this LAN)");
    }
    if (click_wav) {
        agent_render_config_t rcfg = {
            .wav_path = click_wav, .clock = clock, .box = &box, .outputs = &click_outs};
        agent.render = agent_render_start(ctx, &rcfg, why);
        if (!agent.render) {
            tt_diag_error("%s", why);
            exit_code = 1;
            goto out;
        }
    }
    if (use_jack) {
        char name[128];
        snprintf(name, sizeof name, "%s", jack_name ? jack_name : "");
        if (!jack_name)
            snprintf(name, sizeof name, "tutti-%.100s", room);
        agent_jack_config_t jcfg = {.client_name = name,
                                    .clock = clock,
                                    .box = &box,
                                    .outputs = &click_outs,
                                    .midi = &midi_outs,
                                    .transport = jack_transport};
        agent.jack = agent_jack_start(&jcfg, why);
        if (!agent.jack) {
            tt_diag_error("--jack: %s", why);
            exit_code = 1;
            goto out;
        }
    }
    if (n_osc) {
        agent_osc_config_t ocfg = {
            .targets = osc_targets, .n_targets = n_osc, .clock = clock, .box = &box};
        if (!(agent.osc = agent_osc_start(ctx, &ocfg, why))) {
            tt_diag_error("%s", why);
            exit_code = 1;
            goto out;
        }
    }
    if (agent.render || agent.jack) {
        int rate = agent.render ? 48000 : agent_jack_rate(agent.jack); /* the renderers' */
        agent.pb_render = agent_playback_new(rate, why);
        if (agent.pb_render && agent.jack && agent_jack_rate(agent.jack) != rate)
            agent.pb_jack = agent_playback_new(agent_jack_rate(agent.jack), why);
        if (!agent.pb_render ||
            (agent.jack && agent_jack_rate(agent.jack) != rate && !agent.pb_jack)) {
            tt_diag_error("prelay playback: %s", why);
            exit_code = 1;
            goto out;
        }
    }
    if (capture_dir) {
        static const char *const one_input[] = {"in1"};
        agent_capture_config_t kc;
        memset(&kc, 0, sizeof kc);
        agent_capture_config_defaults(&kc);
        kc.ctx = ctx;
        kc.dir = capture_dir;
        kc.room = room;
        kc.rate = agent.jack ? agent_jack_rate(agent.jack) : 48000; /* the render rate */
        kc.capture_from = capture_from;
        kc.inputs = capture_from ? NULL : n_cap_inputs ? cap_inputs : one_input;
        kc.n_inputs = capture_from ? 0 : n_cap_inputs ? n_cap_inputs : 1;
        kc.pre_handle_s = cap_pre;
        kc.post_handle_s = cap_post;
        kc.max_take_s = cap_max;
        agent.capture = agent_capture_new(&kc, why);
        if (!agent.capture ||
            (agent.jack && !capture_from &&
             agent_jack_set_capture(agent.jack, agent.capture, kc.inputs, kc.n_inputs, why) != 0)) {
            tt_diag_error("--capture: %s", why);
            exit_code = 1;
            goto out;
        }
    }
    if (capture_dir && !no_upload) {
        agent_upload_config_t ucfg = {
            .ctx = ctx,
            .endpoint = first_endpoint,
            .upload_port = 0, /* from the hello reply */
            .server_key_z85 = first_key,
            .keys = keys,
            .capture_dir = capture_dir,
            .room = room,
            .rate_bytes_per_s = upload_rate,
        };
        agent.upload = agent_upload_start(&ucfg, why);
        if (!agent.upload) {
            tt_diag_error("upload: %s", why);
            exit_code = 1;
            goto out;
        }
    }
    char media_dir[512];
    snprintf(media_dir, sizeof media_dir, "%.500s/media", data);
    agent.media_dir = media_dir;
    agent_prelay_config_t pcfg = {
        .ctx = ctx,
        .endpoint = first_endpoint,
        .server_key_z85 = first_key,
        .keys = keys,
        .dir = media_dir,
        .rate_bytes_per_s = prelay_rate,
        .pieces = (int)prelay_pieces,
    };
    if (!(agent.prelay = agent_prelay_start(&pcfg, why))) {
        tt_diag_error("prelays: %s", why);
        exit_code = 1;
        goto out;
    }
    agent.replica = rep;
    agent.room = room;
    for (size_t i = 0; i < agent.state.media.n; i++) /* the ones folded before this start */
        want_prelay(&agent, &agent.state.media.items[i]);
    if (players && read_players(&agent, players, why) != 0) {
        tt_diag_error("--players: %s", why);
        exit_code = 2;
        goto out;
    }
    if (http) {
        agent_display_config_t dcfg = {
            .host = http_host,
            .port = http_port,
            .password = password,
            .room = room,
            .clock = clock,
            .zmq_ctx = ctx,
            .endpoint = endpoint,
            .server_key_z85 = server_key,
            .keys = keys,
            .relay_endpoint = relay,
            .relay_key_z85 = relay ? relay_key : NULL,
        };
        agent.display = agent_display_start(&dcfg, why);
        if (!agent.display) {
            tt_diag_error("--http: %s", why);
            exit_code = 1;
            goto out;
        }
        tt_diag_info("room display at http://%s:%u/ (%s)", http_host,
                     agent_display_port(agent.display),
                     password ? "password" : "no password: loopback only");
        if (http_port_file) {
            if (tt_web_port_file(http_port_file, agent_display_port(agent.display), why) != 0) {
                tt_diag_error("--http-port-file: %s", why);
                exit_code = 1;
                goto out;
            }
        }
        if (agent.state.transport.rolled)
            agent_display_roll(agent.display, &agent.state); /* a roll under way */
    }
    if ((agent.render || agent.jack || agent.osc) && agent.state.transport.rolled)
        play_roll(&agent, &agent.state); /* resume a roll after a restart */
    if (agent.capture && agent.state.transport.rolled)
        capture_resume(&agent, &agent.state);
    if (clock_ep)
        tt_clock_client_connect(clock, clock_ep);
    tt_diag_info("room %s, key %s, replica %s at %llu", room, keys->public_z85, data,
                 (unsigned long long)agent.state.last_seq);
    uint64_t clock_epoch = 0, captured = 0;
    int64_t trim_sent = 0, link_next = 0;
    int link_peers = -1;
    tt_clock_client_report_t clock_report = {.error_bound_us = -1};
    int display_ms = 100;
    while (!stop_flag) {
        int wait_ms = tt_replica_tick(rep, tt_time_mono_ns());
        if (agent.display && wait_ms > display_ms)
            wait_ms = display_ms; /* the page hears of an outage within ~2.3 s */
        if (agent.link) {
            int64_t now = tt_time_mono_ns();
            if (now >= link_next) {
                follow_link(&agent, &box);
                link_next = now + AGENT_LINK_TICK_MS * 1000000LL;
                agent_link_status_t ls;
                agent_link_status(agent.link, &ls);
                if (ls.peers != link_peers)
                    tt_diag_info("Link: %d other peer(s)", ls.peers);
                link_peers = ls.peers;
            }
            int lw = (int)((link_next - now) / 1000000) + 1;
            if (wait_ms < 0 || lw < wait_ms)
                wait_ms = lw;
        }
        if (agent.capture) {
            tt_clock_map_t m;
            tt_clock_box_read(&box, &m);
            if (m.valid) {
                int cw = agent_capture_tick(
                    agent.capture,
                    tt_clock_map_session(&m, tt_clock_client_local_ns(clock, tt_time_mono_ns())));
                if (wait_ms < 0 || cw < wait_ms)
                    wait_ms = cw;
            }
        }
        zmq_pollitem_t items[TT_REPLICA_POLL_ITEMS + 3];
        int n = tt_replica_poll_items(rep, items);
        items[n] = (zmq_pollitem_t){tt_clock_client_socket(clock), 0, ZMQ_POLLIN, 0};
        int n_items = n + 1;
        if (agent.upload)
            items[n_items++] =
                (zmq_pollitem_t){agent_upload_socket(agent.upload), 0, ZMQ_POLLIN, 0};
        items[n_items++] = (zmq_pollitem_t){agent_prelay_socket(agent.prelay), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(items, n_items, wait_ms) < 0) {
            if (errno == EINTR)
                continue;
            tt_diag_error("polling: %s", zmq_strerror(errno));
            exit_code = 1;
            break;
        }
        int rc = tt_replica_handle(rep, items, n, why);
        if (rc != 0) {
            tt_diag_error("%s", why);
            exit_code = (rc == TT_ERR_AUTH || rc == TT_ERR_DENIED || rc == TT_ERR_CRYPTO) ? 3 : 1;
            break;
        }
        follow_coordinator(rep, &agent.state, clock, clock_ep, room, &clock_epoch, &trim_sent,
                           &clock_report);
        if (agent.display) {
            agent_display_in_t din = {
                .session = &agent.state,
                .coordinator_online = tt_replica_coordinator_online(rep),
                .bound_us = clock_report.has_sample ? clock_report.error_bound_us : -1,
                .local_now = tt_clock_client_local_ns(clock, tt_time_mono_ns()),
                .unix_now_ns = tt_time_wall_ns(),
            };
            tt_clock_box_read(&box, &din.clock);
            display_ms = agent_display_update(agent.display, &din);
        }
        if (agent.jack)
            agent_jack_log_changes(agent.jack);
        if (agent.upload)
            follow_uploads(&agent, &captured);
        follow_prelays(&agent);
        report_players(&agent);
    }
    if (exit_code == 0)
        tt_diag_info("stopping; replica at %llu", (unsigned long long)agent.state.last_seq);
out:
    agent_display_stop(&agent.display);  /* its HTTP threads read the clock and keys */
    agent_render_destroy(&agent.render); /* finalizes the WAV before the clock goes */
    agent_jack_destroy(&agent.jack);
    agent_osc_destroy(&agent.osc);
    agent_capture_destroy(&agent.capture);    /* after JACK, which pushes into it */
    agent_upload_stop(&agent.upload);         /* an upload in flight resumes next start */
    agent_prelay_stop(&agent.prelay);         /* and so does a prelay's fetch */
    agent_playback_destroy(&agent.pb_render); /* after the renderers, which borrow it */
    agent_playback_destroy(&agent.pb_jack);
    for (size_t i = 0; i < agent.n_players; i++)
        free(agent.players[i]);
    agent_link_destroy(&agent.link); /* before the clock it reads */
    agent_link_plan_destroy(&agent.link_plan);
    tt_clock_client_stop(&clock);
    tt_replica_destroy(&rep);
    tt_session_clear(&agent.state);
    zmq_ctx_term(ctx);
    tt_store_destroy(&store);
    tt_keypair_destroy(&keys);
    tt_web_password_free(&password);
    tt_conn_clear(&tc);
    return exit_code;
}
