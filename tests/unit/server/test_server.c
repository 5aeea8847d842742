/* LwM2M Server engine: registration interface (register, update,
 * de-register, expiry, refusals), Device Management operations with content
 * negotiation, observe, persistence round trip, scale; against scripted
 * devices built on dk_coap_ep over the fake network with a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <duckling/buf.h>
#include <duckling/err.h>
#include <duckling/lwm2m.h>
#include <duckling/lwm2m_link.h>
#include <duckling/lwm2m_server.h>

#include "fakenet.h"

#define NDEV 2
#define MAX_CAP 32
#define MAX_RES 64
#define MAX_EV 64

struct capture {
    uint8_t method;
    char path[64];
    char query[128];
    int cf, accept;
    bool observe;
    size_t len;
    uint8_t payload[2048];
};

struct device {
    struct dk_coap_ep ep;
    struct dk_addr addr;
    char name[32];
    char location[32];
    int code; /* answer to the last registration request */
    struct capture cap[MAX_CAP];
    size_t ncap;
    double temp;
    bool light;
    int notifications_made;
};

struct result {
    uint32_t id;
    int status;
    uint8_t code;
    int cf;
    int decode_err;
    bool notification, observing;
    size_t n_recs;
    struct dk_lwm2m_path paths[16];
    struct dk_lwm2m_value values[16];
    char strs[16][32];
    struct dk_lwm2m_path created;
    size_t payload_len;
    char payload[256];
    char ep[40];
};

struct stored {
    bool present;
    char ep[DK_SERVER_EP_MAX + 1];
    struct dk_server_reg_info info;
    char links[512];
    struct dk_addr peer;
};

struct world {
    struct dk_fakenet net;
    dk_time_t now;
    struct dk_rng rng;
    struct dk_coap_config ccfg;
    struct dk_coap_ep srv;
    struct dk_addr saddr;
    struct device dev[NDEV];
    struct dk_server s;
    struct dk_server_config cfg;
    struct dk_failalloc fa;

    int authorize_err;     /* refuse everything with this */
    const char *refuse_ep; /* refuse only this endpoint */
    int auths;
    struct dk_server_auth last_auth;
    char last_auth_ep[80];
    int persist_err;
    int persists;
    struct stored store[4];

    struct dk_server_event ev[MAX_EV];
    char ev_ep[MAX_EV][40];
    size_t nev, nev_total;
    char audit_what[MAX_EV][40];
    size_t naudit;

    struct result res[MAX_RES];
    size_t nres;
};

static struct world W;

/* ---- Program callbacks --------------------------------------------------------------- */

static const struct dk_dtls_peer_info *cb_peer_info(void *user, struct dk_coap_ep *coap,
                                                    const struct dk_addr *peer)
{
    return NULL;
}

static int cb_authorize(void *user, const struct dk_server_auth *a)
{
    struct world *w = user;
    w->auths++;
    w->last_auth = *a;
    snprintf(w->last_auth_ep, sizeof w->last_auth_ep, "%s", a->ep);
    w->last_auth.ep = w->last_auth_ep;
    if (w->authorize_err)
        return w->authorize_err;
    if (w->refuse_ep && strcmp(a->ep, w->refuse_ep) == 0)
        return DK_EPERM;
    return 0;
}

static int cb_persist(void *user, const struct dk_server_reg_info *r, bool removed)
{
    struct world *w = user;
    w->persists++;
    if (w->persist_err)
        return w->persist_err;
    struct stored *slot = NULL;
    for (size_t i = 0; i < 4 && !slot; i++)
        if (w->store[i].present && strcmp(w->store[i].ep, r->ep) == 0)
            slot = &w->store[i];
    for (size_t i = 0; i < 4 && !slot; i++)
        if (!w->store[i].present)
            slot = &w->store[i];
    assert_non_null(slot);
    if (removed) {
        memset(slot, 0, sizeof *slot);
        return 0;
    }
    slot->present = true;
    snprintf(slot->ep, sizeof slot->ep, "%s", r->ep);
    slot->info = *r;
    assert_true(r->links_len < sizeof slot->links);
    memcpy(slot->links, r->links, r->links_len + 1);
    slot->peer = *r->peer;
    slot->info.ep = slot->ep;
    slot->info.links = slot->links;
    slot->info.peer = &slot->peer;
    return 0;
}

static void cb_event(void *user, const struct dk_server_event *ev)
{
    struct world *w = user;
    w->nev_total++;
    if (w->nev >= MAX_EV)
        return; /* the scale test */
    snprintf(w->ev_ep[w->nev], sizeof w->ev_ep[0], "%s", ev->ep ? ev->ep : "");
    w->ev[w->nev++] = *ev;
}

static void cb_audit(void *user, const char *ep, const char *what, const char *detail)
{
    struct world *w = user;
    assert_true(w->naudit < MAX_EV);
    snprintf(w->audit_what[w->naudit++], 40, "%s", what);
}

static void on_result(void *user, const struct dk_server_result *r)
{
    struct world *w = user;
    assert_true(w->nres < MAX_RES);
    struct result *x = &w->res[w->nres++];
    memset(x, 0, sizeof *x);
    x->id = r->id;
    x->status = r->status;
    x->code = r->code;
    x->cf = r->content_format;
    x->decode_err = r->decode_err;
    x->notification = r->notification;
    x->observing = r->observing;
    x->n_recs = r->n_recs;
    x->created = r->created;
    snprintf(x->ep, sizeof x->ep, "%s", r->ep);
    for (size_t i = 0; i < r->n_recs && i < 16; i++) {
        x->paths[i] = r->recs[i].path;
        x->values[i] = r->recs[i].value;
        if (r->recs[i].value.type == DK_LWM2M_TYPE_STRING) {
            size_t n = r->recs[i].value.v.bytes.n < 31 ? r->recs[i].value.v.bytes.n : 31;
            memcpy(x->strs[i], r->recs[i].value.v.bytes.p, n);
            x->values[i].v.bytes.p = NULL;
        }
    }
    x->payload_len = r->payload_len;
    if (r->payload_len < sizeof x->payload) {
        if (r->payload_len)
            memcpy(x->payload, r->payload, r->payload_len);
        x->payload[r->payload_len] = 0;
    }
}

/* ---- The scripted device ------------------------------------------------------------------ */

