/* duckling-device — the daemon: stores, engine, driver, hooks, signals and
 * the poll loop. */
#include "device.h"

#include <duckling/endpoint.h>
#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/mem.h>
#include <duckling/version.h>

#include <mbedtls/pk.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "device"
/* After SIGTERM the engine de-registers within dereg_timeout_ms; this much
 * more and the daemon exits regardless. */
#define STOP_GRACE_MS 2000

/* ------------------------------------------------------------ driver glue --- */

static int drv_set_led(void *user, bool on, uint8_t dimmer)
{
    struct device *d = user;
    return d->drv->ops->led_set(d->drv, on, dimmer) == 0 ? 0 : DK_EIO;
}

static int drv_temperature(void *user, double *celsius)
{
    struct device *d = user;
    return d->drv->ops->temperature(d->drv, dk_clock_now(), celsius) == 0 ? 0 : DK_EIO;
}

static int drv_illuminance(void *user, double *lux)
{
    struct device *d = user;
    return d->drv->ops->illuminance(d->drv, dk_clock_now(), lux) == 0 ? 0 : DK_EIO;
}

static int drv_location(void *user, struct dk_client_location *out)
{
    struct device *d = user;
    const struct driver_location *l = &d->drv->location;
    memset(out, 0, sizeof *out);
    out->latitude = l->latitude;
    out->longitude = l->longitude;
    out->altitude = l->altitude;
    out->radius = l->radius;
    out->timestamp = dk_clock_wall();
    return 0;
}

/* /3/0/10 and /3/0/21 from /proc/meminfo. */
static int drv_memory(void *user, int64_t *free_kib, int64_t *total_kib)
{
    (void)user;
    FILE *f = fopen("/proc/meminfo", "re");
    if (!f)
        return DK_EIO;
    char line[128];
    long long v;
    int found = 0;
    while (fgets(line, sizeof line, f) && found != 3) {
        if (sscanf(line, "MemTotal: %lld kB", &v) == 1) {
            *total_kib = v;
            found |= 1;
        } else if (sscanf(line, "MemAvailable: %lld kB", &v) == 1) {
            *free_kib = v;
            found |= 2;
        }
    }
    fclose(f);
    return found == 3 ? 0 : DK_EIO;
}

/* ----------------------------------------------------------------- hooks --- */

static void add_common_env(struct device *d, struct hook_env *env, const char *mode)
{
    hook_env_add(env, "DK_MODE", mode, strlen(mode));
    hook_env_add(env, "DK_ENDPOINT", d->factory.endpoint, strlen(d->factory.endpoint));
    hook_env_add(env, "DK_DATA", d->opt.data, strlen(d->opt.data));
}

static void run_factory_hook(struct device *d)
{
    if (!d->opt.on_factory_mode)
        return;
    struct hook_env env;
    hook_env_init(&env);
    add_common_env(d, &env, "factory");
    if (d->factory.ap_ssid[0]) {
        char psk[2 * DK_OOB_WIFI_PSK_MAX + 1];
        hook_env_add(&env, "DK_AP_SSID", d->factory.ap_ssid, strlen(d->factory.ap_ssid));
        dk_hex_encode(psk, sizeof psk, d->factory.ap_psk, d->factory.ap_psk_len);
        hook_env_add(&env, "DK_AP_PSK", psk, strlen(psk));
        dk_memzero(psk, sizeof psk);
    }
    hook_run("--on-factory-mode", d->opt.on_factory_mode, &env, &d->log);
    hook_env_free(&env);
}

/* A string resource of /12/0 for the hook, when it holds one without NUL. */
static void add_wlan_env(struct device *d, struct hook_env *env, const char *name, uint16_t rid,
                         dk_time_t now)
{
    struct dk_lwm2m_path p = dk_lwm2m_path_res(12, 0, rid);
    struct dk_lwm2m_value v;
    if (dk_client_get_value(&d->client, &p, &v, now) != 0 || v.type != DK_LWM2M_TYPE_STRING ||
        v.v.bytes.n == 0)
        return;
    hook_env_add(env, name, (const char *)v.v.bytes.p, v.v.bytes.n);
}

static void run_operational_hook(struct device *d, dk_time_t now)
{
    if (!d->opt.on_operational)
        return;
    struct hook_env env;
    hook_env_init(&env);
    add_common_env(d, &env, "operational");
    if (dk_client_has_instance(&d->client, 12, 0)) {
        add_wlan_env(d, &env, "DK_SSID", 5, now);
        /* WPA Key Phrase, or else the WPA Pre Shared Key. */
        size_t before = env.n;
        add_wlan_env(d, &env, "DK_PSK", 18, now);
        if (env.n == before)
            add_wlan_env(d, &env, "DK_PSK", 17, now);
    }
    hook_run("--on-operational", d->opt.on_operational, &env, &d->log);
    hook_env_free(&env);
}

