/* duckling-gateway: the LwM2M Server engine (lwm2m_server.h) wired to the
 * gateway: registrations authorised against the issued operational
 * credentials and kept in the database (restored at start), and the REST
 * API's device operations (struct dk_gw_device_ops) as engine operations
 * with their results turned into JSON. */
#include "wire.h"

#include <duckling/err.h>
#include <duckling/lwm2m_server.h>
#include <duckling/mem.h>

#include <cjson/cJSON.h>
#include <mbedtls/base64.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "duckling-gateway"
#define MOD "server"

/* One REST request waiting on the engine, or an observation. */
struct gw_op {
    struct gw_op *next;
    struct gw_wire *w;
    uint32_t id; /* the engine's operation */
    enum dk_server_op_kind kind;
    char ep[DK_GW_EP_MAX + 1];
    char path[DK_LWM2M_PATH_STR_MAX];
    void *req; /* the gateway request waiting for done(); NULL once answered */
    dk_gw_done_fn *done;
    void *cancel_req; /* an unobserve waiting for the end of this observation */
    dk_gw_done_fn *cancel_done;
};

#define GW_FORGET_MAX 64

struct gw_srv {
    struct dk_server_config cfg;
    struct dk_server srv;
    struct gw_op *ops;
    /* Endpoints to forget at the next tick: forget() may come from inside a
     * CoAP callback of the very session it must close. */
    char forget[GW_FORGET_MAX][DK_GW_EP_MAX + 1];
    size_t nforget;
    bool refusal_audited; /* authorize() audited the refusal the engine reports next */
};

static struct gw_srv the_srv;

static struct gw_srv *S(struct gw_wire *w)
{
    return w->srv_engine;
}

/* ---- values as JSON ------------------------------------------------------- */

static cJSON *value_json(const struct dk_lwm2m_value *v)
{
    switch (v->type) {
    case DK_LWM2M_TYPE_STRING:
    case DK_LWM2M_TYPE_CORELNK: {
        char *s = malloc(v->v.bytes.n + 1);
        if (!s)
            return NULL;
        memcpy(s, v->v.bytes.p, v->v.bytes.n);
        s[v->v.bytes.n] = '\0';
        cJSON *j = cJSON_CreateString(s);
        free(s);
        return j;
    }
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME:
        return cJSON_CreateNumber((double)v->v.i);
    case DK_LWM2M_TYPE_UNSIGNED:
        return cJSON_CreateNumber((double)v->v.u);
    case DK_LWM2M_TYPE_FLOAT:
        return isfinite(v->v.f) ? cJSON_CreateNumber(v->v.f) : cJSON_CreateNull();
    case DK_LWM2M_TYPE_BOOLEAN:
        return cJSON_CreateBool(v->v.b);
    case DK_LWM2M_TYPE_OBJLNK: {
        char s[16];
        snprintf(s, sizeof s, "%u:%u", v->v.lnk.oid, v->v.lnk.iid);
        return cJSON_CreateString(s);
    }
    case DK_LWM2M_TYPE_OPAQUE: {
        size_t olen = 0;
        mbedtls_base64_encode(NULL, 0, &olen, v->v.bytes.p, v->v.bytes.n);
        unsigned char *b = malloc(olen + 1);
        if (!b)
            return NULL;
        if (mbedtls_base64_encode(b, olen + 1, &olen, v->v.bytes.p, v->v.bytes.n) != 0) {
            free(b);
            return NULL;
        }
        b[olen] = '\0';
        cJSON *o = cJSON_CreateObject();
        if (o)
            cJSON_AddStringToObject(o, "opaque", (const char *)b);
        free(b);
        return o;
    }
    default:
        return cJSON_CreateNull();
    }
}

/* A single resource (the op's path) as its value; anything else as
 * [{"n": "/O/I/R", "v": ...}, ...]. Returns malloc'ed text or NULL. */
