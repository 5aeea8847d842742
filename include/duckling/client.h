/* duckling — LwM2M client engine (DESIGN §2.8, §4, §6), without I/O.
 *
 * One struct dk_client is one LwM2M Client: its objects, its lifecycle
 *   FACTORY -> BOOTSTRAPPING -> REGISTERING -> REGISTERED
 * (client-initiated bootstrap, registration, update, de-registration), the
 * Bootstrap and Device Management interfaces as a CoAP server, information
 * reporting (observe / notify with pmin, pmax, gt, lt, st) and access control.
 * It does no I/O, reads no clock, never calls malloc or rand: memory comes
 * from the config's struct dk_alloc, randomness from its struct dk_rng, time
 * from the `now` arguments (dk_time_t, monotonic milliseconds).
 *
 *   program                                    engine
 *   -------------------------------------------------------------------------
 *   start                               --->  dk_client_load(), dk_client_start()
 *   "open a transport to URI with
 *    these credentials"                 <---  cbs.open_transport(t)
 *   transport is up / failed / gone     --->  dk_client_transport_up/_down()
 *   datagram from peer P                --->  dk_client_recv(c, P, data, len, now)
 *   time passes                         --->  dk_client_tick(c, now)
 *   anything to send?                   <---  dk_client_pop_tx(c, &to, buf, cap)
 *   when must I call tick next?         <---  dk_client_deadline(c)
 *   state to keep across restarts       <---  cbs.persist(records)
 *   factory reset: erase the store      <---  cbs.wipe()
 *   Reboot, state changes, writes ...   <---  cbs.event(ev)
 *   LED, sensors                        <---  driver.set_led(), read_temperature(), ...
 *
 * Transports. The engine never sees sockets or DTLS. When it needs to talk
 * to the Bootstrap Server or to an LwM2M Server it calls cbs.open_transport()
 * with a struct dk_client_transport: the server URI (coap:// or coaps://) and
 * the credentials of the Security object instance (/0/x) that names it. The
 * program resolves the URI, sets up the UDP socket and, for coaps://, the DTLS
 * session, and then calls dk_client_transport_up(c, t->id, &peer, now) once it
 * can carry datagrams (at once for coap://, after the handshake for coaps://),
 * or dk_client_transport_down(c, t->id, err, now) when it cannot (handshake
 * failed, name does not resolve, socket error) or later when it breaks. The
 * `peer` address given in transport_up is how the engine and the program name
 * that transport from then on: datagrams the program feeds with that address
 * belong to it, and datagrams dk_client_pop_tx() hands out with that address
 * go to it. Each open transport needs a distinct peer address (the real remote
 * address is fine; any distinct value works). cbs.close_transport(id) tells
 * the program the engine is done with it (close_notify, close the socket).
 *
 * Callbacks (struct dk_client_callbacks) are called only from inside
 * dk_client_start(), _recv(), _tick(), _transport_up(), _transport_down(),
 * _stop(), _factory_reset(), _bootstrap(), _changed(), _set_value() and
 * _create_instance(). A callback may call
 * dk_client_transport_up(), dk_client_transport_down(), dk_client_state() and
 * the getters; the engine then acts on a transport change at its next
 * dk_client_tick() (its deadline becomes `now`). It must not call
 * dk_client_free(), _recv(), _tick() or the other calls that start something.
 * Pointers a callback receives are valid only until it returns.
 *
 * Persistence. The engine keeps everything in memory and hands the program a
 * complete snapshot of its persistent state (cbs.persist(), records of
 * struct dk_store_record, ready for dk_store_ops_save()) whenever that state
 * changed: once after an accepted Bootstrap-Finish (not during bootstrap, so
 * a crash mid-bootstrap leaves the old store), after each Write, Create or
 * Delete by a server that changed persistent data (before the response is
 * sent: if persist fails the server gets 5.00), and after a Write-Attributes.
 * The program hands the records it loaded back with dk_client_load() before
 * dk_client_start(). Record keys are "/O/I" (value: the instance's persistent
 * resources as LwM2M TLV) and names starting with "." for engine data (e.g.
 * ".attr/<ssid>" for notification attributes); their values are opaque to the
 * program. Records contain secrets (PSK keys, private keys): the engine wipes
 * its copies after the callback; the program must store them encrypted
 * (operational.store is).
 * The Bootstrap-Server account (/0 instance with Bootstrap-Server true) comes
 * from the factory store through the config every start and is never
 * persisted.
 *
 * Factory reset (Execute /3/0/5 by a server, or dk_client_factory_reset() for
 * the button): the engine answers 2.04 (remote case), de-registers from every
 * registered server (bounded by dereg_timeout_ms), closes its transports,
 * clears all operational objects (/0 except the bootstrap account, /1, /2,
 * /12, written values of the other objects, attributes, observations), calls
 * cbs.wipe() (the program crypto-erases operational.store), sends
 * DK_CLIENT_EV_FACTORY_RESET and DK_CLIENT_EV_FACTORY_MODE, and bootstraps
 * again.
 *
 * Lifecycle details.
 *  - Bootstrap: after hold-off (bs_holdoff_ms, default 0) the engine opens the
 *    bootstrap transport and sends POST /bs?ep=EP (with &pct=<cf> when
 *    bs_pct >= 0). 2.04: it waits for the Bootstrap Server's operations and
 *    Bootstrap-Finish, at most bs_timeout_ms (every bootstrap operation
 *    restarts that timer). 4.xx/5.xx, CoAP timeout, transport failure or
 *    bootstrap timeout: it retries after a back-off that starts at
 *    bs_backoff_min_ms and doubles up to bs_backoff_max_ms (with up to 1/8
 *    random jitter added), and keeps retrying for ever.
 *  - Bootstrap-Finish is accepted (2.04) when a usable Server account
 *    exists: a /0 instance with Bootstrap-Server false, a non-empty URI, a
 *    Security Mode the credentials fit (NoSec, PSK with identity and key,
 *    RPK/Certificate with own key material), Short Server ID s, and a /1
 *    instance with Short Server ID s; else 4.06 Not Acceptable (LwM2M 1.1
 *    §6.1.7.6) and the engine stays bootstrapping (the server may fix it).
 *  - Registration with each usable Server account: POST /rd?ep=EP&lt=S
 *    &lwm2m=1.1&b=U with the object list in link format
 *    (</>;rt="oma.lwm2m";ct=..., </1>;ver=1.1, </1/0>, </3/0>, ...; the
 *    Security object is not listed). The Location-Path of the 2.01 is kept.
 *    Update (POST <location>) when update_fraction of the lifetime has passed
 *    (default half), right away when the object list changes (Create/Delete)
 *    or when the server writes its Lifetime or Binding; De-register (DELETE
 *    <location>) on dk_client_stop() and factory reset.
 *  - A failed Register or Update is retried after
 *    reg_retry_ms * 2^(n-1) (Server resources 17 and 18 override the count
 *    and base when present); after reg_retries failures in a row, if the
 *    Server's "Bootstrap on Registration Failure" (/1/x/16, default true)
 *    holds and a bootstrap account exists, the engine bootstraps again;
 *    otherwise it waits reg_sequence_delay_ms and starts a new sequence.
 *    A 4.04 to an Update means the server forgot us: register afresh.
 *
 * Device Management and Information Reporting (requests from a registered
 * server's transport):
 *   GET /O[/I[/R[/RI]]]           Read          2.05 (4.04, 4.05, 4.06, 4.01)
 *   GET ... Accept: 40            Discover      2.05 link format with attributes
 *   GET ... Observe: 0            Observe       2.05 + notifications
 *   GET ... Observe: 1, RST       Cancel Observation
 *   PUT /O/I[/R[/RI]] + payload   Write replace 2.04 (4.00, 4.04, 4.05, 4.15)
 *   POST /O/I[/R] + payload       Write partial 2.04
 *   PUT ...?pmin=&pmax=&gt=&lt=&st=  Write-Attributes 2.04 (4.00)
 *   POST /O/I/R [args]            Execute       2.04 (4.05)
 *   POST /O + payload             Create        2.01 + Location-Path /O/I
 *   DELETE /O/I                   Delete        2.02 (4.05 for fixed instances)
 * Content formats: TLV (11542), SenML JSON (110), SenML CBOR (112), plain
 * text (0, single values), opaque (42, opaque values). Reads without Accept
 * answer single resources as text (opaque: 42) and everything else as TLV.
 * Writes are validated in full before anything is applied.
 * Access control (object 2) applies when more than one LwM2M Server account
 * exists; with one, that server has every right (dk_lwm2m_access_check()).
 * Notifications: a change is noticed when a server writes, when the program
 * calls dk_client_changed() or dk_client_set_value(), and for resources whose
 * values come from read hooks (sensors, clock) by sampling every sample_ms
 * while such a resource is observed. Rules (LwM2M 1.1 §5.1.2): never sooner
 * than pmin after the last notification; at the latest pmax after it (when
 * pmax > 0); without gt/lt/st any change of the representation notifies; with
 * them (numeric single resources) only crossing gt or lt (relative to the last
 * notified value) or a change of at least st does. Defaults for pmin/pmax
 * come from /1/x/2 and /1/x/3 of the observing server.
 *
 * Not thread-safe: one thread drives one client. Thousands of clients may
 * share nothing but a config in one process (the config is read-only).
 */
