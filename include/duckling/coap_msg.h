/* duckling — CoAP message codec (RFC 7252 §3, RFC 7959 §2.2, RFC 7641 §2).
 *
 * No allocation and no I/O. A struct dk_coap_msg is a small value (about
 * 560 bytes) that is filled either by dk_coap_msg_decode() from a received
 * datagram or by the builder functions, and written out by
 * dk_coap_msg_encode().
 *
 * Ownership: a message never owns the bytes its options and payload point to.
 *  - After dk_coap_msg_decode() they point into the decoded datagram, which
 *    must stay unchanged while the message is used.
 *  - dk_coap_msg_add_opt(), _add_str(), _add_path(), _add_query() and
 *    dk_coap_msg_set_payload() keep pointers to the caller's memory, which
 *    must outlive the last dk_coap_msg_encode() of the message.
 *  - Integer options (dk_coap_msg_add_uint(), _add_block()) are stored inside
 *    the message, so a message can be copied by value. Read option values
 *    only through dk_coap_opt_value().
 * Options are kept sorted by option number (stable for repeated options), so
 * they may be added in any order.
 */
#ifndef DUCKLING_COAP_MSG_H
#define DUCKLING_COAP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Header values ----------------------------------------------------- */

enum dk_coap_type {
    DK_COAP_CON = 0,
    DK_COAP_NON = 1,
    DK_COAP_ACK = 2,
    DK_COAP_RST = 3,
};

/* Code = class (3 bits) . detail (5 bits). */
#define DK_COAP_CODE(cls, detail) ((uint8_t)(((cls) << 5) | (detail)))
#define DK_COAP_CODE_CLASS(code) ((uint8_t)(code) >> 5)
#define DK_COAP_CODE_DETAIL(code) ((uint8_t)(code)&0x1f)

enum dk_coap_code {
    DK_COAP_EMPTY = 0,
    /* Methods (RFC 7252 §12.1.1, RFC 8132) */
    DK_COAP_GET = 1,
    DK_COAP_POST = 2,
    DK_COAP_PUT = 3,
    DK_COAP_DELETE = 4,
    DK_COAP_FETCH = 5,
    DK_COAP_PATCH = 6,
    DK_COAP_IPATCH = 7,
    /* Responses (RFC 7252 §12.1.2, RFC 7959 §6) */
    DK_COAP_CREATED = DK_COAP_CODE(2, 1),
    DK_COAP_DELETED = DK_COAP_CODE(2, 2),
    DK_COAP_VALID = DK_COAP_CODE(2, 3),
    DK_COAP_CHANGED = DK_COAP_CODE(2, 4),
    DK_COAP_CONTENT = DK_COAP_CODE(2, 5),
    DK_COAP_CONTINUE = DK_COAP_CODE(2, 31),
    DK_COAP_BAD_REQUEST = DK_COAP_CODE(4, 0),
    DK_COAP_UNAUTHORIZED = DK_COAP_CODE(4, 1),
    DK_COAP_BAD_OPTION = DK_COAP_CODE(4, 2),
    DK_COAP_FORBIDDEN = DK_COAP_CODE(4, 3),
    DK_COAP_NOT_FOUND = DK_COAP_CODE(4, 4),
    DK_COAP_METHOD_NOT_ALLOWED = DK_COAP_CODE(4, 5),
    DK_COAP_NOT_ACCEPTABLE = DK_COAP_CODE(4, 6),
    DK_COAP_REQUEST_ENTITY_INCOMPLETE = DK_COAP_CODE(4, 8),
    DK_COAP_PRECONDITION_FAILED = DK_COAP_CODE(4, 12),
    DK_COAP_REQUEST_ENTITY_TOO_LARGE = DK_COAP_CODE(4, 13),
    DK_COAP_UNSUPPORTED_CONTENT_FORMAT = DK_COAP_CODE(4, 15),
    DK_COAP_INTERNAL_SERVER_ERROR = DK_COAP_CODE(5, 0),
    DK_COAP_NOT_IMPLEMENTED = DK_COAP_CODE(5, 1),
    DK_COAP_SERVICE_UNAVAILABLE = DK_COAP_CODE(5, 3),
    DK_COAP_PROXYING_NOT_SUPPORTED = DK_COAP_CODE(5, 5),
};

static inline bool dk_coap_code_is_request(uint8_t code)
{
    return code >= 1 && code <= 31;
}
/* Classes 2, 4 and 5; classes 1, 6 and 7 are reserved. */
static inline bool dk_coap_code_is_response(uint8_t code)
{
    uint8_t c = DK_COAP_CODE_CLASS(code);
    return c == 2 || c == 4 || c == 5;
}
/* Writes "c.dd" (e.g. "2.05") into out (cap >= 5). Returns out. */
const char *dk_coap_code_format(uint8_t code, char *out, size_t cap);

/* ---- Options (RFC 7252 §5.10, RFC 7641, RFC 7959) ----------------------- */

