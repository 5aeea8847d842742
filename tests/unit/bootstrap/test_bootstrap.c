/* Bootstrap Server engine: the Bootstrap-Request decision (OOB records, peer
 * credentials as the DTLS endpoint reports them, approvals) and the
 * provisioning sequence, against a scripted LwM2M client built on a
 * dk_coap_ep over the fake network, with a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <duckling/bootstrap.h>
#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/lwm2m.h>
#include <duckling/mem.h>

#include "fakenet.h"

/* ---- The world --------------------------------------------------------------------- */

#define MAX_CAP 64
#define MAX_EV 128
#define MAX_OVR 8

struct capture {
    uint8_t method;
    char path[64];
    int cf, accept;
    size_t len;
    uint8_t payload[4096];
};

struct override {
    uint8_t method;
    const char *path;
    uint8_t code; /* 0: never answer (separate response that never comes) */
};

struct audit_line {
    char ep[80];
    char what[40];
    char detail[320];
};

struct world {
    struct dk_fakenet net;
    dk_time_t now;
    struct dk_rng rng;
    struct dk_coap_config ccfg;
    struct dk_coap_ep srv, cli;
    struct dk_addr saddr, caddr;
    struct dk_bs bs;
    struct dk_bs_config cfg;
    struct dk_failalloc fa;

    /* OOB records the program knows. */
    struct dk_oob_msg recs[8];
    size_t nrecs;
    int find_err; /* nonzero: find_oob fails with this */
    /* What the DTLS endpoint says about the client. */
    bool secure;
    struct dk_dtls_peer_info info;

    /* prepare() */
    int prepare_err;
    enum dk_bs_sec_mode op_mode;
    int prepares;
    /* decide() */
    bool use_decide;
    enum dk_bs_decision decision;
    int decides;
    struct dk_bs_request last_rq;
    char last_rq_type[40];
    bool last_rq_match;

    /* Events and audit. */
    struct dk_bs_event ev[MAX_EV];
    enum dk_bs_reason ev_reason[MAX_EV];
    char ev_step[MAX_EV][40];
    char ev_ep[MAX_EV][80];
    size_t nev;
    struct audit_line audit[MAX_EV];
    size_t naudit;

    /* The scripted client. */
    struct capture cap[MAX_CAP];
    size_t ncap;
    struct override ovr[MAX_OVR];
    size_t novr;
    const char *discover; /* answer to GET /0 (link format); NULL: 4.04 */
    int bs_code;          /* last answer to our Bootstrap-Request, -1: none yet, -2: error */
    int bs_status;
    uint32_t bs_max_age;
    int nbs;
    size_t ncap_at_result; /* requests the client had seen when the answer came */
};

static struct world W;

/* ---- Callbacks of the program ------------------------------------------------------- */

static int cb_find_oob(void *user, const char *ep, struct dk_oob_msg *out)
{
    struct world *w = user;
    if (w->find_err)
        return w->find_err;
    for (size_t i = 0; i < w->nrecs; i++)
        if (strcmp(w->recs[i].endpoint, ep) == 0) {
            *out = w->recs[i];
            return 0;
        }
    return DK_ENOTFOUND;
}

static const struct dk_dtls_peer_info *cb_peer_info(void *user, struct dk_coap_ep *coap,
                                                    const struct dk_addr *peer)
{
    struct world *w = user;
    assert_ptr_equal(coap, &w->srv);
    return w->secure ? &w->info : NULL;
}

static int cb_prepare(void *user, const struct dk_bs_request *rq, const struct dk_oob_msg *rec,
                      struct dk_bs_plan *plan)
{
    struct world *w = user;
    w->prepares++;
    assert_true(rq->match);
    assert_string_equal(rec->endpoint, rq->ep);
    if (w->prepare_err)
        return w->prepare_err;
    struct dk_bs_server_account *a = &plan->server;
    a->mode = w->op_mode;
    if (w->op_mode == DK_BS_SEC_PSK) {
        memcpy(a->identity, "op-dev1", 7);
        a->identity_len = 7;
        for (int i = 0; i < 16; i++)
            a->secret[i] = (uint8_t)i;
        a->secret_len = 16;
    } else if (w->op_mode == DK_BS_SEC_CERT) {
        memset(a->identity, 0x30, 600); /* stands for a DER certificate */
        a->identity_len = 600;
        memset(a->server_key, 0x31, 500);
        a->server_key_len = 500;
        memset(a->secret, 0x32, 138);
        a->secret_len = 138;
    }
    return 0;
}

static enum dk_bs_decision cb_decide(void *user, const struct dk_bs_request *rq)
{
    struct world *w = user;
    w->decides++;
    w->last_rq_match = rq->match;
    return w->decision;
}

static void cb_event(void *user, const struct dk_bs_event *ev)
{
    struct world *w = user;
    assert_true(w->nev < MAX_EV);
    w->ev_reason[w->nev] = ev->reason;
    snprintf(w->ev_step[w->nev], sizeof w->ev_step[0], "%s", ev->step ? ev->step : "");
    snprintf(w->ev_ep[w->nev], sizeof w->ev_ep[0], "%s", ev->ep ? ev->ep : "");
    w->ev[w->nev] = *ev;
    if (ev->rq && ev->type == DK_BS_EV_REQUEST) {
        w->last_rq = *ev->rq;
        snprintf(w->last_rq_type, sizeof w->last_rq_type, "%s", ev->rq->type);
    }
    w->nev++;
}

static void cb_audit(void *user, const char *ep, const char *what, const char *detail)
{
    struct world *w = user;
    assert_true(w->naudit < MAX_EV);
    struct audit_line *a = &w->audit[w->naudit++];
    snprintf(a->ep, sizeof a->ep, "%s", ep);
    snprintf(a->what, sizeof a->what, "%s", what);
    snprintf(a->detail, sizeof a->detail, "%s", detail);
}

/* ---- The scripted client -------------------------------------------------------------- */

static void client_handler(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                           struct dk_coap_resp *resp)
{
    struct world *w = user;
    assert_true(w->ncap < MAX_CAP);
    struct capture *c = &w->cap[w->ncap++];
    c->method = req->msg->code;
    assert_true(dk_coap_msg_get_path(req->msg, DK_COAP_OPT_URI_PATH, c->path, sizeof c->path) >= 0);
    uint32_t v;
    c->cf = dk_coap_msg_get_uint(req->msg, DK_COAP_OPT_CONTENT_FORMAT, &v) == 0 ? (int)v : -1;
    c->accept = dk_coap_msg_get_uint(req->msg, DK_COAP_OPT_ACCEPT, &v) == 0 ? (int)v : -1;
    assert_true(req->payload_len <= sizeof c->payload);
    c->len = req->payload_len;
    if (req->payload_len)
        memcpy(c->payload, req->payload, req->payload_len);

    for (size_t i = 0; i < w->novr; i++)
        if (w->ovr[i].method == c->method && strcmp(w->ovr[i].path, c->path) == 0) {
            if (w->ovr[i].code == 0)
                resp->defer = true; /* and never answer */
            else
                resp->msg.code = w->ovr[i].code;
            return;
        }
    switch (c->method) {
    case DK_COAP_DELETE:
        resp->msg.code = DK_COAP_DELETED;
        break;
    case DK_COAP_PUT:
        resp->msg.code = DK_COAP_CHANGED;
        break;
    case DK_COAP_POST:
        resp->msg.code = DK_COAP_CHANGED;
        break;
    case DK_COAP_GET:
        if (!w->discover) {
            resp->msg.code = DK_COAP_NOT_FOUND;
            break;
        }
        resp->msg.code = DK_COAP_CONTENT;
        dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_CONTENT_FORMAT, DK_COAP_FMT_LINK);
        dk_coap_msg_set_payload(&resp->msg, w->discover, strlen(w->discover));
        break;
    default:
        resp->msg.code = DK_COAP_METHOD_NOT_ALLOWED;
    }
}

