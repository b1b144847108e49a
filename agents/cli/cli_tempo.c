/* cli_tempo: see cli_tempo.h. The listing walks the map's changes
 * (tt_tempo_change), so it shows exactly what the map holds, implied marks
 * (a rit's end, a free section's resume) included; positions and times
 * come from the same conversions every agent renders with. */
#define _POSIX_C_SOURCE 200809L
#include "cli_tempo.h"
#include "cli_read.h"
#include "cli_write.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_smf.h"
#include "tt_tempo_visual.h"
#include "tt_timecode.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

tt_tempo_map_t *cli_tempo_read_file(const char *path, char *why)
{
    char inner[TT_WHY_LEN];
    char *data = NULL;
    size_t len = 0;
    if (tt_file_read(path, TT_SMF_MAX_BYTES, &data, &len, inner) != 0) {
        tt_fail(why, TT_ERR_IO, "%s", inner);
        return NULL;
    }
    int is_smf = len >= 4 && memcmp(data, "MThd", 4) == 0;
    int says_smf = ends_with(path, ".mid") || ends_with(path, ".midi") || ends_with(path, ".smf");
    tt_tempo_map_t *map = NULL;
    if (is_smf || says_smf || memchr(data, '\0', len))
        map = tt_smf_read((const uint8_t *)data, len, inner);
    else
        map = tt_tempo_parse_text(data, len, inner);
    free(data);
    if (!map)
        tt_fail(why, TT_ERR_INVALID, "%s: %s", path, inner);
    return map;
}

/* The map of --file MAP or of CUE (fetched). *version 0 for a file. */
static tt_tempo_map_t *get_map(const tt_conn_opts_t *o, const char *cue, const char *file,
                               unsigned *version, int *rc)
{
    char why[TT_WHY_LEN];
    *version = 0;
    if (file) {
        tt_tempo_map_t *m = cli_tempo_read_file(file, why);
        if (!m) {
            fprintf(stderr, "tutti: %s\n", why);
            *rc = 1;
        }
        return m;
    }
    char *text = NULL;
    if ((*rc = cli_read_cue_map(o, cue, &text, version)) != 0)
        return NULL;
    tt_tempo_map_t *m = tt_tempo_parse_text(text, strlen(text), why);
    free(text);
    if (!m) {
        fprintf(stderr, "tutti: cue %s: its stored map does not read: %s\n", cue, why);
        *rc = 1;
    }
    return m;
}

/* "q.=12-4 (115.085 q/min)": the tempo as written, and in quarters per
 * minute when the unit or a frame click hides it. */
static void tempo_text(const tt_tempo_value_t *v, double bpm, char *out, size_t room)
{
    char w[64];
    tt_tempo_value_text(v, w, sizeof w);
    if (v->unit == TT_UNIT_Q && !v->frames8)
        snprintf(out, room, "%s", w);
    else
        snprintf(out, room, "%s (q=%.3f)", w, bpm);
}

static void pos_text(tt_bbt_t p, char *out, size_t room)
{
    snprintf(out, room, "%d.%d.%d", (int)p.bar, (int)p.beat, (int)p.tick);
}

static void tc_at(const tt_tempo_map_t *m, int64_t ns, char out[TT_TIMECODE_LEN])
{
    tt_timecode_format(tt_tempo_ns_to_frame(m, ns), tt_tempo_fps(m), out);
}