static void dev_read(struct device *d, const struct dk_coap_req *req, struct dk_coap_resp *resp,
                     const struct dk_lwm2m_path *p, int accept)
{
    struct dk_lwm2m_record recs[8];
    size_t n = 0;
    struct dk_lwm2m_path base = *p;
    if (p->len == 2 && p->ids[0] == 3) {
        recs[n++] = (struct dk_lwm2m_record){dk_lwm2m_path_res(3, 0, 0), dk_lwm2m_str("duck"), 0};
        recs[n++] = (struct dk_lwm2m_record){dk_lwm2m_path_res(3, 0, 1), dk_lwm2m_str("m1"), 0};
        recs[n++] = (struct dk_lwm2m_record){dk_lwm2m_path_res(3, 0, 9), dk_lwm2m_int(87), 0};
    } else if (p->len == 3 && p->ids[0] == 3303 && p->ids[2] == 5700) {
        recs[n++] = (struct dk_lwm2m_record){*p, dk_lwm2m_float(d->temp), 0};
    } else if (p->len == 3 && p->ids[0] == 3311 && p->ids[2] == 5850) {
        recs[n++] = (struct dk_lwm2m_record){*p, dk_lwm2m_bool(d->light), 0};
    } else {
        resp->msg.code = DK_COAP_NOT_FOUND;
        return;
    }
    int cf = accept >= 0 ? accept : (p->len == 3 ? DK_LWM2M_CF_TEXT : DK_LWM2M_CF_TLV);
    if (!dk_lwm2m_cf_supported(cf)) {
        resp->msg.code = DK_COAP_NOT_ACCEPTABLE;
        return;
    }
    struct dk_buf b;
    dk_buf_init(&b, resp->buf, resp->cap);
    assert_int_equal(dk_lwm2m_encode(cf, &base, recs, n, &b), 0);
    resp->msg.code = DK_COAP_CONTENT;
    dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
    dk_coap_msg_set_payload(&resp->msg, resp->buf, b.len);
    if (req->observe_id)
        resp->observe = true;
}

static void dev_handler(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                        struct dk_coap_resp *resp)
{
    struct device *d = user;
    struct capture *c = NULL;
    if (!req->notification) {
        assert_true(d->ncap < MAX_CAP);
        c = &d->cap[d->ncap++];
        memset(c, 0, sizeof *c);
        c->method = req->msg->code;
        dk_coap_msg_get_path(req->msg, DK_COAP_OPT_URI_PATH, c->path, sizeof c->path);
        struct dk_buf qb;
        dk_buf_init(&qb, c->query, sizeof c->query - 1);
        for (const struct dk_coap_opt *o = dk_coap_msg_find(req->msg, DK_COAP_OPT_URI_QUERY); o;
             o = dk_coap_msg_find_next(req->msg, o)) {
            if (qb.len)
                dk_buf_put_u8(&qb, '&');
            dk_buf_put(&qb, dk_coap_opt_value(o), o->len);
        }
        c->query[qb.len] = 0;
        uint32_t v;
        c->cf = dk_coap_msg_get_uint(req->msg, DK_COAP_OPT_CONTENT_FORMAT, &v) == 0 ? (int)v : -1;
        c->accept = dk_coap_msg_get_uint(req->msg, DK_COAP_OPT_ACCEPT, &v) == 0 ? (int)v : -1;
        c->observe = dk_coap_msg_get_uint(req->msg, DK_COAP_OPT_OBSERVE, &v) == 0 && v == 0;
        c->len = req->payload_len < sizeof c->payload ? req->payload_len : sizeof c->payload;
        if (c->len)
            memcpy(c->payload, req->payload, c->len);
    } else {
        d->notifications_made++;
    }
    /* Strip an alternate root path. */
    const char *path_s = c ? c->path : NULL;
    char tmp[64];
    if (!path_s) {
        dk_coap_msg_get_path(req->msg, DK_COAP_OPT_URI_PATH, tmp, sizeof tmp);
        path_s = tmp;
    }
    if (strncmp(path_s, "/lwm2m", 6) == 0)
        path_s += 6;
    struct dk_lwm2m_path p;
    if (dk_lwm2m_path_parse(path_s, strlen(path_s), &p) != 0)
        return; /* 4.04 */
    uint32_t accept;
    int acc = dk_coap_msg_get_uint(req->msg, DK_COAP_OPT_ACCEPT, &accept) == 0 ? (int)accept : -1;
    switch (req->msg->code) {
    case DK_COAP_GET:
        if (acc == DK_COAP_FMT_LINK) {
            static const char links[] = "</3303/0>;pmin=10,</3303/0/5700>";
            resp->msg.code = DK_COAP_CONTENT;
            dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_CONTENT_FORMAT, DK_COAP_FMT_LINK);
            dk_coap_msg_set_payload(&resp->msg, links, sizeof links - 1);
            return;
        }
        dev_read(d, req, resp, &p, acc);
        return;
    case DK_COAP_PUT:
        if (c && c->query[0]) {
            resp->msg.code = DK_COAP_CHANGED; /* Write-Attributes */
            return;
        }
        if (p.len == 3 && p.ids[0] == 3311 && p.ids[2] == 5850) {
            struct dk_lwm2m_record r[4];
            size_t n = 0;
            if (dk_lwm2m_decode(c->cf, req->payload, req->payload_len, &p, NULL, r, 4, &n) ||
                n != 1) {
                resp->msg.code = DK_COAP_BAD_REQUEST;
                return;
            }
            d->light = r[0].value.v.b;
            resp->msg.code = DK_COAP_CHANGED;
            return;
        }
        resp->msg.code = DK_COAP_METHOD_NOT_ALLOWED;
        return;
    case DK_COAP_POST:
        if (p.len == 1) { /* Create */
            resp->msg.code = DK_COAP_CREATED;
            dk_coap_msg_add_str(&resp->msg, DK_COAP_OPT_LOCATION_PATH, "3311");
            dk_coap_msg_add_str(&resp->msg, DK_COAP_OPT_LOCATION_PATH, "1");
            return;
        }
        resp->msg.code = DK_COAP_CHANGED; /* Execute / partial write */
        return;
    case DK_COAP_DELETE:
        resp->msg.code = p.len == 2 && p.ids[1] == 1 ? DK_COAP_DELETED : DK_COAP_METHOD_NOT_ALLOWED;
        return;
    }
}

static void on_reg_result(struct dk_coap_ep *ep, void *user, uint32_t id,
                          const struct dk_coap_result *res)
{
    struct device *d = user;
    d->code = res->msg ? res->msg->code : -res->status;
    if (res->msg && res->msg->code == DK_COAP_CREATED)
        dk_coap_msg_get_path(res->msg, DK_COAP_OPT_LOCATION_PATH, d->location, sizeof d->location);
}

/* ---- Running -------------------------------------------------------------------------------- */

static void drain(struct world *w)
{
    uint8_t buf[2048];
    struct dk_addr to;
    int n;
    for (int i = 0; i < NDEV; i++)
        while ((n = dk_coap_ep_pop_tx(&w->dev[i].ep, &to, buf, sizeof buf)) > 0)
            dk_fakenet_send(&w->net, &w->dev[i].addr, &to, buf, (size_t)n, w->now);
    while ((n = dk_coap_ep_pop_tx(&w->srv, &to, buf, sizeof buf)) > 0)
        dk_fakenet_send(&w->net, &w->saddr, &to, buf, (size_t)n, w->now);
}

