/* LwM2M paths. */
#include <duckling/err.h>
#include <duckling/lwm2m.h>

#include "internal.h"

struct dk_lwm2m_path dk_lwm2m_path_root(void)
{
    struct dk_lwm2m_path p = {{0, 0, 0, 0}, 0};
    return p;
}

struct dk_lwm2m_path dk_lwm2m_path_obj(uint16_t oid)
{
    struct dk_lwm2m_path p = {{oid, 0, 0, 0}, 1};
    return p;
}

struct dk_lwm2m_path dk_lwm2m_path_inst(uint16_t oid, uint16_t iid)
{
    struct dk_lwm2m_path p = {{oid, iid, 0, 0}, 2};
    return p;
}

struct dk_lwm2m_path dk_lwm2m_path_res(uint16_t oid, uint16_t iid, uint16_t rid)
{
    struct dk_lwm2m_path p = {{oid, iid, rid, 0}, 3};
    return p;
}

struct dk_lwm2m_path dk_lwm2m_path_rinst(uint16_t oid, uint16_t iid, uint16_t rid, uint16_t riid)
{
    struct dk_lwm2m_path p = {{oid, iid, rid, riid}, 4};
    return p;
}

/* One decimal id: no sign, no leading zero, 0..65534. */
static int parse_id(const char *s, size_t n, uint16_t *out)
{
    if (n == 0 || n > 5)
        return DK_EPARSE;
    if (n > 1 && s[0] == '0')
        return DK_EPARSE;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return DK_EPARSE;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > DK_LWM2M_ID_MAX)
        return DK_ERANGE;
    *out = (uint16_t)v;
    return 0;
}

int dk_lwm2m_path_push_segment(struct dk_lwm2m_path *p, const void *seg, size_t n)
{
    if (p->len >= 4)
        return DK_EPARSE;
    uint16_t id;
    int rc;
    /* Digits beyond 5 are still "a number too large", not a syntax error. */
    const char *s = seg;
    if (n > 5) {
        for (size_t i = 0; i < n; i++)
            if (s[i] < '0' || s[i] > '9')
                return DK_EPARSE;
        return s[0] == '0' ? DK_EPARSE : DK_ERANGE;
    }
    rc = parse_id(s, n, &id);
    if (rc)
        return rc;
    p->ids[p->len++] = id;
    return 0;
}

int dk_lwm2m__path_parse(const char *s, size_t n, bool allow_trailing, struct dk_lwm2m_path *out)
{
    struct dk_lwm2m_path p = dk_lwm2m_path_root();
    if (s == NULL || n == 0 || s[0] != '/')
        return DK_EPARSE;
    if (n == 1) {
        *out = p;
        return 0;
    }
    size_t i = 1;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        int rc = dk_lwm2m_path_push_segment(&p, s + i, j - i);
        if (rc)
            return rc;
        if (j == n)
            break;
        /* s[j] == '/' */
        if (j + 1 == n) {
            if (!allow_trailing)
                return DK_EPARSE;
            break;
        }
        i = j + 1;
    }
    *out = p;
    return 0;
}

int dk_lwm2m_path_parse(const char *s, size_t n, struct dk_lwm2m_path *out)
{
    return dk_lwm2m__path_parse(s, n, false, out);
}

int dk_lwm2m_path_write(const struct dk_lwm2m_path *p, struct dk_buf *b)
{
    if (p->len == 0)
        return dk_buf_put_u8(b, '/');
    for (unsigned i = 0; i < p->len && i < 4; i++) {
        int rc = dk_buf_printf(b, "/%u", (unsigned)p->ids[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int dk_lwm2m_path_str(const struct dk_lwm2m_path *p, char *out, size_t cap)
{
    struct dk_buf b;
    dk_buf_init(&b, out, cap);
    int rc = dk_lwm2m_path_write(p, &b);
    if (rc == 0)
        rc = dk_buf_put_u8(&b, 0);
    if (rc && cap)
        out[0] = 0;
    return rc;
}

bool dk_lwm2m_path_equal(const struct dk_lwm2m_path *a, const struct dk_lwm2m_path *b)
{
    if (a->len != b->len)
        return false;
    for (unsigned i = 0; i < a->len; i++)
        if (a->ids[i] != b->ids[i])
            return false;
    return true;
}

bool dk_lwm2m_path_contains(const struct dk_lwm2m_path *outer, const struct dk_lwm2m_path *inner)
{
    if (outer->len > inner->len)
        return false;
    for (unsigned i = 0; i < outer->len; i++)
        if (outer->ids[i] != inner->ids[i])
            return false;
    return true;
}

int dk_lwm2m_path_compare(const struct dk_lwm2m_path *a, const struct dk_lwm2m_path *b)
{
    unsigned n = a->len < b->len ? a->len : b->len;
    for (unsigned i = 0; i < n; i++)
        if (a->ids[i] != b->ids[i])
            return a->ids[i] < b->ids[i] ? -1 : 1;
    return (int)a->len - (int)b->len;
}

int dk_lwm2m_path_append(struct dk_lwm2m_path *p, uint16_t id)
{
    if (p->len >= 4)
        return DK_ENOSPC;
    if (id > DK_LWM2M_ID_MAX)
        return DK_ERANGE;
    p->ids[p->len++] = id;
    return 0;
}
