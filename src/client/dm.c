/* The client as a CoAP server: the Bootstrap interface (Delete, Write, Read,
 * Discover, Finish) and the Device Management and Information Reporting
 * interfaces (Read, Discover, Write, Write-Attributes, Execute, Create,
 * Delete, Observe), with content negotiation and access control. */
#include "client_int.h"

#include <stdio.h>

/* ---- Record sink: writer and digest -------------------------------------------------------- */

void dk_cl_out_init(struct dk_cl_out *o, struct dk_lwm2m_writer *w)
{
    memset(o, 0, sizeof *o);
    o->w = w;
    o->hash = 14695981039346656037ull; /* FNV-1a offset basis */
}

static void fnv(struct dk_cl_out *o, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        o->hash ^= b[i];
        o->hash *= 1099511628211ull;
    }
}

static bool numeric(enum dk_lwm2m_type t, const struct dk_lwm2m_value *v, double *out)
{
    switch (t) {
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME:
        *out = (double)v->v.i;
        return true;
    case DK_LWM2M_TYPE_UNSIGNED:
        *out = (double)v->v.u;
        return true;
    case DK_LWM2M_TYPE_FLOAT:
        *out = v->v.f;
        return true;
    default:
        return false;
    }
}

int dk_cl_out_sink(void *ctx, const struct dk_lwm2m_record *rec)
{
    struct dk_cl_out *o = ctx;
    const struct dk_lwm2m_value *v = &rec->value;
    fnv(o, rec->path.ids, sizeof rec->path.ids);
    fnv(o, &rec->path.len, 1);
    uint8_t t = (uint8_t)v->type;
    fnv(o, &t, 1);
    switch (v->type) {
    case DK_LWM2M_TYPE_STRING:
    case DK_LWM2M_TYPE_OPAQUE:
    case DK_LWM2M_TYPE_CORELNK:
        fnv(o, v->v.bytes.p, v->v.bytes.n);
        break;
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME:
        fnv(o, &v->v.i, sizeof v->v.i);
        break;
    case DK_LWM2M_TYPE_UNSIGNED:
        fnv(o, &v->v.u, sizeof v->v.u);
        break;
    case DK_LWM2M_TYPE_FLOAT:
        fnv(o, &v->v.f, sizeof v->v.f);
        break;
    case DK_LWM2M_TYPE_BOOLEAN:
        t = v->v.b;
        fnv(o, &t, 1);
        break;
    case DK_LWM2M_TYPE_OBJLNK:
        fnv(o, &v->v.lnk, sizeof v->v.lnk);
        break;
    default:
        break;
    }
    if (o->count++ == 0) {
        o->first_type = v->type;
        o->has_num = numeric(v->type, v, &o->num);
    } else {
        o->has_num = false;
    }
    if (!o->w)
        return 0;
    if (v->type == DK_LWM2M_TYPE_NONE && o->w->cf != DK_LWM2M_CF_TLV)
        return 0; /* an empty instance: only TLV can say so */
    return dk_lwm2m_writer_add(o->w, rec);
}

/* ---- Access control ------------------------------------------------------------------------- */

size_t dk_cl_server_count(struct dk_client_impl *s)
{
    size_t n = 0;
    struct dk_cl_obj *o = dk_cl_obj_find(s, DK_LWM2M_OID_SERVER);
    for (struct dk_cl_inst *in = o ? o->insts : NULL; in; in = in->next)
        n++;
    return n;
}

static int acl_rebuild(struct dk_client_impl *s)
{
    dk_cl_free(s, s->acls);
    s->acls = NULL;
    s->nacls = 0;
    struct dk_cl_obj *o = dk_cl_obj_find(s, DK_LWM2M_OID_ACCESS_CONTROL);
    size_t n = 0;
    for (struct dk_cl_inst *in = o ? o->insts : NULL; in; in = in->next)
        n++;
    if (n) {
        s->acls = dk_cl_alloc(s, n * sizeof *s->acls);
        if (!s->acls)
            return DK_ENOMEM;
    }
    size_t k = 0;
    for (struct dk_cl_inst *in = o ? o->insts : NULL; in; in = in->next) {
        struct dk_lwm2m_acl *a = &s->acls[k];
        memset(a, 0, sizeof *a);
        int64_t v;
        a->acl_iid = in->iid;
        a->oid =
            dk_cl_get_int(s, 2, in->iid, 0, &v) && v >= 0 && v <= NONE_ID ? (uint16_t)v : NONE_ID;
        a->iid =
            dk_cl_get_int(s, 2, in->iid, 1, &v) && v >= 0 && v <= NONE_ID ? (uint16_t)v : NONE_ID;
        a->owner =
            dk_cl_get_int(s, 2, in->iid, 3, &v) && v >= 0 && v <= NONE_ID ? (uint16_t)v : NONE_ID;
        for (struct dk_cl_value *val = in->vals; val; val = val->next) {
            if (val->rid != 2 || val->riid == NONE_ID || val->type != DK_LWM2M_TYPE_INTEGER)
                continue;
            if (val->u.i < 0 || val->u.i > DK_LWM2M_ACL_ALL)
                continue;
            dk_lwm2m_acl_set(a, val->riid, (uint8_t)val->u.i); /* full table: rest ignored */
        }
        k++;
    }
    s->nacls = k;
    s->acl_dirty = false;
    return 0;
}

int dk_cl_access(struct dk_client *c, uint16_t ssid, enum dk_lwm2m_op op,
                 const struct dk_lwm2m_path *p)
{
    struct dk_client_impl *s = c->impl;
    if (s->acl_dirty) {
        int rc = acl_rebuild(s);
        if (rc)
            return rc;
    }
    return dk_lwm2m_access_check(s->acls, s->nacls, dk_cl_server_count(s), ssid, op, p);
}

/* ---- Reading -------------------------------------------------------------------------------- */

int dk_cl_read_value(struct dk_client *c, struct dk_cl_obj *o, struct dk_cl_inst *in, uint16_t rid,
                     uint16_t riid, struct dk_lwm2m_value *out, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (riid == NONE_ID && o->ops && o->ops->read) {
        struct dk_lwm2m_path p = dk_lwm2m_path_res(o->def->id, in->iid, rid);
        s->in_cb++;
        int rc = o->ops->read(c, o->user, &p, out, now);
        s->in_cb--;
        if (rc != DK_ENOTFOUND) {
            if (rc)
                return rc < 0 ? rc : DK_EIO;
            const struct dk_lwm2m_resource_def *d = dk_cl_res_def(o, rid);
            if (d && d->type != DK_LWM2M_TYPE_NONE && out->type != d->type &&
                dk_lwm2m_value_convert(out, d->type))
                return DK_ERANGE;
            return 0;
        }
    }
    struct dk_cl_value *v = dk_cl_val_find(in, rid, riid);
    if (!v)
        return DK_ENOTFOUND;
    *out = dk_cl_val_get(v);
    return 0;
}

static bool readable(const struct dk_lwm2m_resource_def *d, enum dk_cl_who who)
{
    if (d->type == DK_LWM2M_TYPE_NONE)
        return false;
    return who != WHO_SERVER || (d->ops & DK_LWM2M_OP_R);
}

