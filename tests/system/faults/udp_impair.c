/* dk-udp-impair — a UDP impairment proxy for the fault tests (issue 8).
 *
 *   dk-udp-impair --listen ADDR:PORT --target ADDR:PORT [impairments] [limits]
 *
 * Listens on ADDR:PORT (port 0: any free port) and forwards every datagram to
 * the target from a socket of its own per client address, so the target sees
 * one peer per client; the target's answers go back to that client. Each
 * direction ("up": client to target, "down": target to client) has its own
 * impairments, drawn from its own seeded generator so a run is reproducible
 * for a given seed and arrival order:
 *
 *   --loss P, --up-loss P, --down-loss P          drop P % of datagrams
 *   --dup P, --up-dup P, --down-dup P             send P % twice
 *   --reorder P, --up-reorder P, --down-reorder P hold P % back: a held
 *         datagram goes out after --reorder-gap later ones of its direction
 *         (default 1) have gone out, or after --reorder-ms (default 100)
 *   --delay MS, --jitter MS (and --up-/--down- forms): every datagram waits
 *         MS plus a uniform 0..jitter ms (jitter alone also reorders)
 *   --seed N (default 1)
 *
 * Limits: --duration S (default 300; the proxy always exits by then),
 * --idle S (forget a client silent for S seconds, default 60),
 * --max-clients N (default 1024), --queue N (datagrams waiting at once,
 * default 4096; more are dropped and counted as overflow).
 *
 * Prints "listening PORT" first. On SIGTERM, SIGINT or at the end of
 * --duration it prints its counters, one line per direction, and exits 0:
 *
 *   up rx=N sent=N lost=N dup=N held=N reordered=N delayed=N overflow=N errors=N
 *   down rx=...
 *   clients=N
 *
 * rx counts datagrams received, sent those put on the wire (duplicates
 * included), held those held back for reordering, reordered the held ones
 * that some later datagram actually overtook, delayed those sent later than
 * received because of --delay/--jitter. Exit 2 on bad usage, 1 on a socket
 * error at start. A test tool: no dk_ library, plain POSIX.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG "dk-udp-impair"
#define PPM 1000000u
#define MAX_DGRAM 65536

enum { UP = 0, DOWN = 1 };
static const char *const dir_name[2] = {"up", "down"};

struct impair {
    uint32_t loss, dup, reorder; /* parts per million */
    long delay_ms, jitter_ms;
};

struct counters {
    unsigned long rx, sent, lost, dup, held, reordered, delayed, overflow, errors;
};

struct client {
    bool used;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int fd; /* connected to the target */
    int64_t last;
};

struct pkt {
    int64_t due;   /* ms; INT64_MAX while held and not yet released */
    int64_t limit; /* held: released at this time at the latest */
    uint64_t seq;  /* tie-break: arrival order */
    int dir;
    int client;
    unsigned gap; /* held: later datagrams still to go out before this one */
    bool held, overtaken;
    size_t len;
    uint8_t data[];
};

struct proxy {
    int lfd;
    struct sockaddr_storage target;
    socklen_t target_len;
    struct impair imp[2];
    uint64_t rng[2];
    long reorder_ms;
    unsigned reorder_gap;
    long idle_s;
    struct client *clients;
    size_t max_clients, nclients;
    struct pkt **queue;
    size_t queue_max, queued;
    uint64_t seq;
    struct counters c[2];
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* splitmix64: small, seedable, good enough to draw impairments. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool chance(uint64_t *s, uint32_t ppm)
{
    return ppm && next_rand(s) % PPM < ppm;
}

static long uniform(uint64_t *s, long max)
{
    return max > 0 ? (long)(next_rand(s) % (uint64_t)(max + 1)) : 0;
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, PROG ": %s: '%s'\nTry '" PROG " --help'.\n", what, arg);
    return 2;
}

static bool parse_percent(const char *s, uint32_t *ppm)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0.0 && v <= 100.0))
        return false;
    *ppm = (uint32_t)(v * (PPM / 100) + 0.5);
    return true;
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

