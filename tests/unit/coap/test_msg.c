/* CoAP codec: every header, token and option form of RFC 7252 §3, the
 * format errors, option accessors and block options. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <duckling/coap_msg.h>
#include <duckling/err.h>

static size_t encode(const struct dk_coap_msg *m, uint8_t *out, size_t cap)
{
    size_t n = 0;
    assert_int_equal(dk_coap_msg_encode(m, out, cap, &n), 0);
    assert_int_equal(n, dk_coap_msg_encoded_len(m));
    return n;
}

static void test_request_bytes_exact(void **state)
{
    (void)state;
    struct dk_coap_msg m;
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 0x1234);
    const uint8_t tok[] = {0xAA, 0xBB};
    assert_int_equal(dk_coap_msg_set_token(&m, tok, 2), 0);
    /* Added out of order: the codec sorts by option number. */
    assert_int_equal(dk_coap_msg_add_query(&m, "ep=x"), 0);
    assert_int_equal(dk_coap_msg_add_path(&m, "/rd"), 0);
    uint8_t out[64];
    size_t n = encode(&m, out, sizeof out);
    const uint8_t want[] = {0x42, 0x01, 0x12, 0x34, 0xAA, 0xBB, 0xB2,
                            'r',  'd',  0x44, 'e',  'p',  '=',  'x'};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);

    struct dk_coap_msg d;
    assert_int_equal(dk_coap_msg_decode(&d, out, n), 0);
    assert_int_equal(d.type, DK_COAP_CON);
    assert_int_equal(d.code, DK_COAP_GET);
    assert_int_equal(d.mid, 0x1234);
    assert_int_equal(d.tkl, 2);
    assert_memory_equal(d.token, tok, 2);
    assert_int_equal(d.nopt, 2);
    assert_null(d.payload);
    assert_true(dk_coap_msg_path_is(&d, "/rd"));
    assert_true(dk_coap_msg_path_is(&d, "rd"));
    assert_false(dk_coap_msg_path_is(&d, "/rd/x"));
    assert_false(dk_coap_msg_path_is(&d, "/"));
}

