/* SenML JSON (RFC 8428 §4-5, content-format 110) as LwM2M 1.1 uses it.
 * A small strict JSON scanner: no allocation, strings are borrowed from the
 * input unless they contain escapes (then unescaped into scratch). */
#include <duckling/err.h>

#include <string.h>

#include "internal.h"

#define JSON_DEPTH_MAX 16

struct js {
    const char *s;
    size_t n;
    size_t pos;
};

static void ws(struct js *j)
{
    while (j->pos < j->n) {
        char c = j->s[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        j->pos++;
    }
}

static int expect(struct js *j, char c)
{
    ws(j);
    if (j->pos >= j->n || j->s[j->pos] != c)
        return DK_EPARSE;
    j->pos++;
    return 0;
}

static bool peek(struct js *j, char c)
{
    ws(j);
    return j->pos < j->n && j->s[j->pos] == c;
}

/* A JSON string token: [*start, *start+*len) is its raw content between the
 * quotes; *escaped tells whether it contains backslashes. Validates escapes,
 * control characters and UTF-8. */
static int string_token(struct js *j, const char **start, size_t *len, bool *escaped)
{
    ws(j);
    if (j->pos >= j->n || j->s[j->pos] != '"')
        return DK_EPARSE;
    size_t i = ++j->pos;
    bool esc = false;
    while (i < j->n && j->s[i] != '"') {
        unsigned char c = (unsigned char)j->s[i];
        if (c < 0x20)
            return DK_EPARSE;
        if (c == '\\') {
            esc = true;
            if (i + 1 >= j->n)
                return DK_EPARSE;
            char e = j->s[i + 1];
            if (e == 'u') {
                if (i + 6 > j->n)
                    return DK_EPARSE;
                for (int k = 2; k < 6; k++) {
                    char h = j->s[i + k];
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                          (h >= 'A' && h <= 'F')))
                        return DK_EPARSE;
                }
                i += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == 0)
                return DK_EPARSE;
            i += 2;
            continue;
        }
        i++;
    }
    if (i >= j->n)
        return DK_EPARSE;
    if (!dk_lwm2m_utf8_valid((const uint8_t *)j->s + j->pos, i - j->pos))
        return DK_EPARSE;
    *start = j->s + j->pos;
    *len = i - j->pos;
    *escaped = esc;
    j->pos = i + 1;
    return 0;
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char h = p[k];
        v = v << 4 | (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    return v;
}

/* Unescapes a validated raw string into out. Returns 0, DK_EPARSE (lone
 * surrogate, \u0000) or DK_ENOSPC. */
static int unescape(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint8_t tmp[4];
        size_t tn = 0;
        if (s[i] != '\\') {
            tmp[tn++] = (uint8_t)s[i++];
        } else {
            char e = s[i + 1];
            if (e != 'u') {
                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                tmp[tn++] = (uint8_t)to[strchr(from, e) - from];
                i += 2;
            } else {
                uint32_t cp = hex4(s + i + 2);
                i += 6;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return DK_EPARSE;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u')
                        return DK_EPARSE;
                    uint32_t lo = hex4(s + i + 2);
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return DK_EPARSE;
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp < 0x80) {
                    tmp[tn++] = (uint8_t)cp;
                } else if (cp < 0x800) {
                    tmp[tn++] = (uint8_t)(0xC0 | cp >> 6);
                    tmp[tn++] = (uint8_t)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    tmp[tn++] = (uint8_t)(0xE0 | cp >> 12);
                    tmp[tn++] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
                    tmp[tn++] = (uint8_t)(0x80 | (cp & 0x3F));
                } else {
                    tmp[tn++] = (uint8_t)(0xF0 | cp >> 18);
                    tmp[tn++] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
                    tmp[tn++] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
                    tmp[tn++] = (uint8_t)(0x80 | (cp & 0x3F));
                }
            }
        }
        if (cap - o < tn)
            return DK_ENOSPC;
        memcpy(out + o, tmp, tn);
        o += tn;
    }
    *outlen = o;
    return 0;
}

