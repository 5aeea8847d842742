/* CoAP engine: message layer, block-wise transfers and observe, driven by a
 * fake clock over the fake network of tests/support (drop, duplicate,
 * reorder), with a deterministic rng. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <duckling/coap.h>
#include <duckling/err.h>

#include "fakenet.h"

/* ---- World: a client endpoint and a server endpoint on a fake network ---------- */

#define MAX_LOG 512
#define MAX_RESULTS 64

struct sent {
    dk_time_t t;
    int from; /* 0 client, 1 server */
    uint8_t type, code;
    uint16_t mid;
    size_t len;
};

struct result {
    dk_time_t t;
    uint32_t id;
    int status;
    uint8_t code;
    bool notification, observing;
    uint32_t seq;
    size_t len;
    uint8_t payload[8192];
};

struct srv_state {
    int hello_calls, upload_calls, obs_calls, sep_calls;
    size_t upload_len;
    uint8_t upload[8192];
    uint8_t upload_method;
    bool have_deferred;
    struct dk_coap_deferred deferred;
    uint32_t last_observe_id;
    int counter;
    char text[32];
    int events;
    struct dk_coap_event last_event;
};

struct world {
    struct dk_fakenet net;
    dk_time_t now;
    struct dk_rng rng;
    struct dk_coap_config ccfg, scfg;
    struct dk_coap_ep c, s;
    struct dk_addr caddr, saddr;
    struct sent log[MAX_LOG];
    size_t nlog;
    struct result res[MAX_RESULTS];
    size_t nres;
    struct srv_state srv;
    struct dk_failalloc fa;
    bool use_fa;
};

static struct world W; /* large: keep it off the stack */
static uint8_t big[4096];

static void fill_pattern(uint8_t *p, size_t n, unsigned salt)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + 3 + salt + i / 251);
}

/* ---- Server resources ----------------------------------------------------------------- */

static void h_hello(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                    struct dk_coap_resp *resp)
{
    struct srv_state *s = user;
    s->hello_calls++;
    resp->msg.code = DK_COAP_CONTENT;
    dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_CONTENT_FORMAT, DK_COAP_FMT_TEXT);
    dk_coap_msg_set_payload(&resp->msg, "hello", 5);
}

static void h_big(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                  struct dk_coap_resp *resp)
{
    resp->msg.code = DK_COAP_CONTENT;
    dk_coap_msg_add_opt(&resp->msg, DK_COAP_OPT_ETAG, "\x01\x02\x03\x04", 4);
    dk_coap_msg_set_payload(&resp->msg, big, sizeof big);
}

static void h_upload(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                     struct dk_coap_resp *resp)
{
    struct srv_state *s = user;
    s->upload_calls++;
    s->upload_method = req->msg->code;
    s->upload_len = req->payload_len < sizeof s->upload ? req->payload_len : sizeof s->upload;
    memcpy(s->upload, req->payload, s->upload_len);
    resp->msg.code = req->msg->code == DK_COAP_POST ? DK_COAP_CREATED : DK_COAP_CHANGED;
}

static void h_sep(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                  struct dk_coap_resp *resp)
{
    struct srv_state *s = user;
    s->sep_calls++;
    resp->defer = true;
    s->deferred = resp->deferred;
    s->have_deferred = true;
}

static void h_obs(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                  struct dk_coap_resp *resp)
{
    struct srv_state *s = user;
    s->obs_calls++;
    if (req->observe_id)
        s->last_observe_id = req->observe_id;
    resp->msg.code = DK_COAP_CONTENT;
    int n = snprintf((char *)resp->buf, resp->cap, "v=%d", s->counter);
    dk_coap_msg_set_payload(&resp->msg, resp->buf, (size_t)n);
    resp->observe = true;
}

static void h_obsbig(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                     struct dk_coap_resp *resp)
{
    struct srv_state *s = user;
    s->obs_calls++;
    fill_pattern(resp->buf, 3000, (unsigned)s->counter);
    resp->msg.code = DK_COAP_CONTENT;
    dk_coap_msg_set_payload(&resp->msg, resp->buf, 3000);
    resp->observe = true;
}

static void h_gone(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                   struct dk_coap_resp *resp)
{
    struct srv_state *s = user;
    /* observable until the counter reaches 3, then 4.04 ends it */
    resp->msg.code = s->counter >= 3 ? DK_COAP_NOT_FOUND : DK_COAP_CONTENT;
    resp->observe = true;
}

static void h_set(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                  struct dk_coap_resp *resp)
{
    struct srv_state *s = user;
    s->counter++;
    /* notifications from inside a handler go out after this response */
    assert_int_equal(dk_coap_ep_notify(ep, "/obs", req->now), 1);
    resp->msg.code = DK_COAP_CHANGED;
}

static const struct dk_coap_resource resources[] = {
    {"/set", 0, h_set, &W.srv},
    {"/hello", DK_COAP_METHOD_BIT(DK_COAP_GET), h_hello, &W.srv},
    {"/big", 0, h_big, NULL},
    {"/upload", DK_COAP_METHOD_BIT(DK_COAP_PUT) | DK_COAP_METHOD_BIT(DK_COAP_POST), h_upload,
     &W.srv},
    {"/sep", 0, h_sep, &W.srv},
    {"/obs", 0, h_obs, &W.srv},
    {"/obsbig", 0, h_obsbig, &W.srv},
    {"/gone", 0, h_gone, &W.srv},
    {"/tree/*", 0, h_hello, &W.srv},
};
static struct dk_coap_router router = {resources, sizeof resources / sizeof resources[0]};

static void on_event(struct dk_coap_ep *ep, void *user, const struct dk_coap_event *ev)
{
    struct srv_state *s = user;
    s->events++;
    s->last_event = *ev;
}

/* ---- Client callbacks ------------------------------------------------------------------ */

static void on_result(struct dk_coap_ep *ep, void *user, uint32_t id,
                      const struct dk_coap_result *res)
{
    struct world *w = user;
    assert_true(w->nres < MAX_RESULTS);
    struct result *r = &w->res[w->nres++];
    r->t = w->now;
    r->id = id;
    r->status = res->status;
    r->code = res->msg ? res->msg->code : 0;
    r->notification = res->notification;
    r->observing = res->observing;
    r->seq = res->observe_seq;
    r->len = res->payload_len < sizeof r->payload ? res->payload_len : sizeof r->payload;
    if (r->len)
        memcpy(r->payload, res->payload, r->len);
}

/* ---- Running the world ------------------------------------------------------------------ */

static void log_sent(struct world *w, int from, const uint8_t *d, size_t len)
{
    if (w->nlog >= MAX_LOG)
        return;
    struct sent *s = &w->log[w->nlog++];
    s->t = w->now;
    s->from = from;
    s->type = (d[0] >> 4) & 3;
    s->code = d[1];
    s->mid = (uint16_t)(d[2] << 8 | d[3]);
    s->len = len;
}

static void drain(struct world *w)
{
    uint8_t buf[2048];
    struct dk_addr to;
    int n;
    while ((n = dk_coap_ep_pop_tx(&w->c, &to, buf, sizeof buf)) > 0) {
        log_sent(w, 0, buf, (size_t)n);
        dk_fakenet_send(&w->net, &w->caddr, &to, buf, (size_t)n, w->now);
    }
    while ((n = dk_coap_ep_pop_tx(&w->s, &to, buf, sizeof buf)) > 0) {
        log_sent(w, 1, buf, (size_t)n);
        dk_fakenet_send(&w->net, &w->saddr, &to, buf, (size_t)n, w->now);
    }
}

/* Advances the fake clock event by event up to `until`. */
static void run(struct world *w, dk_time_t until)
{
    for (int guard = 0; guard < 100000; guard++) {
        drain(w);
        dk_time_t next = dk_fakenet_next_time(&w->net);
        next = dk_time_min(next, dk_coap_ep_deadline(&w->c));
        next = dk_time_min(next, dk_coap_ep_deadline(&w->s));
        if (next > until) {
            w->now = until;
            return;
        }
        if (next > w->now)
            w->now = next;
        static struct dk_fakenet_dgram d;
        while (dk_fakenet_recv(&w->net, w->now, &d)) {
            struct dk_coap_ep *ep = dk_addr_equal(&d.to, &w->saddr) ? &w->s : &w->c;
            dk_coap_ep_recv(ep, &d.from, d.data, d.len, w->now);
        }
        dk_coap_ep_tick(&w->c, w->now);
        dk_coap_ep_tick(&w->s, w->now);
    }
    fail_msg("world did not settle");
}

static int world_setup(struct world *w, uint64_t seed)
{
    memset(&w->net, 0, sizeof w->net);
    dk_fakenet_init(&w->net, seed);
    w->net.latency_ms = 10;
    w->now = 1000000;
    w->nlog = w->nres = 0;
    memset(&w->srv, 0, sizeof w->srv);
    dk_rng_init(&w->rng);
    uint8_t s[8];
    memcpy(s, &seed, sizeof s);
    assert_int_equal(dk_rng_setup_deterministic(&w->rng, s, sizeof s), 0);
    dk_addr_from_ip(&w->caddr, "10.0.0.1", 40000);
    dk_addr_from_ip(&w->saddr, "10.0.0.2", 5683);
    dk_coap_config_init(&w->ccfg);
    w->ccfg.rng = &w->rng;
    w->scfg = w->ccfg;
    if (w->use_fa) {
        w->ccfg.alloc = &w->fa.iface;
        w->scfg.alloc = &w->fa.iface;
    }
    w->ccfg.max_body = sizeof big * 2;
    w->scfg.max_body = sizeof big * 2;
    return 0;
}