static void run(struct world *w, dk_time_t until)
{
    for (int guard = 0; guard < 200000; guard++) {
        drain(w);
        dk_time_t next = dk_fakenet_next_time(&w->net);
        for (int i = 0; i < NDEV; i++)
            next = dk_time_min(next, dk_coap_ep_deadline(&w->dev[i].ep));
        next = dk_time_min(next, dk_coap_ep_deadline(&w->srv));
        next = dk_time_min(next, dk_server_deadline(&w->s));
        if (next > until) {
            w->now = until;
            return;
        }
        if (next > w->now)
            w->now = next;
        static struct dk_fakenet_dgram d;
        while (dk_fakenet_recv(&w->net, w->now, &d)) {
            struct dk_coap_ep *ep = &w->srv;
            for (int i = 0; i < NDEV; i++)
                if (dk_addr_equal(&d.to, &w->dev[i].addr))
                    ep = &w->dev[i].ep;
            if (ep == &w->srv && !dk_addr_equal(&d.to, &w->saddr))
                continue; /* to a device address nobody has any more */
            dk_coap_ep_recv(ep, &d.from, d.data, d.len, w->now);
        }
        for (int i = 0; i < NDEV; i++)
            dk_coap_ep_tick(&w->dev[i].ep, w->now);
        dk_coap_ep_tick(&w->srv, w->now);
        dk_server_tick(&w->s, w->now);
    }
    fail_msg("world did not settle");
}

static void settle(struct world *w)
{
    run(w, w->now + 30000);
}

static void world_init(struct world *w, bool failalloc, long fail_at)
{
    memset(w, 0, sizeof *w);
    dk_fakenet_init(&w->net, 11);
    w->net.latency_ms = 5;
    w->now = 5000000;
    dk_rng_init(&w->rng);
    assert_int_equal(dk_rng_setup_deterministic(&w->rng, "srv", 3), 0);
    dk_addr_from_ip(&w->saddr, "10.0.0.2", 5684);
    dk_coap_config_init(&w->ccfg);
    w->ccfg.rng = &w->rng;
    w->ccfg.max_peers = 4096;
    w->ccfg.max_exchanges = 256;
    dk_coap_ep_init(&w->srv);
    assert_int_equal(dk_coap_ep_setup(&w->srv, &w->ccfg), 0);
    for (int i = 0; i < NDEV; i++) {
        struct device *d = &w->dev[i];
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.1.%d", i + 1);
        dk_addr_from_ip(&d->addr, ip, 56830);
        snprintf(d->name, sizeof d->name, "dev%d", i + 1);
        d->temp = 21.5;
        dk_coap_ep_init(&d->ep);
        assert_int_equal(dk_coap_ep_setup(&d->ep, &w->ccfg), 0);
        dk_coap_ep_set_handler(&d->ep, dev_handler, d);
    }
    dk_server_config_init(&w->cfg);
    w->cfg.rng = &w->rng;
    w->cfg.cbs =
        (struct dk_server_callbacks){cb_peer_info, cb_authorize, cb_persist, cb_event, cb_audit, w};
    if (failalloc) {
        dk_failalloc_init(&w->fa, fail_at, 1);
        w->cfg.alloc = &w->fa.iface;
    }
    dk_server_init(&w->s);
}

static void world_start(struct world *w)
{
    assert_int_equal(dk_server_setup(&w->s, &w->cfg), 0);
    assert_int_equal(dk_server_attach(&w->s, &w->srv), 0);
}

static void world_free(struct world *w)
{
    dk_server_free(&w->s);
    dk_coap_ep_free(&w->srv);
    for (int i = 0; i < NDEV; i++)
        dk_coap_ep_free(&w->dev[i].ep);
    dk_fakenet_free(&w->net);
    dk_rng_free(&w->rng);
}

static const char LINKS[] = "</>;rt=\"oma.lwm2m\";ct=11542,</1/0>,</3/0>,</3303/0>,</3311/0>";

/* Sends a registration request from device i and settles. */
static int dev_send(struct world *w, int i, uint8_t method, const char *path, const char *query,
                    const char *links)
{
    struct device *d = &w->dev[i];
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, method, path);
    r.query = query;
    if (links) {
        r.content_format = DK_COAP_FMT_LINK;
        r.payload = (const uint8_t *)links;
        r.payload_len = strlen(links);
    }
    r.cb = on_reg_result;
    r.cb_user = d;
    d->code = -1;
    assert_int_equal(dk_coap_ep_request(&d->ep, &w->saddr, &r, w->now, NULL), 0);
    settle(w);
    return d->code;
}

static int dev_register(struct world *w, int i, const char *extra)
{
    char q[160];
    snprintf(q, sizeof q, "ep=%s&lt=300&lwm2m=1.1&b=U%s", w->dev[i].name, extra ? extra : "");
    return dev_send(w, i, DK_COAP_POST, "/rd", q, LINKS);
}

static size_t count_ev(const struct world *w, enum dk_server_event_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < w->nev; i++)
        n += w->ev[i].type == t;
    return n;
}

static const struct dk_server_event *last_ev(const struct world *w)
{
    assert_true(w->nev > 0);
    return &w->ev[w->nev - 1];
}

static uint32_t start_op(struct world *w, const char *ep, struct dk_server_op *op)
{
    op->cb = on_result;
    op->cb_user = w;
    uint32_t id = 0;
    assert_int_equal(dk_server_op_start(&w->s, ep, op, w->now, &id), 0);
    assert_true(id != 0);
    return id;
}

static struct dk_lwm2m_path P(const char *s) {
    struct dk_lwm2m_path p;
    assert_int_equal(dk_lwm2m_path_parse(s, strlen(s), &p), 0);
    return p;
}

static const struct result *
last_res(const struct world *w)
{
    assert_true(w->nres > 0);
    return &w->res[w->nres - 1];
}

static const struct capture *last_cap(const struct world *w, int i)
{
    assert_true(w->dev[i].ncap > 0);
    return &w->dev[i].cap[w->dev[i].ncap - 1];
}

/* ---- Registration interface ------------------------------------------------------------------ */

