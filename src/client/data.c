/* The object store: objects, instances and stored values in caller-given
 * memory; the decoder's typer; persistence to and from store records. */
#include "client_int.h"

#include <stdalign.h>
#include <stdio.h>

/* ---- Allocation with accounting ---------------------------------------------------------- */

union dk_cl_hdr {
    size_t n;
    max_align_t align;
};

void *dk_cl_alloc(struct dk_client_impl *s, size_t n)
{
    if (n > SIZE_MAX - sizeof(union dk_cl_hdr))
        return NULL;
    union dk_cl_hdr *h = s->alloc->alloc(s->alloc->user, sizeof *h + n);
    if (!h)
        return NULL;
    h->n = n;
    s->heap += n;
    return h + 1;
}

void dk_cl_free(struct dk_client_impl *s, void *p)
{
    if (!p)
        return;
    union dk_cl_hdr *h = (union dk_cl_hdr *)p - 1;
    s->heap -= h->n;
    dk_memzero(p, h->n); /* values may be keys */
    s->alloc->free(s->alloc->user, h);
}

/* ---- Objects and instances ----------------------------------------------------------------- */

struct dk_cl_obj *dk_cl_obj_find(struct dk_client_impl *s, uint16_t oid)
{
    for (struct dk_cl_obj *o = s->objs; o; o = o->next)
        if (o->def->id == oid)
            return o;
    return NULL;
}

struct dk_cl_inst *dk_cl_inst_find(const struct dk_cl_obj *o, uint16_t iid)
{
    for (struct dk_cl_inst *i = o ? o->insts : NULL; i; i = i->next)
        if (i->iid == iid)
            return i;
    return NULL;
}

struct dk_cl_inst *dk_cl_inst_get(struct dk_client_impl *s, uint16_t oid, uint16_t iid)
{
    return dk_cl_inst_find(dk_cl_obj_find(s, oid), iid);
}

int dk_cl_inst_create(struct dk_client_impl *s, struct dk_cl_obj *o, uint16_t iid,
                      struct dk_cl_inst **out)
{
    if (iid > DK_LWM2M_ID_MAX)
        return DK_EINVAL;
    if (dk_cl_inst_find(o, iid))
        return DK_EEXIST;
    if (s->ninst >= s->cfg->max_instances)
        return DK_ELIMIT;
    if (o->builtin && o->def->id == DK_LWM2M_OID_WLAN) {
        size_t k = 0;
        for (struct dk_cl_inst *i = o->insts; i; i = i->next)
            k++;
        if (k >= s->cfg->wlan_instances)
            return DK_ELIMIT;
    }
    struct dk_cl_inst *n = dk_cl_alloc(s, sizeof *n);
    if (!n)
        return DK_ENOMEM;
    memset(n, 0, sizeof *n);
    n->iid = iid;
    struct dk_cl_inst **pp = &o->insts;
    while (*pp && (*pp)->iid < iid)
        pp = &(*pp)->next;
    n->next = *pp;
    *pp = n;
    s->ninst++;
    if (o->def->id == DK_LWM2M_OID_ACCESS_CONTROL)
        s->acl_dirty = true;
    if (out)
        *out = n;
    return 0;
}

static void inst_free(struct dk_client_impl *s, struct dk_cl_inst *in)
{
    struct dk_cl_value *v = in->vals;
    while (v) {
        struct dk_cl_value *next = v->next;
        dk_cl_free(s, v);
        v = next;
    }
    dk_cl_free(s, in);
    s->ninst--;
}

void dk_cl_inst_delete(struct dk_client_impl *s, struct dk_cl_obj *o, uint16_t iid)
{
    for (struct dk_cl_inst **pp = &o->insts; *pp; pp = &(*pp)->next) {
        if ((*pp)->iid == iid) {
            struct dk_cl_inst *in = *pp;
            *pp = in->next;
            inst_free(s, in);
            if (o->def->id == DK_LWM2M_OID_ACCESS_CONTROL)
                s->acl_dirty = true;
            return;
        }
    }
}

void dk_cl_obj_clear(struct dk_client_impl *s, struct dk_cl_obj *o)
{
    while (o->insts) {
        struct dk_cl_inst *in = o->insts;
        o->insts = in->next;
        inst_free(s, in);
    }
    if (o->def->id == DK_LWM2M_OID_ACCESS_CONTROL)
        s->acl_dirty = true;
}

