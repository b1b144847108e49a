/* cli_media: `tutti media fetch CUE TAKE [--room R] [--input I] --out DIR`.
 *
 * Hello (for the upload port and the signing key), the whole log by fetch
 * (each record checked against the chain and the key, so the hashes we
 * verify against are the signed ones) folded with tt_session like every
 * other program's (the files are its media index), then each matching file in 1 MiB
 * MediaFetch requests to DIR/NAME.part, hashed as it arrives, renamed into
 * place only when the hash matches the record.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_media.h"

#include "tt_chain.h"
#include "tt_client.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_media.h"
#include "tt_opts.h"
#include "tt_session.h"
#include "tt_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_REFUSED 3
#define PIECE (1 << 20)

static void usage(FILE *out)
{
    fprintf(out, "Usage: tutti [connection options] media fetch CUE TAKE [--room R] [--input I]\n"
                 "             --out DIR\n"
                 "\n"
                 "Download the files the rooms recorded for take TAKE of CUE from the\n"
                 "coordinator, each checked against the BLAKE2b-256 hash in its signed media\n"
                 "record. A file is written to DIR/NAME.part and renamed to DIR/NAME only when\n"
                 "its hash matches; a file that does not match is removed and reported.\n"
                 "\n"
                 "Options:\n"
                 "  --room R      only room R's files (default: every room's)\n"
                 "  --input I     only input I (default: every input)\n"
                 "  --out DIR     where the files go (created if absent; required)\n"
                 "  -h, --help    this text\n"
                 "\n"
                 "Roles: operator, contractor and observer fetch any file; a room its own.\n"
                 "Prints one line per file: \"NAME SIZE verified\".\n"
                 "\n"
                 "Exit status: 0 every file verified, 1 failure (a hash mismatch, no such\n"
                 "files, I/O), 2 bad usage, 3 refused (unknown key, role not allowed).\n"
                 "\n"
                 "Example:\n"
                 "  tutti media fetch 1M1 3 --room london-strings --out takes/1M1-t3\n");
}

static int exit_for(int rc)
{
    return (rc == TT_ERR_AUTH || rc == TT_ERR_DENIED) ? EXIT_REFUSED : EXIT_FAIL;
}

/* The take's files asked for (cue, take, room or all, input or all). */
static int wanted(const tt_media_entry_t *e, const char *cue, uint32_t take, const char *room,
                  const char *input)
{
    return e->take == take && !strcmp(e->cue, cue) && (!room || !strcmp(e->room, room)) &&
           (!input || !strcmp(e->input, input)) && tt_media_stored_name_ok(e->file);
}

static int print_failure(const char *what, int rc, const char *why)
{
    fprintf(stderr, "tutti media: %s: %s%s\n", what,
            rc == TT_ERR_AUTH     ? "authentication error: "
            : rc == TT_ERR_DENIED ? "refused: "
                                  : "",
            why);
    return exit_for(rc);
}

/* The whole log, checked record by record against the chain and the
 * signing key, folded into st (its media index holds the files). */
