/* LwM2M Server engine: registrations (hash tables by endpoint and location
 * id, expiry heap) and Device Management operations over caller-owned CoAP
 * endpoints. See include/duckling/lwm2m_server.h for the behaviour. */
#include <duckling/lwm2m_server.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <duckling/buf.h>
#include <duckling/err.h>
#include <duckling/mem.h>

#define MOD "server"
#define ALT_ROOT_MAX 32
#define HTAB_MIN 64

/* ---- Types ------------------------------------------------------------------ */

struct dk_server_reg {
    void *next_ep, *next_id; /* hash chains (void * so the tables stay generic) */
    uint64_t hash;           /* of ep */
    uint32_t id;             /* location id */
    size_t heap_idx;
    dk_time_t expires;
    uint32_t lifetime_s;
    struct dk_addr peer;
    struct dk_server_opx *ops;
    uint16_t nops;
    uint8_t coap_idx;
    uint8_t ver_major, ver_minor;
    bool queue;
    char binding[8];
    char *blob; /* links, NUL, alternate root path, NUL */
    uint16_t links_len;
    uint8_t alt_len;
    uint8_t ep_len;
    char ep[];
};

struct dk_server_opx {
    void *next_id;                 /* ops hash chain */
    char ep[DK_SERVER_EP_MAX + 1]; /* for results after the registration ended */
    struct dk_server_opx *next_reg;
    struct dk_server *srv;
    struct dk_server_reg *reg; /* NULL once the registration is gone */
    struct dk_coap_ep *coap;
    uint32_t id, xid;
    enum dk_server_op_kind kind;
    struct dk_lwm2m_path path;
    dk_server_result_fn *cb;
    void *cb_user;
    bool observing, busy, dead, in_hash;
};

/* ---- Names ---------------------------------------------------------------------- */

const char *dk_server_op_name(enum dk_server_op_kind k)
{
    switch (k) {
    case DK_SERVER_READ:
        return "read";
    case DK_SERVER_DISCOVER:
        return "discover";
    case DK_SERVER_WRITE:
        return "write";
    case DK_SERVER_WRITE_PARTIAL:
        return "write-partial";
    case DK_SERVER_WRITE_ATTRS:
        return "write-attributes";
    case DK_SERVER_EXECUTE:
        return "execute";
    case DK_SERVER_CREATE:
        return "create";
    case DK_SERVER_DELETE:
        return "delete";
    case DK_SERVER_OBSERVE:
        return "observe";
    }
    return "?";
}

void dk_server_op_init(struct dk_server_op *op, enum dk_server_op_kind kind,
                       const struct dk_lwm2m_path *path)
{
    memset(op, 0, sizeof *op);
    op->kind = kind;
    if (path)
        op->path = *path;
    op->accept = -1;
    op->format = -1;
}

/* ---- Hashing -------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t hash_str(uint64_t seed, const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return mix64(h);
}

static uint64_t hash_id(uint64_t seed, uint32_t id)
{
    return mix64(seed ^ ((uint64_t)id * 0x9e3779b97f4a7c15ull));
}

typedef uint64_t node_hash_fn(const struct dk_server *s, const void *node);

static uint64_t reg_ep_hash(const struct dk_server *s, const void *n)
{
    return ((const struct dk_server_reg *)n)->hash;
}

static uint64_t reg_id_hash(const struct dk_server *s, const void *n)
{
    return hash_id(s->seed, ((const struct dk_server_reg *)n)->id);
}

static uint64_t op_id_hash(const struct dk_server *s, const void *n)
{
    return hash_id(s->seed ^ 0x5555, ((const struct dk_server_opx *)n)->id);
}

static void **next_of(void *node, size_t off)
{
    return (void **)((char *)node + off);
}

static int htab_resize(struct dk_server *s, struct dk_server_htab *t, size_t off, node_hash_fn *h,
                       size_t n)
{
    void **nb = dk_alloc_zeroed(s->alloc, n * sizeof *nb);
    if (!nb)
        return DK_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        void *node = t->b[i];
        while (node) {
            void *nx = *next_of(node, off);
            size_t j = (size_t)(h(s, node) & (n - 1));
            *next_of(node, off) = nb[j];
            nb[j] = node;
            node = nx;
        }
    }
    dk_alloc_release(s->alloc, t->b);
    t->b = nb;
    t->n = n;
    return 0;
}

/* Inserts at the head of its chain; grows the table at load factor 1 (a
 * failed grow leaves longer chains, never an error). */
static void htab_insert(struct dk_server *s, struct dk_server_htab *t, void *node, size_t off,
                        node_hash_fn *h)
{
    if (t->count + 1 > t->n && t->n < ((size_t)1 << 40))
        htab_resize(s, t, off, h, t->n * 2);
    size_t j = (size_t)(h(s, node) & (t->n - 1));
    *next_of(node, off) = t->b[j];
    t->b[j] = node;
    t->count++;
}

static void htab_remove(struct dk_server *s, struct dk_server_htab *t, void *node, size_t off,
                        node_hash_fn *h)
{
    size_t j = (size_t)(h(s, node) & (t->n - 1));
    for (void **pp = &t->b[j]; *pp; pp = next_of(*pp, off))
        if (*pp == node) {
            *pp = *next_of(node, off);
            *next_of(node, off) = NULL;
            t->count--;
            return;
        }
}

#define REG_EP offsetof(struct dk_server_reg, next_ep)
#define REG_ID offsetof(struct dk_server_reg, next_id)
#define OP_ID offsetof(struct dk_server_opx, next_id)

static struct dk_server_reg *find_ep(const struct dk_server *s, const char *ep, size_t n)
{
    if (!s->by_ep.n)
        return NULL;
    uint64_t h = hash_str(s->seed, ep, n);
    for (struct dk_server_reg *r = s->by_ep.b[h & (s->by_ep.n - 1)]; r; r = r->next_ep)
        if (r->hash == h && r->ep_len == n && memcmp(r->ep, ep, n) == 0)
            return r;
    return NULL;
}

static struct dk_server_reg *find_id(const struct dk_server *s, uint32_t id)
{
    if (!s->by_id.n)
        return NULL;
    uint64_t h = hash_id(s->seed, id);
    for (struct dk_server_reg *r = s->by_id.b[h & (s->by_id.n - 1)]; r; r = r->next_id)
        if (r->id == id)
            return r;
    return NULL;
}

static struct dk_server_opx *find_op(const struct dk_server *s, uint32_t id)
{
    if (!s->ops.n)
        return NULL;
    uint64_t h = hash_id(s->seed ^ 0x5555, id);
    for (struct dk_server_opx *o = s->ops.b[h & (s->ops.n - 1)]; o; o = o->next_id)
        if (o->id == id)
            return o;
    return NULL;
}

/* ---- Expiry heap ------------------------------------------------------------------ */

static void heap_swap(struct dk_server *s, size_t a, size_t b)
{
    struct dk_server_reg *t = s->heap[a];
    s->heap[a] = s->heap[b];
    s->heap[b] = t;
    s->heap[a]->heap_idx = a;
    s->heap[b]->heap_idx = b;
}

