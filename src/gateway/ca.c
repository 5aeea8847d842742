/* The gateway's CA and the operational credentials it issues (gwca.h). */
#include <duckling/gwca.h>

#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/mem.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PEM_MAX 4096

void dk_gwca_init(struct dk_gwca *ca)
{
    memset(ca, 0, sizeof *ca);
    mbedtls_pk_init(&ca->key);
    mbedtls_x509_crt_init(&ca->crt);
}

void dk_gwca_free(struct dk_gwca *ca)
{
    mbedtls_pk_free(&ca->key); /* mbedTLS zeroes the private value */
    mbedtls_x509_crt_free(&ca->crt);
    memset(ca, 0, sizeof *ca);
    mbedtls_pk_init(&ca->key);
    mbedtls_x509_crt_init(&ca->crt);
}

const uint8_t *dk_gwca_cert(const struct dk_gwca *ca, size_t *len)
{
    *len = ca->ready ? ca->cert_der_len : 0;
    return ca->ready ? ca->cert_der : NULL;
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    mbedtls_sha256_ret(p, n, out, 0);
}

/* ---- files --------------------------------------------------------------- */

/* Reads a whole small file (PEM) into buf and NUL-terminates it, as mbedTLS
 * wants for PEM. secret: the file must be a regular file, not readable by
 * group or others. Returns 0, DK_ENOTFOUND, DK_EPERM, DK_EIO, DK_ELIMIT. */
