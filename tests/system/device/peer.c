/* dk-device-peer — a scripted LwM2M Bootstrap Server and LwM2M Server for the
 * duckling-device system tests, on our own CoAP engine (dk_coap_ep) over
 * plain UDP on 127.0.0.1. Not a product: just enough server to drive the
 * daemon and print, one line per event on stdout, what it saw:
 *
 *   listening PORT
 *   bs-request ep=EP from ADDR [refused] (2.04, or 4.03 where --bs-plan says
 *                                         "refuse" for this request: ok,refuse,ok...)
 *   bs-delete / CODE
 *   bs-write /0/1 CODE                  (server account: --server-uri, NoSec)
 *   bs-write /1/1 CODE                  (lifetime --lifetime, binding U)
 *   bs-write /12/0 CODE                 (only with --wifi-ssid/--wifi-psk)
 *   bs-finish CODE
 *   register ep=EP lt=S lwm2m=V b=B from ADDR at /rd/N links=LINKS
 *   update /rd/N query=Q links=LINKS
 *   deregister /rd/N
 *   response ID CODE cf=CF hex=HEX      (to a command from stdin)
 *   notify ID seq=N cf=CF hex=HEX       (an observation's notification)
 *   error ID WHY
 *
 * Commands on stdin (one per line; sent to the last registered device):
 *   get PATH [ACCEPT]      observe PATH [ACCEPT]     cancel ID
 *   put PATH CF HEX        post PATH [CF HEX]        delete PATH
 *   discover PATH          attr PATH QUERY (Write-Attributes: PUT with query)
 *   quit
 * Each command gets an ID (1, 2, ...) in order.
 */
#include <duckling/addr.h>
#include <duckling/coap.h>
#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/log.h>
#include <duckling/loop.h>
#include <duckling/lwm2m.h>
#include <duckling/rng.h>
#include <duckling/dtls.h>
#include <duckling/endpoint.h>
#include <duckling/mem.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct peer {
    struct dk_endpoint e;
    struct dk_dtls_config dtls; /* server role, PSK, when --psk is given */
    bool secure;
    /* --psk ID:HEX, repeatable: identities the DTLS server accepts. */
    struct {
        char id[DK_DTLS_PSK_ID_MAX + 1];
        uint8_t key[DK_DTLS_PSK_MAX];
        size_t key_len;
    } psks[4];
    size_t npsk;
    int server_psk; /* index into psks written as the server account, -1: NoSec */
    struct dk_coap_config cfg;
    struct dk_coap_ep ep;
    struct dk_rng rng;
    struct dk_loop loop;
    struct dk_log log;
    /* options */
    const char *server_uri; /* NULL: coap://127.0.0.1:<own port> */
    long lifetime;
    const char *wifi_ssid, *wifi_psk;
    const char *bs_plan; /* "ok,refuse,..." per Bootstrap-Request; then ok */
    unsigned bs_count;
    uint32_t bs_xid;        /* the outstanding bootstrap exchange */
    const char *exit_after; /* "register", "deregister", "bootstrap" */
    /* state */
    struct dk_addr device; /* last registered (or bootstrapping) device */
    bool have_device;
    int bs_step;
    struct dk_addr bs_peer;
    int next_rd;
    char rd_loc[16];
    unsigned cmd_id;
    char line[4096];
    size_t line_len;
    int exit_code;
};

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void hex_of(const uint8_t *p, size_t n, char *buf, size_t cap)
{
    if (n * 2 + 1 > cap)
        n = (cap - 1) / 2;
    dk_hex_encode(buf, cap, p, n);
}

static void code_str(uint8_t code, char *buf)
{
    dk_coap_code_format(code, buf, 8);
}

static void maybe_exit(struct peer *p, const char *event)
{
    if (p->exit_after && strcmp(p->exit_after, event) == 0)
        dk_loop_stop(&p->loop);
}

/* ---------------------------------------------------------- bootstrap --- */

static void flush(struct peer *p);

static void bs_next(struct peer *p, dk_time_t now);

