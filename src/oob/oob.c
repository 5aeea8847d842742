/* OOB message codec (DESIGN §5). Pure: no I/O, no allocation. */
#include <duckling/oob.h>
#include <duckling/buf.h>
#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/mem.h>

#include <mbedtls/sha256.h>

#include <string.h>
#include <strings.h>

#define FIELD_COUNT 8   /* version .. checksum */
#define TOKEN_MAX 16    /* more than this many ';' pieces is never a message */

struct slice {
    const char *p;
    size_t n;
};

static const char *const field_names[] = {
    "message", "version", "endpoint", "type", "channel", "channel-credentials",
    "cred-type", "cred-value", "checksum", "end",
};

static const char *const channel_names[] = {"NONE", "WIFI", "BLE", "ZIGBEE"};
static const char *const cred_names[] = {"none", "psk", "rpk", "x509"};

const char *dk_oob_field_name(enum dk_oob_field f)
{
    if ((unsigned)f < sizeof field_names / sizeof field_names[0])
        return field_names[f];
    return "message";
}

const char *dk_oob_channel_name(enum dk_oob_channel c)
{
    if ((unsigned)c < sizeof channel_names / sizeof channel_names[0])
        return channel_names[c];
    return NULL;
}

const char *dk_oob_cred_name(enum dk_oob_cred c)
{
    if ((unsigned)c < sizeof cred_names / sizeof cred_names[0])
        return cred_names[c];
    return NULL;
}

int dk_oob_channel_from_name(const char *s, enum dk_oob_channel *out)
{
    for (unsigned i = 0; i < sizeof channel_names / sizeof channel_names[0]; i++) {
        if (strcasecmp(s, channel_names[i]) == 0) {
            *out = (enum dk_oob_channel)i;
            return 0;
        }
    }
    return DK_EINVAL;
}

int dk_oob_cred_from_name(const char *s, enum dk_oob_cred *out)
{
    for (unsigned i = 0; i < sizeof cred_names / sizeof cred_names[0]; i++) {
        if (strcasecmp(s, cred_names[i]) == 0) {
            *out = (enum dk_oob_cred)i;
            return 0;
        }
    }
    return DK_EINVAL;
}

void dk_oob_msg_wipe(struct dk_oob_msg *m)
{
    if (m)
        dk_memzero(m, sizeof *m);
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool is_printable(char c)
{
    return c >= 0x20 && c <= 0x7e;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int dk_oob_checksum(const char *cred_hex, size_t len, uint8_t *out)
{
    mbedtls_sha256_context sha;
    unsigned char digest[32], chunk[64];
    int rc = 0;
    mbedtls_sha256_init(&sha);
    if (mbedtls_sha256_starts_ret(&sha, 0) != 0)
        rc = DK_ECRYPTO;
    for (size_t off = 0; rc == 0 && off < len; off += sizeof chunk) {
        size_t n = len - off < sizeof chunk ? len - off : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (unsigned char)lower(cred_hex[off + i]);
        if (mbedtls_sha256_update_ret(&sha, chunk, n) != 0)
            rc = DK_ECRYPTO;
    }
    if (rc == 0 && mbedtls_sha256_finish_ret(&sha, digest) != 0)
        rc = DK_ECRYPTO;
    if (rc == 0)
        *out = digest[0];
    mbedtls_sha256_free(&sha);
    dk_memzero(chunk, sizeof chunk); /* for a PSK it is the key itself */
    dk_memzero(digest, sizeof digest);
    return rc;
}

int dk_oob_cred_hash(const uint8_t *der, size_t len, uint8_t out[DK_OOB_HASH_LEN])
{
    unsigned char digest[32];
    if (mbedtls_sha256_ret(der, len, digest, 0) != 0)
        return DK_ECRYPTO;
    memcpy(out, digest, DK_OOB_HASH_LEN);
    return 0;
}

bool dk_oob_cred_equal(const struct dk_oob_msg *m, const uint8_t *value, size_t len)
{
    if (m->cred_len != len || len > sizeof m->cred)
        return false;
    return dk_ct_equal(m->cred, value, len);
}

/* ---- parsing ---- */

struct parser {
    struct dk_oob_error *err;
};

static int fail(struct parser *ps, enum dk_oob_field f, const char *why, int rc)
{
    if (ps->err) {
        ps->err->field = f;
        ps->err->why = why;
    }
    return rc;
}

/* Splits s at every sep that is not escaped by a backslash. Returns the
 * number of pieces, which may exceed max (only max are stored). */
static size_t split(struct slice s, char sep, struct slice *out, size_t max)
{
    size_t count = 0, start = 0, i = 0;
    for (;;) {
        if (i >= s.n || s.p[i] == sep) {
            size_t end = i < s.n ? i : s.n;
            if (count < max)
                out[count] = (struct slice){s.p + start, end - start};
            count++;
            if (i >= s.n)
                return count;
            start = ++i;
        } else {
            /* A backslash hides the next character; a trailing one is caught later. */
            i += s.p[i] == '\\' ? 2 : 1;
        }
    }
}

/* Unescapes an endpoint, type or SSID into out (cap includes the NUL). */
static const char *unescape(struct slice s, char *out, size_t cap)
{
    size_t n = 0;
    if (s.n == 0)
        return "is empty";
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == ':')
            return "contains ':' that is not escaped as '\\:'";
        if (c == '\\') {
            if (i + 1 == s.n)
                return "ends with a lone '\\'";
            c = s.p[++i];
            if (c != ';' && c != ':' && c != '\\')
                return "contains an invalid escape (only \\; \\: \\\\ are allowed)";
        }
        if (n + 1 >= cap)
            return "is too long";
        out[n++] = c;
    }
    out[n] = '\0';
    return NULL;
}

