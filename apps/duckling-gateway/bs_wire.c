/* duckling-gateway: the Bootstrap Server engine (bootstrap.h) on its DTLS
 * endpoint, deciding through the gateway's database (dk_gw_bootstrap_attempt)
 * and issuing operational credentials from the gateway CA. */
#include "wire.h"

#include <duckling/err.h>
#include <duckling/mem.h>

#include <stdio.h>
#include <string.h>

#define PROG "duckling-gateway"
#define MOD "bootstrap"

/* ---- engine callbacks ------------------------------------------------------ */

static int find_oob(void *user, const char *ep, struct dk_oob_msg *out)
{
    struct gw_wire *w = user;
    if (!w->gw)
        return DK_ENOTFOUND;
    struct dk_gw_oob rec;
    int rc = dk_gwdb_find_oob(dk_gw_db(w->gw), ep, &rec);
    if (rc) {
        dk_memzero(&rec, sizeof rec);
        return rc;
    }
    memset(out, 0, sizeof *out);
    snprintf(out->endpoint, sizeof out->endpoint, "%s", rec.endpoint);
    snprintf(out->type, sizeof out->type, "%s", rec.type);
    if (dk_oob_channel_from_name(rec.channel, &out->channel) != 0)
        out->channel = DK_OOB_CHANNEL_NONE;
    if (rec.ap_ssid[0] && rec.ap_psk_len <= sizeof out->wifi_psk) {
        out->has_wifi_ap = true;
        snprintf(out->ssid, sizeof out->ssid, "%s", rec.ap_ssid);
        memcpy(out->wifi_psk, rec.ap_psk, rec.ap_psk_len);
        out->wifi_psk_len = rec.ap_psk_len;
    }
    out->cred_type = (enum dk_oob_cred)rec.cred_type;
    if (rec.cred_len > sizeof out->cred) {
        dk_memzero(&rec, sizeof rec);
        dk_oob_msg_wipe(out);
        return DK_ECORRUPT;
    }
    memcpy(out->cred, rec.cred, rec.cred_len);
    out->cred_len = rec.cred_len;
    dk_memzero(&rec, sizeof rec);
    return 0;
}

static const struct dk_dtls_peer_info *peer_info(void *user, struct dk_coap_ep *coap,
                                                 const struct dk_addr *peer)
{
    struct gw_wire *w = user;
    if (coap == &w->bs_coap)
        return dk_endpoint_peer_info(&w->bs_ep, peer);
    return NULL; /* the plain endpoint */
}

static enum dk_bs_decision decide(void *user, const struct dk_bs_request *rq)
{
    struct gw_wire *w = user;
    char pbuf[DK_ADDR_STRLEN];
    dk_addr_format(rq->peer, pbuf, sizeof pbuf);
    /* What the engine checked: with a match, the device proved the label's
     * credential (an RPK label may be proven by a certificate carrying the
     * key: that is the label's type all the same). */
    int cred = rq->match ? (int)rq->record_cred : (int)rq->peer_cred;
    enum dk_gw_decision d = DK_GW_REFUSE;
    int rc = dk_gw_bootstrap_attempt(w->gw, rq->ep, rq->match, cred, pbuf, &d);
    if (rc) {
        dk_error(w->log, MOD, "bootstrap decision for %s: %s", rq->ep, dk_strerror(rc));
        return DK_BS_REFUSE;
    }
    if (!rq->match)
        return DK_BS_REFUSE;
    return d == DK_GW_APPROVED ? DK_BS_APPROVE : d == DK_GW_PENDING ? DK_BS_PENDING : DK_BS_REFUSE;
}

/* Operational credentials: a certificate for devices that have a key pair
 * (label rpk or x509), a PSK otherwise; NoSec for credential type 00. */
