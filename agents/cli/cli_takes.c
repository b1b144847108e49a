/* cli_takes: `tutti takes`, the take sheet: every take of every cue (or
 * one cue) from the log fetched whole and folded, as text, --json or
 * --csv, with what an editor needs of each: the start timecode of the
 * from-bar downbeat, computed with the tempo map version the take was
 * rolled with (a map reloaded later, at another rate, never relabels an
 * old take), the map version, the punch range, every note's text and the
 * prelays and guides heard (those of the cue put before the roll; the
 * roll gate made every room that must hold one hold it, or the Roll
 * names who lacked what).
 *
 * The fold keeps only each cue's latest map and a take's latest note, so
 * the sheet collects every map version and note from the records as the
 * log folds (cli_read_fold_each's callback). */
#define _POSIX_C_SOURCE 200809L
#include "cli_takes.h"
#include "cli_conn.h"
#include "cli_read.h"
#include "tt_media.h"
#include "tt_session.h"
#include "tt_tempo.h"
#include "tt_timecode.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rooms recording at the roll (online and capturing) whose files have not
 * arrived: "a+b", "" if none. A room that does not capture owes no file. */
static void media_pending(const tt_session_t *st, const char *cue, const tt_session_take_t *t,
                          char *out, size_t cap)
{
    char online[sizeof t->rooms_capturing];
    snprintf(online, sizeof online, "%s", t->rooms_capturing);
    size_t used = 0;
    out[0] = '\0';
    for (char *save = NULL, *room = strtok_r(online, "+", &save); room;
         room = strtok_r(NULL, "+", &save))
        if (!tt_media_has_room(&st->media, cue, t->number, room) && used < cap)
            used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? "+" : "", room);
}

typedef struct {
    char cue[TT_CUE_MAX_NAME + 1];
    uint32_t version;
    tt_tempo_map_t *map; /* owned; NULL when the stored text does not parse */
} map_version_t;

typedef struct {
    char cue[TT_CUE_MAX_NAME + 1];
    uint32_t take;
    char *text; /* owned: the note, or "[RATING] note" for a rating's note */
} take_note_t;

typedef struct {
    char cue[TT_CUE_MAX_NAME + 1];
    uint32_t take;
    char *missing; /* owned: the Roll's prelays_missing, "ROOM:FILE, ..." ("" none) */
} roll_missing_t;

typedef struct {
    map_version_t *maps;
    size_t n_maps, cap_maps;
    take_note_t *notes;
    size_t n_notes, cap_notes;
    roll_missing_t *rolls;
    size_t n_rolls, cap_rolls;
    int out_of_memory;
} sheet_log_t;

static int grow(void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t more = *cap ? 2 * *cap : 16;
    void *p = realloc(*items, more * size);
    if (!p)
        return -1;
    *items = p;
    *cap = more;
    return 0;
}

static void add_map(sheet_log_t *l, const Tutti__TempoLoad *tl)
{
    if (grow((void **)&l->maps, &l->cap_maps, l->n_maps, sizeof *l->maps) != 0) {
        l->out_of_memory = 1;
        return;
    }
    map_version_t *m = &l->maps[l->n_maps];
    snprintf(m->cue, sizeof m->cue, "%s", tl->cue);
    m->version = tl->version;
    /* Parsed once here, however many takes rolled with this version. */
    const char *text = tl->map_text ? tl->map_text : "";
    m->map = tt_tempo_parse_text(text, strlen(text), NULL);
    l->n_maps++;
}

static void add_note(sheet_log_t *l, const char *cue, uint32_t take, const char *rating,
                     const char *text)
{
    if (grow((void **)&l->notes, &l->cap_notes, l->n_notes, sizeof *l->notes) != 0) {
        l->out_of_memory = 1;
        return;
    }
    take_note_t *n = &l->notes[l->n_notes];
    snprintf(n->cue, sizeof n->cue, "%s", cue);
    n->take = take;
    size_t len = strlen(text) + (rating ? strlen(rating) + 4 : 0) + 1;
    if (!(n->text = malloc(len))) {
        l->out_of_memory = 1;
        return;
    }
    if (rating)
        snprintf(n->text, len, "[%s] %s", rating, text);
    else
        snprintf(n->text, len, "%s", text);
    l->n_notes++;
}

