/* cli_session: a session directory and the people in it, offline.
 *
 * tutti init SESSION makes the directory the coordinator runs from:
 *
 *   SESSION/coordinator.key   the coordinator's CURVE key pair (0600)
 *   SESSION/coordinator.pub
 *   SESSION/coordinator.ini   tutti-coordinator --config: session, key,
 *                             access, data, bind
 *   SESSION/session.ini       [session] name, coordinator (the endpoints
 *                             participants dial): what invite puts in bundles
 *   SESSION/access            the access file (tt_access.h)
 *   SESSION/bundles/          invite's bundles (0700)
 *
 * tutti invite NAME --role ROLE writes NAME's bundle (tt_bundle.h) and adds
 * NAME's access line; tutti access add/remove/list edit and print the
 * access file, each edit checked as the coordinator checks the file and
 * written by atomic replace (tt_file). A running coordinator rereads the
 * access file on SIGHUP. Handlers have the cli_handler_fn shape (o is
 * unused) and return the exit status.
 */
#ifndef CLI_SESSION_H
#define CLI_SESSION_H

#include "cli.h"

int cli_session_init(const tt_conn_opts_t *o, int argc, char **argv);
int cli_session_invite(const tt_conn_opts_t *o, int argc, char **argv);
int cli_session_access(const tt_conn_opts_t *o, int argc, char **argv);

#endif