static int prepare_plan(void *user, const struct dk_bs_request *rq, const struct dk_oob_msg *rec,
                        struct dk_bs_plan *plan)
{
    struct gw_wire *w = user;
    struct dk_bs_server_account *a = &plan->server;
    if (rec->cred_type == DK_OOB_CRED_NONE) {
        a->mode = DK_BS_SEC_NOSEC;
        return 0;
    }
    struct dk_gw_cred c;
    struct dk_gwca_keypair kp;
    int rc = 0;
    memset(&kp, 0, sizeof kp);
    bool cert = rec->cred_type == DK_OOB_CRED_RPK || rec->cred_type == DK_OOB_CRED_X509;
    for (int tries = 0; tries < 3; tries++) {
        rc = cert ? dk_gwca_make_cert(&w->ca, &w->rng, rq->ep, dk_gw_now(w->gw), &c, &kp)
                  : dk_gwca_make_psk(&w->rng, rq->ep, &c);
        if (!rc)
            rc = dk_gw_creds_issued(w->gw, &c);
        if (rc != DK_EEXIST) /* an identity issued before: draw again */
            break;
    }
    if (!rc) {
        if (cert) {
            size_t ca_len;
            const uint8_t *ca = dk_gwca_cert(&w->ca, &ca_len);
            if (kp.cert_der_len > sizeof a->identity || kp.key_der_len > sizeof a->secret ||
                ca_len > sizeof a->server_key) {
                rc = DK_ENOSPC;
            } else {
                a->mode = DK_BS_SEC_CERT;
                memcpy(a->identity, kp.cert_der, kp.cert_der_len);
                a->identity_len = kp.cert_der_len;
                memcpy(a->secret, kp.key_der, kp.key_der_len);
                a->secret_len = kp.key_der_len;
                memcpy(a->server_key, ca, ca_len);
                a->server_key_len = ca_len;
            }
        } else {
            a->mode = DK_BS_SEC_PSK;
            memcpy(a->identity, c.psk_identity, c.psk_identity_len);
            a->identity_len = c.psk_identity_len;
            memcpy(a->secret, c.psk, c.psk_len);
            a->secret_len = c.psk_len;
        }
    }
    if (rc)
        dk_error(w->log, MOD, "operational credentials for %s: %s", rq->ep, dk_strerror(rc));
    dk_memzero(&c, sizeof c);
    dk_memzero(&kp, sizeof kp);
    return rc;
}

static void on_event(void *user, const struct dk_bs_event *ev)
{
    struct gw_wire *w = user;
    char why[200];
    switch (ev->type) {
    case DK_BS_EV_PROVISIONED: {
        /* The device may have registered already: its Register can be read
         * before the answer to Bootstrap-Finish (two sockets). Keep that. */
        struct dk_gw_device d;
        bool registered =
            dk_gwdb_device_get(dk_gw_db(w->gw), ev->ep, &d) == 0 && d.state == DK_GW_DEV_REGISTERED;
        dk_gw_bootstrap_finished(w->gw, ev->ep);
        if (registered)
            dk_gwdb_device_set_state(dk_gw_db(w->gw), ev->ep, DK_GW_DEV_REGISTERED,
                                     dk_gw_now(w->gw));
        break;
    }
    case DK_BS_EV_FAILED: {
        char code[16] = "";
        if (ev->code)
            snprintf(code, sizeof code, ", answer %u.%02u", ev->code >> 5, ev->code & 31);
        if (ev->step)
            snprintf(why, sizeof why, "step %s: %s%s", ev->step, dk_strerror(ev->err), code);
        else
            snprintf(why, sizeof why, "%s%s", dk_strerror(ev->err), code);
        dk_gw_bootstrap_failed(w->gw, ev->ep, why);
        /* What this sequence issued is not in use: withdraw it. */
        int n = 0;
        dk_gwdb_creds_revoke(dk_gw_db(w->gw), ev->ep, dk_gw_now(w->gw), &n);
        if (n)
            dk_gw_audit(w->gw, ev->ep, "credentials.revoked",
                        "%d unused credential(s) revoked after a failed bootstrap", n);
        break;
    }
    default:
        break;
    }
}

/* The engine's audit trail, for what the gateway does not record itself
 * (it records requests, decisions, finish and failure). */
