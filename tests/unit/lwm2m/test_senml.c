/* SenML JSON (110) and SenML CBOR (112). The Device object example is the one
 * of the LwM2M 1.1 TS Core (§7.4.4 / §7.4.5: the same /3/0 instance as the TLV
 * example; the CBOR bytes are the specification's). */
#include "helpers.h"

#include <math.h>
#include <stdio.h>

static const char DEVICE_JSON[] =
    "[{\"bn\":\"/3/0/\",\"n\":\"0\",\"vs\":\"Open Mobile Alliance\"},"
    "{\"n\":\"1\",\"vs\":\"Lightweight M2M Client\"},"
    "{\"n\":\"2\",\"vs\":\"345000123\"},"
    "{\"n\":\"3\",\"vs\":\"1.0\"},"
    "{\"n\":\"6/0\",\"v\":1},{\"n\":\"6/1\",\"v\":5},"
    "{\"n\":\"7/0\",\"v\":3800},{\"n\":\"7/1\",\"v\":5000},"
    "{\"n\":\"8/0\",\"v\":125},{\"n\":\"8/1\",\"v\":900},"
    "{\"n\":\"9\",\"v\":100},{\"n\":\"10\",\"v\":15},"
    "{\"n\":\"11/0\",\"v\":0},{\"n\":\"13\",\"v\":1367491215},"
    "{\"n\":\"14\",\"vs\":\"+02:00\"},{\"n\":\"16\",\"vs\":\"U\"}]";

static const char DEVICE_CBOR[] =
    "90a321652f332f302f00613003744f70656e204d6f62696c6520416c6c69616e6365a200613103764c6967"
    "6874776569676874204d324d20436c69656e74a20061320369333435303030313233a20061330363312e30"
    "a20063362f300201a20063362f310205a20063372f3002190ed8a20063372f3102191388a20063382f3002"
    "187da20063382f3102190384a2006139021864a200623130020fa2006431312f300200a200623133021a51"
    "82428fa20062313403662b30323a3030a200623136036155";

static const char DEVICE_TLV[] =
    "C800144F70656E204D6F62696C6520416C6C69616E6365C801164C69676874776569676874204D324D20436C"
    "69656E74C80209333435303030313233C303312E30860641000141010588070842000ED842011388870841"
    "007D42010384C10964C10A0F830B410000C40D5182428FC60E2B30323A3030C11055";

static void check_device(const struct dk_lwm2m_record *r, size_t n)
{
    assert_int_equal(n, 16);
    assert_path(&r[0].path, "/3/0/0");
    assert_str_value(&r[0].value, "Open Mobile Alliance");
    assert_path(&r[5].path, "/3/0/6/1");
    assert_int_equal(r[5].value.type, DK_LWM2M_TYPE_INTEGER);
    assert_int_equal(r[5].value.v.i, 5);
    assert_path(&r[13].path, "/3/0/13");
    assert_int_equal(r[13].value.type, DK_LWM2M_TYPE_TIME);
    assert_int_equal(r[13].value.v.i, 1367491215);
    assert_str_value(&r[15].value, "U");
}

