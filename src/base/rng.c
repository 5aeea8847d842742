#include <duckling/rng.h>
#include <duckling/err.h>
#include <duckling/mem.h>

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static int entropy_getrandom(void *ctx, unsigned char *out, size_t n)
{
    (void)ctx;
    size_t done = 0;
    while (done < n) {
        ssize_t r = getrandom(out + done, n - done, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
        }
        done += (size_t)r;
    }
    return 0;
}

static int entropy_fixed(void *ctx, unsigned char *out, size_t n)
{
    struct dk_rng *rng = ctx;
    /* Repeats the fixed seed as needed: reproducible, never secure. */
    for (size_t i = 0; i < n; i++)
        out[i] = rng->fixed_seed[i % rng->fixed_len];
    return 0;
}

void dk_rng_init(struct dk_rng *rng)
{
    memset(rng, 0, sizeof *rng);
    mbedtls_ctr_drbg_init(&rng->drbg);
}

int dk_rng_setup(struct dk_rng *rng, const void *pers, size_t pers_len)
{
    int rc = mbedtls_ctr_drbg_seed(&rng->drbg, entropy_getrandom, NULL, pers, pers_len);
    if (rc == MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED)
        return DK_EIO;
    if (rc != 0)
        return DK_ECRYPTO;
    mbedtls_ctr_drbg_set_prediction_resistance(&rng->drbg, MBEDTLS_CTR_DRBG_PR_OFF);
    rng->ready = 1;
    return 0;
}

int dk_rng_setup_deterministic(struct dk_rng *rng, const void *seed, size_t seed_len)
{
    if (seed_len == 0 || seed_len > sizeof rng->fixed_seed)
        return DK_EINVAL;
    memcpy(rng->fixed_seed, seed, seed_len);
    rng->fixed_len = seed_len;
    if (mbedtls_ctr_drbg_seed(&rng->drbg, entropy_fixed, rng, NULL, 0) != 0)
        return DK_ECRYPTO;
    rng->ready = 1;
    return 0;
}

int dk_rng_bytes(struct dk_rng *rng, void *out, size_t n)
{
    unsigned char *p = out;
    if (!rng->ready)
        return DK_ESTATE;
    while (n) {
        size_t chunk = n < MBEDTLS_CTR_DRBG_MAX_REQUEST ? n : MBEDTLS_CTR_DRBG_MAX_REQUEST;
        if (mbedtls_ctr_drbg_random(&rng->drbg, p, chunk) != 0)
            return DK_ECRYPTO;
        p += chunk;
        n -= chunk;
    }
    return 0;
}

uint32_t dk_rng_uniform(struct dk_rng *rng, uint32_t bound)
{
    if (bound < 2)
        return 0;
    /* Rejection sampling removes modulo bias. */
    uint32_t limit = UINT32_MAX - UINT32_MAX % bound;
    for (;;) {
        uint32_t v;
        if (dk_rng_bytes(rng, &v, sizeof v) != 0)
            return 0;
        if (v < limit)
            return v % bound;
    }
}

int dk_rng_mbedtls(void *p_rng, unsigned char *out, size_t n)
{
    return dk_rng_bytes(p_rng, out, n) == 0 ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

void dk_rng_free(struct dk_rng *rng)
{
    mbedtls_ctr_drbg_free(&rng->drbg);
    dk_memzero(rng, sizeof *rng);
}