static int fold_log(tt_client_t *c, int timeout_ms, uint8_t pk[TT_SIGN_PK_LEN], tt_session_t *st)
{
    for (;;) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT, *reply = NULL;
        Tutti__FetchRequest fr = TUTTI__FETCH_REQUEST__INIT;
        fr.from_seq = st->last_seq + 1;
        env.body_case = TUTTI__ENVELOPE__BODY_FETCH;
        env.fetch = &fr;
        char why[TT_WHY_LEN];
        int rc = tt_client_request(c, &env, &reply, timeout_ms, why);
        if (rc != 0)
            return print_failure("reading the log", rc, why);
        if (reply->body_case != TUTTI__ENVELOPE__BODY_FETCH_REPLY) {
            tutti__envelope__free_unpacked(reply, NULL);
            fprintf(stderr, "tutti media: unexpected reply to a fetch\n");
            return EXIT_FAIL;
        }
        const Tutti__FetchReply *rep = reply->fetch_reply;
        for (size_t i = 0; i < rep->n_records && rc == 0; i++) {
            Tutti__Record *rec = NULL;
            uint8_t hash[TT_HASH_LEN];
            uint64_t next = st->last_seq + 1;
            rc = tt_chain_check(rep->records[i].data, rep->records[i].len, next, st->head_hash, pk,
                                hash, &rec, why);
            if (rc != 0) {
                fprintf(stderr, "tutti media: record %llu does not verify: %s\n",
                        (unsigned long long)next, why);
                break;
            }
            rc = tt_session_apply(st, rec, hash, why);
            if (rc != 0)
                fprintf(stderr, "tutti media: record %llu does not fold: %s\n",
                        (unsigned long long)next, why);
            tutti__record__free_unpacked(rec, NULL);
        }
        size_t got = rep->n_records;
        uint64_t last = rep->last_seq;
        tutti__envelope__free_unpacked(reply, NULL);
        if (rc != 0)
            return EXIT_FAIL;
        if (got == 0 || st->last_seq >= last)
            return 0;
    }
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Downloads one file. 0 verified; EXIT_* otherwise (message printed). */
static int fetch_one(tt_client_t *c, int timeout_ms, const char *dir, const tt_media_entry_t *m)
{
    char part[4096], final[4096];
    snprintf(part, sizeof part, "%s/%s.part", dir, m->file);
    snprintf(final, sizeof final, "%s/%s", dir, m->file);
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "tutti media: writing %s: %s\n", part, strerror(errno));
        return EXIT_FAIL;
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, TT_HASH_LEN);
    uint64_t off = 0;
    int rc = 0;
    while (off < m->size) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT, *reply = NULL;
        Tutti__MediaFetch f = TUTTI__MEDIA_FETCH__INIT;
        f.cue = (char *)m->cue;
        f.take = m->take;
        f.room = (char *)m->room;
        f.input = (char *)m->input;
        f.offset = off;
        f.max_bytes = PIECE;
        env.body_case = TUTTI__ENVELOPE__BODY_MEDIA_FETCH;
        env.media_fetch = &f;
        char why[TT_WHY_LEN];
        int r = tt_client_request(c, &env, &reply, timeout_ms, why);
        if (r != 0) {
            rc = print_failure(m->file, r, why);
            break;
        }
        const Tutti__MediaData *d =
            reply->body_case == TUTTI__ENVELOPE__BODY_MEDIA_DATA ? reply->media_data : NULL;
        const char *bad = !d                            ? "unexpected reply"
                          : d->offset != off            ? "data for another offset"
                          : d->data.len == 0            ? "no data before the end"
                          : d->data.len > m->size - off ? "more data than the file holds"
                          : !d->media || d->media->size != m->size ||
                                  d->media->hash.len != TT_HASH_LEN ||
                                  memcmp(d->media->hash.data, m->hash, TT_HASH_LEN)
                              ? "the coordinator serves another record for this file"
                              : NULL;
        if (bad) {
            fprintf(stderr, "tutti media: %s at %llu: %s\n", m->file, (unsigned long long)off, bad);
            tutti__envelope__free_unpacked(reply, NULL);
            rc = EXIT_FAIL;
            break;
        }
        crypto_generichash_update(&st, d->data.data, d->data.len);
        if (write_all(fd, d->data.data, d->data.len) != 0) {
            fprintf(stderr, "tutti media: writing %s: %s\n", part, strerror(errno));
            tutti__envelope__free_unpacked(reply, NULL);
            rc = EXIT_FAIL;
            break;
        }
        off += d->data.len;
        tutti__envelope__free_unpacked(reply, NULL);
    }
    uint8_t got[TT_HASH_LEN];
    crypto_generichash_final(&st, got, TT_HASH_LEN);
    if (rc == 0 && memcmp(got, m->hash, TT_HASH_LEN) != 0) {
        char want_hex[2 * TT_HASH_LEN + 1], got_hex[2 * TT_HASH_LEN + 1];
        sodium_bin2hex(want_hex, sizeof want_hex, m->hash, TT_HASH_LEN);
        sodium_bin2hex(got_hex, sizeof got_hex, got, TT_HASH_LEN);
        fprintf(stderr,
                "tutti media: %s: hash mismatch: the record says %s, the bytes hash to %s; "
                "not kept\n",
                m->file, want_hex, got_hex);
        rc = EXIT_FAIL;
    }
    int synced = rc == 0 && fsync(fd) == 0;
    if (close(fd) != 0)
        synced = 0;
    if (rc == 0 && !synced) {
        fprintf(stderr, "tutti media: writing %s: %s\n", part, strerror(errno));
        rc = EXIT_FAIL;
    }
    if (rc == 0 && rename(part, final) != 0) {
        fprintf(stderr, "tutti media: renaming %s: %s\n", part, strerror(errno));
        rc = EXIT_FAIL;
    }
    if (rc != 0) {
        unlink(part);
        return rc;
    }
    printf("%s %llu verified\n", m->file, (unsigned long long)m->size);
    fflush(stdout);
    return 0;
}

