// dk-fuzz-libs: dk_server dk_coap dk_lwm2m dk_base
/* libFuzzer target for the LwM2M Server engine: arbitrary datagrams into the
 * CoAP endpoint the engine serves (registrations, updates, responses and
 * notifications to its requests), interleaved with the program's calls.
 *
 * The input is a sequence of records: [op][len lo][len hi][data...].
 *  op bits 0-1: which of 4 peers sent the datagram
 *  op bits 2-3: 0 feed the datagram;
 *               1 start an operation on "dev<data[0] % 4>": kind data[1] % 9,
 *                 accept/format from data[2], flags data[3] (raw payload or
 *                 a record, attribute bits), path from data[4..] as text up
 *                 to a space, the rest as payload / record value;
 *               2 the program acts: data[0] % 4 = cancel, observe-cancel (op
 *                 id data[1]), forget dev<data[1] % 4>, restore a registration
 *                 built from data;
 *               3 answer the last datagram the engine sent to the peer:
 *                 code data[0] (0: RST), content format and Observe from
 *                 data[1], payload the rest
 *  op bits 4-7: time that passes before the record, in 4 s steps
 * Endpoints named "evil" are refused by authorize; persist fails now and
 * then. Every result's records are walked. Tokens are 1 byte long so that
 * fuzzed responses can match the engine's requests. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <duckling/err.h>
#include <duckling/lwm2m_server.h>

struct fz {
    struct dk_addr peers[4];
    unsigned persists;
    struct dk_server *s;
};

static int authorize(void *user, const struct dk_server_auth *a)
{
    return strcmp(a->ep, "evil") == 0 ? DK_EPERM : 0;
}

static int persist(void *user, const struct dk_server_reg_info *r, bool removed)
{
    struct fz *f = user;
    volatile size_t sink = strlen(r->ep) + r->links_len + strlen(r->location);
    (void)sink;
    return ++f->persists % 11 == 10 ? DK_EIO : 0;
}

static void on_event(void *user, const struct dk_server_event *ev)
{
    volatile size_t sink = ev->ep ? strlen(ev->ep) : 0;
    (void)sink;
}

static void on_result(void *user, const struct dk_server_result *r)
{
    struct fz *f = user;
    volatile uint64_t sink = 0;
    for (size_t i = 0; i < r->n_recs; i++) {
        sink += r->recs[i].path.len;
        if (r->recs[i].value.type == DK_LWM2M_TYPE_STRING ||
            r->recs[i].value.type == DK_LWM2M_TYPE_OPAQUE)
            for (size_t k = 0; k < r->recs[i].value.v.bytes.n; k++)
                sink += r->recs[i].value.v.bytes.p[k];
    }
    for (size_t i = 0; i < r->payload_len; i++)
        sink ^= r->payload[i];
    (void)sink;
    /* sometimes act from inside the callback */
    if (r->observing && r->observe_seq % 4 == 1)
        dk_server_op_cancel(f->s, r->id, 0);
    else if (r->observing && r->observe_seq % 4 == 2)
        dk_server_forget(f->s, r->ep, 0);
}

