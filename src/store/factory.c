/* factory.store: what duckling-factory gives a device (DESIGN §7). */
#include "format.h"

#include <duckling/err.h>
#include <duckling/mem.h>
#include <duckling/store.h>

#include <mbedtls/pk.h>

#include <stdlib.h>
#include <string.h>

/* Record types of a factory store. */
enum {
    REC_ENDPOINT = 1,
    REC_TYPE = 2,
    REC_CRED_TYPE = 3,
    REC_PSK = 4,
    REC_KEY = 5,
    REC_CERT = 6,
    REC_BS_URI = 7,
    REC_CHANNEL = 8,
    REC_AP_SSID = 9,
    REC_AP_PSK = 10,
    REC_LAST = REC_AP_PSK,
};

void dk_store_factory_init(struct dk_store_factory *f)
{
    memset(f, 0, sizeof *f);
}

void dk_store_factory_wipe(struct dk_store_factory *f)
{
    if (f)
        dk_memzero(f, sizeof *f);
}

static int refuse(const char **why, const char *text, int rc)
{
    if (why)
        *why = text;
    return rc;
}

static bool printable(const char *s, size_t max, size_t min)
{
    size_t n = strnlen(s, max + 1);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

int dk_store_factory_check(const struct dk_store_factory *f, const char **why)
{
    if (!printable(f->endpoint, DK_OOB_ENDPOINT_MAX, 1))
        return refuse(why, "endpoint must be 1 to 64 printable ASCII characters", DK_EINVAL);
    if (!printable(f->type, DK_OOB_TYPE_MAX, 1))
        return refuse(why, "type must be 1 to 32 printable ASCII characters", DK_EINVAL);
    bool psk = f->cred_type == DK_OOB_CRED_PSK;
    bool key = f->cred_type == DK_OOB_CRED_RPK || f->cred_type == DK_OOB_CRED_X509;
    bool cert = f->cred_type == DK_OOB_CRED_X509;
    if (!dk_oob_cred_name(f->cred_type))
        return refuse(why, "unknown credential type", DK_EINVAL);
    if (psk ? f->psk_len < DK_OOB_PSK_MIN || f->psk_len > DK_OOB_PSK_MAX : f->psk_len != 0)
        return refuse(why, "PSK length does not fit the credential type", DK_EINVAL);
    if (key ? f->key_der_len == 0 || f->key_der_len > DK_STORE_KEY_DER_MAX : f->key_der_len != 0)
        return refuse(why, "private key does not fit the credential type", DK_EINVAL);
    if (cert ? f->cert_der_len == 0 || f->cert_der_len > DK_STORE_CERT_DER_MAX
             : f->cert_der_len != 0)
        return refuse(why, "certificate does not fit the credential type", DK_EINVAL);
    if (!printable(f->bs_uri, DK_STORE_URI_MAX, 1) ||
        (strncmp(f->bs_uri, "coap://", 7) != 0 && strncmp(f->bs_uri, "coaps://", 8) != 0))
        return refuse(why, "Bootstrap Server URI must be coap://... or coaps://...", DK_EINVAL);
    if (!dk_oob_channel_name(f->channel))
        return refuse(why, "unknown channel", DK_EINVAL);
    if (f->ap_ssid[0] || f->ap_psk_len) {
        if (f->channel != DK_OOB_CHANNEL_WIFI)
            return refuse(why, "a setup access point needs channel WIFI", DK_EINVAL);
        if (!printable(f->ap_ssid, DK_OOB_SSID_MAX, 1))
            return refuse(why, "SSID must be 1 to 32 printable ASCII characters", DK_EINVAL);
        if (f->ap_psk_len < DK_OOB_WIFI_PSK_MIN || f->ap_psk_len > DK_OOB_WIFI_PSK_MAX)
            return refuse(why, "access point PSK must be 8 to 32 bytes", DK_EINVAL);
    }
    return 0;
}

int dk_store_factory_encode(const struct dk_store_factory *f, uint8_t *out, size_t cap,
                            size_t *len)
{
    int rc = dk_store_factory_check(f, NULL);
    if (rc)
        return rc;
    if (cap < DK_STORE_HEADER_LEN)
        return DK_ENOSPC;
    /* Records go straight after the header's place; wrap adds the rest. */
    struct dk_buf b;
    dk_buf_init(&b, out + DK_STORE_HEADER_LEN, cap - DK_STORE_HEADER_LEN);
    uint8_t cred = (uint8_t)f->cred_type, channel = (uint8_t)f->channel;
    dk_store_put_record(&b, REC_ENDPOINT, f->endpoint, strlen(f->endpoint));
    dk_store_put_record(&b, REC_TYPE, f->type, strlen(f->type));
    dk_store_put_record(&b, REC_CRED_TYPE, &cred, 1);
    if (f->psk_len)
        dk_store_put_record(&b, REC_PSK, f->psk, f->psk_len);
    if (f->key_der_len)
        dk_store_put_record(&b, REC_KEY, f->key_der, f->key_der_len);
    if (f->cert_der_len)
        dk_store_put_record(&b, REC_CERT, f->cert_der, f->cert_der_len);
    dk_store_put_record(&b, REC_BS_URI, f->bs_uri, strlen(f->bs_uri));
    dk_store_put_record(&b, REC_CHANNEL, &channel, 1);
    if (f->ap_ssid[0]) {
        dk_store_put_record(&b, REC_AP_SSID, f->ap_ssid, strlen(f->ap_ssid));
        dk_store_put_record(&b, REC_AP_PSK, f->ap_psk, f->ap_psk_len);
    }
    if (b.err) {
        dk_memzero(out, cap);
        return DK_ENOSPC;
    }
    rc = dk_store_hashed_wrap(DK_STORE_KIND_FACTORY, out + DK_STORE_HEADER_LEN, b.len, out, cap,
                              len);
    if (rc)
        dk_memzero(out, cap);
    return rc;
}

static int copy_string(char *dst, size_t cap, const uint8_t *v, size_t n)
{
    if (n == 0 || n >= cap || memchr(v, 0, n))
        return DK_EPARSE;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

static int copy_bytes(uint8_t *dst, size_t cap, size_t *dst_len, const uint8_t *v, size_t n)
{
    if (n == 0 || n > cap)
        return DK_EPARSE;
    memcpy(dst, v, n);
    *dst_len = n;
    return 0;
}

static int decode_record(struct dk_store_factory *f, uint16_t type, const uint8_t *v, size_t n)
{
    switch (type) {
    case REC_ENDPOINT: return copy_string(f->endpoint, sizeof f->endpoint, v, n);
    case REC_TYPE: return copy_string(f->type, sizeof f->type, v, n);
    case REC_BS_URI: return copy_string(f->bs_uri, sizeof f->bs_uri, v, n);
    case REC_AP_SSID: return copy_string(f->ap_ssid, sizeof f->ap_ssid, v, n);
    case REC_PSK: return copy_bytes(f->psk, sizeof f->psk, &f->psk_len, v, n);
    case REC_KEY: return copy_bytes(f->key_der, sizeof f->key_der, &f->key_der_len, v, n);
    case REC_CERT: return copy_bytes(f->cert_der, sizeof f->cert_der, &f->cert_der_len, v, n);
    case REC_AP_PSK: return copy_bytes(f->ap_psk, sizeof f->ap_psk, &f->ap_psk_len, v, n);
    case REC_CRED_TYPE:
        if (n != 1)
            return DK_EPARSE;
        f->cred_type = (enum dk_oob_cred)v[0];
        return 0;
    case REC_CHANNEL:
        if (n != 1)
            return DK_EPARSE;
        f->channel = (enum dk_oob_channel)v[0];
        return 0;
    default: return DK_EPARSE;
    }
}

static int decode_payload(const uint8_t *p, size_t n, struct dk_store_factory *f,
                          const char **why)
{
    struct dk_rd r;
    uint32_t seen = 0;
    uint16_t type;
    const uint8_t *v;
    size_t vlen;
    int rc;
    dk_rd_init(&r, p, n);
    while ((rc = dk_store_next_record(&r, &type, &v, &vlen)) == 0) {
        if (type == 0 || type > REC_LAST)
            return refuse(why, "unknown record type", DK_EPARSE);
        if (seen & 1u << type)
            return refuse(why, "duplicate record", DK_EPARSE);
        seen |= 1u << type;
        if (decode_record(f, type, v, vlen))
            return refuse(why, "malformed record", DK_EPARSE);
    }
    if (rc != DK_ENOTFOUND)
        return refuse(why, "malformed record list", DK_EPARSE);
    const uint32_t required = 1u << REC_ENDPOINT | 1u << REC_TYPE | 1u << REC_CRED_TYPE |
                              1u << REC_BS_URI | 1u << REC_CHANNEL;
    if ((seen & required) != required)
        return refuse(why, "a required record is missing", DK_EPARSE);
    return dk_store_factory_check(f, why);
}

int dk_store_factory_decode(const uint8_t *in, size_t len, struct dk_store_factory *out,
                            const char **why)
{
    const uint8_t *payload;
    size_t plen;
    dk_store_factory_init(out);
    int rc = dk_store_hashed_unwrap(in, len, DK_STORE_KIND_FACTORY, &payload, &plen, why);
    if (rc == 0)
        rc = decode_payload(payload, plen, out, why);
    if (rc)
        dk_store_factory_wipe(out);
    return rc;
}

int dk_store_factory_save(const char *dir, const struct dk_store_factory *f)
{
    uint8_t *buf = malloc(DK_STORE_FACTORY_MAX);
    size_t len;
    if (!buf)
        return DK_ENOMEM;
    int rc = dk_store_factory_encode(f, buf, DK_STORE_FACTORY_MAX, &len);
    if (rc == 0)
        rc = dk_store_file_write(dir, DK_STORE_FACTORY_FILE, buf, len);
    dk_memzero(buf, DK_STORE_FACTORY_MAX);
    free(buf);
    return rc;
}

int dk_store_factory_load(const char *dir, struct dk_store_factory *out, const char **why)
{
    uint8_t *buf;
    size_t len;
    dk_store_factory_init(out);
    int rc = dk_store_file_read(dir, DK_STORE_FACTORY_FILE, DK_STORE_FACTORY_MAX, NULL, &buf,
                                &len, why);
    if (rc)
        return rc;
    rc = dk_store_factory_decode(buf, len, out, why);
    dk_memzero(buf, len);
    dk_alloc_release(NULL, buf);
    return rc;
}

/* The truncated hash of the SubjectPublicKeyInfo of a DER private key. */
static int public_key_hash(const uint8_t *key_der, size_t len, uint8_t out[DK_OOB_HASH_LEN])
{
#if DK_WITH_CERTS
    mbedtls_pk_context pk;
    unsigned char spki[256];
    mbedtls_pk_init(&pk);
    int rc = DK_EINVAL;
    if (mbedtls_pk_parse_key(&pk, key_der, len, NULL, 0) == 0) {
        /* pk_write_pubkey_der writes at the end of the buffer. */
        int n = mbedtls_pk_write_pubkey_der(&pk, spki, sizeof spki);
        if (n > 0)
            rc = dk_oob_cred_hash(spki + sizeof spki - n, (size_t)n, out);
    }
    mbedtls_pk_free(&pk);
    return rc;
#else
    (void)key_der, (void)len, (void)out;
    return DK_ENOTSUP; /* DK_SECURITY without certificates: no key parser */
#endif
}

int dk_store_factory_to_oob(const struct dk_store_factory *f, struct dk_oob_msg *out)
{
    dk_oob_msg_wipe(out);
    int rc = dk_store_factory_check(f, NULL);
    if (rc)
        return rc;
    memcpy(out->endpoint, f->endpoint, sizeof out->endpoint);
    memcpy(out->type, f->type, sizeof out->type);
    out->channel = f->channel;
    if (f->ap_ssid[0]) {
        out->has_wifi_ap = true;
        memcpy(out->ssid, f->ap_ssid, sizeof out->ssid);
        memcpy(out->wifi_psk, f->ap_psk, f->ap_psk_len);
        out->wifi_psk_len = f->ap_psk_len;
    }
    out->cred_type = f->cred_type;
    switch (f->cred_type) {
    case DK_OOB_CRED_NONE: break;
    case DK_OOB_CRED_PSK:
        memcpy(out->cred, f->psk, f->psk_len);
        out->cred_len = f->psk_len;
        break;
    case DK_OOB_CRED_RPK:
        rc = public_key_hash(f->key_der, f->key_der_len, out->cred);
        out->cred_len = DK_OOB_HASH_LEN;
        break;
    case DK_OOB_CRED_X509:
        rc = dk_oob_cred_hash(f->cert_der, f->cert_der_len, out->cred);
        out->cred_len = DK_OOB_HASH_LEN;
        break;
    }
    if (rc)
        dk_oob_msg_wipe(out);
    return rc;
}