static int emit_resource(struct dk_client *c, struct dk_cl_obj *o, struct dk_cl_inst *in,
                         const struct dk_lwm2m_resource_def *d, dk_cl_sink_fn *sink, void *ctx,
                         bool must, dk_time_t now)
{
    uint16_t oid = o->def->id;
    if (d->multiple) {
        bool any = false;
        for (struct dk_cl_value *v = in->vals; v; v = v->next) {
            if (v->rid != d->id || v->riid == NONE_ID)
                continue;
            struct dk_lwm2m_record r = {dk_lwm2m_path_rinst(oid, in->iid, d->id, v->riid),
                                        dk_cl_val_get(v), 0};
            int rc = sink(ctx, &r);
            if (rc)
                return rc;
            any = true;
        }
        return any || !must ? 0 : DK_ENOTFOUND;
    }
    struct dk_lwm2m_record r = {dk_lwm2m_path_res(oid, in->iid, d->id), {0}, 0};
    int rc = dk_cl_read_value(c, o, in, d->id, NONE_ID, &r.value, now);
    if (rc == DK_ENOTFOUND && !must)
        return 0;
    if (rc)
        return rc;
    return sink(ctx, &r);
}

static int emit_instance(struct dk_client *c, struct dk_cl_obj *o, struct dk_cl_inst *in,
                         enum dk_cl_who who, dk_cl_sink_fn *sink, void *ctx, bool mark_empty,
                         dk_time_t now)
{
    struct dk_cl_out *out = ctx;
    size_t before = sink == dk_cl_out_sink ? out->count : 0;
    for (size_t i = 0; i < o->def->n_res; i++) {
        const struct dk_lwm2m_resource_def *d = &o->def->res[i];
        if (!readable(d, who))
            continue;
        int rc = emit_resource(c, o, in, d, sink, ctx, false, now);
        if (rc)
            return rc;
    }
    if (mark_empty && sink == dk_cl_out_sink && out->count == before) {
        struct dk_lwm2m_record r = {dk_lwm2m_path_inst(o->def->id, in->iid), {0}, 0};
        r.value.type = DK_LWM2M_TYPE_NONE;
        return sink(ctx, &r);
    }
    return 0;
}

int dk_cl_read(struct dk_client *c, const struct dk_lwm2m_path *p, enum dk_cl_who who,
               uint16_t ssid, dk_cl_sink_fn *sink, void *ctx, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (p->len == 0)
        return DK_EINVAL;
    struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
    if (!o)
        return DK_ENOTFOUND;
    if (p->len == 1) {
        for (struct dk_cl_inst *in = o->insts; in; in = in->next) {
            if (who == WHO_SERVER) {
                struct dk_lwm2m_path ip = dk_lwm2m_path_inst(o->def->id, in->iid);
                int rc = dk_cl_access(c, ssid, DK_LWM2M_READ, &ip);
                if (rc == DK_EPERM)
                    continue;
                if (rc)
                    return rc;
            }
            int rc = emit_instance(c, o, in, who, sink, ctx, true, now);
            if (rc)
                return rc;
        }
        return 0;
    }
    struct dk_cl_inst *in = dk_cl_inst_find(o, p->ids[1]);
    if (!in)
        return DK_ENOTFOUND;
    if (p->len == 2)
        return emit_instance(c, o, in, who, sink, ctx, false, now);
    const struct dk_lwm2m_resource_def *d = dk_cl_res_def(o, p->ids[2]);
    if (!d)
        return DK_ENOTFOUND;
    if (!readable(d, who))
        return DK_EPERM;
    if (p->len == 3)
        return emit_resource(c, o, in, d, sink, ctx, true, now);
    if (!d->multiple)
        return DK_ENOTFOUND;
    struct dk_cl_value *v = dk_cl_val_find(in, p->ids[2], p->ids[3]);
    if (!v)
        return DK_ENOTFOUND;
    struct dk_lwm2m_record r = {*p, dk_cl_val_get(v), 0};
    return sink(ctx, &r);
}

/* ---- Helpers for answers --------------------------------------------------------------------- */

static int opt_int(const struct dk_coap_msg *m, uint16_t num)
{
    uint32_t v;
    if (dk_coap_msg_get_uint(m, num, &v) != 0 || v > 65535)
        return dk_coap_msg_find(m, num) ? -2 : -1;
    return (int)v;
}

static uint8_t err_code(int rc)
{
    switch (rc) {
    case DK_ENOTFOUND:
        return DK_COAP_NOT_FOUND;
    case DK_EPERM:
        return DK_COAP_METHOD_NOT_ALLOWED;
    case DK_EINVAL:
    case DK_EPARSE:
    case DK_ERANGE:
        return DK_COAP_BAD_REQUEST;
    case DK_ENOTSUP:
        return DK_COAP_NOT_ACCEPTABLE;
    default:
        return DK_COAP_INTERNAL_SERVER_ERROR;
    }
}

/* Whether p names one value (a single resource or a resource instance). */
static bool single_value(struct dk_client_impl *s, const struct dk_lwm2m_path *p,
                         enum dk_lwm2m_type *type)
{
    if (p->len < 3)
        return false;
    struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
    const struct dk_lwm2m_resource_def *d = o ? dk_cl_res_def(o, p->ids[2]) : NULL;
    if (!d)
        return false;
    *type = d->type;
    return p->len == 4 || !d->multiple;
}

/* The content format of a read answer: Accept if we can, else a default.
 * -1: Not Acceptable. */
static int choose_cf(struct dk_client_impl *s, const struct dk_lwm2m_path *p, int accept)
{
    enum dk_lwm2m_type t = DK_LWM2M_TYPE_NONE;
    bool one = single_value(s, p, &t);
    if (accept < 0)
        return one ? (t == DK_LWM2M_TYPE_OPAQUE ? DK_LWM2M_CF_OPAQUE : DK_LWM2M_CF_TEXT)
                   : DK_LWM2M_CF_TLV;
    switch (accept) {
    case DK_LWM2M_CF_TLV:
    case DK_LWM2M_CF_SENML_JSON:
    case DK_LWM2M_CF_SENML_CBOR:
        return accept;
    case DK_LWM2M_CF_TEXT:
        return one && t != DK_LWM2M_TYPE_OPAQUE ? accept : -1;
    case DK_LWM2M_CF_OPAQUE:
        return one && t == DK_LWM2M_TYPE_OPAQUE ? accept : -1;
    default:
        return -1;
    }
}