static void test_every_token_length(void **state)
{
    (void)state;
    uint8_t tok[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[32];
    for (size_t tkl = 0; tkl <= 8; tkl++) {
        struct dk_coap_msg m, d;
        dk_coap_msg_init(&m, DK_COAP_NON, DK_COAP_POST, 7);
        assert_int_equal(dk_coap_msg_set_token(&m, tok, tkl), 0);
        size_t n = encode(&m, out, sizeof out);
        assert_int_equal(n, 4 + tkl);
        assert_int_equal(out[0], 0x50 | tkl);
        assert_int_equal(dk_coap_msg_decode(&d, out, n), 0);
        assert_int_equal(d.tkl, tkl);
        assert_memory_equal(d.token, tok, tkl);
    }
    struct dk_coap_msg m;
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
    assert_int_equal(dk_coap_msg_set_token(&m, tok, 9), DK_EINVAL);
    /* Token length nibbles 9..15 are message format errors even when
     * enough bytes follow. */
    for (uint8_t tkl = 9; tkl <= 15; tkl++) {
        uint8_t in[32] = {(uint8_t)(0x40 | tkl), 0x01, 0, 1};
        struct dk_coap_msg d;
        assert_int_equal(dk_coap_msg_decode(&d, in, sizeof in), DK_EPARSE);
        assert_int_equal(d.mid, 1); /* header still readable for a RST */
        assert_int_equal(d.type, DK_COAP_CON);
    }
}

static void test_header_errors(void **state)
{
    (void)state;
    struct dk_coap_msg d;
    const uint8_t short3[] = {0x40, 0x01, 0x00};
    assert_int_equal(dk_coap_msg_decode(&d, short3, 3), DK_EPARSE);
    assert_int_equal(dk_coap_msg_decode(&d, short3, 0), DK_EPARSE);
    /* Version 0, 2 and 3: silently ignored by the engine. */
    for (uint8_t v = 0; v < 4; v++) {
        if (v == 1)
            continue;
        const uint8_t in[] = {(uint8_t)(v << 6), 0x01, 0, 1};
        assert_int_equal(dk_coap_msg_decode(&d, in, sizeof in), DK_EVERSION);
    }
    /* An Empty message must be exactly 4 bytes with TKL 0. */
    const uint8_t ok_empty[] = {0x60, 0x00, 0x12, 0x34};
    assert_int_equal(dk_coap_msg_decode(&d, ok_empty, 4), 0);
    assert_int_equal(d.type, DK_COAP_ACK);
    assert_int_equal(d.code, DK_COAP_EMPTY);
    const uint8_t empty_tok[] = {0x61, 0x00, 0x12, 0x34, 0x55};
    assert_int_equal(dk_coap_msg_decode(&d, empty_tok, 5), DK_EPARSE);
    const uint8_t empty_extra[] = {0x60, 0x00, 0x12, 0x34, 0xFF, 0x01};
    assert_int_equal(dk_coap_msg_decode(&d, empty_extra, 6), DK_EPARSE);
    /* Truncated token. */
    const uint8_t trunc_tok[] = {0x44, 0x01, 0, 1, 1, 2, 3};
    assert_int_equal(dk_coap_msg_decode(&d, trunc_tok, sizeof trunc_tok), DK_EPARSE);
    /* The encoder refuses the same mistakes. */
    struct dk_coap_msg m;
    uint8_t out[16];
    size_t n;
    dk_coap_msg_init(&m, DK_COAP_ACK, DK_COAP_EMPTY, 1);
    dk_coap_msg_set_payload(&m, "x", 1);
    assert_int_equal(dk_coap_msg_encode(&m, out, sizeof out, &n), DK_EINVAL);
    dk_coap_msg_init(&m, DK_COAP_ACK, DK_COAP_CONTENT, 1);
    dk_coap_msg_set_payload(&m, "hello", 5);
    assert_int_equal(dk_coap_msg_encode(&m, out, 9, &n), DK_ENOSPC);
    assert_int_equal(dk_coap_msg_encode(&m, out, 10, &n), 0);
}

/* Builds a message with every delta and length form and checks the bytes
 * of each option header. */
static void test_option_delta_and_length_forms(void **state)
{
    (void)state;
    static uint8_t v13[13], v268[268], v269[269], v300[300], v12[12];
    memset(v13, 'a', sizeof v13);
    memset(v268, 'b', sizeof v268);
    memset(v269, 'c', sizeof v269);
    memset(v300, 'd', sizeof v300);
    memset(v12, 'e', sizeof v12);
    struct dk_coap_msg m;
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_PUT, 0x0102);
    assert_int_equal(dk_coap_msg_add_opt(&m, 1, NULL, 0), 0);       /* delta 1, len 0 */
    assert_int_equal(dk_coap_msg_add_opt(&m, 12, v12, 12), 0);      /* delta 11, len 12 */
    assert_int_equal(dk_coap_msg_add_opt(&m, 25, v13, 13), 0);      /* delta 13 (ext 0), len 13 */
    assert_int_equal(dk_coap_msg_add_opt(&m, 293, v268, 268), 0);   /* delta 268, len 268 */
    assert_int_equal(dk_coap_msg_add_opt(&m, 562, v269, 269), 0);   /* delta 269, len 269 */
    assert_int_equal(dk_coap_msg_add_opt(&m, 65535, v300, 300), 0); /* delta 64973, len 300 */
    assert_int_equal(dk_coap_msg_add_opt(&m, 65535, NULL, 0), 0);   /* delta 0 */
    dk_coap_msg_set_payload(&m, "P", 1);
    static uint8_t out[2048];
    size_t n = encode(&m, out, sizeof out);
    size_t p = 4;
    assert_int_equal(out[p], 0x10);
    p += 1;
    assert_int_equal(out[p], 0xBC);
    p += 1 + 12;
    assert_int_equal(out[p], 0xDD);
    assert_int_equal(out[p + 1], 0); /* delta 13 - 13 */
    assert_int_equal(out[p + 2], 0); /* len 13 - 13 */
    p += 3 + 13;
    assert_int_equal(out[p], 0xDD);
    assert_int_equal(out[p + 1], 255);
    assert_int_equal(out[p + 2], 255);
    p += 3 + 268;
    assert_int_equal(out[p], 0xEE);
    assert_memory_equal(out + p + 1, "\x00\x00\x00\x00", 4); /* 269-269 twice */
    p += 5 + 269;
    assert_int_equal(out[p], 0xEE);
    uint32_t d = 65535 - 562 - 269, l = 300 - 269;
    assert_int_equal(out[p + 1], d >> 8);
    assert_int_equal(out[p + 2], d & 0xff);
    assert_int_equal(out[p + 3], l >> 8);
    assert_int_equal(out[p + 4], l & 0xff);
    p += 5 + 300;
    assert_int_equal(out[p], 0x00);
    p += 1;
    assert_int_equal(out[p], 0xFF);
    assert_int_equal(out[p + 1], 'P');
    assert_int_equal(n, p + 2);

    struct dk_coap_msg r;
    assert_int_equal(dk_coap_msg_decode(&r, out, n), 0);
    assert_int_equal(r.nopt, 7);
    const uint16_t nums[] = {1, 12, 25, 293, 562, 65535, 65535};
    const uint16_t lens[] = {0, 12, 13, 268, 269, 300, 0};
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(r.opt[i].num, nums[i]);
        assert_int_equal(r.opt[i].len, lens[i]);
    }
    assert_memory_equal(dk_coap_opt_value(&r.opt[4]), v269, 269);
    assert_int_equal(r.payload_len, 1);
    assert_int_equal(r.payload[0], 'P');
    assert_int_equal(dk_coap_msg_count(&r, 65535), 2);

    /* Re-encoding the decoded message gives the same bytes. */
    static uint8_t again[2048];
    assert_int_equal(encode(&r, again, sizeof again), n);
    assert_memory_equal(again, out, n);
}

