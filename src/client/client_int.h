/* Client engine internals shared by the files of src/client. */
#ifndef DK_CLIENT_INT_H
#define DK_CLIENT_INT_H

#include <duckling/client.h>
#include <duckling/err.h>
#include <duckling/lwm2m_link.h>
#include <duckling/mem.h>

#include <stddef.h>
#include <string.h>

#define MOD "client"
#define NONE_ID DK_LWM2M_ID_NONE
#define URI_MAX 256
#define LOCATION_MAX 128
#define BS_LINGER_MS 5000 /* keep the bootstrap transport after Finish for retransmissions */

/* ---- Data: objects, instances, values ------------------------------------------- */

/* One stored resource (instance) value, kept small (24 bytes + bytes):
 * strings, opaque and core links live in data[] with their length in u.n. */
struct dk_cl_value {
    struct dk_cl_value *next; /* sorted by (rid, riid); riid NONE_ID sorts after instances */
    uint16_t rid, riid;       /* riid NONE_ID: single-instance resource */
    uint8_t type;             /* enum dk_lwm2m_type */
    bool persist;             /* written by a server: part of the persistent state */
    union {
        int64_t i;
        uint64_t u;
        double f;
        bool b;
        struct dk_lwm2m_objlnk lnk;
        size_t n;
    } u;
    uint8_t data[];
};

/* The value as the lwm2m layer sees it (bytes point into the node). */
struct dk_lwm2m_value dk_cl_val_get(const struct dk_cl_value *v);
/* Bytes of a stored value (0 for numbers). */
size_t dk_cl_val_len(const struct dk_cl_value *v);

struct dk_cl_inst {
    struct dk_cl_inst *next; /* sorted by iid */
    uint16_t iid;
    bool persist; /* created by a server or loaded: a record even when empty */
    struct dk_cl_value *vals;
};

struct dk_cl_obj;
/* Internal extension of an object's behaviour (built-in objects). */
struct dk_cl_obj_int {
    /* Checks a value before anything of a Write is applied. 0 or DK_EINVAL. */
    int (*validate)(struct dk_client *c, const struct dk_lwm2m_path *p,
                    const struct dk_lwm2m_value *v);
    /* Re-creates the built-in instances and their default values (setup and
     * factory reset). */
    int (*init)(struct dk_client *c, struct dk_cl_obj *o, dk_time_t now);
    /* Whether an executable resource is supported (Discover lists it). */
    bool (*can_execute)(struct dk_client *c, uint16_t rid);
    bool sampled; /* values change on their own: sample observations */
};

struct dk_cl_obj {
    struct dk_cl_obj *next; /* sorted by oid */
    const struct dk_lwm2m_object_def *def;
    const struct dk_client_object_ops *ops;
    void *user;
    unsigned flags;
    const struct dk_cl_obj_int *in; /* built-in objects; NULL for program objects */
    bool builtin;
    struct dk_cl_inst *insts;
};

/* ---- Attributes and observations ---------------------------------------------------- */

struct dk_cl_attr {
    struct dk_cl_attr *next;
    uint16_t ssid;
    struct dk_lwm2m_path path;
    struct dk_lwm2m_attrs a; /* only the notify attributes; rt unused */
};

struct dk_cl_obs {
    struct dk_cl_obs *next;
    uint32_t id; /* CoAP observe id */
    uint16_t ssid;
    struct dk_lwm2m_path path;
    int cf;
    /* Effective attributes (refreshed by obs_refresh). */
    uint32_t pmin_s, pmax_s;
    bool has_gt, has_lt, has_st;
    double gt, lt, st;
    bool sampled;
    /* State. */
    dk_time_t last_notify;
    dk_time_t next_sample;
    uint64_t last_hash;
    bool has_num;
    double last_num;
    bool dirty; /* a change waits for pmin */
    bool fresh; /* registered in this request: adopt the representation */
    unsigned gen;
};

/* ---- Transports, bootstrap, servers --------------------------------------------------- */

enum link_state {
    LINK_NONE = 0, /* no transport */
    LINK_OPENING,  /* open_transport called, waiting for up/down */
    LINK_UP,
};

struct dk_cl_link {
    enum link_state st;
    uint32_t id;
    struct dk_addr peer;
    bool ev_up, ev_down; /* reported from inside a callback: handled by drive() */
    int down_reason;
    dk_time_t close_at; /* LINK_UP/OPENING, close pending when != DK_TIME_NEVER */
};

