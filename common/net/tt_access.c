/* tt_access: parse and query the access file. See tt_access.h. */
#include "tt_access.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_text.h"

#include <stdlib.h>
#include <string.h>

const char *tt_role_name(tt_role_t r)
{
    switch (r) {
    case TT_ROLE_OPERATOR: return "operator";
    case TT_ROLE_ROOM: return "room";
    case TT_ROLE_CONTRACTOR: return "contractor";
    case TT_ROLE_OBSERVER: return "observer";
    case TT_ROLE_COORDINATOR: return "coordinator";
    case TT_ROLE_RELAY: return "relay";
    default: return "none";
    }
}

tt_role_t tt_role_from_name(const char *s)
{
    for (tt_role_t r = TT_ROLE_OPERATOR; r <= TT_ROLE_RELAY; r++)
        if (strcmp(s, tt_role_name(r)) == 0)
            return r;
    return TT_ROLE_NONE;
}

/* Splits the next whitespace-separated field off [*p, end) into out. */
static int next_field(const char **p, const char *end, char *out, size_t cap)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
    const char *s = *p;
    while (*p < end && **p != ' ' && **p != '\t')
        (*p)++;
    size_t n = (size_t)(*p - s);
    if (n == 0 || n >= cap)
        return n == 0 ? 0 : -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 1;
}

tt_access_t *tt_access_parse(const char *text, size_t len, char *why)
{
    if (len > TT_ACCESS_MAX_TEXT) {
        tt_fail(why, TT_ERR_TOO_BIG, "access file is %zu bytes, limit %d", len, TT_ACCESS_MAX_TEXT);
        return NULL;
    }
    tt_access_t *a = calloc(1, sizeof *a);
    if (!a) {
        tt_fail(why, TT_ERR_NOMEM, "allocating the access table");
        return NULL;
    }
    size_t cap = 0;
    int lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        lineno++;
        if (memchr(p, '\0', (size_t)(eol - p))) {
            tt_fail(why, TT_ERR_INVALID, "access file line %d: contains a NUL byte", lineno);
            goto fail;
        }
        const char *line_end = eol;
        /* A comment starts with '#' at the start of a field: Z85 keys may contain '#'. */
        for (const char *h = p; h < line_end; h++)
            if (*h == '#' && (h == p || h[-1] == ' ' || h[-1] == '\t')) {
                line_end = h;
                break;
            }
        while (line_end > p &&
               (line_end[-1] == '\r' || line_end[-1] == ' ' || line_end[-1] == '\t'))
            line_end--;

        const char *q = p;
        char role[32], name[TT_ACCESS_MAX_NAME + 1], key[TT_Z85_KEY_LEN + 2], extra[8];
        int f1 = next_field(&q, line_end, role, sizeof role);
        if (f1 == 0) {
            p = eol < end ? eol + 1 : end;
            continue; /* blank or comment-only line */
        }
        int f2 = next_field(&q, line_end, name, sizeof name);
        int f3 = next_field(&q, line_end, key, sizeof key);
        int f4 = next_field(&q, line_end, extra, sizeof extra);
        if (f1 < 0 || f2 != 1 || f3 != 1 || f4 != 0) {
            tt_fail(why, TT_ERR_INVALID,
                    "access file line %d: expected 'ROLE NAME PUBLIC-KEY' (name at most %d "
                    "characters)",
                    lineno, TT_ACCESS_MAX_NAME);
            goto fail;
        }
        tt_role_t r = tt_role_from_name(role);
        if (r == TT_ROLE_NONE) {
            tt_fail(why, TT_ERR_INVALID,
                    "access file line %d: unknown role '%s' (operator, room, contractor, "
                    "observer)",
                    lineno, role);
            goto fail;
        }
        if (!tt_name_ok(name, TT_ACCESS_MAX_NAME, 0)) {
            tt_fail(why, TT_ERR_INVALID,
                    "access file line %d: name '%s' may hold letters, digits, '-', '_', '.'",
                    lineno, name);
            goto fail;
        }
        if (!tt_z85_key_valid(key)) {
            tt_fail(why, TT_ERR_INVALID,
                    "access file line %d: '%s' is not a 40-character Z85 public key", lineno, key);
            goto fail;
        }
        for (size_t i = 0; i < a->count; i++) {
            if (strcmp(a->entries[i].key_z85, key) == 0) {
                tt_fail(why, TT_ERR_INVALID, "access file line %d: key already listed for %s",
                        lineno, a->entries[i].name);
                goto fail;
            }
            if (strcmp(a->entries[i].name, name) == 0) {
                tt_fail(why, TT_ERR_INVALID, "access file line %d: name '%s' used twice", lineno,
                        name);
                goto fail;
            }
        }
        if (a->count == TT_ACCESS_MAX_ENTRIES) {
            tt_fail(why, TT_ERR_TOO_BIG, "access file line %d: more than %d entries", lineno,
                    TT_ACCESS_MAX_ENTRIES);
            goto fail;
        }
        if (a->count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            tt_access_entry_t *n = realloc(a->entries, ncap * sizeof *n);
            if (!n) {
                tt_fail(why, TT_ERR_NOMEM, "growing the access table");
                goto fail;
            }
            a->entries = n;
            cap = ncap;
        }
        tt_access_entry_t *e = &a->entries[a->count++];
        e->role = r;
        strcpy(e->name, name);
        strcpy(e->key_z85, key);
        p = eol < end ? eol + 1 : end;
    }
    return a;
