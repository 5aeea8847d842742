/* duckling-gateway: options, data directory, admin token, database, the
 * HTTP API in the poll loop, clean exit on SIGTERM/SIGINT. */
#include "gateway_main.h"

#include <duckling/err.h>
#include <duckling/gwdb.h>
#include <duckling/mem.h>
#include <duckling/rng.h>
#include <duckling/version.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "duckling-gateway"

static void usage(FILE *f)
{
    fprintf(
        f, "Usage: " PROG " --data DIR [options]\n"
           "\n"
           "The duckling gateway: LwM2M Bootstrap Server, LwM2M Server and the HTTP REST\n"
           "API (docs/api.md) in one process.\n"
           "\n"
           "  --data DIR            data directory (created 0700): gateway.db, admin.token\n"
           "  --listen ADDR         address to listen on (default 127.0.0.1; \"::\" for all)\n"
           "  --http-port N         REST API and web UI port (default 8080; 0: any free port)\n"
           "  --www DIR             serve the web UI from DIR (default: ../share/duckling/web\n"
           "                        next to the program, else the source tree's web/ folder;\n"
           "                        \"none\": a placeholder page)\n"
           "  --map-tiles URL       map tile URL template for the web UI's map, e.g.\n"
           "                        https://tile.example.org/{z}/{x}/{y}.png (default: none,\n"
           "                        the map plots coordinates without tiles)\n"
           "  --approval POLICY     manual (default): the user approves each device;\n"
           "                        auto: scanning the label is the approval\n"
           "  --pending-ttl S       seconds a bootstrap request waits for approval (default 600)\n"
           "  --op-timeout S        seconds an API call waits for a device (default 30)\n"
           "  --bs-port N           Bootstrap Server port, coaps (default 5784; 0: any free)\n"
           "  --server-port N       LwM2M Server port, coaps (default 5684; 0: any free)\n"
           "  --no-bootstrap        do not run the Bootstrap Server\n"
           "  --no-server           do not run the LwM2M Server\n"
           "  --nosec               also open the plain CoAP ports for devices with\n"
           "                        credential type 00 (no security)\n"
           "  --bs-nosec-port N     plain Bootstrap Server port (default 5783; 0: any free)\n"
           "  --server-nosec-port N plain LwM2M Server port (default 5683; 0: any free)\n"
           "  --advertise HOST      address devices reach the gateway at, written in the\n"
           "                        Server URI by bootstrap (default: the --listen address)\n"
           "  --server-uri URI      LwM2M Server URI written by bootstrap instead of ours\n"
           "  --home-ssid S         home network written to WIFI devices (object 12)\n"
           "  --home-psk P          its WPA2 passphrase\n"
           "  --log-level L         error, warn, info (default), debug\n"
           "  -h, --help            show this help\n"
           "  -V, --version         show the version\n"
           "\n"
           "Files in DIR: gateway.db (SQLite, 0600), admin.token (0600), ca.key (0600) and\n"
           "ca.crt (the gateway CA, made at first start), ports (the bound ports).\n"
           "On stdout: the admin token when it is created, then one line per listening\n"
           "socket (\"listening on http://...\", \"bootstrap server listening on coaps://...\").\n"
           "\n"
           "Exit status: 0 on a clean shutdown (SIGTERM, SIGINT), 1 on failure, 2 on bad usage.\n");
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '" PROG " --help'.\n");
    return 2;
}

static bool parse_u16(const char *s, bool allow_zero, uint16_t *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || !*s || v < (allow_zero ? 0 : 1) || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

static bool parse_seconds(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || !*s || v < min || v > max)
        return false;
    *out = v;
    return true;
}

enum {
    OPT_DATA = 256,
    OPT_LISTEN,
    OPT_HTTP_PORT,
    OPT_BS_PORT,
    OPT_SERVER_PORT,
    OPT_WWW,
    OPT_MAP_TILES,
    OPT_APPROVAL,
    OPT_PENDING_TTL,
    OPT_OP_TIMEOUT,
    OPT_NO_BOOTSTRAP,
    OPT_NO_SERVER,
    OPT_NOSEC,
    OPT_HOME_SSID,
    OPT_HOME_PSK,
    OPT_LOG_LEVEL,
    OPT_BS_NOSEC_PORT,
    OPT_SERVER_NOSEC_PORT,
    OPT_ADVERTISE,
    OPT_SERVER_URI,
};

