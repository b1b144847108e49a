/* cli_session: see cli_session.h. */
#define _POSIX_C_SOURCE 200809L
#include "cli_session.h"
#include "tt_access.h"
#include "tt_bundle.h"
#include "tt_config.h"
#include "tt_error.h"
#include "tt_file.h"
#include "tt_keys.h"
#include "tt_opts.h"
#include "tt_text.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_LEN 4096

static int path_join(char *out, const char *dir, const char *name)
{
    return snprintf(out, PATH_LEN, "%s/%s", dir, name) < PATH_LEN ? 0 : -1;
}

/* The session directory of invite and access: --session, $TUTTI_SESSION, ".". */
static const char *session_dir(const char *given)
{
    return tt_opts_or_env(given, "TUTTI_SESSION", ".");
}

/* The address to bind for the first endpoint a participant dials: the same
 * on loopback, every interface otherwise (the name dialled may be a NAT's). */
static int bind_for(const char *endpoints, char *out, size_t cap)
{
    size_t n = strcspn(endpoints, ",");
    char first[TT_BUNDLE_ENDPOINTS_LEN];
    snprintf(first, sizeof first, "%.*s", (int)n, endpoints);
    const char *colon = strrchr(first, ':');
    const char *host = strstr(first, "://");
    if (strncmp(first, "tcp://", 6) != 0 || !colon || colon < host + 3)
        return snprintf(out, cap, "%s", first) < (int)cap ? 0 : -1;
    host += 3;
    int loopback = !strncmp(host, "127.", 4) || !strncmp(host, "localhost:", 10);
    if (loopback)
        return snprintf(out, cap, "%s", first) < (int)cap ? 0 : -1;
    return snprintf(out, cap, "tcp://0.0.0.0%s", colon) < (int)cap ? 0 : -1;
}

/* ---- tutti init ---- */