/* Encodes the read of p into resp. Returns the CoAP code; out gets the digest. */
static uint8_t answer_read(struct dk_client *c, const struct dk_lwm2m_path *p, enum dk_cl_who who,
                           uint16_t ssid, int cf, struct dk_coap_resp *resp, struct dk_cl_out *out,
                           dk_time_t now)
{
    struct dk_buf b;
    dk_buf_init(&b, resp->buf, resp->cap);
    struct dk_lwm2m_writer w;
    int rc = dk_lwm2m_writer_start(&w, cf, &b, p);
    if (rc)
        return DK_COAP_NOT_ACCEPTABLE;
    dk_cl_out_init(out, &w);
    rc = dk_cl_read(c, p, who, ssid, dk_cl_out_sink, out, now);
    size_t len = 0;
    if (!rc)
        rc = dk_lwm2m_writer_finish(&w, &len);
    if (rc == DK_ENOTSUP && w.cf != DK_LWM2M_CF_TLV && out->count == 0)
        rc = DK_ENOTFOUND; /* TEXT/OPAQUE without a record */
    if (rc)
        return err_code(rc);
    dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
    if (len > dk_coap_block_size(c->impl->ccfg->block_szx)) {
        /* Served block by block: the representation's digest tells the
         * client when a value changed between blocks. */
        struct dk_client_impl *s = c->impl;
        for (int i = 0; i < 8; i++)
            s->etag[i] = (uint8_t)(out->hash >> (56 - 8 * i));
        dk_coap_msg_add_opt(&resp->msg, DK_COAP_OPT_ETAG, s->etag, sizeof s->etag);
    }
    dk_coap_msg_set_payload(&resp->msg, resp->buf, len);
    return DK_COAP_CONTENT;
}

/* ---- Writing --------------------------------------------------------------------------------- */

enum wmode {
    W_REPLACE,
    W_PARTIAL,
    W_BOOTSTRAP,
    W_CREATE,
};

#define MAX_MULTI 32

struct wstate {
    enum wmode mode;
    struct dk_lwm2m_path base;
    struct dk_cl_obj *o;
    uint16_t create_iid;          /* W_CREATE: the instance made */
    uint16_t multi[MAX_MULTI][2]; /* (iid, rid) of multiple resources to replace */
    size_t nmulti;
    size_t count;
    uint8_t *scratch; /* decoded JSON escapes and base64: never longer than the payload */
    size_t scratch_cap;
};

static int start_reader(struct dk_client_impl *s, struct wstate *ws, struct dk_lwm2m_reader *r,
                        int cf, const uint8_t *data, size_t len)
{
    struct dk_lwm2m_decode_opts opts = {dk_cl_type_of, s, false, ws->scratch, ws->scratch_cap};
    return dk_lwm2m_reader_start(r, cf, data, len, &ws->base, &opts);
}

static uint16_t rec_iid(const struct wstate *ws, const struct dk_lwm2m_record *rec)
{
    if (ws->mode == W_CREATE && rec->path.ids[1] == NONE_ID)
        return ws->create_iid;
    return rec->path.ids[1];
}

/* Checks one record; returns 0 or a CoAP code. */
static uint8_t check_record(struct dk_client *c, struct wstate *ws,
                            const struct dk_lwm2m_record *rec)
{
    struct dk_client_impl *s = c->impl;
    const struct dk_lwm2m_path *p = &rec->path;
    if (p->len < 2)
        return DK_COAP_BAD_REQUEST;
    uint16_t iid = rec_iid(ws, rec);
    if (ws->mode == W_CREATE) {
        if (ws->count == 0 && ws->create_iid == NONE_ID)
            ws->create_iid = p->ids[1] == NONE_ID ? dk_cl_inst_free_id(ws->o) : p->ids[1];
        iid = rec_iid(ws, rec);
        if (iid != ws->create_iid || iid == NONE_ID)
            return DK_COAP_BAD_REQUEST; /* one instance per Create */
    } else if (ws->mode != W_BOOTSTRAP && !dk_cl_inst_find(ws->o, iid)) {
        return DK_COAP_NOT_FOUND;
    }
    if (p->len == 2)
        return rec->value.type == DK_LWM2M_TYPE_NONE &&
                       (ws->mode == W_BOOTSTRAP || ws->mode == W_CREATE)
                   ? 0
                   : DK_COAP_BAD_REQUEST;
    const struct dk_lwm2m_resource_def *d = dk_cl_res_def(ws->o, p->ids[2]);
    if (!d)
        return ws->mode == W_BOOTSTRAP ? 0 : DK_COAP_NOT_FOUND;
    if (d->type == DK_LWM2M_TYPE_NONE)
        return ws->mode == W_BOOTSTRAP ? 0 : DK_COAP_METHOD_NOT_ALLOWED;
    if ((ws->mode == W_REPLACE || ws->mode == W_PARTIAL) && !(d->ops & DK_LWM2M_OP_W))
        return DK_COAP_METHOD_NOT_ALLOWED;
    if (d->multiple) {
        if (p->len == 3 && rec->value.type != DK_LWM2M_TYPE_NONE)
            return DK_COAP_BAD_REQUEST;
    } else if (p->len != 3 || rec->value.type == DK_LWM2M_TYPE_NONE) {
        return DK_COAP_BAD_REQUEST;
    }
    if (p->len == 4 && rec->value.type == DK_LWM2M_TYPE_NONE)
        return DK_COAP_BAD_REQUEST;
    if (rec->value.type != DK_LWM2M_TYPE_NONE) {
        if (rec->value.type != d->type)
            return DK_COAP_BAD_REQUEST;
        if ((rec->value.type == DK_LWM2M_TYPE_STRING || rec->value.type == DK_LWM2M_TYPE_OPAQUE ||
             rec->value.type == DK_LWM2M_TYPE_CORELNK) &&
            rec->value.v.bytes.n > s->cfg->max_value_len)
            return DK_COAP_REQUEST_ENTITY_TOO_LARGE;
        if (ws->o->in && ws->o->in->validate) {
            struct dk_lwm2m_path vp = *p;
            vp.ids[1] = iid;
            if (ws->o->in->validate(c, &vp, &rec->value))
                return DK_COAP_BAD_REQUEST;
        }
    }
    /* A multiple resource in a replace is replaced as a whole (unless the
     * request names one resource instance). */
    if (d->multiple && ws->mode != W_PARTIAL && ws->base.len < 4) {
        bool seen = false;
        for (size_t i = 0; i < ws->nmulti; i++)
            seen |= ws->multi[i][0] == iid && ws->multi[i][1] == d->id;
        if (!seen) {
            if (ws->nmulti >= MAX_MULTI)
                return DK_COAP_REQUEST_ENTITY_TOO_LARGE;
            ws->multi[ws->nmulti][0] = iid;
            ws->multi[ws->nmulti][1] = d->id;
            ws->nmulti++;
        }
    }
    ws->count++;
    return 0;
}

static uint8_t hook_code(int rc)
{
    if (rc == DK_EINVAL)
        return DK_COAP_BAD_REQUEST;
    if (rc == DK_EPERM)
        return DK_COAP_METHOD_NOT_ALLOWED;
    return DK_COAP_INTERNAL_SERVER_ERROR;
}

static int get_inst(struct dk_client *c, struct wstate *ws, uint16_t iid, struct dk_cl_inst **out,
                    dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    struct dk_cl_inst *in = dk_cl_inst_find(ws->o, iid);
    if (!in) {
        int rc = dk_cl_inst_create(s, ws->o, iid, &in);
        if (rc)
            return rc;
        in->persist = true;
        if (ws->o->ops && ws->o->ops->created) {
            s->in_cb++;
            ws->o->ops->created(c, ws->o->user, iid, now);
            s->in_cb--;
        }
    }
    *out = in;
    return 0;
}

