/* Internal: stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1), shared by
 * every backend through the server table. Nothing here allocates: a server
 * answers any number of ClientHellos from any number of addresses without
 * per-peer state until one comes back with a valid cookie. */
#ifndef DK_DTLS_COOKIE_H
#define DK_DTLS_COOKIE_H

#include <duckling/addr.h>
#include <duckling/clock.h>

#include <mbedtls/md.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Cookie: one byte naming the time epoch it was made in, then a truncated
 * HMAC-SHA256. 128 bits of MAC are plenty against blind forgery and keep the
 * HelloVerifyRequest and the second ClientHello short. */
#define DK_DTLS_COOKIE_MAC_LEN 16
#define DK_DTLS_COOKIE_LEN (1 + DK_DTLS_COOKIE_MAC_LEN)
/* A cookie is accepted in the epoch it was made and the next one, so it lives
 * between one and two periods. */
#define DK_DTLS_COOKIE_PERIOD_MS 30000

/* A ClientHello as it sits in the first record of a datagram; pointers point
 * into that datagram. */
struct dk_dtls_client_hello {
    uint16_t record_version; /* 0xfeff, 0xfefd or 0xfe00 */
    uint64_t record_seq;     /* 48 bits; the epoch is always 0 */
    size_t record_len;       /* header + fragment of the first record */
    uint16_t message_seq;
    uint16_t client_version;
    const uint8_t *random; /* 32 bytes */
    const uint8_t *session_id;
    size_t session_id_len;
    const uint8_t *cookie;
    size_t cookie_len;
    const uint8_t *suites;
    size_t suites_len;
    const uint8_t *compression;
    size_t compression_len;
};

/* Parses the datagram's first record as an unfragmented epoch-0 ClientHello.
 * Returns 0, or DK_EPARSE for anything else (including fragmented hellos,
 * which no client sends for a first flight that fits in one datagram). */
int dk_dtls_client_hello_parse(const uint8_t *dgram, size_t len, struct dk_dtls_client_hello *ch);

/* HMAC-SHA256 keyed once at setup; reset per cookie, so computing one does
 * not allocate. */
struct dk_dtls_cookie_ctx {
    mbedtls_md_context_t hmac;
    bool ready;
};

void dk_dtls_cookie_init(struct dk_dtls_cookie_ctx *c);
/* Errors: DK_ENOMEM, DK_ECRYPTO. */
int dk_dtls_cookie_setup(struct dk_dtls_cookie_ctx *c, const uint8_t *key, size_t key_len);
void dk_dtls_cookie_free(struct dk_dtls_cookie_ctx *c);

/* The cookie for this peer and hello at time now, into out[DK_DTLS_COOKIE_LEN]. */
int dk_dtls_cookie_make(struct dk_dtls_cookie_ctx *c, const struct dk_addr *peer,
                        const struct dk_dtls_client_hello *ch, dk_time_t now, uint8_t *out);
/* True when ch carries a cookie made for this peer and these hello fields in
 * the current or the previous epoch. Compares in constant time. */
bool dk_dtls_cookie_check(struct dk_dtls_cookie_ctx *c, const struct dk_addr *peer,
                          const struct dk_dtls_client_hello *ch, dk_time_t now);

/* Writes the HelloVerifyRequest answering ch (record sequence number and
 * message_seq copied from it, RFC 6347 §4.2.1) into out. Returns its length,
 * or DK_ENOSPC. */
int dk_dtls_hvr_build(uint8_t *out, size_t cap, const struct dk_dtls_client_hello *ch,
                      const uint8_t *cookie, size_t cookie_len);

#endif
