// dk-fuzz-libs: dk_coap dk_base
/* libFuzzer target for the CoAP codec and the endpoint engine.
 *
 * The input is a sequence of records: [op][len lo][len hi][datagram...].
 *  op bits 0-1: which of 4 peers sent the datagram
 *  op bits 2-3: 0 feed; 1 feed, then let 10 s pass; 2 notify observers of
 *               /obs, then feed; 3 start a client request, then feed
 *  op bits 4-7: time that passes before the record, in 500 ms steps
 * Every datagram also goes through the codec alone: decode, check, read
 * options, and a re-encode that must give back the same bytes (the wire
 * format has one encoding per message). Tokens are 1 byte long so that
 * fuzzed responses can match the engine's requests. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <duckling/coap.h>
#include <duckling/err.h>

static uint8_t body[3000];

static void h_small(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                    struct dk_coap_resp *resp)
{
    resp->msg.code = DK_COAP_CONTENT;
    dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_CONTENT_FORMAT, 0);
    dk_coap_msg_set_payload(&resp->msg, "ok", 2);
}

static void h_big(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                  struct dk_coap_resp *resp)
{
    resp->msg.code = DK_COAP_CONTENT;
    dk_coap_msg_set_payload(&resp->msg, body, sizeof body);
    resp->observe = true;
}

static void h_obs(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                  struct dk_coap_resp *resp)
{
    unsigned *counter = user;
    resp->msg.code = (*counter)++ % 7 == 6 ? DK_COAP_NOT_FOUND : DK_COAP_CONTENT;
    memcpy(resp->buf, "state", 5);
    dk_coap_msg_set_payload(&resp->msg, resp->buf, 5);
    resp->observe = true;
}

static struct dk_coap_deferred pending;
static int have_pending;

static void h_sep(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                  struct dk_coap_resp *resp)
{
    resp->defer = true;
    pending = resp->deferred;
    have_pending = 1;
}

static void h_up(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                 struct dk_coap_resp *resp)
{
    resp->msg.code = DK_COAP_CHANGED;
    if (req->payload_len)
        memcpy(resp->buf, req->payload, req->payload_len < 16 ? req->payload_len : 16);
    dk_coap_ep_notify(ep, "/obs", req->now);
}

static void on_result(struct dk_coap_ep *ep, void *user, uint32_t id,
                      const struct dk_coap_result *res)
{
    /* touch what we were given, and sometimes cancel from inside */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < res->payload_len; i++)
        sink ^= res->payload[i];
    (void)sink;
    if (res->observing && res->observe_seq % 3 == 0)
        dk_coap_ep_cancel(ep, id, 0);
    else if (res->observing && res->observe_seq % 3 == 1)
        dk_coap_ep_observe_cancel(ep, id, 0);
}

