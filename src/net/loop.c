#include <duckling/loop.h>
#include <duckling/err.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

void dk_loop_init(struct dk_loop *loop)
{
    memset(loop, 0, sizeof *loop);
    loop->sig_fd = -1;
}

int dk_loop_add_fd(struct dk_loop *loop, int fd, short events, dk_loop_fd_fn *fn, void *user)
{
    for (size_t i = 0; i < loop->nfds; i++)
        if (loop->fds[i].fd == fd)
            return DK_EEXIST;
    if (loop->nfds == DK_LOOP_MAX_FDS)
        return DK_ELIMIT;
    loop->fds[loop->nfds++] = (struct dk_loop_fd){fd, events, fn, user};
    return 0;
}

int dk_loop_set_events(struct dk_loop *loop, int fd, short events)
{
    for (size_t i = 0; i < loop->nfds; i++) {
        if (loop->fds[i].fd == fd) {
            loop->fds[i].events = events;
            return 0;
        }
    }
    return DK_ENOTFOUND;
}

void dk_loop_remove_fd(struct dk_loop *loop, int fd)
{
    for (size_t i = 0; i < loop->nfds; i++) {
        if (loop->fds[i].fd == fd) {
            loop->fds[i] = loop->fds[--loop->nfds];
            return;
        }
    }
}

int dk_loop_add_timer(struct dk_loop *loop, dk_loop_timer_fn *fn, void *user)
{
    if (loop->ntimers == sizeof loop->timers / sizeof loop->timers[0])
        return DK_ELIMIT;
    loop->timers[loop->ntimers++] = (struct dk_loop_timer){fn, user, 0};
    return 0;
}


void dk_loop_remove_timer(struct dk_loop *loop, dk_loop_timer_fn *fn, void *user)
{
    for (size_t i = 0; i < loop->ntimers; i++) {
        if (loop->timers[i].fn == fn && loop->timers[i].user == user) {
            loop->timers[i] = loop->timers[--loop->ntimers];
            return;
        }
    }
}

int dk_loop_watch_signals(struct dk_loop *loop, const int *signals, dk_loop_fd_fn *fn, void *user)
{
    sigset_t set;
    sigemptyset(&set);
    for (const int *s = signals; *s; s++)
        sigaddset(&set, *s);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return DK_EIO;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return DK_EIO;
    loop->sig_fd = fd;
    return dk_loop_add_fd(loop, fd, POLLIN, fn, user);
}

static dk_time_t run_timers(struct dk_loop *loop, dk_time_t now)
{
    dk_time_t next = DK_TIME_NEVER;
    for (size_t i = 0; i < loop->ntimers; i++) {
        struct dk_loop_timer *t = &loop->timers[i];
        if (t->deadline <= now)
            t->deadline = t->fn(t->user, now);
        next = dk_time_min(next, t->deadline);
    }
    return next;
}

int dk_loop_run_once(struct dk_loop *loop, dk_time_t max_wait_ms)
{
    dk_time_t now = dk_clock_now();
    dk_time_t next = run_timers(loop, now);
    dk_time_t wait = max_wait_ms;
    if (next != DK_TIME_NEVER) {
        dk_time_t until = next > now ? next - now : 0;
        if (wait < 0 || until < wait)
            wait = until;
    }
    if (wait > 60000)
        wait = 60000;
    struct pollfd pfd[DK_LOOP_MAX_FDS];
    size_t n = loop->nfds;
    for (size_t i = 0; i < n; i++)
        pfd[i] = (struct pollfd){loop->fds[i].fd, loop->fds[i].events, 0};
    int rc = poll(pfd, n, (int)wait);
    if (rc < 0)
        return errno == EINTR ? 0 : DK_EIO;
    now = dk_clock_now();
    for (size_t i = 0; i < n && rc > 0; i++) {
        if (!pfd[i].revents)
            continue;
        rc--;
        /* Handlers may add or remove fds: find the entry again by fd. */
        for (size_t j = 0; j < loop->nfds; j++) {
            if (loop->fds[j].fd != pfd[i].fd)
                continue;
            struct dk_loop_fd e = loop->fds[j];
            if (e.fd == loop->sig_fd) {
                struct signalfd_siginfo si;
                while (read(e.fd, &si, sizeof si) == (ssize_t)sizeof si)
                    e.fn(e.user, (int)si.ssi_signo, pfd[i].revents, now);
            } else {
                e.fn(e.user, e.fd, pfd[i].revents, now);
            }
            break;
        }
    }
    /* Events may have moved deadlines earlier: let every timer re-arm. */
    for (size_t i = 0; i < loop->ntimers; i++)
        loop->timers[i].deadline = 0;
    return 0;
}

int dk_loop_run(struct dk_loop *loop)
{
    loop->stop = false;
    while (!loop->stop) {
        int rc = dk_loop_run_once(loop, -1);
        if (rc)
            return rc;
    }
    return 0;
}

void dk_loop_stop(struct dk_loop *loop)
{
    loop->stop = true;
}

void dk_loop_free(struct dk_loop *loop)
{
    if (loop->sig_fd >= 0)
        close(loop->sig_fd);
    loop->sig_fd = -1;
    loop->nfds = loop->ntimers = 0;
}
