/* libFuzzer target: tt_rules_parse over untrusted text.
 *
 * Rules text comes from the contractor's files and travels in the log with
 * every call start, so whatever parses must be a fixed point: it passes
 * tt_rules_check, formats to a canonical text that parses back to equal
 * rules and formats to the same bytes again. Parsed rules then drive a short
 * call through tt_call_clock, whose figures must stay consistent. The input
 * is an exact-size heap copy plus a NUL (the parser takes C strings), so a
 * read past the end is an ASan report.
 */
#include "tt_error.h"
#include "tt_rules.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_NS INT64_C(60000000000)

static void check_call(const tt_rules_t *r)
{
    char why[TT_WHY_LEN];
    tt_call_t c;
    memset(&c, 0, sizeof c);
    int64_t t0 = INT64_C(1795000000000000000);
    if (tt_call_apply(&c, "start", r, t0, why) != 0)
        abort();
    tt_call_clock_t k;
    for (int m = 0; m <= 2 * 1440; m += 7) {
        tt_call_clock(&c, t0 + m * MIN_NS, &k);
        if (!k.running || k.elapsed_ns != m * MIN_NS || k.overtime_ns < 0)
            abort();
        if ((k.overtime_units > 0) != (k.overtime_ns > 0))
            abort();
        if (k.break_due && k.next_break_at_ns != t0 + r->break_after_minutes * MIN_NS)
            abort();
    }
    if (tt_call_apply(&c, "break-start", NULL, t0 + 30 * MIN_NS, why) != 0 ||
        tt_call_apply(&c, "break-end", NULL, t0 + 40 * MIN_NS, why) != 0)
        abort();
    tt_call_clock(&c, t0 + 41 * MIN_NS, &k);
    if (k.breaks_taken != 1 || k.on_break)
        abort();
    if (k.break_due != (r->breaks_per_call != 1))
        abort();
    if (tt_call_apply(&c, "wrap", NULL, t0 + 50 * MIN_NS, why) != 0)
        abort();
    tt_call_clock_t later;
    tt_call_clock(&c, t0 + 5000 * MIN_NS, &later);
    if (later.running || later.elapsed_ns != 50 * MIN_NS || later.alert != TT_CALL_ALERT_NONE)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char why[TT_WHY_LEN];
    tt_rules_t r, back;
    memset(&r, 0, sizeof r);
    if (tt_rules_parse(text, &r, why) != 0) {
        if (memchr(why, '\0', sizeof why) == NULL)
            abort();
        free(text);
        return 0;
    }
    if (tt_rules_check(&r, why) != 0)
        abort();
    char canon[TT_RULES_FORMAT_LEN], again[TT_RULES_FORMAT_LEN];
    if (tt_rules_format(&r, canon, sizeof canon) != 0)
        abort();
    if (tt_rules_parse(canon, &back, why) != 0 || !tt_rules_equal(&r, &back))
        abort();
    if (tt_rules_format(&back, again, sizeof again) != 0 || strcmp(canon, again) != 0)
        abort();
    check_call(&r);
    free(text);
    return 0;
}
