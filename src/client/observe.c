/* Information Reporting: Write-Attributes storage and the notification rules
 * (LwM2M 1.1 §5.1.2: pmin, pmax, gt, lt, st) on top of the CoAP engine's
 * observers. */
#include "client_int.h"

#include <math.h>

/* ---- Attributes ------------------------------------------------------------------------- */

struct dk_cl_attr *dk_cl_attr_find(struct dk_client_impl *s, uint16_t ssid,
                                   const struct dk_lwm2m_path *p)
{
    for (struct dk_cl_attr *a = s->attrs; a; a = a->next)
        if (a->ssid == ssid && dk_lwm2m_path_equal(&a->path, p))
            return a;
    return NULL;
}

static void attr_unlink(struct dk_client_impl *s, struct dk_cl_attr *x)
{
    for (struct dk_cl_attr **pp = &s->attrs; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            dk_cl_free(s, x);
            s->nattrs--;
            return;
        }
    }
}

int dk_cl_attr_write(struct dk_client *c, uint16_t ssid, const struct dk_lwm2m_path *p,
                     const struct dk_lwm2m_attrs *req)
{
    struct dk_client_impl *s = c->impl;
    struct dk_cl_attr *a = dk_cl_attr_find(s, ssid, p);
    struct dk_lwm2m_attrs merged;
    memset(&merged, 0, sizeof merged);
    if (a)
        merged = a->a;
    dk_lwm2m_attrs_apply(&merged, req);
    merged.set &= DK_LWM2M_ATTR_NOTIFY;
    merged.unset = 0;
    if (dk_lwm2m_attrs_check(&merged))
        return DK_EINVAL;
    if (!merged.set) {
        if (a)
            attr_unlink(s, a);
        return 0;
    }
    if (!a) {
        if (s->nattrs >= s->cfg->max_attrs)
            return DK_ELIMIT;
        a = dk_cl_alloc(s, sizeof *a);
        if (!a)
            return DK_ENOMEM;
        memset(a, 0, sizeof *a);
        a->ssid = ssid;
        a->path = *p;
        a->next = s->attrs;
        s->attrs = a;
        s->nattrs++;
    }
    a->a = merged;
    a->a.rt = NULL;
    a->a.rt_len = 0;
    return 0;
}

void dk_cl_attr_clear(struct dk_client_impl *s)
{
    while (s->attrs)
        attr_unlink(s, s->attrs);
}

static void put_double(struct dk_buf *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    dk_buf_put_be32(b, (uint32_t)(u >> 32));
    dk_buf_put_be32(b, (uint32_t)u);
}

/* Record format, per entry: ssid u16, path length u8, ids u16 each, set u32,
 * pmin, pmax, epmin, epmax u32, gt, lt, st as IEEE 754 bits (u64). */
int dk_cl_attr_encode(struct dk_client_impl *s, struct dk_buf *b)
{
    for (struct dk_cl_attr *a = s->attrs; a; a = a->next) {
        dk_buf_put_be16(b, a->ssid);
        dk_buf_put_u8(b, a->path.len);
        for (unsigned i = 0; i < a->path.len; i++)
            dk_buf_put_be16(b, a->path.ids[i]);
        dk_buf_put_be32(b, a->a.set);
        dk_buf_put_be32(b, a->a.pmin);
        dk_buf_put_be32(b, a->a.pmax);
        dk_buf_put_be32(b, a->a.epmin);
        dk_buf_put_be32(b, a->a.epmax);
        put_double(b, a->a.gt);
        put_double(b, a->a.lt);
        put_double(b, a->a.st);
    }
    return b->err;
}

static double get_double(struct dk_rd *r)
{
    uint32_t hi = 0, lo = 0;
    dk_rd_be32(r, &hi);
    dk_rd_be32(r, &lo);
    uint64_t u = (uint64_t)hi << 32 | lo;
    double d;
    memcpy(&d, &u, 8);
    return d;
}

int dk_cl_attr_decode(struct dk_client *c, const uint8_t *p, size_t n)
{
    struct dk_rd r;
    dk_rd_init(&r, p, n);
    while (dk_rd_left(&r) > 0) {
        uint16_t ssid = 0;
        uint8_t len = 0;
        struct dk_lwm2m_path path = dk_lwm2m_path_root();
        struct dk_lwm2m_attrs a;
        memset(&a, 0, sizeof a);
        dk_rd_be16(&r, &ssid);
        dk_rd_u8(&r, &len);
        if (r.err || len < 1 || len > 3)
            return DK_EPARSE;
        for (unsigned i = 0; i < len; i++) {
            uint16_t id = 0;
            dk_rd_be16(&r, &id);
            if (dk_lwm2m_path_append(&path, id))
                return DK_EPARSE;
        }
        dk_rd_be32(&r, &a.set);
        dk_rd_be32(&r, &a.pmin);
        dk_rd_be32(&r, &a.pmax);
        dk_rd_be32(&r, &a.epmin);
        dk_rd_be32(&r, &a.epmax);
        a.gt = get_double(&r);
        a.lt = get_double(&r);
        a.st = get_double(&r);
        if (r.err || (a.set & ~(uint32_t)DK_LWM2M_ATTR_NOTIFY))
            return DK_EPARSE;
        int rc = dk_cl_attr_write(c, ssid, &path, &a);
        if (rc)
            return rc == DK_EINVAL ? DK_EPARSE : rc;
    }
    return 0;
}

