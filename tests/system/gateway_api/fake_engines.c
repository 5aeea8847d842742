/* TEST ONLY: fake Bootstrap Server and LwM2M Server engines for
 * duckling-gateway, so the gateway's hooks, suspend/resume and the CLI can be
 * tested before the real engines exist. Built into tests/bin/fake-gateway
 * (never into build/bin).
 *
 * Simulated world:
 *  - Scanning a label (oob_changed) makes the device ask to be bootstrapped
 *    100 ms later, through dk_gw_bootstrap_attempt(), exactly as the real
 *    Bootstrap Server will. Endpoints starting with "bad" present a
 *    credential that does not match their label.
 *  - Approval (approved hook) makes the device retry: APPROVED -> operational
 *    PSK issued -> Bootstrap-Finish -> registration.
 *  - Device operations complete asynchronously (50 ms later) from a loop
 *    timer, so the HTTP connection is really suspended and resumed; reading
 *    /3/0/1 answers synchronously (done() inside the call); /3303/0/5601
 *    takes 2.5 s; /9999/... never answers (the gateway times out). */
#include "../../../apps/duckling-gateway/gateway_main.h"

#include <duckling/err.h>
#include <duckling/mem.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ACTIONS 256
#define MAX_VALUES 16

enum action_kind { A_ATTEMPT, A_COMPLETE, A_NOTIFY };

struct action {
    bool used;
    enum action_kind kind;
    dk_time_t due;
    char ep[DK_GW_EP_MAX + 1];
    char path[DK_GW_PATH_MAX + 1];
    void *req;
    dk_gw_done_fn *done;
    struct dk_gw_result res;
    char json[256];
};

struct value {
    char path[DK_GW_PATH_MAX + 1];
    char json[64];
};

struct fake {
    struct dk_gw *gw;
    struct dk_loop *loop;
    struct action act[MAX_ACTIONS];
    struct value val[MAX_VALUES];
    size_t nval;
    unsigned creds_serial;
    double temperature;
};

static struct fake F;

static struct action *schedule(enum action_kind kind, dk_time_t delay, const char *ep)
{
    for (size_t i = 0; i < MAX_ACTIONS; i++) {
        struct action *a = &F.act[i];
        if (!a->used) {
            memset(a, 0, sizeof *a);
            a->used = true;
            a->kind = kind;
            a->due = dk_clock_now() + delay;
            snprintf(a->ep, sizeof a->ep, "%s", ep);
            a->res.content_format = -1;
            return a;
        }
    }
    return NULL;
}

static struct value *find_value(const char *path)
{
    for (size_t i = 0; i < F.nval; i++)
        if (strcmp(F.val[i].path, path) == 0)
            return &F.val[i];
    return NULL;
}

static void set_value(const char *path, const char *json)
{
    struct value *v = find_value(path);
    if (!v && F.nval < MAX_VALUES)
        v = &F.val[F.nval++];
    if (v) {
        snprintf(v->path, sizeof v->path, "%s", path);
        snprintf(v->json, sizeof v->json, "%s", json);
    }
}

static bool registered(const char *ep)
{
    struct dk_gw_device d;
    return dk_gwdb_device_get(dk_gw_db(F.gw), ep, &d) == 0 && d.state == DK_GW_DEV_REGISTERED;
}

/* ---- bootstrap ------------------------------------------------------------- */

static void provision(const char *ep)
{
    struct dk_gw_cred c;
    memset(&c, 0, sizeof c);
    snprintf(c.endpoint, sizeof c.endpoint, "%.64s", ep);
    c.kind = DK_GW_CRED_PSK;
    c.psk_identity_len = (size_t)snprintf((char *)c.psk_identity, sizeof c.psk_identity, "op-%s-%u",
                                          ep, ++F.creds_serial);
    for (size_t i = 0; i < 16; i++)
        c.psk[i] = (uint8_t)(0xa0 + i + F.creds_serial);
    c.psk_len = 16;
    dk_gw_creds_issued(F.gw, &c);
    dk_memzero(&c, sizeof c);
    dk_gw_bootstrap_finished(F.gw, ep);
    struct dk_gw_registration r;
    memset(&r, 0, sizeof r);
    r.lifetime = 300;
    snprintf(r.binding, sizeof r.binding, "U");
    snprintf(r.version, sizeof r.version, "1.1");
    snprintf(r.links, sizeof r.links, "</1/0>,</3/0>,</3303/0>,</3311/0>");
    snprintf(r.peer, sizeof r.peer, "127.0.0.1:56830");
    snprintf(r.location, sizeof r.location, "/rd/%u", F.creds_serial);
    dk_gw_registered(F.gw, ep, &r, false);
    dk_gw_location(F.gw, ep, 60.1699, 24.9384);
    /* An engine's own event, through the public publish function. */
    dk_gw_event_publish(F.gw, "device", ep, "{\"action\":\"fake-provisioned\",\"serial\":1}");
}

