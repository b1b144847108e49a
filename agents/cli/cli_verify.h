/* cli_verify: offline checks, no coordinator needed. verify DIR checks a
 * coordinator store or agent replica (gap-free sequence, hash chain,
 * signatures; exit EXIT_REFUSED when it fails); clicks compares where the
 * clicks of recorded WAV files landed. Handlers have the cli_handler_fn
 * shape (o is unused) and return the exit status.
 */
#ifndef CLI_VERIFY_H
#define CLI_VERIFY_H

#include "cli.h"

int cli_verify_store(const tt_conn_opts_t *o, int argc, char **argv);
int cli_verify_clicks(const tt_conn_opts_t *o, int argc, char **argv);

#endif
