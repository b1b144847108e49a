/* tt_zpl: a small, bounded ZPL reader. See tt_zpl.h.
 *
 * Grammar kept: one entry per line, 4 spaces of indent per level, "name",
 * "name = value", value bare or in single/double quotes, '#' comments.
 */
#include "tt_zpl.h"
#include "tt_error.h"

#include <string.h>

static int is_name_char(char c)
{
    return c != '\0' && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || strchr("$-_@.&+/", c) != NULL);
}

int tt_zpl_find(const char *text, size_t len, const char *path, char *out, size_t outlen, char *why)
{
    if (len > TT_ZPL_MAX_TEXT)
        return tt_fail(why, TT_ERR_TOO_BIG, "ZPL text is %zu bytes, limit %d", len,
                       TT_ZPL_MAX_TEXT);
    if (memchr(text, '\0', len))
        return tt_fail(why, TT_ERR_INVALID, "ZPL text contains a NUL byte");
    char stack[TT_ZPL_MAX_DEPTH][TT_ZPL_MAX_NAME];
    int depth = 0;
    int lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        const char *line = text + pos;
        size_t n = end - pos;
        pos = end + 1;
        lineno++;
        if (n > 0 && line[n - 1] == '\r')
            n--;

        size_t indent = 0;
        while (indent < n && line[indent] == ' ')
            indent++;
        if (indent == n || line[indent] == '#')
            continue; /* blank or comment */
        if (indent % 4 != 0)
            return tt_fail(why, TT_ERR_INVALID, "ZPL line %d: indent must be 4 spaces per level",
                           lineno);
        int level = (int)(indent / 4);
        if (level > depth || level >= TT_ZPL_MAX_DEPTH)
            return tt_fail(why, TT_ERR_INVALID, "ZPL line %d: indented too deep", lineno);

        size_t i = indent;
        size_t name_start = i;
        while (i < n && is_name_char(line[i]))
            i++;
        size_t name_len = i - name_start;
        if (name_len == 0 || name_len >= TT_ZPL_MAX_NAME)
            return tt_fail(why, TT_ERR_INVALID, "ZPL line %d: bad or missing name", lineno);
        memcpy(stack[level], line + name_start, name_len);
        stack[level][name_len] = '\0';
        depth = level + 1;

        while (i < n && line[i] == ' ')
            i++;
        const char *value = NULL;
        size_t value_len = 0;
        if (i < n && line[i] == '=') {
            i++;
            while (i < n && line[i] == ' ')
                i++;
            if (i < n && (line[i] == '"' || line[i] == '\'')) {
                char quote = line[i++];
                size_t v = i;
                while (i < n && line[i] != quote)
                    i++;
                if (i == n)
                    return tt_fail(why, TT_ERR_INVALID, "ZPL line %d: unterminated quote", lineno);
                value = line + v;
                value_len = i - v;
                i++;
            } else {
                size_t v = i;
                while (i < n && line[i] != ' ' && line[i] != '#')
                    i++;
                value = line + v;
                value_len = i - v;
            }
            while (i < n && line[i] == ' ')
                i++;
        }
        if (i < n && line[i] != '#')
            return tt_fail(why, TT_ERR_INVALID, "ZPL line %d: unexpected text after value", lineno);

        /* Compare the full path of this entry with the one wanted. */
        const char *p = path;
        int match = 1;
        for (int d = 0; d < depth && match; d++) {
            size_t sl = strlen(stack[d]);
            if (strncmp(p, stack[d], sl) != 0) {
                match = 0;
                break;
            }
            p += sl;
            if (d + 1 < depth) {
                if (*p != '/')
                    match = 0;
                else
                    p++;
            }
        }
        if (match && *p == '\0' && value) {
            if (value_len + 1 > outlen)
                return tt_fail(why, TT_ERR_TOO_BIG, "ZPL line %d: value of %s too long", lineno,
                               path);
            memcpy(out, value, value_len);
            out[value_len] = '\0';
            return 0;
        }
    }
    return tt_fail(why, TT_ERR_NOTFOUND, "no '%s' in ZPL text", path);
}