static bool has_prefix_ci(struct slice s, const char *prefix, struct slice *rest)
{
    size_t n = strlen(prefix);
    if (s.n < n || strncasecmp(s.p, prefix, n) != 0)
        return false;
    *rest = (struct slice){s.p + n, s.n - n};
    return true;
}

static bool slice_eq_ci(struct slice s, const char *word)
{
    return s.n == strlen(word) && strncasecmp(s.p, word, s.n) == 0;
}

static int parse_version(struct parser *ps, struct slice s)
{
    if (s.n != 2 || s.p[0] < '0' || s.p[0] > '9' || s.p[1] < '0' || s.p[1] > '9')
        return fail(ps, DK_OOB_F_VERSION, "is not a two-digit version number", DK_EPARSE);
    if (s.p[0] != '0' || s.p[1] != '1')
        return fail(ps, DK_OOB_F_VERSION, "unsupported version (only 01 is known)",
                    DK_EVERSION);
    return 0;
}

static int parse_named(struct parser *ps, enum dk_oob_field f, struct slice s, const char *prefix,
                       char *out, size_t cap)
{
    struct slice rest;
    if (!has_prefix_ci(s, prefix, &rest))
        return fail(ps, f, f == DK_OOB_F_ENDPOINT ? "does not start with 'EP:'"
                                                  : "does not start with 'T:'",
                    DK_EPARSE);
    const char *why = unescape(rest, out, cap);
    return why ? fail(ps, f, why, DK_EPARSE) : 0;
}

static int parse_channel(struct parser *ps, struct slice s, struct dk_oob_msg *m)
{
    for (unsigned i = 0; i < sizeof channel_names / sizeof channel_names[0]; i++) {
        if (slice_eq_ci(s, channel_names[i])) {
            m->channel = (enum dk_oob_channel)i;
            return 0;
        }
    }
    return fail(ps, DK_OOB_F_CHANNEL, "is not one of WIFI, BLE, ZIGBEE, NONE", DK_EPARSE);
}

static int parse_hex_field(struct parser *ps, enum dk_oob_field f, struct slice s, uint8_t *out,
                           size_t min, size_t max, size_t *outlen, const char *hex_why,
                           const char *length_why)
{
    for (size_t i = 0; i < s.n; i++)
        if (!is_hex(s.p[i]))
            return fail(ps, f, hex_why, DK_EPARSE);
    if (s.n % 2 || s.n / 2 < min || s.n / 2 > max)
        return fail(ps, f, length_why, DK_EPARSE);
    return dk_hex_decode(out, max, s.p, s.n, outlen) == 0 ? 0 : fail(ps, f, hex_why, DK_EPARSE);
}

