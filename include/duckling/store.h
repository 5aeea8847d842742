/* duckling — device store (DESIGN §7).
 *
 * A device data directory holds:
 *   factory.store      written once by duckling-factory, read-only at run time:
 *                      endpoint, type, bootstrap credentials, Bootstrap Server
 *                      URI, setup access point. Integrity: SHA-256. Not encrypted.
 *   operational.store  what bootstrap and run time write: a list of
 *                      (key, bytes) records, e.g. ("/0/1/3", DER bytes).
 *                      Encrypted at rest with AES-256-GCM under device.key.
 *   device.key         the operational store's key; stands in for a secure
 *                      element. Destroyed by dk_store_ops_wipe() (crypto-erase).
 *
 * All three share one container format (docs/factory.md): magic "DKST",
 * format version, kind, flags, payload length, then typed records
 * (u16 type, u32 length, value) and an integrity check (SHA-256, or the GCM
 * tag for the operational store). Files are written to a temporary, fsynced,
 * renamed over the old file and the directory fsynced, so a power cut leaves
 * the old or the new version; they are created with mode 0600. A corrupt,
 * truncated or foreign file is refused as a whole, never half-loaded.
 *
 * Encoding and decoding are pure functions over memory (fuzzed); only the
 * *_save, *_load and *_wipe functions touch files. Functions that take
 * `const char **why` (may be NULL) set it on failure to a static English
 * reason suitable after "<file>: ". */
#ifndef DUCKLING_STORE_H
#define DUCKLING_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/alloc.h>
#include <duckling/oob.h>
#include <duckling/rng.h>

#define DK_STORE_FACTORY_FILE "factory.store"
#define DK_STORE_OPS_FILE "operational.store"
#define DK_STORE_KEY_FILE "device.key"

#define DK_STORE_FORMAT_VERSION 1
#define DK_STORE_HEADER_LEN 12

/* The kinds of container (byte 5 of the header). */
enum dk_store_kind {
    DK_STORE_KIND_FACTORY = 1,
    DK_STORE_KIND_OPS = 2,
    DK_STORE_KIND_KEY = 3,
};

#define DK_STORE_URI_MAX 255
#define DK_STORE_KEY_DER_MAX 512
#define DK_STORE_CERT_DER_MAX 4096
#define DK_STORE_FACTORY_MAX 16384 /* largest factory.store accepted */

/* ---------------------------------------------------------------- factory */

/* What the factory gives a device. Holds secrets: dk_store_factory_wipe(). */
struct dk_store_factory {
    char endpoint[DK_OOB_ENDPOINT_MAX + 1]; /* also the bootstrap PSK identity / cert CN */
    char type[DK_OOB_TYPE_MAX + 1];
    enum dk_oob_cred cred_type;
    uint8_t psk[DK_OOB_PSK_MAX]; /* PSK: the bootstrap key */
    size_t psk_len;
    /* RPK and X.509: the P-256 private key, DER (RFC 5915 ECPrivateKey). */
    uint8_t key_der[DK_STORE_KEY_DER_MAX];
    size_t key_der_len;
    uint8_t cert_der[DK_STORE_CERT_DER_MAX]; /* X.509: the device certificate */
    size_t cert_der_len;
    char bs_uri[DK_STORE_URI_MAX + 1]; /* coap://... (cred none) or coaps://... */
    enum dk_oob_channel channel;
    /* Setup access point the device opens in factory mode; "" and 0 when none
     * (only with channel WIFI). */
    char ap_ssid[DK_OOB_SSID_MAX + 1];
    uint8_t ap_psk[DK_OOB_WIFI_PSK_MAX];
    size_t ap_psk_len;
};

void dk_store_factory_init(struct dk_store_factory *f); /* all zero */
void dk_store_factory_wipe(struct dk_store_factory *f); /* zeroes; f may be NULL */

/* Checks the fields are complete and consistent (lengths per credential type,
 * URI scheme, SSID with channel WIFI). Returns 0 or DK_EINVAL with *why. */
int dk_store_factory_check(const struct dk_store_factory *f, const char **why);

/* Pure. Encodes f (checked first) into out; *len gets the size. Returns 0,
 * DK_EINVAL, DK_ENOSPC (DK_STORE_FACTORY_MAX is always enough) or DK_ECRYPTO. */
int dk_store_factory_encode(const struct dk_store_factory *f, uint8_t *out, size_t cap,
                            size_t *len);
/* Pure. Decodes a whole factory.store image. On failure *out is wiped.
 * Returns 0, DK_EPARSE (not a duckling store, wrong kind, bad record),
 * DK_EVERSION (unknown format version), DK_ECORRUPT (truncated, trailing
 * bytes, SHA-256 mismatch) or DK_EINVAL (records inconsistent). */
int dk_store_factory_decode(const uint8_t *in, size_t len, struct dk_store_factory *out,
                            const char **why);

/* Writes dir/factory.store atomically with mode 0600.
 * Returns 0, an encode error, or DK_EIO (errno tells why). */
int dk_store_factory_save(const char *dir, const struct dk_store_factory *f);
/* Reads dir/factory.store. Returns 0, DK_ENOTFOUND (no file), DK_EIO, or a
 * decode error; *why says what is wrong. */