static void on_audit(void *user, const char *ep, const char *what, const char *detail)
{
    struct gw_wire *w = user;
    if (!w->gw || strcmp(what, "bootstrap-provisioned") == 0 ||
        strcmp(what, "bootstrap-failed") == 0 || strcmp(what, "bootstrap-pending") == 0 ||
        strcmp(what, "bootstrap-approved") == 0)
        return;
    if (strcmp(what, "psk-unknown-identity") == 0 && !gw_audit_allowed(w))
        return;
    char event[64];
    snprintf(event, sizeof event, "bs.%s", what);
    dk_gw_audit(w->gw, ep, event, "%s", detail);
}

/* ---- DTLS -------------------------------------------------------------------- */

static int psk_lookup(void *user, const struct dk_addr *peer, const uint8_t *identity,
                      size_t identity_len, uint8_t *key, size_t key_cap, size_t *key_len)
{
    struct gw_wire *w = user;
    int rc = dk_bs_psk_lookup(&w->bs, peer, identity, identity_len, key, key_cap, key_len);
    char id[DK_GW_PSK_ID_MAX + 1];
    gw_printable(identity, identity_len, id, sizeof id);
    /* Known identity: remember it, so a failed handshake is audited as a
     * wrong key for that device. Unknown ones the engine audited already. */
    gw_hs_note(&w->bs_hs, peer, rc == 0 ? id : "", id);
    return rc;
}

static void on_endpoint_event(void *user, const struct dk_addr *peer, enum dk_endpoint_event ev,
                              const struct dk_dtls_peer_info *info, int err)
{
    struct gw_wire *w = user;
    struct gw_hs *h = gw_hs_take(&w->bs_hs, peer);
    if (ev != DK_ENDPOINT_CLOSED || err != DK_EAUTH || !w->gw)
        return;
    char pbuf[DK_ADDR_STRLEN];
    dk_addr_format(peer, pbuf, sizeof pbuf);
    if (h && !h->ep[0])
        return; /* unknown PSK identity: audited by the engine */
    if (!gw_audit_allowed(w))
        return;
    if (h)
        dk_gw_audit(w->gw, h->ep, "bootstrap.handshake_failed",
                    "DTLS handshake from %s with PSK identity %s failed: wrong key", pbuf,
                    h->identity);
    else
        dk_gw_audit(w->gw, NULL, "bootstrap.handshake_failed", "DTLS handshake from %s failed: %s",
                    pbuf, dk_strerror(err));
}

static void flush(struct gw_wire *w, dk_time_t now)
{
    dk_endpoint_flush(&w->bs_ep, now);
    if (w->bs_plain)
        dk_endpoint_flush(&w->bs_ep_plain, now);
}

/* ---- gateway hooks -------------------------------------------------------------- */

static void hook_approved(void *user, const char *ep)
{
    struct gw_wire *w = user;
    dk_info(w->log, MOD, "%s approved: provisioned at its next Bootstrap-Request", ep);
}

static void hook_denied(void *user, const char *ep)
{
    struct gw_wire *w = user;
    dk_time_t now = dk_clock_now();
    dk_bs_deny(&w->bs, ep, now); /* aborts a sequence running for ep */
    flush(w, now);
}

static void hook_oob_changed(void *user, const char *ep, bool removed)
{
    struct gw_wire *w = user;
    dk_time_t now = dk_clock_now();
    dk_bs_forget(&w->bs, ep, now);
    flush(w, now);
}

static const struct dk_gw_bootstrap_ops bs_ops = {
    .approved = hook_approved,
    .denied = hook_denied,
    .oob_changed = hook_oob_changed,
};

/* ---- life cycle -------------------------------------------------------------------- */

