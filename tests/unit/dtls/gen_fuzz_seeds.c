/* Writes the seed corpus of fuzz_dtls_server: runs a real mbedTLS client
 * against the fuzz target's own server set-up and records what the client
 * sent, framed as the target reads it. Because both ends are deterministic,
 * replaying the recording makes the fuzz target reach CONNECTED.
 * Usage: gen_fuzz_seeds DIR   (run by hand; not a test) */
#include "fuzz/fuzz_dtls_server.h"

#include <stdio.h>
#include <stdlib.h>

struct recording {
    uint8_t buf[16384];
    size_t len;
};

static void record(struct recording *r, unsigned ctrl, const uint8_t *d, size_t n)
{
    if (r->len + 3 + n > sizeof r->buf)
        abort();
    r->buf[r->len++] = (uint8_t)ctrl;
    r->buf[r->len++] = (uint8_t)(n >> 8);
    r->buf[r->len++] = (uint8_t)n;
    memcpy(r->buf + r->len, d, n);
    r->len += n;
}

struct inbox {
    uint8_t d[16][2048];
    size_t n[16];
    int count;
};

static void to_client(void *user, const struct dk_addr *to, const uint8_t *d, size_t n)
{
    (void)to;
    struct inbox *in = user;
    if (in->count < 16 && n <= sizeof in->d[0]) {
        memcpy(in->d[in->count], d, n);
        in->n[in->count++] = n;
    }
}

static void save(const char *dir, const char *name, const struct recording *r)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(r->buf, 1, r->len, fp) != r->len || fclose(fp))
        abort();
}

/* Client sends, server answers into the inbox, client reads the inbox. */
static void pump(struct fz *f, struct dk_dtls_session *cli, struct inbox *in, struct recording *r,
                 unsigned first_ctrl)
{
    uint8_t d[2048];
    int n;
    bool first = true;
    for (int round = 0; round < 8; round++) {
        while ((n = dk_dtls_session_pop_tx(cli, d, sizeof d)) > 0) {
            unsigned ctrl = first ? first_ctrl : 0;
            first = false;
            record(r, ctrl, d, (size_t)n);
            fz_datagram(f, ctrl, d, (size_t)n);
        }
        for (int i = 0; i < in->count; i++)
            dk_dtls_session_recv(cli, in->d[i], in->n[i], f->now);
        in->count = 0;
    }
}

/* With the cookie oracle on the first hello, the server answers a hello
 * the client never sent, so their transcripts differ and the handshake ends
 * at Finished: still a seed that reaches deep into the backend. */
static void one_run(const char *dir, const char *name, unsigned first_ctrl, bool talk)
{
    struct fz f;
    if (fz_setup(&f))
        abort();
    struct inbox in = {0};
    f.out = to_client;
    f.out_user = &in;
    struct dk_rng crng;
    dk_rng_init(&crng);
    dk_rng_setup_deterministic(&crng, "fuzz-client", 11);
    struct dk_dtls_params p = {.role = DK_DTLS_CLIENT,
                               .modes = DK_DTLS_MODE_PSK,
                               .psk_identity = (const uint8_t *)"fuzz",
                               .psk_identity_len = 4,
                               .psk = fz_key,
                               .psk_len = sizeof fz_key,
                               .rng = &crng};
    struct dk_dtls_config cfg;
    dk_dtls_config_init(&cfg);
    struct dk_dtls_session *cli;
    if (dk_dtls_config_setup(&cfg, dk_dtls_backend_mbedtls(), &p) ||
        dk_dtls_session_new(&cli, &cfg, &f.peers[0], f.now))
        abort();
    static struct recording r;
    r.len = 0;
    if (!talk) {
        uint8_t d[2048];
        int n = dk_dtls_session_pop_tx(cli, d, sizeof d);
        record(&r, first_ctrl, d, (size_t)n);
    } else {
        pump(&f, cli, &in, &r, first_ctrl);
        if (dk_dtls_session_state(cli) != DK_DTLS_CONNECTED && !(first_ctrl & 8)) {
            fprintf(stderr, "gen_fuzz_seeds: %s did not connect\n", name);
            exit(1);
        }
        dk_dtls_session_write(cli, (const uint8_t *)"ping", 4, f.now);
        pump(&f, cli, &in, &r, 0);
        dk_dtls_session_close(cli, f.now);
        pump(&f, cli, &in, &r, 0);
    }
    save(dir, name, &r);
    dk_dtls_session_free(cli);
    dk_dtls_config_free(&cfg);
    dk_rng_free(&crng);
    fz_free(&f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_fuzz_seeds DIR\n");
        return 2;
    }
    one_run(argv[1], "client_hello", 0, false);
    one_run(argv[1], "psk_handshake_with_cookie_exchange", 0, true);
    one_run(argv[1], "psk_handshake_cookie_oracle", 8, true);
    return 0;
}
