/* CoRE link format, attributes, object definitions and access control. */
#include "helpers.h"

#include <duckling/lwm2m_link.h>

/* --------------------------------------------------------- link format --- */

static void test_link_write_register_and_discover(void **state)
{
    (void)state;
    char mem[256];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem);
    struct dk_lwm2m_link_writer w;
    dk_lwm2m_link_writer_init(&w, &b);
    struct dk_lwm2m_link root = {.root = true};
    root.attrs.set = DK_LWM2M_ATTR_RT | DK_LWM2M_ATTR_CT;
    root.attrs.rt = "oma.lwm2m";
    root.attrs.rt_len = 9;
    root.attrs.ct[0] = DK_LWM2M_CF_JSON;
    root.attrs.n_ct = 1;
    assert_int_equal(dk_lwm2m_link_write(&w, &root), 0);
    struct dk_lwm2m_attrs ver = {.set = DK_LWM2M_ATTR_VER, .ver_major = 1, .ver_minor = 1};
    struct dk_lwm2m_path p1 = P("/1"), p10 = P("/1/0"), p30 = P("/3/0"), p3311 = P("/3311/0");
    assert_int_equal(dk_lwm2m_link_write_path(&w, &p1, &ver), 0);
    assert_int_equal(dk_lwm2m_link_write_path(&w, &p10, NULL), 0);
    assert_int_equal(dk_lwm2m_link_write_path(&w, &p30, NULL), 0);
    assert_int_equal(dk_lwm2m_link_write_path(&w, &p3311, NULL), 0);
    const char *want = "</>;rt=\"oma.lwm2m\";ct=11543,</1>;ver=1.1,</1/0>,</3/0>,</3311/0>";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(mem, want, b.len);

    /* Discover answer with attributes. */
    dk_buf_init(&b, mem, sizeof mem);
    dk_lwm2m_link_writer_init(&w, &b);
    struct dk_lwm2m_attrs a = {.set = DK_LWM2M_ATTR_PMIN | DK_LWM2M_ATTR_PMAX, .pmin = 10,
                               .pmax = 60};
    struct dk_lwm2m_path r6 = P("/3/0/6"), s = P("/3303/0/5700");
    assert_int_equal(dk_lwm2m_link_write_path(&w, &p30, &a), 0);
    struct dk_lwm2m_attrs dim = {.set = DK_LWM2M_ATTR_DIM, .dim = 2};
    assert_int_equal(dk_lwm2m_link_write_path(&w, &r6, &dim), 0);
    struct dk_lwm2m_attrs th = {.set = DK_LWM2M_ATTR_GT | DK_LWM2M_ATTR_LT | DK_LWM2M_ATTR_ST |
                                       DK_LWM2M_ATTR_EPMIN | DK_LWM2M_ATTR_EPMAX,
                                .gt = 25.5, .lt = 10, .st = 0.5, .epmin = 1, .epmax = 30};
    assert_int_equal(dk_lwm2m_link_write_path(&w, &s, &th), 0);
    want = "</3/0>;pmin=10;pmax=60,</3/0/6>;dim=2,"
           "</3303/0/5700>;gt=25.5;lt=10.0;st=0.5;epmin=1;epmax=30";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(mem, want, b.len);

    /* ct list; bad rt; buffer too small leaves no half link. */
    dk_buf_init(&b, mem, sizeof mem);
    dk_lwm2m_link_writer_init(&w, &b);
    root.attrs.ct[0] = 60;
    root.attrs.ct[1] = 110;
    root.attrs.ct[2] = 11542;
    root.attrs.n_ct = 3;
    assert_int_equal(dk_lwm2m_link_write(&w, &root), 0);
    want = "</>;rt=\"oma.lwm2m\";ct=\"60 110 11542\"";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(mem, want, b.len);
    root.attrs.rt = "a\"b";
    root.attrs.rt_len = 3;
    assert_int_equal(dk_lwm2m_link_write(&w, &root), DK_EINVAL);
    assert_int_equal(b.len, strlen(want));
    char tiny[8];
    dk_buf_init(&b, tiny, sizeof tiny);
    dk_lwm2m_link_writer_init(&w, &b);
    assert_int_equal(dk_lwm2m_link_write_path(&w, &s, NULL), DK_ENOSPC);
    assert_int_equal(b.len, 0);
}

