/* duckling-factory — the manufacturing station (DESIGN §1, issue 4). */
#include "factory.h"

#include <duckling/err.h>
#include <duckling/hex.h>
#include <duckling/mem.h>
#include <duckling/qr.h>
#include <duckling/version.h>

#include <cjson/cJSON.h>
#include <mbedtls/sha256.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_USAGE 2

static const char usage_text[] =
    "Usage: " PROG " [--help] [--version] COMMAND [OPTIONS]\n"
    "\n"
    "Manufacturing station: makes a device's bootstrap credentials, its factory\n"
    "store and its OOB label (text, PNG and SVG QR code).\n"
    "\n"
    "Commands:\n"
    "  new   --type T --cred none|psk|rpk|x509 --out DIR [--endpoint EP]\n"
    "        [--channel wifi|none|ble|zigbee] [--ap-ssid SSID] [--bs-uri URI]\n"
    "        [--ca CERT --ca-key KEY]\n"
    "        Make one device in DIR: factory.store, label.txt, label.png, label.svg,\n"
    "        cert.der and cert.pem (x509), pubkey.der (rpk).\n"
    "  batch --count N --type T --cred C --out DIR [--channel ...] [--bs-uri URI]\n"
    "        [--ca CERT --ca-key KEY]\n"
    "        A production run: DIR/<endpoint>/ per device and DIR/manifest.csv\n"
    "        (endpoint, type, cred, cred_hash, label_sha256; no secrets).\n"
    "  oob parse TEXT   Print the fields of an OOB message as JSON ('-': stdin).\n"
    "  oob check DIR    Recompute the label from DIR/factory.store and compare it\n"
    "                   with DIR/label.txt.\n"
    "  show DIR         Print DIR/factory.store without its secrets.\n"
    "  qr TEXT [--ascii|--invert]\n"
    "                   Draw TEXT as a QR code in the terminal.\n"
    "\n"
    "Defaults: a generated endpoint dk-<16 hex digits> (64 random bits), channel\n"
    "wifi with SSID duckling-<endpoint> and a random 128-bit WPA2 PSK, Bootstrap\n"
    "Server coaps://127.0.0.1:5784 (coap://127.0.0.1:5783 for --cred none),\n"
    "128-bit PSKs, P-256 keys, self-signed certificates with CN = endpoint.\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 bad usage.\n";

static int usage_error(const char *what, const char *why)
{
    report(what, "%s", why);
    fprintf(stderr, "Try '%s --help'.\n", PROG);
    return EXIT_USAGE;
}

