/* CoAP message codec (RFC 7252 §3). */
#include <duckling/coap_msg.h>
#include <duckling/err.h>

#include <stdio.h>
#include <string.h>

#define PAYLOAD_MARKER 0xFF

const char *dk_coap_code_format(uint8_t code, char *out, size_t cap)
{
    snprintf(out, cap, "%u.%02u", DK_COAP_CODE_CLASS(code), DK_COAP_CODE_DETAIL(code));
    return out;
}

/* ---- Building ------------------------------------------------------------ */

void dk_coap_msg_init(struct dk_coap_msg *m, enum dk_coap_type type, uint8_t code, uint16_t mid)
{
    m->type = (uint8_t)type;
    m->code = code;
    m->mid = mid;
    m->tkl = 0;
    m->nopt = 0;
    m->payload = NULL;
    m->payload_len = 0;
}

int dk_coap_msg_set_token(struct dk_coap_msg *m, const void *token, size_t len)
{
    if (len > DK_COAP_MAX_TOKEN)
        return DK_EINVAL;
    if (len)
        memcpy(m->token, token, len);
    m->tkl = (uint8_t)len;
    return 0;
}

/* Inserts after every option with a number <= num, keeping the order of
 * repeated options. */
static struct dk_coap_opt *insert_slot(struct dk_coap_msg *m, uint16_t num)
{
    if (m->nopt >= DK_COAP_MAX_OPTIONS)
        return NULL;
    size_t i = m->nopt;
    while (i > 0 && m->opt[i - 1].num > num) {
        m->opt[i] = m->opt[i - 1];
        i--;
    }
    m->nopt++;
    struct dk_coap_opt *o = &m->opt[i];
    o->num = num;
    return o;
}

int dk_coap_msg_add_opt(struct dk_coap_msg *m, uint16_t num, const void *val, size_t len)
{
    if (len > 65535 || (len && !val))
        return DK_EINVAL;
    struct dk_coap_opt *o = insert_slot(m, num);
    if (!o)
        return DK_ELIMIT;
    o->len = (uint16_t)len;
    o->ext = len ? val : NULL;
    return 0;
}

