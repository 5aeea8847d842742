/* CoAP endpoint: peers, timers, the outgoing queue, CON reliability,
 * deduplication and the dispatch of received datagrams (RFC 7252 §4). */
#include "coap_int.h"

#include <duckling/log.h>

#define MOD "coap"

void dk_coap_config_init(struct dk_coap_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->ack_timeout_ms = 2000;
    cfg->ack_random_factor_pm = 1500;
    cfg->max_retransmit = 4;
    cfg->nstart = 1;
    cfg->exchange_lifetime_ms = 247000;
    cfg->non_lifetime_ms = 145000;
    cfg->non_timeout_ms = 45000;
    cfg->separate_timeout_ms = 93000;
    cfg->block_timeout_ms = 247000;
    cfg->max_peers = 64;
    cfg->max_exchanges = 32;
    cfg->max_dedup = 128;
    cfg->max_observers = 16;
    cfg->max_block_rx = 4;
    cfg->max_tx_queue = 64;
    cfg->max_body = 65536;
    cfg->handler_buf = 4096;
    cfg->max_message = 1152;
    cfg->block_szx = 6;
    cfg->token_len = 8;
    cfg->notify_con_every = 16;
    cfg->notify_con_interval_ms = 24LL * 3600 * 1000;
}

/* ---- Memory: every block carries its size so dk_coap_ep_heap() is exact. ---- */

union alloc_hdr {
    size_t n;
    max_align_t align;
};

void *ep_alloc(struct dk_coap_ep *ep, size_t n)
{
    union alloc_hdr *h = ep->alloc->alloc(ep->alloc->user, sizeof *h + n);
    if (!h)
        return NULL;
    h->n = n;
    ep->heap_bytes += n;
    return h + 1;
}

void ep_free(struct dk_coap_ep *ep, void *p)
{
    if (!p)
        return;
    union alloc_hdr *h = (union alloc_hdr *)p - 1;
    ep->heap_bytes -= h->n;
    ep->alloc->free(ep->alloc->user, h);
}

/* ---- Set-up ------------------------------------------------------------------- */

void dk_coap_ep_init(struct dk_coap_ep *ep)
{
    memset(ep, 0, sizeof *ep);
    link_init(&ep->xchgs);
    link_init(&ep->observers);
    link_init(&ep->dedups);
}

static int check_config(const struct dk_coap_config *c)
{
    if (!c->rng || c->token_len < 1 || c->token_len > DK_COAP_MAX_TOKEN ||
        c->block_szx > DK_COAP_BLOCK_SZX_MAX || c->max_message < 64 || c->max_message > 65507)
        return DK_EINVAL;
    if (c->ack_timeout_ms < 1 || c->ack_random_factor_pm < 1000 || c->nstart < 1 ||
        c->max_retransmit > 20 || c->notify_con_every < 1)
        return DK_EINVAL;
    if (!c->max_peers || !c->max_exchanges || !c->max_dedup || !c->max_tx_queue || !c->max_body ||
        c->handler_buf < 64)
        return DK_EINVAL;
    return 0;
}

int dk_coap_ep_setup(struct dk_coap_ep *ep, const struct dk_coap_config *cfg)
{
    int rc = check_config(cfg);
    if (rc)
        return rc;
    ep->cfg = cfg;
    ep->alloc = cfg->alloc ? cfg->alloc : dk_alloc_default();
    size_t nb = 1;
    while (nb < cfg->max_peers && nb < 65536)
        nb <<= 1;
    ep->nbuckets = nb;
    ep->buckets = ep_alloc(ep, nb * sizeof *ep->buckets);
    if (ep->buckets)
        memset(ep->buckets, 0, nb * sizeof *ep->buckets);
    ep->heap = ep_alloc(ep, cfg->max_peers * sizeof *ep->heap);
    ep->scratch = ep_alloc(ep, cfg->handler_buf);
    ep->enc = ep_alloc(ep, cfg->max_message);
    if (!ep->buckets || !ep->heap || !ep->scratch || !ep->enc) {
        dk_coap_ep_free(ep);
        return DK_ENOMEM;
    }
    uint8_t r[14];
    rc = dk_rng_bytes(cfg->rng, r, sizeof r);
    if (rc) {
        dk_coap_ep_free(ep);
        return rc;
    }
    memcpy(&ep->hash_seed, r, 8);
    /* A random first message id (RFC 7252 §4.4) and observe sequence. */
    ep->next_mid = (uint16_t)(r[8] << 8 | r[9]);
    ep->obs_seq = ((uint32_t)r[10] << 16 | (uint32_t)r[11] << 8 | r[12]) & 0x7FFFFF;
    ep->next_id = 1;
    ep->ready = true;
    return 0;
}