static char *records_json(const struct dk_server_result *r)
{
    if (r->n_recs == 1 && dk_lwm2m_path_equal(&r->recs[0].path, &r->path) &&
        r->path.len >= DK_LWM2M_RESOURCE) {
        cJSON *v = value_json(&r->recs[0].value);
        char *t = v ? cJSON_PrintUnformatted(v) : NULL;
        cJSON_Delete(v);
        return t;
    }
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < r->n_recs; i++) {
        char p[DK_LWM2M_PATH_STR_MAX];
        dk_lwm2m_path_str(&r->recs[i].path, p, sizeof p);
        cJSON *o = cJSON_CreateObject();
        cJSON *v = value_json(&r->recs[i].value);
        if (!o || !v) {
            cJSON_Delete(o);
            cJSON_Delete(v);
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddStringToObject(o, "n", p);
        cJSON_AddItemToObject(o, "v", v);
        cJSON_AddItemToArray(a, o);
    }
    char *t = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return t;
}

/* JSON into a value of the resource's type. String and opaque bytes are
 * borrowed from j (or from *tmp, which the caller frees). */
static int json_value(const cJSON *j, const struct dk_lwm2m_path *path, struct dk_lwm2m_value *v,
                      unsigned char **tmp)
{
    enum dk_lwm2m_type want = DK_LWM2M_TYPE_NONE;
    const struct dk_lwm2m_resource_def *def =
        path->len >= 3 ? dk_lwm2m_resource_def(path->ids[0], path->ids[2]) : NULL;
    if (def)
        want = def->type;
    if (cJSON_IsBool(j)) {
        *v = dk_lwm2m_bool(cJSON_IsTrue(j));
    } else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (want == DK_LWM2M_TYPE_FLOAT || floor(d) != d || fabs(d) > 9.0e15)
            *v = dk_lwm2m_float(d);
        else
            *v = dk_lwm2m_int((int64_t)d);
    } else if (cJSON_IsString(j)) {
        const char *s = j->valuestring;
        unsigned oid, iid;
        char end;
        if (want == DK_LWM2M_TYPE_OBJLNK && sscanf(s, "%u:%u%c", &oid, &iid, &end) == 2 &&
            oid <= 65535 && iid <= 65535)
            *v = dk_lwm2m_objlnk((uint16_t)oid, (uint16_t)iid);
        else if (want == DK_LWM2M_TYPE_BOOLEAN && (!strcmp(s, "true") || !strcmp(s, "false")))
            *v = dk_lwm2m_bool(s[0] == 't');
        else
            *v = dk_lwm2m_str(s);
    } else if (cJSON_IsObject(j) && cJSON_IsString(cJSON_GetObjectItem(j, "opaque"))) {
        const char *b = cJSON_GetObjectItem(j, "opaque")->valuestring;
        size_t n = strlen(b), olen = 0;
        *tmp = malloc(n + 1);
        if (!*tmp)
            return DK_ENOMEM;
        if (mbedtls_base64_decode(*tmp, n + 1, &olen, (const unsigned char *)b, n) != 0)
            return DK_EPARSE;
        *v = dk_lwm2m_opaque(*tmp, olen);
    } else {
        return DK_EPARSE;
    }
    if (want != DK_LWM2M_TYPE_NONE && v->type != want) {
        if (want == DK_LWM2M_TYPE_CORELNK && v->type == DK_LWM2M_TYPE_STRING)
            v->type = DK_LWM2M_TYPE_CORELNK;
        else if (dk_lwm2m_value_convert(v, want) != 0)
            return DK_EPARSE;
    }
    return 0;
}

/* ---- operations ------------------------------------------------------------- */

