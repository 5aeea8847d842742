/* The HTTP server: libmicrohttpd in external mode with epoll, driven by our
 * poll loop (its epoll fd is one fd of the loop, its timeout one timer), and
 * the execution of API commands.
 *
 * A request's life: the first call of the access handler sees the headers
 * (authentication, size limit and content type are checked before any body
 * is read); the body is collected up to the limit; the last call routes and
 * validates it (api.c) and runs the command. Commands that need a device
 * call into the device ops and suspend the connection until done() or the
 * operation timeout. */
#include "internal.h"

#include <duckling/addr.h>
#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/mem.h>
#include <duckling/version.h>

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD "http"

static const char placeholder_page[] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>duckling gateway</title></head>\n"
    "<body><h1>duckling gateway</h1>\n"
    "<p>The web UI is not installed here. Start the gateway with <code>--www DIR</code> to "
    "serve it, or use the REST API under <code>/api</code> (see docs/api.md) and the "
    "<code>duckling</code> command line tool.</p>\n"
    "</body></html>\n";

/* ---- responses -------------------------------------------------------------- */

static void common_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result queue_text(struct dk_gw_req *q, unsigned status, char *text,
                                  const char *allow)
{
    q->responded = true;
    if (!text)
        return MHD_NO;
    size_t n = strlen(text);
    struct MHD_Response *r = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    common_headers(r);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"duckling\"");
    enum MHD_Result ret = MHD_queue_response(q->conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Serialises j (consumed) with a trailing newline. */
static char *json_text(cJSON *j)
{
    if (!j)
        return NULL;
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return NULL;
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    return t;
}

static char *error_text(const char *msg, const char *field)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "error", msg);
    if (field)
        cJSON_AddStringToObject(j, "field", field);
    return json_text(j);
}

static enum MHD_Result queue_json(struct dk_gw_req *q, unsigned status, cJSON *j)
{
    return queue_text(q, status, json_text(j), NULL);
}

static enum MHD_Result queue_error(struct dk_gw_req *q, unsigned status, const char *msg)
{
    return queue_text(q, status, error_text(msg, NULL), NULL);
}

static enum MHD_Result queue_errorf(struct dk_gw_req *q, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result queue_errorf(struct dk_gw_req *q, unsigned status, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return queue_error(q, status, msg);
}

static enum MHD_Result queue_db_error(struct dk_gw_req *q, int err)
{
    return queue_errorf(q, 500, "database: %s", dk_strerror(err));
}

/* ---- authentication ---------------------------------------------------------- */

/* The token is compared in constant time; only its length (public: always
 * 64) decides early. */
static bool token_ok(const struct dk_gw *gw, const char *given, size_t n)
{
    char pad[DK_GW_TOKEN_HEX];
    memset(pad, 0, sizeof pad);
    memcpy(pad, given, n < sizeof pad ? n : sizeof pad);
    bool eq = dk_ct_equal(pad, gw->token, DK_GW_TOKEN_HEX);
    dk_memzero(pad, sizeof pad);
    return eq && n == DK_GW_TOKEN_HEX;
}

static bool ticket_take(struct dk_gw *gw, const char *given, dk_time_t now);

/* 0 when authorised, else why not (for the audit log). */
static const char *check_auth(struct dk_gw *gw, struct MHD_Connection *c, bool events)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) != 0)
            return "Authorization is not a Bearer token";
        h += 7;
        while (*h == ' ')
            h++;
        size_t n = strlen(h);
        while (n && h[n - 1] == ' ')
            n--;
        return token_ok(gw, h, n) ? NULL : "wrong token";
    }
    /* EventSource cannot set headers: the event stream takes a one-time
     * ticket instead (never the token itself: URLs end up in logs). */
    const char *t = events ? MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ticket") : NULL;
    if (t)
        return ticket_take(gw, t, dk_clock_now()) ? NULL : "unknown, used or expired ticket";
    return "no token";
}

/* ---- event stream tickets ---------------------------------------------------- */

static void tickets_expire(struct dk_gw *gw, dk_time_t now)
{
    for (size_t i = 0; i < DK_GW_TICKETS; i++)
        if (gw->tickets[i].hex[0] && gw->tickets[i].expires <= now)
            dk_memzero(&gw->tickets[i], sizeof gw->tickets[i]);
}

/* Every slot is compared (in constant time) so the answer's timing says
 * nothing about which tickets exist; a match is consumed. */
static bool ticket_take(struct dk_gw *gw, const char *given, dk_time_t now)
{
    tickets_expire(gw, now);
    if (strlen(given) != DK_GW_TICKET_HEX)
        return false;
    bool found = false;
    for (size_t i = 0; i < DK_GW_TICKETS; i++) {
        struct dk_gw_ticket *t = &gw->tickets[i];
        bool eq = dk_ct_equal(t->hex, given, DK_GW_TICKET_HEX) && t->hex[0];
        if (eq && !found) {
            dk_memzero(t, sizeof *t);
            found = true;
        }
    }
    return found;
}

/* A new ticket in a free slot (or the one that expires first). */
static int ticket_issue(struct dk_gw *gw, dk_time_t now, char out[DK_GW_TICKET_HEX + 1])
{
    if (!gw->cfg.rng)
        return DK_ENOTSUP;
    tickets_expire(gw, now);
    size_t slot = 0;
    for (size_t i = 0; i < DK_GW_TICKETS; i++) {
        if (!gw->tickets[i].hex[0]) {
            slot = i;
            break;
        }
        if (gw->tickets[i].expires < gw->tickets[slot].expires)
            slot = i;
    }
    uint8_t raw[DK_GW_TICKET_HEX / 2];
    int err = dk_rng_bytes(gw->cfg.rng, raw, sizeof raw);
    if (!err)
        err = dk_hex_encode(out, DK_GW_TICKET_HEX + 1, raw, sizeof raw);
    dk_memzero(raw, sizeof raw);
    if (err)
        return err;
    memcpy(gw->tickets[slot].hex, out, DK_GW_TICKET_HEX + 1);
    gw->tickets[slot].expires = now + DK_GW_TICKET_TTL_MS;
    return 0;
}

/* ---- device operations ------------------------------------------------------- */

