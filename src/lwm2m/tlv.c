/* LwM2M TLV (11542): elements, values, and the reader / writer back ends. */
#include <duckling/err.h>
#include <duckling/lwm2m_tlv.h>

#include <math.h>
#include <string.h>

#include "internal.h"

/* ----------------------------------------------------------- elements --- */

int dk_tlv_read(struct dk_rd *r, struct dk_tlv *out)
{
    uint8_t t;
    if (dk_rd_u8(r, &t))
        return DK_EPARSE;
    uint16_t id;
    if (t & 0x20) {
        if (dk_rd_be16(r, &id))
            return DK_EPARSE;
    } else {
        uint8_t b;
        if (dk_rd_u8(r, &b))
            return DK_EPARSE;
        id = b;
    }
    size_t len = 0;
    unsigned lenbytes = (t >> 3) & 3;
    if (lenbytes == 0) {
        len = t & 7;
    } else {
        for (unsigned i = 0; i < lenbytes; i++) {
            uint8_t b;
            if (dk_rd_u8(r, &b))
                return DK_EPARSE;
            len = len << 8 | b;
        }
    }
    const uint8_t *p;
    if (dk_rd_take(r, len, &p))
        return DK_EPARSE;
    if (id == DK_LWM2M_ID_NONE) {
        r->err = DK_ERANGE;
        return DK_ERANGE;
    }
    out->kind = (enum dk_tlv_kind)(t >> 6);
    out->id = id;
    out->value = p;
    out->len = len;
    return 0;
}

size_t dk_tlv_header_size(uint16_t id, size_t len)
{
    size_t n = 1 + (id > 255 ? 2 : 1);
    if (len > 0xFFFF)
        n += 3;
    else if (len > 0xFF)
        n += 2;
    else if (len > 7)
        n += 1;
    return n;
}

