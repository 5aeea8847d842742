/* duckling — DTLS 1.2 secure transport, backend-neutral (DESIGN §2.3).
 *
 * No I/O inside: a session is fed datagrams received from its peer with the
 * current time, and hands back datagrams to send and a deadline. Two backends
 * implement it: mbedTLS (the device's) and GnuTLS (the gateway's); a program
 * links the one it uses and passes its backend pointer in the configuration.
 *
 * Objects and lifetimes
 *  - struct dk_dtls_config: shared, read-only configuration of one role
 *    (client or server) compiled for one backend. Everything it points to
 *    (keys, certificates, rng, log, alloc, callbacks' user data) must outlive
 *    it; it must outlive every session created from it.
 *  - struct dk_dtls_session: one association with one peer; allocated through
 *    the config's allocator by dk_dtls_session_new(), freed by
 *    dk_dtls_session_free().
 *  - struct dk_dtls_server (server role only): a table of sessions keyed by
 *    peer address with stateless HelloVerifyRequest cookies (no per-peer state
 *    before a valid cookie), a session limit, idle expiry and a handshake
 *    timeout.
 *
 * Datagrams handed out by *_pop_tx() are copied into caller buffers.
 */
#ifndef DUCKLING_DTLS_H
#define DUCKLING_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/addr.h>
#include <duckling/alloc.h>
#include <duckling/clock.h>
#include <duckling/log.h>
#include <duckling/rng.h>

enum dk_dtls_role {
    DK_DTLS_CLIENT = 0,
    DK_DTLS_SERVER = 1,
};

/* Authentication modes, a bit set: a server may allow several. */
enum dk_dtls_mode {
    DK_DTLS_MODE_PSK = 1,  /* TLS_PSK_WITH_AES_128_CCM_8 first, then AES-128-GCM */
    DK_DTLS_MODE_CERT = 2, /* TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 first, X.509, P-256 */
    DK_DTLS_MODE_RPK = 4,  /* RFC 7250 raw public keys, P-256 (GnuTLS backend only) */
};

#define DK_DTLS_PSK_ID_MAX 128
#define DK_DTLS_PSK_MAX 64
#define DK_DTLS_MTU_DEFAULT 1280

/* What the handshake proved about the peer. */
struct dk_dtls_peer_info {
    enum dk_dtls_mode mode;   /* the mode that was negotiated */
    uint16_t cipher_suite;    /* IANA number, e.g. 0xC0A8 */
    size_t psk_identity_len;  /* PSK: the identity the peer presented */
    uint8_t psk_identity[DK_DTLS_PSK_ID_MAX];
    bool has_cert;            /* CERT: SHA-256 of the peer's DER certificate */
    uint8_t cert_sha256[32];
    bool has_spki;            /* CERT and RPK: SHA-256 of its DER SubjectPublicKeyInfo */
    uint8_t spki_sha256[32];
    char cert_cn[65];         /* CERT: subject CN, "" when none */
};

/* Server, PSK: fill key (at most key_cap bytes) for the presented identity and
 * set *key_len. Return 0, or DK_ENOTFOUND for an unknown identity (the
 * handshake then fails). Called during the handshake. */
typedef int dk_dtls_psk_lookup_fn(void *user, const struct dk_addr *peer, const uint8_t *identity,
                                  size_t identity_len, uint8_t *key, size_t key_cap,
                                  size_t *key_len);

/* Both roles, CERT/RPK: called once the peer's certificate or raw key has been
 * received and, unless pinning mode is on, validated against the trust
 * anchors. Return 0 to accept, DK_EAUTH to fail the handshake. May be NULL. */
typedef int dk_dtls_verify_fn(void *user, const struct dk_addr *peer,
                              const struct dk_dtls_peer_info *info);

struct dk_dtls_params {
    enum dk_dtls_role role;
    unsigned modes; /* bit set of enum dk_dtls_mode */

    /* PSK, client: identity and key. */
    const uint8_t *psk_identity;
    size_t psk_identity_len;
    const uint8_t *psk;
    size_t psk_len;
    /* PSK, server: key lookup. */
    dk_dtls_psk_lookup_fn *psk_lookup;
    void *psk_lookup_user;

    /* CERT/RPK: own certificate (DER; for RPK only the key is used) and
     * private key (DER, SEC1 or PKCS#8). */
    const uint8_t *cert_der;
    size_t cert_der_len;
    const uint8_t *key_der;
    size_t key_der_len;

