/* The container every store file uses; pure functions over memory. */
#include "format.h"

#include <duckling/err.h>
#include <duckling/mem.h>
#include <duckling/store.h>

#include <mbedtls/sha256.h>

#include <string.h>

void dk_store_put_header(uint8_t hdr[12], uint8_t kind, uint32_t payload_len)
{
    memcpy(hdr, DK_STORE_MAGIC, 4);
    hdr[4] = DK_STORE_FORMAT_VERSION;
    hdr[5] = kind;
    hdr[6] = 0;
    hdr[7] = 0;
    hdr[8] = (uint8_t)(payload_len >> 24);
    hdr[9] = (uint8_t)(payload_len >> 16);
    hdr[10] = (uint8_t)(payload_len >> 8);
    hdr[11] = (uint8_t)payload_len;
}

static int refuse(const char **why, const char *text, int rc)
{
    if (why)
        *why = text;
    return rc;
}

int dk_store_check_header(const uint8_t *in, size_t len, uint8_t kind, size_t trailer_len,
                          const uint8_t **payload, size_t *payload_len, const char **why)
{
    size_t m = len < 4 ? len : 4;
    if (m == 0 || memcmp(in, DK_STORE_MAGIC, m) != 0)
        return refuse(why, "not a duckling store file (bad magic)", DK_EPARSE);
    if (len < DK_STORE_HEADER_LEN)
        return refuse(why, "truncated file (header incomplete)", DK_ECORRUPT);
    if (in[4] != DK_STORE_FORMAT_VERSION)
        return refuse(why, "unsupported store format version", DK_EVERSION);
    if (in[5] != kind) {
        static const char *const other[] = {
            "wrong kind of store file (expected another kind)",
            "wrong kind of store file (this is a factory store)",
            "wrong kind of store file (this is an operational store)",
            "wrong kind of store file (this is a device key)",
        };
        return refuse(why, other[in[5] <= 3 ? in[5] : 0], DK_EPARSE);
    }
    if (in[6] || in[7])
        return refuse(why, "unknown flags in the header", DK_EPARSE);
    size_t plen = (size_t)in[8] << 24 | (size_t)in[9] << 16 | (size_t)in[10] << 8 | in[11];
    size_t body = len - DK_STORE_HEADER_LEN;
    if (plen > body || body - plen < trailer_len)
        return refuse(why, "truncated file", DK_ECORRUPT);
    if (body - plen > trailer_len)
        return refuse(why, "trailing bytes after the end of the store", DK_ECORRUPT);
    *payload = in + DK_STORE_HEADER_LEN;
    *payload_len = plen;
    return 0;
}

static int sha256_of(const uint8_t *p, size_t n, uint8_t out[DK_STORE_SHA256_LEN])
{
    return mbedtls_sha256_ret(p, n, out, 0) == 0 ? 0 : DK_ECRYPTO;
}

int dk_store_hashed_wrap(uint8_t kind, const uint8_t *payload, size_t payload_len, uint8_t *out,
                         size_t cap, size_t *len)
{
    if (payload_len > UINT32_MAX)
        return DK_EINVAL;
    size_t total = DK_STORE_HEADER_LEN + payload_len + DK_STORE_SHA256_LEN;
    if (total < payload_len || cap < total)
        return DK_ENOSPC;
    memmove(out + DK_STORE_HEADER_LEN, payload, payload_len);
    dk_store_put_header(out, kind, (uint32_t)payload_len);
    int rc = sha256_of(out, DK_STORE_HEADER_LEN + payload_len, out + DK_STORE_HEADER_LEN + payload_len);
    if (rc == 0)
        *len = total;
    return rc;
}

int dk_store_hashed_unwrap(const uint8_t *in, size_t len, uint8_t kind, const uint8_t **payload,
                           size_t *payload_len, const char **why)
{
    int rc = dk_store_check_header(in, len, kind, DK_STORE_SHA256_LEN, payload, payload_len, why);
    if (rc)
        return rc;
    uint8_t digest[DK_STORE_SHA256_LEN];
    size_t covered = DK_STORE_HEADER_LEN + *payload_len;
    if (sha256_of(in, covered, digest) != 0)
        return refuse(why, "cannot compute SHA-256", DK_ECRYPTO);
    if (!dk_ct_equal(digest, in + covered, DK_STORE_SHA256_LEN))
        return refuse(why, "integrity check failed (SHA-256 mismatch): file is corrupt",
                      DK_ECORRUPT);
    return 0;
}

int dk_store_put_record(struct dk_buf *b, uint16_t type, const void *value, size_t len)
{
    if (len > UINT32_MAX)
        return DK_EINVAL;
    dk_buf_put_be16(b, type);
    dk_buf_put_be32(b, (uint32_t)len);
    return dk_buf_put(b, value, len);
}

int dk_store_next_record(struct dk_rd *r, uint16_t *type, const uint8_t **value, size_t *len)
{
    if (dk_rd_left(r) == 0)
        return DK_ENOTFOUND;
    uint32_t n;
    if (dk_rd_be16(r, type) || dk_rd_be32(r, &n) || dk_rd_take(r, n, value))
        return DK_EPARSE;
    *len = n;
    return 0;
}