/* ------------------------------------------------------- engine callbacks --- */

static int cb_open_transport(void *user, const struct dk_client_transport *t)
{
    return xport_open(user, t);
}

static void cb_close_transport(void *user, uint32_t id)
{
    xport_close(user, id);
}

static int cb_persist(void *user, const struct dk_store_record *recs, size_t n)
{
    struct device *d = user;
    int rc = dk_store_ops_save(d->opt.data, recs, n, &d->rng);
    if (rc)
        dk_error(&d->log, MOD, "%s/%s: cannot save: %s", d->opt.data, DK_STORE_OPS_FILE,
                 rc == DK_EIO ? strerror(errno) : dk_strerror(rc));
    else
        dk_debug(&d->log, MOD, "saved %zu records to %s", n, DK_STORE_OPS_FILE);
    return rc;
}

static int cb_wipe(void *user)
{
    struct device *d = user;
    int rc = dk_store_ops_wipe(d->opt.data);
    if (rc)
        dk_error(&d->log, MOD, "%s: cannot erase the operational store: %s", d->opt.data,
                 strerror(errno));
    return rc;
}

static void cb_event(void *user, const struct dk_client_event *ev)
{
    struct device *d = user;
    dk_time_t now = dk_clock_now();
    const char *loc = NULL;
    switch (ev->type) {
    case DK_CLIENT_EV_STATE:
        dk_info(&d->log, MOD, "state %s", dk_client_state_name(ev->state));
        break;
    case DK_CLIENT_EV_FACTORY_MODE:
        dk_info(&d->log, MOD, "factory mode: bootstrapping from %s", d->bs_uri);
        run_factory_hook(d);
        break;
    case DK_CLIENT_EV_BOOTSTRAPPED:
        dk_info(&d->log, MOD, "bootstrapped: %zu server account(s)",
                dk_client_server_count(&d->client));
        run_operational_hook(d, now);
        break;
    case DK_CLIENT_EV_REGISTERED:
        dk_client_registered(&d->client, ev->ssid, &loc);
        dk_info(&d->log, MOD, "registered with server %u at %s", ev->ssid, loc ? loc : "?");
        break;
    case DK_CLIENT_EV_REG_FAILED:
        dk_warn(&d->log, MOD, "registration with server %u failed: %s; retry in %lld ms", ev->ssid,
                dk_strerror(ev->reason), (long long)ev->delay_ms);
        break;
    case DK_CLIENT_EV_DEREGISTERED:
        if (ev->reason)
            dk_warn(&d->log, MOD, "de-registration from server %u: %s", ev->ssid,
                    dk_strerror(ev->reason));
        else
            dk_info(&d->log, MOD, "de-registered from server %u", ev->ssid);
        break;
    case DK_CLIENT_EV_BOOTSTRAP_FAILED:
        dk_warn(&d->log, MOD, "bootstrap failed: %s; retry in %lld ms", dk_strerror(ev->reason),
                (long long)ev->delay_ms);
        break;
    case DK_CLIENT_EV_REBOOT:
        dk_info(&d->log, MOD, "reboot requested by a server: restarting");
        d->reboot = true;
        break;
    case DK_CLIENT_EV_FACTORY_RESET:
        dk_info(&d->log, MOD, "factory reset: operational store erased, factory.store kept");
        break;
    case DK_CLIENT_EV_CHANGED: {
        char p[DK_LWM2M_PATH_STR_MAX];
        dk_lwm2m_path_str(&ev->path, p, sizeof p);
        dk_debug(&d->log, MOD, "changed %s", p);
        /* New home Wi-Fi settings from an LwM2M Server: join again. During
         * bootstrap BOOTSTRAPPED follows and runs the hook once. */
        if (ev->path.len >= 1 && ev->path.ids[0] == 12 &&
            dk_client_state(&d->client) == DK_CLIENT_REGISTERED)
            run_operational_hook(d, now);
        break;
    }
    case DK_CLIENT_EV_STOPPED:
        dk_info(&d->log, MOD, "stopped");
        d->quit = true;
        break;
    }
}

/* ------------------------------------------------------------------ loop --- */