/* Applies one validated record. Returns 0 or a CoAP code. */
static uint8_t apply_record(struct dk_client *c, struct wstate *ws,
                            const struct dk_lwm2m_record *rec, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    const struct dk_lwm2m_path *p = &rec->path;
    uint16_t iid = rec_iid(ws, rec);
    struct dk_cl_inst *in;
    int rc = get_inst(c, ws, iid, &in, now);
    if (rc)
        return rc == DK_ELIMIT ? DK_COAP_BAD_REQUEST : DK_COAP_INTERNAL_SERVER_ERROR;
    if (p->len == 2 || rec->value.type == DK_LWM2M_TYPE_NONE)
        return 0;
    const struct dk_lwm2m_resource_def *d = dk_cl_res_def(ws->o, p->ids[2]);
    if (!d || d->type == DK_LWM2M_TYPE_NONE)
        return 0; /* bootstrap: skipped */
    struct dk_lwm2m_path vp = *p;
    vp.ids[1] = iid;
    if (ws->o->ops && ws->o->ops->write) {
        s->in_cb++;
        rc = ws->o->ops->write(c, ws->o->user, &vp, &rec->value, now);
        s->in_cb--;
        if (rc < 0)
            return hook_code(rc);
        if (rc > 0)
            return 0; /* the hook keeps it */
    }
    uint16_t riid = p->len == 4 ? p->ids[3] : NONE_ID;
    rc = dk_cl_val_set(s, in, p->ids[2], riid, &rec->value, true);
    if (rc)
        return rc == DK_ELIMIT ? DK_COAP_REQUEST_ENTITY_TOO_LARGE : DK_COAP_INTERNAL_SERVER_ERROR;
    if (ws->o->def->id == DK_LWM2M_OID_ACCESS_CONTROL)
        s->acl_dirty = true;
    return 0;
}

/* Validates, then applies, the payload of a Write / Bootstrap-Write / Create. */
static uint8_t write_payload(struct dk_client *c, const struct dk_coap_req *req, struct wstate *ws,
                             dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    int cf = opt_int(req->msg, DK_COAP_OPT_CONTENT_FORMAT);
    if (cf == -2)
        return DK_COAP_BAD_REQUEST;
    bool empty = cf < 0 && req->payload_len == 0;
    if (empty && (ws->mode == W_CREATE || ws->mode == W_BOOTSTRAP))
        cf = DK_LWM2M_CF_TLV; /* no records */
    else if (cf < 0)
        return req->payload_len ? DK_COAP_UNSUPPORTED_CONTENT_FORMAT : DK_COAP_BAD_REQUEST;
    if (!dk_lwm2m_cf_supported(cf))
        return DK_COAP_UNSUPPORTED_CONTENT_FORMAT;
    if (req->payload_len > s->cfg->max_payload)
        return DK_COAP_REQUEST_ENTITY_TOO_LARGE;
    struct dk_lwm2m_reader r;
    struct dk_lwm2m_record rec;
    int rc = start_reader(s, ws, &r, cf, req->payload, req->payload_len);
    if (rc)
        return rc == DK_ENOTSUP ? DK_COAP_UNSUPPORTED_CONTENT_FORMAT : DK_COAP_BAD_REQUEST;
    while ((rc = dk_lwm2m_reader_next(&r, &rec)) == 0) {
        uint8_t code = check_record(c, ws, &rec);
        if (code)
            return code;
    }
    if (rc != DK_ENOTFOUND)
        return rc == DK_ENOSPC ? DK_COAP_REQUEST_ENTITY_TOO_LARGE : DK_COAP_BAD_REQUEST;
    if (ws->count == 0 && ws->mode != W_CREATE && ws->mode != W_BOOTSTRAP)
        return DK_COAP_BAD_REQUEST;
    if (ws->mode == W_CREATE) {
        if (ws->create_iid == NONE_ID)
            ws->create_iid = dk_cl_inst_free_id(ws->o);
        if (ws->create_iid == NONE_ID || dk_cl_inst_find(ws->o, ws->create_iid))
            return DK_COAP_BAD_REQUEST;
        struct dk_cl_inst *in;
        if ((rc = get_inst(c, ws, ws->create_iid, &in, now)) != 0)
            return rc == DK_ELIMIT ? DK_COAP_BAD_REQUEST : DK_COAP_INTERNAL_SERVER_ERROR;
    }
    for (size_t i = 0; i < ws->nmulti; i++) {
        struct dk_cl_inst *in = dk_cl_inst_find(ws->o, ws->multi[i][0]);
        if (in)
            dk_cl_res_clear(s, in, ws->multi[i][1]);
    }
    rc = start_reader(s, ws, &r, cf, req->payload, req->payload_len);
    while (rc == 0 && (rc = dk_lwm2m_reader_next(&r, &rec)) == 0) {
        uint8_t code = apply_record(c, ws, &rec, now);
        if (code)
            return code;
    }
    if (ws->o->def->id == DK_LWM2M_OID_ACCESS_CONTROL)
        s->acl_dirty = true;
    return 0;
}

static uint8_t do_write(struct dk_client *c, const struct dk_coap_req *req, struct wstate *ws,
                        dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    int cf = opt_int(req->msg, DK_COAP_OPT_CONTENT_FORMAT);
    bool needs = cf == DK_LWM2M_CF_SENML_JSON || cf == DK_LWM2M_CF_TEXT;
    if (needs && req->payload_len > 0 && req->payload_len <= s->cfg->max_payload) {
        ws->scratch = dk_cl_alloc(s, req->payload_len);
        if (!ws->scratch)
            return DK_COAP_INTERNAL_SERVER_ERROR;
        ws->scratch_cap = req->payload_len;
    }
    uint8_t code = write_payload(c, req, ws, now);
    dk_cl_free(s, ws->scratch); /* wiped: may hold keys */
    ws->scratch = NULL;
    return code;
}

/* ---- Discover ---------------------------------------------------------------------------------
 */

static bool res_present(struct dk_client *c, struct dk_cl_obj *o, struct dk_cl_inst *in,
                        const struct dk_lwm2m_resource_def *d, uint16_t *dim, dk_time_t now)
{
    *dim = 0;
    if (d->type == DK_LWM2M_TYPE_NONE) {
        if (o->in)
            return o->in->can_execute && o->in->can_execute(c, d->id);
        return o->ops && o->ops->execute;
    }
    if (d->multiple) {
        for (struct dk_cl_value *v = in->vals; v; v = v->next)
            if (v->rid == d->id && v->riid != NONE_ID)
                (*dim)++;
        return *dim > 0;
    }
    struct dk_lwm2m_value val;
    return dk_cl_read_value(c, o, in, d->id, NONE_ID, &val, now) == 0;
}

static void link_attrs(struct dk_client_impl *s, uint16_t ssid, const struct dk_lwm2m_path *p,
                       struct dk_lwm2m_attrs *a)
{
    memset(a, 0, sizeof *a);
    struct dk_cl_attr *x = dk_cl_attr_find(s, ssid, p);
    if (x) {
        *a = x->a;
        a->set &= DK_LWM2M_ATTR_NOTIFY;
    }
}

