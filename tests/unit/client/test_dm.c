/* Client engine: Device Management and Information Reporting operations with
 * their response codes and content formats, observe timing with pmin, pmax,
 * gt, lt and st on the fake clock, and access control with two servers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "world.h"

static int setup(void **state)
{
    assert_int_equal(w_init(-1), 0);
    w_bootstrap_to_s1();
    return 0;
}

static int setup_bare(void **state)
{
    assert_int_equal(w_init(-1), 0);
    return 0;
}

static int teardown(void **state)
{
    w_free();
    return 0;
}

static struct w_res *req(int peer, uint8_t method, const char *path, const char *query, int cf,
                         int accept, const char *payload)
{
    return w_request(peer, method, path, query, cf, accept, payload, payload ? strlen(payload) : 0,
                     false);
}

static uint8_t code_of(int peer, uint8_t method, const char *path, const char *query, int cf,
                       int accept, const char *payload)
{
    return req(peer, method, path, query, cf, accept, payload)->code;
}

static size_t encode(int cf, const char *path, const struct dk_lwm2m_record *recs, size_t n,
                     uint8_t *buf, size_t cap)
{
    struct dk_buf b;
    dk_buf_init(&b, buf, cap);
    struct dk_lwm2m_path base;
    assert_int_equal(dk_lwm2m_path_parse(path, strlen(path), &base), 0);
    assert_int_equal(dk_lwm2m_encode(cf, &base, recs, n, &b), 0);
    return b.len;
}

static struct w_res *send_recs(int peer, uint8_t method, const char *path, int cf,
                               const struct dk_lwm2m_record *recs, size_t n)
{
    static uint8_t buf[2048];
    size_t len = encode(cf, path, recs, n, buf, sizeof buf);
    return w_request(peer, method, path, NULL, cf, -1, buf, len, false);
}

/* ---- Read ---------------------------------------------------------------------------------- */

static void test_read(void **state)
{
    struct w_res *r = req(P_S1, DK_COAP_GET, "/3/0/0", NULL, -1, -1, NULL);
    assert_int_equal(r->code, DK_COAP_CONTENT);
    assert_int_equal(r->cf, DK_LWM2M_CF_TEXT);
    assert_string_equal((char *)r->body, "duckling");

    r = req(P_S1, DK_COAP_GET, "/3/0", NULL, -1, -1, NULL);
    assert_int_equal(r->code, DK_COAP_CONTENT);
    assert_int_equal(r->cf, DK_LWM2M_CF_TLV);
    struct dk_lwm2m_record recs[32];
    size_t n = 0;
    struct dk_lwm2m_path base = dk_lwm2m_path_inst(3, 0);
    assert_int_equal(dk_lwm2m_decode(DK_LWM2M_CF_TLV, r->body, r->len, &base, NULL, recs, 32, &n),
                     0);
    /* 0 1 2 3 10 11/0 16 21, in that order */
    uint16_t want[] = {0, 1, 2, 3, 10, 11, 16, 21};
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(recs[i].path.ids[2], want[i]);
    assert_int_equal(recs[4].value.v.i, 1234);
    assert_int_equal(recs[5].path.len, 4);
    assert_int_equal(recs[5].value.v.i, 0);
    assert_memory_equal(recs[6].value.v.bytes.p, "U", 1);

    r = req(P_S1, DK_COAP_GET, "/3/0", NULL, -1, DK_LWM2M_CF_SENML_JSON, NULL);
    assert_int_equal(r->code, DK_COAP_CONTENT);
    assert_int_equal(r->cf, DK_LWM2M_CF_SENML_JSON);
    assert_non_null(strstr((char *)r->body, "\"bn\":\"/3/0/\",\"n\":\"0\",\"vs\":\"duckling\""));
    assert_non_null(strstr((char *)r->body, "{\"n\":\"11/0\",\"v\":0}"));

    r = req(P_S1, DK_COAP_GET, "/3/0", NULL, -1, DK_LWM2M_CF_SENML_CBOR, NULL);
    assert_int_equal(r->code, DK_COAP_CONTENT);
    assert_int_equal(r->cf, DK_LWM2M_CF_SENML_CBOR);
    assert_int_equal(
        dk_lwm2m_decode(DK_LWM2M_CF_SENML_CBOR, r->body, r->len, &base, NULL, recs, 32, &n), 0);
    assert_int_equal(n, 8);

    /* Object level. */
    r = req(P_S1, DK_COAP_GET, "/3311", NULL, -1, -1, NULL);
    assert_int_equal(r->code, DK_COAP_CONTENT);
    assert_int_equal(r->cf, DK_LWM2M_CF_TLV);
    base = dk_lwm2m_path_obj(3311);
    assert_int_equal(dk_lwm2m_decode(DK_LWM2M_CF_TLV, r->body, r->len, &base, NULL, recs, 32, &n),
                     0);
    assert_int_equal(n, 3); /* 5850 false, 5851 100, 5852 on time 0 */
    assert_false(recs[0].value.v.b);
    assert_int_equal(recs[1].value.v.i, 100);

    /* Sensors and min/max. */
    W.temperature = 30;
    r = req(P_S1, DK_COAP_GET, "/3303/0/5700", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "30.0");
    W.temperature = 19.25;
    r = req(P_S1, DK_COAP_GET, "/3303/0/5700", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "19.25");
    r = req(P_S1, DK_COAP_GET, "/3303/0/5601", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "19.25");
    r = req(P_S1, DK_COAP_GET, "/3303/0/5602", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "30.0");
    r = req(P_S1, DK_COAP_GET, "/3303/0/5701", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "Cel");
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/3303/0/5605", NULL, -1, -1, NULL),
                     DK_COAP_CHANGED);
    r = req(P_S1, DK_COAP_GET, "/3303/0/5602", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "19.25");
    r = req(P_S1, DK_COAP_GET, "/3301/0/5700", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "300.0");

    /* Errors. */
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/3/0", NULL, -1, DK_LWM2M_CF_JSON, NULL),
                     DK_COAP_NOT_ACCEPTABLE);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/3/0", NULL, -1, DK_LWM2M_CF_TEXT, NULL),
                     DK_COAP_NOT_ACCEPTABLE);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/3/0/0", NULL, -1, DK_LWM2M_CF_OPAQUE, NULL),
                     DK_COAP_NOT_ACCEPTABLE);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/3/0/99", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/3/0/9", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/3/1", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/99", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/3/x", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/3/0/4", NULL, -1, -1, NULL),
                     DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/", NULL, -1, -1, NULL),
                     DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/0/1", NULL, -1, -1, NULL), DK_COAP_UNAUTHORIZED);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/12/0/17", NULL, -1, -1, NULL),
                     DK_COAP_NOT_FOUND); /* no /12/0 */
    /* Bootstrap interface is closed to servers. */
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/bs", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);
    /* And the bootstrap server is no longer heard after Finish. */
    w_run(6000);
    assert_int_equal(
        dk_client_recv(&W.c, &W.peer[P_BS].addr, (const uint8_t *)"\x40\x01\x00\x01", 4, W.now),
        DK_ENOTFOUND);
}

