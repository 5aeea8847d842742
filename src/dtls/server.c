/* The server table: sessions keyed by peer address, stateless cookies in
 * front of them (DESIGN §9.6), a session limit, idle expiry and a handshake
 * timeout. Backend-neutral: sessions are driven only through dtls.h. */
#include "backend.h"
#include "cookie.h"

#include <duckling/err.h>
#include <duckling/mem.h>

#include <string.h>

/* Last datagrams (alerts, close_notify) of sessions already removed, so a
 * session can be freed at once without losing them. Only small ones fit. */
#define PARTING_SLOTS 8
#define PARTING_MAX 96

struct parting {
    struct dk_addr to;
    size_t len;
    uint8_t data[PARTING_MAX];
};

struct table {
    uint64_t seed;   /* keys the address hash, so peers cannot aim at one bucket */
    size_t nbuckets; /* a power of two */
    size_t cursor;   /* pop_tx resumes its scan here, so every session gets its turn */
    struct dk_dtls_cookie_ctx cookie;
    /* Removed sessions handed to the caller with DK_DTLS_EV_CLOSED: freed on
     * the next call, so the caller may look at them until then. */
    struct dk_dtls_session *deferred;
    struct parting parting[PARTING_SLOTS];
    size_t parting_head, parting_count;
    struct dk_dtls_session *buckets[];
};

static struct table *table_of(const struct dk_dtls_server *srv)
{
    return srv->table;
}

static size_t bucket_of(const struct table *t, const struct dk_addr *a)
{
    return (size_t)(dk_addr_hash(a, t->seed) & (t->nbuckets - 1));
}

static struct dk_dtls_session *lookup(struct table *t, const struct dk_addr *peer)
{
    for (struct dk_dtls_session *s = t->buckets[bucket_of(t, peer)]; s; s = s->next)
        if (dk_addr_equal(&s->peer, peer))
            return s;
    return NULL;
}

static void link_session(struct dk_dtls_server *srv, struct dk_dtls_session *s)
{
    struct table *t = table_of(srv);
    size_t b = bucket_of(t, &s->peer);
    s->next = t->buckets[b];
    t->buckets[b] = s;
    srv->count++;
}

static bool unlink_session(struct dk_dtls_server *srv, struct dk_dtls_session *s)
{
    struct table *t = table_of(srv);
    for (struct dk_dtls_session **pp = &t->buckets[bucket_of(t, &s->peer)]; *pp;
         pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            s->next = NULL;
            srv->count--;
            return true;
        }
    }
    return false;
}

static void parting_push(struct table *t, const struct dk_addr *to, const uint8_t *d, size_t n)
{
    if (t->parting_count == PARTING_SLOTS) { /* full: the oldest goes */
        t->parting_head = (t->parting_head + 1) % PARTING_SLOTS;
        t->parting_count--;
    }
    struct parting *p = &t->parting[(t->parting_head + t->parting_count) % PARTING_SLOTS];
    p->to = *to;
    p->len = n;
    memcpy(p->data, d, n);
    t->parting_count++;
}

/* Keeps the session's small pending datagrams (its final alert or
 * close_notify); larger ones are handshake flights nobody waits for now. */
static void drain_to_parting(struct table *t, struct dk_dtls_session *s)
{
    uint8_t buf[PARTING_MAX];
    for (;;) {
        int n = dk_dtls_session_pop_tx(s, buf, sizeof buf);
        if (n == 0)
            break;
        if (n == DK_ENOSPC) {
            uint8_t big[2048];
            if (dk_dtls_session_pop_tx(s, big, sizeof big) <= 0)
                break; /* larger than any datagram we send: give up on it */
            continue;
        }
        if (n < 0)
            break;
        parting_push(t, &s->peer, buf, (size_t)n);
    }
}

static void release_deferred(struct table *t)
{
    while (t->deferred) {
        struct dk_dtls_session *s = t->deferred;
        t->deferred = s->next;
        dk_dtls_session_free(s);
    }
}