static void ops_link(struct dk_gw *gw, struct dk_gw_req *q)
{
    q->prev = NULL;
    q->next = gw->ops;
    if (gw->ops)
        gw->ops->prev = q;
    gw->ops = q;
}

static void ops_unlink(struct dk_gw *gw, struct dk_gw_req *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else if (gw->ops == q)
        gw->ops = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->next = q->prev = NULL;
}

static unsigned status_for_err(int err, const char **what)
{
    switch (err) {
    case DK_ENOTFOUND:
        *what = "the device is not registered with the LwM2M Server";
        return 409;
    case DK_ETIMEDOUT:
        *what = "the device did not answer in time";
        return 504;
    case DK_ELIMIT:
        *what = "too many operations in flight; try again";
        return 503;
    case DK_ENOTSUP:
        *what = "operation not supported by the LwM2M Server";
        return 501;
    case DK_ECANCELED:
        *what = "the gateway is shutting down";
        return 503;
    case DK_EAGAIN:
        *what = "the device has not been heard from since the gateway restarted; it is "
                "reachable again after its next registration update";
        return 503;
    default:
        *what = dk_strerror(err);
        return 502;
    }
}

static unsigned status_for_coap(uint8_t code)
{
    switch (code) {
    case 0x81: /* 4.01: the device refused us; our own 401 means a bad token */
    case 0x83:
        return 403;
    case 0x84:
        return 404;
    case 0x86:
        return 406;
    case 0x89:
        return 409;
    case 0x8c:
        return 412;
    case 0x8d:
        return 413;
    case 0x8f:
        return 415;
    default:
        return (code >> 5) == 4 ? 400 : 502;
    }
}

static const char *op_name(enum dk_gw_cmd_kind k)
{
    switch (k) {
    case DK_GW_CMD_READ:
        return "read";
    case DK_GW_CMD_WRITE:
        return "write";
    case DK_GW_CMD_EXECUTE:
        return "execute";
    case DK_GW_CMD_OBSERVE:
        return "observe";
    case DK_GW_CMD_UNOBSERVE:
        return "cancel observation";
    case DK_GW_CMD_RESET:
        return "factory reset";
    default:
        return "operation";
    }
}

static void set_result(struct dk_gw_req *q, unsigned status, char *text)
{
    free(q->resp);
    q->status = status;
    q->resp = text;
}

static void set_error_result(struct dk_gw_req *q, unsigned status, const char *msg,
                             const char *code)
{
    cJSON *j = cJSON_CreateObject();
    if (j) {
        cJSON_AddStringToObject(j, "error", msg);
        cJSON_AddStringToObject(j, "endpoint", q->cmd.ep);
        if (q->cmd.path[0])
            cJSON_AddStringToObject(j, "path", q->cmd.path);
        if (code)
            cJSON_AddStringToObject(j, "code", code);
    }
    set_result(q, status, json_text(j));
}

/* After a successful factory reset (or removal): the device's operational
 * credentials are revoked so they can never be used again. */
static int revoke_device(struct dk_gw *gw, const char *ep, const char *why, enum dk_gw_dev_state st)
{
    int n = 0;
    int64_t now = dk_gw_now(gw);
    int err = dk_gwdb_creds_revoke(gw->cfg.db, ep, now, &n);
    if (!err && st != (enum dk_gw_dev_state) - 1)
        err = dk_gwdb_device_set_state(gw->cfg.db, ep, st, now);
    dk_gw_audit(gw, ep, "credentials.revoked", "%d operational credential%s revoked: %s", n,
                n == 1 ? "" : "s", why);
    if (gw->cfg.dev_ops && gw->cfg.dev_ops->forget)
        gw->cfg.dev_ops->forget(gw->cfg.dev_user, ep);
    return err;
}

/* Turns the engine's result into the HTTP answer and its side effects. */
static void finish_op(struct dk_gw_req *q, const struct dk_gw_result *res)
{
    struct dk_gw *gw = q->gw;
    const struct dk_gw_cmd *cmd = &q->cmd;
    const char *what = NULL;
    if (res->err) {
        unsigned st = status_for_err(res->err, &what);
        if (cmd->kind == DK_GW_CMD_RESET)
            dk_gw_audit(gw, cmd->ep, "device.reset.failed", "%s", what);
        set_error_result(q, st, what, NULL);
        return;
    }
    char code[48];
    dk_gw_coap_code_text(res->coap_code, code, sizeof code);
    char *sp = strchr(code, ' ');
    char num[8];
    snprintf(num, sizeof num, "%.*s", sp ? (int)(sp - code) : (int)strlen(code), code);
    if ((res->coap_code >> 5) != 2) {
        char msg[128];
        snprintf(msg, sizeof msg, "the device answered %s", code);
        if (cmd->kind == DK_GW_CMD_RESET)
            dk_gw_audit(gw, cmd->ep, "device.reset.failed", "%s", msg);
        set_error_result(q, status_for_coap(res->coap_code), msg, num);
        return;
    }
    cJSON *value = NULL;
    if (res->json) {
        value = cJSON_Parse(res->json);
        if (!value) {
            set_error_result(q, 502, "the device's value could not be represented as JSON", num);
            return;
        }
    }
    int64_t now = dk_gw_now(gw);
    switch (cmd->kind) {
    case DK_GW_CMD_READ:
    case DK_GW_CMD_OBSERVE:
        if (res->json)
            dk_gwdb_values_put(gw->cfg.db, cmd->ep, cmd->path, res->content_format, res->json, now);
        dk_gwdb_device_touch(gw->cfg.db, cmd->ep, now);
        if (cmd->kind == DK_GW_CMD_OBSERVE)
            dk_gw_audit(gw, cmd->ep, "device.observe", "observing %s", cmd->path);
        break;
    case DK_GW_CMD_WRITE:
        dk_gwdb_device_touch(gw->cfg.db, cmd->ep, now);
        dk_gw_audit(gw, cmd->ep, "device.write", "wrote %s", cmd->path);
        break;
    case DK_GW_CMD_EXECUTE:
        dk_gwdb_device_touch(gw->cfg.db, cmd->ep, now);
        dk_gw_audit(gw, cmd->ep, "device.execute", "executed %s%s", cmd->path,
                    cmd->has_args ? " with arguments" : "");
        break;
    case DK_GW_CMD_UNOBSERVE:
        dk_gw_audit(gw, cmd->ep, "device.unobserve", "stopped observing %s", cmd->path);
        break;
    case DK_GW_CMD_RESET:
        dk_gw_audit(gw, cmd->ep, "device.reset", "factory reset executed (/3/0/5)");
        revoke_device(gw, cmd->ep, "remote factory reset", DK_GW_DEV_RESET);
        dk_gw_device_event(gw, cmd->ep, "reset");
        break;
    default:
        break;
    }
    cJSON *j = cJSON_CreateObject();
    if (!j) {
        cJSON_Delete(value);
        set_result(q, 500, NULL);
        return;
    }
    cJSON_AddStringToObject(j, "endpoint", cmd->ep);
    cJSON_AddStringToObject(j, "path", cmd->path);
    cJSON_AddStringToObject(j, "code", num);
    if (res->content_format >= 0)
        cJSON_AddNumberToObject(j, "content_format", res->content_format);
    if (value)
        cJSON_AddItemToObject(j, "value", value);
    if (cmd->kind == DK_GW_CMD_RESET)
        cJSON_AddBoolToObject(j, "credentials_revoked", true);
    set_result(q, 200, json_text(j));
}

