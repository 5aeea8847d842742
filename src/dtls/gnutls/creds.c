/* GnuTLS backend: configuration (priorities, PSK and certificate credentials,
 * our key with deterministic ECDSA) and peer authentication.
 *
 * How a peer's certificate or raw key is judged, in this order:
 *  - client with pinned_sha256: SHA-256 of the DER certificate (X.509) or of
 *    the DER SubjectPublicKeyInfo (RPK) must equal the pin; the chain is not
 *    looked at then;
 *  - pin_any: anything is taken (X.509 without chain or validity checks);
 *  - otherwise X.509 chains must verify against ca_der (signature, validity
 *    period on the wall clock), and a raw public key is refused, since no
 *    trust anchor can vouch for one;
 *  - then verify(), if set, decides, once the peer proved possession of its
 *    key (after ServerKeyExchange on a client, CertificateVerify on a server).
 * The peer info hashes are filled in every case. */
#include "gnutls_int.h"

#include <duckling/err.h>
#include <duckling/mem.h>

#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include <stdio.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------ */

int dk_gt_err(int e)
{
    switch (e) {
    case GNUTLS_E_MEMORY_ERROR:
        return DK_ENOMEM;
    case GNUTLS_E_SESSION_EOF: /* close_notify during the handshake */
    case GNUTLS_E_PREMATURE_TERMINATION:
        return DK_ECLOSED;
    case GNUTLS_E_CERTIFICATE_ERROR:
    case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
    case GNUTLS_E_CERTIFICATE_REQUIRED:
    case GNUTLS_E_NO_CERTIFICATE_FOUND:
    case GNUTLS_E_CERTIFICATE_KEY_MISMATCH:
    case GNUTLS_E_PK_SIG_VERIFY_FAILED:
    case GNUTLS_E_SRP_PWD_ERROR:
    case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
    case GNUTLS_E_NO_CIPHER_SUITES:
    case GNUTLS_E_UNKNOWN_CIPHER_SUITE:
    case GNUTLS_E_NO_COMMON_KEY_SHARE:
    case GNUTLS_E_UNSUPPORTED_CERTIFICATE_TYPE:
    case GNUTLS_E_UNWANTED_ALGORITHM:
    case GNUTLS_E_DECRYPTION_FAILED:
    case GNUTLS_E_ERROR_IN_FINISHED_PACKET:
        return DK_EAUTH;
    default:
        return DK_ECRYPTO;
    }
}

/* ---- priorities -------------------------------------------------------- */

/* DTLS 1.2 only; CCM-8 before GCM (RFC 7925, LwM2M); P-256 only. A server
 * chooses by this order among what the client offers (%SERVER_PRECEDENCE),
 * so a client that lists GCM first still gets CCM-8. */
static int build_priority(const struct dk_dtls_params *p, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "NONE:+VERS-DTLS1.2:+AES-128-CCM-8:+AES-128-GCM:+AEAD:+GROUP-SECP256R1:"
                     "+SIGN-ECDSA-SHA256:+SIGN-ECDSA-SHA384:%%SERVER_PRECEDENCE%s%s%s%s",
                     (p->modes & DK_DTLS_MODE_PSK) ? ":+PSK" : "",
                     (p->modes & (DK_DTLS_MODE_CERT | DK_DTLS_MODE_RPK)) ? ":+ECDHE-ECDSA" : "",
                     (p->modes & DK_DTLS_MODE_CERT) ? ":+CTYPE-CLI-X509:+CTYPE-SRV-X509" : "",
                     (p->modes & DK_DTLS_MODE_RPK) ? ":+CTYPE-CLI-RAWPK:+CTYPE-SRV-RAWPK" : "");
    return n > 0 && (size_t)n < cap ? 0 : DK_EINVAL;
}

/* ---- DER helpers ------------------------------------------------------- */

/* Length of the DER SEQUENCE at p (header included), or DK_EPARSE. Used to
 * split concatenated certificates given by the caller. */
static int der_seq_len(const uint8_t *p, size_t len, size_t *total)
{
    if (len < 2 || p[0] != 0x30)
        return DK_EPARSE;
    size_t l = p[1], hdr = 2;
    if (l & 0x80) {
        size_t nb = l & 0x7f;
        if (nb == 0 || nb > 3 || len < 2 + nb)
            return DK_EPARSE;
        l = 0;
        for (size_t i = 0; i < nb; i++)
            l = (l << 8) | p[2 + i];
        hdr += nb;
    }
    if (l > len - hdr)
        return DK_EPARSE;
    *total = hdr + l;
    return 0;
}

