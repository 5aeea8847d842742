/* duckling-gateway: state shared by engines.c, bs_wire.c and srv_wire.c. */
#ifndef DK_APP_GATEWAY_WIRE_H
#define DK_APP_GATEWAY_WIRE_H

#include "gateway_main.h"

#include <duckling/bootstrap.h>
#include <duckling/coap.h>
#include <duckling/dtls.h>
#include <duckling/endpoint.h>
#include <duckling/gateway.h>
#include <duckling/gwca.h>
#include <duckling/rng.h>

#define GW_HS_MAX 32

struct gw_hs {
    bool used;
    struct dk_addr peer;
    char ep[DK_GW_EP_MAX + 1];
    char identity[DK_GW_PSK_ID_MAX + 1];
};

struct gw_hs_table {
    struct gw_hs e[GW_HS_MAX];
    size_t next;
};

struct gw_wire {
    const struct gw_options *opt;
    const struct dk_log *log;
    struct dk_gw *gw;
    struct dk_loop *loop;
    struct dk_rng rng;
    struct dk_gwca ca;
    struct dk_gwca_keypair self; /* the gateway's DTLS certificate (SECRET key) */
    struct dk_coap_config coap_cfg;
    bool timer_added;
    int64_t audit_window;
    unsigned audit_count;
    unsigned long audit_suppressed;

    /* Bootstrap Server. */
    bool bs_ready;
    struct dk_dtls_config bs_dtls;
    struct dk_coap_ep bs_coap, bs_coap_plain;
    struct dk_endpoint bs_ep, bs_ep_plain;
    bool bs_plain;
    uint16_t bs_port, bs_port_plain;
    struct dk_bs_config bs_cfg;
    struct dk_bs bs;
    char server_uri[300], server_uri_nosec[300];
    struct gw_hs_table bs_hs;

    /* LwM2M Server. */
    bool srv_ready;
    struct dk_dtls_config srv_dtls;
    struct dk_coap_ep srv_coap, srv_coap_plain;
    struct dk_endpoint srv_ep, srv_ep_plain;
    bool srv_plain;
    uint16_t srv_port, srv_port_plain;
    struct gw_hs_table srv_hs;
    void *srv_engine; /* the LwM2M Server wiring's own state (srv_wire.c) */
};

void gw_wire_init(struct gw_wire *w);

/* engines.c */
void gw_uri(const struct gw_options *o, bool secure, uint16_t port, char *out, size_t cap);
uint16_t gw_endpoint_port(const struct dk_endpoint *e);
int gw_open_endpoint(struct gw_wire *w, struct dk_endpoint *e, struct dk_coap_ep *coap,
                     const struct dk_dtls_config *dtls, uint16_t port, const char *what);
void gw_hs_note(struct gw_hs_table *t, const struct dk_addr *peer, const char *ep,
                const char *identity);
struct gw_hs *gw_hs_take(struct gw_hs_table *t, const struct dk_addr *peer);
void gw_printable(const uint8_t *p, size_t n, char *out, size_t cap);
bool gw_audit_allowed(struct gw_wire *w);

/* bs_wire.c */
int gw_bs_prepare(struct gw_wire *w, struct dk_gw_config *cfg);
int gw_bs_start(struct gw_wire *w);
dk_time_t gw_bs_tick(struct gw_wire *w, dk_time_t now);
void gw_bs_stop(struct gw_wire *w);

/* srv_wire.c */
int gw_srv_prepare(struct gw_wire *w, struct dk_gw_config *cfg);
int gw_srv_start(struct gw_wire *w);
dk_time_t gw_srv_tick(struct gw_wire *w, dk_time_t now);
void gw_srv_stop(struct gw_wire *w);
int gw_srv_peer_endpoint(struct gw_wire *w, struct dk_coap_ep *coap, const struct dk_addr *peer,
                         char out[DK_GW_EP_MAX + 1]);

/* srv_engine.c: the LwM2M Server engine on srv_coap (and srv_coap_plain). */
int gw_srv_engine_prepare(struct gw_wire *w, struct dk_gw_config *cfg);
int gw_srv_engine_start(struct gw_wire *w);
dk_time_t gw_srv_engine_tick(struct gw_wire *w, dk_time_t now);
void gw_srv_engine_stop(struct gw_wire *w);

#endif
