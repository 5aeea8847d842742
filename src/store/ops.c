/* operational.store: records the client engine persists, encrypted at rest
 * under device.key (AES-256-GCM); wipe destroys the key (crypto-erase). */
#include "format.h"

#include <duckling/err.h>
#include <duckling/mem.h>
#include <duckling/store.h>

#include <mbedtls/gcm.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <limits.h>

#define REC_ENTRY 0x0100 /* value: key, NUL, data */
#define NONCE_LEN 12
#define TAG_LEN 16
#define RECORDS_MAX 65536

static int refuse(const char **why, const char *text, int rc)
{
    if (why)
        *why = text;
    return rc;
}

static bool key_ok(const char *key)
{
    if (!key)
        return false;
    size_t n = strnlen(key, DK_STORE_RECORD_KEY_MAX + 1);
    return n > 0 && n <= DK_STORE_RECORD_KEY_MAX;
}

size_t dk_store_records_size(const struct dk_store_record *recs, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!key_ok(recs[i].key) || (recs[i].len && !recs[i].value) ||
            recs[i].len > DK_STORE_OPS_MAX)
            return 0;
        total += 6 + strlen(recs[i].key) + 1 + recs[i].len;
        if (total > DK_STORE_OPS_MAX)
            return 0;
    }
    return total;
}

int dk_store_records_encode(const struct dk_store_record *recs, size_t n, uint8_t *out,
                            size_t cap, size_t *len)
{
    if (n > RECORDS_MAX || (n && dk_store_records_size(recs, n) == 0))
        return DK_EINVAL;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(recs[i].key, recs[j].key) == 0)
                return DK_EINVAL;
    struct dk_buf b;
    dk_buf_init(&b, out, cap);
    for (size_t i = 0; i < n; i++) {
        size_t klen = strlen(recs[i].key);
        dk_buf_put_be16(&b, REC_ENTRY);
        dk_buf_put_be32(&b, (uint32_t)(klen + 1 + recs[i].len));
        dk_buf_put(&b, recs[i].key, klen + 1);
        dk_buf_put(&b, recs[i].value, recs[i].len);
    }
    if (b.err)
        return DK_ENOSPC;
    *len = b.len;
    return 0;
}

int dk_store_records_decode(const uint8_t *in, size_t len, struct dk_store_record *recs,
                            size_t max, size_t *n, const char **why)
{
    struct dk_rd r;
    uint16_t type;
    const uint8_t *v;
    size_t vlen, count = 0;
    int rc;
    *n = 0;
    dk_rd_init(&r, in, len);
    while ((rc = dk_store_next_record(&r, &type, &v, &vlen)) == 0) {
        if (type != REC_ENTRY)
            return refuse(why, "unknown record type", DK_EPARSE);
        const uint8_t *nul = memchr(v, 0, vlen);
        if (!nul || nul == v || (size_t)(nul - v) > DK_STORE_RECORD_KEY_MAX)
            return refuse(why, "malformed record key", DK_EPARSE);
        if (count >= RECORDS_MAX)
            return refuse(why, "too many records", DK_EPARSE);
        size_t klen = (size_t)(nul - v);
        if (count < max) {
            recs[count].key = (const char *)v;
            recs[count].value = v + klen + 1;
            recs[count].len = vlen - klen - 1;
        }
        count++;
    }
    if (rc != DK_ENOTFOUND)
        return refuse(why, "malformed record list", DK_EPARSE);
    *n = count;
    return 0;
}

static int gcm_run(const uint8_t key[DK_STORE_DEVICE_KEY_LEN], int mode, const uint8_t *nonce,
                   const uint8_t *aad, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    mbedtls_gcm_context gcm;
    mbedtls_gcm_init(&gcm);
    int rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 8 * DK_STORE_DEVICE_KEY_LEN);
    if (rc == 0 && mode == MBEDTLS_GCM_ENCRYPT)
        rc = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, len, nonce, NONCE_LEN, aad,
                                       DK_STORE_HEADER_LEN, in, out, TAG_LEN, tag);
    else if (rc == 0)
        rc = mbedtls_gcm_auth_decrypt(&gcm, len, nonce, NONCE_LEN, aad, DK_STORE_HEADER_LEN, tag,
                                      TAG_LEN, in, out);
    mbedtls_gcm_free(&gcm);
    if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED)
        return DK_ECORRUPT;
    return rc ? DK_ECRYPTO : 0;
}