/* Splits concatenated DER certificates into datums pointing into der. */
static int split_der(const uint8_t *der, size_t len, gnutls_datum_t *out, size_t cap, size_t *n)
{
    *n = 0;
    while (len) {
        size_t one;
        if (der_seq_len(der, len, &one) || *n == cap)
            return DK_EINVAL;
        out[*n].data = (unsigned char *)der;
        out[*n].size = (unsigned)one;
        (*n)++;
        der += one;
        len -= one;
    }
    return *n ? 0 : DK_EINVAL;
}

static void sha256(const void *data, size_t len, uint8_t out[32])
{
    gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, out);
}

/* ---- our key: deterministic ECDSA through an external-key wrapper ------- */

static int key_info(gnutls_privkey_t key, unsigned flags, void *user)
{
    (void)key;
    (void)user;
    if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO) {
        unsigned algo = GNUTLS_FLAGS_TO_SIGN_ALGO(flags);
        return algo == GNUTLS_SIGN_ECDSA_SHA256 || algo == GNUTLS_SIGN_ECDSA_SHA384 ||
               algo == GNUTLS_SIGN_ECDSA_SECP256R1_SHA256;
    }
    if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO)
        return GNUTLS_PK_ECDSA;
    if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS)
        return 256;
    if (flags & GNUTLS_PRIVKEY_INFO_SIGN_ALGO)
        return GNUTLS_SIGN_ECDSA_SHA256;
    return GNUTLS_E_INVALID_REQUEST;
}

static int key_sign_hash(gnutls_privkey_t key, gnutls_sign_algorithm_t algo, void *user,
                         unsigned flags, const gnutls_datum_t *hash, gnutls_datum_t *sig)
{
    (void)key;
    return gnutls_privkey_sign_hash2(user, algo, flags | GNUTLS_PRIVKEY_FLAG_REPRODUCIBLE, hash,
                                     sig);
}

/* A wrapper the credentials own; the inner key stays with the config. */
static int wrap_key(gnutls_privkey_t inner, gnutls_privkey_t *out)
{
    int e = gnutls_privkey_init(out);
    if (e < 0)
        return e;
    e = gnutls_privkey_import_ext4(*out, inner, NULL, key_sign_hash, NULL, NULL, key_info, 0);
    if (e < 0) {
        gnutls_privkey_deinit(*out);
        *out = NULL;
    }
    return e;
}

static int load_key(struct dk_gt_config *gc, const uint8_t *der, size_t len)
{
    gnutls_x509_privkey_t xk = NULL;
    gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
    int rc = DK_ECRYPTO;
    if (gnutls_x509_privkey_init(&xk) < 0)
        return DK_ENOMEM;
    /* import2 takes PKCS#8 and the SEC1 ECPrivateKey form alike. */
    if (gnutls_x509_privkey_import2(xk, &d, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN) < 0)
        goto out;
    if (gnutls_x509_privkey_get_pk_algorithm(xk) != GNUTLS_PK_ECDSA)
        goto out;
    if (gnutls_privkey_init(&gc->key) < 0) {
        rc = DK_ENOMEM;
        goto out;
    }
    if (gnutls_privkey_import_x509(gc->key, xk, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0)
        goto out;
    xk = NULL; /* owned by gc->key now */
    unsigned bits = 0;
    if (gnutls_privkey_get_pk_algorithm(gc->key, &bits) != GNUTLS_PK_ECDSA || bits != 256)
        goto out;
    rc = 0;
out:
    if (xk)
        gnutls_x509_privkey_deinit(xk);
    return rc;
}

/* Public key of our private key, DER SubjectPublicKeyInfo, compared with the
 * certificate's so a mismatched pair fails at setup, not in the handshake. */
static int pubkey_matches(gnutls_privkey_t key, gnutls_pcert_st *pc)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
    int ok = 0;
    if (gnutls_pubkey_init(&pub) < 0)
        return 0;
    if (gnutls_pubkey_import_privkey(pub, key, 0, 0) >= 0 &&
        gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) >= 0 &&
        gnutls_pubkey_export2(pc->pubkey, GNUTLS_X509_FMT_DER, &b) >= 0)
        ok = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
    gnutls_free(a.data);
    gnutls_free(b.data);
    gnutls_pubkey_deinit(pub);
    return ok;
}

