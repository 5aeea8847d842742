/* Internal: the interface each DTLS backend implements. Only src/dtls uses it. */
#ifndef DK_DTLS_BACKEND_H
#define DK_DTLS_BACKEND_H

#include <duckling/dtls.h>

/* What the server table learned from a ClientHello with a valid cookie; the
 * backend continues the handshake from there (RFC 6347 §4.2.1: the server's
 * message_seq starts at the ClientHello's). */
struct dk_dtls_hello {
    uint64_t record_seq;  /* 48-bit record sequence number of the ClientHello */
    uint16_t message_seq; /* handshake message_seq of the ClientHello */
};

/* Common part of every session; backends put their state behind impl. */
struct dk_dtls_session {
    const struct dk_dtls_config *cfg;
    struct dk_addr peer;
    enum dk_dtls_state state;
    struct dk_dtls_peer_info info;
    dk_time_t created;
    dk_time_t last_activity;
    struct dk_dtls_session *next; /* server table chaining */
    int error;                    /* the fatal error that ended it, or 0 (set by dtls.c) */
    void *impl;
};

struct dk_dtls_backend {
    const char *name;
    unsigned modes; /* bit set of dk_dtls_mode it implements */
    int (*config_setup)(struct dk_dtls_config *cfg);
    void (*config_free)(struct dk_dtls_config *cfg);
    /* hello is NULL for clients, and for servers when no cookie exchange took place.
     * With a hello, the server table then feeds that same ClientHello datagram
     * through recv(), as it would any later datagram. */
    int (*session_setup)(struct dk_dtls_session *s, dk_time_t now,
                         const struct dk_dtls_hello *hello);
    int (*recv)(struct dk_dtls_session *s, const uint8_t *dgram, size_t len, dk_time_t now);
    int (*read)(struct dk_dtls_session *s, uint8_t *buf, size_t cap);
    int (*write)(struct dk_dtls_session *s, const uint8_t *data, size_t len, dk_time_t now);
    int (*pop_tx)(struct dk_dtls_session *s, uint8_t *buf, size_t cap);
    dk_time_t (*deadline)(const struct dk_dtls_session *s);
    int (*tick)(struct dk_dtls_session *s, dk_time_t now);
    int (*close)(struct dk_dtls_session *s, dk_time_t now);
    size_t (*heap)(const struct dk_dtls_session *s);
    void (*session_free)(struct dk_dtls_session *s); /* frees impl only */
};

/* Shared helpers for backends (src/dtls/dtls.c). */
const struct dk_alloc *dk_dtls_alloc(const struct dk_dtls_config *cfg);
/* Creates a session, optionally continuing from a cookie-checked ClientHello. */
int dk_dtls_session_new_hello(struct dk_dtls_session **out, const struct dk_dtls_config *cfg,
                              const struct dk_addr *peer, dk_time_t now,
                              const struct dk_dtls_hello *hello);

#endif