static dk_time_t engine_timer(void *user, dk_time_t now)
{
    struct device *d = user;
    dk_time_t next = xport_tick(d, now);
    dk_client_tick(&d->client, now);
    xport_pump(d, now);
    next = dk_time_min(next, dk_client_deadline(&d->client));
    if (d->button_at != DK_TIME_NEVER && now >= d->button_at) {
        d->button_at = DK_TIME_NEVER;
        if (d->drv->ops->button_check(d->drv, now)) {
            dk_info(&d->log, MOD, "button held: factory reset");
            dk_client_factory_reset(&d->client, now);
            xport_pump(d, now);
        }
    }
    next = dk_time_min(next, d->button_at);
    if (d->stopping)
        next = dk_time_min(next, d->stop_deadline);
    if (d->quit || d->reboot)
        return now; /* the loop must not sleep: the main loop acts on it */
    return next;
}

static void on_button(void *user, int fd, short revents, dk_time_t now)
{
    struct device *d = user;
    (void)fd;
    (void)revents;
    d->button_at = d->drv->ops->button_event(d->drv, now);
}

static void start_stop(struct device *d, dk_time_t now)
{
    d->stopping = true;
    d->stop_deadline = now + d->ccfg.dereg_timeout_ms + STOP_GRACE_MS;
    if (dk_client_stop(&d->client, now) != 0)
        d->quit = true; /* nothing to de-register */
    xport_pump(d, now);
}