static void heap_up(struct dk_server *s, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (s->heap[p]->expires <= s->heap[i]->expires)
            break;
        heap_swap(s, i, p);
        i = p;
    }
}

static void heap_down(struct dk_server *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->heap_len && s->heap[l]->expires < s->heap[m]->expires)
            m = l;
        if (r < s->heap_len && s->heap[r]->expires < s->heap[m]->expires)
            m = r;
        if (m == i)
            return;
        heap_swap(s, i, m);
        i = m;
    }
}

static int heap_push(struct dk_server *s, struct dk_server_reg *r)
{
    if (s->heap_len == s->heap_cap) {
        size_t n = s->heap_cap ? s->heap_cap * 2 : 64;
        struct dk_server_reg **nh = s->alloc->alloc(s->alloc->user, n * sizeof *nh);
        if (!nh)
            return DK_ENOMEM;
        if (s->heap_len)
            memcpy(nh, s->heap, s->heap_len * sizeof *nh);
        dk_alloc_release(s->alloc, s->heap);
        s->heap = nh;
        s->heap_cap = n;
    }
    r->heap_idx = s->heap_len;
    s->heap[s->heap_len++] = r;
    heap_up(s, r->heap_idx);
    return 0;
}

static void heap_remove(struct dk_server *s, struct dk_server_reg *r)
{
    size_t i = r->heap_idx;
    size_t last = --s->heap_len;
    if (i != last) {
        heap_swap(s, i, last);
        heap_up(s, i);
        heap_down(s, i);
    }
}

static void heap_fix(struct dk_server *s, struct dk_server_reg *r)
{
    heap_up(s, r->heap_idx);
    heap_down(s, r->heap_idx);
}

/* ---- Helpers ------------------------------------------------------------------------ */

