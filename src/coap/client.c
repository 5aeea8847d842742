/* Client role: requests with NSTART queuing, response matching by peer and
 * token, Block1 uploads and Block2 downloads (RFC 7959), and observations
 * with the freshness rule (RFC 7641 §3). */
#include "coap_int.h"

void dk_coap_client_req_init(struct dk_coap_client_req *r, uint8_t method, const char *path)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->path = path;
    r->content_format = -1;
    r->accept = -1;
}

static struct xchg *xchg_by_id(struct dk_coap_ep *ep, uint32_t id)
{
    struct dk_coap_link *l;
    LINK_FOREACH(l, &ep->xchgs)
    {
        struct xchg *x = CONTAINER_OF(l, struct xchg, elink);
        if (x->id == id)
            return x;
    }
    return NULL;
}

/* ---- NSTART slots ----------------------------------------------------------------- */

static void slot_take(struct xchg *x)
{
    if (!x->counted) {
        x->counted = true;
        x->peer->outstanding++;
    }
}

static void slot_release(struct xchg *x)
{
    if (x->counted) {
        x->counted = false;
        x->peer->outstanding--;
    }
}

/* ---- Building and sending the next request of an exchange ---------------------------- */

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* The request for x's current phase: the whole request, the Block1 block at
 * b1_off, the Block2 block b2_num, or the deregistration. */
static int xchg_send(struct dk_coap_ep *ep, struct xchg *x, dk_time_t now)
{
    struct dk_coap_msg m;
    int rc = dk_coap_msg_decode(&m, x->tmpl, x->tmpl_len);
    if (rc)
        return rc;
    m.type = x->non ? DK_COAP_NON : DK_COAP_CON;
    m.mid = ep_next_mid(ep);
    if (x->dereg && x->phase == PH_FIRST) {
        memcpy(x->tok, x->otok, x->tkl); /* RFC 7641 §3.6: the observation's token */
        dk_coap_msg_remove_opt(&m, DK_COAP_OPT_OBSERVE);
        rc = dk_coap_msg_add_uint(&m, DK_COAP_OPT_OBSERVE, 1);
    } else {
        rc = ep_new_token(ep, x->tok);
        x->tkl = ep->cfg->token_len;
    }
    if (!rc)
        rc = dk_coap_msg_set_token(&m, x->tok, x->tkl);
    if (rc)
        return rc;
    if (x->phase == PH_BLOCK2) {
        dk_coap_msg_remove_opt(&m, DK_COAP_OPT_OBSERVE); /* RFC 7959 §2.6 */
        struct dk_coap_block b = {x->b2_num, false, x->b2_szx};
        rc = dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK2, &b);
    } else if (x->body_len && !x->dereg) {
        x->b1_szx = ep_fit_szx(ep, &m, x->b1_szx);
        size_t bs = dk_coap_block_size(x->b1_szx);
        if (x->phase == PH_FIRST && x->body_len <= bs) {
            dk_coap_msg_set_payload(&m, x->body, x->body_len);
        } else {
            x->phase = PH_BLOCK1;
            size_t n = min_size(bs, x->body_len - x->b1_off);
            struct dk_coap_block b = {(uint32_t)(x->b1_off / bs), x->b1_off + n < x->body_len,
                                      x->b1_szx};
            rc = dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK1, &b);
            if (!rc && x->b1_off == 0)
                rc = dk_coap_msg_add_uint(&m, DK_COAP_OPT_SIZE1, (uint32_t)x->body_len);
            dk_coap_msg_set_payload(&m, x->body + x->b1_off, n);
            x->b1_len = n;
        }
    } else if (x->phase == PH_FIRST && ep->cfg->block_szx < DK_COAP_BLOCK_SZX_MAX &&
               (m.code == DK_COAP_GET || m.code == DK_COAP_FETCH)) {
        /* Ask for smaller blocks from the start (early negotiation, RFC 7959 §2.4). */
        struct dk_coap_block b = {0, false, x->b2_szx};
        rc = dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK2, &b);
    }
    if (rc)
        return rc;
    x->mid = m.mid;
    x->tx = NULL;
    rc = ep_send(ep, x->peer, &m, TX_XCHG, x, &x->tx, now);
    if (rc)
        return rc;
    if (x->phase == PH_FIRST && x->observe && !x->observing && !x->dereg)
        memcpy(x->otok, x->tok, x->tkl);
    x->state = X_WAIT;
    x->due = x->non ? now + ep->cfg->non_timeout_ms : DK_TIME_NEVER;
    peer_reschedule(ep, x->peer);
    return 0;
}

