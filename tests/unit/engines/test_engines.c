/* Engine to engine: the real LwM2M client engine (src/client) against the
 * Bootstrap Server (src/bootstrap) and LwM2M Server (src/server) engines
 * over the fake network with a fake clock. DTLS is not run: the test plays
 * the transport, and reports to each server engine exactly what a DTLS
 * handshake with the client's credentials of that transport would prove (the
 * PSK identity of the /0 instance the client opened it with).
 *
 * Label scanned (OOB record) -> device bootstraps -> pending -> approved ->
 * provisioned -> registered with the issued credentials -> read the
 * temperature -> write the light -> observe -> remote factory reset ->
 * device back in factory mode -> onboarded again with fresh credentials; the
 * old ones are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <duckling/bootstrap.h>
#include <duckling/client.h>
#include <duckling/err.h>
#include <duckling/lwm2m_server.h>

#include "fakenet.h"

#define EP "055192"
#define BS_URI "coaps://10.0.0.2:5784"
#define SRV_URI "coaps://10.0.0.3:5684"

static const uint8_t LABEL_PSK[16] = {0x5b, 0xd1, 0xf1, 0x20, 0x73, 0x5d, 0x1b, 0xa4,
                                      0xe2, 0xd2, 0x14, 0x9a, 0xeb, 0x89, 0x18, 0x50};

struct result {
    bool done;
    int status;
    uint8_t code;
    size_t n_recs;
    struct dk_lwm2m_value v0;
    int notifications;
    bool observing;
};

struct world {
    struct dk_fakenet net;
    dk_time_t now;
    struct dk_rng rng;
    struct dk_coap_config ccfg;
    struct dk_addr dev_addr, bs_addr, srv_addr;

    /* Gateway side. */
    struct dk_coap_ep bs_coap, srv_coap;
    struct dk_bs bs;
    struct dk_bs_config bs_cfg;
    struct dk_server srv;
    struct dk_server_config srv_cfg;
    bool wifi;
    unsigned issued;      /* operational identities issued */
    char op_identity[32]; /* the active one */
    bool revoked;         /* the active one was revoked */
    int provisioned, refused_reg, registered, deregistered;

    /* Device side. */
    struct dk_client c;
    struct dk_client_config cfg;
    double temperature;
    bool led;
    int wipes, bootstrapped_events, factory_mode_events;
    /* What the transport the client opened would prove in DTLS. */
    char bs_identity[64];
    char srv_identity[64];
    uint32_t bs_tid, srv_tid;
    struct dk_store_record stored[32];
    size_t nstored;

    struct result res, obs; /* the latest operation; the observation */
};

static struct world W;

/* ---- Gateway: Bootstrap Server ------------------------------------------------------- */

static int bs_find_oob(void *user, const char *ep, struct dk_oob_msg *out)
{
    struct world *w = user;
    if (strcmp(ep, EP) != 0)
        return DK_ENOTFOUND;
    memset(out, 0, sizeof *out);
    snprintf(out->endpoint, sizeof out->endpoint, "%s", EP);
    snprintf(out->type, sizeof out->type, "LED");
    out->channel = w->wifi ? DK_OOB_CHANNEL_WIFI : DK_OOB_CHANNEL_NONE;
    out->cred_type = DK_OOB_CRED_PSK;
    memcpy(out->cred, LABEL_PSK, 16);
    out->cred_len = 16;
    return 0;
}

static struct dk_dtls_peer_info bs_info, srv_info;

static const struct dk_dtls_peer_info *bs_peer_info(void *user, struct dk_coap_ep *coap,
                                                    const struct dk_addr *peer)
{
    struct world *w = user;
    memset(&bs_info, 0, sizeof bs_info);
    bs_info.mode = DK_DTLS_MODE_PSK;
    bs_info.psk_identity_len = strlen(w->bs_identity);
    memcpy(bs_info.psk_identity, w->bs_identity, bs_info.psk_identity_len);
    return &bs_info;
}

static int bs_prepare(void *user, const struct dk_bs_request *rq, const struct dk_oob_msg *rec,
                      struct dk_bs_plan *plan)
{
    struct world *w = user;
    w->issued++;
    snprintf(w->op_identity, sizeof w->op_identity, "op-%s-%u", rq->ep, w->issued);
    w->revoked = false;
    struct dk_bs_server_account *a = &plan->server;
    a->mode = DK_BS_SEC_PSK;
    a->identity_len = strlen(w->op_identity);
    memcpy(a->identity, w->op_identity, a->identity_len);
    for (int i = 0; i < 16; i++)
        a->secret[i] = (uint8_t)(w->issued * 16 + i);
    a->secret_len = 16;
    a->lifetime_s = 120;
    return 0;
}