static int world_start(struct world *w)
{
    dk_coap_ep_init(&w->c);
    dk_coap_ep_init(&w->s);
    int rc = dk_coap_ep_setup(&w->c, &w->ccfg);
    if (!rc)
        rc = dk_coap_ep_setup(&w->s, &w->scfg);
    dk_coap_ep_set_handler(&w->s, dk_coap_router_handler, &router);
    dk_coap_ep_set_event_cb(&w->s, on_event, &w->srv);
    return rc;
}

static void world_stop(struct world *w)
{
    dk_coap_ep_free(&w->c);
    dk_coap_ep_free(&w->s);
    dk_fakenet_free(&w->net);
    dk_rng_free(&w->rng);
}

static void world_init(struct world *w, uint64_t seed)
{
    world_setup(w, seed);
    assert_int_equal(world_start(w), 0);
}

static uint32_t get(struct world *w, const char *path)
{
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, DK_COAP_GET, path);
    r.cb = on_result;
    r.cb_user = w;
    uint32_t id = 0;
    assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, &id), 0);
    assert_true(id != 0);
    return id;
}

static size_t count_sent(const struct world *w, int from, uint8_t type, uint8_t code)
{
    size_t n = 0;
    for (size_t i = 0; i < w->nlog; i++)
        if (w->log[i].from == from && w->log[i].type == type && w->log[i].code == code)
            n++;
    return n;
}

/* ---- Message layer ------------------------------------------------------------------------ */

static void test_piggybacked_get(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 1);
    size_t heap_c = dk_coap_ep_heap(&w->c), heap_s = dk_coap_ep_heap(&w->s);
    assert_true(heap_c > w->ccfg.handler_buf);
    get(w, "/hello");
    assert_true(dk_coap_ep_heap(&w->c) > heap_c);
    run(w, w->now + 1000);
    assert_int_equal(w->nres, 1);
    assert_int_equal(w->res[0].status, 0);
    assert_int_equal(w->res[0].code, DK_COAP_CONTENT);
    assert_int_equal(w->res[0].len, 5);
    assert_memory_equal(w->res[0].payload, "hello", 5);
    assert_false(w->res[0].observing);
    /* one CON GET and one piggybacked ACK with the same message id */
    assert_int_equal(w->nlog, 2);
    assert_int_equal(w->log[0].type, DK_COAP_CON);
    assert_int_equal(w->log[0].code, DK_COAP_GET);
    assert_int_equal(w->log[1].type, DK_COAP_ACK);
    assert_int_equal(w->log[1].code, DK_COAP_CONTENT);
    assert_int_equal(w->log[1].mid, w->log[0].mid);
    assert_int_equal(w->log[1].t - w->log[0].t, 10);
    assert_int_equal(dk_coap_ep_exchange_count(&w->c), 0);
    /* the server remembers the message id for EXCHANGE_LIFETIME, then forgets the peer */
    assert_int_equal(dk_coap_ep_peer_count(&w->s), 1);
    assert_int_equal(dk_coap_ep_peer_count(&w->c), 0);
    assert_int_equal(dk_coap_ep_deadline(&w->s), w->log[0].t + 10 + 247000);
    run(w, w->now + 247000);
    assert_int_equal(dk_coap_ep_peer_count(&w->s), 0);
    assert_int_equal(dk_coap_ep_deadline(&w->s), DK_TIME_NEVER);
    /* everything per request is gone again */
    assert_int_equal(dk_coap_ep_heap(&w->c), heap_c);
    assert_int_equal(dk_coap_ep_heap(&w->s), heap_s);
    world_stop(w);
}

/* RFC 7252 §4.2: retransmissions at T, 3T, 7T, 15T after the first
 * transmission with T random in [2 s, 3 s]; give up at 31T (<= 93 s). */
static void test_retransmission_times_exact(void **state)
{
    (void)state;
    struct world *w = &W;
    dk_time_t first_T = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        world_init(w, seed);
        w->net.loss_pct = 100;
        dk_time_t t0 = w->now;
        get(w, "/hello");
        run(w, t0 + 200000);
        assert_int_equal(w->nlog, 5);
        dk_time_t T = w->log[1].t - t0;
        assert_true(T >= 2000 && T <= 3000);
        for (size_t i = 0; i < 5; i++) {
            assert_int_equal(w->log[i].t - t0, T * ((1 << i) - 1));
            assert_int_equal(w->log[i].mid, w->log[0].mid); /* same message each time */
            assert_int_equal(w->log[i].type, DK_COAP_CON);
        }
        assert_int_equal(w->nres, 1);
        assert_int_equal(w->res[0].status, DK_ETIMEDOUT);
        assert_int_equal(w->res[0].t - t0, 31 * T);
        assert_true(w->res[0].t - t0 <= 93000);
        assert_int_equal(dk_coap_ep_stats(&w->c)->retransmissions, 4);
        assert_int_equal(dk_coap_ep_stats(&w->c)->timeouts, 1);
        assert_int_equal(dk_coap_ep_peer_count(&w->c), 0);
        if (seed == 1)
            first_T = T;
        world_stop(w);
    }
    /* the same seed gives the same schedule */
    world_init(w, 1);
    w->net.loss_pct = 100;
    dk_time_t t0 = w->now;
    get(w, "/hello");
    run(w, t0 + 5000);
    assert_int_equal(w->log[1].t - t0, first_T);
    world_stop(w);
}

static void test_retransmission_recovers(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 3);
    w->net.drop_list[0] = 1; /* the first request */
    w->net.drop_list[1] = 3; /* the first response to the retransmission */
    w->net.drop_count = 2;
    get(w, "/hello");
    run(w, w->now + 60000);
    assert_int_equal(w->nres, 1);
    assert_int_equal(w->res[0].status, 0);
    assert_int_equal(w->res[0].code, DK_COAP_CONTENT);
    /* 3 transmissions of the request; the handler ran once, the duplicate
     * got the cached reply */
    assert_int_equal(count_sent(w, 0, DK_COAP_CON, DK_COAP_GET), 3);
    assert_int_equal(count_sent(w, 1, DK_COAP_ACK, DK_COAP_CONTENT), 2);
    assert_int_equal(w->srv.hello_calls, 1);
    assert_int_equal(dk_coap_ep_stats(&w->s)->duplicates, 1);
    world_stop(w);
}

/* Feeds a hand-made datagram to the server and returns what it sent. */
static int feed(struct dk_coap_ep *ep, const struct dk_addr *from, const uint8_t *d, size_t n,
                dk_time_t now, uint8_t *out, size_t cap)
{
    dk_coap_ep_recv(ep, from, d, n, now);
    struct dk_addr to;
    int len = dk_coap_ep_pop_tx(ep, &to, out, cap);
    if (len > 0)
        assert_true(dk_addr_equal(&to, from));
    return len;
}

static void test_dedup_non_and_con(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 4);
    uint8_t out[256];
    /* NON GET /hello twice with the same message id: one NON answer */
    const uint8_t non[] = {0x51, 0x01, 0x10, 0x00, 0x77, 0xB5, 'h', 'e', 'l', 'l', 'o'};
    int n = feed(&w->s, &w->caddr, non, sizeof non, w->now, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(out[0] >> 4 & 3, DK_COAP_NON);
    assert_int_equal(out[1], DK_COAP_CONTENT);
    assert_int_equal(out[4], 0x77); /* token echoed */
    assert_int_equal(feed(&w->s, &w->caddr, non, sizeof non, w->now + 1000, out, sizeof out), 0);
    assert_int_equal(w->srv.hello_calls, 1);
    /* after NON_LIFETIME the id may be reused */
    assert_int_equal(feed(&w->s, &w->caddr, non, sizeof non, w->now + 145001, out, sizeof out) > 0,
                     1);
    assert_int_equal(w->srv.hello_calls, 2);
    /* CON: the duplicate gets the very same bytes back */
    const uint8_t con[] = {0x41, 0x01, 0x20, 0x00, 0x55, 0xB5, 'h', 'e', 'l', 'l', 'o'};
    uint8_t first[256];
    int n1 = feed(&w->s, &w->caddr, con, sizeof con, w->now, first, sizeof first);
    int n2 = feed(&w->s, &w->caddr, con, sizeof con, w->now + 5000, out, sizeof out);
    assert_int_equal(n1, n2);
    assert_memory_equal(first, out, (size_t)n1);
    assert_int_equal(first[0] >> 4 & 3, DK_COAP_ACK);
    assert_int_equal(first[2], 0x20); /* same message id */
    assert_int_equal(w->srv.hello_calls, 3);
    /* the same id from another peer is another message */
    struct dk_addr other;
    dk_addr_from_ip(&other, "::1", 1234);
    assert_true(feed(&w->s, &other, con, sizeof con, w->now, out, sizeof out) > 0);
    assert_int_equal(w->srv.hello_calls, 4);
    world_stop(w);
}

