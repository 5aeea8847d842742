/* Device store (DESIGN §7): container format, factory store, operational
 * store with encryption at rest, atomic files, wipe. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <duckling/err.h>
#include <duckling/store.h>

#include "store/format.h"

/* A test-only P-256 key (openssl ecparam -genkey) and the leftmost 16 bytes
 * of SHA-256 of its SubjectPublicKeyInfo, computed with
 * "openssl pkey -pubout -outform DER | sha256sum". */
static const uint8_t test_key_der[] = {
  0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20, 0x63, 0x93, 0x35, 0xcf, 0xab,
  0xf7, 0x31, 0xfa, 0x7e, 0x5e, 0x45, 0x13, 0x33, 0xba, 0x5c, 0xe5, 0x8c,
  0xbe, 0x88, 0x9e, 0x1d, 0x9c, 0x87, 0xa0, 0x6a, 0xc0, 0xd1, 0x9a, 0x1e,
  0xa2, 0xf4, 0x00, 0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
  0x03, 0x01, 0x07, 0xa1, 0x44, 0x03, 0x42, 0x00, 0x04, 0xbd, 0x39, 0x4d,
  0x62, 0x19, 0x90, 0x2d, 0xe8, 0x34, 0xdd, 0x65, 0xda, 0x75, 0xfc, 0x6d,
  0x45, 0x28, 0xe8, 0x98, 0xbb, 0xf3, 0x30, 0x25, 0x7a, 0xfa, 0x0e, 0x7d,
  0x9f, 0x41, 0x16, 0xe8, 0x3f, 0x43, 0x3a, 0x67, 0xc6, 0x3e, 0x26, 0x58,
  0x36, 0x78, 0x82, 0x91, 0xfd, 0x9d, 0x68, 0xe3, 0x3e, 0xe2, 0x28, 0xfa,
  0xe1, 0xaf, 0x54, 0xa1, 0x6c, 0x85, 0xfc, 0xdf, 0xf6, 0xda, 0x2f, 0xb4,
  0xb6
};
static const uint8_t test_key_spki_hash[16] = {0xf7, 0xa9, 0xe3, 0xb9, 0xca, 0x9a, 0x19, 0x1c,
                                               0xfd, 0x31, 0x4d, 0xab, 0x62, 0xcd, 0x0f, 0x53};

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/dk_store_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[400];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    return rmdir(dir);
}

static bool exists(const char *name)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static unsigned mode_of(const char *name)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 0777;
}