static struct gw_op *op_new(struct gw_wire *w, const char *ep, const char *path,
                            enum dk_server_op_kind kind, dk_gw_done_fn *done, void *req)
{
    struct gw_op *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->w = w;
    o->kind = kind;
    snprintf(o->ep, sizeof o->ep, "%s", ep);
    snprintf(o->path, sizeof o->path, "%s", path);
    o->done = done;
    o->req = req;
    o->next = S(w)->ops;
    S(w)->ops = o;
    return o;
}

static void op_free(struct gw_wire *w, struct gw_op *o)
{
    for (struct gw_op **p = &S(w)->ops; *p; p = &(*p)->next)
        if (*p == o) {
            *p = o->next;
            break;
        }
    free(o);
}

static bool op_live(struct gw_wire *w, const struct gw_op *o)
{
    for (const struct gw_op *p = S(w)->ops; p; p = p->next)
        if (p == o)
            return true;
    return false;
}

static void answer(struct gw_op *o, const struct dk_gw_result *res)
{
    void *req = o->req;
    dk_gw_done_fn *done = o->done;
    o->req = NULL;
    if (req && done)
        done(req, res);
}

static void on_result(void *user, const struct dk_server_result *r)
{
    struct gw_op *o = user;
    struct gw_wire *w = o->w;
    char *json = NULL;
    if (r->status == 0 && r->n_recs && !r->decode_err)
        json = records_json(r);
    struct dk_gw_result res = {
        .err = r->status,
        .coap_code = r->code,
        .content_format = r->content_format,
        .json = json,
    };
    if (o->kind == DK_SERVER_OBSERVE) {
        if (r->notification && r->status == 0 && (r->code >> 5) == 2 && json)
            dk_gw_notify(w->gw, o->ep, o->path, r->content_format, json);
        else if (o->req)
            answer(o, &res);
        if (!r->observing) {
            if (o->cancel_req) {
                void *cr = o->cancel_req;
                dk_gw_done_fn *cd = o->cancel_done;
                o->cancel_req = NULL;
                struct dk_gw_result ok = {.coap_code = r->code ? r->code : 0x45,
                                          .content_format = -1};
                if (cd)
                    cd(cr, &ok);
            }
            if (op_live(w, o))
                op_free(w, o);
        }
    } else {
        answer(o, &res);
        if (op_live(w, o))
            op_free(w, o);
    }
    free(json);
}

static int parse_path(const char *s, struct dk_lwm2m_path *p)
{
    return dk_lwm2m_path_parse(s, strlen(s), p) == 0 ? 0 : DK_EINVAL;
}

static int start_op(struct gw_wire *w, const char *ep, const char *path, struct dk_server_op *op,
                    dk_gw_done_fn *done, void *req)
{
    if (!S(w))
        return DK_ECANCELED;
    struct gw_op *o = op_new(w, ep, path, op->kind, done, req);
    if (!o)
        return DK_ENOMEM;
    op->cb = on_result;
    op->cb_user = o;
    dk_time_t now = dk_clock_now();
    int rc = dk_server_op_start(&S(w)->srv, ep, op, now, &o->id);
    if (rc) {
        op_free(w, o);
        /* DK_ESTATE: registered, but not heard from since the restart. */
        return rc == DK_ESTATE ? DK_EAGAIN : rc;
    }
    dk_endpoint_flush(&w->srv_ep, now);
    if (w->srv_plain)
        dk_endpoint_flush(&w->srv_ep_plain, now);
    return 0;
}

static int dev_read(void *user, const char *ep, const char *path, dk_gw_done_fn *done, void *req)
{
    struct gw_wire *w = user;
    struct dk_lwm2m_path p;
    if (parse_path(path, &p))
        return DK_EINVAL;
    struct dk_server_op op;
    dk_server_op_init(&op, DK_SERVER_READ, &p);
    return start_op(w, ep, path, &op, done, req);
}

