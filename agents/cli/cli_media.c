/* cli_media: `tutti media fetch CUE TAKE [--room R] [--input I] --out DIR`,
 * `tutti media put` and `tutti media guide` (below).
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
#include "cli_conn.h"
#include "tt_config.h"

#include "agent_upload.h"
#include "tt_bundle.h"
#include "tt_bwf.h"
#include "tt_chain.h"
#include "tt_client.h"
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_media.h"
#include "tt_opts.h"
#include "tt_session.h"
#include "tt_tempo.h"
#include "tt_text.h"
#include "tt_time.h"
#include "tt_timecode.h"
#include "tt_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sndfile.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define EXIT_FAIL 1
#define PIECE (1 << 20)

/* The connection flags, as every connecting command's help lists them. */
static void conn_help(FILE *out)
{
    fprintf(out, "\nConnection options (before or after the command):\n");
    tt_conn_opts_usage(out, 1);
    fputs(TT_CONFIG_HELP, out);
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: tutti [connection options] media fetch CUE TAKE [--room R] [--input I]\n"
                 "             --out DIR\n"
                 "       tutti [connection options] media put CUE FILE --kind prelay|guide ...\n"
                 "             (tutti media put --help)\n"
                 "       tutti [connection options] media guide CUE --take N --room R ...\n"
                 "             (tutti media guide --help)\n"
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
    conn_help(out);
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
            tt_chain_keys_t keys = st->signers; /* the genesis key and the named ones */
            if (keys.n == 0)
                tt_chain_keys_init(&keys, pk);
            rc = tt_chain_check_keys(rep->records[i].data, rep->records[i].len, next, st->head_hash,
                                     &keys, hash, &rec, why);
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
        const char *bad = tt_media_data_bad(d, m, off);
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

/* A connection for media: keys, the request client, the hello's upload
 * endpoint and the whole log folded (its media index). */
typedef struct {
    cli_conn_t c; /* ctx, keys, the request client (c.client), the timeout */
    char server_key[TT_Z85_KEY_LEN + 1];
    char up_ep[300];
    char endpoint[256];
    unsigned upload_port;
    tt_session_t st;
} media_conn_t;

static void media_close(media_conn_t *mc)
{
    tt_session_clear(&mc->st);
    cli_conn_close(&mc->c);
}

/* A --rooms list split: names point into buf. */
typedef struct {
    char buf[TT_MEDIA_MAX_ROOMS * (TT_ACCESS_MAX_NAME + 1) + 1];
    char *names[TT_MEDIA_MAX_ROOMS + 1];
} media_rooms_t;

/* --rooms A,B,C (NULL: none) copied into r and split there; m's rooms
 * point at r's names, so r lives as long as m is used. 0, or -1 with the
 * message printed. */
static int split_rooms(const char *list, media_rooms_t *r, Tutti__Media *m)
{
    snprintf(r->buf, sizeof r->buf, "%s", list ? list : "");
    for (char *save = NULL, *n = strtok_r(r->buf, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
        if (m->n_rooms == TT_MEDIA_MAX_ROOMS) {
            fprintf(stderr, "tutti media: --rooms names at most %d rooms\n", TT_MEDIA_MAX_ROOMS);
            return -1;
        }
        r->names[m->n_rooms++] = n;
    }
    m->rooms = r->names;
    return 0;
}

/* Hello, then the log folded. 0, or the exit status (message printed;
 * nothing left to close). */
static int media_connect(const cli_media_conn_t *conn, media_conn_t *mc)
{
    memset(mc, 0, sizeof *mc);
    tt_session_init(&mc->st);
    /* Flags, or the bundle, as every other command; straight to the
     * coordinator (no relay passes the upload port's files). */
    int rc = cli_conn_open_direct(conn, &mc->c, "tutti media");
    Tutti__Envelope *reply = NULL;
    if (rc != 0)
        goto fail;
    rc = EXIT_FAIL;
    char why[TT_WHY_LEN];
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__Hello hello = TUTTI__HELLO__INIT;
    hello.program = "tutti";
    env.body_case = TUTTI__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    int r = tt_client_request(mc->c.client, &env, &reply, mc->c.timeout_ms, why);
    if (r != 0) {
        rc = print_failure("hello", r, why);
        goto fail;
    }
    /* The coordinator that answered (of a --coordinator list): its host
     * serves the media. */
    snprintf(mc->endpoint, sizeof mc->endpoint, "%s", tt_client_endpoint(mc->c.client));
    snprintf(mc->server_key, sizeof mc->server_key, "%s", tt_client_server_key(mc->c.client));
    const Tutti__HelloReply *hr =
        reply->body_case == TUTTI__ENVELOPE__BODY_HELLO_REPLY ? reply->hello_reply : NULL;
    if (!hr || hr->signing_public_key.len != TT_SIGN_PK_LEN) {
        fprintf(stderr, "tutti media: unexpected reply to hello\n");
        goto fail;
    }
    if (hr->upload_port == 0) {
        fprintf(stderr, "tutti media: the coordinator at %s runs no media service\n", mc->endpoint);
        goto fail;
    }
    mc->upload_port = hr->upload_port;
    uint8_t pk[TT_SIGN_PK_LEN];
    memcpy(pk, hr->signing_public_key.data, TT_SIGN_PK_LEN);
    if (tt_wire_endpoint_with_port(mc->endpoint, hr->upload_port, mc->up_ep, sizeof mc->up_ep) !=
        0) {
        fprintf(stderr, "tutti media: cannot make the media endpoint from %s\n", mc->endpoint);
        goto fail;
    }
    tutti__envelope__free_unpacked(reply, NULL);
    reply = NULL;
    if ((r = fold_log(mc->c.client, mc->c.timeout_ms, pk, &mc->st)) != 0) {
        rc = r;
        goto fail;
    }
    return 0;
fail:
    if (reply)
        tutti__envelope__free_unpacked(reply, NULL);
    media_close(mc);
    return rc;
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
    media_conn_t mc;
    int rc = media_connect(conn, &mc);
    if (rc != 0)
        return rc;
    char why[TT_WHY_LEN];
    tt_client_t *up = NULL;
    size_t n_files = 0;
    rc = EXIT_FAIL;
    const tt_session_t *stp = &mc.st;
    for (size_t i = 0; i < stp->media.n; i++)
        n_files += wanted(&stp->media.items[i], cue, (uint32_t)take, room, input);
    if (n_files == 0) {
        fprintf(stderr, "tutti media: no files of %s take %ld%s%s%s%s have arrived\n", cue, take,
                room ? " from room " : "", room ? room : "", input ? " input " : "",
                input ? input : "");
        goto out;
    }
    if (!(up = tt_client_new(mc.c.ctx, mc.up_ep, mc.server_key, mc.c.keys, 0, why))) {
        fprintf(stderr, "tutti media: %s\n", why);
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < stp->media.n; i++) {
        if (!wanted(&stp->media.items[i], cue, (uint32_t)take, room, input))
            continue;
        int one = fetch_one(up, mc.c.timeout_ms, out, &stp->media.items[i]);
        if (one == EXIT_REFUSED) {
            rc = one;
            break;
        }
        if (one != 0)
            rc = EXIT_FAIL;
    }
out:
    tt_client_destroy(&up);
    media_close(&mc);
    return rc;
}

/* ------------------------------------------------------------ put */

#define PUT_GIVE_UP_S 60 /* no progress this long: stop (the same command resumes) */

static void put_usage(FILE *out)
{
    fprintf(out,
            "Usage: tutti [connection options] media put CUE FILE --kind prelay|guide\n"
            "             [--rooms R,...] [--at BAR | --at-tc TC [--fps RATE]] [--name N]\n"
            "\n"
            "Send a WAV file (8..192 kHz, 1..8 channels, at most 2 GiB) to the coordinator\n"
            "as a prelay or guide track of CUE. It becomes a signed media record (its\n"
            "BLAKE2b-256 hash, rate, channels, frames, placement), stored as\n"
            "CUE_prelay_NAME.wav or CUE_guide_NAME.wav; every room named fetches and\n"
            "verifies it, and `tutti roll CUE` is refused while an online room lacks it.\n"
            "An interrupted put resumes from what the coordinator holds: run it again.\n"
            "\n"
            "Options:\n"
            "  --kind K      prelay or guide (required)\n"
            "  --rooms LIST  the rooms that must hold it, comma-separated (default: every room)\n"
            "  --at BAR      place it at bar BAR beat 1 of the cue\n"
            "  --at-tc TC    place it at timecode TC (HH:MM:SS:FF) on the cue's timeline, at\n"
            "                the cue's tempo-map frame rate, or --fps RATE (23.976, 24, 25,\n"
            "                29.97df, 29.97ndf, 30)\n"
            "                (neither: the file's BWF TimeReference, else bar 1)\n"
            "  --name N      its name in the file name (default: FILE's name without .wav;\n"
            "                1..32 of letters, digits, '.', '_', '-')\n"
            "  -h, --help    this text\n"
            "\n"
            "Roles: operator. Progress goes to stderr; on success one line to stdout:\n"
            "\"FILE SIZE seq SEQ\".\n"
            "\n"
            "Exit status: 0 recorded, 1 failure (not a WAV, I/O, no progress for %d s),\n"
            "2 bad usage, 3 refused (unknown key, role not allowed, a rule).\n"
            "\n"
            "Example:\n"
            "  tutti media put 1M1 strings.wav --kind prelay --rooms london-strings,overdub \\\n"
            "      --at 9\n",
            PUT_GIVE_UP_S);
    conn_help(out);
}

typedef struct {
    const char *cue, *file, *kind, *rooms, *at, *at_tc, *fps, *name;
} put_args_t;

/* The WAV's format, size and hash into m. 0 or EXIT_FAIL (printed). */
static int put_read_file(const char *path, Tutti__Media *m, uint8_t hash[TT_BWF_HASH_LEN])
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) {
        fprintf(stderr, "tutti media: %s: %s\n", path, sf_strerror(NULL));
        return EXIT_FAIL;
    }
    sf_close(sf);
    if ((info.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_WAV) {
        fprintf(stderr, "tutti media: %s is not a WAV file\n", path);
        return EXIT_FAIL;
    }
    tt_bwf_info_t bwf;
    char why[TT_WHY_LEN];
    int rc = tt_bwf_read_info(path, &bwf, NULL, why);
    if (rc != 0 && rc != TT_ERR_NOTFOUND) {
        fprintf(stderr, "tutti media: %s: %s\n", path, why);
        return EXIT_FAIL;
    }
    m->time_reference = rc == 0 ? bwf.time_reference : 0;
    m->rate = (uint32_t)info.samplerate;
    m->channels = (uint32_t)info.channels;
    m->frames = (uint64_t)info.frames;
    if (tt_bwf_hash_file(path, hash, &m->size, why) != 0) {
        fprintf(stderr, "tutti media: %s: %s\n", path, why);
        return EXIT_FAIL;
    }
    m->hash.data = hash;
    m->hash.len = TT_BWF_HASH_LEN;
    return 0;
}

/* --at-tc at the cue's map's rate (or --fps) into m. 0 or EXIT_*. */
static int put_place_tc(const put_args_t *a, const tt_session_t *st, Tutti__Media *m,
                        char fps_name[16])
{
    tt_fps_t fps;
    char why[TT_WHY_LEN];
    if (a->fps) {
        if (tt_fps_parse(a->fps, &fps, why) != 0) {
            fprintf(stderr, "tutti media: --fps: %s\n", why);
            return EXIT_USAGE;
        }
    } else {
        const tt_session_cue_t *cue = tt_session_find_cue(st, a->cue);
        tt_tempo_map_t *map = cue && cue->map_text
                                  ? tt_tempo_parse_text(cue->map_text, strlen(cue->map_text), why)
                                  : NULL;
        if (!map) {
            fprintf(stderr,
                    "tutti media: cue %s has no tempo map to read --at-tc with: give "
                    "--fps\n",
                    a->cue);
            return EXIT_USAGE;
        }
        fps = tt_tempo_fps(map);
        tt_tempo_destroy(&map);
    }
    int64_t frame;
    if (tt_timecode_parse(a->at_tc, fps, &frame, why) != 0) {
        fprintf(stderr, "tutti media: --at-tc: %s\n", why);
        return EXIT_USAGE;
    }
    snprintf(fps_name, 16, "%s", tt_fps_name(fps));
    m->at_frame = frame;
    m->at_fps = fps_name;
    return 0;
}

/* Runs the upload (agent_upload's one-file mode) to its verdict. */
static int put_send(const media_conn_t *mc, const char *path, const Tutti__Media *m,
                    const char *file)
{
    char why[TT_WHY_LEN];
    agent_upload_config_t ucfg = {
        .ctx = mc->c.ctx,
        .endpoint = mc->endpoint,
        .upload_port = mc->upload_port,
        .server_key_z85 = mc->server_key,
        .keys = mc->c.keys,
        .file = path,
        .media = m,
        .room = "operator",
        .reply_timeout_ms = mc->c.timeout_ms,
    };
    agent_upload_t *u = agent_upload_start(&ucfg, why);
    if (!u) {
        fprintf(stderr, "tutti media: %s\n", why);
        return EXIT_FAIL;
    }
    int rc = -1;
    int64_t last_progress = tt_time_mono_ns();
    while (rc < 0) {
        zmq_pollitem_t it = {agent_upload_socket(u), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 1000) < 0 && errno != EINTR) {
            fprintf(stderr, "tutti media: polling: %s\n", zmq_strerror(errno));
            rc = EXIT_FAIL;
            break;
        }
        agent_upload_event_t ev;
        while (rc < 0 && agent_upload_read(u, &ev)) {
            switch (ev.kind) {
            case AGENT_UPLOAD_STARTED:
            case AGENT_UPLOAD_PROGRESS:
                last_progress = tt_time_mono_ns();
                fprintf(stderr, "tutti media: %s: %llu of %llu bytes at the coordinator\n", file,
                        (unsigned long long)ev.offset, (unsigned long long)ev.size);
                break;
            case AGENT_UPLOAD_RETRY:
                fprintf(stderr, "tutti media: %s: %s; trying again\n", file, ev.reason);
                break;
            case AGENT_UPLOAD_CONFIRMED:
                printf("%s %llu seq %llu\n", file, (unsigned long long)ev.size,
                       (unsigned long long)ev.seq);
                rc = 0;
                break;
            case AGENT_UPLOAD_REFUSED:
                fprintf(stderr, "tutti media: %s refused: %s\n", file, ev.reason);
                rc = ev.code ? EXIT_REFUSED : EXIT_FAIL; /* the coordinator's verdict */
                break;
            default: break;
            }
        }
        if (rc < 0 && tt_time_mono_ns() - last_progress > PUT_GIVE_UP_S * 1000000000LL) {
            fprintf(stderr,
                    "tutti media: %s: no progress for %d s; run the same command again to "
                    "resume\n",
                    file, PUT_GIVE_UP_S);
            rc = EXIT_FAIL;
        }
    }
    agent_upload_stop(&u);
    return rc;
}

