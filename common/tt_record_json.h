/* tt_record_json: log records as JSON objects (jansson), for history
 * output and the dashboard. One place decides the field names. */
#ifndef TT_RECORD_JSON_H
#define TT_RECORD_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "tt_chain.h"
#include "tutti.pb-c.h"

/* New reference the caller owns (json_decref). hash may be NULL. Fields:
 * seq, kind, actor, role, at (ISO-8601 UTC), at_unix_ns, hash, and the
 * record's own fields (text for a note; session, signing_key for genesis). */
json_t *tt_record_json(const Tutti__Record *rec, const uint8_t *hash);

/* Lowercase hex of n bytes into out (2n + 1). */
void tt_hex(const uint8_t *data, size_t n, char *out);

#endif
