/* tt_keys: CURVE key pairs in czmq's certificate files, and the
 * coordinator's Ed25519 signing key.
 *
 * Files: NAME.key holds public and secret key (mode 0600, refused when
 * readable by group or others), NAME.pub the public key only. Both are ZPL
 * certificates as czmq writes them. Secrets live in sodium_malloc memory
 * and are wiped on destroy; nothing here logs a secret.
 */
#ifndef TT_KEYS_H
#define TT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define TT_Z85_KEY_LEN 40 /* characters, without NUL */
#define TT_SIGN_PK_LEN 32
#define TT_SIGN_SIG_LEN 64

typedef struct tt_keypair {
    char public_z85[TT_Z85_KEY_LEN + 1];
    char *secret_z85; /* sodium_malloc, TT_Z85_KEY_LEN + 1 */
} tt_keypair_t;

/* New random CURVE key pair. NULL on failure with a reason in why. */
tt_keypair_t *tt_keypair_generate(char *why);

/* Reads a NAME.key certificate (must have a secret key, mode 0600). */
tt_keypair_t *tt_keypair_load(const char *path, char *why);

/* Writes DIR/NAME.key (0600) and DIR/NAME.pub (0644). Refuses to overwrite
 * an existing NAME.key. name: letters, digits, '-', '_' and '.'. */
int tt_keypair_save(const tt_keypair_t *kp, const char *dir, const char *name, char *why);

/* A copy (with its own secure memory) for another thread to own. */
tt_keypair_t *tt_keypair_copy(const tt_keypair_t *kp, char *why);

void tt_keypair_destroy(tt_keypair_t **self_p);

/* Reads the public key of a .pub or .key certificate into out (41 bytes). */
int tt_pubkey_load(const char *path, char *out, char *why);

/* --server-key A.pub,B.pub: one certificate per --coordinator endpoint (a
 * standby serves with its own key), or one for all. Reads each into out as
 * "KEY,KEY" (TT_Z85_KEYS_LEN bytes hold 4); tt_client takes that string. */
#define TT_Z85_KEYS_MAX 4
#define TT_Z85_KEYS_LEN (TT_Z85_KEYS_MAX * (TT_Z85_KEY_LEN + 1))
int tt_pubkey_load_list(const char *paths, char *out, char *why);

/* True when s is 40 Z85 characters that decode to a 32-byte key. */
int tt_z85_key_valid(const char *s);

/* ---- the coordinator's Ed25519 signing key ---- */

typedef struct tt_signer {
    uint8_t public_key[TT_SIGN_PK_LEN];
    uint8_t *secret_key; /* sodium_malloc, crypto_sign_SECRETKEYBYTES */
} tt_signer_t;

/* Loads DIR/signing.key, or makes and writes it (0600) when absent. */
tt_signer_t *tt_signer_load_or_create(const char *dir, char *why);
void tt_signer_destroy(tt_signer_t **self_p);

/* sig: TT_SIGN_SIG_LEN bytes. */
void tt_signer_sign(const tt_signer_t *s, const uint8_t *msg, size_t len, uint8_t *sig);
int tt_sign_verify(const uint8_t *public_key, const uint8_t *msg, size_t len, const uint8_t *sig);

#endif