static void audit(struct dk_server *s, const char *ep, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void audit(struct dk_server *s, const char *ep, const char *what, const char *fmt, ...)
{
    char detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    dk_info(s->cfg->log, MOD, "%s %s: %s", what, ep ? ep : "", detail);
    if (s->cfg->cbs.audit)
        s->cfg->cbs.audit(s->cfg->cbs.user, ep ? ep : "", what, detail);
}

static void emit(struct dk_server *s, const struct dk_server_event *ev)
{
    if (s->cfg->cbs.event)
        s->cfg->cbs.event(s->cfg->cbs.user, ev);
}

static const char *peer_str(const struct dk_addr *a, char *buf)
{
    if (!a || !a->len)
        return "-";
    return dk_addr_format(a, buf, DK_ADDR_STRLEN);
}

static bool ep_valid(const uint8_t *s, size_t n)
{
    if (n == 0 || n > DK_SERVER_EP_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static void reg_fill(const struct dk_server *s, const struct dk_server_reg *r,
                     struct dk_server_reg_info *o, dk_time_t now)
{
    memset(o, 0, sizeof *o);
    o->ep = r->ep;
    snprintf(o->location, sizeof o->location, "/rd/%08x", (unsigned)r->id);
    o->lifetime_s = r->lifetime_s;
    snprintf(o->binding, sizeof o->binding, "%s", r->binding);
    snprintf(o->version, sizeof o->version, "%u.%u", r->ver_major, r->ver_minor);
    o->queue_mode = r->queue;
    o->links = r->blob ? r->blob : "";
    o->links_len = r->links_len;
    o->peer = &r->peer;
    o->coap = s->coap[r->coap_idx];
    o->remaining_ms = r->expires - now;
}

static int coap_index(const struct dk_server *s, const struct dk_coap_ep *coap)
{
    for (size_t i = 0; i < s->ncoap; i++)
        if (s->coap[i] == coap)
            return (int)i;
    return -1;
}

/* ---- Setup -------------------------------------------------------------------------- */

void dk_server_config_init(struct dk_server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->default_lifetime_s = 86400;
    cfg->min_lifetime_s = 1;
    cfg->grace_ms = 15000;
    cfg->max_registrations = 100000;
    cfg->max_links = 2048;
    cfg->max_ops = 65536;
    cfg->max_ops_per_reg = 32;
    cfg->max_records = 256;
    cfg->max_payload = 16384;
    cfg->scratch = 8192;
}

void dk_server_init(struct dk_server *s)
{
    memset(s, 0, sizeof *s);
}

int dk_server_setup(struct dk_server *s, const struct dk_server_config *cfg)
{
    if (!cfg || !cfg->rng || !cfg->cbs.authorize || !cfg->max_registrations || !cfg->max_ops ||
        !cfg->max_ops_per_reg || cfg->max_ops_per_reg > 65535 || !cfg->max_records ||
        !cfg->max_payload || !cfg->min_lifetime_s || cfg->max_links > 65535 ||
        (cfg->max_lifetime_s && cfg->max_lifetime_s < cfg->min_lifetime_s) || cfg->grace_ms < 0)
        return DK_EINVAL;
    dk_server_free(s);
    s->cfg = cfg;
    s->alloc = cfg->alloc ? cfg->alloc : dk_alloc_default();
    if (dk_rng_bytes(cfg->rng, &s->seed, sizeof s->seed) != 0)
        return DK_ECRYPTO;
    s->recs = s->alloc->alloc(s->alloc->user, cfg->max_records * sizeof *s->recs);
    s->scratch = cfg->scratch ? s->alloc->alloc(s->alloc->user, cfg->scratch) : NULL;
    s->enc = s->alloc->alloc(s->alloc->user, cfg->max_payload);
    s->by_ep.b = dk_alloc_zeroed(s->alloc, HTAB_MIN * sizeof(void *));
    s->by_id.b = dk_alloc_zeroed(s->alloc, HTAB_MIN * sizeof(void *));
    s->ops.b = dk_alloc_zeroed(s->alloc, HTAB_MIN * sizeof(void *));
    if (!s->recs || (cfg->scratch && !s->scratch) || !s->enc || !s->by_ep.b || !s->by_id.b ||
        !s->ops.b) {
        dk_server_free(s);
        return DK_ENOMEM;
    }
    s->by_ep.n = s->by_id.n = s->ops.n = HTAB_MIN;
    s->next_op = 1;
    s->ready = true;
    return 0;
}

int dk_server_attach(struct dk_server *s, struct dk_coap_ep *coap)
{
    if (!s->ready)
        return DK_ESTATE;
    if (!coap)
        return DK_EINVAL;
    if (coap_index(s, coap) >= 0)
        return DK_EEXIST;
    if (s->ncoap >= DK_SERVER_MAX_COAP)
        return DK_ELIMIT;
    s->coap[s->ncoap++] = coap;
    dk_coap_ep_set_handler(coap, dk_server_coap_handler, s);
    return 0;
}

static void op_free(struct dk_server *s, struct dk_server_opx *op)
{
    dk_alloc_release(s->alloc, op);
}

static void reg_free(struct dk_server *s, struct dk_server_reg *r)
{
    dk_alloc_release(s->alloc, r->blob);
    dk_alloc_release(s->alloc, r);
}

void dk_server_free(struct dk_server *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->by_ep.n; i++) {
        struct dk_server_reg *r = s->by_ep.b[i];
        while (r) {
            struct dk_server_reg *nx = r->next_ep;
            while (r->ops) {
                struct dk_server_opx *op = r->ops;
                r->ops = op->next_reg;
                if (op->xid)
                    dk_coap_ep_cancel(op->coap, op->xid, s->now);
                op_free(s, op);
            }
            reg_free(s, r);
            r = nx;
        }
    }
    for (size_t i = 0; i < s->ncoap; i++)
        dk_coap_ep_set_handler(s->coap[i], NULL, NULL);
    dk_alloc_release(s->alloc, s->by_ep.b);
    dk_alloc_release(s->alloc, s->by_id.b);
    dk_alloc_release(s->alloc, s->ops.b);
    dk_alloc_release(s->alloc, s->heap);
    dk_alloc_release(s->alloc, s->recs);
    dk_alloc_release(s->alloc, s->scratch);
    dk_alloc_release(s->alloc, s->enc);
    memset(s, 0, sizeof *s);
}

/* ---- Operations: ending them ------------------------------------------------------ */

static void op_unlink(struct dk_server *s, struct dk_server_opx *op)
{
    if (op->in_hash) {
        htab_remove(s, &s->ops, op, OP_ID, op_id_hash);
        op->in_hash = false;
    }
    if (op->reg) {
        for (struct dk_server_opx **pp = &op->reg->ops; *pp; pp = &(*pp)->next_reg)
            if (*pp == op) {
                *pp = op->next_reg;
                op->reg->nops--;
                break;
            }
        op->reg = NULL;
    }
}

/* Unlinks, cancels its CoAP exchange, frees (or, inside its own callback,
 * marks it for the caller of the callback to free). */
static void op_destroy(struct dk_server *s, struct dk_server_opx *op, dk_time_t now)
{
    op_unlink(s, op);
    if (op->xid) {
        dk_coap_ep_cancel(op->coap, op->xid, now);
        op->xid = 0;
    }
    if (op->busy)
        op->dead = true;
    else
        op_free(s, op);
}

/* The registration is gone. Observations end with DK_ECLOSED (the device
 * dropped them too); other requests in flight go on to their answer (the
 * 2.04 of an Execute /3/0/5 may come after the De-register it caused),
 * unless `all`. */
static void reg_end_ops(struct dk_server *s, struct dk_server_reg *r, dk_time_t now, bool all)
{
    for (struct dk_server_opx **pp = &r->ops; *pp;) {
        struct dk_server_opx *op = *pp;
        if (all || op->kind == DK_SERVER_OBSERVE) {
            pp = &op->next_reg;
            continue;
        }
        *pp = op->next_reg;
        r->nops--;
        op->reg = NULL;
    }
    while (r->ops) {
        struct dk_server_opx *op = r->ops;
        uint32_t id = op->id;
        enum dk_server_op_kind kind = op->kind;
        struct dk_lwm2m_path path = op->path;
        dk_server_result_fn *cb = op->cb;
        void *cb_user = op->cb_user;
        bool busy = op->busy;
        op_destroy(s, op, now);
        if (busy || !cb)
            continue; /* inside its own callback: it knows */
        struct dk_server_result res = {.id = id,
                                       .ep = r->ep,
                                       .kind = kind,
                                       .path = path,
                                       .status = DK_ECLOSED,
                                       .content_format = -1};
        cb(cb_user, &res);
    }
}

/* Takes r out of the tables (lookups fail from here on). */
static void reg_unlink(struct dk_server *s, struct dk_server_reg *r)
{
    htab_remove(s, &s->by_ep, r, REG_EP, reg_ep_hash);
    htab_remove(s, &s->by_id, r, REG_ID, reg_id_hash);
    heap_remove(s, r);
}

/* Removes r: ends its operations (see reg_end_ops; forget ends them all),
 * persists the removal (persist), reports (ev_type 0: no event), frees it. */
static void reg_remove(struct dk_server *s, struct dk_server_reg *r, dk_time_t now,
                       enum dk_server_event_type ev_type, bool persist)
{
    reg_unlink(s, r);
    reg_end_ops(s, r, now, ev_type == DK_SERVER_EV_REMOVED);
    struct dk_server_reg_info info;
    reg_fill(s, r, &info, now);
    if (persist && s->cfg->cbs.persist) {
        int rc = s->cfg->cbs.persist(s->cfg->cbs.user, &info, true);
        if (rc)
            dk_warn(s->cfg->log, MOD, "%s: persisting the removal failed: %s", r->ep,
                    dk_strerror(rc));
    }
    if (ev_type) {
        struct dk_server_event ev = {.type = ev_type, .ep = r->ep, .peer = &r->peer, .reg = &info};
        emit(s, &ev);
    }
    reg_free(s, r);
}

/* ---- Registration interface ---------------------------------------------------------- */

struct regq {
    const uint8_t *ep;
    size_t ep_len;
    bool has_lt, has_b, has_ver, queue;
    uint32_t lt;
    uint8_t maj, min;
    char b[8];
};

static bool parse_u32(const uint8_t *v, size_t n, uint32_t *out)
{
    if (n == 0 || n > 10)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x > UINT32_MAX)
        return false;
    *out = (uint32_t)x;
    return true;
}

/* Parses the Uri-Query options; register: ep and lwm2m allowed. Returns 0 or
 * the CoAP code to answer. */
static uint8_t parse_queries(const struct dk_server *s, const struct dk_coap_msg *m, bool reg,
                             struct regq *q)
{
    memset(q, 0, sizeof *q);
    for (const struct dk_coap_opt *o = dk_coap_msg_find(m, DK_COAP_OPT_URI_QUERY); o;
         o = dk_coap_msg_find_next(m, o)) {
        const uint8_t *v = dk_coap_opt_value(o);
        size_t n = o->len, klen = 0;
        while (klen < n && v[klen] != '=')
            klen++;
        const uint8_t *val = klen < n ? v + klen + 1 : NULL;
        size_t vlen = klen < n ? n - klen - 1 : 0;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(v, k, klen) == 0)
        if (KEY("ep")) {
            if (!reg || q->ep || !val || !ep_valid(val, vlen))
                return DK_COAP_BAD_REQUEST;
            q->ep = val;
            q->ep_len = vlen;
        } else if (KEY("lt")) {
            if (!val || !parse_u32(val, vlen, &q->lt) || q->lt < s->cfg->min_lifetime_s ||
                (s->cfg->max_lifetime_s && q->lt > s->cfg->max_lifetime_s))
                return DK_COAP_BAD_REQUEST;
            q->has_lt = true;
        } else if (KEY("lwm2m")) {
            if (!reg || !val || vlen < 3 || vlen > 5)
                return DK_COAP_BAD_REQUEST;
            const uint8_t *dot = memchr(val, '.', vlen);
            uint32_t maj, min;
            if (!dot || !parse_u32(val, (size_t)(dot - val), &maj) ||
                !parse_u32(dot + 1, vlen - (size_t)(dot - val) - 1, &min) || min > 99)
                return DK_COAP_BAD_REQUEST;
            if (maj != 1)
                return DK_COAP_PRECONDITION_FAILED;
            q->maj = 1;
            q->min = (uint8_t)min;
            q->has_ver = true;
        } else if (KEY("b")) {
            if (!val || vlen == 0 || vlen >= sizeof q->b)
                return DK_COAP_BAD_REQUEST;
            for (size_t i = 0; i < vlen; i++) {
                if (!memchr("UMHTSNQ", val[i], 7) || memchr(val, val[i], i))
                    return DK_COAP_BAD_REQUEST;
                if (val[i] == 'Q')
                    q->queue = true;
            }
            memcpy(q->b, val, vlen);
            q->b[vlen] = 0;
            q->has_b = true;
        } else if (KEY("Q")) {
            if (val)
                return DK_COAP_BAD_REQUEST;
            q->queue = true;
        }
        /* sms, d, et and unknown parameters are ignored */
#undef KEY
    }
    if (reg && !q->ep)
        return DK_COAP_BAD_REQUEST;
    return 0;
}

