/* GnuTLS DTLS backend: pairings over the fake network (PSK, certificates, raw
 * public keys; loss; failures), peer info against independently computed
 * hashes, timers, allocation failures, and the figures for the issue note.
 *
 * Pairings are data: each test runs for every (client backend, server
 * backend) entry in `pairings` that supports its mode, so mbedTLS pairings
 * join by adding entries (see the DK_HAVE_MBEDTLS block). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dtls/gnutls/gnutls_int.h"
#include "dtls_pair.h"
#include "testcreds.h"

#include <duckling/err.h>
#include <duckling/mem.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixtures ------------------------------------------------------------ */

static struct dk_rng rng;
static struct dk_log quiet_log;
static struct tc_id ca, ca2, srv_id, cli_id, cli_expired, cli_self, srv_untrusted;
static uint8_t srv_cert_sha[32], srv_spki_sha[32], cli_cert_sha[32], cli_spki_sha[32];
static uint8_t self_cert_sha[32], self_spki_sha[32];

static const uint8_t psk_id[] = "dev-01";
static const uint8_t psk_key[16] = {0x5b, 0xd1, 0xf1, 0x20, 0x73, 0x5d, 0x1b, 0xa4,
                                    0xe2, 0xd2, 0x14, 0x9a, 0xeb, 0x89, 0x18, 0x50};

struct pairing {
    const char *name;
    const struct dk_dtls_backend *(*client)(void);
    const struct dk_dtls_backend *(*server)(void);
};

static const struct pairing gg = {"gnutls-gnutls", dk_dtls_backend_gnutls, dk_dtls_backend_gnutls};
#ifdef DK_HAVE_MBEDTLS
static const struct pairing mg = {"mbedtls-gnutls", dk_dtls_backend_mbedtls,
                                  dk_dtls_backend_gnutls};
static const struct pairing gm = {"gnutls-mbedtls", dk_dtls_backend_gnutls,
                                  dk_dtls_backend_mbedtls};
#endif

static int group_setup(void **state)
{
    (void)state;
    dk_rng_init(&rng);
    if (dk_rng_setup_deterministic(&rng, "dtls-gnutls-test", 16))
        return -1;
    memset(&quiet_log, 0, sizeof quiet_log);
    if (getenv("DK_TEST_VERBOSE"))
        dk_log_init_stderr(&quiet_log, DK_LOG_DEBUG);
    if (tc_make_ca(&ca, "Test CA") || tc_make_ca(&ca2, "Other CA") ||
        tc_make_leaf(&srv_id, "gateway", &ca, -3600, 86400, 0) ||
        tc_make_leaf(&cli_id, "dev-01", &ca, -3600, 86400, 1) ||
        tc_make_leaf(&cli_expired, "dev-old", &ca, -2 * 86400, -86400, 0) ||
        tc_make_leaf(&cli_self, "dev-self", NULL, -3600, 86400, 0) ||
        tc_make_leaf(&srv_untrusted, "gateway", &ca2, -3600, 86400, 0))
        return -1;
    if (tc_hashes(&srv_id, srv_cert_sha, srv_spki_sha) ||
        tc_hashes(&cli_id, cli_cert_sha, cli_spki_sha) ||
        tc_hashes(&cli_self, self_cert_sha, self_spki_sha))
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    struct tc_id *all[] = {&ca, &ca2, &srv_id, &cli_id, &cli_expired, &cli_self, &srv_untrusted};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        tc_free(all[i]);
    dk_rng_free(&rng);
    return 0;
}

/* ---- configuration helpers ---------------------------------------------- */

struct lookup_ctx {
    int calls;
    bool known; /* whether dev-01 is known */
    uint8_t key[16];
};

static int psk_lookup(void *user, const struct dk_addr *peer, const uint8_t *identity,
                      size_t identity_len, uint8_t *key, size_t key_cap, size_t *key_len)
{
    (void)peer;
    struct lookup_ctx *l = user;
    l->calls++;
    if (!l->known || identity_len != sizeof psk_id - 1 || memcmp(identity, psk_id, identity_len))
        return DK_ENOTFOUND;
    if (key_cap < sizeof l->key)
        return DK_ENOSPC;
    memcpy(key, l->key, sizeof l->key);
    *key_len = sizeof l->key;
    return 0;
}

struct verify_ctx {
    int calls;
    int answer;
    struct dk_dtls_peer_info seen;
};

static int verify_cb(void *user, const struct dk_addr *peer, const struct dk_dtls_peer_info *info)
{
    (void)peer;
    struct verify_ctx *v = user;
    v->calls++;
    v->seen = *info;
    return v->answer;
}

static void base_params(struct dk_dtls_params *p, enum dk_dtls_role role, unsigned modes)
{
    memset(p, 0, sizeof *p);
    p->role = role;
    p->modes = modes;
    p->rng = &rng;
    p->log = &quiet_log;
    p->handshake_timeout_ms = 30000;
}

static void psk_client(struct dk_dtls_params *p, const uint8_t *key)
{
    base_params(p, DK_DTLS_CLIENT, DK_DTLS_MODE_PSK);
    p->psk_identity = psk_id;
    p->psk_identity_len = sizeof psk_id - 1;
    p->psk = key;
    p->psk_len = 16;
}

static void psk_server(struct dk_dtls_params *p, struct lookup_ctx *l)
{
    base_params(p, DK_DTLS_SERVER, DK_DTLS_MODE_PSK);
    p->psk_lookup = psk_lookup;
    p->psk_lookup_user = l;
}

static void with_id(struct dk_dtls_params *p, const struct tc_id *id)
{
    p->cert_der = id->cert;
    p->cert_der_len = id->cert_len;
    p->key_der = id->key;
    p->key_der_len = id->key_len;
}

static void with_ca(struct dk_dtls_params *p, const struct tc_id *anchor)
{
    p->ca_der = anchor->cert;
    p->ca_der_len = anchor->cert_len;
}

static void setup_cfg(struct dk_dtls_config *cfg, const struct dk_dtls_backend *b,
                      const struct dk_dtls_params *p)
{
    dk_dtls_config_init(cfg);
    int rc = dk_dtls_config_setup(cfg, b, p);
    if (rc)
        fprintf(stderr, "config_setup(%s): %s\n", dk_dtls_backend_name(b), dk_strerror(rc));
    assert_int_equal(rc, 0);
}

/* Runs a handshake between two configs; returns the pair for inspection. */
static void handshake(struct dk_pair *pr, struct dk_dtls_config *cc, struct dk_dtls_config *sc,
                      uint64_t seed)
{
    dk_pair_init(pr, cc, sc, seed);
    assert_int_equal(dk_pair_start(pr), 0);
    dk_pair_run(pr, pr->now + 120000);
}

