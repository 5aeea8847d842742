/* The format-neutral reader and writer, and SenML name handling. */
#include <duckling/err.h>
#include <duckling/lwm2m.h>

#include <math.h>
#include <string.h>

#include "internal.h"

bool dk_lwm2m_cf_supported(int cf)
{
    return cf == DK_LWM2M_CF_TEXT || cf == DK_LWM2M_CF_OPAQUE || cf == DK_LWM2M_CF_TLV ||
           cf == DK_LWM2M_CF_SENML_JSON || cf == DK_LWM2M_CF_SENML_CBOR;
}

int dk_lwm2m_builtin_type_of(void *user, const struct dk_lwm2m_path *path,
                             enum dk_lwm2m_type *type)
{
    (void)user;
    if (path->len < 3)
        return DK_ENOTFOUND;
    const struct dk_lwm2m_resource_def *d = dk_lwm2m_resource_def(path->ids[0], path->ids[2]);
    if (!d || d->type == DK_LWM2M_TYPE_NONE)
        return DK_ENOTFOUND;
    /* A resource instance path of a single resource is not a thing. */
    if (path->len == 4 && !d->multiple)
        return DK_ENOTFOUND;
    *type = d->type;
    return 0;
}

int dk_lwm2m__type_of(struct dk_lwm2m_reader *r, const struct dk_lwm2m_path *p,
                      enum dk_lwm2m_type *t)
{
    if (r->opts.raw || p->len < 3)
        return DK_ENOTFOUND;
    dk_lwm2m_type_fn *fn = r->opts.type_of ? r->opts.type_of : dk_lwm2m_builtin_type_of;
    enum dk_lwm2m_type x = DK_LWM2M_TYPE_NONE;
    if (fn(r->opts.user, p, &x) != 0 || x == DK_LWM2M_TYPE_NONE || x >= DK_LWM2M_TYPE_COUNT)
        return DK_ENOTFOUND;
    *t = x;
    return 0;
}

/* Returns the free scratch space and, with n > 0, consumes n bytes of it. */
uint8_t *dk_lwm2m__scratch(struct dk_lwm2m_reader *r, size_t n)
{
    if (!r->opts.scratch)
        return NULL;
    uint8_t *p = r->opts.scratch + r->scratch_used;
    r->scratch_used += n;
    return p;
}

/* --------------------------------------------------------------- reader --- */

int dk_lwm2m_reader_start(struct dk_lwm2m_reader *r, int cf, const void *data, size_t len,
                          const struct dk_lwm2m_path *base,
                          const struct dk_lwm2m_decode_opts *opts)
{
    memset(r, 0, sizeof *r);
    r->err = DK_EINVAL;
    r->done = 1;
    if ((!data && len) || !base || base->len > 4)
        return DK_EINVAL;
    r->cf = cf;
    r->base = *base;
    r->data = data;
    r->len = len;
    if (opts)
        r->opts = *opts;
    int rc = 0;
    switch (cf) {
    case DK_LWM2M_CF_TLV:
        if (base->len == 0)
            rc = DK_ENOTSUP;
        break;
    case DK_LWM2M_CF_TEXT:
    case DK_LWM2M_CF_OPAQUE:
        if (base->len < 3)
            rc = DK_ENOTSUP;
        break;
    case DK_LWM2M_CF_SENML_JSON: rc = dk_lwm2m__json_start(r); break;
    case DK_LWM2M_CF_SENML_CBOR: rc = dk_lwm2m__cbor_start(r); break;
    default: rc = DK_ENOTSUP;
    }
    r->err = rc;
    r->done = 0;
    return rc;
}

static int single_next(struct dk_lwm2m_reader *r, struct dk_lwm2m_record *rec)
{
    if (r->count > 0)
        return DK_ENOTFOUND;
    rec->path = r->base;
    rec->time = 0;
    if (r->cf == DK_LWM2M_CF_OPAQUE) {
        rec->value = dk_lwm2m_opaque(r->data, r->len);
        return 0;
    }
    enum dk_lwm2m_type t;
    if (dk_lwm2m__type_of(r, &r->base, &t) != 0)
        t = DK_LWM2M_TYPE_STRING;
    uint8_t *scratch = dk_lwm2m__scratch(r, 0);
    size_t cap = scratch ? r->opts.scratch_cap - r->scratch_used : 0;
    int rc = dk_lwm2m_text_decode(r->data, r->len, t, &rec->value, scratch, cap);
    if (rc == 0 && t == DK_LWM2M_TYPE_OPAQUE)
        dk_lwm2m__scratch(r, rec->value.v.bytes.n);
    return rc;
}

