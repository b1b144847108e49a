/* tt_record_json: log records as JSON objects (jansson), for history
 * output and the dashboard. One place decides the field names. */
#ifndef TT_RECORD_JSON_H
#define TT_RECORD_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "tt_chain.h"
#include "tutti.pb-c.h"

/* New reference the caller owns (json_decref). hash may be NULL. Fields:
 * seq, kind, actor, role, at (ISO-8601 UTC), at_unix_ns, idempotency_key
 * (hex; only when the write carried one), hash, and the record's own
 * fields (text for a note; session, signing_key for genesis). */
json_t *tt_record_json(const Tutti__Record *rec, const uint8_t *hash);

/* One line for people: "1M1 take 3 rolled from bar 7 ...", "stage: +Ann Lee"
 * (the kind and actor are not repeated). Never fails; "" for kinds without
 * details. A note is whole (if cap allows); other texts are cut to 200 bytes. */
void tt_record_summary(const Tutti__Record *rec, char *out, size_t cap);

#endif