static void test_senml_spec_device_cross_format(void **state)
{
    (void)state;
    struct dk_lwm2m_record rj[32], rc_[32], rt[32];
    size_t nj, nc, nt;
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_JSON, DEVICE_JSON, strlen(DEVICE_JSON), "/3/0",
                                NULL, rj, 32, &nj),
                     0);
    check_device(rj, nj);
    static uint8_t cbor[512], tlv[256];
    size_t cn = unhex(DEVICE_CBOR, cbor, sizeof cbor);
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_CBOR, cbor, cn, "/3/0", NULL, rc_, 32, &nc), 0);
    check_device(rc_, nc);
    size_t tn = unhex(DEVICE_TLV, tlv, sizeof tlv);
    assert_int_equal(decode_all(DK_LWM2M_CF_TLV, tlv, tn, "/3/0", NULL, rt, 32, &nt), 0);
    for (size_t i = 0; i < 16; i++) {
        assert_true(dk_lwm2m_path_equal(&rj[i].path, &rt[i].path));
        assert_true(dk_lwm2m_value_equal(&rj[i].value, &rt[i].value));
        assert_true(dk_lwm2m_value_equal(&rc_[i].value, &rt[i].value));
    }
    /* TLV -> SenML JSON and SenML CBOR give the specification's payloads. */
    static uint8_t out[1024];
    struct dk_buf b;
    struct dk_lwm2m_path base = P("/3/0");
    dk_buf_init(&b, out, sizeof out);
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_SENML_JSON, &base, rt, nt, &b), 0);
    assert_int_equal(b.len, strlen(DEVICE_JSON));
    assert_memory_equal(out, DEVICE_JSON, b.len);
    dk_buf_init(&b, out, sizeof out);
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_SENML_CBOR, &base, rt, nt, &b), 0);
    assert_int_equal(b.len, cn);
    assert_memory_equal(out, cbor, cn);
    /* SenML -> TLV */
    dk_buf_init(&b, out, sizeof out);
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_TLV, &base, rc_, nc, &b), 0);
    assert_int_equal(b.len, tn);
    assert_memory_equal(out, tlv, tn);
}

