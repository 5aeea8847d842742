/* duckling — the controller command line tool over the gateway's REST API
 * (what the phone does): scan a label, approve devices, operate them. */
#include <duckling/version.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "duckling"
#define MAX_RESPONSE (16u << 20)

extern char **environ;

struct ctx {
    const char *gateway;
    const char *token_file;
    char token[256];
    bool json;
    long timeout;
    const char *what; /* the command, for error messages */
};

/* ---- small helpers ------------------------------------------------------------ */

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, PROG ": %s: ", c->what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '" PROG " --help'.\n");
    return 2;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: " PROG " [--gateway URL] [--token-file F] [--json] COMMAND [ARGS]\n"
               "\n"
               "The duckling controller: talks to a duckling-gateway over its REST API.\n"
               "\n"
               "Commands:\n"
               "  scan TEXT               add a device's label (its OOB text) to the gateway\n"
               "  scan --image PNG        decode the label's QR code (zbarimg) and add it\n"
               "  labels                  list the labels (OOB records) the gateway knows\n"
               "  delete-label EP         forget EP's label\n"
               "  pending                 list bootstrap requests waiting for approval\n"
               "  approve EP              approve EP's bootstrap request\n"
               "  deny EP                 deny EP's bootstrap request\n"
               "  devices                 list devices with state, last seen and location\n"
               "  device EP               show one device, its credentials and latest values\n"
               "  read EP PATH            read a resource, instance or object (/3303/0/5700)\n"
               "  write EP PATH VALUE     write VALUE (JSON, or else taken as a string)\n"
               "  exec EP PATH [ARGS]     execute a resource\n"
               "  observe [--count N] EP PATH\n"
               "                          observe a path and print its notifications\n"
               "  unobserve EP PATH       stop observing\n"
               "  reset EP                remote factory reset (then its credentials are revoked)\n"
               "  remove EP               forget a device and revoke its credentials\n"
               "  audit [--limit N] [EP]  the audit log, newest first\n"
               "  events [--count N]      follow the gateway's event stream\n"
               "  status                  what the gateway runs\n"
               "\n"
               "Options:\n"
               "  --gateway URL           default http://127.0.0.1:8080 (or $DUCKLING_GATEWAY)\n"
               "  --token-file F          the admin token file (or $DUCKLING_TOKEN_FILE)\n"
               "  --json                  print the API's JSON instead of text\n"
               "  --timeout S             seconds to wait for an answer (default 60)\n"
               "  -h, --help, -V, --version\n"
               "\n"
               "Exit status: 0 on success, 1 when the gateway refuses or fails (its error is\n"
               "printed), 2 on bad usage.\n");
}

static int read_token(struct ctx *c)
{
    const char *path = c->token_file ? c->token_file : getenv("DUCKLING_TOKEN_FILE");
    if (!path || !*path)
        return usage_error("no token: give --token-file F or set DUCKLING_TOKEN_FILE "
                           "(the gateway's DATA/admin.token)");
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t n = fread(c->token, 1, sizeof c->token - 1, f);
    fclose(f);
    c->token[n] = '\0';
    while (n && (c->token[n - 1] == '\n' || c->token[n - 1] == '\r' || c->token[n - 1] == ' '))
        c->token[--n] = '\0';
    if (!n) {
        fprintf(stderr, PROG ": %s: empty token file\n", path);
        return 1;
    }
    return 0;
}

/* ---- HTTP ------------------------------------------------------------------------- */