static void test_link_read_registration(void **state)
{
    (void)state;
    const char *reg = "</>;rt=\"oma.lwm2m\";ct=\"60 110 112 11542 11543\",</1>;ver=1.1,</1/0>,"
                      "</3/0>,</3303/0>;pmin=5,</3442/0>;x-vendor;y=\"q\\\"uoted\",</foo/bar>";
    struct dk_lwm2m_link_reader r;
    dk_lwm2m_link_reader_init(&r, reg, strlen(reg));
    struct dk_lwm2m_link l;
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_true(l.root);
    assert_int_equal(l.attrs.n_ct, 5);
    assert_int_equal(l.attrs.ct[4], 11543);
    assert_int_equal(l.attrs.rt_len, 9);
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_true(l.is_path);
    assert_path(&l.path, "/1");
    assert_true(l.attrs.set & DK_LWM2M_ATTR_VER);
    assert_int_equal(l.attrs.ver_major, 1);
    assert_int_equal(l.attrs.ver_minor, 1);
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_path(&l.path, "/1/0");
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_path(&l.path, "/3/0");
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_path(&l.path, "/3303/0");
    assert_int_equal(l.attrs.pmin, 5);
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_path(&l.path, "/3442/0");
    /* raw parameters */
    size_t pos = 0;
    const char *name, *value;
    size_t nl, vl;
    assert_int_equal(dk_lwm2m_link_param_next(&l, &pos, &name, &nl, &value, &vl), 0);
    assert_int_equal(nl, 8);
    assert_memory_equal(name, "x-vendor", 8);
    assert_null(value);
    assert_int_equal(dk_lwm2m_link_param_next(&l, &pos, &name, &nl, &value, &vl), 0);
    assert_int_equal(vl, 8);
    assert_memory_equal(value, "q\\\"uoted", 8);
    assert_int_equal(dk_lwm2m_link_param_next(&l, &pos, &name, &nl, &value, &vl), DK_ENOTFOUND);
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_false(l.is_path); /* not an LwM2M path: reported, not an error */
    assert_int_equal(l.uri_len, 8);
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), DK_ENOTFOUND);

    /* Alternate root path. */
    const char *alt = "</lwm2m>;rt=\"oma.lwm2m\",</lwm2m/1/0>,</lwm2m/3/0>,</3/0>";
    dk_lwm2m_link_reader_init(&r, alt, strlen(alt));
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_true(l.root);
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_true(l.is_path);
    assert_path(&l.path, "/1/0");
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_path(&l.path, "/3/0");
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_false(l.is_path); /* outside the alternate root */

    /* The writer's output reads back. */
    char mem[128];
    struct dk_buf b;
    dk_buf_init(&b, mem, sizeof mem);
    struct dk_lwm2m_link_writer w;
    dk_lwm2m_link_writer_init(&w, &b);
    struct dk_lwm2m_attrs th = {.set = DK_LWM2M_ATTR_GT | DK_LWM2M_ATTR_ST, .gt = -1.25,
                                .st = 1e-3};
    struct dk_lwm2m_path s = P("/3303/0/5700");
    assert_int_equal(dk_lwm2m_link_write_path(&w, &s, &th), 0);
    dk_lwm2m_link_reader_init(&r, mem, b.len);
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), 0);
    assert_true(l.attrs.gt == -1.25 && l.attrs.st == 1e-3);
}

static void test_link_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int err;
    } bad[] = {
        {"</3/0", DK_EPARSE},
        {"<>", DK_EPARSE},
        {"/3/0", DK_EPARSE},
        {"</3/0>,", DK_EPARSE},
        {"</3/0>, </3/1>", DK_EPARSE},
        {"</3/0>;", DK_EPARSE},
        {"</3/0>;=1", DK_EPARSE},
        {"</3/0>;pmin=x", DK_EPARSE},
        {"</3/0>;pmin=", DK_EPARSE},
        {"</3/0>;pmin", DK_EPARSE},
        {"</3/0>;pmin=1;pmin=2", DK_EPARSE},
        {"</3/0>;pmin=4294967296", DK_ERANGE},
        {"</3/0>;gt=1e999", DK_ERANGE},
        {"</3/0>;dim=65536", DK_ERANGE},
        {"</3/0>;ver=1", DK_EPARSE},
        {"</3/0>;ver=1.x", DK_EPARSE},
        {"</>;ct=\"60  110\"", DK_EPARSE},
        {"</>;ct=60 110", DK_EPARSE},
        {"</>;ct=\"1 2 3 4 5 6 7 8 9\"", DK_ERANGE},
        {"</>;rt=\"oma.lwm2m", DK_EPARSE},
        {"</x/>;rt=\"oma.lwm2m\"", DK_EPARSE},
        {"</3 0>", DK_EPARSE},
        {"</3/0>x", DK_EPARSE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct dk_lwm2m_link_reader r;
        struct dk_lwm2m_link l;
        dk_lwm2m_link_reader_init(&r, bad[i].s, strlen(bad[i].s));
        int rc;
        while ((rc = dk_lwm2m_link_reader_next(&r, &l)) == 0)
            ;
        if (rc != bad[i].err)
            fail_msg("link case %zu '%s': got %d want %d", i, bad[i].s, rc, bad[i].err);
        assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), bad[i].err); /* sticky */
    }
    struct dk_lwm2m_link_reader r;
    struct dk_lwm2m_link l;
    dk_lwm2m_link_reader_init(&r, "", 0);
    assert_int_equal(dk_lwm2m_link_reader_next(&r, &l), DK_ENOTFOUND);
}

