/* tutti-tonegen: writes a test input for --capture-from: a mono 24-bit WAV
 * with a 10 ms 1 kHz burst every N samples over a faint tone, so a recorded take
 * is recognisably a slice of it (and onsets can be found in it).
 *
 *   tutti-tonegen OUT.wav [--seconds S] [--rate R] [--every N] [--first K]
 */
#include <sndfile.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *out = NULL;
    double seconds = 30;
    long rate = 48000, every = 24000, first = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atol(argv[++i]);
        else if (!strcmp(argv[i], "--every") && i + 1 < argc)
            every = atol(argv[++i]);
        else if (!strcmp(argv[i], "--first") && i + 1 < argc)
            first = atol(argv[++i]);
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: tutti-tonegen OUT.wav [--seconds S (30)] [--rate R (48000)]\n"
                   "       [--every N samples between clicks (24000)] [--first K (0)]\n");
            return 0;
        } else if (!out && argv[i][0] != '-')
            out = argv[i];
        else {
            fprintf(stderr, "tutti-tonegen: unexpected %s (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!out || seconds <= 0 || seconds > 3600 || rate < 8000 || rate > 192000 || every < 1 ||
        first < 0) {
        fprintf(stderr, "tutti-tonegen: OUT.wav and sane values needed (see --help)\n");
        return 2;
    }
    SF_INFO info = {.samplerate = (int)rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
    SNDFILE *f = sf_open(out, SFM_WRITE, &info);
    if (!f) {
        fprintf(stderr, "tutti-tonegen: %s: %s\n", out, sf_strerror(NULL));
        return 1;
    }
    long n = (long)(seconds * (double)rate);
    float buf[4096];
    for (long done = 0; done < n;) {
        long k = n - done < 4096 ? n - done : 4096;
        for (long i = 0; i < k; i++) {
            long s = done + i;
            /* A faint tone (below the onset finder's quiet level) and, every
             * N samples, a 10 ms 1 kHz burst that starts on its sample. */
            double v = 0.005 * sin(2 * M_PI * 220.0 * (double)s / (double)rate);
            long since = s - first, in = since % every;
            if (since >= 0 && in < rate / 100)
                v = 0.8 * sin(2 * M_PI * 1000.0 * (double)in / (double)rate);
            buf[i] = (float)v;
        }
        if (sf_writef_float(f, buf, k) != k) {
            fprintf(stderr, "tutti-tonegen: writing %s: %s\n", out, sf_strerror(f));
            sf_close(f);
            return 1;
        }
        done += k;
    }
    return sf_close(f) == 0 ? 0 : 1;
}
