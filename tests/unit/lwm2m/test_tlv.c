/* Paths, values, TLV, plain text and opaque. The TLV vectors are the worked
 * examples of the LwM2M TS Core (1.0 §6.4.3.1-3, kept in 1.1 §7.4.3). */
#include "helpers.h"

#include <duckling/lwm2m_tlv.h>
#include <math.h>

/* Device object instance 0 (TS Core example "Single Object Instance"). */
static const char *DEVICE_TLV =
    "C800144F70656E204D6F62696C6520416C6C69616E6365"
    "C801164C69676874776569676874204D324D20436C69656E74"
    "C80209333435303030313233"
    "C303312E30"
    "86064100014101 05"
    "88070842000ED842011388"
    "870841007D42010384"
    "C10964"
    "C10A0F"
    "830B410000"
    "C40D5182428F"
    "C60E2B30323A3030"
    "C11055";

/* Access Control object, two instances (example "Multiple Object Instances"). */
static const char *ACL_TLV = "08000EC10001C101008302417F07C1037F08"
                             "0212C10003C101008702417F0761013601C1037F";

/* Server object, one instance. */
static const char *SERVER_TLV = "08000FC10001C40100015180C10601C10755";

/* ------------------------------------------------------------- paths --- */

static void test_path_parse_and_format(void **state)
{
    (void)state;
    struct dk_lwm2m_path p;
    assert_int_equal(dk_lwm2m_path_parse("/", 1, &p), 0);
    assert_int_equal(p.len, 0);
    assert_path(&p, "/");
    assert_int_equal(dk_lwm2m_path_parse("/3/0/11/0", 9, &p), 0);
    assert_int_equal(p.len, 4);
    assert_int_equal(p.ids[2], 11);
    assert_path(&p, "/3/0/11/0");
    assert_int_equal(dk_lwm2m_path_parse("/65534", 6, &p), 0);
    assert_int_equal(p.ids[0], 65534);
    /* not NUL-terminated input */
    assert_int_equal(dk_lwm2m_path_parse("/3/0xyz", 4, &p), 0);
    assert_path(&p, "/3/0");

    static const struct {
        const char *s;
        int err;
    } bad[] = {
        {"", DK_EPARSE},          {"3/0", DK_EPARSE},       {"/3/", DK_EPARSE},
        {"//3", DK_EPARSE},       {"/03", DK_EPARSE},       {"/65535", DK_ERANGE},
        {"/100000", DK_ERANGE},   {"/3/0/1/2/3", DK_EPARSE}, {"/3/a", DK_EPARSE},
        {"/-1", DK_EPARSE},       {"/+1", DK_EPARSE},       {"/3 ", DK_EPARSE},
        {"/0000000", DK_EPARSE},  {"/99999999999999999999", DK_ERANGE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(dk_lwm2m_path_parse(bad[i].s, strlen(bad[i].s), &p), bad[i].err);

    p = dk_lwm2m_path_root();
    assert_int_equal(dk_lwm2m_path_push_segment(&p, "3311", 4), 0);
    assert_int_equal(dk_lwm2m_path_push_segment(&p, "0", 1), 0);
    assert_int_equal(dk_lwm2m_path_push_segment(&p, "", 0), DK_EPARSE);
    assert_int_equal(dk_lwm2m_path_push_segment(&p, "65535", 5), DK_ERANGE);
    assert_int_equal(dk_lwm2m_path_push_segment(&p, "5850", 4), 0);
    assert_int_equal(dk_lwm2m_path_push_segment(&p, "1", 1), 0);
    assert_int_equal(dk_lwm2m_path_push_segment(&p, "1", 1), DK_EPARSE);
    assert_path(&p, "/3311/0/5850/1");

    char small[4];
    assert_int_equal(dk_lwm2m_path_str(&p, small, sizeof small), DK_ENOSPC);
    char big[DK_LWM2M_PATH_STR_MAX];
    struct dk_lwm2m_path max = dk_lwm2m_path_rinst(65534, 65534, 65534, 65534);
    assert_int_equal(dk_lwm2m_path_str(&max, big, sizeof big), 0);
    assert_string_equal(big, "/65534/65534/65534/65534");
}

static void test_path_relations(void **state)
{
    (void)state;
    struct dk_lwm2m_path root = dk_lwm2m_path_root(), o = P("/3"), i = P("/3/0"),
                         r = P("/3/0/1"), r2 = P("/3/0/2"), i1 = P("/3/1");
    assert_true(dk_lwm2m_path_contains(&root, &r));
    assert_true(dk_lwm2m_path_contains(&o, &r));
    assert_true(dk_lwm2m_path_contains(&i, &i));
    assert_false(dk_lwm2m_path_contains(&r, &i));
    assert_false(dk_lwm2m_path_contains(&i1, &r));
    assert_true(dk_lwm2m_path_compare(&i, &r) < 0);
    assert_true(dk_lwm2m_path_compare(&r, &r2) < 0);
    assert_true(dk_lwm2m_path_compare(&r2, &i1) < 0);
    assert_int_equal(dk_lwm2m_path_compare(&r, &r), 0);
    assert_true(dk_lwm2m_path_equal(&r, &r));
    assert_false(dk_lwm2m_path_equal(&r, &r2));
    struct dk_lwm2m_path x = i;
    assert_int_equal(dk_lwm2m_path_append(&x, 65535), DK_ERANGE);
    assert_int_equal(dk_lwm2m_path_append(&x, 7), 0);
    assert_int_equal(dk_lwm2m_path_append(&x, 8), 0);
    assert_int_equal(dk_lwm2m_path_append(&x, 9), DK_ENOSPC);
}

/* ---------------------------------------------------------------- TLV --- */

static void check_device_records(const struct dk_lwm2m_record *r, size_t n)
{
    assert_int_equal(n, 16);
    assert_path(&r[0].path, "/3/0/0");
    assert_str_value(&r[0].value, "Open Mobile Alliance");
    assert_str_value(&r[1].value, "Lightweight M2M Client");
    assert_str_value(&r[2].value, "345000123");
    assert_str_value(&r[3].value, "1.0");
    static const struct {
        const char *path;
        int64_t v;
    } ints[] = {{"/3/0/6/0", 1},    {"/3/0/6/1", 5},   {"/3/0/7/0", 3800}, {"/3/0/7/1", 5000},
                {"/3/0/8/0", 125},  {"/3/0/8/1", 900}, {"/3/0/9", 100},    {"/3/0/10", 15},
                {"/3/0/11/0", 0}};
    for (size_t i = 0; i < 9; i++) {
        assert_path(&r[4 + i].path, ints[i].path);
        assert_int_equal(r[4 + i].value.type, DK_LWM2M_TYPE_INTEGER);
        assert_int_equal(r[4 + i].value.v.i, ints[i].v);
    }
    assert_path(&r[13].path, "/3/0/13");
    assert_int_equal(r[13].value.type, DK_LWM2M_TYPE_TIME);
    assert_int_equal(r[13].value.v.i, 1367491215);
    assert_str_value(&r[14].value, "+02:00");
    assert_path(&r[15].path, "/3/0/16");
    assert_str_value(&r[15].value, "U");
}

static void test_tlv_spec_device_instance(void **state)
{
    (void)state;
    uint8_t in[256], out[256];
    size_t n = unhex(DEVICE_TLV, in, sizeof in);
    assert_int_equal(n, 121);
    struct dk_lwm2m_record recs[32];
    size_t cnt;
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, n, "/3/0", NULL, recs, 32, &cnt), 0);
    check_device_records(recs, cnt);
    /* zero-copy: strings point into the input */
    assert_ptr_equal(recs[0].value.v.bytes.p, in + 3);

    /* Re-encoding the typed records gives the specification's bytes. */
    struct dk_buf b;
    dk_buf_init(&b, out, sizeof out);
    struct dk_lwm2m_path base = P("/3/0");
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_TLV, &base, recs, cnt, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(out, in, n);

    /* The same instance wrapped in an Object Instance TLV (read of /3/0 or /3). */
    uint8_t wrapped[256];
    size_t wn = unhex("080079", wrapped, sizeof wrapped);
    memcpy(wrapped + wn, in, n);
    wn += n;
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, wrapped, wn, "/3/0", NULL, recs, 32, &cnt), 0);
    check_device_records(recs, cnt);
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, wrapped, wn, "/3", NULL, recs, 32, &cnt), 0);
    check_device_records(recs, cnt);
    dk_buf_init(&b, out, sizeof out);
    base = P("/3");
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_TLV, &base, recs, cnt, &b), 0);
    assert_int_equal(b.len, wn);
    assert_memory_equal(out, wrapped, wn);
    /* wrapper with the wrong instance id */
    wrapped[1] = 1;
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, wrapped, wn, "/3/0", NULL, recs, 32, &cnt),
                     DK_EPARSE);
}