/* ---- Write ----------------------------------------------------------------------------------- */

static void test_write(void **state)
{
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0/5850", NULL, DK_LWM2M_CF_TEXT, -1, "1"),
                     DK_COAP_CHANGED);
    assert_true(W.led_on);
    assert_int_equal(W.led_dimmer, 100);
    assert_int_equal(w_last_event(DK_CLIENT_EV_CHANGED)->path.ids[0], 3311);
    /* Validation: dimmer 0..100; nothing applied when one record is bad. */
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0/5851", NULL, DK_LWM2M_CF_TEXT, -1, "150"),
                     DK_COAP_BAD_REQUEST);
    int calls = W.led_calls;
    struct dk_lwm2m_record bad[] = {
        {dk_lwm2m_path_res(3311, 0, 5850), dk_lwm2m_bool(false), 0},
        {dk_lwm2m_path_res(3311, 0, 5851), dk_lwm2m_int(200), 0},
    };
    assert_int_equal(send_recs(P_S1, DK_COAP_PUT, "/3311/0", DK_LWM2M_CF_TLV, bad, 2)->code,
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(W.led_calls, calls);
    assert_true(W.led_on);
    /* Replace the instance in TLV. */
    struct dk_lwm2m_record good[] = {
        {dk_lwm2m_path_res(3311, 0, 5850), dk_lwm2m_bool(false), 0},
        {dk_lwm2m_path_res(3311, 0, 5851), dk_lwm2m_int(30), 0},
    };
    assert_int_equal(send_recs(P_S1, DK_COAP_PUT, "/3311/0", DK_LWM2M_CF_TLV, good, 2)->code,
                     DK_COAP_CHANGED);
    assert_false(W.led_on);
    assert_int_equal(W.led_dimmer, 30);
    /* Partial update in SenML JSON and CBOR. */
    struct dk_lwm2m_record dim[] = {{dk_lwm2m_path_res(3311, 0, 5851), dk_lwm2m_int(55), 0}};
    assert_int_equal(send_recs(P_S1, DK_COAP_POST, "/3311/0", DK_LWM2M_CF_SENML_JSON, dim, 1)->code,
                     DK_COAP_CHANGED);
    assert_int_equal(W.led_dimmer, 55);
    struct dk_lwm2m_record on[] = {{dk_lwm2m_path_res(3311, 0, 5850), dk_lwm2m_bool(true), 0}};
    assert_int_equal(send_recs(P_S1, DK_COAP_POST, "/3311/0", DK_LWM2M_CF_SENML_CBOR, on, 1)->code,
                     DK_COAP_CHANGED);
    assert_true(W.led_on);
    assert_int_equal(W.led_dimmer, 55);
    /* On time counts while on; writing 0 resets it. */
    w_run(5000);
    struct w_res *r = req(P_S1, DK_COAP_GET, "/3311/0/5852", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "5");
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0/5852", NULL, DK_LWM2M_CF_TEXT, -1, "0"),
                     DK_COAP_CHANGED);
    w_run(2000);
    r = req(P_S1, DK_COAP_GET, "/3311/0/5852", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "2");

    /* Current time. */
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/3/0/13", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);
    assert_int_equal(
        code_of(P_S1, DK_COAP_PUT, "/3/0/13", NULL, DK_LWM2M_CF_TEXT, -1, "1700000000"),
        DK_COAP_CHANGED);
    w_run(3000);
    r = req(P_S1, DK_COAP_GET, "/3/0/13", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "1700000003");
    /* UTC offset is a stored value. */
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3/0/14", NULL, DK_LWM2M_CF_TEXT, -1, "+02:00"),
                     DK_COAP_CHANGED);
    r = req(P_S1, DK_COAP_GET, "/3/0/14", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "+02:00");

    /* Errors. */
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3/0/0", NULL, DK_LWM2M_CF_TEXT, -1, "x"),
                     DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0/5850", NULL, 9999, -1, "1"),
                     DK_COAP_UNSUPPORTED_CONTENT_FORMAT);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0/5850", NULL, DK_LWM2M_CF_JSON, -1, "1"),
                     DK_COAP_UNSUPPORTED_CONTENT_FORMAT);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0/5850", NULL, -1, -1, "1"),
                     DK_COAP_UNSUPPORTED_CONTENT_FORMAT);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0/5850", NULL, DK_LWM2M_CF_TEXT, -1, "yes"),
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0/9999", NULL, DK_LWM2M_CF_TEXT, -1, "1"),
                     DK_COAP_NOT_FOUND);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/7/5850", NULL, DK_LWM2M_CF_TEXT, -1, "1"),
                     DK_COAP_NOT_FOUND);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311", NULL, DK_LWM2M_CF_TEXT, -1, "1"),
                     DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3/0/4", NULL, DK_LWM2M_CF_TEXT, -1, "1"),
                     DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0", NULL, DK_LWM2M_CF_TLV, -1, "\xff"),
                     DK_COAP_BAD_REQUEST);
    /* A resource written to the wrong instance in SenML. */
    struct dk_lwm2m_record other[] = {{dk_lwm2m_path_res(3311, 1, 5850), dk_lwm2m_bool(true), 0}};
    static uint8_t buf[256];
    size_t len = encode(DK_LWM2M_CF_SENML_JSON, "/3311", other, 1, buf, sizeof buf);
    r = w_request(P_S1, DK_COAP_PUT, "/3311/0", NULL, DK_LWM2M_CF_SENML_JSON, -1, buf, len, false);
    assert_int_equal(r->code, DK_COAP_BAD_REQUEST);
    /* The program's own set_value notifies and reads back. */
    struct dk_lwm2m_path p = dk_lwm2m_path_rinst(3, 0, 11, 0);
    struct dk_lwm2m_value v = dk_lwm2m_int(3);
    assert_int_equal(dk_client_set_value(&W.c, &p, &v, W.now), 0);
    r = req(P_S1, DK_COAP_GET, "/3/0/11/0", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "3");
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/3/0/12", NULL, -1, -1, NULL), DK_COAP_CHANGED);
    r = req(P_S1, DK_COAP_GET, "/3/0/11/0", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "0");
}

