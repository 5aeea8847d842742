/* GnuTLS 3.7 DTLS 1.2 backend: sessions driven from memory.
 *
 * Transport. GnuTLS reads and writes through our callbacks. recv() walks the
 * datagram record by record and hands GnuTLS one record per pull() (records
 * never span datagrams, so this is what GnuTLS would see anyway); pull()
 * then fails with EAGAIN. push() queues what GnuTLS writes; the records of
 * one GnuTLS call share datagrams up to the MTU (RFC 6347 §4.1.1), so a
 * flight is one datagram where it fits (GnuTLS alone sends one datagram per
 * record).
 *
 * Timers. GnuTLS decides about retransmission in _dtls_transmit() by
 * comparing its own clock (gnutls_gettime(): CLOCK_REALTIME, replaceable only
 * process-wide through the private _gnutls_global_set_gettime_function) with
 * the time of its last transmission: a non-blocking gnutls_handshake()
 * resends the flight only once the current window (gnutls_dtls_set_timeouts'
 * retrans_timeout, doubled per retransmission) has passed on that clock, and
 * only when the pull-timeout callback said nothing arrived.
 * gnutls_dtls_get_timeout() is computed from the same clock. Against the
 * engine's `now` (a fake clock in tests, CLOCK_MONOTONIC in programs) that
 * clock means nothing: a tick() at our deadline would often find "not yet",
 * and wall-clock steps would stall or hurry handshakes.
 *
 * So this backend owns the timer. Each session sets the GnuTLS window to 0 ms
 * and its total timeout out of reach. The pull-timeout callback reports
 * "readable" (the pull() that follows fails with EAGAIN, which GnuTLS takes as
 * "wait") except inside tick(), once our deadline has passed (RFC 6347
 * §4.2.4.1: retrans_min_ms doubling up to retrans_max_ms, on the engine
 * clock): then it reports "nothing arrived" and GnuTLS resends the flight
 * (re-encrypted, new record numbers). handshake_timeout_ms is enforced here.
 *
 * With a 0 ms window GnuTLS also answers *every* record of a retransmitted
 * peer flight with a retransmission of its own (with its real window it would
 * wait). RFC 6347 §4.2.4 asks for one answer per peer flight, so answers that
 * come less than retrans_min_ms/2 after our last transmission are dropped
 * from the queue (to GnuTLS they look like datagrams lost on the way). A
 * handshake hook tells new messages (progress) from retransmissions: GnuTLS
 * runs hooks only for messages sent or received for the first time.
 *
 * Two GnuTLS 3.7.9 defects are kept away by filtering records before GnuTLS
 * sees them (see ccs_wanted() and fragment_in_order()). */
#include "gnutls_int.h"

#include <duckling/err.h>
#include <duckling/mem.h>

#include <errno.h>
#include <string.h>

#define TX_MAX 64                    /* datagrams waiting for pop_tx(); more behave like loss */
#define RX_MAX 64                    /* application records waiting for read() */
#define GT_TOTAL_TIMEOUT 0x7fffffffu /* GnuTLS's own handshake limit: out of reach */

enum step_cause { STEP_INPUT, STEP_TIMER };

/* ---- queues ------------------------------------------------------------ */

static const struct dk_alloc *galloc(const struct dk_gt_session *g)
{
    return dk_dtls_alloc(g->s->cfg);
}

static int queue_push(struct dk_gt_session *g, struct dk_gt_queue *q, const void *data, size_t len,
                      size_t cap)
{
    if (q->count >= (q == &g->tx ? TX_MAX : RX_MAX))
        return DK_ELIMIT;
    if (cap < len)
        cap = len;
    const struct dk_alloc *a = galloc(g);
    struct dk_gt_buf *b = a->alloc(a->user, sizeof *b + cap);
    if (!b)
        return DK_ENOMEM;
    b->next = NULL;
    b->len = len;
    b->cap = cap;
    memcpy(b->data, data, len);
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    q->count++;
    g->heap += sizeof *b + cap;
    return 0;
}

/* Queues a record GnuTLS wrote: into the datagram begun in the same call
 * when it fits, else into a new one. */
static int tx_push(struct dk_gt_session *g, const void *data, size_t len)
{
    struct dk_gt_buf *t = g->tx.tail;
    if (g->batch && t && t != g->batch_mark && len <= t->cap - t->len) {
        memcpy(t->data + t->len, data, len);
        t->len += len;
        return 0;
    }
    return queue_push(g, &g->tx, data, len, g->s->cfg->p.mtu);
}

