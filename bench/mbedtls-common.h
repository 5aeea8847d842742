/* Shared part of the device's minimal mbedTLS 2.28 configs
 * (mbedtls-config-psk.h, mbedtls-config-full.h). Included by them only.
 *
 * What duckling-device needs from mbedTLS in every profile:
 *   base   CTR_DRBG (AES-256) seeded from getrandom   -> AES, CTR_DRBG
 *   store  SHA-256 integrity, AES-GCM at rest         -> SHA256, GCM
 *   dtls   DTLS 1.2 client, AES-128-CCM-8 records     -> SSL_CLI, PROTO_DTLS, CCM
 * No server side, no TLS over TCP, no resumption, no renegotiation, no
 * encrypt-then-MAC (every suite is an AEAD), no PEM, no file system, no
 * debug strings, no self tests, no threading, no time source. */

/* System support */
#define MBEDTLS_HAVE_ASM

/* Crypto */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES   /* tables in flash (counted in text) ... */
#define MBEDTLS_AES_FEWER_TABLES /* ... and 2 KB of them instead of 8 KB */
#define MBEDTLS_CCM_C
#define MBEDTLS_GCM_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_CTR_DRBG_C

/* DTLS 1.2 client */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_DTLS
#define MBEDTLS_SSL_DTLS_ANTI_REPLAY
#define MBEDTLS_KEY_EXCHANGE_PSK_ENABLED
/* RFC 7627 extended master secret: 4 bytes per hello, against session
 * splicing; Debian's build has it too. */
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET

/* Record buffers: the largest datagram is DK_DTLS_MTU_DEFAULT (1280 B), the
 * largest CoAP message a 1024-byte block plus its header. Debian's default is
 * 16 KB each way. */
#define MBEDTLS_SSL_IN_CONTENT_LEN 1280
#define MBEDTLS_SSL_OUT_CONTENT_LEN 1280
/* Out-of-order handshake messages are buffered up to this much. */
#define MBEDTLS_SSL_DTLS_MAX_BUFFERING 2048