static void test_register_update_deregister(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    assert_int_equal(dev_register(w, 0, NULL), DK_COAP_CREATED);
    char loc[32];
    memcpy(loc, w->dev[0].location, sizeof loc);
    assert_int_equal(strlen(loc), 12); /* "/rd/" + 8 hex digits */
    assert_int_equal(strncmp(loc, "/rd/", 4), 0);
    assert_int_equal(w->auths, 1);
    assert_int_equal(w->last_auth.kind, DK_SERVER_AUTH_REGISTER);
    assert_string_equal(w->last_auth.ep, "dev1");
    assert_null(w->last_auth.info);
    assert_int_equal(count_ev(w, DK_SERVER_EV_REGISTERED), 1);
    assert_false(last_ev(w)->replaced);
    assert_int_equal(dk_server_count(&w->s), 1);

    struct dk_server_reg_info info;
    assert_int_equal(dk_server_get(&w->s, "dev1", &info, w->now), 0);
    assert_string_equal(info.location, loc);
    assert_int_equal(info.lifetime_s, 300);
    assert_string_equal(info.binding, "U");
    assert_string_equal(info.version, "1.1");
    assert_false(info.queue_mode);
    assert_string_equal(info.links, LINKS);
    assert_true(dk_addr_equal(info.peer, &w->dev[0].addr));
    assert_true(info.remaining_ms <= 315000 && info.remaining_ms > 270000); /* settle() ran 30 s */
    assert_true(w->store[0].present);
    assert_string_equal(w->store[0].info.location, loc);

    /* Update: new lifetime and object list. */
    run(w, w->now + 100000);
    static const char L2[] = "</>;rt=\"oma.lwm2m\",</1/0>,</3/0>";
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, loc, "lt=600", L2), DK_COAP_CHANGED);
    const struct dk_server_event *ev = last_ev(w);
    assert_int_equal(ev->type, DK_SERVER_EV_UPDATED);
    assert_int_equal(ev->changed, DK_SERVER_CHANGED_LIFETIME | DK_SERVER_CHANGED_LINKS);
    assert_int_equal(w->last_auth.kind, DK_SERVER_AUTH_UPDATE);
    assert_int_equal(dk_server_get(&w->s, "dev1", &info, w->now), 0);
    assert_int_equal(info.lifetime_s, 600);
    assert_string_equal(info.links, L2);
    assert_true(info.remaining_ms > 570000);
    assert_string_equal(w->store[0].links, L2);
    /* An empty Update (keep-alive) changes nothing but the expiry. */
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, loc, NULL, NULL), DK_COAP_CHANGED);
    assert_int_equal(last_ev(w)->changed, 0);

    /* Unknown locations and methods. */
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd/00000001", NULL, NULL), DK_COAP_NOT_FOUND);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd/xyz", NULL, NULL), DK_COAP_NOT_FOUND);
    assert_int_equal(dev_send(w, 0, DK_COAP_GET, "/rd", NULL, NULL), DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(dev_send(w, 0, DK_COAP_PUT, loc, NULL, NULL), DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/bs", "ep=x", NULL), DK_COAP_NOT_FOUND);

    /* De-register. */
    assert_int_equal(dev_send(w, 0, DK_COAP_DELETE, loc, NULL, NULL), DK_COAP_DELETED);
    assert_int_equal(last_ev(w)->type, DK_SERVER_EV_DEREGISTERED);
    assert_int_equal(dk_server_count(&w->s), 0);
    assert_false(w->store[0].present);
    assert_int_equal(dev_send(w, 0, DK_COAP_DELETE, loc, NULL, NULL), DK_COAP_NOT_FOUND);
    assert_int_equal(dk_server_deadline(&w->s), DK_TIME_NEVER);
    world_free(w);
}

static void test_expiry_and_defaults(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.grace_ms = 2000;
    world_start(w);
    /* No lt, no lwm2m, binding UQ: defaults 86400, 1.0, queue mode. */
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "ep=dev1&b=UQ", LINKS), DK_COAP_CREATED);
    struct dk_server_reg_info info;
    assert_int_equal(dk_server_get(&w->s, "dev1", &info, w->now), 0);
    assert_int_equal(info.lifetime_s, 86400);
    assert_string_equal(info.version, "1.0");
    assert_true(info.queue_mode);
    assert_int_equal(dev_send(w, 1, DK_COAP_POST, "/rd", "ep=dev2&lt=60&lwm2m=1.2&Q", LINKS),
                     DK_COAP_CREATED);
    assert_int_equal(dk_server_get(&w->s, "dev2", &info, w->now), 0);
    assert_true(info.queue_mode);
    dk_time_t due = dk_server_deadline(&w->s);
    assert_true(due <= w->now + 62000 && due > w->now + 25000);
    run(w, due - 1);
    assert_int_equal(count_ev(w, DK_SERVER_EV_EXPIRED), 0);
    run(w, due);
    assert_int_equal(count_ev(w, DK_SERVER_EV_EXPIRED), 1);
    assert_string_equal(w->ev_ep[w->nev - 1], "dev2");
    assert_int_equal(dk_server_count(&w->s), 1);
    assert_int_equal(dk_server_get(&w->s, "dev2", &info, w->now), DK_ENOTFOUND);
    world_free(w);
}

static void test_refusals(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.max_lifetime_s = 100000;
    world_start(w);
    /* Malformed. */
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "lt=60", LINKS), DK_COAP_BAD_REQUEST);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "ep=dev1&lt=0", LINKS),
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "ep=dev1&lt=100001", LINKS),
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "ep=dev1&lt=x", LINKS),
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "ep=dev1&lwm2m=2.0", LINKS),
                     DK_COAP_PRECONDITION_FAILED);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "ep=dev1&b=X", LINKS),
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "ep=dev1&b=UU", LINKS),
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "ep=dev1&ep=dev2", LINKS),
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "ep=dev1", "</3/0"), DK_COAP_BAD_REQUEST);
    struct device *d = &w->dev[0];
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, DK_COAP_POST, "/rd");
    r.query = "ep=dev1";
    r.content_format = DK_COAP_FMT_TEXT;
    r.payload = (const uint8_t *)"x";
    r.payload_len = 1;
    r.cb = on_reg_result;
    r.cb_user = d;
    assert_int_equal(dk_coap_ep_request(&d->ep, &w->saddr, &r, w->now, NULL), 0);
    settle(w);
    assert_int_equal(d->code, DK_COAP_UNSUPPORTED_CONTENT_FORMAT);
    assert_int_equal(w->auths, 0);
    assert_int_equal(w->nev, 0);

    /* Not authorised. */
    w->refuse_ep = "dev1";
    assert_int_equal(dev_register(w, 0, NULL), DK_COAP_FORBIDDEN);
    assert_int_equal(last_ev(w)->type, DK_SERVER_EV_REFUSED);
    assert_int_equal(last_ev(w)->auth_kind, DK_SERVER_AUTH_REGISTER);
    assert_string_equal(w->audit_what[w->naudit - 1], "register-refused");
    assert_int_equal(dk_server_count(&w->s), 0);
    assert_int_equal(w->persists, 0);

    /* Registered, then someone else (no longer authorised) updates or
     * de-registers: refused, registration unchanged. */
    w->refuse_ep = NULL;
    assert_int_equal(dev_register(w, 0, NULL), DK_COAP_CREATED);
    char loc[32];
    memcpy(loc, w->dev[0].location, sizeof loc);
    w->refuse_ep = "dev1";
    assert_int_equal(dev_send(w, 1, DK_COAP_POST, loc, "lt=999", NULL), DK_COAP_FORBIDDEN);
    assert_string_equal(w->audit_what[w->naudit - 1], "update-refused");
    assert_int_equal(dev_send(w, 1, DK_COAP_DELETE, loc, NULL, NULL), DK_COAP_FORBIDDEN);
    assert_string_equal(w->audit_what[w->naudit - 1], "deregister-refused");
    struct dk_server_reg_info info;
    assert_int_equal(dk_server_get(&w->s, "dev1", &info, w->now), 0);
    assert_int_equal(info.lifetime_s, 300);
    assert_true(dk_addr_equal(info.peer, &w->dev[0].addr));

    /* Persist failure undoes a registration: 5.00. */
    w->refuse_ep = NULL;
    w->persist_err = DK_EIO;
    assert_int_equal(dev_register(w, 1, NULL), DK_COAP_INTERNAL_SERVER_ERROR);
    assert_int_equal(dk_server_get(&w->s, "dev2", &info, w->now), DK_ENOTFOUND);
    world_free(w);

    /* Table full: 5.03. */
    world_init(w, false, 0);
    w->cfg.max_registrations = 1;
    world_start(w);
    assert_int_equal(dev_register(w, 0, NULL), DK_COAP_CREATED);
    assert_int_equal(dev_register(w, 1, NULL), DK_COAP_SERVICE_UNAVAILABLE);
    assert_int_equal(dev_register(w, 0, NULL), DK_COAP_CREATED); /* re-registration still works */
    world_free(w);
}