int cli_session_init(const tt_conn_opts_t *o, int argc, char **argv)
{
    (void)o;
    const char *name = NULL, *dir = NULL, *eps = TT_OPTS_COORDINATOR_DEFAULT, *data = "data";
    const char *standby = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--coordinator") && i + 1 < argc)
            eps = argv[++i];
        else if (!strcmp(argv[i], "--standby") && i + 1 < argc)
            standby = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--force"))
            force = 1;
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            fprintf(stderr, "tutti init: unexpected '%s' (see tutti init --help)\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!name) {
        fprintf(stderr, "usage: tutti init SESSION [--dir DIR] [--coordinator EP[,EP]] "
                        "[--standby EP] [--data DIR] [--force]\n");
        return EXIT_USAGE;
    }
    if (!tt_name_ok(name, TT_ACCESS_MAX_NAME, TT_NAME_FILE)) {
        fprintf(stderr,
                "tutti init: session name '%s': 1..%d of letters, digits, '-', '_', "
                "'.' (not first)\n",
                name, TT_ACCESS_MAX_NAME);
        return EXIT_USAGE;
    }
    if (!tt_bundle_endpoints_ok(eps)) {
        fprintf(stderr,
                "tutti init: --coordinator '%s': 1..%d endpoints like tcp://HOST:PORT, "
                "comma-separated, the address participants dial\n",
                eps, TT_BUNDLE_MAX_ENDPOINTS);
        return EXIT_USAGE;
    }
    if (standby && (!tt_bundle_endpoints_ok(standby) || strchr(standby, ',') || strchr(eps, ',') ||
                    strlen(eps) + strlen(standby) + 1 >= TT_BUNDLE_ENDPOINTS_LEN)) {
        fprintf(stderr,
                "tutti init: --standby '%s': one endpoint like tcp://HOST:PORT, the address the "
                "primary and participants dial, beside one --coordinator endpoint\n",
                standby);
        return EXIT_USAGE;
    }
    if (!dir)
        dir = name;
    if (strchr(data, '\n') || !*data) {
        fprintf(stderr, "tutti init: --data wants a directory\n");
        return EXIT_USAGE;
    }
    char key[PATH_LEN], pub[PATH_LEN], ini[PATH_LEN], sess[PATH_LEN], acc[PATH_LEN],
        bundles[PATH_LEN], skey[PATH_LEN], spub[PATH_LEN], sini[PATH_LEN];
    if (path_join(key, dir, "coordinator.key") || path_join(pub, dir, "coordinator.pub") ||
        path_join(ini, dir, "coordinator.ini") || path_join(sess, dir, "session.ini") ||
        path_join(acc, dir, "access") || path_join(bundles, dir, "bundles") ||
        path_join(skey, dir, "standby.key") || path_join(spub, dir, "standby.pub") ||
        path_join(sini, dir, "standby.ini")) {
        fprintf(stderr, "tutti init: --dir too long\n");
        return EXIT_USAGE;
    }
    if (access(key, F_OK) == 0 && !force) {
        fprintf(stderr,
                "tutti init: %s already holds a session (%s); --force starts it over with a "
                "new coordinator key, and every bundle made for it stops working\n",
                dir, key);
        return 1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "tutti init: creating %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (force) {
        const char *old_files[] = {key, pub, skey, spub, sini};
        for (size_t i = 0; i < sizeof old_files / sizeof *old_files; i++)
            if (unlink(old_files[i]) != 0 && errno != ENOENT) {
                fprintf(stderr, "tutti init: removing the old %s: %s\n", old_files[i],
                        strerror(errno));
                return 1;
            }
    }
    char why[TT_WHY_LEN];
    tt_keypair_t *kp = tt_keypair_generate(why), *skp = NULL;
    if (!kp || tt_keypair_save(kp, dir, "coordinator", why) != 0 ||
        (standby &&
         (!(skp = tt_keypair_generate(why)) || tt_keypair_save(skp, dir, "standby", why) != 0))) {
        fprintf(stderr, "tutti init: %s\n", why);
        tt_keypair_destroy(&kp);
        tt_keypair_destroy(&skp);
        return 1;
    }
    char bind[TT_BUNDLE_ENDPOINTS_LEN], sbind[TT_BUNDLE_ENDPOINTS_LEN] = "";
    if (bind_for(eps, bind, sizeof bind) != 0 ||
        (standby && bind_for(standby, sbind, sizeof sbind) != 0)) {
        tt_keypair_destroy(&kp);
        tt_keypair_destroy(&skp);
        fprintf(stderr, "tutti init: --coordinator or --standby too long\n");
        return EXIT_USAGE;
    }
    /* With a standby, participants dial the primary first, then it. */
    char dial[TT_BUNDLE_ENDPOINTS_LEN];
    snprintf(dial, sizeof dial, "%s%s%s", eps, standby ? "," : "", standby ? standby : "");
    char text[8192];
    int n = snprintf(text, sizeof text,
                     "# tutti-coordinator configuration for session %s (tutti init).\n"
                     "# One key per long flag of tutti-coordinator (see its --help or man\n"
                     "# page); a flag on the command line wins over its key here. Relative\n"
                     "# paths are taken from this file's directory.\n"
                     "# Start: tutti-coordinator --config %s\n"
                     "session = %s\n"
                     "key = coordinator.key\n"
                     "access = access\n"
                     "data = %s\n"
                     "bind = %s\n"
                     "# pub-bind = tcp://0.0.0.0:7701     (default: a free port)\n"
                     "# clock-bind = tcp://0.0.0.0:7702   (default: a free port)\n"
                     "# upload-bind = tcp://0.0.0.0:7703  (default: a free port)\n"
                     "# quiet = true\n",
                     name, ini, name, data, bind);
    if (standby) /* the primary's standby: where it rejoins from if that took over */
        n += snprintf(text + n, sizeof text - (size_t)n, "peer = %s\n", standby);
    int rc = tt_file_write_atomic(ini, text, (size_t)n, 0644, 0, why);
    if (rc == 0 && standby) {
        n = snprintf(text, sizeof text,
                     "# tutti-coordinator configuration of session %s's standby (tutti init\n"
                     "# --standby): a verified replica of the primary at %s that takes\n"
                     "# over when the primary is lost and a client asks. Copy this\n"
                     "# directory's standby.key, standby.ini and access to the standby's\n"
                     "# machine. Start: tutti-coordinator --config %s\n"
                     "session = %s\n"
                     "key = standby.key\n"
                     "access = access\n"
                     "data = %s-standby\n"
                     "bind = %s\n"
                     "standby-of = %s\n"
                     "advertise = %s\n"
                     "# pub-bind, clock-bind, upload-bind, quiet: as in coordinator.ini\n",
                     name, eps, sini, name, data, sbind, eps, standby);
        rc = tt_file_write_atomic(sini, text, (size_t)n, 0644, 0, why);
    }
    if (rc == 0) {
        n = snprintf(text, sizeof text,
                     "# tutti session %s (tutti init): what tutti invite puts in each\n"
                     "# bundle. coordinator: the endpoint(s) participants dial, comma-separated.\n"
                     "[session]\n"
                     "name = %s\n"
                     "coordinator = %s\n",
                     name, name, dial);
        rc = tt_file_write_atomic(sess, text, (size_t)n, 0644, 0, why);
    }
    if (rc == 0) {
        n = snprintf(text, sizeof text,
                     "# tutti access file of session %s: ROLE NAME PUBLIC-KEY per line.\n"
                     "# Roles: operator, room, contractor, observer. Edit with tutti invite\n"
                     "# and tutti access; a running coordinator rereads it on SIGHUP.\n",
                     name);
        if (standby) /* the pair: each finds its peer as the coordinator entry not its own */
            n += snprintf(text + n, sizeof text - (size_t)n, "%-10s %-16s %s\n%-10s %-16s %s\n",
                          "coordinator", "primary", kp->public_z85, "coordinator", "standby",
                          skp->public_z85);
        rc = tt_file_write_atomic(acc, text, (size_t)n, 0644, 0, why);
    }
    if (rc == 0 && mkdir(bundles, 0700) != 0 && errno != EEXIST)
        rc = tt_fail(why, TT_ERR_IO, "creating %s: %s", bundles, strerror(errno));
    if (rc != 0) {
        fprintf(stderr, "tutti init: %s\n", why);
        tt_keypair_destroy(&kp);
        tt_keypair_destroy(&skp);
        return 1;
    }
    printf("session %s in %s:\n"
           "  %s  coordinator key (secret, mode 0600), public key %s\n"
           "  %s  its config (binds %s)\n",
           name, dir, key, kp->public_z85, ini, bind);
    if (standby)
        printf("  %s  the standby's key (secret, mode 0600), public key %s\n"
               "  %s  its config (binds %s, standby of %s)\n",
               skey, skp->public_z85, sini, sbind, eps);
    printf("  %s  participants dial %s\n"
           "  %s  access file (%s)\n"
           "  %s/  bundles\n"
           "Next:\n"
           "  tutti invite stage --role room --session %s\n"
           "  tutti invite conductor --role operator --session %s\n"
           "  tutti-coordinator --config %s\n",
           sess, dial, acc, standby ? "the two coordinators" : "empty", bundles, dir, dir, ini);
    if (standby)
        printf("  tutti-coordinator --config %s   (on the standby's machine)\n", sini);
    tt_keypair_destroy(&kp);
    tt_keypair_destroy(&skp);
    return 0;
}