struct body {
    char *p;
    size_t n;
    bool too_big;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *user)
{
    struct body *b = user;
    size_t n = size * nmemb;
    if (b->n + n > MAX_RESPONSE) {
        b->too_big = true;
        return 0;
    }
    char *p = realloc(b->p, b->n + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->n, data, n);
    b->p = p;
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

/* "/api/devices/" + escaped ep + rest. */
static char *url_for(struct ctx *c, CURL *h, const char *prefix, const char *ep, const char *rest)
{
    char *esc = ep ? curl_easy_escape(h, ep, 0) : NULL;
    if (ep && !esc)
        return NULL;
    size_t gl = strlen(c->gateway);
    while (gl && c->gateway[gl - 1] == '/')
        gl--;
    size_t n =
        gl + strlen(prefix) + (esc ? strlen(esc) + 1 : 0) + (rest ? strlen(rest) + 1 : 0) + 1;
    char *url = malloc(n);
    if (url)
        snprintf(url, n, "%.*s%s%s%s%s", (int)gl, c->gateway, prefix, esc ? "/" : "",
                 esc ? esc : "", rest ? rest : "");
    curl_free(esc);
    return url;
}

struct reply {
    long status;
    cJSON *json; /* parsed body (may be NULL) */
    char *text;
};

static void reply_free(struct reply *r)
{
    cJSON_Delete(r->json);
    free(r->text);
    memset(r, 0, sizeof *r);
}

static struct curl_slist *headers(struct ctx *c, bool with_body)
{
    char auth[300];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
    struct curl_slist *l = curl_slist_append(NULL, auth);
    memset(auth, 0, sizeof auth);
    l = curl_slist_append(l, "Accept: application/json");
    if (with_body)
        l = curl_slist_append(l, "Content-Type: application/json");
    return l;
}

/* One request. Returns 0 with *r filled (any HTTP status), or 1 after
 * printing why the gateway could not be reached. */
static int request(struct ctx *c, const char *method, const char *prefix, const char *ep,
                   const char *rest, const char *body, struct reply *r)
{
    memset(r, 0, sizeof *r);
    CURL *h = curl_easy_init();
    if (!h)
        return fail(c, "cannot initialise libcurl");
    char *url = url_for(c, h, prefix, ep, rest);
    struct body b = {0};
    struct curl_slist *hdr = headers(c, body != NULL);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    CURLcode rc = url ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
    int ret = 0;
    if (rc != CURLE_OK) {
        ret = fail(c, "%s: %s", c->gateway,
                   b.too_big   ? "answer too large"
                   : errbuf[0] ? errbuf
                               : curl_easy_strerror(rc));
        free(b.p);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        r->text = b.p;
        r->json = b.p ? cJSON_Parse(b.p) : NULL;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(url);
    return ret;
}

/* Prints the API's error and returns 1, or returns 0 for a 2xx answer. */
static int check(struct ctx *c, struct reply *r)
{
    if (r->status >= 200 && r->status < 300)
        return 0;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    if (cJSON_IsString(e))
        return fail(c, "%s (HTTP %ld)", e->valuestring, r->status);
    return fail(c, "HTTP %ld%s%s", r->status, r->text ? ": " : "", r->text ? r->text : "");
}

/* --json: the API's body as it came; else the caller prints text. */
static bool json_out(struct ctx *c, const struct reply *r)
{
    if (!c->json)
        return false;
    if (r->text)
        fputs(r->text, stdout);
    if (r->text && r->text[0] && r->text[strlen(r->text) - 1] != '\n')
        putchar('\n');
    return true;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *name, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static void fmt_time(double t, char *out, size_t cap)
{
    if (t <= 0) {
        snprintf(out, cap, "never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void fmt_span(double secs, char *out, size_t cap)
{
    long s = secs < 0 ? 0 : (long)secs;
    if (s >= 3600)
        snprintf(out, cap, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
    else if (s >= 60)
        snprintf(out, cap, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(out, cap, "%lds", s);
}

/* A value as text: strings bare, everything else as compact JSON. */
static void print_value(const cJSON *v)
{
    if (cJSON_IsString(v)) {
        puts(v->valuestring);
        return;
    }
    if (cJSON_IsArray(v)) {
        /* SenML-like records: one "name = value" line each. */
        const cJSON *rec;
        bool all = true;
        cJSON_ArrayForEach(rec, v) all = all && cJSON_IsObject(rec);
        if (all) {
            cJSON_ArrayForEach(rec, v)
            {
                const cJSON *val = NULL;
                static const char *const keys[] = {"v", "vs", "vb", "vd", "vlo"};
                for (size_t i = 0; i < 5 && !val; i++)
                    val = cJSON_GetObjectItemCaseSensitive(rec, keys[i]);
                char *s = val ? cJSON_PrintUnformatted(val) : NULL;
                printf("%s = %s\n", str(rec, "n"), s ? s : "?");
                free(s);
            }
            return;
        }
    }
    char *s = cJSON_PrintUnformatted(v);
    if (s) {
        puts(s);
        free(s);
    }
}

/* ---- commands --------------------------------------------------------------------- */

static int post_label(struct ctx *c, const char *label)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "label", label);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    struct reply r;
    int ret = body ? request(c, "POST", "/api/oob", NULL, NULL, body, &r) : 1;
    free(body);
    if (ret)
        return ret;
    if (!(ret = check(c, &r)) && !json_out(c, &r)) {
        printf("label %s: %s (type %s, channel %s, credential %s)\n",
               r.status == 201 ? "added" : "already known", str(r.json, "endpoint"),
               str(r.json, "type"), str(r.json, "channel"), str(r.json, "cred_type"));
        if (r.status == 201)
            printf("the device appears in '" PROG " pending' once it asks to be bootstrapped\n");
    }
    reply_free(&r);
    return ret;
}

/* Runs zbarimg on the image and returns the first decoded text. */
static int decode_qr(struct ctx *c, const char *png, char *out, size_t cap)
{
    if (access(png, R_OK) != 0)
        return fail(c, "%s: %s", png, strerror(errno));
    int fds[2];
    if (pipe(fds) != 0)
        return fail(c, "pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    /* zbarimg's libraries chatter on stderr (D-Bus); its exit status tells failure. */
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {"zbarimg", "--raw", "-q", "--", (char *)png, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "zbarimg", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return fail(c, "cannot run zbarimg (install zbar-tools): %s", strerror(rc));
    }
    size_t n = 0;
    ssize_t got;
    char buf[4096];
    while ((got = read(fds[0], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got; i++)
            if (n + 1 < cap)
                out[n++] = buf[i];
    }
    close(fds[0]);
    out[n] = '\0';
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 4))
        return fail(c, "zbarimg could not read %s", png);
    /* First line: one code per line; a label never contains a newline. */
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
    if (!out[0])
        return fail(c, "no QR code found in %s", png);
    return 0;
}

static int cmd_scan(struct ctx *c, int argc, char **argv)
{
    static const struct option opts[] = {{"image", required_argument, NULL, 'i'}, {0, 0, 0, 0}};
    const char *image = NULL;
    int o;
    optind = 0; /* glibc: restart scanning from argv[1] */
    while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (o != 'i')
            return usage_error("scan: unknown option or missing argument");
        image = optarg;
    }
    if (image) {
        if (optind != argc)
            return usage_error("scan --image PNG takes no label text");
        char text[4096];
        int rc = decode_qr(c, image, text, sizeof text);
        return rc ? rc : post_label(c, text);
    }
    if (optind + 1 != argc)
        return usage_error("scan needs the label text (or --image PNG)");
    return post_label(c, argv[optind]);
}

static int simple_get(struct ctx *c, const char *prefix, const char *ep, const char *rest,
                      struct reply *r)
{
    int ret = request(c, "GET", prefix, ep, rest, NULL, r);
    if (ret)
        return ret;
    ret = check(c, r);
    if (ret)
        reply_free(r);
    return ret;
}

static int cmd_labels(struct ctx *c)
{
    struct reply r;
    int ret = simple_get(c, "/api/oob", NULL, NULL, &r);
    if (ret || json_out(c, &r)) {
        reply_free(&r);
        return ret;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r.json, "oob"), *o;
    if (!cJSON_GetArraySize(list))
        printf("no labels\n");
    else
        printf("%-24s %-10s %-7s %-5s %s\n", "ENDPOINT", "TYPE", "CHANNEL", "CRED", "SCANNED");
    cJSON_ArrayForEach(o, list)
    {
        char t[32];
        fmt_time(num(o, "created", 0), t, sizeof t);
        printf("%-24s %-10s %-7s %-5s %s\n", str(o, "endpoint"), str(o, "type"), str(o, "channel"),
               str(o, "cred_type"), t);
    }
    reply_free(&r);
    return 0;
}

static int cmd_pending(struct ctx *c)
{
    struct reply r;
    int ret = simple_get(c, "/api/pending", NULL, NULL, &r);
    if (ret || json_out(c, &r)) {
        reply_free(&r);
        return ret;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r.json, "pending"), *o;
    if (!cJSON_GetArraySize(list))
        printf("no pending bootstrap requests\n");
    else
        printf("%-24s %-5s %-6s %-22s %s\n", "ENDPOINT", "CRED", "LABEL", "FROM", "EXPIRES IN");
    double now = (double)time(NULL);
    cJSON_ArrayForEach(o, list)
    {
        char left[48];
        fmt_span(num(o, "expires", now) - now, left, sizeof left);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "label_match");
        printf("%-24s %-5s %-6s %-22s %s\n", str(o, "endpoint"), str(o, "peer_cred_type"),
               cJSON_IsTrue(m) ? "match" : "NO", str(o, "peer"), left);
    }
    reply_free(&r);
    return 0;
}

static int cmd_decide(struct ctx *c, const char *ep, bool approve)
{
    struct reply r;
    int ret = request(c, "POST", "/api/pending", ep, approve ? "/approve" : "/deny", NULL, &r);
    if (ret)
        return ret;
    if (!(ret = check(c, &r)) && !json_out(c, &r))
        printf("%s: bootstrap request %s\n", ep, approve ? "approved" : "denied");
    reply_free(&r);
    return ret;
}

static void print_device_line(const cJSON *d)
{
    char seen[32], loc[64] = "-";
    fmt_time(num(d, "last_seen", 0), seen, sizeof seen);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(d, "location");
    if (cJSON_IsObject(l))
        snprintf(loc, sizeof loc, "%.5f,%.5f", num(l, "lat", 0), num(l, "lon", 0));
    printf("%-24s %-12s %-10s %-20s %s\n", str(d, "endpoint"), str(d, "state"), str(d, "type"),
           seen, loc);
}

static int cmd_devices(struct ctx *c)
{
    struct reply r;
    int ret = simple_get(c, "/api/devices", NULL, NULL, &r);
    if (ret || json_out(c, &r)) {
        reply_free(&r);
        return ret;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r.json, "devices"), *d;
    if (!cJSON_GetArraySize(list))
        printf("no devices\n");
    else
        printf("%-24s %-12s %-10s %-20s %s\n", "ENDPOINT", "STATE", "TYPE", "LAST SEEN",
               "LOCATION");
    cJSON_ArrayForEach(d, list) print_device_line(d);
    reply_free(&r);
    return 0;
}

static int cmd_device(struct ctx *c, const char *ep)
{
    struct reply r;
    int ret = simple_get(c, "/api/devices", ep, NULL, &r);
    if (ret || json_out(c, &r)) {
        reply_free(&r);
        return ret;
    }
    const cJSON *d = r.json;
    char t[32];
    printf("endpoint:     %s\nstate:        %s\ntype:         %s\n", str(d, "endpoint"),
           str(d, "state"), str(d, "type"));
    fmt_time(num(d, "last_seen", 0), t, sizeof t);
    printf("last seen:    %s\n", t);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(d, "location");
    if (cJSON_IsObject(l))
        printf("location:     %.6f, %.6f\n", num(l, "lat", 0), num(l, "lon", 0));
    const cJSON *reg = cJSON_GetObjectItemCaseSensitive(d, "registration");
    if (cJSON_IsObject(reg))
        printf("registration: lifetime %.0f s, binding %s, from %s\n              objects %s\n",
               num(reg, "lifetime", 0), str(reg, "binding"), str(reg, "peer"), str(reg, "objects"));
    const cJSON *cr = cJSON_GetObjectItemCaseSensitive(d, "credentials");
    if (cJSON_IsObject(cr))
        printf("credentials:  %s%s%s\n", str(cr, "kind"),
               str(cr, "psk_identity")[0] ? ", identity " : "", str(cr, "psk_identity"));
    else
        printf("credentials:  none\n");
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(d, "values"), *v;
    cJSON_ArrayForEach(v, vals)
    {
        char *s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(v, "value"));
        printf("value:        %s = %s\n", str(v, "path"), s ? s : "?");
        free(s);
    }
    reply_free(&r);
    return 0;
}

/* "/3303/0/5700" or "3303/0/5700" into "/3303/0/5700" for the URL. The
 * gateway validates it. */
static int path_arg(const char *path, char *out, size_t cap)
{
    const char *p = path[0] == '/' ? path + 1 : path;
    if (!*p)
        return usage_error("empty LwM2M path");
    for (const char *q = p; *q; q++)
        if (!((*q >= '0' && *q <= '9') || *q == '/'))
            return usage_error("'%s' is not an LwM2M path like /3303/0/5700", path);
    snprintf(out, cap, "/%s", p);
    return 0;
}

static int device_op(struct ctx *c, const char *method, const char *ep, const char *path,
                     const char *suffix, const char *body, struct reply *r)
{
    char rest[128];
    int ret = path_arg(path, rest, sizeof rest - 16);
    if (ret)
        return ret;
    if (suffix)
        strncat(rest, suffix, sizeof rest - strlen(rest) - 1);
    ret = request(c, method, "/api/devices", ep, rest, body, r);
    if (ret)
        return ret;
    ret = check(c, r);
    if (ret)
        reply_free(r);
    return ret;
}

static int cmd_read(struct ctx *c, const char *ep, const char *path)
{
    struct reply r;
    int ret = device_op(c, "GET", ep, path, NULL, NULL, &r);
    if (ret || json_out(c, &r)) {
        reply_free(&r);
        return ret;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r.json, "value");
    if (v)
        print_value(v);
    else
        printf("(no value; the device answered %s)\n", str(r.json, "code"));
    reply_free(&r);
    return 0;
}

static int cmd_write(struct ctx *c, const char *ep, const char *path, const char *value)
{
    /* JSON when it parses (21.5, true, "text", {...}); otherwise a string. */
    cJSON *v = cJSON_Parse(value);
    if (!v)
        v = cJSON_CreateString(value);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddItemToObject(b, "value", v);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    struct reply r;
    int ret = body ? device_op(c, "PUT", ep, path, NULL, body, &r) : 1;
    free(body);
    if (ret)
        return ret;
    if (!json_out(c, &r))
        printf("%s %s: written (%s)\n", ep, str(r.json, "path"), str(r.json, "code"));
    reply_free(&r);
    return 0;
}

static int cmd_exec(struct ctx *c, const char *ep, const char *path, const char *args)
{
    char *body = NULL;
    if (args) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "args", args);
        body = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
    }
    struct reply r;
    int ret = device_op(c, "POST", ep, path, NULL, body, &r);
    free(body);
    if (ret)
        return ret;
    if (!json_out(c, &r))
        printf("%s %s: executed (%s)\n", ep, str(r.json, "path"), str(r.json, "code"));
    reply_free(&r);
    return 0;
}

/* ---- the event stream --------------------------------------------------------------- */

struct stream {
    struct ctx *c;
    char line[65536];
    size_t n;
    char event[64];
    char *data;
    size_t data_len;
    long count, seen;
    const char *filter_ep, *filter_path; /* observe: only these notifications */
};

static void print_event(struct stream *s, const char *type, const char *data)
{
    cJSON *j = cJSON_Parse(data);
    const char *ep = str(j, "endpoint");
    if (s->filter_ep) {
        if (strcmp(type, "notification") != 0 || strcmp(ep, s->filter_ep) != 0 ||
            strcmp(str(j, "path"), s->filter_path) != 0) {
            cJSON_Delete(j);
            return;
        }
    }
    s->seen++;
    if (s->c->json) {
        printf("%s\n", data);
    } else {
        char t[32];
        fmt_time(num(j, "time", 0), t, sizeof t);
        printf("%s %-12s %s", t, type, ep[0] ? ep : "-");
        if (strcmp(type, "notification") == 0) {
            char *v = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "value"));
            printf(" %s = %s", str(j, "path"), v ? v : "?");
            free(v);
        } else if (strcmp(type, "audit") == 0) {
            printf(" %s: %s", str(j, "event"), str(j, "detail"));
        } else {
            const char *a = str(j, "action");
            printf(" %s", a[0] ? a : "");
            const char *why = str(j, "reason");
            if (why[0])
                printf(" (%s)", why);
        }
        putchar('\n');
    }
    fflush(stdout);
    cJSON_Delete(j);
}

