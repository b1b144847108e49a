/* tt_keys: CURVE certificates and the signing key. See tt_keys.h. */
#define _POSIX_C_SOURCE 200809L
#include "tt_keys.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_text.h"
#include "tt_time.h"
#include "tt_zpl.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

int tt_z85_key_valid(const char *s)
{
    if (!s || strlen(s) != TT_Z85_KEY_LEN)
        return 0;
    uint8_t raw[32];
    return zmq_z85_decode(raw, s) != NULL;
}

static tt_keypair_t *keypair_alloc(char *why)
{
    if (sodium_init() < 0) { /* idempotent; sodium_malloc needs it */
        tt_fail(why, TT_ERR_CRYPTO, "libsodium failed to initialise");
        return NULL;
    }
    tt_keypair_t *kp = calloc(1, sizeof *kp);
    if (!kp) {
        tt_fail(why, TT_ERR_NOMEM, "allocating a key pair");
        return NULL;
    }
    kp->secret_z85 = sodium_malloc(TT_Z85_KEY_LEN + 1);
    if (!kp->secret_z85) {
        free(kp);
        tt_fail(why, TT_ERR_NOMEM, "allocating secure memory for a key");
        return NULL;
    }
    memset(kp->secret_z85, 0, TT_Z85_KEY_LEN + 1);
    return kp;
}

tt_keypair_t *tt_keypair_generate(char *why)
{
    tt_keypair_t *kp = keypair_alloc(why);
    if (!kp)
        return NULL;
    uint8_t pk[crypto_box_PUBLICKEYBYTES];
    uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (!sk) {
        tt_keypair_destroy(&kp);
        tt_fail(why, TT_ERR_NOMEM, "allocating secure memory for a key");
        return NULL;
    }
    crypto_box_keypair(pk, sk);
    zmq_z85_encode(kp->public_z85, pk, sizeof pk);
    zmq_z85_encode(kp->secret_z85, sk, crypto_box_SECRETKEYBYTES);
    sodium_free(sk);
    return kp;
}

tt_keypair_t *tt_keypair_copy(const tt_keypair_t *kp, char *why)
{
    tt_keypair_t *copy = keypair_alloc(why);
    if (!copy)
        return NULL;
    memcpy(copy->public_z85, kp->public_z85, sizeof copy->public_z85);
    memcpy(copy->secret_z85, kp->secret_z85, TT_Z85_KEY_LEN + 1);
    return copy;
}

void tt_keypair_destroy(tt_keypair_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_keypair_t *kp = *self_p;
    if (kp->secret_z85)
        sodium_free(kp->secret_z85); /* sodium_free wipes */
    free(kp);
    *self_p = NULL;
}

static int check_private_mode(const char *path, char *why)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return tt_fail(why, TT_ERR_IO, "reading %s: %s", path, strerror(errno));
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return tt_fail(why, TT_ERR_CRYPTO,
                       "%s holds a secret key but is readable by others (mode %03o): "
                       "run chmod 600 %s",
                       path, (unsigned)(st.st_mode & 0777), path);
    return 0;
}

tt_keypair_t *tt_keypair_load(const char *path, char *why)
{
    if (check_private_mode(path, why) != 0)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    if (tt_file_read(path, TT_ZPL_MAX_TEXT, &text, &len, why) != 0)
        return NULL;
    tt_keypair_t *kp = keypair_alloc(why);
    if (!kp) {
        sodium_memzero(text, len);
        free(text);
        return NULL;
    }
    char zwhy[TT_WHY_LEN];
    int rc =
        tt_zpl_find(text, len, "curve/public-key", kp->public_z85, sizeof kp->public_z85, zwhy);
    if (rc == 0)
        rc = tt_zpl_find(text, len, "curve/secret-key", kp->secret_z85, TT_Z85_KEY_LEN + 1, zwhy);
    sodium_memzero(text, len);
    free(text);
    if (rc != 0) {
        tt_fail(why, TT_ERR_CRYPTO, "%s is not a secret key certificate: %s", path, zwhy);
        tt_keypair_destroy(&kp);
        return NULL;
    }
    if (!tt_z85_key_valid(kp->public_z85) || !tt_z85_key_valid(kp->secret_z85)) {
        tt_fail(why, TT_ERR_CRYPTO, "%s: keys must be 40 Z85 characters", path);
        tt_keypair_destroy(&kp);
        return NULL;
    }
    /* The public key must belong to the secret key, or CURVE fails late and obscurely. */
    char derived[TT_Z85_KEY_LEN + 1];
    if (zmq_curve_public(derived, kp->secret_z85) != 0 || strcmp(derived, kp->public_z85) != 0) {
        tt_fail(why, TT_ERR_CRYPTO, "%s: public key does not match the secret key", path);
        tt_keypair_destroy(&kp);
        return NULL;
    }
    return kp;
}