static void test_tlv_spec_multiple_instances(void **state)
{
    (void)state;
    uint8_t in[128], out[128];
    size_t n = unhex(ACL_TLV, in, sizeof in);
    struct dk_lwm2m_record r[16];
    size_t cnt;
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, n, "/2", NULL, r, 16, &cnt), 0);
    assert_int_equal(cnt, 9);
    static const struct {
        const char *path;
        int64_t v;
    } want[] = {{"/2/0/0", 1},       {"/2/0/1", 0}, {"/2/0/2/127", 7}, {"/2/0/3", 127},
                {"/2/2/0", 3},       {"/2/2/1", 0}, {"/2/2/2/127", 7}, {"/2/2/2/310", 1},
                {"/2/2/3", 127}};
    for (size_t i = 0; i < cnt; i++) {
        assert_path(&r[i].path, want[i].path);
        assert_int_equal(r[i].value.type, DK_LWM2M_TYPE_INTEGER);
        assert_int_equal(r[i].value.v.i, want[i].v);
    }
    struct dk_buf b;
    dk_buf_init(&b, out, sizeof out);
    struct dk_lwm2m_path base = P("/2");
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_TLV, &base, r, cnt, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(out, in, n);

    n = unhex(SERVER_TLV, in, sizeof in);
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, n, "/1", NULL, r, 16, &cnt), 0);
    assert_int_equal(cnt, 4);
    assert_path(&r[1].path, "/1/0/1");
    assert_int_equal(r[1].value.v.i, 86400);
    assert_int_equal(r[2].value.type, DK_LWM2M_TYPE_BOOLEAN);
    assert_true(r[2].value.v.b);
    assert_str_value(&r[3].value, "U");
    dk_buf_init(&b, out, sizeof out);
    base = P("/1");
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_TLV, &base, r, cnt, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(out, in, n);
}