/* Returns -1 to go on, or an exit status. */
static int parse_options(int argc, char **argv, struct gw_options *o)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"http-port", required_argument, NULL, OPT_HTTP_PORT},
        {"bs-port", required_argument, NULL, OPT_BS_PORT},
        {"server-port", required_argument, NULL, OPT_SERVER_PORT},
        {"www", required_argument, NULL, OPT_WWW},
        {"map-tiles", required_argument, NULL, OPT_MAP_TILES},
        {"approval", required_argument, NULL, OPT_APPROVAL},
        {"pending-ttl", required_argument, NULL, OPT_PENDING_TTL},
        {"op-timeout", required_argument, NULL, OPT_OP_TIMEOUT},
        {"no-bootstrap", no_argument, NULL, OPT_NO_BOOTSTRAP},
        {"no-server", no_argument, NULL, OPT_NO_SERVER},
        {"nosec", no_argument, NULL, OPT_NOSEC},
        {"home-ssid", required_argument, NULL, OPT_HOME_SSID},
        {"home-psk", required_argument, NULL, OPT_HOME_PSK},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"bs-nosec-port", required_argument, NULL, OPT_BS_NOSEC_PORT},
        {"server-nosec-port", required_argument, NULL, OPT_SERVER_NOSEC_PORT},
        {"advertise", required_argument, NULL, OPT_ADVERTISE},
        {"server-uri", required_argument, NULL, OPT_SERVER_URI},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct gw_options){
        .listen = "127.0.0.1",
        .http_port = 8080,
        .bs_port = 5784,
        .server_port = 5684,
        .bs_port_nosec = 5783,
        .server_port_nosec = 5683,
        .approval = DK_GW_APPROVAL_MANUAL,
        .pending_ttl = 600,
        .op_timeout = 30,
        .log_level = DK_LOG_INFO,
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_DATA:
            o->data_dir = optarg;
            break;
        case OPT_LISTEN:
            o->listen = optarg;
            break;
        case OPT_HTTP_PORT:
            if (!parse_u16(optarg, true, &o->http_port))
                return usage_error("--http-port: '%s' is not a port number (0-65535)", optarg);
            break;
        case OPT_BS_PORT:
            if (!parse_u16(optarg, true, &o->bs_port))
                return usage_error("--bs-port: '%s' is not a port number (0-65535)", optarg);
            break;
        case OPT_SERVER_PORT:
            if (!parse_u16(optarg, true, &o->server_port))
                return usage_error("--server-port: '%s' is not a port number (0-65535)", optarg);
            break;
        case OPT_BS_NOSEC_PORT:
            if (!parse_u16(optarg, true, &o->bs_port_nosec))
                return usage_error("--bs-nosec-port: '%s' is not a port number (0-65535)", optarg);
            break;
        case OPT_SERVER_NOSEC_PORT:
            if (!parse_u16(optarg, true, &o->server_port_nosec))
                return usage_error("--server-nosec-port: '%s' is not a port number (0-65535)",
                                   optarg);
            break;
        case OPT_ADVERTISE:
            if (!*optarg || strlen(optarg) > 200 || strpbrk(optarg, "/[]@ "))
                return usage_error("--advertise: '%s' is not a host name or address", optarg);
            o->advertise = optarg;
            break;
        case OPT_SERVER_URI:
            if ((strncmp(optarg, "coap://", 7) != 0 && strncmp(optarg, "coaps://", 8) != 0) ||
                strlen(optarg) > 255)
                return usage_error("--server-uri: '%s' is not a coap:// or coaps:// URI", optarg);
            o->server_uri = optarg;
            break;
        case OPT_WWW:
            o->www_dir = optarg;
            break;
        case OPT_MAP_TILES:
            o->map_tiles = optarg;
            break;
        case OPT_APPROVAL:
            if (strcmp(optarg, "manual") == 0)
                o->approval = DK_GW_APPROVAL_MANUAL;
            else if (strcmp(optarg, "auto") == 0)
                o->approval = DK_GW_APPROVAL_AUTO;
            else
                return usage_error("--approval: '%s' is neither manual nor auto", optarg);
            break;
        case OPT_PENDING_TTL:
            if (!parse_seconds(optarg, 1, 86400 * 30, &o->pending_ttl))
                return usage_error("--pending-ttl: '%s' is not a number of seconds (1-2592000)",
                                   optarg);
            break;
        case OPT_OP_TIMEOUT:
            if (!parse_seconds(optarg, 1, 3600, &o->op_timeout))
                return usage_error("--op-timeout: '%s' is not a number of seconds (1-3600)",
                                   optarg);
            break;
        case OPT_NO_BOOTSTRAP:
            o->no_bootstrap = true;
            break;
        case OPT_NO_SERVER:
            o->no_server = true;
            break;
        case OPT_NOSEC:
            o->nosec = true;
            break;
        case OPT_HOME_SSID:
            o->home_ssid = optarg;
            break;
        case OPT_HOME_PSK:
            o->home_psk = optarg;
            break;
        case OPT_LOG_LEVEL:
            if (dk_log_level_parse(optarg, &o->log_level) != 0)
                return usage_error("--log-level: '%s' is not error, warn, info or debug", optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf(PROG " %s\n", DK_VERSION);
            return 0;
        default:
            if (optopt)
                return usage_error("unknown option or missing argument: -%c",
                                   (char[]){(char)optopt, 0});
            return usage_error("unknown option or missing argument: %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument: %s", argv[optind]);
    if (!o->data_dir)
        return usage_error("%s", "--data DIR is required");
    if (!!o->home_ssid != !!o->home_psk)
        return usage_error("%s", "--home-ssid and --home-psk go together");
    if (o->home_ssid && (strlen(o->home_ssid) == 0 || strlen(o->home_ssid) > 32))
        return usage_error("--home-ssid: '%s' must be 1 to 32 characters", o->home_ssid);
    if (o->home_psk && (strlen(o->home_psk) < 8 || strlen(o->home_psk) > 63))
        return usage_error("%s", "--home-psk: a WPA2 passphrase has 8 to 63 characters");
    return -1;
}

static bool has_index(const char *dir)
{
    char path[4096];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s/index.html", dir);
    return n > 0 && (size_t)n < sizeof path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The web UI folder: --www DIR; else share/duckling/web installed next to
 * the program's bin/; else the source tree's web/ (baked in at build time,
 * for running from the build tree); else none (the built-in placeholder). */
static const char *find_web_dir(const char *given, char *buf, size_t cap)
{
    if (given)
        return strcmp(given, "none") == 0 ? NULL : given;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int w = snprintf(buf, cap, "%s/../share/duckling/web", exe);
            if (w > 0 && (size_t)w < cap && has_index(buf))
                return buf;
        }
    }
#ifdef DK_WEB_DIR
    if (has_index(DK_WEB_DIR))
        return DK_WEB_DIR;
#endif
    return NULL;
}

