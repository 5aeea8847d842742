/* The built-in objects: Security 0, Server 1, Access Control 2, Device 3,
 * Location 6, WLAN connectivity 12, Illuminance 3301, Temperature 3303 and
 * Light Control 3311. Stored values plus hooks that reach the driver. */
#include "client_int.h"

#include <math.h>
#include <stdio.h>

static struct dk_client_impl *IMPL(struct dk_client *c)
{
    return c->impl;
}

static const struct dk_client_driver *DRV(struct dk_client *c)
{
    return &c->impl->cfg->driver;
}

/* ---- Security (0) --------------------------------------------------------------------- */

bool dk_cl_is_bs_account(struct dk_client_impl *s, const struct dk_cl_inst *sec)
{
    struct dk_cl_value *v = dk_cl_val_find(sec, 1, NONE_ID);
    return v && v->type == DK_LWM2M_TYPE_BOOLEAN && v->u.b;
}

static int security_init(struct dk_client *c, struct dk_cl_obj *o, dk_time_t now)
{
    struct dk_client_impl *s = IMPL(c);
    const struct dk_client_config *cfg = s->cfg;
    if (!cfg->bs_uri)
        return 0;
    struct dk_cl_inst *in;
    int rc = dk_cl_inst_create(s, o, cfg->bs_security_iid, &in);
    struct dk_lwm2m_value v;
    if (!rc) {
        v = dk_lwm2m_str(cfg->bs_uri);
        rc = dk_cl_val_set(s, in, 0, NONE_ID, &v, false);
    }
    if (!rc) {
        v = dk_lwm2m_bool(true);
        rc = dk_cl_val_set(s, in, 1, NONE_ID, &v, false);
    }
    if (!rc) {
        v = dk_lwm2m_int(cfg->bs_sec.mode);
        rc = dk_cl_val_set(s, in, 2, NONE_ID, &v, false);
    }
    if (!rc) {
        v = dk_lwm2m_opaque(cfg->bs_sec.identity, cfg->bs_sec.identity_len);
        rc = dk_cl_val_set(s, in, 3, NONE_ID, &v, false);
    }
    if (!rc) {
        v = dk_lwm2m_opaque(cfg->bs_sec.server_key, cfg->bs_sec.server_key_len);
        rc = dk_cl_val_set(s, in, 4, NONE_ID, &v, false);
    }
    if (!rc) {
        v = dk_lwm2m_opaque(cfg->bs_sec.secret, cfg->bs_sec.secret_len);
        rc = dk_cl_val_set(s, in, 5, NONE_ID, &v, false);
    }
    return rc;
}

static int security_validate(struct dk_client *c, const struct dk_lwm2m_path *p,
                             const struct dk_lwm2m_value *v)
{
    if (p->ids[2] == 2 && (v->v.i < 0 || v->v.i > 4))
        return DK_EINVAL;
    if (p->ids[2] == 10 && (v->v.i < 1 || v->v.i > DK_LWM2M_ID_MAX))
        return DK_EINVAL;
    return 0;
}

static const struct dk_cl_obj_int security_int = {security_validate, security_init, NULL, false};

/* ---- Server (1) ------------------------------------------------------------------------ */

static int server_validate(struct dk_client *c, const struct dk_lwm2m_path *p,
                           const struct dk_lwm2m_value *v)
{
    switch (p->ids[2]) {
    case 0: /* Short Server ID */
        return v->v.i >= 1 && v->v.i <= DK_LWM2M_ID_MAX ? 0 : DK_EINVAL;
    case 1: /* Lifetime */
        return v->v.i >= 1 && v->v.i <= UINT32_MAX ? 0 : DK_EINVAL;
    case 2:
    case 3:
    case 5:
        return v->v.i >= 0 && v->v.i <= UINT32_MAX ? 0 : DK_EINVAL;
    case 7: /* Binding: we only do UDP */
        return v->v.bytes.n >= 1 && v->v.bytes.n < 8 && memchr(v->v.bytes.p, 'U', v->v.bytes.n)
                   ? 0
                   : DK_EINVAL;
    default:
        return 0;
    }
}

static int server_write(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                        const struct dk_lwm2m_value *v, dk_time_t now)
{
    if (p->ids[2] == 1 || p->ids[2] == 7 || p->ids[2] == 2 || p->ids[2] == 3)
        dk_cl_server_param_changed(c, p->ids[1], p->ids[2]);
    return 0;
}

