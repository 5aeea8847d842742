/* Client engine: bootstrap, back-off, registration, update, de-registration,
 * persistence, factory reset, lossy network and allocation failures, over the
 * fake network against scripted CoAP peers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "world.h"

static const char *REG_QUERY = "ep=055192&lt=300&lwm2m=1.1&b=U";
static const char *REG_LINKS = "</>;rt=\"oma.lwm2m\";ct=11542,</1>;ver=1.1,</1/0>,</2>;ver=1.1,"
                               "</3>;ver=1.1,</3/0>,</12>;ver=1.1,</3301/0>,</3303/0>,</3311/0>";

static int setup(void **state)
{
    assert_int_equal(w_init(-1), 0);
    return 0;
}

static int teardown(void **state)
{
    w_free();
    return 0;
}

static bool bs_requested(void)
{
    return w_count_req(P_BS, DK_COAP_POST, "/bs") > 0;
}

static bool registered(void)
{
    return dk_client_state(&W.c) == DK_CLIENT_REGISTERED;
}

static bool stopped(void)
{
    return dk_client_state(&W.c) == DK_CLIENT_STOPPED;
}

static uint8_t code_of_delete(void)
{
    return w_request(P_S1, DK_COAP_DELETE, "/32769/0", NULL, -1, -1, NULL, 0, false)->code;
}

static void body_is(const struct w_req *r, const char *s)
{
    assert_non_null(r);
    char tmp[W_BODY + 1];
    memcpy(tmp, r->body, r->len);
    tmp[r->len] = 0;
    assert_string_equal(tmp, s);
}

/* ---- Bootstrap ------------------------------------------------------------------------- */

static void test_bootstrap_tlv(void **state)
{
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_IDLE);
    assert_int_equal(w_start(), 0);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_BOOTSTRAPPING);
    assert_int_equal(w_count_events(DK_CLIENT_EV_FACTORY_MODE), 1);
    /* Hold-off 0: the Bootstrap-Request goes out at once (after one-way latency). */
    w_run(5);
    assert_int_equal(w_count_req(P_BS, DK_COAP_POST, "/bs"), 1);
    const struct w_req *r = w_last_req(P_BS, DK_COAP_POST, "/bs");
    assert_string_equal(r->query, "ep=055192");
    assert_int_equal(r->t, 1000005);
    assert_int_equal(W.nopen, 1);
    assert_int_equal(W.open_peer[0], P_BS);

    struct w_res *res = w_request(P_BS, DK_COAP_DELETE, "/", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_DELETED);
    /* The Bootstrap-Server account survives Bootstrap-Delete on "/". */
    assert_true(dk_client_has_instance(&W.c, 0, 0));
    assert_true(dk_client_has_instance(&W.c, 3, 0));
    assert_int_equal(w_bs_write_account(DK_LWM2M_CF_TLV, 1, 0, 101, P_S1, 300), DK_COAP_CHANGED);
    /* WLAN for the home network, access control. */
    struct dk_lwm2m_record wlan[] = {
        {dk_lwm2m_path_res(12, 0, 0), dk_lwm2m_str("wlan0"), 0},
        {dk_lwm2m_path_res(12, 0, 1), dk_lwm2m_bool(true), 0},
        {dk_lwm2m_path_res(12, 0, 5), dk_lwm2m_str("home"), 0},
        {dk_lwm2m_path_res(12, 0, 8), dk_lwm2m_int(0), 0},
        {dk_lwm2m_path_res(12, 0, 15), dk_lwm2m_int(2), 0},
        {dk_lwm2m_path_res(12, 0, 17), dk_lwm2m_str("secret-psk"), 0},
    };
    assert_int_equal(w_bs_write(DK_LWM2M_CF_TLV, "/12/0", wlan, 6), DK_COAP_CHANGED);
    struct dk_lwm2m_record acl[] = {
        {dk_lwm2m_path_res(2, 0, 0), dk_lwm2m_int(3311), 0},
        {dk_lwm2m_path_res(2, 0, 1), dk_lwm2m_int(0), 0},
        {dk_lwm2m_path_rinst(2, 0, 2, 101), dk_lwm2m_int(31), 0},
        {dk_lwm2m_path_res(2, 0, 3), dk_lwm2m_int(101), 0},
    };
    assert_int_equal(w_bs_write(DK_LWM2M_CF_TLV, "/2/0", acl, 4), DK_COAP_CHANGED);
    assert_int_equal(W.persist_calls, 0); /* nothing persisted before Finish */
    assert_true(w_count_events(DK_CLIENT_EV_CHANGED) >= 4);

    res = w_request(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_CHANGED);
    assert_int_equal(W.persist_calls, 1);
    assert_int_equal(w_count_events(DK_CLIENT_EV_BOOTSTRAPPED), 1);
    /* Persisted: /0/1, /1/0, /2/0, /12/0 (not the bootstrap account /0/0). */
    assert_int_equal(W.nstored, 4);
    assert_string_equal(W.stored[0].key, "/0/1");
    assert_string_equal(W.stored[1].key, "/1/0");
    assert_string_equal(W.stored[2].key, "/2/0");
    assert_string_equal(W.stored[3].key, "/12/0");

    assert_true(w_run_while_not(registered, 5000));
    const struct w_req *reg = w_last_req(P_S1, DK_COAP_POST, "/rd");
    assert_non_null(reg);
    assert_string_equal(reg->query, REG_QUERY);
    assert_int_equal(reg->cf, 40);
    /* /12/0 and /2/0 now exist */
    body_is(reg, "</>;rt=\"oma.lwm2m\";ct=11542,</1>;ver=1.1,</1/0>,</2>;ver=1.1,</2/0>,"
                 "</3>;ver=1.1,</3/0>,</12>;ver=1.1,</12/0>,</3301/0>,</3303/0>,</3311/0>");
    {
        void heap_dbg(struct dk_client *);
        heap_dbg(&W.c);
    }
    print_message("client heap after bootstrap and registration: %zu bytes (incl. CoAP endpoint)\n",
                  dk_client_heap(&W.c));
    const char *loc = NULL;
    assert_true(dk_client_registered(&W.c, 101, &loc));
    assert_string_equal(loc, "/rd/11");
    assert_int_equal(w_count_events(DK_CLIENT_EV_REGISTERED), 1);

    /* The bootstrap transport closes after its linger time. */
    w_run(6000);
    assert_int_equal(W.nclosed, 1);
    assert_int_equal(W.closed[0], W.open_ids[0]);

    /* The program reads the Wi-Fi settings. */
    struct dk_lwm2m_value v;
    struct dk_lwm2m_path p = dk_lwm2m_path_res(12, 0, 5);
    assert_int_equal(dk_client_get_value(&W.c, &p, &v, W.now), 0);
    assert_int_equal(v.type, DK_LWM2M_TYPE_STRING);
    assert_memory_equal(v.v.bytes.p, "home", 4);
}

