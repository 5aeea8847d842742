/* SenML CBOR (RFC 8428 §6, content-format 112) as LwM2M 1.1 uses it.
 * A strict RFC 8949 subset: the labels are integers (bver -1, bn -2, bt -3,
 * bu -4, bv -5, bs -6, n 0, u 1, v 2, vs 3, vb 4, s 5, t 6, ut 7, vd 8) plus
 * the text label "vlo" of LwM2M. Numbers of every width, half floats
 * included. Indefinite-length strings and tags are refused (DK_EPARSE). */
#include <duckling/err.h>

#include <math.h>
#include <string.h>

#include "internal.h"

#define CBOR_DEPTH_MAX 16

enum { M_UINT = 0, M_NINT = 1, M_BYTES = 2, M_TEXT = 3, M_ARRAY = 4, M_MAP = 5, M_TAG = 6, M_SIMPLE = 7 };

struct cb {
    const uint8_t *p;
    size_t n;
    size_t pos;
};

struct head {
    uint8_t major;
    uint8_t ai;
    uint64_t val;
    bool indef;
};

static int head(struct cb *c, struct head *h)
{
    if (c->pos >= c->n)
        return DK_EPARSE;
    uint8_t ib = c->p[c->pos++];
    h->major = ib >> 5;
    h->ai = ib & 31;
    h->indef = false;
    h->val = 0;
    if (h->ai < 24) {
        h->val = h->ai;
        return 0;
    }
    if (h->ai <= 27) {
        size_t k = (size_t)1 << (h->ai - 24);
        if (c->n - c->pos < k)
            return DK_EPARSE;
        for (size_t i = 0; i < k; i++)
            h->val = h->val << 8 | c->p[c->pos++];
        return 0;
    }
    if (h->ai == 31 && (h->major == M_BYTES || h->major == M_TEXT || h->major == M_ARRAY ||
                        h->major == M_MAP || h->major == M_SIMPLE)) {
        h->indef = true;
        return 0;
    }
    return DK_EPARSE; /* reserved additional information 28-30 */
}

static double half_to_double(uint16_t hb)
{
    int e = (hb >> 10) & 0x1F;
    int m = hb & 0x3FF;
    double v;
    if (e == 0)
        v = ldexp(m, -24);
    else if (e != 31)
        v = ldexp(m + 1024, e - 25);
    else
        v = m == 0 ? INFINITY : NAN;
    return (hb & 0x8000) ? -v : v;
}

/* A number item (integer or float). */
static int number_item(const struct head *h, struct dk_lwm2m_value *v)
{
    if (h->major == M_UINT) {
        *v = h->val <= (uint64_t)INT64_MAX ? dk_lwm2m_int((int64_t)h->val) : dk_lwm2m_uint(h->val);
        return 0;
    }
    if (h->major == M_NINT) {
        if (h->val > (uint64_t)INT64_MAX)
            return DK_ERANGE; /* below -2^63 */
        *v = dk_lwm2m_int(-1 - (int64_t)h->val);
        return 0;
    }
    if (h->major == M_SIMPLE && !h->indef) {
        if (h->ai == 25) {
            *v = dk_lwm2m_float(half_to_double((uint16_t)h->val));
            return 0;
        }
        if (h->ai == 26) {
            uint32_t bits = (uint32_t)h->val;
            float f;
            memcpy(&f, &bits, 4);
            *v = dk_lwm2m_float(f);
            return 0;
        }
        if (h->ai == 27) {
            double d;
            memcpy(&d, &h->val, 8);
            *v = dk_lwm2m_float(d);
            return 0;
        }
    }
    return DK_EPARSE;
}

static int number_double(struct cb *c, double *d)
{
    struct head h;
    struct dk_lwm2m_value v;
    int rc = head(c, &h);
    if (rc == 0)
        rc = number_item(&h, &v);
    if (rc)
        return rc;
    if (v.type != DK_LWM2M_TYPE_FLOAT)
        dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_FLOAT);
    *d = v.v.f;
    return 0;
}