static int server_execute(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                          const uint8_t *args, size_t len, dk_time_t now)
{
    switch (p->ids[2]) {
    case 4:
        dk_cl_trigger_disable(c, p->ids[1]);
        return 0;
    case 8:
        dk_cl_trigger_update(c, p->ids[1]);
        return 0;
    case 9:
        if (!dk_cl_bs_account_find(IMPL(c)))
            return DK_EPERM;
        dk_cl_trigger_bootstrap(c);
        return 0;
    default:
        return DK_EPERM;
    }
}

static bool server_can_execute(struct dk_client *c, uint16_t rid)
{
    return rid == 4 || rid == 8 || rid == 9;
}

static const struct dk_client_object_ops server_ops = {NULL, server_write, server_execute, NULL,
                                                       NULL};
static const struct dk_cl_obj_int server_int = {server_validate, NULL, server_can_execute, false};

/* ---- Access Control (2) ----------------------------------------------------------------- */

static int acl_validate(struct dk_client *c, const struct dk_lwm2m_path *p,
                        const struct dk_lwm2m_value *v)
{
    switch (p->ids[2]) {
    case 0:
    case 1:
    case 3:
        return v->v.i >= 0 && v->v.i <= NONE_ID ? 0 : DK_EINVAL;
    case 2:
        return v->v.i >= 0 && v->v.i <= DK_LWM2M_ACL_ALL ? 0 : DK_EINVAL;
    default:
        return 0;
    }
}

static const struct dk_cl_obj_int acl_int = {acl_validate, NULL, NULL, false};

/* ---- Device (3) ------------------------------------------------------------------------- */

static int text_value(struct dk_client *c, const char *s, struct dk_lwm2m_value *out)
{
    if (!s)
        return DK_ENOTFOUND;
    *out = dk_lwm2m_str(s);
    return 0;
}

static int device_read(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                       struct dk_lwm2m_value *out, dk_time_t now)
{
    struct dk_client_impl *s = IMPL(c);
    const struct dk_client_device_info *d = &s->cfg->device;
    switch (p->ids[2]) {
    case 0:
        return text_value(c, d->manufacturer, out);
    case 1:
        return text_value(c, d->model, out);
    case 2:
        return text_value(c, d->serial, out);
    case 3:
        return text_value(c, d->firmware_version, out);
    case 17:
        return text_value(c, d->device_type, out);
    case 18:
        return text_value(c, d->hardware_version, out);
    case 19:
        return text_value(c, d->software_version, out);
    case 16:
        return text_value(c, s->binding, out);
    case 10:
    case 21: {
        if (!DRV(c)->read_memory)
            return DK_ENOTFOUND;
        int64_t fr = 0, tot = 0;
        s->in_cb++;
        int rc = DRV(c)->read_memory(DRV(c)->user, &fr, &tot);
        s->in_cb--;
        if (rc)
            return rc;
        *out = dk_lwm2m_int(p->ids[2] == 10 ? fr : tot);
        return 0;
    }
    case 13:
        if (!s->has_time)
            return DK_ENOTFOUND;
        *out = dk_lwm2m_time(s->time_base_s + (now - s->time_base_ms) / 1000);
        return 0;
    default:
        return DK_ENOTFOUND;
    }
}

static int device_write(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                        const struct dk_lwm2m_value *v, dk_time_t now)
{
    if (p->ids[2] == 13) {
        dk_client_set_time(c, v->v.i, now);
        return 1; /* kept as the clock offset, not as a value */
    }
    return 0;
}

static int device_execute(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                          const uint8_t *args, size_t len, dk_time_t now)
{
    struct dk_client_impl *s = IMPL(c);
    switch (p->ids[2]) {
    case 4:
        dk_cl_event(c, DK_CLIENT_EV_REBOOT, 0, 0, 0, NULL);
        return 0;
    case 5:
        dk_cl_trigger_reset(c);
        return 0;
    case 12: {
        struct dk_cl_inst *in = dk_cl_inst_get(s, 3, 0);
        if (!in)
            return DK_ENOTFOUND;
        dk_cl_res_clear(s, in, 11);
        struct dk_lwm2m_value z = dk_lwm2m_int(0);
        int rc = dk_cl_val_set(s, in, 11, 0, &z, false);
        struct dk_lwm2m_path ep = dk_lwm2m_path_res(3, 0, 11);
        dk_cl_obs_touch(c, &ep, now);
        return rc;
    }
    default:
        return DK_EPERM;
    }
}

