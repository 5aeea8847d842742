/* duckling — the gateway's database (SQLite, DESIGN §2.11).
 *
 * One file, DATA/gateway.db, in WAL mode, created with mode 0600 (it holds
 * bootstrap PSKs and operational keys). The schema is versioned: a
 * `schema_migrations` table records every migration applied, and
 * dk_gwdb_open() applies the missing ones in one transaction each, so an
 * older database is upgraded in place and a newer one is refused.
 *
 * What it keeps:
 *  - OOB records: what a scanned label says about a device (DESIGN §5).
 *  - Bootstrap requests: each device that asked to be bootstrapped, what was
 *    checked (label match, peer credential type) and the decision.
 *  - Devices: lifecycle state, last seen, location, registration.
 *  - Operational credentials issued per device (PSK + identity, or a
 *    certificate and its hash), with a revoked flag kept forever so replayed
 *    old credentials are recognised.
 *  - Latest resource values, and an audit log of every decision.
 *
 * Times are Unix seconds given by the caller (dk_clock_wall() in programs),
 * so tests control them. Strings are NUL-terminated UTF-8. Nothing here logs
 * a secret: the log only ever sees SQLite's own error messages.
 *
 * Threading: one context per thread; the gateway uses it from its loop only.
 */
#ifndef DUCKLING_GWDB_H
#define DUCKLING_GWDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/log.h>

#define DK_GW_EP_MAX 64   /* endpoint name, characters (DK_OOB_ENDPOINT_MAX) */
#define DK_GW_TYPE_MAX 32 /* device type (DK_OOB_TYPE_MAX) */
#define DK_GW_SSID_MAX 32
#define DK_GW_SECRET_MAX 64  /* bootstrap PSK / cred value / AP PSK bytes */
#define DK_GW_PEER_MAX 64    /* "[v6%scope]:port" (DK_ADDR_STRLEN) */
#define DK_GW_LINKS_MAX 2048 /* registration object links (CoRE link format) */
#define DK_GW_PSK_ID_MAX 128 /* DK_DTLS_PSK_ID_MAX */
#define DK_GW_CERT_MAX 2048  /* one DER certificate */
#define DK_GW_PATH_MAX 48    /* "/65535/65535/65535/65535" and then some */
#define DK_GW_EVENT_MAX 48   /* audit event name */
#define DK_GW_DETAIL_MAX 512 /* audit detail (longer text is cut) */

/* Wire values of <cred-type> (same as enum dk_oob_cred). */
enum dk_gw_cred_type {
    DK_GW_CRED_NONE = 0,
    DK_GW_CRED_PSK = 1,
    DK_GW_CRED_RPK = 2,
    DK_GW_CRED_X509 = 3,
};
/* "none", "psk", "rpk", "x509"; "?" for anything else. */
const char *dk_gw_cred_type_name(int cred_type);

/* ---- OOB records -------------------------------------------------------- */

struct dk_gw_oob {
    char endpoint[DK_GW_EP_MAX + 1];
    char type[DK_GW_TYPE_MAX + 1];
    char channel[8]; /* "WIFI", "BLE", "ZIGBEE", "NONE" */
    /* The setup access point from <channel-credentials> (WIFI), or ""/0. */
    char ap_ssid[DK_GW_SSID_MAX + 1];
    uint8_t ap_psk[DK_GW_SECRET_MAX]; /* SECRET */
    size_t ap_psk_len;
    int cred_type;                  /* enum dk_gw_cred_type */
    uint8_t cred[DK_GW_SECRET_MAX]; /* SECRET for PSK; truncated hash for RPK/X.509 */
    size_t cred_len;
    char label_sha256[65]; /* hex SHA-256 of the label text as scanned */
    int64_t created;
};

/* ---- Bootstrap requests ------------------------------------------------- */

enum dk_gw_req_state {
    DK_GW_REQ_PENDING = 0,
    DK_GW_REQ_APPROVED = 1,
    DK_GW_REQ_DENIED = 2,
    DK_GW_REQ_EXPIRED = 3,
};
const char *dk_gw_req_state_name(enum dk_gw_req_state s); /* "pending", ... */

