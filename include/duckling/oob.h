/* duckling — OOB (out-of-band) message, version 01 (DESIGN §5).
 *
 *   01;EP:<endpoint>;T:<type>;<channel>;<channel-credentials>;<cred-type>;<cred-value>;<checksum>;;
 *
 * The label a user scans carries this text. The codec is pure: no I/O, no
 * allocation; a parsed message lives in a caller-owned struct dk_oob_msg.
 * The struct may hold secrets (a PSK, the setup access point's PSK): wipe it
 * with dk_oob_msg_wipe() when done. */
#ifndef DUCKLING_OOB_H
#define DUCKLING_OOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DK_OOB_VERSION 1
#define DK_OOB_ENDPOINT_MAX 64 /* characters, unescaped */
#define DK_OOB_TYPE_MAX 32
#define DK_OOB_SSID_MAX 32     /* IEEE 802.11 limit */
#define DK_OOB_WIFI_PSK_MIN 8  /* bytes of the setup access point's PSK */
#define DK_OOB_WIFI_PSK_MAX 32
#define DK_OOB_PSK_MIN 16      /* bytes of a bootstrap PSK (cred-type 01) */
#define DK_OOB_PSK_MAX 32
#define DK_OOB_HASH_LEN 16     /* truncated SHA-256 for cred-types 02 and 03 */
#define DK_OOB_CRED_MAX 32
#define DK_OOB_TEXT_MAX 512    /* longest message accepted or produced, without NUL */

enum dk_oob_channel {
    DK_OOB_CHANNEL_NONE = 0,
    DK_OOB_CHANNEL_WIFI = 1,
    DK_OOB_CHANNEL_BLE = 2,
    DK_OOB_CHANNEL_ZIGBEE = 3,
};

/* Values are the wire values of <cred-type>. */
enum dk_oob_cred {
    DK_OOB_CRED_NONE = 0,
    DK_OOB_CRED_PSK = 1,
    DK_OOB_CRED_RPK = 2,
    DK_OOB_CRED_X509 = 3,
};

/* The field an error is about; dk_oob_field_name() gives its name. */
enum dk_oob_field {
    DK_OOB_F_MESSAGE = 0, /* the text as a whole (length, characters) */
    DK_OOB_F_VERSION,
    DK_OOB_F_ENDPOINT,
    DK_OOB_F_TYPE,
    DK_OOB_F_CHANNEL,
    DK_OOB_F_CHANNEL_CREDENTIALS,
    DK_OOB_F_CRED_TYPE,
    DK_OOB_F_CRED_VALUE,
    DK_OOB_F_CHECKSUM,
    DK_OOB_F_END, /* the final ";;" */
};

struct dk_oob_error {
    enum dk_oob_field field;
    const char *why; /* static English text, never NULL after an error */
};

struct dk_oob_msg {
    char endpoint[DK_OOB_ENDPOINT_MAX + 1]; /* unescaped, NUL-terminated */
    char type[DK_OOB_TYPE_MAX + 1];
    enum dk_oob_channel channel;
    /* WIFI only: has_wifi_ap says the setup access point's credentials are
     * present (WPA2-PSK). Otherwise ssid is "" and wifi_psk_len 0. */
    bool has_wifi_ap;
    char ssid[DK_OOB_SSID_MAX + 1];
    uint8_t wifi_psk[DK_OOB_WIFI_PSK_MAX];
    size_t wifi_psk_len;
    enum dk_oob_cred cred_type;
    /* PSK: the key (DK_OOB_PSK_MIN..MAX bytes); RPK/X.509: DK_OOB_HASH_LEN
     * bytes of truncated SHA-256; NONE: cred_len 0. */
    uint8_t cred[DK_OOB_CRED_MAX];
    size_t cred_len;
};

/* Zeroes the whole struct (it may hold keys). m may be NULL. */
void dk_oob_msg_wipe(struct dk_oob_msg *m);

/* Parses len bytes of text (need not be NUL-terminated). White space around
 * the message is ignored; hex digits may be either case; `\;` `\:` `\\` are
 * unescaped in the endpoint, type and SSID. The checksum is checked before the
 * credential value is interpreted, so a mistyped value is reported as a
 * checksum error (a one-byte checksum misses 1 in 256 typos).
 * On success fills *out. On error *out is wiped and, when err is not NULL,
 * err names the field and the reason.
 * Returns 0, DK_EVERSION (version is not 01) or DK_EPARSE (anything else). */
int dk_oob_parse(const char *text, size_t len, struct dk_oob_msg *out, struct dk_oob_error *err);

/* Writes the message as NUL-terminated text with lowercase hex into out
 * (cap bytes; DK_OOB_TEXT_MAX + 1 is always enough); *len (may be NULL) gets
 * the length without the NUL. The message is checked as the parser would, so
 * what this writes always parses back to *m.
 * Returns 0, DK_EINVAL (a field is invalid; err, when not NULL, names it) or
 * DK_ENOSPC. */
int dk_oob_format(const struct dk_oob_msg *m, char *out, size_t cap, size_t *len,
                  struct dk_oob_error *err);

/* The <checksum> of a <cred-value> text: the leftmost byte of SHA-256 over
 * the text in lowercase. Returns 0 or DK_ECRYPTO. */
int dk_oob_checksum(const char *cred_hex, size_t len, uint8_t *out);

/* The cred-value of a public key or certificate: the leftmost
 * DK_OOB_HASH_LEN bytes of SHA-256 of der (a DER SubjectPublicKeyInfo for
 * RPK, a DER certificate for X.509). Returns 0 or DK_ECRYPTO. */
int dk_oob_cred_hash(const uint8_t *der, size_t len, uint8_t out[DK_OOB_HASH_LEN]);

/* True when m's credential value equals value[0..len). The contents are
 * compared in constant time; only the lengths are compared directly. */
bool dk_oob_cred_equal(const struct dk_oob_msg *m, const uint8_t *value, size_t len);

/* Names: "version", "endpoint", ..., "end"; never NULL. */
const char *dk_oob_field_name(enum dk_oob_field f);
/* Wire names: "NONE", "WIFI", "BLE", "ZIGBEE". NULL for an unknown value. */
const char *dk_oob_channel_name(enum dk_oob_channel c);
/* Short names "none", "psk", "rpk", "x509". NULL for an unknown value. */
const char *dk_oob_cred_name(enum dk_oob_cred c);
/* Parse the names above, case-insensitively. Return 0 or DK_EINVAL. */
int dk_oob_channel_from_name(const char *s, enum dk_oob_channel *out);
int dk_oob_cred_from_name(const char *s, enum dk_oob_cred *out);

#endif
