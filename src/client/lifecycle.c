/* The lifecycle: transports, client-initiated bootstrap with back-off,
 * registration / update / de-registration per server, stop and factory
 * reset; and the public API that drives the engine. */
#include "client_int.h"

#include <stdio.h>

/* ---- Events and state ------------------------------------------------------------------- */

static enum dk_client_state compute_state(struct dk_client_impl *s)
{
    if (s->stopped)
        return DK_CLIENT_STOPPED;
    if (!s->started)
        return DK_CLIENT_IDLE;
    if (s->stopping == STOP_STOP)
        return DK_CLIENT_STOPPING;
    if (s->bs.st != BS_OFF)
        return DK_CLIENT_BOOTSTRAPPING;
    for (struct dk_cl_server *v = s->servers; v; v = v->next)
        if (v->st == REG_OK || v->st == REG_UPDATING)
            return DK_CLIENT_REGISTERED;
    return DK_CLIENT_REGISTERING;
}

void dk_cl_event(struct dk_client *c, enum dk_client_event_type type, uint16_t ssid, int reason,
                 dk_time_t delay, const struct dk_lwm2m_path *path)
{
    struct dk_client_impl *s = c->impl;
    const struct dk_client_callbacks *cb = &s->cfg->cbs;
    if (!cb->event)
        return;
    struct dk_client_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.state = compute_state(s);
    ev.ssid = ssid;
    ev.reason = reason;
    ev.delay_ms = delay;
    ev.path = path ? *path : dk_lwm2m_path_root();
    s->in_cb++;
    cb->event(cb->user, &ev);
    s->in_cb--;
}

static void sync_state(struct dk_client *c)
{
    struct dk_client_impl *s = c->impl;
    enum dk_client_state st = compute_state(s);
    if (st == s->state)
        return;
    dk_info(s->cfg->log, MOD, "%s -> %s", dk_client_state_name(s->state), dk_client_state_name(st));
    s->state = st;
    dk_cl_event(c, DK_CLIENT_EV_STATE, 0, 0, 0, NULL);
}

/* ---- Accounts ------------------------------------------------------------------------------ */

struct dk_cl_inst *dk_cl_bs_account_find(struct dk_client_impl *s)
{
    struct dk_cl_obj *o = dk_cl_obj_find(s, DK_LWM2M_OID_SECURITY);
    for (struct dk_cl_inst *in = o ? o->insts : NULL; in; in = in->next) {
        const uint8_t *u;
        size_t n;
        if (dk_cl_is_bs_account(s, in) && dk_cl_get_bytes(s, 0, in->iid, 0, &u, &n) && n > 0)
            return in;
    }
    return NULL;
}

static bool has_prefix(const uint8_t *p, size_t n, const char *pre)
{
    size_t k = strlen(pre);
    return n > k && memcmp(p, pre, k) == 0;
}

static bool nonempty(struct dk_client_impl *s, uint16_t iid, uint16_t rid)
{
    const uint8_t *p;
    size_t n;
    return dk_cl_get_bytes(s, 0, iid, rid, &p, &n) && n > 0;
}

/* Whether the credentials of a /0 instance are complete for its mode. */
static bool security_usable(struct dk_client_impl *s, const struct dk_cl_inst *sec)
{
    const uint8_t *u;
    size_t n;
    int64_t mode;
    if (!dk_cl_get_bytes(s, 0, sec->iid, 0, &u, &n) || n >= URI_MAX)
        return false;
    if (!dk_cl_get_int(s, 0, sec->iid, 2, &mode))
        return false;
    switch (mode) {
    case DK_CLIENT_SEC_NOSEC:
        return has_prefix(u, n, "coap://");
    case DK_CLIENT_SEC_PSK:
    case DK_CLIENT_SEC_RPK:
    case DK_CLIENT_SEC_CERT:
        return has_prefix(u, n, "coaps://") && nonempty(s, sec->iid, 3) && nonempty(s, sec->iid, 5);
    default:
        return false;
    }
}

static bool account(struct dk_client_impl *s, const struct dk_cl_inst *sec, uint16_t *ssid,
                    uint16_t *srv_iid)
{
    if (dk_cl_is_bs_account(s, sec) || !security_usable(s, sec))
        return false;
    int64_t id;
    if (!dk_cl_get_int(s, 0, sec->iid, 10, &id) || id < 1 || id > DK_LWM2M_ID_MAX)
        return false;
    struct dk_cl_obj *so = dk_cl_obj_find(s, DK_LWM2M_OID_SERVER);
    for (struct dk_cl_inst *in = so ? so->insts : NULL; in; in = in->next) {
        int64_t v;
        if (dk_cl_get_int(s, 1, in->iid, 0, &v) && v == id) {
            *ssid = (uint16_t)id;
            *srv_iid = in->iid;
            return true;
        }
    }
    return false;
}

uint16_t dk_cl_account_ssid(struct dk_client_impl *s, const struct dk_cl_inst *sec)
{
    uint16_t ssid = 0, srv = 0;
    return account(s, sec, &ssid, &srv) ? ssid : 0;
}

static size_t usable_accounts(struct dk_client_impl *s)
{
    size_t n = 0;
    struct dk_cl_obj *o = dk_cl_obj_find(s, DK_LWM2M_OID_SECURITY);
    for (struct dk_cl_inst *in = o ? o->insts : NULL; in; in = in->next)
        n += dk_cl_account_ssid(s, in) != 0;
    return n;
}

struct dk_cl_server *dk_cl_server_by_ssid(struct dk_client_impl *s, uint16_t ssid)
{
    for (struct dk_cl_server *v = s->servers; v; v = v->next)
        if (v->ssid == ssid)
            return v;
    return NULL;
}

static struct dk_cl_server *server_by_iid(struct dk_client_impl *s, uint16_t srv_iid)
{
    for (struct dk_cl_server *v = s->servers; v; v = v->next)
        if (v->srv_iid == srv_iid)
            return v;
    return NULL;
}

/* ---- Transports ----------------------------------------------------------------------------- */

static void link_reset(struct dk_cl_link *l)
{
    memset(l, 0, sizeof *l);
    l->close_at = DK_TIME_NEVER;
}

