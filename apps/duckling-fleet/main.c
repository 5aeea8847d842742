/* duckling-fleet — many LwM2M client engines in one process, each with its
 * own UDP socket (and DTLS session) on 127.0.0.1, onboarding against a
 * gateway and then staying registered: the load generator of `make bench`
 * (docs/performance.md, issue 9).
 *
 * Devices come from a duckling-factory batch (--factory DIR) or are made in
 * memory (--psk-devices N: PSK credentials; their OOB labels are written to
 * --labels FILE so the harness can load them into the gateway).
 *
 * Output on stdout, one line per event, for bench/run:
 *   ready N                          devices loaded (after --wait-go: "go" on stdin starts)
 *   onboarded N SECONDS RATE         all N registered: from the first start to the last
 *   failed N                         devices that gave up (with --timeout)
 *   hold SECONDS UPDATES RATE RETRANS TIMEOUTS   after --hold: registration updates
 *   rss KB                           our own resident set size at the end of the hold
 * Exit 0, 1 on failure, 2 on bad usage.
 */
#include <duckling/addr.h>
#include <duckling/client.h>
#include <duckling/clock.h>
#include <duckling/coap.h>
#include <duckling/dtls.h>
#include <duckling/endpoint.h>
#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/log.h>
#include <duckling/mem.h>
#include <duckling/oob.h>
#include <duckling/rng.h>
#include <duckling/store.h>
#include <duckling/version.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROG "duckling-fleet"
#define XP_MAX 2 /* transports per device: bootstrap and server */

struct fdev;

struct xport {
    struct fdev *dev;
    uint32_t id; /* 0: free */
    int fd;
    bool secure, up, closing;
    struct dk_addr remote;
    struct dk_dtls_config dtls;
    bool dtls_ready;
    struct dk_dtls_session *s;
    uint8_t keys[2048]; /* copies of the engine's credentials */
};

struct fdev {
    struct dk_store_factory *f;
    struct dk_client c;
    struct dk_client_config cfg;
    struct xport xp[XP_MAX];
    dk_time_t started, registered_at;
    bool running, registered, failed;
    dk_time_t deadline; /* as pushed into the heap */
};

struct fleet {
    struct fdev *devs;
    size_t n;
    struct dk_rng rng;
    struct dk_log log;
    const struct dk_dtls_backend *backend;
    struct dk_coap_config coap;
    int ep; /* epoll */
    /* timer heap of (deadline, device index) with lazy deletion */
    struct heap_e {
        dk_time_t t;
        uint32_t i;
    } * heap;
    size_t hn, hcap;
    size_t next_start, onboarding, registered, failed;
    unsigned update_pm;
};

static struct fleet F;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- timer heap ----------------------------------------------------------------- */

static void heap_push(dk_time_t t, uint32_t i)
{
    if (F.hn == F.hcap) {
        F.hcap = F.hcap ? 2 * F.hcap : 1024;
        F.heap = realloc(F.heap, F.hcap * sizeof *F.heap);
        if (!F.heap)
            die("out of memory");
    }
    size_t k = F.hn++;
    while (k && F.heap[(k - 1) / 2].t > t) {
        F.heap[k] = F.heap[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    F.heap[k] = (struct heap_e){t, i};
}

static struct heap_e heap_pop(void)
{
    struct heap_e top = F.heap[0], last = F.heap[--F.hn];
    size_t k = 0;
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= F.hn)
            break;
        if (c + 1 < F.hn && F.heap[c + 1].t < F.heap[c].t)
            c++;
        if (F.heap[c].t >= last.t)
            break;
        F.heap[k] = F.heap[c];
        k = c;
    }
    if (F.hn)
        F.heap[k] = last;
    return top;
}

static dk_time_t dev_deadline(struct fdev *d)
{
    dk_time_t t = dk_client_deadline(&d->c);
    for (size_t i = 0; i < XP_MAX; i++)
        if (d->xp[i].id && d->xp[i].s && !d->xp[i].closing)
            t = dk_time_min(t, dk_dtls_session_deadline(d->xp[i].s));
    return t;
}

static void schedule(struct fdev *d)
{
    dk_time_t t = dev_deadline(d);
    if (t != DK_TIME_NEVER && t != d->deadline) {
        d->deadline = t;
        heap_push(t, (uint32_t)(d - F.devs));
    }
}

/* ---- transports ------------------------------------------------------------------ */

