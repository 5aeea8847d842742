/* Test world for the client engine (see world.h). */
#include "world.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

struct world W;
void (*w_config_hook)(struct dk_client_config *cfg);

static const char *peer_ip[P_COUNT] = {"10.0.0.2", "10.0.0.3", "10.0.0.4"};
static const uint16_t peer_port[P_COUNT] = {5783, 5683, 5683};
static char peer_uri[P_COUNT][64];
static char loc_buf[P_COUNT][16];

/* ---- Peers: scripted servers --------------------------------------------------------- */

static void record_req(struct w_peer *p, const struct dk_coap_req *req)
{
    if (p->nreq >= W_MAX_REQ)
        return;
    struct w_req *r = &p->req[p->nreq++];
    memset(r, 0, sizeof *r);
    r->t = req->now;
    r->method = req->msg->code;
    dk_coap_msg_get_path(req->msg, DK_COAP_OPT_URI_PATH, r->path, sizeof r->path);
    size_t q = 0;
    for (const struct dk_coap_opt *o = dk_coap_msg_find(req->msg, DK_COAP_OPT_URI_QUERY); o;
         o = dk_coap_msg_find_next(req->msg, o)) {
        if (q + o->len + 2 >= sizeof r->query)
            break;
        if (q)
            r->query[q++] = '&';
        memcpy(r->query + q, dk_coap_opt_value(o), o->len);
        q += o->len;
    }
    r->query[q] = 0;
    uint32_t cf;
    r->cf = dk_coap_msg_get_uint(req->msg, DK_COAP_OPT_CONTENT_FORMAT, &cf) == 0 ? (int)cf : -1;
    r->len = req->payload_len < W_BODY ? req->payload_len : W_BODY;
    if (r->len)
        memcpy(r->body, req->payload, r->len);
}

static void peer_handler(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                         struct dk_coap_resp *resp)
{
    struct w_peer *p = user;
    int idx = (int)(p - W.peer);
    record_req(p, req);
    const struct w_req *r = &p->req[p->nreq - 1];
    if (idx == P_BS) {
        resp->msg.code = req->msg->code == DK_COAP_POST && strcmp(r->path, "/bs") == 0
                             ? p->bs_code
                             : DK_COAP_NOT_FOUND;
        return;
    }
    if (req->msg->code == DK_COAP_POST && strcmp(r->path, "/rd") == 0) {
        resp->msg.code = p->reg_code;
        if (p->reg_code == DK_COAP_CREATED) {
            p->reg_count++;
            snprintf(loc_buf[idx], sizeof loc_buf[idx], "%u", 10 + p->reg_count);
            dk_coap_msg_add_str(&resp->msg, DK_COAP_OPT_LOCATION_PATH, "rd");
            dk_coap_msg_add_str(&resp->msg, DK_COAP_OPT_LOCATION_PATH, loc_buf[idx]);
        }
    } else if (req->msg->code == DK_COAP_POST && strncmp(r->path, "/rd/", 4) == 0) {
        resp->msg.code = p->upd_code;
    } else if (req->msg->code == DK_COAP_DELETE && strncmp(r->path, "/rd/", 4) == 0) {
        resp->msg.code = DK_COAP_DELETED;
    } else {
        resp->msg.code = DK_COAP_NOT_FOUND;
    }
}

static void peer_result(struct dk_coap_ep *ep, void *user, uint32_t id,
                        const struct dk_coap_result *res)
{
    struct w_res *r = user;
    if (res->notification) {
        if (r->notifications < 64) {
            r->note_t[r->notifications] = W.now;
            size_t n = res->payload_len < 256 ? res->payload_len : 256;
            if (n)
                memcpy(r->note_body[r->notifications], res->payload, n);
            r->note_len[r->notifications] = n;
        }
        r->notifications++;
        r->observing = res->observing;
        r->code = res->msg ? res->msg->code : 0;
        return;
    }
    r->done = true;
    r->t = W.now;
    r->status = res->status;
    r->observing = res->observing;
    if (res->status)
        return;
    r->code = res->msg->code;
    uint32_t cf;
    r->cf = dk_coap_msg_get_uint(res->msg, DK_COAP_OPT_CONTENT_FORMAT, &cf) == 0 ? (int)cf : -1;
    r->location[0] = 0;
    if (dk_coap_msg_find(res->msg, DK_COAP_OPT_LOCATION_PATH))
        dk_coap_msg_get_path(res->msg, DK_COAP_OPT_LOCATION_PATH, r->location, sizeof r->location);
    r->len = res->payload_len < W_BODY - 1 ? res->payload_len : W_BODY - 1;
    if (r->len)
        memcpy(r->body, res->payload, r->len);
    r->body[r->len] = 0;
}