/* Takes a session out of the table and keeps it alive until the next call. */
static void retire(struct dk_dtls_server *srv, struct dk_dtls_session *s)
{
    struct table *t = table_of(srv);
    unlink_session(srv, s);
    drain_to_parting(t, s);
    s->next = t->deferred;
    t->deferred = s;
}

void dk_dtls_server_init(struct dk_dtls_server *srv)
{
    memset(srv, 0, sizeof *srv);
}

static size_t bucket_count(size_t max_sessions)
{
    size_t n = 16;
    while (n < max_sessions && n < ((size_t)1 << 16))
        n <<= 1;
    return n;
}

int dk_dtls_server_setup(struct dk_dtls_server *srv, const struct dk_dtls_config *cfg)
{
    if (!cfg || !cfg->backend || cfg->p.role != DK_DTLS_SERVER || srv->table)
        return DK_EINVAL;
    size_t nb = bucket_count(cfg->p.max_sessions);
    struct table *t =
        dk_alloc_zeroed(dk_dtls_alloc(cfg), sizeof *t + nb * sizeof(struct dk_dtls_session *));
    if (!t)
        return DK_ENOMEM;
    t->nbuckets = nb;
    dk_dtls_cookie_init(&t->cookie);
    int rc = dk_rng_bytes(cfg->p.rng, &t->seed, sizeof t->seed);
    if (!rc)
        rc = dk_dtls_cookie_setup(&t->cookie, cfg->cookie_key, sizeof cfg->cookie_key);
    if (rc) {
        dk_dtls_cookie_free(&t->cookie);
        dk_alloc_release(dk_dtls_alloc(cfg), t);
        return rc;
    }
    srv->cfg = cfg;
    srv->table = t;
    return 0;
}

static void send_hello_verify(struct dk_dtls_server *srv, const struct dk_addr *peer,
                              const struct dk_dtls_client_hello *ch, dk_time_t now)
{
    uint8_t cookie[DK_DTLS_COOKIE_LEN];
    if (dk_dtls_cookie_make(&table_of(srv)->cookie, peer, ch, now, cookie))
        return;
    int n = dk_dtls_hvr_build(srv->hvr, sizeof srv->hvr, ch, cookie, sizeof cookie);
    if (n <= 0)
        return;
    /* One slot: a newer challenge replaces an undrained one, whose client
     * simply retransmits its hello. */
    srv->hvr_len = (size_t)n;
    srv->hvr_to = *peer;
    srv->stats.hello_verify_sent++;
}

static bool ended(const struct dk_dtls_session *s)
{
    return s->state == DK_DTLS_CLOSED || s->state == DK_DTLS_FAILED;
}

static int feed(struct dk_dtls_server *srv, struct dk_dtls_session *s, const uint8_t *dgram,
                size_t len, dk_time_t now, enum dk_dtls_event *ev)
{
    enum dk_dtls_state before = s->state;
    int rc = dk_dtls_session_recv(s, dgram, len, now);
    if (rc < 0 || ended(s)) {
        if (before == DK_DTLS_HANDSHAKING)
            srv->stats.handshakes_failed++;
        retire(srv, s);
        *ev = DK_DTLS_EV_CLOSED;
        return 0;
    }
    if (before == DK_DTLS_HANDSHAKING && s->state == DK_DTLS_CONNECTED)
        *ev = DK_DTLS_EV_CONNECTED;
    else if (before == DK_DTLS_CONNECTED)
        *ev = DK_DTLS_EV_DATA;
    return 0;
}

static int accept_hello(struct dk_dtls_server *srv, const struct dk_addr *peer,
                        const struct dk_dtls_client_hello *ch, const uint8_t *dgram, size_t len,
                        dk_time_t now, struct dk_dtls_session **sess, enum dk_dtls_event *ev)
{
    if (srv->count >= srv->cfg->p.max_sessions) {
        srv->stats.sessions_refused++;
        return DK_ELIMIT;
    }
    struct dk_dtls_hello hello = {.record_seq = ch->record_seq, .message_seq = ch->message_seq};
    struct dk_dtls_session *s;
    int rc = dk_dtls_session_new_hello(&s, srv->cfg, peer, now, &hello);
    if (rc)
        return rc;
    link_session(srv, s);
    srv->stats.sessions_created++;
    *sess = s;
    return feed(srv, s, dgram, len, now, ev);
}

