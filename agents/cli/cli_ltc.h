/* cli_ltc: `tutti ltc read`, the LTC reader Debian lacks.
 *
 * Kept apart from tutti_cli.c because it needs no coordinator, keys or
 * connection: it reads a recording and prints where each timecode frame
 * starts, so a take recorded anywhere with LTC on a track can be placed on
 * the session timeline.
 */
#ifndef CLI_LTC_H
#define CLI_LTC_H

/* `tutti ltc ...` with argv[0] = "ltc". Prints to stdout, errors to stderr.
 * Returns the process exit status: 0 success, 1 failure (file unreadable,
 * channel out of range, no LTC, output error), 2 bad usage. */
int cli_ltc_main(int argc, char **argv);

#endif
