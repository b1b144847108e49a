/* coord_outbox: what one ROUTER peer may have waiting, bounded.
 *
 * A client that asks and never reads must not make the coordinator hold
 * its replies without limit. Each peer's pipe in libzmq holds at most
 * COORD_OUTBOX_PIPE_HWM messages (so at most that many fetch pages of
 * 1 MiB); what the pipe cannot take waits here, per peer, in order, and
 * goes as the peer reads. Small replies (a group commit answers up to 512
 * writes at once) are never dropped below COORD_OUTBOX_PEER_MAX_MSGS; the
 * caller refuses big reads from a peer whose replies already wait
 * (coord_outbox_waiting), so a peer holds a few MiB at most.
 *
 * One outbox per ROUTER, used by the thread that owns the socket.
 */
#ifndef COORD_OUTBOX_H
#define COORD_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "tutti.pb-c.h"

#define COORD_OUTBOX_PIPE_HWM 4         /* messages in one peer's libzmq pipe */
#define COORD_OUTBOX_PEER_MAX_MSGS 4096 /* waiting here, per peer */
/* A reader with more than this waiting is refused new reads: small write
 * replies may wait, a fetch page may not pile up behind another. */
#define COORD_OUTBOX_READ_MAX_UNREAD (64u << 10)
#define COORD_OUTBOX_PEER_MAX_BYTES (2u << 20) /* one spilled page and small replies */

typedef struct coord_outbox coord_outbox_t;

/* Sets the ROUTER's send high-water mark and mandatory routing (a full pipe
 * says EAGAIN instead of dropping). Call before the socket binds: the mark
 * applies to the pipes made after it. */
int coord_outbox_configure(void *router, char *why);

/* A peer that has taken nothing for this long has its waiting replies
 * dropped: it is stuck or gone (libzmq may keep a gone peer's full pipe
 * for a long while), and its queue must not stay forever. */
#define COORD_OUTBOX_GIVE_UP_MS 60000

/* An outbox for router (borrowed; configured as above). name says which
 * socket in the log ("request", "upload"); give_up_ms is
 * COORD_OUTBOX_GIVE_UP_MS but in tests. NULL with a reason in why. */
coord_outbox_t *coord_outbox_new(void *router, const char *name, int give_up_ms, char *why);
void coord_outbox_destroy(coord_outbox_t **self_p);

/* Sends env to the peer rid now, or after what already waits for it. 0
 * sent or queued; TT_ERR_UNAVAILABLE when the peer already has its
 * maximum waiting (the reply is dropped and logged); TT_ERR_IO when the
 * peer is gone; TT_ERR_TOO_BIG / TT_ERR_NOMEM from packing. */
int coord_outbox_send(coord_outbox_t *o, const uint8_t *rid, size_t rid_len, Tutti__Envelope *env,
                      char *why);
/* An Error reply the same way (code: a tt_err_t or an ErrorCode value). */
int coord_outbox_send_error(coord_outbox_t *o, const uint8_t *rid, size_t rid_len,
                            uint64_t request_id, int code, const char *message);

/* Bytes of replies waiting here for the peer rid (0: its pipe has room). */
size_t coord_outbox_waiting(const coord_outbox_t *o, const uint8_t *rid, size_t rid_len);

/* Hands every peer what its pipe takes now. Returns how many replies went. */
size_t coord_outbox_flush(coord_outbox_t *o);

/* How long the owner's poll may wait before the next coord_outbox_flush:
 * -1 nothing waits; 0 a peer is reading (its replies went in the last
 * moments: flush again at once); else a few ms (peers not reading are
 * tried again then, cheaply). */
int coord_outbox_wait_ms(const coord_outbox_t *o);

#endif
