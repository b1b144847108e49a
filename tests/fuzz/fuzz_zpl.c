/* libFuzzer target: tt_zpl_find over untrusted ZPL text.
 *
 * The input is never NUL-terminated (libFuzzer hands us an exact-size heap
 * copy), so any read past len is an ASan report. Two lookups: the one
 * certificates use, into a buffer exactly as large as a Z85 key plus NUL,
 * and a path chosen by the input itself into a one-byte buffer, which
 * exercises the TOO_BIG path and deep, odd paths.
 */
#include "tt_error.h"
#include "tt_zpl.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_result(int rc, const char *out, size_t outlen)
{
    if (rc == 0) {
        /* A found value is NUL-terminated inside out. */
        if (memchr(out, '\0', outlen) == NULL)
            abort();
    } else if (rc != TT_ERR_NOTFOUND && rc != TT_ERR_TOO_BIG && rc != TT_ERR_INVALID) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[TT_WHY_LEN];
    char out[41];
    int rc = tt_zpl_find((const char *)data, size, "curve/public-key", out, sizeof out, why);
    check_result(rc, out, sizeof out);
    if (rc != 0 && memchr(why, '\0', sizeof why) == NULL)
        abort();

    /* Second path: the first line of the input (at most 200 bytes) is the
     * path to look up, the rest is the text; out holds only the NUL. */
    size_t cut = 0;
    while (cut < size && cut < 200 && data[cut] != '\n')
        cut++;
    char path[201];
    memcpy(path, data, cut);
    path[cut] = '\0';
    const char *text = cut < size ? (const char *)data + cut + 1 : (const char *)data + size;
    size_t tlen = cut < size ? size - cut - 1 : 0;
    char tiny[1];
    rc = tt_zpl_find(text, tlen, path, tiny, sizeof tiny, why);
    check_result(rc, tiny, sizeof tiny);
    if (rc == 0 && tiny[0] != '\0')
        abort();

    /* Third: a deep path into a larger buffer. */
    char big[256];
    rc = tt_zpl_find((const char *)data, size, "a/b/c/d/e/f/g/h", big, sizeof big, why);
    check_result(rc, big, sizeof big);
    return 0;
}
