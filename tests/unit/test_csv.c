/* test_csv: RFC 4180 cells with formulas neutralised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tt_csv.h"

typedef struct {
    char buf[256];
    size_t n;
} out_t;

static void put(void *arg, const char *s, size_t n)
{
    out_t *o = arg;
    assert_true(o->n + n < sizeof o->buf);
    memcpy(o->buf + o->n, s, n);
    o->n += n;
    o->buf[o->n] = '\0';
}

static const char *cell(const char *s)
{
    static out_t o;
    o.n = 0;
    o.buf[0] = '\0';
    tt_csv_cell(s, strlen(s), put, &o);
    return o.buf;
}

static void test_plain_and_quoted(void **state)
{
    (void)state;
    assert_string_equal(cell("stage"), "stage");
    assert_string_equal(cell(""), "");
    assert_string_equal(cell("a,b"), "\"a,b\"");
    assert_string_equal(cell("Anne \"Nan\" Lee"), "\"Anne \"\"Nan\"\" Lee\"");
    assert_string_equal(cell("two\nlines"), "\"two\nlines\"");
    assert_string_equal(cell("\"\""), "\"\"\"\"\"\"");
}

static void test_formulas_neutralised(void **state)
{
    (void)state;
    assert_string_equal(cell("=HYPERLINK(\"http://x\",\"y\")"),
                        "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
    assert_string_equal(cell("+cmd|' /C calc'!A0"), "\"'+cmd|' /C calc'!A0\"");
    assert_string_equal(cell("-2+3"), "\"'-2+3\"");
    assert_string_equal(cell("@SUM(A1)"), "\"'@SUM(A1)\"");
    assert_string_equal(cell("\tx"), "\"'\tx\"");
    assert_string_equal(cell("\rx"), "\"'\rx\"");
    assert_true(tt_csv_is_formula("=1", 2));
    /* Plain numbers stay numbers. */
    assert_string_equal(cell("-5"), "-5");
    assert_string_equal(cell("+1.25"), "+1.25");
    assert_string_equal(cell("-3e2"), "-3e2");
    assert_false(tt_csv_is_formula("-5", 2));
    /* ... but not what strtod reads beyond decimals. */
    assert_string_equal(cell("-inf"), "\"'-inf\"");
    assert_string_equal(cell("-0x10"), "\"'-0x10\"");
    assert_string_equal(cell("-"), "\"'-\"");
    /* Only the first character matters. */
    assert_string_equal(cell("a=b"), "a=b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_quoted),
        cmocka_unit_test(test_formulas_neutralised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
