/* duckling — CoAP endpoint engine (RFC 7252 message layer, RFC 7959 block-wise
 * transfers, RFC 7641 observe), client and server at once, without I/O.
 *
 * One struct dk_coap_ep serves one local endpoint (a UDP socket, or the set of
 * DTLS sessions of one socket) and any number of peers, identified by
 * struct dk_addr. It does no I/O, reads no clock, never calls malloc or rand:
 *
 *   program                                  engine
 *   ------------------------------------------------------------------------
 *   datagram from peer P at time now  --->  dk_coap_ep_recv(ep, P, data, len, now)
 *   time passes                       --->  dk_coap_ep_tick(ep, now)
 *   anything to send?                 <---  dk_coap_ep_pop_tx(ep, &to, buf, cap)
 *   when must I call tick next?       <---  dk_coap_ep_deadline(ep)
 *
 * A program's loop: poll() until dk_coap_ep_deadline(); feed each received
 * datagram to dk_coap_ep_recv(); call dk_coap_ep_tick(); send everything
 * dk_coap_ep_pop_tx() hands out. Over DTLS, feed the decrypted records with
 * the session's peer address and write popped datagrams to that session.
 *
 * Results are reported through callbacks, called only from inside
 * dk_coap_ep_recv(), dk_coap_ep_tick(), dk_coap_ep_notify*() (the handler)
 * and dk_coap_ep_peer_closed(); never from dk_coap_ep_request() or the other
 * calls that start something. A callback may call any function of this API on
 * the same endpoint except dk_coap_ep_free(), dk_coap_ep_recv() and
 * dk_coap_ep_tick() (a PUT handler may call dk_coap_ep_notify(), a response
 * callback may start the next request). Pointers a callback receives are
 * valid only until it returns.
 *  - Server role: a request handler (dk_coap_ep_set_handler()) gets each new
 *    request (after deduplication and Block1 reassembly) and fills a
 *    response, or defers it (separate response, dk_coap_ep_respond()).
 *    dk_coap_router_handler() maps paths to handlers.
 *  - Client role: dk_coap_ep_request() takes a response callback per request;
 *    it is called once with the response (the whole body after Block2), or
 *    with an error (timeout after MAX_RETRANSMIT, RST, ...); for an
 *    observation once per fresh notification until the observation ends.
 *  - Server-side events (observer removed, separate response undeliverable)
 *    go to the event callback (dk_coap_ep_set_event_cb()).
 *
 * Memory: every allocation goes through the config's struct dk_alloc. The
 * endpoint holds small per-peer, per-exchange, per-observer and per-dedup
 * records and the queued outgoing datagrams, each bounded by a limit in the
 * config; when a limit is reached new work is refused (DK_ELIMIT) or, for
 * deduplication records, the oldest record is dropped. dk_coap_ep_heap()
 * reports the bytes in use.
 *
 * Transmission (RFC 7252 §4.8 defaults; all in struct dk_coap_config):
 *  - A CON is retransmitted after a random initial timeout in
 *    [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR] (2-3 s), doubling, at most
 *    MAX_RETRANSMIT (4) times; the exchange fails with DK_ETIMEDOUT one
 *    timeout after the last retransmission (at most 93 s after the first
 *    transmission). Message ids start at a random value and increase; tokens
 *    are random (token_len bytes) from the config's CSPRNG.
 *  - Received CON and NON messages are remembered per peer for
 *    EXCHANGE_LIFETIME (247 s) and NON_LIFETIME (145 s): a duplicate CON
 *    gets the same reply again (piggybacked response, empty ACK or RST), a
 *    duplicate NON is ignored.
 *  - At most NSTART (1) outstanding requests per peer; more are queued and
 *    sent in order.
 *  - Observe (server): every notify_con_every-th notification is CON, and
 *    one at least every notify_con_interval_ms (24 h); the others are NON.
 *    A new notification while a CON one is unacknowledged replaces it and
 *    keeps its retransmission counter and timer (RFC 7641 §4.5.2). An
 *    observer is removed when a CON notification times out, on a RST to any
 *    notification, or on a GET with Observe=1.
 *
 * Block-wise (RFC 7959):
 *  - Server: Block2 is stateless: the handler is called for every block
 *    request and must return the same representation (with an ETag if it may
 *    change); the engine cuts the block. Block1 bodies are reassembled per
 *    (peer, method, URI) in order (a gap answers 4.08, a body over max_body
 *    4.13 with Size1), 2.31 Continue acknowledges each block, and the handler
 *    sees the whole body once. A larger block than block_szx is cut down
 *    (the client continues after what was taken).
 *  - Client: bodies larger than a block go out by Block1 (Size1 on the
 *    first block); responses with Block2 are fetched block by block with a
 *    fresh token each, and delivered whole. A changed ETag between blocks
 *    ends the exchange with DK_ESTATE.
 *  - Not supported: a response larger than a block to a Block1 POST/PUT is
 *    served by its first block only (the follow-up requests would re-run the
 *    handler without the body); FETCH bodies are not repeated in Block2
 *    follow-ups.
 *
 * Observe (RFC 7641):
 *  - Server: a GET (or FETCH) with Observe=0 reaches the handler with
 *    req->observe_id set; resp->observe accepts it. The registration is kept
 *    (its options, not its payload) and dk_coap_ep_notify() re-runs the
 *    handler with req->notification set to produce each notification; its
 *    sequence numbers are 24-bit and increase per endpoint. A non-2.xx
 *    notification ends the observation. Handlers may not defer
 *    notifications, and a deferred response cannot start an observation.
 *  - Client: notifications older than the last one by the rule of §3.4
 *    (2^23 window, 128 s) are dropped (stats.stale_notifications). A large
 *    notification is completed by Block2 GETs without Observe; a newer
 *    notification supersedes a fetch in progress, also the registration
 *    response's, so the first callback of an observation may already be a
 *    notification.
 *  - Received duplicate NON responses are not remembered: for notifications
 *    the freshness rule drops them.
 *
 * Not thread-safe: one thread drives one endpoint (several endpoints may
 * share a config and rng in that thread).
 */
