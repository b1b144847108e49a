/* test_bundle: session bundles. A saved bundle loads back (mode 0600);
 * a looser mode, a missing key, a bad value, a key given twice, another
 * section, a wrong version or a key pair that does not match is refused
 * with its line; an unknown key is a warning; and tt_conn_load takes the
 * endpoint and both keys from the bundle, each replaced by its flag.
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
#include <sys/stat.h>
#include <unistd.h>

#include "tt_bundle.h"
#include "tt_error.h"

static char dir[64];
static tt_keypair_t *me, *server;

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/test_bundle.XXXXXX");
    assert_non_null(mkdtemp(dir));
    char why[TT_WHY_LEN];
    me = tt_keypair_generate(why);
    server = tt_keypair_generate(why);
    assert_non_null(me);
    assert_non_null(server);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tt_keypair_destroy(&me);
    tt_keypair_destroy(&server);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* A valid bundle's text with line `skip` (1-based, 0: none) left out and
 * `extra` appended. */
static void bundle_text(char *out, size_t cap, int skip, const char *extra)
{
    char lines[9][128];
    snprintf(lines[0], 128, "[bundle]");
    snprintf(lines[1], 128, "version = 1");
    snprintf(lines[2], 128, "session = scoring");
    snprintf(lines[3], 128, "name = stage");
    snprintf(lines[4], 128, "role = room");
    snprintf(lines[5], 128, "coordinator = tcp://10.0.0.5:7700,tcp://10.0.0.6:7700");
    snprintf(lines[6], 128, "server-public-key = %s", server->public_z85);
    snprintf(lines[7], 128, "public-key = %s", me->public_z85);
    snprintf(lines[8], 128, "secret-key = %s", me->secret_z85);
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < 9; i++)
        if (i + 1 != skip)
            n += (size_t)snprintf(out + n, cap - n, "%s\n", lines[i]);
    snprintf(out + n, cap - n, "%s", extra);
}

static void test_parse_good(void **state)
{
    (void)state;
    char text[2048], why[TT_WHY_LEN], warn[TT_WHY_LEN];
    bundle_text(text, sizeof text, 0, "# a comment\nrelay = tcp://relay:7800\n");
    tt_bundle_t *b = tt_bundle_parse(text, strlen(text), warn, why);
    assert_non_null(b);
    assert_string_equal(warn, "");
    assert_string_equal(b->session, "scoring");
    assert_string_equal(b->name, "stage");
    assert_int_equal(b->role, TT_ROLE_ROOM);
    assert_string_equal(b->coordinator, "tcp://10.0.0.5:7700,tcp://10.0.0.6:7700");
    assert_string_equal(b->server_key, server->public_z85);
    assert_string_equal(b->keys->public_z85, me->public_z85);
    assert_string_equal(b->keys->secret_z85, me->secret_z85);
    assert_string_equal(b->relay, "tcp://relay:7800");
    assert_string_equal(b->relay_key, "");
    tt_bundle_destroy(&b);
    assert_null(b);

    /* An unknown key: read, with a warning naming it and its line. */
    bundle_text(text, sizeof text, 0, "colour = blue\n");
    b = tt_bundle_parse(text, strlen(text), warn, why);
    assert_non_null(b);
    assert_non_null(strstr(warn, "line 10"));
    assert_non_null(strstr(warn, "colour"));
    tt_bundle_destroy(&b);
}

static void expect_refused(int skip, const char *extra, const char *want)
{
    char text[2048], why[TT_WHY_LEN];
    bundle_text(text, sizeof text, skip, extra);
    tt_bundle_t *b = tt_bundle_parse(text, strlen(text), NULL, why);
    if (b || !strstr(why, want))
        fail_msg("want '%s', got %s '%s'", want, b ? "a bundle" : "error", why);
    /* A refusal never quotes the secret key. */
    assert_null(strstr(why, me->secret_z85));
}

