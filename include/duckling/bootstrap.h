/* duckling — LwM2M Bootstrap Server engine (DESIGN §2.9, §4, §6), without I/O.
 *
 * The engine serves client-initiated bootstrap on one or more caller-owned
 * CoAP endpoints (struct dk_coap_ep, usually under a DTLS server endpoint of
 * src/net). It does no I/O, reads no clock, never calls malloc or rand and
 * does no cryptography: memory comes from the config's struct dk_alloc, time
 * from the `now` arguments, and everything about keys from the program's
 * callbacks.
 *
 *   program                                   engine
 *   -------------------------------------------------------------------------
 *   DTLS PSK handshake needs a key     --->  dk_bs_psk_lookup()  (a
 *                                            dk_dtls_psk_lookup_fn, user = bs)
 *   datagrams                          --->  the dk_coap_ep (dk_bs_attach()
 *                                            installed the engine's handler)
 *   "which OOB record has EP?"         <---  cbs.find_oob(ep)
 *   "what did the handshake prove?"    <---  cbs.peer_info(coap, peer)
 *   "approve this device?" (optional)  <---  cbs.decide(request)
 *   "make operational credentials"     <---  cbs.prepare(request, record, plan)
 *   user approves / denies             --->  dk_bs_approve(), dk_bs_deny()
 *   time passes                        --->  dk_bs_tick(bs, now)
 *   when must I call tick next?        <---  dk_bs_deadline(bs)
 *   what happened                      <---  cbs.event(ev), cbs.audit(...)
 * After dk_bs_tick(), dk_bs_approve() and dk_bs_deny() the CoAP endpoints may
 * hold new datagrams: flush them (dk_coap_ep_pop_tx / dk_endpoint_flush).
 *
 * The decision (DESIGN §6), for `POST /bs?ep=EP[&pct=F]`:
 *  1. Malformed request (no or bad ep, bad pct): 4.00; a pct the engine cannot
 *     write: 4.15. Other paths: 4.04, other methods on /bs: 4.05.
 *  2. The OOB record of EP (cbs.find_oob). The peer must have proven the
 *     record's credential:
 *       01 PSK   the DTLS PSK identity equals EP (the key itself was checked
 *                by the handshake through dk_bs_psk_lookup()).
 *       02 RPK   the leftmost 16 bytes of SHA-256 of the peer's
 *                SubjectPublicKeyInfo equal the record's value (a raw public
 *                key, or a certificate carrying that key: mbedTLS devices
 *                cannot do RFC 7250 and present a self-signed certificate).
 *       03 X.509 the leftmost 16 bytes of SHA-256 of the peer's DER
 *                certificate equal the record's value, and its subject CN
 *                is EP.
 *       00 NoSec only when config.allow_nosec and the peer came over plain
 *                CoAP (cbs.peer_info gave NULL).
 *     Hashes are compared with dk_ct_equal(). Any failure, and no record at
 *     all (selective bootstrap), answers config.refuse_code (4.03 Forbidden)
 *     and is audited. LwM2M 1.1 lists 4.00 for an unknown endpoint name, but
 *     a distinct code would tell an unauthenticated peer which endpoint
 *     names have records; every client treats any 4.xx as "failed, retry
 *     later", so one code serves all refusals.
 *  3. The approval: cbs.decide() when the program keeps its own approvals
 *     (the gateway keeps them in SQLite: dk_gw_bootstrap_attempt()), else
 *     the engine's table (below). Outcomes:
 *       refused  -> refuse_code (4.03), audited;
 *       pending  -> 5.03 Service Unavailable with Max-Age pending_max_age_s;
 *       approved -> cbs.prepare() issues operational credentials, 2.04
 *                   Changed, and the provisioning sequence starts.
 *     Why 5.03 while pending: the TS Core's response codes for the
 *     Bootstrap-Request are 2.04 Changed and 4.00 Bad Request ("Unknown
 *     Endpoint Client Name"), and a 2.04 obliges the server to follow with the
 *     Bootstrap-Write/Finish operations at once (the client then waits for
 *     them and gives up after its bootstrap timeout, with no defined retry
 *     pace). A 5.03 says "not now, retry after Max-Age" (RFC 7252
 *     §5.9.3.4). duckling's client retries with capped exponential back-off
 *     (tests/unit/engines); Wakaama, Anjay and Leshan's client treat any
 *     error answer as a failed attempt and retry by their own bootstrap
 *     retry policy (not tested here). So the device keeps asking until the
 *     user decides, and each attempt re-proves the label's credential.
 *
 * The engine's approval table (cbs.decide == NULL): one entry per endpoint.
 *  - policy MANUAL: a matching request makes a PENDING entry (at most
 *    max_pending at once; more are answered 5.03 and audited) that expires
 *    after pending_ttl_ms (EXPIRED event, audited; the next attempt makes a
 *    new pending request). dk_bs_approve() turns it APPROVED (valid for
 *    approval_ttl_ms: the device's next attempt is provisioned),
 *    dk_bs_deny() DENIED (attempts refused for deny_ttl_ms).
 *  - policy AUTO: a matching request is APPROVED at once (scanning the label
 *    is the approval).
 *  - An approval is used up by a provisioning sequence that finishes
 *    (PROVISIONED; the entry is removed, so a device that comes back after a
 *    factory reset needs approval again) or by max_attempts sequences that
 *    fail (entry removed, audited).
 *
 * The provisioning sequence (LwM2M 1.1 TS Core, Bootstrap Interface), one request at a time on the
 * peer's CoAP exchange, each answer checked:
 *   1. Bootstrap-Delete of each config.delete_paths (default "/": every
 *      instance but the Bootstrap-Server account and the Device object; the
 *      LwM2M 1.0 and 1.1 form Wakaama, Anjay and Leshan clients implement).
 *      2.02 (any 2.xx) or 4.04 go on.
 *   2. Bootstrap-Discover of /0 (LwM2M 1.1; config.discover) to find the
 *      instance ids still in use (the Bootstrap-Server account): the Security
 *      instance written is plan.security_iid unless that id is taken, then
 *      the lowest free one. A 1.0 client's error answer keeps
 *      plan.security_iid.
 *   3. Bootstrap-Write /0/<security_iid> (resources 0 URI, 1 Bootstrap-Server
 *      false, 2 Security Mode, 3 identity / own certificate / own public key,
 *      4 server certificate or key (may be empty), 5 secret key, 10 Short
 *      Server ID).
 *   4. Bootstrap-Write /1/<server_iid> (0 Short Server ID, 1 Lifetime,
 *      2/3 default pmin/pmax when set, 6 Notification Storing, 7 Binding).
 *   5. Bootstrap-Write /12/<wlan_iid> when plan.wlan.enabled (the engine
 *      enables it for channel WIFI devices when config.home_ssid is set):
 *      0 interface name, 1 enable true, 5 SSID, 8 mode 1 (client), 9 channel
 *      0, 10 auto channel true, 14 standard, 15 authentication mode (1 PSK,
 *      0 none), 17 WPA pre-shared key (a 64 hex digit home_psk) or 18 WPA key
 *      phrase.
 *   6. Bootstrap-Write /2/<acl_iid0 + i> for each plan.acl target (0 object,
 *      1 instance, 2/<ssid> rights, 3 owner ssid). A 4.04 (client without
 *      object 2) skips the remaining ACL writes.
 *   7. Bootstrap-Finish, POST /bs: 2.04 -> PROVISIONED.
 * Writes use plan.format: LwM2M TLV (11542, every 1.0 and 1.1 client) by
 * default; a pct= of SenML CBOR (112) or SenML JSON (110) in the request
 * selects that format. Any other answer (4.xx, 5.xx), a CoAP failure (timeout
 * after the retransmissions, RST, transport closed) or the whole sequence
 * taking longer than sequence_timeout_ms aborts it: FAILED event, audited, no
 * PROVISIONED. The device retries its Bootstrap-Request; the approval allows
 * max_attempts sequences. A second Bootstrap-Request of the same endpoint
 * while its sequence runs aborts the old sequence (FAILED, "superseded") and
 * is decided afresh.
 *
 * Lifetimes: the config (and what it points to) and every attached CoAP
 * endpoint must outlive the engine; free the engine before its endpoints.
 * Not thread-safe; one thread drives the engine and its endpoints.
 *
 * Callbacks are called from inside the CoAP endpoint's dk_coap_ep_recv()/
 * _tick() (the engine's request handler and response callbacks),
 * dk_bs_psk_lookup(), dk_bs_tick(), dk_bs_approve(), dk_bs_deny() and
 * dk_bs_forget(). They may call dk_bs_approve(), _deny(), _forget() and the
 * getters, never dk_bs_free(). Pointers they receive are valid only during
 * the call.
 *
 * Secrets: the plan holds the operational secret key; the engine wipes its
 * copies (dk_memzero) when the sequence ends. OOB records given to the engine
 * are wiped after use. Nothing secret is logged, put in events or audited.
 * (The CoAP endpoint keeps a copy of each request body until the exchange
 * ends, freed without wiping; see coap.h.)
 */