static char last_log[256];
static void capture_log(void *user, enum dk_log_level level, const char *module, const char *msg)
{
    snprintf(last_log, sizeof last_log, "%s: %s", module, msg);
}

static void test_ping_and_malformed(void **state)
{
    (void)state;
    struct world *w = &W;
    world_setup(w, 5);
    struct dk_log log = {capture_log, NULL, DK_LOG_DEBUG};
    w->scfg.log = &log;
    assert_int_equal(world_start(w), 0);
    uint8_t out[64];
    const uint8_t ping[] = {0x40, 0x00, 0xAB, 0xCD};
    assert_int_equal(feed(&w->s, &w->caddr, ping, sizeof ping, w->now, out, sizeof out), 4);
    const uint8_t rst[] = {0x70, 0x00, 0xAB, 0xCD};
    assert_memory_equal(out, rst, 4);
    /* CON with token length 9: message format error, rejected with RST */
    const uint8_t tkl9[] = {0x49, 0x01, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    assert_int_equal(dk_coap_ep_recv(&w->s, &w->caddr, tkl9, sizeof tkl9, w->now), DK_EPARSE);
    struct dk_addr to;
    assert_int_equal(dk_coap_ep_pop_tx(&w->s, &to, out, sizeof out), 4);
    assert_int_equal(out[0], 0x70);
    assert_int_equal(out[2], 0x12);
    assert_int_equal(out[3], 0x34);
    assert_string_equal(last_log,
                        "coap: 10.0.0.1:40000: dropped 13-byte datagram: malformed input");
    /* the same as NON: silently dropped */
    const uint8_t ntkl9[] = {0x59, 0x01, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    assert_int_equal(dk_coap_ep_recv(&w->s, &w->caddr, ntkl9, sizeof ntkl9, w->now), DK_EPARSE);
    assert_int_equal(dk_coap_ep_pop_tx(&w->s, &to, out, sizeof out), 0);
    /* marker without payload, wrong version, ACK carrying a request, reserved class */
    const uint8_t marker[] = {0x40, 0x01, 0x00, 0x01, 0xFF};
    assert_int_equal(dk_coap_ep_recv(&w->s, &w->caddr, marker, sizeof marker, w->now), DK_EPARSE);
    assert_int_equal(dk_coap_ep_pop_tx(&w->s, &to, out, sizeof out), 4);
    const uint8_t v2[] = {0x80, 0x01, 0x00, 0x01};
    assert_int_equal(dk_coap_ep_recv(&w->s, &w->caddr, v2, sizeof v2, w->now), DK_EVERSION);
    assert_int_equal(dk_coap_ep_pop_tx(&w->s, &to, out, sizeof out), 0);
    const uint8_t ackreq[] = {0x60, 0x01, 0x00, 0x02};
    assert_int_equal(dk_coap_ep_recv(&w->s, &w->caddr, ackreq, sizeof ackreq, w->now), DK_EPARSE);
    assert_int_equal(dk_coap_ep_pop_tx(&w->s, &to, out, sizeof out), 0);
    const uint8_t cls7[] = {0x40, 0xE0, 0x00, 0x03};
    assert_int_equal(dk_coap_ep_recv(&w->s, &w->caddr, cls7, sizeof cls7, w->now), DK_EPARSE);
    assert_int_equal(dk_coap_ep_pop_tx(&w->s, &to, out, sizeof out), 4);
    assert_int_equal(out[0], 0x70);
    assert_int_equal(dk_coap_ep_stats(&w->s)->malformed, 6);
    assert_int_equal(w->srv.hello_calls, 0);
    assert_int_equal(dk_coap_ep_peer_count(&w->s), 0); /* no state for any of it */
    world_stop(w);
}

static void test_unknown_critical_option(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 6);
    uint8_t out[128];
    /* CON GET /hello with option 9 (critical, unassigned): 4.02 */
    const uint8_t con[] = {0x41, 0x01, 0x00, 0x01, 0x33, 0x91, 'x', 0x25, 'h', 'e', 'l', 'l', 'o'};
    int n = feed(&w->s, &w->caddr, con, sizeof con, w->now, out, sizeof out);
    assert_true(n > 6);
    assert_int_equal(out[0], 0x61);
    assert_int_equal(out[1], DK_COAP_BAD_OPTION);
    struct dk_coap_msg m;
    assert_int_equal(dk_coap_msg_decode(&m, out, (size_t)n), 0);
    assert_int_equal(m.payload_len, strlen("unrecognized option 9"));
    assert_memory_equal(m.payload, "unrecognized option 9", m.payload_len);
    /* the same in a NON: rejected silently */
    const uint8_t non[] = {0x51, 0x01, 0x00, 0x02, 0x33, 0x91, 'x', 0x25, 'h', 'e', 'l', 'l', 'o'};
    assert_int_equal(feed(&w->s, &w->caddr, non, sizeof non, w->now, out, sizeof out), 0);
    /* an unknown elective option is ignored */
    const uint8_t el[] = {0x41, 0x01, 0x00, 0x03, 0x33, 0xA1, 'x', 0x15, 'h', 'e', 'l', 'l', 'o'};
    n = feed(&w->s, &w->caddr, el, sizeof el, w->now, out, sizeof out);
    assert_int_equal(out[1], DK_COAP_CONTENT);
    assert_int_equal(w->srv.hello_calls, 1);

    /* Client: a separate CON response with an unknown critical option is
     * rejected with RST and the exchange fails with DK_EBADOPT. */
    w->nres = 0;
    get(w, "/hello");
    struct dk_addr to;
    uint8_t req[128];
    n = dk_coap_ep_pop_tx(&w->c, &to, req, sizeof req);
    assert_true(n > 0);
    struct dk_coap_msg rq;
    assert_int_equal(dk_coap_msg_decode(&rq, req, (size_t)n), 0);
    uint8_t ack[4] = {0x60, 0, req[2], req[3]};
    dk_coap_ep_recv(&w->c, &w->saddr, ack, 4, w->now);
    assert_int_equal(w->nres, 0);
    struct dk_coap_msg resp;
    dk_coap_msg_init(&resp, DK_COAP_CON, DK_COAP_CONTENT, 0x4242);
    dk_coap_msg_set_token(&resp, rq.token, rq.tkl);
    dk_coap_msg_add_opt(&resp, 9, "x", 1);
    uint8_t rb[64];
    size_t rl;
    dk_coap_msg_encode(&resp, rb, sizeof rb, &rl);
    dk_coap_ep_recv(&w->c, &w->saddr, rb, rl, w->now);
    assert_int_equal(dk_coap_ep_pop_tx(&w->c, &to, out, sizeof out), 4);
    assert_int_equal(out[0], 0x70);
    assert_int_equal(out[2], 0x42);
    assert_int_equal(w->nres, 1);
    assert_int_equal(w->res[0].status, DK_EBADOPT);
    world_stop(w);
}

static void test_separate_response(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 7);
    get(w, "/sep");
    run(w, w->now + 1000);
    assert_true(w->srv.have_deferred);
    assert_int_equal(w->nres, 0);
    /* empty ACK went back */
    assert_int_equal(count_sent(w, 1, DK_COAP_ACK, DK_COAP_EMPTY), 1);
    /* the response comes 5 s later as CON; its first transmission is lost */
    w->net.drop_list[0] = w->net.sent + 1;
    w->net.drop_count = 1;
    struct dk_coap_msg r;
    dk_coap_msg_init(&r, DK_COAP_CON, DK_COAP_CONTENT, 0);
    dk_coap_msg_set_payload(&r, "later", 5);
    run(w, w->now + 5000);
    assert_int_equal(dk_coap_ep_respond(&w->s, &w->srv.deferred, &r, w->now), 0);
    run(w, w->now + 30000);
    assert_int_equal(w->nres, 1);
    assert_int_equal(w->res[0].status, 0);
    assert_int_equal(w->res[0].code, DK_COAP_CONTENT);
    assert_memory_equal(w->res[0].payload, "later", 5);
    assert_int_equal(count_sent(w, 1, DK_COAP_CON, DK_COAP_CONTENT), 2);
    assert_int_equal(count_sent(w, 0, DK_COAP_ACK, DK_COAP_EMPTY), 1);
    assert_int_equal(w->srv.sep_calls, 1);
    assert_int_equal(w->srv.events, 0);
    world_stop(w);
}

static void test_separate_response_duplicated(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 8);
    w->net.dup_pct = 100; /* every datagram arrives twice */
    get(w, "/sep");
    run(w, w->now + 1000);
    struct dk_coap_msg r;
    dk_coap_msg_init(&r, DK_COAP_CON, DK_COAP_CHANGED, 0);
    assert_int_equal(dk_coap_ep_respond(&w->s, &w->srv.deferred, &r, w->now), 0);
    run(w, w->now + 30000);
    assert_int_equal(w->nres, 1); /* delivered once */
    assert_int_equal(w->res[0].code, DK_COAP_CHANGED);
    assert_int_equal(w->srv.sep_calls, 1);
    /* the client ACKed the duplicate again from its dedup record */
    assert_int_equal(count_sent(w, 0, DK_COAP_ACK, DK_COAP_EMPTY), 2);
    assert_true(dk_coap_ep_stats(&w->c)->duplicates >= 1);
    world_stop(w);
}

