/* Making one device: bootstrap credentials with full entropy, the factory
 * store, the OOB label (text, PNG, SVG), and the certificate or public key. */
#include "factory.h"

#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/mem.h>
#include <duckling/qr.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PSK_LEN 16     /* 128-bit bootstrap PSK */
#define AP_PSK_LEN 16  /* 128-bit WPA2 PSK of the setup access point */
#define QR_SCALE 8     /* pixels per module in label.png */
#define IMAGE_MAX (1u << 20)

void report(const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: %s: ", PROG, what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *mbedtls_why(int rc)
{
    static char text[64];
    snprintf(text, sizeof text, "mbedTLS error -0x%04x", (unsigned)-rc);
    return text;
}

int write_file(const char *dir, const char *name, const void *data, size_t len, unsigned mode)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    const uint8_t *p = data;
    int rc = fchmod(fd, mode);
    while (rc == 0 && len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = -1;
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    int saved = errno;
    if (close(fd) != 0 && rc == 0)
        return -1;
    errno = saved;
    return rc;
}

long read_text(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        errno = EIO;
        return -1;
    }
    buf[n] = '\0';
    return (long)n;
}

int make_endpoint(struct dk_rng *rng, char out[DK_OOB_ENDPOINT_MAX + 1])
{
    uint8_t r[8];
    if (dk_rng_bytes(rng, r, sizeof r) != 0)
        return -1;
    memcpy(out, "dk-", 3);
    dk_hex_encode(out + 3, DK_OOB_ENDPOINT_MAX + 1 - 3, r, sizeof r);
    return 0;
}

/* ---- manufacturer CA ---- */

void factory_ca_init(struct factory_ca *ca)
{
    memset(ca, 0, sizeof *ca);
    mbedtls_x509_crt_init(&ca->crt);
    mbedtls_pk_init(&ca->key);
}

void factory_ca_free(struct factory_ca *ca)
{
    mbedtls_x509_crt_free(&ca->crt);
    mbedtls_pk_free(&ca->key);
    ca->loaded = false;
}

int factory_ca_load(struct factory_ca *ca, const char *cert, const char *key)
{
    int rc = mbedtls_x509_crt_parse_file(&ca->crt, cert);
    if (rc != 0) {
        report(cert, "not a readable certificate (%s)", mbedtls_why(rc));
        return -1;
    }
    if (!ca->crt.ca_istrue) {
        report(cert, "not a CA certificate (basicConstraints CA:TRUE missing)");
        return -1;
    }
    rc = mbedtls_pk_parse_keyfile(&ca->key, key, NULL);
    if (rc != 0) {
        report(key, "not a readable private key (%s)", mbedtls_why(rc));
        return -1;
    }
    if (mbedtls_pk_check_pair(&ca->crt.pk, &ca->key) != 0) {
        report(key, "does not belong to the CA certificate %s", cert);
        return -1;
    }
    if (mbedtls_x509_dn_gets(ca->subject, sizeof ca->subject, &ca->crt.subject) < 0) {
        report(cert, "subject name too long");
        return -1;
    }
    ca->loaded = true;
    return 0;
}

/* ---- credentials ---- */

static int make_key(struct dk_rng *rng, mbedtls_pk_context *pk, struct dk_store_factory *f)
{
    unsigned char der[DK_STORE_KEY_DER_MAX];
    int rc = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (rc == 0)
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), dk_rng_mbedtls,
                                 rng);
    int n = rc == 0 ? mbedtls_pk_write_key_der(pk, der, sizeof der) : rc;
    if (n <= 0) {
        dk_memzero(der, sizeof der);
        report("key generation", "%s", mbedtls_why(n));
        return -1;
    }
    memcpy(f->key_der, der + sizeof der - n, (size_t)n); /* written at the end */
    f->key_der_len = (size_t)n;
    dk_memzero(der, sizeof der);
    return 0;
}

/* The subject "CN=<endpoint>" for mbedTLS's name parser, which knows only
 * the escape "\,"; an endpoint with '\' cannot be expressed (checked at
 * option time). */