static void send_raw(struct xport *x, const uint8_t *buf, size_t n)
{
    (void)sendto(x->fd, buf, n, 0, &x->remote.u.sa, x->remote.len);
}

static void drain(struct xport *x)
{
    uint8_t buf[1500];
    int n;
    while ((n = dk_dtls_session_pop_tx(x->s, buf, sizeof buf)) > 0)
        send_raw(x, buf, (size_t)n);
}

static void teardown(struct xport *x, dk_time_t now)
{
    if (x->s) {
        if (dk_dtls_session_state(x->s) == DK_DTLS_CONNECTED) {
            dk_dtls_session_close(x->s, now);
            drain(x);
        }
        dk_dtls_session_free(x->s);
    }
    if (x->dtls_ready)
        dk_dtls_config_free(&x->dtls);
    if (x->fd >= 0)
        close(x->fd);
    dk_memzero(x->keys, sizeof x->keys);
    struct fdev *d = x->dev;
    memset(x, 0, sizeof *x);
    x->dev = d;
    x->fd = -1;
}

/* The engine names a transport by an address: ours are fd00:646b::<dev>:<id>,
 * unique per device and transport. */
static void xport_name(struct xport *x, struct dk_addr *out)
{
    char ip[64];
    snprintf(ip, sizeof ip, "fd00:646b::%x:%x", (unsigned)(x->dev - F.devs), (unsigned)x->id);
    dk_addr_from_ip(out, ip, 1);
}

static void report_up(struct xport *x, dk_time_t now)
{
    struct dk_addr name;
    xport_name(x, &name);
    x->up = dk_client_transport_up(&x->dev->c, x->id, &name, now) == 0;
}

static int setup_dtls(struct xport *x, const struct dk_client_transport *t)
{
    const struct dk_client_security *sec = &t->sec;
    if (sec->identity_len + sec->secret_len + sec->server_key_len > sizeof x->keys)
        return DK_ELIMIT;
    uint8_t *id = x->keys, *secret = id + sec->identity_len, *srv = secret + sec->secret_len;
    memcpy(id, sec->identity, sec->identity_len);
    memcpy(secret, sec->secret, sec->secret_len);
    if (sec->server_key_len)
        memcpy(srv, sec->server_key, sec->server_key_len);
    struct dk_dtls_params p = {0};
    p.role = DK_DTLS_CLIENT;
    p.rng = &F.rng;
    p.log = &F.log;
    if (sec->mode == DK_CLIENT_SEC_PSK) {
        p.modes = DK_DTLS_MODE_PSK;
        p.psk_identity = id;
        p.psk_identity_len = sec->identity_len;
        p.psk = secret;
        p.psk_len = sec->secret_len;
    } else if (sec->mode == DK_CLIENT_SEC_CERT) {
        p.modes = DK_DTLS_MODE_CERT;
        p.cert_der = id;
        p.cert_der_len = sec->identity_len;
        p.key_der = secret;
        p.key_der_len = sec->secret_len;
        if (sec->server_key_len) {
            p.ca_der = srv;
            p.ca_der_len = sec->server_key_len;
        } else {
            p.pin_any = true;
        }
    } else {
        return DK_ENOTSUP;
    }
    dk_dtls_config_init(&x->dtls);
    int rc = dk_dtls_config_setup(&x->dtls, F.backend, &p);
    x->dtls_ready = rc == 0;
    return rc;
}