static void test_option_nibble_15_and_marker(void **state)
{
    (void)state;
    struct dk_coap_msg d;
    /* delta 15 with length 0: reserved, not the marker */
    const uint8_t d15[] = {0x40, 0x01, 0, 1, 0xF0};
    assert_int_equal(dk_coap_msg_decode(&d, d15, sizeof d15), DK_EPARSE);
    /* delta 15 with length 3 */
    const uint8_t d15b[] = {0x40, 0x01, 0, 1, 0xF3, 1, 2, 3};
    assert_int_equal(dk_coap_msg_decode(&d, d15b, sizeof d15b), DK_EPARSE);
    /* length 15 with delta 1 */
    const uint8_t l15[] = {0x40, 0x01, 0, 1, 0x1F, 1, 2, 3};
    assert_int_equal(dk_coap_msg_decode(&d, l15, sizeof l15), DK_EPARSE);
    /* marker with nothing after it */
    const uint8_t marker[] = {0x40, 0x01, 0, 1, 0xB1, 'a', 0xFF};
    assert_int_equal(dk_coap_msg_decode(&d, marker, sizeof marker), DK_EPARSE);
    const uint8_t marker_only[] = {0x40, 0x45, 0, 1, 0xFF};
    assert_int_equal(dk_coap_msg_decode(&d, marker_only, sizeof marker_only), DK_EPARSE);
    /* marker with a one-byte payload is fine, and 0xFF inside a payload too */
    const uint8_t ok[] = {0x40, 0x45, 0, 1, 0xFF, 0xFF};
    assert_int_equal(dk_coap_msg_decode(&d, ok, sizeof ok), 0);
    assert_int_equal(d.payload_len, 1);
    assert_int_equal(d.payload[0], 0xFF);
    /* option number above 65535: delta 14 with 0xFFFF extended, twice */
    const uint8_t big[] = {0x40, 0x01, 0, 1, 0xE0, 0xFF, 0xFF, 0xE0, 0xFF, 0xFF};
    assert_int_equal(dk_coap_msg_decode(&d, big, sizeof big), DK_EPARSE);
    const uint8_t max[] = {0x40, 0x01, 0, 1, 0xE0, 0xFE, 0xF2}; /* 269 + 0xFEF2 = 65535 */
    assert_int_equal(dk_coap_msg_decode(&d, max, sizeof max), 0);
    assert_int_equal(d.opt[0].num, 65535);
}