int dk_store_ops_seal(const uint8_t key[DK_STORE_DEVICE_KEY_LEN], const uint8_t *plain,
                      size_t plain_len, struct dk_rng *rng, uint8_t *out, size_t cap,
                      size_t *len)
{
    if (plain_len > DK_STORE_OPS_MAX)
        return DK_EINVAL;
    size_t total = plain_len + DK_STORE_OPS_OVERHEAD;
    if (cap < total)
        return DK_ENOSPC;
    uint8_t *nonce = out + DK_STORE_HEADER_LEN;
    dk_store_put_header(out, DK_STORE_KIND_OPS, (uint32_t)(NONCE_LEN + plain_len));
    if (dk_rng_bytes(rng, nonce, NONCE_LEN) != 0)
        return DK_ECRYPTO;
    int rc = gcm_run(key, MBEDTLS_GCM_ENCRYPT, nonce, out, plain, plain_len, nonce + NONCE_LEN,
                     nonce + NONCE_LEN + plain_len);
    if (rc) {
        dk_memzero(out, total);
        return DK_ECRYPTO;
    }
    *len = total;
    return 0;
}

int dk_store_ops_open(const uint8_t key[DK_STORE_DEVICE_KEY_LEN], const uint8_t *in, size_t len,
                      uint8_t *plain, size_t cap, size_t *plain_len, const char **why)
{
    const uint8_t *payload;
    size_t plen;
    int rc = dk_store_check_header(in, len, DK_STORE_KIND_OPS, TAG_LEN, &payload, &plen, why);
    if (rc)
        return rc;
    if (plen < NONCE_LEN)
        return refuse(why, "truncated file", DK_ECORRUPT);
    size_t clen = plen - NONCE_LEN;
    if (cap < clen)
        return refuse(why, "output buffer too small", DK_ENOSPC);
    rc = gcm_run(key, MBEDTLS_GCM_DECRYPT, payload, in, payload + NONCE_LEN, clen, plain,
                 (uint8_t *)(uintptr_t)(payload + plen));
    if (rc) {
        dk_memzero(plain, clen);
        return refuse(why,
                      rc == DK_ECORRUPT
                          ? "authentication failed: file corrupt or encrypted under another key"
                          : "decryption failed",
                      rc);
    }
    *plain_len = clen;
    return 0;
}

/* ---- device key file ---- */

static int load_device_key(const char *dir, uint8_t key[DK_STORE_DEVICE_KEY_LEN],
                           const char **why)
{
    uint8_t *buf;
    size_t len;
    const uint8_t *payload;
    size_t plen;
    int rc = dk_store_file_read(dir, DK_STORE_KEY_FILE, 256, NULL, &buf, &len, why);
    if (rc)
        return rc;
    rc = dk_store_hashed_unwrap(buf, len, DK_STORE_KIND_KEY, &payload, &plen, why);
    if (rc == 0 && plen != DK_STORE_DEVICE_KEY_LEN)
        rc = refuse(why, "device key has the wrong length", DK_ECORRUPT);
    if (rc == 0)
        memcpy(key, payload, DK_STORE_DEVICE_KEY_LEN);
    dk_memzero(buf, len);
    dk_alloc_release(NULL, buf);
    return rc;
}

static int create_device_key(const char *dir, struct dk_rng *rng,
                             uint8_t key[DK_STORE_DEVICE_KEY_LEN])
{
    uint8_t image[DK_STORE_HEADER_LEN + DK_STORE_DEVICE_KEY_LEN + DK_STORE_SHA256_LEN];
    size_t len;
    int rc = dk_rng_bytes(rng, key, DK_STORE_DEVICE_KEY_LEN) ? DK_ECRYPTO : 0;
    if (rc == 0)
        rc = dk_store_hashed_wrap(DK_STORE_KIND_KEY, key, DK_STORE_DEVICE_KEY_LEN, image,
                                  sizeof image, &len);
    if (rc == 0)
        rc = dk_store_file_write(dir, DK_STORE_KEY_FILE, image, len);
    dk_memzero(image, sizeof image);
    return rc;
}

/* ---- files ---- */

int dk_store_ops_save(const char *dir, const struct dk_store_record *recs, size_t n,
                      struct dk_rng *rng)
{
    size_t plain_len = n ? dk_store_records_size(recs, n) : 0;
    if (n && plain_len == 0)
        return DK_EINVAL;
    uint8_t key[DK_STORE_DEVICE_KEY_LEN];
    int rc = load_device_key(dir, key, NULL);
    if (rc == DK_ENOTFOUND)
        rc = create_device_key(dir, rng, key);
    else if (rc == DK_EPARSE || rc == DK_EVERSION)
        rc = DK_ECORRUPT;
    if (rc) {
        dk_memzero(key, sizeof key);
        return rc;
    }
    size_t cap = plain_len + DK_STORE_OPS_OVERHEAD, len = 0;
    uint8_t *plain = malloc(plain_len ? plain_len : 1), *image = malloc(cap);
    if (!plain || !image)
        rc = DK_ENOMEM;
    if (rc == 0)
        rc = dk_store_records_encode(recs, n, plain, plain_len, &len);
    if (rc == 0)
        rc = dk_store_ops_seal(key, plain, len, rng, image, cap, &len);
    if (rc == 0)
        rc = dk_store_file_write(dir, DK_STORE_OPS_FILE, image, len);
    if (plain)
        dk_memzero(plain, plain_len);
    free(plain);
    free(image);
    dk_memzero(key, sizeof key);
    return rc;
}

