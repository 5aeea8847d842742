#include <duckling/addr.h>
#include <duckling/err.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

int dk_addr_from_ip(struct dk_addr *a, const char *ip, uint16_t port)
{
    memset(a, 0, sizeof *a);
    char tmp[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(ip);
    if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
        if (n - 2 >= sizeof tmp)
            return DK_EPARSE;
        memcpy(tmp, ip + 1, n - 2);
        tmp[n - 2] = '\0';
        ip = tmp;
    }
    if (inet_pton(AF_INET, ip, &a->u.in4.sin_addr) == 1) {
        a->u.in4.sin_family = AF_INET;
        a->u.in4.sin_port = htons(port);
        a->len = sizeof a->u.in4;
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &a->u.in6.sin6_addr) == 1) {
        a->u.in6.sin6_family = AF_INET6;
        a->u.in6.sin6_port = htons(port);
        a->len = sizeof a->u.in6;
        return 0;
    }
    return DK_EPARSE;
}

int dk_addr_from_sockaddr(struct dk_addr *a, const struct sockaddr *sa, socklen_t len)
{
    memset(a, 0, sizeof *a);
    if (sa->sa_family == AF_INET && len >= sizeof a->u.in4) {
        memcpy(&a->u.in4, sa, sizeof a->u.in4);
        a->len = sizeof a->u.in4;
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof a->u.in6) {
        memcpy(&a->u.in6, sa, sizeof a->u.in6);
        a->len = sizeof a->u.in6;
        return 0;
    }
    return DK_EINVAL;
}

bool dk_addr_equal(const struct dk_addr *a, const struct dk_addr *b)
{
    if (a->len != b->len || a->u.sa.sa_family != b->u.sa.sa_family)
        return false;
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in4.sin_port == b->u.in4.sin_port &&
               a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
    if (a->u.sa.sa_family == AF_INET6)
        return a->u.in6.sin6_port == b->u.in6.sin6_port &&
               a->u.in6.sin6_scope_id == b->u.in6.sin6_scope_id &&
               memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
    return a->len == 0;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL; /* FNV-1a step; the seed keys it per table */
    }
    return h;
}

uint64_t dk_addr_hash(const struct dk_addr *a, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    if (a->u.sa.sa_family == AF_INET) {
        h = mix(h, &a->u.in4.sin_addr, 4);
        h = mix(h, &a->u.in4.sin_port, 2);
    } else if (a->u.sa.sa_family == AF_INET6) {
        h = mix(h, &a->u.in6.sin6_addr, 16);
        h = mix(h, &a->u.in6.sin6_port, 2);
    }
    return h ^ (h >> 29);
}

uint16_t dk_addr_port(const struct dk_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return ntohs(a->u.in4.sin_port);
    if (a->u.sa.sa_family == AF_INET6)
        return ntohs(a->u.in6.sin6_port);
    return 0;
}

const char *dk_addr_format(const struct dk_addr *a, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->u.sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &a->u.in4.sin_addr, ip, sizeof ip);
        snprintf(out, cap, "%s:%u", ip, dk_addr_port(a));
    } else if (a->u.sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%u", ip, dk_addr_port(a));
    } else {
        snprintf(out, cap, "(unset)");
    }
    return out;
}