static void test_truncated_option_fields(void **state)
{
    (void)state;
    struct dk_coap_msg d;
    const uint8_t ext_delta1[] = {0x40, 0x01, 0, 1, 0xD0};         /* missing 1-byte delta */
    const uint8_t ext_delta2[] = {0x40, 0x01, 0, 1, 0xE0, 0x01};   /* missing 2nd delta byte */
    const uint8_t ext_len1[] = {0x40, 0x01, 0, 1, 0x1D};           /* missing 1-byte length */
    const uint8_t ext_len2[] = {0x40, 0x01, 0, 1, 0x1E, 0x00};     /* missing 2nd length byte */
    const uint8_t value[] = {0x40, 0x01, 0, 1, 0xB3, 'a', 'b'};    /* value 3, only 2 bytes */
    const uint8_t value13[] = {0x40, 0x01, 0, 1, 0xBD, 0x00, 'a'}; /* value 13 */
    assert_int_equal(dk_coap_msg_decode(&d, ext_delta1, sizeof ext_delta1), DK_EPARSE);
    assert_int_equal(dk_coap_msg_decode(&d, ext_delta2, sizeof ext_delta2), DK_EPARSE);
    assert_int_equal(dk_coap_msg_decode(&d, ext_len1, sizeof ext_len1), DK_EPARSE);
    assert_int_equal(dk_coap_msg_decode(&d, ext_len2, sizeof ext_len2), DK_EPARSE);
    assert_int_equal(dk_coap_msg_decode(&d, value, sizeof value), DK_EPARSE);
    assert_int_equal(dk_coap_msg_decode(&d, value13, sizeof value13), DK_EPARSE);

    /* Every prefix of a valid message either decodes (it ends on an option
     * boundary) or is refused; none reads past its end (ASan checks). */
    struct dk_coap_msg m;
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_POST, 9);
    dk_coap_msg_set_token(&m, "\x01\x02\x03\x04", 4);
    static uint8_t long_val[400];
    dk_coap_msg_add_path(&m, "/a/bb/ccc");
    dk_coap_msg_add_uint(&m, DK_COAP_OPT_CONTENT_FORMAT, 11542);
    dk_coap_msg_add_opt(&m, 2000, long_val, sizeof long_val);
    dk_coap_msg_set_payload(&m, "payload", 7);
    static uint8_t out[1024];
    size_t n = encode(&m, out, sizeof out);
    size_t ok = 0;
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = test_malloc(len ? len : 1);
        memcpy(copy, out, len);
        int rc = dk_coap_msg_decode(&d, copy, len);
        assert_true(rc == 0 || rc == DK_EPARSE);
        ok += rc == 0;
        test_free(copy);
    }
    /* header+token, after each of the 5 options, and every prefix that ends
     * inside the payload (1..6 of its 7 bytes); "...marker" alone is an error. */
    assert_int_equal(ok, 6 + 6);
}

static void test_too_many_options(void **state)
{
    (void)state;
    uint8_t in[4 + DK_COAP_MAX_OPTIONS + 1] = {0x40, 0x01, 0, 1};
    for (size_t i = 0; i <= DK_COAP_MAX_OPTIONS; i++)
        in[4 + i] = 0x00; /* option delta 0 length 0, repeated */
    in[4] = 0xB0;
    struct dk_coap_msg d;
    assert_int_equal(dk_coap_msg_decode(&d, in, sizeof in), DK_ELIMIT);
    assert_int_equal(dk_coap_msg_decode(&d, in, sizeof in - 1), 0);
    struct dk_coap_msg m;
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
    for (size_t i = 0; i < DK_COAP_MAX_OPTIONS; i++)
        assert_int_equal(dk_coap_msg_add_uint(&m, DK_COAP_OPT_URI_PATH, 1), 0);
    assert_int_equal(dk_coap_msg_add_uint(&m, DK_COAP_OPT_URI_PATH, 1), DK_ELIMIT);
}