/* ---- the access file ---- */

/* Replaces path with text after checking it as the coordinator will;
 * keeps the file's mode (0644 for a new one). */
static int access_write(const char *path, const char *text, size_t len, char *why)
{
    char pwhy[TT_WHY_LEN];
    tt_access_t *a = tt_access_parse(text, len, pwhy);
    if (!a)
        return tt_fail(why, TT_ERR_INVALID, "the edited access file would not load: %s", pwhy);
    tt_access_destroy(&a);
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? st.st_mode & 0777 : 0644;
    return tt_file_write_atomic(path, text, len, mode, 0, why);
}

/* The access file's text and table. 0, or 1 after saying why. */
static int access_read(const char *path, char **text, size_t *len, tt_access_t **a)
{
    char why[TT_WHY_LEN];
    if (tt_file_read(path, TT_ACCESS_MAX_TEXT, text, len, why) != 0) {
        fprintf(stderr, "tutti: %s (is this a session directory? tutti init, or --session DIR)\n",
                why);
        return 1;
    }
    if (!(*a = tt_access_parse(*text, *len, why))) {
        fprintf(stderr, "tutti: %s: %s\n", path, why);
        free(*text);
        *text = NULL;
        return 1;
    }
    return 0;
}

/* Appends "ROLE NAME KEY" to the access file, refusing a name or key it
 * has. 0, or the exit status after saying why. */