/* Sends x's next request now if it holds or can get an NSTART slot, else
 * queues it behind the peer's outstanding requests. */
static int xchg_schedule(struct dk_coap_ep *ep, struct xchg *x, dk_time_t now)
{
    if (!x->counted && x->peer->outstanding >= ep->cfg->nstart) {
        x->state = X_QUEUED;
        x->due = DK_TIME_NEVER;
        return 0;
    }
    slot_take(x);
    int rc = xchg_send(ep, x, now);
    if (rc)
        slot_release(x);
    return rc;
}

void cli_pump(struct dk_coap_ep *ep, struct dk_coap_peer *p, dk_time_t now)
{
    while (p->outstanding < ep->cfg->nstart) {
        struct xchg *next = NULL;
        struct dk_coap_link *l;
        LINK_FOREACH(l, &p->xchg)
        {
            struct xchg *x = CONTAINER_OF(l, struct xchg, plink);
            if (x->state == X_QUEUED && !x->fail) {
                next = x;
                break;
            }
        }
        if (!next)
            break;
        slot_take(next);
        int rc = xchg_send(ep, next, now);
        if (rc) {
            /* Reported from the next tick: never call back from here. */
            slot_release(next);
            next->fail = rc;
            next->due = now;
        }
    }
    peer_reschedule(ep, p);
}

/* ---- Ending and delivering --------------------------------------------------------------- */

static void xchg_detach(struct dk_coap_ep *ep, struct xchg *x)
{
    if (x->detached)
        return;
    if (x->tx) {
        tx_free(ep, x->tx);
        x->tx = NULL;
    }
    slot_release(x);
    link_del(&x->plink);
    link_del(&x->elink);
    ep->nxchg--;
    x->detached = true;
}

void xchg_destroy(struct dk_coap_ep *ep, struct xchg *x)
{
    xchg_detach(ep, x);
    ep_free(ep, x->tmpl);
    ep_free(ep, x->body);
    ep_free(ep, x->rx);
    ep_free(ep, x);
}

/* Calls back; a final result ends the exchange. The callback may cancel x
 * (freed here afterwards) or start other requests. */
static void deliver(struct dk_coap_ep *ep, struct xchg *x, const struct dk_coap_result *res,
                    bool final, dk_time_t now)
{
    struct dk_coap_peer *p = x->peer;
    if (final)
        xchg_detach(ep, x);
    x->in_cb = true;
    if (x->cb) {
        struct dk_coap_result r = *res;
        r.now = now; /* so the callback can start the next request */
        x->cb(ep, x->user, x->id, &r);
    }
    x->in_cb = false;
    if (final || x->cancelled)
        xchg_destroy(ep, x);
    cli_pump(ep, p, now);
}

void cli_fail(struct dk_coap_ep *ep, struct xchg *x, int status, dk_time_t now)
{
    struct dk_coap_result res = {.status = status};
    deliver(ep, x, &res, true, now);
}

bool cli_rst_non(struct dk_coap_ep *ep, struct dk_coap_peer *p, uint16_t mid, dk_time_t now)
{
    struct dk_coap_link *l;
    LINK_FOREACH(l, &p->xchg)
    {
        struct xchg *x = CONTAINER_OF(l, struct xchg, plink);
        if (x->non && x->state == X_WAIT && x->mid == mid) {
            cli_fail(ep, x, DK_ERESET, now);
            return true;
        }
    }
    return false;
}

/* Back to waiting for notifications after a fetch or registration. */
static void to_observing(struct xchg *x)
{
    x->state = X_OBSERVING;
    x->phase = PH_FIRST;
    x->due = DK_TIME_NEVER;
    x->b2_notif = false;
    slot_release(x);
}

/* ---- Block2 reassembly --------------------------------------------------------------------- */

