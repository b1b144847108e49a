/* tt_zap: the ZAP handler that admits only keys in the access file.
 *
 * libzmq 4.3 lets a CURVE server accept every client key when no ZAP
 * handler is bound, so tt_zap_bind must run before any CURVE socket is
 * bound. The handler answers on the coordinator's main loop; an unknown
 * key gets status 400 and the client sees ZMQ_EVENT_HANDSHAKE_FAILED_AUTH.
 * The User-Id of every admitted connection is the client's Z85 public
 * key, so each request's role is looked up again in the current access
 * table (a SIGHUP reload takes effect for connected clients too).
 */
#ifndef TT_ZAP_H
#define TT_ZAP_H

#include <stdint.h>

#include "tt_access.h"

/* Refusals logged lately, per key: a refused client (a revoked agent's
 * SUB) reconnects every 100 ms or so, and one line a minute says as much. */
#define TT_ZAP_QUIET_KEYS 16
#define TT_ZAP_QUIET_NS (60LL * 1000000000LL)
typedef struct {
    struct {
        char key[TT_Z85_KEY_LEN + 1];
        int64_t until_ns; /* monotonic: no line for this key before then */
        unsigned quiet;   /* refusals not logged since the last line */
    } k[TT_ZAP_QUIET_KEYS];
} tt_zap_quiet_t;

/* REP socket bound to inproc://zeromq.zap.01 in ctx; NULL + why on error. */
void *tt_zap_bind(void *ctx, char *why);

/* Answers every pending ZAP request against access. Never blocks. quiet
 * (zeroed by the caller at first) keeps repeated refusals to a line a
 * minute per key. */
void tt_zap_handle(void *zap, const tt_access_t *access, tt_zap_quiet_t *quiet);

#endif