/* A string value into a small local buffer (names, keys, objlnk). */
static int string_local(struct js *j, char *out, size_t cap, size_t *len)
{
    const char *s;
    size_t n;
    bool esc;
    int rc = string_token(j, &s, &n, &esc);
    if (rc)
        return rc;
    if (!esc) {
        if (n > cap)
            return DK_EPARSE;
        memcpy(out, s, n);
        *len = n;
        return 0;
    }
    rc = unescape(s, n, (uint8_t *)out, cap, len);
    return rc == DK_ENOSPC ? DK_EPARSE : rc;
}

static int number_token(struct js *j, struct dk_lwm2m_value *v)
{
    ws(j);
    size_t i = j->pos;
    while (i < j->n && strchr("+-0123456789.eE", j->s[i]) && j->s[i])
        i++;
    if (i == j->pos)
        return DK_EPARSE;
    int rc = dk_lwm2m__parse_number(j->s + j->pos, i - j->pos, v);
    if (rc == 0 || rc == DK_ERANGE)
        j->pos = i; /* well-formed: skippable even when out of range */
    return rc;
}

static int number_double(struct js *j, double *d)
{
    struct dk_lwm2m_value v;
    int rc = number_token(j, &v);
    if (rc)
        return rc;
    if (v.type != DK_LWM2M_TYPE_FLOAT)
        dk_lwm2m_value_convert(&v, DK_LWM2M_TYPE_FLOAT);
    *d = v.v.f;
    return 0;
}

static bool literal(struct js *j, const char *lit)
{
    ws(j);
    size_t n = strlen(lit);
    if (j->n - j->pos >= n && memcmp(j->s + j->pos, lit, n) == 0) {
        j->pos += n;
        return true;
    }
    return false;
}

static int skip_value(struct js *j, int depth)
{
    if (depth > JSON_DEPTH_MAX)
        return DK_EPARSE;
    ws(j);
    if (j->pos >= j->n)
        return DK_EPARSE;
    char c = j->s[j->pos];
    if (c == '"') {
        const char *s;
        size_t n;
        bool e;
        return string_token(j, &s, &n, &e);
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->pos++;
        if (peek(j, close)) {
            j->pos++;
            return 0;
        }
        for (;;) {
            int rc;
            if (c == '{') {
                const char *s;
                size_t n;
                bool e;
                if ((rc = string_token(j, &s, &n, &e)) || (rc = expect(j, ':')))
                    return rc;
            }
            if ((rc = skip_value(j, depth + 1)) != 0)
                return rc;
            if (peek(j, ',')) {
                j->pos++;
                continue;
            }
            return expect(j, close);
        }
    }
    if (literal(j, "true") || literal(j, "false") || literal(j, "null"))
        return 0;
    struct dk_lwm2m_value v;
    int rc = number_token(j, &v);
    return rc == DK_ERANGE ? 0 : rc;
}

/* --------------------------------------------------------------- reader --- */

static struct js js_of(struct dk_lwm2m_reader *r)
{
    struct js j = {(const char *)r->data, r->len, r->pos};
    return j;
}

int dk_lwm2m__json_start(struct dk_lwm2m_reader *r)
{
    struct js j = js_of(r);
    int rc = expect(&j, '[');
    if (rc)
        return rc;
    r->pos = j.pos;
    return 0;
}

enum {
    K_BN = 1 << 0,
    K_BT = 1 << 1,
    K_BV = 1 << 2,
    K_BVER = 1 << 3,
    K_N = 1 << 4,
    K_T = 1 << 5,
    K_V = 1 << 6,
    K_VS = 1 << 7,
    K_VB = 1 << 8,
    K_VD = 1 << 9,
    K_VLO = 1 << 10,
    K_OTHER = 1 << 11, /* bu, u, s, bs, ut: read and ignored */
};
#define K_VALUES (K_V | K_VS | K_VB | K_VD | K_VLO)

