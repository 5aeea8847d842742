/* DTLS handshakes between two backends over the fake network: PSK and
 * certificates, loss, application data, close_notify, and every way
 * authentication must fail. Each test runs once per pairing of backends;
 * pairing with GnuTLS is a matter of adding its backend pointer below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

#include <duckling/err.h>

#include <mbedtls/pk.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_PSK_WITH_AES_128_CCM_8 0xC0A8
#define TLS_PSK_WITH_AES_128_GCM_SHA256 0x00A8
#define TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 0xC0AE

static const struct pairing *pairing_of(void **state)
{
    return *state;
}

static void connect_or_fail(struct link *l)
{
    assert_int_equal(link_start(l), 0);
    bool ok = link_run(l, link_connected, 120000);
    if (!ok)
        fprintf(stderr,
                "not connected: client state %d err %d; server connected %d closed %d err %d; "
                "net sent %llu dropped %llu\n",
                dk_dtls_session_state(l->cli), l->cli_err, l->srv_connected, l->srv_closed,
                l->srv_err, (unsigned long long)l->net.sent, (unsigned long long)l->net.dropped);
    assert_true(ok);
    assert_int_equal(l->cli_err, 0);
    assert_int_equal(l->srv_err, 0);
}

static bool never(const struct link *l)
{
    (void)l;
    return false;
}

/* Sends one record each way and checks it arrives; returns the bytes one
 * record of n payload bytes took on the wire beyond the payload. */
static size_t exchange_data(struct link *l, size_t n)
{
    uint8_t msg[512];
    assert_true(n <= sizeof msg);
    for (size_t i = 0; i < n; i++)
        msg[i] = (uint8_t)(i * 7 + 1);
    uint64_t before = l->net.bytes_sent, sent_before = l->net.sent;
    unsigned events = l->srv_data_events;
    assert_int_equal(dk_dtls_session_write(l->cli, msg, n, l->now), 0);
    link_run(l, never, 50);
    assert_int_equal(l->net.sent - sent_before, 1);
    size_t wire = (size_t)(l->net.bytes_sent - before);
    assert_int_equal(l->srv_data_events, events + 1);
    assert_int_equal(l->srv_rx_len, (int)n);
    assert_memory_equal(l->srv_rx, msg, n);

    /* And back. */
    assert_non_null(l->srv_sess);
    msg[0] ^= 0xff;
    assert_int_equal(dk_dtls_session_write(l->srv_sess, msg, n, l->now), 0);
    link_run(l, never, 50);
    uint8_t in[512];
    assert_int_equal(dk_dtls_session_read(l->cli, in, sizeof in), (int)n);
    assert_memory_equal(in, msg, n);
    assert_int_equal(dk_dtls_session_read(l->cli, in, sizeof in), DK_EAGAIN);
    return wire - n;
}

static bool client_closed(const struct link *l)
{
    return dk_dtls_session_state(l->cli) != DK_DTLS_CONNECTED && l->srv_closed;
}

static void test_psk_handshake_data_and_close(void **state)
{
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_PSK);
    connect_or_fail(&l);
    printf("[ figures ] %s PSK handshake: %llu datagrams, %llu bytes (cookie exchange included)\n",
           pairing_of(state)->name, (unsigned long long)l.net.sent,
           (unsigned long long)l.net.bytes_sent);
    /* CH, HVR, CH, SH..SHD, CKE..Fin, CCS..Fin; other backends may split flights. */
    if (pairing_of(state)->client == dk_dtls_backend_mbedtls &&
        pairing_of(state)->server == dk_dtls_backend_mbedtls)
        assert_int_equal(l.net.sent, 6);

    assert_int_equal(l.srv_peer.mode, DK_DTLS_MODE_PSK);
    assert_int_equal(l.srv_peer.cipher_suite, TLS_PSK_WITH_AES_128_CCM_8);
    assert_int_equal(l.srv_peer.psk_identity_len, 5);
    assert_memory_equal(l.srv_peer.psk_identity, "dev-1", 5);
    assert_false(l.srv_peer.has_cert);
    const struct dk_dtls_peer_info *ci = dk_dtls_session_peer_info(l.cli);
    assert_non_null(ci);
    assert_int_equal(ci->cipher_suite, TLS_PSK_WITH_AES_128_CCM_8);
    assert_int_equal(ci->mode, DK_DTLS_MODE_PSK);

    size_t overhead = exchange_data(&l, 100);
    printf("[ figures ] %s per-record overhead, AES-128-CCM-8: %zu bytes\n",
           pairing_of(state)->name, overhead);
    assert_int_equal(overhead, 13 + 8 + 8);
    exchange_data(&l, 1);

    /* close_notify from the client: the server reports the session closed. */
    assert_int_equal(dk_dtls_session_close(l.cli, l.now), 0);
    assert_int_equal(dk_dtls_session_state(l.cli), DK_DTLS_CLOSED);
    assert_true(link_run(&l, client_closed, 1000));
    assert_int_equal(l.srv_err, DK_ECLOSED);
    assert_int_equal(l.srv.count, 0);
    assert_int_equal(dk_dtls_session_write(l.cli, (const uint8_t *)"x", 1, l.now), DK_ESTATE);
    link_free(&l);
}