static void wake(struct dk_gw_req *q)
{
    if (q->suspended) {
        q->suspended = false;
        MHD_resume_connection(q->conn);
        q->gw->kick = true;
    }
}

static void op_done(void *req, const struct dk_gw_result *res)
{
    struct dk_gw_req *q = req;
    if (!q || !q->op_pending)
        return; /* late or repeated: ignore */
    ops_unlink(q->gw, q);
    q->op_pending = false;
    q->op_finished = true;
    finish_op(q, res);
    if (!q->in_call)
        wake(q);
}

static int call_op(struct dk_gw *gw, struct dk_gw_req *q)
{
    const struct dk_gw_device_ops *o = gw->cfg.dev_ops;
    void *u = gw->cfg.dev_user;
    const struct dk_gw_cmd *c = &q->cmd;
    switch (c->kind) {
    case DK_GW_CMD_READ:
        return o->read ? o->read(u, c->ep, c->path, op_done, q) : DK_ENOTSUP;
    case DK_GW_CMD_WRITE:
        return o->write ? o->write(u, c->ep, c->path, c->value_json, op_done, q) : DK_ENOTSUP;
    case DK_GW_CMD_EXECUTE:
        return o->execute ? o->execute(u, c->ep, c->path, c->has_args ? c->args : NULL, op_done, q)
                          : DK_ENOTSUP;
    case DK_GW_CMD_OBSERVE:
        return o->observe ? o->observe(u, c->ep, c->path, op_done, q) : DK_ENOTSUP;
    case DK_GW_CMD_UNOBSERVE:
        return o->cancel_observe ? o->cancel_observe(u, c->ep, c->path, op_done, q) : DK_ENOTSUP;
    case DK_GW_CMD_RESET:
        snprintf(q->cmd.path, sizeof q->cmd.path, "/3/0/5");
        return o->execute ? o->execute(u, c->ep, "/3/0/5", NULL, op_done, q) : DK_ENOTSUP;
    default:
        return DK_EINVAL;
    }
}

static enum MHD_Result start_op(struct dk_gw *gw, struct dk_gw_req *q)
{
    struct dk_gw_device dev;
    int err = dk_gwdb_device_get(gw->cfg.db, q->cmd.ep, &dev);
    if (err == DK_ENOTFOUND)
        return queue_errorf(q, 404, "no such device: %s", q->cmd.ep);
    if (err)
        return queue_db_error(q, err);
    if (!gw->cfg.dev_ops)
        return queue_errorf(q, 503, "the LwM2M Server is not running: %s",
                            gw->cfg.server_status ? gw->cfg.server_status : "not configured");
    q->op_pending = true;
    q->in_call = true;
    q->deadline = dk_clock_now() + (gw->cfg.op_timeout_ms ? gw->cfg.op_timeout_ms : 30000);
    ops_link(gw, q);
    err = call_op(gw, q);
    q->in_call = false;
    if (q->op_finished) {
        /* done() came before the ops call returned: answer at once. */
        char *resp = q->resp;
        q->resp = NULL;
        return queue_text(q, q->status ? q->status : 500,
                          resp ? resp : error_text("internal error", NULL), NULL);
    }
    if (err) {
        ops_unlink(gw, q);
        q->op_pending = false;
        const char *what;
        unsigned st = status_for_err(err, &what);
        if (err == DK_ENOTSUP) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s is not supported by the LwM2M Server",
                     op_name(q->cmd.kind));
            return queue_error(q, st, msg);
        }
        return queue_error(q, st, what);
    }
    MHD_suspend_connection(q->conn);
    q->suspended = true;
    return MHD_YES;
}

static void expire_ops(struct dk_gw *gw, dk_time_t now)
{
    struct dk_gw_req *q = gw->ops, *next;
    for (; q; q = next) {
        next = q->next;
        if (q->deadline > now)
            continue;
        ops_unlink(gw, q);
        q->op_pending = false;
        q->op_finished = true;
        if (gw->cfg.dev_ops->cancel)
            gw->cfg.dev_ops->cancel(gw->cfg.dev_user, q);
        struct dk_gw_result res = {.err = DK_ETIMEDOUT, .content_format = -1};
        finish_op(q, &res);
        wake(q);
    }
}

static dk_time_t ops_deadline(const struct dk_gw *gw)
{
    dk_time_t d = DK_TIME_NEVER;
    for (const struct dk_gw_req *q = gw->ops; q; q = q->next)
        d = dk_time_min(d, q->deadline);
    return d;
}

/* ---- database commands ---------------------------------------------------------- */

struct list_ctx {
    cJSON *arr;
    int err;
};

static int add_oob(void *u, const struct dk_gw_oob *o)
{
    struct list_ctx *c = u;
    cJSON_AddItemToArray(c->arr, dk_gw_json_oob(o));
    return 0;
}

static int add_req(void *u, const struct dk_gw_request *r)
{
    struct list_ctx *c = u;
    cJSON_AddItemToArray(c->arr, dk_gw_json_request(r));
    return 0;
}

static int add_dev(void *u, const struct dk_gw_device *d)
{
    struct list_ctx *c = u;
    cJSON_AddItemToArray(c->arr, dk_gw_json_device(d));
    return 0;
}