#ifndef DUCKLING_BOOTSTRAP_H
#define DUCKLING_BOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/addr.h>
#include <duckling/alloc.h>
#include <duckling/clock.h>
#include <duckling/coap.h>
#include <duckling/dtls.h>
#include <duckling/log.h>
#include <duckling/oob.h>

#define DK_BS_EP_MAX DK_OOB_ENDPOINT_MAX /* endpoint name, bytes */
#define DK_BS_URI_MAX 255
#define DK_BS_IDENTITY_MAX 2048   /* /0/x/3: PSK identity, own certificate or public key (DER) */
#define DK_BS_SERVER_KEY_MAX 2048 /* /0/x/4: server certificate or public key (DER) */
#define DK_BS_SECRET_MAX 256      /* /0/x/5: PSK, or own private key (DER) */
#define DK_BS_ACL_MAX 8
#define DK_BS_WLAN_PSK_MAX 64 /* 8..63 character passphrase, or 64 hex digits */
#define DK_BS_MAX_COAP 4      /* CoAP endpoints one engine serves */
#define DK_BS_IID_AUTO 0xFFFF

/* LwM2M Security Mode, resource /0/x/2 (LwM2M 1.1 E.1). */
enum dk_bs_sec_mode {
    DK_BS_SEC_PSK = 0,
    DK_BS_SEC_RPK = 1,
    DK_BS_SEC_CERT = 2,
    DK_BS_SEC_NOSEC = 3,
};

