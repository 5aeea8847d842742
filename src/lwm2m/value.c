/* Values, numbers, base64, plain text and opaque. */
#include <duckling/err.h>
#include <duckling/lwm2m.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *dk_lwm2m_type_name(enum dk_lwm2m_type t)
{
    switch (t) {
    case DK_LWM2M_TYPE_NONE: return "none";
    case DK_LWM2M_TYPE_STRING: return "string";
    case DK_LWM2M_TYPE_INTEGER: return "integer";
    case DK_LWM2M_TYPE_UNSIGNED: return "unsigned";
    case DK_LWM2M_TYPE_FLOAT: return "float";
    case DK_LWM2M_TYPE_BOOLEAN: return "boolean";
    case DK_LWM2M_TYPE_OPAQUE: return "opaque";
    case DK_LWM2M_TYPE_TIME: return "time";
    case DK_LWM2M_TYPE_OBJLNK: return "objlnk";
    case DK_LWM2M_TYPE_CORELNK: return "corelnk";
    }
    return "unknown";
}

struct dk_lwm2m_value dk_lwm2m_int(int64_t v)
{
    struct dk_lwm2m_value x = {.type = DK_LWM2M_TYPE_INTEGER, .v.i = v};
    return x;
}

struct dk_lwm2m_value dk_lwm2m_uint(uint64_t v)
{
    struct dk_lwm2m_value x = {.type = DK_LWM2M_TYPE_UNSIGNED, .v.u = v};
    return x;
}

struct dk_lwm2m_value dk_lwm2m_float(double v)
{
    struct dk_lwm2m_value x = {.type = DK_LWM2M_TYPE_FLOAT, .v.f = v};
    return x;
}

struct dk_lwm2m_value dk_lwm2m_bool(bool v)
{
    struct dk_lwm2m_value x = {.type = DK_LWM2M_TYPE_BOOLEAN, .v.b = v};
    return x;
}

struct dk_lwm2m_value dk_lwm2m_time(int64_t v)
{
    struct dk_lwm2m_value x = {.type = DK_LWM2M_TYPE_TIME, .v.i = v};
    return x;
}

struct dk_lwm2m_value dk_lwm2m_strn(const void *s, size_t n)
{
    struct dk_lwm2m_value x = {.type = DK_LWM2M_TYPE_STRING};
    x.v.bytes.p = s;
    x.v.bytes.n = n;
    return x;
}

struct dk_lwm2m_value dk_lwm2m_str(const char *s)
{
    return dk_lwm2m_strn(s, strlen(s));
}

struct dk_lwm2m_value dk_lwm2m_opaque(const void *p, size_t n)
{
    struct dk_lwm2m_value x = dk_lwm2m_strn(p, n);
    x.type = DK_LWM2M_TYPE_OPAQUE;
    return x;
}

struct dk_lwm2m_value dk_lwm2m_objlnk(uint16_t oid, uint16_t iid)
{
    struct dk_lwm2m_value x = {.type = DK_LWM2M_TYPE_OBJLNK};
    x.v.lnk.oid = oid;
    x.v.lnk.iid = iid;
    return x;
}

struct dk_lwm2m_value dk_lwm2m_corelnk(const char *s)
{
    struct dk_lwm2m_value x = dk_lwm2m_str(s);
    x.type = DK_LWM2M_TYPE_CORELNK;
    return x;
}

static bool is_signed_kind(enum dk_lwm2m_type t)
{
    return t == DK_LWM2M_TYPE_INTEGER || t == DK_LWM2M_TYPE_TIME;
}

static bool is_number(enum dk_lwm2m_type t)
{
    return is_signed_kind(t) || t == DK_LWM2M_TYPE_UNSIGNED || t == DK_LWM2M_TYPE_FLOAT;
}

static bool is_text(enum dk_lwm2m_type t)
{
    return t == DK_LWM2M_TYPE_STRING || t == DK_LWM2M_TYPE_CORELNK;
}

int dk_lwm2m_value_convert(struct dk_lwm2m_value *v, enum dk_lwm2m_type target)
{
    enum dk_lwm2m_type from = v->type;
    if (from == target)
        return 0;
    if (is_text(from) && is_text(target)) {
        v->type = target;
        return 0;
    }
    if (!is_number(from) || !is_number(target))
        return DK_EPARSE;
    if (target == DK_LWM2M_TYPE_FLOAT) {
        double d = from == DK_LWM2M_TYPE_UNSIGNED ? (double)v->v.u : (double)v->v.i;
        v->v.f = d;
    } else if (is_signed_kind(target)) {
        if (from == DK_LWM2M_TYPE_UNSIGNED) {
            if (v->v.u > (uint64_t)INT64_MAX)
                return DK_ERANGE;
            v->v.i = (int64_t)v->v.u;
        } else if (from == DK_LWM2M_TYPE_FLOAT) {
            double d = v->v.f;
            /* -2^63 is exact; 2^63 is the first double above INT64_MAX. */
            if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
                return DK_ERANGE;
            v->v.i = (int64_t)d;
        }
        /* signed -> signed: same representation */
    } else { /* UNSIGNED */
        if (from == DK_LWM2M_TYPE_FLOAT) {
            double d = v->v.f;
            if (!(d >= 0 && d < 18446744073709551616.0) || d != floor(d))
                return DK_ERANGE;
            v->v.u = (uint64_t)d;
        } else {
            if (v->v.i < 0)
                return DK_ERANGE;
            v->v.u = (uint64_t)v->v.i;
        }
    }
    v->type = target;
    return 0;
}