static int rx_append(struct dk_coap_ep *ep, struct xchg *x, const struct dk_coap_msg *m,
                     const struct dk_coap_block *b)
{
    size_t bs = dk_coap_block_size(b->szx);
    if (b->num == 0)
        x->rx_len = 0;
    if ((size_t)b->num * bs != x->rx_len || (b->more && m->payload_len != bs))
        return DK_EPARSE;
    const struct dk_coap_opt *etag = dk_coap_msg_find(m, DK_COAP_OPT_ETAG);
    size_t elen = etag && etag->len <= sizeof x->etag ? etag->len : 0;
    if (b->num == 0) {
        x->etag_len = (uint8_t)elen;
        if (elen)
            memcpy(x->etag, dk_coap_opt_value(etag), elen);
    } else if (elen != x->etag_len ||
               (elen && memcmp(x->etag, dk_coap_opt_value(etag), elen) != 0)) {
        return DK_ESTATE; /* the representation changed under the transfer */
    }
    size_t need = x->rx_len + m->payload_len;
    if (need > ep->cfg->max_body)
        return DK_ELIMIT;
    if (need > x->rx_cap) {
        size_t cap = x->rx_cap * 2 > need ? x->rx_cap * 2 : need;
        uint32_t size2;
        if (b->num == 0 && dk_coap_msg_get_uint(m, DK_COAP_OPT_SIZE2, &size2) == 0 && size2 > cap)
            cap = size2;
        if (cap > ep->cfg->max_body)
            cap = ep->cfg->max_body;
        uint8_t *d = ep_alloc(ep, cap);
        if (!d)
            return DK_ENOMEM;
        if (x->rx_len)
            memcpy(d, x->rx, x->rx_len);
        ep_free(ep, x->rx);
        x->rx = d;
        x->rx_cap = cap;
    }
    if (m->payload_len)
        memcpy(x->rx + x->rx_len, m->payload, m->payload_len);
    x->rx_len = need;
    return 0;
}

/* After a block with M set: ask for the next one (possibly smaller). */
static int fetch_next_block(struct dk_coap_ep *ep, struct xchg *x, const struct dk_coap_block *b,
                            dk_time_t now)
{
    x->phase = PH_BLOCK2;
    x->b2_szx = b->szx < ep->cfg->block_szx ? b->szx : ep->cfg->block_szx;
    size_t next = x->rx_len / dk_coap_block_size(x->b2_szx);
    if (next > DK_COAP_BLOCK_NUM_MAX)
        return DK_ELIMIT;
    x->b2_num = (uint32_t)next;
    return xchg_schedule(ep, x, now);
}

/* ---- Responses ------------------------------------------------------------------------------ */

/* The complete response (payload reassembled) to x's request. */
static void complete(struct dk_coap_ep *ep, struct xchg *x, const struct dk_coap_msg *m,
                     const uint8_t *payload, size_t len, dk_time_t now)
{
    struct dk_coap_result res = {0, m, payload, len, false, false, x->b2_seq, now};
    if (x->b2_notif || x->reg_pending) {
        /* a notification, or the registration response, is complete */
        res.notification = x->b2_notif;
        res.observing = true;
        x->reg_pending = false;
        to_observing(x);
        deliver(ep, x, &res, false, now);
        return;
    }
    uint32_t seq;
    res.observe_seq = dk_coap_msg_get_uint(m, DK_COAP_OPT_OBSERVE, &seq) == 0 ? seq & 0xFFFFFF : 0;
    deliver(ep, x, &res, true, now);
}

