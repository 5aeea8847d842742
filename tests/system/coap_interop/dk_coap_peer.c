/* dk-coap-peer: a CoAP (and CoAP-over-DTLS) test server and client built on
 * duckling's engine and transport, for interop tests against libcoap.
 *
 *   dk-coap-peer server [--port P] [--bind IP] [DTLS options]
 *     resources: /hello (GET), /store (GET, PUT, POST, DELETE), /big (GET,
 *     3000 bytes served block-wise), /obs (GET, observable: a counter that is
 *     notified every --notify-ms, default 200). Prints "listening PORT" first.
 *   dk-coap-peer client [DTLS options] [--observe N] [--cf N] [--timeout-ms T]
 *                       METHOD URI [PAYLOAD]
 *     prints "CODE c.dd" and the payload ("NOTIFY seq payload" per
 *     notification); exit 0 on a 2.xx response, 1 otherwise.
 * DTLS options: --backend mbedtls|gnutls, --psk-id ID --psk KEY (ASCII),
 *   --cert DER --key DER [--ca DER] [--pin-any] [--rpk].
 */
#include <duckling/coap.h>
#include <duckling/dtls.h>
#include <duckling/endpoint.h>
#include <duckling/err.h>
#include <duckling/loop.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts {
    const char *backend;
    const char *psk_id, *psk;
    const char *cert, *key, *ca;
    bool pin_any, rpk;
    const char *bind;
    unsigned port;
    int observe;
    int cf;
    long timeout_ms;
    long notify_ms;
};

static uint8_t *loaded[3];
static size_t nloaded;

static void free_loaded(void)
{
    while (nloaded)
        free(loaded[--nloaded]);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "dk-coap-peer: %s: cannot open\n", path);
        exit(2);
    }
    uint8_t *buf = malloc(65536);
    *len = fread(buf, 1, 65536, f);
    fclose(f);
    if (nloaded < 3)
        loaded[nloaded++] = buf;
    return buf;
}

static const struct dk_dtls_backend *pick_backend(const char *name)
{
#ifdef DK_HAVE_GNUTLS
    if (name && strcmp(name, "gnutls") == 0)
        return dk_dtls_backend_gnutls();
#endif
    if (!name || strcmp(name, "mbedtls") == 0)
        return dk_dtls_backend_mbedtls();
    fprintf(stderr, "dk-coap-peer: --backend: %s not built\n", name);
    exit(2);
}

static int psk_lookup(void *user, const struct dk_addr *peer, const uint8_t *id, size_t idlen,
                      uint8_t *key, size_t cap, size_t *key_len)
{
    const struct opts *o = user;
    size_t n = strlen(o->psk);
    if (idlen != strlen(o->psk_id) || memcmp(id, o->psk_id, idlen) != 0 || n > cap)
        return DK_ENOTFOUND;
    memcpy(key, o->psk, n);
    *key_len = n;
    return 0;
}

/* Returns true when DTLS is asked for; fills cfg. */
static bool dtls_setup(struct dk_dtls_config *cfg, const struct opts *o, enum dk_dtls_role role,
                       struct dk_rng *rng)
{
    struct dk_dtls_params p = {0};
    p.role = role;
    p.rng = rng;
    if (o->psk_id && o->psk) {
        p.modes |= DK_DTLS_MODE_PSK;
        p.psk_identity = (const uint8_t *)o->psk_id;
        p.psk_identity_len = strlen(o->psk_id);
        p.psk = (const uint8_t *)o->psk;
        p.psk_len = strlen(o->psk);
        p.psk_lookup = psk_lookup;
        p.psk_lookup_user = (void *)o;
    }
    if (o->cert && o->key) {
        p.modes |= o->rpk ? DK_DTLS_MODE_RPK : DK_DTLS_MODE_CERT;
        p.cert_der = slurp(o->cert, &p.cert_der_len);
        p.key_der = slurp(o->key, &p.key_der_len);
        if (o->ca)
            p.ca_der = slurp(o->ca, &p.ca_der_len);
        p.pin_any = o->pin_any;
        p.require_client_cert = role == DK_DTLS_SERVER && !o->rpk && (o->ca || o->pin_any);
    }
    if (!p.modes)
        return false;
    dk_dtls_config_init(cfg);
    int rc = dk_dtls_config_setup(cfg, pick_backend(o->backend), &p);
    if (rc) {
        fprintf(stderr, "dk-coap-peer: dtls: %s\n", dk_strerror(rc));
        exit(1);
    }
    return true;
}