/* One change as words: "6/8 in 2  q.=12-4 (q=172.627)", "rit q=80 over 6". */
static void change_words(const tt_tempo_change_t *c, char *out, size_t room)
{
    char a[96] = "", b[128] = "", t[96];
    size_t len = 0;
    out[0] = '\0';
    if (c->has_meter) {
        tt_tempo_meter_text(&c->meter, a, sizeof a);
        len += (size_t)snprintf(out + len, room - len, "%s", a);
    }
    if (c->has_tempo) {
        tt_tempo_value_text(&c->v, t, sizeof t);
        if (c->named)
            snprintf(b, sizeof b, "%s %s over %d", c->named == TT_TEMPO_RIT ? "rit" : "accel", t,
                     (int)c->over);
        else if (c->implied && c->ramp)
            snprintf(b, sizeof b, "%s reached (end of rit/accel)", t);
        else if (c->free_from)
            b[0] = '\0'; /* the caller says where it resumes */
        else if (c->implied)
            snprintf(b, sizeof b, "resumes %s", t);
        else {
            tempo_text(&c->v, (double)c->bpm_n / (double)c->bpm_d, b, sizeof b);
            if (c->ramp && len + strlen(b) + 6 < sizeof b)
                strcat(b, " ramp");
        }
        if (b[0])
            len += (size_t)snprintf(out + len, room - len, "%s%s", len ? "  " : "", b);
    }
    if (c->click >= 0 && len < room)
        len += (size_t)snprintf(out + len, room - len, "%sclick %s", len ? "  " : "",
                                c->click ? "on" : "off");
    if (c->subdivide && len < room)
        len += (size_t)snprintf(out + len, room - len, "%ssubdivide %d", len ? "  " : "",
                                c->subdivide);
}

static int usage_tempo(void)
{
    fprintf(stderr, "usage: tutti tempo load CUE FILE [--start-tc TC] [--fps RATE] "
                    "[--countoff BARS]\n"
                    "       tutti tempo show (CUE | --file MAP) [--json]\n"
                    "       tutti tempo check FILE [--json]\n"
                    "       tutti tempo export (CUE | --file MAP) --smf OUT.mid\n");
    return EXIT_USAGE;
}

static void json_line(json_t *j)
{
    cli_print_json_line(j);
    json_decref(j);
}

/* "2s", "1.5b" */
static void len_text(const tt_visual_spec_t *v, char *out, size_t room)
{
    snprintf(out, room, "%.3f", v->len_milli / 1000.0);
    char *e = out + strlen(out);
    while (e[-1] == '0')
        *--e = '\0';
    if (e[-1] == '.')
        *--e = '\0';
    snprintf(e, room - (size_t)(e - out), "%s", v->len_unit == TT_VISUAL_LEN_BEATS ? "b" : "s");
}

/* The visual markers: position, timecode, seconds, their words, the color
 * shown and, for a streamer or warning, where it starts. */
static void show_visuals(const tt_tempo_map_t *m, int as_json)
{
    tt_visual_t v;
    char pos[48], tc[TT_TIMECODE_LEN], start_tc[TT_TIMECODE_LEN], words[TT_VISUAL_WORDS_LEN];
    for (size_t i = 0; tt_tempo_visual(m, i, &v) == 0; i++) {
        const tt_visual_spec_t *s = &v.spec;
        pos_text(s->pos, pos, sizeof pos);
        tc_at(m, v.ns, tc);
        tc_at(m, v.start_ns, start_tc);
        tt_tempo_visual_words(s, 0, words, sizeof words);
        int has_len = s->len_unit != TT_VISUAL_LEN_NONE;
        if (as_json) {
            char rgb[8];
            json_t *j =
                json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:f, s:I, s:s, s:s, s:s, s:b}", "visual",
                          tt_visual_kind_name(s->kind), "pos", pos, "bar", (int)s->pos.bar, "beat",
                          (int)s->pos.beat, "tick", (int)s->pos.tick, "timecode", tc, "seconds",
                          (double)v.ns / 1e9, "ns", (json_int_t)v.ns, "words", words, "color",
                          v.color_text, "rgb", tt_visual_color_text(TT_COLOR_RGB, v.rgb, rgb),
                          "color_default", v.color_default);
            if (has_len) {
                char len[24];
                len_text(s, len, sizeof len);
                json_object_set_new(j, "len", json_string(len));
                json_object_set_new(j, "start_seconds", json_real((double)v.start_ns / 1e9));
                json_object_set_new(j, "start_timecode", json_string(start_tc));
            }
            if (s->flashes)
                json_object_set_new(j, "flashes", json_integer(s->flashes));
            if (s->name[0])
                json_object_set_new(j, "name", json_string(s->name));
            json_line(j);
        } else {
            /* An explicit color is in the words already. */
            printf("%-12s %-12s %12.3f  %s", pos, tc, (double)v.ns / 1e9, words);
            if (v.color_default)
                printf("  %s (default)", v.color_text);
            if (has_len)
                printf("  from %.3f (%s)", (double)v.start_ns / 1e9, start_tc);
            putchar('\n');
        }
    }
}

