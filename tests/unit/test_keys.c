/* test_keys: CURVE certificates and the Ed25519 signing key on disk.
 * Round trip through NAME.key / NAME.pub with their modes; refusals (an
 * existing NAME.key, a secret file readable by others, a public key that
 * does not belong to the secret, bad names); czmq-written certificates;
 * signing.key creation and reload; sign/verify; key pair copies. (Reading
 * and writing the files themselves: test_file.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "tt_error.h"
#include "tt_keys.h"

/* ---- a temp dir per test, removed (one level deep) at the end ---- */

static int setup_dir(void **state)
{
    char *dir = strdup("/tmp/tt-keys-XXXXXX");
    if (!dir || !mkdtemp(dir)) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int teardown_dir(void **state)
{
    char *dir = *state;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    int rc = rmdir(dir);
    free(dir);
    return rc;
}

static void path_in(char *out, size_t n, const char *dir, const char *file)
{
    snprintf(out, n, "%s/%s", dir, file);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* ---- tests ---- */

static void test_generate(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    tt_keypair_t *a = tt_keypair_generate(why);
    tt_keypair_t *b = tt_keypair_generate(why);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(tt_z85_key_valid(a->public_z85));
    assert_true(tt_z85_key_valid(a->secret_z85));
    assert_string_not_equal(a->public_z85, b->public_z85);
    assert_string_not_equal(a->secret_z85, b->secret_z85);
    char derived[TT_Z85_KEY_LEN + 1];
    assert_int_equal(zmq_curve_public(derived, a->secret_z85), 0);
    assert_string_equal(derived, a->public_z85);
    tt_keypair_destroy(&a);
    tt_keypair_destroy(&b);
    assert_null(a);
    tt_keypair_destroy(&a);
    tt_keypair_destroy(NULL);
}

static void test_copy(void **state)
{
    (void)state;
    char why[TT_WHY_LEN];
    tt_keypair_t *kp = tt_keypair_generate(why);
    assert_non_null(kp);
    tt_keypair_t *copy = tt_keypair_copy(kp, why);
    assert_non_null(copy);
    assert_ptr_not_equal(copy->secret_z85, kp->secret_z85); /* its own memory */
    assert_string_equal(copy->public_z85, kp->public_z85);
    assert_string_equal(copy->secret_z85, kp->secret_z85);
    char pub[TT_Z85_KEY_LEN + 1];
    snprintf(pub, sizeof pub, "%s", kp->public_z85);
    tt_keypair_destroy(&kp); /* the copy outlives it */
    assert_string_equal(copy->public_z85, pub);
    assert_true(tt_z85_key_valid(copy->secret_z85));
    tt_keypair_destroy(&copy);
}

static void test_z85_key_valid(void **state)
{
    (void)state;
    char pub[TT_Z85_KEY_LEN + 1], sec[TT_Z85_KEY_LEN + 1];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_true(tt_z85_key_valid(pub));
    assert_false(tt_z85_key_valid(NULL));
    assert_false(tt_z85_key_valid(""));
    char s[64];
    snprintf(s, sizeof s, "%.39s", pub);
    assert_false(tt_z85_key_valid(s));
    snprintf(s, sizeof s, "%sA", pub);
    assert_false(tt_z85_key_valid(s));
    snprintf(s, sizeof s, "%s", pub);
    s[5] = '~';
    assert_false(tt_z85_key_valid(s));
    s[5] = ' ';
    assert_false(tt_z85_key_valid(s));
}

static void test_save_load_round_trip(void **state)
{
    const char *dir = *state;
    char why[TT_WHY_LEN] = "";
    tt_keypair_t *kp = tt_keypair_generate(why);
    assert_non_null(kp);
    assert_int_equal(tt_keypair_save(kp, dir, "conductor", why), 0);

    char key_path[512], pub_path[512];
    path_in(key_path, sizeof key_path, dir, "conductor.key");
    path_in(pub_path, sizeof pub_path, dir, "conductor.pub");
    assert_int_equal(mode_of(key_path), 0600);
    assert_int_equal(mode_of(pub_path), 0644);

    tt_keypair_t *back = tt_keypair_load(key_path, why);
    if (!back)
        fail_msg("%s", why);
    assert_string_equal(back->public_z85, kp->public_z85);
    assert_string_equal(back->secret_z85, kp->secret_z85);

    char pub[TT_Z85_KEY_LEN + 1];
    assert_int_equal(tt_pubkey_load(pub_path, pub, why), 0);
    assert_string_equal(pub, kp->public_z85);
    memset(pub, 0, sizeof pub);
    assert_int_equal(tt_pubkey_load(key_path, pub, why), 0);
    assert_string_equal(pub, kp->public_z85);

    /* The .pub holds no secret; as a key pair it is refused. */
    assert_int_equal(chmod(pub_path, 0600), 0);
    why[0] = '\0';
    assert_null(tt_keypair_load(pub_path, why));
    assert_true(strlen(why) > 0);

    /* No temp files are left behind. */
    char tmp[512];
    path_in(tmp, sizeof tmp, dir, "conductor.key.tmp");
    assert_int_not_equal(access(tmp, F_OK), 0);
    path_in(tmp, sizeof tmp, dir, "conductor.pub.tmp");
    assert_int_not_equal(access(tmp, F_OK), 0);

    tt_keypair_destroy(&back);
    tt_keypair_destroy(&kp);
}

static void test_save_into_new_dir(void **state)
{
    const char *dir = *state;
    char sub[512], why[TT_WHY_LEN] = "", key_path[600];
    path_in(sub, sizeof sub, dir, "keys");
    tt_keypair_t *kp = tt_keypair_generate(why);
    assert_non_null(kp);
    assert_int_equal(tt_keypair_save(kp, sub, "a.b_c-1", why), 0);
    assert_int_equal(mode_of(sub) & 077, 0);
    path_in(key_path, sizeof key_path, sub, "a.b_c-1.key");
    tt_keypair_t *back = tt_keypair_load(key_path, why);
    assert_non_null(back);
    assert_string_equal(back->public_z85, kp->public_z85);
    tt_keypair_destroy(&back);
    tt_keypair_destroy(&kp);
    path_in(key_path, sizeof key_path, sub, "a.b_c-1.key");
    unlink(key_path);
    path_in(key_path, sizeof key_path, sub, "a.b_c-1.pub");
    unlink(key_path);
    assert_int_equal(rmdir(sub), 0);
}

static void test_no_overwrite(void **state)
{
    const char *dir = *state;
    char why[TT_WHY_LEN] = "";
    tt_keypair_t *first = tt_keypair_generate(why);
    tt_keypair_t *second = tt_keypair_generate(why);
    assert_non_null(first);
    assert_non_null(second);
    assert_int_equal(tt_keypair_save(first, dir, "room", why), 0);
    why[0] = '\0';
    assert_int_not_equal(tt_keypair_save(second, dir, "room", why), 0);
    assert_true(strlen(why) > 0);

    char key_path[512], pub_path[512], pub[TT_Z85_KEY_LEN + 1];
    path_in(key_path, sizeof key_path, dir, "room.key");
    path_in(pub_path, sizeof pub_path, dir, "room.pub");
    tt_keypair_t *back = tt_keypair_load(key_path, why);
    assert_non_null(back);
    assert_string_equal(back->public_z85, first->public_z85);
    assert_int_equal(tt_pubkey_load(pub_path, pub, why), 0);
    assert_string_equal(pub, first->public_z85);
    tt_keypair_destroy(&back);
    tt_keypair_destroy(&first);
    tt_keypair_destroy(&second);
}

static void test_bad_names(void **state)
{
    const char *dir = *state;
    char why[TT_WHY_LEN];
    tt_keypair_t *kp = tt_keypair_generate(why);
    assert_non_null(kp);
    const char *bad[] = {"../x",       "",   "a/b",     ".hidden",    "sp ace",
                         "semi;colon", "..", "nul\x01", "x/../../etc"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        assert_int_equal(tt_keypair_save(kp, dir, bad[i], why), TT_ERR_INVALID);
        assert_true(strlen(why) > 0);
    }
    char long_name[70];
    memset(long_name, 'k', 65);
    long_name[65] = '\0';
    assert_int_equal(tt_keypair_save(kp, dir, long_name, why), TT_ERR_INVALID);
    long_name[64] = '\0';
    assert_int_equal(tt_keypair_save(kp, dir, long_name, why), 0);
    /* Nothing but the one good pair was written. */
    DIR *d = opendir(dir);
    assert_non_null(d);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            files++;
    closedir(d);
    assert_int_equal(files, 2);
    tt_keypair_destroy(&kp);
}

static void test_refuses_readable_secret(void **state)
{
    const char *dir = *state;
    char why[TT_WHY_LEN] = "";
    tt_keypair_t *kp = tt_keypair_generate(why);
    assert_non_null(kp);
    assert_int_equal(tt_keypair_save(kp, dir, "loose", why), 0);
    char key_path[512];
    path_in(key_path, sizeof key_path, dir, "loose.key");
    const mode_t modes[] = {0644, 0640, 0604, 0660, 0601, 0610};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        assert_int_equal(chmod(key_path, modes[i]), 0);
        why[0] = '\0';
        assert_null(tt_keypair_load(key_path, why));
        assert_non_null(strstr(why, "chmod"));
    }
    /* 0400 is fine: only the owner may read. */
    assert_int_equal(chmod(key_path, 0400), 0);
    tt_keypair_t *back = tt_keypair_load(key_path, why);
    assert_non_null(back);
    tt_keypair_destroy(&back);
    /* The public key of a loose file may still be read: it is not a secret. */
    assert_int_equal(chmod(key_path, 0644), 0);
    char pub[TT_Z85_KEY_LEN + 1];
    assert_int_equal(tt_pubkey_load(key_path, pub, why), 0);
    assert_string_equal(pub, kp->public_z85);
    tt_keypair_destroy(&kp);
}

static void test_mismatched_public_key(void **state)
{
    const char *dir = *state;
    char pub1[41], sec1[41], pub2[41], sec2[41], text[1024], why[TT_WHY_LEN] = "";
    assert_int_equal(zmq_curve_keypair(pub1, sec1), 0);
    assert_int_equal(zmq_curve_keypair(pub2, sec2), 0);
    char key_path[512];
    path_in(key_path, sizeof key_path, dir, "mixed.key");
    snprintf(text, sizeof text,
             "metadata\n    name = \"mixed\"\ncurve\n    public-key = \"%s\"\n"
             "    secret-key = \"%s\"\n",
             pub1, sec2);
    write_file(key_path, text, 0600);
    assert_null(tt_keypair_load(key_path, why));
    assert_non_null(strstr(why, "does not match"));

    /* The same file with the right public key loads. */
    unlink(key_path);
    snprintf(text, sizeof text,
             "metadata\n    name = \"mixed\"\ncurve\n    public-key = \"%s\"\n"
             "    secret-key = \"%s\"\n",
             pub2, sec2);
    write_file(key_path, text, 0600);
    tt_keypair_t *kp = tt_keypair_load(key_path, why);
    assert_non_null(kp);
    assert_string_equal(kp->public_z85, pub2);
    tt_keypair_destroy(&kp);
}

static void test_czmq_style_certificates(void **state)
{
    const char *dir = *state;
    char pub[41], sec[41], text[1024], why[TT_WHY_LEN] = "", path[512];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    /* As czmq's zcert_save_secret writes it, CRLF line ends and all. */
    snprintf(text, sizeof text,
             "#   ****  Generated on 2024-01-01 by CZMQ  ****\r\n"
             "#   ZeroMQ CURVE **Secret** Certificate\r\n"
             "\r\n"
             "metadata\r\n"
             "    name = \"x\"\r\n"
             "curve\r\n"
             "    public-key = \"%s\"\r\n"
             "    secret-key = \"%s\"\r\n",
             pub, sec);
    path_in(path, sizeof path, dir, "czmq.key_secret");
    write_file(path, text, 0600);
    tt_keypair_t *kp = tt_keypair_load(path, why);
    if (!kp)
        fail_msg("%s", why);
    assert_string_equal(kp->public_z85, pub);
    assert_string_equal(kp->secret_z85, sec);
    tt_keypair_destroy(&kp);

    /* Broken certificates. */
    struct {
        const char *name, *text;
    } bad[] = {
        {"empty", ""},
        {"no-secret", "curve\n    public-key = \"%s\"\n"},
        {"short", "curve\n    public-key = \"%.39s\"\n    secret-key = \"%.39s\"\n"},
        {"syntax", "curve\n   public-key = \"%s\"\n    secret-key = \"%s\"\n"},
        {"flat", "public-key = \"%s\"\nsecret-key = \"%s\"\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, bad[i].text, pub, sec);
        path_in(path, sizeof path, dir, bad[i].name);
        write_file(path, text, 0600);
        why[0] = '\0';
        assert_null(tt_keypair_load(path, why));
        assert_non_null(strstr(why, path));
    }
    /* tt_pubkey_load refuses the ones without a good public key. */
    char out[TT_Z85_KEY_LEN + 1];
    path_in(path, sizeof path, dir, "no-secret");
    assert_int_equal(tt_pubkey_load(path, out, why), 0);
    assert_string_equal(out, pub);
    const char *no_pub[] = {"empty", "short", "syntax", "flat"};
    for (size_t i = 0; i < 4; i++) {
        path_in(path, sizeof path, dir, no_pub[i]);
        assert_int_equal(tt_pubkey_load(path, out, why), TT_ERR_CRYPTO);
    }
    path_in(path, sizeof path, dir, "absent");
    assert_int_equal(tt_pubkey_load(path, out, why), TT_ERR_IO);
    assert_null(tt_keypair_load(path, why));
}

static void test_signer(void **state)
{
    const char *dir = *state;
    char why[TT_WHY_LEN] = "", path[512];
    path_in(path, sizeof path, dir, "signing.key");
    assert_int_not_equal(access(path, F_OK), 0);

    tt_signer_t *s = tt_signer_load_or_create(dir, why);
    if (!s)
        fail_msg("%s", why);
    assert_int_equal(mode_of(path), 0600);
    tt_signer_t *again = tt_signer_load_or_create(dir, why);
    assert_non_null(again);
    assert_memory_equal(s->public_key, again->public_key, TT_SIGN_PK_LEN);

    /* Sign with one handle, verify with the public key of the other. */
    uint8_t msg[100], sig[TT_SIGN_SIG_LEN], sig2[TT_SIGN_SIG_LEN];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7);
    tt_signer_sign(s, msg, sizeof msg, sig);
    tt_signer_sign(again, msg, sizeof msg, sig2);
    assert_memory_equal(sig, sig2, sizeof sig); /* Ed25519 is deterministic */
    assert_int_equal(tt_sign_verify(again->public_key, msg, sizeof msg, sig), 0);
    assert_int_equal(tt_sign_verify(s->public_key, msg, 0, sig), TT_ERR_CRYPTO);

    /* Any flipped bit in message or signature fails. */
    for (size_t bit = 0; bit < 8 * sizeof msg; bit += 13) {
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(tt_sign_verify(s->public_key, msg, sizeof msg, sig), TT_ERR_CRYPTO);
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < 8 * sizeof sig; bit++) {
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(tt_sign_verify(s->public_key, msg, sizeof msg, sig), TT_ERR_CRYPTO);
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(tt_sign_verify(s->public_key, msg, sizeof msg, sig), 0);

    /* Another signer's key does not verify it. */
    char dir2[] = "/tmp/tt-keys2-XXXXXX";
    assert_non_null(mkdtemp(dir2));
    tt_signer_t *other = tt_signer_load_or_create(dir2, why);
    assert_non_null(other);
    assert_memory_not_equal(other->public_key, s->public_key, TT_SIGN_PK_LEN);
    assert_int_equal(tt_sign_verify(other->public_key, msg, sizeof msg, sig), TT_ERR_CRYPTO);
    tt_signer_destroy(&other);
    char p2[512];
    path_in(p2, sizeof p2, dir2, "signing.key");
    unlink(p2);
    rmdir(dir2);

    tt_signer_destroy(&again);
    tt_signer_destroy(&s);
    assert_null(s);
    tt_signer_destroy(&s);
    tt_signer_destroy(NULL);

    /* A readable signing key is refused, not replaced. */
    assert_int_equal(chmod(path, 0644), 0);
    why[0] = '\0';
    assert_null(tt_signer_load_or_create(dir, why));
    assert_non_null(strstr(why, "chmod"));
    assert_int_equal(chmod(path, 0600), 0);
}

static void test_signer_bad_file(void **state)
{
    const char *dir = *state;
    char why[TT_WHY_LEN] = "", path[512];
    path_in(path, sizeof path, dir, "signing.key");
    const char *bad[] = {
        "",
        "signing\n    seed = \"00\"\n",
        "signing\n    seed = "
        "\"zz00000000000000000000000000000000000000000000000000000000000000\"\n",
        "signing\n    seed = \"00000000000000000000000000000000000000000000000000000000000000000"
        "0\"\n",
        "other\n    seed = \"0000000000000000000000000000000000000000000000000000000000000000\"\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        unlink(path);
        write_file(path, bad[i], 0600);
        why[0] = '\0';
        tt_signer_t *s = tt_signer_load_or_create(dir, why);
        if (s) {
            tt_signer_destroy(&s);
            fail_msg("accepted signing.key %zu", i);
        }
        assert_true(strlen(why) > 0);
    }
    /* A good hand-written one loads, and its key is the seed's. */
    unlink(path);
    write_file(path,
               "# hand-written\nsigning\n"
               "    seed = \"0101010101010101010101010101010101010101010101010101010101010101\"\n",
               0600);
    tt_signer_t *a = tt_signer_load_or_create(dir, why);
    assert_non_null(a);
    tt_signer_t *b = tt_signer_load_or_create(dir, why);
    assert_non_null(b);
    assert_memory_equal(a->public_key, b->public_key, TT_SIGN_PK_LEN);
    tt_signer_destroy(&a);
    tt_signer_destroy(&b);
    /* A missing directory is an error, not a crash. */
    assert_null(tt_signer_load_or_create("/nonexistent/tt-keys-test", why));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_z85_key_valid),
        cmocka_unit_test_setup_teardown(test_save_load_round_trip, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_save_into_new_dir, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_no_overwrite, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_names, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_refuses_readable_secret, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_mismatched_public_key, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_czmq_style_certificates, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_signer, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_signer_bad_file, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