static void subject_name(const char *endpoint, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "CN=");
    for (const char *p = endpoint; *p && n + 3 < cap; p++) {
        if (*p == ',')
            out[n++] = '\\';
        out[n++] = *p;
    }
    out[n] = '\0';
}

static int random_serial(struct dk_rng *rng, mbedtls_mpi *serial)
{
    uint8_t b[16];
    if (dk_rng_bytes(rng, b, sizeof b) != 0)
        return -1;
    b[0] = (uint8_t)((b[0] & 0x7f) | 0x40); /* positive, and always 16 bytes long */
    return mbedtls_mpi_read_binary(serial, b, sizeof b) == 0 ? 0 : -1;
}

static int verify_against_ca(const struct factory_ca *ca, const uint8_t *der, size_t len)
{
    mbedtls_x509_crt dev;
    uint32_t flags = 0;
    mbedtls_x509_crt_init(&dev);
    int rc = mbedtls_x509_crt_parse_der(&dev, der, len);
    if (rc == 0)
        mbedtls_x509_crt_verify(&dev, (mbedtls_x509_crt *)&ca->crt, NULL, NULL, &flags, NULL,
                                NULL);
    mbedtls_x509_crt_free(&dev);
    /* Time is not ours to judge here; everything else must hold. */
    flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCERT_EXPIRED);
    if (rc != 0 || flags != 0) {
        report("certificate", "does not verify against the CA (flags 0x%x)", (unsigned)flags);
        return -1;
    }
    return 0;
}

static int make_cert(struct dk_rng *rng, mbedtls_pk_context *pk, const struct factory_ca *ca,
                     struct dk_store_factory *f)
{
    mbedtls_x509write_cert crt;
    mbedtls_mpi serial;
    char subject[2 * DK_OOB_ENDPOINT_MAX + 8], not_before[16];
    unsigned char *der = malloc(DK_STORE_CERT_DER_MAX);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(not_before, sizeof not_before, "%Y%m%d%H%M%S", &tm);
    subject_name(f->endpoint, subject, sizeof subject);
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&serial);
    mbedtls_pk_context *issuer_key = ca && ca->loaded ? (mbedtls_pk_context *)&ca->key : pk;
    int rc = der && random_serial(rng, &serial) == 0 ? 0 : -1;
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, pk);
    mbedtls_x509write_crt_set_issuer_key(&crt, issuer_key);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_serial(&crt, &serial);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_subject_name(&crt, subject);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_issuer_name(&crt, ca && ca->loaded ? ca->subject : subject);
    /* No well-defined expiry for a device identity (RFC 5280 §4.1.2.5). */
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_validity(&crt, not_before, "99991231235959");
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_authority_key_identifier(&crt);
    int n = rc == 0 ? mbedtls_x509write_crt_der(&crt, der, DK_STORE_CERT_DER_MAX, dk_rng_mbedtls,
                                                rng)
                    : rc;
    if (n > 0) {
        memcpy(f->cert_der, der + DK_STORE_CERT_DER_MAX - n, (size_t)n);
        f->cert_der_len = (size_t)n;
        rc = 0;
    } else {
        report("certificate", "cannot be written (%s)", mbedtls_why(n ? n : rc));
        rc = -1;
    }
    mbedtls_x509write_crt_free(&crt);
    mbedtls_mpi_free(&serial);
    free(der);
    if (rc == 0 && ca && ca->loaded)
        rc = verify_against_ca(ca, f->cert_der, f->cert_der_len);
    return rc;
}

