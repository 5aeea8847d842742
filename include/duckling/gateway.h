/* duckling — the gateway's web and data side (DESIGN §2.11): the HTTP REST
 * API (libmicrohttpd, driven by our poll loop), the event stream, and the
 * glue between the API, the database (gwdb.h) and the protocol engines.
 *
 * The Bootstrap Server and LwM2M Server engines plug in through two tables of
 * hooks the gateway calls (struct dk_gw_bootstrap_ops, struct
 * dk_gw_device_ops) and a handful of functions they (their wiring) call
 * (dk_gw_bootstrap_attempt(), dk_gw_registered(), dk_gw_notify(), ...).
 * Without them the API still works for everything that needs no device:
 * OOB records, pending requests, approvals, devices, audit, events. Device
 * operations then answer 503.
 *
 * Everything runs on the program's loop thread: no MHD threads, no locks.
 * HTTP requests that wait on a device are suspended (MHD_suspend_connection)
 * until the engine calls the done() function it was given, or the operation
 * times out (504).
 *
 * docs/api.md documents the REST API itself.
 */
#ifndef DUCKLING_GATEWAY_H
#define DUCKLING_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/clock.h>
#include <duckling/gwdb.h>
#include <duckling/log.h>
#include <duckling/loop.h>
#include <duckling/rng.h>

struct dk_gw;

/* ---- Device operations (implemented by the LwM2M Server wiring) --------- */

/* What became of a device operation. */
struct dk_gw_result {
    /* 0: the device answered, see coap_code. Otherwise why there is no
     * answer: DK_ENOTFOUND (not registered), DK_ETIMEDOUT (no answer),
     * DK_ECLOSED / DK_ERESET (session closed, CoAP RST), DK_ELIMIT (too many
     * operations in flight), DK_ENOTSUP, ... */
    int err;
    /* The CoAP response code: class << 5 | detail (0x45 = 2.05 Content,
     * 0x44 = 2.04 Changed, 0x84 = 4.04 Not Found). */
    uint8_t coap_code;
    /* Content-format of the payload the value was decoded from; -1: none. */
    int content_format;
    /* The payload decoded into JSON text, NULL when there is none. A single
     * resource: its value (21.5, "text", true, or {"opaque":"<base64>"});
     * an instance or object: a SenML-JSON-like array
     * [{"n":"/3303/0/5700","v":21.5}, ...]. Copied during done(). */
    const char *json;
};

/* The engine calls done(req, res) exactly once per operation it accepted
 * (returned 0 from), unless cancel(req) came first. It may call it before
 * returning from the operation (a synchronous answer) or later from the
 * loop. res and what it points to need only live during the call. */
typedef void dk_gw_done_fn(void *req, const struct dk_gw_result *res);

/* Paths are normalised LwM2M paths "/O", "/O/I", "/O/I/R" or "/O/I/R/RI"
 * (decimal, each 0..65535). ep is a known device's endpoint name. The
 * strings are valid during the call only.
 * Each operation returns 0 (started: done() will follow) or a negative
 * DK_E* when it could not be started (DK_ENOTFOUND: not registered,
 * DK_ELIMIT: busy); done() is not called then. Any op may be NULL (501). */
struct dk_gw_device_ops {
    int (*read)(void *user, const char *ep, const char *path, dk_gw_done_fn *done, void *req);
    /* value_json: the JSON value to write (see struct dk_gw_result.json);
     * the engine picks the content-format (TLV, SenML JSON/CBOR, text). */
    int (*write)(void *user, const char *ep, const char *path, const char *value_json,
                 dk_gw_done_fn *done, void *req);
    /* args: the Execute arguments (may be NULL). The gateway's remote
     * factory reset is execute(ep, "/3/0/5", NULL). */
    int (*execute)(void *user, const char *ep, const char *path, const char *args,
                   dk_gw_done_fn *done, void *req);
    /* Starts observing: done() carries the first value; later values are
     * reported with dk_gw_notify(). */
    int (*observe)(void *user, const char *ep, const char *path, dk_gw_done_fn *done, void *req);
    int (*cancel_observe)(void *user, const char *ep, const char *path, dk_gw_done_fn *done,
                          void *req);
    /* The gateway gave up on req (timeout, shutdown): forget it, never call
     * its done(). */
    void (*cancel)(void *user, void *req);
    /* The device was removed or factory reset and its credentials revoked:
     * drop its registration, observations and sessions. May be NULL. */
    void (*forget)(void *user, const char *ep);
};

/* ---- Bootstrap hooks (implemented by the Bootstrap Server wiring) --------- */

