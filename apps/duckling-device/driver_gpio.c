/* duckling-device — the libgpiod v1 driver (Raspberry Pi and similar boards).
 * See driver.h for what it drives; sensors are simulated. */
#include "device.h"
#include "driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef DK_HAVE_GPIOD
#include <gpiod.h>

#define CONSUMER "duckling-device"

struct gpio_driver {
    struct driver base; /* first: the generic part */
    struct gpiod_chip *chip;
    struct gpiod_line *led;
    struct gpiod_line *button;
    dk_time_t pressed_at; /* DK_TIME_NEVER: not pressed */
};

static struct gpio_driver *gpio_of(struct driver *d)
{
    return (struct gpio_driver *)d;
}

static int gpio_led_set(struct driver *d, bool on, unsigned dimmer)
{
    struct gpio_driver *g = gpio_of(d);
    int rc = 0;
    if (gpiod_line_set_value(g->led, on && dimmer > 0) != 0) {
        dk_error(d->cfg->log, "gpio", "LED line %d: %s", d->cfg->led_line, strerror(errno));
        rc = -1;
    }
    if (driver_write_state(d, on, dimmer) != 0)
        rc = -1;
    return rc;
}

static int gpio_button_fd(struct driver *d)
{
    struct gpio_driver *g = gpio_of(d);
    return g->button ? gpiod_line_event_get_fd(g->button) : -1;
}

/* One edge: remember when the button went down; a release forgets it. The
 * level is read after the event, which also debounces: only the state the
 * line settled in counts. */
static dk_time_t gpio_button_event(struct driver *d, dk_time_t now)
{
    struct gpio_driver *g = gpio_of(d);
    struct gpiod_line_event ev;
    if (gpiod_line_event_read(g->button, &ev) != 0)
        return DK_TIME_NEVER;
    int v = gpiod_line_get_value(g->button); /* 1: pressed (active low) */
    if (v == 1) {
        if (g->pressed_at == DK_TIME_NEVER) {
            g->pressed_at = now;
            dk_info(d->cfg->log, "gpio", "button pressed; hold %d s for a factory reset",
                    DRIVER_BUTTON_HOLD_MS / 1000);
        }
        return g->pressed_at + DRIVER_BUTTON_HOLD_MS;
    }
    g->pressed_at = DK_TIME_NEVER;
    return DK_TIME_NEVER;
}

static bool gpio_button_check(struct driver *d, dk_time_t now)
{
    struct gpio_driver *g = gpio_of(d);
    if (g->pressed_at == DK_TIME_NEVER || now - g->pressed_at < DRIVER_BUTTON_HOLD_MS)
        return false;
    if (gpiod_line_get_value(g->button) != 1) {
        g->pressed_at = DK_TIME_NEVER;
        return false;
    }
    g->pressed_at = DK_TIME_NEVER;
    return true;
}

static void gpio_close(struct driver *d)
{
    struct gpio_driver *g = gpio_of(d);
    if (!g)
        return;
    if (g->led)
        gpiod_line_release(g->led);
    if (g->button)
        gpiod_line_release(g->button);
    if (g->chip)
        gpiod_chip_close(g->chip);
    free(g);
}

static const struct driver_ops gpio_ops = {
    .name = "gpio",
    .led_set = gpio_led_set,
    .temperature = driver_sim_temperature,
    .illuminance = driver_sim_illuminance,
    .button_fd = gpio_button_fd,
    .button_event = gpio_button_event,
    .button_check = gpio_button_check,
    .close = gpio_close,
};

static struct gpiod_line *get_line(struct gpio_driver *g, int offset, const char *what)
{
    struct gpiod_line *l = gpiod_chip_get_line(g->chip, (unsigned)offset);
    if (!l)
        report(what, "line %d on %s: %s", offset, g->base.cfg->gpio_chip,
               errno == EINVAL ? "no such line" : strerror(errno));
    return l;
}

struct driver *driver_gpio_open(const struct driver_config *cfg)
{
    struct gpio_driver *g = calloc(1, sizeof *g);
    if (!g) {
        report("driver", "out of memory");
        return NULL;
    }
    g->base.ops = &gpio_ops;
    g->base.cfg = cfg;
    g->base.location = (struct driver_location){49.4521, 11.0767, 309.0, 10.0};
    g->pressed_at = DK_TIME_NEVER;
    g->chip = gpiod_chip_open_lookup(cfg->gpio_chip);
    if (!g->chip) {
        report("--gpio-chip", "%s: %s", cfg->gpio_chip,
               errno ? strerror(errno) : "no such GPIO chip");
        goto fail;
    }
    g->led = get_line(g, cfg->led_line, "--led-line");
    if (!g->led)
        goto fail;
    if (gpiod_line_request_output(g->led, CONSUMER, 0) != 0) {
        report("--led-line", "line %d on %s: cannot request it as an output: %s", cfg->led_line,
               cfg->gpio_chip, strerror(errno));
        g->led = NULL;
        goto fail;
    }
    if (cfg->button_line >= 0) {
        g->button = get_line(g, cfg->button_line, "--button-line");
        if (!g->button)
            goto fail;
        int flags = GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW | GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
        if (gpiod_line_request_both_edges_events_flags(g->button, CONSUMER, flags) != 0) {
            report("--button-line", "line %d on %s: cannot request edge events: %s",
                   cfg->button_line, cfg->gpio_chip, strerror(errno));
            g->button = NULL;
            goto fail;
        }
    }
    return &g->base;
fail:
    gpio_close(&g->base);
    return NULL;
}

#else /* !DK_HAVE_GPIOD */

struct driver *driver_gpio_open(const struct driver_config *cfg)
{
    (void)cfg;
    report("--driver", "gpio: this build has no libgpiod (install libgpiod-dev and rebuild)");
    return NULL;
}

#endif