static void stream_line(struct stream *s, char *line)
{
    if (line[0] == '\0') {
        if (s->data)
            print_event(s, s->event[0] ? s->event : "message", s->data);
        free(s->data);
        s->data = NULL;
        s->data_len = 0;
        s->event[0] = '\0';
        return;
    }
    if (line[0] == ':')
        return; /* comment: keep-alive */
    char *colon = strchr(line, ':');
    char *val = colon ? colon + 1 : line + strlen(line);
    if (colon)
        *colon = '\0';
    if (*val == ' ')
        val++;
    if (strcmp(line, "event") == 0) {
        snprintf(s->event, sizeof s->event, "%s", val);
    } else if (strcmp(line, "data") == 0) {
        size_t n = strlen(val);
        char *d = realloc(s->data, s->data_len + n + 2);
        if (!d)
            return;
        if (s->data_len)
            d[s->data_len++] = '\n';
        memcpy(d + s->data_len, val, n + 1);
        s->data = d;
        s->data_len += n;
    }
}

static size_t stream_write(char *data, size_t size, size_t nmemb, void *user)
{
    struct stream *s = user;
    size_t n = size * nmemb;
    for (size_t i = 0; i < n; i++) {
        char ch = data[i];
        if (ch == '\r')
            continue;
        if (ch == '\n') {
            s->line[s->n] = '\0';
            stream_line(s, s->line);
            s->n = 0;
            if (s->count && s->seen >= s->count)
                return 0; /* enough: ends the transfer */
            continue;
        }
        if (s->n + 1 < sizeof s->line)
            s->line[s->n++] = ch;
    }
    return n;
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)user, (void)dt, (void)dn, (void)ut, (void)un;
    return interrupted ? 1 : 0;
}