/* "IP:PORT" or "[IPv6]:PORT". */
static bool parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *port;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
            return false;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = 0;
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host)
            return false;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = 0;
        port = colon + 1;
    }
    long p;
    if (!parse_long(port, 0, 65535, &p))
        return false;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
        return false;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return true;
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen,
                      const struct sockaddr_storage *b, socklen_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static void forget_client(struct proxy *p, size_t i)
{
    struct client *cl = &p->clients[i];
    if (!cl->used)
        return;
    close(cl->fd);
    cl->used = false;
    p->nclients--;
    /* Datagrams still queued for this client go nowhere. */
    for (size_t k = 0; k < p->queued; k++)
        if (p->queue[k]->client == (int)i)
            p->queue[k]->client = -1;
}

/* The slot of the client at addr, made on first contact; -1 when full. */
static int client_slot(struct proxy *p, const struct sockaddr_storage *addr, socklen_t len,
                       int64_t now)
{
    int free_slot = -1;
    for (size_t i = 0; i < p->max_clients; i++) {
        struct client *cl = &p->clients[i];
        if (cl->used && same_addr(&cl->addr, cl->addr_len, addr, len)) {
            cl->last = now;
            return (int)i;
        }
        if (cl->used && now - cl->last > p->idle_s * 1000)
            forget_client(p, i);
        if (!cl->used && free_slot < 0)
            free_slot = (int)i;
    }
    if (free_slot < 0)
        return -1;
    int fd = socket(p->target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&p->target, p->target_len) != 0) {
        close(fd);
        return -1;
    }
    struct client *cl = &p->clients[free_slot];
    *cl = (struct client){true, *addr, len, fd, now};
    p->nclients++;
    return free_slot;
}

static void put_on_wire(struct proxy *p, int dir, int client, const uint8_t *data, size_t len)
{
    struct counters *c = &p->c[dir];
    if (client < 0 || !p->clients[client].used) {
        c->errors++;
        return;
    }
    const struct client *cl = &p->clients[client];
    ssize_t n = dir == UP ? send(cl->fd, data, len, 0)
                          : sendto(p->lfd, data, len, 0, (const struct sockaddr *)&cl->addr,
                                   cl->addr_len);
    if (n < 0) {
        c->errors++;
        return;
    }
    c->sent++;
    /* Every datagram that goes out overtakes the held ones of its direction. */
    for (size_t k = 0; k < p->queued; k++) {
        struct pkt *q = p->queue[k];
        if (q->held && q->dir == dir && q->due == INT64_MAX) {
            q->overtaken = true;
            if (q->gap && --q->gap == 0)
                q->due = 0; /* released: goes out at the next flush */
        }
    }
}

static void enqueue(struct proxy *p, int dir, int client, const uint8_t *data, size_t len,
                    int64_t due, bool held, int64_t now)
{
    if (p->queued == p->queue_max) {
        p->c[dir].overflow++;
        return;
    }
    struct pkt *q = malloc(sizeof *q + len);
    if (!q) {
        p->c[dir].overflow++;
        return;
    }
    *q = (struct pkt){.due = held ? INT64_MAX : due,
                      .limit = now + p->reorder_ms,
                      .seq = p->seq++,
                      .dir = dir,
                      .client = client,
                      .gap = p->reorder_gap,
                      .held = held,
                      .len = len};
    memcpy(q->data, data, len);
    p->queue[p->queued++] = q;
}

/* Sends every queued datagram that is due, earliest first; sending one may
 * release held ones, so this repeats until nothing is due. */
static void flush(struct proxy *p, int64_t now)
{
    for (;;) {
        size_t best = SIZE_MAX;
        int64_t best_due = 0;
        for (size_t k = 0; k < p->queued; k++) {
            struct pkt *q = p->queue[k];
            int64_t due = q->due == INT64_MAX && now >= q->limit ? now : q->due;
            if (due > now)
                continue;
            if (best == SIZE_MAX || due < best_due ||
                (due == best_due && q->seq < p->queue[best]->seq)) {
                best = k;
                best_due = due;
            }
        }
        if (best == SIZE_MAX)
            return;
        struct pkt *q = p->queue[best];
        p->queue[best] = p->queue[--p->queued];
        if (q->held && q->overtaken)
            p->c[q->dir].reordered++;
        put_on_wire(p, q->dir, q->client, q->data, q->len);
        free(q);
    }
}