static void test_write_attributes_query(void **state)
{
    (void)state;
    struct dk_lwm2m_attrs a;
    memset(&a, 0, sizeof a);
    assert_int_equal(dk_lwm2m_attrs_parse_query(&a, "pmin=10", 7), 0);
    assert_int_equal(dk_lwm2m_attrs_parse_query(&a, "gt=20.5", 7), 0);
    assert_int_equal(dk_lwm2m_attrs_parse_query(&a, "pmax", 4), 0);
    assert_int_equal(a.set, DK_LWM2M_ATTR_PMIN | DK_LWM2M_ATTR_GT);
    assert_int_equal(a.unset, DK_LWM2M_ATTR_PMAX);
    assert_int_equal(a.pmin, 10);
    assert_true(a.gt == 20.5);
    assert_int_equal(dk_lwm2m_attrs_parse_query(&a, "pmin=11", 7), DK_EPARSE); /* twice */
    assert_int_equal(dk_lwm2m_attrs_parse_query(&a, "dim=2", 5), DK_EPARSE);  /* read-only */
    assert_int_equal(dk_lwm2m_attrs_parse_query(&a, "foo=1", 5), DK_EPARSE);
    assert_int_equal(dk_lwm2m_attrs_parse_query(&a, "lt=-1", 5), 0);
    assert_int_equal(dk_lwm2m_attrs_parse_query(&a, "st=abc", 6), DK_EPARSE);
    assert_int_equal(dk_lwm2m_attrs_parse_query(&a, "epmin=-1", 8), DK_EPARSE);
    assert_int_equal(dk_lwm2m_attrs_parse_query(&a, "epmax=99999999999", 17), DK_EPARSE);
    assert_int_equal(dk_lwm2m_attrs_check(&a), 0);

    struct dk_lwm2m_attrs c = {.set = DK_LWM2M_ATTR_PMIN | DK_LWM2M_ATTR_PMAX, .pmin = 60,
                               .pmax = 10};
    assert_int_equal(dk_lwm2m_attrs_check(&c), DK_EINVAL);
    c.pmax = 60;
    assert_int_equal(dk_lwm2m_attrs_check(&c), 0);
    struct dk_lwm2m_attrs t = {.set = DK_LWM2M_ATTR_GT | DK_LWM2M_ATTR_LT | DK_LWM2M_ATTR_ST,
                               .gt = 30, .lt = 10, .st = 10};
    assert_int_equal(dk_lwm2m_attrs_check(&t), DK_EINVAL); /* lt + 2 st == gt */
    t.st = 9.5;
    assert_int_equal(dk_lwm2m_attrs_check(&t), 0);
    t.lt = 31;
    t.set &= ~DK_LWM2M_ATTR_ST;
    assert_int_equal(dk_lwm2m_attrs_check(&t), DK_EINVAL);
    struct dk_lwm2m_attrs e = {.set = DK_LWM2M_ATTR_EPMIN | DK_LWM2M_ATTR_EPMAX, .epmin = 5,
                               .epmax = 5};
    assert_int_equal(dk_lwm2m_attrs_check(&e), DK_EINVAL);
    struct dk_lwm2m_attrs neg = {.set = DK_LWM2M_ATTR_ST, .st = -1};
    assert_int_equal(dk_lwm2m_attrs_check(&neg), DK_EINVAL);

    /* apply: set then unset */
    struct dk_lwm2m_attrs stored = {.set = DK_LWM2M_ATTR_PMAX | DK_LWM2M_ATTR_ST, .pmax = 300,
                                    .st = 1};
    dk_lwm2m_attrs_apply(&stored, &a);
    assert_int_equal(stored.set, DK_LWM2M_ATTR_PMIN | DK_LWM2M_ATTR_GT | DK_LWM2M_ATTR_LT |
                                     DK_LWM2M_ATTR_ST);
    assert_int_equal(stored.pmin, 10);
}