static void attempt(const char *ep)
{
    struct dk_gw_oob rec;
    int err = dk_gwdb_find_oob(dk_gw_db(F.gw), ep, &rec);
    int cred = err ? DK_GW_CRED_PSK : rec.cred_type;
    dk_memzero(&rec, sizeof rec);
    bool match = strncmp(ep, "bad", 3) != 0;
    enum dk_gw_decision d;
    err = dk_gw_bootstrap_attempt(F.gw, ep, match, cred, "127.0.0.1:57840", &d);
    if (!err && d == DK_GW_APPROVED)
        provision(ep);
}

static void bs_oob_changed(void *user, const char *ep, bool removed)
{
    (void)user;
    if (!removed)
        schedule(A_ATTEMPT, 100, ep);
}

static void bs_approved(void *user, const char *ep)
{
    (void)user;
    schedule(A_ATTEMPT, 50, ep);
}

static void bs_denied(void *user, const char *ep)
{
    (void)user;
    (void)ep;
}

static const struct dk_gw_bootstrap_ops bs_ops = {
    .approved = bs_approved,
    .denied = bs_denied,
    .oob_changed = bs_oob_changed,
};

/* ---- device operations ---------------------------------------------------------- */

static int complete_later(const char *ep, const char *path, dk_gw_done_fn *done, void *req,
                          uint8_t code, const char *json, dk_time_t delay)
{
    struct action *a = schedule(A_COMPLETE, delay, ep);
    if (!a)
        return DK_ELIMIT;
    snprintf(a->path, sizeof a->path, "%s", path);
    a->req = req;
    a->done = done;
    a->res.coap_code = code;
    if (json) {
        snprintf(a->json, sizeof a->json, "%s", json);
        a->res.content_format = 110;
    }
    return 0;
}

static int op_read(void *user, const char *ep, const char *path, dk_gw_done_fn *done, void *req)
{
    (void)user;
    if (!registered(ep))
        return DK_ENOTFOUND;
    if (strncmp(path, "/9999", 5) == 0)
        return complete_later(ep, path, done, req, 0x45, "0", 3600 * 1000);
    if (strcmp(path, "/3/0/1") == 0) {
        /* A synchronous answer: done() before returning. */
        struct dk_gw_result r = {.coap_code = 0x45, .content_format = 0, .json = "\"fake-model\""};
        done(req, &r);
        return 0;
    }
    if (strcmp(path, "/3303/0/5601") == 0)
        return complete_later(ep, path, done, req, 0x45, "-5.5", 2500);
    if (strcmp(path, "/3303/0") == 0)
        return complete_later(ep, path, done, req, 0x45,
                              "[{\"n\":\"/3303/0/5700\",\"v\":21.5},"
                              "{\"n\":\"/3303/0/5701\",\"vs\":\"Cel\"}]",
                              50);
    struct value *v = find_value(path);
    if (!v)
        return complete_later(ep, path, done, req, 0x84, NULL, 50);
    return complete_later(ep, path, done, req, 0x45, v->json, 50);
}

static int op_write(void *user, const char *ep, const char *path, const char *value,
                    dk_gw_done_fn *done, void *req)
{
    (void)user;
    if (!registered(ep))
        return DK_ENOTFOUND;
    if (!find_value(path))
        return complete_later(ep, path, done, req, 0x84, NULL, 50);
    set_value(path, value);
    return complete_later(ep, path, done, req, 0x44, NULL, 50);
}

static int op_execute(void *user, const char *ep, const char *path, const char *args,
                      dk_gw_done_fn *done, void *req)
{
    (void)user;
    (void)args;
    if (!registered(ep))
        return DK_ENOTFOUND;
    if (strcmp(path, "/3/0/5") == 0 || strcmp(path, "/3/0/4") == 0)
        return complete_later(ep, path, done, req, 0x44, NULL, 50);
    return complete_later(ep, path, done, req, 0x85, NULL, 50);
}