static void test_senml_json_names_and_times(void **state)
{
    (void)state;
    struct dk_lwm2m_record r[8];
    size_t n;
    /* Single resource: bn is the full path; base time + time; white space. */
    const char *j = " [ {\"bn\" : \"/3303/0/5700\", \"bt\":1000.5, \"v\": 21.5 , \"t\":-5} ]\n";
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_JSON, j, strlen(j), "/3303/0/5700", NULL, r, 8,
                                &n),
                     0);
    assert_int_equal(n, 1);
    assert_path(&r[0].path, "/3303/0/5700");
    assert_int_equal(r[0].value.type, DK_LWM2M_TYPE_FLOAT);
    assert_true(r[0].value.v.f == 21.5);
    assert_true(r[0].time == 995.5);
    /* bn changes mid-pack; an integral v for a float resource becomes a float;
     * records without value (composite requests). */
    j = "[{\"bn\":\"/3303/0/\",\"n\":\"5700\",\"v\":20},{\"bn\":\"/3311/0/\",\"n\":\"5850\",\"vb\":"
        "true},{\"n\":\"5851\"},{\"bn\":\"/\",\"n\":\"1/0/7\",\"vs\":\"U\"}]";
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_JSON, j, strlen(j), "/", NULL, r, 8, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(r[0].value.type, DK_LWM2M_TYPE_FLOAT);
    assert_true(r[0].value.v.f == 20.0);
    assert_path(&r[1].path, "/3311/0/5850");
    assert_true(r[1].value.v.b);
    assert_path(&r[2].path, "/3311/0/5851");
    assert_int_equal(r[2].value.type, DK_LWM2M_TYPE_NONE);
    assert_path(&r[3].path, "/1/0/7");
    /* A name ending in '/' names an instance. */
    j = "[{\"n\":\"/3/0/\"}]";
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_JSON, j, strlen(j), "/", NULL, r, 8, &n), 0);
    assert_path(&r[0].path, "/3/0");
    /* Unknown fields are skipped whatever their shape. */
    j = "[{\"n\":\"/3/0/9\",\"y\":1e999,\"x\":{\"a\":[1,2.5e3,{\"b\":null}],\"c\":\"\\u00e9\"},\"u\":\"%\","
        "\"v\":7}]";
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_JSON, j, strlen(j), "/3/0", NULL, r, 8, &n), 0);
    assert_int_equal(r[0].value.v.i, 7);
    /* Empty pack. */
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_JSON, "[]", 2, "/", NULL, r, 8, &n), 0);
    assert_int_equal(n, 0);
    /* The writer: one resource, and a time. */
    uint8_t out[128];
    struct dk_buf b;
    dk_buf_init(&b, out, sizeof out);
    struct dk_lwm2m_record rec = {.path = P("/3303/0/5700"), .value = dk_lwm2m_float(21.5),
                                  .time = 1700000000};
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_SENML_JSON, &rec.path, &rec, 1, &b), 0);
    const char *want = "[{\"bn\":\"/3303/0/5700\",\"v\":21.5,\"t\":1700000000.0}]";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(out, want, b.len);
    /* Objlnk, opaque (base64url without padding), booleans. */
    struct dk_lwm2m_record recs[3] = {
        {.path = P("/1/0/6"), .value = dk_lwm2m_bool(false)},
        {.path = P("/1/0/10"), .value = dk_lwm2m_objlnk(11, 0)},
        {.path = P("/1/0/11"), .value = dk_lwm2m_opaque("\xfb\xff", 2)},
    };
    dk_buf_init(&b, out, sizeof out);
    struct dk_lwm2m_path base = P("/1");
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_SENML_JSON, &base, recs, 3, &b), 0);
    want = "[{\"bn\":\"/1/\",\"n\":\"0/6\",\"vb\":false},{\"n\":\"0/10\",\"vlo\":\"11:0\"},"
           "{\"n\":\"0/11\",\"vd\":\"-_8\"}]";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(out, want, b.len);
    struct dk_lwm2m_decode_opts raw = {.raw = true};
    uint8_t scratch[16];
    raw.scratch = scratch;
    raw.scratch_cap = sizeof scratch;
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_JSON, out, b.len, "/1", &raw, r, 8, &n), 0);
    assert_int_equal(r[1].value.type, DK_LWM2M_TYPE_OBJLNK);
    assert_int_equal(r[1].value.v.lnk.oid, 11);
    assert_int_equal(r[2].value.type, DK_LWM2M_TYPE_OPAQUE);
    assert_memory_equal(r[2].value.v.bytes.p, "\xfb\xff", 2);
    /* Standard alphabet and padding are accepted too. */
    j = "[{\"n\":\"/5/0/0\",\"vd\":\"+/8=\"}]";
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_JSON, j, strlen(j), "/", &raw, r, 8, &n), 0);
    assert_memory_equal(r[0].value.v.bytes.p, "\xfb\xff", 2);
    /* NaN cannot be written as JSON. */
    struct dk_lwm2m_record nan = {.path = P("/3303/0/5700"), .value = dk_lwm2m_float(NAN)};
    dk_buf_init(&b, out, sizeof out);
    assert_int_equal(dk_lwm2m_encode(DK_LWM2M_CF_SENML_JSON, &nan.path, &nan, 1, &b),
                     DK_ENOTSUP);
}

static void test_senml_json_escapes(void **state)
{
    (void)state;
    const char *j = "[{\"n\":\"\\/3\\/0\\/0\",\"vs\":\"a\\\"b\\\\\\u00e9\\ud83d\\ude00\\n\"}]";
    struct dk_lwm2m_record r[2];
    size_t n;
    /* No scratch: the escaped string has nowhere to go. */
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_JSON, j, strlen(j), "/", NULL, r, 2, &n),
                     DK_ENOSPC);
    uint8_t scratch[32];
    struct dk_lwm2m_decode_opts o = {.scratch = scratch, .scratch_cap = sizeof scratch};
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_JSON, j, strlen(j), "/", &o, r, 2, &n), 0);
    assert_path(&r[0].path, "/3/0/0");
    assert_str_value(&r[0].value, "a\"b\\\xc3\xa9\xf0\x9f\x98\x80\n");
    /* Unescaped strings are zero-copy. */
    j = "[{\"n\":\"/3/0/0\",\"vs\":\"plain\"}]";
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_JSON, j, strlen(j), "/", NULL, r, 2, &n), 0);
    assert_ptr_equal(r[0].value.v.bytes.p, j + 21);
}

