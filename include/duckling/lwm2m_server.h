/* duckling — LwM2M Server engine (DESIGN §2.10, §4, §6), without I/O.
 *
 * The Registration interface (server side) and the Device Management and
 * Information Reporting interfaces (as their client) on one or more
 * caller-owned CoAP endpoints (struct dk_coap_ep, usually under a DTLS server
 * endpoint of src/net). No I/O, no clock, no malloc, no rand: memory comes
 * from the config's struct dk_alloc, randomness (location ids, hash seeds)
 * from its struct dk_rng, time from the `now` arguments.
 *
 *   program                                    engine
 *   -------------------------------------------------------------------------
 *   datagrams                           --->  the dk_coap_ep (dk_server_attach()
 *                                             installed the /rd handler)
 *   "may this peer (un)register EP?"    <---  cbs.authorize(auth)
 *   "what did the handshake prove?"     <---  cbs.peer_info(coap, peer)
 *   registration changed: store it      <---  cbs.persist(reg, removed)
 *   stored registrations at start       --->  dk_server_restore()
 *   read / write / execute / observe    --->  dk_server_op_start(ep, op)
 *   ... result (code, records)          <---  op->cb(result), later
 *   time passes                         --->  dk_server_tick(srv, now)
 *   when must I call tick next?         <---  dk_server_deadline(srv)
 *   what happened                       <---  cbs.event(ev), cbs.audit(...)
 * After dk_server_op_start(), _cancel(), _tick() the CoAP endpoints may hold
 * new datagrams: flush them.
 *
 * Registration interface (LwM2M 1.1 §6.2), on `/rd`:
 *   POST /rd?ep=EP[&lt=S][&lwm2m=V][&b=B][&Q][&sms=..]  + CoRE link format
 *        -> 2.01 Created, Location-Path rd/<8 hex digits>
 *   POST /rd/<id>[?lt=S][&b=B][&Q] [+ link format]   Update      -> 2.04
 *   DELETE /rd/<id>                                  De-register -> 2.02
 * Answers: 4.00 (no or bad ep, bad lt / b, malformed link format, payload
 * not link format), 4.03 (cbs.authorize refused: audited, REFUSED event),
 * 4.04 (unknown registration), 4.05 (other methods), 4.12 (lwm2m version
 * not 1.x), 5.03 (max_registrations reached), 5.00 (persist failed for a new
 * registration). A Register of an endpoint that is registered replaces the
 * old registration (new location). When a registration ends (De-register,
 * expiry, replacement) its observations end with DK_ECLOSED and requests in
 * flight go on to their answer (a device answers the Execute /3/0/5 of a
 * remote factory reset and may de-register before that answer arrives);
 * dk_server_forget() ends them all with DK_ECLOSED.
 * lwm2m absent means 1.0, lt absent default_lifetime_s, b absent "U". An
 * Update may come from a new address (NAT rebinding): after authorize the
 * registration follows it. A registration expires lifetime + grace_ms after
 * its last Register/Update (EXPIRED event).
 *
 * Authorisation: cbs.authorize is asked for every Register, Update and
 * De-register with what the DTLS handshake proved (cbs.peer_info; NULL for
 * plain CoAP). The program checks it against the operational credentials it
 * issued for that endpoint (PSK identity, or certificate / key hash) and
 * refuses everything else, including revoked credentials (a replay to audit).
 *
 * Device Management: dk_server_op_start() sends one operation to a
 * registered endpoint (at its latest address, under its alternate root path
 * when the registration had one) and calls op->cb once with the result, or,
 * for Observe, once per notification while the observation stands:
 *   READ            GET  /O[/I[/R[/RI]]]  Accept: op->accept (-1: none)
 *   DISCOVER        GET  ... Accept: 40 (the link format is in payload)
 *   WRITE           PUT  /O/I[/R[/RI]]    op->recs encoded in op->format
 *   WRITE_PARTIAL   POST /O/I[/R]         likewise
 *   WRITE_ATTRS     PUT  ...?pmin=&pmax=&gt=&lt=&st=&epmin=&epmax= (op->attrs)
 *   EXECUTE         POST /O/I/R           op->payload as arguments (text)
 *   CREATE          POST /O               op->recs (/O/I/R records; TLV
 *                                         wraps them in the instance)
 *   DELETE          DELETE /O/I
 *   OBSERVE         GET  ... Observe: 0, Accept: op->accept
 * Responses carrying TLV, SenML JSON, SenML CBOR, plain text or opaque are
 * decoded with the lwm2m layer (the op's path as base, config.type_of as
 * typer) into records; a payload that does not decode is still given raw
 * with decode_err set. op->format defaults to TLV (every 1.0 and 1.1
 * client). Queue mode is recorded but not acted on: requests go out at once.
 *
 * Scale: registrations are kept in two hash tables (by endpoint name and by
 * location id) and an expiry heap; operations in a hash table by id. A
 * registration takes ~213 bytes of engine memory with a 10-character name
 * and 4 objects (tables included; measured in tests/unit/server). Measured
 * here (one core, no DTLS): 100,000 Registers through the CoAP endpoint and
 * this engine in 0.18 s, 30 MB resident in all. The CoAP endpoint's own
 * limits (max_peers, max_exchanges: each observation holds an exchange,
 * max_dedup) must be configured to match.
 *
 * Callbacks are called from inside the CoAP endpoint's dk_coap_ep_recv() and
 * _tick(), and from dk_server_tick(), _forget(), _restore() (none),
 * dk_server_free() (none). They may call any function of this API except
 * dk_server_free(); pointers they receive are valid only during the call.
 * Lifetimes: the config and the attached CoAP endpoints must outlive the
 * engine; free the engine before its endpoints. Not thread-safe.
 */
