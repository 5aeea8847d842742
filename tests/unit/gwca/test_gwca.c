/* Unit tests of the gateway CA (include/duckling/gwca.h): files and modes,
 * reload, recovery of a missing certificate, refusals, what a certificate
 * says, PSK credentials, and DTLS handshakes with issued credentials: an
 * mbedTLS client (the device) against a GnuTLS server that validates against
 * the CA (the gateway's LwM2M Server), and the other way round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit/dtls/harness.h"

#include <duckling/err.h>
#include <duckling/gwca.h>
#include <duckling/mem.h>

#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW 1790000000 /* 2026-09-21 */

struct fx {
    char dir[64];
    struct dk_rng rng;
    struct dk_gwca ca;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/dk_gwca_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    dk_rng_init(&f->rng);
    if (dk_rng_setup(&f->rng, "gwca", 4) != 0)
        return -1;
    dk_gwca_init(&f->ca);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    dk_gwca_free(&f->ca);
    dk_rng_free(&f->rng);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void path_of(struct fx *f, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", f->dir, name);
}

static mode_t mode_of(struct fx *f, const char *name)
{
    char p[128];
    struct stat st;
    path_of(f, name, p, sizeof p);
    assert_int_equal(stat(p, &st), 0);
    return st.st_mode & 0777;
}

static void test_create_then_load(void **state)
{
    struct fx *f = *state;
    bool created = false;
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, &created), 0);
    assert_true(created);
    assert_int_equal(mode_of(f, "ca.key"), 0600);
    assert_int_equal(mode_of(f, "ca.crt"), 0644);
    size_t len1;
    const uint8_t *der = dk_gwca_cert(&f->ca, &len1);
    assert_non_null(der);
    uint8_t first[DK_GW_CERT_MAX];
    memcpy(first, der, len1);

    /* The certificate: a self-signed P-256 CA. */
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    assert_int_equal(mbedtls_x509_crt_parse_der(&crt, first, len1), 0);
    assert_true(crt.ca_istrue);
    char dn[128];
    assert_true(mbedtls_x509_dn_gets(dn, sizeof dn, &crt.subject) > 0);
    assert_string_equal(dn, "CN=duckling gateway CA");
    assert_int_equal(mbedtls_pk_get_type(&crt.pk), MBEDTLS_PK_ECKEY);
    uint32_t flags = 0;
    assert_int_equal(mbedtls_x509_crt_verify(&crt, &crt, NULL, NULL, &flags, NULL, NULL), 0);
    mbedtls_x509_crt_free(&crt);

    /* Second start: the same CA. */
    dk_gwca_free(&f->ca);
    created = true;
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW + 10, &created), 0);
    assert_false(created);
    size_t len2;
    der = dk_gwca_cert(&f->ca, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(first, der, len1);
}

static void test_key_mode_refused(void **state)
{
    struct fx *f = *state;
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, NULL), 0);
    dk_gwca_free(&f->ca);
    char p[128];
    path_of(f, "ca.key", p, sizeof p);
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, NULL), DK_EPERM);
    assert_null(dk_gwca_cert(&f->ca, &(size_t){0}));
    /* A symbolic link is not followed. */
    char link[128];
    path_of(f, "real.key", link, sizeof link);
    assert_int_equal(chmod(p, 0600), 0);
    assert_int_equal(rename(p, link), 0);
    assert_int_equal(symlink(link, p), 0);
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, NULL), DK_EPERM);
}

static void test_missing_cert_recreated(void **state)
{
    struct fx *f = *state;
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, NULL), 0);
    struct dk_gwca_keypair kp;
    assert_int_equal(dk_gwca_issue(&f->ca, &f->rng, "dev-1", NOW, &kp), 0);
    dk_gwca_free(&f->ca);
    char p[128];
    path_of(f, "ca.crt", p, sizeof p);
    assert_int_equal(unlink(p), 0);
    bool created = true;
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, &created), 0);
    assert_false(created); /* the same key: what it signed still verifies */
    assert_int_equal(mode_of(f, "ca.crt"), 0644);
    assert_int_equal(dk_gwca_verify(&f->ca, kp.cert_der, kp.cert_der_len), 0);
    dk_memzero(&kp, sizeof kp);
}

