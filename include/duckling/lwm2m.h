/* duckling — LwM2M data model and content formats (DESIGN §2.5).
 *
 * Engine layer: no allocation, no I/O, no clock. Everything works over caller
 * memory and decoding is zero-copy wherever the wire allows it: strings and
 * opaque values of decoded records point into the input buffer (or into the
 * caller's scratch buffer when the wire form had to be transformed, e.g. JSON
 * escapes or base64). Those pointers are valid as long as the input (and the
 * scratch buffer) are, and as documented per function.
 *
 * The pieces:
 *   - paths            /O, /O/I, /O/I/R, /O/I/R/RI (struct dk_lwm2m_path)
 *   - values           integer, unsigned, float, boolean, string, opaque, time,
 *                      objlnk, core link (struct dk_lwm2m_value)
 *   - records          (path, value, time): what every format decodes to and
 *                      encodes from (struct dk_lwm2m_record)
 *   - reader / writer  one API over TLV (11542), plain text (0), opaque (42),
 *                      SenML JSON (110) and SenML CBOR (112)
 *   - definitions      the standard objects of DESIGN §4 as const tables
 *   - access control   ACL semantics of object 2 as pure functions
 * CoRE link format (40) and observation attributes are in lwm2m_link.h; the
 * element-level TLV codec is in lwm2m_tlv.h.
 *
 * Errors used throughout: DK_EINVAL (caller broke a documented precondition),
 * DK_EPARSE (malformed input from outside), DK_ERANGE (well-formed input whose
 * value does not fit the target: an id above 65534, an integer that does not
 * fit, a float where an integer is required), DK_ENOSPC (output or scratch
 * buffer too small), DK_ENOTSUP (the format cannot carry this content, e.g.
 * several records as plain text, or an unknown content format). */
#ifndef DUCKLING_LWM2M_H
#define DUCKLING_LWM2M_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/buf.h>

/* ------------------------------------------------------------------ ids --- */

#define DK_LWM2M_ID_MAX 65534u  /* largest valid object/instance/resource id */
#define DK_LWM2M_ID_NONE 65535u /* reserved (MAX_ID): "no id" / "to be assigned" */

/* ---------------------------------------------------------------- paths --- */

/* A path: 0 ids is the root "/", 1 is /O, 2 /O/I, 3 /O/I/R, 4 /O/I/R/RI.
 * Ids are 0..65534; 65535 never comes out of a parser, except that a TLV
 * Create payload without an instance wrapper yields records whose instance id
 * is DK_LWM2M_ID_NONE (see the reader). ids[] beyond len are 0. */
struct dk_lwm2m_path {
    uint16_t ids[4];
    uint8_t len;
};

/* Longest text form "/65534/65534/65534/65534" plus its NUL. */
#define DK_LWM2M_PATH_STR_MAX 25

enum dk_lwm2m_level {
    DK_LWM2M_ROOT = 0,
    DK_LWM2M_OBJECT = 1,
    DK_LWM2M_INSTANCE = 2,
    DK_LWM2M_RESOURCE = 3,
    DK_LWM2M_RESOURCE_INSTANCE = 4,
};

/* Constructors; they do not validate (ids above 65534 are the caller's bug). */
struct dk_lwm2m_path dk_lwm2m_path_root(void);
struct dk_lwm2m_path dk_lwm2m_path_obj(uint16_t oid);
struct dk_lwm2m_path dk_lwm2m_path_inst(uint16_t oid, uint16_t iid);
struct dk_lwm2m_path dk_lwm2m_path_res(uint16_t oid, uint16_t iid, uint16_t rid);
struct dk_lwm2m_path dk_lwm2m_path_rinst(uint16_t oid, uint16_t iid, uint16_t rid, uint16_t riid);

/* Parses the text form "/3/0/1". Strict: a leading '/', decimal ids without
 * sign or leading zeros (except "0"), each 0..65534, at most 4, no empty
 * segment and no trailing '/'; "/" alone is the root. s need not be
 * NUL-terminated. Returns 0, DK_EPARSE (syntax) or DK_ERANGE (id > 65534). */