static size_t read_file(const char *name, uint8_t *buf, size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void write_file(const char *name, const uint8_t *buf, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static void make_factory(struct dk_store_factory *f, enum dk_oob_cred cred)
{
    dk_store_factory_init(f);
    strcpy(f->endpoint, "dk-00112233aabbccdd");
    strcpy(f->type, "LED");
    f->cred_type = cred;
    strcpy(f->bs_uri, cred == DK_OOB_CRED_NONE ? "coap://127.0.0.1:5783" : "coaps://127.0.0.1:5784");
    f->channel = DK_OOB_CHANNEL_WIFI;
    strcpy(f->ap_ssid, "duckling-setup");
    f->ap_psk_len = 16;
    memset(f->ap_psk, 0xa5, 16);
    if (cred == DK_OOB_CRED_PSK) {
        f->psk_len = 16;
        for (int i = 0; i < 16; i++)
            f->psk[i] = (uint8_t)(i + 1);
    }
    if (cred == DK_OOB_CRED_RPK || cred == DK_OOB_CRED_X509) {
        memcpy(f->key_der, test_key_der, sizeof test_key_der);
        f->key_der_len = sizeof test_key_der;
    }
    if (cred == DK_OOB_CRED_X509) {
        /* The store does not parse certificates; any bytes do here. */
        f->cert_der_len = 300;
        for (int i = 0; i < 300; i++)
            f->cert_der[i] = (uint8_t)(i * 13);
    }
}

static uint8_t image[DK_STORE_FACTORY_MAX];

static void test_factory_round_trip(void **state)
{
    (void)state;
    for (int c = DK_OOB_CRED_NONE; c <= DK_OOB_CRED_X509; c++) {
        struct dk_store_factory f, back;
        size_t len;
        make_factory(&f, (enum dk_oob_cred)c);
        if (c == DK_OOB_CRED_NONE) {
            f.channel = DK_OOB_CHANNEL_NONE;
            memset(f.ap_ssid, 0, sizeof f.ap_ssid);
            f.ap_psk_len = 0;
            memset(f.ap_psk, 0, sizeof f.ap_psk);
        }
        assert_int_equal(dk_store_factory_encode(&f, image, sizeof image, &len), 0);
        assert_memory_equal(image, "DKST\x01\x01\x00\x00", 8);
        const char *why = NULL;
        assert_int_equal(dk_store_factory_decode(image, len, &back, &why), 0);
        assert_memory_equal(&f, &back, sizeof f);
        assert_int_equal(dk_store_factory_encode(&f, image, len - 1, &len), DK_ENOSPC);
    }
}

static void expect_refused(const uint8_t *buf, size_t len, int want_rc)
{
    struct dk_store_factory f;
    const char *why = NULL;
    memset(&f, 0x77, sizeof f);
    int rc = dk_store_factory_decode(buf, len, &f, &why);
    if (want_rc)
        assert_int_equal(rc, want_rc);
    assert_true(rc < 0);
    assert_non_null(why);
    static const struct dk_store_factory zero;
    assert_memory_equal(&f, &zero, sizeof f); /* never half-loaded */
}

static void test_factory_refuses_damage(void **state)
{
    (void)state;
    struct dk_store_factory f;
    size_t len;
    make_factory(&f, DK_OOB_CRED_X509);
    assert_int_equal(dk_store_factory_encode(&f, image, sizeof image, &len), 0);
    static uint8_t copy[DK_STORE_FACTORY_MAX];
    /* Every single-bit flip anywhere. */
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, image, len);
        copy[i] ^= (uint8_t)(1u << (i % 8));
        expect_refused(copy, len, 0);
    }
    /* Every truncation. */
    for (size_t n = 0; n < len; n++)
        expect_refused(image, n, DK_ECORRUPT);
    /* Trailing bytes. */
    memcpy(copy, image, len);
    copy[len] = 0;
    expect_refused(copy, len + 1, DK_ECORRUPT);
    /* Foreign files. */
    expect_refused((const uint8_t *)"\x89PNG\r\n\x1a\n\0\0\0\0\0\0\0\0", 16, DK_EPARSE);
    expect_refused((const uint8_t *)"01;EP:a;T:b;NONE;;00;;e3;;", 26, DK_EPARSE);
    /* Another version or kind; flags. */
    memcpy(copy, image, len);
    copy[4] = 2;
    expect_refused(copy, len, DK_EVERSION);
    copy[4] = 1;
    copy[5] = DK_STORE_KIND_OPS;
    const char *why = NULL;
    assert_int_equal(dk_store_factory_decode(copy, len, &f, &why), DK_EPARSE);
    assert_string_equal(why, "wrong kind of store file (this is an operational store)");
    copy[5] = DK_STORE_KIND_FACTORY;
    copy[7] = 1;
    expect_refused(copy, len, DK_EPARSE);
}

/* Containers with a good hash around bad records. */
static void expect_records_refused(const uint8_t *payload, size_t n, int want_rc)
{
    static uint8_t buf[1024];
    size_t len;
    assert_int_equal(dk_store_hashed_wrap(DK_STORE_KIND_FACTORY, payload, n, buf, sizeof buf, &len),
                     0);
    expect_refused(buf, len, want_rc);
}