static void on_bs_result(struct dk_coap_ep *ep, void *user, uint32_t id,
                         const struct dk_coap_result *res)
{
    struct world *w = user;
    w->nbs++;
    w->ncap_at_result = w->ncap;
    w->bs_status = res->status;
    w->bs_code = res->msg ? res->msg->code : -2;
    uint32_t age = 0;
    w->bs_max_age =
        res->msg && dk_coap_msg_get_uint(res->msg, DK_COAP_OPT_MAX_AGE, &age) == 0 ? age : 0;
}

/* ---- Running --------------------------------------------------------------------------- */

static void drain(struct world *w)
{
    uint8_t buf[2048];
    struct dk_addr to;
    int n;
    while ((n = dk_coap_ep_pop_tx(&w->cli, &to, buf, sizeof buf)) > 0)
        dk_fakenet_send(&w->net, &w->caddr, &to, buf, (size_t)n, w->now);
    while ((n = dk_coap_ep_pop_tx(&w->srv, &to, buf, sizeof buf)) > 0)
        dk_fakenet_send(&w->net, &w->saddr, &to, buf, (size_t)n, w->now);
}

static void run(struct world *w, dk_time_t until)
{
    for (int guard = 0; guard < 100000; guard++) {
        drain(w);
        dk_time_t next = dk_fakenet_next_time(&w->net);
        next = dk_time_min(next, dk_coap_ep_deadline(&w->cli));
        next = dk_time_min(next, dk_coap_ep_deadline(&w->srv));
        next = dk_time_min(next, dk_bs_deadline(&w->bs));
        if (next > until) {
            w->now = until;
            return;
        }
        if (next > w->now)
            w->now = next;
        static struct dk_fakenet_dgram d;
        while (dk_fakenet_recv(&w->net, w->now, &d)) {
            struct dk_coap_ep *ep = dk_addr_equal(&d.to, &w->saddr) ? &w->srv : &w->cli;
            dk_coap_ep_recv(ep, &d.from, d.data, d.len, w->now);
        }
        dk_coap_ep_tick(&w->cli, w->now);
        dk_coap_ep_tick(&w->srv, w->now);
        dk_bs_tick(&w->bs, w->now);
    }
    fail_msg("world did not settle");
}

static void add_record(struct world *w, const char *ep, enum dk_oob_cred cred,
                       enum dk_oob_channel ch, const uint8_t *val, size_t len)
{
    struct dk_oob_msg *m = &w->recs[w->nrecs++];
    memset(m, 0, sizeof *m);
    snprintf(m->endpoint, sizeof m->endpoint, "%s", ep);
    snprintf(m->type, sizeof m->type, "LED");
    m->channel = ch;
    m->cred_type = cred;
    if (len)
        memcpy(m->cred, val, len);
    m->cred_len = len;
}

static const uint8_t PSK[16] = {0x5b, 0xd1, 0xf1, 0x20, 0x73, 0x5d, 0x1b, 0xa4,
                                0xe2, 0xd2, 0x14, 0x9a, 0xeb, 0x89, 0x18, 0x50};
static uint8_t CERT_SHA[32], SPKI_SHA[32];

static void peer_psk(struct world *w, const char *identity)
{
    memset(&w->info, 0, sizeof w->info);
    w->secure = true;
    w->info.mode = DK_DTLS_MODE_PSK;
    w->info.psk_identity_len = strlen(identity);
    memcpy(w->info.psk_identity, identity, strlen(identity));
}

static void peer_cert(struct world *w, const char *cn, bool rpk)
{
    memset(&w->info, 0, sizeof w->info);
    w->secure = true;
    w->info.mode = rpk ? DK_DTLS_MODE_RPK : DK_DTLS_MODE_CERT;
    w->info.has_spki = true;
    memcpy(w->info.spki_sha256, SPKI_SHA, 32);
    if (!rpk) {
        w->info.has_cert = true;
        memcpy(w->info.cert_sha256, CERT_SHA, 32);
        snprintf(w->info.cert_cn, sizeof w->info.cert_cn, "%s", cn);
    }
}

static void world_init(struct world *w, bool failalloc, long fail_at)
{
    memset(w, 0, sizeof *w);
    dk_fakenet_init(&w->net, 7);
    w->net.latency_ms = 5;
    w->now = 1000000;
    dk_rng_init(&w->rng);
    assert_int_equal(dk_rng_setup_deterministic(&w->rng, "bs", 2), 0);
    dk_addr_from_ip(&w->caddr, "10.0.0.1", 40000);
    dk_addr_from_ip(&w->saddr, "10.0.0.2", 5784);
    dk_coap_config_init(&w->ccfg);
    w->ccfg.rng = &w->rng;
    dk_coap_ep_init(&w->srv);
    dk_coap_ep_init(&w->cli);
    assert_int_equal(dk_coap_ep_setup(&w->srv, &w->ccfg), 0);
    assert_int_equal(dk_coap_ep_setup(&w->cli, &w->ccfg), 0);
    dk_coap_ep_set_handler(&w->cli, client_handler, w);
    for (int i = 0; i < 32; i++) {
        CERT_SHA[i] = (uint8_t)(0xc0 + i);
        SPKI_SHA[i] = (uint8_t)(0x50 + i);
    }
    dk_bs_config_init(&w->cfg);
    w->cfg.server_uri = "coaps://gw:5684";
    w->cfg.cbs = (struct dk_bs_callbacks){cb_find_oob, cb_peer_info, NULL, cb_prepare,
                                          cb_event,    cb_audit,     w};
    if (failalloc) {
        dk_failalloc_init(&w->fa, fail_at, 1);
        w->cfg.alloc = &w->fa.iface;
    }
    w->bs_code = -1;
    w->discover = "</>;lwm2m=1.1,</0/0>,</1>,</3/0>";
    dk_bs_init(&w->bs);
}

static void world_start(struct world *w)
{
    if (w->use_decide)
        w->cfg.cbs.decide = cb_decide;
    assert_int_equal(dk_bs_setup(&w->bs, &w->cfg), 0);
    assert_int_equal(dk_bs_attach(&w->bs, &w->srv), 0);
}