#ifndef DUCKLING_LWM2M_SERVER_H
#define DUCKLING_LWM2M_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/addr.h>
#include <duckling/alloc.h>
#include <duckling/clock.h>
#include <duckling/coap.h>
#include <duckling/dtls.h>
#include <duckling/log.h>
#include <duckling/lwm2m.h>
#include <duckling/lwm2m_link.h>
#include <duckling/rng.h>

#define DK_SERVER_EP_MAX 64       /* endpoint name, bytes */
#define DK_SERVER_MAX_COAP 4      /* CoAP endpoints one engine serves */
#define DK_SERVER_LOCATION_MAX 16 /* "/rd/0123abcd" */

/* ---- Registrations ----------------------------------------------------------- */

/* A registration as the engine reports it and restores it. Strings are
 * NUL-terminated; everything is valid during the call it is given in (or, from
 * dk_server_get(), until the next call into the engine). */
struct dk_server_reg_info {
    const char *ep;
    char location[DK_SERVER_LOCATION_MAX]; /* "/rd/0123abcd" */
    uint32_t lifetime_s;
    char binding[8];   /* "U" */
    char version[8];   /* "1.1" */
    bool queue_mode;   /* b contained Q, or the Q parameter (1.1) */
    const char *links; /* the object list as registered (CoRE link format) */
    size_t links_len;
    const struct dk_addr *peer; /* where the device was last heard from */
    struct dk_coap_ep *coap;    /* the endpoint it came in on */
    dk_time_t remaining_ms;     /* until it expires, as of the call */
};

enum dk_server_auth_kind {
    DK_SERVER_AUTH_REGISTER = 1,
    DK_SERVER_AUTH_UPDATE = 2,
    DK_SERVER_AUTH_DEREGISTER = 3,
};

struct dk_server_auth {
    enum dk_server_auth_kind kind;
    const char *ep;
    const struct dk_addr *peer;
    struct dk_coap_ep *coap;
    const struct dk_dtls_peer_info *info; /* NULL: plain CoAP */
    const struct dk_server_reg_info *reg; /* UPDATE, DEREGISTER: the registration */
};

