/* duckling-device — the LwM2M Client daemon (DESIGN §1, §6; issue 5). */
#include "device.h"

#include <duckling/endpoint.h>
#include <duckling/err.h>
#include <duckling/version.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EXIT_USAGE 2

static const char usage_text[] =
    "Usage: " PROG " --data DIR [OPTIONS]\n"
    "\n"
    "The LwM2M Client daemon of a duckling device. It loads DIR/factory.store\n"
    "(made by duckling-factory) and, when present, DIR/operational.store; in\n"
    "factory mode it bootstraps from the Bootstrap Server of the factory store,\n"
    "then registers with the LwM2M Servers the bootstrap gave it.\n"
    "\n"
    "Options:\n"
    "  --data DIR             the device's data directory (required)\n"
    "  --driver sim|gpio      hardware driver (default sim: simulated sensors, the\n"
    "                         LED in the state file; gpio: libgpiod v1 LED and button)\n"
    "  --state-file F         where the LED state goes (default DIR/led.state),\n"
    "                         one line 'on=0|1 dimmer=0..100', replaced atomically\n"
    "  --gpio-chip C          gpio: chip name, path or number (gpiochip0)\n"
    "  --led-line N           gpio: LED output line offset\n"
    "  --button-line N        gpio: factory-reset button input line offset (active\n"
    "                         low with pull-up; hold 3 s)\n"
    "  --bs-uri URI           use this Bootstrap Server URI instead of the factory\n"
    "                         store's (same scheme: coap:// for no security)\n"
    "  --holdoff MS           wait MS milliseconds before bootstrapping (default 0)\n"
    "  --on-factory-mode CMD  run CMD when the device enters factory mode\n"
    "  --on-operational CMD   run CMD when the device has operational settings\n"
    "                         (after bootstrap, at start, when a server changes /12)\n"
    "  --factory-reset        erase the operational store and its key (keeping\n"
    "                         factory.store) and exit; works offline\n"
    "  --log-level L          error, warn, info (default) or debug; logs go to stderr\n"
    "  --help, --version\n"
    "\n"
    "Hooks: CMD is run as '/bin/sh -c CMD' in the background; what it needs is\n"
    "passed in environment variables, never in the command line:\n"
    "  DK_MODE=factory|operational, DK_ENDPOINT, DK_DATA,\n"
    "  factory mode: DK_AP_SSID, DK_AP_PSK (hex) of the setup access point;\n"
    "  operational:  DK_SSID, DK_PSK of the home Wi-Fi from /12/0 (when written).\n"
    "\n"
    "Signals: SIGTERM and SIGINT de-register and exit (a second one exits at once);\n"
    "SIGUSR1 is the factory-reset button. Execute /3/0/5 resets remotely and\n"
    "Execute /3/0/4 restarts the daemon.\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 bad usage.\n";