void dk_coap_ep_set_handler(struct dk_coap_ep *ep, dk_coap_handler_fn *fn, void *user)
{
    ep->handler = fn;
    ep->handler_user = user;
}

void dk_coap_ep_set_event_cb(struct dk_coap_ep *ep, dk_coap_event_fn *fn, void *user)
{
    ep->on_event = fn;
    ep->event_user = user;
}

/* ---- Timer heap of peers, keyed by each peer's earliest deadline. ---------- */

static void heap_set(struct dk_coap_ep *ep, size_t i, struct dk_coap_peer *p)
{
    ep->heap[i] = p;
    p->heap_idx = i;
}

static void heap_fix(struct dk_coap_ep *ep, size_t i)
{
    struct dk_coap_peer *p = ep->heap[i];
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (ep->heap[up]->deadline <= p->deadline)
            break;
        heap_set(ep, i, ep->heap[up]);
        i = up;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        dk_time_t best = p->deadline;
        if (l < ep->heap_len && ep->heap[l]->deadline < best) {
            m = l;
            best = ep->heap[l]->deadline;
        }
        if (r < ep->heap_len && ep->heap[r]->deadline < best)
            m = r;
        if (m == i)
            break;
        heap_set(ep, i, ep->heap[m]);
        i = m;
    }
    heap_set(ep, i, p);
}

static void heap_remove(struct dk_coap_ep *ep, struct dk_coap_peer *p)
{
    size_t i = p->heap_idx, last = --ep->heap_len;
    if (i != last) {
        heap_set(ep, i, ep->heap[last]);
        heap_fix(ep, i);
    }
}

/* ---- Peers --------------------------------------------------------------------- */

static size_t bucket_of(const struct dk_coap_ep *ep, const struct dk_addr *a)
{
    return (size_t)dk_addr_hash(a, ep->hash_seed) & (ep->nbuckets - 1);
}

struct dk_coap_peer *peer_get(struct dk_coap_ep *ep, const struct dk_addr *a, bool create)
{
    size_t b = bucket_of(ep, a);
    for (struct dk_coap_peer *p = ep->buckets[b]; p; p = p->hnext)
        if (dk_addr_equal(&p->addr, a))
            return p;
    if (!create || ep->npeers >= ep->cfg->max_peers)
        return NULL;
    struct dk_coap_peer *p = ep_alloc(ep, sizeof *p);
    if (!p)
        return NULL;
    memset(p, 0, sizeof *p);
    p->addr = *a;
    p->deadline = DK_TIME_NEVER;
    link_init(&p->tx);
    link_init(&p->dedup_con);
    link_init(&p->dedup_non);
    link_init(&p->xchg);
    link_init(&p->obs);
    link_init(&p->brx);
    p->hnext = ep->buckets[b];
    ep->buckets[b] = p;
    p->heap_idx = ep->heap_len++;
    ep->heap[p->heap_idx] = p;
    heap_fix(ep, p->heap_idx);
    ep->npeers++;
    return p;
}

static dk_time_t dedup_head_expiry(const struct dk_coap_link *l)
{
    if (link_empty(l))
        return DK_TIME_NEVER;
    return CONTAINER_OF(l->next, struct dedup, link)->expires;
}

void peer_reschedule(struct dk_coap_ep *ep, struct dk_coap_peer *p)
{
    dk_time_t t = dk_time_min(dedup_head_expiry(&p->dedup_con), dedup_head_expiry(&p->dedup_non));
    struct dk_coap_link *l;
    LINK_FOREACH(l, &p->tx)
    t = dk_time_min(t, CONTAINER_OF(l, struct tx, link)->due);
    LINK_FOREACH(l, &p->xchg)
    t = dk_time_min(t, CONTAINER_OF(l, struct xchg, plink)->due);
    LINK_FOREACH(l, &p->brx)
    t = dk_time_min(t, CONTAINER_OF(l, struct brx, plink)->expires);
    p->deadline = t;
    heap_fix(ep, p->heap_idx);
}

