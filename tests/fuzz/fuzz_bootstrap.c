// dk-fuzz-libs: dk_bootstrap dk_coap dk_lwm2m dk_base
/* libFuzzer target for the Bootstrap Server engine: arbitrary datagrams into
 * the CoAP endpoint the engine serves, interleaved with the program's calls.
 *
 * The input is a sequence of records: [op][len lo][len hi][data...].
 *  op bits 0-1: which of 4 peers sent the datagram
 *  op bits 2-3: 0 feed the datagram;
 *               1 the program acts on endpoint "dev<data[0] % 4>":
 *                 data[1] % 4 = approve, deny, forget, psk look-up;
 *               2 the peer's DTLS identity becomes data[0] % 5 = plain,
 *                 PSK (identity = the rest of data), certificate (CN = the
 *                 rest, hashes of record dev1/dev2 or not), raw key;
 *               3 answer the last datagram the engine sent to the peer:
 *                 code data[0] (0: RST), content format and Observe from
 *                 data[1], payload the rest
 *  op bits 4-7: time that passes before the record, in 2 s steps
 * Records exist for dev0 (PSK), dev1 (X.509, WIFI), dev2 (RPK), dev3
 * (NoSec); NoSec is allowed; odd inputs use policy auto. Tokens are 1 byte
 * long so that fuzzed responses can match the engine's requests. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <duckling/bootstrap.h>
#include <duckling/err.h>

struct fz {
    struct dk_dtls_peer_info info[4];
    bool secure[4];
    struct dk_addr peers[4];
    unsigned prepare_calls;
};

static const uint8_t PSK[16] = "0123456789abcdef";
static uint8_t HASH1[32], HASH2[32];

static int find_oob(void *user, const char *ep, struct dk_oob_msg *out)
{
    memset(out, 0, sizeof *out);
    if (strlen(ep) != 4 || memcmp(ep, "dev", 3) != 0 || ep[3] < '0' || ep[3] > '3')
        return DK_ENOTFOUND;
    snprintf(out->endpoint, sizeof out->endpoint, "%s", ep);
    snprintf(out->type, sizeof out->type, "LED");
    switch (ep[3]) {
    case '0':
        out->cred_type = DK_OOB_CRED_PSK;
        memcpy(out->cred, PSK, 16);
        out->cred_len = 16;
        break;
    case '1':
        out->cred_type = DK_OOB_CRED_X509;
        out->channel = DK_OOB_CHANNEL_WIFI;
        memcpy(out->cred, HASH1, 16);
        out->cred_len = 16;
        break;
    case '2':
        out->cred_type = DK_OOB_CRED_RPK;
        memcpy(out->cred, HASH2, 16);
        out->cred_len = 16;
        break;
    default:
        out->cred_type = DK_OOB_CRED_NONE;
        break;
    }
    return 0;
}

static const struct dk_dtls_peer_info *peer_info(void *user, struct dk_coap_ep *coap,
                                                 const struct dk_addr *peer)
{
    struct fz *f = user;
    for (int i = 0; i < 4; i++)
        if (dk_addr_equal(peer, &f->peers[i]))
            return f->secure[i] ? &f->info[i] : NULL;
    return NULL;
}

static int prepare(void *user, const struct dk_bs_request *rq, const struct dk_oob_msg *rec,
                   struct dk_bs_plan *plan)
{
    struct fz *f = user;
    f->prepare_calls++;
    if (f->prepare_calls % 5 == 4)
        return DK_ECRYPTO;
    plan->server.mode = f->prepare_calls % 3 == 0 ? DK_BS_SEC_NOSEC : DK_BS_SEC_PSK;
    memcpy(plan->server.identity, "op-id", 5);
    plan->server.identity_len = 5;
    memcpy(plan->server.secret, PSK, 16);
    plan->server.secret_len = 16;
    if (f->prepare_calls % 7 == 6)
        plan->n_acl = 99; /* invalid: refused by the engine */
    return 0;
}

static void on_event(void *user, const struct dk_bs_event *ev)
{
    volatile size_t sink = strlen(ev->ep);
    if (ev->step)
        sink += strlen(ev->step);
    (void)sink;
}