static int add_audit(void *u, const struct dk_gw_audit *a)
{
    struct list_ctx *c = u;
    cJSON_AddItemToArray(c->arr, dk_gw_json_audit(a));
    return 0;
}

static int add_value(void *u, const struct dk_gw_value *v)
{
    struct list_ctx *c = u;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return DK_ENOMEM;
    cJSON_AddStringToObject(o, "path", v->path);
    cJSON_AddNumberToObject(o, "content_format", v->content_format);
    cJSON *val = cJSON_Parse(v->json);
    cJSON_AddItemToObject(o, "value", val ? val : cJSON_CreateNull());
    dk_gw_json_time(o, "time", v->time);
    cJSON_AddItemToArray(c->arr, o);
    return 0;
}

/* Answers {"name": [...]} once a list function has filled the array. */
static enum MHD_Result queue_list(struct dk_gw_req *q, int err, cJSON *root)
{
    if (err) {
        cJSON_Delete(root);
        return queue_db_error(q, err);
    }
    return queue_json(q, 200, root);
}

static cJSON *list_root(const char *name, struct list_ctx *c)
{
    cJSON *root = cJSON_CreateObject();
    c->arr = root ? cJSON_AddArrayToObject(root, name) : NULL;
    c->err = 0;
    if (root && !c->arr) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static enum MHD_Result cmd_status(struct dk_gw *gw, struct dk_gw_req *q)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return queue_error(q, 500, "out of memory");
    cJSON_AddStringToObject(j, "version", DK_VERSION);
    cJSON_AddStringToObject(j, "approval",
                            gw->cfg.approval == DK_GW_APPROVAL_AUTO ? "auto" : "manual");
    cJSON *b = cJSON_AddObjectToObject(j, "bootstrap");
    cJSON_AddBoolToObject(b, "available", gw->cfg.bs_ops != NULL);
    cJSON_AddStringToObject(b, "status",
                            gw->cfg.bootstrap_status ? gw->cfg.bootstrap_status
                            : gw->cfg.bs_ops         ? "running"
                                                     : "not configured");
    cJSON *s = cJSON_AddObjectToObject(j, "server");
    cJSON_AddBoolToObject(s, "available", gw->cfg.dev_ops != NULL);
    cJSON_AddStringToObject(s, "status",
                            gw->cfg.server_status ? gw->cfg.server_status
                            : gw->cfg.dev_ops     ? "running"
                                                  : "not configured");
    cJSON_AddNumberToObject(j, "pending_ttl",
                            (double)(gw->cfg.pending_ttl ? gw->cfg.pending_ttl : 600));
    if (gw->cfg.map_tiles)
        cJSON_AddStringToObject(j, "map_tiles", gw->cfg.map_tiles);
    else
        cJSON_AddNullToObject(j, "map_tiles");
    cJSON_AddNumberToObject(j, "time", (double)dk_gw_now(gw));
    return queue_json(q, 200, j);
}

static enum MHD_Result cmd_oob_add(struct dk_gw *gw, struct dk_gw_req *q)
{
    struct dk_gw_oob *rec = &q->cmd.oob;
    struct dk_gw_oob old;
    int err = dk_gwdb_find_oob(gw->cfg.db, rec->endpoint, &old);
    if (err == 0) {
        bool same = strcmp(old.label_sha256, rec->label_sha256) == 0;
        cJSON *j = same ? dk_gw_json_oob(&old) : NULL;
        dk_memzero(&old, sizeof old);
        if (same) {
            cJSON_AddBoolToObject(j, "created_now", false);
            return queue_json(q, 200, j);
        }
        dk_gw_audit(gw, rec->endpoint, "oob.refused",
                    "a different label for this endpoint is already recorded");
        return queue_errorf(q, 409,
                            "endpoint: %s already has an OOB record from a different label; "
                            "delete it first (DELETE /api/oob/%s)",
                            rec->endpoint, rec->endpoint);
    }
    if (err != DK_ENOTFOUND)
        return queue_db_error(q, err);
    rec->created = dk_gw_now(gw);
    err = dk_gwdb_add_oob(gw->cfg.db, rec);
    if (err)
        return queue_db_error(q, err);
    struct dk_gw_device dev;
    if (dk_gwdb_device_get(gw->cfg.db, rec->endpoint, &dev) == DK_ENOTFOUND) {
        memset(&dev, 0, sizeof dev);
        snprintf(dev.endpoint, sizeof dev.endpoint, "%s", rec->endpoint);
        snprintf(dev.type, sizeof dev.type, "%s", rec->type);
        dev.state = DK_GW_DEV_EXPECTED;
        dev.created = dev.updated = rec->created;
        dk_gwdb_device_upsert(gw->cfg.db, &dev);
    }
    dk_gw_audit(gw, rec->endpoint, "oob.added", "label scanned: type %s, channel %s, credential %s",
                rec->type, rec->channel, dk_gw_cred_type_name(rec->cred_type));
    cJSON *ev = dk_gw_json_oob(rec);
    if (ev)
        cJSON_AddStringToObject(ev, "action", "added");
    dk_gw_publish_obj(gw, "oob", rec->endpoint, ev);
    if (gw->cfg.bs_ops && gw->cfg.bs_ops->oob_changed)
        gw->cfg.bs_ops->oob_changed(gw->cfg.bs_user, rec->endpoint, false);
    cJSON *j = dk_gw_json_oob(rec);
    if (j)
        cJSON_AddBoolToObject(j, "created_now", true);
    return queue_json(q, 201, j);
}