static void world_free(struct world *w)
{
    dk_bs_free(&w->bs);
    dk_coap_ep_free(&w->srv);
    dk_coap_ep_free(&w->cli);
    dk_fakenet_free(&w->net);
    dk_rng_free(&w->rng);
}

/* Sends POST /bs?<query> and runs until everything settled (or `for_ms`). */
static void bs_request_for(struct world *w, const char *query, dk_time_t for_ms)
{
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, DK_COAP_POST, "/bs");
    r.query = query;
    r.cb = on_bs_result;
    r.cb_user = w;
    w->bs_code = -1;
    w->ncap = 0;
    assert_int_equal(dk_coap_ep_request(&w->cli, &w->saddr, &r, w->now, NULL), 0);
    run(w, w->now + for_ms);
}

static void bs_request(struct world *w, const char *query)
{
    bs_request_for(w, query, 200000);
}

static size_t count_ev(const struct world *w, enum dk_bs_event_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < w->nev; i++)
        n += w->ev[i].type == t;
    return n;
}

static const struct dk_bs_event *last_ev(const struct world *w, enum dk_bs_event_type t,
                                         size_t *idx)
{
    for (size_t i = w->nev; i-- > 0;)
        if (w->ev[i].type == t) {
            if (idx)
                *idx = i;
            return &w->ev[i];
        }
    return NULL;
}

static const struct audit_line *last_audit(const struct world *w)
{
    assert_true(w->naudit > 0);
    return &w->audit[w->naudit - 1];
}

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    char clean[8192];
    size_t n = 0;
    for (; *h; h++)
        if (*h != ' ')
            clean[n++] = *h;
    size_t len = 0;
    assert_int_equal(dk_hex_decode(out, cap, clean, n, &len), 0);
    return len;
}

static const struct capture *find_cap(const struct world *w, uint8_t method, const char *path)
{
    for (size_t i = 0; i < w->ncap; i++)
        if (w->cap[i].method == method && strcmp(w->cap[i].path, path) == 0)
            return &w->cap[i];
    return NULL;
}

static void assert_cap_bytes(const struct world *w, const char *path, const char *hex)
{
    const struct capture *c = find_cap(w, DK_COAP_PUT, path);
    assert_non_null(c);
    assert_int_equal(c->cf, DK_COAP_FMT_LWM2M_TLV);
    static uint8_t want[4096];
    size_t n = unhex(hex, want, sizeof want);
    assert_int_equal(c->len, n);
    assert_memory_equal(c->payload, want, n);
}

/* Decodes a captured write with the lwm2m reader. */
static size_t decode_cap(const struct capture *c, const char *base, struct dk_lwm2m_record *recs,
                         size_t cap)
{
    struct dk_lwm2m_path b;
    assert_int_equal(dk_lwm2m_path_parse(base, strlen(base), &b), 0);
    static uint8_t scratch[8192];
    struct dk_lwm2m_decode_opts o = {.scratch = scratch, .scratch_cap = sizeof scratch};
    size_t n = 0;
    assert_int_equal(dk_lwm2m_decode(c->cf, c->payload, c->len, &b, &o, recs, cap, &n), 0);
    return n;
}

static const struct dk_lwm2m_record *rec_at(const struct dk_lwm2m_record *r, size_t n,
                                            const char *path)
{
    char tmp[DK_LWM2M_PATH_STR_MAX];
    for (size_t i = 0; i < n; i++) {
        dk_lwm2m_path_str(&r[i].path, tmp, sizeof tmp);
        if (strcmp(tmp, path) == 0)
            return &r[i];
    }
    fail_msg("no record %s", path);
    return NULL;
}

/* The sequence of requests the client saw, as "METHOD path" lines. */
static void assert_sequence(const struct world *w, const char *const *want, size_t n)
{
    assert_int_equal(w->ncap, n);
    for (size_t i = 0; i < n; i++) {
        char got[80];
        const char *m = w->cap[i].method == DK_COAP_DELETE ? "DELETE"
                        : w->cap[i].method == DK_COAP_PUT  ? "PUT"
                        : w->cap[i].method == DK_COAP_POST ? "POST"
                        : w->cap[i].method == DK_COAP_GET  ? "GET"
                                                           : "?";
        snprintf(got, sizeof got, "%s %s", m, w->cap[i].path);
        assert_string_equal(got, want[i]);
    }
}

/* ---- Happy paths -------------------------------------------------------------------------- */

static const char SEC_PSK_TLV[] =
    "c8 00 0f 636f6170733a2f2f67773a35363834"   /* 0: "coaps://gw:5684" */
    "c1 01 00"                                  /* 1: false */
    "c1 02 00"                                  /* 2: mode 0 (PSK) */
    "c7 03 6f702d64657631"                      /* 3: "op-dev1" */
    "c0 04"                                     /* 4: empty */
    "c8 05 10 000102030405060708090a0b0c0d0e0f" /* 5: the key */
    "c1 0a 01";                                 /* 10: ssid 1 */
static const char SRV_TLV[] = "c1 00 01 c2 01 01 2c c1 06 01 c1 07 55";
static const char ACL_1_0_TLV[] = "c1 00 01 c1 01 00 83 02 41 01 07 c1 03 01";
static const char ACL_3_0_TLV[] = "c1 00 03 c1 01 00 83 02 41 01 07 c1 03 01";

