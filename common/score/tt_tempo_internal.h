/* tt_tempo_internal: the map's representation, shared by tt_tempo.c
 * (storage, conversions) and tt_tempo_text.c (the text format). Not for
 * other modules: they use tt_tempo.h. */
#ifndef TT_TEMPO_INTERNAL_H
#define TT_TEMPO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tt_tempo.h"

#define WHOLE_TICKS (4 * TT_TEMPO_PPQ) /* ticks in a whole note */
/* ns per tick at 1 quarter per minute: 60e9 / 960. */
#define NS_TICK_BPM 62500000.0L
#define MAX_TERM INT64_C(1000000000000000) /* bpm fraction inputs */
#define MAX_FRACTION_TERM INT64_C(1000000000)
#define DEC_SCALE INT64_C(1000000000) /* 9 decimals */

typedef struct {
    int32_t bar, num, den;
    int64_t tick; /* tick of the bar line where this meter starts */
} meter_t;

typedef struct {
    int64_t tick;
    int64_t n, d; /* bpm = n / d, reduced */
    int ramp;     /* the segment ending here is a ramp from the previous mark */
    long double bpm;
    long double ns; /* time of this mark from tick 0 */
    long double k;  /* slope (bpm per tick) of the segment starting here */
} mark_t;

struct tt_tempo_map {
    meter_t *meters;
    size_t nmeters, cap_meters;
    mark_t *marks;
    size_t nmarks, cap_marks;
    int countoff;
    int64_t start_frame;
    tt_fps_t fps;
};

/* 1 when 1/d has a finite decimal expansion within DEC_SCALE (d divides 10^9). */
int tt_tempo_decimal_exact(int64_t d);
/* A meter the map accepts: num 1..32, den 1, 2, 4, 8, 16 or 32. */
int tt_tempo_check_meter(int32_t num, int32_t den, char *why);

#endif