static void test_separate_response_unacknowledged(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 9);
    get(w, "/sep");
    run(w, w->now + 1000);
    w->net.loss_pct = 100;
    struct dk_coap_msg r;
    dk_coap_msg_init(&r, DK_COAP_CON, DK_COAP_CONTENT, 0);
    assert_int_equal(dk_coap_ep_respond(&w->s, &w->srv.deferred, &r, w->now), 0);
    run(w, w->now + 100000);
    assert_int_equal(w->srv.events, 1);
    assert_int_equal(w->srv.last_event.type, DK_COAP_EV_RESPONSE_FAILED);
    assert_int_equal(w->srv.last_event.reason, DK_ETIMEDOUT);
    /* the client gave up on the separate response after separate_timeout_ms */
    assert_int_equal(w->nres, 1);
    assert_int_equal(w->res[0].status, DK_ETIMEDOUT);
    world_stop(w);
}

static void test_rst_reported(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 10);
    get(w, "/hello");
    uint8_t req[128];
    struct dk_addr to;
    int n = dk_coap_ep_pop_tx(&w->c, &to, req, sizeof req);
    assert_true(n > 0);
    const uint8_t rst[4] = {0x70, 0x00, req[2], req[3]};
    dk_coap_ep_recv(&w->c, &w->saddr, rst, 4, w->now);
    assert_int_equal(w->nres, 1);
    assert_int_equal(w->res[0].status, DK_ERESET);
    assert_int_equal(dk_coap_ep_stats(&w->c)->rst_received, 1);
    assert_int_equal(dk_coap_ep_deadline(&w->c), DK_TIME_NEVER); /* nothing retransmits */
    /* a RST with another id, or from another peer, changes nothing */
    get(w, "/hello");
    n = dk_coap_ep_pop_tx(&w->c, &to, req, sizeof req);
    const uint8_t rst2[4] = {0x70, 0x00, (uint8_t)(req[2] + 1), req[3]};
    dk_coap_ep_recv(&w->c, &w->saddr, rst2, 4, w->now);
    struct dk_addr other;
    dk_addr_from_ip(&other, "10.9.9.9", 5683);
    const uint8_t rst3[4] = {0x70, 0x00, req[2], req[3]};
    dk_coap_ep_recv(&w->c, &other, rst3, 4, w->now);
    assert_int_equal(w->nres, 1);
    world_stop(w);
}

static void test_nstart_queue(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 11);
    uint32_t a = get(w, "/hello"), b = get(w, "/big"), c = get(w, "/hello");
    drain(w);
    assert_int_equal(w->nlog, 1); /* NSTART = 1: one request at a time */
    assert_int_equal(dk_coap_ep_exchange_count(&w->c), 3);
    run(w, w->now + 10000);
    assert_int_equal(w->nres, 3);
    assert_int_equal(w->res[0].id, a);
    assert_int_equal(w->res[1].id, b);
    assert_int_equal(w->res[2].id, c);
    assert_int_equal(w->res[1].len, sizeof big);
    /* never two client requests in flight: each request follows a response */
    int inflight = 0;
    for (size_t i = 0; i < w->nlog; i++) {
        if (w->log[i].from == 0 && w->log[i].type == DK_COAP_CON)
            inflight++;
        else if (w->log[i].from == 1 && w->log[i].type == DK_COAP_ACK)
            inflight--;
        assert_true(inflight <= 1);
    }
    world_stop(w);
}

static void test_non_request(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 12);
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, DK_COAP_GET, "/hello");
    r.non = true;
    r.cb = on_result;
    r.cb_user = w;
    assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, NULL), 0);
    run(w, w->now + 1000);
    assert_int_equal(w->nres, 1);
    assert_int_equal(w->res[0].code, DK_COAP_CONTENT);
    assert_int_equal(count_sent(w, 0, DK_COAP_NON, DK_COAP_GET), 1);
    assert_int_equal(count_sent(w, 1, DK_COAP_NON, DK_COAP_CONTENT), 1);
    /* lost NON: no retransmission, DK_ETIMEDOUT after non_timeout_ms */
    w->net.loss_pct = 100;
    dk_time_t t0 = w->now;
    assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, NULL), 0);
    run(w, w->now + 100000);
    assert_int_equal(w->nres, 2);
    assert_int_equal(w->res[1].status, DK_ETIMEDOUT);
    assert_int_equal(w->res[1].t - t0, 45000);
    assert_int_equal(count_sent(w, 0, DK_COAP_NON, DK_COAP_GET), 2);
    world_stop(w);
}

static void test_router_and_methods(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 13);
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, DK_COAP_DELETE, "/hello");
    r.cb = on_result;
    r.cb_user = w;
    assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, NULL), 0);
    get(w, "/nothing");
    get(w, "/tree");
    get(w, "/tree/a/b");
    get(w, "/treex");
    run(w, w->now + 10000);
    assert_int_equal(w->nres, 5);
    assert_int_equal(w->res[0].code, DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(w->res[1].code, DK_COAP_NOT_FOUND);
    assert_int_equal(w->res[2].code, DK_COAP_CONTENT);
    assert_int_equal(w->res[3].code, DK_COAP_CONTENT);
    assert_int_equal(w->res[4].code, DK_COAP_NOT_FOUND);
    world_stop(w);
}

static void test_cancel_and_peer_closed(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 14);
    w->net.loss_pct = 100;
    uint32_t a = get(w, "/hello");
    get(w, "/hello");
    get(w, "/hello");
    assert_int_equal(dk_coap_ep_cancel(&w->c, a, w->now), 0);
    assert_int_equal(dk_coap_ep_cancel(&w->c, a, w->now), DK_ENOTFOUND);
    assert_int_equal(dk_coap_ep_exchange_count(&w->c), 2);
    run(w, w->now + 1000);
    dk_coap_ep_peer_closed(&w->c, &w->saddr, w->now);
    assert_int_equal(w->nres, 2);
    assert_int_equal(w->res[0].status, DK_ECLOSED);
    assert_int_equal(w->res[1].status, DK_ECLOSED);
    assert_int_equal(dk_coap_ep_exchange_count(&w->c), 0);
    assert_int_equal(dk_coap_ep_peer_count(&w->c), 0);
    world_stop(w);
}

static void test_limits_and_config(void **state)
{
    (void)state;
    struct world *w = &W;
    world_setup(w, 15);
    w->ccfg.max_exchanges = 2;
    w->ccfg.max_peers = 1;
    assert_int_equal(world_start(w), 0);
    get(w, "/hello");
    get(w, "/hello");
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, DK_COAP_GET, "/hello");
    assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, NULL), DK_ELIMIT);
    run(w, w->now + 5000);
    struct dk_addr other;
    dk_addr_from_ip(&other, "10.0.0.3", 5683);
    assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, NULL), 0);
    assert_int_equal(dk_coap_ep_request(&w->c, &other, &r, w->now, NULL), DK_ELIMIT);
    r.method = 0;
    assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, NULL), DK_EINVAL);
    r.method = DK_COAP_GET;
    static char longpath[2000];
    memset(longpath, 'a', sizeof longpath - 1);
    r.path = longpath; /* one 1999-byte segment: too long for max_message */
    assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, NULL), DK_ENOSPC);
    for (size_t i = 0; i < 80; i += 2) /* 40 segments: more than DK_COAP_MAX_OPTIONS */
        memcpy(longpath + i, "/a", 2);
    longpath[80] = '\0';
    assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, NULL), DK_ENOSPC);
    world_stop(w);

    struct dk_coap_config cfg;
    dk_coap_config_init(&cfg);
    struct dk_coap_ep ep;
    dk_coap_ep_init(&ep);
    assert_int_equal(dk_coap_ep_setup(&ep, &cfg), DK_EINVAL); /* no rng */
    dk_coap_ep_free(&ep);
    dk_coap_ep_free(&ep);
}

/* ---- Block-wise transfers ------------------------------------------------------------------- */

static void test_block2_4k_over_lossy_network(void **state)
{
    (void)state;
    struct world *w = &W;
    for (uint64_t seed = 20; seed < 26; seed++) {
        world_setup(w, seed);
        if (seed & 1)
            w->ccfg.block_szx = 4; /* the client asks for 256-byte blocks */
        assert_int_equal(world_start(w), 0);
        w->net.loss_pct = 10;
        w->net.dup_pct = 10;
        w->net.reorder_pct = 30;
        w->net.reorder_ms = 3000;
        get(w, "/big");
        run(w, w->now + 1000000);
        assert_int_equal(w->nres, 1);
        assert_int_equal(w->res[0].status, 0);
        assert_int_equal(w->res[0].code, DK_COAP_CONTENT);
        assert_int_equal(w->res[0].len, sizeof big);
        assert_memory_equal(w->res[0].payload, big, sizeof big);
        size_t blocks = count_sent(w, 0, DK_COAP_CON, DK_COAP_GET);
        assert_true(blocks >= ((seed & 1) ? 16u : 4u));
        world_stop(w);
    }
}