int dk_coap_msg_add_uint(struct dk_coap_msg *m, uint16_t num, uint32_t v)
{
    struct dk_coap_opt *o = insert_slot(m, num);
    if (!o)
        return DK_ELIMIT;
    uint8_t n = 0;
    for (uint32_t t = v; t; t >>= 8)
        n++;
    for (uint8_t i = 0; i < n; i++)
        o->inl[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    o->len = n;
    o->ext = NULL;
    return 0;
}

int dk_coap_msg_add_str(struct dk_coap_msg *m, uint16_t num, const char *s)
{
    return dk_coap_msg_add_opt(m, num, s, strlen(s));
}

int dk_coap_msg_add_segments(struct dk_coap_msg *m, uint16_t num, const char *s, char sep)
{
    if (*s == sep)
        s++;
    while (*s) {
        const char *end = strchr(s, sep);
        size_t n = end ? (size_t)(end - s) : strlen(s);
        int rc = dk_coap_msg_add_opt(m, num, s, n);
        if (rc)
            return rc;
        if (!end)
            break;
        s = end + 1;
    }
    return 0;
}

int dk_coap_msg_add_path(struct dk_coap_msg *m, const char *path)
{
    return dk_coap_msg_add_segments(m, DK_COAP_OPT_URI_PATH, path, '/');
}

int dk_coap_msg_add_query(struct dk_coap_msg *m, const char *query)
{
    return dk_coap_msg_add_segments(m, DK_COAP_OPT_URI_QUERY, query, '&');
}

int dk_coap_msg_remove_opt(struct dk_coap_msg *m, uint16_t num)
{
    size_t w = 0;
    int removed = 0;
    for (size_t r = 0; r < m->nopt; r++) {
        if (m->opt[r].num == num) {
            removed++;
            continue;
        }
        m->opt[w++] = m->opt[r];
    }
    m->nopt = (uint8_t)w;
    return removed;
}

void dk_coap_msg_set_payload(struct dk_coap_msg *m, const void *p, size_t len)
{
    m->payload = len ? p : NULL;
    m->payload_len = len;
}

/* Size of the extended field for a delta or length value. */
static size_t ext_len(uint32_t v)
{
    return v < 13 ? 0 : v < 269 ? 1 : 2;
}

static uint8_t nibble(uint32_t v)
{
    return v < 13 ? (uint8_t)v : v < 269 ? 13 : 14;
}

size_t dk_coap_msg_encoded_len(const struct dk_coap_msg *m)
{
    size_t n = DK_COAP_HEADER_LEN + m->tkl;
    uint16_t prev = 0;
    for (size_t i = 0; i < m->nopt; i++) {
        const struct dk_coap_opt *o = &m->opt[i];
        n += 1 + ext_len(o->num - prev) + ext_len(o->len) + o->len;
        prev = o->num;
    }
    if (m->payload_len)
        n += 1 + m->payload_len;
    return n;
}

static uint8_t *put_ext(uint8_t *p, uint32_t v)
{
    if (v >= 269) {
        v -= 269;
        *p++ = (uint8_t)(v >> 8);
        *p++ = (uint8_t)v;
    } else if (v >= 13) {
        *p++ = (uint8_t)(v - 13);
    }
    return p;
}

int dk_coap_msg_encode(const struct dk_coap_msg *m, uint8_t *out, size_t cap, size_t *len)
{
    if (m->tkl > DK_COAP_MAX_TOKEN)
        return DK_EINVAL;
    if (m->code == DK_COAP_EMPTY && (m->tkl || m->nopt || m->payload_len))
        return DK_EINVAL;
    size_t need = dk_coap_msg_encoded_len(m);
    if (need > cap)
        return DK_ENOSPC;
    uint8_t *p = out;
    *p++ = (uint8_t)(0x40 | (m->type & 3) << 4 | m->tkl);
    *p++ = m->code;
    *p++ = (uint8_t)(m->mid >> 8);
    *p++ = (uint8_t)m->mid;
    memcpy(p, m->token, m->tkl);
    p += m->tkl;
    uint16_t prev = 0;
    for (size_t i = 0; i < m->nopt; i++) {
        const struct dk_coap_opt *o = &m->opt[i];
        uint32_t delta = (uint32_t)(o->num - prev);
        *p++ = (uint8_t)(nibble(delta) << 4 | nibble(o->len));
        p = put_ext(p, delta);
        p = put_ext(p, o->len);
        if (o->len)
            memcpy(p, dk_coap_opt_value(o), o->len);
        p += o->len;
        prev = o->num;
    }
    if (m->payload_len) {
        *p++ = PAYLOAD_MARKER;
        memcpy(p, m->payload, m->payload_len);
        p += m->payload_len;
    }
    *len = (size_t)(p - out);
    return 0;
}

/* ---- Parsing --------------------------------------------------------------- */

/* Reads the extended part of a 4-bit delta or length field. */
static int read_ext(const uint8_t **p, const uint8_t *end, uint8_t nib, uint32_t *v)
{
    if (nib < 13) {
        *v = nib;
        return 0;
    }
    if (nib == 13) {
        if (end - *p < 1)
            return DK_EPARSE;
        *v = 13u + (*p)[0];
        *p += 1;
        return 0;
    }
    if (nib == 14) {
        if (end - *p < 2)
            return DK_EPARSE;
        *v = 269u + ((uint32_t)(*p)[0] << 8 | (*p)[1]);
        *p += 2;
        return 0;
    }
    return DK_EPARSE; /* 15 is reserved except in the payload marker */
}

int dk_coap_msg_decode(struct dk_coap_msg *m, const uint8_t *data, size_t len)
{
    dk_coap_msg_init(m, DK_COAP_CON, 0, 0);
    if (len < DK_COAP_HEADER_LEN)
        return DK_EPARSE;
    m->type = (data[0] >> 4) & 3;
    m->code = data[1];
    m->mid = (uint16_t)(data[2] << 8 | data[3]);
    if ((data[0] >> 6) != 1)
        return DK_EVERSION;
    uint8_t tkl = data[0] & 0x0f;
    if (tkl > DK_COAP_MAX_TOKEN)
        return DK_EPARSE;
    if (m->code == DK_COAP_EMPTY && (tkl || len > DK_COAP_HEADER_LEN))
        return DK_EPARSE;
    const uint8_t *p = data + DK_COAP_HEADER_LEN, *end = data + len;
    if ((size_t)(end - p) < tkl)
        return DK_EPARSE;
    memcpy(m->token, p, tkl);
    m->tkl = tkl;
    p += tkl;

    uint32_t num = 0;
    while (p < end) {
        uint8_t b = *p++;
        if (b == PAYLOAD_MARKER) {
            if (p == end)
                return DK_EPARSE; /* marker followed by a zero-length payload */
            m->payload = p;
            m->payload_len = (size_t)(end - p);
            return 0;
        }
        uint32_t delta, olen;
        if (read_ext(&p, end, b >> 4, &delta) || read_ext(&p, end, b & 0x0f, &olen))
            return DK_EPARSE;
        num += delta;
        if (num > 65535 || olen > 65535 || olen > (size_t)(end - p))
            return DK_EPARSE;
        if (m->nopt >= DK_COAP_MAX_OPTIONS)
            return DK_ELIMIT;
        struct dk_coap_opt *o = &m->opt[m->nopt++];
        o->num = (uint16_t)num;
        o->len = (uint16_t)olen;
        o->ext = olen ? p : NULL;
        p += olen;
    }
    return 0;
}

const struct dk_coap_opt *dk_coap_msg_find(const struct dk_coap_msg *m, uint16_t num)
{
    for (size_t i = 0; i < m->nopt; i++) {
        if (m->opt[i].num == num)
            return &m->opt[i];
        if (m->opt[i].num > num)
            break;
    }
    return NULL;
}

const struct dk_coap_opt *dk_coap_msg_find_next(const struct dk_coap_msg *m,
                                                const struct dk_coap_opt *prev)
{
    const struct dk_coap_opt *next = prev + 1;
    if (next < m->opt + m->nopt && next->num == prev->num)
        return next;
    return NULL;
}

size_t dk_coap_msg_count(const struct dk_coap_msg *m, uint16_t num)
{
    size_t n = 0;
    for (const struct dk_coap_opt *o = dk_coap_msg_find(m, num); o; o = dk_coap_msg_find_next(m, o))
        n++;
    return n;
}

int dk_coap_opt_uint(const struct dk_coap_opt *o, uint32_t *v)
{
    if (o->len > 4)
        return DK_EPARSE;
    const uint8_t *p = dk_coap_opt_value(o);
    uint32_t r = 0;
    for (size_t i = 0; i < o->len; i++)
        r = r << 8 | p[i];
    *v = r;
    return 0;
}

int dk_coap_msg_get_uint(const struct dk_coap_msg *m, uint16_t num, uint32_t *v)
{
    const struct dk_coap_opt *o = dk_coap_msg_find(m, num);
    if (!o)
        return DK_ENOTFOUND;
    return dk_coap_opt_uint(o, v);
}

int dk_coap_msg_get_path(const struct dk_coap_msg *m, uint16_t num, char *out, size_t cap)
{
    size_t n = 0;
    const struct dk_coap_opt *o = dk_coap_msg_find(m, num);
    if (!o) {
        if (cap < 2)
            return DK_ENOSPC;
        out[0] = '/';
        out[1] = '\0';
        return 1;
    }
    for (; o; o = dk_coap_msg_find_next(m, o)) {
        if (n + 1 + o->len + 1 > cap)
            return DK_ENOSPC;
        out[n++] = '/';
        memcpy(out + n, dk_coap_opt_value(o), o->len);
        n += o->len;
    }
    out[n] = '\0';
    return (int)n;
}

bool dk_coap_msg_path_is(const struct dk_coap_msg *m, const char *path)
{
    if (*path == '/')
        path++;
    const struct dk_coap_opt *o = dk_coap_msg_find(m, DK_COAP_OPT_URI_PATH);
    while (*path) {
        const char *end = strchr(path, '/');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (!o || o->len != n || memcmp(dk_coap_opt_value(o), path, n) != 0)
            return false;
        o = dk_coap_msg_find_next(m, o);
        if (!end)
            break;
        path = end + 1;
    }
    return o == NULL;
}

int dk_coap_msg_get_query(const struct dk_coap_msg *m, const char *key, const uint8_t **val,
                          size_t *len)
{
    size_t kn = strlen(key);
    for (const struct dk_coap_opt *o = dk_coap_msg_find(m, DK_COAP_OPT_URI_QUERY); o;
         o = dk_coap_msg_find_next(m, o)) {
        const uint8_t *v = dk_coap_opt_value(o);
        if (o->len < kn || memcmp(v, key, kn) != 0)
            continue;
        if (o->len == kn) {
            *val = v + kn;
            *len = 0;
            return 0;
        }
        if (v[kn] == '=') {
            *val = v + kn + 1;
            *len = o->len - kn - 1;
            return 0;
        }
    }
    return DK_ENOTFOUND;
}

/* Known options: value length range and whether they may repeat (RFC 7252
 * §5.10 table 4, RFC 7641 §2, RFC 7959 §2.1, RFC 7967). */
struct opt_def {
    uint16_t num;
    uint16_t min, max;
    bool repeat;
};

static const struct opt_def known_opts[] = {
    {DK_COAP_OPT_IF_MATCH, 0, 8, true},
    {DK_COAP_OPT_URI_HOST, 1, 255, false},
    {DK_COAP_OPT_ETAG, 1, 8, true},
    {DK_COAP_OPT_IF_NONE_MATCH, 0, 0, false},
    {DK_COAP_OPT_OBSERVE, 0, 3, false},
    {DK_COAP_OPT_URI_PORT, 0, 2, false},
    {DK_COAP_OPT_LOCATION_PATH, 0, 255, true},
    {DK_COAP_OPT_URI_PATH, 0, 255, true},
    {DK_COAP_OPT_CONTENT_FORMAT, 0, 2, false},
    {DK_COAP_OPT_MAX_AGE, 0, 4, false},
    {DK_COAP_OPT_URI_QUERY, 0, 255, true},
    {DK_COAP_OPT_ACCEPT, 0, 2, false},
    {DK_COAP_OPT_LOCATION_QUERY, 0, 255, true},
    {DK_COAP_OPT_BLOCK2, 0, 3, false},
    {DK_COAP_OPT_BLOCK1, 0, 3, false},
    {DK_COAP_OPT_SIZE2, 0, 4, false},
    {DK_COAP_OPT_PROXY_URI, 1, 1034, false},
    {DK_COAP_OPT_PROXY_SCHEME, 1, 255, false},
    {DK_COAP_OPT_SIZE1, 0, 4, false},
    {DK_COAP_OPT_NO_RESPONSE, 0, 1, false},
};

static const struct opt_def *find_def(uint16_t num)
{
    for (size_t i = 0; i < sizeof known_opts / sizeof known_opts[0]; i++)
        if (known_opts[i].num == num)
            return &known_opts[i];
    return NULL;
}

int dk_coap_msg_check_options(const struct dk_coap_msg *m, uint16_t *bad)
{
    for (size_t i = 0; i < m->nopt; i++) {
        const struct dk_coap_opt *o = &m->opt[i];
        const struct opt_def *d = find_def(o->num);
        bool recognized = d && o->len >= d->min && o->len <= d->max &&
                          (d->repeat || i == 0 || m->opt[i - 1].num != o->num);
        if (recognized && (o->num == DK_COAP_OPT_PROXY_URI || o->num == DK_COAP_OPT_PROXY_SCHEME)) {
            if (bad)
                *bad = o->num;
            return DK_ENOTSUP;
        }
        if (!recognized && dk_coap_opt_is_critical(o->num)) {
            if (bad)
                *bad = o->num;
            return DK_EBADOPT;
        }
    }
    return 0;
}

/* ---- Block options ---------------------------------------------------------- */

int dk_coap_block_decode(uint32_t v, struct dk_coap_block *b)
{
    b->szx = v & 7;
    b->more = (v & 8) != 0;
    b->num = v >> 4;
    if (b->szx == 7 || b->num > DK_COAP_BLOCK_NUM_MAX)
        return DK_EPARSE;
    return 0;
}

uint32_t dk_coap_block_encode(const struct dk_coap_block *b)
{
    return b->num << 4 | (b->more ? 8u : 0u) | b->szx;
}

int dk_coap_msg_get_block(const struct dk_coap_msg *m, uint16_t num, struct dk_coap_block *b)
{
    const struct dk_coap_opt *o = dk_coap_msg_find(m, num);
    if (!o)
        return DK_ENOTFOUND;
    uint32_t v;
    if (o->len > 3 || dk_coap_opt_uint(o, &v))
        return DK_EPARSE;
    return dk_coap_block_decode(v, b);
}

int dk_coap_msg_add_block(struct dk_coap_msg *m, uint16_t num, const struct dk_coap_block *b)
{
    if (b->num > DK_COAP_BLOCK_NUM_MAX || b->szx > DK_COAP_BLOCK_SZX_MAX)
        return DK_EINVAL;
    return dk_coap_msg_add_uint(m, num, dk_coap_block_encode(b));
}

int dk_coap_block_szx_for(size_t room, uint8_t max_szx)
{
    for (int szx = max_szx > DK_COAP_BLOCK_SZX_MAX ? DK_COAP_BLOCK_SZX_MAX : max_szx; szx >= 0;
         szx--)
        if (dk_coap_block_size((uint8_t)szx) <= room)
            return szx;
    return -1;
}