    /* CERT: trust anchors, concatenated DER certificates (may be NULL). */
    const uint8_t *ca_der;
    size_t ca_der_len;
    /* CERT, pinning mode: accept any self-signed (or otherwise unverifiable)
     * peer certificate that proves key possession and hand its hashes to
     * verify() to decide. Server role: also accept an untrusted chain. */
    bool pin_any;
    /* Client: accept the server only if the SHA-256 of its DER certificate
     * (or, for RPK, of its SPKI) equals this (32 bytes); NULL: off. */
    const uint8_t *pinned_sha256;
    dk_dtls_verify_fn *verify;
    void *verify_user;
    /* Server: request (CERT) a client certificate; always required when set. */
    bool require_client_cert;

    /* Server limits (0: defaults 1024 sessions, 600 s idle, 30 s handshake). */
    size_t max_sessions;
    dk_time_t idle_timeout_ms;
    dk_time_t handshake_timeout_ms;
    /* Handshake retransmission: initial and maximum timer (0: 1 s and 60 s,
     * RFC 6347 §4.2.4.1). */
    dk_time_t retrans_min_ms;
    dk_time_t retrans_max_ms;
    uint16_t mtu; /* 0: DK_DTLS_MTU_DEFAULT */

    struct dk_rng *rng;          /* required */
    const struct dk_log *log;    /* may be NULL */
    const struct dk_alloc *alloc; /* NULL: dk_alloc_default() */
};

struct dk_dtls_backend; /* see dk_dtls_backend_mbedtls(), dk_dtls_backend_gnutls() */

struct dk_dtls_config {
    const struct dk_dtls_backend *backend;
    struct dk_dtls_params p;
    void *impl; /* backend state, owned */
    uint8_t cookie_key[32];
};

/* Backends. Each is in its own library (dk_dtls_mbedtls, dk_dtls_gnutls). */
const struct dk_dtls_backend *dk_dtls_backend_mbedtls(void);
const struct dk_dtls_backend *dk_dtls_backend_gnutls(void);
const char *dk_dtls_backend_name(const struct dk_dtls_backend *b);

void dk_dtls_config_init(struct dk_dtls_config *cfg);
/* Copies params (not what they point to) and prepares backend state.
 * Errors: DK_EINVAL (inconsistent params), DK_ENOTSUP (mode not offered by
 * this backend, e.g. RPK on mbedTLS), DK_ECRYPTO (bad key or certificate),
 * DK_ENOMEM. */
int dk_dtls_config_setup(struct dk_dtls_config *cfg, const struct dk_dtls_backend *backend,
                         const struct dk_dtls_params *params);
void dk_dtls_config_free(struct dk_dtls_config *cfg);

enum dk_dtls_state {
    DK_DTLS_HANDSHAKING = 0,
    DK_DTLS_CONNECTED = 1,
    DK_DTLS_CLOSED = 2, /* close_notify sent or received */
    DK_DTLS_FAILED = 3, /* handshake failure, alert, or timeout */
};

struct dk_dtls_session;

/* Creates a session with `peer`. A client session queues its ClientHello at
 * once. Errors: DK_ENOMEM, DK_ECRYPTO. */
int dk_dtls_session_new(struct dk_dtls_session **out, const struct dk_dtls_config *cfg,
                        const struct dk_addr *peer, dk_time_t now);
/* Feeds one datagram received from the peer. Returns 0 (possibly with new
 * datagrams to send and/or application data to read), or a fatal error:
 * DK_EAUTH (peer authentication failed: wrong PSK, unknown identity,
 * untrusted or pinned-hash mismatch, rejected by verify()), DK_ECRYPTO,
 * DK_ECLOSED (peer sent a fatal alert). Malformed or unauthentic records are
 * dropped silently as RFC 6347 §4.1.2.7 asks, and return 0. */
int dk_dtls_session_recv(struct dk_dtls_session *s, const uint8_t *dgram, size_t len,
                         dk_time_t now);
/* Copies the next received application record into buf. Returns its length,
 * DK_EAGAIN when none is pending, DK_ENOSPC when cap is too small (the record
 * is dropped). */
int dk_dtls_session_read(struct dk_dtls_session *s, uint8_t *buf, size_t cap);
/* Protects one application datagram (CONNECTED only). Returns 0, DK_ESTATE,
 * DK_ENOSPC (longer than MTU allows). */
int dk_dtls_session_write(struct dk_dtls_session *s, const uint8_t *data, size_t len,
                          dk_time_t now);
/* Copies the next datagram to send into buf. Returns its length, 0 when none,
 * DK_ENOSPC when cap is too small. */
int dk_dtls_session_pop_tx(struct dk_dtls_session *s, uint8_t *buf, size_t cap);
/* Next time dk_dtls_session_tick() must be called, or DK_TIME_NEVER. */
dk_time_t dk_dtls_session_deadline(const struct dk_dtls_session *s);
/* Handles handshake retransmission and timeouts. Returns 0 or DK_ETIMEDOUT
 * (the handshake gave up; state FAILED). */