static void write_text(struct fx *f, const char *name, const char *text, mode_t mode)
{
    char p[128];
    path_of(f, name, p, sizeof p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    chmod(p, mode);
}

static void test_bad_files_refused(void **state)
{
    struct fx *f = *state;
    /* A certificate without its key. */
    write_text(f, "ca.crt", "-----BEGIN CERTIFICATE-----\n", 0644);
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, NULL), DK_ENOTFOUND);
    /* A key that is not a key. */
    write_text(f, "ca.key", "not a key\n", 0600);
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, NULL), DK_EPARSE);

    /* Another CA's certificate with our key. */
    char p[128];
    path_of(f, "ca.key", p, sizeof p);
    unlink(p);
    path_of(f, "ca.crt", p, sizeof p);
    unlink(p);
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, NULL), 0);
    char other[80];
    snprintf(other, sizeof other, "%s/other", f->dir);
    assert_int_equal(mkdir(other, 0700), 0);
    struct dk_gwca ca2;
    dk_gwca_init(&ca2);
    assert_int_equal(dk_gwca_load_or_create(&ca2, other, &f->rng, NOW, NULL), 0);
    dk_gwca_free(&ca2);
    char from[128];
    snprintf(from, sizeof from, "%s/ca.crt", other);
    assert_int_equal(rename(from, p), 0);
    dk_gwca_free(&f->ca);
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, NULL), DK_EPARSE);
}

static void test_issue_device_cert(void **state)
{
    struct fx *f = *state;
    struct dk_gw_cred c;
    struct dk_gwca_keypair kp;
    assert_int_equal(dk_gwca_make_cert(&f->ca, &f->rng, "dev-1", NOW, &c, &kp), DK_ESTATE);
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, NULL), 0);
    assert_int_equal(dk_gwca_make_cert(&f->ca, &f->rng, "lamp,7=x", NOW, &c, &kp), 0);
    assert_int_equal(c.kind, DK_GW_CRED_X509);
    assert_string_equal(c.endpoint, "lamp,7=x");
    assert_true(c.has_hash);
    assert_int_equal(c.cert_len, kp.cert_der_len);
    assert_memory_equal(c.cert, kp.cert_der, c.cert_len);
    uint8_t h[32];
    mbedtls_sha256_ret(kp.cert_der, kp.cert_der_len, h, 0);
    assert_memory_equal(c.hash, h, 32);
    assert_memory_equal(kp.cert_sha256, h, 32);
    mbedtls_sha256_ret(kp.spki_der, kp.spki_der_len, h, 0);
    assert_memory_equal(kp.spki_sha256, h, 32);
    assert_int_equal(dk_gwca_verify(&f->ca, kp.cert_der, kp.cert_der_len), 0);

    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    assert_int_equal(mbedtls_x509_crt_parse_der(&crt, kp.cert_der, kp.cert_der_len), 0);
    assert_false(crt.ca_istrue);
    /* CN: the endpoint, comma and all. */
    const mbedtls_x509_name *n = &crt.subject;
    assert_int_equal(MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid), 0);
    assert_int_equal(n->val.len, strlen("lamp,7=x"));
    assert_memory_equal(n->val.p, "lamp,7=x", n->val.len);
    assert_null(n->next);
    /* Valid from an hour before now, no expiry. */
    assert_int_equal(crt.valid_from.year, 2026);
    assert_int_equal(crt.valid_to.year, 9999);
    assert_int_equal(crt.serial.len, 16);
    /* The key belongs to the certificate. */
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    assert_int_equal(mbedtls_pk_parse_key(&pk, kp.key_der, kp.key_der_len, NULL, 0), 0);
    assert_int_equal(mbedtls_pk_check_pair(&crt.pk, &pk), 0);
    mbedtls_pk_free(&pk);
    mbedtls_x509_crt_free(&crt);

    /* A second issue: another key, another serial. */
    struct dk_gw_cred c2;
    struct dk_gwca_keypair kp2;
    assert_int_equal(dk_gwca_make_cert(&f->ca, &f->rng, "lamp,7=x", NOW, &c2, &kp2), 0);
    assert_memory_not_equal(c.hash, c2.hash, 32);
    assert_memory_not_equal(kp.spki_sha256, kp2.spki_sha256, 32);

    /* Bad names. */
    assert_int_equal(dk_gwca_make_cert(&f->ca, &f->rng, "", NOW, &c, &kp), DK_EINVAL);
    assert_int_equal(dk_gwca_make_cert(&f->ca, &f->rng, "a\\b", NOW, &c, &kp), DK_EINVAL);
    assert_int_equal(dk_gwca_make_cert(&f->ca, &f->rng, "a\nb", NOW, &c, &kp), DK_EINVAL);
    char longname[DK_GW_EP_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(dk_gwca_make_cert(&f->ca, &f->rng, longname, NOW, &c, &kp), DK_EINVAL);
    longname[DK_GW_EP_MAX] = '\0';
    assert_int_equal(dk_gwca_make_cert(&f->ca, &f->rng, longname, NOW, &c, &kp), 0);
    dk_memzero(&kp, sizeof kp);
    dk_memzero(&kp2, sizeof kp2);
}

static void test_verify_refuses_foreign(void **state)
{
    struct fx *f = *state;
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, NULL), 0);
    const struct pki *p = test_pki();
    assert_int_equal(dk_gwca_verify(&f->ca, p->client_cert.der, p->client_cert.len), DK_EAUTH);
    assert_int_equal(dk_gwca_verify(&f->ca, p->self_cert.der, p->self_cert.len), DK_EAUTH);
    uint8_t junk[4] = {0x30, 0x02, 0x01, 0x00};
    assert_int_equal(dk_gwca_verify(&f->ca, junk, sizeof junk), DK_EPARSE);
}

