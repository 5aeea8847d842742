/* mbedTLS backend: sessions driven from memory (DESIGN §9.5). mbedTLS reads
 * the current datagram through a BIO that then says WANT_READ, writes
 * datagrams into a queue the caller drains, and keeps its retransmission
 * timer against the `now` we were given. */
#include "mb.h"

#include <duckling/err.h>
#include <duckling/mem.h>

#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/ssl_internal.h>

#include <stddef.h>
#include <string.h>

/* A FIFO of length-prefixed datagrams in one buffer from the config's
 * allocator. It grows to the largest flight once; steady traffic that is
 * drained as it comes then never allocates again. */
struct dq {
    uint8_t *buf;
    size_t cap, head, tail;
};

struct mb_sess {
    mbedtls_ssl_context ssl; /* first: callbacks get back to us from it */
    struct dk_dtls_session *s;
    dk_time_t now;
    bool timer_on;
    dk_time_t timer_int, timer_fin;
    const uint8_t *rx; /* the datagram being fed, while recv() runs */
    size_t rx_len;
    bool rx_used;
    bool hold_timer; /* while a datagram is fed: see mb_recv() */
    bool peer_checked;
    bool cert_suite;
    bool alert_sent; /* we (or mbedTLS for us) sent an alert */
    int last_ret;    /* mbedTLS's code behind the last failure, for the log */
    struct dq tx;    /* datagrams to send */
    struct dq app;   /* application records received */
    uint64_t app_dropped;
};

static struct mb_sess *sess_of(mbedtls_ssl_context *ssl)
{
    return (struct mb_sess *)((char *)ssl - offsetof(struct mb_sess, ssl));
}

static const struct dk_alloc *alloc_of(const struct mb_sess *m)
{
    return dk_dtls_alloc(m->s->cfg);
}

/* ---- datagram queue ---------------------------------------------------- */

static int dq_room(struct mb_sess *m, struct dq *q, size_t need)
{
    if (q->cap - q->tail >= need)
        return 0;
    if (q->head) { /* compact first */
        memmove(q->buf, q->buf + q->head, q->tail - q->head);
        q->tail -= q->head;
        q->head = 0;
        if (q->cap - q->tail >= need)
            return 0;
    }
    size_t cap = q->cap ? q->cap * 2 : 512;
    while (cap - q->tail < need)
        cap *= 2;
    uint8_t *nb = dk_alloc_zeroed(alloc_of(m), cap);
    if (!nb)
        return DK_ENOMEM;
    if (q->buf) {
        memcpy(nb, q->buf, q->tail);
        dk_memzero(q->buf, q->cap);
        dk_alloc_release(alloc_of(m), q->buf);
    }
    q->buf = nb;
    q->cap = cap;
    return 0;
}

/* Space for one entry of up to n bytes; commit it with dq_commit(). */
static uint8_t *dq_reserve(struct mb_sess *m, struct dq *q, size_t n)
{
    if (n > 0xffff || dq_room(m, q, 2 + n))
        return NULL;
    return q->buf + q->tail + 2;
}

static void dq_commit(struct dq *q, size_t n)
{
    q->buf[q->tail] = (uint8_t)(n >> 8);
    q->buf[q->tail + 1] = (uint8_t)n;
    q->tail += 2 + n;
}

static bool dq_empty(const struct dq *q)
{
    return q->head == q->tail;
}

static size_t dq_front_len(const struct dq *q)
{
    return (size_t)q->buf[q->head] << 8 | q->buf[q->head + 1];
}

static void dq_drop_front(struct dq *q)
{
    size_t n = dq_front_len(q);
    dk_memzero(q->buf + q->head, 2 + n);
    q->head += 2 + n;
    if (q->head == q->tail)
        q->head = q->tail = 0;
}

static void dq_free(struct mb_sess *m, struct dq *q)
{
    if (q->buf) {
        dk_memzero(q->buf, q->cap);
        dk_alloc_release(alloc_of(m), q->buf);
    }
    memset(q, 0, sizeof *q);
}