static void test_psk_manual_approval(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");

    /* The DTLS layer asks for the key by identity. */
    uint8_t key[64];
    size_t klen = 0;
    assert_int_equal(
        dk_bs_psk_lookup(&w->bs, &w->caddr, (const uint8_t *)"dev1", 4, key, sizeof key, &klen), 0);
    assert_int_equal(klen, 16);
    assert_memory_equal(key, PSK, 16);

    /* First attempt: pending, 5.03 with Max-Age, audited once. */
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_SERVICE_UNAVAILABLE);
    assert_int_equal(w->bs_max_age, 30);
    assert_int_equal(w->ncap, 0);
    assert_true(w->last_rq.match);
    assert_int_equal(w->last_rq.peer_cred, DK_OOB_CRED_PSK);
    assert_int_equal(w->last_rq.record_cred, DK_OOB_CRED_PSK);
    assert_string_equal(w->last_rq_type, "LED");
    assert_int_equal(count_ev(w, DK_BS_EV_PENDING), 1);
    assert_string_equal(last_audit(w)->what, "bootstrap-pending");
    assert_string_equal(last_audit(w)->ep, "dev1");
    assert_int_equal(dk_bs_pending_count(&w->bs), 1);
    size_t naudit = w->naudit;

    /* A retry while pending: still 5.03, no new audit line. */
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_SERVICE_UNAVAILABLE);
    assert_int_equal(w->naudit, naudit);
    assert_int_equal(count_ev(w, DK_BS_EV_PENDING), 2);
    struct dk_bs_entry_info info;
    assert_int_equal(dk_bs_get(&w->bs, "dev1", &info), 0);
    assert_int_equal(info.state, DK_BS_STATE_PENDING);
    assert_int_equal(info.peer_cred, DK_OOB_CRED_PSK);

    /* The user approves; the next attempt is provisioned. */
    assert_int_equal(dk_bs_approve(&w->bs, "dev1", w->now), 0);
    assert_int_equal(dk_bs_approve(&w->bs, "dev1", w->now), DK_ENOTFOUND);
    assert_string_equal(last_audit(w)->what, "bootstrap-approved");
    w->op_mode = DK_BS_SEC_PSK;
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    static const char *const seq[] = {"DELETE /", "GET /0",   "PUT /0/1", "PUT /1/0",
                                      "PUT /2/0", "PUT /2/1", "POST /bs"};
    assert_sequence(w, seq, 7);
    assert_int_equal(w->ncap_at_result, 0); /* the 2.04 came before the Bootstrap-Delete */
    assert_int_equal(w->cap[1].accept, DK_COAP_FMT_LINK);
    assert_cap_bytes(w, "/0/1", SEC_PSK_TLV);
    assert_cap_bytes(w, "/1/0", SRV_TLV);
    assert_cap_bytes(w, "/2/0", ACL_1_0_TLV);
    assert_cap_bytes(w, "/2/1", ACL_3_0_TLV);
    assert_int_equal(w->cap[6].len, 0);

    /* Decoded back with the lwm2m reader. */
    struct dk_lwm2m_record r[16];
    size_t n = decode_cap(find_cap(w, DK_COAP_PUT, "/0/1"), "/0/1", r, 16);
    assert_int_equal(n, 7);
    const struct dk_lwm2m_record *x = rec_at(r, n, "/0/1/0");
    assert_int_equal(x->value.type, DK_LWM2M_TYPE_STRING);
    assert_memory_equal(x->value.v.bytes.p, "coaps://gw:5684", 15);
    assert_false(rec_at(r, n, "/0/1/1")->value.v.b);
    assert_int_equal(rec_at(r, n, "/0/1/2")->value.v.i, 0);
    assert_int_equal(rec_at(r, n, "/0/1/3")->value.v.bytes.n, 7);
    assert_int_equal(rec_at(r, n, "/0/1/5")->value.v.bytes.n, 16);
    assert_int_equal(rec_at(r, n, "/0/1/10")->value.v.i, 1);
    n = decode_cap(find_cap(w, DK_COAP_PUT, "/1/0"), "/1/0", r, 16);
    assert_int_equal(n, 4);
    assert_int_equal(rec_at(r, n, "/1/0/1")->value.v.i, 300);
    assert_true(rec_at(r, n, "/1/0/6")->value.v.b);
    n = decode_cap(find_cap(w, DK_COAP_PUT, "/2/1"), "/2/1", r, 16);
    assert_int_equal(n, 4);
    assert_int_equal(rec_at(r, n, "/2/1/0")->value.v.i, 3);
    assert_int_equal(rec_at(r, n, "/2/1/2/1")->value.v.i, 7);
    assert_int_equal(rec_at(r, n, "/2/1/3")->value.v.i, 1);

    /* Provisioned: the approval is used up. */
    size_t pi = 0;
    assert_non_null(last_ev(w, DK_BS_EV_PROVISIONED, &pi));
    assert_string_equal(w->ev_ep[pi], "dev1");
    assert_int_equal(count_ev(w, DK_BS_EV_FAILED), 0);
    assert_string_equal(last_audit(w)->what, "bootstrap-provisioned");
    assert_int_equal(dk_bs_get(&w->bs, "dev1", &info), DK_ENOTFOUND);
    assert_int_equal(dk_bs_session_count(&w->bs), 0);
    assert_int_equal(dk_bs_deadline(&w->bs), DK_TIME_NEVER);
    /* No audit line carries the key bytes (as hex). */
    for (size_t i = 0; i < w->naudit; i++)
        assert_null(strstr(w->audit[i].detail, "5bd1f120"));

    /* Coming back later (factory reset): pending again. */
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_SERVICE_UNAVAILABLE);
    world_free(w);
}

static void test_x509_auto_wifi(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    w->cfg.home_ssid = "home";
    w->cfg.home_psk = "secretpass";
    world_start(w);
    add_record(w, "055192", DK_OOB_CRED_X509, DK_OOB_CHANNEL_WIFI, CERT_SHA, 16);
    peer_cert(w, "055192", false);
    w->op_mode = DK_BS_SEC_CERT;

    bs_request(w, "ep=055192");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    assert_int_equal(count_ev(w, DK_BS_EV_APPROVED), 1);
    assert_int_equal(count_ev(w, DK_BS_EV_STARTED), 1);
    assert_int_equal(count_ev(w, DK_BS_EV_PROVISIONED), 1);
    static const char *const seq[] = {"DELETE /", "GET /0",   "PUT /0/1", "PUT /1/0", "PUT /12/0",
                                      "PUT /2/0", "PUT /2/1", "PUT /2/2", "POST /bs"};
    assert_sequence(w, seq, 9);
    assert_cap_bytes(w, "/12/0",
                     "c5 00 776c616e30" /* interface "wlan0" */
                     "c1 01 01"         /* enable */
                     "c4 05 686f6d65"   /* SSID "home" */
                     "c1 08 01 c1 09 00 c1 0a 01 c1 0e 05 c1 0f 01"
                     "c8 12 0a 73656372657470617373"); /* 18: "secretpass" */
    assert_cap_bytes(w, "/2/2", "c1 00 0c c1 01 00 83 02 41 01 03 c1 03 01");

    /* The /0 write is large (Block1) and decodes back to the certificate. */
    struct dk_lwm2m_record r[16];
    size_t n = decode_cap(find_cap(w, DK_COAP_PUT, "/0/1"), "/0/1", r, 16);
    assert_int_equal(n, 7);
    assert_int_equal(rec_at(r, n, "/0/1/2")->value.v.i, DK_BS_SEC_CERT);
    assert_int_equal(rec_at(r, n, "/0/1/3")->value.v.bytes.n, 600);
    assert_int_equal(rec_at(r, n, "/0/1/4")->value.v.bytes.n, 500);
    assert_int_equal(rec_at(r, n, "/0/1/5")->value.v.bytes.n, 138);
    n = decode_cap(find_cap(w, DK_COAP_PUT, "/12/0"), "/12/0", r, 16);
    assert_int_equal(n, 9);
    assert_int_equal(rec_at(r, n, "/12/0/15")->value.v.i, 1);
    world_free(w);
}

