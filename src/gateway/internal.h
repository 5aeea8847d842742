/* Shared by the files of src/gateway; not a public header. */
#ifndef DK_GATEWAY_INTERNAL_H
#define DK_GATEWAY_INTERNAL_H

#include <duckling/gateway.h>

#include <cjson/cJSON.h>

/* One HTTP request (MHD's con_cls). */
struct dk_gw_req {
    struct dk_gw *gw;
    struct MHD_Connection *conn;
    char client[DK_GW_PEER_MAX + 1];
    char *body;
    size_t len, cap;
    bool responded; /* a response was queued (maybe before the body) */
    bool too_big;
    size_t dropped; /* body bytes dropped after too_big */
    struct dk_gw_cmd cmd;
    /* A device operation in flight. */
    bool op_pending;  /* waiting for done() */
    bool op_finished; /* done() came or it timed out: status/resp ready */
    bool in_call;     /* inside the ops call (a synchronous done()) */
    bool suspended;
    dk_time_t deadline;
    unsigned status;
    char *resp;                    /* JSON text, malloc'ed */
    struct dk_gw_req *next, *prev; /* gw->ops while op_pending */
};

/* One /api/events client. */
struct dk_gw_sse {
    struct dk_gw *gw;
    struct MHD_Connection *conn;
    char *buf;
    size_t len, off, cap;
    bool suspended;
    bool closing;
    bool overflow;
    struct dk_gw_sse *next, *prev;
};

#define DK_GW_SSE_MAX_QUEUE (256 * 1024)

/* events.c */
struct MHD_Response *dk_gw_sse_response(struct dk_gw *gw, struct MHD_Connection *conn);
void dk_gw_sse_keepalive(struct dk_gw *gw);
void dk_gw_sse_close_all(struct dk_gw *gw);
/* Publishes an event built from obj (consumed): adds type, time, endpoint. */
int dk_gw_publish_obj(struct dk_gw *gw, const char *type, const char *ep, cJSON *obj);

/* json.c: JSON views of database rows (never secrets). */
cJSON *dk_gw_json_oob(const struct dk_gw_oob *o);
cJSON *dk_gw_json_request(const struct dk_gw_request *r);
cJSON *dk_gw_json_device(const struct dk_gw_device *d);
cJSON *dk_gw_json_cred(const struct dk_gw_cred *c);
cJSON *dk_gw_json_audit(const struct dk_gw_audit *a);
/* "2.05 Content" for 0x45. */
void dk_gw_coap_code_text(uint8_t code, char *out, size_t cap);
/* Adds a number or null when v is 0. */
void dk_gw_json_time(cJSON *o, const char *name, int64_t v);

/* hooks.c */
/* Audits a refused unauthenticated call, at most 20 per second (the rest
 * counted and summarised). */
void dk_gw_audit_refusal(struct dk_gw *gw, const char *ep, const char *event, const char *detail);
/* Publishes {"type":"device","action":action} for ep. */
int dk_gw_device_event(struct dk_gw *gw, const char *ep, const char *action);
/* Expires the pending requests that are due, auditing each. */
void dk_gw_expire_due(struct dk_gw *gw);

#endif