/* A response to the request in flight. */
static void on_reply(struct dk_coap_ep *ep, struct xchg *x, const struct dk_coap_msg *m,
                     dk_time_t now)
{
    x->due = DK_TIME_NEVER;
    uint32_t seq;
    if (x->phase != PH_BLOCK2 && x->observe && !x->observing && !x->dereg &&
        DK_COAP_CODE_CLASS(m->code) == 2 &&
        dk_coap_msg_get_uint(m, DK_COAP_OPT_OBSERVE, &seq) == 0) {
        /* Registered (RFC 7641 §3.1). From now on notifications match, even
         * while the rest of a large registration response is fetched. */
        x->observing = true;
        x->reg_pending = true;
        x->b2_seq = x->v1 = seq & 0xFFFFFF;
        x->t1 = now;
    }
    int rc;
    if (x->phase == PH_BLOCK1 && m->code == DK_COAP_CONTINUE) {
        struct dk_coap_block b;
        if (dk_coap_msg_get_block(m, DK_COAP_OPT_BLOCK1, &b)) {
            cli_fail(ep, x, DK_EPARSE, now);
            return;
        }
        /* The server may ask for smaller blocks: continue after what it took. */
        size_t next = ((size_t)b.num + 1) * dk_coap_block_size(b.szx);
        if (next <= x->b1_off || next > x->b1_off + x->b1_len || next >= x->body_len) {
            cli_fail(ep, x, DK_EPARSE, now);
            return;
        }
        if (b.szx < x->b1_szx)
            x->b1_szx = b.szx;
        x->b1_off = next;
        if ((rc = xchg_schedule(ep, x, now)))
            cli_fail(ep, x, rc, now);
        return;
    }
    struct dk_coap_block b2;
    int b2rc = dk_coap_msg_get_block(m, DK_COAP_OPT_BLOCK2, &b2);
    if (b2rc == DK_EPARSE) {
        cli_fail(ep, x, DK_EPARSE, now);
        return;
    }
    bool blockwise = b2rc == 0 && (b2.more || x->phase == PH_BLOCK2 || b2.num > 0);
    if (DK_COAP_CODE_CLASS(m->code) != 2 || !blockwise) {
        if (x->phase == PH_BLOCK2 || x->b2_notif) {
            /* an error in the middle of a download ends it */
            cli_fail(ep, x, DK_COAP_CODE_CLASS(m->code) != 2 ? DK_ESTATE : DK_EPARSE, now);
            return;
        }
        complete(ep, x, m, m->payload, m->payload_len, now);
        return;
    }
    if ((rc = rx_append(ep, x, m, &b2))) {
        cli_fail(ep, x, rc, now);
        return;
    }
    if (b2.more) {
        if ((rc = fetch_next_block(ep, x, &b2, now)))
            cli_fail(ep, x, rc, now);
        return;
    }
    complete(ep, x, m, x->rx, x->rx_len, now);
}

/* RFC 7641 §3.4: is V2 (received at T2) newer than V1 (received at T1)? */
static bool fresh(uint32_t v1, dk_time_t t1, uint32_t v2, dk_time_t t2)
{
    const uint32_t half = 1u << 23;
    return (v1 < v2 && v2 - v1 < half) || (v1 > v2 && v1 - v2 > half) || t2 > t1 + 128000;
}

static void abandon_fetch(struct dk_coap_ep *ep, struct xchg *x)
{
    if (x->tx) {
        tx_free(ep, x->tx);
        x->tx = NULL;
    }
}

static void on_notification(struct dk_coap_ep *ep, struct xchg *x, const struct dk_coap_msg *m,
                            dk_time_t now)
{
    if (x->dereg)
        return; /* on the way out */
    uint32_t seq;
    bool has_obs = dk_coap_msg_get_uint(m, DK_COAP_OPT_OBSERVE, &seq) == 0;
    struct dk_coap_result res = {0, m, m->payload, m->payload_len, true, true, 0, now};
    if (DK_COAP_CODE_CLASS(m->code) != 2 || !has_obs) {
        res.observing = false; /* the server ended the observation (RFC 7641 §3.2) */
        deliver(ep, x, &res, true, now);
        return;
    }
    seq &= 0xFFFFFF;
    if (!fresh(x->v1, x->t1, seq, now)) {
        ep->stats.stale_notifications++;
        return;
    }
    x->v1 = seq;
    x->t1 = now;
    res.observe_seq = seq;
    struct dk_coap_block b2;
    if (x->state == X_WAIT || x->state == X_QUEUED) {
        /* A newer notification supersedes the representation being fetched
         * (a notification's, or the registration response's). */
        abandon_fetch(ep, x);
        to_observing(x);
        x->reg_pending = false;
    }
    if (dk_coap_msg_get_block(m, DK_COAP_OPT_BLOCK2, &b2) == 0 && b2.more && b2.num == 0) {
        int rc = rx_append(ep, x, m, &b2);
        if (!rc) {
            x->b2_notif = true;
            x->b2_seq = seq;
            rc = fetch_next_block(ep, x, &b2, now);
        }
        if (rc)
            cli_fail(ep, x, rc, now);
        return;
    }
    deliver(ep, x, &res, false, now);
}