static int follow_events(struct ctx *c, long count, const char *ep, const char *path)
{
    CURL *h = curl_easy_init();
    if (!h)
        return fail(c, "cannot initialise libcurl");
    char *url = url_for(c, h, "/api/events", NULL, NULL);
    struct curl_slist *hdr = headers(c, false);
    hdr = curl_slist_append(hdr, "Accept: text/event-stream");
    static struct stream s;
    memset(&s, 0, sizeof s);
    s.c = c;
    s.count = count;
    s.filter_ep = ep;
    s.filter_path = path;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    CURLcode rc = url ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    int ret = 0;
    bool done = (count && s.seen >= count) || interrupted;
    if (status && (status < 200 || status >= 300)) {
        /* An error answer is JSON, collected as one "line". */
        s.line[s.n] = '\0';
        cJSON *j = cJSON_Parse(s.line);
        ret = fail(c, "%s (HTTP %ld)",
                   cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error"))
                       ? str(j, "error")
                       : "event stream refused",
                   status);
        cJSON_Delete(j);
    } else if (rc != CURLE_OK && !done) {
        ret = fail(c, "%s: %s", c->gateway, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    } else if (rc == CURLE_OK && !done) {
        ret = fail(c, "the gateway closed the event stream");
    }
    free(s.data);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(url);
    return ret;
}

static int parse_count(int argc, char **argv, const char *cmd, long *count, long *limit)
{
    static const struct option opts[] = {{"count", required_argument, NULL, 'c'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {0, 0, 0, 0}};
    int o;
    optind = 0; /* glibc: restart scanning from argv[1] */
    /* Options may come before or after EP and PATH. */
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        long v = optarg ? strtol(optarg, &end, 10) : 0;
        if ((o != 'c' && o != 'l') || (o == 'c' && !count) || (o == 'l' && !limit) || !end ||
            *end || v < 1 || v > 1000000)
            return usage_error("%s: bad option (see --help)", cmd);
        *(o == 'c' ? count : limit) = v;
    }
    return 0;
}

static int cmd_observe(struct ctx *c, int argc, char **argv)
{
    long count = 0;
    int ret = parse_count(argc, argv, "observe", &count, NULL);
    if (ret)
        return ret;
    if (argc - optind != 2)
        return usage_error("observe needs EP and PATH");
    const char *ep = argv[optind], *path = argv[optind + 1];
    struct reply r;
    ret = device_op(c, "POST", ep, path, "/observe", NULL, &r);
    if (ret)
        return ret;
    char norm[128];
    snprintf(norm, sizeof norm, "%s", str(r.json, "path"));
    if (c->json) {
        json_out(c, &r);
    } else {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r.json, "value");
        printf("observing %s %s", ep, norm);
        if (v) {
            char *s = cJSON_PrintUnformatted(v);
            printf(": %s", s ? s : "?");
            free(s);
        }
        putchar('\n');
    }
    fflush(stdout);
    reply_free(&r);
    return follow_events(c, count, ep, norm);
}