/* Checks the object list; *alt / *alt_len get the alternate root path ("" for
 * none). Returns 0 or the CoAP code to answer. */
static uint8_t check_links(const struct dk_server *s, const struct dk_coap_msg *m, const uint8_t *p,
                           size_t n, const char **alt, size_t *alt_len)
{
    uint32_t cf;
    *alt = "";
    *alt_len = 0;
    if (dk_coap_msg_get_uint(m, DK_COAP_OPT_CONTENT_FORMAT, &cf) == 0 && cf != DK_COAP_FMT_LINK)
        return DK_COAP_UNSUPPORTED_CONTENT_FORMAT;
    if (n > s->cfg->max_links)
        return DK_COAP_REQUEST_ENTITY_TOO_LARGE;
    struct dk_lwm2m_link_reader rd;
    struct dk_lwm2m_link l;
    dk_lwm2m_link_reader_init(&rd, p, n);
    int rc;
    while ((rc = dk_lwm2m_link_reader_next(&rd, &l)) == 0)
        ;
    if (rc != DK_ENOTFOUND)
        return DK_COAP_BAD_REQUEST;
    if (rd.alt_root && rd.alt_root_len) {
        if (rd.alt_root_len > ALT_ROOT_MAX || rd.alt_root[0] != '/')
            return DK_COAP_BAD_REQUEST;
        for (size_t i = 0; i < rd.alt_root_len; i++)
            if ((uint8_t)rd.alt_root[i] <= 0x20 || rd.alt_root[i] == 0x7f)
                return DK_COAP_BAD_REQUEST;
        *alt = rd.alt_root;
        *alt_len = rd.alt_root_len;
    }
    return 0;
}

/* Replaces r's links blob. Returns 0 or DK_ENOMEM. */
static int set_links(struct dk_server *s, struct dk_server_reg *r, const uint8_t *p, size_t n,
                     const char *alt, size_t alt_len)
{
    char *blob = s->alloc->alloc(s->alloc->user, n + alt_len + 2);
    if (!blob)
        return DK_ENOMEM;
    if (n)
        memcpy(blob, p, n);
    blob[n] = 0;
    if (alt_len)
        memcpy(blob + n + 1, alt, alt_len);
    blob[n + 1 + alt_len] = 0;
    dk_alloc_release(s->alloc, r->blob);
    r->blob = blob;
    r->links_len = (uint16_t)n;
    r->alt_len = (uint8_t)alt_len;
    return 0;
}

static const char *alt_root(const struct dk_server_reg *r)
{
    return r->blob && r->alt_len ? r->blob + r->links_len + 1 : "";
}

static bool links_equal(const struct dk_server_reg *r, const uint8_t *p, size_t n)
{
    return r->links_len == n && (n == 0 || memcmp(r->blob, p, n) == 0);
}

static int new_id(struct dk_server *s, uint32_t *out)
{
    for (int tries = 0; tries < 64; tries++) {
        uint32_t id;
        if (dk_rng_bytes(s->cfg->rng, &id, sizeof id) != 0)
            return DK_ECRYPTO;
        if (id && !find_id(s, id)) {
            *out = id;
            return 0;
        }
    }
    return DK_ECRYPTO;
}

static struct dk_server_reg *reg_alloc(struct dk_server *s, const char *ep, size_t n)
{
    struct dk_server_reg *r = dk_alloc_zeroed(s->alloc, sizeof *r + n + 1);
    if (!r)
        return NULL;
    memcpy(r->ep, ep, n);
    r->ep[n] = 0;
    r->ep_len = (uint8_t)n;
    r->hash = hash_str(s->seed, ep, n);
    return r;
}

static int reg_link(struct dk_server *s, struct dk_server_reg *r)
{
    int rc = heap_push(s, r);
    if (rc)
        return rc;
    htab_insert(s, &s->by_ep, r, REG_EP, reg_ep_hash);
    htab_insert(s, &s->by_id, r, REG_ID, reg_id_hash);
    return 0;
}

static dk_time_t expiry(const struct dk_server *s, dk_time_t now, uint32_t lt)
{
    return now + (dk_time_t)lt * 1000 + s->cfg->grace_ms;
}

static void refuse(struct dk_server *s, struct dk_coap_resp *resp, enum dk_server_auth_kind kind,
                   const char *ep, const struct dk_addr *peer, uint8_t code, const char *why)
{
    static const char *const what[] = {"", "register-refused", "update-refused",
                                       "deregister-refused"};
    char pbuf[DK_ADDR_STRLEN], cbuf[8];
    resp->msg.code = code;
    audit(s, ep, what[kind], "%s; peer %s; answered %s", why, peer_str(peer, pbuf),
          dk_coap_code_format(code, cbuf, sizeof cbuf));
    struct dk_server_event ev = {.type = DK_SERVER_EV_REFUSED,
                                 .ep = ep,
                                 .peer = peer,
                                 .auth_kind = kind,
                                 .code = code,
                                 .why = why};
    emit(s, &ev);
}

static int authorize(struct dk_server *s, struct dk_coap_ep *coap, enum dk_server_auth_kind kind,
                     const char *ep, const struct dk_addr *peer,
                     const struct dk_server_reg_info *reg)
{
    const struct dk_server_callbacks *cb = &s->cfg->cbs;
    struct dk_server_auth a = {.kind = kind, .ep = ep, .peer = peer, .coap = coap, .reg = reg};
    a.info = cb->peer_info ? cb->peer_info(cb->user, coap, peer) : NULL;
    return cb->authorize(cb->user, &a);
}

