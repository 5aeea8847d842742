/* LwM2M Bootstrap Server engine: the Bootstrap-Request decision (OOB match,
 * approvals) and the provisioning sequence, over caller-owned CoAP
 * endpoints. See include/duckling/bootstrap.h for the behaviour. */
#include <duckling/bootstrap.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <duckling/buf.h>
#include <duckling/err.h>
#include <duckling/lwm2m.h>
#include <duckling/lwm2m_link.h>
#include <duckling/mem.h>

#define MOD "bootstrap"
#define ENC_CAP 8192 /* /0 with a certificate, a server certificate and a key, as SenML JSON */

/* ---- Types ------------------------------------------------------------------ */

struct dk_bs_entry {
    bool used;
    enum dk_bs_state state;
    char ep[DK_BS_EP_MAX + 1];
    dk_time_t created, last, expires;
    unsigned attempts;
    struct dk_addr peer;
    enum dk_oob_cred peer_cred;
};

enum step {
    ST_NONE = 0,
    ST_DELETE,
    ST_DISCOVER,
    ST_SECURITY,
    ST_SERVER,
    ST_WLAN,
    ST_ACL,
    ST_FINISH,
    ST_DONE,
};

struct dk_bs_session {
    struct dk_bs_session *next;
    struct dk_bs *bs;
    struct dk_coap_ep *coap;
    struct dk_addr peer;
    char ep[DK_BS_EP_MAX + 1];
    bool started;
    dk_time_t start_at;
    dk_time_t deadline;
    enum step step;
    size_t idx;
    uint32_t xid; /* outstanding CoAP exchange, 0: none */
    uint16_t sec_iid;
    char stepname[40];
    struct dk_bs_plan plan;
};

enum outcome {
    OUT_OK,         /* Bootstrap-Finish acknowledged */
    OUT_FAIL,       /* a step failed: counts against the approval */
    OUT_SUPERSEDED, /* a new Bootstrap-Request from the device */
    OUT_CANCEL,     /* deny / forget: the caller updates the table */
    OUT_SILENT,     /* dk_bs_free: no events */
};

/* ---- Small helpers ------------------------------------------------------------ */

static const char *const default_delete[] = {"/"};

const char *dk_bs_reason_str(enum dk_bs_reason r)
{
    switch (r) {
    case DK_BS_R_OK:
        return "ok";
    case DK_BS_R_NO_RECORD:
        return "no OOB record for this endpoint";
    case DK_BS_R_IDENTITY:
        return "PSK identity is not the endpoint name";
    case DK_BS_R_HASH:
        return "key or certificate hash differs from the OOB record";
    case DK_BS_R_CN:
        return "certificate CN is not the endpoint name";
    case DK_BS_R_CRED_TYPE:
        return "peer authenticated otherwise than the OOB record says";
    case DK_BS_R_NOSEC_DISABLED:
        return "no-security bootstrap is disabled";
    case DK_BS_R_DENIED:
        return "request denied";
    case DK_BS_R_PENDING_LIMIT:
        return "too many pending requests";
    case DK_BS_R_BUSY:
        return "too many bootstrap sequences running";
    case DK_BS_R_POLICY:
        return "refused by policy";
    case DK_BS_R_LOOKUP:
        return "OOB record look-up failed";
    case DK_BS_R_PREPARE:
        return "operational credentials could not be prepared";
    case DK_BS_R_ATTEMPTS:
        return "bootstrap failed too often; approval withdrawn";
    }
    return "?";
}

const char *dk_bs_state_name(enum dk_bs_state s)
{
    switch (s) {
    case DK_BS_STATE_PENDING:
        return "pending";
    case DK_BS_STATE_APPROVED:
        return "approved";
    case DK_BS_STATE_DENIED:
        return "denied";
    case DK_BS_STATE_PROVISIONING:
        return "provisioning";
    }
    return "?";
}

static const char *cred_name(enum dk_oob_cred c)
{
    switch (c) {
    case DK_OOB_CRED_NONE:
        return "none";
    case DK_OOB_CRED_PSK:
        return "psk";
    case DK_OOB_CRED_RPK:
        return "rpk";
    case DK_OOB_CRED_X509:
        return "x509";
    }
    return "?";
}

/* An endpoint name as the engine accepts it: 1..64 bytes, no control
 * characters (it goes into logs and audit lines). */