/* ---- server ---- */

struct server {
    uint8_t store[2048];
    size_t store_len;
    unsigned counter;
    struct dk_coap_ep *coap;
};

static void h_hello(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                    struct dk_coap_resp *resp)
{
    resp->msg.code = DK_COAP_CONTENT;
    dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_CONTENT_FORMAT, 0);
    dk_coap_msg_set_payload(&resp->msg, "hello world", 11);
}

static void h_store(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                    struct dk_coap_resp *resp)
{
    struct server *s = user;
    switch (req->msg->code) {
    case DK_COAP_GET:
        resp->msg.code = DK_COAP_CONTENT;
        dk_coap_msg_set_payload(&resp->msg, s->store, s->store_len);
        break;
    case DK_COAP_PUT:
    case DK_COAP_POST:
        if (req->payload_len > sizeof s->store) {
            resp->msg.code = DK_COAP_REQUEST_ENTITY_TOO_LARGE;
            break;
        }
        memcpy(s->store, req->payload, req->payload_len);
        s->store_len = req->payload_len;
        resp->msg.code = req->msg->code == DK_COAP_PUT ? DK_COAP_CHANGED : DK_COAP_CREATED;
        if (req->msg->code == DK_COAP_POST)
            dk_coap_msg_add_path(&resp->msg, "/store");
        break;
    case DK_COAP_DELETE:
        s->store_len = 0;
        resp->msg.code = DK_COAP_DELETED;
        break;
    }
}

static void h_big(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                  struct dk_coap_resp *resp)
{
    /* 3000 bytes: "0123456789" repeated, a line break every 100. */
    for (size_t i = 0; i < 3000; i++)
        resp->buf[i] = (i % 100 == 99) ? '\n' : (uint8_t)('0' + i % 10);
    resp->msg.code = DK_COAP_CONTENT;
    dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_CONTENT_FORMAT, 0);
    dk_coap_msg_set_payload(&resp->msg, resp->buf, 3000);
}

static void h_obs(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                  struct dk_coap_resp *resp)
{
    struct server *s = user;
    int n = snprintf((char *)resp->buf, resp->cap, "count %u", s->counter);
    resp->msg.code = DK_COAP_CONTENT;
    dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_CONTENT_FORMAT, 0);
    dk_coap_msg_set_payload(&resp->msg, resp->buf, (size_t)n);
    resp->observe = req->observe_id != 0;
}

struct ticker {
    struct server *srv;
    long every;
    dk_time_t next;
};

static dk_time_t notify_timer(void *user, dk_time_t now)
{
    struct ticker *t = user;
    if (t->next == 0)
        t->next = now + t->every;
    if (now >= t->next) {
        t->srv->counter++;
        dk_coap_ep_notify(t->srv->coap, "/obs", now);
        t->next = now + t->every;
    }
    return t->next;
}

static void on_sig(void *user, int sig, short revents, dk_time_t now)
{
    dk_loop_stop(user);
}