static void exchange_and_close(struct dk_pair *pr)
{
    uint8_t buf[1500];
    static const char up[] = "POST /bs?ep=dev-01";
    static const char down[] = "2.04 Changed";
    assert_int_equal(dk_pair_write(pr, true, up, sizeof up), 0);
    assert_int_equal(dk_dtls_session_read(pr->s, buf, sizeof buf), (int)sizeof up);
    assert_memory_equal(buf, up, sizeof up);
    assert_int_equal(dk_dtls_session_read(pr->s, buf, sizeof buf), DK_EAGAIN);
    assert_int_equal(dk_pair_write(pr, false, down, sizeof down), 0);
    assert_int_equal(dk_dtls_session_read(pr->c, buf, sizeof buf), (int)sizeof down);
    assert_memory_equal(buf, down, sizeof down);
    /* The client closes; the server sees close_notify and answers with its own. */
    assert_int_equal(dk_dtls_session_close(pr->c, pr->now), 0);
    assert_int_equal(dk_dtls_session_state(pr->c), DK_DTLS_CLOSED);
    dk_pair_flush(pr);
    dk_pair_run(pr, pr->now + 1000);
    assert_int_equal(dk_dtls_session_state(pr->s), DK_DTLS_CLOSED);
    assert_int_equal(pr->s_err, DK_ECLOSED);
    assert_int_equal(dk_dtls_session_write(pr->s, (const uint8_t *)"x", 1, pr->now), DK_ESTATE);
}

/* ---- PSK ----------------------------------------------------------------- */