/* ---- Execute, Create, Delete ------------------------------------------------------------------
 */

static void test_execute_create_delete(void **state)
{
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/3/0/4", NULL, -1, -1, NULL), DK_COAP_CHANGED);
    assert_int_equal(w_count_events(DK_CLIENT_EV_REBOOT), 1);
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/3/0/0", NULL, -1, -1, NULL),
                     DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/3/0/99", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);

    /* Create with an instance id in TLV. */
    struct dk_lwm2m_record w3[] = {
        {dk_lwm2m_path_res(12, 3, 0), dk_lwm2m_str("wlan0"), 0},
        {dk_lwm2m_path_res(12, 3, 5), dk_lwm2m_str("guest"), 0},
    };
    struct w_res *r = send_recs(P_S1, DK_COAP_POST, "/12", DK_LWM2M_CF_TLV, w3, 2);
    assert_int_equal(r->code, DK_COAP_CREATED);
    assert_string_equal(r->location, "/12/3");
    r = req(P_S1, DK_COAP_GET, "/12/3/5", NULL, -1, -1, NULL);
    assert_string_equal((char *)r->body, "guest");
    /* Write-only resources can be created but not read. */
    struct dk_lwm2m_record psk[] = {{dk_lwm2m_path_res(12, 3, 17), dk_lwm2m_str("pw"), 0}};
    assert_int_equal(send_recs(P_S1, DK_COAP_POST, "/12/3", DK_LWM2M_CF_TLV, psk, 1)->code,
                     DK_COAP_CHANGED);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/12/3/17", NULL, -1, -1, NULL),
                     DK_COAP_METHOD_NOT_ALLOWED);
    /* Multiple resources: a resource instance alone, or the whole resource. */
    struct dk_lwm2m_record ch[] = {
        {dk_lwm2m_path_rinst(12, 3, 11, 0), dk_lwm2m_int(1), 0},
        {dk_lwm2m_path_rinst(12, 3, 11, 1), dk_lwm2m_int(6), 0},
    };
    assert_int_equal(send_recs(P_S1, DK_COAP_PUT, "/12/3/11", DK_LWM2M_CF_TLV, ch, 2)->code,
                     DK_COAP_CHANGED);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/12/3/11/1", NULL, DK_LWM2M_CF_TEXT, -1, "11"),
                     DK_COAP_CHANGED);
    r = req(P_S1, DK_COAP_GET, "/12/3/11", NULL, -1, DK_LWM2M_CF_SENML_JSON, NULL);
    assert_string_equal((char *)r->body, "[{\"bn\":\"/12/3/11/\",\"n\":\"0\",\"v\":1},"
                                         "{\"n\":\"1\",\"v\":11}]");
    struct dk_lwm2m_record ch2[] = {{dk_lwm2m_path_rinst(12, 3, 11, 4), dk_lwm2m_int(13), 0}};
    assert_int_equal(send_recs(P_S1, DK_COAP_PUT, "/12/3/11", DK_LWM2M_CF_TLV, ch2, 1)->code,
                     DK_COAP_CHANGED);
    r = req(P_S1, DK_COAP_GET, "/12/3/11", NULL, -1, DK_LWM2M_CF_SENML_JSON, NULL);
    assert_string_equal((char *)r->body, "[{\"bn\":\"/12/3/11/\",\"n\":\"4\",\"v\":13}]");
    r = req(P_S1, DK_COAP_GET, "/12/3/11", NULL, -1, DK_LWM2M_CF_TEXT, NULL);
    assert_int_equal(r->code, DK_COAP_NOT_ACCEPTABLE);
    /* Create in SenML names the instance; again the same id: 4.00. */
    struct dk_lwm2m_record w7[] = {{dk_lwm2m_path_res(12, 7, 0), dk_lwm2m_str("wlan1"), 0}};
    r = send_recs(P_S1, DK_COAP_POST, "/12", DK_LWM2M_CF_SENML_JSON, w7, 1);
    assert_int_equal(r->code, DK_COAP_CREATED);
    assert_string_equal(r->location, "/12/7");
    assert_int_equal(send_recs(P_S1, DK_COAP_POST, "/12", DK_LWM2M_CF_TLV, w3, 2)->code,
                     DK_COAP_BAD_REQUEST);
    /* Create without an id: the lowest free one. */
    r = req(P_S1, DK_COAP_POST, "/12", NULL, -1, -1, NULL);
    assert_int_equal(r->code, DK_COAP_CREATED);
    assert_string_equal(r->location, "/12/0");
    /* Limit: 4 WLAN instances. */
    r = req(P_S1, DK_COAP_POST, "/12", NULL, -1, -1, NULL);
    assert_int_equal(r->code, DK_COAP_CREATED);
    assert_int_equal(req(P_S1, DK_COAP_POST, "/12", NULL, -1, -1, NULL)->code, DK_COAP_BAD_REQUEST);
    /* Fixed objects. */
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/3", NULL, -1, -1, NULL),
                     DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/3311", NULL, -1, -1, NULL),
                     DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/77", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);

    assert_int_equal(code_of(P_S1, DK_COAP_DELETE, "/12/3", NULL, -1, -1, NULL), DK_COAP_DELETED);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/12/3", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);
    assert_int_equal(code_of(P_S1, DK_COAP_DELETE, "/12/3", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);
    assert_int_equal(code_of(P_S1, DK_COAP_DELETE, "/3/0", NULL, -1, -1, NULL),
                     DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(code_of(P_S1, DK_COAP_DELETE, "/12", NULL, -1, -1, NULL),
                     DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(code_of(P_S1, DK_COAP_DELETE, "/0/1", NULL, -1, -1, NULL),
                     DK_COAP_UNAUTHORIZED);
    /* Other methods. */
    assert_int_equal(code_of(P_S1, DK_COAP_FETCH, "/3/0", NULL, -1, -1, NULL),
                     DK_COAP_METHOD_NOT_ALLOWED);
}

/* Disable (/1/0/4): de-register, come back after the Disable Timeout (/1/0/5). */
static void test_disable(void **state)
{
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/1/0/5", NULL, DK_LWM2M_CF_TEXT, -1, "10"),
                     DK_COAP_CHANGED);
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/1/0/4", NULL, -1, -1, NULL), DK_COAP_CHANGED);
    dk_time_t t0 = W.now;
    w_run(100);
    assert_non_null(w_last_req(P_S1, DK_COAP_DELETE, "/rd/11"));
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_REGISTERING);
    assert_int_equal(w_last_event(DK_CLIENT_EV_DEREGISTERED)->delay_ms, 10000);
    w_run_until(t0 + 9900);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd"), 1);
    w_run_until(t0 + 10200);
    assert_int_equal(w_count_req(P_S1, DK_COAP_POST, "/rd"), 2);
    assert_int_equal(dk_client_state(&W.c), DK_CLIENT_REGISTERED);
}