static void test_factory_refuses_bad_records(void **state)
{
    (void)state;
    /* endpoint, type, cred type 0, uri, channel 0: a minimal valid store. */
    uint8_t ok[] = {0, 1, 0, 0, 0, 1, 'e', 0, 2, 0, 0, 0, 1, 't', 0, 3, 0, 0, 0, 1, 0,
                    0, 7, 0, 0, 0, 8, 'c', 'o', 'a', 'p', ':', '/', '/', 'h', 0, 8, 0, 0, 0, 1, 0};
    static uint8_t buf[1024];
    size_t len;
    struct dk_store_factory f;
    assert_int_equal(dk_store_hashed_wrap(DK_STORE_KIND_FACTORY, ok, sizeof ok, buf, sizeof buf, &len), 0);
    assert_int_equal(dk_store_factory_decode(buf, len, &f, NULL), 0);
    assert_string_equal(f.bs_uri, "coap://h");

    uint8_t p[sizeof ok + 16];
    memcpy(p, ok, sizeof ok);
    p[1] = 99; /* unknown record type */
    expect_records_refused(p, sizeof ok, DK_EPARSE);
    memcpy(p, ok, sizeof ok);
    p[8] = 1; /* a second endpoint record instead of the type */
    expect_records_refused(p, sizeof ok, DK_EPARSE);
    expect_records_refused(ok, sizeof ok - 7, DK_EPARSE); /* channel missing */
    expect_records_refused(ok, sizeof ok - 1, DK_EPARSE); /* record cut short */
    memcpy(p, ok, sizeof ok);
    p[20] = 1; /* cred type PSK without a PSK record: inconsistent */
    expect_records_refused(p, sizeof ok, DK_EINVAL);
    memcpy(p, ok, sizeof ok);
    p[27] = 'x'; /* URI scheme "xoap" */
    expect_records_refused(p, sizeof ok, DK_EINVAL);
    memcpy(p, ok, sizeof ok);
    p[6] = 0; /* NUL inside the endpoint */
    expect_records_refused(p, sizeof ok, DK_EPARSE);
    memcpy(p, ok, sizeof ok);
    p[sizeof ok - 1] = 9; /* unknown channel */
    expect_records_refused(p, sizeof ok, DK_EINVAL);
}

static void test_factory_check(void **state)
{
    (void)state;
    struct dk_store_factory f;
    const char *why;
    make_factory(&f, DK_OOB_CRED_PSK);
    assert_int_equal(dk_store_factory_check(&f, &why), 0);
    f.psk_len = 15;
    assert_int_equal(dk_store_factory_check(&f, &why), DK_EINVAL);
    make_factory(&f, DK_OOB_CRED_RPK);
    f.cert_der_len = 10;
    assert_int_equal(dk_store_factory_check(&f, &why), DK_EINVAL);
    make_factory(&f, DK_OOB_CRED_X509);
    f.channel = DK_OOB_CHANNEL_BLE; /* setup AP needs WIFI */
    assert_int_equal(dk_store_factory_check(&f, &why), DK_EINVAL);
    make_factory(&f, DK_OOB_CRED_X509);
    f.ap_psk_len = 4;
    assert_int_equal(dk_store_factory_check(&f, &why), DK_EINVAL);
    make_factory(&f, DK_OOB_CRED_X509);
    strcpy(f.bs_uri, "http://x");
    assert_int_equal(dk_store_factory_check(&f, &why), DK_EINVAL);
    assert_non_null(why);
    size_t len;
    assert_int_equal(dk_store_factory_encode(&f, image, sizeof image, &len), DK_EINVAL);
}