static void test_block1_4k_over_lossy_network(void **state)
{
    (void)state;
    struct world *w = &W;
    for (uint64_t seed = 30; seed < 36; seed++) {
        world_setup(w, seed);
        if (seed & 1)
            w->scfg.block_szx = 4; /* the server wants 256-byte blocks: late negotiation */
        assert_int_equal(world_start(w), 0);
        w->net.loss_pct = 10;
        w->net.dup_pct = 10;
        w->net.reorder_pct = 30;
        w->net.reorder_ms = 3000;
        struct dk_coap_client_req r;
        dk_coap_client_req_init(&r, seed & 2 ? DK_COAP_POST : DK_COAP_PUT, "/upload");
        r.payload = big;
        r.payload_len = sizeof big;
        r.content_format = DK_COAP_FMT_OPAQUE;
        r.cb = on_result;
        r.cb_user = w;
        assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, NULL), 0);
        run(w, w->now + 1000000);
        assert_int_equal(w->nres, 1);
        assert_int_equal(w->res[0].status, 0);
        assert_int_equal(w->res[0].code, seed & 2 ? DK_COAP_CREATED : DK_COAP_CHANGED);
        assert_int_equal(w->srv.upload_calls, 1);
        assert_int_equal(w->srv.upload_len, sizeof big);
        assert_memory_equal(w->srv.upload, big, sizeof big);
        assert_true(count_sent(w, 1, DK_COAP_ACK, DK_COAP_CONTINUE) >= ((seed & 1) ? 15u : 3u));
        assert_int_equal(dk_coap_ep_stats(&w->s)->rx > 0, 1);
        world_stop(w);
    }
}

static void test_block_errors(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 40);
    uint8_t out[256];
    struct dk_coap_msg m, r;
    uint8_t dg[1200];
    size_t n;
    static uint8_t payload[1024];
    /* Block1 num 1 with no transfer started: 4.08 */
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_PUT, 1);
    dk_coap_msg_add_path(&m, "upload");
    struct dk_coap_block b = {1, true, 6};
    dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK1, &b);
    dk_coap_msg_set_payload(&m, payload, 1024);
    dk_coap_msg_encode(&m, dg, sizeof dg, &n);
    int len = feed(&w->s, &w->caddr, dg, n, w->now, out, sizeof out);
    assert_int_equal(dk_coap_msg_decode(&r, out, (size_t)len), 0);
    assert_int_equal(r.code, DK_COAP_REQUEST_ENTITY_INCOMPLETE);
    /* Size1 larger than max_body: 4.13 with Size1 = what we take */
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_PUT, 2);
    dk_coap_msg_add_path(&m, "upload");
    b.num = 0;
    dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK1, &b);
    dk_coap_msg_add_uint(&m, DK_COAP_OPT_SIZE1, 1000000);
    dk_coap_msg_set_payload(&m, payload, 1024);
    dk_coap_msg_encode(&m, dg, sizeof dg, &n);
    len = feed(&w->s, &w->caddr, dg, n, w->now, out, sizeof out);
    assert_int_equal(dk_coap_msg_decode(&r, out, (size_t)len), 0);
    assert_int_equal(r.code, DK_COAP_REQUEST_ENTITY_TOO_LARGE);
    uint32_t size1;
    assert_int_equal(dk_coap_msg_get_uint(&r, DK_COAP_OPT_SIZE1, &size1), 0);
    assert_int_equal(size1, w->scfg.max_body);
    /* blocks beyond max_body without Size1: 4.13 when the body grows too large */
    int last = 0;
    for (uint32_t i = 0; i < 10 && last != DK_COAP_REQUEST_ENTITY_TOO_LARGE; i++) {
        dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_PUT, (uint16_t)(10 + i));
        dk_coap_msg_add_path(&m, "upload");
        b.num = i;
        dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK1, &b);
        dk_coap_msg_set_payload(&m, payload, 1024);
        dk_coap_msg_encode(&m, dg, sizeof dg, &n);
        len = feed(&w->s, &w->caddr, dg, n, w->now, out, sizeof out);
        assert_int_equal(dk_coap_msg_decode(&r, out, (size_t)len), 0);
        last = r.code;
        if (i < 8) {
            assert_int_equal(r.code, DK_COAP_CONTINUE);
            struct dk_coap_block ack;
            assert_int_equal(dk_coap_msg_get_block(&r, DK_COAP_OPT_BLOCK1, &ack), 0);
            assert_int_equal(ack.num, i);
            assert_true(ack.more);
        }
    }
    assert_int_equal(last, DK_COAP_REQUEST_ENTITY_TOO_LARGE);
    assert_int_equal(w->srv.upload_calls, 0);
    /* a short non-final block: 4.00 */
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_PUT, 30);
    dk_coap_msg_add_path(&m, "upload");
    b.num = 0;
    dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK1, &b);
    dk_coap_msg_set_payload(&m, payload, 100);
    dk_coap_msg_encode(&m, dg, sizeof dg, &n);
    len = feed(&w->s, &w->caddr, dg, n, w->now, out, sizeof out);
    assert_int_equal(dk_coap_msg_decode(&r, out, (size_t)len), 0);
    assert_int_equal(r.code, DK_COAP_BAD_REQUEST);
    /* Block2 beyond the end of the representation: 4.02 */
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 31);
    dk_coap_msg_add_path(&m, "big");
    struct dk_coap_block b2 = {4, false, 6};
    dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK2, &b2);
    dk_coap_msg_encode(&m, dg, sizeof dg, &n);
    len = feed(&w->s, &w->caddr, dg, n, w->now, out, sizeof out);
    assert_int_equal(dk_coap_msg_decode(&r, out, (size_t)len), 0);
    assert_int_equal(r.code, DK_COAP_BAD_OPTION);
    /* Block2 with SZX 7: 4.00 */
    uint8_t szx7[] = {0x40, 0x01, 0x00, 0x50, 0xB3, 'b', 'i', 'g', 0xC1, 0x07};
    len = feed(&w->s, &w->caddr, szx7, sizeof szx7, w->now, out, sizeof out);
    assert_int_equal(out[1], DK_COAP_BAD_REQUEST);
    /* Block2 num 3 of 256 bytes: the right slice, M set, no Size2 */
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 32);
    dk_coap_msg_add_path(&m, "big");
    b2 = (struct dk_coap_block){3, false, 4};
    dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK2, &b2);
    dk_coap_msg_encode(&m, dg, sizeof dg, &n);
    static uint8_t out2[1200];
    len = feed(&w->s, &w->caddr, dg, n, w->now, out2, sizeof out2);
    assert_int_equal(dk_coap_msg_decode(&r, out2, (size_t)len), 0);
    assert_int_equal(r.code, DK_COAP_CONTENT);
    assert_int_equal(dk_coap_msg_get_block(&r, DK_COAP_OPT_BLOCK2, &b2), 0);
    assert_int_equal(b2.num, 3);
    assert_true(b2.more);
    assert_int_equal(b2.szx, 4);
    assert_int_equal(r.payload_len, 256);
    assert_memory_equal(r.payload, big + 768, 256);
    assert_null(dk_coap_msg_find(&r, DK_COAP_OPT_SIZE2));
    /* block 0 without asking: Block2 and Size2 = 4096, ETag kept */
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 33);
    dk_coap_msg_add_path(&m, "big");
    dk_coap_msg_encode(&m, dg, sizeof dg, &n);
    len = feed(&w->s, &w->caddr, dg, n, w->now, out2, sizeof out2);
    assert_int_equal(dk_coap_msg_decode(&r, out2, (size_t)len), 0);
    assert_int_equal(dk_coap_msg_get_uint(&r, DK_COAP_OPT_SIZE2, &size1), 0);
    assert_int_equal(size1, 4096);
    assert_int_equal(r.payload_len, 1024);
    assert_non_null(dk_coap_msg_find(&r, DK_COAP_OPT_ETAG));
    assert_true((size_t)len <= w->scfg.max_message);
    /* block 0 of an empty representation */
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 34);
    dk_coap_msg_add_path(&m, "gone");
    b2 = (struct dk_coap_block){0, false, 6};
    dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK2, &b2);
    dk_coap_msg_encode(&m, dg, sizeof dg, &n);
    len = feed(&w->s, &w->caddr, dg, n, w->now, out2, sizeof out2);
    assert_int_equal(dk_coap_msg_decode(&r, out2, (size_t)len), 0);
    assert_int_equal(r.code, DK_COAP_CONTENT);
    assert_int_equal(dk_coap_msg_get_block(&r, DK_COAP_OPT_BLOCK2, &b2), 0);
    assert_false(b2.more);
    assert_int_equal(r.payload_len, 0);
    /* a Block1 transfer whose last block is empty */
    for (uint32_t i = 0; i < 2; i++) {
        dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_POST, (uint16_t)(40 + i));
        dk_coap_msg_add_path(&m, "upload");
        b = (struct dk_coap_block){i, i == 0, 6};
        dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK1, &b);
        dk_coap_msg_set_payload(&m, payload, i == 0 ? 1024 : 0);
        dk_coap_msg_encode(&m, dg, sizeof dg, &n);
        len = feed(&w->s, &w->caddr, dg, n, w->now, out, sizeof out);
        assert_int_equal(dk_coap_msg_decode(&r, out, (size_t)len), 0);
        assert_int_equal(r.code, i == 0 ? DK_COAP_CONTINUE : DK_COAP_CREATED);
    }
    assert_int_equal(w->srv.upload_calls, 1);
    assert_int_equal(w->srv.upload_len, 1024);
    struct dk_coap_block echo;
    assert_int_equal(dk_coap_msg_get_block(&r, DK_COAP_OPT_BLOCK1, &echo), 0);
    assert_int_equal(echo.num, 1);
    assert_false(echo.more);
    world_stop(w);
}