/* A definite-length byte or text string; zero-copy. */
static int string_item(struct cb *c, uint8_t major, const uint8_t **p, size_t *len)
{
    struct head h;
    int rc = head(c, &h);
    if (rc)
        return rc;
    if (h.major != major || h.indef)
        return DK_EPARSE;
    if (h.val > c->n - c->pos)
        return DK_EPARSE;
    *p = c->p + c->pos;
    *len = (size_t)h.val;
    c->pos += (size_t)h.val;
    if (major == M_TEXT && !dk_lwm2m_utf8_valid(*p, *len))
        return DK_EPARSE;
    return 0;
}

static int skip_item(struct cb *c, int depth)
{
    if (depth > CBOR_DEPTH_MAX)
        return DK_EPARSE;
    struct head h;
    int rc = head(c, &h);
    if (rc)
        return rc;
    switch (h.major) {
    case M_UINT:
    case M_NINT: return 0;
    case M_BYTES:
    case M_TEXT:
        if (h.indef)
            return DK_EPARSE;
        if (h.val > c->n - c->pos)
            return DK_EPARSE;
        if (h.major == M_TEXT && !dk_lwm2m_utf8_valid(c->p + c->pos, (size_t)h.val))
            return DK_EPARSE;
        c->pos += (size_t)h.val;
        return 0;
    case M_ARRAY:
    case M_MAP: {
        uint64_t per = h.major == M_MAP ? 2 : 1;
        if (h.indef) {
            for (;;) {
                if (c->pos < c->n && c->p[c->pos] == 0xFF) {
                    c->pos++;
                    return 0;
                }
                for (uint64_t k = 0; k < per; k++)
                    if ((rc = skip_item(c, depth + 1)) != 0)
                        return rc;
            }
        }
        if (h.val > c->n - c->pos)
            return DK_EPARSE; /* cannot hold that many items */
        for (uint64_t i = 0; i < h.val * per; i++)
            if ((rc = skip_item(c, depth + 1)) != 0)
                return rc;
        return 0;
    }
    case M_TAG: return DK_EPARSE;
    case M_SIMPLE:
        if (h.indef)
            return DK_EPARSE; /* a break where an item belongs */
        if (h.ai == 24 && h.val < 32)
            return DK_EPARSE; /* two-byte form of a one-byte simple value */
        return 0;
    }
    return DK_EPARSE;
}

/* --------------------------------------------------------------- reader --- */

int dk_lwm2m__cbor_start(struct dk_lwm2m_reader *r)
{
    struct cb c = {r->data, r->len, 0};
    struct head h;
    int rc = head(&c, &h);
    if (rc)
        return rc;
    if (h.major != M_ARRAY)
        return DK_EPARSE;
    r->u.senml.indefinite = h.indef;
    r->u.senml.left = h.val;
    if (!h.indef && h.val > r->len)
        return DK_EPARSE;
    r->pos = c.pos;
    return 0;
}

enum {
    L_BVER = -1,
    L_BN = -2,
    L_BT = -3,
    L_BU = -4,
    L_BV = -5,
    L_BS = -6,
    L_N = 0,
    L_U = 1,
    L_V = 2,
    L_VS = 3,
    L_VB = 4,
    L_S = 5,
    L_T = 6,
    L_UT = 7,
    L_VD = 8,
    L_VLO = 100, /* text label "vlo"; our own number for it */
};

static int seen_bit(int label)
{
    return 1 << (label == L_VLO ? 15 : label + 6);
}

static bool is_value_label(int label)
{
    return label == L_V || label == L_VS || label == L_VB || label == L_VD || label == L_VLO;
}