static int obj65_type(void *user, const struct dk_lwm2m_path *p, enum dk_lwm2m_type *t)
{
    (void)user;
    if (p->ids[0] == 65 && p->ids[2] == 0)
        *t = DK_LWM2M_TYPE_OBJLNK;
    else if (p->ids[0] == 65 && p->ids[2] == 1)
        *t = DK_LWM2M_TYPE_STRING;
    else if (p->ids[0] == 65 && p->ids[2] == 2)
        *t = DK_LWM2M_TYPE_INTEGER;
    else
        return DK_ENOTFOUND;
    return 0;
}

static void test_tlv_spec_objlnk_and_custom_typer(void **state)
{
    (void)state;
    uint8_t in[64];
    size_t n = unhex("88000C440000420000440100420001C8010D38363133383030373535353030C40212345678",
                     in, sizeof in);
    struct dk_lwm2m_decode_opts o = {.type_of = obj65_type};
    struct dk_lwm2m_record r[8];
    size_t cnt;
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, n, "/65/0", &o, r, 8, &cnt), 0);
    assert_int_equal(cnt, 4);
    assert_path(&r[1].path, "/65/0/0/1");
    assert_int_equal(r[1].value.type, DK_LWM2M_TYPE_OBJLNK);
    assert_int_equal(r[1].value.v.lnk.oid, 66);
    assert_int_equal(r[1].value.v.lnk.iid, 1);
    assert_str_value(&r[2].value, "8613800755500");
    assert_int_equal(r[3].value.v.i, 305419896);
    /* Without a typer an unknown object's values stay raw bytes. */
    struct dk_lwm2m_decode_opts raw = {.raw = true};
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, n, "/65/0", &raw, r, 8, &cnt), 0);
    assert_int_equal(r[3].value.type, DK_LWM2M_TYPE_OPAQUE);
    assert_int_equal(r[3].value.v.bytes.n, 4);
    struct dk_lwm2m_value v;
    assert_int_equal(dk_tlv_value_decode(r[3].value.v.bytes.p, 4, DK_LWM2M_TYPE_INTEGER, &v), 0);
    assert_int_equal(v.v.i, 0x12345678);
}

static void test_tlv_single_resource_and_shapes(void **state)
{
    (void)state;
    uint8_t in[32], out[32];
    size_t n = unhex("E116DA01", in, sizeof in); /* 5850 On/Off = true, 16-bit id */
    struct dk_lwm2m_record r[8];
    size_t cnt;
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, n, "/3311/0/5850", NULL, r, 8, &cnt), 0);
    assert_int_equal(cnt, 1);
    assert_path(&r[0].path, "/3311/0/5850");
    assert_int_equal(r[0].value.type, DK_LWM2M_TYPE_BOOLEAN);
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, n, "/3311/0", NULL, r, 8, &cnt), 0);
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, n, "/3311/0/5851", NULL, r, 8, &cnt),
                     DK_EPARSE);

    /* Multiple resource read: wrapped or bare resource instances. */
    n = unhex("8606410001410105", in, sizeof in);
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, n, "/3/0/6", NULL, r, 8, &cnt), 0);
    assert_int_equal(cnt, 2);
    assert_path(&r[1].path, "/3/0/6/1");
    assert_int_equal(r[1].value.v.i, 5);
    struct dk_buf b;
    dk_buf_init(&b, out, sizeof out);
    struct dk_lwm2m_path base = P("/3/0/6");
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_TLV, &base, r, cnt, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(out, in, n);
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in + 2, n - 2, "/3/0/6", NULL, r, 8, &cnt), 0);
    assert_int_equal(cnt, 2);
    /* One resource instance. */
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in + 5, 3, "/3/0/6/1", NULL, r, 8, &cnt), 0);
    assert_int_equal(r[0].value.v.i, 5);
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in + 2, 6, "/3/0/6/1", NULL, r, 8, &cnt),
                     DK_EPARSE);

    /* An empty multiple resource is reported as a NONE record, both ways. */
    n = unhex("8006", in, sizeof in);
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, n, "/3/0", NULL, r, 8, &cnt), 0);
    assert_int_equal(cnt, 1);
    assert_path(&r[0].path, "/3/0/6");
    assert_int_equal(r[0].value.type, DK_LWM2M_TYPE_NONE);
    dk_buf_init(&b, out, sizeof out);
    base = P("/3/0");
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_TLV, &base, r, cnt, &b), 0);
    assert_int_equal(b.len, 2);
    assert_memory_equal(out, in, 2);

    /* Create without instance wrapper: the client assigns the id. */
    n = unhex("C10001", in, sizeof in);
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, n, "/2", NULL, r, 8, &cnt), 0);
    assert_int_equal(r[0].path.len, 3);
    assert_int_equal(r[0].path.ids[1], DK_LWM2M_ID_NONE);
    /* An empty payload is no records. */
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, in, 0, "/2", NULL, r, 8, &cnt), 0);
    assert_int_equal(cnt, 0);
}

