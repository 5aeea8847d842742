/* CoRE link format (RFC 6690) and LwM2M attributes. */
#include <duckling/err.h>
#include <duckling/lwm2m_link.h>

#include <math.h>
#include <string.h>

#include "internal.h"

/* ----------------------------------------------------------- attributes --- */

static const struct {
    const char *name;
    uint32_t flag;
} attr_names[] = {
    {"pmin", DK_LWM2M_ATTR_PMIN},   {"pmax", DK_LWM2M_ATTR_PMAX}, {"gt", DK_LWM2M_ATTR_GT},
    {"lt", DK_LWM2M_ATTR_LT},       {"st", DK_LWM2M_ATTR_ST},     {"epmin", DK_LWM2M_ATTR_EPMIN},
    {"epmax", DK_LWM2M_ATTR_EPMAX}, {"dim", DK_LWM2M_ATTR_DIM},   {"ver", DK_LWM2M_ATTR_VER},
    {"rt", DK_LWM2M_ATTR_RT},       {"ct", DK_LWM2M_ATTR_CT},
};

static uint32_t attr_flag(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++)
        if (strlen(attr_names[i].name) == n && memcmp(attr_names[i].name, s, n) == 0)
            return attr_names[i].flag;
    return 0;
}

static int parse_finite(const char *s, size_t n, double *d)
{
    struct dk_lwm2m_value v;
    int rc = dk_lwm2m__parse_number(s, n, &v);
    if (rc)
        return rc == DK_ERANGE ? DK_ERANGE : DK_EPARSE;
    dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_FLOAT);
    *d = v.v.f;
    return 0;
}

static int parse_u32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v;
    int rc = dk_lwm2m__parse_u64(s, n, UINT32_MAX, &v);
    if (rc)
        return rc;
    *out = (uint32_t)v;
    return 0;
}

/* Parses the value of a notification attribute into a. */
static int set_notify_attr(struct dk_lwm2m_attrs *a, uint32_t f, const char *v, size_t n)
{
    int rc;
    switch (f) {
    case DK_LWM2M_ATTR_PMIN: rc = parse_u32(v, n, &a->pmin); break;
    case DK_LWM2M_ATTR_PMAX: rc = parse_u32(v, n, &a->pmax); break;
    case DK_LWM2M_ATTR_EPMIN: rc = parse_u32(v, n, &a->epmin); break;
    case DK_LWM2M_ATTR_EPMAX: rc = parse_u32(v, n, &a->epmax); break;
    case DK_LWM2M_ATTR_GT: rc = parse_finite(v, n, &a->gt); break;
    case DK_LWM2M_ATTR_LT: rc = parse_finite(v, n, &a->lt); break;
    case DK_LWM2M_ATTR_ST: rc = parse_finite(v, n, &a->st); break;
    default: return DK_EPARSE;
    }
    if (rc == 0)
        a->set |= f;
    return rc;
}

int dk_lwm2m_attrs_parse_query(struct dk_lwm2m_attrs *a, const char *q, size_t n)
{
    const char *eq = memchr(q, '=', n);
    size_t nl = eq ? (size_t)(eq - q) : n;
    uint32_t f = attr_flag(q, nl);
    if (!(f & DK_LWM2M_ATTR_NOTIFY))
        return DK_EPARSE;
    if ((a->set | a->unset) & f)
        return DK_EPARSE;
    if (!eq) {
        a->unset |= f;
        return 0;
    }
    int rc = set_notify_attr(a, f, eq + 1, n - nl - 1);
    return rc == DK_ERANGE ? DK_EPARSE : rc;
}

int dk_lwm2m_attrs_check(const struct dk_lwm2m_attrs *a)
{
    uint32_t s = a->set;
    if ((s & DK_LWM2M_ATTR_PMIN) && (s & DK_LWM2M_ATTR_PMAX) && a->pmax < a->pmin)
        return DK_EINVAL;
    if ((s & DK_LWM2M_ATTR_EPMIN) && (s & DK_LWM2M_ATTR_EPMAX) && a->epmax <= a->epmin)
        return DK_EINVAL;
    if ((s & DK_LWM2M_ATTR_ST) && !(a->st >= 0))
        return DK_EINVAL;
    if ((s & DK_LWM2M_ATTR_GT) && (s & DK_LWM2M_ATTR_LT)) {
        if (!(a->lt < a->gt))
            return DK_EINVAL;
        if ((s & DK_LWM2M_ATTR_ST) && !(a->lt + 2 * a->st < a->gt))
            return DK_EINVAL;
    }
    return 0;
}