int dk_lwm2m_path_parse(const char *s, size_t n, struct dk_lwm2m_path *out);

/* Appends one CoAP Uri-Path segment (as the option carries it, without '/')
 * to p. Start from dk_lwm2m_path_root(). Same rules per segment as
 * dk_lwm2m_path_parse. Returns 0, DK_EPARSE (empty or non-decimal segment,
 * or a fifth segment) or DK_ERANGE (id > 65534). */
int dk_lwm2m_path_push_segment(struct dk_lwm2m_path *p, const void *seg, size_t n);

/* Writes the text form ("/" for the root). Returns 0 or DK_ENOSPC. */
int dk_lwm2m_path_write(const struct dk_lwm2m_path *p, struct dk_buf *b);
/* NUL-terminated text form into out (cap >= DK_LWM2M_PATH_STR_MAX always
 * suffices). Returns 0 or DK_ENOSPC. */
int dk_lwm2m_path_str(const struct dk_lwm2m_path *p, char *out, size_t cap);

bool dk_lwm2m_path_equal(const struct dk_lwm2m_path *a, const struct dk_lwm2m_path *b);
/* True when `outer` is `inner` or one of its ancestors (the root contains
 * every path). */
bool dk_lwm2m_path_contains(const struct dk_lwm2m_path *outer, const struct dk_lwm2m_path *inner);
/* Total order: by ids left to right, a parent before its children.
 * Returns <0, 0 or >0. */
int dk_lwm2m_path_compare(const struct dk_lwm2m_path *a, const struct dk_lwm2m_path *b);
/* Appends an id. Returns 0, DK_ENOSPC (already 4 ids) or DK_ERANGE (id > 65534). */
int dk_lwm2m_path_append(struct dk_lwm2m_path *p, uint16_t id);

/* --------------------------------------------------------------- values --- */

enum dk_lwm2m_type {
    DK_LWM2M_TYPE_NONE = 0, /* no value: executable resource, or a record that only names a path */
    DK_LWM2M_TYPE_STRING,   /* UTF-8 text (validated by every decoder) */
    DK_LWM2M_TYPE_INTEGER,  /* signed 64-bit */
    DK_LWM2M_TYPE_UNSIGNED, /* unsigned 64-bit (LwM2M 1.1) */
    DK_LWM2M_TYPE_FLOAT,    /* IEEE 754 double */
    DK_LWM2M_TYPE_BOOLEAN,
    DK_LWM2M_TYPE_OPAQUE,   /* bytes */
    DK_LWM2M_TYPE_TIME,     /* signed seconds since the Unix epoch */
    DK_LWM2M_TYPE_OBJLNK,   /* object link "O:I"; 65535:65535 is the null link */
    DK_LWM2M_TYPE_CORELNK,  /* RFC 6690 text (LwM2M 1.1), carried like a string */
};
#define DK_LWM2M_TYPE_COUNT 10

struct dk_lwm2m_objlnk {
    uint16_t oid;
    uint16_t iid;
};

/* A value. bytes.p is not NUL-terminated and is borrowed (never owned):
 * from a decoder it points into the input or the scratch buffer. */
struct dk_lwm2m_value {
    enum dk_lwm2m_type type;
    union {
        int64_t i;  /* INTEGER, TIME */
        uint64_t u; /* UNSIGNED */
        double f;   /* FLOAT */
        bool b;     /* BOOLEAN */
        struct {
            const uint8_t *p;
            size_t n;
        } bytes; /* STRING, OPAQUE, CORELNK */
        struct dk_lwm2m_objlnk lnk; /* OBJLNK */
    } v;
};

/* Short lowercase name ("integer", "objlnk", ...; "none"), never NULL. */
const char *dk_lwm2m_type_name(enum dk_lwm2m_type t);