#ifndef DUCKLING_COAP_H
#define DUCKLING_COAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <duckling/addr.h>
#include <duckling/alloc.h>
#include <duckling/clock.h>
#include <duckling/coap_msg.h>
#include <duckling/log.h>
#include <duckling/rng.h>

/* ---- Configuration ---------------------------------------------------------- */

struct dk_coap_config {
    /* RFC 7252 §4.8 transmission parameters. */
    dk_time_t ack_timeout_ms;       /* ACK_TIMEOUT: 2000 */
    uint32_t ack_random_factor_pm;  /* ACK_RANDOM_FACTOR in per mille: 1500 */
    unsigned max_retransmit;        /* MAX_RETRANSMIT: 4 */
    unsigned nstart;                /* NSTART: 1 outstanding request per peer */
    dk_time_t exchange_lifetime_ms; /* EXCHANGE_LIFETIME: 247000 (CON dedup) */
    dk_time_t non_lifetime_ms;      /* NON_LIFETIME: 145000 (NON dedup) */
    dk_time_t non_timeout_ms;       /* wait for the response to a NON request: 45000 */
    dk_time_t separate_timeout_ms;  /* wait for a separate response after the
                                       empty ACK: 93000 */
    dk_time_t block_timeout_ms;     /* server: drop an idle Block1 reassembly: 247000 */