/* ---- Program side --------------------------------------------------------------------- */

static int find_peer_uri(const char *uri)
{
    for (int i = 0; i < P_COUNT; i++)
        if (strcmp(uri, peer_uri[i]) == 0)
            return i;
    return -1;
}

static int cb_open(void *user, const struct dk_client_transport *t)
{
    int idx = find_peer_uri(t->uri);
    if (W.nopen < 16) {
        W.open_ids[W.nopen] = t->id;
        W.open_peer[W.nopen] = idx;
        W.nopen++;
    }
    if (idx < 0)
        return DK_EINVAL;
    if (W.tmode == T_AUTO)
        assert_int_equal(dk_client_transport_up(&W.c, t->id, &W.peer[idx].addr, W.now), 0);
    else if (W.tmode == T_FAIL)
        assert_int_equal(dk_client_transport_down(&W.c, t->id, DK_EAUTH, W.now), 0);
    return 0;
}

static void cb_close(void *user, uint32_t id)
{
    if (W.nclosed < 64)
        W.closed[W.nclosed++] = id;
}

static int cb_persist(void *user, const struct dk_store_record *recs, size_t n)
{
    W.persist_calls++;
    if (W.persist_fail)
        return W.persist_fail;
    assert_true(n <= W_MAX_REC);
    W.nstored = 0;
    for (size_t i = 0; i < n; i++) {
        struct w_stored *s = &W.stored[W.nstored++];
        assert_true(strlen(recs[i].key) < sizeof s->key);
        assert_true(recs[i].len <= W_BODY);
        strcpy(s->key, recs[i].key);
        s->len = recs[i].len;
        memcpy(s->value, recs[i].value, recs[i].len);
    }
    return 0;
}

static int cb_wipe(void *user)
{
    W.wipe_calls++;
    W.nstored = 0;
    return 0;
}

static void cb_event(void *user, const struct dk_client_event *ev)
{
    if (W.nev < W_MAX_EV)
        W.ev[W.nev++] = *ev;
}

static int drv_led(void *user, bool on, uint8_t dimmer)
{
    W.led_on = on;
    W.led_dimmer = dimmer;
    W.led_calls++;
    return 0;
}

static int drv_temp(void *user, double *v)
{
    *v = W.temperature;
    return 0;
}

static int drv_lux(void *user, double *v)
{
    *v = W.lux;
    return 0;
}

static int drv_mem(void *user, int64_t *fr, int64_t *tot)
{
    *fr = 1234;
    *tot = 4096;
    return 0;
}

/* ---- Setup ------------------------------------------------------------------------------- */

