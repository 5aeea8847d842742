/* Unit tests of the REST request parser (routing, percent-decoding, path
 * traversal refusal, JSON bodies, the OOB label), and of the admin token. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <duckling/err.h>
#include <duckling/gateway.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LABEL                                                                                      \
    "01;EP:055192;T:LED;WIFI;WPA2-PSK:huawei_iot:5bd1f120735d1ba4e2d2149aeb891850;03;"             \
    "367f36ee1f5e272cfbca1ca35a73e42b;34;;"

struct parsed {
    int rc;
    struct dk_gw_cmd cmd;
    struct dk_gw_cmd_error err;
};

static struct parsed *parse(const char *method, const char *path, const char *query,
                            const char *body)
{
    static struct parsed p;
    dk_gw_cmd_free(&p.cmd);
    dk_gw_cmd_init(&p.cmd);
    p.rc = dk_gw_cmd_parse(method, path, query, body, body ? strlen(body) : 0, &p.cmd, &p.err);
    return &p;
}

static int teardown_parse(void **state)
{
    (void)state;
    struct parsed *p = parse("GET", "/", NULL, NULL);
    dk_gw_cmd_free(&p->cmd);
    return 0;
}

static void expect_kind(const char *method, const char *path, enum dk_gw_cmd_kind kind)
{
    struct parsed *p = parse(method, path, NULL, NULL);
    if (p->rc != 0)
        fail_msg("%s %s: %d %s", method, path, p->err.status, p->err.msg);
    assert_int_equal(p->cmd.kind, kind);
}

static void expect_status(const char *method, const char *path, const char *body, int status,
                          const char *msg_part)
{
    struct parsed *p = parse(method, path, NULL, body);
    if (p->rc == 0 || p->err.status != status)
        fail_msg("%s %s: rc %d status %d (%s), wanted %d", method, path, p->rc, p->err.status,
                 p->err.msg, status);
    if (msg_part && !strstr(p->err.msg, msg_part))
        fail_msg("%s %s: message '%s' lacks '%s'", method, path, p->err.msg, msg_part);
}

static void test_routes(void **state)
{
    (void)state;
    expect_kind("GET", "/api/status", DK_GW_CMD_STATUS);
    expect_kind("GET", "/api/oob", DK_GW_CMD_OOB_LIST);
    expect_kind("DELETE", "/api/oob/055192", DK_GW_CMD_OOB_DELETE);
    expect_kind("GET", "/api/pending", DK_GW_CMD_PENDING_LIST);
    expect_kind("POST", "/api/pending/055192/approve", DK_GW_CMD_APPROVE);
    expect_kind("POST", "/api/pending/055192/deny", DK_GW_CMD_DENY);
    expect_kind("GET", "/api/devices", DK_GW_CMD_DEVICES);
    expect_kind("GET", "/api/devices/055192", DK_GW_CMD_DEVICE_GET);
    expect_kind("DELETE", "/api/devices/055192", DK_GW_CMD_DEVICE_DELETE);
    expect_kind("POST", "/api/devices/055192/reset", DK_GW_CMD_RESET);
    expect_kind("GET", "/api/devices/055192/3303/0/5700", DK_GW_CMD_READ);
    expect_kind("POST", "/api/devices/055192/3/0/4", DK_GW_CMD_EXECUTE);
    expect_kind("POST", "/api/devices/055192/3303/0/5700/observe", DK_GW_CMD_OBSERVE);
    expect_kind("DELETE", "/api/devices/055192/3303/0/5700/observe", DK_GW_CMD_UNOBSERVE);
    expect_kind("GET", "/api/audit", DK_GW_CMD_AUDIT);
    expect_kind("GET", "/api/events", DK_GW_CMD_EVENTS);
    expect_kind("POST", "/api/events/ticket", DK_GW_CMD_EVENTS_TICKET);
    expect_kind("GET", "/", DK_GW_CMD_STATIC);
    expect_kind("HEAD", "/app.js", DK_GW_CMD_STATIC);

    struct parsed *p = parse("GET", "/api/devices/055192/3303/0/5700/0", NULL, NULL);
    assert_int_equal(p->rc, 0);
    assert_string_equal(p->cmd.ep, "055192");
    assert_string_equal(p->cmd.path, "/3303/0/5700/0");
    p = parse("GET", "/api/devices/x/03303/00", NULL, NULL);
    assert_int_equal(p->rc, 0);
    assert_string_equal(p->cmd.path, "/3303/0");
}

static void test_not_found_and_methods(void **state)
{
    (void)state;
    expect_status("GET", "/api", NULL, 404, NULL);
    expect_status("GET", "/api/", NULL, 404, NULL);
    expect_status("GET", "/api/nothing", NULL, 404, NULL);
    expect_status("GET", "/api/oob/", NULL, 404, NULL);
    expect_status("GET", "/api/devices/ep/reset/x", NULL, 404, NULL);
    expect_status("GET", "/api/devices/ep/temperature", NULL, 404, NULL);
    expect_status("PUT", "/api/oob", NULL, 405, "GET, POST");
    expect_status("GET", "/api/pending/ep/approve", NULL, 405, "POST");
    expect_status("PATCH", "/api/devices/ep/3/0/1", NULL, 405, NULL);
    expect_status("POST", "/api/events", NULL, 405, NULL);
    expect_status("GET", "/api/events/ticket", NULL, 405, "POST");
    expect_status("POST", "/api/events/other", NULL, 404, NULL);
    expect_status("DELETE", "/index.html", NULL, 405, NULL);
    struct parsed *p = parse("PUT", "/api/oob", NULL, NULL);
    assert_string_equal(p->err.allow, "GET, POST");
    assert_int_equal(p->rc, DK_ENOTSUP);
    p = parse("GET", "/api/x", NULL, NULL);
    assert_int_equal(p->rc, DK_ENOTFOUND);
}

static void test_paths_and_endpoints(void **state)
{
    (void)state;
    struct parsed *p = parse("GET", "/api/devices/a%20b%2Fc", NULL, NULL);
    assert_int_equal(p->rc, 0);
    assert_string_equal(p->cmd.ep, "a b/c");
    expect_status("GET", "/api/devices/a%zz", NULL, 400, "percent");
    expect_status("GET", "/api/devices/a%2", NULL, 400, NULL);
    expect_status("GET", "/api/devices/a%00b", NULL, 400, NULL);
    expect_status("GET", "/api/devices/a%0ab", NULL, 400, NULL);
    char longep[128] = "/api/devices/";
    memset(longep + strlen(longep), 'e', 65);
    expect_status("GET", longep, NULL, 400, "endpoint");
    expect_status("GET", "/api/devices/ep/65536", NULL, 400, "65535");
    expect_status("GET", "/api/devices/ep/3/0/1/2/3", NULL, 400, "1 to 4");
    expect_status("GET", "/api/devices/ep/3/x", NULL, 400, "not an LwM2M id");
    expect_status("GET", "/api/devices/ep/3//1", NULL, 400, NULL);
    expect_status("GET", "api/status", NULL, 400, NULL);
    expect_status("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n", NULL, 404, NULL);
}

static void test_static_paths(void **state)
{
    (void)state;
    struct parsed *p = parse("GET", "/", NULL, NULL);
    assert_string_equal(p->cmd.file, "index.html");
    p = parse("GET", "/css/", NULL, NULL);
    assert_string_equal(p->cmd.file, "css/index.html");
    p = parse("GET", "/js/app%2Ejs", NULL, NULL);
    assert_int_equal(p->rc, 0);
    assert_string_equal(p->cmd.file, "js/app.js");
    /* Traversal, plain or encoded, is refused. */
    expect_status("GET", "/../etc/passwd", NULL, 400, "..");
    expect_status("GET", "/a/../../etc/passwd", NULL, 400, "..");
    expect_status("GET", "/%2e%2e/etc/passwd", NULL, 400, "..");
    expect_status("GET", "/%2E%2E%2Fetc%2Fpasswd", NULL, 400, NULL);
    expect_status("GET", "/.%2e/x", NULL, 400, "..");
    expect_status("GET", "/./index.html", NULL, 400, NULL);
    expect_status("GET", "/a%2fb", NULL, 400, "'/'");
    expect_status("GET", "/a%5c..%5cb", NULL, 400, NULL);
    expect_status("GET", "/a//b", NULL, 400, "empty");
    expect_status("GET", "/.git/config", NULL, 404, NULL);
    /* Double encoding stays literal: a file named "%2e%2e", not "..". */
    p = parse("GET", "/%252e%252e/x", NULL, NULL);
    assert_int_equal(p->rc, 0);
    assert_string_equal(p->cmd.file, "%2e%2e/x");
    p = parse("HEAD", "/x", NULL, NULL);
    assert_true(p->cmd.head);
}