/* ---- Observations -------------------------------------------------------------------------- */

struct dk_cl_obs *dk_cl_obs_find(struct dk_client_impl *s, uint32_t id)
{
    for (struct dk_cl_obs *o = s->obs; o; o = o->next)
        if (o->id == id)
            return o;
    return NULL;
}

void dk_cl_obs_remove(struct dk_client_impl *s, uint32_t id)
{
    for (struct dk_cl_obs **pp = &s->obs; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct dk_cl_obs *o = *pp;
            *pp = o->next;
            dk_cl_free(s, o);
            s->nobs--;
            return;
        }
    }
}

void dk_cl_obs_clear(struct dk_client_impl *s)
{
    while (s->obs)
        dk_cl_obs_remove(s, s->obs->id);
}

void dk_cl_obs_drop_server(struct dk_client *c, uint16_t ssid)
{
    struct dk_client_impl *s = c->impl;
    struct dk_cl_obs **pp = &s->obs;
    while (*pp) {
        struct dk_cl_obs *o = *pp;
        if (o->ssid == ssid) {
            dk_coap_ep_observe_drop(&s->ep, o->id);
            *pp = o->next;
            dk_cl_free(s, o);
            s->nobs--;
        } else {
            pp = &o->next;
        }
    }
}

/* Effective attributes: the server's defaults, then object, instance and
 * resource levels, each overriding what it sets. */
static void obs_effective(struct dk_client *c, struct dk_cl_obs *o)
{
    struct dk_client_impl *s = c->impl;
    o->pmin_s = 0;
    o->pmax_s = 0;
    o->has_gt = o->has_lt = o->has_st = false;
    struct dk_cl_server *srv = dk_cl_server_by_ssid(s, o->ssid);
    if (srv) {
        int64_t v;
        if (dk_cl_get_int(s, DK_LWM2M_OID_SERVER, srv->srv_iid, 2, &v) && v >= 0 && v <= UINT32_MAX)
            o->pmin_s = (uint32_t)v;
        if (dk_cl_get_int(s, DK_LWM2M_OID_SERVER, srv->srv_iid, 3, &v) && v >= 0 && v <= UINT32_MAX)
            o->pmax_s = (uint32_t)v;
    }
    struct dk_lwm2m_path lvl = dk_lwm2m_path_root();
    for (unsigned i = 0; i < o->path.len && i < 3; i++) {
        dk_lwm2m_path_append(&lvl, o->path.ids[i]);
        struct dk_cl_attr *a = dk_cl_attr_find(s, o->ssid, &lvl);
        if (!a)
            continue;
        if (a->a.set & DK_LWM2M_ATTR_PMIN)
            o->pmin_s = a->a.pmin;
        if (a->a.set & DK_LWM2M_ATTR_PMAX)
            o->pmax_s = a->a.pmax;
        if (a->a.set & DK_LWM2M_ATTR_GT) {
            o->has_gt = true;
            o->gt = a->a.gt;
        }
        if (a->a.set & DK_LWM2M_ATTR_LT) {
            o->has_lt = true;
            o->lt = a->a.lt;
        }
        if (a->a.set & DK_LWM2M_ATTR_ST) {
            o->has_st = true;
            o->st = a->a.st;
        }
    }
    struct dk_cl_obj *ob = o->path.len ? dk_cl_obj_find(s, o->path.ids[0]) : NULL;
    o->sampled = ob ? (ob->in ? ob->in->sampled : (ob->ops && ob->ops->read)) : true;
}

void dk_cl_obs_refresh(struct dk_client *c)
{
    for (struct dk_cl_obs *o = c->impl->obs; o; o = o->next)
        obs_effective(c, o);
}

int dk_cl_obs_add(struct dk_client *c, uint32_t id, uint16_t ssid, const struct dk_lwm2m_path *p,
                  int cf, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    struct dk_cl_obs *o = dk_cl_obs_find(s, id);
    if (!o) {
        if (s->nobs >= s->cfg->max_observations)
            return DK_ELIMIT;
        o = dk_cl_alloc(s, sizeof *o);
        if (!o)
            return DK_ENOMEM;
        memset(o, 0, sizeof *o);
        o->id = id;
        o->next = s->obs;
        s->obs = o;
        s->nobs++;
    }
    o->ssid = ssid;
    o->path = *p;
    o->cf = cf;
    o->dirty = false;
    o->fresh = true;
    o->last_notify = now;
    obs_effective(c, o);
    o->next_sample = now + s->cfg->sample_ms;
    return 0;
}

