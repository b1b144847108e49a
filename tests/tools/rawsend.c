/* tutti-rawsend: test tool that sends hostile frames to a coordinator as
 * an authenticated client, to show the coordinator answers with an error
 * or drops them, and keeps serving.
 *
 *   tutti-rawsend [--coordinator EP --server-key F.pub --key F.key] --mode MODE
 *   (the connection flags default to $TUTTI_* like every client's)
 *
 * MODE: random (random bytes), truncated (a valid note envelope cut in
 * half), badversion (version 99), noversion (version field missing),
 * oversize (9 MiB frame, over the coordinator's limit), multiframe (two
 * frames), empty (zero-length frame), nobody (envelope with no body).
 * Prints "error CODE MESSAGE", "reply KIND" or "no reply" and exits 0 when
 * the frame was refused or dropped, 1 when it was accepted as a request.
 * The error's request id is printed as "error CODE [id N] MESSAGE" when
 * the reply echoes one.
 *
 * MODE bignote: a valid 2 MiB note (refused by size before decoding for
 * any role but operator). MODE fill: 300 notes of 4000 bytes, pipelined,
 * so the log holds over 1 MiB; prints "filled N". MODE flood: --count N
 * (200) fetches of the whole log from seq 1 -- or, with --media
 * CUE:TAKE:ROOM:INPUT, media fetches of that file from offset 0 (point
 * --coordinator at the upload port) -- sent without ever reading a reply
 * (a receive queue of one message, so the coordinator holds the rest),
 * then --hold-s S (3) of silence; prints "flooded N" once all are sent.
 *
 * MODE committed is no hostile frame: rounds of notes with hello,
 * heartbeat, status and fetch pipelined between them, all sent without
 * waiting. A write's reply goes out only after its commit, so every seq a
 * read reports must be covered by a write reply that arrived before it;
 * exits 1 naming the read that reported a seq not yet committed.
 *
 * MODE idem is no hostile frame either: --count N (default 1) notes with
 * one idempotency key (--key-hex HEX, any length, to try wrong ones;
 * default 16 random bytes), sent back to back so they meet in one commit
 * group; prints "key HEX", then per reply in arrival order "write SEQ
 * duplicate 0|1" or "error CODE MESSAGE"; exits 1 when a reply is
 * missing. */
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_opts.h"
#include "tt_text.h"
#include "tt_wire.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static size_t pack_note(uint32_t version, uint8_t **out)
{
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__NoteRequest nr = TUTTI__NOTE_REQUEST__INIT;
    nr.text = "this note must never be logged";
    env.version = version;
    env.request_id = 7;
    env.body_case = TUTTI__ENVELOPE__BODY_NOTE;
    env.note = &nr;
    size_t len = tutti__envelope__get_packed_size(&env);
    *out = malloc(len);
    tutti__envelope__pack(&env, *out);
    return len;
}

static int send_env(void *s, uint64_t id, Tutti__Envelope *env)
{
    char why[TT_WHY_LEN];
    env->request_id = id;
    if (tt_wire_send(s, NULL, 0, env, why) != 0) {
        fprintf(stderr, "tutti-rawsend: %s\n", why);
        return -1;
    }
    return 0;
}

/* The seq a read reply reports as the coordinator's head, or -1. */
static long long reported_seq(const Tutti__Envelope *e, const char **what)
{
    switch (e->body_case) {
    case TUTTI__ENVELOPE__BODY_HELLO_REPLY:
        *what = "hello";
        return (long long)e->hello_reply->last_seq;
    case TUTTI__ENVELOPE__BODY_HEARTBEAT: *what = "heartbeat"; return (long long)e->heartbeat->seq;
    case TUTTI__ENVELOPE__BODY_STATUS_REPLY:
        *what = "status";
        return (long long)e->status_reply->last_seq;
    case TUTTI__ENVELOPE__BODY_FETCH_REPLY:
        *what = "fetch";
        return (long long)e->fetch_reply->last_seq;
    default: return -1;
    }
}