static void test_rpk(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    w->discover = NULL; /* LwM2M 1.0 client: Bootstrap-Discover answered 4.04 */
    world_start(w);
    add_record(w, "rpk1", DK_OOB_CRED_RPK, DK_OOB_CHANNEL_NONE, SPKI_SHA, 16);
    peer_cert(w, "", true);
    w->op_mode = DK_BS_SEC_PSK;
    bs_request(w, "ep=rpk1");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    assert_int_equal(count_ev(w, DK_BS_EV_PROVISIONED), 1);
    assert_non_null(find_cap(w, DK_COAP_PUT, "/0/1")); /* the preferred id */

    /* The same key in a self-signed certificate (mbedTLS devices) matches an
     * RPK record too; the CN is not checked for RPK records. */
    peer_cert(w, "whatever", false);
    bs_request(w, "ep=rpk1");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    assert_int_equal(count_ev(w, DK_BS_EV_PROVISIONED), 2);
    world_free(w);
}

static void test_discover_picks_free_instance(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    w->discover = "</>;lwm2m=1.1,</0/1>,</0/0>;ssid=7,</3/0>";
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    assert_non_null(find_cap(w, DK_COAP_PUT, "/0/2"));
    assert_null(find_cap(w, DK_COAP_PUT, "/0/1"));
    world_free(w);
}

static void test_senml_cbor_by_pct(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    bs_request(w, "ep=dev1&pct=112");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    assert_int_equal(w->last_rq.pct, 112);
    const struct capture *c = find_cap(w, DK_COAP_PUT, "/0/1");
    assert_non_null(c);
    assert_int_equal(c->cf, DK_COAP_FMT_SENML_CBOR);
    struct dk_lwm2m_record r[16];
    size_t n = decode_cap(c, "/0/1", r, 16);
    assert_int_equal(n, 7);
    assert_int_equal(rec_at(r, n, "/0/1/5")->value.v.bytes.n, 16);
    assert_int_equal(count_ev(w, DK_BS_EV_PROVISIONED), 1);
    world_free(w);
}

static void test_nosec(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    world_start(w);
    add_record(w, "plain", DK_OOB_CRED_NONE, DK_OOB_CHANNEL_NONE, NULL, 0);
    w->secure = false;
    /* Not enabled: refused. */
    bs_request(w, "ep=plain");
    assert_int_equal(w->bs_code, DK_COAP_FORBIDDEN);
    assert_int_equal(w->last_rq.reason, DK_BS_R_NOSEC_DISABLED);
    assert_string_equal(last_audit(w)->what, "bootstrap-refused");
    world_free(w);

    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    w->cfg.allow_nosec = true;
    w->cfg.server_uri_nosec = "coap://gw:5683";
    world_start(w);
    add_record(w, "plain", DK_OOB_CRED_NONE, DK_OOB_CHANNEL_NONE, NULL, 0);
    add_record(w, "pskdev", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    w->op_mode = DK_BS_SEC_NOSEC;
    bs_request(w, "ep=plain");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    struct dk_lwm2m_record r[16];
    size_t n = decode_cap(find_cap(w, DK_COAP_PUT, "/0/1"), "/0/1", r, 16);
    assert_int_equal(rec_at(r, n, "/0/1/2")->value.v.i, DK_BS_SEC_NOSEC);
    const struct dk_lwm2m_record *u = rec_at(r, n, "/0/1/0");
    assert_int_equal(u->value.v.bytes.n, 14);
    assert_memory_equal(u->value.v.bytes.p, "coap://gw:5683", 14);
    /* A PSK record over plain CoAP is refused even with NoSec enabled. */
    bs_request(w, "ep=pskdev");
    assert_int_equal(w->bs_code, DK_COAP_FORBIDDEN);
    assert_int_equal(w->last_rq.reason, DK_BS_R_CRED_TYPE);
    world_free(w);
}

/* ---- Refusals ------------------------------------------------------------------------------- */

static void expect_refusal(struct world *w, const char *query, enum dk_bs_reason reason)
{
    size_t nref = count_ev(w, DK_BS_EV_REFUSED);
    bs_request(w, query);
    assert_int_equal(w->bs_code, DK_COAP_FORBIDDEN);
    assert_int_equal(w->ncap, 0);
    assert_int_equal(count_ev(w, DK_BS_EV_REFUSED), nref + 1);
    size_t i = 0;
    last_ev(w, DK_BS_EV_REFUSED, &i);
    assert_int_equal(w->ev_reason[i], reason);
    assert_string_equal(last_audit(w)->what, "bootstrap-refused");
    assert_non_null(strstr(last_audit(w)->detail, dk_bs_reason_str(reason)));
}

static void test_refusals(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    add_record(w, "cert1", DK_OOB_CRED_X509, DK_OOB_CHANNEL_NONE, CERT_SHA, 16);
    add_record(w, "rpk1", DK_OOB_CRED_RPK, DK_OOB_CHANNEL_NONE, SPKI_SHA, 16);

    /* No record: selective bootstrap. */
    peer_psk(w, "ghost");
    expect_refusal(w, "ep=ghost", DK_BS_R_NO_RECORD);
    assert_false(w->last_rq.has_record);
    assert_string_equal(last_audit(w)->ep, "ghost");
    /* The PSK identity is another device's. */
    peer_psk(w, "cert1");
    expect_refusal(w, "ep=dev1", DK_BS_R_IDENTITY);
    /* Certificate hash is not the label's. */
    peer_cert(w, "cert1", false);
    w->info.cert_sha256[15] ^= 1;
    expect_refusal(w, "ep=cert1", DK_BS_R_HASH);
    /* Only bytes beyond the truncated 16 differ: still a match. */
    peer_cert(w, "cert1", false);
    w->info.cert_sha256[16] ^= 1;
    bs_request(w, "ep=cert1");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    /* Right certificate, wrong CN. */
    peer_cert(w, "cert2", false);
    expect_refusal(w, "ep=cert1", DK_BS_R_CN);
    /* RPK: another key. */
    peer_cert(w, "", true);
    w->info.spki_sha256[0] ^= 0x80;
    expect_refusal(w, "ep=rpk1", DK_BS_R_HASH);
    /* The record says X.509, the peer used PSK / a raw key. */
    peer_psk(w, "cert1");
    expect_refusal(w, "ep=cert1", DK_BS_R_CRED_TYPE);
    peer_cert(w, "", true);
    expect_refusal(w, "ep=cert1", DK_BS_R_CRED_TYPE);
    /* The record says PSK, the peer used a certificate. */
    peer_cert(w, "dev1", false);
    expect_refusal(w, "ep=dev1", DK_BS_R_CRED_TYPE);
    /* Plain CoAP for a PSK record. */
    w->secure = false;
    expect_refusal(w, "ep=dev1", DK_BS_R_CRED_TYPE);
    assert_int_equal(count_ev(w, DK_BS_EV_STARTED), 1);
    assert_int_equal(w->prepares, 1);

    /* A failing record look-up answers 5.00. */
    w->find_err = DK_EIO;
    peer_psk(w, "dev1");
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_INTERNAL_SERVER_ERROR);
    assert_int_equal(w->last_rq.reason, DK_BS_R_LOOKUP);
    world_free(w);
}