uint16_t dk_cl_inst_free_id(const struct dk_cl_obj *o)
{
    uint16_t id = 0;
    for (const struct dk_cl_inst *i = o->insts; i; i = i->next) {
        if (i->iid != id)
            break;
        id++;
    }
    return id > DK_LWM2M_ID_MAX ? NONE_ID : id;
}

const struct dk_lwm2m_resource_def *dk_cl_res_def(const struct dk_cl_obj *o, uint16_t rid)
{
    const struct dk_lwm2m_object_def *d = o->def;
    for (size_t i = 0; i < d->n_res; i++)
        if (d->res[i].id == rid)
            return &d->res[i];
    return NULL;
}

/* ---- Values ------------------------------------------------------------------------------ */

/* Order key: single values (riid NONE) are alone for their rid anyway. */
static int val_cmp(uint16_t rid, uint16_t riid, const struct dk_cl_value *v)
{
    if (rid != v->rid)
        return rid < v->rid ? -1 : 1;
    if (riid != v->riid)
        return riid < v->riid ? -1 : 1;
    return 0;
}

struct dk_cl_value *dk_cl_val_find(const struct dk_cl_inst *in, uint16_t rid, uint16_t riid)
{
    for (struct dk_cl_value *v = in ? in->vals : NULL; v; v = v->next) {
        int c = val_cmp(rid, riid, v);
        if (c == 0)
            return v;
        if (c < 0)
            break;
    }
    return NULL;
}

bool dk_cl_res_has_values(const struct dk_cl_inst *in, uint16_t rid)
{
    for (struct dk_cl_value *v = in ? in->vals : NULL; v; v = v->next) {
        if (v->rid == rid)
            return true;
        if (v->rid > rid)
            break;
    }
    return false;
}

static bool has_bytes(enum dk_lwm2m_type t)
{
    return t == DK_LWM2M_TYPE_STRING || t == DK_LWM2M_TYPE_OPAQUE || t == DK_LWM2M_TYPE_CORELNK;
}

struct dk_lwm2m_value dk_cl_val_get(const struct dk_cl_value *v)
{
    struct dk_lwm2m_value out;
    memset(&out, 0, sizeof out);
    out.type = (enum dk_lwm2m_type)v->type;
    switch (out.type) {
    case DK_LWM2M_TYPE_STRING:
    case DK_LWM2M_TYPE_OPAQUE:
    case DK_LWM2M_TYPE_CORELNK:
        out.v.bytes.p = v->data;
        out.v.bytes.n = v->u.n;
        break;
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME:
        out.v.i = v->u.i;
        break;
    case DK_LWM2M_TYPE_UNSIGNED:
        out.v.u = v->u.u;
        break;
    case DK_LWM2M_TYPE_FLOAT:
        out.v.f = v->u.f;
        break;
    case DK_LWM2M_TYPE_BOOLEAN:
        out.v.b = v->u.b;
        break;
    case DK_LWM2M_TYPE_OBJLNK:
        out.v.lnk = v->u.lnk;
        break;
    default:
        break;
    }
    return out;
}

size_t dk_cl_val_len(const struct dk_cl_value *v)
{
    return has_bytes((enum dk_lwm2m_type)v->type) ? v->u.n : 0;
}

static void val_fill(struct dk_cl_value *nv, const struct dk_lwm2m_value *v)
{
    nv->type = (uint8_t)v->type;
    memset(&nv->u, 0, sizeof nv->u);
    switch (v->type) {
    case DK_LWM2M_TYPE_STRING:
    case DK_LWM2M_TYPE_OPAQUE:
    case DK_LWM2M_TYPE_CORELNK:
        if (v->v.bytes.n)
            memmove(nv->data, v->v.bytes.p, v->v.bytes.n); /* may alias the node */
        nv->u.n = v->v.bytes.n;
        break;
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME:
        nv->u.i = v->v.i;
        break;
    case DK_LWM2M_TYPE_UNSIGNED:
        nv->u.u = v->v.u;
        break;
    case DK_LWM2M_TYPE_FLOAT:
        nv->u.f = v->v.f;
        break;
    case DK_LWM2M_TYPE_BOOLEAN:
        nv->u.b = v->v.b;
        break;
    case DK_LWM2M_TYPE_OBJLNK:
        nv->u.lnk = v->v.lnk;
        break;
    default:
        break;
    }
}