struct dk_gw_request {
    int64_t id;
    char endpoint[DK_GW_EP_MAX + 1];
    enum dk_gw_req_state state;
    bool label_match;   /* the peer's credential matched the OOB record */
    int peer_cred_type; /* enum dk_gw_cred_type the peer authenticated with */
    char peer[DK_GW_PEER_MAX + 1];
    int64_t created;      /* first attempt */
    int64_t last_attempt; /* latest attempt (devices retry while pending) */
    int64_t expires;      /* a pending request expires at this time */
    int64_t decided;      /* 0 while pending */
};

/* ---- Devices ------------------------------------------------------------ */

enum dk_gw_dev_state {
    DK_GW_DEV_EXPECTED = 0,     /* OOB record scanned, device not heard from */
    DK_GW_DEV_PENDING = 1,      /* asked for bootstrap, waiting for approval */
    DK_GW_DEV_APPROVED = 2,     /* approved, bootstrap in progress */
    DK_GW_DEV_BOOTSTRAPPED = 3, /* Bootstrap-Finish acknowledged */
    DK_GW_DEV_REGISTERED = 4,   /* registered with the LwM2M Server */
    DK_GW_DEV_OFFLINE = 5,      /* registration expired or de-registered */
    DK_GW_DEV_RESET = 6,        /* factory reset: credentials revoked */
};
const char *dk_gw_dev_state_name(enum dk_gw_dev_state s); /* "expected", ... */
/* Returns 0 or DK_EINVAL. */
int dk_gw_dev_state_parse(const char *s, enum dk_gw_dev_state *out);

struct dk_gw_registration {
    int64_t lifetime; /* seconds */
    char binding[8];  /* "U" */
    char version[8];  /* "1.1" */
    char links[DK_GW_LINKS_MAX + 1];
    char peer[DK_GW_PEER_MAX + 1];
    char location[32];  /* the Server's registration location, e.g. "/rd/4f2a" */
    int64_t registered; /* registration or last update time */
};

struct dk_gw_device {
    char endpoint[DK_GW_EP_MAX + 1];
    enum dk_gw_dev_state state;
    char type[DK_GW_TYPE_MAX + 1];
    int64_t last_seen; /* 0: never */
    bool has_location;
    double lat, lon;
    bool has_registration; /* registered at least once since bootstrap */
    struct dk_gw_registration reg;
    int64_t created;
    int64_t updated;
};

/* ---- Operational credentials ------------------------------------------- */

struct dk_gw_cred {
    int64_t id;
    char endpoint[DK_GW_EP_MAX + 1];
    int kind;                               /* DK_GW_CRED_PSK, _RPK or _X509 */
    uint8_t psk_identity[DK_GW_PSK_ID_MAX]; /* PSK */
    size_t psk_identity_len;
    uint8_t psk[DK_GW_SECRET_MAX]; /* PSK: SECRET */
    size_t psk_len;
    uint8_t cert[DK_GW_CERT_MAX]; /* X.509: the device's DER certificate */
    size_t cert_len;
    uint8_t hash[32]; /* X.509: SHA-256 of cert; RPK: of the SPKI */
    bool has_hash;
    int64_t issued;
    bool revoked;
    int64_t revoked_at;
};

/* ---- Values and audit ---------------------------------------------------- */

struct dk_gw_value {
    char endpoint[DK_GW_EP_MAX + 1];
    char path[DK_GW_PATH_MAX + 1];
    int content_format;
    const char *json; /* valid during the callback only */
    int64_t time;
};

struct dk_gw_audit {
    int64_t id;
    int64_t time;
    char endpoint[DK_GW_EP_MAX + 1];
    char event[DK_GW_EVENT_MAX + 1];
    char detail[DK_GW_DETAIL_MAX + 1];
};

/* ---- The context --------------------------------------------------------- */

#define DK_GWDB_NSTMT 40

struct dk_gwdb {
    struct sqlite3 *db;
    struct sqlite3_stmt *st[DK_GWDB_NSTMT]; /* prepared once, on first use */
    const struct dk_log *log;
    int schema_version;
};

