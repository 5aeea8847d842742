#include "testcreds.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <string.h>

static unsigned char serial_counter = 1;

static int gen_key(struct tc_id *id, int pkcs8)
{
    gnutls_x509_privkey_t k;
    if (gnutls_x509_privkey_init(&k) < 0)
        return -1;
    if (gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
        goto fail;
    size_t len = sizeof id->key;
    int e = pkcs8 ? gnutls_x509_privkey_export_pkcs8(k, GNUTLS_X509_FMT_DER, NULL,
                                                     GNUTLS_PKCS_PLAIN, id->key, &len)
                  : gnutls_x509_privkey_export(k, GNUTLS_X509_FMT_DER, id->key, &len);
    if (e < 0)
        goto fail;
    id->key_len = len;
    id->priv = k;
    return 0;
fail:
    gnutls_x509_privkey_deinit(k);
    return -1;
}

static int make_cert(struct tc_id *id, const char *cn, const struct tc_id *issuer, long nb, long na,
                     int is_ca)
{
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return -1;
    time_t now = time(NULL);
    unsigned char serial[2] = {0x01, serial_counter++};
    int ok =
        gnutls_x509_crt_set_version(crt, 3) >= 0 &&
        gnutls_x509_crt_set_serial(crt, serial, sizeof serial) >= 0 &&
        gnutls_x509_crt_set_activation_time(crt, now + nb) >= 0 &&
        gnutls_x509_crt_set_expiration_time(crt, now + na) >= 0 &&
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                      (unsigned)strlen(cn)) >= 0 &&
        gnutls_x509_crt_set_key(crt, id->priv) >= 0 &&
        gnutls_x509_crt_set_basic_constraints(crt, is_ca, -1) >= 0 &&
        gnutls_x509_crt_set_key_usage(crt, is_ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
                                                 : GNUTLS_KEY_DIGITAL_SIGNATURE) >= 0;
    if (ok)
        ok = issuer
                 ? gnutls_x509_crt_sign2(crt, issuer->crt, issuer->priv, GNUTLS_DIG_SHA256, 0) >= 0
                 : gnutls_x509_crt_sign2(crt, crt, id->priv, GNUTLS_DIG_SHA256, 0) >= 0;
    size_t len = sizeof id->cert;
    if (ok)
        ok = gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_DER, id->cert, &len) >= 0;
    if (!ok) {
        gnutls_x509_crt_deinit(crt);
        return -1;
    }
    id->cert_len = len;
    id->crt = crt;
    return 0;
}

int tc_make_ca(struct tc_id *ca, const char *cn)
{
    memset(ca, 0, sizeof *ca);
    if (gen_key(ca, 0))
        return -1;
    return make_cert(ca, cn, NULL, -3600, 10L * 365 * 86400, 1);
}

int tc_make_leaf(struct tc_id *id, const char *cn, const struct tc_id *issuer, long not_before_s,
                 long not_after_s, int pkcs8)
{
    memset(id, 0, sizeof *id);
    if (gen_key(id, pkcs8))
        return -1;
    return make_cert(id, cn, issuer, not_before_s, not_after_s, 0);
}

void tc_free(struct tc_id *id)
{
    if (id->crt)
        gnutls_x509_crt_deinit(id->crt);
    if (id->priv)
        gnutls_x509_privkey_deinit(id->priv);
    memset(id, 0, sizeof *id);
}

int tc_hashes(const struct tc_id *id, uint8_t cert_sha256[32], uint8_t spki_sha256[32])
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int rc = -1;
    unsigned char buf[512];
    if (mbedtls_sha256_ret(id->cert, id->cert_len, cert_sha256, 0) != 0)
        goto out;
    if (mbedtls_x509_crt_parse_der(&crt, id->cert, id->cert_len) != 0)
        goto out;
    /* mbedtls_pk_write_pubkey_der writes at the end of the buffer. */
    int n = mbedtls_pk_write_pubkey_der(&crt.pk, buf, sizeof buf);
    if (n <= 0)
        goto out;
    if (mbedtls_sha256_ret(buf + sizeof buf - n, (size_t)n, spki_sha256, 0) != 0)
        goto out;
    rc = 0;
out:
    mbedtls_x509_crt_free(&crt);
    return rc;
}