/* Value constructors (strings are borrowed, not copied). */
struct dk_lwm2m_value dk_lwm2m_int(int64_t v);
struct dk_lwm2m_value dk_lwm2m_uint(uint64_t v);
struct dk_lwm2m_value dk_lwm2m_float(double v);
struct dk_lwm2m_value dk_lwm2m_bool(bool v);
struct dk_lwm2m_value dk_lwm2m_time(int64_t v);
struct dk_lwm2m_value dk_lwm2m_str(const char *s); /* NUL-terminated */
struct dk_lwm2m_value dk_lwm2m_strn(const void *s, size_t n);
struct dk_lwm2m_value dk_lwm2m_opaque(const void *p, size_t n);
struct dk_lwm2m_value dk_lwm2m_objlnk(uint16_t oid, uint16_t iid);
struct dk_lwm2m_value dk_lwm2m_corelnk(const char *s);

/* Converts a value in place to `target` where that loses nothing:
 * numbers among INTEGER / UNSIGNED / TIME / FLOAT (a float only when it is
 * integral and in range for an integer target), STRING <-> CORELNK.
 * Same type: no-op. Returns 0, DK_ERANGE (number does not fit) or DK_EPARSE
 * (kinds that do not convert, e.g. a string where an integer is wanted). */
int dk_lwm2m_value_convert(struct dk_lwm2m_value *v, enum dk_lwm2m_type target);

/* Deep comparison (bytes compared by content, floats by value with NaN equal
 * to NaN). Types must match. */
bool dk_lwm2m_value_equal(const struct dk_lwm2m_value *a, const struct dk_lwm2m_value *b);

/* True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF). */
bool dk_lwm2m_utf8_valid(const uint8_t *s, size_t n);

/* -------------------------------------------------------------- records --- */

/* One resource (instance) value, or with type NONE one path without value:
 * an empty object instance (len 2) or an empty multiple resource (len 3) in
 * TLV, or a SenML record without value (Read-Composite / Observe-Composite
 * request bodies). `time` is the SenML time in seconds (bt + t), 0 when none
 * (in SenML, 0 means "now"); TLV and text never carry one. */
struct dk_lwm2m_record {
    struct dk_lwm2m_path path;
    struct dk_lwm2m_value value;
    double time;
};

/* ------------------------------------------------------ content formats --- */

enum dk_lwm2m_cf {
    DK_LWM2M_CF_TEXT = 0,
    DK_LWM2M_CF_LINK = 40,
    DK_LWM2M_CF_OPAQUE = 42,
    DK_LWM2M_CF_CBOR = 60, /* plain CBOR (LwM2M 1.1 single values): not supported here */
    DK_LWM2M_CF_SENML_JSON = 110,
    DK_LWM2M_CF_SENML_CBOR = 112,
    DK_LWM2M_CF_TLV = 11542,
    DK_LWM2M_CF_JSON = 11543, /* LwM2M 1.0 JSON: not supported here */
};

/* True for the formats dk_lwm2m_reader / dk_lwm2m_writer handle:
 * TEXT, OPAQUE, TLV, SENML_JSON, SENML_CBOR. */
bool dk_lwm2m_cf_supported(int cf);

/* --------------------------------------------------------------- reader --- */

/* Tells a decoder which type the resource at `path` has, so that untyped wire
 * forms (TLV bytes, plain text, SenML numbers) are decoded to it. Return 0 and
 * set *type, or DK_ENOTFOUND when unknown (the decoder then uses the natural
 * type of the wire form: TLV -> OPAQUE holding the raw bytes, text -> STRING,
 * SenML v -> INTEGER when integral and in range else UNSIGNED or FLOAT,
 * vs -> STRING, vb -> BOOLEAN, vd -> OPAQUE, vlo -> OBJLNK). A returned type
 * NONE is treated as unknown. */
typedef int dk_lwm2m_type_fn(void *user, const struct dk_lwm2m_path *path,
                             enum dk_lwm2m_type *type);