enum dk_coap_option {
    DK_COAP_OPT_IF_MATCH = 1,
    DK_COAP_OPT_URI_HOST = 3,
    DK_COAP_OPT_ETAG = 4,
    DK_COAP_OPT_IF_NONE_MATCH = 5,
    DK_COAP_OPT_OBSERVE = 6,
    DK_COAP_OPT_URI_PORT = 7,
    DK_COAP_OPT_LOCATION_PATH = 8,
    DK_COAP_OPT_URI_PATH = 11,
    DK_COAP_OPT_CONTENT_FORMAT = 12,
    DK_COAP_OPT_MAX_AGE = 14,
    DK_COAP_OPT_URI_QUERY = 15,
    DK_COAP_OPT_ACCEPT = 17,
    DK_COAP_OPT_LOCATION_QUERY = 20,
    DK_COAP_OPT_BLOCK2 = 23,
    DK_COAP_OPT_BLOCK1 = 27,
    DK_COAP_OPT_SIZE2 = 28,
    DK_COAP_OPT_PROXY_URI = 35,
    DK_COAP_OPT_PROXY_SCHEME = 39,
    DK_COAP_OPT_SIZE1 = 60,
    DK_COAP_OPT_NO_RESPONSE = 258,
};

/* Content formats used by LwM2M (RFC 7252 §12.3, OMA registry). */
enum dk_coap_format {
    DK_COAP_FMT_TEXT = 0,
    DK_COAP_FMT_LINK = 40,
    DK_COAP_FMT_OPAQUE = 42,
    DK_COAP_FMT_CBOR = 60,
    DK_COAP_FMT_SENML_JSON = 110,
    DK_COAP_FMT_SENML_CBOR = 112,
    DK_COAP_FMT_LWM2M_TLV = 11542,
    DK_COAP_FMT_LWM2M_JSON = 11543,
};

/* Odd option numbers are critical (RFC 7252 §5.4.6). */
static inline bool dk_coap_opt_is_critical(uint16_t num)
{
    return (num & 1) != 0;
}

#define DK_COAP_MAX_OPTIONS 32 /* per message; decode fails with DK_ELIMIT beyond */
#define DK_COAP_MAX_TOKEN 8
#define DK_COAP_HEADER_LEN 4

struct dk_coap_opt {
    uint16_t num;
    uint16_t len;
    uint8_t inl[4];     /* value of an integer option added by the builder */
    const uint8_t *ext; /* value elsewhere; NULL: the value is inl */
};

/* The value bytes of an option (never NULL). */
static inline const uint8_t *dk_coap_opt_value(const struct dk_coap_opt *o)
{
    return o->ext ? o->ext : o->inl;
}

struct dk_coap_msg {
    uint8_t type; /* enum dk_coap_type */
    uint8_t code;
    uint16_t mid;
    uint8_t tkl;
    uint8_t token[DK_COAP_MAX_TOKEN];
    uint8_t nopt;
    struct dk_coap_opt opt[DK_COAP_MAX_OPTIONS];
    const uint8_t *payload;
    size_t payload_len;
};

/* ---- Building ------------------------------------------------------------ */

/* A message with no token, options or payload. Cannot fail. */
void dk_coap_msg_init(struct dk_coap_msg *m, enum dk_coap_type type, uint8_t code, uint16_t mid);
/* Copies the token (0-8 bytes). Returns 0 or DK_EINVAL (len > 8). */
int dk_coap_msg_set_token(struct dk_coap_msg *m, const void *token, size_t len);
/* Adds an option whose value stays in the caller's memory (see the ownership
 * note above); val may be NULL when len is 0. Returns 0, DK_ELIMIT (already
 * DK_COAP_MAX_OPTIONS) or DK_EINVAL (len > 65535). */
int dk_coap_msg_add_opt(struct dk_coap_msg *m, uint16_t num, const void *val, size_t len);
/* Adds an unsigned integer option in its shortest form (0 is the empty
 * value, RFC 7252 §3.2). Stored inside the message. Errors: DK_ELIMIT. */
int dk_coap_msg_add_uint(struct dk_coap_msg *m, uint16_t num, uint32_t v);
/* Adds a string option (not copied). Errors: DK_ELIMIT, DK_EINVAL. */
int dk_coap_msg_add_str(struct dk_coap_msg *m, uint16_t num, const char *s);
/* Adds one option per `sep`-separated segment of s (not copied). A leading
 * separator is skipped, so "/3/0/1" and "3/0/1" give three Uri-Path options;
 * "" and "/" give none. Errors: DK_ELIMIT, DK_EINVAL. On error the options
 * added so far stay. */
int dk_coap_msg_add_segments(struct dk_coap_msg *m, uint16_t num, const char *s, char sep);
/* Uri-Path from "/a/b" and Uri-Query from "k=v&k2=v2": dk_coap_msg_add_segments(). */
int dk_coap_msg_add_path(struct dk_coap_msg *m, const char *path);
int dk_coap_msg_add_query(struct dk_coap_msg *m, const char *query);
/* Removes every option with this number; returns how many were removed. */
int dk_coap_msg_remove_opt(struct dk_coap_msg *m, uint16_t num);
/* Sets the payload (not copied; NULL/0 for none). */
void dk_coap_msg_set_payload(struct dk_coap_msg *m, const void *p, size_t len);