#ifndef DUCKLING_CLIENT_H
#define DUCKLING_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/addr.h>
#include <duckling/alloc.h>
#include <duckling/clock.h>
#include <duckling/coap.h>
#include <duckling/log.h>
#include <duckling/lwm2m.h>
#include <duckling/rng.h>
#include <duckling/store.h>

struct dk_client;

/* ---- Security and transports --------------------------------------------------- */

/* Security Mode, resource /0/x/2 (LwM2M 1.1 E.1). */
enum dk_client_sec_mode {
    DK_CLIENT_SEC_PSK = 0,
    DK_CLIENT_SEC_RPK = 1,
    DK_CLIENT_SEC_CERT = 2,
    DK_CLIENT_SEC_NOSEC = 3,
    DK_CLIENT_SEC_CERT_EST = 4, /* not supported: refused as unusable */
};

/* Credentials of one server account, as the Security object holds them. The
 * byte arrays are borrowed (see where each struct is used). */
struct dk_client_security {
    enum dk_client_sec_mode mode;
    /* /0/x/3 "Public Key or Identity": PSK identity; RPK: own public key
     * (DER SubjectPublicKeyInfo); CERT: own certificate (DER). */
    const uint8_t *identity;
    size_t identity_len;
    /* /0/x/4 "Server Public Key": RPK: the server's public key; CERT: the
     * server's certificate or its trust anchor (DER). May be empty. */
    const uint8_t *server_key;
    size_t server_key_len;
    /* /0/x/5 "Secret Key": PSK: the key; RPK/CERT: own private key (DER). */
    const uint8_t *secret;
    size_t secret_len;
};