/* The data directory holds keys: create it 0700, refuse a non-directory. */
static int prepare_data_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, PROG ": cannot create data directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, PROG ": %s: not a directory\n", dir);
        return -1;
    }
    if (st.st_mode & 077)
        fprintf(stderr, PROG ": warning: data directory %s is accessible by other users\n", dir);
    return 0;
}

/* One gateway per data directory: SQLite would cope, the UDP ports and the
 * token's "shown once" promise would not. */
static int lock_data_dir(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/gateway.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, PROG ": %s: another duckling-gateway is using this data directory\n", dir);
        close(fd);
        return -1;
    }
    return fd;
}

struct run_ctx {
    struct dk_loop *loop;
    int signal;
};

static void on_signal(void *user, int sig, short revents, dk_time_t now)
{
    (void)revents;
    (void)now;
    struct run_ctx *r = user;
    r->signal = sig;
    dk_loop_stop(r->loop);
}

static void report_engines(const struct gw_options *o, const struct dk_gw_config *cfg)
{
    if (o->no_bootstrap)
        fprintf(stderr, PROG ": bootstrap server: off (--no-bootstrap)\n");
    else if (!cfg->bs_ops)
        fprintf(stderr,
                PROG ": bootstrap server: not available yet in this build; port %u not opened\n",
                (unsigned)o->bs_port);
    if (o->no_server)
        fprintf(stderr, PROG ": lwm2m server: off (--no-server)\n");
    else if (!cfg->dev_ops)
        fprintf(stderr, PROG ": lwm2m server: %s; device operations answer 503\n",
                cfg->server_status ? cfg->server_status : "not available yet in this build");
    if (o->home_ssid && !cfg->bs_ops)
        fprintf(stderr, PROG ": --home-ssid: kept for the Bootstrap Server, which is not "
                             "running\n");
}