/* ---- Discover and Write-Attributes --------------------------------------------------------------
 */

static void test_discover_attributes(void **state)
{
    struct w_res *r = req(P_S1, DK_COAP_GET, "/3/0", NULL, -1, DK_LWM2M_CF_LINK, NULL);
    assert_int_equal(r->code, DK_COAP_CONTENT);
    assert_int_equal(r->cf, DK_LWM2M_CF_LINK);
    assert_string_equal((char *)r->body, "</3/0>,</3/0/0>,</3/0/1>,</3/0/2>,</3/0/3>,</3/0/4>,"
                                         "</3/0/5>,</3/0/10>,</3/0/11>;dim=1,</3/0/12>,</3/0/16>,"
                                         "</3/0/21>");
    assert_int_equal(
        code_of(P_S1, DK_COAP_PUT, "/3303/0/5700", "pmin=2&pmax=10&gt=25.5", -1, -1, NULL),
        DK_COAP_CHANGED);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3303/0", "pmax=60", -1, -1, NULL),
                     DK_COAP_CHANGED);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3303", "pmin=1", -1, -1, NULL), DK_COAP_CHANGED);
    r = req(P_S1, DK_COAP_GET, "/3303", NULL, -1, DK_LWM2M_CF_LINK, NULL);
    assert_string_equal((char *)r->body,
                        "</3303>;pmin=1,</3303/0>;pmax=60,</3303/0/5601>,</3303/0/5602>,"
                        "</3303/0/5605>,</3303/0/5700>;pmin=2;pmax=10;gt=25.5,</3303/0/5701>");
    r = req(P_S1, DK_COAP_GET, "/3303/0/5700", NULL, -1, DK_LWM2M_CF_LINK, NULL);
    assert_string_equal((char *)r->body, "</3303/0/5700>;pmin=2;pmax=10;gt=25.5");
    r = req(P_S1, DK_COAP_GET, "/1", NULL, -1, DK_LWM2M_CF_LINK, NULL);
    assert_string_equal((char *)r->body, "</1>;ver=1.1,</1/0>,</1/0/0>,</1/0/1>,</1/0/4>,"
                                         "</1/0/6>,</1/0/7>,</1/0/8>,</1/0/9>");
    /* Remove one. */
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3303/0/5700", "gt", -1, -1, NULL),
                     DK_COAP_CHANGED);
    r = req(P_S1, DK_COAP_GET, "/3303/0/5700", NULL, -1, DK_LWM2M_CF_LINK, NULL);
    assert_string_equal((char *)r->body, "</3303/0/5700>;pmin=2;pmax=10");
    /* Errors. */
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3/0", "gt=1", -1, -1, NULL), DK_COAP_BAD_REQUEST);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3303/0/5701", "st=1", -1, -1, NULL),
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3303/0/5700", "lt=30&gt=20", -1, -1, NULL),
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3303/0/5700", "pmin=20", -1, -1, NULL),
                     DK_COAP_BAD_REQUEST); /* above pmax=10 */
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3303/0/5700", "pmin=abc", -1, -1, NULL),
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3303/0/5700", "dim=2", -1, -1, NULL),
                     DK_COAP_BAD_REQUEST);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3303/9", "pmin=2", -1, -1, NULL),
                     DK_COAP_NOT_FOUND);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/3303/9", NULL, -1, DK_LWM2M_CF_LINK, NULL),
                     DK_COAP_NOT_FOUND);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/", NULL, -1, DK_LWM2M_CF_LINK, NULL),
                     DK_COAP_METHOD_NOT_ALLOWED);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/0", NULL, -1, DK_LWM2M_CF_LINK, NULL),
                     DK_COAP_UNAUTHORIZED);
}