enum dk_client_server_kind {
    DK_CLIENT_BOOTSTRAP_SERVER = 0,
    DK_CLIENT_LWM2M_SERVER = 1,
};

/* A transport the engine wants (cbs.open_transport). Everything is valid
 * only during the callback: copy what you keep (secret bytes: wipe them
 * after use). */
struct dk_client_transport {
    uint32_t id; /* nonzero, never reused by this client */
    enum dk_client_server_kind kind;
    uint16_t ssid;         /* Short Server ID; 0 for the Bootstrap Server */
    uint16_t security_iid; /* the /0 instance this comes from */
    const char *uri;       /* NUL-terminated "coaps://host:port" */
    struct dk_client_security sec;
};

/* ---- Drivers and device information ---------------------------------------------- */

struct dk_client_location {
    double latitude, longitude; /* degrees */
    double altitude;            /* m */
    double radius;              /* m, uncertainty */
    double speed;               /* m/s */
    int64_t timestamp;          /* Unix seconds of the fix */
};

/* The hardware the standard objects drive. Each function may be NULL: the
 * object that needs it is then left out (3311 needs set_led, 3303
 * read_temperature, 3301 read_illuminance, 6 read_location). Functions
 * return 0 or a negative DK_E* (a failed read answers 5.00). They are called
 * from inside engine calls and must not block for long. */