static int make_credentials(const struct factory_opts *opts, const struct factory_ca *ca,
                            struct dk_rng *rng, struct dk_store_factory *f,
                            uint8_t *spki, size_t *spki_len)
{
    *spki_len = 0;
    if (f->cred_type == DK_OOB_CRED_PSK) {
        f->psk_len = PSK_LEN;
        if (dk_rng_bytes(rng, f->psk, PSK_LEN) != 0) {
            report("random", "the CSPRNG failed");
            return -1;
        }
    }
    if (f->cred_type != DK_OOB_CRED_RPK && f->cred_type != DK_OOB_CRED_X509)
        return 0;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = make_key(rng, &pk, f);
    if (rc == 0) {
        int n = mbedtls_pk_write_pubkey_der(&pk, spki, 256);
        if (n > 0) {
            memmove(spki, spki + 256 - n, (size_t)n);
            *spki_len = (size_t)n;
        } else {
            report("public key", "%s", mbedtls_why(n));
            rc = -1;
        }
    }
    if (rc == 0 && f->cred_type == DK_OOB_CRED_X509)
        rc = make_cert(rng, &pk, ca, f);
    mbedtls_pk_free(&pk); /* mbedTLS zeroes the private value */
    (void)opts;
    return rc;
}

/* ---- outputs ---- */

static int ensure_dir(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        report(dir, "path too long");
        return -1;
    }
    /* mkdir -p: every prefix, then the whole path. */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            report(path, "cannot create directory: %s", strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        report(path, "cannot create directory: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        report(path, "not a directory");
        return -1;
    }
    return 0;
}

static int write_or_report(const char *dir, const char *name, const void *data, size_t len,
                           unsigned mode)
{
    if (write_file(dir, name, data, len, mode) == 0)
        return 0;
    report(name, "cannot write in %s: %s", dir, strerror(errno));
    return -1;
}

static int write_labels(const char *dir, const char *label, size_t len)
{
    struct dk_qr qr;
    struct dk_buf b;
    uint8_t *img = malloc(IMAGE_MAX);
    char *text = malloc(len + 2);
    int rc = img && text ? 0 : -1;
    if (rc) {
        report("label", "out of memory");
        goto out;
    }
    /* The label carries the PSKs, so every copy of it is private. */
    memcpy(text, label, len);
    text[len] = '\n';
    rc = write_or_report(dir, "label.txt", text, len + 1, 0600);
    dk_qr_init(&qr);
    if (rc == 0 && dk_qr_setup(&qr, label, len) != 0) {
        report("label", "too long for a QR code");
        rc = -1;
    }
    dk_buf_init(&b, img, IMAGE_MAX);
    if (rc == 0 && dk_qr_png(&qr, QR_SCALE, label, &b) != 0) {
        report("label.png", "cannot be drawn");
        rc = -1;
    }
    if (rc == 0)
        rc = write_or_report(dir, "label.png", img, b.len, 0600);
    dk_buf_init(&b, img, IMAGE_MAX);
    if (rc == 0 && dk_qr_svg(&qr, QR_SCALE, label, &b) != 0) {
        report("label.svg", "cannot be drawn");
        rc = -1;
    }
    if (rc == 0)
        rc = write_or_report(dir, "label.svg", img, b.len, 0600);
    dk_qr_free(&qr);
out:
    if (text)
        dk_memzero(text, len + 2);
    if (img)
        dk_memzero(img, IMAGE_MAX);
    free(text);
    free(img);
    return rc;
}

static int write_cert_files(const char *dir, const struct dk_store_factory *f)
{
    unsigned char pem[2 * DK_STORE_CERT_DER_MAX];
    size_t olen = 0;
    if (write_or_report(dir, "cert.der", f->cert_der, f->cert_der_len, 0644) != 0)
        return -1;
    /* PEM of the same DER (x509write_crt_pem would sign again, differently). */
    int rc = mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
                                      "-----END CERTIFICATE-----\n", f->cert_der, f->cert_der_len,
                                      pem, sizeof pem, &olen);
    if (rc != 0) {
        report("cert.pem", "%s", mbedtls_why(rc));
        return -1;
    }
    return write_or_report(dir, "cert.pem", pem, strlen((char *)pem), 0644);
}

static void summarize(const struct dk_store_factory *f, const struct dk_oob_msg *m,
                      const char *label, size_t len, struct device_summary *sum)
{
    uint8_t digest[32];
    snprintf(sum->endpoint, sizeof sum->endpoint, "%s", f->endpoint);
    sum->cred_hash[0] = '\0';
    if (f->cred_type == DK_OOB_CRED_RPK || f->cred_type == DK_OOB_CRED_X509)
        dk_hex_encode(sum->cred_hash, sizeof sum->cred_hash, m->cred, m->cred_len);
    mbedtls_sha256_ret((const unsigned char *)label, len, digest, 0);
    dk_hex_encode(sum->label_sha256, sizeof sum->label_sha256, digest, sizeof digest);
}