static enum MHD_Result cmd_oob_delete(struct dk_gw *gw, struct dk_gw_req *q)
{
    const char *ep = q->cmd.ep;
    int err = dk_gwdb_delete_oob(gw->cfg.db, ep);
    if (err == DK_ENOTFOUND)
        return queue_errorf(q, 404, "no OOB record for %s", ep);
    if (err)
        return queue_db_error(q, err);
    int64_t now = dk_gw_now(gw);
    /* Without its record a request can never be approved. */
    if (dk_gwdb_expire(gw->cfg.db, ep, now) == 0)
        dk_gw_audit(gw, ep, "bootstrap.expired", "pending request dropped with the OOB record");
    struct dk_gw_device dev;
    if (dk_gwdb_device_get(gw->cfg.db, ep, &dev) == 0 &&
        (dev.state == DK_GW_DEV_EXPECTED || dev.state == DK_GW_DEV_PENDING))
        dk_gwdb_device_delete(gw->cfg.db, ep);
    dk_gw_audit(gw, ep, "oob.deleted", "OOB record deleted through the API");
    cJSON *ev = cJSON_CreateObject();
    if (ev)
        cJSON_AddStringToObject(ev, "action", "deleted");
    dk_gw_publish_obj(gw, "oob", ep, ev);
    if (gw->cfg.bs_ops && gw->cfg.bs_ops->oob_changed)
        gw->cfg.bs_ops->oob_changed(gw->cfg.bs_user, ep, true);
    cJSON *j = cJSON_CreateObject();
    if (j)
        cJSON_AddStringToObject(j, "deleted", ep);
    return queue_json(q, 200, j);
}

static enum MHD_Result cmd_decide(struct dk_gw *gw, struct dk_gw_req *q, bool approve)
{
    const char *ep = q->cmd.ep;
    int64_t now = dk_gw_now(gw);
    int err = approve ? dk_gwdb_approve(gw->cfg.db, ep, now) : dk_gwdb_deny(gw->cfg.db, ep, now);
    struct dk_gw_request r;
    if (err == DK_ENOTFOUND) {
        if (dk_gwdb_request_latest(gw->cfg.db, ep, &r) == 0 && r.state == DK_GW_REQ_EXPIRED &&
            r.decided == now) {
            dk_gw_audit(gw, ep, "bootstrap.expired", "request %lld expired before it was %s",
                        (long long)r.id, approve ? "approved" : "denied");
            return queue_errorf(q, 409, "the bootstrap request of %s has expired", ep);
        }
        return queue_errorf(q, 404, "no pending bootstrap request for %s", ep);
    }
    if (err)
        return queue_db_error(q, err);
    dk_gwdb_request_latest(gw->cfg.db, ep, &r);
    dk_gw_audit(gw, ep, approve ? "bootstrap.approved" : "bootstrap.denied",
                "request %lld %s by the user", (long long)r.id, approve ? "approved" : "denied");
    cJSON *ev = dk_gw_json_request(&r);
    if (ev) {
        cJSON_DeleteItemFromObject(ev, "state");
        cJSON_AddStringToObject(ev, "action", approve ? "approved" : "denied");
    }
    dk_gw_publish_obj(gw, "bootstrap", ep, ev);
    const struct dk_gw_bootstrap_ops *bs = gw->cfg.bs_ops;
    if (bs && approve && bs->approved)
        bs->approved(gw->cfg.bs_user, ep);
    if (bs && !approve && bs->denied)
        bs->denied(gw->cfg.bs_user, ep);
    return queue_json(q, 200, dk_gw_json_request(&r));
}

static enum MHD_Result cmd_device_get(struct dk_gw *gw, struct dk_gw_req *q)
{
    const char *ep = q->cmd.ep;
    struct dk_gw_device d;
    int err = dk_gwdb_device_get(gw->cfg.db, ep, &d);
    if (err == DK_ENOTFOUND)
        return queue_errorf(q, 404, "no such device: %s", ep);
    if (err)
        return queue_db_error(q, err);
    cJSON *j = dk_gw_json_device(&d);
    if (!j)
        return queue_error(q, 500, "out of memory");
    struct dk_gw_cred c;
    if (dk_gwdb_creds_active(gw->cfg.db, ep, &c) == 0)
        cJSON_AddItemToObject(j, "credentials", dk_gw_json_cred(&c));
    else
        cJSON_AddNullToObject(j, "credentials");
    dk_memzero(&c, sizeof c);
    struct dk_gw_request r;
    if (dk_gwdb_request_latest(gw->cfg.db, ep, &r) == 0)
        cJSON_AddItemToObject(j, "bootstrap_request", dk_gw_json_request(&r));
    else
        cJSON_AddNullToObject(j, "bootstrap_request");
    struct list_ctx lc = {cJSON_AddArrayToObject(j, "values"), 0};
    err = lc.arr ? dk_gwdb_values_list(gw->cfg.db, ep, add_value, &lc) : DK_ENOMEM;
    if (err) {
        cJSON_Delete(j);
        return queue_db_error(q, err);
    }
    return queue_json(q, 200, j);
}

static enum MHD_Result cmd_device_delete(struct dk_gw *gw, struct dk_gw_req *q)
{
    const char *ep = q->cmd.ep;
    struct dk_gw_device d;
    int err = dk_gwdb_device_get(gw->cfg.db, ep, &d);
    if (err == DK_ENOTFOUND)
        return queue_errorf(q, 404, "no such device: %s", ep);
    if (err)
        return queue_db_error(q, err);
    dk_gwdb_expire(gw->cfg.db, ep, dk_gw_now(gw));
    revoke_device(gw, ep, "device removed", (enum dk_gw_dev_state) - 1);
    err = dk_gwdb_device_delete(gw->cfg.db, ep);
    if (err && err != DK_ENOTFOUND)
        return queue_db_error(q, err);
    dk_gw_audit(gw, ep, "device.removed", "device removed through the API");
    dk_gw_device_event(gw, ep, "removed");
    cJSON *j = cJSON_CreateObject();
    if (j) {
        cJSON_AddStringToObject(j, "deleted", ep);
        cJSON_AddBoolToObject(j, "credentials_revoked", true);
    }
    return queue_json(q, 200, j);
}