static int dev_write(void *user, const char *ep, const char *path, const char *value_json,
                     dk_gw_done_fn *done, void *req)
{
    struct gw_wire *w = user;
    struct dk_lwm2m_path p;
    if (parse_path(path, &p) || p.len < DK_LWM2M_INSTANCE)
        return DK_EINVAL;
    cJSON *j = cJSON_Parse(value_json);
    if (!j)
        return DK_EINVAL;
    struct dk_lwm2m_record recs[64];
    unsigned char *tmp[64] = {0};
    size_t n = 0;
    int rc = 0;
    if (p.len >= DK_LWM2M_RESOURCE) {
        recs[0] = (struct dk_lwm2m_record){.path = p};
        rc = json_value(j, &p, &recs[0].value, &tmp[0]);
        n = 1;
    } else if (cJSON_IsArray(j)) {
        /* An instance: [{"n": "/O/I/R" or "R", "v": value}, ...]. */
        const cJSON *e;
        cJSON_ArrayForEach(e, j)
        {
            const cJSON *name = cJSON_GetObjectItem(e, "n");
            const cJSON *val = cJSON_GetObjectItem(e, "v");
            if (n == 64 || !cJSON_IsString(name) || !val) {
                rc = DK_EINVAL;
                break;
            }
            struct dk_lwm2m_path rp = p;
            if (name->valuestring[0] == '/')
                rc = parse_path(name->valuestring, &rp);
            else
                rc = dk_lwm2m_path_push_segment(&rp, name->valuestring, strlen(name->valuestring));
            if (!rc && (rp.len < 3 || !dk_lwm2m_path_contains(&p, &rp)))
                rc = DK_EINVAL;
            if (rc)
                break;
            recs[n] = (struct dk_lwm2m_record){.path = rp};
            rc = json_value(val, &rp, &recs[n].value, &tmp[n]);
            n++;
            if (rc)
                break;
        }
        /* The writer wants ascending paths. */
        for (size_t i = 1; !rc && i < n; i++)
            for (size_t k = i; k > 0 && dk_lwm2m_path_compare(&recs[k - 1].path, &recs[k].path) > 0;
                 k--) {
                struct dk_lwm2m_record t = recs[k];
                recs[k] = recs[k - 1];
                recs[k - 1] = t;
                unsigned char *tt = tmp[k];
                tmp[k] = tmp[k - 1];
                tmp[k - 1] = tt;
            }
    } else {
        rc = DK_EINVAL;
    }
    if (!rc) {
        struct dk_server_op op;
        dk_server_op_init(&op, DK_SERVER_WRITE, &p);
        op.recs = recs;
        op.n_recs = n;
        rc = start_op(w, ep, path, &op, done, req);
    }
    for (size_t i = 0; i < 64; i++)
        free(tmp[i]);
    cJSON_Delete(j);
    return rc == DK_EPARSE ? DK_EINVAL : rc;
}

static int dev_execute(void *user, const char *ep, const char *path, const char *args,
                       dk_gw_done_fn *done, void *req)
{
    struct gw_wire *w = user;
    struct dk_lwm2m_path p;
    if (parse_path(path, &p) || p.len != DK_LWM2M_RESOURCE)
        return DK_EINVAL;
    struct dk_server_op op;
    dk_server_op_init(&op, DK_SERVER_EXECUTE, &p);
    op.payload = args;
    op.payload_len = args ? strlen(args) : 0;
    return start_op(w, ep, path, &op, done, req);
}

static struct gw_op *find_observation(struct gw_wire *w, const char *ep, const char *path)
{
    for (struct gw_op *o = S(w)->ops; o; o = o->next)
        if (o->kind == DK_SERVER_OBSERVE && !strcmp(o->ep, ep) && !strcmp(o->path, path))
            return o;
    return NULL;
}