enum dk_server_event_type {
    DK_SERVER_EV_REGISTERED = 1,   /* ev->reg; ev->replaced: an older one of ep was dropped */
    DK_SERVER_EV_UPDATED = 2,      /* ev->reg; ev->changed: DK_SERVER_CHANGED_* bits */
    DK_SERVER_EV_DEREGISTERED = 3, /* ev->reg */
    DK_SERVER_EV_EXPIRED = 4,      /* ev->reg: its lifetime ran out */
    DK_SERVER_EV_REFUSED = 5,      /* ev->auth_kind, ev->code, ev->ep (may be NULL), ev->peer */
    DK_SERVER_EV_REMOVED = 6,      /* dk_server_forget() */
};

enum {
    DK_SERVER_CHANGED_LIFETIME = 1,
    DK_SERVER_CHANGED_BINDING = 2,
    DK_SERVER_CHANGED_LINKS = 4,
    DK_SERVER_CHANGED_PEER = 8,
};

struct dk_server_event {
    enum dk_server_event_type type;
    const char *ep;
    const struct dk_addr *peer;
    const struct dk_server_reg_info *reg;
    bool replaced;
    unsigned changed;
    enum dk_server_auth_kind auth_kind; /* REFUSED */
    uint8_t code;                       /* REFUSED: the answer sent */
    const char *why;                    /* REFUSED: short text */
};

/* ---- Operations ------------------------------------------------------------------ */

enum dk_server_op_kind {
    DK_SERVER_READ = 1,
    DK_SERVER_DISCOVER,
    DK_SERVER_WRITE,         /* replace (PUT) */
    DK_SERVER_WRITE_PARTIAL, /* partial update (POST) */
    DK_SERVER_WRITE_ATTRS,
    DK_SERVER_EXECUTE,
    DK_SERVER_CREATE,
    DK_SERVER_DELETE,
    DK_SERVER_OBSERVE,
};
/* "read", "discover", ...; never NULL. */
const char *dk_server_op_name(enum dk_server_op_kind k);

struct dk_server_result {
    uint32_t id; /* the operation */
    const char *ep;
    enum dk_server_op_kind kind;
    struct dk_lwm2m_path path;
    /* 0: the device answered (code). Else why not: DK_ETIMEDOUT, DK_ERESET,
     * DK_ECLOSED (transport closed; an observation whose registration
     * ended; any operation of a forgotten one), DK_ELIMIT, DK_ENOMEM,
     * DK_EBADOPT, DK_EPARSE, DK_ESTATE (see struct dk_coap_result). */
    int status;
    uint8_t code;       /* CoAP response code (2.05, 2.04, 4.04, ...); 0 when none */
    int content_format; /* -1 when the response has none */
    const uint8_t *payload;
    size_t payload_len;
    /* READ / OBSERVE with 2.05: the decoded payload. decode_err: 0, or why it
     * did not decode (DK_EPARSE, DK_ERANGE, DK_ENOTSUP format, DK_ENOSPC more
     * than max_records records); recs then holds nothing. */
    const struct dk_lwm2m_record *recs;
    size_t n_recs;
    int decode_err;
    bool notification; /* a notification of an observation */
    bool observing;    /* the observation stands: more will come */
    uint32_t observe_seq;
    struct dk_lwm2m_path created; /* CREATE with 2.01: the Location-Path; len 0 when none */
};

typedef void dk_server_result_fn(void *user, const struct dk_server_result *r);

struct dk_server_op {
    enum dk_server_op_kind kind;
    struct dk_lwm2m_path path;
    int accept; /* READ / OBSERVE: Accept; -1: none (the device chooses) */
    int format; /* WRITE*, CREATE: payload content format; -1: TLV */
    /* WRITE*, CREATE: records in ascending path order within path (see
     * dk_lwm2m_writer), encoded by the engine; or, with recs NULL, a
     * payload already encoded in `format` (copied). EXECUTE: payload = the
     * arguments (text), may be empty. */
    const struct dk_lwm2m_record *recs;
    size_t n_recs;
    const void *payload;
    size_t payload_len;
    const struct dk_lwm2m_attrs *attrs; /* WRITE_ATTRS: set and unset notify attributes */
    dk_server_result_fn *cb;            /* may be NULL */
    void *cb_user;
};

/* kind and path set, accept/format -1, everything else empty. */
void dk_server_op_init(struct dk_server_op *op, enum dk_server_op_kind kind,
                       const struct dk_lwm2m_path *path);