static bool printable(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

/* ---- new and batch ---- */

enum { OPT_ENDPOINT = 256, OPT_TYPE, OPT_CRED, OPT_CHANNEL, OPT_AP_SSID, OPT_BS_URI, OPT_CA,
       OPT_CA_KEY, OPT_OUT, OPT_COUNT };

static const struct option make_options[] = {
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},
    {"type", required_argument, NULL, OPT_TYPE},
    {"cred", required_argument, NULL, OPT_CRED},
    {"channel", required_argument, NULL, OPT_CHANNEL},
    {"ap-ssid", required_argument, NULL, OPT_AP_SSID},
    {"bs-uri", required_argument, NULL, OPT_BS_URI},
    {"ca", required_argument, NULL, OPT_CA},
    {"ca-key", required_argument, NULL, OPT_CA_KEY},
    {"out", required_argument, NULL, OPT_OUT},
    {"count", required_argument, NULL, OPT_COUNT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Parses new/batch options. Returns 0, or an exit status (help: -1). */
static int parse_make_options(int argc, char **argv, bool batch, struct factory_opts *o,
                              long *count)
{
    const char *cmd = batch ? "batch" : "new", *cred = NULL, *channel = "wifi";
    int c;
    memset(o, 0, sizeof *o);
    *count = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", make_options, NULL)) != -1) {
        switch (c) {
        case OPT_ENDPOINT: o->endpoint = optarg; break;
        case OPT_TYPE: o->type = optarg; break;
        case OPT_CRED: cred = optarg; break;
        case OPT_CHANNEL: channel = optarg; break;
        case OPT_AP_SSID: o->ap_ssid = optarg; break;
        case OPT_BS_URI: o->bs_uri = optarg; break;
        case OPT_CA: o->ca_cert = optarg; break;
        case OPT_CA_KEY: o->ca_key = optarg; break;
        case OPT_OUT: o->out = optarg; break;
        case OPT_COUNT: {
            char *end;
            errno = 0;
            *count = strtol(optarg, &end, 10);
            if (errno || *end || *count < 1 || *count > 1000000)
                return usage_error(cmd, "--count must be a number from 1 to 1000000");
            break;
        }
        case 'h': fputs(usage_text, stdout); return -1;
        default: return usage_error(cmd, "unknown option");
        }
    }
    if (optind < argc)
        return usage_error(cmd, "unexpected argument");
    if (batch && (o->endpoint || o->ap_ssid))
        return usage_error(cmd, "--endpoint and --ap-ssid are per device: use 'new'");
    if (!batch && *count)
        return usage_error(cmd, "--count belongs to 'batch'");
    if (batch && !*count)
        return usage_error(cmd, "--count is required");
    if (!o->type || !cred || !o->out)
        return usage_error(cmd, "--type, --cred and --out are required");
    if (!printable(o->type, DK_OOB_TYPE_MAX))
        return usage_error("--type", "must be 1 to 32 printable ASCII characters");
    if (dk_oob_cred_from_name(cred, &o->cred) != 0)
        return usage_error("--cred", "must be none, psk, rpk or x509");
    if (dk_oob_channel_from_name(channel, &o->channel) != 0)
        return usage_error("--channel", "must be wifi, none, ble or zigbee");
    if (o->endpoint && !printable(o->endpoint, DK_OOB_ENDPOINT_MAX))
        return usage_error("--endpoint", "must be 1 to 64 printable ASCII characters");
    if (o->endpoint && o->cred == DK_OOB_CRED_X509 && strchr(o->endpoint, '\\'))
        return usage_error("--endpoint", "a certificate's CN cannot hold '\\' here");
    if (o->ap_ssid && o->channel != DK_OOB_CHANNEL_WIFI)
        return usage_error("--ap-ssid", "needs --channel wifi");
    if (o->ap_ssid && !printable(o->ap_ssid, DK_OOB_SSID_MAX))
        return usage_error("--ap-ssid", "must be 1 to 32 printable ASCII characters");
    if (o->bs_uri) {
        const char *scheme = o->cred == DK_OOB_CRED_NONE ? "coap://" : "coaps://";
        if (!printable(o->bs_uri, DK_STORE_URI_MAX) ||
            strncmp(o->bs_uri, scheme, strlen(scheme)) != 0 || !o->bs_uri[strlen(scheme)])
            return usage_error("--bs-uri", o->cred == DK_OOB_CRED_NONE
                                               ? "must be coap://HOST[:PORT] for --cred none"
                                               : "must be coaps://HOST[:PORT] for a secure "
                                                 "credential");
    }
    if (!o->ca_cert != !o->ca_key)
        return usage_error("--ca", "--ca and --ca-key go together");
    if (o->ca_cert && o->cred != DK_OOB_CRED_X509)
        return usage_error("--ca", "only with --cred x509");
    return 0;
}

static int setup_run(const struct factory_opts *o, struct factory_ca *ca, struct dk_rng *rng)
{
    factory_ca_init(ca);
    dk_rng_init(rng);
    if (dk_rng_setup(rng, PROG, strlen(PROG)) != 0) {
        report("random", "cannot seed the CSPRNG from getrandom");
        return 1;
    }
    if (o->ca_cert && factory_ca_load(ca, o->ca_cert, o->ca_key) != 0)
        return 1;
    return 0;
}

static void sync_dir(const char *dir)
{
    /* One sync for the run; factory.store itself was fsynced when written. */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
}

static int cmd_new(int argc, char **argv)
{
    struct factory_opts o;
    struct factory_ca ca;
    struct dk_rng rng;
    struct device_summary sum;
    long count;
    int rc = parse_make_options(argc, argv, false, &o, &count);
    if (rc)
        return rc < 0 ? 0 : rc;
    rc = setup_run(&o, &ca, &rng);
    char endpoint[DK_OOB_ENDPOINT_MAX + 1];
    if (rc == 0 && !o.endpoint && make_endpoint(&rng, endpoint) != 0) {
        report("random", "the CSPRNG failed");
        rc = 1;
    }
    if (rc == 0)
        rc = make_device(&o, &ca, &rng, o.out, o.endpoint ? o.endpoint : endpoint, &sum) ? 1 : 0;
    if (rc == 0) {
        sync_dir(o.out);
        printf("%s\n", sum.endpoint);
    }
    factory_ca_free(&ca);
    dk_rng_free(&rng);
    return rc;
}

/* RFC 4180 field: quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_manifest(const struct factory_opts *o, const struct device_summary *sums,
                          long n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.csv", o->out);
    FILE *f = fopen(path, "w");
    if (!f) {
        report(path, "cannot write: %s", strerror(errno));
        return 1;
    }
    fputs("endpoint,type,cred,cred_hash,label_sha256\n", f);
    for (long i = 0; i < n; i++) {
        csv_field(f, sums[i].endpoint);
        fputc(',', f);
        csv_field(f, o->type);
        fprintf(f, ",%s,%s,%s\n", dk_oob_cred_name(o->cred), sums[i].cred_hash,
                sums[i].label_sha256);
    }
    if (fclose(f) != 0) {
        report(path, "cannot write: %s", strerror(errno));
        return 1;
    }
    return 0;
}

/* Creates OUT/<endpoint> for a fresh endpoint; the directory itself is the
 * uniqueness check (mkdir fails on a repeat). */
static int claim_endpoint(const char *out, struct dk_rng *rng, char *endpoint, char *dir,
                          size_t cap)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        if (make_endpoint(rng, endpoint) != 0) {
            report("random", "the CSPRNG failed");
            return -1;
        }
        snprintf(dir, cap, "%s/%s", out, endpoint);
        if (mkdir(dir, 0755) == 0)
            return 0;
        if (errno != EEXIST) {
            report(dir, "cannot create directory: %s", strerror(errno));
            return -1;
        }
    }
    report("endpoint", "could not find an unused endpoint name");
    return -1;
}

