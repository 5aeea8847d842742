// dk-fuzz-libs: dk_lwm2m dk_base m
/* CoRE link format reader (what a Server gets in Register / Discover) and the
 * Write-Attributes query parser. Every link that names a path is written back
 * and must read back with the same path and attributes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <duckling/err.h>
#include <duckling/lwm2m_link.h>

static void die(const char *what)
{
    fprintf(stderr, "fuzz_linkformat: %s\n", what);
    abort();
}

static bool same_attrs(const struct dk_lwm2m_attrs *a, const struct dk_lwm2m_attrs *b)
{
    if (a->set != b->set)
        return false;
    uint32_t s = a->set;
    if ((s & DK_LWM2M_ATTR_PMIN) && a->pmin != b->pmin)
        return false;
    if ((s & DK_LWM2M_ATTR_PMAX) && a->pmax != b->pmax)
        return false;
    if ((s & DK_LWM2M_ATTR_EPMIN) && a->epmin != b->epmin)
        return false;
    if ((s & DK_LWM2M_ATTR_EPMAX) && a->epmax != b->epmax)
        return false;
    if ((s & DK_LWM2M_ATTR_GT) && a->gt != b->gt)
        return false;
    if ((s & DK_LWM2M_ATTR_LT) && a->lt != b->lt)
        return false;
    if ((s & DK_LWM2M_ATTR_ST) && a->st != b->st)
        return false;
    if ((s & DK_LWM2M_ATTR_DIM) && a->dim != b->dim)
        return false;
    if ((s & DK_LWM2M_ATTR_VER) &&
        (a->ver_major != b->ver_major || a->ver_minor != b->ver_minor))
        return false;
    if ((s & DK_LWM2M_ATTR_RT) &&
        (a->rt_len != b->rt_len || memcmp(a->rt, b->rt, a->rt_len) != 0))
        return false;
    if ((s & DK_LWM2M_ATTR_CT) &&
        (a->n_ct != b->n_ct || memcmp(a->ct, b->ct, a->n_ct * sizeof a->ct[0]) != 0))
        return false;
    return true;
}

static void check_link(const struct dk_lwm2m_link *l)
{
    static char mem[4096];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem);
    struct dk_lwm2m_link_writer w;
    dk_lwm2m_link_writer_init(&w, &b);
    struct dk_lwm2m_link out = *l;
    int rc = dk_lwm2m_link_write(&w, &out);
    if (rc == DK_EINVAL)
        return; /* e.g. an rt with escapes, which we never write */
    if (rc)
        die("write failed");
    struct dk_lwm2m_link_reader r;
    dk_lwm2m_link_reader_init(&r, mem, b.len);
    struct dk_lwm2m_link back;
    if (dk_lwm2m_link_reader_next(&r, &back) != 0)
        die("own output does not parse");
    if (back.root != l->root || !back.is_path || !dk_lwm2m_path_equal(&back.path, &l->path))
        die("path changed");
    if (!same_attrs(&back.attrs, &l->attrs))
        die("attributes changed");
    if (dk_lwm2m_link_reader_next(&r, &back) != DK_ENOTFOUND)
        die("one link became two");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dk_lwm2m_link_reader r;
    struct dk_lwm2m_link l;
    dk_lwm2m_link_reader_init(&r, data, size);
    int rc;
    while ((rc = dk_lwm2m_link_reader_next(&r, &l)) == 0) {
        size_t pos = 0;
        const char *n, *v;
        size_t nl, vl;
        int prc;
        while ((prc = dk_lwm2m_link_param_next(&l, &pos, &n, &nl, &v, &vl)) == 0)
            ;
        if (prc != DK_ENOTFOUND)
            die("parameters of a parsed link do not re-parse");
        if (l.is_path)
            check_link(&l);
    }
    if (rc != DK_ENOTFOUND && rc != DK_EPARSE && rc != DK_ERANGE)
        die("unexpected error");
    /* The same bytes as '&'-separated Write-Attributes queries. */
    struct dk_lwm2m_attrs a;
    memset(&a, 0, sizeof a);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '&') {
            rc = dk_lwm2m_attrs_parse_query(&a, (const char *)data + start, i - start);
            if (rc != 0 && rc != DK_EPARSE)
                die("unexpected query error");
            start = i + 1;
        }
    }
    (void)dk_lwm2m_attrs_check(&a);
    return 0;
}