static void test_oob_body(void **state)
{
    (void)state;
    struct parsed *p = parse("POST", "/api/oob", NULL, "{\"label\": \"" LABEL "\"}");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->cmd.kind, DK_GW_CMD_OOB_ADD);
    assert_string_equal(p->cmd.oob.endpoint, "055192");
    assert_string_equal(p->cmd.oob.type, "LED");
    assert_string_equal(p->cmd.oob.channel, "WIFI");
    assert_string_equal(p->cmd.oob.ap_ssid, "huawei_iot");
    assert_int_equal(p->cmd.oob.ap_psk_len, 16);
    assert_int_equal(p->cmd.oob.cred_type, DK_GW_CRED_X509);
    assert_int_equal(p->cmd.oob.cred_len, 16);
    assert_int_equal(p->cmd.oob.cred[0], 0x36);
    assert_int_equal(strlen(p->cmd.oob.label_sha256), 64);
    char hash[65];
    strcpy(hash, p->cmd.oob.label_sha256);

    /* The same label, typed in upper case with spaces, is the same label. */
    p = parse("POST", "/api/oob", NULL,
              "{\"label\": \"  01;EP:055192;T:LED;WIFI;WPA2-PSK:huawei_iot:"
              "5BD1F120735D1BA4E2D2149AEB891850;03;367F36EE1F5E272CFBCA1CA35A73E42B;34;; \\n\"}");
    assert_int_equal(p->rc, 0);
    assert_string_equal(p->cmd.oob.label_sha256, hash);

    /* A mistyped checksum names the field. */
    char bad[512];
    snprintf(bad, sizeof bad, "{\"label\": \"%s\"}", LABEL);
    char *sum = strstr(bad, ";34;;");
    sum[2] = '5';
    p = parse("POST", "/api/oob", NULL, bad);
    assert_int_equal(p->rc, DK_EPARSE);
    assert_int_equal(p->err.status, 400);
    assert_string_equal(p->err.field, "checksum");
    assert_non_null(strstr(p->err.msg, "checksum"));
    p = parse("POST", "/api/oob", NULL, "{\"label\": \"02;EP:x;;\"}");
    assert_int_equal(p->err.status, 400);
    assert_string_equal(p->err.field, "version");

    expect_status("POST", "/api/oob", NULL, 400, "JSON object is required");
    expect_status("POST", "/api/oob", "   ", 400, "required");
    expect_status("POST", "/api/oob", "{\"label\":", 400, "not valid JSON");
    expect_status("POST", "/api/oob", "[1,2]", 400, "JSON object");
    expect_status("POST", "/api/oob", "{}", 400, "label: missing");
    expect_status("POST", "/api/oob", "{\"label\": 5}", 400, "must be a string");
    expect_status("POST", "/api/oob", "{\"label\": \"x\", \"lable\": 1}", 400, "unknown field");
    expect_status("POST", "/api/oob", "{\"label\": \"x\"} trailing", 400, "after the JSON");
    expect_status("POST", "/api/oob", "{\"label\": \"\"}", 400, "bad label");
}