struct dk_client_driver {
    /* Light Control: on/off (5850) and dimmer 0..100 (5851). Called on each
     * change by a server, and once by dk_client_start() with the restored
     * state. */
    int (*set_led)(void *user, bool on, uint8_t dimmer);
    int (*read_temperature)(void *user, double *celsius);
    int (*read_illuminance)(void *user, double *lux);
    int (*read_location)(void *user, struct dk_client_location *out);
    /* Device /3/0/10 free memory and /3/0/21 total memory, in KiB. NULL:
     * those resources are absent. */
    int (*read_memory)(void *user, int64_t *free_kib, int64_t *total_kib);
    void *user;
};

/* Device object (3) constants; strings are borrowed (must outlive the
 * client); NULL: the resource is absent. */
struct dk_client_device_info {
    const char *manufacturer;     /* /3/0/0 */
    const char *model;            /* /3/0/1 */
    const char *serial;           /* /3/0/2 */
    const char *firmware_version; /* /3/0/3 */
    const char *device_type;      /* /3/0/17 */
    const char *hardware_version; /* /3/0/18 */
    const char *software_version; /* /3/0/19 */
};

/* ---- Events ------------------------------------------------------------------ */

enum dk_client_state {
    DK_CLIENT_IDLE = 0,          /* set up, not started */
    DK_CLIENT_BOOTSTRAPPING = 1, /* factory mode: no usable server account */
    DK_CLIENT_REGISTERING = 2,   /* no server registered yet */
    DK_CLIENT_REGISTERED = 3,    /* registered with at least one server */
    DK_CLIENT_STOPPING = 4,      /* dk_client_stop(): de-registering */
    DK_CLIENT_STOPPED = 5,       /* stopped: nothing more will happen */
};

enum dk_client_event_type {
    /* state changed: ev->state is the new state. */
    DK_CLIENT_EV_STATE = 1,
    /* The client has no usable server account and starts bootstrapping
     * (at start in factory mode, after a factory reset, or when it gives up
     * on its servers): open the setup access point (--on-factory-mode). */
    DK_CLIENT_EV_FACTORY_MODE = 2,
    /* Bootstrap-Finish was accepted and persisted; the client now registers
     * with the new servers: join the home network of /12 (--on-operational). */
    DK_CLIENT_EV_BOOTSTRAPPED = 3,
    /* Registered with server ev->ssid (also after a fresh re-registration). */
    DK_CLIENT_EV_REGISTERED = 4,
    /* Registration or update with ev->ssid failed (ev->reason: DK_ETIMEDOUT,
     * DK_EPERM (4.xx), DK_ECLOSED (transport), ...); the engine retries. */
    DK_CLIENT_EV_REG_FAILED = 5,
    /* De-registered from ev->ssid (or gave up de-registering: ev->reason).
     * After Execute /1/x/4 (Disable) ev->delay_ms says when the client
     * registers again. */
    DK_CLIENT_EV_DEREGISTERED = 6,
    /* A bootstrap attempt failed (ev->reason); next attempt in ev->delay_ms. */
    DK_CLIENT_EV_BOOTSTRAP_FAILED = 7,
    /* Execute /3/0/4: the 2.04 has been queued; reboot after sending it. */
    DK_CLIENT_EV_REBOOT = 8,
    /* Factory reset done: operational objects cleared, cbs.wipe() called. */
    DK_CLIENT_EV_FACTORY_RESET = 9,
    /* A server (or the bootstrap server) wrote, created or deleted ev->path
     * (an instance or resource path); e.g. /12/0 for new Wi-Fi settings,
     * /3/0/13 for the current time. During bootstrap these come as the
     * writes arrive; BOOTSTRAPPED follows when it is final. */
    DK_CLIENT_EV_CHANGED = 10,
    /* dk_client_stop() finished (state STOPPED). */
    DK_CLIENT_EV_STOPPED = 11,
};