/* ---- Observe
 * --------------------------------------------------------------------------------------- */

static struct w_res obs;

/* Notification times are as received: sent + 5 ms latency. */
static void test_observe_pmin_pmax_st(void **state)
{
    W.temperature = 20;
    assert_int_equal(
        code_of(P_S1, DK_COAP_PUT, "/3303/0/5700", "pmin=2&pmax=10&st=1", -1, -1, NULL),
        DK_COAP_CHANGED);
    dk_time_t t0 = W.now + 5; /* registered when the GET arrives */
    uint32_t id =
        w_request_start(P_S1, DK_COAP_GET, "/3303/0/5700", NULL, -1, -1, NULL, 0, true, &obs);
    w_run(20);
    assert_true(obs.done);
    assert_int_equal(obs.code, DK_COAP_CONTENT);
    assert_true(obs.observing);
    assert_string_equal((char *)obs.body, "20.0");
    assert_int_equal(dk_client_observation_count(&W.c), 1);
    /* Below the step: nothing. */
    w_run_until(t0 + 500);
    W.temperature = 20.5;
    w_run_until(t0 + 1500);
    assert_int_equal(obs.notifications, 0);
    /* A step of 1.6: at the next sample (t0+2 s), which is also pmin. */
    W.temperature = 21.6;
    w_run_until(t0 + 3000);
    assert_int_equal(obs.notifications, 1);
    assert_int_equal(obs.note_t[0], t0 + 2000 + 5);
    assert_memory_equal(obs.note_body[0], "21.6", 4);
    /* Quiet: pmax (10 s after the last notification). */
    w_run_until(t0 + 11900);
    assert_int_equal(obs.notifications, 1);
    w_run_until(t0 + 12100);
    assert_int_equal(obs.notifications, 2);
    assert_int_equal(obs.note_t[1], t0 + 12000 + 5);
    /* A big change right after: held back until pmin (t0+14 s). */
    W.temperature = 30;
    w_run_until(t0 + 13100);
    assert_int_equal(obs.notifications, 2);
    w_run_until(t0 + 14100);
    assert_int_equal(obs.notifications, 3);
    assert_int_equal(obs.note_t[2], t0 + 14000 + 5);
    assert_memory_equal(obs.note_body[2], "30.0", 4);
    /* Cancel with GET Observe=1. */
    assert_int_equal(dk_coap_ep_observe_cancel(&W.peer[P_S1].ep, id, W.now), 0);
    w_run(100);
    assert_int_equal(dk_client_observation_count(&W.c), 0);
    w_run(30000);
    assert_int_equal(obs.notifications, 3);
}

static void test_observe_gt_lt(void **state)
{
    W.temperature = 20;
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3303/0/5700", "gt=25&lt=15", -1, -1, NULL),
                     DK_COAP_CHANGED);
    dk_time_t t0 = W.now + 5;
    w_request_start(P_S1, DK_COAP_GET, "/3303/0/5700", NULL, -1, DK_LWM2M_CF_SENML_JSON, NULL, 0,
                    true, &obs);
    w_run(20);
    assert_int_equal(obs.cf, DK_LWM2M_CF_SENML_JSON);
    /* Changes that cross nothing: no notification. */
    W.temperature = 24;
    w_run_until(t0 + 3500);
    assert_int_equal(obs.notifications, 0);
    /* Crossing gt upwards (sampled each second): notify. */
    W.temperature = 26;
    w_run_until(t0 + 4500);
    assert_int_equal(obs.notifications, 1);
    assert_int_equal(obs.note_t[0], t0 + 4000 + 5);
    assert_non_null(strstr((char *)obs.note_body[0], "\"v\":26"));
    /* Staying above: nothing. */
    W.temperature = 28;
    w_run_until(t0 + 6500);
    assert_int_equal(obs.notifications, 1);
    /* Crossing back down across gt, then lt. */
    W.temperature = 22;
    w_run_until(t0 + 7500);
    assert_int_equal(obs.notifications, 2);
    W.temperature = 10;
    w_run_until(t0 + 8500);
    assert_int_equal(obs.notifications, 3);
    /* The program can push a change at once (no wait for the sample). */
    W.temperature = 16;
    w_run_until(t0 + 8700);
    struct dk_lwm2m_path p = dk_lwm2m_path_obj(3303);
    dk_client_changed(&W.c, &p, W.now);
    w_run(10);
    assert_int_equal(obs.notifications, 4);
    assert_int_equal(obs.note_t[3], t0 + 8700 + 5);
}