/* ---- Observe -----------------------------------------------------------------------------------
 */

static uint32_t observe(struct world *w, const char *path)
{
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, DK_COAP_GET, path);
    r.observe = true;
    r.cb = on_result;
    r.cb_user = w;
    uint32_t id = 0;
    assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, &id), 0);
    return id;
}

static void test_observe_sequence(void **state)
{
    (void)state;
    struct world *w = &W;
    world_setup(w, 50);
    w->scfg.notify_con_every = 3;
    assert_int_equal(world_start(w), 0);
    uint32_t id = observe(w, "/obs");
    run(w, w->now + 1000);
    assert_int_equal(w->nres, 1);
    assert_true(w->res[0].observing);
    assert_false(w->res[0].notification);
    assert_memory_equal(w->res[0].payload, "v=0", 3);
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 1);
    uint32_t seq0 = w->res[0].seq;
    for (int i = 1; i <= 6; i++) {
        w->srv.counter = i;
        assert_int_equal(dk_coap_ep_notify(&w->s, "/obs", w->now), 1);
        run(w, w->now + 1000);
    }
    assert_int_equal(dk_coap_ep_notify(&w->s, "/other", w->now), 0);
    assert_int_equal(w->nres, 7);
    for (int i = 1; i <= 6; i++) {
        char want[8];
        snprintf(want, sizeof want, "v=%d", i);
        assert_int_equal(w->res[i].id, id);
        assert_true(w->res[i].notification);
        assert_true(w->res[i].observing);
        assert_int_equal(w->res[i].len, strlen(want));
        assert_memory_equal(w->res[i].payload, want, strlen(want));
        assert_int_equal(w->res[i].seq, (seq0 + (uint32_t)i) & 0xFFFFFF);
    }
    /* every 3rd notification is CON, the others NON; the client ACKs the CON ones */
    assert_int_equal(count_sent(w, 1, DK_COAP_CON, DK_COAP_CONTENT), 2);
    assert_int_equal(count_sent(w, 1, DK_COAP_NON, DK_COAP_CONTENT), 4);
    assert_int_equal(count_sent(w, 0, DK_COAP_ACK, DK_COAP_EMPTY), 2);
    assert_int_equal(dk_coap_ep_exchange_count(&w->c), 1);
    /* one observer by its id, then dropped without a word to the client */
    w->srv.counter = 7;
    assert_int_equal(dk_coap_ep_notify_id(&w->s, w->srv.last_observe_id, w->now), 0);
    run(w, w->now + 1000);
    assert_int_equal(w->nres, 8);
    assert_memory_equal(w->res[7].payload, "v=7", 3);
    assert_int_equal(dk_coap_ep_notify_id(&w->s, 12345, w->now), DK_ENOTFOUND);
    assert_int_equal(dk_coap_ep_observe_drop(&w->s, w->srv.last_observe_id), 0);
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 0);
    assert_int_equal(w->srv.events, 0);
    assert_int_equal(dk_coap_ep_notify(&w->s, "/obs", w->now), 0);
    world_stop(w);
}

/* Feeds the client a notification with sequence number seq. */
static void notify_raw(struct world *w, const uint8_t *tok, uint8_t tkl, uint16_t mid, uint32_t seq,
                       const char *text)
{
    struct dk_coap_msg n;
    dk_coap_msg_init(&n, DK_COAP_NON, DK_COAP_CONTENT, mid);
    dk_coap_msg_set_token(&n, tok, tkl);
    dk_coap_msg_add_uint(&n, DK_COAP_OPT_OBSERVE, seq);
    dk_coap_msg_set_payload(&n, text, strlen(text));
    uint8_t d[128];
    size_t len;
    assert_int_equal(dk_coap_msg_encode(&n, d, sizeof d, &len), 0);
    dk_coap_ep_recv(&w->c, &w->saddr, d, len, w->now);
}

static void test_observe_freshness_rule(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 51);
    observe(w, "/x");
    uint8_t req[128];
    struct dk_addr to;
    int n = dk_coap_ep_pop_tx(&w->c, &to, req, sizeof req);
    struct dk_coap_msg rq;
    assert_int_equal(dk_coap_msg_decode(&rq, req, (size_t)n), 0);
    uint32_t obs;
    assert_int_equal(dk_coap_msg_get_uint(&rq, DK_COAP_OPT_OBSERVE, &obs), 0);
    assert_int_equal(obs, 0);
    /* the registration response, piggybacked, seq 10 */
    struct dk_coap_msg a;
    dk_coap_msg_init(&a, DK_COAP_ACK, DK_COAP_CONTENT, rq.mid);
    dk_coap_msg_set_token(&a, rq.token, rq.tkl);
    dk_coap_msg_add_uint(&a, DK_COAP_OPT_OBSERVE, 10);
    uint8_t d[64];
    size_t len;
    dk_coap_msg_encode(&a, d, sizeof d, &len);
    dk_coap_ep_recv(&w->c, &w->saddr, d, len, w->now);
    assert_int_equal(w->nres, 1);
    assert_true(w->res[0].observing);
    assert_int_equal(w->res[0].seq, 10);
    /* reordered: 12 arrives before 11; 11 is then stale and dropped */
    notify_raw(w, rq.token, rq.tkl, 100, 12, "12");
    notify_raw(w, rq.token, rq.tkl, 101, 11, "11");
    notify_raw(w, rq.token, rq.tkl, 102, 12, "12 again");
    notify_raw(w, rq.token, rq.tkl, 103, 13, "13");
    assert_int_equal(w->nres, 3);
    assert_memory_equal(w->res[1].payload, "12", 2);
    assert_memory_equal(w->res[2].payload, "13", 2);
    assert_int_equal(dk_coap_ep_stats(&w->c)->stale_notifications, 2);
    /* within 2^23 forward is fresh; exactly 2^23 forward is not */
    notify_raw(w, rq.token, rq.tkl, 104, 13 + (1u << 23), "far");
    assert_int_equal(w->nres, 3);
    notify_raw(w, rq.token, rq.tkl, 105, 13 + (1u << 23) - 1, "near");
    assert_int_equal(w->nres, 4);
    /* wrap-around: 0xFFFFF0 -> 5 is forward */
    uint32_t v = 13 + (1u << 23) - 1;
    notify_raw(w, rq.token, rq.tkl, 106, v + 0x700000, "a");
    assert_int_equal(w->nres, 5);
    notify_raw(w, rq.token, rq.tkl, 107, 0xFFFFF0, "b");
    assert_int_equal(w->nres, 6);
    notify_raw(w, rq.token, rq.tkl, 108, 5, "wrapped");
    assert_int_equal(w->nres, 7);
    assert_memory_equal(w->res[6].payload, "wrapped", 7);
    /* an old number is accepted again once 128 s have passed */
    notify_raw(w, rq.token, rq.tkl, 109, 3, "old");
    assert_int_equal(w->nres, 7);
    w->now += 128000;
    notify_raw(w, rq.token, rq.tkl, 110, 3, "old");
    assert_int_equal(w->nres, 7);
    w->now += 1;
    notify_raw(w, rq.token, rq.tkl, 111, 3, "old");
    assert_int_equal(w->nres, 8);
    /* a notification without Observe ends the observation */
    struct dk_coap_msg e;
    dk_coap_msg_init(&e, DK_COAP_NON, DK_COAP_CONTENT, 112);
    dk_coap_msg_set_token(&e, rq.token, rq.tkl);
    dk_coap_msg_encode(&e, d, sizeof d, &len);
    dk_coap_ep_recv(&w->c, &w->saddr, d, len, w->now);
    assert_int_equal(w->nres, 9);
    assert_false(w->res[8].observing);
    assert_int_equal(dk_coap_ep_exchange_count(&w->c), 0);
    /* afterwards its notifications are rejected with RST */
    while (dk_coap_ep_pop_tx(&w->c, &to, req, sizeof req) > 0)
        ;
    notify_raw(w, rq.token, rq.tkl, 113, 20, "late");
    n = dk_coap_ep_pop_tx(&w->c, &to, req, sizeof req);
    assert_int_equal(n, 4);
    assert_int_equal(req[0], 0x70);
    world_stop(w);
}

