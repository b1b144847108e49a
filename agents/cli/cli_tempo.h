/* cli_tempo: the tempo map as film music reads it. `tempo show CUE` (the
 * map as text: every change with its bar and timecode), `tempo check FILE`
 * (the same for a file, offline), `tempo export CUE --smf FILE` (a MIDI
 * file for DAWs and streamer tools) and `locate CUE POS` (bar <-> timecode).
 * Every command that takes a CUE also takes `--file MAP` instead, to work
 * offline on a map file (text or MIDI). Read-only: `tempo load` is a write
 * and lives in cli_write.
 */
#ifndef CLI_TEMPO_H
#define CLI_TEMPO_H

#include "cli.h"
#include "tt_tempo.h"

/* tempo load|show|check|export: load goes to cli_write_tempo. */
int cli_tempo_main(const tt_conn_opts_t *o, int argc, char **argv);
/* locate (CUE | --file MAP) POS [--json] */
int cli_tempo_locate(const tt_conn_opts_t *o, int argc, char **argv);

/* Reads a map file: a Standard MIDI File when it starts with MThd, else
 * the text format. A file named *.mid, *.midi or *.smf, or one with a NUL
 * byte, that does not start with MThd is "not a MIDI file". Returns the map
 * (the caller frees it) or NULL with "PATH: reason" in why. */
tt_tempo_map_t *cli_tempo_read_file(const char *path, char *why);

#endif
