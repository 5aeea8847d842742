/* The transport: UDP socket + optional DTLS sessions under a CoAP engine. */
#include <duckling/endpoint.h>
#include <duckling/err.h>

#include <ctype.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "net"

/* ---- URIs ---------------------------------------------------------------- */

int dk_uri_parse(const char *uri, struct dk_uri *out)
{
    memset(out, 0, sizeof *out);
    const char *p;
    if (strncmp(uri, "coaps://", 8) == 0) {
        out->secure = true;
        out->port = 5684;
        p = uri + 8;
    } else if (strncmp(uri, "coap://", 7) == 0) {
        out->port = 5683;
        p = uri + 7;
    } else {
        return strstr(uri, "://") ? DK_ENOTSUP : DK_EPARSE;
    }
    const char *host = p, *host_end;
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            return DK_EPARSE;
        p = host_end + 1;
    } else {
        while (*p && *p != ':' && *p != '/')
            p++;
        host_end = p;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof out->host)
        return DK_EPARSE;
    memcpy(out->host, host, hl);
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)out->host[i];
        if (!isalnum(c) && c != '.' && c != '-' && c != ':' && c != '%' && c != '_')
            return DK_EPARSE;
    }
    if (*p == ':') {
        p++;
        if (!isdigit((unsigned char)*p))
            return DK_EPARSE;
        unsigned long port = 0;
        while (isdigit((unsigned char)*p)) {
            port = port * 10 + (unsigned long)(*p++ - '0');
            if (port > 65535)
                return DK_EPARSE;
        }
        if (port == 0)
            return DK_EPARSE;
        out->port = (uint16_t)port;
    }
    if (*p != '\0' && *p != '/')
        return DK_EPARSE;
    size_t pl = strlen(p);
    if (pl >= sizeof out->path)
        return DK_EPARSE;
    memcpy(out->path, p, pl + 1);
    return 0;
}

int dk_uri_resolve(const struct dk_uri *uri, struct dk_addr *out)
{
    if (dk_addr_from_ip(out, uri->host, uri->port) == 0)
        return 0;
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    if (getaddrinfo(uri->host, NULL, &hints, &res) != 0 || !res)
        return DK_ENOTFOUND;
    int rc = dk_addr_from_sockaddr(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc)
        return DK_ENOTFOUND;
    if (out->u.sa.sa_family == AF_INET)
        out->u.in4.sin_port = htons(uri->port);
    else
        out->u.in6.sin6_port = htons(uri->port);
    return 0;
}

/* ---- Endpoint ------------------------------------------------------------ */

void dk_endpoint_init(struct dk_endpoint *e)
{
    memset(e, 0, sizeof *e);
    dk_udp_init(&e->udp);
    dk_dtls_server_init(&e->srv);
}

static bool is_server(const struct dk_endpoint *e)
{
    return e->dtls && e->dtls->p.role == DK_DTLS_SERVER;
}

int dk_endpoint_setup(struct dk_endpoint *e, const struct dk_endpoint_params *p)
{
    if (!p || !p->coap || !p->bind_ip)
        return DK_EINVAL;
    e->coap = p->coap;
    e->dtls = p->dtls;
    e->log = p->log;
    int rc = dk_udp_open(&e->udp, p->bind_ip, p->bind_port);
    if (rc)
        return rc;
    if (is_server(e)) {
        rc = dk_dtls_server_setup(&e->srv, e->dtls);
        if (rc) {
            dk_udp_close(&e->udp);
            return rc;
        }
    }
    return 0;
}

void dk_endpoint_set_event_cb(struct dk_endpoint *e, dk_endpoint_event_fn *fn, void *user)
{
    e->on_event = fn;
    e->event_user = user;
}

const struct dk_addr *dk_endpoint_local(const struct dk_endpoint *e)
{
    return &e->udp.local;
}

static struct dk_endpoint_client *find_client(struct dk_endpoint *e, const struct dk_addr *peer)
{
    for (size_t i = 0; i < DK_ENDPOINT_MAX_CLIENT_SESSIONS; i++)
        if (e->cli[i].s && dk_addr_equal(&e->cli[i].peer, peer))
            return &e->cli[i];
    return NULL;
}

static void send_raw(struct dk_endpoint *e, const struct dk_addr *to, const uint8_t *d, size_t n)
{
    if (dk_udp_send(&e->udp, to, d, n) == 0) {
        e->tx_datagrams++;
        e->tx_bytes += n;
    }
}

