/* cli_write: see cli_write.h. Each command builds one request from its
 * arguments and sends it with write_request; the rules that decide whether
 * it is accepted live in the coordinator (tt_session), not here. */
#define _POSIX_C_SOURCE 200809L
#include "cli_write.h"
#include "cli_conn.h"
#include "cli_tempo.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_rules.h"
#include "tt_smf.h"
#include "tt_tempo.h"
#include "tt_timecode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sends a write request (exactly once: cli_write retries a lost reply
 * with the same key); prints "WHAT recorded as SEQ" unless what is NULL.
 * *seq_out (may be NULL) gets the committed sequence number. */
static int write_request(const tt_conn_opts_t *o, Tutti__Envelope *env, const char *what,
                         uint64_t *seq_out)
{
    cli_conn_t s;
    int rc = cli_conn_open(o, &s);
    if (rc == 0) {
        Tutti__Envelope *reply = NULL;
        rc = cli_write(&s, env, &reply);
        if (rc == 0) {
            if (what)
                printf("%s recorded as %llu\n", what, (unsigned long long)reply->write_reply->seq);
            if (seq_out)
                *seq_out = reply->write_reply->seq;
            tutti__envelope__free_unpacked(reply, NULL);
        }
    }
    cli_conn_close(&s);
    return rc;
}

int cli_write_note(const tt_conn_opts_t *o, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tutti note TEXT\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__NoteRequest nr = TUTTI__NOTE_REQUEST__INIT;
    nr.text = argv[1];
    env.body_case = TUTTI__ENVELOPE__BODY_NOTE;
    env.note = &nr;
    return write_request(o, &env, "note", NULL);
}

