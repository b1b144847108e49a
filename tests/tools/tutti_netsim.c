/*
 * tutti_netsim.c - user-space TCP relay that simulates a WAN link on loopback.
 *
 * The kernel tutti's tests run on has no netem, so the tests route their ZeroMQ/TCP traffic
 * through this relay instead.  It is used to evaluate a clock-sync algorithm at the
 * tens-of-microseconds level, which is why it is shaped the way it is:
 *
 *  - one thread and one epoll loop on CLOCK_MONOTONIC: no locks, no hand-offs, no queueing
 *    jitter between threads;
 *  - the sleep until the next due delivery is a timerfd armed at the absolute deadline with
 *    1 ns timer slack, followed by a short busy-poll final approach (--spin-us);
 *  - every chunk read is stamped with the kernel's receive time (SO_TIMESTAMPNS), so the
 *    relay's own wake-up latency is absorbed by the simulated delay instead of added to it;
 *  - chunks are scheduled on a virtual "link clock" that simply stops while the link is down.
 *    Serialisation at the rate cap, base delay plus jitter and the no-reordering rule are all
 *    computed on that clock, so outages (scheduled or SIGUSR1), rate limits and ordering
 *    compose without special cases.
 *
 * A test-helper --echo-server mode turns the same binary into the peer for the self-test
 * (tests/tools/netsim_selftest.sh).
 * Only libc and libm are used; see --help for the full manual.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define PROG "tutti-netsim"
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define MAX_ENDPOINTS 64
#define MAX_OUTAGES 256
#define READ_SIZE 65536
#define READS_PER_EVENT 16
#define MAX_EVENTS 128
#define ECHO_BUF (256 * 1024)

#define NS_PER_US 1000LL
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL
#define T_NEVER INT64_MAX

/* Upper bounds for numeric options: generous, but far from int64 nanosecond overflow. */
#define MAX_DELAY_MS 3600000.0
#define MAX_RATE_MBIT 1000000.0
#define MAX_OUTAGE_S 864000.0

/* ------------------------------------------------------------------------------------------ */
/* Logging and small utilities                                                                 */

static bool g_verbose;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

#define VLOG(...)                                                                                  \
    do {                                                                                           \
        if (g_verbose)                                                                             \
            logmsg(__VA_ARGS__);                                                                   \
    } while (0)

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/*
 * TCP_NODELAY, and optionally kernel receive timestamps.  Best effort: failure only costs
 * precision, and a broken socket shows up on its first I/O anyway.
 */
static void tune_socket(int fd, bool rx_stamps)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rx_stamps)
        (void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
}

/*
 * recv() that also returns when the kernel received the (last) bytes, converted to
 * CLOCK_MONOTONIC, or 0 if the socket gave no timestamp.  *after is the time after the call.
 */
static ssize_t recv_stamped(int fd, void *buf, size_t len, int64_t *stamp, int64_t *after)
{
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec)) * 2];
        struct cmsghdr align;
    } ctrl;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr mh = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = ctrl.buf,
        .msg_controllen = sizeof ctrl,
    };
    struct cmsghdr *cm;
    ssize_t n = recvmsg(fd, &mh, 0);

    *after = mono_ns();
    *stamp = 0;
    if (n <= 0)
        return n;
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            int64_t rt;
            memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            rt = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
            if (rt > 0)
                *stamp = rt - (real_ns() - *after);
        }
    }
    return n;
}

/* Close so that the peer sees a reset rather than an orderly FIN. */
static void close_rst(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* splitmix64: tiny, seedable, good enough for jitter samples. */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *state)
{
    return (double)(rng_next(state) >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------------------------------------------------ */
/* Endpoints                                                                                   */

struct endpoint {
    struct sockaddr_storage addr;
    socklen_t len;
    char text[96]; /* canonical "tcp://host:port" */
};

static void endpoint_format(struct endpoint *ep)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (ep->addr.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ep->addr;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        port = ntohs(sin->sin_port);
        snprintf(ep->text, sizeof ep->text, "tcp://%s:%u", host, port);
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ep->addr;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        port = ntohs(sin6->sin6_port);
        snprintf(ep->text, sizeof ep->text, "tcp://[%s]:%u", host, port);
    }
}

/*
 * Parse "tcp://HOST:PORT".  HOST must be numeric IPv4, bracketed IPv6 or "localhost": no name
 * resolution, so the relay can only ever reach addresses spelled out on its command line.
 */
static int endpoint_parse(const char *opt, const char *s, bool allow_port0, struct endpoint *ep)
{
    static const char scheme[] = "tcp://";
    char host[INET6_ADDRSTRLEN + 2];
    const char *rest, *colon, *hstart, *hend;
    char *end;
    unsigned long port;
    size_t hlen;

    memset(ep, 0, sizeof *ep);
    if (strncmp(s, scheme, sizeof scheme - 1) != 0) {
        logmsg("%s '%s': expected tcp://HOST:PORT", opt, s);
        return -1;
    }
    rest = s + sizeof scheme - 1;
    if (rest[0] == '[') {
        hstart = rest + 1;
        hend = strchr(hstart, ']');
        if (!hend || hend[1] != ':') {
            logmsg("%s '%s': expected tcp://[IPV6]:PORT", opt, s);
            return -1;
        }
        colon = hend + 1;
    } else {
        hstart = rest;
        colon = strrchr(rest, ':');
        if (!colon) {
            logmsg("%s '%s': missing :PORT", opt, s);
            return -1;
        }
        hend = colon;
    }
    hlen = (size_t)(hend - hstart);
    if (hlen == 0 || hlen >= sizeof host) {
        logmsg("%s '%s': bad host", opt, s);
        return -1;
    }
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';

    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno || port > 65535) {
        logmsg("%s '%s': bad port", opt, s);
        return -1;
    }
    if (port == 0 && !allow_port0) {
        logmsg("%s '%s': port 0 is only meaningful for listening", opt, s);
        return -1;
    }

    if (rest[0] == '[') {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ep->addr;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
            logmsg("%s '%s': '%s' is not a numeric IPv6 address", opt, s, host);
            return -1;
        }
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        ep->len = sizeof *sin6;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ep->addr;
        if (strcmp(host, "localhost") == 0)
            strcpy(host, "127.0.0.1");
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
            logmsg("%s '%s': '%s' is not a numeric IPv4 address (no name lookups are done)", opt, s,
                   host);
            return -1;
        }
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        ep->len = sizeof *sin;
    }
    endpoint_format(ep);
    return 0;
}

/* Create a non-blocking listening socket on ep; on success *bound holds the actual address. */
static int listen_on(const struct endpoint *ep, int *fd_out, struct endpoint *bound)
{
    int one = 1;
    int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        logmsg("cannot create socket for %s: %s", ep->text, strerror(errno));
        return -1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&ep->addr, ep->len) < 0) {
        logmsg("cannot bind %s: %s", ep->text, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        logmsg("cannot listen on %s: %s", ep->text, strerror(errno));
        close(fd);
        return -1;
    }
    memset(bound, 0, sizeof *bound);
    bound->len = sizeof bound->addr;
    if (getsockname(fd, (struct sockaddr *)&bound->addr, &bound->len) < 0) {
        logmsg("getsockname for %s: %s", ep->text, strerror(errno));
        close(fd);
        return -1;
    }
    endpoint_format(bound);
    *fd_out = fd;
    return 0;
}