void peer_gc(struct dk_coap_ep *ep, struct dk_coap_peer *p)
{
    if (p->busy || p->outstanding || !link_empty(&p->tx) || !link_empty(&p->dedup_con) ||
        !link_empty(&p->dedup_non) || !link_empty(&p->xchg) || !link_empty(&p->obs) ||
        !link_empty(&p->brx))
        return;
    struct dk_coap_peer **pp = &ep->buckets[bucket_of(ep, &p->addr)];
    while (*pp != p)
        pp = &(*pp)->hnext;
    *pp = p->hnext;
    heap_remove(ep, p);
    ep->npeers--;
    ep_free(ep, p);
}

/* ---- Identifiers ------------------------------------------------------------------ */

uint16_t ep_next_mid(struct dk_coap_ep *ep)
{
    return ep->next_mid++;
}

int ep_new_token(struct dk_coap_ep *ep, uint8_t *tok)
{
    return dk_rng_bytes(ep->cfg->rng, tok, ep->cfg->token_len);
}

/* ---- Sending ------------------------------------------------------------------------ */

void ep_queue(struct dk_coap_ep *ep, const struct dk_addr *to, const uint8_t *data, size_t len)
{
    struct dk_coap_txq *q = NULL;
    if (ep->txq_len < ep->cfg->max_tx_queue)
        q = ep_alloc(ep, sizeof *q + len);
    if (!q) {
        /* Behaves like a datagram lost on the network: CONs are retransmitted. */
        ep->stats.dropped++;
        return;
    }
    q->next = NULL;
    q->to = *to;
    q->len = len;
    memcpy(q->data, data, len);
    if (ep->txq_tail)
        ep->txq_tail->next = q;
    else
        ep->txq_head = q;
    ep->txq_tail = q;
    ep->txq_len++;
    ep->stats.tx++;
}

void ep_send_empty(struct dk_coap_ep *ep, const struct dk_addr *to, enum dk_coap_type type,
                   uint16_t mid)
{
    uint8_t d[4] = {(uint8_t)(0x40 | type << 4), 0, (uint8_t)(mid >> 8), (uint8_t)mid};
    if (type == DK_COAP_RST)
        ep->stats.rst_sent++;
    ep_queue(ep, to, d, sizeof d);
}

/* Initial timeout: uniformly random in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR]. */
static dk_time_t initial_timeout(struct dk_coap_ep *ep)
{
    const struct dk_coap_config *c = ep->cfg;
    uint64_t spread = (uint64_t)c->ack_timeout_ms * (c->ack_random_factor_pm - 1000) / 1000;
    if (spread >= UINT32_MAX)
        spread = UINT32_MAX - 1;
    return c->ack_timeout_ms + (dk_time_t)dk_rng_uniform(c->rng, (uint32_t)spread + 1);
}

int ep_send(struct dk_coap_ep *ep, struct dk_coap_peer *p, const struct dk_coap_msg *m,
            enum tx_kind kind, void *owner, struct tx **txo, dk_time_t now)
{
    size_t len;
    int rc = dk_coap_msg_encode(m, ep->enc, ep->cfg->max_message, &len);
    if (rc)
        return rc;
    if (m->type == DK_COAP_CON) {
        struct tx *t = ep_alloc(ep, sizeof *t + len);
        if (!t)
            return DK_ENOMEM;
        t->owner = owner;
        t->kind = (uint8_t)kind;
        t->retransmits = 0;
        t->mid = m->mid;
        t->timeout = initial_timeout(ep);
        t->due = now + t->timeout;
        t->len = len;
        memcpy(t->data, ep->enc, len);
        link_add_tail(&p->tx, &t->link);
        if (txo)
            *txo = t;
        peer_reschedule(ep, p);
    }
    ep_queue(ep, &p->addr, ep->enc, len);
    return 0;
}

void tx_free(struct dk_coap_ep *ep, struct tx *t)
{
    link_del(&t->link);
    ep_free(ep, t);
}

