/* Test support: a scripted in-memory datagram network with a fake clock
 * (DESIGN §9.9). Deterministic: the same seed gives the same losses,
 * duplicates and reorderings. Not part of any library a program links. */
#ifndef DK_TEST_FAKENET_H
#define DK_TEST_FAKENET_H

#include <stddef.h>
#include <stdint.h>
#include <duckling/addr.h>
#include <duckling/clock.h>

#define DK_FAKENET_MTU 2048

struct dk_fakenet_dgram {
    struct dk_addr from, to;
    dk_time_t deliver_at;
    uint64_t seq; /* ties broken by send order */
    size_t len;
    uint8_t data[DK_FAKENET_MTU];
};

struct dk_fakenet {
    /* Impairments, per datagram, in percent (0-100). */
    unsigned loss_pct;
    unsigned dup_pct;
    unsigned reorder_pct; /* such a datagram gets an extra delay of up to reorder_ms */
    dk_time_t latency_ms;   /* one-way base latency */
    dk_time_t reorder_ms;
    /* Drop the datagrams whose 1-based send index is listed (scripted loss). */
    uint64_t drop_list[32];
    size_t drop_count;

    /* Statistics. */
    uint64_t sent, dropped, duplicated, delivered, bytes_sent;

    /* Internal. */
    uint64_t rng_state;
    uint64_t next_seq;
    struct dk_fakenet_dgram *q;
    size_t qlen, qcap;
};

void dk_fakenet_init(struct dk_fakenet *net, uint64_t seed);
void dk_fakenet_free(struct dk_fakenet *net);
/* Queues a datagram sent at `now`, applying impairments. */
void dk_fakenet_send(struct dk_fakenet *net, const struct dk_addr *from, const struct dk_addr *to,
                     const void *data, size_t len, dk_time_t now);
/* Time of the earliest queued datagram, or DK_TIME_NEVER. */
dk_time_t dk_fakenet_next_time(const struct dk_fakenet *net);
/* Pops the earliest datagram due at or before `now` into *out. Returns 1 if one was popped. */
int dk_fakenet_recv(struct dk_fakenet *net, dk_time_t now, struct dk_fakenet_dgram *out);

#endif
