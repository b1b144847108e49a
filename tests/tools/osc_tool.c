/* tutti-osc-tool: an OSC test client for it_osc.
 *
 *   tutti-osc-tool listen PORT
 *       receives on UDP 127.0.0.1:PORT and prints one line per message:
 *       ARRIVAL_NS TIMETAG_NS PATH TYPES ARG...  (ARRIVAL_NS: CLOCK_MONOTONIC
 *       when it was read; TIMETAG_NS: the bundle's timetag read back as
 *       session ns, "-" for a bare message). Runs until killed.
 *   tutti-osc-tool send PORT PATH [TYPES ARG...]
 *       sends one message to 127.0.0.1:PORT from a port of its own, waits up
 *       to 5 s for the reply and prints it as above; exit 1 without one.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <lo/lo.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* liblo's lo_arg pointers need not be aligned for the union: read through memcpy. */
static int32_t arg_i(lo_arg *a)
{
    int32_t v;
    memcpy(&v, (void *)a, sizeof v);
    return v;
}
static int64_t arg_h(lo_arg *a)
{
    int64_t v;
    memcpy(&v, (void *)a, sizeof v);
    return v;
}
static float arg_f(lo_arg *a)
{
    float v;
    memcpy(&v, (void *)a, sizeof v);
    return v;
}
#define ARG_S(a) ((const char *)(void *)(a))

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void print_message(int64_t arrival, const char *tt, void *data, size_t len)
{
    int res = 0;
    char *path = lo_get_path(data, (ssize_t)len);
    lo_message m = lo_message_deserialise(data, len, &res);
    if (!m || !path) {
        printf("%lld %s ? malformed\n", (long long)arrival, tt);
        fflush(stdout);
        return;
    }
    const char *types = lo_message_get_types(m);
    lo_arg **a = lo_message_get_argv(m);
    printf("%lld %s %s %s", (long long)arrival, tt, path, types[0] ? types : "-");
    for (int i = 0; types[i]; i++) {
        switch (types[i]) {
        case 's': printf(" %s", ARG_S(a[i])); break;
        case 'i': printf(" %d", arg_i(a[i])); break;
        case 'h': printf(" %lld", (long long)arg_h(a[i])); break;
        case 'f': printf(" %g", arg_f(a[i])); break;
        default: printf(" ?"); break;
        }
    }
    printf("\n");
    fflush(stdout);
    lo_message_free(m);
}

/* A bundle: "#bundle\0", timetag, then (size, element)...; nested bundles skipped. */
static void print_datagram(int64_t arrival, uint8_t *buf, size_t len)
{
    if (len >= 16 && !memcmp(buf, "#bundle", 8)) {
        uint32_t be[2];
        memcpy(be, buf + 8, 8);
        uint64_t frac = ntohl(be[1]);
        int64_t ns = (int64_t)ntohl(be[0]) * 1000000000 +
                     (int64_t)((frac * 1000000000u + ((1ull << 32) - 1)) >> 32);
        char tt[32];
        snprintf(tt, sizeof tt, "%lld", (long long)ns);
        size_t off = 16;
        while (off + 4 <= len) {
            uint32_t sz;
            memcpy(&sz, buf + off, 4);
            sz = ntohl(sz);
            off += 4;
            if (sz > len - off)
                break;
            if (buf[off] != '#')
                print_message(arrival, tt, buf + off, sz);
            off += sz;
        }
        return;
    }
    print_message(arrival, "-", buf, len);
}

static int udp_socket(unsigned port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("tutti-osc-tool: bind");
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    static uint8_t buf[65536];
    if (argc == 3 && !strcmp(argv[1], "listen")) {
        int fd = udp_socket((unsigned)atoi(argv[2]));
        for (;;) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            int64_t arrival = mono_ns();
            if (n > 0)
                print_datagram(arrival, buf, (size_t)n);
        }
    }
    if (argc >= 4 && !strcmp(argv[1], "send")) {
        const char *types = argc >= 5 ? argv[4] : "";
        if ((int)strlen(types) != argc - 5 && !(argc == 4)) {
            fprintf(stderr, "tutti-osc-tool: %zu types, %d args\n", strlen(types), argc - 5);
            return 2;
        }
        lo_message m = lo_message_new();
        for (int i = 0; types[i]; i++) {
            const char *v = argv[5 + i];
            if (types[i] == 's')
                lo_message_add_string(m, v);
            else if (types[i] == 'i')
                lo_message_add_int32(m, atoi(v));
            else if (types[i] == 'f')
                lo_message_add_float(m, (float)atof(v));
            else
                return 2;
        }
        size_t len = sizeof buf;
        if (!lo_message_serialise(m, argv[3], buf, &len))
            return 2;
        lo_message_free(m);
        int fd = udp_socket(0);
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to) < 0) {
            perror("tutti-osc-tool: sendto");
            return 1;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) != 1) {
            fprintf(stderr, "tutti-osc-tool: no reply in 5 s\n");
            return 1;
        }
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return 1;
        print_datagram(mono_ns(), buf, (size_t)n);
        close(fd);
        return 0;
    }
    fprintf(stderr, "usage: tutti-osc-tool listen PORT | send PORT PATH [TYPES ARG...]\n");
    return 2;
}