enum dk_bs_policy {
    DK_BS_POLICY_MANUAL = 0, /* the user approves each request (default) */
    DK_BS_POLICY_AUTO = 1,   /* scanning the label is the approval */
};

enum dk_bs_decision {
    DK_BS_REFUSE = 0,  /* refuse_code (4.03) */
    DK_BS_PENDING = 1, /* 5.03 + Max-Age: the device retries */
    DK_BS_APPROVE = 2, /* provision now */
};

/* Why a request was not provisioned (events, audit). */
enum dk_bs_reason {
    DK_BS_R_OK = 0,
    DK_BS_R_NO_RECORD,      /* no OOB record for ep (selective bootstrap) */
    DK_BS_R_IDENTITY,       /* PSK identity differs from ep */
    DK_BS_R_HASH,           /* key / certificate hash differs from the record */
    DK_BS_R_CN,             /* certificate subject CN differs from ep */
    DK_BS_R_CRED_TYPE,      /* the peer authenticated otherwise than the record says */
    DK_BS_R_NOSEC_DISABLED, /* plain CoAP, or record 00, without allow_nosec */
    DK_BS_R_DENIED,         /* the user denied the request */
    DK_BS_R_PENDING_LIMIT,  /* max_pending requests already wait */
    DK_BS_R_BUSY,           /* max_sessions sequences already run */
    DK_BS_R_POLICY,         /* cbs.decide refused */
    DK_BS_R_LOOKUP,         /* cbs.find_oob failed (not "not found") */
    DK_BS_R_PREPARE,        /* cbs.prepare failed */
    DK_BS_R_ATTEMPTS,       /* max_attempts sequences failed: approval withdrawn */
};
/* Short English text ("no OOB record", ...), never NULL. */
const char *dk_bs_reason_str(enum dk_bs_reason r);