struct dk_client_event {
    enum dk_client_event_type type;
    enum dk_client_state state; /* the client's state now */
    uint16_t ssid;              /* REGISTERED, REG_FAILED, DEREGISTERED */
    int reason;                 /* 0 or a negative DK_E* */
    dk_time_t delay_ms;         /* BOOTSTRAP_FAILED, REG_FAILED, DEREGISTERED: until the retry */
    struct dk_lwm2m_path path;  /* CHANGED */
};

/* ---- Callbacks ----------------------------------------------------------------- */

struct dk_client_callbacks {
    /* Required. Open a transport (see the top of this file) and report with
     * dk_client_transport_up()/_down() (now or later). Return 0, or a
     * negative DK_E* when it cannot even be tried (bad URI): the engine
     * treats that as a failed attempt. */
    int (*open_transport)(void *user, const struct dk_client_transport *t);
    /* Required. The engine no longer uses transport `id` (also for an id
     * that was opened but never reported up). No dk_client_transport_down()
     * is expected after this. */
    void (*close_transport)(void *user, uint32_t id);
    /* Optional (NULL: nothing persists). The complete persistent state;
     * replace the stored one with exactly these records. Records and their
     * bytes are valid only during the call. Return 0 or a negative DK_E*
     * (a Write then answers 5.00; a Bootstrap-Finish answers 5.00 and the
     * client stays bootstrapping). */
    int (*persist)(void *user, const struct dk_store_record *recs, size_t n);
    /* Optional. Factory reset: erase the persistent state (crypto-erase
     * operational.store). Return 0 or a negative DK_E* (logged; the reset
     * goes on). */
    int (*wipe)(void *user);
    /* Optional. Lifecycle and change events. */
    void (*event)(void *user, const struct dk_client_event *ev);
    void *user;
};

/* ---- Configuration ------------------------------------------------------------- */

struct dk_client_config {
    const char *endpoint;      /* required: endpoint name (ep=), borrowed */
    const char *binding;       /* "U" (default when NULL) */
    const char *lwm2m_version; /* "1.1" (default when NULL) */

    /* The Bootstrap-Server account from the factory store. uri NULL: no
     * bootstrap server (the client must then be loaded with a usable server
     * account). Bytes borrowed: must outlive the client. */
    const char *bs_uri;
    struct dk_client_security bs_sec;
    uint16_t bs_security_iid; /* /0 instance id of that account: 0 */

    struct dk_client_device_info device;
    struct dk_client_driver driver;
    bool wlan;               /* include WLAN connectivity (12): true */
    uint16_t wlan_instances; /* at most this many /12 instances: 4 */

    /* Bootstrap. */
    dk_time_t bs_holdoff_ms;     /* wait before the first Bootstrap-Request: 0 */
    dk_time_t bs_backoff_min_ms; /* first retry delay: 1000 */
    dk_time_t bs_backoff_max_ms; /* cap: 60000 */
    dk_time_t bs_timeout_ms;     /* no Finish this long after the last bootstrap message: 60000 */
    int bs_pct; /* preferred content format for Bootstrap-Request (pct=), -1: none (default) */

    /* Registration. */
    uint32_t lifetime_s;             /* when /1/x/1 is absent: 86400 */
    uint32_t update_fraction_pm;     /* update when this per mille of the lifetime passed: 500 */
    unsigned reg_retries;            /* failures before bootstrap-on-failure: 5 (/1/x/17) */
    dk_time_t reg_retry_ms;          /* first retry delay, doubling: 60000 (/1/x/18 s) */
    dk_time_t reg_sequence_delay_ms; /* between retry sequences: 86400000 (/1/x/19 s) */
    dk_time_t dereg_timeout_ms;      /* stop/factory reset waits this long for de-register: 10000 */

    /* Information reporting. */
    dk_time_t sample_ms; /* re-read observed hook values: 1000 (0: never) */

    /* Requests from a peer that is no open transport. false (default): they
     * are dropped (dk_client_recv() returns DK_ENOTFOUND). true: they are
     * served as if they came from the first LwM2M Server account (for tests
     * with tools such as coap-client over coap://; never enable it with
     * coaps://). Their answers come out of dk_client_pop_tx() addressed to
     * that peer: send them from the socket the request came in on. */
    bool serve_any_peer;