static int read_field(struct dk_lwm2m_reader *r, struct cb *c, int label,
                      struct dk_lwm2m__senml_raw *raw)
{
    const uint8_t *p;
    size_t len;
    int rc;
    struct head h;
    switch (label) {
    case L_BN:
        raw->has_bn = true;
        rc = string_item(c, M_TEXT, &p, &len);
        raw->bn = (const char *)p;
        raw->bn_len = len;
        return rc;
    case L_N:
        raw->has_n = true;
        rc = string_item(c, M_TEXT, &p, &len);
        raw->n = (const char *)p;
        raw->n_len = len;
        return rc;
    case L_BT:
        raw->has_bt = true;
        return number_double(c, &raw->bt);
    case L_T:
        raw->has_t = true;
        return number_double(c, &raw->t);
    case L_BV:
        raw->has_bv = true;
        return number_double(c, &raw->bv);
    case L_BVER:
        if ((rc = head(c, &h)) != 0)
            return rc;
        if (h.major != M_UINT || h.val < 1 || h.val > 10)
            return DK_EPARSE;
        return 0;
    case L_V:
        raw->value_is_v = true;
        if ((rc = head(c, &h)) != 0)
            return rc;
        return number_item(&h, &raw->value);
    case L_VS:
        if ((rc = string_item(c, M_TEXT, &p, &len)) != 0)
            return rc;
        raw->value = dk_lwm2m_strn(p, len);
        return 0;
    case L_VB:
        if ((rc = head(c, &h)) != 0)
            return rc;
        if (h.major != M_SIMPLE || h.indef || (h.ai != 20 && h.ai != 21))
            return DK_EPARSE;
        raw->value = dk_lwm2m_bool(h.ai == 21);
        return 0;
    case L_VD:
        if ((rc = string_item(c, M_BYTES, &p, &len)) != 0)
            return rc;
        raw->value = dk_lwm2m_opaque(p, len);
        return 0;
    case L_VLO: {
        if ((rc = string_item(c, M_TEXT, &p, &len)) != 0)
            return rc;
        struct dk_lwm2m_objlnk l;
        if ((rc = dk_lwm2m__parse_objlnk((const char *)p, len, &l)) != 0)
            return rc;
        raw->value = dk_lwm2m_objlnk(l.oid, l.iid);
        return 0;
    }
    case L_BU:
    case L_U:
        return string_item(c, M_TEXT, &p, &len);
    case L_BS:
    case L_S:
    case L_UT: {
        double d;
        return number_double(c, &d);
    }
    default: return skip_item(c, 1);
    }
}

int dk_lwm2m__cbor_next(struct dk_lwm2m_reader *r, struct dk_lwm2m_record *rec)
{
    struct cb c = {r->data, r->len, r->pos};
    int rc;
    if (r->u.senml.indefinite) {
        if (c.pos < c.n && c.p[c.pos] == 0xFF) {
            c.pos++;
            goto end;
        }
    } else if (r->u.senml.left == 0) {
        goto end;
    }
    struct head h;
    if ((rc = head(&c, &h)) != 0)
        return rc;
    if (h.major != M_MAP)
        return DK_EPARSE;
    if (!h.indef && h.val > (c.n - c.pos) / 2)
        return DK_EPARSE;
    struct dk_lwm2m__senml_raw raw;
    memset(&raw, 0, sizeof raw);
    int seen = 0;
    for (uint64_t i = 0;; i++) {
        if (h.indef) {
            if (c.pos < c.n && c.p[c.pos] == 0xFF) {
                c.pos++;
                break;
            }
        } else if (i == h.val) {
            break;
        }
        struct head k;
        if ((rc = head(&c, &k)) != 0)
            return rc;
        int label;
        if (k.major == M_UINT || k.major == M_NINT) {
            if (k.val > 1000)
                label = 1000; /* unknown, skipped */
            else
                label = k.major == M_UINT ? (int)k.val : -1 - (int)k.val;
            if (label < -6 || label > 8)
                label = 1000;
        } else if (k.major == M_TEXT && !k.indef) {
            if (k.val > c.n - c.pos)
                return DK_EPARSE;
            const uint8_t *t = c.p + c.pos;
            size_t tl = (size_t)k.val;
            c.pos += tl;
            if (!dk_lwm2m_utf8_valid(t, tl))
                return DK_EPARSE;
            if (tl == 3 && memcmp(t, "vlo", 3) == 0)
                label = L_VLO;
            else if (tl > 0 && t[tl - 1] == '_')
                return DK_EPARSE; /* must-understand */
            else
                label = 1000;
        } else {
            return DK_EPARSE; /* labels are integers or text */
        }
        if (label != 1000) {
            int bit = seen_bit(label);
            if (seen & bit)
                return DK_EPARSE;
            if (is_value_label(label) && raw.has_value)
                return DK_EPARSE;
            seen |= bit;
            if (is_value_label(label))
                raw.has_value = true;
        }
        if ((rc = read_field(r, &c, label, &raw)) != 0)
            return rc;
    }
    if (!r->u.senml.indefinite)
        r->u.senml.left--;
    r->pos = c.pos;
    return dk_lwm2m__senml_finish(r, &raw, rec);
end:
    if (c.pos != c.n)
        return DK_EPARSE; /* trailing bytes */
    r->pos = c.pos;
    return DK_ENOTFOUND;
}

