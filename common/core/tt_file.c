/* tt_file: bounded reads and atomic replaces. See tt_file.h. */
#define _POSIX_C_SOURCE 200809L
#include "tt_file.h"
#include "tt_error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static tt_file_hook_fn test_hook;

void tt_file_set_test_hook(tt_file_hook_fn fn)
{
    test_hook = fn;
}

static void step(const char *name, const char *tmp)
{
    if (test_hook)
        test_hook(name, tmp);
}

int tt_file_read(const char *path, size_t max, char **out, size_t *out_len, char *why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tt_fail(why, TT_ERR_IO, "opening %s: %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    if (!buf) {
        close(fd);
        return tt_fail(why, TT_ERR_NOMEM, "reading %s: out of memory", path);
    }
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, buf + used, max + 1 - used);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return tt_fail(why, TT_ERR_IO, "reading %s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > max) {
            free(buf);
            close(fd);
            return tt_fail(why, TT_ERR_TOO_BIG, "%s is larger than %zu bytes", path, max);
        }
    }
    close(fd);
    buf[used] = '\0';
    *out = buf;
    if (out_len)
        *out_len = used;
    return 0;
}

/* fsyncs the directory holding path, so a rename in it is durable. */
int tt_file_sync_dir_of(const char *path, char *why)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return tt_fail(why, TT_ERR_INVALID, "path too long: %s", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return tt_fail(why, TT_ERR_IO, "opening %s to sync it: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    return rc == 0 ? 0 : tt_fail(why, TT_ERR_IO, "syncing %s: %s", dir, strerror(e));
}

int tt_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         unsigned flags, char *why)
{
    if ((flags & TT_FILE_EXCL) && access(path, F_OK) == 0)
        return tt_fail(why, TT_ERR_INVALID, "%s already exists; not overwriting it", path);
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return tt_fail(why, TT_ERR_INVALID, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return tt_fail(why, TT_ERR_IO, "creating %s: %s", tmp, strerror(errno));
    int rc = 0, e = 0;
    const char *doing = "setting the mode of";
    if (fchmod(fd, mode) != 0) /* the umask took bits O_CREAT would have set */
        rc = -1, e = errno;
    step("created", tmp);
    const char *p = data;
    size_t off = 0;
    if (rc == 0)
        doing = "writing";
    while (rc == 0 && off < len) {
        ssize_t n = write(fd, p + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1, e = n < 0 ? errno : EIO;
        else
            off += (size_t)n;
    }
    if (rc == 0)
        step("written", tmp);
    if (rc == 0 && fsync(fd) != 0)
        rc = -1, e = errno, doing = "syncing";
    if (close(fd) != 0 && rc == 0)
        rc = -1, e = errno, doing = "closing";
    if (rc != 0) {
        unlink(tmp);
        return tt_fail(why, TT_ERR_IO, "%s %s: %s", doing, tmp, strerror(e));
    }
    step("synced", tmp);
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return tt_fail(why, TT_ERR_IO, "renaming %s to %s: %s", tmp, path, strerror(e));
    }
    step("renamed", tmp);
    return tt_file_sync_dir_of(path, why);
}
