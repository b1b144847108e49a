/* test_file: bounded reads and atomic replaces. The read limits and
 * errors; a replace that sets the mode exactly, refuses an existing file
 * with TT_FILE_EXCL and leaves no temporary behind; and a crash simulated
 * in a child process (SIGKILL from the test hook) after each step of the
 * replace, which must leave the old content whole under the final name and
 * never a partial file there; the next replace then succeeds.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tt_error.h"
#include "tt_file.h"

static int setup_dir(void **state)
{
    char *dir = strdup("/tmp/tt-file-XXXXXX");
    if (!dir || !mkdtemp(dir)) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int teardown_dir(void **state)
{
    char *dir = *state;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    int rc = rmdir(dir);
    free(dir);
    tt_file_set_test_hook(NULL);
    return rc;
}

static void path_in(char *out, size_t n, const char *dir, const char *file)
{
    snprintf(out, n, "%s/%s", dir, file);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* The whole file as a string (the test's own reader, not tt_file_read). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_read(void **state)
{
    const char *dir = *state;
    char why[TT_WHY_LEN] = "", path[512];
    path_in(path, sizeof path, dir, "small");
    put(path, "0123456789");

    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(tt_file_read(path, 10, &buf, &len, why), 0);
    assert_int_equal(len, 10);
    assert_string_equal(buf, "0123456789"); /* NUL-terminated */
    free(buf);
    buf = NULL;
    assert_int_equal(tt_file_read(path, 100, &buf, NULL, why), 0);
    assert_string_equal(buf, "0123456789");
    free(buf);
    buf = NULL;
    assert_int_equal(tt_file_read(path, 9, &buf, &len, why), TT_ERR_TOO_BIG);
    assert_null(buf);
    assert_non_null(strstr(why, path));
    assert_int_equal(tt_file_read(path, 0, &buf, &len, why), TT_ERR_TOO_BIG);

    put(path, "");
    assert_int_equal(tt_file_read(path, 0, &buf, &len, why), 0);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    free(buf);
    buf = NULL;

    path_in(path, sizeof path, dir, "missing");
    why[0] = '\0';
    assert_int_equal(tt_file_read(path, 10, &buf, &len, why), TT_ERR_IO);
    assert_non_null(strstr(why, path));
    assert_null(buf);
    /* A directory opens but does not read. */
    assert_int_equal(tt_file_read(dir, 10, &buf, &len, why), TT_ERR_IO);
    assert_null(buf);
}

static void test_write(void **state)
{
    const char *dir = *state;
    char why[TT_WHY_LEN] = "", path[512], tmp[520];
    path_in(path, sizeof path, dir, "out.json");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);

    mode_t old_mask = umask(077); /* the mode is set exactly, not masked */
    assert_int_equal(tt_file_write_atomic(path, "first\n", 6, 0644, 0, why), 0);
    umask(old_mask);
    assert_string_equal(slurp(path), "first\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_false(exists(tmp));

    /* Replace: shorter content leaves nothing of the longer one. */
    assert_int_equal(tt_file_write_atomic(path, "2", 1, 0600, 0, why), 0);
    assert_string_equal(slurp(path), "2");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* Binary data with NULs, and empty files. */
    const char bin[] = {'a', '\0', 'b', '\0'};
    assert_int_equal(tt_file_write_atomic(path, bin, sizeof bin, 0644, 0, why), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 4);
    assert_int_equal(tt_file_write_atomic(path, "", 0, 0644, 0, why), 0);
    assert_string_equal(slurp(path), "");

    /* TT_FILE_EXCL refuses an existing file and leaves it alone. */
    put(path, "keep");
    why[0] = '\0';
    assert_int_equal(tt_file_write_atomic(path, "new", 3, 0600, TT_FILE_EXCL, why), TT_ERR_INVALID);
    assert_non_null(strstr(why, "already exists"));
    assert_string_equal(slurp(path), "keep");
    char fresh[512];
    path_in(fresh, sizeof fresh, dir, "fresh.key");
    assert_int_equal(tt_file_write_atomic(fresh, "new", 3, 0600, TT_FILE_EXCL, why), 0);
    assert_string_equal(slurp(fresh), "new");

    /* A directory that does not exist: an error naming the path, no crash. */
    why[0] = '\0';
    assert_int_equal(tt_file_write_atomic("/nonexistent/tt-file/x", "a", 1, 0644, 0, why),
                     TT_ERR_IO);
    assert_non_null(strstr(why, "/nonexistent/tt-file/x"));
    /* A relative path (the directory fsynced is "."). */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(tt_file_write_atomic("rel.txt", "r", 1, 0644, 0, why), 0);
    assert_int_equal(chdir(cwd), 0);
    path_in(fresh, sizeof fresh, dir, "rel.txt");
    assert_string_equal(slurp(fresh), "r");
}

/* ---- a crash between the steps ---- */

static const char *crash_at;

static void crash_hook(const char *step, const char *tmp_path)
{
    (void)tmp_path;
    if (strcmp(step, crash_at) == 0)
        kill(getpid(), SIGKILL); /* no atexit, no buffers flushed: a crash */
}

static void test_crash_between_steps(void **state)
{
    const char *dir = *state;
    char why[TT_WHY_LEN] = "", path[512], tmp[520];
    path_in(path, sizeof path, dir, "manifest.json");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const char *old = "{\"state\": \"recorded\"}\n";
    /* Big enough that a partial file would be visibly partial. */
    static char new_text[256 * 1024];
    memset(new_text, 'n', sizeof new_text - 1);
    new_text[sizeof new_text - 1] = '\n';

    const char *steps[] = {"created", "written", "synced"};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        assert_int_equal(tt_file_write_atomic(path, old, strlen(old), 0644, 0, why), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            crash_at = steps[i];
            tt_file_set_test_hook(crash_hook);
            tt_file_write_atomic(path, new_text, sizeof new_text, 0644, 0, why);
            _exit(0); /* not reached: the hook killed us */
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        /* The old content, whole, under the final name. */
        assert_string_equal(slurp(path), old);
        /* The new data got no further than the temporary name. */
        assert_true(exists(tmp));
        /* After the crash, the next replace succeeds and cleans up. */
        assert_int_equal(tt_file_write_atomic(path, new_text, sizeof new_text, 0644, 0, why), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, sizeof new_text);
        assert_false(exists(tmp));
    }

    /* A crash right after the rename: the new content is whole. */
    assert_int_equal(tt_file_write_atomic(path, old, strlen(old), 0644, 0, why), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        crash_at = "renamed";
        tt_file_set_test_hook(crash_hook);
        tt_file_write_atomic(path, new_text, sizeof new_text, 0644, 0, why);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, sizeof new_text);
    assert_false(exists(tmp));
}

/* Every step is reached, in order, on a good write. */
static char seen[128];

static void record_hook(const char *step, const char *tmp_path)
{
    assert_non_null(strstr(tmp_path, ".tmp"));
    strncat(seen, step, sizeof seen - strlen(seen) - 2);
    strcat(seen, " ");
}

static void test_steps_in_order(void **state)
{
    const char *dir = *state;
    char why[TT_WHY_LEN], path[512];
    path_in(path, sizeof path, dir, "steps");
    seen[0] = '\0';
    tt_file_set_test_hook(record_hook);
    assert_int_equal(tt_file_write_atomic(path, "x", 1, 0644, 0, why), 0);
    tt_file_set_test_hook(NULL);
    assert_string_equal(seen, "created written synced renamed ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_write, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_crash_between_steps, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_steps_in_order, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
