/* Shared helpers for the lwm2m unit tests (header-only, static). */
#ifndef DK_TEST_LWM2M_HELPERS_H
#define DK_TEST_LWM2M_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <duckling/buf.h>
#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/lwm2m.h>

/* Hex (spaces allowed) into out; returns the byte count. */
static inline size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    char clean[8192];
    size_t n = 0;
    for (; *h; h++)
        if (*h != ' ' && *h != '\n')
            clean[n++] = *h;
    size_t len = 0;
    assert_true(n < sizeof clean);
    assert_int_equal(dk_hex_decode(out, cap, clean, n, &len), 0);
    return len;
}

static inline struct dk_lwm2m_path P(const char *s)
{
    struct dk_lwm2m_path p;
    assert_int_equal(dk_lwm2m_path_parse(s, strlen(s), &p), 0);
    return p;
}

static inline void assert_path(const struct dk_lwm2m_path *p, const char *s)
{
    char tmp[DK_LWM2M_PATH_STR_MAX];
    assert_int_equal(dk_lwm2m_path_str(p, tmp, sizeof tmp), 0);
    assert_string_equal(tmp, s);
}

static inline void assert_str_value(const struct dk_lwm2m_value *v, const char *s)
{
    assert_int_equal(v->type, DK_LWM2M_TYPE_STRING);
    assert_int_equal(v->v.bytes.n, strlen(s));
    assert_memory_equal(v->v.bytes.p, s, strlen(s));
}

/* Decodes, returning the error and the number of records. */
static inline int decode_all(int cf, const void *d, size_t n, const char *base,
                             const struct dk_lwm2m_decode_opts *o, struct dk_lwm2m_record *recs,
                             size_t cap, size_t *count)
{
    struct dk_lwm2m_path b = P(base);
    return dk_lwm2m_decode(cf, d, n, &b, o, recs, cap, count);
}

#endif