/* Written values notify at once (pmin 0); the server's default pmin (/1/0/2)
 * applies when no attribute is set; RST ends the observation. */
static void test_observe_write_and_default_pmin(void **state)
{
    w_request_start(P_S1, DK_COAP_GET, "/3311/0", NULL, -1, -1, NULL, 0, true, &obs);
    w_run(20);
    assert_true(obs.observing);
    assert_int_equal(obs.cf, DK_LWM2M_CF_TLV);
    dk_time_t t0 = W.now;
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0/5850", NULL, DK_LWM2M_CF_TEXT, -1, "1"),
                     DK_COAP_CHANGED);
    w_run(20);
    assert_int_equal(obs.notifications, 1);
    assert_true(obs.note_t[0] - t0 <= 15);
    /* Default pmin 3 s from the Server object. */
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/1/0/2", NULL, DK_LWM2M_CF_TEXT, -1, "3"),
                     DK_COAP_CHANGED);
    dk_time_t t1 = W.now;
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0/5851", NULL, DK_LWM2M_CF_TEXT, -1, "10"),
                     DK_COAP_CHANGED);
    w_run(100);
    assert_int_equal(obs.notifications, 1);
    w_run_until(obs.note_t[0] - 5 + 3000 + 10);
    assert_int_equal(obs.notifications, 2);
    assert_true(W.now - t1 < 3100);
    /* The server forgets the observation: its next notification gets RST. */
    memset(&obs, 0, sizeof obs); /* the peer still calls back into obs */
    uint32_t ids[1];
    (void)ids;
    dk_coap_ep_free(&W.peer[P_S1].ep);
    dk_coap_ep_init(&W.peer[P_S1].ep);
    assert_int_equal(dk_coap_ep_setup(&W.peer[P_S1].ep, &W.pcfg), 0);
    assert_int_equal(dk_client_observation_count(&W.c), 1);
    struct dk_lwm2m_path p = dk_lwm2m_path_res(3311, 0, 5851);
    struct dk_lwm2m_value v = dk_lwm2m_int(20);
    assert_int_equal(dk_client_set_value(&W.c, &p, &v, W.now), 0);
    w_run(5000);
    assert_int_equal(dk_client_observation_count(&W.c), 0);
}

static void test_observe_limits_and_errors(void **state)
{
    /* Observing something absent: 4.04 and no observation. */
    w_request_start(P_S1, DK_COAP_GET, "/3303/0/9", NULL, -1, -1, NULL, 0, true, &obs);
    w_run(20);
    assert_int_equal(obs.code, DK_COAP_NOT_FOUND);
    assert_false(obs.observing);
    assert_int_equal(dk_client_observation_count(&W.c), 0);
    /* Deleting an observed instance ends the observation with 4.04. */
    struct dk_lwm2m_record w3[] = {{dk_lwm2m_path_res(12, 3, 0), dk_lwm2m_str("wlan0"), 0}};
    assert_int_equal(send_recs(P_S1, DK_COAP_POST, "/12", DK_LWM2M_CF_TLV, w3, 1)->code,
                     DK_COAP_CREATED);
    w_request_start(P_S1, DK_COAP_GET, "/12/3", NULL, -1, -1, NULL, 0, true, &obs);
    w_run(20);
    assert_true(obs.observing);
    assert_int_equal(code_of(P_S1, DK_COAP_DELETE, "/12/3", NULL, -1, -1, NULL), DK_COAP_DELETED);
    w_run(50);
    assert_int_equal(obs.notifications, 1);
    assert_int_equal(obs.code, DK_COAP_NOT_FOUND);
    assert_false(obs.observing);
    assert_int_equal(dk_client_observation_count(&W.c), 0);
}

/* ---- Access control with two servers
 * --------------------------------------------------------------- */

static bool both_registered(void)
{
    return dk_client_registered(&W.c, 101, NULL) && dk_client_registered(&W.c, 102, NULL);
}