static int dev_observe(void *user, const char *ep, const char *path, dk_gw_done_fn *done, void *req)
{
    struct gw_wire *w = user;
    struct dk_lwm2m_path p;
    if (parse_path(path, &p))
        return DK_EINVAL;
    struct gw_op *old = S(w) ? find_observation(w, ep, path) : NULL;
    if (old) {
        /* Observed already: re-register (a fresh first value). */
        dk_server_op_cancel(&S(w)->srv, old->id, dk_clock_now());
        op_free(w, old);
    }
    struct dk_server_op op;
    dk_server_op_init(&op, DK_SERVER_OBSERVE, &p);
    return start_op(w, ep, path, &op, done, req);
}

static int dev_cancel_observe(void *user, const char *ep, const char *path, dk_gw_done_fn *done,
                              void *req)
{
    struct gw_wire *w = user;
    struct gw_op *o = S(w) ? find_observation(w, ep, path) : NULL;
    if (!o)
        return DK_ENOTFOUND;
    dk_time_t now = dk_clock_now();
    if (o->cancel_req)
        return DK_ELIMIT;
    int rc = dk_server_observe_cancel(&S(w)->srv, o->id, now);
    if (rc == 0) {
        o->cancel_req = req;
        o->cancel_done = done;
        dk_endpoint_flush(&w->srv_ep, now);
        return 0;
    }
    /* Not established yet: forget it passively and say so at once. */
    dk_server_op_cancel(&S(w)->srv, o->id, now);
    if (o->req) {
        struct dk_gw_result gone = {.err = DK_ECANCELED, .content_format = -1};
        answer(o, &gone);
    }
    op_free(w, o);
    struct dk_gw_result ok = {.coap_code = 0x45, .content_format = -1};
    done(req, &ok);
    return 0;
}

static void dev_cancel(void *user, void *req)
{
    struct gw_wire *w = user;
    if (!S(w))
        return; /* stopped: nothing waits any more */
    for (struct gw_op *o = S(w)->ops, *next; o; o = next) {
        next = o->next;
        if (o->cancel_req == req)
            o->cancel_req = NULL;
        if (o->req != req)
            continue;
        o->req = NULL;
        if (o->kind != DK_SERVER_OBSERVE) {
            dk_server_op_cancel(&S(w)->srv, o->id, dk_clock_now());
            op_free(w, o);
        }
        /* An observation whose first answer timed out stays: its
         * notifications still reach the event stream. */
    }
}

static void forget_now(struct gw_wire *w, const char *ep, dk_time_t now)
{
    struct dk_server_reg_info info;
    struct dk_addr peer;
    struct dk_coap_ep *coap = NULL;
    bool have = dk_server_get(&S(w)->srv, ep, &info, now) == 0;
    if (have) {
        peer = *info.peer;
        coap = info.coap;
    }
    dk_server_forget(&S(w)->srv, ep, now); /* its operations end (DK_ECLOSED) */
    /* Its DTLS session was made with what was just revoked: close it. */
    if (have && coap == &w->srv_coap)
        dk_endpoint_close_peer(&w->srv_ep, &peer, now);
}

static void dev_forget(void *user, const char *ep)
{
    struct gw_wire *w = user;
    if (!S(w))
        return;
    struct gw_srv *s = S(w);
    if (s->nforget == GW_FORGET_MAX) {
        /* 64 removals in one turn of the loop: this registration ends when
         * its next Update is refused (its credentials are revoked). */
        dk_warn(w->log, MOD, "%s: too many removals at once; registration kept until refused", ep);
        return;
    }
    snprintf(s->forget[s->nforget++], DK_GW_EP_MAX + 1, "%s", ep);
}

static const struct dk_gw_device_ops dev_ops = {
    .read = dev_read,
    .write = dev_write,
    .execute = dev_execute,
    .observe = dev_observe,
    .cancel_observe = dev_cancel_observe,
    .cancel = dev_cancel,
    .forget = dev_forget,
};

/* ---- registration interface ------------------------------------------------------ */

static const struct dk_dtls_peer_info *peer_info(void *user, struct dk_coap_ep *coap,
                                                 const struct dk_addr *peer)
{
    struct gw_wire *w = user;
    return coap == &w->srv_coap ? dk_endpoint_peer_info(&w->srv_ep, peer) : NULL;
}

