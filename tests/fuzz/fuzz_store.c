// dk-fuzz-libs: dk_store dk_oob dk_base
/* The store loaders (DESIGN §7) over memory. The first byte picks the entry:
 *   0  a whole factory.store image (header, hash, records)
 *   1  factory records behind a valid header and hash, to get past the hash
 *   2  an operational record list (the plaintext inside operational.store)
 *   3  a whole operational.store image, opened with a fixed key
 * Whatever decodes must encode back and decode to the same content. */
#include <duckling/err.h>
#include <duckling/store.h>

#include "../../src/store/format.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t buf[DK_STORE_OPS_MAX + 64];
static uint8_t buf2[DK_STORE_OPS_MAX + 64];

static void factory_round_trip(const struct dk_store_factory *f)
{
    static struct dk_store_factory back;
    size_t len;
    if (dk_store_factory_encode(f, buf2, sizeof buf2, &len) != 0)
        abort();
    if (dk_store_factory_decode(buf2, len, &back, NULL) != 0 || memcmp(f, &back, sizeof back))
        abort();
}

static void factory(const uint8_t *p, size_t n, int wrap)
{
    static struct dk_store_factory f;
    const char *why = NULL;
    size_t len = n;
    if (wrap) {
        if (dk_store_hashed_wrap(DK_STORE_KIND_FACTORY, p, n, buf, sizeof buf, &len) != 0)
            return;
        p = buf;
    }
    if (dk_store_factory_decode(p, len, &f, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    factory_round_trip(&f);
    struct dk_oob_msg m;
    dk_store_factory_to_oob(&f, &m); /* may refuse an unreadable key; must not crash */
}

static void records(const uint8_t *p, size_t n)
{
    static struct dk_store_record recs[64], back[64];
    size_t count, count2, len;
    const char *why = NULL;
    if (dk_store_records_decode(p, n, recs, 64, &count, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    if (count > 64)
        return;
    /* Duplicate keys decode but do not encode: the encoder refuses them. */
    int rc = dk_store_records_encode(recs, count, buf2, sizeof buf2, &len);
    if (rc == DK_EINVAL)
        return;
    if (rc != 0 || dk_store_records_decode(buf2, len, back, 64, &count2, NULL) != 0 ||
        count2 != count)
        abort();
    for (size_t i = 0; i < count; i++)
        if (strcmp(recs[i].key, back[i].key) || recs[i].len != back[i].len ||
            (recs[i].len && memcmp(recs[i].value, back[i].value, recs[i].len)))
            abort();
}

static void ops_image(const uint8_t *p, size_t n)
{
    static const uint8_t key[DK_STORE_DEVICE_KEY_LEN] = {
        0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
        0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
        0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42};
    size_t plain_len;
    const char *why = NULL;
    if (n > DK_STORE_OPS_MAX)
        return;
    if (dk_store_ops_open(key, p, n, buf, sizeof buf, &plain_len, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    records(buf, plain_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0: factory(data + 1, size - 1, 0); break;
    case 1: factory(data + 1, size - 1, 1); break;
    case 2: records(data + 1, size - 1); break;
    case 3: ops_image(data + 1, size - 1); break;
    }
    return 0;
}