/* The default typer: the built-in definitions (dk_lwm2m_resource_def). */
int dk_lwm2m_builtin_type_of(void *user, const struct dk_lwm2m_path *path,
                             enum dk_lwm2m_type *type);

struct dk_lwm2m_decode_opts {
    dk_lwm2m_type_fn *type_of; /* NULL: dk_lwm2m_builtin_type_of */
    void *user;
    bool raw;                  /* true: no typer at all, natural types only */
    /* Where transformed strings and bytes go (JSON escapes, base64): reused
     * by every dk_lwm2m_reader_next call, so such values are valid only
     * until the next call. NULL/0: such input fails with DK_ENOSPC. */
    uint8_t *scratch;
    size_t scratch_cap;
};

/* Maximum length of a resolved SenML name (bn + n). */
#define DK_LWM2M_NAME_MAX 64

/* Pull decoder. Caller-owned; all fields are private. Typical use:
 *
 *   struct dk_lwm2m_reader r;
 *   int rc = dk_lwm2m_reader_start(&r, cf, payload, len, &request_path, NULL);
 *   struct dk_lwm2m_record rec;
 *   while (rc == 0 && (rc = dk_lwm2m_reader_next(&r, &rec)) == 0)
 *       ... use rec ...;
 *   if (rc != DK_ENOTFOUND) ... malformed: answer 4.00 ...
 *
 * Records come out in wire order. A Write that must be all-or-nothing reads
 * the payload twice: once to validate, once to apply (it is cheap: nothing
 * is copied). The reader keeps no history, so it does not detect a path that
 * occurs twice in one payload (e.g. two TLVs for one instance); an engine
 * that must refuse those checks while applying.
 *
 * The request path `base` scopes the payload:
 *   TLV  base /O      object instance TLVs; resource TLVs without instance
 *                     wrapper (Create) give paths /O/65535/R...
 *        base /O/I    resource TLVs, or one object instance TLV with id I
 *        base /O/I/R  one resource TLV (single, or multiple) with id R, or
 *                     bare resource instance TLVs
 *        base /O/I/R/RI  one resource instance TLV with id RI
 *        base /       DK_ENOTSUP (TLV cannot name objects)
 *   TEXT / OPAQUE     exactly one record with path base (base of 3 or 4 ids)
 *   SenML JSON/CBOR   names are absolute paths (bn + n); each record must lie
 *                     within base, else DK_EPARSE. */
struct dk_lwm2m_reader {
    int cf;
    struct dk_lwm2m_path base;
    const uint8_t *data;
    size_t len;
    size_t pos;
    struct dk_lwm2m_decode_opts opts;
    int done;
    int err;
    size_t count;
    size_t scratch_used;
    union {
        struct {
            int depth;
            struct {
                size_t end;
                uint8_t kind;
                size_t children;
                struct dk_lwm2m_path path;
            } stack[2];
            size_t top;  /* top-level elements read */
            int top_kind; /* kind of the first top-level element */
        } tlv;
        struct {
            char bn[DK_LWM2M_NAME_MAX];
            size_t bn_len;
            double bt;
            double bv;
            bool has_bv;
            uint64_t left; /* CBOR: records left in a definite array */
            bool indefinite;
        } senml;
    } u;
};

/* Starts decoding `data` (borrowed until the reader is no longer used) in
 * content format cf, as the payload for request path base. opts may be NULL
 * (built-in typer, no scratch). Returns 0, DK_ENOTSUP (format not handled,
 * or TLV at the root) or DK_EINVAL (NULL data with len > 0, bad base). */
int dk_lwm2m_reader_start(struct dk_lwm2m_reader *r, int cf, const void *data, size_t len,
                          const struct dk_lwm2m_path *base,
                          const struct dk_lwm2m_decode_opts *opts);

/* Decodes the next record into *rec. Returns 0 (a record), DK_ENOTFOUND (no
 * more records: the payload was well-formed to its end), DK_EPARSE
 * (malformed), DK_ERANGE (an id or a value out of range for its type),
 * DK_ENOSPC (scratch too small). After an error every further call returns
 * the same error. */