static enum MHD_Result cmd_events(struct dk_gw *gw, struct dk_gw_req *q)
{
    struct MHD_Response *r = dk_gw_sse_response(gw, q->conn);
    if (!r)
        return queue_error(q, 500, "out of memory");
    common_headers(r);
    q->responded = true;
    enum MHD_Result ret = MHD_queue_response(q->conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result cmd_events_ticket(struct dk_gw *gw, struct dk_gw_req *q)
{
    char t[DK_GW_TICKET_HEX + 1];
    int err = ticket_issue(gw, dk_clock_now(), t);
    if (err == DK_ENOTSUP)
        return queue_error(q, 503, "event stream tickets are not available");
    if (err)
        return queue_errorf(q, 500, "ticket: %s", dk_strerror(err));
    cJSON *j = cJSON_CreateObject();
    if (j) {
        cJSON_AddStringToObject(j, "ticket", t);
        cJSON_AddNumberToObject(j, "expires_in", DK_GW_TICKET_TTL_MS / 1000);
    }
    dk_memzero(t, sizeof t);
    return queue_json(q, 201, j);
}

/* ---- static files ------------------------------------------------------------------ */

static const char *content_type(const char *file)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
        {".webmanifest", "application/manifest+json"},
        {".map", "application/json"},
    };
    const char *dot = strrchr(file, '.');
    const char *slash = strrchr(file, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static enum MHD_Result queue_file_response(struct dk_gw_req *q, struct MHD_Response *r,
                                           const char *file)
{
    const char *type = content_type(file);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    common_headers(r);
    /* The files are small and change with the gateway: no stale UI after an
     * upgrade. */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (strncmp(type, "text/html", 9) == 0) {
        MHD_add_response_header(r, "Content-Security-Policy", q->gw->csp);
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        MHD_add_response_header(r, "Permissions-Policy",
                                "camera=(self), microphone=(), geolocation=()");
    }
    q->responded = true;
    enum MHD_Result ret = MHD_queue_response(q->conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* Opens www/file one component at a time without following any symbolic
 * link, so nothing outside the folder can be reached even through links
 * placed inside it (the segments themselves were checked in api.c). */
static int open_beneath(const char *www, const char *file)
{
    int dfd = open(www, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char comp[DK_GW_STATIC_PATH_MAX + 1];
    const char *p = file;
    while (dfd >= 0) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || n >= sizeof comp) {
            close(dfd);
            return -1;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (slash ? O_DIRECTORY : 0);
        int next = openat(dfd, comp, flags);
        close(dfd);
        if (!slash)
            return next;
        dfd = next;
        p = slash + 1;
    }
    return -1;
}

static enum MHD_Result cmd_static(struct dk_gw *gw, struct dk_gw_req *q)
{
    const char *file = q->cmd.file;
    if (!gw->cfg.www_dir) {
        if (strcmp(file, "index.html") != 0)
            return queue_error(q, 404, "no such file");
        struct MHD_Response *r = MHD_create_response_from_buffer(
            sizeof placeholder_page - 1, (void *)placeholder_page, MHD_RESPMEM_PERSISTENT);
        return r ? queue_file_response(q, r, file) : MHD_NO;
    }
    int fd = open_beneath(gw->cfg.www_dir, file);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return queue_error(q, 404, "no such file");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((size_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    return queue_file_response(q, r, file);
}

/* ---- the access handler ---------------------------------------------------------------- */

static enum MHD_Result run_cmd(struct dk_gw *gw, struct dk_gw_req *q)
{
    struct list_ctx lc;
    cJSON *root;
    switch (q->cmd.kind) {
    case DK_GW_CMD_STATUS:
        return cmd_status(gw, q);
    case DK_GW_CMD_OOB_ADD:
        return cmd_oob_add(gw, q);
    case DK_GW_CMD_OOB_LIST:
        root = list_root("oob", &lc);
        if (!root)
            return queue_error(q, 500, "out of memory");
        return queue_list(q, dk_gwdb_list_oob(gw->cfg.db, add_oob, &lc), root);
    case DK_GW_CMD_OOB_DELETE:
        return cmd_oob_delete(gw, q);
    case DK_GW_CMD_PENDING_LIST:
        root = list_root("pending", &lc);
        if (!root)
            return queue_error(q, 500, "out of memory");
        return queue_list(q, dk_gwdb_list_pending(gw->cfg.db, dk_gw_now(gw), add_req, &lc), root);
    case DK_GW_CMD_APPROVE:
        return cmd_decide(gw, q, true);
    case DK_GW_CMD_DENY:
        return cmd_decide(gw, q, false);
    case DK_GW_CMD_DEVICES:
        root = list_root("devices", &lc);
        if (!root)
            return queue_error(q, 500, "out of memory");
        return queue_list(q, dk_gwdb_device_list(gw->cfg.db, add_dev, &lc), root);
    case DK_GW_CMD_DEVICE_GET:
        return cmd_device_get(gw, q);
    case DK_GW_CMD_DEVICE_DELETE:
        return cmd_device_delete(gw, q);
    case DK_GW_CMD_RESET:
    case DK_GW_CMD_READ:
    case DK_GW_CMD_WRITE:
    case DK_GW_CMD_EXECUTE:
    case DK_GW_CMD_OBSERVE:
    case DK_GW_CMD_UNOBSERVE:
        return start_op(gw, q);
    case DK_GW_CMD_AUDIT:
        root = list_root("audit", &lc);
        if (!root)
            return queue_error(q, 500, "out of memory");
        return queue_list(q,
                          dk_gwdb_audit_list(gw->cfg.db, q->cmd.audit_ep, q->cmd.before,
                                             q->cmd.limit, add_audit, &lc),
                          root);
    case DK_GW_CMD_EVENTS:
        return cmd_events(gw, q);
    case DK_GW_CMD_EVENTS_TICKET:
        return cmd_events_ticket(gw, q);
    case DK_GW_CMD_STATIC:
        return cmd_static(gw, q);
    }
    return queue_error(q, 500, "unknown command");
}

/* Rebuilds the raw query from MHD's argument list (our unescape callback
 * leaves it undecoded). */
struct query_buf {
    char s[1024];
    size_t n;
    bool overflow;
};

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    struct query_buf *b = cls;
    int w = snprintf(b->s + b->n, sizeof b->s - b->n, "%s%s%s%s", b->n ? "&" : "", key,
                     value ? "=" : "", value ? value : "");
    if (w < 0 || (size_t)w >= sizeof b->s - b->n) {
        b->overflow = true;
        return MHD_NO;
    }
    b->n += (size_t)w;
    return MHD_YES;
}

static bool is_api(const char *url)
{
    return strncmp(url, "/api", 4) == 0 && (url[4] == '\0' || url[4] == '/');
}

static void client_address(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct dk_addr a;
    if (ci && ci->client_addr &&
        dk_addr_from_sockaddr(&a, ci->client_addr,
                              ci->client_addr->sa_family == AF_INET6
                                  ? sizeof(struct sockaddr_in6)
                                  : sizeof(struct sockaddr_in)) == 0) {
        char buf[DK_ADDR_STRLEN];
        snprintf(out, cap, "%s", dk_addr_format(&a, buf, sizeof buf));
    } else {
        snprintf(out, cap, "?");
    }
}

/* Checks made on the headers alone, before any body is read. */
static enum MHD_Result first_call(struct dk_gw *gw, struct dk_gw_req *q, const char *url,
                                  const char *method)
{
    client_address(q->conn, q->client, sizeof q->client);
    if (is_api(url)) {
        const char *why =
            check_auth(gw, q->conn, strcmp(url, "/api/events") == 0 && strcmp(method, "GET") == 0);
        if (why) {
            char detail[DK_GW_DETAIL_MAX + 1];
            snprintf(detail, sizeof detail, "%.8s %.200s from %s: %s", method, url, q->client, why);
            dk_gw_audit_refusal(gw, NULL, "api.unauthorized", detail);
            return queue_errorf(q, MHD_HTTP_UNAUTHORIZED, "unauthorized: %s", why);
        }
    }
    size_t max = gw->cfg.max_body ? gw->cfg.max_body : 16384;
    const char *cl =
        MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || !end || *end || n > max)
            return queue_errorf(q, 413, "body: larger than the limit of %zu bytes", max);
    }
    const char *ct =
        MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    bool has_body =
        (cl && strcmp(cl, "0") != 0) ||
        MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (has_body && ct && strncasecmp(ct, "application/json", 16) != 0)
        return queue_error(q, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                           "body: Content-Type must be application/json");
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct dk_gw *gw = cls;
    struct dk_gw_req *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        q->gw = gw;
        q->conn = c;
        dk_gw_cmd_init(&q->cmd);
        *con_cls = q;
        return first_call(gw, q, url, method);
    }
    if (q->responded) {
        *upload_size = 0; /* answered early: drop the body */
        return MHD_YES;
    }
    if (*upload_size) {
        size_t max = gw->cfg.max_body ? gw->cfg.max_body : 16384;
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->too_big || q->len + n > max) {
            /* MHD takes no response before the body is in: drop the rest
             * and answer 413 at the end (a client that goes on sending
             * beyond 1 MiB is disconnected). */
            q->too_big = true;
            q->dropped += n;
            return q->dropped > (1u << 20) ? MHD_NO : MHD_YES;
        }
        if (q->len + n + 1 > q->cap) {
            size_t cap = q->cap ? q->cap : 1024;
            while (cap < q->len + n + 1)
                cap *= 2;
            char *b = malloc(cap);
            if (!b)
                return MHD_NO;
            if (q->body) {
                memcpy(b, q->body, q->len);
                dk_memzero(q->body, q->cap);
                free(q->body);
            }
            q->body = b;
            q->cap = cap;
        }
        memcpy(q->body + q->len, upload_data, n);
        q->len += n;
        q->body[q->len] = '\0';
        return MHD_YES;
    }
    if (q->op_finished) {
        /* Resumed after the device answered or the operation timed out. */
        char *resp = q->resp;
        q->resp = NULL;
        return queue_text(q, q->status ? q->status : 500,
                          resp ? resp : error_text("internal error", NULL), NULL);
    }
    if (q->op_pending)
        return MHD_YES; /* still waiting (spurious call) */
    if (q->too_big)
        return queue_errorf(q, 413, "body: larger than the limit of %zu bytes",
                            gw->cfg.max_body ? gw->cfg.max_body : 16384);

    struct query_buf qb = {.n = 0};
    qb.s[0] = '\0';
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &qb);
    struct dk_gw_cmd_error err;
    int rc = dk_gw_cmd_parse(method, url, qb.s, q->body, q->len, &q->cmd, &err);
    if (q->body)
        dk_memzero(q->body, q->len); /* a label may carry a PSK */
    if (rc) {
        if (q->cmd.kind == DK_GW_CMD_OOB_ADD || err.field) {
            /* Authenticated: always audited. */
            dk_gw_audit(gw, NULL, "oob.rejected", "label refused: %s", err.msg);
        } else if (err.status == 400 && !is_api(url)) {
            char detail[DK_GW_DETAIL_MAX + 1];
            snprintf(detail, sizeof detail, "%.8s from %s: %s", method, q->client, err.msg);
            dk_gw_audit_refusal(gw, NULL, "http.refused", detail);
        }
        return queue_text(q, (unsigned)err.status, error_text(err.msg, err.field), err.allow);
    }
    return run_cmd(gw, q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    struct dk_gw *gw = cls;
    struct dk_gw_req *q = *con_cls;
    if (!q)
        return;
    *con_cls = NULL;
    if (q->op_pending) {
        ops_unlink(gw, q);
        q->op_pending = false;
        if (gw->cfg.dev_ops && gw->cfg.dev_ops->cancel)
            gw->cfg.dev_ops->cancel(gw->cfg.dev_user, q);
    }
    dk_gw_cmd_free(&q->cmd);
    if (q->body) {
        dk_memzero(q->body, q->cap);
        free(q->body);
    }
    free(q->resp);
    free(q);
}

/* Our URL "unescaper" leaves the text as sent: api.c decodes per segment,
 * so an encoded '/' or ".." cannot change the route or escape the folder. */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct dk_gw *gw = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    dk_warn(gw->cfg.log, "mhd", "%s", msg);
}