static void test_bootstrap_senml(void **state)
{
    assert_int_equal(w_start(), 0);
    assert_true(w_run_while_not(bs_requested, 1000));
    struct w_res *res = w_request(P_BS, DK_COAP_DELETE, "/0", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_DELETED);
    assert_int_equal(w_bs_write_account(DK_LWM2M_CF_SENML_JSON, 3, 0, 7, P_S1, 300),
                     DK_COAP_CHANGED);
    struct dk_lwm2m_record wlan[] = {
        {dk_lwm2m_path_res(12, 1, 0), dk_lwm2m_str("wlan0"), 0},
        {dk_lwm2m_path_res(12, 1, 5), dk_lwm2m_str("home"), 0},
    };
    assert_int_equal(w_bs_write(DK_LWM2M_CF_SENML_CBOR, "/12", wlan, 2), DK_COAP_CHANGED);
    /* Bootstrap-Read of /1 (LwM2M 1.1) in SenML JSON. */
    res = w_request(P_BS, DK_COAP_GET, "/1/0", NULL, -1, DK_LWM2M_CF_SENML_JSON, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_CONTENT);
    assert_int_equal(res->cf, DK_LWM2M_CF_SENML_JSON);
    assert_non_null(strstr((char *)res->body, "\"bn\":\"/1/0/\""));
    assert_non_null(strstr((char *)res->body, "\"bn\":\"/1/0/\",\"n\":\"0\",\"v\":7}"));
    /* Bootstrap-Read of the Security object is refused. */
    res = w_request(P_BS, DK_COAP_GET, "/0/3", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_UNAUTHORIZED);
    /* Bootstrap-Discover. */
    res = w_request(P_BS, DK_COAP_GET, "/", NULL, -1, DK_LWM2M_CF_LINK, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_CONTENT);
    assert_string_equal(
        (char *)res->body,
        "lwm2m=\"1.1\",</0>;ver=1.1,</0/0>,</0/3>;ssid=7;uri=\"coap://10.0.0.3:5683\","
        "</1>;ver=1.1,</1/0>;ssid=7,</2>;ver=1.1,</3>;ver=1.1,</3/0>,"
        "</12>;ver=1.1,</12/1>,</3301/0>,</3303/0>,</3311/0>");
    res = w_request(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_CHANGED);
    assert_true(w_run_while_not(registered, 5000));
    assert_true(dk_client_registered(&W.c, 7, NULL));
}