static const char *auth_name(enum dk_server_auth_kind k)
{
    return k == DK_SERVER_AUTH_REGISTER ? "register"
           : k == DK_SERVER_AUTH_UPDATE ? "update"
                                        : "de-register";
}

static int refuse(struct gw_wire *w, const struct dk_server_auth *a, const char *fmt,
                  const char *arg)
{
    char pbuf[DK_ADDR_STRLEN], detail[300];
    dk_addr_format(a->peer, pbuf, sizeof pbuf);
    snprintf(detail, sizeof detail, fmt, arg);
    S(w)->refusal_audited = true;
    if (gw_audit_allowed(w))
        dk_gw_audit(w->gw, a->ep, "server.refused", "%s from %s refused: %s", auth_name(a->kind),
                    pbuf, detail);
    return DK_EPERM;
}

/* Plain CoAP: only devices whose label says "no security" (type 00), once
 * approved (a device may register before the Bootstrap Server has read the
 * answer to its Bootstrap-Finish: "approved" is accepted too). */
static int authorize_plain(struct gw_wire *w, const struct dk_server_auth *a)
{
    struct dk_gw_oob rec;
    int rc = dk_gwdb_find_oob(dk_gw_db(w->gw), a->ep, &rec);
    int type = rec.cred_type;
    dk_memzero(&rec, sizeof rec);
    if (rc)
        return refuse(w, a, "%s", "no label for this endpoint");
    if (type != DK_GW_CRED_NONE)
        return refuse(w, a, "its label requires %s credentials, not plain CoAP",
                      dk_gw_cred_type_name(type));
    struct dk_gw_device d;
    if (dk_gwdb_device_get(dk_gw_db(w->gw), a->ep, &d) != 0 ||
        (d.state != DK_GW_DEV_APPROVED && d.state != DK_GW_DEV_BOOTSTRAPPED &&
         d.state != DK_GW_DEV_REGISTERED && d.state != DK_GW_DEV_OFFLINE))
        return refuse(w, a, "%s", "not bootstrapped by this gateway");
    return 0;
}

static int authorize(void *user, const struct dk_server_auth *a)
{
    struct gw_wire *w = user;
    if (!a->info)
        return authorize_plain(w, a);
    struct dk_gw_cred c;
    int rc;
    if (a->info->mode == DK_DTLS_MODE_PSK)
        rc = dk_gwdb_creds_find_psk(dk_gw_db(w->gw), a->info->psk_identity,
                                    a->info->psk_identity_len, &c);
    else if (a->info->has_cert)
        rc = dk_gwdb_creds_find_hash(dk_gw_db(w->gw), a->info->cert_sha256, &c);
    else
        rc = DK_ENOTFOUND;
    char ep[DK_GW_EP_MAX + 1];
    bool revoked = rc == 0 && c.revoked;
    snprintf(ep, sizeof ep, "%s", rc == 0 ? c.endpoint : "");
    dk_memzero(&c, sizeof c);
    if (rc)
        return refuse(w, a, "%s", "credentials never issued by this gateway");
    if (revoked)
        return refuse(w, a, "%s", "its credentials were revoked");
    if (strcmp(ep, a->ep) != 0)
        return refuse(w, a, "the credentials were issued to %s", ep);
    return 0;
}

static void reg_to_gw(const struct dk_server_reg_info *r, struct dk_gw_registration *g)
{
    memset(g, 0, sizeof *g);
    g->lifetime = r->lifetime_s;
    snprintf(g->binding, sizeof g->binding, "%s", r->binding);
    snprintf(g->version, sizeof g->version, "%s", r->version);
    size_t n = r->links_len < DK_GW_LINKS_MAX ? r->links_len : DK_GW_LINKS_MAX;
    memcpy(g->links, r->links, n);
    g->links[n] = '\0';
    if (r->peer)
        dk_addr_format(r->peer, g->peer, sizeof g->peer);
    snprintf(g->location, sizeof g->location, "%s", r->location);
}

