/* libFuzzer target: tt_smf_read over untrusted MIDI files.
 *
 * A file either is refused with a reason that names a byte offset, or gives
 * a map that survives the text format unchanged (parse(format(m)) == m:
 * the text is what the coordinator logs and sends) and whose conversions
 * round-trip, and that tt_smf_write writes as a file that reads back as
 * the same map. The input is an exact-size heap copy, so a read past len is
 * an ASan report.
 */
#include "tt_error.h"
#include "tt_smf.h"
#include "tt_tempo.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[TT_WHY_LEN];
    tt_tempo_map_t *m = tt_smf_read(data, size, why);
    if (!m) {
        if (memchr(why, '\0', sizeof why) == NULL ||
            (strncmp(why, "MIDI file: ", 11) != 0 && strncmp(why, "not a MIDI file: ", 17) != 0))
            abort();
        return 0;
    }
    char *text = NULL;
    if (tt_tempo_format_text(m, &text, why) != 0)
        abort();
    tt_tempo_map_t *back = tt_tempo_parse_text(text, strlen(text), why);
    if (!back || !tt_tempo_equal(m, back))
        abort();

    /* A few conversions: beats of the first bars, positions from the input. */
    tt_click_t c;
    int64_t at = INT64_MIN, prev = INT64_MIN;
    for (int i = 0; i < 32; i++) {
        if (tt_tempo_next_click(m, at, &c) != 0)
            break;
        if ((i > 0 && c.ns <= prev) || tt_tempo_ns_to_tick(m, c.ns) != c.tick)
            abort();
        prev = c.ns;
        at = c.ns + 1;
    }
    for (size_t i = 0; i + 4 <= size && i < 64; i += 4) {
        int64_t tick = (int64_t)((uint32_t)data[i] << 24 | (uint32_t)data[i + 1] << 16 |
                                 (uint32_t)data[i + 2] << 8 | data[i + 3]);
        tt_bbt_t p = tt_tempo_tick_to_bbt(m, tick);
        if (tt_tempo_bbt_to_tick(m, p) != tick)
            abort();
        int64_t ns = tt_tempo_bbt_to_ns(m, p);
        if (tt_tempo_ns_to_tick(m, ns) != tick)
            abort();
    }
    /* Export and import again: a map read from a file is one a file can
     * hold exactly. */
    uint8_t *smf = NULL;
    size_t smf_len = 0;
    if (tt_smf_write(m, &smf, &smf_len, why) != 0)
        abort();
    tt_tempo_map_t *again = tt_smf_read(smf, smf_len, why);
    if (!again || !tt_tempo_equal(m, again))
        abort();
    tt_tempo_destroy(&again);
    free(smf);
    free(text);
    tt_tempo_destroy(&back);
    tt_tempo_destroy(&m);
    return 0;
}