static void test_finish_without_account(void **state)
{
    assert_int_equal(w_start(), 0);
    assert_true(w_run_while_not(bs_requested, 1000));
    w_request(P_BS, DK_COAP_DELETE, "/", NULL, -1, -1, NULL, 0, false);
    /* Server object but no Security instance for it. */
    struct dk_lwm2m_record srv[] = {
        {dk_lwm2m_path_res(1, 0, 0), dk_lwm2m_int(101), 0},
        {dk_lwm2m_path_res(1, 0, 1), dk_lwm2m_int(300), 0},
        {dk_lwm2m_path_res(1, 0, 7), dk_lwm2m_str("U"), 0},
    };
    assert_int_equal(w_bs_write(DK_LWM2M_CF_TLV, "/1/0", srv, 3), DK_COAP_CHANGED);
    struct w_res *res = w_request(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_NOT_ACCEPTABLE);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_BOOTSTRAPPING);
    assert_int_equal(W.persist_calls, 0);
    /* A Security instance whose Short Server ID matches no Server instance. */
    struct dk_lwm2m_record sec[] = {
        {dk_lwm2m_path_res(0, 1, 0), dk_lwm2m_str("coap://10.0.0.3:5683"), 0},
        {dk_lwm2m_path_res(0, 1, 1), dk_lwm2m_bool(false), 0},
        {dk_lwm2m_path_res(0, 1, 2), dk_lwm2m_int(3), 0},
        {dk_lwm2m_path_res(0, 1, 10), dk_lwm2m_int(102), 0},
    };
    assert_int_equal(w_bs_write(DK_LWM2M_CF_TLV, "/0/1", sec, 4), DK_COAP_CHANGED);
    res = w_request(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_NOT_ACCEPTABLE);
    /* PSK mode without a key is not usable either. */
    struct dk_lwm2m_record psk[] = {
        {dk_lwm2m_path_res(0, 1, 0), dk_lwm2m_str("coaps://10.0.0.3:5684"), 0},
        {dk_lwm2m_path_res(0, 1, 2), dk_lwm2m_int(0), 0},
        {dk_lwm2m_path_res(0, 1, 10), dk_lwm2m_int(101), 0},
    };
    assert_int_equal(w_bs_write(DK_LWM2M_CF_TLV, "/0/1", psk, 3), DK_COAP_CHANGED);
    res = w_request(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_NOT_ACCEPTABLE);
    /* Fixed: NoSec to coap://. */
    struct dk_lwm2m_record fix[] = {
        {dk_lwm2m_path_res(0, 1, 0), dk_lwm2m_str("coap://10.0.0.3:5683"), 0},
        {dk_lwm2m_path_res(0, 1, 2), dk_lwm2m_int(3), 0},
    };
    assert_int_equal(w_bs_write(DK_LWM2M_CF_TLV, "/0/1", fix, 2), DK_COAP_CHANGED);
    res = w_request(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_CHANGED);
    assert_true(w_run_while_not(registered, 5000));
}

/* Bootstrap-Request times while the server refuses: 1, 2, 4, 8, 16, 32, 60,
 * 60 s (+ up to 1/8 jitter). */
static void test_backoff_refused(void **state)
{
    W.peer[P_BS].bs_code = DK_COAP_FORBIDDEN;
    assert_int_equal(w_start(), 0);
    w_run(400000);
    size_t n = W.peer[P_BS].nreq;
    assert_true(n >= 9);
    dk_time_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (size_t i = 0; i < 8; i++) {
        dk_time_t d = W.peer[P_BS].req[i + 1].t - W.peer[P_BS].req[i].t;
        /* the refusal arrives 10 ms (RTT) after the request */
        assert_true(d >= want[i] + 10);
        assert_true(d <= want[i] + want[i] / 8 + 11);
    }
    assert_true(w_count_events(DK_CLIENT_EV_BOOTSTRAP_FAILED) >= 8);
    assert_int_equal(w_last_event(DK_CLIENT_EV_BOOTSTRAP_FAILED)->reason, DK_EPERM);
    /* Each attempt uses a fresh transport. */
    assert_true(W.nclosed >= 8);
    /* Approved: the next attempt succeeds. */
    W.peer[P_BS].bs_code = DK_COAP_CHANGED;
    size_t before = W.peer[P_BS].nreq;
    w_run(70000);
    assert_int_equal(W.peer[P_BS].nreq, before + 1);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_BOOTSTRAPPING);
}

/* A silent Bootstrap Server: the CoAP exchange fails after 1+2+4 s, then the
 * back-off runs. */
static void test_backoff_silent(void **state)
{
    W.peer[P_BS].drop_in = true;
    assert_int_equal(w_start(), 0);
    w_run(7000 + 1);
    assert_int_equal(w_count_events(DK_CLIENT_EV_BOOTSTRAP_FAILED), 1);
    const struct dk_client_event *ev = w_last_event(DK_CLIENT_EV_BOOTSTRAP_FAILED);
    assert_int_equal(ev->reason, DK_ETIMEDOUT);
    assert_true(ev->delay_ms >= 1000 && ev->delay_ms <= 1125);
    assert_int_equal(dk_client_coap_stats(&W.c)->retransmissions, 2);
    w_run(1200 + 7000);
    assert_int_equal(w_count_events(DK_CLIENT_EV_BOOTSTRAP_FAILED), 2);
    ev = w_last_event(DK_CLIENT_EV_BOOTSTRAP_FAILED);
    assert_true(ev->delay_ms >= 2000 && ev->delay_ms <= 2250);
    /* Transport failures count too. */
    W.tmode = T_FAIL;
    w_run(3000);
    assert_int_equal(w_count_events(DK_CLIENT_EV_BOOTSTRAP_FAILED), 3);
    assert_int_equal(w_last_event(DK_CLIENT_EV_BOOTSTRAP_FAILED)->reason, DK_EAUTH);
}

