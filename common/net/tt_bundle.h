/* tt_bundle: a session bundle, everything one participant needs to join
 * a session in one file (tutti invite writes it), and the connection a
 * client makes from its flags with or without one.
 *
 * A bundle is an INI file (the tt_config reader), mode 0600 like a .key:
 *
 *   [bundle]
 *   version = 1
 *   session = scoring-2026
 *   name = stage
 *   role = room                  operator, room, contractor or observer
 *   coordinator = tcp://studio.example.org:7700[,tcp://standby:7700]
 *   server-public-key = <Z85>[,<Z85>]  the coordinator's CURVE public key,
 *                                or one per coordinator endpoint (a standby
 *                                serves with its own key)
 *   public-key = <Z85>           this participant's key pair
 *   secret-key = <Z85>
 *   relay = tcp://...            optional: the site's tutti-relay, which the
 *                                participant then goes through (as --relay)
 *   relay-public-key = <Z85>     the relay's CURVE public key (required with
 *                                relay)
 *
 * Every key above is required except relay and relay-public-key; a list
 * of server keys has one per endpoint of coordinator. A key
 * given twice, a bad value, a section other than [bundle] or a version
 * other than 1 is an error naming the line; an unknown key is a warning
 * (a newer tutti may add keys a bundle's older reader can skip), and so the
 * file stays readable by the release that wrote it and the next. The
 * secret key goes straight into sodium memory (tt_keypair_t); the text it
 * came from is wiped.
 */
#ifndef TT_BUNDLE_H
#define TT_BUNDLE_H

#include "tt_access.h"
#include "tt_keys.h"
#include "tt_opts.h"

#include <stddef.h>

#define TT_BUNDLE_VERSION 1
#define TT_BUNDLE_MAX_TEXT 4096
#define TT_BUNDLE_MAX_ENDPOINTS 4
#define TT_BUNDLE_ENDPOINTS_LEN 200 /* the whole comma list, as one INI line allows */

typedef struct tt_bundle {
    int version;
    char session[TT_ACCESS_MAX_NAME + 1];
    char name[TT_ACCESS_MAX_NAME + 1];
    tt_role_t role;
    char coordinator[TT_BUNDLE_ENDPOINTS_LEN]; /* EP[,EP...] */
    char server_key[TT_Z85_KEYS_LEN];          /* KEY[,KEY...]: one, or one per endpoint */
    tt_keypair_t *keys;                        /* owned */
    char relay[TT_BUNDLE_ENDPOINTS_LEN];       /* "" when absent */
    char relay_key[TT_Z85_KEY_LEN + 1];        /* "" when absent */
} tt_bundle_t;

/* Parses text[0..len). NULL with "line N: ..." in why. warn (TT_WHY_LEN,
 * may be NULL) gets the first unknown key's warning, or "". */
tt_bundle_t *tt_bundle_parse(const char *text, size_t len, char *warn, char *why);

/* Reads a bundle file: refused (TT_ERR_CRYPTO) when group or others may
 * read it, as a .key is; errors and the warning name the path. */
tt_bundle_t *tt_bundle_load(const char *path, char *warn, char *why);

/* Writes b to path, mode 0600; refuses an existing path. 0 or TT_ERR_*. */
int tt_bundle_save(const tt_bundle_t *b, const char *path, char *why);

void tt_bundle_destroy(tt_bundle_t **self_p);

/* 1 when list is 1..TT_BUNDLE_MAX_ENDPOINTS comma-separated endpoints,
 * each SCHEME://ADDRESS, the whole under TT_BUNDLE_ENDPOINTS_LEN. */
int tt_bundle_endpoints_ok(const char *list);

/* How many comma-separated items list holds (1 for a list without a comma). */
int tt_bundle_list_count(const char *list);

/* ---- a client's connection from its flags ---- */

typedef struct {
    const char *endpoint;               /* borrowed: the flag's, or c->bundle's */
    char server_key[TT_Z85_KEYS_LEN];   /* one, or one per endpoint: "KEY,KEY" */
    tt_keypair_t *keys;                 /* owned */
    tt_bundle_t *bundle;                /* owned; NULL without --bundle */
    const char *relay;                  /* borrowed: --relay's, or the bundle's; NULL: none */
    char relay_key[TT_Z85_KEY_LEN + 1]; /* the relay's public key, "" without one */
} tt_conn_t;

/* Fills c from resolved flags (tt_conn_opts_resolve): with a bundle, its
 * endpoint, server key, key pair and relay, each replaced by
 * --coordinator, --server-key, --key or --relay (with --relay-key's
 * certificate) when given; without one, the files. 0, or
 * TT_ERR_* with why naming the flag ("--bundle: stage.tutti: line 4:
 * ..."). warn (TT_WHY_LEN, may be NULL) as tt_bundle_load. Clear c with
 * tt_conn_clear either way. */
int tt_conn_load(const tt_conn_opts_t *o, tt_conn_t *c, char *warn, char *why);

void tt_conn_clear(tt_conn_t *c);

#endif
