/* duckling — CSPRNG: mbedTLS CTR_DRBG (AES-256) seeded from getrandom(2).
 * One per context owner; never shared across threads without a lock.
 * Message ids, tokens, keys and cookies all come from here (DESIGN §9.7). */
#ifndef DUCKLING_RNG_H
#define DUCKLING_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <mbedtls/ctr_drbg.h>

struct dk_rng {
    mbedtls_ctr_drbg_context drbg;
    int ready;
    /* Only for dk_rng_setup_deterministic(): the fixed seed. */
    uint8_t fixed_seed[48];
    size_t fixed_len;
};

void dk_rng_init(struct dk_rng *rng);
/* Seeds from getrandom(2); pers (may be NULL) is mixed in as personalization.
 * Returns 0, DK_EIO (getrandom failed) or DK_ECRYPTO. */
int dk_rng_setup(struct dk_rng *rng, const void *pers, size_t pers_len);
/* TESTS ONLY: a reproducible stream from a fixed seed (<= 48 bytes). */
int dk_rng_setup_deterministic(struct dk_rng *rng, const void *seed, size_t seed_len);
/* Fills out with n random bytes (reseeds as CTR_DRBG requires).
 * Returns 0 or DK_ECRYPTO. */
int dk_rng_bytes(struct dk_rng *rng, void *out, size_t n);
/* A uniformly random value in [0, bound) (bound > 0); 0 on DRBG failure. */
uint32_t dk_rng_uniform(struct dk_rng *rng, uint32_t bound);
/* mbedTLS-style f_rng callback; p_rng is a struct dk_rng *. */
int dk_rng_mbedtls(void *p_rng, unsigned char *out, size_t n);
void dk_rng_free(struct dk_rng *rng);

#endif