static void test_factory_to_oob(void **state)
{
    (void)state;
    struct dk_store_factory f;
    struct dk_oob_msg m;
    make_factory(&f, DK_OOB_CRED_RPK);
    assert_int_equal(dk_store_factory_to_oob(&f, &m), 0);
    assert_string_equal(m.endpoint, f.endpoint);
    assert_true(m.has_wifi_ap);
    assert_string_equal(m.ssid, "duckling-setup");
    assert_int_equal(m.cred_type, DK_OOB_CRED_RPK);
    assert_int_equal(m.cred_len, 16);
    assert_memory_equal(m.cred, test_key_spki_hash, 16);
    make_factory(&f, DK_OOB_CRED_PSK);
    assert_int_equal(dk_store_factory_to_oob(&f, &m), 0);
    assert_true(dk_oob_cred_equal(&m, f.psk, 16));
    make_factory(&f, DK_OOB_CRED_X509);
    uint8_t h[16];
    assert_int_equal(dk_oob_cred_hash(f.cert_der, f.cert_der_len, h), 0);
    assert_int_equal(dk_store_factory_to_oob(&f, &m), 0);
    assert_memory_equal(m.cred, h, 16);
    make_factory(&f, DK_OOB_CRED_RPK);
    f.key_der[10] ^= 0xff;
    f.key_der[0] = 0; /* not a key */
    assert_int_equal(dk_store_factory_to_oob(&f, &m), DK_EINVAL);
}

static void test_factory_files(void **state)
{
    (void)state;
    struct dk_store_factory f, back;
    const char *why = NULL;
    assert_int_equal(dk_store_factory_load(dir, &back, &why), DK_ENOTFOUND);
    make_factory(&f, DK_OOB_CRED_PSK);
    /* A temporary left by an earlier crash does not get in the way. */
    write_file("factory.store.tmp", (const uint8_t *)"junk", 4);
    assert_int_equal(dk_store_factory_save(dir, &f), 0);
    assert_false(exists("factory.store.tmp"));
    assert_int_equal(mode_of("factory.store"), 0600);
    assert_int_equal(dk_store_factory_load(dir, &back, &why), 0);
    assert_memory_equal(&f, &back, sizeof f);
    /* Replace: the new content wins. */
    strcpy(f.type, "SENSOR");
    assert_int_equal(dk_store_factory_save(dir, &f), 0);
    assert_int_equal(dk_store_factory_load(dir, &back, &why), 0);
    assert_string_equal(back.type, "SENSOR");
    /* A corrupt file on disk is refused with a reason. */
    static uint8_t buf[DK_STORE_FACTORY_MAX];
    size_t n = read_file("factory.store", buf, sizeof buf);
    buf[n / 2] ^= 1;
    write_file("factory.store", buf, n);
    assert_int_equal(dk_store_factory_load(dir, &back, &why), DK_ECORRUPT);
    assert_string_equal(why, "integrity check failed (SHA-256 mismatch): file is corrupt");
    write_file("factory.store", buf, n / 2);
    assert_int_equal(dk_store_factory_load(dir, &back, &why), DK_ECORRUPT);
    assert_string_equal(why, "truncated file");
    /* Save into a missing directory fails with DK_EIO. */
    char missing[96];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    assert_int_equal(dk_store_factory_save(missing, &f), DK_EIO);
}

/* ---- operational store ---- */