static void drain_session(struct dk_endpoint *e, struct dk_dtls_session *s)
{
    int n;
    while ((n = dk_dtls_session_pop_tx(s, e->buf, sizeof e->buf)) > 0)
        send_raw(e, dk_dtls_session_peer(s), e->buf, (size_t)n);
}

static void emit(struct dk_endpoint *e, const struct dk_addr *peer, enum dk_endpoint_event ev,
                 const struct dk_dtls_peer_info *info, int err)
{
    if (e->on_event)
        e->on_event(e->event_user, peer, ev, info, err);
}

static void client_drop(struct dk_endpoint *e, struct dk_endpoint_client *c, int err,
                        dk_time_t now)
{
    struct dk_addr peer = c->peer;
    dk_dtls_session_free(c->s);
    memset(c, 0, sizeof *c);
    dk_coap_ep_peer_closed(e->coap, &peer, now);
    emit(e, &peer, DK_ENDPOINT_CLOSED, NULL, err);
}

int dk_endpoint_connect(struct dk_endpoint *e, const struct dk_addr *peer,
                        const struct dk_dtls_config *cfg, dk_time_t now)
{
    if (!cfg)
        cfg = e->dtls;
    if (!cfg || cfg->p.role != DK_DTLS_CLIENT)
        return DK_EINVAL;
    struct dk_endpoint_client *c = find_client(e, peer);
    if (c) {
        dk_dtls_session_close(c->s, now);
        drain_session(e, c->s);
        dk_dtls_session_free(c->s);
        memset(c, 0, sizeof *c);
    }
    for (size_t i = 0; i < DK_ENDPOINT_MAX_CLIENT_SESSIONS && !c; i++)
        if (!e->cli[i].s)
            c = &e->cli[i];
    if (!c)
        return DK_ELIMIT;
    int rc = dk_dtls_session_new(&c->s, cfg, peer, now);
    if (rc)
        return rc;
    c->peer = *peer;
    drain_session(e, c->s);
    return 0;
}

int dk_endpoint_peer_state(struct dk_endpoint *e, const struct dk_addr *peer)
{
    if (is_server(e)) {
        struct dk_dtls_session *s = dk_dtls_server_find(&e->srv, peer);
        return s ? (int)dk_dtls_session_state(s) : -1;
    }
    struct dk_endpoint_client *c = find_client(e, peer);
    return c ? (int)dk_dtls_session_state(c->s) : -1;
}

const struct dk_dtls_peer_info *dk_endpoint_peer_info(struct dk_endpoint *e,
                                                      const struct dk_addr *peer)
{
    struct dk_dtls_session *s = NULL;
    if (is_server(e)) {
        s = dk_dtls_server_find(&e->srv, peer);
    } else {
        struct dk_endpoint_client *c = find_client(e, peer);
        s = c ? c->s : NULL;
    }
    if (!s || dk_dtls_session_state(s) != DK_DTLS_CONNECTED)
        return NULL;
    return dk_dtls_session_peer_info(s);
}

void dk_endpoint_close_peer(struct dk_endpoint *e, const struct dk_addr *peer, dk_time_t now)
{
    if (is_server(e)) {
        struct dk_dtls_session *s = dk_dtls_server_find(&e->srv, peer);
        if (s) {
            dk_dtls_session_close(s, now);
            drain_session(e, s);
            dk_dtls_server_drop(&e->srv, s, now);
        }
    } else {
        struct dk_endpoint_client *c = find_client(e, peer);
        if (c) {
            dk_dtls_session_close(c->s, now);
            drain_session(e, c->s);
            dk_dtls_session_free(c->s);
            memset(c, 0, sizeof *c);
        }
    }
    dk_coap_ep_peer_closed(e->coap, peer, now);
}

/* Application records from a session go up to the CoAP engine. */
static void deliver_app(struct dk_endpoint *e, struct dk_dtls_session *s, dk_time_t now)
{
    int n;
    while ((n = dk_dtls_session_read(s, e->app, sizeof e->app)) >= 0 || n == DK_ENOSPC) {
        if (n >= 0)
            dk_coap_ep_recv(e->coap, dk_dtls_session_peer(s), e->app, (size_t)n, now);
    }
}