static void test_malformed_requests(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    bs_request(w, NULL);
    assert_int_equal(w->bs_code, DK_COAP_BAD_REQUEST);
    bs_request(w, "ep=");
    assert_int_equal(w->bs_code, DK_COAP_BAD_REQUEST);
    bs_request(w, "ep=0123456789012345678901234567890123456789012345678901234567890123456789");
    assert_int_equal(w->bs_code, DK_COAP_BAD_REQUEST);
    bs_request(w, "ep=dev1&pct=x");
    assert_int_equal(w->bs_code, DK_COAP_BAD_REQUEST);
    bs_request(w, "ep=dev1&pct=99999999");
    assert_int_equal(w->bs_code, DK_COAP_BAD_REQUEST);
    bs_request(w, "ep=dev1&pct=11543");
    assert_int_equal(w->bs_code, DK_COAP_UNSUPPORTED_CONTENT_FORMAT);
    assert_int_equal(w->nev, 0);

    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, DK_COAP_GET, "/bs");
    r.query = "ep=dev1";
    r.cb = on_bs_result;
    r.cb_user = w;
    assert_int_equal(dk_coap_ep_request(&w->cli, &w->saddr, &r, w->now, NULL), 0);
    run(w, w->now + 10000);
    assert_int_equal(w->bs_code, DK_COAP_METHOD_NOT_ALLOWED);
    dk_coap_client_req_init(&r, DK_COAP_POST, "/rd");
    r.query = "ep=dev1";
    r.cb = on_bs_result;
    r.cb_user = w;
    assert_int_equal(dk_coap_ep_request(&w->cli, &w->saddr, &r, w->now, NULL), 0);
    run(w, w->now + 10000);
    assert_int_equal(w->bs_code, DK_COAP_NOT_FOUND);
    assert_int_equal(w->nev, 0);
    world_free(w);
}

static void test_denied(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_SERVICE_UNAVAILABLE);
    assert_int_equal(dk_bs_deny(&w->bs, "dev1", w->now), 0);
    assert_string_equal(last_audit(w)->what, "bootstrap-denied");
    assert_int_equal(count_ev(w, DK_BS_EV_DENIED), 1);
    assert_int_equal(dk_bs_approve(&w->bs, "dev1", w->now), DK_ENOTFOUND);
    expect_refusal(w, "ep=dev1", DK_BS_R_DENIED);
    assert_int_equal(w->prepares, 0);
    /* After deny_ttl the device may ask again: pending. */
    run(w, w->now + w->cfg.deny_ttl_ms + 1);
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_SERVICE_UNAVAILABLE);
    assert_int_equal(dk_bs_deny(&w->bs, "nobody", w->now), DK_ENOTFOUND);
    world_free(w);
}

static void test_expired(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.pending_ttl_ms = 60000;
    w->cfg.approval_ttl_ms = 30000;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    bs_request_for(w, "ep=dev1", 1000);
    assert_int_equal(w->bs_code, DK_COAP_SERVICE_UNAVAILABLE);
    dk_time_t t0 = w->now;
    assert_true(dk_bs_deadline(&w->bs) <= t0 + 60000);
    run(w, t0 + 61000);
    assert_int_equal(count_ev(w, DK_BS_EV_EXPIRED), 1);
    assert_string_equal(last_audit(w)->what, "bootstrap-expired");
    assert_int_equal(dk_bs_pending_count(&w->bs), 0);
    assert_int_equal(dk_bs_approve(&w->bs, "dev1", w->now), DK_ENOTFOUND);

    /* An approval the device does not use in time expires too. */
    bs_request_for(w, "ep=dev1", 1000);
    assert_int_equal(dk_bs_approve(&w->bs, "dev1", w->now), 0);
    run(w, w->now + 31000);
    assert_int_equal(count_ev(w, DK_BS_EV_EXPIRED), 2);
    bs_request_for(w, "ep=dev1", 1000);
    assert_int_equal(w->bs_code, DK_COAP_SERVICE_UNAVAILABLE); /* pending again */
    assert_int_equal(w->prepares, 0);

    /* Approving at the very moment it expires is too late (lazy check). */
    dk_time_t exp = w->now + 60000;
    assert_int_equal(dk_bs_approve(&w->bs, "dev1", exp), DK_ENOTFOUND);
    assert_int_equal(count_ev(w, DK_BS_EV_EXPIRED), 3);
    world_free(w);
}

static void test_pending_limit(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.max_pending = 2;
    world_start(w);
    const char *eps[] = {"a1", "a2", "a3"};
    for (int i = 0; i < 3; i++)
        add_record(w, eps[i], DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "a1");
    bs_request(w, "ep=a1");
    peer_psk(w, "a2");
    bs_request(w, "ep=a2");
    assert_int_equal(dk_bs_pending_count(&w->bs), 2);
    peer_psk(w, "a3");
    bs_request(w, "ep=a3");
    assert_int_equal(w->bs_code, DK_COAP_SERVICE_UNAVAILABLE);
    size_t i = 0;
    last_ev(w, DK_BS_EV_REFUSED, &i);
    assert_int_equal(w->ev_reason[i], DK_BS_R_PENDING_LIMIT);
    assert_string_equal(last_audit(w)->what, "bootstrap-refused");
    assert_int_equal(dk_bs_pending_count(&w->bs), 2);
    /* Deciding one frees a place. */
    assert_int_equal(dk_bs_deny(&w->bs, "a1", w->now), 0);
    bs_request(w, "ep=a3");
    assert_int_equal(dk_bs_pending_count(&w->bs), 2);
    size_t n = 0;
    struct dk_bs_entry_info e;
    assert_int_equal(dk_bs_get(&w->bs, "a3", &e), 0);
    assert_int_equal(e.state, DK_BS_STATE_PENDING);
    (void)n;
    world_free(w);
}

/* ---- Aborted sequences --------------------------------------------------------------------- */

static void test_write_refused_aborts(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    w->cfg.max_attempts = 2;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    w->ovr[w->novr++] = (struct override){DK_COAP_PUT, "/1/0", DK_COAP_BAD_REQUEST};
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    static const char *const seq[] = {"DELETE /", "GET /0", "PUT /0/1", "PUT /1/0"};
    assert_sequence(w, seq, 4);
    size_t i = 0;
    const struct dk_bs_event *ev = last_ev(w, DK_BS_EV_FAILED, &i);
    assert_non_null(ev);
    assert_int_equal(ev->err, DK_EPERM);
    assert_int_equal(ev->code, DK_COAP_BAD_REQUEST);
    assert_string_equal(w->ev_step[i], "write /1/0");
    assert_int_equal(count_ev(w, DK_BS_EV_PROVISIONED), 0);
    assert_string_equal(last_audit(w)->what, "bootstrap-failed");
    assert_non_null(strstr(last_audit(w)->detail, "4.00"));
    struct dk_bs_entry_info e;
    assert_int_equal(dk_bs_get(&w->bs, "dev1", &e), 0);
    assert_int_equal(e.state, DK_BS_STATE_APPROVED);
    assert_int_equal(e.attempts, 1);

    /* Second failure: the approval is withdrawn. */
    bs_request(w, "ep=dev1");
    ev = last_ev(w, DK_BS_EV_FAILED, &i);
    assert_int_equal(w->ev_reason[i], DK_BS_R_ATTEMPTS);
    assert_int_equal(dk_bs_get(&w->bs, "dev1", &e), DK_ENOTFOUND);
    assert_non_null(strstr(last_audit(w)->detail, "approval withdrawn"));
    world_free(w);
}