static int run_server(const struct opts *o)
{
    struct dk_rng rng;
    dk_rng_init(&rng);
    dk_rng_setup(&rng, "coap-peer", 9);
    struct dk_dtls_config dcfg;
    bool secure = dtls_setup(&dcfg, o, DK_DTLS_SERVER, &rng);
    struct dk_coap_config ccfg;
    dk_coap_config_init(&ccfg);
    ccfg.rng = &rng;
    struct dk_coap_ep coap;
    dk_coap_ep_init(&coap);
    if (dk_coap_ep_setup(&coap, &ccfg) != 0)
        return 1;
    struct server srv = {.coap = &coap};
    static struct dk_coap_resource res[4];
    res[0] = (struct dk_coap_resource){"/hello", DK_COAP_METHOD_BIT(DK_COAP_GET), h_hello, NULL};
    res[1] = (struct dk_coap_resource){"/store", 0, h_store, NULL};
    res[2] = (struct dk_coap_resource){"/big", DK_COAP_METHOD_BIT(DK_COAP_GET), h_big, NULL};
    res[3] = (struct dk_coap_resource){"/obs", DK_COAP_METHOD_BIT(DK_COAP_GET), h_obs, NULL};
    res[1].user = res[3].user = &srv;
    struct dk_coap_router router = {res, 4};
    dk_coap_ep_set_handler(&coap, dk_coap_router_handler, &router);

    struct dk_log log;
    dk_log_init_stderr(&log, getenv("DK_DEBUG") ? DK_LOG_DEBUG : DK_LOG_WARN);
    struct dk_endpoint e;
    dk_endpoint_init(&e);
    struct dk_endpoint_params p = {o->bind, (uint16_t)o->port, &coap, secure ? &dcfg : NULL, &log};
    int rc = dk_endpoint_setup(&e, &p);
    if (rc) {
        fprintf(stderr, "dk-coap-peer: listen: %s\n", dk_strerror(rc));
        return 1;
    }
    struct dk_loop loop;
    dk_loop_init(&loop);
    dk_endpoint_attach(&e, &loop);
    struct ticker t = {&srv, o->notify_ms, 0};
    dk_loop_add_timer(&loop, notify_timer, &t);
    const int sigs[] = {SIGTERM, SIGINT, 0};
    dk_loop_watch_signals(&loop, sigs, on_sig, &loop);
    printf("listening %u\n", dk_addr_port(dk_endpoint_local(&e)));
    fflush(stdout);
    rc = dk_loop_run(&loop);
    dk_endpoint_free(&e);
    dk_loop_free(&loop);
    dk_coap_ep_free(&coap);
    if (secure)
        dk_dtls_config_free(&dcfg);
    dk_rng_free(&rng);
    return rc ? 1 : 0;
}

/* ---- client ---- */

struct client {
    struct dk_loop *loop;
    int want_notifications;
    int notifications;
    int status; /* exit code */
    bool done;
};

static void print_payload(const uint8_t *p, size_t n)
{
    if (n)
        fwrite(p, 1, n, stdout);
    if (n && p[n - 1] != '\n')
        putchar('\n');
}

static void on_response(struct dk_coap_ep *ep, void *user, uint32_t id,
                        const struct dk_coap_result *res)
{
    struct client *c = user;
    if (res->status) {
        printf("ERROR %s\n", dk_strerror(res->status));
        c->status = 1;
        c->done = true;
        dk_loop_stop(c->loop);
        return;
    }
    char code[8];
    dk_coap_code_format(res->msg->code, code, sizeof code);
    if (res->notification) {
        c->notifications++;
        printf("NOTIFY %u ", res->observe_seq);
    } else {
        printf("CODE %s\n", code);
        c->status = (res->msg->code >> 5) == 2 ? 0 : 1;
    }
    print_payload(res->payload, res->payload_len);
    fflush(stdout);
    if (c->notifications >= c->want_notifications || !res->observing) {
        c->done = true;
        dk_loop_stop(c->loop);
    }
}

