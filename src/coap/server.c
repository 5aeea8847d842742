/* Server role: the request handler, piggybacked, NON and separate responses
 * (RFC 7252 §5.2), Block1 reassembly and Block2 serving (RFC 7959 §2), and
 * observers with their notifications (RFC 7641 §4). */
#include "coap_int.h"

#include <stdio.h>

/* ---- Block2: slicing a representation -------------------------------------------- */

/* Cuts r's payload to the block asked for (want, or the first one when the
 * payload is larger than a block), adding Block2 and, on the first block,
 * Size2. Returns 0, DK_ERANGE (the block does not exist: answer 4.02), or
 * DK_ELIMIT (no room for the options). */
static int slice_block2(struct dk_coap_ep *ep, struct dk_coap_msg *r,
                        const struct dk_coap_block *want, uint8_t szx)
{
    if (dk_coap_msg_find(r, DK_COAP_OPT_BLOCK2))
        return 0; /* the handler did its own block-wise transfer */
    const uint8_t *body = r->payload;
    size_t len = r->payload_len;
    if (want && want->szx < szx)
        szx = want->szx;
    dk_coap_msg_set_payload(r, NULL, 0);
    szx = ep_fit_szx(ep, r, szx);
    dk_coap_msg_set_payload(r, body, len);
    size_t bs = dk_coap_block_size(szx);
    if (!want && len <= bs)
        return 0;
    size_t off = want ? (size_t)want->num * dk_coap_block_size(want->szx) : 0;
    if (off > len || (off == len && len > 0))
        return DK_ERANGE;
    size_t n = len - off < bs ? len - off : bs;
    struct dk_coap_block b = {(uint32_t)(off / bs), off + n < len, szx};
    int rc = dk_coap_msg_add_block(r, DK_COAP_OPT_BLOCK2, &b);
    if (!rc && b.num == 0 && b.more && !dk_coap_msg_find(r, DK_COAP_OPT_SIZE2))
        rc = dk_coap_msg_add_uint(r, DK_COAP_OPT_SIZE2, (uint32_t)len);
    if (rc)
        return DK_ELIMIT;
    dk_coap_msg_set_payload(r, n ? body + off : NULL, n);
    return 0;
}

/* ---- Block1: reassembly of request bodies ---------------------------------------- */

static bool is_uri_option(uint16_t num)
{
    return num == DK_COAP_OPT_URI_HOST || num == DK_COAP_OPT_URI_PORT ||
           num == DK_COAP_OPT_URI_PATH || num == DK_COAP_OPT_URI_QUERY;
}

/* A transfer is identified by peer, method and request URI (RFC 7959 §2.5):
 * the URI options serialized. Returns the length (written when <= cap). */
static size_t uri_key(const struct dk_coap_msg *m, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nopt; i++) {
        const struct dk_coap_opt *o = &m->opt[i];
        if (!is_uri_option(o->num))
            continue;
        if (n + 4 + o->len <= cap) {
            out[n] = (uint8_t)(o->num >> 8);
            out[n + 1] = (uint8_t)o->num;
            out[n + 2] = (uint8_t)(o->len >> 8);
            out[n + 3] = (uint8_t)o->len;
            memcpy(out + n + 4, dk_coap_opt_value(o), o->len);
        }
        n += 4 + o->len;
    }
    return n;
}

static struct brx *brx_find(struct dk_coap_peer *p, uint8_t method, const uint8_t *key,
                            size_t key_len)
{
    struct dk_coap_link *l;
    LINK_FOREACH(l, &p->brx)
    {
        struct brx *b = CONTAINER_OF(l, struct brx, plink);
        if (b->method == method && b->key_len == key_len && memcmp(b->key, key, key_len) == 0)
            return b;
    }
    return NULL;
}

void brx_free(struct dk_coap_ep *ep, struct brx *b)
{
    link_del(&b->plink);
    ep_free(ep, b->data);
    ep_free(ep, b);
    ep->nbrx--;
}