static int link_open(struct dk_client *c, struct dk_cl_link *l, enum dk_client_server_kind kind,
                     uint16_t ssid, uint16_t sec_iid)
{
    struct dk_client_impl *s = c->impl;
    struct dk_client_transport t;
    memset(&t, 0, sizeof t);
    char uri[URI_MAX];
    const uint8_t *u;
    size_t n;
    int64_t mode = DK_CLIENT_SEC_NOSEC;
    if (!dk_cl_get_bytes(s, 0, sec_iid, 0, &u, &n) || n == 0 || n >= sizeof uri || memchr(u, 0, n))
        return DK_EINVAL;
    memcpy(uri, u, n);
    uri[n] = 0;
    dk_cl_get_int(s, 0, sec_iid, 2, &mode);
    t.id = ++s->next_tid ? s->next_tid : ++s->next_tid;
    t.kind = kind;
    t.ssid = ssid;
    t.security_iid = sec_iid;
    t.uri = uri;
    t.sec.mode = (enum dk_client_sec_mode)mode;
    dk_cl_get_bytes(s, 0, sec_iid, 3, &t.sec.identity, &t.sec.identity_len);
    dk_cl_get_bytes(s, 0, sec_iid, 4, &t.sec.server_key, &t.sec.server_key_len);
    dk_cl_get_bytes(s, 0, sec_iid, 5, &t.sec.secret, &t.sec.secret_len);
    link_reset(l);
    l->st = LINK_OPENING;
    l->id = t.id;
    dk_debug(s->cfg->log, MOD, "open transport %u to %s", t.id, uri);
    s->in_cb++;
    int rc = s->cfg->cbs.open_transport(s->cfg->cbs.user, &t);
    s->in_cb--;
    if (rc) {
        link_reset(l);
        return rc < 0 ? rc : DK_EIO;
    }
    return 0;
}

/* Closes a transport now: its CoAP state goes, the program is told. The
 * owner clears its exchange id first so DK_ECLOSED callbacks are ignored. */
static void link_close(struct dk_client *c, struct dk_cl_link *l, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (l->st == LINK_NONE)
        return;
    bool up = l->st == LINK_UP;
    struct dk_addr peer = l->peer;
    uint32_t id = l->id;
    link_reset(l);
    if (up)
        dk_coap_ep_peer_closed(&s->ep, &peer, now);
    dk_debug(s->cfg->log, MOD, "close transport %u", id);
    s->in_cb++;
    s->cfg->cbs.close_transport(s->cfg->cbs.user, id);
    s->in_cb--;
}

bool dk_cl_peer_lookup(struct dk_client_impl *s, const struct dk_addr *peer,
                       struct dk_cl_server **srv, bool *is_bs)
{
    *srv = NULL;
    *is_bs = false;
    if (s->bs.link.st == LINK_UP && dk_addr_equal(&s->bs.link.peer, peer)) {
        *is_bs = true;
        return true;
    }
    for (struct dk_cl_server *v = s->servers; v; v = v->next) {
        if (v->link.st == LINK_UP && dk_addr_equal(&v->link.peer, peer)) {
            *srv = v;
            return true;
        }
    }
    return false;
}

static struct dk_cl_link *link_by_id(struct dk_client_impl *s, uint32_t id)
{
    if (id == 0)
        return NULL;
    if (s->bs.link.st != LINK_NONE && s->bs.link.id == id)
        return &s->bs.link;
    for (struct dk_cl_server *v = s->servers; v; v = v->next)
        if (v->link.st != LINK_NONE && v->link.id == id)
            return &v->link;
    return NULL;
}

static void on_response(struct dk_coap_ep *ep, void *user, uint32_t id,
                        const struct dk_coap_result *res);

static int request(struct dk_client *c, const struct dk_cl_link *l, uint8_t method,
                   const char *path, const char *query, int cf, const uint8_t *payload, size_t len,
                   uint32_t *xid)
{
    struct dk_client_impl *s = c->impl;
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, method, path);
    r.query = query;
    r.content_format = cf;
    r.payload = payload;
    r.payload_len = len;
    r.cb = on_response;
    r.cb_user = c;
    return dk_coap_ep_request(&s->ep, &l->peer, &r, s->now, xid);
}

/* ---- Bootstrap --------------------------------------------------------------------------------
 */

static dk_time_t jitter(struct dk_client_impl *s, dk_time_t d)
{
    if (d < 8)
        return d;
    dk_time_t j = d / 8;
    if (j >= UINT32_MAX)
        j = UINT32_MAX - 1;
    return d + (dk_time_t)dk_rng_uniform(s->cfg->rng, (uint32_t)j + 1);
}

static void servers_drop(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    while (s->servers) {
        struct dk_cl_server *v = s->servers;
        s->servers = v->next;
        if (v->xid)
            dk_coap_ep_cancel(&s->ep, v->xid, now);
        v->xid = 0;
        dk_cl_obs_drop_server(c, v->ssid);
        link_close(c, &v->link, now);
        dk_cl_free(s, v);
    }
}

static int bootstrap_start(struct dk_client *c, dk_time_t delay, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    struct dk_cl_inst *acc = dk_cl_bs_account_find(s);
    if (!acc)
        return DK_ENOTFOUND;
    servers_drop(c, now);
    if (s->bs.xid)
        dk_coap_ep_cancel(&s->ep, s->bs.xid, now);
    s->bs.xid = 0;
    link_close(c, &s->bs.link, now);
    s->bs.st = BS_WAIT;
    s->bs.sec_iid = acc->iid;
    s->bs.timer = now + delay;
    s->bs.backoff = s->cfg->bs_backoff_min_ms;
    s->bs.attempts = 0;
    dk_info(s->cfg->log, MOD, "no usable server account: bootstrap");
    dk_cl_event(c, DK_CLIENT_EV_FACTORY_MODE, 0, 0, 0, NULL);
    return 0;
}

static void bs_fail(struct dk_client *c, int reason, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (s->bs.xid)
        dk_coap_ep_cancel(&s->ep, s->bs.xid, now);
    s->bs.xid = 0;
    link_close(c, &s->bs.link, now);
    dk_time_t d = jitter(s, s->bs.backoff);
    s->bs.backoff = s->bs.backoff * 2 > s->cfg->bs_backoff_max_ms ? s->cfg->bs_backoff_max_ms
                                                                  : s->bs.backoff * 2;
    s->bs.st = BS_WAIT;
    s->bs.timer = now + d;
    dk_info(s->cfg->log, MOD, "bootstrap attempt %u failed (%s); next in %lld ms", s->bs.attempts,
            dk_strerror(reason), (long long)d);
    dk_cl_event(c, DK_CLIENT_EV_BOOTSTRAP_FAILED, 0, reason, d, NULL);
}

bool dk_cl_bs_active(struct dk_client_impl *s)
{
    return s->bs.st == BS_REQUEST || s->bs.st == BS_PROVISION;
}

void dk_cl_bs_touch(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    s->bs.st = BS_PROVISION;
    s->bs.timer = now + s->cfg->bs_timeout_ms;
}

static void bs_send(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    char q[200];
    if (s->cfg->bs_pct >= 0)
        snprintf(q, sizeof q, "ep=%s&pct=%d", s->cfg->endpoint, s->cfg->bs_pct);
    else
        snprintf(q, sizeof q, "ep=%s", s->cfg->endpoint);
    s->bs.attempts++;
    int rc = request(c, &s->bs.link, DK_COAP_POST, "/bs", q, -1, NULL, 0, &s->bs.xid);
    if (rc) {
        s->bs.xid = 0;
        bs_fail(c, rc, now);
        return;
    }
    s->bs.st = BS_REQUEST;
    dk_info(s->cfg->log, MOD, "Bootstrap-Request sent");
}

