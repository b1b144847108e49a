/* tt_access: the access file, mapping CURVE public keys to roles and names.
 *
 *   # role       name             public key (Z85, 40 chars)
 *   operator     conductor        <z85>
 *   room         stage            <z85>
 *   relay        berlin-relay     <z85>
 *
 * '#' starts a comment at the beginning of a line or of a field (Z85 keys
 * themselves may contain '#').
 *
 * The file is trusted configuration but still parsed strictly: an unknown
 * role, a bad key, a duplicate key or a duplicate room name is an error
 * naming the line, so a typo never silently admits or drops someone.
 */
#ifndef TT_ACCESS_H
#define TT_ACCESS_H

#include <stddef.h>

#include "tt_keys.h"

/* A session of 1,000 observers (dashboards) and 50 rooms fits with room to
 * spare; lookups are linear, a few microseconds at this size. */
#define TT_ACCESS_MAX_ENTRIES 4096
#define TT_ACCESS_MAX_NAME 64
#define TT_ACCESS_MAX_TEXT (1024 * 1024)

typedef enum {
    TT_ROLE_NONE = 0,
    TT_ROLE_OPERATOR,
    TT_ROLE_ROOM,
    TT_ROLE_CONTRACTOR,
    TT_ROLE_OBSERVER,
    /* The peer coordinator of a standby pair (README "Standby coordinator"):
     * its key may only hello, heartbeat, fetch and read status, and ship
     * records to a standby. */
    TT_ROLE_COORDINATOR,
    /* A site relay (tutti-relay): reads (hello, status, fetch) and passes
     * other keys' sealed requests on; it can write nothing itself. */
    TT_ROLE_RELAY
} tt_role_t;

typedef struct {
    tt_role_t role;
    char name[TT_ACCESS_MAX_NAME + 1];
    char key_z85[TT_Z85_KEY_LEN + 1];
} tt_access_entry_t;

typedef struct tt_access {
    tt_access_entry_t *entries; /* owned */
    size_t count;
} tt_access_t;

/* Parses text (need not be NUL-terminated). NULL with line and reason in why. */
tt_access_t *tt_access_parse(const char *text, size_t len, char *why);
tt_access_t *tt_access_load(const char *path, char *why);
void tt_access_destroy(tt_access_t **self_p);

/* A table holding a copy of n entries (a table handed to another thread
 * as the raw bytes of a->entries; they are not parsed or checked again).
 * NULL with a reason when n is over TT_ACCESS_MAX_ENTRIES or memory is
 * short. */
tt_access_t *tt_access_from_entries(const tt_access_entry_t *entries, size_t n, char *why);
/* The same from a table's entries as bytes (a thread's command frame):
 * NULL with "a torn table" when len is not a whole number of entries. */
tt_access_t *tt_access_from_bytes(const void *bytes, size_t len, char *why);

/* Borrowed pointer into a, valid until a is destroyed; NULL when absent. */
const tt_access_entry_t *tt_access_find_key(const tt_access_t *a, const char *key_z85);

/* The entry named name (names are unique in the file), or NULL. Borrowed
 * as above. NULL name finds nothing. */
const tt_access_entry_t *tt_access_find_name(const tt_access_t *a, const char *name);

/* The room named name: the entry when it exists and has the room role,
 * else NULL (an operator named "stage" is not a room). Borrowed as above. */
const tt_access_entry_t *tt_access_find_room(const tt_access_t *a, const char *name);

/* How many entries have role r. */
size_t tt_access_count_role(const tt_access_t *a, tt_role_t r);

const char *tt_role_name(tt_role_t r);
tt_role_t tt_role_from_name(const char *s);

#endif