/* ---- callbacks mbedTLS drives us with ---------------------------------- */

static bool has_alert_record(const unsigned char *d, size_t len)
{
    for (size_t off = 0; off + 13 <= len; off += 13 + ((size_t)d[off + 11] << 8 | d[off + 12]))
        if (d[off] == MBEDTLS_SSL_MSG_ALERT)
            return true;
    return false;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct mb_sess *m = ctx;
    if (has_alert_record(buf, len))
        m->alert_sent = true;
    uint8_t *p = dq_reserve(m, &m->tx, len);
    if (!p)
        return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    memcpy(p, buf, len);
    dq_commit(&m->tx, len);
    return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct mb_sess *m = ctx;
    if (!m->rx || m->rx_used)
        return MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = m->rx_len < len ? m->rx_len : len; /* datagram semantics: truncate */
    memcpy(buf, m->rx, n);
    m->rx_used = true;
    return (int)n;
}

static void timer_set(void *ctx, uint32_t int_ms, uint32_t fin_ms)
{
    struct mb_sess *m = ctx;
    m->timer_on = fin_ms != 0;
    m->timer_int = m->now + int_ms;
    m->timer_fin = m->now + fin_ms;
}

static int timer_get(void *ctx)
{
    struct mb_sess *m = ctx;
    if (!m->timer_on)
        return -1;
    if (m->now >= m->timer_fin && !m->hold_timer)
        return 2;
    return m->now >= m->timer_int ? 1 : 0;
}

int dk_mb_psk_lookup(void *p_psk, mbedtls_ssl_context *ssl, const unsigned char *id, size_t id_len)
{
    (void)p_psk;
    struct mb_sess *m = sess_of(ssl);
    struct dk_dtls_session *s = m->s;
    const struct dk_dtls_params *p = &s->cfg->p;
    if (id_len == 0 || id_len > DK_DTLS_PSK_ID_MAX)
        return -1;
    uint8_t key[DK_DTLS_PSK_MAX];
    size_t key_len = 0;
    int rc = p->psk_lookup(p->psk_lookup_user, &s->peer, id, id_len, key, sizeof key, &key_len);
    if (rc == 0 && key_len > 0 && key_len <= sizeof key)
        rc = mbedtls_ssl_set_hs_psk(ssl, key, key_len) ? DK_ENOMEM : 0;
    else
        rc = DK_ENOTFOUND;
    dk_memzero(key, sizeof key);
    if (rc)
        return -1;
    memcpy(s->info.psk_identity, id, id_len);
    s->info.psk_identity_len = id_len;
    return 0;
}

/* ---- errors ------------------------------------------------------------ */

static bool alert_is_auth(uint8_t alert)
{
    switch (alert) {
    case MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC:
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
    case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT:
    case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED:
    case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED:
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN:
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA:
    case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED:
    case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR:
    case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY:
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_PSK_IDENTITY:
        return true;
    default:
        return false;
    }
}

static bool error_is_auth(int ret)
{
    switch (ret) {
    case MBEDTLS_ERR_SSL_INVALID_MAC: /* Finished under another PSK */
    case MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY:
    case MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED:
    case MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED:
    case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
    case MBEDTLS_ERR_SSL_CERTIFICATE_REQUIRED:
    case MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE:
    case MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE_VERIFY:
    case MBEDTLS_ERR_SSL_BAD_HS_SERVER_KEY_EXCHANGE:
    case MBEDTLS_ERR_SSL_BAD_HS_FINISHED:
    case MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN:
    case MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE:
    case MBEDTLS_ERR_SSL_PK_TYPE_MISMATCH:
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
    case MBEDTLS_ERR_ECP_VERIFY_FAILED:
    case MBEDTLS_ERR_PK_SIG_LEN_MISMATCH:
        return true;
    default:
        return false;
    }
}