int tt_pubkey_load(const char *path, char *out, char *why)
{
    char *text = NULL;
    size_t len = 0;
    int rc = tt_file_read(path, TT_ZPL_MAX_TEXT, &text, &len, why);
    if (rc != 0)
        return rc;
    char zwhy[TT_WHY_LEN];
    rc = tt_zpl_find(text, len, "curve/public-key", out, TT_Z85_KEY_LEN + 1, zwhy);
    sodium_memzero(text, len);
    free(text);
    if (rc != 0)
        return tt_fail(why, TT_ERR_CRYPTO, "%s is not a key certificate: %s", path, zwhy);
    if (!tt_z85_key_valid(out))
        return tt_fail(why, TT_ERR_CRYPTO, "%s: public key must be 40 Z85 characters", path);
    return 0;
}

int tt_pubkey_load_list(const char *paths, char *out, char *why)
{
    out[0] = '\0';
    const char *p = paths;
    for (int n = 0;; n++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (n == TT_Z85_KEYS_MAX)
            return tt_fail(why, TT_ERR_INVALID, "more than %d certificates in \"%.200s\"",
                           TT_Z85_KEYS_MAX, paths);
        char path[4096];
        if (len == 0 || len >= sizeof path)
            return tt_fail(why, TT_ERR_INVALID, "item %d of \"%.200s\" is %s", n + 1, paths,
                           len ? "too long" : "empty");
        memcpy(path, p, len);
        path[len] = '\0';
        char key[TT_Z85_KEY_LEN + 1];
        int rc = tt_pubkey_load(path, key, why);
        if (rc != 0)
            return rc;
        if (n)
            strcat(out, ",");
        strcat(out, key);
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int tt_keypair_save(const tt_keypair_t *kp, const char *dir, const char *name, char *why)
{
    if (!tt_name_ok(name, 64, TT_NAME_FILE)) /* NAME.key is a file */
        return tt_fail(why, TT_ERR_INVALID,
                       "key name '%s': use letters, digits, '-', '_' or '.' (at most 64)", name);
    char key_path[4096], pub_path[4096];
    if (snprintf(key_path, sizeof key_path, "%s/%s.key", dir, name) >= (int)sizeof key_path ||
        snprintf(pub_path, sizeof pub_path, "%s/%s.pub", dir, name) >= (int)sizeof pub_path)
        return tt_fail(why, TT_ERR_INVALID, "directory path too long: %s", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return tt_fail(why, TT_ERR_IO, "creating %s: %s", dir, strerror(errno));

    char when[40];
    tt_time_iso8601(tt_time_wall_ns(), when, sizeof when);
    const size_t cap = 1024;
    char *secret_text = sodium_malloc(cap);
    if (!secret_text)
        return tt_fail(why, TT_ERR_NOMEM, "allocating secure memory");
    snprintf(secret_text, cap,
             "#   ****  Generated on %s by tutti  ****\n"
             "#   ZeroMQ CURVE **Secret** Certificate\n"
             "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
             "\n"
             "metadata\n"
             "    name = \"%s\"\n"
             "curve\n"
             "    public-key = \"%s\"\n"
             "    secret-key = \"%s\"\n",
             when, name, kp->public_z85, kp->secret_z85);
    int rc =
        tt_file_write_atomic(key_path, secret_text, strlen(secret_text), 0600, TT_FILE_EXCL, why);
    sodium_free(secret_text);
    if (rc != 0)
        return rc;

    char public_text[1024];
    snprintf(public_text, sizeof public_text,
             "#   ****  Generated on %s by tutti  ****\n"
             "#   ZeroMQ CURVE Public Certificate\n"
             "#   Exchange securely, or use a secure mechanism to verify the contents\n"
             "#   of this file after exchange.\n"
             "\n"
             "metadata\n"
             "    name = \"%s\"\n"
             "curve\n"
             "    public-key = \"%s\"\n",
             when, name, kp->public_z85);
    return tt_file_write_atomic(pub_path, public_text, strlen(public_text), 0644, 0, why);
}

/* ---- signing key: DIR/signing.key, a ZPL file with the seed in hex ---- */

tt_signer_t *tt_signer_load_or_create(const char *dir, char *why)
{
    if (sodium_init() < 0) {
        tt_fail(why, TT_ERR_CRYPTO, "libsodium failed to initialise");
        return NULL;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/signing.key", dir) >= (int)sizeof path) {
        tt_fail(why, TT_ERR_INVALID, "directory path too long: %s", dir);
        return NULL;
    }
    tt_signer_t *s = calloc(1, sizeof *s);
    uint8_t *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    char *hex = sodium_malloc(2 * crypto_sign_SEEDBYTES + 1);
    if (s)
        s->secret_key = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!s || !s->secret_key || !seed || !hex) {
        tt_fail(why, TT_ERR_NOMEM, "allocating secure memory for the signing key");
        goto fail;
    }
    if (access(path, F_OK) == 0) {
        if (check_private_mode(path, why) != 0)
            goto fail;
        char *text = NULL;
        size_t len = 0;
        if (tt_file_read(path, 4096, &text, &len, why) != 0)
            goto fail;
        char zwhy[TT_WHY_LEN];
        int rc = tt_zpl_find(text, len, "signing/seed", hex, 2 * crypto_sign_SEEDBYTES + 1, zwhy);
        sodium_memzero(text, len);
        free(text);
        size_t bin_len = 0;
        if (rc != 0 ||
            sodium_hex2bin(seed, crypto_sign_SEEDBYTES, hex, strlen(hex), NULL, &bin_len, NULL) !=
                0 ||
            bin_len != crypto_sign_SEEDBYTES) {
            tt_fail(why, TT_ERR_CRYPTO, "%s: no valid signing/seed (64 hex digits)", path);
            goto fail;
        }
    } else {
        randombytes_buf(seed, crypto_sign_SEEDBYTES);
        sodium_bin2hex(hex, 2 * crypto_sign_SEEDBYTES + 1, seed, crypto_sign_SEEDBYTES);
        char *text = sodium_malloc(512);
        if (!text) {
            tt_fail(why, TT_ERR_NOMEM, "allocating secure memory");
            goto fail;
        }
        snprintf(text, 512,
                 "#   tutti coordinator Ed25519 signing key. Keep it secret (mode 0600).\n"
                 "#   Every log record is signed with it; losing it means a new chain.\n"
                 "\n"
                 "signing\n"
                 "    seed = \"%s\"\n",
                 hex);
        int rc = tt_file_write_atomic(path, text, strlen(text), 0600, TT_FILE_EXCL, why);
        sodium_free(text);
        if (rc != 0)
            goto fail;
    }
    crypto_sign_seed_keypair(s->public_key, s->secret_key, seed);
    sodium_free(seed);
    sodium_free(hex);
    return s;
fail:
    if (seed)
        sodium_free(seed);
    if (hex)
        sodium_free(hex);
    tt_signer_destroy(&s);
    return NULL;
}

void tt_signer_destroy(tt_signer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->secret_key)
        sodium_free((*self_p)->secret_key);
    free(*self_p);
    *self_p = NULL;
}

void tt_signer_sign(const tt_signer_t *s, const uint8_t *msg, size_t len, uint8_t *sig)
{
    crypto_sign_detached(sig, NULL, msg, len, s->secret_key);
}

int tt_sign_verify(const uint8_t *public_key, const uint8_t *msg, size_t len, const uint8_t *sig)
{
    return crypto_sign_verify_detached(sig, msg, len, public_key) == 0 ? 0 : TT_ERR_CRYPTO;
}