static int parse_channel_credentials(struct parser *ps, struct slice s, struct dk_oob_msg *m)
{
    const enum dk_oob_field f = DK_OOB_F_CHANNEL_CREDENTIALS;
    if (s.n == 0)
        return 0;
    if (m->channel != DK_OOB_CHANNEL_WIFI)
        return fail(ps, f, "must be empty for this channel", DK_EPARSE);
    struct slice part[3];
    size_t n = split(s, ':', part, 3);
    if (n != 3)
        return fail(ps, f, "is not WPA2-PSK:<ssid>:<psk-hex>", DK_EPARSE);
    if (!slice_eq_ci(part[0], "WPA2-PSK"))
        return fail(ps, f, "unsupported security (only WPA2-PSK)", DK_EPARSE);
    const char *why = unescape(part[1], m->ssid, sizeof m->ssid);
    if (why) {
        /* The SSID is a sub-field; say which part is wrong. */
        if (strcmp(why, "is empty") == 0)
            why = "SSID is empty";
        else if (strcmp(why, "is too long") == 0)
            why = "SSID is longer than 32 characters";
        else
            why = "SSID has a bad escape or an unescaped ':'";
        return fail(ps, f, why, DK_EPARSE);
    }
    int rc = parse_hex_field(ps, f, part[2], m->wifi_psk, DK_OOB_WIFI_PSK_MIN,
                             DK_OOB_WIFI_PSK_MAX, &m->wifi_psk_len, "PSK is not hexadecimal",
                             "PSK must be 8 to 32 bytes of hex");
    if (rc == 0)
        m->has_wifi_ap = true;
    return rc;
}

static int parse_cred_type(struct parser *ps, struct slice s, struct dk_oob_msg *m)
{
    if (s.n != 2 || s.p[0] != '0' || s.p[1] < '0' || s.p[1] > '3')
        return fail(ps, DK_OOB_F_CRED_TYPE, "is not 00, 01, 02 or 03", DK_EPARSE);
    m->cred_type = (enum dk_oob_cred)(s.p[1] - '0');
    return 0;
}

static int check_checksum(struct parser *ps, struct slice sum, struct slice value)
{
    const enum dk_oob_field f = DK_OOB_F_CHECKSUM;
    uint8_t want, got;
    if (sum.n != 2 || !is_hex(sum.p[0]) || !is_hex(sum.p[1]))
        return fail(ps, f, "is not two hex digits", DK_EPARSE);
    dk_hex_decode(&want, 1, sum.p, 2, NULL);
    if (dk_oob_checksum(value.p, value.n, &got) != 0)
        return fail(ps, f, "cannot be computed", DK_EPARSE);
    if (want != got)
        return fail(ps, f, "does not match the credential value (typing error?)", DK_EPARSE);
    return 0;
}

static int parse_cred_value(struct parser *ps, struct slice s, struct dk_oob_msg *m)
{
    const enum dk_oob_field f = DK_OOB_F_CRED_VALUE;
    switch (m->cred_type) {
    case DK_OOB_CRED_NONE:
        if (s.n)
            return fail(ps, f, "must be empty for cred-type 00", DK_EPARSE);
        m->cred_len = 0;
        return 0;
    case DK_OOB_CRED_PSK:
        return parse_hex_field(ps, f, s, m->cred, DK_OOB_PSK_MIN, DK_OOB_PSK_MAX, &m->cred_len,
                               "is not hexadecimal", "wrong length for cred-type 01 (PSK of 16 to 32 bytes)");
    case DK_OOB_CRED_RPK:
        return parse_hex_field(ps, f, s, m->cred, DK_OOB_HASH_LEN, DK_OOB_HASH_LEN, &m->cred_len,
                               "is not hexadecimal", "wrong length for cred-type 02 (16-byte hash)");
    case DK_OOB_CRED_X509:
        return parse_hex_field(ps, f, s, m->cred, DK_OOB_HASH_LEN, DK_OOB_HASH_LEN, &m->cred_len,
                               "is not hexadecimal", "wrong length for cred-type 03 (16-byte hash)");
    }
    return fail(ps, DK_OOB_F_CRED_TYPE, "is not 00, 01, 02 or 03", DK_EPARSE);
}

static struct slice trim(const char *text, size_t len)
{
    size_t a = 0, b = len;
    while (a < b && is_space(text[a]))
        a++;
    while (b > a && is_space(text[b - 1]))
        b--;
    return (struct slice){text + a, b - a};
}