static void test_bootstrap_timeout(void **state)
{
    assert_int_equal(w_start(), 0);
    assert_true(w_run_while_not(bs_requested, 1000));
    w_run(100);
    w_request(P_BS, DK_COAP_DELETE, "/", NULL, -1, -1, NULL, 0, false);
    dk_time_t last_op = W.now;
    /* No Finish: after bs_timeout_ms (30 s) the attempt fails and repeats. */
    w_run(29000);
    assert_int_equal(w_count_events(DK_CLIENT_EV_BOOTSTRAP_FAILED), 0);
    w_run(1500);
    assert_int_equal(w_count_events(DK_CLIENT_EV_BOOTSTRAP_FAILED), 1);
    assert_int_equal(w_last_event(DK_CLIENT_EV_BOOTSTRAP_FAILED)->reason, DK_ETIMEDOUT);
    assert_true(W.now - last_op >= 30000);
    w_run(2000);
    assert_int_equal(w_count_req(P_BS, DK_COAP_POST, "/bs"), 2);
    /* Operations outside a bootstrap session are refused. */
}

/* ---- Registration ---------------------------------------------------------------------- */

static void test_register_update_deregister(void **state)
{
    w_bootstrap_to_s1();
    const struct w_req *reg = w_last_req(P_S1, DK_COAP_POST, "/rd");
    assert_string_equal(reg->query, REG_QUERY);
    body_is(reg, REG_LINKS);
    dk_time_t t_reg = reg->t;
    /* Update at lifetime/2 = 150 s: no parameters, no object list. */
    w_run_until(t_reg + 149000);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd/"), 0);
    w_run_until(t_reg + 151000);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd/"), 1);
    const struct w_req *upd = w_last_req(P_S1, DK_COAP_POST, "/rd/");
    assert_string_equal(upd->path, "/rd/11");
    assert_string_equal(upd->query, "");
    assert_int_equal(upd->len, 0);

    /* The server writes its lifetime: an Update with lt= follows at once. */
    struct w_res *res =
        w_request(P_S1, DK_COAP_PUT, "/1/0/1", NULL, DK_LWM2M_CF_TEXT, -1, "120", 3, false);
    assert_int_equal(res->code, DK_COAP_CHANGED);
    w_run(100);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd/"), 2);
    upd = w_last_req(P_S1, DK_COAP_POST, "/rd/");
    assert_string_equal(upd->query, "lt=120");
    assert_int_equal(upd->len, 0);
    /* Next update at 60 s. */
    dk_time_t t_upd = upd->t;
    w_run_until(t_upd + 59000);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd/"), 2);
    w_run_until(t_upd + 61000);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd/"), 3);

    /* A new object instance: Update with the object list. */
    struct dk_lwm2m_record wlan[] = {{dk_lwm2m_path_res(12, 5, 0), dk_lwm2m_str("wlan1"), 0}};
    uint8_t buf[64];
    struct dk_buf b;
    dk_buf_init(&b, buf, sizeof buf);
    struct dk_lwm2m_path base = dk_lwm2m_path_obj(12);
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_TLV, &base, wlan, 1, &b), 0);
    res = w_request(P_S1, DK_COAP_POST, "/12", NULL, DK_LWM2M_CF_TLV, -1, buf, b.len, false);
    assert_int_equal(res->code, DK_COAP_CREATED);
    assert_string_equal(res->location, "/12/5");
    w_run(100);
    upd = w_last_req(P_S1, DK_COAP_POST, "/rd/");
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd/"), 4);
    assert_int_equal(upd->cf, 40);
    body_is(upd, "</>;rt=\"oma.lwm2m\";ct=11542,</1>;ver=1.1,</1/0>,</2>;ver=1.1,"
                 "</3>;ver=1.1,</3/0>,</12>;ver=1.1,</12/5>,</3301/0>,</3303/0>,</3311/0>");

    /* Registration Update Trigger. */
    res = w_request(P_S1, DK_COAP_POST, "/1/0/8", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_CHANGED);
    w_run(100);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd/"), 5);

    /* Stop: De-register. */
    assert_int_equal(dk_client_stop(&W.c, W.now), 0);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_STOPPING);
    assert_true(w_run_while_not(stopped, 5000));
    const struct w_req *del = w_last_req(P_S1, DK_COAP_DELETE, "/rd/");
    assert_non_null(del);
    assert_string_equal(del->path, "/rd/11");
    assert_int_equal(w_count_events(DK_CLIENT_EV_DEREGISTERED), 1);
    assert_int_equal(w_count_events(DK_CLIENT_EV_STOPPED), 1);
    assert_int_equal(dk_client_stop(&W.c, W.now), DK_ESTATE);
}

static void test_update_404_reregisters(void **state)
{
    w_bootstrap_to_s1();
    W.peer[P_S1].upd_code = DK_COAP_NOT_FOUND;
    w_run(151000);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd/"), 1);
    w_run(100);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd"), 3); /* reg, update, reg */
    const char *loc;
    assert_true(dk_client_registered(&W.c, 101, &loc));
    assert_string_equal(loc, "/rd/12");
}

/* Registration refused: retries 2 s, 4 s, then (3 failures) bootstrap again. */
static void test_register_failure_rebootstrap(void **state)
{
    W.peer[P_S1].reg_code = DK_COAP_FORBIDDEN;
    assert_int_equal(w_start(), 0);
    assert_true(w_run_while_not(bs_requested, 1000));
    w_run(100);
    w_request(P_BS, DK_COAP_DELETE, "/", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(w_bs_write_account(DK_LWM2M_CF_TLV, 1, 0, 101, P_S1, 300), DK_COAP_CHANGED);
    w_request(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL, 0, false);
    w_run(1000);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd"), 1);
    w_run(2000);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd"), 2);
    w_run(4000);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd"), 3);
    assert_int_equal(w_count_events(DK_CLIENT_EV_REG_FAILED), 3);
    /* Third failure: bootstrap on registration failure. */
    w_run(100);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_BOOTSTRAPPING);
    assert_int_equal(w_count_req(P_BS, DK_COAP_POST, "/bs"), 2);
    assert_int_equal(w_count_events(DK_CLIENT_EV_FACTORY_MODE), 2);
}