void report(const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: %s: ", PROG, what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int usage_error(const char *what, const char *why)
{
    report(what, "%s", why);
    fprintf(stderr, "Try '%s --help'.\n", PROG);
    return EXIT_USAGE;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

enum {
    OPT_DATA = 256,
    OPT_DRIVER,
    OPT_LOG_LEVEL,
    OPT_FACTORY_RESET,
    OPT_ON_FACTORY,
    OPT_ON_OPERATIONAL,
    OPT_GPIO_CHIP,
    OPT_LED_LINE,
    OPT_BUTTON_LINE,
    OPT_STATE_FILE,
    OPT_BS_URI,
    OPT_HOLDOFF,
};

/* Returns 0, or an exit status (-1: --help/--version printed). */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"driver", required_argument, NULL, OPT_DRIVER},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"factory-reset", no_argument, NULL, OPT_FACTORY_RESET},
        {"on-factory-mode", required_argument, NULL, OPT_ON_FACTORY},
        {"on-operational", required_argument, NULL, OPT_ON_OPERATIONAL},
        {"gpio-chip", required_argument, NULL, OPT_GPIO_CHIP},
        {"led-line", required_argument, NULL, OPT_LED_LINE},
        {"button-line", required_argument, NULL, OPT_BUTTON_LINE},
        {"state-file", required_argument, NULL, OPT_STATE_FILE},
        {"bs-uri", required_argument, NULL, OPT_BS_URI},
        {"holdoff", required_argument, NULL, OPT_HOLDOFF},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->driver = "sim";
    o->log_level = DK_LOG_INFO;
    o->led_line = o->button_line = -1;
    long v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hV", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DATA:
            o->data = optarg;
            break;
        case OPT_DRIVER:
            o->driver = optarg;
            break;
        case OPT_LOG_LEVEL:
            if (dk_log_level_parse(optarg, &o->log_level) != 0)
                return usage_error("--log-level", "must be error, warn, info or debug");
            break;
        case OPT_FACTORY_RESET:
            o->factory_reset = true;
            break;
        case OPT_ON_FACTORY:
            o->on_factory_mode = optarg;
            break;
        case OPT_ON_OPERATIONAL:
            o->on_operational = optarg;
            break;
        case OPT_GPIO_CHIP:
            o->gpio_chip = optarg;
            break;
        case OPT_LED_LINE:
            if (!parse_long(optarg, 0, 65535, &v))
                return usage_error("--led-line", "must be a line offset from 0 to 65535");
            o->led_line = (int)v;
            break;
        case OPT_BUTTON_LINE:
            if (!parse_long(optarg, 0, 65535, &v))
                return usage_error("--button-line", "must be a line offset from 0 to 65535");
            o->button_line = (int)v;
            break;
        case OPT_STATE_FILE:
            o->state_file = optarg;
            break;
        case OPT_BS_URI:
            o->bs_uri = optarg;
            break;
        case OPT_HOLDOFF:
            if (!parse_long(optarg, 0, 86400000, &o->holdoff_ms))
                return usage_error("--holdoff", "must be milliseconds from 0 to 86400000");
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        case 'V':
            printf("%s %s\n", PROG, DK_VERSION);
            return -1;
        case ':':
            return usage_error(argv[optind - 1], "needs a value");
        default:
            return usage_error(argv[optind - 1], "unknown option");
        }
    }
    if (optind < argc)
        return usage_error(argv[optind], "unexpected argument");
    if (!o->data)
        return usage_error("--data", "is required");
    if (!*o->data)
        return usage_error("--data", "must not be empty");
    if (strcmp(o->driver, "sim") != 0 && strcmp(o->driver, "gpio") != 0)
        return usage_error("--driver", "must be sim or gpio");
    bool gpio = strcmp(o->driver, "gpio") == 0;
    if (!gpio && (o->gpio_chip || o->led_line >= 0 || o->button_line >= 0))
        return usage_error("--gpio-chip", "--gpio-chip, --led-line and --button-line need "
                                          "--driver gpio");
    if (gpio && (!o->gpio_chip || o->led_line < 0))
        return usage_error("--driver", "gpio needs --gpio-chip and --led-line");
    if (gpio && o->button_line == o->led_line)
        return usage_error("--button-line", "must differ from --led-line");
    if (o->bs_uri) {
        struct dk_uri u;
        if (dk_uri_parse(o->bs_uri, &u) != 0 || strlen(o->bs_uri) > DK_STORE_URI_MAX)
            return usage_error("--bs-uri", "must be coap://HOST[:PORT] or coaps://HOST[:PORT]");
    }
    if (o->factory_reset && (o->on_factory_mode || o->on_operational || o->bs_uri))
        return usage_error("--factory-reset", "takes only --data and --log-level");
    return 0;
}

/* --factory-reset: offline, without the engine. */
static int offline_factory_reset(const struct options *o)
{
    struct stat st;
    if (stat(o->data, &st) != 0 || !S_ISDIR(st.st_mode)) {
        report(o->data, "not a directory");
        return 1;
    }
    if (dk_store_ops_wipe(o->data) != 0) {
        report(o->data, "cannot erase the operational store: %s", strerror(errno));
        return 1;
    }
    if (o->log_level >= DK_LOG_INFO)
        fprintf(stderr,
                "%s: factory reset: operational store and device key erased; "
                "factory.store kept\n",
                PROG);
    return 0;
}

int device_run(const struct options *o, char **argv); /* run.c */

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (o.factory_reset)
        return offline_factory_reset(&o);
    return device_run(&o, argv);
}