static int parse_fields(struct parser *ps, struct slice *fld, size_t count, struct dk_oob_msg *m)
{
    static const enum dk_oob_field order[FIELD_COUNT] = {
        DK_OOB_F_VERSION,    DK_OOB_F_ENDPOINT,   DK_OOB_F_TYPE,       DK_OOB_F_CHANNEL,
        DK_OOB_F_CHANNEL_CREDENTIALS, DK_OOB_F_CRED_TYPE, DK_OOB_F_CRED_VALUE, DK_OOB_F_CHECKSUM,
    };
    int rc;
    for (size_t i = 1; i < FIELD_COUNT; i++) {
        if (i >= count)
            return fail(ps, order[i], "is missing", DK_EPARSE);
        switch (order[i]) {
        case DK_OOB_F_ENDPOINT:
            rc = parse_named(ps, order[i], fld[i], "EP:", m->endpoint, sizeof m->endpoint);
            break;
        case DK_OOB_F_TYPE:
            rc = parse_named(ps, order[i], fld[i], "T:", m->type, sizeof m->type);
            break;
        case DK_OOB_F_CHANNEL:
            rc = parse_channel(ps, fld[i], m);
            break;
        case DK_OOB_F_CHANNEL_CREDENTIALS:
            rc = parse_channel_credentials(ps, fld[i], m);
            break;
        case DK_OOB_F_CRED_TYPE:
            rc = parse_cred_type(ps, fld[i], m);
            break;
        default:
            rc = 0; /* value and checksum: below, once the count is known */
        }
        if (rc)
            return rc;
    }
    if (count > FIELD_COUNT)
        return fail(ps, DK_OOB_F_END, "unexpected field after the checksum", DK_EPARSE);
    rc = check_checksum(ps, fld[7], fld[6]);
    if (rc == 0)
        rc = parse_cred_value(ps, fld[6], m);
    return rc;
}

int dk_oob_parse(const char *text, size_t len, struct dk_oob_msg *out, struct dk_oob_error *err)
{
    struct parser ps = {err};
    struct slice tok[TOKEN_MAX];
    int rc;
    dk_oob_msg_wipe(out);
    if (!text) {
        rc = fail(&ps, DK_OOB_F_MESSAGE, "is empty", DK_EPARSE);
        goto done;
    }
    struct slice msg = trim(text, len);
    if (msg.n == 0) {
        rc = fail(&ps, DK_OOB_F_MESSAGE, "is empty", DK_EPARSE);
        goto done;
    }
    if (msg.n > DK_OOB_TEXT_MAX) {
        rc = fail(&ps, DK_OOB_F_MESSAGE, "is longer than 512 characters", DK_EPARSE);
        goto done;
    }
    for (size_t i = 0; i < msg.n; i++) {
        if (!is_printable(msg.p[i])) {
            rc = fail(&ps, DK_OOB_F_MESSAGE, "contains a character that is not printable ASCII",
                      DK_EPARSE);
            goto done;
        }
    }
    size_t count = split(msg, ';', tok, TOKEN_MAX);
    /* The version decides the layout, so it is judged before anything else. */
    rc = parse_version(&ps, tok[0]);
    if (rc)
        goto done;
    if (count < 3 || count > TOKEN_MAX || tok[count - 1].n || tok[count - 2].n) {
        rc = fail(&ps, DK_OOB_F_END,
                  count > TOKEN_MAX ? "too many fields" : "message does not end with ';;'",
                  DK_EPARSE);
        goto done;
    }
    rc = parse_fields(&ps, tok, count - 2, out);
done:
    if (rc)
        dk_oob_msg_wipe(out);
    return rc;
}

/* ---- formatting ---- */

static bool printable_string(const char *s, size_t max, size_t min)
{
    size_t n = strnlen(s, max + 1);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_printable(s[i]))
            return false;
    return true;
}