static int add_x509_chain(struct dk_gt_config *gc, const struct dk_dtls_params *p)
{
    gnutls_datum_t parts[DK_GT_CHAIN_MAX];
    size_t n;
    if (split_der(p->cert_der, p->cert_der_len, parts, DK_GT_CHAIN_MAX, &n))
        return DK_ECRYPTO;
    gnutls_pcert_st pcerts[DK_GT_CHAIN_MAX];
    size_t done = 0;
    int rc = DK_ECRYPTO;
    for (; done < n; done++)
        if (gnutls_pcert_import_x509_raw(&pcerts[done], &parts[done], GNUTLS_X509_FMT_DER, 0) < 0)
            goto fail;
    if (!pubkey_matches(gc->key, &pcerts[0]))
        goto fail;
    gnutls_privkey_t wrapped;
    if (wrap_key(gc->key, &wrapped) < 0)
        goto fail;
    /* On success the credentials own the pcerts' contents and the wrapper. */
    if (gnutls_certificate_set_key(gc->cert, NULL, 0, pcerts, (int)n, wrapped) < 0) {
        gnutls_privkey_deinit(wrapped);
        goto fail;
    }
    return 0;
fail:
    for (size_t i = 0; i < done; i++)
        gnutls_pcert_deinit(&pcerts[i]);
    return rc;
}

static int add_rawpk(struct dk_gt_config *gc)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_pcert_st pc;
    gnutls_privkey_t wrapped = NULL;
    if (gnutls_pubkey_init(&pub) < 0)
        return DK_ENOMEM;
    if (gnutls_pubkey_import_privkey(pub, gc->key, 0, 0) < 0) {
        gnutls_pubkey_deinit(pub);
        return DK_ECRYPTO;
    }
    if (gnutls_pcert_import_rawpk(&pc, pub, 0) < 0) { /* pc owns pub on success */
        gnutls_pubkey_deinit(pub);
        return DK_ECRYPTO;
    }
    if (wrap_key(gc->key, &wrapped) < 0 ||
        gnutls_certificate_set_key(gc->cert, NULL, 0, &pc, 1, wrapped) < 0) {
        gnutls_privkey_deinit(wrapped);
        gnutls_pcert_deinit(&pc);
        return DK_ECRYPTO;
    }
    return 0;
}

static int add_trust(struct dk_gt_config *gc, const struct dk_dtls_params *p)
{
    gnutls_datum_t parts[64];
    size_t n;
    if (split_der(p->ca_der, p->ca_der_len, parts, 64, &n))
        return DK_ECRYPTO;
    for (size_t i = 0; i < n; i++)
        if (gnutls_certificate_set_x509_trust_mem(gc->cert, &parts[i], GNUTLS_X509_FMT_DER) < 0)
            return DK_ECRYPTO;
    return 0;
}

/* ---- PSK --------------------------------------------------------------- */

static int psk_server_key(gnutls_session_t tls, const gnutls_datum_t *identity, gnutls_datum_t *key)
{
    struct dk_gt_session *g = gnutls_session_get_ptr(tls);
    const struct dk_dtls_params *p = &g->s->cfg->p;
    uint8_t buf[DK_DTLS_PSK_MAX];
    size_t len = 0;
    if (identity->size > DK_DTLS_PSK_ID_MAX) {
        g->fail = DK_EAUTH;
        g->fail_alert = GNUTLS_A_UNKNOWN_PSK_IDENTITY;
        return -1;
    }
    int rc = p->psk_lookup(p->psk_lookup_user, &g->s->peer, identity->data, identity->size, buf,
                           sizeof buf, &len);
    if (rc != 0 || len == 0 || len > sizeof buf) {
        dk_memzero(buf, sizeof buf);
        char who[DK_ADDR_STRLEN];
        dk_info(p->log, DK_GT_LOG, "PSK identity from %s refused (%s)", dk_gt_peer_str(g, who),
                rc ? dk_strerror(rc) : "bad key length");
        /* Unknown identity: handshake failure. The lookup failing for its
         * own reasons (store error, ...) is reported as that error. */
        bool unknown = rc == 0 || rc == DK_ENOTFOUND;
        g->fail = unknown ? DK_EAUTH : rc;
        g->fail_alert = unknown ? GNUTLS_A_UNKNOWN_PSK_IDENTITY : GNUTLS_A_INTERNAL_ERROR;
        return -1;
    }
    key->data = gnutls_malloc(len);
    if (!key->data) {
        dk_memzero(buf, sizeof buf);
        g->fail = DK_ENOMEM;
        return -1;
    }
    memcpy(key->data, buf, len);
    key->size = (unsigned)len;
    dk_memzero(buf, sizeof buf);
    memcpy(g->s->info.psk_identity, identity->data, identity->size);
    g->s->info.psk_identity_len = identity->size;
    return 0;
}

