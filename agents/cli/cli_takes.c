/* cli_takes: `tutti takes`, the take sheet: every take of every cue (or
 * one cue) from the log fetched whole and folded, as text, --json or
 * --csv. */
#define _POSIX_C_SOURCE 200809L
#include "cli_takes.h"
#include "cli_conn.h"
#include "cli_read.h"
#include "tt_media.h"
#include "tt_session.h"
#include "tt_tempo.h"
#include "tt_timecode.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rooms online at the roll whose files have not arrived: "a+b", "" if none. */
static void media_pending(const tt_session_t *st, const char *cue, const tt_session_take_t *t,
                          char *out, size_t cap)
{
    char online[sizeof t->rooms_online];
    snprintf(online, sizeof online, "%s", t->rooms_online);
    size_t used = 0;
    out[0] = '\0';
    for (char *save = NULL, *room = strtok_r(online, "+", &save); room;
         room = strtok_r(NULL, "+", &save))
        if (!tt_media_has_room(&st->media, cue, t->number, room) && used < cap)
            used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? "+" : "", room);
}

int cli_takes(const tt_conn_opts_t *o, int argc, char **argv)
{
    int as_json = 0, as_csv = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (!strcmp(argv[i], "--csv"))
            as_csv = 1;
        else if (!strcmp(argv[i], "--cue") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: tutti takes [--json|--csv] [--cue CUE]\n");
            return EXIT_USAGE;
        }
    }
    cli_conn_t s;
    tt_session_t st;
    int rc = cli_conn_open(o, &s);
    if (rc == 0)
        rc = cli_read_fold_each(&s, &st, NULL, NULL);
    if (rc != 0) {
        cli_conn_close(&s);
        return rc;
    }
    if (as_csv)
        printf("cue,take,state,start_tc,from_bar,duration_s,rating,notes,rooms_online,"
               "changes_acked,files_arrived,files_pending\n");
    else if (!as_json)
        printf("%-10s %5s %-12s %-12s %8s %10s %-12s %5s  %-24s %-14s %s\n", "cue", "take", "state",
               "start tc", "from bar", "duration", "rating", "notes", "rooms online",
               "changes acked", "files (arrived / pending)");
    for (size_t i = 0; i < st.n_cues; i++) {
        const tt_session_cue_t *c = &st.cues[i];
        if (only && strcmp(only, c->name) != 0)
            continue;
        tt_fps_t fps = TT_FPS_24;
        tt_tempo_map_t *map =
            c->map_text ? tt_tempo_parse_text(c->map_text, strlen(c->map_text), NULL) : NULL;
        if (map)
            fps = tt_tempo_fps(map);
        tt_tempo_destroy(&map);
        for (size_t k = 0; k < c->n_takes; k++) {
            const tt_session_take_t *t = &c->takes[k];
            char tc[TT_TIMECODE_LEN];
            tt_timecode_format(t->start_frame, fps, tc);
            char pending[sizeof t->rooms_online], arrived[256];
            media_pending(&st, c->name, t, pending, sizeof pending);
            tt_media_rooms(&st.media, c->name, t->number, arrived, sizeof arrived);
            /* A stop before the first click makes a take of no length, not a negative one. */
            double dur = t->end_session_ns > t->start_session_ns
                             ? (double)(t->end_session_ns - t->start_session_ns) / 1e9
                             : 0.0;
            if (as_json) {
                json_t *j = json_pack(
                    "{s:s, s:i, s:s, s:s, s:i, s:f, s:I, s:s, s:i, s:s, s:b, s:s}", "cue", c->name,
                    "take", (int)t->number, "state", cli_take_state_name(t->state), "start_tc", tc,
                    "from_bar", (int)t->from_bar, "duration_s", dur, "roll_seq",
                    (json_int_t)t->roll_seq, "rating", t->rating, "notes", (int)t->notes,
                    "rooms_online", t->rooms_online, "changes_acked", !t->forced, "not_acked",
                    t->not_acked);
                json_object_set_new(j, "files_arrived", json_string(arrived));
                json_object_set_new(j, "files_pending", json_string(pending));
                json_object_set_new(j, "files",
                                    json_integer(tt_media_count(&st.media, c->name, t->number)));
                if (t->punch_in_bar) {
                    json_object_set_new(j, "punch_in_bar", json_integer(t->punch_in_bar));
                    json_object_set_new(j, "punch_out_bar", json_integer(t->punch_out_bar));
                }
                cli_print_json_line(j);
                json_decref(j);
            } else if (as_csv) {
                /* Every text cell through tt_csv: a cue named "-1+1" stays text. */
                char number[16], bar[16], seconds[32], notes[16];
                snprintf(number, sizeof number, "%u", t->number);
                snprintf(bar, sizeof bar, "%d", t->from_bar);
                snprintf(seconds, sizeof seconds, "%.3f", dur);
                snprintf(notes, sizeof notes, "%u", t->notes);
                const char *cells[] = {c->name,
                                       number,
                                       cli_take_state_name(t->state),
                                       tc,
                                       bar,
                                       seconds,
                                       t->rating,
                                       notes,
                                       t->rooms_online,
                                       t->forced ? "forced" : "yes",
                                       arrived,
                                       pending};
                for (size_t k = 0; k < sizeof cells / sizeof *cells; k++)
                    cli_csv_field(cells[k], k + 1 == sizeof cells / sizeof *cells);
            } else {
                char acked[300];
                snprintf(acked, sizeof acked, "%s%s", t->forced ? "forced past " : "yes",
                         t->forced ? t->not_acked : "");
                printf("%-10s %5u %-12s %-12s %8d %9.1fs %-12s %5u  %-24s %-14s %s / %s\n", c->name,
                       t->number, cli_take_state_name(t->state), tc, t->from_bar, dur,
                       t->rating[0] ? t->rating : "-", t->notes,
                       t->rooms_online[0] ? t->rooms_online : "-", acked,
                       arrived[0] ? arrived : "-", pending[0] ? pending : "-");
            }
        }
    }
    tt_session_clear(&st);
    cli_conn_close(&s);
    return 0;
}
