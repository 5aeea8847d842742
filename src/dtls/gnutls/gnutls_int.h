/* Internal to the GnuTLS 3.7 DTLS backend (src/dtls/gnutls). */
#ifndef DK_DTLS_GNUTLS_INT_H
#define DK_DTLS_GNUTLS_INT_H

#include "dtls/backend.h"

#include <gnutls/abstract.h>
#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

#define DK_GT_LOG "dtls-gnutls"
#define DK_GT_CHAIN_MAX 8

/* Backend state of one configuration (cfg->impl). Read-only once set up, so
 * many sessions share it. */
struct dk_gt_config {
    gnutls_priority_t prio;
    unsigned init_flags; /* role | GNUTLS_DATAGRAM | ... for gnutls_init() */
    gnutls_psk_client_credentials_t psk_cli;
    gnutls_psk_server_credentials_t psk_srv;
    gnutls_certificate_credentials_t cert;
    /* Our private key. The credentials hold "external" keys that sign through
     * it with GNUTLS_PRIVKEY_FLAG_REPRODUCIBLE (RFC 6979), because GnuTLS 3.7
     * signs handshake messages with flags 0 and offers no per-key switch. */
    gnutls_privkey_t key;
};

/* Queued datagram or application record, allocated through the config's
 * allocator. */
struct dk_gt_buf {
    struct dk_gt_buf *next;
    size_t len;
    size_t cap; /* room in data[] (datagrams get the MTU, to take more records) */
    uint8_t data[];
};

struct dk_gt_queue {
    struct dk_gt_buf *head, *tail;
    size_t count;
};

/* A handshake message arriving in fragments: bytes [0, end) went to GnuTLS. */
#define DK_GT_FRAGS 4
struct dk_gt_frag {
    bool used;
    uint16_t seq; /* message_seq */
    uint32_t end;
};

/* Backend state of one session (s->impl). */
struct dk_gt_session {
    struct dk_dtls_session *s;
    gnutls_session_t tls;

    /* The datagram being fed by recv(): pull() hands it out once. */
    const uint8_t *in;
    size_t in_len;
    bool in_used;

    struct dk_gt_queue tx; /* datagrams to send */
    struct dk_gt_queue rx; /* application records received */
    size_t heap;           /* bytes held through the allocator, including this struct */
    bool oom;              /* an allocation failed inside a GnuTLS callback */
    /* Records GnuTLS writes in one call share datagrams up to the MTU (RFC
     * 6347 §4.1.1), as mbedTLS does; GnuTLS itself sends one per record. */
    bool batch;                   /* inside a GnuTLS call that may write */
    struct dk_gt_buf *batch_mark; /* tx tail when the call began */

    /* Our retransmission timer (RFC 6347 §4.2.4.1), on the engine's clock. */
    dk_time_t hs_deadline;  /* whole handshake */
    dk_time_t rtx_deadline; /* next retransmission check, DK_TIME_NEVER when idle */
    dk_time_t rto;          /* current timer value */
    dk_time_t last_tx;      /* when we last let a flight (or a retransmission) out */
    bool progress;          /* a new handshake message went in or out during this call */
    bool force_rtx;         /* inside tick(): let GnuTLS see "nothing arrived" */

    /* Why the handshake failed, when we decided it (0: GnuTLS decided). */
    int fail;
    int fail_alert;    /* alert to send for our own decisions, or -1 */
    bool peer_checked; /* peer info filled from its certificate or raw key */
    struct dk_gt_frag frags[DK_GT_FRAGS];
    unsigned frag_next;
};

/* "192.0.2.1:5684": the peer, for log lines (buf: DK_ADDR_STRLEN bytes). */
static inline const char *dk_gt_peer_str(const struct dk_gt_session *g, char *buf)
{
    return dk_addr_format(&g->s->peer, buf, DK_ADDR_STRLEN);
}

/* creds.c */
int dk_gt_config_setup(struct dk_dtls_config *cfg);
void dk_gt_config_free(struct dk_dtls_config *cfg);
/* Set the config's credentials, priorities and callbacks on a new session. */
int dk_gt_session_apply_config(struct dk_gt_session *g);
/* Fills s->info once connected (mode, suite). */
void dk_gt_fill_info(struct dk_gt_session *g);
/* Runs the caller's verify() once the peer proved possession of its key. */
int dk_gt_run_user_verify(struct dk_gt_session *g);
/* Maps a GnuTLS error to DK_E*. */
int dk_gt_err(int gnutls_err);

/* For tests: signs data the way the handshake does (ECDSA with SHA-256 through
 * the credentials' key wrapper), so RFC 6979 determinism can be checked.
 * Errors: DK_ESTATE (no key configured), DK_ENOMEM, DK_ECRYPTO, DK_ENOSPC. */
int dk_dtls_gnutls_sign(const struct dk_dtls_config *cfg, const uint8_t *data, size_t len,
                        uint8_t *sig, size_t cap, size_t *sig_len);

#endif