static void test_finish_refused_and_timeouts(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");

    /* Bootstrap-Finish answered 4.06 Not Acceptable. */
    w->ovr[0] = (struct override){DK_COAP_POST, "/bs", DK_COAP_NOT_ACCEPTABLE};
    w->novr = 1;
    bs_request(w, "ep=dev1");
    size_t i = 0;
    const struct dk_bs_event *ev = last_ev(w, DK_BS_EV_FAILED, &i);
    assert_non_null(ev);
    assert_int_equal(ev->code, DK_COAP_NOT_ACCEPTABLE);
    assert_string_equal(w->ev_step[i], "finish");
    assert_int_equal(count_ev(w, DK_BS_EV_PROVISIONED), 0);

    /* The client never answers a write (empty ACK, then nothing): the CoAP
     * separate-response wait times out. */
    w->ovr[0] = (struct override){DK_COAP_PUT, "/0/1", 0};
    bs_request(w, "ep=dev1");
    ev = last_ev(w, DK_BS_EV_FAILED, &i);
    assert_int_equal(ev->err, DK_ETIMEDOUT);
    assert_string_equal(w->ev_step[i], "write /0/1");
    world_free(w);

    /* The client vanishes: CON retransmissions give up. */
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    w->net.drop_count = 0;
    /* Datagrams: 1 the request, 2 its 2.04, 3 the DELETE... drop every
     * transmission of the DELETE. */
    for (uint64_t k = 3; k < 3 + 5; k++)
        w->net.drop_list[w->net.drop_count++] = k;
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    ev = last_ev(w, DK_BS_EV_FAILED, &i);
    assert_non_null(ev);
    assert_int_equal(ev->err, DK_ETIMEDOUT);
    assert_string_equal(w->ev_step[i], "delete /");
    world_free(w);

    /* The whole sequence takes too long. */
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    w->cfg.sequence_timeout_ms = 20000;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    w->ovr[w->novr++] = (struct override){DK_COAP_PUT, "/1/0", 0};
    bs_request(w, "ep=dev1");
    ev = last_ev(w, DK_BS_EV_FAILED, &i);
    assert_non_null(ev);
    assert_int_equal(ev->err, DK_ETIMEDOUT);
    assert_string_equal(w->ev_step[i], "write /1/0");
    assert_int_equal(dk_bs_session_count(&w->bs), 0);
    world_free(w);
}

static void test_superseded_and_acl_absent(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    /* First sequence stalls on /1/0; the device asks again. */
    w->ovr[0] = (struct override){DK_COAP_PUT, "/1/0", 0};
    w->novr = 1;
    bs_request_for(w, "ep=dev1", 3000);
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    assert_int_equal(dk_bs_session_count(&w->bs), 1);
    struct dk_bs_entry_info e;
    assert_int_equal(dk_bs_get(&w->bs, "dev1", &e), 0);
    assert_int_equal(e.state, DK_BS_STATE_PROVISIONING);
    assert_int_equal(e.expires, DK_TIME_NEVER);
    /* The client has no Access Control object this time. */
    w->ovr[0] = (struct override){DK_COAP_PUT, "/2/0", DK_COAP_NOT_FOUND};
    bs_request(w, "ep=dev1");
    size_t i = 0;
    last_ev(w, DK_BS_EV_FAILED, &i);
    assert_string_equal(w->ev_step[i], "write /1/0");
    assert_int_equal(w->ev[i].err, DK_ECANCELED);
    assert_int_equal(count_ev(w, DK_BS_EV_PROVISIONED), 1);
    static const char *const seq[] = {"DELETE /", "GET /0",   "PUT /0/1",
                                      "PUT /1/0", "PUT /2/0", "POST /bs"};
    assert_sequence(w, seq, 6);
    world_free(w);
}

static void test_deny_and_forget_abort(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    w->ovr[0] = (struct override){DK_COAP_PUT, "/1/0", 0};
    w->novr = 1;
    bs_request_for(w, "ep=dev1", 3000);
    assert_int_equal(dk_bs_session_count(&w->bs), 1);
    assert_int_equal(dk_bs_deny(&w->bs, "dev1", w->now), 0);
    assert_int_equal(dk_bs_session_count(&w->bs), 0);
    assert_int_equal(count_ev(w, DK_BS_EV_FAILED), 1);
    assert_int_equal(count_ev(w, DK_BS_EV_DENIED), 1);
    struct dk_bs_entry_info e;
    assert_int_equal(dk_bs_get(&w->bs, "dev1", &e), 0);
    assert_int_equal(e.state, DK_BS_STATE_DENIED);
    run(w, w->now + 200000);
    assert_int_equal(count_ev(w, DK_BS_EV_PROVISIONED), 0);
    expect_refusal(w, "ep=dev1", DK_BS_R_DENIED);
    /* forget: the entry goes; policy auto approves again. */
    assert_int_equal(dk_bs_forget(&w->bs, "dev1", w->now), 0);
    assert_int_equal(dk_bs_forget(&w->bs, "dev1", w->now), DK_ENOTFOUND);
    bs_request_for(w, "ep=dev1", 3000);
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    assert_int_equal(dk_bs_forget(&w->bs, "dev1", w->now), 0);
    assert_int_equal(dk_bs_session_count(&w->bs), 0);
    assert_int_equal(count_ev(w, DK_BS_EV_FAILED), 2);
    world_free(w);
}

/* ---- The program's own approvals (gateway) --------------------------------------------------- */

static void test_external_decide(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->use_decide = true;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    w->decision = DK_BS_PENDING;
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_SERVICE_UNAVAILABLE);
    assert_int_equal(w->decides, 1);
    assert_true(w->last_rq_match);
    assert_int_equal(dk_bs_pending_count(&w->bs), 0); /* the engine's table is unused */
    w->decision = DK_BS_REFUSE;
    expect_refusal(w, "ep=dev1", DK_BS_R_POLICY);
    w->decision = DK_BS_APPROVE;
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    assert_int_equal(count_ev(w, DK_BS_EV_PROVISIONED), 1);
    /* A mismatch is refused whatever decide() says; it is still told. */
    peer_psk(w, "other");
    expect_refusal(w, "ep=dev1", DK_BS_R_IDENTITY);
    assert_false(w->last_rq_match);
    assert_int_equal(w->decides, 4);
    /* prepare() fails: 5.00, FAILED, audited. */
    peer_psk(w, "dev1");
    w->prepare_err = DK_ECRYPTO;
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_INTERNAL_SERVER_ERROR);
    size_t i = 0;
    last_ev(w, DK_BS_EV_FAILED, &i);
    assert_int_equal(w->ev_reason[i], DK_BS_R_PREPARE);
    assert_string_equal(last_audit(w)->what, "bootstrap-failed");
    world_free(w);
}