static bool client_ended(const struct link *l)
{
    return dk_dtls_session_state(l->cli) != DK_DTLS_CONNECTED;
}

static void test_server_close_notify_reaches_client(void **state)
{
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_PSK);
    connect_or_fail(&l);
    dk_dtls_server_drop(&l.srv, l.srv_sess, l.now);
    l.srv_sess = NULL;
    assert_int_equal(l.srv.count, 0);
    assert_true(link_run(&l, client_ended, 1000));
    assert_int_equal(l.cli_err, DK_ECLOSED);
    assert_int_equal(dk_dtls_session_state(l.cli), DK_DTLS_CLOSED);
    assert_int_equal(dk_dtls_session_error(l.cli), DK_ECLOSED);
    link_free(&l);
}

static void test_psk_handshake_survives_loss(void **state)
{
    static const uint64_t drops[][3] = {{1, 0, 0}, {2, 0, 0}, {4, 0, 0}, {5, 0, 0},
                                        {6, 0, 0}, {4, 5, 0}, {3, 6, 8}};
    for (size_t i = 0; i < sizeof drops / sizeof drops[0]; i++) {
        struct link l;
        link_init(&l, pairing_of(state), DK_DTLS_MODE_PSK);
        for (size_t k = 0; k < 3 && drops[i][k]; k++)
            l.net.drop_list[l.net.drop_count++] = drops[i][k];
        connect_or_fail(&l);
        assert_true(l.net.dropped > 0);
        exchange_data(&l, 20);
        link_free(&l);
    }
    /* Random loss and duplication in both directions. */
    for (uint64_t seed = 1; seed <= 4; seed++) {
        struct link l;
        link_init(&l, pairing_of(state), DK_DTLS_MODE_PSK);
        dk_fakenet_init(&l.net, seed);
        l.net.loss_pct = 30;
        l.net.dup_pct = 10;
        l.net.latency_ms = 20;
        connect_or_fail(&l);
        link_free(&l);
    }
}

struct captured {
    int lines;
    char last[1024];
};

static void capture(void *user, enum dk_log_level level, const char *module, const char *msg)
{
    (void)level, (void)module;
    struct captured *c = user;
    c->lines++;
    snprintf(c->last, sizeof c->last, "%s", msg);
}

static void test_wrong_psk_fails_on_both_sides(void **state)
{
    static const uint8_t wrong[16] = {0x12};
    struct captured cap = {0};
    struct dk_log log = {capture, &cap, DK_LOG_DEBUG};
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_PSK);
    l.cp.psk = wrong;
    l.sp.log = &log;
    assert_int_equal(link_start(&l), 0);
    assert_true(link_run(&l, link_settled, 120000));
    assert_int_equal(dk_dtls_session_state(l.cli), DK_DTLS_FAILED);
    assert_int_equal(l.cli_err, DK_EAUTH);
    assert_true(l.srv_closed);
    assert_int_equal(l.srv_err, DK_EAUTH);
    assert_int_equal(l.srv.stats.handshakes_failed, 1);
    assert_int_equal(l.srv.count, 0);
    assert_true(cap.lines >= 1); /* the server said why, naming the peer */
    assert_non_null(strstr(cap.last, "10.0.0.2:40000"));
    assert_non_null(strstr(cap.last, dk_strerror(DK_EAUTH)));
    link_free(&l);
}