static size_t encode_header(uint8_t out[DK_TLV_HEADER_MAX], enum dk_tlv_kind kind, uint16_t id,
                            size_t len)
{
    size_t n = 1;
    uint8_t t = (uint8_t)(kind << 6);
    if (id > 255) {
        t |= 0x20;
        out[n++] = (uint8_t)(id >> 8);
    }
    out[n++] = (uint8_t)id;
    if (len > 0xFFFF) {
        t |= 3 << 3;
        out[n++] = (uint8_t)(len >> 16);
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else if (len > 0xFF) {
        t |= 2 << 3;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else if (len > 7) {
        t |= 1 << 3;
        out[n++] = (uint8_t)len;
    } else {
        t |= (uint8_t)len;
    }
    out[0] = t;
    return n;
}

int dk_tlv_write_header(struct dk_buf *b, enum dk_tlv_kind kind, uint16_t id, size_t len)
{
    if (len > DK_TLV_LEN_MAX || id == DK_LWM2M_ID_NONE || (unsigned)kind > 3)
        return DK_EINVAL;
    uint8_t h[DK_TLV_HEADER_MAX];
    size_t n = encode_header(h, kind, id, len);
    return dk_buf_put(b, h, n);
}

int dk_tlv_write(struct dk_buf *b, enum dk_tlv_kind kind, uint16_t id, const void *value,
                 size_t len)
{
    int rc = dk_tlv_write_header(b, kind, id, len);
    return rc ? rc : dk_buf_put(b, value, len);
}

/* ------------------------------------------------------------- values --- */

static size_t put_be(uint8_t *tmp, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return n;
}

static size_t signed_width(int64_t v)
{
    if (v >= INT8_MIN && v <= INT8_MAX)
        return 1;
    if (v >= INT16_MIN && v <= INT16_MAX)
        return 2;
    if (v >= INT32_MIN && v <= INT32_MAX)
        return 4;
    return 8;
}

static size_t unsigned_width(uint64_t v)
{
    if (v <= UINT8_MAX)
        return 1;
    if (v <= UINT16_MAX)
        return 2;
    if (v <= UINT32_MAX)
        return 4;
    return 8;
}

int dk_tlv_value_bytes(const struct dk_lwm2m_value *v, uint8_t tmp[8], const uint8_t **p,
                       size_t *n)
{
    *p = tmp;
    switch (v->type) {
    case DK_LWM2M_TYPE_NONE: return DK_EINVAL;
    case DK_LWM2M_TYPE_STRING:
    case DK_LWM2M_TYPE_OPAQUE:
    case DK_LWM2M_TYPE_CORELNK:
        *p = v->v.bytes.p;
        *n = v->v.bytes.n;
        return 0;
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME:
        *n = put_be(tmp, (uint64_t)v->v.i, signed_width(v->v.i));
        return 0;
    case DK_LWM2M_TYPE_UNSIGNED:
        *n = put_be(tmp, v->v.u, unsigned_width(v->v.u));
        return 0;
    case DK_LWM2M_TYPE_FLOAT: {
        float f = (float)v->v.f;
        if ((double)f == v->v.f) {
            uint32_t bits;
            memcpy(&bits, &f, 4);
            *n = put_be(tmp, bits, 4);
        } else {
            uint64_t bits;
            memcpy(&bits, &v->v.f, 8);
            *n = put_be(tmp, bits, 8);
        }
        return 0;
    }
    case DK_LWM2M_TYPE_BOOLEAN:
        tmp[0] = v->v.b ? 1 : 0;
        *n = 1;
        return 0;
    case DK_LWM2M_TYPE_OBJLNK:
        put_be(tmp, v->v.lnk.oid, 2);
        put_be(tmp + 2, v->v.lnk.iid, 2);
        *n = 4;
        return 0;
    }
    return DK_EINVAL;
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static bool int_width_ok(size_t n)
{
    return n == 1 || n == 2 || n == 4 || n == 8;
}

int dk_tlv_value_decode(const uint8_t *p, size_t n, enum dk_lwm2m_type type,
                        struct dk_lwm2m_value *out)
{
    switch (type) {
    case DK_LWM2M_TYPE_NONE: return DK_EINVAL;
    case DK_LWM2M_TYPE_STRING:
    case DK_LWM2M_TYPE_CORELNK:
        if (!dk_lwm2m_utf8_valid(p, n))
            return DK_EPARSE;
        *out = dk_lwm2m_strn(p, n);
        out->type = type;
        return 0;
    case DK_LWM2M_TYPE_OPAQUE:
        *out = dk_lwm2m_opaque(p, n);
        return 0;
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME: {
        if (!int_width_ok(n))
            return DK_EPARSE;
        uint64_t u = get_be(p, n);
        /* sign-extend */
        if (n < 8 && (u >> (8 * n - 1)) & 1)
            u |= ~(uint64_t)0 << (8 * n);
        out->type = type;
        out->v.i = (int64_t)u;
        return 0;
    }
    case DK_LWM2M_TYPE_UNSIGNED:
        if (!int_width_ok(n))
            return DK_EPARSE;
        *out = dk_lwm2m_uint(get_be(p, n));
        return 0;
    case DK_LWM2M_TYPE_FLOAT:
        if (n == 4) {
            uint32_t bits = (uint32_t)get_be(p, 4);
            float f;
            memcpy(&f, &bits, 4);
            *out = dk_lwm2m_float(f);
            return 0;
        }
        if (n == 8) {
            uint64_t bits = get_be(p, 8);
            double d;
            memcpy(&d, &bits, 8);
            *out = dk_lwm2m_float(d);
            return 0;
        }
        return DK_EPARSE;
    case DK_LWM2M_TYPE_BOOLEAN:
        if (n != 1 || p[0] > 1)
            return DK_EPARSE;
        *out = dk_lwm2m_bool(p[0] == 1);
        return 0;
    case DK_LWM2M_TYPE_OBJLNK:
        if (n != 4)
            return DK_EPARSE;
        *out = dk_lwm2m_objlnk((uint16_t)get_be(p, 2), (uint16_t)get_be(p + 2, 2));
        return 0;
    }
    return DK_EINVAL;
}

/* ------------------------------------------------------------- reader --- */

/* The path of an element of `kind` and `id` inside `parent` (a container's
 * path, or at the top level the request path). */
static int element_path(const struct dk_lwm2m_path *parent, bool top, enum dk_tlv_kind kind,
                        uint16_t id, struct dk_lwm2m_path *out)
{
    struct dk_lwm2m_path p = *parent;
    switch (kind) {
    case DK_TLV_OBJECT_INSTANCE:
        if (!top)
            return DK_EPARSE;
        if (p.len == 1)
            break;
        if (p.len == 2 && p.ids[1] == id) {
            *out = p;
            return 0;
        }
        return DK_EPARSE;
    case DK_TLV_RESOURCE:
    case DK_TLV_MULTIPLE_RESOURCE:
        if (p.len == 1 && top) {
            /* Create without instance wrapper: the client assigns the id. */
            p.ids[1] = DK_LWM2M_ID_NONE;
            p.len = 2;
            break;
        }
        if (p.len == 2)
            break;
        if (p.len == 3 && top && p.ids[2] == id) {
            *out = p;
            return 0;
        }
        return DK_EPARSE;
    case DK_TLV_RESOURCE_INSTANCE:
        if (p.len == 3)
            break;
        if (p.len == 4 && top && p.ids[3] == id) {
            *out = p;
            return 0;
        }
        return DK_EPARSE;
    }
    p.ids[p.len++] = id;
    *out = p;
    return 0;
}

static int leaf_record(struct dk_lwm2m_reader *r, const struct dk_lwm2m_path *path,
                       const uint8_t *v, size_t n, struct dk_lwm2m_record *rec)
{
    enum dk_lwm2m_type t;
    if (dk_lwm2m__type_of(r, path, &t) != 0)
        t = DK_LWM2M_TYPE_OPAQUE;
    int rc = dk_tlv_value_decode(v, n, t, &rec->value);
    if (rc)
        return rc;
    rec->path = *path;
    rec->time = 0;
    return 0;
}

/* Top-level shape rules beyond the per-element ones. */
static int check_top(struct dk_lwm2m_reader *r, enum dk_tlv_kind kind)
{
    size_t top = r->u.tlv.top++;
    unsigned blen = r->base.len;
    if (top == 0) {
        r->u.tlv.top_kind = (int)kind;
        return 0;
    }
    if (blen == 4)
        return DK_EPARSE; /* exactly one resource instance */
    if (blen == 3 && (r->u.tlv.top_kind != DK_TLV_RESOURCE_INSTANCE ||
                      kind != DK_TLV_RESOURCE_INSTANCE))
        return DK_EPARSE; /* one resource, or bare resource instances */
    if (blen == 1 && ((r->u.tlv.top_kind == DK_TLV_OBJECT_INSTANCE) !=
                      (kind == DK_TLV_OBJECT_INSTANCE)))
        return DK_EPARSE; /* instances, or one new instance's resources, not both */
    if (blen == 2 && (r->u.tlv.top_kind == DK_TLV_OBJECT_INSTANCE ||
                      kind == DK_TLV_OBJECT_INSTANCE))
        return DK_EPARSE; /* one wrapper, or bare resources, not both */
    return 0;
}

int dk_lwm2m__tlv_next(struct dk_lwm2m_reader *r, struct dk_lwm2m_record *rec)
{
    for (;;) {
        int d = r->u.tlv.depth;
        if (d > 0 && r->pos == r->u.tlv.stack[d - 1].end) {
            r->u.tlv.depth--;
            if (r->u.tlv.stack[d - 1].children == 0) {
                /* An empty container is meaningful (e.g. a multiple resource
                 * written with no instances): report it. */
                rec->path = r->u.tlv.stack[d - 1].path;
                rec->value.type = DK_LWM2M_TYPE_NONE;
                rec->time = 0;
                return 0;
            }
            continue;
        }
        if (d == 0 && r->pos == r->len)
            return DK_ENOTFOUND;
        size_t limit = d > 0 ? r->u.tlv.stack[d - 1].end : r->len;
        struct dk_rd rd;
        dk_rd_init(&rd, r->data + r->pos, limit - r->pos);
        struct dk_tlv e;
        int rc = dk_tlv_read(&rd, &e);
        if (rc)
            return rc; /* truncated, or a length beyond the enclosing one */
        if (d == 0) {
            rc = check_top(r, e.kind);
            if (rc)
                return rc;
        }
        const struct dk_lwm2m_path *parent = d > 0 ? &r->u.tlv.stack[d - 1].path : &r->base;
        if (d > 0 && r->u.tlv.stack[d - 1].kind == DK_TLV_MULTIPLE_RESOURCE &&
            e.kind != DK_TLV_RESOURCE_INSTANCE)
            return DK_EPARSE;
        if (d > 0 && r->u.tlv.stack[d - 1].kind == DK_TLV_OBJECT_INSTANCE &&
            e.kind != DK_TLV_RESOURCE && e.kind != DK_TLV_MULTIPLE_RESOURCE)
            return DK_EPARSE;
        struct dk_lwm2m_path path;
        rc = element_path(parent, d == 0, e.kind, e.id, &path);
        if (rc)
            return rc;
        if (d > 0)
            r->u.tlv.stack[d - 1].children++;
        size_t value_start = r->pos + (size_t)(e.value - (r->data + r->pos));
        if (e.kind == DK_TLV_OBJECT_INSTANCE || e.kind == DK_TLV_MULTIPLE_RESOURCE) {
            if (d >= 2)
                return DK_EPARSE; /* cannot happen given the rules above */
            r->u.tlv.stack[d].end = value_start + e.len;
            r->u.tlv.stack[d].kind = (uint8_t)e.kind;
            r->u.tlv.stack[d].children = 0;
            r->u.tlv.stack[d].path = path;
            r->u.tlv.depth = d + 1;
            r->pos = value_start;
            continue;
        }
        r->pos = value_start + e.len;
        return leaf_record(r, &path, e.value, e.len, rec);
    }
}

/* ------------------------------------------------------------- writer --- */

static int open_container(struct dk_lwm2m_writer *w, enum dk_tlv_kind kind, uint16_t id)
{
    if (w->depth >= 2)
        return DK_EINVAL;
    size_t hdr = w->b->len;
    if (!dk_buf_reserve(w->b, DK_TLV_HEADER_MAX))
        return DK_ENOSPC;
    w->open[w->depth].hdr = hdr;
    w->open[w->depth].kind = (uint8_t)kind;
    w->open[w->depth].id = id;
    w->depth++;
    return 0;
}

static int close_container(struct dk_lwm2m_writer *w)
{
    w->depth--;
    size_t hdr = w->open[w->depth].hdr;
    size_t body = hdr + DK_TLV_HEADER_MAX;
    size_t len = w->b->len - body;
    if (len > DK_TLV_LEN_MAX)
        return DK_ENOSPC;
    uint8_t h[DK_TLV_HEADER_MAX];
    size_t hn = encode_header(h, (enum dk_tlv_kind)w->open[w->depth].kind, w->open[w->depth].id,
                              len);
    memcpy(w->b->data + hdr, h, hn);
    memmove(w->b->data + hdr + hn, w->b->data + body, len);
    w->b->len -= DK_TLV_HEADER_MAX - hn;
    return 0;
}

int dk_lwm2m__tlv_add(struct dk_lwm2m_writer *w, const struct dk_lwm2m_record *rec)
{
    const struct dk_lwm2m_path *p = &rec->path;
    unsigned blen = w->base.len;
    bool none = rec->value.type == DK_LWM2M_TYPE_NONE;
    /* Which containers this record lives in. */
    bool want_oi = blen == 1;
    bool want_mr = p->len == 4 && blen <= 3;
    if (p->len < 2 || (want_oi && p->len < 2))
        return DK_EINVAL;
    if (none && !(p->len == 2 || p->len == 3))
        return DK_EINVAL;
    if (!none && p->len < 3)
        return DK_EINVAL; /* values live in resources */
    if (none && p->len == 3)
        want_mr = blen <= 3;
    if (none && p->len == 2 && blen == 2)
        return 0; /* empty instance at its own path: empty payload */
    int rc;
    /* Close what does not match. */
    while (w->depth > 0) {
        int top = w->depth - 1;
        bool keep;
        if (w->open[top].kind == DK_TLV_OBJECT_INSTANCE)
            keep = want_oi && w->open[top].id == p->ids[1];
        else
            keep = want_mr && w->open[top].id == p->ids[2] &&
                   (w->depth == 1 || w->open[0].id == p->ids[1]);
        if (keep)
            break;
        if ((rc = close_container(w)) != 0)
            return rc;
    }
    if (want_oi && (w->depth == 0 || w->open[0].kind != DK_TLV_OBJECT_INSTANCE))
        if ((rc = open_container(w, DK_TLV_OBJECT_INSTANCE, p->ids[1])) != 0)
            return rc;
    if (want_mr && (w->depth == 0 || w->open[w->depth - 1].kind != DK_TLV_MULTIPLE_RESOURCE))
        if ((rc = open_container(w, DK_TLV_MULTIPLE_RESOURCE, p->ids[2])) != 0)
            return rc;
    if (none)
        return 0;
    uint8_t tmp[8];
    const uint8_t *v;
    size_t n;
    if ((rc = dk_tlv_value_bytes(&rec->value, tmp, &v, &n)) != 0)
        return rc;
    if ((rec->value.type == DK_LWM2M_TYPE_STRING || rec->value.type == DK_LWM2M_TYPE_CORELNK) &&
        !dk_lwm2m_utf8_valid(v, n))
        return DK_EINVAL;
    enum dk_tlv_kind kind = p->len == 4 ? DK_TLV_RESOURCE_INSTANCE : DK_TLV_RESOURCE;
    if (n > DK_TLV_LEN_MAX)
        return DK_EINVAL;
    return dk_tlv_write(w->b, kind, p->ids[p->len - 1], v, n);
}

int dk_lwm2m__tlv_finish(struct dk_lwm2m_writer *w)
{
    while (w->depth > 0) {
        int rc = close_container(w);
        if (rc)
            return rc;
    }
    return 0;
}