static void release_held(struct dk_endpoint *e, struct dk_endpoint_client *c, dk_time_t now)
{
    for (size_t i = 0; i < c->nheld; i++)
        dk_dtls_session_write(c->s, c->held[i].data, c->held[i].len, now);
    c->nheld = 0;
    drain_session(e, c->s);
}

static void client_recv(struct dk_endpoint *e, const struct dk_addr *from, const uint8_t *d,
                        size_t n, dk_time_t now)
{
    struct dk_endpoint_client *c = find_client(e, from);
    if (!c)
        return;
    int rc = dk_dtls_session_recv(c->s, d, n, now);
    drain_session(e, c->s);
    enum dk_dtls_state st = dk_dtls_session_state(c->s);
    if (rc < 0 || st == DK_DTLS_FAILED) {
        dk_warn(e->log, MOD, "DTLS session failed: %s", dk_strerror(rc ? rc : DK_ECLOSED));
        client_drop(e, c, rc ? rc : DK_ECLOSED, now);
        return;
    }
    if (st == DK_DTLS_CONNECTED && !c->announced) {
        c->announced = true;
        emit(e, from, DK_ENDPOINT_CONNECTED, dk_dtls_session_peer_info(c->s), 0);
        if (!c->s)
            return; /* the event handler closed it */
        release_held(e, c, now);
    }
    deliver_app(e, c->s, now);
    if (dk_dtls_session_state(c->s) == DK_DTLS_CLOSED)
        client_drop(e, c, 0, now);
}

static void on_server_closed(void *user, struct dk_dtls_session *s)
{
    struct dk_endpoint *e = user;
    emit(e, dk_dtls_session_peer(s), DK_ENDPOINT_CLOSED, NULL, dk_dtls_session_error(s));
}

static void server_recv(struct dk_endpoint *e, const struct dk_addr *from, const uint8_t *d,
                        size_t n, dk_time_t now)
{
    struct dk_dtls_session *s = NULL;
    enum dk_dtls_event ev = DK_DTLS_EV_NONE;
    int rc = dk_dtls_server_recv(&e->srv, from, d, n, now, &s, &ev);
    if (rc < 0 && rc != DK_EAGAIN)
        dk_debug(e->log, MOD, "DTLS server refused a datagram: %s", dk_strerror(rc));
    if (ev == DK_DTLS_EV_CONNECTED && s)
        emit(e, from, DK_ENDPOINT_CONNECTED, dk_dtls_session_peer_info(s), 0);
    if (s && (ev == DK_DTLS_EV_DATA || ev == DK_DTLS_EV_CONNECTED))
        deliver_app(e, s, now);
    if (ev == DK_DTLS_EV_CLOSED) {
        dk_coap_ep_peer_closed(e->coap, from, now);
        /* Why it ended (DK_EAUTH for a wrong key...): the table keeps the
         * session until its next call. */
        emit(e, from, DK_ENDPOINT_CLOSED, NULL, rc < 0 ? rc : s ? dk_dtls_session_error(s) : 0);
    }
}

void dk_endpoint_on_readable(struct dk_endpoint *e, dk_time_t now)
{
    /* Bounded so one busy socket cannot starve the rest of the loop. */
    for (int i = 0; i < 256; i++) {
        struct dk_addr from;
        int n = dk_udp_recv(&e->udp, &from, e->buf, sizeof e->buf);
        if (n == DK_EAGAIN || n == DK_EIO)
            break;
        if (n < 0)
            continue;
        e->rx_datagrams++;
        e->rx_bytes += (uint64_t)n;
        /* Copy out: the DTLS layer may reuse e->buf while sending. */
        uint8_t dgram[2048];
        memcpy(dgram, e->buf, (size_t)n);
        if (is_server(e))
            server_recv(e, &from, dgram, (size_t)n, now);
        else if (find_client(e, &from))
            client_recv(e, &from, dgram, (size_t)n, now);
        else
            dk_coap_ep_recv(e->coap, &from, dgram, (size_t)n, now);
    }
    dk_endpoint_flush(e, now);
}