static int persist(void *user, const struct dk_server_reg_info *r, bool removed)
{
    struct gw_wire *w = user;
    if (removed)
        return 0; /* the events say how it ended */
    struct dk_gw_registration g;
    reg_to_gw(r, &g);
    g.registered = dk_gw_now(w->gw);
    return dk_gwdb_device_set_registration(dk_gw_db(w->gw), r->ep, &g);
}

static void on_event(void *user, const struct dk_server_event *ev)
{
    struct gw_wire *w = user;
    struct dk_gw_registration g;
    switch (ev->type) {
    case DK_SERVER_EV_REGISTERED:
    case DK_SERVER_EV_UPDATED:
        reg_to_gw(ev->reg, &g);
        dk_gw_registered(w->gw, ev->ep, &g, ev->type == DK_SERVER_EV_UPDATED);
        break;
    case DK_SERVER_EV_DEREGISTERED:
    case DK_SERVER_EV_EXPIRED:
        dk_gw_deregistered(w->gw, ev->ep, ev->type == DK_SERVER_EV_EXPIRED);
        break;
    default:
        break;
    }
}

static void on_audit(void *user, const char *ep, const char *what, const char *detail)
{
    struct gw_wire *w = user;
    size_t n = strlen(what);
    if (n > 8 && strcmp(what + n - 8, "-refused") == 0 && S(w)->refusal_audited) {
        S(w)->refusal_audited = false; /* authorize() said why */
        return;
    }
    if (!gw_audit_allowed(w))
        return;
    char event[64];
    snprintf(event, sizeof event, "server.%s", what);
    dk_gw_audit(w->gw, ep, event, "%s", detail);
}

/* ---- restart: registrations from the database ---------------------------------------- */

struct saved {
    char ep[DK_GW_EP_MAX + 1];
    struct dk_gw_registration reg;
};

struct saved_list {
    struct saved *v;
    size_t n, cap;
};

static int collect(void *user, const struct dk_gw_device *d)
{
    struct saved_list *l = user;
    if (d->state != DK_GW_DEV_REGISTERED || !d->has_registration)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct saved *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return DK_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    snprintf(l->v[l->n].ep, sizeof l->v[l->n].ep, "%s", d->endpoint);
    l->v[l->n].reg = d->reg;
    l->n++;
    return 0;
}

/* "1.2.3.4:5" or "[::1]:5" */
static int parse_peer(const char *s, struct dk_addr *a)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return DK_EPARSE;
    char ip[DK_ADDR_STRLEN];
    size_t n = (size_t)(colon - s);
    if (n >= sizeof ip)
        return DK_EPARSE;
    memcpy(ip, s, n);
    ip[n] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return DK_EPARSE;
    return dk_addr_from_ip(a, ip, (uint16_t)port);
}

