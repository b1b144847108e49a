/* test_opts: command-line values. tt_opts_parse_long's bounds and junk;
 * tt_opts_or_env's order (flag, then a non-empty variable, then the
 * default); and the shared connection flags: getopt_long over
 * TT_CONN_OPTIONS fills tt_conn_opts_t, --timeout-ms is checked, resolve
 * fills TUTTI_* and the defaults and says when a key is missing;
 * --coordinator's comma list (at most 4, no empty item); the steps every
 * main() shares: a connection flag taken or its error printed as
 * "PROG: why" with the usage exit code, and --config applied the same way.
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

#include "tt_error.h"
#include "tt_opts.h"

static int clear_env(void **state)
{
    (void)state;
    unsetenv("TUTTI_COORDINATOR");
    unsetenv("TUTTI_SERVER_KEY");
    unsetenv("TUTTI_KEY");
    return 0;
}

static void test_parse_long(void **state)
{
    (void)state;
    long v = 42;
    assert_int_equal(tt_opts_parse_long("17", 0, 100, &v), 0);
    assert_int_equal(v, 17);
    assert_int_equal(tt_opts_parse_long("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(tt_opts_parse_long("100", 0, 100, &v), 0); /* bounds inclusive */
    v = 7;
    assert_int_equal(tt_opts_parse_long("101", 0, 100, &v), -1);
    assert_int_equal(tt_opts_parse_long("", 0, 100, &v), -1);
    assert_int_equal(tt_opts_parse_long("12x", 0, 100, &v), -1);
    assert_int_equal(tt_opts_parse_long("99999999999999999999999", 0, __LONG_MAX__, &v), -1);
    assert_int_equal(v, 7); /* untouched on failure */
}

static void test_or_env(void **state)
{
    (void)state;
    assert_string_equal(tt_opts_or_env("flag", "TUTTI_KEY", "dflt"), "flag");
    assert_string_equal(tt_opts_or_env(NULL, "TUTTI_KEY", "dflt"), "dflt");
    setenv("TUTTI_KEY", "", 1); /* empty counts as unset */
    assert_string_equal(tt_opts_or_env(NULL, "TUTTI_KEY", "dflt"), "dflt");
    setenv("TUTTI_KEY", "env", 1);
    assert_string_equal(tt_opts_or_env(NULL, "TUTTI_KEY", "dflt"), "env");
    assert_string_equal(tt_opts_or_env("flag", "TUTTI_KEY", "dflt"), "flag");
    assert_null(tt_opts_or_env(NULL, "TUTTI_NOT_SET_ANYWHERE", NULL));
}

/* Runs getopt_long over args with the connection flags and one of the
 * program's own (--room); returns what the loop returned at its end. */
static int parse(tt_conn_opts_t *o, const char **room, int argc, char **argv, char *why)
{
    static const struct option opts[] = {
        TT_CONN_OPTIONS,
        TT_CONN_OPTION_TIMEOUT,
        {"room", required_argument, 0, 'r'},
        {0, 0, 0, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'r')
            *room = optarg;
        else if (tt_conn_opts_set(o, c, optarg, why) != 0)
            return -1;
    }
    return 0;
}

static void test_conn_flags(void **state)
{
    (void)state;
    char why[TT_WHY_LEN] = "";
    tt_conn_opts_t o = {0};
    const char *room = NULL;
    char *argv[] = {"prog",         "--room",    "stage", "--coordinator", "tcp://10.0.0.5:7700",
                    "--server-key", "coord.pub", "--key", "stage.key",     "--timeout-ms",
                    "250",          NULL};
    assert_int_equal(parse(&o, &room, 11, argv, why), 0);
    assert_string_equal(room, "stage");
    assert_string_equal(o.endpoint, "tcp://10.0.0.5:7700");
    assert_string_equal(o.server_key_path, "coord.pub");
    assert_string_equal(o.key_path, "stage.key");
    assert_int_equal(o.timeout_ms, 250);
    /* Flags win over the environment. */
    setenv("TUTTI_COORDINATOR", "tcp://env:1", 1);
    setenv("TUTTI_KEY", "env.key", 1);
    assert_int_equal(tt_conn_opts_resolve(&o), 0);
    assert_string_equal(o.endpoint, "tcp://10.0.0.5:7700");
    assert_string_equal(o.key_path, "stage.key");
    assert_int_equal(o.timeout_ms, 250);
}

