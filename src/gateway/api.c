/* REST requests into commands: routing and validation of everything that
 * comes from outside (path, query, JSON body). Pure: no I/O, so the fuzz
 * target drives exactly what the server runs. */
#include <duckling/gateway.h>
#include <duckling/err.h>
#include <duckling/mem.h>

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 12
#define SEG_MAX 255

struct seg {
    char s[SEG_MAX + 1];
    size_t n;
};

void dk_gw_cmd_init(struct dk_gw_cmd *cmd)
{
    memset(cmd, 0, sizeof *cmd);
}

void dk_gw_cmd_free(struct dk_gw_cmd *cmd)
{
    free(cmd->value_json);
    cmd->value_json = NULL;
    dk_memzero(&cmd->oob, sizeof cmd->oob);
}

static int fail(struct dk_gw_cmd_error *err, int status, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct dk_gw_cmd_error *err, int status, int rc, const char *fmt, ...)
{
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return rc;
}

static int not_found(struct dk_gw_cmd_error *err)
{
    return fail(err, 404, DK_ENOTFOUND, "no such resource");
}

static int bad_method(struct dk_gw_cmd_error *err, const char *allow)
{
    err->allow = allow;
    return fail(err, 405, DK_ENOTSUP, "method not allowed here (allowed: %s)", allow);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out. Returns the length, or -1 for a bad
 * escape, a NUL, a control character or more than cap - 1 bytes. */
static long decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            return -1;
        if (o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}

/* Splits "/a/b/c" into decoded segments (the leading '/' dropped). */
static int split_path(const char *raw, struct seg *segs, size_t *count, struct dk_gw_cmd_error *err)
{
    if (!raw || raw[0] != '/')
        return fail(err, 400, DK_EPARSE, "path: must start with '/'");
    const char *p = raw + 1;
    size_t n = 0;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == MAX_SEGS)
            return fail(err, 404, DK_ENOTFOUND, "no such resource (path too deep)");
        long d = decode(p, len, segs[n].s, sizeof segs[n].s);
        if (d < 0)
            return fail(err, 400, DK_EPARSE,
                        "path: bad percent-escape, control character or segment too long");
        segs[n++].n = (size_t)d;
        if (!slash)
            break;
        p = slash + 1;
    }
    *count = n;
    return 0;
}

static bool is_method(const char *m, const char *want)
{
    return strcmp(m, want) == 0;
}

/* An endpoint name from a URL segment: 1..64 bytes (already free of control
 * characters by decode()). */
static int take_ep(const struct seg *s, char *out, struct dk_gw_cmd_error *err)
{
    if (s->n == 0)
        return fail(err, 404, DK_ENOTFOUND, "no such resource (empty endpoint name)");
    if (s->n > DK_GW_EP_MAX)
        return fail(err, 400, DK_EPARSE, "endpoint: longer than %d characters", DK_GW_EP_MAX);
    memcpy(out, s->s, s->n + 1);
    return 0;
}

static bool is_lwm2m_id(const struct seg *s, unsigned long *v)
{
    if (s->n == 0 || s->n > 5)
        return false;
    unsigned long x = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->s[i] < '0' || s->s[i] > '9')
            return false;
        x = x * 10 + (unsigned long)(s->s[i] - '0');
    }
    if (x > 65535)
        return false;
    *v = x;
    return true;
}

/* The LwM2M path in segs[0..n): 1 to 4 ids. */
static int take_path(const struct seg *segs, size_t n, char *out, struct dk_gw_cmd_error *err)
{
    if (n == 0 || n > 4)
        return fail(err, 400, DK_EPARSE,
                    "path: an LwM2M path has 1 to 4 parts (/object/instance/resource/instance)");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned long v;
        if (!is_lwm2m_id(&segs[i], &v))
            return fail(err, 400, DK_EPARSE,
                        "path: '%.32s' is not an LwM2M id (a number from 0 to 65535)", segs[i].s);
        o += (size_t)snprintf(out + o, DK_GW_PATH_MAX + 1 - o, "/%lu", v);
    }
    return 0;
}