int w_init(long fail_at)
{
    memset(&W, 0, sizeof W);
    W.now = 1000000;
    dk_fakenet_init(&W.net, 42);
    W.net.latency_ms = 5;
    dk_rng_init(&W.rng);
    assert_int_equal(dk_rng_setup_deterministic(&W.rng, "client-tests", 12), 0);
    dk_addr_from_ip(&W.caddr, "10.0.0.1", 56830);
    W.temperature = 21.5;
    W.lux = 300;

    dk_coap_config_init(&W.pcfg);
    W.pcfg.rng = &W.rng;
    W.pcfg.ack_timeout_ms = 1000;
    W.pcfg.ack_random_factor_pm = 1000;
    W.pcfg.notify_con_every = 1;
    for (int i = 0; i < P_COUNT; i++) {
        struct w_peer *p = &W.peer[i];
        dk_addr_from_ip(&p->addr, peer_ip[i], peer_port[i]);
        snprintf(peer_uri[i], sizeof peer_uri[i], "coap://%s:%u", peer_ip[i], peer_port[i]);
        dk_coap_ep_init(&p->ep);
        assert_int_equal(dk_coap_ep_setup(&p->ep, &W.pcfg), 0);
        dk_coap_ep_set_handler(&p->ep, peer_handler, p);
        p->bs_code = DK_COAP_CHANGED;
        p->reg_code = DK_COAP_CREATED;
        p->upd_code = DK_COAP_CHANGED;
    }

    dk_coap_config_init(&W.ccfg);
    W.ccfg.rng = &W.rng;
    W.ccfg.ack_timeout_ms = 1000; /* exact timing: no random factor */
    W.ccfg.ack_random_factor_pm = 1000;
    W.ccfg.max_retransmit = 2; /* an exchange fails 1+2+4 = 7 s after the first send */
    W.ccfg.notify_con_every = 1;
    W.ccfg.log = NULL;
    if (fail_at >= 0) {
        dk_failalloc_init(&W.fa, fail_at, 0);
        W.use_fa = true;
        W.ccfg.alloc = &W.fa.iface;
    }

    struct dk_client_config *c = &W.cfg;
    dk_client_config_init(c);
    c->endpoint = "055192";
    c->bs_uri = peer_uri[P_BS];
    c->bs_sec.mode = DK_CLIENT_SEC_NOSEC;
    c->device.manufacturer = "duckling";
    c->device.model = "duck-1";
    c->device.serial = "SN-055192";
    c->device.firmware_version = "0.1.0";
    c->driver.set_led = drv_led;
    c->driver.read_temperature = drv_temp;
    c->driver.read_illuminance = drv_lux;
    c->driver.read_memory = drv_mem;
    c->coap = &W.ccfg;
    c->rng = &W.rng;
    c->alloc = W.use_fa ? &W.fa.iface : NULL;
    c->cbs.open_transport = cb_open;
    c->cbs.close_transport = cb_close;
    c->cbs.persist = cb_persist;
    c->cbs.wipe = cb_wipe;
    c->cbs.event = cb_event;
    c->bs_timeout_ms = 30000;
    c->reg_retry_ms = 2000;
    c->reg_retries = 3;
    if (w_config_hook)
        w_config_hook(c);
    dk_client_init(&W.c);
    return dk_client_setup(&W.c, c);
}

void w_free(void)
{
    dk_client_free(&W.c);
    for (int i = 0; i < P_COUNT; i++)
        dk_coap_ep_free(&W.peer[i].ep);
    dk_fakenet_free(&W.net);
    dk_rng_free(&W.rng);
    if (W.use_fa)
        assert_int_equal(W.fa.live, 0); /* no leak */
}

int w_start(void)
{
    return dk_client_start(&W.c, W.now);
}

/* ---- Running -------------------------------------------------------------------------------- */

static int peer_at(const struct dk_addr *a)
{
    for (int i = 0; i < P_COUNT; i++)
        if (dk_addr_equal(a, &W.peer[i].addr))
            return i;
    return -1;
}

static bool pump(void)
{
    bool any = false;
    uint8_t buf[2048];
    struct dk_addr to;
    int n;
    while ((n = dk_client_pop_tx(&W.c, &to, buf, sizeof buf)) > 0) {
        any = true;
        int idx = peer_at(&to);
        if (idx >= 0 && W.peer[idx].drop_in)
            continue;
        dk_fakenet_send(&W.net, &W.caddr, &to, buf, (size_t)n, W.now);
    }
    for (int i = 0; i < P_COUNT; i++) {
        while ((n = dk_coap_ep_pop_tx(&W.peer[i].ep, &to, buf, sizeof buf)) > 0) {
            any = true;
            dk_fakenet_send(&W.net, &W.peer[i].addr, &to, buf, (size_t)n, W.now);
        }
    }
    return any;
}

