/* duckling — UDP sockets (IPv4 and IPv6), non-blocking. src/net is the only
 * layer with sockets (DESIGN §2.4). */
#ifndef DUCKLING_UDP_H
#define DUCKLING_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <duckling/addr.h>

struct dk_udp {
    int fd;              /* -1 when closed */
    struct dk_addr local; /* bound address, with the real port when 0 was asked */
};

void dk_udp_init(struct dk_udp *u);
/* Binds a non-blocking UDP socket to ip:port ("127.0.0.1", "::1", "0.0.0.0",
 * "::" which also takes IPv4 where the system allows). port 0 picks a free one.
 * Errors: DK_EPARSE (bad ip), DK_EIO (socket/bind failed; errno kept). */
int dk_udp_open(struct dk_udp *u, const char *ip, uint16_t port);
/* Sends one datagram. Returns 0, DK_EAGAIN (socket buffer full: the datagram
 * is lost, as on a congested network) or DK_EIO. */
int dk_udp_send(struct dk_udp *u, const struct dk_addr *to, const void *data, size_t len);
/* Receives one datagram into buf. Returns its length, DK_EAGAIN when none is
 * waiting, DK_ENOSPC when it was longer than cap (it is dropped), DK_EIO. */
int dk_udp_recv(struct dk_udp *u, struct dk_addr *from, void *buf, size_t cap);
void dk_udp_close(struct dk_udp *u);

#endif