static void test_access_control(void **state)
{
    assert_int_equal(w_start(), 0);
    w_run(100);
    req(P_BS, DK_COAP_DELETE, "/", NULL, -1, -1, NULL);
    assert_int_equal(w_bs_write_account(DK_LWM2M_CF_TLV, 1, 0, 101, P_S1, 300), DK_COAP_CHANGED);
    assert_int_equal(w_bs_write_account(DK_LWM2M_CF_TLV, 2, 1, 102, P_S2, 300), DK_COAP_CHANGED);
    struct dk_lwm2m_record acl[] = {
        /* /3311/0: owner 101; 102 may read */
        {dk_lwm2m_path_res(2, 0, 0), dk_lwm2m_int(3311), 0},
        {dk_lwm2m_path_res(2, 0, 1), dk_lwm2m_int(0), 0},
        {dk_lwm2m_path_rinst(2, 0, 2, 102), dk_lwm2m_int(DK_LWM2M_ACL_R), 0},
        {dk_lwm2m_path_res(2, 0, 3), dk_lwm2m_int(101), 0},
        /* Create on /12: 102 only */
        {dk_lwm2m_path_res(2, 1, 0), dk_lwm2m_int(12), 0},
        {dk_lwm2m_path_res(2, 1, 1), dk_lwm2m_int(65535), 0},
        {dk_lwm2m_path_rinst(2, 1, 2, 102), dk_lwm2m_int(DK_LWM2M_ACL_C), 0},
        {dk_lwm2m_path_res(2, 1, 3), dk_lwm2m_int(102), 0},
    };
    assert_int_equal(w_bs_write(DK_LWM2M_CF_TLV, "/2", acl, 8), DK_COAP_CHANGED);
    assert_int_equal(code_of(P_BS, DK_COAP_POST, "/bs", NULL, -1, -1, NULL), DK_COAP_CHANGED);
    assert_true(w_run_while_not(both_registered, 5000));
    assert_int_equal(dk_client_server_count(&W.c), 2);

    /* Read: both; Write: the owner only. */
    assert_int_equal(code_of(P_S2, DK_COAP_GET, "/3311/0/5850", NULL, -1, -1, NULL),
                     DK_COAP_CONTENT);
    assert_int_equal(code_of(P_S2, DK_COAP_PUT, "/3311/0/5850", NULL, DK_LWM2M_CF_TEXT, -1, "1"),
                     DK_COAP_UNAUTHORIZED);
    assert_false(W.led_on);
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/3311/0/5850", NULL, DK_LWM2M_CF_TEXT, -1, "1"),
                     DK_COAP_CHANGED);
    assert_true(W.led_on);
    assert_int_equal(code_of(P_S2, DK_COAP_POST, "/3311/0/5850", NULL, DK_LWM2M_CF_TEXT, -1, "1"),
                     DK_COAP_UNAUTHORIZED);
    /* No ACL instance for /3/0: nobody (with two servers). Discover is not governed. */
    assert_int_equal(code_of(P_S2, DK_COAP_GET, "/3/0", NULL, -1, -1, NULL), DK_COAP_UNAUTHORIZED);
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/3/0/4", NULL, -1, -1, NULL),
                     DK_COAP_UNAUTHORIZED);
    assert_int_equal(code_of(P_S2, DK_COAP_GET, "/3/0", NULL, -1, DK_LWM2M_CF_LINK, NULL),
                     DK_COAP_CONTENT);
    /* Object-level read filters the instances. */
    struct w_res *r = req(P_S2, DK_COAP_GET, "/3311", NULL, -1, -1, NULL);
    assert_int_equal(r->code, DK_COAP_CONTENT);
    assert_true(r->len > 0);
    /* Observe needs R. */
    w_request_start(P_S2, DK_COAP_GET, "/3311/0/5850", NULL, -1, -1, NULL, 0, true, &obs);
    w_run(20);
    assert_int_equal(obs.code, DK_COAP_CONTENT);
    assert_true(obs.observing);

    /* Create on /12: 102 may, 101 may not. */
    assert_int_equal(code_of(P_S1, DK_COAP_POST, "/12", NULL, -1, -1, NULL), DK_COAP_UNAUTHORIZED);
    r = req(P_S2, DK_COAP_POST, "/12", NULL, -1, -1, NULL);
    assert_int_equal(r->code, DK_COAP_CREATED);
    assert_string_equal(r->location, "/12/0");
    /* The client made an ACL instance owned by the creator; everyone may read it. */
    r = req(P_S1, DK_COAP_GET, "/2/2", NULL, -1, -1, NULL);
    assert_int_equal(r->code, DK_COAP_CONTENT);
    struct dk_lwm2m_record recs[8];
    size_t n;
    struct dk_lwm2m_path base = dk_lwm2m_path_inst(2, 2);
    assert_int_equal(dk_lwm2m_decode(DK_LWM2M_CF_TLV, r->body, r->len, &base, NULL, recs, 8, &n),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(recs[0].value.v.i, 12);
    assert_int_equal(recs[1].value.v.i, 0);
    assert_int_equal(recs[2].value.v.i, 102);
    /* The creator has every right on it; the other server none. */
    assert_int_equal(code_of(P_S2, DK_COAP_PUT, "/12/0/5", NULL, DK_LWM2M_CF_TEXT, -1, "x"),
                     DK_COAP_CHANGED);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/12/0/5", NULL, -1, -1, NULL),
                     DK_COAP_UNAUTHORIZED);
    /* ACL instances: their owner writes them. */
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/2/2/2/101", NULL, DK_LWM2M_CF_TEXT, -1, "1"),
                     DK_COAP_UNAUTHORIZED);
    assert_int_equal(code_of(P_S2, DK_COAP_PUT, "/2/2/2/101", NULL, DK_LWM2M_CF_TEXT, -1, "1"),
                     DK_COAP_CHANGED);
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/12/0/5", NULL, -1, -1, NULL), DK_COAP_CONTENT);
    assert_int_equal(code_of(P_S1, DK_COAP_DELETE, "/12/0", NULL, -1, -1, NULL),
                     DK_COAP_UNAUTHORIZED);
    assert_int_equal(code_of(P_S2, DK_COAP_DELETE, "/12/0", NULL, -1, -1, NULL), DK_COAP_DELETED);
    /* Its ACL instance went with it. */
    assert_int_equal(code_of(P_S1, DK_COAP_GET, "/2/2", NULL, -1, -1, NULL), DK_COAP_NOT_FOUND);
    assert_false(dk_client_has_instance(&W.c, 2, 2));
}