static void restore_registrations(struct gw_wire *w)
{
    struct saved_list l = {0};
    int rc = dk_gwdb_device_list(dk_gw_db(w->gw), collect, &l);
    if (rc)
        dk_error(w->log, MOD, "reading registrations: %s", dk_strerror(rc));
    dk_time_t now = dk_clock_now();
    int64_t wall = dk_gw_now(w->gw);
    size_t restored = 0;
    for (size_t i = 0; i < l.n; i++) {
        struct saved *s = &l.v[i];
        struct dk_addr peer;
        struct dk_server_reg_info info = {
            .ep = s->ep,
            .lifetime_s = (uint32_t)s->reg.lifetime,
            .links = s->reg.links,
            .links_len = strlen(s->reg.links),
            .peer = &peer,
        };
        if (strlen(s->reg.location) >= sizeof info.location) {
            dk_gw_deregistered(w->gw, s->ep, false);
            continue;
        }
        memcpy(info.location, s->reg.location, strlen(s->reg.location) + 1);
        snprintf(info.binding, sizeof info.binding, "%s", s->reg.binding);
        snprintf(info.version, sizeof info.version, "%s", s->reg.version);
        /* Devices with label type 00 came over plain CoAP. */
        struct dk_gw_oob rec;
        bool plain =
            dk_gwdb_find_oob(dk_gw_db(w->gw), s->ep, &rec) == 0 && rec.cred_type == DK_GW_CRED_NONE;
        dk_memzero(&rec, sizeof rec);
        info.coap = plain && w->srv_plain ? &w->srv_coap_plain : &w->srv_coap;
        /* A DTLS session did not survive the restart: the old address is
         * of no use until the device handshakes again and updates (then the
         * registration follows it). A plain device's address still is. */
        if (info.coap == &w->srv_coap)
            info.peer = NULL;
        info.remaining_ms =
            (s->reg.registered + s->reg.lifetime - wall) * 1000 + S(w)->cfg.grace_ms;
        rc = parse_peer(s->reg.peer, &peer);
        if (!rc)
            rc = dk_server_restore(&S(w)->srv, &info, now);
        if (rc == 0) {
            restored++;
            continue;
        }
        dk_warn(w->log, MOD, "%s: registration not restored: %s", s->ep, dk_strerror(rc));
        dk_gw_deregistered(w->gw, s->ep, rc == DK_ETIMEDOUT);
    }
    free(l.v);
    if (l.n)
        dk_info(w->log, MOD, "%zu of %zu registrations restored", restored, l.n);
}

/* ---- life cycle ------------------------------------------------------------------------- */

int gw_srv_engine_prepare(struct gw_wire *w, struct dk_gw_config *cfg)
{
    struct gw_srv *s = &the_srv;
    memset(s, 0, sizeof *s);
    dk_server_init(&s->srv);
    w->srv_engine = s;
    dk_server_config_init(&s->cfg);
    s->cfg.rng = &w->rng;
    s->cfg.log = w->log;
    s->cfg.cbs = (struct dk_server_callbacks){
        .peer_info = peer_info,
        .authorize = authorize,
        .persist = persist,
        .event = on_event,
        .audit = on_audit,
        .user = w,
    };
    int rc = dk_server_setup(&s->srv, &s->cfg);
    if (!rc)
        rc = dk_server_attach(&s->srv, &w->srv_coap);
    if (!rc && w->srv_plain)
        rc = dk_server_attach(&s->srv, &w->srv_coap_plain);
    if (rc) {
        fprintf(stderr, PROG ": lwm2m server: %s\n", dk_strerror(rc));
        return rc;
    }
    static char status[200];
    snprintf(status, sizeof status, "running on coaps port %u%s", (unsigned)w->srv_port,
             w->srv_plain ? " and coap (nosec)" : "");
    cfg->server_status = status;
    cfg->dev_ops = &dev_ops;
    cfg->dev_user = w;
    return 0;
}

int gw_srv_engine_start(struct gw_wire *w)
{
    restore_registrations(w);
    return 0;
}

dk_time_t gw_srv_engine_tick(struct gw_wire *w, dk_time_t now)
{
    struct gw_srv *s = S(w);
    for (size_t i = 0; i < s->nforget; i++)
        forget_now(w, s->forget[i], now);
    s->nforget = 0;
    dk_server_tick(&S(w)->srv, now);
    return dk_server_deadline(&S(w)->srv);
}

void gw_srv_engine_stop(struct gw_wire *w)
{
    struct gw_srv *s = S(w);
    if (!s)
        return;
    dk_server_free(&s->srv); /* no callbacks */
    while (s->ops) {
        struct gw_op *o = s->ops;
        s->ops = o->next;
        free(o);
    }
    w->srv_engine = NULL;
}
