/* tt_signals: see tt_signals.h. */
#define _POSIX_C_SOURCE 200809L
#include "tt_signals.h"

#include <stddef.h>
#include <string.h>

/* Set before the handlers are installed, read only by them. */
static volatile sig_atomic_t *stop_flag;
static volatile sig_atomic_t *reload_flag;

static void on_stop(int sig)
{
    (void)sig;
    *stop_flag = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    *reload_flag = 1;
}

void tt_signals_catch(volatile sig_atomic_t *stop, volatile sig_atomic_t *reload)
{
    stop_flag = stop;
    reload_flag = reload;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (reload) {
        sa.sa_handler = on_hup;
        sigaction(SIGHUP, &sa, NULL);
    }
}
