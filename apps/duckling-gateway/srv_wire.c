/* duckling-gateway: the LwM2M Server's DTLS endpoint. Devices authenticate
 * with the operational credentials the Bootstrap Server issued: a PSK
 * identity looked up in the database, or a certificate that chains to the
 * gateway CA and whose hash the database knows. Revoked credentials (a
 * device reset, an old key replayed) are refused and audited. */
#include "wire.h"

#include <duckling/err.h>
#include <duckling/mem.h>

#include <stdio.h>
#include <string.h>

#define PROG "duckling-gateway"
#define MOD "server"

/* ---- DTLS: who may connect ---------------------------------------------------- */

static int psk_lookup(void *user, const struct dk_addr *peer, const uint8_t *identity,
                      size_t identity_len, uint8_t *key, size_t key_cap, size_t *key_len)
{
    struct gw_wire *w = user;
    char id[DK_GW_PSK_ID_MAX + 1], pbuf[DK_ADDR_STRLEN];
    gw_printable(identity, identity_len, id, sizeof id);
    dk_addr_format(peer, pbuf, sizeof pbuf);
    struct dk_gw_cred c;
    int rc =
        w->gw ? dk_gwdb_creds_find_psk(dk_gw_db(w->gw), identity, identity_len, &c) : DK_ENOTFOUND;
    if (rc == 0 && c.revoked) {
        if (gw_audit_allowed(w))
            dk_gw_audit(w->gw, c.endpoint, "server.revoked_credentials",
                        "revoked PSK identity %s (credential %lld, revoked at %lld) presented "
                        "from %s: refused",
                        id, (long long)c.id, (long long)c.revoked_at, pbuf);
        rc = DK_ENOTFOUND;
    } else if (rc == 0 && (c.kind != DK_GW_CRED_PSK || c.psk_len > key_cap)) {
        rc = DK_ENOTFOUND;
    } else if (rc == 0) {
        memcpy(key, c.psk, c.psk_len);
        *key_len = c.psk_len;
        gw_hs_note(&w->srv_hs, peer, c.endpoint, id);
    } else {
        if (rc != DK_ENOTFOUND)
            dk_error(w->log, MOD, "PSK look-up: %s", dk_strerror(rc));
        else if (gw_audit_allowed(w))
            dk_gw_audit(w->gw, NULL, "server.unknown_identity",
                        "PSK identity %s from %s was never issued: refused", id, pbuf);
        rc = DK_ENOTFOUND;
    }
    if (rc)
        gw_hs_note(&w->srv_hs, peer, "", id); /* audited here already */
    dk_memzero(&c, sizeof c);
    return rc;
}

/* Called once the chain verified against the gateway CA and the device
 * proved its key. */
static int verify(void *user, const struct dk_addr *peer, const struct dk_dtls_peer_info *info)
{
    struct gw_wire *w = user;
    char pbuf[DK_ADDR_STRLEN];
    dk_addr_format(peer, pbuf, sizeof pbuf);
    if (!info->has_cert || !w->gw)
        return DK_EAUTH;
    struct dk_gw_cred c;
    int rc = dk_gwdb_creds_find_hash(dk_gw_db(w->gw), info->cert_sha256, &c);
    const char *cn = info->cert_cn;
    if (rc == DK_ENOTFOUND) {
        if (gw_audit_allowed(w))
            dk_gw_audit(w->gw, cn, "server.unknown_certificate",
                        "certificate CN=%s from %s signed by the gateway CA but never issued "
                        "(or not recorded): refused",
                        cn, pbuf);
        rc = DK_EAUTH;
    } else if (rc) {
        dk_error(w->log, MOD, "certificate look-up: %s", dk_strerror(rc));
        rc = DK_EAUTH;
    } else if (c.revoked) {
        if (gw_audit_allowed(w))
            dk_gw_audit(w->gw, c.endpoint, "server.revoked_credentials",
                        "revoked certificate (credential %lld, revoked at %lld) presented from "
                        "%s: refused",
                        (long long)c.id, (long long)c.revoked_at, pbuf);
        rc = DK_EAUTH;
    } else if (c.kind != DK_GW_CRED_X509 || strcmp(cn, c.endpoint) != 0) {
        if (gw_audit_allowed(w))
            dk_gw_audit(w->gw, c.endpoint, "server.refused",
                        "certificate from %s: CN %s does not name the endpoint it was issued to",
                        pbuf, cn);
        rc = DK_EAUTH;
    }
    gw_hs_note(&w->srv_hs, peer, "", ""); /* audited here if refused */
    dk_memzero(&c, sizeof c);
    return rc;
}

static void on_endpoint_event(void *user, const struct dk_addr *peer, enum dk_endpoint_event ev,
                              const struct dk_dtls_peer_info *info, int err)
{
    struct gw_wire *w = user;
    struct gw_hs *h = gw_hs_take(&w->srv_hs, peer);
    if (ev != DK_ENDPOINT_CLOSED || err != DK_EAUTH || !w->gw)
        return;
    if (h && !h->ep[0])
        return; /* audited at look-up */
    if (!gw_audit_allowed(w))
        return;
    char pbuf[DK_ADDR_STRLEN];
    dk_addr_format(peer, pbuf, sizeof pbuf);
    if (h)
        dk_gw_audit(w->gw, h->ep, "server.handshake_failed",
                    "DTLS handshake from %s with PSK identity %s failed: wrong key", pbuf,
                    h->identity);
    else
        dk_gw_audit(w->gw, NULL, "server.handshake_failed",
                    "DTLS handshake from %s failed (certificate not from the gateway CA?): %s",
                    pbuf, dk_strerror(err));
}

