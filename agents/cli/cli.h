/* cli: what every module of the tutti command line shares: exit codes and
 * the shape of a subcommand, so tutti_cli.c can dispatch from one table
 * (name, handler, flags, synopsis, manual) the way Redis dispatches its
 * commands.
 */
#ifndef CLI_H
#define CLI_H

#include "tt_opts.h"

#include <jansson.h>

/* Exit status of every subcommand: 0 success, 1 failure. */
#define EXIT_USAGE 2   /* bad usage */
#define EXIT_REFUSED 3 /* unknown key, role not allowed, or verification failed */

/* A subcommand: argv[0] is its name. o holds the connection flags as given
 * (resolve with tt_conn_opts_resolve); commands that do not connect ignore
 * it. Returns the exit status. */
typedef int (*cli_handler_fn)(const tt_conn_opts_t *o, int argc, char **argv);

/* Prints o as one compact JSON line on stdout (nothing when it cannot be
 * encoded). Borrows o. */
void cli_print_json_line(json_t *o);

#endif