/* ---- peer authentication ----------------------------------------------- */

static void reject(struct dk_gt_session *g, int alert, const char *why)
{
    char who[DK_ADDR_STRLEN];
    dk_warn(g->s->cfg->p.log, DK_GT_LOG, "peer %s rejected: %s", dk_gt_peer_str(g, who), why);
    g->fail = DK_EAUTH;
    g->fail_alert = alert;
}

static int fill_x509_info(struct dk_dtls_peer_info *info, const gnutls_datum_t *der)
{
    gnutls_x509_crt_t crt = NULL;
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t spki = {NULL, 0};
    int rc = -1;
    sha256(der->data, der->size, info->cert_sha256);
    info->has_cert = true;
    if (gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) < 0)
        goto out;
    if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_x509(pub, crt, 0) < 0 ||
        gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) < 0)
        goto out;
    sha256(spki.data, spki.size, info->spki_sha256);
    info->has_spki = true;
    size_t cn_len = sizeof info->cert_cn;
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, info->cert_cn,
                                      &cn_len) < 0)
        info->cert_cn[0] = '\0';
    rc = 0;
out:
    gnutls_free(spki.data);
    if (pub)
        gnutls_pubkey_deinit(pub);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return rc;
}

static int alert_for_status(unsigned status)
{
    if (status & GNUTLS_CERT_EXPIRED)
        return GNUTLS_A_CERTIFICATE_EXPIRED;
    if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))
        return GNUTLS_A_UNKNOWN_CA;
    return GNUTLS_A_BAD_CERTIFICATE;
}

/* Called by GnuTLS right after the peer's Certificate message (before it
 * proved possession of the key): records what the peer presented and checks
 * it against the trust anchors or the pin. Returning non-zero aborts. */
