/* The device's mbedTLS 2.28 config for DK_SECURITY=full: the PSK profile plus
 * TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (RFC 7252 §9.1.3.3) on P-256 with X.509
 * certificates in DER (no PEM, no RSA, no other curve), and the key parsing
 * and writing the device does for raw public keys and its OOB hash.
 * Used by bench/footprint through DK_MBEDTLS_CONFIG (docs/performance.md). */
#ifndef DK_BENCH_MBEDTLS_CONFIG_FULL_H
#define DK_BENCH_MBEDTLS_CONFIG_FULL_H

#include "mbedtls-common.h"

#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
/* The backend judges the server's certificate (pin, CN) from the session. */
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE

/* P-256 only: smaller bignums and a small window (less RAM, less code). */
#define MBEDTLS_MPI_MAX_SIZE 32
#define MBEDTLS_MPI_WINDOW_SIZE 2
#define MBEDTLS_ECP_MAX_BITS 256
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0

/* A certificate flight of a P-256 chain fits the 1280-byte records. */
#define MBEDTLS_SSL_CIPHERSUITES                                                                   \
    MBEDTLS_TLS_PSK_WITH_AES_128_CCM_8, MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8

#include "mbedtls/check_config.h"
#endif
