// tutti-link-peer: an Ableton Link peer that reports what it sees, for
// it_link and tutti-bench-link. Every --every-ms it samples its Link
// session at an instant on a grid of CLOCK_MONOTONIC (the truth on one
// host, whichever namespace or skew), so two peers' lines pair by mono_ns:
//   {"mono_ns":N,"peers":N,"bpm":X,"beat":X,"phase":X,"playing":B}
// beat is Link's beat at that instant for --quantum, phase it modulo the
// quantum. --skew-ppm runs Link on a clock P ppm fast from the start (as
// a room whose host clock runs fast), through BasicLink<Clock>.
#include <ableton/Link.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace
{

int64_t mono_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t g_start;
double g_ppm;

int64_t host_ns(int64_t mono)
{
    return mono + (int64_t)std::llround((double)(mono - g_start) * g_ppm / 1e6);
}

struct SkewedClock {
    std::chrono::microseconds micros() const
    {
        return std::chrono::microseconds(host_ns(mono_ns()) / 1000);
    }
};

volatile std::sig_atomic_t g_stop = 0;
void on_stop(int)
{
    g_stop = 1;
}

void usage(FILE *out)
{
    fprintf(out,
            "Usage: tutti-link-peer [--seconds S] [--every-ms M] [--quantum Q] [--skew-ppm P]\n"
            "                       [--tempo BPM]\n"
            "An Ableton Link peer (test tool). Every M ms (default 50) prints one JSON line:\n"
            "mono_ns (a CLOCK_MONOTONIC grid instant), peers, bpm, beat and phase (Link's beat\n"
            "at that instant for quantum Q, default 4, and it modulo Q), playing.\n"
            "  --seconds S    run S seconds (default 60; SIGTERM stops it sooner)\n"
            "  --skew-ppm P   Link's clock runs P ppm fast from the start (default 0)\n"
            "  --tempo BPM    the tempo the peer starts with (default 120)\n"
            "Example: tutti-link-peer --seconds 10 --skew-ppm 150\n");
}

} // namespace

int main(int argc, char **argv)
{
    double seconds = 60, quantum = 4, tempo = 120;
    long every_ms = 50;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        char *end;
        double v = strtod(argv[++i], &end);
        if (*end || !*argv[i]) {
            fprintf(stderr, "tutti-link-peer: %s wants a number\n", a);
            return 2;
        }
        if (!strcmp(a, "--seconds") && v > 0 && v <= 3600)
            seconds = v;
        else if (!strcmp(a, "--every-ms") && v >= 1 && v <= 10000)
            every_ms = (long)v;
        else if (!strcmp(a, "--quantum") && v > 0 && v <= 64)
            quantum = v;
        else if (!strcmp(a, "--skew-ppm") && std::fabs(v) <= 1000)
            g_ppm = v;
        else if (!strcmp(a, "--tempo") && v >= 20 && v <= 999)
            tempo = v;
        else {
            fprintf(stderr, "tutti-link-peer: bad option or value %s %s\n", a, argv[i]);
            return 2;
        }
    }
    g_start = mono_ns();
    std::signal(SIGTERM, on_stop);
    std::signal(SIGINT, on_stop);
    ableton::BasicLink<SkewedClock> link(tempo);
    link.enableStartStopSync(true);
    link.enable(true);
    const int64_t step = every_ms * 1000000LL;
    const int64_t end = g_start + (int64_t)(seconds * 1e9);
    for (int64_t g = (g_start / step + 1) * step; !g_stop && g < end; g += step) {
        timespec ts = {(time_t)(g / 1000000000LL), (long)(g % 1000000000LL)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0 && !g_stop) {
        }
        auto st = link.captureAppSessionState();
        const std::chrono::microseconds at(host_ns(g) / 1000);
        double beat = st.beatAtTime(at, quantum);
        double phase = std::fmod(beat, quantum);
        if (phase < 0)
            phase += quantum;
        printf("{\"mono_ns\":%lld,\"peers\":%zu,\"bpm\":%.6f,\"beat\":%.6f,\"phase\":%.6f,"
               "\"playing\":%s}\n",
               (long long)g, link.numPeers(), st.tempo(), beat, phase,
               st.isPlaying() ? "true" : "false");
        fflush(stdout);
    }
    link.enable(false);
    return 0;
}