static int access_append(const char *path, tt_role_t role, const char *name, const char *key)
{
    char *text = NULL;
    size_t len = 0;
    tt_access_t *a = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT) { /* the first line of a new file */
        char why[TT_WHY_LEN];
        if (!(text = strdup("")) || !(a = tt_access_parse(text, 0, why))) {
            free(text);
            fprintf(stderr, "tutti: out of memory\n");
            return 1;
        }
    } else if (access_read(path, &text, &len, &a) != 0) {
        return 1;
    }
    const tt_access_entry_t *e = tt_access_find_name(a, name);
    const tt_access_entry_t *k = tt_access_find_key(a, key);
    int rc = 0;
    if (e) {
        fprintf(stderr, "tutti: %s is already in %s (as %s); tutti access remove %s first\n", name,
                path, tt_role_name(e->role), name);
        rc = 1;
    } else if (k) {
        fprintf(stderr, "tutti: that key is already in %s (as %s's)\n", path, k->name);
        rc = 1;
    }
    char *out = rc ? NULL : malloc(len + 200);
    if (!rc && !out) {
        fprintf(stderr, "tutti: out of memory\n");
        rc = 1;
    }
    if (!rc) {
        memcpy(out, text, len);
        size_t n = len;
        if (n && out[n - 1] != '\n')
            out[n++] = '\n';
        n += (size_t)snprintf(out + n, 200, "%-10s %-16s %s\n", tt_role_name(role), name, key);
        char why[TT_WHY_LEN];
        if (access_write(path, out, n, why) != 0) {
            fprintf(stderr, "tutti: %s\n", why);
            rc = 1;
        }
    }
    free(out);
    free(text);
    tt_access_destroy(&a);
    return rc;
}

static void say_sighup(const char *path)
{
    printf("%s updated. A running coordinator reads it again on SIGHUP:\n"
           "  kill -HUP PID   (or: systemctl reload tutti-coordinator)\n",
           path);
}

static int access_list(const char *path, int json)
{
    char *text = NULL;
    size_t len = 0;
    tt_access_t *a = NULL;
    if (access_read(path, &text, &len, &a) != 0)
        return 1;
    for (size_t i = 0; i < a->count; i++) {
        const tt_access_entry_t *e = &a->entries[i];
        if (json) {
            json_t *o = json_pack("{s:s, s:s, s:s}", "role", tt_role_name(e->role), "name", e->name,
                                  "public_key", e->key_z85);
            if (o)
                cli_print_json_line(o);
            json_decref(o);
        } else {
            printf("%-10s %-16s %s\n", tt_role_name(e->role), e->name, e->key_z85);
        }
    }
    if (!json)
        fprintf(stderr, "%zu entries in %s\n", a->count, path);
    free(text);
    tt_access_destroy(&a);
    return 0;
}

/* Drops the line that names name: each line read alone with the same
 * parser, so a comment or another entry that mentions name stays. */
