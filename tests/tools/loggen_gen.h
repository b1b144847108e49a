/* loggen_gen: a session's worth of varied log records, made up from a seed,
 * for the tests and benches that need a long log without a coordinator
 * (tutti-loggen, test_snapshot).
 *
 * Every kind of record the fold keeps comes round once a period: cues and
 * tempo maps, arm/roll/stop and an interrupted take, ratings and take
 * notes, captures and prelays, changes and acks, players in and out,
 * trims, the call (start, breaks, wrap), plus notes; three in four records
 * carry an idempotency key. Each record is chosen against the state folded
 * so far (the caller's), so the fold accepts all of them; the same seed,
 * period and fold give the same records.
 */
#ifndef LOGGEN_GEN_H
#define LOGGEN_GEN_H

#include <stdint.h>

#include "tt_session.h"

typedef struct loggen loggen_t;

/* period: records per round of every kind (>= 40; the rest are notes). */
loggen_t *loggen_new(uint64_t seed, unsigned period);
void loggen_destroy(loggen_t **self_p);

/* Fills *rec with record st->last_seq + 1 (seq 1: the genesis naming pk).
 * Its strings and parts belong to g and live until the next call. last:
 * this is the log's last record; it leaves no take open. */
void loggen_next(loggen_t *g, const tt_session_t *st, const uint8_t pk[TT_SIGN_PK_LEN], int last,
                 Tutti__Record *rec);

#endif
