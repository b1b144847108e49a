/* libFuzzer target: tt_bundle_parse (and under it tt_ini_each, the INI
 * reader config files use) over untrusted text.
 *
 * A bundle arrives from another site by mail or a USB stick: whatever
 * parses must hold only what the rest of tutti trusts (a name in the
 * access file's alphabet, a real role, endpoint lists that pass the
 * check, Z85 keys whose public half is the secret's), and every refusal or
 * warning is a terminated string that never quotes the secret key.
 */
#include "tt_bundle.h"
#include "tt_error.h"
#include "tt_text.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1); /* exact size: a read past it is an ASan report */
    if (!text)
        return 0;
    memcpy(text, data, size);
    char why[TT_WHY_LEN], warn[TT_WHY_LEN];
    tt_bundle_t *b = tt_bundle_parse(text, size, warn, why);
    if (memchr(warn, '\0', sizeof warn) == NULL)
        abort();
    if (!b) {
        if (memchr(why, '\0', sizeof why) == NULL)
            abort();
        free(text);
        return 0;
    }
    char derived[TT_Z85_KEY_LEN + 1];
    if (b->version != TT_BUNDLE_VERSION || !tt_name_ok(b->name, TT_ACCESS_MAX_NAME, 0) ||
        !tt_name_ok(b->session, TT_ACCESS_MAX_NAME, 0) || b->role == TT_ROLE_NONE ||
        !tt_bundle_endpoints_ok(b->coordinator) || !tt_z85_key_valid(b->server_key) ||
        zmq_curve_public(derived, b->keys->secret_z85) != 0 ||
        strcmp(derived, b->keys->public_z85) != 0 ||
        (b->relay[0] && !tt_bundle_endpoints_ok(b->relay)) ||
        (b->relay_key[0] && !tt_z85_key_valid(b->relay_key)))
        abort();
    if (warn[0] && strstr(warn, b->keys->secret_z85))
        abort();
    tt_bundle_destroy(&b);
    free(text);
    return 0;
}