static void bs_response(struct dk_coap_ep *ep, void *user, uint32_t id,
                        const struct dk_coap_result *res)
{
    struct peer *p = user;
    if (id != p->bs_xid)
        return; /* an earlier bootstrap that a newer Bootstrap-Request replaced */
    static const char *names[] = {"bs-delete /", "bs-write /0/1", "bs-write /1/1", "bs-write /12/0",
                                  "bs-finish"};
    char code[8] = "timeout";
    if (res->status == 0)
        code_str(res->msg->code, code);
    else
        snprintf(code, sizeof code, "err%d", res->status);
    out("%s %s", names[p->bs_step], code);
    if (res->status != 0 || DK_COAP_CODE_CLASS(res->msg->code) != 2) {
        p->bs_step = -1;
        return;
    }
    if (p->bs_step == 4) {
        p->bs_step = -1;
        maybe_exit(p, "bootstrap");
        return;
    }
    p->bs_step++;
    if (p->bs_step == 3 && !p->wifi_ssid)
        p->bs_step++;
    (void)ep;
    bs_next(p, dk_clock_now());
}

static int tlv_of(const struct dk_lwm2m_path *base, const struct dk_lwm2m_record *recs, size_t n,
                  uint8_t *buf, size_t cap, size_t *len)
{
    struct dk_buf b;
    dk_buf_init(&b, buf, cap);
    int rc = dk_lwm2m_encode(DK_LWM2M_CF_TLV, base, recs, n, &b);
    *len = b.len;
    return rc;
}

static void bs_next(struct peer *p, dk_time_t now)
{
    struct dk_coap_client_req r;
    uint8_t body[512];
    size_t len = 0;
    char uri[300];
    if (p->server_uri)
        snprintf(uri, sizeof uri, "%s", p->server_uri);
    else
        snprintf(uri, sizeof uri, "%s://127.0.0.1:%u", p->secure ? "coaps" : "coap",
                 dk_addr_port(dk_endpoint_local(&p->e)));
    switch (p->bs_step) {
    case 0:
        dk_coap_client_req_init(&r, DK_COAP_DELETE, "/");
        break;
    case 1: {
        struct dk_lwm2m_path base = dk_lwm2m_path_inst(0, 1);
        struct dk_lwm2m_record recs[] = {
            {dk_lwm2m_path_res(0, 1, 0), dk_lwm2m_str(uri), 0},
            {dk_lwm2m_path_res(0, 1, 1), dk_lwm2m_bool(false), 0},
            {dk_lwm2m_path_res(0, 1, 2), dk_lwm2m_int(p->server_psk >= 0 ? 0 : 3), 0},
            {dk_lwm2m_path_res(0, 1, 3),
             p->server_psk >= 0
                 ? dk_lwm2m_opaque(p->psks[p->server_psk].id, strlen(p->psks[p->server_psk].id))
                 : dk_lwm2m_opaque("", 0),
             0},
            {dk_lwm2m_path_res(0, 1, 4), dk_lwm2m_opaque("", 0), 0},
            {dk_lwm2m_path_res(0, 1, 5),
             p->server_psk >= 0
                 ? dk_lwm2m_opaque(p->psks[p->server_psk].key, p->psks[p->server_psk].key_len)
                 : dk_lwm2m_opaque("", 0),
             0},
            {dk_lwm2m_path_res(0, 1, 10), dk_lwm2m_int(1), 0},
        };
        if (tlv_of(&base, recs, sizeof recs / sizeof recs[0], body, sizeof body, &len) != 0)
            abort();
        dk_coap_client_req_init(&r, DK_COAP_PUT, "/0/1");
        break;
    }
    case 2: {
        struct dk_lwm2m_path base = dk_lwm2m_path_inst(1, 1);
        struct dk_lwm2m_record recs[] = {
            {dk_lwm2m_path_res(1, 1, 0), dk_lwm2m_int(1), 0},
            {dk_lwm2m_path_res(1, 1, 1), dk_lwm2m_int(p->lifetime), 0},
            {dk_lwm2m_path_res(1, 1, 6), dk_lwm2m_bool(false), 0},
            {dk_lwm2m_path_res(1, 1, 7), dk_lwm2m_str("U"), 0},
        };
        if (tlv_of(&base, recs, sizeof recs / sizeof recs[0], body, sizeof body, &len) != 0)
            abort();
        dk_coap_client_req_init(&r, DK_COAP_PUT, "/1/1");
        break;
    }
    case 3: {
        struct dk_lwm2m_path base = dk_lwm2m_path_inst(12, 0);
        struct dk_lwm2m_record recs[] = {
            {dk_lwm2m_path_res(12, 0, 0), dk_lwm2m_str("wlan0"), 0},
            {dk_lwm2m_path_res(12, 0, 1), dk_lwm2m_bool(true), 0},
            {dk_lwm2m_path_res(12, 0, 5), dk_lwm2m_str(p->wifi_ssid), 0},
            {dk_lwm2m_path_res(12, 0, 8), dk_lwm2m_int(1), 0},  /* client */
            {dk_lwm2m_path_res(12, 0, 15), dk_lwm2m_int(2), 0}, /* WPA2-PSK */
            {dk_lwm2m_path_res(12, 0, 18), dk_lwm2m_str(p->wifi_psk), 0},
        };
        if (tlv_of(&base, recs, sizeof recs / sizeof recs[0], body, sizeof body, &len) != 0)
            abort();
        dk_coap_client_req_init(&r, DK_COAP_PUT, "/12/0");
        break;
    }
    default:
        dk_coap_client_req_init(&r, DK_COAP_POST, "/bs");
        break;
    }
    if (len) {
        r.content_format = DK_COAP_FMT_LWM2M_TLV;
        r.payload = body;
        r.payload_len = len;
    }
    r.cb = bs_response;
    r.cb_user = p;
    int rc = dk_coap_ep_request(&p->ep, &p->bs_peer, &r, now, &p->bs_xid);
    if (rc != 0)
        out("error bs %s", dk_strerror(rc));
}

