/* tt_web_guard: what keeps our web servers (the dashboard, a room's
 * display) to their own browsers.
 *
 * The Host rule: without a password the page trusts whoever reaches
 * loopback, so it must answer only under a loopback name; a DNS-rebinding
 * page (http://127.attacker.example:8080/) would otherwise read the page,
 * its CSRF token included, as its own origin. The whole host is compared,
 * port removed, never a prefix.
 *
 * The login throttle: wrong passwords are counted per client address, not
 * per connection, so opening more connections buys no more guesses. After
 * each wrong password the address waits 2 s, doubling up to 30 s; a right
 * password clears it. The table is bounded (the least recently failed
 * address makes room) and locked: HTTP threads share it.
 */
#ifndef TT_WEB_GUARD_H
#define TT_WEB_GUARD_H

#include <stdint.h>

/* 1 when the Host header (e.g. "127.0.0.1:8080", "[::1]:80", "localhost")
 * names loopback (127.0.0.1, localhost, [::1]) or bound_host exactly
 * (bound_host may be NULL). NULL or malformed headers are refused. */
int tt_web_guard_host_ok(const char *host_header, const char *bound_host);

#define TT_WEB_GUARD_ADDRESSES 256
#define TT_WEB_GUARD_FIRST_WAIT_MS 2000
#define TT_WEB_GUARD_MAX_WAIT_MS 30000

typedef struct tt_web_guard tt_web_guard_t;

tt_web_guard_t *tt_web_guard_new(void);
void tt_web_guard_destroy(tt_web_guard_t **self_p);

/* Milliseconds address must still wait before its next password is
 * checked; 0: check it now. */
int64_t tt_web_guard_login_wait_ms(tt_web_guard_t *g, const char *address, int64_t now_ns);
/* A wrong password from address at now_ns. */
void tt_web_guard_login_failed(tt_web_guard_t *g, const char *address, int64_t now_ns);
/* A right password: the address starts clean. */
void tt_web_guard_login_ok(tt_web_guard_t *g, const char *address);

#endif
