/* cli_conn: see cli_conn.h. */
#define _POSIX_C_SOURCE 200809L
#include "cli_conn.h"
#include "tt_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int cli_exit_for(int rc)
{
    return (rc == TT_ERR_AUTH || rc == TT_ERR_DENIED) ? EXIT_REFUSED : 1;
}

/* The one way to open: prog starts the messages; via_relay 0 leaves --relay
 * unused (and its missing key unnamed: the generic message). */
static int conn_open(const tt_conn_opts_t *o, cli_conn_t *s, const char *prog, int via_relay)
{
    memset(s, 0, sizeof *s);
    tt_conn_opts_t co = *o;
    if (tt_conn_opts_resolve(&co) != 0) {
        fprintf(stderr, "%s: %s\n", prog,
                via_relay && co.relay && !co.relay_key_path
                    ? "--relay needs --relay-key, the relay's public certificate"
                    : "--bundle, or --server-key and --key (or TUTTI_BUNDLE, or "
                      "TUTTI_SERVER_KEY and TUTTI_KEY) are required");
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN], warn[TT_WHY_LEN];
    if (tt_conn_opts_check_endpoint(&co, why) != 0) { /* $TUTTI_COORDINATOR's list */
        fprintf(stderr, "%s: %s\n", prog, why);
        return EXIT_USAGE;
    }
    tt_conn_t conn;
    int rc = tt_conn_load(&co, &conn, warn, why);
    if (warn[0])
        fprintf(stderr, "%s: warning: %s\n", prog, warn);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", prog, why);
        tt_conn_clear(&conn);
        return 1;
    }
    s->keys = conn.keys;
    conn.keys = NULL; /* s owns them now */
    s->ctx = zmq_ctx_new();
    s->client = tt_client_new(s->ctx, conn.endpoint, conn.server_key, s->keys, 0, why);
    /* --relay's, or the bundle's */
    if (s->client && via_relay && conn.relay &&
        tt_client_via_relay(s->client, conn.relay, conn.relay_key, why) != 0) {
        fprintf(stderr, "%s: --relay %s: %s\n", prog, conn.relay, why);
        tt_conn_clear(&conn);
        return 1;
    }
    tt_conn_clear(&conn);
    if (!s->client) {
        fprintf(stderr, "%s: %s\n", prog, why);
        return 1;
    }
    s->timeout_ms = (int)co.timeout_ms;
    return 0;
}

int cli_conn_open(const tt_conn_opts_t *o, cli_conn_t *s)
{
    return conn_open(o, s, "tutti", 1);
}

int cli_conn_open_direct(const tt_conn_opts_t *o, cli_conn_t *s, const char *prog)
{
    return conn_open(o, s, prog, 0);
}

void cli_conn_close(cli_conn_t *s)
{
    tt_client_destroy(&s->client);
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    tt_keypair_destroy(&s->keys);
}

static int print_failure(int rc, const char *why)
{
    fprintf(stderr, "tutti: %s%s\n",
            rc == TT_ERR_AUTH     ? "authentication error: "
            : rc == TT_ERR_DENIED ? "refused: "
                                  : "",
            why);
    return cli_exit_for(rc);
}

int cli_write(cli_conn_t *s, Tutti__Envelope *req, Tutti__Envelope **reply)
{
    char why[TT_WHY_LEN], lost[TT_WHY_LEN];
    tt_client_write_how_t how;
    int rc = tt_client_write(s->client, req, reply, s->timeout_ms, &how, lost, why);
    if (rc != 0)
        return print_failure(rc, why);
    unsigned long long seq = (unsigned long long)(*reply)->write_reply->seq;
    if (how == TT_CLIENT_WRITE_WAS_COMMITTED)
        fprintf(stderr,
                "tutti: the first reply was lost (%s); the write had committed: seq %llu "
                "(retried with the same key, recorded once)\n",
                lost, seq);
    else if (how == TT_CLIENT_WRITE_ON_RETRY)
        fprintf(stderr,
                "tutti: the first attempt was not recorded (%s); written on retry: seq %llu\n",
                lost, seq);
    return 0;
}

int cli_request(cli_conn_t *s, Tutti__Envelope *req, Tutti__Envelope **reply,
                Tutti__Envelope__BodyCase want)
{
    char why[TT_WHY_LEN];
    int rc = tt_client_request(s->client, req, reply, s->timeout_ms, why);
    if (rc != 0)
        return print_failure(rc, why);
    if ((*reply)->body_case != want) {
        fprintf(stderr, "tutti: unexpected reply from the coordinator\n");
        tutti__envelope__free_unpacked(*reply, NULL);
        *reply = NULL;
        return 1;
    }
    return 0;
}

void cli_print_json_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) {
        puts(s);
        free(s);
    }
}