static dk_time_t bs_start_timer(void *user, dk_time_t now)
{
    struct peer *p = user;
    if (p->bs_step == 100) { /* requested: start after the 2.04 went out */
        p->bs_step = 0;
        bs_next(p, now);
        flush(p);
    }
    return DK_TIME_NEVER;
}

/* ---------------------------------------------------------- requests --- */

static void query_str(const struct dk_coap_msg *m, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (const struct dk_coap_opt *o = dk_coap_msg_find(m, DK_COAP_OPT_URI_QUERY); o;
         o = dk_coap_msg_find_next(m, o)) {
        int w = snprintf(buf + n, cap - n, "%s%.*s", n ? "&" : "", (int)o->len,
                         (const char *)dk_coap_opt_value(o));
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
}

static void get_q(const struct dk_coap_msg *m, const char *key, char *buf, size_t cap)
{
    const uint8_t *v;
    size_t n;
    if (dk_coap_msg_get_query(m, key, &v, &n) != 0) {
        snprintf(buf, cap, "-");
        return;
    }
    snprintf(buf, cap, "%.*s", (int)n, (const char *)v);
}

/* Item n (from 0) of a comma-separated plan is "refuse". */
static bool plan_says_refuse(const char *plan, unsigned n)
{
    if (!plan)
        return false;
    const char *s = plan;
    for (unsigned i = 0; i < n; i++) {
        s = strchr(s, ',');
        if (!s)
            return false;
        s++;
    }
    return strncmp(s, "refuse", 6) == 0;
}

static void handler(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                    struct dk_coap_resp *resp)
{
    struct peer *p = user;
    const struct dk_coap_msg *m = req->msg;
    char from[DK_ADDR_STRLEN], path[128];
    dk_addr_format(req->peer, from, sizeof from);
    dk_coap_msg_get_path(m, DK_COAP_OPT_URI_PATH, path, sizeof path);
    char links[1024];
    snprintf(links, sizeof links, "%.*s", (int)req->payload_len, (const char *)req->payload);
    (void)ep;
    if (m->code == DK_COAP_POST && strcmp(path, "/bs") == 0) {
        char ep_name[128];
        get_q(m, "ep", ep_name, sizeof ep_name);
        bool refuse = plan_says_refuse(p->bs_plan, p->bs_count++);
        out("bs-request ep=%s from %s%s", ep_name, from, refuse ? " refused" : "");
        if (refuse) {
            resp->msg.code = DK_COAP_FORBIDDEN;
            return;
        }
        resp->msg.code = DK_COAP_CHANGED;
        p->bs_peer = *req->peer;
        p->bs_step = 100;
        return;
    }
    if (m->code == DK_COAP_POST && strcmp(path, "/rd") == 0) {
        char epn[128], lt[32], ver[32], b[32];
        get_q(m, "ep", epn, sizeof epn);
        get_q(m, "lt", lt, sizeof lt);
        get_q(m, "lwm2m", ver, sizeof ver);
        get_q(m, "b", b, sizeof b);
        snprintf(p->rd_loc, sizeof p->rd_loc, "%d", ++p->next_rd);
        out("register ep=%s lt=%s lwm2m=%s b=%s from %s at /rd/%s links=%s", epn, lt, ver, b, from,
            p->rd_loc, links);
        p->device = *req->peer;
        p->have_device = true;
        resp->msg.code = DK_COAP_CREATED;
        dk_coap_msg_add_str(&resp->msg, DK_COAP_OPT_LOCATION_PATH, "rd");
        dk_coap_msg_add_str(&resp->msg, DK_COAP_OPT_LOCATION_PATH, p->rd_loc);
        maybe_exit(p, "register");
        return;
    }
    if (strncmp(path, "/rd/", 4) == 0 && (m->code == DK_COAP_POST || m->code == DK_COAP_DELETE)) {
        if (m->code == DK_COAP_POST) {
            char q[256];
            query_str(m, q, sizeof q);
            out("update %s query=%s links=%s", path, q, links);
            p->device = *req->peer;
            resp->msg.code = DK_COAP_CHANGED;
        } else {
            out("deregister %s", path);
            resp->msg.code = DK_COAP_DELETED;
            maybe_exit(p, "deregister");
        }
        return;
    }
    out("unexpected %u %s from %s", m->code, path, from);
    resp->msg.code = DK_COAP_NOT_FOUND;
}

/* ---------------------------------------------------------- commands --- */

static void cmd_response(struct dk_coap_ep *ep, void *user, uint32_t id,
                         const struct dk_coap_result *res)
{
    unsigned cmd = (unsigned)(uintptr_t)user;
    (void)ep;
    (void)id;
    if (res->status != 0) {
        out("error %u %s", cmd, dk_strerror(res->status));
        return;
    }
    char code[8], hex[4096];
    uint32_t cf = 65535;
    code_str(res->msg->code, code);
    dk_coap_msg_get_uint(res->msg, DK_COAP_OPT_CONTENT_FORMAT, &cf);
    hex_of(res->payload, res->payload_len, hex, sizeof hex);
    if (res->notification)
        out("notify %u seq=%u cf=%u hex=%s", cmd, res->observe_seq, cf, hex);
    else
        out("response %u %s cf=%u hex=%s%s", cmd, code, cf, hex,
            res->observing ? " observing" : "");
}

static uint32_t cmd_ids[1024]; /* command number -> engine exchange id */

static void run_command(struct peer *p, char *line, dk_time_t now)
{
    char *words[5] = {0};
    int nw = 0;
    for (char *s = strtok(line, " \t"); s && nw < 5; s = strtok(NULL, " \t"))
        words[nw++] = s;
    if (nw == 0)
        return;
    unsigned id = ++p->cmd_id;
    if (strcmp(words[0], "quit") == 0) {
        dk_loop_stop(&p->loop);
        return;
    }
    if (!p->have_device) {
        out("error %u no device registered", id);
        return;
    }
    struct dk_coap_client_req r;
    uint8_t body[1024];
    size_t blen = 0;
    const char *cmd = words[0], *path = nw > 1 ? words[1] : "/";
    if (strcmp(cmd, "cancel") == 0) {
        unsigned which = (unsigned)atoi(path);
        int rc =
            which < 1024 ? dk_coap_ep_observe_cancel(&p->ep, cmd_ids[which], now) : DK_ENOTFOUND;
        if (rc != 0)
            out("error %u %s", id, dk_strerror(rc));
        return;
    }
    if (strcmp(cmd, "get") == 0 || strcmp(cmd, "observe") == 0 || strcmp(cmd, "discover") == 0) {
        dk_coap_client_req_init(&r, DK_COAP_GET, path);
        if (nw > 2)
            r.accept = atoi(words[2]);
        if (strcmp(cmd, "discover") == 0)
            r.accept = DK_COAP_FMT_LINK;
        r.observe = strcmp(cmd, "observe") == 0;
    } else if (strcmp(cmd, "put") == 0 || strcmp(cmd, "post") == 0) {
        dk_coap_client_req_init(&r, cmd[1] == 'u' ? DK_COAP_PUT : DK_COAP_POST, path);
        if (nw > 3) {
            r.content_format = atoi(words[2]);
            if (dk_hex_decode(body, sizeof body, words[3], strlen(words[3]), &blen) != 0) {
                out("error %u bad hex", id);
                return;
            }
            r.payload = body;
            r.payload_len = blen;
        }
    } else if (strcmp(cmd, "delete") == 0) {
        dk_coap_client_req_init(&r, DK_COAP_DELETE, path);
    } else if (strcmp(cmd, "attr") == 0 && nw > 2) {
        dk_coap_client_req_init(&r, DK_COAP_PUT, path);
        r.query = words[2];
    } else {
        out("error %u unknown command", id);
        return;
    }
    r.cb = cmd_response;
    r.cb_user = (void *)(uintptr_t)id;
    uint32_t xid = 0;
    int rc = dk_coap_ep_request(&p->ep, &p->device, &r, now, &xid);
    if (rc != 0)
        out("error %u %s", id, dk_strerror(rc));
    else if (id < 1024)
        cmd_ids[id] = xid;
}

static void on_stdin(void *user, int fd, short revents, dk_time_t now)
{
    struct peer *p = user;
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
        dk_loop_remove_fd(&p->loop, fd); /* EOF: keep serving until killed */
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            p->line[p->line_len] = 0;
            run_command(p, p->line, now);
            flush(p);
            p->line_len = 0;
        } else if (p->line_len + 1 < sizeof p->line) {
            p->line[p->line_len++] = buf[i];
        }
    }
    (void)revents;
}

