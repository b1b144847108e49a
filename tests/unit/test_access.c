/* test_access: the access file parser. A good file with every role and
 * comments; Z85 keys that contain '#'; and each way a line can be wrong
 * (unknown role, bad key, duplicate key or name, extra field, bad name),
 * which must be refused with the line number in the reason. Also
 * tt_access_find_key, tt_access_load and the role names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "tt_access.h"
#include "tt_error.h"

static void new_key(char out[TT_Z85_KEY_LEN + 1])
{
    char secret[TT_Z85_KEY_LEN + 1];
    assert_int_equal(zmq_curve_keypair(out, secret), 0);
}

/* A public key containing '#'. Z85 never puts '#' (index 84) first in a 5-character block
 * (2^32 - 1 < 83 * 85^4), so a key field never starts with it and never reads as a comment. */
static void key_with_hash(char out[TT_Z85_KEY_LEN + 1])
{
    for (int i = 0; i < 100000; i++) {
        new_key(out);
        if (strchr(out, '#'))
            return;
    }
    fail_msg("no key with '#' in 100000 tries");
}

/* Parses text; on failure checks the code in why mentions "line N". */
static void expect_error_at(const char *text, int line)
{
    char why[TT_WHY_LEN] = "";
    tt_access_t *a = tt_access_parse(text, strlen(text), why);
    if (a) {
        tt_access_destroy(&a);
        fail_msg("accepted:\n%s", text);
    }
    char want[32];
    snprintf(want, sizeof want, "line %d", line);
    if (!strstr(why, want))
        fail_msg("reason '%s' does not name %s", why, want);
}

static void test_good_file(void **state)
{
    (void)state;
    char k[4][TT_Z85_KEY_LEN + 1];
    for (int i = 0; i < 4; i++)
        new_key(k[i]);
    char text[2048];
    snprintf(text, sizeof text,
             "# role       name          public key\n"
             "\n"
             "operator     conductor     %s\n"
             "   # indented comment\n"
             "room\tstage\t%s\r\n"
             "contractor   sound-1.rig_2 %s   # the sound contractor\n"
             "observer     press         %s#not a comment: part of no field\n",
             k[0], k[1], k[2], k[3]);
    /* On line 7 the '#' follows the key directly: it belongs to the key field and makes
     * the key invalid. With a space before it, it starts a comment. */
    char *bad = strstr(text, "#not a comment");
    assert_non_null(bad);
    char why[TT_WHY_LEN] = "";
    tt_access_t *a = tt_access_parse(text, strlen(text), why);
    assert_null(a);
    assert_non_null(strstr(why, "line 7"));
    memcpy(bad, " #", 2);
    a = tt_access_parse(text, strlen(text), why);
    if (!a)
        fail_msg("%s", why);
    assert_int_equal(a->count, 4);
    const tt_role_t roles[4] = {TT_ROLE_OPERATOR, TT_ROLE_ROOM, TT_ROLE_CONTRACTOR,
                                TT_ROLE_OBSERVER};
    const char *names[4] = {"conductor", "stage", "sound-1.rig_2", "press"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a->entries[i].role, roles[i]);
        assert_string_equal(a->entries[i].name, names[i]);
        assert_string_equal(a->entries[i].key_z85, k[i]);
        const tt_access_entry_t *e = tt_access_find_key(a, k[i]);
        assert_ptr_equal(e, &a->entries[i]);
    }
    char other[TT_Z85_KEY_LEN + 1];
    new_key(other);
    assert_null(tt_access_find_key(a, other));
    assert_null(tt_access_find_key(a, ""));
    tt_access_destroy(&a);
    assert_null(a);
    tt_access_destroy(&a); /* safe on NULL */
    tt_access_destroy(NULL);
}

static void test_empty_file(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    const char *text = "# nobody yet\n\n  \t \n";
    tt_access_t *a = tt_access_parse(text, strlen(text), why);
    assert_non_null(a);
    assert_int_equal(a->count, 0);
    char k[TT_Z85_KEY_LEN + 1];
    new_key(k);
    assert_null(tt_access_find_key(a, k));
    tt_access_destroy(&a);
    a = tt_access_parse("", 0, why);
    assert_non_null(a);
    assert_int_equal(a->count, 0);
    tt_access_destroy(&a);
}

