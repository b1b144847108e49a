/* tt_signals: how every long-running program takes its signals. SIGINT and
 * SIGTERM ask it to stop, SIGHUP (in the programs that reload) to read its
 * files again. The handlers only set the program's flags, which its loop
 * reads; they are installed without SA_RESTART, so a blocking zmq_poll
 * returns (EINTR) and the loop sees the flag at once.
 */
#ifndef TT_SIGNALS_H
#define TT_SIGNALS_H

#include <signal.h>

/* SIGINT and SIGTERM set *stop to 1; when reload is not NULL, SIGHUP sets
 * *reload to 1 (else SIGHUP keeps its action). The flags are the caller's
 * and must live as long as the process (static); the caller clears
 * *reload when it has reloaded. One pair per process: a second call
 * replaces the first. Cannot fail: sigaction refuses only SIGKILL, SIGSTOP
 * and unknown signals. */
void tt_signals_catch(volatile sig_atomic_t *stop, volatile sig_atomic_t *reload);

#endif
