/* OOB message codec (DESIGN §5). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <duckling/err.h>
#include <duckling/oob.h>

static const char seed[] = "01;EP:055192;T:LED;WIFI;WPA2-PSK:huawei_iot:"
                           "5bd1f120735d1ba4e2d2149aeb891850;03;"
                           "367f36ee1f5e272cfbca1ca35a73e42b;34;;";
static const char seed_value[] = "367f36ee1f5e272cfbca1ca35a73e42b";

static int parse(const char *text, struct dk_oob_msg *m, struct dk_oob_error *e)
{
    return dk_oob_parse(text, strlen(text), m, e);
}

static void test_seed_vector_parses(void **state)
{
    (void)state;
    struct dk_oob_msg m;
    struct dk_oob_error e = {0};
    static const uint8_t wifi_psk[] = {0x5b, 0xd1, 0xf1, 0x20, 0x73, 0x5d, 0x1b, 0xa4,
                                       0xe2, 0xd2, 0x14, 0x9a, 0xeb, 0x89, 0x18, 0x50};
    static const uint8_t hash[] = {0x36, 0x7f, 0x36, 0xee, 0x1f, 0x5e, 0x27, 0x2c,
                                   0xfb, 0xca, 0x1c, 0xa3, 0x5a, 0x73, 0xe4, 0x2b};
    assert_int_equal(parse(seed, &m, &e), 0);
    assert_string_equal(m.endpoint, "055192");
    assert_string_equal(m.type, "LED");
    assert_int_equal(m.channel, DK_OOB_CHANNEL_WIFI);
    assert_true(m.has_wifi_ap);
    assert_string_equal(m.ssid, "huawei_iot");
    assert_int_equal(m.wifi_psk_len, 16);
    assert_memory_equal(m.wifi_psk, wifi_psk, 16);
    assert_int_equal(m.cred_type, DK_OOB_CRED_X509);
    assert_int_equal(m.cred_len, 16);
    assert_memory_equal(m.cred, hash, 16);
    assert_true(dk_oob_cred_equal(&m, hash, 16));

    /* Generating from the parsed fields gives back the seed's exact text. */
    char out[DK_OOB_TEXT_MAX + 1];
    size_t len = 0;
    assert_int_equal(dk_oob_format(&m, out, sizeof out, &len, NULL), 0);
    assert_string_equal(out, seed);
    assert_int_equal(len, strlen(seed));
}

static void test_checksum_of_seed(void **state)
{
    (void)state;
    uint8_t sum = 0;
    assert_int_equal(dk_oob_checksum(seed_value, strlen(seed_value), &sum), 0);
    assert_int_equal(sum, 0x34);
    assert_int_equal(dk_oob_checksum("367F36EE1F5E272CFBCA1CA35A73E42B", 32, &sum), 0);
    assert_int_equal(sum, 0x34); /* computed over the lowercase text */
    assert_int_equal(dk_oob_checksum("", 0, &sum), 0);
    assert_int_equal(sum, 0xe3); /* SHA-256("") = e3b0c442... */
}

/* Single-digit changes of the seed's value that a one-byte checksum cannot
 * catch: SHA-256 of the changed text also begins with 0x34. Found
 * independently (Python hashlib over all 480 substitutions). */
static const struct {
    int pos;
    char digit;
} collisions[] = {{7, '8'}, {11, '0'}, {14, 'a'}, {17, '6'}, {21, '1'}, {28, '6'}, {30, 'b'}};

static bool is_collision(int pos, char digit)
{
    for (size_t i = 0; i < sizeof collisions / sizeof collisions[0]; i++)
        if (collisions[i].pos == pos && collisions[i].digit == digit)
            return true;
    return false;
}