static int cmd_fetch(int argc, char **argv, const cli_media_conn_t *conn)
{
    const char *cue = NULL, *take_s = NULL, *room = NULL, *input = NULL, *out = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--room") && v) {
            room = v, i++;
        } else if (!strcmp(a, "--input") && v) {
            input = v, i++;
        } else if (!strcmp(a, "--out") && v) {
            out = v, i++;
        } else if (a[0] == '-') {
            usage(stderr);
            return EXIT_USAGE;
        } else if (!cue) {
            cue = a;
        } else if (!take_s) {
            take_s = a;
        } else {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    long take = 0;
    if (!cue || !take_s || !out || tt_opts_parse_long(take_s, 1, 0xffffffffL, &take) != 0) {
        fprintf(stderr, "usage: tutti media fetch CUE TAKE [--room R] [--input I] --out DIR\n");
        return EXIT_USAGE;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "tutti media: creating %s: %s\n", out, strerror(errno));
        return EXIT_FAIL;
    }
    tt_conn_opts_t co = *conn;
    int resolved = tt_conn_opts_resolve(&co);
    const char *endpoint = co.endpoint, *skey_path = co.server_key_path, *key_path = co.key_path;
    int timeout_ms = (int)co.timeout_ms;
    if (resolved != 0) {
        fprintf(stderr, "tutti media: --server-key and --key (or TUTTI_SERVER_KEY, TUTTI_KEY) are "
                        "required\n");
        return EXIT_USAGE;
    }
    char why[TT_WHY_LEN], server_key[TT_Z85_KEY_LEN + 1];
    if (tt_pubkey_load(skey_path, server_key, why) != 0) {
        fprintf(stderr, "tutti media: --server-key: %s\n", why);
        return EXIT_FAIL;
    }
    tt_keypair_t *keys = tt_keypair_load(key_path, why);
    if (!keys) {
        fprintf(stderr, "tutti media: --key: %s\n", why);
        return EXIT_FAIL;
    }
    void *ctx = zmq_ctx_new();
    tt_client_t *req = NULL, *up = NULL;
    tt_session_t st;
    tt_session_init(&st);
    size_t n_files = 0;
    int rc = EXIT_FAIL;
    Tutti__Envelope *reply = NULL;
    if (!(req = tt_client_new(ctx, endpoint, server_key, keys, 0, why))) {
        fprintf(stderr, "tutti media: %s\n", why);
        goto out;
    }
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Hello hello = TUTTI__HELLO__INIT;
    hello.program = "tutti";
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    int r = tt_client_request(req, &env, &reply, timeout_ms, why);
    if (r != 0) {
        rc = print_failure("hello", r, why);
        goto out;
    }
    const Tutti__HelloReply *hr =
        reply->body_case == TUTTI__ENVELOPE__BODY_HELLO_REPLY ? reply->hello_reply : NULL;
    if (!hr || hr->signing_public_key.len != TT_SIGN_PK_LEN) {
        fprintf(stderr, "tutti media: unexpected reply to hello\n");
        goto out;
    }
    if (hr->upload_port == 0) {
        fprintf(stderr, "tutti media: the coordinator at %s runs no media service\n", endpoint);
        goto out;
    }
    uint8_t pk[TT_SIGN_PK_LEN];
    memcpy(pk, hr->signing_public_key.data, TT_SIGN_PK_LEN);
    char up_ep[300];
    if (tt_wire_endpoint_with_port(endpoint, hr->upload_port, up_ep, sizeof up_ep) != 0) {
        fprintf(stderr, "tutti media: cannot make the media endpoint from %s\n", endpoint);
        goto out;
    }
    r = fold_log(req, timeout_ms, pk, &st);
    if (r != 0) {
        rc = r;
        goto out;
    }
    for (size_t i = 0; i < st.media.n; i++)
        n_files += wanted(&st.media.items[i], cue, (uint32_t)take, room, input);
    if (n_files == 0) {
        fprintf(stderr, "tutti media: no files of %s take %ld%s%s%s%s have arrived\n", cue, take,
                room ? " from room " : "", room ? room : "", input ? " input " : "",
                input ? input : "");
        goto out;
    }
    if (!(up = tt_client_new(ctx, up_ep, server_key, keys, 0, why))) {
        fprintf(stderr, "tutti media: %s\n", why);
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < st.media.n; i++) {
        if (!wanted(&st.media.items[i], cue, (uint32_t)take, room, input))
            continue;
        int one = fetch_one(up, timeout_ms, out, &st.media.items[i]);
        if (one == EXIT_REFUSED) {
            rc = one;
            break;
        }
        if (one != 0)
            rc = EXIT_FAIL;
    }
out:
    if (reply)
        tutti__envelope__free_unpacked(reply, NULL);
    tt_session_clear(&st);
    tt_client_destroy(&up);
    tt_client_destroy(&req);
    zmq_ctx_term(ctx);
    tt_keypair_destroy(&keys);
    return rc;
}

int cli_media_main(int argc, char **argv, const cli_media_conn_t *conn)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "fetch"))
        return cmd_fetch(argc, argv, conn);
    fprintf(stderr, "tutti media: unknown subcommand '%s' (try: tutti media --help)\n", argv[1]);
    return EXIT_USAGE;
}
