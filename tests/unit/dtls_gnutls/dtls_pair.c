#include "dtls_pair.h"

#include <duckling/err.h>

#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dk_pair_init(struct dk_pair *p, const struct dk_dtls_config *ccfg,
                  const struct dk_dtls_config *scfg, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    dk_fakenet_init(&p->net, seed);
    dk_addr_from_ip(&p->caddr, "192.0.2.1", 40000);
    dk_addr_from_ip(&p->saddr, "192.0.2.2", 5684);
    p->ccfg = ccfg;
    p->scfg = scfg;
    p->now = 1000000; /* an arbitrary origin, far from 0 */
    for (size_t i = 0; i < sizeof p->cookie_key; i++)
        p->cookie_key[i] = (uint8_t)(0xA5 ^ i);
}

static void note(int *slot, int rc)
{
    if (rc < 0 && *slot == 0)
        *slot = rc;
}

static void flush_one(struct dk_pair *p, struct dk_dtls_session *s, bool client)
{
    uint8_t buf[DK_FAKENET_MTU];
    int n;
    if (!s)
        return;
    while ((n = dk_dtls_session_pop_tx(s, buf, sizeof buf)) > 0) {
        if (getenv("DK_PAIR_TRACE")) /* content type, epoch, low byte of the sequence */
            fprintf(stderr, "t=%lld %s type %d epoch %d seq %d len %d\n", (long long)p->now,
                    client ? "C->S" : "S->C", buf[0], buf[4], buf[10], n);
        if (client) {
            p->c_sent++;
            p->c_bytes += (uint64_t)n;
            dk_fakenet_send(&p->net, &p->caddr, &p->saddr, buf, (size_t)n, p->now);
        } else {
            p->s_sent++;
            p->s_bytes += (uint64_t)n;
            dk_fakenet_send(&p->net, &p->saddr, &p->caddr, buf, (size_t)n, p->now);
        }
    }
}

void dk_pair_flush(struct dk_pair *p)
{
    flush_one(p, p->c, true);
    flush_one(p, p->s, false);
}

int dk_pair_start(struct dk_pair *p)
{
    int rc = dk_dtls_session_new(&p->c, p->ccfg, &p->saddr, p->now);
    note(&p->c_err, rc);
    dk_pair_flush(p);
    return rc;
}

static ssize_t hvr_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
    struct dk_pair *p = ptr;
    p->hvr_sent++;
    dk_fakenet_send(&p->net, &p->saddr, &p->caddr, data, len, p->now);
    return (ssize_t)len;
}

static void server_accept(struct dk_pair *p, const struct dk_fakenet_dgram *d)
{
    int rc;
    if (p->cookie) {
        gnutls_datum_t key = {p->cookie_key, sizeof p->cookie_key};
        gnutls_dtls_prestate_st ps;
        memset(&ps, 0, sizeof ps);
        if (gnutls_dtls_cookie_verify(&key, (void *)&d->from, sizeof d->from, (void *)d->data,
                                      d->len, &ps) < 0) {
            gnutls_dtls_cookie_send(&key, (void *)&d->from, sizeof d->from, &ps, p, hvr_push);
            return;
        }
        struct dk_dtls_hello h = {.record_seq = ps.record_seq,
                                  .message_seq = (uint16_t)ps.hsk_read_seq};
        rc = dk_dtls_session_new_hello(&p->s, p->scfg, &d->from, p->now, &h);
    } else {
        rc = dk_dtls_session_new(&p->s, p->scfg, &d->from, p->now);
    }
    note(&p->s_err, rc);
    if (p->s)
        note(&p->s_err, dk_dtls_session_recv(p->s, d->data, d->len, p->now));
}

static void deliver(struct dk_pair *p, const struct dk_fakenet_dgram *d)
{
    if (dk_addr_equal(&d->to, &p->saddr)) {
        if (!p->s)
            server_accept(p, d);
        else
            note(&p->s_err, dk_dtls_session_recv(p->s, d->data, d->len, p->now));
    } else if (p->c) {
        note(&p->c_err, dk_dtls_session_recv(p->c, d->data, d->len, p->now));
    }
}

static bool settled(const struct dk_dtls_session *s)
{
    return dk_dtls_session_state(s) != DK_DTLS_HANDSHAKING;
}

static dk_time_t deadline(const struct dk_dtls_session *s)
{
    return s ? dk_dtls_session_deadline(s) : DK_TIME_NEVER;
}

void dk_pair_run(struct dk_pair *p, dk_time_t limit)
{
    for (;;) {
        struct dk_fakenet_dgram d;
        while (dk_fakenet_recv(&p->net, p->now, &d)) {
            deliver(p, &d);
            dk_pair_flush(p);
        }
        if (p->c && deadline(p->c) <= p->now)
            note(&p->c_err, dk_dtls_session_tick(p->c, p->now));
        if (p->s && deadline(p->s) <= p->now)
            note(&p->s_err, dk_dtls_session_tick(p->s, p->now));
        dk_pair_flush(p);
        bool quiet = p->net.qlen == 0;
        if (quiet && p->c && settled(p->c) && (!p->s || settled(p->s)))
            break;
        dk_time_t next =
            dk_time_min(dk_fakenet_next_time(&p->net), dk_time_min(deadline(p->c), deadline(p->s)));
        if (next == DK_TIME_NEVER || next > limit)
            break;
        if (next > p->now)
            p->now = next;
    }
}

int dk_pair_write(struct dk_pair *p, bool from_client, const void *data, size_t len)
{
    int rc = dk_dtls_session_write(from_client ? p->c : p->s, data, len, p->now);
    if (rc)
        return rc;
    dk_pair_flush(p);
    dk_pair_run(p, p->now + 10000);
    return 0;
}

bool dk_pair_connected(const struct dk_pair *p)
{
    return p->c && p->s && dk_dtls_session_state(p->c) == DK_DTLS_CONNECTED &&
           dk_dtls_session_state(p->s) == DK_DTLS_CONNECTED;
}

void dk_pair_free(struct dk_pair *p)
{
    dk_dtls_session_free(p->c);
    dk_dtls_session_free(p->s);
    p->c = p->s = NULL;
    dk_fakenet_free(&p->net);
}