static void test_write_and_execute_bodies(void **state)
{
    (void)state;
    struct parsed *p = parse("PUT", "/api/devices/ep/3311/0/5850", NULL, "{\"value\": true}");
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->cmd.kind, DK_GW_CMD_WRITE);
    assert_string_equal(p->cmd.value_json, "true");
    p = parse("PUT", "/api/devices/ep/3303/0", NULL,
              "{\"value\": [{\"n\": \"/3303/0/5750\", \"vs\": \"hall\"}]}");
    assert_int_equal(p->rc, 0);
    assert_string_equal(p->cmd.value_json, "[{\"n\":\"/3303/0/5750\",\"vs\":\"hall\"}]");
    expect_status("PUT", "/api/devices/ep/3/0/1", "{}", 400, "value: missing");
    expect_status("PUT", "/api/devices/ep/3/0/1", "{\"value\": null}", 400, "null");
    expect_status("PUT", "/api/devices/ep/3/0/1", NULL, 400, "required");

    p = parse("POST", "/api/devices/ep/3/0/4", NULL, NULL);
    assert_int_equal(p->rc, 0);
    assert_false(p->cmd.has_args);
    p = parse("POST", "/api/devices/ep/3/0/4", NULL, "{\"args\": \"0='x'\"}");
    assert_int_equal(p->rc, 0);
    assert_true(p->cmd.has_args);
    assert_string_equal(p->cmd.args, "0='x'");
    expect_status("POST", "/api/devices/ep/3/0/4", "{\"args\": 1}", 400, "string");
    expect_status("POST", "/api/devices/ep/3/0/4", "{\"args\": \"a\\nb\"}", 400, "printable");
    char longargs[400] = "{\"args\": \"";
    memset(longargs + strlen(longargs), 'a', 300);
    strcat(longargs, "\"}");
    expect_status("POST", "/api/devices/ep/3/0/4", longargs, 400, "longer");
    /* Commands without a body accept an empty one or an object. */
    expect_kind("POST", "/api/pending/ep/approve", DK_GW_CMD_APPROVE);
    p = parse("POST", "/api/pending/ep/approve", NULL, "{}");
    assert_int_equal(p->rc, 0);
    expect_status("POST", "/api/pending/ep/approve", "nope", 400, "JSON");
}