static int cmd_batch(int argc, char **argv)
{
    struct factory_opts o;
    struct factory_ca ca;
    struct dk_rng rng;
    long count, made = 0;
    int rc = parse_make_options(argc, argv, true, &o, &count);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct device_summary *sums = calloc((size_t)count, sizeof *sums);
    if (!sums) {
        report("batch", "out of memory");
        return 1;
    }
    rc = setup_run(&o, &ca, &rng);
    if (rc == 0 && mkdir(o.out, 0755) != 0 && errno != EEXIST) {
        report(o.out, "cannot create directory: %s", strerror(errno));
        rc = 1;
    }
    char endpoint[DK_OOB_ENDPOINT_MAX + 1], dir[4096];
    for (; rc == 0 && made < count; made++) {
        if (claim_endpoint(o.out, &rng, endpoint, dir, sizeof dir) != 0 ||
            make_device(&o, &ca, &rng, dir, endpoint, &sums[made]) != 0)
            rc = 1;
    }
    if (rc)
        made--; /* the failed one is not in the manifest */
    /* The manifest lists what was made, even when the run stopped early. */
    if (made > 0 || rc == 0) {
        int mrc = write_manifest(&o, sums, made);
        rc = rc ? rc : mrc;
    }
    sync_dir(o.out);
    if (rc == 0)
        printf("%ld devices in %s\n", made, o.out);
    else
        fprintf(stderr, "%s: batch: stopped after %ld devices\n", PROG, made);
    free(sums);
    factory_ca_free(&ca);
    dk_rng_free(&rng);
    return rc;
}

/* ---- oob parse / check ---- */

static void hex_item(cJSON *obj, const char *name, const uint8_t *p, size_t n)
{
    char hex[2 * DK_OOB_CRED_MAX + 1];
    dk_hex_encode(hex, sizeof hex, p, n);
    cJSON_AddStringToObject(obj, name, hex);
    dk_memzero(hex, sizeof hex);
}

