/* dk_endpoint as a DTLS server: ClientHellos from several new peers read in
 * one batch each get their HelloVerifyRequest. The DTLS server keeps a
 * single pending HelloVerifyRequest (no per-peer state before a cookie), so
 * the endpoint must send it before it reads the next datagram; a gateway
 * that lost them made concurrent devices wait a 1 s retransmission each. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <poll.h>
#include <unistd.h>

#include <duckling/clock.h>
#include <duckling/coap.h>
#include <duckling/dtls.h>
#include <duckling/endpoint.h>
#include <duckling/err.h>
#include <duckling/rng.h>
#include <duckling/udp.h>

#define NPEERS 4

static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static int lookup(void *user, const struct dk_addr *peer, const uint8_t *id, size_t id_len,
                  uint8_t *out, size_t cap, size_t *len)
{
    (void)user, (void)peer, (void)id, (void)id_len;
    if (cap < sizeof key)
        return DK_ENOSPC;
    memcpy(out, key, sizeof key);
    *len = sizeof key;
    return 0;
}

static void test_every_new_peer_gets_its_hello_verify_request(void **state)
{
    (void)state;
    struct dk_rng rng;
    dk_rng_init(&rng);
    assert_int_equal(dk_rng_setup(&rng, "hvr", 3), 0);
    dk_time_t now = dk_clock_now();

    struct dk_dtls_params sp = {0};
    sp.role = DK_DTLS_SERVER;
    sp.modes = DK_DTLS_MODE_PSK;
    sp.psk_lookup = lookup;
    sp.rng = &rng;
    struct dk_dtls_config scfg;
    dk_dtls_config_init(&scfg);
    assert_int_equal(dk_dtls_config_setup(&scfg, dk_dtls_backend_mbedtls(), &sp), 0);
    struct dk_coap_config cc;
    dk_coap_config_init(&cc);
    cc.rng = &rng;
    struct dk_coap_ep coap;
    dk_coap_ep_init(&coap);
    assert_int_equal(dk_coap_ep_setup(&coap, &cc), 0);
    struct dk_endpoint e;
    dk_endpoint_init(&e);
    struct dk_endpoint_params ep = {.bind_ip = "127.0.0.1", .coap = &coap, .dtls = &scfg};
    assert_int_equal(dk_endpoint_setup(&e, &ep), 0);

    struct dk_dtls_params cp = {0};
    cp.role = DK_DTLS_CLIENT;
    cp.modes = DK_DTLS_MODE_PSK;
    cp.psk = key;
    cp.psk_len = sizeof key;
    cp.psk_identity = (const uint8_t *)"dev";
    cp.psk_identity_len = 3;
    cp.rng = &rng;
    struct dk_dtls_config ccfg;
    dk_dtls_config_init(&ccfg);
    assert_int_equal(dk_dtls_config_setup(&ccfg, dk_dtls_backend_mbedtls(), &cp), 0);

    /* Every peer's ClientHello is queued at the server before it reads any. */
    struct dk_udp peer[NPEERS];
    struct dk_dtls_session *s[NPEERS];
    for (int i = 0; i < NPEERS; i++) {
        dk_udp_init(&peer[i]);
        assert_int_equal(dk_udp_open(&peer[i], "127.0.0.1", 0), 0);
        assert_int_equal(dk_dtls_session_new(&s[i], &ccfg, dk_endpoint_local(&e), now), 0);
        uint8_t hello[1500];
        int n = dk_dtls_session_pop_tx(s[i], hello, sizeof hello);
        assert_true(n > 0);
        assert_int_equal(dk_udp_send(&peer[i], dk_endpoint_local(&e), hello, (size_t)n), 0);
    }
    usleep(50 * 1000);
    dk_endpoint_on_readable(&e, now);

    for (int i = 0; i < NPEERS; i++) {
        struct pollfd p = {peer[i].fd, POLLIN, 0};
        assert_int_equal(poll(&p, 1, 1000), 1);
        uint8_t buf[1500];
        struct dk_addr from;
        int n = dk_udp_recv(&peer[i], &from, buf, sizeof buf);
        assert_true(n > 13 + 12);
        assert_int_equal(buf[0], 22); /* handshake record */
        assert_int_equal(buf[13], 3); /* HelloVerifyRequest */
        dk_dtls_session_free(s[i]);
        dk_udp_close(&peer[i]);
    }
    dk_endpoint_free(&e);
    dk_coap_ep_free(&coap);
    dk_dtls_config_free(&ccfg);
    dk_dtls_config_free(&scfg);
    dk_rng_free(&rng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_new_peer_gets_its_hello_verify_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