static void test_key_containing_hash(void **state)
{
    (void)state;
    char k[TT_Z85_KEY_LEN + 1], k2[TT_Z85_KEY_LEN + 1];
    key_with_hash(k);
    new_key(k2);
    char text[512], why[TT_WHY_LEN] = "";
    snprintf(text, sizeof text, "room stage %s # comment after the fields\nroom pit %s#\n", k, k2);
    /* Line 2: "KEY#" - '#' right after a key is part of the field, so the key is bad. */
    tt_access_t *a = tt_access_parse(text, strlen(text), why);
    assert_null(a);
    assert_non_null(strstr(why, "line 2"));
    snprintf(text, sizeof text, "room stage %s # comment after the fields\nroom pit %s\n", k, k2);
    a = tt_access_parse(text, strlen(text), why);
    if (!a)
        fail_msg("key %s: %s", k, why);
    assert_int_equal(a->count, 2);
    assert_string_equal(a->entries[0].key_z85, k);
    assert_string_equal(tt_access_find_key(a, k)->name, "stage");
    tt_access_destroy(&a);
}

static void test_line_errors(void **state)
{
    (void)state;
    char k1[TT_Z85_KEY_LEN + 1], k2[TT_Z85_KEY_LEN + 1];
    new_key(k1);
    new_key(k2);
    char text[1024];

    /* unknown role */
    snprintf(text, sizeof text, "operator a %s\n\nconductor b %s\n", k1, k2);
    expect_error_at(text, 3);
    snprintf(text, sizeof text, "Operator a %s\n", k1);
    expect_error_at(text, 1);
    snprintf(text, sizeof text, "none a %s\n", k1);
    expect_error_at(text, 1);

    /* 39-character key */
    snprintf(text, sizeof text, "room a %s\nroom b %.39s\n", k1, k2);
    expect_error_at(text, 2);
    /* 41-character key */
    snprintf(text, sizeof text, "room a %sx\n", k1);
    expect_error_at(text, 1);
    /* much longer key */
    snprintf(text, sizeof text, "room a %s%s\n", k1, k2);
    expect_error_at(text, 1);
    /* characters outside Z85 */
    const char bad_chars[] = "~,;'\"`_|\\";
    for (const char *c = bad_chars; *c; c++) {
        char bad[TT_Z85_KEY_LEN + 1];
        memcpy(bad, k1, sizeof bad);
        bad[17] = *c;
        snprintf(text, sizeof text, "# x\nroom a %s\n", bad);
        expect_error_at(text, 2);
    }

    /* duplicate key, under another name and role */
    snprintf(text, sizeof text, "room a %s\nobserver b %s\n", k1, k1);
    expect_error_at(text, 2);
    /* duplicate name, with another key */
    snprintf(text, sizeof text, "room a %s\n# c\nroom a %s\n", k1, k2);
    expect_error_at(text, 3);
    snprintf(text, sizeof text, "room a %s\nobserver a %s\n", k1, k2);
    expect_error_at(text, 2);

    /* extra field, short or long */
    snprintf(text, sizeof text, "room a %s x\n", k1);
    expect_error_at(text, 1);
    snprintf(text, sizeof text, "room a %s extra-field-that-is-long\n", k1);
    expect_error_at(text, 1);
    /* missing fields */
    snprintf(text, sizeof text, "room a\n");
    expect_error_at(text, 1);
    snprintf(text, sizeof text, "room %s\n", k1);
    expect_error_at(text, 1);
    snprintf(text, sizeof text, "room\n");
    expect_error_at(text, 1);

    /* names: '/', other punctuation, too long */
    snprintf(text, sizeof text, "room a/b %s\n", k1);
    expect_error_at(text, 1);
    snprintf(text, sizeof text, "room ../a %s\n", k1);
    expect_error_at(text, 1);
    snprintf(text, sizeof text, "room a:b %s\n", k1);
    expect_error_at(text, 1);
    char longname[TT_ACCESS_MAX_NAME + 2];
    memset(longname, 'n', TT_ACCESS_MAX_NAME + 1);
    longname[TT_ACCESS_MAX_NAME + 1] = '\0';
    snprintf(text, sizeof text, "room %s %s\n", longname, k1);
    expect_error_at(text, 1);
    /* ... but TT_ACCESS_MAX_NAME characters are fine. */
    longname[TT_ACCESS_MAX_NAME] = '\0';
    snprintf(text, sizeof text, "room %s %s\n", longname, k1);
    char why[TT_WHY_LEN];
    tt_access_t *a = tt_access_parse(text, strlen(text), why);
    assert_non_null(a);
    assert_string_equal(a->entries[0].name, longname);
    tt_access_destroy(&a);
}