    /* Limits. */
    size_t max_observations; /* 16 */
    size_t max_attrs;        /* stored Write-Attributes entries: 64 */
    size_t max_instances;    /* object instances in all: 128 */
    size_t max_value_len;    /* longest string/opaque value stored: 4096 */
    size_t max_payload;      /* largest payload encoded or accepted: 4096 */

    /* The CoAP endpoint's configuration; NULL: dk_coap_config_init()
     * defaults with rng, alloc and log from here. Must outlive the client. */
    const struct dk_coap_config *coap;

    struct dk_rng *rng;           /* required: jitter; CoAP ids and tokens */
    const struct dk_alloc *alloc; /* NULL: dk_alloc_default() */
    const struct dk_log *log;     /* may be NULL. Never given secrets. */
    struct dk_client_callbacks cbs;
};

/* Fills the defaults above; every pointer NULL, driver and info empty. */
void dk_client_config_init(struct dk_client_config *cfg);

/* ---- Objects: the registry ------------------------------------------------------ */

/* Objects are kept by the engine as stored values (what servers write, what
 * the program sets) plus optional hooks. The standard objects 0, 1, 2, 3, 6,
 * 12, 3301, 3303 and 3311 are built in (see the driver); a program adds its
 * own with dk_client_add_object() before dk_client_start().
 * Hooks are called from inside engine calls with the path they concern. */
struct dk_client_object_ops {
    /* Value of a readable single-instance resource (path of 3 ids) computed
     * on demand (a sensor, the clock). Return 0 with *out set (bytes valid
     * until the next engine call), DK_ENOTFOUND to serve the stored value
     * instead, or another DK_E* (answer 5.00). May be NULL. */
    int (*read)(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                struct dk_lwm2m_value *out, dk_time_t now);
    /* A server writes resource (instance) p with v, already validated and
     * converted to the definition's type. Called before the value is stored;
     * return 0 to store it, 1 to accept it without storing it (the hook
     * keeps it and serves it through read), DK_EINVAL to refuse (4.00),
     * DK_EPERM (4.05), or another DK_E* (5.00). Bootstrap-Write calls it
     * too. A refusal in the middle of a multi-resource Write leaves the
     * records before it applied: refuse bad values in the hook of the first
     * pass only if you can (built-in objects validate before applying). May
     * be NULL. */
    int (*write)(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                 const struct dk_lwm2m_value *v, dk_time_t now);
    /* Execute on resource p with the argument bytes. Return 0 (2.04),
     * DK_EINVAL (4.00), DK_EPERM (4.05) or another DK_E* (5.00). NULL: 4.05. */
    int (*execute)(struct dk_client *c, void *user, const struct dk_lwm2m_path *p,
                   const uint8_t *args, size_t len, dk_time_t now);
    /* Instance iid was created (by Create, Bootstrap-Write or load) or is
     * about to be deleted. May be NULL. */
    void (*created)(struct dk_client *c, void *user, uint16_t iid, dk_time_t now);
    void (*deleted)(struct dk_client *c, void *user, uint16_t iid, dk_time_t now);
};

enum {
    /* Values written by servers survive restarts (persisted). */
    DK_CLIENT_OBJ_PERSIST = 1,
    /* Instances belong to the device: DM Delete answers 4.05, Bootstrap-
     * Delete skips them, factory reset keeps them (only written values go). */
    DK_CLIENT_OBJ_FIXED = 2,
};

/* A program-defined object. Caller-owned; it and everything it points to
 * must outlive the client. `def` lists the resources (types, operations,
 * multiple) in ascending id order; resources not in def are refused (4.04). */
struct dk_client_object {
    const struct dk_lwm2m_object_def *def;
    const struct dk_client_object_ops *ops; /* may be NULL: plain data */
    void *user;
    unsigned flags; /* DK_CLIENT_OBJ_* */
};

/* ---- The client ------------------------------------------------------------------ */

