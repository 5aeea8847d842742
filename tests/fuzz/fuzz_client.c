// dk-fuzz-libs: dk_client dk_coap dk_lwm2m dk_base m
/* LwM2M client engine: arbitrary datagrams into a client that is registered
 * with an LwM2M Server (first byte even) or in a bootstrap session with its
 * Bootstrap Server (first byte odd), through the entry point the program
 * calls (dk_client_recv), with time passing between datagrams.
 *
 * Input: mode byte, then chunks of [flags u8][len u16 big-endian][datagram]:
 * flags bit 0 picks the sender (the session's server, or a stranger), bits
 * 1-7 advance the clock by that many times 250 ms before the datagram. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <duckling/client.h>
#include <duckling/coap.h>
#include <duckling/err.h>
#include <duckling/lwm2m.h>

static struct dk_rng rng;
static struct dk_coap_config ccfg;
static struct dk_client_config cfg;
static struct dk_addr srv_addr, bs_addr, stranger;
static struct dk_client C;
static dk_time_t now;
static uint8_t rec_srv[256], rec_sec[256];
static struct dk_store_record recs[2];

static int open_transport(void *user, const struct dk_client_transport *t)
{
    const struct dk_addr *a = t->kind == DK_CLIENT_BOOTSTRAP_SERVER ? &bs_addr : &srv_addr;
    dk_client_transport_up(&C, t->id, a, now);
    return 0;
}

static void close_transport(void *user, uint32_t id)
{
}

static int persist(void *user, const struct dk_store_record *r, size_t n)
{
    return 0;
}

static int set_led(void *user, bool on, uint8_t dimmer)
{
    return 0;
}

static int read_temp(void *user, double *v)
{
    *v = 20.0 + (double)(now % 10000) / 1000.0;
    return 0;
}

static int read_lux(void *user, double *v)
{
    *v = 300;
    return 0;
}

static size_t encode(const char *path, const struct dk_lwm2m_record *r, size_t n, uint8_t *out,
                     size_t cap)
{
    struct dk_buf b;
    dk_buf_init(&b, out, cap);
    struct dk_lwm2m_path base;
    dk_lwm2m_path_parse(path, strlen(path), &base);
    dk_lwm2m_encode(DK_LWM2M_CF_TLV, &base, r, n, &b);
    return b.len;
}

static void init_once(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    dk_rng_init(&rng);
    dk_rng_setup_deterministic(&rng, "fuzz-client", 11);
    dk_coap_config_init(&ccfg);
    ccfg.rng = &rng;
    ccfg.ack_random_factor_pm = 1000;
    ccfg.max_body = 8192;
    dk_addr_from_ip(&srv_addr, "10.0.0.3", 5683);
    dk_addr_from_ip(&bs_addr, "10.0.0.2", 5783);
    dk_addr_from_ip(&stranger, "10.0.0.9", 4000);
    dk_client_config_init(&cfg);
    cfg.endpoint = "fuzz";
    cfg.bs_uri = "coap://10.0.0.2:5783";
    cfg.bs_sec.mode = DK_CLIENT_SEC_NOSEC;
    cfg.device.manufacturer = "duckling";
    cfg.driver.set_led = set_led;
    cfg.driver.read_temperature = read_temp;
    cfg.driver.read_illuminance = read_lux;
    cfg.coap = &ccfg;
    cfg.rng = &rng;
    cfg.cbs.open_transport = open_transport;
    cfg.cbs.close_transport = close_transport;
    cfg.cbs.persist = persist;
    struct dk_lwm2m_record sec[] = {
        {dk_lwm2m_path_res(0, 1, 0), dk_lwm2m_str("coap://10.0.0.3:5683"), 0},
        {dk_lwm2m_path_res(0, 1, 1), dk_lwm2m_bool(false), 0},
        {dk_lwm2m_path_res(0, 1, 2), dk_lwm2m_int(3), 0},
        {dk_lwm2m_path_res(0, 1, 10), dk_lwm2m_int(101), 0},
    };
    struct dk_lwm2m_record srv[] = {
        {dk_lwm2m_path_res(1, 0, 0), dk_lwm2m_int(101), 0},
        {dk_lwm2m_path_res(1, 0, 1), dk_lwm2m_int(300), 0},
        {dk_lwm2m_path_res(1, 0, 7), dk_lwm2m_str("U"), 0},
    };
    recs[0].key = "/0/1";
    recs[0].value = rec_sec;
    recs[0].len = encode("/0/1", sec, 4, rec_sec, sizeof rec_sec);
    recs[1].key = "/1/0";
    recs[1].value = rec_srv;
    recs[1].len = encode("/1/0", srv, 3, rec_srv, sizeof rec_srv);
}

/* Answers the client's pending request (Register or Bootstrap-Request). */
static void answer_first(const struct dk_addr *from, uint8_t code)
{
    uint8_t buf[2048], out[64];
    struct dk_addr to;
    int n;
    while ((n = dk_client_pop_tx(&C, &to, buf, sizeof buf)) > 0) {
        struct dk_coap_msg m, r;
        if (dk_coap_msg_decode(&m, buf, (size_t)n) || m.type != DK_COAP_CON)
            continue;
        dk_coap_msg_init(&r, DK_COAP_ACK, code, m.mid);
        dk_coap_msg_set_token(&r, m.token, m.tkl);
        if (code == DK_COAP_CREATED) {
            dk_coap_msg_add_str(&r, DK_COAP_OPT_LOCATION_PATH, "rd");
            dk_coap_msg_add_str(&r, DK_COAP_OPT_LOCATION_PATH, "1");
        }
        size_t len;
        if (dk_coap_msg_encode(&r, out, sizeof out, &len) == 0)
            dk_client_recv(&C, from, out, len, now);
    }
}

static void drain(void)
{
    uint8_t buf[2048];
    struct dk_addr to;
    while (dk_client_pop_tx(&C, &to, buf, sizeof buf) > 0) {
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size < 1)
        return 0;
    bool bootstrap = data[0] & 1;
    now = 1000000;
    dk_client_init(&C);
    if (dk_client_setup(&C, &cfg))
        return 0;
    if (!bootstrap)
        dk_client_load(&C, recs, 2);
    dk_client_start(&C, now);
    const struct dk_addr *peer = bootstrap ? &bs_addr : &srv_addr;
    answer_first(peer, bootstrap ? DK_COAP_CHANGED : DK_COAP_CREATED);
    size_t pos = 1;
    while (pos + 3 <= size) {
        uint8_t flags = data[pos];
        size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        now += (dk_time_t)(flags >> 1) * 250;
        dk_client_tick(&C, now);
        drain();
        dk_client_recv(&C, (flags & 1) ? &stranger : peer, data + pos, len, now);
        drain();
        pos += len;
    }
    /* Let timers run: notifications, updates, retransmissions. */
    for (int i = 0; i < 4; i++) {
        now += 3000;
        dk_client_tick(&C, now);
        drain();
    }
    dk_client_stop(&C, now);
    now += 20000;
    dk_client_tick(&C, now);
    drain();
    dk_client_free(&C);
    return 0;
}