static void test_changed_value_or_checksum_is_a_checksum_error(void **state)
{
    (void)state;
    const char *value = strstr(seed, seed_value);
    size_t at = (size_t)(value - seed), refused = 0, accepted = 0;
    const char digits[] = "0123456789abcdef";
    char text[sizeof seed];
    struct dk_oob_msg m;
    struct dk_oob_error e;
    for (int pos = 0; pos < 32; pos++) {
        for (int d = 0; d < 16; d++) {
            if (digits[d] == seed_value[pos])
                continue;
            memcpy(text, seed, sizeof seed);
            text[at + (size_t)pos] = digits[d];
            int rc = parse(text, &m, &e);
            if (is_collision(pos, digits[d])) {
                assert_int_equal(rc, 0);
                accepted++;
            } else {
                assert_int_equal(rc, DK_EPARSE);
                assert_int_equal(e.field, DK_OOB_F_CHECKSUM);
                refused++;
            }
        }
        /* A non-hex typo is caught by the checksum too (before the hex check). */
        memcpy(text, seed, sizeof seed);
        text[at + (size_t)pos] = 'x';
        e.field = DK_OOB_F_MESSAGE;
        int rc = parse(text, &m, &e);
        assert_int_equal(rc, DK_EPARSE);
        assert_true(e.field == DK_OOB_F_CHECKSUM || e.field == DK_OOB_F_CRED_VALUE);
    }
    assert_int_equal(refused, 473);
    assert_int_equal(accepted, 7);
    /* Every change of the checksum itself is refused. */
    size_t sum_at = at + 33;
    for (int pos = 0; pos < 2; pos++) {
        for (int d = 0; d < 16; d++) {
            memcpy(text, seed, sizeof seed);
            if (digits[d] == text[sum_at + (size_t)pos])
                continue;
            text[sum_at + (size_t)pos] = digits[d];
            assert_int_equal(parse(text, &m, &e), DK_EPARSE);
            assert_int_equal(e.field, DK_OOB_F_CHECKSUM);
            assert_string_equal(dk_oob_field_name(e.field), "checksum");
        }
    }
}

