/* duckling — element-level LwM2M TLV codec (content-format 11542, LwM2M 1.1
 * TS Core §7.4.3). Most callers use dk_lwm2m_reader / dk_lwm2m_writer
 * (lwm2m.h), which build on these.
 *
 * One element: a type byte (bits 7-6 kind, bit 5 16-bit identifier, bits 4-3
 * size of the length field 0-3 bytes, bits 2-0 the length itself when that
 * field is absent), the identifier (8 or 16 bits), the length, the value. */
#ifndef DUCKLING_LWM2M_TLV_H
#define DUCKLING_LWM2M_TLV_H

#include <stddef.h>
#include <stdint.h>

#include <duckling/buf.h>
#include <duckling/lwm2m.h>

enum dk_tlv_kind {
    DK_TLV_OBJECT_INSTANCE = 0,   /* value: resource / multiple resource TLVs */
    DK_TLV_RESOURCE_INSTANCE = 1, /* value: the resource instance's value */
    DK_TLV_MULTIPLE_RESOURCE = 2, /* value: resource instance TLVs */
    DK_TLV_RESOURCE = 3,          /* value: the resource's value */
};

#define DK_TLV_LEN_MAX 0xFFFFFFu /* 24-bit length field */
#define DK_TLV_HEADER_MAX 6

/* One element; value points into the input (zero-copy). */
struct dk_tlv {
    enum dk_tlv_kind kind;
    uint16_t id;
    const uint8_t *value;
    size_t len;
};

/* Reads one element from r. Returns 0, DK_EPARSE (truncated header or value)
 * or DK_ERANGE (identifier 65535). On error r is left failed. */
int dk_tlv_read(struct dk_rd *r, struct dk_tlv *out);

/* Size of the shortest header for (id, len). */
size_t dk_tlv_header_size(uint16_t id, size_t len);
/* Writes the shortest header. Returns 0, DK_ENOSPC, DK_EINVAL (len above
 * 2^24-1 or id 65535). */
int dk_tlv_write_header(struct dk_buf *b, enum dk_tlv_kind kind, uint16_t id, size_t len);
/* Header and value. */
int dk_tlv_write(struct dk_buf *b, enum dk_tlv_kind kind, uint16_t id, const void *value,
                 size_t len);

/* The TLV value bytes of v: numbers in the shortest allowed width (integers
 * and time 1/2/4/8 bytes two's complement, unsigned 1/2/4/8 bytes, floats 4
 * bytes when exact else 8), booleans 1 byte, objlnk 4 bytes; strings, opaque
 * and core links as they are. *p points into tmp or into v. Returns 0 or
 * DK_EINVAL (type NONE). */
int dk_tlv_value_bytes(const struct dk_lwm2m_value *v, uint8_t tmp[8], const uint8_t **p,
                       size_t *n);

/* Interprets TLV value bytes as `type` (zero-copy for strings and opaque).
 * Strict: integers 1/2/4/8 bytes, floats 4/8, booleans exactly 0 or 1,
 * objlnk 4 bytes, strings valid UTF-8. Returns 0 or DK_EPARSE. */
int dk_tlv_value_decode(const uint8_t *p, size_t n, enum dk_lwm2m_type type,
                        struct dk_lwm2m_value *out);

#endif