static void bs_response(struct dk_client *c, const struct dk_coap_result *res, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    s->bs.xid = 0;
    if (s->bs.st != BS_REQUEST)
        return; /* operations already arrived; Finish decides */
    if (res->status) {
        bs_fail(c, res->status, now);
        return;
    }
    if (res->msg->code != DK_COAP_CHANGED) {
        char code[8];
        dk_info(s->cfg->log, MOD, "Bootstrap-Request refused: %s",
                dk_coap_code_format(res->msg->code, code, sizeof code));
        bs_fail(c, DK_EPERM, now);
        return;
    }
    dk_cl_bs_touch(c, now);
}

static void servers_build(struct dk_client *c, dk_time_t now);

uint8_t dk_cl_bs_finish(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (usable_accounts(s) == 0) {
        dk_warn(s->cfg->log, MOD, "Bootstrap-Finish without a usable server account: 4.06");
        return DK_COAP_NOT_ACCEPTABLE;
    }
    if (dk_cl_persist(c))
        return DK_COAP_INTERNAL_SERVER_ERROR;
    if (s->bs.xid)
        dk_coap_ep_cancel(&s->ep, s->bs.xid, now);
    s->bs.xid = 0;
    s->bs.st = BS_OFF;
    s->bs.backoff = s->cfg->bs_backoff_min_ms;
    s->bs.link.close_at = now + BS_LINGER_MS; /* the 2.04 may need repeating */
    s->acl_dirty = true;
    dk_info(s->cfg->log, MOD, "Bootstrap-Finish accepted");
    dk_cl_event(c, DK_CLIENT_EV_BOOTSTRAPPED, 0, 0, 0, NULL);
    servers_build(c, now);
    s->kick = true;
    return DK_COAP_CHANGED;
}

static void bs_step(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    switch (s->bs.st) {
    case BS_WAIT:
        if (now < s->bs.timer)
            return;
        if (s->bs.link.st == LINK_UP) {
            bs_send(c, now);
        } else if (s->bs.link.st == LINK_NONE) {
            s->bs.st = BS_OPENING;
            int rc = link_open(c, &s->bs.link, DK_CLIENT_BOOTSTRAP_SERVER, 0, s->bs.sec_iid);
            if (rc)
                bs_fail(c, rc, now);
        } else {
            s->bs.st = BS_OPENING;
        }
        return;
    case BS_OPENING:
        if (s->bs.link.st == LINK_UP)
            bs_send(c, now);
        return;
    case BS_PROVISION:
        if (now >= s->bs.timer)
            bs_fail(c, DK_ETIMEDOUT, now);
        return;
    default:
        return;
    }
}

/* ---- Registration ------------------------------------------------------------------------------
 */

static uint32_t srv_uint(struct dk_client_impl *s, struct dk_cl_server *v, uint16_t rid,
                         uint32_t dflt)
{
    int64_t x;
    if (dk_cl_get_int(s, DK_LWM2M_OID_SERVER, v->srv_iid, rid, &x) && x >= 0 && x <= UINT32_MAX)
        return (uint32_t)x;
    return dflt;
}

static uint32_t srv_lifetime(struct dk_client_impl *s, struct dk_cl_server *v)
{
    uint32_t lt = srv_uint(s, v, 1, s->cfg->lifetime_s);
    return lt ? lt : s->cfg->lifetime_s;
}

static void srv_binding(struct dk_client_impl *s, struct dk_cl_server *v, char *out, size_t cap)
{
    const uint8_t *p;
    size_t n;
    if (dk_cl_get_bytes(s, DK_LWM2M_OID_SERVER, v->srv_iid, 7, &p, &n) && n > 0 && n < cap) {
        memcpy(out, p, n);
        out[n] = 0;
    } else {
        snprintf(out, cap, "%s", s->binding);
    }
}

/* Room for object_list(): the root link, per object "</65534>;ver=255.255,"
 * and per instance "</65534/65534>,". */
static size_t object_list_bound(struct dk_client_impl *s)
{
    size_t n = 48;
    for (struct dk_cl_obj *o = s->objs; o; o = o->next)
        n += 24;
    return n + 18 * s->ninst;
}

/* The object list of Register and Update (the Security object is not listed). */
static int object_list(struct dk_client_impl *s, struct dk_buf *b)
{
    struct dk_lwm2m_link_writer lw;
    dk_lwm2m_link_writer_init(&lw, b);
    struct dk_lwm2m_link l;
    memset(&l, 0, sizeof l);
    l.root = true;
    l.attrs.set = DK_LWM2M_ATTR_RT | DK_LWM2M_ATTR_CT;
    l.attrs.rt = "oma.lwm2m";
    l.attrs.rt_len = 9;
    l.attrs.ct[0] = DK_LWM2M_CF_TLV;
    l.attrs.n_ct = 1;
    int rc = dk_lwm2m_link_write(&lw, &l);
    for (struct dk_cl_obj *o = s->objs; !rc && o; o = o->next) {
        if (o->def->id == DK_LWM2M_OID_SECURITY)
            continue;
        bool ver = o->def->ver_major != 1 || o->def->ver_minor != 0;
        if (ver || !o->insts) {
            memset(&l, 0, sizeof l);
            l.path = dk_lwm2m_path_obj(o->def->id);
            l.is_path = true;
            if (ver) {
                l.attrs.set = DK_LWM2M_ATTR_VER;
                l.attrs.ver_major = o->def->ver_major;
                l.attrs.ver_minor = o->def->ver_minor;
            }
            rc = dk_lwm2m_link_write(&lw, &l);
        }
        for (struct dk_cl_inst *in = o->insts; !rc && in; in = in->next) {
            struct dk_lwm2m_path p = dk_lwm2m_path_inst(o->def->id, in->iid);
            rc = dk_lwm2m_link_write_path(&lw, &p, NULL);
        }
    }
    return rc;
}

static void reg_fail(struct dk_client *c, struct dk_cl_server *v, int reason, dk_time_t now);

static void reg_send(struct dk_client *c, struct dk_cl_server *v, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    char q[300];
    v->lifetime_s = srv_lifetime(s, v);
    srv_binding(s, v, v->binding, sizeof v->binding);
    snprintf(q, sizeof q, "ep=%s&lt=%u&lwm2m=%s&b=%s", s->cfg->endpoint, v->lifetime_s, s->version,
             v->binding);
    struct dk_buf b;
    size_t cap = object_list_bound(s);
    uint8_t *mem = dk_cl_alloc(s, cap);
    dk_buf_init(&b, mem, mem ? cap : 0);
    int rc = mem ? object_list(s, &b) : DK_ENOMEM;
    if (!rc)
        rc = request(c, &v->link, DK_COAP_POST, "/rd", q, DK_LWM2M_CF_LINK, b.data, b.len, &v->xid);
    dk_cl_free(s, mem);
    if (rc) {
        v->xid = 0;
        reg_fail(c, v, rc, now);
        return;
    }
    v->upd_objects = v->upd_lifetime = v->upd_binding = false;
    v->st = REG_REGISTERING;
    dk_info(s->cfg->log, MOD, "Register with server %u sent", v->ssid);
}