/* ---------------------------------------------------------- transport --- */

static void flush(struct peer *p)
{
    dk_endpoint_flush(&p->e, dk_clock_now());
}

/* DTLS server: the key for an identity given with --psk. */
static int psk_lookup(void *user, const struct dk_addr *peer, const uint8_t *identity,
                      size_t identity_len, uint8_t *key, size_t key_cap, size_t *key_len)
{
    struct peer *p = user;
    (void)peer;
    for (size_t i = 0; i < p->npsk; i++) {
        if (strlen(p->psks[i].id) != identity_len ||
            memcmp(p->psks[i].id, identity, identity_len) != 0 || p->psks[i].key_len > key_cap)
            continue;
        memcpy(key, p->psks[i].key, p->psks[i].key_len);
        *key_len = p->psks[i].key_len;
        return 0;
    }
    out("dtls unknown-identity %.*s", (int)identity_len, (const char *)identity);
    return DK_ENOTFOUND;
}

static void on_endpoint_event(void *user, const struct dk_addr *peer, enum dk_endpoint_event ev,
                              const struct dk_dtls_peer_info *info, int err)
{
    char a[DK_ADDR_STRLEN];
    (void)user;
    dk_addr_format(peer, a, sizeof a);
    if (ev == DK_ENDPOINT_CONNECTED)
        out("dtls up %s identity=%.*s", a, (int)info->psk_identity_len,
            (const char *)info->psk_identity);
    else
        out("dtls closed %s %s", a, err ? dk_strerror(err) : "ok");
}

