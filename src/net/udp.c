#include <duckling/udp.h>
#include <duckling/err.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void dk_udp_init(struct dk_udp *u)
{
    memset(u, 0, sizeof *u);
    u->fd = -1;
}

int dk_udp_open(struct dk_udp *u, const char *ip, uint16_t port)
{
    struct dk_addr a;
    if (dk_addr_from_ip(&a, ip, port) != 0)
        return DK_EPARSE;
    int fd = socket(a.u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return DK_EIO;
    int zero = 0;
    if (a.u.sa.sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    /* No SO_REUSEADDR: UDP has no TIME_WAIT to wait out, and on Linux it
     * would let a second server bind a port in use and take part of its
     * datagrams; a port in use must fail the bind (DK_EIO). */
    if (bind(fd, &a.u.sa, a.len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return DK_EIO;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    dk_addr_from_sockaddr(&u->local, (struct sockaddr *)&ss, sl);
    u->fd = fd;
    return 0;
}

int dk_udp_send(struct dk_udp *u, const struct dk_addr *to, const void *data, size_t len)
{
    struct dk_addr dst = *to;
    /* An IPv4 peer on a dual-stack IPv6 socket needs the mapped form. */
    if (u->local.u.sa.sa_family == AF_INET6 && to->u.sa.sa_family == AF_INET) {
        memset(&dst, 0, sizeof dst);
        dst.u.in6.sin6_family = AF_INET6;
        dst.u.in6.sin6_port = to->u.in4.sin_port;
        dst.u.in6.sin6_addr.s6_addr[10] = 0xff;
        dst.u.in6.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&dst.u.in6.sin6_addr.s6_addr[12], &to->u.in4.sin_addr, 4);
        dst.len = sizeof dst.u.in6;
    }
    for (;;) {
        ssize_t n = sendto(u->fd, data, len, 0, &dst.u.sa, dst.len);
        if (n >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            return DK_EAGAIN;
        return DK_EIO;
    }
}

static void unmap_v4(struct dk_addr *a)
{
    const uint8_t *b = a->u.in6.sin6_addr.s6_addr;
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (a->u.sa.sa_family != AF_INET6 || memcmp(b, prefix, 12) != 0)
        return;
    struct dk_addr v4;
    memset(&v4, 0, sizeof v4);
    v4.u.in4.sin_family = AF_INET;
    v4.u.in4.sin_port = a->u.in6.sin6_port;
    memcpy(&v4.u.in4.sin_addr, b + 12, 4);
    v4.len = sizeof v4.u.in4;
    *a = v4;
}

int dk_udp_recv(struct dk_udp *u, struct dk_addr *from, void *buf, size_t cap)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        ssize_t n = recvfrom(u->fd, buf, cap, MSG_TRUNC, (struct sockaddr *)&ss, &sl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return DK_EAGAIN;
            /* ICMP errors surface here on Linux; they are not fatal for UDP. */
            if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
                continue;
            return DK_EIO;
        }
        if (dk_addr_from_sockaddr(from, (struct sockaddr *)&ss, sl) != 0)
            continue;
        unmap_v4(from);
        if ((size_t)n > cap)
            return DK_ENOSPC;
        return (int)n;
    }
}

void dk_udp_close(struct dk_udp *u)
{
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
}