/* Writes before + NUL + after + '\n' into out; returns the length. */
static size_t line_with_nul(char *out, const char *before, const char *after)
{
    size_t n = strlen(before), m = strlen(after);
    memcpy(out, before, n);
    out[n] = '\0';
    memcpy(out + n + 1, after, m);
    out[n + 1 + m] = '\n';
    return n + m + 2;
}

static void test_nul_byte_refused(void **state)
{
    (void)state;
    /* The text is length-delimited, so a NUL is just a byte: one inside a field is not a
     * character any field may hold, and must not cut the field short. */
    char k[TT_Z85_KEY_LEN + 1], before[128], after[128], text[256];
    new_key(k);
    for (int i = 0; i < 3; i++) {
        if (i == 0) { /* role "room<NUL>junk" */
            snprintf(before, sizeof before, "room");
            snprintf(after, sizeof after, "junk stage %s", k);
        } else if (i == 1) { /* name "stage<NUL>/../x" */
            snprintf(before, sizeof before, "room stage");
            snprintf(after, sizeof after, "/../x %s", k);
        } else { /* key "<KEY><NUL>junk" */
            snprintf(before, sizeof before, "room stage %s", k);
            snprintf(after, sizeof after, "junk");
        }
        size_t n = line_with_nul(text, before, after);
        char why[TT_WHY_LEN] = "";
        tt_access_t *a = tt_access_parse(text, n, why);
        if (a) {
            char got[128];
            snprintf(got, sizeof got, "%s '%s'", tt_role_name(a->entries[0].role),
                     a->entries[0].name);
            tt_access_destroy(&a);
            fail_msg("case %d: a field holding a NUL byte was accepted as %s", i, got);
        }
        assert_non_null(strstr(why, "line 1"));
    }
}

static void test_too_big(void **state)
{
    (void)state;
    size_t n = TT_ACCESS_MAX_TEXT + 1;
    char *text = malloc(n);
    assert_non_null(text);
    memset(text, '\n', n);
    char why[TT_WHY_LEN];
    assert_null(tt_access_parse(text, n, why));
    tt_access_t *a = tt_access_parse(text, n - 1, why);
    assert_non_null(a);
    assert_int_equal(a->count, 0);
    tt_access_destroy(&a);
    free(text);
}

static void test_many_entries(void **state)
{
    (void)state;
    /* Enough entries to grow the table a few times. */
    enum { N = 100 };
    static char keys[N][TT_Z85_KEY_LEN + 1];
    size_t cap = N * 80;
    char *text = malloc(cap), *p = text;
    assert_non_null(text);
    for (int i = 0; i < N; i++) {
        new_key(keys[i]);
        p += snprintf(p, cap - (size_t)(p - text), "observer o%d %s\n", i, keys[i]);
    }
    char why[TT_WHY_LEN];
    tt_access_t *a = tt_access_parse(text, (size_t)(p - text), why);
    free(text);
    if (!a)
        fail_msg("%s", why);
    assert_int_equal(a->count, N);
    for (int i = 0; i < N; i++) {
        const tt_access_entry_t *e = tt_access_find_key(a, keys[i]);
        assert_non_null(e);
        char name[16];
        snprintf(name, sizeof name, "o%d", i);
        assert_string_equal(e->name, name);
    }
    tt_access_destroy(&a);
}

/* A session as the fan-out bench runs it: an operator, 50 rooms and
 * 2,000 observers, one comment line each, all found by key. (The table
 * once stopped at 1,024 entries, fewer than 1,000 dashboards and 50 rooms.) */