static void bs_event(void *user, const struct dk_bs_event *ev)
{
    struct world *w = user;
    if (ev->type == DK_BS_EV_PROVISIONED)
        w->provisioned++;
}

/* ---- Gateway: LwM2M Server --------------------------------------------------------------- */

static const struct dk_dtls_peer_info *srv_peer_info(void *user, struct dk_coap_ep *coap,
                                                     const struct dk_addr *peer)
{
    struct world *w = user;
    memset(&srv_info, 0, sizeof srv_info);
    srv_info.mode = DK_DTLS_MODE_PSK;
    srv_info.psk_identity_len = strlen(w->srv_identity);
    memcpy(srv_info.psk_identity, w->srv_identity, srv_info.psk_identity_len);
    return &srv_info;
}

/* Only the active, unrevoked operational identity issued for the endpoint. */
static int srv_authorize(void *user, const struct dk_server_auth *a)
{
    struct world *w = user;
    if (!a->info || a->info->mode != DK_DTLS_MODE_PSK || w->revoked ||
        a->info->psk_identity_len != strlen(w->op_identity) ||
        memcmp(a->info->psk_identity, w->op_identity, a->info->psk_identity_len) != 0 ||
        strcmp(a->ep, EP) != 0) {
        w->refused_reg++;
        return DK_EPERM;
    }
    return 0;
}

static void srv_event(void *user, const struct dk_server_event *ev)
{
    struct world *w = user;
    if (ev->type == DK_SERVER_EV_REGISTERED)
        w->registered++;
    else if (ev->type == DK_SERVER_EV_DEREGISTERED)
        w->deregistered++;
}

static void on_result(void *user, const struct dk_server_result *r)
{
    struct result *x = user;
    if (r->notification) {
        x->notifications++;
    } else {
        x->done = true;
        x->status = r->status;
        x->code = r->code;
    }
    x->observing = r->observing;
    x->n_recs = r->n_recs;
    if (r->n_recs)
        x->v0 = r->recs[0].value;
}

/* ---- Device: the program around the client engine --------------------------------------- */

static int cli_open(void *user, const struct dk_client_transport *t)
{
    struct world *w = user;
    char *id = t->kind == DK_CLIENT_BOOTSTRAP_SERVER ? w->bs_identity : w->srv_identity;
    size_t n = t->sec.identity_len < 63 ? t->sec.identity_len : 63;
    memcpy(id, t->sec.identity, n);
    id[n] = 0;
    const struct dk_addr *peer;
    if (strcmp(t->uri, BS_URI) == 0) {
        peer = &w->bs_addr;
        w->bs_tid = t->id;
    } else if (strcmp(t->uri, SRV_URI) == 0) {
        peer = &w->srv_addr;
        w->srv_tid = t->id;
    } else {
        return DK_EINVAL;
    }
    return dk_client_transport_up(&w->c, t->id, peer, w->now);
}

static void cli_close(void *user, uint32_t id)
{
}

static int cli_persist(void *user, const struct dk_store_record *recs, size_t n)
{
    struct world *w = user;
    w->nstored = n;
    return 0;
}

static int cli_wipe(void *user)
{
    struct world *w = user;
    w->wipes++;
    w->nstored = 0;
    return 0;
}

static void cli_event(void *user, const struct dk_client_event *ev)
{
    struct world *w = user;
    if (ev->type == DK_CLIENT_EV_BOOTSTRAPPED)
        w->bootstrapped_events++;
    else if (ev->type == DK_CLIENT_EV_FACTORY_MODE)
        w->factory_mode_events++;
}

static int drv_led(void *user, bool on, uint8_t dimmer)
{
    struct world *w = user;
    w->led = on;
    return 0;
}

static int drv_temp(void *user, double *v)
{
    struct world *w = user;
    *v = w->temperature;
    return 0;
}

/* ---- Running -------------------------------------------------------------------------------- */

static void pump(struct world *w)
{
    uint8_t buf[2048];
    struct dk_addr to;
    int n;
    while ((n = dk_client_pop_tx(&w->c, &to, buf, sizeof buf)) > 0)
        dk_fakenet_send(&w->net, &w->dev_addr, &to, buf, (size_t)n, w->now);
    while ((n = dk_coap_ep_pop_tx(&w->bs_coap, &to, buf, sizeof buf)) > 0)
        dk_fakenet_send(&w->net, &w->bs_addr, &to, buf, (size_t)n, w->now);
    while ((n = dk_coap_ep_pop_tx(&w->srv_coap, &to, buf, sizeof buf)) > 0)
        dk_fakenet_send(&w->net, &w->srv_addr, &to, buf, (size_t)n, w->now);
}