/* ---- bodies ---------------------------------------------------------------- */

/* Parses the body as one JSON object. An empty body gives NULL (no error)
 * when allowed. */
static int body_object(const char *body, size_t len, bool required, cJSON **out,
                       struct dk_gw_cmd_error *err)
{
    *out = NULL;
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i == len) {
        if (required)
            return fail(err, 400, DK_EPARSE, "body: a JSON object is required");
        return 0;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!j)
        return fail(err, 400, DK_EPARSE, "body: not valid JSON (near byte %zu)",
                    end && end >= body ? (size_t)(end - body) : (size_t)0);
    for (const char *p = end; p && p < body + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\0') {
            cJSON_Delete(j);
            return fail(err, 400, DK_EPARSE, "body: text after the JSON value");
        }
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return fail(err, 400, DK_EPARSE, "body: must be a JSON object");
    }
    *out = j;
    return 0;
}

/* Refuses members other than the allowed ones (NULL-terminated list). */
static int only_members(const cJSON *obj, const char *const *allowed, struct dk_gw_cmd_error *err)
{
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = c->string && strcmp(c->string, *a) == 0;
        if (!ok)
            return fail(err, 400, DK_EPARSE, "body: unknown field '%.64s'",
                        c->string ? c->string : "");
    }
    return 0;
}

static int parse_oob_add(const char *body, size_t len, struct dk_gw_cmd *cmd,
                         struct dk_gw_cmd_error *err)
{
    cJSON *j;
    int rc = body_object(body, len, true, &j, err);
    if (rc)
        return rc;
    static const char *const allowed[] = {"label", NULL};
    rc = only_members(j, allowed, err);
    const cJSON *label = rc ? NULL : cJSON_GetObjectItemCaseSensitive(j, "label");
    if (!rc && !label)
        rc = fail(err, 400, DK_EPARSE, "label: missing (send {\"label\": \"01;EP:...;;\"})");
    else if (!rc && !cJSON_IsString(label))
        rc = fail(err, 400, DK_EPARSE, "label: must be a string");
    if (!rc) {
        rc = dk_gw_label_parse(label->valuestring, strlen(label->valuestring), &cmd->oob, err);
        if (rc)
            rc = DK_EPARSE;
    }
    /* The label may carry a PSK: do not leave it in freed memory. */
    if (label && cJSON_IsString(label))
        dk_memzero(label->valuestring, strlen(label->valuestring));
    cJSON_Delete(j);
    return rc;
}

static int parse_write(const char *body, size_t len, struct dk_gw_cmd *cmd,
                       struct dk_gw_cmd_error *err)
{
    cJSON *j;
    int rc = body_object(body, len, true, &j, err);
    if (rc)
        return rc;
    static const char *const allowed[] = {"value", NULL};
    rc = only_members(j, allowed, err);
    const cJSON *v = rc ? NULL : cJSON_GetObjectItemCaseSensitive(j, "value");
    if (!rc && !v)
        rc = fail(err, 400, DK_EPARSE, "value: missing (send {\"value\": ...})");
    else if (!rc && cJSON_IsNull(v))
        rc = fail(err, 400, DK_EPARSE, "value: must not be null");
    if (!rc) {
        cmd->value_json = cJSON_PrintUnformatted(v);
        if (!cmd->value_json)
            rc = fail(err, 500, DK_ENOMEM, "out of memory");
    }
    cJSON_Delete(j);
    return rc;
}