static int cmd_put(int argc, char **argv, const cli_media_conn_t *conn)
{
    put_args_t a = {0};
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = !strcmp(o, "--kind")    ? &a.kind
                            : !strcmp(o, "--rooms") ? &a.rooms
                            : !strcmp(o, "--at")    ? &a.at
                            : !strcmp(o, "--at-tc") ? &a.at_tc
                            : !strcmp(o, "--fps")   ? &a.fps
                            : !strcmp(o, "--name")  ? &a.name
                                                    : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            put_usage(stdout);
            return 0;
        } else if (slot && v) {
            *slot = v, i++;
        } else if (o[0] == '-' || (a.cue && a.file)) {
            put_usage(stderr);
            return EXIT_USAGE;
        } else {
            *(a.cue ? &a.file : &a.cue) = o;
        }
    }
    Tutti__Media m = TUTTI__MEDIA__INIT;
    m.kind = a.kind && !strcmp(a.kind, "prelay")  ? TUTTI__MEDIA_KIND__MEDIA_KIND_PRELAY
             : a.kind && !strcmp(a.kind, "guide") ? TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE
                                                  : TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE;
    long bar = 0;
    if (!a.cue || !a.file || m.kind == TUTTI__MEDIA_KIND__MEDIA_KIND_CAPTURE || (a.at && a.at_tc) ||
        (a.fps && !a.at_tc) || (a.at && tt_opts_parse_long(a.at, 1, 100000, &bar) != 0)) {
        fprintf(stderr, "usage: tutti media put CUE FILE --kind prelay|guide [--rooms R,...] "
                        "[--at BAR | --at-tc TC [--fps RATE]] [--name N]\n");
        return EXIT_USAGE;
    }
    /* The name: --name, else the file's name without its directory and .wav. */
    char name[TT_MEDIA_MAX_NAME + 8];
    const char *base = strrchr(a.file, '/');
    snprintf(name, sizeof name, "%.38s", a.name ? a.name : base ? base + 1 : a.file);
    size_t nl = strlen(name);
    if (!a.name && nl > 4 && !strcasecmp(name + nl - 4, ".wav"))
        name[nl - 4] = '\0';
    if (!tt_name_ok(name, TT_MEDIA_MAX_NAME, 0)) {
        fprintf(stderr,
                "tutti media: name '%s': 1 to %d of letters, digits, '.', '_' or '-' "
                "(give --name)\n",
                name, TT_MEDIA_MAX_NAME);
        return EXIT_USAGE;
    }
    media_rooms_t rooms;
    if (split_rooms(a.rooms, &rooms, &m) != 0)
        return EXIT_USAGE;
    m.cue = (char *)a.cue;
    m.name = name;
    m.at_bar = (int32_t)bar;
    uint8_t hash[TT_BWF_HASH_LEN];
    int rc = put_read_file(a.file, &m, hash);
    if (rc != 0)
        return rc;
    char file[TT_MEDIA_MAX_FILE + 1], fps_name[16];
    if (tt_media_record_file_name(&m, file, sizeof file) != 0) {
        fprintf(stderr, "tutti media: no file name can be made of cue %s and name %s\n", a.cue,
                name);
        return EXIT_USAGE;
    }
    media_conn_t mc;
    if ((rc = media_connect(conn, &mc)) != 0)
        return rc;
    if (a.at_tc)
        rc = put_place_tc(&a, &mc.st, &m, fps_name);
    if (rc == 0)
        rc = put_send(&mc, a.file, &m, file);
    media_close(&mc);
    return rc;
}