/* The listing: a header, every change, the markers, the visual markers, the
 * end. */
static void show_map(const tt_tempo_map_t *m, const char *name, unsigned version, int as_json)
{
    tt_fps_t fps = tt_tempo_fps(m);
    char tc[TT_TIMECODE_LEN], pos[48], words[320];
    tt_timecode_format(tt_tempo_start_frame(m), fps, tc);
    int64_t lead = tt_tempo_start_ns(m);
    tt_bbt_t lead_pos = tt_tempo_ns_to_bbt(m, lead);
    char lead_tc[TT_TIMECODE_LEN];
    tc_at(m, lead, lead_tc);
    if (as_json) {
        json_t *j =
            json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "map", name, "fps", tt_fps_name(fps),
                      "start_tc", tc, "countoff", tt_tempo_countoff_bars(m), "pickup",
                      tt_tempo_pickup_beats(m), "end_bar", (int)tt_tempo_end_bar(m));
        if (version)
            json_object_set_new(j, "version", json_integer(version));
        pos_text(lead_pos, pos, sizeof pos);
        json_object_set_new(j, "lead_in_pos", json_string(pos));
        json_object_set_new(j, "lead_in_tc", json_string(lead_tc));
        json_line(j);
    } else {
        printf("%s", name);
        if (version)
            printf("  map v%u", version);
        printf("  fps %s  start %s (bar 1)  countoff %d", tt_fps_name(fps), tc,
               tt_tempo_countoff_bars(m));
        if (tt_tempo_pickup_beats(m))
            printf("  pickup %d", tt_tempo_pickup_beats(m));
        if (tt_tempo_end_bar(m))
            printf("  end %d", (int)tt_tempo_end_bar(m));
        putchar('\n');
        if (lead < 0) {
            pos_text(lead_pos, pos, sizeof pos);
            printf("first click %s at %s\n", pos, lead_tc);
        }
        printf("%-12s %-12s %12s  %s\n", "position", "timecode", "seconds", "change");
    }
    tt_tempo_change_t c;
    for (size_t i = 0; tt_tempo_change(m, i, &c) == 0; i++) {
        pos_text(c.pos, pos, sizeof pos);
        tc_at(m, c.ns, tc);
        change_words(&c, words, sizeof words);
        char free_tc[TT_TIMECODE_LEN] = "";
        if (c.free_from) {
            tt_timecode_format(c.resume_frame, fps, free_tc);
            size_t len = strlen(words);
            snprintf(words + len, sizeof words - len, "%sfree until %d at %s (no click)",
                     len ? "  " : "", (int)c.free_until, free_tc);
        }
        if (as_json) {
            json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:s, s:f}", "pos", pos, "bar",
                                  (int)c.pos.bar, "beat", (int)c.pos.beat, "tick", (int)c.pos.tick,
                                  "timecode", tc, "seconds", (double)c.ns / 1e9);
            if (c.has_meter) {
                char mt[96];
                tt_tempo_meter_text(&c.meter, mt, sizeof mt);
                json_object_set_new(j, "meter", json_string(mt));
            }
            if (c.has_tempo) {
                char v[64];
                tt_tempo_value_text(&c.v, v, sizeof v);
                json_object_set_new(j, c.named ? "target" : "tempo", json_string(v));
                json_object_set_new(j, "bpm", json_real(c.bpm));
                json_object_set_new(j, "ramp", json_boolean(c.ramp));
                json_object_set_new(j, "implied", json_boolean(c.implied));
                if (c.named) {
                    json_object_set_new(j, "named",
                                        json_string(c.named == TT_TEMPO_RIT ? "rit" : "accel"));
                    json_object_set_new(j, "over", json_integer(c.over));
                }
                if (c.free_from) {
                    json_object_set_new(j, "free_until", json_integer(c.free_until));
                    json_object_set_new(j, "resume_tc", json_string(free_tc));
                }
            }
            if (c.click >= 0)
                json_object_set_new(j, "click", json_string(c.click ? "on" : "off"));
            if (c.subdivide)
                json_object_set_new(j, "subdivide", json_integer(c.subdivide));
            json_line(j);
        } else {
            printf("%-12s %-12s %12.3f  %s\n", pos, tc, (double)c.ns / 1e9, words);
        }
    }
    tt_bbt_t mp;
    const char *mname;
    for (size_t i = 0; tt_tempo_marker(m, i, &mp, &mname) == 0; i++) {
        int64_t ns = tt_tempo_bbt_to_ns(m, mp);
        pos_text(mp, pos, sizeof pos);
        tc_at(m, ns, tc);
        if (as_json)
            json_line(json_pack("{s:s, s:s, s:s, s:f}", "marker", mname, "pos", pos, "timecode", tc,
                                "seconds", (double)ns / 1e9));
        else
            printf("%-12s %-12s %12.3f  marker \"%s\"\n", pos, tc, (double)ns / 1e9, mname);
    }
    show_visuals(m, as_json);
    if (tt_tempo_end_bar(m)) {
        tt_bbt_t e = {tt_tempo_end_bar(m) + 1, 1, 0};
        int64_t ns = tt_tempo_bbt_to_ns(m, e);
        pos_text(e, pos, sizeof pos);
        tc_at(m, ns, tc);
        if (as_json)
            json_line(json_pack("{s:s, s:s, s:f, s:i}", "end", pos, "timecode", tc, "seconds",
                                (double)ns / 1e9, "last_bar", (int)tt_tempo_end_bar(m)));
        else
            printf("%-12s %-12s %12.3f  end: the click stops (last bar %d)\n", pos, tc,
                   (double)ns / 1e9, (int)tt_tempo_end_bar(m));
    }
}

