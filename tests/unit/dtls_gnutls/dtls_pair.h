/* Test harness: one DTLS client session and one server session of any
 * backends (each side's config names its backend) talking over the fake
 * network with a fake clock. The server session is created when the first
 * datagram reaches the server address, optionally after a stateless cookie
 * exchange made with GnuTLS's own cookie helpers (so the backend's
 * "continue from a cookie-checked ClientHello" path is exercised without the
 * server table). */
#ifndef DK_TEST_DTLS_PAIR_H
#define DK_TEST_DTLS_PAIR_H

#include "dtls/backend.h"
#include "fakenet.h"

#include <stdbool.h>

struct dk_pair {
    struct dk_fakenet net;
    struct dk_addr caddr, saddr;
    const struct dk_dtls_config *ccfg, *scfg;
    struct dk_dtls_session *c, *s;
    dk_time_t now;
    int c_err, s_err; /* first error each side returned (0: none) */
    bool cookie;      /* do a HelloVerifyRequest exchange first */
    uint8_t cookie_key[16];
    uint64_t hvr_sent;
    uint64_t c_sent, c_bytes, s_sent, s_bytes; /* datagrams popped from each side */
};

void dk_pair_init(struct dk_pair *p, const struct dk_dtls_config *ccfg,
                  const struct dk_dtls_config *scfg, uint64_t seed);
/* Creates the client session (its ClientHello goes out). Returns its error. */
int dk_pair_start(struct dk_pair *p);
/* Delivers datagrams and runs timers until both sides are settled (not
 * handshaking) with nothing in flight, or the clock passes `limit`. */
void dk_pair_run(struct dk_pair *p, dk_time_t limit);
/* Sends data from one side and runs until it is delivered. */
int dk_pair_write(struct dk_pair *p, bool from_client, const void *data, size_t len);
/* Pops datagrams both sessions queued (after write/close) into the network. */
void dk_pair_flush(struct dk_pair *p);
bool dk_pair_connected(const struct dk_pair *p);
void dk_pair_free(struct dk_pair *p);

#endif