static void test_senml_json_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        int err;
    } bad[] = {
        {"", DK_EPARSE},
        {"[", DK_EPARSE},
        {"{\"n\":\"/3/0/9\",\"v\":1}", DK_EPARSE},
        {"[{]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"v\":1,}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"v\":1}", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"v\":1},]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"v\":1}]x", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"v\":01}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"v\":1.}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"v\":-}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"v\":\"1\"}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"v\":1.5}]", DK_ERANGE},
        {"[{\"n\":\"/3/0/9\",\"v\":1e999}]", DK_ERANGE},
        {"[{\"n\":\"/3/0/0\",\"v\":1}]", DK_EPARSE},  /* number for a string resource */
        {"[{\"n\":\"/3/0/9\",\"vs\":\"1\"}]", DK_EPARSE}, /* string for an integer */
        {"[{\"n\":\"/3/0/9\",\"n\":\"/3/0/9\"}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"v\":1,\"vs\":\"a\"}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/0\",\"vs\":\"\\x\"}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/0\",\"vs\":\"\\ud800\"}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/0\",\"vs\":\"\\udc00x\"}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/0\",\"vs\":\"a\nb\"}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/0\",\"vs\":\"\xff\"}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"foo_\":1,\"v\":1}]", DK_EPARSE},
        {"[{\"n\":\"/4/0/9\",\"v\":1}]", DK_EPARSE}, /* outside the request path */
        {"[{\"n\":\"/3/x\",\"v\":1}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/65535\",\"v\":1}]", DK_ERANGE},
        {"[{\"v\":1}]", DK_EPARSE}, /* no name at all */
        {"[{\"bver\":11,\"n\":\"/3/0/9\",\"v\":1}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"vb\":1}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"vlo\":\"1\"}]", DK_EPARSE},
        {"[{\"n\":\"/5/0/0\",\"vd\":\"a\"}]", DK_EPARSE},
        {"[{\"n\":\"/5/0/0\",\"vd\":\"a?==\"}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"x\":[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"x\":tru}]", DK_EPARSE},
        {"[{\"n\":\"/3/0/9\" \"v\":1}]", DK_EPARSE},
        {"[{\"bn\":\"/3/0/9/0/1/2/3/4/5/6/7/8/9/0/1/2/3/4/5/6/7/8/9/0/1/2/3/4/5/6/7/8/9/0/1/2\"}]",
         DK_EPARSE},
        {"[{\"n\":\"/3/0/9\",\"t\":1e308,\"bt\":1e308,\"v\":1}]", DK_ERANGE},
    };
    struct dk_lwm2m_record r[4];
    size_t n;
    uint8_t scratch[64];
    struct dk_lwm2m_decode_opts o = {.scratch = scratch, .scratch_cap = sizeof scratch};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = decode_all(DK_LWM2M_CF_SENML_JSON, bad[i].json, strlen(bad[i].json), "/3/0", &o,
                            r, 4, &n);
        if (rc != bad[i].err)
            fail_msg("json case %zu %s: got %d want %d", i, bad[i].json, rc, bad[i].err);
    }
}