static void add_roll(sheet_log_t *l, const Tutti__Roll *r)
{
    if (!r->take || r->n_prelays_missing == 0)
        return;
    if (grow((void **)&l->rolls, &l->cap_rolls, l->n_rolls, sizeof *l->rolls) != 0) {
        l->out_of_memory = 1;
        return;
    }
    roll_missing_t *m = &l->rolls[l->n_rolls];
    snprintf(m->cue, sizeof m->cue, "%s", r->cue);
    m->take = r->take;
    size_t len = 1;
    for (size_t i = 0; i < r->n_prelays_missing; i++)
        len += strlen(r->prelays_missing[i]) + 2;
    if (!(m->missing = malloc(len))) {
        l->out_of_memory = 1;
        return;
    }
    m->missing[0] = '\0';
    for (size_t i = 0; i < r->n_prelays_missing; i++) {
        if (i)
            strcat(m->missing, ", ");
        strcat(m->missing, r->prelays_missing[i]);
    }
    l->n_rolls++;
}

static const char *roll_missing(const sheet_log_t *l, const char *cue, uint32_t take)
{
    for (size_t i = 0; i < l->n_rolls; i++)
        if (l->rolls[i].take == take && !strcmp(l->rolls[i].cue, cue))
            return l->rolls[i].missing;
    return "";
}

/* The prelays and guides of the cue whose records came before the take's
 * roll, their file names joined with sep into out (cap > 0; a name that
 * does not fit is left out). */
static void take_prelays(const tt_session_t *st, const char *cue, const tt_session_take_t *t,
                         const char *sep, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < st->media.n; i++) {
        const tt_media_entry_t *e = &st->media.items[i];
        if (e->kind == TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE || e->seq > t->roll_seq ||
            strcmp(e->cue, cue) != 0)
            continue;
        int n = snprintf(out + used, cap - used, "%s%s", used ? sep : "", e->file);
        if (n < 0 || (size_t)n >= cap - used) {
            out[used] = '\0';
            break;
        }
        used += (size_t)n;
    }
}

static void collect(void *arg, const Tutti__Record *rec)
{
    sheet_log_t *l = arg;
    if (rec->body_case == TUTTI__RECORD__BODY_ROLL)
        add_roll(l, rec->roll);
    if (rec->body_case == TUTTI__RECORD__BODY_TEMPO_LOAD)
        add_map(l, rec->tempo_load);
    else if (rec->body_case == TUTTI__RECORD__BODY_TAKE_NOTE)
        add_note(l, rec->take_note->cue, rec->take_note->take, NULL, rec->take_note->text);
    else if (rec->body_case == TUTTI__RECORD__BODY_TAKE_RATE && rec->take_rate->note &&
             rec->take_rate->note[0])
        add_note(l, rec->take_rate->cue, rec->take_rate->take, rec->take_rate->rating,
                 rec->take_rate->note);
}

static void sheet_log_clear(sheet_log_t *l)
{
    for (size_t i = 0; i < l->n_maps; i++)
        tt_tempo_destroy(&l->maps[i].map);
    for (size_t i = 0; i < l->n_notes; i++)
        free(l->notes[i].text);
    for (size_t i = 0; i < l->n_rolls; i++)
        free(l->rolls[i].missing);
    free(l->rolls);
    free(l->maps);
    free(l->notes);
    memset(l, 0, sizeof *l);
}

static const tt_tempo_map_t *map_of(const sheet_log_t *l, const char *cue, uint32_t version)
{
    for (size_t i = 0; i < l->n_maps; i++)
        if (l->maps[i].version == version && !strcmp(l->maps[i].cue, cue))
            return l->maps[i].map;
    return NULL;
}

/* The take's timecodes with the map it was rolled with: the from-bar
 * downbeat's (the sheet's start) and the first count-off click's (the
 * roll record's start_frame). "" for the downbeat when that map is not in
 * the log (it always is in a log the coordinator wrote). */