static void test_parse_refusals(void **state)
{
    (void)state;
    const char *names[] = {NULL,          "version",           "session",    "name",      "role",
                           "coordinator", "server-public-key", "public-key", "secret-key"};
    for (int k = 2; k <= 9; k++) { /* each required key left out */
        char want[64];
        snprintf(want, sizeof want, "missing key '%s'", names[k - 1]);
        expect_refused(k, "", want);
    }
    expect_refused(0, "role = room\n", "line 10: key 'role' given twice");
    expect_refused(0, "[other]\nx = 1\n", "line 11: key 'x' outside the [bundle] section");
    expect_refused(2, "version = 2\n", "this tutti reads version 1 bundles");
    expect_refused(5, "role = conductor\n", "role 'conductor'");
    expect_refused(6, "coordinator = 10.0.0.5:7700\n", "coordinator '10.0.0.5:7700'");
    expect_refused(6, "coordinator = tcp://a:1,tcp://b:1,tcp://c:1,tcp://d:1,tcp://e:1\n",
                   "1..4 endpoints");
    expect_refused(4, "name = ../etc\n", "name '../etc'");
    expect_refused(8, "public-key = short\n", "public-key: not a 40-character Z85 key");
    /* A public key that is not the secret key's. */
    char line[128];
    snprintf(line, sizeof line, "public-key = %s\n", server->public_z85);
    expect_refused(8, line, "public-key does not match secret-key");
    expect_refused(0, "  indented = 1\n", "indented");
    /* Server keys: one per endpoint or one for all, each a key. */
    char keys[256];
    snprintf(keys, sizeof keys, "server-public-key = %s,short\n", server->public_z85);
    expect_refused(7, keys, "server-public-key: not 1..4 comma-separated");
    snprintf(keys, sizeof keys, "server-public-key = %s,%s,%s\n", server->public_z85,
             me->public_z85, server->public_z85);
    expect_refused(7, keys, "3 keys for 2 coordinator endpoints");
    /* A site has one relay. */
    expect_refused(0, "relay = tcp://r:1,tcp://r:2\n", "relay 'tcp://r:1,tcp://r:2': one endpoint");
}

/* A standby's bundle (tutti init --standby): the primary's key, then the
 * standby's, one per endpoint, kept as the list tt_client takes. */
static void test_key_per_endpoint(void **state)
{
    (void)state;
    char text[2048], extra[256], why[TT_WHY_LEN];
    snprintf(extra, sizeof extra, "server-public-key = %s,%s\n", server->public_z85,
             me->public_z85);
    bundle_text(text, sizeof text, 7, extra);
    tt_bundle_t *b = tt_bundle_parse(text, strlen(text), NULL, why);
    assert_non_null(b);
    char want[128];
    snprintf(want, sizeof want, "%s,%s", server->public_z85, me->public_z85);
    assert_string_equal(b->server_key, want);
    /* Saved and read back the same. */
    char path[128];
    snprintf(path, sizeof path, "%s/pair.tutti", dir);
    assert_int_equal(tt_bundle_save(b, path, why), 0);
    tt_bundle_t *back = tt_bundle_load(path, NULL, why);
    assert_non_null(back);
    assert_string_equal(back->server_key, want);
    tt_bundle_destroy(&back);
    tt_bundle_destroy(&b);
}

static void test_save_load_mode(void **state)
{
    (void)state;
    char text[2048], why[TT_WHY_LEN], warn[TT_WHY_LEN];
    bundle_text(text, sizeof text, 0, "");
    tt_bundle_t *b = tt_bundle_parse(text, strlen(text), NULL, why);
    assert_non_null(b);
    char path[128];
    snprintf(path, sizeof path, "%s/stage.tutti", dir);
    assert_int_equal(tt_bundle_save(b, path, why), 0);
    assert_int_equal(tt_bundle_save(b, path, why), TT_ERR_INVALID); /* never overwritten */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    tt_bundle_t *back = tt_bundle_load(path, warn, why);
    assert_non_null(back);
    assert_string_equal(back->keys->secret_z85, me->secret_z85);
    assert_string_equal(back->coordinator, b->coordinator);
    tt_bundle_destroy(&back);

    /* Readable by the group: refused like a .key. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_null(tt_bundle_load(path, warn, why));
    assert_non_null(strstr(why, "readable by others (mode 640)"));
    assert_int_equal(tt_error_last(), TT_ERR_CRYPTO);

    /* tt_conn_load: everything from the bundle; each flag wins over it. */
    assert_int_equal(chmod(path, 0600), 0);
    tt_conn_opts_t o = {.bundle_path = path};
    tt_conn_t c;
    assert_int_equal(tt_conn_load(&o, &c, warn, why), 0);
    assert_string_equal(c.endpoint, "tcp://10.0.0.5:7700,tcp://10.0.0.6:7700");
    assert_string_equal(c.server_key, server->public_z85);
    assert_string_equal(c.keys->public_z85, me->public_z85);
    tt_conn_clear(&c);
    assert_int_equal(tt_keypair_save(server, dir, "coord", why), 0);
    char pub[160], key[160];
    snprintf(pub, sizeof pub, "%s/coord.pub", dir);
    snprintf(key, sizeof key, "%s/coord.key", dir);
    o.endpoint = "tcp://127.0.0.1:9";
    o.key_path = key;
    o.server_key_path = pub;
    assert_int_equal(tt_conn_load(&o, &c, warn, why), 0);
    assert_string_equal(c.endpoint, "tcp://127.0.0.1:9");
    assert_string_equal(c.keys->public_z85, server->public_z85);
    tt_conn_clear(&c);
    /* Without a bundle, both key files are needed. */
    tt_conn_opts_t none = {.endpoint = "tcp://127.0.0.1:9", .key_path = key};
    assert_int_equal(tt_conn_load(&none, &c, warn, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "--server-key"));
    tt_conn_clear(&c);
    tt_bundle_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_key_per_endpoint),
        cmocka_unit_test(test_save_load_mode),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