static void run(struct world *w, dk_time_t until)
{
    for (int guard = 0; guard < 500000; guard++) {
        pump(w);
        dk_time_t next = dk_fakenet_next_time(&w->net);
        next = dk_time_min(next, dk_client_deadline(&w->c));
        next = dk_time_min(next, dk_coap_ep_deadline(&w->bs_coap));
        next = dk_time_min(next, dk_coap_ep_deadline(&w->srv_coap));
        next = dk_time_min(next, dk_bs_deadline(&w->bs));
        next = dk_time_min(next, dk_server_deadline(&w->srv));
        if (next > until) {
            w->now = until;
            return;
        }
        if (next > w->now)
            w->now = next;
        static struct dk_fakenet_dgram d;
        while (dk_fakenet_recv(&w->net, w->now, &d)) {
            if (dk_addr_equal(&d.to, &w->bs_addr))
                dk_coap_ep_recv(&w->bs_coap, &d.from, d.data, d.len, w->now);
            else if (dk_addr_equal(&d.to, &w->srv_addr))
                dk_coap_ep_recv(&w->srv_coap, &d.from, d.data, d.len, w->now);
            else
                dk_client_recv(&w->c, &d.from, d.data, d.len, w->now);
        }
        dk_client_tick(&w->c, w->now);
        dk_coap_ep_tick(&w->bs_coap, w->now);
        dk_coap_ep_tick(&w->srv_coap, w->now);
        dk_bs_tick(&w->bs, w->now);
        dk_server_tick(&w->srv, w->now);
    }
    fail_msg("world did not settle");
}

/* Runs until cond holds (checked after each step), at most max_ms. */
#define RUN_UNTIL(w, cond, max_ms)                                                                 \
    do {                                                                                           \
        dk_time_t end_ = (w)->now + (max_ms);                                                      \
        while (!(cond) && (w)->now < end_)                                                         \
            run((w), (w)->now + 100);                                                              \
        assert_true(cond);                                                                         \
    } while (0)

static void world_init(struct world *w, bool wifi, enum dk_bs_policy policy, int bs_pct)
{
    memset(w, 0, sizeof *w);
    w->wifi = wifi;
    dk_fakenet_init(&w->net, 3);
    w->net.latency_ms = 5;
    w->now = 1000000;
    w->temperature = 21.5;
    dk_rng_init(&w->rng);
    assert_int_equal(dk_rng_setup_deterministic(&w->rng, "e2e", 3), 0);
    dk_addr_from_ip(&w->dev_addr, "10.0.1.1", 56830);
    dk_addr_from_ip(&w->bs_addr, "10.0.0.2", 5784);
    dk_addr_from_ip(&w->srv_addr, "10.0.0.3", 5684);
    dk_coap_config_init(&w->ccfg);
    w->ccfg.rng = &w->rng;

    dk_coap_ep_init(&w->bs_coap);
    dk_coap_ep_init(&w->srv_coap);
    assert_int_equal(dk_coap_ep_setup(&w->bs_coap, &w->ccfg), 0);
    assert_int_equal(dk_coap_ep_setup(&w->srv_coap, &w->ccfg), 0);

    dk_bs_config_init(&w->bs_cfg);
    w->bs_cfg.policy = policy;
    w->bs_cfg.server_uri = SRV_URI;
    w->bs_cfg.home_ssid = "home-net";
    w->bs_cfg.home_psk = "correct horse";
    w->bs_cfg.cbs =
        (struct dk_bs_callbacks){bs_find_oob, bs_peer_info, NULL, bs_prepare, bs_event, NULL, w};
    dk_bs_init(&w->bs);
    assert_int_equal(dk_bs_setup(&w->bs, &w->bs_cfg), 0);
    assert_int_equal(dk_bs_attach(&w->bs, &w->bs_coap), 0);

    dk_server_config_init(&w->srv_cfg);
    w->srv_cfg.rng = &w->rng;
    w->srv_cfg.cbs =
        (struct dk_server_callbacks){srv_peer_info, srv_authorize, NULL, srv_event, NULL, w};
    dk_server_init(&w->srv);
    assert_int_equal(dk_server_setup(&w->srv, &w->srv_cfg), 0);
    assert_int_equal(dk_server_attach(&w->srv, &w->srv_coap), 0);

    struct dk_client_config *c = &w->cfg;
    dk_client_config_init(c);
    c->endpoint = EP;
    c->bs_uri = BS_URI;
    c->bs_sec.mode = DK_CLIENT_SEC_PSK;
    c->bs_sec.identity = (const uint8_t *)EP;
    c->bs_sec.identity_len = strlen(EP);
    c->bs_sec.secret = LABEL_PSK;
    c->bs_sec.secret_len = 16;
    c->bs_pct = bs_pct;
    c->device.manufacturer = "duckling";
    c->device.model = "duck-1";
    c->driver.set_led = drv_led;
    c->driver.read_temperature = drv_temp;
    c->driver.user = w;
    c->rng = &w->rng;
    c->bs_backoff_min_ms = 1000;
    c->bs_backoff_max_ms = 8000;
    c->cbs = (struct dk_client_callbacks){cli_open, cli_close, cli_persist, cli_wipe, cli_event, w};
    dk_client_init(&w->c);
    assert_int_equal(dk_client_setup(&w->c, c), 0);
}