static int key_of(const char *k, size_t n)
{
    static const struct {
        const char *name;
        int key;
    } keys[] = {{"bn", K_BN}, {"bt", K_BT}, {"bv", K_BV},   {"bver", K_BVER}, {"n", K_N},
                {"t", K_T},   {"v", K_V},   {"vs", K_VS},   {"vb", K_VB},     {"vd", K_VD},
                {"vlo", K_VLO}, {"bu", K_OTHER}, {"u", K_OTHER}, {"s", K_OTHER},
                {"bs", K_OTHER}, {"ut", K_OTHER}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strlen(keys[i].name) == n && memcmp(keys[i].name, k, n) == 0)
            return keys[i].key;
    if (n > 0 && k[n - 1] == '_')
        return -1; /* must-understand field we do not understand */
    return 0;
}

static int read_field(struct dk_lwm2m_reader *r, struct js *j, int key,
                      struct dk_lwm2m__senml_raw *raw, char *bn, char *n)
{
    int rc;
    switch (key) {
    case K_BN:
        raw->has_bn = true;
        rc = string_local(j, bn, DK_LWM2M_NAME_MAX, &raw->bn_len);
        raw->bn = bn;
        return rc;
    case K_N:
        raw->has_n = true;
        rc = string_local(j, n, DK_LWM2M_NAME_MAX, &raw->n_len);
        raw->n = n;
        return rc;
    case K_BT:
        raw->has_bt = true;
        return number_double(j, &raw->bt);
    case K_T:
        raw->has_t = true;
        return number_double(j, &raw->t);
    case K_BV:
        raw->has_bv = true;
        return number_double(j, &raw->bv);
    case K_BVER: {
        struct dk_lwm2m_value v;
        rc = number_token(j, &v);
        if (rc)
            return rc;
        if (v.type != DK_LWM2M_TYPE_INTEGER || v.v.i < 1 || v.v.i > 10)
            return DK_EPARSE; /* versions above 10 may change meanings */
        return 0;
    }
    case K_V:
        raw->value_is_v = true;
        return number_token(j, &raw->value);
    case K_VB:
        if (literal(j, "true"))
            raw->value = dk_lwm2m_bool(true);
        else if (literal(j, "false"))
            raw->value = dk_lwm2m_bool(false);
        else
            return DK_EPARSE;
        return 0;
    case K_VS: {
        const char *s;
        size_t len;
        bool esc;
        if ((rc = string_token(j, &s, &len, &esc)) != 0)
            return rc;
        if (!esc) {
            raw->value = dk_lwm2m_strn(s, len);
            return 0;
        }
        uint8_t *out = dk_lwm2m__scratch(r, 0);
        size_t cap = r->opts.scratch ? r->opts.scratch_cap - r->scratch_used : 0;
        size_t olen;
        if ((rc = unescape(s, len, out, cap, &olen)) != 0)
            return rc;
        dk_lwm2m__scratch(r, olen);
        raw->value = dk_lwm2m_strn(out, olen);
        return 0;
    }
    case K_VD: {
        const char *s;
        size_t len;
        bool esc;
        if ((rc = string_token(j, &s, &len, &esc)) != 0)
            return rc;
        if (esc)
            return DK_EPARSE; /* base64 has nothing to escape */
        uint8_t *out = dk_lwm2m__scratch(r, 0);
        size_t cap = r->opts.scratch ? r->opts.scratch_cap - r->scratch_used : 0;
        size_t olen;
        if ((rc = dk_lwm2m__b64_decode(s, len, out, cap, &olen)) != 0)
            return rc;
        dk_lwm2m__scratch(r, olen);
        raw->value = dk_lwm2m_opaque(out, olen);
        return 0;
    }
    case K_VLO: {
        char tmp[16];
        size_t len;
        if ((rc = string_local(j, tmp, sizeof tmp, &len)) != 0)
            return rc;
        struct dk_lwm2m_objlnk l;
        if ((rc = dk_lwm2m__parse_objlnk(tmp, len, &l)) != 0)
            return rc;
        raw->value = dk_lwm2m_objlnk(l.oid, l.iid);
        return 0;
    }
    default:
        return skip_value(j, 1);
    }
}