/* ------------------------------------------------------------ guide */

#define GUIDE_MIN_TIMEOUT_MS 60000 /* the coordinator hashes the capture before it answers */

static void guide_usage(FILE *out)
{
    fprintf(out,
            "Usage: tutti [connection options] media guide CUE --take N --room R [--input I]\n"
            "             [--rooms R,...] [--at BAR | --at-tc TC [--fps RATE]] [--name N]\n"
            "\n"
            "Make room R's recording of take N of CUE the guide track of CUE, in one\n"
            "command and without sending a byte: the coordinator checks its own copy of\n"
            "the capture against its signed media record (BLAKE2b-256), links (or copies)\n"
            "it to CUE_guide_NAME.wav, syncs it, and writes a media record of kind guide\n"
            "with the capture's hash, size and rate. Every room named then fetches and\n"
            "verifies it, and `tutti roll CUE` is refused while an online room lacks it,\n"
            "as for `tutti media put`.\n"
            "\n"
            "Options:\n"
            "  --take N      the take (required)\n"
            "  --room R      the room whose recording it is (required)\n"
            "  --input I     its input, when the room recorded several (default: its only one)\n"
            "  --rooms LIST  the rooms that must hold it, comma-separated (default: every room)\n"
            "  --at BAR      place the file's first sample at bar BAR beat 1\n"
            "  --at-tc TC    place it at timecode TC (HH:MM:SS:FF), at the cue's tempo-map\n"
            "                frame rate or --fps RATE\n"
            "                (neither, the default: where the take was recorded, by the\n"
            "                capture's BWF TimeReference: the take's bars on the same bars;\n"
            "                a file starts with its handles and count-off, so --at BAR puts\n"
            "                those on BAR)\n"
            "  --name N      its name in the file name (default: tN-R, or tN-R-I when the\n"
            "                room recorded several inputs, cut to 32 characters; 1..32 of\n"
            "                letters, digits, '.', '_', '-')\n"
            "  -h, --help    this text\n"
            "\n"
            "Roles: operator. On success one line to stdout: \"FILE SIZE seq SEQ\"; the same\n"
            "command again answers with the same record.\n"
            "\n"
            "Exit status: 0 recorded, 1 failure (no such take, the room did not record it,\n"
            "its file has not arrived yet, I/O), 2 bad usage (also: the room recorded\n"
            "several inputs and none was named), 3 refused (unknown key, role not\n"
            "allowed, a rule).\n"
            "\n"
            "Example:\n"
            "  tutti media guide 1M1 --take 3 --room stage --rooms overdub\n");
    conn_help(out);
}

