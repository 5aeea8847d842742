/* Test credentials made at run time with GnuTLS: P-256 keys, a CA, leaf
 * certificates (valid, expired, self-signed). DER in fixed buffers. */
#ifndef DK_TEST_CREDS_H
#define DK_TEST_CREDS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct tc_id {
    uint8_t key[512]; /* private key, DER (SEC1 or PKCS#8) */
    size_t key_len;
    uint8_t cert[2048]; /* certificate, DER */
    size_t cert_len;
    void *priv; /* gnutls_x509_privkey_t, for signing others */
    void *crt;  /* gnutls_x509_crt_t */
};

/* A CA certificate (self-signed, CA:TRUE). Returns 0 or -1. */
int tc_make_ca(struct tc_id *ca, const char *cn);
/* A leaf certificate for cn signed by issuer (NULL: self-signed), valid
 * from now+not_before_s to now+not_after_s. pkcs8: key in PKCS#8 instead of SEC1. */
int tc_make_leaf(struct tc_id *id, const char *cn, const struct tc_id *issuer, long not_before_s,
                 long not_after_s, int pkcs8);
void tc_free(struct tc_id *id);

/* SHA-256 of the DER certificate and of its DER SubjectPublicKeyInfo,
 * computed with mbedTLS (independently of the GnuTLS code under test). */
int tc_hashes(const struct tc_id *id, uint8_t cert_sha256[32], uint8_t spki_sha256[32]);

#endif
