/* libFuzzer target: tt_access_parse over an untrusted access file.
 *
 * When a file parses, every entry must have a role and a valid key and be
 * found by its own key; the table is then destroyed (leaks are
 * LeakSanitizer reports).
 */
#include "tt_access.h"
#include "tt_error.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[TT_WHY_LEN];
    why[0] = '\0';
    tt_access_t *a = tt_access_parse((const char *)data, size, why);
    if (!a) {
        if (memchr(why, '\0', sizeof why) == NULL || why[0] == '\0')
            abort(); /* a failure always says why */
        return 0;
    }
    if (a->count > TT_ACCESS_MAX_ENTRIES)
        abort();
    for (size_t i = 0; i < a->count; i++) {
        const tt_access_entry_t *e = &a->entries[i];
        if (e->role == TT_ROLE_NONE || e->role > TT_ROLE_RELAY)
            abort();
        if (strlen(e->key_z85) != TT_Z85_KEY_LEN || !tt_z85_key_valid(e->key_z85))
            abort();
        /* Not checked: a non-empty name. A NUL byte inside a field ends it
         * early (the parser copies fields as C strings), so "room \0x KEY"
         * parses with an empty name; see the report on tests/fuzz. */
        if (strlen(e->name) > TT_ACCESS_MAX_NAME)
            abort();
        const tt_access_entry_t *f = tt_access_find_key(a, e->key_z85);
        if (f != e) /* found, and keys are unique so it is this entry */
            abort();
    }
    tt_access_destroy(&a);
    if (a != NULL)
        abort();
    return 0;
}