/* Print the bound endpoints to stdout and, atomically (temp file + rename), to path. */
static int announce(const char *path, const struct endpoint *eps, size_t n)
{
    char *tmp = NULL;
    FILE *f = NULL;
    size_t i;
    int len;

    for (i = 0; i < n; i++)
        printf("%s\n", eps[i].text);
    fflush(stdout);
    if (!path)
        return 0;

    len = snprintf(NULL, 0, "%s.tmp.%ld", path, (long)getpid());
    tmp = malloc((size_t)len + 1);
    if (!tmp) {
        logmsg("ready file %s: out of memory", path);
        return -1;
    }
    snprintf(tmp, (size_t)len + 1, "%s.tmp.%ld", path, (long)getpid());
    f = fopen(tmp, "w");
    if (!f) {
        logmsg("cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    for (i = 0; i < n; i++)
        fprintf(f, "%s\n", eps[i].text);
    if (fflush(f) != 0 || ferror(f)) {
        logmsg("cannot write %s: %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    if (fclose(f) != 0) {
        logmsg("cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    if (rename(tmp, path) < 0) {
        logmsg("cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Options                                                                                     */

enum jitter_dist { JITTER_UNIFORM, JITTER_EXP };

/* Link settings for one direction as given on the command line; has_* tracks overrides. */
struct dir_opts {
    double delay_ms, jitter_ms, rate_mbit;
    enum jitter_dist dist;
    bool has_delay, has_jitter, has_rate, has_dist;
};

struct outage_opt {
    double start_s, len_s;
};

struct options {
    struct endpoint listen[MAX_ENDPOINTS];
    struct endpoint to[MAX_ENDPOINTS];
    struct endpoint echo[MAX_ENDPOINTS];
    size_t nlisten, nto, necho;
    struct dir_opts both, up, down;
    struct outage_opt outage[MAX_OUTAGES];
    size_t noutage;
    uint64_t seed;
    const char *ready_file;
    double max_buffer_mib;
    double spin_us;
    bool busy_poll;
    bool rx_stamps;
    bool stats;
    unsigned long cut_up, cut_down; /* 0, or the data frame whose start resets the first conn */
};

/* The manual, in several literals: ISO C only promises 4095-character string literals. */
static void usage(FILE *out)
{
    fputs("Usage:\n"
          "  tutti-netsim --listen tcp://HOST:PORT --to tcp://HOST:PORT [--listen .. --to ..]..\n"
          "               [--delay MS] [--jitter MS] [--jitter-dist uniform|exp] [--rate MBIT]\n"
          "               [--up-delay MS] [--up-jitter MS] [--up-jitter-dist D] [--up-rate MBIT]\n"
          "               [--down-delay MS] [--down-jitter MS] [--down-jitter-dist D]\n"
          "               [--down-rate MBIT] [--outage START+LEN]... [--seed N]\n"
          "               [--ready-file PATH] [--max-buffer MIB] [--spin-us US] [--busy-poll]\n"
          "               [--no-kernel-timestamps] [--stats] [--cut-up N] [--cut-down N]\n"
          "               [-v|--verbose]\n"
          "  tutti-netsim --echo-server tcp://HOST:PORT [--echo-server ..].. [--ready-file PATH]\n"
          "  tutti-netsim --help\n"
          "\n"
          "User-space TCP relay that simulates a WAN link between programs on loopback (the test\n"
          "kernel has no netem).  Each --listen endpoint accepts connections and relays every one\n"
          "of them to the --to endpoint given in the same position (first --listen to first --to,\n"
          "and so on).  All pairs share one simulated link: the same settings and the same outage\n"
          "schedule.  \"up\" is client->server (accepted connection -> --to), \"down\" is\n"
          "server->client.\n"
          "\n"
          "Endpoints:\n"
          "  --listen tcp://HOST:PORT  listen here (repeatable, up to 64).  PORT 0 picks a free\n"
          "                            port; see --ready-file.\n"
          "  --to tcp://HOST:PORT      relay target for the --listen in the same position\n"
          "                            (repeatable; exactly as many as --listen).\n"
          "  HOST is a numeric IPv4 address, an IPv6 address in brackets ([::1]) or \"localhost\"\n"
          "  (= 127.0.0.1).  No name lookups are made: the relay only ever talks to the addresses\n"
          "  written on its command line.\n"
          "\n",
          out);
    fputs("Link (MS = milliseconds, MBIT = 10^6 bit/s; fractions allowed, e.g. 0.05):\n"
          "  --delay MS                base one-way delay, both directions (default 0)\n"
          "  --jitter MS               jitter J, both directions (default 0)\n"
          "  --jitter-dist uniform|exp both directions (default uniform):\n"
          "                              uniform: delay + U[-J, +J], clamped so delay >= 0\n"
          "                              exp:     delay + Exp(mean J), always added on top\n"
          "  --rate MBIT               bandwidth cap, both directions; 0 = unlimited (default 0)\n"
          "  --up-delay MS  --up-jitter MS  --up-jitter-dist D  --up-rate MBIT\n"
          "  --down-delay MS  --down-jitter MS  --down-jitter-dist D  --down-rate MBIT\n"
          "                            override one direction (regardless of option order)\n"
          "\n"
          "Outages:\n"
          "  --outage START+LEN        link down from START to START+LEN seconds after program\n"
          "                            start (fractions allowed; repeatable; overlaps merge)\n"
          "  SIGUSR1                   toggles a manual outage on/off; the link is down while the\n"
          "                            manual outage or any scheduled one is active\n"
          "  While the link is down nothing moves in either direction.  Connections are still\n"
          "  accepted (and connected to --to) and bytes are still read and held; afterwards\n"
          "  delivery resumes in order, with the timing it would have had if the outage had not\n"
          "  happened, shifted by the time the link was down.\n"
          "\n",
          out);
    fputs("Cutting one message (ZeroMQ, ZMTP 3):\n"
          "  --cut-up N                on the first connection accepted, reset both sides (as a\n"
          "                            peer's reset would) where the client's Nth data frame\n"
          "                            begins: it and everything after it are never delivered\n"
          "  --cut-down N              the same for the server's Nth data frame (e.g.\n"
          "                            --cut-down 1 loses a DEALER client's first reply);\n"
          "                            later connections are relayed as usual\n"
          "  Data frames: the frames after the 64-byte greeting that are not commands, and\n"
          "  CURVE's MESSAGE commands (which carry them encrypted); handshake commands\n"
          "  (HELLO, WELCOME, INITIATE, READY) and heartbeats are not counted.  Bytes before\n"
          "  the cut are delivered in order, then the reset.\n"
          "\n",
          out);
    fputs(
        "Other options:\n"
        "  --seed N                  jitter PRNG seed (default 1).  Each connection direction\n"
        "                            has its own stream derived from N and the connection's\n"
        "                            accept order, so runs are reproducible.\n"
        "  --ready-file PATH         once listening, write the actual endpoints, one per line\n"
        "                            in --listen order, to PATH (temp file + rename, so readers\n"
        "                            never see a partial file).  Removed again on clean exit.\n"
        "                            The same lines are always printed to stdout.\n"
        "  --max-buffer MIB          per connection and direction, stop reading from the source\n"
        "                            while this much is held (default 64)\n"
        "  --spin-us US              wake this long before a due delivery and busy-poll the rest\n"
        "                            of the way (default 200, fractions allowed; 0 = rely on\n"
        "                            the timer alone).  See Timing below.\n"
        "  --busy-poll               never sleep at all; burns a CPU core (on a 2-CPU machine\n"
        "                            this tends to hurt the programs under test more than it\n"
        "                            helps)\n"
        "  --no-kernel-timestamps    stamp arrivals when the relay reads them instead of with\n"
        "                            the kernel's receive time (SO_TIMESTAMPNS)\n"
        "  --stats                   on exit, print timing statistics to stderr\n"
        "  -v, --verbose             log connections and outage transitions to stderr\n"
        "  -h, --help                show this manual\n"
        "\n"
        "Test helper:\n"
        "  --echo-server tcp://HOST:PORT\n"
        "                            do not relay; run a plain echo server on this endpoint\n"
        "                            (repeatable; PORT 0, stdout and --ready-file as above).\n"
        "                            Echoes every byte back; on EOF it finishes echoing, then\n"
        "                            closes.  Used as the peer by netsim_selftest.sh.\n"
        "\n",
        out);
    fputs(
        "Model, per connection and direction:\n"
        "  Every chunk read from a socket is stamped with its arrival time on a link clock that\n"
        "  runs with CLOCK_MONOTONIC but stops while the link is down.  The arrival time is the\n"
        "  kernel's receive timestamp of the bytes, so the relay's own wake-up latency is not\n"
        "  added to the simulated delay.  Jitter is sampled once per chunk (one read, at most\n"
        "  64 KiB, or about 1 ms worth of bytes with a rate cap).  With a rate cap the\n"
        "  chunk is first serialised: it starts when the link is free and occupies it for\n"
        "  bytes*8/rate (a strict FIFO serialiser, so throughput never exceeds the cap).  Its\n"
        "  delivery time is then the end of serialisation + delay + jitter sample, but never\n"
        "  earlier than the previous chunk's: bytes are never reordered (so, as with netem,\n"
        "  heavy jitter on a busy stream shifts the effective delay upwards).  A FIN travels the\n"
        "  same way and is delivered as shutdown(SHUT_WR) after all earlier bytes; a reset or\n"
        "  error on one side aborts the pair (the other side gets a reset).  TCP_NODELAY is set\n"
        "  on both sockets.  Connection setup itself is not delayed.\n"
        "\n"
        "Timing:\n"
        "  One thread, one epoll loop.  The sleep until the next due delivery is a timerfd at\n"
        "  the absolute deadline minus --spin-us (timer slack 1 ns), then a busy poll up to the\n"
        "  deadline.  On the test VM a timer wake-up lands ~70 us late at the median and\n"
        "  ~100-130 us at p90, hence the 200 us default.  Expect deliveries within ~5-25 us of\n"
        "  their due time on average, with rare multi-millisecond outliers when the host\n"
        "  deschedules the VM.  With --delay 0 there is nothing to absorb it, so each\n"
        "  direction pays the relay's extra process hop (tens of us on a VM); any delay of\n"
        "  ~0.1 ms or more hides that.  --stats reports what was actually achieved.\n"
        "\n"
        "Output and exit status:\n"
        "  stdout: the actual listen endpoints, one per line, once listening.\n"
        "  SIGINT/SIGTERM: clean shutdown, status 0.  Status 1: runtime error (e.g. bind\n"
        "  failed).  Status 2: bad command line.\n"
        "\n",
        out);
    fputs("Examples:\n"
          "  # 25 ms each way +-5 ms, 100 Mbit/s, link down from t=10 s to t=13 s:\n"
          "  tutti-netsim --listen tcp://127.0.0.1:15555 --to tcp://127.0.0.1:5555 \\\n"
          "      --delay 25 --jitter 5 --rate 100 --outage 10+3\n"
          "\n"
          "  # three coordinator ports through one asymmetric link, free ports, ready file:\n"
          "  tutti-netsim --listen tcp://127.0.0.1:0 --to tcp://127.0.0.1:5555 \\\n"
          "      --listen tcp://127.0.0.1:0 --to tcp://127.0.0.1:5556 \\\n"
          "      --listen tcp://127.0.0.1:0 --to tcp://127.0.0.1:5557 \\\n"
          "      --up-delay 10 --down-delay 30 --jitter 0.5 --jitter-dist exp \\\n"
          "      --ready-file /tmp/netsim.ready &\n"
          "  kill -USR1 $!    # link down ...\n"
          "  kill -USR1 $!    # ... and up again\n"
          "\n"
          "  # echo peer for tests:\n"
          "  tutti-netsim --echo-server tcp://127.0.0.1:0 --ready-file /tmp/echo.ready\n",
          out);
}

static int parse_double(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno || !isfinite(v) || v < lo || v > hi) {
        logmsg("%s '%s': expected a number in [%g, %g]", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_dist(const char *opt, const char *s, enum jitter_dist *out)
{
    if (strcmp(s, "uniform") == 0) {
        *out = JITTER_UNIFORM;
        return 0;
    }
    if (strcmp(s, "exp") == 0) {
        *out = JITTER_EXP;
        return 0;
    }
    logmsg("%s '%s': expected 'uniform' or 'exp'", opt, s);
    return -1;
}

static int parse_outage(const char *s, struct outage_opt *o)
{
    const char *plus = strchr(s, '+');
    char start[64];
    size_t n;

    if (!plus || plus == s || (n = (size_t)(plus - s)) >= sizeof start) {
        logmsg("--outage '%s': expected START+LEN in seconds, e.g. 1.5+2", s);
        return -1;
    }
    memcpy(start, s, n);
    start[n] = '\0';
    if (parse_double("--outage START", start, 0, MAX_OUTAGE_S, &o->start_s) < 0)
        return -1;
    if (parse_double("--outage LEN", plus + 1, 0, MAX_OUTAGE_S, &o->len_s) < 0)
        return -1;
    if (o->len_s <= 0) {
        logmsg("--outage '%s': LEN must be > 0", s);
        return -1;
    }
    return 0;
}

enum {
    OPT_LISTEN = 256,
    OPT_TO,
    OPT_ECHO,
    OPT_DELAY,
    OPT_JITTER,
    OPT_DIST,
    OPT_RATE,
    OPT_UP_DELAY,
    OPT_UP_JITTER,
    OPT_UP_DIST,
    OPT_UP_RATE,
    OPT_DOWN_DELAY,
    OPT_DOWN_JITTER,
    OPT_DOWN_DIST,
    OPT_DOWN_RATE,
    OPT_OUTAGE,
    OPT_SEED,
    OPT_READY,
    OPT_MAXBUF,
    OPT_SPIN,
    OPT_BUSY,
    OPT_NO_STAMPS,
    OPT_STATS,
    OPT_CUT_UP,
    OPT_CUT_DOWN,
};

static int add_endpoint(const char *opt, const char *arg, bool port0, struct endpoint *arr,
                        size_t *n)
{
    if (*n >= MAX_ENDPOINTS) {
        logmsg("too many %s (at most %d)", opt, MAX_ENDPOINTS);
        return -1;
    }
    if (endpoint_parse(opt, arg, port0, &arr[*n]) < 0)
        return -1;
    (*n)++;
    return 0;
}

static int set_dir_opt(struct dir_opts *d, int which, const char *opt, const char *arg)
{
    switch (which) {
    case 0: d->has_delay = true; return parse_double(opt, arg, 0, MAX_DELAY_MS, &d->delay_ms);
    case 1: d->has_jitter = true; return parse_double(opt, arg, 0, MAX_DELAY_MS, &d->jitter_ms);
    case 2: d->has_dist = true; return parse_dist(opt, arg, &d->dist);
    default: d->has_rate = true; return parse_double(opt, arg, 0, MAX_RATE_MBIT, &d->rate_mbit);
    }
}

/* Returns 0 to run, 1 if --help was handled, -1 on a usage error (already reported). */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"to", required_argument, NULL, OPT_TO},
        {"echo-server", required_argument, NULL, OPT_ECHO},
        {"delay", required_argument, NULL, OPT_DELAY},
        {"jitter", required_argument, NULL, OPT_JITTER},
        {"jitter-dist", required_argument, NULL, OPT_DIST},
        {"rate", required_argument, NULL, OPT_RATE},
        {"up-delay", required_argument, NULL, OPT_UP_DELAY},
        {"up-jitter", required_argument, NULL, OPT_UP_JITTER},
        {"up-jitter-dist", required_argument, NULL, OPT_UP_DIST},
        {"up-rate", required_argument, NULL, OPT_UP_RATE},
        {"down-delay", required_argument, NULL, OPT_DOWN_DELAY},
        {"down-jitter", required_argument, NULL, OPT_DOWN_JITTER},
        {"down-jitter-dist", required_argument, NULL, OPT_DOWN_DIST},
        {"down-rate", required_argument, NULL, OPT_DOWN_RATE},
        {"outage", required_argument, NULL, OPT_OUTAGE},
        {"seed", required_argument, NULL, OPT_SEED},
        {"ready-file", required_argument, NULL, OPT_READY},
        {"max-buffer", required_argument, NULL, OPT_MAXBUF},
        {"spin-us", required_argument, NULL, OPT_SPIN},
        {"busy-poll", no_argument, NULL, OPT_BUSY},
        {"no-kernel-timestamps", no_argument, NULL, OPT_NO_STAMPS},
        {"stats", no_argument, NULL, OPT_STATS},
        {"cut-up", required_argument, NULL, OPT_CUT_UP},
        {"cut-down", required_argument, NULL, OPT_CUT_DOWN},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char name[48];
    int c, li;

    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->max_buffer_mib = 64;
    o->spin_us = 200;
    o->rx_stamps = true;

    opterr = 0;
    optind = 1;
    while ((li = -1, c = getopt_long(argc, argv, ":hv", longopts, &li)) != -1) {
        int r = 0;

        /* Name the option as the user wrote it, for error messages. */
        if (li >= 0)
            snprintf(name, sizeof name, "--%s", longopts[li].name);
        else if (optind > 0 && optind <= argc)
            snprintf(name, sizeof name, "%s", argv[optind - 1]);
        else
            snprintf(name, sizeof name, "?");

        switch (c) {
        case 'h': usage(stdout); return 1;
        case 'v': g_verbose = true; break;
        case OPT_LISTEN: r = add_endpoint("--listen", optarg, true, o->listen, &o->nlisten); break;
        case OPT_TO: r = add_endpoint("--to", optarg, false, o->to, &o->nto); break;
        case OPT_ECHO: r = add_endpoint("--echo-server", optarg, true, o->echo, &o->necho); break;
        case OPT_DELAY:
        case OPT_JITTER:
        case OPT_DIST:
        case OPT_RATE: r = set_dir_opt(&o->both, c - OPT_DELAY, name, optarg); break;
        case OPT_UP_DELAY:
        case OPT_UP_JITTER:
        case OPT_UP_DIST:
        case OPT_UP_RATE: r = set_dir_opt(&o->up, c - OPT_UP_DELAY, name, optarg); break;
        case OPT_DOWN_DELAY:
        case OPT_DOWN_JITTER:
        case OPT_DOWN_DIST:
        case OPT_DOWN_RATE: r = set_dir_opt(&o->down, c - OPT_DOWN_DELAY, name, optarg); break;
        case OPT_OUTAGE:
            if (o->noutage >= MAX_OUTAGES) {
                logmsg("too many --outage (at most %d)", MAX_OUTAGES);
                return -1;
            }
            r = parse_outage(optarg, &o->outage[o->noutage++]);
            break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            o->seed = strtoull(optarg, &end, 0);
            if (end == optarg || *end != '\0' || errno || optarg[0] == '-') {
                logmsg("--seed '%s': expected a non-negative integer", optarg);
                r = -1;
            }
            break;
        }
        case OPT_READY:
            if (optarg[0] == '\0') {
                logmsg("--ready-file: empty path");
                r = -1;
            }
            o->ready_file = optarg;
            break;
        case OPT_MAXBUF:
            r = parse_double("--max-buffer", optarg, 0.0625, 65536, &o->max_buffer_mib);
            break;
        case OPT_SPIN: r = parse_double("--spin-us", optarg, 0, 1000000, &o->spin_us); break;
        case OPT_BUSY: o->busy_poll = true; break;
        case OPT_NO_STAMPS: o->rx_stamps = false; break;
        case OPT_STATS: o->stats = true; break;
        case OPT_CUT_UP:
        case OPT_CUT_DOWN: {
            char *end;
            unsigned long *n = c == OPT_CUT_UP ? &o->cut_up : &o->cut_down;
            errno = 0;
            *n = strtoul(optarg, &end, 10);
            if (end == optarg || *end != '\0' || errno || *n == 0 || optarg[0] == '-') {
                logmsg("%s '%s': expected a frame number from 1", name, optarg);
                r = -1;
            }
            break;
        }
        case ':': logmsg("option '%s' needs an argument", name); return -1;
        default: logmsg("unknown option '%s'", name); return -1;
        }
        if (r < 0)
            return -1;
    }
    if (optind < argc) {
        logmsg("unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (o->necho > 0) {
        if (o->nlisten || o->nto) {
            logmsg("--echo-server cannot be combined with --listen/--to");
            return -1;
        }
        return 0;
    }
    if (o->nlisten == 0) {
        logmsg("need at least one --listen/--to pair (try --help)");
        return -1;
    }
    if (o->nlisten != o->nto) {
        logmsg("%zu --listen but %zu --to: they must come in pairs", o->nlisten, o->nto);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Simulated link                                                                              */

struct link {
    int64_t delay_ns;
    int64_t jitter_ns;
    enum jitter_dist dist;
    double rate_mbit;
    double ns_per_byte; /* 0 = unlimited */
    size_t read_size;   /* chunk size read at once: small enough to keep serialisation smooth */
};

static void link_init(struct link *l, const struct dir_opts *both, const struct dir_opts *one)
{
    double delay = one->has_delay ? one->delay_ms : both->delay_ms;
    double jitter = one->has_jitter ? one->jitter_ms : both->jitter_ms;

    l->delay_ns = llround(delay * NS_PER_MS);
    l->jitter_ns = llround(jitter * NS_PER_MS);
    l->dist = one->has_dist ? one->dist : both->dist;
    l->rate_mbit = one->has_rate ? one->rate_mbit : both->rate_mbit;
    l->ns_per_byte = l->rate_mbit > 0 ? 8000.0 / l->rate_mbit : 0;
    l->read_size = READ_SIZE;
    if (l->rate_mbit > 0) {
        /* About 1 ms worth of bytes per chunk, at least one typical segment. */
        double per_ms = l->rate_mbit * 125.0;
        l->read_size = per_ms < 1448 ? 1448 : per_ms > READ_SIZE ? READ_SIZE : (size_t)per_ms;
    }
}

static void link_describe(const char *name, const struct link *l)
{
    char rate[32] = "unlimited";

    if (l->rate_mbit > 0)
        snprintf(rate, sizeof rate, "%g Mbit/s", l->rate_mbit);
    VLOG("%s: delay %.3f ms, jitter %.3f ms (%s), rate %s", name, (double)l->delay_ns / NS_PER_MS,
         (double)l->jitter_ns / NS_PER_MS, l->dist == JITTER_EXP ? "exp" : "uniform", rate);
}

static int64_t link_sample_delay(const struct link *l, uint64_t *rng)
{
    double d;

    if (l->jitter_ns == 0)
        return l->delay_ns;
    if (l->dist == JITTER_EXP) {
        d = (double)l->delay_ns - (double)l->jitter_ns * log1p(-rng_unit(rng));
    } else {
        d = (double)l->delay_ns + (2.0 * rng_unit(rng) - 1.0) * (double)l->jitter_ns;
        if (d < 0)
            d = 0;
    }
    return llround(d);
}

/* ------------------------------------------------------------------------------------------ */
/* Relay state                                                                                 */

enum kind { K_LISTENER, K_SIDE, K_SIGNAL, K_TIMER, K_ECHO_LISTENER, K_ECHO_CONN };

/* Every object registered with epoll starts with its kind, so data.ptr can be dispatched. */
struct handle {
    enum kind kind;
};

struct listener {
    enum kind kind;
    int fd;
    bool registered;
    bool connect_failing; /* last connect to --to failed: do not repeat the message */
    size_t pair;
    struct endpoint bound;
};

enum { CH_EOF = 1, CH_RESET = 2 };

/* A run of bytes read at once; owned by the direction queue it sits in. */
struct chunk {
    struct chunk *next;
    int64_t due; /* link-clock ns */
    size_t len, off;
    unsigned flags;
    unsigned char data[];
};

/* One direction of a relayed connection: a FIFO of chunks from src to dst. */
struct dir {
    const struct link *link;
    struct chunk *head, *tail;
    size_t buffered;   /* bytes held, not yet fully written */
    int64_t link_free; /* link-clock time the serialiser becomes free */
    int64_t last_due;  /* delivery time of the previous chunk (no reordering) */
    uint64_t rng;
    bool src_done;            /* EOF or error read from the source; nothing more to read */
    bool dst_done;            /* FIN delivered to the destination */
    bool blocked;             /* destination returned EAGAIN; waiting for EPOLLOUT */
    bool backlogged;          /* hit EAGAIN since the queue was last empty (for --stats) */
    struct zmtp {             /* --cut-up/--cut-down: where the ZMTP stream is */
        unsigned long cut_at; /* data frame to cut at, 0 = none */
        unsigned long frames; /* data frames begun */
        uint64_t skip;        /* greeting or body bytes still to pass */
        uint64_t size;        /* frame size being read */
        int state;            /* Z_* */
        unsigned need;        /* size bytes still to read */
        unsigned char flags, name[8];
        unsigned name_len;
    } zmtp;
};

enum { Z_SKIP, Z_FLAGS, Z_SIZE, Z_NAME };

struct conn;

/* One socket of a relayed connection. */
struct side {
    enum kind kind;
    int fd;
    bool registered;
    bool is_srv;
    uint32_t armed;
    struct conn *conn;
};

/* A relayed connection: client (accepted) side, server (--to) side, and two directions. */
struct conn {
    struct conn *prev, *next;
    struct side cli, srv;
    struct dir up, down;
    uint64_t id;
    size_t pair;
    bool connecting;
    bool dead;
};

struct sim {
    const struct options *opt;
    struct link up_link, down_link;
    int ep, sfd, tfd;
    struct handle sig_h, tim_h;
    struct listener lst[MAX_ENDPOINTS];
    size_t nlst;
    struct conn *conns; /* live connections */
    struct conn *grave; /* killed during this loop iteration; freed at its end */
    size_t nconns;
    uint64_t next_id;
    size_t max_buffer;
    int64_t spin_ns;
    int64_t timer_armed;
    bool accept_paused;
    bool stop;

    /* Link clock: V(t) = v_last + (t - t_last) while up, v_last while down. */
    int64_t t0;
    int64_t *bounds; /* merged scheduled outages: start0, end0, start1, end1, ... (real ns) */
    size_t nbounds, bidx;
    bool sched_down, manual_down, down;
    int64_t v_last, t_last;

    /* Lateness of first-byte writes behind their due time (link-clock ns). */
    uint64_t st_count, st_backlogged, st_stamp_n;
    int64_t st_stamp_sum;
    int64_t st_sum, st_max;
    uint64_t st_hist[10];
};

static const int64_t st_edges_us[9] = {5, 10, 20, 50, 100, 200, 500, 1000, 10000};

static int cmp_outage(const void *a, const void *b)
{
    const struct outage_opt *x = a, *y = b;
    return (x->start_s > y->start_s) - (x->start_s < y->start_s);
}

/* Turn the --outage list into sorted, merged [start, end) boundaries in CLOCK_MONOTONIC ns. */
static int outage_build(struct sim *s)
{
    const struct options *o = s->opt;
    struct outage_opt *sorted;
    size_t i;

    s->nbounds = 0;
    if (o->noutage == 0)
        return 0;
    sorted = malloc(o->noutage * sizeof *sorted);
    s->bounds = malloc(2 * o->noutage * sizeof *s->bounds);
    if (!sorted || !s->bounds) {
        logmsg("outage schedule: out of memory");
        free(sorted);
        return -1;
    }
    memcpy(sorted, o->outage, o->noutage * sizeof *sorted);
    qsort(sorted, o->noutage, sizeof *sorted, cmp_outage);
    for (i = 0; i < o->noutage; i++) {
        int64_t a = s->t0 + llround(sorted[i].start_s * NS_PER_S);
        int64_t b = a + llround(sorted[i].len_s * NS_PER_S);
        if (s->nbounds > 0 && a <= s->bounds[s->nbounds - 1]) {
            if (b > s->bounds[s->nbounds - 1])
                s->bounds[s->nbounds - 1] = b;
        } else {
            s->bounds[s->nbounds++] = a;
            s->bounds[s->nbounds++] = b;
        }
    }
    free(sorted);
    return 0;
}

static int64_t vclock(const struct sim *s, int64_t t)
{
    if (s->down)
        return s->v_last;
    return s->v_last + (t > s->t_last ? t - s->t_last : 0);
}

/* Recompute link state at real time t (t >= t_last); why names the trigger for the log. */
static void link_state_at(struct sim *s, int64_t t, const char *why)
{
    bool down = s->manual_down || s->sched_down;

    if (down == s->down)
        return;
    s->v_last = vclock(s, t);
    s->t_last = t > s->t_last ? t : s->t_last;
    s->down = down;
    VLOG("link %s at t=%.6f s (%s)", down ? "DOWN" : "UP", (double)(t - s->t0) / NS_PER_S, why);
}

/* Apply every scheduled boundary up to now, each at its exact time. */
static void outage_advance(struct sim *s, int64_t now)
{
    while (s->bidx < s->nbounds && s->bounds[s->bidx] <= now) {
        s->sched_down = (s->bidx % 2) == 0;
        link_state_at(s, s->bounds[s->bidx], "schedule");
        s->bidx++;
    }
}

/* Link-clock time at real time t, after applying any outage boundary that has passed. */
static int64_t vnow_at(struct sim *s, int64_t t)
{
    outage_advance(s, t);
    return vclock(s, t);
}

/* Real time at which the link clock reaches v, assuming no new outage; T_NEVER while down. */
static int64_t real_of(const struct sim *s, int64_t v)
{
    if (s->down)
        return T_NEVER;
    if (v <= s->v_last)
        return s->t_last;
    return s->t_last + (v - s->v_last);
}

static void stats_add(struct sim *s, int64_t late_ns)
{
    size_t b = 0;

    if (late_ns < 0)
        late_ns = 0;
    s->st_count++;
    s->st_sum += late_ns;
    if (late_ns > s->st_max)
        s->st_max = late_ns;
    while (b < 9 && late_ns >= st_edges_us[b] * NS_PER_US)
        b++;
    s->st_hist[b]++;
}

static void stats_print(const struct sim *s)
{
    size_t i;

    if (s->st_stamp_n > 0)
        fprintf(stderr,
                PROG ": stats: %" PRIu64 " reads with kernel receive timestamps,"
                     " mean %.1f us before the relay saw them\n",
                s->st_stamp_n, (double)s->st_stamp_sum / (double)s->st_stamp_n / NS_PER_US);
    fprintf(stderr,
            PROG ": stats: %" PRIu64 " chunks written behind receiver back-pressure"
                 " (not counted below)\n",
            s->st_backlogged);
    if (s->st_count == 0) {
        logmsg("stats: no other chunks delivered");
        return;
    }
    fprintf(stderr,
            PROG ": stats: %" PRIu64 " chunks, first-byte lateness behind due time:"
                 " mean %.1f us, max %.1f us\n",
            s->st_count, (double)s->st_sum / (double)s->st_count / NS_PER_US,
            (double)s->st_max / NS_PER_US);
    fprintf(stderr, PROG ": stats: histogram");
    for (i = 0; i < 10; i++) {
        if (i < 9)
            fprintf(stderr, " <%" PRId64 "us:%" PRIu64, st_edges_us[i], s->st_hist[i]);
        else
            fprintf(stderr, " >=%" PRId64 "us:%" PRIu64, st_edges_us[8], s->st_hist[i]);
    }
    fputc('\n', stderr);
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */

static void dir_init(struct dir *d, const struct link *l, uint64_t seed, uint64_t id, int which)
{
    memset(d, 0, sizeof *d);
    d->link = l;
    d->rng = seed ^ (id * 0xD1B54A32D192ED03ULL) ^ (uint64_t)which;
    (void)rng_next(&d->rng);
}

static void dir_free(struct dir *d)
{
    while (d->head) {
        struct chunk *ch = d->head;
        d->head = ch->next;
        free(ch);
    }
    d->tail = NULL;
    d->buffered = 0;
}

static bool dir_wants_read(const struct sim *s, const struct dir *d)
{
    return !d->src_done && d->buffered < s->max_buffer;
}

static uint32_t side_wanted(const struct sim *s, const struct side *sd)
{
    const struct conn *c = sd->conn;
    const struct dir *in = sd->is_srv ? &c->down : &c->up;
    const struct dir *out = sd->is_srv ? &c->up : &c->down;
    uint32_t ev = 0;

    if (sd->is_srv && c->connecting)
        return EPOLLOUT;
    if (dir_wants_read(s, in))
        ev |= EPOLLIN;
    if (out->blocked)
        ev |= EPOLLOUT;
    return ev;
}

/*
 * Bring the epoll registration of sd in line with what it needs.  An fd with no interest is
 * removed entirely, so a hung-up socket cannot spin the loop with EPOLLHUP.
 */
static int side_update(struct sim *s, struct side *sd)
{
    uint32_t want = side_wanted(s, sd);
    struct epoll_event ev = {.events = want, .data.ptr = sd};

    if (sd->fd < 0 || (sd->registered && want == sd->armed) || (!sd->registered && !want))
        return 0;
    if (want == 0) {
        if (epoll_ctl(s->ep, EPOLL_CTL_DEL, sd->fd, NULL) < 0)
            return -errno;
        sd->registered = false;
        return 0;
    }
    if (epoll_ctl(s->ep, sd->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, sd->fd, &ev) < 0)
        return -errno;
    sd->registered = true;
    sd->armed = want;
    return 0;
}

static void listeners_enable(struct sim *s, bool on)
{
    size_t i;

    for (i = 0; i < s->nlst; i++) {
        struct listener *l = &s->lst[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
        if (l->registered == on)
            continue;
        if (epoll_ctl(s->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, l->fd, on ? &ev : NULL) < 0)
            logmsg("epoll_ctl for %s: %s", l->bound.text, strerror(errno));
        else
            l->registered = on;
    }
}

/* Tear a connection down.  rst: make both peers see a reset instead of a FIN. */
static void conn_kill(struct sim *s, struct conn *c, bool rst, const char *why)
{
    if (c->dead)
        return;
    VLOG("conn %" PRIu64 " closed (%s)", c->id, why);
    c->dead = true;
    if (c->cli.fd >= 0)
        rst ? close_rst(c->cli.fd) : (void)close(c->cli.fd);
    if (c->srv.fd >= 0)
        rst ? close_rst(c->srv.fd) : (void)close(c->srv.fd);
    c->cli.fd = c->srv.fd = -1;
    dir_free(&c->up);
    dir_free(&c->down);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = s->grave;
    s->grave = c;
    s->nconns--;
    if (s->accept_paused) {
        s->accept_paused = false;
        listeners_enable(s, true);
    }
}

static void conn_reap(struct sim *s)
{
    while (s->grave) {
        struct conn *c = s->grave;
        s->grave = c->next;
        free(c);
    }
}

static void conn_update(struct sim *s, struct conn *c)
{
    int r;

    if (c->dead)
        return;
    if (c->up.dst_done && c->down.dst_done) {
        conn_kill(s, c, false, "both directions finished");
        return;
    }
    if ((r = side_update(s, &c->cli)) < 0 || (r = side_update(s, &c->srv)) < 0) {
        logmsg("conn %" PRIu64 ": epoll_ctl: %s", c->id, strerror(-r));
        conn_kill(s, c, true, "epoll error");
    }
}

/*
 * Report a failed connect to a --to target once per streak (clients such as ZeroMQ retry
 * every 100 ms while a server is down), or every time with --verbose.
 */
static void connect_result(struct sim *s, size_t pair, int err)
{
    struct listener *l = &s->lst[pair];

    if (err && (!l->connect_failing || g_verbose))
        logmsg("connect to %s: %s; dropping the client connection%s", s->opt->to[pair].text,
               strerror(err), g_verbose ? "" : " (repeats not shown)");
    else if (!err && l->connect_failing)
        logmsg("connect to %s: succeeded again", s->opt->to[pair].text);
    l->connect_failing = err != 0;
}

static void conn_open(struct sim *s, struct listener *l, int cfd)
{
    const struct endpoint *to = &s->opt->to[l->pair];
    struct conn *c = calloc(1, sizeof *c);
    int sfd, r;

    if (!c) {
        logmsg("accept on %s: out of memory, dropping connection", l->bound.text);
        close_rst(cfd);
        return;
    }
    tune_socket(cfd, s->opt->rx_stamps);
    sfd = socket(to->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sfd < 0) {
        logmsg("socket for %s: %s, dropping connection", to->text, strerror(errno));
        close_rst(cfd);
        free(c);
        return;
    }
    tune_socket(sfd, s->opt->rx_stamps);
    r = connect(sfd, (const struct sockaddr *)&to->addr, to->len);
    if (r < 0 && errno != EINPROGRESS) {
        connect_result(s, l->pair, errno);
        close_rst(cfd);
        close(sfd);
        free(c);
        return;
    }
    c->id = s->next_id++;
    c->pair = l->pair;
    c->connecting = r < 0;
    if (!c->connecting)
        connect_result(s, l->pair, 0);
    c->cli = (struct side){.kind = K_SIDE, .fd = cfd, .is_srv = false, .conn = c};
    c->srv = (struct side){.kind = K_SIDE, .fd = sfd, .is_srv = true, .conn = c};
    dir_init(&c->up, &s->up_link, s->opt->seed, c->id, 0);
    dir_init(&c->down, &s->down_link, s->opt->seed, c->id, 1);
    if (c->id == 0) { /* --cut-up/--cut-down apply to the first connection only */
        c->up.zmtp.cut_at = s->opt->cut_up;
        c->down.zmtp.cut_at = s->opt->cut_down;
        c->up.zmtp.skip = c->down.zmtp.skip = 64; /* the ZMTP 3 greeting */
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    VLOG("conn %" PRIu64 ": %s -> %s", c->id, l->bound.text, to->text);
    conn_update(s, c);
}

static void listener_event(struct sim *s, struct listener *l)
{
    int i;

    for (i = 0; i < 64; i++) {
        int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd >= 0) {
            conn_open(s, l, cfd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            logmsg("accept on %s: %s; pausing accepts until a connection closes", l->bound.text,
                   strerror(errno));
            s->accept_paused = true;
            listeners_enable(s, false);
            return;
        }
        logmsg("accept on %s: %s", l->bound.text, strerror(errno));
        return;
    }
}

/* Queue len bytes (or an EOF/RESET marker) that arrived at real time t. */
static int dir_enqueue(struct sim *s, struct dir *d, int64_t t, const void *data, size_t len,
                       unsigned flags)
{
    struct chunk *ch = malloc(sizeof *ch + len);
    int64_t tx, due;

    if (!ch)
        return -ENOMEM;
    ch->next = NULL;
    ch->len = len;
    ch->off = 0;
    ch->flags = flags;
    if (len)
        memcpy(ch->data, data, len);

    tx = vnow_at(s, t);
    if (d->link->ns_per_byte > 0 && len > 0) {
        if (tx < d->link_free)
            tx = d->link_free;
        tx += llround((double)len * d->link->ns_per_byte);
        d->link_free = tx;
    }
    due = tx + link_sample_delay(d->link, &d->rng);
    if (due < d->last_due)
        due = d->last_due;
    d->last_due = due;
    ch->due = due;

    if (d->tail)
        d->tail->next = ch;
    else
        d->head = ch;
    d->tail = ch;
    d->buffered += len;
    return 0;
}

/*
 * Follows the ZMTP frames in data[0..len): returns the offset where the data frame to cut at
 * begins (where it is recognised: after its size, or its command name), or len when it does
 * not begin here.  A frame is flags (bit 1: 8-byte size, bit 2: command), size, body.
 */
static size_t zmtp_scan(struct zmtp *z, const unsigned char *data, size_t len)
{
    size_t i = 0;

    while (i < len) {
        if (z->state == Z_SKIP) {
            uint64_t n = len - i < z->skip ? len - i : z->skip;
            i += (size_t)n;
            z->skip -= n;
            if (z->skip == 0)
                z->state = Z_FLAGS;
            continue;
        }
        unsigned char b = data[i++];
        if (z->state == Z_FLAGS) {
            z->flags = b;
            z->need = (b & 0x02) ? 8 : 1;
            z->size = 0;
            z->state = Z_SIZE;
            continue;
        }
        if (z->state == Z_SIZE) {
            z->size = z->size << 8 | b;
            if (--z->need > 0)
                continue;
            if (!(z->flags & 0x04)) { /* a plain data frame */
                z->skip = z->size;
                z->state = z->skip ? Z_SKIP : Z_FLAGS;
                if (++z->frames == z->cut_at)
                    return i;
                continue;
            }
            z->name_len = 0;
            z->state = z->size ? Z_NAME : Z_FLAGS;
            continue;
        }
        /* Z_NAME: a command's first 8 body bytes (name length, name) */
        z->name[z->name_len++] = b;
        if (z->name_len < 8 && z->name_len < z->size)
            continue;
        z->skip = z->size - z->name_len;
        z->state = z->skip ? Z_SKIP : Z_FLAGS;
        if (z->name_len == 8 && memcmp(z->name, "\x07MESSAGE", 8) == 0 && ++z->frames == z->cut_at)
            return i;
    }
    return len;
}

static void dir_read(struct sim *s, struct conn *c, struct dir *d, int fd, int64_t wake)
{
    static unsigned char buf[READ_SIZE];
    int i;

    for (i = 0; i < READS_PER_EVENT && dir_wants_read(s, d); i++) {
        int64_t stamp, after, t;
        ssize_t n = recv_stamped(fd, buf, d->link->read_size, &stamp, &after);
        int r = 0;

        /*
         * Arrival time: the kernel's receive timestamp when there is one (this removes the
         * relay's own wake-up latency from the simulated delay); otherwise bytes present at
         * wake-up arrived no later than that, and later reads are stamped "now".
         */
        t = i == 0 ? wake : after;
        if (stamp > 0 && stamp <= after && after - stamp < NS_PER_S) {
            s->st_stamp_n++;
            s->st_stamp_sum += t - stamp;
            t = stamp;
        }

        if (n > 0 && d->zmtp.cut_at) {
            size_t keep = zmtp_scan(&d->zmtp, buf, (size_t)n);
            r = keep ? dir_enqueue(s, d, t, buf, keep, 0) : 0;
            if (r == 0 && keep < (size_t)n) { /* the reset travels after the bytes before it */
                logmsg("conn %" PRIu64 ": cutting the %s's data frame %lu (--cut-%s): reset", c->id,
                       d == &c->up ? "client" : "server", d->zmtp.cut_at,
                       d == &c->up ? "up" : "down");
                d->zmtp.cut_at = 0;
                d->src_done = true;
                r = dir_enqueue(s, d, t, NULL, 0, CH_RESET);
            }
        } else if (n > 0) {
            r = dir_enqueue(s, d, t, buf, (size_t)n, 0);
        } else if (n == 0) {
            d->src_done = true;
            r = dir_enqueue(s, d, t, NULL, 0, CH_EOF);
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else {
            VLOG("conn %" PRIu64 ": read from %s side: %s", c->id,
                 d == &c->up ? "client" : "server", strerror(errno));
            d->src_done = true;
            r = dir_enqueue(s, d, t, NULL, 0, CH_RESET);
        }
        if (r < 0) {
            logmsg("conn %" PRIu64 ": %s", c->id, strerror(-r));
            conn_kill(s, c, true, "out of memory");
            return;
        }
    }
}

static bool dir_can_flush(const struct conn *c, const struct dir *d)
{
    return d->head && !d->blocked && !d->dst_done && !(d == &c->up && c->connecting);
}

/* Write everything that is due.  Returns -1 if the connection was killed. */
static int dir_flush(struct sim *s, struct conn *c, struct dir *d)
{
    int fd = d == &c->up ? c->srv.fd : c->cli.fd;

    while (dir_can_flush(c, d)) {
        struct chunk *ch = d->head;
        int64_t v = vnow_at(s, mono_ns());
        ssize_t n;

        if (s->down || ch->due > v)
            return 0;
        if (ch->flags & CH_RESET) {
            conn_kill(s, c, true, d == &c->up ? "client reset" : "server reset");
            return -1;
        }
        if (ch->flags & CH_EOF) {
            if (shutdown(fd, SHUT_WR) < 0 && errno != ENOTCONN)
                VLOG("conn %" PRIu64 ": shutdown: %s", c->id, strerror(errno));
            d->dst_done = true;
        } else {
            if (ch->off == 0 && d->backlogged)
                s->st_backlogged++;
            else if (ch->off == 0)
                stats_add(s, v - ch->due);
            n = send(fd, ch->data + ch->off, ch->len - ch->off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    d->blocked = d->backlogged = true;
                    return 0;
                }
                VLOG("conn %" PRIu64 ": write to %s side: %s", c->id,
                     d == &c->up ? "server" : "client", strerror(errno));
                conn_kill(s, c, true, "write error");
                return -1;
            }
            ch->off += (size_t)n;
            if (ch->off < ch->len)
                continue;
        }
        d->head = ch->next;
        if (!d->head) {
            d->tail = NULL;
            d->backlogged = false;
        }
        d->buffered -= ch->len;
        free(ch);
    }
    return 0;
}

static void side_event(struct sim *s, struct side *sd, uint32_t ev, int64_t wake)
{
    struct conn *c = sd->conn;
    struct dir *in, *out;

    if (c->dead)
        return;
    if (sd->is_srv && c->connecting) {
        int err = 0;
        socklen_t len = sizeof err;

        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        if (getsockopt(sd->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        connect_result(s, c->pair, err);
        if (err) {
            conn_kill(s, c, true, "connect failed");
            return;
        }
        c->connecting = false;
        VLOG("conn %" PRIu64 ": connected to %s", c->id, s->opt->to[c->pair].text);
        conn_update(s, c);
        return;
    }
    in = sd->is_srv ? &c->down : &c->up;
    out = sd->is_srv ? &c->up : &c->down;
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        out->blocked = false; /* the flush pass retries (and finds any error) */
    if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && dir_wants_read(s, in))
        dir_read(s, c, in, sd->fd, wake);
    conn_update(s, c);
}

/* Deliver whatever is due on every connection. */
static void flush_all(struct sim *s)
{
    struct conn *c, *next;

    if (s->down)
        return;
    for (c = s->conns; c; c = next) {
        next = c->next;
        if (dir_flush(s, c, &c->up) < 0 || dir_flush(s, c, &c->down) < 0)
            continue;
        conn_update(s, c);
    }
}

/* Earliest real time something needs doing: a due chunk or an outage boundary. */
static int64_t next_deadline(const struct sim *s)
{
    int64_t dl = s->bidx < s->nbounds ? s->bounds[s->bidx] : T_NEVER;
    const struct conn *c;

    if (s->down)
        return dl;
    for (c = s->conns; c; c = c->next) {
        if (dir_can_flush(c, &c->up)) {
            int64_t t = real_of(s, c->up.head->due);
            dl = t < dl ? t : dl;
        }
        if (dir_can_flush(c, &c->down)) {
            int64_t t = real_of(s, c->down.head->due);
            dl = t < dl ? t : dl;
        }
    }
    return dl;
}

static int timer_arm(struct sim *s, int64_t at)
{
    struct itimerspec its;

    if (at == s->timer_armed)
        return 0;
    memset(&its, 0, sizeof its);
    if (at != T_NEVER) {
        its.it_value.tv_sec = at / NS_PER_S;
        its.it_value.tv_nsec = at % NS_PER_S;
    }
    if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        return -errno;
    s->timer_armed = at;
    return 0;
}

static void signal_event(struct sim *s)
{
    struct signalfd_siginfo si;

    while (read(s->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1) {
            int64_t now = mono_ns();
            outage_advance(s, now);
            s->manual_down = !s->manual_down;
            logmsg("manual outage %s", s->manual_down ? "ON" : "OFF");
            link_state_at(s, now, "SIGUSR1");
        } else {
            VLOG("signal %u: shutting down", si.ssi_signo);
            s->stop = true;
        }
    }
}

static int relay_loop(struct sim *s)
{
    struct epoll_event evs[MAX_EVENTS];

    while (!s->stop) {
        int64_t now = mono_ns(), dl, wake;
        int timeout = -1, n, i, r;

        outage_advance(s, now);
        dl = next_deadline(s);
        if (s->opt->busy_poll || dl <= now || dl - now <= s->spin_ns) {
            timeout = 0;
        } else if ((r = timer_arm(s, dl - s->spin_ns)) < 0) {
            logmsg("timerfd_settime: %s", strerror(-r));
            return -1;
        }
        n = epoll_wait(s->ep, evs, MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            logmsg("epoll_wait: %s", strerror(errno));
            return -1;
        }
        wake = mono_ns();
        outage_advance(s, wake);
        for (i = 0; i < n; i++) {
            struct handle *h = evs[i].data.ptr;
            switch (h->kind) {
            case K_LISTENER: listener_event(s, (struct listener *)h); break;
            case K_SIDE: side_event(s, (struct side *)h, evs[i].events, wake); break;
            case K_SIGNAL: signal_event(s); break;
            case K_TIMER: {
                uint64_t ticks;
                (void)!read(s->tfd, &ticks, sizeof ticks);
                break;
            }
            default: break;
            }
        }
        flush_all(s);
        conn_reap(s);
    }
    return 0;
}

/* Signals are taken through a signalfd so that they are just another loop event. */
static int signals_setup(sigset_t *set)
{
    int fd;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, set, NULL) < 0) {
        logmsg("sigprocmask: %s", strerror(errno));
        return -1;
    }
    fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        logmsg("signalfd: %s", strerror(errno));
    return fd;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int epoll_add(int ep, int fd, void *ptr)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int run_relay(const struct options *o)
{
    struct sim *s = calloc(1, sizeof *s);
    struct endpoint bound[MAX_ENDPOINTS];
    sigset_t set;
    int rc = EXIT_RUNTIME;
    size_t i;

    if (!s) {
        logmsg("out of memory");
        return EXIT_RUNTIME;
    }
    s->t0 = mono_ns();
    s->t_last = s->t0;
    s->opt = o;
    s->ep = s->sfd = s->tfd = -1;
    s->sig_h.kind = K_SIGNAL;
    s->tim_h.kind = K_TIMER;
    s->timer_armed = T_NEVER;
    s->max_buffer = (size_t)(o->max_buffer_mib * 1024 * 1024);
    s->spin_ns = llround(o->spin_us * NS_PER_US);
    link_init(&s->up_link, &o->both, &o->up);
    link_init(&s->down_link, &o->both, &o->down);
    link_describe("up", &s->up_link);
    link_describe("down", &s->down_link);

    /* 1 ns timer slack: the default 50 us would swamp what this tool is measuring. */
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    raise_fd_limit();
    if (outage_build(s) < 0)
        goto out;
    if ((s->sfd = signals_setup(&set)) < 0)
        goto out;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->ep < 0 || s->tfd < 0) {
        logmsg("epoll/timerfd: %s", strerror(errno));
        goto out;
    }
    if (epoll_add(s->ep, s->sfd, &s->sig_h) < 0 || epoll_add(s->ep, s->tfd, &s->tim_h) < 0) {
        logmsg("epoll_ctl: %s", strerror(errno));
        goto out;
    }
    for (i = 0; i < o->nlisten; i++) {
        struct listener *l = &s->lst[i];
        l->kind = K_LISTENER;
        l->pair = i;
        if (listen_on(&o->listen[i], &l->fd, &l->bound) < 0)
            goto out;
        s->nlst++;
        bound[i] = l->bound;
        VLOG("listening on %s -> %s", l->bound.text, o->to[i].text);
    }
    listeners_enable(s, true);
    for (i = 0; i < s->nlst; i++) {
        if (!s->lst[i].registered)
            goto out;
    }
    if (announce(o->ready_file, bound, s->nlst) < 0)
        goto out;
    for (i = 0; i < o->noutage; i++)
        VLOG("outage scheduled at %.3f s for %.3f s", o->outage[i].start_s, o->outage[i].len_s);

    rc = relay_loop(s) < 0 ? EXIT_RUNTIME : 0;
    if (o->ready_file)
        (void)unlink(o->ready_file);
    if (o->stats)
        stats_print(s);

out:
    while (s->conns)
        conn_kill(s, s->conns, false, "shutdown");
    conn_reap(s);
    for (i = 0; i < s->nlst; i++)
        close(s->lst[i].fd);
    if (s->tfd >= 0)
        close(s->tfd);
    if (s->sfd >= 0)
        close(s->sfd);
    if (s->ep >= 0)
        close(s->ep);
    free(s->bounds);
    free(s);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Echo server (test helper)                                                                   */

struct echo_conn {
    enum kind kind;
    int fd;
    bool registered, eof, blocked;
    uint32_t armed;
    struct echo_conn *prev, *next;
    size_t len, off;
    unsigned char buf[ECHO_BUF];
};

struct echo {
    int ep;
    struct listener lst[MAX_ENDPOINTS];
    size_t nlst;
    struct echo_conn *conns;
};

static void echo_close(struct echo *e, struct echo_conn *c)
{
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        e->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

/* Flush, read, and re-arm; closes (and frees) c when it is finished or broken. */
static void echo_service(struct echo *e, struct echo_conn *c)
{
    uint32_t want = 0;
    struct epoll_event ev;

    for (;;) {
        while (c->off < c->len) {
            ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                c->blocked = true;
                break;
            }
            if (n < 0) {
                echo_close(e, c);
                return;
            }
            c->off += (size_t)n;
        }
        if (c->off == c->len)
            c->off = c->len = 0;
        if (c->eof || c->blocked || c->len == sizeof c->buf)
            break;
        {
            ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n < 0) {
                echo_close(e, c);
                return;
            }
            if (n == 0)
                c->eof = true;
            c->len += (size_t)n;
        }
    }
    if (c->eof && c->len == 0) {
        echo_close(e, c);
        return;
    }
    if (c->off > 0 && c->len == sizeof c->buf) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (!c->eof && c->len < sizeof c->buf)
        want |= EPOLLIN;
    if (c->blocked)
        want |= EPOLLOUT;
    if (c->registered && want == c->armed)
        return;
    ev.events = want;
    ev.data.ptr = c;
    if (epoll_ctl(e->ep, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        logmsg("echo: epoll_ctl: %s", strerror(errno));
        echo_close(e, c);
        return;
    }
    c->registered = true;
    c->armed = want;
}

static void echo_accept(struct echo *e, struct listener *l)
{
    for (;;) {
        struct echo_conn *c;
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                logmsg("echo: accept on %s: %s", l->bound.text, strerror(errno));
            return;
        }
        c = calloc(1, sizeof *c);
        if (!c) {
            logmsg("echo: out of memory");
            close_rst(fd);
            continue;
        }
        tune_socket(fd, false);
        c->kind = K_ECHO_CONN;
        c->fd = fd;
        c->next = e->conns;
        if (e->conns)
            e->conns->prev = c;
        e->conns = c;
        echo_service(e, c);
    }
}

static int run_echo(const struct options *o)
{
    struct echo e = {.ep = -1};
    struct handle sig_h = {K_SIGNAL};
    struct endpoint bound[MAX_ENDPOINTS];
    struct epoll_event evs[MAX_EVENTS];
    int sfd, rc = EXIT_RUNTIME;
    bool stop = false;
    sigset_t set;
    size_t i;

    if ((sfd = signals_setup(&set)) < 0)
        return EXIT_RUNTIME;
    e.ep = epoll_create1(EPOLL_CLOEXEC);
    if (e.ep < 0 || epoll_add(e.ep, sfd, &sig_h) < 0) {
        logmsg("epoll: %s", strerror(errno));
        goto out;
    }
    for (i = 0; i < o->necho; i++) {
        struct listener *l = &e.lst[i];
        l->kind = K_ECHO_LISTENER;
        if (listen_on(&o->echo[i], &l->fd, &l->bound) < 0)
            goto out;
        e.nlst++;
        bound[i] = l->bound;
        if (epoll_add(e.ep, l->fd, l) < 0) {
            logmsg("epoll_ctl: %s", strerror(errno));
            goto out;
        }
    }
    if (announce(o->ready_file, bound, e.nlst) < 0)
        goto out;
    rc = 0;
    while (!stop) {
        int n = epoll_wait(e.ep, evs, MAX_EVENTS, -1), k;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            logmsg("epoll_wait: %s", strerror(errno));
            rc = EXIT_RUNTIME;
            break;
        }
        for (k = 0; k < n; k++) {
            struct handle *h = evs[k].data.ptr;
            if (h->kind == K_SIGNAL) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                    stop = stop || si.ssi_signo != SIGUSR1; /* USR1: nothing to toggle */
            } else if (h->kind == K_ECHO_LISTENER) {
                echo_accept(&e, (struct listener *)h);
            } else {
                struct echo_conn *c = (struct echo_conn *)h;
                c->blocked = false;
                echo_service(&e, c);
            }
        }
    }
    if (o->ready_file)
        (void)unlink(o->ready_file);
out:
    while (e.conns)
        echo_close(&e, e.conns);
    for (i = 0; i < e.nlst; i++)
        close(e.lst[i].fd);
    if (e.ep >= 0)
        close(e.ep);
    close(sfd);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    static struct options opt; /* large: keep it off the stack */
    int r = parse_args(argc, argv, &opt);

    if (r > 0)
        return 0;
    if (r < 0) {
        fputs("Try '" PROG " --help'.\n", stderr);
        return EXIT_USAGE;
    }
    return opt.necho > 0 ? run_echo(&opt) : run_relay(&opt);
}