static int discover_res(struct dk_client *c, struct dk_lwm2m_link_writer *lw, struct dk_cl_obj *o,
                        struct dk_cl_inst *in, const struct dk_lwm2m_resource_def *d, uint16_t ssid,
                        bool must, dk_time_t now)
{
    uint16_t dim;
    if (!res_present(c, o, in, d, &dim, now))
        return must ? DK_ENOTFOUND : 0;
    struct dk_lwm2m_link l;
    memset(&l, 0, sizeof l);
    l.path = dk_lwm2m_path_res(o->def->id, in->iid, d->id);
    l.is_path = true;
    link_attrs(c->impl, ssid, &l.path, &l.attrs);
    if (d->multiple) {
        l.attrs.set |= DK_LWM2M_ATTR_DIM;
        l.attrs.dim = dim;
    }
    return dk_lwm2m_link_write(lw, &l);
}

static int discover_inst(struct dk_client *c, struct dk_lwm2m_link_writer *lw, struct dk_cl_obj *o,
                         struct dk_cl_inst *in, uint16_t ssid, dk_time_t now)
{
    struct dk_lwm2m_link l;
    memset(&l, 0, sizeof l);
    l.path = dk_lwm2m_path_inst(o->def->id, in->iid);
    l.is_path = true;
    link_attrs(c->impl, ssid, &l.path, &l.attrs);
    int rc = dk_lwm2m_link_write(lw, &l);
    for (size_t i = 0; !rc && i < o->def->n_res; i++)
        rc = discover_res(c, lw, o, in, &o->def->res[i], ssid, false, now);
    return rc;
}

static uint8_t do_discover(struct dk_client *c, const struct dk_lwm2m_path *p, uint16_t ssid,
                           struct dk_coap_resp *resp, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (p->len == 0 || p->len > 3)
        return DK_COAP_METHOD_NOT_ALLOWED;
    struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
    if (!o)
        return DK_COAP_NOT_FOUND;
    struct dk_buf b;
    dk_buf_init(&b, resp->buf, resp->cap);
    struct dk_lwm2m_link_writer lw;
    dk_lwm2m_link_writer_init(&lw, &b);
    int rc = 0;
    if (p->len == 1) {
        struct dk_lwm2m_link l;
        memset(&l, 0, sizeof l);
        l.path = *p;
        l.is_path = true;
        link_attrs(s, ssid, p, &l.attrs);
        if (o->def->ver_major != 1 || o->def->ver_minor != 0) {
            l.attrs.set |= DK_LWM2M_ATTR_VER;
            l.attrs.ver_major = o->def->ver_major;
            l.attrs.ver_minor = o->def->ver_minor;
        }
        rc = dk_lwm2m_link_write(&lw, &l);
        for (struct dk_cl_inst *in = o->insts; !rc && in; in = in->next)
            rc = discover_inst(c, &lw, o, in, ssid, now);
    } else {
        struct dk_cl_inst *in = dk_cl_inst_find(o, p->ids[1]);
        if (!in)
            return DK_COAP_NOT_FOUND;
        if (p->len == 2) {
            rc = discover_inst(c, &lw, o, in, ssid, now);
        } else {
            const struct dk_lwm2m_resource_def *d = dk_cl_res_def(o, p->ids[2]);
            if (!d)
                return DK_COAP_NOT_FOUND;
            rc = discover_res(c, &lw, o, in, d, ssid, true, now);
        }
    }
    if (rc)
        return err_code(rc);
    dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_CONTENT_FORMAT, DK_LWM2M_CF_LINK);
    dk_coap_msg_set_payload(&resp->msg, resp->buf, b.len);
    return DK_COAP_CONTENT;
}

/* ---- Device Management operations --------------------------------------------------------------
 */

static uint8_t access_code(int rc)
{
    return rc == DK_EPERM ? DK_COAP_UNAUTHORIZED : DK_COAP_INTERNAL_SERVER_ERROR;
}

static void changed(struct dk_client *c, const struct dk_lwm2m_path *p, dk_time_t now)
{
    dk_cl_event(c, DK_CLIENT_EV_CHANGED, 0, 0, 0, p);
    dk_cl_obs_touch(c, p, now);
}

static uint8_t persisted(struct dk_client *c, struct dk_cl_obj *o, uint8_t code)
{
    if (!(o->flags & DK_CLIENT_OBJ_PERSIST) || dk_cl_bs_active(c->impl))
        return code;
    return dk_cl_persist(c) ? DK_COAP_INTERNAL_SERVER_ERROR : code;
}

static uint8_t dm_read(struct dk_client *c, const struct dk_coap_req *req,
                       const struct dk_lwm2m_path *p, uint16_t ssid, struct dk_coap_resp *resp,
                       dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (p->len == 0)
        return DK_COAP_METHOD_NOT_ALLOWED;
    bool observe = req->observe_id != 0 && !req->notification;
    int rc = dk_cl_access(c, ssid, observe ? DK_LWM2M_OBSERVE : DK_LWM2M_READ, p);
    if (rc)
        return access_code(rc);
    if (!dk_cl_obj_find(s, p->ids[0]))
        return DK_COAP_NOT_FOUND;
    int accept = opt_int(req->msg, DK_COAP_OPT_ACCEPT);
    int cf = choose_cf(s, p, accept);
    if (cf < 0)
        return DK_COAP_NOT_ACCEPTABLE;
    struct dk_cl_out out;
    uint8_t code = answer_read(c, p, WHO_SERVER, ssid, cf, resp, &out, now);
    if (code != DK_COAP_CONTENT || !observe)
        return code;
    rc = dk_cl_obs_add(c, req->observe_id, ssid, p, cf, now);
    if (rc == 0) {
        resp->observe = true;
        dk_cl_obs_sent(c, dk_cl_obs_find(s, req->observe_id), out.hash, out.has_num, out.num, now);
    }
    return code;
}

static uint8_t dm_notify(struct dk_client *c, const struct dk_coap_req *req,
                         struct dk_coap_resp *resp, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    struct dk_cl_obs *o = dk_cl_obs_find(s, req->observe_id);
    if (!o)
        return DK_COAP_NOT_FOUND;
    int rc = dk_cl_access(c, o->ssid, DK_LWM2M_OBSERVE, &o->path);
    if (rc)
        return access_code(rc);
    struct dk_cl_out out;
    uint8_t code = answer_read(c, &o->path, WHO_SERVER, o->ssid, o->cf, resp, &out, now);
    if (code == DK_COAP_CONTENT)
        dk_cl_obs_sent(c, o, out.hash, out.has_num, out.num, now);
    return code;
}

