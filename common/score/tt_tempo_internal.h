/* tt_tempo_internal: the map's representation, shared by tt_tempo.c
 * (storage, conversions) and tt_tempo_text.c (the text format). Not for
 * other modules: they use tt_tempo.h. */
#ifndef TT_TEMPO_INTERNAL_H
#define TT_TEMPO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tt_tempo.h"
#include "tt_tempo_visual.h"

#define WHOLE_TICKS (4 * TT_TEMPO_PPQ) /* ticks in a whole note */
/* ns per tick at 1 quarter per minute: 60e9 / 960. */
#define NS_TICK_BPM 62500000.0L
#define MAX_TERM INT64_C(1000000000000000) /* bpm fraction inputs */
#define MAX_FRACTION_TERM INT64_C(1000000000)
#define DEC_SCALE INT64_C(1000000000) /* 9 decimals */

typedef struct {
    int32_t bar;
    tt_meter_t mt; /* num, den, groups (normalized: ngroups 0 = a click a beat) */
    int64_t tick;  /* tick of the bar line where this meter starts */
} meter_t;

/* What a mark is, as the text shows it. */
typedef enum {
    MARK_TEMPO,  /* a tempo as written (step, or ramp from the previous mark) */
    MARK_NAMED,  /* rit/accel starts here (its tempo: the one before); v is the target */
    MARK_END,    /* implied: where a rit/accel reaches its target (v) */
    MARK_FREE,   /* implied: a free section starts here (its tempo: the one before) */
    MARK_RESUME, /* implied: a free section ends here (v: the tempo before it) */
} mark_kind_t;

typedef struct {
    int64_t tick;
    tt_tempo_value_t v;   /* as written (reduced) */
    int ramp;             /* the segment ending here is a ramp from the previous mark */
    int kind;             /* mark_kind_t */
    int named;            /* MARK_NAMED: TT_TEMPO_RIT or TT_TEMPO_ACCEL */
    int32_t over;         /* MARK_NAMED: beats of the meter here */
    int free;             /* the segment starting here is free time, to the next mark */
    int64_t resume_frame; /* free: the timecode frame of the next mark */
    int64_t n, d;         /* the tempo at this mark, quarters per minute, reduced */
    long double bpm;      /* n / d */
    long double seg;      /* the tempo the segment starting here starts at (free: fitted) */
    long double ns;       /* time of this mark from tick 0 */
    long double k;        /* slope (bpm per tick) of the segment starting here */
} mark_t;

typedef struct {
    int32_t bar;
    int64_t tick;
    int on;
} switch_t;

/* "subdivide N" from a bar on (N 1: off): the players' feed clicks N
 * per beat there. */
typedef struct {
    int32_t bar;
    int n;
} subdiv_t;

typedef struct {
    tt_bbt_t pos;
    char name[TT_TEMPO_MARKER_LEN + 1];
} marker_t;

struct tt_tempo_map {
    marker_t *markers;
    size_t nmarkers, cap_markers;
    tt_visual_spec_t *visuals; /* in order of position; names zero-padded */
    size_t nvisuals, cap_visuals;
    meter_t *meters;
    size_t nmeters, cap_meters;
    mark_t *marks;
    size_t nmarks, cap_marks;
    switch_t *switches;
    size_t nswitches, cap_switches;
    subdiv_t *subdivs;
    size_t nsubdivs, cap_subdivs;
    int countoff;
    int pickup;      /* beats of bar 0 played before bar 1 (0: none) */
    int32_t end_bar; /* last bar: no click from the next bar line on (0: none) */
    int64_t start_frame;
    tt_fps_t fps;
};

/* 1 when 1/d has a finite decimal expansion within DEC_SCALE (d divides 10^9). */
int tt_tempo_decimal_exact(int64_t d);
/* A meter the map accepts: num 1..32, den 1, 2, 4, 8, 16 or 32, groups
 * (if any) 1..num each summing to num. Normalizes *mt (groups of one beat
 * each, or one group of a 1-beat bar, become no groups). */
int tt_tempo_check_meter_full(tt_meter_t *mt, char *why);
int tt_tempo_check_meter(int32_t num, int32_t den, char *why);
/* Quarters per minute of v at fps, reduced (v's rate reduced in place);
 * TT_ERR_INVALID with the reason when it is outside 20..400. */
int tt_tempo_value_bpm(tt_tempo_value_t *v, tt_fps_t fps, int64_t *n, int64_t *d, char *why);
/* tt_tempo_new_with, timing frame clicks at fps and starting at frame. */
tt_tempo_map_t *tt_tempo_new_at(const tt_meter_t *meter, const tt_tempo_value_t *v, tt_fps_t fps,
                                int64_t start_frame, char *why);

/* Checks a marker's or visual's name: 1..TT_TEMPO_MARKER_LEN bytes of
 * printable ASCII without '#' (nor '"' when no_quote), single spaces, at
 * most 10 words. what names it in the reason ("marker name"). */
int tt_tempo_check_name(const char *name, const char *what, int no_quote, char *why);
/* Room for `more` events under TT_TEMPO_MAX_EVENTS (a visual counts two). */
int tt_tempo_room_for_event(const tt_tempo_map_t *m, size_t more, char *why);
/* The tick where the click stops after the end bar (INT64_MAX: no end). */
int64_t tt_tempo_end_tick(const tt_tempo_map_t *m);
/* 0 if every visual still fits m (after a change of end bar or frame
 * rate), else TT_ERR_INVALID with the reason. */
int tt_tempo_check_visuals(const tt_tempo_map_t *m, char *why);
/* Checks what of a visual does not depend on a map (kind, length, flashes,
 * color, name). Returns 0 or TT_ERR_INVALID with the reason. */
int tt_tempo_check_visual_spec(const tt_visual_spec_t *v, char *why);

/* A walk over the positions where the map states something, in tick
 * order: its meters, tempo marks, click switches and subdivisions merged.
 * Start zeroed. tt_tempo_walk_peek sets the tick of each list's next entry
 * (INT64_MAX once that list is done) and returns the earliest, t
 * (INT64_MAX at the end); the lists whose tick is t stand there, at
 * indices i, j, k, q. tt_tempo_walk_step moves past them. */
typedef struct {
    size_t i, j, k, q; /* meters, marks, switches, subdivs */
    int64_t ti, tj, tk, tq, t;
} tt_tempo_walk_t;
int64_t tt_tempo_walk_peek(const tt_tempo_map_t *m, tt_tempo_walk_t *w);
void tt_tempo_walk_step(tt_tempo_walk_t *w);

#endif
