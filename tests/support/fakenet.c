#include "fakenet.h"

#include <stdlib.h>
#include <string.h>

static uint64_t next_rand(struct dk_fakenet *net)
{
    /* xorshift64*: test determinism only, not security. */
    uint64_t x = net->rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    net->rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static unsigned pct(struct dk_fakenet *net)
{
    return (unsigned)(next_rand(net) % 100);
}

void dk_fakenet_init(struct dk_fakenet *net, uint64_t seed)
{
    memset(net, 0, sizeof *net);
    net->rng_state = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

void dk_fakenet_free(struct dk_fakenet *net)
{
    free(net->q);
    net->q = NULL;
    net->qlen = net->qcap = 0;
}

static void enqueue(struct dk_fakenet *net, const struct dk_addr *from, const struct dk_addr *to,
                    const void *data, size_t len, dk_time_t at)
{
    if (net->qlen == net->qcap) {
        size_t cap = net->qcap ? net->qcap * 2 : 16;
        struct dk_fakenet_dgram *q = realloc(net->q, cap * sizeof *q);
        if (!q)
            abort();
        net->q = q;
        net->qcap = cap;
    }
    struct dk_fakenet_dgram *d = &net->q[net->qlen++];
    d->from = *from;
    d->to = *to;
    d->deliver_at = at;
    d->seq = net->next_seq++;
    d->len = len;
    memcpy(d->data, data, len);
}

void dk_fakenet_send(struct dk_fakenet *net, const struct dk_addr *from, const struct dk_addr *to,
                     const void *data, size_t len, dk_time_t now)
{
    net->sent++;
    net->bytes_sent += len;
    if (len > DK_FAKENET_MTU) {
        net->dropped++;
        return;
    }
    for (size_t i = 0; i < net->drop_count; i++) {
        if (net->drop_list[i] == net->sent) {
            net->dropped++;
            return;
        }
    }
    if (net->loss_pct && pct(net) < net->loss_pct) {
        net->dropped++;
        return;
    }
    dk_time_t at = now + net->latency_ms;
    if (net->reorder_pct && net->reorder_ms && pct(net) < net->reorder_pct)
        at += 1 + (dk_time_t)(next_rand(net) % (uint64_t)net->reorder_ms);
    enqueue(net, from, to, data, len, at);
    if (net->dup_pct && pct(net) < net->dup_pct) {
        net->duplicated++;
        enqueue(net, from, to, data, len, at + (dk_time_t)(next_rand(net) % 50));
    }
}

dk_time_t dk_fakenet_next_time(const struct dk_fakenet *net)
{
    dk_time_t t = DK_TIME_NEVER;
    for (size_t i = 0; i < net->qlen; i++)
        if (net->q[i].deliver_at < t)
            t = net->q[i].deliver_at;
    return t;
}

int dk_fakenet_recv(struct dk_fakenet *net, dk_time_t now, struct dk_fakenet_dgram *out)
{
    size_t best = net->qlen;
    for (size_t i = 0; i < net->qlen; i++) {
        const struct dk_fakenet_dgram *d = &net->q[i];
        if (d->deliver_at > now)
            continue;
        if (best == net->qlen || d->deliver_at < net->q[best].deliver_at ||
            (d->deliver_at == net->q[best].deliver_at && d->seq < net->q[best].seq))
            best = i;
    }
    if (best == net->qlen)
        return 0;
    *out = net->q[best];
    net->q[best] = net->q[--net->qlen];
    net->delivered++;
    return 1;
}