static void test_tlv_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        const char *base;
        int err;
        const char *why;
    } bad[] = {
        {"C8001441", "/3/0", DK_EPARSE, "length beyond the payload"},
        {"C80014", "/3/0", DK_EPARSE, "value missing"},
        {"C8", "/3/0", DK_EPARSE, "truncated header"},
        {"D800FFFFFF00", "/3/0", DK_EPARSE, "24-bit length overflow"},
        {"E1FF", "/3/0", DK_EPARSE, "truncated 16-bit id"},
        {"E1FFFF01", "/3/0", DK_ERANGE, "id 65535"},
        {"080003C2000105", "/3", DK_EPARSE, "child longer than its instance"},
        {"860441000141", "/3/0", DK_EPARSE, "resource instance cut by its parent"},
        {"0800030800 00", "/3", DK_EPARSE, "instance inside an instance"},
        {"8603C10001", "/3/0", DK_EPARSE, "resource inside a multiple resource"},
        {"080003410001", "/3", DK_EPARSE, "resource instance directly in an instance"},
        {"410001", "/3/0", DK_EPARSE, "resource instance at instance level"},
        {"C3090000 01", "/3/0", DK_EPARSE, "3-byte integer"},
        {"C10602", "/1/0", DK_EPARSE, "boolean 2"},
        {"C100FF", "/3/0", DK_EPARSE, "invalid UTF-8 string"},
        {"C30A000000", "/3/0", DK_EPARSE, "3-byte integer (memory free)"},
        {"C1090AC1090B", "/3/0/9", DK_EPARSE, "two resources at a resource path"},
        {"C10001C10001", "/3/0/0/0", DK_EPARSE, "resource at a resource instance path"},
        {"080000080000", "/3/0", DK_EPARSE, "two wrappers for one instance"},
        {"080000C10001", "/2", DK_EPARSE, "instance and bare resource mixed"},
        {"C10001080000", "/2", DK_EPARSE, "bare resource and instance mixed"},
        {"C405000000", "/6/0", DK_EPARSE, "value cut short"},
    };
    uint8_t in[64];
    struct dk_lwm2m_record r[8];
    size_t cnt;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = unhex(bad[i].hex, in, sizeof in);
        int rc = decode_all(DK_LWM2M_CF_TLV, in, n, bad[i].base, NULL, r, 8, &cnt);
        if (rc != bad[i].err)
            fail_msg("case %zu (%s): got %d want %d", i, bad[i].why, rc, bad[i].err);
    }
    struct dk_lwm2m_reader rd;
    struct dk_lwm2m_path root = dk_lwm2m_path_root();
    assert_int_equal(dk_lwm2m_reader_start(&rd, DK_LWM2M_CF_TLV, in, 1, &root, NULL), DK_ENOTSUP);
    assert_int_equal(dk_lwm2m_reader_next(&rd, &r[0]), DK_ENOTSUP);
    /* Errors are sticky. */
    size_t n = unhex("C10964C109", in, sizeof in);
    struct dk_lwm2m_path base = P("/3/0");
    assert_int_equal(dk_lwm2m_reader_start(&rd, DK_LWM2M_CF_TLV, in, n, &base, NULL), 0);
    assert_int_equal(dk_lwm2m_reader_next(&rd, &r[0]), 0);
    assert_int_equal(dk_lwm2m_reader_next(&rd, &r[0]), DK_EPARSE);
    assert_int_equal(dk_lwm2m_reader_next(&rd, &r[0]), DK_EPARSE);
    /* Every strict prefix of the device example that cuts an element fails,
     * and none crashes. */
    uint8_t dev[256];
    size_t dn = unhex(DEVICE_TLV, dev, sizeof dev);
    int ok = 0;
    for (size_t cut = 0; cut < dn; cut++) {
        struct dk_lwm2m_record many[32];
        int rc = decode_all(DK_LWM2M_CF_TLV, dev, cut, "/3/0", NULL, many, 32, &cnt);
        if (rc == DK_EPARSE)
            continue;
        if (rc != 0)
            fail_msg("cut %zu: %d", cut, rc);
        ok++;
    }
    assert_int_equal(ok, 13); /* empty, and after each of 12 complete resources */ /* only cuts at element boundaries decode */
}

