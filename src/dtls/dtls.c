/* Backend-neutral dispatch for DTLS sessions and configurations. */
#include "backend.h"

#include <duckling/err.h>
#include <duckling/mem.h>

#include <string.h>

const char *dk_dtls_backend_name(const struct dk_dtls_backend *b)
{
    return b ? b->name : "none";
}

const struct dk_alloc *dk_dtls_alloc(const struct dk_dtls_config *cfg)
{
    return cfg->p.alloc ? cfg->p.alloc : dk_alloc_default();
}

void dk_dtls_config_init(struct dk_dtls_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
}

static int check_params(const struct dk_dtls_params *p)
{
    if (!p->rng || p->modes == 0 || (p->modes & ~7u))
        return DK_EINVAL;
    if (p->role != DK_DTLS_CLIENT && p->role != DK_DTLS_SERVER)
        return DK_EINVAL;
    if (p->modes & DK_DTLS_MODE_PSK) {
        if (p->role == DK_DTLS_CLIENT &&
            (!p->psk || !p->psk_len || p->psk_len > DK_DTLS_PSK_MAX || !p->psk_identity ||
             !p->psk_identity_len || p->psk_identity_len > DK_DTLS_PSK_ID_MAX))
            return DK_EINVAL;
        if (p->role == DK_DTLS_SERVER && !p->psk_lookup)
            return DK_EINVAL;
    }
    if (p->modes & (DK_DTLS_MODE_CERT | DK_DTLS_MODE_RPK)) {
        /* A client may go without its own key only if the server does not ask. */
        if (p->role == DK_DTLS_SERVER && (!p->key_der || !p->cert_der))
            return DK_EINVAL;
        if ((p->key_der == NULL) != (p->cert_der == NULL))
            return DK_EINVAL;
    }
    return 0;
}

int dk_dtls_config_setup(struct dk_dtls_config *cfg, const struct dk_dtls_backend *backend,
                         const struct dk_dtls_params *params)
{
    if (!backend || !params)
        return DK_EINVAL;
    int rc = check_params(params);
    if (rc)
        return rc;
    if (params->modes & ~backend->modes)
        return DK_ENOTSUP;
    cfg->backend = backend;
    cfg->p = *params;
    if (!cfg->p.max_sessions)
        cfg->p.max_sessions = 1024;
    if (!cfg->p.idle_timeout_ms)
        cfg->p.idle_timeout_ms = 600 * 1000;
    if (!cfg->p.handshake_timeout_ms)
        cfg->p.handshake_timeout_ms = 30 * 1000;
    if (!cfg->p.retrans_min_ms)
        cfg->p.retrans_min_ms = 1000;
    if (!cfg->p.retrans_max_ms)
        cfg->p.retrans_max_ms = 60 * 1000;
    if (!cfg->p.mtu)
        cfg->p.mtu = DK_DTLS_MTU_DEFAULT;
    rc = dk_rng_bytes(cfg->p.rng, cfg->cookie_key, sizeof cfg->cookie_key);
    if (rc)
        return rc;
    rc = backend->config_setup(cfg);
    if (rc) {
        dk_memzero(cfg->cookie_key, sizeof cfg->cookie_key);
        cfg->backend = NULL;
    }
    return rc;
}

void dk_dtls_config_free(struct dk_dtls_config *cfg)
{
    if (cfg->backend)
        cfg->backend->config_free(cfg);
    dk_memzero(cfg, sizeof *cfg);
}

int dk_dtls_session_new_hello(struct dk_dtls_session **out, const struct dk_dtls_config *cfg,
                              const struct dk_addr *peer, dk_time_t now,
                              const struct dk_dtls_hello *hello)
{
    *out = NULL;
    if (!cfg->backend)
        return DK_ESTATE;
    struct dk_dtls_session *s = dk_alloc_zeroed(dk_dtls_alloc(cfg), sizeof *s);
    if (!s)
        return DK_ENOMEM;
    s->cfg = cfg;
    s->peer = *peer;
    s->state = DK_DTLS_HANDSHAKING;
    s->created = s->last_activity = now;
    int rc = cfg->backend->session_setup(s, now, hello);
    if (rc) {
        cfg->backend->session_free(s);
        dk_alloc_release(dk_dtls_alloc(cfg), s);
        return rc;
    }
    *out = s;
    return 0;
}

int dk_dtls_session_new(struct dk_dtls_session **out, const struct dk_dtls_config *cfg,
                        const struct dk_addr *peer, dk_time_t now)
{
    return dk_dtls_session_new_hello(out, cfg, peer, now, NULL);
}

/* Remembers what ended the session, for dk_dtls_session_error(). */
static int note_error(struct dk_dtls_session *s, int rc)
{
    if (!s->error && (dk_err_is_fatal(rc) || rc == DK_ETIMEDOUT))
        s->error = rc;
    return rc;
}

int dk_dtls_session_recv(struct dk_dtls_session *s, const uint8_t *dgram, size_t len,
                         dk_time_t now)
{
    s->last_activity = now;
    return note_error(s, s->cfg->backend->recv(s, dgram, len, now));
}

int dk_dtls_session_read(struct dk_dtls_session *s, uint8_t *buf, size_t cap)
{
    return s->cfg->backend->read(s, buf, cap);
}

int dk_dtls_session_write(struct dk_dtls_session *s, const uint8_t *data, size_t len,
                          dk_time_t now)
{
    if (s->state != DK_DTLS_CONNECTED)
        return DK_ESTATE;
    s->last_activity = now;
    return s->cfg->backend->write(s, data, len, now);
}

int dk_dtls_session_pop_tx(struct dk_dtls_session *s, uint8_t *buf, size_t cap)
{
    return s->cfg->backend->pop_tx(s, buf, cap);
}

dk_time_t dk_dtls_session_deadline(const struct dk_dtls_session *s)
{
    return s->cfg->backend->deadline(s);
}

int dk_dtls_session_tick(struct dk_dtls_session *s, dk_time_t now)
{
    return note_error(s, s->cfg->backend->tick(s, now));
}

int dk_dtls_session_error(const struct dk_dtls_session *s)
{
    return s->error;
}

int dk_dtls_session_close(struct dk_dtls_session *s, dk_time_t now)
{
    if (s->state == DK_DTLS_CLOSED || s->state == DK_DTLS_FAILED)
        return 0;
    return s->cfg->backend->close(s, now);
}

enum dk_dtls_state dk_dtls_session_state(const struct dk_dtls_session *s)
{
    return s->state;
}

const struct dk_dtls_peer_info *dk_dtls_session_peer_info(const struct dk_dtls_session *s)
{
    return s->state == DK_DTLS_CONNECTED || s->state == DK_DTLS_CLOSED ? &s->info : NULL;
}

const struct dk_addr *dk_dtls_session_peer(const struct dk_dtls_session *s)
{
    return &s->peer;
}

size_t dk_dtls_session_heap(const struct dk_dtls_session *s)
{
    return sizeof *s + s->cfg->backend->heap(s);
}

void dk_dtls_session_free(struct dk_dtls_session *s)
{
    if (!s)
        return;
    const struct dk_dtls_config *cfg = s->cfg;
    cfg->backend->session_free(s);
    dk_memzero(&s->info, sizeof s->info);
    dk_alloc_release(dk_dtls_alloc(cfg), s);
}