void dk_lwm2m_attrs_apply(struct dk_lwm2m_attrs *dst, const struct dk_lwm2m_attrs *req)
{
    dst->set &= ~req->unset;
    uint32_t s = req->set;
    if (s & DK_LWM2M_ATTR_PMIN)
        dst->pmin = req->pmin;
    if (s & DK_LWM2M_ATTR_PMAX)
        dst->pmax = req->pmax;
    if (s & DK_LWM2M_ATTR_EPMIN)
        dst->epmin = req->epmin;
    if (s & DK_LWM2M_ATTR_EPMAX)
        dst->epmax = req->epmax;
    if (s & DK_LWM2M_ATTR_GT)
        dst->gt = req->gt;
    if (s & DK_LWM2M_ATTR_LT)
        dst->lt = req->lt;
    if (s & DK_LWM2M_ATTR_ST)
        dst->st = req->st;
    dst->set |= s & DK_LWM2M_ATTR_NOTIFY;
}

/* --------------------------------------------------------------- writer --- */

void dk_lwm2m_link_writer_init(struct dk_lwm2m_link_writer *w, struct dk_buf *b)
{
    w->b = b;
    w->count = 0;
}

static int put_num_attr(struct dk_buf *b, const char *name, double d)
{
    if (!isfinite(d))
        return DK_EINVAL;
    int rc = dk_buf_printf(b, ";%s=", name);
    return rc ? rc : dk_lwm2m__put_double(b, d);
}

int dk_lwm2m_link_write(struct dk_lwm2m_link_writer *w, const struct dk_lwm2m_link *link)
{
    const struct dk_lwm2m_attrs *a = &link->attrs;
    uint32_t s = a->set;
    if ((s & DK_LWM2M_ATTR_RT) &&
        (memchr(a->rt, '"', a->rt_len) || memchr(a->rt, '\\', a->rt_len) ||
         !dk_lwm2m_utf8_valid((const uint8_t *)a->rt, a->rt_len)))
        return DK_EINVAL;
    if ((s & DK_LWM2M_ATTR_CT) && (a->n_ct == 0 || a->n_ct > DK_LWM2M_CT_MAX))
        return DK_EINVAL;
    struct dk_buf *b = w->b;
    size_t mark = b->len;
    int rc = dk_buf_put_str(b, w->count ? ",<" : "<");
    if (rc == 0)
        rc = link->root ? dk_buf_put_u8(b, '/') : dk_lwm2m_path_write(&link->path, b);
    if (rc == 0)
        rc = dk_buf_put_u8(b, '>');
    if (rc == 0 && (s & DK_LWM2M_ATTR_RT)) {
        rc = dk_buf_put_str(b, ";rt=\"");
        if (rc == 0)
            rc = dk_buf_put(b, a->rt, a->rt_len);
        if (rc == 0)
            rc = dk_buf_put_u8(b, '"');
    }
    if (rc == 0 && (s & DK_LWM2M_ATTR_CT)) {
        if (a->n_ct == 1) {
            rc = dk_buf_printf(b, ";ct=%u", (unsigned)a->ct[0]);
        } else {
            rc = dk_buf_put_str(b, ";ct=\"");
            for (unsigned i = 0; rc == 0 && i < a->n_ct; i++)
                rc = dk_buf_printf(b, i ? " %u" : "%u", (unsigned)a->ct[i]);
            if (rc == 0)
                rc = dk_buf_put_u8(b, '"');
        }
    }
    if (rc == 0 && (s & DK_LWM2M_ATTR_VER))
        rc = dk_buf_printf(b, ";ver=%u.%u", (unsigned)a->ver_major, (unsigned)a->ver_minor);
    if (rc == 0 && (s & DK_LWM2M_ATTR_DIM))
        rc = dk_buf_printf(b, ";dim=%u", (unsigned)a->dim);
    if (rc == 0 && (s & DK_LWM2M_ATTR_PMIN))
        rc = dk_buf_printf(b, ";pmin=%lu", (unsigned long)a->pmin);
    if (rc == 0 && (s & DK_LWM2M_ATTR_PMAX))
        rc = dk_buf_printf(b, ";pmax=%lu", (unsigned long)a->pmax);
    if (rc == 0 && (s & DK_LWM2M_ATTR_GT))
        rc = put_num_attr(b, "gt", a->gt);
    if (rc == 0 && (s & DK_LWM2M_ATTR_LT))
        rc = put_num_attr(b, "lt", a->lt);
    if (rc == 0 && (s & DK_LWM2M_ATTR_ST))
        rc = put_num_attr(b, "st", a->st);
    if (rc == 0 && (s & DK_LWM2M_ATTR_EPMIN))
        rc = dk_buf_printf(b, ";epmin=%lu", (unsigned long)a->epmin);
    if (rc == 0 && (s & DK_LWM2M_ATTR_EPMAX))
        rc = dk_buf_printf(b, ";epmax=%lu", (unsigned long)a->epmax);
    if (rc) {
        b->len = mark;
        return rc;
    }
    w->count++;
    return 0;
}