static void update_send(struct dk_client *c, struct dk_cl_server *v, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    char q[64] = "";
    uint32_t lt = srv_lifetime(s, v);
    char bind[8];
    srv_binding(s, v, bind, sizeof bind);
    bool lt_changed = lt != v->lifetime_s, b_changed = strcmp(bind, v->binding) != 0;
    struct dk_buf qb;
    dk_buf_init(&qb, q, sizeof q - 1);
    if (lt_changed)
        dk_buf_printf(&qb, "lt=%u", lt);
    if (b_changed)
        dk_buf_printf(&qb, "%sb=%s", qb.len ? "&" : "", bind);
    q[qb.len] = 0;
    struct dk_buf b;
    size_t cap = v->upd_objects ? object_list_bound(s) : 0;
    uint8_t *mem = cap ? dk_cl_alloc(s, cap) : NULL;
    dk_buf_init(&b, mem, mem ? cap : 0);
    int rc = cap && !mem ? DK_ENOMEM : 0;
    if (!rc && v->upd_objects)
        rc = object_list(s, &b);
    if (!rc)
        rc = request(c, &v->link, DK_COAP_POST, v->location, qb.len ? q : NULL,
                     v->upd_objects ? DK_LWM2M_CF_LINK : -1, b.data, b.len, &v->xid);
    dk_cl_free(s, mem);
    if (rc) {
        v->xid = 0;
        reg_fail(c, v, rc, now);
        return;
    }
    v->lifetime_s = lt;
    memcpy(v->binding, bind, sizeof bind);
    v->upd_objects = v->upd_lifetime = v->upd_binding = false;
    v->st = REG_UPDATING;
    dk_debug(s->cfg->log, MOD, "Update to server %u sent", v->ssid);
}

static void schedule_update(struct dk_client_impl *s, struct dk_cl_server *v, dk_time_t now)
{
    dk_time_t d = (dk_time_t)v->lifetime_s * s->cfg->update_fraction_pm; /* ms */
    if (d < 1000)
        d = 1000;
    v->timer = now + d;
}

static void reg_fail(struct dk_client *c, struct dk_cl_server *v, int reason, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (v->xid)
        dk_coap_ep_cancel(&s->ep, v->xid, now);
    v->xid = 0;
    dk_cl_obs_drop_server(c, v->ssid);
    link_close(c, &v->link, now);
    v->failures++;
    unsigned retries = srv_uint(s, v, 17, s->cfg->reg_retries);
    dk_time_t base = (dk_time_t)srv_uint(s, v, 18, 0) * 1000;
    if (base <= 0)
        base = s->cfg->reg_retry_ms;
    dk_time_t delay;
    if (v->failures >= (retries ? retries : 1)) {
        bool bs_on_failure = true;
        dk_cl_get_bool(s, DK_LWM2M_OID_SERVER, v->srv_iid, 16, &bs_on_failure);
        bool any_ok = false;
        for (struct dk_cl_server *w = s->servers; w; w = w->next)
            any_ok |= w->st == REG_OK || w->st == REG_UPDATING;
        if (bs_on_failure && !any_ok && dk_cl_bs_account_find(s) && s->stopping == STOP_NONE) {
            dk_warn(s->cfg->log, MOD, "registration with server %u failed %u times: bootstrap",
                    v->ssid, v->failures);
            v->st = REG_WAIT;
            dk_cl_event(c, DK_CLIENT_EV_REG_FAILED, v->ssid, reason, 0, NULL);
            s->bs_pending = true;
            return;
        }
        dk_time_t sd = (dk_time_t)srv_uint(s, v, 19, 0) * 1000;
        delay = sd > 0 ? sd : s->cfg->reg_sequence_delay_ms;
        v->failures = 0;
    } else {
        unsigned sh = v->failures - 1 > 20 ? 20 : v->failures - 1;
        delay = base << sh;
    }
    v->st = REG_WAIT;
    v->timer = now + delay;
    dk_info(s->cfg->log, MOD, "registration with server %u failed (%s); retry in %lld ms", v->ssid,
            dk_strerror(reason), (long long)delay);
    dk_cl_event(c, DK_CLIENT_EV_REG_FAILED, v->ssid, reason, delay, NULL);
}

static void dereg_done(struct dk_client *c, struct dk_cl_server *v, int reason, dk_time_t now)
{
    if (v->disabling && c->impl->stopping == STOP_NONE) {
        /* Disabled: back after the Disable Timeout, on a fresh transport. */
        v->disabling = false;
        v->xid = 0;
        v->location[0] = 0;
        v->st = REG_WAIT;
        v->timer = now + v->disable_ms;
        v->failures = 0;
        dk_cl_obs_drop_server(c, v->ssid);
        link_close(c, &v->link, now);
        dk_info(c->impl->cfg->log, MOD, "server %u disabled for %lld ms", v->ssid,
                (long long)v->disable_ms);
        dk_cl_event(c, DK_CLIENT_EV_DEREGISTERED, v->ssid, reason, v->disable_ms, NULL);
        return;
    }
    v->disabling = false;
    v->st = REG_DONE;
    v->xid = 0;
    v->location[0] = 0;
    v->link.close_at = now;
    dk_cl_event(c, DK_CLIENT_EV_DEREGISTERED, v->ssid, reason, 0, NULL);
}

static void reg_response(struct dk_client *c, struct dk_cl_server *v,
                         const struct dk_coap_result *res, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    v->xid = 0;
    uint8_t code = res->status ? 0 : res->msg->code;
    switch (v->st) {
    case REG_REGISTERING:
        if (code == DK_COAP_CREATED && dk_coap_msg_find(res->msg, DK_COAP_OPT_LOCATION_PATH) &&
            dk_coap_msg_get_path(res->msg, DK_COAP_OPT_LOCATION_PATH, v->location,
                                 sizeof v->location) > 0) {
            v->st = REG_OK;
            v->failures = 0;
            v->registered_once = true;
            schedule_update(s, v, now);
            dk_info(s->cfg->log, MOD, "registered with server %u at %s", v->ssid, v->location);
            dk_cl_event(c, DK_CLIENT_EV_REGISTERED, v->ssid, 0, 0, NULL);
            dk_cl_obs_refresh(c);
        } else {
            reg_fail(c, v, res->status ? res->status : DK_EPERM, now);
        }
        return;
    case REG_UPDATING:
        if (code == DK_COAP_CHANGED) {
            v->st = REG_OK;
            v->failures = 0;
            schedule_update(s, v, now);
            if (v->upd_objects || v->upd_lifetime || v->upd_binding)
                v->timer = now;
        } else if (code == DK_COAP_NOT_FOUND) {
            /* The server forgot us: register afresh. */
            v->st = REG_WAIT;
            v->timer = now;
            v->location[0] = 0;
        } else {
            reg_fail(c, v, res->status ? res->status : DK_EPERM, now);
        }
        return;
    case REG_DEREG:
        dereg_done(c, v, res->status, now);
        return;
    default:
        return;
    }
}

