/* test_zpl: tt_zpl_find on certificate text as czmq writes it, and on the
 * malformed or hostile text a user may point us at: bad indent, unterminated
 * quotes, values too long for the buffer, text over the size limit, names
 * that share a prefix with the path, sections without a value, and bytes
 * that are not part of the grammar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_error.h"
#include "tt_zpl.h"

#define PUB "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define SEC "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"

static const char czmq_cert[] =
    "#   ****  Generated on 2024-01-01 12:00:00 by CZMQ  ****\n"
    "#   ZeroMQ CURVE **Secret** Certificate\n"
    "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
    "\n"
    "metadata\n"
    "    name = \"conductor\"\n"
    "    email = \"someone@example.org\"\n"
    "curve\n"
    "    public-key = \"" PUB "\"\n"
    "    secret-key = \"" SEC "\"\n";

/* Finds path in a NUL-terminated text; out has room for 128 bytes. */
static int find(const char *text, const char *path, char *out, char *why)
{
    return tt_zpl_find(text, strlen(text), path, out, 128, why);
}

static void test_czmq_certificate(void **state)
{
    (void)state;
    char out[128], why[TT_WHY_LEN];
    assert_int_equal(find(czmq_cert, "curve/public-key", out, why), 0);
    assert_string_equal(out, PUB);
    assert_int_equal(find(czmq_cert, "curve/secret-key", out, why), 0);
    assert_string_equal(out, SEC);
    assert_int_equal(find(czmq_cert, "metadata/name", out, why), 0);
    assert_string_equal(out, "conductor");
    assert_int_equal(find(czmq_cert, "metadata/email", out, why), 0);
    assert_string_equal(out, "someone@example.org");
    /* Names exist only under their own section. */
    assert_int_equal(find(czmq_cert, "public-key", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find(czmq_cert, "metadata/public-key", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find(czmq_cert, "curve/name", out, why), TT_ERR_NOTFOUND);
}

static void test_exact_outlen(void **state)
{
    (void)state;
    /* The key readers use a 41-byte buffer for a 40-character key. */
    char out[41], why[TT_WHY_LEN];
    assert_int_equal(
        tt_zpl_find(czmq_cert, strlen(czmq_cert), "curve/public-key", out, sizeof out, why), 0);
    assert_string_equal(out, PUB);
    assert_int_equal(tt_zpl_find(czmq_cert, strlen(czmq_cert), "curve/public-key", out, 40, why),
                     TT_ERR_TOO_BIG);
}

static void test_not_nul_terminated(void **state)
{
    (void)state;
    /* Only len bytes count: the value is cut where len ends, nothing past it is read. */
    char buf[] = "a\n    b = 12345";
    char out[128], why[TT_WHY_LEN];
    assert_int_equal(tt_zpl_find(buf, strlen(buf) - 2, "a/b", out, sizeof out, why), 0);
    assert_string_equal(out, "123");
    char *heap = malloc(9);
    assert_non_null(heap);
    memcpy(heap, "k = 'xy'", 8); /* exactly 8 bytes, no NUL */
    assert_int_equal(tt_zpl_find(heap, 8, "k", out, sizeof out, why), 0);
    assert_string_equal(out, "xy");
    free(heap);
}

static void test_bare_and_quoted_values(void **state)
{
    (void)state;
    const char *text = "bare = value-1\n"
                       "single = 'it is \"quoted\"'\n"
                       "double = \"it's quoted\"\n"
                       "commented = word # a comment\n"
                       "quoted-hash = \"a # not a comment\"   # but this is\n"
                       "empty =\n"
                       "empty-quoted = \"\"\n"
                       "spaced   =    spaced-out   \n";
    char out[128], why[TT_WHY_LEN];
    assert_int_equal(find(text, "bare", out, why), 0);
    assert_string_equal(out, "value-1");
    assert_int_equal(find(text, "single", out, why), 0);
    assert_string_equal(out, "it is \"quoted\"");
    assert_int_equal(find(text, "double", out, why), 0);
    assert_string_equal(out, "it's quoted");
    assert_int_equal(find(text, "commented", out, why), 0);
    assert_string_equal(out, "word");
    assert_int_equal(find(text, "quoted-hash", out, why), 0);
    assert_string_equal(out, "a # not a comment");
    assert_int_equal(find(text, "empty", out, why), 0);
    assert_string_equal(out, "");
    assert_int_equal(find(text, "empty-quoted", out, why), 0);
    assert_string_equal(out, "");
    assert_int_equal(find(text, "spaced", out, why), 0);
    assert_string_equal(out, "spaced-out");
}

static void test_nested_three_levels(void **state)
{
    (void)state;
    const char *text = "a\n"
                       "    b\n"
                       "        c = deep\n"
                       "        d = \"deeper\"\n"
                       "    e = shallow\n"
                       "f\n"
                       "    b\n"
                       "        c = other\n";
    char out[128], why[TT_WHY_LEN];
    assert_int_equal(find(text, "a/b/c", out, why), 0);
    assert_string_equal(out, "deep");
    assert_int_equal(find(text, "a/b/d", out, why), 0);
    assert_string_equal(out, "deeper");
    assert_int_equal(find(text, "a/e", out, why), 0);
    assert_string_equal(out, "shallow");
    assert_int_equal(find(text, "f/b/c", out, why), 0);
    assert_string_equal(out, "other");
    /* e sits under a, not under a/b, after the dedent. */
    assert_int_equal(find(text, "a/b/e", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find(text, "a/b/c/x", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find(text, "b/c", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find(text, "c", out, why), TT_ERR_NOTFOUND);
}

static void test_crlf_lines(void **state)
{
    (void)state;
    const char *text = "# comment\r\n"
                       "metadata\r\n"
                       "    name = bare\r\n"
                       "curve\r\n"
                       "    public-key = \"" PUB "\"\r\n"
                       "\r\n";
    char out[128], why[TT_WHY_LEN];
    assert_int_equal(find(text, "metadata/name", out, why), 0);
    assert_string_equal(out, "bare");
    assert_int_equal(find(text, "curve/public-key", out, why), 0);
    assert_string_equal(out, PUB);
}

static void test_missing_path(void **state)
{
    (void)state;
    char out[128], why[TT_WHY_LEN];
    why[0] = '\0';
    assert_int_equal(find(czmq_cert, "curve/nothing", out, why), TT_ERR_NOTFOUND);
    assert_non_null(strstr(why, "curve/nothing"));
    assert_int_equal(find("", "x", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find("# only a comment\n\n   \n", "x", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find(czmq_cert, "", out, why), TT_ERR_NOTFOUND);
}

static void test_prefix_names(void **state)
{
    (void)state;
    char out[128], why[TT_WHY_LEN];
    /* "curve/public" is a prefix of "curve/public-key" and must not match it. */
    assert_int_equal(find(czmq_cert, "curve/public", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find(czmq_cert, "curv/public-key", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find(czmq_cert, "curve/public-keys", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find(czmq_cert, "curvepublic-key", out, why), TT_ERR_NOTFOUND);
    /* ... nor the other way round: the shorter name is found, the longer one skipped. */
    const char *text = "s\n"
                       "    key-long = long\n"
                       "    key = short\n";
    assert_int_equal(find(text, "s/key", out, why), 0);
    assert_string_equal(out, "short");
    assert_int_equal(find(text, "s/key-long", out, why), 0);
    assert_string_equal(out, "long");
}

static void test_section_without_value(void **state)
{
    (void)state;
    char out[128], why[TT_WHY_LEN];
    /* A section names children; it has no value of its own. */
    assert_int_equal(find(czmq_cert, "curve", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find("lonely\n", "lonely", out, why), TT_ERR_NOTFOUND);
    assert_int_equal(find("lonely", "lonely", out, why), TT_ERR_NOTFOUND);
    /* A section with a value keeps both. */
    const char *text = "top = 1\n    child = 2\n";
    assert_int_equal(find(text, "top", out, why), 0);
    assert_string_equal(out, "1");
    assert_int_equal(find(text, "top/child", out, why), 0);
    assert_string_equal(out, "2");
}

static void test_bad_indent(void **state)
{
    (void)state;
    char out[128], why[TT_WHY_LEN];
    const char *text = "# header\n"
                       "curve\n"
                       "   public-key = \"" PUB "\"\n";
    why[0] = '\0';
    assert_int_equal(find(text, "curve/public-key", out, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "line 3"));
    /* Two levels at once. */
    why[0] = '\0';
    assert_int_equal(find("a\n        b = 1\n", "a/b", out, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "line 2"));
    /* Indented first line. */
    why[0] = '\0';
    assert_int_equal(find("\n\n    a = 1\n", "a", out, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "line 3"));
}

static void test_unterminated_quote(void **state)
{
    (void)state;
    char out[128], why[TT_WHY_LEN];
    why[0] = '\0';
    assert_int_equal(find("a = 1\nb = \"open\nc = 2\n", "c", out, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "line 2"));
    /* A mismatched quote pair is also unterminated. */
    why[0] = '\0';
    assert_int_equal(find("x = 'open\"\n", "x", out, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "line 1"));
    /* The quote does not run on into the next line. */
    assert_int_equal(find("x = \"a\n  b\"\n", "x", out, why), TT_ERR_INVALID);
}

static void test_other_syntax_errors(void **state)
{
    (void)state;
    char out[128], why[TT_WHY_LEN];
    why[0] = '\0';
    assert_int_equal(find("a = \"v\" junk\n", "a", out, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "line 1"));
    assert_int_equal(find("ok = 1\n= value\n", "ok2", out, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "line 2"));
    assert_int_equal(find("a = b c\n", "a", out, why), TT_ERR_INVALID);
    assert_int_equal(find("\tname = 1\n", "name", out, why), TT_ERR_INVALID);
    assert_int_equal(find("na!me = 1\n", "na!me", out, why), TT_ERR_INVALID);

    /* A name of TT_ZPL_MAX_NAME characters is refused, one shorter is fine. */
    char text[256], name[TT_ZPL_MAX_NAME + 1];
    memset(name, 'n', TT_ZPL_MAX_NAME - 1);
    name[TT_ZPL_MAX_NAME - 1] = '\0';
    snprintf(text, sizeof text, "%s = ok\n", name);
    assert_int_equal(find(text, name, out, why), 0);
    assert_string_equal(out, "ok");
    memset(name, 'n', TT_ZPL_MAX_NAME);
    name[TT_ZPL_MAX_NAME] = '\0';
    snprintf(text, sizeof text, "%s = ok\n", name);
    assert_int_equal(find(text, name, out, why), TT_ERR_INVALID);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char text[1024] = "", path[256] = "", out[128], why[TT_WHY_LEN];
    /* TT_ZPL_MAX_DEPTH levels work ... */
    for (int d = 0; d < TT_ZPL_MAX_DEPTH; d++) {
        char line[64];
        snprintf(line, sizeof line, "%*sl%d%s\n", 4 * d, "", d,
                 d == TT_ZPL_MAX_DEPTH - 1 ? " = bottom" : "");
        strcat(text, line);
        char part[8];
        snprintf(part, sizeof part, "%sl%d", d ? "/" : "", d);
        strcat(path, part);
    }
    assert_int_equal(find(text, path, out, why), 0);
    assert_string_equal(out, "bottom");
    /* ... one more is refused, not written past the name stack. */
    char line[64];
    snprintf(line, sizeof line, "%*sx = 1\n", 4 * TT_ZPL_MAX_DEPTH, "");
    strcat(text, line);
    why[0] = '\0';
    assert_int_equal(find(text, "x", out, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "line 9"));
}

static void test_value_too_long(void **state)
{
    (void)state;
    char out[8], why[TT_WHY_LEN];
    const char *text = "k = \"12345678\"\nshort = 1234567\n";
    assert_int_equal(tt_zpl_find(text, strlen(text), "k", out, sizeof out, why), TT_ERR_TOO_BIG);
    assert_int_equal(tt_zpl_find(text, strlen(text), "short", out, sizeof out, why), 0);
    assert_string_equal(out, "1234567");
    assert_int_equal(tt_zpl_find(text, strlen(text), "short", out, 0, why), TT_ERR_TOO_BIG);
}

static void test_text_too_big(void **state)
{
    (void)state;
    size_t n = TT_ZPL_MAX_TEXT + 1;
    char *text = malloc(n);
    assert_non_null(text);
    memset(text, '#', n); /* all comment: fine apart from its size */
    text[n - 1] = '\n';
    char out[128], why[TT_WHY_LEN];
    assert_int_equal(tt_zpl_find(text, n, "x", out, sizeof out, why), TT_ERR_TOO_BIG);
    /* Exactly at the limit is read. */
    memcpy(text, "x = 1\n", 6);
    assert_int_equal(tt_zpl_find(text, TT_ZPL_MAX_TEXT, "x", out, sizeof out, why), 0);
    assert_string_equal(out, "1");
    free(text);
}

static void test_nul_byte_is_not_a_name_char(void **state)
{
    (void)state;
    /* A NUL inside a name is not part of the grammar: "a<NUL>b" is not "a". */
    static const char text[] = "a\0b = secret\n";
    char out[128], why[TT_WHY_LEN];
    int rc = tt_zpl_find(text, sizeof text - 1, "a", out, sizeof out, why);
    assert_int_not_equal(rc, 0);
}

static void test_garbage_is_bounded(void **state)
{
    (void)state;
    /* Deterministic junk of every byte value: never crashes, never returns a value it
     * could not have found. */
    uint32_t x = 12345;
    char buf[512], out[16], why[TT_WHY_LEN];
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = (size_t)(iter % (int)sizeof buf);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            /* Bias towards the grammar's own characters. */
            static const char alphabet[] = "ab =\"'#\n    /\r-";
            buf[i] = (x & 0x100) ? alphabet[x % (sizeof alphabet - 1)] : (char)(x & 0xff);
        }
        int rc = tt_zpl_find(buf, n, "a/b", out, sizeof out, why);
        assert_true(rc == 0 || rc == TT_ERR_NOTFOUND || rc == TT_ERR_INVALID ||
                    rc == TT_ERR_TOO_BIG);
        if (rc == 0)
            assert_true(strlen(out) < sizeof out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_czmq_certificate),
        cmocka_unit_test(test_exact_outlen),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_bare_and_quoted_values),
        cmocka_unit_test(test_nested_three_levels),
        cmocka_unit_test(test_crlf_lines),
        cmocka_unit_test(test_missing_path),
        cmocka_unit_test(test_prefix_names),
        cmocka_unit_test(test_section_without_value),
        cmocka_unit_test(test_bad_indent),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_other_syntax_errors),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_value_too_long),
        cmocka_unit_test(test_text_too_big),
        cmocka_unit_test(test_nul_byte_is_not_a_name_char),
        cmocka_unit_test(test_garbage_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