/* --------------------------------------------------------- definitions --- */

static void test_definitions(void **state)
{
    (void)state;
    size_t n;
    const struct dk_lwm2m_object_def *all = dk_lwm2m_object_defs(&n);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        if (i)
            assert_true(all[i - 1].id < all[i].id);
        for (size_t k = 0; k < all[i].n_res; k++) {
            const struct dk_lwm2m_resource_def *d = &all[i].res[k];
            if (k)
                assert_true(all[i].res[k - 1].id < d->id); /* lookup is a binary search */
            assert_ptr_equal(dk_lwm2m_resource_def(all[i].id, d->id), d);
            /* executables have no type; everything else has one */
            assert_int_equal(d->type == DK_LWM2M_TYPE_NONE, (d->ops & DK_LWM2M_OP_E) != 0);
        }
    }
    const struct dk_lwm2m_resource_def *d = dk_lwm2m_resource_def(3, 0);
    assert_string_equal(d->name, "Manufacturer");
    assert_int_equal(d->ops, DK_LWM2M_OP_R);
    d = dk_lwm2m_resource_def(3, 4);
    assert_string_equal(d->name, "Reboot");
    assert_int_equal(d->ops, DK_LWM2M_OP_E);
    assert_true(d->mandatory);
    d = dk_lwm2m_resource_def(3, 11);
    assert_true(d->multiple && d->mandatory);
    d = dk_lwm2m_resource_def(3311, 5850);
    assert_int_equal(d->type, DK_LWM2M_TYPE_BOOLEAN);
    assert_int_equal(d->ops, DK_LWM2M_OP_RW);
    assert_int_equal(dk_lwm2m_resource_def(3311, 5851)->type, DK_LWM2M_TYPE_INTEGER);
    assert_int_equal(dk_lwm2m_resource_def(3303, 5700)->type, DK_LWM2M_TYPE_FLOAT);
    assert_int_equal(dk_lwm2m_resource_def(3301, 5700)->type, DK_LWM2M_TYPE_FLOAT);
    assert_int_equal(dk_lwm2m_resource_def(0, 3)->type, DK_LWM2M_TYPE_OPAQUE);
    assert_int_equal(dk_lwm2m_resource_def(0, 3)->ops, 0);
    assert_int_equal(dk_lwm2m_resource_def(12, 5)->type, DK_LWM2M_TYPE_STRING);
    assert_int_equal(dk_lwm2m_resource_def(12, 17)->ops, DK_LWM2M_OP_W);
    assert_int_equal(dk_lwm2m_resource_def(6, 5)->type, DK_LWM2M_TYPE_TIME);
    assert_int_equal(dk_lwm2m_resource_def(5, 0)->ops, DK_LWM2M_OP_W);
    assert_null(dk_lwm2m_resource_def(5, 4));
    assert_null(dk_lwm2m_resource_def(3, 23));
    assert_null(dk_lwm2m_resource_def(4, 0));
    assert_null(dk_lwm2m_object_def(7));
    assert_false(dk_lwm2m_object_def(3)->multiple);
    assert_true(dk_lwm2m_object_def(0)->mandatory);
    /* built-in typer */
    enum dk_lwm2m_type t;
    struct dk_lwm2m_path p = P("/3/0/11/0");
    assert_int_equal(dk_lwm2m_builtin_type_of(NULL, &p, &t), 0);
    assert_int_equal(t, DK_LWM2M_TYPE_INTEGER);
    p = P("/3/0/9/0"); /* single resource has no instances */
    assert_int_equal(dk_lwm2m_builtin_type_of(NULL, &p, &t), DK_ENOTFOUND);
    p = P("/3/0/4");
    assert_int_equal(dk_lwm2m_builtin_type_of(NULL, &p, &t), DK_ENOTFOUND);
}

/* ------------------------------------------------------ access control --- */

