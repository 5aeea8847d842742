/* Internal to the mbedTLS backend. */
#ifndef DK_DTLS_MB_H
#define DK_DTLS_MB_H

#include "dtls/backend.h"

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <stdbool.h>

/* DK_WITH_CERTS (DK_SECURITY, docs/build.md) needs an mbedTLS with X.509 and
 * ECDHE-ECDSA; a PSK-only mbedTLS config needs DK_SECURITY=psk. */
#if DK_WITH_CERTS &&                                                                               \
    !(defined(MBEDTLS_X509_CRT_PARSE_C) && defined(MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED))
#error "DK_SECURITY=full needs mbedTLS with X.509 and ECDHE-ECDSA: use a full config"
#endif
#if !defined(MBEDTLS_KEY_EXCHANGE_PSK_ENABLED) || !defined(MBEDTLS_SSL_PROTO_DTLS)
#error "the mbedTLS backend needs DTLS and the PSK key exchange"
#endif

/* Backend state of a dk_dtls_config. Heap-allocated, so the arrays the
 * mbedtls_ssl_config points at stay put. */
struct dk_mb_conf {
    mbedtls_ssl_config conf;
#if DK_WITH_CERTS
    mbedtls_x509_crt own;
    mbedtls_x509_crt ca;
    mbedtls_pk_context key;
    mbedtls_x509_crt_profile profile;
#endif
    int suites[5];
    mbedtls_ecp_group_id curves[2];
    int hashes[2];
    bool has_own, has_ca;
};

int dk_mb_config_setup(struct dk_dtls_config *cfg);
void dk_mb_config_free(struct dk_dtls_config *cfg);

#endif