/* One Bootstrap-Request and what was checked. */
struct dk_bs_request {
    const char *ep;
    const struct dk_addr *peer;
    struct dk_coap_ep *coap;      /* the endpoint it came in on */
    enum dk_oob_cred peer_cred;   /* how the peer authenticated; NONE: plain CoAP */
    bool has_record;              /* an OOB record exists for ep */
    enum dk_oob_cred record_cred; /* its credential type (has_record) */
    enum dk_oob_channel channel;  /* its channel (has_record) */
    const char *type;             /* its device type ("" without record) */
    bool match;                   /* every credential check passed */
    enum dk_bs_reason reason;     /* DK_BS_R_OK when match */
    int pct;                      /* pct= of the request, -1 when absent */
};

/* ---- What gets written: the plan ----------------------------------------- */

struct dk_bs_server_account {
    char uri[DK_BS_URI_MAX + 1]; /* /0/x/0, e.g. "coaps://192.0.2.1:5684" */
    enum dk_bs_sec_mode mode;    /* /0/x/2 */
    /* /0/x/3: PSK identity; CERT: own certificate (DER); RPK: own
     * SubjectPublicKeyInfo (DER). */
    uint8_t identity[DK_BS_IDENTITY_MAX];
    size_t identity_len;
    /* /0/x/4: CERT: the server's certificate or the CA that signed it (DER);
     * RPK: the server's public key. May be empty. */
    uint8_t server_key[DK_BS_SERVER_KEY_MAX];
    size_t server_key_len;
    /* /0/x/5: PSK key; CERT/RPK: own private key (DER). SECRET. */
    uint8_t secret[DK_BS_SECRET_MAX];
    size_t secret_len;
    uint16_t ssid;             /* /0/x/10 and /1/x/0: Short Server ID 1..65534 */
    uint32_t lifetime_s;       /* /1/x/1 */
    int64_t pmin_s, pmax_s;    /* /1/x/2, /1/x/3; -1: not written */
    bool notification_storing; /* /1/x/6 */
    char binding[8];           /* /1/x/7 */
};

struct dk_bs_wlan {
    bool enabled;       /* write /12/<wlan_iid> */
    char interface[16]; /* /12/x/0, e.g. "wlan0" */
    char ssid[DK_OOB_SSID_MAX + 1];
    char psk[DK_BS_WLAN_PSK_MAX + 1]; /* SECRET; "" for an open network */
    int standard;                     /* /12/x/14: 0 a, 1 b, 2 bg, 3 g, 4 n, 5 bgn, 6 ac */
};

struct dk_bs_acl_target {
    uint16_t oid, iid;
    uint8_t rights; /* DK_LWM2M_ACL_* bits for the server's ssid */
};

struct dk_bs_plan {
    struct dk_bs_server_account server;
    uint16_t security_iid; /* preferred /0 instance (1; see Bootstrap-Discover) */
    uint16_t server_iid;   /* /1 instance: 0 */
    struct dk_bs_wlan wlan;
    uint16_t wlan_iid; /* /12 instance: 0 */
    size_t n_acl;
    struct dk_bs_acl_target acl[DK_BS_ACL_MAX];
    uint16_t acl_iid0; /* first /2 instance id: 0 */
    int format;        /* DK_COAP_FMT_LWM2M_TLV, _SENML_CBOR or _SENML_JSON */
};

/* ---- Events ------------------------------------------------------------- */

