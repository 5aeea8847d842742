/* duckling-gateway: the LwM2M Server engine. Stand-in until src/server
 * lands: the DTLS endpoint authenticates devices (srv_wire.c), and every
 * request is answered 5.03 Service Unavailable. */
#include "wire.h"

#include <duckling/err.h>

#include <stdio.h>

static void handler(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                    struct dk_coap_resp *resp)
{
    (void)ep;
    (void)user;
    (void)req;
    resp->msg.code = DK_COAP_SERVICE_UNAVAILABLE;
}

int gw_srv_engine_prepare(struct gw_wire *w, struct dk_gw_config *cfg)
{
    dk_coap_ep_set_handler(&w->srv_coap, handler, w);
    if (w->srv_plain)
        dk_coap_ep_set_handler(&w->srv_coap_plain, handler, w);
    static char status[200];
    snprintf(status, sizeof status,
             "DTLS endpoint on port %u authenticates devices; LwM2M Server engine not in "
             "this build",
             (unsigned)w->srv_port);
    cfg->server_status = status;
    return 0;
}

int gw_srv_engine_start(struct gw_wire *w)
{
    (void)w;
    return 0;
}

dk_time_t gw_srv_engine_tick(struct gw_wire *w, dk_time_t now)
{
    (void)w;
    (void)now;
    return DK_TIME_NEVER;
}

void gw_srv_engine_stop(struct gw_wire *w)
{
    (void)w;
}