static void take_timecodes(const sheet_log_t *l, const char *cue, const tt_session_take_t *t,
                           char downbeat[TT_TIMECODE_LEN], char first_click[TT_TIMECODE_LEN])
{
    const tt_tempo_map_t *map = map_of(l, cue, t->tempo_version);
    tt_fps_t fps = map ? tt_tempo_fps(map) : TT_FPS_24;
    tt_timecode_format(t->start_frame, fps, first_click);
    downbeat[0] = '\0';
    if (map) {
        int64_t ns = tt_tempo_bbt_to_ns(map, (tt_bbt_t){t->from_bar, 1, 0});
        tt_timecode_format(tt_tempo_ns_to_frame(map, ns), fps, downbeat);
    }
}

/* Every note text of the take, joined with sep. Owned by the caller. */
static char *take_notes_joined(const sheet_log_t *l, const char *cue, uint32_t take,
                               const char *sep)
{
    size_t len = 1;
    for (size_t i = 0; i < l->n_notes; i++)
        if (l->notes[i].take == take && !strcmp(l->notes[i].cue, cue))
            len += strlen(l->notes[i].text) + strlen(sep);
    char *out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < l->n_notes; i++)
        if (l->notes[i].take == take && !strcmp(l->notes[i].cue, cue)) {
            if (out[0])
                strcat(out, sep);
            strcat(out, l->notes[i].text);
        }
    return out;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: tutti takes [--json|--csv] [--cue CUE]\n");
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
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    cli_conn_t s;
    tt_session_t st;
    sheet_log_t log = {0};
    int rc = cli_conn_open(o, &s);
    if (rc == 0)
        rc = cli_read_fold_each(&s, &st, collect, &log);
    if (rc == 0 && log.out_of_memory) {
        fprintf(stderr, "tutti: out of memory collecting the take sheet\n");
        rc = 1;
    }
    if (rc != 0) {
        sheet_log_clear(&log);
        tt_session_clear(&st);
        cli_conn_close(&s);
        return rc;
    }
    if (as_csv)
        printf("cue,take,state,start_tc,from_bar,duration_s,rating,notes,rooms_online,"
               "changes_acked,files_arrived,files_pending,map_version,punch_in_bar,"
               "punch_out_bar,first_click_tc,note_texts,prelays,prelays_missing\n");
    else if (!as_json)
        printf("%-10s %5s %-12s %-12s %8s %4s %-7s %10s %-12s %5s  %-24s %-14s %s\n", "cue", "take",
               "state", "start tc", "from bar", "map", "punch", "duration", "rating", "notes",
               "rooms online", "changes acked", "files (arrived / pending)");
    for (size_t i = 0; i < st.n_cues && rc == 0; i++) {
        const tt_session_cue_t *c = &st.cues[i];
        if (only && strcmp(only, c->name) != 0)
            continue;
        for (size_t k = 0; k < c->n_takes; k++) {
            const tt_session_take_t *t = &c->takes[k];
            char tc[TT_TIMECODE_LEN], first_tc[TT_TIMECODE_LEN];
            take_timecodes(&log, c->name, t, tc, first_tc);
            char pending[sizeof t->rooms_online], arrived[256];
            media_pending(&st, c->name, t, pending, sizeof pending);
            tt_media_rooms(&st.media, c->name, t->number, arrived, sizeof arrived);
            char prelays[1024];
            take_prelays(&st, c->name, t, as_json ? "\n" : ", ", prelays, sizeof prelays);
            const char *lacked = roll_missing(&log, c->name, t->number);
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
                json_object_set_new(j, "first_click_tc", json_string(first_tc));
                json_object_set_new(j, "map_version", json_integer(t->tempo_version));
                json_object_set_new(j, "files_arrived", json_string(arrived));
                json_object_set_new(j, "files_pending", json_string(pending));
                json_object_set_new(j, "rooms_capturing", json_string(t->rooms_capturing));
                json_object_set_new(j, "files",
                                    json_integer(tt_media_count(&st.media, c->name, t->number)));
                if (t->punch_in_bar) {
                    json_object_set_new(j, "punch_in_bar", json_integer(t->punch_in_bar));
                    json_object_set_new(j, "punch_out_bar", json_integer(t->punch_out_bar));
                }
                json_t *texts = json_array();
                for (size_t n = 0; n < log.n_notes; n++)
                    if (log.notes[n].take == t->number && !strcmp(log.notes[n].cue, c->name))
                        json_array_append_new(texts, json_string(log.notes[n].text));
                json_object_set_new(j, "note_texts", texts);
                json_t *heard = json_array();
                for (char *save = NULL, *f = prelays[0] ? strtok_r(prelays, "\n", &save) : NULL; f;
                     f = strtok_r(NULL, "\n", &save))
                    json_array_append_new(heard, json_string(f));
                json_object_set_new(j, "prelays", heard);
                json_object_set_new(j, "prelays_missing", json_string(lacked));
                cli_print_json_line(j);
                json_decref(j);
            } else if (as_csv) {
                char *notes = take_notes_joined(&log, c->name, t->number, " | ");
                if (!notes) {
                    fprintf(stderr, "tutti: out of memory listing notes\n");
                    rc = 1;
                    break;
                }
                /* Every text cell through tt_csv: a cue named "-1+1" stays text. */
                char number[16], bar[16], seconds[32], count[16], version[16], in[16], out[16];
                snprintf(number, sizeof number, "%u", t->number);
                snprintf(bar, sizeof bar, "%d", t->from_bar);
                snprintf(seconds, sizeof seconds, "%.3f", dur);
                snprintf(count, sizeof count, "%u", t->notes);
                snprintf(version, sizeof version, "%u", t->tempo_version);
                snprintf(in, sizeof in, "%d", t->punch_in_bar);
                snprintf(out, sizeof out, "%d", t->punch_out_bar);
                const char *cells[] = {c->name,
                                       number,
                                       cli_take_state_name(t->state),
                                       tc,
                                       bar,
                                       seconds,
                                       t->rating,
                                       count,
                                       t->rooms_online,
                                       t->forced ? "forced" : "yes",
                                       arrived,
                                       pending,
                                       version,
                                       in,
                                       out,
                                       first_tc,
                                       notes,
                                       prelays,
                                       lacked};
                for (size_t n = 0; n < sizeof cells / sizeof *cells; n++)
                    cli_csv_field(cells[n], n + 1 == sizeof cells / sizeof *cells);
                free(notes);
            } else {
                char acked[300], punch[32];
                snprintf(acked, sizeof acked, "%s%s", t->forced ? "forced past " : "yes",
                         t->forced ? t->not_acked : "");
                if (t->punch_in_bar)
                    snprintf(punch, sizeof punch, "%d-%d", t->punch_in_bar, t->punch_out_bar);
                else
                    snprintf(punch, sizeof punch, "-");
                printf("%-10s %5u %-12s %-12s %8d %4u %-7s %9.1fs %-12s %5u  %-24s %-14s %s / "
                       "%s\n",
                       c->name, t->number, cli_take_state_name(t->state), tc, t->from_bar,
                       t->tempo_version, punch, dur, t->rating[0] ? t->rating : "-", t->notes,
                       t->rooms_online[0] ? t->rooms_online : "-", acked,
                       arrived[0] ? arrived : "-", pending[0] ? pending : "-");
                for (size_t n = 0; n < log.n_notes; n++)
                    if (log.notes[n].take == t->number && !strcmp(log.notes[n].cue, c->name))
                        printf("%16s note: %s\n", "", log.notes[n].text);
                if (prelays[0])
                    printf("%16s prelays: %s%s%s%s\n", "", prelays,
                           lacked[0] ? " (forced past: " : "", lacked, lacked[0] ? ")" : "");
            }
        }
    }
    sheet_log_clear(&log);
    tt_session_clear(&st);
    cli_conn_close(&s);
    return rc;
}