/* The offer to the upload service and its verdict. 0 or EXIT_*. */
static int guide_send(media_conn_t *mc, Tutti__Media *m, const char *file)
{
    char why[TT_WHY_LEN];
    tt_client_t *up = tt_client_new(mc->c.ctx, mc->up_ep, mc->server_key, mc->c.keys, 0, why);
    if (!up) {
        fprintf(stderr, "tutti media: %s\n", why);
        return EXIT_FAIL;
    }
    int timeout = mc->c.timeout_ms > GUIDE_MIN_TIMEOUT_MS ? mc->c.timeout_ms : GUIDE_MIN_TIMEOUT_MS;
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT, *reply = NULL;
    Tutti__UploadOffer offer = TUTTI__UPLOAD_OFFER__INIT;
    offer.media = m;
    env.body_case = TUTTI__ENVELOPE__BODY_UPLOAD_OFFER;
    env.upload_offer = &offer;
    int r = tt_client_request(up, &env, &reply, timeout, why);
    if (r == TT_ERR_TIMEOUT || r == TT_ERR_IO) { /* the same offer again is answered alike */
        fprintf(stderr, "tutti media: %s: %s; asking once more\n", file, why);
        r = tt_client_reconnect(up, why);
        if (r == 0)
            r = tt_client_request(up, &env, &reply, timeout, why);
    }
    int rc = 0;
    if (r != 0) {
        fprintf(stderr, "tutti media: %s refused: %s\n", file, why);
        rc = r == TT_ERR_AUTH || r == TT_ERR_DENIED || r == TT_ERR_INVALID ||
                     r == TT_ERR_NOTFOUND || r == TT_ERR_TOO_BIG
                 ? EXIT_REFUSED
                 : EXIT_FAIL;
    } else if (reply->body_case != TUTTI__ENVELOPE__BODY_UPLOAD_DONE) {
        fprintf(stderr, "tutti media: %s: unexpected reply to the offer\n", file);
        rc = EXIT_FAIL;
    } else {
        printf("%s %llu seq %llu\n", file, (unsigned long long)m->size,
               (unsigned long long)reply->upload_done->seq);
    }
    if (reply)
        tutti__envelope__free_unpacked(reply, NULL);
    tt_client_destroy(&up);
    return rc;
}

