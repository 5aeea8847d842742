/* Internal to the mbedTLS backend. */
#ifndef DK_DTLS_MB_H
#define DK_DTLS_MB_H

#include "dtls/backend.h"

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <stdbool.h>

/* Backend state of a dk_dtls_config. Heap-allocated, so the arrays the
 * mbedtls_ssl_config points at stay put. */
struct dk_mb_conf {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt own;
    mbedtls_x509_crt ca;
    mbedtls_pk_context key;
    mbedtls_x509_crt_profile profile;
    int suites[5];
    mbedtls_ecp_group_id curves[2];
    int hashes[2];
    bool has_own, has_ca;
};

int dk_mb_config_setup(struct dk_dtls_config *cfg);
void dk_mb_config_free(struct dk_dtls_config *cfg);

#endif