static void on_response(struct dk_coap_ep *ep, void *user, uint32_t id,
                        const struct dk_coap_result *res)
{
    struct dk_client *c = user;
    struct dk_client_impl *s = c->impl;
    if (res->notification)
        return;
    if (s->bs.xid == id) {
        bs_response(c, res, s->now);
        return;
    }
    for (struct dk_cl_server *v = s->servers; v; v = v->next) {
        if (v->xid == id) {
            reg_response(c, v, res, s->now);
            return;
        }
    }
}

static void dereg_start(struct dk_client *c, struct dk_cl_server *v, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (v->xid)
        dk_coap_ep_cancel(&s->ep, v->xid, now);
    v->xid = 0;
    bool registered =
        (v->st == REG_OK || v->st == REG_UPDATING) && v->link.st == LINK_UP && v->location[0];
    if (!registered) {
        v->st = REG_DONE;
        v->link.close_at = now;
        return;
    }
    int rc = request(c, &v->link, DK_COAP_DELETE, v->location, NULL, -1, NULL, 0, &v->xid);
    if (rc) {
        dereg_done(c, v, rc, now);
        return;
    }
    v->st = REG_DEREG;
    v->dereg_deadline = now + s->cfg->dereg_timeout_ms;
    dk_info(s->cfg->log, MOD, "De-register from server %u sent", v->ssid);
}

static void server_step(struct dk_client *c, struct dk_cl_server *v, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    switch (v->st) {
    case REG_WAIT:
        if (now < v->timer)
            return;
        if (v->link.st == LINK_UP) {
            reg_send(c, v, now);
        } else if (v->link.st == LINK_NONE) {
            v->st = REG_OPENING;
            int rc = link_open(c, &v->link, DK_CLIENT_LWM2M_SERVER, v->ssid, v->sec_iid);
            if (rc)
                reg_fail(c, v, rc, now);
        } else {
            v->st = REG_OPENING;
        }
        return;
    case REG_OPENING:
        if (v->link.st == LINK_UP)
            reg_send(c, v, now);
        return;
    case REG_OK:
        if (v->disabling)
            dereg_start(c, v, now);
        else if (now >= v->timer || v->upd_objects || v->upd_lifetime || v->upd_binding)
            update_send(c, v, now);
        return;
    case REG_DEREG:
        if (now >= v->dereg_deadline) {
            if (v->xid)
                dk_coap_ep_cancel(&s->ep, v->xid, now);
            dereg_done(c, v, DK_ETIMEDOUT, now);
        }
        return;
    default:
        return;
    }
}

/* Brings the server list in line with the usable accounts. */
static void servers_build(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    /* Drop servers whose account is gone. */
    struct dk_cl_server **pp = &s->servers;
    while (*pp) {
        struct dk_cl_server *v = *pp;
        struct dk_cl_inst *sec = dk_cl_inst_get(s, DK_LWM2M_OID_SECURITY, v->sec_iid);
        uint16_t ssid = 0, srv = 0;
        if (sec && account(s, sec, &ssid, &srv) && ssid == v->ssid) {
            v->srv_iid = srv;
            pp = &v->next;
            continue;
        }
        *pp = v->next;
        if (v->xid)
            dk_coap_ep_cancel(&s->ep, v->xid, now);
        v->xid = 0;
        dk_cl_obs_drop_server(c, v->ssid);
        link_close(c, &v->link, now);
        dk_cl_free(s, v);
    }
    struct dk_cl_obj *o = dk_cl_obj_find(s, DK_LWM2M_OID_SECURITY);
    for (struct dk_cl_inst *in = o ? o->insts : NULL; in; in = in->next) {
        uint16_t ssid = 0, srv = 0;
        if (!account(s, in, &ssid, &srv) || dk_cl_server_by_ssid(s, ssid))
            continue;
        struct dk_cl_server *v = dk_cl_alloc(s, sizeof *v);
        if (!v) {
            dk_error(s->cfg->log, MOD, "no memory for server %u", ssid);
            continue;
        }
        memset(v, 0, sizeof *v);
        link_reset(&v->link);
        v->ssid = ssid;
        v->sec_iid = in->iid;
        v->srv_iid = srv;
        v->st = REG_WAIT;
        v->timer = now;
        pp = &s->servers;
        while (*pp)
            pp = &(*pp)->next;
        *pp = v;
    }
}

/* ---- Hooks from the DM side -------------------------------------------------------------------
 */

void dk_cl_server_param_changed(struct dk_client *c, uint16_t srv_iid, uint16_t rid)
{
    struct dk_client_impl *s = c->impl;
    struct dk_cl_server *v = server_by_iid(s, srv_iid);
    if (rid == 2 || rid == 3) {
        s->refresh_pending = true;
    } else if (v && rid == 1) {
        v->upd_lifetime = true;
    } else if (v && rid == 7) {
        v->upd_binding = true;
    }
    s->kick = true;
}

void dk_cl_objects_changed(struct dk_client *c)
{
    struct dk_client_impl *s = c->impl;
    for (struct dk_cl_server *v = s->servers; v; v = v->next)
        v->upd_objects = true;
    s->kick = true;
}

void dk_cl_trigger_update(struct dk_client *c, uint16_t srv_iid)
{
    struct dk_client_impl *s = c->impl;
    struct dk_cl_server *v = server_by_iid(s, srv_iid);
    if (v && v->st == REG_OK)
        v->timer = s->now;
    s->kick = true;
}

void dk_cl_trigger_disable(struct dk_client *c, uint16_t srv_iid)
{
    struct dk_client_impl *s = c->impl;
    struct dk_cl_server *v = server_by_iid(s, srv_iid);
    if (!v)
        return;
    v->disabling = true;
    v->disable_ms = (dk_time_t)srv_uint(s, v, 5, 86400) * 1000;
    s->kick = true;
}

void dk_cl_trigger_bootstrap(struct dk_client *c)
{
    c->impl->bs_pending = true;
    c->impl->kick = true;
}

void dk_cl_trigger_reset(struct dk_client *c)
{
    c->impl->reset_pending = true;
    c->impl->kick = true;
}

/* ---- Stop and factory reset -------------------------------------------------------------------
 */

static void stop_begin(struct dk_client *c, enum stop_mode mode, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    s->stopping = mode;
    s->stop_deadline = now + s->cfg->dereg_timeout_ms;
    if (s->bs.xid)
        dk_coap_ep_cancel(&s->ep, s->bs.xid, now);
    s->bs.xid = 0;
    s->bs.st = BS_OFF;
    if (s->bs.link.st != LINK_NONE)
        s->bs.link.close_at = now;
    for (struct dk_cl_server *v = s->servers; v; v = v->next)
        dereg_start(c, v, now);
}