static int parse_execute(const char *body, size_t len, struct dk_gw_cmd *cmd,
                         struct dk_gw_cmd_error *err)
{
    cJSON *j;
    int rc = body_object(body, len, false, &j, err);
    if (rc || !j)
        return rc;
    static const char *const allowed[] = {"args", NULL};
    rc = only_members(j, allowed, err);
    const cJSON *a = rc ? NULL : cJSON_GetObjectItemCaseSensitive(j, "args");
    if (a && !cJSON_IsString(a)) {
        rc = fail(err, 400, DK_EPARSE, "args: must be a string");
    } else if (a) {
        size_t n = strlen(a->valuestring);
        if (n > DK_GW_ARGS_MAX)
            rc = fail(err, 400, DK_EPARSE, "args: longer than %d characters", DK_GW_ARGS_MAX);
        for (size_t i = 0; !rc && i < n; i++) {
            unsigned char c = (unsigned char)a->valuestring[i];
            if (c < 0x20 || c > 0x7e)
                rc = fail(err, 400, DK_EPARSE, "args: only printable ASCII is allowed");
        }
        if (!rc) {
            memcpy(cmd->args, a->valuestring, n + 1);
            cmd->has_args = true;
        }
    }
    cJSON_Delete(j);
    return rc;
}

/* A body on a command that takes none: empty or a JSON object (ignored). */
static int parse_no_body(const char *body, size_t len, struct dk_gw_cmd_error *err)
{
    cJSON *j;
    int rc = body_object(body, len, false, &j, err);
    cJSON_Delete(j);
    return rc;
}

/* ---- query ------------------------------------------------------------------- */

/* Finds name=value in a raw query; copies the decoded value. 1 found, 0 not,
 * -1 bad. */
