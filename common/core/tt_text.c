/* tt_text: names, UTF-8 and hex. See tt_text.h. */
#include "tt_text.h"
#include "tt_error.h"

#include <string.h>

int tt_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

int tt_name_ok(const char *s, size_t max, unsigned flags)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    if ((flags & TT_NAME_FILE) && s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!tt_name_char((unsigned char)s[i]))
            return 0;
    return 1;
}

int tt_utf8_valid(const char *text, size_t n)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || (size_t)(end - p) < len)
            return 0;
        unsigned cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += len;
    }
    return 1;
}

void tt_utf8_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--; /* src[n] starts a character: cut before it */
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void tt_utf8_copy_any(char *dst, size_t cap, const char *src)
{
    tt_utf8_copy(dst, cap, src);
    if (tt_utf8_valid(dst, strlen(dst)))
        return;
    for (char *p = dst; *p; p++)
        if ((unsigned char)*p > 0x7F)
            *p = '?';
}

static const char hexdigits[] = "0123456789abcdef";

void tt_hex_encode(const uint8_t *data, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[data[i] >> 4];
        out[2 * i + 1] = hexdigits[data[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int tt_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t n)
{
    if (hex_len != 2 * n)
        return TT_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return TT_ERR_INVALID;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
