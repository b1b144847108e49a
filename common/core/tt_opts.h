/* tt_opts: what every program's command line shares: a flag's value or
 * its environment variable or its default, checked integers, and the
 * connection flags every client of the coordinator takes.
 *
 * The connection flags are one struct, one getopt_long table fragment, one
 * parse step and one help block, so tutti, tutti-agent, tutti-dash and the
 * test tools accept the same names, environment variables and defaults:
 *
 *   --coordinator EP[,EP...]  $TUTTI_COORDINATOR   tcp://127.0.0.1:7700
 *   --server-key FILE   $TUTTI_SERVER_KEY    (required)
 *   --key FILE.key      $TUTTI_KEY           (required)
 *   --timeout-ms N                           5000 (programs that wait on replies)
 *   --bundle FILE       $TUTTI_BUNDLE        a session bundle (tt_bundle.h): the
 *                                            endpoint and both keys in one file; the
 *                                            three flags above, when given, win over it
 *   --relay EP          $TUTTI_RELAY         none (programs that can pass a site relay)
 *   --relay-key FILE    $TUTTI_RELAY_KEY     (required with --relay)
 *
 * --coordinator takes a comma list of up to TT_OPTS_COORDINATORS_MAX
 * endpoints: a primary and its standby (issue 16). Clients talk to one at a
 * time and move to the next on a standby's answer, a timeout or a drop
 * (tt_client.h); the list stays a string here and is split where a
 * connection is made (tt_opts_split_endpoints).
 */
#ifndef TT_OPTS_H
#define TT_OPTS_H

#include "tt_config.h"

#include <getopt.h>
#include <stdio.h>

/* Value of --flag if given (not NULL), else the environment variable when
 * set and not empty, else dflt. Borrowed: the result is one of the three
 * (the environment's string lives until the variable changes). */
const char *tt_opts_or_env(const char *given, const char *env, const char *dflt);

/* Parses a whole decimal integer in [lo, hi] into *out; 0, or -1 when s
 * is empty, has trailing characters or is out of range. */
int tt_opts_parse_long(const char *s, long lo, long hi, long *out);

/* The exit code of every program for a bad command line. */
#define TT_OPTS_EXIT_USAGE 2

/* For main(): tt_config_apply, then *argc and *argv are out's. 0, or
 * TT_OPTS_EXIT_USAGE (for main to return) after printing "PROGRAM: why"
 * to stderr (PROGRAM: spec->program) and freeing out. On success out
 * lives as long as the program reads *argv: keep it static, or free it
 * with tt_config_argv_free after the last use. */
int tt_opts_config(const tt_config_spec_t *spec, int *argc, char ***argv, tt_config_argv_t *out);

/* ---- the connection flags ---- */

#define TT_OPTS_COORDINATOR_DEFAULT "tcp://127.0.0.1:7700"
#define TT_OPTS_TIMEOUT_MS_DEFAULT 5000
#define TT_OPTS_TIMEOUT_MS_MAX 3600000
#define TT_OPTS_COORDINATORS_MAX 4
#define TT_OPTS_ENDPOINT_LEN 256

/* A --coordinator list split into its endpoints, in the order given. */
typedef struct {
    int n;
    char ep[TT_OPTS_COORDINATORS_MAX][TT_OPTS_ENDPOINT_LEN];
} tt_opts_endpoints_t;

/* Splits "A,B" (spaces around an item are dropped) into out. 0, or
 * TT_ERR_INVALID with why for an empty list or item ("--coordinator: item
 * 2 of \"A,,B\" is empty"), more than TT_OPTS_COORDINATORS_MAX items or
 * an item of TT_OPTS_ENDPOINT_LEN characters or more. */
int tt_opts_split_endpoints(const char *list, tt_opts_endpoints_t *out, char *why);

/* Borrowed strings (argv or the environment). NULL / 0: not given. */
typedef struct {
    const char *endpoint;        /* --coordinator: one endpoint or a comma list */
    const char *server_key_path; /* --server-key */
    const char *key_path;        /* --key */
    long timeout_ms;             /* --timeout-ms */
    const char *bundle_path;     /* --bundle */
    const char *relay;           /* --relay: NULL, or a site relay's endpoint */
    const char *relay_key_path;  /* --relay-key */
} tt_conn_opts_t;

/* getopt_long values of the connection flags, clear of any short option. */
enum {
    TT_OPT_COORDINATOR = 0x1000,
    TT_OPT_SERVER_KEY,
    TT_OPT_KEY,
    TT_OPT_TIMEOUT_MS,
    TT_OPT_BUNDLE,
    TT_OPT_RELAY,
    TT_OPT_RELAY_KEY,
};

