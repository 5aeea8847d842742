/* Unit tests of the gateway database (include/duckling/gwdb.h): schema and
 * migrations, file mode, every table, limits, and that a closed and reopened
 * database keeps everything (a gateway restart). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <duckling/err.h>
#include <duckling/gwdb.h>

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char dir[64];
    char path[128];
    struct dk_gwdb db;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/dk_gwdb_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/gateway.db", f->dir);
    if (dk_gwdb_open(&f->db, f->path, NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    dk_gwdb_close(&f->db);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void reopen(struct fx *f)
{
    dk_gwdb_close(&f->db);
    assert_int_equal(dk_gwdb_open(&f->db, f->path, NULL), 0);
}

static struct dk_gw_oob make_oob(const char *ep, int cred_type)
{
    struct dk_gw_oob o;
    memset(&o, 0, sizeof o);
    snprintf(o.endpoint, sizeof o.endpoint, "%s", ep);
    snprintf(o.type, sizeof o.type, "LED");
    snprintf(o.channel, sizeof o.channel, "WIFI");
    snprintf(o.ap_ssid, sizeof o.ap_ssid, "setup-%s", ep);
    o.ap_psk_len = 16;
    memset(o.ap_psk, 0x5b, 16);
    o.cred_type = cred_type;
    o.cred_len = 16;
    for (int i = 0; i < 16; i++)
        o.cred[i] = (uint8_t)(i * 7 + 1);
    snprintf(o.label_sha256, sizeof o.label_sha256, "%064d", 7);
    o.created = 1000;
    return o;
}

static struct dk_gw_cred make_psk(const char *ep, const char *identity, uint8_t fill)
{
    struct dk_gw_cred c;
    memset(&c, 0, sizeof c);
    snprintf(c.endpoint, sizeof c.endpoint, "%s", ep);
    c.kind = DK_GW_CRED_PSK;
    c.psk_identity_len = strlen(identity);
    memcpy(c.psk_identity, identity, c.psk_identity_len);
    c.psk_len = 16;
    memset(c.psk, fill, 16);
    return c;
}

/* ---- file, schema --------------------------------------------------------- */

static void test_file_is_private_wal_and_versioned(void **state)
{
    struct fx *f = *state;
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(f->db.schema_version, DK_GWDB_SCHEMA_VERSION);

    /* Look at the file with a second, independent connection. */
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(raw, "SELECT count(*), max(version) FROM schema_migrations",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), DK_GWDB_SCHEMA_VERSION);
    assert_int_equal(sqlite3_column_int(s, 1), DK_GWDB_SCHEMA_VERSION);
    sqlite3_finalize(s);
    sqlite3_close(raw);

    /* WAL side files take the database's mode. */
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* Reopening applies nothing twice. */
    reopen(f);
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(raw, "SELECT count(*) FROM schema_migrations", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), DK_GWDB_SCHEMA_VERSION);
    sqlite3_finalize(s);
    sqlite3_close(raw);
}