static int cmd_unobserve(struct ctx *c, const char *ep, const char *path)
{
    struct reply r;
    int ret = device_op(c, "DELETE", ep, path, "/observe", NULL, &r);
    if (ret)
        return ret;
    if (!json_out(c, &r))
        printf("%s %s: no longer observed\n", ep, str(r.json, "path"));
    reply_free(&r);
    return 0;
}

static int cmd_delete(struct ctx *c, const char *prefix, const char *ep, const char *what)
{
    struct reply r;
    int ret = request(c, "DELETE", prefix, ep, NULL, NULL, &r);
    if (ret)
        return ret;
    if (!(ret = check(c, &r)) && !json_out(c, &r))
        printf("%s: %s\n", ep, what);
    reply_free(&r);
    return ret;
}

static int cmd_reset(struct ctx *c, const char *ep)
{
    struct reply r;
    int ret = request(c, "POST", "/api/devices", ep, "/reset", NULL, &r);
    if (ret)
        return ret;
    if (!(ret = check(c, &r)) && !json_out(c, &r))
        printf("%s: factory reset done; its operational credentials are revoked\n", ep);
    reply_free(&r);
    return ret;
}

static int cmd_audit(struct ctx *c, int argc, char **argv)
{
    long limit = 50;
    int ret = parse_count(argc, argv, "audit", NULL, &limit);
    if (ret)
        return ret;
    if (argc - optind > 1)
        return usage_error("audit takes at most one endpoint");
    CURL *h = curl_easy_init();
    char *esc = h && argc - optind == 1 ? curl_easy_escape(h, argv[optind], 0) : NULL;
    char rest[256];
    snprintf(rest, sizeof rest, "?limit=%ld%s%s", limit, esc ? "&endpoint=" : "", esc ? esc : "");
    curl_free(esc);
    if (h)
        curl_easy_cleanup(h);
    struct reply r;
    ret = simple_get(c, "/api/audit", NULL, rest, &r);
    if (ret || json_out(c, &r)) {
        reply_free(&r);
        return ret;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r.json, "audit"), *a;
    cJSON_ArrayForEach(a, list)
    {
        char t[32];
        fmt_time(num(a, "time", 0), t, sizeof t);
        const char *ep = str(a, "endpoint");
        printf("%s %-20s %-22s %s\n", t, ep[0] ? ep : "-", str(a, "event"), str(a, "detail"));
    }
    reply_free(&r);
    return 0;
}

