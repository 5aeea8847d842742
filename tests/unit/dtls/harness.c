#include "harness.h"

#include <duckling/err.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

size_t test_heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return __sanitizer_get_current_allocated_bytes();
#else
    return mallinfo2().uordblks;
#endif
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "test PKI: %s failed: -0x%04x\n", what, (unsigned)-rc);
    abort();
}

static void gen_key(struct dk_rng *rng, mbedtls_pk_context *pk, struct blob *out)
{
    mbedtls_pk_init(pk);
    int rc = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (!rc)
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), dk_rng_mbedtls, rng);
    if (rc)
        die("key generation", rc);
    if (!out)
        return;
    uint8_t tmp[512];
    int n = mbedtls_pk_write_key_der(pk, tmp, sizeof tmp);
    if (n < 0)
        die("key write", n);
    memcpy(out->der, tmp + sizeof tmp - n, (size_t)n);
    out->len = (size_t)n;
}

struct cert_spec {
    mbedtls_pk_context *subject_key, *issuer_key;
    const char *subject, *issuer;
    int serial;
    const char *not_before, *not_after;
    bool ca;
};

static void make_cert(struct dk_rng *rng, const struct cert_spec *c, struct blob *out)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, c->subject_key);
    mbedtls_x509write_crt_set_issuer_key(&w, c->issuer_key);
    int rc = mbedtls_mpi_lset(&serial, c->serial);
    if (!rc)
        rc = mbedtls_x509write_crt_set_serial(&w, &serial);
    if (!rc)
        rc = mbedtls_x509write_crt_set_subject_name(&w, c->subject);
    if (!rc)
        rc = mbedtls_x509write_crt_set_issuer_name(&w, c->issuer);
    if (!rc)
        rc = mbedtls_x509write_crt_set_validity(&w, c->not_before, c->not_after);
    if (!rc)
        rc = mbedtls_x509write_crt_set_basic_constraints(&w, c->ca, -1);
    if (!rc && c->ca)
        rc = mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_KEY_CERT_SIGN |
                                                         MBEDTLS_X509_KU_CRL_SIGN);
    if (rc)
        die("certificate fields", rc);
    uint8_t tmp[1024];
    int n = mbedtls_x509write_crt_der(&w, tmp, sizeof tmp, dk_rng_mbedtls, rng);
    if (n < 0)
        die("certificate write", n);
    memcpy(out->der, tmp + sizeof tmp - n, (size_t)n);
    out->len = (size_t)n;
    mbedtls_x509write_crt_free(&w);
    mbedtls_mpi_free(&serial);
}

static struct pki the_pki;
static bool pki_ready;

const struct pki *test_pki(void)
{
    if (pki_ready)
        return &the_pki;
    struct pki *p = &the_pki;
    struct dk_rng rng;
    dk_rng_init(&rng);
    if (dk_rng_setup_deterministic(&rng, "duckling test pki", 17))
        die("rng", -1);
    mbedtls_pk_context ca, server, client, self, other, rogue;
    gen_key(&rng, &ca, &p->ca_key);
    gen_key(&rng, &server, &p->server_key);
    gen_key(&rng, &client, &p->client_key);
    gen_key(&rng, &self, &p->self_key);
    gen_key(&rng, &other, NULL);
    gen_key(&rng, &rogue, &p->rogue_key);
    const char *from = "20200101000000", *to = "20991231235959";
    make_cert(&rng,
              &(struct cert_spec){&ca, &ca, "CN=duckling test CA", "CN=duckling test CA", 1, from,
                                  to, true},
              &p->ca_cert);
    make_cert(
        &rng,
        &(struct cert_spec){&server, &ca, "CN=server", "CN=duckling test CA", 2, from, to, false},
        &p->server_cert);
    make_cert(
        &rng,
        &(struct cert_spec){&client, &ca, "CN=dev-1", "CN=duckling test CA", 3, from, to, false},
        &p->client_cert);
    make_cert(&rng, &(struct cert_spec){&self, &self, "CN=dev-ss", "CN=dev-ss", 4, from, to, false},
              &p->self_cert);
    make_cert(&rng,
              &(struct cert_spec){&other, &other, "CN=other CA", "CN=other CA", 5, from, to, true},
              &p->other_ca_cert);
    make_cert(&rng,
              &(struct cert_spec){&rogue, &other, "CN=server", "CN=other CA", 6, from, to, false},
              &p->rogue_cert);
    make_cert(&rng,
              &(struct cert_spec){&server, &ca, "CN=server", "CN=duckling test CA", 7,
                                  "20000101000000", "20011231235959", false},
              &p->expired_cert);
    mbedtls_pk_free(&ca);
    mbedtls_pk_free(&server);
    mbedtls_pk_free(&client);
    mbedtls_pk_free(&self);
    mbedtls_pk_free(&other);
    mbedtls_pk_free(&rogue);
    dk_rng_free(&rng);
    pki_ready = true;
    return p;
}