static void test_tlv_elements(void **state)
{
    (void)state;
    assert_int_equal(dk_tlv_header_size(1, 7), 2);
    assert_int_equal(dk_tlv_header_size(1, 8), 3);
    assert_int_equal(dk_tlv_header_size(256, 256), 5);
    assert_int_equal(dk_tlv_header_size(300, 70000), 6);
    uint8_t mem[80000];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem);
    static uint8_t big[70000];
    memset(big, 'x', sizeof big);
    assert_int_equal(dk_tlv_write(&b, DK_TLV_RESOURCE, 300, big, sizeof big), 0);
    assert_int_equal(mem[0], 0xF8); /* resource, 16-bit id, 24-bit length */
    struct dk_rd rd;
    dk_rd_init(&rd, mem, b.len);
    struct dk_tlv e;
    assert_int_equal(dk_tlv_read(&rd, &e), 0);
    assert_int_equal(e.kind, DK_TLV_RESOURCE);
    assert_int_equal(e.id, 300);
    assert_int_equal(e.len, sizeof big);
    assert_int_equal(dk_tlv_write_header(&b, DK_TLV_RESOURCE, 65535, 1), DK_EINVAL);
    assert_int_equal(dk_tlv_write_header(&b, DK_TLV_RESOURCE, 1, 0x1000000), DK_EINVAL);

    /* Integer widths: the shortest two's complement of 1, 2, 4 or 8 bytes. */
    static const struct {
        int64_t v;
        size_t n;
    } w[] = {{0, 1},      {127, 1},        {-128, 1},        {128, 2},   {-129, 2},
             {32767, 2},  {32768, 4},      {INT32_MIN, 4},   {INT32_MAX, 4},
             {2147483648LL, 8}, {INT64_MIN, 8}, {INT64_MAX, 8}};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        uint8_t tmp[8];
        const uint8_t *p;
        size_t n;
        struct dk_lwm2m_value v = dk_lwm2m_int(w[i].v), back;
        assert_int_equal(dk_tlv_value_bytes(&v, tmp, &p, &n), 0);
        assert_int_equal(n, w[i].n);
        assert_int_equal(dk_tlv_value_decode(p, n, DK_LWM2M_TYPE_INTEGER, &back), 0);
        assert_int_equal(back.v.i, w[i].v);
    }
    uint8_t tmp[8];
    const uint8_t *p;
    size_t n;
    struct dk_lwm2m_value v = dk_lwm2m_uint(UINT64_MAX), back;
    assert_int_equal(dk_tlv_value_bytes(&v, tmp, &p, &n), 0);
    assert_int_equal(n, 8);
    v = dk_lwm2m_uint(255);
    assert_int_equal(dk_tlv_value_bytes(&v, tmp, &p, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(dk_tlv_value_decode(p, n, DK_LWM2M_TYPE_UNSIGNED, &back), 0);
    assert_int_equal(back.v.u, 255);
    v = dk_lwm2m_float(1.5);
    assert_int_equal(dk_tlv_value_bytes(&v, tmp, &p, &n), 0);
    assert_int_equal(n, 4);
    v = dk_lwm2m_float(1.1);
    assert_int_equal(dk_tlv_value_bytes(&v, tmp, &p, &n), 0);
    assert_int_equal(n, 8);
    assert_int_equal(dk_tlv_value_decode(p, 2, DK_LWM2M_TYPE_FLOAT, &back), DK_EPARSE);
    assert_int_equal(dk_tlv_value_decode(p, 4, DK_LWM2M_TYPE_OBJLNK, &back), 0);
    assert_int_equal(dk_tlv_value_decode(p, 3, DK_LWM2M_TYPE_OBJLNK, &back), DK_EPARSE);
    assert_int_equal(dk_tlv_value_decode(p, 0, DK_LWM2M_TYPE_INTEGER, &back), DK_EPARSE);
    v.type = DK_LWM2M_TYPE_NONE;
    assert_int_equal(dk_tlv_value_bytes(&v, tmp, &p, &n), DK_EINVAL);
}

/* ------------------------------------------- round trip of every type --- */

static const enum dk_lwm2m_type rt_types[] = {
    DK_LWM2M_TYPE_STRING,  DK_LWM2M_TYPE_INTEGER, DK_LWM2M_TYPE_UNSIGNED,
    DK_LWM2M_TYPE_FLOAT,   DK_LWM2M_TYPE_BOOLEAN, DK_LWM2M_TYPE_OPAQUE,
    DK_LWM2M_TYPE_TIME,    DK_LWM2M_TYPE_OBJLNK,  DK_LWM2M_TYPE_CORELNK,
};

/* Object 9999: resource r has type rt_types[r % 9]. */
static int rt_type_of(void *user, const struct dk_lwm2m_path *p, enum dk_lwm2m_type *t)
{
    (void)user;
    if (p->ids[0] != 9999)
        return DK_ENOTFOUND;
    *t = rt_types[p->ids[2] % 9];
    return 0;
}

static const uint8_t opaque_bytes[] = {0x00, 0xFF, 0x10, 0x80, 0xFB, 0xEF};

static size_t make_rt_records(struct dk_lwm2m_record *r)
{
    size_t n = 0;
#define ADD(rid, val)                                                                              \
    do {                                                                                           \
        r[n].path = dk_lwm2m_path_res(9999, 0, rid);                                               \
        r[n].value = val;                                                                          \
        r[n].time = 0;                                                                             \
        n++;                                                                                       \
    } while (0)
    ADD(0, dk_lwm2m_str("hello \"w\\orld\"\n\t\x01 \xc3\xa9\xf0\x9f\x98\x80"));
    ADD(1, dk_lwm2m_int(INT64_MIN));
    ADD(2, dk_lwm2m_uint(UINT64_MAX));
    ADD(3, dk_lwm2m_float(-3.25e10));
    ADD(4, dk_lwm2m_bool(true));
    ADD(5, dk_lwm2m_opaque(opaque_bytes, sizeof opaque_bytes));
    ADD(6, dk_lwm2m_time(1700000000));
    ADD(7, dk_lwm2m_objlnk(65535, 65535));
    ADD(8, dk_lwm2m_corelnk("</3/0>;ver=1.1"));
    ADD(9, dk_lwm2m_str(""));
    ADD(10, dk_lwm2m_int(INT64_MAX));
    ADD(11, dk_lwm2m_uint(0));
    ADD(12, dk_lwm2m_float(1.1));
    ADD(13, dk_lwm2m_bool(false));
    ADD(14, dk_lwm2m_opaque(NULL, 0));
    ADD(15, dk_lwm2m_time(-1));
    ADD(16, dk_lwm2m_objlnk(3, 0));
    ADD(19, dk_lwm2m_int(-129));
    ADD(21, dk_lwm2m_float(0.5));
    ADD(28, dk_lwm2m_int(1));
    ADD(30, dk_lwm2m_float(1e300));
    ADD(37, dk_lwm2m_int(0));
#undef ADD
    r[n].path = dk_lwm2m_path_rinst(9999, 0, 99, 0);
    r[n].value = dk_lwm2m_str("ri0");
    r[n++].time = 0;
    r[n].path = dk_lwm2m_path_rinst(9999, 0, 99, 65534);
    r[n].value = dk_lwm2m_str("ri65534");
    r[n++].time = 0;
    r[n].path = dk_lwm2m_path_res(9999, 0, 102);
    r[n].value.type = DK_LWM2M_TYPE_NONE; /* empty multiple resource */
    r[n++].time = 0;
    return n;
}

static void round_trip(int cf, const char *base_s)
{
    struct dk_lwm2m_record in[40], out[40];
    size_t n = make_rt_records(in);
    static uint8_t mem[4096], scratch[1024];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem);
    struct dk_lwm2m_path base = P(base_s);
    assert_int_equal(dk_lwm2m_encode(cf, &base, in, n, &b), 0);
    struct dk_lwm2m_decode_opts o = {.type_of = rt_type_of, .scratch = scratch,
                                     .scratch_cap = sizeof scratch};
    size_t cnt;
    int rc = dk_lwm2m_decode(cf, mem, b.len, &base, &o, out, 40, &cnt);
    if (rc)
        fail_msg("cf %d: decode %d", cf, rc);
    assert_int_equal(cnt, n);
    for (size_t i = 0; i < n; i++) {
        if (!dk_lwm2m_path_equal(&in[i].path, &out[i].path) ||
            !dk_lwm2m_value_equal(&in[i].value, &out[i].value))
            fail_msg("cf %d record %zu differs (type %s vs %s)", cf, i,
                     dk_lwm2m_type_name(in[i].value.type), dk_lwm2m_type_name(out[i].value.type));
    }
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    round_trip(DK_LWM2M_CF_TLV, "/9999/0");
    round_trip(DK_LWM2M_CF_TLV, "/9999");
    round_trip(DK_LWM2M_CF_SENML_JSON, "/9999/0");
    round_trip(DK_LWM2M_CF_SENML_JSON, "/");
    round_trip(DK_LWM2M_CF_SENML_CBOR, "/9999/0");
    round_trip(DK_LWM2M_CF_SENML_CBOR, "/9999");
    /* Plain text: one value at a time. */
    struct dk_lwm2m_record in[40];
    size_t n = make_rt_records(in);
    for (size_t i = 0; i < n; i++) {
        if (in[i].value.type == DK_LWM2M_TYPE_NONE)
            continue;
        uint8_t mem[256], scratch[64];
        struct dk_buf b;
        dk_buf_init(&b, mem, sizeof mem);
        assert_int_equal(dk_lwm2m_text_encode(&in[i].value, &b), 0);
        struct dk_lwm2m_value back;
        assert_int_equal(dk_lwm2m_text_decode(mem, b.len, in[i].value.type, &back, scratch,
                                              sizeof scratch),
                         0);
        assert_true(dk_lwm2m_value_equal(&in[i].value, &back));
    }
}