/* ---- Persistence and factory reset --------------------------------------------------------- */

static struct w_stored g_saved[W_MAX_REC];
static size_t g_nsaved;

static void test_persistence_restart(void **state)
{
    w_bootstrap_to_s1();
    struct w_res *res =
        w_request(P_S1, DK_COAP_PUT, "/3311/0/5850", NULL, DK_LWM2M_CF_TEXT, -1, "1", 1, false);
    assert_int_equal(res->code, DK_COAP_CHANGED);
    res = w_request(P_S1, DK_COAP_PUT, "/3311/0/5851", NULL, DK_LWM2M_CF_TEXT, -1, "40", 2, false);
    assert_int_equal(res->code, DK_COAP_CHANGED);
    res = w_request(P_S1, DK_COAP_PUT, "/3303/0/5700", "pmin=5&pmax=50&st=0.5", -1, -1, NULL, 0,
                    false);
    assert_int_equal(res->code, DK_COAP_CHANGED);
    assert_int_equal(W.nstored, 4);
    assert_string_equal(W.stored[0].key, "/0/1");
    assert_string_equal(W.stored[1].key, "/1/0");
    assert_string_equal(W.stored[2].key, "/3311/0");
    assert_string_equal(W.stored[3].key, ".attr");
    memcpy(g_saved, W.stored, sizeof g_saved);
    g_nsaved = W.nstored;

    /* Restart: a new client from the records. */
    w_free();
    assert_int_equal(w_init(-1), 0);
    memcpy(W.stored, g_saved, sizeof g_saved);
    W.nstored = g_nsaved;
    struct dk_store_record recs[W_MAX_REC];
    size_t n = w_records(recs, W_MAX_REC);
    assert_int_equal(dk_client_load(&W.c, recs, n), 0);
    assert_int_equal(w_start(), 0);
    assert_true(W.led_on);
    assert_int_equal(W.led_dimmer, 40);
    assert_int_equal(w_count_events(DK_CLIENT_EV_FACTORY_MODE), 0);
    assert_true(w_run_while_not(registered, 5000));
    assert_int_equal(w_count_req(P_BS, DK_COAP_POST, "/bs"), 0);
    assert_true(dk_client_registered(&W.c, 101, NULL));
    /* Attributes came back. */
    res = w_request(P_S1, DK_COAP_GET, "/3303/0/5700", NULL, -1, DK_LWM2M_CF_LINK, NULL, 0, false);
    assert_string_equal((char *)res->body, "</3303/0/5700>;pmin=5;pmax=50;st=0.5");
    /* Nothing changed: persisting again yields the same bytes. */
    res = w_request(P_S1, DK_COAP_PUT, "/3311/0/5851", NULL, DK_LWM2M_CF_TEXT, -1, "40", 2, false);
    assert_int_equal(W.nstored, g_nsaved);
    for (size_t i = 0; i < g_nsaved; i++) {
        assert_string_equal(W.stored[i].key, g_saved[i].key);
        assert_int_equal(W.stored[i].len, g_saved[i].len);
        assert_memory_equal(W.stored[i].value, g_saved[i].value, g_saved[i].len);
    }

    /* Damaged records are refused as a whole. */
    w_free();
    assert_int_equal(w_init(-1), 0);
    memcpy(W.stored, g_saved, sizeof g_saved);
    W.nstored = g_nsaved;
    W.stored[1].len = 2; /* truncated TLV */
    n = w_records(recs, W_MAX_REC);
    assert_int_equal(dk_client_load(&W.c, recs, n), DK_EPARSE);
    assert_false(dk_client_has_instance(&W.c, 0, 1));
}

static void test_persist_failure(void **state)
{
    w_bootstrap_to_s1();
    W.persist_fail = DK_EIO;
    struct w_res *res =
        w_request(P_S1, DK_COAP_PUT, "/3311/0/5850", NULL, DK_LWM2M_CF_TEXT, -1, "1", 1, false);
    assert_int_equal(res->code, DK_COAP_INTERNAL_SERVER_ERROR);
}

static bool bs_requested_twice(void)
{
    return w_count_req(P_BS, DK_COAP_POST, "/bs") >= 2;
}