static void fuzz_codec(const uint8_t *d, size_t n)
{
    struct dk_coap_msg m;
    if (dk_coap_msg_decode(&m, d, n) != 0)
        return;
    uint16_t bad;
    dk_coap_msg_check_options(&m, &bad);
    char path[300];
    dk_coap_msg_get_path(&m, DK_COAP_OPT_URI_PATH, path, sizeof path);
    dk_coap_msg_path_is(&m, "/a/b");
    const uint8_t *v;
    size_t vl;
    dk_coap_msg_get_query(&m, "ep", &v, &vl);
    uint32_t u;
    dk_coap_msg_get_uint(&m, DK_COAP_OPT_OBSERVE, &u);
    struct dk_coap_block b;
    dk_coap_msg_get_block(&m, DK_COAP_OPT_BLOCK2, &b);
    uint8_t *again = malloc(n);
    size_t len = 0;
    if (!again)
        return;
    if (dk_coap_msg_encode(&m, again, n, &len) != 0 || len != n || memcmp(again, d, n) != 0)
        abort(); /* decode and encode must agree byte for byte */
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dk_rng rng;
    dk_rng_init(&rng);
    if (dk_rng_setup_deterministic(&rng, "fuzz-coap", 9) != 0)
        abort();
    struct dk_coap_config cfg;
    dk_coap_config_init(&cfg);
    cfg.rng = &rng;
    cfg.token_len = 1;
    cfg.max_body = 8192;
    cfg.max_peers = 3;
    cfg.max_dedup = 16;
    cfg.max_exchanges = 4;
    cfg.max_observers = 3;
    cfg.max_block_rx = 2;
    cfg.max_tx_queue = 32;
    cfg.block_szx = 4;
    cfg.notify_con_every = 2;
    struct dk_failalloc fa;
    dk_failalloc_init(&fa, size > 0 && data[0] == 0xA5 && size > 1 ? 20 + data[1] : 0, 0);
    cfg.alloc = &fa.iface;
    unsigned counter = 0;
    const struct dk_coap_resource res[] = {
        {"/a", DK_COAP_METHOD_BIT(DK_COAP_GET), h_small, NULL},
        {"/big", 0, h_big, NULL},
        {"/obs", 0, h_obs, &counter},
        {"/sep", 0, h_sep, NULL},
        {"/up", 0, h_up, NULL},
    };
    struct dk_coap_router router = {res, sizeof res / sizeof res[0]};
    struct dk_coap_ep ep;
    dk_coap_ep_init(&ep);
    have_pending = 0;
    if (dk_coap_ep_setup(&ep, &cfg) != 0)
        goto out;
    dk_coap_ep_set_handler(&ep, dk_coap_router_handler, &router);

    struct dk_addr peers[4];
    dk_addr_from_ip(&peers[0], "127.0.0.1", 5683);
    dk_addr_from_ip(&peers[1], "127.0.0.2", 5683);
    dk_addr_from_ip(&peers[2], "::1", 5683);
    dk_addr_from_ip(&peers[3], "127.0.0.1", 40000);
    dk_time_t now = 1000;
    unsigned nreq = 0;
    uint8_t out[2048];
    struct dk_addr to;

    while (size >= 3) {
        uint8_t op = data[0];
        size_t len = (size_t)(data[1] | data[2] << 8) & 0x7ff;
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        const struct dk_addr *peer = &peers[op & 3];
        now += (dk_time_t)(op >> 4) * 500;
        dk_coap_ep_tick(&ep, now);
        switch ((op >> 2) & 3) {
        case 2:
            dk_coap_ep_notify(&ep, "/obs", now);
            break;
        case 3: {
            struct dk_coap_client_req r;
            dk_coap_client_req_init(&r, nreq % 3 == 1 ? DK_COAP_PUT : DK_COAP_GET,
                                    nreq % 3 == 2 ? "/obs" : "/x");
            r.observe = nreq % 3 != 1;
            r.non = nreq % 5 == 4;
            if (nreq % 3 == 1) {
                r.payload = body;
                r.payload_len = sizeof body;
            }
            r.cb = on_result;
            dk_coap_ep_request(&ep, peer, &r, now, NULL);
            nreq++;
            break;
        }
        default:
            break;
        }
        /* a private copy, so ASan sees reads past the datagram */
        uint8_t *dg = malloc(len ? len : 1);
        if (!dg)
            abort();
        memcpy(dg, data, len);
        fuzz_codec(dg, len);
        dk_coap_ep_recv(&ep, peer, dg, len, now);
        free(dg);
        data += len;
        size -= len;
        if (((op >> 2) & 3) == 1) {
            now += 10000;
            dk_coap_ep_tick(&ep, now);
        }
        if (have_pending && (op & 0x40)) {
            struct dk_coap_msg m;
            dk_coap_msg_init(&m, DK_COAP_CON, DK_COAP_CONTENT, 0);
            dk_coap_msg_set_payload(&m, body, op & 0x80 ? sizeof body : 10);
            dk_coap_ep_respond(&ep, &pending, &m, now);
            have_pending = 0;
        }
        while (dk_coap_ep_pop_tx(&ep, &to, out, sizeof out) > 0)
            ;
    }
    /* let every timer run out */
    for (int i = 0; i < 40 && dk_coap_ep_deadline(&ep) != DK_TIME_NEVER; i++) {
        now = dk_coap_ep_deadline(&ep);
        dk_coap_ep_tick(&ep, now);
        while (dk_coap_ep_pop_tx(&ep, &to, out, sizeof out) > 0)
            ;
    }
out:
    dk_coap_ep_free(&ep);
    if (fa.live != 0)
        abort(); /* leak through the engine's allocator */
    dk_rng_free(&rng);
    return 0;
}