/* Sends rounds of writes and reads back to back; see the header. */
static int check_committed(void *s)
{
    enum { ROUNDS = 20, NOTES = 24, READS = 4 };
    Tutti__Envelope note = TUTTI__ENVELOPE__INIT, reads[READS];
    Tutti__NoteRequest nr = TUTTI__NOTE_REQUEST__INIT;
    Tutti__Hello hello = TUTTI__HELLO__INIT;
    Tutti__Heartbeat hb = TUTTI__HEARTBEAT__INIT;
    Tutti__StatusRequest st = TUTTI__STATUS_REQUEST__INIT;
    Tutti__FetchRequest fr = TUTTI__FETCH_REQUEST__INIT;
    nr.text = "pipelined";
    note.body_case = TUTTI__ENVELOPE__BODY_NOTE;
    note.note = &nr;
    hello.program = "tutti-rawsend";
    for (int i = 0; i < READS; i++)
        tutti__envelope__init(&reads[i]);
    reads[0].body_case = TUTTI__ENVELOPE__BODY_HELLO;
    reads[0].hello = &hello;
    reads[1].body_case = TUTTI__ENVELOPE__BODY_HEARTBEAT;
    reads[1].heartbeat = &hb;
    reads[2].body_case = TUTTI__ENVELOPE__BODY_STATUS;
    reads[2].status = &st;
    reads[3].body_case = TUTTI__ENVELOPE__BODY_FETCH;
    reads[3].fetch = &fr;
    uint64_t id = 100;
    unsigned long long committed = 0; /* highest seq known committed */
    int bad = 0, checked = 0;
    /* Alone, a status shows the head before the rounds start. */
    zmq_pollitem_t first = {s, 0, ZMQ_POLLIN, 0};
    tt_wire_msg_t m0;
    char why0[TT_WHY_LEN];
    if (send_env(s, ++id, &reads[2]) != 0 || zmq_poll(&first, 1, 5000) <= 0 ||
        tt_wire_recv(s, 0, 0, &m0, why0) != 0 ||
        m0.env->body_case != TUTTI__ENVELOPE__BODY_STATUS_REPLY) {
        printf("no status reply to start from\n");
        return 1;
    }
    committed = m0.env->status_reply->last_seq;
    tt_wire_msg_clear(&m0);
    for (int round = 0; round < ROUNDS && !bad; round++) {
        size_t expect = 0;
        for (int i = 0; i < NOTES; i++, expect++)
            if (send_env(s, ++id, &note) != 0)
                return 2;
        for (int i = 0; i < READS; i++, expect++) {
            fr.from_seq = committed + 1;
            if (send_env(s, ++id, &reads[i]) != 0)
                return 2;
        }
        for (int i = 0; i < NOTES; i++, expect++)
            if (send_env(s, ++id, &note) != 0)
                return 2;
        for (; expect > 0; expect--) {
            zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
            tt_wire_msg_t m;
            char why[TT_WHY_LEN];
            if (zmq_poll(&item, 1, 5000) <= 0 || tt_wire_recv(s, 0, 0, &m, why) != 0) {
                printf("no reply in round %d (%zu missing)\n", round, expect);
                return 1;
            }
            const char *what = "";
            long long seq = reported_seq(m.env, &what);
            if (m.env->body_case == TUTTI__ENVELOPE__BODY_WRITE_REPLY) {
                if (m.env->write_reply->seq > committed)
                    committed = m.env->write_reply->seq;
            } else if (seq < 0) {
                printf("unexpected reply %d in round %d\n", (int)m.env->body_case, round);
                bad = 1;
            } else if ((unsigned long long)seq > committed) {
                printf("%s reported seq %lld while writes were confirmed only to %llu (round %d)\n",
                       what, seq, committed, round);
                bad = 1;
            } else {
                checked++;
            }
            tt_wire_msg_clear(&m);
        }
    }
    if (!bad)
        printf("committed: %d reads, none ahead of the confirmed writes (head %llu)\n", checked,
               committed);
    return bad;
}

/* Sends count notes with one idempotency key; see the header. */
static int check_idem(void *s, const char *key_hex, int count)
{
    uint8_t key[64];
    size_t key_len = 16;
    if (key_hex) {
        key_len = strlen(key_hex) / 2;
        if (key_len > sizeof key || tt_hex_decode(key_hex, strlen(key_hex), key, key_len) != 0) {
            fprintf(stderr, "tutti-rawsend: --key-hex wants up to 64 bytes in hex\n");
            return 2;
        }
    } else {
        randombytes_buf(key, key_len);
    }
    char hex[2 * sizeof key + 1];
    tt_hex_encode(key, key_len, hex);
    printf("key %s\n", hex);
    Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
    Tutti__NoteRequest nr = TUTTI__NOTE_REQUEST__INIT;
    nr.text = "once only";
    env.body_case = TUTTI__ENVELOPE__BODY_NOTE;
    env.note = &nr;
    env.idempotency_key.data = key;
    env.idempotency_key.len = key_len;
    for (int i = 0; i < count; i++)
        if (send_env(s, (uint64_t)i + 1, &env) != 0)
            return 2;
    for (int i = 0; i < count; i++) {
        zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
        tt_wire_msg_t m;
        char why[TT_WHY_LEN];
        if (zmq_poll(&item, 1, 5000) <= 0 || tt_wire_recv(s, 0, 0, &m, why) != 0) {
            printf("no reply (%d of %d missing)\n", count - i, count);
            return 1;
        }
        if (m.env->body_case == TUTTI__ENVELOPE__BODY_WRITE_REPLY)
            printf("write %llu duplicate %d\n", (unsigned long long)m.env->write_reply->seq,
                   (int)m.env->write_reply->duplicate);
        else if (m.env->body_case == TUTTI__ENVELOPE__BODY_ERROR)
            printf("error %d %s\n", (int)m.env->error->code, m.env->error->message);
        else
            printf("reply %d\n", (int)m.env->body_case);
        tt_wire_msg_clear(&m);
    }
    return 0;
}