static int cmd_show(const tt_conn_opts_t *o, int argc, char **argv, int check)
{
    const char *cue = NULL, *file = NULL;
    int as_json = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (!check && !strcmp(argv[i], "--file") && i + 1 < argc)
            file = argv[++i];
        else if (argv[i][0] != '-' && !cue && !file && check)
            file = argv[i];
        else if (argv[i][0] != '-' && !cue && !file)
            cue = argv[i];
        else
            return usage_tempo();
    }
    if (!cue && !file)
        return usage_tempo();
    unsigned version = 0;
    int rc = 0;
    tt_tempo_map_t *m = get_map(o, cue, file, &version, &rc);
    if (!m)
        return rc;
    show_map(m, cue ? cue : file, version, as_json);
    tt_tempo_destroy(&m);
    return 0;
}

static int cmd_export(const tt_conn_opts_t *o, int argc, char **argv)
{
    const char *cue = NULL, *file = NULL, *out = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--file") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--smf") && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] != '-' && !cue)
            cue = argv[i];
        else
            return usage_tempo();
    }
    if ((!cue == !file) || !out)
        return usage_tempo();
    unsigned version = 0;
    int rc = 0;
    tt_tempo_map_t *m = get_map(o, cue, file, &version, &rc);
    if (!m)
        return rc;
    char why[TT_WHY_LEN];
    uint8_t *smf = NULL;
    size_t len = 0;
    rc = tt_smf_write(m, &smf, &len, why);
    if (rc == 0)
        rc = tt_file_write_atomic(out, smf, len, 0644, 0, why);
    if (rc == 0)
        printf("%s: %zu bytes, Standard MIDI File (format 0, 960 per quarter)\n", out, len);
    else
        fprintf(stderr, "tutti tempo export: %s\n", why);
    free(smf);
    tt_tempo_destroy(&m);
    return rc ? 1 : 0;
}