static uint8_t dm_write(struct dk_client *c, const struct dk_coap_req *req,
                        const struct dk_lwm2m_path *p, uint16_t ssid, bool partial, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (p->len < 2)
        return DK_COAP_METHOD_NOT_ALLOWED;
    int rc = dk_cl_access(c, ssid, partial ? DK_LWM2M_WRITE_PARTIAL : DK_LWM2M_WRITE, p);
    if (rc)
        return access_code(rc);
    struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
    if (!o || !dk_cl_inst_find(o, p->ids[1]))
        return DK_COAP_NOT_FOUND;
    if (p->len >= 3) {
        const struct dk_lwm2m_resource_def *d = dk_cl_res_def(o, p->ids[2]);
        if (!d)
            return DK_COAP_NOT_FOUND;
        if (!(d->ops & DK_LWM2M_OP_W) || d->type == DK_LWM2M_TYPE_NONE)
            return DK_COAP_METHOD_NOT_ALLOWED;
        if (p->len == 4 && !d->multiple)
            return DK_COAP_NOT_FOUND;
    }
    struct wstate ws;
    memset(&ws, 0, sizeof ws);
    ws.mode = partial ? W_PARTIAL : W_REPLACE;
    ws.base = *p;
    ws.o = o;
    uint8_t code = do_write(c, req, &ws, now);
    if (code)
        return code;
    changed(c, p, now);
    return persisted(c, o, DK_COAP_CHANGED);
}

static uint8_t dm_write_attrs(struct dk_client *c, const struct dk_coap_req *req,
                              const struct dk_lwm2m_path *p, uint16_t ssid, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (p->len == 0 || p->len > 3)
        return DK_COAP_METHOD_NOT_ALLOWED;
    int rc = dk_cl_access(c, ssid, DK_LWM2M_WRITE_ATTRIBUTES, p);
    if (rc)
        return access_code(rc);
    struct dk_lwm2m_attrs a;
    memset(&a, 0, sizeof a);
    for (const struct dk_coap_opt *q = dk_coap_msg_find(req->msg, DK_COAP_OPT_URI_QUERY); q;
         q = dk_coap_msg_find_next(req->msg, q)) {
        if (dk_lwm2m_attrs_parse_query(&a, (const char *)dk_coap_opt_value(q), q->len))
            return DK_COAP_BAD_REQUEST;
    }
    struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
    if (!o)
        return DK_COAP_NOT_FOUND;
    if (p->len >= 2 && !dk_cl_inst_find(o, p->ids[1]))
        return DK_COAP_NOT_FOUND;
    uint32_t thr = DK_LWM2M_ATTR_GT | DK_LWM2M_ATTR_LT | DK_LWM2M_ATTR_ST;
    if (p->len == 3) {
        const struct dk_lwm2m_resource_def *d = dk_cl_res_def(o, p->ids[2]);
        if (!d)
            return DK_COAP_NOT_FOUND;
        bool num = d->type == DK_LWM2M_TYPE_INTEGER || d->type == DK_LWM2M_TYPE_UNSIGNED ||
                   d->type == DK_LWM2M_TYPE_FLOAT || d->type == DK_LWM2M_TYPE_TIME;
        if (((a.set | a.unset) & thr) && (!num || d->multiple))
            return DK_COAP_BAD_REQUEST;
    } else if ((a.set | a.unset) & thr) {
        return DK_COAP_BAD_REQUEST;
    }
    rc = dk_cl_attr_write(c, ssid, p, &a);
    if (rc)
        return rc == DK_EINVAL ? DK_COAP_BAD_REQUEST : DK_COAP_INTERNAL_SERVER_ERROR;
    dk_cl_obs_refresh(c);
    return dk_cl_persist(c) ? DK_COAP_INTERNAL_SERVER_ERROR : DK_COAP_CHANGED;
}

static uint8_t dm_execute(struct dk_client *c, const struct dk_coap_req *req,
                          const struct dk_lwm2m_path *p, uint16_t ssid, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    int rc = dk_cl_access(c, ssid, DK_LWM2M_EXECUTE, p);
    if (rc)
        return access_code(rc);
    struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
    if (!o || !dk_cl_inst_find(o, p->ids[1]))
        return DK_COAP_NOT_FOUND;
    const struct dk_lwm2m_resource_def *d = dk_cl_res_def(o, p->ids[2]);
    if (!d)
        return DK_COAP_NOT_FOUND;
    if (!(d->ops & DK_LWM2M_OP_E) || !o->ops || !o->ops->execute)
        return DK_COAP_METHOD_NOT_ALLOWED;
    if (o->in && (!o->in->can_execute || !o->in->can_execute(c, d->id)))
        return DK_COAP_METHOD_NOT_ALLOWED;
    s->in_cb++;
    rc = o->ops->execute(c, o->user, p, req->payload, req->payload_len, now);
    s->in_cb--;
    return rc ? hook_code(rc) : DK_COAP_CHANGED;
}

/* The Access Control instance for an instance server ssid just created. */
static void acl_for_created(struct dk_client *c, uint16_t oid, uint16_t iid, uint16_t ssid)
{
    struct dk_client_impl *s = c->impl;
    struct dk_cl_obj *ao = dk_cl_obj_find(s, DK_LWM2M_OID_ACCESS_CONTROL);
    if (!ao || oid == DK_LWM2M_OID_ACCESS_CONTROL || dk_cl_server_count(s) < 2)
        return;
    uint16_t aiid = dk_cl_inst_free_id(ao);
    struct dk_cl_inst *in;
    if (aiid == NONE_ID || dk_cl_inst_create(s, ao, aiid, &in))
        return;
    in->persist = true;
    struct dk_lwm2m_value v = dk_lwm2m_int(oid);
    dk_cl_val_set(s, in, 0, NONE_ID, &v, true);
    v = dk_lwm2m_int(iid);
    dk_cl_val_set(s, in, 1, NONE_ID, &v, true);
    v = dk_lwm2m_int(ssid);
    dk_cl_val_set(s, in, 3, NONE_ID, &v, true);
}

static uint8_t dm_create(struct dk_client *c, const struct dk_coap_req *req,
                         const struct dk_lwm2m_path *p, uint16_t ssid, struct dk_coap_resp *resp,
                         dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    int rc = dk_cl_access(c, ssid, DK_LWM2M_CREATE, p);
    if (rc)
        return access_code(rc);
    struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
    if (!o)
        return DK_COAP_NOT_FOUND;
    if (o->flags & DK_CLIENT_OBJ_FIXED)
        return DK_COAP_METHOD_NOT_ALLOWED;
    if (!o->def->multiple && o->insts)
        return DK_COAP_BAD_REQUEST;
    struct wstate ws;
    memset(&ws, 0, sizeof ws);
    ws.mode = W_CREATE;
    ws.base = *p;
    ws.o = o;
    ws.create_iid = NONE_ID;
    uint8_t code = do_write(c, req, &ws, now);
    if (code)
        return code;
    acl_for_created(c, o->def->id, ws.create_iid, ssid);
    int n = snprintf(s->text, sizeof s->text, "%u%c%u", o->def->id, 0, ws.create_iid);
    size_t l1 = strlen(s->text);
    dk_coap_msg_add_opt(&resp->msg, DK_COAP_OPT_LOCATION_PATH, s->text, l1);
    dk_coap_msg_add_opt(&resp->msg, DK_COAP_OPT_LOCATION_PATH, s->text + l1 + 1,
                        (size_t)n - l1 - 1);
    struct dk_lwm2m_path ip = dk_lwm2m_path_inst(o->def->id, ws.create_iid);
    changed(c, &ip, now);
    dk_cl_objects_changed(c);
    return persisted(c, o, DK_COAP_CREATED);
}

