/* duckling-device — hook commands (see device.h for the rules). */
#include "device.h"

#include <duckling/mem.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void hook_env_init(struct hook_env *e)
{
    memset(e, 0, sizeof *e);
}

int hook_env_add(struct hook_env *e, const char *name, const char *value, size_t len)
{
    if (e->n == HOOK_ENV_MAX || memchr(value, 0, len))
        return -1;
    size_t nl = strlen(name), total = nl + 1 + len + 1;
    char *v = malloc(total);
    if (!v)
        return -1;
    memcpy(v, name, nl);
    v[nl] = '=';
    memcpy(v + nl + 1, value, len);
    v[total - 1] = 0;
    e->vars[e->n++] = v;
    return 0;
}

void hook_env_free(struct hook_env *e)
{
    for (size_t i = 0; i < e->n; i++) {
        dk_memzero(e->vars[i], strlen(e->vars[i]));
        free(e->vars[i]);
    }
    memset(e, 0, sizeof *e);
}

extern char **environ;

/* The daemon's environment with env's variables added (replacing any of the
 * same name). The strings are borrowed; only the array is allocated. */
static char **make_envp(const struct hook_env *env)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **envp = calloc(n + env->n + 1, sizeof *envp);
    if (!envp)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < env->n && !replaced; j++) {
            size_t nl = (size_t)(strchr(env->vars[j], '=') - env->vars[j]) + 1;
            replaced = strncmp(environ[i], env->vars[j], nl) == 0;
        }
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < env->n; j++)
        envp[k++] = env->vars[j];
    return envp;
}

/* In the child: only async-signal-safe calls until exec. */
static void child_exec(const char *cmd, char **envp)
{
    sigset_t none;
    sigemptyset(&none);
    /* The daemon blocks the signals it reads through signalfd; a hook must
     * get them normally. */
    sigprocmask(SIG_SETMASK, &none, NULL);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        if (null != STDIN_FILENO)
            close(null);
    }
    char *const argv[] = {"sh", "-c", (char *)cmd, NULL};
    execve("/bin/sh", argv, envp);
    _exit(127);
}

static void log_exit(const struct dk_log *log, pid_t pid, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        dk_info(log, "hook", "pid %ld finished", (long)pid);
    else if (WIFEXITED(status))
        dk_warn(log, "hook", "pid %ld exited with status %d", (long)pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        dk_warn(log, "hook", "pid %ld killed by signal %d", (long)pid, WTERMSIG(status));
}

/* Hooks run one at a time, in the order the modes changed (closing the setup
 * access point must not overtake opening it). Waits at most 30 s for the
 * previous hooks; after that they are left running and a warning logged. */
static void wait_previous(const struct dk_log *log)
{
    for (int i = 0; i < 3000; i++) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0)
            return; /* no children left */
        if (pid > 0) {
            log_exit(log, pid, status);
            continue;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    dk_warn(log, "hook", "previous hook still running after 30 s; starting the next anyway");
}

pid_t hook_run(const char *what, const char *cmd, const struct hook_env *env,
               const struct dk_log *log)
{
    wait_previous(log);
    char **envp = make_envp(env);
    if (!envp) {
        dk_error(log, "hook", "%s: cannot start: out of memory", what);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(cmd, envp);
    int e = errno;
    free(envp);
    if (pid < 0) {
        dk_error(log, "hook", "%s: cannot start: %s", what, strerror(e));
        return -1;
    }
    /* The command is the operator's own; the environment is not logged. */
    dk_info(log, "hook", "%s: started pid %ld", what, (long)pid);
    return pid;
}

void hook_reap(const struct dk_log *log)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        log_exit(log, pid, status);
}