enum dk_bs_event_type {
    DK_BS_EV_REQUEST = 1,     /* a Bootstrap-Request was checked (ev->rq) */
    DK_BS_EV_REFUSED = 2,     /* it was refused (ev->rq, ev->reason) */
    DK_BS_EV_PENDING = 3,     /* it waits for approval (ev->rq; also each retry) */
    DK_BS_EV_APPROVED = 4,    /* approved (dk_bs_approve, or policy auto: ev->rq) */
    DK_BS_EV_DENIED = 5,      /* dk_bs_deny() */
    DK_BS_EV_EXPIRED = 6,     /* a pending request or an unused approval ran out */
    DK_BS_EV_STARTED = 7,     /* provisioning sequence started (2.04 sent) */
    DK_BS_EV_PROVISIONED = 8, /* Bootstrap-Finish acknowledged */
    DK_BS_EV_FAILED = 9,      /* sequence aborted (ev->err, ev->code, ev->step) */
};

struct dk_bs_event {
    enum dk_bs_event_type type;
    const char *ep;
    const struct dk_addr *peer;     /* NULL when not tied to a request */
    const struct dk_bs_request *rq; /* REQUEST, REFUSED, PENDING, APPROVED (auto) */
    enum dk_bs_reason reason;       /* REFUSED, FAILED (ATTEMPTS), ... */
    /* FAILED: DK_ETIMEDOUT, DK_ERESET, DK_ECLOSED (CoAP), DK_EPERM (the
     * client answered an error code, see code), DK_ECANCELED (superseded,
     * denied, dk_bs_forget), DK_EPARSE, DK_ENOMEM, ... */
    int err;
    uint8_t code;                  /* FAILED: the client's CoAP answer, 0 when none */
    const char *step;              /* FAILED: "delete /", "write /0/1", "finish", ... */
    const struct dk_bs_plan *plan; /* STARTED, PROVISIONED: what was written */
};

/* ---- Callbacks ------------------------------------------------------------- */

struct dk_bs_callbacks {
    /* Required. The OOB record of ep: fill *out (endpoint, type, channel,
     * cred_type, cred; the wifi fields are not used) and return 0, or
     * DK_ENOTFOUND, or another DK_E* (answered 5.00 and audited). The engine
     * wipes *out after use. */
    int (*find_oob)(void *user, const char *ep, struct dk_oob_msg *out);
    /* What the DTLS handshake of peer (on CoAP endpoint coap) proved, or NULL
     * for a plain CoAP peer. NULL function: every peer is plain. For
     * src/net: dk_endpoint_peer_info(endpoint of coap, peer). */
    const struct dk_dtls_peer_info *(*peer_info)(void *user, struct dk_coap_ep *coap,
                                                 const struct dk_addr *peer);
    /* Optional: the program's own approvals. Called for every checked request
     * (also refused ones: rq->match false, the engine refuses whatever this
     * returns) and returns the decision for matching ones. NULL: the
     * engine's table and policy. */
    enum dk_bs_decision (*decide)(void *user, const struct dk_bs_request *rq);
    /* Required. The request is approved: make the device's operational
     * credentials (DESIGN §6: a fresh 128-bit PSK and a unique identity, or a
     * P-256 key and a certificate from the gateway CA with CN = ep) and put
     * them in plan->server (mode, identity, secret, server_key); adjust
     * anything else of the plan (defaults from the config are filled in:
     * uri, ssid, lifetime, binding, wlan for WIFI devices, ACL targets
     * /1/<server_iid>, /3/0 and /12/<wlan_iid>, format). The record is the
     * one the request matched. Return 0, or a DK_E* (answered 5.00, FAILED,
     * audited). Storing the credentials for the Server part is the
     * program's (e.g. dk_gw_creds_issued(), now or at PROVISIONED). */
    int (*prepare)(void *user, const struct dk_bs_request *rq, const struct dk_oob_msg *rec,
                   struct dk_bs_plan *plan);
    /* Optional. Everything that happens, structured. */
    void (*event)(void *user, const struct dk_bs_event *ev);
    /* Optional. The audit trail: every refusal and every decision, as an
     * event name ("bootstrap-refused", "bootstrap-pending",
     * "bootstrap-approved", "bootstrap-denied", "bootstrap-expired",
     * "bootstrap-provisioned", "bootstrap-failed", "psk-unknown-identity")
     * and a one-line detail without secrets. ep may be "". */
    void (*audit)(void *user, const char *ep, const char *what, const char *detail);
    void *user;
};

/* ---- Configuration ------------------------------------------------------- */