enum bs_state {
    BS_OFF = 0,
    BS_WAIT,      /* timer: send (after opening the transport) */
    BS_OPENING,   /* transport requested */
    BS_REQUEST,   /* POST /bs in flight */
    BS_PROVISION, /* 2.04 (or first operation) seen: waiting for Finish */
};

enum reg_state {
    REG_OFF = 0,
    REG_WAIT, /* timer: (open and) register */
    REG_OPENING,
    REG_REGISTERING,
    REG_OK, /* registered; timer: update */
    REG_UPDATING,
    REG_DEREG, /* De-register in flight */
    REG_DONE,  /* de-registered / given up; link closing */
};

struct dk_cl_server {
    struct dk_cl_server *next;
    uint16_t ssid, sec_iid, srv_iid;
    struct dk_cl_link link;
    enum reg_state st;
    uint32_t xid;
    dk_time_t timer;
    dk_time_t dereg_deadline;
    unsigned failures;
    uint32_t lifetime_s; /* as last registered */
    char binding[8];
    bool upd_objects, upd_lifetime, upd_binding;
    bool registered_once;
    bool disabling; /* Execute /1/x/4: de-register, then wait disable_ms */
    dk_time_t disable_ms;
    char location[LOCATION_MAX];
};

struct dk_cl_bs {
    enum bs_state st;
    struct dk_cl_link link;
    uint16_t sec_iid;
    uint32_t xid;
    dk_time_t timer;   /* BS_WAIT: next attempt; BS_PROVISION: timeout */
    dk_time_t backoff; /* next back-off delay */
    unsigned attempts;
};

enum stop_mode {
    STOP_NONE = 0,
    STOP_STOP,  /* dk_client_stop */
    STOP_RESET, /* factory reset */
};

/* ---- The engine ------------------------------------------------------------------------- */

struct dk_client_impl {
    const struct dk_client_config *cfg;
    const char *binding, *version; /* cfg's or the defaults */
    const struct dk_alloc *alloc;
    dk_time_t now;                  /* latest time the program gave */
    struct dk_coap_config coap_cfg; /* when cfg->coap is NULL */
    const struct dk_coap_config *ccfg;
    struct dk_coap_ep ep;
    size_t heap;

    struct dk_cl_obj *objs;
    size_t ninst;

    struct dk_cl_attr *attrs;
    size_t nattrs;
    struct dk_cl_obs *obs;
    size_t nobs;
    unsigned obs_gen;

    /* ACL cache (object 2), rebuilt when acl_dirty. */
    struct dk_lwm2m_acl *acls;
    size_t nacls;
    bool acl_dirty;

    struct dk_cl_bs bs;
    struct dk_cl_server *servers;
    uint32_t next_tid;

    bool started;
    enum dk_client_state state; /* last reported */
    enum stop_mode stopping;
    dk_time_t stop_deadline;
    bool stopped;
    bool reset_pending;   /* Execute /3/0/5: reset at the next drive */
    bool refresh_pending; /* /1 defaults changed: refresh observations */
    bool bs_pending;      /* Execute /1/x/9 or dk_client_bootstrap */
    bool kick;            /* work waits for the next tick */
    unsigned in_cb;

    /* Wall clock for /3/0/13. */
    bool has_time;
    int64_t time_base_s;
    dk_time_t time_base_ms;

    /* Light control (3311/0). */
    bool led_on;
    int64_t on_time_base_s;
    dk_time_t on_since;

    /* Sensors: min/max measured (3303/0, 3301/0). */
    bool temp_seen, lux_seen;
    double temp_min, temp_max, lux_min, lux_max;

    char text[64];   /* Location-Path of a Create */
    uint8_t etag[8]; /* ETag of a block-wise read */
};

/* ---- alloc.c / data.c ------------------------------------------------------------------- */

void *dk_cl_alloc(struct dk_client_impl *s, size_t n);
void dk_cl_free(struct dk_client_impl *s, void *p);

struct dk_cl_obj *dk_cl_obj_find(struct dk_client_impl *s, uint16_t oid);
struct dk_cl_inst *dk_cl_inst_find(const struct dk_cl_obj *o, uint16_t iid);
struct dk_cl_inst *dk_cl_inst_get(struct dk_client_impl *s, uint16_t oid, uint16_t iid);
/* Creates an empty instance. Errors: DK_EEXIST, DK_ELIMIT, DK_ENOMEM. */
int dk_cl_inst_create(struct dk_client_impl *s, struct dk_cl_obj *o, uint16_t iid,
                      struct dk_cl_inst **out);
