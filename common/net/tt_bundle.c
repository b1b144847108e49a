/* tt_bundle: session bundles and a client's connection. See tt_bundle.h. */
#define _POSIX_C_SOURCE 200809L
#include "tt_bundle.h"
#include "tt_config.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_text.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

int tt_bundle_endpoints_ok(const char *list)
{
    if (!list || !*list || strlen(list) >= TT_BUNDLE_ENDPOINTS_LEN)
        return 0;
    int n = 0;
    for (const char *p = list;; n++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *sep = strstr(p, "://");
        if (n == TT_BUNDLE_MAX_ENDPOINTS || !sep || sep == p || (size_t)(sep - p) + 3 >= len ||
            memchr(p, ' ', len))
            return 0;
        if (!comma)
            return 1;
        p = comma + 1;
    }
}

int tt_bundle_list_count(const char *list)
{
    int n = 1;
    for (const char *p = list; (p = strchr(p, ',')); p++)
        n++;
    return n;
}

/* 1 when value is 1..TT_Z85_KEYS_MAX comma-separated Z85 keys. */
static int server_keys_ok(const char *value)
{
    if (strlen(value) >= TT_Z85_KEYS_LEN)
        return 0;
    for (const char *p = value;;) {
        char key[TT_Z85_KEY_LEN + 1];
        size_t len = strcspn(p, ",");
        if (len != TT_Z85_KEY_LEN)
            return 0;
        memcpy(key, p, len);
        key[len] = '\0';
        if (!tt_z85_key_valid(key))
            return 0;
        if (!p[len])
            return 1;
        p += len + 1;
    }
}

enum { K_VERSION, K_SESSION, K_NAME, K_ROLE, K_COORD, K_SKEY, K_PUB, K_SEC, K_RELAY, K_RKEY, N_K };
static const char *const KEYS[N_K] = {
    "version",           "session",    "name",       "role",  "coordinator",
    "server-public-key", "public-key", "secret-key", "relay", "relay-public-key"};

typedef struct {
    tt_bundle_t *b;
    unsigned seen;
    char *warn;
} parse_ctx_t;

static int on_key(void *arg, const char *section, const char *key, const char *value, int line,
                  char *why)
{
    parse_ctx_t *c = arg;
    tt_bundle_t *b = c->b;
    if (strcmp(section, "bundle") != 0)
        return tt_fail(why, TT_ERR_INVALID, "key '%s' outside the [bundle] section", key);
    int k = 0;
    while (k < N_K && strcmp(KEYS[k], key) != 0)
        k++;
    if (k == N_K) {
        if (c->warn && !c->warn[0])
            snprintf(c->warn, TT_WHY_LEN, "line %d: unknown key '%.64s' ignored (a newer bundle?)",
                     line, key);
        return 0;
    }
    if (c->seen & (1u << k))
        return tt_fail(why, TT_ERR_INVALID, "key '%s' given twice", key);
    c->seen |= 1u << k;
    switch (k) {
    case K_VERSION:
        if (strcmp(value, "1") != 0)
            return tt_fail(why, TT_ERR_VERSION,
                           "version '%.20s': this tutti reads version %d bundles", value,
                           TT_BUNDLE_VERSION);
        b->version = TT_BUNDLE_VERSION;
        return 0;
    case K_SESSION:
    case K_NAME:
        if (!tt_name_ok(value, TT_ACCESS_MAX_NAME, 0))
            return tt_fail(why, TT_ERR_INVALID,
                           "%s '%.64s': 1..%d of letters, digits, '-', '_', '.'", key, value,
                           TT_ACCESS_MAX_NAME);
        strcpy(k == K_SESSION ? b->session : b->name, value);
        return 0;
    case K_ROLE:
        if ((b->role = tt_role_from_name(value)) == TT_ROLE_NONE)
            return tt_fail(why, TT_ERR_INVALID,
                           "role '%.32s': operator, room, contractor or observer", value);
        return 0;
    case K_COORD:
        if (!tt_bundle_endpoints_ok(value))
            return tt_fail(why, TT_ERR_INVALID,
                           "%s '%.100s': 1..%d endpoints like tcp://HOST:PORT, comma-separated",
                           key, value, TT_BUNDLE_MAX_ENDPOINTS);
        strcpy(b->coordinator, value);
        return 0;
    case K_RELAY: /* the site's one relay */
        if (!tt_bundle_endpoints_ok(value) || strchr(value, ','))
            return tt_fail(why, TT_ERR_INVALID, "%s '%.100s': one endpoint like tcp://HOST:PORT",
                           key, value);
        strcpy(b->relay, value);
        return 0;
    case K_SKEY:
        if (!server_keys_ok(value))
            return tt_fail(why, TT_ERR_INVALID,
                           "server-public-key: not 1..%d comma-separated 40-character Z85 keys",
                           TT_Z85_KEYS_MAX);
        strcpy(b->server_key, value);
        return 0;
    case K_PUB:
    case K_RKEY:
        if (!tt_z85_key_valid(value))
            return tt_fail(why, TT_ERR_INVALID, "%s: not a 40-character Z85 key", key);
        strcpy(k == K_PUB ? b->keys->public_z85 : b->relay_key, value);
        return 0;
    default: /* K_SEC: never quoted back */
        if (!tt_z85_key_valid(value))
            return tt_fail(why, TT_ERR_INVALID, "secret-key: not a 40-character Z85 key");
        memcpy(b->keys->secret_z85, value, TT_Z85_KEY_LEN + 1);
        return 0;
    }
}