/* --------------------------------------------------- text and opaque --- */

static void test_text_format(void **state)
{
    (void)state;
    static const struct {
        struct dk_lwm2m_value v;
        const char *text;
    } enc[] = {
        {{.type = DK_LWM2M_TYPE_INTEGER, .v.i = -42}, "-42"},
        {{.type = DK_LWM2M_TYPE_FLOAT, .v.f = 1.5}, "1.5"},
        {{.type = DK_LWM2M_TYPE_FLOAT, .v.f = 3}, "3.0"},
        {{.type = DK_LWM2M_TYPE_FLOAT, .v.f = 0.1}, "0.1"},
        {{.type = DK_LWM2M_TYPE_BOOLEAN, .v.b = true}, "1"},
        {{.type = DK_LWM2M_TYPE_UNSIGNED, .v.u = UINT64_MAX}, "18446744073709551615"},
        {{.type = DK_LWM2M_TYPE_TIME, .v.i = 1367491215}, "1367491215"},
        {{.type = DK_LWM2M_TYPE_OBJLNK, .v.lnk = {66, 1}}, "66:1"},
    };
    for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++) {
        char mem[64];
        struct dk_buf b;
        dk_buf_init(&b, mem, sizeof mem);
        assert_int_equal(dk_lwm2m_text_encode(&enc[i].v, &b), 0);
        assert_int_equal(b.len, strlen(enc[i].text));
        assert_memory_equal(mem, enc[i].text, b.len);
    }
    char mem[64];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem);
    struct dk_lwm2m_value op = dk_lwm2m_opaque("\x01\x02\x03\x04\x05", 5);
    assert_int_equal(dk_lwm2m_text_encode(&op, &b), 0);
    assert_int_equal(b.len, 8);
    assert_memory_equal(mem, "AQIDBAU=", 8);
    struct dk_lwm2m_value nan = dk_lwm2m_float(NAN);
    assert_int_equal(dk_lwm2m_text_encode(&nan, &b), DK_ENOTSUP);

    static const struct {
        const char *s;
        enum dk_lwm2m_type t;
        int err;
    } dec[] = {
        {"abc", DK_LWM2M_TYPE_INTEGER, DK_EPARSE},
        {"1.5", DK_LWM2M_TYPE_INTEGER, DK_ERANGE},
        {"9223372036854775808", DK_LWM2M_TYPE_INTEGER, DK_ERANGE},
        {"9223372036854775808", DK_LWM2M_TYPE_UNSIGNED, 0},
        {"-1", DK_LWM2M_TYPE_UNSIGNED, DK_ERANGE},
        {" 1", DK_LWM2M_TYPE_INTEGER, DK_EPARSE},
        {"+1", DK_LWM2M_TYPE_INTEGER, DK_EPARSE},
        {"01", DK_LWM2M_TYPE_INTEGER, DK_EPARSE},
        {"", DK_LWM2M_TYPE_INTEGER, DK_EPARSE},
        {"2", DK_LWM2M_TYPE_BOOLEAN, DK_EPARSE},
        {"true", DK_LWM2M_TYPE_BOOLEAN, DK_EPARSE},
        {"1e400", DK_LWM2M_TYPE_FLOAT, DK_ERANGE},
        {"1e3", DK_LWM2M_TYPE_FLOAT, 0},
        {"66:65536", DK_LWM2M_TYPE_OBJLNK, DK_ERANGE},
        {"66-1", DK_LWM2M_TYPE_OBJLNK, DK_EPARSE},
        {"AQIDBAU", DK_LWM2M_TYPE_OPAQUE, 0},
        {"AQIDBA==", DK_LWM2M_TYPE_OPAQUE, 0},
        {"AQIDBA=", DK_LWM2M_TYPE_OPAQUE, DK_EPARSE},
        {"AQIDBAV=", DK_LWM2M_TYPE_OPAQUE, DK_EPARSE},
        {"A", DK_LWM2M_TYPE_OPAQUE, DK_EPARSE},
        {"AQ!D", DK_LWM2M_TYPE_OPAQUE, DK_EPARSE},
        {"\xff", DK_LWM2M_TYPE_STRING, DK_EPARSE},
        {"\xed\xa0\x80", DK_LWM2M_TYPE_STRING, DK_EPARSE},
        {"\xc0\xaf", DK_LWM2M_TYPE_STRING, DK_EPARSE},
    };
    for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
        struct dk_lwm2m_value v;
        uint8_t scratch[16];
        int rc = dk_lwm2m_text_decode(dec[i].s, strlen(dec[i].s), dec[i].t, &v, scratch,
                                      sizeof scratch);
        if (rc != dec[i].err)
            fail_msg("text case %zu '%s': %d want %d", i, dec[i].s, rc, dec[i].err);
    }
    struct dk_lwm2m_value v;
    assert_int_equal(dk_lwm2m_text_decode("AQIDBAU=", 8, DK_LWM2M_TYPE_OPAQUE, &v, NULL, 0),
                     DK_ENOSPC);

    /* Through the reader: the type comes from the definitions. */
    struct dk_lwm2m_record r[2];
    size_t cnt;
    assert_int_equal(decode_all(DK_LWM2M_CF_TEXT, "Open Mobile Alliance", 20, "/3/0/0", NULL, r,
                                2, &cnt),
                     0);
    assert_int_equal(cnt, 1);
    assert_str_value(&r[0].value, "Open Mobile Alliance");
    assert_int_equal(decode_all(DK_LWM2M_CF_TEXT, "1", 1, "/3311/0/5850", NULL, r, 2, &cnt), 0);
    assert_int_equal(r[0].value.type, DK_LWM2M_TYPE_BOOLEAN);
    assert_int_equal(decode_all(DK_LWM2M_CF_TEXT, "55", 2, "/3311/0/5851", NULL, r, 2, &cnt), 0);
    assert_int_equal(r[0].value.v.i, 55);
    assert_int_equal(decode_all(DK_LWM2M_CF_TEXT, "x", 1, "/3311/0/5851", NULL, r, 2, &cnt),
                     DK_EPARSE);
    assert_int_equal(decode_all(DK_LWM2M_CF_TEXT, "1", 1, "/3311/0", NULL, r, 2, &cnt),
                     DK_ENOTSUP);

    /* Writer: exactly one record at the base path. */
    dk_buf_init(&b, mem, sizeof mem);
    struct dk_lwm2m_writer w;
    struct dk_lwm2m_path base = P("/3311/0/5851");
    struct dk_lwm2m_value d = dk_lwm2m_int(80);
    assert_int_equal(dk_lwm2m_writer_start(&w, DK_LWM2M_CF_TEXT, &b, &base), 0);
    assert_int_equal(dk_lwm2m_writer_add_value(&w, &base, &d), 0);
    assert_int_equal(dk_lwm2m_writer_add_value(&w, &base, &d), DK_EINVAL);
    dk_buf_init(&b, mem, sizeof mem);
    assert_int_equal(dk_lwm2m_writer_start(&w, DK_LWM2M_CF_TEXT, &b, &base), 0);
    assert_int_equal(dk_lwm2m_writer_add_value(&w, &base, &d), 0);
    size_t len;
    assert_int_equal(dk_lwm2m_writer_finish(&w, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(mem, "80", 2);
    dk_buf_init(&b, mem, sizeof mem);
    assert_int_equal(dk_lwm2m_writer_start(&w, DK_LWM2M_CF_TEXT, &b, &base), 0);
    assert_int_equal(dk_lwm2m_writer_finish(&w, &len), DK_ENOTSUP);
    struct dk_lwm2m_path inst = P("/3311/0");
    assert_int_equal(dk_lwm2m_writer_start(&w, DK_LWM2M_CF_TEXT, &b, &inst), DK_ENOTSUP);
}

static void test_opaque_format(void **state)
{
    (void)state;
    const uint8_t fw[] = {0xde, 0xad, 0x00, 0xbe, 0xef};
    struct dk_lwm2m_record r[2];
    size_t cnt;
    assert_int_equal(decode_all(DK_LWM2M_CF_OPAQUE, fw, sizeof fw, "/5/0/0", NULL, r, 2, &cnt),
                     0);
    assert_int_equal(r[0].value.type, DK_LWM2M_TYPE_OPAQUE);
    assert_ptr_equal(r[0].value.v.bytes.p, fw);
    assert_int_equal(r[0].value.v.bytes.n, sizeof fw);
    uint8_t mem[16];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem);
    struct dk_lwm2m_path base = P("/5/0/0");
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_OPAQUE, &base, r, 1, &b), 0);
    assert_int_equal(b.len, sizeof fw);
    assert_memory_equal(mem, fw, sizeof fw);
    struct dk_lwm2m_record s = {.path = base, .value = dk_lwm2m_str("x")};
    dk_buf_init(&b, mem, sizeof mem);
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_OPAQUE, &base, &s, 1, &b), DK_ENOTSUP);
}

