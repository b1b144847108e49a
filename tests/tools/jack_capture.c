/* tutti-jack-capture: test tool that records JACK output ports into mono
 * WAV files on one shared sample timeline, for the JACK integration test.
 *
 *   tutti-jack-capture --seconds S --out PREFIX PORT [PORT...]
 *
 * Writes PREFIX-1.wav, PREFIX-2.wav, ... (one per port, 32-bit float) and
 * beside each a PREFIX-N.wav.json with sample_rate and local_start_ns = 0,
 * so `tutti clicks` compares them sample for sample: every file starts at
 * the same JACK frame. PREFIX.cycles.json says when each recorded period
 * played, as JACK's cycle times put it (what an agent trusting them places
 * its samples by) on CLOCK_MONOTONIC: {"rate": R, "cycles": [[first
 * sample, mono ns of it, mono ns of the next period's], ...]}, so a test
 * can hold what the ports carried against session time. The process
 * callback only copies into memory allocated before activation.
 */
#define _GNU_SOURCE
#include <jack/jack.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdint.h>
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
static jack_client_t *client;

/* Each recorded period: its first sample and JACK's times of it and of the next. */
typedef struct {
    size_t first;
    jack_time_t usecs, next_usecs;
} cycle_t;
static cycle_t *cycles;
static size_t max_cycles, ncycles;

static int process(jack_nframes_t n, void *arg)
{
    (void)arg;
    if (!atomic_load(&recording))
        return 0;
    size_t take = used + n <= cap ? n : cap - used;
    jack_nframes_t frames;
    jack_time_t usecs, next;
    float period;
    if (take > 0 && ncycles < max_cycles &&
        jack_get_cycle_times(client, &frames, &usecs, &next, &period) == 0)
        cycles[ncycles++] = (cycle_t){used, usecs, next};
    for (int p = 0; p < nports; p++)
        memcpy(rec[p] + used, jack_port_get_buffer(inputs[p], n), take * sizeof(float));
    used += take;
    return 0;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* jack_get_time() minus CLOCK_MONOTONIC in ns, as agent_jack measures it:
 * the tightest of many bracketed readings, 0 when within a millisecond
 * (the same clock). */
static int64_t jack_minus_mono(void)
{
    int64_t best = 0, min_gap = INT64_MAX;
    for (int i = 0; i < 200; i++) {
        int64_t a = mono_ns();
        int64_t jt = (int64_t)jack_get_time() * 1000 + 500;
        int64_t b = mono_ns();
        if (b - a < min_gap) {
            min_gap = b - a;
            best = jt - (a + b) / 2;
        }
    }
    return best > 1000000 || best < -1000000 ? best : 0;
}

static int write_cycles(const char *prefix, int rate)
{
    char path[4200];
    snprintf(path, sizeof path, "%s.cycles.json", prefix);
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    int64_t off = jack_minus_mono();
    fprintf(f, "{\"rate\": %d, \"cycles\": [", rate);
    for (size_t i = 0; i < ncycles; i++)
        fprintf(f, "%s[%zu, %lld, %lld]", i ? ", " : "", cycles[i].first,
                (long long)((int64_t)cycles[i].usecs * 1000 - off),
                (long long)((int64_t)cycles[i].next_usecs * 1000 - off));
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? 0 : 1;
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
    client = c;
    if (!c) {
        fprintf(stderr, "tutti-jack-capture: no JACK server (0x%x)\n", (unsigned)status);
        return 1;
    }
    int rate = (int)jack_get_sample_rate(c);
    cap = (size_t)(seconds * rate);
    max_cycles = cap / 16 + 1; /* periods of 16 frames or more */
    cycles = calloc(max_cycles, sizeof *cycles);
    if (!cycles) {
        fprintf(stderr, "tutti-jack-capture: no memory for the cycle times\n");
        return 1;
    }
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
    int rc = used > 0 ? 0 : 1;
    if (write_cycles(prefix, rate) != 0) {
        fprintf(stderr, "tutti-jack-capture: cannot write %s.cycles.json\n", prefix);
        rc = 1;
    }
    free(cycles);
    jack_client_close(c);
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