static bool stop_done(struct dk_client_impl *s)
{
    if (s->bs.link.st != LINK_NONE)
        return false;
    for (struct dk_cl_server *v = s->servers; v; v = v->next)
        if (v->st == REG_DEREG || v->link.st != LINK_NONE)
            return false;
    return true;
}

static void reset_finish(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    servers_drop(c, now);
    link_close(c, &s->bs.link, now);
    dk_cl_obs_clear(s);
    dk_cl_attr_clear(s);
    int rc = dk_cl_std_reset(c, now);
    if (rc)
        dk_error(s->cfg->log, MOD, "factory reset: restoring defaults: %s", dk_strerror(rc));
    dk_cl_std_led_apply(c);
    if (s->cfg->cbs.wipe) {
        s->in_cb++;
        rc = s->cfg->cbs.wipe(s->cfg->cbs.user);
        s->in_cb--;
        if (rc)
            dk_error(s->cfg->log, MOD, "factory reset: wipe: %s", dk_strerror(rc));
    }
    s->stopping = STOP_NONE;
    s->reset_pending = false;
    s->bs_pending = false;
    dk_info(s->cfg->log, MOD, "factory reset done");
    dk_cl_event(c, DK_CLIENT_EV_FACTORY_RESET, 0, 0, 0, NULL);
    if (bootstrap_start(c, s->cfg->bs_holdoff_ms, now)) {
        s->stopped = true;
        dk_cl_event(c, DK_CLIENT_EV_STOPPED, 0, 0, 0, NULL);
    }
}

/* ---- The driver loop ----------------------------------------------------------------------------
 */

static void link_events(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (s->bs.link.ev_down) {
        int reason = s->bs.link.down_reason;
        bool busy = s->bs.st == BS_OPENING || s->bs.st == BS_REQUEST || s->bs.st == BS_PROVISION;
        s->bs.xid = busy ? s->bs.xid : 0;
        if (busy)
            bs_fail(c, reason, now); /* closes the link */
        else
            link_close(c, &s->bs.link, now);
    }
    for (struct dk_cl_server *v = s->servers; v; v = v->next) {
        if (!v->link.ev_down)
            continue;
        int reason = v->link.down_reason;
        switch (v->st) {
        case REG_DEREG:
            v->xid = 0;
            link_close(c, &v->link, now);
            dereg_done(c, v, reason, now);
            break;
        case REG_OPENING:
        case REG_REGISTERING:
        case REG_OK:
        case REG_UPDATING:
            reg_fail(c, v, reason, now); /* closes the link */
            break;
        default:
            v->xid = 0;
            link_close(c, &v->link, now);
            break;
        }
    }
}

static void pending_closes(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (dk_coap_ep_want_write(&s->ep))
        return; /* let the last answers out first */
    if (s->bs.link.st != LINK_NONE && now >= s->bs.link.close_at && s->bs.st == BS_OFF) {
        if (s->bs.xid)
            dk_coap_ep_cancel(&s->ep, s->bs.xid, now);
        s->bs.xid = 0;
        link_close(c, &s->bs.link, now);
    }
    for (struct dk_cl_server *v = s->servers; v; v = v->next)
        if (v->link.st != LINK_NONE && now >= v->link.close_at && v->st == REG_DONE)
            link_close(c, &v->link, now);
}

static void step(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    link_events(c, now);
    if (s->stopped)
        return;
    if (s->refresh_pending) {
        s->refresh_pending = false;
        dk_cl_obs_refresh(c);
    }
    if (s->reset_pending && s->stopping == STOP_NONE) {
        s->reset_pending = false;
        stop_begin(c, STOP_RESET, now);
    }
    if (s->stopping != STOP_NONE) {
        for (struct dk_cl_server *v = s->servers; v; v = v->next)
            server_step(c, v, now);
        pending_closes(c, now);
        bool done = stop_done(s);
        if (!done && now >= s->stop_deadline) {
            for (struct dk_cl_server *v = s->servers; v; v = v->next)
                if (v->st == REG_DEREG)
                    dereg_done(c, v, DK_ETIMEDOUT, now);
            servers_drop(c, now);
            link_close(c, &s->bs.link, now);
            done = true;
        }
        if (done && s->stopping == STOP_RESET) {
            reset_finish(c, now);
        } else if (done) {
            servers_drop(c, now);
            s->stopping = STOP_NONE;
            s->stopped = true;
            sync_state(c);
            dk_cl_event(c, DK_CLIENT_EV_STOPPED, 0, 0, 0, NULL);
        }
        return;
    }
    if (s->bs_pending) {
        s->bs_pending = false;
        bootstrap_start(c, 0, now);
    }
    bs_step(c, now);
    for (struct dk_cl_server *v = s->servers; v; v = v->next)
        server_step(c, v, now);
    pending_closes(c, now);
}

static void drive(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (s->in_cb) {
        s->kick = true;
        return;
    }
    if (!s->started)
        return;
    for (int i = 0; i < 8; i++) {
        s->kick = false;
        step(c, now);
        sync_state(c);
        if (!s->kick && !s->bs.link.ev_down)
            break;
    }
}

/* ---- Public API
 * ---------------------------------------------------------------------------------- */

void dk_client_config_init(struct dk_client_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->wlan = true;
    cfg->wlan_instances = 4;
    cfg->bs_backoff_min_ms = 1000;
    cfg->bs_backoff_max_ms = 60000;
    cfg->bs_timeout_ms = 60000;
    cfg->bs_pct = -1;
    cfg->lifetime_s = 86400;
    cfg->update_fraction_pm = 500;
    cfg->reg_retries = 5;
    cfg->reg_retry_ms = 60000;
    cfg->reg_sequence_delay_ms = 86400000;
    cfg->dereg_timeout_ms = 10000;
    cfg->sample_ms = 1000;
    cfg->max_observations = 16;
    cfg->max_attrs = 64;
    cfg->max_instances = 128;
    cfg->max_value_len = 4096;
    cfg->max_payload = 4096;
}

void dk_client_init(struct dk_client *c)
{
    c->impl = NULL;
}

static bool endpoint_ok(const char *ep)
{
    if (!ep || !*ep || strlen(ep) > 128)
        return false;
    for (const char *p = ep; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
        if (!ok)
            return false;
    }
    return true;
}