static void test_uint_options(void **state)
{
    (void)state;
    const struct {
        uint32_t v;
        uint16_t len;
    } cases[] = {{0, 0},     {1, 1},        {255, 1},       {256, 2},       {65535, 2},
                 {65536, 3}, {0xFFFFFF, 3}, {0x1000000, 4}, {0xFFFFFFFF, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dk_coap_msg m, d;
        dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
        assert_int_equal(dk_coap_msg_add_uint(&m, DK_COAP_OPT_MAX_AGE, cases[i].v), 0);
        /* the message is a value: a copy still reads the inline integer */
        struct dk_coap_msg copy = m;
        uint8_t out[16];
        size_t n = encode(&copy, out, sizeof out);
        assert_int_equal(n, 4 + 2 + cases[i].len); /* delta 14 takes an extended byte */
        assert_int_equal(dk_coap_msg_decode(&d, out, n), 0);
        assert_int_equal(d.opt[0].len, cases[i].len);
        uint32_t v = 1234;
        assert_int_equal(dk_coap_msg_get_uint(&d, DK_COAP_OPT_MAX_AGE, &v), 0);
        assert_int_equal(v, cases[i].v);
    }
    struct dk_coap_msg m;
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
    uint32_t v;
    assert_int_equal(dk_coap_msg_get_uint(&m, DK_COAP_OPT_ACCEPT, &v), DK_ENOTFOUND);
    dk_coap_msg_add_opt(&m, DK_COAP_OPT_ACCEPT, "12345", 5);
    assert_int_equal(dk_coap_msg_get_uint(&m, DK_COAP_OPT_ACCEPT, &v), DK_EPARSE);
}

static void test_lwm2m_options_round_trip(void **state)
{
    (void)state;
    struct dk_coap_msg m, d;
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_POST, 42);
    dk_coap_msg_set_token(&m, "tok", 3);
    assert_int_equal(dk_coap_msg_add_str(&m, DK_COAP_OPT_URI_HOST, "example.org"), 0);
    assert_int_equal(dk_coap_msg_add_uint(&m, DK_COAP_OPT_URI_PORT, 5683), 0);
    assert_int_equal(dk_coap_msg_add_path(&m, "/3/0/1"), 0);
    assert_int_equal(dk_coap_msg_add_query(&m, "ep=dev1&lt=300&b=U&q"), 0);
    assert_int_equal(dk_coap_msg_add_uint(&m, DK_COAP_OPT_CONTENT_FORMAT, DK_COAP_FMT_LWM2M_TLV),
                     0);
    assert_int_equal(dk_coap_msg_add_uint(&m, DK_COAP_OPT_ACCEPT, DK_COAP_FMT_SENML_CBOR), 0);
    assert_int_equal(dk_coap_msg_add_uint(&m, DK_COAP_OPT_OBSERVE, 0), 0);
    assert_int_equal(dk_coap_msg_add_opt(&m, DK_COAP_OPT_ETAG, "\x01\x02", 2), 0);
    assert_int_equal(dk_coap_msg_add_opt(&m, DK_COAP_OPT_IF_MATCH, "\x09", 1), 0);
    assert_int_equal(dk_coap_msg_add_opt(&m, DK_COAP_OPT_IF_NONE_MATCH, NULL, 0), 0);
    assert_int_equal(dk_coap_msg_add_uint(&m, DK_COAP_OPT_MAX_AGE, 60), 0);
    assert_int_equal(dk_coap_msg_add_uint(&m, DK_COAP_OPT_SIZE1, 4096), 0);
    assert_int_equal(dk_coap_msg_add_uint(&m, DK_COAP_OPT_SIZE2, 3000), 0);
    struct dk_coap_block b1 = {2, true, 6}, b2 = {0, false, 4};
    assert_int_equal(dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK1, &b1), 0);
    assert_int_equal(dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK2, &b2), 0);
    assert_int_equal(dk_coap_msg_add_segments(&m, DK_COAP_OPT_LOCATION_PATH, "rd/abc", '/'), 0);
    uint8_t out[256];
    size_t n = encode(&m, out, sizeof out);
    assert_int_equal(dk_coap_msg_decode(&d, out, n), 0);
    /* wire order is ascending */
    for (size_t i = 1; i < d.nopt; i++)
        assert_true(d.opt[i - 1].num <= d.opt[i].num);
    assert_int_equal(dk_coap_msg_check_options(&d, NULL), 0);
    char path[64];
    assert_int_equal(dk_coap_msg_get_path(&d, DK_COAP_OPT_URI_PATH, path, sizeof path), 6);
    assert_string_equal(path, "/3/0/1");
    assert_int_equal(dk_coap_msg_get_path(&d, DK_COAP_OPT_LOCATION_PATH, path, sizeof path), 7);
    assert_string_equal(path, "/rd/abc");
    assert_int_equal(dk_coap_msg_get_path(&d, DK_COAP_OPT_LOCATION_PATH, path, 7), DK_ENOSPC);
    const uint8_t *val;
    size_t len;
    assert_int_equal(dk_coap_msg_get_query(&d, "lt", &val, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(val, "300", 3);
    assert_int_equal(dk_coap_msg_get_query(&d, "q", &val, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(dk_coap_msg_get_query(&d, "l", &val, &len), DK_ENOTFOUND);
    assert_int_equal(dk_coap_msg_count(&d, DK_COAP_OPT_URI_QUERY), 4);
    uint32_t v;
    assert_int_equal(dk_coap_msg_get_uint(&d, DK_COAP_OPT_URI_PORT, &v), 0);
    assert_int_equal(v, 5683);
    assert_int_equal(dk_coap_msg_get_uint(&d, DK_COAP_OPT_OBSERVE, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(dk_coap_msg_find(&d, DK_COAP_OPT_OBSERVE)->len, 0);
    struct dk_coap_block b;
    assert_int_equal(dk_coap_msg_get_block(&d, DK_COAP_OPT_BLOCK1, &b), 0);
    assert_int_equal(b.num, 2);
    assert_true(b.more);
    assert_int_equal(b.szx, 6);
    assert_int_equal(dk_coap_msg_get_block(&d, DK_COAP_OPT_BLOCK2, &b), 0);
    assert_int_equal(b.num, 0);
    assert_false(b.more);
    assert_int_equal(b.szx, 4);
    assert_int_equal(d.payload_len, 0);
    assert_int_equal(dk_coap_msg_remove_opt(&d, DK_COAP_OPT_URI_QUERY), 4);
    assert_null(dk_coap_msg_find(&d, DK_COAP_OPT_URI_QUERY));
    char code[8];
    assert_string_equal(dk_coap_code_format(DK_COAP_CONTENT, code, sizeof code), "2.05");
    assert_string_equal(dk_coap_code_format(DK_COAP_REQUEST_ENTITY_TOO_LARGE, code, sizeof code),
                        "4.13");
}

static void test_path_edge_cases(void **state)
{
    (void)state;
    struct dk_coap_msg m;
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
    assert_int_equal(dk_coap_msg_add_path(&m, "/"), 0);
    assert_int_equal(m.nopt, 0);
    assert_true(dk_coap_msg_path_is(&m, "/"));
    assert_true(dk_coap_msg_path_is(&m, ""));
    char p[4];
    assert_int_equal(dk_coap_msg_get_path(&m, DK_COAP_OPT_URI_PATH, p, sizeof p), 1);
    assert_string_equal(p, "/");
    /* "a//b": an empty segment is an option of length 0 */
    assert_int_equal(dk_coap_msg_add_path(&m, "a//b"), 0);
    assert_int_equal(m.nopt, 3);
    assert_int_equal(m.opt[1].len, 0);
    assert_true(dk_coap_msg_path_is(&m, "/a//b"));
}

static void test_critical_option_check(void **state)
{
    (void)state;
    struct dk_coap_msg m;
    uint16_t bad = 0;
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
    dk_coap_msg_add_opt(&m, 10, "x", 1); /* unknown elective: ignored */
    dk_coap_msg_add_opt(&m, 2048, "x", 1);
    assert_int_equal(dk_coap_msg_check_options(&m, &bad), 0);
    dk_coap_msg_add_opt(&m, 9, "x", 1); /* unknown critical */
    assert_int_equal(dk_coap_msg_check_options(&m, &bad), DK_EBADOPT);
    assert_int_equal(bad, 9);

    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
    dk_coap_msg_add_opt(&m, DK_COAP_OPT_URI_HOST, NULL, 0); /* length out of range (1-255) */
    assert_int_equal(dk_coap_msg_check_options(&m, &bad), DK_EBADOPT);
    assert_int_equal(bad, DK_COAP_OPT_URI_HOST);

    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
    dk_coap_msg_add_uint(&m, DK_COAP_OPT_ACCEPT, 0);
    assert_int_equal(dk_coap_msg_check_options(&m, &bad), 0);
    dk_coap_msg_add_uint(&m, DK_COAP_OPT_ACCEPT, 40); /* repeat of a non-repeatable critical */
    assert_int_equal(dk_coap_msg_check_options(&m, &bad), DK_EBADOPT);
    assert_int_equal(bad, DK_COAP_OPT_ACCEPT);

    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
    dk_coap_msg_add_uint(&m, DK_COAP_OPT_CONTENT_FORMAT, 0);
    dk_coap_msg_add_uint(&m, DK_COAP_OPT_CONTENT_FORMAT, 40);  /* elective repeat: ignored */
    dk_coap_msg_add_opt(&m, DK_COAP_OPT_ETAG, "123456789", 9); /* elective, too long: ignored */
    assert_int_equal(dk_coap_msg_check_options(&m, &bad), 0);
    dk_coap_msg_add_opt(&m, DK_COAP_OPT_BLOCK2, "\x01\x02\x03\x04", 4); /* critical, too long */
    assert_int_equal(dk_coap_msg_check_options(&m, &bad), DK_EBADOPT);
    assert_int_equal(bad, DK_COAP_OPT_BLOCK2);

    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
    dk_coap_msg_add_str(&m, DK_COAP_OPT_PROXY_URI, "coap://x/");
    assert_int_equal(dk_coap_msg_check_options(&m, &bad), DK_ENOTSUP);
    assert_int_equal(bad, DK_COAP_OPT_PROXY_URI);
}

static void test_block_values(void **state)
{
    (void)state;
    struct dk_coap_block b;
    assert_int_equal(dk_coap_block_decode(0x0E, &b), 0); /* num 0, M, szx 6 */
    assert_int_equal(b.num, 0);
    assert_true(b.more);
    assert_int_equal(b.szx, 6);
    assert_int_equal(dk_coap_block_size(b.szx), 1024);
    assert_int_equal(dk_coap_block_decode(0x07, &b), DK_EPARSE); /* SZX 7 reserved */
    struct dk_coap_block big = {DK_COAP_BLOCK_NUM_MAX, false, 0};
    assert_int_equal(dk_coap_block_encode(&big), 0xFFFFF0);
    assert_int_equal(dk_coap_block_decode(0xFFFFF0, &b), 0);
    assert_int_equal(b.num, DK_COAP_BLOCK_NUM_MAX);
    struct dk_coap_msg m;
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
    struct dk_coap_block bad = {DK_COAP_BLOCK_NUM_MAX + 1, false, 0};
    assert_int_equal(dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK2, &bad), DK_EINVAL);
    bad.num = 0;
    bad.szx = 7;
    assert_int_equal(dk_coap_msg_add_block(&m, DK_COAP_OPT_BLOCK2, &bad), DK_EINVAL);
    assert_int_equal(dk_coap_msg_get_block(&m, DK_COAP_OPT_BLOCK2, &b), DK_ENOTFOUND);
    dk_coap_msg_add_opt(&m, DK_COAP_OPT_BLOCK2, "\x00\x00\x00\x01", 4);
    assert_int_equal(dk_coap_msg_get_block(&m, DK_COAP_OPT_BLOCK2, &b), DK_EPARSE);
    dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_GET, 1);
    dk_coap_msg_add_opt(&m, DK_COAP_OPT_BLOCK1, NULL, 0); /* empty = num 0, szx 0 */
    assert_int_equal(dk_coap_msg_get_block(&m, DK_COAP_OPT_BLOCK1, &b), 0);
    assert_int_equal(b.num, 0);
    assert_int_equal(b.szx, 0);
    assert_int_equal(dk_coap_block_szx_for(1024, 6), 6);
    assert_int_equal(dk_coap_block_szx_for(1023, 6), 5);
    assert_int_equal(dk_coap_block_szx_for(5000, 2), 2);
    assert_int_equal(dk_coap_block_szx_for(15, 6), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_bytes_exact),
        cmocka_unit_test(test_every_token_length),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_option_delta_and_length_forms),
        cmocka_unit_test(test_option_nibble_15_and_marker),
        cmocka_unit_test(test_truncated_option_fields),
        cmocka_unit_test(test_too_many_options),
        cmocka_unit_test(test_uint_options),
        cmocka_unit_test(test_lwm2m_options_round_trip),
        cmocka_unit_test(test_path_edge_cases),
        cmocka_unit_test(test_critical_option_check),
        cmocka_unit_test(test_block_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