static void test_unknown_identity_fails_on_both_sides(void **state)
{
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_PSK);
    l.cp.psk_identity = (const uint8_t *)"stranger";
    l.cp.psk_identity_len = 8;
    test_psk_lookups = 0;
    assert_int_equal(link_start(&l), 0);
    assert_true(link_run(&l, link_settled, 120000));
    assert_true(test_psk_lookups >= 1);
    assert_int_equal(l.cli_err, DK_EAUTH);
    assert_int_equal(l.srv_err, DK_EAUTH);
    assert_int_equal(l.srv.count, 0);
    link_free(&l);
}

static void test_cert_mutual_handshake_reports_peer(void **state)
{
    const struct pki *p = test_pki();
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
    link_use_certs(&l, &p->client_cert, &p->client_key, &p->server_cert, &p->server_key);
    connect_or_fail(&l);
    printf("[ figures ] %s ECDHE-ECDSA P-256 handshake, both sides certified: %llu datagrams, "
           "%llu bytes\n",
           pairing_of(state)->name, (unsigned long long)l.net.sent,
           (unsigned long long)l.net.bytes_sent);

    uint8_t want[32];
    assert_int_equal(l.srv_peer.mode, DK_DTLS_MODE_CERT);
    assert_int_equal(l.srv_peer.cipher_suite, TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8);
    assert_true(l.srv_peer.has_cert);
    test_sha256(&p->client_cert, want);
    assert_memory_equal(l.srv_peer.cert_sha256, want, 32);
    assert_true(l.srv_peer.has_spki);
    assert_string_equal(l.srv_peer.cert_cn, "dev-1");

    const struct dk_dtls_peer_info *ci = dk_dtls_session_peer_info(l.cli);
    assert_int_equal(ci->cipher_suite, TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8);
    test_sha256(&p->server_cert, want);
    assert_memory_equal(ci->cert_sha256, want, 32);
    assert_string_equal(ci->cert_cn, "server");
    /* Both certificates of the test PKI have distinct keys, so SPKI hashes differ. */
    assert_memory_not_equal(ci->spki_sha256, l.srv_peer.spki_sha256, 32);
    assert_int_equal(exchange_data(&l, 64), 29);
    link_free(&l);
}

static void test_cert_server_only_handshake(void **state)
{
    const struct pki *p = test_pki();
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
    link_use_certs(&l, NULL, NULL, &p->server_cert, &p->server_key);
    connect_or_fail(&l);
    printf("[ figures ] %s ECDHE-ECDSA P-256 handshake, server certified only: %llu datagrams, "
           "%llu bytes\n",
           pairing_of(state)->name, (unsigned long long)l.net.sent,
           (unsigned long long)l.net.bytes_sent);
    assert_false(l.srv_peer.has_cert);
    link_free(&l);
}

static void test_cert_handshake_survives_loss(void **state)
{
    const struct pki *p = test_pki();
    uint64_t dropped = 0;
    for (uint64_t seed = 1; seed <= (getenv("DK_SEEDS") ? 60 : 6); seed++) {
        struct link l;
        link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
        link_use_certs(&l, &p->client_cert, &p->client_key, &p->server_cert, &p->server_key);
        dk_fakenet_init(&l.net, seed);
        l.net.loss_pct = 20;
        l.net.latency_ms = 10;
        connect_or_fail(&l);
        dropped += l.net.dropped;
        link_free(&l);
    }
    assert_true(dropped >= 3);
    /* The certificate flights themselves lost, each once. */
    for (uint64_t which = 4; which <= 6; which++) {
        struct link l;
        link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
        link_use_certs(&l, &p->client_cert, &p->client_key, &p->server_cert, &p->server_key);
        l.net.drop_list[l.net.drop_count++] = which;
        connect_or_fail(&l);
        assert_int_equal(l.net.dropped, 1);
        link_free(&l);
    }
}

static void expect_auth_failure(struct link *l, bool client_rejects)
{
    assert_int_equal(link_start(l), 0);
    bool settled = link_run(l, link_settled, 120000);
    if (!settled)
        fprintf(
            stderr, "not settled: client state %d err %d; server connected %d closed %d err %d\n",
            dk_dtls_session_state(l->cli), l->cli_err, l->srv_connected, l->srv_closed, l->srv_err);
    assert_true(settled);
    assert_int_equal(dk_dtls_session_state(l->cli), DK_DTLS_FAILED);
    assert_int_equal(l->cli_err, DK_EAUTH);
    assert_true(l->srv_closed);
    assert_false(l->srv_connected && client_rejects && l->srv_sess);
    assert_int_equal(l->srv_err, DK_EAUTH);
    assert_int_equal(l->srv.count, 0);
}

