/* test_text: the shared text rules. The name alphabet and the leading-dot
 * policy (an identifier may start with '.', a file-system name may not),
 * strict UTF-8 and the cut at a character boundary, and hex both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "tt_error.h"
#include "tt_text.h"

static void test_name_alphabet(void **state)
{
    (void)state;
    for (int c = 1; c < 256; c++) {
        int want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-';
        assert_int_equal(tt_name_char(c), want);
    }
    assert_true(tt_name_ok("1M1", 32, 0));
    assert_true(tt_name_ok("stage_left-2.b", 32, 0));
    assert_false(tt_name_ok(NULL, 32, 0));
    assert_false(tt_name_ok("", 32, 0));
    assert_false(tt_name_ok("a b", 32, 0));
    assert_false(tt_name_ok("a/b", 32, 0));
    assert_false(tt_name_ok("caf\xc3\xa9", 32, 0)); /* letters are ASCII letters */
    assert_false(tt_name_ok("a,b", 32, 0));         /* no CSV quoting needed */
    /* max is inclusive */
    assert_true(tt_name_ok("abcd", 4, 0));
    assert_false(tt_name_ok("abcde", 4, 0));
}

static void test_leading_dot(void **state)
{
    (void)state;
    /* An identifier may start with '.'; a file-system name may not. */
    assert_true(tt_name_ok(".5M2", 32, 0));
    assert_false(tt_name_ok(".5M2", 32, TT_NAME_FILE));
    assert_false(tt_name_ok(".", 32, TT_NAME_FILE));
    assert_false(tt_name_ok("..", 32, TT_NAME_FILE));
    assert_true(tt_name_ok("a.wav", 32, TT_NAME_FILE)); /* a dot elsewhere is fine */
    assert_true(tt_name_ok("a..b", 32, TT_NAME_FILE));
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(tt_utf8_valid("", 0));
    assert_true(tt_utf8_valid("plain", 5));
    assert_true(tt_utf8_valid("\xe2\x82\xac", 3));          /* U+20AC */
    assert_true(tt_utf8_valid("\xf0\x9f\x8e\xbb", 4));      /* U+1F3BB */
    assert_false(tt_utf8_valid("\xe2\x82\xac", 2));         /* cut by n */
    assert_false(tt_utf8_valid("\xc0\x80", 2));             /* overlong NUL */
    assert_false(tt_utf8_valid("\xe0\x80\xaf", 3));         /* overlong '/' */
    assert_false(tt_utf8_valid("\xed\xa0\x80", 3));         /* surrogate U+D800 */
    assert_false(tt_utf8_valid("\xf4\x90\x80\x80", 4));     /* U+110000 */
    assert_true(tt_utf8_valid("\xf4\x8f\xbf\xbf", 4));      /* U+10FFFF */
    assert_false(tt_utf8_valid("\x80", 1));                 /* lone continuation */
    assert_false(tt_utf8_valid("\xc3(", 2));                /* bad continuation */
    assert_false(tt_utf8_valid("\xf8\x88\x80\x80\x80", 5)); /* 5-byte form */
}

static void test_utf8_copy(void **state)
{
    (void)state;
    char out[6];
    tt_utf8_copy(out, sizeof out, "abc");
    assert_string_equal(out, "abc");
    tt_utf8_copy(out, sizeof out, "abcdefgh");
    assert_string_equal(out, "abcde");
    /* "ab€€": the second euro would straddle the end; the cut goes before it. */
    tt_utf8_copy(out, sizeof out, "ab\xe2\x82\xac\xe2\x82\xac");
    assert_string_equal(out, "ab\xe2\x82\xac");
    assert_true(tt_utf8_valid(out, strlen(out)));
    char tiny[3];
    tt_utf8_copy(tiny, sizeof tiny, "\xe2\x82\xac");
    assert_string_equal(tiny, "");
    char one[1];
    tt_utf8_copy(one, sizeof one, "anything");
    assert_string_equal(one, "");
}

static void test_utf8_copy_any(void **state)
{
    (void)state;
    char out[8];
    tt_utf8_copy_any(out, sizeof out, "a\xe2\x82\xac"); /* valid: kept */
    assert_string_equal(out, "a\xe2\x82\xac");
    tt_utf8_copy_any(out, sizeof out,
                     "a\xff\xe2\x82"
                     "b"); /* not: its high bytes go */
    assert_string_equal(out, "a???b");
    tt_utf8_copy_any(out, sizeof out, "abcdefghij");
    assert_string_equal(out, "abcdefg");
}

static void test_hex(void **state)
{
    (void)state;
    const uint8_t data[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char hex[2 * sizeof data + 1];
    tt_hex_encode(data, sizeof data, hex);
    assert_string_equal(hex, "00017f80abff");
    uint8_t back[sizeof data];
    assert_int_equal(tt_hex_decode(hex, strlen(hex), back, sizeof back), 0);
    assert_memory_equal(back, data, sizeof data);
    assert_int_equal(tt_hex_decode("00017F80ABFF", 12, back, sizeof back), 0); /* either case */
    assert_memory_equal(back, data, sizeof data);
    assert_int_equal(tt_hex_decode("00017f80abf", 11, back, sizeof back), TT_ERR_INVALID);
    assert_int_equal(tt_hex_decode("00017f80abff00", 14, back, sizeof back), TT_ERR_INVALID);
    assert_int_equal(tt_hex_decode("00017f80abfg", 12, back, sizeof back), TT_ERR_INVALID);
    assert_int_equal(tt_hex_decode(" 0017f80abff", 12, back, sizeof back), TT_ERR_INVALID);
    char empty[1];
    tt_hex_encode(data, 0, empty);
    assert_string_equal(empty, "");
    assert_int_equal(tt_hex_decode("", 0, back, 0), 0);
    /* every byte round-trips */
    uint8_t all[256], again[256];
    char all_hex[513];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    tt_hex_encode(all, 256, all_hex);
    assert_int_equal(tt_hex_decode(all_hex, 512, again, 256), 0);
    assert_memory_equal(all, again, 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_alphabet), cmocka_unit_test(test_leading_dot),
        cmocka_unit_test(test_utf8_valid),    cmocka_unit_test(test_utf8_copy),
        cmocka_unit_test(test_utf8_copy_any), cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