int dk_client_setup(struct dk_client *c, const struct dk_client_config *cfg)
{
    if (!c || !cfg || !endpoint_ok(cfg->endpoint) || !cfg->rng || !cfg->cbs.open_transport ||
        !cfg->cbs.close_transport || cfg->max_payload < 64 || cfg->max_instances == 0 ||
        cfg->bs_backoff_min_ms <= 0 || cfg->bs_backoff_max_ms < cfg->bs_backoff_min_ms ||
        cfg->lifetime_s == 0 || cfg->update_fraction_pm == 0 || cfg->update_fraction_pm > 1000)
        return DK_EINVAL;
    if (cfg->binding && (strlen(cfg->binding) == 0 || strlen(cfg->binding) >= 8))
        return DK_EINVAL;
    if (cfg->bs_uri && strlen(cfg->bs_uri) >= URI_MAX)
        return DK_EINVAL;
    dk_client_free(c);
    const struct dk_alloc *a = cfg->alloc ? cfg->alloc : dk_alloc_default();
    struct dk_client_impl *s = a->alloc(a->user, sizeof *s);
    if (!s)
        return DK_ENOMEM;
    memset(s, 0, sizeof *s);
    c->impl = s;
    s->cfg = cfg;
    s->alloc = a;
    s->binding = cfg->binding ? cfg->binding : "U";
    s->version = cfg->lwm2m_version ? cfg->lwm2m_version : "1.1";
    link_reset(&s->bs.link);
    s->acl_dirty = true;
    dk_coap_ep_init(&s->ep);
    if (cfg->coap) {
        s->ccfg = cfg->coap;
    } else {
        dk_coap_config_init(&s->coap_cfg);
        s->coap_cfg.rng = cfg->rng;
        s->coap_cfg.alloc = a;
        s->coap_cfg.log = cfg->log;
        s->ccfg = &s->coap_cfg;
    }
    int rc = dk_coap_ep_setup(&s->ep, s->ccfg);
    if (rc)
        goto fail;
    dk_coap_ep_set_handler(&s->ep, dk_cl_handler, c);
    dk_coap_ep_set_event_cb(&s->ep, dk_cl_coap_event, c);
    rc = dk_cl_std_setup(c, 0);
    if (rc)
        goto fail;
    s->state = DK_CLIENT_IDLE;
    return 0;
fail:
    dk_client_free(c);
    return rc;
}

void dk_client_free(struct dk_client *c)
{
    if (!c || !c->impl)
        return;
    struct dk_client_impl *s = c->impl;
    while (s->servers) {
        struct dk_cl_server *v = s->servers;
        s->servers = v->next;
        dk_cl_free(s, v);
    }
    dk_cl_obs_clear(s);
    dk_cl_attr_clear(s);
    while (s->objs) {
        struct dk_cl_obj *o = s->objs;
        s->objs = o->next;
        dk_cl_obj_clear(s, o);
        dk_cl_free(s, o);
    }
    dk_cl_free(s, s->acls);
    dk_coap_ep_free(&s->ep);
    const struct dk_alloc *a = s->alloc;
    dk_memzero(s, sizeof *s);
    a->free(a->user, s);
    c->impl = NULL;
}

int dk_client_add_object(struct dk_client *c, const struct dk_client_object *obj)
{
    struct dk_client_impl *s = c->impl;
    if (!s || !obj || !obj->def || obj->def->id > DK_LWM2M_ID_MAX)
        return DK_EINVAL;
    if (s->started)
        return DK_ESTATE;
    if (dk_cl_obj_find(s, obj->def->id))
        return DK_EEXIST;
    for (size_t i = 1; i < obj->def->n_res; i++)
        if (obj->def->res[i].id <= obj->def->res[i - 1].id)
            return DK_EINVAL;
    struct dk_cl_obj *o = dk_cl_alloc(s, sizeof *o);
    if (!o)
        return DK_ENOMEM;
    memset(o, 0, sizeof *o);
    o->def = obj->def;
    o->ops = obj->ops;
    o->user = obj->user;
    o->flags = obj->flags;
    struct dk_cl_obj **pp = &s->objs;
    while (*pp && (*pp)->def->id < obj->def->id)
        pp = &(*pp)->next;
    o->next = *pp;
    *pp = o;
    return 0;
}

int dk_client_load(struct dk_client *c, const struct dk_store_record *recs, size_t n)
{
    struct dk_client_impl *s = c->impl;
    if (!s || (n && !recs))
        return DK_EINVAL;
    if (s->started)
        return DK_ESTATE;
    return dk_cl_load(c, recs, n);
}

int dk_client_start(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s)
        return DK_EINVAL;
    if (s->started || s->stopped)
        return DK_ESTATE;
    s->now = now;
    bool on = false;
    dk_cl_get_bool(s, DK_LWM2M_OID_LIGHT_CONTROL, 0, 5850, &on);
    s->led_on = on;
    s->on_since = now;
    dk_cl_std_led_apply(c);
    s->started = true;
    if (usable_accounts(s) > 0) {
        servers_build(c, now);
        if (!s->servers) {
            s->started = false;
            return DK_ENOMEM;
        }
    } else if (bootstrap_start(c, s->cfg->bs_holdoff_ms, now)) {
        s->started = false;
        return DK_ENOTFOUND;
    }
    drive(c, now);
    return 0;
}

int dk_client_stop(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s || !s->started || s->stopped || s->stopping == STOP_STOP)
        return DK_ESTATE;
    s->now = now;
    s->reset_pending = false;
    stop_begin(c, STOP_STOP, now);
    drive(c, now);
    return 0;
}

int dk_client_factory_reset(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s || !s->started || s->stopped)
        return DK_ESTATE;
    s->now = now;
    if (s->stopping == STOP_NONE)
        s->reset_pending = true;
    else
        s->stopping = STOP_RESET;
    drive(c, now);
    return 0;
}

int dk_client_bootstrap(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s || !s->started || s->stopped || s->stopping != STOP_NONE)
        return DK_ESTATE;
    if (!dk_cl_bs_account_find(s))
        return DK_ENOTFOUND;
    s->now = now;
    s->bs_pending = true;
    drive(c, now);
    return 0;
}

int dk_client_recv(struct dk_client *c, const struct dk_addr *peer, const uint8_t *data, size_t len,
                   dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s || !peer)
        return DK_EINVAL;
    s->now = now;
    struct dk_cl_server *v;
    bool is_bs;
    if (!dk_cl_peer_lookup(s, peer, &v, &is_bs) && !s->cfg->serve_any_peer)
        return DK_ENOTFOUND;
    int rc = dk_coap_ep_recv(&s->ep, peer, data, len, now);
    drive(c, now);
    return rc;
}

void dk_client_tick(struct dk_client *c, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s)
        return;
    s->now = now;
    dk_coap_ep_tick(&s->ep, now);
    if (s->started && !s->stopped)
        dk_cl_obs_tick(c, now);
    drive(c, now);
}

int dk_client_pop_tx(struct dk_client *c, struct dk_addr *to, uint8_t *buf, size_t cap)
{
    if (!c->impl)
        return 0;
    return dk_coap_ep_pop_tx(&c->impl->ep, to, buf, cap);
}