static void buf_release(struct dk_gt_session *g, struct dk_gt_buf *b)
{
    g->heap -= sizeof *b + b->cap;
    dk_memzero(b->data, b->len);
    dk_alloc_release(galloc(g), b);
}

static struct dk_gt_buf *queue_pop(struct dk_gt_queue *q)
{
    struct dk_gt_buf *b = q->head;
    if (b) {
        q->head = b->next;
        if (!q->head)
            q->tail = NULL;
        q->count--;
    }
    return b;
}

/* Drops everything queued after `mark` (the tail before a GnuTLS call). */
static void queue_truncate(struct dk_gt_session *g, struct dk_gt_queue *q, struct dk_gt_buf *mark,
                           size_t count)
{
    struct dk_gt_buf *b = mark ? mark->next : q->head;
    while (b) {
        struct dk_gt_buf *next = b->next;
        buf_release(g, b);
        b = next;
    }
    if (mark)
        mark->next = NULL;
    else
        q->head = NULL;
    q->tail = mark;
    q->count = count;
}

static void queue_clear(struct dk_gt_session *g, struct dk_gt_queue *q)
{
    queue_truncate(g, q, NULL, 0);
}

/* ---- transport callbacks ------------------------------------------------ */

static ssize_t gt_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
    struct dk_gt_session *g = ptr;
    if (tx_push(g, data, len) == DK_ENOMEM)
        g->oom = true;
    return (ssize_t)len; /* a full queue is datagram loss, which DTLS handles */
}

static ssize_t gt_pull(gnutls_transport_ptr_t ptr, void *buf, size_t cap)
{
    struct dk_gt_session *g = ptr;
    if (!g->in || g->in_used) {
        gnutls_transport_set_errno(g->tls, EAGAIN);
        return -1;
    }
    size_t n = g->in_len < cap ? g->in_len : cap;
    memcpy(buf, g->in, n);
    g->in_used = true;
    return (ssize_t)n;
}

/* GnuTLS asks this before reading, and when it says "nothing arrived" GnuTLS
 * considers retransmitting (with our 0 ms window: does). So it says "readable"
 * (the following pull() then fails with EAGAIN) except in tick(), where a
 * retransmission is wanted. Otherwise GnuTLS would also resend the client's
 * last flight straight after sending it, in the same call. */
static int gt_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
    struct dk_gt_session *g = ptr;
    (void)ms; /* never wait */
    if (g->in && !g->in_used)
        return 1;
    return g->force_rtx ? 0 : 1;
}

/* Runs for every handshake message sent or received for the first time (not
 * for retransmissions), which is how progress is told from retransmission. */
static int gt_hook(gnutls_session_t tls, unsigned htype, unsigned when, unsigned incoming,
                   const gnutls_datum_t *msg)
{
    (void)when;
    (void)msg;
    struct dk_gt_session *g = gnutls_session_get_ptr(tls);
    g->progress = true;
    /* The caller's verify() sees the peer only after it proved possession of
     * the key: a client after ServerKeyExchange (checked before
     * ServerHelloDone), a server after CertificateVerify (checked before the
     * client's Finished). */
    unsigned proof_done = g->s->cfg->p.role == DK_DTLS_CLIENT ? GNUTLS_HANDSHAKE_SERVER_HELLO_DONE
                                                              : GNUTLS_HANDSHAKE_FINISHED;
    if (incoming && htype == proof_done)
        return dk_gt_run_user_verify(g);
    return 0;
}

/* ---- state changes ------------------------------------------------------ */

/* A fatal alert as DK_E*: the peer refused our credentials (DK_EAUTH) or just
 * ended the session (DK_ECLOSED). bad_record_mac during the handshake is
 * how mbedTLS answers a Finished made with a different PSK. */