static void test_reregister_and_nat(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    assert_int_equal(dev_register(w, 0, NULL), DK_COAP_CREATED);
    char loc1[32];
    memcpy(loc1, w->dev[0].location, sizeof loc1);
    /* An observation in place. */
    struct dk_server_op op;
    struct dk_lwm2m_path p = P("/3303/0/5700");
    dk_server_op_init(&op, DK_SERVER_OBSERVE, &p);
    uint32_t id = start_op(w, "dev1", &op);
    settle(w);
    assert_true(last_res(w)->observing);
    /* The device registers again: new location, the observation ends. */
    assert_int_equal(dev_register(w, 0, NULL), DK_COAP_CREATED);
    assert_string_not_equal(w->dev[0].location, loc1);
    assert_true(last_ev(w)->replaced);
    assert_int_equal(last_res(w)->id, id);
    assert_int_equal(last_res(w)->status, DK_ECLOSED);
    assert_false(last_res(w)->observing);
    assert_int_equal(dk_server_op_count(&w->s), 0);
    assert_int_equal(dk_server_count(&w->s), 1);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, loc1, NULL, NULL), DK_COAP_NOT_FOUND);

    /* NAT rebinding: the Update comes from device 1's address; the
     * registration follows it, so operations go there. */
    char loc2[32];
    memcpy(loc2, w->dev[0].location, sizeof loc2);
    assert_int_equal(dev_send(w, 1, DK_COAP_POST, loc2, NULL, NULL), DK_COAP_CHANGED);
    assert_int_equal(last_ev(w)->changed, DK_SERVER_CHANGED_PEER);
    p = P("/3/0");
    dk_server_op_init(&op, DK_SERVER_READ, &p);
    size_t before = w->dev[1].ncap;
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(w->dev[1].ncap, before + 1);
    assert_int_equal(last_res(w)->code, DK_COAP_CONTENT);
    world_free(w);
}

/* ---- Device Management -------------------------------------------------------------------------
 */

static void test_read_formats(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    assert_int_equal(dev_register(w, 0, NULL), DK_COAP_CREATED);
    struct dk_server_op op;
    struct dk_lwm2m_path p = P("/3/0");
    static const int formats[] = {-1, DK_COAP_FMT_LWM2M_TLV, DK_COAP_FMT_SENML_JSON,
                                  DK_COAP_FMT_SENML_CBOR};
    for (size_t f = 0; f < 4; f++) {
        dk_server_op_init(&op, DK_SERVER_READ, &p);
        op.accept = formats[f];
        uint32_t id = start_op(w, "dev1", &op);
        settle(w);
        const struct result *r = last_res(w);
        assert_int_equal(r->id, id);
        assert_int_equal(r->status, 0);
        assert_int_equal(r->code, DK_COAP_CONTENT);
        assert_int_equal(r->cf, formats[f] < 0 ? DK_COAP_FMT_LWM2M_TLV : formats[f]);
        assert_int_equal(last_cap(w, 0)->accept, formats[f]);
        assert_string_equal(last_cap(w, 0)->path, "/3/0");
        assert_int_equal(r->decode_err, 0);
        assert_int_equal(r->n_recs, 3);
        assert_string_equal(r->strs[0], "duck");
        assert_string_equal(r->strs[1], "m1");
        assert_int_equal(r->values[2].type, DK_LWM2M_TYPE_INTEGER);
        assert_int_equal(r->values[2].v.i, 87);
        assert_string_equal(r->ep, "dev1");
        assert_false(r->observing);
    }
    /* A single resource: plain text by default, typed by the definitions. */
    p = P("/3303/0/5700");
    dk_server_op_init(&op, DK_SERVER_READ, &p);
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(last_res(w)->cf, DK_COAP_FMT_TEXT);
    assert_int_equal(last_res(w)->n_recs, 1);
    assert_int_equal(last_res(w)->values[0].type, DK_LWM2M_TYPE_FLOAT);
    assert_true(last_res(w)->values[0].v.f == 21.5);
    /* 4.06 for a format the device does not do; 4.04 for what it lacks. */
    dk_server_op_init(&op, DK_SERVER_READ, &p);
    op.accept = DK_COAP_FMT_LWM2M_JSON;
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(last_res(w)->code, DK_COAP_NOT_ACCEPTABLE);
    assert_int_equal(last_res(w)->n_recs, 0);
    p = P("/9/0");
    dk_server_op_init(&op, DK_SERVER_READ, &p);
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(last_res(w)->code, DK_COAP_NOT_FOUND);
    /* Unknown endpoint, bad path depth. */
    dk_server_op_init(&op, DK_SERVER_READ, &p);
    assert_int_equal(dk_server_op_start(&w->s, "nobody", &op, w->now, NULL), DK_ENOTFOUND);
    p = P("/3");
    dk_server_op_init(&op, DK_SERVER_EXECUTE, &p);
    assert_int_equal(dk_server_op_start(&w->s, "dev1", &op, w->now, NULL), DK_EINVAL);
    assert_int_equal(dk_server_op_count(&w->s), 0);
    world_free(w);
}