bool dk_lwm2m_value_equal(const struct dk_lwm2m_value *a, const struct dk_lwm2m_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case DK_LWM2M_TYPE_NONE: return true;
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME: return a->v.i == b->v.i;
    case DK_LWM2M_TYPE_UNSIGNED: return a->v.u == b->v.u;
    case DK_LWM2M_TYPE_FLOAT:
        return a->v.f == b->v.f || (isnan(a->v.f) && isnan(b->v.f));
    case DK_LWM2M_TYPE_BOOLEAN: return a->v.b == b->v.b;
    case DK_LWM2M_TYPE_OBJLNK:
        return a->v.lnk.oid == b->v.lnk.oid && a->v.lnk.iid == b->v.lnk.iid;
    case DK_LWM2M_TYPE_STRING:
    case DK_LWM2M_TYPE_OPAQUE:
    case DK_LWM2M_TYPE_CORELNK:
        return a->v.bytes.n == b->v.bytes.n &&
               (a->v.bytes.n == 0 || memcmp(a->v.bytes.p, b->v.bytes.p, a->v.bytes.n) == 0);
    }
    return false;
}

bool dk_lwm2m_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i - 1 < need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

/* ------------------------------------------------------------ numbers --- */

int dk_lwm2m__parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || (n > 1 && s[0] == '0'))
        return DK_EPARSE;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return DK_EPARSE;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return DK_ERANGE;
        v = v * 10 + d;
    }
    if (v > max)
        return DK_ERANGE;
    *out = v;
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int dk_lwm2m__parse_number(const char *s, size_t n, struct dk_lwm2m_value *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && s[i] == '-')
        neg = true, i++;
    size_t int_start = i;
    if (i >= n || !is_digit(s[i]))
        return DK_EPARSE;
    if (s[i] == '0')
        i++;
    else
        while (i < n && is_digit(s[i]))
            i++;
    size_t int_end = i;
    bool is_float = false;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i]))
            return DK_EPARSE;
        while (i < n && is_digit(s[i]))
            i++;
        is_float = true;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return DK_EPARSE;
        while (i < n && is_digit(s[i]))
            i++;
        is_float = true;
    }
    if (i != n)
        return DK_EPARSE;
    if (!is_float) {
        uint64_t mag;
        int rc = dk_lwm2m__parse_u64(s + int_start, int_end - int_start, UINT64_MAX, &mag);
        if (rc == 0) {
            if (!neg) {
                if (mag <= (uint64_t)INT64_MAX)
                    *out = dk_lwm2m_int((int64_t)mag);
                else
                    *out = dk_lwm2m_uint(mag);
                return 0;
            }
            if (mag <= (uint64_t)INT64_MAX) {
                *out = dk_lwm2m_int(-(int64_t)mag);
                return 0;
            }
            if (mag == (uint64_t)INT64_MAX + 1) {
                *out = dk_lwm2m_int(INT64_MIN);
                return 0;
            }
        } else if (rc != DK_ERANGE) {
            return rc;
        }
        /* too large for 64 bits: fall through to a float */
    }
    char tmp[64];
    if (n >= sizeof tmp)
        return DK_ERANGE; /* longer than any useful double */
    memcpy(tmp, s, n);
    tmp[n] = 0;
    double d = strtod(tmp, NULL);
    if (isinf(d))
        return DK_ERANGE;
    *out = dk_lwm2m_float(d);
    return 0;
}

