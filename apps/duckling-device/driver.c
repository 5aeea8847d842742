/* duckling-device — driver selection, simulated sensors and the LED state file. */
#include "device.h"
#include "driver.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct driver *driver_open(const struct driver_config *cfg)
{
    if (strcmp(cfg->kind, "sim") == 0)
        return driver_sim_open(cfg);
    if (strcmp(cfg->kind, "gpio") == 0)
        return driver_gpio_open(cfg);
    report("--driver", "unknown driver '%s' (sim or gpio)", cfg->kind);
    return NULL;
}

/* Seconds since the first reading, so the waves start at a known phase. */
static double elapsed_s(struct driver *d, dk_time_t now)
{
    if (!d->origin_set) {
        d->origin = now;
        d->origin_set = true;
    }
    return (double)(now - d->origin) / 1000.0;
}

/* Uniform noise in [-amp, amp] from the CSPRNG. */
static double noise(struct driver *d, double amp)
{
    uint32_t r = dk_rng_uniform(d->cfg->rng, 2001);
    return amp * ((double)r - 1000.0) / 1000.0;
}

/* Room temperature: 21.5 °C, ±2 °C over 10 minutes, ±0.05 °C noise, in 0.01 steps. */
int driver_sim_temperature(struct driver *d, dk_time_t now, double *celsius)
{
    double t = elapsed_s(d, now);
    double v = 21.5 + 2.0 * sin(2.0 * M_PI * t / 600.0) + noise(d, 0.05);
    *celsius = round(v * 100.0) / 100.0;
    return 0;
}

/* Indoor light: 300 lx, ±250 lx over 15 minutes, ±5 lx noise, never negative. */
int driver_sim_illuminance(struct driver *d, dk_time_t now, double *lux)
{
    double t = elapsed_s(d, now);
    double v = 300.0 + 250.0 * sin(2.0 * M_PI * t / 900.0) + noise(d, 5.0);
    *lux = v < 0 ? 0 : round(v * 10.0) / 10.0;
    return 0;
}

int driver_write_state(struct driver *d, bool on, unsigned dimmer)
{
    char line[64];
    int n = snprintf(line, sizeof line, "on=%d dimmer=%u\n", on ? 1 : 0, dimmer);
    d->led_on = on;
    d->led_dimmer = dimmer;
    dk_info(d->cfg->log, "led", "LED %s, dimmer %u%%", on ? "on" : "off", dimmer);
    if (!d->cfg->state_file || !*d->cfg->state_file)
        return 0;
    if (write_file_atomic(d->cfg->state_file, line, (size_t)n, 0644) != 0) {
        dk_error(d->cfg->log, "led", "%s: cannot write: %s", d->cfg->state_file, strerror(errno));
        return -1;
    }
    return 0;
}