static int read_file(const char *path, bool secret, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? DK_ENOTFOUND : errno == ELOOP ? DK_EPERM : DK_EIO;
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : DK_EIO;
    if (!rc && (!S_ISREG(st.st_mode) || (secret && (st.st_mode & 077))))
        rc = DK_EPERM;
    size_t n = 0;
    while (!rc) {
        if (n == cap - 1) {
            rc = DK_ELIMIT;
            break;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = DK_EIO;
        else if (r == 0)
            break;
        else
            n += (size_t)r;
    }
    close(fd);
    buf[rc ? 0 : n] = '\0';
    *len = rc ? 0 : n + 1; /* mbedTLS counts the NUL of PEM text */
    return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return DK_EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes text to path through a temporary file (fsync, rename, fsync of the
 * directory), so a crash leaves the old file or the new one. */
static int write_file_atomic(const char *dir, const char *path, const char *text, mode_t mode)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return DK_EINVAL;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return DK_EIO;
    int rc = fchmod(fd, mode) == 0 ? 0 : DK_EIO;
    if (!rc)
        rc = write_all(fd, text, strlen(text));
    if (!rc && fsync(fd) != 0)
        rc = DK_EIO;
    close(fd);
    if (!rc && rename(tmp, path) != 0)
        rc = DK_EIO;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* ---- certificates ---------------------------------------------------------- */

/* "YYYYMMDDhhmmss" (UTC) for mbedTLS. */
static void x509_time(int64_t t, char out[16])
{
    time_t tt = (time_t)(t < 0 ? 0 : t);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

static int random_serial(struct dk_rng *rng, mbedtls_mpi *serial)
{
    uint8_t b[16];
    if (dk_rng_bytes(rng, b, sizeof b) != 0)
        return DK_ECRYPTO;
    b[0] = (uint8_t)((b[0] & 0x7f) | 0x01); /* positive and 16 bytes long */
    return mbedtls_mpi_read_binary(serial, b, sizeof b) == 0 ? 0 : DK_ECRYPTO;
}

static int gen_key(struct dk_rng *rng, mbedtls_pk_context *pk)
{
    if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
        return DK_ECRYPTO;
    return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), dk_rng_mbedtls, rng)
               ? DK_ECRYPTO
               : 0;
}

static bool is_p256(const mbedtls_pk_context *pk)
{
    return mbedtls_pk_get_type(pk) == MBEDTLS_PK_ECKEY &&
           mbedtls_pk_ec(*pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

/* "CN=<cn>" for mbedTLS's name parser, which knows the escape "\," only. */
static int subject_of(const char *cn, char *out, size_t cap)
{
    size_t len = strlen(cn);
    if (len == 0 || len > DK_GW_EP_MAX)
        return DK_EINVAL;
    size_t n = (size_t)snprintf(out, cap, "CN=");
    for (const char *p = cn; *p; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '\\')
            return DK_EINVAL;
        if (n + 3 >= cap)
            return DK_ENOSPC;
        if (*p == ',')
            out[n++] = '\\';
        out[n++] = *p;
    }
    out[n] = '\0';
    return 0;
}

/* Signs a certificate for subject_key, issued by issuer_key/issuer_name.
 * ca: a CA certificate (self-signed) instead of an end-entity one. The DER
 * goes to der[*len]. */
static int write_cert(struct dk_rng *rng, mbedtls_pk_context *subject_key, const char *subject,
                      mbedtls_pk_context *issuer_key, const char *issuer, bool ca, int64_t now,
                      uint8_t *der, size_t cap, size_t *len)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    char not_before[16];
    x509_time(now - 3600, not_before); /* some slack for clocks that lag */
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, subject_key);
    mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
    int rc = random_serial(rng, &serial);
    int e = 0;
    if (!rc)
        e = mbedtls_x509write_crt_set_serial(&w, &serial);
    if (!rc && !e)
        e = mbedtls_x509write_crt_set_subject_name(&w, subject);
    if (!rc && !e)
        e = mbedtls_x509write_crt_set_issuer_name(&w, issuer);
    if (!rc && !e)
        e = mbedtls_x509write_crt_set_validity(&w, not_before, "99991231235959");
    if (!rc && !e)
        e = mbedtls_x509write_crt_set_basic_constraints(&w, ca ? 1 : 0, ca ? 0 : -1);
    if (!rc && !e)
        e = mbedtls_x509write_crt_set_key_usage(
            &w, ca ? (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)
                   : MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    if (!rc && !e)
        e = mbedtls_x509write_crt_set_subject_key_identifier(&w);
    if (!rc && !e)
        e = mbedtls_x509write_crt_set_authority_key_identifier(&w);
    if (!rc && e)
        rc = DK_ECRYPTO;
    if (!rc) {
        int n = mbedtls_x509write_crt_der(&w, der, cap, dk_rng_mbedtls, rng);
        if (n == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL)
            rc = DK_ENOSPC;
        else if (n <= 0)
            rc = DK_ECRYPTO;
        else {
            /* mbedTLS writes at the end of the buffer. */
            memmove(der, der + cap - (size_t)n, (size_t)n);
            *len = (size_t)n;
        }
    }
    mbedtls_x509write_crt_free(&w);
    mbedtls_mpi_free(&serial);
    return rc;
}

/* Parses ca->cert_der into ca->crt and checks it is a CA certificate of
 * ca->key. */
static int adopt_cert(struct dk_gwca *ca)
{
    mbedtls_x509_crt_free(&ca->crt);
    mbedtls_x509_crt_init(&ca->crt);
    if (mbedtls_x509_crt_parse_der(&ca->crt, ca->cert_der, ca->cert_der_len) != 0)
        return DK_EPARSE;
    if (!ca->crt.ca_istrue || !is_p256(&ca->crt.pk) ||
        mbedtls_pk_check_pair(&ca->crt.pk, &ca->key) != 0)
        return DK_EPARSE;
    sha256(ca->cert_der, ca->cert_der_len, ca->cert_sha256);
    return 0;
}

static int self_sign(struct dk_gwca *ca, struct dk_rng *rng, int64_t now)
{
    int rc = write_cert(rng, &ca->key, DK_GWCA_SUBJECT, &ca->key, DK_GWCA_SUBJECT, true, now,
                        ca->cert_der, sizeof ca->cert_der, &ca->cert_der_len);
    return rc ? rc : adopt_cert(ca);
}

static int save_cert(struct dk_gwca *ca, const char *dir, const char *path)
{
    char pem[PEM_MAX];
    size_t olen = 0;
    static const char hdr[] = "-----BEGIN CERTIFICATE-----\n";
    static const char ftr[] = "-----END CERTIFICATE-----\n";
    if (mbedtls_pem_write_buffer(hdr, ftr, ca->cert_der, ca->cert_der_len, (unsigned char *)pem,
                                 sizeof pem, &olen) != 0)
        return DK_ENOSPC;
    return write_file_atomic(dir, path, pem, 0644);
}

static int save_key(struct dk_gwca *ca, const char *dir, const char *path)
{
    char pem[PEM_MAX];
    int rc =
        mbedtls_pk_write_key_pem(&ca->key, (unsigned char *)pem, sizeof pem) == 0 ? 0 : DK_ECRYPTO;
    if (!rc)
        rc = write_file_atomic(dir, path, pem, 0600);
    dk_memzero(pem, sizeof pem);
    return rc;
}

static int load_key(struct dk_gwca *ca, const char *path)
{
    char pem[PEM_MAX];
    size_t len = 0;
    int rc = read_file(path, true, pem, sizeof pem, &len);
    if (!rc) {
        if (mbedtls_pk_parse_key(&ca->key, (const unsigned char *)pem, len, NULL, 0) != 0 ||
            !is_p256(&ca->key))
            rc = DK_EPARSE;
    }
    dk_memzero(pem, sizeof pem);
    return rc == DK_ELIMIT ? DK_EPARSE : rc;
}

static int load_cert(struct dk_gwca *ca, const char *path)
{
    char pem[PEM_MAX];
    size_t len = 0;
    int rc = read_file(path, false, pem, sizeof pem, &len);
    if (rc)
        return rc == DK_ELIMIT ? DK_EPARSE : rc;
    mbedtls_x509_crt tmp;
    mbedtls_x509_crt_init(&tmp);
    if (mbedtls_x509_crt_parse(&tmp, (const unsigned char *)pem, len) != 0 || tmp.next ||
        tmp.raw.len > sizeof ca->cert_der)
        rc = DK_EPARSE;
    else {
        memcpy(ca->cert_der, tmp.raw.p, tmp.raw.len);
        ca->cert_der_len = tmp.raw.len;
    }
    mbedtls_x509_crt_free(&tmp);
    return rc ? rc : adopt_cert(ca);
}

int dk_gwca_load_or_create(struct dk_gwca *ca, const char *dir, struct dk_rng *rng, int64_t now,
                           bool *created)
{
    char key_path[4096], crt_path[4096];
    if (created)
        *created = false;
    if (snprintf(key_path, sizeof key_path, "%s/ca.key", dir) >= (int)sizeof key_path ||
        snprintf(crt_path, sizeof crt_path, "%s/ca.crt", dir) >= (int)sizeof crt_path)
        return DK_EINVAL;
    dk_gwca_free(ca);
    int rc = load_key(ca, key_path);
    if (rc == DK_ENOTFOUND) {
        struct stat st;
        if (lstat(crt_path, &st) == 0)
            return DK_ENOTFOUND; /* a certificate without its key: refuse */
        /* First start: a new CA. */
        rc = gen_key(rng, &ca->key);
        if (!rc)
            rc = self_sign(ca, rng, now);
        if (!rc)
            rc = save_key(ca, dir, key_path);
        if (!rc)
            rc = save_cert(ca, dir, crt_path);
        if (rc) {
            dk_gwca_free(ca);
            return rc;
        }
        ca->ready = true;
        if (created)
            *created = true;
        return 0;
    }
    if (!rc) {
        rc = load_cert(ca, crt_path);
        if (rc == DK_ENOTFOUND) {
            /* The key was saved, the certificate not: sign a new one. */
            rc = self_sign(ca, rng, now);
            if (!rc)
                rc = save_cert(ca, dir, crt_path);
        }
    }
    if (rc) {
        dk_gwca_free(ca);
        return rc;
    }
    ca->ready = true;
    return 0;
}

int dk_gwca_issue(struct dk_gwca *ca, struct dk_rng *rng, const char *cn, int64_t now,
                  struct dk_gwca_keypair *out)
{
    memset(out, 0, sizeof *out);
    if (!ca->ready)
        return DK_ESTATE;
    char subject[2 * DK_GW_EP_MAX + 8], issuer[256];
    int rc = subject_of(cn, subject, sizeof subject);
    if (rc)
        return rc;
    if (mbedtls_x509_dn_gets(issuer, sizeof issuer, &ca->crt.subject) < 0)
        return DK_ENOSPC;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    uint8_t tmp[DK_GWCA_KEY_MAX];
    rc = gen_key(rng, &pk);
    if (!rc)
        rc = write_cert(rng, &pk, subject, &ca->key, issuer, false, now, out->cert_der,
                        sizeof out->cert_der, &out->cert_der_len);
    if (!rc) {
        int n = mbedtls_pk_write_key_der(&pk, tmp, sizeof tmp);
        if (n <= 0)
            rc = DK_ECRYPTO;
        else {
            memcpy(out->key_der, tmp + sizeof tmp - (size_t)n, (size_t)n);
            out->key_der_len = (size_t)n;
        }
    }
    if (!rc) {
        int n = mbedtls_pk_write_pubkey_der(&pk, out->spki_der, sizeof out->spki_der);
        if (n <= 0)
            rc = DK_ECRYPTO;
        else {
            memmove(out->spki_der, out->spki_der + sizeof out->spki_der - (size_t)n, (size_t)n);
            out->spki_der_len = (size_t)n;
        }
    }
    dk_memzero(tmp, sizeof tmp);
    mbedtls_pk_free(&pk);
    if (rc) {
        dk_memzero(out, sizeof *out);
        return rc;
    }
    sha256(out->cert_der, out->cert_der_len, out->cert_sha256);
    sha256(out->spki_der, out->spki_der_len, out->spki_sha256);
    return 0;
}

int dk_gwca_verify(const struct dk_gwca *ca, const uint8_t *der, size_t len)
{
    if (!ca->ready)
        return DK_ESTATE;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    uint32_t flags = 0;
    int rc = 0;
    if (mbedtls_x509_crt_parse_der(&crt, der, len) != 0)
        rc = DK_EPARSE;
    else {
        mbedtls_x509_crt_verify(&crt, (mbedtls_x509_crt *)&ca->crt, NULL, NULL, &flags, NULL, NULL);
        flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCERT_EXPIRED);
        rc = flags ? DK_EAUTH : 0;
    }
    mbedtls_x509_crt_free(&crt);
    return rc;
}

