/* duckling-device — transports to the servers: UDP, and DTLS (mbedTLS) for
 * coaps://. See device.h.
 *
 * Why not dk_endpoint: it moves datagrams in and out of a dk_coap_ep the
 * caller owns, while the client engine keeps its dk_coap_ep private behind
 * dk_client_recv()/dk_client_pop_tx() and names its transports by address;
 * so the device drives dk_udp and dk_dtls_session itself, one socket per
 * transport. */
#include "device.h"

#include <duckling/endpoint.h>
#include <duckling/err.h>
#include <duckling/mem.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "transport"

static struct xport *find_id(struct device *d, uint32_t id)
{
    for (size_t i = 0; i < XPORT_MAX; i++)
        if (d->xp[i].id == id)
            return &d->xp[i];
    return NULL;
}

/* The live (not closing) transport the engine calls `name`; else a closing one. */
static struct xport *find_name(struct device *d, const struct dk_addr *name)
{
    struct xport *closing = NULL;
    for (size_t i = 0; i < XPORT_MAX; i++) {
        struct xport *x = &d->xp[i];
        if (!x->id || !dk_addr_equal(&x->name, name))
            continue;
        if (!x->closing)
            return x;
        closing = x;
    }
    return closing;
}

static bool name_taken(struct device *d, const struct xport *self, const struct dk_addr *a)
{
    for (size_t i = 0; i < XPORT_MAX; i++) {
        const struct xport *x = &d->xp[i];
        if (x != self && x->id && dk_addr_equal(&x->name, a))
            return true;
    }
    return false;
}

/* The name for a new transport: the server's address, or when another
 * transport (perhaps one still closing) has it, fd00:646b::<id> with the
 * same port: an address nobody else uses. */
static void choose_name(struct device *d, struct xport *x)
{
    x->name = x->remote;
    if (!name_taken(d, x, &x->name))
        return;
    char ip[64];
    snprintf(ip, sizeof ip, "fd00:646b::%x", (unsigned)x->id);
    dk_addr_from_ip(&x->name, ip, dk_addr_port(&x->remote));
}

static void teardown(struct device *d, struct xport *x, dk_time_t now)
{
    if (x->s) {
        if (dk_dtls_session_state(x->s) == DK_DTLS_CONNECTED) {
            uint8_t buf[1500];
            int n;
            dk_dtls_session_close(x->s, now);
            while ((n = dk_dtls_session_pop_tx(x->s, buf, sizeof buf)) > 0)
                dk_udp_send(&x->udp, &x->remote, buf, (size_t)n);
        }
        dk_dtls_session_free(x->s);
    }
    if (x->dtls_ready)
        dk_dtls_config_free(&x->dtls);
    if (x->udp.fd >= 0)
        dk_loop_remove_fd(&d->loop, x->udp.fd);
    dk_udp_close(&x->udp);
    if (x->keys) {
        dk_memzero(x->keys, x->keys_len);
        free(x->keys);
    }
    memset(x, 0, sizeof *x);
    x->udp.fd = -1;
}

/* Sends the DTLS records the session has queued. */
static void drain(struct xport *x)
{
    uint8_t buf[1500];
    int n;
    while ((n = dk_dtls_session_pop_tx(x->s, buf, sizeof buf)) > 0)
        dk_udp_send(&x->udp, &x->remote, buf, (size_t)n);
}

static void report_down(struct device *d, struct xport *x, int reason, dk_time_t now)
{
    uint32_t id = x->id;
    x->closing = true; /* the engine calls close_transport(id) from inside */
    dk_client_transport_down(&d->client, id, reason, now);
}

static void report_up(struct device *d, struct xport *x, dk_time_t now)
{
    choose_name(d, x);
    int rc = dk_client_transport_up(&d->client, x->id, &x->name, now);
    if (rc == DK_EEXIST) { /* the engine still knows that name: make one up */
        char ip[64];
        snprintf(ip, sizeof ip, "fd00:646b::%x", (unsigned)x->id);
        dk_addr_from_ip(&x->name, ip, dk_addr_port(&x->remote));
        rc = dk_client_transport_up(&d->client, x->id, &x->name, now);
    }
    x->up = rc == 0;
}

/* Datagrams from the server: DTLS records are opened first. Anything from
 * another address is dropped (only our servers may talk to us). */