static int alert_to_err(gnutls_alert_description_t a, bool handshaking)
{
    if (a == GNUTLS_A_BAD_RECORD_MAC)
        return handshaking ? DK_EAUTH : DK_ECLOSED;
    switch (a) {
    case GNUTLS_A_HANDSHAKE_FAILURE:
    case GNUTLS_A_BAD_CERTIFICATE:
    case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
    case GNUTLS_A_CERTIFICATE_REVOKED:
    case GNUTLS_A_CERTIFICATE_EXPIRED:
    case GNUTLS_A_CERTIFICATE_UNKNOWN:
    case GNUTLS_A_UNKNOWN_CA:
    case GNUTLS_A_ACCESS_DENIED:
    case GNUTLS_A_DECRYPT_ERROR:
    case GNUTLS_A_INSUFFICIENT_SECURITY:
    case GNUTLS_A_UNKNOWN_PSK_IDENTITY:
    case GNUTLS_A_CERTIFICATE_REQUIRED:
        return DK_EAUTH;
    default:
        return DK_ECLOSED;
    }
}

/* The alert for failures GnuTLS would describe vaguely (it answers a missing
 * client certificate with decode_error, for one); -1: its own choice. */
static int alert_for(int e)
{
    switch (e) {
    case GNUTLS_E_DECRYPTION_FAILED:
    case GNUTLS_E_PK_SIG_VERIFY_FAILED:
        return GNUTLS_A_DECRYPT_ERROR;
    case GNUTLS_E_NO_CERTIFICATE_FOUND:
    case GNUTLS_E_CERTIFICATE_REQUIRED:
    case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
    case GNUTLS_E_NO_CIPHER_SUITES:
    case GNUTLS_E_UNKNOWN_CIPHER_SUITE:
    case GNUTLS_E_NO_COMMON_KEY_SHARE:
    case GNUTLS_E_UNSUPPORTED_CERTIFICATE_TYPE:
        return GNUTLS_A_HANDSHAKE_FAILURE;
    default:
        return -1;
    }
}

/* Ends the session after a fatal GnuTLS error, telling the peer why unless it
 * told us. Returns the DK_E* for the caller. */
static int fail(struct dk_gt_session *g, int e)
{
    const struct dk_log *log = g->s->cfg->p.log;
    char who[DK_ADDR_STRLEN];
    int rc;
    if (g->oom) {
        rc = DK_ENOMEM;
    } else if (e == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        gnutls_alert_description_t a = gnutls_alert_get(g->tls);
        rc = alert_to_err(a, g->s->state == DK_DTLS_HANDSHAKING);
        dk_info(log, DK_GT_LOG, "%s sent fatal alert %d (%s): %s", dk_gt_peer_str(g, who), (int)a,
                gnutls_alert_get_name(a) ? gnutls_alert_get_name(a) : "?", dk_strerror(rc));
    } else if (e == GNUTLS_E_SESSION_EOF) {
        rc = DK_ECLOSED; /* the peer gave up with close_notify: nothing to tell it */
        dk_info(log, DK_GT_LOG, "%s closed the session in the handshake", dk_gt_peer_str(g, who));
    } else {
        rc = g->fail ? g->fail : dk_gt_err(e);
        int alert = g->fail_alert >= 0 ? g->fail_alert : alert_for(e);
        if (alert >= 0)
            gnutls_alert_send(g->tls, GNUTLS_AL_FATAL, (gnutls_alert_description_t)alert);
        else
            gnutls_alert_send_appropriate(g->tls, e);
        dk_info(log, DK_GT_LOG, "session with %s failed%s: %s (%s)", dk_gt_peer_str(g, who),
                g->s->state == DK_DTLS_HANDSHAKING ? " in the handshake" : "", gnutls_strerror(e),
                dk_strerror(rc));
    }
    g->s->state = DK_DTLS_FAILED;
    g->rtx_deadline = DK_TIME_NEVER;
    return rc;
}

static void connected(struct dk_gt_session *g)
{
    dk_gt_fill_info(g);
    g->s->state = DK_DTLS_CONNECTED;
    g->rtx_deadline = DK_TIME_NEVER;
    char who[DK_ADDR_STRLEN];
    dk_debug(g->s->cfg->p.log, DK_GT_LOG, "connected with %s, suite 0x%04x", dk_gt_peer_str(g, who),
             (unsigned)g->s->info.cipher_suite);
}

/* After a GnuTLS call that returned GNUTLS_E_AGAIN: datagrams it queued
 * without any new handshake message are a retransmission. Keeps it or drops
 * it (see the file comment) and updates our timer. */
