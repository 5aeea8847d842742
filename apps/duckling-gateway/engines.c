/* duckling-gateway: the Bootstrap Server and LwM2M Server engines on their
 * DTLS endpoints, wired to the gateway (see engines.h). */
#include "engines.h"
#include "wire.h"

#include <duckling/err.h>
#include <duckling/mem.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PROG "duckling-gateway"

static struct gw_wire the_wire;

/* ---- shared parts --------------------------------------------------------- */

static int make_self_cert(struct gw_wire *w)
{
    int rc = dk_gwca_issue(&w->ca, &w->rng, "duckling-gateway", dk_clock_wall(), &w->self);
    if (rc)
        fprintf(stderr, PROG ": gateway DTLS certificate: %s\n", dk_strerror(rc));
    return rc;
}

/* The address devices reach us at: --advertise, else the listen address
 * unless it is a wildcard. */
static const char *advertised_host(const struct gw_options *o)
{
    if (o->advertise)
        return o->advertise;
    if (strcmp(o->listen, "0.0.0.0") == 0)
        return "127.0.0.1";
    if (strcmp(o->listen, "::") == 0)
        return "::1";
    return o->listen;
}

void gw_uri(const struct gw_options *o, bool secure, uint16_t port, char *out, size_t cap)
{
    const char *h = advertised_host(o);
    bool v6 = strchr(h, ':') != NULL;
    snprintf(out, cap, "%s://%s%s%s:%u", secure ? "coaps" : "coap", v6 ? "[" : "", h, v6 ? "]" : "",
             (unsigned)port);
}

uint16_t gw_endpoint_port(const struct dk_endpoint *e)
{
    return dk_addr_port(dk_endpoint_local(e));
}

int gw_open_endpoint(struct gw_wire *w, struct dk_endpoint *e, struct dk_coap_ep *coap,
                     const struct dk_dtls_config *dtls, uint16_t port, const char *what)
{
    int rc = dk_coap_ep_setup(coap, &w->coap_cfg);
    if (rc) {
        fprintf(stderr, PROG ": %s: CoAP endpoint: %s\n", what, dk_strerror(rc));
        return rc;
    }
    struct dk_endpoint_params p = {
        .bind_ip = w->opt->listen,
        .bind_port = port,
        .coap = coap,
        .dtls = dtls,
        .log = w->log,
    };
    rc = dk_endpoint_setup(e, &p);
    if (rc)
        fprintf(stderr, PROG ": %s on %s port %u: %s\n", what, w->opt->listen, (unsigned)port,
                rc == DK_EIO ? "cannot bind (port in use?)" : dk_strerror(rc));
    return rc;
}

/* A small table of handshakes in progress: who presented which identity,
 * so a handshake that then fails (a wrong PSK) is audited with it. */
void gw_hs_note(struct gw_hs_table *t, const struct dk_addr *peer, const char *ep,
                const char *identity)
{
    struct gw_hs *slot = NULL;
    for (size_t i = 0; i < GW_HS_MAX && !slot; i++)
        if (t->e[i].used && dk_addr_equal(&t->e[i].peer, peer))
            slot = &t->e[i];
    if (!slot) {
        slot = &t->e[t->next];
        t->next = (t->next + 1) % GW_HS_MAX;
    }
    slot->used = true;
    slot->peer = *peer;
    snprintf(slot->ep, sizeof slot->ep, "%s", ep ? ep : "");
    snprintf(slot->identity, sizeof slot->identity, "%s", identity ? identity : "");
}

struct gw_hs *gw_hs_take(struct gw_hs_table *t, const struct dk_addr *peer)
{
    for (size_t i = 0; i < GW_HS_MAX; i++)
        if (t->e[i].used && dk_addr_equal(&t->e[i].peer, peer)) {
            t->e[i].used = false; /* the caller reads it right away */
            return &t->e[i];
        }
    return NULL;
}

/* Identities are printable in audit details only as far as they are
 * printable ASCII; the rest becomes '?'. */
void gw_printable(const uint8_t *p, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        out[k++] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\' ? (char)p[i] : '?';
    out[k] = '\0';
}

/* At most 20 handshake-failure audits per second: unauthenticated peers
 * must not fill the disk. */
bool gw_audit_allowed(struct gw_wire *w)
{
    int64_t now = dk_clock_wall();
    if (now != w->audit_window) {
        if (w->audit_suppressed && w->gw)
            dk_gw_audit(w->gw, NULL, "dtls.refused.suppressed",
                        "%lu more refused handshakes not logged", w->audit_suppressed);
        w->audit_window = now;
        w->audit_count = 0;
        w->audit_suppressed = 0;
    }
    if (w->audit_count >= 20) {
        w->audit_suppressed++;
        return false;
    }
    w->audit_count++;
    return true;
}

static int write_ports_file(struct gw_wire *w, uint16_t http)
{
    char path[4096], tmp[4200], text[256];
    snprintf(path, sizeof path, "%s/ports", w->opt->data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(text, sizeof text,
                     "http=%u\nbootstrap=%u\nserver=%u\nbootstrap_nosec=%u\nserver_nosec=%u\n",
                     (unsigned)http, (unsigned)w->bs_port, (unsigned)w->srv_port,
                     (unsigned)w->bs_port_plain, (unsigned)w->srv_port_plain);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return DK_EIO;
    bool ok = write(fd, text, (size_t)n) == n;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return DK_EIO;
    }
    return 0;
}