static int brx_append(struct dk_coap_ep *ep, struct brx *b, const uint8_t *data, size_t n)
{
    size_t need = b->len + n;
    if (need > ep->cfg->max_body)
        return DK_ELIMIT;
    if (need > b->cap) {
        size_t cap = b->cap * 2 > need ? b->cap * 2 : need;
        if (cap > ep->cfg->max_body)
            cap = ep->cfg->max_body;
        uint8_t *d = ep_alloc(ep, cap);
        if (!d)
            return DK_ENOMEM;
        if (b->len)
            memcpy(d, b->data, b->len);
        ep_free(ep, b->data);
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len = need;
    return 0;
}

static void answer_too_large(struct dk_coap_ep *ep, struct dk_coap_msg *r)
{
    r->code = DK_COAP_REQUEST_ENTITY_TOO_LARGE;
    dk_coap_msg_add_uint(r, DK_COAP_OPT_SIZE1, (uint32_t)ep->cfg->max_body);
}

/* Takes one Block1 block. Returns true when r holds the answer (2.31
 * Continue, 4.00, 4.08, 4.13, 5.03); false when the body is complete: in
 * (*done)->data, or in the message itself when *done is NULL. */
static bool block1_receive(struct dk_coap_ep *ep, struct dk_coap_peer *p,
                           const struct dk_coap_msg *m, const struct dk_coap_block *b1,
                           struct dk_coap_msg *r, struct brx **done, dk_time_t now)
{
    const struct dk_coap_config *c = ep->cfg;
    size_t bs = dk_coap_block_size(b1->szx);
    uint8_t szx = b1->szx < c->block_szx ? b1->szx : c->block_szx;
    size_t ours = dk_coap_block_size(szx);
    *done = NULL;
    if (m->payload_len > bs || (b1->more && m->payload_len != bs)) {
        r->code = DK_COAP_BAD_REQUEST; /* only the last block may be short */
        return true;
    }
    uint8_t key[256];
    size_t key_len = uri_key(m, key, sizeof key);
    if (key_len > sizeof key) {
        r->code = DK_COAP_REQUEST_ENTITY_TOO_LARGE;
        return true;
    }
    struct brx *b = brx_find(p, m->code, key, key_len);
    if (b1->num == 0) {
        if (b)
            brx_free(ep, b);
        b = NULL;
        uint32_t size1;
        if (dk_coap_msg_get_uint(m, DK_COAP_OPT_SIZE1, &size1) == 0 && size1 > c->max_body) {
            answer_too_large(ep, r);
            return true;
        }
        if (!b1->more && m->payload_len <= ours)
            return false; /* the whole body in one block */
        if (ep->nbrx >= c->max_block_rx || !(b = ep_alloc(ep, sizeof *b + key_len))) {
            r->code = DK_COAP_SERVICE_UNAVAILABLE;
            return true;
        }
        memset(b, 0, sizeof *b);
        b->method = m->code;
        b->key_len = key_len;
        memcpy(b->key, key, key_len);
        link_add_tail(&p->brx, &b->plink);
        ep->nbrx++;
    } else if (!b || b->len != (size_t)b1->num * bs) {
        r->code = DK_COAP_REQUEST_ENTITY_INCOMPLETE;
        return true;
    }
    /* A larger block than we want: keep only our block size of it, and the
     * client continues after it (late negotiation, RFC 7959 §2.3). */
    size_t take = bs > ours && m->payload_len > ours ? ours : m->payload_len;
    int rc = brx_append(ep, b, m->payload, take);
    if (rc) {
        brx_free(ep, b);
        if (rc == DK_ELIMIT)
            answer_too_large(ep, r);
        else
            r->code = DK_COAP_SERVICE_UNAVAILABLE;
        return true;
    }
    b->expires = now + c->block_timeout_ms;
    if (b1->more || take < m->payload_len) {
        struct dk_coap_block ack = {(uint32_t)(b->len / ours - 1), true, szx};
        r->code = DK_COAP_CONTINUE;
        dk_coap_msg_add_block(r, DK_COAP_OPT_BLOCK1, &ack);
        return true;
    }
    *done = b;
    return false;
}

/* ---- Observers ---------------------------------------------------------------------- */

static struct observer *obs_find(struct dk_coap_peer *p, const uint8_t *tok, uint8_t tkl)
{
    struct dk_coap_link *l;
    LINK_FOREACH(l, &p->obs)
    {
        struct observer *o = CONTAINER_OF(l, struct observer, plink);
        if (o->tkl == tkl && memcmp(o->token, tok, tkl) == 0)
            return o;
    }
    return NULL;
}

static struct observer *obs_by_id(struct dk_coap_ep *ep, uint32_t id)
{
    struct dk_coap_link *l;
    LINK_FOREACH(l, &ep->observers)
    {
        struct observer *o = CONTAINER_OF(l, struct observer, elink);
        if (o->id == id)
            return o;
    }
    return NULL;
}

static uint32_t next_id(struct dk_coap_ep *ep)
{
    uint32_t id = ep->next_id++;
    if (!ep->next_id)
        ep->next_id = 1;
    return id;
}

void obs_remove(struct dk_coap_ep *ep, struct observer *o, int reason, bool event)
{
    link_del(&o->plink);
    link_del(&o->elink);
    ep->nobs--;
    if (o->tx) {
        tx_free(ep, o->tx);
        o->tx = NULL;
    }
    if (event)
        ep_event(ep, DK_COAP_EV_OBSERVE_END, &o->peer->addr, o->id, reason, o->token, o->tkl);
    if (o->busy)
        o->dropped = true; /* freed by obs_notify() when the handler returns */
    else
        ep_free(ep, o);
}

/* The registration as it is kept: header, token, options; no payload, no
 * block or size options (a notification starts at block 0). */
static struct observer *obs_save(struct dk_coap_ep *ep, struct dk_coap_peer *p,
                                 const struct dk_coap_msg *m, uint32_t id, uint8_t szx,
                                 dk_time_t now)
{
    struct dk_coap_msg reg = *m;
    dk_coap_msg_remove_opt(&reg, DK_COAP_OPT_BLOCK1);
    dk_coap_msg_remove_opt(&reg, DK_COAP_OPT_BLOCK2);
    dk_coap_msg_remove_opt(&reg, DK_COAP_OPT_SIZE1);
    dk_coap_msg_remove_opt(&reg, DK_COAP_OPT_SIZE2);
    dk_coap_msg_set_payload(&reg, NULL, 0);
    size_t len = dk_coap_msg_encoded_len(&reg);
    struct observer *o = ep_alloc(ep, sizeof *o + len);
    if (!o)
        return NULL;
    memset(o, 0, sizeof *o);
    dk_coap_msg_encode(&reg, o->req, len, &o->req_len);
    o->peer = p;
    o->id = id;
    o->tkl = m->tkl;
    memcpy(o->token, m->token, m->tkl);
    o->szx = szx;
    o->last_con = now;
    link_add_tail(&p->obs, &o->plink);
    link_add_tail(&ep->observers, &o->elink);
    ep->nobs++;
    return o;
}

static uint32_t next_seq(struct dk_coap_ep *ep)
{
    ep->obs_seq = (ep->obs_seq + 1) & 0xFFFFFF;
    return ep->obs_seq;
}

void obs_tx_done(struct dk_coap_ep *ep, struct observer *o, int status)
{
    if (status)
        obs_remove(ep, o, status, true);
}

bool obs_rst_non(struct dk_coap_ep *ep, struct dk_coap_peer *p, uint16_t mid)
{
    struct dk_coap_link *l;
    LINK_FOREACH(l, &p->obs)
    {
        struct observer *o = CONTAINER_OF(l, struct observer, plink);
        if (o->has_non_mid && o->non_mid == mid) {
            obs_remove(ep, o, DK_ERESET, true);
            return true;
        }
    }
    return false;
}

static void call_handler(struct dk_coap_ep *ep, const struct dk_coap_req *req,
                         struct dk_coap_resp *resp)
{
    ep->in_handler++;
    if (ep->handler)
        ep->handler(ep, ep->handler_user, req, resp);
    ep->in_handler--;
}

static void resp_init(struct dk_coap_ep *ep, struct dk_coap_resp *resp, const struct dk_addr *peer,
                      const struct dk_coap_msg *m, uint8_t szx)
{
    memset(resp, 0, sizeof *resp);
    dk_coap_msg_init(&resp->msg, DK_COAP_ACK, DK_COAP_NOT_FOUND, 0);
    resp->buf = ep->scratch;
    resp->cap = ep->cfg->handler_buf;
    resp->deferred.peer = *peer;
    resp->deferred.tkl = m->tkl;
    memcpy(resp->deferred.token, m->token, m->tkl);
    resp->deferred.type = m->type == DK_COAP_CON ? DK_COAP_CON : DK_COAP_NON;
    resp->deferred.block_szx = szx;
}

/* A notification replacing an unacknowledged CON one takes over its
 * retransmission counter and timer (RFC 7641 §4.5.2); it goes out when the
 * old one would have been retransmitted. */
static int obs_replace_inflight(struct dk_coap_ep *ep, struct observer *o,
                                const struct dk_coap_msg *m)
{
    size_t len;
    int rc = dk_coap_msg_encode(m, ep->enc, ep->cfg->max_message, &len);
    if (rc)
        return rc;
    struct tx *old = o->tx, *t = ep_alloc(ep, sizeof *t + len);
    if (!t)
        return DK_ENOMEM;
    *t = *old;
    t->mid = m->mid;
    t->len = len;
    memcpy(t->data, ep->enc, len);
    link_add_tail(&old->link, &t->link); /* takes the old one's place */
    tx_free(ep, old);
    o->tx = t;
    return 0;
}

/* Builds and sends one notification for o. Returns 0, DK_ENOTFOUND (the
 * observer went away meanwhile), DK_ENOTSUP (the handler deferred), or a
 * sending error. */
static int obs_notify(struct dk_coap_ep *ep, struct observer *o, dk_time_t now)
{
    struct dk_coap_peer *p = o->peer;
    struct dk_coap_msg reg;
    if (dk_coap_msg_decode(&reg, o->req, o->req_len))
        return DK_EPARSE;
    struct dk_coap_req req = {&p->addr, &reg, NULL, 0, o->id, true, now};
    struct dk_coap_resp resp;
    resp_init(ep, &resp, &p->addr, &reg, o->szx);
    o->busy = true;
    call_handler(ep, &req, &resp);
    o->busy = false;
    o->pending = false; /* this notification carries the newest state already */
    if (o->dropped) {
        ep_free(ep, o);
        return DK_ENOTFOUND;
    }
    if (resp.defer)
        return DK_ENOTSUP;
    bool ok = DK_COAP_CODE_CLASS(resp.msg.code) == 2;
    o->since_con++;
    bool con = o->tx || o->since_con >= ep->cfg->notify_con_every ||
               now - o->last_con >= ep->cfg->notify_con_interval_ms;
    struct dk_coap_msg n = resp.msg;
    n.type = con ? DK_COAP_CON : DK_COAP_NON;
    n.mid = ep_next_mid(ep);
    dk_coap_msg_set_token(&n, o->token, o->tkl);
    dk_coap_msg_remove_opt(&n, DK_COAP_OPT_OBSERVE);
    int rc = ok ? dk_coap_msg_add_uint(&n, DK_COAP_OPT_OBSERVE, next_seq(ep)) : 0;
    if (!rc)
        rc = slice_block2(ep, &n, NULL, o->szx);
    if (!rc) {
        if (o->tx) {
            rc = obs_replace_inflight(ep, o, &n);
        } else {
            rc = ep_send(ep, p, &n, TX_OBS, o, &o->tx, now);
            if (!rc && con) {
                o->since_con = 0;
                o->last_con = now;
            } else if (!rc) {
                o->non_mid = n.mid;
                o->has_non_mid = true;
            }
        }
    }
    if (!ok) {
        /* A final notification (RFC 7641 §3.2): it is still retransmitted,
         * but nobody observes any more. */
        if (o->tx) {
            o->tx->kind = TX_NONE;
            o->tx->owner = NULL;
            o->tx = NULL;
        }
        obs_remove(ep, o, DK_ECLOSED, true);
    }
    return rc;
}

/* Notifications asked for from inside a handler are sent once it returns,
 * so they never overwrite the response being built. */
static void obs_flush_pending(struct dk_coap_ep *ep, dk_time_t now)
{
    for (;;) {
        struct observer *o = NULL;
        struct dk_coap_link *l;
        LINK_FOREACH(l, &ep->observers)
        {
            struct observer *c = CONTAINER_OF(l, struct observer, elink);
            if (c->pending) {
                o = c;
                break;
            }
        }
        if (!o)
            return;
        o->pending = false;
        struct dk_coap_peer *p = o->peer;
        p->busy++;
        obs_notify(ep, o, now);
        p->busy--;
        peer_reschedule(ep, p);
        peer_gc(ep, p);
    }
}

int dk_coap_ep_notify(struct dk_coap_ep *ep, const char *path, dk_time_t now)
{
    if (!ep->ready)
        return DK_ESTATE;
    unsigned gen = ++ep->notify_gen;
    int count = 0;
    for (;;) {
        struct observer *o = NULL;
        struct dk_coap_link *l;
        LINK_FOREACH(l, &ep->observers)
        {
            struct observer *c = CONTAINER_OF(l, struct observer, elink);
            struct dk_coap_msg reg;
            if (c->gen == gen || c->pending)
                continue;
            if (dk_coap_msg_decode(&reg, c->req, c->req_len) == 0 &&
                dk_coap_msg_path_is(&reg, path)) {
                o = c;
                break;
            }
        }
        if (!o)
            break;
        o->gen = gen;
        count++;
        if (ep->in_handler) {
            o->pending = true;
            continue;
        }
        struct dk_coap_peer *p = o->peer;
        p->busy++;
        obs_notify(ep, o, now);
        p->busy--;
        peer_reschedule(ep, p);
        peer_gc(ep, p);
    }
    if (!ep->in_handler)
        obs_flush_pending(ep, now);
    return count;
}

int dk_coap_ep_notify_id(struct dk_coap_ep *ep, uint32_t observe_id, dk_time_t now)
{
    if (!ep->ready)
        return DK_ESTATE;
    struct observer *o = obs_by_id(ep, observe_id);
    if (!o)
        return DK_ENOTFOUND;
    if (ep->in_handler) {
        o->pending = true;
        return 0;
    }
    struct dk_coap_peer *p = o->peer;
    p->busy++;
    int rc = obs_notify(ep, o, now);
    p->busy--;
    peer_reschedule(ep, p);
    peer_gc(ep, p);
    obs_flush_pending(ep, now);
    return rc == DK_ENOTFOUND ? 0 : rc;
}

int dk_coap_ep_observe_drop(struct dk_coap_ep *ep, uint32_t observe_id)
{
    if (!ep->ready)
        return DK_ESTATE;
    struct observer *o = obs_by_id(ep, observe_id);
    if (!o)
        return DK_ENOTFOUND;
    struct dk_coap_peer *p = o->peer;
    obs_remove(ep, o, 0, false);
    peer_reschedule(ep, p);
    peer_gc(ep, p);
    return 0;
}

/* ---- Requests ------------------------------------------------------------------------- */

/* Fills r (header already set) with the answer to m. Returns false when
 * nothing is to be sent now (a rejected NON, or a deferred NON). *done gets
 * a finished Block1 reassembly to free once r is encoded. */
static bool answer(struct dk_coap_ep *ep, struct dk_coap_peer *p, const struct dk_coap_msg *m,
                   struct dk_coap_msg *r, struct brx **done, dk_time_t now)
{
    const struct dk_coap_config *c = ep->cfg;
    bool con = m->type == DK_COAP_CON;
    uint16_t bad = 0;
    int rc = dk_coap_msg_check_options(m, &bad);
    if (rc == DK_EBADOPT) {
        if (!con)
            return false; /* RFC 7252 §5.4.1: a NON is rejected silently */
        r->code = DK_COAP_BAD_OPTION;
        int n = snprintf((char *)ep->scratch, c->handler_buf, "unrecognized option %u", bad);
        dk_coap_msg_set_payload(r, ep->scratch, n > 0 ? (size_t)n : 0);
        return true;
    }
    if (rc == DK_ENOTSUP) {
        r->code = DK_COAP_PROXYING_NOT_SUPPORTED;
        return true;
    }
    struct dk_coap_block b1, b2;
    int b1rc = dk_coap_msg_get_block(m, DK_COAP_OPT_BLOCK1, &b1);
    int b2rc = dk_coap_msg_get_block(m, DK_COAP_OPT_BLOCK2, &b2);
    if (b1rc == DK_EPARSE || b2rc == DK_EPARSE) {
        r->code = DK_COAP_BAD_REQUEST; /* SZX 7 */
        return true;
    }
    const uint8_t *body = m->payload;
    size_t body_len = m->payload_len;
    if (b1rc == 0) {
        if (block1_receive(ep, p, m, &b1, r, done, now))
            return true;
        if (*done) {
            body = (*done)->data;
            body_len = (*done)->len;
        }
    }
    /* Observe (RFC 7641 §2): 0 registers, 1 deregisters. */
    uint32_t obsv = 2;
    bool observable = m->code == DK_COAP_GET || m->code == DK_COAP_FETCH;
    if (!observable || dk_coap_msg_get_uint(m, DK_COAP_OPT_OBSERVE, &obsv))
        obsv = 2;
    struct observer *o = obs_find(p, m->token, m->tkl);
    if (obsv == 1 && o)
        obs_remove(ep, o, DK_ECANCELED, true);
    uint32_t oid = 0;
    if (obsv == 0)
        oid = o ? o->id : next_id(ep);

    uint8_t szx = b2rc == 0 && b2.szx < c->block_szx ? b2.szx : c->block_szx;
    struct dk_coap_req req = {&p->addr, m, body, body_len, oid, false, now};
    struct dk_coap_resp resp;
    resp_init(ep, &resp, &p->addr, m, szx);
    call_handler(ep, &req, &resp);
    if (resp.defer) {
        if (!con)
            return false;
        dk_coap_msg_init(r, DK_COAP_ACK, DK_COAP_EMPTY, m->mid); /* separate response follows */
        return true;
    }
    struct dk_coap_msg out = resp.msg;
    out.type = r->type;
    out.mid = r->mid;
    dk_coap_msg_set_token(&out, m->token, m->tkl);
    dk_coap_msg_remove_opt(&out, DK_COAP_OPT_OBSERVE);
    rc = 0;
    if (b1rc == 0 && !dk_coap_msg_find(&out, DK_COAP_OPT_BLOCK1)) {
        struct dk_coap_block echo = {b1.num, false, b1.szx};
        rc = dk_coap_msg_add_block(&out, DK_COAP_OPT_BLOCK1, &echo);
    }
    /* The handler may have changed the observers: look again. */
    o = obsv == 0 ? obs_find(p, m->token, m->tkl) : NULL;
    if (oid && resp.observe && DK_COAP_CODE_CLASS(out.code) == 2) {
        if (o) /* a re-registration with the same token replaces the entry (§4.1) */
            obs_remove(ep, o, 0, false);
        o = ep->nobs < c->max_observers ? obs_save(ep, p, m, oid, szx, now) : NULL;
        if (o && !rc)
            rc = dk_coap_msg_add_uint(&out, DK_COAP_OPT_OBSERVE, next_seq(ep));
    } else if (o) {
        obs_remove(ep, o, DK_ECANCELED, true);
    }
    if (!rc)
        rc = slice_block2(ep, &out, b2rc == 0 ? &b2 : NULL, szx);
    if (rc == DK_ERANGE) {
        dk_coap_msg_init(&out, r->type, DK_COAP_BAD_OPTION, r->mid);
        dk_coap_msg_set_token(&out, m->token, m->tkl);
    } else if (rc) {
        dk_coap_msg_init(&out, r->type, DK_COAP_INTERNAL_SERVER_ERROR, r->mid);
        dk_coap_msg_set_token(&out, m->token, m->tkl);
    }
    *r = out;
    return true;
}

void srv_request(struct dk_coap_ep *ep, struct dk_coap_peer *p, const struct dk_coap_msg *m,
                 dk_time_t now)
{
    bool con = m->type == DK_COAP_CON;
    struct dedup *d = dedup_find(p, m->mid, now);
    if (d) {
        /* The same reply again for a duplicate CON; a duplicate NON is ignored. */
        ep->stats.duplicates++;
        if (con && d->len)
            ep_queue(ep, &p->addr, d->data, d->len);
        return;
    }
    struct dk_coap_msg r;
    dk_coap_msg_init(&r, con ? DK_COAP_ACK : DK_COAP_NON, DK_COAP_INTERNAL_SERVER_ERROR,
                     con ? m->mid : ep_next_mid(ep));
    dk_coap_msg_set_token(&r, m->token, m->tkl);
    struct brx *done = NULL;
    bool reply = answer(ep, p, m, &r, &done, now);
    size_t len = 0;
    if (reply && dk_coap_msg_encode(&r, ep->enc, ep->cfg->max_message, &len) != 0) {
        dk_coap_msg_init(&r, r.type, DK_COAP_INTERNAL_SERVER_ERROR, r.mid);
        dk_coap_msg_set_token(&r, m->token, m->tkl);
        dk_coap_msg_encode(&r, ep->enc, ep->cfg->max_message, &len);
    }
    if (done)
        brx_free(ep, done);
    if (reply)
        ep_queue(ep, &p->addr, ep->enc, len);
    dedup_add(ep, p, m->mid, con, ep->enc, con ? len : 0, now);
    if (!ep->in_handler)
        obs_flush_pending(ep, now);
}

int dk_coap_ep_respond(struct dk_coap_ep *ep, const struct dk_coap_deferred *d,
                       const struct dk_coap_msg *resp, dk_time_t now)
{
    if (!ep->ready)
        return DK_ESTATE;
    if (d->tkl > DK_COAP_MAX_TOKEN || d->block_szx > DK_COAP_BLOCK_SZX_MAX)
        return DK_EINVAL;
    struct dk_coap_peer *p = peer_get(ep, &d->peer, true);
    if (!p)
        return ep->npeers >= ep->cfg->max_peers ? DK_ELIMIT : DK_ENOMEM;
    struct dk_coap_msg out = *resp;
    out.type = d->type == DK_COAP_CON ? DK_COAP_CON : DK_COAP_NON;
    out.mid = ep_next_mid(ep);
    dk_coap_msg_set_token(&out, d->token, d->tkl);
    int rc = slice_block2(ep, &out, NULL, d->block_szx);
    if (!rc)
        rc = ep_send(ep, p, &out, TX_NONE, NULL, NULL, now);
    peer_reschedule(ep, p);
    peer_gc(ep, p);
    return rc == DK_ERANGE ? DK_EINVAL : rc;
}

/* ---- Router ---------------------------------------------------------------------------- */

/* Segment-wise match of Uri-Path against a pattern; a last segment "*"
 * matches any rest, including none. */
static bool path_matches(const struct dk_coap_msg *m, const char *pat)
{
    if (*pat == '/')
        pat++;
    const struct dk_coap_opt *o = dk_coap_msg_find(m, DK_COAP_OPT_URI_PATH);
    while (*pat) {
        const char *end = strchr(pat, '/');
        size_t n = end ? (size_t)(end - pat) : strlen(pat);
        if (n == 1 && pat[0] == '*' && !end)
            return true;
        if (!o || o->len != n || memcmp(dk_coap_opt_value(o), pat, n) != 0)
            return false;
        o = dk_coap_msg_find_next(m, o);
        if (!end)
            break;
        pat = end + 1;
    }
    return o == NULL;
}

void dk_coap_router_handler(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                            struct dk_coap_resp *resp)
{
    const struct dk_coap_router *rt = user;
    for (size_t i = 0; i < rt->n; i++) {
        const struct dk_coap_resource *res = &rt->res[i];
        if (!path_matches(req->msg, res->path))
            continue;
        if (res->methods && !(res->methods & DK_COAP_METHOD_BIT(req->msg->code))) {
            resp->msg.code = DK_COAP_METHOD_NOT_ALLOWED;
            return;
        }
        res->fn(ep, res->user, req, resp);
        return;
    }
    resp->msg.code = DK_COAP_NOT_FOUND;
}