static void test_factory_reset_execute(void **state)
{
    w_bootstrap_to_s1();
    struct w_res *res =
        w_request(P_S1, DK_COAP_PUT, "/3311/0/5850", NULL, DK_LWM2M_CF_TEXT, -1, "1", 1, false);
    assert_true(W.led_on);
    res = w_request(P_S1, DK_COAP_POST, "/3/0/5", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_CHANGED);
    assert_true(w_run_while_not(bs_requested_twice, 5000));
    /* De-registered first, then wiped, then bootstrapping again. */
    assert_non_null(w_last_req(P_S1, DK_COAP_DELETE, "/rd/11"));
    assert_int_equal(W.wipe_calls, 1);
    assert_int_equal(w_count_events(DK_CLIENT_EV_FACTORY_RESET), 1);
    assert_int_equal(w_count_events(DK_CLIENT_EV_FACTORY_MODE), 2);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_BOOTSTRAPPING);
    assert_false(dk_client_has_instance(&W.c, 0, 1));
    assert_false(dk_client_has_instance(&W.c, 1, 0));
    assert_true(dk_client_has_instance(&W.c, 0, 0)); /* bootstrap account from the factory */
    assert_true(dk_client_has_instance(&W.c, 3311, 0));
    assert_false(W.led_on); /* defaults */
    /* And it can be bootstrapped again. */
    w_run(100);
    w_request(P_BS, DK_COAP_DELETE, "/", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(w_bs_write_account(DK_LWM2M_CF_TLV, 1, 0, 101, P_S1, 300), DK_COAP_CHANGED);
    res = w_request(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_CHANGED);
    assert_true(w_run_while_not(registered, 5000));
}

static void test_factory_reset_button_offline(void **state)
{
    w_bootstrap_to_s1();
    /* The server is gone: de-registration times out (10 s), then the reset goes on. */
    W.peer[P_S1].drop_in = true;
    assert_int_equal(dk_client_factory_reset(&W.c, W.now), 0);
    dk_time_t t0 = W.now;
    assert_true(w_run_while_not(bs_requested_twice, 20000));
    assert_true(W.now - t0 >= 7000);
    assert_int_equal(W.wipe_calls, 1);
    assert_int_equal(W.nstored, 0);
}

/* ---- Transports the program opens slowly, or loses ------------------------------------------- */

static void test_transport_manual_and_loss(void **state)
{
    W.tmode = T_MANUAL;
    assert_int_equal(w_start(), 0);
    assert_int_equal(W.nopen, 1);
    w_run(3000); /* a DTLS handshake takes its time: nothing is sent meanwhile */
    assert_int_equal(w_count_req(P_BS, DK_COAP_POST, "/bs"), 0);
    assert_int_equal(dk_client_transport_up(&W.c, W.open_ids[0], &W.peer[P_BS].addr, W.now), 0);
    assert_int_equal(dk_client_transport_up(&W.c, W.open_ids[0], &W.peer[P_BS].addr, W.now),
                     DK_ENOTFOUND);
    assert_int_equal(dk_client_transport_up(&W.c, 999, &W.peer[P_BS].addr, W.now), DK_ENOTFOUND);
    w_run(100);
    assert_int_equal(w_count_req(P_BS, DK_COAP_POST, "/bs"), 1);
    w_request(P_BS, DK_COAP_DELETE, "/", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(w_bs_write_account(DK_LWM2M_CF_TLV, 1, 0, 101, P_S1, 300), DK_COAP_CHANGED);
    struct w_res *res = w_request(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(res->code, DK_COAP_CHANGED);
    w_run(100);
    assert_int_equal(W.nopen, 2);
    assert_int_equal(W.open_peer[1], P_S1);
    /* The same address as an open transport: refused. */
    assert_int_equal(dk_client_transport_up(&W.c, W.open_ids[1], &W.peer[P_BS].addr, W.now),
                     DK_EEXIST);
    assert_int_equal(dk_client_transport_up(&W.c, W.open_ids[1], &W.peer[P_S1].addr, W.now), 0);
    assert_true(w_run_while_not(registered, 1000));
    /* The transport breaks: the engine closes it, reopens after the retry
     * delay (2 s) and registers again. */
    W.tmode = T_AUTO;
    assert_int_equal(dk_client_transport_down(&W.c, W.open_ids[1], DK_ECLOSED, W.now), 0);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_REGISTERING);
    assert_int_equal(W.closed[W.nclosed - 1], W.open_ids[1]);
    assert_int_equal(w_last_event(DK_CLIENT_EV_REG_FAILED)->reason, DK_ECLOSED);
    w_run(1900);
    assert_int_equal(W.nopen, 2);
    w_run(200);
    assert_int_equal(W.nopen, 3);
    assert_true(w_run_while_not(registered, 1000));
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd"), 2);
}

static void test_stop_and_reset_while_bootstrapping(void **state)
{
    W.peer[P_BS].bs_code = DK_COAP_FORBIDDEN;
    assert_int_equal(w_start(), 0);
    w_run(1500);
    /* Button while bootstrapping: nothing to de-register; wiped, bootstraps again. */
    assert_int_equal(dk_client_factory_reset(&W.c, W.now), 0);
    w_run(10);
    assert_int_equal(W.wipe_calls, 1);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_BOOTSTRAPPING);
    assert_int_equal(w_count_events(DK_CLIENT_EV_FACTORY_MODE), 2);
    /* SIGTERM while bootstrapping: stopped at once, transports closed. */
    w_run(3000);
    assert_int_equal(dk_client_stop(&W.c, W.now), 0);
    w_run(10);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_STOPPED);
    assert_int_equal(w_count_events(DK_CLIENT_EV_STOPPED), 1);
    assert_int_equal(W.nclosed, W.nopen);
    assert_int_equal(dk_client_deadline(&W.c), DK_TIME_NEVER);
    assert_int_equal(dk_client_factory_reset(&W.c, W.now), DK_ESTATE);
    assert_int_equal(dk_client_bootstrap(&W.c, W.now), DK_ESTATE);
    size_t reqs = W.peer[P_BS].nreq;
    w_run(100000);
    assert_int_equal(W.peer[P_BS].nreq, reqs);
}

