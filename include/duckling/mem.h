/* duckling — memory hygiene for secrets. */
#ifndef DUCKLING_MEM_H
#define DUCKLING_MEM_H

#include <stdbool.h>
#include <stddef.h>

/* Zeroes n bytes in a way the compiler cannot remove. p may be NULL when n is 0. */
void dk_memzero(void *p, size_t n);

/* Compares n bytes in time independent of their contents. True when equal. */
bool dk_ct_equal(const void *a, const void *b, size_t n);

#endif