static void test_observe_reordered_network(void **state)
{
    (void)state;
    struct world *w = &W;
    world_setup(w, 52);
    w->scfg.notify_con_every = 1000;
    assert_int_equal(world_start(w), 0);
    observe(w, "/obs");
    run(w, w->now + 1000);
    w->net.reorder_pct = 50;
    w->net.reorder_ms = 400;
    for (int i = 1; i <= 40; i++) {
        w->srv.counter = i;
        dk_coap_ep_notify(&w->s, "/obs", w->now);
        run(w, w->now + 50);
    }
    run(w, w->now + 5000);
    /* what arrives is in increasing order and ends with the last state */
    assert_true(w->nres >= 2);
    int prev = -1;
    for (size_t i = 1; i < w->nres; i++) {
        char text[16] = {0};
        memcpy(text, w->res[i].payload, w->res[i].len < 15 ? w->res[i].len : 15);
        int v = atoi(text + 2);
        assert_true(v > prev);
        prev = v;
    }
    assert_int_equal(prev, 40);
    assert_true(dk_coap_ep_stats(&w->c)->stale_notifications > 0);
    world_stop(w);
}

static void test_observe_cancel_by_get(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 53);
    uint32_t id = observe(w, "/obs");
    run(w, w->now + 1000);
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 1);
    assert_int_equal(dk_coap_ep_observe_cancel(&w->c, id, w->now), 0);
    assert_int_equal(dk_coap_ep_observe_cancel(&w->c, id, w->now), DK_ESTATE);
    run(w, w->now + 1000);
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 0);
    assert_int_equal(w->srv.events, 1);
    assert_int_equal(w->srv.last_event.type, DK_COAP_EV_OBSERVE_END);
    assert_int_equal(w->srv.last_event.reason, DK_ECANCELED);
    assert_int_equal(w->nres, 2);
    assert_false(w->res[1].observing);
    assert_false(w->res[1].notification);
    assert_int_equal(w->res[1].code, DK_COAP_CONTENT);
    assert_int_equal(dk_coap_ep_exchange_count(&w->c), 0);
    assert_int_equal(dk_coap_ep_notify(&w->s, "/obs", w->now), 0);
    world_stop(w);
}

static void test_observe_cancel_by_rst(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 54);
    uint32_t id = observe(w, "/obs");
    run(w, w->now + 1000);
    assert_int_equal(dk_coap_ep_cancel(&w->c, id, w->now), 0);
    w->srv.counter = 1;
    assert_int_equal(dk_coap_ep_notify(&w->s, "/obs", w->now), 1); /* a NON notification */
    run(w, w->now + 1000);
    assert_int_equal(count_sent(w, 0, DK_COAP_RST, DK_COAP_EMPTY), 1);
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 0);
    assert_int_equal(w->srv.last_event.reason, DK_ERESET);
    assert_int_equal(w->srv.last_event.observe_id, w->srv.last_observe_id);
    assert_int_equal(w->nres, 1); /* no callback after the cancel */
    world_stop(w);
}

static void test_observe_con_timeout_drops_observer(void **state)
{
    (void)state;
    struct world *w = &W;
    world_setup(w, 55);
    w->scfg.notify_con_every = 1;
    assert_int_equal(world_start(w), 0);
    observe(w, "/obs");
    run(w, w->now + 1000);
    w->net.loss_pct = 100;
    w->srv.counter = 1;
    dk_coap_ep_notify(&w->s, "/obs", w->now);
    run(w, w->now + 10000);
    /* a newer state while the CON is in flight replaces it, keeping its timer */
    w->srv.counter = 2;
    dk_coap_ep_notify(&w->s, "/obs", w->now);
    run(w, w->now + 200000);
    assert_int_equal(count_sent(w, 1, DK_COAP_CON, DK_COAP_CONTENT), 5);
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 0);
    assert_int_equal(w->srv.last_event.type, DK_COAP_EV_OBSERVE_END);
    assert_int_equal(w->srv.last_event.reason, DK_ETIMEDOUT);
    /* the retransmissions kept the 1-2-4-8 schedule across the replacement */
    dk_time_t t[5];
    size_t k = 0;
    for (size_t i = 0; i < w->nlog && k < 5; i++)
        if (w->log[i].from == 1 && w->log[i].type == DK_COAP_CON)
            t[k++] = w->log[i].t;
    dk_time_t T = t[1] - t[0];
    assert_true(T >= 2000 && T <= 3000);
    assert_int_equal(t[2] - t[0], 3 * T);
    assert_int_equal(t[3] - t[0], 7 * T);
    assert_int_equal(t[4] - t[0], 15 * T);
    world_stop(w);
}

static void test_observe_final_error_notification(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 56);
    observe(w, "/gone");
    run(w, w->now + 1000);
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 1);
    w->srv.counter = 3;
    dk_coap_ep_notify(&w->s, "/gone", w->now);
    run(w, w->now + 1000);
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 0);
    assert_int_equal(w->nres, 2);
    assert_int_equal(w->res[1].code, DK_COAP_NOT_FOUND);
    assert_false(w->res[1].observing);
    assert_int_equal(dk_coap_ep_exchange_count(&w->c), 0);
    world_stop(w);
}

static void test_observe_blockwise_notifications(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 57);
    w->net.loss_pct = 10;
    observe(w, "/obsbig");
    run(w, w->now + 200000);
    assert_int_equal(w->nres, 1);
    assert_true(w->res[0].observing);
    assert_int_equal(w->res[0].len, 3000);
    uint8_t want[3000];
    fill_pattern(want, sizeof want, 0);
    assert_memory_equal(w->res[0].payload, want, sizeof want);
    for (int i = 1; i <= 3; i++) {
        w->srv.counter = i;
        dk_coap_ep_notify(&w->s, "/obsbig", w->now);
        run(w, w->now + 200000);
    }
    /* lost NON notifications are simply missed; what arrives is whole */
    assert_true(w->nres >= 2);
    for (size_t i = 1; i < w->nres; i++) {
        assert_true(w->res[i].notification);
        assert_true(w->res[i].observing);
        assert_int_equal(w->res[i].len, 3000);
        int v = w->res[i].payload[0] - 3; /* pattern byte 0 is 3 + salt */
        fill_pattern(want, sizeof want, (unsigned)v);
        assert_memory_equal(w->res[i].payload, want, sizeof want);
    }
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 1);
    world_stop(w);
}

static void test_notify_from_handler(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 58);
    observe(w, "/obs");
    run(w, w->now + 1000);
    size_t mark = w->nlog;
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, DK_COAP_PUT, "/set");
    r.cb = on_result;
    r.cb_user = w;
    assert_int_equal(dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, NULL), 0);
    run(w, w->now + 1000);
    assert_int_equal(w->nres, 3);
    /* the PUT's response went out before the notification it caused */
    size_t i = mark;
    while (i < w->nlog && w->log[i].from != 1)
        i++;
    assert_int_equal(w->log[i].type, DK_COAP_ACK);
    assert_int_equal(w->log[i].code, DK_COAP_CHANGED);
    assert_int_equal(w->log[i + 1].from, 1);
    assert_int_equal(w->log[i + 1].type, DK_COAP_NON);
    assert_int_equal(w->log[i + 1].code, DK_COAP_CONTENT);
    bool got = false;
    for (size_t k = 0; k < w->nres; k++)
        if (w->res[k].notification && w->res[k].len == 3 && !memcmp(w->res[k].payload, "v=1", 3))
            got = true;
    assert_true(got);
    world_stop(w);
}

static void test_notification_during_registration_fetch(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 59);
    dk_time_t t0 = w->now;
    observe(w, "/obsbig");
    run(w, t0 + 15); /* block 0 of the registration response is on its way */
    w->srv.counter = 1;
    assert_int_equal(dk_coap_ep_notify(&w->s, "/obsbig", w->now), 1);
    run(w, w->now + 5000);
    /* the newer state superseded the registration response */
    assert_int_equal(w->nres, 1);
    assert_true(w->res[0].observing);
    assert_true(w->res[0].notification);
    assert_int_equal(w->res[0].len, 3000);
    uint8_t want[3000];
    fill_pattern(want, sizeof want, 1);
    assert_memory_equal(w->res[0].payload, want, sizeof want);
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 1);
    /* and the observation goes on */
    w->srv.counter = 2;
    dk_coap_ep_notify(&w->s, "/obsbig", w->now);
    run(w, w->now + 5000);
    assert_int_equal(w->nres, 2);
    fill_pattern(want, sizeof want, 2);
    assert_memory_equal(w->res[1].payload, want, sizeof want);
    world_stop(w);
}

static void test_observe_con_at_least_daily(void **state)
{
    (void)state;
    struct world *w = &W;
    world_setup(w, 61);
    w->scfg.notify_con_every = 1000;
    assert_int_equal(world_start(w), 0);
    observe(w, "/obs");
    run(w, w->now + 1000);
    for (int i = 1; i <= 3; i++) {
        w->srv.counter = i;
        dk_coap_ep_notify(&w->s, "/obs", w->now);
        run(w, w->now + 3600 * 1000);
    }
    assert_int_equal(count_sent(w, 1, DK_COAP_CON, DK_COAP_CONTENT), 0);
    run(w, w->now + 21 * 3600 * 1000);
    w->srv.counter = 4;
    dk_coap_ep_notify(&w->s, "/obs", w->now);
    run(w, w->now + 1000);
    w->srv.counter = 5;
    dk_coap_ep_notify(&w->s, "/obs", w->now);
    run(w, w->now + 1000);
    assert_int_equal(count_sent(w, 1, DK_COAP_CON, DK_COAP_CONTENT), 1);
    assert_int_equal(count_sent(w, 1, DK_COAP_NON, DK_COAP_CONTENT), 4);
    assert_int_equal(w->nres, 6);
    world_stop(w);
}