/* ---- life cycle and the loop ------------------------------------------------------------- */

void dk_gw_init(struct dk_gw *gw)
{
    memset(gw, 0, sizeof *gw);
    gw->epoll_fd = -1;
}

/* The origin of a tile URL template for the CSP img-src: "https://host[:port]";
 * a "{s}." subdomain placeholder becomes "*.". Refuses what could break out
 * of the header value or is not an http(s) URL. */
static int tile_origin(const char *url, char *out, size_t cap)
{
    const char *p;
    if (strncmp(url, "https://", 8) == 0)
        p = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        p = url + 7;
    else
        return DK_EINVAL;
    for (const char *c = url; *c; c++)
        if (*c <= ' ' || *c >= 0x7f || strchr("'\";,", *c))
            return DK_EINVAL;
    const char *end = strchr(p, '/');
    if (!end || end == p)
        return DK_EINVAL;
    size_t scheme = (size_t)(p - url);
    const char *host = p;
    const char *wild = "";
    if (strncmp(host, "{s}.", 4) == 0) {
        host += 4;
        wild = "*.";
    }
    for (const char *c = host; c < end; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '-' || *c == ':' || *c == '[' || *c == ']'))
            return DK_EINVAL;
    int n = snprintf(out, cap, "%.*s%s%.*s", (int)scheme, url, wild, (int)(end - host), host);
    return n < 0 || (size_t)n >= cap ? DK_EINVAL : 0;
}

