/* The device's mbedTLS 2.28 config for DK_SECURITY=psk and nosec: DTLS 1.2
 * client with TLS_PSK_WITH_AES_128_CCM_8 only (RFC 7252 §9.1.3.1). The nosec
 * profile uses it too: with no DTLS code linked, only the crypto the base and
 * store layers call (CTR_DRBG, SHA-256, AES-GCM) is pulled in by the linker.
 * Used by bench/footprint through DK_MBEDTLS_CONFIG (docs/performance.md). */
#ifndef DK_BENCH_MBEDTLS_CONFIG_PSK_H
#define DK_BENCH_MBEDTLS_CONFIG_PSK_H

#include "mbedtls-common.h"

#define MBEDTLS_SSL_CIPHERSUITES MBEDTLS_TLS_PSK_WITH_AES_128_CCM_8

#include "mbedtls/check_config.h"
#endif