static void test_untrusted_server_cert_is_refused(void **state)
{
    const struct pki *p = test_pki();
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
    link_use_certs(&l, NULL, NULL, &p->rogue_cert, &p->rogue_key);
    expect_auth_failure(&l, true);
    link_free(&l);
}

static void test_expired_server_cert_is_refused(void **state)
{
    const struct pki *p = test_pki();
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
    link_use_certs(&l, NULL, NULL, &p->expired_cert, &p->server_key);
    expect_auth_failure(&l, true);
    link_free(&l);
}

static void test_untrusted_client_cert_is_refused(void **state)
{
    const struct pki *p = test_pki();
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
    link_use_certs(&l, &p->self_cert, &p->self_key, &p->server_cert, &p->server_key);
    expect_auth_failure(&l, false);
    link_free(&l);
}

static void test_missing_client_cert_is_refused(void **state)
{
    const struct pki *p = test_pki();
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
    link_use_certs(&l, NULL, NULL, &p->server_cert, &p->server_key);
    l.sp.require_client_cert = true;
    expect_auth_failure(&l, false);
    link_free(&l);
}

static void test_client_pins_server_hash(void **state)
{
    const struct pki *p = test_pki();
    uint8_t pin[32];
    test_sha256(&p->self_cert, pin);
    /* A self-signed server no CA vouches for, pinned by hash. */
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
    link_use_certs(&l, NULL, NULL, &p->self_cert, &p->self_key);
    l.cp.ca_der = NULL;
    l.cp.ca_der_len = 0;
    l.cp.pinned_sha256 = pin;
    connect_or_fail(&l);
    link_free(&l);

    pin[5] ^= 1;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
    link_use_certs(&l, NULL, NULL, &p->self_cert, &p->self_key);
    l.cp.ca_der = NULL;
    l.cp.ca_der_len = 0;
    l.cp.pinned_sha256 = pin;
    expect_auth_failure(&l, true);
    link_free(&l);

    /* A pin also overrides a CA that would have accepted the server. */
    test_sha256(&p->client_cert, pin);
    link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
    link_use_certs(&l, NULL, NULL, &p->server_cert, &p->server_key);
    l.cp.pinned_sha256 = pin;
    expect_auth_failure(&l, true);
    link_free(&l);
}

struct verdict {
    int calls;
    int answer;
    struct dk_dtls_peer_info seen;
};

static int verify_cb(void *user, const struct dk_addr *peer, const struct dk_dtls_peer_info *info)
{
    (void)peer;
    struct verdict *v = user;
    v->calls++;
    v->seen = *info;
    return v->answer;
}

static void test_server_pin_any_hands_hashes_to_verify(void **state)
{
    const struct pki *p = test_pki();
    uint8_t cert_hash[32];
    test_sha256(&p->self_cert, cert_hash);
    for (int reject = 0; reject <= 1; reject++) {
        struct verdict v = {.answer = reject ? DK_EAUTH : 0};
        struct link l;
        link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
        link_use_certs(&l, &p->self_cert, &p->self_key, &p->server_cert, &p->server_key);
        l.sp.ca_der = NULL;
        l.sp.ca_der_len = 0;
        l.sp.pin_any = true;
        l.sp.verify = verify_cb;
        l.sp.verify_user = &v;
        if (!reject) {
            connect_or_fail(&l);
            assert_memory_equal(l.srv_peer.cert_sha256, cert_hash, 32);
            assert_string_equal(l.srv_peer.cert_cn, "dev-ss");
        } else {
            expect_auth_failure(&l, false);
        }
        assert_int_equal(v.calls, 1);
        assert_true(v.seen.has_cert && v.seen.has_spki);
        assert_memory_equal(v.seen.cert_sha256, cert_hash, 32);
        link_free(&l);
    }
}

static void test_psk_or_cert_server_serves_both(void **state)
{
    const struct pki *p = test_pki();
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_PSK);
    l.sp.modes = DK_DTLS_MODE_PSK | DK_DTLS_MODE_CERT;
    l.sp.cert_der = p->server_cert.der;
    l.sp.cert_der_len = p->server_cert.len;
    l.sp.key_der = p->server_key.der;
    l.sp.key_der_len = p->server_key.len;
    connect_or_fail(&l);
    assert_int_equal(l.srv_peer.mode, DK_DTLS_MODE_PSK);
    link_free(&l);

    link_init(&l, pairing_of(state), DK_DTLS_MODE_CERT);
    link_use_certs(&l, &p->client_cert, &p->client_key, &p->server_cert, &p->server_key);
    l.sp.modes = DK_DTLS_MODE_PSK | DK_DTLS_MODE_CERT;
    l.sp.psk_lookup = test_psk_lookup;
    connect_or_fail(&l);
    assert_int_equal(l.srv_peer.mode, DK_DTLS_MODE_CERT);
    link_free(&l);
}