struct dk_bs_config {
    enum dk_bs_policy policy; /* MANUAL */
    bool allow_nosec;         /* accept cred type 00 over plain CoAP: false */
    uint8_t refuse_code;      /* DK_COAP_FORBIDDEN (4.03) */

    /* The engine's approval table (used when cbs.decide is NULL). */
    size_t max_pending;         /* 64 */
    dk_time_t pending_ttl_ms;   /* 600000 */
    dk_time_t approval_ttl_ms;  /* approved, device not back yet: 600000 */
    dk_time_t deny_ttl_ms;      /* denied endpoints refused for: 3600000 */
    unsigned max_attempts;      /* sequences per approval: 3 */
    uint32_t pending_max_age_s; /* Max-Age of the 5.03 while pending: 30 */

    /* Provisioning. */
    size_t max_sessions;             /* sequences at once: 16 */
    dk_time_t sequence_timeout_ms;   /* whole sequence: 180000 */
    const char *const *delete_paths; /* Bootstrap-Delete targets; NULL: {"/"} */
    size_t n_delete_paths;
    bool discover; /* Bootstrap-Discover /0 first: true */

    /* Plan defaults (see struct dk_bs_plan). */
    const char *server_uri;       /* required: the LwM2M Server, e.g. "coaps://h:5684" */
    const char *server_uri_nosec; /* for plans with mode NoSec; NULL: server_uri */
    uint16_t ssid;                /* 1 */
    uint32_t lifetime_s;          /* 300 */
    const char *binding;          /* "U" */
    bool notification_storing;    /* true */
    int format;                   /* DK_COAP_FMT_LWM2M_TLV */
    const char *home_ssid;        /* home network for WIFI devices; NULL: no /12 */
    const char *home_psk;         /* its passphrase or 64 hex digits; NULL: open */
    const char *wlan_interface;   /* "wlan0" */

    const struct dk_alloc *alloc; /* NULL: dk_alloc_default() */
    const struct dk_log *log;     /* may be NULL; never given secrets */
    struct dk_bs_callbacks cbs;
};

/* Fills the defaults above; pointers NULL, no callbacks. Cannot fail. */
void dk_bs_config_init(struct dk_bs_config *cfg);

/* ---- The engine ----------------------------------------------------------- */

struct dk_bs_entry;
struct dk_bs_session;

/* Caller-owned; fields are private. */
struct dk_bs {
    const struct dk_bs_config *cfg;
    const struct dk_alloc *alloc;
    struct dk_coap_ep *coap[DK_BS_MAX_COAP];
    size_t ncoap;
    struct dk_bs_entry *entries; /* approval table: 2 * max_pending slots */
    size_t nentries;
    struct dk_bs_session *sessions;
    size_t nsessions;
    uint8_t *enc; /* payload being built */
    size_t enc_cap;
    dk_time_t now; /* the latest time the engine was given */
    bool ready;
};

/* Cannot fail; makes dk_bs_free() safe. */
void dk_bs_init(struct dk_bs *bs);
/* cfg must outlive bs (not copied). Allocates the approval table and an
 * encoding buffer. Errors: DK_EINVAL (no find_oob or prepare callback, no
 * server_uri, ssid 0 or 65535, max_pending 0, max_sessions 0, a format that
 * is not TLV / SenML CBOR / SenML JSON), DK_ENOMEM. */
int dk_bs_setup(struct dk_bs *bs, const struct dk_bs_config *cfg);
/* Serves Bootstrap-Requests on coap (set up by the caller; it must outlive
 * bs): installs the engine's request handler (dk_coap_ep_set_handler). Call
 * once per endpoint (a coaps:// one and, for NoSec, a coap:// one).
 * Errors: DK_ESTATE (not set up), DK_ELIMIT (DK_BS_MAX_COAP), DK_EEXIST. */
int dk_bs_attach(struct dk_bs *bs, struct dk_coap_ep *coap);
/* Aborts running sequences (their CoAP exchanges are cancelled, no events),
 * removes the handler from the attached endpoints, wipes and frees
 * everything. Safe after init, after a failed setup, and twice. */