struct dk_client_impl;

/* Caller-owned; the only field is private. */
struct dk_client {
    struct dk_client_impl *impl;
};

/* Cannot fail; makes dk_client_free() safe. */
void dk_client_init(struct dk_client *c);
/* cfg (and everything it points to: strings, keys, rng, alloc, log, coap)
 * must outlive c; it is not copied. Creates the CoAP endpoint, the standard
 * objects (/3/0, and /3311/0, /3303/0, /3301/0, /6/0 per driver) and, when
 * cfg->bs_uri is set, the bootstrap account /0/<bs_security_iid>. State IDLE.
 * Errors: DK_EINVAL (no endpoint, rng, open_transport or close_transport;
 * an endpoint with characters other than unreserved URI ones; bad limits),
 * DK_ENOMEM. */
int dk_client_setup(struct dk_client *c, const struct dk_client_config *cfg);
/* Frees everything without callbacks (no de-registration: use
 * dk_client_stop() first for that). Safe after init or a failed setup, twice. */
void dk_client_free(struct dk_client *c);

/* Registers a program-defined object (IDLE only). obj->def->id must not be
 * a built-in object's. Errors: DK_EINVAL, DK_EEXIST, DK_ESTATE, DK_ENOMEM. */
int dk_client_add_object(struct dk_client *c, const struct dk_client_object *obj);

/* Restores persisted state (IDLE only): the records a previous persist
 * callback received, in any order; keys the engine does not know are
 * skipped (logged). Nothing is borrowed: values are copied. Errors:
 * DK_ESTATE, DK_EPARSE (a record's value is malformed; nothing is restored),
 * DK_ELIMIT, DK_ENOMEM. */
int dk_client_load(struct dk_client *c, const struct dk_store_record *recs, size_t n);

/* Starts the lifecycle (IDLE only): registers with every usable server
 * account, or, when there is none, sends FACTORY_MODE and bootstraps (after
 * bs_holdoff_ms). Calls driver.set_led() with the current LED state.
 * Errors: DK_ESTATE, DK_ENOTFOUND (no usable server account and no bootstrap
 * account: nothing to do), DK_ENOMEM. */
int dk_client_start(struct dk_client *c, dk_time_t now);

/* Graceful stop (SIGTERM): de-registers from every registered server (each
 * given dereg_timeout_ms), closes the transports, then state STOPPED and
 * event STOPPED. Keep driving the engine until dk_client_state() is
 * DK_CLIENT_STOPPED. Returns 0 or DK_ESTATE (not started / already stopped). */
int dk_client_stop(struct dk_client *c, dk_time_t now);

/* Factory reset (the button), as described at the top of this file. Works in
 * any state after start; the client ends BOOTSTRAPPING (or STOPPED when
 * there is no bootstrap account). Returns 0 or DK_ESTATE (IDLE, STOPPED). */
int dk_client_factory_reset(struct dk_client *c, dk_time_t now);

/* Bootstraps again now (keeping the current configuration until the
 * Bootstrap Server changes it). Returns 0, DK_ESTATE or DK_ENOTFOUND (no
 * bootstrap account). */
int dk_client_bootstrap(struct dk_client *c, dk_time_t now);

/* ---- Driving ------------------------------------------------------------------- */

/* A datagram received on the transport named `peer` (see transport_up),
 * already decrypted for coaps://. Not kept after the call. Returns 0 or a
 * non-fatal note: DK_ENOTFOUND (no open transport has this address;
 * dropped), or what dk_coap_ep_recv() returns. */
int dk_client_recv(struct dk_client *c, const struct dk_addr *peer, const uint8_t *data, size_t len,
                   dk_time_t now);
/* Timers: retransmissions, back-off, updates, notifications, sampling. */
void dk_client_tick(struct dk_client *c, dk_time_t now);
/* The next datagram to send into buf (cap >= the CoAP config's max_message
 * always suffices) and the transport's peer address into *to. Returns its
 * length, 0 when none, DK_ENOSPC (cap too small; it stays queued). */