static void fill_store(const struct factory_opts *opts, const char *endpoint,
                       struct dk_store_factory *f)
{
    snprintf(f->endpoint, sizeof f->endpoint, "%s", endpoint);
    snprintf(f->type, sizeof f->type, "%s", opts->type);
    f->cred_type = opts->cred;
    f->channel = opts->channel;
    if (opts->bs_uri)
        snprintf(f->bs_uri, sizeof f->bs_uri, "%s", opts->bs_uri);
    else
        snprintf(f->bs_uri, sizeof f->bs_uri, "%s",
                 opts->cred == DK_OOB_CRED_NONE ? "coap://127.0.0.1:5783"
                                                : "coaps://127.0.0.1:5784");
    if (opts->channel == DK_OOB_CHANNEL_WIFI) {
        if (opts->ap_ssid)
            snprintf(f->ap_ssid, sizeof f->ap_ssid, "%s", opts->ap_ssid);
        else /* "duckling-" and as much of the endpoint as fits 32 characters */
            snprintf(f->ap_ssid, sizeof f->ap_ssid, "duckling-%.23s", endpoint);
    }
}

int make_device(const struct factory_opts *opts, const struct factory_ca *ca, struct dk_rng *rng,
                const char *dir, const char *endpoint, struct device_summary *sum)
{
    struct dk_store_factory *f = calloc(1, sizeof *f);
    struct dk_oob_msg m;
    char label[DK_OOB_TEXT_MAX + 1], path[4096];
    uint8_t spki[256];
    size_t spki_len = 0, len = 0;
    const char *why = NULL;
    int rc = f ? 0 : -1;
    dk_oob_msg_wipe(&m);
    if (!f) {
        report("memory", "out of memory");
        return -1;
    }
    fill_store(opts, endpoint, f);
    if (f->ap_ssid[0]) {
        f->ap_psk_len = AP_PSK_LEN;
        if (dk_rng_bytes(rng, f->ap_psk, AP_PSK_LEN) != 0) {
            report("random", "the CSPRNG failed");
            rc = -1;
        }
    }
    if (rc == 0)
        rc = make_credentials(opts, ca, rng, f, spki, &spki_len);
    if (rc == 0 && dk_store_factory_check(f, &why) != 0) {
        report("factory store", "%s", why);
        rc = -1;
    }
    if (rc == 0 && (dk_store_factory_to_oob(f, &m) != 0 ||
                    dk_oob_format(&m, label, sizeof label, &len, NULL) != 0)) {
        report("label", "cannot be generated");
        rc = -1;
    }
    if (rc == 0)
        rc = ensure_dir(dir);
    snprintf(path, sizeof path, "%s/%s", dir, DK_STORE_FACTORY_FILE);
    if (rc == 0 && access(path, F_OK) == 0) {
        report(path, "already exists (a device was made here before)");
        rc = -1;
    }
    if (rc == 0) {
        int src = dk_store_factory_save(dir, f);
        if (src != 0) {
            report(path, "cannot be written: %s",
                   src == DK_EIO ? strerror(errno) : dk_strerror(src));
            rc = -1;
        }
    }
    if (rc == 0)
        rc = write_labels(dir, label, len);
    if (rc == 0 && f->cred_type == DK_OOB_CRED_X509)
        rc = write_cert_files(dir, f);
    if (rc == 0 && f->cred_type == DK_OOB_CRED_RPK)
        rc = write_or_report(dir, "pubkey.der", spki, spki_len, 0644);
    if (rc == 0 && sum)
        summarize(f, &m, label, len, sum);
    dk_memzero(label, sizeof label);
    dk_oob_msg_wipe(&m);
    dk_store_factory_wipe(f);
    free(f);
    return rc;
}