int dk_lwm2m_link_write_path(struct dk_lwm2m_link_writer *w, const struct dk_lwm2m_path *p,
                             const struct dk_lwm2m_attrs *attrs)
{
    struct dk_lwm2m_link l;
    memset(&l, 0, sizeof l);
    l.path = *p;
    l.root = p->len == 0;
    if (attrs)
        l.attrs = *attrs;
    return dk_lwm2m_link_write(w, &l);
}

/* --------------------------------------------------------------- reader --- */

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 6690 parmname characters (RFC 5987). */
static bool is_parmchar(char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("!#$&+-.^_`|~", c));
}

/* RFC 6690 ptoken characters. */
static bool is_ptokenchar(char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'()*+-./:<=>?@[]^_`{|}~", c));
}

/* URI-reference characters we accept between < and > (RFC 3986 set, no
 * white space, no '<' '>' '"'). */
static bool is_urichar(char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("-._~:/?#[]@!$&'()*+,;=%", c));
}

struct param {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    bool quoted;
};

/* Parses ";name[=value]" at s[*i..n). */
static int next_param(const char *s, size_t n, size_t *i, struct param *p)
{
    size_t k = *i;
    if (k >= n || s[k] != ';')
        return DK_EPARSE;
    k++;
    size_t ns = k;
    while (k < n && is_parmchar(s[k]))
        k++;
    if (k == ns)
        return DK_EPARSE;
    p->name = s + ns;
    p->name_len = k - ns;
    p->value = NULL;
    p->value_len = 0;
    p->quoted = false;
    if (k < n && s[k] == '=') {
        k++;
        if (k < n && s[k] == '"') {
            size_t vs = ++k;
            while (k < n && s[k] != '"') {
                if (s[k] == '\\') {
                    if (k + 1 >= n)
                        return DK_EPARSE;
                    k++;
                }
                if ((unsigned char)s[k] < 0x20)
                    return DK_EPARSE;
                k++;
            }
            if (k >= n)
                return DK_EPARSE;
            p->value = s + vs;
            p->value_len = k - vs;
            p->quoted = true;
            k++;
        } else {
            size_t vs = k;
            while (k < n && is_ptokenchar(s[k]) && s[k] != ',' && s[k] != ';')
                k++;
            if (k == vs)
                return DK_EPARSE;
            p->value = s + vs;
            p->value_len = k - vs;
        }
    }
    *i = k;
    return 0;
}

static int parse_ct(struct dk_lwm2m_attrs *a, const struct param *p)
{
    if (!p->value)
        return DK_EPARSE;
    a->n_ct = 0;
    size_t i = 0;
    while (i <= p->value_len) {
        size_t j = i;
        while (j < p->value_len && p->value[j] != ' ')
            j++;
        if (!p->quoted && j != p->value_len)
            return DK_EPARSE;
        uint64_t v;
        int rc = dk_lwm2m__parse_u64(p->value + i, j - i, 65535, &v);
        if (rc)
            return rc;
        if (a->n_ct == DK_LWM2M_CT_MAX)
            return DK_ERANGE;
        a->ct[a->n_ct++] = (uint16_t)v;
        i = j + 1;
    }
    return 0;
}

static int parse_ver(struct dk_lwm2m_attrs *a, const char *v, size_t n)
{
    const char *dot = v ? memchr(v, '.', n) : NULL;
    if (!dot)
        return DK_EPARSE;
    uint64_t ma, mi;
    int rc = dk_lwm2m__parse_u64(v, (size_t)(dot - v), 255, &ma);
    if (rc == 0)
        rc = dk_lwm2m__parse_u64(dot + 1, n - (size_t)(dot - v) - 1, 255, &mi);
    if (rc)
        return rc;
    a->ver_major = (uint8_t)ma;
    a->ver_minor = (uint8_t)mi;
    return 0;
}

