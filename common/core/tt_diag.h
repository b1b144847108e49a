/* tt_diag: the programs' own diagnostic lines on stderr.
 *
 * One line per event: "2026-11-25T06:32:07.123Z tutti-agent[stage] warn: ...".
 * Never pass secrets here; log public keys in Z85.
 */
#ifndef TT_DIAG_H
#define TT_DIAG_H

void tt_diag_init(const char *program, const char *instance);
void tt_diag_set_quiet(int quiet); /* quiet: warnings and errors only */
void tt_diag_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tt_diag_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tt_diag_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