int dk_cl_val_set(struct dk_client_impl *s, struct dk_cl_inst *in, uint16_t rid, uint16_t riid,
                  const struct dk_lwm2m_value *v, bool persist)
{
    size_t n = has_bytes(v->type) ? v->v.bytes.n : 0;
    if (n > s->cfg->max_value_len)
        return DK_ELIMIT;
    struct dk_cl_value **pp = &in->vals;
    while (*pp && val_cmp(rid, riid, *pp) > 0)
        pp = &(*pp)->next;
    struct dk_cl_value *old = *pp && val_cmp(rid, riid, *pp) == 0 ? *pp : NULL;
    if (old && dk_cl_val_len(old) == n) {
        val_fill(old, v);
        old->persist = persist;
        return 0;
    }
    struct dk_cl_value *nv = dk_cl_alloc(s, sizeof *nv + n);
    if (!nv)
        return DK_ENOMEM;
    memset(nv, 0, sizeof *nv);
    nv->rid = rid;
    nv->riid = riid;
    nv->persist = persist;
    val_fill(nv, v);
    if (old) {
        nv->next = old->next;
        *pp = nv;
        dk_cl_free(s, old);
    } else {
        nv->next = *pp;
        *pp = nv;
    }
    return 0;
}

void dk_cl_val_del(struct dk_client_impl *s, struct dk_cl_inst *in, uint16_t rid, uint16_t riid)
{
    for (struct dk_cl_value **pp = &in->vals; *pp; pp = &(*pp)->next) {
        if (val_cmp(rid, riid, *pp) == 0) {
            struct dk_cl_value *v = *pp;
            *pp = v->next;
            dk_cl_free(s, v);
            return;
        }
    }
}

void dk_cl_res_clear(struct dk_client_impl *s, struct dk_cl_inst *in, uint16_t rid)
{
    struct dk_cl_value **pp = &in->vals;
    while (*pp) {
        if ((*pp)->rid == rid) {
            struct dk_cl_value *v = *pp;
            *pp = v->next;
            dk_cl_free(s, v);
        } else {
            pp = &(*pp)->next;
        }
    }
}

static bool single(struct dk_client_impl *s, uint16_t oid, uint16_t iid, uint16_t rid,
                   struct dk_lwm2m_value *out)
{
    struct dk_cl_value *v = dk_cl_val_find(dk_cl_inst_get(s, oid, iid), rid, NONE_ID);
    if (v)
        *out = dk_cl_val_get(v);
    return v != NULL;
}

bool dk_cl_get_int(struct dk_client_impl *s, uint16_t oid, uint16_t iid, uint16_t rid, int64_t *out)
{
    struct dk_lwm2m_value val;
    if (!single(s, oid, iid, rid, &val))
        return false;
    const struct dk_lwm2m_value *v = &val;
    switch (v->type) {
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME:
        *out = v->v.i;
        return true;
    case DK_LWM2M_TYPE_UNSIGNED:
        if (v->v.u > INT64_MAX)
            return false;
        *out = (int64_t)v->v.u;
        return true;
    default:
        return false;
    }
}

bool dk_cl_get_bool(struct dk_client_impl *s, uint16_t oid, uint16_t iid, uint16_t rid, bool *out)
{
    struct dk_lwm2m_value v;
    if (!single(s, oid, iid, rid, &v) || v.type != DK_LWM2M_TYPE_BOOLEAN)
        return false;
    *out = v.v.b;
    return true;
}

bool dk_cl_get_bytes(struct dk_client_impl *s, uint16_t oid, uint16_t iid, uint16_t rid,
                     const uint8_t **p, size_t *n)
{
    struct dk_lwm2m_value v;
    if (!single(s, oid, iid, rid, &v) || !has_bytes(v.type))
        return false;
    *p = v.v.bytes.p;
    *n = v.v.bytes.n;
    return true;
}

int dk_cl_type_of(void *user, const struct dk_lwm2m_path *path, enum dk_lwm2m_type *type)
{
    struct dk_client_impl *s = user;
    if (path->len < 3)
        return DK_ENOTFOUND;
    struct dk_cl_obj *o = dk_cl_obj_find(s, path->ids[0]);
    const struct dk_lwm2m_resource_def *d = o ? dk_cl_res_def(o, path->ids[2]) : NULL;
    if (!d || d->type == DK_LWM2M_TYPE_NONE)
        return DK_ENOTFOUND;
    *type = d->type;
    return 0;
}