static struct tx *tx_find(struct dk_coap_peer *p, uint16_t mid)
{
    struct dk_coap_link *l;
    LINK_FOREACH(l, &p->tx)
    {
        struct tx *t = CONTAINER_OF(l, struct tx, link);
        if (t->mid == mid)
            return t;
    }
    return NULL;
}

void ep_event(struct dk_coap_ep *ep, enum dk_coap_event_type type, const struct dk_addr *peer,
              uint32_t observe_id, int reason, const uint8_t *token, uint8_t tkl)
{
    if (!ep->on_event)
        return;
    struct dk_coap_event ev = {type, peer, observe_id, reason, token, tkl};
    ep->on_event(ep, ep->event_user, &ev);
}

/* A CON of ours is finished: acknowledged (status 0, piggy: a piggybacked
 * response or NULL), reset, or given up. */
static void tx_finish(struct dk_coap_ep *ep, struct dk_coap_peer *p, struct tx *t, int status,
                      const struct dk_coap_msg *piggy, dk_time_t now)
{
    uint8_t kind = t->kind;
    void *owner = t->owner;
    uint8_t tkl = t->data[0] & 0x0f, tok[DK_COAP_MAX_TOKEN];
    memcpy(tok, t->data + 4, tkl);
    tx_free(ep, t);
    if (kind == TX_XCHG) {
        struct xchg *x = owner;
        x->tx = NULL;
        if (status)
            cli_fail(ep, x, status, now);
        else
            cli_ack(ep, x, piggy, now);
    } else if (kind == TX_OBS) {
        struct observer *o = owner;
        o->tx = NULL;
        obs_tx_done(ep, o, status);
    } else if (status) {
        ep_event(ep, DK_COAP_EV_RESPONSE_FAILED, &p->addr, 0, status, tok, tkl);
    }
}

/* ---- Deduplication ------------------------------------------------------------------ */

/* A record past its lifetime no longer counts, even before tick frees it. */
struct dedup *dedup_find(struct dk_coap_peer *p, uint16_t mid, dk_time_t now)
{
    struct dk_coap_link *heads[2] = {&p->dedup_con, &p->dedup_non}, *l;
    for (int i = 0; i < 2; i++) {
        LINK_FOREACH(l, heads[i])
        {
            struct dedup *d = CONTAINER_OF(l, struct dedup, link);
            if (d->mid == mid && d->expires > now)
                return d;
        }
    }
    return NULL;
}

static void dedup_free(struct dk_coap_ep *ep, struct dedup *d)
{
    link_del(&d->link);
    link_del(&d->all);
    ep->ndedup--;
    ep_free(ep, d);
}

void dedup_add(struct dk_coap_ep *ep, struct dk_coap_peer *p, uint16_t mid, bool con,
               const uint8_t *reply, size_t len, dk_time_t now)
{
    if (ep->ndedup >= ep->cfg->max_dedup) {
        struct dedup *old = CONTAINER_OF(ep->dedups.next, struct dedup, all);
        struct dk_coap_peer *op = old->peer;
        dedup_free(ep, old);
        ep->stats.dedup_evicted++;
        dk_debug(ep->cfg->log, MOD, "dedup table full (%zu): forgot the oldest message id",
                 ep->cfg->max_dedup);
        if (op != p) {
            peer_reschedule(ep, op);
            peer_gc(ep, op);
        }
    }
    if (len > UINT16_MAX)
        len = 0;
    struct dedup *d = ep_alloc(ep, sizeof *d + len);
    if (!d) {
        ep->stats.dropped++;
        return;
    }
    d->peer = p;
    d->mid = mid;
    d->len = (uint16_t)len;
    if (len)
        memcpy(d->data, reply, len);
    d->expires = now + (con ? ep->cfg->exchange_lifetime_ms : ep->cfg->non_lifetime_ms);
    link_add_tail(con ? &p->dedup_con : &p->dedup_non, &d->link);
    link_add_tail(&ep->dedups, &d->all);
    ep->ndedup++;
    peer_reschedule(ep, p);
}

/* ---- Receiving ------------------------------------------------------------------------ */

