// dk-fuzz-libs: dk_dtls_gnutls dk_dtls dk_base
/* Fuzzes the GnuTLS DTLS backend's receive path through the public API:
 * datagrams from outside reach a fresh server session (all modes), a client
 * session that has sent its ClientHello, or an established PSK server
 * session. Input: one selector byte, then datagrams as 2-byte big-endian
 * length + bytes. */
#include <duckling/dtls.h>
#include <duckling/err.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct dk_rng rng;
static struct dk_dtls_config server_cfg, client_cfg, psk_client_cfg;
static uint8_t key_der[512], cert_der[1024];
static const uint8_t psk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static int lookup(void *user, const struct dk_addr *peer, const uint8_t *id, size_t id_len,
                  uint8_t *key, size_t cap, size_t *len)
{
    (void)user;
    (void)peer;
    if (id_len != 3 || memcmp(id, "dev", 3) != 0 || cap < sizeof psk)
        return DK_ENOTFOUND;
    memcpy(key, psk, sizeof psk);
    *len = sizeof psk;
    return 0;
}

static void make_identity(void)
{
    gnutls_x509_privkey_t k;
    gnutls_x509_crt_t c;
    size_t kl = sizeof key_der, cl = sizeof cert_der;
    unsigned char serial = 1;
    if (gnutls_x509_privkey_init(&k) < 0 || gnutls_x509_crt_init(&c) < 0 ||
        gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
        gnutls_x509_privkey_export(k, GNUTLS_X509_FMT_DER, key_der, &kl) < 0 ||
        gnutls_x509_crt_set_version(c, 3) < 0 || gnutls_x509_crt_set_serial(c, &serial, 1) < 0 ||
        gnutls_x509_crt_set_activation_time(c, time(NULL) - 60) < 0 ||
        gnutls_x509_crt_set_expiration_time(c, time(NULL) + 86400) < 0 ||
        gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, "fuzz", 4) < 0 ||
        gnutls_x509_crt_set_key(c, k) < 0 ||
        gnutls_x509_crt_sign2(c, c, k, GNUTLS_DIG_SHA256, 0) < 0 ||
        gnutls_x509_crt_export(c, GNUTLS_X509_FMT_DER, cert_der, &cl) < 0)
        abort();
    gnutls_x509_crt_deinit(c);
    gnutls_x509_privkey_deinit(k);
    struct dk_dtls_params p;
    memset(&p, 0, sizeof p);
    p.role = DK_DTLS_SERVER;
    p.modes = DK_DTLS_MODE_PSK | DK_DTLS_MODE_CERT | DK_DTLS_MODE_RPK;
    p.psk_lookup = lookup;
    p.cert_der = cert_der;
    p.cert_der_len = cl;
    p.key_der = key_der;
    p.key_der_len = kl;
    p.pin_any = true;
    p.require_client_cert = true;
    p.rng = &rng;
    if (dk_dtls_config_setup(&server_cfg, dk_dtls_backend_gnutls(), &p))
        abort();
    p.role = DK_DTLS_CLIENT;
    p.psk_lookup = NULL;
    p.psk_identity = (const uint8_t *)"dev";
    p.psk_identity_len = 3;
    p.psk = psk;
    p.psk_len = sizeof psk;
    p.require_client_cert = false;
    if (dk_dtls_config_setup(&client_cfg, dk_dtls_backend_gnutls(), &p))
        abort();
    p.modes = DK_DTLS_MODE_PSK;
    if (dk_dtls_config_setup(&psk_client_cfg, dk_dtls_backend_gnutls(), &p))
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    dk_rng_init(&rng);
    if (dk_rng_setup_deterministic(&rng, "fuzz", 4))
        abort();
    dk_dtls_config_init(&server_cfg);
    dk_dtls_config_init(&client_cfg);
    dk_dtls_config_init(&psk_client_cfg);
    make_identity();
    return 0;
}

static void drain(struct dk_dtls_session *s, struct dk_dtls_session *to, dk_time_t now)
{
    uint8_t buf[2048];
    int n;
    while ((n = dk_dtls_session_pop_tx(s, buf, sizeof buf)) > 0)
        if (to)
            dk_dtls_session_recv(to, buf, (size_t)n, now);
    while (dk_dtls_session_read(s, buf, sizeof buf) >= 0)
        ;
}

/* An established PSK pair, handshake run in memory without loss. */
static int connect_pair(struct dk_dtls_session **c, struct dk_dtls_session **s,
                        const struct dk_addr *a, dk_time_t now)
{
    if (dk_dtls_session_new(c, &psk_client_cfg, a, now) ||
        dk_dtls_session_new(s, &server_cfg, a, now))
        return -1;
    for (int i = 0; i < 8; i++) {
        drain(*c, *s, now);
        drain(*s, *c, now);
    }
    return dk_dtls_session_state(*s) == DK_DTLS_CONNECTED ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct dk_addr a;
    dk_addr_from_ip(&a, "127.0.0.1", 5684);
    dk_time_t now = 1000;
    struct dk_dtls_session *s = NULL, *c = NULL;
    unsigned which = data[0] % 3;
    if (which == 0) {
        if (dk_dtls_session_new(&s, &server_cfg, &a, now))
            return 0;
    } else if (which == 1) {
        if (dk_dtls_session_new(&s, &client_cfg, &a, now))
            return 0;
    } else if (connect_pair(&c, &s, &a, now)) {
        goto out;
    }
    drain(s, NULL, now);
    size_t pos = 1;
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        dk_dtls_session_recv(s, data + pos, len, now);
        drain(s, NULL, now);
        pos += len;
        now += 700;
        if (dk_dtls_session_deadline(s) <= now)
            dk_dtls_session_tick(s, now);
        drain(s, NULL, now);
    }
out:
    dk_dtls_session_free(s);
    dk_dtls_session_free(c);
    return 0;
}