static void test_psk_handshake_data_close(void **state)
{
    const struct pairing *pg = *state;
    struct lookup_ctx l = {.known = true};
    memcpy(l.key, psk_key, 16);
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    psk_client(&cp, psk_key);
    psk_server(&sp, &l);
    setup_cfg(&cc, pg->client(), &cp);
    setup_cfg(&sc, pg->server(), &sp);
    struct dk_pair pr;
    handshake(&pr, &cc, &sc, 1);
    assert_true(dk_pair_connected(&pr));
    assert_int_equal(pr.c_err, 0);
    assert_int_equal(pr.s_err, 0);
    assert_int_equal(l.calls, 1);
    const struct dk_dtls_peer_info *si = dk_dtls_session_peer_info(pr.s);
    const struct dk_dtls_peer_info *ci = dk_dtls_session_peer_info(pr.c);
    assert_non_null(si);
    assert_non_null(ci);
    assert_int_equal(si->mode, DK_DTLS_MODE_PSK);
    assert_int_equal(ci->mode, DK_DTLS_MODE_PSK);
    assert_int_equal(si->cipher_suite, 0xC0A8); /* TLS_PSK_WITH_AES_128_CCM_8 */
    assert_int_equal(ci->cipher_suite, 0xC0A8);
    assert_int_equal(si->psk_identity_len, sizeof psk_id - 1);
    assert_memory_equal(si->psk_identity, psk_id, sizeof psk_id - 1);
    assert_false(si->has_cert);
    assert_true(dk_addr_equal(dk_dtls_session_peer(pr.s), &pr.caddr));
    assert_int_equal(pr.net.dropped, 0);
    exchange_and_close(&pr);
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

static void test_psk_wrong_key_fails_cleanly(void **state)
{
    const struct pairing *pg = *state;
    struct lookup_ctx l = {.known = true};
    memcpy(l.key, psk_key, 16);
    uint8_t wrong[16];
    memcpy(wrong, psk_key, 16);
    wrong[0] ^= 1;
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    psk_client(&cp, wrong);
    psk_server(&sp, &l);
    setup_cfg(&cc, pg->client(), &cp);
    setup_cfg(&sc, pg->server(), &sp);
    struct dk_pair pr;
    handshake(&pr, &cc, &sc, 2);
    assert_int_equal(dk_dtls_session_state(pr.c), DK_DTLS_FAILED);
    assert_int_equal(dk_dtls_session_state(pr.s), DK_DTLS_FAILED);
    assert_int_equal(pr.s_err, DK_EAUTH);
    assert_int_equal(pr.c_err, DK_EAUTH);
    assert_null(dk_dtls_session_peer_info(pr.s));
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

static void test_psk_unknown_identity_fails_cleanly(void **state)
{
    const struct pairing *pg = *state;
    struct lookup_ctx l = {.known = false};
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    psk_client(&cp, psk_key);
    psk_server(&sp, &l);
    setup_cfg(&cc, pg->client(), &cp);
    setup_cfg(&sc, pg->server(), &sp);
    struct dk_pair pr;
    handshake(&pr, &cc, &sc, 3);
    assert_int_equal(l.calls, 1);
    assert_int_equal(dk_dtls_session_state(pr.s), DK_DTLS_FAILED);
    assert_int_equal(dk_dtls_session_state(pr.c), DK_DTLS_FAILED);
    assert_int_equal(pr.s_err, DK_EAUTH);
    assert_int_equal(pr.c_err, DK_EAUTH);
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

/* The server closes first; and a client giving up mid-handshake tells the
 * server, which ends its session too. */
static void test_close_notify_from_server_and_mid_handshake(void **state)
{
    (void)state;
    struct lookup_ctx l = {.known = true};
    memcpy(l.key, psk_key, 16);
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    psk_client(&cp, psk_key);
    psk_server(&sp, &l);
    setup_cfg(&cc, dk_dtls_backend_gnutls(), &cp);
    setup_cfg(&sc, dk_dtls_backend_gnutls(), &sp);
    struct dk_pair pr;
    handshake(&pr, &cc, &sc, 16);
    assert_true(dk_pair_connected(&pr));
    assert_int_equal(dk_dtls_session_close(pr.s, pr.now), 0);
    assert_int_equal(dk_dtls_session_state(pr.s), DK_DTLS_CLOSED);
    assert_int_equal(dk_dtls_session_close(pr.s, pr.now), 0); /* twice is fine */
    dk_pair_flush(&pr);
    dk_pair_run(&pr, pr.now + 1000);
    assert_int_equal(dk_dtls_session_state(pr.c), DK_DTLS_CLOSED);
    assert_int_equal(pr.c_err, DK_ECLOSED);
    assert_non_null(dk_dtls_session_peer_info(pr.c)); /* still there after close */
    dk_pair_free(&pr);
    /* Mid-handshake: the server has sent its flight, the client closes. */
    dk_pair_init(&pr, &cc, &sc, 17);
    pr.net.latency_ms = 10;
    assert_int_equal(dk_pair_start(&pr), 0);
    dk_pair_run(&pr, pr.now + 15); /* ClientHello delivered, ServerHello on its way */
    assert_non_null(pr.s);
    assert_int_equal(dk_dtls_session_state(pr.s), DK_DTLS_HANDSHAKING);
    assert_int_equal(dk_dtls_session_close(pr.c, pr.now), 0);
    dk_pair_flush(&pr);
    dk_pair_run(&pr, pr.now + 1000);
    assert_int_equal(dk_dtls_session_state(pr.s), DK_DTLS_FAILED);
    assert_int_equal(pr.s_err, DK_ECLOSED);
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

/* ---- certificates ---------------------------------------------------------- */

static void cert_client(struct dk_dtls_params *p, const struct tc_id *id,
                        const struct tc_id *anchor)
{
    base_params(p, DK_DTLS_CLIENT, DK_DTLS_MODE_CERT);
    if (id)
        with_id(p, id);
    if (anchor)
        with_ca(p, anchor);
}

static void cert_server(struct dk_dtls_params *p, const struct tc_id *id,
                        const struct tc_id *anchor)
{
    base_params(p, DK_DTLS_SERVER, DK_DTLS_MODE_CERT);
    with_id(p, id);
    if (anchor)
        with_ca(p, anchor);
    p->require_client_cert = true;
}

static void test_cert_handshake_and_peer_info(void **state)
{
    const struct pairing *pg = *state;
    struct verify_ctx sv = {0}, cv = {0};
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    cert_client(&cp, &cli_id, &ca);
    cp.verify = verify_cb;
    cp.verify_user = &cv;
    cert_server(&sp, &srv_id, &ca);
    sp.verify = verify_cb;
    sp.verify_user = &sv;
    setup_cfg(&cc, pg->client(), &cp);
    setup_cfg(&sc, pg->server(), &sp);
    struct dk_pair pr;
    handshake(&pr, &cc, &sc, 4);
    assert_true(dk_pair_connected(&pr));
    const struct dk_dtls_peer_info *si = dk_dtls_session_peer_info(pr.s);
    const struct dk_dtls_peer_info *ci = dk_dtls_session_peer_info(pr.c);
    assert_int_equal(si->mode, DK_DTLS_MODE_CERT);
    assert_int_equal(si->cipher_suite, 0xC0AE); /* TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 */
    assert_int_equal(ci->cipher_suite, 0xC0AE);
    assert_true(si->has_cert);
    assert_true(si->has_spki);
    assert_memory_equal(si->cert_sha256, cli_cert_sha, 32);
    assert_memory_equal(si->spki_sha256, cli_spki_sha, 32);
    assert_string_equal(si->cert_cn, "dev-01");
    assert_true(ci->has_cert);
    assert_memory_equal(ci->cert_sha256, srv_cert_sha, 32);
    assert_memory_equal(ci->spki_sha256, srv_spki_sha, 32);
    assert_string_equal(ci->cert_cn, "gateway");
    /* verify() ran once per side and saw the same hashes. */
    assert_int_equal(sv.calls, 1);
    assert_int_equal(cv.calls, 1);
    assert_memory_equal(sv.seen.cert_sha256, cli_cert_sha, 32);
    assert_memory_equal(cv.seen.spki_sha256, srv_spki_sha, 32);
    exchange_and_close(&pr);
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

/* Runs a certificate handshake expected to fail; checks both sides' errors. */
static void expect_cert_failure(const struct pairing *pg, struct dk_dtls_params *cp,
                                struct dk_dtls_params *sp, int c_err, int s_err)
{
    struct dk_dtls_config cc, sc;
    setup_cfg(&cc, pg->client(), cp);
    setup_cfg(&sc, pg->server(), sp);
    struct dk_pair pr;
    handshake(&pr, &cc, &sc, 5);
    assert_int_equal(dk_dtls_session_state(pr.c), DK_DTLS_FAILED);
    assert_int_equal(pr.c_err, c_err);
    if (pr.s) {
        assert_int_equal(dk_dtls_session_state(pr.s), DK_DTLS_FAILED);
        assert_int_equal(pr.s_err, s_err);
        assert_null(dk_dtls_session_peer_info(pr.s));
    }
    assert_null(dk_dtls_session_peer_info(pr.c));
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

static void test_cert_untrusted_server_fails(void **state)
{
    struct dk_dtls_params cp, sp;
    cert_client(&cp, &cli_id, &ca);
    cert_server(&sp, &srv_untrusted, &ca);
    expect_cert_failure(*state, &cp, &sp, DK_EAUTH, DK_EAUTH);
}

static void test_cert_expired_client_fails(void **state)
{
    struct dk_dtls_params cp, sp;
    cert_client(&cp, &cli_expired, &ca);
    cert_server(&sp, &srv_id, &ca);
    expect_cert_failure(*state, &cp, &sp, DK_EAUTH, DK_EAUTH);
}

static void test_cert_pin_mismatch_fails(void **state)
{
    struct dk_dtls_params cp, sp;
    uint8_t pin[32];
    memcpy(pin, srv_cert_sha, 32);
    pin[31] ^= 0x80;
    cert_client(&cp, &cli_id, NULL);
    cp.pinned_sha256 = pin;
    cert_server(&sp, &srv_id, &ca);
    expect_cert_failure(*state, &cp, &sp, DK_EAUTH, DK_EAUTH);
}

static void test_cert_pin_match_and_pin_any(void **state)
{
    const struct pairing *pg = *state;
    struct verify_ctx sv = {0};
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    /* Client pins the server certificate (no CA); server takes any
     * self-signed client certificate and lets verify() decide. */
    cert_client(&cp, &cli_self, NULL);
    cp.pinned_sha256 = srv_cert_sha;
    cert_server(&sp, &srv_id, NULL);
    sp.pin_any = true;
    sp.verify = verify_cb;
    sp.verify_user = &sv;
    setup_cfg(&cc, pg->client(), &cp);
    setup_cfg(&sc, pg->server(), &sp);
    struct dk_pair pr;
    handshake(&pr, &cc, &sc, 6);
    assert_true(dk_pair_connected(&pr));
    assert_int_equal(sv.calls, 1);
    assert_memory_equal(sv.seen.cert_sha256, self_cert_sha, 32);
    assert_memory_equal(sv.seen.spki_sha256, self_spki_sha, 32);
    assert_string_equal(sv.seen.cert_cn, "dev-self");
    dk_pair_free(&pr);
    /* verify() saying no fails the handshake on both sides. */
    sv.answer = DK_EAUTH;
    handshake(&pr, &cc, &sc, 7);
    assert_int_equal(sv.calls, 2);
    assert_int_equal(dk_dtls_session_state(pr.s), DK_DTLS_FAILED);
    assert_int_equal(dk_dtls_session_state(pr.c), DK_DTLS_FAILED);
    assert_int_equal(pr.s_err, DK_EAUTH);
    assert_int_equal(pr.c_err, DK_EAUTH);
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

static void test_cert_missing_client_cert_fails(void **state)
{
    struct dk_dtls_params cp, sp;
    cert_client(&cp, NULL, &ca);
    cert_server(&sp, &srv_id, &ca);
    expect_cert_failure(*state, &cp, &sp, DK_EAUTH, DK_EAUTH);
}

/* ---- raw public keys (GnuTLS only) ---------------------------------------- */

static void rpk_params(struct dk_dtls_params *cp, struct dk_dtls_params *sp, struct verify_ctx *sv)
{
    base_params(cp, DK_DTLS_CLIENT, DK_DTLS_MODE_RPK);
    with_id(cp, &cli_self);
    cp->pinned_sha256 = srv_spki_sha;
    base_params(sp, DK_DTLS_SERVER, DK_DTLS_MODE_RPK);
    with_id(sp, &srv_id);
    sp->pin_any = true;
    sp->require_client_cert = true;
    sp->verify = verify_cb;
    sp->verify_user = sv;
}

static void test_rpk_handshake_and_peer_info(void **state)
{
    (void)state;
    struct verify_ctx sv = {0};
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    rpk_params(&cp, &sp, &sv);
    setup_cfg(&cc, dk_dtls_backend_gnutls(), &cp);
    setup_cfg(&sc, dk_dtls_backend_gnutls(), &sp);
    struct dk_pair pr;
    handshake(&pr, &cc, &sc, 8);
    assert_true(dk_pair_connected(&pr));
    const struct dk_dtls_peer_info *si = dk_dtls_session_peer_info(pr.s);
    const struct dk_dtls_peer_info *ci = dk_dtls_session_peer_info(pr.c);
    assert_int_equal(si->mode, DK_DTLS_MODE_RPK);
    assert_int_equal(ci->mode, DK_DTLS_MODE_RPK);
    assert_int_equal(si->cipher_suite, 0xC0AE);
    assert_false(si->has_cert);
    assert_true(si->has_spki);
    assert_memory_equal(si->spki_sha256, self_spki_sha, 32);
    assert_memory_equal(ci->spki_sha256, srv_spki_sha, 32);
    assert_int_equal(sv.calls, 1);
    assert_int_equal(sv.seen.mode, DK_DTLS_MODE_RPK);
    exchange_and_close(&pr);
    dk_pair_free(&pr);
    /* A wrong pin on the client fails. */
    dk_dtls_config_free(&cc);
    uint8_t pin[32];
    memcpy(pin, srv_spki_sha, 32);
    pin[0] ^= 1;
    cp.pinned_sha256 = pin;
    setup_cfg(&cc, dk_dtls_backend_gnutls(), &cp);
    handshake(&pr, &cc, &sc, 9);
    assert_int_equal(pr.c_err, DK_EAUTH);
    assert_int_equal(pr.s_err, DK_EAUTH);
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

/* ---- loss and retransmission ------------------------------------------------ */

struct impair {
    unsigned loss, dup, reorder; /* percent */
    uint16_t mtu;                /* 0: default */
};

static void impaired_pair(const struct pairing *pg, unsigned mode, struct impair im, uint64_t seed,
                          const uint64_t *drops, size_t ndrops, bool cookie)
{
    struct lookup_ctx l = {.known = true};
    memcpy(l.key, psk_key, 16);
    struct verify_ctx sv = {0};
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    if (mode == DK_DTLS_MODE_PSK) {
        psk_client(&cp, psk_key);
        psk_server(&sp, &l);
    } else if (mode == DK_DTLS_MODE_CERT) {
        cert_client(&cp, &cli_id, &ca);
        cert_server(&sp, &srv_id, &ca);
    } else {
        rpk_params(&cp, &sp, &sv);
    }
    /* Long enough for many rounds. GnuTLS sessions cap their doubling timer
     * at 8 s so that the rounds keep coming; mbedTLS takes its maximum timer
     * as the point to give up, so its side keeps the default (60 s). */
    cp.handshake_timeout_ms = sp.handshake_timeout_ms = 200000;
    if (pg->client() == dk_dtls_backend_gnutls())
        cp.retrans_max_ms = 8000;
    if (pg->server() == dk_dtls_backend_gnutls())
        sp.retrans_max_ms = 8000;
    cp.mtu = sp.mtu = im.mtu;
    setup_cfg(&cc, pg->client(), &cp);
    setup_cfg(&sc, pg->server(), &sp);
    struct dk_pair pr;
    dk_pair_init(&pr, &cc, &sc, seed);
    pr.cookie = cookie;
    pr.net.loss_pct = im.loss;
    pr.net.dup_pct = im.dup;
    pr.net.reorder_pct = im.reorder;
    pr.net.reorder_ms = 60;
    pr.net.latency_ms = 20;
    for (size_t i = 0; i < ndrops; i++)
        pr.net.drop_list[pr.net.drop_count++] = drops[i];
    assert_int_equal(dk_pair_start(&pr), 0);
    dk_pair_run(&pr, pr.now + 250000);
    if (!dk_pair_connected(&pr))
        fprintf(stderr, "%s mode %u seed %llu: c %d/%d s %d/%d sent %llu dropped %llu\n", pg->name,
                mode, (unsigned long long)seed, dk_dtls_session_state(pr.c), pr.c_err,
                pr.s ? (int)dk_dtls_session_state(pr.s) : -1, pr.s_err,
                (unsigned long long)pr.net.sent, (unsigned long long)pr.net.dropped);
    assert_true(dk_pair_connected(&pr));
    if (ndrops && drops[0] <= pr.net.sent)
        assert_true(pr.net.dropped > 0);
    /* Data still flows after a lossy handshake (no loss now). */
    pr.net.loss_pct = pr.net.dup_pct = pr.net.reorder_pct = 0;
    pr.net.drop_count = 0;
    uint8_t buf[64];
    assert_int_equal(dk_pair_write(&pr, true, "ping", 4), 0);
    assert_int_equal(dk_dtls_session_read(pr.s, buf, sizeof buf), 4);
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

static void lossy_pair(const struct pairing *pg, unsigned mode, unsigned loss, uint64_t seed,
                       const uint64_t *drops, size_t ndrops, bool cookie)
{
    struct impair im = {loss, 0, 0, 0};
    impaired_pair(pg, mode, im, seed, drops, ndrops, cookie);
}

static void test_loss_every_single_datagram(void **state)
{
    /* Drop each datagram of the handshake in turn: every flight, including
     * the last one, must be recovered by retransmission. (GnuTLS flights
     * take one datagram each; mbedTLS's too, at most 12 covers both.) */
    for (uint64_t i = 1; i <= 12; i++) {
        lossy_pair(*state, DK_DTLS_MODE_PSK, 0, i, &i, 1, false);
        lossy_pair(*state, DK_DTLS_MODE_CERT, 0, i, &i, 1, false);
    }
}

/* More seeds for a local stress run: DK_LOSS_SEEDS=500. */
static uint64_t loss_seeds(uint64_t dflt)
{
    const char *e = getenv("DK_LOSS_SEEDS");
    return e ? strtoull(e, NULL, 10) : dflt;
}

/* Loss that a pairing survives in (nearly) every seed: an mbedTLS end gives
 * up once its timer passes retrans_max_ms (after 6 retransmissions with the
 * 60 s default), so 30% loss each way fails a few percent of seeds there. */
static unsigned loss_for(const struct pairing *pg, unsigned gnutls_loss)
{
    bool both_gnutls =
        pg->client() == dk_dtls_backend_gnutls() && pg->server() == dk_dtls_backend_gnutls();
    return both_gnutls ? gnutls_loss : gnutls_loss * 2 / 3;
}

static void test_loss_random(void **state)
{
    unsigned loss = loss_for(*state, 30);
    for (uint64_t seed = 1; seed <= loss_seeds(6); seed++) {
        lossy_pair(*state, DK_DTLS_MODE_PSK, loss, seed, NULL, 0, false);
        lossy_pair(*state, DK_DTLS_MODE_CERT, loss, seed + 100, NULL, 0, false);
    }
}

static void test_loss_duplication_reordering(void **state)
{
    struct impair im = {loss_for(*state, 20), 10, 25, 0};
    for (uint64_t seed = 1; seed <= loss_seeds(4); seed++) {
        impaired_pair(*state, DK_DTLS_MODE_PSK, im, seed + 200, NULL, 0, false);
        impaired_pair(*state, DK_DTLS_MODE_CERT, im, seed + 300, NULL, 0, false);
        impaired_pair(&gg, DK_DTLS_MODE_RPK, im, seed + 400, NULL, 0, true);
    }
}

/* Small MTU: certificates travel in several fragments, which loss and
 * reordering deliver out of order. */
static void test_fragmented_handshake_messages(void **state)
{
    struct impair im = {loss_for(*state, 20), 5, 30, 200};
    for (uint64_t seed = 1; seed <= loss_seeds(6); seed++)
        impaired_pair(*state, DK_DTLS_MODE_CERT, im, seed + 500, NULL, 0, false);
}

static void test_loss_rpk(void **state)
{
    (void)state;
    for (uint64_t i = 1; i <= 12; i++)
        lossy_pair(&gg, DK_DTLS_MODE_RPK, 0, i, &i, 1, false);
    for (uint64_t seed = 1; seed <= loss_seeds(4); seed++)
        lossy_pair(&gg, DK_DTLS_MODE_RPK, 30, seed, NULL, 0, false);
}

static void test_cookie_prestate(void **state)
{
    (void)state;
    /* Server sessions created after a stateless cookie exchange continue from
     * the second ClientHello (gnutls_dtls_prestate_set). */
    uint64_t none = 0;
    lossy_pair(&gg, DK_DTLS_MODE_PSK, 0, 1, &none, 0, true);
    for (uint64_t i = 1; i <= 8; i++)
        lossy_pair(&gg, DK_DTLS_MODE_CERT, 0, i, &i, 1, true);
}

/* A retransmitted peer flight of several records is answered once, not once
 * per record (GnuTLS alone would, with our 0 ms window). Flights travel in
 * one datagram each here: records written in one go share datagrams. */
static void test_retransmitted_flight_answered_once(void **state)
{
    (void)state;
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    cert_client(&cp, &cli_id, &ca);
    cert_server(&sp, &srv_id, &ca);
    setup_cfg(&cc, dk_dtls_backend_gnutls(), &cp);
    setup_cfg(&sc, dk_dtls_backend_gnutls(), &sp);
    struct dk_pair pr;
    /* Datagrams: 1 ClientHello; 2 ServerHello, Certificate, ServerKeyExchange,
     * CertificateRequest, ServerHelloDone; 3 Certificate, ClientKeyExchange,
     * CertificateVerify, ChangeCipherSpec, Finished (lost). The server's timer
     * resends datagram 2; the client answers its first record with its flight
     * and ignores the other four records. */
    dk_pair_init(&pr, &cc, &sc, 13);
    pr.net.latency_ms = 20;
    pr.net.drop_list[pr.net.drop_count++] = 3;
    assert_int_equal(dk_pair_start(&pr), 0);
    dk_pair_run(&pr, pr.now + 60000);
    assert_true(dk_pair_connected(&pr));
    assert_int_equal(pr.c_sent, 3);
    assert_int_equal(pr.s_sent, 3);
    dk_pair_free(&pr);
    /* The server's last flight (ChangeCipherSpec, Finished: datagram 4) lost:
     * the client's timer resends its flight and the connected server answers
     * it once with its last flight. */
    dk_pair_init(&pr, &cc, &sc, 14);
    pr.net.latency_ms = 20;
    pr.net.drop_list[pr.net.drop_count++] = 4;
    assert_int_equal(dk_pair_start(&pr), 0);
    dk_pair_run(&pr, pr.now + 60000);
    assert_true(dk_pair_connected(&pr));
    assert_int_equal(pr.c_sent, 3);
    assert_int_equal(pr.s_sent, 3);
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

/* A late copy of the client's ClientHello reaching the server after the
 * handshake changes nothing there (GnuTLS drops epoch-0 records once
 * connected), even when the server's last flight was lost and the client
 * still needs it retransmitted. (An mbedTLS server takes such a datagram for
 * a client reconnect and closes the session.) */
static void test_stale_client_hello_after_handshake(void **state)
{
    (void)state;
    struct lookup_ctx l = {.known = true};
    memcpy(l.key, psk_key, 16);
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    psk_client(&cp, psk_key);
    psk_server(&sp, &l);
    setup_cfg(&cc, dk_dtls_backend_gnutls(), &cp);
    setup_cfg(&sc, dk_dtls_backend_gnutls(), &sp);
    struct dk_pair pr;
    dk_pair_init(&pr, &cc, &sc, 15);
    pr.net.drop_list[pr.net.drop_count++] = 4; /* the server's CCS + Finished */
    assert_int_equal(dk_pair_start(&pr), 0);
    assert_int_equal(pr.net.qlen, 1);
    struct dk_fakenet_dgram hello = pr.net.q[0];
    hello.data[10] = 7;             /* as if retransmitted: a fresh record number, no replay */
    dk_pair_run(&pr, pr.now + 100); /* before the client's timer */
    assert_int_equal(dk_dtls_session_state(pr.s), DK_DTLS_CONNECTED);
    assert_int_equal(dk_dtls_session_state(pr.c), DK_DTLS_HANDSHAKING);
    uint64_t sent = pr.s_sent;
    assert_int_equal(dk_dtls_session_recv(pr.s, hello.data, hello.len, pr.now), 0);
    dk_pair_flush(&pr);
    assert_int_equal(pr.s_sent, sent);
    assert_int_equal(dk_dtls_session_state(pr.s), DK_DTLS_CONNECTED);
    dk_pair_run(&pr, pr.now + 10000);
    assert_true(dk_pair_connected(&pr));
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

/* One server configuration offering PSK, X.509 and RPK serves each kind of
 * client with the mode it asked for. */
static void test_server_with_every_mode(void **state)
{
    (void)state;
    struct lookup_ctx l = {.known = true};
    memcpy(l.key, psk_key, 16);
    struct verify_ctx sv = {0};
    struct dk_dtls_params sp, cp[3];
    struct dk_dtls_config sc, cc;
    base_params(&sp, DK_DTLS_SERVER, DK_DTLS_MODE_PSK | DK_DTLS_MODE_CERT | DK_DTLS_MODE_RPK);
    sp.psk_lookup = psk_lookup;
    sp.psk_lookup_user = &l;
    with_id(&sp, &srv_id);
    with_ca(&sp, &ca);
    sp.require_client_cert = true;
    sp.pin_any = true; /* RPK clients can only be pinned */
    sp.verify = verify_cb;
    sp.verify_user = &sv;
    setup_cfg(&sc, dk_dtls_backend_gnutls(), &sp);
    psk_client(&cp[0], psk_key);
    cert_client(&cp[1], &cli_id, &ca);
    struct verify_ctx unused;
    struct dk_dtls_params dummy;
    rpk_params(&cp[2], &dummy, &unused);
    const enum dk_dtls_mode want[3] = {DK_DTLS_MODE_PSK, DK_DTLS_MODE_CERT, DK_DTLS_MODE_RPK};
    const uint16_t suite[3] = {0xC0A8, 0xC0AE, 0xC0AE};
    for (int i = 0; i < 3; i++) {
        setup_cfg(&cc, dk_dtls_backend_gnutls(), &cp[i]);
        struct dk_pair pr;
        handshake(&pr, &cc, &sc, 20 + (uint64_t)i);
        assert_true(dk_pair_connected(&pr));
        assert_int_equal(dk_dtls_session_peer_info(pr.s)->mode, want[i]);
        assert_int_equal(dk_dtls_session_peer_info(pr.c)->mode, want[i]);
        assert_int_equal(dk_dtls_session_peer_info(pr.s)->cipher_suite, suite[i]);
        dk_pair_free(&pr);
        dk_dtls_config_free(&cc);
    }
    assert_int_equal(sv.calls, 2);
    /* A client that only speaks RPK fails against an X.509-only server. */
    struct dk_dtls_params xp;
    struct dk_dtls_config xc;
    cert_server(&xp, &srv_id, &ca);
    setup_cfg(&xc, dk_dtls_backend_gnutls(), &xp);
    setup_cfg(&cc, dk_dtls_backend_gnutls(), &cp[2]);
    struct dk_pair pr;
    handshake(&pr, &cc, &xc, 30);
    assert_int_equal(dk_dtls_session_state(pr.c), DK_DTLS_FAILED);
    assert_int_equal(pr.c_err, DK_EAUTH);
    assert_int_equal(pr.s_err, DK_EAUTH);
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&xc);
    dk_dtls_config_free(&sc);
}

/* ---- timers ------------------------------------------------------------------ */

static void test_retransmission_backoff_and_timeout(void **state)
{
    (void)state;
    struct dk_dtls_params cp;
    struct dk_dtls_config cc;
    psk_client(&cp, psk_key);
    cp.handshake_timeout_ms = 20000;
    setup_cfg(&cc, dk_dtls_backend_gnutls(), &cp);
    struct dk_dtls_session *c;
    struct dk_addr srv;
    dk_addr_from_ip(&srv, "192.0.2.2", 5684);
    dk_time_t t0 = 5000000, now = t0;
    assert_int_equal(dk_dtls_session_new(&c, &cc, &srv, now), 0);
    uint8_t buf[2048], first[2048];
    int first_len = dk_dtls_session_pop_tx(c, first, sizeof first);
    assert_true(first_len > 0);
    assert_int_equal(first[0], 22); /* handshake record */
    assert_int_equal(dk_dtls_session_pop_tx(c, buf, sizeof buf), 0);
    /* Nothing is sent before the deadline, however often tick() runs. */
    assert_int_equal(dk_dtls_session_deadline(c), t0 + 1000);
    assert_int_equal(dk_dtls_session_tick(c, t0 + 999), 0);
    assert_int_equal(dk_dtls_session_pop_tx(c, buf, sizeof buf), 0);
    /* The server never answers: ClientHello goes out again at +1, +3, +7, +15 s
     * (the timer doubles), with a fresh record sequence number each time. */
    dk_time_t expect[] = {1000, 3000, 7000, 15000};
    for (size_t i = 0; i < 4; i++) {
        now = dk_dtls_session_deadline(c);
        assert_int_equal(now, t0 + expect[i]);
        assert_int_equal(dk_dtls_session_tick(c, now), 0);
        int n = dk_dtls_session_pop_tx(c, buf, sizeof buf);
        assert_int_equal(n, first_len);
        assert_int_equal(buf[0], 22);
        assert_memory_not_equal(buf + 5, first + 5, 6); /* record sequence number */
        assert_int_equal(dk_dtls_session_pop_tx(c, buf, sizeof buf), 0);
    }
    /* Then the handshake timeout (20 s) ends it. */
    assert_int_equal(dk_dtls_session_deadline(c), t0 + 20000);
    assert_int_equal(dk_dtls_session_tick(c, t0 + 20000), DK_ETIMEDOUT);
    assert_int_equal(dk_dtls_session_state(c), DK_DTLS_FAILED);
    assert_int_equal(dk_dtls_session_deadline(c), DK_TIME_NEVER);
    assert_int_equal(dk_dtls_session_recv(c, first, (size_t)first_len, now), DK_ECLOSED);
    dk_dtls_session_free(c);
    dk_dtls_config_free(&cc);
}

static void test_garbage_is_dropped(void **state)
{
    (void)state;
    struct lookup_ctx l = {.known = true};
    memcpy(l.key, psk_key, 16);
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    psk_client(&cp, psk_key);
    psk_server(&sp, &l);
    setup_cfg(&cc, dk_dtls_backend_gnutls(), &cp);
    setup_cfg(&sc, dk_dtls_backend_gnutls(), &sp);
    struct dk_pair pr;
    handshake(&pr, &cc, &sc, 10);
    assert_true(dk_pair_connected(&pr));
    /* Malformed or unauthentic records are dropped silently. */
    uint8_t junk[64];
    memset(junk, 0x17, sizeof junk);
    assert_int_equal(dk_dtls_session_recv(pr.s, junk, sizeof junk, pr.now), 0);
    assert_int_equal(dk_dtls_session_recv(pr.s, junk, 3, pr.now), 0);
    assert_int_equal(dk_dtls_session_recv(pr.s, junk, 0, pr.now), 0);
    uint8_t buf[64];
    assert_int_equal(dk_dtls_session_read(pr.s, buf, sizeof buf), DK_EAGAIN);
    assert_int_equal(dk_dtls_session_state(pr.s), DK_DTLS_CONNECTED);
    /* Too large for the MTU, buffer too small for a record. */
    static uint8_t big[2000];
    assert_int_equal(dk_dtls_session_write(pr.c, big, sizeof big, pr.now), DK_ENOSPC);
    assert_int_equal(dk_pair_write(&pr, true, "hello", 5), 0);
    assert_int_equal(dk_dtls_session_read(pr.s, buf, 4), DK_ENOSPC);
    assert_int_equal(dk_dtls_session_read(pr.s, buf, sizeof buf), DK_EAGAIN);
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

/* ---- configuration ------------------------------------------------------------ */

static void test_config_errors(void **state)
{
    (void)state;
    const struct dk_dtls_backend *b = dk_dtls_backend_gnutls();
    struct dk_dtls_params p;
    struct dk_dtls_config cfg;
    assert_string_equal(dk_dtls_backend_name(b), "gnutls");
    /* Certificate not matching the key. */
    cert_server(&p, &srv_id, &ca);
    p.key_der = cli_id.key;
    p.key_der_len = cli_id.key_len;
    dk_dtls_config_init(&cfg);
    assert_int_equal(dk_dtls_config_setup(&cfg, b, &p), DK_ECRYPTO);
    dk_dtls_config_free(&cfg);
    /* Garbage key and certificate. */
    uint8_t junk[40];
    memset(junk, 0x30, sizeof junk);
    cert_server(&p, &srv_id, &ca);
    p.key_der = junk;
    p.key_der_len = sizeof junk;
    assert_int_equal(dk_dtls_config_setup(&cfg, b, &p), DK_ECRYPTO);
    dk_dtls_config_free(&cfg);
    cert_server(&p, &srv_id, &ca);
    p.cert_der = junk;
    p.cert_der_len = sizeof junk;
    assert_int_equal(dk_dtls_config_setup(&cfg, b, &p), DK_ECRYPTO);
    dk_dtls_config_free(&cfg);
    cert_server(&p, &srv_id, &ca);
    p.ca_der = junk;
    p.ca_der_len = 3;
    assert_int_equal(dk_dtls_config_setup(&cfg, b, &p), DK_ECRYPTO);
    dk_dtls_config_free(&cfg);
    /* Pins are for clients. */
    cert_server(&p, &srv_id, &ca);
    p.pinned_sha256 = srv_cert_sha;
    assert_int_equal(dk_dtls_config_setup(&cfg, b, &p), DK_EINVAL);
    dk_dtls_config_free(&cfg);
    /* The common checks still apply. */
    base_params(&p, DK_DTLS_SERVER, DK_DTLS_MODE_RPK);
    assert_int_equal(dk_dtls_config_setup(&cfg, b, &p), DK_EINVAL);
    dk_dtls_config_free(&cfg);
    /* A certificate chain (leaf + CA) is accepted. */
    static uint8_t chain[4096];
    memcpy(chain, srv_id.cert, srv_id.cert_len);
    memcpy(chain + srv_id.cert_len, ca.cert, ca.cert_len);
    cert_server(&p, &srv_id, &ca);
    p.cert_der = chain;
    p.cert_der_len = srv_id.cert_len + ca.cert_len;
    assert_int_equal(dk_dtls_config_setup(&cfg, b, &p), 0);
    dk_dtls_config_free(&cfg);
}

/* The cipher suites a client offers, in order, from its first datagram. */
static size_t offered_suites(const struct dk_dtls_params *p, uint16_t *out, size_t cap)
{
    struct dk_dtls_config cfg;
    setup_cfg(&cfg, dk_dtls_backend_gnutls(), p);
    struct dk_dtls_session *c;
    struct dk_addr srv;
    dk_addr_from_ip(&srv, "192.0.2.2", 5684);
    assert_int_equal(dk_dtls_session_new(&c, &cfg, &srv, 1000), 0);
    uint8_t d[2048];
    int n = dk_dtls_session_pop_tx(c, d, sizeof d);
    assert_true(n > 13 + 12 + 2 + 32 + 2);
    assert_int_equal(d[0], 22);                /* handshake */
    assert_true(d[1] == 0xfe && d[2] == 0xfd); /* record version DTLS 1.2 */
    assert_int_equal(d[13], 1);                /* ClientHello */
    size_t pos = 13 + 12;
    assert_true(d[pos] == 0xfe && d[pos + 1] == 0xfd); /* client_version DTLS 1.2 */
    pos += 2 + 32;
    pos += 1 + d[pos]; /* session_id */
    pos += 1 + d[pos]; /* cookie */
    size_t len = (size_t)d[pos] << 8 | d[pos + 1];
    pos += 2;
    size_t k = 0;
    for (size_t i = 0; i + 1 < len && k < cap; i += 2)
        out[k++] = (uint16_t)(d[pos + i] << 8 | d[pos + i + 1]);
    dk_dtls_session_free(c);
    dk_dtls_config_free(&cfg);
    return k;
}

static void test_offered_suites_and_version(void **state)
{
    (void)state;
    struct dk_dtls_params p;
    uint16_t s[16];
    psk_client(&p, psk_key);
    assert_int_equal(offered_suites(&p, s, 16), 2);
    assert_int_equal(s[0], 0xC0A8); /* TLS_PSK_WITH_AES_128_CCM_8 */
    assert_int_equal(s[1], 0x00A8); /* TLS_PSK_WITH_AES_128_GCM_SHA256 */
    cert_client(&p, &cli_id, &ca);
    assert_int_equal(offered_suites(&p, s, 16), 2);
    assert_int_equal(s[0], 0xC0AE); /* TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 */
    assert_int_equal(s[1], 0xC02B); /* TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 */
}

/* Clients put 0xfeff or 0xfe00 as the record version of their first
 * ClientHello too; the server answers either. */
static void test_server_accepts_hello_record_versions(void **state)
{
    (void)state;
    struct lookup_ctx l = {.known = true};
    memcpy(l.key, psk_key, 16);
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    psk_client(&cp, psk_key);
    psk_server(&sp, &l);
    setup_cfg(&cc, dk_dtls_backend_gnutls(), &cp);
    setup_cfg(&sc, dk_dtls_backend_gnutls(), &sp);
    const uint8_t versions[2][2] = {{0xfe, 0xff}, {0xfe, 0x00}};
    for (int i = 0; i < 2; i++) {
        struct dk_addr a;
        dk_addr_from_ip(&a, "192.0.2.9", 7000);
        struct dk_dtls_session *c, *s;
        assert_int_equal(dk_dtls_session_new(&c, &cc, &a, 1000), 0);
        assert_int_equal(dk_dtls_session_new(&s, &sc, &a, 1000), 0);
        uint8_t d[2048];
        int n = dk_dtls_session_pop_tx(c, d, sizeof d);
        assert_true(n > 0);
        d[1] = versions[i][0];
        d[2] = versions[i][1];
        assert_int_equal(dk_dtls_session_recv(s, d, (size_t)n, 1000), 0);
        n = dk_dtls_session_pop_tx(s, d, sizeof d);
        assert_true(n > 0); /* ServerHello, ServerHelloDone */
        assert_int_equal(d[13], 2);
        assert_int_equal(dk_dtls_session_recv(c, d, (size_t)n, 1000), 0);
        for (int k = 0; k < 4; k++) {
            while ((n = dk_dtls_session_pop_tx(c, d, sizeof d)) > 0)
                dk_dtls_session_recv(s, d, (size_t)n, 1000);
            while ((n = dk_dtls_session_pop_tx(s, d, sizeof d)) > 0)
                dk_dtls_session_recv(c, d, (size_t)n, 1000);
        }
        assert_int_equal(dk_dtls_session_state(c), DK_DTLS_CONNECTED);
        assert_int_equal(dk_dtls_session_state(s), DK_DTLS_CONNECTED);
        dk_dtls_session_free(c);
        dk_dtls_session_free(s);
    }
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

static void test_deterministic_ecdsa(void **state)
{
    (void)state;
    struct dk_dtls_params p;
    struct dk_dtls_config cfg;
    cert_server(&p, &srv_id, &ca);
    setup_cfg(&cfg, dk_dtls_backend_gnutls(), &p);
    uint8_t s1[128], s2[128], s3[128];
    size_t l1, l2, l3;
    assert_int_equal(dk_dtls_gnutls_sign(&cfg, (const uint8_t *)"abc", 3, s1, sizeof s1, &l1), 0);
    assert_int_equal(dk_dtls_gnutls_sign(&cfg, (const uint8_t *)"abc", 3, s2, sizeof s2, &l2), 0);
    assert_int_equal(dk_dtls_gnutls_sign(&cfg, (const uint8_t *)"abd", 3, s3, sizeof s3, &l3), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(s1, s2, l1); /* RFC 6979: same key and message, same signature */
    assert_true(l1 != l3 || memcmp(s1, s3, l1) != 0);
    dk_dtls_config_free(&cfg);
}

/* ---- allocation failures ---------------------------------------------------- */

static void test_alloc_failures(void **state)
{
    (void)state;
    /* Every allocation through the caller's allocator fails in turn during a
     * whole PSK handshake + data exchange; nothing leaks (ASan) and the
     * failure is reported as DK_ENOMEM. */
    struct lookup_ctx l = {.known = true};
    memcpy(l.key, psk_key, 16);
    for (long n = 1; n < 200; n++) {
        struct dk_failalloc fa;
        dk_failalloc_init(&fa, n, 0);
        struct dk_dtls_params cp, sp;
        struct dk_dtls_config cc, sc;
        psk_client(&cp, psk_key);
        psk_server(&sp, &l);
        cp.alloc = &fa.iface;
        sp.alloc = &fa.iface;
        dk_dtls_config_init(&cc);
        dk_dtls_config_init(&sc);
        int rc1 = dk_dtls_config_setup(&cc, dk_dtls_backend_gnutls(), &cp);
        int rc2 = rc1 ? rc1 : dk_dtls_config_setup(&sc, dk_dtls_backend_gnutls(), &sp);
        if (rc1 || rc2) {
            assert_int_equal(rc1 ? rc1 : rc2, DK_ENOMEM);
        } else {
            struct dk_pair pr;
            dk_pair_init(&pr, &cc, &sc, 11);
            int rc = dk_pair_start(&pr);
            if (rc == 0) {
                dk_pair_run(&pr, pr.now + 60000);
                if (dk_pair_connected(&pr))
                    dk_pair_write(&pr, true, "x", 1);
            } else {
                assert_int_equal(rc, DK_ENOMEM);
            }
            bool ok = dk_pair_connected(&pr) && pr.c_err == 0 && pr.s_err == 0;
            if (!ok && rc == 0)
                assert_true(pr.c_err == DK_ENOMEM || pr.s_err == DK_ENOMEM ||
                            pr.c_err == DK_EAUTH || pr.c_err == DK_ECLOSED ||
                            pr.c_err == DK_ETIMEDOUT || pr.s_err == DK_ETIMEDOUT);
            dk_pair_free(&pr);
        }
        dk_dtls_config_free(&cc);
        dk_dtls_config_free(&sc);
        assert_int_equal(fa.live, 0);
        if (fa.calls < n)
            break; /* the whole scenario needed fewer allocations */
    }
}

/* ---- figures for the issue note ------------------------------------------------ */

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void report_handshake(const char *what, unsigned mode)
{
    struct lookup_ctx l = {.known = true};
    memcpy(l.key, psk_key, 16);
    struct verify_ctx sv = {0};
    struct dk_dtls_params cp, sp;
    struct dk_dtls_config cc, sc;
    if (mode == DK_DTLS_MODE_PSK) {
        psk_client(&cp, psk_key);
        psk_server(&sp, &l);
    } else if (mode == DK_DTLS_MODE_CERT) {
        cert_client(&cp, &cli_id, &ca);
        cert_server(&sp, &srv_id, &ca);
    } else {
        rpk_params(&cp, &sp, &sv);
    }
    setup_cfg(&cc, dk_dtls_backend_gnutls(), &cp);
    setup_cfg(&sc, dk_dtls_backend_gnutls(), &sp);
    struct dk_pair pr;
    handshake(&pr, &cc, &sc, 12);
    assert_true(dk_pair_connected(&pr));
    assert_int_equal(pr.net.dropped, 0);
    uint64_t hs_dgrams = pr.net.sent, hs_bytes = pr.net.bytes_sent;
    printf("[figures] %s, suite 0x%04x: handshake %llu datagrams / %llu bytes "
           "(client %llu / %llu, server %llu / %llu)\n",
           what, (unsigned)dk_dtls_session_peer_info(pr.c)->cipher_suite,
           (unsigned long long)hs_dgrams, (unsigned long long)hs_bytes,
           (unsigned long long)pr.c_sent, (unsigned long long)pr.c_bytes,
           (unsigned long long)pr.s_sent, (unsigned long long)pr.s_bytes);
    /* Per-record overhead: one application record of 100 bytes. */
    uint8_t payload[100] = {0};
    assert_int_equal(dk_pair_write(&pr, true, payload, sizeof payload), 0);
    uint64_t rec = pr.net.bytes_sent - hs_bytes;
    assert_int_equal(rec - sizeof payload, 13 + 8 + 8); /* header + explicit nonce + CCM-8 tag */
    /* Heap of one established session: what freeing it gives back to malloc
     * (GnuTLS allocates with malloc; ours goes through cfg alloc). */
    size_t ours = dk_dtls_session_heap(pr.s);
    size_t with = heap_in_use();
    dk_dtls_session_free(pr.s);
    pr.s = NULL;
    size_t without = heap_in_use();
    printf("[figures] %s: app record overhead %llu bytes; established server session heap "
           "%zu bytes (mallinfo2 delta on free; %zu of it through cfg alloc)\n",
           what, (unsigned long long)(rec - sizeof payload), with > without ? with - without : 0,
           ours);
    dk_pair_free(&pr);
    dk_dtls_config_free(&cc);
    dk_dtls_config_free(&sc);
}

static void test_figures(void **state)
{
    (void)state;
    report_handshake("PSK", DK_DTLS_MODE_PSK);
    report_handshake("ECDHE-ECDSA X.509", DK_DTLS_MODE_CERT);
    report_handshake("ECDHE-ECDSA RPK", DK_DTLS_MODE_RPK);
}

#define PAIRED(fn, pg) cmocka_unit_test_prestate(fn, (void *)&pg)

int main(void)
{
    const struct CMUnitTest tests[] = {
        PAIRED(test_psk_handshake_data_close, gg),
        PAIRED(test_psk_wrong_key_fails_cleanly, gg),
        PAIRED(test_psk_unknown_identity_fails_cleanly, gg),
        PAIRED(test_cert_handshake_and_peer_info, gg),
        PAIRED(test_cert_untrusted_server_fails, gg),
        PAIRED(test_cert_expired_client_fails, gg),
        PAIRED(test_cert_pin_mismatch_fails, gg),
        PAIRED(test_cert_pin_match_and_pin_any, gg),
        PAIRED(test_cert_missing_client_cert_fails, gg),
        PAIRED(test_loss_every_single_datagram, gg),
        PAIRED(test_loss_random, gg),
        PAIRED(test_loss_duplication_reordering, gg),
        PAIRED(test_fragmented_handshake_messages, gg),
#ifdef DK_HAVE_MBEDTLS
        PAIRED(test_psk_handshake_data_close, mg),
        PAIRED(test_psk_handshake_data_close, gm),
        PAIRED(test_psk_wrong_key_fails_cleanly, mg),
        PAIRED(test_psk_wrong_key_fails_cleanly, gm),
        PAIRED(test_psk_unknown_identity_fails_cleanly, mg),
        PAIRED(test_psk_unknown_identity_fails_cleanly, gm),
        PAIRED(test_cert_handshake_and_peer_info, mg),
        PAIRED(test_cert_handshake_and_peer_info, gm),
        PAIRED(test_cert_untrusted_server_fails, mg),
        PAIRED(test_cert_untrusted_server_fails, gm),
        PAIRED(test_cert_expired_client_fails, mg),
        PAIRED(test_cert_expired_client_fails, gm),
        PAIRED(test_cert_pin_mismatch_fails, mg),
        PAIRED(test_cert_pin_mismatch_fails, gm),
        PAIRED(test_cert_pin_match_and_pin_any, mg),
        PAIRED(test_cert_pin_match_and_pin_any, gm),
        PAIRED(test_loss_every_single_datagram, mg),
        PAIRED(test_loss_every_single_datagram, gm),
        PAIRED(test_loss_random, mg),
        PAIRED(test_loss_random, gm),
        PAIRED(test_loss_duplication_reordering, mg),
        PAIRED(test_loss_duplication_reordering, gm),
        PAIRED(test_fragmented_handshake_messages, mg),
        PAIRED(test_fragmented_handshake_messages, gm),
#endif
        cmocka_unit_test(test_rpk_handshake_and_peer_info),
        cmocka_unit_test(test_loss_rpk),
        cmocka_unit_test(test_cookie_prestate),
        cmocka_unit_test(test_retransmitted_flight_answered_once),
        cmocka_unit_test(test_server_with_every_mode),
        cmocka_unit_test(test_close_notify_from_server_and_mid_handshake),
        cmocka_unit_test(test_stale_client_hello_after_handshake),
        cmocka_unit_test(test_retransmission_backoff_and_timeout),
        cmocka_unit_test(test_garbage_is_dropped),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_offered_suites_and_version),
        cmocka_unit_test(test_server_accepts_hello_record_versions),
        cmocka_unit_test(test_deterministic_ecdsa),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_figures),
    };
    if (getenv("DK_TEST_ONLY")) /* e.g. DK_TEST_ONLY='test_psk*' */
        cmocka_set_test_filter(getenv("DK_TEST_ONLY"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