/* One datagram arrived in direction dir for client: lose, duplicate, hold,
 * delay or forward it. */
static void impair(struct proxy *p, int dir, int client, const uint8_t *data, size_t len,
                   int64_t now)
{
    const struct impair *im = &p->imp[dir];
    struct counters *c = &p->c[dir];
    uint64_t *rng = &p->rng[dir];
    c->rx++;
    if (chance(rng, im->loss)) {
        c->lost++;
        return;
    }
    int copies = 1;
    if (chance(rng, im->dup)) {
        c->dup++;
        copies = 2;
    }
    for (int i = 0; i < copies; i++) {
        if (chance(rng, im->reorder)) {
            c->held++;
            enqueue(p, dir, client, data, len, 0, true, now);
            continue;
        }
        long wait = im->delay_ms + uniform(rng, im->jitter_ms);
        if (wait > 0) {
            c->delayed++;
            enqueue(p, dir, client, data, len, now + wait, false, now);
        } else {
            put_on_wire(p, dir, client, data, len);
        }
    }
    flush(p, now);
}

static void print_counters(const struct proxy *p, FILE *f)
{
    for (int d = UP; d <= DOWN; d++) {
        const struct counters *c = &p->c[d];
        fprintf(f,
                "%s rx=%lu sent=%lu lost=%lu dup=%lu held=%lu reordered=%lu delayed=%lu "
                "overflow=%lu errors=%lu\n",
                dir_name[d], c->rx, c->sent, c->lost, c->dup, c->held, c->reordered, c->delayed,
                c->overflow, c->errors);
    }
    fprintf(f, "clients=%zu\n", p->nclients);
    fflush(f);
}

static int64_t next_deadline(const struct proxy *p, int64_t end)
{
    int64_t t = end;
    for (size_t k = 0; k < p->queued; k++) {
        const struct pkt *q = p->queue[k];
        int64_t due = q->due == INT64_MAX ? q->limit : q->due;
        if (due < t)
            t = due;
    }
    return t;
}

static void run(struct proxy *p, long duration_s)
{
    static uint8_t buf[MAX_DGRAM];
    struct pollfd *fds = calloc(p->max_clients + 1, sizeof *fds);
    int *slot_of = calloc(p->max_clients + 1, sizeof *slot_of);
    if (!fds || !slot_of) {
        free(fds);
        free(slot_of);
        return;
    }
    int64_t end = now_ms() + duration_s * 1000;
    while (!stop_signal) {
        int64_t now = now_ms();
        if (now >= end)
            break;
        flush(p, now);
        nfds_t n = 0;
        fds[n++] = (struct pollfd){p->lfd, POLLIN, 0};
        for (size_t i = 0; i < p->max_clients; i++) {
            if (!p->clients[i].used)
                continue;
            slot_of[n] = (int)i;
            fds[n++] = (struct pollfd){p->clients[i].fd, POLLIN, 0};
        }
        int64_t wait = next_deadline(p, end) - now;
        if (wait > 1000)
            wait = 1000;
        if (wait < 0)
            wait = 0;
        if (poll(fds, n, (int)wait) <= 0)
            continue;
        now = now_ms();
        if (fds[0].revents & POLLIN) {
            /* A bounded batch per wake-up so the answers are not starved. */
            for (int k = 0; k < 64; k++) {
                struct sockaddr_storage from;
                socklen_t flen = sizeof from;
                ssize_t r = recvfrom(p->lfd, buf, sizeof buf, MSG_DONTWAIT,
                                     (struct sockaddr *)&from, &flen);
                if (r < 0)
                    break;
                int cl = client_slot(p, &from, flen, now);
                if (cl < 0) {
                    p->c[UP].rx++;
                    p->c[UP].errors++;
                    continue;
                }
                impair(p, UP, cl, buf, (size_t)r, now);
            }
        }
        for (nfds_t i = 1; i < n; i++) {
            if (!(fds[i].revents & (POLLIN | POLLERR)))
                continue;
            int cl = slot_of[i];
            for (int k = 0; k < 64 && p->clients[cl].used; k++) {
                ssize_t r = recv(p->clients[cl].fd, buf, sizeof buf, MSG_DONTWAIT);
                if (r < 0)
                    break; /* EAGAIN, or ECONNREFUSED: the target is not there (yet) */
                p->clients[cl].last = now;
                impair(p, DOWN, cl, buf, (size_t)r, now);
            }
        }
    }
    free(fds);
    free(slot_of);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " --listen ADDR:PORT --target ADDR:PORT [options]\n"
            "\n"
            "A UDP proxy that loses, duplicates, reorders and delays datagrams, for tests.\n"
            "\"up\" is client to target, \"down\" target to client; the plain options\n"
            "set both directions.\n"
            "\n"
            "  --loss P, --up-loss P, --down-loss P        drop P %% (0-100, decimals allowed)\n"
            "  --dup P, --up-dup P, --down-dup P           send P %% twice\n"
            "  --reorder P, --up-reorder P, --down-reorder P\n"
            "                                             hold P %% back until --reorder-gap\n"
            "                                             later datagrams went out\n"
            "  --reorder-gap N                            default 1\n"
            "  --reorder-ms MS                            longest hold (default 100)\n"
            "  --delay MS, --up-delay, --down-delay        fixed delay\n"
            "  --jitter MS, --up-jitter, --down-jitter     extra uniform 0..MS delay\n"
            "  --seed N                                   generator seed (default 1)\n"
            "  --duration S                               exit after S seconds (default 300)\n"
            "  --idle S                                   forget silent clients (default 60)\n"
            "  --max-clients N                            default 1024\n"
            "  --queue N                                  datagrams waiting at once (4096)\n"
            "  -h, --help\n"
            "\n"
            "Prints \"listening PORT\", and its counters at exit (SIGTERM, SIGINT, --duration).\n");
}