void cli_ack(struct dk_coap_ep *ep, struct xchg *x, const struct dk_coap_msg *m, dk_time_t now)
{
    if (m && (m->tkl != x->tkl || memcmp(m->token, x->tok, x->tkl) != 0))
        m = NULL; /* a response for another token: take it as an empty ACK */
    if (!m) {
        /* A separate response follows; the request is no longer outstanding. */
        slot_release(x);
        x->due = now + ep->cfg->separate_timeout_ms;
        cli_pump(ep, x->peer, now);
        return;
    }
    uint16_t bad;
    if (dk_coap_msg_check_options(m, &bad) == DK_EBADOPT) {
        cli_fail(ep, x, DK_EBADOPT, now); /* RFC 7252 §5.4.1: rejected */
        return;
    }
    on_reply(ep, x, m, now);
}

/* A CON or NON response: a separate response or a notification. */
void cli_response(struct dk_coap_ep *ep, struct dk_coap_peer *p, const struct dk_coap_msg *m,
                  dk_time_t now)
{
    bool con = m->type == DK_COAP_CON;
    if (con) {
        struct dedup *d = dedup_find(p, m->mid, now);
        if (d) {
            ep->stats.duplicates++;
            if (d->len)
                ep_queue(ep, &p->addr, d->data, d->len);
            return;
        }
    }
    struct xchg *reply_to = NULL, *observed = NULL;
    struct dk_coap_link *l;
    LINK_FOREACH(l, &p->xchg)
    {
        struct xchg *x = CONTAINER_OF(l, struct xchg, plink);
        if (x->tkl != m->tkl)
            continue;
        if (x->state == X_WAIT && memcmp(x->tok, m->token, m->tkl) == 0) {
            reply_to = x;
            break;
        }
        if (x->observing && !observed && memcmp(x->otok, m->token, m->tkl) == 0)
            observed = x;
    }
    struct xchg *x = reply_to ? reply_to : observed;
    uint16_t bad;
    bool rejected = dk_coap_msg_check_options(m, &bad) == DK_EBADOPT;
    uint8_t reply[4] = {(uint8_t)(0x40 | (!x || rejected ? DK_COAP_RST : DK_COAP_ACK) << 4), 0,
                        (uint8_t)(m->mid >> 8), (uint8_t)m->mid};
    if (!x || rejected) {
        /* Unknown token (a cancelled request or observation) or an
         * unrecognized critical option: reject (RFC 7252 §4.2, §4.3). */
        ep->stats.rst_sent++;
        ep_queue(ep, &p->addr, reply, sizeof reply);
        if (con)
            dedup_add(ep, p, m->mid, true, reply, sizeof reply, now);
        if (x)
            cli_fail(ep, x, DK_EBADOPT, now);
        return;
    }
    if (con) {
        ep_queue(ep, &p->addr, reply, sizeof reply);
        dedup_add(ep, p, m->mid, true, reply, sizeof reply, now);
    }
    if (reply_to) {
        if (x->tx) {
            /* The response before the ACK of our CON: it acknowledges too. */
            tx_free(ep, x->tx);
            x->tx = NULL;
        }
        on_reply(ep, x, m, now);
    } else {
        on_notification(ep, x, m, now);
    }
}

/* ---- API ---------------------------------------------------------------------------------- */

/* The request without token, message id, payload or block options. */
static int build_template(struct dk_coap_ep *ep, const struct dk_coap_client_req *r, size_t *len)
{
    struct dk_coap_msg m;
    dk_coap_msg_init(&m, DK_COAP_CON, r->method, 0);
    int rc = 0;
    if (r->uri_host)
        rc = dk_coap_msg_add_str(&m, DK_COAP_OPT_URI_HOST, r->uri_host);
    if (!rc && r->uri_port)
        rc = dk_coap_msg_add_uint(&m, DK_COAP_OPT_URI_PORT, r->uri_port);
    if (!rc && r->path)
        rc = dk_coap_msg_add_path(&m, r->path);
    if (!rc && r->query)
        rc = dk_coap_msg_add_query(&m, r->query);
    if (!rc && r->content_format >= 0)
        rc = dk_coap_msg_add_uint(&m, DK_COAP_OPT_CONTENT_FORMAT, (uint32_t)r->content_format);
    if (!rc && r->accept >= 0)
        rc = dk_coap_msg_add_uint(&m, DK_COAP_OPT_ACCEPT, (uint32_t)r->accept);
    if (!rc && r->observe)
        rc = dk_coap_msg_add_uint(&m, DK_COAP_OPT_OBSERVE, 0);
    for (size_t i = 0; !rc && i < r->nopts; i++)
        rc =
            dk_coap_msg_add_opt(&m, r->opts[i].num, dk_coap_opt_value(&r->opts[i]), r->opts[i].len);
    if (rc)
        return rc == DK_ELIMIT ? DK_ENOSPC : rc;
    /* room left for a token, Observe, block and size options and 16 bytes */
    if (dk_coap_msg_encoded_len(&m) + DK_COAP_MAX_TOKEN + 4 + 5 + 6 + 1 + 16 > ep->cfg->max_message)
        return DK_ENOSPC;
    return dk_coap_msg_encode(&m, ep->enc, ep->cfg->max_message, len);
}