struct dk_gw_bootstrap_ops {
    /* ep's pending request was approved (by the user, or at once under the
     * auto policy) and recorded in the database. The engine goes on with that
     * device's bootstrap when it is waiting, or approves it at its next
     * attempt (dk_gw_bootstrap_attempt() then answers APPROVED). May be NULL. */
    void (*approved)(void *user, const char *ep);
    /* ep's pending request was denied: refuse it (4.03) if it is waiting. */
    void (*denied)(void *user, const char *ep);
    /* ep's OOB record was added or removed (records are read from the
     * database at each attempt; a cache may drop ep). May be NULL. */
    void (*oob_changed)(void *user, const char *ep, bool removed);
};

/* ---- Configuration -------------------------------------------------------- */

enum dk_gw_approval {
    DK_GW_APPROVAL_MANUAL = 0, /* the user approves each request (default) */
    DK_GW_APPROVAL_AUTO = 1,   /* scanning the label is the approval */
};

#define DK_GW_TOKEN_HEX 64 /* 256-bit admin token as lowercase hex */

struct dk_gw_config {
    struct dk_gwdb *db;  /* required; open; outlives the gateway */
    const char *token;   /* required: the admin token (hex), copied */
    const char *listen;  /* IP to bind; NULL: "127.0.0.1"; "::" is dual stack */
    uint16_t port;       /* 0: a free port (see dk_gw_port()) */
    const char *www_dir; /* web UI folder served from "/"; NULL: built-in page */
    /* Map tile URL template for the web UI ("https://{s}.tile.example/{z}/{x}/{y}.png");
     * NULL: none (the UI plots coordinates without tiles). Its origin is added
     * to the pages' Content-Security-Policy img-src. */
    const char *map_tiles;
    /* Randomness for event stream tickets (POST /api/events/ticket); NULL:
     * no tickets (503). Outlives the gateway; used on the loop thread only. */
    struct dk_rng *rng;
    size_t max_body;          /* request body limit in bytes; 0: 16 KiB */
    unsigned max_connections; /* 0: 64 */
    dk_time_t op_timeout_ms;  /* device operations; 0: 30 s */
    dk_time_t keepalive_ms;   /* event stream keep-alive comments; 0: 15 s */
    enum dk_gw_approval approval;
    int64_t pending_ttl; /* seconds a pending request waits; 0: 600 */
    size_t max_pending;  /* pending requests at once; 0: 64 */
    size_t audit_keep;   /* audit events kept; 0: 100000 */

    const struct dk_gw_device_ops *dev_ops; /* NULL: no LwM2M Server (503) */
    void *dev_user;
    const struct dk_gw_bootstrap_ops *bs_ops; /* NULL: no Bootstrap Server */
    void *bs_user;
    /* Shown in GET /api/status (e.g. "not available in this build"). */
    const char *bootstrap_status;
    const char *server_status;

    const struct dk_log *log; /* may be NULL; outlives the gateway */
    /* Wall clock (Unix seconds) for the database; NULL: dk_clock_wall. */
    int64_t (*wall)(void);
};

/* ---- The gateway ----------------------------------------------------------- */

/* One-time event stream tickets: EventSource cannot send an Authorization
 * header, so a client trades its bearer token for a ticket (POST
 * /api/events/ticket) and opens GET /api/events?ticket=T within
 * DK_GW_TICKET_TTL_MS. Each ticket works once. */
#define DK_GW_TICKETS 16
#define DK_GW_TICKET_HEX 32 /* 128 bits */
#define DK_GW_TICKET_TTL_MS 30000

struct dk_gw_ticket {
    char hex[DK_GW_TICKET_HEX + 1]; /* "" when the slot is free */
    dk_time_t expires;              /* monotonic ms */
};

struct dk_gw {
    struct dk_gw_config cfg;
    struct dk_gw_ticket tickets[DK_GW_TICKETS];
    char csp[768]; /* Content-Security-Policy of HTML pages */
    char token[DK_GW_TOKEN_HEX + 1];
    struct MHD_Daemon *mhd;
    int epoll_fd;
    uint16_t port;
    struct dk_loop *loop;
    bool kick;             /* MHD_run needed soon (a connection was resumed) */
    struct dk_gw_req *ops; /* requests waiting on a device */
    struct dk_gw_sse *sse; /* event stream clients */
    uint64_t event_id;
    dk_time_t next_keepalive;
    dk_time_t next_expiry; /* next check for expired pending requests */
    int64_t audit_window;  /* rate limit for auditing refused API calls */
    unsigned audit_in_window;
    unsigned long audit_suppressed;
    uint64_t audit_count;
};

void dk_gw_init(struct dk_gw *gw);
/* Starts the HTTP server on cfg->listen:cfg->port (MHD in external mode with
 * epoll, suspend/resume allowed). Nothing runs until dk_gw_attach().
 * cfg and what it points to must outlive gw (the token is copied).
 * Errors: DK_EINVAL (missing db/token, bad listen address, a map_tiles URL
 * that is not http(s)://host[:port]/... or has quotes, spaces, ';' or ','), DK_EIO (bind
 * failed: port in use), DK_ENOMEM. */