static void test_records_codec(void **state)
{
    (void)state;
    const uint8_t v1[] = {1, 2, 3};
    struct dk_store_record recs[] = {
        {"/0/1/3", v1, sizeof v1}, {"/1/1/1", (const uint8_t *)"\x00\x00\x0e\x10", 4},
        {"empty", NULL, 0},
    };
    uint8_t buf[256];
    size_t len, n;
    size_t size = dk_store_records_size(recs, 3);
    assert_int_equal(dk_store_records_encode(recs, 3, buf, sizeof buf, &len), 0);
    assert_int_equal(len, size);
    struct dk_store_record back[3];
    assert_int_equal(dk_store_records_decode(buf, len, back, 3, &n, NULL), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(back[i].key, recs[i].key);
        assert_int_equal(back[i].len, recs[i].len);
        if (recs[i].len)
            assert_memory_equal(back[i].value, recs[i].value, recs[i].len);
    }
    /* Counting only. */
    assert_int_equal(dk_store_records_decode(buf, len, NULL, 0, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(dk_store_records_encode(recs, 3, buf, len - 1, &len), DK_ENOSPC);
    struct dk_store_record dup[] = {{"a", v1, 1}, {"a", v1, 2}};
    assert_int_equal(dk_store_records_encode(dup, 2, buf, sizeof buf, &len), DK_EINVAL);
    struct dk_store_record bad[] = {{"", v1, 1}};
    assert_int_equal(dk_store_records_encode(bad, 1, buf, sizeof buf, &len), DK_EINVAL);
    struct dk_store_record nullv[] = {{"k", NULL, 1}};
    assert_int_equal(dk_store_records_encode(nullv, 1, buf, sizeof buf, &len), DK_EINVAL);
    char longkey[DK_STORE_RECORD_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    struct dk_store_record lk[] = {{longkey, v1, 1}};
    assert_int_equal(dk_store_records_size(lk, 1), 0);
    /* Malformed lists. */
    const char *why;
    uint8_t no_nul[] = {1, 0, 0, 0, 0, 2, 'a', 'b'};
    assert_int_equal(dk_store_records_decode(no_nul, sizeof no_nul, back, 3, &n, &why), DK_EPARSE);
    uint8_t empty_key[] = {1, 0, 0, 0, 0, 2, 0, 'b'};
    assert_int_equal(dk_store_records_decode(empty_key, sizeof empty_key, back, 3, &n, &why),
                     DK_EPARSE);
    uint8_t wrong_type[] = {0, 1, 0, 0, 0, 2, 'a', 0};
    assert_int_equal(dk_store_records_decode(wrong_type, sizeof wrong_type, back, 3, &n, &why),
                     DK_EPARSE);
    uint8_t short_len[] = {1, 0, 0, 0, 0, 9, 'a', 0};
    assert_int_equal(dk_store_records_decode(short_len, sizeof short_len, back, 3, &n, &why),
                     DK_EPARSE);
}

static void test_seal_and_open(void **state)
{
    (void)state;
    struct dk_rng rng;
    dk_rng_init(&rng);
    assert_int_equal(dk_rng_setup_deterministic(&rng, "seal", 4), 0);
    uint8_t key[32], other[32];
    memset(key, 1, sizeof key);
    memset(other, 2, sizeof other);
    const uint8_t plain[] = "the operational credentials";
    uint8_t img[128], img2[128], out[128];
    size_t len, len2, plen;
    const char *why;
    assert_int_equal(dk_store_ops_seal(key, plain, sizeof plain, &rng, img, sizeof img, &len), 0);
    assert_int_equal(len, sizeof plain + DK_STORE_OPS_OVERHEAD);
    assert_null(memmem(img, len, "operational", 11)); /* encrypted */
    assert_int_equal(dk_store_ops_open(key, img, len, out, sizeof out, &plen, &why), 0);
    assert_int_equal(plen, sizeof plain);
    assert_memory_equal(out, plain, plen);
    /* A fresh nonce every time. */
    assert_int_equal(dk_store_ops_seal(key, plain, sizeof plain, &rng, img2, sizeof img2, &len2), 0);
    assert_memory_not_equal(img + 12, img2 + 12, 12);
    assert_int_equal(dk_store_ops_open(other, img, len, out, sizeof out, &plen, &why), DK_ECORRUPT);
    for (size_t i = 0; i < len; i++) {
        memcpy(img2, img, len);
        img2[i] ^= 0x40;
        assert_true(dk_store_ops_open(key, img2, len, out, sizeof out, &plen, &why) < 0);
    }
    for (size_t n = 0; n < len; n++)
        assert_true(dk_store_ops_open(key, img, n, out, sizeof out, &plen, &why) < 0);
    assert_int_equal(dk_store_ops_seal(key, plain, sizeof plain, &rng, img, 10, &len), DK_ENOSPC);
    dk_rng_free(&rng);
}

static void test_ops_files_and_wipe(void **state)
{
    (void)state;
    struct dk_rng rng;
    dk_rng_init(&rng);
    assert_int_equal(dk_rng_setup(&rng, "test", 4), 0);
    struct dk_store_ops ops;
    dk_store_ops_init(&ops);
    const char *why = NULL;
    assert_false(dk_store_ops_exists(dir));
    assert_int_equal(dk_store_ops_load(dir, NULL, &ops, &why), DK_ENOTFOUND);

    struct dk_store_factory f;
    make_factory(&f, DK_OOB_CRED_PSK);
    assert_int_equal(dk_store_factory_save(dir, &f), 0);
    static uint8_t factory_before[DK_STORE_FACTORY_MAX];
    size_t factory_len = read_file("factory.store", factory_before, sizeof factory_before);

    const char secret[] = "SECRET-OPERATIONAL-PSK";
    struct dk_store_record recs[] = {
        {"/0/1/5", (const uint8_t *)secret, sizeof secret - 1},
        {"/1/1/0", (const uint8_t *)"\x00\x01", 2},
    };
    assert_int_equal(dk_store_ops_save(dir, recs, 2, &rng), 0);
    assert_true(dk_store_ops_exists(dir));
    assert_int_equal(mode_of("operational.store"), 0600);
    assert_int_equal(mode_of("device.key"), 0600);
    static uint8_t buf[4096];
    size_t n = read_file("operational.store", buf, sizeof buf);
    assert_null(memmem(buf, n, "SECRET", 6)); /* encrypted at rest */
    uint8_t key1[128];
    size_t key1_len = read_file("device.key", key1, sizeof key1);
    assert_int_equal(key1_len, 12 + 32 + 32);

    assert_int_equal(dk_store_ops_load(dir, NULL, &ops, &why), 0);
    assert_int_equal(ops.count, 2);
    const struct dk_store_record *r = dk_store_ops_find(&ops, "/0/1/5");
    assert_non_null(r);
    assert_int_equal(r->len, sizeof secret - 1);
    assert_memory_equal(r->value, secret, r->len);
    assert_null(dk_store_ops_find(&ops, "/0/1/6"));

    /* Replacing keeps the key and drops old records. */
    assert_int_equal(dk_store_ops_save(dir, recs + 1, 1, &rng), 0);
    assert_int_equal(dk_store_ops_load(dir, NULL, &ops, &why), 0); /* frees the old content */
    assert_int_equal(ops.count, 1);
    uint8_t key2[128];
    assert_int_equal(read_file("device.key", key2, sizeof key2), key1_len);
    assert_memory_equal(key1, key2, key1_len);

    /* Tampering is detected. */
    n = read_file("operational.store", buf, sizeof buf);
    buf[n - 1] ^= 1;
    write_file("operational.store", buf, n);
    assert_int_equal(dk_store_ops_load(dir, NULL, &ops, &why), DK_ECORRUPT);
    assert_int_equal(ops.count, 0);
    buf[n - 1] ^= 1;
    write_file("operational.store", buf, n);
    assert_int_equal(dk_store_ops_load(dir, NULL, &ops, &why), 0);

    /* Wipe: key and store gone, factory store untouched. */
    assert_int_equal(dk_store_ops_wipe(dir), 0);
    assert_false(exists("device.key"));
    assert_false(exists("operational.store"));
    assert_false(dk_store_ops_exists(dir));
    assert_int_equal(read_file("factory.store", buf, sizeof buf), factory_len);
    assert_memory_equal(buf, factory_before, factory_len);
    struct dk_store_factory back;
    assert_int_equal(dk_store_factory_load(dir, &back, &why), 0);
    assert_int_equal(dk_store_ops_load(dir, NULL, &ops, &why), DK_ENOTFOUND);
    assert_int_equal(dk_store_ops_wipe(dir), 0); /* idempotent */

    /* The old store without its key cannot be read (crypto-erase). */
    assert_int_equal(dk_store_ops_save(dir, recs, 2, &rng), 0);
    uint8_t key3[128];
    assert_int_equal(read_file("device.key", key3, sizeof key3), key1_len);
    assert_memory_not_equal(key1, key3, key1_len); /* a new key after a wipe */
    static uint8_t old[4096];
    size_t old_len = read_file("operational.store", old, sizeof old);
    char key_path[128];
    snprintf(key_path, sizeof key_path, "%s/device.key", dir);
    assert_int_equal(unlink(key_path), 0);
    assert_int_equal(dk_store_ops_load(dir, NULL, &ops, &why), DK_ECORRUPT);
    assert_string_equal(why, "device key is missing (operational store cannot be decrypted)");
    /* Saving again makes a new key; the old image stays unreadable under it. */
    assert_int_equal(dk_store_ops_save(dir, recs, 1, &rng), 0);
    write_file("operational.store", old, old_len);
    assert_int_equal(dk_store_ops_load(dir, NULL, &ops, &why), DK_ECORRUPT);

    /* A damaged key file: loading says so; saving is blocked until a wipe. */
    n = read_file("device.key", buf, sizeof buf);
    buf[20] ^= 1;
    write_file("device.key", buf, n);
    assert_int_equal(dk_store_ops_load(dir, NULL, &ops, &why), DK_ECORRUPT);
    assert_string_equal(why, "device key file is damaged");
    write_file("device.key", (const uint8_t *)"DKST", 4);
    assert_int_equal(dk_store_ops_save(dir, recs, 2, &rng), DK_ECORRUPT);
    assert_int_equal(dk_store_ops_wipe(dir), 0);
    assert_int_equal(dk_store_ops_save(dir, NULL, 0, &rng), 0); /* empty store is fine */
    assert_int_equal(dk_store_ops_load(dir, NULL, &ops, &why), 0);
    assert_int_equal(ops.count, 0);
    dk_store_ops_free(&ops);
    dk_store_ops_free(&ops);
    dk_rng_free(&rng);
}

static void test_ops_load_allocation_failures(void **state)
{
    (void)state;
    struct dk_rng rng;
    dk_rng_init(&rng);
    assert_int_equal(dk_rng_setup(&rng, NULL, 0), 0);
    struct dk_store_record recs[] = {{"a", (const uint8_t *)"1", 1}, {"b", (const uint8_t *)"2", 1}};
    assert_int_equal(dk_store_ops_save(dir, recs, 2, &rng), 0);
    int failures = 0;
    for (long k = 1; k < 10; k++) {
        struct dk_failalloc fa;
        dk_failalloc_init(&fa, k, 0);
        struct dk_store_ops ops;
        dk_store_ops_init(&ops);
        int rc = dk_store_ops_load(dir, &fa.iface, &ops, NULL);
        if (rc == DK_ENOMEM)
            failures++;
        else
            assert_int_equal(rc, 0);
        dk_store_ops_free(&ops);
        assert_int_equal(fa.live, 0);
    }
    assert_int_equal(failures, 3); /* file image, plaintext, record table */
    dk_rng_free(&rng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_factory_round_trip),
        cmocka_unit_test(test_factory_refuses_damage),
        cmocka_unit_test(test_factory_refuses_bad_records),
        cmocka_unit_test(test_factory_check),
        cmocka_unit_test(test_factory_to_oob),
        cmocka_unit_test_setup_teardown(test_factory_files, make_dir, remove_dir),
        cmocka_unit_test(test_records_codec),
        cmocka_unit_test(test_seal_and_open),
        cmocka_unit_test_setup_teardown(test_ops_files_and_wipe, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_ops_load_allocation_failures, make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