static int map_error(struct mb_sess *m, int ret)
{
    m->last_ret = ret;
    bool handshaking = m->s->state == DK_DTLS_HANDSHAKING;
    switch (ret) {
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        return DK_ENOMEM;
    case MBEDTLS_ERR_SSL_TIMEOUT:
        return DK_ETIMEDOUT;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
    case MBEDTLS_ERR_SSL_CLIENT_RECONNECT:
        return DK_ECLOSED;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
        /* in_msg still holds the alert: level, description. */
        return handshaking && alert_is_auth(m->ssl.in_msg[1]) ? DK_EAUTH : DK_ECLOSED;
    default:
        return handshaking && error_is_auth(ret) ? DK_EAUTH : DK_ECRYPTO;
    }
}

static int fail(struct mb_sess *m, int rc)
{
    struct dk_dtls_session *s = m->s;
    const struct dk_log *log = s->cfg->p.log;
    if (DK_LOG_ENABLED(log, DK_LOG_INFO)) {
        char peer[DK_ADDR_STRLEN];
        dk_info(log, "dtls", "session with %s %s: %s (mbedTLS -0x%04x)",
                dk_addr_format(&s->peer, peer, sizeof peer),
                s->state == DK_DTLS_HANDSHAKING ? "failed in the handshake" : "ended",
                dk_strerror(rc), (unsigned)-m->last_ret);
    }
    s->state = rc == DK_ECLOSED && s->state == DK_DTLS_CONNECTED ? DK_DTLS_CLOSED : DK_DTLS_FAILED;
    return rc;
}

/* ---- what the handshake proved ----------------------------------------- */

#if DK_WITH_CERTS
static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    mbedtls_sha256_ret(p, n, out, 0);
}

static void copy_cn(const mbedtls_x509_crt *crt, char *out, size_t cap)
{
    out[0] = '\0';
    for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next) {
        if (!n->oid.p || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0)
            continue;
        if (n->val.len < cap && !memchr(n->val.p, 0, n->val.len)) {
            memcpy(out, n->val.p, n->val.len);
            out[n->val.len] = '\0';
        }
        return;
    }
}

static void describe_cert(struct dk_dtls_peer_info *info, const mbedtls_x509_crt *crt)
{
    sha256(crt->raw.p, crt->raw.len, info->cert_sha256);
    sha256(crt->pk_raw.p, crt->pk_raw.len, info->spki_sha256);
    info->has_cert = info->has_spki = true;
    copy_cn(crt, info->cert_cn, sizeof info->cert_cn);
}