int cli_tempo_main(const tt_conn_opts_t *o, int argc, char **argv)
{
    if (argc < 2)
        return usage_tempo();
    if (!strcmp(argv[1], "load"))
        return cli_write_tempo(o, argc, argv);
    if (!strcmp(argv[1], "show"))
        return cmd_show(o, argc, argv, 0);
    if (!strcmp(argv[1], "check"))
        return cmd_show(o, argc, argv, 1);
    if (!strcmp(argv[1], "export"))
        return cmd_export(o, argc, argv);
    return usage_tempo();
}

/* ---- locate ---- */

/* "12", "12.2", "12.2.480" (bar may be negative: the count-off). */
static int parse_position(const char *s, tt_bbt_t *out)
{
    long v[3] = {0, 1, 0};
    int n = 0;
    const char *p = s;
    while (n < 3) {
        char *end;
        if (!(isdigit((unsigned char)*p) || (n == 0 && *p == '-' && isdigit((unsigned char)p[1]))))
            return -1;
        v[n++] = strtol(p, &end, 10);
        if (v[n - 1] > 1000000 || v[n - 1] < -1000)
            return -1;
        if (*end == '\0')
            break;
        if (*end != '.')
            return -1;
        p = end + 1;
    }
    if (*p == '\0' && n == 0)
        return -1;
    *out = (tt_bbt_t){(int32_t)v[0], (int32_t)v[1], (int32_t)v[2]};
    return 0;
}

/* What the click does at tick: "", "count-off", "pickup", "free time",
 * "click off", "after the end". */
static const char *state_at(const tt_tempo_map_t *m, int64_t tick)
{
    int32_t num, den;
    tt_tempo_meter_at(m, 1, &num, &den);
    int64_t pickup = -(int64_t)tt_tempo_pickup_beats(m) * (3840 / den);
    if (tick < 0)
        return tick >= pickup ? "pickup" : "before bar 1 (count-off)";
    if (tt_tempo_click_on_at(m, tick))
        return "";
    if (tt_tempo_end_bar(m) &&
        tick >= tt_tempo_bbt_to_tick(m, (tt_bbt_t){tt_tempo_end_bar(m) + 1, 1, 0}))
        return "after the end (no click)";
    tt_tempo_change_t c;
    for (size_t i = 0; tt_tempo_change(m, i, &c) == 0 && c.tick <= tick; i++)
        if (c.free_from && tick < tt_tempo_bbt_to_tick(m, (tt_bbt_t){c.free_until, 1, 0}))
            return "in free time (positions as if at its one fitted tempo)";
    return "click off";
}