static void test_server_peer_closed_drops_observers(void **state)
{
    (void)state;
    struct world *w = &W;
    world_init(w, 62);
    observe(w, "/obs");
    observe(w, "/gone");
    run(w, w->now + 1000);
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 2);
    dk_coap_ep_peer_closed(&w->s, &w->caddr, w->now);
    assert_int_equal(dk_coap_ep_observer_count(&w->s), 0);
    assert_int_equal(w->srv.events, 2);
    assert_int_equal(w->srv.last_event.reason, DK_ECLOSED);
    assert_int_equal(dk_coap_ep_peer_count(&w->s), 0);
    assert_int_equal(dk_coap_ep_observe_drop(&w->s, 1), DK_ENOTFOUND);
    world_stop(w);
}

/* Many client endpoints (thousands would run the same way in a load test)
 * against one server endpoint with many peers: the server's peer table and
 * timer heap under load, with loss. */
#define NCLIENTS 300
static struct dk_coap_ep many[NCLIENTS];
static struct dk_addr many_addr[NCLIENTS];
static int many_done[NCLIENTS];

static void on_many(struct dk_coap_ep *ep, void *user, uint32_t id,
                    const struct dk_coap_result *res)
{
    int *done = user;
    if (res->status == 0 && res->msg->code == DK_COAP_CONTENT && res->payload_len == sizeof big &&
        memcmp(res->payload, big, sizeof big) == 0)
        *done = 1;
    else
        *done = -1;
}

static void test_many_clients_one_server(void **state)
{
    (void)state;
    struct world *w = &W;
    world_setup(w, 70);
    w->scfg.max_peers = 512;
    w->scfg.max_dedup = 4096;
    w->scfg.max_tx_queue = 1024;
    assert_int_equal(world_start(w), 0);
    w->net.loss_pct = 5;
    struct dk_coap_config small = w->ccfg;
    small.max_peers = 2;
    small.max_exchanges = 2;
    small.max_dedup = 8;
    small.max_tx_queue = 8;
    small.handler_buf = 256;
    for (int i = 0; i < NCLIENTS; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.1.%d.%d", i / 200, 1 + i % 200);
        dk_addr_from_ip(&many_addr[i], ip, 5683);
        dk_coap_ep_init(&many[i]);
        assert_int_equal(dk_coap_ep_setup(&many[i], &small), 0);
        many_done[i] = 0;
        struct dk_coap_client_req r;
        dk_coap_client_req_init(&r, DK_COAP_GET, "/big");
        r.cb = on_many;
        r.cb_user = &many_done[i];
        assert_int_equal(dk_coap_ep_request(&many[i], &w->saddr, &r, w->now + i, NULL), 0);
    }
    size_t per_client = dk_coap_ep_heap(&many[0]);
    uint8_t buf[2048];
    struct dk_addr to;
    static struct dk_fakenet_dgram d;
    dk_time_t end = w->now + 400000;
    while (w->now < end) {
        int n;
        for (int i = 0; i < NCLIENTS; i++)
            while ((n = dk_coap_ep_pop_tx(&many[i], &to, buf, sizeof buf)) > 0)
                dk_fakenet_send(&w->net, &many_addr[i], &to, buf, (size_t)n, w->now);
        while ((n = dk_coap_ep_pop_tx(&w->s, &to, buf, sizeof buf)) > 0)
            dk_fakenet_send(&w->net, &w->saddr, &to, buf, (size_t)n, w->now);
        dk_time_t next = dk_time_min(dk_fakenet_next_time(&w->net), dk_coap_ep_deadline(&w->s));
        for (int i = 0; i < NCLIENTS; i++)
            next = dk_time_min(next, dk_coap_ep_deadline(&many[i]));
        if (next == DK_TIME_NEVER)
            break;
        if (next > w->now)
            w->now = next;
        while (dk_fakenet_recv(&w->net, w->now, &d)) {
            if (dk_addr_equal(&d.to, &w->saddr)) {
                dk_coap_ep_recv(&w->s, &d.from, d.data, d.len, w->now);
                continue;
            }
            for (int i = 0; i < NCLIENTS; i++)
                if (dk_addr_equal(&d.to, &many_addr[i]))
                    dk_coap_ep_recv(&many[i], &d.from, d.data, d.len, w->now);
        }
        for (int i = 0; i < NCLIENTS; i++)
            dk_coap_ep_tick(&many[i], w->now);
        dk_coap_ep_tick(&w->s, w->now);
    }
    int ok = 0;
    for (int i = 0; i < NCLIENTS; i++) {
        ok += many_done[i] == 1;
        assert_true(many_done[i] != 0); /* every request ended one way or the other */
        dk_coap_ep_free(&many[i]);
    }
    assert_true(ok >= NCLIENTS * 95 / 100);
    /* all dedup records expired: the server forgot every peer */
    assert_int_equal(dk_coap_ep_peer_count(&w->s), 0);
    assert_true(per_client < 4096); /* a small client with one exchange in flight */
    world_stop(w);
}

/* ---- Allocation failures
 * -------------------------------------------------------------------------- */

static void try_request(struct world *w, uint8_t method, const char *path, size_t body, bool obs)
{
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, method, path);
    r.payload = body ? big : NULL;
    r.payload_len = body;
    r.observe = obs;
    r.cb = on_result;
    r.cb_user = w;
    int rc = dk_coap_ep_request(&w->c, &w->saddr, &r, w->now, NULL);
    assert_true(rc == 0 || rc == DK_ENOMEM);
}

/* A bit of everything, for the allocation-failure sweep. */
static void scenario(struct world *w)
{
    try_request(w, DK_COAP_GET, "/big", 0, false);
    try_request(w, DK_COAP_PUT, "/upload", 3000, false);
    try_request(w, DK_COAP_GET, "/sep", 0, false);
    try_request(w, DK_COAP_GET, "/obs", 0, true);
    run(w, w->now + 20000);
    if (w->srv.have_deferred) {
        struct dk_coap_msg m;
        dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_CONTENT, 0);
        dk_coap_ep_respond(&w->s, &w->srv.deferred, &m, w->now);
    }
    w->srv.counter = 1;
    dk_coap_ep_notify(&w->s, "/obs", w->now);
    run(w, w->now + 300000);
}

static void test_allocation_failure_sweep(void **state)
{
    (void)state;
    struct world *w = &W;
    /* the clean run first: how many allocations and what results */
    w->use_fa = true;
    dk_failalloc_init(&w->fa, 0, 0);
    world_setup(w, 60);
    assert_int_equal(world_start(w), 0);
    scenario(w);
    long total = w->fa.calls;
    size_t clean_results = w->nres;
    world_stop(w);
    assert_int_equal(w->fa.live, 0);
    assert_true(total > 20);
    assert_true(clean_results >= 4);
    for (long n = 1; n <= total; n++) {
        for (int sticky = 0; sticky <= 1; sticky++) {
            dk_failalloc_init(&w->fa, n, sticky);
            world_setup(w, 60);
            if (world_start(w) == 0)
                scenario(w);
            world_stop(w);
            assert_int_equal(w->fa.live, 0); /* nothing leaked */
        }
    }
    w->use_fa = false;
}

int main(void)
{
    fill_pattern(big, sizeof big, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_piggybacked_get),
        cmocka_unit_test(test_retransmission_times_exact),
        cmocka_unit_test(test_retransmission_recovers),
        cmocka_unit_test(test_dedup_non_and_con),
        cmocka_unit_test(test_ping_and_malformed),
        cmocka_unit_test(test_unknown_critical_option),
        cmocka_unit_test(test_separate_response),
        cmocka_unit_test(test_separate_response_duplicated),
        cmocka_unit_test(test_separate_response_unacknowledged),
        cmocka_unit_test(test_rst_reported),
        cmocka_unit_test(test_nstart_queue),
        cmocka_unit_test(test_non_request),
        cmocka_unit_test(test_router_and_methods),
        cmocka_unit_test(test_cancel_and_peer_closed),
        cmocka_unit_test(test_limits_and_config),
        cmocka_unit_test(test_block2_4k_over_lossy_network),
        cmocka_unit_test(test_block1_4k_over_lossy_network),
        cmocka_unit_test(test_block_errors),
        cmocka_unit_test(test_observe_sequence),
        cmocka_unit_test(test_observe_freshness_rule),
        cmocka_unit_test(test_observe_reordered_network),
        cmocka_unit_test(test_observe_cancel_by_get),
        cmocka_unit_test(test_observe_cancel_by_rst),
        cmocka_unit_test(test_observe_con_timeout_drops_observer),
        cmocka_unit_test(test_observe_final_error_notification),
        cmocka_unit_test(test_observe_blockwise_notifications),
        cmocka_unit_test(test_notify_from_handler),
        cmocka_unit_test(test_notification_during_registration_fetch),
        cmocka_unit_test(test_observe_con_at_least_daily),
        cmocka_unit_test(test_server_peer_closed_drops_observers),
        cmocka_unit_test(test_many_clients_one_server),
        cmocka_unit_test(test_allocation_failure_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