    /* Limits. */
    size_t max_peers;     /* peers with any state: 64 */
    size_t max_exchanges; /* client requests, queued ones and observations: 32 */
    size_t max_dedup;     /* remembered received message ids: 128 */
    size_t max_observers; /* server-side observations: 16 */
    size_t max_block_rx;  /* server-side Block1 reassemblies at once: 4 */
    size_t max_tx_queue;  /* datagrams waiting for dk_coap_ep_pop_tx(): 64 */
    size_t max_body;      /* largest body reassembled either way: 65536 */
    size_t handler_buf;   /* scratch for handler payloads (struct dk_coap_resp.buf): 4096 */
    size_t max_message;   /* largest datagram built: 1152 (RFC 7252 §4.6) */
    uint8_t block_szx;    /* preferred block size 16 << szx, 0..6: 6 (1024 bytes) */
    uint8_t token_len;    /* 1..8: 8 */

    /* Observe (server). */
    unsigned notify_con_every;        /* every Nth notification is CON: 16 (1: all) */
    dk_time_t notify_con_interval_ms; /* at least one CON per this interval: 24 h */

    struct dk_rng *rng;           /* required: message ids, tokens, timeouts */
    const struct dk_alloc *alloc; /* NULL: dk_alloc_default() */
    const struct dk_log *log;     /* may be NULL */
};

/* Fills the defaults above (rng NULL). Cannot fail. */
void dk_coap_config_init(struct dk_coap_config *cfg);

/* ---- Server role: requests and responses --------------------------------------- */

struct dk_coap_ep;

/* A request as the handler sees it. */
struct dk_coap_req {
    const struct dk_addr *peer;
    /* The request: method in msg->code, options, token. For a Block1 transfer
     * the last block's message. For a notification the registration request. */
    const struct dk_coap_msg *msg;
    const uint8_t *payload; /* the whole body (Block1 reassembled) */
    size_t payload_len;
    /* Nonzero for a GET with Observe=0 (set resp->observe to accept) and for
     * a notification: the observer's id. */
    uint32_t observe_id;
    bool notification; /* the engine asks for the current representation to notify */
    dk_time_t now;
};

/* Where a deferred (separate) response goes: a value the handler copies. */
struct dk_coap_deferred {
    struct dk_addr peer;
    uint8_t token[DK_COAP_MAX_TOKEN];
    uint8_t tkl;
    uint8_t type;      /* CON or NON: the request's type, the response's type */
    uint8_t block_szx; /* block size for a large response */
};

/* The handler's answer. msg.code is DK_COAP_NOT_FOUND when the handler is
 * called; set it, add options (Content-Format, ETag, Max-Age, Location-Path,
 * ...) and the payload to msg. Type, message id, token, Observe, Block1,
 * Block2 and Size2 are the engine's: a payload larger than the negotiated
 * block size is served by Block2 (the handler is called again for each block
 * and must produce the same representation; set an ETag if it may change).
 * Option values and the payload must stay valid until the handler returns;
 * buf (cap bytes: handler_buf) is scratch memory for the payload, which may
 * also point to the handler's own memory. */
struct dk_coap_resp {
    struct dk_coap_msg msg;
    uint8_t *buf;
    size_t cap;
    bool observe; /* accept the observe registration (only with a 2.xx code) */
    bool defer;   /* answer later: an empty ACK now (CON), then dk_coap_ep_respond(deferred) */
    struct dk_coap_deferred deferred; /* filled by the engine before the call */
};

typedef void dk_coap_handler_fn(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                                struct dk_coap_resp *resp);

/* ---- Client role: requests ------------------------------------------------------ */

/* What the response callback gets. */
struct dk_coap_result {
    /* 0: a response arrived (msg, payload). Else why the exchange ended:
     * DK_ETIMEDOUT (no ACK after MAX_RETRANSMIT, or no response in time),
     * DK_ERESET (the peer sent RST), DK_EBADOPT (the response carried an
     * unrecognized critical option and was rejected), DK_EPARSE (a broken
     * block-wise transfer), DK_ESTATE (the representation changed (ETag) or
     * an error code arrived in the middle of a Block2 transfer), DK_ELIMIT
     * (body larger than max_body), DK_ENOMEM, DK_ECLOSED
     * (dk_coap_ep_peer_closed()). */
    int status;
    const struct dk_coap_msg *msg; /* the response (last block); NULL on error */
    const uint8_t *payload;        /* the whole body (Block2 reassembled) */
    size_t payload_len;
    bool notification;    /* a notification after the registration response */
    bool observing;       /* the observation stands: more notifications will follow */
    uint32_t observe_seq; /* Observe value of this (first block of the) notification */
    dk_time_t now;        /* the `now` of the engine call this result comes from */
};