/* Scripts and styles only from our own files (no inline code, no eval);
 * API calls and the event stream only to us; images from us, data: URLs
 * (canvas snapshots of the camera) and the map tile server. */
static int build_csp(struct dk_gw *gw, const char *map_tiles)
{
    char tiles[300] = "";
    if (map_tiles) {
        tiles[0] = ' ';
        if (tile_origin(map_tiles, tiles + 1, sizeof tiles - 1) != 0)
            return DK_EINVAL;
    }
    snprintf(gw->csp, sizeof gw->csp,
             "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:%s; "
             "connect-src 'self'; media-src 'self' blob:; manifest-src 'self'; "
             "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
             tiles);
    return 0;
}

int dk_gw_setup(struct dk_gw *gw, const struct dk_gw_config *cfg)
{
    dk_gw_init(gw);
    if (!cfg->db || !cfg->token || strlen(cfg->token) != DK_GW_TOKEN_HEX)
        return DK_EINVAL;
    if (build_csp(gw, cfg->map_tiles) != 0)
        return DK_EINVAL;
    gw->cfg = *cfg;
    memcpy(gw->token, cfg->token, DK_GW_TOKEN_HEX + 1);
    struct dk_addr addr;
    const char *ip = cfg->listen ? cfg->listen : "127.0.0.1";
    if (dk_addr_from_ip(&addr, ip, cfg->port) != 0)
        return DK_EINVAL;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (addr.u.sa.sa_family == AF_INET6) {
        bool any = IN6_IS_ADDR_UNSPECIFIED(&addr.u.in6.sin6_addr);
        flags |= any ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
    }
    gw->mhd = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, on_request, gw, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, gw,
        MHD_OPTION_SOCK_ADDR, &addr.u.sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, gw,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(cfg->max_connections ? cfg->max_connections : 64), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)60, MHD_OPTION_END);
    if (!gw->mhd) {
        dk_error(cfg->log, MOD, "cannot listen on %s port %u", ip, (unsigned)cfg->port);
        return DK_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(gw->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(gw->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (!di || di->epoll_fd < 0 || !pi) {
        dk_gw_free(gw);
        return DK_EIO;
    }
    gw->epoll_fd = di->epoll_fd;
    gw->port = pi->port;
    return 0;
}

uint16_t dk_gw_port(const struct dk_gw *gw)
{
    return gw->port;
}

static void on_ready(void *user, int fd, short revents, dk_time_t now)
{
    (void)fd;
    (void)revents;
    (void)now;
    struct dk_gw *gw = user;
    MHD_run(gw->mhd);
}

static dk_time_t on_timer(void *user, dk_time_t now)
{
    struct dk_gw *gw = user;
    if (!gw->mhd)
        return DK_TIME_NEVER;
    expire_ops(gw, now);
    dk_time_t ka = gw->cfg.keepalive_ms ? gw->cfg.keepalive_ms : 15000;
    if (!gw->next_keepalive)
        gw->next_keepalive = now + ka;
    if (now >= gw->next_keepalive) {
        dk_gw_sse_keepalive(gw);
        gw->next_keepalive = now + ka;
    }
    if (now >= gw->next_expiry) {
        dk_gw_expire_due(gw);
        if (gw->audit_count >= 1000) {
            gw->audit_count = 0;
            dk_gwdb_audit_prune(gw->cfg.db, gw->cfg.audit_keep ? gw->cfg.audit_keep : 100000, NULL);
        }
        gw->next_expiry = now + 1000;
    }
    MHD_UNSIGNED_LONG_LONG t = 0;
    bool has_timeout = MHD_get_timeout(gw->mhd, &t) == MHD_YES;
    if (gw->kick || (has_timeout && t == 0)) {
        gw->kick = false;
        MHD_run(gw->mhd);
        has_timeout = MHD_get_timeout(gw->mhd, &t) == MHD_YES;
    }
    dk_time_t next = dk_time_min(gw->next_keepalive, gw->next_expiry);
    next = dk_time_min(next, ops_deadline(gw));
    if (has_timeout)
        next = dk_time_min(next, now + (dk_time_t)(t > 60000 ? 60000 : t));
    if (gw->kick)
        next = now;
    return next;
}

int dk_gw_attach(struct dk_gw *gw, struct dk_loop *loop)
{
    int err = dk_loop_add_fd(loop, gw->epoll_fd, POLLIN, on_ready, gw);
    if (err)
        return err;
    err = dk_loop_add_timer(loop, on_timer, gw);
    if (err) {
        dk_loop_remove_fd(loop, gw->epoll_fd);
        return err;
    }
    gw->loop = loop;
    return 0;
}

void dk_gw_free(struct dk_gw *gw)
{
    if (gw->mhd) {
        /* MHD must not be stopped with suspended connections: answer every
         * waiting request and end every event stream first. */
        while (gw->ops) {
            struct dk_gw_req *q = gw->ops;
            ops_unlink(gw, q);
            q->op_pending = false;
            q->op_finished = true;
            if (gw->cfg.dev_ops && gw->cfg.dev_ops->cancel)
                gw->cfg.dev_ops->cancel(gw->cfg.dev_user, q);
            struct dk_gw_result res = {.err = DK_ECANCELED, .content_format = -1};
            finish_op(q, &res);
            wake(q);
        }
        dk_gw_sse_close_all(gw);
        for (int i = 0; i < 4; i++)
            MHD_run(gw->mhd);
        MHD_stop_daemon(gw->mhd);
        gw->mhd = NULL;
    }
    if (gw->loop && gw->epoll_fd >= 0)
        dk_loop_remove_fd(gw->loop, gw->epoll_fd);
    gw->loop = NULL;
    gw->epoll_fd = -1;
    dk_memzero(gw->token, sizeof gw->token);
    dk_memzero(gw->tickets, sizeof gw->tickets);
}