int dk_lwm2m_reader_next(struct dk_lwm2m_reader *r, struct dk_lwm2m_record *rec);

/* Convenience: decodes the whole payload into recs[0..cap). Sets *n to the
 * number of records. Returns 0, any error of dk_lwm2m_reader_start/next,
 * or DK_ENOSPC when there are more than cap records. Scratch (opts) must
 * then be large enough for all transformed values at once: this function
 * advances through the scratch buffer record by record. */
int dk_lwm2m_decode(int cf, const void *data, size_t len, const struct dk_lwm2m_path *base,
                    const struct dk_lwm2m_decode_opts *opts, struct dk_lwm2m_record *recs,
                    size_t cap, size_t *n);

/* --------------------------------------------------------------- writer --- */

/* Push encoder into a caller buffer. Records must be added in ascending path
 * order (dk_lwm2m_path_compare) without duplicates, each within `base`; a Read
 * naturally produces them that way. The TLV writer derives the nesting from
 * the paths: under base /O it wraps resources in object instance TLVs; a
 * record of 4 ids goes into a multiple resource TLV; a type NONE record of 3
 * ids is an empty multiple resource and of 2 ids an empty object instance.
 * SenML writes bn = base + "/" once and relative names; a single record equal
 * to base is written as bn alone. TEXT/OPAQUE take exactly one record equal to
 * base (OPAQUE only an OPAQUE value).
 * Caller-owned; fields are private. */
struct dk_lwm2m_writer {
    int cf;
    struct dk_lwm2m_path base;
    struct dk_buf *b;
    size_t start;
    size_t count;
    struct dk_lwm2m_path last;
    int err;
    /* TLV: open containers (object instance, multiple resource). */
    int depth;
    struct {
        size_t hdr; /* offset of the reserved header */
        uint8_t kind;
        uint16_t id;
    } open[2];
};

/* Starts a payload in content format cf for request path base, appended to
 * *b (which must outlive the writer). Returns 0, DK_ENOTSUP (format not
 * handled, TLV at the root, TEXT/OPAQUE above a resource) or DK_EINVAL. */
int dk_lwm2m_writer_start(struct dk_lwm2m_writer *w, int cf, struct dk_buf *b,
                          const struct dk_lwm2m_path *base);

/* Adds one record. Returns 0, DK_EINVAL (outside base, out of order, type
 * NONE where the format needs a value, invalid UTF-8 in a string),
 * DK_ENOTSUP (the format cannot carry it: a second TEXT record, a non-opaque
 * value as OPAQUE, NaN/infinity in JSON), DK_ENOSPC (buffer full). Errors
 * are sticky. */
int dk_lwm2m_writer_add(struct dk_lwm2m_writer *w, const struct dk_lwm2m_record *rec);

/* Convenience for records without time. */
int dk_lwm2m_writer_add_value(struct dk_lwm2m_writer *w, const struct dk_lwm2m_path *path,
                              const struct dk_lwm2m_value *v);

/* Closes open containers / arrays. The payload is b->data[start..b->len).
 * *len (may be NULL) gets its length. Returns 0 or the first sticky error;
 * DK_ENOTSUP for TEXT/OPAQUE without a record. */
int dk_lwm2m_writer_finish(struct dk_lwm2m_writer *w, size_t *len);

/* Convenience: encodes recs[0..n) in one go. */
int dk_lwm2m_encode(int cf, const struct dk_lwm2m_path *base, const struct dk_lwm2m_record *recs,
                    size_t n, struct dk_buf *b);

/* ---------------------------------------------- plain text and opaque --- */

/* Plain text (0) of one value (LwM2M 1.1 Appendix C): decimal integers,
 * floats as the shortest decimal that reads back to the same double (always
 * with a '.' or exponent), booleans "0"/"1", time as decimal seconds, objlnk
 * "O:I", opaque as base64 (RFC 4648 §4, with padding), strings as they are.
 * Returns 0, DK_EINVAL (type NONE, invalid UTF-8), DK_ENOTSUP (NaN or
 * infinity) or DK_ENOSPC. */