static void on_readable(void *user, int fd, short revents, dk_time_t now)
{
    struct device *d = user;
    struct xport *x = NULL;
    (void)revents;
    for (size_t i = 0; i < XPORT_MAX && !x; i++)
        if (d->xp[i].id && d->xp[i].udp.fd == fd)
            x = &d->xp[i];
    if (!x)
        return;
    uint8_t buf[2048];
    struct dk_addr from;
    for (int k = 0; k < 64 && x->id && !x->closing; k++) {
        int n = dk_udp_recv(&x->udp, &from, buf, sizeof buf);
        if (n == DK_EAGAIN || n == DK_EIO)
            break;
        if (n < 0 || !dk_addr_equal(&from, &x->remote))
            continue;
        if (!x->secure) {
            if (x->up)
                dk_client_recv(&d->client, &x->name, buf, (size_t)n, now);
            continue;
        }
        int rc = dk_dtls_session_recv(x->s, buf, (size_t)n, now);
        drain(x);
        enum dk_dtls_state st = dk_dtls_session_state(x->s);
        if (rc < 0 || st == DK_DTLS_FAILED || st == DK_DTLS_CLOSED) {
            int why = rc < 0 ? rc : dk_dtls_session_error(x->s);
            dk_warn(&d->log, MOD, "DTLS session to server %u: %s", (unsigned)x->id,
                    why ? dk_strerror(why) : "closed by the server");
            report_down(d, x, why ? why : DK_ECLOSED, now);
            break;
        }
        if (st == DK_DTLS_CONNECTED && !x->up) {
            dk_info(&d->log, MOD, "DTLS session %u up", (unsigned)x->id);
            report_up(d, x, now);
        }
        uint8_t app[2048];
        int m;
        while (x->id && !x->closing &&
               ((m = dk_dtls_session_read(x->s, app, sizeof app)) >= 0 || m == DK_ENOSPC))
            if (m >= 0 && x->up)
                dk_client_recv(&d->client, &x->name, app, (size_t)m, now);
    }
    xport_pump(d, now);
}

/* Copies the credentials (the engine's are valid only during the callback)
 * and makes the DTLS client configuration. */
static int setup_dtls(struct device *d, struct xport *x, const struct dk_client_transport *t)
{
    const struct dk_client_security *sec = &t->sec;
    x->keys_len = sec->identity_len + sec->secret_len + sec->server_key_len;
    x->keys = malloc(x->keys_len ? x->keys_len : 1);
    if (!x->keys)
        return DK_ENOMEM;
    uint8_t *id = x->keys, *secret = id + sec->identity_len, *srv = secret + sec->secret_len;
    if (sec->identity_len)
        memcpy(id, sec->identity, sec->identity_len);
    if (sec->secret_len)
        memcpy(secret, sec->secret, sec->secret_len);
    if (sec->server_key_len)
        memcpy(srv, sec->server_key, sec->server_key_len);

    struct dk_dtls_params p = {0};
    p.role = DK_DTLS_CLIENT;
    p.rng = &d->rng;
    p.log = &d->log;
    switch (sec->mode) {
    case DK_CLIENT_SEC_PSK:
        p.modes = DK_DTLS_MODE_PSK;
        p.psk_identity = id;
        p.psk_identity_len = sec->identity_len;
        p.psk = secret;
        p.psk_len = sec->secret_len;
        break;
    case DK_CLIENT_SEC_CERT:
        p.modes = DK_DTLS_MODE_CERT;
        p.cert_der = id;
        p.cert_der_len = sec->identity_len;
        p.key_der = secret;
        p.key_der_len = sec->secret_len;
        if (sec->server_key_len) {
            /* The server's certificate or its trust anchor. */
            p.ca_der = srv;
            p.ca_der_len = sec->server_key_len;
        } else {
            /* Nothing to check the server against (a factory store holds no
             * Bootstrap Server anchor): accept the key it proves to hold. */
            p.pin_any = true;
        }
        break;
    case DK_CLIENT_SEC_RPK:
        p.modes = DK_DTLS_MODE_RPK; /* mbedTLS refuses: DK_ENOTSUP, logged */
        p.cert_der = id;
        p.cert_der_len = sec->identity_len;
        p.key_der = secret;
        p.key_der_len = sec->secret_len;
        break;
    default:
        return DK_ENOTSUP;
    }
    dk_dtls_config_init(&x->dtls);
    int rc = dk_dtls_config_setup(&x->dtls, dk_dtls_backend_mbedtls(), &p);
    if (rc)
        return rc;
    x->dtls_ready = true;
    return 0;
}

