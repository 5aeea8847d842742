/* duckling-factory internals shared by its source files. */
#ifndef DK_FACTORY_APP_H
#define DK_FACTORY_APP_H

#include <duckling/oob.h>
#include <duckling/rng.h>
#include <duckling/store.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <stdbool.h>
#include <stddef.h>

#define PROG "duckling-factory"

/* What the operator asked for; shared by every device of a run. */
struct factory_opts {
    const char *endpoint; /* NULL: generate */
    const char *type;
    enum dk_oob_cred cred;
    enum dk_oob_channel channel;
    const char *ap_ssid; /* NULL: derived from the endpoint (channel wifi only) */
    const char *bs_uri;  /* NULL: the default for the credential type */
    const char *ca_cert; /* x509 only: sign with this CA instead of self-signing */
    const char *ca_key;
    const char *out;
};

/* The manufacturer CA, loaded once per run. */
struct factory_ca {
    bool loaded;
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
    char subject[512];
};

/* What one device's label says, for the batch manifest. */
struct device_summary {
    char endpoint[DK_OOB_ENDPOINT_MAX + 1];
    char cred_hash[2 * DK_OOB_HASH_LEN + 1]; /* "" for psk and none */
    char label_sha256[65];
};

/* Prints "duckling-factory: what: why" to stderr. */
void report(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void factory_ca_init(struct factory_ca *ca);
/* Loads --ca/--ca-key (PEM or DER). Returns 0 or -1 after reporting. */
int factory_ca_load(struct factory_ca *ca, const char *cert, const char *key);
void factory_ca_free(struct factory_ca *ca);

/* Makes one device in opts->out (new) or in dir (batch): credentials, the
 * factory store, labels, certificate or public key. Returns 0, or -1 after
 * reporting. endpoint NULL: generate one. */
int make_device(const struct factory_opts *opts, const struct factory_ca *ca, struct dk_rng *rng,
                const char *dir, const char *endpoint, struct device_summary *sum);

/* Generates "dk-" and 16 random hex digits (64 bits). */
int make_endpoint(struct dk_rng *rng, char out[DK_OOB_ENDPOINT_MAX + 1]);

/* Writes a whole file with the given mode (no fsync; the caller syncs once).
 * Returns 0 or -1 with errno. */
int write_file(const char *dir, const char *name, const void *data, size_t len, unsigned mode);

/* Reads a small text file into buf (NUL-terminated). Returns length or -1. */
long read_text(const char *path, char *buf, size_t cap);

#endif