tt_bundle_t *tt_bundle_parse(const char *text, size_t len, char *warn, char *why)
{
    if (warn)
        warn[0] = '\0';
    if (len > TT_BUNDLE_MAX_TEXT) {
        tt_fail(why, TT_ERR_TOO_BIG, "%zu bytes, limit %d", len, TT_BUNDLE_MAX_TEXT);
        return NULL;
    }
    tt_bundle_t *b = calloc(1, sizeof *b);
    if (!b) {
        tt_fail(why, TT_ERR_NOMEM, "allocating a bundle");
        return NULL;
    }
    /* A generated pair's memory, overwritten by the file's keys. */
    if (!(b->keys = tt_keypair_generate(why))) {
        free(b);
        return NULL;
    }
    memset(b->keys->public_z85, 0, sizeof b->keys->public_z85);
    sodium_memzero(b->keys->secret_z85, TT_Z85_KEY_LEN + 1);
    parse_ctx_t c = {.b = b, .warn = warn};
    int rc = tt_ini_each(text, len, on_key, &c, why);
    if (rc != 0)
        goto fail;
    for (int k = 0; k < K_RELAY; k++)
        if (!(c.seen & (1u << k))) {
            rc = tt_fail(why, TT_ERR_INVALID, "missing key '%s'", KEYS[k]);
            goto fail;
        }
    int keys = tt_bundle_list_count(b->server_key), eps = tt_bundle_list_count(b->coordinator);
    if (keys != 1 && keys != eps) {
        rc = tt_fail(why, TT_ERR_INVALID,
                     "server-public-key holds %d keys for %d coordinator endpoints: one, or one "
                     "per endpoint in the same order",
                     keys, eps);
        goto fail;
    }
    char derived[TT_Z85_KEY_LEN + 1];
    if (zmq_curve_public(derived, b->keys->secret_z85) != 0 ||
        strcmp(derived, b->keys->public_z85) != 0) {
        rc = tt_fail(why, TT_ERR_CRYPTO, "public-key does not match secret-key");
        goto fail;
    }
    return b;
fail:
    tt_bundle_destroy(&b);
    return NULL;
}