static void test_senml_cbor_numbers(void **state)
{
    (void)state;
    /* [{0:"/3303/0/5700", 2: <number>}] with every CBOR number form. */
    static const struct {
        const char *num;
        enum dk_lwm2m_type t;
        double want;
    } forms[] = {
        {"17", DK_LWM2M_TYPE_INTEGER, 23},
        {"1818", DK_LWM2M_TYPE_INTEGER, 24},
        {"190100", DK_LWM2M_TYPE_INTEGER, 256},
        {"1a00010000", DK_LWM2M_TYPE_INTEGER, 65536},
        {"1b0000000100000000", DK_LWM2M_TYPE_INTEGER, 4294967296.0},
        {"20", DK_LWM2M_TYPE_INTEGER, -1},
        {"3863", DK_LWM2M_TYPE_INTEGER, -100},
        {"3903e7", DK_LWM2M_TYPE_INTEGER, -1000},
        {"f93e00", DK_LWM2M_TYPE_FLOAT, 1.5},
        {"f90001", DK_LWM2M_TYPE_FLOAT, 5.960464477539063e-8},
        {"f9c400", DK_LWM2M_TYPE_FLOAT, -4.0},
        {"f97bff", DK_LWM2M_TYPE_FLOAT, 65504.0},
        {"fa47c35000", DK_LWM2M_TYPE_FLOAT, 100000.0},
        {"fb3ff199999999999a", DK_LWM2M_TYPE_FLOAT, 1.1},
    };
    struct dk_lwm2m_decode_opts raw = {.raw = true};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char hex[128];
        snprintf(hex, sizeof hex, "81a2006c2f333330332f302f35373030 02%s", forms[i].num);
        uint8_t in[64];
        size_t n = unhex(hex, in, sizeof in);
        struct dk_lwm2m_record r[2];
        size_t cnt;
        assert_int_equal(decode_all(DK_LWM2M_CF_SENML_CBOR, in, n, "/", &raw, r, 2, &cnt), 0);
        assert_int_equal(cnt, 1);
        assert_int_equal(r[0].value.type, forms[i].t);
        double got = r[0].value.type == DK_LWM2M_TYPE_FLOAT ? r[0].value.v.f
                                                              : (double)r[0].value.v.i;
        if (got != forms[i].want)
            fail_msg("form %s: %g", forms[i].num, got);
        /* With the definitions, /3303/0/5700 is a float whatever the form. */
        assert_int_equal(decode_all(DK_LWM2M_CF_SENML_CBOR, in, n, "/", NULL, r, 2, &cnt), 0);
        assert_int_equal(r[0].value.type, DK_LWM2M_TYPE_FLOAT);
        assert_true(r[0].value.v.f == forms[i].want);
    }
    /* Half-float infinity and NaN decode; the largest unsigned stays unsigned. */
    uint8_t in[64];
    struct dk_lwm2m_record r[2];
    size_t cnt;
    size_t n = unhex("81a2006c2f333330332f302f3537303002f97c00", in, sizeof in);
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_CBOR, in, n, "/", &raw, r, 2, &cnt), 0);
    assert_true(isinf(r[0].value.v.f));
    n = unhex("81a2006c2f333330332f302f3537303002f97e00", in, sizeof in);
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_CBOR, in, n, "/", &raw, r, 2, &cnt), 0);
    assert_true(isnan(r[0].value.v.f));
    n = unhex("81a2006c2f333330332f302f35373030021bffffffffffffffff", in, sizeof in);
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_CBOR, in, n, "/", &raw, r, 2, &cnt), 0);
    assert_int_equal(r[0].value.type, DK_LWM2M_TYPE_UNSIGNED);
    assert_true(r[0].value.v.u == UINT64_MAX);
    /* Indefinite array and map; "vlo"; bool; bytes; base time. */
    n = unhex("9f bf 21 65 2f 312f302f 00 62 3130 63 766c6f 64 31313a30 ff"
              "a2 00 61 36 04 f5"
              "a3 22 fb 40c3880000000000 00 62 3131 08 42 fbff ff",
              in, sizeof in);
    struct dk_lwm2m_record rr[4];
    assert_int_equal(decode_all(DK_LWM2M_CF_SENML_CBOR, in, n, "/1/0", &raw, rr, 4, &cnt), 0);
    assert_int_equal(cnt, 3);
    assert_path(&rr[0].path, "/1/0/10");
    assert_int_equal(rr[0].value.type, DK_LWM2M_TYPE_OBJLNK);
    assert_int_equal(rr[0].value.v.lnk.oid, 11);
    assert_path(&rr[1].path, "/1/0/6");
    assert_true(rr[1].value.v.b);
    assert_int_equal(rr[2].value.type, DK_LWM2M_TYPE_OPAQUE);
    assert_true(rr[2].time == 10000.0);
}

