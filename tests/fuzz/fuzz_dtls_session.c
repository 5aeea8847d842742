// dk-fuzz-libs: dk_dtls_mbedtls dk_dtls_gnutls dk_dtls dk_base
/* Established DTLS sessions under forged datagrams (issue 8).
 *
 * A PSK pair is connected in memory, then the fuzz input is fed, datagram by
 * datagram, to one side as if an off-path attacker had forged its peer's
 * address. Nothing in it is made with the session keys, so (RFC 6347
 * §4.1.2.7) the session must drop it silently: it must stay CONNECTED, and
 * afterwards still carry data from its real peer in both directions. Any
 * failure aborts, so the fuzzer reports it.
 *
 * Input: one selector byte, then datagrams as 2-byte big-endian length +
 * bytes. Selector % 4:
 *   0  mbedTLS client (the device) of a GnuTLS server: the client is fed
 *   1  GnuTLS client of an mbedTLS server session: the server side is fed
 *   2  mbedTLS client of a GnuTLS server: the server side is fed
 *   3  an mbedTLS client that has sent its ClientHello (no invariant: a
 *      handshake may fail; only memory safety)
 * Selector bit 2: the datagram also gets the record header of the session's
 * current epoch (content type 23, version 254.253, epoch 1), so the input
 * reaches the decryption and replay checks rather than the header checks. */
#include <duckling/dtls.h>
#include <duckling/err.h>
#include <duckling/log.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct dk_rng rng;
static struct dk_log log; /* FUZZ_DEBUG=1: the backends' logs on stderr */
static struct dk_dtls_config mb_client, mb_server, gt_client, gt_server;
static const uint8_t psk[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

static int lookup(void *user, const struct dk_addr *peer, const uint8_t *id, size_t id_len,
                  uint8_t *key, size_t cap, size_t *len)
{
    (void)user;
    (void)peer;
    if (id_len != 3 || memcmp(id, "dev", 3) != 0 || cap < sizeof psk)
        return DK_ENOTFOUND;
    memcpy(key, psk, sizeof psk);
    *len = sizeof psk;
    return 0;
}

static void setup(struct dk_dtls_config *cfg, const struct dk_dtls_backend *b,
                  enum dk_dtls_role role)
{
    struct dk_dtls_params p;
    memset(&p, 0, sizeof p);
    p.role = role;
    p.modes = DK_DTLS_MODE_PSK;
    p.rng = &rng;
    p.log = getenv("FUZZ_DEBUG") ? &log : NULL;
    if (role == DK_DTLS_SERVER) {
        p.psk_lookup = lookup;
    } else {
        p.psk_identity = (const uint8_t *)"dev";
        p.psk_identity_len = 3;
        p.psk = psk;
        p.psk_len = sizeof psk;
    }
    dk_dtls_config_init(cfg);
    if (dk_dtls_config_setup(cfg, b, &p))
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    dk_log_init_stderr(&log, DK_LOG_DEBUG);
    dk_rng_init(&rng);
    if (dk_rng_setup_deterministic(&rng, "fuzz-session", 12))
        abort();
    setup(&mb_client, dk_dtls_backend_mbedtls(), DK_DTLS_CLIENT);
    setup(&mb_server, dk_dtls_backend_mbedtls(), DK_DTLS_SERVER);
    setup(&gt_client, dk_dtls_backend_gnutls(), DK_DTLS_CLIENT);
    setup(&gt_server, dk_dtls_backend_gnutls(), DK_DTLS_SERVER);
    return 0;
}

/* Moves what `from` sends to `to` (NULL: drops it); returns the bytes of
 * application data `to` got. */
static size_t pump(struct dk_dtls_session *from, struct dk_dtls_session *to, dk_time_t now,
                   uint8_t *got, size_t cap)
{
    uint8_t buf[2048];
    int n;
    size_t total = 0;
    while ((n = dk_dtls_session_pop_tx(from, buf, sizeof buf)) > 0)
        if (to)
            dk_dtls_session_recv(to, buf, (size_t)n, now);
    if (to)
        while ((n = dk_dtls_session_read(to, buf, sizeof buf)) >= 0)
            if (got && total + (size_t)n <= cap) {
                memcpy(got + total, buf, (size_t)n);
                total += (size_t)n;
            }
    return total;
}

static int connect_pair(struct dk_dtls_session *c, struct dk_dtls_session *s, dk_time_t now)
{
    for (int i = 0; i < 10; i++) {
        pump(c, s, now, NULL, 0);
        pump(s, c, now, NULL, 0);
    }
    return dk_dtls_session_state(c) == DK_DTLS_CONNECTED &&
                   dk_dtls_session_state(s) == DK_DTLS_CONNECTED
               ? 0
               : -1;
}

static void must(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_dtls_session: %s\n", what);
        abort();
    }
}

