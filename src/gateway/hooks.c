/* What the engines' wiring calls: the bootstrap decision, registrations,
 * notifications, audit. Each records in the database, audits what is a
 * decision or a refusal, and publishes on the event stream. */
#include "internal.h"

#include <duckling/clock.h>
#include <duckling/err.h>
#include <duckling/mem.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MOD "gateway"

struct dk_gwdb *dk_gw_db(struct dk_gw *gw)
{
    return gw->cfg.db;
}

int64_t dk_gw_now(const struct dk_gw *gw)
{
    return gw->cfg.wall ? gw->cfg.wall() : dk_clock_wall();
}

static bool bad_ep(const char *ep)
{
    return !ep || !ep[0] || strnlen(ep, DK_GW_EP_MAX + 1) > DK_GW_EP_MAX;
}

static int audit_v(struct dk_gw *gw, const char *ep, const char *event, const char *fmt, va_list ap)
{
    char detail[DK_GW_DETAIL_MAX + 1];
    vsnprintf(detail, sizeof detail, fmt, ap);
    int64_t id = 0;
    int64_t now = dk_gw_now(gw);
    int err = dk_gwdb_audit_add(gw->cfg.db, now, ep, event, detail, &id);
    if (err)
        return err;
    gw->audit_count++;
    dk_info(gw->cfg.log, MOD, "audit: %s%s%s: %s", ep && ep[0] ? ep : "", ep && ep[0] ? " " : "",
            event, detail);
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddNumberToObject(o, "id", (double)id);
        cJSON_AddStringToObject(o, "event", event);
        cJSON_AddStringToObject(o, "detail", detail);
    }
    dk_gw_publish_obj(gw, "audit", ep, o);
    return 0;
}

int dk_gw_audit(struct dk_gw *gw, const char *ep, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int err = audit_v(gw, ep, event, fmt, ap);
    va_end(ap);
    return err;
}

/* Unauthenticated clients must not be able to fill the disk through the
 * audit log: at most 20 refusals per second are written, the rest counted
 * and summarised. */
void dk_gw_audit_refusal(struct dk_gw *gw, const char *ep, const char *event, const char *detail)
{
    int64_t now = dk_gw_now(gw);
    if (now != gw->audit_window) {
        if (gw->audit_suppressed)
            dk_gw_audit(gw, NULL, "api.refused.suppressed", "%lu more refused requests not logged",
                        gw->audit_suppressed);
        gw->audit_window = now;
        gw->audit_in_window = 0;
        gw->audit_suppressed = 0;
    }
    if (gw->audit_in_window >= 20) {
        gw->audit_suppressed++;
        return;
    }
    gw->audit_in_window++;
    dk_gw_audit(gw, ep, event, "%s", detail);
}

static void publish_bootstrap(struct dk_gw *gw, const char *ep, const char *action,
                              const char *reason, const struct dk_gw_request *r)
{
    cJSON *o = r ? dk_gw_json_request(r) : cJSON_CreateObject();
    if (!o)
        return;
    cJSON_DeleteItemFromObject(o, "state");
    cJSON_AddStringToObject(o, "action", action);
    if (reason)
        cJSON_AddStringToObject(o, "reason", reason);
    dk_gw_publish_obj(gw, "bootstrap", ep, o);
}

static int refuse(struct dk_gw *gw, const char *ep, const char *reason)
{
    publish_bootstrap(gw, ep, "refused", reason, NULL);
    return dk_gw_audit(gw, ep, "bootstrap.refused", "%s", reason);
}

