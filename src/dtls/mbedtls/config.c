/* mbedTLS backend: configuration (suites, curves, keys, trust, PSK). */
#include "mb.h"

#include <duckling/err.h>
#include <duckling/mem.h>
#include <duckling/rng.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ecp.h>
#include <mbedtls/ssl_ciphersuites.h>

#include <string.h>

/* The CoAP/LwM2M suites first (RFC 7252 §9.1.3), AES-128-GCM after. */
static void pick_suites(struct dk_mb_conf *mc, unsigned modes)
{
    size_t n = 0;
    if (modes & DK_DTLS_MODE_PSK)
        mc->suites[n++] = MBEDTLS_TLS_PSK_WITH_AES_128_CCM_8;
    if (modes & DK_DTLS_MODE_CERT)
        mc->suites[n++] = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8;
    if (modes & DK_DTLS_MODE_PSK)
        mc->suites[n++] = MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256;
    if (modes & DK_DTLS_MODE_CERT)
        mc->suites[n++] = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    mc->suites[n] = 0;
}

#if DK_WITH_CERTS
/* P-256 keys only; SHA-256 for our signatures, SHA-2 accepted in chains. */
static void restrict_crypto(struct dk_mb_conf *mc)
{
    mc->curves[0] = MBEDTLS_ECP_DP_SECP256R1;
    mc->curves[1] = MBEDTLS_ECP_DP_NONE;
    mc->hashes[0] = MBEDTLS_MD_SHA256;
    mc->hashes[1] = MBEDTLS_MD_NONE;
    mc->profile.allowed_mds = MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) |
                              MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
                              MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512);
    mc->profile.allowed_pks =
        MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY);
    mc->profile.allowed_curves = MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1);
    mc->profile.rsa_min_bitlen = 2048;
    mbedtls_ssl_conf_curves(&mc->conf, mc->curves);
    mbedtls_ssl_conf_sig_hashes(&mc->conf, mc->hashes);
    mbedtls_ssl_conf_cert_profile(&mc->conf, &mc->profile);
}