/* Deletes an instance with what hangs on it (ACL instance, attributes). */
static void delete_instance(struct dk_client *c, struct dk_cl_obj *o, uint16_t iid, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (o->ops && o->ops->deleted) {
        s->in_cb++;
        o->ops->deleted(c, o->user, iid, now);
        s->in_cb--;
    }
    dk_cl_inst_delete(s, o, iid);
    struct dk_cl_obj *ao = dk_cl_obj_find(s, DK_LWM2M_OID_ACCESS_CONTROL);
    if (ao && o != ao) {
        struct dk_cl_inst *in = ao->insts;
        while (in) {
            struct dk_cl_inst *next = in->next;
            int64_t a, b;
            if (dk_cl_get_int(s, 2, in->iid, 0, &a) && dk_cl_get_int(s, 2, in->iid, 1, &b) &&
                a == o->def->id && b == iid)
                dk_cl_inst_delete(s, ao, in->iid);
            in = next;
        }
    }
    struct dk_lwm2m_path ip = dk_lwm2m_path_inst(o->def->id, iid);
    for (struct dk_cl_attr *a = s->attrs; a;) {
        struct dk_cl_attr *next = a->next;
        if (dk_lwm2m_path_contains(&ip, &a->path)) {
            struct dk_lwm2m_attrs none;
            memset(&none, 0, sizeof none);
            none.unset = DK_LWM2M_ATTR_NOTIFY;
            dk_cl_attr_write(c, a->ssid, &a->path, &none);
        }
        a = next;
    }
}

static uint8_t dm_delete(struct dk_client *c, const struct dk_lwm2m_path *p, uint16_t ssid,
                         dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (p->len != 2)
        return DK_COAP_METHOD_NOT_ALLOWED;
    int rc = dk_cl_access(c, ssid, DK_LWM2M_DELETE, p);
    if (rc)
        return access_code(rc);
    struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
    if (!o || !dk_cl_inst_find(o, p->ids[1]))
        return DK_COAP_NOT_FOUND;
    if (o->flags & DK_CLIENT_OBJ_FIXED)
        return DK_COAP_METHOD_NOT_ALLOWED;
    delete_instance(c, o, p->ids[1], now);
    changed(c, p, now);
    dk_cl_objects_changed(c);
    return persisted(c, o, DK_COAP_DELETED);
}

static void dm_request(struct dk_client *c, const struct dk_coap_req *req,
                       const struct dk_lwm2m_path *p, uint16_t ssid, struct dk_coap_resp *resp)
{
    dk_time_t now = req->now;
    const struct dk_coap_msg *m = req->msg;
    uint8_t code = DK_COAP_METHOD_NOT_ALLOWED;
    if (req->notification) {
        resp->msg.code = dm_notify(c, req, resp, now);
        return;
    }
    /* Existence first (4.04), then access (4.01); the Security object is
     * never reachable, whether the instance exists or not. */
    if (p->len >= 1 && p->ids[0] != DK_LWM2M_OID_SECURITY) {
        struct dk_cl_obj *o = dk_cl_obj_find(c->impl, p->ids[0]);
        if (!o || (p->len >= 2 && !dk_cl_inst_find(o, p->ids[1]))) {
            resp->msg.code = DK_COAP_NOT_FOUND;
            return;
        }
    }
    switch (m->code) {
    case DK_COAP_GET:
        if (opt_int(m, DK_COAP_OPT_ACCEPT) == DK_LWM2M_CF_LINK) {
            int rc = p->len ? dk_cl_access(c, ssid, DK_LWM2M_DISCOVER, p) : 0;
            code = rc ? access_code(rc) : do_discover(c, p, ssid, resp, now);
        } else {
            code = dm_read(c, req, p, ssid, resp, now);
        }
        break;
    case DK_COAP_PUT:
        if (req->payload_len == 0 && dk_coap_msg_find(m, DK_COAP_OPT_URI_QUERY) &&
            !dk_coap_msg_find(m, DK_COAP_OPT_CONTENT_FORMAT))
            code = dm_write_attrs(c, req, p, ssid, now);
        else
            code = dm_write(c, req, p, ssid, false, now);
        break;
    case DK_COAP_POST:
        if (p->len == 1)
            code = dm_create(c, req, p, ssid, resp, now);
        else if (p->len == 2)
            code = dm_write(c, req, p, ssid, true, now);
        else if (p->len == 3 && dk_coap_msg_find(m, DK_COAP_OPT_CONTENT_FORMAT)) {
            struct dk_cl_obj *o = dk_cl_obj_find(c->impl, p->ids[0]);
            const struct dk_lwm2m_resource_def *d = o ? dk_cl_res_def(o, p->ids[2]) : NULL;
            code = d && d->type == DK_LWM2M_TYPE_NONE ? dm_execute(c, req, p, ssid, now)
                                                      : dm_write(c, req, p, ssid, true, now);
        } else if (p->len == 3)
            code = dm_execute(c, req, p, ssid, now);
        break;
    case DK_COAP_DELETE:
        code = dm_delete(c, p, ssid, now);
        break;
    default:
        break;
    }
    resp->msg.code = code;
}

/* ---- Bootstrap interface
 * -------------------------------------------------------------------------- */

static bool deletable(struct dk_client_impl *s, struct dk_cl_obj *o, struct dk_cl_inst *in)
{
    if (o->flags & DK_CLIENT_OBJ_FIXED)
        return false;
    return !(o->def->id == DK_LWM2M_OID_SECURITY && dk_cl_is_bs_account(s, in));
}

static uint8_t bs_delete(struct dk_client *c, const struct dk_lwm2m_path *p, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (p->len > 2)
        return DK_COAP_BAD_REQUEST;
    if (p->len == 2) {
        struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
        struct dk_cl_inst *in = dk_cl_inst_find(o, p->ids[1]);
        if (!in)
            return DK_COAP_NOT_FOUND;
        if (!deletable(s, o, in))
            return DK_COAP_BAD_REQUEST;
        delete_instance(c, o, in->iid, now);
    } else {
        if (p->len == 1 && !dk_cl_obj_find(s, p->ids[0]))
            return DK_COAP_NOT_FOUND;
        for (struct dk_cl_obj *o = s->objs; o; o = o->next) {
            if (p->len == 1 && o->def->id != p->ids[0])
                continue;
            struct dk_cl_inst *in = o->insts;
            while (in) {
                struct dk_cl_inst *next = in->next;
                if (deletable(s, o, in))
                    delete_instance(c, o, in->iid, now);
                in = next;
            }
        }
    }
    dk_cl_event(c, DK_CLIENT_EV_CHANGED, 0, 0, 0, p);
    return DK_COAP_DELETED;
}

static uint8_t bs_write(struct dk_client *c, const struct dk_coap_req *req,
                        const struct dk_lwm2m_path *p, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (p->len == 0 || p->len > 3)
        return DK_COAP_BAD_REQUEST;
    struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
    if (!o)
        return DK_COAP_NOT_FOUND;
    struct wstate ws;
    memset(&ws, 0, sizeof ws);
    ws.mode = W_BOOTSTRAP;
    ws.base = *p;
    ws.o = o;
    uint8_t code = do_write(c, req, &ws, now);
    if (code)
        return code;
    dk_cl_event(c, DK_CLIENT_EV_CHANGED, 0, 0, 0, p);
    return DK_COAP_CHANGED;
}