static void do_register(struct dk_server *s, struct dk_coap_ep *coap, const struct dk_coap_req *req,
                        struct dk_coap_resp *resp)
{
    dk_time_t now = req->now;
    struct regq q;
    uint8_t code = parse_queries(s, req->msg, true, &q);
    const char *alt;
    size_t alt_len;
    if (!code)
        code = check_links(s, req->msg, req->payload, req->payload_len, &alt, &alt_len);
    if (code) {
        resp->msg.code = code;
        return;
    }
    char ep[DK_SERVER_EP_MAX + 1];
    memcpy(ep, q.ep, q.ep_len);
    ep[q.ep_len] = 0;
    int rc = authorize(s, coap, DK_SERVER_AUTH_REGISTER, ep, req->peer, NULL);
    if (rc) {
        refuse(s, resp, DK_SERVER_AUTH_REGISTER, ep, req->peer, DK_COAP_FORBIDDEN,
               "not authorised for this endpoint");
        return;
    }
    struct dk_server_reg *old = find_ep(s, ep, q.ep_len);
    if (!old && s->by_ep.count >= s->cfg->max_registrations) {
        refuse(s, resp, DK_SERVER_AUTH_REGISTER, ep, req->peer, DK_COAP_SERVICE_UNAVAILABLE,
               "registration table full");
        return;
    }
    struct dk_server_reg *r = reg_alloc(s, ep, q.ep_len);
    uint32_t id = 0;
    if (!r || set_links(s, r, req->payload, req->payload_len, alt, alt_len) || new_id(s, &id)) {
        if (r)
            reg_free(s, r);
        resp->msg.code = DK_COAP_INTERNAL_SERVER_ERROR;
        return;
    }
    r->id = id;
    r->peer = *req->peer;
    r->coap_idx = (uint8_t)coap_index(s, coap);
    r->lifetime_s = q.has_lt ? q.lt : s->cfg->default_lifetime_s;
    r->expires = expiry(s, now, r->lifetime_s);
    r->ver_major = q.has_ver ? q.maj : 1;
    r->ver_minor = q.has_ver ? q.min : 0;
    r->queue = q.queue;
    snprintf(r->binding, sizeof r->binding, "%s", q.has_b ? q.b : "U");
    if (old)
        reg_remove(s, old, now, 0, false); /* the new one overwrites it in storage */
    if (reg_link(s, r)) {
        reg_free(s, r);
        resp->msg.code = DK_COAP_INTERNAL_SERVER_ERROR;
        return;
    }
    struct dk_server_reg_info info;
    reg_fill(s, r, &info, now);
    if (s->cfg->cbs.persist) {
        rc = s->cfg->cbs.persist(s->cfg->cbs.user, &info, false);
        if (rc) {
            dk_warn(s->cfg->log, MOD, "%s: persisting the registration failed: %s", ep,
                    dk_strerror(rc));
            reg_unlink(s, r);
            reg_free(s, r);
            resp->msg.code = DK_COAP_INTERNAL_SERVER_ERROR;
            return;
        }
    }
    /* Location-Path rd/<id>: the handler's scratch holds the text until the
     * response is built. */
    char *loc = (char *)resp->buf;
    snprintf(loc, resp->cap, "%08x", (unsigned)id);
    resp->msg.code = DK_COAP_CREATED;
    dk_coap_msg_add_str(&resp->msg, DK_COAP_OPT_LOCATION_PATH, "rd");
    dk_coap_msg_add_str(&resp->msg, DK_COAP_OPT_LOCATION_PATH, loc);
    dk_info(s->cfg->log, MOD, "%s registered at %s (lifetime %u s)", ep, info.location,
            (unsigned)r->lifetime_s);
    struct dk_server_event ev = {.type = DK_SERVER_EV_REGISTERED,
                                 .ep = r->ep,
                                 .peer = &r->peer,
                                 .reg = &info,
                                 .replaced = old != NULL};
    emit(s, &ev);
}

static void do_update(struct dk_server *s, struct dk_coap_ep *coap, const struct dk_coap_req *req,
                      struct dk_coap_resp *resp, struct dk_server_reg *r)
{
    dk_time_t now = req->now;
    struct regq q;
    uint8_t code = parse_queries(s, req->msg, false, &q);
    const char *alt = "";
    size_t alt_len = 0;
    bool has_links = req->payload_len > 0;
    if (!code && has_links)
        code = check_links(s, req->msg, req->payload, req->payload_len, &alt, &alt_len);
    if (code) {
        resp->msg.code = code;
        return;
    }
    struct dk_server_reg_info cur;
    reg_fill(s, r, &cur, now);
    if (authorize(s, coap, DK_SERVER_AUTH_UPDATE, r->ep, req->peer, &cur)) {
        refuse(s, resp, DK_SERVER_AUTH_UPDATE, r->ep, req->peer, DK_COAP_FORBIDDEN,
               "not authorised for this registration");
        return;
    }
    unsigned changed = 0;
    if (has_links && !links_equal(r, req->payload, req->payload_len)) {
        if (set_links(s, r, req->payload, req->payload_len, alt, alt_len)) {
            resp->msg.code = DK_COAP_INTERNAL_SERVER_ERROR;
            return;
        }
        changed |= DK_SERVER_CHANGED_LINKS;
    }
    if (q.has_lt && q.lt != r->lifetime_s) {
        r->lifetime_s = q.lt;
        changed |= DK_SERVER_CHANGED_LIFETIME;
    }
    if (q.has_b && strcmp(q.b, r->binding) != 0) {
        snprintf(r->binding, sizeof r->binding, "%s", q.b);
        changed |= DK_SERVER_CHANGED_BINDING;
    }
    if (q.has_b || q.queue)
        r->queue = q.queue;
    int ci = coap_index(s, coap);
    if (!dk_addr_equal(&r->peer, req->peer) || ci != r->coap_idx) {
        r->peer = *req->peer;
        r->coap_idx = (uint8_t)ci;
        changed |= DK_SERVER_CHANGED_PEER;
    }
    r->expires = expiry(s, now, r->lifetime_s);
    heap_fix(s, r);
    struct dk_server_reg_info info;
    reg_fill(s, r, &info, now);
    if (s->cfg->cbs.persist) {
        int rc = s->cfg->cbs.persist(s->cfg->cbs.user, &info, false);
        if (rc)
            dk_warn(s->cfg->log, MOD, "%s: persisting the update failed: %s", r->ep,
                    dk_strerror(rc));
    }
    resp->msg.code = DK_COAP_CHANGED;
    struct dk_server_event ev = {.type = DK_SERVER_EV_UPDATED,
                                 .ep = r->ep,
                                 .peer = &r->peer,
                                 .reg = &info,
                                 .changed = changed};
    emit(s, &ev);
}

static void do_deregister(struct dk_server *s, struct dk_coap_ep *coap,
                          const struct dk_coap_req *req, struct dk_coap_resp *resp,
                          struct dk_server_reg *r)
{
    struct dk_server_reg_info cur;
    reg_fill(s, r, &cur, req->now);
    if (authorize(s, coap, DK_SERVER_AUTH_DEREGISTER, r->ep, req->peer, &cur)) {
        refuse(s, resp, DK_SERVER_AUTH_DEREGISTER, r->ep, req->peer, DK_COAP_FORBIDDEN,
               "not authorised for this registration");
        return;
    }
    dk_info(s->cfg->log, MOD, "%s de-registered", r->ep);
    resp->msg.code = DK_COAP_DELETED;
    reg_remove(s, r, req->now, DK_SERVER_EV_DEREGISTERED, true);
}

