/* duckling-device internals shared by its source files. */
#ifndef DK_DEVICE_APP_H
#define DK_DEVICE_APP_H

#include <duckling/addr.h>
#include <duckling/client.h>
#include <duckling/clock.h>
#include <duckling/dtls.h>
#include <duckling/log.h>
#include <duckling/loop.h>
#include <duckling/rng.h>
#include <duckling/store.h>
#include <duckling/udp.h>

#include "driver.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROG "duckling-device"

/* What the command line asked for. */
struct options {
    const char *data;            /* --data DIR (required) */
    const char *driver;          /* --driver sim|gpio */
    enum dk_log_level log_level; /* --log-level */
    bool factory_reset;          /* --factory-reset: offline wipe, then exit */
    const char *on_factory_mode; /* hook commands, NULL: none */
    const char *on_operational;
    const char *gpio_chip;
    int led_line, button_line; /* -1: not given */
    const char *state_file;    /* NULL: DIR/led.state */
    const char *bs_uri;        /* overrides the factory store's Bootstrap Server URI */
    long holdoff_ms;           /* bootstrap hold-off */
};

/* ---- transports (transport.c) ----
 * One transport per server the engine talks to: its own UDP socket (so the
 * Bootstrap Server and an LwM2M Server may even share an address) and, for
 * coaps://, a DTLS client session (mbedTLS) with that server's credentials.
 * The engine names a transport by the address given in
 * dk_client_transport_up(): the server's real address, or a made-up one when
 * another transport already uses it. */
#define XPORT_MAX 4

struct xport {
    uint32_t id; /* 0: slot free */
    bool secure;
    bool up;      /* reported to the engine */
    bool closing; /* the engine closed it: torn down after the next send */
    struct dk_udp udp;
    struct dk_addr remote; /* where datagrams go and come from */
    struct dk_addr name;   /* how the engine names it */
    struct dk_dtls_config dtls;
    bool dtls_ready;
    struct dk_dtls_session *s;
    uint8_t *keys; /* copies of identity, secret and server key (wiped) */
    size_t keys_len;
};

/* The running daemon. */
struct device {
    struct options opt;
    struct dk_log log;
    struct dk_rng rng;
    struct dk_loop loop;
    struct dk_store_factory factory;
    char bs_uri[DK_STORE_URI_MAX + 1];
    uint8_t spki[256]; /* RPK: own public key (DER SubjectPublicKeyInfo) */
    size_t spki_len;
    char state_file[4096];
    struct driver_config dcfg;
    struct driver *drv;
    dk_time_t button_at; /* gpio button hold check, DK_TIME_NEVER */
    struct dk_coap_config coap;
    struct dk_client_config ccfg;
    struct dk_client client;
    bool client_ready;
    struct xport xp[XPORT_MAX];
    bool stopping;
    dk_time_t stop_deadline;
    bool quit;
    bool reboot;
    char **argv;
};

/* transport.c */
int xport_open(struct device *d, const struct dk_client_transport *t);
void xport_close(struct device *d, uint32_t id);
/* Sends everything the engine queued, then tears down closed transports. */
void xport_pump(struct device *d, dk_time_t now);
/* DTLS retransmissions and timeouts; the earliest deadline. */
dk_time_t xport_tick(struct device *d, dk_time_t now);
/* Closes every transport at once (exit). */
void xport_close_all(struct device *d, dk_time_t now);

/* Prints "duckling-device: what: why" to stderr. */
void report(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- hooks (hooks.c) ----
 * A hook is the operator's command line from --on-factory-mode or
 * --on-operational. It is run as `/bin/sh -c CMD` (so the operator may write
 * a pipeline or pass arguments), in the background, with stdin from
 * /dev/null and the daemon's stdout/stderr. Nothing the device learned from
 * the network is ever put into the command line: what the hook needs comes in
 * environment variables (hook_env), so an SSID like "x; rm -rf /" is data,
 * never shell code. Secrets (Wi-Fi PSKs) are passed the same way and never
 * logged. */

#define HOOK_ENV_MAX 12

struct hook_env {
    size_t n;
    char *vars[HOOK_ENV_MAX]; /* "NAME=value", owned (wiped on free) */
};

void hook_env_init(struct hook_env *e);
/* Adds NAME=value (value: len bytes, no NUL inside). Returns 0 or -1. */
int hook_env_add(struct hook_env *e, const char *name, const char *value, size_t len);
void hook_env_free(struct hook_env *e);

/* Starts cmd with the daemon's environment plus env. Returns the child's
 * pid, or -1 (logged). Hooks run one at a time: this first waits (at most
 * 30 s) for the previous ones. The caller reaps it with hook_reap(). */
pid_t hook_run(const char *what, const char *cmd, const struct hook_env *env,
               const struct dk_log *log);
/* Reaps finished hooks without blocking and logs how they ended. */
void hook_reap(const struct dk_log *log);

/* ---- small files (files.c) ---- */

/* Writes data to path atomically: path.tmp with mode, fsync, rename,
 * fsync of the directory. Returns 0 or -1 with errno. */
int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

#endif