static void test_psk(void **state)
{
    struct fx *f = *state;
    struct dk_gw_cred a, b;
    assert_int_equal(dk_gwca_make_psk(&f->rng, "dev-1", &a), 0);
    assert_int_equal(dk_gwca_make_psk(&f->rng, "dev-1", &b), 0);
    assert_int_equal(a.kind, DK_GW_CRED_PSK);
    assert_string_equal(a.endpoint, "dev-1");
    assert_int_equal(a.psk_len, 16);
    assert_int_equal(a.psk_identity_len, DK_GWCA_PSK_ID_LEN);
    assert_memory_equal(a.psk_identity, "dk-", 3);
    for (size_t i = 3; i < a.psk_identity_len; i++)
        assert_non_null(strchr("0123456789abcdef", a.psk_identity[i]));
    /* Nothing of the endpoint in the identity; nothing shared between two. */
    assert_memory_not_equal(a.psk_identity, b.psk_identity, a.psk_identity_len);
    assert_memory_not_equal(a.psk, b.psk, 16);
    assert_false(a.has_hash);
    assert_int_equal(a.cert_len, 0);
    assert_int_equal(dk_gwca_make_psk(&f->rng, "", &a), DK_EINVAL);
    dk_memzero(&a, sizeof a);
    dk_memzero(&b, sizeof b);
}

/* ---- handshakes with issued credentials -------------------------------- */

static struct blob blob_of(const uint8_t *der, size_t len)
{
    struct blob b;
    assert_true(len <= sizeof b.der);
    memcpy(b.der, der, len);
    b.len = len;
    return b;
}

/* The device (client) with its issued certificate; the gateway's server
 * certificate from the same CA; both validate against the CA. */
static void handshake(struct fx *f, const struct pairing *pr, bool foreign_client)
{
    assert_int_equal(dk_gwca_load_or_create(&f->ca, f->dir, &f->rng, NOW, NULL), 0);
    struct dk_gwca_keypair dev, srv;
    assert_int_equal(dk_gwca_issue(&f->ca, &f->rng, "dev-1", NOW, &dev), 0);
    assert_int_equal(dk_gwca_issue(&f->ca, &f->rng, "duckling-gateway", NOW, &srv), 0);
    size_t ca_len;
    const uint8_t *ca_der = dk_gwca_cert(&f->ca, &ca_len);
    struct blob ccert = blob_of(dev.cert_der, dev.cert_der_len);
    struct blob ckey = blob_of(dev.key_der, dev.key_der_len);
    struct blob scert = blob_of(srv.cert_der, srv.cert_der_len);
    struct blob skey = blob_of(srv.key_der, srv.key_der_len);
    const struct pki *p = test_pki();

    struct link l;
    link_init(&l, pr, DK_DTLS_MODE_CERT);
    if (foreign_client)
        link_use_certs(&l, &p->client_cert, &p->client_key, &scert, &skey);
    else
        link_use_certs(&l, &ccert, &ckey, &scert, &skey);
    l.cp.ca_der = ca_der;
    l.cp.ca_der_len = ca_len;
    l.sp.ca_der = ca_der;
    l.sp.ca_der_len = ca_len;
    assert_int_equal(link_start(&l), 0);
    link_run(&l, link_settled, 60000);
    if (foreign_client) {
        assert_false(l.srv_connected);
    } else {
        assert_true(link_connected(&l));
        assert_true(l.srv_peer.has_cert);
        assert_memory_equal(l.srv_peer.cert_sha256, dev.cert_sha256, 32);
        assert_memory_equal(l.srv_peer.spki_sha256, dev.spki_sha256, 32);
        assert_string_equal(l.srv_peer.cert_cn, "dev-1");
    }
    link_free(&l);
    dk_memzero(&dev, sizeof dev);
    dk_memzero(&srv, sizeof srv);
}

static const struct pairing mbed_gnu = {"mbedtls-client/gnutls-server", dk_dtls_backend_mbedtls,
                                        dk_dtls_backend_gnutls};
static const struct pairing gnu_mbed = {"gnutls-client/mbedtls-server", dk_dtls_backend_gnutls,
                                        dk_dtls_backend_mbedtls};

static void test_handshake_device_to_gateway(void **state)
{
    handshake(*state, &mbed_gnu, false);
}

static void test_handshake_gnutls_client(void **state)
{
    handshake(*state, &gnu_mbed, false);
}

static void test_handshake_foreign_cert_refused(void **state)
{
    handshake(*state, &mbed_gnu, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_then_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_mode_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_cert_recreated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issue_device_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_refuses_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_psk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_device_to_gateway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_gnutls_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_foreign_cert_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