static void test_existing_file_mode_is_narrowed(void **state)
{
    struct fx *f = *state;
    dk_gwdb_close(&f->db);
    assert_int_equal(chmod(f->path, 0644), 0);
    assert_int_equal(dk_gwdb_open(&f->db, f->path, NULL), 0);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_newer_schema_is_refused(void **state)
{
    struct fx *f = *state;
    dk_gwdb_close(&f->db);
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(raw, "INSERT INTO schema_migrations VALUES (99, 0)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(dk_gwdb_open(&f->db, f->path, NULL), DK_EVERSION);
    assert_null(f->db.db);
    dk_gwdb_close(&f->db); /* safe after a failed open */
    /* Put it back so teardown's close has nothing to do but is still safe. */
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    sqlite3_exec(raw, "DELETE FROM schema_migrations WHERE version = 99", NULL, NULL, NULL);
    sqlite3_close(raw);
    assert_int_equal(dk_gwdb_open(&f->db, f->path, NULL), 0);
}

static void test_not_a_database_is_refused(void **state)
{
    struct fx *f = *state;
    char junk[160];
    snprintf(junk, sizeof junk, "%s/junk.db", f->dir);
    int fd = open(junk, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char text[4096];
    memset(text, 'x', sizeof text);
    assert_int_equal(write(fd, text, sizeof text), (ssize_t)sizeof text);
    close(fd);
    struct dk_gwdb db;
    dk_gwdb_init(&db);
    assert_int_equal(dk_gwdb_open(&db, junk, NULL), DK_ECORRUPT);
    dk_gwdb_close(&db);
    char missing_dir[160];
    snprintf(missing_dir, sizeof missing_dir, "%s/no/such/dir.db", f->dir);
    assert_int_equal(dk_gwdb_open(&db, missing_dir, NULL), DK_EIO);
    dk_gwdb_close(&db);
}

/* ---- OOB records ------------------------------------------------------------ */

static int count_oob(void *user, const struct dk_gw_oob *o)
{
    char *order = user;
    strcat(order, o->endpoint);
    strcat(order, ",");
    return 0;
}

static int stop_at_first(void *user, const struct dk_gw_oob *o)
{
    (void)o;
    (*(int *)user)++;
    return 42;
}

static void test_oob_records(void **state)
{
    struct fx *f = *state;
    struct dk_gw_oob a = make_oob("055192", DK_GW_CRED_PSK), b = make_oob("dev-2", DK_GW_CRED_X509);
    b.created = 2000;
    assert_int_equal(dk_gwdb_add_oob(&f->db, &a), 0);
    assert_int_equal(dk_gwdb_add_oob(&f->db, &b), 0);
    assert_int_equal(dk_gwdb_add_oob(&f->db, &a), DK_EEXIST);

    struct dk_gw_oob got;
    assert_int_equal(dk_gwdb_find_oob(&f->db, "055192", &got), 0);
    assert_string_equal(got.type, "LED");
    assert_string_equal(got.channel, "WIFI");
    assert_string_equal(got.ap_ssid, "setup-055192");
    assert_int_equal(got.ap_psk_len, 16);
    assert_memory_equal(got.ap_psk, a.ap_psk, 16);
    assert_int_equal(got.cred_type, DK_GW_CRED_PSK);
    assert_int_equal(got.cred_len, 16);
    assert_memory_equal(got.cred, a.cred, 16);
    assert_string_equal(got.label_sha256, a.label_sha256);
    assert_int_equal(got.created, 1000);
    assert_int_equal(dk_gwdb_find_oob(&f->db, "nobody", &got), DK_ENOTFOUND);

    char order[64] = "";
    assert_int_equal(dk_gwdb_list_oob(&f->db, count_oob, order), 0);
    assert_string_equal(order, "055192,dev-2,");
    int calls = 0;
    assert_int_equal(dk_gwdb_list_oob(&f->db, stop_at_first, &calls), 42);
    assert_int_equal(calls, 1);

    assert_int_equal(dk_gwdb_delete_oob(&f->db, "055192"), 0);
    assert_int_equal(dk_gwdb_delete_oob(&f->db, "055192"), DK_ENOTFOUND);
    assert_int_equal(dk_gwdb_find_oob(&f->db, "055192", &got), DK_ENOTFOUND);

    /* Bad arguments never reach SQLite. */
    struct dk_gw_oob bad = make_oob("", DK_GW_CRED_PSK);
    assert_int_equal(dk_gwdb_add_oob(&f->db, &bad), DK_EINVAL);
    bad = make_oob("x", 7);
    assert_int_equal(dk_gwdb_add_oob(&f->db, &bad), DK_EINVAL);
    bad = make_oob("x", DK_GW_CRED_PSK);
    bad.cred_len = DK_GW_SECRET_MAX + 1;
    assert_int_equal(dk_gwdb_add_oob(&f->db, &bad), DK_EINVAL);
    char longep[DK_GW_EP_MAX + 2];
    memset(longep, 'e', sizeof longep - 1);
    longep[sizeof longep - 1] = '\0';
    assert_int_equal(dk_gwdb_find_oob(&f->db, longep, &got), DK_EINVAL);
    /* Quotes and SQL in names are just text. */
    bad = make_oob("x'); DROP TABLE oob; --", DK_GW_CRED_NONE);
    assert_int_equal(dk_gwdb_add_oob(&f->db, &bad), 0);
    assert_int_equal(dk_gwdb_find_oob(&f->db, "x'); DROP TABLE oob; --", &got), 0);
    assert_int_equal(dk_gwdb_find_oob(&f->db, "dev-2", &got), 0);
}

/* ---- bootstrap requests ---------------------------------------------------------- */

static int collect_req(void *user, const struct dk_gw_request *r)
{
    char *s = user;
    strcat(s, r->endpoint);
    strcat(s, ",");
    return 0;
}

static void test_requests_pending_refresh_and_limit(void **state)
{
    struct fx *f = *state;
    int64_t id1 = 0, id2 = 0, id3 = 0;
    assert_int_equal(dk_gwdb_request_attempt(&f->db, "a", true, DK_GW_CRED_PSK, "10.0.0.1:5684",
                                             100, 60, 2, &id1),
                     0);
    /* The device retries: same request, refreshed. */
    assert_int_equal(dk_gwdb_request_attempt(&f->db, "a", true, DK_GW_CRED_PSK, "10.0.0.1:6000",
                                             130, 60, 2, &id2),
                     0);
    assert_int_equal(id1, id2);
    struct dk_gw_request r;
    assert_int_equal(dk_gwdb_request_latest(&f->db, "a", &r), 0);
    assert_int_equal(r.state, DK_GW_REQ_PENDING);
    assert_true(r.label_match);
    assert_int_equal(r.peer_cred_type, DK_GW_CRED_PSK);
    assert_string_equal(r.peer, "10.0.0.1:6000");
    assert_int_equal(r.created, 100);
    assert_int_equal(r.last_attempt, 130);
    assert_int_equal(r.expires, 160);
    assert_int_equal(r.decided, 0);
    struct dk_gw_device d;
    assert_int_equal(dk_gwdb_device_get(&f->db, "a", &d), 0);
    assert_int_equal(d.state, DK_GW_DEV_PENDING);

    assert_int_equal(
        dk_gwdb_request_attempt(&f->db, "b", true, DK_GW_CRED_X509, NULL, 110, 60, 2, &id3), 0);
    assert_true(id3 != id1);
    /* Bounded: a third device waits its turn. */
    assert_int_equal(
        dk_gwdb_request_attempt(&f->db, "c", true, DK_GW_CRED_PSK, NULL, 120, 60, 2, NULL),
        DK_ELIMIT);
    assert_int_equal(dk_gwdb_request_latest(&f->db, "c", &r), DK_ENOTFOUND);
    assert_int_equal(dk_gwdb_device_get(&f->db, "c", &d), DK_ENOTFOUND);

    char list[64] = "";
    assert_int_equal(dk_gwdb_list_pending(&f->db, 150, collect_req, list), 0);
    assert_string_equal(list, "a,b,");
    /* At 165 "b" (expires 170) is pending, "a" (160) no longer listed. */
    list[0] = '\0';
    assert_int_equal(dk_gwdb_list_pending(&f->db, 165, collect_req, list), 0);
    assert_string_equal(list, "b,");
    /* ... so there is room for "c" again. */
    assert_int_equal(
        dk_gwdb_request_attempt(&f->db, "c", true, DK_GW_CRED_PSK, NULL, 165, 60, 2, NULL), 0);
    /* "a" retrying after expiry gets a new request; the old one is expired. */
    int64_t id4 = 0;
    assert_int_equal(
        dk_gwdb_request_attempt(&f->db, "a", true, DK_GW_CRED_PSK, NULL, 171, 60, 0, &id4), 0);
    assert_true(id4 > id3);

    assert_int_equal(dk_gwdb_request_attempt(&f->db, "", true, 1, NULL, 1, 1, 0, NULL), DK_EINVAL);
}

static void test_approve_deny_expire(void **state)
{
    struct fx *f = *state;
    assert_int_equal(dk_gwdb_request_attempt(&f->db, "ok", true, 1, NULL, 100, 60, 0, NULL), 0);
    assert_int_equal(dk_gwdb_request_attempt(&f->db, "no", true, 1, NULL, 100, 60, 0, NULL), 0);
    assert_int_equal(dk_gwdb_request_attempt(&f->db, "late", true, 1, NULL, 100, 60, 0, NULL), 0);

    assert_int_equal(dk_gwdb_approve(&f->db, "ok", 120), 0);
    assert_int_equal(dk_gwdb_approve(&f->db, "ok", 121), DK_ENOTFOUND); /* nothing pending */
    struct dk_gw_request r;
    assert_int_equal(dk_gwdb_request_latest(&f->db, "ok", &r), 0);
    assert_int_equal(r.state, DK_GW_REQ_APPROVED);
    assert_int_equal(r.decided, 120);
    struct dk_gw_device d;
    assert_int_equal(dk_gwdb_device_get(&f->db, "ok", &d), 0);
    assert_int_equal(d.state, DK_GW_DEV_APPROVED);

    assert_int_equal(dk_gwdb_deny(&f->db, "no", 120), 0);
    assert_int_equal(dk_gwdb_request_latest(&f->db, "no", &r), 0);
    assert_int_equal(r.state, DK_GW_REQ_DENIED);
    assert_int_equal(dk_gwdb_device_get(&f->db, "no", &d), 0);
    assert_int_equal(d.state, DK_GW_DEV_EXPECTED);

    /* Approving after the deadline fails and records the expiry. */
    assert_int_equal(dk_gwdb_approve(&f->db, "late", 160), DK_ENOTFOUND);
    assert_int_equal(dk_gwdb_request_latest(&f->db, "late", &r), 0);
    assert_int_equal(r.state, DK_GW_REQ_EXPIRED);
    assert_int_equal(r.decided, 160);
    assert_int_equal(dk_gwdb_approve(&f->db, "nobody", 100), DK_ENOTFOUND);

    /* A refused (mismatching) attempt is recorded but never becomes "latest". */
    assert_int_equal(dk_gwdb_request_refused(&f->db, "ok", DK_GW_CRED_X509, "1.2.3.4:1", 130, NULL),
                     0);
    assert_int_equal(dk_gwdb_request_latest(&f->db, "ok", &r), 0);
    assert_int_equal(r.state, DK_GW_REQ_APPROVED);
}

struct due {
    int calls;
    char eps[256];
};

static int on_due(void *user, const struct dk_gw_request *r)
{
    struct due *d = user;
    d->calls++;
    strcat(d->eps, r->endpoint);
    strcat(d->eps, ",");
    assert_int_equal(r->state, DK_GW_REQ_PENDING);
    return 0;
}

static void test_expire_due(void **state)
{
    struct fx *f = *state;
    char ep[8];
    for (int i = 0; i < 20; i++) {
        snprintf(ep, sizeof ep, "e%02d", i);
        assert_int_equal(
            dk_gwdb_request_attempt(&f->db, ep, true, 1, NULL, 100, i < 18 ? 10 : 100, 0, NULL), 0);
    }
    struct due d = {0, ""};
    assert_int_equal(dk_gwdb_expire_due(&f->db, 105, on_due, &d), 0);
    assert_int_equal(d.calls, 0);
    /* 18 due: more than one internal batch. */
    assert_int_equal(dk_gwdb_expire_due(&f->db, 110, on_due, &d), 18);
    assert_int_equal(d.calls, 18);
    assert_int_equal(dk_gwdb_expire_due(&f->db, 110, NULL, NULL), 0);
    struct dk_gw_request r;
    assert_int_equal(dk_gwdb_request_latest(&f->db, "e00", &r), 0);
    assert_int_equal(r.state, DK_GW_REQ_EXPIRED);
    assert_int_equal(dk_gwdb_request_latest(&f->db, "e19", &r), 0);
    assert_int_equal(r.state, DK_GW_REQ_PENDING);
    assert_int_equal(dk_gwdb_expire(&f->db, "e19", 111), 0);
    assert_int_equal(dk_gwdb_request_latest(&f->db, "e19", &r), 0);
    assert_int_equal(r.state, DK_GW_REQ_EXPIRED);
}

/* ---- devices --------------------------------------------------------------------- */

static int collect_dev(void *user, const struct dk_gw_device *d)
{
    char *s = user;
    strcat(s, d->endpoint);
    strcat(s, "=");
    strcat(s, dk_gw_dev_state_name(d->state));
    strcat(s, ",");
    return 0;
}

static void test_devices(void **state)
{
    struct fx *f = *state;
    assert_int_equal(dk_gwdb_device_set_state(&f->db, "d1", DK_GW_DEV_EXPECTED, 10), 0);
    assert_int_equal(dk_gwdb_device_touch(&f->db, "ghost", 10), DK_ENOTFOUND);
    assert_int_equal(dk_gwdb_device_set_location(&f->db, "ghost", 1, 2, 10), DK_ENOTFOUND);
    assert_int_equal(dk_gwdb_device_set_location(&f->db, "d1", 91, 0, 10), DK_EINVAL);
    assert_int_equal(dk_gwdb_device_set_location(&f->db, "d1", 60.1699, 24.9384, 11), 0);

    struct dk_gw_registration reg;
    memset(&reg, 0, sizeof reg);
    reg.lifetime = 300;
    strcpy(reg.binding, "U");
    strcpy(reg.version, "1.1");
    strcpy(reg.links, "</1/0>,</3/0>,</3303/0>");
    strcpy(reg.peer, "[::1]:5683");
    strcpy(reg.location, "/rd/7");
    reg.registered = 20;
    assert_int_equal(dk_gwdb_device_set_registration(&f->db, "d1", &reg), 0);
    /* A registration of an unknown device creates it. */
    assert_int_equal(dk_gwdb_device_set_registration(&f->db, "d2", &reg), 0);

    struct dk_gw_device d;
    assert_int_equal(dk_gwdb_device_get(&f->db, "d1", &d), 0);
    assert_int_equal(d.state, DK_GW_DEV_REGISTERED);
    assert_true(d.has_location);
    assert_true(d.lat > 60.1698 && d.lat < 60.17);
    assert_true(d.has_registration);
    assert_int_equal(d.reg.lifetime, 300);
    assert_string_equal(d.reg.links, "</1/0>,</3/0>,</3303/0>");
    assert_string_equal(d.reg.peer, "[::1]:5683");
    assert_string_equal(d.reg.location, "/rd/7");
    assert_int_equal(d.last_seen, 20);
    assert_int_equal(d.created, 10);
    assert_int_equal(dk_gwdb_device_touch(&f->db, "d1", 30), 0);
    assert_int_equal(dk_gwdb_device_get(&f->db, "d1", &d), 0);
    assert_int_equal(d.last_seen, 30);

    /* upsert writes every field and keeps created. */
    d.state = DK_GW_DEV_OFFLINE;
    strcpy(d.type, "SENSOR");
    d.created = 999;
    d.updated = 40;
    assert_int_equal(dk_gwdb_device_upsert(&f->db, &d), 0);
    struct dk_gw_device e;
    assert_int_equal(dk_gwdb_device_get(&f->db, "d1", &e), 0);
    assert_int_equal(e.state, DK_GW_DEV_OFFLINE);
    assert_string_equal(e.type, "SENSOR");
    assert_int_equal(e.created, 10);
    assert_int_equal(e.updated, 40);

    /* Too long a link list is refused, not cut. */
    memset(reg.links, 'x', sizeof reg.links);
    assert_int_equal(dk_gwdb_device_set_registration(&f->db, "d1", &reg), DK_EINVAL);
    assert_int_equal(dk_gwdb_device_set_state(&f->db, "d1", (enum dk_gw_dev_state)9, 1), DK_EINVAL);

    char list[128] = "";
    assert_int_equal(dk_gwdb_device_list(&f->db, collect_dev, list), 0);
    assert_string_equal(list, "d1=offline,d2=registered,");

    assert_int_equal(dk_gwdb_values_put(&f->db, "d1", "/3303/0/5700", 110, "21.5", 50), 0);
    assert_int_equal(dk_gwdb_device_delete(&f->db, "d1"), 0);
    assert_int_equal(dk_gwdb_device_delete(&f->db, "d1"), DK_ENOTFOUND);
    assert_int_equal(dk_gwdb_device_get(&f->db, "d1", &d), DK_ENOTFOUND);

    enum dk_gw_dev_state st;
    assert_int_equal(dk_gw_dev_state_parse("bootstrapped", &st), 0);
    assert_int_equal(st, DK_GW_DEV_BOOTSTRAPPED);
    assert_int_equal(dk_gw_dev_state_parse("nope", &st), DK_EINVAL);
}

/* ---- credentials ------------------------------------------------------------------ */

static void test_credentials(void **state)
{
    struct fx *f = *state;
    struct dk_gw_cred c1 = make_psk("dev", "op-dev-1", 0x11);
    int64_t id1 = 0, id2 = 0;
    assert_int_equal(dk_gwdb_creds_issue(&f->db, &c1, 100, &id1), 0);
    struct dk_gw_cred got;
    assert_int_equal(dk_gwdb_creds_active(&f->db, "dev", &got), 0);
    assert_int_equal(got.id, id1);
    assert_int_equal(got.kind, DK_GW_CRED_PSK);
    assert_int_equal(got.psk_len, 16);
    assert_memory_equal(got.psk, c1.psk, 16);
    assert_false(got.revoked);
    assert_int_equal(got.issued, 100);

    /* A new issue revokes the old one; the old identity is still known. */
    struct dk_gw_cred c2 = make_psk("dev", "op-dev-2", 0x22);
    assert_int_equal(dk_gwdb_creds_issue(&f->db, &c2, 200, &id2), 0);
    assert_int_equal(dk_gwdb_creds_active(&f->db, "dev", &got), 0);
    assert_int_equal(got.id, id2);
    assert_int_equal(dk_gwdb_creds_find_psk(&f->db, (const uint8_t *)"op-dev-1", 8, &got), 0);
    assert_true(got.revoked);
    assert_int_equal(got.revoked_at, 200);
    assert_string_equal(got.endpoint, "dev");
    assert_int_equal(dk_gwdb_creds_find_psk(&f->db, (const uint8_t *)"op-dev-2", 8, &got), 0);
    assert_false(got.revoked);
    assert_int_equal(dk_gwdb_creds_find_psk(&f->db, (const uint8_t *)"op-dev-3", 8, &got),
                     DK_ENOTFOUND);

    /* Identities are never reused, not even for another device. */
    struct dk_gw_cred dup = make_psk("other", "op-dev-1", 0x33);
    assert_int_equal(dk_gwdb_creds_issue(&f->db, &dup, 300, NULL), DK_EEXIST);
    /* ... and the failed issue did not revoke other's (or dev's) credentials. */
    assert_int_equal(dk_gwdb_creds_active(&f->db, "dev", &got), 0);

    /* Certificates: found by hash. */
    struct dk_gw_cred x;
    memset(&x, 0, sizeof x);
    strcpy(x.endpoint, "cam");
    x.kind = DK_GW_CRED_X509;
    x.cert_len = 300;
    memset(x.cert, 0x30, 300);
    memset(x.hash, 0xab, 32);
    x.has_hash = true;
    assert_int_equal(dk_gwdb_creds_issue(&f->db, &x, 400, NULL), 0);
    uint8_t h[32];
    memset(h, 0xab, 32);
    assert_int_equal(dk_gwdb_creds_find_hash(&f->db, h, &got), 0);
    assert_string_equal(got.endpoint, "cam");
    assert_int_equal(got.cert_len, 300);
    assert_true(got.has_hash);
    assert_int_equal(got.psk_identity_len, 0);
    h[0] = 0;
    assert_int_equal(dk_gwdb_creds_find_hash(&f->db, h, &got), DK_ENOTFOUND);

    int n = -1;
    assert_int_equal(dk_gwdb_creds_revoke(&f->db, "dev", 500, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(dk_gwdb_creds_active(&f->db, "dev", &got), DK_ENOTFOUND);
    assert_int_equal(dk_gwdb_creds_revoke(&f->db, "dev", 501, &n), 0);
    assert_int_equal(n, 0);

    struct dk_gw_cred bad = make_psk("dev", "", 0x44);
    assert_int_equal(dk_gwdb_creds_issue(&f->db, &bad, 1, NULL), DK_EINVAL);
    bad = make_psk("dev", "id", 0x44);
    bad.kind = 0;
    assert_int_equal(dk_gwdb_creds_issue(&f->db, &bad, 1, NULL), DK_EINVAL);
    x.has_hash = false;
    assert_int_equal(dk_gwdb_creds_issue(&f->db, &x, 1, NULL), DK_EINVAL);
}

/* ---- values and audit ------------------------------------------------------------------ */

static int collect_val(void *user, const struct dk_gw_value *v)
{
    char *s = user;
    strcat(s, v->path);
    strcat(s, "=");
    strcat(s, v->json);
    strcat(s, ",");
    return 0;
}

static int collect_audit(void *user, const struct dk_gw_audit *a)
{
    char *s = user;
    char line[64];
    snprintf(line, sizeof line, "%lld:%s,", (long long)a->id, a->event);
    strcat(s, line);
    return 0;
}

static void test_values_and_audit(void **state)
{
    struct fx *f = *state;
    assert_int_equal(dk_gwdb_values_put(&f->db, "d", "/3303/0/5700", 110, "21.5", 1), 0);
    assert_int_equal(dk_gwdb_values_put(&f->db, "d", "/3311/0/5850", 11542, "true", 1), 0);
    assert_int_equal(dk_gwdb_values_put(&f->db, "d", "/3303/0/5700", 110, "22", 2), 0);
    assert_int_equal(dk_gwdb_values_put(&f->db, "e", "/3303/0/5700", 110, "9", 2), 0);
    char s[256] = "";
    assert_int_equal(dk_gwdb_values_list(&f->db, "d", collect_val, s), 0);
    assert_string_equal(s, "/3303/0/5700=22,/3311/0/5850=true,");

    int64_t id;
    assert_int_equal(dk_gwdb_audit_add(&f->db, 10, NULL, "gateway.started", "v", &id), 0);
    assert_int_equal(id, 1);
    assert_int_equal(dk_gwdb_audit_add(&f->db, 11, "d", "oob.added", "x", NULL), 0);
    assert_int_equal(dk_gwdb_audit_add(&f->db, 12, "e", "bootstrap.refused", "y", NULL), 0);
    assert_int_equal(dk_gwdb_audit_add(&f->db, 13, "d", "bootstrap.approved", "z", NULL), 0);
    assert_int_equal(dk_gwdb_audit_add(&f->db, 14, "d", "", "z", NULL), DK_EINVAL);
    /* A long detail is cut, not refused. */
    char longd[2000];
    memset(longd, 'l', sizeof longd - 1);
    longd[sizeof longd - 1] = '\0';
    assert_int_equal(dk_gwdb_audit_add(&f->db, 15, "e", "long", longd, &id), 0);

    s[0] = '\0';
    assert_int_equal(dk_gwdb_audit_list(&f->db, NULL, 0, 0, collect_audit, s), 0);
    assert_string_equal(s, "5:long,4:bootstrap.approved,3:bootstrap.refused,2:oob.added,"
                           "1:gateway.started,");
    s[0] = '\0';
    assert_int_equal(dk_gwdb_audit_list(&f->db, "d", 0, 0, collect_audit, s), 0);
    assert_string_equal(s, "4:bootstrap.approved,2:oob.added,");
    s[0] = '\0';
    assert_int_equal(dk_gwdb_audit_list(&f->db, NULL, 4, 2, collect_audit, s), 0);
    assert_string_equal(s, "3:bootstrap.refused,2:oob.added,");

    int deleted = 0;
    assert_int_equal(dk_gwdb_audit_prune(&f->db, 2, &deleted), 0);
    assert_int_equal(deleted, 3);
    s[0] = '\0';
    assert_int_equal(dk_gwdb_audit_list(&f->db, NULL, 0, 0, collect_audit, s), 0);
    assert_string_equal(s, "5:long,4:bootstrap.approved,");
    assert_int_equal(dk_gwdb_audit_prune(&f->db, 10, &deleted), 0);
    assert_int_equal(deleted, 0);
}

/* ---- a gateway restart -------------------------------------------------------------------- */

static void test_restart_keeps_everything(void **state)
{
    struct fx *f = *state;
    struct dk_gw_oob o = make_oob("keep", DK_GW_CRED_PSK);
    assert_int_equal(dk_gwdb_add_oob(&f->db, &o), 0);
    assert_int_equal(dk_gwdb_request_attempt(&f->db, "keep", true, 1, "p", 100, 600, 0, NULL), 0);
    assert_int_equal(dk_gwdb_approve(&f->db, "keep", 101), 0);
    struct dk_gw_cred c = make_psk("keep", "op-keep-1", 0x55);
    assert_int_equal(dk_gwdb_creds_issue(&f->db, &c, 102, NULL), 0);
    struct dk_gw_registration reg = {.lifetime = 60, .registered = 103};
    strcpy(reg.binding, "U");
    assert_int_equal(dk_gwdb_device_set_registration(&f->db, "keep", &reg), 0);
    assert_int_equal(dk_gwdb_values_put(&f->db, "keep", "/3/0/0", 0, "\"duck\"", 104), 0);
    assert_int_equal(dk_gwdb_audit_add(&f->db, 105, "keep", "server.registered", "", NULL), 0);
    assert_int_equal(dk_gwdb_request_attempt(&f->db, "wait", true, 1, "p", 100, 600, 0, NULL), 0);

    reopen(f);

    struct dk_gw_oob og;
    assert_int_equal(dk_gwdb_find_oob(&f->db, "keep", &og), 0);
    assert_memory_equal(og.cred, o.cred, 16);
    struct dk_gw_request r;
    assert_int_equal(dk_gwdb_request_latest(&f->db, "keep", &r), 0);
    assert_int_equal(r.state, DK_GW_REQ_APPROVED);
    char list[32] = "";
    assert_int_equal(dk_gwdb_list_pending(&f->db, 200, collect_req, list), 0);
    assert_string_equal(list, "wait,");
    struct dk_gw_cred cg;
    assert_int_equal(dk_gwdb_creds_active(&f->db, "keep", &cg), 0);
    assert_memory_equal(cg.psk, c.psk, 16);
    struct dk_gw_device d;
    assert_int_equal(dk_gwdb_device_get(&f->db, "keep", &d), 0);
    assert_int_equal(d.state, DK_GW_DEV_REGISTERED);
    assert_int_equal(d.reg.lifetime, 60);
    char vals[64] = "";
    assert_int_equal(dk_gwdb_values_list(&f->db, "keep", collect_val, vals), 0);
    assert_string_equal(vals, "/3/0/0=\"duck\",");
    char au[64] = "";
    assert_int_equal(dk_gwdb_audit_list(&f->db, "keep", 0, 0, collect_audit, au), 0);
    assert_string_equal(au, "1:server.registered,");
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(dk_gw_cred_type_name(DK_GW_CRED_X509), "x509");
    assert_string_equal(dk_gw_cred_type_name(9), "?");
    assert_string_equal(dk_gw_req_state_name(DK_GW_REQ_EXPIRED), "expired");
    assert_string_equal(dk_gw_dev_state_name(DK_GW_DEV_RESET), "reset");
    struct dk_gwdb db;
    dk_gwdb_init(&db);
    dk_gwdb_close(&db);
    dk_gwdb_close(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_is_private_wal_and_versioned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing_file_mode_is_narrowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oob_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests_pending_refresh_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_approve_deny_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_due, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_and_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_everything, setup, teardown),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