static void on_signal(void *user, int sig, short revents, dk_time_t now)
{
    struct device *d = user;
    (void)revents;
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        if (d->stopping) {
            dk_info(&d->log, MOD, "second %s: exiting now", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            d->quit = true;
        } else {
            dk_info(&d->log, MOD, "%s: de-registering", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            start_stop(d, now);
        }
        break;
    case SIGUSR1:
        if (d->stopping)
            break;
        dk_info(&d->log, MOD, "SIGUSR1 (button): factory reset");
        dk_client_factory_reset(&d->client, now);
        xport_pump(d, now);
        break;
    case SIGCHLD:
        hook_reap(&d->log);
        break;
    default:
        break;
    }
}

/* Execute /3/0/4: the 2.04 has gone out; start afresh as the same program. */
static void reboot(struct device *d)
{
    dk_time_t now = dk_clock_now();
    xport_pump(d, now);
    xport_close_all(d, now);
    dk_loop_free(&d->loop); /* also restores nothing: exec resets handlers */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    fflush(NULL);
    execv("/proc/self/exe", d->argv);
    dk_error(&d->log, MOD, "cannot restart: %s", strerror(errno));
}

/* ----------------------------------------------------------------- setup --- */

static int load_factory(struct device *d)
{
    const char *why = NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", d->opt.data, DK_STORE_FACTORY_FILE);
    dk_store_factory_init(&d->factory);
    int rc = dk_store_factory_load(d->opt.data, &d->factory, &why);
    if (rc == DK_ENOTFOUND) {
        report(path, "no such file (a device needs the factory store duckling-factory makes)");
        return -1;
    }
    if (rc) {
        report(path, "%s", why ? why : rc == DK_EIO ? strerror(errno) : dk_strerror(rc));
        return -1;
    }
    snprintf(d->bs_uri, sizeof d->bs_uri, "%s", d->opt.bs_uri ? d->opt.bs_uri : d->factory.bs_uri);
    struct dk_uri u;
    if (dk_uri_parse(d->bs_uri, &u) != 0) {
        report(d->opt.bs_uri ? "--bs-uri" : path, "bad Bootstrap Server URI");
        return -1;
    }
    if (u.secure != (d->factory.cred_type != DK_OOB_CRED_NONE)) {
        report(d->opt.bs_uri ? "--bs-uri" : path,
               "%s does not fit the factory credential type %s (use %s)", d->bs_uri,
               dk_oob_cred_name(d->factory.cred_type), u.secure ? "coap://" : "coaps://");
        return -1;
    }
    return 0;
}

/* RPK: the Security object's identity is our public key (DER SPKI). */
static int derive_spki(struct device *d)
{
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = mbedtls_pk_parse_key(&pk, d->factory.key_der, d->factory.key_der_len, NULL, 0);
    int n = rc == 0 ? mbedtls_pk_write_pubkey_der(&pk, d->spki, sizeof d->spki) : -1;
    mbedtls_pk_free(&pk);
    if (n <= 0) {
        report("factory.store", "the device key is unreadable");
        return -1;
    }
    /* mbedtls writes at the end of the buffer. */
    memmove(d->spki, d->spki + sizeof d->spki - (size_t)n, (size_t)n);
    d->spki_len = (size_t)n;
    return 0;
}

static int setup_bootstrap_account(struct device *d)
{
    struct dk_client_security *s = &d->ccfg.bs_sec;
    const struct dk_store_factory *f = &d->factory;
    d->ccfg.bs_uri = d->bs_uri;
    switch (f->cred_type) {
    case DK_OOB_CRED_NONE:
        s->mode = DK_CLIENT_SEC_NOSEC;
        break;
    case DK_OOB_CRED_PSK:
        s->mode = DK_CLIENT_SEC_PSK;
        s->identity = (const uint8_t *)f->endpoint;
        s->identity_len = strlen(f->endpoint);
        s->secret = f->psk;
        s->secret_len = f->psk_len;
        break;
    case DK_OOB_CRED_RPK:
        if (derive_spki(d) != 0)
            return -1;
        s->mode = DK_CLIENT_SEC_RPK;
        s->identity = d->spki;
        s->identity_len = d->spki_len;
        s->secret = f->key_der;
        s->secret_len = f->key_der_len;
        break;
    case DK_OOB_CRED_X509:
        s->mode = DK_CLIENT_SEC_CERT;
        s->identity = f->cert_der;
        s->identity_len = f->cert_der_len;
        s->secret = f->key_der;
        s->secret_len = f->key_der_len;
        break;
    }
    return 0;
}

static int setup_client(struct device *d)
{
    struct dk_client_config *c = &d->ccfg;
    dk_client_config_init(c);
    c->endpoint = d->factory.endpoint;
    if (setup_bootstrap_account(d) != 0)
        return -1;
    c->device.manufacturer = "duckling";
    c->device.model = d->factory.type;
    c->device.serial = d->factory.endpoint;
    c->device.firmware_version = DK_VERSION;
    c->device.device_type = d->factory.type;
    c->device.software_version = DK_VERSION;
    c->driver.set_led = drv_set_led;
    c->driver.read_temperature = drv_temperature;
    c->driver.read_illuminance = drv_illuminance;
    c->driver.read_location = drv_location;
    c->driver.read_memory = drv_memory;
    c->driver.user = d;
    c->bs_holdoff_ms = d->opt.holdoff_ms;
    /* CoAP sized for a device: bodies no larger than the engine's payload
     * limit (the default, 64 KiB, would be most of the daemon's heap), a few
     * peers and exchanges. */
    dk_coap_config_init(&d->coap);
    d->coap.max_body = c->max_payload;
    d->coap.max_peers = 8;
    d->coap.max_exchanges = 16;
    d->coap.max_dedup = 32;
    d->coap.max_observers = c->max_observations;
    d->coap.max_tx_queue = 16;
    d->coap.rng = &d->rng;
    d->coap.log = &d->log;
    c->coap = &d->coap;
    c->rng = &d->rng;
    c->log = &d->log;
    c->cbs.open_transport = cb_open_transport;
    c->cbs.close_transport = cb_close_transport;
    c->cbs.persist = cb_persist;
    c->cbs.wipe = cb_wipe;
    c->cbs.event = cb_event;
    c->cbs.user = d;
    dk_client_init(&d->client);
    int rc = dk_client_setup(&d->client, c);
    if (rc) {
        report("client", "cannot set up the LwM2M client: %s", dk_strerror(rc));
        return -1;
    }
    d->client_ready = true;
    return 0;
}

/* dk_store_ops_wipe() overwrites device.key with zeros, syncs, unlinks it,
 * then does the same to operational.store. A power cut (or kill -9) in
 * between leaves one of two states, both meaning "the operational data are
 * already crypto-erased": a key file of nothing but zeros, or a store without
 * a key file. Anything else that fails to load is damage or tampering, which
 * is not guessed around. */
static bool interrupted_wipe(struct device *d)
{
    char key[4200];
    snprintf(key, sizeof key, "%s/%s", d->opt.data, DK_STORE_KEY_FILE);
    FILE *f = fopen(key, "rbe");
    if (!f)
        return errno == ENOENT && dk_store_ops_exists(d->opt.data);
    uint8_t buf[512];
    size_t n = fread(buf, 1, sizeof buf, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    bool zeros = n > 0 && !more;
    for (size_t i = 0; i < n && zeros; i++)
        zeros = buf[i] == 0;
    dk_memzero(buf, sizeof buf);
    return zeros;
}

/* operational.store, when there is one: the engine gets its records back. A
 * damaged store is not guessed around: the operator resets the device. */
static int load_operational(struct device *d)
{
    struct dk_store_ops ops;
    const char *why = NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", d->opt.data, DK_STORE_OPS_FILE);
    dk_store_ops_init(&ops);
    if (interrupted_wipe(d)) {
        dk_warn(&d->log, MOD, "finishing an interrupted factory reset");
        if (dk_store_ops_wipe(d->opt.data) != 0) {
            report(path, "cannot finish the interrupted factory reset: %s", strerror(errno));
            return -1;
        }
    }
    int rc = dk_store_ops_load(d->opt.data, NULL, &ops, &why);
    if (rc == DK_ENOTFOUND) {
        dk_info(&d->log, MOD, "no operational store: factory mode");
        return 0;
    }
    if (rc == 0) {
        rc = dk_client_load(&d->client, ops.recs, ops.count);
        if (rc)
            why = dk_strerror(rc);
        else
            dk_info(&d->log, MOD, "operational store: %zu records", ops.count);
    }
    dk_store_ops_free(&ops);
    if (rc) {
        report(path, "%s (erase it with '%s --data %s --factory-reset')",
               why            ? why
               : rc == DK_EIO ? strerror(errno)
                              : dk_strerror(rc),
               PROG, d->opt.data);
        return -1;
    }
    return 0;
}

static int setup_driver(struct device *d)
{
    if (d->opt.state_file)
        snprintf(d->state_file, sizeof d->state_file, "%s", d->opt.state_file);
    else
        snprintf(d->state_file, sizeof d->state_file, "%s/led.state", d->opt.data);
    d->dcfg.kind = d->opt.driver;
    d->dcfg.state_file = d->state_file;
    d->dcfg.gpio_chip = d->opt.gpio_chip;
    d->dcfg.led_line = d->opt.led_line;
    d->dcfg.button_line = d->opt.button_line;
    d->dcfg.log = &d->log;
    d->dcfg.rng = &d->rng;
    d->drv = driver_open(&d->dcfg);
    d->button_at = DK_TIME_NEVER;
    return d->drv ? 0 : -1;
}

static int setup_loop(struct device *d)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGCHLD, 0};
    dk_loop_init(&d->loop);
    signal(SIGPIPE, SIG_IGN);
    if (dk_loop_watch_signals(&d->loop, sigs, on_signal, d) != 0) {
        report("signals", "cannot watch signals: %s", strerror(errno));
        return -1;
    }
    int bfd = d->drv->ops->button_fd(d->drv);
    if (bfd >= 0 && dk_loop_add_fd(&d->loop, bfd, POLLIN, on_button, d) != 0)
        return -1;
    return dk_loop_add_timer(&d->loop, engine_timer, d) == 0 ? 0 : -1;
}