/* "ID:HEX" into the next PSK slot. */
static bool add_psk(struct peer *p, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || p->npsk == 4 || (size_t)(colon - arg) > DK_DTLS_PSK_ID_MAX)
        return false;
    memcpy(p->psks[p->npsk].id, arg, (size_t)(colon - arg));
    if (dk_hex_decode(p->psks[p->npsk].key, DK_DTLS_PSK_MAX, colon + 1, strlen(colon + 1),
                      &p->psks[p->npsk].key_len) != 0)
        return false;
    p->npsk++;
    return true;
}

static void on_signal(void *user, int sig, short revents, dk_time_t now)
{
    struct peer *p = user;
    (void)sig;
    (void)revents;
    (void)now;
    dk_loop_stop(&p->loop);
}

static void usage(void)
{
    fputs("usage: dk-device-peer [--port P] [--server-uri URI] [--lifetime S]\n"
          "       [--wifi-ssid S --wifi-psk K] [--bs-plan ok,refuse,...]\n"
          "       [--exit-after register|deregister|bootstrap]\n"
          "       [--psk ID:HEX]... [--server-psk ID:HEX]  (coaps://: DTLS PSK server)\n",
          stderr);
}

int main(int argc, char **argv)
{
    static struct peer p;
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"server-uri", required_argument, NULL, 's'},
        {"lifetime", required_argument, NULL, 'l'},
        {"wifi-ssid", required_argument, NULL, 'w'},
        {"wifi-psk", required_argument, NULL, 'k'},
        {"bs-plan", required_argument, NULL, 'r'},
        {"exit-after", required_argument, NULL, 'x'},
        {"debug", no_argument, NULL, 'd'},
        {"psk", required_argument, NULL, 'P'},
        {"server-psk", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    long port = 0;
    int c;
    bool debug = false;
    p.lifetime = 300;
    p.bs_step = -1;
    p.server_psk = -1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            port = atol(optarg);
            break;
        case 's':
            p.server_uri = optarg;
            break;
        case 'l':
            p.lifetime = atol(optarg);
            break;
        case 'w':
            p.wifi_ssid = optarg;
            break;
        case 'k':
            p.wifi_psk = optarg;
            break;
        case 'r':
            p.bs_plan = optarg;
            break;
        case 'x':
            p.exit_after = optarg;
            break;
        case 'd':
            debug = true;
            break;
        case 'P':
            if (!add_psk(&p, optarg)) {
                usage();
                return 2;
            }
            break;
        case 'S':
            if (!add_psk(&p, optarg)) {
                usage();
                return 2;
            }
            p.server_psk = (int)p.npsk - 1;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (!p.wifi_ssid != !p.wifi_psk) {
        usage();
        return 2;
    }
    dk_log_init_stderr(&p.log, debug ? DK_LOG_DEBUG : DK_LOG_WARN);
    dk_rng_init(&p.rng);
    if (dk_rng_setup(&p.rng, "peer", 4) != 0)
        return 1;
    dk_coap_config_init(&p.cfg);
    p.cfg.rng = &p.rng;
    p.cfg.log = &p.log;
    /* Tests start many devices, each from fresh ports: room for them all. */
    p.cfg.max_peers = 4096;
    p.cfg.max_dedup = 4096;
    p.cfg.max_exchanges = 256;
    p.cfg.max_observers = 64;
    dk_coap_ep_init(&p.ep);
    if (dk_coap_ep_setup(&p.ep, &p.cfg) != 0)
        return 1;
    dk_coap_ep_set_handler(&p.ep, handler, &p);
    p.secure = p.npsk > 0;
    if (p.secure) {
        struct dk_dtls_params dp = {0};
        dp.role = DK_DTLS_SERVER;
        dp.modes = DK_DTLS_MODE_PSK;
        dp.psk_lookup = psk_lookup;
        dp.psk_lookup_user = &p;
        dp.rng = &p.rng;
        dp.log = &p.log;
        dk_dtls_config_init(&p.dtls);
        if (dk_dtls_config_setup(&p.dtls, dk_dtls_backend_mbedtls(), &dp) != 0) {
            fprintf(stderr, "dk-device-peer: DTLS configuration failed\n");
            return 1;
        }
    }
    dk_loop_init(&p.loop);
    dk_endpoint_init(&p.e);
    struct dk_endpoint_params ep = {
        .bind_ip = "127.0.0.1",
        .bind_port = (uint16_t)port,
        .coap = &p.ep,
        .dtls = p.secure ? &p.dtls : NULL,
        .log = &p.log,
    };
    if (dk_endpoint_setup(&p.e, &ep) != 0) {
        fprintf(stderr, "dk-device-peer: bind 127.0.0.1:%ld: %s\n", port, strerror(errno));
        return 1;
    }
    dk_endpoint_set_event_cb(&p.e, on_endpoint_event, &p);
    static const int sigs[] = {SIGTERM, SIGINT, 0};
    dk_loop_watch_signals(&p.loop, sigs, on_signal, &p);
    dk_endpoint_attach(&p.e, &p.loop);
    dk_loop_add_fd(&p.loop, STDIN_FILENO, POLLIN, on_stdin, &p);
    dk_loop_add_timer(&p.loop, bs_start_timer, &p);
    out("listening %u", dk_addr_port(dk_endpoint_local(&p.e)));
    /* The loop re-runs every timer after an event, so bs_start_timer sees a
     * Bootstrap-Request right after its 2.04 went out. */
    dk_loop_run(&p.loop);
    flush(&p);
    dk_endpoint_free(&p.e);
    dk_loop_free(&p.loop);
    dk_coap_ep_free(&p.ep);
    if (p.secure)
        dk_dtls_config_free(&p.dtls);
    dk_rng_free(&p.rng);
    return p.exit_code;
}