static int check_msg(const struct dk_oob_msg *m, struct parser *ps)
{
    if (!printable_string(m->endpoint, DK_OOB_ENDPOINT_MAX, 1))
        return fail(ps, DK_OOB_F_ENDPOINT, "must be 1 to 64 printable ASCII characters",
                    DK_EINVAL);
    if (!printable_string(m->type, DK_OOB_TYPE_MAX, 1))
        return fail(ps, DK_OOB_F_TYPE, "must be 1 to 32 printable ASCII characters", DK_EINVAL);
    if (!dk_oob_channel_name(m->channel))
        return fail(ps, DK_OOB_F_CHANNEL, "is not one of WIFI, BLE, ZIGBEE, NONE", DK_EINVAL);
    if (m->has_wifi_ap) {
        if (m->channel != DK_OOB_CHANNEL_WIFI)
            return fail(ps, DK_OOB_F_CHANNEL_CREDENTIALS, "must be empty for this channel",
                        DK_EINVAL);
        if (!printable_string(m->ssid, DK_OOB_SSID_MAX, 1))
            return fail(ps, DK_OOB_F_CHANNEL_CREDENTIALS,
                        "SSID must be 1 to 32 printable ASCII characters", DK_EINVAL);
        if (m->wifi_psk_len < DK_OOB_WIFI_PSK_MIN || m->wifi_psk_len > DK_OOB_WIFI_PSK_MAX)
            return fail(ps, DK_OOB_F_CHANNEL_CREDENTIALS, "PSK must be 8 to 32 bytes of hex",
                        DK_EINVAL);
    }
    size_t min = 0, max = 0;
    switch (m->cred_type) {
    case DK_OOB_CRED_NONE: break;
    case DK_OOB_CRED_PSK: min = DK_OOB_PSK_MIN, max = DK_OOB_PSK_MAX; break;
    case DK_OOB_CRED_RPK:
    case DK_OOB_CRED_X509: min = max = DK_OOB_HASH_LEN; break;
    default: return fail(ps, DK_OOB_F_CRED_TYPE, "is not 00, 01, 02 or 03", DK_EINVAL);
    }
    if (m->cred_len < min || m->cred_len > max)
        return fail(ps, DK_OOB_F_CRED_VALUE, "wrong length for the credential type", DK_EINVAL);
    return 0;
}

static void put_escaped(struct dk_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == ';' || *s == ':' || *s == '\\')
            dk_buf_put_u8(b, '\\');
        dk_buf_put_u8(b, (uint8_t)*s);
    }
}

static void put_hex(struct dk_buf *b, const uint8_t *p, size_t n)
{
    char hex[2 * DK_OOB_CRED_MAX + 1];
    if (dk_hex_encode(hex, sizeof hex, p, n) == 0)
        dk_buf_put(b, hex, 2 * n);
    dk_memzero(hex, sizeof hex);
}

int dk_oob_format(const struct dk_oob_msg *m, char *out, size_t cap, size_t *len,
                  struct dk_oob_error *err)
{
    struct parser ps = {err};
    int rc = check_msg(m, &ps);
    if (rc)
        return rc;
    if (!out || cap == 0)
        return DK_ENOSPC;
    struct dk_buf b;
    dk_buf_init(&b, out, cap - 1); /* keep room for the NUL */
    dk_buf_printf(&b, "%02d;EP:", DK_OOB_VERSION);
    put_escaped(&b, m->endpoint);
    dk_buf_put_str(&b, ";T:");
    put_escaped(&b, m->type);
    dk_buf_printf(&b, ";%s;", dk_oob_channel_name(m->channel));
    if (m->has_wifi_ap) {
        dk_buf_put_str(&b, "WPA2-PSK:");
        put_escaped(&b, m->ssid);
        dk_buf_put_u8(&b, ':');
        put_hex(&b, m->wifi_psk, m->wifi_psk_len);
    }
    dk_buf_printf(&b, ";%02d;", (int)m->cred_type);
    size_t value_at = b.len;
    put_hex(&b, m->cred, m->cred_len);
    size_t value_len = b.len - value_at;
    if (b.err) {
        dk_memzero(out, cap);
        return DK_ENOSPC;
    }
    uint8_t sum;
    if (dk_oob_checksum(out + value_at, value_len, &sum) != 0) {
        dk_memzero(out, cap);
        return DK_ECRYPTO;
    }
    dk_buf_printf(&b, ";%02x;;", sum);
    if (b.err) {
        dk_memzero(out, cap);
        return DK_ENOSPC;
    }
    out[b.len] = '\0';
    if (len)
        *len = b.len;
    return 0;
}