/* ---- Configuration ---------------------------------------------------------------- */

struct dk_server_callbacks {
    /* What the DTLS handshake of peer (on coap) proved, or NULL for plain
     * CoAP. NULL function: every peer is plain. */
    const struct dk_dtls_peer_info *(*peer_info)(void *user, struct dk_coap_ep *coap,
                                                 const struct dk_addr *peer);
    /* Required. 0: allowed; any DK_E* (DK_EPERM): refused with 4.03. */
    int (*authorize)(void *user, const struct dk_server_auth *a);
    /* Optional. A registration was made or changed (removed false), or ended
     * (removed true: de-registered, expired, replaced by a new one of the
     * same endpoint is NOT reported as removed: the new one overwrites it,
     * forgotten). Return 0 or a DK_E*: a Register then answers 5.00 and is
     * undone; for the others the error is logged. */
    int (*persist)(void *user, const struct dk_server_reg_info *reg, bool removed);
    void (*event)(void *user, const struct dk_server_event *ev);
    /* Optional. Refusals and their reasons ("register-refused",
     * "update-refused", "deregister-refused"); detail has no secrets. */
    void (*audit)(void *user, const char *ep, const char *what, const char *detail);
    void *user;
};

struct dk_server_config {
    uint32_t default_lifetime_s; /* lt absent: 86400 */
    uint32_t min_lifetime_s;     /* smaller lt: 4.00. 1 */
    uint32_t max_lifetime_s;     /* larger lt: 4.00. 0: no limit (default) */
    dk_time_t grace_ms;          /* added to the lifetime before expiry: 15000 */
    size_t max_registrations;    /* 100000 */
    size_t max_links;            /* object list bytes: 2048 */
    size_t max_ops;              /* operations in flight incl. observations: 65536 */
    size_t max_ops_per_reg;      /* 32 */
    size_t max_records;          /* decoded per response: 256 */
    size_t max_payload;          /* encoded write / create payload: 16384 */
    size_t scratch;              /* decoder scratch (escaped strings, base64): 8192 */
    dk_lwm2m_type_fn *type_of;   /* typer for responses; NULL: built-in definitions */
    void *type_user;
    struct dk_rng *rng;           /* required: location ids, hash seeds */
    const struct dk_alloc *alloc; /* NULL: dk_alloc_default() */
    const struct dk_log *log;     /* may be NULL */
    struct dk_server_callbacks cbs;
};

/* Fills the defaults above; no rng, no callbacks. Cannot fail. */
void dk_server_config_init(struct dk_server_config *cfg);

/* ---- The engine ---------------------------------------------------------------------- */

struct dk_server_reg;
struct dk_server_opx;

struct dk_server_htab {
    void **b;
    size_t n; /* buckets, a power of two (0: none yet) */
    size_t count;
};

/* Caller-owned; fields are private. */
struct dk_server {
    const struct dk_server_config *cfg;
    const struct dk_alloc *alloc;
    struct dk_coap_ep *coap[DK_SERVER_MAX_COAP];
    size_t ncoap;
    uint64_t seed;
    struct dk_server_htab by_ep, by_id, ops;
    struct dk_server_reg **heap;
    size_t heap_len, heap_cap;
    uint32_t next_op;
    struct dk_lwm2m_record *recs;
    uint8_t *scratch;
    uint8_t *enc;
    dk_time_t now;
    bool ready;
};

/* Cannot fail; makes dk_server_free() safe. */
void dk_server_init(struct dk_server *s);
/* cfg must outlive s. Allocates the record and scratch buffers and the hash
 * tables' first buckets. Errors: DK_EINVAL (no rng or authorize callback, a
 * zero limit, min_lifetime_s 0), DK_ENOMEM, DK_ECRYPTO (rng). */
int dk_server_setup(struct dk_server *s, const struct dk_server_config *cfg);
/* Serves /rd on coap (installs the engine's request handler). Errors:
 * DK_ESTATE, DK_ELIMIT (DK_SERVER_MAX_COAP), DK_EEXIST. */