int dk_lwm2m_text_encode(const struct dk_lwm2m_value *v, struct dk_buf *b);

/* Decodes plain text as `type`. Strings point into s; opaque is base64-decoded
 * into scratch. Strict: no white space, no '+' sign, decimals only.
 * Returns 0, DK_EPARSE, DK_ERANGE or DK_ENOSPC (scratch). */
int dk_lwm2m_text_decode(const void *s, size_t n, enum dk_lwm2m_type type,
                         struct dk_lwm2m_value *out, uint8_t *scratch, size_t scratch_cap);

/* --------------------------------------------------------- definitions --- */

enum {
    DK_LWM2M_OP_R = 1, /* readable */
    DK_LWM2M_OP_W = 2, /* writable */
    DK_LWM2M_OP_E = 4, /* executable */
};
#define DK_LWM2M_OP_RW (DK_LWM2M_OP_R | DK_LWM2M_OP_W)

struct dk_lwm2m_resource_def {
    uint16_t id;
    const char *name;
    enum dk_lwm2m_type type; /* NONE for executable resources */
    uint8_t ops;             /* DK_LWM2M_OP_* (0 for Security: bootstrap only) */
    bool multiple;
    bool mandatory;
};

struct dk_lwm2m_object_def {
    uint16_t id;
    const char *name;
    uint8_t ver_major, ver_minor; /* object version */
    bool multiple;                /* multiple instances */
    bool mandatory;
    const struct dk_lwm2m_resource_def *res; /* ascending ids */
    size_t n_res;
};

/* Object ids of DESIGN §4. */
enum {
    DK_LWM2M_OID_SECURITY = 0,
    DK_LWM2M_OID_SERVER = 1,
    DK_LWM2M_OID_ACCESS_CONTROL = 2,
    DK_LWM2M_OID_DEVICE = 3,
    DK_LWM2M_OID_FIRMWARE = 5,
    DK_LWM2M_OID_LOCATION = 6,
    DK_LWM2M_OID_WLAN = 12,
    DK_LWM2M_OID_ILLUMINANCE = 3301,
    DK_LWM2M_OID_TEMPERATURE = 3303,
    DK_LWM2M_OID_LIGHT_CONTROL = 3311,
};

/* The built-in object definitions (static storage). NULL when unknown. */
const struct dk_lwm2m_object_def *dk_lwm2m_object_def(uint16_t oid);
const struct dk_lwm2m_resource_def *dk_lwm2m_resource_def(uint16_t oid, uint16_t rid);
/* All built-in objects in ascending id order; *n gets the count. */
const struct dk_lwm2m_object_def *dk_lwm2m_object_defs(size_t *n);

/* ------------------------------------------------------ access control --- */

/* ACL bits of object 2 resource 2 (LwM2M 1.1 §7.3, E.3). */
enum {
    DK_LWM2M_ACL_R = 1,  /* Read, Observe, Write-Attributes */
    DK_LWM2M_ACL_W = 2,  /* Write */
    DK_LWM2M_ACL_E = 4,  /* Execute */
    DK_LWM2M_ACL_D = 8,  /* Delete */
    DK_LWM2M_ACL_C = 16, /* Create (on the object's ACL instance with iid 65535) */
};
#define DK_LWM2M_ACL_ALL 31
#define DK_LWM2M_ACL_ENTRIES_MAX 8
#define DK_LWM2M_SSID_BOOTSTRAP 65535u /* owner MAX_ID: bootstrap-only instance */

/* Operations of the Device Management interface. */
enum dk_lwm2m_op {
    DK_LWM2M_READ,
    DK_LWM2M_DISCOVER,
    DK_LWM2M_WRITE,         /* replace (PUT) */
    DK_LWM2M_WRITE_PARTIAL, /* partial update (POST to an instance) */
    DK_LWM2M_WRITE_ATTRIBUTES,
    DK_LWM2M_EXECUTE,
    DK_LWM2M_CREATE,
    DK_LWM2M_DELETE,
    DK_LWM2M_OBSERVE,
};