static void world_free(struct world *w)
{
    dk_client_free(&w->c);
    dk_server_free(&w->srv);
    dk_bs_free(&w->bs);
    dk_coap_ep_free(&w->bs_coap);
    dk_coap_ep_free(&w->srv_coap);
    dk_fakenet_free(&w->net);
    dk_rng_free(&w->rng);
}

static void op(struct world *w, enum dk_server_op_kind kind, const char *path,
               const struct dk_lwm2m_record *recs, size_t n, uint32_t *id)
{
    struct result *x = kind == DK_SERVER_OBSERVE ? &w->obs : &w->res;
    struct dk_lwm2m_path p;
    assert_int_equal(dk_lwm2m_path_parse(path, strlen(path), &p), 0);
    struct dk_server_op o;
    dk_server_op_init(&o, kind, &p);
    o.recs = recs;
    o.n_recs = n;
    o.cb = on_result;
    o.cb_user = x;
    memset(x, 0, sizeof *x);
    assert_int_equal(dk_server_op_start(&w->srv, EP, &o, w->now, id), 0);
}

/* Approve the pending request and wait for the device to be registered. */
static void onboard(struct world *w, int nth)
{
    RUN_UNTIL(w, dk_bs_pending_count(&w->bs) == 1, 30000);
    assert_int_equal(dk_client_state(&w->c), DK_CLIENT_BOOTSTRAPPING);
    assert_int_equal(w->provisioned, nth - 1);
    assert_int_equal(dk_bs_approve(&w->bs, EP, w->now), 0);
    RUN_UNTIL(w, dk_client_state(&w->c) == DK_CLIENT_REGISTERED, 60000);
    assert_int_equal(w->provisioned, nth);
    assert_int_equal(w->bootstrapped_events, nth);
    assert_int_equal(w->registered, nth);
    assert_int_equal(dk_server_count(&w->srv), 1);
    char want[32];
    snprintf(want, sizeof want, "op-%s-%u", EP, w->issued);
    assert_string_equal(w->srv_identity, want);
}