static void on_empty(struct dk_coap_ep *ep, struct dk_coap_peer *p, const struct dk_coap_msg *m,
                     dk_time_t now)
{
    struct tx *t = tx_find(p, m->mid);
    if (m->type == DK_COAP_RST) {
        ep->stats.rst_received++;
        if (t)
            tx_finish(ep, p, t, DK_ERESET, NULL, now);
        else if (!obs_rst_non(ep, p, m->mid))
            cli_rst_non(ep, p, m->mid, now);
        return;
    }
    if (t)
        tx_finish(ep, p, t, 0, NULL, now);
}

static void on_piggybacked(struct dk_coap_ep *ep, struct dk_coap_peer *p,
                           const struct dk_coap_msg *m, dk_time_t now)
{
    struct tx *t = tx_find(p, m->mid);
    if (!t) {
        ep->stats.duplicates++; /* a duplicate or late ACK */
        return;
    }
    tx_finish(ep, p, t, 0, t->kind == TX_XCHG ? m : NULL, now);
}

int dk_coap_ep_recv(struct dk_coap_ep *ep, const struct dk_addr *peer, const uint8_t *data,
                    size_t len, dk_time_t now)
{
    if (!ep->ready)
        return DK_ESTATE;
    ep->stats.rx++;
    struct dk_coap_msg m;
    int rc = dk_coap_msg_decode(&m, data, len);
    if (rc) {
        ep->stats.malformed++;
        char a[DK_ADDR_STRLEN];
        dk_debug(ep->cfg->log, MOD, "%s: dropped %zu-byte datagram: %s",
                 dk_addr_format(peer, a, sizeof a), len, dk_strerror(rc));
        /* A message format error in a CON is rejected with RST (§4.2). */
        if (rc != DK_EVERSION && len >= 4 && m.type == DK_COAP_CON)
            ep_send_empty(ep, peer, DK_COAP_RST, m.mid);
        return rc;
    }
    bool request = dk_coap_code_is_request(m.code), response = dk_coap_code_is_response(m.code);
    bool empty = m.code == DK_COAP_EMPTY;
    /* An ACK carries a response or nothing; a RST nothing; codes of classes
     * 1, 6 and 7 are reserved: all message format errors. */
    if ((!request && !response && !empty) || (m.type == DK_COAP_ACK && request) ||
        (m.type == DK_COAP_RST && !empty)) {
        ep->stats.malformed++;
        if (m.type == DK_COAP_CON)
            ep_send_empty(ep, peer, DK_COAP_RST, m.mid);
        return DK_EPARSE;
    }
    if (empty && m.type == DK_COAP_CON) {
        ep_send_empty(ep, peer, DK_COAP_RST, m.mid); /* "CoAP ping" (§4.3) */
        return 0;
    }
    if (empty && m.type == DK_COAP_NON)
        return 0;
    /* State is created only for requests and separate responses; ACK and
     * RST matter only to a peer we already talk to. */
    bool create = m.type == DK_COAP_CON || (m.type == DK_COAP_NON && request);
    struct dk_coap_peer *p = peer_get(ep, peer, create);
    if (!p) {
        if (!create) {
            /* A NON response (a notification after a cancel) nobody waits for. */
            if (response && m.type == DK_COAP_NON)
                ep_send_empty(ep, peer, DK_COAP_RST, m.mid);
            return 0;
        }
        ep->stats.dropped++;
        char a[DK_ADDR_STRLEN];
        dk_debug(ep->cfg->log, MOD, "%s: no room for another peer (%zu)",
                 dk_addr_format(peer, a, sizeof a), ep->npeers);
        return ep->npeers >= ep->cfg->max_peers ? DK_ELIMIT : DK_ENOMEM;
    }
    p->busy++;
    if (empty)
        on_empty(ep, p, &m, now);
    else if (request)
        srv_request(ep, p, &m, now);
    else if (m.type == DK_COAP_ACK)
        on_piggybacked(ep, p, &m, now);
    else
        cli_response(ep, p, &m, now);
    p->busy--;
    peer_reschedule(ep, p);
    peer_gc(ep, p);
    return 0;
}

/* ---- Timers ----------------------------------------------------------------------------- */

/* Retransmits, or gives up after MAX_RETRANSMIT retransmissions and one more
 * timeout (RFC 7252 §4.2). The schedule follows t->due, not `now`, so a late
 * tick does not shift later retransmissions. */