static void test_api_misuse(void **state)
{
    /* Before start. */
    assert_int_equal(dk_client_stop(&W.c, W.now), DK_ESTATE);
    assert_int_equal(dk_client_factory_reset(&W.c, W.now), DK_ESTATE);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_IDLE);
    assert_string_equal(dk_client_state_name(DK_CLIENT_REGISTERED), "registered");
    /* Config checks. */
    struct dk_client c2;
    dk_client_init(&c2);
    struct dk_client_config cfg = W.cfg;
    cfg.endpoint = "bad endpoint";
    assert_int_equal(dk_client_setup(&c2, &cfg), DK_EINVAL);
    cfg.endpoint = "";
    assert_int_equal(dk_client_setup(&c2, &cfg), DK_EINVAL);
    cfg = W.cfg;
    cfg.cbs.open_transport = NULL;
    assert_int_equal(dk_client_setup(&c2, &cfg), DK_EINVAL);
    cfg = W.cfg;
    cfg.rng = NULL;
    assert_int_equal(dk_client_setup(&c2, &cfg), DK_EINVAL);
    dk_client_free(&c2);
    dk_client_free(&c2);
    /* No bootstrap account and nothing loaded: nothing to do. */
    cfg = W.cfg;
    cfg.bs_uri = NULL;
    assert_int_equal(dk_client_setup(&c2, &cfg), 0);
    assert_int_equal(dk_client_start(&c2, W.now), DK_ENOTFOUND);
    dk_client_free(&c2);
    /* Program objects: duplicates, order. */
    static const struct dk_lwm2m_resource_def res[] = {
        {1, "A", DK_LWM2M_TYPE_INTEGER, DK_LWM2M_OP_RW, false, true},
        {0, "B", DK_LWM2M_TYPE_INTEGER, DK_LWM2M_OP_RW, false, true},
    };
    static const struct dk_lwm2m_object_def bad = {3, "Dup", 1, 0, false, false, res, 1};
    struct dk_client_object o = {&bad, NULL, NULL, 0};
    assert_int_equal(dk_client_add_object(&W.c, &o), DK_EEXIST);
    static const struct dk_lwm2m_object_def unsorted = {10241, "X", 1, 0, true, false, res, 2};
    o.def = &unsorted;
    assert_int_equal(dk_client_add_object(&W.c, &o), DK_EINVAL);
    /* After start. */
    assert_int_equal(w_start(), 0);
    assert_int_equal(w_start(), DK_ESTATE);
    assert_int_equal(dk_client_load(&W.c, NULL, 0), DK_ESTATE);
    static const struct dk_lwm2m_object_def late = {10242, "Late", 1, 0, true, false, res + 1, 1};
    o.def = &late;
    assert_int_equal(dk_client_add_object(&W.c, &o), DK_ESTATE);
}

/* ---- A program-defined object ---------------------------------------------------------------- */

struct counter {
    int64_t reads, writes, execs;
    int64_t value;
};

static int ctr_read(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                    struct dk_lwm2m_value *out, dk_time_t now)
{
    struct counter *k = user;
    if (p->ids[2] != 1)
        return DK_ENOTFOUND;
    k->reads++;
    *out = dk_lwm2m_int(k->value);
    return 0;
}

static int ctr_write(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                     const struct dk_lwm2m_value *v, dk_time_t now)
{
    struct counter *k = user;
    k->writes++;
    if (p->ids[2] == 1) {
        if (v->v.i < 0)
            return DK_EINVAL;
        k->value = v->v.i;
        return 1; /* kept here */
    }
    return 0;
}

static int ctr_exec(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                    const uint8_t *args, size_t len, dk_time_t now)
{
    struct counter *k = user;
    k->execs++;
    k->value++;
    return len ? DK_EINVAL : 0;
}