int dk_lwm2m_reader_next(struct dk_lwm2m_reader *r, struct dk_lwm2m_record *rec)
{
    if (r->err)
        return r->err;
    if (r->done)
        return DK_ENOTFOUND;
    r->scratch_used = 0;
    int rc;
    switch (r->cf) {
    case DK_LWM2M_CF_TLV: rc = dk_lwm2m__tlv_next(r, rec); break;
    case DK_LWM2M_CF_TEXT:
    case DK_LWM2M_CF_OPAQUE: rc = single_next(r, rec); break;
    case DK_LWM2M_CF_SENML_JSON: rc = dk_lwm2m__json_next(r, rec); break;
    case DK_LWM2M_CF_SENML_CBOR: rc = dk_lwm2m__cbor_next(r, rec); break;
    default: rc = DK_ENOTSUP;
    }
    if (rc == DK_ENOTFOUND) {
        r->done = 1;
        return rc;
    }
    if (rc) {
        r->err = rc;
        return rc;
    }
    r->count++;
    return 0;
}

int dk_lwm2m_decode(int cf, const void *data, size_t len, const struct dk_lwm2m_path *base,
                    const struct dk_lwm2m_decode_opts *opts, struct dk_lwm2m_record *recs,
                    size_t cap, size_t *n)
{
    struct dk_lwm2m_reader r;
    *n = 0;
    int rc = dk_lwm2m_reader_start(&r, cf, data, len, base, opts);
    if (rc)
        return rc;
    for (;;) {
        struct dk_lwm2m_record rec;
        rc = dk_lwm2m_reader_next(&r, &rec);
        if (rc == DK_ENOTFOUND)
            return 0;
        if (rc)
            return rc;
        if (*n == cap)
            return DK_ENOSPC;
        recs[(*n)++] = rec;
        /* Keep this record's scratch bytes: move the window past them. */
        if (r.opts.scratch) {
            r.opts.scratch += r.scratch_used;
            r.opts.scratch_cap -= r.scratch_used;
        }
    }
}

/* ------------------------------------------------------------- SenML --- */

int dk_lwm2m__senml_finish(struct dk_lwm2m_reader *r, const struct dk_lwm2m__senml_raw *raw,
                           struct dk_lwm2m_record *rec)
{
    if (raw->has_bn) {
        if (raw->bn_len > DK_LWM2M_NAME_MAX)
            return DK_EPARSE;
        memcpy(r->u.senml.bn, raw->bn, raw->bn_len);
        r->u.senml.bn_len = raw->bn_len;
    }
    if (raw->has_bt)
        r->u.senml.bt = raw->bt;
    if (raw->has_bv) {
        r->u.senml.bv = raw->bv;
        r->u.senml.has_bv = true;
    }
    /* name = bn + n */
    char name[2 * DK_LWM2M_NAME_MAX];
    size_t nl = r->u.senml.bn_len;
    memcpy(name, r->u.senml.bn, nl);
    if (raw->has_n) {
        if (raw->n_len > DK_LWM2M_NAME_MAX)
            return DK_EPARSE;
        memcpy(name + nl, raw->n, raw->n_len);
        nl += raw->n_len;
    }
    int rc = dk_lwm2m__path_parse(name, nl, true, &rec->path);
    if (rc)
        return rc;
    if (!dk_lwm2m_path_contains(&r->base, &rec->path))
        return DK_EPARSE;
    rec->time = r->u.senml.bt + (raw->has_t ? raw->t : 0);
    if (!isfinite(rec->time))
        return DK_ERANGE;
    if (!raw->has_value) {
        rec->value.type = DK_LWM2M_TYPE_NONE;
        return 0;
    }
    rec->value = raw->value;
    if (raw->value_is_v && r->u.senml.has_bv && r->u.senml.bv != 0) {
        struct dk_lwm2m_value v = raw->value;
        dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_FLOAT);
        rec->value = dk_lwm2m_float(v.v.f + r->u.senml.bv);
    }
    enum dk_lwm2m_type t;
    if (dk_lwm2m__type_of(r, &rec->path, &t) == 0)
        return dk_lwm2m_value_convert(&rec->value, t);
    return 0;
}

int dk_lwm2m__senml_names(const struct dk_lwm2m_writer *w, const struct dk_lwm2m_record *rec,
                          char bn[DK_LWM2M_PATH_STR_MAX + 1], char n[DK_LWM2M_PATH_STR_MAX])
{
    bn[0] = 0;
    n[0] = 0;
    bool at_base = rec->path.len == w->base.len;
    if (w->count > 0 && (at_base || w->last.len == w->base.len))
        return DK_EINVAL; /* a record equal to base must be the only one */
    if (w->count == 0) {
        dk_lwm2m_path_str(&w->base, bn, DK_LWM2M_PATH_STR_MAX);
        if (!at_base && w->base.len > 0)
            strcat(bn, "/");
    }
    struct dk_buf b;
    dk_buf_init(&b, n, DK_LWM2M_PATH_STR_MAX);
    for (unsigned i = w->base.len; i < rec->path.len; i++)
        dk_buf_printf(&b, i == w->base.len ? "%u" : "/%u", (unsigned)rec->path.ids[i]);
    return 0;
}

/* --------------------------------------------------------------- writer --- */