static bool parse_location(const uint8_t *v, size_t n, uint32_t *id)
{
    if (n != 8)
        return false;
    uint32_t x = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = v[i], d;
        if (c >= '0' && c <= '9')
            d = (uint8_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint8_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint8_t)(c - 'A' + 10);
        else
            return false;
        x = x << 4 | d;
    }
    *id = x;
    return x != 0;
}

void dk_server_coap_handler(struct dk_coap_ep *coap, void *user, const struct dk_coap_req *req,
                            struct dk_coap_resp *resp)
{
    struct dk_server *s = user;
    if (!s || !s->ready || coap_index(s, coap) < 0) {
        resp->msg.code = DK_COAP_SERVICE_UNAVAILABLE;
        return;
    }
    s->now = req->now;
    const struct dk_coap_msg *m = req->msg;
    const struct dk_coap_opt *seg[3];
    size_t nseg = 0;
    for (const struct dk_coap_opt *o = dk_coap_msg_find(m, DK_COAP_OPT_URI_PATH); o;
         o = dk_coap_msg_find_next(m, o))
        if (nseg < 3)
            seg[nseg++] = o;
        else
            return; /* 4.04 */
    if (nseg == 0 || nseg > 2 || seg[0]->len != 2 || memcmp(dk_coap_opt_value(seg[0]), "rd", 2))
        return; /* 4.04 */
    if (nseg == 1) {
        if (m->code != DK_COAP_POST) {
            resp->msg.code = DK_COAP_METHOD_NOT_ALLOWED;
            return;
        }
        do_register(s, coap, req, resp);
        return;
    }
    uint32_t id;
    struct dk_server_reg *r = NULL;
    if (parse_location(dk_coap_opt_value(seg[1]), seg[1]->len, &id))
        r = find_id(s, id);
    if (!r)
        return; /* 4.04 */
    if (m->code == DK_COAP_POST)
        do_update(s, coap, req, resp, r);
    else if (m->code == DK_COAP_DELETE)
        do_deregister(s, coap, req, resp, r);
    else
        resp->msg.code = DK_COAP_METHOD_NOT_ALLOWED;
}

/* ---- Time, queries, restore ------------------------------------------------------------ */

void dk_server_tick(struct dk_server *s, dk_time_t now)
{
    if (!s->ready)
        return;
    s->now = now;
    while (s->heap_len && s->heap[0]->expires <= now) {
        struct dk_server_reg *r = s->heap[0];
        dk_info(s->cfg->log, MOD, "%s: registration expired", r->ep);
        reg_remove(s, r, now, DK_SERVER_EV_EXPIRED, true);
    }
}

dk_time_t dk_server_deadline(const struct dk_server *s)
{
    return s->ready && s->heap_len ? s->heap[0]->expires : DK_TIME_NEVER;
}

size_t dk_server_count(const struct dk_server *s)
{
    return s->by_ep.count;
}

size_t dk_server_op_count(const struct dk_server *s)
{
    return s->ops.count;
}

int dk_server_get(struct dk_server *s, const char *ep, struct dk_server_reg_info *out,
                  dk_time_t now)
{
    struct dk_server_reg *r = s->ready && ep ? find_ep(s, ep, strlen(ep)) : NULL;
    if (!r)
        return DK_ENOTFOUND;
    reg_fill(s, r, out, now);
    return 0;
}

int dk_server_foreach(struct dk_server *s,
                      int (*fn)(void *user, const struct dk_server_reg_info *r), void *user,
                      dk_time_t now)
{
    for (size_t i = 0; i < s->by_ep.n; i++)
        for (struct dk_server_reg *r = s->by_ep.b[i]; r; r = r->next_ep) {
            struct dk_server_reg_info info;
            reg_fill(s, r, &info, now);
            int rc = fn(user, &info);
            if (rc)
                return rc;
        }
    return 0;
}

int dk_server_forget(struct dk_server *s, const char *ep, dk_time_t now)
{
    struct dk_server_reg *r = s->ready && ep ? find_ep(s, ep, strlen(ep)) : NULL;
    if (!r)
        return DK_ENOTFOUND;
    s->now = now;
    reg_remove(s, r, now, DK_SERVER_EV_REMOVED, true);
    return 0;
}

int dk_server_restore(struct dk_server *s, const struct dk_server_reg_info *in, dk_time_t now)
{
    if (!s->ready)
        return DK_ESTATE;
    uint32_t id;
    size_t n = in->ep ? strlen(in->ep) : 0;
    const char *loc = in->location;
    size_t links_len = in->links ? in->links_len : 0;
    if (!ep_valid((const uint8_t *)in->ep, n) || strncmp(loc, "/rd/", 4) != 0 ||
        !parse_location((const uint8_t *)loc + 4, strnlen(loc + 4, 12), &id) ||
        in->lifetime_s < s->cfg->min_lifetime_s || links_len > s->cfg->max_links)
        return DK_EINVAL;
    int ci = in->coap ? coap_index(s, in->coap) : 0;
    if (ci < 0 || (size_t)ci >= s->ncoap)
        return DK_EINVAL;
    /* binding and version as a Register would accept them */
    size_t bl = strnlen(in->binding, sizeof in->binding);
    if (bl == 0 || bl >= sizeof in->binding)
        return DK_EINVAL;
    for (size_t i = 0; i < bl; i++)
        if (!memchr("UMHTSNQ", in->binding[i], 7))
            return DK_EINVAL;
    unsigned maj = 0, min = 0;
    char dot = 0, extra = 0;
    if (sscanf(in->version, "%u%c%u%c", &maj, &dot, &min, &extra) != 3 || dot != '.' || maj != 1 ||
        min > 99)
        return DK_EINVAL;
    struct dk_lwm2m_link_reader rd;
    struct dk_lwm2m_link l;
    int rc;
    dk_lwm2m_link_reader_init(&rd, in->links, links_len);
    while ((rc = dk_lwm2m_link_reader_next(&rd, &l)) == 0)
        ;
    if (rc != DK_ENOTFOUND || rd.alt_root_len > ALT_ROOT_MAX)
        return DK_EINVAL;
    if (in->remaining_ms <= 0)
        return DK_ETIMEDOUT;
    if (find_ep(s, in->ep, n) || find_id(s, id))
        return DK_EEXIST;
    if (s->by_ep.count >= s->cfg->max_registrations)
        return DK_ELIMIT;
    struct dk_server_reg *r = reg_alloc(s, in->ep, n);
    if (!r)
        return DK_ENOMEM;
    if (set_links(s, r, (const uint8_t *)in->links, links_len, rd.alt_root ? rd.alt_root : "",
                  rd.alt_root ? rd.alt_root_len : 0)) {
        reg_free(s, r);
        return DK_ENOMEM;
    }
    r->id = id;
    if (in->peer)
        r->peer = *in->peer; /* else unknown (len 0) until the device's next Update */
    r->coap_idx = (uint8_t)ci;
    r->lifetime_s = in->lifetime_s;
    r->expires = now + in->remaining_ms;
    r->ver_major = (uint8_t)maj;
    r->ver_minor = (uint8_t)min;
    r->queue = in->queue_mode;
    memcpy(r->binding, in->binding, bl + 1);
    if (reg_link(s, r)) {
        reg_free(s, r);
        return DK_ENOMEM;
    }
    return 0;
}