int xport_open(struct device *d, const struct dk_client_transport *t)
{
    /* Transports the engine closed go now, not after the next send: what it
     * had for them went out already (it answers before it closes), and the
     * Bootstrap Server's DTLS session (two 16 KiB record buffers) is not kept
     * alongside the LwM2M Server's new one. */
    for (size_t i = 0; i < XPORT_MAX; i++)
        if (d->xp[i].id && d->xp[i].closing)
            teardown(d, &d->xp[i], dk_clock_now());
    struct xport *x = NULL;
    for (size_t i = 0; i < XPORT_MAX && !x; i++)
        if (!d->xp[i].id)
            x = &d->xp[i];
    if (!x) {
        dk_error(&d->log, MOD, "no free transport slot for %s", t->uri);
        return DK_ELIMIT;
    }
    const char *who = t->kind == DK_CLIENT_BOOTSTRAP_SERVER ? "Bootstrap Server" : "LwM2M Server";
    struct dk_uri uri;
    int rc = dk_uri_parse(t->uri, &uri);
    if (rc) {
        dk_error(&d->log, MOD, "%s URI %s: %s", who, t->uri, dk_strerror(rc));
        return rc;
    }
    if (uri.secure != (t->sec.mode != DK_CLIENT_SEC_NOSEC)) {
        dk_error(&d->log, MOD, "%s URI %s does not fit its security mode %d", who, t->uri,
                 (int)t->sec.mode);
        return DK_EINVAL;
    }
    memset(x, 0, sizeof *x);
    dk_udp_init(&x->udp);
    x->id = t->id;
    x->secure = uri.secure;
    dk_time_t now = dk_clock_now();
    rc = dk_uri_resolve(&uri, &x->remote);
    if (rc == 0)
        rc = dk_udp_open(&x->udp, x->remote.u.sa.sa_family == AF_INET6 ? "::" : "0.0.0.0", 0);
    if (rc == 0)
        rc = dk_loop_add_fd(&d->loop, x->udp.fd, POLLIN, on_readable, d);
    if (rc == 0 && x->secure)
        rc = setup_dtls(d, x, t);
    if (rc == 0 && x->secure)
        rc = dk_dtls_session_new(&x->s, &x->dtls, &x->remote, now);
    if (rc) {
        dk_error(&d->log, MOD, "%s %s: %s%s", who, t->uri, dk_strerror(rc),
                 rc == DK_ENOTSUP ? " (raw public keys need the GnuTLS backend)" : "");
        teardown(d, x, now);
        return rc;
    }
    char a[DK_ADDR_STRLEN];
    dk_info(&d->log, MOD, "%s %s (%s): %s from port %u", who, t->uri,
            dk_addr_format(&x->remote, a, sizeof a), x->secure ? "DTLS handshake" : "plain CoAP",
            (unsigned)dk_addr_port(&x->udp.local));
    if (x->secure)
        drain(x);
    else
        report_up(d, x, now);
    return 0;
}

void xport_close(struct device *d, uint32_t id)
{
    struct xport *x = find_id(d, id);
    if (x)
        x->closing = true; /* torn down after what is queued for it went out */
}

void xport_pump(struct device *d, dk_time_t now)
{
    uint8_t buf[2048];
    struct dk_addr to;
    int n;
    while ((n = dk_client_pop_tx(&d->client, &to, buf, sizeof buf)) > 0) {
        struct xport *x = find_name(d, &to);
        if (!x || !x->up)
            continue;
        if (!x->secure) {
            dk_udp_send(&x->udp, &x->remote, buf, (size_t)n);
        } else if (dk_dtls_session_state(x->s) == DK_DTLS_CONNECTED) {
            dk_dtls_session_write(x->s, buf, (size_t)n, now);
            drain(x);
        }
    }
    for (size_t i = 0; i < XPORT_MAX; i++)
        if (d->xp[i].id && d->xp[i].closing)
            teardown(d, &d->xp[i], now);
}

dk_time_t xport_tick(struct device *d, dk_time_t now)
{
    dk_time_t next = DK_TIME_NEVER;
    for (size_t i = 0; i < XPORT_MAX; i++) {
        struct xport *x = &d->xp[i];
        if (!x->id || !x->s || x->closing)
            continue;
        if (dk_dtls_session_deadline(x->s) <= now) {
            int rc = dk_dtls_session_tick(x->s, now);
            drain(x);
            if (rc < 0 || dk_dtls_session_state(x->s) == DK_DTLS_FAILED) {
                dk_warn(&d->log, MOD, "DTLS handshake with server %u: %s", (unsigned)x->id,
                        dk_strerror(rc < 0 ? rc : DK_ETIMEDOUT));
                report_down(d, x, rc < 0 ? rc : DK_ETIMEDOUT, now);
                continue;
            }
        }
        next = dk_time_min(next, dk_dtls_session_deadline(x->s));
    }
    return next;
}

void xport_close_all(struct device *d, dk_time_t now)
{
    for (size_t i = 0; i < XPORT_MAX; i++)
        if (d->xp[i].id)
            teardown(d, &d->xp[i], now);
}