int dk_lwm2m_writer_start(struct dk_lwm2m_writer *w, int cf, struct dk_buf *b,
                          const struct dk_lwm2m_path *base)
{
    memset(w, 0, sizeof *w);
    w->err = DK_EINVAL;
    if (!b || !base || base->len > 4)
        return DK_EINVAL;
    w->cf = cf;
    w->b = b;
    w->base = *base;
    w->start = b->len;
    int rc = 0;
    switch (cf) {
    case DK_LWM2M_CF_TLV:
        if (base->len == 0)
            rc = DK_ENOTSUP;
        break;
    case DK_LWM2M_CF_TEXT:
    case DK_LWM2M_CF_OPAQUE:
        if (base->len < 3)
            rc = DK_ENOTSUP;
        break;
    case DK_LWM2M_CF_SENML_JSON: break;
    case DK_LWM2M_CF_SENML_CBOR: rc = dk_lwm2m__cbor_wstart(w); break;
    default: rc = DK_ENOTSUP;
    }
    w->err = rc;
    return rc;
}

static int single_add(struct dk_lwm2m_writer *w, const struct dk_lwm2m_record *rec)
{
    if (w->count > 0 || !dk_lwm2m_path_equal(&rec->path, &w->base))
        return DK_ENOTSUP;
    if (rec->value.type == DK_LWM2M_TYPE_NONE)
        return DK_EINVAL;
    if (w->cf == DK_LWM2M_CF_OPAQUE) {
        if (rec->value.type != DK_LWM2M_TYPE_OPAQUE)
            return DK_ENOTSUP;
        return dk_buf_put(w->b, rec->value.v.bytes.p, rec->value.v.bytes.n);
    }
    if (rec->value.type == DK_LWM2M_TYPE_FLOAT && !isfinite(rec->value.v.f))
        return DK_ENOTSUP;
    return dk_lwm2m_text_encode(&rec->value, w->b);
}

int dk_lwm2m_writer_add(struct dk_lwm2m_writer *w, const struct dk_lwm2m_record *rec)
{
    if (w->err)
        return w->err;
    int rc = 0;
    const struct dk_lwm2m_path *p = &rec->path;
    if (p->len > 4 || !dk_lwm2m_path_contains(&w->base, p) ||
        (unsigned)rec->value.type >= DK_LWM2M_TYPE_COUNT)
        rc = DK_EINVAL;
    for (unsigned i = 0; rc == 0 && i < p->len; i++)
        if (p->ids[i] > DK_LWM2M_ID_MAX)
            rc = DK_EINVAL;
    if (rc == 0 && w->count > 0 && dk_lwm2m_path_compare(&w->last, p) >= 0)
        rc = DK_EINVAL;
    if (rc == 0 && !isfinite(rec->time))
        rc = DK_EINVAL;
    if (rc == 0) {
        size_t mark = w->b->len;
        switch (w->cf) {
        case DK_LWM2M_CF_TLV: rc = dk_lwm2m__tlv_add(w, rec); break;
        case DK_LWM2M_CF_TEXT:
        case DK_LWM2M_CF_OPAQUE: rc = single_add(w, rec); break;
        case DK_LWM2M_CF_SENML_JSON: rc = dk_lwm2m__json_add(w, rec); break;
        case DK_LWM2M_CF_SENML_CBOR: rc = dk_lwm2m__cbor_add(w, rec); break;
        default: rc = DK_ENOTSUP;
        }
        if (rc && w->cf != DK_LWM2M_CF_TLV)
            w->b->len = mark; /* no half record left behind */
    }
    if (rc) {
        w->err = rc;
        return rc;
    }
    w->last = *p;
    w->count++;
    return 0;
}

int dk_lwm2m_writer_add_value(struct dk_lwm2m_writer *w, const struct dk_lwm2m_path *path,
                              const struct dk_lwm2m_value *v)
{
    struct dk_lwm2m_record rec = {.path = *path, .value = *v, .time = 0};
    return dk_lwm2m_writer_add(w, &rec);
}

int dk_lwm2m_writer_finish(struct dk_lwm2m_writer *w, size_t *len)
{
    int rc = w->err;
    if (rc == 0) {
        switch (w->cf) {
        case DK_LWM2M_CF_TLV: rc = dk_lwm2m__tlv_finish(w); break;
        case DK_LWM2M_CF_TEXT:
        case DK_LWM2M_CF_OPAQUE: rc = w->count ? 0 : DK_ENOTSUP; break;
        case DK_LWM2M_CF_SENML_JSON: rc = dk_lwm2m__json_finish(w); break;
        case DK_LWM2M_CF_SENML_CBOR: rc = dk_lwm2m__cbor_finish(w); break;
        default: rc = DK_ENOTSUP;
        }
        if (rc)
            w->err = rc;
    }
    if (len)
        *len = rc ? 0 : w->b->len - w->start;
    return rc;
}

int dk_lwm2m_encode(int cf, const struct dk_lwm2m_path *base, const struct dk_lwm2m_record *recs,
                    size_t n, struct dk_buf *b)
{
    struct dk_lwm2m_writer w;
    int rc = dk_lwm2m_writer_start(&w, cf, b, base);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = dk_lwm2m_writer_add(&w, &recs[i]);
    if (rc == 0)
        rc = dk_lwm2m_writer_finish(&w, NULL);
    return rc;
}