static void start_op(struct fz *f, const uint8_t *d, size_t len, dk_time_t now)
{
    if (len < 4)
        return;
    char ep[8];
    snprintf(ep, sizeof ep, "dev%d", d[0] % 4);
    struct dk_server_op op;
    struct dk_lwm2m_path p;
    size_t pl = 0;
    while (4 + pl < len && d[4 + pl] != ' ')
        pl++;
    if (dk_lwm2m_path_parse((const char *)d + 4, pl, &p) != 0)
        p = dk_lwm2m_path_inst(3, 0);
    dk_server_op_init(&op, (enum dk_server_op_kind)(1 + d[1] % 9), &p);
    static const int fmts[] = {-1, 0, 40, 42, 60, 110, 112, 11542, 11543};
    op.accept = fmts[d[2] % 9];
    op.format = fmts[(d[2] >> 4) % 9];
    const uint8_t *rest = d + 4 + pl;
    size_t rl = len - 4 - pl;
    struct dk_lwm2m_record recs[2];
    struct dk_lwm2m_attrs a;
    memset(&a, 0, sizeof a);
    if (d[3] & 1) {
        op.payload = rest;
        op.payload_len = rl;
    } else if (p.len >= 3) {
        recs[0].path = p;
        recs[0].value = dk_lwm2m_opaque(rest, rl);
        recs[0].time = 0;
        if (d[3] & 2)
            recs[0].value = dk_lwm2m_int((int64_t)rl - 3);
        op.recs = recs;
        op.n_recs = 1;
    }
    a.set = d[3] >> 1 & DK_LWM2M_ATTR_NOTIFY;
    a.unset = (uint32_t)(d[3] >> 5) & ~a.set & DK_LWM2M_ATTR_NOTIFY;
    a.pmin = rl;
    a.pmax = rl * 3;
    a.gt = 10.5;
    a.lt = -1;
    a.st = 0.25;
    op.attrs = &a;
    op.cb = on_result;
    op.cb_user = f;
    dk_server_op_start(f->s, ep, &op, now, NULL);
}

static void restore(struct fz *f, const uint8_t *d, size_t len, dk_time_t now)
{
    if (len < 6)
        return;
    char ep[16];
    snprintf(ep, sizeof ep, "dev%d", d[1] % 4);
    struct dk_server_reg_info r;
    memset(&r, 0, sizeof r);
    r.ep = ep;
    snprintf(r.location, sizeof r.location, "/rd/%02x%02x%02x%02x", d[2], d[3], d[4], d[5]);
    r.lifetime_s = (uint32_t)d[2] * 10 + 1;
    snprintf(r.binding, sizeof r.binding, d[3] & 1 ? "UQ" : "U");
    snprintf(r.version, sizeof r.version, "1.%d", d[4] % 3);
    r.queue_mode = d[5] & 1;
    r.links = (const char *)d + 6;
    r.links_len = len - 6;
    r.peer = &f->peers[d[0] % 4];
    r.remaining_ms = (dk_time_t)d[5] * 1000 - 10000;
    dk_server_restore(f->s, &r, now);
}

/* The last datagram the engine sent to each peer, so that a record can
 * answer it: an ACK (or, for a NON, a NON) with its message id and token. */
static uint8_t last_tx[4][1200];
static size_t last_len[4];

static void remember_tx(const struct dk_addr *peers, const struct dk_addr *to, const uint8_t *d,
                        size_t n)
{
    for (int i = 0; i < 4; i++)
        if (dk_addr_equal(to, &peers[i]) && n <= sizeof last_tx[i]) {
            memcpy(last_tx[i], d, n);
            last_len[i] = n;
        }
}

/* data[0]: code (0: RST), data[1]: content format index, bit 7 of data[1]:
 * add an Observe option; the rest: payload. Returns the answer's length. */
