/* Private helpers shared by the lwm2m codecs. Not installed. */
#ifndef DK_LWM2M_INTERNAL_H
#define DK_LWM2M_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/buf.h>
#include <duckling/lwm2m.h>

/* Numbers in the JSON grammar (RFC 8259 §6), also used for plain text and
 * link attributes. kind: INTEGER (fits int64), UNSIGNED (above INT64_MAX,
 * fits uint64) or FLOAT (fraction, exponent, or too large). */
int dk_lwm2m__parse_number(const char *s, size_t n, struct dk_lwm2m_value *out);
/* Parses a plain unsigned decimal (no sign, no leading zeros) up to max. */
int dk_lwm2m__parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out);
/* Shortest decimal that reads back as d, always with '.' or an exponent.
 * Returns 0 or DK_ENOTSUP (NaN / infinity). out needs 32 bytes. */
int dk_lwm2m__format_double(double d, char out[32]);
int dk_lwm2m__put_double(struct dk_buf *b, double d);
int dk_lwm2m__put_i64(struct dk_buf *b, int64_t v);
int dk_lwm2m__put_u64(struct dk_buf *b, uint64_t v);

/* Base64: std = RFC 4648 §4 with padding; url = §5 without padding. */
int dk_lwm2m__b64_encode(struct dk_buf *b, const uint8_t *p, size_t n, bool url);
/* Accepts either alphabet, padding optional but correct when present,
 * unused bits zero. Returns 0, DK_EPARSE, DK_ENOSPC. */
int dk_lwm2m__b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen);

/* "O:I" with both 0..65535. */
int dk_lwm2m__parse_objlnk(const char *s, size_t n, struct dk_lwm2m_objlnk *out);
int dk_lwm2m__put_objlnk(struct dk_buf *b, struct dk_lwm2m_objlnk l);

/* Path parse with an allowed trailing '/' (SenML names). */
int dk_lwm2m__path_parse(const char *s, size_t n, bool allow_trailing, struct dk_lwm2m_path *out);

/* Reader helpers. */
int dk_lwm2m__type_of(struct dk_lwm2m_reader *r, const struct dk_lwm2m_path *p,
                      enum dk_lwm2m_type *t);
uint8_t *dk_lwm2m__scratch(struct dk_lwm2m_reader *r, size_t n);

int dk_lwm2m__tlv_next(struct dk_lwm2m_reader *r, struct dk_lwm2m_record *rec);
int dk_lwm2m__json_start(struct dk_lwm2m_reader *r);
int dk_lwm2m__json_next(struct dk_lwm2m_reader *r, struct dk_lwm2m_record *rec);
int dk_lwm2m__cbor_start(struct dk_lwm2m_reader *r);
int dk_lwm2m__cbor_next(struct dk_lwm2m_reader *r, struct dk_lwm2m_record *rec);

/* A SenML record as read, before name resolution and typing. */
struct dk_lwm2m__senml_raw {
    const char *bn, *n; /* resolved into local copies by the caller */
    size_t bn_len, n_len;
    bool has_bn, has_n, has_t, has_bt, has_bv, has_value;
    double t, bt, bv;
    struct dk_lwm2m_value value; /* natural type */
    bool value_is_v;             /* came from "v" (a number) */
};
int dk_lwm2m__senml_finish(struct dk_lwm2m_reader *r, const struct dk_lwm2m__senml_raw *raw,
                           struct dk_lwm2m_record *rec);

/* Writer back ends. */
int dk_lwm2m__tlv_add(struct dk_lwm2m_writer *w, const struct dk_lwm2m_record *rec);
int dk_lwm2m__tlv_finish(struct dk_lwm2m_writer *w);
int dk_lwm2m__json_add(struct dk_lwm2m_writer *w, const struct dk_lwm2m_record *rec);
int dk_lwm2m__json_finish(struct dk_lwm2m_writer *w);
int dk_lwm2m__cbor_wstart(struct dk_lwm2m_writer *w);
int dk_lwm2m__cbor_add(struct dk_lwm2m_writer *w, const struct dk_lwm2m_record *rec);
int dk_lwm2m__cbor_finish(struct dk_lwm2m_writer *w);
/* The SenML base name for a writer and the relative name of a record. */
int dk_lwm2m__senml_names(const struct dk_lwm2m_writer *w, const struct dk_lwm2m_record *rec,
                          char bn[DK_LWM2M_PATH_STR_MAX + 1], char n[DK_LWM2M_PATH_STR_MAX]);

#endif