static int cmd_status(struct ctx *c)
{
    struct reply r;
    int ret = simple_get(c, "/api/status", NULL, NULL, &r);
    if (ret || json_out(c, &r)) {
        reply_free(&r);
        return ret;
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(r.json, "bootstrap");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(r.json, "server");
    printf("gateway:          %s (version %s)\napproval:         %s\n"
           "bootstrap server: %s\nlwm2m server:     %s\n",
           c->gateway, str(r.json, "version"), str(r.json, "approval"), str(b, "status"),
           str(s, "status"));
    reply_free(&r);
    return 0;
}

/* ---- main ------------------------------------------------------------------------------ */

static int need(int have, int want, const char *cmd, const char *args)
{
    if (have != want)
        return usage_error("%s needs %s", cmd, args);
    return 0;
}

static int dispatch(struct ctx *c, int argc, char **argv)
{
    const char *cmd = argv[0];
    c->what = cmd;
    int rc;
    /* Commands with their own options parse argv themselves (from index 1). */
    if (strcmp(cmd, "scan") == 0)
        return cmd_scan(c, argc, argv);
    if (strcmp(cmd, "observe") == 0)
        return cmd_observe(c, argc, argv);
    if (strcmp(cmd, "audit") == 0)
        return cmd_audit(c, argc, argv);
    if (strcmp(cmd, "events") == 0) {
        long count = 0;
        if ((rc = parse_count(argc, argv, "events", &count, NULL)))
            return rc;
        if (optind != argc)
            return usage_error("events takes no arguments");
        return follow_events(c, count, NULL, NULL);
    }
    char **a = argv + 1;
    int n = argc - 1;
    if (strcmp(cmd, "labels") == 0)
        return (rc = need(n, 0, cmd, "no arguments")) ? rc : cmd_labels(c);
    if (strcmp(cmd, "delete-label") == 0)
        return (rc = need(n, 1, cmd, "EP")) ? rc : cmd_delete(c, "/api/oob", a[0], "label deleted");
    if (strcmp(cmd, "pending") == 0)
        return (rc = need(n, 0, cmd, "no arguments")) ? rc : cmd_pending(c);
    if (strcmp(cmd, "approve") == 0 || strcmp(cmd, "deny") == 0)
        return (rc = need(n, 1, cmd, "EP")) ? rc : cmd_decide(c, a[0], cmd[0] == 'a');
    if (strcmp(cmd, "devices") == 0)
        return (rc = need(n, 0, cmd, "no arguments")) ? rc : cmd_devices(c);
    if (strcmp(cmd, "device") == 0)
        return (rc = need(n, 1, cmd, "EP")) ? rc : cmd_device(c, a[0]);
    if (strcmp(cmd, "read") == 0)
        return (rc = need(n, 2, cmd, "EP PATH")) ? rc : cmd_read(c, a[0], a[1]);
    if (strcmp(cmd, "write") == 0)
        return (rc = need(n, 3, cmd, "EP PATH VALUE")) ? rc : cmd_write(c, a[0], a[1], a[2]);
    if (strcmp(cmd, "exec") == 0) {
        if (n != 2 && n != 3)
            return usage_error("exec needs EP PATH [ARGS]");
        return cmd_exec(c, a[0], a[1], n == 3 ? a[2] : NULL);
    }
    if (strcmp(cmd, "unobserve") == 0)
        return (rc = need(n, 2, cmd, "EP PATH")) ? rc : cmd_unobserve(c, a[0], a[1]);
    if (strcmp(cmd, "reset") == 0)
        return (rc = need(n, 1, cmd, "EP")) ? rc : cmd_reset(c, a[0]);
    if (strcmp(cmd, "remove") == 0)
        return (rc = need(n, 1, cmd, "EP"))
                   ? rc
                   : cmd_delete(c, "/api/devices", a[0], "removed; its credentials are revoked");
    if (strcmp(cmd, "status") == 0)
        return (rc = need(n, 0, cmd, "no arguments")) ? rc : cmd_status(c);
    return usage_error("unknown command: %s", cmd);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"gateway", required_argument, NULL, 'g'},
        {"token-file", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct ctx c = {.timeout = 60, .what = "duckling"};
    c.gateway = getenv("DUCKLING_GATEWAY");
    if (!c.gateway || !*c.gateway)
        c.gateway = "http://127.0.0.1:8080";
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
        switch (o) {
        case 'g':
            c.gateway = optarg;
            break;
        case 't':
            c.token_file = optarg;
            break;
        case 'j':
            c.json = true;
            break;
        case 'T': {
            char *end = NULL;
            c.timeout = strtol(optarg, &end, 10);
            if (!end || *end || c.timeout < 1 || c.timeout > 86400)
                return usage_error("--timeout: '%s' is not a number of seconds", optarg);
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf(PROG " %s\n", DK_VERSION);
            return 0;
        default:
            return usage_error("unknown option or missing argument: %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("no command given");
    if (strncmp(c.gateway, "http://", 7) != 0 && strncmp(c.gateway, "https://", 8) != 0)
        return usage_error("--gateway: '%s' is not an http:// or https:// URL", c.gateway);
    int rc = read_token(&c);
    if (rc)
        return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, PROG ": cannot initialise libcurl\n");
        return 1;
    }
    /* Sub-commands see argv from the command name on. */
    rc = dispatch(&c, argc - optind, argv + optind);
    memset(c.token, 0, sizeof c.token);
    curl_global_cleanup();
    return rc;
}