static void test_write_execute_create_delete(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    assert_int_equal(dev_register(w, 0, NULL), DK_COAP_CREATED);
    struct dk_server_op op;

    /* Write (replace) a resource as TLV and as SenML CBOR. */
    struct dk_lwm2m_path p = P("/3311/0/5850");
    struct dk_lwm2m_record rec = {p, dk_lwm2m_bool(true), 0};
    dk_server_op_init(&op, DK_SERVER_WRITE, &p);
    op.recs = &rec;
    op.n_recs = 1;
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(last_res(w)->code, DK_COAP_CHANGED);
    const struct capture *c = last_cap(w, 0);
    assert_int_equal(c->method, DK_COAP_PUT);
    assert_int_equal(c->cf, DK_COAP_FMT_LWM2M_TLV);
    assert_int_equal(c->len, 4); /* 16-bit resource id */
    assert_memory_equal(c->payload, "\xe1\x16\xda\x01", 4);
    assert_true(w->dev[0].light);
    rec.value = dk_lwm2m_bool(false);
    op.format = DK_COAP_FMT_SENML_CBOR;
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(last_cap(w, 0)->cf, DK_COAP_FMT_SENML_CBOR);
    assert_false(w->dev[0].light);

    /* Write (partial) an instance: POST. */
    struct dk_lwm2m_path inst = P("/3311/0");
    dk_server_op_init(&op, DK_SERVER_WRITE_PARTIAL, &inst);
    rec.value = dk_lwm2m_bool(true);
    op.recs = &rec;
    op.n_recs = 1;
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(last_cap(w, 0)->method, DK_COAP_POST);
    assert_string_equal(last_cap(w, 0)->path, "/3311/0");
    /* Records outside the path are refused before anything is sent. */
    struct dk_lwm2m_path other = P("/3/0");
    dk_server_op_init(&op, DK_SERVER_WRITE, &other);
    op.recs = &rec;
    op.n_recs = 1;
    assert_int_equal(dk_server_op_start(&w->s, "dev1", &op, w->now, NULL), DK_EINVAL);

    /* Execute with arguments. */
    struct dk_lwm2m_path reboot = P("/3/0/4");
    dk_server_op_init(&op, DK_SERVER_EXECUTE, &reboot);
    op.payload = "0='x'";
    op.payload_len = 5;
    start_op(w, "dev1", &op);
    settle(w);
    c = last_cap(w, 0);
    assert_int_equal(c->method, DK_COAP_POST);
    assert_string_equal(c->path, "/3/0/4");
    assert_int_equal(c->len, 5);
    assert_memory_equal(c->payload, "0='x'", 5);
    assert_int_equal(c->cf, -1);
    assert_int_equal(last_res(w)->code, DK_COAP_CHANGED);

    /* Create: the Location-Path comes back as a path. */
    struct dk_lwm2m_path obj = P("/3311");
    struct dk_lwm2m_record nr = {P("/3311/1/5850"), dk_lwm2m_bool(true), 0};
    dk_server_op_init(&op, DK_SERVER_CREATE, &obj);
    op.recs = &nr;
    op.n_recs = 1;
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(last_res(w)->code, DK_COAP_CREATED);
    char tmp[DK_LWM2M_PATH_STR_MAX];
    dk_lwm2m_path_str(&last_res(w)->created, tmp, sizeof tmp);
    assert_string_equal(tmp, "/3311/1");
    c = last_cap(w, 0);
    assert_int_equal(c->cf, DK_COAP_FMT_LWM2M_TLV);
    /* instance TLV 1 wrapping resource 5850 = true */
    assert_int_equal(c->len, 6);
    assert_memory_equal(c->payload, "\x04\x01\xe1\x16\xda\x01", 6);

    /* Delete. */
    struct dk_lwm2m_path one = P("/3311/1");
    dk_server_op_init(&op, DK_SERVER_DELETE, &one);
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(last_cap(w, 0)->method, DK_COAP_DELETE);
    assert_int_equal(last_res(w)->code, DK_COAP_DELETED);
    struct dk_lwm2m_path zero = P("/3311/0");
    dk_server_op_init(&op, DK_SERVER_DELETE, &zero);
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(last_res(w)->code, DK_COAP_METHOD_NOT_ALLOWED);

    /* Discover and Write-Attributes. */
    struct dk_lwm2m_path t = P("/3303/0");
    dk_server_op_init(&op, DK_SERVER_DISCOVER, &t);
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(last_cap(w, 0)->accept, DK_COAP_FMT_LINK);
    assert_int_equal(last_res(w)->cf, DK_COAP_FMT_LINK);
    assert_string_equal(last_res(w)->payload, "</3303/0>;pmin=10,</3303/0/5700>");
    assert_int_equal(last_res(w)->n_recs, 0);
    struct dk_lwm2m_attrs a;
    memset(&a, 0, sizeof a);
    a.set = DK_LWM2M_ATTR_PMIN | DK_LWM2M_ATTR_PMAX | DK_LWM2M_ATTR_GT | DK_LWM2M_ATTR_ST;
    a.unset = DK_LWM2M_ATTR_LT;
    a.pmin = 10;
    a.pmax = 60;
    a.gt = 25.5;
    a.st = 0.1;
    struct dk_lwm2m_path temp = P("/3303/0/5700");
    dk_server_op_init(&op, DK_SERVER_WRITE_ATTRS, &temp);
    op.attrs = &a;
    start_op(w, "dev1", &op);
    settle(w);
    c = last_cap(w, 0);
    assert_int_equal(c->method, DK_COAP_PUT);
    assert_string_equal(c->query, "pmin=10&pmax=60&gt=25.5&lt&st=0.1");
    assert_int_equal(c->len, 0);
    assert_int_equal(last_res(w)->code, DK_COAP_CHANGED);
    a.pmax = 5; /* pmax < pmin */
    assert_int_equal(dk_server_op_start(&w->s, "dev1", &op, w->now, NULL), DK_EINVAL);
    world_free(w);
}

static void test_observe(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    assert_int_equal(dev_register(w, 0, NULL), DK_COAP_CREATED);
    struct dk_server_op op;
    struct dk_lwm2m_path p = P("/3303/0/5700");
    dk_server_op_init(&op, DK_SERVER_OBSERVE, &p);
    op.accept = DK_COAP_FMT_SENML_JSON;
    uint32_t id = start_op(w, "dev1", &op);
    settle(w);
    assert_true(last_cap(w, 0)->observe);
    const struct result *r = last_res(w);
    assert_int_equal(r->code, DK_COAP_CONTENT);
    assert_true(r->observing);
    assert_false(r->notification);
    assert_int_equal(r->cf, DK_COAP_FMT_SENML_JSON);
    assert_true(r->values[0].v.f == 21.5);
    uint32_t found = 0;
    assert_int_equal(dk_server_observation_find(&w->s, "dev1", &p, &found), 0);
    assert_int_equal(found, id);

    /* Two notifications. */
    for (int k = 1; k <= 2; k++) {
        w->dev[0].temp = 21.5 + k;
        assert_int_equal(dk_coap_ep_notify(&w->dev[0].ep, "/3303/0/5700", w->now), 1);
        settle(w);
        r = last_res(w);
        assert_int_equal(r->id, id);
        assert_true(r->notification);
        assert_true(r->observing);
        assert_int_equal(r->n_recs, 1);
        assert_true(r->values[0].v.f == 21.5 + k);
    }
    size_t nres = w->nres;
    /* Active cancel: GET with Observe 1; the callback gets the final answer. */
    assert_int_equal(dk_server_observe_cancel(&w->s, id, w->now), 0);
    settle(w);
    assert_int_equal(w->nres, nres + 1);
    assert_false(last_res(w)->observing);
    assert_int_equal(dk_coap_ep_observer_count(&w->dev[0].ep), 0);
    assert_int_equal(dk_server_observation_find(&w->s, "dev1", &p, &found), DK_ENOTFOUND);
    assert_int_equal(dk_server_op_count(&w->s), 0);
    assert_int_equal(dk_server_observe_cancel(&w->s, id, w->now), DK_ENOTFOUND);

    /* Passive cancel: forgotten at once, the next notification gets a RST
     * and the device drops its observer. */
    id = start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(dk_coap_ep_observer_count(&w->dev[0].ep), 1);
    nres = w->nres;
    assert_int_equal(dk_server_op_cancel(&w->s, id, w->now), 0);
    assert_int_equal(dk_server_op_cancel(&w->s, id, w->now), DK_ENOTFOUND);
    w->dev[0].temp = 30;
    dk_coap_ep_notify(&w->dev[0].ep, "/3303/0/5700", w->now);
    settle(w);
    assert_int_equal(w->nres, nres);
    assert_int_equal(dk_coap_ep_observer_count(&w->dev[0].ep), 0);

    /* De-registration ends an observation with DK_ECLOSED; a read in flight
     * (sent before the De-register arrived) still gets its answer. */
    id = start_op(w, "dev1", &op);
    settle(w);
    struct dk_server_op rd;
    struct dk_lwm2m_path dev = P("/3/0");
    dk_server_op_init(&rd, DK_SERVER_READ, &dev);
    uint32_t rid = start_op(w, "dev1", &rd);
    nres = w->nres;
    assert_int_equal(dev_send(w, 0, DK_COAP_DELETE, w->dev[0].location, NULL, NULL),
                     DK_COAP_DELETED);
    assert_int_equal(w->nres, nres + 2);
    assert_int_equal(w->res[nres].id, id);
    assert_int_equal(w->res[nres].status, DK_ECLOSED);
    assert_int_equal(w->res[nres + 1].id, rid);
    assert_int_equal(w->res[nres + 1].status, 0);
    assert_int_equal(w->res[nres + 1].code, DK_COAP_CONTENT);
    assert_string_equal(w->res[nres + 1].ep, "dev1");
    assert_int_equal(dk_server_op_count(&w->s), 0);
    world_free(w);
}