int dk_lwm2m__format_double(double d, char out[32])
{
    if (isnan(d) || isinf(d))
        return DK_ENOTSUP;
    /* Integral values read best without an exponent: 1700000000.0 */
    if (d == floor(d) && fabs(d) < 1e15) {
        snprintf(out, 32, "%.1f", d);
        return 0;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (!strpbrk(out, ".e"))
        strcat(out, ".0");
    return 0;
}

int dk_lwm2m__put_double(struct dk_buf *b, double d)
{
    char tmp[32];
    int rc = dk_lwm2m__format_double(d, tmp);
    return rc ? rc : dk_buf_put_str(b, tmp);
}

int dk_lwm2m__put_i64(struct dk_buf *b, int64_t v)
{
    return dk_buf_printf(b, "%lld", (long long)v);
}

int dk_lwm2m__put_u64(struct dk_buf *b, uint64_t v)
{
    return dk_buf_printf(b, "%llu", (unsigned long long)v);
}

/* ------------------------------------------------------------- base64 --- */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int dk_lwm2m__b64_encode(struct dk_buf *b, const uint8_t *p, size_t n, bool url)
{
    const char *alpha = url ? b64_url : b64_std;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t left = n - i;
        if (left > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        char q[4] = {alpha[v >> 18 & 63], alpha[v >> 12 & 63], alpha[v >> 6 & 63], alpha[v & 63]};
        size_t out = left >= 3 ? 4 : left + 1;
        if (!url)
            for (size_t k = out; k < 4; k++)
                q[k] = '=';
        int rc = dk_buf_put(b, q, url ? out : 4);
        if (rc)
            return rc;
    }
    return b->err;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int dk_lwm2m__b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
    /* Strip correct padding. */
    if (n % 4 == 0 && n >= 4) {
        if (s[n - 1] == '=')
            n--;
        if (s[n - 1] == '=')
            n--;
    }
    if (n % 4 == 1)
        return DK_EPARSE;
    size_t len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (len > cap)
        return DK_ENOSPC;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(s[i]);
        if (v < 0)
            return DK_EPARSE;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-zero unused bits: not a canonical encoding */
        return DK_EPARSE;
    *outlen = o;
    return 0;
}

/* ------------------------------------------------------------- objlnk --- */

int dk_lwm2m__parse_objlnk(const char *s, size_t n, struct dk_lwm2m_objlnk *out)
{
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return DK_EPARSE;
    uint64_t a, b;
    int rc = dk_lwm2m__parse_u64(s, (size_t)(colon - s), 65535, &a);
    if (rc == 0)
        rc = dk_lwm2m__parse_u64(colon + 1, n - (size_t)(colon - s) - 1, 65535, &b);
    if (rc)
        return rc;
    out->oid = (uint16_t)a;
    out->iid = (uint16_t)b;
    return 0;
}

int dk_lwm2m__put_objlnk(struct dk_buf *b, struct dk_lwm2m_objlnk l)
{
    return dk_buf_printf(b, "%u:%u", (unsigned)l.oid, (unsigned)l.iid);
}

/* --------------------------------------------------------- plain text --- */

int dk_lwm2m_text_encode(const struct dk_lwm2m_value *v, struct dk_buf *b)
{
    switch (v->type) {
    case DK_LWM2M_TYPE_NONE: return DK_EINVAL;
    case DK_LWM2M_TYPE_STRING:
    case DK_LWM2M_TYPE_CORELNK:
        if (!dk_lwm2m_utf8_valid(v->v.bytes.p, v->v.bytes.n))
            return DK_EINVAL;
        return dk_buf_put(b, v->v.bytes.p, v->v.bytes.n);
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME: return dk_lwm2m__put_i64(b, v->v.i);
    case DK_LWM2M_TYPE_UNSIGNED: return dk_lwm2m__put_u64(b, v->v.u);
    case DK_LWM2M_TYPE_FLOAT: return dk_lwm2m__put_double(b, v->v.f);
    case DK_LWM2M_TYPE_BOOLEAN: return dk_buf_put_u8(b, v->v.b ? '1' : '0');
    case DK_LWM2M_TYPE_OPAQUE: return dk_lwm2m__b64_encode(b, v->v.bytes.p, v->v.bytes.n, false);
    case DK_LWM2M_TYPE_OBJLNK: return dk_lwm2m__put_objlnk(b, v->v.lnk);
    }
    return DK_EINVAL;
}

int dk_lwm2m_text_decode(const void *data, size_t n, enum dk_lwm2m_type type,
                         struct dk_lwm2m_value *out, uint8_t *scratch, size_t scratch_cap)
{
    const char *s = data;
    if (n && !s)
        return DK_EINVAL;
    int rc;
    switch (type) {
    case DK_LWM2M_TYPE_NONE: return DK_EINVAL;
    case DK_LWM2M_TYPE_STRING:
    case DK_LWM2M_TYPE_CORELNK:
        if (!dk_lwm2m_utf8_valid((const uint8_t *)s, n))
            return DK_EPARSE;
        *out = dk_lwm2m_strn(s, n);
        out->type = type;
        return 0;
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME:
    case DK_LWM2M_TYPE_UNSIGNED:
    case DK_LWM2M_TYPE_FLOAT: {
        struct dk_lwm2m_value v;
        rc = dk_lwm2m__parse_number(s, n, &v);
        if (rc)
            return rc;
        rc = dk_lwm2m_value_convert(&v, type);
        if (rc)
            return rc;
        *out = v;
        return 0;
    }
    case DK_LWM2M_TYPE_BOOLEAN:
        if (n != 1 || (s[0] != '0' && s[0] != '1'))
            return DK_EPARSE;
        *out = dk_lwm2m_bool(s[0] == '1');
        return 0;
    case DK_LWM2M_TYPE_OPAQUE: {
        size_t len = 0;
        rc = dk_lwm2m__b64_decode(s, n, scratch, scratch ? scratch_cap : 0, &len);
        if (rc)
            return rc;
        *out = dk_lwm2m_opaque(scratch, len);
        return 0;
    }
    case DK_LWM2M_TYPE_OBJLNK: {
        struct dk_lwm2m_objlnk l;
        rc = dk_lwm2m__parse_objlnk(s, n, &l);
        if (rc)
            return rc;
        *out = dk_lwm2m_objlnk(l.oid, l.iid);
        return 0;
    }
    }
    return DK_EINVAL;
}