fail:
    tt_access_destroy(&a);
    return NULL;
}

tt_access_t *tt_access_load(const char *path, char *why)
{
    char *text = NULL;
    size_t len = 0;
    if (tt_file_read(path, TT_ACCESS_MAX_TEXT, &text, &len, why) != 0)
        return NULL;
    char pwhy[TT_WHY_LEN];
    tt_access_t *a = tt_access_parse(text, len, pwhy);
    free(text);
    if (!a)
        tt_fail(why, TT_ERR_INVALID, "%s: %s", path, pwhy);
    return a;
}

void tt_access_destroy(tt_access_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->entries);
    free(*self_p);
    *self_p = NULL;
}

tt_access_t *tt_access_from_entries(const tt_access_entry_t *entries, size_t n, char *why)
{
    if (n > TT_ACCESS_MAX_ENTRIES) {
        tt_fail(why, TT_ERR_TOO_BIG, "%zu access entries, limit %d", n, TT_ACCESS_MAX_ENTRIES);
        return NULL;
    }
    tt_access_t *a = calloc(1, sizeof *a);
    if (a && n && !(a->entries = malloc(n * sizeof *entries)))
        tt_access_destroy(&a);
    if (!a) {
        tt_fail(why, TT_ERR_NOMEM, "copying the access table");
        return NULL;
    }
    if (n)
        memcpy(a->entries, entries, n * sizeof *entries);
    a->count = n;
    return a;
}

tt_access_t *tt_access_from_bytes(const void *bytes, size_t len, char *why)
{
    if (len % sizeof(tt_access_entry_t) != 0) {
        tt_fail(why, TT_ERR_PROTOCOL, "a torn table (%zu bytes)", len);
        return NULL;
    }
    return tt_access_from_entries(bytes, len / sizeof(tt_access_entry_t), why);
}

const tt_access_entry_t *tt_access_find_key(const tt_access_t *a, const char *key_z85)
{
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->entries[i].key_z85, key_z85) == 0)
            return &a->entries[i];
    return NULL;
}

const tt_access_entry_t *tt_access_find_name(const tt_access_t *a, const char *name)
{
    for (size_t i = 0; name && i < a->count; i++)
        if (strcmp(a->entries[i].name, name) == 0)
            return &a->entries[i];
    return NULL;
}

const tt_access_entry_t *tt_access_find_room(const tt_access_t *a, const char *name)
{
    const tt_access_entry_t *e = tt_access_find_name(a, name);
    return e && e->role == TT_ROLE_ROOM ? e : NULL;
}

size_t tt_access_count_role(const tt_access_t *a, tt_role_t r)
{
    size_t n = 0;
    for (size_t i = 0; i < a->count; i++)
        n += a->entries[i].role == r;
    return n;
}
