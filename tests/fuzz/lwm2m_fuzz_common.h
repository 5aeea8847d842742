/* Shared oracle of the lwm2m fuzz targets: decode, re-encode in every format
 * that can carry the records, decode again, and demand the same records. */
#ifndef DK_LWM2M_FUZZ_COMMON_H
#define DK_LWM2M_FUZZ_COMMON_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <duckling/err.h>
#include <duckling/lwm2m.h>

#define FZ_MAX_RECS 256

static void fz_die(const char *what, int cf, int rc)
{
    fprintf(stderr, "lwm2m fuzz: %s (cf %d, rc %d)\n", what, cf, rc);
    abort();
}

static struct dk_lwm2m_path fz_path(const char *s)
{
    struct dk_lwm2m_path p;
    if (dk_lwm2m_path_parse(s, strlen(s), &p) != 0)
        abort();
    return p;
}

static bool fz_ids_valid(const struct dk_lwm2m_record *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (unsigned k = 0; k < r[i].path.len; k++)
            if (r[i].path.ids[k] > DK_LWM2M_ID_MAX)
                return false;
    return true;
}

static bool fz_ascending(const struct dk_lwm2m_record *r, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (dk_lwm2m_path_compare(&r[i - 1].path, &r[i].path) >= 0)
            return false;
    return true;
}

static int fz_cmp_rec(const void *a, const void *b)
{
    return dk_lwm2m_path_compare(&((const struct dk_lwm2m_record *)a)->path,
                                 &((const struct dk_lwm2m_record *)b)->path);
}

static bool fz_same(const struct dk_lwm2m_record *a, size_t na, const struct dk_lwm2m_record *b,
                    size_t nb, bool with_time)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (!dk_lwm2m_path_equal(&a[i].path, &b[i].path) ||
            !dk_lwm2m_value_equal(&a[i].value, &b[i].value))
            return false;
        if (with_time && a[i].time != b[i].time)
            return false;
    }
    return true;
}

/* Encodes recs in cf under base and decodes them again with the same typing;
 * aborts when what comes back differs. Formats that cannot carry the records
 * (DK_ENOTSUP, DK_EINVAL for their shape) are skipped. */
static void fz_round_trip(int cf, const struct dk_lwm2m_path *base,
                          const struct dk_lwm2m_record *recs, size_t n,
                          const struct dk_lwm2m_decode_opts *typing)
{
    static uint8_t out[1 << 17];
    static uint8_t scratch[1 << 17];
    static struct dk_lwm2m_record back[FZ_MAX_RECS];
    struct dk_buf b;
    dk_buf_init(&b, out, sizeof out);
    int rc = dk_lwm2m_encode(cf, base, recs, n, &b);
    if (rc == DK_ENOTSUP || rc == DK_EINVAL || rc == DK_ENOSPC)
        return;
    if (rc)
        fz_die("encode failed", cf, rc);
    struct dk_lwm2m_decode_opts o = *typing;
    o.scratch = scratch;
    o.scratch_cap = sizeof scratch;
    size_t nb;
    rc = dk_lwm2m_decode(cf, out, b.len, base, &o, back, FZ_MAX_RECS, &nb);
    if (rc)
        fz_die("re-decode of own output failed", cf, rc);
    /* TLV cannot carry an empty instance at the instance's own path. */
    size_t skip = 0;
    if (cf == DK_LWM2M_CF_TLV && n > 0 && recs[0].value.type == DK_LWM2M_TYPE_NONE &&
        recs[0].path.len == 2 && base->len == 2)
        skip = 1;
    if (!fz_same(recs + skip, n - skip, back, nb, cf != DK_LWM2M_CF_TLV))
        fz_die("round trip changed the records", cf, 0);
}

/* TLV and plain text carry no types: a decoder gives back a record's type
 * only when the typing maps its path to it (or it is the natural one). */
static bool fz_untyped_ok(int cf, const struct dk_lwm2m_record *r, size_t n,
                          const struct dk_lwm2m_decode_opts *typing)
{
    enum dk_lwm2m_type natural =
        cf == DK_LWM2M_CF_TLV ? DK_LWM2M_TYPE_OPAQUE : DK_LWM2M_TYPE_STRING;
    for (size_t i = 0; i < n; i++) {
        enum dk_lwm2m_type t = r[i].value.type, want = natural;
        if (t == DK_LWM2M_TYPE_NONE)
            continue;
        if (!typing->raw && r[i].path.len >= 3)
            dk_lwm2m_builtin_type_of(NULL, &r[i].path, &want);
        if (t != want)
            return false;
    }
    return true;
}

/* Round trip through every format that can carry the records. */
static void fz_all_formats(const struct dk_lwm2m_path *base, struct dk_lwm2m_record *recs,
                           size_t n, const struct dk_lwm2m_decode_opts *typing, bool has_time)
{
    if (!fz_ids_valid(recs, n))
        return;
    if (!fz_ascending(recs, n)) {
        qsort(recs, n, sizeof recs[0], fz_cmp_rec);
        if (!fz_ascending(recs, n))
            return; /* duplicates: no format may carry them */
    }
    /* An empty container followed by something inside it (the payload named
     * the same instance twice) is not empty after all: drop the NONE record. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].value.type == DK_LWM2M_TYPE_NONE && i + 1 < n &&
            dk_lwm2m_path_contains(&recs[i].path, &recs[i + 1].path))
            continue;
        recs[k++] = recs[i];
    }
    n = k;
    if (!has_time && fz_untyped_ok(DK_LWM2M_CF_TLV, recs, n, typing))
        fz_round_trip(DK_LWM2M_CF_TLV, base, recs, n, typing);
    fz_round_trip(DK_LWM2M_CF_SENML_JSON, base, recs, n, typing);
    fz_round_trip(DK_LWM2M_CF_SENML_CBOR, base, recs, n, typing);
    if (n == 1 && !has_time && fz_untyped_ok(DK_LWM2M_CF_TEXT, recs, n, typing))
        fz_round_trip(DK_LWM2M_CF_TEXT, base, recs, n, typing);
}

/* Decodes data as cf under base, then round-trips whatever decoded. */
static void fz_decode_and_check(int cf, const char *base_s, const uint8_t *data, size_t size,
                                bool raw)
{
    static uint8_t scratch[1 << 17];
    static struct dk_lwm2m_record recs[FZ_MAX_RECS];
    struct dk_lwm2m_path base = fz_path(base_s);
    struct dk_lwm2m_decode_opts o = {.raw = raw, .scratch = scratch, .scratch_cap = sizeof scratch};
    size_t n;
    int rc = dk_lwm2m_decode(cf, data, size, &base, &o, recs, FZ_MAX_RECS, &n);
    if (rc == 0) {
        bool has_time = false;
        for (size_t i = 0; i < n; i++)
            has_time |= recs[i].time != 0;
        struct dk_lwm2m_decode_opts typing = {.raw = raw};
        fz_all_formats(&base, recs, n, &typing, has_time);
        return;
    }
    if (rc != DK_EPARSE && rc != DK_ERANGE && rc != DK_ENOSPC && rc != DK_ENOTSUP)
        fz_die("unexpected decode error", cf, rc);
}

#endif
