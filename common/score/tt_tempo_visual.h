/* tt_tempo_visual: a tempo map's visual markers, the marks a conductor reads
 * on the picture: streamers, punches, flutters, warnings and named hits.
 *
 * They are part of the map (tt_tempo.h): written in its text, carried by
 * the same canonical text to every room (no field of their own on the wire),
 * compared by tt_tempo_equal, read from and written to MIDI files
 * (tt_smf.h). Each sits at a musical position and converts through the map
 * to an instant, so a tempo change, a ramp or a rit moves it with the music.
 *
 * ---- Kinds ----
 *
 *   streamer  a line that crosses the picture for its length and reaches
 *             the punch line AT its position: the position is where it
 *             ENDS (the instant the conductor reads), it starts "len"
 *             before. Length in seconds ("len 3s") or in beats of the
 *             meter at its end ("len 2b", counted back through the map).
 *             Default 2 s (the classic 3 feet of 35 mm film at 24 fps).
 *   punch     a flash at its position (a streamer ends on one of its own).
 *   flutter   1, 3, 5 or 7 flashes (default 3) around its position, the
 *             middle one on it; their spacing is the display's choice.
 *   warning   a streamer into a warning (a change coming): like a
 *             streamer, yellow by default.
 *   hit       a named sync point ("door slam"); the name is required.
 * Any kind may carry a name (shown with it) and an explicit color.
 *
 * ---- Default colors (the scoring convention) ----
 *
 * An explicit "color" always wins. Otherwise: a warning is yellow; a
 * streamer is red into the end of the cue (at or after the last bar's
 * downbeat, when the map has "end B"), else yellow into a warning (a
 * warning marker at the same position), else green into a downbeat (beat 1,
 * tick 0), else white. Punches, flutters and hits are white.
 *
 * ---- Text ----
 *
 *   visual  = KIND ws "at" ws POS {ws OPTION} [ws NAME]
 *   KIND    = "streamer" | "punch" | "flutter" | "warning" | "hit"
 *   POS     = BAR "." BEAT ["." TICK]   BAR 0..1000000 (0: the bar before
 *                                        bar 1), BEAT and TICK inside that
 *                                        bar's meter (tick 0 if omitted)
 *   OPTION  = "len" ws LEN               streamer and warning only
 *           | "color" ws COLOR
 *           | "flashes" ws (1|3|5|7)     flutter only
 *   LEN     = DIGITS ["." 1..3 DIGITS] ("s" | "b")   seconds or beats,
 *                                        0 < length <= 10 s (in beats: their
 *                                        duration through the map)
 *   COLOR   = white | red | green | yellow | blue | orange | cyan | magenta
 *           | "#" 6 HEX                  (here '#' does not start a comment)
 *   NAME    = '"' WORD {ws WORD} '"'     1..64 bytes of printable ASCII
 *                                        without '"' or '#', at most 10
 *                                        words (single spaces when printed)
 * e.g. "streamer at 17.1 len 3s color green", "punch at 17.1",
 * "flutter at 21.3 flashes 3", "warning at 16.1", "hit at 33.2.480 \"door
 * slam\"". Each option at most once. A position must not lie before bar 0,
 * after the cue's end ("end B": bar B+1 beat 1 at the latest) or strictly
 * inside free time (no tempo places it there; bar A and the resume bar B
 * themselves are exact); a streamer in beats may not count back into free
 * time (give it in seconds). Visual markers are read after every bar line,
 * in any order; the map keeps them in order of position (ties in the order
 * written). Canonical form: after the named markers, one line each, "KIND
 * at BAR.BEAT" (".TICK" when not 0), then len (always, for a streamer or
 * warning), flashes (always, for a flutter), color (when given), name.
 *
 * MIDI files carry each as a marker (FF 06) whose text is the same line
 * without "at POS" ("streamer len 3s color green", "hit \"door slam\"") at
 * the marker's tick; reading, a marker or cue point (FF 07) may also say
 * "flutter 3" and "hit door slam" (the rest of the text is the name).
 * tt_tempo_visual_parse reads that text.
 *
 * Instants are ns from bar 1 beat 1, the map's time (tt_tempo_tick_to_ns),
 * as for clicks: a roll puts bar F beat 1 at its downbeat_session_ns, so a
 * marker's session time is downbeat_session_ns + ns - (time of F.1.0).
 *
 * Lifetimes: the readers fill caller-owned structs (names copied) and never
 * allocate, lock or log: safe in a real-time thread.
 */
#ifndef TT_TEMPO_VISUAL_H
#define TT_TEMPO_VISUAL_H

#include <stddef.h>
#include <stdint.h>

#include "tt_tempo.h"

#define TT_TEMPO_MAX_VISUALS 256 /* each counts two of TT_TEMPO_MAX_EVENTS */
#define TT_VISUAL_DEFAULT_LEN_MS 2000
#define TT_VISUAL_MAX_LEN_NS INT64_C(10000000000)
#define TT_VISUAL_MAX_LEN_MILLI 999999 /* 999.999 as written */
#define TT_VISUAL_DEFAULT_FLASHES 3
/* A visual's words without its position (an SMF marker's text), NUL too. */
#define TT_VISUAL_WORDS_LEN 128

