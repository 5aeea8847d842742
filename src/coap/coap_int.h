/* CoAP engine internals shared by ep.c (message layer), server.c, client.c. */
#ifndef DK_COAP_INT_H
#define DK_COAP_INT_H

#include <duckling/coap.h>
#include <duckling/err.h>

#include <stddef.h>
#include <string.h>

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void link_init(struct dk_coap_link *l)
{
    l->prev = l->next = l;
}
static inline bool link_empty(const struct dk_coap_link *l)
{
    return l->next == l;
}
static inline void link_add_tail(struct dk_coap_link *head, struct dk_coap_link *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}
static inline void link_del(struct dk_coap_link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

#define LINK_FOREACH(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

/* Everything the endpoint knows about one peer. Freed as soon as it holds
 * nothing (peer_gc), unless a caller up the stack is using it (busy). */
struct dk_coap_peer {
    struct dk_addr addr;
    struct dk_coap_peer *hnext; /* hash chain */
    size_t heap_idx;
    dk_time_t deadline;
    unsigned busy;
    unsigned outstanding;                     /* requests counted against NSTART */
    struct dk_coap_link tx;                   /* struct tx: our CONs awaiting an ACK */
    struct dk_coap_link dedup_con, dedup_non; /* struct dedup, by expiry */
    struct dk_coap_link xchg;                 /* struct xchg: our requests, in start order */
    struct dk_coap_link obs;                  /* struct observer: who observes us */
    struct dk_coap_link brx;                  /* struct brx: Block1 bodies being received */
};

/* One outgoing datagram waiting for dk_coap_ep_pop_tx(). */
struct dk_coap_txq {
    struct dk_coap_txq *next;
    struct dk_addr to;
    size_t len;
    uint8_t data[];
};

enum tx_kind { TX_NONE = 0, TX_XCHG, TX_OBS };

/* A CON we sent, kept for retransmission until ACK, RST or give-up. */
struct tx {
    struct dk_coap_link link;
    void *owner; /* struct xchg or struct observer; NULL: separate response */
    uint8_t kind;
    uint8_t retransmits;
    uint16_t mid;
    dk_time_t timeout; /* current interval, doubling */
    dk_time_t due;     /* next retransmission, or give-up after the last */
    size_t len;
    uint8_t data[];
};

/* A message id we received, and the reply to repeat for a duplicate CON. */
struct dedup {
    struct dk_coap_link link; /* in the peer's list */
    struct dk_coap_link all;  /* in ep->dedups */
    struct dk_coap_peer *peer;
    dk_time_t expires;
    uint16_t mid;
    uint16_t len;
    uint8_t data[];
};

enum xchg_state { X_QUEUED = 0, X_WAIT, X_OBSERVING };
enum xchg_phase { PH_FIRST = 0, PH_BLOCK1, PH_BLOCK2, PH_DEREG };

/* A client request (and, when observing, the observation). */
struct xchg {
    struct dk_coap_link plink, elink;
    struct dk_coap_peer *peer;
    uint32_t id;
    uint8_t state, phase;
    bool counted; /* holds one of the peer's NSTART slots */
    bool non;
    bool observe;   /* registration requested */
    bool observing; /* registration accepted */
    bool b2_notif;  /* the Block2 fetch completes a notification */
    bool in_cb, cancelled, detached;
    bool dereg;       /* deregistering (GET with Observe=1) */
    bool reg_pending; /* registration accepted, its response not yet delivered */
    uint8_t tkl;
    uint8_t tok[DK_COAP_MAX_TOKEN];  /* token of the request in flight */
    uint8_t otok[DK_COAP_MAX_TOKEN]; /* token of the observation */
    uint16_t mid;
    struct tx *tx;
    dk_time_t due; /* response timeout (NON, separate); DK_TIME_NEVER */
    int fail;      /* nonzero: fail with this at the next tick */
    dk_coap_response_fn *cb;
    void *user;
    uint8_t *tmpl; /* the request without mid, token, block options, payload */
    size_t tmpl_len;
    uint8_t *body;
    size_t body_len;
    size_t b1_off, b1_len; /* Block1: offset and length of the block in flight */
    uint8_t b1_szx;
    uint8_t *rx; /* Block2 reassembly */
    size_t rx_len, rx_cap;
    uint32_t b2_num;
    uint8_t b2_szx;
    uint8_t etag_len;
    uint8_t etag[8];
    uint32_t v1; /* freshness (RFC 7641 §3.4): last sequence number and time */
    dk_time_t t1;
    uint32_t b2_seq; /* Observe value of the notification being fetched */
};

/* A client observing one of our resources. */
struct observer {
    struct dk_coap_link plink, elink;
    struct dk_coap_peer *peer;
    uint32_t id;
    uint8_t tkl;
    uint8_t token[DK_COAP_MAX_TOKEN];
    uint8_t szx;
    bool has_non_mid, busy, dropped, pending;
    uint16_t non_mid; /* last NON notification, to match a RST */
    unsigned since_con;
    dk_time_t last_con;
    unsigned gen;
    struct tx *tx; /* CON notification in flight */
    size_t req_len;
    uint8_t req[]; /* the registration: header, token and options */
};

/* A Block1 request body being received. */
struct brx {
    struct dk_coap_link plink;
    dk_time_t expires;
    uint8_t method;
    uint8_t *data;
    size_t len, cap;
    size_t key_len;
    uint8_t key[]; /* the request's Uri-Host, Uri-Port, Uri-Path, Uri-Query */
};

/* Functions shared between the engine's files: exported from the static
 * library, so they carry the dk_ prefix (DESIGN §9.11) under short names. */
#define dedup_add dk_coap_i_dedup_add
#define dedup_find dk_coap_i_dedup_find
#define ep_alloc dk_coap_i_ep_alloc
#define ep_event dk_coap_i_ep_event
#define ep_fit_szx dk_coap_i_ep_fit_szx
#define ep_free dk_coap_i_ep_free
#define ep_new_token dk_coap_i_ep_new_token
#define ep_next_mid dk_coap_i_ep_next_mid
#define ep_queue dk_coap_i_ep_queue
#define ep_send dk_coap_i_ep_send
#define ep_send_empty dk_coap_i_ep_send_empty
#define peer_gc dk_coap_i_peer_gc
#define peer_get dk_coap_i_peer_get
#define peer_reschedule dk_coap_i_peer_reschedule
#define tx_free dk_coap_i_tx_free
#define brx_free dk_coap_i_brx_free
#define obs_remove dk_coap_i_obs_remove
#define obs_rst_non dk_coap_i_obs_rst_non
#define obs_tx_done dk_coap_i_obs_tx_done
#define srv_request dk_coap_i_srv_request
#define cli_ack dk_coap_i_cli_ack
#define cli_fail dk_coap_i_cli_fail
#define cli_pump dk_coap_i_cli_pump
#define cli_response dk_coap_i_cli_response
#define cli_rst_non dk_coap_i_cli_rst_non
#define xchg_destroy dk_coap_i_xchg_destroy

/* ep.c */
void *ep_alloc(struct dk_coap_ep *ep, size_t n);
void ep_free(struct dk_coap_ep *ep, void *p);
struct dk_coap_peer *peer_get(struct dk_coap_ep *ep, const struct dk_addr *a, bool create);
void peer_reschedule(struct dk_coap_ep *ep, struct dk_coap_peer *p);
void peer_gc(struct dk_coap_ep *ep, struct dk_coap_peer *p);
uint16_t ep_next_mid(struct dk_coap_ep *ep);
int ep_new_token(struct dk_coap_ep *ep, uint8_t *tok);
void ep_queue(struct dk_coap_ep *ep, const struct dk_addr *to, const uint8_t *data, size_t len);
int ep_send(struct dk_coap_ep *ep, struct dk_coap_peer *p, const struct dk_coap_msg *m,
            enum tx_kind kind, void *owner, struct tx **txo, dk_time_t now);
void ep_send_empty(struct dk_coap_ep *ep, const struct dk_addr *to, enum dk_coap_type type,
                   uint16_t mid);
void tx_free(struct dk_coap_ep *ep, struct tx *t);
struct dedup *dedup_find(struct dk_coap_peer *p, uint16_t mid, dk_time_t now);
void dedup_add(struct dk_coap_ep *ep, struct dk_coap_peer *p, uint16_t mid, bool con,
               const uint8_t *reply, size_t len, dk_time_t now);
void ep_event(struct dk_coap_ep *ep, enum dk_coap_event_type type, const struct dk_addr *peer,
              uint32_t observe_id, int reason, const uint8_t *token, uint8_t tkl);
uint8_t ep_fit_szx(const struct dk_coap_ep *ep, const struct dk_coap_msg *m, uint8_t szx);

/* server.c */
void srv_request(struct dk_coap_ep *ep, struct dk_coap_peer *p, const struct dk_coap_msg *m,
                 dk_time_t now);
void obs_tx_done(struct dk_coap_ep *ep, struct observer *o, int status);
bool obs_rst_non(struct dk_coap_ep *ep, struct dk_coap_peer *p, uint16_t mid);
void obs_remove(struct dk_coap_ep *ep, struct observer *o, int reason, bool event);
void brx_free(struct dk_coap_ep *ep, struct brx *b);

/* client.c */
void cli_response(struct dk_coap_ep *ep, struct dk_coap_peer *p, const struct dk_coap_msg *m,
                  dk_time_t now);
void cli_ack(struct dk_coap_ep *ep, struct xchg *x, const struct dk_coap_msg *m, dk_time_t now);
void cli_fail(struct dk_coap_ep *ep, struct xchg *x, int status, dk_time_t now);
bool cli_rst_non(struct dk_coap_ep *ep, struct dk_coap_peer *p, uint16_t mid, dk_time_t now);
void cli_pump(struct dk_coap_ep *ep, struct dk_coap_peer *p, dk_time_t now);
void xchg_destroy(struct dk_coap_ep *ep, struct xchg *x);

#endif
