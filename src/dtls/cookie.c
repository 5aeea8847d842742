/* Stateless HelloVerifyRequest cookies: ClientHello parser, cookie MAC and
 * HelloVerifyRequest writer (RFC 6347 §4.1, §4.2.1, §4.2.2). */
#include "cookie.h"

#include <duckling/buf.h>
#include <duckling/err.h>
#include <duckling/mem.h>

#include <string.h>

enum {
    CT_HANDSHAKE = 22,
    HS_CLIENT_HELLO = 1,
    HS_HELLO_VERIFY_REQUEST = 3,
    RECORD_HEADER_LEN = 13,
    HS_HEADER_LEN = 12,
};

static bool record_version_ok(uint16_t v)
{
    /* DTLS 1.0, DTLS 1.2, and 0xfe00, which clients that do not know the
     * server's version yet put on their first flight. */
    return v == 0xfeff || v == 0xfefd || v == 0xfe00;
}

static int rd_be24(struct dk_rd *r, uint32_t *v)
{
    uint8_t hi;
    uint16_t lo;
    if (dk_rd_u8(r, &hi) || dk_rd_be16(r, &lo))
        return DK_EPARSE;
    *v = ((uint32_t)hi << 16) | lo;
    return 0;
}

static int rd_be48(struct dk_rd *r, uint64_t *v)
{
    uint16_t hi;
    uint32_t lo;
    if (dk_rd_be16(r, &hi) || dk_rd_be32(r, &lo))
        return DK_EPARSE;
    *v = ((uint64_t)hi << 32) | lo;
    return 0;
}

/* Reads a vector with a one-byte length. */
static int rd_vec8(struct dk_rd *r, const uint8_t **p, size_t *len)
{
    uint8_t n;
    if (dk_rd_u8(r, &n) || dk_rd_take(r, n, p))
        return DK_EPARSE;
    *len = n;
    return 0;
}

static int rd_vec16(struct dk_rd *r, const uint8_t **p, size_t *len)
{
    uint16_t n;
    if (dk_rd_be16(r, &n) || dk_rd_take(r, n, p))
        return DK_EPARSE;
    *len = n;
    return 0;
}

static int parse_record(struct dk_rd *r, struct dk_dtls_client_hello *ch, struct dk_rd *frag)
{
    uint8_t type;
    uint16_t epoch, len;
    const uint8_t *body;
    if (dk_rd_u8(r, &type) || dk_rd_be16(r, &ch->record_version) || dk_rd_be16(r, &epoch) ||
        rd_be48(r, &ch->record_seq) || dk_rd_be16(r, &len) || dk_rd_take(r, len, &body))
        return DK_EPARSE;
    if (type != CT_HANDSHAKE || epoch != 0 || !record_version_ok(ch->record_version))
        return DK_EPARSE;
    ch->record_len = RECORD_HEADER_LEN + (size_t)len;
    dk_rd_init(frag, body, len);
    return 0;
}

static int parse_handshake_header(struct dk_rd *r, struct dk_dtls_client_hello *ch,
                                  struct dk_rd *msg)
{
    uint8_t type;
    uint32_t len, frag_off, frag_len;
    const uint8_t *body;
    if (dk_rd_u8(r, &type) || rd_be24(r, &len) || dk_rd_be16(r, &ch->message_seq) ||
        rd_be24(r, &frag_off) || rd_be24(r, &frag_len))
        return DK_EPARSE;
    if (type != HS_CLIENT_HELLO || frag_off != 0 || frag_len != len)
        return DK_EPARSE;
    if (dk_rd_take(r, len, &body))
        return DK_EPARSE;
    dk_rd_init(msg, body, len);
    return 0;
}