/* ---- the engines' timer ---------------------------------------------------------- */

static dk_time_t on_timer(void *user, dk_time_t now)
{
    struct gw_wire *w = user;
    dk_time_t next = DK_TIME_NEVER;
    if (w->bs_ready)
        next = dk_time_min(next, gw_bs_tick(w, now));
    if (w->srv_ready)
        next = dk_time_min(next, gw_srv_tick(w, now));
    return next;
}

/* ---- gw_engines ------------------------------------------------------------------- */

static int prepare(void *self, const struct gw_options *opt, struct dk_gw_config *cfg)
{
    struct gw_wire *w = self;
    w->opt = opt;
    w->log = cfg->log;
    int rc = dk_rng_setup(&w->rng, "duckling-gateway engines", 24);
    if (rc)
        return rc;
    if (opt->no_bootstrap && opt->no_server)
        return 0;
    bool created = false;
    rc = dk_gwca_load_or_create(&w->ca, opt->data_dir, &w->rng, dk_clock_wall(), &created);
    if (rc) {
        fprintf(stderr, PROG ": %s/ca.key, ca.crt: %s%s\n", opt->data_dir, dk_strerror(rc),
                rc == DK_EPERM ? " (ca.key must be a regular file with mode 0600)" : "");
        return rc;
    }
    if (created)
        fprintf(stderr, PROG ": created the gateway CA in %s/ca.crt\n", opt->data_dir);
    rc = make_self_cert(w);
    if (rc)
        return rc;
    dk_coap_config_init(&w->coap_cfg);
    w->coap_cfg.rng = &w->rng;
    w->coap_cfg.log = w->log;
    w->coap_cfg.max_peers = 1024;
    w->coap_cfg.max_exchanges = 256;
    w->coap_cfg.max_observers = 256;
    w->coap_cfg.max_dedup = 1024;
    w->coap_cfg.max_tx_queue = 512;

    /* The Server first: the Bootstrap Server writes its URI. */
    if (!opt->no_server) {
        rc = gw_srv_prepare(w, cfg);
        if (rc)
            return rc;
    }
    if (!opt->no_bootstrap) {
        rc = gw_bs_prepare(w, cfg);
        if (rc)
            return rc;
    }
    return 0;
}

static int start(void *self, struct dk_gw *gw, struct dk_loop *loop)
{
    struct gw_wire *w = self;
    w->gw = gw;
    w->loop = loop;
    int rc = 0;
    if (w->srv_ready)
        rc = gw_srv_start(w);
    if (!rc && w->bs_ready)
        rc = gw_bs_start(w);
    if (!rc && (w->srv_ready || w->bs_ready)) {
        rc = dk_loop_add_timer(loop, on_timer, w);
        w->timer_added = rc == 0;
    }
    if (rc)
        return rc;
    char uri[300];
    if (w->bs_ready) {
        gw_uri(w->opt, true, w->bs_port, uri, sizeof uri);
        printf("bootstrap server listening on %s/\n", uri);
        if (w->bs_port_plain) {
            gw_uri(w->opt, false, w->bs_port_plain, uri, sizeof uri);
            printf("bootstrap server (nosec) listening on %s/\n", uri);
        }
    }
    if (w->srv_ready) {
        gw_uri(w->opt, true, w->srv_port, uri, sizeof uri);
        printf("lwm2m server listening on %s/\n", uri);
        if (w->srv_port_plain) {
            gw_uri(w->opt, false, w->srv_port_plain, uri, sizeof uri);
            printf("lwm2m server (nosec) listening on %s/\n", uri);
        }
    }
    fflush(stdout);
    rc = write_ports_file(w, dk_gw_port(gw));
    if (rc)
        fprintf(stderr, PROG ": %s/ports: %s\n", w->opt->data_dir, dk_strerror(rc));
    return 0;
}

static void stop(void *self)
{
    struct gw_wire *w = self;
    if (w->timer_added)
        dk_loop_remove_timer(w->loop, on_timer, w);
    w->timer_added = false;
    gw_bs_stop(w);
    gw_srv_stop(w);
    dk_memzero(&w->self, sizeof w->self);
    dk_gwca_free(&w->ca);
    dk_rng_free(&w->rng);
}

static struct gw_engines real = {
    .name = "protocol",
    .self = &the_wire,
    .prepare = prepare,
    .start = start,
    .stop = stop,
};

const struct gw_engines *gw_real_engines(void)
{
    static bool inited;
    if (!inited) {
        gw_wire_init(&the_wire);
        inited = true;
    }
    return &real;
}

void gw_wire_init(struct gw_wire *w)
{
    memset(w, 0, sizeof *w);
    dk_rng_init(&w->rng);
    dk_gwca_init(&w->ca);
    dk_coap_ep_init(&w->bs_coap);
    dk_coap_ep_init(&w->bs_coap_plain);
    dk_endpoint_init(&w->bs_ep);
    dk_endpoint_init(&w->bs_ep_plain);
    dk_dtls_config_init(&w->bs_dtls);
    dk_bs_init(&w->bs);
    dk_coap_ep_init(&w->srv_coap);
    dk_coap_ep_init(&w->srv_coap_plain);
    dk_endpoint_init(&w->srv_ep);
    dk_endpoint_init(&w->srv_ep_plain);
    dk_dtls_config_init(&w->srv_dtls);
}