int dk_gw_bootstrap_attempt(struct dk_gw *gw, const char *ep, bool label_match, int peer_cred_type,
                            const char *peer, enum dk_gw_decision *out)
{
    *out = DK_GW_REFUSE;
    if (bad_ep(ep) || (peer && strnlen(peer, DK_GW_PEER_MAX + 1) > DK_GW_PEER_MAX))
        return DK_EINVAL;
    struct dk_gwdb *db = gw->cfg.db;
    int64_t now = dk_gw_now(gw);
    struct dk_gw_oob rec;
    int err = dk_gwdb_find_oob(db, ep, &rec);
    if (err == DK_ENOTFOUND)
        return refuse(gw, ep, "no OOB record for this endpoint: the label was never scanned");
    if (err)
        return err;
    int rec_type = rec.cred_type;
    int64_t rec_created = rec.created;
    dk_memzero(&rec, sizeof rec);

    char why[160];
    if (peer_cred_type != rec_type || !label_match) {
        if (peer_cred_type != rec_type)
            snprintf(why, sizeof why, "the device authenticated with %s but its label says %s",
                     dk_gw_cred_type_name(peer_cred_type), dk_gw_cred_type_name(rec_type));
        else
            snprintf(why, sizeof why, "the device's %s credential does not match its label",
                     dk_gw_cred_type_name(peer_cred_type));
        dk_gwdb_request_refused(db, ep, peer_cred_type, peer, now, NULL);
        return refuse(gw, ep, why);
    }

    struct dk_gw_request last;
    bool have_last = dk_gwdb_request_latest(db, ep, &last) == 0;
    if (have_last && last.state == DK_GW_REQ_DENIED && last.decided >= rec_created)
        return refuse(gw, ep, "denied by the user (scan the label again to allow a new request)");

    struct dk_gw_device dev;
    bool have_dev = dk_gwdb_device_get(db, ep, &dev) == 0;
    if (have_last && last.state == DK_GW_REQ_APPROVED && have_dev &&
        dev.state == DK_GW_DEV_APPROVED) {
        *out = DK_GW_APPROVED;
        return 0;
    }

    int64_t ttl = gw->cfg.pending_ttl ? gw->cfg.pending_ttl : 600;
    size_t max = gw->cfg.max_pending ? gw->cfg.max_pending : 64;
    int64_t id = 0;
    err = dk_gwdb_request_attempt(db, ep, true, peer_cred_type, peer, now, ttl, max, &id);
    if (err == DK_ELIMIT)
        return refuse(gw, ep, "too many pending bootstrap requests");
    if (err)
        return err;
    struct dk_gw_request req;
    err = dk_gwdb_request_latest(db, ep, &req);
    if (err)
        return err;
    bool fresh = !have_last || last.id != id;
    if (fresh) {
        publish_bootstrap(gw, ep, "requested", NULL, &req);
        dk_gw_audit(gw, ep, "bootstrap.requested",
                    "request %lld from %s, %s credential matches the label", (long long)id,
                    peer && peer[0] ? peer : "?", dk_gw_cred_type_name(peer_cred_type));
    }
    if (gw->cfg.approval == DK_GW_APPROVAL_AUTO) {
        err = dk_gwdb_approve(db, ep, now);
        if (err)
            return err;
        dk_gwdb_request_latest(db, ep, &req);
        publish_bootstrap(gw, ep, "approved", "policy auto", &req);
        dk_gw_audit(gw, ep, "bootstrap.approved", "request %lld approved by policy auto",
                    (long long)id);
        *out = DK_GW_APPROVED;
        return 0;
    }
    *out = DK_GW_PENDING;
    return 0;
}

int dk_gw_creds_issued(struct dk_gw *gw, const struct dk_gw_cred *c)
{
    int64_t id = 0;
    int err = dk_gwdb_creds_issue(gw->cfg.db, c, dk_gw_now(gw), &id);
    if (err)
        return err;
    if (c->kind == DK_GW_CRED_PSK)
        dk_gw_audit(gw, c->endpoint, "credentials.issued",
                    "operational PSK issued (credential %lld, identity %zu bytes)", (long long)id,
                    c->psk_identity_len);
    else
        dk_gw_audit(gw, c->endpoint, "credentials.issued",
                    "operational %s issued (credential %lld)",
                    c->kind == DK_GW_CRED_X509 ? "certificate" : "raw public key", (long long)id);
    return 0;
}

int dk_gw_device_event(struct dk_gw *gw, const char *ep, const char *action)
{
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddStringToObject(o, "action", action);
    return dk_gw_publish_obj(gw, "device", ep, o);
}

int dk_gw_bootstrap_finished(struct dk_gw *gw, const char *ep)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    int err = dk_gwdb_device_set_state(gw->cfg.db, ep, DK_GW_DEV_BOOTSTRAPPED, dk_gw_now(gw));
    if (err)
        return err;
    publish_bootstrap(gw, ep, "finished", NULL, NULL);
    return dk_gw_audit(gw, ep, "bootstrap.finished", "Bootstrap-Finish acknowledged");
}