/* Entries for a program's struct option table. */
/* clang-format off */
#define TT_CONN_OPTIONS                                           \
    {"coordinator", required_argument, 0, TT_OPT_COORDINATOR},    \
    {"server-key", required_argument, 0, TT_OPT_SERVER_KEY},      \
    {"key", required_argument, 0, TT_OPT_KEY},                    \
    {"bundle", required_argument, 0, TT_OPT_BUNDLE}
#define TT_CONN_OPTION_TIMEOUT {"timeout-ms", required_argument, 0, TT_OPT_TIMEOUT_MS}
#define TT_CONN_OPTIONS_RELAY                                     \
    {"relay", required_argument, 0, TT_OPT_RELAY},                \
    {"relay-key", required_argument, 0, TT_OPT_RELAY_KEY}
/* clang-format on */

/* Takes getopt_long's code and optarg for one connection flag. 0, or
 * TT_ERR_INVALID with why ("--timeout-ms wants 1..3600000", a
 * --coordinator list tt_opts_split_endpoints refuses) for a bad value or a
 * code that is not a connection flag. */
int tt_conn_opts_set(tt_conn_opts_t *o, int code, const char *arg, char *why);

/* 1 when getopt_long's code is one of the connection flags, else 0. */
int tt_conn_opts_is_flag(int code);

/* For a program's getopt_long loop: tt_conn_opts_set, and for a bad value
 * prints "PROG: why" to stderr. 0, or TT_OPTS_EXIT_USAGE for the program
 * to return. */
int tt_conn_opts_take(tt_conn_opts_t *o, int code, const char *arg, const char *prog);

/* Fills what was not given from the environment and the defaults. 0, or
 * TT_ERR_INVALID when --server-key or --key is still unknown, or --relay
 * is given without --relay-key (the caller says which flags it requires).
 * With a bundle (--bundle or $TUTTI_BUNDLE) it is 0 and the endpoint and
 * key paths stay as the flags gave them (NULL when not given):
 * tt_conn_load takes the rest from the bundle, not from
 * $TUTTI_COORDINATOR, $TUTTI_SERVER_KEY or $TUTTI_KEY. A bad
 * $TUTTI_COORDINATOR list is not checked here: tt_conn_opts_check_endpoint,
 * or the connection that splits it, says what is wrong. */
int tt_conn_opts_resolve(tt_conn_opts_t *o);

/* Checks o->endpoint (after resolve) as a --coordinator list: 0, or
 * TT_ERR_INVALID with why as tt_opts_split_endpoints. */
int tt_conn_opts_check_endpoint(const tt_conn_opts_t *o, char *why);

/* Prints the help block (with --timeout-ms when with_timeout) to out:
 * flags at column 2, their descriptions at column 24. The text is also
 * TT_CONN_OPTS_HELP and TT_CONN_OPTS_HELP_TIMEOUT. */
void tt_conn_opts_usage(FILE *out, int with_timeout);

#define TT_CONN_OPTS_HELP                                                                          \
    "  --coordinator EP[,EP] coordinator request endpoint ($TUTTI_COORDINATOR,\n"                  \
    "                        default " TT_OPTS_COORDINATOR_DEFAULT "); up to 4,\n"                 \
    "                        comma-separated: a primary and its standby, e.g.\n"                   \
    "                        tcp://stage:7700,tcp://backup:7700 (requests go to\n"                 \
    "                        one and move to the next on a standby's refusal, a\n"                 \
    "                        timeout or a dropped connection)\n"                                   \
    "  --server-key FILE     coordinator's public certificate ($TUTTI_SERVER_KEY); with\n"         \
    "                        several coordinators one for all, or one each in the\n"               \
    "                        same order: --server-key stage.pub,backup.pub\n"                      \
    "  --key FILE.key        your certificate, listed in the coordinator's access\n"               \
    "                        file ($TUTTI_KEY)\n"                                                  \
    "  --bundle FILE         a session bundle from tutti invite: endpoint, your key\n"             \
    "                        and the coordinator's in one file (mode 0600;\n"                      \
    "                        $TUTTI_BUNDLE); the three flags above override it\n"
#define TT_CONN_OPTS_HELP_RELAY                                                                    \
    "  --relay EP            pass every request through this site relay (tutti-relay;\n"           \
    "                        $TUTTI_RELAY; default none: straight to --coordinator);\n"            \
    "                        requests are sealed to --server-key, the coordinator's\n"             \
    "  --relay-key FILE      the relay's public certificate ($TUTTI_RELAY_KEY)\n"
#define TT_CONN_OPTS_HELP_TIMEOUT                                                                  \
    "  --timeout-ms N        how long to wait for each reply (default 5000)\n"

#endif
