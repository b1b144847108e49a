/* cli_read: the subcommands that only read: status (the coordinator's
 * live view), history (the records), cue list and report (the log
 * fetched, checked record by record against the chain and its signatures,
 * and folded with tt_session like every agent does). Output goes to
 * stdout as text, --json (one object per line) or --csv. Handlers have
 * the cli_handler_fn shape and return the exit status.
 */
#ifndef CLI_READ_H
#define CLI_READ_H

#include "cli.h"
#include "cli_conn.h"
#include "tt_session.h"

int cli_read_status(const tt_conn_opts_t *o, int argc, char **argv);
/* tutti relay-status: a site relay's own state (--relay, --relay-key). */
int cli_read_relay_status(const tt_conn_opts_t *o, int argc, char **argv);
int cli_read_history(const tt_conn_opts_t *o, int argc, char **argv);
/* cue list [--json]; prints the usage of both cue forms on bad usage. */
int cli_read_cue_list(const tt_conn_opts_t *o, int argc, char **argv);
int cli_read_report(const tt_conn_opts_t *o, int argc, char **argv);
/* The current map text of cue (malloc'd into *text, the caller frees it)
 * and its version, from the fetched and folded log. Returns 0, the
 * connection's exit status, or 1 with the reason printed when the cue is
 * unknown or has no map. */
int cli_read_cue_map(const tt_conn_opts_t *o, const char *cue, char **text, unsigned *version);

/* The session as the log folds it, fetched whole: the CLI applies the same
 * fold as every agent instead of asking for a second, hand-made view.
 * Fetches the whole log, checks every record's chain and signature, folds
 * it into st (initialised here; the caller clears it) and, when each is
 * not NULL, hands each record to it after its fold. 0, or 1 said on stderr. */
typedef void (*cli_record_fn)(void *arg, const Tutti__Record *rec);
int cli_read_fold_each(cli_conn_t *s, tt_session_t *st, cli_record_fn each, void *arg);

/* One CSV field through tt_csv (RFC 4180, formulas neutralised), then its
 * separator (newline when last). */
void cli_csv_field(const char *v, int last);
const char *cli_take_state_name(tt_take_state_t t);

#endif