static size_t make_answer(int peer, const uint8_t *d, size_t len, uint8_t *out, size_t cap)
{
    static const int fmts[] = {-1, 0, 40, 42, 60, 110, 112, 11542};
    struct dk_coap_msg req, m;
    if (!last_len[peer] || len < 2 || dk_coap_msg_decode(&req, last_tx[peer], last_len[peer]) != 0)
        return 0;
    uint8_t type = req.type == DK_COAP_CON ? DK_COAP_ACK : DK_COAP_NON;
    if (d[0] == 0) {
        dk_coap_msg_init(&m, DK_COAP_RST, 0, req.mid);
    } else {
        dk_coap_msg_init(&m, type, d[0], req.mid);
        dk_coap_msg_set_token(&m, req.token, req.tkl);
        int cf = fmts[(d[1] & 0x7f) % 8];
        if (cf >= 0)
            dk_coap_msg_add_uint(&m, DK_COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
        if (d[1] & 0x80)
            dk_coap_msg_add_uint(&m, DK_COAP_OPT_OBSERVE, d[0]);
        if (len > 2)
            dk_coap_msg_set_payload(&m, d + 2, len - 2);
    }
    size_t n = 0;
    if (dk_coap_msg_encode(&m, out, cap, &n) != 0)
        return 0;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    memset(&f, 0, sizeof f);
    struct dk_rng rng;
    dk_rng_init(&rng);
    if (dk_rng_setup_deterministic(&rng, "fuzz-srv", 8) != 0)
        return 0;
    struct dk_coap_config ccfg;
    dk_coap_config_init(&ccfg);
    ccfg.rng = &rng;
    ccfg.token_len = 1;
    ccfg.max_peers = 8;
    struct dk_coap_ep ep;
    dk_coap_ep_init(&ep);
    struct dk_server s;
    dk_server_init(&s);
    f.s = &s;
    struct dk_server_config cfg;
    dk_server_config_init(&cfg);
    cfg.rng = &rng;
    cfg.max_registrations = 3;
    cfg.max_ops = 8;
    cfg.max_ops_per_reg = 4;
    cfg.max_records = 16;
    cfg.max_payload = 1024;
    cfg.scratch = 512;
    cfg.max_links = 512;
    cfg.grace_ms = 1000;
    cfg.cbs = (struct dk_server_callbacks){NULL, authorize, persist, on_event, NULL, &f};
    for (int i = 0; i < 4; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
        dk_addr_from_ip(&f.peers[i], ip, 40000);
    }
    if (dk_coap_ep_setup(&ep, &ccfg) != 0 || dk_server_setup(&s, &cfg) != 0 ||
        dk_server_attach(&s, &ep) != 0)
        goto out;

    memset(last_len, 0, sizeof last_len);
    dk_time_t now = 1000000;
    size_t pos = 0;
    uint8_t out[1200];
    struct dk_addr to;
    while (pos + 3 <= size) {
        uint8_t op = data[pos];
        size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        const uint8_t *d = data + pos;
        pos += len;
        int peer = op & 3;
        now += (dk_time_t)(op >> 4) * 4000;
        dk_coap_ep_tick(&ep, now);
        dk_server_tick(&s, now);
        switch ((op >> 2) & 3) {
        case 1:
            start_op(&f, d, len, now);
            break;
        case 2:
            if (len < 2)
                break;
            switch (d[0] % 4) {
            case 0:
                dk_server_op_cancel(&s, d[1], now);
                break;
            case 1:
                dk_server_observe_cancel(&s, d[1], now);
                break;
            case 2: {
                char ep_name[8];
                snprintf(ep_name, sizeof ep_name, "dev%d", d[1] % 4);
                dk_server_forget(&s, ep_name, now);
                break;
            }
            default:
                restore(&f, d, len, now);
                break;
            }
            break;
        case 3: {
            uint8_t ans[1300];
            size_t n = make_answer(peer, d, len, ans, sizeof ans);
            if (n)
                dk_coap_ep_recv(&ep, &f.peers[peer], ans, n, now);
            break;
        }
        default:
            dk_coap_ep_recv(&ep, &f.peers[peer], d, len, now);
            break;
        }
        int n;
        while ((n = dk_coap_ep_pop_tx(&ep, &to, out, sizeof out)) > 0)
            remember_tx(f.peers, &to, out, (size_t)n);
    }
    for (int i = 0; i < 8; i++) {
        now += 100000;
        dk_coap_ep_tick(&ep, now);
        dk_server_tick(&s, now);
        while (dk_coap_ep_pop_tx(&ep, &to, out, sizeof out) > 0)
            ;
    }
out:
    dk_server_free(&s);
    dk_coap_ep_free(&ep);
    dk_rng_free(&rng);
    return 0;
}