static void test_onboard_manage_reset_reonboard(void **state)
{
    struct world *w = &W;
    world_init(w, false, DK_BS_POLICY_MANUAL, -1);
    assert_int_equal(dk_client_start(&w->c, w->now), 0);
    onboard(w, 1);
    assert_string_equal(w->bs_identity, EP);

    /* Read the temperature (TLV from a 1.1 client, typed as a float). */
    op(w, DK_SERVER_READ, "/3303/0/5700", NULL, 0, NULL);
    RUN_UNTIL(w, w->res.done, 10000);
    assert_int_equal(w->res.code, DK_COAP_CONTENT);
    assert_int_equal(w->res.n_recs, 1);
    assert_int_equal(w->res.v0.type, DK_LWM2M_TYPE_FLOAT);
    assert_true(w->res.v0.v.f == 21.5);

    /* Write the light. */
    struct dk_lwm2m_record on = {{{3311, 0, 5850, 0}, 3}, dk_lwm2m_bool(true), 0};
    op(w, DK_SERVER_WRITE, "/3311/0/5850", &on, 1, NULL);
    RUN_UNTIL(w, w->res.done, 10000);
    assert_int_equal(w->res.code, DK_COAP_CHANGED);
    assert_true(w->led);

    /* Observe the temperature: a change is notified. */
    uint32_t obs;
    op(w, DK_SERVER_OBSERVE, "/3303/0/5700", NULL, 0, &obs);
    RUN_UNTIL(w, w->obs.done, 10000);
    assert_true(w->obs.observing);
    assert_true(w->obs.v0.v.f == 21.5);
    w->temperature = 23.0;
    RUN_UNTIL(w, w->obs.notifications >= 1, 10000);
    assert_true(w->obs.v0.v.f == 23.0);

    /* Remote factory reset: Execute /3/0/5; the gateway revokes the device's
     * credentials. The device de-registers, wipes, and is back in factory
     * mode asking to be bootstrapped. */
    op(w, DK_SERVER_EXECUTE, "/3/0/5", NULL, 0, NULL);
    RUN_UNTIL(w, w->res.done, 10000);
    assert_int_equal(w->res.code, DK_COAP_CHANGED);
    w->revoked = true;
    RUN_UNTIL(w, w->wipes == 1, 30000);
    RUN_UNTIL(w, w->deregistered == 1, 30000);
    assert_int_equal(dk_server_count(&w->srv), 0);
    assert_int_equal(w->obs.status, DK_ECLOSED); /* the observation ended with it */
    assert_false(w->obs.observing);
    assert_true(w->factory_mode_events >= 2);
    assert_false(w->led);

    /* The old operational identity is refused if replayed. */
    struct dk_coap_ep rogue;
    dk_coap_ep_init(&rogue);
    assert_int_equal(dk_coap_ep_setup(&rogue, &w->ccfg), 0);
    char old_identity[32];
    memcpy(old_identity, w->op_identity, sizeof old_identity);
    memcpy(w->srv_identity, old_identity, sizeof old_identity);
    int refused = w->refused_reg;
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, DK_COAP_POST, "/rd");
    r.query = "ep=" EP "&lt=60&lwm2m=1.1&b=U";
    assert_int_equal(dk_coap_ep_request(&rogue, &w->srv_addr, &r, w->now, NULL), 0);
    uint8_t buf[1200];
    struct dk_addr to, rogue_addr;
    dk_addr_from_ip(&rogue_addr, "10.0.9.9", 40000);
    int n = dk_coap_ep_pop_tx(&rogue, &to, buf, sizeof buf);
    assert_true(n > 0);
    dk_coap_ep_recv(&w->srv_coap, &rogue_addr, buf, (size_t)n, w->now);
    assert_int_equal(w->refused_reg, refused + 1);
    assert_int_equal(dk_server_count(&w->srv), 0);
    dk_coap_ep_free(&rogue);
    while (dk_coap_ep_pop_tx(&w->srv_coap, &to, buf, sizeof buf) > 0)
        ; /* the 4.03 to the rogue */

    /* Onboarded again: a new pending request, new credentials. */
    onboard(w, 2);
    assert_string_not_equal(w->op_identity, old_identity);
    op(w, DK_SERVER_READ, "/3/0", NULL, 0, NULL);
    RUN_UNTIL(w, w->res.done, 10000);
    assert_int_equal(w->res.code, DK_COAP_CONTENT);
    assert_true(w->res.n_recs >= 2);
    world_free(w);
}

static void test_auto_wifi_senml_cbor(void **state)
{
    struct world *w = &W;
    world_init(w, true, DK_BS_POLICY_AUTO, DK_COAP_FMT_SENML_CBOR);
    assert_int_equal(dk_client_start(&w->c, w->now), 0);
    RUN_UNTIL(w, dk_client_state(&w->c) == DK_CLIENT_REGISTERED, 60000);
    assert_int_equal(w->provisioned, 1);
    /* The home network went to /12/0. */
    struct dk_lwm2m_path p = {{12, 0, 5, 0}, 3};
    struct dk_lwm2m_value v;
    assert_int_equal(dk_client_get_value(&w->c, &p, &v, w->now), 0);
    assert_int_equal(v.type, DK_LWM2M_TYPE_STRING);
    assert_int_equal(v.v.bytes.n, 8);
    assert_memory_equal(v.v.bytes.p, "home-net", 8);
    /* Lifetime from the plan. */
    struct dk_server_reg_info info;
    assert_int_equal(dk_server_get(&w->srv, EP, &info, w->now), 0);
    assert_int_equal(info.lifetime_s, 120);
    /* Registration updates keep it alive well past one lifetime. */
    run(w, w->now + 400000);
    assert_int_equal(dk_server_count(&w->srv), 1);
    assert_int_equal(w->registered, 1);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_onboard_manage_reset_reonboard),
        cmocka_unit_test(test_auto_wifi_senml_cbor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