dk_time_t dk_client_deadline(const struct dk_client *c)
{
    struct dk_client_impl *s = c->impl;
    if (!s)
        return DK_TIME_NEVER;
    dk_time_t d = dk_coap_ep_deadline(&s->ep);
    if (!s->started || s->stopped)
        return d;
    if (s->kick || s->reset_pending || s->bs_pending || s->refresh_pending)
        d = dk_time_min(d, s->now);
    if (s->bs.st == BS_WAIT || s->bs.st == BS_PROVISION)
        d = dk_time_min(d, s->bs.timer);
    if (s->bs.link.st != LINK_NONE && s->bs.st == BS_OFF)
        d = dk_time_min(d, s->bs.link.close_at);
    if (s->stopping != STOP_NONE)
        d = dk_time_min(d, s->stop_deadline);
    for (struct dk_cl_server *v = s->servers; v; v = v->next) {
        if (v->st == REG_WAIT || v->st == REG_OK)
            d = dk_time_min(d, v->timer);
        if (v->st == REG_DEREG)
            d = dk_time_min(d, v->dereg_deadline);
        if (v->st == REG_DONE && v->link.st != LINK_NONE)
            d = dk_time_min(d, v->link.close_at);
    }
    return dk_time_min(d, dk_cl_obs_deadline(s));
}

int dk_client_transport_up(struct dk_client *c, uint32_t id, const struct dk_addr *peer,
                           dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s || !peer)
        return DK_EINVAL;
    struct dk_cl_link *l = link_by_id(s, id);
    if (!l || l->st != LINK_OPENING)
        return DK_ENOTFOUND;
    struct dk_cl_server *v;
    bool is_bs;
    if (dk_cl_peer_lookup(s, peer, &v, &is_bs))
        return DK_EEXIST;
    l->peer = *peer;
    l->st = LINK_UP;
    if (!s->in_cb)
        s->now = now;
    drive(c, now);
    return 0;
}

int dk_client_transport_down(struct dk_client *c, uint32_t id, int reason, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s)
        return DK_EINVAL;
    struct dk_cl_link *l = link_by_id(s, id);
    if (!l)
        return DK_ENOTFOUND;
    l->ev_down = true;
    l->down_reason = reason < 0 ? reason : DK_ECLOSED;
    if (!s->in_cb)
        s->now = now;
    s->kick = true;
    drive(c, now);
    return 0;
}

int dk_client_set_value(struct dk_client *c, const struct dk_lwm2m_path *p,
                        const struct dk_lwm2m_value *v, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s || !p || !v || p->len < 3 || v->type == DK_LWM2M_TYPE_NONE)
        return DK_EINVAL;
    struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
    struct dk_cl_inst *in = dk_cl_inst_find(o, p->ids[1]);
    const struct dk_lwm2m_resource_def *d = in ? dk_cl_res_def(o, p->ids[2]) : NULL;
    if (!d || d->type == DK_LWM2M_TYPE_NONE)
        return DK_ENOTFOUND;
    if (d->multiple != (p->len == 4))
        return DK_EINVAL;
    struct dk_lwm2m_value val = *v;
    if (val.type != d->type && dk_lwm2m_value_convert(&val, d->type))
        return DK_EINVAL;
    int rc = dk_cl_val_set(s, in, p->ids[2], p->len == 4 ? p->ids[3] : NONE_ID, &val, false);
    if (rc)
        return rc;
    if (o->def->id == DK_LWM2M_OID_ACCESS_CONTROL)
        s->acl_dirty = true;
    s->now = now;
    if (s->started && !s->stopped)
        dk_cl_obs_touch(c, p, now);
    drive(c, now);
    return 0;
}

int dk_client_get_value(struct dk_client *c, const struct dk_lwm2m_path *p,
                        struct dk_lwm2m_value *out, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s || !p || !out || p->len < 3)
        return DK_EINVAL;
    struct dk_cl_obj *o = dk_cl_obj_find(s, p->ids[0]);
    struct dk_cl_inst *in = dk_cl_inst_find(o, p->ids[1]);
    if (!in || !dk_cl_res_def(o, p->ids[2]))
        return DK_ENOTFOUND;
    return dk_cl_read_value(c, o, in, p->ids[2], p->len == 4 ? p->ids[3] : NONE_ID, out, now);
}

bool dk_client_has_instance(const struct dk_client *c, uint16_t oid, uint16_t iid)
{
    return c->impl && dk_cl_inst_get(c->impl, oid, iid) != NULL;
}

int dk_client_create_instance(struct dk_client *c, uint16_t oid, uint16_t iid, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s)
        return DK_EINVAL;
    struct dk_cl_obj *o = dk_cl_obj_find(s, oid);
    if (!o)
        return DK_ENOTFOUND;
    int rc = dk_cl_inst_create(s, o, iid, NULL);
    if (rc)
        return rc;
    if (o->ops && o->ops->created) {
        s->in_cb++;
        o->ops->created(c, o->user, iid, now);
        s->in_cb--;
    }
    dk_cl_objects_changed(c);
    s->now = now;
    drive(c, now);
    return 0;
}

int dk_client_changed(struct dk_client *c, const struct dk_lwm2m_path *p, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s || !p)
        return DK_EINVAL;
    s->now = now;
    if (s->started && !s->stopped)
        dk_cl_obs_touch(c, p, now);
    drive(c, now);
    return 0;
}

void dk_client_set_time(struct dk_client *c, int64_t unix_s, dk_time_t now)
{
    struct dk_client_impl *s = c->impl;
    if (!s)
        return;
    s->has_time = true;
    s->time_base_s = unix_s;
    s->time_base_ms = now;
}

enum dk_client_state dk_client_state(const struct dk_client *c)
{
    return c->impl ? compute_state(c->impl) : DK_CLIENT_IDLE;
}

const char *dk_client_state_name(enum dk_client_state st)
{
    switch (st) {
    case DK_CLIENT_IDLE:
        return "idle";
    case DK_CLIENT_BOOTSTRAPPING:
        return "bootstrapping";
    case DK_CLIENT_REGISTERING:
        return "registering";
    case DK_CLIENT_REGISTERED:
        return "registered";
    case DK_CLIENT_STOPPING:
        return "stopping";
    case DK_CLIENT_STOPPED:
        return "stopped";
    }
    return "unknown";
}

bool dk_client_registered(const struct dk_client *c, uint16_t ssid, const char **location)
{
    if (!c->impl)
        return false;
    struct dk_cl_server *v = dk_cl_server_by_ssid(c->impl, ssid);
    if (!v || (v->st != REG_OK && v->st != REG_UPDATING))
        return false;
    if (location)
        *location = v->location;
    return true;
}

size_t dk_client_server_count(const struct dk_client *c)
{
    return c->impl ? usable_accounts(c->impl) : 0;
}

size_t dk_client_observation_count(const struct dk_client *c)
{
    return c->impl ? c->impl->nobs : 0;
}

size_t dk_client_heap(const struct dk_client *c)
{
    struct dk_client_impl *s = c->impl;
    return s ? sizeof *s + s->heap + dk_coap_ep_heap(&s->ep) : 0;
}

const struct dk_coap_stats *dk_client_coap_stats(const struct dk_client *c)
{
    return c->impl ? dk_coap_ep_stats(&c->impl->ep) : NULL;
}