static int print_oob_json(const struct dk_oob_msg *m)
{
    static const char *const codes[] = {"00", "01", "02", "03"};
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", DK_OOB_VERSION);
    cJSON_AddStringToObject(root, "endpoint", m->endpoint);
    cJSON_AddStringToObject(root, "type", m->type);
    cJSON_AddStringToObject(root, "channel", dk_oob_channel_name(m->channel));
    if (m->has_wifi_ap) {
        cJSON *ap = cJSON_AddObjectToObject(root, "channel_credentials");
        cJSON_AddStringToObject(ap, "security", "WPA2-PSK");
        cJSON_AddStringToObject(ap, "ssid", m->ssid);
        hex_item(ap, "psk", m->wifi_psk, m->wifi_psk_len);
    } else {
        cJSON_AddNullToObject(root, "channel_credentials");
    }
    cJSON_AddStringToObject(root, "cred_type", dk_oob_cred_name(m->cred_type));
    cJSON_AddStringToObject(root, "cred_type_code", codes[m->cred_type]);
    hex_item(root, "cred_value", m->cred, m->cred_len);
    char *text = cJSON_Print(root);
    int rc = text ? 0 : 1;
    if (text) {
        puts(text);
        dk_memzero(text, strlen(text));
        cJSON_free(text);
    } else {
        report("oob", "out of memory");
    }
    cJSON_Delete(root);
    return rc;
}

static int oob_parse(const char *arg)
{
    char buf[4096];
    const char *text = arg;
    size_t len = strlen(arg);
    if (strcmp(arg, "-") == 0) {
        len = fread(buf, 1, sizeof buf - 1, stdin);
        buf[len] = '\0';
        text = buf;
    }
    struct dk_oob_msg m;
    struct dk_oob_error e = {DK_OOB_F_MESSAGE, "is not valid"};
    int rc = dk_oob_parse(text, len, &m, &e);
    dk_memzero(buf, sizeof buf);
    if (rc != 0) {
        fprintf(stderr, "%s: oob: %s: %s\n", PROG, dk_oob_field_name(e.field), e.why);
        return 1;
    }
    rc = print_oob_json(&m);
    dk_oob_msg_wipe(&m);
    return rc;
}

static int load_store(const char *dir, struct dk_store_factory *f)
{
    const char *why = NULL;
    int rc = dk_store_factory_load(dir, f, &why);
    if (rc == 0)
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, DK_STORE_FACTORY_FILE);
    report(path, "%s", rc == DK_ENOTFOUND ? "no such file" : why ? why : dk_strerror(rc));
    return 1;
}

/* Trailing white space (the newline) is not part of the label. */
static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

static int same_file_content(const char *dir, const char *name, const uint8_t *want, size_t len)
{
    char path[4096];
    static uint8_t buf[DK_STORE_CERT_DER_MAX + 1];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? 0 : -1; /* optional file */
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n != len || memcmp(buf, want, len) != 0) {
        report("oob check", "%s does not match the factory store", path);
        return -1;
    }
    return 0;
}

/* The certificate or public key files next to the store must describe the
 * store's own key. */
static int check_key_material(const char *dir, const struct dk_store_factory *f)
{
    if (f->cred_type != DK_OOB_CRED_RPK && f->cred_type != DK_OOB_CRED_X509)
        return 0;
    mbedtls_pk_context key;
    mbedtls_x509_crt crt;
    unsigned char spki[256];
    int rc = 0, n = 0;
    mbedtls_pk_init(&key);
    mbedtls_x509_crt_init(&crt);
    if (mbedtls_pk_parse_key(&key, f->key_der, f->key_der_len, NULL, 0) != 0) {
        report("oob check", "the private key in the store is unreadable");
        rc = -1;
    }
    if (rc == 0 && f->cred_type == DK_OOB_CRED_X509) {
        if (mbedtls_x509_crt_parse_der(&crt, f->cert_der, f->cert_der_len) != 0 ||
            mbedtls_pk_check_pair(&crt.pk, &key) != 0) {
            report("oob check", "the certificate in the store is not for the store's key");
            rc = -1;
        }
        if (rc == 0)
            rc = same_file_content(dir, "cert.der", f->cert_der, f->cert_der_len);
    }
    if (rc == 0 && f->cred_type == DK_OOB_CRED_RPK) {
        n = mbedtls_pk_write_pubkey_der(&key, spki, sizeof spki);
        rc = n > 0 ? same_file_content(dir, "pubkey.der", spki + sizeof spki - n, (size_t)n) : -1;
    }
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&crt);
    return rc;
}

