/* cli_conn: the command line's one connection to the coordinator. A CURVE
 * DEALER (tt_client) opened from the connection flags, requests with the
 * --timeout-ms budget, and every failure printed to stderr as "tutti: ..."
 * and mapped to the exit status a script can act on.
 */
#ifndef CLI_CONN_H
#define CLI_CONN_H

#include "cli.h"
#include "tt_bundle.h"
#include "tt_client.h"
#include "tt_keys.h"

typedef struct {
    void *ctx;
    tt_keypair_t *keys;
    tt_client_t *client; /* NULL until cli_conn_open succeeds */
    int timeout_ms;
} cli_conn_t;

/* Opens c from o (flags, else environment, else defaults). 0, or the exit
 * status after printing why: EXIT_USAGE when a key path is missing, 1 when
 * a key cannot be loaded or the socket not made. Call cli_conn_close
 * either way. */
int cli_conn_open(const tt_conn_opts_t *o, cli_conn_t *c);

/* As cli_conn_open for a command that speaks to the coordinator straight
 * (tutti media: its files go to the upload port, which no relay passes):
 * --relay is not used, and every message starts "PROG: " (e.g. "tutti
 * media: "). */
int cli_conn_open_direct(const tt_conn_opts_t *o, cli_conn_t *c, const char *prog);

/* Frees what cli_conn_open made; safe on a failed open. */
void cli_conn_close(cli_conn_t *c);

/* Sends req and waits for a reply of body case want. 0 with *reply (the
 * caller frees it with tutti__envelope__free_unpacked), or the exit status
 * after printing why (EXIT_REFUSED for a refused key or role). */
int cli_request(cli_conn_t *c, Tutti__Envelope *req, Tutti__Envelope **reply,
                Tutti__Envelope__BodyCase want);

/* Sends a write request exactly once (tt_client_write: a random
 * idempotency key, one retry with it after a lost reply) and waits for its
 * WriteReply. 0 with *reply (the caller frees it), or the exit status
 * after printing why. After a retry it says on stderr which happened:
 * "the first reply was lost ...; the write had committed: seq N" or "the
 * first attempt was not recorded ...; written on retry: seq N". */
int cli_write(cli_conn_t *c, Tutti__Envelope *req, Tutti__Envelope **reply);

/* The exit status for a tt_client error: EXIT_REFUSED or 1. */
int cli_exit_for(int rc);

#endif