static void account_tx(struct dk_gt_session *g, dk_time_t now, enum step_cause cause,
                       struct dk_gt_buf *mark, size_t count_before)
{
    const struct dk_dtls_params *p = &g->s->cfg->p;
    bool pushed = g->tx.count > count_before || (g->tx.tail != mark);
    if (g->progress) {
        g->rto = p->retrans_min_ms;
        if (pushed)
            g->last_tx = now;
        g->rtx_deadline = now + g->rto;
        return;
    }
    if (cause == STEP_TIMER) {
        if (pushed) {
            g->last_tx = now;
            g->rto = g->rto * 2 < p->retrans_max_ms ? g->rto * 2 : p->retrans_max_ms;
        }
        g->rtx_deadline = now + g->rto;
        return;
    }
    if (!pushed)
        return;
    if (now - g->last_tx < p->retrans_min_ms / 2) {
        queue_truncate(g, &g->tx, mark, count_before);
        return;
    }
    g->last_tx = now;
    if (g->s->state == DK_DTLS_HANDSHAKING)
        g->rtx_deadline = now + g->rto;
}

/* One run of the handshake with whatever input is pending. */
static int run_handshake(struct dk_gt_session *g, dk_time_t now, enum step_cause cause)
{
    struct dk_gt_buf *mark = g->batch_mark = g->tx.tail;
    size_t before = g->tx.count;
    g->progress = false;
    int e;
    /* A warning alert (close_notify comes as GNUTLS_E_SESSION_EOF) interrupts
     * the handshake call; go on with the rest of the input. */
    for (int i = 0; i < 8; i++) {
        e = gnutls_handshake(g->tls);
        if (e != GNUTLS_E_WARNING_ALERT_RECEIVED)
            break;
    }
    if (g->oom)
        return fail(g, GNUTLS_E_MEMORY_ERROR);
    if (e == 0) {
        connected(g);
        return 0;
    }
    if (e != GNUTLS_E_AGAIN && e != GNUTLS_E_INTERRUPTED)
        return fail(g, e);
    account_tx(g, now, cause, mark, before);
    return 0;
}

static int step_handshake(struct dk_gt_session *g, dk_time_t now, enum step_cause cause)
{
    g->batch = true;
    int rc = run_handshake(g, now, cause);
    g->batch = false;
    return rc;
}

/* Reads every record left in the current datagram once connected. */
static int drain_records(struct dk_gt_session *g, dk_time_t now)
{
    for (int i = 0; i < 256; i++) {
        struct dk_gt_buf *mark = g->batch_mark = g->tx.tail;
        size_t before = g->tx.count;
        g->progress = false;
        gnutls_packet_t pkt = NULL;
        g->batch = true;
        ssize_t n = gnutls_record_recv_packet(g->tls, &pkt);
        g->batch = false;
        if (g->oom) {
            if (pkt)
                gnutls_packet_deinit(pkt);
            return fail(g, GNUTLS_E_MEMORY_ERROR);
        }
        if (n > 0) {
            gnutls_datum_t d;
            gnutls_packet_get(pkt, &d, NULL);
            int rc = queue_push(g, &g->rx, d.data, d.size, 0);
            gnutls_packet_deinit(pkt);
            if (rc == DK_ENOMEM)
                return fail(g, GNUTLS_E_MEMORY_ERROR);
            continue; /* DK_ELIMIT: the reader is behind; drop like UDP */
        }
        if (pkt)
            gnutls_packet_deinit(pkt);
        if (n == 0) {
            /* close_notify: answer with ours (RFC 5246 §7.2.1) and stop. */
            g->s->state = DK_DTLS_CLOSED;
            gnutls_bye(g->tls, GNUTLS_SHUT_WR);
            char who[DK_ADDR_STRLEN];
            dk_debug(g->s->cfg->p.log, DK_GT_LOG, "%s closed the session", dk_gt_peer_str(g, who));
            return DK_ECLOSED;
        }
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            /* The last flight's sender answers a retransmitted peer flight here. */
            account_tx(g, now, STEP_INPUT, mark, before);
            return 0;
        }
        if (n == GNUTLS_E_REHANDSHAKE) { /* renegotiation is not offered */
            gnutls_alert_send(g->tls, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
            return 0;
        }
        if (n == GNUTLS_E_WARNING_ALERT_RECEIVED)
            continue;
        if (!gnutls_error_is_fatal((int)n))
            return 0;
        return fail(g, (int)n);
    }
    return 0;
}

/* ---- backend interface --------------------------------------------------- */