static int oob_check(const char *dir)
{
    struct dk_store_factory *f = calloc(1, sizeof *f);
    struct dk_oob_msg m, parsed;
    char want[DK_OOB_TEXT_MAX + 1], have[DK_OOB_TEXT_MAX + 64], path[4096];
    size_t len;
    int rc = f ? load_store(dir, f) : 1;
    if (rc == 0 && (dk_store_factory_to_oob(f, &m) != 0 ||
                    dk_oob_format(&m, want, sizeof want, &len, NULL) != 0)) {
        report("oob check", "cannot compute the label from the factory store");
        rc = 1;
    }
    snprintf(path, sizeof path, "%s/label.txt", dir);
    if (rc == 0 && read_text(path, have, sizeof have) < 0) {
        report(path, "%s", strerror(errno));
        rc = 1;
    }
    if (rc == 0) {
        chomp(have);
        struct dk_oob_error e = {DK_OOB_F_MESSAGE, ""};
        if (dk_oob_parse(have, strlen(have), &parsed, &e) != 0) {
            fprintf(stderr, "%s: oob: %s: %s\n", PROG, dk_oob_field_name(e.field), e.why);
            rc = 1;
        } else if (strcmp(have, want) != 0) {
            report("oob check", "%s does not match the factory store", path);
            rc = 1;
        }
        dk_oob_msg_wipe(&parsed);
    }
    if (rc == 0 && check_key_material(dir, f) != 0)
        rc = 1;
    if (rc == 0)
        printf("%s: label matches the factory store (endpoint %s, cred %s)\n", dir, f->endpoint,
               dk_oob_cred_name(f->cred_type));
    dk_memzero(want, sizeof want);
    dk_memzero(have, sizeof have);
    dk_oob_msg_wipe(&m);
    dk_store_factory_wipe(f);
    free(f);
    return rc;
}

static int cmd_oob(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc != 3)
        return usage_error("oob", "expected 'oob parse TEXT' or 'oob check DIR'");
    if (strcmp(argv[1], "parse") == 0)
        return oob_parse(argv[2]);
    if (strcmp(argv[1], "check") == 0)
        return oob_check(argv[2]);
    return usage_error("oob", "unknown subcommand (parse or check)");
}

/* ---- show ---- */

static void print_sha256(const char *label, const uint8_t *p, size_t n)
{
    uint8_t d[32];
    char hex[65];
    mbedtls_sha256_ret(p, n, d, 0);
    dk_hex_encode(hex, sizeof hex, d, sizeof d);
    printf("%-22s %s\n", label, hex);
}

static void show_key_material(const struct dk_store_factory *f)
{
    mbedtls_pk_context key;
    unsigned char spki[256];
    mbedtls_pk_init(&key);
    if (mbedtls_pk_parse_key(&key, f->key_der, f->key_der_len, NULL, 0) == 0) {
        int n = mbedtls_pk_write_pubkey_der(&key, spki, sizeof spki);
        printf("%-22s P-256 (secret, %zu bytes DER)\n", "private key:", f->key_der_len);
        if (n > 0)
            print_sha256("public key SHA-256:", spki + sizeof spki - n, (size_t)n);
    } else {
        printf("%-22s unreadable\n", "private key:");
    }
    mbedtls_pk_free(&key);
    if (f->cred_type != DK_OOB_CRED_X509)
        return;
    mbedtls_x509_crt crt;
    char name[512];
    mbedtls_x509_crt_init(&crt);
    print_sha256("certificate SHA-256:", f->cert_der, f->cert_der_len);
    if (mbedtls_x509_crt_parse_der(&crt, f->cert_der, f->cert_der_len) == 0) {
        mbedtls_x509_dn_gets(name, sizeof name, &crt.subject);
        printf("%-22s %s\n", "certificate subject:", name);
        mbedtls_x509_dn_gets(name, sizeof name, &crt.issuer);
        printf("%-22s %s\n", "certificate issuer:", name);
    }
    mbedtls_x509_crt_free(&crt);
}

