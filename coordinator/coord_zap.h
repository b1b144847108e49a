/* coord_zap: the ZAP handler that admits only keys in the access file.
 *
 * libzmq 4.3 lets a CURVE server accept every client key when no ZAP
 * handler is bound, so coord_zap_bind must run before any CURVE socket is
 * bound. The handler answers on the coordinator's main loop; an unknown
 * key gets status 400 and the client sees ZMQ_EVENT_HANDSHAKE_FAILED_AUTH.
 * The User-Id of every admitted connection is the client's Z85 public
 * key, so each request's role is looked up again in the current access
 * table (a SIGHUP reload takes effect for connected clients too).
 */
#ifndef COORD_ZAP_H
#define COORD_ZAP_H

#include "tt_access.h"

/* REP socket bound to inproc://zeromq.zap.01 in ctx; NULL + why on error. */
void *coord_zap_bind(void *ctx, char *why);

/* Answers every pending ZAP request against access. Never blocks. */
void coord_zap_handle(void *zap, const tt_access_t *access);

#endif