int dk_dtls_session_tick(struct dk_dtls_session *s, dk_time_t now);
/* Queues close_notify; state becomes CLOSED. */
int dk_dtls_session_close(struct dk_dtls_session *s, dk_time_t now);
enum dk_dtls_state dk_dtls_session_state(const struct dk_dtls_session *s);
/* The fatal error that ended the session (e.g. DK_EAUTH for an unknown PSK
 * identity, DK_ETIMEDOUT, DK_ECLOSED), or 0 while none happened. Lets a
 * server table's user say why a session it got DK_DTLS_EV_CLOSED for ended. */
int dk_dtls_session_error(const struct dk_dtls_session *s);
/* Valid once CONNECTED. */
const struct dk_dtls_peer_info *dk_dtls_session_peer_info(const struct dk_dtls_session *s);
const struct dk_addr *dk_dtls_session_peer(const struct dk_dtls_session *s);
/* Heap bytes currently held by the session (as counted through cfg alloc). */
size_t dk_dtls_session_heap(const struct dk_dtls_session *s);
void dk_dtls_session_free(struct dk_dtls_session *s);

/* ---- Server table ------------------------------------------------------ */

struct dk_dtls_server_stats {
    uint64_t hello_verify_sent; /* stateless cookie challenges */
    uint64_t sessions_created;
    uint64_t sessions_refused; /* limit reached */
    uint64_t handshakes_failed;
    uint64_t sessions_expired;
    uint64_t datagrams_dropped; /* no session and not a valid ClientHello */
};

struct dk_dtls_server {
    const struct dk_dtls_config *cfg;
    void *table; /* owned, through cfg's allocator */
    size_t count;
    struct dk_dtls_server_stats stats;
    /* The one pending HelloVerifyRequest (no per-peer state before a cookie). */
    struct dk_addr hvr_to;
    size_t hvr_len;
    uint8_t hvr[256];
};

/* Events the server hands back from dk_dtls_server_recv/tick. */
enum dk_dtls_event {
    DK_DTLS_EV_NONE = 0,
    DK_DTLS_EV_CONNECTED = 1, /* handshake finished; peer info available */
    DK_DTLS_EV_DATA = 2,      /* application data is pending on the session */
    DK_DTLS_EV_CLOSED = 3,    /* session closed, failed or expired; freed after the call */
};

void dk_dtls_server_init(struct dk_dtls_server *srv);
/* cfg must be a DK_DTLS_SERVER configuration and outlive srv. Errors: DK_EINVAL,
 * DK_ENOMEM. */
int dk_dtls_server_setup(struct dk_dtls_server *srv, const struct dk_dtls_config *cfg);
/* Feeds a datagram from `peer`. A datagram from an unknown peer is accepted
 * only if it is a ClientHello with a valid cookie; one without is answered by
 * a HelloVerifyRequest sent through *reply* without any allocation.
 * On return *sess is the peer's session (or NULL) and *ev what happened.
 * Datagrams to send: drain every session with dk_dtls_server_pop_tx().
 * Errors: DK_ELIMIT (session limit), DK_ENOMEM; others are per-session and
 * reported as DK_DTLS_EV_CLOSED. */
int dk_dtls_server_recv(struct dk_dtls_server *srv, const struct dk_addr *peer,
                        const uint8_t *dgram, size_t len, dk_time_t now,
                        struct dk_dtls_session **sess, enum dk_dtls_event *ev);
/* Next datagram to send from any session or cookie reply: copies it to buf,
 * sets *to, returns its length or 0 when there is none. */
int dk_dtls_server_pop_tx(struct dk_dtls_server *srv, struct dk_addr *to, uint8_t *buf, size_t cap);
dk_time_t dk_dtls_server_deadline(const struct dk_dtls_server *srv);
/* Retransmissions, handshake timeouts, idle expiry. Calls on_closed for each
 * session it removes (may be NULL). */
void dk_dtls_server_tick(struct dk_dtls_server *srv, dk_time_t now,
                         void (*on_closed)(void *user, struct dk_dtls_session *s), void *user);
struct dk_dtls_session *dk_dtls_server_find(struct dk_dtls_server *srv, const struct dk_addr *peer);
/* Closes (close_notify) and removes a session. */
void dk_dtls_server_drop(struct dk_dtls_server *srv, struct dk_dtls_session *s, dk_time_t now);
void dk_dtls_server_free(struct dk_dtls_server *srv);

#endif