static int cmd_show(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc != 2)
        return usage_error("show", "expected 'show DIR'");
    struct dk_store_factory *f = calloc(1, sizeof *f);
    struct dk_oob_msg m;
    int rc = f ? load_store(argv[1], f) : 1;
    if (rc == 0) {
        printf("%-22s %s\n", "endpoint:", f->endpoint);
        printf("%-22s %s\n", "type:", f->type);
        printf("%-22s %s\n", "credential:", dk_oob_cred_name(f->cred_type));
        printf("%-22s %s\n", "bootstrap server:", f->bs_uri);
        printf("%-22s %s\n", "channel:", dk_oob_channel_name(f->channel));
        if (f->ap_ssid[0]) {
            printf("%-22s %s\n", "setup AP SSID:", f->ap_ssid);
            printf("%-22s WPA2-PSK (secret, %zu bytes)\n", "setup AP PSK:", f->ap_psk_len);
        }
        if (f->cred_type == DK_OOB_CRED_PSK)
            printf("%-22s %s (identity); key secret, %zu bytes\n", "bootstrap PSK:",
                   f->endpoint, f->psk_len);
        if (f->cred_type == DK_OOB_CRED_RPK || f->cred_type == DK_OOB_CRED_X509)
            show_key_material(f);
        if ((f->cred_type == DK_OOB_CRED_RPK || f->cred_type == DK_OOB_CRED_X509) &&
            dk_store_factory_to_oob(f, &m) == 0) {
            char hex[2 * DK_OOB_HASH_LEN + 1];
            dk_hex_encode(hex, sizeof hex, m.cred, m.cred_len);
            printf("%-22s %s\n", "label cred-value:", hex);
            dk_oob_msg_wipe(&m);
        }
    }
    dk_store_factory_wipe(f);
    free(f);
    return rc;
}

/* ---- qr ---- */

static int cmd_qr(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ascii", no_argument, NULL, 'a'},
        {"invert", no_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    enum dk_qr_text_mode mode = DK_QR_TEXT_UTF8;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': mode = DK_QR_TEXT_ASCII; break;
        case 'i': mode = DK_QR_TEXT_UTF8_INVERT; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return usage_error("qr", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return usage_error("qr", "expected 'qr TEXT'");
    const char *text = argv[optind];
    struct dk_qr qr;
    dk_qr_init(&qr);
    if (dk_qr_setup(&qr, text, strlen(text)) != 0) {
        report("qr", "text is empty or too long for a QR code");
        return 1;
    }
    size_t cap = 1u << 20;
    uint8_t *mem = malloc(cap);
    struct dk_buf b;
    dk_buf_init(&b, mem, mem ? cap : 0);
    int rc = dk_qr_text(&qr, mode, &b) == 0 ? 0 : 1;
    if (rc == 0) {
        fwrite(mem, 1, b.len, stdout);
        printf("%s\n", text);
    } else {
        report("qr", "cannot draw the code");
    }
    free(mem);
    dk_qr_free(&qr);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    /* '+': stop at the command; its options are parsed by the command. */
    while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("%s %s\n", PROG, DK_VERSION); return 0;
        default: return usage_error("options", "unknown option");
        }
    }
    if (optind >= argc)
        return usage_error("command", "missing (new, batch, oob, show or qr)");
    const char *cmd = argv[optind];
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    if (strcmp(cmd, "new") == 0)
        return cmd_new(sub_argc, sub_argv);
    if (strcmp(cmd, "batch") == 0)
        return cmd_batch(sub_argc, sub_argv);
    if (strcmp(cmd, "oob") == 0)
        return cmd_oob(sub_argc, sub_argv);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(sub_argc, sub_argv);
    if (strcmp(cmd, "qr") == 0)
        return cmd_qr(sub_argc, sub_argv);
    return usage_error(cmd, "unknown command (new, batch, oob, show or qr)");
}