int dk_server_attach(struct dk_server *s, struct dk_coap_ep *coap);
/* Cancels every operation (their CoAP exchanges, without callbacks), drops
 * every registration (without persist or events), removes the handlers.
 * Safe after init, after a failed setup, and twice. */
void dk_server_free(struct dk_server *s);

/* The handler dk_server_attach() installs (user: the struct dk_server; the
 * endpoint must be attached). */
void dk_server_coap_handler(struct dk_coap_ep *coap, void *user, const struct dk_coap_req *req,
                            struct dk_coap_resp *resp);

/* Lifetime expiry. */
void dk_server_tick(struct dk_server *s, dk_time_t now);
/* Next expiry; DK_TIME_NEVER when there are no registrations. */
dk_time_t dk_server_deadline(const struct dk_server *s);

/* Re-creates a stored registration at start (no persist, no event): reg->ep,
 * location, lifetime_s, binding, version, queue_mode, links, peer (NULL:
 * unknown; operations then fail with DK_ESTATE until the device's next
 * Update), coap (an attached endpoint; NULL: the first) and remaining_ms
 * (> 0). Its DTLS session did not survive the restart: operations reach the
 * device once it has a session again (its next Update or Register). Errors:
 * DK_EINVAL (bad field, unparsable location or links), DK_ETIMEDOUT
 * (remaining_ms <= 0: it has expired meanwhile), DK_EEXIST (endpoint or
 * location already registered), DK_ELIMIT, DK_ENOMEM. */
int dk_server_restore(struct dk_server *s, const struct dk_server_reg_info *reg, dk_time_t now);

/* ep's registration; out's pointers are valid until the next call into the
 * engine. Returns 0 or DK_ENOTFOUND. */
int dk_server_get(struct dk_server *s, const char *ep, struct dk_server_reg_info *out,
                  dk_time_t now);
size_t dk_server_count(const struct dk_server *s);
/* Calls fn for each registration (no order); non-zero from fn stops the walk
 * and is returned. fn must not add or remove registrations. */
int dk_server_foreach(struct dk_server *s,
                      int (*fn)(void *user, const struct dk_server_reg_info *r), void *user,
                      dk_time_t now);
/* Drops ep's registration (credentials revoked, device removed): its
 * operations end with DK_ECLOSED, persist(removed), REMOVED event. Returns 0
 * or DK_ENOTFOUND. */
int dk_server_forget(struct dk_server *s, const char *ep, dk_time_t now);

/* ---- Device Management ---------------------------------------------------------------- */

/* Starts op on ep's registration. *id (may be NULL) gets a nonzero handle.
 * op->cb is never called from this function. Errors: DK_ENOTFOUND (ep not
 * registered), DK_EINVAL (path depth not allowed for the kind, bad format,
 * records outside the path or out of order), DK_ESTATE (restored without an
 * address, no Update since), DK_ENOSPC (payload larger than
 * max_payload), DK_ELIMIT (max_ops, max_ops_per_reg, or the CoAP endpoint's
 * limits), DK_ENOMEM, DK_ENOTSUP (records in a format the writer cannot
 * carry them in). */
int dk_server_op_start(struct dk_server *s, const char *ep, const struct dk_server_op *op,
                       dk_time_t now, uint32_t *id);
/* Forgets an operation without callback (an observation passively: its next
 * notification is answered with RST). Returns 0 or DK_ENOTFOUND. */
int dk_server_op_cancel(struct dk_server *s, uint32_t id, dk_time_t now);
/* Ends an observation actively (GET with Observe: 1); its callback gets the
 * response with observing false. Returns 0, DK_ENOTFOUND, DK_ESTATE (not an
 * established observation). */
int dk_server_observe_cancel(struct dk_server *s, uint32_t id, dk_time_t now);
/* The id of ep's observation of path. Returns 0 or DK_ENOTFOUND. */
int dk_server_observation_find(const struct dk_server *s, const char *ep,
                               const struct dk_lwm2m_path *path, uint32_t *id);
/* Operations in flight (observations included). */
size_t dk_server_op_count(const struct dk_server *s);

#endif