typedef enum {
    TT_VISUAL_STREAMER = 1,
    TT_VISUAL_PUNCH,
    TT_VISUAL_FLUTTER,
    TT_VISUAL_WARNING,
    TT_VISUAL_HIT,
} tt_visual_kind_t;

/* How a streamer's length is written. */
typedef enum { TT_VISUAL_LEN_NONE, TT_VISUAL_LEN_S, TT_VISUAL_LEN_BEATS } tt_visual_len_t;

/* Colors: the named ones, or TT_COLOR_RGB with a value; TT_COLOR_DEFAULT
 * leaves it to the convention above. */
typedef enum {
    TT_COLOR_DEFAULT = -1,
    TT_COLOR_WHITE,
    TT_COLOR_RED,
    TT_COLOR_GREEN,
    TT_COLOR_YELLOW,
    TT_COLOR_BLUE,
    TT_COLOR_ORANGE,
    TT_COLOR_CYAN,
    TT_COLOR_MAGENTA,
    TT_COLOR_RGB,
} tt_color_t;

/* A visual marker as written: what the text says and tt_tempo_add_visual
 * takes. Zero it, then set what applies. */
typedef struct {
    int kind;          /* tt_visual_kind_t */
    tt_bbt_t pos;      /* its instant (a streamer's END) */
    int len_unit;      /* streamer, warning: TT_VISUAL_LEN_S or _BEATS; else NONE */
    int32_t len_milli; /* thousandths of a second or of a beat, 1..999999 */
    int flashes;       /* flutter: 1, 3, 5 or 7; else 0 */
    int color;         /* tt_color_t */
    uint32_t rgb;      /* color TT_COLOR_RGB: 0xRRGGBB; else 0 */
    char name[TT_TEMPO_MARKER_LEN + 1]; /* "" for none (a hit needs one) */
} tt_visual_spec_t;

/* A visual marker read from a map. */
typedef struct {
    tt_visual_spec_t spec; /* as written (color TT_COLOR_DEFAULT when left) */
    int64_t tick;          /* its position in ticks from bar 1 beat 1 */
    int64_t ns;            /* its instant, ns from bar 1 beat 1 */
    int64_t start_ns;      /* streamer, warning: where it starts (ns - length); else ns */
    int color;             /* the color shown: spec's, or the convention's */
    uint32_t rgb;          /* its value, 0xRRGGBB */
    int color_default;     /* 1 when from the convention */
    char color_text[8];    /* "green", or "#ff8800" for TT_COLOR_RGB */
} tt_visual_t;

/* Adds a visual marker (copied) at spec->pos in the meters and tempos added
 * so far (add it after them: the parser reads visuals last), checked as in
 * the text section above; kept in order of position, after any at the same
 * position. Returns 0, TT_ERR_INVALID or TT_ERR_TOO_BIG (more than
 * TT_TEMPO_MAX_VISUALS, or the map's TT_TEMPO_MAX_EVENTS) or TT_ERR_NOMEM,
 * with the reason in why; the map is unchanged on failure. */
int tt_tempo_add_visual(tt_tempo_map_t *m, const tt_visual_spec_t *spec, char *why);

/* How many visual markers m holds. */
size_t tt_tempo_visual_count(const tt_tempo_map_t *m);

/* Visual marker i (0.. in order of position) with its instant and color.
 * Returns 0, or TT_ERR_NOTFOUND past the last. */
int tt_tempo_visual(const tt_tempo_map_t *m, size_t i, tt_visual_t *out);

/* The first min(count, max) visual markers into out[]; returns the count
 * (so a short out[] says how many there are). */
size_t tt_tempo_visuals(const tt_tempo_map_t *m, tt_visual_t *out, size_t max);

/* Reads a visual marker's words without a position, as an SMF marker holds
 * them (text[0..len), not NUL-terminated): "streamer len 3s color green",
 * "flutter flashes 5", also "flutter 5" and "hit door slam". Words are
 * separated by spaces or tabs; any other byte outside printable ASCII, an
 * unknown word or a value out of range makes it not a visual marker.
 * Fills *out (pos zero) and returns 0, or TT_ERR_INVALID with the reason. */
int tt_tempo_visual_parse(const char *text, size_t len, tt_visual_spec_t *out, char *why);

/* The words of v: with pos non-zero ("at" included) as the text format
 * writes the line, else as an SMF marker holds them. At most
 * TT_VISUAL_WORDS_LEN + 24 bytes with a position; returns snprintf's count. */
int tt_tempo_visual_words(const tt_visual_spec_t *v, int with_pos, char *out, size_t room);

/* "streamer", "punch", ...; "?" for none. */
const char *tt_visual_kind_name(int kind);
/* "white", "red", ... for a named color, "#rrggbb" for TT_COLOR_RGB (into
 * buf, 8 bytes). */
const char *tt_visual_color_text(int color, uint32_t rgb, char buf[8]);

#endif
