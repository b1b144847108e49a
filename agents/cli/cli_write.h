/* cli_write: the subcommands that append a record. Each sends one write
 * request over cli_conn and prints "WHAT recorded as SEQ" (trim says more)
 * when the coordinator commits it; a refusal is printed with its reason.
 * Every write carries a random idempotency key and is retried once with
 * it after a lost reply, so it is recorded exactly once (cli_write in
 * cli_conn.h says what is printed then).
 * Handlers have the cli_handler_fn shape and return the exit status.
 */
#ifndef CLI_WRITE_H
#define CLI_WRITE_H

#include "cli.h"

int cli_write_note(const tt_conn_opts_t *o, int argc, char **argv);
int cli_write_trim(const tt_conn_opts_t *o, int argc, char **argv);
/* tempo load CUE FILE: the map (text or SMF) is parsed and re-formatted
 * here, so the log holds the canonical text. */
int cli_write_tempo(const tt_conn_opts_t *o, int argc, char **argv);
int cli_write_arm(const tt_conn_opts_t *o, int argc, char **argv);
/* cue add CUE [--title T]: argv[1] is "add". */
int cli_write_cue_add(const tt_conn_opts_t *o, int argc, char **argv);
int cli_write_take(const tt_conn_opts_t *o, int argc, char **argv);
int cli_write_change(const tt_conn_opts_t *o, int argc, char **argv);
int cli_write_ack(const tt_conn_opts_t *o, int argc, char **argv);
int cli_write_presence(const tt_conn_opts_t *o, int argc, char **argv);
/* roll's synopsis, for its usage error and the command table. */
#define CLI_ROLL_SYNOPSIS                                                                          \
    "roll CUE [--from-bar N] [--lead-ms MS] [--force] [--punch-in BAR --punch-out BAR]"
int cli_write_roll(const tt_conn_opts_t *o, int argc, char **argv);
int cli_write_call(const tt_conn_opts_t *o, int argc, char **argv);
int cli_write_stop(const tt_conn_opts_t *o, int argc, char **argv);

#endif