static void tx_expire(struct dk_coap_ep *ep, struct dk_coap_peer *p, struct tx *t, dk_time_t now)
{
    if (t->retransmits < ep->cfg->max_retransmit) {
        t->retransmits++;
        t->timeout *= 2;
        t->due += t->timeout;
        ep->stats.retransmissions++;
        ep_queue(ep, &p->addr, t->data, t->len);
        return;
    }
    ep->stats.timeouts++;
    char a[DK_ADDR_STRLEN];
    dk_debug(ep->cfg->log, MOD, "%s: no ACK for message %u after %u retransmissions",
             dk_addr_format(&p->addr, a, sizeof a), t->mid, t->retransmits);
    tx_finish(ep, p, t, DK_ETIMEDOUT, NULL, now);
}

/* Handles one expired item of p; false when none is left. */
static bool peer_expire_one(struct dk_coap_ep *ep, struct dk_coap_peer *p, dk_time_t now)
{
    struct dk_coap_link *l;
    LINK_FOREACH(l, &p->tx)
    {
        struct tx *t = CONTAINER_OF(l, struct tx, link);
        if (t->due <= now) {
            tx_expire(ep, p, t, now);
            return true;
        }
    }
    LINK_FOREACH(l, &p->xchg)
    {
        struct xchg *x = CONTAINER_OF(l, struct xchg, plink);
        if (x->due <= now) {
            x->due = DK_TIME_NEVER;
            if (!x->fail)
                ep->stats.timeouts++;
            cli_fail(ep, x, x->fail ? x->fail : DK_ETIMEDOUT, now);
            return true;
        }
    }
    struct dk_coap_link *heads[2] = {&p->dedup_con, &p->dedup_non};
    for (int i = 0; i < 2; i++) {
        if (dedup_head_expiry(heads[i]) <= now) {
            dedup_free(ep, CONTAINER_OF(heads[i]->next, struct dedup, link));
            return true;
        }
    }
    LINK_FOREACH(l, &p->brx)
    {
        struct brx *b = CONTAINER_OF(l, struct brx, plink);
        if (b->expires <= now) {
            brx_free(ep, b);
            return true;
        }
    }
    return false;
}

void dk_coap_ep_tick(struct dk_coap_ep *ep, dk_time_t now)
{
    if (!ep->ready)
        return;
    while (ep->heap_len && ep->heap[0]->deadline <= now) {
        struct dk_coap_peer *p = ep->heap[0];
        p->busy++;
        while (peer_expire_one(ep, p, now))
            ;
        p->busy--;
        peer_reschedule(ep, p);
        peer_gc(ep, p);
    }
}

dk_time_t dk_coap_ep_deadline(const struct dk_coap_ep *ep)
{
    return ep->heap_len ? ep->heap[0]->deadline : DK_TIME_NEVER;
}

int dk_coap_ep_pop_tx(struct dk_coap_ep *ep, struct dk_addr *to, uint8_t *buf, size_t cap)
{
    struct dk_coap_txq *q = ep->txq_head;
    if (!q)
        return 0;
    if (q->len > cap)
        return DK_ENOSPC;
    memcpy(buf, q->data, q->len);
    *to = q->to;
    int n = (int)q->len;
    ep->txq_head = q->next;
    if (!ep->txq_head)
        ep->txq_tail = NULL;
    ep->txq_len--;
    ep_free(ep, q);
    return n;
}

bool dk_coap_ep_want_write(const struct dk_coap_ep *ep)
{
    return ep->txq_head != NULL;
}

/* ---- Peer closed, teardown ------------------------------------------------------------ */

