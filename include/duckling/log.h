/* duckling — logging. A logger is a small caller-owned value passed to each
 * context; there is no global logger. Secrets are never passed to it. */
#ifndef DUCKLING_LOG_H
#define DUCKLING_LOG_H

#include <stdarg.h>

enum dk_log_level {
    DK_LOG_ERROR = 0,
    DK_LOG_WARN = 1,
    DK_LOG_INFO = 2,
    DK_LOG_DEBUG = 3,
};

/* Receives one formatted line without trailing newline. */
typedef void dk_log_fn(void *user, enum dk_log_level level, const char *module, const char *msg);

struct dk_log {
    dk_log_fn *fn;  /* NULL: discard everything */
    void *user;
    enum dk_log_level level; /* messages above this level are dropped */
};

/* A logger that writes "LEVEL module: msg" lines to stderr. */
void dk_log_init_stderr(struct dk_log *log, enum dk_log_level level);

/* Parses "error", "warn", "info", "debug". Returns 0 or DK_EINVAL. */
int dk_log_level_parse(const char *s, enum dk_log_level *out);
const char *dk_log_level_name(enum dk_log_level level);

/* log may be NULL. The message is truncated at 1 KiB. */
void dk_log_write(const struct dk_log *log, enum dk_log_level level, const char *module,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void dk_log_vwrite(const struct dk_log *log, enum dk_log_level level, const char *module,
                   const char *fmt, va_list ap);

#define DK_LOG_ENABLED(log, lvl) ((log) != NULL && (log)->fn != NULL && (lvl) <= (log)->level)
#define dk_error(log, mod, ...) dk_log_write((log), DK_LOG_ERROR, (mod), __VA_ARGS__)
#define dk_warn(log, mod, ...) dk_log_write((log), DK_LOG_WARN, (mod), __VA_ARGS__)
#define dk_info(log, mod, ...) dk_log_write((log), DK_LOG_INFO, (mod), __VA_ARGS__)
#define dk_debug(log, mod, ...)                                                                    \
    do {                                                                                           \
        if (DK_LOG_ENABLED((log), DK_LOG_DEBUG))                                                   \
            dk_log_write((log), DK_LOG_DEBUG, (mod), __VA_ARGS__);                                 \
    } while (0)

#endif