static void gt_session_free(struct dk_dtls_session *s)
{
    struct dk_gt_session *g = s->impl;
    if (!g)
        return;
    if (g->tls)
        gnutls_deinit(g->tls); /* GnuTLS wipes its key material */
    queue_clear(g, &g->tx);
    queue_clear(g, &g->rx);
    const struct dk_alloc *a = galloc(g);
    dk_memzero(g, sizeof *g);
    dk_alloc_release(a, g);
    s->impl = NULL;
}

static int gt_session_setup(struct dk_dtls_session *s, dk_time_t now,
                            const struct dk_dtls_hello *hello)
{
    const struct dk_dtls_params *p = &s->cfg->p;
    const struct dk_gt_config *gc = s->cfg->impl;
    struct dk_gt_session *g = dk_alloc_zeroed(dk_dtls_alloc(s->cfg), sizeof *g);
    if (!g)
        return DK_ENOMEM;
    s->impl = g;
    g->s = s;
    g->heap = sizeof *g;
    g->fail_alert = -1;
    g->hs_deadline = now + p->handshake_timeout_ms;
    g->rtx_deadline = DK_TIME_NEVER;
    g->rto = p->retrans_min_ms;
    g->last_tx = now;
    int e = gnutls_init(&g->tls, gc->init_flags);
    if (e < 0) {
        g->tls = NULL;
        return e == GNUTLS_E_MEMORY_ERROR ? DK_ENOMEM : DK_ECRYPTO;
    }
    gnutls_session_set_ptr(g->tls, g);
    int rc = dk_gt_session_apply_config(g);
    if (rc)
        return rc;
    gnutls_transport_set_ptr(g->tls, g);
    gnutls_transport_set_push_function(g->tls, gt_push);
    gnutls_transport_set_pull_function(g->tls, gt_pull);
    gnutls_transport_set_pull_timeout_function(g->tls, gt_pull_timeout);
    gnutls_dtls_set_mtu(g->tls, p->mtu);
    gnutls_dtls_set_timeouts(g->tls, 0, GT_TOTAL_TIMEOUT);
    gnutls_handshake_set_hook_function(g->tls, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_PRE, gt_hook);
    if (hello && p->role == DK_DTLS_SERVER) {
        /* Continue from the cookie-checked ClientHello: read it with its
         * message_seq, answer with the same message_seq (RFC 6347 §4.2.2) and
         * record numbers from its record_seq on. GnuTLS adds 1 to
         * hsk_write_seq (unsigned wrap makes message_seq 0 work). */
        gnutls_dtls_prestate_st ps = {
            .record_seq = (unsigned)hello->record_seq,
            .hsk_read_seq = hello->message_seq,
            .hsk_write_seq = (unsigned)hello->message_seq - 1u,
        };
        gnutls_dtls_prestate_set(g->tls, &ps);
    }
    if (p->role == DK_DTLS_CLIENT)
        return step_handshake(g, now, STEP_INPUT); /* queues the ClientHello */
    return 0;
}

/* True once we read encrypted records, i.e. took the peer's
 * ChangeCipherSpec. Only the size of the current read key is looked at. */
static bool reading_encrypted(struct dk_gt_session *g)
{
    gnutls_datum_t mac = {NULL, 0}, iv = {NULL, 0}, key = {NULL, 0};
    return gnutls_record_get_state(g->tls, 1, &mac, &iv, &key, NULL) >= 0 && key.size != 0;
}

/* Whether GnuTLS may see a ChangeCipherSpec now. GnuTLS 3.7 queues a CCS
 * that arrives before the handshake message it follows (after loss, the
 * peer's retransmitted flight brings it again) and, when several are queued,
 * loses one 16 KiB receive buffer when the handshake parser skips it: a
 * leak per lossy handshake, found under ASan. A CCS is only useful at one
 * point of the handshake, so any other is dropped here, as if lost. */
static bool ccs_wanted(struct dk_gt_session *g)
{
    if (g->s->state != DK_DTLS_HANDSHAKING || reading_encrypted(g))
        return false;
    if (g->s->cfg->p.role == DK_DTLS_CLIENT)
        return gnutls_handshake_get_last_out(g->tls) == GNUTLS_HANDSHAKE_FINISHED;
    gnutls_handshake_description_t in = gnutls_handshake_get_last_in(g->tls);
    return in == GNUTLS_HANDSHAKE_CERTIFICATE_VERIFY ||
           (in == GNUTLS_HANDSHAKE_CLIENT_KEY_EXCHANGE && !g->peer_checked);
}