static int access_remove(const char *path, const char *name)
{
    char *text = NULL;
    size_t len = 0;
    tt_access_t *a = NULL;
    if (access_read(path, &text, &len, &a) != 0)
        return 1;
    int rc = 1;
    const tt_access_entry_t *e = tt_access_find_name(a, name);
    char *out = e ? malloc(len + 1) : NULL;
    if (!e)
        fprintf(stderr, "tutti: no %s in %s\n", name, path);
    else if (!out)
        fprintf(stderr, "tutti: out of memory\n");
    else {
        size_t n = 0;
        for (size_t i = 0; i < len;) {
            const char *eol = memchr(text + i, '\n', len - i);
            size_t l = eol ? (size_t)(eol - (text + i)) + 1 : len - i;
            char why[TT_WHY_LEN];
            tt_access_t *one = tt_access_parse(text + i, l, why);
            int drop = one && one->count == 1 && !strcmp(one->entries[0].name, name);
            tt_access_destroy(&one);
            if (!drop) {
                memcpy(out + n, text + i, l);
                n += l;
            }
            i += l;
        }
        char why[TT_WHY_LEN];
        if (access_write(path, out, n, why) != 0)
            fprintf(stderr, "tutti: %s\n", why);
        else {
            printf("removed %s %s %s\n", tt_role_name(e->role), e->name, e->key_z85);
            say_sighup(path);
            rc = 0;
        }
    }
    free(out);
    free(text);
    tt_access_destroy(&a);
    return rc;
}

