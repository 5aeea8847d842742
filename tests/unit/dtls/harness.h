/* Test support for the DTLS tests: a test PKI made with mbedTLS at start-up,
 * and a client session and a server table wired over the fake network with
 * a fake clock. Backend-neutral: a pairing is two backend pointers. */
#ifndef DK_TEST_DTLS_HARNESS_H
#define DK_TEST_DTLS_HARNESS_H

#include <duckling/dtls.h>
#include <duckling/rng.h>

#include "support/fakenet.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pairing {
    const char *name;
    const struct dk_dtls_backend *(*client)(void);
    const struct dk_dtls_backend *(*server)(void);
};

/* DER blobs of the test PKI (P-256, ECDSA-SHA256). */
struct blob {
    uint8_t der[1024];
    size_t len;
};

struct pki {
    struct blob ca_cert, ca_key;         /* CA1: the trusted one */
    struct blob server_cert, server_key; /* CN=server, by CA1 */
    struct blob client_cert, client_key; /* CN=dev-1, by CA1 */
    struct blob self_cert, self_key;     /* CN=dev-ss, self-signed */
    struct blob other_ca_cert;           /* CA2 */
    struct blob rogue_cert, rogue_key;   /* CN=server, by CA2 */
    struct blob expired_cert;            /* CN=server, by CA1, server_key, ended 2001 */
};

/* Made once per process (deterministic seed). */
const struct pki *test_pki(void);

/* SHA-256 of a DER blob. */
void test_sha256(const struct blob *b, uint8_t out[32]);

/* A PSK store for the server: identity "dev-1" with key 16 x 0x11, and
 * "dev-2" with 16 x 0x22. Counts lookups. */
extern int test_psk_lookups;
int test_psk_lookup(void *user, const struct dk_addr *peer, const uint8_t *id, size_t id_len,
                    uint8_t *key, size_t key_cap, size_t *key_len);

/* A pair of ends over the fake network. */
struct link {
    struct dk_fakenet net;
    dk_time_t now;
    struct dk_rng crng, srng;
    struct dk_dtls_params cp, sp; /* filled by link_init with defaults; adjust, then link_start */
    struct dk_dtls_config ccfg, scfg;
    struct dk_dtls_server srv;
    struct dk_dtls_session *cli;
    struct dk_addr caddr, saddr;
    const struct pairing *pairing;

    /* What happened. */
    int cli_err;      /* first error from the client session, 0 if none */
    int srv_err;      /* error of the server session that closed, 0 if none */
    int srv_recv_err; /* an error dk_dtls_server_recv returned */
    bool srv_connected, srv_closed;
    struct dk_dtls_session *srv_sess;  /* valid while connected */
    struct dk_dtls_peer_info srv_peer; /* copied at EV_CONNECTED */
    unsigned srv_data_events;
    uint8_t srv_rx[2048]; /* last application record the server read */
    int srv_rx_len;
};

/* Defaults: PSK "dev-1" both sides; client 10.0.0.2:40000, server 10.0.0.1:5684. */
void link_init(struct link *l, const struct pairing *pr, unsigned modes);
/* Sets up both configs, the server table and the client session. Returns the
 * first error (config setup or session creation). */
int link_start(struct link *l);
/* Runs the network until pred(l) holds or limit_ms of fake time pass.
 * Returns true when pred held. */
bool link_run(struct link *l, bool (*pred)(const struct link *), dk_time_t limit_ms);
bool link_connected(const struct link *l);
bool link_settled(const struct link *l); /* both sides connected, or failure seen on both */
void link_free(struct link *l);

/* Certificate-mode helpers: client cert from blob pair, server cert etc. */
void link_use_certs(struct link *l, const struct blob *ccert, const struct blob *ckey,
                    const struct blob *scert, const struct blob *skey);

/* Heap currently in use by the process (glibc mallinfo2 or ASan's count). */
size_t test_heap_in_use(void);

#endif