void dk_cl_inst_delete(struct dk_client_impl *s, struct dk_cl_obj *o, uint16_t iid);
void dk_cl_obj_clear(struct dk_client_impl *s, struct dk_cl_obj *o);
/* Lowest free instance id, or NONE_ID. */
uint16_t dk_cl_inst_free_id(const struct dk_cl_obj *o);

struct dk_cl_value *dk_cl_val_find(const struct dk_cl_inst *in, uint16_t rid, uint16_t riid);
bool dk_cl_res_has_values(const struct dk_cl_inst *in, uint16_t rid);
/* Stores a copy of v. Errors: DK_ELIMIT (too long), DK_ENOMEM. */
int dk_cl_val_set(struct dk_client_impl *s, struct dk_cl_inst *in, uint16_t rid, uint16_t riid,
                  const struct dk_lwm2m_value *v, bool persist);
void dk_cl_val_del(struct dk_client_impl *s, struct dk_cl_inst *in, uint16_t rid, uint16_t riid);
/* Deletes every instance of a multiple resource (and a single value). */
void dk_cl_res_clear(struct dk_client_impl *s, struct dk_cl_inst *in, uint16_t rid);

const struct dk_lwm2m_resource_def *dk_cl_res_def(const struct dk_cl_obj *o, uint16_t rid);

/* Typed access to stored single values; false when absent or of another kind. */
bool dk_cl_get_int(struct dk_client_impl *s, uint16_t oid, uint16_t iid, uint16_t rid,
                   int64_t *out);
bool dk_cl_get_bool(struct dk_client_impl *s, uint16_t oid, uint16_t iid, uint16_t rid, bool *out);
bool dk_cl_get_bytes(struct dk_client_impl *s, uint16_t oid, uint16_t iid, uint16_t rid,
                     const uint8_t **p, size_t *n);

/* The decoder's typer over the registry (user: struct dk_client_impl *). */
int dk_cl_type_of(void *user, const struct dk_lwm2m_path *path, enum dk_lwm2m_type *type);

/* Persistence. */
int dk_cl_persist(struct dk_client *c);
int dk_cl_load(struct dk_client *c, const struct dk_store_record *recs, size_t n);

/* ---- std.c: built-in objects ------------------------------------------------------------- */

int dk_cl_std_setup(struct dk_client *c, dk_time_t now);
/* Factory reset of the data: built-in objects back to defaults, program
 * objects lose what servers wrote. */
int dk_cl_std_reset(struct dk_client *c, dk_time_t now);
/* Applies the LED state to the driver. */
void dk_cl_std_led_apply(struct dk_client *c);
bool dk_cl_is_bs_account(struct dk_client_impl *s, const struct dk_cl_inst *sec);

/* Where read records go: a writer (may be NULL) and a digest for observations. */
struct dk_cl_out {
    struct dk_lwm2m_writer *w;
    uint64_t hash;
    size_t count;
    bool has_num;
    double num;
    enum dk_lwm2m_type first_type;
};
void dk_cl_out_init(struct dk_cl_out *o, struct dk_lwm2m_writer *w);
int dk_cl_out_sink(void *ctx, const struct dk_lwm2m_record *rec);
/* Access decision for server ssid: 0 or DK_EPERM (DK_ENOMEM: ACL cache). */
int dk_cl_access(struct dk_client *c, uint16_t ssid, enum dk_lwm2m_op op,
                 const struct dk_lwm2m_path *p);

/* ---- dm.c: reading, writing and the request handler -------------------------------------- */

/* A reader's record sink. */
typedef int dk_cl_sink_fn(void *ctx, const struct dk_lwm2m_record *rec);

enum dk_cl_who {
    WHO_BOOTSTRAP, /* Bootstrap-Read: everything of /1 and /2 */
    WHO_SERVER,    /* DM: readable resources, ACL */
    WHO_ENGINE,    /* the engine itself (observations, get_value) */
};

/* Emits the records under p in ascending order. Errors: DK_ENOTFOUND,
 * DK_EPERM (not readable), a hook's error, the sink's error. */
int dk_cl_read(struct dk_client *c, const struct dk_lwm2m_path *p, enum dk_cl_who who,
               uint16_t ssid, dk_cl_sink_fn *sink, void *ctx, dk_time_t now);
