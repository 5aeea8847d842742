#include <duckling/log.h>
#include <duckling/err.h>

#include <stdio.h>
#include <string.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *dk_log_level_name(enum dk_log_level level)
{
    if ((unsigned)level < sizeof level_names / sizeof level_names[0])
        return level_names[level];
    return "?";
}

int dk_log_level_parse(const char *s, enum dk_log_level *out)
{
    for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum dk_log_level)i;
            return 0;
        }
    }
    return DK_EINVAL;
}

static void write_stderr(void *user, enum dk_log_level level, const char *module, const char *msg)
{
    (void)user;
    fprintf(stderr, "%-5s %s: %s\n", dk_log_level_name(level), module, msg);
}

void dk_log_init_stderr(struct dk_log *log, enum dk_log_level level)
{
    log->fn = write_stderr;
    log->user = NULL;
    log->level = level;
}

void dk_log_vwrite(const struct dk_log *log, enum dk_log_level level, const char *module,
                   const char *fmt, va_list ap)
{
    if (!DK_LOG_ENABLED(log, level))
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    log->fn(log->user, level, module, msg);
}

void dk_log_write(const struct dk_log *log, enum dk_log_level level, const char *module,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dk_log_vwrite(log, level, module, fmt, ap);
    va_end(ap);
}