/* ---- Device Management ------------------------------------------------------------------ */

static enum dk_lwm2m_op lwm2m_op(enum dk_server_op_kind k)
{
    switch (k) {
    case DK_SERVER_READ:
        return DK_LWM2M_READ;
    case DK_SERVER_DISCOVER:
        return DK_LWM2M_DISCOVER;
    case DK_SERVER_WRITE:
        return DK_LWM2M_WRITE;
    case DK_SERVER_WRITE_PARTIAL:
        return DK_LWM2M_WRITE_PARTIAL;
    case DK_SERVER_WRITE_ATTRS:
        return DK_LWM2M_WRITE_ATTRIBUTES;
    case DK_SERVER_EXECUTE:
        return DK_LWM2M_EXECUTE;
    case DK_SERVER_CREATE:
        return DK_LWM2M_CREATE;
    case DK_SERVER_DELETE:
        return DK_LWM2M_DELETE;
    case DK_SERVER_OBSERVE:
        return DK_LWM2M_OBSERVE;
    }
    return DK_LWM2M_READ;
}

/* The shortest decimal that reads back as the same double. */
static int fmt_double(char *out, size_t cap, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        int n = snprintf(out, cap, "%.*g", prec, v);
        if (n < 0 || (size_t)n >= cap)
            return DK_ENOSPC;
        if (strtod(out, NULL) == v)
            return 0;
    }
    return 0;
}

/* Write-Attributes query "pmin=10&gt=20.5&st" into out. */
static int attrs_query(const struct dk_lwm2m_attrs *a, char *out, size_t cap)
{
    static const struct {
        uint32_t flag;
        const char *name;
    } names[] = {{DK_LWM2M_ATTR_PMIN, "pmin"},  {DK_LWM2M_ATTR_PMAX, "pmax"},
                 {DK_LWM2M_ATTR_GT, "gt"},      {DK_LWM2M_ATTR_LT, "lt"},
                 {DK_LWM2M_ATTR_ST, "st"},      {DK_LWM2M_ATTR_EPMIN, "epmin"},
                 {DK_LWM2M_ATTR_EPMAX, "epmax"}};
    if (((a->set | a->unset) & ~(uint32_t)DK_LWM2M_ATTR_NOTIFY) || !(a->set | a->unset) ||
        (a->set & a->unset) || dk_lwm2m_attrs_check(a) != 0)
        return DK_EINVAL;
    struct dk_buf b;
    dk_buf_init(&b, out, cap);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        uint32_t f = names[i].flag;
        if (!((a->set | a->unset) & f))
            continue;
        if (b.len)
            dk_buf_put_u8(&b, '&');
        dk_buf_put_str(&b, names[i].name);
        if (!(a->set & f))
            continue;
        char num[40];
        switch (f) {
        case DK_LWM2M_ATTR_PMIN:
            snprintf(num, sizeof num, "%u", (unsigned)a->pmin);
            break;
        case DK_LWM2M_ATTR_PMAX:
            snprintf(num, sizeof num, "%u", (unsigned)a->pmax);
            break;
        case DK_LWM2M_ATTR_EPMIN:
            snprintf(num, sizeof num, "%u", (unsigned)a->epmin);
            break;
        case DK_LWM2M_ATTR_EPMAX:
            snprintf(num, sizeof num, "%u", (unsigned)a->epmax);
            break;
        case DK_LWM2M_ATTR_GT:
            fmt_double(num, sizeof num, a->gt);
            break;
        case DK_LWM2M_ATTR_LT:
            fmt_double(num, sizeof num, a->lt);
            break;
        default:
            fmt_double(num, sizeof num, a->st);
            break;
        }
        dk_buf_put_u8(&b, '=');
        dk_buf_put_str(&b, num);
    }
    if (dk_buf_put_u8(&b, 0))
        return DK_ENOSPC;
    return 0;
}

static void on_op_response(struct dk_coap_ep *coap, void *user, uint32_t xid,
                           const struct dk_coap_result *res);

int dk_server_op_start(struct dk_server *s, const char *ep, const struct dk_server_op *op,
                       dk_time_t now, uint32_t *idp)
{
    if (!s->ready)
        return DK_ESTATE;
    if (!ep || !op)
        return DK_EINVAL;
    s->now = now;
    struct dk_server_reg *r = find_ep(s, ep, strlen(ep));
    if (!r)
        return DK_ENOTFOUND;
    if (!r->peer.len)
        return DK_ESTATE; /* restored without an address: wait for its Update */
    if (op->kind < DK_SERVER_READ || op->kind > DK_SERVER_OBSERVE ||
        dk_lwm2m_op_check_path(lwm2m_op(op->kind), &op->path) != 0)
        return DK_EINVAL;
    if (s->ops.count >= s->cfg->max_ops || r->nops >= s->cfg->max_ops_per_reg)
        return DK_ELIMIT;

    char path[ALT_ROOT_MAX + DK_LWM2M_PATH_STR_MAX + 2];
    char ps[DK_LWM2M_PATH_STR_MAX];
    dk_lwm2m_path_str(&op->path, ps, sizeof ps);
    snprintf(path, sizeof path, "%s%s", alt_root(r), op->path.len ? ps : (r->alt_len ? "" : "/"));
    char query[160];
    struct dk_coap_client_req q;
    int fmt = op->format < 0 ? DK_COAP_FMT_LWM2M_TLV : op->format;
    size_t plen = 0;
    int rc;
    switch (op->kind) {
    case DK_SERVER_READ:
    case DK_SERVER_OBSERVE:
        dk_coap_client_req_init(&q, DK_COAP_GET, path);
        q.accept = op->accept;
        q.observe = op->kind == DK_SERVER_OBSERVE;
        break;
    case DK_SERVER_DISCOVER:
        dk_coap_client_req_init(&q, DK_COAP_GET, path);
        q.accept = DK_COAP_FMT_LINK;
        break;
    case DK_SERVER_WRITE:
    case DK_SERVER_WRITE_PARTIAL:
    case DK_SERVER_CREATE:
        dk_coap_client_req_init(&q, op->kind == DK_SERVER_WRITE ? DK_COAP_PUT : DK_COAP_POST, path);
        if (fmt > 65535)
            return DK_EINVAL;
        q.content_format = fmt;
        if (op->recs) {
            if (!dk_lwm2m_cf_supported(fmt))
                return DK_EINVAL;
            struct dk_buf b;
            dk_buf_init(&b, s->enc, s->cfg->max_payload);
            rc = dk_lwm2m_encode(fmt, &op->path, op->recs, op->n_recs, &b);
            if (rc)
                return rc;
            q.payload = s->enc;
            plen = b.len;
        } else {
            if (op->payload_len > s->cfg->max_payload)
                return DK_ENOSPC;
            if (op->payload_len && !op->payload)
                return DK_EINVAL;
            q.payload = op->payload;
            plen = op->payload_len;
        }
        q.payload_len = plen;
        break;
    case DK_SERVER_WRITE_ATTRS:
        if (!op->attrs)
            return DK_EINVAL;
        rc = attrs_query(op->attrs, query, sizeof query);
        if (rc)
            return rc;
        dk_coap_client_req_init(&q, DK_COAP_PUT, path);
        q.query = query;
        break;
    case DK_SERVER_EXECUTE:
        dk_coap_client_req_init(&q, DK_COAP_POST, path);
        if (op->payload_len > s->cfg->max_payload || (op->payload_len && !op->payload))
            return DK_EINVAL;
        q.payload = op->payload;
        q.payload_len = op->payload_len;
        break;
    case DK_SERVER_DELETE:
        dk_coap_client_req_init(&q, DK_COAP_DELETE, path);
        break;
    }

    struct dk_server_opx *x = dk_alloc_zeroed(s->alloc, sizeof *x);
    if (!x)
        return DK_ENOMEM;
    x->srv = s;
    memcpy(x->ep, r->ep, (size_t)r->ep_len + 1);
    x->coap = s->coap[r->coap_idx];
    x->kind = op->kind;
    x->path = op->path;
    x->cb = op->cb;
    x->cb_user = op->cb_user;
    do {
        x->id = s->next_op++;
    } while (!x->id || find_op(s, x->id));
    q.cb = on_op_response;
    q.cb_user = x;
    rc = dk_coap_ep_request(x->coap, &r->peer, &q, now, &x->xid);
    if (plen && q.payload == s->enc)
        dk_memzero(s->enc, plen);
    if (rc) {
        op_free(s, x);
        return rc;
    }
    x->reg = r;
    x->next_reg = r->ops;
    r->ops = x;
    r->nops++;
    htab_insert(s, &s->ops, x, OP_ID, op_id_hash);
    x->in_hash = true;
    if (idp)
        *idp = x->id;
    dk_debug(s->cfg->log, MOD, "%s: %s %s (op %u)", ep, dk_server_op_name(op->kind), path,
             (unsigned)x->id);
    return 0;
}