static void test_timeout_and_forget(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    assert_int_equal(dev_register(w, 0, NULL), DK_COAP_CREATED);
    struct dk_server_op op;
    struct dk_lwm2m_path p = P("/3/0");
    dk_server_op_init(&op, DK_SERVER_READ, &p);
    /* The device goes silent: the read times out after the retransmissions. */
    w->net.loss_pct = 100;
    uint32_t id = start_op(w, "dev1", &op);
    run(w, w->now + 100000);
    assert_int_equal(last_res(w)->id, id);
    assert_int_equal(last_res(w)->status, DK_ETIMEDOUT);
    /* forget: in-flight operations end with DK_ECLOSED, REMOVED event,
     * persist(removed). */
    id = start_op(w, "dev1", &op);
    assert_int_equal(dk_server_forget(&w->s, "dev1", w->now), 0);
    assert_int_equal(last_res(w)->id, id);
    assert_int_equal(last_res(w)->status, DK_ECLOSED);
    assert_int_equal(last_ev(w)->type, DK_SERVER_EV_REMOVED);
    assert_false(w->store[0].present);
    assert_int_equal(dk_server_forget(&w->s, "dev1", w->now), DK_ENOTFOUND);
    assert_int_equal(dk_server_op_count(&w->s), 0);
    world_free(w);
}

static void test_alternate_root(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "ep=dev1&lt=300",
                              "</lwm2m>;rt=\"oma.lwm2m\",</lwm2m/3/0>,</lwm2m/3303/0>"),
                     DK_COAP_CREATED);
    struct dk_server_op op;
    struct dk_lwm2m_path p = P("/3/0");
    dk_server_op_init(&op, DK_SERVER_READ, &p);
    start_op(w, "dev1", &op);
    settle(w);
    assert_string_equal(last_cap(w, 0)->path, "/lwm2m/3/0");
    assert_int_equal(last_res(w)->n_recs, 3);
    world_free(w);
}

/* ---- Persistence, scale, memory ----------------------------------------------------------------
 */

static void test_persistence_round_trip(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    assert_int_equal(dev_register(w, 0, "&Q"), DK_COAP_CREATED);
    char loc[32];
    memcpy(loc, w->dev[0].location, sizeof loc);
    assert_true(w->store[0].present);
    /* The gateway restarts: a new engine, registrations restored. */
    struct stored saved = w->store[0];
    saved.info.ep = saved.ep;
    saved.info.links = saved.links;
    saved.info.peer = &saved.peer;
    dk_server_free(&w->s);
    dk_server_init(&w->s);
    world_start(w);
    run(w, w->now + 10000);
    saved.info.remaining_ms -= 10000;
    saved.info.coap = NULL;
    int persists = w->persists;
    assert_int_equal(dk_server_restore(&w->s, &saved.info, w->now), 0);
    assert_int_equal(w->persists, persists);
    assert_int_equal(dk_server_restore(&w->s, &saved.info, w->now), DK_EEXIST);
    struct dk_server_reg_info info;
    assert_int_equal(dk_server_get(&w->s, "dev1", &info, w->now), 0);
    assert_string_equal(info.location, loc);
    assert_string_equal(info.links, LINKS);
    assert_string_equal(info.version, "1.1");
    assert_string_equal(info.binding, "U");
    assert_true(info.queue_mode);
    assert_int_equal(info.lifetime_s, 300);
    assert_int_equal(info.remaining_ms, saved.info.remaining_ms);
    assert_ptr_equal(info.coap, &w->srv);
    /* The device's next Update at its old location is accepted. */
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, loc, NULL, NULL), DK_COAP_CHANGED);
    struct dk_server_op op;
    struct dk_lwm2m_path p = P("/3/0");
    dk_server_op_init(&op, DK_SERVER_READ, &p);
    start_op(w, "dev1", &op);
    settle(w);
    assert_int_equal(last_res(w)->code, DK_COAP_CONTENT);

    /* Restore refuses what it cannot use. */
    struct dk_server_reg_info bad = saved.info;
    bad.ep = "dev9";
    snprintf(bad.location, sizeof bad.location, "/rd/00000009");
    bad.remaining_ms = 0;
    assert_int_equal(dk_server_restore(&w->s, &bad, w->now), DK_ETIMEDOUT);
    bad.remaining_ms = 1000;
    snprintf(bad.location, sizeof bad.location, "/rd/zz");
    assert_int_equal(dk_server_restore(&w->s, &bad, w->now), DK_EINVAL);
    snprintf(bad.location, sizeof bad.location, "/rd/00000009");
    snprintf(bad.version, sizeof bad.version, "2.0");
    assert_int_equal(dk_server_restore(&w->s, &bad, w->now), DK_EINVAL);
    snprintf(bad.version, sizeof bad.version, "1.0");
    bad.links = "<broken";
    bad.links_len = 7;
    assert_int_equal(dk_server_restore(&w->s, &bad, w->now), DK_EINVAL);
    bad.links = "";
    bad.links_len = 0;
    bad.peer = NULL; /* address unknown: no operations until it updates */
    assert_int_equal(dk_server_restore(&w->s, &bad, w->now), 0);
    dk_server_op_init(&op, DK_SERVER_READ, &p);
    assert_int_equal(dk_server_op_start(&w->s, "dev9", &op, w->now, NULL), DK_ESTATE);
    run(w, w->now + 1000);
    assert_int_equal(dk_server_get(&w->s, "dev9", &info, w->now), DK_ENOTFOUND);
    assert_int_equal(last_ev(w)->type, DK_SERVER_EV_EXPIRED);
    world_free(w);
}

/* Loss, duplication and reordering: one registration, every operation
 * answered once. */