static void test_timeout_checked(void **state)
{
    (void)state;
    const char *bad[] = {"0", "-1", "3600001", "5s", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char why[TT_WHY_LEN] = "";
        tt_conn_opts_t o = {0};
        assert_int_equal(tt_conn_opts_set(&o, TT_OPT_TIMEOUT_MS, bad[i], why), TT_ERR_INVALID);
        assert_string_equal(why, "--timeout-ms wants 1..3600000");
    }
    char why[TT_WHY_LEN];
    tt_conn_opts_t o = {0};
    assert_int_equal(tt_conn_opts_set(&o, TT_OPT_TIMEOUT_MS, "3600000", why), 0);
    assert_int_equal(o.timeout_ms, 3600000);
    assert_int_equal(tt_conn_opts_set(&o, 'x', "a", why), TT_ERR_INVALID); /* not ours */
}

static void test_resolve_env_and_defaults(void **state)
{
    (void)state;
    tt_conn_opts_t o = {0};
    /* Nothing given: the default endpoint and timeout, but no keys. */
    assert_int_equal(tt_conn_opts_resolve(&o), TT_ERR_INVALID);
    assert_string_equal(o.endpoint, "tcp://127.0.0.1:7700");
    assert_string_equal(o.endpoint, TT_OPTS_COORDINATOR_DEFAULT);
    assert_int_equal(o.timeout_ms, 5000);
    assert_null(o.server_key_path);
    assert_null(o.key_path);

    /* One key is not enough. */
    tt_conn_opts_t half = {.server_key_path = "coord.pub"};
    assert_int_equal(tt_conn_opts_resolve(&half), TT_ERR_INVALID);

    /* The environment fills what the flags left out. */
    setenv("TUTTI_COORDINATOR", "tcp://192.168.1.2:7700", 1);
    setenv("TUTTI_SERVER_KEY", "keys/coordinator.pub", 1);
    setenv("TUTTI_KEY", "keys/conductor.key", 1);
    tt_conn_opts_t e = {.key_path = "mine.key"};
    assert_int_equal(tt_conn_opts_resolve(&e), 0);
    assert_string_equal(e.endpoint, "tcp://192.168.1.2:7700");
    assert_string_equal(e.server_key_path, "keys/coordinator.pub");
    assert_string_equal(e.key_path, "mine.key");
}

static void test_coordinator_list(void **state)
{
    (void)state;
    char why[TT_WHY_LEN] = "";
    tt_opts_endpoints_t eps;
    assert_int_equal(tt_opts_split_endpoints("tcp://a:7700", &eps, why), 0);
    assert_int_equal(eps.n, 1);
    assert_string_equal(eps.ep[0], "tcp://a:7700");
    assert_int_equal(
        tt_opts_split_endpoints("tcp://a:1, tcp://b:2 ,tcp://c:3,tcp://d:4", &eps, why), 0);
    assert_int_equal(eps.n, 4);
    assert_string_equal(eps.ep[1], "tcp://b:2"); /* spaces around an item dropped */
    assert_string_equal(eps.ep[3], "tcp://d:4");

    const char *empty[] = {"tcp://a:1,,tcp://b:2", "tcp://a:1,", ",tcp://a:1", " , "};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        assert_int_equal(tt_opts_split_endpoints(empty[i], &eps, why), TT_ERR_INVALID);
        assert_non_null(strstr(why, "is empty"));
    }
    assert_int_equal(tt_opts_split_endpoints("", &eps, why), TT_ERR_INVALID);
    assert_string_equal(why, "--coordinator: no endpoint given");
    assert_int_equal(tt_opts_split_endpoints("a,b,c,d,e", &eps, why), TT_ERR_INVALID);
    assert_string_equal(why, "--coordinator: more than 4 endpoints in \"a,b,c,d,e\"");
    char longer[300];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(tt_opts_split_endpoints(longer, &eps, why), TT_ERR_INVALID);

    /* The flag is checked as it is taken; the environment once resolved. */
    tt_conn_opts_t o = {0};
    assert_int_equal(tt_conn_opts_set(&o, TT_OPT_COORDINATOR, "tcp://a:1,,tcp://b:2", why),
                     TT_ERR_INVALID);
    assert_string_equal(why, "--coordinator: item 2 of \"tcp://a:1,,tcp://b:2\" is empty");
    assert_null(o.endpoint);
    assert_int_equal(tt_conn_opts_set(&o, TT_OPT_COORDINATOR, "tcp://a:1,tcp://b:2", why), 0);
    assert_string_equal(o.endpoint, "tcp://a:1,tcp://b:2");
    tt_conn_opts_t e = {0};
    setenv("TUTTI_COORDINATOR", "tcp://a:1,tcp://b:2,", 1);
    tt_conn_opts_resolve(&e);
    assert_int_equal(tt_conn_opts_check_endpoint(&e, why), TT_ERR_INVALID);
    setenv("TUTTI_COORDINATOR", "tcp://a:1,tcp://b:2", 1);
    tt_conn_opts_t e2 = {0};
    tt_conn_opts_resolve(&e2);
    assert_string_equal(e2.endpoint, "tcp://a:1,tcp://b:2");
    assert_int_equal(tt_conn_opts_check_endpoint(&e2, why), 0);
}