int gw_main(int argc, char **argv, const struct gw_engines *engines)
{
    struct gw_options opt;
    int rc = parse_options(argc, argv, &opt);
    if (rc >= 0)
        return rc;
    signal(SIGPIPE, SIG_IGN);

    struct dk_log log;
    dk_log_init_stderr(&log, opt.log_level);
    if (prepare_data_dir(opt.data_dir) != 0)
        return 1;
    int lock_fd = lock_data_dir(opt.data_dir);
    if (lock_fd < 0)
        return 1;

    int status = 1;
    struct dk_rng rng;
    struct dk_gwdb db;
    struct dk_loop loop;
    struct dk_gw gw;
    char token[DK_GW_TOKEN_HEX + 1];
    bool created = false;
    bool engines_prepared = false;
    dk_rng_init(&rng);
    dk_gwdb_init(&db);
    dk_loop_init(&loop);
    dk_gw_init(&gw);

    int err = dk_rng_setup(&rng, PROG, sizeof PROG - 1);
    if (err) {
        fprintf(stderr, PROG ": random number generator: %s\n", dk_strerror(err));
        goto out;
    }
    err = dk_gw_token_load_or_create(opt.data_dir, &rng, token, &created);
    if (err) {
        fprintf(stderr, PROG ": %s/admin.token: %s%s\n", opt.data_dir, dk_strerror(err),
                err == DK_EPERM ? " (it must be a regular file with mode 0600)" : "");
        goto out;
    }
    char dbpath[4096];
    char webbuf[4096];
    const char *web_dir = find_web_dir(opt.www_dir, webbuf, sizeof webbuf);
    snprintf(dbpath, sizeof dbpath, "%s/gateway.db", opt.data_dir);
    err = dk_gwdb_open(&db, dbpath, &log);
    if (err) {
        fprintf(stderr, PROG ": %s: %s\n", dbpath, dk_strerror(err));
        goto out;
    }

    struct dk_gw_config cfg = {
        .db = &db,
        .token = token,
        .listen = opt.listen,
        .port = opt.http_port,
        .www_dir = web_dir,
        .map_tiles = opt.map_tiles,
        .rng = &rng,
        .op_timeout_ms = opt.op_timeout * 1000,
        .approval = opt.approval,
        .pending_ttl = opt.pending_ttl,
        .log = &log,
        .bootstrap_status =
            opt.no_bootstrap ? "off (--no-bootstrap)" : "not available yet in this build",
        .server_status = opt.no_server ? "off (--no-server)" : "not available yet in this build",
    };
    if (engines && engines->prepare) {
        engines_prepared = true;
        err = engines->prepare(engines->self, &opt, &cfg);
        if (err) {
            fprintf(stderr, PROG ": %s engines: %s\n", engines->name, dk_strerror(err));
            goto out;
        }
    }
    err = dk_gw_setup(&gw, &cfg);
    if (err) {
        fprintf(stderr, PROG ": HTTP on %s port %u: %s\n", opt.listen, (unsigned)opt.http_port,
                err == DK_EINVAL ? "bad listen address or --map-tiles URL"
                                 : "cannot listen (port in use?)");
        goto out;
    }
    struct run_ctx run = {&loop, 0};
    static const int sigs[] = {SIGTERM, SIGINT, 0};
    err = dk_loop_watch_signals(&loop, sigs, on_signal, &run);
    if (!err)
        err = dk_gw_attach(&gw, &loop);
    if (err) {
        fprintf(stderr, PROG ": event loop: %s\n", dk_strerror(err));
        goto out;
    }
    if (engines && engines->start) {
        err = engines->start(engines->self, &gw, &loop);
        if (err) {
            fprintf(stderr, PROG ": %s engines: %s\n", engines->name, dk_strerror(err));
            goto out;
        }
    }

    if (created) {
        /* Shown once: afterwards it is only in the file (mode 0600). */
        printf("admin token (shown once; kept in %s/admin.token, mode 0600):\n%s\n", opt.data_dir,
               token);
    }
    report_engines(&opt, &cfg);
    fprintf(stderr, PROG ": web UI: %s\n", web_dir ? web_dir : "none found (placeholder page)");
    const char *host = opt.listen;
    bool v6 = strchr(host, ':') != NULL;
    printf("listening on http://%s%s%s:%u/\n", v6 ? "[" : "", host, v6 ? "]" : "",
           (unsigned)dk_gw_port(&gw));
    fflush(stdout);
    dk_gw_audit(&gw, NULL, "gateway.started", "version %s, approval %s", DK_VERSION,
                opt.approval == DK_GW_APPROVAL_AUTO ? "auto" : "manual");

    err = dk_loop_run(&loop);
    if (err) {
        fprintf(stderr, PROG ": event loop: %s\n", dk_strerror(err));
        goto out;
    }
    dk_gw_audit(&gw, NULL, "gateway.stopped", "signal %d", run.signal);
    fprintf(stderr, PROG ": stopping (%s)\n", run.signal == SIGINT ? "SIGINT" : "SIGTERM");
    status = 0;
out:
    if (engines_prepared && engines->stop)
        engines->stop(engines->self);
    dk_gw_free(&gw);
    dk_loop_free(&loop);
    dk_gwdb_close(&db);
    dk_rng_free(&rng);
    dk_memzero(token, sizeof token);
    close(lock_fd);
    return status;
}
