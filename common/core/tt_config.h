/* tt_config: config files for every program, and the strict INI reader
 * that session bundles share.
 *
 * A config file is INI (libinih) with one key per long flag of the program
 * that reads it: `data = /var/lib/tutti/coordinator` is `--data
 * /var/lib/tutti/coordinator`. A program takes it with `--config FILE`:
 * tt_config_apply turns the file into flags placed before the command
 * line's, so getopt_long and the program's own checks see them exactly as
 * typed flags, and a flag given on the command line replaces the file's
 * (every value of it, for a flag that may repeat). The file:
 *
 *   # comments start with '#' or ';' at the start of a line
 *   [tutti-agent]          optional: none, or the program's own name
 *   room = stage
 *   jack = true            a flag without a value: true/yes/on/1 or false/no/off/0
 *   click = cond:conductor a repeatable flag may appear more than once
 *
 * An unknown key, a key given twice (unless its flag repeats), another
 * section, an indented (continuation) line, a line over TT_INI_MAX_LINE
 * bytes or a NUL byte is an error naming the file and the line. Relative
 * paths (the flags the program lists as paths) are taken from the file's
 * directory, so a config and the keys beside it move together.
 */
#ifndef TT_CONFIG_H
#define TT_CONFIG_H

#include <getopt.h>
#include <stddef.h>

/* inih as packaged reads lines of up to 199 bytes and splits longer ones;
 * longer lines are refused before it sees them. */
#define TT_INI_MAX_LINE 199
#define TT_CONFIG_MAX_TEXT (64 * 1024)
#define TT_CONFIG_MAX_KEYS 256

/* ---- the strict INI reader ---- */

/* Called for each key = value in order. section is "" before any [section].
 * line is the key's line (1-based). Return 0 to go on, or a TT_ERR_* with
 * why (without the line: the reader prefixes "line N: "). */
typedef int (*tt_ini_fn)(void *arg, const char *section, const char *key, const char *value,
                         int line, char *why);

/* Reads text[0..len) (need not be NUL-terminated) and calls fn per pair.
 * 0, or the first error: fn's code, or TT_ERR_INVALID / TT_ERR_TOO_BIG
 * for the text itself, with "line N: ..." in why. Copies the text once;
 * the copy is wiped before it is freed (bundles hold secrets). */
int tt_ini_each(const char *text, size_t len, tt_ini_fn fn, void *arg, char *why);

/* ---- config files ---- */

typedef struct {
    const char *program;           /* e.g. "tutti-agent": its [section] is allowed */
    const struct option *options;  /* the program's getopt_long table */
    const char *const *repeatable; /* NULL-terminated flag names that may repeat, or NULL */
    const char *const *paths;      /* NULL-terminated flag names whose value is a path, or NULL */
    int stop_at_operand;           /* 1: the command line's flags end at the first operand
                                      (tutti's subcommand); 0: they run to "--" */
} tt_config_spec_t;

typedef struct {
    int argc;
    char **argv; /* owned array, NULL-terminated; strings borrowed or in mine */
    char **mine; /* owned strings made from the file */
    size_t n_mine;
    const char *path; /* the --config FILE given (borrowed from argv), or NULL */
} tt_config_argv_t;

/* Finds --config FILE (or --config=FILE) among the command line's flags
 * and makes out: argv[0], the file's keys as "--key=value" (or "--key")
 * in file order, except those whose flag the command line gives, then
 * the command line without --config. Without --config, out is argv as is.
 * 0, or TT_ERR_INVALID / TT_ERR_IO / TT_ERR_TOO_BIG / TT_ERR_NOMEM with
 * why naming FILE and the line. Free out with tt_config_argv_free either
 * way. The options table must not hold "config". */
int tt_config_apply(const tt_config_spec_t *spec, int argc, char **argv, tt_config_argv_t *out,
                    char *why);

void tt_config_argv_free(tt_config_argv_t *a);

/* The help line every program prints for --config. */
#define TT_CONFIG_HELP                                                                             \
    "  --config FILE         read flags from FILE, an INI file with one key per long\n"            \
    "                        flag (data = DIR, quiet = true); flags given here win\n"

#endif