static bool device_can_execute(struct dk_client *c, uint16_t rid)
{
    return rid == 4 || rid == 5 || rid == 12;
}

static int device_init(struct dk_client *c, struct dk_cl_obj *o, dk_time_t now)
{
    struct dk_client_impl *s = IMPL(c);
    struct dk_cl_inst *in;
    int rc = dk_cl_inst_create(s, o, 0, &in);
    if (!rc) {
        struct dk_lwm2m_value z = dk_lwm2m_int(0); /* Error Code: no error */
        rc = dk_cl_val_set(s, in, 11, 0, &z, false);
    }
    return rc;
}

static const struct dk_client_object_ops device_ops = {device_read, device_write, device_execute,
                                                       NULL, NULL};
static const struct dk_cl_obj_int device_int = {NULL, device_init, device_can_execute, false};

/* ---- Location (6) ----------------------------------------------------------------------- */

static int location_read(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                         struct dk_lwm2m_value *out, dk_time_t now)
{
    struct dk_client_impl *s = IMPL(c);
    struct dk_client_location loc;
    memset(&loc, 0, sizeof loc);
    s->in_cb++;
    int rc = DRV(c)->read_location(DRV(c)->user, &loc);
    s->in_cb--;
    if (rc)
        return rc;
    switch (p->ids[2]) {
    case 0:
        *out = dk_lwm2m_float(loc.latitude);
        return 0;
    case 1:
        *out = dk_lwm2m_float(loc.longitude);
        return 0;
    case 2:
        *out = dk_lwm2m_float(loc.altitude);
        return 0;
    case 3:
        *out = dk_lwm2m_float(loc.radius);
        return 0;
    case 5:
        *out = dk_lwm2m_time(loc.timestamp);
        return 0;
    case 6:
        *out = dk_lwm2m_float(loc.speed);
        return 0;
    default:
        return DK_ENOTFOUND;
    }
}

static int single_init(struct dk_client *c, struct dk_cl_obj *o, dk_time_t now)
{
    return dk_cl_inst_create(IMPL(c), o, 0, NULL);
}

static const struct dk_client_object_ops location_ops = {location_read, NULL, NULL, NULL, NULL};
static const struct dk_cl_obj_int location_int = {NULL, single_init, NULL, true};

/* ---- WLAN connectivity (12) ------------------------------------------------------------- */

static const struct dk_cl_obj_int wlan_int = {NULL, NULL, NULL, false};

/* ---- Sensors (3301, 3303) ---------------------------------------------------------------- */

static int sensor_sample(struct dk_client *c, uint16_t oid, double *v)
{
    struct dk_client_impl *s = IMPL(c);
    const struct dk_client_driver *d = DRV(c);
    s->in_cb++;
    int rc = oid == DK_LWM2M_OID_TEMPERATURE ? d->read_temperature(d->user, v)
                                             : d->read_illuminance(d->user, v);
    s->in_cb--;
    if (rc)
        return rc;
    if (!isfinite(*v))
        return DK_ERANGE;
    bool *seen = oid == DK_LWM2M_OID_TEMPERATURE ? &s->temp_seen : &s->lux_seen;
    double *mn = oid == DK_LWM2M_OID_TEMPERATURE ? &s->temp_min : &s->lux_min;
    double *mx = oid == DK_LWM2M_OID_TEMPERATURE ? &s->temp_max : &s->lux_max;
    if (!*seen || *v < *mn)
        *mn = *v;
    if (!*seen || *v > *mx)
        *mx = *v;
    *seen = true;
    return 0;
}

static int sensor_read(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                       struct dk_lwm2m_value *out, dk_time_t now)
{
    struct dk_client_impl *s = IMPL(c);
    uint16_t oid = p->ids[0];
    bool temp = oid == DK_LWM2M_OID_TEMPERATURE;
    double v;
    switch (p->ids[2]) {
    case 5700: {
        int rc = sensor_sample(c, oid, &v);
        if (rc)
            return rc;
        *out = dk_lwm2m_float(v);
        return 0;
    }
    case 5601:
    case 5602:
        if (!(temp ? s->temp_seen : s->lux_seen)) {
            int rc = sensor_sample(c, oid, &v);
            if (rc)
                return rc;
        }
        if (p->ids[2] == 5601)
            *out = dk_lwm2m_float(temp ? s->temp_min : s->lux_min);
        else
            *out = dk_lwm2m_float(temp ? s->temp_max : s->lux_max);
        return 0;
    case 5701:
        *out = dk_lwm2m_str(temp ? "Cel" : "lx");
        return 0;
    default:
        return DK_ENOTFOUND;
    }
}