int main(int argc, char **argv)
{
    tt_conn_opts_t conn = {0};
    const char *mode = NULL, *key_hex = NULL;
    char media[256] = "";
    int count = 200, count_given = 0, hold_s = 3;
    enum { O_MODE = 1, O_COUNT, O_HOLD, O_MEDIA, O_KEY_HEX };
    static const struct option opts[] = {
        TT_CONN_OPTIONS,
        {"mode", required_argument, 0, O_MODE},
        {"count", required_argument, 0, O_COUNT},
        {"hold-s", required_argument, 0, O_HOLD},
        {"media", required_argument, 0, O_MEDIA},
        {"key-hex", required_argument, 0, O_KEY_HEX},
        {0, 0, 0, 0},
    };
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == O_MODE)
            mode = optarg;
        else if (c == O_COUNT && (count_given = 1))
            bad |= (count = atoi(optarg)) <= 0 || count > 100000;
        else if (c == O_HOLD)
            bad |= (hold_s = atoi(optarg)) < 0 || hold_s > 600;
        else if (c == O_MEDIA)
            bad |= snprintf(media, sizeof media, "%s", optarg) >= (int)sizeof media;
        else if (c == O_KEY_HEX)
            key_hex = optarg;
        else if (c == TT_OPT_COORDINATOR || c == TT_OPT_SERVER_KEY || c == TT_OPT_KEY)
            bad |= tt_conn_opts_set(&conn, c, optarg, NULL) != 0;
        else
            bad = 1;
    }
    if (bad || optind < argc || tt_conn_opts_resolve(&conn) != 0 || !mode) {
        fprintf(
            stderr,
            "usage: tutti-rawsend --coordinator EP --server-key F.pub --key F.key "
            "--mode random|truncated|badversion|noversion|oversize|multiframe|bignote|fill|flood|"
            "empty|nobody|committed|idem [--count N --hold-s S --media CUE:TAKE:ROOM:INPUT "
            "--key-hex HEX]\n");
        return 2;
    }
    char why[TT_WHY_LEN], server_key[TT_Z85_KEY_LEN + 1];
    tt_keypair_t *kp = tt_keypair_load(conn.key_path, why);
    if (!kp || tt_pubkey_load(conn.server_key_path, server_key, why) != 0) {
        fprintf(stderr, "tutti-rawsend: %s\n", why);
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    tt_wire_setup_client(s, kp, server_key, why);
    if (!strcmp(mode, "flood")) { /* hold one reply here; the rest wait at the coordinator */
        int one = 1, small = 4096;
        zmq_setsockopt(s, ZMQ_RCVHWM, &one, sizeof one);
        zmq_setsockopt(s, ZMQ_RCVBUF, &small, sizeof small);
    }
    zmq_connect(s, conn.endpoint);

    if (!strcmp(mode, "fill") || !strcmp(mode, "flood")) {
        int fill = !strcmp(mode, "fill");
        int n = fill ? 300 : count, sent = 0;
        char *text = calloc(1, 4001);
        memset(text, 'x', 4000);
        char *m_cue = media, *m_take = strchr(media, ':');
        char *m_room = m_take ? strchr(m_take + 1, ':') : NULL;
        char *m_input = m_room ? strchr(m_room + 1, ':') : NULL;
        if (media[0] && !m_input) {
            fprintf(stderr, "tutti-rawsend: --media wants CUE:TAKE:ROOM:INPUT\n");
            return 2;
        }
        if (m_input) {
            *m_take++ = *m_room++ = *m_input++ = '\0';
        }
        for (int i = 0; i < n; i++) {
            Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
            Tutti__NoteRequest nr = TUTTI__NOTE_REQUEST__INIT;
            Tutti__FetchRequest fr = TUTTI__FETCH_REQUEST__INIT;
            Tutti__MediaFetch mf = TUTTI__MEDIA_FETCH__INIT;
            if (fill) {
                nr.text = text;
                env.body_case = TUTTI__ENVELOPE__BODY_NOTE;
                env.note = &nr;
            } else if (m_input) {
                mf.cue = m_cue;
                mf.take = (uint32_t)atoi(m_take);
                mf.room = m_room;
                mf.input = m_input;
                env.body_case = TUTTI__ENVELOPE__BODY_MEDIA_FETCH;
                env.media_fetch = &mf;
            } else {
                fr.from_seq = 1;
                env.body_case = TUTTI__ENVELOPE__BODY_FETCH;
                env.fetch = &fr;
            }
            sent += send_env(s, (uint64_t)i + 1, &env) == 0;
        }
        free(text);
        int replies = 0;
        if (fill) { /* every note answered before we go */
            zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
            while (replies < sent && zmq_poll(&item, 1, 10000) > 0) {
                tt_wire_msg_t m;
                if (tt_wire_recv(s, 0, 0, &m, why) == 0)
                    replies++;
                tt_wire_msg_clear(&m);
            }
            printf("filled %d\n", replies);
        } else {
            printf("flooded %d\n", sent);
            fflush(stdout);
            struct timespec pause = {hold_s, 0}; /* hold the connection open, reading nothing */
            nanosleep(&pause, NULL);
        }
        int linger = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(s);
        zmq_ctx_term(ctx);
        tt_keypair_destroy(&kp);
        return fill && replies < sent;
    }
    if (!strcmp(mode, "committed") || !strcmp(mode, "idem")) {
        int rc = !strcmp(mode, "idem") ? check_idem(s, key_hex, count_given ? count : 1)
                                       : check_committed(s);
        zmq_close(s);
        zmq_ctx_term(ctx);
        tt_keypair_destroy(&kp);
        return rc;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int frames = 1;
    if (!strcmp(mode, "random")) {
        len = 1000;
        buf = malloc(len);
        srand(42);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rand();
    } else if (!strcmp(mode, "truncated")) {
        len = pack_note(TT_PROTOCOL_VERSION, &buf) / 2;
    } else if (!strcmp(mode, "badversion")) {
        len = pack_note(99, &buf);
    } else if (!strcmp(mode, "noversion")) {
        len = pack_note(0, &buf);
    } else if (!strcmp(mode, "oversize")) {
        len = 9 * 1024 * 1024;
        buf = calloc(1, len);
    } else if (!strcmp(mode, "multiframe")) {
        len = pack_note(TT_PROTOCOL_VERSION, &buf);
        frames = 2;
    } else if (!strcmp(mode, "empty")) {
        buf = malloc(1);
        len = 0;
    } else if (!strcmp(mode, "bignote")) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        Tutti__NoteRequest nr = TUTTI__NOTE_REQUEST__INIT;
        char *text = calloc(1, 2 * 1024 * 1024 + 1);
        memset(text, 'x', 2 * 1024 * 1024);
        nr.text = text;
        env.version = TT_PROTOCOL_VERSION;
        env.request_id = 7;
        env.body_case = TUTTI__ENVELOPE__BODY_NOTE;
        env.note = &nr;
        len = tutti__envelope__get_packed_size(&env);
        buf = malloc(len);
        tutti__envelope__pack(&env, buf);
        free(text);
    } else if (!strcmp(mode, "nobody")) {
        Tutti__Envelope env = TUTTI__ENVELOPE__INIT;
        env.version = TT_PROTOCOL_VERSION;
        len = tutti__envelope__get_packed_size(&env);
        buf = malloc(len ? len : 1);
        tutti__envelope__pack(&env, buf);
    } else {
        fprintf(stderr, "tutti-rawsend: unknown mode %s\n", mode);
        return 2;
    }
    for (int f = 0; f < frames; f++)
        zmq_send(s, buf, len, f + 1 < frames ? ZMQ_SNDMORE : 0);
    free(buf);

    int rc = 0;
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 2000) > 0) {
        tt_wire_msg_t m;
        if (tt_wire_recv(s, 0, 0, &m, why) == 0) {
            if (m.env->body_case == TUTTI__ENVELOPE__BODY_ERROR) {
                if (m.env->request_id)
                    printf("error %d [id %llu] %s\n", (int)m.env->error->code,
                           (unsigned long long)m.env->request_id, m.env->error->message);
                else
                    printf("error %d %s\n", (int)m.env->error->code, m.env->error->message);
            } else {
                printf("reply %d\n", (int)m.env->body_case);
                rc = 1;
            }
            tt_wire_msg_clear(&m);
        } else {
            printf("undecodable reply: %s\n", why);
            rc = 1;
        }
    } else {
        printf("no reply\n");
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    tt_keypair_destroy(&kp);
    return rc;
}