/* --------------------------------------------------------------- writer --- */

static int put_head(struct dk_buf *b, uint8_t major, uint64_t v)
{
    uint8_t t[9];
    size_t n;
    if (v < 24) {
        t[0] = (uint8_t)(major << 5 | v);
        n = 1;
    } else if (v <= 0xFF) {
        t[0] = (uint8_t)(major << 5 | 24);
        t[1] = (uint8_t)v;
        n = 2;
    } else if (v <= 0xFFFF) {
        t[0] = (uint8_t)(major << 5 | 25);
        t[1] = (uint8_t)(v >> 8);
        t[2] = (uint8_t)v;
        n = 3;
    } else if (v <= 0xFFFFFFFFu) {
        t[0] = (uint8_t)(major << 5 | 26);
        for (int i = 0; i < 4; i++)
            t[1 + i] = (uint8_t)(v >> (24 - 8 * i));
        n = 5;
    } else {
        t[0] = (uint8_t)(major << 5 | 27);
        for (int i = 0; i < 8; i++)
            t[1 + i] = (uint8_t)(v >> (56 - 8 * i));
        n = 9;
    }
    return dk_buf_put(b, t, n);
}

static int put_int(struct dk_buf *b, int64_t v)
{
    return v >= 0 ? put_head(b, M_UINT, (uint64_t)v) : put_head(b, M_NINT, (uint64_t)(-1 - v));
}

static int put_text(struct dk_buf *b, const void *s, size_t n)
{
    int rc = put_head(b, M_TEXT, n);
    return rc ? rc : dk_buf_put(b, s, n);
}