static int open_transport(void *user, const struct dk_client_transport *t)
{
    struct fdev *d = user;
    struct xport *x = NULL;
    dk_time_t now = dk_clock_now();
    for (size_t i = 0; i < XP_MAX; i++)
        if (d->xp[i].id && d->xp[i].closing)
            teardown(&d->xp[i], now);
    for (size_t i = 0; i < XP_MAX && !x; i++)
        if (!d->xp[i].id)
            x = &d->xp[i];
    if (!x)
        return DK_ELIMIT;
    struct dk_uri uri;
    int rc = dk_uri_parse(t->uri, &uri);
    if (rc == 0)
        rc = dk_uri_resolve(&uri, &x->remote);
    if (rc)
        return rc;
    x->id = t->id;
    x->secure = uri.secure;
    x->fd = socket(x->remote.u.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (x->fd < 0) {
        x->id = 0;
        return DK_EIO;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = x};
    if (epoll_ctl(F.ep, EPOLL_CTL_ADD, x->fd, &ev) != 0)
        rc = DK_EIO;
    if (rc == 0 && x->secure)
        rc = setup_dtls(x, t);
    if (rc == 0 && x->secure)
        rc = dk_dtls_session_new(&x->s, &x->dtls, &x->remote, now);
    if (rc) {
        teardown(x, now);
        return rc;
    }
    if (x->secure)
        drain(x);
    else
        report_up(x, now);
    return 0;
}

static void close_transport(void *user, uint32_t id)
{
    struct fdev *d = user;
    for (size_t i = 0; i < XP_MAX; i++)
        if (d->xp[i].id == id)
            d->xp[i].closing = true;
}

static struct xport *find_name(struct fdev *d, const struct dk_addr *name)
{
    for (size_t i = 0; i < XP_MAX; i++) {
        struct dk_addr n;
        if (!d->xp[i].id || d->xp[i].closing)
            continue;
        xport_name(&d->xp[i], &n);
        if (dk_addr_equal(&n, name))
            return &d->xp[i];
    }
    return NULL;
}

static void pump(struct fdev *d, dk_time_t now)
{
    uint8_t buf[2048];
    struct dk_addr to;
    int n;
    while ((n = dk_client_pop_tx(&d->c, &to, buf, sizeof buf)) > 0) {
        struct xport *x = find_name(d, &to);
        if (!x || !x->up)
            continue;
        if (!x->secure) {
            send_raw(x, buf, (size_t)n);
        } else if (dk_dtls_session_state(x->s) == DK_DTLS_CONNECTED) {
            dk_dtls_session_write(x->s, buf, (size_t)n, now);
            drain(x);
        }
    }
    for (size_t i = 0; i < XP_MAX; i++)
        if (d->xp[i].id && d->xp[i].closing)
            teardown(&d->xp[i], now);
    schedule(d);
}

static void on_event(void *user, const struct dk_client_event *ev)
{
    struct fdev *d = user;
    if (ev->type == DK_CLIENT_EV_REGISTERED && !d->registered) {
        d->registered = true;
        d->registered_at = dk_clock_now();
        F.registered++;
        F.onboarding--;
    }
}

static void on_readable(struct xport *x, dk_time_t now)
{
    struct fdev *d = x->dev;
    uint8_t buf[2048];
    for (int k = 0; k < 16 && x->id && !x->closing; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        ssize_t n = recvfrom(x->fd, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl);
        if (n < 0)
            break;
        if (!x->secure) {
            if (x->up) {
                struct dk_addr name;
                xport_name(x, &name);
                dk_client_recv(&d->c, &name, buf, (size_t)n, now);
            }
            continue;
        }
        int rc = dk_dtls_session_recv(x->s, buf, (size_t)n, now);
        drain(x);
        enum dk_dtls_state st = dk_dtls_session_state(x->s);
        if (rc < 0 || st == DK_DTLS_FAILED || st == DK_DTLS_CLOSED) {
            int why = rc < 0 ? rc : dk_dtls_session_error(x->s);
            x->closing = true;
            dk_client_transport_down(&d->c, x->id, why ? why : DK_ECLOSED, now);
            break;
        }
        if (st == DK_DTLS_CONNECTED && !x->up)
            report_up(x, now);
        uint8_t app[2048];
        int m;
        while (x->id && !x->closing &&
               ((m = dk_dtls_session_read(x->s, app, sizeof app)) >= 0 || m == DK_ENOSPC)) {
            if (m >= 0 && x->up) {
                struct dk_addr name;
                xport_name(x, &name);
                dk_client_recv(&d->c, &name, app, (size_t)m, now);
            }
        }
    }
    pump(d, now);
}

static void on_timer(struct fdev *d, dk_time_t now)
{
    for (size_t i = 0; i < XP_MAX; i++) {
        struct xport *x = &d->xp[i];
        if (!x->id || !x->s || x->closing || dk_dtls_session_deadline(x->s) > now)
            continue;
        int rc = dk_dtls_session_tick(x->s, now);
        drain(x);
        if (rc < 0 || dk_dtls_session_state(x->s) == DK_DTLS_FAILED) {
            x->closing = true;
            dk_client_transport_down(&d->c, x->id, rc < 0 ? rc : DK_ETIMEDOUT, now);
        }
    }
    if (dk_client_deadline(&d->c) <= now)
        dk_client_tick(&d->c, now);
    pump(d, now);
}

/* ---- devices --------------------------------------------------------------------- */

static void dev_config(struct fdev *d, const char *bs_uri)
{
    struct dk_client_config *c = &d->cfg;
    const struct dk_store_factory *f = d->f;
    dk_client_config_init(c);
    c->endpoint = f->endpoint;
    c->bs_uri = bs_uri && bs_uri[0] ? bs_uri : f->bs_uri;
    switch (f->cred_type) {
    case DK_OOB_CRED_PSK:
        c->bs_sec.mode = DK_CLIENT_SEC_PSK;
        c->bs_sec.identity = (const uint8_t *)f->endpoint;
        c->bs_sec.identity_len = strlen(f->endpoint);
        c->bs_sec.secret = f->psk;
        c->bs_sec.secret_len = f->psk_len;
        break;
    case DK_OOB_CRED_X509:
        c->bs_sec.mode = DK_CLIENT_SEC_CERT;
        c->bs_sec.identity = f->cert_der;
        c->bs_sec.identity_len = f->cert_der_len;
        c->bs_sec.secret = f->key_der;
        c->bs_sec.secret_len = f->key_der_len;
        break;
    default:
        c->bs_sec.mode = DK_CLIENT_SEC_NOSEC;
        break;
    }
    c->device.manufacturer = "duckling";
    c->device.model = "fleet";
    c->wlan = false;
    c->sample_ms = 0;
    c->reg_retry_ms = 5000;
    if (F.update_pm)
        c->update_fraction_pm = F.update_pm;
    c->coap = &F.coap;
    c->rng = &F.rng;
    c->log = &F.log;
    c->cbs.open_transport = open_transport;
    c->cbs.close_transport = close_transport;
    c->cbs.event = on_event;
    c->cbs.user = d;
}

static void start_device(struct fdev *d, const char *bs_uri, dk_time_t now)
{
    dev_config(d, bs_uri);
    for (size_t i = 0; i < XP_MAX; i++) {
        d->xp[i].dev = d;
        d->xp[i].fd = -1;
    }
    dk_client_init(&d->c);
    int rc = dk_client_setup(&d->c, &d->cfg);
    if (rc == 0)
        rc = dk_client_start(&d->c, now);
    if (rc)
        die("device %s: %s", d->f->endpoint, dk_strerror(rc));
    d->running = true;
    d->started = now;
    d->deadline = DK_TIME_NEVER;
    F.onboarding++;
    pump(d, now);
}

static int load_factory_dir(const char *dir, size_t max)
{
    DIR *dh = opendir(dir);
    if (!dh)
        die("--factory %s: %s", dir, strerror(errno));
    struct dirent *e;
    size_t cap = 0;
    while ((e = readdir(dh)) && F.n < max) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct dk_store_factory *f = calloc(1, sizeof *f);
        const char *why = NULL;
        if (!f)
            die("out of memory");
        if (dk_store_factory_load(path, f, &why) != 0) {
            free(f);
            continue; /* manifest.csv and the like */
        }
        if (F.n == cap) {
            cap = cap ? 2 * cap : 256;
            F.devs = realloc(F.devs, cap * sizeof *F.devs);
            if (!F.devs)
                die("out of memory");
        }
        memset(&F.devs[F.n], 0, sizeof F.devs[F.n]);
        F.devs[F.n++].f = f;
    }
    closedir(dh);
    return 0;
}

