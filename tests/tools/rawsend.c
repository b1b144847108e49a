/* tutti-rawsend: test tool that sends hostile frames to a coordinator as
 * an authenticated client, to show the coordinator answers with an error
 * or drops them, and keeps serving.
 *
 *   tutti-rawsend --coordinator EP --server-key F.pub --key F.key --mode MODE
 *
 * MODE: random (random bytes), truncated (a valid note envelope cut in
 * half), badversion (version 99), noversion (version field missing),
 * oversize (9 MiB frame, over the coordinator's limit), multiframe (two
 * frames), empty (zero-length frame), nobody (envelope with no body).
 * Prints "error CODE MESSAGE", "reply KIND" or "no reply" and exits 0 when
 * the frame was refused or dropped, 1 when it was accepted as a request. */
#include "tt_error.h"
#include "tt_keys.h"
#include "tt_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char **argv)
{
    const char *ep = NULL, *skey = NULL, *key = NULL, *mode = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--coordinator"))
            ep = argv[i + 1];
        else if (!strcmp(argv[i], "--server-key"))
            skey = argv[i + 1];
        else if (!strcmp(argv[i], "--key"))
            key = argv[i + 1];
        else if (!strcmp(argv[i], "--mode"))
            mode = argv[i + 1];
    }
    if (!ep || !skey || !key || !mode) {
        fprintf(stderr, "usage: tutti-rawsend --coordinator EP --server-key F.pub --key F.key "
                        "--mode random|truncated|badversion|noversion|oversize|multiframe|"
                        "empty|nobody\n");
        return 2;
    }
    char why[TT_WHY_LEN], server_key[TT_Z85_KEY_LEN + 1];
    tt_keypair_t *kp = tt_keypair_load(key, why);
    if (!kp || tt_pubkey_load(skey, server_key, why) != 0) {
        fprintf(stderr, "tutti-rawsend: %s\n", why);
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    tt_wire_setup_client(s, kp, server_key, why);
    zmq_connect(s, ep);

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
                printf("error %u %s\n", m.env->error->code, m.env->error->message);
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