static void test_lossy_network(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->net.loss_pct = 20;
    w->net.dup_pct = 10;
    w->net.reorder_pct = 10;
    w->net.reorder_ms = 50;
    world_start(w);
    assert_int_equal(dev_send(w, 0, DK_COAP_POST, "/rd", "ep=dev1&lt=86400", LINKS),
                     DK_COAP_CREATED);
    run(w, w->now + 100000);
    assert_int_equal(count_ev(w, DK_SERVER_EV_REGISTERED), 1);
    struct dk_lwm2m_path p = P("/3/0");
    for (int i = 0; i < 10; i++) {
        struct dk_server_op op;
        dk_server_op_init(&op, DK_SERVER_READ, &p);
        op.accept = DK_COAP_FMT_SENML_CBOR;
        size_t nres = w->nres;
        start_op(w, "dev1", &op);
        run(w, w->now + 100000);
        assert_int_equal(w->nres, nres + 1);
        assert_int_equal(last_res(w)->code, DK_COAP_CONTENT);
        assert_int_equal(last_res(w)->n_recs, 3);
    }
    assert_true(w->net.dropped > 0);
    assert_int_equal(dk_server_op_count(&w->s), 0);
    world_free(w);
}

static int count_cb(void *user, const struct dk_server_reg_info *r)
{
    (*(size_t *)user)++;
    return 0;
}

/* Counts the bytes the engine holds. */
static size_t counted;

static void *count_alloc(void *user, size_t n)
{
    size_t *p = malloc(n + 16);
    if (!p)
        return NULL;
    *p = n;
    counted += n;
    return (uint8_t *)p + 16;
}

static void count_free(void *user, void *q)
{
    if (!q)
        return;
    size_t *p = (size_t *)((uint8_t *)q - 16);
    counted -= *p;
    free(p);
}

static const struct dk_alloc counting = {count_alloc, count_free, NULL};

static void test_many_registrations(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.alloc = &counting;
    counted = 0;
    world_start(w);
    size_t base = counted;
    enum { N = 20000 };
    struct dk_addr peer = w->dev[0].addr;
    for (unsigned i = 0; i < N; i++) {
        char ep[32];
        snprintf(ep, sizeof ep, "node-%05u", i);
        struct dk_server_reg_info r;
        memset(&r, 0, sizeof r);
        r.ep = ep;
        snprintf(r.location, sizeof r.location, "/rd/%08x", i + 1);
        r.lifetime_s = 3600;
        snprintf(r.binding, sizeof r.binding, "U");
        snprintf(r.version, sizeof r.version, "1.1");
        r.links = "</1/0>,</3/0>,</3303/0>,</3311/0>";
        r.links_len = strlen(r.links);
        r.peer = &peer;
        r.remaining_ms = 1000 + (dk_time_t)(i % 5000) * 1000;
        assert_int_equal(dk_server_restore(&w->s, &r, w->now), 0);
    }
    assert_int_equal(dk_server_count(&w->s), N);
    /* Compact state: engine bytes per registration (tables included,
     * allocator overhead not), with a 10-character name and 4 objects. */
    size_t per = (counted - base) / N;
    print_message("server: %zu bytes per registration\n", per);
    assert_true(per < 256);
    size_t n = 0;
    dk_server_foreach(&w->s, count_cb, &n, w->now);
    assert_int_equal(n, N);
    struct dk_server_reg_info info;
    assert_int_equal(dk_server_get(&w->s, "node-12345", &info, w->now), 0);
    assert_string_equal(info.location, "/rd/0000303a");
    /* Half of them expire in order. */
    dk_time_t t0 = w->now;
    w->nev_total = 0;
    dk_server_tick(&w->s, t0 + 2500 * 1000);
    assert_int_equal(w->nev_total, 2500 * (N / 5000));
    assert_int_equal(dk_server_count(&w->s), N - 2500 * (N / 5000));
    assert_true(dk_server_deadline(&w->s) > t0 + 2500 * 1000);
    for (unsigned i = 0; i < N; i += 7) {
        char ep[32];
        snprintf(ep, sizeof ep, "node-%05u", i);
        int rc = dk_server_forget(&w->s, ep, w->now);
        assert_true(rc == 0 || rc == DK_ENOTFOUND);
    }
    dk_server_tick(&w->s, t0 + 6000 * 1000);
    assert_int_equal(dk_server_count(&w->s), 0);
    world_free(w);
    assert_int_equal(counted, 0);
}

static void test_failalloc(void **state)
{
    for (long k = 1; k < 16; k++) {
        struct world *w = &W;
        world_init(w, true, k);
        int rc = dk_server_setup(&w->s, &w->cfg);
        if (rc) {
            assert_int_equal(rc, DK_ENOMEM);
            dk_server_free(&w->s);
            assert_int_equal(w->fa.live, 0);
            world_free(w);
            continue;
        }
        assert_int_equal(dk_server_attach(&w->s, &w->srv), 0);
        int code = dev_register(w, 0, NULL);
        assert_true(code == DK_COAP_CREATED || code == DK_COAP_INTERNAL_SERVER_ERROR);
        if (code == DK_COAP_CREATED) {
            struct dk_server_op op;
            struct dk_lwm2m_path p = P("/3303/0/5700");
            dk_server_op_init(&op, DK_SERVER_OBSERVE, &p);
            op.cb = on_result;
            op.cb_user = w;
            rc = dk_server_op_start(&w->s, "dev1", &op, w->now, NULL);
            assert_true(rc == 0 || rc == DK_ENOMEM);
            settle(w);
        }
        dk_server_free(&w->s);
        assert_int_equal(w->fa.live, 0);
        world_free(w);
    }
}

static void test_setup_errors(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    struct dk_server_config c = w->cfg;
    c.rng = NULL;
    assert_int_equal(dk_server_setup(&w->s, &c), DK_EINVAL);
    c = w->cfg;
    c.cbs.authorize = NULL;
    assert_int_equal(dk_server_setup(&w->s, &c), DK_EINVAL);
    assert_int_equal(dk_server_attach(&w->s, &w->srv), DK_ESTATE);
    dk_server_free(&w->s);
    world_start(w);
    assert_int_equal(dk_server_attach(&w->s, &w->srv), DK_EEXIST);
    assert_int_equal(dk_server_op_cancel(&w->s, 42, w->now), DK_ENOTFOUND);
    assert_string_equal(dk_server_op_name(DK_SERVER_WRITE_ATTRS), "write-attributes");
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_update_deregister),
        cmocka_unit_test(test_expiry_and_defaults),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_reregister_and_nat),
        cmocka_unit_test(test_read_formats),
        cmocka_unit_test(test_write_execute_create_delete),
        cmocka_unit_test(test_observe),
        cmocka_unit_test(test_timeout_and_forget),
        cmocka_unit_test(test_alternate_root),
        cmocka_unit_test(test_persistence_round_trip),
        cmocka_unit_test(test_lossy_network),
        cmocka_unit_test(test_many_registrations),
        cmocka_unit_test(test_failalloc),
        cmocka_unit_test(test_setup_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