static int run_client(const struct opts *o, const char *method, const char *uri,
                      const char *payload)
{
    struct dk_uri u;
    struct dk_addr peer;
    if (dk_uri_parse(uri, &u) != 0 || dk_uri_resolve(&u, &peer) != 0) {
        fprintf(stderr, "dk-coap-peer: %s: bad URI\n", uri);
        return 2;
    }
    const char *path = u.path;
    static const struct {
        const char *name;
        uint8_t code;
    } methods[] = {{"GET", DK_COAP_GET}, {"POST", DK_COAP_POST}, {"PUT", DK_COAP_PUT},
                   {"DELETE", DK_COAP_DELETE}};
    uint8_t m = 0;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(method, methods[i].name) == 0)
            m = methods[i].code;
    if (!m)
        return 2;
    struct dk_rng rng;
    dk_rng_init(&rng);
    dk_rng_setup(&rng, "coap-peer-client", 16);
    struct dk_dtls_config dcfg;
    bool secure = dtls_setup(&dcfg, o, DK_DTLS_CLIENT, &rng);
    if (secure != u.secure) {
        fprintf(stderr, "dk-coap-peer: %s: scheme and DTLS options disagree\n", uri);
        return 2;
    }
    struct dk_coap_config ccfg;
    dk_coap_config_init(&ccfg);
    ccfg.rng = &rng;
    struct dk_coap_ep coap;
    dk_coap_ep_init(&coap);
    dk_coap_ep_setup(&coap, &ccfg);
    struct dk_log log;
    dk_log_init_stderr(&log, getenv("DK_DEBUG") ? DK_LOG_DEBUG : DK_LOG_WARN);
    struct dk_endpoint e;
    dk_endpoint_init(&e);
    struct dk_endpoint_params p = {peer.u.sa.sa_family == AF_INET6 ? "::" : "0.0.0.0", 0, &coap,
                                   secure ? &dcfg : NULL, &log};
    if (dk_endpoint_setup(&e, &p) != 0)
        return 1;
    struct dk_loop loop;
    dk_loop_init(&loop);
    dk_endpoint_attach(&e, &loop);
    struct client c = {&loop, o->observe, 0, 1, false};
    struct dk_coap_client_req r;
    dk_coap_client_req_init(&r, m, path && *path ? path : "/");
    if (payload) {
        r.payload = (const uint8_t *)payload;
        r.payload_len = strlen(payload);
    }
    r.content_format = o->cf;
    r.observe = o->observe > 0;
    r.cb = on_response;
    r.cb_user = &c;
    dk_time_t start = dk_clock_now();
    int rc = dk_coap_ep_request(&coap, &peer, &r, start, NULL);
    if (rc) {
        fprintf(stderr, "dk-coap-peer: request: %s\n", dk_strerror(rc));
        return 1;
    }
    dk_endpoint_flush(&e, start);
    while (!c.done && dk_clock_now() - start < o->timeout_ms)
        dk_loop_run_once(&loop, 100);
    if (!c.done)
        printf("ERROR no answer in %ld ms\n", o->timeout_ms);
    dk_endpoint_free(&e);
    dk_loop_free(&loop);
    dk_coap_ep_free(&coap);
    if (secure)
        dk_dtls_config_free(&dcfg);
    dk_rng_free(&rng);
    return c.done ? c.status : 1;
}

int main(int argc, char **argv)
{
    atexit(free_loaded);
    struct opts o = {.bind = "127.0.0.1", .cf = -1, .timeout_ms = 10000, .notify_ms = 200};
    static const struct option lo[] = {
        {"backend", required_argument, 0, 'b'}, {"psk-id", required_argument, 0, 'i'},
        {"psk", required_argument, 0, 'k'},     {"cert", required_argument, 0, 'c'},
        {"key", required_argument, 0, 'K'},     {"ca", required_argument, 0, 'a'},
        {"pin-any", no_argument, 0, 'P'},       {"rpk", no_argument, 0, 'R'},
        {"bind", required_argument, 0, 'B'},    {"port", required_argument, 0, 'p'},
        {"observe", required_argument, 0, 'o'}, {"cf", required_argument, 0, 'f'},
        {"timeout-ms", required_argument, 0, 't'}, {"notify-ms", required_argument, 0, 'n'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'b': o.backend = optarg; break;
        case 'i': o.psk_id = optarg; break;
        case 'k': o.psk = optarg; break;
        case 'c': o.cert = optarg; break;
        case 'K': o.key = optarg; break;
        case 'a': o.ca = optarg; break;
        case 'P': o.pin_any = true; break;
        case 'R': o.rpk = true; break;
        case 'B': o.bind = optarg; break;
        case 'p': o.port = (unsigned)atoi(optarg); break;
        case 'o': o.observe = atoi(optarg); break;
        case 'f': o.cf = atoi(optarg); break;
        case 't': o.timeout_ms = atol(optarg); break;
        case 'n': o.notify_ms = atol(optarg); break;
        default: return 2;
        }
    }
    if (optind < argc && strcmp(argv[optind], "backends") == 0) {
#ifdef DK_HAVE_GNUTLS
        puts("mbedtls gnutls");
#else
        puts("mbedtls");
#endif
        return 0;
    }
    if (optind < argc && strcmp(argv[optind], "server") == 0)
        return run_server(&o);
    if (optind + 2 < argc && strcmp(argv[optind], "client") == 0)
        return run_client(&o, argv[optind + 1], argv[optind + 2],
                          optind + 3 < argc ? argv[optind + 3] : NULL);
    fprintf(stderr, "usage: dk-coap-peer server|client ... (see source)\n");
    return 2;
}
