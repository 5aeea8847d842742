/* duckling-gateway: option handling and the main loop, shared by the real
 * program (main.c) and test builds that plug in fake engines. */
#ifndef DK_APP_GATEWAY_MAIN_H
#define DK_APP_GATEWAY_MAIN_H

#include <stdbool.h>
#include <stdint.h>

#include <duckling/gateway.h>
#include <duckling/loop.h>

struct gw_options {
    const char *data_dir;
    const char *listen;
    uint16_t http_port;
    uint16_t bs_port;           /* 0: any free port */
    uint16_t server_port;       /* 0: any free port */
    uint16_t bs_port_nosec;     /* --nosec: 5783 */
    uint16_t server_port_nosec; /* --nosec: 5683 */
    const char *advertise;      /* host devices reach us at; NULL: from --listen */
    const char *server_uri;     /* LwM2M Server URI written by bootstrap; NULL: ours */
    const char *www_dir;        /* NULL: look for the installed or source web/ */
    const char *map_tiles;      /* tile URL template for the web UI's map, or NULL */
    enum dk_gw_approval approval;
    int64_t pending_ttl; /* seconds */
    int64_t op_timeout;  /* seconds */
    bool no_bootstrap;
    bool no_server;
    bool nosec;
    const char *home_ssid;
    const char *home_psk;
    enum dk_log_level log_level;
};

/* The protocol engines, plugged into the gateway. NULL: none in this build. */
struct gw_engines {
    const char *name;
    void *self;
    /* Before the HTTP API starts: fill cfg's ops tables and status texts.
     * Return 0 or a DK_E* error (the program then exits 1). */
    int (*prepare)(void *self, const struct gw_options *opt, struct dk_gw_config *cfg);
    /* Once the gateway runs: the engines may call dk_gw_*() and add their
     * sockets and timers to loop. */
    int (*start)(void *self, struct dk_gw *gw, struct dk_loop *loop);
    /* Before the gateway is freed; also after a failed prepare() or start(),
     * so it must cope with a partial set-up. */
    void (*stop)(void *self);
};

int gw_main(int argc, char **argv, const struct gw_engines *engines);

#endif