static void test_value_convert_and_utf8(void **state)
{
    (void)state;
    struct dk_lwm2m_value v = dk_lwm2m_int(-1);
    assert_int_equal(dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_UNSIGNED), DK_ERANGE);
    v = dk_lwm2m_float(2.0);
    assert_int_equal(dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_INTEGER), 0);
    assert_int_equal(v.v.i, 2);
    v = dk_lwm2m_float(9.3e18);
    assert_int_equal(dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_INTEGER), DK_ERANGE);
    v = dk_lwm2m_float(9.3e18);
    assert_int_equal(dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_UNSIGNED), 0);
    v = dk_lwm2m_uint(UINT64_MAX);
    assert_int_equal(dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_TIME), DK_ERANGE);
    v = dk_lwm2m_str("5");
    assert_int_equal(dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_INTEGER), DK_EPARSE);
    assert_int_equal(dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_CORELNK), 0);
    v = dk_lwm2m_bool(true);
    assert_int_equal(dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_INTEGER), DK_EPARSE);
    assert_true(dk_lwm2m_utf8_valid((const uint8_t *)"\xf4\x8f\xbf\xbf", 4));
    assert_false(dk_lwm2m_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));
    assert_false(dk_lwm2m_utf8_valid((const uint8_t *)"\xe0\x80\x80", 3));
    assert_false(dk_lwm2m_utf8_valid((const uint8_t *)"\xe2\x82", 2));
    assert_string_equal(dk_lwm2m_type_name(DK_LWM2M_TYPE_OBJLNK), "objlnk");
    assert_true(dk_lwm2m_cf_supported(DK_LWM2M_CF_TLV));
    assert_false(dk_lwm2m_cf_supported(DK_LWM2M_CF_JSON));
    assert_false(dk_lwm2m_cf_supported(DK_LWM2M_CF_LINK));
}

