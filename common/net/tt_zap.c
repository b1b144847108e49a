/* tt_zap: ZAP (rfc.zeromq.org spec 27) for CURVE. See tt_zap.h. */
#include "tt_zap.h"
#include "tt_diag.h"
#include "tt_error.h"
#include "tt_time.h"
#include "tt_wire.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

void *tt_zap_bind(void *ctx, char *why)
{
    void *zap = zmq_socket(ctx, ZMQ_REP);
    if (!zap) {
        tt_fail(why, TT_ERR_IO, "creating the ZAP socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int linger = 0;
    if (zmq_setsockopt(zap, ZMQ_LINGER, &linger, sizeof linger) != 0) {
        tt_fail(why, TT_ERR_IO, "setting the ZAP socket's linger: %s", zmq_strerror(errno));
        zmq_close(zap);
        return NULL;
    }
    if (zmq_bind(zap, "inproc://zeromq.zap.01") != 0) {
        tt_fail(why, TT_ERR_IO, "binding the ZAP handler: %s", zmq_strerror(errno));
        zmq_close(zap);
        return NULL;
    }
    return zap;
}

#define ZAP_FRAMES 7 /* version, request id, domain, address, identity, mechanism, key */

/* A reply that fails to go out leaves the client's handshake hanging until
 * its handshake timeout: say so, with the verdict it was meant to carry. */
static void reply(void *zap, const zmq_msg_t *request_id, const char *code, const char *text,
                  const char *user_id)
{
    const char *frames[6] = {"1.0", zmq_msg_data((zmq_msg_t *)request_id), code, text, user_id, ""};
    size_t sizes[6] = {
        3, zmq_msg_size((zmq_msg_t *)request_id), strlen(code), strlen(text), strlen(user_id), 0};
    for (int i = 0; i < 6; i++)
        if (zmq_send(zap, frames[i], sizes[i], i < 5 ? ZMQ_SNDMORE : 0) < 0) {
            tt_diag_error("ZAP reply %s (%s) not sent, frame %d: %s", code, text, i + 1,
                          zmq_strerror(errno));
            return;
        }
}

/* Logs the refusal of key unless it was logged within the last minute. */
static void log_refusal(tt_zap_quiet_t *q, const char *key, const char *address)
{
    int64_t now = tt_time_mono_ns();
    int slot = 0;
    for (int i = 0; i < TT_ZAP_QUIET_KEYS; i++) {
        if (!strcmp(q->k[i].key, key)) {
            slot = i;
            break;
        }
        if (q->k[i].until_ns < q->k[slot].until_ns)
            slot = i; /* else the entry that went quiet first */
    }
    if (!strcmp(q->k[slot].key, key) && now < q->k[slot].until_ns) {
        q->k[slot].quiet++;
        return;
    }
    if (!strcmp(q->k[slot].key, key) && q->k[slot].quiet)
        tt_diag_warn("refused unknown key %s from %s (and %u times more in the last minute)", key,
                     address, q->k[slot].quiet);
    else
        tt_diag_warn("refused unknown key %s from %s", key, address);
    snprintf(q->k[slot].key, sizeof q->k[slot].key, "%s", key);
    q->k[slot].until_ns = now + TT_ZAP_QUIET_NS;
    q->k[slot].quiet = 0;
}

void tt_zap_handle(void *zap, const tt_access_t *access, tt_zap_quiet_t *quiet)
{
    for (;;) {
        zmq_msg_t f[ZAP_FRAMES + 1];
        int n = 0, more = 1;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, zap, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                zmq_msg_close(&part);
                if (n == 0)
                    return; /* nothing pending */
                break;
            }
            more = zmq_msg_more(&part);
            if (n < ZAP_FRAMES + 1)
                f[n++] = part;
            else
                zmq_msg_close(&part);
        }
        if (n >= 2) {
            char address[64] = "";
            if (n >= 4)
                snprintf(address, sizeof address, "%.*s", (int)zmq_msg_size(&f[3]),
                         (const char *)zmq_msg_data(&f[3]));
            int is_curve = n == ZAP_FRAMES && zmq_msg_size(&f[5]) == 5 &&
                           memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
                           zmq_msg_size(&f[6]) == 32;
            if (!is_curve) {
                tt_diag_warn("refused a non-CURVE handshake from %s", address);
                reply(zap, &f[1], "400", "CURVE required", "");
            } else {
                char key[TT_Z85_KEY_LEN + 1];
                zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
                const tt_access_entry_t *e = tt_access_find_key(access, key);
                if (e) {
                    reply(zap, &f[1], "200", "OK", key);
                } else {
                    log_refusal(quiet, key, address);
                    reply(zap, &f[1], "400", "key not in access file", "");
                }
            }
        } else if (n == 1 && zmq_send(zap, "", 0, 0) < 0) { /* keep the REP state machine sane */
            tt_diag_error("ZAP: answering a one-frame request: %s", zmq_strerror(errno));
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
    }
}