int dk_dtls_server_recv(struct dk_dtls_server *srv, const struct dk_addr *peer,
                        const uint8_t *dgram, size_t len, dk_time_t now,
                        struct dk_dtls_session **sess, enum dk_dtls_event *ev)
{
    *sess = NULL;
    *ev = DK_DTLS_EV_NONE;
    struct table *t = table_of(srv);
    if (!t)
        return DK_ESTATE;
    release_deferred(t);
    struct dk_dtls_session *s = lookup(t, peer);
    struct dk_dtls_client_hello ch;
    bool hello = dk_dtls_client_hello_parse(dgram, len, &ch) == 0;
    if (s && !(hello && s->state != DK_DTLS_HANDSHAKING)) {
        *sess = s;
        return feed(srv, s, dgram, len, now, ev);
    }
    if (!hello) {
        srv->stats.datagrams_dropped++;
        return 0;
    }
    if (!dk_dtls_cookie_check(&t->cookie, peer, &ch, now)) {
        send_hello_verify(srv, peer, &ch, now);
        return 0;
    }
    if (s) {
        /* RFC 6347 §4.2.8: a reachable client (valid cookie) starts over on
         * the same address, e.g. after a reboot: the old association goes,
         * reported as closed; the new one is reported when it connects. */
        retire(srv, s);
        struct dk_dtls_session *fresh = NULL;
        enum dk_dtls_event fresh_ev = DK_DTLS_EV_NONE;
        int rc = accept_hello(srv, peer, &ch, dgram, len, now, &fresh, &fresh_ev);
        *sess = s;
        *ev = DK_DTLS_EV_CLOSED;
        return rc == DK_ELIMIT || rc == DK_ENOMEM ? rc : 0;
    }
    return accept_hello(srv, peer, &ch, dgram, len, now, sess, ev);
}

static int pop_parting(struct table *t, struct dk_addr *to, uint8_t *buf, size_t cap)
{
    struct parting *p = &t->parting[t->parting_head];
    if (p->len > cap)
        return DK_ENOSPC;
    memcpy(buf, p->data, p->len);
    *to = p->to;
    int n = (int)p->len;
    t->parting_head = (t->parting_head + 1) % PARTING_SLOTS;
    t->parting_count--;
    return n;
}

int dk_dtls_server_pop_tx(struct dk_dtls_server *srv, struct dk_addr *to, uint8_t *buf, size_t cap)
{
    struct table *t = table_of(srv);
    if (!t)
        return 0;
    release_deferred(t);
    if (srv->hvr_len) {
        if (srv->hvr_len > cap)
            return DK_ENOSPC;
        memcpy(buf, srv->hvr, srv->hvr_len);
        *to = srv->hvr_to;
        int n = (int)srv->hvr_len;
        srv->hvr_len = 0;
        return n;
    }
    if (t->parting_count)
        return pop_parting(t, to, buf, cap);
    for (size_t i = 0; i < t->nbuckets; i++) {
        size_t b = (t->cursor + i) & (t->nbuckets - 1);
        for (struct dk_dtls_session *s = t->buckets[b]; s; s = s->next) {
            int n = dk_dtls_session_pop_tx(s, buf, cap);
            if (n != 0) {
                t->cursor = b;
                if (n > 0)
                    *to = s->peer;
                return n;
            }
        }
    }
    return 0;
}

static dk_time_t session_due(const struct dk_dtls_config *cfg, const struct dk_dtls_session *s)
{
    dk_time_t due = dk_dtls_session_deadline(s);
    if (s->state == DK_DTLS_HANDSHAKING)
        due = dk_time_min(due, s->created + cfg->p.handshake_timeout_ms);
    else if (s->state == DK_DTLS_CONNECTED)
        due = dk_time_min(due, s->last_activity + cfg->p.idle_timeout_ms);
    else
        due = s->last_activity; /* closed by its user: remove at once */
    return due;
}