/* ---- Persistence ---------------------------------------------------------------------------- */

#define ATTR_KEY ".attr"

static bool inst_persists(struct dk_client_impl *s, const struct dk_cl_obj *o,
                          const struct dk_cl_inst *in)
{
    if (!(o->flags & DK_CLIENT_OBJ_PERSIST))
        return false;
    if (o->def->id == DK_LWM2M_OID_SECURITY && dk_cl_is_bs_account(s, in))
        return false; /* from the factory store, every start */
    if (in->persist)
        return true;
    for (const struct dk_cl_value *v = in->vals; v; v = v->next)
        if (v->persist)
            return true;
    return false;
}

/* The TLV of the persistent values of an instance. */
static int inst_encode(const struct dk_cl_obj *o, const struct dk_cl_inst *in, struct dk_buf *b)
{
    struct dk_lwm2m_writer w;
    struct dk_lwm2m_path base = dk_lwm2m_path_inst(o->def->id, in->iid);
    int rc = dk_lwm2m_writer_start(&w, DK_LWM2M_CF_TLV, b, &base);
    for (const struct dk_cl_value *v = in->vals; !rc && v; v = v->next) {
        if (!v->persist)
            continue;
        struct dk_lwm2m_path p = v->riid == NONE_ID
                                     ? dk_lwm2m_path_res(o->def->id, in->iid, v->rid)
                                     : dk_lwm2m_path_rinst(o->def->id, in->iid, v->rid, v->riid);
        struct dk_lwm2m_value val = dk_cl_val_get(v);
        rc = dk_lwm2m_writer_add_value(&w, &p, &val);
    }
    if (!rc)
        rc = dk_lwm2m_writer_finish(&w, NULL);
    return rc;
}

/* An upper bound of inst_encode()'s output: per value a TLV header (6),
 * room for a multiple resource header (6) and the value (numbers <= 8). */
static size_t inst_bound(const struct dk_cl_inst *in)
{
    size_t n = 0;
    for (const struct dk_cl_value *v = in->vals; v; v = v->next)
        if (v->persist)
            n += 12 + (dk_cl_val_len(v) > 8 ? dk_cl_val_len(v) : 8);
    return n;
}

#define ATTR_REC_MAX 53 /* dk_cl_attr_encode() bytes per entry */
#define INST_KEY_MAX 13 /* "/65534/65534" and its NUL */

int dk_cl_persist(struct dk_client *c)
{
    struct dk_client_impl *s = c->impl;
    const struct dk_client_callbacks *cb = &s->cfg->cbs;
    if (!cb->persist)
        return 0;
    size_t n = 0, bytes = 0;
    for (struct dk_cl_obj *o = s->objs; o; o = o->next) {
        for (struct dk_cl_inst *in = o->insts; in; in = in->next) {
            if (inst_persists(s, o, in)) {
                n++;
                bytes += INST_KEY_MAX + inst_bound(in);
            }
        }
    }
    if (s->nattrs) {
        n++;
        bytes += sizeof ATTR_KEY + ATTR_REC_MAX * s->nattrs;
    }
    size_t total = n * sizeof(struct dk_store_record) + bytes + 1;
    struct dk_store_record *recs = dk_cl_alloc(s, total);
    if (!recs)
        return DK_ENOMEM;
    uint8_t *mem = (uint8_t *)(recs + n);
    size_t left = bytes + 1, i = 0;
    struct dk_buf b;
    int rc = 0;
    for (struct dk_cl_obj *o = s->objs; !rc && o; o = o->next) {
        for (struct dk_cl_inst *in = o->insts; !rc && in; in = in->next) {
            if (!inst_persists(s, o, in))
                continue;
            int k = snprintf((char *)mem, left, "/%u/%u", o->def->id, in->iid);
            recs[i].key = (const char *)mem;
            mem += k + 1;
            left -= (size_t)k + 1;
            dk_buf_init(&b, mem, left);
            rc = inst_encode(o, in, &b);
            recs[i].value = mem;
            recs[i].len = b.len;
            mem += b.len;
            left -= b.len;
            i++;
        }
    }
    if (!rc && s->nattrs) {
        memcpy(mem, ATTR_KEY, sizeof ATTR_KEY);
        recs[i].key = (const char *)mem;
        mem += sizeof ATTR_KEY;
        left -= sizeof ATTR_KEY;
        dk_buf_init(&b, mem, left);
        rc = dk_cl_attr_encode(s, &b);
        recs[i].value = mem;
        recs[i].len = b.len;
        i++;
    }
    if (!rc) {
        s->in_cb++;
        rc = cb->persist(cb->user, recs, i);
        s->in_cb--;
    }
    dk_cl_free(s, recs); /* wiped: holds keys */
    if (rc)
        dk_warn(s->cfg->log, MOD, "persist failed: %s", dk_strerror(rc));
    return rc;
}