void dk_coap_ep_peer_closed(struct dk_coap_ep *ep, const struct dk_addr *peer, dk_time_t now)
{
    if (!ep->ready)
        return;
    struct dk_coap_peer *p = peer_get(ep, peer, false);
    if (!p)
        return;
    p->busy++;
    struct dk_coap_link *l;
    /* Only the exchanges that exist now: a callback may start new ones. */
    LINK_FOREACH(l, &p->xchg)
    CONTAINER_OF(l, struct xchg, plink)->fail = DK_ECLOSED;
    for (;;) {
        struct xchg *victim = NULL;
        LINK_FOREACH(l, &p->xchg)
        {
            struct xchg *x = CONTAINER_OF(l, struct xchg, plink);
            if (x->fail == DK_ECLOSED) {
                victim = x;
                break;
            }
        }
        if (!victim)
            break;
        cli_fail(ep, victim, DK_ECLOSED, now);
    }
    while (!link_empty(&p->obs))
        obs_remove(ep, CONTAINER_OF(p->obs.next, struct observer, plink), DK_ECLOSED, true);
    /* Separate responses in flight and memory of received messages go too. */
    for (l = p->tx.next; l != &p->tx;) {
        struct tx *t = CONTAINER_OF(l, struct tx, link);
        l = l->next;
        if (t->kind == TX_NONE)
            tx_free(ep, t);
    }
    while (!link_empty(&p->dedup_con))
        dedup_free(ep, CONTAINER_OF(p->dedup_con.next, struct dedup, link));
    while (!link_empty(&p->dedup_non))
        dedup_free(ep, CONTAINER_OF(p->dedup_non.next, struct dedup, link));
    while (!link_empty(&p->brx))
        brx_free(ep, CONTAINER_OF(p->brx.next, struct brx, plink));
    p->busy--;
    peer_reschedule(ep, p);
    peer_gc(ep, p);
}

static void peer_destroy(struct dk_coap_ep *ep, struct dk_coap_peer *p)
{
    while (!link_empty(&p->xchg))
        xchg_destroy(ep, CONTAINER_OF(p->xchg.next, struct xchg, plink));
    while (!link_empty(&p->obs))
        obs_remove(ep, CONTAINER_OF(p->obs.next, struct observer, plink), 0, false);
    while (!link_empty(&p->tx))
        tx_free(ep, CONTAINER_OF(p->tx.next, struct tx, link));
    while (!link_empty(&p->dedup_con))
        dedup_free(ep, CONTAINER_OF(p->dedup_con.next, struct dedup, link));
    while (!link_empty(&p->dedup_non))
        dedup_free(ep, CONTAINER_OF(p->dedup_non.next, struct dedup, link));
    while (!link_empty(&p->brx))
        brx_free(ep, CONTAINER_OF(p->brx.next, struct brx, plink));
    ep_free(ep, p);
}

void dk_coap_ep_free(struct dk_coap_ep *ep)
{
    if (ep->buckets) {
        for (size_t b = 0; b < ep->nbuckets; b++) {
            while (ep->buckets[b]) {
                struct dk_coap_peer *p = ep->buckets[b];
                ep->buckets[b] = p->hnext;
                peer_destroy(ep, p);
            }
        }
    }
    while (ep->txq_head) {
        struct dk_coap_txq *q = ep->txq_head;
        ep->txq_head = q->next;
        ep_free(ep, q);
    }
    if (ep->alloc) {
        ep_free(ep, ep->buckets);
        ep_free(ep, ep->heap);
        ep_free(ep, ep->scratch);
        ep_free(ep, ep->enc);
    }
    dk_coap_ep_init(ep);
}

/* ---- Introspection ---------------------------------------------------------------------- */

const struct dk_coap_stats *dk_coap_ep_stats(const struct dk_coap_ep *ep)
{
    return &ep->stats;
}

size_t dk_coap_ep_heap(const struct dk_coap_ep *ep)
{
    return ep->heap_bytes;
}

size_t dk_coap_ep_exchange_count(const struct dk_coap_ep *ep)
{
    return ep->nxchg;
}

size_t dk_coap_ep_peer_count(const struct dk_coap_ep *ep)
{
    return ep->npeers;
}

size_t dk_coap_ep_observer_count(const struct dk_coap_ep *ep)
{
    return ep->nobs;
}

/* Largest block size <= szx that lets m (options, no payload yet) plus a
 * block option, a size option and the payload fit in max_message. */
uint8_t ep_fit_szx(const struct dk_coap_ep *ep, const struct dk_coap_msg *m, uint8_t szx)
{
    size_t overhead = dk_coap_msg_encoded_len(m) + 1 /* marker */ + 5 /* Block */ + 6 /* Size */;
    size_t room = ep->cfg->max_message > overhead ? ep->cfg->max_message - overhead : 0;
    int s = dk_coap_block_szx_for(room, szx);
    return s < 0 ? 0 : (uint8_t)s;
}