dk_time_t dk_dtls_server_deadline(const struct dk_dtls_server *srv)
{
    const struct table *t = table_of(srv);
    dk_time_t due = DK_TIME_NEVER;
    if (!t)
        return due;
    for (size_t b = 0; b < t->nbuckets; b++)
        for (const struct dk_dtls_session *s = t->buckets[b]; s; s = s->next)
            due = dk_time_min(due, session_due(srv->cfg, s));
    return due;
}

/* Returns true when the session must go. */
static bool tick_session(struct dk_dtls_server *srv, struct dk_dtls_session *s, dk_time_t now)
{
    const struct dk_dtls_params *p = &srv->cfg->p;
    if (ended(s))
        return true;
    if (s->state == DK_DTLS_HANDSHAKING && now - s->created >= p->handshake_timeout_ms) {
        if (!s->error)
            s->error = DK_ETIMEDOUT;
        srv->stats.handshakes_failed++;
        return true;
    }
    if (s->state == DK_DTLS_CONNECTED && now - s->last_activity >= p->idle_timeout_ms) {
        dk_dtls_session_close(s, now); /* a courtesy close_notify */
        srv->stats.sessions_expired++;
        return true;
    }
    if (dk_dtls_session_deadline(s) <= now) {
        enum dk_dtls_state before = s->state;
        int rc = dk_dtls_session_tick(s, now);
        if (rc < 0 || ended(s)) {
            if (before == DK_DTLS_HANDSHAKING)
                srv->stats.handshakes_failed++;
            return true;
        }
    }
    return false;
}

void dk_dtls_server_tick(struct dk_dtls_server *srv, dk_time_t now,
                         void (*on_closed)(void *user, struct dk_dtls_session *s), void *user)
{
    struct table *t = table_of(srv);
    if (!t)
        return;
    release_deferred(t);
    for (size_t b = 0; b < t->nbuckets; b++) {
        struct dk_dtls_session **pp = &t->buckets[b];
        while (*pp) {
            struct dk_dtls_session *s = *pp;
            if (!tick_session(srv, s, now)) {
                pp = &s->next;
                continue;
            }
            *pp = s->next;
            s->next = NULL;
            srv->count--;
            drain_to_parting(t, s);
            if (on_closed)
                on_closed(user, s);
            dk_dtls_session_free(s);
        }
    }
}

struct dk_dtls_session *dk_dtls_server_find(struct dk_dtls_server *srv, const struct dk_addr *peer)
{
    struct table *t = table_of(srv);
    if (!t)
        return NULL;
    release_deferred(t);
    return lookup(t, peer);
}

void dk_dtls_server_drop(struct dk_dtls_server *srv, struct dk_dtls_session *s, dk_time_t now)
{
    struct table *t = table_of(srv);
    if (!t || !s)
        return;
    /* A session already handed back with DK_DTLS_EV_CLOSED is no longer in
     * the table and is freed with the other deferred ones. */
    if (!unlink_session(srv, s))
        return;
    dk_dtls_session_close(s, now);
    drain_to_parting(t, s);
    dk_dtls_session_free(s);
}

void dk_dtls_server_free(struct dk_dtls_server *srv)
{
    struct table *t = table_of(srv);
    if (t) {
        release_deferred(t);
        for (size_t b = 0; b < t->nbuckets; b++) {
            while (t->buckets[b]) {
                struct dk_dtls_session *s = t->buckets[b];
                t->buckets[b] = s->next;
                dk_dtls_session_free(s);
            }
        }
        dk_dtls_cookie_free(&t->cookie);
        dk_memzero(t->parting, sizeof t->parting);
        dk_alloc_release(dk_dtls_alloc(srv->cfg), t);
    }
    memset(srv, 0, sizeof *srv);
}