static uint8_t bs_read(struct dk_client *c, const struct dk_coap_req *req,
                       const struct dk_lwm2m_path *p, struct dk_coap_resp *resp, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (p->len == 0)
        return DK_COAP_METHOD_NOT_ALLOWED;
    if (p->ids[0] != DK_LWM2M_OID_SERVER && p->ids[0] != DK_LWM2M_OID_ACCESS_CONTROL)
        return DK_COAP_UNAUTHORIZED;
    int cf = choose_cf(s, p, opt_int(req->msg, DK_COAP_OPT_ACCEPT));
    if (cf < 0)
        return DK_COAP_NOT_ACCEPTABLE;
    struct dk_cl_out out;
    return answer_read(c, p, WHO_BOOTSTRAP, 0, cf, resp, &out, now);
}

static void bs_discover_uri(struct dk_buf *b, const uint8_t *u, size_t n)
{
    if (memchr(u, '"', n) || memchr(u, '\\', n))
        return;
    dk_buf_put_str(b, ";uri=\"");
    dk_buf_put(b, u, n);
    dk_buf_put_str(b, "\"");
}

static uint8_t bs_discover(struct dk_client *c, const struct dk_lwm2m_path *p,
                           struct dk_coap_resp *resp)
{
    struct dk_client_impl *s = c->impl;
    if (p->len > 1)
        return DK_COAP_BAD_REQUEST;
    if (p->len == 1 && !dk_cl_obj_find(s, p->ids[0]))
        return DK_COAP_NOT_FOUND;
    struct dk_buf b;
    dk_buf_init(&b, resp->buf, resp->cap);
    bool first = true;
    if (p->len == 0) {
        dk_buf_printf(&b, "lwm2m=\"%s\"", s->version);
        first = false;
    }
    for (struct dk_cl_obj *o = s->objs; o; o = o->next) {
        uint16_t oid = o->def->id;
        if (p->len == 1 && oid != p->ids[0])
            continue;
        bool ver = o->def->ver_major != 1 || o->def->ver_minor != 0;
        if (ver || !o->insts) {
            dk_buf_printf(&b, "%s</%u>", first ? "" : ",", oid);
            if (ver)
                dk_buf_printf(&b, ";ver=%u.%u", o->def->ver_major, o->def->ver_minor);
            first = false;
        }
        for (struct dk_cl_inst *in = o->insts; in; in = in->next) {
            dk_buf_printf(&b, "%s</%u/%u>", first ? "" : ",", oid, in->iid);
            first = false;
            int64_t ssid;
            if (oid == DK_LWM2M_OID_SECURITY && !dk_cl_is_bs_account(s, in)) {
                if (dk_cl_get_int(s, 0, in->iid, 10, &ssid))
                    dk_buf_printf(&b, ";ssid=%lld", (long long)ssid);
                const uint8_t *u;
                size_t n;
                if (dk_cl_get_bytes(s, 0, in->iid, 0, &u, &n))
                    bs_discover_uri(&b, u, n);
            } else if (oid == DK_LWM2M_OID_SERVER && dk_cl_get_int(s, 1, in->iid, 0, &ssid)) {
                dk_buf_printf(&b, ";ssid=%lld", (long long)ssid);
            }
        }
    }
    if (b.err)
        return DK_COAP_INTERNAL_SERVER_ERROR;
    dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_CONTENT_FORMAT, DK_LWM2M_CF_LINK);
    dk_coap_msg_set_payload(&resp->msg, resp->buf, b.len);
    return DK_COAP_CONTENT;
}

static void bs_request(struct dk_client *c, const struct dk_coap_req *req,
                       const struct dk_lwm2m_path *p, bool is_bs_path, struct dk_coap_resp *resp)
{
    dk_time_t now = req->now;
    const struct dk_coap_msg *m = req->msg;
    uint8_t code = DK_COAP_METHOD_NOT_ALLOWED;
    if (!dk_cl_bs_active(c->impl)) {
        resp->msg.code = DK_COAP_UNAUTHORIZED;
        return;
    }
    dk_cl_bs_touch(c, now);
    if (is_bs_path) {
        resp->msg.code =
            m->code == DK_COAP_POST ? dk_cl_bs_finish(c, now) : DK_COAP_METHOD_NOT_ALLOWED;
        return;
    }
    switch (m->code) {
    case DK_COAP_DELETE:
        code = bs_delete(c, p, now);
        break;
    case DK_COAP_PUT:
        code = bs_write(c, req, p, now);
        break;
    case DK_COAP_GET:
        if (opt_int(m, DK_COAP_OPT_ACCEPT) == DK_LWM2M_CF_LINK)
            code = bs_discover(c, p, resp);
        else
            code = bs_read(c, req, p, resp, now);
        break;
    default:
        break;
    }
    resp->msg.code = code;
}

/* ---- The CoAP handler
 * ------------------------------------------------------------------------------ */

void dk_cl_handler(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                   struct dk_coap_resp *resp)
{
    struct dk_client *c = user;
    struct dk_client_impl *s = c->impl;
    struct dk_cl_server *srv = NULL;
    bool is_bs = false;
    uint16_t ssid = 0;
    if (!dk_cl_peer_lookup(s, req->peer, &srv, &is_bs)) {
        if (!s->cfg->serve_any_peer) {
            resp->msg.code = DK_COAP_UNAUTHORIZED;
            return;
        }
        struct dk_cl_obj *so = dk_cl_obj_find(s, DK_LWM2M_OID_SERVER);
        int64_t v;
        if (so && so->insts && dk_cl_get_int(s, 1, so->insts->iid, 0, &v))
            ssid = (uint16_t)v;
    } else if (srv) {
        ssid = srv->ssid;
    }
    /* Uri-Path: "bs" or an LwM2M path. */
    struct dk_lwm2m_path p = dk_lwm2m_path_root();
    bool bs_path = false;
    size_t nseg = 0;
    for (const struct dk_coap_opt *o = dk_coap_msg_find(req->msg, DK_COAP_OPT_URI_PATH); o;
         o = dk_coap_msg_find_next(req->msg, o), nseg++) {
        if (nseg == 0 && o->len == 2 && memcmp(dk_coap_opt_value(o), "bs", 2) == 0) {
            bs_path = true;
            continue;
        }
        if (bs_path || dk_lwm2m_path_push_segment(&p, dk_coap_opt_value(o), o->len)) {
            resp->msg.code = DK_COAP_NOT_FOUND;
            return;
        }
    }
    if (is_bs) {
        bs_request(c, req, &p, bs_path, resp);
        return;
    }
    if (bs_path) {
        resp->msg.code = DK_COAP_NOT_FOUND;
        return;
    }
    dm_request(c, req, &p, ssid, resp);
}

void dk_cl_coap_event(struct dk_coap_ep *ep, void *user, const struct dk_coap_event *ev)
{
    struct dk_client *c = user;
    if (ev->type == DK_COAP_EV_OBSERVE_END)
        dk_cl_obs_remove(c->impl, ev->observe_id);
}
