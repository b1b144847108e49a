/* test_config: config files. The INI reader's strictness (indented lines,
 * long lines, NUL bytes, junk lines, line numbers); tt_config_apply turns
 * a file into flags before the command line's, a command-line flag
 * overrides the file (every value of a repeatable one), booleans, relative
 * paths from the file's directory, and unknown keys, duplicates, foreign
 * sections and a nested config are refused naming the file and line.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt_config.h"
#include "tt_error.h"

static const struct option OPTS[] = {
    {"data", required_argument, 0, 1}, {"room", required_argument, 0, 2},
    {"jack", no_argument, 0, 3},       {"click", required_argument, 0, 4},
    {"key", required_argument, 0, 5},  {"quiet", no_argument, 0, 6},
    {"help", no_argument, 0, 'h'},     {0, 0, 0, 0},
};
static const char *const REPEAT[] = {"click", NULL};
static const char *const PATHS[] = {"data", "key", NULL};
static const tt_config_spec_t SPEC = {"tutti-agent", OPTS, REPEAT, PATHS, 0};

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/test_config.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

typedef struct {
    char keys[8][32];
    char values[8][64];
    int lines[8];
    int n;
} pairs_t;

static int collect(void *arg, const char *section, const char *key, const char *value, int line,
                   char *why)
{
    (void)section;
    pairs_t *p = arg;
    if (!strcmp(key, "bad"))
        return tt_fail(why, TT_ERR_INVALID, "bad key");
    snprintf(p->keys[p->n], 32, "%s", key);
    snprintf(p->values[p->n], 64, "%s", value);
    p->lines[p->n++] = line;
    return 0;
}

static void test_ini_reader(void **state)
{
    (void)state;
    pairs_t p = {0};
    char why[TT_WHY_LEN];
    const char *ok =
        "# comment\n; also\n\n[s]\na = 1\nb=tcp://h:7700 \r\n  # indented comment\nc = x=y\n";
    assert_int_equal(tt_ini_each(ok, strlen(ok), collect, &p, why), 0);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.keys[1], "b");
    assert_string_equal(p.values[1], "tcp://h:7700");
    assert_int_equal(p.lines[1], 6);
    assert_string_equal(p.values[2], "x=y"); /* a Z85 key may hold '=' */

    const char *cont = "a = 1\n  more\n";
    assert_int_equal(tt_ini_each(cont, strlen(cont), collect, &p, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "line 2"));
    char longline[300];
    memset(longline, 'x', sizeof longline);
    memcpy(longline, "a = ", 4);
    longline[299] = '\0';
    assert_int_equal(tt_ini_each(longline, strlen(longline), collect, &p, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "longer than"));
    assert_int_equal(tt_ini_each("a = 1\0b", 7, collect, &p, why), TT_ERR_INVALID);
    const char *junk = "a = 1\nno equals here\n";
    assert_int_equal(tt_ini_each(junk, strlen(junk), collect, &p, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "line 2"));
    const char *bad = "a = 1\n\nbad = 2\nbad = 3\n";
    assert_int_equal(tt_ini_each(bad, strlen(bad), collect, &p, why), TT_ERR_INVALID);
    assert_string_equal(why, "line 3: bad key"); /* the first error, with its line */
}