void dk_cl_obs_sent(struct dk_client *c, struct dk_cl_obs *o, uint64_t hash, bool has_num,
                    double num, dk_time_t now)
{
    o->last_hash = hash;
    o->has_num = has_num;
    o->last_num = num;
    o->last_notify = now;
    o->dirty = false;
    o->fresh = false;
}

static bool crossed(double a, double b, double t, bool above)
{
    return above ? ((a > t) != (b > t)) : ((a < t) != (b < t));
}

/* Re-evaluates one observation; sends a notification when the rules say so. */
static void obs_check(struct dk_client *c, struct dk_cl_obs *o, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    struct dk_cl_out out;
    dk_cl_out_init(&out, NULL);
    int rc = dk_cl_read(c, &o->path, WHO_SERVER, o->ssid, dk_cl_out_sink, &out, now);
    bool changed;
    if (rc) {
        changed = false; /* unreadable now (gone, refused): the pmax notification tells */
    } else {
        changed = out.hash != o->last_hash;
    }
    bool cond;
    bool num = !rc && out.has_num && o->has_num;
    if ((o->has_gt || o->has_lt || o->has_st) && num) {
        cond = (o->has_gt && crossed(o->last_num, out.num, o->gt, true)) ||
               (o->has_lt && crossed(o->last_num, out.num, o->lt, false)) ||
               (o->has_st && fabs(out.num - o->last_num) >= o->st);
    } else {
        cond = changed;
    }
    if (cond)
        o->dirty = true;
    if (rc) {
        /* Gone or no longer allowed: the final notification (4.04, 4.01)
         * tells the server at once. */
        uint32_t id = o->id;
        if (dk_coap_ep_notify_id(&s->ep, id, now) == DK_ENOTFOUND)
            dk_cl_obs_remove(s, id);
        return;
    }
    bool pmax_due = o->pmax_s > 0 && now >= o->last_notify + (dk_time_t)o->pmax_s * 1000;
    bool pmin_ok = now >= o->last_notify + (dk_time_t)o->pmin_s * 1000;
    if (pmax_due || (o->dirty && pmin_ok)) {
        uint32_t id = o->id;
        int e = dk_coap_ep_notify_id(&s->ep, id, now);
        if (e == DK_ENOTFOUND)
            dk_cl_obs_remove(s, id);
    }
}

/* Visits each observation once even if the list changes under us. */
static void obs_each(struct dk_client *c, const struct dk_lwm2m_path *p, bool due_only,
                     dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    unsigned gen = ++s->obs_gen;
    for (;;) {
        struct dk_cl_obs *pick = NULL;
        for (struct dk_cl_obs *o = s->obs; o && !pick; o = o->next) {
            if (o->gen == gen)
                continue;
            if (p && !dk_lwm2m_path_contains(p, &o->path) && !dk_lwm2m_path_contains(&o->path, p))
                continue;
            if (due_only) {
                bool due = false;
                if (o->pmax_s > 0 && now >= o->last_notify + (dk_time_t)o->pmax_s * 1000)
                    due = true;
                if (o->dirty && now >= o->last_notify + (dk_time_t)o->pmin_s * 1000)
                    due = true;
                if (o->sampled && s->cfg->sample_ms > 0 && now >= o->next_sample)
                    due = true;
                if (!due)
                    continue;
            }
            pick = o;
        }
        if (!pick)
            return;
        pick->gen = gen;
        if (pick->sampled && s->cfg->sample_ms > 0 && now >= pick->next_sample)
            pick->next_sample = now + s->cfg->sample_ms;
        obs_check(c, pick, now);
    }
}

void dk_cl_obs_touch(struct dk_client *c, const struct dk_lwm2m_path *p, dk_time_t now)
{
    obs_each(c, p, false, now);
}

void dk_cl_obs_tick(struct dk_client *c, dk_time_t now)
{
    obs_each(c, NULL, true, now);
}

dk_time_t dk_cl_obs_deadline(struct dk_client_impl *s)
{
    dk_time_t d = DK_TIME_NEVER;
    for (struct dk_cl_obs *o = s->obs; o; o = o->next) {
        if (o->pmax_s > 0)
            d = dk_time_min(d, o->last_notify + (dk_time_t)o->pmax_s * 1000);
        if (o->dirty)
            d = dk_time_min(d, o->last_notify + (dk_time_t)o->pmin_s * 1000);
        if (o->sampled && s->cfg->sample_ms > 0)
            d = dk_time_min(d, o->next_sample);
    }
    return d;
}