static bool deliver(void)
{
    static struct dk_fakenet_dgram d;
    bool any = false;
    while (dk_fakenet_recv(&W.net, W.now, &d)) {
        any = true;
        if (dk_addr_equal(&d.to, &W.caddr)) {
            dk_client_recv(&W.c, &d.from, d.data, d.len, W.now);
        } else {
            int idx = peer_at(&d.to);
            if (idx >= 0)
                dk_coap_ep_recv(&W.peer[idx].ep, &d.from, d.data, d.len, W.now);
        }
        pump();
    }
    return any;
}

static dk_time_t next_time(void)
{
    dk_time_t t = dk_fakenet_next_time(&W.net);
    t = dk_time_min(t, dk_client_deadline(&W.c));
    for (int i = 0; i < P_COUNT; i++)
        t = dk_time_min(t, dk_coap_ep_deadline(&W.peer[i].ep));
    return t;
}

static void step_now(void)
{
    for (int spins = 0;; spins++) {
        assert_true(spins < 1000); /* something keeps its deadline in the past */
        bool any = pump();
        any |= deliver();
        if (dk_client_deadline(&W.c) <= W.now) {
            dk_client_tick(&W.c, W.now);
            any = true;
        }
        for (int i = 0; i < P_COUNT; i++) {
            if (dk_coap_ep_deadline(&W.peer[i].ep) <= W.now) {
                dk_coap_ep_tick(&W.peer[i].ep, W.now);
                any = true;
            }
        }
        any |= pump();
        if (!any || next_time() > W.now)
            break;
    }
}

void w_run_until(dk_time_t until)
{
    for (;;) {
        step_now();
        dk_time_t t = next_time();
        if (t > until) {
            W.now = until;
            step_now();
            return;
        }
        W.now = t > W.now ? t : W.now;
    }
}

void w_run(dk_time_t ms)
{
    w_run_until(W.now + ms);
}

bool w_run_while_not(bool (*pred)(void), dk_time_t timeout)
{
    dk_time_t end = W.now + timeout;
    step_now();
    while (!pred() && W.now < end) {
        dk_time_t t = next_time();
        if (t > end)
            t = end;
        W.now = t > W.now ? t : W.now;
        step_now();
    }
    return pred();
}

uint32_t w_request_start(int peer, uint8_t method, const char *path, const char *query, int cf,
                         int accept, const void *payload, size_t len, bool observe, struct w_res *r)
{
    memset(r, 0, sizeof *r);
    struct dk_coap_client_req q;
    dk_coap_client_req_init(&q, method, path);
    q.query = query;
    q.content_format = cf;
    q.accept = accept;
    q.payload = payload;
    q.payload_len = len;
    q.observe = observe;
    q.cb = peer_result;
    q.cb_user = r;
    uint32_t id = 0;
    assert_int_equal(dk_coap_ep_request(&W.peer[peer].ep, &W.caddr, &q, W.now, &id), 0);
    return id;
}

static struct w_res *g_res;
static bool res_done(void)
{
    return g_res->done;
}

struct w_res *w_request(int peer, uint8_t method, const char *path, const char *query, int cf,
                        int accept, const void *payload, size_t len, bool observe)
{
    static struct w_res res;
    w_request_start(peer, method, path, query, cf, accept, payload, len, observe, &res);
    g_res = &res;
    w_run_while_not(res_done, 60000);
    assert_true(res.done);
    return &res;
}

/* ---- Bootstrap helpers ------------------------------------------------------------------- */

uint8_t w_bs_write(int cf, const char *path, const struct dk_lwm2m_record *recs, size_t n)
{
    static uint8_t buf[W_BODY];
    struct dk_buf b;
    dk_buf_init(&b, buf, sizeof buf);
    struct dk_lwm2m_path base;
    assert_int_equal(dk_lwm2m_path_parse(path, strlen(path), &base), 0);
    assert_int_equal(dk_lwm2m_encode(cf, &base, recs, n, &b), 0);
    struct w_res *r = w_request(P_BS, DK_COAP_PUT, path, NULL, cf, -1, buf, b.len, false);
    return r->status ? 0 : r->code;
}