static void created_path(const struct dk_coap_msg *m, struct dk_lwm2m_path *out)
{
    const struct dk_coap_opt *seg[8];
    size_t n = 0;
    memset(out, 0, sizeof *out);
    for (const struct dk_coap_opt *o = dk_coap_msg_find(m, DK_COAP_OPT_LOCATION_PATH); o;
         o = dk_coap_msg_find_next(m, o))
        if (n < 8)
            seg[n++] = o;
    /* The last two segments are /O/I (an alternate root path comes first). */
    if (n < 2)
        return;
    struct dk_lwm2m_path p = dk_lwm2m_path_root();
    if (dk_lwm2m_path_push_segment(&p, dk_coap_opt_value(seg[n - 2]), seg[n - 2]->len) == 0 &&
        dk_lwm2m_path_push_segment(&p, dk_coap_opt_value(seg[n - 1]), seg[n - 1]->len) == 0)
        *out = p;
}

static void on_op_response(struct dk_coap_ep *coap, void *user, uint32_t xid,
                           const struct dk_coap_result *res)
{
    struct dk_server_opx *op = user;
    struct dk_server *s = op->srv;
    s->now = res->now;
    bool final = res->status != 0 || !res->observing;
    struct dk_server_result r = {.id = op->id,
                                 .ep = op->ep,
                                 .kind = op->kind,
                                 .path = op->path,
                                 .status = res->status,
                                 .content_format = -1,
                                 .notification = res->notification,
                                 .observing = !final,
                                 .observe_seq = res->observe_seq};
    if (res->msg) {
        uint32_t cf;
        r.code = res->msg->code;
        if (dk_coap_msg_get_uint(res->msg, DK_COAP_OPT_CONTENT_FORMAT, &cf) == 0)
            r.content_format = (int)cf;
        r.payload = res->payload;
        r.payload_len = res->payload_len;
        if ((op->kind == DK_SERVER_READ || op->kind == DK_SERVER_OBSERVE) &&
            r.code == DK_COAP_CONTENT) {
            if (r.content_format < 0 || !dk_lwm2m_cf_supported(r.content_format)) {
                r.decode_err = DK_ENOTSUP;
            } else {
                struct dk_lwm2m_decode_opts o = {.type_of = s->cfg->type_of,
                                                 .user = s->cfg->type_user,
                                                 .scratch = s->scratch,
                                                 .scratch_cap = s->cfg->scratch};
                size_t n = 0;
                r.decode_err = dk_lwm2m_decode(r.content_format, r.payload, r.payload_len,
                                               &op->path, &o, s->recs, s->cfg->max_records, &n);
                if (r.decode_err == 0) {
                    r.recs = s->recs;
                    r.n_recs = n;
                }
            }
        }
        if (op->kind == DK_SERVER_CREATE && r.code == DK_COAP_CREATED)
            created_path(res->msg, &r.created);
    }
    if (final)
        op->xid = 0; /* the endpoint ends the exchange itself */
    else
        op->observing = true;
    op->busy = true;
    if (op->cb)
        op->cb(op->cb_user, &r);
    op->busy = false;
    if (op->dead)
        op_free(s, op); /* cancelled or its registration ended during the callback */
    else if (final)
        op_destroy(s, op, res->now);
}

int dk_server_op_cancel(struct dk_server *s, uint32_t id, dk_time_t now)
{
    struct dk_server_opx *op = s->ready ? find_op(s, id) : NULL;
    if (!op)
        return DK_ENOTFOUND;
    s->now = now;
    op_destroy(s, op, now);
    return 0;
}

int dk_server_observe_cancel(struct dk_server *s, uint32_t id, dk_time_t now)
{
    struct dk_server_opx *op = s->ready ? find_op(s, id) : NULL;
    if (!op)
        return DK_ENOTFOUND;
    if (op->kind != DK_SERVER_OBSERVE || !op->observing || !op->xid)
        return DK_ESTATE;
    s->now = now;
    return dk_coap_ep_observe_cancel(op->coap, op->xid, now);
}

int dk_server_observation_find(const struct dk_server *s, const char *ep,
                               const struct dk_lwm2m_path *path, uint32_t *id)
{
    const struct dk_server_reg *r = s->ready && ep ? find_ep(s, ep, strlen(ep)) : NULL;
    if (!r || !path)
        return DK_ENOTFOUND;
    for (const struct dk_server_opx *op = r->ops; op; op = op->next_reg)
        if (op->kind == DK_SERVER_OBSERVE && op->observing &&
            dk_lwm2m_path_equal(&op->path, path)) {
            if (id)
                *id = op->id;
            return 0;
        }
    return DK_ENOTFOUND;
}
