/* Test world for the client engine: one dk_client, a scripted Bootstrap
 * Server and two LwM2M Servers (each a dk_coap_ep), the fake network of
 * tests/support and a fake clock. The program side (transports, persistence,
 * wipe, events, drivers) is simulated here. */
#ifndef DK_TEST_CLIENT_WORLD_H
#define DK_TEST_CLIENT_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/client.h>
#include <duckling/coap.h>
#include <duckling/err.h>
#include <duckling/lwm2m.h>
#include <duckling/lwm2m_link.h>

#include "fakenet.h"

#define W_MAX_REQ 64
#define W_MAX_EV 128
#define W_MAX_REC 64
#define W_BODY 4096

enum { P_BS = 0, P_S1 = 1, P_S2 = 2, P_COUNT = 3 };

/* A request a peer received (client -> server direction). */
struct w_req {
    dk_time_t t;
    uint8_t method;
    char path[64];
    char query[256];
    int cf;
    size_t len;
    uint8_t body[W_BODY];
};

/* The answer to a request a peer sent (server -> client direction). */
struct w_res {
    bool done;
    int status;
    uint8_t code;
    int cf;
    char location[64];
    size_t len;
    uint8_t body[W_BODY];
    bool notification, observing;
    int notifications;
    dk_time_t t;
    dk_time_t note_t[64]; /* times of notifications */
    size_t note_len[64];
    uint8_t note_body[64][256];
};

struct w_peer {
    struct dk_coap_ep ep;
    struct dk_addr addr;
    struct w_req req[W_MAX_REQ];
    size_t nreq;
    uint8_t bs_code;  /* answer to POST /bs: 2.04 by default */
    uint8_t reg_code; /* answer to POST /rd: 2.01 */
    uint8_t upd_code; /* answer to POST /rd/N: 2.04 */
    bool drop_in;     /* the network drops everything to this peer */
    unsigned reg_count;
};

struct w_stored {
    char key[32];
    size_t len;
    uint8_t value[W_BODY];
};

struct world {
    struct dk_fakenet net;
    dk_time_t now;
    struct dk_rng rng;
    struct dk_coap_config ccfg; /* the client's */
    struct dk_coap_config pcfg; /* the peers' */
    struct dk_client_config cfg;
    struct dk_client c;
    struct dk_addr caddr;
    struct w_peer peer[P_COUNT];
    struct dk_failalloc fa;
    bool use_fa;

    /* Program side. */
    enum { T_AUTO = 0, T_MANUAL, T_FAIL } tmode;
    uint32_t open_ids[16];
    int open_peer[16];
    size_t nopen;
    uint32_t closed[64];
    size_t nclosed;
    struct dk_client_event ev[W_MAX_EV];
    size_t nev;
    struct w_stored stored[W_MAX_REC];
    size_t nstored;
    int persist_calls;
    int persist_fail; /* nonzero: persist returns this */
    int wipe_calls;
    bool led_on;
    int led_dimmer;
    int led_calls;
    double temperature, lux;
    uint8_t psk[16];
};

extern struct world W;
/* Called by w_init() just before dk_client_setup() (NULL: none). */
extern void (*w_config_hook)(struct dk_client_config *cfg);

/* Sets up the world (peers, network, config with a NoSec Bootstrap Server at
 * coap://10.0.0.2:5783); the client is set up but not started. fa: use the
 * failing allocator with this fail_at (0: counts, never fails; -1: malloc). Returns the setup
 * error. */
int w_init(long fail_at);
void w_free(void);

/* Starts the client at W.now. */
int w_start(void);
/* Runs the world (deliver, tick, pop) until `until`. */
void w_run_until(dk_time_t until);
void w_run(dk_time_t ms);
/* Runs until pred() or the timeout (ms). Returns pred(). */
bool w_run_while_not(bool (*pred)(void), dk_time_t timeout);

/* Sends a request from a peer to the client and runs until the answer (or
 * timeout_ms). Returns the result (static storage, reused). */
struct w_res *w_request(int peer, uint8_t method, const char *path, const char *query, int cf,
                        int accept, const void *payload, size_t len, bool observe);
/* Starts a request without running; the result fills r as it comes. */
uint32_t w_request_start(int peer, uint8_t method, const char *path, const char *query, int cf,
                         int accept, const void *payload, size_t len, bool observe,
                         struct w_res *r);

/* Bootstrap helpers: encodes records as `cf` and PUTs them to path from the
 * Bootstrap Server. Returns the CoAP code. */
uint8_t w_bs_write(int cf, const char *path, const struct dk_lwm2m_record *recs, size_t n);
/* A server account: /0/sec_iid (NoSec to peer) + /1/srv_iid. Returns 0 or a code. */
uint8_t w_bs_write_account(int cf, uint16_t sec_iid, uint16_t srv_iid, uint16_t ssid, int peer,
                           uint32_t lifetime);
/* Full standard bootstrap to S1 (ssid 101, lifetime 300): runs until registered. */
void w_bootstrap_to_s1(void);

size_t w_count_events(enum dk_client_event_type t);
const struct dk_client_event *w_last_event(enum dk_client_event_type t);
/* Requests of a peer with this method and path prefix. */
size_t w_count_req(int peer, uint8_t method, const char *path_prefix);
const struct w_req *w_last_req(int peer, uint8_t method, const char *path_prefix);

/* The stored records as dk_store_record (pointing into W.stored). */
size_t w_records(struct dk_store_record *out, size_t cap);

#endif