static void test_write_limits(void **state)
{
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_PSK);
    assert_int_equal(link_start(&l), 0);
    assert_int_equal(dk_dtls_session_write(l.cli, (const uint8_t *)"x", 1, l.now), DK_ESTATE);
    assert_null(dk_dtls_session_peer_info(l.cli));
    assert_true(link_run(&l, link_connected, 120000));
    static uint8_t big[DK_DTLS_MTU_DEFAULT];
    assert_int_equal(dk_dtls_session_write(l.cli, big, sizeof big, l.now), DK_ENOSPC);
    assert_int_equal(dk_dtls_session_write(l.cli, big, sizeof big - 29, l.now), 0);
    uint8_t out[2048];
    assert_int_equal(dk_dtls_session_pop_tx(l.cli, out, 10), DK_ENOSPC);
    assert_int_equal(dk_dtls_session_pop_tx(l.cli, out, sizeof out), DK_DTLS_MTU_DEFAULT);
    assert_int_equal(dk_dtls_session_pop_tx(l.cli, out, sizeof out), 0);
    link_free(&l);
}

static void test_bad_records_are_dropped_silently(void **state)
{
    struct link l;
    link_init(&l, pairing_of(state), DK_DTLS_MODE_PSK);
    connect_or_fail(&l);
    /* A genuine record from the server, captured before delivery. */
    assert_int_equal(dk_dtls_session_write(l.srv_sess, (const uint8_t *)"genuine", 7, l.now), 0);
    uint8_t rec[256];
    struct dk_addr to;
    int n = dk_dtls_server_pop_tx(&l.srv, &to, rec, sizeof rec);
    assert_int_equal(n, 7 + 29);
    uint8_t bad[256], out[64];
    struct {
        size_t at; /* byte to flip, or the length to cut to when flip is 0 */
        uint8_t flip;
    } cases[] = {
        {0, 0},
        {5, 0},
        {13, 0},
        {20, 0},               /* truncations */
        {0, 0x01},             /* content type */
        {3, 0x01},             /* epoch */
        {12, 0x01},            /* length */
        {13, 0x01},            /* explicit nonce */
        {20, 0x80},            /* ciphertext */
        {(size_t)n - 1, 0x01}, /* tag */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = (size_t)n;
        memcpy(bad, rec, len);
        if (cases[i].flip)
            bad[cases[i].at] ^= cases[i].flip;
        else
            len = cases[i].at;
        assert_int_equal(dk_dtls_session_recv(l.cli, bad, len, l.now), 0);
        assert_int_equal(dk_dtls_session_state(l.cli), DK_DTLS_CONNECTED);
        assert_int_equal(dk_dtls_session_read(l.cli, out, sizeof out), DK_EAGAIN);
    }
    /* The genuine one once, and its replay never. */
    assert_int_equal(dk_dtls_session_recv(l.cli, rec, (size_t)n, l.now), 0);
    assert_int_equal(dk_dtls_session_read(l.cli, out, sizeof out), 7);
    assert_memory_equal(out, "genuine", 7);
    assert_int_equal(dk_dtls_session_recv(l.cli, rec, (size_t)n, l.now), 0);
    assert_int_equal(dk_dtls_session_read(l.cli, out, sizeof out), DK_EAGAIN);
    /* Too small a buffer drops the record. */
    assert_int_equal(dk_dtls_session_write(l.srv_sess, (const uint8_t *)"genuine", 7, l.now), 0);
    link_run(&l, never, 50);
    assert_int_equal(dk_dtls_session_read(l.cli, out, 3), DK_ENOSPC);
    assert_int_equal(dk_dtls_session_read(l.cli, out, sizeof out), DK_EAGAIN);

    /* Same on the server side, through the table. */
    assert_int_equal(dk_dtls_session_write(l.cli, (const uint8_t *)"genuine", 7, l.now), 0);
    n = dk_dtls_session_pop_tx(l.cli, rec, sizeof rec);
    memcpy(bad, rec, (size_t)n);
    bad[n - 1] ^= 1;
    struct dk_dtls_session *s;
    enum dk_dtls_event ev;
    assert_int_equal(dk_dtls_server_recv(&l.srv, &l.caddr, bad, (size_t)n, l.now, &s, &ev), 0);
    assert_ptr_equal(s, l.srv_sess);
    assert_int_equal(dk_dtls_session_read(s, out, sizeof out), DK_EAGAIN);
    assert_int_equal(dk_dtls_server_recv(&l.srv, &l.caddr, rec, (size_t)n, l.now, &s, &ev), 0);
    assert_int_equal(ev, DK_DTLS_EV_DATA);
    assert_int_equal(dk_dtls_session_read(s, out, sizeof out), 7);
    assert_int_equal(l.srv.count, 1);
    link_free(&l);
}

