/* duckling-device — the simulated driver (the default; tests and demo). */
#include "device.h"
#include "driver.h"

#include <stdlib.h>
#include <string.h>

static int sim_led_set(struct driver *d, bool on, unsigned dimmer)
{
    return driver_write_state(d, on, dimmer);
}

static int sim_button_fd(struct driver *d)
{
    (void)d;
    return -1; /* the button is SIGUSR1 */
}

static dk_time_t sim_button_event(struct driver *d, dk_time_t now)
{
    (void)d;
    (void)now;
    return DK_TIME_NEVER;
}

static bool sim_button_check(struct driver *d, dk_time_t now)
{
    (void)d;
    (void)now;
    return false;
}

static void sim_close(struct driver *d)
{
    free(d);
}

static const struct driver_ops sim_ops = {
    .name = "sim",
    .led_set = sim_led_set,
    .temperature = driver_sim_temperature,
    .illuminance = driver_sim_illuminance,
    .button_fd = sim_button_fd,
    .button_event = sim_button_event,
    .button_check = sim_button_check,
    .close = sim_close,
};

/* The simulated device stands in Nuremberg, within 10 m. */
static const struct driver_location sim_location = {49.4521, 11.0767, 309.0, 10.0};

struct driver *driver_sim_open(const struct driver_config *cfg)
{
    struct driver *d = calloc(1, sizeof *d);
    if (!d) {
        report("driver", "out of memory");
        return NULL;
    }
    d->ops = &sim_ops;
    d->cfg = cfg;
    d->location = sim_location;
    return d;
}