static void test_thousands_of_observers(void **state)
{
    (void)state;
    enum { ROOMS = 50, OBS = 2000, N = 1 + ROOMS + OBS };
    static char keys[N][TT_Z85_KEY_LEN + 1];
    size_t cap = (size_t)N * 160;
    char *text = malloc(cap), *p = text;
    assert_non_null(text);
    for (int i = 0; i < N; i++) {
        new_key(keys[i]);
        const char *role = i == 0 ? "operator" : i <= ROOMS ? "room" : "observer";
        p += snprintf(p, cap - (size_t)(p - text), "# seat %d\n%s seat-%04d %s\n", i, role, i,
                      keys[i]);
    }
    assert_true((size_t)(p - text) <= TT_ACCESS_MAX_TEXT);
    char why[TT_WHY_LEN];
    tt_access_t *a = tt_access_parse(text, (size_t)(p - text), why);
    free(text);
    if (!a)
        fail_msg("%s", why);
    assert_int_equal(a->count, N);
    assert_int_equal(tt_access_count_role(a, TT_ROLE_ROOM), ROOMS);
    assert_int_equal(tt_access_count_role(a, TT_ROLE_OBSERVER), OBS);
    for (int i = 0; i < N; i++) {
        const tt_access_entry_t *e = tt_access_find_key(a, keys[i]);
        assert_non_null(e);
        char name[16];
        snprintf(name, sizeof name, "seat-%04d", i);
        assert_string_equal(e->name, name);
    }
    tt_access_t *c = tt_access_from_entries(a->entries, a->count, why);
    assert_non_null(c);
    assert_non_null(tt_access_find_key(c, keys[N - 1]));
    tt_access_destroy(&c);
    tt_access_destroy(&a);
}

static void test_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/tt-access-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], k[TT_Z85_KEY_LEN + 1], why[TT_WHY_LEN] = "";
    snprintf(path, sizeof path, "%s/access", dir);
    new_key(k);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# access\noperator conductor %s\n", k);
    fclose(f);
    tt_access_t *a = tt_access_load(path, why);
    if (!a)
        fail_msg("%s", why);
    assert_int_equal(a->count, 1);
    assert_int_equal(tt_access_find_key(a, k)->role, TT_ROLE_OPERATOR);
    tt_access_destroy(&a);

    /* A bad file names the path and the line. */
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# access\nwizard conductor %s\n", k);
    fclose(f);
    assert_null(tt_access_load(path, why));
    assert_non_null(strstr(why, path));
    assert_non_null(strstr(why, "line 2"));
    assert_int_equal(unlink(path), 0);

    /* A missing file is an error too. */
    why[0] = '\0';
    assert_null(tt_access_load(path, why));
    assert_non_null(strstr(why, path));
    assert_int_equal(rmdir(dir), 0);
}

static void test_role_names(void **state)
{
    (void)state;
    const tt_role_t roles[] = {TT_ROLE_OPERATOR, TT_ROLE_ROOM, TT_ROLE_CONTRACTOR, TT_ROLE_OBSERVER,
                               TT_ROLE_RELAY};
    const char *names[] = {"operator", "room", "contractor", "observer", "relay"};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(tt_role_name(roles[i]), names[i]);
        assert_int_equal(tt_role_from_name(names[i]), roles[i]);
        assert_int_equal(tt_role_from_name(tt_role_name(roles[i])), roles[i]);
    }
    assert_string_equal(tt_role_name(TT_ROLE_NONE), "none");
    assert_string_equal(tt_role_name((tt_role_t)42), "none");
    assert_int_equal(tt_role_from_name("none"), TT_ROLE_NONE);
    assert_int_equal(tt_role_from_name(""), TT_ROLE_NONE);
    assert_int_equal(tt_role_from_name("ROOM"), TT_ROLE_NONE);
    assert_int_equal(tt_role_from_name("room "), TT_ROLE_NONE);
    assert_int_equal(tt_role_from_name("operators"), TT_ROLE_NONE);
}