/* Counts the bytes that go through a dk_alloc (what a device arena would hold). */
struct counting {
    struct dk_alloc iface;
    size_t live;
};

static void *count_alloc(void *user, size_t n)
{
    struct counting *c = user;
    size_t *p = malloc(n + sizeof(max_align_t));
    if (!p)
        return NULL;
    *p = n;
    c->live += n;
    return (char *)p + sizeof(max_align_t);
}

static void count_free(void *user, void *ptr)
{
    struct counting *c = user;
    if (!ptr)
        return;
    size_t *p = (size_t *)((char *)ptr - sizeof(max_align_t));
    c->live -= *p;
    free(p);
}

static void test_heap_of_one_session(void **state)
{
    const struct pki *p = test_pki();
    for (int cert = 0; cert <= 1; cert++) {
        struct counting ours = {{count_alloc, count_free, NULL}, 0};
        ours.iface.user = &ours;
        struct link l;
        link_init(&l, pairing_of(state), cert ? DK_DTLS_MODE_CERT : DK_DTLS_MODE_PSK);
        if (cert)
            link_use_certs(&l, &p->client_cert, &p->client_key, &p->server_cert, &p->server_key);
        l.cp.alloc = &ours.iface;
        connect_or_fail(&l);
        exchange_data(&l, 100);
        size_t cfg_part = 0;
        {
            struct dk_dtls_config probe;
            size_t before_cfg = ours.live;
            dk_dtls_config_init(&probe);
            assert_int_equal(dk_dtls_config_setup(&probe, pairing_of(state)->client(), &l.cp), 0);
            cfg_part = ours.live - before_cfg;
            dk_dtls_config_free(&probe);
        }
        size_t cli_ours = ours.live - cfg_part;
        size_t cli_counted = dk_dtls_session_heap(l.cli);
        size_t srv_counted = dk_dtls_session_heap(l.srv_sess);
        size_t before = test_heap_in_use();
        dk_dtls_server_drop(&l.srv, l.srv_sess, l.now);
        l.srv_sess = NULL;
        size_t mid = test_heap_in_use();
        dk_dtls_session_free(l.cli);
        l.cli = NULL;
        size_t after = test_heap_in_use();
        printf("[ figures ] %s heap of one connected %s session: client %zu bytes measured "
               "(%zu counted by dk_dtls_session_heap), server %zu measured (%zu counted)\n",
               pairing_of(state)->name, cert ? "certificate" : "PSK", mid - after, cli_counted,
               before - mid, srv_counted);
        printf("[ figures ] %s   of the client's: %zu bytes through the config's allocator "
               "(the rest is the backend library's own)\n",
               pairing_of(state)->name, cli_ours);
        assert_true(cli_counted > 0 && srv_counted > 0);
        assert_true(cli_ours > 0 && cli_ours <= cli_counted);
        link_free(&l);
    }
}