int dk_coap_ep_request(struct dk_coap_ep *ep, const struct dk_addr *peer,
                       const struct dk_coap_client_req *r, dk_time_t now, uint32_t *id)
{
    if (!ep->ready)
        return DK_ESTATE;
    if (!dk_coap_code_is_request(r->method) || (r->payload_len && !r->payload) ||
        (r->nopts && !r->opts) || r->content_format > 65535 || r->accept > 65535)
        return DK_EINVAL;
    if (ep->nxchg >= ep->cfg->max_exchanges || r->payload_len > ep->cfg->max_body)
        return DK_ELIMIT;
    size_t tlen;
    int rc = build_template(ep, r, &tlen);
    if (rc)
        return rc;
    struct dk_coap_peer *p = peer_get(ep, peer, true);
    if (!p)
        return ep->npeers >= ep->cfg->max_peers ? DK_ELIMIT : DK_ENOMEM;
    struct xchg *x = ep_alloc(ep, sizeof *x);
    if (!x) {
        peer_gc(ep, p);
        return DK_ENOMEM;
    }
    memset(x, 0, sizeof *x);
    x->tmpl = ep_alloc(ep, tlen);
    x->body = r->payload_len ? ep_alloc(ep, r->payload_len) : NULL;
    if (!x->tmpl || (r->payload_len && !x->body)) {
        ep_free(ep, x->tmpl);
        ep_free(ep, x->body);
        ep_free(ep, x);
        peer_gc(ep, p);
        return DK_ENOMEM;
    }
    memcpy(x->tmpl, ep->enc, tlen);
    x->tmpl_len = tlen;
    if (r->payload_len)
        memcpy(x->body, r->payload, r->payload_len);
    x->body_len = r->payload_len;
    x->peer = p;
    x->id = ep->next_id++;
    if (!ep->next_id)
        ep->next_id = 1;
    x->state = X_QUEUED;
    x->non = r->non;
    x->observe = r->observe;
    x->due = DK_TIME_NEVER;
    x->cb = r->cb;
    x->user = r->cb_user;
    x->b1_szx = ep->cfg->block_szx;
    x->b2_szx = ep->cfg->block_szx;
    link_add_tail(&p->xchg, &x->plink);
    link_add_tail(&ep->xchgs, &x->elink);
    ep->nxchg++;
    rc = xchg_schedule(ep, x, now);
    if (rc) {
        xchg_destroy(ep, x);
        peer_reschedule(ep, p);
        peer_gc(ep, p);
        return rc;
    }
    if (id)
        *id = x->id;
    return 0;
}

int dk_coap_ep_cancel(struct dk_coap_ep *ep, uint32_t id, dk_time_t now)
{
    if (!ep->ready)
        return DK_ESTATE;
    struct xchg *x = xchg_by_id(ep, id);
    if (!x)
        return DK_ENOTFOUND;
    struct dk_coap_peer *p = x->peer;
    if (x->in_cb) {
        x->cancelled = true; /* freed when its callback returns */
        xchg_detach(ep, x);
    } else {
        xchg_destroy(ep, x);
    }
    cli_pump(ep, p, now);
    peer_gc(ep, p);
    return 0;
}

int dk_coap_ep_observe_cancel(struct dk_coap_ep *ep, uint32_t id, dk_time_t now)
{
    if (!ep->ready)
        return DK_ESTATE;
    struct xchg *x = xchg_by_id(ep, id);
    if (!x)
        return DK_ENOTFOUND;
    if (!x->observing || x->dereg)
        return DK_ESTATE;
    abandon_fetch(ep, x);
    to_observing(x);
    x->dereg = true;
    x->observing = false;
    int rc = xchg_schedule(ep, x, now);
    if (rc) {
        x->dereg = false;
        x->observing = true;
    }
    peer_reschedule(ep, x->peer);
    return rc;
}