/* Whether a plaintext handshake fragment may reach GnuTLS. GnuTLS 3.7
 * reassembles a message whose later fragment arrived first with a wrong end
 * offset (merge_handshake_packet() takes the MIN of the ends) and then never
 * completes it: seen with mbedTLS, which shrinks its records to 508 bytes
 * after retransmissions, over a lossy link. So a fragment goes in only if it
 * starts a message or continues the bytes GnuTLS already has; others are
 * dropped as if lost, and the peer's next retransmission brings them again. */
static bool fragment_in_order(struct dk_gt_session *g, const uint8_t *rec, size_t len)
{
    if (len < 13 + 12)
        return true; /* not a handshake fragment header: GnuTLS drops it */
    const uint8_t *h = rec + 13;
    uint32_t total = (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    uint16_t seq = (uint16_t)(h[4] << 8 | h[5]);
    uint32_t off = (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8];
    uint32_t flen = (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
    struct dk_gt_frag *f = NULL;
    for (size_t i = 0; i < DK_GT_FRAGS; i++)
        if (g->frags[i].used && g->frags[i].seq == seq)
            f = &g->frags[i];
    if (off == 0) {
        if (flen >= total)
            return true; /* a whole message */
        if (!f) {
            f = &g->frags[g->frag_next++ % DK_GT_FRAGS];
            f->used = true;
            f->seq = seq;
            f->end = 0;
        }
    } else if (!f || off > f->end) {
        return false;
    }
    if (off + flen > f->end)
        f->end = off + flen;
    return true;
}

/* Feeds one record as if it were a datagram of its own (records never span
 * datagrams, so this changes nothing for GnuTLS) and runs the handshake or
 * reads application data. */
static int feed_record(struct dk_gt_session *g, const uint8_t *rec, size_t len, dk_time_t now)
{
    struct dk_dtls_session *s = g->s;
    g->in = rec;
    g->in_len = len;
    g->in_used = false;
    int rc = 0;
    if (s->state == DK_DTLS_HANDSHAKING) {
        unsigned discarded = gnutls_record_get_discarded(g->tls);
        rc = step_handshake(g, now, STEP_INPUT);
        /* In DTLS an undecryptable record is dropped silently, so a wrong
         * PSK would only show as a timeout on both sides. An encrypted
         * handshake record (the peer's Finished) dropped after we took the
         * peer's ChangeCipherSpec failed authentication: end the handshake
         * with decrypt_error. One that arrives before its CCS (loss,
         * reordering) does not count: we still read in the clear then. */
        if (rc == 0 && s->state == DK_DTLS_HANDSHAKING && rec[0] == 22 && (rec[3] | rec[4]) &&
            gnutls_record_get_discarded(g->tls) != discarded && reading_encrypted(g))
            rc = fail(g, GNUTLS_E_DECRYPTION_FAILED);
    }
    if (rc == 0 && s->state == DK_DTLS_CONNECTED)
        rc = drain_records(g, now);
    g->in = NULL;
    g->in_len = 0;
    return rc;
}

static int gt_recv(struct dk_dtls_session *s, const uint8_t *dgram, size_t len, dk_time_t now)
{
    struct dk_gt_session *g = s->impl;
    size_t pos = 0;
    /* Whole records only: GnuTLS would keep a short tail (less than a record
     * header) and glue it to the next datagram, which then fails too; and an
     * empty read means end of stream to it. The rest of a datagram after a
     * malformed record is dropped (RFC 6347 §4.1.2.7). */
    while (len - pos >= 13) {
        if (s->state == DK_DTLS_CLOSED || s->state == DK_DTLS_FAILED)
            return DK_ECLOSED;
        const uint8_t *rec = dgram + pos;
        size_t rlen = 13 + ((size_t)rec[11] << 8 | rec[12]);
        if (rlen > len - pos)
            break;
        pos += rlen;
        if (rec[0] == 20 && !ccs_wanted(g))
            continue;
        if (rec[0] == 22 && (rec[3] | rec[4]) == 0 && !fragment_in_order(g, rec, rlen))
            continue;
        int rc = feed_record(g, rec, rlen, now);
        if (rc)
            return rc;
    }
    return s->state == DK_DTLS_CLOSED || s->state == DK_DTLS_FAILED ? DK_ECLOSED : 0;
}

static int gt_read(struct dk_dtls_session *s, uint8_t *buf, size_t cap)
{
    struct dk_gt_session *g = s->impl;
    struct dk_gt_buf *b = queue_pop(&g->rx);
    if (!b)
        return DK_EAGAIN;
    int rc = b->len <= cap ? (int)b->len : DK_ENOSPC;
    if (rc >= 0)
        memcpy(buf, b->data, b->len);
    buf_release(g, b);
    return rc;
}

static int gt_write(struct dk_dtls_session *s, const uint8_t *data, size_t len, dk_time_t now)
{
    (void)now;
    struct dk_gt_session *g = s->impl;
    if (len > gnutls_dtls_get_data_mtu(g->tls))
        return DK_ENOSPC;
    ssize_t n = gnutls_record_send(g->tls, data, len);
    if (g->oom) {
        g->oom = false;
        return DK_ENOMEM;
    }
    if (n == GNUTLS_E_LARGE_PACKET)
        return DK_ENOSPC;
    return n < 0 ? dk_gt_err((int)n) : 0;
}

static int gt_pop_tx(struct dk_dtls_session *s, uint8_t *buf, size_t cap)
{
    struct dk_gt_session *g = s->impl;
    struct dk_gt_buf *b = g->tx.head;
    if (!b)
        return 0;
    if (b->len > cap)
        return DK_ENOSPC; /* kept for a larger buffer */
    memcpy(buf, b->data, b->len);
    int n = (int)b->len;
    buf_release(g, queue_pop(&g->tx));
    return n;
}

static dk_time_t gt_deadline(const struct dk_dtls_session *s)
{
    const struct dk_gt_session *g = s->impl;
    if (s->state != DK_DTLS_HANDSHAKING)
        return DK_TIME_NEVER;
    return dk_time_min(g->rtx_deadline, g->hs_deadline);
}

static int gt_tick(struct dk_dtls_session *s, dk_time_t now)
{
    struct dk_gt_session *g = s->impl;
    if (s->state != DK_DTLS_HANDSHAKING)
        return 0;
    if (now >= g->hs_deadline) {
        s->state = DK_DTLS_FAILED;
        g->rtx_deadline = DK_TIME_NEVER;
        char who[DK_ADDR_STRLEN];
        dk_info(s->cfg->p.log, DK_GT_LOG, "handshake with %s timed out: %s", dk_gt_peer_str(g, who),
                dk_strerror(DK_ETIMEDOUT));
        return DK_ETIMEDOUT;
    }
    if (now < g->rtx_deadline)
        return 0;
    g->in = NULL;
    g->force_rtx = true;
    int rc = step_handshake(g, now, STEP_TIMER);
    g->force_rtx = false;
    return rc;
}

static int gt_close(struct dk_dtls_session *s, dk_time_t now)
{
    (void)now;
    struct dk_gt_session *g = s->impl;
    if (s->state == DK_DTLS_CONNECTED)
        gnutls_bye(g->tls, GNUTLS_SHUT_WR);
    else /* mid-handshake: a bare close_notify in the current epoch */
        gnutls_alert_send(g->tls, GNUTLS_AL_WARNING, GNUTLS_A_CLOSE_NOTIFY);
    s->state = DK_DTLS_CLOSED;
    g->rtx_deadline = DK_TIME_NEVER;
    if (g->oom) {
        g->oom = false;
        return DK_ENOMEM;
    }
    return 0;
}

static size_t gt_heap(const struct dk_dtls_session *s)
{
    const struct dk_gt_session *g = s->impl;
    return g ? g->heap : 0;
}

static const struct dk_dtls_backend gnutls_backend = {
    .name = "gnutls",
    .modes = DK_DTLS_MODE_PSK | DK_DTLS_MODE_CERT | DK_DTLS_MODE_RPK,
    .config_setup = dk_gt_config_setup,
    .config_free = dk_gt_config_free,
    .session_setup = gt_session_setup,
    .recv = gt_recv,
    .read = gt_read,
    .write = gt_write,
    .pop_tx = gt_pop_tx,
    .deadline = gt_deadline,
    .tick = gt_tick,
    .close = gt_close,
    .heap = gt_heap,
    .session_free = gt_session_free,
};

const struct dk_dtls_backend *dk_dtls_backend_gnutls(void)
{
    return &gnutls_backend;
}