enum {
    O_LISTEN = 256,
    O_TARGET,
    O_SEED,
    O_DURATION,
    O_IDLE,
    O_MAX_CLIENTS,
    O_QUEUE,
    O_REORDER_MS,
    O_REORDER_GAP,
    /* per-direction options: base + 3 * kind + {0 both, 1 up, 2 down} */
    O_IMPAIR_BASE = 512,
};
enum { K_LOSS, K_DUP, K_REORDER, K_DELAY, K_JITTER, K_COUNT };

static int set_impair(struct proxy *p, int kind, int which, const char *arg, const char *name)
{
    for (int d = UP; d <= DOWN; d++) {
        if (which != 0 && which != d + 1)
            continue;
        struct impair *im = &p->imp[d];
        bool ok;
        switch (kind) {
        case K_LOSS: ok = parse_percent(arg, &im->loss); break;
        case K_DUP: ok = parse_percent(arg, &im->dup); break;
        case K_REORDER: ok = parse_percent(arg, &im->reorder); break;
        case K_DELAY: ok = parse_long(arg, 0, 60000, &im->delay_ms); break;
        default: ok = parse_long(arg, 0, 60000, &im->jitter_ms); break;
        }
        if (!ok)
            return usage_error(kind <= K_REORDER ? "not a percentage (0-100)"
                                                 : "not a number of ms (0-60000)",
                               name);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const kinds[K_COUNT] = {"loss", "dup", "reorder", "delay", "jitter"};
    static const char *const prefixes[3] = {"", "up-", "down-"};
    static char names[K_COUNT * 3][24];
    struct option lo[9 + K_COUNT * 3 + 2] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"target", required_argument, NULL, O_TARGET},
        {"seed", required_argument, NULL, O_SEED},
        {"duration", required_argument, NULL, O_DURATION},
        {"idle", required_argument, NULL, O_IDLE},
        {"max-clients", required_argument, NULL, O_MAX_CLIENTS},
        {"queue", required_argument, NULL, O_QUEUE},
        {"reorder-ms", required_argument, NULL, O_REORDER_MS},
        {"reorder-gap", required_argument, NULL, O_REORDER_GAP},
    };
    size_t nlo = 9;
    for (int k = 0; k < K_COUNT; k++)
        for (int w = 0; w < 3; w++) {
            char *nm = names[k * 3 + w];
            snprintf(nm, sizeof names[0], "%s%s", prefixes[w], kinds[k]);
            lo[nlo++] = (struct option){nm, required_argument, NULL, O_IMPAIR_BASE + k * 3 + w};
        }
    lo[nlo++] = (struct option){"help", no_argument, NULL, 'h'};
    lo[nlo] = (struct option){NULL, 0, NULL, 0};

    struct proxy p = {.lfd = -1, .reorder_ms = 100, .reorder_gap = 1, .idle_s = 60,
                      .max_clients = 1024, .queue_max = 4096};
    const char *listen_s = NULL, *target_s = NULL;
    long seed = 1, duration = 300, v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_LISTEN: listen_s = optarg; break;
        case O_TARGET: target_s = optarg; break;
        case O_SEED:
            if (!parse_long(optarg, 0, 0x7fffffff, &seed))
                return usage_error("--seed: not a number", optarg);
            break;
        case O_DURATION:
            if (!parse_long(optarg, 1, 3600, &duration))
                return usage_error("--duration: not 1-3600 seconds", optarg);
            break;
        case O_IDLE:
            if (!parse_long(optarg, 1, 3600, &p.idle_s))
                return usage_error("--idle: not 1-3600 seconds", optarg);
            break;
        case O_MAX_CLIENTS:
            if (!parse_long(optarg, 1, 65536, &v))
                return usage_error("--max-clients: not 1-65536", optarg);
            p.max_clients = (size_t)v;
            break;
        case O_QUEUE:
            if (!parse_long(optarg, 1, 1 << 20, &v))
                return usage_error("--queue: not 1-1048576", optarg);
            p.queue_max = (size_t)v;
            break;
        case O_REORDER_MS:
            if (!parse_long(optarg, 1, 60000, &p.reorder_ms))
                return usage_error("--reorder-ms: not 1-60000", optarg);
            break;
        case O_REORDER_GAP:
            if (!parse_long(optarg, 1, 1000, &v))
                return usage_error("--reorder-gap: not 1-1000", optarg);
            p.reorder_gap = (unsigned)v;
            break;
        case 'h': usage(stdout); return 0;
        default:
            if (c >= O_IMPAIR_BASE && c < O_IMPAIR_BASE + K_COUNT * 3) {
                int k = (c - O_IMPAIR_BASE) / 3, w = (c - O_IMPAIR_BASE) % 3;
                int rc = set_impair(&p, k, w, optarg, names[k * 3 + w]);
                if (rc)
                    return rc;
                break;
            }
            return usage_error("unknown option or missing argument",
                               argv[optind - 1] ? argv[optind - 1] : "");
        }
    }
    if (optind != argc)
        return usage_error("unexpected argument", argv[optind]);
    if (!listen_s || !target_s)
        return usage_error("--listen and --target are required", listen_s ? "--target" : "--listen");
    struct sockaddr_storage laddr;
    socklen_t llen;
    if (!parse_hostport(listen_s, &laddr, &llen))
        return usage_error("--listen: not IP:PORT", listen_s);
    if (!parse_hostport(target_s, &p.target, &p.target_len))
        return usage_error("--target: not IP:PORT", target_s);
    p.rng[UP] = (uint64_t)seed * 2 + 1;
    p.rng[DOWN] = (uint64_t)seed * 2 + 2;

    p.lfd = socket(laddr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p.lfd < 0 || bind(p.lfd, (struct sockaddr *)&laddr, llen) != 0) {
        fprintf(stderr, PROG ": listen on %s: %s\n", listen_s, strerror(errno));
        return 1;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(p.lfd, (struct sockaddr *)&bound, &blen);
    char port[16];
    getnameinfo((struct sockaddr *)&bound, blen, NULL, 0, port, sizeof port, NI_NUMERICSERV);
    p.clients = calloc(p.max_clients, sizeof *p.clients);
    p.queue = calloc(p.queue_max, sizeof *p.queue);
    if (!p.clients || !p.queue) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("listening %s\n", port);
    fflush(stdout);

    run(&p, duration);

    print_counters(&p, stdout);
    for (size_t k = 0; k < p.queued; k++)
        free(p.queue[k]);
    for (size_t i = 0; i < p.max_clients; i++)
        if (p.clients[i].used)
            close(p.clients[i].fd);
    free(p.queue);
    free(p.clients);
    close(p.lfd);
    return 0;
}
