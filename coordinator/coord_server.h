/* coord_server: the coordinator's main loop.
 *
 * One thread owns the ROUTER (requests), the PUB (sequenced updates), the
 * ZAP handler and the LMDB store. Requests are validated against the
 * folded session state, sealed into signed records, committed in groups
 * (every write that arrived together shares one durable transaction), and
 * only then answered and published.
 */
#ifndef COORD_SERVER_H
#define COORD_SERVER_H

#include <signal.h>
#include <stddef.h>

#include "coord_upload.h"

typedef struct {
    const char *data_dir;
    const char *key_path;
    const char *access_path;
    const char *bind;          /* ROUTER endpoint, e.g. tcp://127.0.0.1:7700 */
    const char *pub_bind;      /* NULL: same host, any free port */
    const char *clock_bind;    /* NULL: same host, any free port */
    const char *upload_bind;   /* NULL: same host, any free port (media uploads and fetches) */
    int media_channels;        /* channels a room's file may hold, for its size bound (0: 1) */
    const char *endpoint_file; /* NULL or where to write the bound endpoints: request,
                                  updates and clock, one per line */
    const char *session_name;  /* genesis label for a new store */
    size_t map_mb;
    int room_timeout_ms;               /* a room silent this long is offline */
    coord_upload_limits_t part_limits; /* a room's unfinished uploads */
    /* A snapshot of the folded state goes into the store with every commit
     * that passes a multiple of this seq, and a start folds only the
     * records after the newest one (tt_snapshot.h). 0: none written, and a
     * start folds the whole log. */
    uint64_t snapshot_every;
    int osc_port;       /* the OSC control surface on 127.0.0.1 (0: any free port); -1: none */
    const char *osc_as; /* with it: the access file's name whose role the surface has */
    /* The standby pair (README "Standby coordinator"). The peer is the
     * access file's one entry of role coordinator: its key is the peer's
     * CURVE key, as a server and as a client. */
    const char *standby_of; /* start as the standby of the primary at this request endpoint */
    const char *peer;       /* a primary's standby endpoint: at start, a peer found serving
                               there makes this coordinator its standby (a rejoin) */
    const char *advertise;  /* a standby's request endpoint as the primary dials it
                               (NULL: the bound one) */
    int standby_ack_ms;     /* a primary waits this long for its standby's ack (0: 1000) */
} coord_config_t;

typedef struct coord_server coord_server_t;

/* Opens the store (writing genesis on first start), binds every socket.
 * NULL with a reason in why. */
coord_server_t *coord_server_new(const coord_config_t *cfg, char *why);
void coord_server_destroy(coord_server_t **self_p);

/* The exit status a failure of coord_server_new or _run asks for: 4 when
 * this coordinator's log is not a prefix of its peer's (a rejoin refused),
 * 0 when there is nothing special to say. */
int coord_server_exit_hint(void);

/* Runs until *stop is set. *reload set means: reread the access file
 * (cleared here). Returns 0, or an error with why on a fatal failure. */
int coord_server_run(coord_server_t *s, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload,
                     char *why);

#endif
