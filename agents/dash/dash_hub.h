/* dash_hub: what the dashboard's main thread publishes for its HTTP threads.
 *
 * The main thread owns the replica and every ZeroMQ socket; libmicrohttpd
 * serves each browser on a thread of its own. They share exactly this: the
 * latest state JSON, a ring of recent record summaries (so a browser that
 * reconnects resumes from the last sequence it saw) and the report CSV
 * (login sessions are tt_web's). Everything is copied in and out under one mutex; a
 * condition variable wakes the event streams when something new arrives.
 */
#ifndef DASH_HUB_H
#define DASH_HUB_H

#include <stddef.h>
#include <stdint.h>

#define DASH_RING 1024       /* record summaries kept for resuming streams */
#define DASH_REPORT_NAME 160 /* the report's file name, NUL included */

typedef struct dash_hub dash_hub_t;

dash_hub_t *dash_hub_new(void);
void dash_hub_destroy(dash_hub_t **self_p);

/* Main thread: a new state (copied), seq = the replica's head. */
void dash_hub_set_state(dash_hub_t *h, uint64_t seq, const char *json);
/* Main thread: one record's summary JSON (copied), in sequence order. */
void dash_hub_add_record(dash_hub_t *h, uint64_t seq, const char *json);
/* Main thread: the report CSV and its download file name (both copied;
 * the name is cut to DASH_REPORT_NAME - 1 bytes). */
void dash_hub_set_report(dash_hub_t *h, const char *csv, const char *name);

/* HTTP threads: a malloc'd copy the caller frees (NULL before the first). */
char *dash_hub_state(dash_hub_t *h, uint64_t *seq, uint64_t *version);
/* The report, and its file name into name ("" before the first). */
char *dash_hub_report(dash_hub_t *h, char name[DASH_REPORT_NAME]);

/* HTTP threads: the next piece of an event stream for a browser that has
 * seen records up to *last_seq and state *version. Waits up to wait_ms for
 * something new. Returns a malloc'd text/event-stream chunk (records after
 * *last_seq, then the state if it changed) and advances both; returns an
 * empty string (malloc'd "") when nothing happened in time, NULL when out of
 * memory or shutting down. */
char *dash_hub_next_events(dash_hub_t *h, uint64_t *last_seq, uint64_t *version, int wait_ms);

/* Wakes every waiting stream and makes them end. */
void dash_hub_shutdown(dash_hub_t *h);

#endif