static void test_program_object(void **state)
{
    static const struct dk_lwm2m_resource_def res[] = {
        {0, "Name", DK_LWM2M_TYPE_STRING, DK_LWM2M_OP_RW, false, false},
        {1, "Count", DK_LWM2M_TYPE_INTEGER, DK_LWM2M_OP_RW, false, true},
        {2, "Increment", DK_LWM2M_TYPE_NONE, DK_LWM2M_OP_E, false, false},
    };
    static const struct dk_lwm2m_object_def def = {32769, "Counter", 1, 0, true, false, res, 3};
    static const struct dk_client_object_ops ops = {ctr_read, ctr_write, ctr_exec, NULL, NULL};
    static struct counter k;
    memset(&k, 0, sizeof k);
    struct dk_client_object o = {&def, &ops, &k, DK_CLIENT_OBJ_PERSIST};
    assert_int_equal(dk_client_add_object(&W.c, &o), 0);
    w_bootstrap_to_s1();
    const struct w_req *reg = w_last_req(P_S1, DK_COAP_POST, "/rd");
    assert_non_null(strstr((char *)reg->body, ",</32769>"));
    /* The program makes an instance: an Update lists it. */
    assert_int_equal(dk_client_create_instance(&W.c, 32769, 0, W.now), 0);
    assert_int_equal(dk_client_create_instance(&W.c, 32769, 0, W.now), DK_EEXIST);
    w_run(100);
    reg = w_last_req(P_S1, DK_COAP_POST, "/rd/");
    assert_non_null(reg);
    assert_non_null(strstr((char *)reg->body, ",</32769/0>"));
    struct w_res *r =
        w_request(P_S1, DK_COAP_PUT, "/32769/0/1", NULL, DK_LWM2M_CF_TEXT, -1, "41", 2, false);
    assert_int_equal(r->code, DK_COAP_CHANGED);
    r = w_request(P_S1, DK_COAP_PUT, "/32769/0/1", NULL, DK_LWM2M_CF_TEXT, -1, "-1", 2, false);
    assert_int_equal(r->code, DK_COAP_BAD_REQUEST);
    r = w_request(P_S1, DK_COAP_POST, "/32769/0/2", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(r->code, DK_COAP_CHANGED);
    r = w_request(P_S1, DK_COAP_POST, "/32769/0/2", NULL, -1, -1, "x", 1, false);
    assert_int_equal(r->code, DK_COAP_BAD_REQUEST);
    r = w_request(P_S1, DK_COAP_GET, "/32769/0/1", NULL, -1, -1, NULL, 0, false);
    assert_string_equal((char *)r->body, "43");
    r = w_request(P_S1, DK_COAP_PUT, "/32769/0/0", NULL, DK_LWM2M_CF_TEXT, -1, "hall", 4, false);
    assert_int_equal(r->code, DK_COAP_CHANGED);
    /* Persisted: the stored name (the count lives in the program). */
    bool found = false;
    for (size_t i = 0; i < W.nstored; i++)
        found |= strcmp(W.stored[i].key, "/32769/0") == 0;
    assert_true(found);
    r = w_request(P_S1, DK_COAP_GET, "/32769/0", NULL, -1, DK_LWM2M_CF_LINK, NULL, 0, false);
    assert_string_equal((char *)r->body, "</32769/0>,</32769/0/0>,</32769/0/1>,</32769/0/2>");
    assert_int_equal(code_of_delete(), DK_COAP_DELETED);
    r = w_request(P_S1, DK_COAP_GET, "/32769/0", NULL, -1, -1, NULL, 0, false);
    assert_int_equal(r->code, DK_COAP_NOT_FOUND);
}

/* ---- Lossy network -----------------------------------------------------------------------------
 */

static void test_lossy_network(void **state)
{
    W.net.loss_pct = 20;
    W.net.dup_pct = 10;
    W.net.reorder_pct = 10;
    W.net.reorder_ms = 300;
    w_bootstrap_to_s1();
    for (int i = 0; i < 10; i++) {
        struct w_res *res = w_request(P_S1, DK_COAP_GET, "/3/0/0", NULL, -1, -1, NULL, 0, false);
        if (res->status == 0) {
            assert_int_equal(res->code, DK_COAP_CONTENT);
            assert_string_equal((char *)res->body, "duckling");
        }
    }
    w_run(400000);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_REGISTERED);
    assert_true(W.net.dropped > 0);
}

/* ---- Allocation failures -----------------------------------------------------------------------
 */

/* One scenario: setup, bootstrap, register, a read and a write; every
 * allocation in turn fails. The engine must fail cleanly (an error, a
 * 5.00, a retry) and never crash or leak (w_free checks the count). */
static void scenario(long fail_at, long *calls)
{
    int rc = w_init(fail_at);
    if (rc == 0 && dk_client_start(&W.c, W.now) == 0) {
        w_run(100);
        w_request(P_BS, DK_COAP_DELETE, "/", NULL, -1, -1, NULL, 0, false);
        w_bs_write_account(DK_LWM2M_CF_TLV, 1, 0, 101, P_S1, 300);
        w_request(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL, 0, false);
        w_run(3000);
        w_request(P_S1, DK_COAP_GET, "/3/0", NULL, -1, -1, NULL, 0, false);
        w_request(P_S1, DK_COAP_PUT, "/3311/0/5850", NULL, DK_LWM2M_CF_TEXT, -1, "1", 1, false);
        w_request(P_S1, DK_COAP_GET, "/3303/0/5700", NULL, -1, -1, NULL, 0, true);
        dk_client_factory_reset(&W.c, W.now);
        w_run(3000);
    }
    if (calls)
        *calls = W.fa.calls;
    w_free();
}

static void test_alloc_failures(void **state)
{
    w_free(); /* the fixture's world */
    long calls = 0;
    scenario(0, &calls);
    assert_true(calls > 20);
    print_message("allocation sweep: %ld allocations\n", calls);
    for (long i = 1; i <= calls; i++)
        scenario(i, NULL);
    assert_int_equal(w_init(-1), 0); /* for teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bootstrap_tlv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_senml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_without_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_silent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_update_deregister, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_404_reregisters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_failure_rebootstrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistence_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persist_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_factory_reset_execute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_factory_reset_button_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_manual_and_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_reset_while_bootstrapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_program_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lossy_network, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