/* N PSK devices made here; their OOB labels go to `labels`, one a line. */
static void make_psk_devices(size_t n, const char *labels, const char *bs_uri)
{
    FILE *out = fopen(labels, "w");
    if (!out)
        die("--labels %s: %s", labels, strerror(errno));
    F.devs = calloc(n, sizeof *F.devs);
    if (!F.devs)
        die("out of memory");
    for (size_t i = 0; i < n; i++) {
        struct dk_store_factory *f = calloc(1, sizeof *f);
        if (!f)
            die("out of memory");
        uint8_t r[8];
        dk_rng_bytes(&F.rng, r, sizeof r);
        char hex[17];
        dk_hex_encode(hex, sizeof hex, r, sizeof r);
        snprintf(f->endpoint, sizeof f->endpoint, "fl-%s", hex);
        snprintf(f->type, sizeof f->type, "LED");
        f->cred_type = DK_OOB_CRED_PSK;
        f->psk_len = 16;
        dk_rng_bytes(&F.rng, f->psk, f->psk_len);
        snprintf(f->bs_uri, sizeof f->bs_uri, "%s", bs_uri);
        f->channel = DK_OOB_CHANNEL_NONE;
        struct dk_oob_msg m;
        memset(&m, 0, sizeof m);
        snprintf(m.endpoint, sizeof m.endpoint, "%s", f->endpoint);
        snprintf(m.type, sizeof m.type, "LED");
        m.channel = DK_OOB_CHANNEL_NONE;
        m.cred_type = DK_OOB_CRED_PSK;
        memcpy(m.cred, f->psk, f->psk_len);
        m.cred_len = f->psk_len;
        char text[512];
        size_t len;
        if (dk_oob_format(&m, text, sizeof text, &len, NULL) != 0)
            die("cannot format a label");
        fprintf(out, "%.*s\n", (int)len, text);
        dk_oob_msg_wipe(&m);
        F.devs[i].f = f;
    }
    F.n = n;
    if (fclose(out) != 0)
        die("--labels %s: %s", labels, strerror(errno));
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static void totals(uint64_t *rx, uint64_t *retrans, uint64_t *timeouts)
{
    *rx = *retrans = *timeouts = 0;
    for (size_t i = 0; i < F.n; i++) {
        if (!F.devs[i].running)
            continue;
        const struct dk_coap_stats *s = dk_client_coap_stats(&F.devs[i].c);
        if (!s)
            continue;
        *rx += s->rx;
        *retrans += s->retransmissions;
        *timeouts += s->timeouts;
    }
}

/* ---- the loop -------------------------------------------------------------------- */

static void run_until(dk_time_t end, size_t concurrency, const char *bs_uri, bool onboarding)
{
    struct epoll_event evs[256];
    for (;;) {
        dk_time_t now = dk_clock_now();
        if (now >= end)
            return;
        if (onboarding) {
            while (F.next_start < F.n && F.onboarding < concurrency)
                start_device(&F.devs[F.next_start++], bs_uri, now);
            if (F.registered + F.failed >= F.n)
                return;
        }
        dk_time_t next = end;
        while (F.hn) {
            if (F.heap[0].t > now) {
                next = dk_time_min(next, F.heap[0].t);
                break;
            }
            struct heap_e e = heap_pop();
            struct fdev *d = &F.devs[e.i];
            if (d->deadline != e.t)
                continue; /* stale entry */
            d->deadline = DK_TIME_NEVER;
            on_timer(d, now);
        }
        int wait = next > now ? (int)(next - now) : 0;
        if (wait > 100)
            wait = 100;
        int k = epoll_wait(F.ep, evs, 256, wait);
        now = dk_clock_now();
        for (int i = 0; i < k; i++) {
            struct xport *x = evs[i].data.ptr;
            if (x->id)
                on_readable(x, now);
        }
    }
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: " PROG " (--factory DIR | --psk-devices N --labels FILE) [OPTIONS]\n"
                 "\n"
                 "Many LwM2M client engines in one process, each with its own UDP socket\n"
                 "(and DTLS session), onboarding against a gateway, then staying registered.\n"
                 "\n"
                 "  --factory DIR        devices of a duckling-factory batch (DIR/<endpoint>/)\n"
                 "  --psk-devices N      make N PSK devices here; their labels go to --labels\n"
                 "  --labels FILE        where --psk-devices writes the OOB labels, one a line\n"
                 "  --count N            use at most N devices of --factory\n"
                 "  --bs-uri URI         Bootstrap Server URI (default: the factory store's)\n"
                 "  --backend B          DTLS backend of the clients: gnutls (default) or mbedtls\n"
                 "  --concurrency C      devices onboarding at once (default 64)\n"
                 "  --timeout S          give up onboarding after S seconds (default 600)\n"
                 "  --wait-go            after 'ready N', wait for a line 'go' on stdin\n"
                 "  --hold S             then stay registered S seconds, counting updates\n"
                 "  --update-pm P        update after P per mille of the lifetime (default 500)\n"
                 "  --log-level L        error (default), warn, info, debug (stderr)\n"
                 "  --help, --version\n"
                 "\n"
                 "Output lines: ready N; onboarded N SECONDS RATE; failed N;\n"
                 "hold SECONDS UPDATES RATE RETRANSMISSIONS TIMEOUTS; rss KIB.\n"
                 "Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
    const char *factory = NULL, *labels = NULL, *bs_uri = NULL, *backend = "gnutls";
    const char *level = "error";
    size_t psk_n = 0, count = (size_t)-1, concurrency = 64;
    long timeout_s = 600, hold_s = 0;
    bool wait_go = false;
    static const struct option opts[] = {{"factory", required_argument, 0, 'f'},
                                         {"psk-devices", required_argument, 0, 'p'},
                                         {"labels", required_argument, 0, 'l'},
                                         {"count", required_argument, 0, 'n'},
                                         {"bs-uri", required_argument, 0, 'b'},
                                         {"backend", required_argument, 0, 'B'},
                                         {"concurrency", required_argument, 0, 'c'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"wait-go", no_argument, 0, 'g'},
                                         {"hold", required_argument, 0, 'H'},
                                         {"update-pm", required_argument, 0, 'u'},
                                         {"log-level", required_argument, 0, 'L'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        long v = 0;
        if (strchr("pnctHu", o)) {
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 0) {
                fprintf(stderr, PROG ": --%s: not a number: %s\n", opts[0].name, optarg);
                return 2;
            }
        }
        switch (o) {
        case 'f':
            factory = optarg;
            break;
        case 'p':
            psk_n = (size_t)v;
            break;
        case 'l':
            labels = optarg;
            break;
        case 'n':
            count = (size_t)v;
            break;
        case 'b':
            bs_uri = optarg;
            break;
        case 'B':
            backend = optarg;
            break;
        case 'c':
            concurrency = v ? (size_t)v : 1;
            break;
        case 't':
            timeout_s = v;
            break;
        case 'g':
            wait_go = true;
            break;
        case 'H':
            hold_s = v;
            break;
        case 'u':
            F.update_pm = (unsigned)v;
            break;
        case 'L':
            level = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf(PROG " %s\n", DK_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || (!factory == !psk_n) || (psk_n && (!labels || !bs_uri)) ||
        F.update_pm > 1000) {
        usage(stderr);
        return 2;
    }
    if (strcmp(backend, "gnutls") == 0)
        F.backend = dk_dtls_backend_gnutls();
    else if (strcmp(backend, "mbedtls") == 0)
        F.backend = dk_dtls_backend_mbedtls();
    else {
        fprintf(stderr, PROG ": --backend: gnutls or mbedtls, not %s\n", backend);
        return 2;
    }
    enum dk_log_level lv;
    if (dk_log_level_parse(level, &lv) != 0) {
        fprintf(stderr, PROG ": --log-level: %s\n", level);
        return 2;
    }
    dk_log_init_stderr(&F.log, lv);

    /* One socket per transport: lift the descriptor limit as far as we may. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    dk_rng_init(&F.rng);
    if (dk_rng_setup(&F.rng, PROG, strlen(PROG)) != 0)
        die("cannot seed the random generator");
    dk_coap_config_init(&F.coap);
    F.coap.rng = &F.rng;
    F.coap.log = &F.log;
    F.ep = epoll_create1(EPOLL_CLOEXEC);
    if (F.ep < 0)
        die("epoll: %s", strerror(errno));

    if (factory)
        load_factory_dir(factory, count);
    else
        make_psk_devices(psk_n, labels, bs_uri);
    if (!F.n)
        die("no devices");
    printf("ready %zu\n", F.n);
    fflush(stdout);
    if (wait_go) {
        char line[64];
        if (!fgets(line, sizeof line, stdin) || strncmp(line, "go", 2) != 0)
            die("no 'go' on stdin");
    }

    dk_time_t t0 = dk_clock_now();
    run_until(t0 + timeout_s * 1000, concurrency, bs_uri, true);
    dk_time_t t1 = dk_clock_now();
    double secs = (double)(t1 - t0) / 1000.0;
    for (size_t i = 0; i < F.n; i++)
        if (!F.devs[i].registered)
            F.failed++;
    printf("onboarded %zu %.3f %.1f\n", F.registered, secs, secs > 0 ? F.registered / secs : 0.0);
    if (F.failed)
        printf("failed %zu\n", F.failed);
    fflush(stdout);

    if (hold_s > 0) {
        uint64_t rx0, re0, to0, rx1, re1, to1;
        totals(&rx0, &re0, &to0);
        dk_time_t h0 = dk_clock_now();
        run_until(h0 + hold_s * 1000, 0, bs_uri, false);
        dk_time_t h1 = dk_clock_now();
        totals(&rx1, &re1, &to1);
        double hs = (double)(h1 - h0) / 1000.0;
        printf("hold %.3f %llu %.1f %llu %llu\n", hs, (unsigned long long)(rx1 - rx0),
               hs > 0 ? (double)(rx1 - rx0) / hs : 0.0, (unsigned long long)(re1 - re0),
               (unsigned long long)(to1 - to0));
        printf("rss %ld\n", rss_kib());
        fflush(stdout);
    }
    return F.failed ? 1 : 0;
}