static int sensor_execute(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                          const uint8_t *args, size_t len, dk_time_t now)
{
    struct dk_client_impl *s = IMPL(c);
    if (p->ids[2] != 5605)
        return DK_EPERM;
    if (p->ids[0] == DK_LWM2M_OID_TEMPERATURE)
        s->temp_seen = false;
    else
        s->lux_seen = false;
    double v;
    int rc = sensor_sample(c, p->ids[0], &v); /* min = max = the current value */
    struct dk_lwm2m_path ip = dk_lwm2m_path_inst(p->ids[0], p->ids[1]);
    dk_cl_obs_touch(c, &ip, now);
    return rc;
}

static bool sensor_can_execute(struct dk_client *c, uint16_t rid)
{
    return rid == 5605;
}

static const struct dk_client_object_ops sensor_ops = {sensor_read, NULL, sensor_execute, NULL,
                                                       NULL};
static const struct dk_cl_obj_int sensor_int = {NULL, single_init, sensor_can_execute, true};

/* ---- Light Control (3311) ---------------------------------------------------------------- */

void dk_cl_std_led_apply(struct dk_client *c)
{
    struct dk_client_impl *s = IMPL(c);
    if (!DRV(c)->set_led)
        return;
    bool on = false;
    int64_t dim = 100;
    dk_cl_get_bool(s, DK_LWM2M_OID_LIGHT_CONTROL, 0, 5850, &on);
    dk_cl_get_int(s, DK_LWM2M_OID_LIGHT_CONTROL, 0, 5851, &dim);
    s->in_cb++;
    DRV(c)->set_led(DRV(c)->user, on, (uint8_t)dim);
    s->in_cb--;
}

static int64_t on_time(struct dk_client_impl *s, dk_time_t now)
{
    return s->on_time_base_s + (s->led_on ? (now - s->on_since) / 1000 : 0);
}

static int light_validate(struct dk_client *c, const struct dk_lwm2m_path *p,
                          const struct dk_lwm2m_value *v)
{
    if (p->ids[1] != 0)
        return 0;
    if (p->ids[2] == 5851 && (v->v.i < 0 || v->v.i > 100))
        return DK_EINVAL;
    if (p->ids[2] == 5852 && v->v.i < 0)
        return DK_EINVAL;
    return 0;
}

static int light_read(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                      struct dk_lwm2m_value *out, dk_time_t now)
{
    if (p->ids[1] != 0 || p->ids[2] != 5852)
        return DK_ENOTFOUND;
    *out = dk_lwm2m_int(on_time(IMPL(c), now));
    return 0;
}

static int light_write(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                       const struct dk_lwm2m_value *v, dk_time_t now)
{
    struct dk_client_impl *s = IMPL(c);
    if (p->ids[1] != 0)
        return 0;
    if (p->ids[2] == 5852) {
        s->on_time_base_s = v->v.i;
        s->on_since = now;
        return 1;
    }
    if (p->ids[2] != 5850 && p->ids[2] != 5851)
        return 0;
    bool on = false;
    int64_t dim = 100;
    dk_cl_get_bool(s, DK_LWM2M_OID_LIGHT_CONTROL, 0, 5850, &on);
    dk_cl_get_int(s, DK_LWM2M_OID_LIGHT_CONTROL, 0, 5851, &dim);
    if (p->ids[2] == 5850)
        on = v->v.b;
    else
        dim = v->v.i;
    if (on && !s->led_on)
        s->on_since = now;
    if (!on && s->led_on)
        s->on_time_base_s += (now - s->on_since) / 1000;
    s->led_on = on;
    s->in_cb++;
    int rc = DRV(c)->set_led(DRV(c)->user, on, (uint8_t)dim);
    s->in_cb--;
    return rc;
}