void test_sha256(const struct blob *b, uint8_t out[32])
{
    mbedtls_sha256_ret(b->der, b->len, out, 0);
}

int test_psk_lookups;

int test_psk_lookup(void *user, const struct dk_addr *peer, const uint8_t *id, size_t id_len,
                    uint8_t *key, size_t key_cap, size_t *key_len)
{
    (void)user, (void)peer;
    test_psk_lookups++;
    uint8_t fill;
    if (id_len == 5 && memcmp(id, "dev-1", 5) == 0)
        fill = 0x11;
    else if (id_len == 5 && memcmp(id, "dev-2", 5) == 0)
        fill = 0x22;
    else
        return DK_ENOTFOUND;
    if (key_cap < 16)
        return DK_ENOSPC;
    memset(key, fill, 16);
    *key_len = 16;
    return 0;
}

static const uint8_t psk_dev1[16] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                     0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};

void link_init(struct link *l, const struct pairing *pr, unsigned modes)
{
    memset(l, 0, sizeof *l);
    l->pairing = pr;
    dk_fakenet_init(&l->net, 42);
    l->now = 1000000;
    dk_rng_init(&l->crng);
    dk_rng_init(&l->srng);
    dk_rng_setup_deterministic(&l->crng, "client", 6);
    dk_rng_setup_deterministic(&l->srng, "server", 6);
    dk_addr_from_ip(&l->caddr, "10.0.0.2", 40000);
    dk_addr_from_ip(&l->saddr, "10.0.0.1", 5684);
    dk_dtls_config_init(&l->ccfg);
    dk_dtls_config_init(&l->scfg);
    dk_dtls_server_init(&l->srv);
    l->cp.role = DK_DTLS_CLIENT;
    l->cp.modes = modes;
    l->cp.rng = &l->crng;
    l->sp.role = DK_DTLS_SERVER;
    l->sp.modes = modes;
    l->sp.rng = &l->srng;
    if (modes & DK_DTLS_MODE_PSK) {
        l->cp.psk_identity = (const uint8_t *)"dev-1";
        l->cp.psk_identity_len = 5;
        l->cp.psk = psk_dev1;
        l->cp.psk_len = sizeof psk_dev1;
        l->sp.psk_lookup = test_psk_lookup;
    }
}

void link_use_certs(struct link *l, const struct blob *ccert, const struct blob *ckey,
                    const struct blob *scert, const struct blob *skey)
{
    const struct pki *p = test_pki();
    if (ccert) {
        l->cp.cert_der = ccert->der;
        l->cp.cert_der_len = ccert->len;
        l->cp.key_der = ckey->der;
        l->cp.key_der_len = ckey->len;
    }
    l->sp.cert_der = scert->der;
    l->sp.cert_der_len = scert->len;
    l->sp.key_der = skey->der;
    l->sp.key_der_len = skey->len;
    l->cp.ca_der = p->ca_cert.der;
    l->cp.ca_der_len = p->ca_cert.len;
    l->sp.ca_der = p->ca_cert.der;
    l->sp.ca_der_len = p->ca_cert.len;
    l->sp.require_client_cert = ccert != NULL;
}

int link_start(struct link *l)
{
    int rc = dk_dtls_config_setup(&l->ccfg, l->pairing->client(), &l->cp);
    if (rc)
        return rc;
    rc = dk_dtls_config_setup(&l->scfg, l->pairing->server(), &l->sp);
    if (rc)
        return rc;
    rc = dk_dtls_server_setup(&l->srv, &l->scfg);
    if (rc)
        return rc;
    return dk_dtls_session_new(&l->cli, &l->ccfg, &l->saddr, l->now);
}

static bool tracing(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("DK_TEST_TRACE") != NULL;
    return on;
}

static void trace(const struct link *l, const char *what, const struct dk_addr *from,
                  const uint8_t *d, size_t n)
{
    if (!tracing())
        return;
    fprintf(stderr, "  t=%lld %s %s %zu bytes, first record type %u epoch %u\n", (long long)l->now,
            dk_addr_equal(from, &l->caddr) ? "C->S" : "S->C", what, n, n ? d[0] : 0,
            n > 4 ? (unsigned)(d[3] << 8 | d[4]) : 0);
}

