/* duckling — allocator passed by the caller to every context that allocates
 * (DESIGN §9.7). Engines never call malloc themselves, so tests can fail the
 * Nth allocation and the device can run from a fixed arena. */
#ifndef DUCKLING_ALLOC_H
#define DUCKLING_ALLOC_H

#include <stddef.h>

struct dk_alloc {
    void *(*alloc)(void *user, size_t n); /* returns NULL on failure; memory need not be zeroed */
    void (*free)(void *user, void *p);    /* p may be NULL */
    void *user;
};

/* The C library's malloc/free. Lives for the whole program. */
const struct dk_alloc *dk_alloc_default(void);

/* Zeroed allocation of n bytes through a (NULL a: dk_alloc_default()). */
void *dk_alloc_zeroed(const struct dk_alloc *a, size_t n);
void dk_alloc_release(const struct dk_alloc *a, void *p);

/* TESTS: an allocator that fails the Nth call (counting from 1) and every
 * call after it when sticky; counts calls and live blocks. */
struct dk_failalloc {
    struct dk_alloc iface;
    long calls;
    long fail_at; /* 0: never fail */
    long live;
    int sticky;
};
void dk_failalloc_init(struct dk_failalloc *f, long fail_at, int sticky);

#endif
