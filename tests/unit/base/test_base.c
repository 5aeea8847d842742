#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <duckling/buf.h>
#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/log.h>
#include <duckling/mem.h>
#include <duckling/rng.h>

static void test_strerror_covers_every_code(void **state)
{
    (void)state;
    for (int e = 0; e >= DK_ERR_MIN; e--)
        assert_string_not_equal(dk_strerror(e), "unknown error");
    assert_string_equal(dk_strerror(-1000), "unknown error");
    assert_true(dk_err_is_fatal(DK_ENOMEM));
    assert_false(dk_err_is_fatal(DK_EAGAIN));
}

static void test_hex_round_trip_and_errors(void **state)
{
    (void)state;
    uint8_t in[] = {0x00, 0x5b, 0xd1, 0xff};
    char s[9];
    assert_int_equal(dk_hex_encode(s, sizeof s, in, sizeof in), 0);
    assert_string_equal(s, "005bd1ff");
    assert_int_equal(dk_hex_encode(s, 8, in, sizeof in), DK_ENOSPC);
    uint8_t out[4];
    size_t n = 0;
    assert_int_equal(dk_hex_decode(out, sizeof out, "005BD1fF", 8, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(out, in, 4);
    assert_int_equal(dk_hex_decode(out, sizeof out, "abc", 3, &n), DK_EPARSE);
    assert_int_equal(dk_hex_decode(out, sizeof out, "zz", 2, &n), DK_EPARSE);
    assert_int_equal(dk_hex_decode(out, 1, "0011", 4, &n), DK_ENOSPC);
}

static void test_buf_overflow_is_sticky(void **state)
{
    (void)state;
    uint8_t mem[5];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem);
    assert_int_equal(dk_buf_put_be16(&b, 0x0102), 0);
    assert_int_equal(dk_buf_put_be32(&b, 1), DK_ENOSPC);
    assert_int_equal(b.len, 2);
    assert_int_equal(dk_buf_put_u8(&b, 3), DK_ENOSPC); /* sticky */
    assert_int_equal(b.err, DK_ENOSPC);
    dk_buf_init(&b, mem, sizeof mem);
    assert_int_equal(dk_buf_printf(&b, "%d", 1234), 0);
    assert_int_equal(b.len, 4);
    assert_int_equal(dk_buf_printf(&b, "xy"), DK_ENOSPC);
}

static void test_reader_bounds(void **state)
{
    (void)state;
    const uint8_t in[] = {1, 2, 3};
    struct dk_rd r;
    dk_rd_init(&r, in, sizeof in);
    uint16_t v16;
    uint32_t v32;
    assert_int_equal(dk_rd_be16(&r, &v16), 0);
    assert_int_equal(v16, 0x0102);
    assert_int_equal(dk_rd_be32(&r, &v32), DK_EPARSE);
    uint8_t v8;
    assert_int_equal(dk_rd_u8(&r, &v8), DK_EPARSE); /* stays failed */
}

static void test_ct_equal_and_memzero(void **state)
{
    (void)state;
    uint8_t a[16] = {1}, b[16] = {1};
    assert_true(dk_ct_equal(a, b, sizeof a));
    b[15] = 1;
    assert_false(dk_ct_equal(a, b, sizeof a));
    dk_memzero(b, sizeof b);
    for (size_t i = 0; i < sizeof b; i++)
        assert_int_equal(b[i], 0);
}

static void test_rng(void **state)
{
    (void)state;
    struct dk_rng r1, r2;
    dk_rng_init(&r1);
    dk_rng_init(&r2);
    uint8_t x[32], y[32];
    assert_int_equal(dk_rng_bytes(&r1, x, 1), DK_ESTATE);
    assert_int_equal(dk_rng_setup(&r1, "t", 1), 0);
    assert_int_equal(dk_rng_setup(&r2, "t", 1), 0);
    assert_int_equal(dk_rng_bytes(&r1, x, sizeof x), 0);
    assert_int_equal(dk_rng_bytes(&r2, y, sizeof y), 0);
    assert_memory_not_equal(x, y, sizeof x);
    for (int i = 0; i < 1000; i++)
        assert_true(dk_rng_uniform(&r1, 7) < 7);
    dk_rng_free(&r1);
    dk_rng_free(&r2);
    dk_rng_free(&r2); /* free is always safe */

    dk_rng_init(&r1);
    dk_rng_init(&r2);
    assert_int_equal(dk_rng_setup_deterministic(&r1, "seed", 4), 0);
    assert_int_equal(dk_rng_setup_deterministic(&r2, "seed", 4), 0);
    assert_int_equal(dk_rng_bytes(&r1, x, sizeof x), 0);
    assert_int_equal(dk_rng_bytes(&r2, y, sizeof y), 0);
    assert_memory_equal(x, y, sizeof x);
    dk_rng_free(&r1);
    dk_rng_free(&r2);
}

static void test_log_level_parse(void **state)
{
    (void)state;
    enum dk_log_level l;
    assert_int_equal(dk_log_level_parse("debug", &l), 0);
    assert_int_equal(l, DK_LOG_DEBUG);
    assert_int_equal(dk_log_level_parse("loud", &l), DK_EINVAL);
    dk_log_write(NULL, DK_LOG_ERROR, "t", "a NULL logger discards %d", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_covers_every_code),
        cmocka_unit_test(test_hex_round_trip_and_errors),
        cmocka_unit_test(test_buf_overflow_is_sticky),
        cmocka_unit_test(test_reader_bounds),
        cmocka_unit_test(test_ct_equal_and_memzero),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_log_level_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