static int parse_body(struct dk_rd *r, struct dk_dtls_client_hello *ch)
{
    if (dk_rd_be16(r, &ch->client_version) || dk_rd_take(r, 32, &ch->random) ||
        rd_vec8(r, &ch->session_id, &ch->session_id_len) ||
        rd_vec8(r, &ch->cookie, &ch->cookie_len) || rd_vec16(r, &ch->suites, &ch->suites_len) ||
        rd_vec8(r, &ch->compression, &ch->compression_len))
        return DK_EPARSE;
    if ((ch->client_version >> 8) != 0xfe || ch->session_id_len > 32 || ch->suites_len < 2 ||
        ch->suites_len % 2 || ch->compression_len < 1)
        return DK_EPARSE;
    if (dk_rd_left(r) == 0)
        return 0;
    /* Extensions: only their framing is checked here; the backend parses them. */
    const uint8_t *ext;
    size_t ext_len;
    if (rd_vec16(r, &ext, &ext_len) || dk_rd_left(r) != 0)
        return DK_EPARSE;
    struct dk_rd e;
    dk_rd_init(&e, ext, ext_len);
    while (dk_rd_left(&e)) {
        uint16_t type;
        const uint8_t *data;
        size_t n;
        if (dk_rd_be16(&e, &type) || rd_vec16(&e, &data, &n))
            return DK_EPARSE;
    }
    return 0;
}

int dk_dtls_client_hello_parse(const uint8_t *dgram, size_t len, struct dk_dtls_client_hello *ch)
{
    memset(ch, 0, sizeof *ch);
    struct dk_rd r, frag, msg;
    dk_rd_init(&r, dgram, len);
    if (parse_record(&r, ch, &frag) || parse_handshake_header(&frag, ch, &msg))
        return DK_EPARSE;
    /* A ClientHello is the only message of its record. */
    if (dk_rd_left(&frag) != 0)
        return DK_EPARSE;
    return parse_body(&msg, ch);
}

void dk_dtls_cookie_init(struct dk_dtls_cookie_ctx *c)
{
    mbedtls_md_init(&c->hmac);
    c->ready = false;
}

int dk_dtls_cookie_setup(struct dk_dtls_cookie_ctx *c, const uint8_t *key, size_t key_len)
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    int rc = mbedtls_md_setup(&c->hmac, md, 1);
    if (rc == MBEDTLS_ERR_MD_ALLOC_FAILED)
        return DK_ENOMEM;
    if (rc || mbedtls_md_hmac_starts(&c->hmac, key, key_len))
        return DK_ECRYPTO;
    c->ready = true;
    return 0;
}

void dk_dtls_cookie_free(struct dk_dtls_cookie_ctx *c)
{
    mbedtls_md_free(&c->hmac); /* zeroizes the keyed pads */
    c->ready = false;
}

static uint32_t epoch_of(dk_time_t now)
{
    dk_time_t e = now / DK_DTLS_COOKIE_PERIOD_MS;
    if (now < 0 && now % DK_DTLS_COOKIE_PERIOD_MS)
        e--;
    return (uint32_t)e;
}

static void put_vec(uint8_t *lenbuf, mbedtls_md_context_t *h, const uint8_t *p, size_t n)
{
    /* Length-prefixed, so no two field sequences hash alike. */
    lenbuf[0] = (uint8_t)(n >> 8);
    lenbuf[1] = (uint8_t)n;
    mbedtls_md_hmac_update(h, lenbuf, 2);
    if (n)
        mbedtls_md_hmac_update(h, p, n);
}

static void put_peer(uint8_t *tmp, mbedtls_md_context_t *h, const struct dk_addr *peer)
{
    uint8_t fam = (uint8_t)peer->u.sa.sa_family;
    mbedtls_md_hmac_update(h, &fam, 1);
    if (peer->u.sa.sa_family == AF_INET) {
        put_vec(tmp, h, (const uint8_t *)&peer->u.in4.sin_addr, 4);
        put_vec(tmp, h, (const uint8_t *)&peer->u.in4.sin_port, 2);
    } else if (peer->u.sa.sa_family == AF_INET6) {
        put_vec(tmp, h, (const uint8_t *)&peer->u.in6.sin6_addr, 16);
        put_vec(tmp, h, (const uint8_t *)&peer->u.in6.sin6_port, 2);
        put_vec(tmp, h, (const uint8_t *)&peer->u.in6.sin6_scope_id, 4);
    }
}