int dk_lwm2m__json_next(struct dk_lwm2m_reader *r, struct dk_lwm2m_record *rec)
{
    struct js j = js_of(r);
    int rc;
    if (r->count == 0) {
        if (peek(&j, ']')) {
            j.pos++;
            goto end;
        }
    } else {
        if (peek(&j, ']')) {
            j.pos++;
            goto end;
        }
        if ((rc = expect(&j, ',')) != 0)
            return rc;
    }
    if ((rc = expect(&j, '{')) != 0)
        return rc;
    struct dk_lwm2m__senml_raw raw;
    memset(&raw, 0, sizeof raw);
    char bn[DK_LWM2M_NAME_MAX], n[DK_LWM2M_NAME_MAX];
    int seen = 0;
    if (peek(&j, '}')) {
        j.pos++;
    } else {
        for (;;) {
            char key[8];
            size_t klen;
            const char *ks;
            bool esc;
            size_t save = j.pos;
            if ((rc = string_token(&j, &ks, &klen, &esc)) != 0)
                return rc;
            int k = 0;
            if (esc) {
                j.pos = save;
                rc = string_local(&j, key, sizeof key, &klen);
                if (rc == 0)
                    k = key_of(key, klen);
                else if (rc != DK_EPARSE)
                    return rc;
                else {
                    /* long escaped key: unknown unless it ends in '_' */
                    j.pos = save;
                    if ((rc = string_token(&j, &ks, &klen, &esc)) != 0)
                        return rc;
                    k = (klen && ks[klen - 1] == '_') ? -1 : 0;
                }
            } else {
                k = key_of(ks, klen);
            }
            if (k < 0)
                return DK_EPARSE;
            if (k && k != K_OTHER) {
                if (seen & k)
                    return DK_EPARSE; /* duplicate key */
                if ((k & K_VALUES) && (seen & K_VALUES))
                    return DK_EPARSE; /* two values in one record */
                seen |= k;
            }
            if ((rc = expect(&j, ':')) != 0)
                return rc;
            if ((rc = read_field(r, &j, k, &raw, bn, n)) != 0)
                return rc;
            if (peek(&j, ',')) {
                j.pos++;
                continue;
            }
            if ((rc = expect(&j, '}')) != 0)
                return rc;
            break;
        }
    }
    raw.has_value = (seen & K_VALUES) != 0;
    r->pos = j.pos;
    return dk_lwm2m__senml_finish(r, &raw, rec);
end:
    ws(&j);
    if (j.pos != j.n)
        return DK_EPARSE; /* trailing garbage */
    r->pos = j.pos;
    return DK_ENOTFOUND;
}

/* --------------------------------------------------------------- writer --- */

static int put_json_string(struct dk_buf *b, const uint8_t *s, size_t n)
{
    if (!dk_lwm2m_utf8_valid(s, n))
        return DK_EINVAL;
    int rc = dk_buf_put_u8(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = dk_buf_put(b, s + run, i - run);
        run = i + 1;
        if (rc)
            break;
        switch (c) {
        case '"': rc = dk_buf_put_str(b, "\\\""); break;
        case '\\': rc = dk_buf_put_str(b, "\\\\"); break;
        case '\n': rc = dk_buf_put_str(b, "\\n"); break;
        case '\r': rc = dk_buf_put_str(b, "\\r"); break;
        case '\t': rc = dk_buf_put_str(b, "\\t"); break;
        default: rc = dk_buf_printf(b, "\\u%04x", c); break;
        }
    }
    if (rc == 0)
        rc = dk_buf_put(b, s + run, n - run);
    if (rc == 0)
        rc = dk_buf_put_u8(b, '"');
    return rc;
}