/* The latest schema version this build knows. */
#define DK_GWDB_SCHEMA_VERSION 1

void dk_gwdb_init(struct dk_gwdb *db);
/* Opens (creating with mode 0600 when missing) the database file at path,
 * sets WAL mode and applies missing migrations. An existing file is chmod-ed
 * to 0600. log may be NULL and must outlive db.
 * Errors: DK_EIO (cannot create or open), DK_ECORRUPT (not a database or
 * damaged), DK_EVERSION (made by a newer build: schema newer than ours). */
int dk_gwdb_open(struct dk_gwdb *db, const char *path, const struct dk_log *log);
/* Finalizes statements and closes the file. Always safe, also after init. */
void dk_gwdb_close(struct dk_gwdb *db);

/* Every function below returns 0 or: DK_EIO (SQLite failed; logged),
 * DK_EINVAL (argument too long or out of range), and the errors listed. */

/* OOB records. add: DK_EEXIST when the endpoint already has one. */
int dk_gwdb_add_oob(struct dk_gwdb *db, const struct dk_gw_oob *rec);
/* DK_ENOTFOUND when there is none. out holds secrets: dk_memzero it. */
int dk_gwdb_find_oob(struct dk_gwdb *db, const char *ep, struct dk_gw_oob *out);
/* DK_ENOTFOUND when there is none. */
int dk_gwdb_delete_oob(struct dk_gwdb *db, const char *ep);
/* Calls fn for each record, oldest first; a non-zero return from fn stops
 * the walk and is returned. The record passed is wiped after each call. */
typedef int dk_gwdb_oob_fn(void *user, const struct dk_gw_oob *rec);
int dk_gwdb_list_oob(struct dk_gwdb *db, dk_gwdb_oob_fn *fn, void *user);

/* Bootstrap requests.
 * request_attempt: records an attempt by ep. If ep already has a pending
 * request it is refreshed (last_attempt, label_match, peer) and its id
 * returned; otherwise a new pending request expiring at now + ttl is made,
 * unless `max_pending` requests are already pending (DK_ELIMIT; 0 = no
 * limit). The device's state becomes "pending". */
int dk_gwdb_request_attempt(struct dk_gwdb *db, const char *ep, bool label_match,
                            int peer_cred_type, const char *peer, int64_t now, int64_t ttl,
                            size_t max_pending, int64_t *id);
/* Records a refused attempt (the peer's credential did not match the label):
 * a request already "denied", label_match false. It never affects ep's
 * pending or approved requests. */
int dk_gwdb_request_refused(struct dk_gwdb *db, const char *ep, int peer_cred_type,
                            const char *peer, int64_t now, int64_t *id);
/* The most recent request of ep whose credential matched the label (any
 * state; refusals recorded by dk_gwdb_request_refused() never count).
 * DK_ENOTFOUND when none. */
int dk_gwdb_request_latest(struct dk_gwdb *db, const char *ep, struct dk_gw_request *out);
/* Pending requests, oldest first (expired ones are not listed even when
 * dk_gwdb_expire_due() has not run yet). */
typedef int dk_gwdb_request_fn(void *user, const struct dk_gw_request *req);
int dk_gwdb_list_pending(struct dk_gwdb *db, int64_t now, dk_gwdb_request_fn *fn, void *user);
/* Decide ep's pending request: approve also sets the device "approved",
 * deny and expire set it back to "expected". DK_ENOTFOUND when ep has no
 * pending request (or it has expired: then it is marked expired). */
int dk_gwdb_approve(struct dk_gwdb *db, const char *ep, int64_t now);
int dk_gwdb_deny(struct dk_gwdb *db, const char *ep, int64_t now);
int dk_gwdb_expire(struct dk_gwdb *db, const char *ep, int64_t now);
/* Marks every pending request with expires <= now expired; fn (may be
 * NULL) is called for each, before the change. Returns the count (>= 0) or
 * an error. */
int dk_gwdb_expire_due(struct dk_gwdb *db, int64_t now, dk_gwdb_request_fn *fn, void *user);

/* Devices. upsert writes every field of *d (created is kept when the row
 * exists). */