int gw_bs_prepare(struct gw_wire *w, struct dk_gw_config *cfg)
{
    const struct gw_options *o = w->opt;
    struct dk_dtls_params p = {
        .role = DK_DTLS_SERVER,
        .modes = DK_DTLS_MODE_PSK | DK_DTLS_MODE_CERT | DK_DTLS_MODE_RPK,
        .psk_lookup = psk_lookup,
        .psk_lookup_user = w,
        .cert_der = w->self.cert_der,
        .cert_der_len = w->self.cert_der_len,
        .key_der = w->self.key_der,
        .key_der_len = w->self.key_der_len,
        /* A device's bootstrap certificate or raw key is its own (often
         * self-signed): the engine judges it by the label's hash. */
        .pin_any = true,
        .require_client_cert = true,
        .max_sessions = 1024,
        .rng = &w->rng,
        .log = w->log,
    };
    int rc = dk_dtls_config_setup(&w->bs_dtls, dk_dtls_backend_gnutls(), &p);
    if (rc) {
        fprintf(stderr, PROG ": bootstrap server DTLS: %s\n", dk_strerror(rc));
        return rc;
    }
    rc = gw_open_endpoint(w, &w->bs_ep, &w->bs_coap, &w->bs_dtls, o->bs_port, "bootstrap server");
    if (rc)
        return rc;
    w->bs_port = gw_endpoint_port(&w->bs_ep);
    if (o->nosec) {
        rc = gw_open_endpoint(w, &w->bs_ep_plain, &w->bs_coap_plain, NULL, o->bs_port_nosec,
                              "bootstrap server (nosec)");
        if (rc)
            return rc;
        w->bs_plain = true;
        w->bs_port_plain = gw_endpoint_port(&w->bs_ep_plain);
    }
    dk_endpoint_set_event_cb(&w->bs_ep, on_endpoint_event, w);

    if (o->server_uri)
        snprintf(w->server_uri, sizeof w->server_uri, "%s", o->server_uri);
    else
        gw_uri(o, true, w->srv_port ? w->srv_port : o->server_port, w->server_uri,
               sizeof w->server_uri);
    gw_uri(o, false, w->srv_port_plain ? w->srv_port_plain : o->server_port_nosec,
           w->server_uri_nosec, sizeof w->server_uri_nosec);

    struct dk_bs_config *c = &w->bs_cfg;
    dk_bs_config_init(c);
    c->allow_nosec = o->nosec;
    c->max_pending = 64;
    c->pending_max_age_s = 5;
    c->server_uri = w->server_uri;
    c->server_uri_nosec = w->server_uri_nosec;
    c->home_ssid = o->home_ssid;
    c->home_psk = o->home_psk;
    c->log = w->log;
    c->cbs = (struct dk_bs_callbacks){
        .find_oob = find_oob,
        .peer_info = peer_info,
        .decide = decide,
        .prepare = prepare_plan,
        .event = on_event,
        .audit = on_audit,
        .user = w,
    };
    rc = dk_bs_setup(&w->bs, c);
    if (!rc)
        rc = dk_bs_attach(&w->bs, &w->bs_coap);
    if (!rc && w->bs_plain)
        rc = dk_bs_attach(&w->bs, &w->bs_coap_plain);
    if (rc) {
        fprintf(stderr, PROG ": bootstrap server: %s\n", dk_strerror(rc));
        return rc;
    }
    static char status[400];
    snprintf(status, sizeof status, "running on coaps port %u%s, provisioning %s",
             (unsigned)w->bs_port, w->bs_plain ? " and coap (nosec)" : "", w->server_uri);
    cfg->bootstrap_status = status;
    cfg->bs_ops = &bs_ops;
    cfg->bs_user = w;
    w->bs_ready = true;
    return 0;
}

int gw_bs_start(struct gw_wire *w)
{
    int rc = dk_endpoint_attach(&w->bs_ep, w->loop);
    if (!rc && w->bs_plain)
        rc = dk_endpoint_attach(&w->bs_ep_plain, w->loop);
    return rc;
}

dk_time_t gw_bs_tick(struct gw_wire *w, dk_time_t now)
{
    dk_bs_tick(&w->bs, now);
    flush(w, now);
    return dk_bs_deadline(&w->bs);
}

void gw_bs_stop(struct gw_wire *w)
{
    /* The engine before its endpoints (bootstrap.h). */
    dk_bs_free(&w->bs);
    dk_endpoint_free(&w->bs_ep);
    dk_endpoint_free(&w->bs_ep_plain);
    dk_coap_ep_free(&w->bs_coap);
    dk_coap_ep_free(&w->bs_coap_plain);
    dk_dtls_config_free(&w->bs_dtls);
    w->bs_ready = false;
}
