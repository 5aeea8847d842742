/* duckling — the transport: a CoAP endpoint on one UDP socket, plain
 * (coap://) or secured by DTLS (coaps://), client or server (DESIGN §2.4).
 *
 * It owns the socket and the DTLS sessions (a client session per server it
 * talks to, each with its own DTLS configuration, or a dk_dtls_server table)
 * and moves datagrams between them and a CoAP engine the caller owns (an LwM2M
 * client engine embeds its dk_coap_ep, for instance). The engine sees peers by
 * address, exactly as on plain UDP, whichever the scheme.
 *
 * Datagrams the CoAP engine sends to a peer whose DTLS session is still
 * handshaking are held and sent as soon as it is up (never dropped: the first
 * request on a fresh session goes out without waiting for a CoAP
 * retransmission). A DTLS client session to a peer is opened with
 * dk_endpoint_connect(peer, cfg) (with its own configuration, so one socket
 * can talk to a Bootstrap Server with bootstrap credentials and to an LwM2M
 * Server with operational ones), or on demand by the first datagram to a peer
 * with the endpoint's default client configuration.
 *
 * Lifetimes: the CoAP engine, the DTLS configurations (and what they point
 * to) must outlive the endpoint. Not thread-safe.
 */
#ifndef DUCKLING_ENDPOINT_H
#define DUCKLING_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include <duckling/addr.h>
#include <duckling/coap.h>
#include <duckling/dtls.h>
#include <duckling/loop.h>
#include <duckling/udp.h>

/* ---- URIs ---------------------------------------------------------------- */

struct dk_uri {
    bool secure;    /* coaps:// */
    char host[256]; /* IP literal without brackets, or a name */
    uint16_t port;  /* default 5683 / 5684 when the URI has none */
    char path[256]; /* "" or "/..." as written (query included) */
};

/* Parses "coap://host[:port][/path]" and "coaps://..." (IPv6 literals in
 * brackets). Returns 0, DK_EPARSE (bad syntax, port) or DK_ENOTSUP (other
 * scheme). */
int dk_uri_parse(const char *uri, struct dk_uri *out);
/* Resolves host (numeric, or a name through getaddrinfo) to an address with
 * the port. Returns 0 or DK_ENOTFOUND. */
int dk_uri_resolve(const struct dk_uri *uri, struct dk_addr *out);

/* ---- Endpoint ------------------------------------------------------------ */

enum dk_endpoint_event {
    DK_ENDPOINT_CONNECTED = 1, /* DTLS session up (info valid) */
    DK_ENDPOINT_CLOSED = 2,    /* DTLS session closed or failed (reason in err) */
};

/* Session events (DTLS only). info is valid during the call. err: 0 for a
 * clean close, else why it failed (DK_EAUTH, DK_ETIMEDOUT, DK_ECLOSED, ...). */
typedef void dk_endpoint_event_fn(void *user, const struct dk_addr *peer,
                                  enum dk_endpoint_event ev, const struct dk_dtls_peer_info *info,
                                  int err);

struct dk_endpoint_params {
    const char *bind_ip;               /* "127.0.0.1", "::", ... */
    uint16_t bind_port;                /* 0: any free port */
    struct dk_coap_ep *coap;           /* required; set up by the caller */
    /* DTLS: a server configuration makes a coaps:// server; a client one is
     * the default for peers not connected explicitly; NULL: plain CoAP (peers
     * can still be secured one by one with dk_endpoint_connect). */
    const struct dk_dtls_config *dtls;
    const struct dk_log *log;          /* may be NULL */
};

#define DK_ENDPOINT_MAX_CLIENT_SESSIONS 4
#define DK_ENDPOINT_HOLD 8 /* datagrams held per handshaking session */

struct dk_endpoint_held {
    size_t len;
    uint8_t data[1152];
};

struct dk_endpoint_client {
    struct dk_dtls_session *s; /* NULL: slot free */
    struct dk_addr peer;
    size_t nheld;
    struct dk_endpoint_held held[DK_ENDPOINT_HOLD];
    bool announced; /* CONNECTED event given */
};

/* Caller-owned; fields private. */
struct dk_endpoint {
    struct dk_udp udp;
    struct dk_coap_ep *coap;
    const struct dk_dtls_config *dtls;
    const struct dk_log *log;
    struct dk_dtls_server srv;                  /* DTLS server role */
    struct dk_endpoint_client cli[DK_ENDPOINT_MAX_CLIENT_SESSIONS]; /* DTLS client role */
    dk_endpoint_event_fn *on_event;
    void *event_user;
    struct dk_loop *loop;
    uint64_t rx_datagrams, tx_datagrams, rx_bytes, tx_bytes;
    uint8_t buf[2048];
    uint8_t app[2048];
};

void dk_endpoint_init(struct dk_endpoint *e);
/* Opens the socket (and the DTLS server table). Errors: DK_EINVAL,
 * DK_EPARSE (bind_ip), DK_EIO (bind), DK_ENOMEM (dk_dtls_server_setup). */
int dk_endpoint_setup(struct dk_endpoint *e, const struct dk_endpoint_params *p);
void dk_endpoint_set_event_cb(struct dk_endpoint *e, dk_endpoint_event_fn *fn, void *user);
/* The bound address (with the real port). */
const struct dk_addr *dk_endpoint_local(const struct dk_endpoint *e);

/* DTLS client role: starts a handshake with peer now using cfg (a client
 * configuration; NULL: the endpoint's default). An existing session to peer
 * is closed first. Errors: DK_EINVAL (no configuration), DK_ELIMIT (no free
 * session slot), DK_ENOMEM, DK_ECRYPTO. */
int dk_endpoint_connect(struct dk_endpoint *e, const struct dk_addr *peer,
                        const struct dk_dtls_config *cfg, dk_time_t now);
/* State of the client session to peer: DK_DTLS_CONNECTED etc., or -1 when
 * there is none (plain peers). */
int dk_endpoint_peer_state(struct dk_endpoint *e, const struct dk_addr *peer);
/* What the DTLS handshake proved about peer, or NULL (plain, or not up). */
const struct dk_dtls_peer_info *dk_endpoint_peer_info(struct dk_endpoint *e,
                                                      const struct dk_addr *peer);
/* Sends close_notify to peer, drops its session and tells the CoAP engine
 * (dk_coap_ep_peer_closed). Plain endpoints: only the latter. */
void dk_endpoint_close_peer(struct dk_endpoint *e, const struct dk_addr *peer, dk_time_t now);

/* Driving it without a dk_loop: read every waiting datagram, run timers,
 * send what is due. */
void dk_endpoint_on_readable(struct dk_endpoint *e, dk_time_t now);
void dk_endpoint_tick(struct dk_endpoint *e, dk_time_t now);
void dk_endpoint_flush(struct dk_endpoint *e, dk_time_t now);
dk_time_t dk_endpoint_deadline(const struct dk_endpoint *e);
/* Or let a loop drive it (fd + timer registered). Returns 0 or DK_ELIMIT. */
int dk_endpoint_attach(struct dk_endpoint *e, struct dk_loop *loop);

/* Closes every session (close_notify), the socket, frees everything. Safe
 * after init and twice. */
void dk_endpoint_free(struct dk_endpoint *e);

#endif