int dk_gw_setup(struct dk_gw *gw, const struct dk_gw_config *cfg);
/* Adds the gateway's fd and timer to loop (which must outlive gw; the loop
 * must not run after dk_gw_free()). Errors: DK_ELIMIT. */
int dk_gw_attach(struct dk_gw *gw, struct dk_loop *loop);
/* The bound HTTP port. */
uint16_t dk_gw_port(const struct dk_gw *gw);
/* Cancels device operations (their clients get 503), ends event streams,
 * stops the server. Always safe, also after init. */
void dk_gw_free(struct dk_gw *gw);

/* ---- Called by the engines' wiring ------------------------------------------ */

struct dk_gwdb *dk_gw_db(struct dk_gw *gw);
int64_t dk_gw_now(const struct dk_gw *gw); /* the wall clock the gateway uses */

enum dk_gw_decision {
    DK_GW_REFUSE = 0,   /* answer 4.03; the device gets nothing */
    DK_GW_PENDING = 1,  /* waiting for the user: refuse for now, the device retries */
    DK_GW_APPROVED = 2, /* go on: issue credentials and provision the device */
};

/* Bootstrap Server: device ep asked to be bootstrapped (`POST /bs?ep=`) and
 * authenticated with peer_cred_type; label_match says whether what it proved
 * matched the OOB record (PSK: the handshake used the record's key; RPK/X.509:
 * the truncated hash equals the record's, compared in constant time).
 * Applies the rules of DESIGN §6: no OOB record -> REFUSE; mismatch -> REFUSE;
 * the request denied since the record was added -> REFUSE; an approved
 * request not yet used -> APPROVED; otherwise a pending request is recorded
 * (bounded, expiring) and the policy decides (auto -> APPROVED, manual ->
 * PENDING). Every outcome is audited and published on the event stream.
 * peer: "addr:port" text (may be NULL). Errors: DK_EINVAL, DK_EIO. */
int dk_gw_bootstrap_attempt(struct dk_gw *gw, const char *ep, bool label_match, int peer_cred_type,
                            const char *peer, enum dk_gw_decision *out);
/* The engine made operational credentials for ep: stores them (revoking the
 * old ones) and audits (without secrets). Errors: as dk_gwdb_creds_issue(). */
int dk_gw_creds_issued(struct dk_gw *gw, const struct dk_gw_cred *c);
/* Bootstrap-Finish was acknowledged: device "bootstrapped". */
int dk_gw_bootstrap_finished(struct dk_gw *gw, const char *ep);
/* The bootstrap of an approved device failed (why: short text, no secrets). */
int dk_gw_bootstrap_failed(struct dk_gw *gw, const char *ep, const char *why);

/* LwM2M Server: ep registered (update false) or updated its registration;
 * reg->registered is set by the gateway when 0. Device "registered". */
int dk_gw_registered(struct dk_gw *gw, const char *ep, const struct dk_gw_registration *reg,
                     bool update);
/* ep de-registered (expired false) or its lifetime ran out: "offline". */
int dk_gw_deregistered(struct dk_gw *gw, const char *ep, bool expired);
/* A notification (or any fresh value): stored as ep's latest value of path
 * and published. json as in struct dk_gw_result. */
int dk_gw_notify(struct dk_gw *gw, const char *ep, const char *path, int content_format,
                 const char *json);
int dk_gw_location(struct dk_gw *gw, const char *ep, double lat, double lon);

/* Audit: stores an event and publishes it. Use for every refusal (unknown
 * PSK identity, revoked credentials replayed, wrong certificate) and every
 * decision. detail must not contain secrets. */