static void test_case_and_white_space_are_accepted(void **state)
{
    (void)state;
    struct dk_oob_msg a, b;
    char text[sizeof seed + 8];
    assert_int_equal(parse(seed, &a, NULL), 0);
    snprintf(text, sizeof text, " \t%s\r\n", seed);
    for (char *p = strstr(text, "5bd1"); *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(parse(text, &b, NULL), 0);
    assert_memory_equal(&a, &b, sizeof a);
}

static void make_msg(struct dk_oob_msg *m, enum dk_oob_cred cred, size_t cred_len,
                     enum dk_oob_channel channel, bool ap)
{
    memset(m, 0, sizeof *m);
    strcpy(m->endpoint, "dk-0011223344556677");
    strcpy(m->type, "LED");
    m->channel = channel;
    if (ap) {
        m->has_wifi_ap = true;
        strcpy(m->ssid, "duckling-setup");
        m->wifi_psk_len = 16;
        for (size_t i = 0; i < 16; i++)
            m->wifi_psk[i] = (uint8_t)(0xa0 + i);
    }
    m->cred_type = cred;
    m->cred_len = cred_len;
    for (size_t i = 0; i < cred_len; i++)
        m->cred[i] = (uint8_t)(i * 7 + 1);
}

static void round_trip(const struct dk_oob_msg *m)
{
    char text[DK_OOB_TEXT_MAX + 1];
    size_t len;
    struct dk_oob_msg back;
    struct dk_oob_error e = {0};
    assert_int_equal(dk_oob_format(m, text, sizeof text, &len, &e), 0);
    assert_int_equal(strlen(text), len);
    assert_int_equal(dk_oob_parse(text, len, &back, &e), 0);
    assert_memory_equal(m, &back, sizeof back);
    /* The generator writes lowercase hex only. */
    for (const char *p = text; *p; p++)
        assert_false(*p >= 'A' && *p <= 'F' && p > strstr(text, ";0"));
}

static void test_round_trip_every_credential_type(void **state)
{
    (void)state;
    struct dk_oob_msg m;
    make_msg(&m, DK_OOB_CRED_NONE, 0, DK_OOB_CHANNEL_NONE, false);
    round_trip(&m);
    make_msg(&m, DK_OOB_CRED_PSK, 16, DK_OOB_CHANNEL_WIFI, true);
    round_trip(&m);
    make_msg(&m, DK_OOB_CRED_PSK, 32, DK_OOB_CHANNEL_BLE, false);
    round_trip(&m);
    make_msg(&m, DK_OOB_CRED_RPK, 16, DK_OOB_CHANNEL_ZIGBEE, false);
    round_trip(&m);
    make_msg(&m, DK_OOB_CRED_X509, 16, DK_OOB_CHANNEL_WIFI, true);
    round_trip(&m);
    make_msg(&m, DK_OOB_CRED_X509, 16, DK_OOB_CHANNEL_WIFI, false);
    round_trip(&m);

    /* Exact text for cred none: empty channel credentials and value, so ';;'
     * occurs inside; checksum of the empty value is e3. */
    char text[DK_OOB_TEXT_MAX + 1];
    make_msg(&m, DK_OOB_CRED_NONE, 0, DK_OOB_CHANNEL_NONE, false);
    assert_int_equal(dk_oob_format(&m, text, sizeof text, NULL, NULL), 0);
    assert_string_equal(text, "01;EP:dk-0011223344556677;T:LED;NONE;;00;;e3;;");
}

static void test_escaping(void **state)
{
    (void)state;
    struct dk_oob_msg m, back;
    char text[DK_OOB_TEXT_MAX + 1];
    make_msg(&m, DK_OOB_CRED_NONE, 0, DK_OOB_CHANNEL_WIFI, true);
    memset(m.endpoint, 0, sizeof m.endpoint);
    memset(m.ssid, 0, sizeof m.ssid);
    strcpy(m.endpoint, "a;b:c\\d");
    strcpy(m.type, ";:\\");
    strcpy(m.ssid, "my;wifi:\\");
    m.wifi_psk_len = 8;
    memset(m.wifi_psk + 8, 0, sizeof m.wifi_psk - 8);
    assert_int_equal(dk_oob_format(&m, text, sizeof text, NULL, NULL), 0);
    assert_string_equal(text, "01;EP:a\\;b\\:c\\\\d;T:\\;\\:\\\\;WIFI;"
                              "WPA2-PSK:my\\;wifi\\:\\\\:a0a1a2a3a4a5a6a7;00;;e3;;");
    assert_int_equal(parse(text, &back, NULL), 0);
    assert_string_equal(back.endpoint, "a;b:c\\d");
    assert_string_equal(back.type, ";:\\");
    assert_string_equal(back.ssid, "my;wifi:\\");
    assert_memory_equal(&m, &back, sizeof m);
    /* An escaped ';' right before the end is part of the type, so ";;" is
     * not found where it would otherwise be. */
    assert_int_equal(parse("01;EP:a;T:b\\;;", &back, NULL), DK_EPARSE);
}

struct bad_case {
    const char *text;
    enum dk_oob_field field;
    int rc;
};

static void expect_refused(const struct bad_case *c)
{
    struct dk_oob_msg m;
    struct dk_oob_error e = {DK_OOB_F_MESSAGE, NULL};
    memset(&m, 0x55, sizeof m);
    int rc = parse(c->text, &m, &e);
    if (rc != c->rc || e.field != c->field)
        fail_msg("'%s': got rc %d field %s (%s), want rc %d field %s", c->text, rc,
                 dk_oob_field_name(e.field), e.why ? e.why : "-", c->rc,
                 dk_oob_field_name(c->field));
    assert_non_null(e.why);
    /* Nothing half-parsed is left behind. */
    static const struct dk_oob_msg zero;
    assert_memory_equal(&m, &zero, sizeof m);
}

static void test_malformed_fields_are_named(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"", DK_OOB_F_MESSAGE, DK_EPARSE},
        {"   ", DK_OOB_F_MESSAGE, DK_EPARSE},
        {"01;EP:a\x01;T:b;NONE;;00;;e3;;", DK_OOB_F_MESSAGE, DK_EPARSE},
        {"01;EP:\xc3\xa9;T:b;NONE;;00;;e3;;", DK_OOB_F_MESSAGE, DK_EPARSE},
        /* version */
        {"02;EP:a;T:b;NONE;;00;;e3;;", DK_OOB_F_VERSION, DK_EVERSION},
        {"99;whatever", DK_OOB_F_VERSION, DK_EVERSION},
        {"1;EP:a;T:b;NONE;;00;;e3;;", DK_OOB_F_VERSION, DK_EPARSE},
        {"0x;EP:a;T:b;NONE;;00;;e3;;", DK_OOB_F_VERSION, DK_EPARSE},
        {"EP:a;T:b;NONE;;00;;e3;;", DK_OOB_F_VERSION, DK_EPARSE},
        /* the end */
        {"01;EP:a;T:b;NONE;;00;;e3;", DK_OOB_F_END, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;00;;e3", DK_OOB_F_END, DK_EPARSE},
        {"01", DK_OOB_F_END, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;00;;e3;;x", DK_OOB_F_END, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;00;;e3;x;;", DK_OOB_F_END, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;00;;e3;;;", DK_OOB_F_END, DK_EPARSE},
        {"01;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;", DK_OOB_F_END, DK_EPARSE},
        /* missing fields */
        {"01;;", DK_OOB_F_ENDPOINT, DK_EPARSE},
        {"01;EP:a;;", DK_OOB_F_TYPE, DK_EPARSE},
        {"01;EP:a;T:b;;", DK_OOB_F_CHANNEL, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;", DK_OOB_F_CHANNEL_CREDENTIALS, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;;", DK_OOB_F_CRED_TYPE, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;00;;", DK_OOB_F_CRED_VALUE, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;00;;;", DK_OOB_F_CHECKSUM, DK_EPARSE},
        /* endpoint */
        {"01;E:a;T:b;NONE;;00;;e3;;", DK_OOB_F_ENDPOINT, DK_EPARSE},
        {"01;EP:;T:b;NONE;;00;;e3;;", DK_OOB_F_ENDPOINT, DK_EPARSE},
        {"01;EP:a:b;T:b;NONE;;00;;e3;;", DK_OOB_F_ENDPOINT, DK_EPARSE},
        {"01;EP:a\\x;T:b;NONE;;00;;e3;;", DK_OOB_F_ENDPOINT, DK_EPARSE},
        {"01;EP:0123456789012345678901234567890123456789012345678901234567890123x;T:b;NONE;;00;;"
         "e3;;",
         DK_OOB_F_ENDPOINT, DK_EPARSE},
        /* type */
        {"01;EP:a;b;NONE;;00;;e3;;", DK_OOB_F_TYPE, DK_EPARSE},
        {"01;EP:a;T:;NONE;;00;;e3;;", DK_OOB_F_TYPE, DK_EPARSE},
        {"01;EP:a;T:012345678901234567890123456789012;NONE;;00;;e3;;", DK_OOB_F_TYPE, DK_EPARSE},
        /* channel */
        {"01;EP:a;T:b;LORA;;00;;e3;;", DK_OOB_F_CHANNEL, DK_EPARSE},
        {"01;EP:a;T:b;;;00;;e3;;", DK_OOB_F_CHANNEL, DK_EPARSE},
        /* channel credentials */
        {"01;EP:a;T:b;NONE;WPA2-PSK:s:0011223344556677;00;;e3;;", DK_OOB_F_CHANNEL_CREDENTIALS,
         DK_EPARSE},
        {"01;EP:a;T:b;WIFI;WPA3-SAE:s:0011223344556677;00;;e3;;", DK_OOB_F_CHANNEL_CREDENTIALS,
         DK_EPARSE},
        {"01;EP:a;T:b;WIFI;WPA2-PSK:s;00;;e3;;", DK_OOB_F_CHANNEL_CREDENTIALS, DK_EPARSE},
        {"01;EP:a;T:b;WIFI;WPA2-PSK:s:00:11;00;;e3;;", DK_OOB_F_CHANNEL_CREDENTIALS, DK_EPARSE},
        {"01;EP:a;T:b;WIFI;WPA2-PSK::0011223344556677;00;;e3;;", DK_OOB_F_CHANNEL_CREDENTIALS,
         DK_EPARSE},
        {"01;EP:a;T:b;WIFI;WPA2-PSK:s:00112233445566zz;00;;e3;;", DK_OOB_F_CHANNEL_CREDENTIALS,
         DK_EPARSE},
        {"01;EP:a;T:b;WIFI;WPA2-PSK:s:00112233445566;00;;e3;;", DK_OOB_F_CHANNEL_CREDENTIALS,
         DK_EPARSE},
        {"01;EP:a;T:b;WIFI;WPA2-PSK:s:001122334455667;00;;e3;;", DK_OOB_F_CHANNEL_CREDENTIALS,
         DK_EPARSE},
        {"01;EP:a;T:b;WIFI;WPA2-PSK:012345678901234567890123456789012:0011223344556677;00;;e3;;",
         DK_OOB_F_CHANNEL_CREDENTIALS, DK_EPARSE},
        /* cred-type */
        {"01;EP:a;T:b;NONE;;04;;e3;;", DK_OOB_F_CRED_TYPE, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;3;;e3;;", DK_OOB_F_CRED_TYPE, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;;;e3;;", DK_OOB_F_CRED_TYPE, DK_EPARSE},
        /* checksum */
        {"01;EP:a;T:b;NONE;;00;;e4;;", DK_OOB_F_CHECKSUM, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;00;;e;;", DK_OOB_F_CHECKSUM, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;00;;e3e3;;", DK_OOB_F_CHECKSUM, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;00;;g3;;", DK_OOB_F_CHECKSUM, DK_EPARSE},
        {"01;EP:a;T:b;NONE;;01;00112233445566778899aabbccddeeff;e3;;", DK_OOB_F_CHECKSUM,
         DK_EPARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_refused(&cases[i]);
}

/* A message with a correct checksum around an arbitrary value text, to reach
 * the value checks behind the checksum. */
static void expect_value_refused(const char *cred_type, const char *value)
{
    char text[DK_OOB_TEXT_MAX + 1];
    uint8_t sum;
    assert_int_equal(dk_oob_checksum(value, strlen(value), &sum), 0);
    snprintf(text, sizeof text, "01;EP:a;T:b;NONE;;%s;%s;%02x;;", cred_type, value, sum);
    struct bad_case c = {text, DK_OOB_F_CRED_VALUE, DK_EPARSE};
    expect_refused(&c);
}

static void test_malformed_values_are_named(void **state)
{
    (void)state;
    expect_value_refused("00", "00");                                 /* none: must be empty */
    expect_value_refused("01", "00112233445566778899aabbccddee");     /* PSK of 15 bytes */
    expect_value_refused("01", "00112233445566778899aabbccddeeff0");  /* odd length */
    expect_value_refused("01", "00112233445566778899aabbccddeeffgg"); /* not hex */
    expect_value_refused("01", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                               "00"); /* PSK of 33 bytes */
    expect_value_refused("02", "00112233445566778899aabbccddeeff00"); /* hash of 17 bytes */
    expect_value_refused("03", "00112233445566778899aabbccddee");     /* hash of 15 bytes */
    expect_value_refused("03", "");
    /* And good ones pass. */
    char text[DK_OOB_TEXT_MAX + 1];
    uint8_t sum;
    const char *v = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    assert_int_equal(dk_oob_checksum(v, strlen(v), &sum), 0);
    snprintf(text, sizeof text, "01;EP:a;T:b;BLE;;01;%s;%02x;;", v, sum);
    struct dk_oob_msg m;
    assert_int_equal(parse(text, &m, NULL), 0);
    assert_int_equal(m.cred_len, 32);
    assert_int_equal(m.channel, DK_OOB_CHANNEL_BLE);
}

static void test_too_long_is_refused(void **state)
{
    (void)state;
    char text[DK_OOB_TEXT_MAX + 2];
    memset(text, 'a', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    struct bad_case c = {text, DK_OOB_F_MESSAGE, DK_EPARSE};
    expect_refused(&c);
    struct dk_oob_msg m;
    struct dk_oob_error e;
    assert_int_equal(dk_oob_parse(NULL, 0, &m, &e), DK_EPARSE);
    /* Not NUL-terminated: only len bytes are read. */
    assert_int_equal(dk_oob_parse(seed, strlen(seed) - 1, &m, &e), DK_EPARSE);
    assert_int_equal(e.field, DK_OOB_F_END);
}

static void test_format_refuses_bad_fields(void **state)
{
    (void)state;
    struct dk_oob_msg m;
    struct dk_oob_error e;
    char text[DK_OOB_TEXT_MAX + 1];
    make_msg(&m, DK_OOB_CRED_PSK, 16, DK_OOB_CHANNEL_WIFI, true);
    m.endpoint[0] = '\0';
    assert_int_equal(dk_oob_format(&m, text, sizeof text, NULL, &e), DK_EINVAL);
    assert_int_equal(e.field, DK_OOB_F_ENDPOINT);
    make_msg(&m, DK_OOB_CRED_PSK, 16, DK_OOB_CHANNEL_WIFI, true);
    m.type[0] = '\n';
    assert_int_equal(dk_oob_format(&m, text, sizeof text, NULL, &e), DK_EINVAL);
    assert_int_equal(e.field, DK_OOB_F_TYPE);
    make_msg(&m, DK_OOB_CRED_PSK, 15, DK_OOB_CHANNEL_WIFI, true);
    assert_int_equal(dk_oob_format(&m, text, sizeof text, NULL, &e), DK_EINVAL);
    assert_int_equal(e.field, DK_OOB_F_CRED_VALUE);
    make_msg(&m, DK_OOB_CRED_RPK, 16, DK_OOB_CHANNEL_NONE, true);
    assert_int_equal(dk_oob_format(&m, text, sizeof text, NULL, &e), DK_EINVAL);
    assert_int_equal(e.field, DK_OOB_F_CHANNEL_CREDENTIALS);
    make_msg(&m, (enum dk_oob_cred)4, 16, DK_OOB_CHANNEL_NONE, false);
    assert_int_equal(dk_oob_format(&m, text, sizeof text, NULL, &e), DK_EINVAL);
    assert_int_equal(e.field, DK_OOB_F_CRED_TYPE);
    make_msg(&m, DK_OOB_CRED_RPK, 16, DK_OOB_CHANNEL_NONE, false);
    size_t need;
    assert_int_equal(dk_oob_format(&m, text, sizeof text, &need, NULL), 0);
    assert_int_equal(dk_oob_format(&m, text, need, NULL, NULL), DK_ENOSPC); /* no room for NUL */
    assert_int_equal(dk_oob_format(&m, text, need + 1, NULL, NULL), 0);
    /* Longest possible message fits DK_OOB_TEXT_MAX. */
    make_msg(&m, DK_OOB_CRED_PSK, 32, DK_OOB_CHANNEL_ZIGBEE, false);
    m.channel = DK_OOB_CHANNEL_WIFI;
    m.has_wifi_ap = true;
    memset(m.endpoint, ';', DK_OOB_ENDPOINT_MAX);
    memset(m.type, '\\', DK_OOB_TYPE_MAX);
    memset(m.ssid, ':', DK_OOB_SSID_MAX);
    m.wifi_psk_len = DK_OOB_WIFI_PSK_MAX;
    assert_int_equal(dk_oob_format(&m, text, sizeof text, &need, NULL), 0);
    assert_true(need <= DK_OOB_TEXT_MAX);
    struct dk_oob_msg back;
    assert_int_equal(dk_oob_parse(text, need, &back, NULL), 0);
    assert_memory_equal(&m, &back, sizeof m);
}

static void test_cred_equal_and_hash(void **state)
{
    (void)state;
    struct dk_oob_msg m;
    make_msg(&m, DK_OOB_CRED_PSK, 16, DK_OOB_CHANNEL_NONE, false);
    uint8_t v[16];
    memcpy(v, m.cred, 16);
    assert_true(dk_oob_cred_equal(&m, v, 16));
    v[15] ^= 1;
    assert_false(dk_oob_cred_equal(&m, v, 16));
    v[15] ^= 1;
    assert_false(dk_oob_cred_equal(&m, v, 15));
    /* SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 ... */
    uint8_t h[DK_OOB_HASH_LEN];
    static const uint8_t want[16] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                     0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23};
    assert_int_equal(dk_oob_cred_hash((const uint8_t *)"abc", 3, h), 0);
    assert_memory_equal(h, want, 16);
}

static void test_names(void **state)
{
    (void)state;
    enum dk_oob_cred c;
    enum dk_oob_channel ch;
    assert_int_equal(dk_oob_cred_from_name("X509", &c), 0);
    assert_int_equal(c, DK_OOB_CRED_X509);
    assert_int_equal(dk_oob_cred_from_name("cert", &c), DK_EINVAL);
    assert_int_equal(dk_oob_channel_from_name("wifi", &ch), 0);
    assert_int_equal(ch, DK_OOB_CHANNEL_WIFI);
    assert_string_equal(dk_oob_channel_name(DK_OOB_CHANNEL_ZIGBEE), "ZIGBEE");
    assert_null(dk_oob_channel_name((enum dk_oob_channel)9));
    assert_string_equal(dk_oob_cred_name(DK_OOB_CRED_RPK), "rpk");
    assert_string_equal(dk_oob_field_name(DK_OOB_F_CHANNEL_CREDENTIALS), "channel-credentials");
    assert_string_equal(dk_oob_field_name(DK_OOB_F_END), "end");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_vector_parses),
        cmocka_unit_test(test_checksum_of_seed),
        cmocka_unit_test(test_changed_value_or_checksum_is_a_checksum_error),
        cmocka_unit_test(test_case_and_white_space_are_accepted),
        cmocka_unit_test(test_round_trip_every_credential_type),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_malformed_fields_are_named),
        cmocka_unit_test(test_malformed_values_are_named),
        cmocka_unit_test(test_too_long_is_refused),
        cmocka_unit_test(test_format_refuses_bad_fields),
        cmocka_unit_test(test_cred_equal_and_hash),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