static bool peer_key_is_p256(const mbedtls_x509_crt *crt)
{
    return mbedtls_pk_can_do(&crt->pk, MBEDTLS_PK_ECKEY) &&
           mbedtls_pk_ec(crt->pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

/* Decides on the peer once its key possession is proved: by the
 * ServerKeyExchange signature (client side) or by CertificateVerify (server
 * side). Returns 0 or the alert to send. */
static int judge_peer(struct mb_sess *m)
{
    struct dk_dtls_session *s = m->s;
    const struct dk_dtls_params *p = &s->cfg->p;
    const mbedtls_x509_crt *crt = m->ssl.session_negotiate->peer_cert;
    if (!crt) {
        bool needed = p->role == DK_DTLS_CLIENT || p->require_client_cert;
        return needed ? MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE : 0;
    }
    describe_cert(&s->info, crt);
    if (!peer_key_is_p256(crt))
        return MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT;
    if (p->role == DK_DTLS_CLIENT && p->pinned_sha256 &&
        !dk_ct_equal(s->info.cert_sha256, p->pinned_sha256, 32))
        return MBEDTLS_SSL_ALERT_MSG_BAD_CERT;
    s->info.mode = DK_DTLS_MODE_CERT;
    if (p->verify && p->verify(p->verify_user, &s->peer, &s->info) != 0)
        return MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED;
    return 0;
}

#else
/* DK_SECURITY=psk: no suite with certificates is offered or accepted. */
static int judge_peer(struct mb_sess *m)
{
    (void)m;
    return MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE;
}
#endif

static bool possession_proved(const struct mb_sess *m)
{
    int st = m->ssl.state;
    if (st > MBEDTLS_SSL_HANDSHAKE_OVER)
        return false;
    if (m->s->cfg->p.role == DK_DTLS_CLIENT)
        return st > MBEDTLS_SSL_SERVER_KEY_EXCHANGE;
    return st > MBEDTLS_SSL_CERTIFICATE_VERIFY;
}

static void note_suite(struct mb_sess *m)
{
    const mbedtls_ssl_ciphersuite_t *cs =
        mbedtls_ssl_ciphersuite_from_id(m->ssl.session_negotiate->ciphersuite);
    m->cert_suite = cs && cs->key_exchange == MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA;
}

/* ---- driving the handshake and the records ----------------------------- */

enum { HS_DONE = 0, HS_WANT_READ = 1 };

/* mbedTLS gives up on some handshakes without telling the peer (e.g. a
 * missing client certificate); say so, or the peer retransmits for a minute. */
static int local_failure(struct mb_sess *m, int ret)
{
    int rc = map_error(m, ret);
    bool from_peer =
        ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY;
    if (!from_peer && rc != DK_ETIMEDOUT && rc != DK_ENOMEM && !m->alert_sent)
        mbedtls_ssl_send_alert_message(&m->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                       MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
    return rc;
}

static int handshake_steps(struct mb_sess *m)
{
    while (m->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
        int ret = mbedtls_ssl_handshake_step(&m->ssl);
        if (!m->peer_checked && m->ssl.session_negotiate && m->ssl.state > MBEDTLS_SSL_SERVER_HELLO)
            note_suite(m);
        if (!m->peer_checked && m->cert_suite && possession_proved(m)) {
            m->peer_checked = true;
            int alert = judge_peer(m);
            if (alert) {
                m->last_ret = 0;
                mbedtls_ssl_send_alert_message(&m->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                               (unsigned char)alert);
                return DK_EAUTH;
            }
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ)
            return HS_WANT_READ;
        if (ret)
            return local_failure(m, ret);
    }
    return HS_DONE;
}

static void became_connected(struct mb_sess *m)
{
    struct dk_dtls_session *s = m->s;
    int suite = m->ssl.session->ciphersuite;
    s->info.cipher_suite = (uint16_t)suite;
    const mbedtls_ssl_ciphersuite_t *cs = mbedtls_ssl_ciphersuite_from_id(suite);
    s->info.mode =
        cs && cs->key_exchange == MBEDTLS_KEY_EXCHANGE_PSK ? DK_DTLS_MODE_PSK : DK_DTLS_MODE_CERT;
    s->state = DK_DTLS_CONNECTED;
    const struct dk_log *log = s->cfg->p.log;
    if (DK_LOG_ENABLED(log, DK_LOG_DEBUG)) {
        char peer[DK_ADDR_STRLEN];
        dk_debug(log, "dtls", "session with %s connected: %s",
                 dk_addr_format(&s->peer, peer, sizeof peer),
                 mbedtls_ssl_get_ciphersuite_name(suite));
    }
}

/* Moves every complete application record into the app queue. A record
 * larger than our MTU is dropped: nothing we talk to sends one. */
static int read_records(struct mb_sess *m)
{
    size_t cap = m->s->cfg->p.mtu;
    for (int empty = 0; empty < 16;) {
        uint8_t *p = dq_reserve(m, &m->app, cap);
        if (!p)
            return fail(m, DK_ENOMEM);
        int n = mbedtls_ssl_read(&m->ssl, p, cap);
        if (n == MBEDTLS_ERR_SSL_WANT_READ)
            return 0;
        if (n < 0)
            return fail(m, map_error(m, n));
        if (mbedtls_ssl_get_bytes_avail(&m->ssl) > 0) {
            uint8_t scrap[64];
            while (mbedtls_ssl_get_bytes_avail(&m->ssl) > 0)
                mbedtls_ssl_read(&m->ssl, scrap, sizeof scrap);
            dk_memzero(scrap, sizeof scrap);
            m->app_dropped++;
            continue;
        }
        if (n > 0)
            dq_commit(&m->app, (size_t)n);
        else
            empty++; /* an empty record carries nothing to hand on */
    }
    return 0;
}

static int drive(struct mb_sess *m)
{
    if (m->s->state == DK_DTLS_HANDSHAKING) {
        int rc = handshake_steps(m);
        if (rc == HS_WANT_READ)
            return 0;
        if (rc < 0)
            return fail(m, rc);
        became_connected(m);
    }
    return read_records(m);
}

/* ---- the backend interface --------------------------------------------- */

static int mb_session_setup(struct dk_dtls_session *s, dk_time_t now,
                            const struct dk_dtls_hello *hello)
{
    /* mbedTLS takes the record and message sequence numbers from the
     * ClientHello itself (RFC 6347 §4.2.1), which the table feeds next. */
    (void)hello;
    const struct dk_mb_conf *mc = s->cfg->impl;
    struct mb_sess *m = dk_alloc_zeroed(dk_dtls_alloc(s->cfg), sizeof *m);
    if (!m)
        return DK_ENOMEM;
    mbedtls_ssl_init(&m->ssl);
    m->s = s;
    m->now = now;
    s->impl = m;
    int ret = mbedtls_ssl_setup(&m->ssl, &mc->conf);
    if (ret)
        return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? DK_ENOMEM : DK_ECRYPTO;
    mbedtls_ssl_set_bio(&m->ssl, m, bio_send, bio_recv, NULL);
    mbedtls_ssl_set_timer_cb(&m->ssl, m, timer_set, timer_get);
    mbedtls_ssl_set_mtu(&m->ssl, s->cfg->p.mtu);
    if (s->cfg->p.role == DK_DTLS_CLIENT) {
        int rc = drive(m); /* queues the ClientHello */
        if (rc)
            return rc;
    }
    return 0;
}

static int mb_recv(struct dk_dtls_session *s, const uint8_t *dgram, size_t len, dk_time_t now)
{
    struct mb_sess *m = s->impl;
    m->now = now;
    if (s->state == DK_DTLS_CLOSED || s->state == DK_DTLS_FAILED)
        return DK_ECLOSED;
    m->rx = dgram;
    m->rx_len = len;
    m->rx_used = false;
    /* mbedTLS looks at its timer before reading: an expired one would make it
     * resend and return without the datagram, and the datagram, if it is the
     * peer's retransmission, would make it resend a second time. So the
     * datagram goes first; an expiry still due is handled by the next tick. */
    m->hold_timer = true;
    int rc = drive(m);
    m->hold_timer = false;
    m->rx = NULL;
    return rc;
}

static int mb_read(struct dk_dtls_session *s, uint8_t *buf, size_t cap)
{
    struct mb_sess *m = s->impl;
    if (dq_empty(&m->app))
        return DK_EAGAIN;
    size_t n = dq_front_len(&m->app);
    int rc = DK_ENOSPC;
    if (n <= cap) {
        memcpy(buf, m->app.buf + m->app.head + 2, n);
        rc = (int)n;
    }
    dq_drop_front(&m->app);
    return rc;
}

static int mb_write(struct dk_dtls_session *s, const uint8_t *data, size_t len, dk_time_t now)
{
    struct mb_sess *m = s->impl;
    m->now = now;
    int max = mbedtls_ssl_get_max_out_record_payload(&m->ssl);
    if (max < 0)
        return DK_ECRYPTO;
    if (len > (size_t)max)
        return DK_ENOSPC;
    int ret = mbedtls_ssl_write(&m->ssl, data, len);
    if (ret == (int)len)
        return 0;
    if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED)
        return DK_ENOMEM;
    return ret >= 0 ? DK_ECRYPTO : map_error(m, ret);
}

static int mb_pop_tx(struct dk_dtls_session *s, uint8_t *buf, size_t cap)
{
    struct mb_sess *m = s->impl;
    if (dq_empty(&m->tx))
        return 0;
    size_t n = dq_front_len(&m->tx);
    if (n > cap)
        return DK_ENOSPC;
    memcpy(buf, m->tx.buf + m->tx.head + 2, n);
    dq_drop_front(&m->tx);
    return (int)n;
}

static dk_time_t mb_deadline(const struct dk_dtls_session *s)
{
    const struct mb_sess *m = s->impl;
    if (s->state != DK_DTLS_HANDSHAKING || !m->timer_on)
        return DK_TIME_NEVER;
    return m->timer_fin;
}

static int mb_tick(struct dk_dtls_session *s, dk_time_t now)
{
    struct mb_sess *m = s->impl;
    m->now = now;
    if (s->state != DK_DTLS_HANDSHAKING || !m->timer_on || now < m->timer_fin)
        return 0;
    return drive(m);
}

static int mb_close(struct dk_dtls_session *s, dk_time_t now)
{
    struct mb_sess *m = s->impl;
    m->now = now;
    int ret = mbedtls_ssl_close_notify(&m->ssl); /* only sent once connected */
    s->state = DK_DTLS_CLOSED;
    if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED)
        return DK_ENOMEM;
    return ret ? DK_ECRYPTO : 0;
}

/* mbedTLS allocates with calloc (Debian's build has no
 * MBEDTLS_PLATFORM_MEMORY), so its part is counted from the structures it
 * is known to hold; the record buffers dominate. */
static size_t mbedtls_part(const mbedtls_ssl_context *ssl)
{
    size_t n = 0;
    if (ssl->in_buf)
        n += MBEDTLS_SSL_IN_BUFFER_LEN;
    if (ssl->out_buf)
        n += MBEDTLS_SSL_OUT_BUFFER_LEN;
    if (ssl->handshake)
        n += sizeof *ssl->handshake;
    if (ssl->transform_negotiate)
        n += sizeof *ssl->transform_negotiate;
    if (ssl->session_negotiate)
        n += sizeof *ssl->session_negotiate;
    if (ssl->transform && ssl->transform != ssl->transform_negotiate)
        n += sizeof *ssl->transform;
    if (ssl->session && ssl->session != ssl->session_negotiate)
        n += sizeof *ssl->session;
    const mbedtls_ssl_session *sess = ssl->session ? ssl->session : ssl->session_negotiate;
#if DK_WITH_CERTS
    if (sess && sess->peer_cert)
        n += sizeof *sess->peer_cert + sess->peer_cert->raw.len;
#else
    (void)sess;
#endif
    return n;
}

static size_t mb_heap(const struct dk_dtls_session *s)
{
    const struct mb_sess *m = s->impl;
    if (!m)
        return 0;
    return sizeof *m + m->tx.cap + m->app.cap + mbedtls_part(&m->ssl);
}

static void mb_session_free(struct dk_dtls_session *s)
{
    struct mb_sess *m = s->impl;
    if (!m)
        return;
    mbedtls_ssl_free(&m->ssl); /* wipes keys and buffers */
    dq_free(m, &m->tx);
    dq_free(m, &m->app);
    const struct dk_alloc *a = alloc_of(m);
    dk_memzero(m, sizeof *m);
    dk_alloc_release(a, m);
    s->impl = NULL;
}

static const struct dk_dtls_backend mbedtls_backend = {
    .name = "mbedtls",
#if DK_WITH_CERTS
    .modes = DK_DTLS_MODE_PSK | DK_DTLS_MODE_CERT,
#else
    .modes = DK_DTLS_MODE_PSK,
#endif
    .config_setup = dk_mb_config_setup,
    .config_free = dk_mb_config_free,
    .session_setup = mb_session_setup,
    .recv = mb_recv,
    .read = mb_read,
    .write = mb_write,
    .pop_tx = mb_pop_tx,
    .deadline = mb_deadline,
    .tick = mb_tick,
    .close = mb_close,
    .heap = mb_heap,
    .session_free = mb_session_free,
};

const struct dk_dtls_backend *dk_dtls_backend_mbedtls(void)
{
    return &mbedtls_backend;
}
