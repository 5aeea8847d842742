/* duckling-gateway: the protocol engines wired to the gateway (issue 6).
 *
 *   Bootstrap Server  coaps://LISTEN:--bs-port      GnuTLS DTLS server: PSK
 *                     (key = the OOB record of identity EP), certificates and
 *                     raw public keys in pinning mode (the engine compares
 *                     their hashes with the record); --nosec adds coap://
 *                     LISTEN:5783 for credential type 00.
 *   LwM2M Server      coaps://LISTEN:--server-port  PSK looked up among the
 *                     issued operational credentials, certificates validated
 *                     against the gateway CA and looked up by hash; revoked
 *                     credentials are refused and audited; --nosec adds
 *                     coap://LISTEN:5683.
 * Everything runs in the program's one poll loop: each endpoint's socket
 * and timer, and one timer for the engines.
 *
 * Files in DATA: ca.key (0600) and ca.crt, the gateway CA (gwca.h). The
 * gateway's DTLS server certificate is issued by that CA at every start
 * (CN "duckling-gateway", kept in memory only): devices trust the CA
 * certificate written to /0/x/4, not one server certificate.
 *
 * On stdout, once bound (port 0 picks a free one):
 *   bootstrap server listening on coaps://127.0.0.1:5784/
 *   lwm2m server listening on coaps://127.0.0.1:5684/
 * and DATA/ports (rewritten at each start) says the same as
 * "http=N\nbootstrap=N\nserver=N\nbootstrap_nosec=N\nserver_nosec=N\n"
 * (0 for what is not open). */
#ifndef DK_APP_GATEWAY_ENGINES_H
#define DK_APP_GATEWAY_ENGINES_H

#include "gateway_main.h"

/* The real engines; one set per process. */
const struct gw_engines *gw_real_engines(void);

#endif