int dk_client_pop_tx(struct dk_client *c, struct dk_addr *to, uint8_t *buf, size_t cap);
/* When dk_client_tick() must run next; DK_TIME_NEVER when nothing waits. */
dk_time_t dk_client_deadline(const struct dk_client *c);

/* Transport `id` (from open_transport) can now carry datagrams to/from
 * `peer` (copied). Errors: DK_ENOTFOUND (unknown or closed id: ignore),
 * DK_EEXIST (another open transport has this peer address). */
int dk_client_transport_up(struct dk_client *c, uint32_t id, const struct dk_addr *peer,
                           dk_time_t now);
/* Transport `id` failed to open or broke (reason: a negative DK_E*, e.g.
 * DK_EAUTH for a failed handshake). The engine drops its exchanges on it,
 * calls close_transport(id) and retries with back-off. Returns 0 or
 * DK_ENOTFOUND. */
int dk_client_transport_down(struct dk_client *c, uint32_t id, int reason, dk_time_t now);

/* ---- Values -------------------------------------------------------------------- */

/* The program changes a value (a sensor reading it pushes, an error code
 * /3/0/11/0, ...): stores v at p (a resource or resource instance path of an
 * existing instance; v converted to the definition's type) and notifies
 * observers as their attributes allow. Not persisted, and no write hook is
 * called. Errors: DK_ENOTFOUND (no such object, instance or resource),
 * DK_EINVAL (bad path, type does not convert), DK_ELIMIT (value too long),
 * DK_ENOMEM. */
int dk_client_set_value(struct dk_client *c, const struct dk_lwm2m_path *p,
                        const struct dk_lwm2m_value *v, dk_time_t now);
/* The current value of a single resource or resource instance (hooks
 * included). Bytes valid until the next call into the engine. Errors:
 * DK_ENOTFOUND, DK_EINVAL (path of another depth), or a hook's error. */
int dk_client_get_value(struct dk_client *c, const struct dk_lwm2m_path *p,
                        struct dk_lwm2m_value *out, dk_time_t now);
/* Whether instance /oid/iid exists. */
bool dk_client_has_instance(const struct dk_client *c, uint16_t oid, uint16_t iid);
/* Creates an empty instance of a registered object (program side, e.g. a
 * second LED); not persisted unless a server writes to it. Errors:
 * DK_ENOTFOUND (object), DK_EEXIST, DK_ELIMIT, DK_ENOMEM. */
int dk_client_create_instance(struct dk_client *c, uint16_t oid, uint16_t iid, dk_time_t now);
/* Something behind path p (object, instance or resource; e.g. a sensor
 * sampled by the program) may have changed: re-evaluates the observations
 * it covers now instead of at the next sample. Returns 0. */
int dk_client_changed(struct dk_client *c, const struct dk_lwm2m_path *p, dk_time_t now);
/* Wall-clock time for /3/0/13 Current Time: unix_s at monotonic `now`; the
 * engine extrapolates with later `now` values. A server's Write to /3/0/13
 * moves it too. Until called, /3/0/13 is absent. */
void dk_client_set_time(struct dk_client *c, int64_t unix_s, dk_time_t now);

/* ---- Introspection ---------------------------------------------------------------- */

enum dk_client_state dk_client_state(const struct dk_client *c);
/* "idle", "bootstrapping", ... never NULL. */
const char *dk_client_state_name(enum dk_client_state s);
/* Registration of server ssid: true and its Location-Path ("/rd/5a3f",
 * NUL-terminated, valid until the next engine call) in *location (may be
 * NULL) when registered. */
bool dk_client_registered(const struct dk_client *c, uint16_t ssid, const char **location);
/* Number of LwM2M Server accounts (usable /0 + /1 pairs). */
size_t dk_client_server_count(const struct dk_client *c);
/* Active observations (all servers). */
size_t dk_client_observation_count(const struct dk_client *c);
/* Heap bytes in use by the client, including its CoAP endpoint. */
size_t dk_client_heap(const struct dk_client *c);
/* The CoAP endpoint's statistics. */
const struct dk_coap_stats *dk_client_coap_stats(const struct dk_client *c);

#endif