int dk_store_factory_load(const char *dir, struct dk_store_factory *out, const char **why);

/* The OOB message (the label) for f: the PSK itself, or the truncated
 * SHA-256 of the public key's SubjectPublicKeyInfo (RPK) or of the
 * certificate (X.509). Returns 0, DK_EINVAL (f inconsistent, key unreadable)
 * or DK_ECRYPTO. */
int dk_store_factory_to_oob(const struct dk_store_factory *f, struct dk_oob_msg *out);

/* ------------------------------------------------------------ operational */

#define DK_STORE_RECORD_KEY_MAX 255   /* bytes of a record key, without NUL */
#define DK_STORE_OPS_MAX (1u << 20)   /* largest operational.store accepted */
#define DK_STORE_DEVICE_KEY_LEN 32    /* AES-256 */

/* One record: a key (an LwM2M path such as "/0/1/3" or any name the client
 * engine chooses, 1..255 bytes, no NUL) and its value bytes. */
struct dk_store_record {
    const char *key;
    const uint8_t *value; /* may be NULL when len is 0 */
    size_t len;
};

/* Pure. Size of the record list encoding of recs (what dk_store_records_encode
 * writes), or 0 when a record is invalid. */
size_t dk_store_records_size(const struct dk_store_record *recs, size_t n);
/* Pure. Encodes recs. Returns 0, DK_EINVAL (bad key, duplicate key) or
 * DK_ENOSPC. */
int dk_store_records_encode(const struct dk_store_record *recs, size_t n, uint8_t *out,
                            size_t cap, size_t *len);
/* Pure. Decodes a record list in place: keys and values point into in, which
 * must outlive recs (keys are NUL-terminated there). *n gets the count, which
 * may exceed max (then only max are filled). Returns 0 or DK_EPARSE. */
int dk_store_records_decode(const uint8_t *in, size_t len, struct dk_store_record *recs,
                            size_t max, size_t *n, const char **why);

/* Pure. Seals a record list encoding (plain) with AES-256-GCM under key into
 * a whole operational.store image: header as associated data, a fresh random
 * 96-bit nonce from rng, then the ciphertext and tag. out needs
 * plain_len + DK_STORE_OPS_OVERHEAD bytes. Returns 0, DK_EINVAL (too large),
 * DK_ENOSPC or DK_ECRYPTO. */
#define DK_STORE_OPS_OVERHEAD (DK_STORE_HEADER_LEN + 12 + 16)
int dk_store_ops_seal(const uint8_t key[DK_STORE_DEVICE_KEY_LEN], const uint8_t *plain,
                      size_t plain_len, struct dk_rng *rng, uint8_t *out, size_t cap,
                      size_t *len);
/* Pure. Opens an operational.store image into plain (cap >= len is always
 * enough). Returns 0, DK_EPARSE, DK_EVERSION, DK_ECORRUPT (truncated, or the
 * tag does not verify: wrong key or tampered file) or DK_ENOSPC. */
int dk_store_ops_open(const uint8_t key[DK_STORE_DEVICE_KEY_LEN], const uint8_t *in, size_t len,
                      uint8_t *plain, size_t cap, size_t *plain_len, const char **why);

/* Replaces dir/operational.store with recs, atomically. Creates dir/device.key
 * (a fresh random key, mode 0600) when there is none. rng must be set up.
 * Returns 0, DK_EINVAL (bad record, too large), DK_ECORRUPT (device.key
 * exists but is damaged: wipe first), DK_ENOMEM, DK_ECRYPTO or DK_EIO. */
int dk_store_ops_save(const char *dir, const struct dk_store_record *recs, size_t n,
                      struct dk_rng *rng);

/* A loaded operational store: records point into memory owned by this struct. */
struct dk_store_ops {
    struct dk_store_record *recs;
    size_t count;
    uint8_t *mem; /* decrypted record list, wiped on free */
    size_t mem_len;
    const struct dk_alloc *alloc;
};

void dk_store_ops_init(struct dk_store_ops *ops);
/* Loads dir/operational.store with the key in dir/device.key. Memory comes
 * from alloc (NULL: malloc). A previous content of ops is freed first.
 * Returns 0, DK_ENOTFOUND (no operational store: factory mode), DK_ECORRUPT
 * (store without its key, or damaged/tampered), DK_EPARSE, DK_EVERSION,
 * DK_ENOMEM or DK_EIO; *why says what. */
int dk_store_ops_load(const char *dir, const struct dk_alloc *alloc, struct dk_store_ops *ops,
                      const char **why);
/* The record with this key, or NULL. */
const struct dk_store_record *dk_store_ops_find(const struct dk_store_ops *ops, const char *key);
/* Wipes and frees what load allocated; always safe after init. */
void dk_store_ops_free(struct dk_store_ops *ops);

/* Factory reset of the stores: destroys dir/device.key (overwrite, fsync,
 * unlink) so the operational store can no longer be decrypted, then
 * overwrites, fsyncs and unlinks dir/operational.store and any leftover
 * temporary files, then fsyncs dir. factory.store is never touched.
 * Missing files are not an error. Returns 0 or DK_EIO. */
int dk_store_ops_wipe(const char *dir);

/* True when dir/operational.store exists (the device left factory mode). */
bool dk_store_ops_exists(const char *dir);

#endif