#define PAIR_TESTS(pr)                                                                             \
    cmocka_unit_test_prestate(test_psk_handshake_data_and_close, (void *)(pr)),                    \
        cmocka_unit_test_prestate(test_server_close_notify_reaches_client, (void *)(pr)),          \
        cmocka_unit_test_prestate(test_psk_handshake_survives_loss, (void *)(pr)),                 \
        cmocka_unit_test_prestate(test_wrong_psk_fails_on_both_sides, (void *)(pr)),               \
        cmocka_unit_test_prestate(test_unknown_identity_fails_on_both_sides, (void *)(pr)),        \
        cmocka_unit_test_prestate(test_cert_mutual_handshake_reports_peer, (void *)(pr)),          \
        cmocka_unit_test_prestate(test_cert_server_only_handshake, (void *)(pr)),                  \
        cmocka_unit_test_prestate(test_cert_handshake_survives_loss, (void *)(pr)),                \
        cmocka_unit_test_prestate(test_untrusted_server_cert_is_refused, (void *)(pr)),            \
        cmocka_unit_test_prestate(test_expired_server_cert_is_refused, (void *)(pr)),              \
        cmocka_unit_test_prestate(test_untrusted_client_cert_is_refused, (void *)(pr)),            \
        cmocka_unit_test_prestate(test_missing_client_cert_is_refused, (void *)(pr)),              \
        cmocka_unit_test_prestate(test_client_pins_server_hash, (void *)(pr)),                     \
        cmocka_unit_test_prestate(test_server_pin_any_hands_hashes_to_verify, (void *)(pr)),       \
        cmocka_unit_test_prestate(test_psk_or_cert_server_serves_both, (void *)(pr)),              \
        cmocka_unit_test_prestate(test_write_limits, (void *)(pr)),                                \
        cmocka_unit_test_prestate(test_bad_records_are_dropped_silently, (void *)(pr)),            \
        cmocka_unit_test_prestate(test_heap_of_one_session, (void *)(pr))

/* ---- mbedTLS-only properties ------------------------------------------- */

static void test_mbedtls_refuses_rpk(void **state)
{
    (void)state;
    struct dk_rng rng;
    dk_rng_init(&rng);
    dk_rng_setup_deterministic(&rng, "rpk", 3);
    const struct pki *p = test_pki();
    struct dk_dtls_params prm = {.role = DK_DTLS_SERVER,
                                 .modes = DK_DTLS_MODE_RPK,
                                 .cert_der = p->server_cert.der,
                                 .cert_der_len = p->server_cert.len,
                                 .key_der = p->server_key.der,
                                 .key_der_len = p->server_key.len,
                                 .rng = &rng};
    struct dk_dtls_config cfg;
    dk_dtls_config_init(&cfg);
    assert_int_equal(dk_dtls_config_setup(&cfg, dk_dtls_backend_mbedtls(), &prm), DK_ENOTSUP);
    prm.role = DK_DTLS_CLIENT;
    prm.modes = DK_DTLS_MODE_RPK | DK_DTLS_MODE_PSK;
    assert_int_equal(dk_dtls_config_setup(&cfg, dk_dtls_backend_mbedtls(), &prm), DK_EINVAL);
    prm.psk = (const uint8_t *)"k";
    prm.psk_len = 1;
    prm.psk_identity = (const uint8_t *)"i";
    prm.psk_identity_len = 1;
    assert_int_equal(dk_dtls_config_setup(&cfg, dk_dtls_backend_mbedtls(), &prm), DK_ENOTSUP);
    dk_dtls_config_free(&cfg);
    assert_string_equal(dk_dtls_backend_name(dk_dtls_backend_mbedtls()), "mbedtls");
    dk_rng_free(&rng);
}

static void test_mbedtls_rejects_bad_keys(void **state)
{
    (void)state;
    struct dk_rng rng;
    dk_rng_init(&rng);
    dk_rng_setup_deterministic(&rng, "keys", 4);
    const struct pki *p = test_pki();
    struct dk_dtls_params prm = {.role = DK_DTLS_SERVER,
                                 .modes = DK_DTLS_MODE_CERT,
                                 .cert_der = p->server_cert.der,
                                 .cert_der_len = p->server_cert.len,
                                 .key_der = p->client_key.der, /* not this cert's key */
                                 .key_der_len = p->client_key.len,
                                 .rng = &rng};
    struct dk_dtls_config cfg;
    dk_dtls_config_init(&cfg);
    assert_int_equal(dk_dtls_config_setup(&cfg, dk_dtls_backend_mbedtls(), &prm), DK_ECRYPTO);
    prm.key_der = p->server_key.der;
    prm.key_der_len = p->server_key.len;
    prm.cert_der_len = 20; /* truncated certificate */
    assert_int_equal(dk_dtls_config_setup(&cfg, dk_dtls_backend_mbedtls(), &prm), DK_ECRYPTO);
    prm.cert_der_len = p->server_cert.len;
    prm.ca_der = p->ca_cert.der;
    prm.ca_der_len = p->ca_cert.len - 1; /* broken trust anchor list */
    assert_int_equal(dk_dtls_config_setup(&cfg, dk_dtls_backend_mbedtls(), &prm), DK_ECRYPTO);
    /* A client with nothing to check the server against is refused. */
    prm.role = DK_DTLS_CLIENT;
    prm.ca_der = NULL;
    prm.ca_der_len = 0;
    assert_int_equal(dk_dtls_config_setup(&cfg, dk_dtls_backend_mbedtls(), &prm), DK_EINVAL);
    /* Concatenated trust anchors parse. */
    static uint8_t two[2048];
    memcpy(two, p->other_ca_cert.der, p->other_ca_cert.len);
    memcpy(two + p->other_ca_cert.len, p->ca_cert.der, p->ca_cert.len);
    prm.ca_der = two;
    prm.ca_der_len = p->other_ca_cert.len + p->ca_cert.len;
    assert_int_equal(dk_dtls_config_setup(&cfg, dk_dtls_backend_mbedtls(), &prm), 0);
    dk_dtls_config_free(&cfg);
    dk_rng_free(&rng);
}