static void test_operations(void **state)
{
    (void)state;
    struct dk_lwm2m_path o = P("/3"), i = P("/3/0"), r = P("/3/0/4"), ri = P("/3/0/6/0"),
                         root = dk_lwm2m_path_root();
    assert_int_equal(dk_lwm2m_op_check_path(DK_LWM2M_EXECUTE, &r), 0);
    assert_int_equal(dk_lwm2m_op_check_path(DK_LWM2M_EXECUTE, &i), DK_EINVAL);
    assert_int_equal(dk_lwm2m_op_check_path(DK_LWM2M_CREATE, &o), 0);
    assert_int_equal(dk_lwm2m_op_check_path(DK_LWM2M_CREATE, &i), DK_EINVAL);
    assert_int_equal(dk_lwm2m_op_check_path(DK_LWM2M_DELETE, &i), 0);
    assert_int_equal(dk_lwm2m_op_check_path(DK_LWM2M_DELETE, &o), DK_EINVAL);
    assert_int_equal(dk_lwm2m_op_check_path(DK_LWM2M_WRITE, &ri), 0);
    assert_int_equal(dk_lwm2m_op_check_path(DK_LWM2M_WRITE, &o), DK_EINVAL);
    assert_int_equal(dk_lwm2m_op_check_path(DK_LWM2M_READ, &root), DK_EINVAL);
    assert_int_equal(dk_lwm2m_op_check_path(DK_LWM2M_DISCOVER, &ri), DK_EINVAL);
    assert_int_equal(dk_lwm2m_res_check_op(dk_lwm2m_resource_def(3, 4), DK_LWM2M_READ),
                     DK_EPERM);
    assert_int_equal(dk_lwm2m_res_check_op(dk_lwm2m_resource_def(3, 4), DK_LWM2M_EXECUTE), 0);
    assert_int_equal(dk_lwm2m_res_check_op(dk_lwm2m_resource_def(3, 0), DK_LWM2M_WRITE),
                     DK_EPERM);
    assert_int_equal(dk_lwm2m_res_check_op(dk_lwm2m_resource_def(12, 17), DK_LWM2M_READ),
                     DK_EPERM);
    assert_int_equal(dk_lwm2m_res_check_op(NULL, DK_LWM2M_WRITE), 0);
    assert_int_equal(dk_lwm2m_op_acl_bit(DK_LWM2M_OBSERVE), DK_LWM2M_ACL_R);
    assert_int_equal(dk_lwm2m_op_acl_bit(DK_LWM2M_WRITE_ATTRIBUTES), DK_LWM2M_ACL_R);
    assert_int_equal(dk_lwm2m_op_acl_bit(DK_LWM2M_WRITE_PARTIAL), DK_LWM2M_ACL_W);
    assert_int_equal(dk_lwm2m_op_acl_bit(DK_LWM2M_CREATE), DK_LWM2M_ACL_C);
    assert_int_equal(dk_lwm2m_op_acl_bit(DK_LWM2M_DISCOVER), 0);
    assert_int_equal(dk_lwm2m_op_acl_bit(DK_LWM2M_DELETE), DK_LWM2M_ACL_D);
}