tt_bundle_t *tt_bundle_load(const char *path, char *warn, char *why)
{
    if (warn)
        warn[0] = '\0';
    struct stat st;
    if (stat(path, &st) != 0) {
        tt_fail(why, TT_ERR_IO, "reading %s: %s", path, strerror(errno));
        return NULL;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        tt_fail(why, TT_ERR_CRYPTO,
                "%s holds a secret key but is readable by others (mode %03o): run chmod 600 %s",
                path, (unsigned)(st.st_mode & 0777), path);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    if (tt_file_read(path, TT_BUNDLE_MAX_TEXT, &text, &len, why) != 0)
        return NULL;
    char pwhy[TT_WHY_LEN], pwarn[TT_WHY_LEN];
    tt_bundle_t *b = tt_bundle_parse(text, len, pwarn, pwhy);
    sodium_memzero(text, len);
    free(text);
    if (!b)
        tt_fail(why, tt_error_last(), "%.200s: %.300s", path, pwhy);
    else if (warn && pwarn[0])
        snprintf(warn, TT_WHY_LEN, "%.200s: %.300s", path, pwarn);
    return b;
}

int tt_bundle_save(const tt_bundle_t *b, const char *path, char *why)
{
    const size_t cap = 2048;
    char *text = sodium_malloc(cap);
    if (!text)
        return tt_fail(why, TT_ERR_NOMEM, "allocating secure memory");
    int n = snprintf(text, cap,
                     "# tutti session bundle: %s's way into session %s.\n"
                     "# It holds %s's secret key: send it privately, keep it mode 0600.\n"
                     "# Use: tutti-agent --bundle FILE (a room), tutti --bundle FILE ...,\n"
                     "#      tutti-dash --bundle FILE\n"
                     "[bundle]\n"
                     "version = %d\n"
                     "session = %s\n"
                     "name = %s\n"
                     "role = %s\n"
                     "coordinator = %s\n"
                     "server-public-key = %s\n"
                     "public-key = %s\n"
                     "secret-key = %s\n",
                     b->name, b->session, b->name, TT_BUNDLE_VERSION, b->session, b->name,
                     tt_role_name(b->role), b->coordinator, b->server_key, b->keys->public_z85,
                     b->keys->secret_z85);
    if (n > 0 && (size_t)n < cap && b->relay[0])
        n += snprintf(text + n, cap - (size_t)n, "relay = %s\n", b->relay);
    if (n > 0 && (size_t)n < cap && b->relay_key[0])
        n += snprintf(text + n, cap - (size_t)n, "relay-public-key = %s\n", b->relay_key);
    int rc = n > 0 && (size_t)n < cap
                 ? tt_file_write_atomic(path, text, (size_t)n, 0600, TT_FILE_EXCL, why)
                 : tt_fail(why, TT_ERR_TOO_BIG, "bundle text too long");
    sodium_free(text);
    return rc;
}

void tt_bundle_destroy(tt_bundle_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tt_keypair_destroy(&(*self_p)->keys);
    free(*self_p);
    *self_p = NULL;
}

/* ---- the connection ---- */

int tt_conn_load(const tt_conn_opts_t *o, tt_conn_t *c, char *warn, char *why)
{
    memset(c, 0, sizeof *c);
    if (warn)
        warn[0] = '\0';
    char w[TT_WHY_LEN];
    if (o->bundle_path && !(c->bundle = tt_bundle_load(o->bundle_path, warn, w)))
        return tt_fail(why, tt_error_last(), "--bundle: %s", w);
    c->endpoint = o->endpoint ? o->endpoint
                  : c->bundle ? c->bundle->coordinator
                              : TT_OPTS_COORDINATOR_DEFAULT;
    if (o->server_key_path) {
        int rc = tt_pubkey_load_list(o->server_key_path, c->server_key, w);
        if (rc != 0)
            return tt_fail(why, rc, "--server-key: %s", w);
    } else if (c->bundle) {
        snprintf(c->server_key, sizeof c->server_key, "%s", c->bundle->server_key);
    } else {
        return tt_fail(why, TT_ERR_INVALID, "--server-key (or --bundle) is required");
    }
    if (o->key_path) {
        if (!(c->keys = tt_keypair_load(o->key_path, w)))
            return tt_fail(why, tt_error_last(), "--key: %s", w);
    } else if (c->bundle) {
        if (!(c->keys = tt_keypair_copy(c->bundle->keys, why)))
            return tt_error_last();
    } else {
        return tt_fail(why, TT_ERR_INVALID, "--key (or --bundle) is required");
    }
    if (o->relay) {
        if (!o->relay_key_path)
            return tt_fail(why, TT_ERR_INVALID,
                           "--relay needs --relay-key, the relay's public certificate");
        int rc = tt_pubkey_load(o->relay_key_path, c->relay_key, w);
        if (rc != 0)
            return tt_fail(why, rc, "--relay-key: %s", w);
        c->relay = o->relay;
    } else if (c->bundle && c->bundle->relay[0]) {
        if (!c->bundle->relay_key[0])
            return tt_fail(why, TT_ERR_INVALID,
                           "--bundle: relay %s without relay-public-key, the relay's key",
                           c->bundle->relay);
        snprintf(c->relay_key, sizeof c->relay_key, "%s", c->bundle->relay_key);
        c->relay = c->bundle->relay;
    }
    return 0;
}

void tt_conn_clear(tt_conn_t *c)
{
    tt_keypair_destroy(&c->keys);
    tt_bundle_destroy(&c->bundle);
    c->endpoint = NULL;
}
