/* duckling — CoRE link format (RFC 6690, content-format 40) as LwM2M uses it,
 * and the attributes of Discover and Write-Attributes (LwM2M 1.1 §5.1.2).
 *
 * Writing: the Register / Update object list
 *   </>;rt="oma.lwm2m";ct=11543,</1>;ver=1.1,</1/0>,</3/0>,...
 * and Discover answers
 *   </3/0>;pmin=10,</3/0/0>,</3/0/6>;dim=2,...
 * Reading: what a Server receives in a registration or a Discover answer,
 * including an alternate root path (</lwm2m>;rt="oma.lwm2m" makes later
 * </lwm2m/3/0> mean /3/0). Engine layer: no allocation, zero-copy. */
#ifndef DUCKLING_LWM2M_LINK_H
#define DUCKLING_LWM2M_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/buf.h>
#include <duckling/lwm2m.h>

/* Attribute flags (struct dk_lwm2m_attrs.set / .unset). */
enum {
    DK_LWM2M_ATTR_PMIN = 1 << 0,  /* minimum period, s */
    DK_LWM2M_ATTR_PMAX = 1 << 1,  /* maximum period, s */
    DK_LWM2M_ATTR_GT = 1 << 2,    /* greater than */
    DK_LWM2M_ATTR_LT = 1 << 3,    /* less than */
    DK_LWM2M_ATTR_ST = 1 << 4,    /* step */
    DK_LWM2M_ATTR_EPMIN = 1 << 5, /* evaluation minimum period, s (1.1) */
    DK_LWM2M_ATTR_EPMAX = 1 << 6, /* evaluation maximum period, s (1.1) */
    DK_LWM2M_ATTR_DIM = 1 << 7,   /* number of resource instances (read-only) */
    DK_LWM2M_ATTR_VER = 1 << 8,   /* object version "M.m" (read-only) */
    DK_LWM2M_ATTR_RT = 1 << 9,    /* resource type, e.g. oma.lwm2m */
    DK_LWM2M_ATTR_CT = 1 << 10,   /* content format(s) */
};
/* The attributes Write-Attributes may set. */
#define DK_LWM2M_ATTR_NOTIFY                                                                       \
    (DK_LWM2M_ATTR_PMIN | DK_LWM2M_ATTR_PMAX | DK_LWM2M_ATTR_GT | DK_LWM2M_ATTR_LT |              \
     DK_LWM2M_ATTR_ST | DK_LWM2M_ATTR_EPMIN | DK_LWM2M_ATTR_EPMAX)

#define DK_LWM2M_CT_MAX 8

struct dk_lwm2m_attrs {
    uint32_t set;   /* attributes present with a value */
    uint32_t unset; /* Write-Attributes: named without value, i.e. remove */
    uint32_t pmin, pmax, epmin, epmax;
    double gt, lt, st;
    uint16_t dim;
    uint8_t ver_major, ver_minor;
    const char *rt; /* borrowed, not NUL-terminated, without quotes */
    size_t rt_len;
    uint16_t ct[DK_LWM2M_CT_MAX];
    uint8_t n_ct;
};

/* Parses one Write-Attributes Uri-Query option: "pmin=10", "gt=20.5", or
 * "pmax" alone (remove). Only the DK_LWM2M_ATTR_NOTIFY attributes are
 * accepted; they are merged into *a (which the caller zeroes first).
 * Returns 0 or DK_EPARSE (unknown or read-only attribute, bad number, a name
 * given twice). */
int dk_lwm2m_attrs_parse_query(struct dk_lwm2m_attrs *a, const char *q, size_t n);

/* Semantic checks of a set of notification attributes (LwM2M 1.1 §5.1.2):
 * pmax >= pmin, epmax > epmin, st >= 0, lt < gt, lt + 2*st < gt. Returns 0
 * or DK_EINVAL. */
int dk_lwm2m_attrs_check(const struct dk_lwm2m_attrs *a);

/* Applies a Write-Attributes request (`req`: its set values and unset names)
 * to the stored attributes *dst. */
void dk_lwm2m_attrs_apply(struct dk_lwm2m_attrs *dst, const struct dk_lwm2m_attrs *req);

/* One link. For writing, fill path (or root = true for "</>") and attrs.
 * From the reader, uri/params are borrowed from the input: uri is the text
 * between < and >, params everything after > up to the next link (";a=b;c"). */
struct dk_lwm2m_link {
    bool root;   /* "</>" (or the alternate root path) */
    bool is_path;/* uri named an LwM2M path (under the root); path is valid */
    struct dk_lwm2m_path path;
    struct dk_lwm2m_attrs attrs;
    const char *uri;
    size_t uri_len;
    const char *params;
    size_t params_len;
};

/* --- writer --- */

struct dk_lwm2m_link_writer {
    struct dk_buf *b;
    size_t count;
};

void dk_lwm2m_link_writer_init(struct dk_lwm2m_link_writer *w, struct dk_buf *b);
/* Appends ",<path>;attr=..." (no comma before the first). Attributes are
 * written in the order rt, ct, ver, dim, pmin, pmax, gt, lt, st, epmin, epmax
 * for the flags set in link->attrs.set. Returns 0, DK_ENOSPC or DK_EINVAL
 * (rt with '"' or '\\', n_ct 0 with CT set, NaN/inf thresholds). */
int dk_lwm2m_link_write(struct dk_lwm2m_link_writer *w, const struct dk_lwm2m_link *link);
/* Shorthands. */
int dk_lwm2m_link_write_path(struct dk_lwm2m_link_writer *w, const struct dk_lwm2m_path *p,
                             const struct dk_lwm2m_attrs *attrs /* may be NULL */);

/* --- reader --- */

struct dk_lwm2m_link_reader {
    const char *data;
    size_t len;
    size_t pos;
    int err;
    bool done;
    const char *alt_root; /* alternate root path, e.g. "/lwm2m" (borrowed) */
    size_t alt_root_len;
};

void dk_lwm2m_link_reader_init(struct dk_lwm2m_link_reader *r, const void *data, size_t len);

/* Parses the next link (RFC 6690 grammar, no white space). Known attributes
 * are parsed into link->attrs and must be well-formed (pmin/pmax/epmin/epmax
 * 0..2^32-1, gt/lt/st decimal numbers, dim 0..65535, ver "M.m", ct one
 * number 0..65535 or a quoted space-separated list, rt a token or quoted
 * string); other attributes are skipped but must be well-formed. A link with
 * rt="oma.lwm2m" is the root (its uri becomes the alternate root path when it
 * is not "/"). Other uris are parsed as paths under the root; a uri that is
 * not one leaves is_path false (not an error).
 * Returns 0, DK_ENOTFOUND (end), DK_EPARSE or DK_ERANGE. Errors are sticky. */
int dk_lwm2m_link_reader_next(struct dk_lwm2m_link_reader *r, struct dk_lwm2m_link *link);

/* Iterates the raw parameters of a link: from *pos (start at 0) returns the
 * next name and value (value NULL/0 when the parameter has none; a quoted
 * value is given without its quotes, escapes left in). Returns 0,
 * DK_ENOTFOUND at the end, DK_EPARSE. */
int dk_lwm2m_link_param_next(const struct dk_lwm2m_link *link, size_t *pos, const char **name,
                             size_t *name_len, const char **value, size_t *value_len);

#endif