static void test_access_control(void **state)
{
    (void)state;
    /* Two servers, 101 and 102. */
    struct dk_lwm2m_acl acls[4];
    /* /3/0: owned by 101, default entry R for everyone else. */
    dk_lwm2m_acl_init_created(&acls[0], 0, 3, 0, 101);
    assert_int_equal(dk_lwm2m_acl_set(&acls[0], 0, DK_LWM2M_ACL_R), 0);
    /* /3311/0: owner 101 limited by its own entry to R|W; 102 may E. */
    dk_lwm2m_acl_init_created(&acls[1], 1, 3311, 0, 101);
    assert_int_equal(dk_lwm2m_acl_set(&acls[1], 101, DK_LWM2M_ACL_R | DK_LWM2M_ACL_W), 0);
    assert_int_equal(dk_lwm2m_acl_set(&acls[1], 102, DK_LWM2M_ACL_E), 0);
    assert_int_equal(dk_lwm2m_acl_set(&acls[1], 102, DK_LWM2M_ACL_E | DK_LWM2M_ACL_R), 0);
    assert_int_equal(acls[1].n, 2);
    /* Create rights on 3311 for 102 only; bootstrap-owned. */
    dk_lwm2m_acl_init_created(&acls[2], 2, 3311, DK_LWM2M_ID_NONE, DK_LWM2M_SSID_BOOTSTRAP);
    assert_int_equal(dk_lwm2m_acl_set(&acls[2], 102, DK_LWM2M_ACL_C), 0);
    size_t n = 3;

    struct dk_lwm2m_path dev = P("/3/0/0"), dev4 = P("/3/0/4"), led = P("/3311/0/5850"),
                         led_obj = P("/3311"), sec = P("/0/0/0"), temp = P("/3303/0/5700"),
                         acl1 = P("/2/1/2"), acl_obj = P("/2");
    /* Security is never reachable, even for a single server. */
    assert_int_equal(dk_lwm2m_access_check(acls, n, 1, 101, DK_LWM2M_READ, &sec), DK_EPERM);
    /* A single server has every right, with or without ACL instances. */
    assert_int_equal(dk_lwm2m_access_check(NULL, 0, 1, 101, DK_LWM2M_DELETE, &temp), 0);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 1, 102, DK_LWM2M_WRITE, &dev), 0);
    /* Owner without own entry: everything. Others: the default entry. */
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 101, DK_LWM2M_EXECUTE, &dev4), 0);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_READ, &dev), 0);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_OBSERVE, &dev), 0);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_WRITE, &dev), DK_EPERM);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_EXECUTE, &dev4), DK_EPERM);
    /* An explicit entry beats ownership. */
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 101, DK_LWM2M_WRITE, &led), 0);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 101, DK_LWM2M_EXECUTE, &led), DK_EPERM);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_EXECUTE, &led), 0);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_WRITE, &led), DK_EPERM);
    /* Create: the (3311, 65535) instance. */
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_CREATE, &led_obj), 0);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 101, DK_LWM2M_CREATE, &led_obj),
                     DK_EPERM);
    struct dk_lwm2m_path tobj = P("/3303");
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_CREATE, &tobj), DK_EPERM);
    /* No ACL instance for /3303/0: no rights in a multi-server setup. */
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 101, DK_LWM2M_READ, &temp), DK_EPERM);
    /* ... except Discover, which the ACL does not govern (not on Security). */
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 101, DK_LWM2M_DISCOVER, &temp), 0);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 101, DK_LWM2M_DISCOVER, &sec), DK_EPERM);
    /* Object-level reads pass here (the engine filters instances). */
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 101, DK_LWM2M_READ, &led_obj), 0);
    /* Access Control instances: the owner reads and writes, others read. */
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 101, DK_LWM2M_WRITE, &acl1), 0);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_WRITE, &acl1), DK_EPERM);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_READ, &acl1), 0);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_DELETE, &acl1), DK_EPERM);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 102, DK_LWM2M_CREATE, &acl_obj),
                     DK_EPERM);
    struct dk_lwm2m_path acl9 = P("/2/9");
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 101, DK_LWM2M_READ, &acl9), DK_EPERM);
    /* Invalid server ids. */
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 0, DK_LWM2M_READ, &dev), DK_EPERM);
    assert_int_equal(dk_lwm2m_access_check(acls, n, 2, 65535, DK_LWM2M_READ, &dev), DK_EPERM);
    /* rights() directly; table limits. */
    assert_int_equal(dk_lwm2m_acl_rights(&acls[0], 101), DK_LWM2M_ACL_ALL);
    assert_int_equal(dk_lwm2m_acl_rights(&acls[0], 7), DK_LWM2M_ACL_R);
    assert_int_equal(dk_lwm2m_acl_rights(&acls[2], 101), 0);
    assert_ptr_equal(dk_lwm2m_acl_find(acls, n, 3311, 0), &acls[1]);
    assert_null(dk_lwm2m_acl_find(acls, n, 3311, 1));
    assert_int_equal(dk_lwm2m_acl_set(&acls[3], 1, 32), DK_EINVAL);
    dk_lwm2m_acl_init_created(&acls[3], 3, 1, 0, 1);
    for (uint16_t s = 1; s <= DK_LWM2M_ACL_ENTRIES_MAX; s++)
        assert_int_equal(dk_lwm2m_acl_set(&acls[3], s, 1), 0);
    assert_int_equal(dk_lwm2m_acl_set(&acls[3], 100, 1), DK_ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_write_register_and_discover),
        cmocka_unit_test(test_link_read_registration),
        cmocka_unit_test(test_link_malformed),
        cmocka_unit_test(test_write_attributes_query),
        cmocka_unit_test(test_definitions),
        cmocka_unit_test(test_operations),
        cmocka_unit_test(test_access_control),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