static int apply_param(struct dk_lwm2m_attrs *a, const struct param *p)
{
    uint32_t f = attr_flag(p->name, p->name_len);
    if (!f)
        return 0; /* unknown: kept only in params */
    if (a->set & f)
        return DK_EPARSE; /* duplicate */
    int rc;
    if (f & DK_LWM2M_ATTR_NOTIFY) {
        if (!p->value)
            return DK_EPARSE;
        return set_notify_attr(a, f, p->value, p->value_len);
    }
    switch (f) {
    case DK_LWM2M_ATTR_DIM: {
        uint64_t v;
        if (!p->value)
            return DK_EPARSE;
        rc = dk_lwm2m__parse_u64(p->value, p->value_len, 65535, &v);
        if (rc)
            return rc;
        a->dim = (uint16_t)v;
        break;
    }
    case DK_LWM2M_ATTR_VER:
        rc = parse_ver(a, p->value, p->value_len);
        if (rc)
            return rc;
        break;
    case DK_LWM2M_ATTR_RT:
        if (!p->value)
            return DK_EPARSE;
        a->rt = p->value;
        a->rt_len = p->value_len;
        break;
    case DK_LWM2M_ATTR_CT:
        rc = parse_ct(a, p);
        if (rc)
            return rc;
        break;
    }
    a->set |= f;
    return 0;
}

void dk_lwm2m_link_reader_init(struct dk_lwm2m_link_reader *r, const void *data, size_t len)
{
    memset(r, 0, sizeof *r);
    r->data = data;
    r->len = data ? len : 0;
    r->done = r->len == 0;
}

static void uri_to_path(struct dk_lwm2m_link_reader *r, struct dk_lwm2m_link *l)
{
    const char *u = l->uri;
    size_t n = l->uri_len;
    if (r->alt_root) {
        if (n < r->alt_root_len || memcmp(u, r->alt_root, r->alt_root_len) != 0)
            return;
        u += r->alt_root_len;
        n -= r->alt_root_len;
        if (n == 0) {
            l->is_path = true;
            l->path = dk_lwm2m_path_root();
            return;
        }
    }
    if (dk_lwm2m_path_parse(u, n, &l->path) == 0)
        l->is_path = true;
}

int dk_lwm2m_link_reader_next(struct dk_lwm2m_link_reader *r, struct dk_lwm2m_link *l)
{
    if (r->err)
        return r->err;
    if (r->done)
        return DK_ENOTFOUND;
    memset(l, 0, sizeof *l);
    const char *s = r->data;
    size_t n = r->len, i = r->pos;
    int rc = DK_EPARSE;
    if (i >= n || s[i] != '<')
        goto fail;
    size_t us = ++i;
    while (i < n && s[i] != '>') {
        if (!is_urichar(s[i]))
            goto fail;
        i++;
    }
    if (i >= n || i == us)
        goto fail;
    l->uri = s + us;
    l->uri_len = i - us;
    i++;
    l->params = s + i;
    while (i < n && s[i] != ',') {
        struct param p;
        if ((rc = next_param(s, n, &i, &p)) != 0)
            goto fail;
        if ((rc = apply_param(&l->attrs, &p)) != 0)
            goto fail;
    }
    l->params_len = (size_t)(s + i - l->params);
    if (i < n) { /* ',' */
        i++;
        if (i >= n) {
            rc = DK_EPARSE; /* trailing comma */
            goto fail;
        }
    } else {
        r->done = true;
    }
    r->pos = i;
    if ((l->attrs.set & DK_LWM2M_ATTR_RT) && l->attrs.rt_len == 9 &&
        memcmp(l->attrs.rt, "oma.lwm2m", 9) == 0) {
        l->root = true;
        l->is_path = true;
        l->path = dk_lwm2m_path_root();
        if (!(l->uri_len == 1 && l->uri[0] == '/')) {
            if (l->uri[0] != '/' || l->uri[l->uri_len - 1] == '/') {
                rc = DK_EPARSE;
                goto fail;
            }
            r->alt_root = l->uri;
            r->alt_root_len = l->uri_len;
        }
        return 0;
    }
    uri_to_path(r, l);
    return 0;
fail:
    r->err = rc;
    return rc;
}

int dk_lwm2m_link_param_next(const struct dk_lwm2m_link *link, size_t *pos, const char **name,
                             size_t *name_len, const char **value, size_t *value_len)
{
    if (*pos >= link->params_len)
        return DK_ENOTFOUND;
    struct param p;
    int rc = next_param(link->params, link->params_len, pos, &p);
    if (rc)
        return rc;
    *name = p.name;
    *name_len = p.name_len;
    *value = p.value;
    *value_len = p.value_len;
    return 0;
}
