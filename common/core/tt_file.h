/* tt_file: the two ways tutti touches small files. Config, keys and
 * passwords are read whole with a size bound; keys, manifests and endpoint
 * files are replaced atomically, so a crash at any point leaves either the
 * old file or the new one under the final name, never a part of either.
 *
 * Atomic replace: write PATH.tmp in the same directory, fsync it, rename
 * it over PATH, fsync the directory. Every step's return is checked and a
 * failure removes PATH.tmp. A crash can leave PATH.tmp behind (PATH is
 * untouched); the next write truncates it. PATH.tmp is therefore reserved:
 * two processes must not replace the same PATH at once.
 */
#ifndef TT_FILE_H
#define TT_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Reads a whole file of at most max bytes into a malloc'd, NUL-terminated
 * buffer (*out, the caller frees; *out_len when not NULL). TT_ERR_IO when
 * it cannot be opened or read, TT_ERR_TOO_BIG past max, TT_ERR_NOMEM; the
 * reason names the path. *out is untouched on failure. */
int tt_file_read(const char *path, size_t max, char **out, size_t *out_len, char *why);

/* fsyncs the directory that holds path, so a rename or create in it is
 * durable ("." for a bare name). 0, or TT_ERR_IO with why. */
int tt_file_sync_dir_of(const char *path, char *why);

/* Flags for tt_file_write_atomic. */
/* Refuse (TT_ERR_INVALID) when PATH exists. Checked before the write, not
 * atomically with the rename: enough against overwriting a key by
 * mistake, not a lock between processes. */
#define TT_FILE_EXCL 1u

/* Replaces path with data[0..len) and permissions mode (set exactly, not
 * masked by the umask), atomically and durably as above. 0 or a negative
 * TT_ERR_* with the step and path in why. */
int tt_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         unsigned flags, char *why);

/* For tests only: fn (NULL to clear) is called at each step of
 * tt_file_write_atomic with its name ("created", "written", "synced",
 * "renamed") and the temporary path, so a test can simulate a crash
 * between steps. Not thread-safe; never set in programs. */
typedef void (*tt_file_hook_fn)(const char *step, const char *tmp_path);
void tt_file_set_test_hook(tt_file_hook_fn fn);

#endif
