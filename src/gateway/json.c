/* JSON views of database rows for the API and the event stream. None of
 * them ever includes a secret (bootstrap PSK, AP PSK, operational key). */
#include "internal.h"

#include <duckling/hex.h>

#include <stdio.h>
#include <string.h>

void dk_gw_json_time(cJSON *o, const char *name, int64_t v)
{
    if (v)
        cJSON_AddNumberToObject(o, name, (double)v);
    else
        cJSON_AddNullToObject(o, name);
}

static void add_hex(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
    char hex[2 * 128 + 1];
    if (n <= 128 && dk_hex_encode(hex, sizeof hex, p, n) == 0)
        cJSON_AddStringToObject(o, name, hex);
}

cJSON *dk_gw_json_oob(const struct dk_gw_oob *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "endpoint", r->endpoint);
    cJSON_AddStringToObject(o, "type", r->type);
    cJSON_AddStringToObject(o, "channel", r->channel);
    if (r->ap_ssid[0])
        cJSON_AddStringToObject(o, "setup_ssid", r->ap_ssid);
    cJSON_AddStringToObject(o, "cred_type", dk_gw_cred_type_name(r->cred_type));
    /* A key or certificate hash is public; a PSK is not. */
    if (r->cred_type == DK_GW_CRED_RPK || r->cred_type == DK_GW_CRED_X509)
        add_hex(o, "cred_hash", r->cred, r->cred_len);
    cJSON_AddStringToObject(o, "label_sha256", r->label_sha256);
    dk_gw_json_time(o, "created", r->created);
    return o;
}

cJSON *dk_gw_json_request(const struct dk_gw_request *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)r->id);
    cJSON_AddStringToObject(o, "endpoint", r->endpoint);
    cJSON_AddStringToObject(o, "state", dk_gw_req_state_name(r->state));
    cJSON_AddBoolToObject(o, "label_match", r->label_match);
    cJSON_AddStringToObject(o, "peer_cred_type", dk_gw_cred_type_name(r->peer_cred_type));
    cJSON_AddStringToObject(o, "peer", r->peer);
    dk_gw_json_time(o, "created", r->created);
    dk_gw_json_time(o, "last_attempt", r->last_attempt);
    dk_gw_json_time(o, "expires", r->expires);
    dk_gw_json_time(o, "decided", r->decided);
    return o;
}

cJSON *dk_gw_json_device(const struct dk_gw_device *d)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "endpoint", d->endpoint);
    cJSON_AddStringToObject(o, "state", dk_gw_dev_state_name(d->state));
    cJSON_AddStringToObject(o, "type", d->type);
    dk_gw_json_time(o, "last_seen", d->last_seen);
    if (d->has_location) {
        cJSON *l = cJSON_AddObjectToObject(o, "location");
        if (l) {
            cJSON_AddNumberToObject(l, "lat", d->lat);
            cJSON_AddNumberToObject(l, "lon", d->lon);
        }
    } else {
        cJSON_AddNullToObject(o, "location");
    }
    if (d->has_registration) {
        cJSON *r = cJSON_AddObjectToObject(o, "registration");
        if (r) {
            cJSON_AddNumberToObject(r, "lifetime", (double)d->reg.lifetime);
            cJSON_AddStringToObject(r, "binding", d->reg.binding);
            cJSON_AddStringToObject(r, "lwm2m", d->reg.version);
            cJSON_AddStringToObject(r, "objects", d->reg.links);
            cJSON_AddStringToObject(r, "peer", d->reg.peer);
            cJSON_AddStringToObject(r, "location", d->reg.location);
            dk_gw_json_time(r, "time", d->reg.registered);
        }
    } else {
        cJSON_AddNullToObject(o, "registration");
    }
    dk_gw_json_time(o, "created", d->created);
    dk_gw_json_time(o, "updated", d->updated);
    return o;
}

static bool printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return false;
    return true;
}

cJSON *dk_gw_json_cred(const struct dk_gw_cred *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "kind", dk_gw_cred_type_name(c->kind));
    if (c->kind == DK_GW_CRED_PSK) {
        /* The identity is public (it is sent in clear in the handshake). */
        char id[DK_GW_PSK_ID_MAX + 1];
        if (printable(c->psk_identity, c->psk_identity_len)) {
            memcpy(id, c->psk_identity, c->psk_identity_len);
            id[c->psk_identity_len] = '\0';
            cJSON_AddStringToObject(o, "psk_identity", id);
        } else {
            add_hex(o, "psk_identity_hex", c->psk_identity, c->psk_identity_len);
        }
    }
    if (c->has_hash)
        add_hex(o, c->kind == DK_GW_CRED_RPK ? "spki_sha256" : "cert_sha256", c->hash,
                sizeof c->hash);
    dk_gw_json_time(o, "issued", c->issued);
    cJSON_AddBoolToObject(o, "revoked", c->revoked);
    dk_gw_json_time(o, "revoked_at", c->revoked_at);
    return o;
}

cJSON *dk_gw_json_audit(const struct dk_gw_audit *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)a->id);
    dk_gw_json_time(o, "time", a->time);
    cJSON_AddStringToObject(o, "endpoint", a->endpoint);
    cJSON_AddStringToObject(o, "event", a->event);
    cJSON_AddStringToObject(o, "detail", a->detail);
    return o;
}

static const struct {
    uint8_t code;
    const char *name;
} coap_names[] = {
    {0x41, "Created"},
    {0x42, "Deleted"},
    {0x43, "Valid"},
    {0x44, "Changed"},
    {0x45, "Content"},
    {0x5f, "Continue"},
    {0x80, "Bad Request"},
    {0x81, "Unauthorized"},
    {0x82, "Bad Option"},
    {0x83, "Forbidden"},
    {0x84, "Not Found"},
    {0x85, "Method Not Allowed"},
    {0x86, "Not Acceptable"},
    {0x88, "Request Entity Incomplete"},
    {0x89, "Conflict"},
    {0x8c, "Precondition Failed"},
    {0x8d, "Request Entity Too Large"},
    {0x8f, "Unsupported Content-Format"},
    {0xa0, "Internal Server Error"},
    {0xa1, "Not Implemented"},
    {0xa2, "Bad Gateway"},
    {0xa3, "Service Unavailable"},
    {0xa4, "Gateway Timeout"},
    {0xa5, "Proxying Not Supported"},
};

void dk_gw_coap_code_text(uint8_t code, char *out, size_t cap)
{
    const char *name = "";
    for (size_t i = 0; i < sizeof coap_names / sizeof coap_names[0]; i++)
        if (coap_names[i].code == code)
            name = coap_names[i].name;
    snprintf(out, cap, "%u.%02u%s%s", code >> 5, code & 31u, name[0] ? " " : "", name);
}