static void test_mbedtls_ecdsa_is_deterministic(void **state)
{
    (void)state;
    /* RFC 6979: Debian's mbedTLS has MBEDTLS_ECDSA_DETERMINISTIC, so the same
     * key signs the same hash identically whatever the RNG says. */
    const struct pki *p = test_pki();
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    assert_int_equal(mbedtls_pk_parse_key(&pk, p->server_key.der, p->server_key.len, NULL, 0), 0);
    uint8_t hash[32] = {1, 2, 3};
    uint8_t sig1[MBEDTLS_PK_SIGNATURE_MAX_SIZE], sig2[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t n1 = 0, n2 = 0;
    struct dk_rng r1, r2;
    dk_rng_init(&r1);
    dk_rng_init(&r2);
    dk_rng_setup_deterministic(&r1, "one", 3);
    dk_rng_setup_deterministic(&r2, "two", 3);
    assert_int_equal(
        mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, 32, sig1, &n1, dk_rng_mbedtls, &r1), 0);
    assert_int_equal(
        mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, 32, sig2, &n2, dk_rng_mbedtls, &r2), 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(sig1, sig2, n1);
    mbedtls_pk_free(&pk);
    dk_rng_free(&r1);
    dk_rng_free(&r2);
}

static const struct pairing mbed_mbed = {"mbedtls-mbedtls", dk_dtls_backend_mbedtls,
                                         dk_dtls_backend_mbedtls};
#ifdef DK_TEST_WITH_GNUTLS
static const struct pairing gnu_gnu = {"gnutls-gnutls", dk_dtls_backend_gnutls,
                                       dk_dtls_backend_gnutls};
static const struct pairing mbed_gnu = {"mbedtls-client/gnutls-server", dk_dtls_backend_mbedtls,
                                        dk_dtls_backend_gnutls};
static const struct pairing gnu_mbed = {"gnutls-client/mbedtls-server", dk_dtls_backend_gnutls,
                                        dk_dtls_backend_mbedtls};
#endif

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    test_pki();
    const struct CMUnitTest mbed_only[] = {
        cmocka_unit_test(test_mbedtls_refuses_rpk),
        cmocka_unit_test(test_mbedtls_rejects_bad_keys),
        cmocka_unit_test(test_mbedtls_ecdsa_is_deterministic),
    };
    const struct CMUnitTest mm[] = {PAIR_TESTS(&mbed_mbed)};
    int fails = cmocka_run_group_tests_name("mbedtls backend", mbed_only, NULL, NULL);
    fails += cmocka_run_group_tests_name("mbedtls-mbedtls", mm, NULL, NULL);
#ifdef DK_TEST_WITH_GNUTLS
    const struct CMUnitTest gg[] = {PAIR_TESTS(&gnu_gnu)};
    const struct CMUnitTest mg[] = {PAIR_TESTS(&mbed_gnu)};
    const struct CMUnitTest gm[] = {PAIR_TESTS(&gnu_mbed)};
    fails += cmocka_run_group_tests_name("gnutls-gnutls", gg, NULL, NULL);
    fails += cmocka_run_group_tests_name("mbedtls-client/gnutls-server", mg, NULL, NULL);
    fails += cmocka_run_group_tests_name("gnutls-client/mbedtls-server", gm, NULL, NULL);
#endif
    return fails ? 1 : 0;
}