void dk_bs_free(struct dk_bs *bs);

/* The request handler dk_bs_attach() installs, for programs that route
 * /bs themselves (user: the struct dk_bs; the endpoint must be attached). */
void dk_bs_coap_handler(struct dk_coap_ep *coap, void *user, const struct dk_coap_req *req,
                        struct dk_coap_resp *resp);

/* DTLS server PSK look-up for the bootstrap endpoint (a
 * dk_dtls_psk_lookup_fn; user: the struct dk_bs): the identity is taken as
 * an endpoint name; its OOB record's PSK (cred type 01) is copied to key.
 * Returns 0, DK_ENOTFOUND (no such record, not a PSK record, not a valid
 * endpoint name: audited as "psk-unknown-identity"; the handshake fails), or
 * DK_ENOSPC (key_cap too small). A wrong key shows up as a failed
 * handshake in the DTLS layer: the program audits that (the engine never
 * sees the peer). */
int dk_bs_psk_lookup(void *bs, const struct dk_addr *peer, const uint8_t *identity,
                     size_t identity_len, uint8_t *key, size_t key_cap, size_t *key_len);

/* Expiry of pending requests, approvals and denials; start and time-out of
 * sequences. */
void dk_bs_tick(struct dk_bs *bs, dk_time_t now);
/* When dk_bs_tick() must run next; DK_TIME_NEVER when nothing waits. May be
 * `now` or earlier right after a request was approved (the sequence starts at
 * the next tick, after the 2.04 has been queued). */
dk_time_t dk_bs_deadline(const struct dk_bs *bs);

/* ---- The engine's approval table (cbs.decide == NULL) ----------------------- */

/* ep's pending request is approved: its next Bootstrap-Request is provisioned
 * (within approval_ttl_ms). APPROVED event, audited. Errors: DK_ENOTFOUND (no
 * pending request: none, already decided, or expired). */
int dk_bs_approve(struct dk_bs *bs, const char *ep, dk_time_t now);
/* ep's pending request or approval is denied; a sequence running for ep is
 * aborted. Its attempts are refused for deny_ttl_ms. DENIED event, audited.
 * Works with cbs.decide too (then only the abort). Errors: DK_ENOTFOUND
 * (nothing pending, approved or running for ep). */
int dk_bs_deny(struct dk_bs *bs, const char *ep, dk_time_t now);
/* Drops everything the engine holds about ep (its OOB record was removed or
 * replaced): its table entry and a running sequence (aborted, FAILED with
 * DK_ECANCELED). Returns 0 or DK_ENOTFOUND. */
int dk_bs_forget(struct dk_bs *bs, const char *ep, dk_time_t now);

enum dk_bs_state {
    DK_BS_STATE_PENDING = 1,
    DK_BS_STATE_APPROVED = 2,
    DK_BS_STATE_DENIED = 3,
    DK_BS_STATE_PROVISIONING = 4, /* a sequence runs */
};
const char *dk_bs_state_name(enum dk_bs_state s); /* "pending", ... */

struct dk_bs_entry_info {
    const char *ep;
    enum dk_bs_state state;
    dk_time_t created; /* first attempt */
    dk_time_t last_attempt;
    dk_time_t expires; /* DK_TIME_NEVER while provisioning */
    unsigned attempts; /* failed sequences of this approval */
    const struct dk_addr *peer;
    enum dk_oob_cred peer_cred;
};

/* Calls fn for each table entry (in no particular order); a non-zero return stops the
 * walk and is returned. fn must not change the table. */
int dk_bs_foreach(const struct dk_bs *bs, int (*fn)(void *user, const struct dk_bs_entry_info *e),
                  void *user);
/* Entry of ep. Returns 0 or DK_ENOTFOUND. out->ep points into the engine
 * (valid until the next call into it). */
int dk_bs_get(const struct dk_bs *bs, const char *ep, struct dk_bs_entry_info *out);
size_t dk_bs_pending_count(const struct dk_bs *bs);
/* Sequences running now. */
size_t dk_bs_session_count(const struct dk_bs *bs);

#endif