/* Trust anchors come as concatenated DER certificates. */
static int parse_der_chain(mbedtls_x509_crt *chain, const uint8_t *der, size_t len)
{
    while (len) {
        unsigned char *p = (unsigned char *)der;
        size_t body;
        if (mbedtls_asn1_get_tag(&p, p + len, &body,
                                 MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
            return DK_ECRYPTO;
        size_t n = (size_t)(p - der) + body;
        if (mbedtls_x509_crt_parse_der(chain, der, n))
            return DK_ECRYPTO;
        der += n;
        len -= n;
    }
    return 0;
}

static bool is_p256(const mbedtls_pk_context *pk)
{
    return mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY) &&
           mbedtls_pk_ec(*pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

static int load_own(struct dk_mb_conf *mc, const struct dk_dtls_params *p)
{
    if (!p->cert_der)
        return 0;
    if (mbedtls_x509_crt_parse_der(&mc->own, p->cert_der, p->cert_der_len) ||
        mbedtls_pk_parse_key(&mc->key, p->key_der, p->key_der_len, NULL, 0))
        return DK_ECRYPTO;
    if (!is_p256(&mc->key) || mbedtls_pk_check_pair(&mc->own.pk, &mc->key))
        return DK_ECRYPTO;
    if (mbedtls_ssl_conf_own_cert(&mc->conf, &mc->own, &mc->key))
        return DK_ENOMEM;
    mc->has_own = true;
    return 0;
}

static int load_trust(struct dk_mb_conf *mc, const struct dk_dtls_params *p)
{
    if (!p->ca_der || !p->ca_der_len)
        return 0;
    int rc = parse_der_chain(&mc->ca, p->ca_der, p->ca_der_len);
    if (rc)
        return rc;
    mbedtls_ssl_conf_ca_chain(&mc->conf, &mc->ca, NULL);
    mc->has_ca = true;
    return 0;
}

#else
/* DK_SECURITY=psk: no certificates, no curves (the backend offers PSK only,
 * so dk_dtls_config_setup refuses certificate modes before we get here). */
static void restrict_crypto(struct dk_mb_conf *mc)
{
    (void)mc;
}

static int load_own(struct dk_mb_conf *mc, const struct dk_dtls_params *p)
{
    (void)mc;
    return p->cert_der ? DK_ENOTSUP : 0;
}

static int load_trust(struct dk_mb_conf *mc, const struct dk_dtls_params *p)
{
    (void)mc;
    return p->ca_der_len ? DK_ENOTSUP : 0;
}
#endif

/* Who must prove what (DESIGN §6): pinning modes let the handshake run and
 * decide on the hashes afterwards (see session.c), so mbedTLS only checks
 * the chain when trust anchors are the sole criterion. */
static int pick_authmode(struct dk_mb_conf *mc, const struct dk_dtls_params *p)
{
    int mode;
    if (!(p->modes & DK_DTLS_MODE_CERT)) {
        mode = MBEDTLS_SSL_VERIFY_NONE;
    } else if (p->role == DK_DTLS_CLIENT) {
        if (!mc->has_ca && !p->pinned_sha256 && !p->pin_any)
            return DK_EINVAL; /* nothing to check the server against */
        mode = (p->pinned_sha256 || p->pin_any) ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                                : MBEDTLS_SSL_VERIFY_REQUIRED;
    } else if (!p->require_client_cert) {
        mode = MBEDTLS_SSL_VERIFY_NONE;
    } else {
        if (!mc->has_ca && !p->pin_any)
            return DK_EINVAL;
        mode = p->pin_any ? MBEDTLS_SSL_VERIFY_OPTIONAL : MBEDTLS_SSL_VERIFY_REQUIRED;
    }
    mbedtls_ssl_conf_authmode(&mc->conf, mode);
    return 0;
}

#if defined(MBEDTLS_SSL_SRV_C) && defined(MBEDTLS_SSL_DTLS_HELLO_VERIFY)
/* The server table checked the cookie before the session existed, so the
 * session itself accepts whatever cookie the ClientHello carries. */
static int cookie_write_never(void *ctx, unsigned char **p, unsigned char *end,
                              const unsigned char *id, size_t id_len)
{
    (void)ctx, (void)p, (void)end, (void)id, (void)id_len;
    return MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE;
}

static int cookie_accept(void *ctx, const unsigned char *cookie, size_t cookie_len,
                         const unsigned char *id, size_t id_len)
{
    (void)ctx, (void)cookie, (void)cookie_len, (void)id, (void)id_len;
    return 0;
}
#endif

int dk_mb_psk_lookup(void *p_psk, mbedtls_ssl_context *ssl, const unsigned char *id,
                     size_t id_len); /* session.c */

static int setup_psk(struct dk_mb_conf *mc, const struct dk_dtls_params *p)
{
    if (!(p->modes & DK_DTLS_MODE_PSK))
        return 0;
    if (p->role == DK_DTLS_SERVER) {
        mbedtls_ssl_conf_psk_cb(&mc->conf, dk_mb_psk_lookup, NULL);
        return 0;
    }
    int rc =
        mbedtls_ssl_conf_psk(&mc->conf, p->psk, p->psk_len, p->psk_identity, p->psk_identity_len);
    if (rc == MBEDTLS_ERR_SSL_ALLOC_FAILED)
        return DK_ENOMEM;
    return rc ? DK_EINVAL : 0;
}

static int setup_conf(struct dk_mb_conf *mc, const struct dk_dtls_params *p)
{
    int endpoint = p->role == DK_DTLS_SERVER ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT;
    if (mbedtls_ssl_config_defaults(&mc->conf, endpoint, MBEDTLS_SSL_TRANSPORT_DATAGRAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT))
        return DK_ECRYPTO;
    /* DTLS 1.2 only: TLS 1.2 is "3.3" in mbedTLS's numbering. */
    mbedtls_ssl_conf_min_version(&mc->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&mc->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_rng(&mc->conf, dk_rng_mbedtls, p->rng);
    pick_suites(mc, p->modes);
    mbedtls_ssl_conf_ciphersuites(&mc->conf, mc->suites);
    restrict_crypto(mc);
    mbedtls_ssl_conf_handshake_timeout(&mc->conf, (uint32_t)p->retrans_min_ms,
                                       (uint32_t)p->retrans_max_ms);
    /* No resumption: nothing to gain for a device with one server, and the
     * ticket extension costs bytes in every ClientHello. (A minimal mbedTLS
     * config leaves these features out altogether: nothing to switch off.) */
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
    mbedtls_ssl_conf_session_tickets(&mc->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(&mc->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
    /* Every suite we offer is an AEAD: encrypt-then-MAC would only add an
     * extension to each hello. */
#if defined(MBEDTLS_SSL_ENCRYPT_THEN_MAC)
    mbedtls_ssl_conf_encrypt_then_mac(&mc->conf, MBEDTLS_SSL_ETM_DISABLED);
#endif
#if defined(MBEDTLS_SSL_SRV_C) && defined(MBEDTLS_SSL_DTLS_HELLO_VERIFY)
    if (p->role == DK_DTLS_SERVER)
        mbedtls_ssl_conf_dtls_cookies(&mc->conf, cookie_write_never, cookie_accept, NULL);
#else
    if (p->role == DK_DTLS_SERVER)
        return DK_ENOTSUP; /* a client-only mbedTLS config (the device's) */
#endif
    int rc = setup_psk(mc, p);
    if (!rc)
        rc = load_own(mc, p);
    if (!rc)
        rc = load_trust(mc, p);
    if (!rc)
        rc = pick_authmode(mc, p);
    return rc;
}

static bool params_sane(const struct dk_dtls_params *p)
{
    if (p->retrans_min_ms <= 0 || p->retrans_max_ms < p->retrans_min_ms ||
        p->retrans_max_ms > UINT32_MAX)
        return false;
    /* An MTU must leave room for a record header, a handshake header and some payload. */
    return p->mtu >= 128;
}

int dk_mb_config_setup(struct dk_dtls_config *cfg)
{
    if (!params_sane(&cfg->p))
        return DK_EINVAL;
    struct dk_mb_conf *mc = dk_alloc_zeroed(dk_dtls_alloc(cfg), sizeof *mc);
    if (!mc)
        return DK_ENOMEM;
    mbedtls_ssl_config_init(&mc->conf);
#if DK_WITH_CERTS
    mbedtls_x509_crt_init(&mc->own);
    mbedtls_x509_crt_init(&mc->ca);
    mbedtls_pk_init(&mc->key);
#endif
    cfg->impl = mc;
    int rc = setup_conf(mc, &cfg->p);
    if (rc) {
        dk_mb_config_free(cfg);
        return rc;
    }
    return 0;
}

void dk_mb_config_free(struct dk_dtls_config *cfg)
{
    struct dk_mb_conf *mc = cfg->impl;
    if (!mc)
        return;
    mbedtls_ssl_config_free(&mc->conf); /* wipes the PSK */
#if DK_WITH_CERTS
    mbedtls_x509_crt_free(&mc->own);
    mbedtls_x509_crt_free(&mc->ca);
    mbedtls_pk_free(&mc->key); /* wipes the private key */
#endif
    dk_memzero(mc, sizeof *mc);
    dk_alloc_release(dk_dtls_alloc(cfg), mc);
    cfg->impl = NULL;
}
