/* test_idem: the idempotency key index on its own: find what was added,
 * the first record of a key wins, the oldest key falls out of a full
 * window (also when its bucket chain is shared), and the window bounds.
 * Keys read out oldest first and added to a new index give an index that
 * answers and forgets as the first (what a snapshot of the fold does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "tt_error.h"
#include "tt_idem.h"

static void key_of(uint8_t key[TT_IDEM_KEY_LEN], uint32_t n)
{
    memset(key, 0, TT_IDEM_KEY_LEN);
    memcpy(key + 7, &n, sizeof n);
}

static void test_add_find(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    tt_idem_t *x = tt_idem_new(1000, why);
    assert_non_null(x);
    uint8_t key[TT_IDEM_KEY_LEN];
    int kind = -1;
    key_of(key, 1);
    assert_int_equal(tt_idem_find(x, key, &kind), 0);
    assert_int_equal(kind, -1); /* untouched when not found */
    for (uint32_t i = 1; i <= 1000; i++) {
        key_of(key, i);
        tt_idem_add(x, key, 10 + i, (int)(i % 7));
    }
    assert_int_equal(tt_idem_count(x), 1000);
    for (uint32_t i = 1; i <= 1000; i++) {
        key_of(key, i);
        assert_int_equal(tt_idem_find(x, key, &kind), 10 + i);
        assert_int_equal(kind, (int)(i % 7));
    }
    /* A key again keeps its first record. */
    key_of(key, 5);
    tt_idem_add(x, key, 99999, 3);
    assert_int_equal(tt_idem_find(x, key, NULL), 15);
    assert_int_equal(tt_idem_count(x), 1000);
    key_of(key, 1001);
    assert_int_equal(tt_idem_find(x, key, NULL), 0);
    tt_idem_destroy(&x);
    assert_null(x);
    tt_idem_destroy(&x); /* safe on NULL */
}

/* A window of 3 over many keys: always exactly the last 3, in every
 * chain shape the hash happens to make (3 keys, 4 buckets). */
static void test_window(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    tt_idem_t *x = tt_idem_new(3, why);
    assert_non_null(x);
    uint8_t key[TT_IDEM_KEY_LEN];
    for (uint32_t i = 1; i <= 500; i++) {
        key_of(key, i);
        tt_idem_add(x, key, i, 0);
        assert_int_equal(tt_idem_count(x), i < 3 ? i : 3);
        for (uint32_t j = 1; j <= i; j++) {
            key_of(key, j);
            assert_int_equal(tt_idem_find(x, key, NULL), j + 3 > i ? j : 0);
        }
    }
    tt_idem_destroy(&x);

    x = tt_idem_new(1, why); /* a window of one */
    assert_non_null(x);
    key_of(key, 1);
    tt_idem_add(x, key, 1, 0);
    key_of(key, 2);
    tt_idem_add(x, key, 2, 0);
    assert_int_equal(tt_idem_find(x, key, NULL), 2);
    key_of(key, 1);
    assert_int_equal(tt_idem_find(x, key, NULL), 0);
    tt_idem_destroy(&x);
}

/* Copies x into a new index of its window, oldest key first. */
static tt_idem_t *copy_of(const tt_idem_t *x)
{
    char why[TT_WHY_LEN];
    tt_idem_t *y = tt_idem_new(tt_idem_window(x), why);
    assert_non_null(y);
    for (size_t i = 0; i < tt_idem_count(x); i++) {
        uint8_t key[TT_IDEM_KEY_LEN];
        uint64_t seq;
        int kind;
        tt_idem_get(x, i, key, &seq, &kind);
        tt_idem_add(y, key, seq, kind);
    }
    return y;
}

static void expect_same(const tt_idem_t *x, const tt_idem_t *y, uint32_t upto)
{
    assert_int_equal(tt_idem_count(x), tt_idem_count(y));
    for (uint32_t j = 1; j <= upto; j++) {
        uint8_t key[TT_IDEM_KEY_LEN];
        key_of(key, j);
        int kx = -1, ky = -1;
        assert_int_equal(tt_idem_find(x, key, &kx), tt_idem_find(y, key, &ky));
        assert_int_equal(kx, ky);
    }
}

static void test_copy_oldest_first(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    /* Copies taken before the ring is full, when it is, and after it wrapped. */
    for (uint32_t filled = 0; filled <= 13; filled++) {
        tt_idem_t *x = tt_idem_new(5, why);
        assert_non_null(x);
        uint8_t key[TT_IDEM_KEY_LEN];
        for (uint32_t i = 1; i <= filled; i++) {
            key_of(key, i);
            tt_idem_add(x, key, 100 + i, (int)i % 3);
        }
        assert_int_equal(tt_idem_window(x), 5);
        if (filled) {
            uint64_t seq;
            int kind;
            tt_idem_get(x, 0, key, &seq, &kind); /* the oldest held */
            assert_int_equal(seq, 100 + (filled > 5 ? filled - 4 : 1));
        }
        tt_idem_t *y = copy_of(x);
        expect_same(x, y, 20);
        /* Both forget the same keys from here on. */
        for (uint32_t i = 14; i <= 20; i++) {
            key_of(key, i);
            tt_idem_add(x, key, 100 + i, 1);
            tt_idem_add(y, key, 100 + i, 1);
            expect_same(x, y, 20);
        }
        tt_idem_destroy(&x);
        tt_idem_destroy(&y);
    }
    assert_int_equal(tt_idem_window(NULL), 0);
}

static void test_bounds(void **state)
{
    (void)state;
    char why[TT_WHY_LEN] = "";
    assert_null(tt_idem_new(0, why));
    assert_non_null(strstr(why, "window"));
    assert_null(tt_idem_new(((size_t)1 << 31) + 1, why));
    assert_int_equal(tt_idem_count(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_copy_oldest_first),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