static void test_help_block(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    tt_conn_opts_usage(f, 0);
    fflush(f);
    /* Every flag, its variable and the default are in the manual. */
    const char *want[] = {
        "--coordinator EP[,EP]", "$TUTTI_COORDINATOR", "tcp://127.0.0.1:7700", "up to 4",
        "--server-key FILE",     "$TUTTI_SERVER_KEY",  "--key FILE.key",       "$TUTTI_KEY"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        assert_non_null(strstr(buf, want[i]));
    assert_null(strstr(buf, "--timeout-ms"));
    size_t without = len;
    tt_conn_opts_usage(f, 1);
    fflush(f);
    assert_non_null(strstr(buf + without, "--timeout-ms N"));
    assert_non_null(strstr(buf + without, "default 5000"));
    fclose(f);
    free(buf);
}

/* Runs fn with stderr going to a temporary file; what it wrote is in out. */
static int with_stderr(int (*fn)(void *), void *arg, char *out, size_t cap)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    int rc = fn(arg);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, cap - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return rc;
}

static int take_bad_list(void *arg)
{
    return tt_conn_opts_take(arg, TT_OPT_COORDINATOR, "tcp://a:1,,tcp://b:2", "tutti-x");
}

static void test_take_for_main(void **state)
{
    (void)state;
    const int ours[] = {TT_OPT_COORDINATOR, TT_OPT_SERVER_KEY, TT_OPT_KEY,      TT_OPT_TIMEOUT_MS,
                        TT_OPT_BUNDLE,      TT_OPT_RELAY,      TT_OPT_RELAY_KEY};
    for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
        assert_int_equal(tt_conn_opts_is_flag(ours[i]), 1);
    assert_int_equal(tt_conn_opts_is_flag('h'), 0);
    assert_int_equal(tt_conn_opts_is_flag('?'), 0);
    assert_int_equal(tt_conn_opts_is_flag(1), 0);

    tt_conn_opts_t o = {0};
    assert_int_equal(tt_conn_opts_take(&o, TT_OPT_KEY, "me.key", "tutti-x"), 0);
    assert_string_equal(o.key_path, "me.key");
    char err[TT_WHY_LEN];
    assert_int_equal(with_stderr(take_bad_list, &o, err, sizeof err), TT_OPTS_EXIT_USAGE);
    assert_string_equal(err,
                        "tutti-x: --coordinator: item 2 of \"tcp://a:1,,tcp://b:2\" is empty\n");
    assert_null(o.endpoint);
}

static const struct option config_opts[] = {{"quiet", no_argument, 0, 'q'}, {0, 0, 0, 0}};
static const tt_config_spec_t config_spec = {"tutti-x", config_opts, NULL, NULL, 0};

typedef struct {
    int argc;
    char **argv;
    tt_config_argv_t out;
} config_run_t;

static int config_run(void *arg)
{
    config_run_t *r = arg;
    return tt_opts_config(&config_spec, &r->argc, &r->argv, &r->out);
}

static void test_config_for_main(void **state)
{
    (void)state;
    char *plain[] = {"tutti-x", "--quiet", NULL};
    config_run_t r = {2, plain, {0}};
    char err[TT_WHY_LEN];
    assert_int_equal(with_stderr(config_run, &r, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(r.argc, 2);
    assert_ptr_equal(r.argv, r.out.argv);
    assert_string_equal(r.argv[1], "--quiet");
    tt_config_argv_free(&r.out);

    char *missing[] = {"tutti-x", "--config", "/nonexistent/tutti-x.ini", NULL};
    r = (config_run_t){3, missing, {0}};
    assert_int_equal(with_stderr(config_run, &r, err, sizeof err), TT_OPTS_EXIT_USAGE);
    assert_ptr_equal(r.argv, missing); /* left as it was */
    assert_int_equal(strncmp(err, "tutti-x: ", 9), 0);
    assert_non_null(strstr(err, "/nonexistent/tutti-x.ini"));
    assert_null(r.out.argv); /* freed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_parse_long, clear_env),
        cmocka_unit_test_setup(test_or_env, clear_env),
        cmocka_unit_test_setup(test_conn_flags, clear_env),
        cmocka_unit_test_setup(test_timeout_checked, clear_env),
        cmocka_unit_test_setup(test_resolve_env_and_defaults, clear_env),
        cmocka_unit_test_setup(test_coordinator_list, clear_env),
        cmocka_unit_test_setup(test_help_block, clear_env),
        cmocka_unit_test_setup(test_take_for_main, clear_env),
        cmocka_unit_test_setup(test_config_for_main, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