static int put_double(struct dk_buf *b, double d)
{
    float f = (float)d;
    uint8_t t[9];
    if ((double)f == d || isnan(d)) {
        uint32_t bits;
        if (isnan(d))
            bits = 0x7FC00000u;
        else
            memcpy(&bits, &f, 4);
        t[0] = 0xFA;
        for (int i = 0; i < 4; i++)
            t[1 + i] = (uint8_t)(bits >> (24 - 8 * i));
        return dk_buf_put(b, t, 5);
    }
    uint64_t bits;
    memcpy(&bits, &d, 8);
    t[0] = 0xFB;
    for (int i = 0; i < 8; i++)
        t[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
    return dk_buf_put(b, t, 9);
}

#define ARRAY_HDR_RESERVE 5

int dk_lwm2m__cbor_wstart(struct dk_lwm2m_writer *w)
{
    /* The record count is only known at the end: reserve the largest
     * header we accept and compact it in finish. */
    return dk_buf_reserve(w->b, ARRAY_HDR_RESERVE) ? 0 : DK_ENOSPC;
}

int dk_lwm2m__cbor_add(struct dk_lwm2m_writer *w, const struct dk_lwm2m_record *rec)
{
    char bn[DK_LWM2M_PATH_STR_MAX + 1], n[DK_LWM2M_PATH_STR_MAX];
    int rc = dk_lwm2m__senml_names(w, rec, bn, n);
    if (rc)
        return rc;
    const struct dk_lwm2m_value *v = &rec->value;
    if ((v->type == DK_LWM2M_TYPE_STRING || v->type == DK_LWM2M_TYPE_CORELNK) &&
        !dk_lwm2m_utf8_valid(v->v.bytes.p, v->v.bytes.n))
        return DK_EINVAL;
    struct dk_buf *b = w->b;
    uint64_t pairs = (bn[0] != 0) + (n[0] != 0) + (v->type != DK_LWM2M_TYPE_NONE) +
                     (rec->time != 0);
    rc = put_head(b, M_MAP, pairs);
    if (rc == 0 && bn[0]) {
        rc = put_int(b, L_BN);
        if (rc == 0)
            rc = put_text(b, bn, strlen(bn));
    }
    if (rc == 0 && n[0]) {
        rc = put_int(b, L_N);
        if (rc == 0)
            rc = put_text(b, n, strlen(n));
    }
    if (rc)
        return rc;
    switch (v->type) {
    case DK_LWM2M_TYPE_NONE: break;
    case DK_LWM2M_TYPE_STRING:
    case DK_LWM2M_TYPE_CORELNK:
        rc = put_int(b, L_VS);
        if (rc == 0)
            rc = put_text(b, v->v.bytes.p, v->v.bytes.n);
        break;
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME:
        rc = put_int(b, L_V);
        if (rc == 0)
            rc = put_int(b, v->v.i);
        break;
    case DK_LWM2M_TYPE_UNSIGNED:
        rc = put_int(b, L_V);
        if (rc == 0)
            rc = put_head(b, M_UINT, v->v.u);
        break;
    case DK_LWM2M_TYPE_FLOAT:
        rc = put_int(b, L_V);
        if (rc == 0)
            rc = put_double(b, v->v.f);
        break;
    case DK_LWM2M_TYPE_BOOLEAN:
        rc = put_int(b, L_VB);
        if (rc == 0)
            rc = dk_buf_put_u8(b, v->v.b ? 0xF5 : 0xF4);
        break;
    case DK_LWM2M_TYPE_OPAQUE:
        rc = put_int(b, L_VD);
        if (rc == 0)
            rc = put_head(b, M_BYTES, v->v.bytes.n);
        if (rc == 0)
            rc = dk_buf_put(b, v->v.bytes.p, v->v.bytes.n);
        break;
    case DK_LWM2M_TYPE_OBJLNK: {
        char tmp[12];
        struct dk_buf t;
        dk_buf_init(&t, tmp, sizeof tmp);
        dk_lwm2m__put_objlnk(&t, v->v.lnk);
        rc = put_text(b, "vlo", 3);
        if (rc == 0)
            rc = put_text(b, tmp, t.len);
        break;
    }
    }
    if (rc == 0 && rec->time != 0) {
        rc = put_int(b, L_T);
        if (rc == 0)
            rc = put_double(b, rec->time);
    }
    return rc;
}

int dk_lwm2m__cbor_finish(struct dk_lwm2m_writer *w)
{
    uint8_t h[9];
    struct dk_buf hb;
    dk_buf_init(&hb, h, sizeof h);
    int rc = put_head(&hb, M_ARRAY, w->count);
    if (rc || hb.len > ARRAY_HDR_RESERVE)
        return DK_ENOSPC;
    size_t body = w->start + ARRAY_HDR_RESERVE;
    size_t len = w->b->len - body;
    memcpy(w->b->data + w->start, h, hb.len);
    memmove(w->b->data + w->start + hb.len, w->b->data + body, len);
    w->b->len -= ARRAY_HDR_RESERVE - hb.len;
    return 0;
}
