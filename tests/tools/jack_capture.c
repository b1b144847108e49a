/* tutti-jack-capture: test tool that records JACK output ports into mono
 * WAV files on one shared sample timeline, for the JACK integration test.
 *
 *   tutti-jack-capture --seconds S --out PREFIX PORT [PORT...]
 *
 * Writes PREFIX-1.wav, PREFIX-2.wav, ... (one per port, 32-bit float) and
 * beside each a PREFIX-N.wav.json with sample_rate and local_start_ns = 0,
 * so `tutti clicks` compares them sample for sample: every file starts at
 * the same JACK frame. The process callback only copies into memory
 * allocated before activation.
 */
#define _GNU_SOURCE
#include <jack/jack.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 8

static jack_port_t *inputs[MAX_PORTS];
static float *rec[MAX_PORTS];
static size_t cap, used;
static atomic_int recording;
static int nports;

static int process(jack_nframes_t n, void *arg)
{
    (void)arg;
    if (!atomic_load(&recording))
        return 0;
    size_t take = used + n <= cap ? n : cap - used;
    for (int p = 0; p < nports; p++)
        memcpy(rec[p] + used, jack_port_get_buffer(inputs[p], n), take * sizeof(float));
    used += take;
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = 5;
    const char *prefix = NULL;
    const char *sources[MAX_PORTS];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            prefix = argv[++i];
        else if (argv[i][0] != '-' && nports < MAX_PORTS)
            sources[nports++] = argv[i];
        else {
            fprintf(stderr, "usage: tutti-jack-capture --seconds S --out PREFIX PORT...\n");
            return 2;
        }
    }
    if (!prefix || nports == 0 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "usage: tutti-jack-capture --seconds S --out PREFIX PORT...\n");
        return 2;
    }
    jack_status_t status;
    jack_client_t *c = jack_client_open("tutti-capture", JackNoStartServer, &status);
    if (!c) {
        fprintf(stderr, "tutti-jack-capture: no JACK server (0x%x)\n", (unsigned)status);
        return 1;
    }
    int rate = (int)jack_get_sample_rate(c);
    cap = (size_t)(seconds * rate);
    for (int p = 0; p < nports; p++) {
        char name[32];
        snprintf(name, sizeof name, "in%d", p + 1);
        inputs[p] = jack_port_register(c, name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        rec[p] = calloc(cap, sizeof(float));
        if (!inputs[p] || !rec[p]) {
            fprintf(stderr, "tutti-jack-capture: cannot set up port %d\n", p + 1);
            return 1;
        }
    }
    jack_set_process_callback(c, process, NULL);
    if (jack_activate(c) != 0) {
        fprintf(stderr, "tutti-jack-capture: cannot activate\n");
        return 1;
    }
    for (int p = 0; p < nports; p++)
        if (jack_connect(c, sources[p], jack_port_name(inputs[p])) != 0) {
            fprintf(stderr, "tutti-jack-capture: cannot connect %s\n", sources[p]);
            return 1;
        }
    atomic_store(&recording, 1);
    struct timespec ts = {0, 50000000};
    for (int waited = 0; used < cap && waited < (int)(seconds * 20) + 200; waited++)
        nanosleep(&ts, NULL);
    atomic_store(&recording, 0);
    jack_deactivate(c);
    jack_client_close(c);
    int rc = used > 0 ? 0 : 1;
    for (int p = 0; p < nports; p++) {
        char path[4096], json[4200];
        snprintf(path, sizeof path, "%s-%d.wav", prefix, p + 1);
        SF_INFO info = {
            .samplerate = rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
        SNDFILE *f = sf_open(path, SFM_WRITE, &info);
        if (!f || sf_writef_float(f, rec[p], (sf_count_t)used) != (sf_count_t)used)
            rc = 1;
        if (f)
            sf_close(f);
        snprintf(json, sizeof json, "%s.json", path);
        FILE *j = fopen(json, "w");
        if (j) {
            fprintf(j, "{\"sample_rate\": %d, \"local_start_ns\": 0}\n", rate);
            fclose(j);
        }
        free(rec[p]);
    }
    printf("captured %zu samples per port at %d Hz\n", used, rate);
    return rc;
}