static int mac(struct dk_dtls_cookie_ctx *c, const struct dk_addr *peer,
               const struct dk_dtls_client_hello *ch, uint32_t epoch,
               uint8_t out[DK_DTLS_COOKIE_MAC_LEN])
{
    if (!c->ready)
        return DK_ESTATE;
    mbedtls_md_context_t *h = &c->hmac;
    uint8_t tmp[4], full[32];
    if (mbedtls_md_hmac_reset(h))
        return DK_ECRYPTO;
    tmp[0] = (uint8_t)(epoch >> 24);
    tmp[1] = (uint8_t)(epoch >> 16);
    tmp[2] = (uint8_t)(epoch >> 8);
    tmp[3] = (uint8_t)epoch;
    mbedtls_md_hmac_update(h, tmp, 4);
    put_peer(tmp, h, peer);
    /* RFC 6347 §4.2.1: the cookie binds the client's parameters; the second
     * ClientHello must repeat them exactly. Extensions are left out on
     * purpose: some clients reorder or pad them on the second hello. */
    tmp[0] = (uint8_t)(ch->client_version >> 8);
    tmp[1] = (uint8_t)ch->client_version;
    mbedtls_md_hmac_update(h, tmp, 2);
    put_vec(tmp, h, ch->random, 32);
    put_vec(tmp, h, ch->session_id, ch->session_id_len);
    put_vec(tmp, h, ch->suites, ch->suites_len);
    put_vec(tmp, h, ch->compression, ch->compression_len);
    if (mbedtls_md_hmac_finish(h, full))
        return DK_ECRYPTO;
    memcpy(out, full, DK_DTLS_COOKIE_MAC_LEN);
    dk_memzero(full, sizeof full);
    return 0;
}

int dk_dtls_cookie_make(struct dk_dtls_cookie_ctx *c, const struct dk_addr *peer,
                        const struct dk_dtls_client_hello *ch, dk_time_t now, uint8_t *out)
{
    uint32_t epoch = epoch_of(now);
    out[0] = (uint8_t)epoch;
    return mac(c, peer, ch, epoch, out + 1);
}

bool dk_dtls_cookie_check(struct dk_dtls_cookie_ctx *c, const struct dk_addr *peer,
                          const struct dk_dtls_client_hello *ch, dk_time_t now)
{
    if (ch->cookie_len != DK_DTLS_COOKIE_LEN)
        return false;
    uint32_t cur = epoch_of(now), epoch;
    if (ch->cookie[0] == (uint8_t)cur)
        epoch = cur;
    else if (ch->cookie[0] == (uint8_t)(cur - 1))
        epoch = cur - 1;
    else
        return false;
    uint8_t want[DK_DTLS_COOKIE_MAC_LEN];
    if (mac(c, peer, ch, epoch, want))
        return false;
    bool ok = dk_ct_equal(want, ch->cookie + 1, sizeof want);
    dk_memzero(want, sizeof want);
    return ok;
}

int dk_dtls_hvr_build(uint8_t *out, size_t cap, const struct dk_dtls_client_hello *ch,
                      const uint8_t *cookie, size_t cookie_len)
{
    if (cookie_len > 255)
        return DK_EINVAL;
    /* RFC 6347 §4.2.1: server_version 1.0 whatever is negotiated later. */
    const uint16_t version = 0xfeff;
    size_t body = 2 + 1 + cookie_len;
    struct dk_buf b;
    dk_buf_init(&b, out, cap);
    dk_buf_put_u8(&b, CT_HANDSHAKE);
    dk_buf_put_be16(&b, version);
    dk_buf_put_be16(&b, 0); /* epoch */
    dk_buf_put_be16(&b, (uint16_t)(ch->record_seq >> 32));
    dk_buf_put_be32(&b, (uint32_t)ch->record_seq);
    dk_buf_put_be16(&b, (uint16_t)(HS_HEADER_LEN + body));
    dk_buf_put_u8(&b, HS_HELLO_VERIFY_REQUEST);
    dk_buf_put_u8(&b, 0);
    dk_buf_put_be16(&b, (uint16_t)body);
    dk_buf_put_be16(&b, ch->message_seq);
    dk_buf_put_u8(&b, 0); /* fragment_offset */
    dk_buf_put_be16(&b, 0);
    dk_buf_put_u8(&b, 0); /* fragment_length */
    dk_buf_put_be16(&b, (uint16_t)body);
    dk_buf_put_be16(&b, version);
    dk_buf_put_u8(&b, (uint8_t)cookie_len);
    dk_buf_put(&b, cookie, cookie_len);
    return b.err ? b.err : (int)b.len;
}