typedef void dk_coap_response_fn(struct dk_coap_ep *ep, void *user, uint32_t id,
                                 const struct dk_coap_result *res);

struct dk_coap_client_req {
    uint8_t method;         /* DK_COAP_GET, ... */
    bool non;               /* NON instead of CON */
    const char *uri_host;   /* Uri-Host, NULL: none */
    uint16_t uri_port;      /* Uri-Port, 0: none */
    const char *path;       /* "/rd" ("" or NULL: none) */
    const char *query;      /* "ep=x&lt=60", NULL: none */
    int content_format;     /* -1: none */
    int accept;             /* -1: none */
    const uint8_t *payload; /* copied; larger than the block size: Block1 */
    size_t payload_len;
    const struct dk_coap_opt *opts; /* further options (ETag, If-Match, ...), copied */
    size_t nopts;
    bool observe;            /* GET with Observe=0 */
    dk_coap_response_fn *cb; /* may be NULL: fire and forget */
    void *cb_user;
};

/* method, path; everything else empty (content_format and accept -1). */
void dk_coap_client_req_init(struct dk_coap_client_req *r, uint8_t method, const char *path);

/* ---- Events (server side) -------------------------------------------------------- */

enum dk_coap_event_type {
    /* An observer is gone: reason DK_ECANCELED (GET with Observe=1),
     * DK_ERESET (RST to a notification), DK_ETIMEDOUT (CON notification not
     * acknowledged), DK_ECLOSED (a non-2.xx notification ended it, or
     * dk_coap_ep_peer_closed()), DK_ENOMEM. */
    DK_COAP_EV_OBSERVE_END = 1,
    /* A CON separate response (or CON notification without observer) was
     * not acknowledged (DK_ETIMEDOUT) or was reset (DK_ERESET). */
    DK_COAP_EV_RESPONSE_FAILED = 2,
};

struct dk_coap_event {
    enum dk_coap_event_type type;
    const struct dk_addr *peer;
    uint32_t observe_id; /* OBSERVE_END */
    int reason;
    const uint8_t *token;
    uint8_t tkl;
};

typedef void dk_coap_event_fn(struct dk_coap_ep *ep, void *user, const struct dk_coap_event *ev);

/* ---- Statistics ------------------------------------------------------------------ */

struct dk_coap_stats {
    uint64_t rx; /* datagrams fed */
    uint64_t tx; /* datagrams queued for sending (incl. retransmissions) */
    uint64_t retransmissions;
    uint64_t duplicates; /* received duplicates answered from or dropped by dedup */
    uint64_t rst_sent, rst_received;
    uint64_t timeouts;            /* CON given up, or response waits expired */
    uint64_t malformed;           /* datagrams refused by the codec */
    uint64_t dropped;             /* no room: tx queue, peer table or memory */
    uint64_t dedup_evicted;       /* dedup records dropped before their lifetime */
    uint64_t stale_notifications; /* notifications refused by the freshness rule */
};

/* ---- The endpoint ---------------------------------------------------------------- */

struct dk_coap_peer;
struct dk_coap_txq;
struct dk_coap_link {
    struct dk_coap_link *prev, *next;
};