/* Restores one "/O/I" record. check: only validate. */
static int load_inst(struct dk_client *c, const struct dk_store_record *r, bool check)
{
    struct dk_client_impl *s = c->impl;
    struct dk_lwm2m_path p;
    if (dk_lwm2m_path_parse(r->key, strlen(r->key), &p) || p.len != 2)
        return DK_EPARSE;
    struct dk_cl_obj *o = dk_cl_obj_find(s, p.ids[0]);
    if (!o) {
        if (check)
            dk_warn(s->cfg->log, MOD, "stored %s: no such object, skipped", r->key);
        return 0;
    }
    struct dk_cl_inst *in = NULL;
    if (!check) {
        in = dk_cl_inst_find(o, p.ids[1]);
        if (in && o->def->id == DK_LWM2M_OID_SECURITY) {
            /* The stored account replaces the factory one with this id. */
            dk_cl_inst_delete(s, o, p.ids[1]);
            in = NULL;
        }
        if (!in) {
            int rc = dk_cl_inst_create(s, o, p.ids[1], &in);
            if (rc)
                return rc;
            if (o->ops && o->ops->created) {
                s->in_cb++;
                o->ops->created(c, o->user, in->iid, 0);
                s->in_cb--;
            }
        }
        in->persist = true;
    }
    struct dk_lwm2m_decode_opts opts = {dk_cl_type_of, s, false, NULL, 0}; /* TLV: no scratch */
    struct dk_lwm2m_reader rd;
    struct dk_lwm2m_record rec;
    int rc = dk_lwm2m_reader_start(&rd, DK_LWM2M_CF_TLV, r->value, r->len, &p, &opts);
    while (rc == 0 && (rc = dk_lwm2m_reader_next(&rd, &rec)) == 0) {
        if (rec.path.len < 3 || rec.value.type == DK_LWM2M_TYPE_NONE)
            continue;
        const struct dk_lwm2m_resource_def *d = dk_cl_res_def(o, rec.path.ids[2]);
        if (!d)
            continue; /* a resource this build does not define */
        if (d->multiple != (rec.path.len == 4))
            return DK_EPARSE;
        if (rec.value.type != d->type && d->type != DK_LWM2M_TYPE_NONE)
            return DK_EPARSE;
        if (!check) {
            uint16_t riid = rec.path.len == 4 ? rec.path.ids[3] : NONE_ID;
            int e = dk_cl_val_set(s, in, rec.path.ids[2], riid, &rec.value, true);
            if (e)
                return e;
        }
    }
    return rc == DK_ENOTFOUND ? 0 : (rc == DK_ENOMEM ? rc : DK_EPARSE);
}

int dk_cl_load(struct dk_client *c, const struct dk_store_record *recs, size_t n)
{
    struct dk_client_impl *s = c->impl;
    /* Validate everything first, so nothing is half-restored. */
    for (size_t i = 0; i < n; i++) {
        const struct dk_store_record *r = &recs[i];
        if (!r->key)
            return DK_EPARSE;
        if (r->key[0] == '/') {
            int rc = load_inst(c, r, true);
            if (rc)
                return rc;
        } else if (strcmp(r->key, ATTR_KEY) != 0) {
            dk_warn(s->cfg->log, MOD, "stored record %s unknown, skipped", r->key);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct dk_store_record *r = &recs[i];
        int rc = 0;
        if (r->key[0] == '/')
            rc = load_inst(c, r, false);
        else if (strcmp(r->key, ATTR_KEY) == 0)
            rc = dk_cl_attr_decode(c, r->value, r->len);
        if (rc)
            return rc;
    }
    s->acl_dirty = true;
    return 0;
}