int device_run(const struct options *o, char **argv)
{
    static struct device dev;
    struct device *d = &dev;
    int status = 1;
    d->opt = *o;
    d->argv = argv;
    dk_log_init_stderr(&d->log, o->log_level);
    dk_rng_init(&d->rng);
    dk_loop_init(&d->loop);
    for (size_t i = 0; i < XPORT_MAX; i++)
        d->xp[i].udp.fd = -1;
    if (load_factory(d) != 0)
        goto out;
    if (dk_rng_setup(&d->rng, PROG, strlen(PROG)) != 0) {
        report("random", "cannot seed the CSPRNG from getrandom");
        goto out;
    }
    if (setup_driver(d) != 0 || setup_loop(d) != 0 || setup_client(d) != 0 ||
        load_operational(d) != 0)
        goto out;
    dk_time_t now = dk_clock_now();
    dk_client_set_time(&d->client, dk_clock_wall(), now);
    dk_info(&d->log, MOD, "%s %s: endpoint %s, type %s, driver %s", PROG, DK_VERSION,
            d->factory.endpoint, d->factory.type, d->drv->ops->name);
    int rc = dk_client_start(&d->client, now);
    if (rc) {
        report("client", "cannot start: %s", dk_strerror(rc));
        goto out;
    }
    if (dk_client_state(&d->client) != DK_CLIENT_BOOTSTRAPPING)
        run_operational_hook(d, now);
    xport_pump(d, now);
    while (!d->quit) {
        if (dk_loop_run_once(&d->loop, -1) != 0) {
            report("poll", "%s", strerror(errno));
            goto out;
        }
        if (d->reboot)
            reboot(d); /* returns only when exec failed */
        if (d->reboot)
            goto out;
        if (!d->quit && d->stopping && dk_clock_now() >= d->stop_deadline) {
            dk_warn(&d->log, MOD, "de-registration did not finish in time: exiting");
            break;
        }
    }
    status = 0;
out:
    xport_close_all(d, dk_clock_now());
    if (d->client_ready)
        dk_client_free(&d->client);
    if (d->drv)
        d->drv->ops->close(d->drv);
    dk_loop_free(&d->loop);
    dk_store_factory_wipe(&d->factory);
    dk_memzero(d->spki, sizeof d->spki);
    dk_rng_free(&d->rng);
    hook_reap(&d->log);
    return status;
}