/* Bytes dk_coap_msg_encode() will write. */
size_t dk_coap_msg_encoded_len(const struct dk_coap_msg *m);
/* Writes the datagram into out and sets *len. Returns 0, DK_ENOSPC (cap too
 * small; nothing useful written), DK_EINVAL (token longer than 8, or an Empty
 * message (code 0.00) with token, options or payload). */
int dk_coap_msg_encode(const struct dk_coap_msg *m, uint8_t *out, size_t cap, size_t *len);

/* ---- Parsing --------------------------------------------------------------- */

/* Decodes a datagram; m points into data afterwards. Returns 0 or
 *  DK_EVERSION  version is not 1 (RFC 7252 §3: silently ignore the message),
 *  DK_EPARSE    message format error: shorter than 4 bytes, token length 9-15,
 *               an option nibble of 15 (delta or length) other than the
 *               payload marker 0xFF, option number above 65535, truncated
 *               option, payload marker with no payload after it, an Empty
 *               message with any byte after the header,
 *  DK_ELIMIT    more than DK_COAP_MAX_OPTIONS options.
 * On DK_EPARSE/DK_ELIMIT the header fields (type, code, mid) are still set
 * when len >= 4, so a CON can be rejected with a RST. */
int dk_coap_msg_decode(struct dk_coap_msg *m, const uint8_t *data, size_t len);

/* First option with this number, or NULL. */
const struct dk_coap_opt *dk_coap_msg_find(const struct dk_coap_msg *m, uint16_t num);
/* The next option with the same number as prev, or NULL. */
const struct dk_coap_opt *dk_coap_msg_find_next(const struct dk_coap_msg *m,
                                                const struct dk_coap_opt *prev);
/* How many options with this number. */
size_t dk_coap_msg_count(const struct dk_coap_msg *m, uint16_t num);
/* Unsigned integer value (0-4 bytes, big-endian). Returns 0 or DK_EPARSE (longer). */
int dk_coap_opt_uint(const struct dk_coap_opt *o, uint32_t *v);
/* First option's integer value. Returns 0, DK_ENOTFOUND or DK_EPARSE. */
int dk_coap_msg_get_uint(const struct dk_coap_msg *m, uint16_t num, uint32_t *v);
/* Joins the options `num` (Uri-Path or Location-Path) as "/a/b" ("/" when
 * none) into out with a NUL. Returns the length, or DK_ENOSPC. Segments are
 * copied as they are (no percent-encoding). */
int dk_coap_msg_get_path(const struct dk_coap_msg *m, uint16_t num, char *out, size_t cap);
/* True when the Uri-Path options spell `path` ("/a/b", "a/b"; "" or "/" for none). */
bool dk_coap_msg_path_is(const struct dk_coap_msg *m, const char *path);
/* Finds a Uri-Query option "key=value" (or a bare "key": empty value).
 * Sets *val and *len to the value inside the message. Returns 0 or DK_ENOTFOUND. */
int dk_coap_msg_get_query(const struct dk_coap_msg *m, const char *key, const uint8_t **val,
                          size_t *len);

/* Checks the options of a received message the way RFC 7252 §5.4 asks:
 * an option this codec does not know, a known option whose length is out of
 * its range (§5.4.3), or a repeat of a non-repeatable option (§5.4.5) is
 * "unrecognized". Returns
 *  0             nothing critical is unrecognized (elective ones are ignored),
 *  DK_EBADOPT    a critical option is unrecognized; *bad gets its number,
 *  DK_ENOTSUP    Proxy-Uri or Proxy-Scheme: we are no proxy (answer 5.05).
 * bad may be NULL. */
int dk_coap_msg_check_options(const struct dk_coap_msg *m, uint16_t *bad);

/* ---- Block options (RFC 7959 §2.2) ---------------------------------------- */

struct dk_coap_block {
    uint32_t num; /* 0 .. 2^20-1 */
    bool more;
    uint8_t szx; /* 0..6: block size 16 << szx */
};

#define DK_COAP_BLOCK_SZX_MAX 6
#define DK_COAP_BLOCK_NUM_MAX 0xFFFFFu

static inline size_t dk_coap_block_size(uint8_t szx)
{
    return (size_t)16 << szx;
}
/* Decodes a Block1/Block2 value. Returns 0 or DK_EPARSE (SZX 7 is reserved). */
int dk_coap_block_decode(uint32_t v, struct dk_coap_block *b);
uint32_t dk_coap_block_encode(const struct dk_coap_block *b);
/* Returns 0, DK_ENOTFOUND, DK_EPARSE (longer than 3 bytes or SZX 7). */
int dk_coap_msg_get_block(const struct dk_coap_msg *m, uint16_t num, struct dk_coap_block *b);
/* Errors: DK_ELIMIT, DK_EINVAL (num or szx out of range). */
int dk_coap_msg_add_block(struct dk_coap_msg *m, uint16_t num, const struct dk_coap_block *b);
/* Largest SZX whose block fits in `room` bytes, capped at max_szx; -1 when
 * even 16 bytes do not fit. */
int dk_coap_block_szx_for(size_t room, uint8_t max_szx);

#endif
