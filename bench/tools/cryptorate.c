/* dk-cryptorate — rates of the P-256 operations one x509 onboarding costs the
 * gateway, through the gateway's own backend (GnuTLS 3.7 over Nettle), on one
 * thread. bench/run pins it to one core with taskset.
 *
 *   ecdh     one ephemeral key pair (gnutls_privkey_generate, the call GnuTLS
 *            makes for ECDHE) plus one shared secret from a peer's public
 *            point: Nettle's ecc_point_set (on-curve check) + ecc_point_mul,
 *            what GnuTLS's ECDH derive runs (GnuTLS 3.7 has no public
 *            ECDH call, so this half goes to Nettle directly)
 *   sign     gnutls_privkey_sign_data2, ECDSA-SHA256 over 100 bytes
 *   verify   gnutls_pubkey_verify_data2 of such a signature
 *
 * Output: one line per operation, "NAME OPS_PER_SECOND COUNT SECONDS", then
 * "onboarding_limit PER_SECOND" for 2 ecdh + 3 sign + 3 verify on one core.
 * Exit 0, 1 on a crypto failure, 2 on bad usage.
 */
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>

#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "dk-cryptorate: %s: %s\n", what, gnutls_strerror(rc));
    exit(1);
}

static gnutls_privkey_t new_key(void)
{
    gnutls_privkey_t k;
    int rc = gnutls_privkey_init(&k);
    if (rc < 0)
        die("privkey_init", rc);
    rc = gnutls_privkey_generate(k, GNUTLS_PK_ECDSA,
                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    if (rc < 0)
        die("privkey_generate", rc);
    return k;
}

struct peer_point {
    mpz_t x, y;
};

/* The public point of a fresh key, as a TLS peer would send it. */
static void peer_point_make(struct peer_point *pp)
{
    gnutls_privkey_t k = new_key();
    gnutls_datum_t x, y;
    gnutls_ecc_curve_t curve;
    int rc = gnutls_privkey_export_ecc_raw(k, &curve, &x, &y, NULL);
    if (rc < 0)
        die("export_ecc_raw", rc);
    mpz_init(pp->x);
    mpz_init(pp->y);
    mpz_import(pp->x, x.size, 1, 1, 0, 0, x.data);
    mpz_import(pp->y, y.size, 1, 1, 0, 0, y.data);
    gnutls_free(x.data);
    gnutls_free(y.data);
    gnutls_privkey_deinit(k);
}

static int op_ecdh(const struct peer_point *pp)
{
    gnutls_privkey_t k = new_key();
    gnutls_datum_t kx, ky, kk;
    gnutls_ecc_curve_t curve;
    int rc = gnutls_privkey_export_ecc_raw(k, &curve, &kx, &ky, &kk);
    if (rc < 0)
        die("export_ecc_raw", rc);
    const struct ecc_curve *c = nettle_get_secp_256r1();
    struct ecc_point peer, shared;
    struct ecc_scalar priv;
    mpz_t d, sx, sy;
    mpz_inits(d, sx, sy, NULL);
    mpz_import(d, kk.size, 1, 1, 0, 0, kk.data);
    ecc_point_init(&peer, c);
    ecc_point_init(&shared, c);
    ecc_scalar_init(&priv, c);
    int ok = ecc_point_set(&peer, pp->x, pp->y) && ecc_scalar_set(&priv, d);
    if (ok) {
        ecc_point_mul(&shared, &priv, &peer);
        ecc_point_get(&shared, sx, NULL);
    }
    ecc_scalar_clear(&priv);
    ecc_point_clear(&peer);
    ecc_point_clear(&shared);
    mpz_clears(d, sx, sy, NULL);
    gnutls_memset(kk.data, 0, kk.size);
    gnutls_free(kx.data);
    gnutls_free(ky.data);
    gnutls_free(kk.data);
    gnutls_privkey_deinit(k);
    return ok ? 0 : -1;
}

static const unsigned char msg[100] = {1, 2, 3};

static void op_sign(gnutls_privkey_t k, gnutls_datum_t *sig)
{
    gnutls_datum_t d = {(unsigned char *)msg, sizeof msg};
    int rc = gnutls_privkey_sign_data2(k, GNUTLS_SIGN_ECDSA_SHA256, 0, &d, sig);
    if (rc < 0)
        die("sign", rc);
}

static void op_verify(gnutls_pubkey_t p, const gnutls_datum_t *sig)
{
    gnutls_datum_t d = {(unsigned char *)msg, sizeof msg};
    int rc = gnutls_pubkey_verify_data2(p, GNUTLS_SIGN_ECDSA_SHA256, 0, &d, sig);
    if (rc < 0)
        die("verify", rc);
}

struct rate {
    double per_s, secs;
    unsigned long n;
};

int main(int argc, char **argv)
{
    double secs = 1.0;
    if (argc == 3 && strcmp(argv[1], "--seconds") == 0) {
        secs = strtod(argv[2], NULL);
    } else if (argc != 1) {
        fprintf(stderr, "usage: dk-cryptorate [--seconds S]\n");
        return 2;
    }
    if (!(secs > 0 && secs <= 60)) {
        fprintf(stderr, "dk-cryptorate: --seconds: want 0 < S <= 60\n");
        return 2;
    }
    gnutls_global_init();
    struct peer_point pp;
    peer_point_make(&pp);
    gnutls_privkey_t key = new_key();
    gnutls_pubkey_t pub;
    gnutls_pubkey_init(&pub);
    int rc = gnutls_pubkey_import_privkey(pub, key, 0, 0);
    if (rc < 0)
        die("pubkey_import_privkey", rc);
    gnutls_datum_t sig;
    op_sign(key, &sig);

    struct rate r[3];
    const char *names[3] = {"ecdh", "sign", "verify"};
    for (int op = 0; op < 3; op++) {
        double t0 = now_s(), t;
        unsigned long n = 0;
        do {
            for (int i = 0; i < 16; i++) {
                if (op == 0) {
                    if (op_ecdh(&pp) < 0) {
                        fprintf(stderr, "dk-cryptorate: ecdh: bad point\n");
                        return 1;
                    }
                } else if (op == 1) {
                    gnutls_datum_t s;
                    op_sign(key, &s);
                    gnutls_free(s.data);
                } else {
                    op_verify(pub, &sig);
                }
            }
            n += 16;
            t = now_s() - t0;
        } while (t < secs);
        r[op] = (struct rate){(double)n / t, t, n};
        printf("%s %.1f %lu %.3f\n", names[op], r[op].per_s, n, t);
    }
    double cost = 2.0 / r[0].per_s + 3.0 / r[1].per_s + 3.0 / r[2].per_s;
    printf("onboarding_cost_ms %.4f\n", cost * 1e3);
    printf("onboarding_limit %.1f\n", 1.0 / cost);
    gnutls_free(sig.data);
    gnutls_pubkey_deinit(pub);
    gnutls_privkey_deinit(key);
    mpz_clears(pp.x, pp.y, NULL);
    gnutls_global_deinit();
    return 0;
}
