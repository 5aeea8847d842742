#include <duckling/buf.h>
#include <duckling/err.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void dk_buf_init(struct dk_buf *b, void *mem, size_t cap)
{
    b->data = mem;
    b->len = 0;
    b->cap = mem ? cap : 0;
    b->err = 0;
}

uint8_t *dk_buf_reserve(struct dk_buf *b, size_t n)
{
    if (b->err || n > b->cap - b->len) {
        b->err = DK_ENOSPC;
        return NULL;
    }
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

int dk_buf_put(struct dk_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return b->err;
    uint8_t *dst = dk_buf_reserve(b, n);
    if (!dst)
        return DK_ENOSPC;
    memcpy(dst, p, n);
    return 0;
}

int dk_buf_put_u8(struct dk_buf *b, uint8_t v)
{
    return dk_buf_put(b, &v, 1);
}

int dk_buf_put_be16(struct dk_buf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return dk_buf_put(b, t, 2);
}

int dk_buf_put_be32(struct dk_buf *b, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return dk_buf_put(b, t, 4);
}

int dk_buf_put_str(struct dk_buf *b, const char *s)
{
    return dk_buf_put(b, s, strlen(s));
}

int dk_buf_printf(struct dk_buf *b, const char *fmt, ...)
{
    if (b->err)
        return b->err;
    size_t room = b->cap - b->len;
    va_list ap;
    va_start(ap, fmt);
    /* vsnprintf needs room for its NUL; it is not counted in len. */
    int n = vsnprintf(room ? (char *)b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        b->err = DK_ENOSPC;
        return DK_ENOSPC;
    }
    b->len += (size_t)n;
    return 0;
}

void dk_rd_init(struct dk_rd *r, const void *data, size_t len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
    r->err = 0;
}

int dk_rd_take(struct dk_rd *r, size_t n, const uint8_t **p)
{
    if (r->err || n > r->len - r->pos) {
        r->err = DK_EPARSE;
        return DK_EPARSE;
    }
    *p = r->data + r->pos;
    r->pos += n;
    return 0;
}

int dk_rd_copy(struct dk_rd *r, void *out, size_t n)
{
    const uint8_t *p;
    int rc = dk_rd_take(r, n, &p);
    if (rc == 0 && n)
        memcpy(out, p, n);
    return rc;
}

int dk_rd_u8(struct dk_rd *r, uint8_t *v)
{
    return dk_rd_copy(r, v, 1);
}

int dk_rd_be16(struct dk_rd *r, uint16_t *v)
{
    const uint8_t *p;
    int rc = dk_rd_take(r, 2, &p);
    if (rc == 0)
        *v = (uint16_t)(p[0] << 8 | p[1]);
    return rc;
}

int dk_rd_be32(struct dk_rd *r, uint32_t *v)
{
    const uint8_t *p;
    int rc = dk_rd_take(r, 4, &p);
    if (rc == 0)
        *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return rc;
}