int cli_tempo_locate(const tt_conn_opts_t *o, int argc, char **argv)
{
    const char *cue = NULL, *file = NULL, *what = NULL, *args[2];
    int as_json = 0, n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (!strcmp(argv[i], "--file") && i + 1 < argc)
            file = argv[++i];
        else if ((argv[i][0] != '-' || isdigit((unsigned char)argv[i][1])) && n < 2)
            args[n++] = argv[i]; /* "-1.1" is a count-off bar */
        else {
            fprintf(stderr, "tutti locate: unexpected '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (file && n == 1)
        what = args[0];
    else if (!file && n == 2) {
        cue = args[0];
        what = args[1];
    } else {
        fprintf(stderr, "usage: tutti locate (CUE | --file MAP) (BAR[.BEAT[.TICK]] | TIMECODE | "
                        "MARKER) [--json]\n");
        return EXIT_USAGE;
    }
    unsigned version = 0;
    int rc = 0;
    tt_tempo_map_t *m = get_map(o, cue, file, &version, &rc);
    if (!m)
        return rc;
    char why[TT_WHY_LEN], tc[TT_TIMECODE_LEN], pos[48];
    tt_fps_t fps = tt_tempo_fps(m);
    tt_bbt_t p;
    int64_t frame, ns, tick;
    const char *from;
    if (strchr(what, ':') || strchr(what, ';')) {
        /* Timecode -> position: the tick at the frame's start. */
        if (tt_timecode_parse(what, fps, &frame, why) != 0) {
            fprintf(stderr, "tutti locate: %s\n", why);
            tt_tempo_destroy(&m);
            return EXIT_USAGE;
        }
        /* The label nearest the cue: within half a day of its start. */
        int64_t day = tt_timecode_frames_per_day(fps), d = frame - tt_tempo_start_frame(m);
        if (d > day / 2)
            frame -= day;
        else if (d < -day / 2)
            frame += day;
        ns = tt_tempo_frame_to_ns(m, frame);
        tick = tt_tempo_ns_to_tick(m, ns);
        p = tt_tempo_tick_to_bbt(m, tick);
        from = "timecode";
    } else {
        if (parse_position(what, &p) == 0) {
            int32_t num, den;
            tt_tempo_meter_at(m, p.bar, &num, &den);
            if (p.beat < 1 || p.beat > num || p.tick < 0 || p.tick >= 3840 / den) {
                fprintf(stderr,
                        "tutti locate: %s is not in bar %d (%d/%d: beats 1..%d, ticks 0..%d)\n",
                        what, (int)p.bar, (int)num, (int)den, (int)num, 3840 / (int)den - 1);
                tt_tempo_destroy(&m);
                return EXIT_USAGE;
            }
            from = "position";
        } else {
            const char *name = NULL;
            size_t i = 0;
            while (tt_tempo_marker(m, i, &p, &name) == 0 && strcmp(name, what) != 0)
                i++;
            int found = tt_tempo_marker(m, i, &p, &name) == 0;
            tt_visual_t v;
            for (i = 0; !found && tt_tempo_visual(m, i, &v) == 0; i++)
                if (v.spec.name[0] && strcmp(v.spec.name, what) == 0) {
                    p = v.spec.pos;
                    found = 1;
                }
            if (!found) {
                fprintf(stderr,
                        "tutti locate: '%s' is neither BAR[.BEAT[.TICK]], a timecode nor a "
                        "marker or named visual marker of this map\n",
                        what);
                tt_tempo_destroy(&m);
                return EXIT_USAGE;
            }
            from = "marker";
        }
        tick = tt_tempo_bbt_to_tick(m, p);
        ns = tt_tempo_tick_to_ns(m, tick);
        frame = tt_tempo_ns_to_frame(m, ns);
    }
    tt_timecode_format(frame, fps, tc);
    pos_text(p, pos, sizeof pos);
    int64_t into = ns - tt_tempo_frame_to_ns(m, frame); /* ns into the frame */
    const char *state = state_at(m, tick);
    if (as_json) {
        json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:I, s:f, s:f, s:f}", "from",
                              from, "pos", pos, "bar", (int)p.bar, "beat", (int)p.beat, "tick",
                              (int)p.tick, "timecode", tc, "fps", tt_fps_name(fps), "ns",
                              (json_int_t)ns, "seconds", (double)ns / 1e9, "into_frame_ms",
                              (double)into / 1e6, "bpm", tt_tempo_bpm_at(m, ns));
        if (state[0])
            json_object_set_new(j, "state", json_string(state));
        json_line(j);
    } else {
        printf("%s = %s +%.3f ms (%.6f s from bar 1, q=%.3f)%s%s\n", pos, tc, (double)into / 1e6,
               (double)ns / 1e9, tt_tempo_bpm_at(m, ns), state[0] ? ", " : "", state);
    }
    tt_tempo_destroy(&m);
    return 0;
}
