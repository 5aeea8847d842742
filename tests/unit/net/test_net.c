#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>

#include <duckling/err.h>
#include <duckling/loop.h>
#include <duckling/udp.h>

static void round_trip(const char *ip)
{
    struct dk_udp a, b;
    dk_udp_init(&a);
    dk_udp_init(&b);
    assert_int_equal(dk_udp_open(&a, ip, 0), 0);
    assert_int_equal(dk_udp_open(&b, ip, 0), 0);
    assert_true(dk_addr_port(&a.local) != 0);
    uint8_t buf[64];
    struct dk_addr from;
    assert_int_equal(dk_udp_recv(&b, &from, buf, sizeof buf), DK_EAGAIN);
    assert_int_equal(dk_udp_send(&a, &b.local, "hello", 5), 0);
    struct pollfd p = {b.fd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 2000), 1);
    assert_int_equal(dk_udp_recv(&b, &from, buf, sizeof buf), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_true(dk_addr_equal(&from, &a.local));
    /* A datagram longer than the buffer is reported, not silently cut. */
    assert_int_equal(dk_udp_send(&a, &b.local, "0123456789", 10), 0);
    assert_int_equal(poll(&p, 1, 2000), 1);
    assert_int_equal(dk_udp_recv(&b, &from, buf, 4), DK_ENOSPC);
    dk_udp_close(&a);
    dk_udp_close(&b);
    dk_udp_close(&b); /* close is always safe */
}

static void test_udp_ipv4(void **state)
{
    (void)state;
    round_trip("127.0.0.1");
}

static void test_udp_ipv6(void **state)
{
    (void)state;
    round_trip("::1");
}

static void test_udp_dual_stack_sees_ipv4_peer(void **state)
{
    (void)state;
    struct dk_udp srv, cli;
    dk_udp_init(&srv);
    dk_udp_init(&cli);
    assert_int_equal(dk_udp_open(&srv, "::", 0), 0);
    assert_int_equal(dk_udp_open(&cli, "127.0.0.1", 0), 0);
    struct dk_addr to;
    assert_int_equal(dk_addr_from_ip(&to, "127.0.0.1", dk_addr_port(&srv.local)), 0);
    assert_int_equal(dk_udp_send(&cli, &to, "x", 1), 0);
    struct pollfd p = {srv.fd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 2000), 1);
    struct dk_addr from;
    uint8_t buf[8];
    assert_int_equal(dk_udp_recv(&srv, &from, buf, sizeof buf), 1);
    assert_true(dk_addr_equal(&from, &cli.local)); /* unmapped to plain IPv4 */
    assert_int_equal(dk_udp_send(&srv, &from, "y", 1), 0); /* and mapped back to send */
    p.fd = cli.fd;
    assert_int_equal(poll(&p, 1, 2000), 1);
    assert_int_equal(dk_udp_recv(&cli, &from, buf, sizeof buf), 1);
    dk_udp_close(&srv);
    dk_udp_close(&cli);
}

static void test_udp_bad_address(void **state)
{
    (void)state;
    struct dk_udp u;
    dk_udp_init(&u);
    assert_int_equal(dk_udp_open(&u, "not-an-ip", 0), DK_EPARSE);
    char s[DK_ADDR_STRLEN];
    struct dk_addr a;
    assert_int_equal(dk_addr_from_ip(&a, "[::1]", 5683), 0);
    assert_string_equal(dk_addr_format(&a, s, sizeof s), "[::1]:5683");
}

struct loop_state {
    struct dk_udp *u;
    int got;
    int timer_calls;
    int signals;
    struct dk_loop *loop;
};

static void on_readable(void *user, int fd, short revents, dk_time_t now)
{
    struct loop_state *st = user;
    uint8_t buf[16];
    struct dk_addr from;
    while (dk_udp_recv(st->u, &from, buf, sizeof buf) > 0)
        st->got++;
    if (st->got >= 2)
        dk_loop_stop(st->loop);
}

static dk_time_t on_timer(void *user, dk_time_t now)
{
    struct loop_state *st = user;
    st->timer_calls++;
    return now + 5;
}

static void on_signal(void *user, int sig, short revents, dk_time_t now)
{
    struct loop_state *st = user;
    if (sig == SIGUSR1)
        st->signals++;
    dk_loop_stop(st->loop);
}

static void test_loop_dispatches_fds_timers_signals(void **state)
{
    (void)state;
    struct dk_udp a, b;
    dk_udp_init(&a);
    dk_udp_init(&b);
    assert_int_equal(dk_udp_open(&a, "127.0.0.1", 0), 0);
    assert_int_equal(dk_udp_open(&b, "127.0.0.1", 0), 0);
    struct dk_loop loop;
    dk_loop_init(&loop);
    struct loop_state st = {&b, 0, 0, 0, &loop};
    assert_int_equal(dk_loop_add_fd(&loop, b.fd, POLLIN, on_readable, &st), 0);
    assert_int_equal(dk_loop_add_fd(&loop, b.fd, POLLIN, on_readable, &st), DK_EEXIST);
    assert_int_equal(dk_loop_add_timer(&loop, on_timer, &st), 0);
    dk_udp_send(&a, &b.local, "1", 1);
    dk_udp_send(&a, &b.local, "2", 1);
    for (int i = 0; i < 100 && !loop.stop; i++)
        assert_int_equal(dk_loop_run_once(&loop, 100), 0);
    assert_int_equal(st.got, 2);
    assert_true(st.timer_calls >= 1);

    const int sigs[] = {SIGUSR1, 0};
    assert_int_equal(dk_loop_watch_signals(&loop, sigs, on_signal, &st), 0);
    loop.stop = false;
    raise(SIGUSR1);
    for (int i = 0; i < 100 && !loop.stop; i++)
        assert_int_equal(dk_loop_run_once(&loop, 100), 0);
    assert_int_equal(st.signals, 1);
    dk_loop_free(&loop);
    dk_udp_close(&a);
    dk_udp_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_ipv4),
        cmocka_unit_test(test_udp_ipv6),
        cmocka_unit_test(test_udp_dual_stack_sees_ipv4_peer),
        cmocka_unit_test(test_udp_bad_address),
        cmocka_unit_test(test_loop_dispatches_fds_timers_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