static int put_json_value(struct dk_buf *b, const struct dk_lwm2m_value *v)
{
    int rc;
    switch (v->type) {
    case DK_LWM2M_TYPE_NONE: return 0;
    case DK_LWM2M_TYPE_STRING:
    case DK_LWM2M_TYPE_CORELNK:
        rc = dk_buf_put_str(b, ",\"vs\":");
        return rc ? rc : put_json_string(b, v->v.bytes.p, v->v.bytes.n);
    case DK_LWM2M_TYPE_INTEGER:
    case DK_LWM2M_TYPE_TIME:
        rc = dk_buf_put_str(b, ",\"v\":");
        return rc ? rc : dk_lwm2m__put_i64(b, v->v.i);
    case DK_LWM2M_TYPE_UNSIGNED:
        rc = dk_buf_put_str(b, ",\"v\":");
        return rc ? rc : dk_lwm2m__put_u64(b, v->v.u);
    case DK_LWM2M_TYPE_FLOAT: {
        char tmp[32];
        if (dk_lwm2m__format_double(v->v.f, tmp))
            return DK_ENOTSUP;
        rc = dk_buf_put_str(b, ",\"v\":");
        return rc ? rc : dk_buf_put_str(b, tmp);
    }
    case DK_LWM2M_TYPE_BOOLEAN:
        return dk_buf_put_str(b, v->v.b ? ",\"vb\":true" : ",\"vb\":false");
    case DK_LWM2M_TYPE_OPAQUE:
        rc = dk_buf_put_str(b, ",\"vd\":\"");
        if (rc == 0)
            rc = dk_lwm2m__b64_encode(b, v->v.bytes.p, v->v.bytes.n, true);
        return rc ? rc : dk_buf_put_u8(b, '"');
    case DK_LWM2M_TYPE_OBJLNK:
        rc = dk_buf_put_str(b, ",\"vlo\":\"");
        if (rc == 0)
            rc = dk_lwm2m__put_objlnk(b, v->v.lnk);
        return rc ? rc : dk_buf_put_u8(b, '"');
    }
    return DK_EINVAL;
}

int dk_lwm2m__json_add(struct dk_lwm2m_writer *w, const struct dk_lwm2m_record *rec)
{
    char bn[DK_LWM2M_PATH_STR_MAX + 1], n[DK_LWM2M_PATH_STR_MAX];
    int rc = dk_lwm2m__senml_names(w, rec, bn, n);
    if (rc)
        return rc;
    /* Check what can fail on content before writing anything. */
    if ((rec->value.type == DK_LWM2M_TYPE_STRING || rec->value.type == DK_LWM2M_TYPE_CORELNK) &&
        !dk_lwm2m_utf8_valid(rec->value.v.bytes.p, rec->value.v.bytes.n))
        return DK_EINVAL;
    char tmp[32];
    if (rec->value.type == DK_LWM2M_TYPE_FLOAT && dk_lwm2m__format_double(rec->value.v.f, tmp))
        return DK_ENOTSUP;
    if (rec->time != 0 && dk_lwm2m__format_double(rec->time, tmp))
        return DK_ENOTSUP;
    struct dk_buf *b = w->b;
    rc = dk_buf_put_str(b, w->count ? ",{" : "[{");
    /* The first member decides where commas go: bn or n always exists
     * except for a later record equal to base, which the caller refuses. */
    bool first = true;
    if (rc == 0 && bn[0]) {
        rc = dk_buf_put_str(b, "\"bn\":");
        if (rc == 0)
            rc = put_json_string(b, (const uint8_t *)bn, strlen(bn));
        first = false;
    }
    if (rc == 0 && n[0]) {
        rc = dk_buf_put_str(b, first ? "\"n\":" : ",\"n\":");
        if (rc == 0)
            rc = put_json_string(b, (const uint8_t *)n, strlen(n));
        first = false;
    }
    if (rc == 0)
        rc = put_json_value(b, &rec->value);
    if (rc == 0 && rec->time != 0) {
        rc = dk_buf_put_str(b, ",\"t\":");
        if (rc == 0)
            rc = dk_lwm2m__put_double(b, rec->time);
    }
    if (rc == 0)
        rc = dk_buf_put_u8(b, '}');
    return rc;
}

int dk_lwm2m__json_finish(struct dk_lwm2m_writer *w)
{
    return dk_buf_put_str(w->b, w->count ? "]" : "[]");
}