static int set_endpoint(struct dk_gw_cred *c, const char *ep)
{
    size_t n = ep ? strlen(ep) : 0;
    if (n == 0 || n > DK_GW_EP_MAX)
        return DK_EINVAL;
    memcpy(c->endpoint, ep, n + 1);
    return 0;
}

int dk_gwca_make_psk(struct dk_rng *rng, const char *ep, struct dk_gw_cred *c)
{
    memset(c, 0, sizeof *c);
    int rc = set_endpoint(c, ep);
    if (rc)
        return rc;
    uint8_t id[16];
    char hex[33];
    c->kind = DK_GW_CRED_PSK;
    if (dk_rng_bytes(rng, id, sizeof id) != 0 || dk_rng_bytes(rng, c->psk, DK_GWCA_PSK_LEN) != 0) {
        dk_memzero(c, sizeof *c);
        return DK_ECRYPTO;
    }
    c->psk_len = DK_GWCA_PSK_LEN;
    dk_hex_encode(hex, sizeof hex, id, sizeof id);
    memcpy(c->psk_identity, "dk-", 3);
    memcpy(c->psk_identity + 3, hex, 32);
    c->psk_identity_len = DK_GWCA_PSK_ID_LEN;
    return 0;
}

int dk_gwca_make_cert(struct dk_gwca *ca, struct dk_rng *rng, const char *ep, int64_t now,
                      struct dk_gw_cred *c, struct dk_gwca_keypair *kp)
{
    memset(c, 0, sizeof *c);
    int rc = set_endpoint(c, ep);
    if (!rc)
        rc = dk_gwca_issue(ca, rng, ep, now, kp);
    if (rc) {
        memset(c, 0, sizeof *c);
        return rc;
    }
    c->kind = DK_GW_CRED_X509;
    memcpy(c->cert, kp->cert_der, kp->cert_der_len);
    c->cert_len = kp->cert_der_len;
    memcpy(c->hash, kp->cert_sha256, 32);
    c->has_hash = true;
    return 0;
}
