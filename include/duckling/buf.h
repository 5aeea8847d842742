/* duckling — bounded byte writer and reader over caller memory. No allocation. */
#ifndef DUCKLING_BUF_H
#define DUCKLING_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Writer: appends into [data, data+cap). After the first overflow every
 * further append fails too, so a sequence of appends can be checked once. */
struct dk_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int err; /* 0 or DK_ENOSPC once an append did not fit */
};

void dk_buf_init(struct dk_buf *b, void *mem, size_t cap);
/* Each returns 0 or DK_ENOSPC (and leaves len unchanged on failure). */
int dk_buf_put(struct dk_buf *b, const void *p, size_t n);
int dk_buf_put_u8(struct dk_buf *b, uint8_t v);
int dk_buf_put_be16(struct dk_buf *b, uint16_t v);
int dk_buf_put_be32(struct dk_buf *b, uint32_t v);
int dk_buf_put_str(struct dk_buf *b, const char *s);
int dk_buf_printf(struct dk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reserves n bytes and returns a pointer to them, or NULL (DK_ENOSPC). */
uint8_t *dk_buf_reserve(struct dk_buf *b, size_t n);

/* Reader: consumes [data, data+len). Reads past the end fail with DK_EPARSE
 * and set err; the reader then stays failed. */
struct dk_rd {
    const uint8_t *data;
    size_t len;
    size_t pos;
    int err;
};

void dk_rd_init(struct dk_rd *r, const void *data, size_t len);
static inline size_t dk_rd_left(const struct dk_rd *r)
{
    return r->len - r->pos;
}
int dk_rd_u8(struct dk_rd *r, uint8_t *v);
int dk_rd_be16(struct dk_rd *r, uint16_t *v);
int dk_rd_be32(struct dk_rd *r, uint32_t *v);
/* Points *p at the next n bytes without copying. */
int dk_rd_take(struct dk_rd *r, size_t n, const uint8_t **p);
int dk_rd_copy(struct dk_rd *r, void *out, size_t n);

#endif