/* Caller-owned. All fields are private. */
struct dk_coap_ep {
    const struct dk_coap_config *cfg;
    const struct dk_alloc *alloc;
    dk_coap_handler_fn *handler;
    void *handler_user;
    dk_coap_event_fn *on_event;
    void *event_user;
    struct dk_coap_peer **buckets;
    size_t nbuckets;
    uint64_t hash_seed;
    struct dk_coap_peer **heap;
    size_t heap_len;
    struct dk_coap_txq *txq_head, *txq_tail;
    size_t txq_len;
    struct dk_coap_link xchgs;     /* every client exchange */
    struct dk_coap_link dedups;    /* every dedup record, oldest first */
    struct dk_coap_link observers; /* every server-side observer */
    uint8_t *scratch;              /* max_body: handler payloads */
    uint8_t *enc;                  /* max_message: message being built */
    uint16_t next_mid;
    uint32_t next_id;
    uint32_t obs_seq;
    unsigned notify_gen;
    unsigned in_handler;
    size_t npeers, nxchg, ndedup, nobs, nbrx;
    size_t heap_bytes;
    struct dk_coap_stats stats;
    bool ready;
};

/* Cannot fail; makes dk_coap_ep_free() safe. */
void dk_coap_ep_init(struct dk_coap_ep *ep);
/* cfg (and its rng, alloc, log) must outlive ep; cfg is not copied, so many
 * endpoints can share one. Allocates the peer table and timer heap
 * (max_peers), a handler_buf scratch buffer and a max_message buffer. The
 * endpoint must not be moved or copied after dk_coap_ep_init() (it holds
 * list heads). Errors: DK_EINVAL (no rng, token_len not
 * 1..8, block_szx > 6, max_message < 64, a zero limit), DK_ENOMEM. */
int dk_coap_ep_setup(struct dk_coap_ep *ep, const struct dk_coap_config *cfg);
/* Server role. NULL handler: every request gets 4.04. user is passed back. */
void dk_coap_ep_set_handler(struct dk_coap_ep *ep, dk_coap_handler_fn *fn, void *user);
void dk_coap_ep_set_event_cb(struct dk_coap_ep *ep, dk_coap_event_fn *fn, void *user);
/* Frees everything; pending exchanges are dropped without callbacks. Safe
 * after dk_coap_ep_init() or a failed setup, and twice. */
void dk_coap_ep_free(struct dk_coap_ep *ep);

/* Feeds one received datagram (not kept after the call). Returns 0, or a
 * non-fatal note on what was refused: DK_EPARSE / DK_ELIMIT (malformed: a CON
 * is rejected with RST, others dropped), DK_EVERSION (ignored), DK_ENOMEM or
 * DK_ELIMIT (no room for the peer; dropped). The endpoint stays usable. */
int dk_coap_ep_recv(struct dk_coap_ep *ep, const struct dk_addr *peer, const uint8_t *data,
                    size_t len, dk_time_t now);
/* Copies the next datagram to send into buf and its destination into *to.
 * Returns its length, 0 when there is none, DK_ENOSPC when cap is too small
 * (the datagram stays queued; max_message is always enough). */
int dk_coap_ep_pop_tx(struct dk_coap_ep *ep, struct dk_addr *to, uint8_t *buf, size_t cap);
bool dk_coap_ep_want_write(const struct dk_coap_ep *ep);
/* When dk_coap_ep_tick() must run next; DK_TIME_NEVER when nothing waits. */
dk_time_t dk_coap_ep_deadline(const struct dk_coap_ep *ep);
/* Retransmissions, timeouts, expiry of dedup records and reassemblies. */
void dk_coap_ep_tick(struct dk_coap_ep *ep, dk_time_t now);
/* The transport to this peer is gone (e.g. its DTLS session closed): its
 * exchanges end with DK_ECLOSED, its observers with an OBSERVE_END event, its
 * other state is dropped. */
void dk_coap_ep_peer_closed(struct dk_coap_ep *ep, const struct dk_addr *peer, dk_time_t now);

/* ---- Client ---------------------------------------------------------------------- */