/* Rooms are found by name, and only when the name is a room's. */
static void test_find_room(void **state)
{
    (void)state;
    char k[5][TT_Z85_KEY_LEN + 1];
    for (int i = 0; i < 5; i++)
        new_key(k[i]);
    char text[2048];
    snprintf(text, sizeof text,
             "operator   conductor  %s\n"
             "room       stage      %s\n"
             "room       london     %s\n"
             "contractor .fixer     %s\n"
             "observer   Stage      %s\n",
             k[0], k[1], k[2], k[3], k[4]);
    char why[TT_WHY_LEN] = "";
    tt_access_t *a = tt_access_parse(text, strlen(text), why);
    assert_non_null(a);

    const tt_access_entry_t *e = tt_access_find_room(a, "london");
    assert_non_null(e);
    assert_int_equal(e->role, TT_ROLE_ROOM);
    assert_string_equal(e->name, "london");
    assert_string_equal(e->key_z85, k[2]);
    assert_ptr_equal(e, tt_access_find_key(a, k[2])); /* the same entry, borrowed */
    assert_ptr_equal(tt_access_find_room(a, "stage"), &a->entries[1]);

    /* A name that is not a room's is not a room; names are case-sensitive. */
    assert_null(tt_access_find_room(a, "conductor"));
    assert_null(tt_access_find_room(a, "Stage"));
    assert_null(tt_access_find_room(a, "paris"));
    assert_null(tt_access_find_room(a, ""));
    assert_null(tt_access_find_room(a, NULL));
    assert_null(tt_access_find_room(a, "stag"));

    /* By name, any role (an identifier may start with '.'). */
    e = tt_access_find_name(a, "Stage");
    assert_non_null(e);
    assert_int_equal(e->role, TT_ROLE_OBSERVER);
    e = tt_access_find_name(a, ".fixer");
    assert_non_null(e);
    assert_int_equal(e->role, TT_ROLE_CONTRACTOR);
    assert_null(tt_access_find_name(a, "nobody"));

    assert_int_equal(tt_access_count_role(a, TT_ROLE_ROOM), 2);
    assert_int_equal(tt_access_count_role(a, TT_ROLE_OPERATOR), 1);
    assert_int_equal(tt_access_count_role(a, TT_ROLE_NONE), 0);
    tt_access_destroy(&a);

    /* An empty file has no rooms. */
    a = tt_access_parse("", 0, why);
    assert_non_null(a);
    assert_null(tt_access_find_room(a, "stage"));
    assert_int_equal(tt_access_count_role(a, TT_ROLE_ROOM), 0);
    tt_access_destroy(&a);
}

/* A copy for another thread: the same entries, its own memory; empty and
 * oversized tables too. */
static void test_from_entries(void **state)
{
    (void)state;
    char k1[TT_Z85_KEY_LEN + 1], k2[TT_Z85_KEY_LEN + 1], text[256];
    new_key(k1);
    new_key(k2);
    snprintf(text, sizeof text, "operator conductor %s\nroom stage %s\n", k1, k2);
    char why[TT_WHY_LEN];
    tt_access_t *a = tt_access_parse(text, strlen(text), why);
    assert_non_null(a);
    tt_access_t *c = tt_access_from_entries(a->entries, a->count, why);
    assert_non_null(c);
    assert_int_equal(c->count, 2);
    assert_ptr_not_equal(c->entries, a->entries);
    tt_access_destroy(&a);
    const tt_access_entry_t *e = tt_access_find_key(c, k2);
    assert_non_null(e);
    assert_string_equal(e->name, "stage");
    assert_int_equal(e->role, TT_ROLE_ROOM);
    tt_access_destroy(&c);

    c = tt_access_from_entries(NULL, 0, why);
    assert_non_null(c);
    assert_null(tt_access_find_key(c, k1));
    tt_access_destroy(&c);
    assert_null(tt_access_from_entries(NULL, TT_ACCESS_MAX_ENTRIES + 1, why));
    assert_non_null(strstr(why, "limit"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),           cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_key_containing_hash), cmocka_unit_test(test_line_errors),
        cmocka_unit_test(test_nul_byte_refused),    cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_many_entries),        cmocka_unit_test(test_load),
        cmocka_unit_test(test_role_names),          cmocka_unit_test(test_find_room),
        cmocka_unit_test(test_from_entries),        cmocka_unit_test(test_thousands_of_observers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