static int verify_peer(gnutls_session_t tls)
{
    struct dk_gt_session *g = gnutls_session_get_ptr(tls);
    const struct dk_dtls_params *p = &g->s->cfg->p;
    struct dk_dtls_peer_info *info = &g->s->info;
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(tls, &n);
    if (!certs || n == 0)
        return 0; /* GnuTLS itself enforces GNUTLS_CERT_REQUIRE */
    gnutls_certificate_type_t type = gnutls_certificate_type_get2(tls, GNUTLS_CTYPE_PEERS);
    bool is_client = p->role == DK_DTLS_CLIENT;
    g->peer_checked = true;
    if (type == GNUTLS_CRT_RAWPK) {
        /* RFC 7250: the "certificate" is the DER SubjectPublicKeyInfo itself. */
        sha256(certs[0].data, certs[0].size, info->spki_sha256);
        info->has_spki = true;
        if (is_client && p->pinned_sha256) {
            if (!dk_ct_equal(info->spki_sha256, p->pinned_sha256, 32)) {
                reject(g, GNUTLS_A_BAD_CERTIFICATE, "raw public key does not match the pin");
                return GNUTLS_E_CERTIFICATE_ERROR;
            }
            return 0;
        }
        if (!p->pin_any) {
            reject(g, GNUTLS_A_UNSUPPORTED_CERTIFICATE, "raw public key without pinning");
            return GNUTLS_E_CERTIFICATE_ERROR;
        }
        return 0;
    }
    if (type != GNUTLS_CRT_X509) {
        reject(g, GNUTLS_A_UNSUPPORTED_CERTIFICATE, "unsupported certificate type");
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    if (fill_x509_info(info, &certs[0]) < 0) {
        reject(g, GNUTLS_A_BAD_CERTIFICATE, "unparsable certificate");
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    if (is_client && p->pinned_sha256) {
        if (!dk_ct_equal(info->cert_sha256, p->pinned_sha256, 32)) {
            reject(g, GNUTLS_A_BAD_CERTIFICATE, "certificate does not match the pin");
            return GNUTLS_E_CERTIFICATE_ERROR;
        }
        return 0;
    }
    if (p->pin_any)
        return 0;
    if (!p->ca_der) {
        reject(g, GNUTLS_A_UNKNOWN_CA, "no trust anchors configured");
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    unsigned status = 0;
    int e = gnutls_certificate_verify_peers2(tls, &status);
    if (e < 0 || status != 0) {
        gnutls_datum_t out = {NULL, 0};
        if (e >= 0 &&
            gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) >= 0) {
            reject(g, alert_for_status(status), (const char *)out.data);
            gnutls_free(out.data);
        } else {
            reject(g, GNUTLS_A_BAD_CERTIFICATE, "certificate chain not verified");
        }
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    return 0;
}

int dk_gt_run_user_verify(struct dk_gt_session *g)
{
    const struct dk_dtls_params *p = &g->s->cfg->p;
    if (!g->peer_checked || !p->verify)
        return 0;
    struct dk_dtls_peer_info *info = &g->s->info;
    info->mode = info->has_cert ? DK_DTLS_MODE_CERT : DK_DTLS_MODE_RPK;
    if (p->verify(p->verify_user, &g->s->peer, info) != 0) {
        reject(g, GNUTLS_A_ACCESS_DENIED, "refused by the verify callback");
        return GNUTLS_E_CERTIFICATE_ERROR;
    }
    return 0;
}

void dk_gt_fill_info(struct dk_gt_session *g)
{
    struct dk_dtls_peer_info *info = &g->s->info;
    gnutls_kx_algorithm_t kx = gnutls_kx_get(g->tls);
    gnutls_cipher_algorithm_t cipher = gnutls_cipher_get(g->tls);
    gnutls_mac_algorithm_t mac = gnutls_mac_get(g->tls);
    if (kx == GNUTLS_KX_PSK) {
        info->mode = DK_DTLS_MODE_PSK;
    } else {
        gnutls_certificate_type_t t = gnutls_certificate_type_get2(
            g->tls, g->peer_checked ? GNUTLS_CTYPE_PEERS : GNUTLS_CTYPE_OURS);
        info->mode = t == GNUTLS_CRT_RAWPK ? DK_DTLS_MODE_RPK : DK_DTLS_MODE_CERT;
    }
    unsigned char id[2];
    gnutls_kx_algorithm_t k;
    gnutls_cipher_algorithm_t c;
    gnutls_mac_algorithm_t m;
    gnutls_protocol_t v;
    for (size_t i = 0; gnutls_cipher_suite_info(i, id, &k, &c, &m, &v); i++) {
        if (k == kx && c == cipher && m == mac) {
            info->cipher_suite = (uint16_t)(id[0] << 8 | id[1]);
            break;
        }
    }
}

/* ---- config ------------------------------------------------------------ */

void dk_gt_config_free(struct dk_dtls_config *cfg)
{
    struct dk_gt_config *gc = cfg->impl;
    if (!gc)
        return;
    if (gc->prio)
        gnutls_priority_deinit(gc->prio);
    if (gc->psk_cli)
        gnutls_psk_free_client_credentials(gc->psk_cli);
    if (gc->psk_srv)
        gnutls_psk_free_server_credentials(gc->psk_srv);
    if (gc->cert)
        gnutls_certificate_free_credentials(gc->cert); /* frees the wrappers */
    if (gc->key)
        gnutls_privkey_deinit(gc->key);
    dk_alloc_release(dk_dtls_alloc(cfg), gc);
    cfg->impl = NULL;
}

static int setup_psk(struct dk_gt_config *gc, const struct dk_dtls_params *p)
{
    if (p->role == DK_DTLS_CLIENT) {
        if (gnutls_psk_allocate_client_credentials(&gc->psk_cli) < 0)
            return DK_ENOMEM;
        gnutls_datum_t id = {(unsigned char *)p->psk_identity, (unsigned)p->psk_identity_len};
        gnutls_datum_t key = {(unsigned char *)p->psk, (unsigned)p->psk_len};
        if (gnutls_psk_set_client_credentials2(gc->psk_cli, &id, &key, GNUTLS_PSK_KEY_RAW) < 0)
            return DK_ECRYPTO;
        return 0;
    }
    if (gnutls_psk_allocate_server_credentials(&gc->psk_srv) < 0)
        return DK_ENOMEM;
    gnutls_psk_set_server_credentials_function2(gc->psk_srv, psk_server_key);
    return 0;
}

static int setup_cert(struct dk_gt_config *gc, const struct dk_dtls_params *p)
{
    int rc;
    if (gnutls_certificate_allocate_credentials(&gc->cert) < 0)
        return DK_ENOMEM;
    if (p->key_der) {
        rc = load_key(gc, p->key_der, p->key_der_len);
        if (rc)
            return rc;
        if ((p->modes & DK_DTLS_MODE_CERT) && (rc = add_x509_chain(gc, p)) != 0)
            return rc;
        if ((p->modes & DK_DTLS_MODE_RPK) && (rc = add_rawpk(gc)) != 0)
            return rc;
    }
    if (p->ca_der && (rc = add_trust(gc, p)) != 0)
        return rc;
    return 0;
}

int dk_gt_config_setup(struct dk_dtls_config *cfg)
{
    const struct dk_dtls_params *p = &cfg->p;
    if (p->pinned_sha256 && p->role != DK_DTLS_CLIENT)
        return DK_EINVAL;
    struct dk_gt_config *gc = dk_alloc_zeroed(dk_dtls_alloc(cfg), sizeof *gc);
    if (!gc)
        return DK_ENOMEM;
    cfg->impl = gc;
    char prio[512];
    const char *err_pos = NULL;
    int rc = build_priority(p, prio, sizeof prio);
    if (rc)
        goto fail;
    if (gnutls_priority_init(&gc->prio, prio, &err_pos) < 0) {
        dk_error(p->log, DK_GT_LOG, "priority string rejected at \"%s\"", err_pos ? err_pos : "");
        rc = DK_ECRYPTO;
        goto fail;
    }
    gc->init_flags = GNUTLS_DATAGRAM | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS |
                     (p->role == DK_DTLS_CLIENT ? GNUTLS_CLIENT : GNUTLS_SERVER);
    if (p->modes & DK_DTLS_MODE_RPK)
        gc->init_flags |= GNUTLS_ENABLE_RAWPK;
    if ((p->modes & DK_DTLS_MODE_PSK) && (rc = setup_psk(gc, p)) != 0)
        goto fail;
    if ((p->modes & (DK_DTLS_MODE_CERT | DK_DTLS_MODE_RPK)) && (rc = setup_cert(gc, p)) != 0)
        goto fail;
    return 0;
fail:
    dk_gt_config_free(cfg);
    return rc;
}

/* ---- per session --------------------------------------------------------- */

int dk_gt_session_apply_config(struct dk_gt_session *g)
{
    const struct dk_dtls_config *cfg = g->s->cfg;
    const struct dk_gt_config *gc = cfg->impl;
    if (gnutls_priority_set(g->tls, gc->prio) < 0)
        return DK_ECRYPTO;
    if (gc->psk_cli && gnutls_credentials_set(g->tls, GNUTLS_CRD_PSK, gc->psk_cli) < 0)
        return DK_ECRYPTO;
    if (gc->psk_srv && gnutls_credentials_set(g->tls, GNUTLS_CRD_PSK, gc->psk_srv) < 0)
        return DK_ECRYPTO;
    if (gc->cert) {
        if (gnutls_credentials_set(g->tls, GNUTLS_CRD_CERTIFICATE, gc->cert) < 0)
            return DK_ECRYPTO;
        gnutls_session_set_verify_function(g->tls, verify_peer);
        if (cfg->p.role == DK_DTLS_SERVER)
            gnutls_certificate_server_set_request(
                g->tls, cfg->p.require_client_cert ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_IGNORE);
    }
    return 0;
}

int dk_dtls_gnutls_sign(const struct dk_dtls_config *cfg, const uint8_t *data, size_t len,
                        uint8_t *sig, size_t cap, size_t *sig_len)
{
    const struct dk_gt_config *gc = cfg->impl;
    if (!gc || !gc->key)
        return DK_ESTATE;
    gnutls_privkey_t w;
    if (wrap_key(gc->key, &w) < 0)
        return DK_ENOMEM;
    gnutls_datum_t d = {(unsigned char *)data, (unsigned)len}, out = {NULL, 0};
    int rc =
        gnutls_privkey_sign_data2(w, GNUTLS_SIGN_ECDSA_SHA256, 0, &d, &out) < 0 ? DK_ECRYPTO : 0;
    if (!rc && out.size > cap)
        rc = DK_ENOSPC;
    if (!rc) {
        memcpy(sig, out.data, out.size);
        *sig_len = out.size;
    }
    gnutls_free(out.data);
    gnutls_privkey_deinit(w);
    return rc;
}
