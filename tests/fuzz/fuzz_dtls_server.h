/* Shared by fuzz_dtls_server.c and the seed generator
 * (tests/unit/dtls/gen_fuzz_seeds.c): a DTLS server table with the mbedTLS
 * backend, fed framed datagrams from a handful of peers.
 *
 * Input: a sequence of [ctrl][len hi][len lo][len bytes] frames.
 *  ctrl bits 0-2: which peer sent it (IPv4 and IPv6 addresses, two ports)
 *  ctrl bit 3:    cookie oracle: if the datagram starts with a ClientHello,
 *                 put the right cookie in it first, so inputs get past the
 *                 stateless check into session creation and the backend
 *  ctrl bits 4-7: seconds to let pass first (the table is ticked)
 * Everything is deterministic: the same input gives the same run. */
#ifndef DK_FUZZ_DTLS_SERVER_H
#define DK_FUZZ_DTLS_SERVER_H

#include <duckling/dtls.h>
#include <duckling/err.h>
#include <duckling/rng.h>

#include "../../src/dtls/cookie.h"

#include <string.h>

struct fz {
    struct dk_rng rng;
    struct dk_dtls_config cfg;
    struct dk_dtls_server srv;
    struct dk_dtls_cookie_ctx oracle;
    dk_time_t now;
    struct dk_addr peers[8];
    /* Receives what the server sends (may be NULL). */
    void (*out)(void *user, const struct dk_addr *to, const uint8_t *d, size_t n);
    void *out_user;
    unsigned connected, data_events, closed; /* what the table reported */
};

static const uint8_t fz_key[16] = {0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                   0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42};

static inline int fz_psk(void *user, const struct dk_addr *peer, const uint8_t *id, size_t id_len,
                         uint8_t *key, size_t key_cap, size_t *key_len)
{
    (void)user, (void)peer;
    if (id_len != 4 || memcmp(id, "fuzz", 4) != 0 || key_cap < sizeof fz_key)
        return DK_ENOTFOUND;
    memcpy(key, fz_key, sizeof fz_key);
    *key_len = sizeof fz_key;
    return 0;
}

static inline int fz_setup(struct fz *f)
{
    memset(f, 0, sizeof *f);
    dk_rng_init(&f->rng);
    dk_dtls_config_init(&f->cfg);
    dk_dtls_server_init(&f->srv);
    dk_dtls_cookie_init(&f->oracle);
    if (dk_rng_setup_deterministic(&f->rng, "fuzz-server", 11))
        return -1;
    struct dk_dtls_params p = {.role = DK_DTLS_SERVER,
                               .modes = DK_DTLS_MODE_PSK,
                               .psk_lookup = fz_psk,
                               .max_sessions = 4,
                               .rng = &f->rng};
    if (dk_dtls_config_setup(&f->cfg, dk_dtls_backend_mbedtls(), &p) ||
        dk_dtls_server_setup(&f->srv, &f->cfg) ||
        dk_dtls_cookie_setup(&f->oracle, f->cfg.cookie_key, sizeof f->cfg.cookie_key))
        return -1;
    static const char *ips[4] = {"192.0.2.1", "192.0.2.2", "2001:db8::1", "::1"};
    for (int i = 0; i < 8; i++)
        dk_addr_from_ip(&f->peers[i], ips[i & 3], (uint16_t)(40000 + (i >> 2)));
    f->now = 1000000;
    return 0;
}

static inline void fz_free(struct fz *f)
{
    dk_dtls_server_free(&f->srv);
    dk_dtls_cookie_free(&f->oracle);
    dk_dtls_config_free(&f->cfg);
    dk_rng_free(&f->rng);
}

/* Rewrites the ClientHello at the start of d (n bytes, room for cap) with
 * the cookie the server expects. Returns the new length. */
static inline size_t fz_put_cookie(struct fz *f, const struct dk_addr *from, uint8_t *d, size_t n,
                                   size_t cap)
{
    struct dk_dtls_client_hello ch;
    if (dk_dtls_client_hello_parse(d, n, &ch))
        return n;
    uint8_t cookie[DK_DTLS_COOKIE_LEN];
    if (dk_dtls_cookie_make(&f->oracle, from, &ch, f->now, cookie))
        return n;
    size_t at = (size_t)(ch.cookie - d) - 1; /* the cookie's length byte */
    size_t old = ch.cookie_len;
    size_t m = n - old + sizeof cookie;
    if (m > cap)
        return n;
    memmove(d + at + 1 + sizeof cookie, d + at + 1 + old, n - at - 1 - old);
    d[at] = (uint8_t)sizeof cookie;
    memcpy(d + at + 1, cookie, sizeof cookie);
    size_t rec = ch.record_len - 13 - old + sizeof cookie, msg = rec - 12;
    d[11] = (uint8_t)(rec >> 8), d[12] = (uint8_t)rec;
    d[14] = 0, d[15] = (uint8_t)(msg >> 8), d[16] = (uint8_t)msg;
    d[22] = 0, d[23] = (uint8_t)(msg >> 8), d[24] = (uint8_t)msg;
    return m;
}

static inline void fz_drain(struct fz *f)
{
    uint8_t buf[2048];
    struct dk_addr to;
    int n;
    while ((n = dk_dtls_server_pop_tx(&f->srv, &to, buf, sizeof buf)) > 0)
        if (f->out)
            f->out(f->out_user, &to, buf, (size_t)n);
}

static inline void fz_datagram(struct fz *f, unsigned ctrl, const uint8_t *d, size_t n)
{
    static uint8_t buf[4096];
    if (n > sizeof buf - 300)
        n = sizeof buf - 300;
    memcpy(buf, d, n);
    const struct dk_addr *from = &f->peers[ctrl & 7];
    if (ctrl >> 4) {
        f->now += (dk_time_t)(ctrl >> 4) * 1000;
        dk_dtls_server_tick(&f->srv, f->now, NULL, NULL);
    }
    if (ctrl & 8)
        n = fz_put_cookie(f, from, buf, n, sizeof buf);
    struct dk_dtls_session *s;
    enum dk_dtls_event ev;
    dk_dtls_server_recv(&f->srv, from, buf, n, f->now, &s, &ev);
    if (ev == DK_DTLS_EV_CLOSED)
        f->closed++;
    if (s && ev == DK_DTLS_EV_DATA) {
        f->data_events++;
        uint8_t app[2048];
        int got;
        while ((got = dk_dtls_session_read(s, app, sizeof app)) >= 0)
            dk_dtls_session_write(s, app, (size_t)got, f->now); /* echo */
    }
    if (s && ev == DK_DTLS_EV_CONNECTED && dk_dtls_session_peer_info(s))
        f->connected++;
    fz_drain(f);
}

static inline void fz_run(struct fz *f, const uint8_t *data, size_t size)
{
    while (size >= 3) {
        unsigned ctrl = data[0];
        size_t n = (size_t)data[1] << 8 | data[2];
        data += 3, size -= 3;
        if (n > size)
            n = size;
        fz_datagram(f, ctrl, data, n);
        data += n, size -= n;
    }
    (void)dk_dtls_server_deadline(&f->srv);
}

#endif