int cli_write_trim(const tt_conn_opts_t *o, int argc, char **argv)
{
    long us = 0;
    if (argc != 3 || tt_opts_parse_long(argv[2], -100000, 100000, &us) != 0) {
        fprintf(stderr, "usage: tutti trim ROOM MICROSECONDS   (-100000..100000)\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__TrimRequest tr = TUTTI__TRIM_REQUEST__INIT;
    tr.room = argv[1];
    tr.trim_ns = (int64_t)us * 1000;
    env.body_case = TUTTI__ENVELOPE__BODY_TRIM;
    env.trim = &tr;
    uint64_t seq = 0;
    int rc = write_request(o, &env, NULL, &seq);
    if (rc == 0)
        printf("trim for %s set to %ld us (record %llu)\n", argv[1], us, (unsigned long long)seq);
    return rc;
}

int cli_write_tempo(const tt_conn_opts_t *o, int argc, char **argv)
{
    const char *cue = NULL, *file = NULL, *start_tc = NULL, *fps_s = NULL;
    long countoff = -1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--start-tc") && i + 1 < argc)
            start_tc = argv[++i];
        else if (!strcmp(argv[i], "--fps") && i + 1 < argc)
            fps_s = argv[++i];
        else if (!strcmp(argv[i], "--countoff") && i + 1 < argc) {
            if (tt_opts_parse_long(argv[++i], 0, 8, &countoff) != 0) {
                fprintf(stderr, "tutti tempo: --countoff wants 0..8 bars\n");
                return EXIT_USAGE;
            }
        } else if (argv[i][0] != '-' && !cue)
            cue = argv[i];
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            fprintf(stderr, "tutti tempo: unexpected '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (argc < 2 || strcmp(argv[1], "load") != 0 || !cue || !file) {
        fprintf(stderr, "usage: tutti tempo load CUE FILE [--start-tc TC] [--fps RATE] "
                        "[--countoff BARS]\n");
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN];
    tt_tempo_map_t *map = cli_tempo_read_file(file, why);
    if (!map) {
        fprintf(stderr, "tutti tempo: %s\n", why);
        return 1;
    }
    int rc = 0;
    if (fps_s || start_tc) {
        tt_fps_t fps = tt_tempo_fps(map);
        int64_t frame = tt_tempo_start_frame(map);
        if (fps_s && tt_fps_parse(fps_s, &fps, why) != 0)
            rc = 1;
        else if (start_tc && tt_timecode_parse(start_tc, fps, &frame, why) != 0)
            rc = 1;
        else if (!start_tc) { /* the same label at the new rate */
            char label[TT_TIMECODE_LEN];
            tt_timecode_format(frame, tt_tempo_fps(map), label);
            for (char *p = label; *p; p++)
                if (*p == ';' && !tt_fps_is_drop(fps))
                    *p = ':';
            rc = tt_timecode_parse(label, fps, &frame, why) ? 1 : 0;
        }
        if (rc == 0 && tt_tempo_set_start(map, frame, fps) != 0) {
            rc = 1;
            snprintf(why, sizeof why,
                     "the map does not fit %s: a frame click would leave %d..%d bpm, a free "
                     "section's timecode is not a label there or comes too soon, or a "
                     "streamer in beats would last over 10 s",
                     tt_fps_name(fps), TT_TEMPO_MIN_BPM, TT_TEMPO_MAX_BPM);
        }
    }
    if (rc == 0 && countoff >= 0 && tt_tempo_set_countoff(map, (int)countoff) != 0)
        rc = 1;
    char *text = NULL;
    if (rc == 0 && tt_tempo_format_text(map, &text, why) != 0)
        rc = 1;
    tt_tempo_destroy(&map);
    if (rc != 0) {
        fprintf(stderr, "tutti tempo: %s\n", why);
        free(text);
        return 1;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__TempoLoadRequest tl = TUTTI__TEMPO_LOAD_REQUEST__INIT;
    tl.cue = (char *)cue;
    tl.map_text = text;
    tl.source = (char *)file;
    env.body_case = TUTTI__ENVELOPE__BODY_TEMPO_LOAD;
    env.tempo_load = &tl;
    rc = write_request(o, &env, "tempo map", NULL);
    free(text);
    return rc;
}

int cli_write_arm(const tt_conn_opts_t *o, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tutti arm CUE\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__ArmRequest ar = TUTTI__ARM_REQUEST__INIT;
    ar.cue = argv[1];
    env.body_case = TUTTI__ENVELOPE__BODY_ARM;
    env.arm = &ar;
    return write_request(o, &env, "arm", NULL);
}

int cli_write_cue_add(const tt_conn_opts_t *o, int argc, char **argv)
{
    const char *title = "";
    if (argc == 5 && !strcmp(argv[3], "--title"))
        title = argv[4];
    else if (argc != 3) {
        fprintf(stderr, "usage: tutti cue add CUE [--title T]\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__CueAddRequest ca = TUTTI__CUE_ADD_REQUEST__INIT;
    ca.cue = argv[2];
    ca.title = (char *)title;
    env.body_case = TUTTI__ENVELOPE__BODY_CUE_ADD;
    env.cue_add = &ca;
    return write_request(o, &env, "cue", NULL);
}

int cli_write_take(const tt_conn_opts_t *o, int argc, char **argv)
{
    long take = 0;
    int rate = argc >= 5 && !strcmp(argv[1], "rate");
    int note = argc == 5 && !strcmp(argv[1], "note");
    if ((!rate && !note) || tt_opts_parse_long(argv[3], 1, 1000000, &take) != 0 ||
        (rate && argc != 5 && !(argc == 7 && !strcmp(argv[5], "--note")))) {
        fprintf(stderr, "usage: tutti take rate CUE N circled|hold|ng|false-start [--note TEXT]\n"
                        "       tutti take note CUE N TEXT\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    if (rate) {
        Tutti__TakeRate tr = TUTTI__TAKE_RATE__INIT;
        tr.cue = argv[2];
        tr.take = (uint32_t)take;
        tr.rating = argv[4];
        tr.note = argc == 7 ? argv[6] : "";
        env.body_case = TUTTI__ENVELOPE__BODY_TAKE_RATE;
        env.take_rate = &tr;
        return write_request(o, &env, "rating", NULL);
    }
    Tutti__TakeNote tn = TUTTI__TAKE_NOTE__INIT;
    tn.cue = argv[2];
    tn.take = (uint32_t)take;
    tn.text = argv[4];
    env.body_case = TUTTI__ENVELOPE__BODY_TAKE_NOTE;
    env.take_note = &tn;
    return write_request(o, &env, "take note", NULL);
}

int cli_write_change(const tt_conn_opts_t *o, int argc, char **argv)
{
    const char *cue = NULL, *text = NULL, *bars = "", *parts = "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--text") && i + 1 < argc)
            text = argv[++i];
        else if (!strcmp(argv[i], "--bars") && i + 1 < argc)
            bars = argv[++i];
        else if (!strcmp(argv[i], "--parts") && i + 1 < argc)
            parts = argv[++i];
        else if (argv[i][0] != '-' && !cue)
            cue = argv[i];
        else
            cue = NULL, text = NULL, i = argc;
    }
    if (!cue || !text) {
        fprintf(stderr, "usage: tutti change CUE --text TEXT [--bars A-B] [--parts P,...]\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Change ch = TUTTI__CHANGE__INIT;
    ch.cue = (char *)cue;
    ch.text = (char *)text;
    ch.bars = (char *)bars;
    ch.parts = (char *)parts;
    env.body_case = TUTTI__ENVELOPE__BODY_CHANGE;
    env.change = &ch;
    return write_request(o, &env, "change", NULL);
}

int cli_write_ack(const tt_conn_opts_t *o, int argc, char **argv)
{
    long id = 0;
    if (argc != 2 || tt_opts_parse_long(argv[1], 1, __LONG_MAX__, &id) != 0) {
        fprintf(stderr, "usage: tutti ack CHANGE   (run with the room's key)\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Ack ack = TUTTI__ACK__INIT;
    ack.change = (uint64_t)id;
    env.body_case = TUTTI__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    return write_request(o, &env, "ack", NULL);
}

int cli_write_presence(const tt_conn_opts_t *o, int argc, char **argv)
{
    char *in[256], *out[256];
    size_t n_in = 0, n_out = 0;
    const char *room = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--in") && i + 1 < argc && n_in < 256)
            in[n_in++] = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc && n_out < 256)
            out[n_out++] = argv[++i];
        else if (argv[i][0] != '-' && !room)
            room = argv[i];
        else
            room = NULL, i = argc;
    }
    if (!room || n_in + n_out == 0) {
        fprintf(stderr, "usage: tutti presence ROOM [--in NAME]... [--out NAME]...\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Presence p = TUTTI__PRESENCE__INIT;
    p.room = (char *)room;
    p.in = in;
    p.n_in = n_in;
    p.out = out;
    p.n_out = n_out;
    env.body_case = TUTTI__ENVELOPE__BODY_PRESENCE;
    env.presence = &p;
    return write_request(o, &env, "presence", NULL);
}

#define ROLL_USAGE "tutti " CLI_ROLL_SYNOPSIS

int cli_write_roll(const tt_conn_opts_t *o, int argc, char **argv)
{
    const char *cue = NULL;
    long from_bar = 1, lead_ms = 1500, punch_in = 0, punch_out = 0;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--force")) {
            force = 1;
        } else if ((!strcmp(argv[i], "--punch-in") || !strcmp(argv[i], "--punch-out")) &&
                   i + 1 < argc) {
            long *bar = !strcmp(argv[i], "--punch-in") ? &punch_in : &punch_out;
            if (tt_opts_parse_long(argv[++i], 1, 100000, bar) != 0) {
                fprintf(stderr, "tutti roll: %s wants a bar 1..100000\n", argv[i - 1]);
                return EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--from-bar") && i + 1 < argc) {
            if (tt_opts_parse_long(argv[++i], 1, 100000, &from_bar) != 0) {
                fprintf(stderr, "tutti roll: --from-bar wants 1..100000\n");
                return EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--lead-ms") && i + 1 < argc) {
            if (tt_opts_parse_long(argv[++i], 1, 60000, &lead_ms) != 0) {
                fprintf(stderr, "tutti roll: --lead-ms wants 1..60000\n");
                return EXIT_USAGE;
            }
        } else if (argv[i][0] != '-' && !cue) {
            cue = argv[i];
        } else {
            fprintf(stderr, "usage: %s\n", ROLL_USAGE);
            return EXIT_USAGE;
        }
    }
    if (!cue || (punch_in != 0) != (punch_out != 0)) {
        fprintf(stderr, "usage: %s\n", ROLL_USAGE);
        if (cue)
            fprintf(stderr, "tutti roll: --punch-in and --punch-out go together\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__RollRequest rr = TUTTI__ROLL_REQUEST__INIT;
    rr.cue = (char *)cue;
    rr.from_bar = (int32_t)from_bar;
    rr.lead_ms = (uint32_t)lead_ms;
    rr.force = force;
    rr.punch_in = (int32_t)punch_in;
    rr.punch_out = (int32_t)punch_out;
    env.body_case = TUTTI__ENVELOPE__BODY_ROLL;
    env.roll = &rr;
    return write_request(o, &env, "roll", NULL);
}

#define CALL_USAGE                                                                                 \
    "tutti call start --rules PRESET|FILE | call break-start | call break-end | call wrap"

int cli_write_call(const tt_conn_opts_t *o, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s\n", CALL_USAGE);
        return EXIT_USAGE;
    }
    const char *action = argv[1];
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__CallEvent ev = TUTTI__CALL_EVENT__INIT;
    char text[TT_RULES_MAX_TEXT];
    tt_rules_t rules;
    if (!strcmp(action, "start")) {
        if (argc != 4 || strcmp(argv[2], "--rules") != 0) {
            fprintf(stderr, "usage: %s\n", CALL_USAGE);
            return EXIT_USAGE;
        }
        char why[TT_WHY_LEN];
        if (tt_rules_load(argv[3], &rules, why) != 0 ||
            tt_rules_format(&rules, text, sizeof text) < 0) {
            fprintf(stderr, "tutti call: --rules %s: %s\n", argv[3], why);
            return 1;
        }
        ev.rules_name = rules.id;
        ev.rules_text = text;
    } else if (argc != 2 || (strcmp(action, "break-start") && strcmp(action, "break-end") &&
                             strcmp(action, "wrap"))) {
        fprintf(stderr, "usage: %s\n", CALL_USAGE);
        return EXIT_USAGE;
    }
    ev.action = (char *)action;
    env.body_case = TUTTI__ENVELOPE__BODY_CALL_EVENT;
    env.call_event = &ev;
    return write_request(o, &env, "call event", NULL);
}

int cli_write_stop(const tt_conn_opts_t *o, int argc, char **argv)
{
    long lead_ms = 0;
    if (argc == 3 && !strcmp(argv[1], "--lead-ms")) {
        if (tt_opts_parse_long(argv[2], 0, 60000, &lead_ms) != 0) {
            fprintf(stderr, "tutti stop: --lead-ms wants 0..60000\n");
            return EXIT_USAGE;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: tutti stop [--lead-ms MS]\n");
        return EXIT_USAGE;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__StopRequest sr = TUTTI__STOP_REQUEST__INIT;
    sr.lead_ms = (uint32_t)lead_ms;
    env.body_case = TUTTI__ENVELOPE__BODY_STOP;
    env.stop = &sr;
    return write_request(o, &env, "stop", NULL);
}
