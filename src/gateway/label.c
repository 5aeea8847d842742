/* A scanned label into a database OOB record: the one place the gateway
 * meets the OOB codec (include/duckling/oob.h). */
#include <duckling/gateway.h>
#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/mem.h>
#include <duckling/oob.h>

#include <mbedtls/sha256.h>
#include <stdio.h>
#include <string.h>

_Static_assert(DK_GW_EP_MAX == DK_OOB_ENDPOINT_MAX, "endpoint limits differ");
_Static_assert(DK_GW_TYPE_MAX == DK_OOB_TYPE_MAX, "type limits differ");
_Static_assert(DK_GW_SSID_MAX >= DK_OOB_SSID_MAX, "SSID limit too small");
_Static_assert(DK_GW_SECRET_MAX >= DK_OOB_CRED_MAX, "credential limit too small");
_Static_assert(DK_GW_SECRET_MAX >= DK_OOB_WIFI_PSK_MAX, "AP PSK limit too small");
_Static_assert((int)DK_GW_CRED_PSK == (int)DK_OOB_CRED_PSK &&
                   (int)DK_GW_CRED_X509 == (int)DK_OOB_CRED_X509,
               "credential type values differ");

/* The hash of the canonical text (lowercase hex, no surrounding space), so
 * the same label typed or scanned twice gives the same hash. */
static int canonical_hash(const struct dk_oob_msg *m, char out[65])
{
    char text[DK_OOB_TEXT_MAX + 1];
    size_t len = 0;
    uint8_t digest[32];
    int rc = dk_oob_format(m, text, sizeof text, &len, NULL);
    if (rc == 0 && mbedtls_sha256_ret((const unsigned char *)text, len, digest, 0) != 0)
        rc = DK_ECRYPTO;
    if (rc == 0)
        rc = dk_hex_encode(out, 65, digest, sizeof digest);
    dk_memzero(text, sizeof text);
    return rc;
}

int dk_gw_label_parse(const char *text, size_t len, struct dk_gw_oob *rec,
                      struct dk_gw_cmd_error *err)
{
    struct dk_oob_msg m;
    struct dk_oob_error e = {DK_OOB_F_MESSAGE, NULL};
    memset(rec, 0, sizeof *rec);
    int rc = dk_oob_parse(text, len, &m, &e);
    if (rc) {
        if (err) {
            err->status = 400;
            err->field = dk_oob_field_name(e.field);
            snprintf(err->msg, sizeof err->msg, "bad label: %s: %s", err->field,
                     e.why ? e.why : dk_strerror(rc));
        }
        return rc;
    }
    snprintf(rec->endpoint, sizeof rec->endpoint, "%s", m.endpoint);
    snprintf(rec->type, sizeof rec->type, "%s", m.type);
    const char *ch = dk_oob_channel_name(m.channel);
    snprintf(rec->channel, sizeof rec->channel, "%s", ch ? ch : "NONE");
    if (m.has_wifi_ap) {
        snprintf(rec->ap_ssid, sizeof rec->ap_ssid, "%s", m.ssid);
        memcpy(rec->ap_psk, m.wifi_psk, m.wifi_psk_len);
        rec->ap_psk_len = m.wifi_psk_len;
    }
    rec->cred_type = (int)m.cred_type;
    memcpy(rec->cred, m.cred, m.cred_len);
    rec->cred_len = m.cred_len;
    rc = canonical_hash(&m, rec->label_sha256);
    dk_oob_msg_wipe(&m);
    if (rc) {
        dk_memzero(rec, sizeof *rec);
        if (err) {
            err->status = 400;
            err->field = "message";
            snprintf(err->msg, sizeof err->msg, "bad label: %s", dk_strerror(rc));
        }
        return DK_EPARSE;
    }
    return 0;
}