static void test_writer_contract(void **state)
{
    (void)state;
    uint8_t mem[64];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem);
    struct dk_lwm2m_writer w;
    struct dk_lwm2m_path base = P("/3/0");
    struct dk_lwm2m_value one = dk_lwm2m_int(1);
    struct dk_lwm2m_path r9 = P("/3/0/9"), r10 = P("/3/0/10"), other = P("/4/0/1");
    assert_int_equal(dk_lwm2m_writer_start(&w, DK_LWM2M_CF_TLV, &b, &base), 0);
    assert_int_equal(dk_lwm2m_writer_add_value(&w, &r10, &one), 0);
    assert_int_equal(dk_lwm2m_writer_add_value(&w, &r9, &one), DK_EINVAL); /* out of order */
    assert_int_equal(dk_lwm2m_writer_finish(&w, NULL), DK_EINVAL);
    dk_buf_init(&b, mem, sizeof mem);
    assert_int_equal(dk_lwm2m_writer_start(&w, DK_LWM2M_CF_TLV, &b, &base), 0);
    assert_int_equal(dk_lwm2m_writer_add_value(&w, &other, &one), DK_EINVAL); /* outside base */
    /* buffer too small */
    uint8_t tiny[3];
    dk_buf_init(&b, tiny, sizeof tiny);
    struct dk_lwm2m_value s = dk_lwm2m_str("long string");
    assert_int_equal(dk_lwm2m_writer_start(&w, DK_LWM2M_CF_TLV, &b, &base), 0);
    assert_int_equal(dk_lwm2m_writer_add_value(&w, &r9, &s), DK_ENOSPC);
    struct dk_lwm2m_path root = dk_lwm2m_path_root();
    assert_int_equal(dk_lwm2m_writer_start(&w, DK_LWM2M_CF_TLV, &b, &root), DK_ENOTSUP);
    assert_int_equal(dk_lwm2m_writer_start(&w, DK_LWM2M_CF_JSON, &b, &base), DK_ENOTSUP);
    /* invalid UTF-8 is refused by every writer */
    uint8_t m2[64];
    struct dk_lwm2m_value bad = dk_lwm2m_strn("\xff", 1);
    int cfs[] = {DK_LWM2M_CF_TLV, DK_LWM2M_CF_SENML_JSON, DK_LWM2M_CF_SENML_CBOR};
    for (size_t i = 0; i < 3; i++) {
        dk_buf_init(&b, m2, sizeof m2);
        assert_int_equal(dk_lwm2m_writer_start(&w, cfs[i], &b, &base), 0);
        assert_int_equal(dk_lwm2m_writer_add_value(&w, &r9, &bad), DK_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_parse_and_format),
        cmocka_unit_test(test_path_relations),
        cmocka_unit_test(test_tlv_spec_device_instance),
        cmocka_unit_test(test_tlv_spec_multiple_instances),
        cmocka_unit_test(test_tlv_spec_objlnk_and_custom_typer),
        cmocka_unit_test(test_tlv_single_resource_and_shapes),
        cmocka_unit_test(test_tlv_malformed),
        cmocka_unit_test(test_tlv_elements),
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_text_format),
        cmocka_unit_test(test_opaque_format),
        cmocka_unit_test(test_value_convert_and_utf8),
        cmocka_unit_test(test_writer_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