/* Starts a request to peer (sent now, or queued behind NSTART). *id (may be
 * NULL) gets a nonzero handle for dk_coap_ep_cancel(). The payload and
 * options are copied. Errors: DK_EINVAL (bad method or arguments),
 * DK_ELIMIT (max_exchanges or max_peers reached, or payload larger than
 * max_body), DK_ENOSPC (the options do not fit max_message), DK_ENOMEM.
 * The callback is never called from this function. */
int dk_coap_ep_request(struct dk_coap_ep *ep, const struct dk_addr *peer,
                       const struct dk_coap_client_req *r, dk_time_t now, uint32_t *id);
/* Forgets an exchange or observation at once, without callback: a later
 * response or notification is answered with RST. Returns 0 or DK_ENOTFOUND. */
int dk_coap_ep_cancel(struct dk_coap_ep *ep, uint32_t id, dk_time_t now);
/* Ends an observation by a GET with Observe=1 and the same token (RFC 7641
 * §3.6); the callback gets its response with observing false. Returns 0,
 * DK_ENOTFOUND, DK_ESTATE (not an established observation). */
int dk_coap_ep_observe_cancel(struct dk_coap_ep *ep, uint32_t id, dk_time_t now);

/* ---- Server ---------------------------------------------------------------------- */

/* Sends a deferred response (struct dk_coap_resp.defer): CON (with its own
 * retransmission) if the request was CON, else NON. resp: code, options and
 * payload (type, id and token are set here; a large payload gets Block2 for
 * its first block and the rest is served by the handler). Errors: DK_ELIMIT,
 * DK_ENOSPC, DK_ENOMEM. */
int dk_coap_ep_respond(struct dk_coap_ep *ep, const struct dk_coap_deferred *d,
                       const struct dk_coap_msg *resp, dk_time_t now);
/* Sends a notification to every observer whose registration's Uri-Path is
 * `path`: the handler is called with req->notification set for each.
 * Returns how many were notified (>= 0). */
int dk_coap_ep_notify(struct dk_coap_ep *ep, const char *path, dk_time_t now);
/* The same for one observer. Returns 0 or DK_ENOTFOUND. */
int dk_coap_ep_notify_id(struct dk_coap_ep *ep, uint32_t observe_id, dk_time_t now);
/* Removes an observer without telling the client (no event). 0 or DK_ENOTFOUND. */
int dk_coap_ep_observe_drop(struct dk_coap_ep *ep, uint32_t observe_id);
size_t dk_coap_ep_observer_count(const struct dk_coap_ep *ep);

/* ---- Router: path + method -> handler ------------------------------------------- */

#define DK_COAP_METHOD_BIT(m) (1u << (m))

struct dk_coap_resource {
    /* "/a/b"; a last segment "*" ("/a" followed by "/" and "*") also
     * matches "/a" and everything below it */
    const char *path;
    unsigned methods; /* DK_COAP_METHOD_BIT()s allowed; 0: all. Others: 4.05 */
    dk_coap_handler_fn *fn;
    void *user;
};

struct dk_coap_router {
    const struct dk_coap_resource *res; /* first match wins */
    size_t n;
};

/* A handler (user: struct dk_coap_router *) that dispatches by path and
 * method: no match 4.04, method not allowed 4.05. */
void dk_coap_router_handler(struct dk_coap_ep *ep, void *user, const struct dk_coap_req *req,
                            struct dk_coap_resp *resp);

/* ---- Introspection ------------------------------------------------------------- */

const struct dk_coap_stats *dk_coap_ep_stats(const struct dk_coap_ep *ep);
/* Bytes currently allocated through the config's allocator. */
size_t dk_coap_ep_heap(const struct dk_coap_ep *ep);
/* Exchanges (incl. queued and observations) and peers with state. */
size_t dk_coap_ep_exchange_count(const struct dk_coap_ep *ep);
size_t dk_coap_ep_peer_count(const struct dk_coap_ep *ep);

#endif