static int light_init(struct dk_client *c, struct dk_cl_obj *o, dk_time_t now)
{
    struct dk_client_impl *s = IMPL(c);
    struct dk_cl_inst *in;
    int rc = dk_cl_inst_create(s, o, 0, &in);
    struct dk_lwm2m_value v = dk_lwm2m_bool(false);
    if (!rc)
        rc = dk_cl_val_set(s, in, 5850, NONE_ID, &v, false);
    v = dk_lwm2m_int(100);
    if (!rc)
        rc = dk_cl_val_set(s, in, 5851, NONE_ID, &v, false);
    s->led_on = false;
    s->on_time_base_s = 0;
    s->on_since = now;
    return rc;
}

static const struct dk_client_object_ops light_ops = {light_read, light_write, NULL, NULL, NULL};
static const struct dk_cl_obj_int light_int = {light_validate, light_init, NULL, false};

/* ---- Registry ------------------------------------------------------------------------------ */

struct std_entry {
    uint16_t oid;
    const struct dk_client_object_ops *ops;
    const struct dk_cl_obj_int *in;
    unsigned flags;
};

static const struct std_entry std_objects[] = {
    {0, NULL, &security_int, DK_CLIENT_OBJ_PERSIST},
    {1, &server_ops, &server_int, DK_CLIENT_OBJ_PERSIST},
    {2, NULL, &acl_int, DK_CLIENT_OBJ_PERSIST},
    {3, &device_ops, &device_int, DK_CLIENT_OBJ_FIXED | DK_CLIENT_OBJ_PERSIST},
    {6, &location_ops, &location_int, DK_CLIENT_OBJ_FIXED},
    {12, NULL, &wlan_int, DK_CLIENT_OBJ_PERSIST},
    {3301, &sensor_ops, &sensor_int, DK_CLIENT_OBJ_FIXED},
    {3303, &sensor_ops, &sensor_int, DK_CLIENT_OBJ_FIXED},
    {3311, &light_ops, &light_int, DK_CLIENT_OBJ_FIXED | DK_CLIENT_OBJ_PERSIST},
};

static bool wanted(const struct dk_client_config *cfg, uint16_t oid)
{
    switch (oid) {
    case 6:
        return cfg->driver.read_location != NULL;
    case 12:
        return cfg->wlan;
    case 3301:
        return cfg->driver.read_illuminance != NULL;
    case 3303:
        return cfg->driver.read_temperature != NULL;
    case 3311:
        return cfg->driver.set_led != NULL;
    default:
        return true;
    }
}

int dk_cl_std_setup(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = IMPL(c);
    struct dk_cl_obj **tail = &s->objs;
    for (size_t i = 0; i < sizeof std_objects / sizeof std_objects[0]; i++) {
        const struct std_entry *e = &std_objects[i];
        if (!wanted(s->cfg, e->oid))
            continue;
        struct dk_cl_obj *o = dk_cl_alloc(s, sizeof *o);
        if (!o)
            return DK_ENOMEM;
        memset(o, 0, sizeof *o);
        o->def = dk_lwm2m_object_def(e->oid);
        o->ops = e->ops;
        o->in = e->in;
        o->flags = e->flags;
        o->builtin = true;
        *tail = o;
        tail = &o->next;
        if (e->in->init) {
            int rc = e->in->init(c, o, now);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int dk_cl_std_reset(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = IMPL(c);
    int rc = 0;
    for (struct dk_cl_obj *o = s->objs; o; o = o->next) {
        if (o->builtin) {
            dk_cl_obj_clear(s, o);
            if (o->in->init) {
                int e = o->in->init(c, o, now);
                if (e && !rc)
                    rc = e;
            }
            continue;
        }
        /* Program objects: forget what servers wrote or created. */
        struct dk_cl_inst **pp = &o->insts;
        while (*pp) {
            struct dk_cl_inst *in = *pp;
            if (in->persist && !(o->flags & DK_CLIENT_OBJ_FIXED)) {
                uint16_t iid = in->iid;
                if (o->ops && o->ops->deleted) {
                    s->in_cb++;
                    o->ops->deleted(c, o->user, iid, now);
                    s->in_cb--;
                }
                dk_cl_inst_delete(s, o, iid);
                continue;
            }
            in->persist = false;
            struct dk_cl_value **vp = &in->vals;
            while (*vp) {
                if ((*vp)->persist) {
                    struct dk_cl_value *v = *vp;
                    *vp = v->next;
                    dk_cl_free(s, v);
                } else {
                    vp = &(*vp)->next;
                }
            }
            pp = &in->next;
        }
    }
    s->temp_seen = s->lux_seen = false;
    s->acl_dirty = true;
    return rc;
}