int cli_session_access(const tt_conn_opts_t *o, int argc, char **argv)
{
    (void)o;
    const char *dir = NULL, *file = NULL, *pub = NULL, *pos[4] = {0};
    int n_pos = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--session") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--access") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--pub") && i + 1 < argc)
            pub = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (argv[i][0] != '-' && n_pos < 4)
            pos[n_pos++] = argv[i];
        else {
            fprintf(stderr, "tutti access: unexpected '%s' (see tutti access --help)\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    char path[PATH_LEN];
    if (file)
        snprintf(path, sizeof path, "%s", file);
    else if (path_join(path, session_dir(dir), "access") != 0) {
        fprintf(stderr, "tutti access: --session too long\n");
        return EXIT_USAGE;
    }
    const char *verb = n_pos ? pos[0] : "";
    if (!strcmp(verb, "list") && n_pos == 1 && !pub)
        return access_list(path, json);
    if (!strcmp(verb, "remove") && n_pos == 2 && !pub && !json)
        return access_remove(path, pos[1]);
    if (!strcmp(verb, "add") && !json && ((n_pos == 4 && !pub) || (n_pos == 3 && pub))) {
        tt_role_t role = tt_role_from_name(pos[1]);
        if (role == TT_ROLE_NONE) {
            fprintf(stderr, "tutti access: role '%s': operator, room, contractor or observer\n",
                    pos[1]);
            return EXIT_USAGE;
        }
        if (!tt_name_ok(pos[2], TT_ACCESS_MAX_NAME, 0)) {
            fprintf(stderr, "tutti access: name '%s': 1..%d of letters, digits, '-', '_', '.'\n",
                    pos[2], TT_ACCESS_MAX_NAME);
            return EXIT_USAGE;
        }
        char key[TT_Z85_KEY_LEN + 1], why[TT_WHY_LEN];
        if (pub && tt_pubkey_load(pub, key, why) != 0) {
            fprintf(stderr, "tutti access: --pub: %s\n", why);
            return 1;
        }
        if (!pub) {
            if (!tt_z85_key_valid(pos[3])) {
                fprintf(stderr, "tutti access: '%s' is not a 40-character Z85 public key\n",
                        pos[3]);
                return EXIT_USAGE;
            }
            snprintf(key, sizeof key, "%s", pos[3]);
        }
        int rc = access_append(path, role, pos[2], key);
        if (rc == 0) {
            printf("added %s %s %s\n", tt_role_name(role), pos[2], key);
            say_sighup(path);
        }
        return rc;
    }
    fprintf(stderr, "usage: tutti access add ROLE NAME (KEY | --pub FILE.pub)\n"
                    "       tutti access remove NAME\n"
                    "       tutti access list [--json]\n"
                    "  each with [--session DIR | --access FILE]\n");
    return EXIT_USAGE;
}

/* ---- tutti invite ---- */

typedef struct {
    char name[TT_ACCESS_MAX_NAME + 1];
    char coordinator[TT_BUNDLE_ENDPOINTS_LEN];
} session_ini_t;

static int on_session_key(void *arg, const char *section, const char *key, const char *value,
                          int line, char *why)
{
    (void)line;
    session_ini_t *s = arg;
    if (strcmp(section, "session") != 0)
        return tt_fail(why, TT_ERR_INVALID, "key '%s' outside [session]", key);
    if (!strcmp(key, "name") && tt_name_ok(value, TT_ACCESS_MAX_NAME, 0))
        snprintf(s->name, sizeof s->name, "%s", value);
    else if (!strcmp(key, "coordinator") && tt_bundle_endpoints_ok(value))
        snprintf(s->coordinator, sizeof s->coordinator, "%s", value);
    else
        return tt_fail(why, TT_ERR_INVALID, "key '%s': unknown, or a bad value", key);
    return 0;
}

static int session_read(const char *dir, session_ini_t *s, char *why)
{
    char path[PATH_LEN], w[TT_WHY_LEN];
    if (path_join(path, dir, "session.ini") != 0)
        return tt_fail(why, TT_ERR_INVALID, "--session too long");
    char *text = NULL;
    size_t len = 0;
    int rc = tt_file_read(path, TT_CONFIG_MAX_TEXT, &text, &len, w);
    if (rc != 0)
        return tt_fail(why, rc, "%s (is %s a session directory? tutti init, or --session DIR)", w,
                       dir);
    memset(s, 0, sizeof *s);
    rc = tt_ini_each(text, len, on_session_key, s, w);
    free(text);
    if (rc != 0)
        return tt_fail(why, rc, "%s: %s", path, w);
    if (!s->name[0] || !s->coordinator[0])
        return tt_fail(why, TT_ERR_INVALID, "%s: needs name and coordinator", path);
    return 0;
}

static const char *how_to_start(tt_role_t r)
{
    switch (r) {
    case TT_ROLE_ROOM: return "tutti-agent --bundle";
    case TT_ROLE_OPERATOR: return "tutti status --bundle";
    default: return "tutti-dash --bundle";
    }
}

int cli_session_invite(const tt_conn_opts_t *o, int argc, char **argv)
{
    (void)o;
    const char *name = NULL, *role_s = NULL, *dir = NULL, *out = NULL, *eps = NULL;
    const char *relay = NULL, *relay_pub = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--role") && i + 1 < argc)
            role_s = argv[++i];
        else if (!strcmp(argv[i], "--relay") && i + 1 < argc)
            relay = argv[++i];
        else if (!strcmp(argv[i], "--relay-key") && i + 1 < argc)
            relay_pub = argv[++i];
        else if (!strcmp(argv[i], "--session") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--coordinator") && i + 1 < argc)
            eps = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            fprintf(stderr, "tutti invite: unexpected '%s' (see tutti invite --help)\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!name || !role_s) {
        fprintf(stderr, "usage: tutti invite NAME --role ROLE [--session DIR] [--out FILE] "
                        "[--coordinator EP[,EP]] [--relay EP --relay-key FILE.pub]\n");
        return EXIT_USAGE;
    }
    if (!relay != !relay_pub || (relay && (!tt_bundle_endpoints_ok(relay) || strchr(relay, ',')))) {
        fprintf(stderr, "tutti invite: --relay EP and --relay-key FILE.pub go together: the "
                        "site relay's one endpoint (tcp://HOST:PORT) and its public key\n");
        return EXIT_USAGE;
    }
    tt_role_t role = tt_role_from_name(role_s);
    if (role == TT_ROLE_NONE) {
        fprintf(stderr, "tutti invite: role '%s': operator, room, contractor or observer\n",
                role_s);
        return EXIT_USAGE;
    }
    if (!tt_name_ok(name, TT_ACCESS_MAX_NAME, TT_NAME_FILE)) {
        fprintf(stderr, "tutti invite: name '%s': 1..%d of letters, digits, '-', '_', '.'\n", name,
                TT_ACCESS_MAX_NAME);
        return EXIT_USAGE;
    }
    if (eps && !tt_bundle_endpoints_ok(eps)) {
        fprintf(stderr, "tutti invite: --coordinator '%s': 1..%d endpoints like tcp://HOST:PORT\n",
                eps, TT_BUNDLE_MAX_ENDPOINTS);
        return EXIT_USAGE;
    }
    dir = session_dir(dir);
    char why[TT_WHY_LEN];
    session_ini_t s;
    if (session_read(dir, &s, why) != 0) {
        fprintf(stderr, "tutti invite: %s\n", why);
        return 1;
    }
    char pub[PATH_LEN], spub[PATH_LEN], access[PATH_LEN], bundle_path[PATH_LEN];
    path_join(pub, dir, "coordinator.pub");
    path_join(spub, dir, "standby.pub");
    path_join(access, dir, "access");
    if (out)
        snprintf(bundle_path, sizeof bundle_path, "%s", out);
    else if (snprintf(bundle_path, sizeof bundle_path, "%s/bundles/%s.tutti", dir, name) >=
             (int)sizeof bundle_path) {
        fprintf(stderr, "tutti invite: --session too long\n");
        return EXIT_USAGE;
    }
    tt_bundle_t b;
    memset(&b, 0, sizeof b);
    b.version = TT_BUNDLE_VERSION;
    snprintf(b.session, sizeof b.session, "%s", s.name);
    snprintf(b.name, sizeof b.name, "%s", name);
    b.role = role;
    snprintf(b.coordinator, sizeof b.coordinator, "%s", eps ? eps : s.coordinator);
    /* A session with a standby (tutti init --standby): its key after the
     * primary's, one per endpoint, as the session dials them. */
    struct stat st;
    int has_standby = stat(spub, &st) == 0;
    if (has_standby && tt_bundle_list_count(b.coordinator) != 2) {
        fprintf(stderr,
                "tutti invite: the session has a standby (%s): --coordinator wants "
                "PRIMARY,STANDBY, got '%s'\n",
                spub, b.coordinator);
        return EXIT_USAGE;
    }
    char keys[2 * PATH_LEN + 2];
    snprintf(keys, sizeof keys, "%s%s%s", pub, has_standby ? "," : "", has_standby ? spub : "");
    if (tt_pubkey_load_list(keys, b.server_key, why) != 0) {
        fprintf(stderr, "tutti invite: %s\n", why);
        return 1;
    }
    if (relay) { /* the participant's site relay: it goes through it */
        snprintf(b.relay, sizeof b.relay, "%s", relay);
        if (tt_pubkey_load(relay_pub, b.relay_key, why) != 0) {
            fprintf(stderr, "tutti invite: --relay-key: %s\n", why);
            return 1;
        }
    }
    /* Refuse a duplicate before anything is written. */
    char *text = NULL;
    size_t len = 0;
    tt_access_t *a = NULL;
    if (access_read(access, &text, &len, &a) != 0)
        return 1;
    const tt_access_entry_t *dup = tt_access_find_name(a, name);
    if (dup)
        fprintf(stderr, "tutti invite: %s is already in %s (as %s); tutti access remove %s first\n",
                name, access, tt_role_name(dup->role), name);
    free(text);
    tt_access_destroy(&a);
    if (dup)
        return 1;
    if (!(b.keys = tt_keypair_generate(why)) || tt_bundle_save(&b, bundle_path, why) != 0) {
        fprintf(stderr, "tutti invite: %s\n", why);
        tt_keypair_destroy(&b.keys);
        return 1;
    }
    int rc = access_append(access, role, name, b.keys->public_z85);
    if (rc != 0) {
        unlink(bundle_path); /* no bundle without its access line */
        tt_keypair_destroy(&b.keys);
        return rc;
    }
    printf("%s: %s's bundle (role %s, coordinator %s%s%s)\n"
           "  It holds %s's secret key (mode 0600): hand it over privately.\n"
           "  There: %s %s\n"
           "added %s %s %s\n",
           bundle_path, name, tt_role_name(role), b.coordinator,
           relay ? ", through the relay " : "", relay ? relay : "", name, how_to_start(role),
           strrchr(bundle_path, '/') ? strrchr(bundle_path, '/') + 1 : bundle_path,
           tt_role_name(role), name, b.keys->public_z85);
    say_sighup(access);
    tt_keypair_destroy(&b.keys);
    return 0;
}