static bool ep_valid(const uint8_t *s, size_t n)
{
    if (n == 0 || n > DK_BS_EP_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static void emit(struct dk_bs *bs, const struct dk_bs_event *ev)
{
    if (bs->cfg->cbs.event)
        bs->cfg->cbs.event(bs->cfg->cbs.user, ev);
}

static void audit(struct dk_bs *bs, const char *ep, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void audit(struct dk_bs *bs, const char *ep, const char *what, const char *fmt, ...)
{
    char detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    dk_info(bs->cfg->log, MOD, "%s %s: %s", what, ep ? ep : "", detail);
    if (bs->cfg->cbs.audit)
        bs->cfg->cbs.audit(bs->cfg->cbs.user, ep ? ep : "", what, detail);
}

static const char *peer_str(const struct dk_addr *a, char *buf)
{
    if (!a || !a->len)
        return "-";
    return dk_addr_format(a, buf, DK_ADDR_STRLEN);
}

static bool format_supported(int f)
{
    return f == DK_COAP_FMT_LWM2M_TLV || f == DK_COAP_FMT_SENML_CBOR || f == DK_COAP_FMT_SENML_JSON;
}

/* ---- Setup ---------------------------------------------------------------------- */

void dk_bs_config_init(struct dk_bs_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->policy = DK_BS_POLICY_MANUAL;
    cfg->refuse_code = DK_COAP_FORBIDDEN;
    cfg->max_pending = 64;
    cfg->pending_ttl_ms = 600000;
    cfg->approval_ttl_ms = 600000;
    cfg->deny_ttl_ms = 3600000;
    cfg->max_attempts = 3;
    cfg->pending_max_age_s = 30;
    cfg->max_sessions = 16;
    cfg->sequence_timeout_ms = 180000;
    cfg->discover = true;
    cfg->ssid = 1;
    cfg->lifetime_s = 300;
    cfg->binding = "U";
    cfg->notification_storing = true;
    cfg->format = DK_COAP_FMT_LWM2M_TLV;
    cfg->wlan_interface = "wlan0";
}

void dk_bs_init(struct dk_bs *bs)
{
    memset(bs, 0, sizeof *bs);
}

int dk_bs_setup(struct dk_bs *bs, const struct dk_bs_config *cfg)
{
    if (!cfg || !cfg->cbs.find_oob || !cfg->cbs.prepare || !cfg->server_uri ||
        !cfg->server_uri[0] || strlen(cfg->server_uri) > DK_BS_URI_MAX ||
        (cfg->server_uri_nosec && strlen(cfg->server_uri_nosec) > DK_BS_URI_MAX) ||
        cfg->ssid == 0 || cfg->ssid == 65535 || cfg->max_pending == 0 || cfg->max_sessions == 0 ||
        !format_supported(cfg->format) || !cfg->binding || !cfg->binding[0] ||
        strlen(cfg->binding) > 7 || cfg->refuse_code == 0 ||
        (cfg->home_ssid && strlen(cfg->home_ssid) > DK_OOB_SSID_MAX) ||
        (cfg->home_psk && strlen(cfg->home_psk) > DK_BS_WLAN_PSK_MAX) ||
        (cfg->wlan_interface && strlen(cfg->wlan_interface) > 15) ||
        (cfg->delete_paths == NULL && cfg->n_delete_paths))
        return DK_EINVAL;
    for (size_t i = 0; i < cfg->n_delete_paths; i++) {
        struct dk_lwm2m_path p;
        const char *d = cfg->delete_paths[i];
        if (!d || dk_lwm2m_path_parse(d, strlen(d), &p) || p.len > 2)
            return DK_EINVAL;
    }
    dk_bs_free(bs);
    bs->cfg = cfg;
    bs->alloc = cfg->alloc ? cfg->alloc : dk_alloc_default();
    bs->nentries = 2 * cfg->max_pending + cfg->max_sessions;
    if (bs->nentries / 2 < cfg->max_pending)
        return DK_EINVAL;
    bs->entries = dk_alloc_zeroed(bs->alloc, bs->nentries * sizeof *bs->entries);
    bs->enc = bs->alloc->alloc(bs->alloc->user, ENC_CAP);
    if (!bs->entries || !bs->enc) {
        dk_bs_free(bs);
        return DK_ENOMEM;
    }
    bs->enc_cap = ENC_CAP;
    bs->ready = true;
    return 0;
}

int dk_bs_attach(struct dk_bs *bs, struct dk_coap_ep *coap)
{
    if (!bs->ready || !coap)
        return bs->ready ? DK_EINVAL : DK_ESTATE;
    for (size_t i = 0; i < bs->ncoap; i++)
        if (bs->coap[i] == coap)
            return DK_EEXIST;
    if (bs->ncoap >= DK_BS_MAX_COAP)
        return DK_ELIMIT;
    bs->coap[bs->ncoap++] = coap;
    dk_coap_ep_set_handler(coap, dk_bs_coap_handler, bs);
    return 0;
}

static void session_free(struct dk_bs *bs, struct dk_bs_session *s)
{
    dk_memzero(&s->plan, sizeof s->plan);
    dk_alloc_release(bs->alloc, s);
}

void dk_bs_free(struct dk_bs *bs)
{
    if (!bs)
        return;
    while (bs->sessions) {
        struct dk_bs_session *s = bs->sessions;
        bs->sessions = s->next;
        if (s->xid)
            dk_coap_ep_cancel(s->coap, s->xid, bs->now);
        session_free(bs, s);
    }
    for (size_t i = 0; i < bs->ncoap; i++)
        dk_coap_ep_set_handler(bs->coap[i], NULL, NULL);
    if (bs->entries) {
        dk_memzero(bs->entries, bs->nentries * sizeof *bs->entries);
        dk_alloc_release(bs->alloc, bs->entries);
    }
    if (bs->enc) {
        dk_memzero(bs->enc, bs->enc_cap);
        dk_alloc_release(bs->alloc, bs->enc);
    }
    memset(bs, 0, sizeof *bs);
}

/* ---- The approval table ---------------------------------------------------------- */

static struct dk_bs_entry *entry_find(const struct dk_bs *bs, const char *ep)
{
    for (size_t i = 0; i < bs->nentries; i++)
        if (bs->entries[i].used && strcmp(bs->entries[i].ep, ep) == 0)
            return &bs->entries[i];
    return NULL;
}

size_t dk_bs_pending_count(const struct dk_bs *bs)
{
    size_t n = 0;
    for (size_t i = 0; i < bs->nentries; i++)
        if (bs->entries[i].used && bs->entries[i].state == DK_BS_STATE_PENDING)
            n++;
    return n;
}

size_t dk_bs_session_count(const struct dk_bs *bs)
{
    return bs->nsessions;
}

/* A free slot; else the oldest decided entry (denied or unused approval) is
 * dropped. NULL when every slot is pending or provisioning. */
static struct dk_bs_entry *entry_add(struct dk_bs *bs, const char *ep, enum dk_bs_state st,
                                     dk_time_t now, dk_time_t ttl)
{
    struct dk_bs_entry *e = NULL, *oldest = NULL;
    for (size_t i = 0; i < bs->nentries && !e; i++) {
        struct dk_bs_entry *c = &bs->entries[i];
        if (!c->used)
            e = c;
        else if ((c->state == DK_BS_STATE_DENIED || c->state == DK_BS_STATE_APPROVED) &&
                 (!oldest || c->last < oldest->last))
            oldest = c;
    }
    if (!e)
        e = oldest;
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->used = true;
    e->state = st;
    snprintf(e->ep, sizeof e->ep, "%s", ep);
    e->created = e->last = now;
    e->expires = now + ttl;
    return e;
}

static void entry_remove(struct dk_bs_entry *e)
{
    memset(e, 0, sizeof *e);
}

/* A pending request or an unused approval ran out (denials end quietly). */
static void entry_expire(struct dk_bs *bs, struct dk_bs_entry *e)
{
    char ep[DK_BS_EP_MAX + 1];
    enum dk_bs_state st = e->state;
    snprintf(ep, sizeof ep, "%s", e->ep);
    entry_remove(e);
    if (st == DK_BS_STATE_DENIED)
        return;
    struct dk_bs_event ev = {.type = DK_BS_EV_EXPIRED, .ep = ep};
    audit(bs, ep, "bootstrap-expired", "%s request expired without being used",
          st == DK_BS_STATE_PENDING ? "pending" : "approved");
    emit(bs, &ev);
}

static bool entry_expired(const struct dk_bs_entry *e, dk_time_t now)
{
    return e->state != DK_BS_STATE_PROVISIONING && e->expires <= now;
}

static void fill_info(const struct dk_bs_entry *e, struct dk_bs_entry_info *out)
{
    out->ep = e->ep;
    out->state = e->state;
    out->created = e->created;
    out->last_attempt = e->last;
    out->expires = e->state == DK_BS_STATE_PROVISIONING ? DK_TIME_NEVER : e->expires;
    out->attempts = e->attempts;
    out->peer = &e->peer;
    out->peer_cred = e->peer_cred;
}

int dk_bs_foreach(const struct dk_bs *bs, int (*fn)(void *user, const struct dk_bs_entry_info *e),
                  void *user)
{
    for (size_t i = 0; i < bs->nentries; i++) {
        if (!bs->entries[i].used)
            continue;
        struct dk_bs_entry_info info;
        fill_info(&bs->entries[i], &info);
        int rc = fn(user, &info);
        if (rc)
            return rc;
    }
    return 0;
}

int dk_bs_get(const struct dk_bs *bs, const char *ep, struct dk_bs_entry_info *out)
{
    const struct dk_bs_entry *e = ep ? entry_find(bs, ep) : NULL;
    if (!e)
        return DK_ENOTFOUND;
    fill_info(e, out);
    return 0;
}

/* ---- Sessions: the provisioning sequence ------------------------------------------- */

static struct dk_bs_session *session_find(struct dk_bs *bs, const char *ep)
{
    for (struct dk_bs_session *s = bs->sessions; s; s = s->next)
        if (strcmp(s->ep, ep) == 0)
            return s;
    return NULL;
}

static void session_unlink(struct dk_bs *bs, struct dk_bs_session *s)
{
    for (struct dk_bs_session **pp = &bs->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            bs->nsessions--;
            return;
        }
}

/* Ends a sequence: cancels its exchange, updates the table, reports. */
static void session_end(struct dk_bs_session *s, enum outcome out, int err, uint8_t code,
                        dk_time_t now)
{
    struct dk_bs *bs = s->bs;
    session_unlink(bs, s);
    if (s->xid) {
        dk_coap_ep_cancel(s->coap, s->xid, now);
        s->xid = 0;
    }
    char ep[DK_BS_EP_MAX + 1], pbuf[DK_ADDR_STRLEN], cbuf[8];
    snprintf(ep, sizeof ep, "%s", s->ep);
    struct dk_bs_entry *e = bs->cfg->cbs.decide ? NULL : entry_find(bs, ep);
    enum dk_bs_reason reason = DK_BS_R_OK;

    if (out == OUT_OK) {
        if (e)
            entry_remove(e);
    } else if (out == OUT_FAIL || out == OUT_SUPERSEDED) {
        if (e && e->state == DK_BS_STATE_PROVISIONING) {
            e->state = DK_BS_STATE_APPROVED;
            e->expires = now + bs->cfg->approval_ttl_ms;
            if (out == OUT_FAIL && ++e->attempts >= bs->cfg->max_attempts) {
                entry_remove(e);
                reason = DK_BS_R_ATTEMPTS;
            }
        }
    }

    if (out == OUT_SILENT) {
        session_free(bs, s);
        return;
    }
    struct dk_bs_event ev = {.ep = ep,
                             .peer = &s->peer,
                             .err = err,
                             .code = code,
                             .step = s->stepname,
                             .reason = reason};
    if (out == OUT_OK) {
        ev.type = DK_BS_EV_PROVISIONED;
        ev.plan = &s->plan;
        audit(bs, ep, "bootstrap-provisioned",
              "operational credentials written (security mode %d, ssid %u) and "
              "Bootstrap-Finish acknowledged; peer %s",
              (int)s->plan.server.mode, (unsigned)s->plan.server.ssid, peer_str(&s->peer, pbuf));
    } else {
        ev.type = DK_BS_EV_FAILED;
        const char *why = out == OUT_SUPERSEDED ? "superseded by a new Bootstrap-Request"
                          : out == OUT_CANCEL   ? "cancelled"
                          : code                ? "client answered an error"
                                                : dk_strerror(err);
        audit(bs, ep, "bootstrap-failed", "step %s: %s%s%s; peer %s%s", s->stepname, why,
              code ? " " : "", code ? dk_coap_code_format(code, cbuf, sizeof cbuf) : "",
              peer_str(&s->peer, pbuf),
              reason == DK_BS_R_ATTEMPTS ? "; too many failures, approval withdrawn" : "");
    }
    /* The session is unlinked: callbacks may call anything but free. */
    emit(bs, &ev);
    session_free(bs, s);
}

static int add_value(struct dk_lwm2m_writer *w, uint16_t oid, uint16_t iid, uint16_t rid,
                     struct dk_lwm2m_value v)
{
    struct dk_lwm2m_path p = dk_lwm2m_path_res(oid, iid, rid);
    return dk_lwm2m_writer_add_value(w, &p, &v);
}

static int build_security(const struct dk_bs_session *s, struct dk_buf *b)
{
    const struct dk_bs_server_account *a = &s->plan.server;
    struct dk_lwm2m_writer w;
    struct dk_lwm2m_path base = dk_lwm2m_path_inst(0, s->sec_iid);
    uint16_t i = s->sec_iid;
    int rc = dk_lwm2m_writer_start(&w, s->plan.format, b, &base);
    if (rc)
        return rc;
    add_value(&w, 0, i, 0, dk_lwm2m_str(a->uri));
    add_value(&w, 0, i, 1, dk_lwm2m_bool(false));
    add_value(&w, 0, i, 2, dk_lwm2m_int(a->mode));
    add_value(&w, 0, i, 3, dk_lwm2m_opaque(a->identity, a->identity_len));
    add_value(&w, 0, i, 4, dk_lwm2m_opaque(a->server_key, a->server_key_len));
    add_value(&w, 0, i, 5, dk_lwm2m_opaque(a->secret, a->secret_len));
    add_value(&w, 0, i, 10, dk_lwm2m_int(a->ssid));
    return dk_lwm2m_writer_finish(&w, NULL);
}

static int build_server(const struct dk_bs_session *s, struct dk_buf *b)
{
    const struct dk_bs_server_account *a = &s->plan.server;
    struct dk_lwm2m_writer w;
    uint16_t i = s->plan.server_iid;
    struct dk_lwm2m_path base = dk_lwm2m_path_inst(1, i);
    int rc = dk_lwm2m_writer_start(&w, s->plan.format, b, &base);
    if (rc)
        return rc;
    add_value(&w, 1, i, 0, dk_lwm2m_int(a->ssid));
    add_value(&w, 1, i, 1, dk_lwm2m_int(a->lifetime_s));
    if (a->pmin_s >= 0)
        add_value(&w, 1, i, 2, dk_lwm2m_int(a->pmin_s));
    if (a->pmax_s >= 0)
        add_value(&w, 1, i, 3, dk_lwm2m_int(a->pmax_s));
    add_value(&w, 1, i, 6, dk_lwm2m_bool(a->notification_storing));
    add_value(&w, 1, i, 7, dk_lwm2m_str(a->binding));
    return dk_lwm2m_writer_finish(&w, NULL);
}

static bool is_hex64(const char *s)
{
    size_t n = strlen(s);
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

static int build_wlan(const struct dk_bs_session *s, struct dk_buf *b)
{
    const struct dk_bs_wlan *n = &s->plan.wlan;
    struct dk_lwm2m_writer w;
    uint16_t i = s->plan.wlan_iid;
    struct dk_lwm2m_path base = dk_lwm2m_path_inst(12, i);
    int rc = dk_lwm2m_writer_start(&w, s->plan.format, b, &base);
    if (rc)
        return rc;
    add_value(&w, 12, i, 0, dk_lwm2m_str(n->interface));
    add_value(&w, 12, i, 1, dk_lwm2m_bool(true));
    add_value(&w, 12, i, 5, dk_lwm2m_str(n->ssid));
    add_value(&w, 12, i, 8, dk_lwm2m_int(1));      /* Mode: client (station) */
    add_value(&w, 12, i, 9, dk_lwm2m_int(0));      /* Channel: chosen by ... */
    add_value(&w, 12, i, 10, dk_lwm2m_bool(true)); /* ... Auto Channel */
    add_value(&w, 12, i, 14, dk_lwm2m_int(n->standard));
    add_value(&w, 12, i, 15, dk_lwm2m_int(n->psk[0] ? 1 : 0)); /* Authentication: PSK / none */
    if (n->psk[0])
        add_value(&w, 12, i, is_hex64(n->psk) ? 17 : 18, dk_lwm2m_str(n->psk));
    return dk_lwm2m_writer_finish(&w, NULL);
}

static int build_acl(const struct dk_bs_session *s, struct dk_buf *b)
{
    const struct dk_bs_acl_target *t = &s->plan.acl[s->idx];
    uint16_t i = (uint16_t)(s->plan.acl_iid0 + s->idx);
    uint16_t ssid = s->plan.server.ssid;
    struct dk_lwm2m_writer w;
    struct dk_lwm2m_path base = dk_lwm2m_path_inst(2, i);
    int rc = dk_lwm2m_writer_start(&w, s->plan.format, b, &base);
    if (rc)
        return rc;
    add_value(&w, 2, i, 0, dk_lwm2m_int(t->oid));
    add_value(&w, 2, i, 1, dk_lwm2m_int(t->iid));
    struct dk_lwm2m_path p = dk_lwm2m_path_rinst(2, i, 2, ssid);
    struct dk_lwm2m_value v = dk_lwm2m_int(t->rights);
    dk_lwm2m_writer_add_value(&w, &p, &v);
    add_value(&w, 2, i, 3, dk_lwm2m_int(ssid));
    return dk_lwm2m_writer_finish(&w, NULL);
}

/* Moves to the next step that applies. */
static void step_advance(struct dk_bs_session *s)
{
    const struct dk_bs_config *cfg = s->bs->cfg;
    size_t ndel = cfg->delete_paths ? cfg->n_delete_paths : 1;
    switch (s->step) {
    case ST_NONE:
        s->step = ST_DELETE;
        s->idx = 0;
        if (ndel)
            return;
        /* fall through */
    case ST_DELETE:
        if (s->step == ST_DELETE && ++s->idx < ndel)
            return;
        s->step = ST_DISCOVER;
        if (cfg->discover)
            return;
        /* fall through */
    case ST_DISCOVER:
        s->step = ST_SECURITY;
        return;
    case ST_SECURITY:
        s->step = ST_SERVER;
        return;
    case ST_SERVER:
        s->step = ST_WLAN;
        if (s->plan.wlan.enabled)
            return;
        /* fall through */
    case ST_WLAN:
        s->step = ST_ACL;
        s->idx = 0;
        if (s->plan.n_acl)
            return;
        /* fall through */
    case ST_ACL:
        if (s->step == ST_ACL && s->plan.n_acl && ++s->idx < s->plan.n_acl)
            return;
        s->step = ST_FINISH;
        return;
    case ST_FINISH:
    case ST_DONE:
        s->step = ST_DONE;
        return;
    }
}

static void on_response(struct dk_coap_ep *coap, void *user, uint32_t id,
                        const struct dk_coap_result *res);

/* Sends the current step's request. */
static int step_send(struct dk_bs_session *s, dk_time_t now)
{
    struct dk_bs *bs = s->bs;
    const struct dk_bs_config *cfg = bs->cfg;
    struct dk_coap_client_req r;
    char path[DK_LWM2M_PATH_STR_MAX + 8];
    struct dk_buf b;
    dk_buf_init(&b, bs->enc, bs->enc_cap);
    int rc = 0;
    struct dk_lwm2m_path p;

    switch (s->step) {
    case ST_DELETE: {
        const char *d = cfg->delete_paths ? cfg->delete_paths[s->idx] : default_delete[s->idx];
        snprintf(path, sizeof path, "%s", d);
        dk_coap_client_req_init(&r, DK_COAP_DELETE, path);
        snprintf(s->stepname, sizeof s->stepname, "delete %s", path);
        break;
    }
    case ST_DISCOVER:
        snprintf(path, sizeof path, "/0");
        dk_coap_client_req_init(&r, DK_COAP_GET, path);
        r.accept = DK_COAP_FMT_LINK;
        snprintf(s->stepname, sizeof s->stepname, "discover /0");
        break;
    case ST_SECURITY:
    case ST_SERVER:
    case ST_WLAN:
    case ST_ACL:
        if (s->step == ST_SECURITY) {
            p = dk_lwm2m_path_inst(0, s->sec_iid);
            rc = build_security(s, &b);
        } else if (s->step == ST_SERVER) {
            p = dk_lwm2m_path_inst(1, s->plan.server_iid);
            rc = build_server(s, &b);
        } else if (s->step == ST_WLAN) {
            p = dk_lwm2m_path_inst(12, s->plan.wlan_iid);
            rc = build_wlan(s, &b);
        } else {
            p = dk_lwm2m_path_inst(2, (uint16_t)(s->plan.acl_iid0 + s->idx));
            rc = build_acl(s, &b);
        }
        dk_lwm2m_path_str(&p, path, sizeof path);
        snprintf(s->stepname, sizeof s->stepname, "write %s", path);
        if (rc) {
            dk_memzero(bs->enc, b.len);
            return rc;
        }
        dk_coap_client_req_init(&r, DK_COAP_PUT, path);
        r.content_format = s->plan.format;
        r.payload = bs->enc;
        r.payload_len = b.len;
        break;
    case ST_FINISH:
        snprintf(path, sizeof path, "/bs");
        dk_coap_client_req_init(&r, DK_COAP_POST, path);
        snprintf(s->stepname, sizeof s->stepname, "finish");
        break;
    default:
        return DK_ESTATE;
    }
    r.cb = on_response;
    r.cb_user = s;
    rc = dk_coap_ep_request(s->coap, &s->peer, &r, now, &s->xid);
    dk_memzero(bs->enc, b.len); /* the endpoint has its copy */
    if (rc)
        s->xid = 0;
    else
        dk_debug(cfg->log, MOD, "%s: %s", s->ep, s->stepname);
    return rc;
}

/* Advances and sends, or ends the session. */
static void step_next(struct dk_bs_session *s, dk_time_t now)
{
    step_advance(s);
    if (s->step == ST_DONE) {
        session_end(s, OUT_OK, 0, 0, now);
        return;
    }
    int rc = step_send(s, now);
    if (rc)
        session_end(s, OUT_FAIL, rc, 0, now);
}

/* Bootstrap-Discover answer: pick the Security instance id. */
static void pick_security_iid(struct dk_bs_session *s, const struct dk_coap_result *res)
{
    uint32_t cf;
    if (DK_COAP_CODE_CLASS(res->msg->code) != 2 ||
        dk_coap_msg_get_uint(res->msg, DK_COAP_OPT_CONTENT_FORMAT, &cf) != 0 ||
        cf != DK_COAP_FMT_LINK)
        return; /* 1.0 client: keep the preferred id */
    uint16_t used[64];
    size_t nused = 0;
    struct dk_lwm2m_link_reader rd;
    struct dk_lwm2m_link l;
    dk_lwm2m_link_reader_init(&rd, res->payload, res->payload_len);
    while (dk_lwm2m_link_reader_next(&rd, &l) == 0)
        if (l.is_path && l.path.len == 2 && l.path.ids[0] == 0 && nused < 64)
            used[nused++] = l.path.ids[1];
    /* The preferred id if free, else the lowest free one (at most 64 are
     * taken, so one of 0..64 is free). */
    for (uint32_t k = 0; k <= 65; k++) {
        uint32_t cand = k == 0 ? s->plan.security_iid : k - 1;
        bool taken = false;
        for (size_t i = 0; i < nused; i++)
            taken |= used[i] == cand;
        if (!taken) {
            s->sec_iid = (uint16_t)cand;
            return;
        }
    }
}

static void on_response(struct dk_coap_ep *coap, void *user, uint32_t id,
                        const struct dk_coap_result *res)
{
    struct dk_bs_session *s = user;
    s->xid = 0;
    s->bs->now = res->now;
    if (res->status) {
        session_end(s, OUT_FAIL, res->status, 0, res->now);
        return;
    }
    uint8_t code = res->msg->code;
    bool ok = DK_COAP_CODE_CLASS(code) == 2;
    switch (s->step) {
    case ST_DELETE:
        ok = ok || code == DK_COAP_NOT_FOUND;
        break;
    case ST_DISCOVER:
        pick_security_iid(s, res);
        ok = true;
        break;
    case ST_ACL:
        if (code == DK_COAP_NOT_FOUND) { /* no Access Control object */
            s->idx = s->plan.n_acl;
            ok = true;
        }
        break;
    default:
        break;
    }
    if (!ok) {
        session_end(s, OUT_FAIL, DK_EPERM, code, res->now);
        return;
    }
    step_next(s, res->now);
}

/* ---- The decision ------------------------------------------------------------------- */

static enum dk_oob_cred cred_of(const struct dk_dtls_peer_info *info)
{
    if (!info)
        return DK_OOB_CRED_NONE;
    switch (info->mode) {
    case DK_DTLS_MODE_PSK:
        return DK_OOB_CRED_PSK;
    case DK_DTLS_MODE_RPK:
        return DK_OOB_CRED_RPK;
    case DK_DTLS_MODE_CERT:
        return DK_OOB_CRED_X509;
    }
    return DK_OOB_CRED_NONE;
}

/* DESIGN §6: did the peer prove the record's credential? */
static enum dk_bs_reason check_credentials(const struct dk_bs *bs, const struct dk_oob_msg *rec,
                                           const char *ep, const struct dk_dtls_peer_info *info)
{
    switch (rec->cred_type) {
    case DK_OOB_CRED_NONE:
        if (info)
            return DK_BS_R_CRED_TYPE;
        return bs->cfg->allow_nosec ? DK_BS_R_OK : DK_BS_R_NOSEC_DISABLED;
    case DK_OOB_CRED_PSK:
        if (!info || info->mode != DK_DTLS_MODE_PSK)
            return DK_BS_R_CRED_TYPE;
        if (info->psk_identity_len != strlen(ep) ||
            memcmp(info->psk_identity, ep, info->psk_identity_len) != 0)
            return DK_BS_R_IDENTITY;
        return DK_BS_R_OK;
    case DK_OOB_CRED_RPK:
        if (!info || (info->mode != DK_DTLS_MODE_RPK && info->mode != DK_DTLS_MODE_CERT) ||
            !info->has_spki)
            return DK_BS_R_CRED_TYPE;
        if (rec->cred_len != DK_OOB_HASH_LEN ||
            !dk_ct_equal(info->spki_sha256, rec->cred, DK_OOB_HASH_LEN))
            return DK_BS_R_HASH;
        return DK_BS_R_OK;
    case DK_OOB_CRED_X509:
        if (!info || info->mode != DK_DTLS_MODE_CERT || !info->has_cert)
            return DK_BS_R_CRED_TYPE;
        if (rec->cred_len != DK_OOB_HASH_LEN ||
            !dk_ct_equal(info->cert_sha256, rec->cred, DK_OOB_HASH_LEN))
            return DK_BS_R_HASH;
        if (strncmp(info->cert_cn, ep, sizeof info->cert_cn) != 0)
            return DK_BS_R_CN;
        return DK_BS_R_OK;
    }
    return DK_BS_R_CRED_TYPE;
}

static uint8_t refusal_code(const struct dk_bs *bs, enum dk_bs_reason r)
{
    switch (r) {
    case DK_BS_R_PENDING_LIMIT:
    case DK_BS_R_BUSY:
        return DK_COAP_SERVICE_UNAVAILABLE;
    case DK_BS_R_LOOKUP:
    case DK_BS_R_PREPARE:
        return DK_COAP_INTERNAL_SERVER_ERROR;
    default:
        return bs->cfg->refuse_code;
    }
}

static void refuse(struct dk_bs *bs, const struct dk_bs_request *rq, enum dk_bs_reason reason,
                   struct dk_coap_resp *resp)
{
    char pbuf[DK_ADDR_STRLEN];
    resp->msg.code = refusal_code(bs, reason);
    if (resp->msg.code == DK_COAP_SERVICE_UNAVAILABLE)
        dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_MAX_AGE, bs->cfg->pending_max_age_s);
    audit(bs, rq->ep, "bootstrap-refused", "%s; peer %s authenticated with %s, record %s",
          dk_bs_reason_str(reason), peer_str(rq->peer, pbuf), cred_name(rq->peer_cred),
          rq->has_record ? cred_name(rq->record_cred) : "none");
    struct dk_bs_event ev = {
        .type = DK_BS_EV_REFUSED, .ep = rq->ep, .peer = rq->peer, .rq = rq, .reason = reason};
    emit(bs, &ev);
}

static void pending(struct dk_bs *bs, const struct dk_bs_request *rq, struct dk_coap_resp *resp)
{
    resp->msg.code = DK_COAP_SERVICE_UNAVAILABLE;
    dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_MAX_AGE, bs->cfg->pending_max_age_s);
    struct dk_bs_event ev = {.type = DK_BS_EV_PENDING, .ep = rq->ep, .peer = rq->peer, .rq = rq};
    emit(bs, &ev);
}

/* The engine's own approvals (no cbs.decide). */
static enum dk_bs_decision table_decide(struct dk_bs *bs, const struct dk_bs_request *rq,
                                        dk_time_t now, enum dk_bs_reason *reason)
{
    const struct dk_bs_config *cfg = bs->cfg;
    char pbuf[DK_ADDR_STRLEN];
    struct dk_bs_entry *e = entry_find(bs, rq->ep);
    if (e && entry_expired(e, now)) {
        entry_expire(bs, e);
        e = entry_find(bs, rq->ep); /* a callback may have made a new one */
    }
    if (!e) {
        if (cfg->policy != DK_BS_POLICY_AUTO && dk_bs_pending_count(bs) >= cfg->max_pending) {
            *reason = DK_BS_R_PENDING_LIMIT;
            return DK_BS_REFUSE;
        }
        e = entry_add(
            bs, rq->ep,
            cfg->policy == DK_BS_POLICY_AUTO ? DK_BS_STATE_APPROVED : DK_BS_STATE_PENDING, now,
            cfg->policy == DK_BS_POLICY_AUTO ? cfg->approval_ttl_ms : cfg->pending_ttl_ms);
        if (!e) {
            *reason = DK_BS_R_PENDING_LIMIT;
            return DK_BS_REFUSE;
        }
        e->peer = *rq->peer;
        e->peer_cred = rq->peer_cred;
        if (cfg->policy == DK_BS_POLICY_AUTO) {
            audit(bs, rq->ep, "bootstrap-approved", "approved at once (policy auto); peer %s, %s",
                  peer_str(rq->peer, pbuf), cred_name(rq->peer_cred));
            struct dk_bs_event ev = {
                .type = DK_BS_EV_APPROVED, .ep = rq->ep, .peer = rq->peer, .rq = rq};
            emit(bs, &ev);
            return DK_BS_APPROVE;
        }
        audit(bs, rq->ep, "bootstrap-pending",
              "waiting for approval; peer %s proved the label's %s", peer_str(rq->peer, pbuf),
              cred_name(rq->peer_cred));
        return DK_BS_PENDING;
    }
    e->last = now;
    e->peer = *rq->peer;
    e->peer_cred = rq->peer_cred;
    switch (e->state) {
    case DK_BS_STATE_DENIED:
        *reason = DK_BS_R_DENIED;
        return DK_BS_REFUSE;
    case DK_BS_STATE_PENDING:
        return DK_BS_PENDING;
    case DK_BS_STATE_APPROVED:
    case DK_BS_STATE_PROVISIONING:
        return DK_BS_APPROVE;
    }
    *reason = DK_BS_R_POLICY;
    return DK_BS_REFUSE;
}

static void plan_defaults(const struct dk_bs *bs, const struct dk_bs_request *rq,
                          const struct dk_oob_msg *rec, struct dk_bs_plan *plan)
{
    const struct dk_bs_config *cfg = bs->cfg;
    memset(plan, 0, sizeof *plan);
    struct dk_bs_server_account *a = &plan->server;
    snprintf(a->uri, sizeof a->uri, "%s", cfg->server_uri);
    a->mode = DK_BS_SEC_PSK;
    a->ssid = cfg->ssid;
    a->lifetime_s = cfg->lifetime_s;
    a->pmin_s = a->pmax_s = -1;
    a->notification_storing = cfg->notification_storing;
    snprintf(a->binding, sizeof a->binding, "%s", cfg->binding);
    plan->security_iid = 1;
    plan->server_iid = 0;
    plan->wlan_iid = 0;
    plan->acl_iid0 = 0;
    plan->format = rq->pct >= 0 ? rq->pct : cfg->format;
    if (rec->channel == DK_OOB_CHANNEL_WIFI && cfg->home_ssid && cfg->home_ssid[0]) {
        plan->wlan.enabled = true;
        snprintf(plan->wlan.interface, sizeof plan->wlan.interface, "%s",
                 cfg->wlan_interface ? cfg->wlan_interface : "wlan0");
        snprintf(plan->wlan.ssid, sizeof plan->wlan.ssid, "%s", cfg->home_ssid);
        snprintf(plan->wlan.psk, sizeof plan->wlan.psk, "%s", cfg->home_psk ? cfg->home_psk : "");
        plan->wlan.standard = 5; /* 802.11bgn */
    }
    plan->acl[plan->n_acl++] = (struct dk_bs_acl_target){
        1, plan->server_iid, DK_LWM2M_ACL_R | DK_LWM2M_ACL_W | DK_LWM2M_ACL_E};
    plan->acl[plan->n_acl++] =
        (struct dk_bs_acl_target){3, 0, DK_LWM2M_ACL_R | DK_LWM2M_ACL_W | DK_LWM2M_ACL_E};
    if (plan->wlan.enabled)
        plan->acl[plan->n_acl++] =
            (struct dk_bs_acl_target){12, plan->wlan_iid, DK_LWM2M_ACL_R | DK_LWM2M_ACL_W};
}

static bool plan_valid(struct dk_bs_plan *p)
{
    struct dk_bs_server_account *a = &p->server;
    a->uri[sizeof a->uri - 1] = 0;
    a->binding[sizeof a->binding - 1] = 0;
    p->wlan.interface[sizeof p->wlan.interface - 1] = 0;
    p->wlan.ssid[sizeof p->wlan.ssid - 1] = 0;
    p->wlan.psk[sizeof p->wlan.psk - 1] = 0;
    if (!a->uri[0] || !a->binding[0] || a->ssid == 0 || a->ssid == 65535 ||
        (unsigned)a->mode > DK_BS_SEC_NOSEC || a->identity_len > sizeof a->identity ||
        a->server_key_len > sizeof a->server_key || a->secret_len > sizeof a->secret ||
        !format_supported(p->format) || p->n_acl > DK_BS_ACL_MAX ||
        p->security_iid > DK_LWM2M_ID_MAX || p->server_iid > DK_LWM2M_ID_MAX ||
        p->wlan_iid > DK_LWM2M_ID_MAX || (size_t)p->acl_iid0 + p->n_acl > DK_LWM2M_ID_MAX + 1 ||
        a->pmin_s > UINT32_MAX || a->pmax_s > UINT32_MAX)
        return false;
    if (a->mode != DK_BS_SEC_NOSEC && (!a->identity_len || !a->secret_len))
        return false;
    if (p->wlan.enabled && (!p->wlan.ssid[0] || !p->wlan.interface[0]))
        return false;
    for (size_t i = 0; i < p->n_acl; i++)
        if (p->acl[i].oid > DK_LWM2M_ID_MAX || p->acl[i].iid > DK_LWM2M_ID_MAX ||
            p->acl[i].rights > DK_LWM2M_ACL_ALL)
            return false;
    return true;
}

/* Approved: prepare the plan and answer 2.04; the sequence starts at the next
 * dk_bs_tick() so that the 2.04 leaves first. */
static void start_session(struct dk_bs *bs, const struct dk_bs_request *rq,
                          const struct dk_oob_msg *rec, dk_time_t now, struct dk_coap_resp *resp)
{
    const struct dk_bs_config *cfg = bs->cfg;
    struct dk_bs_session *old = session_find(bs, rq->ep);
    if (old)
        session_end(old, OUT_SUPERSEDED, DK_ECANCELED, 0, now);
    struct dk_bs_entry *e = cfg->cbs.decide ? NULL : entry_find(bs, rq->ep);
    if (!cfg->cbs.decide && !e) { /* a callback of the superseded session forgot it */
        refuse(bs, rq, DK_BS_R_POLICY, resp);
        return;
    }
    if (bs->nsessions >= cfg->max_sessions) {
        refuse(bs, rq, DK_BS_R_BUSY, resp);
        return;
    }
    struct dk_bs_session *s = dk_alloc_zeroed(bs->alloc, sizeof *s);
    if (!s) {
        resp->msg.code = DK_COAP_SERVICE_UNAVAILABLE;
        dk_coap_msg_add_uint(&resp->msg, DK_COAP_OPT_MAX_AGE, cfg->pending_max_age_s);
        return;
    }
    s->bs = bs;
    s->coap = (struct dk_coap_ep *)rq->coap;
    s->peer = *rq->peer;
    snprintf(s->ep, sizeof s->ep, "%s", rq->ep);
    plan_defaults(bs, rq, rec, &s->plan);
    int rc = cfg->cbs.prepare(cfg->cbs.user, rq, rec, &s->plan);
    if (!rc && s->plan.server.mode == DK_BS_SEC_NOSEC && cfg->server_uri_nosec &&
        strcmp(s->plan.server.uri, cfg->server_uri) == 0)
        snprintf(s->plan.server.uri, sizeof s->plan.server.uri, "%s", cfg->server_uri_nosec);
    if (!rc && !plan_valid(&s->plan))
        rc = DK_EINVAL;
    if (rc) {
        char pbuf[DK_ADDR_STRLEN];
        session_free(bs, s);
        resp->msg.code = DK_COAP_INTERNAL_SERVER_ERROR;
        audit(bs, rq->ep, "bootstrap-failed", "%s (%s); peer %s", dk_bs_reason_str(DK_BS_R_PREPARE),
              dk_strerror(rc), peer_str(rq->peer, pbuf));
        e = cfg->cbs.decide ? NULL : entry_find(bs, rq->ep);
        enum dk_bs_reason reason = DK_BS_R_PREPARE;
        if (e && ++e->attempts >= cfg->max_attempts) {
            entry_remove(e);
            reason = DK_BS_R_ATTEMPTS;
        }
        struct dk_bs_event ev = {.type = DK_BS_EV_FAILED,
                                 .ep = rq->ep,
                                 .peer = rq->peer,
                                 .rq = rq,
                                 .reason = reason,
                                 .err = rc,
                                 .step = "prepare"};
        emit(bs, &ev);
        return;
    }
    s->sec_iid = s->plan.security_iid;
    s->start_at = now;
    s->deadline = now + cfg->sequence_timeout_ms;
    snprintf(s->stepname, sizeof s->stepname, "start");
    s->next = bs->sessions;
    bs->sessions = s;
    bs->nsessions++;
    e = cfg->cbs.decide ? NULL : entry_find(bs, rq->ep);
    if (e)
        e->state = DK_BS_STATE_PROVISIONING;
    resp->msg.code = DK_COAP_CHANGED;
    dk_info(cfg->log, MOD, "%s: approved, provisioning starts", rq->ep);
    struct dk_bs_event ev = {
        .type = DK_BS_EV_STARTED, .ep = rq->ep, .peer = rq->peer, .rq = rq, .plan = &s->plan};
    emit(bs, &ev);
}

/* ep= and pct= of a Bootstrap-Request. Returns 0, DK_EPARSE (4.00) or
 * DK_ENOTSUP (4.15). */
static int parse_query(const struct dk_coap_msg *m, char ep[DK_BS_EP_MAX + 1], int *pct)
{
    const uint8_t *v;
    size_t n;
    if (dk_coap_msg_get_query(m, "ep", &v, &n) != 0 || !ep_valid(v, n))
        return DK_EPARSE;
    memcpy(ep, v, n);
    ep[n] = 0;
    *pct = -1;
    if (dk_coap_msg_get_query(m, "pct", &v, &n) == 0) {
        if (n == 0 || n > 5)
            return DK_EPARSE;
        uint32_t x = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9')
                return DK_EPARSE;
            x = x * 10 + (uint32_t)(v[i] - '0');
        }
        if (x > 65535)
            return DK_EPARSE;
        if (!format_supported((int)x))
            return DK_ENOTSUP;
        *pct = (int)x;
    }
    return 0;
}

static void handle_request(struct dk_bs *bs, struct dk_coap_ep *coap, const struct dk_coap_req *req,
                           const char *ep, int pct, struct dk_coap_resp *resp)
{
    const struct dk_bs_config *cfg = bs->cfg;
    dk_time_t now = req->now;
    bs->now = now;
    struct dk_oob_msg rec;
    memset(&rec, 0, sizeof rec);
    struct dk_bs_request rq = {.ep = ep, .peer = req->peer, .coap = coap, .pct = pct, .type = ""};

    int rc = cfg->cbs.find_oob(cfg->cbs.user, ep, &rec);
    const struct dk_dtls_peer_info *info =
        cfg->cbs.peer_info ? cfg->cbs.peer_info(cfg->cbs.user, coap, req->peer) : NULL;
    rq.peer_cred = cred_of(info);
    if (rc == 0) {
        rec.endpoint[sizeof rec.endpoint - 1] = 0;
        rec.type[sizeof rec.type - 1] = 0;
        rq.has_record = true;
        rq.record_cred = rec.cred_type;
        rq.channel = rec.channel;
        rq.type = rec.type;
        rq.reason = check_credentials(bs, &rec, ep, info);
    } else {
        rq.reason = rc == DK_ENOTFOUND ? DK_BS_R_NO_RECORD : DK_BS_R_LOOKUP;
    }
    rq.match = rq.reason == DK_BS_R_OK;

    struct dk_bs_event ev = {
        .type = DK_BS_EV_REQUEST, .ep = ep, .peer = req->peer, .rq = &rq, .reason = rq.reason};
    emit(bs, &ev);

    enum dk_bs_reason reason = rq.reason;
    enum dk_bs_decision d = DK_BS_REFUSE;
    if (cfg->cbs.decide) {
        enum dk_bs_decision pd = cfg->cbs.decide(cfg->cbs.user, &rq);
        if (rq.match) {
            d = pd;
            if (d != DK_BS_PENDING && d != DK_BS_APPROVE) {
                d = DK_BS_REFUSE;
                reason = DK_BS_R_POLICY;
            }
        }
    } else if (rq.match) {
        d = table_decide(bs, &rq, now, &reason);
    }

    switch (d) {
    case DK_BS_REFUSE:
        refuse(bs, &rq, reason, resp);
        break;
    case DK_BS_PENDING:
        pending(bs, &rq, resp);
        break;
    case DK_BS_APPROVE:
        start_session(bs, &rq, &rec, now, resp);
        break;
    }
    dk_memzero(&rec, sizeof rec);
}

void dk_bs_coap_handler(struct dk_coap_ep *coap, void *user, const struct dk_coap_req *req,
                        struct dk_coap_resp *resp)
{
    struct dk_bs *bs = user;
    if (!bs || !bs->ready) {
        resp->msg.code = DK_COAP_SERVICE_UNAVAILABLE;
        return;
    }
    if (!dk_coap_msg_path_is(req->msg, "/bs"))
        return; /* 4.04 */
    if (req->msg->code != DK_COAP_POST) {
        resp->msg.code = DK_COAP_METHOD_NOT_ALLOWED;
        return;
    }
    char ep[DK_BS_EP_MAX + 1];
    int pct;
    int rc = parse_query(req->msg, ep, &pct);
    if (rc) {
        char pbuf[DK_ADDR_STRLEN];
        resp->msg.code =
            rc == DK_ENOTSUP ? DK_COAP_UNSUPPORTED_CONTENT_FORMAT : DK_COAP_BAD_REQUEST;
        dk_info(bs->cfg->log, MOD, "malformed Bootstrap-Request from %s refused",
                peer_str(req->peer, pbuf));
        return;
    }
    handle_request(bs, coap, req, ep, pct, resp);
}

/* ---- PSK look-up for the DTLS layer ------------------------------------------------- */

int dk_bs_psk_lookup(void *user, const struct dk_addr *peer, const uint8_t *identity,
                     size_t identity_len, uint8_t *key, size_t key_cap, size_t *key_len)
{
    struct dk_bs *bs = user;
    char pbuf[DK_ADDR_STRLEN];
    if (!bs || !bs->ready)
        return DK_ENOTFOUND;
    if (!identity || !ep_valid(identity, identity_len)) {
        audit(bs, "", "psk-unknown-identity",
              "PSK identity of %zu bytes is not an endpoint name; peer %s", identity_len,
              peer_str(peer, pbuf));
        return DK_ENOTFOUND;
    }
    char ep[DK_BS_EP_MAX + 1];
    memcpy(ep, identity, identity_len);
    ep[identity_len] = 0;
    struct dk_oob_msg rec;
    memset(&rec, 0, sizeof rec);
    int rc = bs->cfg->cbs.find_oob(bs->cfg->cbs.user, ep, &rec);
    if (rc == 0 && rec.cred_type == DK_OOB_CRED_PSK && rec.cred_len > 0 &&
        rec.cred_len <= sizeof rec.cred) {
        if (rec.cred_len > key_cap) {
            dk_memzero(&rec, sizeof rec);
            return DK_ENOSPC;
        }
        memcpy(key, rec.cred, rec.cred_len);
        *key_len = rec.cred_len;
        dk_memzero(&rec, sizeof rec);
        return 0;
    }
    audit(bs, ep, "psk-unknown-identity", "%s; peer %s",
          rc == 0              ? "the OOB record is not a PSK record"
          : rc == DK_ENOTFOUND ? "no OOB record for this PSK identity"
                               : "OOB record look-up failed",
          peer_str(peer, pbuf));
    dk_memzero(&rec, sizeof rec);
    return DK_ENOTFOUND;
}

/* ---- Time ------------------------------------------------------------------------- */

void dk_bs_tick(struct dk_bs *bs, dk_time_t now)
{
    if (!bs->ready)
        return;
    bs->now = now;
    for (size_t i = 0; i < bs->nentries; i++) {
        struct dk_bs_entry *e = &bs->entries[i];
        if (e->used && entry_expired(e, now))
            entry_expire(bs, e);
    }
    /* A callback may end other sessions: rescan after each action. */
    bool again = true;
    while (again) {
        again = false;
        for (struct dk_bs_session *s = bs->sessions; s; s = s->next) {
            if (!s->started && s->start_at <= now) {
                s->started = true;
                step_next(s, now);
                again = true;
                break;
            }
            if (s->started && s->deadline <= now) {
                session_end(s, OUT_FAIL, DK_ETIMEDOUT, 0, now);
                again = true;
                break;
            }
        }
    }
}

dk_time_t dk_bs_deadline(const struct dk_bs *bs)
{
    dk_time_t d = DK_TIME_NEVER;
    if (!bs->ready)
        return d;
    for (size_t i = 0; i < bs->nentries; i++) {
        const struct dk_bs_entry *e = &bs->entries[i];
        if (e->used && e->state != DK_BS_STATE_PROVISIONING)
            d = dk_time_min(d, e->expires);
    }
    for (const struct dk_bs_session *s = bs->sessions; s; s = s->next)
        d = dk_time_min(d, s->started ? s->deadline : s->start_at);
    return d;
}

/* ---- Decisions by the program --------------------------------------------------------- */

int dk_bs_approve(struct dk_bs *bs, const char *ep, dk_time_t now)
{
    if (!bs->ready || !ep)
        return DK_ENOTFOUND;
    bs->now = now;
    struct dk_bs_entry *e = entry_find(bs, ep);
    if (e && entry_expired(e, now)) {
        entry_expire(bs, e);
        return DK_ENOTFOUND;
    }
    if (!e || e->state != DK_BS_STATE_PENDING)
        return DK_ENOTFOUND;
    e->state = DK_BS_STATE_APPROVED;
    e->expires = now + bs->cfg->approval_ttl_ms;
    e->attempts = 0;
    char epc[DK_BS_EP_MAX + 1];
    snprintf(epc, sizeof epc, "%s", ep);
    audit(bs, epc, "bootstrap-approved", "approved by the user");
    struct dk_bs_event ev = {.type = DK_BS_EV_APPROVED, .ep = epc};
    emit(bs, &ev);
    return 0;
}

int dk_bs_deny(struct dk_bs *bs, const char *ep, dk_time_t now)
{
    if (!bs->ready || !ep)
        return DK_ENOTFOUND;
    bs->now = now;
    char epc[DK_BS_EP_MAX + 1];
    snprintf(epc, sizeof epc, "%s", ep);
    bool found = false;
    struct dk_bs_session *s = session_find(bs, epc);
    if (s) {
        session_end(s, OUT_CANCEL, DK_ECANCELED, 0, now);
        found = true;
    }
    struct dk_bs_entry *e = entry_find(bs, epc);
    if (e && e->state != DK_BS_STATE_DENIED && !entry_expired(e, now)) {
        e->state = DK_BS_STATE_DENIED;
        e->expires = now + bs->cfg->deny_ttl_ms;
        found = true;
    }
    if (!found)
        return DK_ENOTFOUND;
    audit(bs, epc, "bootstrap-denied", "denied by the user");
    struct dk_bs_event ev = {.type = DK_BS_EV_DENIED, .ep = epc, .reason = DK_BS_R_DENIED};
    emit(bs, &ev);
    return 0;
}

int dk_bs_forget(struct dk_bs *bs, const char *ep, dk_time_t now)
{
    if (!bs->ready || !ep)
        return DK_ENOTFOUND;
    bs->now = now;
    char epc[DK_BS_EP_MAX + 1];
    snprintf(epc, sizeof epc, "%s", ep);
    bool found = false;
    struct dk_bs_session *s = session_find(bs, epc);
    if (s) {
        session_end(s, OUT_CANCEL, DK_ECANCELED, 0, now);
        found = true;
    }
    struct dk_bs_entry *e = entry_find(bs, epc);
    if (e) {
        entry_remove(e);
        found = true;
    }
    return found ? 0 : DK_ENOTFOUND;
}