uint8_t w_bs_write_account(int cf, uint16_t sec_iid, uint16_t srv_iid, uint16_t ssid, int peer,
                           uint32_t lifetime)
{
    struct dk_lwm2m_record sec[] = {
        {dk_lwm2m_path_res(0, sec_iid, 0), dk_lwm2m_str(peer_uri[peer]), 0},
        {dk_lwm2m_path_res(0, sec_iid, 1), dk_lwm2m_bool(false), 0},
        {dk_lwm2m_path_res(0, sec_iid, 2), dk_lwm2m_int(DK_CLIENT_SEC_NOSEC), 0},
        {dk_lwm2m_path_res(0, sec_iid, 3), dk_lwm2m_opaque("", 0), 0},
        {dk_lwm2m_path_res(0, sec_iid, 4), dk_lwm2m_opaque("", 0), 0},
        {dk_lwm2m_path_res(0, sec_iid, 5), dk_lwm2m_opaque("", 0), 0},
        {dk_lwm2m_path_res(0, sec_iid, 10), dk_lwm2m_int(ssid), 0},
    };
    char path[32];
    snprintf(path, sizeof path, "/0/%u", sec_iid);
    uint8_t code = w_bs_write(cf, path, sec, sizeof sec / sizeof sec[0]);
    if (code != DK_COAP_CHANGED)
        return code;
    struct dk_lwm2m_record srv[] = {
        {dk_lwm2m_path_res(1, srv_iid, 0), dk_lwm2m_int(ssid), 0},
        {dk_lwm2m_path_res(1, srv_iid, 1), dk_lwm2m_int(lifetime), 0},
        {dk_lwm2m_path_res(1, srv_iid, 6), dk_lwm2m_bool(false), 0},
        {dk_lwm2m_path_res(1, srv_iid, 7), dk_lwm2m_str("U"), 0},
    };
    snprintf(path, sizeof path, "/1/%u", srv_iid);
    return w_bs_write(cf, path, srv, sizeof srv / sizeof srv[0]);
}

static bool bs_requested(void)
{
    return w_count_req(P_BS, DK_COAP_POST, "/bs") > 0;
}

static bool registered(void)
{
    return dk_client_state(&W.c) == DK_CLIENT_REGISTERED;
}

void w_bootstrap_to_s1(void)
{
    assert_int_equal(w_start(), 0);
    assert_true(w_run_while_not(bs_requested, 10000));
    w_run(100);
    struct w_res *r = w_request(P_BS, DK_COAP_DELETE, "/", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(r->code, DK_COAP_DELETED);
    assert_int_equal(w_bs_write_account(DK_LWM2M_CF_TLV, 1, 0, 101, P_S1, 300), DK_COAP_CHANGED);
    r = w_request(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(r->code, DK_COAP_CHANGED);
    assert_true(w_run_while_not(registered, 10000));
}

/* ---- Queries ------------------------------------------------------------------------------- */

size_t w_count_events(enum dk_client_event_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < W.nev; i++)
        n += W.ev[i].type == t;
    return n;
}

const struct dk_client_event *w_last_event(enum dk_client_event_type t)
{
    for (size_t i = W.nev; i-- > 0;)
        if (W.ev[i].type == t)
            return &W.ev[i];
    return NULL;
}

size_t w_count_req(int peer, uint8_t method, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < W.peer[peer].nreq; i++) {
        const struct w_req *r = &W.peer[peer].req[i];
        n += r->method == method && strncmp(r->path, prefix, strlen(prefix)) == 0;
    }
    return n;
}

const struct w_req *w_last_req(int peer, uint8_t method, const char *prefix)
{
    for (size_t i = W.peer[peer].nreq; i-- > 0;) {
        const struct w_req *r = &W.peer[peer].req[i];
        if (r->method == method && strncmp(r->path, prefix, strlen(prefix)) == 0)
            return r;
    }
    return NULL;
}

size_t w_records(struct dk_store_record *out, size_t cap)
{
    size_t n = W.nstored < cap ? W.nstored : cap;
    for (size_t i = 0; i < n; i++) {
        out[i].key = W.stored[i].key;
        out[i].value = W.stored[i].value;
        out[i].len = W.stored[i].len;
    }
    return n;
}