static void test_senml_cbor_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        int err;
        const char *why;
    } bad[] = {
        {"", DK_EPARSE, "empty"},
        {"a100613900", DK_EPARSE, "map at top level"},
        {"6161", DK_EPARSE, "text at top level"},
        {"82a100613900", DK_EPARSE, "array count beyond the data"},
        {"81a1", DK_EPARSE, "map cut"},
        {"81a200613902", DK_EPARSE, "value missing"},
        {"81a20061390218", DK_EPARSE, "integer argument cut"},
        {"81a20061390264", DK_EPARSE, "text value cut"},
        {"81a1 41 00 01", DK_EPARSE, "byte string label"},
        {"81a1 c1 00 01", DK_EPARSE, "tag as label"},
        {"81a2 00 6a2f332f302f39 02 c1 01", DK_EPARSE, "tagged value"},
        {"81a2 00 7f6139ff 02 01", DK_EPARSE, "indefinite text name"},
        {"81a2 00 66 2f332f302f39 02 1c", DK_EPARSE, "reserved additional info 28"},
        {"81a2 00 66 2f332f302f39 02 3bffffffffffffffff", DK_ERANGE, "below -2^63"},
        {"81a2 00 66 2f332f302f39 02 f4", DK_EPARSE, "bool for v"},
        {"81a2 00 66 2f332f302f39 04 01", DK_EPARSE, "int for vb"},
        {"81a2 00 66 2f332f302f30 03 45 6869212121", DK_EPARSE, "bytes for vs"},
        {"81a2 00 66 2f332f302f30 03 62 ff41", DK_EPARSE, "invalid UTF-8"},
        {"81a2 00 66 2f332f302f39 02 01 ff", DK_EPARSE, "trailing byte"},
        {"81a3 00 66 2f332f302f39 02 01 00 61 39", DK_EPARSE, "duplicate label"},
        {"81a3 00 66 2f332f302f39 02 01 03 6161", DK_EPARSE, "two values"},
        {"81a2 00 66 2f332f302f39 02 fa3fc00000", DK_ERANGE, "1.5 for an integer"},
        {"81a2 00 67 2f342f302f3939 02 01", DK_EPARSE, "outside the request path"},
        {"81a2 00 6a2f332f302f3635353335 02 01", DK_ERANGE, "id 65535"},
        {"81a2 00 66 2f332f302f39 64 666f6f5f 01", DK_EPARSE, "must-understand label"},
        {"81a2 20 0b 00 66 2f332f302f39", DK_EPARSE, "bver 11"},
        {"81a1 00 66 2f332f302f39 ff", DK_EPARSE, "break in a definite array"},
        {"9fa1 00 66 2f332f302f39", DK_EPARSE, "indefinite array without break"},
        {"81a2 00 66 2f332f302f39 18 20 9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f01", DK_EPARSE,
         "nested too deep"},
        {"81a2 00 66 2f332f302f39 18 20 f818", DK_EPARSE, "two-byte simple below 32"},
    };
    uint8_t in[128];
    struct dk_lwm2m_record r[4];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = unhex(bad[i].hex, in, sizeof in);
        int rc = decode_all(DK_LWM2M_CF_SENML_CBOR, in, len, "/3/0", NULL, r, 4, &n);
        if (rc != bad[i].err)
            fail_msg("cbor case %zu (%s): got %d want %d", i, bad[i].why, rc, bad[i].err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_senml_spec_device_cross_format),
        cmocka_unit_test(test_senml_json_names_and_times),
        cmocka_unit_test(test_senml_json_escapes),
        cmocka_unit_test(test_senml_json_malformed),
        cmocka_unit_test(test_senml_cbor_numbers),
        cmocka_unit_test(test_senml_cbor_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