/* Data still flows both ways between a and b. */
static void still_works(struct dk_dtls_session *a, struct dk_dtls_session *b, dk_time_t now)
{
    uint8_t got[64];
    must(dk_dtls_session_write(a, (const uint8_t *)"ping", 4, now) == 0, "write a->b");
    must(pump(a, b, now, got, sizeof got) == 4 && memcmp(got, "ping", 4) == 0,
         "data a->b lost after forged datagrams");
    must(dk_dtls_session_write(b, (const uint8_t *)"pong", 4, now) == 0, "write b->a");
    must(pump(b, a, now, got, sizeof got) == 4 && memcmp(got, "pong", 4) == 0,
         "data b->a lost after forged datagrams");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct dk_addr a;
    dk_addr_from_ip(&a, "127.0.0.1", 5684);
    dk_time_t now = 1000;
    unsigned which = data[0] % 4;
    bool frame = data[0] & 4;
    const struct dk_dtls_config *ccfg = which == 1 ? &gt_client : &mb_client;
    const struct dk_dtls_config *scfg = which == 1 ? &mb_server : &gt_server;
    struct dk_dtls_session *c = NULL, *s = NULL;
    if (dk_dtls_session_new(&c, ccfg, &a, now))
        return 0;
    if (which != 3 && (dk_dtls_session_new(&s, scfg, &a, now) || connect_pair(c, s, now)))
        abort(); /* an in-memory handshake without loss must work */
    /* The side that gets the forged datagrams, and its real peer. */
    struct dk_dtls_session *victim = which == 0 || which == 3 ? c : s;
    struct dk_dtls_session *peer = victim == c ? s : c;
    pump(victim, NULL, now, NULL, 0);
    size_t pos = 1;
    uint8_t dgram[2048 + 13];
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        size_t n = 0;
        if (frame && len <= 2048) {
            /* type, version, epoch 1, 6-byte sequence from the input, length */
            static const uint8_t head[5] = {23, 254, 253, 0, 1};
            memcpy(dgram, head, 5);
            memset(dgram + 5, 0, 6);
            memcpy(dgram + 5, data + pos, len < 6 ? len : 6);
            dgram[11] = (uint8_t)(len >> 8);
            dgram[12] = (uint8_t)len;
            memcpy(dgram + 13, data + pos, len);
            n = len + 13;
        } else {
            n = len < sizeof dgram ? len : sizeof dgram;
            memcpy(dgram, data + pos, n);
        }
        dk_dtls_session_recv(victim, dgram, n, now);
        pump(victim, NULL, now, NULL, 0); /* answers go to the attacker */
        pos += len;
        now += 300;
        if (which != 3)
            must(dk_dtls_session_state(victim) == DK_DTLS_CONNECTED,
                 "an established session was ended by a forged datagram");
        else if (dk_dtls_session_deadline(victim) <= now)
            dk_dtls_session_tick(victim, now);
    }
    if (which != 3)
        still_works(victim, peer, now);
    dk_dtls_session_free(c);
    dk_dtls_session_free(s);
    return 0;
}