void dk_store_ops_init(struct dk_store_ops *ops)
{
    memset(ops, 0, sizeof *ops);
}

void dk_store_ops_free(struct dk_store_ops *ops)
{
    if (!ops)
        return;
    if (ops->mem) {
        dk_memzero(ops->mem, ops->mem_len);
        dk_alloc_release(ops->alloc, ops->mem);
    }
    if (ops->recs)
        dk_alloc_release(ops->alloc, ops->recs);
    dk_store_ops_init(ops);
}

static int open_records(struct dk_store_ops *ops, const uint8_t *image, size_t len,
                        const uint8_t key[DK_STORE_DEVICE_KEY_LEN], const char **why)
{
    size_t plain_len, count;
    ops->mem_len = len;
    ops->mem = dk_alloc_zeroed(ops->alloc, len);
    if (!ops->mem)
        return refuse(why, "out of memory", DK_ENOMEM);
    int rc = dk_store_ops_open(key, image, len, ops->mem, len, &plain_len, why);
    if (rc == 0)
        rc = dk_store_records_decode(ops->mem, plain_len, NULL, 0, &count, why);
    if (rc)
        return rc;
    if (count) {
        ops->recs = dk_alloc_zeroed(ops->alloc, count * sizeof *ops->recs);
        if (!ops->recs)
            return refuse(why, "out of memory", DK_ENOMEM);
    }
    rc = dk_store_records_decode(ops->mem, plain_len, ops->recs, count, &ops->count, why);
    return rc;
}

int dk_store_ops_load(const char *dir, const struct dk_alloc *alloc, struct dk_store_ops *ops,
                      const char **why)
{
    dk_store_ops_free(ops);
    ops->alloc = alloc;
    uint8_t *image;
    size_t len;
    int rc = dk_store_file_read(dir, DK_STORE_OPS_FILE, DK_STORE_OPS_MAX + DK_STORE_OPS_OVERHEAD,
                                alloc, &image, &len, why);
    if (rc)
        return rc;
    uint8_t key[DK_STORE_DEVICE_KEY_LEN];
    rc = load_device_key(dir, key, why);
    if (rc == DK_ENOTFOUND)
        rc = refuse(why, "device key is missing (operational store cannot be decrypted)",
                    DK_ECORRUPT);
    else if (rc == DK_EPARSE || rc == DK_EVERSION)
        rc = refuse(why, "device key file is damaged", DK_ECORRUPT);
    if (rc == 0)
        rc = open_records(ops, image, len, key, why);
    dk_memzero(key, sizeof key);
    dk_memzero(image, len);
    dk_alloc_release(alloc, image);
    if (rc) {
        const struct dk_alloc *a = ops->alloc;
        dk_store_ops_free(ops);
        ops->alloc = a;
    }
    return rc;
}

const struct dk_store_record *dk_store_ops_find(const struct dk_store_ops *ops, const char *key)
{
    for (size_t i = 0; i < ops->count; i++)
        if (strcmp(ops->recs[i].key, key) == 0)
            return &ops->recs[i];
    return NULL;
}

int dk_store_ops_wipe(const char *dir)
{
    /* The key goes first: once it is gone the store is unreadable even if a
     * power cut stops us before the store itself is overwritten. */
    static const char *const victims[] = {
        DK_STORE_KEY_FILE, DK_STORE_KEY_FILE ".tmp", DK_STORE_OPS_FILE, DK_STORE_OPS_FILE ".tmp",
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof victims / sizeof victims[0]; i++) {
        if (dk_store_file_shred(dir, victims[i]) != 0)
            rc = DK_EIO;
        if (i == 1 && dk_store_dir_sync(dir) != 0)
            rc = DK_EIO;
    }
    if (dk_store_dir_sync(dir) != 0)
        rc = DK_EIO;
    return rc;
}

bool dk_store_ops_exists(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    return dk_store_path(path, sizeof path, dir, DK_STORE_OPS_FILE) == 0 && stat(path, &st) == 0;
}