static void test_apply_file_then_flags(void **state)
{
    (void)state;
    const char *cfg = write_file("agent.ini", "[tutti-agent]\nroom = stage\ndata = replica\n"
                                              "key = /abs/stage.key\njack = yes\nquiet = false\n"
                                              "click = a:click\nclick = b:players\n");
    char *argv[] = {"tutti-agent", "--config", (char *)cfg, "--room=london", "-h", NULL};
    tt_config_argv_t out;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_config_apply(&SPEC, 5, argv, &out, why), 0);
    assert_string_equal(out.path, cfg);
    char want_data[160];
    snprintf(want_data, sizeof want_data, "--data=%s/replica", dir);
    const char *want[] = {"tutti-agent",     want_data,           "--key=/abs/stage.key", "--jack",
                          "--click=a:click", "--click=b:players", "--room=london",        "-h"};
    assert_int_equal(out.argc, 8);
    for (int i = 0; i < 8; i++)
        assert_string_equal(out.argv[i], want[i]);
    assert_null(out.argv[8]);
    tt_config_argv_free(&out);

    /* A flag on the command line replaces every value of it in the file. */
    char *argv2[] = {"tutti-agent", "--click", "c:count", "--config=", NULL};
    char cfgarg[160];
    snprintf(cfgarg, sizeof cfgarg, "--config=%s", cfg);
    argv2[3] = cfgarg;
    assert_int_equal(tt_config_apply(&SPEC, 4, argv2, &out, why), 0);
    for (int i = 1; i < out.argc; i++)
        assert_null(strstr(out.argv[i], "players"));
    assert_string_equal(out.argv[out.argc - 2], "--click");
    assert_string_equal(out.argv[out.argc - 1], "c:count");
    tt_config_argv_free(&out);

    /* Without --config: argv as it is. */
    char *argv3[] = {"tutti-agent", "--room", "x", NULL};
    assert_int_equal(tt_config_apply(&SPEC, 3, argv3, &out, why), 0);
    assert_int_equal(out.argc, 3);
    assert_string_equal(out.argv[2], "x");
    assert_null(out.path);
    tt_config_argv_free(&out);
}

static void expect_refused(const char *text, const char *want_line, const char *want_text)
{
    const char *cfg = write_file("bad.ini", text);
    char *argv[] = {"tutti-agent", "--config", (char *)cfg, NULL};
    tt_config_argv_t out;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_config_apply(&SPEC, 3, argv, &out, why), TT_ERR_INVALID);
    tt_config_argv_free(&out);
    assert_non_null(strstr(why, cfg));
    assert_non_null(strstr(why, want_line));
    if (!strstr(why, want_text))
        fail_msg("'%s' lacks '%s'", why, want_text);
}

static void test_apply_refusals(void **state)
{
    (void)state;
    expect_refused("room = a\nrooom = b\n", "line 2", "unknown key 'rooom'");
    expect_refused("room = a\nroom = b\n", "line 2", "given twice");
    expect_refused("[tutti-dash]\nroom = a\n", "line 2", "only [tutti-agent]");
    expect_refused("config = other.ini\n", "line 1", "cannot be set");
    expect_refused("help = true\n", "line 1", "cannot be set");
    expect_refused("\njack = maybe\n", "line 2", "true or false");
    expect_refused("room =\n", "line 1", "needs a value");
    expect_refused("room = a\n   data = b\n", "line 2", "indented");

    char *argv[] = {"tutti-agent", "--config", "/nonexistent/x.ini", NULL};
    tt_config_argv_t out;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_config_apply(&SPEC, 3, argv, &out, why), TT_ERR_IO);
    tt_config_argv_free(&out);
    char *argv2[] = {"tutti-agent", "--config", NULL};
    assert_int_equal(tt_config_apply(&SPEC, 2, argv2, &out, why), TT_ERR_INVALID);
    tt_config_argv_free(&out);
}

/* tutti: the flags end at the subcommand; its arguments are not flags. */
static void test_stop_at_operand(void **state)
{
    (void)state;
    const char *cfg = write_file("cli.ini", "key = me.key\n");
    tt_config_spec_t s = SPEC;
    s.stop_at_operand = 1;
    char *argv[] = {"tutti", "--config", (char *)cfg, "note", "--key", NULL};
    tt_config_argv_t out;
    char why[TT_WHY_LEN];
    assert_int_equal(tt_config_apply(&s, 5, argv, &out, why), 0);
    assert_int_equal(out.argc, 4);
    assert_non_null(strstr(out.argv[1], "/me.key"));
    assert_string_equal(out.argv[2], "note");
    assert_string_equal(out.argv[3], "--key");
    tt_config_argv_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ini_reader),
        cmocka_unit_test(test_apply_file_then_flags),
        cmocka_unit_test(test_apply_refusals),
        cmocka_unit_test(test_stop_at_operand),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