static void on_audit(void *user, const char *ep, const char *what, const char *detail)
{
    volatile size_t sink = strlen(ep) + strlen(what) + strlen(detail);
    (void)sink;
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
    static bool init;
    if (!init) {
        for (int i = 0; i < 32; i++) {
            HASH1[i] = (uint8_t)(0x10 + i);
            HASH2[i] = (uint8_t)(0x80 + i);
        }
        init = true;
    }
    struct fz f;
    memset(&f, 0, sizeof f);
    struct dk_rng rng;
    dk_rng_init(&rng);
    if (dk_rng_setup_deterministic(&rng, "fuzz-bs", 7) != 0)
        return 0;
    struct dk_coap_config ccfg;
    dk_coap_config_init(&ccfg);
    ccfg.rng = &rng;
    ccfg.token_len = 1;
    ccfg.max_peers = 8;
    struct dk_coap_ep ep;
    dk_coap_ep_init(&ep);
    struct dk_bs bs;
    dk_bs_init(&bs);
    struct dk_bs_config cfg;
    dk_bs_config_init(&cfg);
    cfg.server_uri = "coaps://gw:5684";
    cfg.server_uri_nosec = "coap://gw:5683";
    cfg.allow_nosec = true;
    cfg.policy = size & 1 ? DK_BS_POLICY_AUTO : DK_BS_POLICY_MANUAL;
    cfg.max_pending = 2;
    cfg.max_sessions = 2;
    cfg.max_attempts = 2;
    cfg.pending_ttl_ms = 20000;
    cfg.approval_ttl_ms = 20000;
    cfg.deny_ttl_ms = 20000;
    cfg.sequence_timeout_ms = 60000;
    cfg.home_ssid = "home";
    cfg.home_psk = "passphrase";
    cfg.format = size & 2 ? DK_COAP_FMT_SENML_CBOR : DK_COAP_FMT_LWM2M_TLV;
    cfg.cbs = (struct dk_bs_callbacks){find_oob, peer_info, NULL, prepare, on_event, on_audit, &f};
    for (int i = 0; i < 4; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
        dk_addr_from_ip(&f.peers[i], ip, 40000);
    }
    if (dk_coap_ep_setup(&ep, &ccfg) != 0 || dk_bs_setup(&bs, &cfg) != 0 ||
        dk_bs_attach(&bs, &ep) != 0)
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
        now += (dk_time_t)(op >> 4) * 2000;
        dk_coap_ep_tick(&ep, now);
        dk_bs_tick(&bs, now);
        switch ((op >> 2) & 3) {
        case 1: {
            char name[8];
            snprintf(name, sizeof name, "dev%d", len ? d[0] % 4 : 0);
            int what = len > 1 ? d[1] % 4 : 0;
            if (what == 0)
                dk_bs_approve(&bs, name, now);
            else if (what == 1)
                dk_bs_deny(&bs, name, now);
            else if (what == 2)
                dk_bs_forget(&bs, name, now);
            else {
                uint8_t key[64];
                size_t klen;
                dk_bs_psk_lookup(&bs, &f.peers[peer], d, len > 2 ? len - 2 : 0, key, sizeof key,
                                 &klen);
            }
            break;
        }
        case 2: {
            struct dk_dtls_peer_info *pi = &f.info[peer];
            memset(pi, 0, sizeof *pi);
            int kind = len ? d[0] % 5 : 0;
            const uint8_t *rest = len ? d + 1 : d;
            size_t rl = len ? len - 1 : 0;
            f.secure[peer] = kind != 0;
            if (kind == 1) {
                pi->mode = DK_DTLS_MODE_PSK;
                pi->psk_identity_len = rl < sizeof pi->psk_identity ? rl : sizeof pi->psk_identity;
                memcpy(pi->psk_identity, rest, pi->psk_identity_len);
            } else if (kind >= 2) {
                pi->mode = kind == 4 ? DK_DTLS_MODE_RPK : DK_DTLS_MODE_CERT;
                pi->has_cert = kind != 4;
                pi->has_spki = true;
                memcpy(pi->cert_sha256, kind == 2 ? HASH1 : HASH2, 32);
                memcpy(pi->spki_sha256, kind == 3 ? HASH1 : HASH2, 32);
                size_t cl = rl < sizeof pi->cert_cn - 1 ? rl : sizeof pi->cert_cn - 1;
                memcpy(pi->cert_cn, rest, cl);
                pi->cert_cn[cl] = 0;
            }
            break;
        }
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
        if (dk_bs_deadline(&bs) <= now)
            dk_bs_tick(&bs, now); /* a sequence starts after its 2.04 */
        int n;
        while ((n = dk_coap_ep_pop_tx(&ep, &to, out, sizeof out)) > 0)
            remember_tx(f.peers, &to, out, (size_t)n);
    }
    /* Let everything time out. */
    for (int i = 0; i < 8; i++) {
        now += 60000;
        dk_coap_ep_tick(&ep, now);
        dk_bs_tick(&bs, now);
        while (dk_coap_ep_pop_tx(&ep, &to, out, sizeof out) > 0)
            ;
    }
out:
    dk_bs_free(&bs);
    dk_coap_ep_free(&ep);
    dk_rng_free(&rng);
    return 0;
}
