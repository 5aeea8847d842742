/* duckling — peer addresses. Engines identify peers by value with this type;
 * only src/net turns them into sockets. */
#ifndef DUCKLING_ADDR_H
#define DUCKLING_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct dk_addr {
    socklen_t len; /* 0: unset */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } u;
};

#define DK_ADDR_STRLEN 64 /* "[v6%scope]:port" fits */

/* Parses "1.2.3.4", "::1", "[::1]" with a port. Returns 0 or DK_EPARSE. */
int dk_addr_from_ip(struct dk_addr *a, const char *ip, uint16_t port);
/* Copies a socket address (AF_INET/AF_INET6 only). Returns 0 or DK_EINVAL. */
int dk_addr_from_sockaddr(struct dk_addr *a, const struct sockaddr *sa, socklen_t len);
/* Address family, address bytes and port compared; true when the same peer. */
bool dk_addr_equal(const struct dk_addr *a, const struct dk_addr *b);
uint64_t dk_addr_hash(const struct dk_addr *a, uint64_t seed);
uint16_t dk_addr_port(const struct dk_addr *a);
/* "127.0.0.1:5683" or "[::1]:5683" into out (>= DK_ADDR_STRLEN). Returns out. */
const char *dk_addr_format(const struct dk_addr *a, char *out, size_t cap);

#endif