/* The content of one Access Control object instance. */
struct dk_lwm2m_acl {
    uint16_t acl_iid; /* the instance id of this object 2 instance */
    uint16_t oid;     /* resource 0: target object */
    uint16_t iid;     /* resource 1: target instance; 65535 = Create rights on oid */
    uint16_t owner;   /* resource 3: short server id; 65535 = bootstrap only */
    uint8_t n;        /* entries in use */
    struct {
        uint16_t ssid; /* resource instance id: short server id, 0 = default */
        uint8_t rights;
    } entry[DK_LWM2M_ACL_ENTRIES_MAX];
};

/* The ACL bit an operation needs; 0 for Discover, which the ACL does not
 * govern (object 2's definition lists R as Read, Observe, Write-Attributes). */
uint8_t dk_lwm2m_op_acl_bit(enum dk_lwm2m_op op);

/* Whether an operation may target a path of this depth (Execute only a
 * resource, Create only an object, Delete only an instance, Write an instance
 * or below, ...). Returns 0 or DK_EINVAL (answer 4.00/4.05). */
int dk_lwm2m_op_check_path(enum dk_lwm2m_op op, const struct dk_lwm2m_path *p);

/* Whether the definition allows the operation on the resource (Read/Observe
 * need R, Write W, Execute E; others need nothing here). Returns 0 or DK_EPERM
 * (answer 4.05 Method Not Allowed). def may be NULL (unknown: allowed). */
int dk_lwm2m_res_check_op(const struct dk_lwm2m_resource_def *def, enum dk_lwm2m_op op);

/* Rights of server `ssid` from one ACL instance: its own entry if any; else,
 * for the owner, all rights; else the default entry (ssid 0); else none. */
uint8_t dk_lwm2m_acl_rights(const struct dk_lwm2m_acl *acl, uint16_t ssid);

/* The access decision for server `ssid` doing `op` on `target`, given every
 * Access Control instance acls[0..n) and the number of configured server
 * accounts (bootstrap server not counted):
 *   - the Security object (0) is never accessible to a server;
 *   - with one server account or none, that server has every right;
 *   - Access Control instances (object 2): their owner may Read and Write
 *     them, every other server may Read;
 *   - Discover is not governed by the ACL (allowed outside object 0);
 *   - Create on /O needs C in the ACL instance (O, 65535);
 *   - anything else on /O/I... needs the op's bit in the instance (O, I);
 *     no such instance: no rights;
 *   - object-level Read/Discover/Observe/Write-Attributes (/O) are allowed
 *     here: the engine then filters the instances with this function.
 * Returns 0 (allowed) or DK_EPERM (answer 4.01 Unauthorized). */
int dk_lwm2m_access_check(const struct dk_lwm2m_acl *acls, size_t n, size_t n_servers,
                          uint16_t ssid, enum dk_lwm2m_op op, const struct dk_lwm2m_path *target);

/* Finds the ACL instance for (oid, iid); NULL when none. */
const struct dk_lwm2m_acl *dk_lwm2m_acl_find(const struct dk_lwm2m_acl *acls, size_t n,
                                             uint16_t oid, uint16_t iid);

/* The ACL instance the Client creates when server `creator` creates instance
 * (oid, iid): owner = creator, no entries (so the owner has every right). */
void dk_lwm2m_acl_init_created(struct dk_lwm2m_acl *acl, uint16_t acl_iid, uint16_t oid,
                               uint16_t iid, uint16_t creator);

/* Sets (or adds) the rights of ssid. Returns 0, DK_ENOSPC (table full) or
 * DK_EINVAL (rights above 31, ssid 65535). */
int dk_lwm2m_acl_set(struct dk_lwm2m_acl *acl, uint16_t ssid, uint8_t rights);

#endif
