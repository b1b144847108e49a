/* cli_media: `tutti media fetch`, a take's verified files from the coordinator;
 * `tutti media put`, a prelay or guide track to it; `tutti media guide`, a
 * take's capture made the cue's guide track there (nothing is sent but
 * the offer: the coordinator links its own verified copy).
 *
 * Kept apart from tutti_cli.c because it speaks to a second socket (the
 * coordinator's upload service, whose port the hello reply names) and
 * folds the log itself (tt_session) for the media records: their signed hashes are what
 * each downloaded file is checked against, so a file is renamed into place
 * only when its bytes are the bytes the room recorded.
 */
#ifndef CLI_MEDIA_H
#define CLI_MEDIA_H

#include "tt_opts.h"

/* The CLI's connection options, as given (NULL, 0: environment or default). */
typedef tt_conn_opts_t cli_media_conn_t;

/* `tutti media ...` with argv[0] = "media". Prints one line per file to
 * stdout ("NAME SIZE verified"), errors to stderr. Returns the process exit
 * status: 0 success, 1 failure (a hash mismatch included), 2 bad usage,
 * 3 refused (unknown key, role not allowed). */
int cli_media_main(int argc, char **argv, const cli_media_conn_t *conn);

#endif