/* The endpoint the DTLS session of peer on coap proved to be, from its
 * active operational credentials; "" when none (plain peers: the record
 * type 00 devices, checked by the caller). Errors: DK_EAUTH (revoked or
 * unknown), DK_ENOTFOUND (no DTLS session). */
int gw_srv_peer_endpoint(struct gw_wire *w, struct dk_coap_ep *coap, const struct dk_addr *peer,
                         char out[DK_GW_EP_MAX + 1])
{
    out[0] = '\0';
    if (coap != &w->srv_coap)
        return 0;
    const struct dk_dtls_peer_info *info = dk_endpoint_peer_info(&w->srv_ep, peer);
    if (!info)
        return DK_ENOTFOUND;
    struct dk_gw_cred c;
    int rc;
    if (info->mode == DK_DTLS_MODE_PSK)
        rc =
            dk_gwdb_creds_find_psk(dk_gw_db(w->gw), info->psk_identity, info->psk_identity_len, &c);
    else if (info->has_cert)
        rc = dk_gwdb_creds_find_hash(dk_gw_db(w->gw), info->cert_sha256, &c);
    else
        rc = DK_EAUTH;
    if (rc == 0 && c.revoked)
        rc = DK_EAUTH; /* revoked while the session was up */
    if (rc == 0)
        snprintf(out, DK_GW_EP_MAX + 1, "%s", c.endpoint);
    dk_memzero(&c, sizeof c);
    return rc == DK_ENOTFOUND ? DK_EAUTH : rc;
}

/* ---- life cycle ----------------------------------------------------------------- */

int gw_srv_prepare(struct gw_wire *w, struct dk_gw_config *cfg)
{
    const struct gw_options *o = w->opt;
    size_t ca_len;
    const uint8_t *ca = dk_gwca_cert(&w->ca, &ca_len);
    struct dk_dtls_params p = {
        .role = DK_DTLS_SERVER,
        .modes = DK_DTLS_MODE_PSK | DK_DTLS_MODE_CERT,
        .psk_lookup = psk_lookup,
        .psk_lookup_user = w,
        .cert_der = w->self.cert_der,
        .cert_der_len = w->self.cert_der_len,
        .key_der = w->self.key_der,
        .key_der_len = w->self.key_der_len,
        .ca_der = ca,
        .ca_der_len = ca_len,
        .verify = verify,
        .verify_user = w,
        .require_client_cert = true,
        .max_sessions = 4096,
        .rng = &w->rng,
        .log = w->log,
    };
    int rc = dk_dtls_config_setup(&w->srv_dtls, dk_dtls_backend_gnutls(), &p);
    if (rc) {
        fprintf(stderr, PROG ": lwm2m server DTLS: %s\n", dk_strerror(rc));
        return rc;
    }
    rc =
        gw_open_endpoint(w, &w->srv_ep, &w->srv_coap, &w->srv_dtls, o->server_port, "lwm2m server");
    if (rc)
        return rc;
    w->srv_port = gw_endpoint_port(&w->srv_ep);
    if (o->nosec) {
        rc = gw_open_endpoint(w, &w->srv_ep_plain, &w->srv_coap_plain, NULL, o->server_port_nosec,
                              "lwm2m server (nosec)");
        if (rc)
            return rc;
        w->srv_plain = true;
        w->srv_port_plain = gw_endpoint_port(&w->srv_ep_plain);
    }
    dk_endpoint_set_event_cb(&w->srv_ep, on_endpoint_event, w);
    rc = gw_srv_engine_prepare(w, cfg);
    if (rc)
        return rc;
    w->srv_ready = true;
    return 0;
}

int gw_srv_start(struct gw_wire *w)
{
    int rc = dk_endpoint_attach(&w->srv_ep, w->loop);
    if (!rc && w->srv_plain)
        rc = dk_endpoint_attach(&w->srv_ep_plain, w->loop);
    if (!rc)
        rc = gw_srv_engine_start(w);
    return rc;
}

dk_time_t gw_srv_tick(struct gw_wire *w, dk_time_t now)
{
    dk_time_t next = gw_srv_engine_tick(w, now);
    dk_endpoint_flush(&w->srv_ep, now);
    if (w->srv_plain)
        dk_endpoint_flush(&w->srv_ep_plain, now);
    return next;
}

void gw_srv_stop(struct gw_wire *w)
{
    gw_srv_engine_stop(w);
    dk_endpoint_free(&w->srv_ep);
    dk_endpoint_free(&w->srv_ep_plain);
    dk_coap_ep_free(&w->srv_coap);
    dk_coap_ep_free(&w->srv_coap_plain);
    dk_dtls_config_free(&w->srv_dtls);
    w->srv_ready = false;
}