/* ---- Block-wise
 * ------------------------------------------------------------------------------------- */

static void test_blockwise(void **state)
{
    static char ssid[900], dom[700];
    memset(ssid, 's', sizeof ssid - 1);
    memset(dom, 'd', sizeof dom - 1);
    struct dk_lwm2m_record w[] = {
        {dk_lwm2m_path_res(12, 0, 0), dk_lwm2m_str("wlan0"), 0},
        {dk_lwm2m_path_res(12, 0, 5), dk_lwm2m_str(ssid), 0},
        {dk_lwm2m_path_res(12, 0, 13), dk_lwm2m_str(dom), 0},
    };
    /* 1.6 KB: the server sends it by Block1. */
    struct w_res *r = send_recs(P_S1, DK_COAP_POST, "/12", DK_LWM2M_CF_TLV, w, 3);
    assert_int_equal(r->code, DK_COAP_CREATED);
    /* And reads it back by Block2 (with an ETag). */
    r = req(P_S1, DK_COAP_GET, "/12/0", NULL, -1, -1, NULL);
    assert_int_equal(r->code, DK_COAP_CONTENT);
    assert_true(r->len > 1024);
    struct dk_lwm2m_record recs[4];
    size_t n;
    struct dk_lwm2m_path base = dk_lwm2m_path_inst(12, 0);
    assert_int_equal(dk_lwm2m_decode(DK_LWM2M_CF_TLV, r->body, r->len, &base, NULL, recs, 4, &n),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(recs[1].value.v.bytes.n, sizeof ssid - 1);
    assert_memory_equal(recs[1].value.v.bytes.p, ssid, sizeof ssid - 1);
}

/* ---- Location (driver hook)
 * ----------------------------------------------------------------------- */

static int drv_location(void *user, struct dk_client_location *out)
{
    out->latitude = 60.1699;
    out->longitude = 24.9384;
    out->altitude = 12.5;
    out->radius = 3;
    out->speed = 0;
    out->timestamp = 1700000000;
    return 0;
}

static void with_location(struct dk_client_config *cfg)
{
    cfg->driver.read_location = drv_location;
}

static int setup_location(void **state)
{
    w_config_hook = with_location;
    assert_int_equal(w_init(-1), 0);
    w_config_hook = NULL;
    w_bootstrap_to_s1();
    return 0;
}

static void test_location(void **state)
{
    const struct w_req *reg = w_last_req(P_S1, DK_COAP_POST, "/rd");
    assert_non_null(strstr((char *)reg->body, ",</6/0>,"));
    struct w_res *r = req(P_S1, DK_COAP_GET, "/6/0", NULL, -1, DK_LWM2M_CF_SENML_JSON, NULL);
    assert_int_equal(r->code, DK_COAP_CONTENT);
    assert_string_equal((char *)r->body,
                        "[{\"bn\":\"/6/0/\",\"n\":\"0\",\"v\":60.1699},{\"n\":\"1\",\"v\":24.9384},"
                        "{\"n\":\"2\",\"v\":12.5},{\"n\":\"3\",\"v\":3.0},"
                        "{\"n\":\"5\",\"v\":1700000000},{\"n\":\"6\",\"v\":0.0}]");
    assert_int_equal(code_of(P_S1, DK_COAP_PUT, "/6/0/0", NULL, DK_LWM2M_CF_TEXT, -1, "1.0"),
                     DK_COAP_METHOD_NOT_ALLOWED);
}

/* ---- Unknown peers
 * ---------------------------------------------------------------------------------- */

static void test_unknown_peer(void **state)
{
    struct dk_addr other;
    dk_addr_from_ip(&other, "10.9.9.9", 40000);
    /* CON GET /3/0/0, mid 7, token 1 */
    const uint8_t get[] = {0x41, 0x01, 0x00, 0x07, 0xAA, 0xB1, '3', 0x01, '0', 0x01, '0'};
    assert_int_equal(dk_client_recv(&W.c, &other, get, sizeof get, W.now), DK_ENOTFOUND);
    uint8_t buf[256];
    struct dk_addr to;
    assert_int_equal(dk_client_pop_tx(&W.c, &to, buf, sizeof buf), 0);
}

static void test_serve_any_peer(void **state)
{
    W.cfg.serve_any_peer = true;
    struct dk_addr other;
    dk_addr_from_ip(&other, "10.9.9.9", 40000);
    const uint8_t get[] = {0x41, 0x01, 0x00, 0x07, 0xAA, 0xB1, '3', 0x01, '0', 0x01, '0'};
    assert_int_equal(dk_client_recv(&W.c, &other, get, sizeof get, W.now), 0);
    uint8_t buf[256];
    struct dk_addr to;
    int n = dk_client_pop_tx(&W.c, &to, buf, sizeof buf);
    assert_true(n > 4);
    assert_true(dk_addr_equal(&to, &other));
    assert_int_equal(buf[1], DK_COAP_CONTENT);
    assert_memory_equal(buf + n - 8, "duckling", 8);
    W.cfg.serve_any_peer = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_execute_create_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discover_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observe_pmin_pmax_st, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observe_gt_lt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observe_write_and_default_pmin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observe_limits_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_control, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_blockwise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_location, setup_location, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_any_peer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