static void test_audit_query(void **state)
{
    (void)state;
    struct parsed *p = parse("GET", "/api/audit", "limit=5&before=20&endpoint=a%20b", NULL);
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->cmd.limit, 5);
    assert_int_equal(p->cmd.before, 20);
    assert_string_equal(p->cmd.audit_ep, "a b");
    p = parse("GET", "/api/audit", NULL, NULL);
    assert_int_equal(p->cmd.limit, 100);
    assert_int_equal(p->cmd.before, 0);
    assert_string_equal(p->cmd.audit_ep, "");
    p = parse("GET", "/api/audit", "token=abc&limit=1000", NULL);
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->cmd.limit, 1000);
    p = parse("GET", "/api/audit", "limit=0", NULL);
    assert_int_equal(p->err.status, 400);
    assert_non_null(strstr(p->err.msg, "limit"));
    p = parse("GET", "/api/audit", "limit=12x", NULL);
    assert_int_equal(p->err.status, 400);
    p = parse("GET", "/api/audit", "before=-1", NULL);
    assert_int_equal(p->err.status, 400);
    p = parse("GET", "/api/audit", "limit", NULL);
    assert_int_equal(p->err.status, 400);
    p = parse("GET", "/api/audit", "endpoint=%zz", NULL);
    assert_int_equal(p->err.status, 400);
}

/* ---- admin token ---------------------------------------------------------------- */

static void test_token_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/dk_gwtoken_XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct dk_rng rng;
    dk_rng_init(&rng);
    assert_int_equal(dk_rng_setup(&rng, NULL, 0), 0);
    char tok[DK_GW_TOKEN_HEX + 1], again[DK_GW_TOKEN_HEX + 1];
    bool created = false;
    assert_int_equal(dk_gw_token_load_or_create(dir, &rng, tok, &created), 0);
    assert_true(created);
    assert_int_equal(strlen(tok), 64);
    assert_int_equal(strspn(tok, "0123456789abcdef"), 64);
    char path[128];
    snprintf(path, sizeof path, "%s/admin.token", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);

    assert_int_equal(dk_gw_token_load_or_create(dir, &rng, again, &created), 0);
    assert_false(created);
    assert_string_equal(again, tok);

    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(dk_gw_token_load_or_create(dir, &rng, again, &created), DK_EPERM);
    assert_int_equal(chmod(path, 0600), 0);
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "short\n", 6), 6);
    close(fd);
    assert_int_equal(dk_gw_token_load_or_create(dir, &rng, again, &created), DK_EPARSE);
    unlink(path);
    assert_int_equal(dk_gw_token_load_or_create(dir, &rng, again, &created), 0);
    assert_true(created);
    assert_string_not_equal(again, tok);
    unlink(path);
    rmdir(dir);
    dk_rng_free(&rng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_not_found_and_methods),
        cmocka_unit_test(test_paths_and_endpoints),
        cmocka_unit_test(test_static_paths),
        cmocka_unit_test(test_oob_body),
        cmocka_unit_test(test_write_and_execute_bodies),
        cmocka_unit_test(test_audit_query),
        cmocka_unit_test(test_token_file),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_parse);
}