static int query_get(const char *q, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > nl && strncmp(q, name, nl) == 0 && q[nl] == '=')
            return decode(q + nl + 1, len - nl - 1, out, cap) < 0 ? -1 : 1;
        if (len == nl && strncmp(q, name, nl) == 0) {
            out[0] = '\0';
            return 1;
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

static int query_int(const char *q, const char *name, int64_t min, int64_t max, int64_t *v,
                     struct dk_gw_cmd_error *err)
{
    char buf[32];
    int f = query_get(q, name, buf, sizeof buf);
    if (f == 0)
        return 0;
    char *end = NULL;
    long long x = f < 0 || !buf[0] ? 0 : strtoll(buf, &end, 10);
    if (f < 0 || !buf[0] || !end || *end || buf[0] == '-' || buf[0] == '+' || x < min || x > max)
        return fail(err, 400, DK_EPARSE, "%s: must be a whole number from %lld to %lld", name,
                    (long long)min, (long long)max);
    *v = x;
    return 0;
}

static int parse_audit_query(const char *q, struct dk_gw_cmd *cmd, struct dk_gw_cmd_error *err)
{
    int64_t limit = 100, before = 0;
    int rc = query_int(q, "limit", 1, 1000, &limit, err);
    if (!rc)
        rc = query_int(q, "before", 0, INT64_MAX, &before, err);
    if (rc)
        return rc;
    cmd->limit = (size_t)limit;
    cmd->before = before;
    int f = query_get(q, "endpoint", cmd->audit_ep, sizeof cmd->audit_ep);
    if (f < 0)
        return fail(err, 400, DK_EPARSE, "endpoint: bad escape or longer than %d characters",
                    DK_GW_EP_MAX);
    return 0;
}

/* ---- routing ------------------------------------------------------------------- */

static int route_devices(const char *method, struct seg *s, size_t n, const char *body, size_t len,
                         struct dk_gw_cmd *cmd, struct dk_gw_cmd_error *err)
{
    /* s[0] is "devices" */
    if (n == 1) {
        if (!is_method(method, "GET"))
            return bad_method(err, "GET");
        cmd->kind = DK_GW_CMD_DEVICES;
        return 0;
    }
    int rc = take_ep(&s[1], cmd->ep, err);
    if (rc)
        return rc;
    if (n == 2) {
        if (is_method(method, "GET"))
            cmd->kind = DK_GW_CMD_DEVICE_GET;
        else if (is_method(method, "DELETE"))
            cmd->kind = DK_GW_CMD_DEVICE_DELETE;
        else
            return bad_method(err, "GET, DELETE");
        return parse_no_body(body, len, err);
    }
    if (n == 3 && strcmp(s[2].s, "reset") == 0) {
        if (!is_method(method, "POST"))
            return bad_method(err, "POST");
        cmd->kind = DK_GW_CMD_RESET;
        return parse_no_body(body, len, err);
    }
    bool observe = strcmp(s[n - 1].s, "observe") == 0;
    size_t plen = n - 2 - (observe ? 1 : 0);
    /* A number starts an LwM2M path (validated by take_path); any other
     * word is an unknown sub-resource. */
    if (plen == 0 || s[2].s[0] < '0' || s[2].s[0] > '9')
        return not_found(err);
    rc = take_path(&s[2], plen, cmd->path, err);
    if (rc)
        return rc;
    if (observe) {
        if (is_method(method, "POST"))
            cmd->kind = DK_GW_CMD_OBSERVE;
        else if (is_method(method, "DELETE"))
            cmd->kind = DK_GW_CMD_UNOBSERVE;
        else
            return bad_method(err, "POST, DELETE");
        return parse_no_body(body, len, err);
    }
    if (is_method(method, "GET")) {
        cmd->kind = DK_GW_CMD_READ;
        return 0;
    }
    if (is_method(method, "PUT")) {
        cmd->kind = DK_GW_CMD_WRITE;
        return parse_write(body, len, cmd, err);
    }
    if (is_method(method, "POST")) {
        cmd->kind = DK_GW_CMD_EXECUTE;
        return parse_execute(body, len, cmd, err);
    }
    return bad_method(err, "GET, PUT, POST");
}

static int route_api(const char *method, struct seg *s, size_t n, const char *query,
                     const char *body, size_t len, struct dk_gw_cmd *cmd,
                     struct dk_gw_cmd_error *err)
{
    if (n == 0)
        return not_found(err);
    const char *r = s[0].s;
    if (strcmp(r, "status") == 0 && n == 1) {
        if (!is_method(method, "GET"))
            return bad_method(err, "GET");
        cmd->kind = DK_GW_CMD_STATUS;
        return 0;
    }
    if (strcmp(r, "oob") == 0 && n == 1) {
        if (is_method(method, "GET")) {
            cmd->kind = DK_GW_CMD_OOB_LIST;
            return 0;
        }
        if (!is_method(method, "POST"))
            return bad_method(err, "GET, POST");
        cmd->kind = DK_GW_CMD_OOB_ADD;
        return parse_oob_add(body, len, cmd, err);
    }
    if (strcmp(r, "oob") == 0 && n == 2) {
        int rc = take_ep(&s[1], cmd->ep, err);
        if (rc)
            return rc;
        if (!is_method(method, "DELETE"))
            return bad_method(err, "DELETE");
        cmd->kind = DK_GW_CMD_OOB_DELETE;
        return parse_no_body(body, len, err);
    }
    if (strcmp(r, "pending") == 0 && n == 1) {
        if (!is_method(method, "GET"))
            return bad_method(err, "GET");
        cmd->kind = DK_GW_CMD_PENDING_LIST;
        return 0;
    }
    if (strcmp(r, "pending") == 0 && n == 3 &&
        (strcmp(s[2].s, "approve") == 0 || strcmp(s[2].s, "deny") == 0)) {
        int rc = take_ep(&s[1], cmd->ep, err);
        if (rc)
            return rc;
        if (!is_method(method, "POST"))
            return bad_method(err, "POST");
        cmd->kind = s[2].s[0] == 'a' ? DK_GW_CMD_APPROVE : DK_GW_CMD_DENY;
        return parse_no_body(body, len, err);
    }
    if (strcmp(r, "devices") == 0)
        return route_devices(method, s, n, body, len, cmd, err);
    if (strcmp(r, "audit") == 0 && n == 1) {
        if (!is_method(method, "GET"))
            return bad_method(err, "GET");
        cmd->kind = DK_GW_CMD_AUDIT;
        return parse_audit_query(query, cmd, err);
    }
    if (strcmp(r, "events") == 0 && n == 1) {
        if (!is_method(method, "GET"))
            return bad_method(err, "GET");
        cmd->kind = DK_GW_CMD_EVENTS;
        return 0;
    }
    if (strcmp(r, "events") == 0 && n == 2 && strcmp(s[1].s, "ticket") == 0) {
        if (!is_method(method, "POST"))
            return bad_method(err, "POST");
        cmd->kind = DK_GW_CMD_EVENTS_TICKET;
        return parse_no_body(body, len, err);
    }
    return not_found(err);
}

/* Anything outside /api names a file of the web UI. Every segment is checked
 * after decoding, so "%2e%2e" is refused like "..". */
static int route_static(const char *method, struct seg *s, size_t n, struct dk_gw_cmd *cmd,
                        struct dk_gw_cmd_error *err)
{
    if (!is_method(method, "GET") && !is_method(method, "HEAD"))
        return bad_method(err, "GET, HEAD");
    cmd->kind = DK_GW_CMD_STATIC;
    cmd->head = is_method(method, "HEAD");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const struct seg *g = &s[i];
        bool last = i + 1 == n;
        if (g->n == 0) {
            if (last)
                break; /* "/" or "dir/": the folder's index */
            return fail(err, 400, DK_EPARSE, "path: empty segment");
        }
        if (strcmp(g->s, ".") == 0 || strcmp(g->s, "..") == 0)
            return fail(err, 400, DK_EPARSE, "path: '.' and '..' are not allowed");
        if (strchr(g->s, '/') || strchr(g->s, '\\'))
            return fail(err, 400, DK_EPARSE, "path: encoded '/' or '\\' is not allowed");
        if (g->s[0] == '.')
            return fail(err, 404, DK_ENOTFOUND, "no such file");
        if (o + g->n + 2 > sizeof cmd->file)
            return fail(err, 404, DK_ENOTFOUND, "no such file (path too long)");
        if (o)
            cmd->file[o++] = '/';
        memcpy(cmd->file + o, g->s, g->n);
        o += g->n;
        cmd->file[o] = '\0';
    }
    if (n > 0 && s[n - 1].n == 0) {
        const char *idx = o ? "/index.html" : "index.html";
        if (o + strlen(idx) + 1 > sizeof cmd->file)
            return fail(err, 404, DK_ENOTFOUND, "no such file (path too long)");
        memcpy(cmd->file + o, idx, strlen(idx) + 1);
    }
    return 0;
}

int dk_gw_cmd_parse(const char *method, const char *raw_path, const char *query, const char *body,
                    size_t len, struct dk_gw_cmd *cmd, struct dk_gw_cmd_error *err)
{
    memset(err, 0, sizeof *err);
    dk_gw_cmd_free(cmd);
    dk_gw_cmd_init(cmd);
    if (!method || !raw_path)
        return fail(err, 400, DK_EPARSE, "request: no method or path");
    if (len && !body)
        return fail(err, 400, DK_EPARSE, "body: missing");
    struct seg *segs = calloc(MAX_SEGS, sizeof *segs);
    if (!segs)
        return fail(err, 500, DK_ENOMEM, "out of memory");
    size_t n = 0;
    int rc = split_path(raw_path, segs, &n, err);
    if (!rc) {
        if (n >= 1 && strcmp(segs[0].s, "api") == 0)
            rc = route_api(method, segs + 1, n - 1, query, body, len, cmd, err);
        else
            rc = route_static(method, segs, n, cmd, err);
    }
    free(segs);
    return rc;
}
