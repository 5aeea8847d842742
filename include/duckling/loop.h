/* duckling — a small poll(2) loop for programs. Engines never see it: the
 * program feeds them datagrams and `now`, and asks for their next deadline. */
#ifndef DUCKLING_LOOP_H
#define DUCKLING_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <duckling/clock.h>

#define DK_LOOP_MAX_FDS 64

/* Called when fd is ready; revents as poll(2) reports them. */
typedef void dk_loop_fd_fn(void *user, int fd, short revents, dk_time_t now);
/* Called when the loop's deadline passes and before every poll; returns the
 * next deadline it wants (DK_TIME_NEVER for none). */
typedef dk_time_t dk_loop_timer_fn(void *user, dk_time_t now);

struct dk_loop_fd {
    int fd;
    short events;
    dk_loop_fd_fn *fn;
    void *user;
};

struct dk_loop_timer {
    dk_loop_timer_fn *fn;
    void *user;
    dk_time_t deadline;
};

struct dk_loop {
    struct dk_loop_fd fds[DK_LOOP_MAX_FDS];
    size_t nfds;
    struct dk_loop_timer timers[16];
    size_t ntimers;
    bool stop;
    int sig_fd; /* signalfd for dk_loop_watch_signals, or -1 */
};

void dk_loop_init(struct dk_loop *loop);
/* Returns 0, DK_ELIMIT (table full) or DK_EEXIST (fd already watched). */
int dk_loop_add_fd(struct dk_loop *loop, int fd, short events, dk_loop_fd_fn *fn, void *user);
/* Changes the events of a watched fd. Returns 0 or DK_ENOTFOUND. */
int dk_loop_set_events(struct dk_loop *loop, int fd, short events);
void dk_loop_remove_fd(struct dk_loop *loop, int fd);
/* A timer source polled for its deadline (an engine wrapper). Returns 0 or DK_ELIMIT. */
int dk_loop_add_timer(struct dk_loop *loop, dk_loop_timer_fn *fn, void *user);
void dk_loop_remove_timer(struct dk_loop *loop, dk_loop_timer_fn *fn, void *user);
/* Blocks the listed signals (0-terminated array) and delivers them through
 * fn with fd = the signal number. Returns 0 or DK_EIO. */
int dk_loop_watch_signals(struct dk_loop *loop, const int *signals, dk_loop_fd_fn *fn, void *user);
/* One iteration: runs timers, polls until the earliest deadline, `max_wait_ms`
 * or an event, dispatches. Returns 0 or DK_EIO. */
int dk_loop_run_once(struct dk_loop *loop, dk_time_t max_wait_ms);
/* Runs until dk_loop_stop(). */
int dk_loop_run(struct dk_loop *loop);
void dk_loop_stop(struct dk_loop *loop);
void dk_loop_free(struct dk_loop *loop);

#endif
