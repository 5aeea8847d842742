/* duckling-device — hardware drivers: the LED, the sensors, the location and
 * the factory-reset button, behind one small interface so the daemon does
 * not care whether it runs on a Raspberry Pi or in a test.
 *
 *   sim   (default) LED state written atomically to a state file and logged;
 *         temperature and illuminance follow slow sine waves with a little
 *         noise from the CSPRNG; a fixed location; the button is SIGUSR1
 *         (handled by the daemon, not by the driver).
 *   gpio  libgpiod v1 (Debian 12: libgpiod 1.6): the LED on an output line
 *         (on when on/off is on and the dimmer is above 0: a GPIO line cannot
 *         dim), the button on an input line with edge events, active low with
 *         the pull-up bias (a push button to ground); it must stay pressed
 *         for DRIVER_BUTTON_HOLD_MS. Sensors and location are simulated as in
 *         `sim` (no sensor chip is wired up on the reference board); the LED
 *         state is also written to the state file.
 *
 * Lifetime: a driver is set up once by driver_open() and freed by
 * driver->ops->close(). All functions run on the daemon's thread. */
#ifndef DK_DEVICE_DRIVER_H
#define DK_DEVICE_DRIVER_H

#include <duckling/clock.h>
#include <duckling/log.h>
#include <duckling/rng.h>

#include <stdbool.h>
#include <stdint.h>

#define DRIVER_BUTTON_HOLD_MS 3000

struct driver;

struct driver_ops {
    const char *name;
    /* Drives the LED. dimmer is 0..100. Returns 0 or -1 (logged). */
    int (*led_set)(struct driver *d, bool on, unsigned dimmer);
    /* Current readings at time now (monotonic ms). Return 0 or -1. */
    int (*temperature)(struct driver *d, dk_time_t now, double *celsius);
    int (*illuminance)(struct driver *d, dk_time_t now, double *lux);
    /* A file descriptor to poll for button events, or -1 (none). */
    int (*button_fd)(struct driver *d);
    /* Called when button_fd is readable: consumes the events. Returns the
     * time at which the button must be checked again (a press is being
     * held), or DK_TIME_NEVER. */
    dk_time_t (*button_event)(struct driver *d, dk_time_t now);
    /* Called at that time: true when the button was held long enough (a
     * factory reset is asked for). */
    bool (*button_check)(struct driver *d, dk_time_t now);
    void (*close)(struct driver *d);
};

struct driver_location {
    double latitude, longitude, altitude; /* degrees, degrees, metres */
    double radius;                        /* metres */
};

struct driver_config {
    const char *kind;       /* "sim" or "gpio" */
    const char *state_file; /* LED state file (both drivers) */
    const char *gpio_chip;  /* gpio: chip name ("gpiochip0"), path or number */
    int led_line;           /* gpio: LED output line offset */
    int button_line;        /* gpio: button input line offset, -1: none */
    const struct dk_log *log;
    struct dk_rng *rng; /* sensor noise; must outlive the driver */
};

struct driver {
    const struct driver_ops *ops;
    const struct driver_config *cfg;
    struct driver_location location;
    bool led_on;
    unsigned led_dimmer;
    dk_time_t origin; /* time of the first reading: phase of the simulated waves */
    bool origin_set;
};

/* Opens the driver cfg->kind. On failure prints
 * "duckling-device: <what>: <why>" to stderr and returns NULL. */
struct driver *driver_open(const struct driver_config *cfg);

/* Shared by both drivers: the simulated sensors and the state file. */
int driver_sim_temperature(struct driver *d, dk_time_t now, double *celsius);
int driver_sim_illuminance(struct driver *d, dk_time_t now, double *lux);
/* Writes "on=<0|1> dimmer=<0..100>\n" to cfg->state_file atomically
 * (temporary file, fsync, rename) and logs the change. Returns 0 or -1. */
int driver_write_state(struct driver *d, bool on, unsigned dimmer);

struct driver *driver_sim_open(const struct driver_config *cfg);
struct driver *driver_gpio_open(const struct driver_config *cfg);

#endif