/* One value (hooks first). */
int dk_cl_read_value(struct dk_client *c, struct dk_cl_obj *o, struct dk_cl_inst *in, uint16_t rid,
                     uint16_t riid, struct dk_lwm2m_value *out, dk_time_t now);
void dk_cl_handler(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                   struct dk_coap_resp *resp);
void dk_cl_coap_event(struct dk_coap_ep *ep, void *user, const struct dk_coap_event *ev);
size_t dk_cl_server_count(struct dk_client_impl *s);

/* ---- observe.c --------------------------------------------------------------------------- */

struct dk_cl_attr *dk_cl_attr_find(struct dk_client_impl *s, uint16_t ssid,
                                   const struct dk_lwm2m_path *p);
/* Stores (merges) attributes. Errors: DK_EINVAL (inconsistent), DK_ELIMIT, DK_ENOMEM. */
int dk_cl_attr_write(struct dk_client *c, uint16_t ssid, const struct dk_lwm2m_path *p,
                     const struct dk_lwm2m_attrs *req);
void dk_cl_attr_clear(struct dk_client_impl *s);
int dk_cl_attr_encode(struct dk_client_impl *s, struct dk_buf *b);
int dk_cl_attr_decode(struct dk_client *c, const uint8_t *p, size_t n);

/* The observation registered by a GET with Observe 0 (inside the handler). */
int dk_cl_obs_add(struct dk_client *c, uint32_t id, uint16_t ssid, const struct dk_lwm2m_path *p,
                  int cf, dk_time_t now);
struct dk_cl_obs *dk_cl_obs_find(struct dk_client_impl *s, uint32_t id);
void dk_cl_obs_remove(struct dk_client_impl *s, uint32_t id);
void dk_cl_obs_clear(struct dk_client_impl *s);
/* Drops the observations of a server (its CoAP observers go with the peer). */
void dk_cl_obs_drop_server(struct dk_client *c, uint16_t ssid);
/* Something under/over p changed. */
void dk_cl_obs_touch(struct dk_client *c, const struct dk_lwm2m_path *p, dk_time_t now);
void dk_cl_obs_refresh(struct dk_client *c);
void dk_cl_obs_tick(struct dk_client *c, dk_time_t now);
dk_time_t dk_cl_obs_deadline(struct dk_client_impl *s);
/* A notification's representation was built: remember it. */
void dk_cl_obs_sent(struct dk_client *c, struct dk_cl_obs *o, uint64_t hash, bool has_num,
                    double num, dk_time_t now);
/* ---- lifecycle.c ------------------------------------------------------------------------- */

void dk_cl_event(struct dk_client *c, enum dk_client_event_type type, uint16_t ssid, int reason,
                 dk_time_t delay, const struct dk_lwm2m_path *path);
struct dk_cl_server *dk_cl_server_by_ssid(struct dk_client_impl *s, uint16_t ssid);
/* Which transport a peer address belongs to: the bootstrap link (*srv NULL,
 * returns true), a server's, or none (false). */
bool dk_cl_peer_lookup(struct dk_client_impl *s, const struct dk_addr *peer,
                       struct dk_cl_server **srv, bool *is_bs);
/* Hooks from the DM side. */
void dk_cl_server_param_changed(struct dk_client *c, uint16_t srv_iid, uint16_t rid);
void dk_cl_objects_changed(struct dk_client *c);
void dk_cl_trigger_update(struct dk_client *c, uint16_t srv_iid);
void dk_cl_trigger_disable(struct dk_client *c, uint16_t srv_iid);
void dk_cl_trigger_bootstrap(struct dk_client *c);
void dk_cl_trigger_reset(struct dk_client *c);
/* Bootstrap interface hooks. */
bool dk_cl_bs_active(struct dk_client_impl *s);
void dk_cl_bs_touch(struct dk_client *c, dk_time_t now);
/* Bootstrap-Finish: returns the CoAP code to answer. */
uint8_t dk_cl_bs_finish(struct dk_client *c, dk_time_t now);
/* The Bootstrap-Server account (/0 instance), or NULL. */
struct dk_cl_inst *dk_cl_bs_account_find(struct dk_client_impl *s);
/* Usable server account of a /0 instance: its SSID (0: not usable). */
uint16_t dk_cl_account_ssid(struct dk_client_impl *s, const struct dk_cl_inst *sec);

#endif