static int cmd_guide(int argc, char **argv, const cli_media_conn_t *conn)
{
    put_args_t a = {0};
    const char *take_s = NULL, *room = NULL, *input = NULL;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = !strcmp(o, "--take")    ? &take_s
                            : !strcmp(o, "--room")  ? &room
                            : !strcmp(o, "--input") ? &input
                            : !strcmp(o, "--rooms") ? &a.rooms
                            : !strcmp(o, "--at")    ? &a.at
                            : !strcmp(o, "--at-tc") ? &a.at_tc
                            : !strcmp(o, "--fps")   ? &a.fps
                            : !strcmp(o, "--name")  ? &a.name
                                                    : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            guide_usage(stdout);
            return 0;
        } else if (slot && v) {
            *slot = v, i++;
        } else if (o[0] == '-' || a.cue) {
            guide_usage(stderr);
            return EXIT_USAGE;
        } else {
            a.cue = o;
        }
    }
    long take = 0, bar = 0;
    if (!a.cue || !take_s || !room || (a.at && a.at_tc) || (a.fps && !a.at_tc) ||
        tt_opts_parse_long(take_s, 1, 0xffffffffL, &take) != 0 ||
        (a.at && tt_opts_parse_long(a.at, 1, 100000, &bar) != 0)) {
        fprintf(stderr, "usage: tutti media guide CUE --take N --room R [--input I] "
                        "[--rooms R,...] [--at BAR | --at-tc TC [--fps RATE]] [--name N]\n");
        return EXIT_USAGE;
    }
    Tutti__Media m = TUTTI__MEDIA__INIT;
    m.kind = TUTTI__MEDIA_KIND__MEDIA_KIND_GUIDE;
    if (a.name && !tt_name_ok(a.name, TT_MEDIA_MAX_NAME, 0)) {
        fprintf(stderr, "tutti media: name '%s': 1 to %d of letters, digits, '.', '_' or '-'\n",
                a.name, TT_MEDIA_MAX_NAME);
        return EXIT_USAGE;
    }
    media_rooms_t rooms;
    if (split_rooms(a.rooms, &rooms, &m) != 0)
        return EXIT_USAGE;
    m.cue = (char *)a.cue;
    m.at_bar = (int32_t)bar;
    media_conn_t mc;
    int rc = media_connect(conn, &mc);
    if (rc != 0)
        return rc;
    /* The capture, as the signed log has it: the offer carries its identity. */
    const tt_media_entry_t *cap = NULL;
    char why[TT_WHY_LEN];
    int r = tt_media_take_capture(&mc.st, a.cue, (uint32_t)take, room, input, &cap, why);
    if (r != 0) {
        fprintf(stderr, "tutti media: %s\n", why);
        media_close(&mc);
        return r == TT_ERR_INVALID ? EXIT_USAGE : EXIT_FAIL;
    }
    /* The default name: tN-ROOM, and its input when the room recorded
     * several (the same every time it is asked for, cut to fit). */
    char name[TT_MEDIA_MAX_NAME + 1], file[TT_MEDIA_MAX_FILE + 1], fps_name[16];
    size_t inputs = 0;
    for (size_t i = 0; i < mc.st.media.n; i++) {
        const tt_media_entry_t *e = &mc.st.media.items[i];
        inputs += !tt_media_is_put(e) && e->take == cap->take && !strcmp(e->cue, cap->cue) &&
                  !strcmp(e->room, cap->room);
    }
    char full[TT_MEDIA_MAX_NAME + TT_ACCESS_MAX_NAME + TT_MEDIA_MAX_INPUT + 32];
    if (a.name)
        snprintf(full, sizeof full, "%s", a.name);
    else if (inputs > 1)
        snprintf(full, sizeof full, "t%ld-%s-%s", take, room, cap->input);
    else
        snprintf(full, sizeof full, "t%ld-%s", take, room);
    snprintf(name, sizeof name, "%.*s", TT_MEDIA_MAX_NAME, full);
    m.name = name;
    if (tt_media_record_file_name(&m, file, sizeof file) != 0) {
        fprintf(stderr,
                "tutti media: no file name can be made of cue %s and name %s: give --name\n", a.cue,
                name);
        media_close(&mc);
        return EXIT_USAGE;
    }
    m.source_seq = cap->seq;
    m.size = cap->size;
    m.hash.data = (uint8_t *)cap->hash;
    m.hash.len = TT_MEDIA_HASH_LEN;
    m.rate = cap->rate;
    m.time_reference = cap->time_reference;
    if (a.at_tc)
        rc = put_place_tc(&a, &mc.st, &m, fps_name);
    if (rc == 0) {
        fprintf(stderr, "tutti media: %s from %s (record %llu, %llu bytes)\n", file, cap->file,
                (unsigned long long)cap->seq, (unsigned long long)cap->size);
        rc = guide_send(&mc, &m, file);
    }
    media_close(&mc);
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
    if (!strcmp(argv[1], "put"))
        return cmd_put(argc, argv, conn);
    if (!strcmp(argv[1], "guide"))
        return cmd_guide(argc, argv, conn);
    fprintf(stderr, "tutti media: unknown subcommand '%s' (try: tutti media --help)\n", argv[1]);
    return EXIT_USAGE;
}