int dk_gw_bootstrap_failed(struct dk_gw *gw, const char *ep, const char *why)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    publish_bootstrap(gw, ep, "failed", why, NULL);
    return dk_gw_audit(gw, ep, "bootstrap.failed", "%s", why ? why : "");
}

int dk_gw_registered(struct dk_gw *gw, const char *ep, const struct dk_gw_registration *reg,
                     bool update)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    struct dk_gw_registration r = *reg;
    if (!r.registered)
        r.registered = dk_gw_now(gw);
    int err = dk_gwdb_device_set_registration(gw->cfg.db, ep, &r);
    if (err)
        return err;
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "action", update ? "updated" : "registered");
        cJSON_AddNumberToObject(o, "lifetime", (double)r.lifetime);
        cJSON_AddStringToObject(o, "binding", r.binding);
        cJSON_AddStringToObject(o, "lwm2m", r.version);
        cJSON_AddStringToObject(o, "objects", r.links);
        cJSON_AddStringToObject(o, "peer", r.peer);
    }
    dk_gw_publish_obj(gw, "registration", ep, o);
    if (!update)
        dk_gw_audit(gw, ep, "server.registered", "registered from %s, lifetime %lld s",
                    r.peer[0] ? r.peer : "?", (long long)r.lifetime);
    return 0;
}

int dk_gw_deregistered(struct dk_gw *gw, const char *ep, bool expired)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    int err = dk_gwdb_device_set_state(gw->cfg.db, ep, DK_GW_DEV_OFFLINE, dk_gw_now(gw));
    if (err)
        return err;
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddStringToObject(o, "action", expired ? "expired" : "deregistered");
    dk_gw_publish_obj(gw, "registration", ep, o);
    return dk_gw_audit(gw, ep, expired ? "server.expired" : "server.deregistered", "%s",
                       expired ? "registration lifetime ran out" : "the device de-registered");
}

int dk_gw_notify(struct dk_gw *gw, const char *ep, const char *path, int content_format,
                 const char *json)
{
    if (bad_ep(ep) || !path || strnlen(path, DK_GW_PATH_MAX + 1) > DK_GW_PATH_MAX || !json)
        return DK_EINVAL;
    cJSON *v = cJSON_Parse(json);
    if (!v)
        return DK_EINVAL;
    int64_t now = dk_gw_now(gw);
    int err = dk_gwdb_values_put(gw->cfg.db, ep, path, content_format, json, now);
    if (!err)
        dk_gwdb_device_touch(gw->cfg.db, ep, now);
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        cJSON_Delete(v);
        return DK_ENOMEM;
    }
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddNumberToObject(o, "content_format", content_format);
    cJSON_AddItemToObject(o, "value", v);
    dk_gw_publish_obj(gw, "notification", ep, o);
    return err;
}

int dk_gw_location(struct dk_gw *gw, const char *ep, double lat, double lon)
{
    if (bad_ep(ep))
        return DK_EINVAL;
    int err = dk_gwdb_device_set_location(gw->cfg.db, ep, lat, lon, dk_gw_now(gw));
    if (err)
        return err;
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "action", "location");
        cJSON_AddNumberToObject(o, "lat", lat);
        cJSON_AddNumberToObject(o, "lon", lon);
    }
    return dk_gw_publish_obj(gw, "device", ep, o);
}

static int on_expired(void *user, const struct dk_gw_request *r)
{
    struct dk_gw *gw = user;
    struct dk_gw_request copy = *r;
    copy.state = DK_GW_REQ_EXPIRED;
    publish_bootstrap(gw, r->endpoint, "expired", "not approved in time", &copy);
    dk_gw_audit(gw, r->endpoint, "bootstrap.expired", "request %lld was not approved in time",
                (long long)r->id);
    return 0;
}

void dk_gw_expire_due(struct dk_gw *gw)
{
    int n = dk_gwdb_expire_due(gw->cfg.db, dk_gw_now(gw), on_expired, gw);
    if (n < 0)
        dk_warn(gw->cfg.log, MOD, "expiring pending requests: %s", dk_strerror(n));
}