int dk_gw_audit(struct dk_gw *gw, const char *ep, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Publishes an event to every /api/events client:
 *   id: N / event: type / data: {"type":type,"time":T,"endpoint":ep,...data}
 * data_json: a JSON object whose members are added (may be NULL).
 * Errors: DK_EINVAL (type empty, data_json not an object), DK_ENOMEM. */
int dk_gw_event_publish(struct dk_gw *gw, const char *type, const char *ep, const char *data_json);

/* ---- Admin token ---------------------------------------------------------------- */

/* Reads DIR/admin.token, or creates it (256 bits from rng as hex, mode 0600,
 * O_EXCL) when missing; *created says which. A token file readable by group
 * or others is refused (DK_EPERM), as is a malformed one (DK_EPARSE).
 * out gets DK_GW_TOKEN_HEX hex digits and a NUL. Errors also: DK_EIO, DK_ECRYPTO. */
int dk_gw_token_load_or_create(const char *dir, struct dk_rng *rng, char out[DK_GW_TOKEN_HEX + 1],
                               bool *created);

/* ---- Requests into commands (pure; what the fuzz target drives) ------------------- */

enum dk_gw_cmd_kind {
    DK_GW_CMD_STATUS,        /* GET /api/status */
    DK_GW_CMD_OOB_ADD,       /* POST /api/oob {"label": TEXT} */
    DK_GW_CMD_OOB_LIST,      /* GET /api/oob */
    DK_GW_CMD_OOB_DELETE,    /* DELETE /api/oob/{ep} */
    DK_GW_CMD_PENDING_LIST,  /* GET /api/pending */
    DK_GW_CMD_APPROVE,       /* POST /api/pending/{ep}/approve */
    DK_GW_CMD_DENY,          /* POST /api/pending/{ep}/deny */
    DK_GW_CMD_DEVICES,       /* GET /api/devices */
    DK_GW_CMD_DEVICE_GET,    /* GET /api/devices/{ep} */
    DK_GW_CMD_DEVICE_DELETE, /* DELETE /api/devices/{ep} */
    DK_GW_CMD_RESET,         /* POST /api/devices/{ep}/reset */
    DK_GW_CMD_READ,          /* GET /api/devices/{ep}/{path} */
    DK_GW_CMD_WRITE,         /* PUT /api/devices/{ep}/{path} {"value": V} */
    DK_GW_CMD_EXECUTE,       /* POST /api/devices/{ep}/{path} [{"args": S}] */
    DK_GW_CMD_OBSERVE,       /* POST /api/devices/{ep}/{path}/observe */
    DK_GW_CMD_UNOBSERVE,     /* DELETE /api/devices/{ep}/{path}/observe */
    DK_GW_CMD_AUDIT,         /* GET /api/audit[?limit=N&before=ID&endpoint=EP] */
    DK_GW_CMD_EVENTS,        /* GET /api/events */
    DK_GW_CMD_STATIC,        /* GET|HEAD anything outside /api */
    DK_GW_CMD_EVENTS_TICKET, /* POST /api/events/ticket */
};

#define DK_GW_ARGS_MAX 255
#define DK_GW_STATIC_PATH_MAX 255

struct dk_gw_cmd {
    enum dk_gw_cmd_kind kind;
    char ep[DK_GW_EP_MAX + 1];
    char path[DK_GW_PATH_MAX + 1]; /* LwM2M path, normalised */
    char *value_json;              /* WRITE: owned */
    char args[DK_GW_ARGS_MAX + 1]; /* EXECUTE: "" when none */
    bool has_args;
    struct dk_gw_oob oob;                 /* OOB_ADD: the parsed label (SECRETS) */
    size_t limit;                         /* AUDIT */
    int64_t before;                       /* AUDIT */
    char audit_ep[DK_GW_EP_MAX + 1];      /* AUDIT filter, "" for all */
    char file[DK_GW_STATIC_PATH_MAX + 1]; /* STATIC: relative path, "" for the index */
    bool head;                            /* STATIC: HEAD */
};

/* Why a request was refused: the HTTP status, a message for {"error": ...}
 * and, for a bad label, the OOB field name ("checksum", ...). For 405, allow
 * lists the methods the resource takes. */
struct dk_gw_cmd_error {
    int status;
    char msg[256];
    const char *field;
    const char *allow;
};

void dk_gw_cmd_init(struct dk_gw_cmd *cmd);
/* Routes and validates one request: method ("GET", ...), raw_path as sent
 * (still percent-encoded, without the query), query (raw "a=b&c=d", may be
 * NULL), body (len bytes, may be NULL when len is 0). Endpoint names and
 * static paths are percent-decoded per segment; a static path with a "." or
 * ".." segment, a backslash, a NUL or a control character is refused (400).
 * Returns 0 with *cmd filled, or DK_EPARSE (400), DK_ENOTFOUND (404),
 * DK_ENOTSUP (405), DK_ENOMEM, with *err filled. Call dk_gw_cmd_free() in
 * both cases. */
int dk_gw_cmd_parse(const char *method, const char *raw_path, const char *query, const char *body,
                    size_t len, struct dk_gw_cmd *cmd, struct dk_gw_cmd_error *err);
/* Frees what cmd owns and wipes its secrets. Always safe after init. */
void dk_gw_cmd_free(struct dk_gw_cmd *cmd);

/* Fills a database OOB record from a parsed label; the text's SHA-256 goes in
 * label_sha256. On error err says which field. Returns 0, DK_EPARSE or
 * DK_EVERSION. */
int dk_gw_label_parse(const char *text, size_t len, struct dk_gw_oob *rec,
                      struct dk_gw_cmd_error *err);

#endif
