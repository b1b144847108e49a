/* tt_csv: see tt_csv.h. */
#include "tt_csv.h"

#include <stdlib.h>
#include <string.h>

/* 1 when s[0..n) is a whole decimal number ("-5", "+1.25", "3e2"). */
static int plain_number(const char *s, size_t n)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    (void)strtod(buf, &end);
    return end == buf + n && strcspn(buf, "xXnNiI") == n; /* no hex, nan, inf */
}

int tt_csv_is_formula(const char *s, size_t n)
{
    if (n == 0 || !strchr("=+-@\t\r", s[0]))
        return 0;
    return !plain_number(s, n);
}

void tt_csv_cell(const char *s, size_t n, tt_csv_put_fn put, void *arg)
{
    int formula = tt_csv_is_formula(s, n);
    int quote = formula;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == '"' || s[i] == ',' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        put(arg, s, n);
        return;
    }
    put(arg, formula ? "\"'" : "\"", formula ? 2 : 1);
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') {
            put(arg, s + from, i + 1 - from); /* through the quote, then one more */
            put(arg, "\"", 1);
            from = i + 1;
        }
    }
    put(arg, s + from, n - from);
    put(arg, "\"", 1);
}