static void drain(struct link *l)
{
    uint8_t buf[DK_FAKENET_MTU];
    int n;
    if (l->cli)
        while ((n = dk_dtls_session_pop_tx(l->cli, buf, sizeof buf)) > 0) {
            trace(l, "send", &l->caddr, buf, (size_t)n);
            dk_fakenet_send(&l->net, &l->caddr, &l->saddr, buf, (size_t)n, l->now);
        }
    struct dk_addr to;
    while ((n = dk_dtls_server_pop_tx(&l->srv, &to, buf, sizeof buf)) > 0) {
        trace(l, "send", &l->saddr, buf, (size_t)n);
        dk_fakenet_send(&l->net, &l->saddr, &to, buf, (size_t)n, l->now);
    }
}

static void server_event(struct link *l, struct dk_dtls_session *s, enum dk_dtls_event ev)
{
    switch (ev) {
    case DK_DTLS_EV_CONNECTED:
        l->srv_connected = true;
        l->srv_sess = s;
        l->srv_peer = *dk_dtls_session_peer_info(s);
        break;
    case DK_DTLS_EV_DATA:
        l->srv_data_events++;
        for (int n; (n = dk_dtls_session_read(s, l->srv_rx, sizeof l->srv_rx)) >= 0;)
            l->srv_rx_len = n;
        break;
    case DK_DTLS_EV_CLOSED:
        l->srv_closed = true;
        l->srv_err = dk_dtls_session_error(s);
        if (s == l->srv_sess)
            l->srv_sess = NULL;
        break;
    default:
        break;
    }
}

static void on_closed(void *user, struct dk_dtls_session *s)
{
    server_event(user, s, DK_DTLS_EV_CLOSED);
}

static void deliver(struct link *l, const struct dk_fakenet_dgram *d)
{
    trace(l, "deliver", &d->from, d->data, d->len);
    if (dk_addr_equal(&d->to, &l->saddr)) {
        struct dk_dtls_session *s;
        enum dk_dtls_event ev;
        int rc = dk_dtls_server_recv(&l->srv, &d->from, d->data, d->len, l->now, &s, &ev);
        if (rc && !l->srv_recv_err)
            l->srv_recv_err = rc;
        server_event(l, s, ev);
    } else if (l->cli && dk_addr_equal(&d->to, &l->caddr)) {
        int rc = dk_dtls_session_recv(l->cli, d->data, d->len, l->now);
        if (rc && !l->cli_err)
            l->cli_err = rc;
    }
}

bool link_run(struct link *l, bool (*pred)(const struct link *), dk_time_t limit_ms)
{
    dk_time_t end = l->now + limit_ms;
    for (int spins = 0; spins < 1000000; spins++) {
        drain(l);
        if (pred(l))
            return true;
        dk_time_t next = dk_fakenet_next_time(&l->net);
        if (l->cli)
            next = dk_time_min(next, dk_dtls_session_deadline(l->cli));
        next = dk_time_min(next, dk_dtls_server_deadline(&l->srv));
        if (next > end)
            return false;
        if (next > l->now)
            l->now = next;
        struct dk_fakenet_dgram d;
        while (dk_fakenet_recv(&l->net, l->now, &d)) {
            deliver(l, &d);
            drain(l);
        }
        if (l->cli && dk_dtls_session_deadline(l->cli) <= l->now) {
            int rc = dk_dtls_session_tick(l->cli, l->now);
            if (rc && !l->cli_err)
                l->cli_err = rc;
        }
        if (dk_dtls_server_deadline(&l->srv) <= l->now)
            dk_dtls_server_tick(&l->srv, l->now, on_closed, l);
    }
    fprintf(stderr, "link_run: no progress\n");
    return false;
}

bool link_connected(const struct link *l)
{
    return l->cli && dk_dtls_session_state(l->cli) == DK_DTLS_CONNECTED && l->srv_connected;
}

bool link_settled(const struct link *l)
{
    if (link_connected(l))
        return true;
    bool cli_done = l->cli && dk_dtls_session_state(l->cli) != DK_DTLS_HANDSHAKING;
    return cli_done && l->srv_closed;
}

void link_free(struct link *l)
{
    dk_dtls_session_free(l->cli);
    l->cli = NULL;
    dk_dtls_server_free(&l->srv);
    dk_dtls_config_free(&l->ccfg);
    dk_dtls_config_free(&l->scfg);
    dk_rng_free(&l->crng);
    dk_rng_free(&l->srng);
    dk_fakenet_free(&l->net);
}