/* ---- PSK look-up helper and misc ------------------------------------------------------------ */

static void test_psk_lookup(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    add_record(w, "cert1", DK_OOB_CRED_X509, DK_OOB_CHANNEL_NONE, CERT_SHA, 16);
    uint8_t key[64];
    size_t klen = 0;
    assert_int_equal(dk_bs_psk_lookup(&w->bs, &w->caddr, (const uint8_t *)"dev1", 4, key, 8, &klen),
                     DK_ENOSPC);
    assert_int_equal(
        dk_bs_psk_lookup(&w->bs, &w->caddr, (const uint8_t *)"nobody", 6, key, sizeof key, &klen),
        DK_ENOTFOUND);
    assert_string_equal(last_audit(w)->what, "psk-unknown-identity");
    assert_string_equal(last_audit(w)->ep, "nobody");
    assert_int_equal(
        dk_bs_psk_lookup(&w->bs, &w->caddr, (const uint8_t *)"cert1", 5, key, sizeof key, &klen),
        DK_ENOTFOUND);
    assert_int_equal(
        dk_bs_psk_lookup(&w->bs, &w->caddr, (const uint8_t *)"a\nb", 3, key, sizeof key, &klen),
        DK_ENOTFOUND);
    assert_string_equal(last_audit(w)->ep, "");
    assert_int_equal(w->naudit, 3);
    world_free(w);
}

static void test_setup_errors(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    struct dk_bs_config c = w->cfg;
    c.server_uri = NULL;
    assert_int_equal(dk_bs_setup(&w->bs, &c), DK_EINVAL);
    c = w->cfg;
    c.cbs.prepare = NULL;
    assert_int_equal(dk_bs_setup(&w->bs, &c), DK_EINVAL);
    c = w->cfg;
    c.format = DK_COAP_FMT_TEXT;
    assert_int_equal(dk_bs_setup(&w->bs, &c), DK_EINVAL);
    c = w->cfg;
    static const char *const bad[] = {"/0/1/2"};
    c.delete_paths = bad;
    c.n_delete_paths = 1;
    assert_int_equal(dk_bs_setup(&w->bs, &c), DK_EINVAL);
    assert_int_equal(dk_bs_attach(&w->bs, &w->srv), DK_ESTATE);
    dk_bs_free(&w->bs);
    dk_bs_free(&w->bs);
    world_start(w);
    assert_int_equal(dk_bs_attach(&w->bs, &w->srv), DK_EEXIST);
    world_free(w);

    /* Custom delete paths and no discover. */
    world_init(w, false, 0);
    static const char *const dels[] = {"/0", "/1"};
    w->cfg.delete_paths = dels;
    w->cfg.n_delete_paths = 2;
    w->cfg.discover = false;
    w->cfg.policy = DK_BS_POLICY_AUTO;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    w->ovr[0] = (struct override){DK_COAP_DELETE, "/1", DK_COAP_NOT_FOUND};
    w->novr = 1;
    bs_request(w, "ep=dev1");
    static const char *const seq[] = {"DELETE /0", "DELETE /1", "PUT /0/1", "PUT /1/0",
                                      "PUT /2/0",  "PUT /2/1",  "POST /bs"};
    assert_sequence(w, seq, 7);
    assert_int_equal(count_ev(w, DK_BS_EV_PROVISIONED), 1);
    world_free(w);
}

/* Loss, duplication and reordering: CoAP retransmissions and deduplication
 * carry the sequence through, each step exactly once. */
static void test_lossy_network(void **state)
{
    struct world *w = &W;
    world_init(w, false, 0);
    w->cfg.policy = DK_BS_POLICY_AUTO;
    w->net.loss_pct = 20;
    w->net.dup_pct = 10;
    w->net.reorder_pct = 10;
    w->net.reorder_ms = 50;
    world_start(w);
    add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
    peer_psk(w, "dev1");
    bs_request(w, "ep=dev1");
    assert_int_equal(w->bs_code, DK_COAP_CHANGED);
    assert_int_equal(count_ev(w, DK_BS_EV_PROVISIONED), 1);
    assert_int_equal(count_ev(w, DK_BS_EV_FAILED), 0);
    static const char *const seq[] = {"DELETE /", "GET /0",   "PUT /0/1", "PUT /1/0",
                                      "PUT /2/0", "PUT /2/1", "POST /bs"};
    assert_sequence(w, seq, 7);
    assert_cap_bytes(w, "/0/1", SEC_PSK_TLV);
    assert_true(w->net.dropped > 0);
    world_free(w);
}

/* Every allocation failing in turn: no crash, no leak, and a refusal or a
 * clean failure instead of provisioning. */
static void test_failalloc(void **state)
{
    for (long k = 1; k < 8; k++) {
        struct world *w = &W;
        world_init(w, true, k);
        w->cfg.policy = DK_BS_POLICY_AUTO;
        if (w->use_decide)
            w->cfg.cbs.decide = cb_decide;
        int rc = dk_bs_setup(&w->bs, &w->cfg);
        if (rc) {
            assert_int_equal(rc, DK_ENOMEM);
            dk_bs_free(&w->bs);
            assert_int_equal(w->fa.live, 0);
            world_free(w);
            continue;
        }
        assert_int_equal(dk_bs_attach(&w->bs, &w->srv), 0);
        add_record(w, "dev1", DK_OOB_CRED_PSK, DK_OOB_CHANNEL_NONE, PSK, 16);
        peer_psk(w, "dev1");
        bs_request(w, "ep=dev1");
        if (count_ev(w, DK_BS_EV_PROVISIONED) == 0)
            assert_int_not_equal(w->bs_code, DK_COAP_CHANGED);
        dk_bs_free(&w->bs);
        assert_int_equal(w->fa.live, 0);
        world_free(w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psk_manual_approval),
        cmocka_unit_test(test_x509_auto_wifi),
        cmocka_unit_test(test_rpk),
        cmocka_unit_test(test_discover_picks_free_instance),
        cmocka_unit_test(test_senml_cbor_by_pct),
        cmocka_unit_test(test_nosec),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_denied),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_pending_limit),
        cmocka_unit_test(test_write_refused_aborts),
        cmocka_unit_test(test_finish_refused_and_timeouts),
        cmocka_unit_test(test_superseded_and_acl_absent),
        cmocka_unit_test(test_deny_and_forget_abort),
        cmocka_unit_test(test_external_decide),
        cmocka_unit_test(test_psk_lookup),
        cmocka_unit_test(test_setup_errors),
        cmocka_unit_test(test_lossy_network),
        cmocka_unit_test(test_failalloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
