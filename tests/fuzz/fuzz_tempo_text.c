/* libFuzzer target: tt_tempo_parse_text over untrusted text.
 *
 * The text format is what goes into the log and to every agent, so it must
 * be a fixed point: whatever parses must format to a canonical text that
 * parses back to an equal map and formats to the same bytes again. A parsed
 * map also gets a few conversions, which must round-trip and be monotonic,
 * and its clicks, which must lie where the click sounds (not in free time,
 * a click-off section or past the end bar). Its visual markers must be in
 * order, each instant its position's time, a streamer no longer than 10 s,
 * and each one's words (an SMF marker's text) must read back the same.
 * The input is an exact-size heap copy (not NUL-terminated), so a read past
 * len is an ASan report.
 */
#include "tt_error.h"
#include "tt_tempo.h"
#include "tt_tempo_visual.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_conversions(const tt_tempo_map_t *m)
{
    /* The clicks from the start of the count-off for a while: increasing
     * times, each the round trip of its position. */
    tt_click_t c;
    int64_t at = INT64_MIN, prev = INT64_MIN;
    for (int i = 0; i < 64; i++) {
        if (tt_tempo_next_click(m, at, &c) != 0)
            break;
        if (i > 0 && c.ns <= prev)
            abort();
        if (tt_tempo_ns_to_tick(m, c.ns) != c.tick || tt_tempo_bbt_to_tick(m, c.pos) != c.tick)
            abort();
        if (c.downbeat != (c.pos.beat == 1) || !tt_tempo_click_on_at(m, c.tick) || c.group < 1 ||
            c.group > c.clicks)
            abort();
        prev = c.ns;
        at = c.ns + 1;
    }
    static const int64_t ticks[] = {-7, 0, 1, 959, 12345, 999999, INT64_C(123456789012)};
    for (size_t i = 0; i < sizeof ticks / sizeof ticks[0]; i++) {
        int64_t ns = tt_tempo_tick_to_ns(m, ticks[i]);
        if (tt_tempo_ns_to_tick(m, ns) != ticks[i] ||
            tt_tempo_ns_to_tick(m, ns - 1) != ticks[i] - 1)
            abort();
        double bpm = tt_tempo_bpm_at(m, ns);
        /* Free time may be slower than 20 (its fitted tempo), never faster
         * than 400. */
        if (!(bpm > 0.0 && bpm <= TT_TEMPO_MAX_BPM + 1e-6))
            abort();
    }
}

static void check_visuals(const tt_tempo_map_t *m)
{
    tt_visual_t v;
    int64_t prev = INT64_MIN;
    for (size_t i = 0; tt_tempo_visual(m, i, &v) == 0; i++) {
        if (v.tick < prev || v.tick != tt_tempo_bbt_to_tick(m, v.spec.pos) ||
            v.ns != tt_tempo_tick_to_ns(m, v.tick) || v.start_ns > v.ns ||
            v.ns - v.start_ns > TT_VISUAL_MAX_LEN_NS || v.color < 0 || v.color > TT_COLOR_RGB)
            abort();
        prev = v.tick;
        char words[TT_VISUAL_WORDS_LEN], again[TT_VISUAL_WORDS_LEN], why[TT_WHY_LEN];
        tt_visual_spec_t back;
        int n = tt_tempo_visual_words(&v.spec, 0, words, sizeof words);
        if (n < 0 || n >= (int)sizeof words || tt_tempo_visual_parse(words, (size_t)n, &back, why))
            abort();
        tt_tempo_visual_words(&back, 0, again, sizeof again);
        if (strcmp(words, again) != 0)
            abort();
    }
    if (tt_tempo_visual_count(m) > TT_TEMPO_MAX_VISUALS)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[TT_WHY_LEN];
    tt_tempo_map_t *m = tt_tempo_parse_text((const char *)data, size, why);
    if (!m) {
        if (memchr(why, '\0', sizeof why) == NULL)
            abort();
        return 0;
    }
    char *text = NULL, *again = NULL;
    if (tt_tempo_format_text(m, &text, why) != 0)
        abort();
    if (strlen(text) > TT_TEMPO_MAX_TEXT)
        abort();
    tt_tempo_map_t *back = tt_tempo_parse_text(text, strlen(text), why);
    if (!back || !tt_tempo_equal(m, back))
        abort();
    if (tt_tempo_format_text(back, &again, why) != 0 || strcmp(text, again) != 0)
        abort();
    check_conversions(m);
    check_visuals(m);
    free(again);
    free(text);
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);
    return 0;
}