static int op_observe(void *user, const char *ep, const char *path, dk_gw_done_fn *done, void *req)
{
    int rc = op_read(user, ep, path, done, req);
    if (rc == 0 && strcmp(path, "/3303/0/5700") == 0) {
        struct action *a = schedule(A_NOTIFY, 200, ep);
        if (a)
            snprintf(a->path, sizeof a->path, "%s", path);
    }
    return rc;
}

static int op_cancel_observe(void *user, const char *ep, const char *path, dk_gw_done_fn *done,
                             void *req)
{
    (void)user;
    for (size_t i = 0; i < MAX_ACTIONS; i++) {
        struct action *a = &F.act[i];
        if (a->used && a->kind == A_NOTIFY && strcmp(a->ep, ep) == 0 && strcmp(a->path, path) == 0)
            a->used = false;
    }
    return complete_later(ep, path, done, req, 0x45, NULL, 20);
}

static void op_cancel(void *user, void *req)
{
    (void)user;
    for (size_t i = 0; i < MAX_ACTIONS; i++)
        if (F.act[i].used && F.act[i].kind == A_COMPLETE && F.act[i].req == req)
            F.act[i].used = false;
}

static void op_forget(void *user, const char *ep)
{
    (void)user;
    for (size_t i = 0; i < MAX_ACTIONS; i++)
        if (F.act[i].used && F.act[i].kind == A_NOTIFY && strcmp(F.act[i].ep, ep) == 0)
            F.act[i].used = false;
}

static const struct dk_gw_device_ops dev_ops = {
    .read = op_read,
    .write = op_write,
    .execute = op_execute,
    .observe = op_observe,
    .cancel_observe = op_cancel_observe,
    .cancel = op_cancel,
    .forget = op_forget,
};

/* ---- the loop ------------------------------------------------------------------------- */

static dk_time_t on_timer(void *user, dk_time_t now)
{
    (void)user;
    dk_time_t next = DK_TIME_NEVER;
    for (size_t i = 0; i < MAX_ACTIONS; i++) {
        struct action *a = &F.act[i];
        if (!a->used)
            continue;
        if (a->due > now) {
            next = dk_time_min(next, a->due);
            continue;
        }
        struct action cur = *a; /* the slot may be reused by schedule() */
        a->used = false;
        a = &cur;
        switch (a->kind) {
        case A_ATTEMPT:
            attempt(a->ep);
            break;
        case A_COMPLETE:
            a->res.json = a->json[0] ? a->json : NULL;
            a->done(a->req, &a->res);
            break;
        case A_NOTIFY: {
            F.temperature += 0.5;
            char json[32];
            snprintf(json, sizeof json, "%.1f", F.temperature);
            set_value(a->path, json);
            dk_gw_notify(F.gw, a->ep, a->path, 110, json);
            struct action *n = schedule(A_NOTIFY, 200, a->ep);
            if (n) {
                memcpy(n->path, a->path, sizeof n->path);
                next = dk_time_min(next, n->due);
            }
            break;
        }
        }
    }
    return next;
}

static int fake_prepare(void *self, const struct gw_options *opt, struct dk_gw_config *cfg)
{
    (void)self;
    (void)opt;
    cfg->dev_ops = &dev_ops;
    cfg->bs_ops = &bs_ops;
    cfg->bootstrap_status = "fake engine (test build)";
    cfg->server_status = "fake engine (test build)";
    cfg->keepalive_ms = 400; /* so the test sees keep-alive comments */
    F.temperature = 21.5;
    set_value("/3303/0/5700", "21.5");
    set_value("/3311/0/5850", "false");
    set_value("/3311/0/5851", "0");
    return 0;
}

static int fake_start(void *self, struct dk_gw *gw, struct dk_loop *loop)
{
    (void)self;
    F.gw = gw;
    F.loop = loop;
    return dk_loop_add_timer(loop, on_timer, NULL);
}

static void fake_stop(void *self)
{
    (void)self;
    memset(F.act, 0, sizeof F.act);
}

int main(int argc, char **argv)
{
    static const struct gw_engines engines = {
        .name = "fake",
        .prepare = fake_prepare,
        .start = fake_start,
        .stop = fake_stop,
    };
    return gw_main(argc, argv, &engines);
}
