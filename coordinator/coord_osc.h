/* coord_osc: the coordinator's OSC control surface (--osc-surface PORT
 * --osc-as NAME): operator commands over UDP on 127.0.0.1, run as NAME.
 *
 * This module only reads and writes the datagrams; coord_server turns a
 * parsed command into the same request envelope `tutti arm/roll/stop/take
 * rate` sends and dispatches it through the one request table with NAME's
 * access entry: the same role check, the same rule checks, the same
 * record and the same group commit. The reply goes back to the sender's
 * address and port once the write has committed (or been refused).
 *
 * Address space, in (one message per datagram, at most
 * COORD_OSC_MAX_MESSAGE bytes; bundles are refused):
 *   /tutti/arm s           cue
 *   /tutti/roll s [i]      cue [from-bar, 1..100000; default 1]
 *   /tutti/stop            (now)
 *   /tutti/rate sis [s]    cue, take, rating (circled, hold, ng,
 *                          false-start) [note]: `tutti take rate`. There
 *                          is no playback-rate command in tutti; this is
 *                          the take's rating.
 * Out, to the sender:
 *   /tutti/reply sshs      command ("roll"), "ok" or "error", the record's
 *                          seq (0 on error), "" or the refusal's reason
 */
#ifndef COORD_OSC_H
#define COORD_OSC_H

#include <stddef.h>
#include <stdint.h>

#define COORD_OSC_MAX_MESSAGE 1024
#define COORD_OSC_MAX_NOTE 512

typedef enum { COORD_OSC_ARM = 1, COORD_OSC_ROLL, COORD_OSC_STOP, COORD_OSC_RATE } coord_osc_kind_t;

typedef struct {
    int kind;         /* coord_osc_kind_t */
    const char *name; /* "arm", "roll", "stop", "rate" */
    char cue[33];
    int32_t from_bar; /* roll: 0 when not given */
    uint32_t take;    /* rate */
    char rating[16];
    char note[COORD_OSC_MAX_NOTE + 1];
} coord_osc_cmd_t;

/* Parses one datagram data[0..len) into *out. 0; TT_ERR_TOO_BIG over
 * COORD_OSC_MAX_MESSAGE; TT_ERR_PROTOCOL when it is no OSC message (or a
 * bundle); TT_ERR_INVALID for an unknown address or arguments of other
 * types or out of range. why says which; out->name is set whenever the
 * address was known ("?" otherwise), for the reply. */
int coord_osc_parse(const void *data, size_t len, coord_osc_cmd_t *out, char *why);

/* The reply as a datagram into buf[0..cap): /tutti/reply with command,
 * status ("ok"/"error"), seq and text. 0 with *len, or TT_ERR_TOO_BIG. */
int coord_osc_reply(const char *command, int ok, uint64_t seq, const char *text, void *buf,
                    size_t cap, size_t *len, char *why);

/* The UDP socket (non-blocking): bound to 127.0.0.1:port (0: any free
 * port; *bound gets it). Only loopback: the surface has no authentication
 * of its own. Returns the descriptor (the caller closes it), or TT_ERR_IO
 * with why. */
int coord_osc_open(unsigned port, unsigned *bound, char *why);

/* Parses --osc-surface: "PORT" or "127.0.0.1:PORT" (also "localhost:PORT");
 * any other host is refused. */
int coord_osc_parse_bind(const char *arg, unsigned *port, char *why);

#endif