int dk_gwdb_device_upsert(struct dk_gwdb *db, const struct dk_gw_device *d);
/* Sets the state (creating the row when missing), updated = now. */
int dk_gwdb_device_set_state(struct dk_gwdb *db, const char *ep, enum dk_gw_dev_state state,
                             int64_t now);
/* Sets the registration, state "registered" and last_seen = reg->registered. */
int dk_gwdb_device_set_registration(struct dk_gwdb *db, const char *ep,
                                    const struct dk_gw_registration *reg);
/* set_location and touch: DK_ENOTFOUND when the device has no row. */
int dk_gwdb_device_set_location(struct dk_gwdb *db, const char *ep, double lat, double lon,
                                int64_t now);
int dk_gwdb_device_touch(struct dk_gwdb *db, const char *ep, int64_t now);
/* DK_ENOTFOUND when there is none. */
int dk_gwdb_device_get(struct dk_gwdb *db, const char *ep, struct dk_gw_device *out);
typedef int dk_gwdb_device_fn(void *user, const struct dk_gw_device *d);
int dk_gwdb_device_list(struct dk_gwdb *db, dk_gwdb_device_fn *fn, void *user);
/* Removes the device row and its values (credentials stay, revoke them
 * first; audit stays). DK_ENOTFOUND when there is none. */
int dk_gwdb_device_delete(struct dk_gwdb *db, const char *ep);

/* Operational credentials. issue: revokes ep's active credentials and
 * stores *c (endpoint, kind and the fields of that kind) as the active one;
 * *id (may be NULL) gets its id. DK_EEXIST when the PSK identity or
 * certificate hash was ever issued before (identities are never reused). */
int dk_gwdb_creds_issue(struct dk_gwdb *db, const struct dk_gw_cred *c, int64_t now, int64_t *id);
/* Revokes every active credential of ep; *count (may be NULL) gets how many. */
int dk_gwdb_creds_revoke(struct dk_gwdb *db, const char *ep, int64_t now, int *count);
/* Look-ups for the Server's handshake, revoked ones included (check
 * out->revoked: a revoked credential presented is a replay to audit).
 * DK_ENOTFOUND when never issued. out holds secrets: dk_memzero it. */
int dk_gwdb_creds_find_psk(struct dk_gwdb *db, const uint8_t *identity, size_t len,
                           struct dk_gw_cred *out);
int dk_gwdb_creds_find_hash(struct dk_gwdb *db, const uint8_t hash[32], struct dk_gw_cred *out);
/* ep's active credential. DK_ENOTFOUND when none. */
int dk_gwdb_creds_active(struct dk_gwdb *db, const char *ep, struct dk_gw_cred *out);

/* Latest values: one per (ep, path), replaced by each put. json must be
 * valid JSON text (not checked here). */
int dk_gwdb_values_put(struct dk_gwdb *db, const char *ep, const char *path, int content_format,
                       const char *json, int64_t now);
typedef int dk_gwdb_value_fn(void *user, const struct dk_gw_value *v);
/* ep's values by path. */
int dk_gwdb_values_list(struct dk_gwdb *db, const char *ep, dk_gwdb_value_fn *fn, void *user);

/* Audit log. ep may be NULL or "". detail longer than DK_GW_DETAIL_MAX is
 * cut. *id (may be NULL) gets the new event's id. */
int dk_gwdb_audit_add(struct dk_gwdb *db, int64_t now, const char *ep, const char *event,
                      const char *detail, int64_t *id);
/* Newest first: events with id < before (0: from the newest), of ep only
 * when ep is not NULL/"", at most limit (0: 100). */
typedef int dk_gwdb_audit_fn(void *user, const struct dk_gw_audit *a);
int dk_gwdb_audit_list(struct dk_gwdb *db, const char *ep, int64_t before, size_t limit,
                       dk_gwdb_audit_fn *fn, void *user);
/* Deletes all but the newest `keep` events. *deleted (may be NULL) gets how many. */
int dk_gwdb_audit_prune(struct dk_gwdb *db, size_t keep, int *deleted);

#endif
