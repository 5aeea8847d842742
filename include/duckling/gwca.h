/* duckling — the gateway's own certificate authority and the operational
 * credentials it issues (DESIGN §6, issue 6).
 *
 * The CA is a P-256 key and a self-signed certificate made at the gateway's
 * first start in its data directory:
 *   DIR/ca.key  PEM (SEC1 "EC PRIVATE KEY"), mode 0600, created O_EXCL;
 *   DIR/ca.crt  PEM certificate, mode 0644 (public: devices get it as the
 *               LwM2M Server's trust anchor in /0/x/4).
 * A key file readable by group or others is refused. A key without its
 * certificate (a crash between the two writes) gets a fresh self-signed
 * certificate for the same key; a certificate without its key is refused.
 *
 * What it issues, all from the caller's CSPRNG:
 *  - dk_gwca_make_psk(): a fresh 128-bit PSK and a unique identity
 *    ("dk-" + 32 random hex digits: it says nothing about the device, since
 *    PSK identities cross the network in clear);
 *  - dk_gwca_issue(): a fresh P-256 key and a certificate signed by the CA
 *    with subject CN = the given name (the endpoint for devices; the
 *    gateway's own DTLS server certificate otherwise), a random 127-bit
 *    serial, valid from one hour before `now` with no well-defined expiry
 *    (99991231235959, RFC 5280 §4.1.2.5): a device's clock cannot be
 *    trusted, and the gateway revokes credentials in its database instead;
 *  - dk_gwca_make_cert(): dk_gwca_issue() for a device, with the database
 *    record (struct dk_gw_cred: certificate and its SHA-256) filled.
 *
 * Why mbedTLS (not GnuTLS) for this: dk_rng is an mbedTLS CTR_DRBG and
 * mbedTLS takes it as f_rng, so every key, serial and signature nonce comes
 * from the caller's CSPRNG (DESIGN §9.7), and its x509write API is the one
 * duckling-factory already uses, so the project has one certificate writer.
 * GnuTLS stays what it is for the gateway: the DTLS engine; it validates
 * these certificates in the handshake (a test checks both libraries accept
 * them).
 *
 * Not thread-safe; one context per gateway.
 */
#ifndef DUCKLING_GWCA_H
#define DUCKLING_GWCA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/gwdb.h>
#include <duckling/rng.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#define DK_GWCA_KEY_MAX 160   /* DER SEC1 P-256 private key: 121 bytes */
#define DK_GWCA_SPKI_MAX 96   /* DER SubjectPublicKeyInfo of a P-256 key: 91 bytes */
#define DK_GWCA_PSK_LEN 16    /* 128-bit operational PSK */
#define DK_GWCA_PSK_ID_LEN 35 /* "dk-" + 32 hex digits */
#define DK_GWCA_SUBJECT "CN=duckling gateway CA"

struct dk_gwca {
    mbedtls_pk_context key;
    mbedtls_x509_crt crt;
    uint8_t cert_der[DK_GW_CERT_MAX];
    size_t cert_der_len;
    uint8_t cert_sha256[32];
    bool ready;
};

/* A key pair and certificate issued by the CA. key_der is SECRET: wipe it
 * (dk_memzero) when done. */
struct dk_gwca_keypair {
    uint8_t key_der[DK_GWCA_KEY_MAX]; /* SEC1 ECPrivateKey, DER */
    size_t key_der_len;
    uint8_t cert_der[DK_GW_CERT_MAX];
    size_t cert_der_len;
    uint8_t spki_der[DK_GWCA_SPKI_MAX];
    size_t spki_der_len;
    uint8_t cert_sha256[32]; /* SHA-256 of cert_der */
    uint8_t spki_sha256[32]; /* SHA-256 of spki_der */
};

void dk_gwca_init(struct dk_gwca *ca);
/* Loads DIR/ca.key and DIR/ca.crt, or creates them (see above) with `now`
 * (Unix seconds) as the start of validity. *created (may be NULL) says
 * whether a new CA was made. Errors: DK_EPERM (key file not a regular file
 * or readable by others), DK_EPARSE (a file is not a P-256 key / a CA
 * certificate, or they do not belong together), DK_ENOTFOUND (certificate
 * without key), DK_EIO, DK_ECRYPTO, DK_EINVAL (path too long). */
int dk_gwca_load_or_create(struct dk_gwca *ca, const char *dir, struct dk_rng *rng, int64_t now,
                           bool *created);
/* The CA certificate (DER), valid while ca is. */
const uint8_t *dk_gwca_cert(const struct dk_gwca *ca, size_t *len);
/* A fresh P-256 key and a certificate with subject CN = cn (1..64 bytes of
 * printable ASCII but '\\'; ',' is escaped for mbedTLS's name parser), signed by the CA: basic
 * constraints CA:FALSE, key usage digitalSignature, subject and authority
 * key identifiers. Used for devices (cn = endpoint) and for the gateway's
 * own DTLS server certificate. Errors: DK_ESTATE (CA not loaded),
 * DK_EINVAL (bad cn), DK_ECRYPTO, DK_ENOSPC. */
int dk_gwca_issue(struct dk_gwca *ca, struct dk_rng *rng, const char *cn, int64_t now,
                  struct dk_gwca_keypair *out);
/* Checks that a DER certificate was signed by the CA (signature and chain
 * only; validity dates are not judged). Returns 0, DK_EAUTH or DK_EPARSE. */
int dk_gwca_verify(const struct dk_gwca *ca, const uint8_t *der, size_t len);
void dk_gwca_free(struct dk_gwca *ca);

/* Operational PSK credentials for ep: fills *c (endpoint, kind PSK,
 * identity, 16-byte key; other fields zero). c holds a SECRET.
 * Errors: DK_EINVAL (ep empty or too long), DK_ECRYPTO. */
int dk_gwca_make_psk(struct dk_rng *rng, const char *ep, struct dk_gw_cred *c);
/* Operational certificate credentials for ep: a key pair and certificate
 * (CN = ep) in *kp, and the database record in *c (endpoint, kind X509,
 * certificate, hash = its SHA-256). Errors: as dk_gwca_issue(). */
int dk_gwca_make_cert(struct dk_gwca *ca, struct dk_rng *rng, const char *ep, int64_t now,
                      struct dk_gw_cred *c, struct dk_gwca_keypair *kp);

#endif
