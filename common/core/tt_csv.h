/* tt_csv: one CSV cell writer for every export (report, take sheet,
 * history), RFC 4180 and safe to open in a spreadsheet.
 *
 * Quoting: a cell holding '"', ',', CR or LF is quoted, quotes doubled.
 * Formula neutralising: a spreadsheet runs a cell that starts with '=',
 * '+', '-', '@', TAB or CR as a formula ("=HYPERLINK(...)" in a player's
 * name or a take note), so such a cell gets a leading apostrophe and is
 * quoted; a plain number ("-5", "+1.5") is left as it is.
 */
#ifndef TT_CSV_H
#define TT_CSV_H

#include <stddef.h>

/* Where cell bytes go: put(arg, bytes, n). */
typedef void (*tt_csv_put_fn)(void *arg, const char *bytes, size_t n);

/* Writes s[0..n) as one cell (no separator). */
void tt_csv_cell(const char *s, size_t n, tt_csv_put_fn put, void *arg);

/* 1 when a spreadsheet would read s[0..n) as a formula. */
int tt_csv_is_formula(const char *s, size_t n);

#endif
