/* tt_web_board: a few named JSON documents that one thread publishes and
 * web threads serve, whole (GET) or as server-sent events when they change.
 *
 * The publisher (a program's main thread) sets a document only when it has
 * changed; every set takes the next number of one counter, so a stream
 * that remembers the last number it sent knows exactly which documents to
 * send next (each at most once, newest text), whatever their pace. A
 * document is one SSE event named after it with the number as its id.
 * Everything is copied in and out under one mutex; a condition variable
 * wakes waiting streams. At most TT_WEB_BOARD_SLOTS names.
 */
#ifndef TT_WEB_BOARD_H
#define TT_WEB_BOARD_H

#include <stdint.h>

#define TT_WEB_BOARD_SLOTS 8
#define TT_WEB_BOARD_NAME 24 /* bytes of a name, NUL included */

typedef struct tt_web_board tt_web_board_t;

tt_web_board_t *tt_web_board_new(void);
void tt_web_board_destroy(tt_web_board_t **self_p);

/* Publisher: document name (letters, digits, '_') is now json (copied; a
 * JSON value on one line). Text equal to the current one changes nothing.
 * 0, or TT_ERR_NOMEM / TT_ERR_TOO_BIG (too many names) with the board
 * unchanged. */
int tt_web_board_set(tt_web_board_t *b, const char *name, const char *json);

/* Any thread: {"name": document, ...} of every document set so far,
 * malloc'd (caller frees); *version (may be NULL) gets the counter, for a
 * stream to go on from. NULL when out of memory. */
char *tt_web_board_all(tt_web_board_t *b, uint64_t *version);

/* Web threads: the documents set after *seen, as text/event-stream
 * ("event: NAME\nid: N\ndata: JSON\n\n" each), waiting up to wait_ms for
 * one; advances *seen. Returns malloc'd text, "" (malloc'd) when nothing
 * came in time, NULL when out of memory or after tt_web_board_shutdown. */
char *tt_web_board_next(tt_web_board_t *b, uint64_t *seen, int wait_ms);

/* Wakes every waiting stream and makes them end. */
void tt_web_board_shutdown(tt_web_board_t *b);

#endif