/* CoAP datagrams go out plain, through a client session, or a server session. */
static void route_out(struct dk_endpoint *e, const struct dk_addr *to, const uint8_t *d,
                      size_t n, dk_time_t now)
{
    if (is_server(e)) {
        struct dk_dtls_session *s = dk_dtls_server_find(&e->srv, to);
        if (s && dk_dtls_session_state(s) == DK_DTLS_CONNECTED) {
            dk_dtls_session_write(s, d, n, now);
            drain_session(e, s);
        }
        return; /* no session: nothing may leave in the clear */
    }
    struct dk_endpoint_client *c = find_client(e, to);
    if (!c && e->dtls) {
        if (dk_endpoint_connect(e, to, NULL, now) != 0)
            return;
        c = find_client(e, to);
    }
    if (!c) {
        send_raw(e, to, d, n);
        return;
    }
    if (dk_dtls_session_state(c->s) == DK_DTLS_CONNECTED) {
        dk_dtls_session_write(c->s, d, n, now);
        drain_session(e, c->s);
    } else if (c->nheld < DK_ENDPOINT_HOLD && n <= sizeof c->held[0].data) {
        c->held[c->nheld].len = n;
        memcpy(c->held[c->nheld].data, d, n);
        c->nheld++;
    }
}

void dk_endpoint_flush(struct dk_endpoint *e, dk_time_t now)
{
    struct dk_addr to;
    uint8_t out[2048];
    int n;
    while ((n = dk_coap_ep_pop_tx(e->coap, &to, out, sizeof out)) > 0)
        route_out(e, &to, out, (size_t)n, now);
    if (is_server(e)) {
        while ((n = dk_dtls_server_pop_tx(&e->srv, &to, e->buf, sizeof e->buf)) > 0)
            send_raw(e, &to, e->buf, (size_t)n);
    }
}

void dk_endpoint_tick(struct dk_endpoint *e, dk_time_t now)
{
    dk_coap_ep_tick(e->coap, now);
    if (is_server(e)) {
        dk_dtls_server_tick(&e->srv, now, on_server_closed, e);
    } else {
        for (size_t i = 0; i < DK_ENDPOINT_MAX_CLIENT_SESSIONS; i++) {
            struct dk_endpoint_client *c = &e->cli[i];
            if (!c->s || dk_dtls_session_deadline(c->s) > now)
                continue;
            int rc = dk_dtls_session_tick(c->s, now);
            drain_session(e, c->s);
            if (rc < 0 || dk_dtls_session_state(c->s) == DK_DTLS_FAILED)
                client_drop(e, c, rc ? rc : DK_ETIMEDOUT, now);
        }
    }
    dk_endpoint_flush(e, now);
}

dk_time_t dk_endpoint_deadline(const struct dk_endpoint *e)
{
    dk_time_t t = dk_coap_ep_deadline(e->coap);
    if (is_server(e))
        return dk_time_min(t, dk_dtls_server_deadline(&e->srv));
    for (size_t i = 0; i < DK_ENDPOINT_MAX_CLIENT_SESSIONS; i++)
        if (e->cli[i].s)
            t = dk_time_min(t, dk_dtls_session_deadline(e->cli[i].s));
    return t;
}

static void loop_readable(void *user, int fd, short revents, dk_time_t now)
{
    dk_endpoint_on_readable(user, now);
}

static dk_time_t loop_timer(void *user, dk_time_t now)
{
    struct dk_endpoint *e = user;
    dk_endpoint_tick(e, now);
    return dk_endpoint_deadline(e);
}

int dk_endpoint_attach(struct dk_endpoint *e, struct dk_loop *loop)
{
    int rc = dk_loop_add_fd(loop, e->udp.fd, POLLIN, loop_readable, e);
    if (rc)
        return rc;
    rc = dk_loop_add_timer(loop, loop_timer, e);
    if (rc) {
        dk_loop_remove_fd(loop, e->udp.fd);
        return rc;
    }
    e->loop = loop;
    return 0;
}

void dk_endpoint_free(struct dk_endpoint *e)
{
    dk_time_t now = 0;
    for (size_t i = 0; i < DK_ENDPOINT_MAX_CLIENT_SESSIONS; i++) {
        struct dk_endpoint_client *c = &e->cli[i];
        if (!c->s)
            continue;
        dk_dtls_session_close(c->s, now);
        drain_session(e, c->s);
        dk_dtls_session_free(c->s);
        memset(c, 0, sizeof *c);
    }
    if (e->srv.cfg)
        dk_dtls_server_free(&e->srv);
    if (e->loop) {
        dk_loop_remove_fd(e->loop, e->udp.fd);
        dk_loop_remove_timer(e->loop, loop_timer, e);
    }
    dk_udp_close(&e->udp);
    e->loop = NULL;
}
