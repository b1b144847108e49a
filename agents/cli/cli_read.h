/* cli_read: the subcommands that only read: status (the coordinator's
 * live view), history (the records), cue list, takes and report (the log
 * fetched, checked record by record against the chain and its signatures,
 * and folded with tt_session like every agent does). Output goes to
 * stdout as text, --json (one object per line) or --csv. Handlers have
 * the cli_handler_fn shape and return the exit status.
 */
#ifndef CLI_READ_H
#define CLI_READ_H

#include "cli.h"

int cli_read_status(const tt_conn_opts_t *o, int argc, char **argv);
int cli_read_history(const tt_conn_opts_t *o, int argc, char **argv);
/* cue list [--json]; prints the usage of both cue forms on bad usage. */
int cli_read_cue_list(const tt_conn_opts_t *o, int argc, char **argv);
int cli_read_takes(const tt_conn_opts_t *o, int argc, char **argv);
int cli_read_report(const tt_conn_opts_t *o, int argc, char **argv);

#endif
