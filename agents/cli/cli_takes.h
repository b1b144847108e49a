/* cli_takes: `tutti takes [--json|--csv] [--cue CUE]`, the take sheet. */
#ifndef CLI_TAKES_H
#define CLI_TAKES_H

#include "cli.h"

int cli_takes(const tt_conn_opts_t *o, int argc, char **argv);

#endif
