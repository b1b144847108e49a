/* tutti-jack-midi-capture: test tool that records every MIDI event of
 * JACK MIDI output ports with its absolute JACK frame, and the JACK
 * transport as jack_transport_query sees it every period, for it_midi.
 *
 *   tutti-jack-midi-capture --seconds S --out FILE PORT [PORT...]
 *
 * FILE gets one line per event and per period, in frame order:
 *   M PORT FRAME HEX...          PORT 1.., FRAME = the cycle's first frame
 *                                 + the event's offset, bytes in hex
 *   T FRAME STATE TFRAME BBT BAR BEAT TICK BPM BPB BTYPE MONO
 *                                 the cycle's first frame, state
 *                                 (Stopped, Rolling, Starting, Other), the
 *                                 transport frame, 1 if BBT is valid, and
 *                                 CLOCK_MONOTONIC ns when the callback began
 *                                 (a stalled server shows there: its frames
 *                                 stop counting while time goes on)
 * plus a first line "R RATE PERIOD". The process callback only copies into
 * memory allocated before activation; the file is written at the end.
 */
#define _GNU_SOURCE
#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/transport.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 8
#define MAX_EVENTS 200000
#define MAX_CYCLES 100000
#define MAX_BYTES 16

typedef struct {
    int port;
    jack_nframes_t frame;
    int len;
    unsigned char b[MAX_BYTES];
} ev_t;

typedef struct {
    jack_nframes_t frame;
    long long mono;
    jack_transport_state_t state;
    jack_position_t pos;
} tp_t;

static jack_client_t *client;
static jack_port_t *inputs[MAX_PORTS];
static int nports;
static ev_t *evs;
static tp_t *tps;
static size_t nev, ntp, lost;
static atomic_int recording;

static int process(jack_nframes_t n, void *arg)
{
    (void)arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!atomic_load(&recording))
        return 0;
    jack_nframes_t f0 = jack_last_frame_time(client);
    for (int p = 0; p < nports; p++) {
        void *buf = jack_port_get_buffer(inputs[p], n);
        uint32_t count = jack_midi_get_event_count(buf);
        for (uint32_t i = 0; i < count; i++) {
            jack_midi_event_t e;
            if (jack_midi_event_get(&e, buf, i) != 0)
                continue;
            if (nev >= MAX_EVENTS || e.size > MAX_BYTES) {
                lost++;
                continue;
            }
            ev_t *o = &evs[nev++];
            o->port = p + 1;
            o->frame = f0 + e.time;
            o->len = (int)e.size;
            memcpy(o->b, e.buffer, e.size);
        }
    }
    if (ntp < MAX_CYCLES) {
        tp_t *t = &tps[ntp++];
        t->frame = f0;
        t->mono = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
        t->state = jack_transport_query(client, &t->pos);
    }
    return 0;
}

static const char *state_name(jack_transport_state_t s)
{
    switch (s) {
    case JackTransportStopped: return "Stopped";
    case JackTransportRolling: return "Rolling";
    case JackTransportStarting: return "Starting";
    default: return "Other";
    }
}

int main(int argc, char **argv)
{
    double seconds = 5;
    const char *out = NULL;
    const char *sources[MAX_PORTS];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] != '-' && nports < MAX_PORTS)
            sources[nports++] = argv[i];
        else {
            fprintf(stderr, "usage: tutti-jack-midi-capture --seconds S --out FILE PORT...\n");
            return 2;
        }
    }
    if (!out || nports == 0 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "usage: tutti-jack-midi-capture --seconds S --out FILE PORT...\n");
        return 2;
    }
    evs = calloc(MAX_EVENTS, sizeof *evs);
    tps = calloc(MAX_CYCLES, sizeof *tps);
    if (!evs || !tps) {
        fprintf(stderr, "tutti-jack-midi-capture: out of memory\n");
        return 1;
    }
    jack_status_t status;
    client = jack_client_open("tutti-midi-capture", JackNoStartServer, &status);
    if (!client) {
        fprintf(stderr, "tutti-jack-midi-capture: no JACK server (0x%x)\n", (unsigned)status);
        return 1;
    }
    for (int p = 0; p < nports; p++) {
        char name[32];
        snprintf(name, sizeof name, "in%d", p + 1);
        inputs[p] = jack_port_register(client, name, JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
        if (!inputs[p]) {
            fprintf(stderr, "tutti-jack-midi-capture: cannot register port %d\n", p + 1);
            return 1;
        }
    }
    if (jack_set_process_callback(client, process, NULL) != 0 || jack_activate(client) != 0) {
        fprintf(stderr, "tutti-jack-midi-capture: cannot activate\n");
        return 1;
    }
    for (int p = 0; p < nports; p++)
        if (jack_connect(client, sources[p], jack_port_name(inputs[p])) != 0) {
            fprintf(stderr, "tutti-jack-midi-capture: cannot connect %s\n", sources[p]);
            return 1;
        }
    atomic_store(&recording, 1);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
    atomic_store(&recording, 0);
    int rate = (int)jack_get_sample_rate(client), period = (int)jack_get_buffer_size(client);
    jack_deactivate(client);
    jack_client_close(client);
    FILE *f = fopen(out, "w");
    if (!f) {
        perror(out);
        return 1;
    }
    fprintf(f, "R %d %d\n", rate, period);
    size_t e = 0;
    for (size_t t = 0; t <= ntp; t++) {
        /* This cycle's events (frames from tps[t].frame on) after its transport line. */
        jack_nframes_t end = t < ntp ? tps[t].frame : 0;
        for (; e < nev && (t == ntp || (int32_t)(evs[e].frame - end) < 0); e++) {
            fprintf(f, "M %d %u", evs[e].port, evs[e].frame);
            for (int i = 0; i < evs[e].len; i++)
                fprintf(f, " %02x", evs[e].b[i]);
            fputc('\n', f);
        }
        if (t == ntp)
            break;
        const jack_position_t *p = &tps[t].pos;
        int bbt = (p->valid & JackPositionBBT) != 0;
        fprintf(f, "T %u %s %u %d %d %d %d %.6f %.0f %.0f %lld\n", tps[t].frame,
                state_name(tps[t].state), p->frame, bbt, bbt ? p->bar : 0, bbt ? p->beat : 0,
                bbt ? p->tick : 0, bbt ? p->beats_per_minute : 0.0,
                bbt ? (double)p->beats_per_bar : 0.0, bbt ? (double)p->beat_type : 0.0,
                tps[t].mono);
    }
    if (fclose(f) != 0) {
        perror(out);
        return 1;
    }
    if (lost)
        fprintf(stderr, "tutti-jack-midi-capture: %zu events not kept\n", lost);
    free(evs);
    free(tps);
    return lost ? 1 : 0;
}
