#include <duckling/alloc.h>

#include <stdlib.h>
#include <string.h>

static void *std_alloc(void *user, size_t n)
{
    (void)user;
    return malloc(n ? n : 1);
}

static void std_free(void *user, void *p)
{
    (void)user;
    free(p);
}

static const struct dk_alloc std_allocator = {std_alloc, std_free, NULL};

const struct dk_alloc *dk_alloc_default(void)
{
    return &std_allocator;
}

void *dk_alloc_zeroed(const struct dk_alloc *a, size_t n)
{
    if (!a)
        a = &std_allocator;
    void *p = a->alloc(a->user, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void dk_alloc_release(const struct dk_alloc *a, void *p)
{
    if (!p)
        return;
    if (!a)
        a = &std_allocator;
    a->free(a->user, p);
}

static void *fail_alloc(void *user, size_t n)
{
    struct dk_failalloc *f = user;
    f->calls++;
    if (f->fail_at && (f->calls == f->fail_at || (f->sticky && f->calls > f->fail_at)))
        return NULL;
    void *p = malloc(n ? n : 1);
    if (p)
        f->live++;
    return p;
}

static void fail_free(void *user, void *p)
{
    struct dk_failalloc *f = user;
    if (p)
        f->live--;
    free(p);
}

void dk_failalloc_init(struct dk_failalloc *f, long fail_at, int sticky)
{
    memset(f, 0, sizeof *f);
    f->iface.alloc = fail_alloc;
    f->iface.free = fail_free;
    f->iface.user = f;
    f->fail_at = fail_at;
    f->sticky = sticky;
}
