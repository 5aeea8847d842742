#include <duckling/mem.h>

#include <stdint.h>
#include <string.h>

void dk_memzero(void *p, size_t n)
{
    if (n)
        explicit_bzero(p, n);
}

bool dk_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}
